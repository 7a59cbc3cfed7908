//! Hidden checks for lsm/amplification.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::sync::Arc;

use judge::prelude::*;
use kit::crash::{self, KvOp, Limits};
use kit::disk::Dir;
use kit::fault::{Aim, FaultDir, attempt};
use kit::sim::{Fault, OpKind, Profile, SimDisk};
use lsm_amplification::Strategy as Shape;
use lsm_amplification::{Db, LEVELS, Options, Stats, TableInfo};

use crate::support::{
    KINDS, KeyValues, ListedTable, MANIFEST_NAME, ManifestRecord, Step, TableOptions, Watch,
    Workload, faults_for, io_failure, no_panic, ordinal, parse_manifest, parse_table, rebuild,
    short, state_text, step, table_file, wal_file,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "tiered: after each flush, every tier that reached tier_tables tables was merged, all \
             of it, into one table at the front of the next tier (after n flushes of distinct \
             keys, tier i holds digit i of n in base tier_tables)",
            tiers_counted,
        )
        .check(
            "a flush compacts on its own: once it returns, no level (leveled) and no tier \
             (tiered) is over its limit, and each round follows the strategy's rules",
            compacts_after_flush,
        )
        .check(
            "puts, deletes, gets, scans, flushes, compactions, reopens and crashes under either \
             strategy agree with a BTreeMap, and after each the MANIFEST, the directory and \
             every table agree with tables() and the strategy's rules",
            agrees_with_model,
        )
        .check(
            "tiered: a tombstone stays while a table left below the merge (an older run of the \
             next tier included) may hold its key, and goes when none can",
            tiered_tombstones,
        )
        .check(
            "stats() counts exactly what the disk saw since open: bytes written to every file \
             (log, tables, MANIFEST), reads made by gets, the files' bytes, and the user's and \
             the live data's bytes; the three amplifications are their ratios",
            stats_match_the_disk,
        )
        .check(
            "stats() counts only what succeeded: an append that failed writes no counted byte, \
             a write that failed no user byte, a get that failed is no get and its reads none; \
             file_bytes adds up every file the directory lists, one whose removal failed \
             included",
            stats_after_failures,
        )
        .check(
            "a flush of an empty memtable does nothing, not even with a level over its limit \
             (opened with smaller limits): no table, no MANIFEST record, no round; compact() \
             then runs the rounds",
            empty_flush_does_nothing,
        )
        .check(
            "on the fixed workloads (uniform writes, a hot set, deletes) the write, read and \
             space amplification the disk measures are each within 1.5x of the reference's",
            figures_near_the_reference,
        )
        .check(
            "on uniform writes, leveled reads and stores less than tiered, and tiered writes \
             less than leveled",
            leveled_against_tiered,
        )
        .check(
            "a crash at any I/O step of writes and of flushes with their compactions, leveled \
             and tiered, and again during the recovery after it, loses no acknowledged write \
             and brings back nothing else",
            crash_everywhere,
        )
        .check(
            "every I/O operation of a write that flushes and compacts (of its reads, a sample) \
             failed in turn, leveled and tiered: an error or success, never a panic nor a wrong \
             answer; a write that failed is not applied nor counted; a write that returned Ok \
             left no level over its limit (its flush's compaction did not fail); stats() then \
             counts what the disk saw; and the next open, with the disk well, holds every \
             acknowledged write",
            faults_in_automatic_compaction,
        )
}

// ---------------------------------------------------------------------------------------------
// Calls and what they are held to.

/// A call on the database.
#[derive(Clone, PartialEq, Eq)]
enum Call {
    Step(Step),
    Compact,
    Reopen,
    /// The power fails, losing everything unsynced, and the database is opened again.
    Crash,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Step(step) => step.fmt(f),
            Call::Compact => write!(f, "compact()"),
            Call::Reopen => write!(f, "reopen()"),
            Call::Crash => write!(f, "crash(), reopen()"),
        }
    }
}

fn any_call() -> impl Strategy<Value = Call> {
    prop_oneof![
        14 => step().prop_map(Call::Step),
        2 => Just(Call::Compact),
        1 => Just(Call::Reopen),
        1 => Just(Call::Crash),
    ]
}

fn options() -> impl Strategy<Value = Options> {
    let memtable = prop_oneof![3 => 0..120usize, 1 => Just(usize::MAX)];
    let block = prop_oneof![Just(1usize), 2..120usize, Just(4096)];
    let l0 = prop_oneof![1..5usize, Just(0), Just(usize::MAX)];
    let l1 = prop_oneof![4 => 0..600u64, 1 => Just(u64::MAX)];
    let table = prop_oneof![3 => 0..200u64, 1 => Just(u64::MAX)];
    let shape = prop_oneof![Just(Shape::Leveled), Just(Shape::Tiered)];
    let tier = prop_oneof![2..5usize, Just(1), Just(0), Just(usize::MAX)];
    (memtable, block, l0, l1, 1..5u64, table, shape, tier).prop_map(
        |(
            memtable_bytes,
            block_size,
            l0_tables,
            l1_bytes,
            multiplier,
            table_bytes,
            shape,
            tier,
        )| {
            Options {
                memtable_bytes,
                block_size,
                restart_interval: 2,
                l0_tables,
                l1_bytes,
                multiplier,
                table_bytes,
                strategy: shape,
                tier_tables: tier,
            }
        },
    )
}

fn table_options(options: Options) -> TableOptions {
    TableOptions {
        block_size: options.block_size,
        restart_interval: options.restart_interval,
    }
}

fn listed(info: &TableInfo) -> ListedTable {
    ListedTable {
        level: info.level,
        number: info.number,
        size: info.size,
        first_key: info.first_key.clone(),
        last_key: info.last_key.clone(),
    }
}

fn shown(t: &ListedTable) -> String {
    format!(
        "L{} #{} {}..={} {} bytes",
        t.level,
        t.number,
        short(&t.first_key),
        short(&t.last_key),
        t.size
    )
}

fn all_shown<'a>(tables: impl IntoIterator<Item = &'a ListedTable>) -> String {
    let shown: Vec<String> = tables.into_iter().map(shown).collect();
    format!("[{}]", shown.join(", "))
}

/// The limit of leveled `level` in bytes (level 1 and below).
fn limit(options: Options, level: u32) -> u64 {
    (1..level).fold(options.l1_bytes, |limit, _| {
        limit.saturating_mul(options.multiplier)
    })
}

/// The shallowest level (or tier) over its limit, if there is one.
fn over_limit(options: Options, tables: &[ListedTable]) -> Option<u32> {
    (0..LEVELS as u32 - 1).find(|&level| {
        let on: Vec<&ListedTable> = tables.iter().filter(|t| t.level == level).collect();
        match options.strategy {
            Shape::Tiered => !on.is_empty() && on.len() >= options.tier_tables,
            Shape::Leveled if level == 0 => !on.is_empty() && on.len() >= options.l0_tables,
            Shape::Leveled => on.iter().map(|t| t.size).sum::<u64>() > limit(options, level),
        }
    })
}

