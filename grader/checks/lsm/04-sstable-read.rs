//! Hidden checks for lsm/sstable-read.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{self, ErrorKind};
use std::panic::{AssertUnwindSafe, catch_unwind};

use judge::prelude::*;
use kit::checksum::crc32;
use kit::crash::show;
use kit::fault::{Aim, FaultDir};
use kit::sim::{Fault, OpKind, SimDisk};
use lsm_sstable_read::{Entry, Table, TableIter};

use crate::support::{
    TABLE_MAGIC, TableEntry, TableOptions as Options, disk_holding, put_varint, write_table,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a table with no entries opens, finds nothing and iterates nothing; a table of one \
             entry finds it at its seq and above, and nothing below",
            empty_and_one,
        )
        .check(
            "get finds the newest version at or below the snapshot, tombstones included, and \
             nothing for absent keys or snapshots below every version: against a model, on \
             tables of every shape",
            get_matches_model,
        )
        .check(
            "iter returns every entry in table order; seek then next returns the rest from the \
             first key >= the one sought (present, absent, before the first, past the last), \
             after any earlier seek or next",
            iter_matches_model,
        )
        .check(
            "versions of one key spread over many blocks: get at every snapshot finds the right \
             version in the right block; seek lands on the newest, and a seek past the last key \
             then finds nothing",
            versions_across_blocks,
        )
        .check(
            "values over 64 KiB, a 1,000-byte key, the empty key and keys of 0x00 and 0xFF bytes \
             come back whole",
            big_and_odd,
        )
        .check(
            "open reads the footer, then the index, and nothing more: two reads, of their bytes \
             only, however big the table",
            open_reads_two,
        )
        .check(
            "get reads one data block and nothing else, and a key past the table's last reads \
             none at all",
            get_reads_one_block,
        )
        .check(
            "a full iteration reads each data block exactly once, in one read each; seek reads \
             the one block it lands in",
            iteration_reads_each_block_once,
        )
        .check(
            "a flipped bit anywhere in a table: open, get or next returns InvalidData when it \
             reads the damage, never a wrong entry, never a panic",
            flipped_bits,
        )
        .check(
            "a file shorter than a footer, a wrong magic, and handles past the end of the file \
             (the index's or a data block's) are InvalidData, never a panic",
            broken_files,
        )
        .check(
            "blocks whose checksum is right but whose lengths lie (restart count, key and value \
             lengths, a shared prefix longer than the key before) are InvalidData; a restart \
             point past the entries is never a panic nor a wrong answer",
            lying_blocks,
        )
        .check(
            "a read that fails is an error, not a missing entry or the end of the table, and \
             the same call succeeds once the disk recovers (in open, get, next and seek)",
            failed_reads,
        )
}

const NAME: &str = "000001.sst";

/// The highest seq a table holds: seqs share a u64 with the entry's kind.
const MAX_SEQ: u64 = (1 << 56) - 1;

// ---------------------------------------------------------------------------------------------
// Showing what was done.

/// An entry as a failure message writes it: `"a"@3 = "x"`, `"a"@2 deleted`.
#[derive(Clone, PartialEq, Eq)]
struct E(Entry);

impl fmt::Debug for E {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Entry { key, seq, value } = &self.0;
        match value {
            Some(value) => write!(f, "{}@{seq} = {}", short(key), short(value)),
            None => write!(f, "{}@{seq} deleted", short(key)),
        }
    }
}

/// Bytes as `show` writes them, or their length and first bytes when they are long.
fn short(bytes: &[u8]) -> String {
    if bytes.len() <= 48 {
        show(bytes)
    } else {
        format!("<{} bytes: {}...>", bytes.len(), show(&bytes[..8]))
    }
}

/// The entries a table is written from, as the failure message writes them.
#[derive(Clone)]
struct Entries(Vec<TableEntry>);

impl fmt::Debug for Entries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self.0.iter().map(|e| format!("{:?}", E(api(e)))).collect();
        write!(f, "[{}]", shown.join(", "))
    }
}

fn api(entry: &TableEntry) -> Entry {
    Entry {
        key: entry.key.clone(),
        seq: entry.seq,
        value: entry.value.clone(),
    }
}

fn model(entries: &[TableEntry]) -> Vec<E> {
    entries.iter().map(|e| E(api(e))).collect()
}

fn snapshot_text(snapshot: u64) -> String {
    if snapshot == u64::MAX {
        "u64::MAX".into()
    } else {
        snapshot.to_string()
    }
}

fn get_call(key: &[u8], snapshot: u64) -> String {
    format!("get({}, {})", short(key), snapshot_text(snapshot))
}

/// The calls made so far, to say in a failure exactly what was done.
struct Script {
    calls: Vec<String>,
}

impl Script {
    /// A script that starts with the table written from `entries` under `options`.
    fn new(entries: &[TableEntry], options: Options) -> Script {
        let shown = if entries.len() <= 12 {
            format!("{:?}", Entries(entries.to_vec()))
        } else {
            format!(
                "{} entries, from {:?} to {:?}",
                entries.len(),
                E(api(&entries[0])),
                E(api(&entries[entries.len() - 1]))
            )
        };
        Script {
            calls: vec![format!(
                "a table of {shown} written with {options:?}, Table::open(dir, {NAME:?})"
            )],
        }
    }

    fn note(&mut self, call: impl Into<String>) {
        self.calls.push(call.into());
    }

    fn did(&mut self, call: impl Into<String>) -> String {
        self.note(call);
        self.so_far()
    }

    /// The calls so far, a run of the same call written once with its count: `next() x 26`.
    fn so_far(&self) -> String {
        let mut runs: Vec<(&str, usize)> = Vec::new();
        for call in &self.calls {
            match runs.last_mut() {
                Some((last, n)) if *last == call.as_str() => *n += 1,
                _ => runs.push((call, 1)),
            }
        }
        let shown: Vec<String> = runs
            .into_iter()
            .map(|(call, n)| match n {
                1 => call.to_string(),
                n => format!("{call} x {n}"),
            })
            .collect();
        shown.join(", ")
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

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(vec![b'a', b'b']), 0..5),
        1 => prop::collection::vec(prop::sample::select(vec![0x00, 0xFF, b'a']), 0..4),
        1 => prop::collection::vec(any::<u8>(), 0..24),
    ]
}

