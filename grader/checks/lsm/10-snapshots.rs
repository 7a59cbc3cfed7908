//! Hidden checks for lsm/snapshots.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::sync::Arc;

use judge::prelude::*;
use kit::crash::{self, KvOp, Limits};
use kit::disk::Dir;
use kit::fault::{Aim, FaultDir, attempt};
use kit::sim::{OpKind, Profile, SimDisk};
use lsm_snapshots::{Db, LEVELS, Options, Snapshot, TableInfo};

use crate::support::{
    History, KINDS, ListedTable, MANIFEST_NAME, ManifestRecord, Seen, TableEntry, TableOptions,
    Watch, faults_for, io_failure, key, no_panic, ordinal, pairs, parse_manifest, parse_table,
    short, table_file, value, value_text, version_text, versions_text, wal_file,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "puts, deletes, gets, scans, snapshots, releases, reads at snapshots, flushes, \
             compactions, reopens and crashes in any order agree with a history of versions: a \
             read at a snapshot sees the newest version at or below its seq, a plain read the \
             newest",
            agrees_with_history,
        )
        .check(
            "a scan and gets at a snapshot give the same answers after later puts, deletes, \
             flushes, compactions of every level and compact_all()",
            snapshot_scan_unchanged,
        )
        .check(
            "flush and compact_all() keep exactly the versions the present and the live \
             snapshots can see (counted in the tables): none missing, none a released snapshot \
             alone could see",
            versions_kept_exactly,
        )
        .check(
            "every flush and every round of compact() keeps what the rule keeps: a flush each \
             version the present or a live snapshot can see, a tombstone included; a round no \
             version nobody can see, and no tombstone at a key's old end where no deeper level \
             may hold the key",
            flushes_and_rounds_keep_the_rule,
        )
        .check(
            "a tombstone stays while a live snapshot sees a value under it, and goes from the \
             last level, with what it hides, once none does",
            tombstones_under_snapshots,
        )
        .check(
            "a read at a snapshot reads no table whose key range cannot hold what it looks for, \
             no table twice, and at most one table of each level below 0",
            reads_only_what_may_hold,
        )
        .check(
            "get_at and scan_at fail with InvalidInput at a snapshot that is not live \
             (released, never taken, or taken before a reopen); of two snapshots at one seq, \
             releasing one leaves the other live",
            not_live_refused,
        )
        .check(
            "the seq continues after a reopen or a crash, from the log or the MANIFEST: a write \
             after it gets the next seq, and wins over every older version",
            seq_continues,
        )
        .check(
            "a crash at any I/O step of writes, flushes and compactions with snapshots live, \
             and again during the recovery after it, loses no acknowledged write and brings \
             back nothing else",
            crash_with_snapshots,
        )
        .check(
            "every I/O operation of a compact_all() with a snapshot live failed in turn: an \
             error or success, never a panic nor a wrong answer at the snapshot or now, and the \
             next open, with the disk well, holds every write",
            faults_in_compact_all,
        )
}

// ---------------------------------------------------------------------------------------------
// Calls, and a run that holds each to the history.

/// A call on the database. A snapshot is named by its place among those taken so far (modulo
/// how many there are); with none taken, a call on one does nothing.
#[derive(Clone, PartialEq, Eq)]
enum Call {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Get(Vec<u8>),
    Scan(Vec<u8>, Option<Vec<u8>>, usize),
    Snapshot,
    Release(usize),
    GetAt(usize, Vec<u8>),
    ScanAt(usize, Vec<u8>, Option<Vec<u8>>, usize),
    Flush,
    Compact,
    /// `flush()` then `compact_all()`, then every version in the tables counted.
    CompactAll,
    Reopen,
    /// The power fails, losing everything unsynced, and the database is opened again.
    Crash,
}

fn limit_text(limit: usize) -> String {
    if limit == usize::MAX {
        "usize::MAX".to_string()
    } else {
        limit.to_string()
    }
}

fn to_text(to: &Option<Vec<u8>>) -> String {
    to.as_ref()
        .map_or("None".to_string(), |to| format!("Some({})", short(to)))
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Put(k, v) => write!(f, "put({}, {})", short(k), short(v)),
            Call::Delete(k) => write!(f, "delete({})", short(k)),
            Call::Get(k) => write!(f, "get({})", short(k)),
            Call::Scan(from, to, limit) => write!(
                f,
                "scan({}, {}, {})",
                short(from),
                to_text(to),
                limit_text(*limit)
            ),
            Call::Snapshot => write!(f, "snapshot()"),
            Call::Release(i) => write!(f, "release(snapshot #{i})"),
            Call::GetAt(i, k) => write!(f, "get_at({}, snapshot #{i})", short(k)),
            Call::ScanAt(i, from, to, limit) => write!(
                f,
                "scan_at({}, {}, {}, snapshot #{i})",
                short(from),
                to_text(to),
                limit_text(*limit)
            ),
            Call::Flush => write!(f, "flush()"),
            Call::Compact => write!(f, "compact()"),
            Call::CompactAll => write!(f, "flush(), compact_all()"),
            Call::Reopen => write!(f, "reopen()"),
            Call::Crash => write!(f, "crash(), reopen()"),
        }
    }
}

fn any_call() -> impl Strategy<Value = Call> {
    let limit = || prop_oneof![Just(usize::MAX), 0..4usize];
    let snap = || 0..8usize;
    prop_oneof![
        8 => (key(), value()).prop_map(|(k, v)| Call::Put(k, v)),
        3 => key().prop_map(Call::Delete),
        2 => key().prop_map(Call::Get),
        1 => (key(), prop::option::of(key()), limit()).prop_map(|(f, t, l)| Call::Scan(f, t, l)),
        3 => Just(Call::Snapshot),
        2 => snap().prop_map(Call::Release),
        4 => (snap(), key()).prop_map(|(i, k)| Call::GetAt(i, k)),
        2 => (snap(), key(), prop::option::of(key()), limit())
            .prop_map(|(i, f, t, l)| Call::ScanAt(i, f, t, l)),
        2 => Just(Call::Flush),
        2 => Just(Call::Compact),
        2 => Just(Call::CompactAll),
        1 => Just(Call::Reopen),
        1 => Just(Call::Crash),
    ]
}

fn options() -> impl Strategy<Value = Options> {
    let memtable = prop_oneof![3 => 0..120usize, 1 => Just(usize::MAX)];
    let block = prop_oneof![Just(1usize), 2..120usize, Just(4096)];
    let l0 = prop_oneof![1..5usize, Just(0), Just(usize::MAX)];
    let l1 = prop_oneof![4 => 0..600u64, 1 => Just(u64::MAX)];
    let multiplier = prop_oneof![1..5u64, Just(10)];
    let table = prop_oneof![3 => 0..200u64, 1 => Just(u64::MAX)];
    (memtable, block, l0, l1, multiplier, table).prop_map(
        |(memtable_bytes, block_size, l0_tables, l1_bytes, multiplier, table_bytes)| Options {
            memtable_bytes,
            block_size,
            restart_interval: 2,
            l0_tables,
            l1_bytes,
            multiplier,
            table_bytes,
        },
    )
}