fn rule(options: Options) -> String {
    match options.strategy {
        Shape::Tiered => format!(
            "no tier but the last with tier_tables = {} tables or more",
            options.tier_tables
        ),
        Shape::Leveled => format!(
            "level 0 under l0_tables = {} tables, level n under l1_bytes * multiplier^(n-1) bytes",
            options.l0_tables
        ),
    }
}

fn meets(t: &ListedTable, first: &[u8], last: &[u8]) -> bool {
    t.first_key.as_slice() <= last && first <= t.last_key.as_slice()
}

fn holds(t: &ListedTable, key: &[u8]) -> bool {
    t.first_key.as_slice() <= key && key <= t.last_key.as_slice()
}

/// The MANIFEST's whole records.
fn records(disk: &SimDisk, did: &str) -> Result<Vec<ManifestRecord>, Failure> {
    let bytes = disk.contents(MANIFEST_NAME).unwrap_or_default();
    parse_manifest(&bytes)
        .map(|(records, _)| records)
        .map_err(|e| {
            Failure::new(format!(
                "did:      {did}, then read the MANIFEST\nexpected: records as the compaction \
                 scene lays them out\ngot:      {e}"
            ))
        })
}

/// Holds the layout to the rules: `tables()` is the MANIFEST's last record; leveled, the levels
/// below 0 in key order and apart; tiered, every table newer (a higher number) than every table
/// after it; no level over its limit; the directory holds exactly the MANIFEST, its log and its
/// tables; every table parses and matches its record; and the files rebuild `state`.
fn check_layout(
    disk: &SimDisk,
    db: &Db,
    options: Options,
    state: &KeyValues,
    settled: bool,
    did: &str,
) -> CheckResult {
    let tables: Vec<ListedTable> = db.tables().iter().map(listed).collect();
    let records = records(disk, did)?;
    let Some(last) = records.last() else {
        return fail(format!(
            "did:      {did}, then read the MANIFEST\nexpected: a whole record\ngot:      none"
        ));
    };
    if last.tables != tables {
        return fail(format!(
            "did:      {did}, tables()\nexpected: the tables the MANIFEST's last record lists, \
             in its order: {}\ngot:      {}",
            all_shown(&last.tables),
            all_shown(&tables)
        ));
    }
    for pair in tables.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let wrong = match options.strategy {
            Shape::Leveled => {
                a.level > b.level
                    || (a.level == b.level && a.level > 0 && a.last_key >= b.first_key)
            }
            Shape::Tiered => a.level > b.level || a.number < b.number,
        };
        if wrong {
            let expected = match options.strategy {
                Shape::Leveled => {
                    "level 0 first, then level 1, 2..., each level below 0 in key order, its \
                     tables' key ranges apart"
                }
                Shape::Tiered => {
                    "tier 0 first, then tier 1, 2..., each tier newest first: every table newer \
                     (a higher number) than every table after it"
                }
            };
            return fail(format!(
                "did:      {did}, tables()\nexpected: {expected}\ngot:      {} before {} in {}",
                shown(a),
                shown(b),
                all_shown(&tables)
            ));
        }
    }
    if let Some(level) = over_limit(options, &tables).filter(|_| settled) {
        return fail(format!(
            "did:      {did}, tables()\nexpected: {} (a flush compacts until none is over its \
             limit)\ngot:      level {level} over it: {}",
            rule(options),
            all_shown(&tables)
        ));
    }
    let mut expected: BTreeSet<String> = tables.iter().map(|t| table_file(t.number)).collect();
    expected.insert(MANIFEST_NAME.to_string());
    expected.insert(wal_file(last.wal));
    let got: BTreeSet<String> = disk.files().into_iter().map(|f| f.name).collect();
    if got != expected {
        return fail(format!(
            "did:      {did}, then listed the directory\nexpected: {expected:?} (the MANIFEST, \
             the log and the tables its last record names)\ngot:      {got:?}"
        ));
    }
    for t in &tables {
        check_table(disk, t, options, did)?;
    }
    match rebuild(|name| disk.contents(name), table_options(options)) {
        Ok(Some(rebuilt)) if rebuilt == *state => Ok(()),
        Ok(Some(rebuilt)) => fail(format!(
            "did:      {did}, then read the MANIFEST, its tables newest first and its log\n\
             expected: what was written: {}\ngot:      {}",
            state_text(state),
            state_text(&rebuilt)
        )),
        Ok(None) => fail(format!(
            "did:      {did}\nexpected: a MANIFEST with a whole record\ngot:      none"
        )),
        Err(why) => fail(format!(
            "did:      {did}, then read the MANIFEST, its tables and its log\nexpected: the \
             files the README describes\ngot:      {why}"
        )),
    }
}

/// The table's entries, once it parses, matches its record, and holds each key once.
fn check_table(
    disk: &SimDisk,
    t: &ListedTable,
    options: Options,
    did: &str,
) -> Result<Vec<crate::support::TableEntry>, Failure> {
    let name = table_file(t.number);
    let bytes = disk.contents(&name).unwrap_or_default();
    let parsed = parse_table(&bytes, table_options(options)).map_err(|e| {
        Failure::new(format!(
            "did:      {did}, then read {name} ({})\nexpected: a table in the format of the table \
             scenes\ngot:      {e}",
            shown(t)
        ))
    })?;
    let entries = parsed.entries();
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Err(Failure::new(format!(
            "did:      {did}, then read {name} ({})\nexpected: a table with entries (a \
             compaction that keeps nothing writes no table)\ngot:      none",
            shown(t)
        )));
    };
    if bytes.len() as u64 != t.size || first.key != t.first_key || last.key != t.last_key {
        return Err(Failure::new(format!(
            "did:      {did}, then read {name}\nexpected: what the MANIFEST records of it: {}\n\
             got:      {} bytes, keys {}..={}",
            shown(t),
            bytes.len(),
            short(&first.key),
            short(&last.key)
        )));
    }
    if let Some(pair) = entries.windows(2).find(|p| p[0].key == p[1].key) {
        return Err(Failure::new(format!(
            "did:      {did}, then read {name} ({})\nexpected: each key once, its newest version \
             (an older one can never be read)\ngot:      {:?} and {:?}",
            shown(t),
            pair[0],
            pair[1]
        )));
    }
    Ok(entries)
}