fn seq() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0..20u64, 1 => Just(MAX_SEQ), 1 => 0..=MAX_SEQ]
}

fn value() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..8).prop_map(Some),
        1 => Just(None),
        1 => prop::collection::vec(any::<u8>(), 0..400).prop_map(Some),
    ]
}

/// Entries in table order, no two with the same key and seq: a mix of keys with shared
/// prefixes, and sometimes one key with many versions.
fn entries() -> impl Strategy<Value = Entries> {
    let loose = prop::collection::vec((key(), seq(), value()), 0..40);
    let hot = (key(), prop_oneof![2 => Just(0u64), 1 => 1..30u64], value());
    (loose, hot).prop_map(|(loose, (hot, versions, value))| {
        let mut sorted = BTreeMap::new();
        for (key, seq, value) in loose {
            sorted.insert((key, Reverse(seq)), value);
        }
        for i in 0..versions {
            let value = (i % 3 != 0).then(|| value.clone().unwrap_or_default());
            sorted.insert((hot.clone(), Reverse(3 * i + 1)), value);
        }
        Entries(
            sorted
                .into_iter()
                .map(|((key, Reverse(seq)), value)| TableEntry { key, seq, value })
                .collect(),
        )
    })
}

fn options() -> impl Strategy<Value = Options> {
    let block_size = prop_oneof![Just(1usize), 2..200usize, Just(4096)];
    let restart_interval = prop_oneof![Just(1usize), Just(2), Just(16), Just(1000)];
    (block_size, restart_interval).prop_map(|(block_size, restart_interval)| Options {
        block_size,
        restart_interval,
    })
}

fn put(key: &[u8], seq: u64, value: &[u8]) -> TableEntry {
    TableEntry {
        key: key.to_vec(),
        seq,
        value: Some(value.to_vec()),
    }
}

fn tombstone(key: &[u8], seq: u64) -> TableEntry {
    TableEntry {
        key: key.to_vec(),
        seq,
        value: None,
    }
}

// ---------------------------------------------------------------------------------------------
// The model.

fn model_get(entries: &[TableEntry], key: &[u8], snapshot: u64) -> Option<E> {
    entries
        .iter()
        .find(|e| e.key == key && e.seq <= snapshot)
        .map(|e| E(api(e)))
}

fn model_seek(entries: &[TableEntry], key: &[u8]) -> usize {
    entries.partition_point(|e| e.key.as_slice() < key)
}

/// Keys to look up: every key present, and absent keys before, between and after them (the
/// key just after each, and one just before it that shares all but its last byte).
fn probe_keys(entries: &[TableEntry]) -> BTreeSet<Vec<u8>> {
    let mut keys = BTreeSet::from([Vec::new(), vec![0x00], vec![0xFF; 30]]);
    for entry in entries {
        let key = &entry.key;
        keys.insert(key.clone());
        keys.insert([key.as_slice(), &[0x00]].concat());
        if let Some((&last, rest)) = key.split_last()
            && last > 0
        {
            keys.insert([rest, &[last - 1]].concat());
        }
    }
    keys
}

/// Snapshots to look `key` up at: just below and at each of its versions (the one below a
/// version is at or above the version before it), and the top.
fn probe_snapshots(entries: &[TableEntry], key: &[u8]) -> BTreeSet<u64> {
    let mut snapshots = BTreeSet::from([u64::MAX]);
    for entry in entries.iter().filter(|e| e.key == key) {
        snapshots.extend([entry.seq.saturating_sub(1), entry.seq]);
    }
    snapshots
}

// ---------------------------------------------------------------------------------------------
// Driving the table.

/// A disk holding the table of `entries`, and the table opened.
fn opened(
    seed: u64,
    entries: &[TableEntry],
    options: Options,
    script: &Script,
) -> Result<(SimDisk, Table), Failure> {
    let disk = disk_holding(seed, NAME, &write_table(entries, options))?;
    let table = Table::open(&*disk.dir(), NAME).map_err(|e| io_failure(&script.so_far(), e))?;
    Ok((disk, table))
}

fn expect_get(
    table: &Table,
    entries: &[TableEntry],
    key: &[u8],
    snapshot: u64,
    script: &mut Script,
) -> CheckResult {
    let did = script.did(get_call(key, snapshot));
    let got = table.get(key, snapshot).map_err(|e| io_failure(&did, e))?;
    let expected = model_get(entries, key, snapshot);
    let got = got.map(E);
    if got == expected {
        return Ok(());
    }
    let why = match (&got, &expected) {
        (Some(got), Some(expected)) if got.0.key == expected.0.key && got.0.seq > snapshot => {
            "\n(a version newer than the snapshot is not visible in it)"
        }
        (None, Some(expected)) if expected.0.value.is_none() => {
            "\n(a tombstone is an answer too: the key was deleted at that seq)"
        }
        _ => "",
    };
    fail(format!(
        "did:      {did}\nexpected: {expected:?}\ngot:      {got:?}{why}"
    ))
}

/// Compares what an iteration returned with what it should have: short lists whole, long ones
/// by their lengths and the first entry where they differ.
fn expect_entries(did: &str, got: &[E], expected: &[E]) -> CheckResult {
    if got == expected {
        return Ok(());
    }
    if got.len() <= 12 && expected.len() <= 12 {
        return fail(format!(
            "did:      {did}\nexpected: {expected:?}\ngot:      {got:?}"
        ));
    }
    let at = got.iter().zip(expected).take_while(|(g, e)| g == e).count();
    fail(format!(
        "did:      {did}\nexpected: {} entries, entry {at} of them {:?}\ngot:      {} entries, \
         entry {at} of them {:?} (the {at} before it are right)",
        expected.len(),
        expected.get(at),
        got.len(),
        got.get(at)
    ))
}

