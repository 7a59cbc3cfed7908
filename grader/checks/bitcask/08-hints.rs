//! Hidden checks for bitcask/hints.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::Arc;

use bitcask_hints::{Options, Store, hint_name, segment_name};
use judge::prelude::*;
use kit::crash::{self, KvOp, Limits, Subject, show};
use kit::disk::Dir;
use kit::disk::File;
use kit::sim::{SimDisk, Stats};

use std::sync::Mutex;

use crate::support::{self, Shape};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a merge leaves a hint file next to the merged segment, and no temporary files",
            merge_writes_a_hint,
        )
        .check(
            "after merges and reopens, every key reads back as a model says",
            matches_model,
        )
        .check(
            "reopening after a merge reads the hint file, not the merged segment",
            startup_reads_the_hint,
        )
        .check(
            "after reopening from a hint, a get costs one read, and a deleted key none",
            gets_after_a_hinted_open,
        )
        .check(
            "a damaged or cut-short hint file is ignored: the segment is scanned instead",
            damaged_hint_is_ignored,
        )
        .check(
            "a hint that does not describe its segment as it is now is ignored",
            mismatched_hint_is_ignored,
        )
        .check(
            "a hint that lies (a wrong entry count, a position past the segment's end), however well checksummed, is not trusted: the segment is scanned",
            lying_hint_is_ignored,
        )
        .check(
            "the hint appears whole or not at all: under its own name it is always durable in full",
            hint_appears_whole,
        )
        .check(
            "a crash at any step of merges, hint writes and reopens loses nothing synced",
            crash_safe,
        )
        .check(
            "a failed write, read, sync, rename or removal at any step, hint writing included, is reported and loses nothing acknowledged",
            faults_everywhere,
        )
}

const KEYS: [&[u8]; 5] = [b"a", b"b", b"c", b"d", b"e"];

// ---------------------------------------------------------------------------------------------
// Operations, a model, and a store driven side by side.

#[derive(Clone, PartialEq, Eq)]
enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Merge,
    Reopen,
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Put(k, v) => write!(f, "put({}, {})", show(k), show(v)),
            Op::Delete(k) => write!(f, "delete({})", show(k)),
            Op::Merge => write!(f, "merge()"),
            Op::Reopen => write!(f, "reopen()"),
        }
    }
}

fn key() -> impl Strategy<Value = Vec<u8>> + Clone {
    prop::sample::select(KEYS.to_vec()).prop_map(<[u8]>::to_vec)
}

