//! Hidden checks for lsm/sstable-write.

use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use judge::prelude::*;
use kit::crash::show;
use kit::fault::{Aim, FaultDir, attempt};
use kit::sim::{OpKind, Profile, SimDisk};
use lsm_sstable_write::{Entry, FOOTER_LEN, MAGIC, Options, TableMeta, TableWriter};

use crate::support::{
    KINDS, TABLE_FOOTER_LEN, TABLE_MAGIC, TableEntry, TableOptions, faults_for, parse_table,
    write_table,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "an empty table is an empty index block (the 4 bytes of a count of 0), its crc and \
             the footer, and its TableMeta says 0 entries, 0 blocks, 48 bytes",
            empty_table,
        )
        .check(
            "one entry (a put or a tombstone, empty key or value, key bytes 0x00 and 0xFF) is \
             one data block, laid out field by field as the format says",
            one_entry,
        )
        .check(
            "a block is finished by the entry that brings it to block_size, not before: \
             block_size 1 gives one entry per block, and a value over 64 KiB is a block of its own",
            cutting_blocks,
        )
        .check(
            "prefix compression: shared counts the bytes in common with the previous entry's \
             key, 0 at each restart, and restarts fall every restart_interval entries, counted \
             afresh in each block",
            restarts,
        )
        .check(
            "the index holds each block's last key and seq: a key's versions split across \
             blocks are indexed by the last version in each",
            index_of_versions,
        )
        .check(
            "the file is the format's byte for byte, for any sorted entries (shared prefixes, \
             empty keys, 0x00 and 0xFF, tombstones, many versions of a key, values larger than \
             a block) under any options (block_size 1 to huge, restart_interval 1 to beyond the \
             entries)",
            byte_for_byte,
        )
        .check(
            "finish returns a TableMeta with the entries, the data blocks, the file's size and \
             the first and last keys",
            meta,
        )
        .check(
            "create panics on a block_size or a restart_interval of 0",
            zero_options_panic,
        )
        .check(
            "add panics on an entry that does not come after the last one (the same key and \
             seq, the same key with a higher seq, a smaller key) and on a seq of 2^56 or more",
            out_of_order_panics,
        )
        .check(
            "blocks go to the disk as they fill, one write each (the block and its crc \
             together): the writer never holds more than one data block",
            streams_blocks,
        )
        .check(
            "finish makes the table durable: the file is synced after its last write, then the \
             directory, and a power failure right after finish loses nothing",
            finish_is_durable,
        )
        .check(
            "a power failure at any step before finish returns leaves no table, or a file that \
             is not a complete table: never a complete table with fewer entries",
            crash_before_finish,
        )
        .check(
            "a failed create, write, sync or directory sync is returned as an error by the call \
             that met it: never a panic, never Ok",
            faults_are_errors,
        )
}

const NAME: &str = "000001.sst";

/// The largest seq a trailer holds.
const MAX_SEQ: u64 = (1 << 56) - 1;

// ---------------------------------------------------------------------------------------------
// Showing what was done.

/// Entries as the checks show them: `"key"#5="value"`, `"key"#4=tombstone`.
#[derive(Clone, PartialEq)]
struct Entries(Vec<TableEntry>);

impl fmt::Debug for Entries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self.0.iter().map(shown).collect();
        write!(f, "[{}]", shown.join(", "))
    }
}

fn shown(entry: &TableEntry) -> String {
    match &entry.value {
        Some(value) => format!("{}#{}={}", show(&entry.key), entry.seq, show(value)),
        None => format!("{}#{}=tombstone", show(&entry.key), entry.seq),
    }
}

fn entry(key: &[u8], seq: u64, value: Option<&[u8]>) -> TableEntry {
    TableEntry {
        key: key.to_vec(),
        seq,
        value: value.map(<[u8]>::to_vec),
    }
}

fn proxy(entry: &TableEntry) -> Entry {
    Entry {
        key: entry.key.clone(),
        seq: entry.seq,
        value: entry.value.clone(),
    }
}

fn options(block_size: usize, restart_interval: usize) -> Options {
    Options {
        block_size,
        restart_interval,
    }
}