/// Calls next until it returns `None`, at most `most + 1` times.
fn drain(iter: &mut TableIter, most: usize, did: &str) -> Result<Vec<E>, Failure> {
    let mut got = Vec::new();
    loop {
        match iter.next().map_err(|e| io_failure(did, e))? {
            Some(entry) => got.push(E(entry)),
            None => return Ok(got),
        }
        if got.len() > most {
            return Err(Failure::new(format!(
                "did:      {did}\nexpected: None after {most} entries\ngot:      more than \
                 {most}, ending {:?}",
                &got[got.len().saturating_sub(3)..]
            )));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Behaviour.

fn empty_and_one(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    for options in [
        Options::default(),
        Options {
            block_size: 1,
            restart_interval: 1,
        },
    ] {
        let mut script = Script::new(&[], options);
        let (_disk, table) = opened(seed, &[], options, &script)?;
        for key in [&b""[..], b"a", &[0xFF; 4]] {
            expect_get(&table, &[], key, u64::MAX, &mut script)?;
        }
        let did = script.did("iter(), next()");
        expect_entries(&did, &drain(&mut table.iter(), 0, &did)?, &[])?;
        let did = script.did("iter(), seek(\"a\"), next()");
        let mut iter = table.iter();
        iter.seek(b"a").map_err(|e| io_failure(&did, e))?;
        expect_entries(&did, &drain(&mut iter, 0, &did)?, &[])?;

        let one = [put(b"k", 7, b"v")];
        let mut script = Script::new(&one, options);
        let (_disk, table) = opened(seed, &one, options, &script)?;
        for (key, snapshot) in [
            (&b"k"[..], 7),
            (b"k", 8),
            (b"k", u64::MAX),
            (b"k", 6),
            (b"k", 0),
            (b"j", u64::MAX),
            (b"l", u64::MAX),
            (b"", u64::MAX),
            (b"kk", u64::MAX),
        ] {
            expect_get(&table, &one, key, snapshot, &mut script)?;
        }
        let did = script.did("iter(), next() until None");
        expect_entries(&did, &drain(&mut table.iter(), 1, &did)?, &model(&one))?;
    }
    Ok(())
}

fn get_matches_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["entries", "options"],
        48,
        (entries(), options()),
        |(Entries(entries), options)| {
            let mut script = Script::new(&entries, options);
            let (_disk, table) = opened(seed, &entries, options, &script)?;
            for key in probe_keys(&entries) {
                for snapshot in probe_snapshots(&entries, &key) {
                    expect_get(&table, &entries, &key, snapshot, &mut script)?;
                    script.calls.pop();
                }
            }
            Ok(())
        },
    )
}

fn iter_matches_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (entries(), options(), prop::collection::vec(key(), 0..4));
    ctx.forall_named(
        &["entries", "options", "more seeks"],
        48,
        input,
        |(Entries(entries), options, more)| {
            let mut script = Script::new(&entries, options);
            let (_disk, table) = opened(seed, &entries, options, &script)?;
            let all = model(&entries);
            let did = script.did("iter(), next() until None");
            let mut iter = table.iter();
            expect_entries(&did, &drain(&mut iter, all.len(), &did)?, &all)?;
            let did = script.did("next()");
            let got = iter.next().map_err(|e| io_failure(&did, e))?.map(E);
            expect_eq(&did, got, None)?;

            // Seek targets: the first and last keys, around them, and a few between; each
            // sought on the same iterator, after a next that moves it on.
            let mut targets = vec![Vec::new(), vec![0xFF; 30]];
            if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
                let keys: Vec<&TableEntry> = entries.iter().step_by(10).collect();
                targets.extend(keys.iter().map(|e| e.key.clone()));
                targets.extend(keys.iter().map(|e| [e.key.as_slice(), &[0x00]].concat()));
                targets.push(first.key.clone());
                targets.push([last.key.as_slice(), &[0x00]].concat());
            }
            targets.extend(more);
            // Every other seek is followed by one next only, so the seek after it starts from
            // the middle of a block.
            for (i, target) in targets.into_iter().enumerate() {
                let from = model_seek(&entries, &target);
                if i % 2 == 1 {
                    let did = script.did(format!("seek({}), next()", short(&target)));
                    iter.seek(&target).map_err(|e| io_failure(&did, e))?;
                    let got = iter.next().map_err(|e| io_failure(&did, e))?.map(E);
                    expect_eq(&did, got, all.get(from).cloned())?;
                    continue;
                }
                let did = script.did(format!("seek({}), next() until None", short(&target)));
                iter.seek(&target).map_err(|e| io_failure(&did, e))?;
                let got = drain(&mut iter, all.len() - from, &did)?;
                let expected = all[from..].to_vec();
                if got.len() + 1 == expected.len() && got[..] == expected[1..] {
                    return fail(format!(
                        "did:      {did}\nexpected: every entry from {:?} on ({} in all)\n\
                         got:      the same without {:?}: the first entry at or after the key \
                         sought was skipped",
                        expected[0],
                        expected.len(),
                        expected[0]
                    ));
                }
                expect_entries(&did, &got, &expected)?;
            }
            Ok(())
        },
    )
}