/// Holds the compaction rounds (MANIFEST edits) `after` that followed `before` to the rules of
/// the strategy.
fn check_rounds(
    disk: &SimDisk,
    options: Options,
    before: &ManifestRecord,
    after: &[ManifestRecord],
    did: &str,
) -> CheckResult {
    let mut prev = before;
    for (r, next) in after.iter().enumerate() {
        let round = format!("{did}: compaction round {} (MANIFEST edit)", r + 1);
        let Some(level) = over_limit(options, &prev.tables) else {
            return fail(format!(
                "did:      {round}\nexpected: no round: no level of {} is over its limit ({})\n\
                 got:      an edit to {}",
                all_shown(&prev.tables),
                rule(options),
                all_shown(&next.tables)
            ));
        };
        let numbers = |rec: &ManifestRecord| -> BTreeSet<u64> {
            rec.tables.iter().map(|t| t.number).collect()
        };
        let (old, new) = (numbers(prev), numbers(next));
        let removed: Vec<&ListedTable> = prev
            .tables
            .iter()
            .filter(|t| !new.contains(&t.number))
            .collect();
        let added: Vec<&ListedTable> = next
            .tables
            .iter()
            .filter(|t| !old.contains(&t.number))
            .collect();
        let on_level: Vec<&ListedTable> = prev.tables.iter().filter(|t| t.level == level).collect();
        let what = format!(
            "the tables were {}, the shallowest level over its limit {level}",
            all_shown(&prev.tables)
        );
        if let Some(t) = added.iter().find(|t| t.level != level + 1) {
            return fail(format!(
                "did:      {round}; {what}\nexpected: the new tables on level {}\ngot:      {}",
                level + 1,
                shown(t)
            ));
        }
        match options.strategy {
            Shape::Tiered => {
                let taken: BTreeSet<u64> = on_level.iter().map(|t| t.number).collect();
                let got: BTreeSet<u64> = removed.iter().map(|t| t.number).collect();
                if got != taken || added.len() > 1 {
                    return fail(format!(
                        "did:      {round}; {what}\nexpected: all {} tables of tier {level} \
                         merged into one table of tier {} (none if nothing is left), and no \
                         other table touched\ngot:      replaced {} with {}",
                        taken.len(),
                        level + 1,
                        all_shown(removed.iter().copied()),
                        all_shown(added.iter().copied())
                    ));
                }
                if let Some(t) = added.first() {
                    let first_of_tier = next.tables.iter().find(|n| n.level == level + 1);
                    if first_of_tier.map(|f| f.number) != Some(t.number) {
                        return fail(format!(
                            "did:      {round}; {what}\nexpected: the merged table first of tier \
                             {} (it is newer than every table already there)\ngot:      {}",
                            level + 1,
                            all_shown(&next.tables)
                        ));
                    }
                }
            }
            Shape::Leveled => {
                let upper: Vec<&ListedTable> = removed
                    .iter()
                    .copied()
                    .filter(|t| t.level == level)
                    .collect();
                let picks_right = if level == 0 {
                    upper.len() == on_level.len()
                } else {
                    upper.len() == 1
                };
                if !picks_right {
                    return fail(format!(
                        "did:      {round}; {what}\nexpected: {} of level {level} taken\n\
                         got:      {} taken: {}",
                        if level == 0 {
                            "all tables"
                        } else {
                            "one table"
                        },
                        upper.len(),
                        all_shown(upper.iter().copied())
                    ));
                }
                let first = upper.iter().map(|t| &t.first_key).min().cloned();
                let last = upper.iter().map(|t| &t.last_key).max().cloned();
                let (first, last) = (first.unwrap_or_default(), last.unwrap_or_default());
                let expected_lower: BTreeSet<u64> = prev
                    .tables
                    .iter()
                    .filter(|t| t.level == level + 1 && meets(t, &first, &last))
                    .map(|t| t.number)
                    .collect();
                let got_lower: BTreeSet<u64> = removed
                    .iter()
                    .filter(|t| t.level != level)
                    .map(|t| t.number)
                    .collect();
                if got_lower != expected_lower {
                    return fail(format!(
                        "did:      {round}; {what}\nexpected: the tables of level {} whose key \
                         ranges meet {}..={} replaced, and no other: {expected_lower:?}\n\
                         got:      replaced {}",
                        level + 1,
                        short(&first),
                        short(&last),
                        all_shown(removed.iter().copied())
                    ));
                }
            }
        }
        // A tombstone is kept only where a table left below the merge may hold its key. A
        // table a later round took again is gone: the tables still there are read.
        for t in added
            .iter()
            .filter(|t| disk.contents(&table_file(t.number)).is_some())
        {
            let entries = check_table(disk, t, options, &round)?;
            for entry in entries.iter().filter(|e| e.value.is_none()) {
                let below = next.tables.iter().any(|d| {
                    let older = match options.strategy {
                        Shape::Leveled => d.level > t.level,
                        Shape::Tiered => d.level >= t.level && !added.contains(&d),
                    };
                    older && holds(d, &entry.key)
                });
                if !below {
                    return fail(format!(
                        "did:      {round}; {what}\nexpected: no tombstone for {} in {} (no table \
                         left below the merge may hold an older version of it)\ngot:      \
                         {entry:?}",
                        short(&entry.key),
                        shown(t)
                    ));
                }
            }
        }
        prev = next;
    }
    Ok(())
}

/// The database, its disk, and what it should hold.
struct Run {
    disk: SimDisk,
    watch: Watch,
    db: Db,
    options: Options,
    state: KeyValues,
    script: Vec<String>,
    /// Whether the levels may be over their limits: after an open that found them so (a
    /// compaction failed), until the next flush or compaction.
    unsettled: bool,
}

impl Run {
    fn new(seed: u64, options: Options) -> Result<Run, Failure> {
        Run::on(SimDisk::new(seed), options)
    }

    fn on(disk: SimDisk, options: Options) -> Result<Run, Failure> {
        let watch = Watch::new(&disk);
        let script = vec![format!("Db::open(dir, {options:?})")];
        let db = Db::open(watch.dir(), options).map_err(|e| io_failure(&script[0], e))?;
        Ok(Run {
            disk,
            watch,
            db,
            options,
            state: KeyValues::new(),
            script,
            unsettled: true,
        })
    }

    fn did(&mut self, call: impl Into<String>) -> String {
        self.script.push(call.into());
        self.so_far()
    }

    fn so_far(&self) -> String {
        if self.script.len() > 40 {
            let head = self.script[..5].join(", ");
            let tail = self.script[self.script.len() - 30..].join(", ");
            format!("{head}, ... ({} calls), {tail}", self.script.len() - 35)
        } else {
            self.script.join(", ")
        }
    }