fn table_options(options: Options) -> TableOptions {
    TableOptions {
        block_size: options.block_size,
        restart_interval: options.restart_interval,
    }
}

/// Options with no flush but the ones a check asks for, and small blocks.
fn small(l0_tables: usize, l1_bytes: u64, multiplier: u64, table_bytes: u64) -> Options {
    Options {
        memtable_bytes: usize::MAX,
        block_size: 48,
        restart_interval: 2,
        l0_tables,
        l1_bytes,
        multiplier,
        table_bytes,
    }
}

/// The database, its disk, the history of what was written, and the snapshots taken.
struct Run {
    disk: SimDisk,
    watch: Watch,
    db: Db,
    options: Options,
    history: History,
    /// Every snapshot taken, released or not, with what the history calls it.
    taken: Vec<Snapshot>,
    script: Vec<String>,
    /// The seq up to which the flushes so far took the writes: the memtable holds the versions
    /// above it.
    flushed: u64,
}

impl Run {
    fn new(seed: u64, options: Options) -> Result<Run, Failure> {
        let disk = SimDisk::new(seed);
        let watch = Watch::new(&disk);
        let script = vec![format!("Db::open(dir, {options:?})")];
        let db = Db::open(watch.dir(), options).map_err(|e| io_failure(&script[0], e))?;
        Ok(Run {
            disk,
            watch,
            db,
            options,
            history: History::default(),
            taken: Vec::new(),
            script,
            flushed: 0,
        })
    }

    fn did(&mut self, call: impl Into<String>) -> String {
        self.script.push(call.into());
        self.so_far()
    }

    fn so_far(&self) -> String {
        // A long script is cut in the middle: its start and its end are what a reader needs.
        if self.script.len() > 40 {
            let head = self.script[..5].join(", ");
            let tail = self.script[self.script.len() - 30..].join(", ");
            format!("{head}, ... ({} calls), {tail}", self.script.len() - 35)
        } else {
            self.script.join(", ")
        }
    }

    /// The snapshot a call names, and its name in messages; `None` if none was taken.
    fn pick(&self, i: usize) -> Option<(usize, Snapshot)> {
        let n = self.taken.len();
        (n > 0).then(|| (i % n, self.taken[i % n].clone()))
    }

    /// Makes a call and holds it to the history, then holds every table it wrote to the keep
    /// rule.
    fn call(&mut self, call: &Call) -> CheckResult {
        let edits = records(&self.disk).len();
        // A flush, even one a write makes for room before it is applied, takes the writes up
        // to here.
        let upto = self.history.last_seq;
        self.apply(call)?;
        self.expect_new_tables(edits, upto)
    }

    fn apply(&mut self, call: &Call) -> CheckResult {
        match call {
            Call::Put(k, v) => {
                let did = self.did(format!("{call:?}"));
                self.db.put(k, v).map_err(|e| io_failure(&did, e))?;
                self.history.write(k, Some(v.clone()));
                self.expect_seq(&did)
            }
            Call::Delete(k) => {
                let did = self.did(format!("{call:?}"));
                self.db.delete(k).map_err(|e| io_failure(&did, e))?;
                self.history.write(k, None);
                self.expect_seq(&did)
            }
            Call::Get(k) => {
                let did = self.did(format!("{call:?}"));
                let got = self.db.get(k).map_err(|e| io_failure(&did, e))?;
                let expected = self.history.get_at(k, u64::MAX);
                expect_value(&did, &got, &expected, "its newest version")
            }
            Call::Scan(from, to, limit) => {
                let did = self.did(format!("{call:?}"));
                let got = self
                    .db
                    .scan(from, to.as_deref(), *limit)
                    .map_err(|e| io_failure(&did, e))?;
                let expected = self.history.scan_at(from, to.as_deref(), *limit, u64::MAX);
                expect_pairs(&did, &got, &expected)
            }
            Call::Snapshot => {
                let n = self.taken.len();
                let did = self.did(format!("snapshot() = #{n}"));
                let got = self.db.snapshot();
                let seq = self.history.snapshot();
                self.taken.push(got.clone());
                expect_eq(
                    format!("{did} (a snapshot is taken at last_seq())"),
                    got,
                    Snapshot { seq },
                )
            }
            Call::Release(i) => {
                let Some((i, snapshot)) = self.pick(*i) else {
                    return Ok(());
                };
                self.did(format!("release(#{i} at seq {})", snapshot.seq));
                self.db.release(snapshot.clone());
                self.history.release(snapshot.seq);
                Ok(())
            }
            Call::GetAt(i, k) => {
                let Some((i, snapshot)) = self.pick(*i) else {
                    return Ok(());
                };
                let did = self.did(format!(
                    "get_at({}, #{i} at seq {})",
                    short(k),
                    snapshot.seq
                ));
                let got = self.db.get_at(k, &snapshot);
                if !self.history.is_live(snapshot.seq) {
                    return expect_refused(&did, got.map(|v| value_text(&v)));
                }
                let got = got.map_err(|e| io_failure(&did, e))?;
                let expected = self.history.get_at(k, snapshot.seq);
                expect_value(
                    &did,
                    &got,
                    &expected,
                    &format!("its newest version at or below seq {}", snapshot.seq),
                )
            }
            Call::ScanAt(i, from, to, limit) => {
                let Some((i, snapshot)) = self.pick(*i) else {
                    return Ok(());
                };
                let did = self.did(format!(
                    "scan_at({}, {}, {}, #{i} at seq {})",
                    short(from),
                    to_text(to),
                    limit_text(*limit),
                    snapshot.seq
                ));
                let got = self.db.scan_at(from, to.as_deref(), *limit, &snapshot);
                if !self.history.is_live(snapshot.seq) {
                    return expect_refused(&did, got.map(|p| pairs(&p)));
                }
                let got = got.map_err(|e| io_failure(&did, e))?;
                let expected = self
                    .history
                    .scan_at(from, to.as_deref(), *limit, snapshot.seq);
                expect_pairs(&did, &got, &expected)
            }
            Call::Flush => {
                let did = self.did("flush()");
                self.db.flush().map_err(|e| io_failure(&did, e))
            }
            Call::Compact => {
                let did = self.did("compact()");
                self.db.compact().map_err(|e| io_failure(&did, e))
            }
            Call::CompactAll => {
                let did = self.did("flush(), compact_all()");
                self.db.flush().map_err(|e| io_failure(&did, e))?;
                let before = records(&self.disk);
                let tables = self.db.tables().len();
                self.watch.take();
                self.db.compact_all().map_err(|e| io_failure(&did, e))?;
                no_early_removal(&self.watch.take(), &did)?;
                let after = records(&self.disk);
                let edits = if tables == 0 { 0 } else { 1 };
                expect_eq(
                    format!(
                        "{did}, counting the MANIFEST's records before and after compact_all() \
                         ({tables} tables before it: one round, one edit; no table, no round)"
                    ),
                    after.len(),
                    before.len() + edits,
                )?;
                let expected = named(&self.disk);
                let got: BTreeSet<String> = self.disk.files().into_iter().map(|f| f.name).collect();
                expect(
                    got == expected,
                    format!(
                        "did:      {did}, then listed the directory\nexpected: {expected:?} (the \
                         MANIFEST, its log and its tables: the tables compact_all() replaced are \
                         removed)\ngot:      {got:?}"
                    ),
                )?;
                self.expect_versions(&did)
            }
            Call::Reopen => {
                let did = self.did("reopen()");
                self.db =
                    Db::open(self.watch.dir(), self.options).map_err(|e| io_failure(&did, e))?;
                self.history.forget_snapshots();
                self.expect_seq(&format!("{did} (snapshots are gone; writes are not)"))
            }
            Call::Crash => {
                let did = self.did("crash(), reopen()");
                self.disk.crash();
                self.disk.restart_losing_unsynced();
                self.db =
                    Db::open(self.watch.dir(), self.options).map_err(|e| io_failure(&did, e))?;
                self.history.forget_snapshots();
                self.expect_seq(&did)
            }
        }
    }