fn versions_across_blocks(ctx: &mut Ctx) -> CheckResult {
    let mut entries = vec![put(b"j", 50, b"before")];
    for seq in (1..=20u64).rev() {
        if seq % 5 == 0 {
            entries.push(tombstone(b"k", seq * 2));
        } else {
            entries.push(put(b"k", seq * 2, format!("v{}", seq * 2).as_bytes()));
        }
    }
    entries.push(put(b"l", 1, b"after"));
    for options in [
        Options {
            block_size: 1,
            restart_interval: 1,
        },
        Options {
            block_size: 60,
            restart_interval: 3,
        },
    ] {
        let mut script = Script::new(&entries, options);
        let (_disk, table) = opened(ctx.seed(), &entries, options, &script)?;
        for snapshot in (0..=42).chain([u64::MAX]) {
            expect_get(&table, &entries, b"k", snapshot, &mut script)?;
            script.calls.pop();
        }
        let did = script.did("iter(), seek(\"k\"), next()");
        let mut iter = table.iter();
        iter.seek(b"k").map_err(|e| io_failure(&did, e))?;
        let got = iter.next().map_err(|e| io_failure(&did, e))?.map(E);
        expect_eq(&did, got, Some(E(api(&entries[1]))))?;
        let did = script.did("seek(\"z\"), past the last key, next()");
        iter.seek(b"z").map_err(|e| io_failure(&did, e))?;
        let got = iter.next().map_err(|e| io_failure(&did, e))?.map(E);
        expect_eq(&did, got, None)?;
    }
    Ok(())
}