    fn call(&mut self, call: &Call) -> CheckResult {
        let did = self.did(format!("{call:?}"));
        let before = records(&self.disk, &did)?;
        match call {
            Call::Step(Step::Get(key)) => {
                let got = self.db.get(key).map_err(|e| io_failure(&did, e))?;
                return expect_eq(&did, got, self.state.get(key).cloned());
            }
            Call::Step(Step::Scan(from, to, limit)) => {
                let got = self
                    .db
                    .scan(from, to.as_deref(), *limit)
                    .map_err(|e| io_failure(&did, e))?;
                let expected: Vec<(Vec<u8>, Vec<u8>)> = self
                    .state
                    .iter()
                    .filter(|(k, _)| {
                        k.as_slice() >= from.as_slice()
                            && to.as_ref().is_none_or(|to| k.as_slice() < to.as_slice())
                    })
                    .take(*limit)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                return expect_eq(&did, got, expected);
            }
            Call::Step(Step::Put(key, value)) => {
                self.db.put(key, value).map_err(|e| io_failure(&did, e))?;
                self.state.insert(key.clone(), value.clone());
            }
            Call::Step(Step::Delete(key)) => {
                self.db.delete(key).map_err(|e| io_failure(&did, e))?;
                self.state.remove(key);
            }
            Call::Step(Step::Flush) => {
                self.db.flush().map_err(|e| io_failure(&did, e))?;
            }
            Call::Compact => {
                self.db.compact().map_err(|e| io_failure(&did, e))?;
            }
            Call::Reopen => {
                self.db =
                    Db::open(self.watch.dir(), self.options).map_err(|e| io_failure(&did, e))?;
            }
            Call::Crash => {
                self.disk.crash();
                self.disk.restart_losing_unsynced();
                self.db =
                    Db::open(self.watch.dir(), self.options).map_err(|e| io_failure(&did, e))?;
            }
        }
        let after = records(&self.disk, &did)?;
        if after.len() > before.len() || *call == Call::Compact {
            self.unsettled = false;
        } else if matches!(call, Call::Reopen | Call::Crash) {
            self.unsettled = true;
        }
        if let Some(last) = before.last()
            && after.len() > before.len()
            && matches!(call, Call::Step(_) | Call::Compact)
        {
            // A write or a flush that flushed made one edit for its new table first.
            let flushed = matches!(call, Call::Step(_));
            let rounds = &after[before.len() + usize::from(flushed)..];
            let start = if flushed { &after[before.len()] } else { last };
            check_rounds(&self.disk, self.options, start, rounds, &did)?;
        }
        self.watch.take();
        let settled = !self.unsettled || over_limit(self.options, &self.tables()).is_none();
        self.unsettled = !settled;
        check_layout(
            &self.disk,
            &self.db,
            self.options,
            &self.state,
            settled,
            &did,
        )
    }

    fn calls(&mut self, calls: &[Call]) -> CheckResult {
        calls.iter().try_for_each(|call| self.call(call))
    }

    fn tables(&self) -> Vec<ListedTable> {
        self.db.tables().iter().map(listed).collect()
    }
}

fn put(key: &str, value: &[u8]) -> Call {
    Call::Step(crate::support::put(key, value))
}

fn delete(key: &str) -> Call {
    Call::Step(crate::support::delete(key))
}

fn get(key: &str) -> Call {
    Call::Step(crate::support::get(key))
}

fn flush() -> Call {
    Call::Step(Step::Flush)
}

fn scan_all() -> Call {
    Call::Step(crate::support::scan_all())
}

/// Options with no flush but the ones a check asks for, and small blocks.
fn small(shape: Shape, tier_tables: usize) -> Options {
    Options {
        memtable_bytes: usize::MAX,
        block_size: 48,
        restart_interval: 2,
        l0_tables: 2,
        l1_bytes: 200,
        multiplier: 2,
        table_bytes: 60,
        strategy: shape,
        tier_tables,
    }
}

// ---------------------------------------------------------------------------------------------
// The strategies' rules.

fn tiers_counted(ctx: &mut Ctx) -> CheckResult {
    for tier_tables in [2usize, 3, 4] {
        let mut run = Run::new(ctx.seed(), small(Shape::Tiered, tier_tables))?;
        for n in 1..=(tier_tables * tier_tables * 2 + 1) {
            run.calls(&[put(&format!("k{n:03}"), b"value"), flush()])?;
            let tables = run.tables();
            let mut rest = n;
            for tier in 0..LEVELS as u32 - 1 {
                let want = rest % tier_tables;
                rest /= tier_tables;
                let got = tables.iter().filter(|t| t.level == tier).count();
                if got != want {
                    return fail(format!(
                        "did:      {}, tables()\nexpected: {n} flushes of distinct keys in base \
                         tier_tables = {tier_tables}: {want} table(s) on tier {tier}\ngot:      \
                         {got}: {}",
                        run.so_far(),
                        all_shown(&tables)
                    ));
                }
            }
        }
        run.calls(&[get("k001"), scan_all(), Call::Reopen, scan_all()])?;
    }
    Ok(())
}

fn compacts_after_flush(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    for (shape, tier) in [(Shape::Leveled, 4), (Shape::Tiered, 3)] {
        // Flushed by hand, and by writes that fill the memtable.
        let mut run = Run::new(seed, small(shape, tier))?;
        for round in 0..12usize {
            for i in 0..5 {
                let key = format!("k{:03}", (round * 7 + i * 11) % 40);
                run.call(&put(&key, &[b'a' + round as u8; 20]))?;
            }
            run.call(&flush())?;
        }
        run.calls(&[get("k007"), scan_all()])?;
        let mut auto = small(shape, tier);
        auto.memtable_bytes = 100;
        let mut run = Run::new(seed, auto)?;
        for i in 0..80usize {
            run.call(&put(&format!("k{:03}", i * 13 % 50), &[b'b'; 16]))?;
        }
        run.calls(&[get("k013"), scan_all()])?;
    }
    Ok(())
}

fn agrees_with_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["options", "calls"],
        48,
        (options(), prop::collection::vec(any_call(), 0..40)),
        |(options, calls)| {
            let mut run = Run::new(seed, options)?;
            run.calls(&calls)?;
            run.calls(&[flush(), Call::Reopen, scan_all()])
        },
    )
}