    fn calls(&mut self, calls: &[Call]) -> CheckResult {
        calls.iter().try_for_each(|call| self.call(call))
    }

    fn expect_seq(&self, did: &str) -> CheckResult {
        expect_eq(
            format!(
                "{did}, last_seq() (the n-th write has seq n, across flushes, reopens and crashes)"
            ),
            self.db.last_seq(),
            self.history.last_seq,
        )
    }

    /// Every version in the tables, level by level as `tables()` lists them, once every table
    /// parses.
    fn versions(&self, did: &str) -> Result<Vec<TableEntry>, Failure> {
        let mut all = Vec::new();
        for info in self.db.tables() {
            let name = table_file(info.number);
            let bytes = self.disk.contents(&name).unwrap_or_default();
            let parsed = parse_table(&bytes, table_options(self.options)).map_err(|e| {
                Failure::new(format!(
                    "did:      {did}, then read {name} (level {})\nexpected: a table in the \
                     format of the table scenes\ngot:      {e}",
                    info.level
                ))
            })?;
            all.extend(parsed.entries());
        }
        Ok(all)
    }

    /// Every table the MANIFEST records from `edits` on added, held to the keep rule, edit by
    /// edit: a flush's table (level 0) holds exactly the memtable's versions the rule keeps,
    /// tombstones included; a compaction's table holds no version that neither the present nor
    /// a live snapshot can see, and no tombstone at a key's old end where no deeper level (in
    /// the same edit) may hold the key. A table a later edit of the same call replaced is gone,
    /// and not read.
    fn expect_new_tables(&mut self, edits: usize, upto: u64) -> CheckResult {
        let records = records(&self.disk);
        for r in edits.max(1)..records.len() {
            let before: BTreeSet<u64> = records[r - 1].tables.iter().map(|t| t.number).collect();
            let edit = &records[r];
            for table in edit.tables.iter().filter(|t| !before.contains(&t.number)) {
                let name = table_file(table.number);
                let flush = table.level == 0;
                let Some(bytes) = self.disk.contents(&name) else {
                    if flush {
                        self.flushed = upto;
                    }
                    continue;
                };
                let did = self.so_far();
                let got = parse_table(&bytes, table_options(self.options))
                    .map_err(|e| {
                        Failure::new(format!(
                            "did:      {did}, then read {name} (level {})\nexpected: a table in \
                             the format of the table scenes\ngot:      {e}",
                            table.level
                        ))
                    })?
                    .entries();
                if flush {
                    let expected = self.history.kept_between(self.flushed, upto);
                    self.flushed = upto;
                    if got != expected {
                        let live: Vec<u64> = self.history.live.keys().copied().collect();
                        return fail(format!(
                            "did:      {did}, then read {name}, the table the flush wrote\n\
                             expected: the memtable's versions the rule keeps: of each key its \
                             newest, and its newest at or below each live snapshot (at seqs \
                             {live:?}), a tombstone included (an older table may hold the key): \
                             {}\ngot:      {}",
                            versions_text(&expected),
                            versions_text(&got)
                        ));
                    }
                    continue;
                }
                let deeper: Vec<&ListedTable> = edit
                    .tables
                    .iter()
                    .filter(|t| t.level > table.level)
                    .collect();
                self.expect_round_kept(&did, &name, table.level, &got, &deeper)?;
            }
        }
        Ok(())
    }

    /// A compaction's new table of `level`: of each key, no version the rule drops, and no
    /// tombstone at its old end unless a table of `deeper` may hold the key.
    fn expect_round_kept(
        &self,
        did: &str,
        name: &str,
        level: u32,
        got: &[TableEntry],
        deeper: &[&ListedTable],
    ) -> CheckResult {
        let live: Vec<u64> = self.history.live.keys().copied().collect();
        for (i, entry) in got.iter().enumerate() {
            let newer = got.get(i.wrapping_sub(1)).filter(|n| n.key == entry.key);
            if let Some(newer) = newer
                && !self.history.seen_between(entry.seq, newer.seq)
            {
                return fail(format!(
                    "did:      {did}, then read {name}, a table a compaction wrote to level \
                     {level}\nexpected: no version that neither the present nor a live \
                     snapshot (at seqs {live:?}) can see: a round keeps {} only for a snapshot \
                     at a seq from {} to {}\ngot:      {} kept under {} in {}",
                    version_text(entry),
                    entry.seq,
                    newer.seq - 1,
                    version_text(entry),
                    version_text(newer),
                    versions_text(got)
                ));
            }
            let oldest = got.get(i + 1).is_none_or(|next| next.key != entry.key);
            let below = deeper.iter().find(|t| {
                t.first_key.as_slice() <= entry.key.as_slice()
                    && entry.key.as_slice() <= t.last_key.as_slice()
            });
            if oldest && entry.value.is_none() && below.is_none() {
                return fail(format!(
                    "did:      {did}, then read {name}, a table a compaction wrote to level \
                     {level}\nexpected: no tombstone at the old end of a key's kept versions \
                     where no deeper level may hold the key (it hides nothing from anybody: \
                     drop it, and again while the oldest kept version is a tombstone)\ngot:      \
                     {} kept, the oldest of {}'s versions, no table below level {level} \
                     holding it, in {}",
                    version_text(entry),
                    short(&entry.key),
                    versions_text(got)
                ));
            }
        }
        Ok(())
    }

