//! Hidden checks for lsm/wal.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, ErrorKind};
use std::sync::Arc;

use judge::prelude::*;
use kit::crash::{self, KvOp, Limits, show};
use kit::disk::Dir;
use kit::fault::{Aim, FaultDir, attempt};
use kit::sim::{Fault, OpKind, Profile, SimDisk};
use lsm_wal::{Batch, Op, Wal};

use crate::support::{KINDS, disk_holding, faults_for};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "open replays every committed batch, in order and whole: empty commits, empty \
             batches, empty keys and values",
            round_trip,
        )
        .check(
            "batches with values over 64 KiB come back whole",
            big_values,
        )
        .check(
            "each commit is one record laid out as the README draws it, byte for byte (an \
             empty commit too), and open reads a log written to that layout by anyone",
            the_layout,
        )
        .check(
            "len is where the next record goes: 0 when created, the file's length after each \
             commit, and open knows it",
            len_tracks_the_file,
        )
        .check(
            "commit of k batches is one write and one sync, whatever k is (group commit), after \
             create, after open, and after a failed commit (plus, once, the cut it still owes)",
            group_commit,
        )
        .check(
            "Ok means durable: when commit returns, its record is synced, and the worst crash \
             keeps every acknowledged batch",
            acknowledged_is_durable,
        )
        .check(
            "create makes the name durable: a new log survives a power failure right after it",
            create_is_durable,
        )
        .check(
            "a log cut at any byte of its last record replays the batches before it; open cuts \
             the rest, durably, and the next commit follows the last whole record",
            torn_tail,
        )
        .check(
            "open fails when it cannot cut a torn tail or sync the cut (a commit after it would \
             follow garbage), and opens once the disk is well again",
            open_cannot_cut,
        )
        .check(
            "an all-zero tail (a preallocated file) is a torn tail: cut, and the log works on",
            zero_tail,
        )
        .check(
            "a damaged record with whole records after it is corruption: open fails with \
             InvalidData, wherever the damage is",
            corruption,
        )
        .check(
            "a crash at any I/O step, even during recovery, loses no acknowledged batch, \
             brings back no half batch and nothing never committed, and the log works on",
            crash_everywhere,
        )
        .check(
            "a store of puts and deletes over the log, batched until each sync, reads back \
             after a crash at any step only what it was promised",
            store_over_the_log,
        )
        .check(
            "a commit that fails on any I/O error, full disk or lost sync is not acknowledged, \
             is never replayed, and the next commit works",
            faults_everywhere,
        )
}

const NAME: &str = "wal.log";

// ---------------------------------------------------------------------------------------------
// Showing what was done.

struct ShownOp<'a>(&'a Op);

impl fmt::Debug for ShownOp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Op::Put { key, value } => write!(f, "put({}, {})", show(key), show(value)),
            Op::Delete { key } => write!(f, "delete({})", show(key)),
        }
    }
}

/// Batches as the README writes them: `#5 [put("a", "1"), delete("b")]`.
#[derive(Clone, PartialEq)]
struct Batches(Vec<Batch>);

/// The batches of several commits, as the calls that commit them.
#[derive(Clone)]
struct Commits(Vec<Vec<Batch>>);

impl Commits {
    /// The calls that commit them, in order.
    fn calls(&self) -> String {
        let calls: Vec<String> = self.0.iter().map(|group| commit_call(group)).collect();
        calls.join(", ")
    }
}

impl fmt::Debug for Commits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.calls())
    }
}

impl fmt::Debug for Batches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, batch) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            // One line even in `{:#?}`: a failure message prints long values that way.
            let ops: Vec<String> = batch
                .ops
                .iter()
                .map(|op| format!("{:?}", ShownOp(op)))
                .collect();
            write!(f, "#{} [{}]", batch.seq, ops.join(", "))?;
        }
        f.write_str("]")
    }
}

fn commit_call(batches: &[Batch]) -> String {
    format!("commit({:?})", Batches(batches.to_vec()))
}

/// The calls made so far, to say in a failure exactly what was done.
struct Script {
    calls: Vec<String>,
}

impl Script {
    fn new() -> Self {
        Self {
            calls: vec![format!("Wal::create(dir, {NAME:?})")],
        }
    }

    fn note(&mut self, call: impl Into<String>) {
        self.calls.push(call.into());
    }

    fn did(&mut self, call: impl Into<String>) -> String {
        self.note(call);
        self.so_far()
    }

    fn so_far(&self) -> String {
        self.calls.join(", ")
    }
}

fn io_failure(did: &str, error: io::Error) -> Failure {
    Failure::new(format!(
        "did:      {did}\nexpected: success\ngot:      Err({:?}): {error}",
        error.kind()
    ))
}

// ---------------------------------------------------------------------------------------------
// Inputs.

fn bytes(most: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(b'a'..=b'z', 0..most),
        1 => prop::collection::vec(any::<u8>(), 0..most),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (bytes(6), bytes(12)).prop_map(|(key, value)| Op::Put { key, value }),
        1 => bytes(6).prop_map(|key| Op::Delete { key }),
    ]
}

fn batch() -> impl Strategy<Value = Batch> {
    let seq = prop_oneof![3 => 0..1000u64, 1 => Just(u64::MAX), 1 => any::<u64>()];
    (seq, prop::collection::vec(op(), 0..4)).prop_map(|(seq, ops)| Batch { seq, ops })
}

/// One commit's batches: often one, sometimes none, sometimes a group.
fn group() -> impl Strategy<Value = Vec<Batch>> {
    prop_oneof![
        2 => prop::collection::vec(batch(), 1..2),
        1 => prop::collection::vec(batch(), 0..5),
    ]
}

/// Between `least` and `most - 1` commits.
fn commits(least: usize, most: usize) -> impl Strategy<Value = Commits> {
    prop::collection::vec(group(), least..most).prop_map(Commits)
}

fn put(seq: u64, key: &[u8], value: Vec<u8>) -> Batch {
    Batch {
        seq,
        ops: vec![Op::Put {
            key: key.to_vec(),
            value,
        }],
    }
}