fn tiered_tombstones(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    // tier_tables = 3: the old value goes to tier 1, the tombstone follows into tier 1 beside
    // it, where the older run still holds the key.
    let mut run = Run::new(seed, small(Shape::Tiered, 3))?;
    run.calls(&[
        put("k", b"old"),
        flush(),
        put("a", b"1"),
        flush(),
        put("z", b"2"),
        flush(),
    ])?;
    run.calls(&[
        delete("k"),
        flush(),
        put("b", b"3"),
        flush(),
        put("y", b"4"),
        flush(),
        get("k"),
        scan_all(),
    ])?;
    let tables = run.tables();
    expect(
        tables.iter().filter(|t| t.level == 1).count() == 2,
        format!(
            "did:      {}, tables()\nexpected: two tables on tier 1\ngot:      {}",
            run.so_far(),
            all_shown(&tables)
        ),
    )?;
    run.calls(&[Call::Reopen, get("k")])?;
    // A third run on tier 1 merges all three into tier 2, the last that holds anything: the
    // tombstone goes with the value it hid.
    run.calls(&[
        put("c", b"5"),
        flush(),
        put("d", b"6"),
        flush(),
        put("e", b"7"),
        flush(),
        get("k"),
    ])?;
    let tables = run.tables();
    for t in &tables {
        let entries = check_table(&run.disk, t, run.options, &run.so_far())?;
        if let Some(e) = entries.iter().find(|e| e.key == b"k") {
            return fail(format!(
                "did:      {}, then read {}\nexpected: no entry for \"k\": the merge into tier 2 \
                 had no table below it, so the tombstone and the value it hid both go\ngot:      \
                 {e:?}",
                run.so_far(),
                shown(t)
            ));
        }
    }
    // Only tombstones, with nothing below: the merge keeps nothing, and writes no table.
    let mut run = Run::new(seed, small(Shape::Tiered, 2))?;
    run.calls(&[delete("a"), flush(), delete("c"), flush(), get("a")])?;
    let tables = run.tables();
    expect(
        tables.is_empty(),
        format!(
            "did:      {}, tables()\nexpected: none: the merge of tier 0 dropped both tombstones \
             (nothing below could hold their keys), and a merge that keeps nothing writes no \
             table\ngot:      {}",
            run.so_far(),
            all_shown(&tables)
        ),
    )?;
    // The tombstone's key outside every older run's range: it goes at once.
    let mut run = Run::new(seed, small(Shape::Tiered, 2))?;
    run.calls(&[
        put("m", b"1"),
        put("n", b"1"),
        flush(),
        put("x", b"2"),
        delete("x"),
        flush(),
        delete("a"),
        flush(),
        get("a"),
        get("x"),
        scan_all(),
    ])
}

// ---------------------------------------------------------------------------------------------
// Counting.

/// What the disk saw since a mark.
fn disk_stats(disk: &SimDisk) -> kit::sim::Stats {
    disk.stats()
}

fn ratio(over: u64, under: u64) -> f64 {
    if under == 0 {
        0.0
    } else {
        over as f64 / under as f64
    }
}

/// The figures the judge measures of a run: counted on the disk, not asked of the database.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Measured {
    user_bytes: u64,
    bytes_written: u64,
    gets: u64,
    get_reads: u64,
    file_bytes: u64,
    live_bytes: u64,
}

impl Measured {
    fn write(&self) -> f64 {
        ratio(self.bytes_written, self.user_bytes)
    }
    fn read(&self) -> f64 {
        ratio(self.get_reads, self.gets)
    }
    fn space(&self) -> f64 {
        ratio(self.file_bytes, self.live_bytes)
    }
}

/// Runs `workload` on a fresh database and then its gets, measuring on the disk; with the
/// database's own `stats()` at the end.
fn measure(seed: u64, options: Options, workload: &Workload) -> Result<(Measured, Stats), Failure> {
    let disk = SimDisk::new(seed);
    let did = format!("Db::open(dir, {options:?}), {}", workload.name);
    let start = disk_stats(&disk);
    let mut db = Db::open(disk.dir(), options).map_err(|e| io_failure(&did, e))?;
    let mut state = KeyValues::new();
    let mut user_bytes = 0;
    for (key, value) in &workload.writes {
        match value {
            Some(value) => {
                db.put(key, value).map_err(|e| io_failure(&did, e))?;
                state.insert(key.clone(), value.clone());
            }
            None => {
                db.delete(key).map_err(|e| io_failure(&did, e))?;
                state.remove(key);
            }
        }
        user_bytes += (key.len() + value.as_ref().map_or(0, Vec::len)) as u64;
    }
    let bytes_written = disk_stats(&disk).bytes_written - start.bytes_written;
    let mut get_reads = 0;
    for key in &workload.gets {
        let before = disk_stats(&disk).reads;
        let got = db.get(key).map_err(|e| io_failure(&did, e))?;
        get_reads += disk_stats(&disk).reads - before;
        expect_eq(
            format!("{did}, get({})", short(key)),
            got,
            state.get(key).cloned(),
        )?;
    }
    let measured = Measured {
        user_bytes,
        bytes_written,
        gets: workload.gets.len() as u64,
        get_reads,
        file_bytes: disk.files().iter().map(|f| f.len).sum(),
        live_bytes: state.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum(),
    };
    let stats = db
        .stats()
        .map_err(|e| io_failure(&format!("{did}, stats()"), e))?;
    Ok((measured, stats))
}

/// Holds the database's stats to what the disk measured.
fn expect_stats(did: &str, got: &Stats, measured: &Measured) -> CheckResult {
    let counters = [
        ("user_bytes", got.user_bytes, measured.user_bytes),
        ("bytes_written", got.bytes_written, measured.bytes_written),
        ("gets", got.gets, measured.gets),
        ("get_reads", got.get_reads, measured.get_reads),
        ("file_bytes", got.file_bytes, measured.file_bytes),
        ("live_bytes", got.live_bytes, measured.live_bytes),
    ];
    for (name, got, expected) in counters {
        if got != expected {
            return fail(format!(
                "did:      {did}, stats().{name}\nexpected: {expected}, as the disk counted it \
                 (see the README for what each counter counts)\ngot:      {got}"
            ));
        }
    }
    let figures = [
        (
            "write_amplification",
            got.write_amplification,
            measured.write(),
        ),
        (
            "read_amplification",
            got.read_amplification,
            measured.read(),
        ),
        (
            "space_amplification",
            got.space_amplification,
            measured.space(),
        ),
    ];
    for (name, got, expected) in figures {
        if (got - expected).abs() > 1e-9 * expected.max(1.0) {
            return fail(format!(
                "did:      {did}, stats().{name}\nexpected: {expected}, the ratio of the \
                 counters above\ngot:      {got}"
            ));
        }
    }
    Ok(())
}

fn stats_match_the_disk(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    for shape in [Shape::Leveled, Shape::Tiered] {
        let mut options = small(shape, 3);
        options.memtable_bytes = 150;
        // Nothing done yet: every counter but the files' is 0, and so is every figure.
        let empty = Workload {
            name: "nothing".to_string(),
            writes: Vec::new(),
            gets: Vec::new(),
        };
        let (measured, stats) = measure(seed, options, &empty)?;
        expect_stats(&format!("Db::open(dir, {options:?})"), &stats, &measured)?;
        let workload = Workload::random(ctx.rng().next_u64(), 150, 30);
        let (measured, stats) = measure(seed, options, &workload)?;
        expect_stats(
            &format!("Db::open(dir, {options:?}), {}", workload.name),
            &stats,
            &measured,
        )?;
    }
    // A reopened database counts from its open, the open's own writes included.
    let mut run = Run::new(seed, small(Shape::Tiered, 2))?;
    run.calls(&[put("a", b"1"), flush(), put("b", b"22")])?;
    let start = run.disk.stats();
    run.call(&Call::Reopen)?;
    let big = vec![b'v'; 70_000];
    run.calls(&[
        put("c", b"333"),
        delete("a"),
        put("big", &big),
        delete("big"),
    ])?;
    let mut get_reads = 0;
    for key in ["b", "c", "zz", "a", "big"] {
        let did = run.did(format!("get({key:?})"));
        let before = run.disk.stats().reads;
        let got = run
            .db
            .get(key.as_bytes())
            .map_err(|e| io_failure(&did, e))?;
        get_reads += run.disk.stats().reads - before;
        expect_eq(&did, got, run.state.get(key.as_bytes()).cloned())?;
    }
    let did = run.so_far();
    let stats = run
        .db
        .stats()
        .map_err(|e| io_failure(&format!("{did}, stats()"), e))?;
    let live = run
        .state
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64)
        .sum();
    let measured = Measured {
        // put("c", "333"): 4, delete("a"): 1, put("big", 70 000 bytes): 70 003, delete("big"): 3.
        user_bytes: 4 + 1 + 70_003 + 3,
        bytes_written: run.disk.stats().bytes_written - start.bytes_written,
        gets: 5,
        get_reads,
        file_bytes: run.disk.files().iter().map(|f| f.len).sum(),
        live_bytes: live,
    };
    expect_stats(
        &format!("{did} (counting from the reopen)"),
        &stats,
        &measured,
    )
}