fn table_options(options: Options) -> TableOptions {
    TableOptions {
        block_size: options.block_size,
        restart_interval: options.restart_interval,
    }
}

fn create_call(options: Options) -> String {
    format!("TableWriter::create(dir, {NAME:?}, {options:?})")
}

/// The calls that write `entries`, as the failure messages tell them.
fn writing(options: Options, entries: &[TableEntry]) -> String {
    let adds = match entries.len() {
        0 => String::new(),
        1 => format!(", add({})", shown(&entries[0])),
        n => format!(
            ", add each of the {n} entries {:?} in order",
            Entries(entries.to_vec())
        ),
    };
    format!("{}{adds}, finish()", create_call(options))
}

fn io_failure(did: &str, error: io::Error) -> Failure {
    Failure::new(format!(
        "did:      {did}\nexpected: success\ngot:      Err({:?}): {error}",
        error.kind()
    ))
}

// ---------------------------------------------------------------------------------------------
// Inputs.

/// Keys that share long prefixes, collide often, and hold 0x00 and 0xFF.
fn key() -> impl Strategy<Value = Vec<u8>> {
    let prefix = prop::sample::select(vec![&b""[..], b"user:", b"user:0000000"]);
    prop_oneof![
        4 => (prefix, prop::collection::vec(b'a'..=b'c', 0..3)).prop_map(|(p, tail)| {
            p.iter().copied().chain(tail).collect()
        }),
        1 => prop::collection::vec(prop::sample::select(vec![0u8, 0xFF, b'a']), 0..4),
    ]
}

fn seq() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0..20u64, 1 => Just(MAX_SEQ), 1 => 0..=MAX_SEQ]
}

fn value() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        4 => prop::collection::vec(b'a'..=b'z', 1..8).prop_map(Some),
        2 => Just(None),
        1 => Just(Some(Vec::new())),
        1 => (1..600usize).prop_map(|n| Some(vec![b'v'; n])),
    ]
}

/// Entries in table order, no two with the same key and seq; sometimes many versions of one key.
fn entries(most: usize) -> impl Strategy<Value = Entries> {
    let one = (key(), seq(), value()).prop_map(|(key, seq, value)| TableEntry { key, seq, value });
    let versions = (key(), prop::collection::vec((seq(), value()), 0..12)).prop_map(|(key, vs)| {
        vs.into_iter()
            .map(|(seq, value)| TableEntry {
                key: key.clone(),
                seq,
                value,
            })
            .collect::<Vec<_>>()
    });
    (prop::collection::vec(one, 0..most), versions).prop_map(|(mut all, versions)| {
        all.extend(versions);
        sorted(all)
    })
}

fn sorted(mut all: Vec<TableEntry>) -> Entries {
    all.sort_by(|a, b| a.key.cmp(&b.key).then(b.seq.cmp(&a.seq)));
    all.dedup_by(|a, b| a.key == b.key && a.seq == b.seq);
    Entries(all)
}

fn any_options() -> impl Strategy<Value = Options> {
    let block_size = prop_oneof![
        2 => Just(1usize),
        4 => 2..80usize,
        1 => 80..1000usize,
        1 => Just(4096),
        1 => Just(usize::MAX),
    ];
    let interval = prop_oneof![
        2 => Just(1usize),
        2 => Just(2usize),
        2 => 3..6usize,
        1 => Just(16usize),
        1 => Just(usize::MAX),
    ];
    (block_size, interval).prop_map(|(block_size, restart_interval)| Options {
        block_size,
        restart_interval,
    })
}

// ---------------------------------------------------------------------------------------------
// Driving the writer.

/// Writes `entries` with `options` to a new disk; returns the disk and what finish returned.
fn write(
    seed: u64,
    options: Options,
    entries: &[TableEntry],
) -> Result<(SimDisk, TableMeta), Failure> {
    let disk = SimDisk::new(seed);
    let did = writing(options, entries);
    let mut writer =
        TableWriter::create(disk.dir(), NAME, options).map_err(|e| io_failure(&did, e))?;
    for entry in entries {
        writer.add(&proxy(entry)).map_err(|e| io_failure(&did, e))?;
    }
    let meta = writer.finish().map_err(|e| io_failure(&did, e))?;
    Ok((disk, meta))
}