/// A value over 64 KiB that is not one byte repeated.
fn big(seed: u8) -> Vec<u8> {
    spanning(70_000, seed)
}

/// A value of `len` bytes that is not one byte repeated.
fn spanning(len: u32, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

// ---------------------------------------------------------------------------------------------
// Driving the log.

/// Creates the log and commits `groups`, each of which must succeed. Returns the log and its
/// length after each commit (the first entry is 0, after create).
fn filled(
    disk: &SimDisk,
    groups: &[Vec<Batch>],
    script: &mut Script,
) -> Result<(Wal, Vec<u64>), Failure> {
    let mut wal = Wal::create(&*disk.dir(), NAME).map_err(|e| io_failure(&script.so_far(), e))?;
    let mut ends = vec![0];
    for group in groups {
        let did = script.did(commit_call(group));
        wal.commit(group).map_err(|e| io_failure(&did, e))?;
        ends.push(wal.len());
    }
    Ok((wal, ends))
}

/// Opens the log again, `how` saying what came before (`"drop the log, "`), in the script.
fn reopen(disk: &SimDisk, script: &mut Script, how: &str) -> Result<Wal, Failure> {
    let did = script.did(format!("{how}Wal::open(dir, {NAME:?})"));
    Wal::open(&*disk.dir(), NAME).map_err(|e| io_failure(&did, e))
}

/// Opens the log again and checks that it replays `expected`.
fn reopen_expecting(
    disk: &SimDisk,
    expected: &[Batch],
    script: &mut Script,
    how: &str,
) -> Result<Wal, Failure> {
    let wal = reopen(disk, script, how)?;
    expect_eq(
        script.did("recovered()"),
        Batches(wal.recovered().to_vec()),
        Batches(expected.to_vec()),
    )?;
    Ok(wal)
}

fn flat(groups: &[Vec<Batch>]) -> Vec<Batch> {
    groups.iter().flatten().cloned().collect()
}

/// The file as the disk holds it: its length, and how much of it is durable.
fn file_lens(disk: &SimDisk) -> (u64, u64) {
    disk.files()
        .into_iter()
        .find(|f| f.name == NAME)
        .map_or((0, 0), |f| (f.len, f.durable_len))
}

// ---------------------------------------------------------------------------------------------
// Round trips.

fn round_trip(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let check = |Commits(groups): Commits| {
        let disk = SimDisk::new(seed);
        let mut script = Script::new();
        let (wal, _) = filled(&disk, &groups, &mut script)?;
        expect_eq(
            script.did("recovered()"),
            Batches(wal.recovered().to_vec()),
            Batches(Vec::new()),
        )?;
        drop(wal);
        let wal = reopen_expecting(&disk, &flat(&groups), &mut script, "drop the log, ")?;
        // A log opened again takes commits after what it replayed.
        let more = vec![Batch {
            seq: 7,
            ops: vec![Op::Delete { key: Vec::new() }],
        }];
        let mut wal = wal;
        let did = script.did(commit_call(&more));
        wal.commit(&more).map_err(|e| io_failure(&did, e))?;
        drop(wal);
        let all: Vec<Batch> = flat(&groups).into_iter().chain(more).collect();
        reopen_expecting(&disk, &all, &mut script, "drop the log, ").map(drop)
    };
    // A log with nothing in it, and one empty commit, before the random ones.
    check(Commits(Vec::new()))?;
    check(Commits(vec![Vec::new()]))?;
    ctx.forall_named(&["commits"], 64, commits(1, 6), check)
}

fn big_values(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let mut script = Script::new();
    let groups = vec![
        vec![put(1, b"big", big(0))],
        vec![
            Batch {
                seq: 2,
                ops: vec![
                    Op::Put {
                        key: big(1),
                        value: Vec::new(),
                    },
                    Op::Delete {
                        key: b"big".to_vec(),
                    },
                ],
            },
            put(4, b"", big(2)),
        ],
        vec![put(5, b"small", b"1".to_vec())],
    ];
    let (wal, _) = filled(&disk, &groups, &mut script)?;
    drop(wal);
    reopen_expecting(&disk, &flat(&groups), &mut script, "drop the log, ").map(drop)
}

fn len_tracks_the_file(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["commits"], 48, commits(1, 5), |Commits(groups)| {
        let disk = SimDisk::new(seed);
        let mut script = Script::new();
        let mut wal =
            Wal::create(&*disk.dir(), NAME).map_err(|e| io_failure(&script.so_far(), e))?;
        expect_eq(script.did("len()"), wal.len(), 0)?;
        expect_eq(script.did("is_empty()"), wal.is_empty(), true)?;
        let mut last = 0;
        for group in &groups {
            let did = script.did(commit_call(group));
            wal.commit(group).map_err(|e| io_failure(&did, e))?;
            let (file, _) = file_lens(&disk);
            let len = wal.len();
            expect(
                len == file && len >= last,
                format!(
                    "did:      {}\nexpected: {file} (the file's length, and no less than the {last} \
                     before the commit)\ngot:      {len}",
                    script.did("len()")
                ),
            )?;
            last = len;
            expect_eq(script.did("is_empty()"), wal.is_empty(), len == 0)?;
        }
        drop(wal);
        let wal = reopen(&disk, &mut script, "drop the log, ")?;
        expect_eq(script.did("len()"), wal.len(), last)
    })
}