/// Makes `get(key)` on `db`, counting it as the README does: a get that returned `Ok` is one,
/// with the reads the disk served during it; one that failed is none.
fn counted_get(
    db: &Db,
    disk: &SimDisk,
    key: &[u8],
    gets: &mut u64,
    get_reads: &mut u64,
) -> io::Result<Option<Vec<u8>>> {
    let before = disk.stats().reads;
    let got = attempt(|| db.get(key))?;
    *gets += 1;
    *get_reads += disk.stats().reads - before;
    Ok(got)
}

/// What the judge counts of a database opened when the disk stood at `start`, given the user's
/// bytes and the gets it counted.
fn measured_since(
    disk: &SimDisk,
    start: kit::sim::Stats,
    user_bytes: u64,
    (gets, get_reads): (u64, u64),
    state: &KeyValues,
) -> Measured {
    Measured {
        user_bytes,
        // The disk counts the bytes of the writes it took: one that failed whole, none.
        bytes_written: disk.stats().bytes_written - start.bytes_written,
        gets,
        get_reads,
        file_bytes: disk.files().iter().map(|f| f.len).sum(),
        live_bytes: state.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum(),
    }
}

fn stats_after_failures(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let faults = FaultDir::new(&disk, &[]);
    let options = small(Shape::Leveled, 3);
    let mut did = format!("Db::open(dir, {options:?})");
    let start = disk.stats();
    let mut db = Db::open(faults.dir(), options).map_err(|e| io_failure(&did, e))?;
    let mut state = KeyValues::new();
    let mut user_bytes = 0;
    let (mut gets, mut get_reads) = (0, 0);
    for (key, value) in [("a", "1"), ("b", "22"), ("c", "333")] {
        did.push_str(&format!(", put({key:?}, {value:?})"));
        db.put(key.as_bytes(), value.as_bytes())
            .map_err(|e| io_failure(&did, e))?;
        state.insert(key.as_bytes().to_vec(), value.as_bytes().to_vec());
        user_bytes += (key.len() + value.len()) as u64;
    }
    // A flush whose first removal (the old log's, in the reference) fails: the file stays,
    // garbage the directory still lists, and its bytes are the database's to count.
    faults.arm(OpKind::Remove, 1, Fault::IoError);
    did.push_str(", flush() with its first removal failing");
    match attempt(|| db.flush()) {
        Ok(()) => did.push_str(": Ok"),
        Err(error) => {
            no_panic(&did, &error)?;
            did.push_str(&format!(": Err({:?})", error.kind()));
        }
    }
    // A get whose first read fails: no get, and its reads none.
    faults.arm(OpKind::Read, 1, Fault::IoError);
    did.push_str(", get(\"a\") with its first read failing");
    match counted_get(&db, &disk, b"a", &mut gets, &mut get_reads) {
        Ok(got) => {
            did.push_str(": Ok");
            expect_eq(&did, got, Some(b"1".to_vec()))?;
        }
        Err(error) => {
            no_panic(&did, &error)?;
            did.push_str(&format!(": Err({:?})", error.kind()));
        }
    }
    // (A get that reads nothing leaves the failure to the next read, here or in stats().)
    for key in ["b", "zz"] {
        did.push_str(&format!(", get({key:?})"));
        match counted_get(&db, &disk, key.as_bytes(), &mut gets, &mut get_reads) {
            Ok(got) => expect_eq(&did, got, state.get(key.as_bytes()).cloned())?,
            Err(error) => {
                no_panic(&did, &error)?;
                did.push_str(&format!(": Err({:?})", error.kind()));
            }
        }
    }
    // A write whose append fails: neither its bytes on the disk nor the user's are counted.
    faults.arm(OpKind::Write, 1, Fault::IoError);
    did.push_str(", put(\"d\", \"4444\") with its first write failing");
    match attempt(|| db.put(b"d", b"4444")) {
        Ok(()) => {
            did.push_str(": Ok");
            state.insert(b"d".to_vec(), b"4444".to_vec());
            user_bytes += 5;
        }
        Err(error) => {
            no_panic(&did, &error)?;
            did.push_str(&format!(": Err({:?})", error.kind()));
        }
    }
    let stats = attempt(|| db.stats())
        .or_else(|_| db.stats())
        .map_err(|e| io_failure(&format!("{did}, stats()"), e))?;
    let measured = measured_since(&disk, start, user_bytes, (gets, get_reads), &state);
    expect_stats(
        &format!("{did} (what failed counts nothing; every file listed counts)"),
        &stats,
        &measured,
    )
}

fn empty_flush_does_nothing(ctx: &mut Ctx) -> CheckResult {
    for shape in [Shape::Leveled, Shape::Tiered] {
        let mut options = small(shape, 8);
        options.l0_tables = 8;
        let mut run = Run::new(ctx.seed(), options)?;
        for key in ["a", "b", "c"] {
            run.calls(&[put(key, b"1"), flush()])?;
        }
        // Opened again with limits the three tables of level 0 are over: open compacts nothing.
        let mut smaller = options;
        smaller.l0_tables = 2;
        smaller.tier_tables = 2;
        run.options = smaller;
        run.call(&Call::Reopen)?;
        let did = run.did("flush()");
        let before = records(&run.disk, &did)?.len();
        let files: BTreeSet<String> = run.disk.files().into_iter().map(|f| f.name).collect();
        run.db.flush().map_err(|e| io_failure(&did, e))?;
        let made = records(&run.disk, &did)?.len() - before;
        let now: BTreeSet<String> = run.disk.files().into_iter().map(|f| f.name).collect();
        expect(
            made == 0 && files == now,
            format!(
                "did:      {did}, with the memtable empty and, since the reopen with l0_tables \
                 = 2 and tier_tables = 2, level 0 over its limit ({})\n\
                 expected: nothing done: no table, no MANIFEST record, no compaction round (an \
                 empty memtable flushes nothing, and compacts nothing)\ngot:      {made} \
                 MANIFEST record(s), files {files:?} before and {now:?} after",
                rule(smaller)
            ),
        )?;
        run.calls(&[Call::Compact, get("a"), scan_all()])?;
        let tables = run.tables();
        expect(
            over_limit(smaller, &tables).is_none(),
            format!(
                "did:      {}, tables()\nexpected: {} after compact()\ngot:      {}",
                run.so_far(),
                rule(smaller),
                all_shown(&tables)
            ),
        )?;
    }
    Ok(())
}