    /// After `flush()` and `compact_all()`: every table on the last level, apart and in key
    /// order, holding exactly the versions the history says a reader can still see.
    fn expect_versions(&self, did: &str) -> CheckResult {
        let tables = self.db.tables();
        if let Some(t) = tables.iter().find(|t| t.level as usize != LEVELS - 1) {
            return fail(format!(
                "did:      {did}, tables()\nexpected: every table on level {} after \
                 compact_all()\ngot:      table #{} on level {}",
                LEVELS - 1,
                t.number,
                t.level
            ));
        }
        if let Some(pair) = tables.windows(2).find(|p| p[0].last_key >= p[1].first_key) {
            return fail(format!(
                "did:      {did}, tables()\nexpected: the tables of level {} in key order, their \
                 key ranges apart (a key's versions all in one table)\ngot:      #{} \
                 {}..={} then #{} {}..={}",
                LEVELS - 1,
                pair[0].number,
                short(&pair[0].first_key),
                short(&pair[0].last_key),
                pair[1].number,
                short(&pair[1].first_key),
                short(&pair[1].last_key)
            ));
        }
        let got = self.versions(did)?;
        let expected = self.history.needed();
        if got == expected {
            return Ok(());
        }
        let missing: Vec<TableEntry> = expected
            .iter()
            .filter(|e| !got.contains(e))
            .cloned()
            .collect();
        let extra: Vec<TableEntry> = got
            .iter()
            .filter(|e| !expected.contains(e))
            .cloned()
            .collect();
        let live: Vec<u64> = self.history.live.keys().copied().collect();
        fail(format!(
            "did:      {did}, then read every table\nexpected: of each key its newest version, \
             and for each live snapshot (at seqs {live:?}) its newest version at or below the \
             snapshot's seq, no tombstone with nothing kept under it: {}\ngot:      {}\n\
             missing:  {}\nextra:    {}",
            versions_text(&expected),
            versions_text(&got),
            versions_text(&missing),
            versions_text(&extra)
        ))
    }
}

fn expect_value(
    did: &str,
    got: &Option<Vec<u8>>,
    expected: &Option<Vec<u8>>,
    which: &str,
) -> CheckResult {
    if got == expected {
        return Ok(());
    }
    fail(format!(
        "did:      {did}\nexpected: {} ({which})\ngot:      {}",
        value_text(expected),
        value_text(got)
    ))
}

fn expect_pairs(
    did: &str,
    got: &[(Vec<u8>, Vec<u8>)],
    expected: &[(Vec<u8>, Vec<u8>)],
) -> CheckResult {
    if got == expected {
        return Ok(());
    }
    fail(format!(
        "did:      {did}\nexpected: {}\ngot:      {}",
        pairs(expected),
        pairs(got)
    ))
}

/// A read at a snapshot that is not live must fail with `InvalidInput`.
fn expect_refused(did: &str, got: io::Result<String>) -> CheckResult {
    match got {
        Err(error) if error.kind() == io::ErrorKind::InvalidInput => Ok(()),
        Err(error) => fail(format!(
            "did:      {did}\nexpected: Err(InvalidInput): the snapshot is not live\ngot:      \
             Err({:?}): {error}",
            error.kind()
        )),
        Ok(answer) => fail(format!(
            "did:      {did}\nexpected: Err(InvalidInput): the snapshot is not live (released, \
             never taken, or taken before a reopen), and its versions may be gone\ngot:      \
             Ok({answer})"
        )),
    }
}

fn put(key: &str, value: &str) -> Call {
    Call::Put(key.as_bytes().to_vec(), value.as_bytes().to_vec())
}

fn delete(key: &str) -> Call {
    Call::Delete(key.as_bytes().to_vec())
}

fn get(key: &str) -> Call {
    Call::Get(key.as_bytes().to_vec())
}

fn get_at(i: usize, key: &str) -> Call {
    Call::GetAt(i, key.as_bytes().to_vec())
}

fn scan_all_at(i: usize) -> Call {
    Call::ScanAt(i, Vec::new(), None, usize::MAX)
}

fn scan_all() -> Call {
    Call::Scan(Vec::new(), None, usize::MAX)
}

fn k(i: usize) -> String {
    format!("k{i:03}")
}

// ---------------------------------------------------------------------------------------------
// Behaviour.

fn agrees_with_history(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["options", "calls"],
        64,
        (options(), prop::collection::vec(any_call(), 0..40)),
        |(options, calls)| {
            let mut run = Run::new(seed, options)?;
            run.calls(&calls)?;
            // Whatever the calls left, every snapshot read once more after a last compaction.
            run.calls(&[Call::CompactAll, scan_all()])?;
            for i in 0..run.taken.len() {
                run.call(&scan_all_at(i))?;
            }
            Ok(())
        },
    )
}

fn snapshot_scan_unchanged(ctx: &mut Ctx) -> CheckResult {
    // Small tables, level 1 of 300 bytes: compactions reach levels 2 and deeper.
    let mut run = Run::new(ctx.seed(), small(2, 300, 2, 60))?;
    let keys = 40;
    for i in 0..keys {
        run.call(&put(&k(i), &format!("v0-{i}")))?;
    }
    run.call(&Call::Flush)?;
    for i in (10..keys + 10).step_by(2) {
        run.call(&put(&k(i), &format!("v1-{i}")))?;
    }
    for i in (0..keys).step_by(7) {
        run.call(&delete(&k(i)))?;
    }
    // #0: half its state in the memtable, half in a table.
    run.call(&Call::Snapshot)?;
    let every = |run: &mut Run, s: usize| -> CheckResult {
        run.call(&scan_all_at(s))?;
        run.call(&Call::ScanAt(
            s,
            k(5).into_bytes(),
            Some(k(30).into_bytes()),
            7,
        ))?;
        for i in (0..keys + 12).step_by(3) {
            run.call(&get_at(s, &k(i)))?;
        }
        Ok(())
    };
    every(&mut run, 0)?;
    for round in 0..4 {
        for i in (round..keys + 10).step_by(3) {
            run.call(&put(&k(i), &format!("v{}-{i}", round + 2)))?;
        }
        for i in (round..keys).step_by(5) {
            run.call(&delete(&k(i)))?;
        }
        // The newer versions in the memtable, then in a table, then merged down.
        every(&mut run, 0)?;
        run.calls(&[Call::Flush, Call::Compact])?;
        every(&mut run, 0)?;
        if round == 1 {
            // #1: a second snapshot, between the first and the present.
            run.call(&Call::Snapshot)?;
        }
    }
    let deep = run.db.tables().iter().any(|t| t.level >= 2);
    expect(
        deep,
        format!(
            "did:      {}, tables()\nexpected: tables on level 2 or deeper (level 1 holds 300 \
             bytes)\ngot:      levels {:?}",
            run.so_far(),
            run.db.tables().iter().map(|t| t.level).collect::<Vec<_>>()
        ),
    )?;
    run.call(&Call::CompactAll)?;
    every(&mut run, 0)?;
    every(&mut run, 1)?;
    run.calls(&[Call::Release(0), put(&k(3), "last"), Call::CompactAll])?;
    every(&mut run, 1)?;
    run.calls(&[scan_all(), Call::Release(1), Call::CompactAll, scan_all()])
}