fn group_commit(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (
        commits(0, 3),
        prop::collection::vec(batch(), 1..9).prop_map(Batches),
    );
    let names = ["before", "group"];
    ctx.forall_named(&names, 48, input, |(Commits(before), Batches(group))| {
        let disk = SimDisk::new(seed);
        let mut script = Script::new();
        let (mut wal, _) = filled(&disk, &before, &mut script)?;
        commit_costs(&disk, &mut wal, &group, &mut script, 1, "")?;
        drop(wal);
        let mut wal = reopen(&disk, &mut script, "drop the log, ")?;
        commit_costs(&disk, &mut wal, &group, &mut script, 1, "")
    })?;

    // A failed commit whose cut failed too owes the cut once, and only once.
    let disk = SimDisk::with_profile(
        seed,
        Profile {
            failed_writes_leave_a_prefix: true,
            ..Profile::GENTLE
        },
    );
    let mut script = Script::new();
    let first = vec![put(1, b"a", b"1".to_vec())];
    let (mut wal, _) = filled(&disk, &[first], &mut script)?;
    disk.fail_next(OpKind::Write, Fault::IoError);
    disk.fail_next(OpKind::Write, Fault::IoError);
    let failed = vec![put(2, b"b", b"2".to_vec())];
    let did = script.did(format!(
        "{}, whose write fails, and so does the next write (its cut)",
        commit_call(&failed)
    ));
    if wal.commit(&failed).is_ok() {
        return fail(format!("did:      {did}\nexpected: Err\ngot:      Ok"));
    }
    let next = vec![put(3, b"c", b"3".to_vec())];
    let owed = " (the cut the failed commit still owes, then the record)";
    commit_costs(&disk, &mut wal, &next, &mut script, 2, owed).map_err(|failure| {
        Failure::new(format!(
            "{failure}\n(a failed commit cuts the file back to len at once, and the log carries \
             on: the second injected failure is meant for that cut)"
        ))
    })?;
    commit_costs(&disk, &mut wal, &next, &mut script, 1, "")
}

/// Commits `group`, and fails unless that took `writes` writes and one sync.
fn commit_costs(
    disk: &SimDisk,
    wal: &mut Wal,
    group: &[Batch],
    script: &mut Script,
    writes: u64,
    why: &str,
) -> CheckResult {
    disk.reset_stats();
    let did = script.did(commit_call(group));
    wal.commit(group).map_err(|e| io_failure(&did, e))?;
    let stats = disk.stats();
    let plural =
        |n: u64, word: &str, many: &str| format!("{n} {word}{}", if n == 1 { "" } else { many });
    expect(
        stats.writes == writes && stats.syncs == 1,
        format!(
            "did:      {did}\nexpected: {} and 1 sync for its {}{why} (a truncate counts as a \
             write)\ngot:      {} and {} (a write or a sync per batch costs the disk one each: \
             group commit makes the whole group cost one of each)",
            plural(writes, "write", "s"),
            plural(group.len() as u64, "batch", "es"),
            plural(stats.writes, "write", "s"),
            plural(stats.syncs, "sync", "s"),
        ),
    )
}

fn acknowledged_is_durable(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["commits"], 48, commits(1, 5), |Commits(groups)| {
        let disk = SimDisk::new(seed);
        let mut script = Script::new();
        let mut wal =
            Wal::create(&*disk.dir(), NAME).map_err(|e| io_failure(&script.so_far(), e))?;
        for group in &groups {
            let did = script.did(commit_call(group));
            wal.commit(group).map_err(|e| io_failure(&did, e))?;
            let (len, durable) = file_lens(&disk);
            expect(
                durable == len,
                format!(
                    "did:      {did}\nexpected: all {len} bytes of the file durable when commit \
                     returns\ngot:      {durable} durable (was the sync before the write, or \
                     missing?)"
                ),
            )?;
        }
        drop(wal);
        disk.crash();
        disk.restart_losing_unsynced();
        reopen_expecting(
            &disk,
            &flat(&groups),
            &mut script,
            "the power failed, losing everything unsynced; ",
        )
        .map(drop)
    })
}

fn create_is_durable(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let mut script = Script::new();
    let wal = Wal::create(&*disk.dir(), NAME).map_err(|e| io_failure(&script.so_far(), e))?;
    drop(wal);
    disk.crash();
    disk.restart_losing_unsynced();
    let mut wal = reopen_expecting(
        &disk,
        &[],
        &mut script,
        "the power failed as soon as create returned, losing everything unsynced; ",
    )?;
    let group = vec![put(1, b"a", b"1".to_vec())];
    let did = script.did(commit_call(&group));
    wal.commit(&group).map_err(|e| io_failure(&did, e))
}

// ---------------------------------------------------------------------------------------------
// The layout.

/// The record of one commit, as the README lays it out, with the name of each field and the
/// bytes it takes, for saying where a learner's record first differs.
struct Record {
    bytes: Vec<u8>,
    fields: Vec<(usize, String)>,
}

impl Record {
    fn of(batches: &[Batch]) -> Record {
        let mut body = Record {
            bytes: Vec::new(),
            fields: Vec::new(),
        };
        body.u32("count", batches.len());
        for (b, batch) in batches.iter().enumerate() {
            body.push(&format!("batch {b}: seq"), &batch.seq.to_le_bytes());
            body.u32(&format!("batch {b}: ops"), batch.ops.len());
            for (o, op) in batch.ops.iter().enumerate() {
                let at = format!("batch {b}, op {o}");
                match op {
                    Op::Put { key, value } => {
                        body.push(&format!("{at}: the tag (1, a put)"), &[1]);
                        body.u32(&format!("{at}: key_len"), key.len());
                        body.push(&format!("{at}: key"), key);
                        body.u32(&format!("{at}: value_len"), value.len());
                        body.push(&format!("{at}: value"), value);
                    }
                    Op::Delete { key } => {
                        body.push(&format!("{at}: the tag (2, a delete)"), &[2]);
                        body.u32(&format!("{at}: key_len"), key.len());
                        body.push(&format!("{at}: key"), key);
                    }
                }
            }
        }
        let len = (body.bytes.len() as u32).to_le_bytes();
        let covered: Vec<u8> = len.iter().chain(&body.bytes).copied().collect();
        let mut record = Record {
            bytes: Vec::new(),
            fields: Vec::new(),
        };
        record.push(
            "crc (of len and body)",
            &kit::checksum::crc32(&covered).to_le_bytes(),
        );
        record.push("len (of the body)", &len);
        for (start, name) in body.fields {
            record.fields.push((start + 8, name));
        }
        record.bytes.extend(body.bytes);
        record
    }