/// The options of the fixed workloads: tables of a few kilobytes, four to a tier or to level 0.
fn fixed_options(shape: Shape) -> Options {
    Options {
        memtable_bytes: 3000,
        block_size: 512,
        restart_interval: 4,
        l0_tables: 4,
        l1_bytes: 12000,
        multiplier: 4,
        table_bytes: 4000,
        strategy: shape,
        tier_tables: 4,
    }
}

/// The reference's figures on each fixed workload: write, read and space amplification.
const REFERENCE: [(&str, Shape, [f64; 3]); 6] = [
    ("uniform", Shape::Leveled, [5.978, 0.750, 2.233]),
    ("hot set", Shape::Leveled, [3.610, 0.705, 2.657]),
    ("deletes", Shape::Leveled, [5.034, 0.680, 3.640]),
    ("uniform", Shape::Tiered, [3.929, 1.855, 3.362]),
    ("hot set", Shape::Tiered, [2.913, 0.705, 3.586]),
    ("deletes", Shape::Tiered, [4.046, 1.060, 4.262]),
];

/// How far a figure may be from the reference's, either way.
const FACTOR: f64 = 1.5;

fn figures_near_the_reference(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    for (name, shape, reference) in REFERENCE {
        let workload = Workload::fixed(name);
        let options = fixed_options(shape);
        let (measured, _) = measure(seed, options, &workload)?;
        let got = [measured.write(), measured.read(), measured.space()];
        for (i, figure) in ["write", "read", "space"].iter().enumerate() {
            let (got, reference) = (got[i], reference[i]);
            if got > reference * FACTOR || got * FACTOR < reference {
                return fail(format!(
                    "did:      Db::open(dir, {options:?}), {}, measuring on the disk\nexpected: \
                     {figure} amplification within {FACTOR}x of the reference's {reference:.2}\n\
                     got:      {got:.2} ({measured:?})",
                    workload.name
                ));
            }
        }
    }
    Ok(())
}