fn versions_kept_exactly(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    // k at seqs 1..=5, snapshots at 1 and 3: the present sees 5, they see 1 and 3; nobody can
    // read 2 or 4 again.
    let mut run = Run::new(seed, small(4, u64::MAX, 10, u64::MAX))?;
    run.calls(&[
        put("k", "a"),
        Call::Snapshot,
        put("k", "b"),
        put("k", "c"),
        Call::Snapshot,
        put("k", "d"),
        put("k", "e"),
        Call::Flush,
    ])?;
    // The flush alone: one table on level 0.
    let did = run.so_far();
    let got = run.versions(&did)?;
    let expected = run.history.needed();
    if got != expected {
        return fail(format!(
            "did:      {did}, then read the table the flush wrote\nexpected: k's newest \
             version, and the newest at or below each live snapshot (seqs 1 and 3): {}\ngot:      \
             {}",
            versions_text(&expected),
            versions_text(&got)
        ));
    }
    run.calls(&[get_at(0, "k"), get_at(1, "k"), get("k"), Call::CompactAll])?;
    // Released one by one: the versions only they could see go.
    run.calls(&[Call::Release(1), Call::CompactAll, get_at(0, "k")])?;
    run.calls(&[Call::Release(0), Call::CompactAll, get("k")])?;

    // Many keys, many versions, snapshots between them, in tables of several blocks; then every
    // snapshot released and one version a key left.
    let mut run = Run::new(seed, small(2, 200, 2, 90))?;
    for round in 0..6usize {
        for i in (round % 3..24).step_by(round % 3 + 1) {
            run.call(&put(&k(i), &format!("r{round}")))?;
        }
        if round % 2 == 0 {
            run.call(&Call::Snapshot)?;
        }
        run.call(&delete(&k(round * 3)))?;
        run.calls(&[Call::Flush, Call::Compact])?;
    }
    run.call(&Call::CompactAll)?;
    for s in 0..3 {
        run.call(&scan_all_at(s))?;
    }
    run.calls(&[
        Call::Release(1),
        Call::CompactAll,
        scan_all_at(0),
        scan_all_at(2),
    ])?;
    run.calls(&[
        Call::Release(0),
        Call::Release(2),
        Call::CompactAll,
        scan_all(),
    ])?;
    let did = run.so_far();
    let got = run.versions(&did)?;
    let mut keys: Vec<&[u8]> = got.iter().map(|e| e.key.as_slice()).collect();
    keys.dedup();
    expect(
        keys.len() == got.len() && got.iter().all(|e| e.value.is_some()),
        format!(
            "did:      {did}, then read every table\nexpected: one version a key and no \
             tombstone, with no snapshot live\ngot:      {}",
            versions_text(&got)
        ),
    )
}

/// Scripted runs whose flushes and rounds each have versions to drop and tombstones to keep or
/// drop; `Run::call` reads every table they write.
fn flushes_and_rounds_keep_the_rule(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    // No snapshot: two flushes, then a round of both into level 1, the bottom of what is
    // there: one version a key, and j's tombstone gone with the value under it.
    let mut run = Run::new(seed, small(2, u64::MAX, 10, u64::MAX))?;
    run.calls(&[put("k", "1"), put("j", "x"), Call::Flush])?;
    run.calls(&[put("k", "2"), delete("j"), Call::Flush, Call::Compact])?;
    // A flush with a tombstone at a key's old end, seen by a snapshot, and no table holding
    // the key: the flush keeps it; the round that follows drops it and keeps the put over it.
    run.calls(&[delete("t"), Call::Snapshot, put("t", "1"), put("t", "2")])?;
    run.calls(&[Call::Flush, put("u", "1"), Call::Flush, Call::Compact])?;
    run.calls(&[get_at(0, "t"), get("t"), Call::Release(0)])?;
    // Tombstones over tombstones at the old end, under a put a snapshot keeps, then released.
    run.calls(&[
        put("m", "1"),
        delete("m"),
        Call::Snapshot,
        put("m", "2"),
        delete("m"),
        Call::Snapshot,
        put("m", "3"),
        Call::Flush,
    ])?;
    run.calls(&[put("n", "1"), Call::Flush, Call::Compact, get_at(1, "m")])?;
    run.calls(&[Call::Release(1), put("m", "4"), Call::Flush, Call::Flush])?;
    run.calls(&[put("n", "2"), Call::Flush, Call::Compact, get_at(2, "m")])?;
    // Rounds into a level above a deeper one that holds the keys: the tombstones stay there.
    let mut run = Run::new(seed, small(2, 60, 2, 60))?;
    for i in 0..8 {
        run.call(&put(&k(i), "deep"))?;
    }
    run.calls(&[Call::Flush, Call::Flush, Call::CompactAll, Call::Snapshot])?;
    for round in 0..3 {
        for i in (round..8).step_by(2) {
            run.call(&delete(&k(i)))?;
            run.call(&put(&k(i), &format!("r{round}")))?;
            run.call(&delete(&k(i)))?;
        }
        run.calls(&[Call::Flush, Call::Compact])?;
        if round == 1 {
            run.call(&Call::Release(0))?;
        }
    }
    run.calls(&[scan_all(), Call::CompactAll, scan_all()])
}

fn tombstones_under_snapshots(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    // A value, a snapshot that sees it, then a delete: at the bottom the tombstone must stay, or
    // the present would read the value again.
    let mut run = Run::new(seed, small(1, 0, 1, 60))?;
    run.calls(&[
        put("t", "old"),
        put("z", "1"),
        Call::Snapshot,
        delete("t"),
        Call::CompactAll,
        get("t"),
        get_at(0, "t"),
        scan_all(),
        scan_all_at(0),
    ])?;
    // The same through compact(): l1_bytes 0 sends every table down to level 6.
    run.calls(&[put("u", "old"), Call::Snapshot, delete("u"), Call::Flush])?;
    run.calls(&[Call::Compact, get("u"), get_at(1, "u"), get("t")])?;
    // Released: the tombstones go, with the values under them.
    run.calls(&[
        Call::Release(0),
        Call::Release(1),
        Call::CompactAll,
        get("t"),
    ])?;
    // Tombstones over tombstones: a snapshot that sees a delete keeps nothing for the bottom.
    let mut run = Run::new(seed, small(1, 0, 1, 60))?;
    run.calls(&[
        put("x", "1"),
        delete("x"),
        Call::Snapshot,
        put("x", "2"),
        Call::Snapshot,
        delete("x"),
        put("y", "1"),
        Call::CompactAll,
        get_at(0, "x"),
        get_at(1, "x"),
        get("x"),
        Call::Release(1),
        Call::CompactAll,
        get_at(0, "x"),
        get("x"),
    ])?;
    // A tombstone above a value on a deeper level, with a snapshot that sees the value: reads at
    // every step of the compactions that bring them together.
    let mut run = Run::new(seed, small(1, u64::MAX, 10, 60))?;
    run.calls(&[put("m", "deep"), put("n", "1"), Call::Flush, Call::Compact])?;
    run.calls(&[
        Call::Snapshot,
        delete("m"),
        Call::Flush,
        get_at(0, "m"),
        get("m"),
    ])?;
    run.calls(&[Call::Compact, get_at(0, "m"), get("m"), Call::CompactAll])?;
    run.calls(&[get_at(0, "m"), get("m"), scan_all_at(0), scan_all()])
}