    fn push(&mut self, name: &str, bytes: &[u8]) {
        self.fields.push((self.bytes.len(), name.to_string()));
        self.bytes.extend_from_slice(bytes);
    }

    fn u32(&mut self, name: &str, n: usize) {
        self.push(name, &(n as u32).to_le_bytes());
    }

    /// The field that byte `offset` of the record belongs to.
    fn field_at(&self, offset: usize) -> &str {
        self.fields
            .iter()
            .rev()
            .find(|(start, _)| *start <= offset)
            .map_or("past the end of the record", |(_, name)| name)
    }
}

/// `bytes` as hex, a space between bytes, `...` past the first 48.
fn hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(48).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > 48 { " ..." } else { "" };
    format!("[{}{more}] ({} bytes)", shown.join(" "), bytes.len())
}

fn the_layout(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let check = |Commits(groups): Commits| {
        let disk = SimDisk::new(seed);
        let mut script = Script::new();
        let mut wal =
            Wal::create(&*disk.dir(), NAME).map_err(|e| io_failure(&script.so_far(), e))?;
        let mut file = Vec::new();
        for group in &groups {
            let did = script.did(commit_call(group));
            wal.commit(group).map_err(|e| io_failure(&did, e))?;
            let record = Record::of(group);
            let got = disk.contents(NAME).unwrap_or_default();
            let mine = got.get(file.len()..).unwrap_or_default();
            if mine != record.bytes {
                // Past the crc first: a crc differs whenever anything it covers does.
                let differs = |from: usize| {
                    (from..mine.len().max(record.bytes.len()))
                        .find(|&i| mine.get(i) != record.bytes.get(i))
                };
                let first = differs(4).or_else(|| differs(0)).unwrap_or(0);
                return fail(format!(
                    "did:      {did}\nexpected: the record {}\ngot:      {}\n(they first \
                     differ at byte {first} of the record: {}; all integers little-endian)",
                    hex(&record.bytes),
                    hex(mine),
                    record.field_at(first),
                ));
            }
            file.extend(record.bytes);
        }
        drop(wal);
        // A log the checks wrote, in the README's layout, opens to the same batches.
        let disk = disk_holding(seed, NAME, &file)?;
        let mut script = Script { calls: Vec::new() };
        script.note(format!(
            "a file written by hand in the README's layout, holding the records of {}",
            Commits(groups.clone()).calls()
        ));
        reopen_expecting(&disk, &flat(&groups), &mut script, "").map(drop)
    };
    check(Commits(vec![Vec::new()]))?;
    check(Commits(vec![vec![Batch {
        seq: 0x0102_0304_0506_0708,
        ops: vec![
            Op::Put {
                key: b"key".to_vec(),
                value: b"value".to_vec(),
            },
            Op::Delete { key: b"k".to_vec() },
        ],
    }]]))?;
    ctx.forall_named(&["commits"], 32, commits(1, 5), check)
}

// ---------------------------------------------------------------------------------------------
// Crashes.

/// What a run up to a crash got done.
struct Crashed {
    created: bool,
    acknowledged: Vec<Batch>,
    /// The commit the power failed in: any prefix of its batches may be on the disk.
    in_flight: Vec<Batch>,
}

fn run_until_crash(disk: &SimDisk, groups: &[Vec<Batch>]) -> Crashed {
    let mut crashed = Crashed {
        created: false,
        acknowledged: Vec::new(),
        in_flight: Vec::new(),
    };
    let Ok(mut wal) = attempt(|| Wal::create(&*disk.dir(), NAME)) else {
        return crashed;
    };
    crashed.created = true;
    for group in groups {
        if attempt(|| wal.commit(group)).is_err() {
            crashed.in_flight = group.clone();
            break;
        }
        crashed.acknowledged.extend(group.iter().cloned());
    }
    crashed
}

fn crash_everywhere(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    // A group over many sectors: a crash tears it anywhere, keeping some of its sectors and
    // zeroing or scrambling others.
    let scripted = vec![
        vec![put(1, b"a", b"1".to_vec())],
        vec![
            put(2, b"big", spanning(3000, 3)),
            put(3, b"b", b"2".to_vec()),
            put(4, b"c", spanning(2000, 4)),
            put(5, b"d", b"3".to_vec()),
        ],
        vec![Batch {
            seq: 6,
            ops: vec![Op::Delete { key: b"a".to_vec() }],
        }],
    ];
    crash_at_every_step(seed, &scripted)?;
    ctx.forall_named(&["commits"], 12, commits(1, 5), |Commits(groups)| {
        crash_at_every_step(seed, &groups)
    })
}