fn leveled_against_tiered(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let workload = Workload::fixed("uniform");
    let (leveled, _) = measure(seed, fixed_options(Shape::Leveled), &workload)?;
    let (tiered, _) = measure(seed, fixed_options(Shape::Tiered), &workload)?;
    let did = format!(
        "{} with the options {:?}, leveled and then tiered, measuring on the disk",
        workload.name,
        fixed_options(Shape::Leveled)
    );
    let lessons = [
        (
            "space",
            "leveled below tiered",
            leveled.space() < tiered.space(),
        ),
        (
            "read",
            "leveled below tiered",
            leveled.read() < tiered.read(),
        ),
        (
            "write",
            "tiered below leveled",
            tiered.write() < leveled.write(),
        ),
    ];
    for (figure, order, holds) in lessons {
        if !holds {
            return fail(format!(
                "did:      {did}\nexpected: {figure} amplification {order}\ngot:      leveled \
                 write {:.2}, read {:.2}, space {:.2}; tiered write {:.2}, read {:.2}, space {:.2}",
                leveled.write(),
                leveled.read(),
                leveled.space(),
                tiered.write(),
                tiered.read(),
                tiered.space()
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Crashes.

/// The options the crash checks open the database with: writes flush on their own, and two
/// tables are enough to compact.
const fn crash_options(shape: Shape) -> Options {
    Options {
        memtable_bytes: 60,
        block_size: 64,
        restart_interval: 2,
        l0_tables: 2,
        l1_bytes: 150,
        multiplier: 2,
        table_bytes: 60,
        strategy: shape,
        tier_tables: 2,
    }
}

struct LeveledDb;
struct TieredDb;

trait Shaped {
    const SHAPE: Shape;
}

impl Shaped for LeveledDb {
    const SHAPE: Shape = Shape::Leveled;
}

impl Shaped for TieredDb {
    const SHAPE: Shape = Shape::Tiered;
}

/// The crash driver's handle on the database: every write is synced, and maintenance is a
/// flush (which compacts on its own).
struct Compacting<S>(std::marker::PhantomData<S>);

impl<S: Shaped> crash::Subject for Compacting<S> {
    type Store = Db;

    fn open(dir: Arc<dyn Dir>) -> io::Result<Db> {
        Db::open(dir, crash_options(S::SHAPE))
    }

    fn apply(db: &mut Db, op: &KvOp) -> io::Result<()> {
        match op {
            KvOp::Put(key, value) => db.put(key, value),
            KvOp::Delete(key) => db.delete(key),
            KvOp::Maintain => db.flush(),
            KvOp::Sync | KvOp::Reopen => Ok(()),
        }
    }

    fn get(db: &mut Db, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        db.get(key)
    }

    fn syncs_every_write() -> bool {
        true
    }
}

fn crash_check<S: Shaped>(seed: u64, ops: &[KvOp], crash_points: u64) -> CheckResult {
    let probes = vec![b"never written".to_vec(), b"zz".to_vec()];
    let limits = Limits {
        crash_points,
        crash_during_recovery: true,
        profile: Profile::HARSH,
    };
    crash::check::<Compacting<S>>(seed, ops, &probes, limits)
        .map(drop)
        .map_err(|failure| {
            Failure::new(format!(
                "opened with {:?}; maintain() is flush(), sync() does nothing (every write is \
                 synced)\n{failure}",
                crash_options(S::SHAPE)
            ))
        })
}

fn crash_everywhere(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let p = |k: &str, v: &[u8]| KvOp::Put(k.as_bytes().to_vec(), v.to_vec());
    let d = |k: &str| KvOp::Delete(k.as_bytes().to_vec());
    let scripted = vec![
        p("a", b"1"),
        p("b", b"2"),
        KvOp::Maintain,
        p("c", b"3"),
        KvOp::Maintain,
        p("b", b"4"),
        d("a"),
        KvOp::Maintain,
        p("d", &[b'x'; 70]),
        p("e", b"5"),
        KvOp::Maintain,
        d("b"),
        p("a", b"6"),
        KvOp::Maintain,
        KvOp::Reopen,
        p("f", b"7"),
        KvOp::Maintain,
    ];
    crash_check::<LeveledDb>(seed, &scripted, 60)?;
    crash_check::<TieredDb>(seed, &scripted, 60)?;
    let key = prop::sample::select(vec![
        b"a".to_vec(),
        b"b".to_vec(),
        b"c".to_vec(),
        b"d".to_vec(),
        Vec::new(),
    ]);
    let value = prop_oneof![
        6 => prop::collection::vec(b'a'..=b'z', 0..8),
        1 => Just(vec![b'v'; 90]),
    ];
    let op = prop_oneof![
        5 => (key.clone(), value).prop_map(|(k, v)| KvOp::Put(k, v)),
        2 => key.prop_map(KvOp::Delete),
        2 => Just(KvOp::Maintain),
        1 => Just(KvOp::Reopen),
    ];
    ctx.forall_named(
        &["ops", "tiered"],
        6,
        (prop::collection::vec(op, 1..16), any::<bool>()),
        |(ops, tiered)| {
            if tiered {
                crash_check::<TieredDb>(seed, &ops, 16)
            } else {
                crash_check::<LeveledDb>(seed, &ops, 16)
            }
        },
    )
}

/// A closed database whose next write flushes, and whose flush has rounds to do: on two
/// levels, leveled; on two tiers, tiered.
fn ready(seed: u64, options: Options) -> Result<(SimDisk, KeyValues, String), Failure> {
    let mut run = Run::new(seed, options)?;
    for i in 0..23usize {
        let key = format!("k{:03}", i * 7 % 12);
        if i % 5 == 4 {
            run.call(&delete(&key))?;
        } else {
            run.call(&put(&key, &[b'a' + i as u8; 12]))?;
        }
    }
    // One table on level (or tier) 0, whose limit is two: the next flush compacts.
    if !run.tables().iter().any(|t| t.level == 0) {
        run.calls(&[put("k003", b"again"), flush()])?;
    }
    // A full memtable: the next write flushes first.
    run.call(&put("k011", &[b'z'; 100]))?;
    let Run {
        disk, state, db, ..
    } = run;
    let did = format!(
        "Db::open(dir, {options:?}), 23 writes to k000..k011 (every fifth a delete), one table \
         left on level 0, then put(\"k011\", 100 bytes), closed"
    );
    drop(db);
    Ok((disk, state, did))
}

fn faults_in_automatic_compaction(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    for shape in [Shape::Leveled, Shape::Tiered] {
        let mut options = small(shape, 2);
        options.memtable_bytes = 100;
        options.l1_bytes = 150;
        let (disk, state, setup) = ready(seed, options)?;
        let (key, value) = (b"k050".as_slice(), b"written".as_slice());
        // How many operations of each kind the open and the write make, and that it compacts.
        let probe = disk.fork();
        let counter = FaultDir::new(&probe, &[]);
        let mut db = Db::open(counter.dir(), options).map_err(|e| io_failure(&setup, e))?;
        let opened: Vec<u64> = KINDS.iter().map(|&k| counter.count(k)).collect();
        let did = format!("{setup}, Db::open, put(\"k050\", \"written\")");
        let edits = records(&probe, &did)?.len();
        db.put(key, value).map_err(|e| io_failure(&did, e))?;
        let made = records(&probe, &did)?.len() - edits;
        expect(
            made >= 2,
            format!(
                "did:      {did}, then read the MANIFEST\nexpected: a flush (the memtable was \
                 full) and at least one compaction round: two edits or more\ngot:      {made}"
            ),
        )?;
        drop(db);
        let mut kinds = KINDS.to_vec();
        kinds.push(OpKind::Remove);
        for kind in kinds {
            let before = KINDS
                .iter()
                .position(|&k| k == kind)
                .map_or(0, |i| opened[i]);
            let total = counter.count(kind);
            let aimed = (before + 1..=total).filter(|&n| {
                kind != OpKind::Read || n <= before + 3 || n + 2 > total || n % 4 == 0
            });
            for n in aimed {
                for fault in faults_for(kind) {
                    let trial = disk.fork_reseeded(seed ^ n);
                    let faults = FaultDir::new(&trial, &[Aim { kind, n, fault }]);
                    let mut did = format!(
                        "{setup}, Db::open(dir, ..), put(\"k050\", \"written\") with the {} \
                         {kind:?} since the open began failing with {fault:?}",
                        ordinal(n)
                    );
                    let start = trial.stats();
                    let mut db =
                        Db::open(faults.dir(), options).map_err(|e| io_failure(&did, e))?;
                    let mut state = state.clone();
                    let mut user_bytes = 0;
                    match attempt(|| db.put(key, value)) {
                        Ok(()) => {
                            state.insert(key.to_vec(), value.to_vec());
                            user_bytes = (key.len() + value.len()) as u64;
                            did.push_str(": Ok");
                            // Its flush's rounds all done: a failed one is the write's error.
                            let tables = records(&trial, &did)?
                                .pop()
                                .map_or_else(Vec::new, |last| last.tables);
                            if let Some(level) = over_limit(options, &tables) {
                                return fail(format!(
                                    "did:      {did}, then read the MANIFEST\nexpected: no level \
                                     over its limit once a write returns Ok ({}): a compaction \
                                     round of its flush that failed is the write's error, and \
                                     the write is not applied\ngot:      level {level} over its \
                                     limit: {}",
                                    rule(options),
                                    all_shown(&tables)
                                ));
                            }
                        }
                        Err(error) => {
                            no_panic(&did, &error)?;
                            did.push_str(&format!(": Err({:?}): {error}", error.kind()));
                        }
                    }
                    let (mut gets, mut get_reads) = (0, 0);
                    for key in ["k000", "k004", "k007", "k050", "zz"] {
                        let d = format!("{did}, get({key:?})");
                        match counted_get(&db, &trial, key.as_bytes(), &mut gets, &mut get_reads) {
                            Ok(got) => expect_eq(&d, got, state.get(key.as_bytes()).cloned())?,
                            Err(error) => no_panic(&d, &error)?,
                        }
                    }
                    // What it counted, against what the disk saw of it: only what succeeded.
                    if let Ok(stats) = attempt(|| db.stats()) {
                        let measured =
                            measured_since(&trial, start, user_bytes, (gets, get_reads), &state);
                        expect_stats(
                            &format!(
                                "{did}, get() of k000, k004, k007, k050 and zz ({gets} returned \
                                 Ok)"
                            ),
                            &stats,
                            &measured,
                        )?;
                    }
                    drop(db);
                    did.push_str(
                        ", then the power failed, losing what was unsynced; Db::open(dir, ..)",
                    );
                    trial.crash();
                    trial.restart_losing_unsynced();
                    let mut run = Run::on(trial, options)
                        .map_err(|f| Failure::new(format!("{did}\n{}", f.message)))?;
                    run.state = state;
                    run.script = vec![did];
                    run.calls(&[scan_all(), put("k100", b"x"), flush(), get("k050")])?;
                }
            }
        }
    }
    Ok(())
}