fn big_and_odd(ctx: &mut Ctx) -> CheckResult {
    let big =
        |len: usize, salt: u8| -> Vec<u8> { (0..len).map(|i| (i % 251) as u8 ^ salt).collect() };
    let mut entries = vec![
        put(b"", 3, b"empty key"),
        put(b"", 1, &big(70_000, 1)),
        put(&[0x00], 2, b""),
        put(&[0x00, 0x00], 9, &big(5000, 2)),
        put(&big(1000, 3), 4, &big(5000, 3)),
        tombstone(b"m", 8),
        put(b"m", 7, &big(66_000, 4)),
        put(&[0xFF], 5, b"ff"),
        put(&[0xFF, 0xFF, 0xFF], MAX_SEQ, &big(4096, 5)),
    ];
    entries.sort_by(|a, b| (&a.key, Reverse(a.seq)).cmp(&(&b.key, Reverse(b.seq))));
    let seed = ctx.seed();
    for options in [
        Options::default(),
        Options {
            block_size: 100,
            restart_interval: 2,
        },
    ] {
        let mut script = Script::new(&entries, options);
        let (_disk, table) = opened(seed, &entries, options, &script)?;
        for entry in &entries {
            for snapshot in [entry.seq, u64::MAX] {
                expect_get(&table, &entries, &entry.key, snapshot, &mut script)?;
            }
        }
        let did = script.did("iter(), next() until None");
        let all = model(&entries);
        expect_entries(&did, &drain(&mut table.iter(), all.len(), &did)?, &all)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reads counted.

/// Where the blocks of a table are, read from its footer and index as the format says.
struct Layout {
    /// Each data block's offset and size (without its crc).
    blocks: Vec<(u64, u64)>,
    index: (u64, u64),
}

impl Layout {
    fn of(bytes: &[u8]) -> Layout {
        let footer = bytes.len() - 40;
        let word =
            |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
        let index = (word(footer), word(footer + 8));
        let block = &bytes[index.0 as usize..(index.0 + index.1) as usize];
        let u32_at = |at: usize| u32::from_le_bytes(block[at..at + 4].try_into().expect("four"));
        let n = u32_at(block.len() - 4) as usize;
        let blocks = (0..n)
            .map(|i| {
                // Every index entry is a restart: shared 0, then unshared and value_len.
                let mut at = u32_at(block.len() - 4 - 4 * n + 4 * i) as usize;
                let _shared = varint(block, &mut at);
                let unshared = varint(block, &mut at);
                let _value_len = varint(block, &mut at);
                at += unshared as usize + 8;
                (varint(block, &mut at), varint(block, &mut at))
            })
            .collect();
        Layout { blocks, index }
    }

    /// The data block and crc holding `offset`, or `None` if it is past the data blocks.
    fn block_of(&self, offset: u64) -> Option<usize> {
        self.blocks
            .iter()
            .position(|&(at, size)| (at..at + size + 4).contains(&offset))
    }
}

fn reads(disk: &SimDisk) -> (u64, u64) {
    let stats = disk.stats();
    (stats.reads, stats.bytes_read)
}

fn counted_entries(count: u64) -> Vec<TableEntry> {
    let mut entries: Vec<TableEntry> = (0..count)
        .map(|i| {
            put(
                format!("key{i:05}").as_bytes(),
                i + 1,
                format!("value {i}").as_bytes(),
            )
        })
        .collect();
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    entries
}

fn open_reads_two(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = Options {
        block_size: 256,
        restart_interval: 4,
    };
    for count in [0, 1, 50, 2000] {
        let entries = counted_entries(count);
        let bytes = write_table(&entries, options);
        let layout = Layout::of(&bytes);
        let disk = disk_holding(seed, NAME, &bytes)?;
        disk.reset_stats();
        let script = Script::new(&entries, options);
        let table = Table::open(&*disk.dir(), NAME).map_err(|e| io_failure(&script.so_far(), e))?;
        let (reads, bytes_read) = reads(&disk);
        let most = 40 + layout.index.1 + 4;
        expect(
            reads <= 2 && bytes_read <= most,
            format!(
                "did:      {}\nexpected: at most 2 reads of {most} bytes in all (the 40-byte \
                 footer, then the index block's {} bytes and its crc)\ngot:      {reads} reads \
                 of {bytes_read} bytes ({} data blocks in the file)",
                script.so_far(),
                layout.index.1,
                layout.blocks.len()
            ),
        )?;
        drop(table);
    }
    Ok(())
}

fn get_reads_one_block(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = Options {
        block_size: 200,
        restart_interval: 4,
    };
    let entries = counted_entries(400);
    let bytes = write_table(&entries, options);
    let layout = Layout::of(&bytes);
    let biggest = layout
        .blocks
        .iter()
        .map(|&(_, size)| size + 4)
        .max()
        .unwrap_or(0);
    let mut script = Script::new(&entries, options);
    let (disk, table) = opened(seed, &entries, options, &script)?;
    let mut keys: Vec<Vec<u8>> = entries.iter().step_by(13).map(|e| e.key.clone()).collect();
    keys.extend([b"key00100x".to_vec(), b"a".to_vec(), b"key00399".to_vec()]);
    for key in keys {
        disk.reset_stats();
        expect_get(&table, &entries, &key, u64::MAX, &mut script)?;
        let (reads, bytes_read) = reads(&disk);
        expect(
            reads <= 1 && bytes_read <= biggest,
            format!(
                "did:      {}\nexpected: one read, of one data block and its crc (at most \
                 {biggest} bytes here)\ngot:      {reads} reads of {bytes_read} bytes",
                script.so_far()
            ),
        )?;
        script.calls.pop();
    }
    for key in [&b"key00399\x00"[..], b"z", &[0xFF; 9]] {
        disk.reset_stats();
        expect_get(&table, &entries, key, u64::MAX, &mut script)?;
        let (reads, _) = reads(&disk);
        expect_eq(
            format!(
                "{} (the table's last key is \"key00399\": the index alone says the key is not \
                 here), counting reads",
                script.so_far()
            ),
            reads,
            0,
        )?;
        script.calls.pop();
    }
    Ok(())
}

fn iteration_reads_each_block_once(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    for (count, options) in [
        (
            300,
            Options {
                block_size: 150,
                restart_interval: 3,
            },
        ),
        (
            5,
            Options {
                block_size: 1,
                restart_interval: 1,
            },
        ),
        (40, Options::default()),
    ] {
        let entries = counted_entries(count);
        let layout = Layout::of(&write_table(&entries, options));
        let data: u64 = layout.blocks.iter().map(|&(_, size)| size + 4).sum();
        let blocks = layout.blocks.len() as u64;
        let mut script = Script::new(&entries, options);
        let (disk, table) = opened(seed, &entries, options, &script)?;
        disk.reset_stats();
        let did = script.did("iter(), next() until None");
        let all = model(&entries);
        expect_entries(&did, &drain(&mut table.iter(), all.len(), &did)?, &all)?;
        let got = reads(&disk);
        expect(
            got == (blocks, data),
            format!(
                "did:      {did}, counting reads\nexpected: {blocks} reads (one for each data \
                 block, with its crc) of {data} bytes in all\ngot:      {} reads of {} bytes",
                got.0, got.1
            ),
        )?;
        script.calls.pop();
        let middle = &entries[entries.len() / 2].key;
        disk.reset_stats();
        let did = script.did(format!("iter(), seek({})", short(middle)));
        table.iter().seek(middle).map_err(|e| io_failure(&did, e))?;
        let (reads, _) = reads(&disk);
        expect(
            reads <= 1,
            format!(
                "did:      {did}, counting reads\nexpected: at most one read: the index in \
                 memory names the block to read\ngot:      {reads} reads"
            ),
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Damage.

/// What a call returned, with a panic told apart from an error.
enum Outcome<T> {
    Done(T),
    Failed(io::Error),
    Panicked(String),
}

fn guarded<T>(f: impl FnOnce() -> io::Result<T>) -> Outcome<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Outcome::Done(value),
        Ok(Err(error)) => Outcome::Failed(error),
        Err(payload) => Outcome::Panicked(
            payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into()),
        ),
    }
}

/// How a damaged table's reads went: whether any said `InvalidData`.
struct Damaged {
    noticed: bool,
}

impl Damaged {
    /// Judges one call on a damaged table: right, or `InvalidData`; anything else fails.
    fn judge<T: PartialEq + fmt::Debug>(
        &mut self,
        did: &str,
        outcome: Outcome<T>,
        expected: &T,
    ) -> Result<Option<T>, Failure> {
        match outcome {
            Outcome::Done(got) if got == *expected => Ok(Some(got)),
            Outcome::Done(got) => Err(Failure::new(format!(
                "did:      {did}\nexpected: {expected:?}, or Err(InvalidData) if the call read \
                 the damage\ngot:      {got:?}: a wrong answer from a damaged table"
            ))),
            Outcome::Failed(error) if error.kind() == ErrorKind::InvalidData => {
                self.noticed = true;
                Ok(None)
            }
            Outcome::Failed(error) => Err(Failure::new(format!(
                "did:      {did}\nexpected: {expected:?}, or Err(InvalidData)\ngot:      \
                 Err({:?}): {error}",
                error.kind()
            ))),
            Outcome::Panicked(text) => Err(Failure::new(format!(
                "did:      {did}\nexpected: {expected:?}, or Err(InvalidData)\ngot:      a panic: \
                 {text}"
            ))),
        }
    }
}

/// Opens a damaged table and reads all of it (a full iteration and every get): each call
/// returns the right answer or `InvalidData`. Returns whether open failed, and whether any
/// read after it did.
fn read_damaged(
    disk: &SimDisk,
    entries: &[TableEntry],
    did: &str,
) -> Result<(bool, bool), Failure> {
    let mut damaged = Damaged { noticed: false };
    let table = match guarded(|| Table::open(&*disk.dir(), NAME)) {
        Outcome::Done(table) => table,
        Outcome::Failed(error) if error.kind() == ErrorKind::InvalidData => {
            return Ok((true, false));
        }
        Outcome::Failed(error) => {
            return Err(Failure::new(format!(
                "did:      {did}\nexpected: Err(InvalidData), or Ok if open reads none of the \
                 damage\ngot:      Err({:?}): {error}",
                error.kind()
            )));
        }
        Outcome::Panicked(text) => {
            return Err(Failure::new(format!(
                "did:      {did}\nexpected: Err(InvalidData), or Ok if open reads none of the \
                 damage\ngot:      a panic: {text}"
            )));
        }
    };
    let all = model(entries);
    let mut iter = table.iter();
    for (i, expected) in all.iter().map(Some).chain([None]).enumerate() {
        let call = format!("{did}, iter(), next() {} times", i + 1);
        let expected = expected.cloned();
        let got = damaged.judge(&call, guarded(|| iter.next().map(|e| e.map(E))), &expected)?;
        if got.is_none() {
            break;
        }
    }
    for entry in entries {
        for snapshot in [entry.seq, u64::MAX] {
            let call = format!("{did}, {}", get_call(&entry.key, snapshot));
            let expected = model_get(entries, &entry.key, snapshot);
            damaged.judge(
                &call,
                guarded(|| table.get(&entry.key, snapshot).map(|e| e.map(E))),
                &expected,
            )?;
        }
    }
    for entry in entries {
        let call = format!("{did}, iter(), seek({}), next()", short(&entry.key));
        let expected = all.get(model_seek(entries, &entry.key)).cloned();
        let mut iter = table.iter();
        let got = guarded(|| {
            iter.seek(&entry.key)?;
            iter.next().map(|e| e.map(E))
        });
        damaged.judge(&call, got, &expected)?;
    }
    Ok((false, damaged.noticed))
}

fn flipped_bits(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let entries = vec![
        put(b"a", 3, b"1"),
        tombstone(b"a", 2),
        put(b"ab", 5, b"22"),
        put(b"b", 1, b"333"),
        put(b"bcd", 4, b"4444"),
    ];
    let options = Options {
        block_size: 30,
        restart_interval: 2,
    };
    let bytes = write_table(&entries, options);
    let layout = Layout::of(&bytes);
    let script = Script::new(&entries, options);
    let footer = bytes.len() as u64 - 40;
    for offset in 0..bytes.len() as u64 {
        let (place, must_open_fail) = match layout.block_of(offset) {
            Some(i) => (format!("in data block {i} or its crc"), false),
            None if offset < footer => ("in the index block or its crc".to_string(), true),
            None => match (offset - footer) / 8 {
                0 | 1 => ("in the footer's index handle".to_string(), true),
                4 => ("in the footer's magic".to_string(), true),
                _ => (
                    "in the footer's filter handle, which nothing reads yet".to_string(),
                    false,
                ),
            },
        };
        for mask in [0x01u8, 0x80] {
            let mut damaged = bytes.clone();
            damaged[offset as usize] ^= mask;
            let disk = disk_holding(seed, NAME, &damaged)?;
            let did = format!(
                "{}, with the byte at offset {offset} ({place}) xored with {mask:#04x}",
                script.so_far()
            );
            let (open_failed, read_failed) = read_damaged(&disk, &entries, &did)?;
            if must_open_fail && !open_failed {
                return fail(format!(
                    "did:      {did}\nexpected: Table::open fails with InvalidData: it reads \
                     the footer and the index, and they are damaged\ngot:      Ok"
                ));
            }
            if layout.block_of(offset).is_some() && !open_failed && !read_failed {
                return fail(format!(
                    "did:      {did}, then iter() to the end and a get of every key\nexpected: \
                     Err(InvalidData) from the reads of the damaged block: its crc no longer \
                     matches\ngot:      every call returned Ok"
                ));
            }
        }
    }
    Ok(())
}

/// Opens `bytes` as a table: it must fail with `InvalidData`, or its reads must.
fn expect_invalid(seed: u64, bytes: &[u8], entries: &[TableEntry], did: &str) -> CheckResult {
    let disk = disk_holding(seed, NAME, bytes)?;
    let (open_failed, read_failed) = read_damaged(&disk, entries, did)?;
    expect(
        open_failed || read_failed,
        format!(
            "did:      {did}, then iter() to the end and a get of every key\nexpected: \
             Err(InvalidData), from open or from the read that meets the damage\ngot:      every \
             call returned Ok"
        ),
    )
}

fn with_word(bytes: &[u8], at: usize, word: u64) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    bytes[at..at + 8].copy_from_slice(&word.to_le_bytes());
    bytes
}

fn broken_files(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let entries = vec![put(b"a", 2, b"1"), put(b"b", 1, b"2")];
    let bytes = write_table(&entries, Options::default());
    let len = bytes.len();
    let footer = len - 40;
    let table = format!("a table of {:?}", Entries(entries.clone()));
    for keep in [0, 1, 8, 39] {
        let did = format!(
            "a file of {keep} bytes (the last {keep} of a table), Table::open(dir, {NAME:?})"
        );
        expect_invalid(seed, &bytes[len - keep..], &entries, &did)?;
    }
    let cases = [
        (
            with_word(&bytes, footer + 32, 0),
            "its magic zeroed".to_string(),
        ),
        (
            with_word(&bytes, footer + 32, TABLE_MAGIC.swap_bytes()),
            "its magic written big-endian".to_string(),
        ),
        (
            with_word(&bytes, footer, len as u64),
            format!("the index's offset set to {len}, the file's length"),
        ),
        (
            with_word(&bytes, footer + 8, 1 << 40),
            "the index's size set to 2^40".to_string(),
        ),
        (
            with_word(&with_word(&bytes, footer, u64::MAX), footer + 8, u64::MAX),
            "the index's offset and size set to u64::MAX".to_string(),
        ),
    ];
    for (damaged, what) in cases {
        let did = format!("{table}, with {what}, Table::open(dir, {NAME:?})");
        expect_invalid(seed, &damaged, &entries, &did)?;
    }
    // The index rewritten, with a right crc, to point one data block past the end.
    for (offset, size) in [(len as u64, 10), (0, len as u64), (u64::MAX, u64::MAX)] {
        let damaged = assemble(&bytes, &[(b"b", 1 << 8 | 1, offset, size)]);
        let did = format!(
            "{table}, with its index rewritten (crc and all) to hold one data block at offset \
             {offset}, of size {size}, Table::open(dir, {NAME:?})"
        );
        expect_invalid(seed, &damaged, &entries, &did)?;
    }
    Ok(())
}

/// The table `bytes` with its index replaced by one of `refs` (last key, trailer, and the data
/// block's offset and size), crc and footer to match.
fn assemble(bytes: &[u8], refs: &[(&[u8], u64, u64, u64)]) -> Vec<u8> {
    let index_at = Layout::of(bytes).index.0 as usize;
    let mut out = bytes[..index_at].to_vec();
    let mut index = Vec::new();
    let mut restarts = Vec::new();
    for &(key, trailer, offset, size) in refs {
        restarts.push(index.len() as u32);
        let mut handle = Vec::new();
        put_varint(&mut handle, offset);
        put_varint(&mut handle, size);
        put_varint(&mut index, 0);
        put_varint(&mut index, key.len() as u64);
        put_varint(&mut index, handle.len() as u64);
        index.extend_from_slice(key);
        index.extend_from_slice(&trailer.to_le_bytes());
        index.extend_from_slice(&handle);
    }
    for restart in &restarts {
        index.extend_from_slice(&restart.to_le_bytes());
    }
    index.extend_from_slice(&(restarts.len() as u32).to_le_bytes());
    out.extend_from_slice(&index);
    out.extend_from_slice(&crc32(&index).to_le_bytes());
    for word in [index_at as u64, index.len() as u64, 0, 0, TABLE_MAGIC] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out
}

fn lying_blocks(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    // One data block: "ab"@2 = "x", then "abc"@1 = "y" sharing two bytes, restart interval 2,
    // so the block is: [0, 2, 1] "ab" trailer "x" [2, 1, 1] "c" trailer "y", restart 0, n = 1.
    let entries = vec![put(b"ab", 2, b"x"), put(b"abc", 1, b"y")];
    let options = Options {
        block_size: 4096,
        restart_interval: 2,
    };
    let bytes = write_table(&entries, options);
    let (_, size) = Layout::of(&bytes).blocks[0];
    let size = size as usize;
    let second = 3 + 2 + 8 + 1;
    let end_of_entries = (size as u32 - 8).to_le_bytes();
    let lies: [(usize, &[u8], &str); 8] = [
        (
            size - 4,
            &[0xFF, 0xFF, 0xFF, 0xFF],
            "the restart count set to 2^32 - 1",
        ),
        (
            size - 4,
            &[2, 0, 0, 0],
            "the restart count set to 2, one more than the block holds",
        ),
        (
            size - 8,
            &[0xFF, 0, 0, 0],
            "the restart point set to offset 255, past the entries",
        ),
        (
            size - 8,
            &end_of_entries,
            "the restart point set to the end of the entries, where the restart array starts",
        ),
        (
            1,
            &[0x7F],
            "the first key's length set to 127, past the block",
        ),
        (
            2,
            &[0x7F],
            "the first value's length set to 127, past the block",
        ),
        (
            second,
            &[9],
            "the second key's shared prefix set to 9 bytes (the key before has 2)",
        ),
        (
            second + 1,
            &[0x7F],
            "the second key's length set to 127, past the block",
        ),
    ];
    for (at, lie, what) in lies {
        let mut damaged = bytes.clone();
        damaged[at..at + lie.len()].copy_from_slice(lie);
        let crc = crc32(&damaged[..size]);
        damaged[size..size + 4].copy_from_slice(&crc.to_le_bytes());
        let did = format!(
            "a table of {:?} written with {options:?}, its data block changed: {what}, its crc \
             made right, Table::open(dir, {NAME:?})",
            Entries(entries.clone())
        );
        // A restart point is read only by a search that uses it: a reader that scans each block
        // from its start never meets that lie, and answers right. It must not panic on it.
        if at == size - 8 {
            read_damaged(&disk_holding(seed, NAME, &damaged)?, &entries, &did)?;
        } else {
            expect_invalid(seed, &damaged, &entries, &did)?;
        }
    }
    // A second restart point at the end of the entries: a search that decodes from there reads
    // the restart array as an entry.
    let entries = vec![put(b"a", 1, b"x"), put(b"b", 1, b"y")];
    let block = write_table(&entries, Options::default());
    let (_, size) = Layout::of(&block).blocks[0];
    let end = size as usize - 8;
    let mut data = block[..end].to_vec();
    for word in [0, end as u32, 2] {
        data.extend_from_slice(&word.to_le_bytes());
    }
    data.extend_from_slice(&crc32(&data).to_le_bytes());
    let mut index = Vec::new();
    let mut handle = Vec::new();
    put_varint(&mut handle, 0);
    put_varint(&mut handle, data.len() as u64 - 4);
    for field in [0, 1, handle.len() as u64] {
        put_varint(&mut index, field);
    }
    index.push(b'b');
    index.extend_from_slice(&(1u64 << 8 | 1).to_le_bytes());
    index.extend_from_slice(&handle);
    index.extend_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0]);
    let mut table = data.clone();
    table.extend_from_slice(&index);
    table.extend_from_slice(&crc32(&index).to_le_bytes());
    for word in [data.len() as u64, index.len() as u64, 0, 0, TABLE_MAGIC] {
        table.extend_from_slice(&word.to_le_bytes());
    }
    let did = format!(
        "a table of {:?} whose one data block lists two restart points, 0 and {end} (the end \
         of its entries), its crc right, Table::open(dir, {NAME:?})",
        Entries(entries.clone())
    );
    read_damaged(&disk_holding(seed, NAME, &table)?, &entries, &did).map(drop)
}