/// Holds the file on `disk` to the reference writer's bytes; on a difference, says which rule
/// of the format the file breaks, and where.
fn expect_file(disk: &SimDisk, options: Options, entries: &[TableEntry], did: &str) -> CheckResult {
    let expected = write_table(entries, table_options(options));
    let Some(got) = disk.contents(NAME) else {
        return fail(format!(
            "did:      {did}\nexpected: a file named {NAME:?}\ngot:      no such file"
        ));
    };
    if got == expected {
        return Ok(());
    }
    let differs = got
        .iter()
        .zip(&expected)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    let what = match parse_table(&got, table_options(options)) {
        Err(error) => format!(
            "a file of {} bytes that breaks the format {error}",
            got.len()
        ),
        Ok(table) if table.entries() != entries => format!(
            "a well-formed table of other entries: {:?}",
            Entries(table.entries())
        ),
        Ok(_) => format!(
            "a well-formed table of {} bytes, yet not the expected bytes",
            got.len()
        ),
    };
    fail(format!(
        "did:      {did}\nexpected: the table file of these entries ({} bytes)\ngot:      \
         {what}\n(the first byte that differs from the expected file is at offset {differs})",
        expected.len()
    ))
}

/// Writes `entries` and holds the file to the format.
fn expect_table(seed: u64, options: Options, entries: &[TableEntry]) -> CheckResult {
    let (disk, _) = write(seed, options, entries)?;
    expect_file(&disk, options, entries, &writing(options, entries))
}

/// What a caught panic said.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => text.to_string(),
        (_, Some(text)) => text.clone(),
        _ => "(a panic without a message)".into(),
    }
}