/// The MANIFEST's whole records.
fn records(disk: &SimDisk) -> Vec<ManifestRecord> {
    let bytes = disk.contents(MANIFEST_NAME).unwrap_or_default();
    parse_manifest(&bytes).map_or_else(|_| Vec::new(), |(records, _)| records)
}

/// The names the MANIFEST's last whole record says the directory holds.
fn named(disk: &SimDisk) -> BTreeSet<String> {
    let mut named = BTreeSet::from([MANIFEST_NAME.to_string()]);
    if let Some(last) = records(disk).last() {
        named.insert(wal_file(last.wal));
        named.extend(last.tables.iter().map(|t| table_file(t.number)));
    }
    named
}

/// Fails if a table was removed while the durable MANIFEST still listed it.
fn no_early_removal(seen: &[Seen], did: &str) -> CheckResult {
    match seen.iter().find_map(|s| match s {
        Seen::RemovedWhileListed(name) => Some(name),
        _ => None,
    }) {
        Some(name) => fail(format!(
            "did:      {did}, watching the disk\nexpected: a replaced table removed only once the \
             MANIFEST record without it is synced\ngot:      {name} removed while the synced \
             MANIFEST still listed it: a crash now loses its keys"
        )),
        None => Ok(()),
    }
}

/// The tables a call read, by name, each with how many reads, once the watch was cleared
/// before it.
fn reads(run: &Run) -> std::collections::BTreeMap<String, usize> {
    let mut reads = std::collections::BTreeMap::new();
    for seen in run.watch.take() {
        if let Seen::Read(name) = seen {
            *reads.entry(name).or_default() += 1;
        }
    }
    reads
}

/// A table as a message names it.
fn shown(t: &TableInfo) -> String {
    format!(
        "{} (level {}, {}..={})",
        table_file(t.number),
        t.level,
        short(&t.first_key),
        short(&t.last_key)
    )
}

