//! Helpers the bitcask checks share: a sweep that fails every operation of a workload in turn,
//! on the kit's fault-aiming directory.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use judge::prelude::*;
use kit::checksum::crc32;
use kit::crash::{KvOp, Subject, show};
use kit::disk::{Dir, File};
use kit::fault::{FaultDir, attempt};
use kit::sim::{Fault, OpKind, SimDisk};

/// Every kind of operation a fault can be aimed at.
pub const KINDS: [OpKind; 10] = [
    OpKind::Read,
    OpKind::Write,
    OpKind::Sync,
    OpKind::DirSync,
    OpKind::Create,
    OpKind::Open,
    OpKind::Rename,
    OpKind::Remove,
    OpKind::List,
    OpKind::Len,
];

type Value = Option<Vec<u8>>;

/// What one key may read back as.
#[derive(Debug, Clone)]
struct Allowed {
    /// In the store as it runs (or after a clean reopen): the last acknowledged value, and the
    /// values of failed writes since, which may or may not have happened.
    now: Vec<Value>,
    /// What survives any crash: the `now` of the last sync that returned.
    durable: Vec<Value>,
    /// Written since that sync, acknowledged or not.
    since: Vec<Value>,
    /// What the key may have held when a sync failed and dropped data: any of it may be what
    /// is left, whatever later syncs say (the store cannot know what the kernel dropped).
    limbo: Vec<Value>,
}

impl Default for Allowed {
    fn default() -> Self {
        Allowed {
            now: vec![None],
            durable: vec![None],
            since: Vec::new(),
            limbo: Vec::new(),
        }
    }
}

#[derive(Debug, Default)]
struct Model {
    keys: BTreeMap<Vec<u8>, Allowed>,
}

impl Model {
    fn write(&mut self, key: &[u8], value: Value, acknowledged: bool) {
        let allowed = self.keys.entry(key.to_vec()).or_default();
        if acknowledged {
            allowed.now = vec![value.clone()];
        } else if !allowed.now.contains(&value) {
            allowed.now.push(value.clone());
        }
        allowed.since.push(value);
    }

    fn make_durable(&mut self) {
        for allowed in self.keys.values_mut() {
            allowed.durable = allowed.now.clone();
            allowed.since.clear();
        }
    }

    /// After a crash (or a sync that lost data), or as the store runs.
    fn allowed(&self, key: &[u8], crashed: bool) -> Vec<Value> {
        let allowed = self.keys.get(key).cloned().unwrap_or_default();
        let mut all = if crashed {
            let mut all = allowed.durable;
            all.extend(allowed.since);
            all
        } else {
            allowed.now
        };
        all.extend(allowed.limbo);
        all
    }

    /// A sync failed and the kernel dropped what was not durable.
    fn drop_unsynced(&mut self) {
        for allowed in self.keys.values_mut() {
            let mut limbo = std::mem::take(&mut allowed.limbo);
            limbo.extend(allowed.durable.iter().cloned());
            limbo.extend(allowed.since.iter().cloned());
            limbo.extend(allowed.now.iter().cloned());
            allowed.limbo = limbo;
        }
    }

    /// After a crash, what was read is the one truth.
    fn settle(&mut self, key: &[u8], value: Value) {
        let allowed = self.keys.entry(key.to_vec()).or_default();
        allowed.now = vec![value.clone()];
        allowed.durable = vec![value];
        allowed.since.clear();
        allowed.limbo.clear();
    }
}

fn shown(value: &Value) -> String {
    match value {
        Some(bytes) => format!("Some({})", show(bytes)),
        None => "None".into(),
    }
}

/// One run of a workload, with the fault (if any) armed at the start.
struct Run<S: Subject> {
    faults: FaultDir,
    disk: SimDisk,
    model: Model,
    /// A failed sync dropped unsynced data: only what is durable can be promised.
    lost: bool,
    /// A sync failed: the store may refuse everything until it is opened again (after a failed
    /// sync it cannot know what reached the disk).
    refusing: bool,
    did: Vec<String>,
    /// The kind of operation the fault is aimed at, and the fault.
    armed: Option<(OpKind, Fault)>,
    store: Option<S::Store>,
}

impl<S: Subject> Run<S> {
    fn failure(&self, message: String) -> String {
        format!("did:      {}\n{message}", self.did.join(", "))
    }