/// Runs `call`, which the documentation says must panic. A `todo!()` is not the panic asked for.
fn expect_panic<T>(did: &str, why: &str, call: impl FnOnce() -> T) -> CheckResult {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(_) => fail(format!(
            "did:      {did}\nexpected: a panic ({why})\ngot:      it returned normally"
        )),
        Err(panic) => {
            let text = panic_text(&*panic);
            if text.starts_with("not yet implemented") || text.starts_with("not implemented") {
                fail(format!(
                    "did:      {did}\nexpected: a panic ({why})\ngot:      it reached a todo!(), \
                     which is not written yet"
                ))
            } else {
                Ok(())
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The layout.

fn empty_table(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    expect_eq("MAGIC", MAGIC, TABLE_MAGIC)?;
    expect_eq("FOOTER_LEN", FOOTER_LEN, TABLE_FOOTER_LEN)?;
    for options in [Options::default(), options(1, 1)] {
        let (disk, meta) = write(seed, options, &[])?;
        let did = writing(options, &[]);
        expect_file(&disk, options, &[], &did)?;
        expect_eq(
            format!("{did}, with finish() returning"),
            meta,
            TableMeta {
                entries: 0,
                data_blocks: 0,
                size: 48,
                first_key: Vec::new(),
                last_key: Vec::new(),
            },
        )?;
    }
    Ok(())
}

fn one_entry(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let cases = [
        entry(b"key", 7, Some(b"value")),
        entry(b"key", 7, None),
        entry(b"", 0, Some(b"")),
        entry(b"", MAX_SEQ, None),
        entry(&[0x00, 0xFF], 300, Some(&[0xFF, 0x00])),
        entry(&[0xFF; 200], 1 << 40, Some(&[0x00; 200])),
    ];
    for case in cases {
        expect_table(seed, Options::default(), &[case])?;
    }
    Ok(())
}

fn restarts(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let keys: Vec<TableEntry> = (0..23u64)
        .map(|i| {
            let key = format!("user:{:04}", i * 37 % 1000).into_bytes();
            (key, i)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|(key, i)| entry(&key, 100 - i, Some(b"v")))
        .collect();
    let keys = sorted(keys).0;
    // A key that is a prefix of the next, and one that shares nothing with the one before.
    let edges = vec![
        entry(b"ab", 1, Some(b"1")),
        entry(b"abc", 1, Some(b"2")),
        entry(b"abc", 0, None),
        entry(b"abd", 5, Some(b"3")),
        entry(b"b", 2, Some(b"4")),
        entry(b"ba", 9, Some(b"")),
        entry(&[b'b', 0xFF], 1, Some(b"5")),
        entry(&[b'c', 0x00], 1, Some(b"6")),
    ];
    for interval in [1, 2, 3, 16, usize::MAX] {
        expect_table(seed, options(4096, interval), &edges)?;
        // Blocks of 7 or 8 entries, so that an interval that does not divide them would
        // carry a count over from one block into the next.
        expect_table(seed, options(150, interval), &keys)?;
    }
    // Keys sharing 300 bytes (more than a byte can count), and a block over 64 KiB whose
    // restarts lie past offset 65,535 (more than 16 bits can hold).
    let long = [b'a'; 300];
    let shared = vec![
        entry(&[&long[..], b"1"].concat(), 1, Some(b"x")),
        entry(&[&long[..], b"2"].concat(), 1, Some(b"y")),
    ];
    expect_table(seed, options(4096, 16), &shared)?;
    let wide: Vec<TableEntry> = (0..3u8)
        .map(|i| entry(&[b'k', i], 1, Some(&[b'v'; 40_000])))
        .collect();
    expect_table(seed, options(1 << 20, 1), &wide)
}

fn cutting_blocks(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let small: Vec<TableEntry> = (0..6u8)
        .map(|i| entry(&[b'k', b'0' + i], 1, Some(&[b'v'; 5])))
        .collect();
    // Each entry above is 3 varint bytes, 2 key bytes, 8 trailer bytes and 5 value bytes: 18
    // bytes; a block of one is 18 + 4 + 4 = 26 bytes, of two 18 + 18 + 4 + 4 = 44 (one
    // restart, interval 16).
    for block_size in [1, 25, 26, 27, 44, 45, 62, 63] {
        expect_table(seed, options(block_size, 16), &small)?;
    }
    let big = vec![
        entry(b"a", 1, Some(b"small")),
        entry(b"big", 3, Some(&vec![b'v'; 70_000])),
        entry(b"big", 2, None),
        entry(b"c", 1, Some(b"small")),
    ];
    expect_table(seed, Options::default(), &big)
}

fn index_of_versions(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let mut versions = vec![entry(b"a", 1, Some(b"first"))];
    for seq in (1..=20u64).rev() {
        let value = (seq % 3 != 0).then(|| format!("v{seq}").into_bytes());
        versions.push(entry(b"key", seq, value.as_deref()));
    }
    versions.push(entry(b"z", 1, Some(b"last")));
    for block_size in [1, 40, 100, 4096] {
        expect_table(seed, options(block_size, 4), &versions)?;
    }
    Ok(())
}

fn byte_for_byte(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["entries", "options"],
        160,
        (entries(24), any_options()),
        |(Entries(entries), options)| expect_table(seed, options, &entries),
    )
}

fn meta(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["entries", "options"],
        64,
        (entries(16), any_options()),
        |(Entries(entries), options)| {
            let (disk, meta) = write(seed, options, &entries)?;
            // Held to the file the writer wrote, right or wrong: whether the file is right is
            // for the checks of the format to say. Its blocks are counted only if it parses.
            let file = disk.contents(NAME).unwrap_or_default();
            let size = file.len() as u64;
            let blocks = parse_table(&file, table_options(options))
                .map_or(meta.data_blocks, |table| table.blocks.len() as u64);
            let expected = TableMeta {
                entries: entries.len() as u64,
                data_blocks: blocks,
                size,
                first_key: entries.first().map(|e| e.key.clone()).unwrap_or_default(),
                last_key: entries.last().map(|e| e.key.clone()).unwrap_or_default(),
            };
            expect_eq(
                format!(
                    "{}, with finish() returning (the file is {size} bytes)",
                    writing(options, &entries)
                ),
                meta,
                expected,
            )
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Contracts.

fn zero_options_panic(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    for (options, why) in [
        (options(0, 16), "block_size must be at least 1"),
        (options(4096, 0), "restart_interval must be at least 1"),
        (options(0, 0), "both options must be at least 1"),
    ] {
        expect_panic(&create_call(options), why, || {
            TableWriter::create(disk.dir(), NAME, options)
        })?;
    }
    Ok(())
}

fn out_of_order_panics(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let cases = [
        (
            vec![entry(b"k", 5, Some(b"1"))],
            entry(b"k", 5, Some(b"2")),
            "the same key and seq twice",
        ),
        (
            vec![entry(b"k", 5, Some(b"1"))],
            entry(b"k", 6, None),
            "the same key with a higher seq: a key's newest version comes first",
        ),
        (
            vec![entry(b"a", 1, Some(b"1")), entry(b"b", 1, Some(b"2"))],
            entry(b"ab", 9, Some(b"3")),
            "a key smaller than the last one added",
        ),
        (
            vec![entry(b"b", 1, Some(b"1"))],
            entry(b"", 1, Some(b"2")),
            "the empty key after a longer one: the empty key comes first",
        ),
        (
            Vec::new(),
            entry(b"a", MAX_SEQ + 1, Some(b"1")),
            "a seq of 2^56 does not fit in the trailer's 56 bits",
        ),
        (
            vec![entry(b"a", 1, Some(b"1"))],
            entry(b"b", u64::MAX, None),
            "a seq of u64::MAX does not fit in the trailer's 56 bits",
        ),
    ];
    for (before, wrong, why) in cases {
        let disk = SimDisk::new(seed);
        let options = options(1, 16);
        let mut did = create_call(options);
        let mut writer =
            TableWriter::create(disk.dir(), NAME, options).map_err(|e| io_failure(&did, e))?;
        for entry in &before {
            did.push_str(&format!(", add({})", shown(entry)));
            writer.add(&proxy(entry)).map_err(|e| io_failure(&did, e))?;
        }
        did.push_str(&format!(", add({})", shown(&wrong)));
        expect_panic(&did, why, || writer.add(&proxy(&wrong)))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// I/O.

/// For each prefix of `entries` (0 to all), how many data blocks are full once it is added,
/// and where the last of them ends: what must be on the disk then.
fn full_blocks(entries: &[TableEntry], options: Options) -> Vec<(u64, u64)> {
    let bytes = write_table(entries, table_options(options));
    let blocks = parse_table(&bytes, table_options(options))
        .map(|table| table.blocks)
        .unwrap_or_default();
    let mut written = vec![(0, 0); entries.len() + 1];
    let mut added = 0;
    let mut done = (0, 0);
    for block in &blocks {
        added += block.entries.len();
        if block.size >= options.block_size as u64 {
            done = (done.0 + 1, block.offset + block.size + 4);
            for slot in &mut written[added..] {
                *slot = done;
            }
        }
    }
    written
}

fn streams_blocks(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (entries(24), prop_oneof![Just(1usize), 20..120usize]);
    ctx.forall_named(
        &["entries", "block_size"],
        48,
        input,
        |(Entries(entries), block_size)| {
            let options = options(block_size, 2);
            let expected = full_blocks(&entries, options);
            let disk = SimDisk::new(seed);
            let mut did = create_call(options);
            let mut writer =
                TableWriter::create(disk.dir(), NAME, options).map_err(|e| io_failure(&did, e))?;
            disk.reset_stats();
            let mut seen = Vec::new();
            for entry in &entries {
                did.push_str(&format!(", add({})", shown(entry)));
                writer.add(&proxy(entry)).map_err(|e| io_failure(&did, e))?;
                let len = disk.contents(NAME).map_or(0, |c| c.len() as u64);
                seen.push((did.clone(), disk.stats().writes, len));
            }
            did.push_str(", finish()");
            writer.finish().map_err(|e| io_failure(&did, e))?;
            // A file cut in the wrong places is told by the checks of the format first.
            expect_file(&disk, options, &entries, &writing(options, &entries))?;
            for (i, (did, writes, len)) in seen.into_iter().enumerate() {
                let (blocks, end) = expected[i + 1];
                expect(
                    writes == blocks && len == end,
                    format!(
                        "did:      {did}\nexpected: {blocks} writes, one for each full data \
                         block (a block and its crc in one append), {end} bytes in the file\n\
                         got:      {writes} writes, {len} bytes in the file (a block is written \
                         as soon as it reaches block_size, and nothing else before finish)"
                    ),
                )?;
            }
            Ok(())
        },
    )
}

fn finish_is_durable(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let cases = [
        (options(1, 16), Vec::new()),
        (
            options(30, 2),
            vec![
                entry(b"a", 3, Some(b"1")),
                entry(b"b", 2, None),
                entry(b"c", 1, Some(b"333")),
            ],
        ),
        (
            Options::default(),
            vec![entry(b"a", 3, Some(b"1")), entry(b"b", 2, None)],
        ),
    ];
    for (options, entries) in cases {
        let disk = SimDisk::with_profile(seed, Profile::HARSH);
        let faults = FaultDir::new(&disk, &[]);
        let did = writing(options, &entries);
        let mut writer =
            TableWriter::create(faults.dir(), NAME, options).map_err(|e| io_failure(&did, e))?;
        for entry in &entries {
            writer.add(&proxy(entry)).map_err(|e| io_failure(&did, e))?;
        }
        let before = faults.trace().len();
        writer.finish().map_err(|e| io_failure(&did, e))?;
        drop(writer);
        let trace = faults.trace();
        let last = |kind: OpKind| trace.iter().rposition(|&k| k == kind);
        let (write, sync, dir_sync) = (
            last(OpKind::Write),
            last(OpKind::Sync),
            last(OpKind::DirSync),
        );
        let in_order = matches!(
            (write, sync, dir_sync),
            (Some(w), Some(s), Some(d)) if w < s && s < d && s >= before
        );
        expect(
            in_order,
            format!(
                "did:      {did}\nexpected: finish() to sync the file after its last write, and \
                 the directory after that\ngot:      these operations in finish(): {:?}",
                &trace[before.min(trace.len())..]
            ),
        )?;
        let written = disk.contents(NAME).unwrap_or_default();
        disk.crash();
        disk.restart_losing_unsynced();
        let did = format!("{did}, the power failed, losing everything unsynced");
        match disk.contents(NAME) {
            None => {
                return fail(format!(
                    "did:      {did}\nexpected: the file {NAME:?}, all {} bytes of it\ngot:      \
                     no such file (a new name is durable once the directory is synced)",
                    written.len()
                ));
            }
            Some(kept) => expect(
                kept == written,
                format!(
                    "did:      {did}\nexpected: all {} bytes of the file, as finish left them\n\
                     got:      {} bytes{} (was the file synced after its last write?)",
                    written.len(),
                    kept.len(),
                    kept.iter()
                        .zip(&written)
                        .position(|(a, b)| a != b)
                        .map_or(String::new(), |at| format!(", different from byte {at}"))
                ),
            )?,
        }
    }
    Ok(())
}

fn crash_before_finish(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let scripted: Vec<TableEntry> = (0..8u8)
        .map(|i| entry(&[b'k', b'0' + i], 9 - u64::from(i), Some(&[b'v'; 200])))
        .collect();
    crash_everywhere(seed, options(300, 2), &scripted)?;
    ctx.forall_named(
        &["entries", "block_size"],
        8,
        (entries(12), prop_oneof![Just(1usize), 20..200usize]),
        |(Entries(entries), block_size)| crash_everywhere(seed, options(block_size, 2), &entries),
    )
}

/// Crashes the writing of `entries` at every I/O step, and parses what the disk kept: a
/// complete table must be the one the writer makes without a crash. (Whether that one is right
/// is for the checks of the format to say.)
fn crash_everywhere(seed: u64, options: Options, entries: &[TableEntry]) -> CheckResult {
    let (golden, _) = write(seed, options, entries)?;
    let steps = golden.steps();
    let whole = golden.contents(NAME).unwrap_or_default();
    let Ok(whole) = parse_table(&whole, table_options(options)) else {
        return Ok(());
    };
    let whole = whole.entries();
    for step in 1..=steps {
        let disk = SimDisk::with_profile(
            seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            Profile::HARSH,
        );
        disk.crash_at_step(step);
        let finished = attempt(|| {
            let mut writer = TableWriter::create(disk.dir(), NAME, options)?;
            for entry in entries {
                writer.add(&proxy(entry))?;
            }
            writer.finish()
        })
        .is_ok();
        let aftermath = disk.restart_disk_only();
        let Some(bytes) = disk.contents(NAME) else {
            continue;
        };
        let Ok(table) = parse_table(&bytes, table_options(options)) else {
            continue;
        };
        let got = table.entries();
        if got != whole {
            return fail(format!(
                "did:      {}\n          the power failed at I/O step {step} of {steps} (finish \
                 {}); on restart {aftermath}\nexpected: no file, a file that is not a complete \
                 table, or the whole table of {} entries\ngot:      a complete table of {} \
                 entries: {:?} (is the footer written last, after every block?)",
                writing(options, entries),
                if finished {
                    "returned Ok"
                } else {
                    "did not return Ok"
                },
                whole.len(),
                got.len(),
                Entries(got.clone())
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Faults.

fn faults_are_errors(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let scripted: Vec<TableEntry> = (0..5u8)
        .map(|i| entry(&[b'k', b'0' + i], 1, Some(&[b'v'; 20])))
        .collect();
    for (options, entries) in [(options(1, 16), Vec::new()), (options(40, 2), scripted)] {
        let golden = fault_run(seed, options, &entries, &[])?;
        for kind in KINDS {
            for n in 1..=golden.count(kind) {
                for fault in faults_for(kind) {
                    fault_run(seed, options, &entries, &[Aim { kind, n, fault }])?;
                }
            }
        }
    }
    Ok(())
}

/// Writes the table with `aims` armed: the call a fault fires in must return an error, and
/// without a fault every call must succeed. Returns the directory, whose counts size the sweep.
fn fault_run(
    seed: u64,
    options: Options,
    entries: &[TableEntry],
    aims: &[Aim],
) -> Result<FaultDir, Failure> {
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
                "(operation {} of kind {:?} fails with Fault::{:?})",
                aim.n, aim.kind, aim.fault
            )
        })
        .collect();
    // Runs one call: Ok(Some) to go on, Ok(None) once a fault was rightly reported.
    let step = |did: &mut Vec<String>, call: String, run: &mut dyn FnMut() -> io::Result<()>| {
        did.push(call);
        let fired = faults.fired();
        let result = catch_unwind(AssertUnwindSafe(run));
        let hit = faults.fired() > fired;
        let said = did.join(", ");
        match result {
            Ok(Ok(())) if hit => Err(Failure::new(format!(
                "did:      {said}\nexpected: Err: the fault happened in this call\ngot:      Ok"
            ))),
            Ok(Ok(())) => Ok(true),
            Ok(Err(_)) if hit => Ok(false),
            Ok(Err(error)) => Err(Failure::new(format!(
                "did:      {said}\nexpected: Ok (no fault was injected in this call)\ngot:      \
                 Err({:?}): {error}",
                error.kind()
            ))),
            Err(panic) => Err(Failure::new(format!(
                "did:      {said}\nexpected: {}\ngot:      a panic: {}",
                if hit { "Err, returned" } else { "Ok" },
                panic_text(&*panic)
            ))),
        }
    };
    let mut writer = None;
    let created = step(&mut did, create_call(options), &mut || {
        writer = Some(TableWriter::create(faults.dir(), NAME, options)?);
        Ok(())
    })?;
    let Some(mut writer) = writer.filter(|_| created) else {
        return Ok(faults);
    };
    for entry in entries {
        if !step(&mut did, format!("add({})", shown(entry)), &mut || {
            writer.add(&proxy(entry))
        })? {
            return Ok(faults);
        }
    }
    step(&mut did, "finish()".into(), &mut || {
        writer.finish().map(drop)
    })?;
    Ok(faults)
}