fn value(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> + Clone {
    prop::collection::vec(b'a'..=b'z', len)
}

fn put(len: std::ops::Range<usize>) -> impl Strategy<Value = Op> + Clone {
    (key(), value(len)).prop_map(|(k, v)| Op::Put(k, v))
}

/// Puts and deletes only.
fn write(len: std::ops::Range<usize>) -> impl Strategy<Value = Op> {
    prop_oneof![3 => put(len), 1 => key().prop_map(Op::Delete)]
}

/// Three puts (enough to fill more than one segment), then anything.
fn workload(len: std::ops::Range<usize>, more: usize) -> impl Strategy<Value = Vec<Op>> {
    let any = prop_oneof![
        6 => put(len.clone()),
        2 => key().prop_map(Op::Delete),
        2 => Just(Op::Merge),
        1 => Just(Op::Reopen),
    ];
    (
        prop::collection::vec(put(len), 3..=3),
        prop::collection::vec(any, 0..more),
    )
        .prop_map(|(mut first, rest)| {
            first.extend(rest);
            first
        })
}

fn listed(ops: &[Op]) -> String {
    if ops.is_empty() {
        return "(nothing)".into();
    }
    ops.iter()
        .map(|op| format!("{op:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn shown(value: &Option<Vec<u8>>) -> String {
    match value {
        Some(bytes) => format!("Some({})", show(bytes)),
        None => "None".into(),
    }
}

fn open(disk: &SimDisk, max_segment_bytes: u64) -> io::Result<Store> {
    Store::open_with(disk.dir(), Options { max_segment_bytes })
}

/// A store on a simulated disk, a model of what it should hold, and what was done to both.
struct Run {
    disk: SimDisk,
    max_segment_bytes: u64,
    store: Option<Store>,
    model: BTreeMap<Vec<u8>, Vec<u8>>,
    done: Vec<Op>,
}

impl Run {
    fn new(seed: u64, max_segment_bytes: u64) -> Result<Run, Failure> {
        let disk = SimDisk::new(seed);
        let store = open(&disk, max_segment_bytes)
            .map_err(|e| Failure::new(format!("opening an empty store failed: {e}")))?;
        Ok(Run {
            disk,
            max_segment_bytes,
            store: Some(store),
            model: BTreeMap::new(),
            done: Vec::new(),
        })
    }

    fn store(&mut self) -> &mut Store {
        self.store.as_mut().expect("the store is open")
    }

    fn apply(&mut self, op: &Op) -> CheckResult {
        let result = match op {
            Op::Put(k, v) => self.store().put(k, v),
            Op::Delete(k) => self.store().delete(k),
            Op::Merge => self.store().merge(),
            Op::Reopen => {
                self.store = None;
                open(&self.disk, self.max_segment_bytes).map(|store| {
                    self.store = Some(store);
                })
            }
        };
        if let Err(error) = result {
            return fail(format!(
                "did:      {}\nthen {op:?} failed: {error}",
                listed(&self.done)
            ));
        }
        match op {
            Op::Put(k, v) => {
                self.model.insert(k.clone(), v.clone());
            }
            Op::Delete(k) => {
                self.model.remove(k);
            }
            Op::Merge | Op::Reopen => {}
        }
        self.done.push(op.clone());
        Ok(())
    }

    fn apply_all(&mut self, ops: &[Op]) -> CheckResult {
        ops.iter().try_for_each(|op| self.apply(op))
    }

    /// Reads every key and compares it with the model; `note` explains the setup, if need be.
    fn compare(&mut self, note: &str) -> CheckResult {
        let store = self.store.as_ref().expect("the store is open");
        compare(store, &self.model, &listed(&self.done), note)
    }

    /// Makes sure there is an inactive segment, so that the next merge has work to do.
    fn fill_a_segment(&mut self) -> CheckResult {
        if self.store().segment_ids().len() < 2 {
            let big = vec![b'x'; self.max_segment_bytes as usize];
            self.apply(&Op::Put(b"e".to_vec(), big))?;
        }
        Ok(())
    }

    /// Closes the store and leaves the disk to the caller.
    fn close(&mut self) {
        self.store = None;
    }

    /// The id of the segment the last merge wrote: the lowest one left.
    fn merged_id(&mut self) -> u64 {
        self.store().segment_ids()[0]
    }
}

fn compare(
    store: &Store,
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
    did: &str,
    note: &str,
) -> CheckResult {
    let note = if note.is_empty() {
        String::new()
    } else {
        format!("\n{note}")
    };
    for key in KEYS.iter().map(|k| k.to_vec()).chain(model.keys().cloned()) {
        let expected = model.get(&key).cloned();
        match store.get(&key) {
            Ok(got) if got == expected => {}
            Ok(got) => {
                return fail(format!(
                    "did:      {did}, then get({})\nexpected: {}\ngot:      {}{note}",
                    show(&key),
                    shown(&expected),
                    shown(&got)
                ));
            }
            Err(error) => {
                return fail(format!(
                    "did:      {did}, then get({})\nexpected: {}\ngot:      an error: {error}{note}",
                    show(&key),
                    shown(&expected)
                ));
            }
        }
    }
    Ok(())
}

/// The files on the disk and their lengths, for failure messages.
fn files(disk: &SimDisk) -> String {
    disk.files()
        .iter()
        .map(|f| format!("{} ({} bytes)", f.name, f.len))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// The checks.

fn merge_writes_a_hint(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(&["ops"], 32, workload(0..16, 6), |ops| {
        let mut run = Run::new(ctx.seed(), 48)?;
        run.apply_all(&ops)?;
        run.fill_a_segment()?;
        run.apply(&Op::Merge)?;
        let merged = run.merged_id();
        let names: Vec<String> = run.disk.files().into_iter().map(|f| f.name).collect();
        expect(
            names.contains(&hint_name(merged)),
            format!(
                "did:      {}\nexpected: a hint file {} next to the merged segment {}\ngot:      \
                 the files {}",
                listed(&run.done),
                hint_name(merged),
                segment_name(merged),
                files(&run.disk)
            ),
        )?;
        let stray: Vec<&String> = names
            .iter()
            .filter(|n| !n.ends_with(".log") && !n.ends_with(".hint"))
            .collect();
        expect(
            stray.is_empty(),
            format!(
                "did:      {}\nexpected: only segments (.log) and hints (.hint) once merge() \
                 returns\ngot:      also {stray:?} (the files: {})",
                listed(&run.done),
                files(&run.disk)
            ),
        )?;
        run.compare("")
    })
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(&["ops"], 64, workload(0..20, 16), |ops| {
        let mut run = Run::new(ctx.seed(), 64)?;
        for op in &ops {
            run.apply(op)?;
            run.compare("")?;
        }
        run.apply(&Op::Merge)?;
        run.apply(&Op::Reopen)?;
        run.compare("")
    })
}

fn startup_reads_the_hint(ctx: &mut Ctx) -> CheckResult {
    let input = (
        prop::collection::vec(put(16..64), 4..=4),
        prop::collection::vec(write(16..64), 0..12),
        prop::collection::vec(write(0..16), 0..4),
    );
    ctx.forall_named(&["puts", "writes", "after"], 24, input, |(puts, writes, after)| {
        let mut run = Run::new(ctx.seed(), 128)?;
        run.apply_all(&puts)?;
        run.apply_all(&writes)?;
        run.fill_a_segment()?;
        run.apply(&Op::Merge)?;
        run.apply_all(&after)?;
        let merged = run.merged_id();
        run.close();

        // What a reopen may read: every hint file, and every segment without one.
        let on_disk = run.disk.files();
        let hinted = |name: &str| {
            on_disk
                .iter()
                .any(|f| f.name.strip_suffix(".hint") == name.strip_suffix(".log"))
        };
        let hints: u64 = on_disk
            .iter()
            .filter(|f| f.name.ends_with(".hint"))
            .map(|f| f.len)
            .sum();
        let unhinted: u64 = on_disk
            .iter()
            .filter(|f| f.name.ends_with(".log") && !hinted(&f.name))
            .map(|f| f.len)
            .sum();
        let merged_len = run
            .disk
            .contents(&segment_name(merged))
            .map_or(0, |c| c.len());

        run.disk.reset_stats();
        run.apply(&Op::Reopen)?;
        let Stats {
            reads, bytes_read, ..
        } = run.disk.stats();
        expect(
            bytes_read <= hints + unhinted,
            format!(
                "did:      {}\nthe files: {}\nexpected: reopening reads at most {} bytes: the hint \
                 files ({hints} bytes) and the segments without one ({unhinted} bytes), none of \
                 the {merged_len} bytes of the merged segment {}\ngot:      it read {bytes_read} \
                 bytes in {reads} reads",
                listed(&run.done),
                files(&run.disk),
                hints + unhinted,
                segment_name(merged)
            ),
        )?;
        run.compare("")
    })
}

/// Reopens, then reads every key one at a time, counting the disk reads each get costs.
fn read_costs(run: &mut Run) -> CheckResult {
    run.apply(&Op::Reopen)?;
    for key in KEYS {
        let present = run.model.contains_key(key);
        run.disk.reset_stats();
        let got = run.store().get(key).map_err(|e| {
            Failure::new(format!(
                "did:      {}, then get({})\ngot:      an error: {e}",
                listed(&run.done),
                show(key)
            ))
        })?;
        let reads = run.disk.stats().reads;
        let (expected, why) = if present {
            (1, "the key is present: its record is read once")
        } else {
            (
                0,
                "the key is absent (deleted or never written): the key directory must not \
                 hold it, even when the hint is where its tombstone was found",
            )
        };
        expect(
            reads == expected,
            format!(
                "did:      {}, then get({})\nexpected: {} ({why})\ngot:      {}, and the \
                 value {}\nthe files: {}",
                listed(&run.done),
                show(key),
                count_reads(expected),
                count_reads(reads),
                shown(&got),
                files(&run.disk)
            ),
        )?;
    }
    run.compare("")
}

fn count_reads(reads: u64) -> String {
    match reads {
        1 => "1 disk read".into(),
        n => format!("{n} disk reads"),
    }
}

fn gets_after_a_hinted_open(ctx: &mut Ctx) -> CheckResult {
    // Segments of one record each: the merged segment keeps a's tombstone, since an older
    // segment held a value for it.
    let mut run = Run::new(ctx.seed(), 1)?;
    run.apply_all(&[
        Op::Put(b"a".to_vec(), b"1".to_vec()),
        Op::Put(b"c".to_vec(), b"3".to_vec()),
        Op::Delete(b"a".to_vec()),
        Op::Put(b"b".to_vec(), b"2".to_vec()),
        Op::Merge,
    ])?;
    read_costs(&mut run)?;

    ctx.forall_named(&["ops"], 32, workload(0..12, 10), |ops| {
        let mut run = Run::new(ctx.seed(), 40)?;
        run.apply_all(&ops)?;
        run.fill_a_segment()?;
        run.apply(&Op::Merge)?;
        read_costs(&mut run)
    })
}

fn damaged_hint_is_ignored(ctx: &mut Ctx) -> CheckResult {
    let input = (
        prop::collection::vec(put(0..8), 3..=3),
        prop::collection::vec(write(0..8), 0..6),
    );
    ctx.forall_named(&["puts", "writes"], 12, input, |(puts, writes)| {
        let mut run = Run::new(ctx.seed(), 40)?;
        run.apply_all(&puts)?;
        run.apply_all(&writes)?;
        run.fill_a_segment()?;
        run.apply(&Op::Merge)?;
        let hint = hint_name(run.merged_id());
        run.close();
        let Some(bytes) = run.disk.contents(&hint) else {
            return fail(format!(
                "did:      {}\nexpected: a hint file {hint}\ngot:      the files {}",
                listed(&run.done),
                files(&run.disk)
            ));
        };
        let did = listed(&run.done);
        let check = |disk: &SimDisk, damage: String| -> CheckResult {
            let store = open(disk, 40).map_err(|e| {
                Failure::new(format!(
                    "did:      {did}, closed the store, {damage}, and opened it again\nexpected: \
                     the store opens (a bad hint costs time, not data: scan the segment)\ngot:      \
                     an error: {e}"
                ))
            })?;
            compare(
                &store,
                &run.model,
                &format!("{did}, closed the store, {damage}, and opened it again"),
                "",
            )
        };
        for offset in 0..bytes.len() {
            let disk = run.disk.fork();
            let flipped = bytes[offset] ^ 0x5A;
            disk.corrupt(&hint, offset as u64, &[flipped])
                .expect("the hint exists");
            check(
                &disk,
                format!(
                    "changed byte {offset} of the {}-byte {hint} from {} to {flipped}",
                    bytes.len(),
                    bytes[offset]
                ),
            )?;
        }
        for cut in 0..bytes.len() {
            let disk = run.disk.fork();
            let file = disk.dir().open(&hint).expect("the hint exists");
            file.truncate(cut as u64).expect("the disk truncates");
            file.sync().expect("the disk syncs");
            check(
                &disk,
                format!("cut the {}-byte {hint} to {cut} bytes", bytes.len()),
            )?;
        }
        Ok(())
    })
}

fn mismatched_hint_is_ignored(ctx: &mut Ctx) -> CheckResult {
    // A record's bytes, as the store itself writes them, from a scratch store.
    let scratch = SimDisk::new(ctx.seed());
    let record = {
        let mut store = open(&scratch, 1 << 20).map_err(|e| Failure::new(e.to_string()))?;
        store
            .put(b"z", b"late")
            .map_err(|e| Failure::new(e.to_string()))?;
        store.sync().map_err(|e| Failure::new(e.to_string()))?;
        scratch.contents(&segment_name(1)).unwrap_or_default()
    };

    // The merged segment gains a record its hint does not list.
    let mut run = Run::new(ctx.seed(), 48)?;
    run.apply_all(&[
        Op::Put(b"a".to_vec(), b"0123456789".to_vec()),
        Op::Put(b"b".to_vec(), b"0123456789".to_vec()),
        Op::Put(b"c".to_vec(), b"0123456789".to_vec()),
        Op::Merge,
    ])?;
    let merged = segment_name(run.merged_id());
    run.close();
    let len = run.disk.contents(&merged).map_or(0, |c| c.len());
    run.disk
        .corrupt(&merged, len as u64, &record)
        .map_err(|e| Failure::new(e.to_string()))?;
    run.model.insert(b"z".to_vec(), b"late".to_vec());
    run.apply(&Op::Reopen)?;
    run.compare(&format!(
        "before the reopen, a record put(\"z\", \"late\") was added to the end of the merged \
         segment {merged}, which was {len} bytes when its hint was written: the hint no longer \
         describes it, so the segment must be scanned instead"
    ))?;

    // An old hint comes back after a second merge rewrote its segment.
    let mut run = Run::new(ctx.seed(), 64)?;
    run.apply_all(&[
        Op::Put(b"a".to_vec(), b"0123456789".to_vec()),
        Op::Put(b"b".to_vec(), b"0123456789".to_vec()),
        Op::Put(b"c".to_vec(), b"0123456789".to_vec()),
        Op::Merge,
    ])?;
    let id = run.merged_id();
    let old = run.disk.contents(&hint_name(id)).unwrap_or_default();
    run.apply_all(&[
        Op::Put(b"a".to_vec(), b"new".to_vec()),
        Op::Delete(b"b".to_vec()),
        Op::Merge,
    ])?;
    let now = run.merged_id();
    run.close();
    if now == id {
        let dir = run.disk.dir();
        let restore = || -> io::Result<()> {
            dir.remove(&hint_name(id))?;
            let file = dir.create(&hint_name(id))?;
            file.append(&old)?;
            file.sync()?;
            dir.sync()
        };
        restore().map_err(|e| Failure::new(format!("restoring the old hint: {e}")))?;
    }
    run.apply(&Op::Reopen)?;
    run.compare(&format!(
        "before the reopen, the hint {} of the first merge was put back in place of the \
         second's: it describes {} as it was before the second merge rewrote it",
        hint_name(id),
        segment_name(id)
    ))
}

/// A directory that counts the bytes read from each file by name.
#[derive(Clone)]
struct ReadCounter {
    inner: Arc<dyn Dir>,
    read: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl fmt::Debug for ReadCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl ReadCounter {
    fn bytes_read(&self, name: &str) -> u64 {
        let read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        read.get(name).copied().unwrap_or(0)
    }

    fn wrap(&self, name: &str, file: io::Result<Box<dyn File>>) -> io::Result<Box<dyn File>> {
        Ok(Box::new(CountedFile {
            inner: file?,
            name: name.to_string(),
            read: Arc::clone(&self.read),
        }))
    }
}

impl Dir for ReadCounter {
    fn create(&self, name: &str) -> io::Result<Box<dyn File>> {
        self.wrap(name, self.inner.create(name))
    }
    fn open(&self, name: &str) -> io::Result<Box<dyn File>> {
        self.wrap(name, self.inner.open(name))
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

#[derive(Debug)]
struct CountedFile {
    inner: Box<dyn File>,
    name: String,
    read: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl File for CountedFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read_at(offset, buf)?;
        let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        *read.entry(self.name.clone()).or_insert(0) += n as u64;
        Ok(n)
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
        self.inner.sync()
    }
}

/// Byte order of the numbers in a hint's values, as found in the learner's own hint.
#[derive(Clone, Copy)]
enum Order {
    Little,
    Big,
}

impl Order {
    fn u64(self, n: u64) -> [u8; 8] {
        match self {
            Order::Little => n.to_le_bytes(),
            Order::Big => n.to_be_bytes(),
        }
    }
    fn read_u64(self, bytes: &[u8]) -> u64 {
        let bytes: [u8; 8] = bytes[..8].try_into().expect("8 bytes");
        match self {
            Order::Little => u64::from_le_bytes(bytes),
            Order::Big => u64::from_be_bytes(bytes),
        }
    }
    fn u32(self, n: u32) -> [u8; 4] {
        match self {
            Order::Little => n.to_le_bytes(),
            Order::Big => n.to_be_bytes(),
        }
    }
    fn read_u32(self, bytes: &[u8]) -> u32 {
        let bytes: [u8; 4] = bytes[..4].try_into().expect("4 bytes");
        match self {
            Order::Little => u32::from_le_bytes(bytes),
            Order::Big => u32::from_be_bytes(bytes),
        }
    }
}

fn lying_hint_is_ignored(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), 48)?;
    run.apply_all(&[
        Op::Put(b"a".to_vec(), b"0123456789".to_vec()),
        Op::Put(b"b".to_vec(), b"0123456789".to_vec()),
        Op::Put(b"c".to_vec(), b"0123456789".to_vec()),
        Op::Put(b"d".to_vec(), b"0123456789".to_vec()),
        Op::Merge,
    ])?;
    let id = run.merged_id();
    run.close();
    let (hint, segment) = (hint_name(id), segment_name(id));
    let did = listed(&run.done);
    let segment_len = run.disk.contents(&segment).map_or(0, |c| c.len() as u64);
    let Some(records) = run
        .disk
        .contents(&hint)
        .and_then(|b| support::decode_records(&b))
    else {
        return fail(format!(
            "did:      {did}\nexpected: a hint file {hint} of whole records\ngot:      the files \
             {}",
            files(&run.disk)
        ));
    };
    // The layout the stub gives: entries of offset (u64), length (u32) and flag (u8), then a
    // trailer of the segment's length (u64) and the entry count (u64), in either byte order.
    let entry_len = |v: &Option<Vec<u8>>| v.as_ref().map(Vec::len);
    let layout = match records.split_last() {
        Some(((key, Some(trailer)), entries))
            if key.is_empty()
                && trailer.len() == 16
                && entries.iter().all(|(_, v)| entry_len(v) == Some(13)) =>
        {
            [Order::Little, Order::Big]
                .into_iter()
                .find(|order| order.read_u64(trailer) == segment_len)
        }
        _ => None,
    };
    let Some(order) = layout else {
        return fail(format!(
            "did:      {did}\nexpected: {hint} laid out as the stub's comments say: one record \
             per entry whose value is offset (u64), length (u32) and tombstone flag (u8), then a \
             trailer with an empty key whose value is the segment's length ({segment_len}, u64) \
             and the entry count (u64)\ngot:      {} records that are not",
            records.len()
        ));
    };
    let (trailer, entries) = records.split_last().expect("checked above");
    let trailer = trailer.1.clone().expect("checked above");
    let count = order.read_u64(&trailer[8..]);
    let live: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, (_, v))| v.as_ref().is_some_and(|v| v[12] == 0))
        .map(|(i, _)| i)
        .collect();
    if live.is_empty() || count != entries.len() as u64 {
        return fail(format!(
            "did:      {did}\nexpected: {hint} to list the live keys of {segment}, and a trailer \
             counting its {} entries\ngot:      a trailer counting {count}",
            entries.len()
        ));
    }
    let victim = live[live.len() / 2];
    let entry = |i: usize| entries[i].1.clone().expect("an entry has a value");
    let with_trailer = |count: u64| {
        let mut value = trailer.clone();
        value[8..].copy_from_slice(&order.u64(count));
        (Vec::new(), Some(value))
    };
    let moved = |offset: u64, len: u32| {
        let mut value = entry(victim);
        value[..8].copy_from_slice(&order.u64(offset));
        value[8..12].copy_from_slice(&order.u32(len));
        (entries[victim].0.clone(), Some(value))
    };
    let victim_key = show(&entries[victim].0);
    let victim_len = order.read_u32(&entry(victim)[8..12]);
    let mut lies: Vec<(String, Vec<support::Pair>)> = Vec::new();
    // One entry left out, the trailer still counting it.
    let mut fewer: Vec<_> = entries.to_vec();
    fewer.remove(victim);
    fewer.push(with_trailer(count));
    lies.push((
        format!(
            "removed the entry of {victim_key} from {hint}, leaving its trailer's count at \
             {count}"
        ),
        fewer,
    ));
    // Every entry there, the count one off either way.
    for wrong in [count + 1, count - 1] {
        let mut lie: Vec<_> = entries.to_vec();
        lie.push(with_trailer(wrong));
        lies.push((
            format!("changed the entry count in {hint}'s trailer from {count} to {wrong}"),
            lie,
        ));
    }
    // One entry's record reaching past the segment's end, or wrapping around u64.
    let past = segment_len - u64::from(victim_len) + 1;
    let wraps = u64::MAX - 4;
    for (offset, len, why) in [
        (
            past,
            victim_len,
            "ends 1 byte past the segment's end".to_string(),
        ),
        (
            0,
            u32::try_from(segment_len + 1).unwrap_or(u32::MAX),
            "is longer than the segment".to_string(),
        ),
        (
            wraps,
            victim_len,
            "starts at offset u64::MAX - 4 (offset + length overflows u64)".to_string(),
        ),
    ] {
        let mut lie: Vec<_> = entries.to_vec();
        lie[victim] = moved(offset, len);
        lie.push(with_trailer(count));
        lies.push((
            format!(
                "changed the entry of {victim_key} in {hint} to offset {offset}, length {len}, \
                 which {why} ({segment} is {segment_len} bytes)"
            ),
            lie,
        ));
    }
    for (what, lie) in lies {
        let disk = run.disk.fork();
        let dir = disk.dir();
        let bytes: Vec<u8> = lie
            .iter()
            .flat_map(|(k, v)| support::put_record(k, v.as_deref().unwrap_or_default()))
            .collect();
        let write = || -> io::Result<()> {
            dir.remove(&hint)?;
            let file = dir.create(&hint)?;
            file.append(&bytes)?;
            file.sync()?;
            dir.sync()
        };
        write().map_err(|e| Failure::new(format!("the check could not write {hint}: {e}")))?;
        let counter = ReadCounter {
            inner: disk.dir(),
            read: Arc::default(),
        };
        let setup = format!(
            "{did}, closed the store, {what}, every record of the hint checksummed as it should \
             be, and opened it again"
        );
        let store = Store::open_with(
            Arc::new(counter.clone()),
            Options {
                max_segment_bytes: 48,
            },
        )
        .map_err(|e| {
            Failure::new(format!(
                "did:      {setup}\nexpected: the store opens (a bad hint costs time, not data: \
                 scan the segment)\ngot:      an error: {e}"
            ))
        })?;
        let read = counter.bytes_read(&segment);
        expect(
            read >= segment_len,
            format!(
                "did:      {setup}\nexpected: the hint is not trusted, and all {segment_len} \
                 bytes of {segment} are scanned instead\ngot:      open read {read} bytes of \
                 {segment}: it trusted a hint that does not describe its segment"
            ),
        )?;
        compare(&store, &run.model, &setup, "")?;
    }
    Ok(())
}

fn hint_appears_whole(ctx: &mut Ctx) -> CheckResult {
    let setup = [
        Op::Put(b"a".to_vec(), b"0123456789".to_vec()),
        Op::Put(b"b".to_vec(), b"0123456789".to_vec()),
        Op::Delete(b"a".to_vec()),
        Op::Put(b"c".to_vec(), b"0123456789".to_vec()),
        Op::Put(b"d".to_vec(), b"0123456789".to_vec()),
    ];
    // A merge with no crash: how many steps it takes, and the hint it leaves.
    let mut run = Run::new(ctx.seed(), 48)?;
    run.apply_all(&setup)?;
    let start = run.disk.steps();
    run.apply(&Op::Merge)?;
    let steps = run.disk.steps() - start;
    let hint = hint_name(run.merged_id());
    let did = listed(&run.done);
    let Some(whole) = run.disk.contents(&hint) else {
        return fail(format!(
            "did:      {did}\nexpected: a hint file {hint}\ngot:      the files {}",
            files(&run.disk)
        ));
    };
    let view = run.disk.files().into_iter().find(|f| f.name == hint);
    if let Some(view) = view
        && !(view.durable_name && view.durable_len == whole.len() as u64)
    {
        return fail(format!(
            "did:      {did}\nexpected: once merge() returns, {hint} durable, name and all {} \
             bytes\ngot:      {} of its bytes durable, its name {}durable: a crash now would \
             lose the hint{}",
            whole.len(),
            view.durable_len,
            if view.durable_name { "" } else { "not " },
            if view.durable_name {
                ": sync the hint file before renaming it into place"
            } else {
                ": sync the directory after renaming the hint into place"
            }
        ));
    }
    for step in 1..=steps {
        let mut run = Run::new(ctx.seed(), 48)?;
        run.apply_all(&setup)?;
        let start = run.disk.steps();
        run.disk.crash_at_step(start + step);
        let _ = run.store().merge();
        let Some(view) = run.disk.files().into_iter().find(|f| f.name == hint) else {
            continue;
        };
        let durable = view.durable_len;
        let full = run.disk.contents(&hint).as_deref() == Some(&whole[..]);
        if !full || durable != whole.len() as u64 {
            return fail(format!(
                "did:      {did}, with the power failing at the merge's I/O step {step} of \
                 {steps}\nexpected: no file named {hint} yet, or the whole hint ({} bytes), \
                 durable: a crash must leave the whole hint or none\ngot:      {hint} exists \
                 with {} bytes, {durable} of them durable: is the hint written under a \
                 temporary name, synced, and only then renamed into place?",
                whole.len(),
                view.len
            ));
        }
    }
    Ok(())
}

/// The store as the crash driver sees it: small segments, merges as maintenance.
struct Hinted;

const CRASH_SEGMENT_BYTES: u64 = 40;

impl Subject for Hinted {
    type Store = Store;

    fn open(dir: Arc<dyn Dir>) -> io::Result<Store> {
        Store::open_with(
            dir,
            Options {
                max_segment_bytes: CRASH_SEGMENT_BYTES,
            },
        )
    }

    fn apply(store: &mut Store, op: &KvOp) -> io::Result<()> {
        match op {
            KvOp::Put(k, v) => store.put(k, v),
            KvOp::Delete(k) => store.delete(k),
            KvOp::Sync => store.sync(),
            KvOp::Maintain => store.merge(),
            KvOp::Reopen => Ok(()),
        }
    }

    fn get(store: &mut Store, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        store.get(key)
    }
}

fn crash_safe(ctx: &mut Ctx) -> CheckResult {
    let key = prop::sample::select(vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    let put = (key.clone(), value(0..12)).prop_map(|(k, v)| KvOp::Put(k, v));
    let op = prop_oneof![
        4 => put.clone(),
        1 => key.prop_map(KvOp::Delete),
        2 => Just(KvOp::Sync),
        2 => Just(KvOp::Maintain),
        1 => Just(KvOp::Reopen),
    ];
    // Enough puts to fill two segments, then a merge somewhere among the rest.
    let workload = (
        prop::collection::vec(put, 3..=3),
        prop::collection::vec(op, 0..7),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut ops, rest, at)| {
            ops.extend(rest);
            let at = 3 + at.index(ops.len() - 2);
            ops.insert(at, KvOp::Maintain);
            ops
        });
    let probes = [b"never".to_vec()];
    ctx.forall_named(&["ops"], 64, workload, |ops| {
        crash::check::<Hinted>(ctx.seed(), &ops, &probes, Limits::default())
            .map(|_| ())
            .map_err(|failure| Failure::new(failure.message))
    })
}

fn faults_everywhere(ctx: &mut Ctx) -> CheckResult {
    let shape = Shape::MERGES;
    // Enough puts to fill two segments and a merge first, so that a hint file is written.
    let key = prop::sample::select(vec![b"a".to_vec(), b"b".to_vec()]);
    let fill = prop::collection::vec((key, value(1..12)), 3..=3).prop_map(|pairs| {
        let mut ops: Vec<KvOp> = pairs.into_iter().map(|(k, v)| KvOp::Put(k, v)).collect();
        ops.push(KvOp::Maintain);
        ops
    });
    let workload = (fill, support::workload(6, shape)).prop_map(|(mut ops, rest)| {
        ops.extend(rest);
        ops
    });
    let context =
        format!("with segments of {CRASH_SEGMENT_BYTES} bytes (merge() is maintain()):\n");
    support::faults_everywhere::<Hinted>(ctx, &[support::merges()], 3, workload, shape, &context)
}