    /// Opens the store; an open that a fault made fail is tried once more.
    fn open(&mut self, what: &str) -> Result<(), String> {
        self.store = None;
        for _ in 0..2 {
            let fired = self.faults.fired();
            let dir = self.faults.dir();
            match attempt(|| S::open(dir)) {
                Ok(store) => {
                    self.did.push(what.into());
                    self.store = Some(store);
                    self.refusing = false;
                    return Ok(());
                }
                Err(error) if self.faults.fired() > fired => {
                    self.did
                        .push(format!("{what}, which failed on the fault ({error})"));
                }
                Err(error) => {
                    self.did.push(what.into());
                    return Err(self.failure(format!(
                        "expected: the store to open\ngot:      Err({error}), with no fault \
                         injected in it"
                    )));
                }
            }
        }
        Err(self.failure(
            "expected: the store to open once the fault had passed\ngot:      it failed again"
                .into(),
        ))
    }

    fn op(&mut self, op: &KvOp) -> Result<(), String> {
        if let KvOp::Reopen = op {
            return self.open("reopen()");
        }
        let fired = self.faults.fired();
        let result = attempt(|| S::apply(self.store.as_mut().expect("open"), op));
        let faulted = self.faults.fired() > fired;
        let ok = result.is_ok();
        match &result {
            Ok(()) => self.did.push(format!("{op:?}")),
            Err(error) if faulted => self.did.push(format!("{op:?} failed ({error})")),
            Err(error) => {
                self.did.push(format!("{op:?}"));
                if !self.refusing {
                    return Err(self.failure(format!(
                        "expected: Ok\ngot:      Err({error}), with no fault injected in it"
                    )));
                }
            }
        }
        match op {
            KvOp::Put(k, v) => self.model.write(k, Some(v.clone()), ok),
            KvOp::Delete(k) => self.model.write(k, None, ok),
            // A sync that returned promised durability, whatever it hid.
            KvOp::Sync if ok => self.model.make_durable(),
            _ => {}
        }
        if ok && S::syncs_every_write() {
            self.model.make_durable();
        }
        // After a failed file sync the kernel may have dropped data the store cannot name; a
        // failed directory sync loses no data, and the next one that succeeds covers its names.
        let sync_failed = matches!(self.armed, Some((OpKind::Sync, _)));
        if faulted && sync_failed {
            self.refusing = true;
        }
        if faulted && matches!(self.armed, Some((_, Fault::SyncLosesData))) {
            self.lost = true;
            self.model.drop_unsynced();
        }
        Ok(())
    }

