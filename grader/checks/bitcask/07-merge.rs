//! Hidden checks for bitcask/merge.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::Arc;

use bitcask_merge::{Options, Store, segment_name};
use judge::prelude::*;
use kit::crash::{self, KvOp, Limits, show};
use kit::disk::Dir;
use kit::sim::{Profile, SimDisk};

use crate::support::{self, NameJournal, Shape};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "after a merge every key reads back its latest value, deleted keys stay deleted",
            merge_keeps_values,
        )
        .check(
            "a merge leaves two segments: the merged one and the active one",
            merge_leaves_two_segments,
        )
        .check(
            "agrees with a BTreeMap on any mix of puts, deletes, merges and reopens",
            matches_model,
        )
        .check(
            "after a merge the old segments hold at most one record per key",
            merge_reclaims_space,
        )
        .check(
            "a second merge drops the tombstones the first one had to keep",
            second_merge_drops_tombstones,
        )
        .check(
            "a merge drops a tombstone whose key has a newer value in the active segment",
            tombstone_of_live_key_dropped,
        )
        .check(
            "a leftover .merge file is removed on open, and the segments are left alone",
            leftover_merge_file,
        )
        .check(
            "a merge cut short at any step reopens to the same contents, and can merge again",
            merge_cut_short,
        )
        .check(
            "a crash at any step of a merge loses nothing: the classic hazards",
            crash_hazards,
        )
        .check(
            "a crash at any step of a merge loses nothing, whichever unsynced renames and removals survive it",
            crash_keeps_any_names,
        )
        .check(
            "a crash at any I/O step of puts, deletes, syncs and merges keeps every synced write",
            crash_anywhere,
        )
        .check(
            "segments past id 999,999 are replayed in id order",
            past_a_million,
        )
        .check(
            "a failed write, read, sync, rename or removal at any step of puts and merges is reported and loses nothing acknowledged",
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

fn bytes(b: &[u8]) -> Bytes {
    Bytes(b.to_vec())
}

/// Header bytes of a record: crc32, key length, value length (4 bytes each).
const HEADER_LEN: u64 = 12;

/// How many bytes the record of a put takes in a segment.
fn record_len(key: &[u8], value: &[u8]) -> u64 {
    HEADER_LEN + key.len() as u64 + value.len() as u64
}

/// How many bytes a tombstone of `key` takes.
fn tombstone_len(key: &[u8]) -> u64 {
    HEADER_LEN + key.len() as u64
}

/// Segments of at most `max` bytes; 1 puts every record in a segment of its own.
fn options(max: u64) -> Options {
    Options {
        max_segment_bytes: max,
    }
}

fn describe_max(max: u64) -> String {
    if max == 1 {
        "max_segment_bytes = 1 (every record in a segment of its own)".into()
    } else {
        format!("max_segment_bytes = {max}")
    }
}

/// A step the checks take against the store.
#[derive(Clone)]
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

/// Records the calls made so far, to say in a failure exactly what was done.
struct Script {
    calls: Vec<String>,
}

impl Script {
    fn new(max: u64) -> Self {
        Script {
            calls: vec![format!("Store::open_with(dir, {})", describe_max(max))],
        }
    }

    fn did(&mut self, call: impl Into<String>) -> String {
        self.calls.push(call.into());
        self.so_far()
    }

    fn so_far(&self) -> String {
        self.calls.join(", ")
    }
}

/// A store under test, with the disk under it, the model it must agree with, and what was done.
struct Run {
    disk: SimDisk,
    max: u64,
    store: Option<Store>,
    model: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Every key ever written, so deleted ones are read back too.
    keys: Vec<Vec<u8>>,
    script: Script,
}

impl Run {
    fn start(seed: u64, max: u64) -> Result<Run, Failure> {
        let disk = SimDisk::new(seed);
        let store = Store::open_with(disk.dir(), options(max)).map_err(|e| {
            Failure::new(format!(
                "Store::open_with(dir, {}) on an empty disk failed: {e}",
                describe_max(max)
            ))
        })?;
        Ok(Run {
            disk,
            max,
            store: Some(store),
            model: BTreeMap::new(),
            keys: Vec::new(),
            script: Script::new(max),
        })
    }

    fn store(&mut self) -> &mut Store {
        self.store.as_mut().expect("the store is open")
    }

    fn apply(&mut self, op: &Op) -> CheckResult {
        let did = self.script.did(format!("{op:?}"));
        let result = match op {
            Op::Put(k, v) => {
                self.model.insert(k.clone(), v.clone());
                self.remember(k);
                self.store().put(k, v)
            }
            Op::Delete(k) => {
                self.model.remove(k);
                self.remember(k);
                self.store().delete(k)
            }
            Op::Merge => self.store().merge(),
            Op::Reopen => {
                drop(self.store.take());
                Store::open_with(self.disk.dir(), options(self.max)).map(|s| {
                    self.store = Some(s);
                })
            }
        };
        result.map_err(|e| Failure::new(format!("{did}: the last call failed: {e}")))
    }

    fn remember(&mut self, key: &[u8]) {
        if !self.keys.iter().any(|k| k == key) {
            self.keys.push(key.to_vec());
        }
    }

    /// Reads back every key ever written and compares with the model.
    fn verify(&mut self) -> CheckResult {
        for key in self.keys.clone() {
            let expected = self.model.get(&key).map(|v| bytes(v));
            let did = format!("{}, get({})", self.script.so_far(), show(&key));
            match self.store().get(&key) {
                Ok(got) => expect_eq(&did, got.map(Bytes), expected)?,
                Err(e) => {
                    return fail(format!("{did}: expected {expected:?}, the get failed: {e}"));
                }
            }
        }
        Ok(())
    }

    /// The segment files on disk other than the active one, with their sizes; and anything on
    /// disk that is not a segment of the store.
    fn old_files(&mut self) -> (Vec<(String, u64)>, Vec<String>) {
        let ids = self.store().segment_ids();
        let active = ids.last().map(|&id| segment_name(id));
        let mut old = Vec::new();
        let mut strays = Vec::new();
        for file in self.disk.files() {
            if Some(&file.name) == active.as_ref() {
                continue;
            }
            if ids.iter().any(|&id| segment_name(id) == file.name) {
                old.push((file.name, file.len));
            } else {
                strays.push(file.name);
            }
        }
        (old, strays)
    }

    /// What the files on disk are, for failure messages.
    fn listing(&self) -> String {
        let files: Vec<String> = self
            .disk
            .files()
            .iter()
            .map(|f| format!("{} ({} bytes)", f.name, f.len))
            .collect();
        format!("the disk holds {}", files.join(", "))
    }
}

fn merge_keeps_values(ctx: &mut Ctx) -> CheckResult {
    for max in [1, 64] {
        let mut run = Run::start(ctx.seed(), max)?;
        for op in [
            Op::Put(b"apple".to_vec(), b"red".to_vec()),
            Op::Put(b"banana".to_vec(), b"yellow".to_vec()),
            Op::Put(b"apple".to_vec(), b"green".to_vec()),
            Op::Put(b"cherry".to_vec(), b"dark red".to_vec()),
            Op::Delete(b"banana".to_vec()),
            Op::Put(b"date".to_vec(), b"brown".to_vec()),
            Op::Put(b"cherry".to_vec(), b"black".to_vec()),
            Op::Merge,
        ] {
            run.apply(&op)?;
        }
        run.verify()?;
        for op in [
            Op::Put(b"banana".to_vec(), b"back again".to_vec()),
            Op::Delete(b"apple".to_vec()),
            Op::Merge,
        ] {
            run.apply(&op)?;
            run.verify()?;
        }
        run.apply(&Op::Reopen)?;
        run.verify()?;
    }
    Ok(())
}

fn merge_leaves_two_segments(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::start(ctx.seed(), 1)?;
    for version in 0..100 {
        let value = format!("version {version}");
        run.model
            .insert(b"hot".to_vec(), value.clone().into_bytes());
        run.store().put(b"hot", value.as_bytes()).map_err(|e| {
            Failure::new(format!(
                "{}, then put(\"hot\", {value:?}): the put failed: {e}",
                run.script.so_far()
            ))
        })?;
    }
    run.remember(b"hot");
    run.script
        .did("100 puts of \"hot\": \"version 0\" to \"version 99\"");
    run.apply(&Op::Put(b"cold".to_vec(), b"ice".to_vec()))?;
    run.apply(&Op::Merge)?;
    run.verify()?;

    let ids = run.store().segment_ids();
    let on_disk: Vec<String> = run.disk.files().into_iter().map(|f| f.name).collect();
    let expected_bytes = record_len(b"hot", b"version 99") + record_len(b"cold", b"ice");
    let total: u64 = run.disk.files().iter().map(|f| f.len).sum();
    let did = run.script.so_far();
    expect(
        ids.len() == 2 && on_disk.len() == 2,
        format!(
            "{did}: expected two segments, the merged one (holding \"hot\") and the active one \
             (holding \"cold\"); segment_ids() is {ids:?} and {}",
            run.listing()
        ),
    )?;
    expect(
        total == expected_bytes,
        format!(
            "{did}: expected the segments to hold {expected_bytes} bytes, one record of \"hot\" \
             ({}) and one of \"cold\" ({}); {}",
            record_len(b"hot", b"version 99"),
            record_len(b"cold", b"ice"),
            run.listing()
        ),
    )?;
    let reported = run
        .store()
        .disk_bytes()
        .map_err(|e| Failure::new(format!("{did}, disk_bytes(): failed: {e}")))?;
    expect_eq(format!("{did}, disk_bytes()"), reported, expected_bytes)?;

    // The key directory points into the merged segment: a get is still one read.
    for (key, value) in [(&b"hot"[..], &b"version 99"[..]), (b"cold", b"ice")] {
        run.disk.reset_stats();
        let got = run.store().get(key);
        let stats = run.disk.stats();
        let did = format!("{did}, get({})", show(key));
        match got {
            Ok(got) => expect_eq(&did, got.map(Bytes), Some(bytes(value)))?,
            Err(e) => return fail(format!("{did}: the get failed: {e}")),
        }
        expect(
            stats.reads == 1 && stats.bytes_read == record_len(key, value),
            format!(
                "{did}: expected one read of {} bytes (the record), it cost {} read(s) of {} \
                 byte(s)",
                record_len(key, value),
                stats.reads,
                stats.bytes_read
            ),
        )?;
    }
    Ok(())
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(b"a"), Just(b"b"), Just(b"c"), Just(b"d")].prop_map(|k| k.to_vec())
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop_oneof![Just(&b"1"[..]), Just(&b"2"[..]), Just(&b""[..])].prop_map(<[u8]>::to_vec),
        prop::collection::vec(any::<u8>(), 0..30),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (key(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => key().prop_map(Op::Delete),
        2 => Just(Op::Merge),
        1 => Just(Op::Reopen),
    ]
}

fn max_segment_bytes() -> impl Strategy<Value = u64> {
    prop_oneof![Just(1u64), Just(48), Just(120)]
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (max_segment_bytes(), prop::collection::vec(op(), 1..30));
    ctx.forall_named(&["max", "ops"], 128, input, |(max, ops)| {
        let mut run = Run::start(seed, max)?;
        for op in &ops {
            run.apply(op)?;
            run.verify()?;
        }
        Ok(())
    })
}

fn merge_reclaims_space(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (max_segment_bytes(), prop::collection::vec(op(), 1..30));
    ctx.forall_named(&["max", "ops"], 128, input, |(max, ops)| {
        let mut run = Run::start(seed, max)?;
        for op in &ops {
            run.apply(op)?;
            if !matches!(op, Op::Merge) {
                continue;
            }
            // At most: the latest value of every live key, and one tombstone of every key
            // that is gone (a tombstone may still shadow an older value, for a while).
            let live: u64 = run.model.iter().map(|(k, v)| record_len(k, v)).sum();
            let gone: u64 = run
                .keys
                .iter()
                .filter(|k| !run.model.contains_key(*k))
                .map(|k| tombstone_len(k))
                .sum();
            let (old, strays) = run.old_files();
            let held: u64 = old.iter().map(|(_, len)| len).sum();
            let did = run.script.so_far();
            expect(
                strays.is_empty(),
                format!(
                    "{did}: after the merge returned, the disk still holds {strays:?}, which is \
                     not one of the store's segments {:?}; {}",
                    run.store().segment_ids(),
                    run.listing()
                ),
            )?;
            let each: Vec<String> = run
                .model
                .iter()
                .map(|(k, v)| format!("{} {}", show(k), record_len(k, v)))
                .chain(
                    run.keys
                        .iter()
                        .filter(|k| !run.model.contains_key(*k))
                        .map(|k| format!("tombstone of {} {}", show(k), tombstone_len(k))),
                )
                .collect();
            let holding: Vec<String> = old
                .iter()
                .map(|(name, _)| {
                    let records = run
                        .disk
                        .contents(name)
                        .and_then(|bytes| support::decode_records(&bytes))
                        .map_or_else(
                            || "bytes that are not whole records".to_string(),
                            |records| {
                                records
                                    .iter()
                                    .map(|(k, v)| match v {
                                        Some(v) => format!("put({}, {})", show(k), show(v)),
                                        None => format!("tombstone({})", show(k)),
                                    })
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            },
                        );
                    format!("{name}: {records}")
                })
                .collect();
            let now: Vec<String> = run
                .model
                .iter()
                .map(|(k, v)| format!("{} = {}", show(k), show(v)))
                .collect();
            expect(
                held <= live + gone,
                format!(
                    "{did}: after the merge the segments other than the active one hold {held} \
                     bytes, more than one record per key could take (even if every live key's \
                     latest value and a tombstone of every deleted key were among them, that is \
                     {} bytes: {})\nthey hold: {}\nthe store holds: {} (a value the active \
                     segment replaced is dead, and a tombstone is kept only while an older value \
                     may remain for it to shadow)",
                    live + gone,
                    each.join(", "),
                    holding.join("; "),
                    if now.is_empty() {
                        "nothing".to_string()
                    } else {
                        now.join(", ")
                    }
                ),
            )?;
        }
        Ok(())
    })
}

fn second_merge_drops_tombstones(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::start(ctx.seed(), 1)?;
    for op in [
        Op::Put(b"a".to_vec(), b"apple".to_vec()),
        Op::Put(b"b".to_vec(), b"banana".to_vec()),
        Op::Delete(b"a".to_vec()),
        Op::Put(b"c".to_vec(), b"cherry".to_vec()),
        Op::Merge,
    ] {
        run.apply(&op)?;
    }
    run.verify()?;
    run.apply(&Op::Merge)?;
    run.verify()?;
    let total: u64 = run.disk.files().iter().map(|f| f.len).sum();
    let expected = record_len(b"b", b"banana") + record_len(b"c", b"cherry");
    expect(
        total == expected,
        format!(
            "{}: expected the segments to hold only the live values of \"b\" ({} bytes) and \
             \"c\" ({} bytes), {expected} in all: after the first merge removed the segment \
             holding \"apple\", the tombstone of \"a\" shadows nothing and the second merge \
             can drop it; {}",
            run.script.so_far(),
            record_len(b"b", b"banana"),
            record_len(b"c", b"cherry"),
            run.listing()
        ),
    )
}

fn tombstone_of_live_key_dropped(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::start(ctx.seed(), 1)?;
    for op in [
        Op::Put(b"b".to_vec(), b"banana".to_vec()),
        Op::Put(b"a".to_vec(), b"apple".to_vec()),
        Op::Delete(b"a".to_vec()),
        Op::Put(b"a".to_vec(), b"avocado".to_vec()),
        Op::Merge,
    ] {
        run.apply(&op)?;
    }
    run.verify()?;
    let (old, _) = run.old_files();
    let held: u64 = old.iter().map(|(_, len)| len).sum();
    let expected = record_len(b"b", b"banana");
    expect(
        held == expected,
        format!(
            "{}: expected the merged segment to hold only put(\"b\", \"banana\") ({expected} \
             bytes): the tombstone of \"a\" shadows \"apple\", but \"avocado\" in the active \
             segment is newer than both, so the tombstone has nothing left to do; the segments \
             other than the active one hold {held} bytes ({old:?})",
            run.script.so_far()
        ),
    )?;
    run.apply(&Op::Reopen)?;
    run.verify()
}

fn leftover_merge_file(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::start(ctx.seed(), 1)?;
    for op in [
        Op::Put(b"a".to_vec(), b"1".to_vec()),
        Op::Put(b"b".to_vec(), b"2".to_vec()),
        Op::Put(b"a".to_vec(), b"3".to_vec()),
        Op::Delete(b"b".to_vec()),
        Op::Put(b"c".to_vec(), b"4".to_vec()),
    ] {
        run.apply(&op)?;
    }
    let did = run.script.did("sync()");
    run.store()
        .sync()
        .map_err(|e| Failure::new(format!("{did}: the sync failed: {e}")))?;
    drop(run.store.take());
    run.script.did("drop the store");

    // What an unfinished merge leaves: a half-written file, durable, under a merge name.
    let before: Vec<(String, Option<Vec<u8>>)> = run
        .disk
        .files()
        .into_iter()
        .map(|f| (f.name.clone(), run.disk.contents(&f.name)))
        .collect();
    let dir = run.disk.dir();
    for name in ["000004.merge", "000002.merge"] {
        let file = dir
            .create(name)
            .and_then(|file| {
                file.append(&[0xAB; 40])?;
                file.sync()?;
                Ok(file)
            })
            .map_err(|e| Failure::new(format!("the check could not write {name}: {e}")))?;
        drop(file);
    }
    dir.sync()
        .map_err(|e| Failure::new(format!("the check could not sync the directory: {e}")))?;
    run.script.did(
        "write 40 bytes of garbage to 000004.merge and to 000002.merge, as a merge cut short \
         would leave them",
    );
    run.apply(&Op::Reopen)?;
    let did = run.script.so_far();
    let names: Vec<String> = run.disk.files().into_iter().map(|f| f.name).collect();
    expect(
        names.iter().all(|n| !n.ends_with(".merge")),
        format!(
            "{did}: expected the .merge files to be removed on open; {}",
            run.listing()
        ),
    )?;
    for (name, contents) in &before {
        expect(
            run.disk.contents(name) == *contents,
            format!(
                "{did}: expected segment {name} to be left as it was ({} bytes); {}",
                contents.as_ref().map_or(0, Vec::len),
                run.listing()
            ),
        )?;
    }
    run.verify()?;
    run.apply(&Op::Merge)?;
    run.verify()?;
    run.apply(&Op::Reopen)?;
    run.verify()
}

/// Fills a store (every record in a segment of its own), syncs, and merges, with the power
/// failing at I/O step `crash_in_merge` of the merge (0: no crash). Says what was done, and the
/// disk and the model.
fn merge_with_crash(
    seed: u64,
    crash_in_merge: u64,
) -> Result<(Run, u64, Result<(), String>), Failure> {
    let mut run = Run::start(seed, 1)?;
    for op in [
        Op::Put(b"a".to_vec(), b"1".to_vec()),
        Op::Put(b"b".to_vec(), b"2".to_vec()),
        Op::Put(b"c".to_vec(), b"3".to_vec()),
        Op::Put(b"a".to_vec(), b"4".to_vec()),
        Op::Delete(b"b".to_vec()),
        Op::Put(b"d".to_vec(), b"5".to_vec()),
        Op::Delete(b"c".to_vec()),
        Op::Put(b"e".to_vec(), b"6".to_vec()),
    ] {
        run.apply(&op)?;
    }
    let did = run.script.did("sync()");
    run.store()
        .sync()
        .map_err(|e| Failure::new(format!("{did}: the sync failed: {e}")))?;
    let start = run.disk.steps();
    if crash_in_merge > 0 {
        run.disk.crash_at_step(start + crash_in_merge);
    }
    let result = run.store().merge().map_err(|e| e.to_string());
    let steps = run.disk.steps() - start;
    Ok((run, steps, result))
}

fn merge_cut_short(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let (mut run, steps, result) = merge_with_crash(seed, 0)?;
    if let Err(e) = result {
        return fail(format!("{}, merge(): failed: {e}", run.script.so_far()));
    }
    run.verify()?;
    // Each step four times over: what survives a crash is the disk's choice, made from its seed.
    for (step, round) in (1..=steps).flat_map(|step| (0..4).map(move |round| (step, round))) {
        let (mut run, _, _) = merge_with_crash(seed ^ (step << 8) ^ round, step)?;
        drop(run.store.take());
        let aftermath = run.disk.restart();
        run.script.did(format!(
            "merge(), with the power failing at its I/O step {step} of {steps} (on restart \
             {aftermath})"
        ));
        run.apply(&Op::Reopen)?;
        run.verify()?;
        let (_, strays) = run.old_files();
        expect(
            strays.is_empty(),
            format!(
                "{}: after reopening, the disk still holds {strays:?}; {}",
                run.script.so_far(),
                run.listing()
            ),
        )?;
        run.apply(&Op::Merge)?;
        run.verify()?;
        run.apply(&Op::Reopen)?;
        run.verify()?;
    }
    Ok(())
}

/// What [`harsh_merge`] writes before merging, with every record in a segment of its own:
/// segments 1 to 4 are merged, 5 is the active one.
const HARSH_WORKLOAD: &str = "put(\"a\", \"1\"), put(\"b\", \"2\"), delete(\"b\"), \
     put(\"c\", \"3\"), put(\"d\", \"4\"), sync()";

/// Writes [`HARSH_WORKLOAD`] on a disk whose unsynced name operations survive a crash in any
/// subset, then merges, the power failing at I/O step `crash_in_merge` of the merge (0: none).
/// Gives the disk, the journal of name operations, and how many steps the merge took.
fn harsh_merge(seed: u64, crash_in_merge: u64) -> Result<(SimDisk, NameJournal, u64), Failure> {
    let disk = SimDisk::with_profile(seed, Profile::HARSH);
    let journal = NameJournal::new(disk.dir());
    let setup = |e: io::Error| {
        Failure::new(format!(
            "Store::open_with(dir, {}), {HARSH_WORKLOAD}: failed: {e}",
            describe_max(1)
        ))
    };
    let mut store = Store::open_with(Arc::new(journal.clone()), options(1)).map_err(setup)?;
    store.put(b"a", b"1").map_err(setup)?;
    store.put(b"b", b"2").map_err(setup)?;
    store.delete(b"b").map_err(setup)?;
    store.put(b"c", b"3").map_err(setup)?;
    store.put(b"d", b"4").map_err(setup)?;
    store.sync().map_err(setup)?;
    let start = disk.steps();
    if crash_in_merge > 0 {
        disk.crash_at_step(start + crash_in_merge);
    }
    let result = store.merge();
    let steps = disk.steps() - start;
    if crash_in_merge == 0 {
        result.map_err(|e| {
            Failure::new(format!(
                "Store::open_with(dir, {}), {HARSH_WORKLOAD}, merge(): failed: {e}",
                describe_max(1)
            ))
        })?;
    }
    drop(store);
    Ok((disk, journal, steps))
}

fn crash_keeps_any_names(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let expected: [(&[u8], Option<&[u8]>); 4] = [
        (b"a", Some(b"1")),
        (b"b", None),
        (b"c", Some(b"3")),
        (b"d", Some(b"4")),
    ];
    let (_, _, steps) = harsh_merge(seed, 0)?;
    for step in 1..=steps {
        ctx.doing(format!(
            "{HARSH_WORKLOAD}, merge() with the power failing at its I/O step {step}"
        ));
        let (disk, journal, _) = harsh_merge(seed, step)?;
        let pending = journal.pending();
        for round in 0..support::restarts_for(pending.len()) {
            let disk = disk.fork_reseeded(seed ^ (step << 20) ^ round);
            if round == 0 {
                disk.restart();
            } else {
                disk.restart_disk_only();
            }
            let names: Vec<String> = disk.files().into_iter().map(|f| f.name).collect();
            let did = format!(
                "on a disk where unsynced creates, renames and removals survive a crash in any \
                 subset (only a directory sync orders them): Store::open_with(dir, {}), \
                 {HARSH_WORKLOAD}, merge() with the power failing at its I/O step {step} of \
                 {steps}. The name operations since the last directory sync were [{}]; on \
                 restart the disk holds {names:?}. Open the store",
                describe_max(1),
                pending.join(", ")
            );
            let store = Store::open_with(disk.dir(), options(1))
                .map_err(|e| Failure::new(format!("did:      {did}\ngot:      Err({e})")))?;
            for (key, value) in expected {
                let got = store.get(key).map_err(|e| e.to_string());
                let want = Ok(value.map(<[u8]>::to_vec));
                if got != want {
                    let renamed_then_removed = pending
                        .iter()
                        .position(|op| op.starts_with("rename"))
                        .is_some_and(|at| pending[at..].iter().any(|op| op.starts_with("remove")));
                    let hint = if renamed_then_removed {
                        "\na removal survived the crash and the rename before it did not: sync \
                         the directory after renaming the merged segment into place, before \
                         removing the segments it replaces"
                    } else {
                        ""
                    };
                    return fail(format!(
                        "did:      {did}, get({})\nexpected: {}\ngot:      {}{hint}",
                        show(key),
                        shown(&want),
                        shown(&got)
                    ));
                }
            }
        }
    }
    Ok(())
}

fn shown(value: &Result<Option<Vec<u8>>, String>) -> String {
    match value {
        Ok(Some(bytes)) => format!("Ok(Some({}))", show(bytes)),
        Ok(None) => "Ok(None)".into(),
        Err(e) => format!("Err({e})"),
    }
}

/// Drives the store for the crash checks, with segments of at most `MAX` bytes.
struct Merging<const MAX: u64>;

impl<const MAX: u64> crash::Subject for Merging<MAX> {
    type Store = Store;

    fn open(dir: Arc<dyn Dir>) -> io::Result<Store> {
        Store::open_with(dir, options(MAX))
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

const NEVER: &[u8] = b"never written";

fn crash_check(seed: u64, max: u64, ops: &[KvOp], limits: Limits) -> CheckResult {
    let probes = [NEVER.to_vec()];
    let outcome = match max {
        1 => crash::check::<Merging<1>>(seed, ops, &probes, limits),
        48 => crash::check::<Merging<48>>(seed, ops, &probes, limits),
        _ => crash::check::<Merging<120>>(seed, ops, &probes, limits),
    };
    outcome.map(|_| ()).map_err(|failure| {
        Failure::new(format!(
            "with {} (merge() is maintain()):\n{}",
            describe_max(max),
            failure.message
        ))
    })
}

fn put(k: &str, v: &str) -> KvOp {
    KvOp::Put(k.as_bytes().to_vec(), v.as_bytes().to_vec())
}

fn delete(k: &str) -> KvOp {
    KvOp::Delete(k.as_bytes().to_vec())
}

fn crash_hazards(ctx: &mut Ctx) -> CheckResult {
    use KvOp::{Maintain, Reopen, Sync};
    let workloads = [
        // A tombstone in the merged segment must go on shadowing the value in an older one
        // until that one is gone.
        vec![
            put("a", "1"),
            Sync,
            delete("a"),
            put("b", "2"),
            Sync,
            Maintain,
        ],
        // The values in the segments below N live on only in the merged one.
        vec![put("a", "1"), put("b", "2"), put("c", "3"), Sync, Maintain],
        // The newer value in the active segment was never synced: the merge must not drop
        // the older one unless the newer one is durable.
        vec![put("a", "1"), Sync, put("a", "2"), Maintain],
        vec![
            put("a", "1"),
            put("b", "2"),
            Sync,
            delete("b"),
            put("a", "3"),
            Maintain,
        ],
        // Merging, writing on, and merging again.
        vec![
            put("a", "1"),
            put("b", "2"),
            put("a", "3"),
            delete("b"),
            Sync,
            Maintain,
            put("c", "4"),
            delete("a"),
            Sync,
            Maintain,
        ],
        vec![
            put("a", "1"),
            put("b", "2"),
            Sync,
            Maintain,
            Reopen,
            put("a", "3"),
            Maintain,
        ],
    ];
    let limits = Limits::default();
    for ops in &workloads {
        for round in 0..8 {
            ctx.doing(format!("workload {ops:?}, round {round}"));
            crash_check(ctx.seed() ^ round, 1, ops, limits)?;
        }
    }
    Ok(())
}

fn kv_op() -> impl Strategy<Value = KvOp> {
    let key = prop_oneof![Just(b"a"), Just(b"b"), Just(b"c")].prop_map(|k| k.to_vec());
    let value = prop_oneof![
        prop_oneof![Just(&b"1"[..]), Just(&b"2"[..])].prop_map(<[u8]>::to_vec),
        prop::collection::vec(any::<u8>(), 0..24),
    ];
    prop_oneof![
        4 => (key.clone(), value).prop_map(|(k, v)| KvOp::Put(k, v)),
        2 => key.prop_map(KvOp::Delete),
        2 => Just(KvOp::Sync),
        2 => Just(KvOp::Maintain),
        1 => Just(KvOp::Reopen),
    ]
}

fn crash_anywhere(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (max_segment_bytes(), prop::collection::vec(kv_op(), 1..11));
    let limits = Limits {
        crash_points: 64,
        crash_during_recovery: true,
        // Name operations a directory sync has not ordered may survive in any subset.
        profile: kit::sim::Profile::HARSH,
    };
    ctx.forall_named(&["max", "ops"], 48, input, |(max, ops)| {
        crash_check(seed, max, &ops, limits)
    })
}

fn past_a_million(ctx: &mut Ctx) -> CheckResult {
    ctx.doing(support::MILLION);
    support::million_check(
        ctx.seed(),
        segment_name,
        |dir| Store::open_with(dir, options(64)),
        |store, key| store.get(key),
    )
    .map_err(Failure::new)
}

fn faults_everywhere(ctx: &mut Ctx) -> CheckResult {
    let shape = Shape::MERGES;
    support::faults_everywhere::<Merging<48>>(
        ctx,
        &[support::merges()],
        3,
        support::workload(8, shape),
        shape,
        &format!("with {} (merge() is maintain()):\n", describe_max(48)),
    )
}