// ---------------------------------------------------------------------------------------------
// Faults.

/// The fault sweep's workload, `aim` armed: open, a get of the first and of the last key, a full
/// iteration, then a seek to the middle key and a next. Returns the directory, whose counts size
/// the sweep.
fn fault_run(
    seed: u64,
    entries: &[TableEntry],
    options: Options,
    aim: Option<Aim>,
) -> Result<FaultDir, Failure> {
    let disk = disk_holding(seed, NAME, &write_table(entries, options))?;
    let faults = FaultDir::new(&disk, aim.as_slice());
    let mut script = Script::new(entries, options);
    script.calls.pop();
    if let Some(aim) = aim {
        script.note(format!(
            "(operation {} of kind {:?} fails with Fault::{:?})",
            aim.n, aim.kind, aim.fault
        ));
    }
    let dir = faults.dir();
    let open = format!("Table::open(dir, {NAME:?})");
    let table = retried(
        &faults,
        &mut script,
        &open,
        || Table::open(&*dir, NAME),
        |_| "a table".into(),
    )?;
    for key in [&entries[0].key, &entries[entries.len() - 1].key] {
        let call = get_call(key, u64::MAX);
        let got = retried(
            &faults,
            &mut script,
            &call,
            || table.get(key, u64::MAX),
            |got| format!("{:?}", got.clone().map(E)),
        )?;
        expect_eq(
            script.so_far(),
            got.map(E),
            model_get(entries, key, u64::MAX),
        )?;
    }
    let all = model(entries);
    let mut iter = table.iter();
    script.note("iter()");
    for expected in all.iter().cloned().map(Some).chain([None]) {
        let got = next_retried(&faults, &mut script, &mut iter)?;
        expect_eq(script.so_far(), got, expected)?;
    }
    // A seek whose read fails leaves the iterator where it was: after the first entry.
    let middle = &entries[entries.len() / 2].key;
    let mut iter = table.iter();
    script.note("iter()");
    let first = next_retried(&faults, &mut script, &mut iter)?;
    expect_eq(script.so_far(), first, all.first().cloned())?;
    let seek = format!("seek({})", short(middle));
    let fired = faults.fired();
    let sought = iter.seek(middle);
    if faults.fired() == fired {
        sought.map_err(|e| io_failure(&script.did(&seek), e))?;
    } else {
        match sought {
            Ok(()) => {
                return Err(Failure::new(format!(
                    "did:      {}\nexpected: an error: a read it made failed\ngot:      Ok(())",
                    script.did(&seek)
                )));
            }
            Err(error) if error.kind() == ErrorKind::InvalidData => {
                return Err(Failure::new(format!(
                    "did:      {}\nexpected: the read's own error (an I/O error), passed on\n\
                     got:      Err(InvalidData): {error}",
                    script.did(&seek)
                )));
            }
            Err(_) => {}
        }
        script.note(format!("{seek}, which failed"));
        for expected in all.iter().skip(1).cloned().map(Some).chain([None]) {
            let got = next_retried(&faults, &mut script, &mut iter)?;
            expect_eq(
                format!(
                    "{} (a call that fails leaves the iterator where it was: after the first \
                     entry)",
                    script.so_far()
                ),
                got,
                expected,
            )?;
        }
        let did = script.did(format!("{seek} again"));
        iter.seek(middle).map_err(|e| io_failure(&did, e))?;
    }
    let got = next_retried(&faults, &mut script, &mut iter)?;
    let expected = all.get(model_seek(entries, middle)).cloned();
    expect_eq(script.so_far(), got, expected)?;
    Ok(faults)
}