fn crash_at_every_step(seed: u64, groups: &[Vec<Batch>]) -> CheckResult {
    let golden = SimDisk::new(seed);
    let mut script = Script::new();
    filled(&golden, groups, &mut script)?;
    let steps = golden.steps();
    let workload: Vec<String> = std::iter::once(format!("Wal::create(dir, {NAME:?})"))
        .chain(groups.iter().map(|g| commit_call(g)))
        .collect();
    let workload = workload.join(", ");
    let fingerprint = workload.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    });
    for step in 1..=steps {
        let disk = SimDisk::with_profile(
            seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ fingerprint,
            Profile::HARSH,
        );
        disk.crash_at_step(step);
        let crashed = run_until_crash(&disk, groups);
        // The processes restart with the disk at the last step: nothing kept in memory helps.
        let aftermath = if step == steps {
            disk.restart()
        } else {
            disk.restart_disk_only()
        };
        let mut story = format!(
            "did:      {workload}\n          the power failed at I/O step {step} of {steps}; on \
             restart {aftermath}"
        );

        // Crash again in the middle of recovery (while it cuts a torn tail, say).
        let trial = disk.fork();
        let before = trial.steps();
        if attempt(|| Wal::open(&*trial.dir(), NAME)).is_ok() {
            let recovery = trial.steps() - before;
            if recovery > 0 {
                let into = 1 + (step * 7919) % recovery;
                disk.crash_at_step(disk.steps() + into);
                let _ = attempt(|| Wal::open(&*disk.dir(), NAME));
                disk.restart_disk_only();
                story.push_str(&format!(
                    "; the power failed again at step {into} of recovery's {recovery}"
                ));
            }
        }

        let mut wal = match attempt(|| Wal::open(&*disk.dir(), NAME)) {
            Ok(wal) => wal,
            Err(error) if !crashed.created && error.kind() == ErrorKind::NotFound => continue,
            Err(error) => {
                return fail(format!(
                    "{story}; Wal::open(dir, {NAME:?})\nexpected: the log to open, with every \
                     acknowledged batch\ngot:      Err({:?}): {error}{}",
                    error.kind(),
                    if error.kind() == ErrorKind::InvalidData {
                        " (a crash can tear only the commit in flight: if each commit is one \
                         record, a torn commit is the last record, and a broken record with no \
                         whole record anywhere after it is a torn tail)"
                    } else {
                        ""
                    }
                ));
            }
        };
        let got = wal.recovered().to_vec();
        let acked = crashed.acknowledged.len();
        let whole = got.len() >= acked
            && got[..acked] == crashed.acknowledged[..]
            && got.len() - acked <= crashed.in_flight.len()
            && got[acked..] == crashed.in_flight[..got.len() - acked];
        if !whole {
            let maybe = if crashed.in_flight.is_empty() {
                String::new()
            } else {
                format!(
                    ", then maybe whole batches of the commit in flight {:?}",
                    Batches(crashed.in_flight.clone())
                )
            };
            return fail(format!(
                "{story}; Wal::open(dir, {NAME:?}), recovered()\nexpected: {:?}{maybe}\n\
                 got:      {:?}",
                Batches(crashed.acknowledged.clone()),
                Batches(got)
            ));
        }

        // The recovered log takes a commit, and that commit is found after the next power cycle:
        // a torn tail left in place would sit before it.
        let after = vec![put(999, b"after recovery", b"ok".to_vec())];
        story.push_str(&format!(
            "; Wal::open(dir, {NAME:?}), {}",
            commit_call(&after)
        ));
        if let Err(error) = wal.commit(&after) {
            return Err(io_failure(&story, error));
        }
        drop(wal);
        disk.restart_disk_only();
        story.push_str(&format!(
            ", the power cycled, Wal::open(dir, {NAME:?}), recovered()"
        ));
        let expected: Vec<Batch> = got.into_iter().chain(after).collect();
        match Wal::open(&*disk.dir(), NAME) {
            Ok(wal) => expect_eq(&story, Batches(wal.recovered().to_vec()), Batches(expected))?,
            Err(error) => return Err(io_failure(&story, error)),
        }
    }
    Ok(())
}

/// A memtable over the log, as the store of the next scenes will have: puts and deletes wait in
/// one batch until `sync()` commits it.
struct Store {
    wal: Wal,
    memtable: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    pending: Vec<Op>,
    seq: u64,
}

/// The crash driver's handle on the store.
struct OverTheLog;

impl crash::Subject for OverTheLog {
    type Store = Store;

    fn open(dir: Arc<dyn Dir>) -> io::Result<Store> {
        let wal = match Wal::open(&*dir, NAME) {
            Err(error) if error.kind() == ErrorKind::NotFound => Wal::create(&*dir, NAME)?,
            opened => opened?,
        };
        let mut store = Store {
            memtable: BTreeMap::new(),
            pending: Vec::new(),
            seq: 1,
            wal,
        };
        for batch in store.wal.recovered().to_vec() {
            store.seq = batch.seq + batch.ops.len() as u64;
            for op in batch.ops {
                match op {
                    Op::Put { key, value } => store.memtable.insert(key, Some(value)),
                    Op::Delete { key } => store.memtable.insert(key, None),
                };
            }
        }
        Ok(store)
    }

    fn apply(store: &mut Store, op: &KvOp) -> io::Result<()> {
        match op {
            KvOp::Put(key, value) => store.pending.push(Op::Put {
                key: key.clone(),
                value: value.clone(),
            }),
            KvOp::Delete(key) => store.pending.push(Op::Delete { key: key.clone() }),
            KvOp::Sync => {
                let batch = Batch {
                    seq: store.seq,
                    ops: std::mem::take(&mut store.pending),
                };
                store.wal.commit(std::slice::from_ref(&batch))?;
                store.seq += batch.ops.len() as u64;
                for op in batch.ops {
                    match op {
                        Op::Put { key, value } => store.memtable.insert(key, Some(value)),
                        Op::Delete { key } => store.memtable.insert(key, None),
                    };
                }
            }
            KvOp::Maintain | KvOp::Reopen => {}
        }
        Ok(())
    }

    fn get(store: &mut Store, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        Ok(store.memtable.get(key).cloned().flatten())
    }
}

fn store_over_the_log(ctx: &mut Ctx) -> CheckResult {
    let key = prop::sample::select(vec![b"a".to_vec(), b"b".to_vec(), Vec::new()]);
    let value = prop_oneof![
        6 => prop::collection::vec(b'a'..=b'z', 1..12),
        1 => Just(Vec::new()),
        1 => Just(spanning(2000, 7)),
    ];
    let op = prop_oneof![
        4 => (key.clone(), value).prop_map(|(k, v)| KvOp::Put(k, v)),
        1 => key.prop_map(KvOp::Delete),
        2 => Just(KvOp::Sync),
    ];
    let seed = ctx.seed();
    let limits = Limits {
        crash_points: 32,
        crash_during_recovery: true,
        profile: Profile::HARSH,
    };
    let never = [b"never written".to_vec()];
    ctx.forall_named(&["ops"], 8, prop::collection::vec(op, 1..10), |ops| {
        crash::check::<OverTheLog>(seed, &ops, &never, limits)
            .map(drop)
            .map_err(|failure| {
                Failure::new(format!(
                    "{}\n(the store keeps puts and deletes in one batch until sync(), which \
                     commits it)",
                    failure.message
                ))
            })
    })
}

