//! Hidden checks for bitcask/segments.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::sync::Arc;

use bitcask_segments::{Options, Store, segment_name};
use judge::prelude::*;
use kit::crash::{self, KvOp, Limits, Subject};
use kit::disk::Dir;
use kit::sim::{SimDisk, Stats};

use crate::support::{self, MILLION, NAME_ORDER, Shape};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a record that fits exactly stays in the active segment; the next one starts a new \
             segment",
            exact_fit,
        )
        .check(
            "a record larger than max_segment_bytes is written alone in a segment of its own",
            oversized_record,
        )
        .check(
            "segments stay within max_segment_bytes, and one is closed only when the next record \
             does not fit",
            layout,
        )
        .check(
            "agrees with a map on any puts, deletes, gets and reopens across many segments",
            matches_model,
        )
        .check(
            "a closed segment never changes: later writes and reopens leave its bytes alone",
            closed_segments_are_immutable,
        )
        .check(
            "segment ids only grow: segment_ids() lists the files on disk, oldest first, and a \
             new segment's id is above every older one",
            ids_grow,
        )
        .check(
            "a get costs one read whichever segment holds the key, before and after a reopen",
            get_costs_one_read,
        )
        .check(
            "a sync after rotations leaves every segment durable, names included",
            sync_covers_closed_segments,
        )
        .check(
            "damage inside a closed segment is reported, never skipped",
            damage_in_closed_segment,
        )
        .check(
            "the cut of the newest segment's torn tail is durable before open returns",
            cut_is_synced,
        )
        .check(
            "every synced write survives a crash at any I/O step, rotations included",
            crash_safety,
        )
        .check(
            "segments past id 999,999 are replayed in id order, and the next one is 1,000,001",
            past_a_million,
        )
        .check(
            "a failed write, read, sync, open, create or listing at any step, rotations included, is reported and loses nothing acknowledged",
            faults_everywhere,
        )
}

/// Bytes shown as a byte string, so keys and values read like the code that wrote them.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Bytes(Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

fn show(bytes: &[u8]) -> String {
    format!("{:?}", Bytes(bytes.to_vec()))
}

/// Header bytes of a record: crc32, key length, value length (4 bytes each).
const HEADER_LEN: u64 = 12;

/// How many bytes a record takes in a segment (a tombstone has no value).
fn record_len(key: &[u8], value: Option<&[u8]>) -> u64 {
    HEADER_LEN + key.len() as u64 + value.map_or(0, |v| v.len() as u64)
}

#[derive(Clone)]
enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Get(Vec<u8>),
    Sync,
    Reopen,
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Put(k, v) => write!(f, "put({}, {})", show(k), show(v)),
            Op::Delete(k) => write!(f, "delete({})", show(k)),
            Op::Get(k) => write!(f, "get({})", show(k)),
            Op::Sync => write!(f, "sync()"),
            Op::Reopen => write!(f, "reopen"),
        }
    }
}

/// A few one-letter keys, so puts overwrite, deletes hit and gets find something.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(b"a"), Just(b"b"), Just(b"c"), Just(b"d")].prop_map(|k| k.to_vec())
}

/// A letter repeated 0 to 40 times: values of many sizes that still read well in a message.
fn value() -> impl Strategy<Value = Vec<u8>> {
    (0..=40usize, b'p'..=b'z').prop_map(|(len, letter)| vec![letter; len])
}

fn put_op() -> impl Strategy<Value = Op> {
    (key(), value()).prop_map(|(k, v)| Op::Put(k, v))
}

fn write_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => put_op(),
        1 => key().prop_map(Op::Delete),
    ]
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => put_op(),
        2 => key().prop_map(Op::Delete),
        3 => key().prop_map(Op::Get),
        1 => Just(Op::Sync),
        1 => Just(Op::Reopen),
    ]
}

/// Small segment limits, so that a few records fill a segment (and some records overflow one).
fn max_segment_bytes() -> impl Strategy<Value = u64> {
    prop_oneof![Just(48u64), 24..=96u64]
}

/// Records the calls made so far, to say in a failure exactly what was done.
struct Script {
    calls: Vec<String>,
}