/// `next()` on `iter`, [`retried`], the entry it gives in the checks' own form.
fn next_retried(
    faults: &FaultDir,
    script: &mut Script,
    iter: &mut TableIter,
) -> Result<Option<E>, Failure> {
    retried(
        faults,
        script,
        "next()",
        || iter.next(),
        |got| format!("{:?}", got.clone().map(E)),
    )
    .map(|got| got.map(E))
}

/// Makes one call of the fault sweep. A call that a fault fired in must fail, and is then made
/// again: the disk has recovered, so it must succeed.
fn retried<T>(
    faults: &FaultDir,
    script: &mut Script,
    call: &str,
    mut f: impl FnMut() -> io::Result<T>,
    shown: impl Fn(&T) -> String,
) -> Result<T, Failure> {
    let fired = faults.fired();
    let first = f();
    if faults.fired() == fired {
        let did = script.did(call);
        return first.map_err(|e| io_failure(&did, e));
    }
    match &first {
        Ok(got) => {
            return Err(Failure::new(format!(
                "did:      {}\nexpected: an error: a read it made failed\ngot:      Ok({})",
                script.did(call),
                shown(got)
            )));
        }
        Err(error) if error.kind() == ErrorKind::InvalidData => {
            return Err(Failure::new(format!(
                "did:      {}\nexpected: the read's own error (an I/O error), passed on: a read \
                 that fails says nothing about the table's bytes\ngot:      Err(InvalidData): \
                 {error}",
                script.did(call)
            )));
        }
        Err(_) => {}
    }
    script.note(format!("{call}, which failed"));
    let did = script.did(format!("{call} again"));
    f().map_err(|e| io_failure(&did, e))
}

fn failed_reads(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let missing = SimDisk::new(seed);
    match Table::open(&*missing.dir(), NAME) {
        Err(error) if error.kind() == ErrorKind::NotFound => {}
        other => {
            return fail(format!(
                "did:      Table::open(dir, {NAME:?}) on an empty directory\nexpected: \
                 Err(NotFound)\ngot:      {}",
                match other {
                    Ok(_) => "Ok".to_string(),
                    Err(error) => format!("Err({:?}): {error}", error.kind()),
                }
            ));
        }
    }
    let entries = counted_entries(30);
    let options = Options {
        block_size: 100,
        restart_interval: 4,
    };
    let golden = fault_run(seed, &entries, options, None)?;
    for kind in [OpKind::Open, OpKind::Len, OpKind::Read] {
        for n in 1..=golden.count(kind) {
            fault_run(
                seed,
                &entries,
                options,
                Some(Aim {
                    kind,
                    n,
                    fault: Fault::IoError,
                }),
            )?;
        }
    }
    Ok(())
}

/// Reads the varint at `*at` of a well-formed table, and moves past it.
fn varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut n = 0;
    let mut shift = 0;
    loop {
        let byte = bytes[*at];
        *at += 1;
        n |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return n;
        }
        shift += 7;
    }
}