// ---------------------------------------------------------------------------------------------
// Torn tails and corruption.

fn torn_tail(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (
        commits(0, 4),
        prop::collection::vec(batch(), 0..3).prop_map(Batches),
    );
    let names = ["whole", "torn"];
    ctx.forall_named(&names, 12, input, |(Commits(whole), Batches(torn))| {
        let disk = SimDisk::new(seed);
        let mut script = Script::new();
        let mut groups = whole.clone();
        groups.push(torn.clone());
        let (wal, ends) = filled(&disk, &groups, &mut script)?;
        drop(wal);
        let bytes = disk.contents(NAME).unwrap_or_default();
        let start = ends[ends.len() - 2] as usize;
        let kept = flat(&whole);
        for cut in start + 1..bytes.len() {
            let disk = disk_holding(seed, NAME, &bytes[..cut])?;
            let mut script = Script {
                calls: script.calls.clone(),
            };
            script.note(format!(
                "the file cut to its first {cut} bytes (the last commit's record is bytes {start} \
                 to {}: a torn write)",
                bytes.len()
            ));
            let mut wal = reopen(&disk, &mut script, "")?;
            let got = wal.recovered().to_vec();
            if got != kept {
                return fail(format!(
                    "did:      {}\nexpected: {:?}\ngot:      {:?}{}",
                    script.did("recovered()"),
                    Batches(kept.clone()),
                    Batches(got.clone()),
                    if got.len() > kept.len() {
                        "\n(a torn commit replays none of its batches: is each commit one record?)"
                    } else {
                        ""
                    }
                ));
            }
            expect_eq(script.did("len()"), wal.len(), start as u64)?;
            let (len, durable) = file_lens(&disk);
            expect(
                len == start as u64 && durable == start as u64,
                format!(
                    "did:      {}\nexpected: the file cut to {start} bytes, durably, before \
                     open returns\ngot:      a file of {len} bytes, {durable} of them durable",
                    script.so_far()
                ),
            )?;
            let next = vec![put(77, b"next", b"n".to_vec())];
            let did = script.did(commit_call(&next));
            wal.commit(&next).map_err(|e| io_failure(&did, e))?;
            drop(wal);
            let all: Vec<Batch> = kept.iter().cloned().chain(next).collect();
            reopen_expecting(&disk, &all, &mut script, "drop the log, ")?;
        }
        Ok(())
    })
}

fn open_cannot_cut(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let groups = vec![
        vec![put(1, b"a", b"1".to_vec())],
        vec![put(2, b"b", b"2".to_vec())],
    ];
    let mut setup = Script::new();
    let disk = SimDisk::new(seed);
    let (wal, ends) = filled(&disk, &groups, &mut setup)?;
    drop(wal);
    let bytes = disk.contents(NAME).unwrap_or_default();
    let (start, end) = (ends[1] as usize, ends[2] as usize);
    let torn = &bytes[..(start + end) / 2];
    setup.note(format!(
        "drop the log, the file cut to its first {} bytes (the last record is bytes {start} to \
         {end}: a torn write)",
        torn.len()
    ));
    let kept = groups[0].clone();

    let golden = FaultDir::new(&disk_holding(seed, NAME, torn)?, &[]);
    Wal::open(&*golden.dir(), NAME).map_err(|e| io_failure(&setup.so_far(), e))?;
    for kind in KINDS {
        for n in 1..=golden.count(kind) {
            for fault in faults_for(kind) {
                let disk = disk_holding(seed, NAME, torn)?;
                let aimed = FaultDir::new(&disk, &[Aim { kind, n, fault }]);
                let mut script = Script {
                    calls: setup.calls.clone(),
                };
                let opened = attempt(|| Wal::open(&*aimed.dir(), NAME));
                let did = script.did(format!(
                    "Wal::open(dir, {NAME:?}), whose operation {n} of kind {kind:?} fails with \
                     Fault::{fault:?}"
                ));
                if let Ok(wal) = opened {
                    let (len, durable) = file_lens(&disk);
                    expect(
                        len == start as u64 && durable == start as u64,
                        format!(
                            "did:      {did}\nexpected: Err, or Ok with the torn tail cut \
                             durably (a file of {start} bytes, all durable)\ngot:      Ok, with \
                             a file of {len} bytes, {durable} of them durable: a commit now \
                             would follow garbage"
                        ),
                    )?;
                    expect_eq(
                        script.did("recovered()"),
                        Batches(wal.recovered().to_vec()),
                        Batches(kept.clone()),
                    )?;
                }
                let mut wal = reopen_expecting(&disk, &kept, &mut script, "drop the log, ")?;
                let next = vec![put(77, b"next", b"n".to_vec())];
                let did = script.did(commit_call(&next));
                wal.commit(&next).map_err(|e| io_failure(&did, e))?;
                drop(wal);
                let all: Vec<Batch> = kept.iter().cloned().chain(next).collect();
                reopen_expecting(&disk, &all, &mut script, "drop the log, ")?;
            }
        }
    }
    Ok(())
}

fn zero_tail(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (
        commits(0, 4),
        prop_oneof![Just(1usize), Just(8), 1..64usize, Just(4096)],
    );
    ctx.forall_named(
        &["commits", "zeros"],
        48,
        input,
        |(Commits(groups), zeros)| {
            let disk = SimDisk::new(seed);
            let mut script = Script::new();
            let (wal, _) = filled(&disk, &groups, &mut script)?;
            let end = wal.len();
            drop(wal);
            let raw = disk
                .dir()
                .open(NAME)
                .and_then(|file| file.append(&vec![0; zeros]).and_then(|_| file.sync()));
            raw.map_err(|e| Failure::new(format!("setting up the disk failed: {e}")))?;
            script.note(format!(
                "drop the log, {zeros} zero bytes appended to the file (space a file system \
             preallocated)"
            ));
            let mut wal = reopen_expecting(&disk, &flat(&groups), &mut script, "")?;
            expect_eq(script.did("len()"), wal.len(), end)?;
            let next = vec![put(77, b"next", b"n".to_vec())];
            let did = script.did(commit_call(&next));
            wal.commit(&next).map_err(|e| io_failure(&did, e))?;
            drop(wal);
            let all: Vec<Batch> = flat(&groups).into_iter().chain(next).collect();
            reopen_expecting(&disk, &all, &mut script, "drop the log, ").map(drop)
        },
    )
}