impl Script {
    fn new(max: u64) -> Self {
        Script {
            calls: vec![open_call(max)],
        }
    }

    fn did(&mut self, call: impl Into<String>) -> String {
        self.calls.push(call.into());
        self.calls.join(", ")
    }

    fn so_far(&self) -> String {
        self.calls.join(", ")
    }
}

fn open_call(max: u64) -> String {
    format!("Store::open_with(dir, Options {{ max_segment_bytes: {max} }})")
}

fn options(max: u64) -> Options {
    Options {
        max_segment_bytes: max,
    }
}

/// The segment files on disk, by name, with their contents.
fn segment_files(disk: &SimDisk) -> BTreeMap<String, Vec<u8>> {
    disk.files()
        .into_iter()
        .filter(|f| f.name.ends_with(".log"))
        .map(|f| {
            let contents = disk.contents(&f.name).unwrap_or_default();
            (f.name, contents)
        })
        .collect()
}

/// A store on a simulated disk, driven side by side with a map of what it should hold.
struct Run {
    disk: SimDisk,
    max: u64,
    store: Option<Store>,
    script: Script,
    model: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Run {
    fn new(seed: u64, max: u64) -> Result<Run, Failure> {
        let disk = SimDisk::new(seed);
        let store = Store::open_with(disk.dir(), options(max)).map_err(|e| {
            Failure::new(format!("{} on an empty disk failed: {e}", open_call(max)))
        })?;
        Ok(Run {
            disk,
            max,
            store: Some(store),
            script: Script::new(max),
            model: BTreeMap::new(),
        })
    }

    fn store(&self) -> &Store {
        self.store.as_ref().expect("the store is open")
    }

    /// Does `op` to the store and the model; a get must agree with the model, and a reopen must
    /// bring back every key the model holds.
    fn apply(&mut self, op: &Op) -> CheckResult {
        let did = self.script.did(format!("{op:?}"));
        let store = self.store.as_mut().expect("the store is open");
        match op {
            Op::Put(k, v) => {
                store
                    .put(k, v)
                    .map_err(|e| Failure::new(format!("{did}: the put failed: {e}")))?;
                self.model.insert(k.clone(), v.clone());
            }
            Op::Delete(k) => {
                store
                    .delete(k)
                    .map_err(|e| Failure::new(format!("{did}: the delete failed: {e}")))?;
                self.model.remove(k);
            }
            Op::Get(k) => self.expect_get(k)?,
            Op::Sync => store
                .sync()
                .map_err(|e| Failure::new(format!("{did}: the sync failed: {e}")))?,
            Op::Reopen => {
                drop(self.store.take());
                let store = Store::open_with(self.disk.dir(), options(self.max)).map_err(|e| {
                    Failure::new(format!(
                        "{did}: dropping the store and opening it again failed: {e}"
                    ))
                })?;
                self.store = Some(store);
                let keys: Vec<Vec<u8>> = self.model.keys().cloned().collect();
                for key in keys.iter().chain([&b"never-written".to_vec()]) {
                    self.expect_get(key)?;
                }
            }
        }
        Ok(())
    }

    fn expect_get(&self, key: &[u8]) -> CheckResult {
        let expected = self.model.get(key).map(|v| Bytes(v.clone()));
        let did = format!("{}, then get({})", self.script.so_far(), show(key));
        match self.store().get(key) {
            Ok(got) => expect_eq(
                format!("{did} (segments on disk: {})", self.describe_disk()),
                got.map(Bytes),
                expected,
            ),
            Err(e) => fail(format!(
                "{did}: expected {expected:?}, the get failed: {e}\nsegments on disk: {}",
                self.describe_disk()
            )),
        }
    }

    /// The segment files and their sizes, for failure messages.
    fn describe_disk(&self) -> String {
        describe(&segment_files(&self.disk))
    }

    /// The store's segment ids, checked against the files on disk.
    fn ids(&self) -> Result<Vec<u64>, Failure> {
        let ids = self.store().segment_ids();
        let named: Vec<String> = ids.iter().map(|&id| segment_name(id)).collect();
        let on_disk: Vec<String> = segment_files(&self.disk).into_keys().collect();
        expect(
            ids.windows(2).all(|w| w[0] < w[1]),
            format!(
                "{}: segment_ids() returned {ids:?}; expected ids in ascending order, oldest \
                 first",
                self.script.so_far()
            ),
        )?;
        expect(
            named == on_disk,
            format!(
                "{}: segment_ids() returned {ids:?}, which name {named:?}, but the segment files \
                 on disk are {on_disk:?}",
                self.script.so_far()
            ),
        )?;
        Ok(ids)
    }
}

/// Runs `ops` from an empty store with segments of at most `max` bytes, calling `after` after
/// every op.
fn drive(
    seed: u64,
    max: u64,
    ops: &[Op],
    mut after: impl FnMut(&Run, &Op) -> CheckResult,
) -> CheckResult {
    let mut run = Run::new(seed, max)?;
    for op in ops {
        run.apply(op)?;
        after(&run, op)?;
    }
    Ok(())
}

/// Segment files and their sizes, for messages: `000001.log (45 bytes), 000002.log (0 bytes)`.
fn describe(files: &BTreeMap<String, Vec<u8>>) -> String {
    if files.is_empty() {
        return "none".into();
    }
    files
        .iter()
        .map(|(name, bytes)| format!("{name} ({} bytes)", bytes.len()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn exact_fit(ctx: &mut Ctx) -> CheckResult {
    // Records of 20 bytes (12 of header, a 1-byte key, a 7-byte value); three fill a segment.
    let record = record_len(b"a", Some(b"1234567"));
    let max = 3 * record;
    let mut run = Run::new(ctx.seed(), max)?;
    for key in [b"a", b"b", b"c"] {
        run.apply(&Op::Put(key.to_vec(), b"1234567".to_vec()))?;
    }
    run.ids()?;
    let lens: Vec<u64> = segment_files(&run.disk)
        .values()
        .map(|b| b.len() as u64)
        .collect();
    // A store may start the next segment as soon as one is full: an empty active segment is fine.
    expect(
        lens == [max] || lens == [max, 0],
        format!(
            "{}: three records of {record} bytes fill a segment of {max} bytes exactly; expected \
             them all in the first segment, found {}",
            run.script.so_far(),
            run.describe_disk()
        ),
    )?;
    run.apply(&Op::Put(b"d".to_vec(), b"1234567".to_vec()))?;
    run.ids()?;
    let lens: Vec<u64> = segment_files(&run.disk)
        .values()
        .map(|b| b.len() as u64)
        .collect();
    expect(
        lens == [max, record],
        format!(
            "{}: a fourth record does not fit the full segment; expected two segments of {max} \
             and {record} bytes, found {}",
            run.script.so_far(),
            run.describe_disk()
        ),
    )?;
    for key in [b"a", b"b", b"c", b"d"] {
        run.apply(&Op::Get(key.to_vec()))?;
    }
    Ok(())
}

fn oversized_record(ctx: &mut Ctx) -> CheckResult {
    let max = 48;
    let big = vec![b'B'; 100];
    let mut run = Run::new(ctx.seed(), max)?;
    run.apply(&Op::Put(b"small".to_vec(), b"s".to_vec()))?;
    run.apply(&Op::Put(b"big".to_vec(), big.clone()))?;
    run.apply(&Op::Put(b"after".to_vec(), b"t".to_vec()))?;
    let expected = vec![
        record_len(b"small", Some(b"s")),
        record_len(b"big", Some(&big)),
        record_len(b"after", Some(b"t")),
    ];
    let lens: Vec<u64> = segment_files(&run.disk)
        .values()
        .map(|b| b.len() as u64)
        .collect();
    expect(
        lens == expected,
        format!(
            "{}: the record of b\"big\" takes {} bytes, more than a segment may hold; expected \
             three segments of {expected:?} bytes (the big record alone in the middle one), \
             found {}",
            run.script.so_far(),
            expected[1],
            run.describe_disk()
        ),
    )?;
    run.ids()?;
    for key in [&b"small"[..], b"big", b"after"] {
        run.apply(&Op::Get(key.to_vec()))?;
    }
    run.apply(&Op::Reopen)
}

/// Where each record went, by segment id: the sizes of the records it holds, in order.
type Layout = BTreeMap<u64, Vec<u64>>;

fn layout(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (
        max_segment_bytes(),
        prop::collection::vec(write_op(), 1..30),
    );
    ctx.forall_named(&["max", "ops"], 128, input, |(max, ops)| {
        let mut run = Run::new(seed, max)?;
        let mut layout = Layout::new();
        for op in &ops {
            let appends = match op {
                Op::Put(k, v) => Some(record_len(k, Some(v))),
                Op::Delete(k) => run.model.contains_key(k).then(|| record_len(k, None)),
                _ => None,
            };
            let before = segment_files(&run.disk);
            let active_before = *run.ids()?.last().expect("there is a segment");
            run.apply(op)?;
            let ids = run.ids()?;
            let after = segment_files(&run.disk);
            let so_far = run.script.so_far();

            // Which segment grew, and by how much.
            let grown: Vec<(u64, u64)> = ids
                .iter()
                .filter_map(|&id| {
                    let name = segment_name(id);
                    let old = before.get(&name).map_or(0, Vec::len) as u64;
                    let new = after[&name].len() as u64;
                    (new != old).then(|| (id, new.wrapping_sub(old)))
                })
                .collect();
            match appends {
                None => expect(
                    grown.is_empty(),
                    format!(
                        "{so_far}: the last op writes no record, yet segments changed size: \
                         {} became {}",
                        describe(&before),
                        run.describe_disk()
                    ),
                )?,
                Some(len) => {
                    let active = match grown[..] {
                        [(id, grew)] if grew == len && id >= active_before => id,
                        _ => {
                            return fail(format!(
                                "{so_far}: the last op appends one record of {len} bytes, which \
                                 belongs at the end of the active segment ({} before the op, or \
                                 a new one); the segments went from {} to {}",
                                segment_name(active_before),
                                describe(&before),
                                run.describe_disk()
                            ));
                        }
                    };
                    layout.entry(active).or_default().push(len);
                }
            }

            for (i, &id) in ids.iter().enumerate() {
                let records = layout.get(&id).map_or(&[][..], Vec::as_slice);
                let total: u64 = records.iter().sum();
                let name = segment_name(id);
                expect(
                    total <= max || records.len() == 1,
                    format!(
                        "{so_far}: {name} holds records of {records:?} bytes, {total} in all, \
                         more than max_segment_bytes = {max} (only a single record may be \
                         larger than a segment)"
                    ),
                )?;
                let Some(&next) = ids.get(i + 1) else {
                    continue;
                };
                expect(
                    !records.is_empty(),
                    format!(
                        "{so_far}: {name} was closed empty (the next segment is {}); a segment is \
                         only closed when a record does not fit in it",
                        segment_name(next)
                    ),
                )?;
                if let Some(&first) = layout.get(&next).and_then(|r| r.first()) {
                    expect(
                        total + first > max,
                        format!(
                            "{so_far}: {name} was closed holding {total} bytes, but the next \
                             record, of {first} bytes, would have fit in it (max_segment_bytes = \
                             {max}): a segment is closed only when the next record does not fit"
                        ),
                    )?;
                }
            }
        }
        Ok(())
    })
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (max_segment_bytes(), prop::collection::vec(any_op(), 1..30));
    ctx.forall_named(&["max", "ops"], 128, input, |(max, ops)| {
        drive(seed, max, &ops, |_, _| Ok(()))
    })
}

fn closed_segments_are_immutable(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (max_segment_bytes(), prop::collection::vec(any_op(), 1..30));
    ctx.forall_named(&["max", "ops"], 128, input, |(max, ops)| {
        // Each closed segment's bytes, as they were when it was first seen closed.
        let mut closed: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        drive(seed, max, &ops, |run, _| {
            let ids = run.ids()?;
            let files = segment_files(&run.disk);
            for (&id, bytes) in &closed {
                let name = segment_name(id);
                match files.get(&name) {
                    None => fail(format!(
                        "{}: {name} was closed holding {} bytes, and now it is gone",
                        run.script.so_far(),
                        bytes.len()
                    ))?,
                    Some(now) => expect(
                        now == bytes,
                        format!(
                            "{}: {name} was closed holding {} bytes; it has changed since, and \
                             now holds {} bytes{}",
                            run.script.so_far(),
                            bytes.len(),
                            now.len(),
                            if now.starts_with(bytes) {
                                " (something was appended to it)"
                            } else {
                                " (its old bytes were rewritten or cut)"
                            }
                        ),
                    )?,
                }
            }
            for &id in &ids[..ids.len().saturating_sub(1)] {
                closed
                    .entry(id)
                    .or_insert_with(|| files[&segment_name(id)].clone());
            }
            Ok(())
        })
    })
}

fn ids_grow(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (max_segment_bytes(), prop::collection::vec(any_op(), 1..30));
    ctx.forall_named(&["max", "ops"], 128, input, |(max, ops)| {
        let mut seen: BTreeSet<u64> = BTreeSet::new();
        drive(seed, max, &ops, |run, _| {
            let ids = run.ids()?;
            expect(
                !ids.is_empty(),
                format!(
                    "{}: segment_ids() is empty; there is always an active segment",
                    run.script.so_far()
                ),
            )?;
            let now: BTreeSet<u64> = ids.iter().copied().collect();
            let gone: Vec<u64> = seen.difference(&now).copied().collect();
            expect(
                gone.is_empty(),
                format!(
                    "{}: segment_ids() returned {ids:?}; segments {gone:?} disappeared (only a \
                     merge may remove a segment, and there is none yet)",
                    run.script.so_far()
                ),
            )?;
            if let Some(&newest_before) = seen.last() {
                let low: Vec<u64> = now
                    .difference(&seen)
                    .copied()
                    .filter(|&id| id < newest_before)
                    .collect();
                expect(
                    low.is_empty(),
                    format!(
                        "{}: segment_ids() returned {ids:?}; new segments {low:?} have ids below \
                         the older segment {newest_before}: a new segment's id is above every \
                         older one, so that replaying in id order replays in write order",
                        run.script.so_far()
                    ),
                )?;
            }
            seen.extend(now);
            Ok(())
        })
    })
}

/// The disk work of one call, as the check reports it.
fn cost(stats: Stats) -> String {
    format!(
        "{} read(s) of {} byte(s), {} write(s), {} sync(s)",
        stats.reads, stats.bytes_read, stats.writes, stats.syncs
    )
}

fn get_costs_one_read(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (max_segment_bytes(), prop::collection::vec(put_op(), 3..16));
    ctx.forall_named(&["max", "puts"], 64, input, |(max, puts)| {
        let mut run = Run::new(seed, max)?;
        for op in &puts {
            run.apply(op)?;
        }
        for round in 0..2 {
            if round == 1 {
                run.apply(&Op::Reopen)?;
            }
            for key in [&b"a"[..], b"b", b"c", b"d", b"never-written"] {
                let value = run.model.get(key).cloned();
                run.disk.reset_stats();
                run.expect_get(key)?;
                let stats = run.disk.stats();
                let expected = match &value {
                    Some(v) => Stats {
                        reads: 1,
                        bytes_read: record_len(key, Some(v)),
                        ..Stats::default()
                    },
                    None => Stats::default(),
                };
                expect(
                    stats == expected,
                    format!(
                        "{}, then get({}): the segments on disk are {}; expected the get to cost \
                         {}, it cost {}",
                        run.script.so_far(),
                        show(key),
                        run.describe_disk(),
                        cost(expected),
                        cost(stats)
                    ),
                )?;
            }
        }
        Ok(())
    })
}

fn sync_covers_closed_segments(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (max_segment_bytes(), prop::collection::vec(put_op(), 1..12));
    ctx.forall_named(&["max", "puts"], 64, input, |(max, puts)| {
        let mut run = Run::new(seed, max)?;
        for op in &puts {
            run.apply(op)?;
        }
        run.apply(&Op::Sync)?;
        let files = run.disk.files();
        let not_durable: Vec<String> = files
            .iter()
            .filter(|f| f.name.ends_with(".log"))
            .filter(|f| f.durable_len != f.len || !f.durable_name)
            .map(|f| {
                if f.durable_name {
                    format!(
                        "{} ({} of its {} bytes durable)",
                        f.name, f.durable_len, f.len
                    )
                } else {
                    format!("{} (its name is not durable)", f.name)
                }
            })
            .collect();
        expect(
            not_durable.is_empty(),
            format!(
                "{}: once sync() returns, a crash must lose nothing; but a crash now would lose \
                 part of {}. (A closed segment is never synced again: sync it as it is closed.)",
                run.script.so_far(),
                not_durable.join(", ")
            ),
        )
    })
}

fn damage_in_closed_segment(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    // Ten distinct keys, ten bytes of value: 24-byte records, four to a segment of 100 bytes.
    let max = 100;
    ctx.forall_named(&["offset", "flip"], 32, (0..96u64, 1..=255u8), |(offset, flip)| {
        let mut run = Run::new(seed, max)?;
        for i in 0..10 {
            run.apply(&Op::Put(format!("k{i}").into_bytes(), vec![b'v'; 10]))?;
        }
        run.apply(&Op::Sync)?;
        let ids = run.ids()?;
        drop(run.store.take());
        let oldest = segment_name(ids[0]);
        let len = run.disk.contents(&oldest).map_or(0, |c| c.len() as u64);
        expect(
            ids.len() >= 3 && len == 96,
            format!(
                "{}: ten records of 24 bytes with max_segment_bytes = {max} should fill segments \
                 of 96, 96 and 48 bytes; found {}",
                run.script.so_far(),
                run.describe_disk()
            ),
        )?;
        let old = run.disk.contents(&oldest).expect("checked")[offset as usize];
        run.disk
            .corrupt(&oldest, offset, &[old ^ flip])
            .expect("the segment exists");
        let did = run.script.did(format!(
            "drop the store, the disk rots: byte {offset} of {oldest} (a closed segment) \
             changes from {old:#04x} to {:#04x}, {}",
            old ^ flip,
            open_call(max)
        ));
        // Reporting the damage (open fails) is right; so is a store that serves every value
        // it still can and fails the gets it cannot. Serving a wrong value, or None for a key
        // that was put, is not.
        let Ok(store) = Store::open_with(run.disk.dir(), options(max)) else {
            return Ok(());
        };
        for i in 0..10 {
            let key = format!("k{i}").into_bytes();
            if let Ok(got) = store.get(&key) {
                expect(
                    got.as_deref() == Some(&[b'v'; 10][..]),
                    format!(
                        "{did}: the open succeeded, and get({}) returned {:?}; expected \
                         Some(b\"vvvvvvvvvv\") or an error. A bad record in a segment that is \
                         not the newest is damage, not a torn write: skipping it would lose or \
                         resurrect data",
                        show(&key),
                        got.map(Bytes)
                    ),
                )?;
            }
        }
        Ok(())
    })
}

fn cut_is_synced(ctx: &mut Ctx) -> CheckResult {
    let max = 64;
    let mut run = Run::new(ctx.seed(), max)?;
    for key in [&b"a"[..], b"b", b"c"] {
        run.apply(&Op::Put(key.to_vec(), b"0123456789".to_vec()))?;
    }
    run.apply(&Op::Sync)?;
    let ids = run.ids()?;
    drop(run.store.take());
    let newest = segment_name(*ids.last().expect("there is always a segment"));
    let good = run.disk.contents(&newest).map_or(0, |c| c.len() as u64);
    // Half a record, durable: a crash wrote it out, and a later run must not trip on it.
    let torn = [0x55u8; 9];
    let file = run.disk.dir().open(&newest).and_then(|file| {
        file.append(&torn)?;
        file.sync()?;
        Ok(file)
    });
    file.map_err(|e| Failure::new(format!("writing a torn tail failed: {e}")))?;
    let did = run.script.did(format!(
        "drop the store; {} bytes of a torn record after the {good} of {newest} (the newest \
         segment), durable; {}",
        torn.len(),
        open_call(max)
    ));
    ctx.doing(&did);
    let store = Store::open_with(run.disk.dir(), options(max))
        .map_err(|e| Failure::new(format!("did:      {did}\ngot:      Err({e})")))?;
    let Some(view) = run.disk.files().into_iter().find(|f| f.name == newest) else {
        return fail(format!("did:      {did}\ngot:      {newest} is gone"));
    };
    expect_eq(format!("{did}: the length of {newest}"), view.len, good)?;
    expect(
        view.durable_len == good,
        format!(
            "did:      {did}\nexpected: open to cut {newest} to {good} bytes and sync the cut \
             before returning\ngot:      {newest} is {good} bytes, but only as far as the cache \
             knows: a crash now would bring back {} bytes, torn tail and all, and new records \
             would land after it",
            view.durable_len
        ),
    )?;
    drop(store);
    Ok(())
}

/// The crash driver's view of the store: segments of at most [`CRASH_MAX`] bytes.
struct Segmented;

const CRASH_MAX: u64 = 64;

impl Subject for Segmented {
    type Store = Store;

    fn open(dir: Arc<dyn Dir>) -> io::Result<Store> {
        Store::open_with(dir, options(CRASH_MAX))
    }

    fn apply(store: &mut Store, op: &KvOp) -> io::Result<()> {
        match op {
            KvOp::Put(k, v) => store.put(k, v),
            KvOp::Delete(k) => store.delete(k),
            KvOp::Sync => store.sync(),
            KvOp::Maintain | KvOp::Reopen => Ok(()),
        }
    }

    fn get(store: &mut Store, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        store.get(key)
    }
}

fn crash_safety(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let op = prop_oneof![
        4 => (key(), value()).prop_map(|(k, v)| KvOp::Put(k, v)),
        1 => key().prop_map(KvOp::Delete),
        2 => Just(KvOp::Sync),
        1 => Just(KvOp::Reopen),
    ];
    let probes = [b"never".to_vec()];
    ctx.forall_named(&["ops"], 48, prop::collection::vec(op, 1..12), |ops| {
        crash::check::<Segmented>(seed, &ops, &probes, Limits::default())
            .map(|_| ())
            .map_err(|failure| {
                Failure::new(format!(
                    "with max_segment_bytes = {CRASH_MAX}: {}",
                    failure.message
                ))
            })
    })
}

fn past_a_million(ctx: &mut Ctx) -> CheckResult {
    let disk = support::million_disk(ctx.seed(), segment_name)
        .map_err(|e| Failure::new(format!("setting up the disk failed: {e}")))?;
    ctx.doing(MILLION);
    let mut store = Store::open_with(disk.dir(), options(64))
        .map_err(|e| Failure::new(format!("did:      {MILLION}\ngot:      Err({e})")))?;
    for (key, value) in [(&b"k"[..], &b"new"[..]), (b"j", b"kept")] {
        let got = store.get(key).map_err(|e| e.to_string());
        let shown = match &got {
            Ok(Some(bytes)) => format!("Ok(Some({}))", show(bytes)),
            Ok(None) => "Ok(None)".into(),
            Err(e) => format!("Err({e})"),
        };
        expect(
            got == Ok(Some(value.to_vec())),
            format!(
                "did:      {MILLION}, get({})\nexpected: Ok(Some({}))\ngot:      {shown}{}",
                show(key),
                show(value),
                if got == Ok(Some(b"old".to_vec())) {
                    format!(": {NAME_ORDER}")
                } else {
                    String::new()
                }
            ),
        )?;
    }
    let did = format!("{MILLION}, put(\"x\", [b'x'; 80]) (segments of 64 bytes)");
    store
        .put(b"x", &[b'x'; 80])
        .map_err(|e| Failure::new(format!("did:      {did}\ngot:      Err({e})")))?;
    let ids = store.segment_ids();
    expect(
        ids.last() == Some(&1_000_001) && ids.contains(&1_000_000),
        format!(
            "did:      {did}, segment_ids()\nexpected: ending in 1000000, 1000001 (the next id \
             after the highest)\ngot:      {ids:?}"
        ),
    )
}

fn faults_everywhere(ctx: &mut Ctx) -> CheckResult {
    let shape = Shape::SEGMENTED;
    support::faults_everywhere::<Segmented>(
        ctx,
        &[support::rotations(), support::failed_rotation()],
        3,
        support::workload(7, shape),
        shape,
        &format!("with max_segment_bytes = {CRASH_MAX}:\n"),
    )
}