fn reads_only_what_may_hold(ctx: &mut Ctx) -> CheckResult {
    // Level 1 of small tables apart, two narrow tables on level 0 above it, and versions of many
    // keys in both, under two snapshots.
    let mut run = Run::new(ctx.seed(), small(3, u64::MAX, 10, 60))?;
    for i in 0..40 {
        run.call(&put(&k(i), "a"))?;
    }
    run.call(&Call::Snapshot)?;
    for i in (0..40).step_by(2) {
        run.call(&put(&k(i), "b"))?;
    }
    run.call(&Call::Flush)?;
    for (from, to, value) in [(10, 20, "c"), (5, 9, "d")] {
        for i in from..to {
            run.call(&put(&k(i), value))?;
        }
        run.call(&Call::Flush)?;
    }
    run.calls(&[Call::Compact, Call::Snapshot])?;
    for i in 20..25 {
        run.call(&put(&k(i), "e"))?;
    }
    // Level 0 of one table, then of two.
    run.call(&Call::Flush)?;
    gets_read_what_may_hold(&mut run, 1)?;
    run.calls(&[put(&k(30), "f"), put(&k(31), "f"), Call::Flush])?;
    gets_read_what_may_hold(&mut run, 2)?;
    let tables = run.db.tables();
    let info = |name: &str| {
        tables
            .iter()
            .find(|t| table_file(t.number) == name)
            .cloned()
    };
    // Scans: one that ends where a table begins must not read that table.
    let ranges: [(usize, usize); 4] = [(21, 30), (0, 5), (12, 13), (25, 30)];
    for (from, to) in ranges {
        for s in [0, 1] {
            run.watch.take();
            run.call(&Call::ScanAt(
                s,
                k(from).into_bytes(),
                Some(k(to).into_bytes()),
                usize::MAX,
            ))?;
            let did = format!("{}, counting its reads", run.so_far());
            for (name, n) in reads(&run) {
                let Some(t) = info(&name) else { continue };
                if t.last_key < k(from).into_bytes() || t.first_key >= k(to).into_bytes() {
                    return fail(format!(
                        "did:      {did}\nexpected: no read of {}: its key range does not meet \
                         {}..{}\ngot:      {n} reads of it",
                        shown(&t),
                        k(from),
                        k(to)
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Every get and get_at of the keys around the tables' ranges, each held to the reads it makes;
/// `l0` tables on level 0.
fn gets_read_what_may_hold(run: &mut Run, l0: usize) -> CheckResult {
    let tables = run.db.tables();
    expect(
        tables.iter().filter(|t| t.level == 0).count() == l0
            && tables.iter().filter(|t| t.level == 1).count() >= 4,
        format!(
            "did:      {}, tables()\nexpected: {l0} tables on level 0 and several on level 1\n\
             got:      levels {:?}",
            run.so_far(),
            tables.iter().map(|t| t.level).collect::<Vec<_>>()
        ),
    )?;
    let info = |name: &str| {
        tables
            .iter()
            .find(|t| table_file(t.number) == name)
            .cloned()
    };
    let mut keys: Vec<Vec<u8>> = (0..42).map(|i| k(i).into_bytes()).collect();
    keys.extend([
        b"".to_vec(),
        b"k".to_vec(),
        b"z".to_vec(),
        b"k0205".to_vec(),
    ]);
    for key in &keys {
        for s in [Some(0), Some(1), None] {
            run.watch.take();
            match s {
                Some(s) => run.call(&Call::GetAt(s, key.clone()))?,
                None => run.call(&Call::Get(key.clone()))?,
            }
            let did = format!("{}, counting its reads", run.so_far());
            let mut per_level = [0usize; LEVELS];
            for (name, n) in reads(run) {
                let Some(t) = info(&name) else { continue };
                if t.first_key.as_slice() > key.as_slice() || key.as_slice() > t.last_key.as_slice()
                {
                    return fail(format!(
                        "did:      {did}\nexpected: no read of {}: its key range cannot hold the \
                         key\ngot:      {n} reads of it",
                        shown(&t)
                    ));
                }
                if n > 1 {
                    return fail(format!(
                        "did:      {did}\nexpected: one read of {} at most: one block of a table \
                         holds the version sought\ngot:      {n} reads of it",
                        shown(&t)
                    ));
                }
                per_level[t.level as usize] += 1;
            }
            if let Some(level) = (1..LEVELS).find(|&l| per_level[l] > 1) {
                return fail(format!(
                    "did:      {did}\nexpected: one table of level {level} read at most: its \
                     tables are apart, and one holds the key\ngot:      {} tables of it read",
                    per_level[level]
                ));
            }
        }
    }
    Ok(())
}

fn not_live_refused(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), small(4, u64::MAX, 10, u64::MAX))?;
    run.calls(&[put("a", "1"), Call::Snapshot, Call::Release(0)])?;
    // Released: refused, before any flush or compaction had the chance to drop its versions.
    run.calls(&[get_at(0, "a"), scan_all_at(0)])?;
    // Two at one seq: releasing one (twice, even: the second does nothing) leaves the other.
    run.calls(&[
        put("a", "2"),
        Call::Snapshot,
        Call::Snapshot,
        Call::Release(1),
        put("a", "3"),
        Call::CompactAll,
        get_at(2, "a"),
        scan_all_at(2),
        get_at(1, "a"),
    ])?;
    run.calls(&[
        Call::Release(2),
        Call::Release(2),
        get_at(2, "a"),
        scan_all_at(2),
    ])?;
    // One never taken.
    let did = run.did("get_at(\"a\", Snapshot { seq: 2 }), never taken");
    expect_refused(
        &did,
        run.db
            .get_at(b"a", &Snapshot { seq: 2 })
            .map(|v| value_text(&v)),
    )?;
    // Taken before a reopen: its seq is still below last_seq(), and still refused.
    run.calls(&[put("b", "1"), Call::Snapshot, Call::Reopen])?;
    run.calls(&[get_at(3, "a"), scan_all_at(3), get("a")])?;
    run.calls(&[put("a", "4"), Call::Snapshot, get_at(4, "a"), Call::Crash])?;
    run.calls(&[get_at(4, "a"), get("a")])
}

fn seq_continues(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), small(4, u64::MAX, 10, u64::MAX))?;
    // The seq from the log alone.
    run.calls(&[put("a", "1"), put("a", "2"), Call::Reopen])?;
    run.calls(&[put("a", "3"), Call::Snapshot, get_at(0, "a"), Call::Flush])?;
    // From the MANIFEST alone: the new log is empty.
    run.calls(&[Call::Reopen, put("b", "1"), Call::CompactAll, Call::Reopen])?;
    run.calls(&[put("a", "5"), Call::Flush, Call::Reopen, get("a")])?;
    // The newer write wins in a merge, which goes by seq, not by table.
    run.calls(&[Call::CompactAll, get("a"), scan_all(), Call::Crash])?;
    run.calls(&[delete("a"), Call::CompactAll, get("a"), scan_all()])?;
    let did = run.so_far();
    let top = run.versions(&did)?.iter().map(|e| e.seq).max().unwrap_or(0);
    expect(
        top <= run.db.last_seq(),
        format!(
            "did:      {did}, then read every table\nexpected: no version with a seq above \
             last_seq() = {}\ngot:      one at seq {top}",
            run.db.last_seq()
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Crashes and faults.

const CRASH_OPTIONS: Options = Options {
    memtable_bytes: 60,
    block_size: 64,
    restart_interval: 2,
    l0_tables: 2,
    l1_bytes: 80,
    multiplier: 2,
    table_bytes: 60,
};

/// The database and the snapshots the crash driver's calls took.
struct Pinned {
    db: Db,
    snapshots: Vec<Snapshot>,
}

/// The crash driver's handle on the database: a snapshot is taken at every open and before
/// every maintenance, which is a flush, a compaction and a compaction of everything; a sync
/// (every write is synced already) releases the oldest snapshot.
struct WithSnapshots;

impl crash::Subject for WithSnapshots {
    type Store = Pinned;

    fn open(dir: Arc<dyn Dir>) -> io::Result<Pinned> {
        let mut db = Db::open(dir, CRASH_OPTIONS)?;
        let snapshots = vec![db.snapshot()];
        Ok(Pinned { db, snapshots })
    }

    fn apply(store: &mut Pinned, op: &KvOp) -> io::Result<()> {
        let db = &mut store.db;
        match op {
            KvOp::Put(key, value) => db.put(key, value),
            KvOp::Delete(key) => db.delete(key),
            KvOp::Maintain => {
                store.snapshots.push(db.snapshot());
                db.flush()?;
                db.compact()?;
                db.compact_all()
            }
            KvOp::Sync => {
                if !store.snapshots.is_empty() {
                    db.release(store.snapshots.remove(0));
                }
                Ok(())
            }
            KvOp::Reopen => Ok(()),
        }
    }

    fn get(store: &mut Pinned, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        store.db.get(key)
    }

    fn syncs_every_write() -> bool {
        true
    }
}

fn crash_check(seed: u64, ops: &[KvOp], crash_points: u64) -> CheckResult {
    let probes = vec![b"never written".to_vec(), b"zz".to_vec()];
    let limits = Limits {
        crash_points,
        crash_during_recovery: true,
        profile: Profile::HARSH,
    };
    crash::check::<WithSnapshots>(seed, ops, &probes, limits)
        .map(drop)
        .map_err(|failure| {
            Failure::new(format!(
                "opened with {CRASH_OPTIONS:?}, a snapshot taken at each open; maintain() is \
                 snapshot(), flush(), compact(), compact_all(); sync() releases the oldest \
                 snapshot (every write is synced)\n{failure}"
            ))
        })
}

fn crash_with_snapshots(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let p = |k: &str, v: &[u8]| KvOp::Put(k.as_bytes().to_vec(), v.to_vec());
    let d = |k: &str| KvOp::Delete(k.as_bytes().to_vec());
    let scripted = vec![
        p("a", b"1"),
        p("b", b"2"),
        p("a", b"3"),
        KvOp::Maintain,
        p("b", b"4"),
        d("a"),
        p("c", &[b'x'; 50]),
        KvOp::Maintain,
        KvOp::Sync,
        p("a", b"5"),
        d("b"),
        KvOp::Maintain,
        KvOp::Sync,
        KvOp::Sync,
        KvOp::Maintain,
    ];
    crash_check(seed, &scripted, 60)?;
    let key = prop::sample::select(vec![
        b"a".to_vec(),
        b"b".to_vec(),
        b"c".to_vec(),
        Vec::new(),
    ]);
    let value = prop_oneof![
        6 => prop::collection::vec(b'a'..=b'z', 0..8),
        1 => Just(vec![b'v'; 70]),
    ];
    let op = prop_oneof![
        5 => (key.clone(), value).prop_map(|(k, v)| KvOp::Put(k, v)),
        2 => key.prop_map(KvOp::Delete),
        2 => Just(KvOp::Maintain),
        1 => Just(KvOp::Sync),
        1 => Just(KvOp::Reopen),
    ];
    ctx.forall_named(&["ops"], 5, prop::collection::vec(op, 1..14), |ops| {
        crash_check(seed, &ops, 16)
    })
}

/// What each trial does before its `compact_all()`: a database of several levels is opened,
/// a snapshot taken, keys overwritten and deleted, and flushed.
fn before_compact_all(db: &mut Db, history: &mut History) -> io::Result<Snapshot> {
    let snapshot = db.snapshot();
    history.snapshot();
    for i in (0..12).step_by(2) {
        db.put(k(i).as_bytes(), b"new")?;
        history.write(k(i).as_bytes(), Some(b"new".to_vec()));
    }
    for i in [1, 4, 9] {
        db.delete(k(i).as_bytes())?;
        history.write(k(i).as_bytes(), None);
    }
    db.flush()?;
    Ok(snapshot)
}

const BEFORE: &str = "snapshot(), put(k000..k010 every 2nd, \"new\"), delete(k001, k004, k009), \
                      flush()";

/// A closed database of keys k000..k011 on levels 0, 1 and 2, and its history.
fn ready(seed: u64) -> Result<(SimDisk, History), Failure> {
    let mut run = Run::new(seed, small(2, 120, 2, 60))?;
    for i in 0..12 {
        run.call(&put(&k(i), "a"))?;
    }
    run.calls(&[Call::Flush, Call::Compact])?;
    for i in (0..12).step_by(3) {
        run.call(&put(&k(i), "b"))?;
    }
    run.calls(&[Call::Flush, Call::Compact, Call::Reopen])?;
    let Run { disk, history, .. } = run;
    Ok((disk, history))
}

fn faults_in_compact_all(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = small(2, 120, 2, 60);
    let (disk, history) = ready(seed)?;
    let setup = "the database of k000..k011 on levels 0 to 2, closed; Db::open".to_string();
    // How many operations of each kind come before the compaction, and with it.
    let counter = FaultDir::new(&disk.fork(), &[]);
    let mut db = Db::open(counter.dir(), options).map_err(|e| io_failure(&setup, e))?;
    before_compact_all(&mut db, &mut history.clone())
        .map_err(|e| io_failure(&format!("{setup}, {BEFORE}"), e))?;
    let mut kinds = KINDS.to_vec();
    kinds.push(OpKind::Remove);
    let before: Vec<u64> = kinds.iter().map(|&k| counter.count(k)).collect();
    db.compact_all()
        .map_err(|e| io_failure(&format!("{setup}, {BEFORE}, compact_all()"), e))?;
    drop(db);
    for (kind, start) in kinds.into_iter().zip(before) {
        let total = counter.count(kind);
        // Every operation of a kind, but reads: the first three, the last two, every third
        // between.
        let aimed = (start + 1..=total)
            .filter(|&n| kind != OpKind::Read || n <= start + 3 || n + 2 > total || n % 3 == 0);
        for n in aimed {
            for fault in faults_for(kind) {
                let trial = disk.fork_reseeded(seed ^ n);
                let faults = FaultDir::new(&trial, &[Aim { kind, n, fault }]);
                let did = format!(
                    "{setup}(dir, {options:?}), {BEFORE}, compact_all() with the {} {kind:?} \
                     since the open began failing with {fault:?}",
                    ordinal(n)
                );
                let mut history = history.clone();
                let mut db = Db::open(faults.dir(), options).map_err(|e| io_failure(&did, e))?;
                let snapshot =
                    before_compact_all(&mut db, &mut history).map_err(|e| io_failure(&did, e))?;
                let outcome = attempt(|| db.compact_all());
                if let Err(error) = &outcome {
                    no_panic(&did, error)?;
                }
                let mut did = match &outcome {
                    Ok(()) => format!("{did}: Ok"),
                    Err(error) => format!("{did}: Err({:?}): {error}", error.kind()),
                };
                // A database that still takes writes failed before its MANIFEST edit: the files
                // the round created are gone, and only what the MANIFEST names is left.
                if outcome.is_err() && attempt(|| db.put(b"k050", b"after")).is_ok() {
                    history.write(b"k050", Some(b"after".to_vec()));
                    did.push_str(", put(\"k050\", \"after\"): Ok");
                    let expected = named(&trial);
                    let got: BTreeSet<String> = trial.files().into_iter().map(|f| f.name).collect();
                    if got != expected {
                        return fail(format!(
                            "did:      {did}, then listed the directory\nexpected: {expected:?} \
                             (a round that fails before its MANIFEST edit removes the files it \
                             created)\ngot:      {got:?}"
                        ));
                    }
                }
                // What it answers now, at the snapshot and at the present, is what was written.
                for i in [0, 1, 3, 4, 9, 11, 20, 50] {
                    for (at, seq) in [(true, snapshot.seq), (false, u64::MAX)] {
                        let key = k(i);
                        let (d, got) = if at {
                            (
                                format!("{did}, get_at({key:?}, the snapshot)"),
                                attempt(|| db.get_at(key.as_bytes(), &snapshot)),
                            )
                        } else {
                            (
                                format!("{did}, get({key:?})"),
                                attempt(|| db.get(key.as_bytes())),
                            )
                        };
                        match got {
                            Ok(got) => {
                                let expected = history.get_at(key.as_bytes(), seq);
                                expect_value(&d, &got, &expected, "what was written")?
                            }
                            Err(error) => no_panic(&d, &error)?,
                        }
                    }
                }
                drop(db);
                let did = format!(
                    "{did}, then the power failed, losing what was unsynced; Db::open(dir, ..)"
                );
                trial.crash();
                trial.restart_losing_unsynced();
                let mut db = Db::open(trial.dir(), options).map_err(|e| io_failure(&did, e))?;
                let got = db.scan(b"", None, usize::MAX);
                let got = got
                    .map_err(|e| io_failure(&format!("{did}, scan(\"\", None, usize::MAX)"), e))?;
                let expected = history.scan_at(b"", None, usize::MAX, u64::MAX);
                expect_pairs(
                    &format!("{did}, scan(\"\", None, usize::MAX)"),
                    &got,
                    &expected,
                )?;
                // The compaction the failed one left to do.
                db.compact_all()
                    .map_err(|e| io_failure(&format!("{did}, compact_all()"), e))?;
                let got = db.scan(b"", None, usize::MAX).map_err(|e| {
                    io_failure(
                        &format!("{did}, compact_all(), scan(\"\", None, usize::MAX)"),
                        e,
                    )
                })?;
                expect_pairs(
                    &format!("{did}, compact_all(), scan(\"\", None, usize::MAX)"),
                    &got,
                    &history.scan_at(b"", None, usize::MAX, u64::MAX),
                )?;
            }
        }
    }
    Ok(())
}