/// Opens a log damaged before its last record: it must fail with `InvalidData`.
fn expect_corrupt(disk: &SimDisk, did: &str) -> CheckResult {
    match Wal::open(&*disk.dir(), NAME) {
        Err(error) if error.kind() == ErrorKind::InvalidData => Ok(()),
        Err(error) => fail(format!(
            "did:      {did}\nexpected: Err(InvalidData)\ngot:      Err({:?}): {error}",
            error.kind()
        )),
        Ok(wal) => fail(format!(
            "did:      {did}\nexpected: Err(InvalidData): acknowledged batches after the damage \
             would be lost by a recovery that cut there\ngot:      Ok, with recovered() {:?}",
            Batches(wal.recovered().to_vec())
        )),
    }
}

fn corruption(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    // Every bit of a small first record, high and low, with two records after it.
    let groups = vec![
        vec![put(1, b"a", b"1".to_vec())],
        vec![put(2, b"b", b"2".to_vec())],
        vec![put(3, b"c", b"3".to_vec())],
    ];
    let mut script = Script::new();
    let disk = SimDisk::new(seed);
    let (wal, ends) = filled(&disk, &groups, &mut script)?;
    drop(wal);
    let bytes = disk.contents(NAME).unwrap_or_default();
    for offset in 0..ends[1] as usize {
        for mask in [0x01u8, 0x80] {
            let mut damaged = bytes.clone();
            damaged[offset] ^= mask;
            let disk = disk_holding(seed, NAME, &damaged)?;
            let did = format!(
                "{}, drop the log, the byte at offset {offset} (in the first record, bytes 0 to \
                 {}) xored with {mask:#04x}, Wal::open(dir, {NAME:?})",
                script.so_far(),
                ends[1]
            );
            expect_corrupt(&disk, &did)?;
        }
    }
    // A damaged record over 64 KiB: the whole record after it is far from where the damage is,
    // and after that, a torn tail (the crash that made someone look at the log).
    let groups = vec![
        vec![put(1, b"big", big(7))],
        vec![put(2, b"b", b"2".to_vec())],
    ];
    let mut script = Script::new();
    let disk = SimDisk::new(seed);
    let (wal, ends) = filled(&disk, &groups, &mut script)?;
    drop(wal);
    let bytes = disk.contents(NAME).unwrap_or_default();
    let first = ends[1] as usize;
    let torn = Record::of(&[put(3, b"c", b"3".to_vec())]).bytes;
    for offset in [0, 4, 8, 30, first / 2, first - 1] {
        for tail in [0, torn.len() / 2] {
            let mut damaged = bytes.clone();
            damaged[offset] ^= 0x10;
            damaged.extend_from_slice(&torn[..tail]);
            let disk = disk_holding(seed, NAME, &damaged)?;
            let did = format!(
                "{}, drop the log, the byte at offset {offset} (in the first record, bytes 0 to \
                 {first}) xored with 0x10{}, Wal::open(dir, {NAME:?})",
                script.so_far(),
                if tail > 0 {
                    format!(", and {tail} bytes of a torn record after the last one")
                } else {
                    String::new()
                }
            );
            expect_corrupt(&disk, &did)?;
        }
    }
    // Any byte of any record but the last, in random logs.
    let input = (
        commits(2, 6),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        1u8..=255,
    );
    ctx.forall_named(
        &["commits", "victim", "byte", "mask"],
        64,
        input,
        |(Commits(groups), victim, byte, mask)| {
            let disk = SimDisk::new(seed);
            let mut script = Script::new();
            let (wal, ends) = filled(&disk, &groups, &mut script)?;
            drop(wal);
            // A commit that wrote something, with a record written after it.
            let end = ends[ends.len() - 1];
            let victims: Vec<usize> = (0..groups.len())
                .filter(|&i| ends[i + 1] > ends[i] && ends[i + 1] < end)
                .collect();
            if victims.is_empty() {
                return Ok(());
            }
            let victim = victims[victim.index(victims.len())];
            let (start, end) = (ends[victim], ends[victim + 1]);
            let offset = start + byte.index((end - start) as usize) as u64;
            let old = disk.contents(NAME).map_or(0, |c| c[offset as usize]);
            disk.corrupt(NAME, offset, &[old ^ mask])
                .map_err(|e| Failure::new(format!("damaging a byte failed: {e}")))?;
            let did = format!(
                "{}, drop the log, the byte at offset {offset} (in the record of commit {}, bytes \
                 {start} to {end}) xored with {mask:#04x}, Wal::open(dir, {NAME:?})",
                script.so_far(),
                victim + 1
            );
            expect_corrupt(&disk, &did)
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Faults.

fn faults_everywhere(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let scripted = vec![
        vec![put(1, b"a", b"1".to_vec())],
        vec![
            put(2, b"big", spanning(3000, 5)),
            put(3, b"b", b"2".to_vec()),
        ],
    ];
    sweep(seed, &scripted)?;
    ctx.forall_named(&["commits"], 8, commits(1, 4), |Commits(groups)| {
        sweep(seed, &groups)
    })
}

/// Fails every operation of the workload in turn (with an I/O error and a full disk, and a
/// sync with lost data too), and a commit's write or sync together with the cut after it (and
/// with the cut the next commit owes).
fn sweep(seed: u64, groups: &[Vec<Batch>]) -> CheckResult {
    let golden = fault_run(seed, groups, &[])?;
    let mut plans = Vec::new();
    for kind in KINDS {
        for n in 1..=golden.count(kind) {
            for fault in faults_for(kind) {
                plans.push(vec![Aim { kind, n, fault }]);
            }
        }
    }
    // A failed commit cuts its bytes off with the next write: fail that too, so the commit after
    // must make the cut itself.
    let (mut writes, mut syncs) = (0, 0);
    for kind in golden.trace() {
        let n = match kind {
            OpKind::Write => {
                writes += 1;
                writes
            }
            OpKind::Sync => {
                syncs += 1;
                syncs
            }
            _ => continue,
        };
        // After the last commit nothing cuts its bytes off, and a failed sync may have left
        // them whole: a reopen may replay it, as it may after a crash.
        if kind == OpKind::Sync && n == golden.count(kind) {
            continue;
        }
        let failed = |n| Aim {
            kind: OpKind::Write,
            n,
            fault: Fault::IoError,
        };
        let first = Aim {
            kind,
            n,
            fault: Fault::IoError,
        };
        plans.push(vec![first, failed(writes + 1)]);
        // And the cut the next commit still owes fails too: that commit must fail, not write
        // after the garbage. (After a failed write, that is: a failed sync leaves a whole
        // record, which a reopen that nothing cut may replay, as it may after a crash.)
        if kind == OpKind::Write {
            plans.push(vec![first, failed(writes + 1), failed(writes + 2)]);
        }
    }
    for plan in plans {
        fault_run(seed, groups, &plan)?;
    }
    Ok(())
}

/// One run with `aims` armed: create, every commit, a clean reopen, one more commit, the worst
/// crash, recovery. Returns the directory, whose counts size the sweep.
fn fault_run(seed: u64, groups: &[Vec<Batch>], aims: &[Aim]) -> Result<FaultDir, Failure> {
    let profile = Profile {
        failed_writes_leave_a_prefix: true,
        ..Profile::GENTLE
    };
    let disk = SimDisk::with_profile(seed, profile);
    let faults = FaultDir::new(&disk, aims);
    let mut did: Vec<String> = aims
        .iter()
        .map(|aim| {
            format!(
                "(operation {} of kind {:?} fails with Fault::{:?}{})",
                aim.n,
                aim.kind,
                aim.fault,
                if aim.kind == OpKind::Write {
                    ", having written part of its bytes, as a real disk can"
                } else {
                    ""
                }
            )
        })
        .collect();
    let failure = |did: &[String], expected: &str, got: String| {
        Failure::new(format!(
            "did:      {}\nexpected: {expected}\ngot:      {got}",
            did.join(", ")
        ))
    };

    did.push(format!("Wal::create(dir, {NAME:?})"));
    let fired = faults.fired();
    let mut wal = match attempt(|| Wal::create(&*faults.dir(), NAME)) {
        Ok(wal) => wal,
        Err(_) if faults.fired() > fired => return Ok(faults),
        Err(error) => {
            return Err(failure(
                &did,
                "Ok",
                format!("Err({error}), with no fault injected in it"),
            ));
        }
    };
    let mut acked = Vec::new();
    let mut logical = 0;
    for group in
        groups
            .iter()
            .cloned()
            .chain(std::iter::once(vec![put(90, b"last", b"z".to_vec())]))
    {
        let fired = faults.fired();
        match attempt(|| wal.commit(&group)) {
            Ok(()) => {
                did.push(commit_call(&group));
                logical += Record::of(&group).bytes.len() as u64;
                acked.extend(group);
            }
            Err(error) if faults.fired() > fired => {
                did.push(format!("{}, which failed ({error})", commit_call(&group)));
            }
            Err(error) => {
                did.push(commit_call(&group));
                return Err(failure(
                    &did,
                    "Ok: an earlier failed commit must leave the log usable",
                    format!("Err({error}), with no fault injected in it"),
                ));
            }
        }
        did.push("len()".into());
        let len = wal.len();
        if len != logical {
            return Err(failure(
                &did,
                &format!(
                    "{logical}: where the next record goes, after the acknowledged records \
                     (whatever a failed commit left in the file)"
                ),
                len.to_string(),
            ));
        }
        did.pop();
    }
    drop(wal);

    // Opened again without a crash: what failed is not there, whatever it left in the file.
    let mut opened = None;
    for _ in 0..2 {
        let fired = faults.fired();
        match attempt(|| Wal::open(&*faults.dir(), NAME)) {
            Ok(wal) => {
                did.push(format!("drop the log, Wal::open(dir, {NAME:?})"));
                opened = Some(wal);
                break;
            }
            Err(error) if faults.fired() > fired => {
                did.push(format!(
                    "drop the log, Wal::open(dir, {NAME:?}), which failed ({error})"
                ));
            }
            Err(error) => {
                did.push(format!("drop the log, Wal::open(dir, {NAME:?})"));
                return Err(failure(
                    &did,
                    "the log to open",
                    format!(
                        "Err({:?}): {error}, with no fault injected in it",
                        error.kind()
                    ),
                ));
            }
        }
    }
    let Some(wal) = opened else {
        return Err(failure(
            &did,
            "the log to open once the fault had passed",
            "it failed again".into(),
        ));
    };
    did.push("recovered()".into());
    expect_eq(
        did.join(", "),
        Batches(wal.recovered().to_vec()),
        Batches(acked.clone()),
    )?;
    drop(wal);

    // And after the worst crash, everything acknowledged is there.
    disk.crash();
    disk.restart_losing_unsynced();
    did.push(format!(
        "the power failed, losing everything unsynced; Wal::open(dir, {NAME:?})"
    ));
    let wal = Wal::open(&*disk.dir(), NAME).map_err(|e| io_failure(&did.join(", "), e))?;
    did.push("recovered()".into());
    expect_eq(
        did.join(", "),
        Batches(wal.recovered().to_vec()),
        Batches(acked),
    )?;
    Ok(faults)
}