    /// Reads every key the workload wrote, and a probe never written.
    fn verify(&mut self, crashed: bool, settle: bool, when: &str) -> Result<(), String> {
        let mut keys: Vec<Vec<u8>> = self.model.keys.keys().cloned().collect();
        keys.push(b"never written".to_vec());
        for key in keys {
            let fired = self.faults.fired();
            let got = attempt(|| S::get(self.store.as_mut().expect("open"), &key));
            let faulted = self.faults.fired() > fired;
            let allowed = self.model.allowed(&key, crashed || self.lost);
            let expected = allowed.iter().map(shown).collect::<Vec<_>>().join(" or ");
            match got {
                Ok(value) if allowed.contains(&value) => {
                    if settle {
                        self.model.settle(&key, value);
                    }
                }
                Ok(value) => {
                    return Err(self.failure(format!(
                        "{when}, get({})\nexpected: {expected}\ngot:      {}",
                        show(&key),
                        shown(&value)
                    )));
                }
                Err(_) if faulted || self.refusing => {}
                Err(error) => {
                    return Err(self.failure(format!(
                        "{when}, get({})\nexpected: {expected}\ngot:      Err({error}), with no \
                         fault injected in it",
                        show(&key)
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Runs the workload once with `fault` armed at the `n`th operation of `kind`: every op, then
/// reads of every key, a clean reopen and reads, a sync, a power cut, recovery and reads.
fn run_once<S: Subject>(
    seed: u64,
    ops: &[KvOp],
    armed: Option<(OpKind, u64, Fault)>,
    shape: Shape,
) -> Result<FaultDir, String> {
    // A failed write leaves part of its bytes behind, as a real disk's can: the log cuts them
    // off (scene 02), and nothing a store writes may trip on them.
    let profile = kit::sim::Profile {
        failed_writes_leave_a_prefix: true,
        ..kit::sim::Profile::GENTLE
    };
    let disk = SimDisk::with_profile(seed, profile);
    let faults = FaultDir::new(&disk, &[]);
    let mut did = Vec::new();
    if let Some((kind, n, fault)) = armed {
        faults.arm(kind, n, fault);
        did.push(format!(
            "(operation {n} of kind {kind:?} fails with Fault::{fault:?})"
        ));
    }
    let mut run = Run::<S> {
        faults: faults.clone(),
        disk: disk.clone(),
        model: Model::default(),
        lost: false,
        refusing: false,
        armed: armed.map(|(kind, _, fault)| (kind, fault)),
        did,
        store: None,
    };
    run.open("open an empty store")?;
    for op in ops {
        run.op(op)?;
    }
    run.verify(false, false, "then")?;
    if !shape.reopens {
        return Ok(faults);
    }
    let lost = run.lost;
    run.open("close and open the store again")?;
    run.lost = false;
    run.verify(lost, false, "then")?;
    if !shape.crash {
        return Ok(faults);
    }
    if shape.syncs {
        // What was acknowledged is now promised: the crash below must keep all of it.
        run.op(&KvOp::Sync)?;
    }
    run.store = None;
    run.disk.crash();
    // The worst crash: nothing unsynced survives, so a promise kept only by luck is caught.
    run.disk.restart_losing_unsynced();
    run.open("the power fails; recover")?;
    run.verify(true, true, "then")?;
    Ok(faults)
}

/// Fails every operation the workload makes, one run for each, with each fault in turn: an I/O
/// error and a full disk on every operation, a sync that drops data on every sync. Every run
/// must report the fault and stay consistent: acknowledged writes read back, nothing reads back
/// wrong, and after a clean reopen and after a power cut, only what was promised is there.
/// Runs at most `most` faults besides those at each kind's first two and last operations.
pub fn sweep<S: Subject>(seed: u64, ops: &[KvOp], most: usize, shape: Shape) -> Result<(), String> {
    let golden = run_once::<S>(seed, ops, None, shape)?;
    let mut plans = Vec::new();
    for kind in KINDS {
        for n in 1..=golden.count(kind) {
            plans.push((kind, n, Fault::IoError));
            plans.push((kind, n, Fault::DiskFull));
            if kind == OpKind::Sync {
                plans.push((kind, n, Fault::SyncLosesData));
            }
        }
    }
    // The first two and the last operation of each kind always (the first is often in open,
    // where a failure is easiest to mishandle, the second the first retry or rotation), and an
    // even sample of the rest by seed.
    let edge = |&(kind, n, _): &(OpKind, u64, Fault)| n <= 2 || n == golden.count(kind);
    let (edges, rest): (Vec<_>, Vec<_>) = plans.into_iter().partition(edge);
    let room = most.saturating_sub(edges.len()).max(1);
    let stride = rest.len().div_ceil(room).max(1);
    let shift = (seed as usize) % stride;
    let sampled = rest
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % stride == shift);
    for plan in edges.into_iter().chain(sampled.map(|(_, plan)| plan)) {
        run_once::<S>(seed, ops, Some(plan), shape)?;
    }
    Ok(())
}

/// The check every storage scene runs: a [`sweep`] of the smallest workload (one put: faults in
/// open are easiest to see there, with nothing after them to hide them), of each of `scripted`
/// (the scene's own edges: a second rotation after a failed one, a merge after a failed merge),
/// then of `cases` workloads from `workloads`, each shrunk on failure. `context` starts the failure message (the store's settings).
pub fn faults_everywhere<S: Subject>(
    ctx: &mut Ctx,
    scripted: &[Vec<KvOp>],
    cases: u32,
    workloads: impl Strategy<Value = Vec<KvOp>>,
    shape: Shape,
    context: &str,
) -> CheckResult {
    const MOST: usize = 20;
    let seed = ctx.seed();
    let explain = |message: String| Failure::new(format!("{context}{message}"));
    let smallest = vec![KvOp::Put(b"a".to_vec(), b"1".to_vec())];
    for ops in std::iter::once(&smallest).chain(scripted) {
        sweep::<S>(seed, ops, MOST, shape).map_err(explain)?;
    }
    ctx.forall_named(&["ops"], cases, workloads, |ops| {
        sweep::<S>(seed, &ops, MOST, shape).map_err(explain)
    })
}

/// A value too large for any segment the sweeps use: each put of one starts a new segment.
fn oversized() -> Vec<u8> {
    vec![b'x'; 100]
}

/// Two rotations, so that a second follows a failed one.
pub fn rotations() -> Vec<KvOp> {
    vec![
        KvOp::Put(b"a".to_vec(), oversized()),
        KvOp::Put(b"b".to_vec(), oversized()),
        KvOp::Put(b"a".to_vec(), b"1".to_vec()),
    ]
}

/// A rotation that fails (the first two directory syncs are always swept) with room left in the
/// old segment for the next put, then a reopen: the old segment is no longer the active one.
pub fn failed_rotation() -> Vec<KvOp> {
    vec![
        KvOp::Put(b"a".to_vec(), b"1".to_vec()),
        KvOp::Put(b"b".to_vec(), oversized()),
        KvOp::Put(b"a".to_vec(), b"2".to_vec()),
        KvOp::Reopen,
    ]
}

/// Two merges of the same segments, so that the second follows a failed one and writes the
/// same files.
pub fn merges() -> Vec<KvOp> {
    vec![
        KvOp::Put(b"a".to_vec(), b"1".to_vec()),
        KvOp::Put(b"a".to_vec(), oversized()),
        KvOp::Maintain,
        KvOp::Maintain,
    ]
}

/// What a scene's store can do.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub deletes: bool,
    pub syncs: bool,
    pub maintain: bool,
    /// Whether a reopened store serves what an earlier one wrote (from the recovery scene on).
    pub reopens: bool,
    /// Whether the store rotates segments (from the segments scene on): its large values need
    /// only outgrow a segment (the record scenes try values over 64 KiB).
    pub segments: bool,
    /// Whether the store recovers from a power cut (from the recovery scene on).
    pub crash: bool,
}

impl Shape {
    /// The key directory scene's store: puts only, nothing kept across a reopen.
    pub const PUTS: Shape = Shape {
        deletes: false,
        syncs: false,
        maintain: false,
        reopens: false,
        segments: false,
        crash: false,
    };
    /// The delete scene's: puts and deletes.
    pub const DELETES: Shape = Shape {
        deletes: true,
        ..Shape::PUTS
    };
    /// From the recovery scene on: syncs, reopens and power cuts too.
    pub const RECOVERS: Shape = Shape {
        syncs: true,
        reopens: true,
        crash: true,
        ..Shape::DELETES
    };
    /// From the segments scene on: segments that rotate.
    pub const SEGMENTED: Shape = Shape {
        segments: true,
        ..Shape::RECOVERS
    };
    /// From the merge scene on: `maintain()` merges.
    pub const MERGES: Shape = Shape {
        maintain: true,
        ..Shape::SEGMENTED
    };
}

/// Workloads for a sweep: puts (of empty keys and values, and now and then of values over 64 KiB
/// or, with segments, larger than one), and deletes, syncs, clean reopens and `maintain()` as
/// far as the shape allows.
pub fn workload(most: usize, shape: Shape) -> impl Strategy<Value = Vec<KvOp>> {
    let key = prop::sample::select(vec![b"a".to_vec(), b"b".to_vec(), Vec::new()]);
    let value = prop_oneof![
        6 => prop::collection::vec(b'a'..=b'z', 1..12),
        1 => Just(Vec::new()),
        1 => Just(if shape.segments { oversized() } else { vec![b'x'; 70_000] }),
    ];
    let op = prop_oneof![
        6 => (key.clone(), value).prop_map(|(k, v)| KvOp::Put(k, v)),
        if shape.deletes { 2 } else { 0 } => key.prop_map(KvOp::Delete),
        if shape.syncs { 2 } else { 0 } => Just(KvOp::Sync),
        if shape.reopens { 1 } else { 0 } => Just(KvOp::Reopen),
        if shape.maintain { 2 } else { 0 } => Just(KvOp::Maintain),
    ];
    prop::collection::vec(op, 1..most)
}

/// The bytes of a put record, in the record scene's layout.
pub fn put_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut covered = Vec::new();
    covered.extend_from_slice(&(key.len() as u32).to_le_bytes());
    covered.extend_from_slice(&(value.len() as u32).to_le_bytes());
    covered.extend_from_slice(key);
    covered.extend_from_slice(value);
    let mut out = crc32(&covered).to_le_bytes().to_vec();
    out.extend_from_slice(&covered);
    out
}

/// What [`million_disk`] wrote, for failure messages.
pub const MILLION: &str = "segment 999999 holds put(\"k\", \"old\") and put(\"j\", \"kept\"), \
     segment 1000000 holds put(\"k\", \"new\"), both durable; open the store";

/// What to say when the old value comes back.
pub const NAME_ORDER: &str = "are the segments replayed in the order of their names? \
     \"1000000.log\" sorts before \"999999.log\": sort the ids, not the names";

/// A disk holding segments 999,999 and 1,000,000 (see [`MILLION`]), named by `name`.
pub fn million_disk(seed: u64, name: impl Fn(u64) -> String) -> io::Result<SimDisk> {
    let disk = SimDisk::new(seed);
    let dir = disk.dir();
    for (id, records) in [
        (
            999_999,
            vec![put_record(b"k", b"old"), put_record(b"j", b"kept")],
        ),
        (1_000_000, vec![put_record(b"k", b"new")]),
    ] {
        let file = dir.create(&name(id))?;
        for record in records {
            file.append(&record)?;
        }
        file.sync()?;
    }
    dir.sync()?;
    Ok(disk)
}

/// Opens a store over [`million_disk`] and reads both keys: the newest segment must win.
pub fn million_check<T>(
    seed: u64,
    name: impl Fn(u64) -> String,
    open: impl Fn(Arc<dyn Dir>) -> io::Result<T>,
    get: impl Fn(&T, &[u8]) -> io::Result<Option<Vec<u8>>>,
) -> Result<(), String> {
    let disk = million_disk(seed, name).map_err(|e| format!("setting up the disk failed: {e}"))?;
    let store = open(disk.dir()).map_err(|e| format!("did:      {MILLION}\ngot:      Err({e})"))?;
    for (key, value) in [(&b"k"[..], &b"new"[..]), (b"j", b"kept")] {
        let got = get(&store, key).map_err(|e| e.to_string());
        if got != Ok(Some(value.to_vec())) {
            let hint = if got == Ok(Some(b"old".to_vec())) {
                format!(": {NAME_ORDER}")
            } else {
                String::new()
            };
            let got = match got {
                Ok(Some(bytes)) => format!("Ok(Some({}))", show(&bytes)),
                Ok(None) => "Ok(None)".into(),
                Err(e) => format!("Err({e})"),
            };
            return Err(format!(
                "did:      {MILLION}, get({})\nexpected: Ok(Some({}))\ngot:      {got}{hint}",
                show(key),
                show(value)
            ));
        }
    }
    Ok(())
}

/// A directory that notes the name operations (create, rename, remove) that succeeded since the
/// last directory sync that returned: the ones a crash may keep in any subset under
/// [`kit::sim::Profile::HARSH`].
#[derive(Clone)]
pub struct NameJournal {
    inner: Arc<dyn Dir>,
    pending: Arc<Mutex<Vec<String>>>,
}

impl fmt::Debug for NameJournal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl NameJournal {
    pub fn new(inner: Arc<dyn Dir>) -> NameJournal {
        NameJournal {
            inner,
            pending: Arc::default(),
        }
    }

    /// The name operations not yet made durable by a directory sync, oldest first.
    pub fn pending(&self) -> Vec<String> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn note<T>(&self, result: io::Result<T>, what: impl FnOnce() -> String) -> io::Result<T> {
        if result.is_ok() {
            self.pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(what());
        }
        result
    }
}

impl Dir for NameJournal {
    fn create(&self, name: &str) -> io::Result<Box<dyn File>> {
        self.note(self.inner.create(name), || format!("create({name:?})"))
    }
    fn open(&self, name: &str) -> io::Result<Box<dyn File>> {
        self.inner.open(name)
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.note(self.inner.remove(name), || format!("remove({name:?})"))
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.note(self.inner.rename(from, to), || {
            format!("rename({from:?}, {to:?})")
        })
    }
    fn list(&self) -> io::Result<Vec<String>> {
        self.inner.list()
    }
    fn sync(&self) -> io::Result<()> {
        self.inner.sync()?;
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        Ok(())
    }
}

/// How many differently seeded restarts a crash with `pending` unsynced name operations gets,
/// so that each of their 2^pending subsets (each survives a HARSH crash with chance 1/2^pending)
/// is met with near certainty: 8 times its expected wait, so each is missed with chance under
/// e^-8 (up to six operations; more get 512 restarts).
pub fn restarts_for(pending: usize) -> u64 {
    8u64 << pending.min(6)
}

/// A record as a key and a value (`None` for a tombstone).
pub type Pair = (Vec<u8>, Option<Vec<u8>>);

/// The records of a log file, in the record scene's layout, as (key, value) pairs (a tombstone's
/// value is `None`); `None` if the bytes are not whole records.
pub fn decode_records(mut bytes: &[u8]) -> Option<Vec<Pair>> {
    let mut records = Vec::new();
    while !bytes.is_empty() {
        let field = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
        };
        let key_len = field(4)? as usize;
        let value_len = field(8)?;
        let body = if value_len == u32::MAX {
            0
        } else {
            value_len as usize
        };
        let end = 12 + key_len + body;
        let key = bytes.get(12..12 + key_len)?.to_vec();
        let value = (value_len != u32::MAX).then(|| bytes[12 + key_len..end].to_vec());
        if crc32(&bytes[4..end]) != field(0)? {
            return None;
        }
        records.push((key, value));
        bytes = &bytes[end..];
    }
    Some(records)
}
