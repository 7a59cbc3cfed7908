//! Hidden checks for lsm/compaction.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::sync::Arc;

use judge::prelude::*;
use kit::crash::{self, KvOp, Limits};
use kit::disk::Dir;
use kit::fault::{Aim, FaultDir, attempt};
use kit::sim::{OpKind, Profile, SimDisk};
use lsm_compaction::{Db, LEVELS, Options, TableInfo};

use crate::support::{
    KINDS, KeyValues, ListedTable, MANIFEST_NAME, ManifestRecord, Seen, Step, TableOptions, Watch,
    faults_for, io_failure, no_panic, ordinal, parse_manifest, parse_table, rebuild, short,
    state_text, step, table_file, wal_file,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "compact() merges level 0 whole into level 1 once it holds l0_tables tables, pushes \
             tables of a level over its limit down, and returns with no level over its limit, \
             every level below 0 in key order and apart",
            levels_kept,
        )
        .check(
            "puts, deletes, gets, scans, flushes, compactions, reopens and crashes in any order \
             agree with a BTreeMap, and after each the MANIFEST, the directory and every table \
             agree with tables()",
            agrees_with_model,
        )
        .check(
            "each round of a compaction is one MANIFEST edit: it takes the tables of the \
             shallowest level over its limit (all of level 0, or one table) and exactly the \
             tables of the next level their key ranges meet, puts its new tables on that next \
             level, and reads no other table",
            rewrites_only_overlapping,
        )
        .check(
            "a tombstone stays while a deeper level may hold its key (the old value must not \
             come back), and goes, with every shadowed version, when none can",
            tombstones_where_needed,
        )
        .check(
            "a compaction cuts its new tables where their keys and values reach table_bytes (a \
             tombstone counts its key), and with no level limit but the last's, everything goes \
             down to level 6",
            tables_cut_at_table_bytes,
        )
        .check(
            "a get reads at most one data block of each level below 0 (the one table whose key \
             range holds the key) and none of a table whose key range cannot hold it",
            one_block_per_level,
        )
        .check(
            "a compaction removes the old tables only after the MANIFEST edit that drops them \
             is synced",
            removed_after_the_edit,
        )
        .check(
            "a crash at any I/O step of writes, flushes and compactions, and again during the \
             recovery after it, loses no acknowledged write and brings back nothing else",
            crash_everywhere,
        )
        .check(
            "every I/O operation of a compaction (of its reads, a sample) failed in turn: an \
             error or success, never a panic nor a wrong answer; after a failed MANIFEST edit \
             a compaction is refused and touches nothing; and the next open, with the disk \
             well, holds every write",
            faults_in_compaction,
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
        12 => step().prop_map(Call::Step),
        4 => Just(Call::Compact),
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

fn all_shown(tables: &[ListedTable]) -> String {
    let shown: Vec<String> = tables.iter().map(shown).collect();
    format!("[{}]", shown.join(", "))
}

/// The limit of `level` in bytes (level 1 and below).
fn limit(options: Options, level: u32) -> u64 {
    (1..level).fold(options.l1_bytes, |limit, _| {
        limit.saturating_mul(options.multiplier)
    })
}

/// The shallowest level over its limit, if there is one.
fn over_limit(options: Options, tables: &[ListedTable]) -> Option<u32> {
    (0..LEVELS as u32 - 1).find(|&level| {
        let on: Vec<&ListedTable> = tables.iter().filter(|t| t.level == level).collect();
        if level == 0 {
            !on.is_empty() && on.len() >= options.l0_tables
        } else {
            on.iter().map(|t| t.size).sum::<u64>() > limit(options, level)
        }
    })
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
                "did:      {did}, then read the MANIFEST\nexpected: records as the README lays \
             them out\ngot:      {e}"
            ))
        })
}

