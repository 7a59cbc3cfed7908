//! Hidden checks for bitcask/durability.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use bitcask_durability::{Options, Store, SyncPolicy};
use judge::prelude::*;
use kit::crash::{self, KvOp, Limits, Subject, show};
use kit::disk::{Dir, File};
use kit::sim::{Fault, OpKind, SimDisk};

use crate::support::{self, Shape};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "under SyncPolicy::Always, a put or delete returns only once its record is durable",
            always_durable_on_return,
        )
        .check(
            "under SyncPolicy::Never, nothing is synced until sync(), which makes everything durable",
            never_waits_for_sync,
        )
        .check(
            "under SyncPolicy::EveryWrites(n), the store syncs once every n writes, no more, no less",
            every_writes_counts,
        )
        .check(
            "under SyncPolicy::Always, every acknowledged write survives a crash at any step",
            crash_always,
        )
        .check(
            "under SyncPolicy::Never, every write before a sync() survives a crash at any step",
            crash_never,
        )
        .check(
            "a get is answered while a sync is in progress",
            get_during_sync,
        )
        .check(
            "writers that arrive during a sync append at once, wait, and share the next sync",
            group_commit_gated,
        )
        .check(
            "when the sync that waiting writers share fails, every one of them gets the error",
            shared_sync_fails_every_waiter,
        )
        .check(
            "many threads putting at once: each put is durable when it returns",
            group_commit_threads,
        )
        .check(
            "readers alongside writers only ever see whole values that were written, never older ones",
            readers_see_written_values,
        )
        .check(
            "after a sync fails, the store reports errors until it is reopened",
            failed_sync_is_sticky,
        )
        .check(
            "under SyncPolicy::Always, a failed write, read, sync, rename or removal at any step is reported and loses nothing acknowledged",
            faults_everywhere,
        )
}

// ---------------------------------------------------------------------------------------------
// Workloads, models and helpers
// ---------------------------------------------------------------------------------------------

fn key() -> impl Strategy<Value = Vec<u8>> + Clone {
    prop::sample::select(vec![
        b"a".to_vec(),
        b"b".to_vec(),
        b"c".to_vec(),
        b"d".to_vec(),
    ])
}

fn value() -> impl Strategy<Value = Vec<u8>> + Clone {
    prop::collection::vec(b'a'..=b'z', 0..24)
}

/// Puts and deletes, and syncs when `syncs` is true.
fn writes(max: usize, syncs: bool) -> impl Strategy<Value = Vec<KvOp>> {
    let put = (key(), value()).prop_map(|(k, v)| KvOp::Put(k, v));
    let delete = key().prop_map(KvOp::Delete);
    let sync_weight = if syncs { 1 } else { 0 };
    let op = prop_oneof![
        4 => put,
        1 => delete,
        sync_weight => Just(KvOp::Sync),
    ];
    prop::collection::vec(op, 1..max)
}

fn list(ops: &[KvOp]) -> String {
    if ops.is_empty() {
        return "(nothing)".into();
    }
    ops.iter()
        .map(|op| format!("{op:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn show_value(value: &Option<Vec<u8>>) -> String {
    match value {
        Some(bytes) => format!("Some({})", show(bytes)),
        None => "None".into(),
    }
}

fn options(max_segment_bytes: u64, sync: SyncPolicy) -> Options {
    Options {
        max_segment_bytes,
        sync,
    }
}

fn open(dir: Arc<dyn Dir>, options: Options, what: &str) -> Result<Store, Failure> {
    Store::open_with(dir, options).map_err(|error| {
        Failure::new(format!(
            "{what}: Store::open_with(dir, {options:?}) failed: {error}"
        ))
    })
}

/// Applies a put, delete or sync to the store and to the model; returns whether it wrote a
/// record (a delete of an absent key writes nothing).
fn apply(
    store: &Store,
    model: &mut BTreeMap<Vec<u8>, Vec<u8>>,
    op: &KvOp,
    done: &str,
) -> Result<bool, Failure> {
    let result = match op {
        KvOp::Put(k, v) => store.put(k, v),
        KvOp::Delete(k) => store.delete(k),
        KvOp::Sync => store.sync(),
        other => unreachable!("no {other:?} here"),
    };
    if let Err(error) = result {
        return Err(Failure::new(format!(
            "did: {done}\nthe last call failed: {error}"
        )));
    }
    Ok(match op {
        KvOp::Put(k, v) => {
            model.insert(k.clone(), v.clone());
            true
        }
        KvOp::Delete(k) => model.remove(k).is_some(),
        _ => false,
    })
}

/// Reads every key of the workload and compares it with the model.
fn compare(store: &Store, model: &BTreeMap<Vec<u8>, Vec<u8>>, done: &str) -> CheckResult {
    for key in [b"a", b"b", b"c", b"d"] {
        let expected = model.get(&key[..]).cloned();
        let got = store.get(key).map_err(|error| {
            Failure::new(format!(
                "did: {done}\nthen get({}) failed: {error}",
                show(key)
            ))
        })?;
        if got != expected {
            return fail(format!(
                "did:      {done}, get({})\nexpected: {}\ngot:      {}",
                show(key),
                show_value(&expected),
                show_value(&got)
            ));
        }
    }
    Ok(())
}

/// The segments (and other files) with bytes that a crash could still take away.
fn not_durable(disk: &SimDisk) -> Vec<String> {
    disk.files()
        .into_iter()
        .filter(|f| f.durable_len < f.len)
        .map(|f| {
            format!(
                "{} has {} bytes, of which only {} are durable",
                f.name, f.len, f.durable_len
            )
        })
        .collect()
}

/// Whether a crash could still take away the record holding `value`. (Values in the check that
/// uses this are unique, so the first place they appear is their record.)
fn exposed(disk: &SimDisk, value: &[u8]) -> bool {
    for file in disk.files() {
        let Some(contents) = disk.contents(&file.name) else {
            continue;
        };
        if let Some(at) = contents.windows(value.len()).position(|w| w == value) {
            let end = (at + value.len()) as u64;
            // Read the books again: a sync may have come since the list was taken.
            let durable = disk
                .files()
                .into_iter()
                .find(|f| f.name == file.name)
                .map_or(0, |f| f.durable_len);
            return durable < end;
        }
    }
    true
}

/// Text for a panic caught from another thread.
fn panic_text(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into());
    if text.starts_with("not yet implemented") {
        "reached a todo!(): this part is not written yet".into()
    } else {
        format!("panicked: {text}")
    }
}

/// Waits until `done` holds, for at most `limit`.
fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > limit {
            return false;
        }
        thread::sleep(Duration::from_micros(200));
    }
    true
}