/// Holds the database's layout to the rules: `tables()` is the MANIFEST's last record, in
/// level order, levels below 0 in key order and apart; the directory holds exactly the
/// MANIFEST, its log and its tables; every table parses, matches its record and holds each of
/// its keys once; and the files rebuild `state`.
fn check_layout(
    disk: &SimDisk,
    db: &Db,
    options: Options,
    state: &KeyValues,
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
        if a.level > b.level {
            return fail(format!(
                "did:      {did}, tables()\nexpected: level 0 first, then level 1, 2... in \
                 order\ngot:      {} before {} in {}",
                shown(a),
                shown(b),
                all_shown(&tables)
            ));
        }
        if a.level == b.level && a.level > 0 && a.last_key >= b.first_key {
            return fail(format!(
                "did:      {did}, tables()\nexpected: the tables of level {} in key order, their \
                 key ranges apart (only level 0 may overlap)\ngot:      {} then {} in {}",
                a.level,
                shown(a),
                shown(b),
                all_shown(&tables)
            ));
        }
    }
    if let Some(t) = tables.iter().find(|t| t.level as usize >= LEVELS) {
        return fail(format!(
            "did:      {did}, tables()\nexpected: levels 0 to {}\ngot:      {}",
            LEVELS - 1,
            shown(t)
        ));
    }

    let mut expected: BTreeSet<String> = tables.iter().map(|t| table_file(t.number)).collect();
    expected.insert(MANIFEST_NAME.to_string());
    expected.insert(wal_file(last.wal));
    let got: BTreeSet<String> = disk.files().into_iter().map(|f| f.name).collect();
    if got != expected {
        return fail(format!(
            "did:      {did}, then listed the directory\nexpected: {expected:?} (the MANIFEST, \
             the log and the tables its last record names: a compaction removes the tables it \
             replaced)\ngot:      {got:?}"
        ));
    }
    // A version of a key is in one table only: a table a compaction rewrote must be gone.
    let mut versions: BTreeMap<(Vec<u8>, u64), u64> = BTreeMap::new();
    for t in &tables {
        for entry in check_table(disk, t, options, did)? {
            if let Some(other) = versions.insert((entry.key.clone(), entry.seq), t.number) {
                return fail(format!(
                    "did:      {did}, then read every table the MANIFEST lists\nexpected: each \
                     version of a key in one table (a compaction's output replaces its \
                     input)\ngot:      {} at seq {} in both {} and {}",
                    short(&entry.key),
                    entry.seq,
                    table_file(other),
                    table_file(t.number)
                ));
            }
        }
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

/// Holds the rounds of one `compact()` to the rules: `before` the last record before it,
/// `after` the records it appended, `seen` what it did on the disk.
fn check_rounds(
    disk: &SimDisk,
    options: Options,
    before: &ManifestRecord,
    after: &[ManifestRecord],
    seen: &[Seen],
    did: &str,
) -> CheckResult {
    let mut prev = before;
    let mut may_read: BTreeSet<String> = BTreeSet::new();
    for (r, next) in after.iter().enumerate() {
        let round = format!(
            "{did}: round {} of the compaction (MANIFEST edit {})",
            r + 1,
            r + 1
        );
        let Some(level) = over_limit(options, &prev.tables) else {
            let limits: Vec<String> = (1..LEVELS as u32 - 1)
                .map(|l| format!("L{l} {}", limit(options, l)))
                .collect();
            return fail(format!(
                "did:      {round}\nexpected: no round: no level of {} is over its limit \
                 (limits in bytes, l1_bytes * multiplier^(n-1) saturating at u64::MAX: {})\n\
                 got:      an edit to {}",
                all_shown(&prev.tables),
                limits.join(", "),
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
        let upper: Vec<&ListedTable> = removed
            .iter()
            .copied()
            .filter(|t| t.level == level)
            .collect();
        let on_level: Vec<&ListedTable> = prev.tables.iter().filter(|t| t.level == level).collect();
        let what = format!(
            "the tables were {}, the shallowest level over its limit {level}",
            all_shown(&prev.tables)
        );
        let picks_right = if level == 0 {
            upper.len() == on_level.len()
        } else {
            upper.len() == 1
        };
        if !picks_right {
            return fail(format!(
                "did:      {round}; {what}\nexpected: {} of level {level} taken\ngot:      {} \
                 taken: {}",
                if level == 0 {
                    format!(
                        "all {} tables (level 0's key ranges overlap: what a table left behind \
                         could hide a newer version, or be hidden)",
                        on_level.len()
                    )
                } else {
                    "one table".to_string()
                },
                upper.len(),
                all_shown(&upper.iter().map(|t| (*t).clone()).collect::<Vec<_>>())
            ));
        }
        let first = upper
            .iter()
            .map(|t| &t.first_key)
            .min()
            .cloned()
            .unwrap_or_default();
        let last = upper
            .iter()
            .map(|t| &t.last_key)
            .max()
            .cloned()
            .unwrap_or_default();
        let expected_lower: BTreeSet<u64> = prev
            .tables
            .iter()
            .filter(|t| t.level == level + 1 && meets(t, &first, &last))
            .map(|t| t.number)
            .collect();
        let got_lower: BTreeSet<u64> = removed
            .iter()
            .filter(|t| t.level == level + 1)
            .map(|t| t.number)
            .collect();
        let strays: Vec<&ListedTable> = removed
            .iter()
            .copied()
            .filter(|t| t.level != level && t.level != level + 1)
            .collect();
        if got_lower != expected_lower || !strays.is_empty() {
            return fail(format!(
                "did:      {round}; {what}\nexpected: the tables of level {} whose key ranges \
                 meet {}..={} (those taken from level {level}) replaced, and no other: {:?}\n\
                 got:      replaced {}",
                level + 1,
                short(&first),
                short(&last),
                expected_lower,
                all_shown(&removed.iter().map(|t| (*t).clone()).collect::<Vec<_>>())
            ));
        }
        if let Some(t) = added.iter().find(|t| t.level != level + 1) {
            return fail(format!(
                "did:      {round}; {what}\nexpected: the new tables on level {}\ngot:      {}",
                level + 1,
                shown(t)
            ));
        }
        // The last of the round's tables in key order may be short of table_bytes.
        let last_out = added.iter().map(|t| &t.first_key).max().cloned();
        // A table a later round took again is gone: the tables still there are read.
        for t in added
            .iter()
            .filter(|t| disk.contents(&table_file(t.number)).is_some())
        {
            let entries = check_table(disk, t, options, &round)?;
            let weight = |e: &crate::support::TableEntry| {
                (e.key.len() + e.value.as_ref().map_or(0, Vec::len)) as u64
            };
            let total: u64 = entries.iter().map(weight).sum();
            let before_last = total - entries.last().map_or(0, weight);
            let is_last = Some(&t.first_key) == last_out.as_ref();
            let late = entries.len() > 1 && before_last >= options.table_bytes;
            if late || (!is_last && total < options.table_bytes) {
                return fail(format!(
                    "did:      {round}; {what}\nexpected: each new table finished by the entry \
                     that brings its keys' and values' bytes to table_bytes = {} (a tombstone \
                     counts its key), and only the round's last table short of it\ngot:      \
                     {} holds {} entries of {total} bytes, {before_last} before its last entry{}",
                    options.table_bytes,
                    shown(t),
                    entries.len(),
                    if is_last {
                        " (the round's last table)"
                    } else {
                        ""
                    }
                ));
            }
            // A tombstone is kept only where a deeper level may hold its key.
            for entry in entries.iter().filter(|e| e.value.is_none()) {
                let deeper = next
                    .tables
                    .iter()
                    .any(|d| d.level > t.level && holds(d, &entry.key));
                if !deeper {
                    return fail(format!(
                        "did:      {round}; {what}\nexpected: no tombstone for {} in {} (no \
                         deeper level may hold an older version of it: it hides nothing, and \
                         costs space and reads for good)\ngot:      {entry:?}",
                        short(&entry.key),
                        shown(t)
                    ));
                }
            }
        }
        may_read.extend(removed.iter().map(|t| table_file(t.number)));
        may_read.extend(added.iter().map(|t| table_file(t.number)));
        prev = next;
    }
    if let Some(level) = over_limit(options, &prev.tables) {
        return fail(format!(
            "did:      {did}, tables()\nexpected: no level over its limit once compact() returns \
             (level 0 under l0_tables = {} tables, level n under l1_bytes * multiplier^(n-1) \
             bytes)\ngot:      level {level} over it: {}",
            options.l0_tables,
            all_shown(&prev.tables)
        ));
    }
    let read: BTreeSet<String> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Read(name) if name.ends_with(".sst") => Some(name.clone()),
            _ => None,
        })
        .collect();
    let others: Vec<&String> = read.difference(&may_read).collect();
    expect(
        others.is_empty(),
        format!(
            "did:      {did}, counting the tables it read\nexpected: only the tables its rounds \
             replaced (and the new ones it wrote): {may_read:?}\ngot:      also read {others:?}"
        ),
    )?;
    no_early_removal(seen, did)
}

fn no_early_removal(seen: &[Seen], did: &str) -> CheckResult {
    for s in seen {
        if let Seen::RemovedWhileListed(name) = s {
            return fail(format!(
                "did:      {did}\nexpected: a table removed only once the MANIFEST's last synced \
                 record no longer lists it (a crash before that sync leaves a MANIFEST naming \
                 a file that is gone)\ngot:      {name} removed while the synced MANIFEST still \
                 listed it"
            ));
        }
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

    fn call(&mut self, call: &Call) -> CheckResult {
        let did = self.did(format!("{call:?}"));
        // A write changes the files' layout only when it flushes first.
        let layout = self.db.tables();
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
                self.watch.take();
                self.db.put(key, value).map_err(|e| io_failure(&did, e))?;
                self.state.insert(key.clone(), value.clone());
                no_early_removal(&self.watch.take(), &did)?;
                if self.db.tables() == layout {
                    return Ok(());
                }
            }
            Call::Step(Step::Delete(key)) => {
                self.watch.take();
                self.db.delete(key).map_err(|e| io_failure(&did, e))?;
                self.state.remove(key);
                no_early_removal(&self.watch.take(), &did)?;
                if self.db.tables() == layout {
                    return Ok(());
                }
            }
            Call::Step(Step::Flush) => {
                self.db.flush().map_err(|e| io_failure(&did, e))?;
            }
            Call::Compact => {
                let before = records(&self.disk, &did)?;
                self.watch.take();
                self.db.compact().map_err(|e| io_failure(&did, e))?;
                let seen = self.watch.take();
                let after = records(&self.disk, &did)?;
                let start = before.len().min(after.len());
                if let Some(last) = before.last() {
                    check_rounds(&self.disk, self.options, last, &after[start..], &seen, &did)?;
                }
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
        check_layout(&self.disk, &self.db, self.options, &self.state, &did)
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

/// `n` keys `k000`, `k001`... from `start`, every `step`th, each a put of a value of `len`
/// bytes, then a flush.
fn batch(start: usize, n: usize, step: usize, len: usize, tag: u8) -> Vec<Call> {
    let mut calls: Vec<Call> = (0..n)
        .map(|i| put(&format!("k{:03}", start + i * step), &vec![tag; len]))
        .collect();
    calls.push(flush());
    calls
}

// ---------------------------------------------------------------------------------------------
// Behaviour.

fn levels_kept(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), small(2, 400, 2, 100))?;
    // Nothing to do: no round, no file.
    run.call(&Call::Compact)?;
    run.calls(&batch(0, 6, 2, 30, b'a'))?;
    // One table on level 0, under its trigger of 2.
    run.call(&Call::Compact)?;
    run.calls(&batch(1, 6, 2, 30, b'b'))?;
    run.call(&Call::Compact)?;
    let tables = run.tables();
    expect(
        tables.iter().all(|t| t.level > 0) && !tables.is_empty(),
        format!(
            "did:      {}, tables()\nexpected: level 0 at its trigger of 2 tables merged whole \
             into level 1\ngot:      {}",
            run.so_far(),
            all_shown(&tables)
        ),
    )?;
    for round in 0..4u8 {
        run.calls(&batch(round as usize, 20, 3, 40, b'c' + round))?;
        run.calls(&batch(round as usize + 1, 20, 3, 40, b'c' + round))?;
        run.call(&Call::Compact)?;
        run.calls(&[get("k000"), get("k061"), scan_all()])?;
    }
    let tables = run.tables();
    expect(
        tables.iter().any(|t| t.level >= 2),
        format!(
            "did:      {}, tables()\nexpected: tables on level 2: level 1 over its limit of 400 \
             bytes pushes tables down\ngot:      {}",
            run.so_far(),
            all_shown(&tables)
        ),
    )?;
    run.calls(&[Call::Reopen, scan_all(), Call::Compact, get("k030")])?;
    // A multiplier so large that level 2's limit, 1000 * 2^62, is past u64::MAX: it saturates
    // there, so level 2 is never over it, and no table goes below it.
    let mut run = Run::new(ctx.seed(), small(1, 1000, 1 << 62, 200))?;
    run.calls(&batch(0, 60, 1, 20, b'h'))?;
    run.calls(&[Call::Compact, get("k030")])?;
    let tables = run.tables();
    expect(
        tables.iter().any(|t| t.level == 2) && tables.iter().all(|t| t.level <= 2),
        format!(
            "did:      {}, tables()\nexpected: tables on level 2 and none below it: level 1 is \
             over its limit of 1000 bytes, level 2's limit 1000 * 2^62 saturates at u64::MAX \
             (a product that wraps around is a limit near 0 that pushes everything down)\n\
             got:      {}",
            run.so_far(),
            all_shown(&tables)
        ),
    )
}

fn agrees_with_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["options", "calls"],
        64,
        (options(), prop::collection::vec(any_call(), 0..40)),
        |(options, calls)| {
            let mut run = Run::new(seed, options)?;
            run.calls(&calls)?;
            // Whatever the calls left, a last compaction.
            run.calls(&[Call::Compact, scan_all()])
        },
    )
}

fn rewrites_only_overlapping(ctx: &mut Ctx) -> CheckResult {
    // Level 1 of many small tables, then one level-0 table over a narrow range: only the
    // level-1 tables it meets are rewritten.
    let mut run = Run::new(ctx.seed(), small(1, u64::MAX, 10, 60))?;
    run.calls(&batch(0, 40, 1, 20, b'a'))?;
    run.call(&Call::Compact)?;
    let l1 = run.tables().iter().filter(|t| t.level == 1).count();
    expect(
        l1 >= 8,
        format!(
            "did:      {}, tables()\nexpected: 40 keys of 24 bytes in tables of table_bytes = 60: \
             at least 8 tables on level 1\ngot:      {}",
            run.so_far(),
            all_shown(&run.tables())
        ),
    )?;
    for (start, n) in [(10, 3), (0, 1), (39, 1), (20, 2), (50, 2)] {
        run.calls(&batch(start, n, 1, 20, b'b'))?;
        run.call(&Call::Compact)?;
    }
    // Deeper levels: one table of level 1 at a time into level 2.
    let mut run = Run::new(ctx.seed(), small(1, 200, 100, 60))?;
    for i in 0..6 {
        run.calls(&batch(i, 10, 6, 20, b'a' + i as u8))?;
        run.call(&Call::Compact)?;
    }
    run.calls(&[scan_all()])
}

fn tombstones_where_needed(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    // Level 1 holds up to 300 bytes: most of 20 keys go on to level 2.
    let mut run = Run::new(seed, small(1, 300, 10, 80))?;
    run.calls(&batch(0, 20, 1, 40, b'a'))?;
    run.call(&Call::Compact)?;
    let tables = run.tables();
    let Some(deep) = tables.iter().find(|t| t.level >= 2).cloned() else {
        return fail(format!(
            "did:      {}, tables()\nexpected: tables on level 2 (level 1's limit is 300 bytes, \
             and it holds 20 values of 40 bytes)\ngot:      {}",
            run.so_far(),
            all_shown(&tables)
        ));
    };
    let k = String::from_utf8_lossy(&deep.first_key).into_owned();
    // The tombstone goes to level 1, above the old value on level 2: it must stay.
    run.calls(&[delete(&k), flush(), Call::Compact, get(&k), scan_all()])?;
    run.calls(&[Call::Reopen, get(&k)])?;
    // The old value on the last level, levels 2 to 5 empty between it and the tombstone.
    let mut run = Run::new(seed, small(1, 0, 1, 80))?;
    run.calls(&batch(0, 6, 1, 10, b'a'))?;
    run.call(&Call::Compact)?;
    run.options = small(1, u64::MAX, 1, 80);
    run.calls(&[
        Call::Reopen,
        delete("k003"),
        flush(),
        Call::Compact,
        get("k003"),
        scan_all(),
    ])?;
    // Everything deleted and compacted to the bottom: nothing is left, not even tombstones.
    let mut run = Run::new(seed, small(1, u64::MAX, 10, 80))?;
    run.calls(&batch(0, 10, 1, 10, b'a'))?;
    run.call(&Call::Compact)?;
    let mut calls: Vec<Call> = (0..10).map(|i| delete(&format!("k{i:03}"))).collect();
    calls.extend([
        put("k004", b"new"),
        put("k004", b"newer"),
        flush(),
        Call::Compact,
    ]);
    run.calls(&calls)?;
    let tables = run.tables();
    let keys: usize = tables
        .iter()
        .map(|t| {
            check_table(&run.disk, t, run.options, &run.so_far())
                .map(|entries| entries.len())
                .unwrap_or(0)
        })
        .sum();
    expect(
        keys == 1,
        format!(
            "did:      {}, then read every table\nexpected: one entry, k004 = \"newer\": the \
             tombstones on the last level that holds anything hide nothing, and go; so do the \
             versions they and newer puts shadow\ngot:      {keys} entries in {}",
            run.so_far(),
            all_shown(&tables)
        ),
    )?;
    run.calls(&[get("k004"), get("k003"), scan_all()])
}

fn tables_cut_at_table_bytes(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    // Keys of 4 bytes and values of 20: 24 bytes an entry, so that 48 is two entries to the
    // byte, and 49 is three.
    for table_bytes in [48, 49, 0, 1, u64::MAX] {
        let bottom = small(1, 0, 1, table_bytes);
        let mut run = Run::new(seed, bottom)?;
        run.calls(&batch(0, 9, 1, 20, b'a'))?;
        run.call(&Call::Compact)?;
        let tables = run.tables();
        expect(
            tables.iter().all(|t| t.level as usize == LEVELS - 1),
            format!(
                "did:      {}, tables()\nexpected: every table on level {} (every level above \
                 it has a limit of 0 bytes; the last has none)\ngot:      {}",
                run.so_far(),
                LEVELS - 1,
                all_shown(&tables)
            ),
        )?;
        // Tombstones above what they hide: they stay, and count their keys, 4 bytes each.
        run.options = small(1, u64::MAX, 1, table_bytes / 6 + 1);
        run.call(&Call::Reopen)?;
        let mut calls: Vec<Call> = (0..9).map(|i| delete(&format!("k{i:03}"))).collect();
        calls.extend([flush(), Call::Compact, scan_all(), get("k004")]);
        run.calls(&calls)?;
    }
    Ok(())
}

fn one_block_per_level(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let mut run = Run::new(seed, small(2, 1000, 10, 100))?;
    for i in 0..6 {
        run.calls(&batch(i, 12, 5, 30, b'a' + i as u8))?;
        run.calls(&batch(i + 2, 12, 5, 30, b'a' + i as u8))?;
        run.call(&Call::Compact)?;
    }
    // Level 0 with a table again, over part of the keys.
    run.calls(&batch(3, 4, 7, 30, b'z'))?;
    let tables = run.tables();
    let levels: BTreeSet<u32> = tables.iter().map(|t| t.level).collect();
    expect(
        levels.iter().filter(|&&l| l >= 1).count() >= 2
            && tables.iter().filter(|t| t.level == 1).count() >= 2,
        format!(
            "did:      {}, tables()\nexpected: tables on levels 1 and 2, several on level 1\n\
             got:      {}",
            run.so_far(),
            all_shown(&tables)
        ),
    )?;
    let level_of: BTreeMap<String, &ListedTable> =
        tables.iter().map(|t| (table_file(t.number), t)).collect();
    let mut keys: Vec<Vec<u8>> = (0..70).map(|i| format!("k{i:03}").into_bytes()).collect();
    keys.extend([
        b"".to_vec(),
        b"k".to_vec(),
        b"z".to_vec(),
        b"k0305".to_vec(),
    ]);
    for key in keys {
        run.watch.take();
        let did = format!("{}, get({})", run.so_far(), short(&key));
        let got = run.db.get(&key).map_err(|e| io_failure(&did, e))?;
        expect_eq(&did, got, run.state.get(&key).cloned())?;
        let mut reads: BTreeMap<u32, usize> = BTreeMap::new();
        for seen in run.watch.take() {
            let Seen::Read(name) = seen else { continue };
            let Some(t) = level_of.get(&name) else {
                continue;
            };
            if !holds(t, &key) {
                return fail(format!(
                    "did:      {did}, counting its reads\nexpected: no read of {name} ({}): its \
                     key range cannot hold the key\ngot:      a read of it; the tables were {}",
                    shown(t),
                    all_shown(&tables)
                ));
            }
            *reads.entry(t.level).or_default() += 1;
        }
        if let Some((level, n)) = reads.iter().find(|(l, n)| **l >= 1 && **n > 1) {
            return fail(format!(
                "did:      {did}, counting its reads\nexpected: at most one read of level \
                 {level}: its tables are apart, so one table (found by a binary search on \
                 their key ranges) can hold the key, and one block of it\ngot:      {n} reads; \
                 the tables were {}",
                all_shown(&tables)
            ));
        }
    }
    Ok(())
}

fn removed_after_the_edit(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), small(2, 200, 2, 50))?;
    for i in 0..5 {
        run.calls(&batch(i, 8, 2, 20, b'a' + i as u8))?;
        run.calls(&batch(i + 1, 8, 2, 20, b'a' + i as u8))?;
        // What `check_rounds` checks after every compaction, said here on its own too.
        let did = run.did("compact()");
        run.watch.take();
        run.db.compact().map_err(|e| io_failure(&did, e))?;
        let seen = run.watch.take();
        no_early_removal(&seen, &did)?;
        // Every table removed was dropped by a MANIFEST edit synced before the removal.
        let mut synced_after_append = true;
        for s in &seen {
            match s {
                Seen::Append(name) if name == MANIFEST_NAME => synced_after_append = false,
                Seen::Sync(name) if name == MANIFEST_NAME => synced_after_append = true,
                Seen::Remove(name) if name.ends_with(".sst") && !synced_after_append => {
                    return fail(format!(
                        "did:      {did}\nexpected: the MANIFEST synced after its edit, before a \
                         table it drops is removed\ngot:      {name} removed between the edit's \
                         append and its sync"
                    ));
                }
                _ => {}
            }
        }
        check_layout(&run.disk, &run.db, run.options, &run.state, &did)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Crashes and faults.

/// The options the crash checks open the database with: writes flush on their own, and two
/// tables on level 0 are enough to compact.
const CRASH_OPTIONS: Options = Options {
    memtable_bytes: 60,
    block_size: 64,
    restart_interval: 2,
    l0_tables: 2,
    l1_bytes: 150,
    multiplier: 2,
    table_bytes: 60,
};

/// The crash driver's handle on the database: every write is synced, and maintenance is a
/// flush and a compaction.
struct Compacting;

impl crash::Subject for Compacting {
    type Store = Db;

    fn open(dir: Arc<dyn Dir>) -> io::Result<Db> {
        Db::open(dir, CRASH_OPTIONS)
    }

    fn apply(db: &mut Db, op: &KvOp) -> io::Result<()> {
        match op {
            KvOp::Put(key, value) => db.put(key, value),
            KvOp::Delete(key) => db.delete(key),
            KvOp::Maintain => db.flush().and_then(|()| db.compact()),
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

fn crash_check(seed: u64, ops: &[KvOp], crash_points: u64) -> CheckResult {
    let probes = vec![b"never written".to_vec(), b"zz".to_vec()];
    let limits = Limits {
        crash_points,
        crash_during_recovery: true,
        profile: Profile::HARSH,
    };
    crash::check::<Compacting>(seed, ops, &probes, limits)
        .map(drop)
        .map_err(|failure| {
            Failure::new(format!(
                "opened with {CRASH_OPTIONS:?}; maintain() is flush() then compact(), sync() does \
                 nothing (every write is synced)\n{failure}"
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
    crash_check(seed, &scripted, 60)?;
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
    ctx.forall_named(&["ops"], 6, prop::collection::vec(op, 1..16), |ops| {
        crash_check(seed, &ops, 16)
    })
}

/// A closed database whose next `compact()` has rounds on two levels to do.
fn ready(seed: u64) -> Result<(SimDisk, KeyValues, String), Failure> {
    let mut run = Run::new(seed, small(2, 120, 2, 60))?;
    run.calls(&batch(0, 6, 1, 20, b'a'))?;
    run.calls(&batch(3, 6, 1, 20, b'b'))?;
    run.call(&Call::Compact)?;
    run.calls(&[delete("k002"), put("k009", b"c")])?;
    run.calls(&batch(1, 3, 2, 20, b'd'))?;
    run.calls(&batch(4, 2, 1, 20, b'e'))?;
    let Run {
        disk, state, db, ..
    } = run;
    let did =
        "the database of k000..k011 with two tables on level 0 and more below, closed".to_string();
    drop(db);
    Ok((disk, state, did))
}

/// The names the MANIFEST's last whole record says the directory holds.
fn named(disk: &SimDisk) -> BTreeSet<String> {
    let manifest = disk.contents(MANIFEST_NAME).unwrap_or_default();
    let mut named = BTreeSet::from([MANIFEST_NAME.to_string()]);
    if let Ok((records, _)) = parse_manifest(&manifest)
        && let Some(last) = records.last()
    {
        named.insert(wal_file(last.wal));
        named.extend(last.tables.iter().map(|t| table_file(t.number)));
    }
    named
}

/// Every file of the directory, by name, with its bytes.
fn listing(disk: &SimDisk) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = disk
        .files()
        .into_iter()
        .map(|f| {
            let bytes = disk.contents(&f.name).unwrap_or_default();
            (f.name, bytes)
        })
        .collect();
    files.sort();
    files
}

fn faults_in_compaction(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = small(2, 120, 2, 60);
    let (disk, state, setup) = ready(seed)?;
    // How many operations of each kind a compaction makes.
    let counter = FaultDir::new(&disk.fork(), &[]);
    let mut db = Db::open(counter.dir(), options).map_err(|e| io_failure(&setup, e))?;
    let opened: Vec<u64> = KINDS.iter().map(|&k| counter.count(k)).collect();
    db.compact()
        .map_err(|e| io_failure(&format!("{setup}, Db::open, compact()"), e))?;
    drop(db);
    let mut kinds = KINDS.to_vec();
    kinds.push(OpKind::Remove);
    for kind in kinds {
        let before = KINDS
            .iter()
            .position(|&k| k == kind)
            .map_or(0, |i| opened[i]);
        let total = counter.count(kind);
        // Every operation of a kind, but reads: a compaction reads its tables block by block,
        // and a failed read anywhere fails the same way. The first three, the last two, and
        // every third between.
        let aimed = (before + 1..=total)
            .filter(|&n| kind != OpKind::Read || n <= before + 3 || n + 2 > total || n % 3 == 0);
        for n in aimed {
            for fault in faults_for(kind) {
                let trial = disk.fork_reseeded(seed ^ n);
                let faults = FaultDir::new(&trial, &[Aim { kind, n, fault }]);
                let mut did = format!(
                    "{setup}, Db::open(dir, {options:?}), compact() with the {} {kind:?} since \
                     the open began failing with {fault:?}",
                    ordinal(n)
                );
                let mut db = Db::open(faults.dir(), options).map_err(|e| io_failure(&did, e))?;
                let mut state = state.clone();
                if let Err(error) = attempt(|| db.compact()) {
                    no_panic(&did, &error)?;
                    // A database that still takes writes failed before a MANIFEST edit: the
                    // round's new files are gone, and only what the MANIFEST names is left.
                    if attempt(|| db.put(b"k050", b"after")).is_ok() {
                        state.insert(b"k050".to_vec(), b"after".to_vec());
                        let expected = named(&trial);
                        let got: BTreeSet<String> =
                            trial.files().into_iter().map(|f| f.name).collect();
                        if got != expected {
                            return fail(format!(
                                "did:      {did}: Err({:?}): {error}, then put(\"k050\", \
                                 \"after\"): Ok, then listed the directory\nexpected: {expected:?} \
                                 (a round that fails before its MANIFEST edit removes the files \
                                 it created: their numbers are never taken again, and no open \
                                 would know them from a later table's)\ngot:      {got:?}",
                                error.kind()
                            ));
                        }
                    } else {
                        // A database that refuses writes had its MANIFEST edit fail: the file
                        // may end in a torn record. A compaction must refuse too, touching
                        // nothing: a record written after a torn one leaves a MANIFEST no open
                        // can read.
                        let before = listing(&trial);
                        let d = format!(
                            "{did}: Err({:?}): {error}, then put(\"k050\", \"after\"): Err, \
                             then compact()",
                            error.kind()
                        );
                        match attempt(|| db.compact()) {
                            Ok(()) => {
                                return fail(format!(
                                    "did:      {d}\nexpected: Err: after a failed MANIFEST edit \
                                     the database refuses compactions as it refuses writes\n\
                                     got:      Ok(())"
                                ));
                            }
                            Err(error) => no_panic(&d, &error)?,
                        }
                        let after = listing(&trial);
                        if after != before {
                            let names = |l: &[(String, Vec<u8>)]| -> Vec<String> {
                                l.iter()
                                    .map(|(n, b)| format!("{n} ({} bytes)", b.len()))
                                    .collect()
                            };
                            return fail(format!(
                                "did:      {d}, then listed the directory\nexpected: the \
                                 directory untouched (a refused compaction writes, creates and \
                                 removes nothing): {:?}\ngot:      {:?}",
                                names(&before),
                                names(&after)
                            ));
                        }
                    }
                }
                // What it answers now, after an error or not, is what was written.
                for key in ["k000", "k002", "k005", "k009", "k050", "zz"] {
                    let d = format!("{did}, get({key:?})");
                    match attempt(|| db.get(key.as_bytes())) {
                        Ok(got) => expect_eq(&d, got, state.get(key.as_bytes()).cloned())?,
                        Err(error) => no_panic(&d, &error)?,
                    }
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
                // A compaction the failed one left to do, then one more after a flush.
                run.calls(&[
                    scan_all(),
                    Call::Compact,
                    put("k100", b"x"),
                    flush(),
                    Call::Compact,
                    get("k002"),
                ])?;
            }
        }
    }
    Ok(())
}