// ---------------------------------------------------------------------------------------------
// A directory whose file syncs take time or wait at a gate
// ---------------------------------------------------------------------------------------------

/// What happens after a file's sync has reached the disk, before it returns: the disk has made
/// the data durable, and the sync is still "running" as far as the store can tell. Writes made
/// meanwhile are not covered by it, as with a real fsync.
trait AfterSync: Send + Sync + 'static {
    fn after_sync(&self);
}

/// A sync that takes a while.
struct Slow(Duration);

impl AfterSync for Slow {
    fn after_sync(&self) {
        thread::sleep(self.0);
    }
}

/// Syncs that wait while the gate is closed. Opens itself when dropped, so that no thread is
/// left waiting when a check gives up.
struct Gate {
    open: Mutex<bool>,
    changed: Condvar,
    /// How many syncs have reached the gate so far.
    arrived: AtomicUsize,
}

impl Gate {
    fn new(open: bool) -> Arc<Gate> {
        Arc::new(Gate {
            open: Mutex::new(open),
            changed: Condvar::new(),
            arrived: AtomicUsize::new(0),
        })
    }

    fn set(&self, open: bool) {
        *self.open.lock().unwrap_or_else(PoisonError::into_inner) = open;
        self.changed.notify_all();
    }

    fn is_open(&self) -> bool {
        *self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AfterSync for Gate {
    fn after_sync(&self) {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let start = Instant::now();
        // Never wait forever: a check that gave up must not leave a thread behind.
        while !*open && start.elapsed() < Duration::from_secs(5) {
            open = self
                .changed
                .wait_timeout(open, Duration::from_millis(50))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// A store under `SyncPolicy::Always` whose file syncs wait at `gate`, on a disk of its own.
struct Gated {
    disk: SimDisk,
    gate: Arc<Gate>,
    store: Arc<Store>,
    /// Opens the gate when the check ends, whichever way.
    _release: OpenOnDrop,
}

fn gated(seed: u64, open_gate: bool) -> Result<Gated, Failure> {
    let disk = SimDisk::new(seed);
    let gate = Gate::new(open_gate);
    let store = Arc::new(open(
        hooked(&disk, &gate),
        options(1 << 20, SyncPolicy::Always),
        "opening",
    )?);
    Ok(Gated {
        _release: OpenOnDrop(Arc::clone(&gate)),
        disk,
        gate,
        store,
    })
}

/// Opens the gate when dropped.
struct OpenOnDrop(Arc<Gate>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

struct HookedDir<H: AfterSync> {
    inner: Arc<dyn Dir>,
    hook: Arc<H>,
}

impl<H: AfterSync> fmt::Debug for HookedDir<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

fn hooked<H: AfterSync>(disk: &SimDisk, hook: &Arc<H>) -> Arc<dyn Dir> {
    Arc::new(HookedDir {
        inner: disk.dir(),
        hook: Arc::clone(hook),
    })
}

impl<H: AfterSync> HookedDir<H> {
    fn wrap(&self, file: Box<dyn File>) -> Box<dyn File> {
        Box::new(HookedFile {
            inner: file,
            hook: Arc::clone(&self.hook),
        })
    }
}

impl<H: AfterSync> Dir for HookedDir<H> {
    fn create(&self, name: &str) -> io::Result<Box<dyn File>> {
        Ok(self.wrap(self.inner.create(name)?))
    }
    fn open(&self, name: &str) -> io::Result<Box<dyn File>> {
        Ok(self.wrap(self.inner.open(name)?))
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.inner.remove(name)
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn list(&self) -> io::Result<Vec<String>> {
        self.inner.list()
    }
    fn sync(&self) -> io::Result<()> {
        self.inner.sync()
    }
}

struct HookedFile<H: AfterSync> {
    inner: Box<dyn File>,
    hook: Arc<H>,
}

impl<H: AfterSync> fmt::Debug for HookedFile<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<H: AfterSync> File for HookedFile<H> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_at(offset, buf)
    }
    fn append(&self, data: &[u8]) -> io::Result<u64> {
        self.inner.append(data)
    }
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.inner.write_at(offset, data)
    }
    fn truncate(&self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn sync(&self) -> io::Result<()> {
        self.inner.sync()?;
        self.hook.after_sync();
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Sync policies, one thread
// ---------------------------------------------------------------------------------------------

fn always_durable_on_return(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["ops"], 64, writes(16, false), |ops| {
        let disk = SimDisk::new(seed);
        // Small segments, so that some writes start a new one.
        let store = open(disk.dir(), options(96, SyncPolicy::Always), "opening")?;
        let mut model = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            let done = format!(
                "under SyncPolicy::Always (segments of 96 bytes), {}",
                list(&ops[..=i])
            );
            apply(&store, &mut model, op, &done)?;
            let exposed = not_durable(&disk);
            if !exposed.is_empty() {
                return fail(format!(
                    "did:      {done}\nexpected: the last call returns once everything it wrote \
                     is durable\ngot:      it returned, and {}: a crash now would lose an \
                     acknowledged write",
                    exposed.join("; ")
                ));
            }
            compare(&store, &model, &done)?;
        }
        Ok(())
    })
}

fn never_waits_for_sync(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["ops"], 64, writes(16, true), |ops| {
        let disk = SimDisk::new(seed);
        let store = open(disk.dir(), options(1 << 20, SyncPolicy::Never), "opening")?;
        disk.reset_stats();
        let mut model = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            let done = format!("under SyncPolicy::Never, {}", list(&ops[..=i]));
            let before = disk.stats().syncs;
            apply(&store, &mut model, op, &done)?;
            let syncs = disk.stats().syncs - before;
            if let KvOp::Sync = op {
                let exposed = not_durable(&disk);
                if !exposed.is_empty() {
                    return fail(format!(
                        "did:      {done}\nexpected: once sync() returns, every write before it \
                         is durable\ngot:      {}",
                        exposed.join("; ")
                    ));
                }
                expect(
                    syncs <= 1,
                    format!(
                        "did:      {done}\nexpected: the last sync() to sync the file at most \
                         once\ngot:      {syncs} syncs"
                    ),
                )?;
            } else {
                expect(
                    syncs == 0,
                    format!(
                        "did:      {done}\nexpected: no sync for the last write: under \
                         SyncPolicy::Never only sync() syncs\ngot:      {syncs} syncs"
                    ),
                )?;
            }
            compare(&store, &model, &done)?;
        }
        Ok(())
    })
}

fn every_writes_counts(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (0u32..=5, writes(24, false));
    ctx.forall_named(&["n", "ops"], 96, input, |(n, ops)| {
        let disk = SimDisk::new(seed);
        let policy = SyncPolicy::EveryWrites(n);
        let store = open(disk.dir(), options(1 << 20, policy), "opening")?;
        disk.reset_stats();
        let mut model = BTreeMap::new();
        let every = u64::from(n.max(1));
        let mut records = 0;
        for (i, op) in ops.iter().enumerate() {
            let done = format!("under {policy:?}, {}", list(&ops[..=i]));
            if apply(&store, &mut model, op, &done)? {
                records += 1;
            }
            let syncs = disk.stats().syncs;
            let zero = if n == 0 {
                " (EveryWrites(0) is taken as EveryWrites(1))"
            } else {
                ""
            };
            expect(
                syncs == records / every,
                format!(
                    "did:      {done}\nexpected: syncs = {}: {records} records written so far \
                     (a delete of an absent key writes none), one sync every {every}{zero}\n\
                     got:      syncs = {syncs}",
                    records / every
                ),
            )?;
            if records % every == 0 && records > 0 {
                let exposed = not_durable(&disk);
                if !exposed.is_empty() {
                    return fail(format!(
                        "did:      {done}\nexpected: the write that makes {records} returns \
                         once it and every write before it are durable\ngot:      {}",
                        exposed.join("; ")
                    ));
                }
            }
            compare(&store, &model, &done)?;
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Crashes
// ---------------------------------------------------------------------------------------------

/// Segments this small rotate every few records.
const SMALL_SEGMENTS: u64 = 80;

struct AlwaysStore;

impl Subject for AlwaysStore {
    type Store = Store;
    fn open(dir: Arc<dyn Dir>) -> io::Result<Store> {
        Store::open_with(dir, options(SMALL_SEGMENTS, SyncPolicy::Always))
    }
    fn apply(store: &mut Store, op: &KvOp) -> io::Result<()> {
        drive(store, op)
    }
    fn get(store: &mut Store, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        store.get(key)
    }
    fn syncs_every_write() -> bool {
        true
    }
}

struct NeverStore;

impl Subject for NeverStore {
    type Store = Store;
    fn open(dir: Arc<dyn Dir>) -> io::Result<Store> {
        Store::open_with(dir, options(SMALL_SEGMENTS, SyncPolicy::Never))
    }
    fn apply(store: &mut Store, op: &KvOp) -> io::Result<()> {
        drive(store, op)
    }
    fn get(store: &mut Store, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        store.get(key)
    }
}

fn drive(store: &Store, op: &KvOp) -> io::Result<()> {
    match op {
        KvOp::Put(k, v) => store.put(k, v),
        KvOp::Delete(k) => store.delete(k),
        KvOp::Sync => store.sync(),
        KvOp::Maintain => store.merge(),
        KvOp::Reopen => unreachable!("the crash driver reopens the store itself"),
    }
}

fn crash_workload(syncs: bool) -> impl Strategy<Value = Vec<KvOp>> {
    let key = prop::sample::select(vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    let value = prop::collection::vec(b'a'..=b'z', 0..20);
    let put = (key.clone(), value).prop_map(|(k, v)| KvOp::Put(k, v));
    let weight = if syncs { 1 } else { 0 };
    let op = prop_oneof![
        5 => put,
        1 => key.prop_map(KvOp::Delete),
        weight * 2 => Just(KvOp::Sync),
        weight => Just(KvOp::Reopen),
        1 => Just(KvOp::Maintain),
    ];
    prop::collection::vec(op, 1..11)
}

fn crash_always(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["ops"], 40, crash_workload(false), |ops| {
        crash::check::<AlwaysStore>(seed, &ops, &[b"never".to_vec()], Limits::default())
            .map(|_| ())
            .map_err(|failure| {
                Failure::new(format!(
                    "under SyncPolicy::Always, segments of {SMALL_SEGMENTS} bytes, maintain() \
                     being merge(): every put and delete that returned must survive\n{}",
                    failure.message
                ))
            })
    })
}

fn crash_never(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["ops"], 40, crash_workload(true), |ops| {
        crash::check::<NeverStore>(seed, &ops, &[b"never".to_vec()], Limits::default())
            .map(|_| ())
            .map_err(|failure| {
                Failure::new(format!(
                    "under SyncPolicy::Never, segments of {SMALL_SEGMENTS} bytes, maintain() \
                     being merge(), reopen() a clean close and open (which syncs nothing): every \
                     write before a sync() that returned must survive\n{}",
                    failure.message
                ))
            })
    })
}

// ---------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------

fn get_during_sync(ctx: &mut Ctx) -> CheckResult {
    let Gated {
        disk: _,
        gate,
        store,
        _release,
    } = gated(ctx.seed(), true)?;
    let setup = "under SyncPolicy::Always, put(\"z\", \"ready\")";
    ctx.doing(setup);
    store
        .put(b"z", b"ready")
        .map_err(|error| Failure::new(format!("{setup} failed: {error}")))?;

    // The next sync will not return until the gate opens.
    gate.set(false);
    let arrived = gate.arrived.load(Ordering::SeqCst);
    let writer = {
        let store = Arc::clone(&store);
        thread::spawn(move || store.put(b"a", b"1"))
    };
    ctx.doing("put(\"a\", \"1\") in a thread, its sync held up; get(\"z\") meanwhile");
    if !wait_for(Duration::from_secs(2), || {
        gate.arrived.load(Ordering::SeqCst) > arrived || writer.is_finished()
    }) {
        return fail(format!(
            "did:      {setup}, then put(\"a\", \"1\") in another thread\nexpected: the put to \
             sync the segment\ngot:      no sync within 2 s"
        ));
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    let reader = {
        let store = Arc::clone(&store);
        thread::spawn(move || {
            let _ = sender.send(store.get(b"z"));
        })
    };
    let got = receiver.recv_timeout(Duration::from_secs(1));
    gate.set(true);
    let put = writer.join();
    let _ = reader.join();
    let did = format!(
        "{setup}, then put(\"a\", \"1\") in another thread; while its sync was in progress, \
         get(\"z\")"
    );
    match got {
        Err(_) => {
            return fail(format!(
                "did:      {did}\nexpected: the get to be answered at once\ngot:      it waited \
                 more than 1 s, until the sync ended: is the lock held during the sync? Readers \
                 (and other writers) then queue behind every sync"
            ));
        }
        Ok(Err(error)) => {
            return fail(format!(
                "did:      {did}\ngot:      the get failed: {error}"
            ));
        }
        Ok(Ok(value)) => expect_eq(
            did.clone(),
            value.as_deref().map(show),
            Some(show(b"ready")),
        )?,
    }
    match put {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => fail(format!("{did}: put(\"a\", \"1\") failed: {error}")),
        Err(panic) => fail(format!("{did}: put(\"a\", \"1\") {}", panic_text(&*panic))),
    }
}

fn group_commit_gated(ctx: &mut Ctx) -> CheckResult {
    let Gated {
        disk,
        gate,
        store,
        _release,
    } = gated(ctx.seed(), false)?;
    disk.reset_stats();
    let keys: [&'static [u8]; 4] = [b"a", b"b", b"c", b"d"];
    let put_in_thread = |key: &'static [u8]| {
        let store = Arc::clone(&store);
        let gate = Arc::clone(&gate);
        thread::spawn(move || {
            let result = store.put(key, key);
            // Under Always no put can return before a sync has, and none can while the gate
            // is closed.
            (result, !gate.is_open())
        })
    };
    let mut threads = Vec::new();

    let first = "under SyncPolicy::Always, put(\"a\", \"a\") in a thread";
    ctx.doing(first);
    threads.push(put_in_thread(keys[0]));
    if !wait_for(Duration::from_secs(2), || {
        gate.arrived.load(Ordering::SeqCst) > 0 || threads[0].is_finished()
    }) {
        return fail(format!(
            "did:      {first}\nexpected: the put to sync the segment\ngot:      no sync within \
             2 s"
        ));
    }
    let did = format!(
        "{first}; while its sync was in progress (it reached the disk, but had not returned), \
         put(\"b\", \"b\"), put(\"c\", \"c\") and put(\"d\", \"d\"), each in a thread of its own"
    );
    ctx.doing(&did);
    for &key in &keys[1..] {
        threads.push(put_in_thread(key));
    }
    let appended = wait_for(Duration::from_secs(1), || disk.stats().writes >= 4);
    let writes = disk.stats().writes;
    gate.set(true);
    let mut results = Vec::new();
    for (handle, key) in threads.into_iter().zip(keys) {
        let put = format!("put({0}, {0})", show(key));
        let Some(joined) = join_within(handle, Duration::from_secs(2)) else {
            return fail(format!(
                "did:      {did}\nexpected: every put to return once a sync covering it \
                 finished\ngot:      some had not returned 2 s later: are the waiting writers \
                 woken when a sync finishes?"
            ));
        };
        match joined {
            Ok(result) => results.push((put, result)),
            Err(panic) => return fail(format!("{did}\n{put} {}", panic_text(&*panic))),
        }
    }
    if !appended {
        return fail(format!(
            "did:      {did}\nexpected: the three puts to append their records at once (the \
             store's lock is free while a sync runs), then wait for a sync\ngot:      after 1 s, \
             {writes} of the 4 records had been written: is the lock held during the sync?"
        ));
    }
    for (put, (result, _)) in &results {
        if let Err(error) = result {
            return fail(format!("did:      {did}\ngot:      {put} failed: {error}"));
        }
    }
    let exposed = not_durable(&disk);
    if !exposed.is_empty() {
        return fail(format!(
            "did:      {did}\nexpected: once all four returned, all four records are durable\n\
             got:      {}: a sync covers only what was written before it started, and a writer \
             that finds a sync running must wait for the next one",
            exposed.join("; ")
        ));
    }
    for (put, (_, early)) in &results {
        if *early {
            return fail(format!(
                "did:      {did}\nexpected: {put} to wait for a sync that covers its record\n\
                 got:      it returned while no sync had finished since it appended"
            ));
        }
    }
    let syncs = disk.stats().syncs;
    expect(
        syncs <= 2,
        format!(
            "did:      {did}\nexpected: at most 2 syncs: the one for \"a\", then one that covers \
             the three records that arrived while it ran\ngot:      {syncs} syncs: the waiting \
             writers did not share a sync"
        ),
    )?;
    for key in keys {
        expect_eq(
            format!("{did}, then get({})", show(key)),
            store
                .get(key)
                .map_err(|e| e.to_string())
                .map(|v| v.map(|v| show(&v))),
            Ok(Some(show(key))),
        )?;
    }
    Ok(())
}

/// Joins `handle` if it finishes within `limit`; a thread that is still running then is
/// reported at once, rather than by the grader's time limit.
fn join_within<T>(handle: thread::JoinHandle<T>, limit: Duration) -> Option<thread::Result<T>> {
    wait_for(limit, || handle.is_finished()).then(|| handle.join())
}

fn shared_sync_fails_every_waiter(ctx: &mut Ctx) -> CheckResult {
    let Gated {
        disk,
        gate,
        store,
        _release,
    } = gated(ctx.seed(), false)?;
    let keys: [&'static [u8]; 4] = [b"a", b"b", b"c", b"d"];
    let put_in_thread = |key: &'static [u8]| {
        let store = Arc::clone(&store);
        thread::spawn(move || store.put(key, key))
    };
    let first = "under SyncPolicy::Always, put(\"a\", \"a\") in a thread";
    ctx.doing(first);
    let mut threads = vec![put_in_thread(keys[0])];
    if !wait_for(Duration::from_secs(2), || {
        gate.arrived.load(Ordering::SeqCst) > 0 || threads[0].is_finished()
    }) {
        return fail(format!(
            "did:      {first}\nexpected: the put to sync the segment\ngot:      no sync within \
             2 s"
        ));
    }
    let did = format!(
        "{first}; while its sync was in progress, put(\"b\", \"b\"), put(\"c\", \"c\") and \
         put(\"d\", \"d\"), each in a thread of its own; the next sync fails (and drops the \
         unsynced data); the first sync returns"
    );
    ctx.doing(&did);
    threads.extend(keys[1..].iter().map(|&key| put_in_thread(key)));
    if !wait_for(Duration::from_secs(1), || disk.stats().writes >= 4) {
        return fail(format!(
            "did:      {did}\nexpected: the three puts to append their records while the first \
             sync runs (the store's lock is free during a sync)\ngot:      after 1 s, {} of the 4 \
             records had been written: is the lock held during the sync?",
            disk.stats().writes
        ));
    }
    disk.fail_next(OpKind::Sync, Fault::SyncLosesData);
    gate.set(true);
    // Which waiter leads the failed sync depends on scheduling, so the messages below name
    // none of them: one seed, one verdict, one message.
    let mut waiters_ok = false;
    for (handle, key) in threads.into_iter().zip(keys) {
        let Some(joined) = join_within(handle, Duration::from_secs(2)) else {
            return fail(format!(
                "did:      {did}\nexpected: every put to return once the sync covering it \
                 finished (or failed)\ngot:      some had not returned 2 s later: are the \
                 waiting writers woken when a sync fails?"
            ));
        };
        let result =
            joined.map_err(|panic| Failure::new(format!("{did}\nput {}", panic_text(&*panic))))?;
        match (key, result) {
            (b"a", Err(error)) => {
                return fail(format!(
                    "did:      {did}\nexpected: put(\"a\", \"a\") to succeed: its own sync \
                     did\ngot:      Err({error})"
                ));
            }
            (b"a", Ok(())) | (_, Err(_)) => {}
            (_, Ok(())) => waiters_ok = true,
        }
    }
    expect(
        !waiters_ok,
        format!(
            "did:      {did}\nexpected: put(\"b\", \"b\"), put(\"c\", \"c\") and put(\"d\", \"d\") \
             to fail: the sync their records waited for failed, and the kernel may have dropped \
             them\ngot:      some returned Ok: a writer woken by a failed sync must not start \
             another and report success (after a failed fsync, a retry can succeed without the \
             lost data ever reaching the disk)"
        ),
    )
}

/// What a thread reports when its put returned too early. Which put that is depends on how the
/// threads happened to interleave, so the message names none: the same failure must read the
/// same every time.
const EARLY: &str = "some put returned while its record was not durable yet: a crash at that \
     moment would lose an acknowledged write. A sync covers only the records written before it \
     started, and a writer that finds a sync running must wait for the next one";

fn group_commit_threads(ctx: &mut Ctx) -> CheckResult {
    const THREADS: usize = 8;
    const PUTS: usize = 6;
    let disk = SimDisk::new(ctx.seed());
    let slow = Arc::new(Slow(Duration::from_millis(2)));
    let opts = options(1024, SyncPolicy::Always);
    let store = Arc::new(open(hooked(&disk, &slow), opts, "opening")?);
    let setup = format!(
        "under SyncPolicy::Always (segments of 1024 bytes, a sync taking 2 ms), {THREADS} \
         threads each putting {PUTS} times at once"
    );
    ctx.doing(&setup);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = Arc::clone(&store);
            let disk = disk.clone();
            thread::spawn(move || -> Result<(), String> {
                for i in 0..PUTS {
                    let key = format!("t{t}-{}", i % 3).into_bytes();
                    let value = format!("thread {t} put {i};").into_bytes();
                    let put = format!("put({}, {})", show(&key), show(&value));
                    store
                        .put(&key, &value)
                        .map_err(|error| format!("{put} failed: {error}"))?;
                    // The put returned: its record must be durable already. Looked up on the
                    // disk's books at once, rather than by crashing a copy of the disk, so that
                    // a sync another thread starts a moment later is less likely to hide a put
                    // that returned too early.
                    if exposed(&disk, &value) {
                        return Err(EARLY.into());
                    }
                }
                Ok(())
            })
        })
        .collect();
    let mut problems = Vec::new();
    let mut early = false;
    for (t, handle) in handles.into_iter().enumerate() {
        match handle.join() {
            Ok(Ok(())) => {}
            Ok(Err(problem)) if problem == EARLY => early = true,
            Ok(Err(problem)) => problems.push(format!("thread {t}: {problem}")),
            Err(panic) => problems.push(format!("thread {t}: {}", panic_text(&*panic))),
        }
    }
    if let Some(problem) = problems.first() {
        return fail(format!("did: {setup}\n{problem}"));
    }
    // How many syncs the puts shared depends on how the threads were scheduled, so it is no
    // verdict here: the gated check above proves the sharing, with the interleaving fixed.
    expect(
        !early,
        format!(
            "did:      {setup}\nexpected: each put returns once its record is durable\n\
             got:      {EARLY}"
        ),
    )
}

fn readers_see_written_values(ctx: &mut Ctx) -> CheckResult {
    const WRITERS: usize = 3;
    const VERSIONS: usize = 40;
    let disk = SimDisk::new(ctx.seed());
    let store = Arc::new(open(
        disk.dir(),
        options(512, SyncPolicy::EveryWrites(3)),
        "opening",
    )?);
    let setup = format!(
        "under SyncPolicy::EveryWrites(3), segments of 512 bytes: {WRITERS} threads each putting \
         {VERSIONS} versions of a key of its own (\"k0\", \"k1\", ...), while 2 threads read them"
    );
    ctx.doing(&setup);
    // Version i of key t: its number, then a length that varies, so a torn or mixed value shows.
    let version = |t: usize, i: usize| -> Vec<u8> {
        let mut value = format!("k{t} v{i:02} ").into_bytes();
        value.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, (i * 7) % 23));
        value
    };
    let writing = Arc::new(AtomicBool::new(true));
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let store = Arc::clone(&store);
            let writing = Arc::clone(&writing);
            thread::spawn(move || -> Result<u64, String> {
                let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
                let mut reads = 0;
                loop {
                    let last_round = !writing.load(Ordering::SeqCst);
                    for t in 0..WRITERS {
                        let key = format!("k{t}").into_bytes();
                        let got = store
                            .get(&key)
                            .map_err(|error| format!("get({}) failed: {error}", show(&key)))?;
                        reads += 1;
                        let Some(got) = got else {
                            if seen.contains_key(&t) {
                                return Err(format!(
                                    "get({}) returned None after returning a value",
                                    show(&key)
                                ));
                            }
                            continue;
                        };
                        let Some(i) = (0..VERSIONS).find(|&i| version(t, i) == got) else {
                            return Err(format!(
                                "get({}) returned {}, which was never written",
                                show(&key),
                                show(&got)
                            ));
                        };
                        if let Some(&before) = seen.get(&t)
                            && i < before
                        {
                            return Err(format!(
                                "reader {r}: get({}) returned version {i} after version {before}",
                                show(&key)
                            ));
                        }
                        seen.insert(t, i);
                    }
                    if last_round {
                        return Ok(reads);
                    }
                }
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|t| {
            let store = Arc::clone(&store);
            thread::spawn(move || -> Result<(), String> {
                let key = format!("k{t}").into_bytes();
                for i in 0..VERSIONS {
                    let value = version(t, i);
                    store.put(&key, &value).map_err(|error| {
                        format!("put({}, {}) failed: {error}", show(&key), show(&value))
                    })?;
                }
                Ok(())
            })
        })
        .collect();
    let mut problems = Vec::new();
    for (t, handle) in writers.into_iter().enumerate() {
        match handle.join() {
            Ok(Ok(())) => {}
            Ok(Err(problem)) => problems.push(format!("writer {t}: {problem}")),
            Err(panic) => problems.push(format!("writer {t}: put {}", panic_text(&*panic))),
        }
    }
    writing.store(false, Ordering::SeqCst);
    for (r, handle) in readers.into_iter().enumerate() {
        match handle.join() {
            Ok(Ok(_)) => {}
            Ok(Err(problem)) => problems.push(format!("reader {r}: {problem}")),
            Err(panic) => problems.push(format!("reader {r}: get {}", panic_text(&*panic))),
        }
    }
    if let Some(problem) = problems.first() {
        return fail(format!("did: {setup}\n{problem}"));
    }
    for t in 0..WRITERS {
        let key = format!("k{t}").into_bytes();
        expect_eq(
            format!("{setup}; when all were done, get({})", show(&key)),
            store
                .get(&key)
                .map_err(|e| e.to_string())
                .map(|v| v.map(|v| show(&v))),
            Ok(Some(show(&version(t, VERSIONS - 1)))),
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Failed syncs
// ---------------------------------------------------------------------------------------------

fn failed_sync_is_sticky(ctx: &mut Ctx) -> CheckResult {
    // Under Always: the put whose sync fails reports it, and so does every later call.
    let disk = SimDisk::new(ctx.seed());
    let store = open(disk.dir(), options(1 << 20, SyncPolicy::Always), "opening")?;
    let mut did = Vec::new();
    let step = |did: &mut Vec<String>, what: &str, result: io::Result<()>, ok: bool| {
        did.push(what.to_string());
        match (result, ok) {
            (Ok(()), true) | (Err(_), false) => Ok(()),
            (Err(error), true) => fail(format!(
                "did:      {}\nexpected: Ok\ngot:      Err({error})",
                did.join(", ")
            )),
            (Ok(()), false) => fail(format!(
                "did:      {}\nexpected: an error: a sync has failed, and the kernel may have \
                 dropped the unsynced data, so the store cannot promise anything until it is \
                 reopened and recovers\ngot:      Ok",
                did.join(", ")
            )),
        }
    };
    let result = store.put(b"a", b"1");
    step(
        &mut did,
        "under SyncPolicy::Always, put(\"a\", \"1\")",
        result,
        true,
    )?;
    disk.fail_next(OpKind::Sync, Fault::SyncLosesData);
    let result = store.put(b"b", b"2");
    step(
        &mut did,
        "put(\"b\", \"2\") whose sync fails (and drops the unsynced data)",
        result,
        false,
    )?;
    let result = store.put(b"c", b"3");
    step(&mut did, "put(\"c\", \"3\")", result, false)?;
    let result = store.sync();
    step(&mut did, "sync()", result, false)?;
    drop(store);
    let store = open(
        disk.dir(),
        options(1 << 20, SyncPolicy::Always),
        "reopening",
    )?;
    did.push("drop the store and open it again".into());
    let got = store.get(b"a").map_err(|e| e.to_string());
    expect_eq(
        format!("{}, get(\"a\")", did.join(", ")),
        got.map(|v| v.map(|v| show(&v))),
        Ok(Some(show(b"1"))),
    )?;
    let result = store.put(b"d", b"4");
    step(&mut did, "put(\"d\", \"4\")", result, true)?;

    // Under Never: a sync that failed is not made good by trying again.
    let disk = SimDisk::new(ctx.seed() ^ 1);
    let store = open(disk.dir(), options(1 << 20, SyncPolicy::Never), "opening")?;
    let mut did = Vec::new();
    let result = store.put(b"a", b"1");
    step(
        &mut did,
        "under SyncPolicy::Never, put(\"a\", \"1\")",
        result,
        true,
    )?;
    disk.fail_next(OpKind::Sync, Fault::SyncLosesData);
    let result = store.sync();
    step(
        &mut did,
        "sync(), which fails (and drops the unsynced data)",
        result,
        false,
    )?;
    let result = store.sync();
    step(&mut did, "sync() again", result, false)?;
    let result = store.put(b"b", b"2");
    step(&mut did, "put(\"b\", \"2\")", result, false)?;

    // Under EveryWrites(n): the n-th write's sync fails like any other, and sticks.
    let disk = SimDisk::new(ctx.seed() ^ 2);
    let store = open(
        disk.dir(),
        options(1 << 20, SyncPolicy::EveryWrites(2)),
        "opening",
    )?;
    let mut did = Vec::new();
    let result = store.put(b"a", b"1");
    step(
        &mut did,
        "under SyncPolicy::EveryWrites(2), put(\"a\", \"1\")",
        result,
        true,
    )?;
    disk.fail_next(OpKind::Sync, Fault::SyncLosesData);
    let result = store.put(b"b", b"2");
    step(
        &mut did,
        "put(\"b\", \"2\"), the second write, whose sync fails (and drops the unsynced data)",
        result,
        false,
    )?;
    let result = store.put(b"c", b"3");
    step(&mut did, "put(\"c\", \"3\")", result, false)?;
    let result = store.delete(b"a");
    step(&mut did, "delete(\"a\")", result, false)?;
    let result = store.sync();
    step(&mut did, "sync()", result, false)?;
    Ok(())
}

fn faults_everywhere(ctx: &mut Ctx) -> CheckResult {
    let shape = Shape::MERGES;
    support::faults_everywhere::<AlwaysStore>(
        ctx,
        &[support::merges()],
        3,
        support::workload(8, shape),
        shape,
        &format!(
            "under SyncPolicy::Always, segments of {SMALL_SEGMENTS} bytes, maintain() being \
             merge():\n"
        ),
    )
}
