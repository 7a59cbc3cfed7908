//! Hidden checks for lsm/bloom.

use std::collections::BTreeSet;
use std::io::{self, ErrorKind};

use judge::prelude::*;
use kit::crash::show;
use kit::fault::{Aim, FaultDir};
use kit::sim::{Fault, OpKind, SimDisk};
use lsm_bloom::{Entry, FilteredTable, build_filter, may_contain};

use crate::support::{
    TableEntry, TableOptions as Options, disk_holding, write_table, write_table_with_filter,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "build_filter gives the reference's bytes for 0, 1, 2 and 1,000 keys, the empty key \
             and a key given twice, at bits_per_key 0, 1, 5, 10, 30, 370, 740 and 1,000: the size, every \
             bit, and k in the last byte",
            filter_bytes_scripted,
        )
        .check(
            "build_filter gives the reference's bytes for any keys and bits_per_key",
            filter_bytes_random,
        )
        .check(
            "may_contain says yes to every key a filter was built from, and answers as the \
             reference for keys it was not, reading k from the filter's last byte; a filter of \
             fewer than 2 bytes holds no key",
            may_contain_matches_reference,
        )
        .check(
            "the false-positive rate of a filter over 10,000 absent keys stays within twice the \
             theory's (1 - e^(-k/b))^k, at 5, 10 and 20 bits per key",
            false_positive_rate,
        )
        .check(
            "the filter is over user keys: a get finds every key at every snapshot that sees \
             one of its versions, tombstones included, and nothing below them",
            user_keys_any_snapshot,
        )
        .check(
            "open reads the filter block once; a get of a key the filter rules out reads \
             nothing, any other get reads at most one data block",
            reads_counted,
        )
        .check(
            "a table without a filter block (filter offset and size 0) opens, and every get \
             goes to the table",
            no_filter_block,
        )
        .check(
            "a damaged filter block (a flipped bit in it or its crc) or a filter handle outside \
             the file is InvalidData at open, never a panic nor a wrong answer",
            damaged_filter,
        )
        .check(
            "a read that fails in open is passed on as its own error, not called damage \
             (InvalidData)",
            failed_reads,
        )
}

const NAME: &str = "000001.sst";

/// The block size and restart interval of every table here: small, so tables have many blocks.
const OPTIONS: Options = Options {
    block_size: 200,
    restart_interval: 4,
};

// ---------------------------------------------------------------------------------------------
// The reference filter.

fn hash(key: &[u8]) -> u32 {
    const SEED: u32 = 0xBC9F_1D34;
    const M: u32 = 0xC6A4_A793;
    let mut h = SEED ^ (key.len() as u32).wrapping_mul(M);
    let mut words = key.chunks_exact(4);
    for word in &mut words {
        h = h.wrapping_add(u32::from_le_bytes(word.try_into().expect("4 bytes")));
        h = h.wrapping_mul(M);
        h ^= h >> 16;
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        for (i, &byte) in rest.iter().enumerate() {
            h = h.wrapping_add(u32::from(byte) << (8 * i));
        }
        h = h.wrapping_mul(M);
        h ^= h >> 24;
    }
    h
}

fn ref_k(bits_per_key: usize) -> usize {
    ((bits_per_key as f64 * std::f64::consts::LN_2).round() as usize).clamp(1, 30)
}

/// The bytes of the bit array: at least 64 bits, whole bytes.
fn ref_array_len(keys: usize, bits_per_key: usize) -> usize {
    keys.saturating_mul(bits_per_key).max(64).div_ceil(8)
}

fn ref_probes(key: &[u8], k: usize, bits: usize) -> Vec<usize> {
    let mut h = hash(key);
    let delta = h.rotate_right(17);
    (0..k)
        .map(|_| {
            let bit = h as usize % bits;
            h = h.wrapping_add(delta);
            bit
        })
        .collect()
}

fn ref_build(keys: &[Vec<u8>], bits_per_key: usize) -> Vec<u8> {
    let k = ref_k(bits_per_key);
    let bytes = ref_array_len(keys.len(), bits_per_key);
    let mut filter = vec![0u8; bytes + 1];
    for key in keys {
        for bit in ref_probes(key, k, bytes * 8) {
            filter[bit / 8] |= 1 << (bit % 8);
        }
    }
    filter[bytes] = k as u8;
    filter
}

fn ref_may_contain(filter: &[u8], key: &[u8]) -> bool {
    let (&k, array) = filter
        .split_last()
        .expect("a reference filter is never empty");
    ref_probes(key, usize::from(k), array.len() * 8)
        .into_iter()
        .all(|bit| array[bit / 8] & (1 << (bit % 8)) != 0)
}

// ---------------------------------------------------------------------------------------------
// Showing what was done.

fn short(bytes: &[u8]) -> String {
    if bytes.len() <= 48 {
        show(bytes)
    } else {
        format!("<{} bytes: {}...>", bytes.len(), show(&bytes[..8]))
    }
}

fn keys_text(keys: &[Vec<u8>]) -> String {
    if keys.len() <= 8 {
        let shown: Vec<String> = keys.iter().map(|k| short(k)).collect();
        format!("[{}]", shown.join(", "))
    } else {
        format!(
            "{} keys, from {} to {}",
            keys.len(),
            short(&keys[0]),
            short(&keys[keys.len() - 1])
        )
    }
}

fn entry_text(entry: &Option<Entry>) -> String {
    match entry {
        None => "None".into(),
        Some(Entry {
            key,
            seq,
            value: Some(value),
        }) => format!("Some({}@{seq} = {})", short(key), short(value)),
        Some(Entry {
            key,
            seq,
            value: None,
        }) => format!("Some({}@{seq} deleted)", short(key)),
    }
}

fn io_failure(did: &str, error: io::Error) -> Failure {
    Failure::new(format!(
        "did:      {did}\nexpected: success\ngot:      Err({:?}): {error}",
        error.kind()
    ))
}

/// Compares a filter with the reference's, telling the first thing that differs: the size, k,
/// or a bit (and which keys set that bit in the reference).
fn expect_filter(keys: &[Vec<u8>], bits_per_key: usize, got: &[u8]) -> CheckResult {
    let expected = ref_build(keys, bits_per_key);
    if got == expected {
        return Ok(());
    }
    let did = format!("build_filter({}, {bits_per_key})", keys_text(keys));
    let array = expected.len() - 1;
    if got.len() != expected.len() {
        return fail(format!(
            "did:      {did}\nexpected: {} bytes: max({} keys x {bits_per_key} bits, 64) = {} \
             bits, in {array} whole bytes, then 1 byte for k\ngot:      {} bytes",
            expected.len(),
            keys.len(),
            keys.len().saturating_mul(bits_per_key).max(64),
            got.len()
        ));
    }
    let k = ref_k(bits_per_key);
    if got[array] != expected[array] {
        return fail(format!(
            "did:      {did}\nexpected: k = {k} in the last byte (round({bits_per_key} x ln 2), \
             kept within 1..=30)\ngot:      {} in the last byte",
            got[array]
        ));
    }
    let byte = (0..array)
        .find(|&i| got[i] != expected[i])
        .expect("the filters differ in the array");
    let setters: Vec<String> = keys
        .iter()
        .filter(|key| ref_probes(key, k, array * 8).iter().any(|b| b / 8 == byte))
        .take(4)
        .map(|key| short(key))
        .collect();
    fail(format!(
        "did:      {did}\nexpected: byte {byte} of the bit array = {:#010b} (set by the probes of \
         {}; bit i of the array is bit i % 8 of byte i / 8)\ngot:      {:#010b}",
        expected[byte],
        if setters.is_empty() {
            "no key".to_string()
        } else {
            setters.join(", ")
        },
        got[byte]
    ))
}

// ---------------------------------------------------------------------------------------------
// Inputs.

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(vec![b'a', b'b']), 0..5),
        1 => prop::collection::vec(prop::sample::select(vec![0x00, 0xFF]), 0..4),
        1 => prop::collection::vec(any::<u8>(), 0..24),
    ]
}

fn bits_per_key() -> impl Strategy<Value = usize> {
    prop_oneof![3 => 0..16usize, 1 => 16..40usize, 1 => Just(1000usize)]
}

fn numbered(prefix: &str, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| format!("{prefix}{i:05}").into_bytes())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The filter.

fn filter_bytes_scripted(_: &mut Ctx) -> CheckResult {
    let sets: Vec<Vec<Vec<u8>>> = vec![
        vec![],
        vec![b"k".to_vec()],
        vec![b"apple".to_vec(), b"banana".to_vec()],
        vec![Vec::new()],
        vec![b"twice".to_vec(), b"twice".to_vec()],
        numbered("key", 1000),
    ];
    for keys in &sets {
        // 370 and 740 bits per key: a k that wraps in a byte before it is clamped.
        for bits_per_key in [0, 1, 5, 10, 30, 370, 740, 1000] {
            expect_filter(keys, bits_per_key, &build_filter(keys, bits_per_key))?;
        }
    }
    Ok(())
}

fn filter_bytes_random(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["keys", "bits_per_key"],
        128,
        (prop::collection::vec(key(), 0..40), bits_per_key()),
        |(keys, bits_per_key)| {
            expect_filter(&keys, bits_per_key, &build_filter(&keys, bits_per_key))
        },
    )
}

fn may_contain_matches_reference(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["keys", "bits_per_key", "others"],
        64,
        (
            prop::collection::vec(key(), 0..60),
            0..40usize,
            prop::collection::vec(key(), 0..30),
        ),
        |(keys, bits_per_key, others)| {
            let filter = ref_build(&keys, bits_per_key);
            let built = build_filter(&keys, bits_per_key);
            for key in keys.iter().chain(&others) {
                let expected = ref_may_contain(&filter, key);
                let got = may_contain(&filter, key);
                expect(
                    got == expected,
                    format!(
                        "did:      may_contain(filter, {}), the filter built by the reference \
                         from {} at {bits_per_key} bits per key (k = {} in its last byte)\n\
                         expected: {expected}{}\ngot:      {got}",
                        short(key),
                        keys_text(&keys),
                        ref_k(bits_per_key),
                        if keys.contains(key) {
                            " (the key is one of them: a filter never says no to its own keys)"
                        } else {
                            ""
                        }
                    ),
                )?;
            }
            for short_filter in [&[][..], &[7]] {
                expect(
                    !may_contain(short_filter, key_or_empty(&keys)),
                    format!(
                        "did:      may_contain(&{short_filter:?}, {})\nexpected: false (a filter \
                         with no bit array holds no key)\ngot:      true",
                        short(key_or_empty(&keys))
                    ),
                )?;
            }
            for key in &keys {
                expect(
                    may_contain(&built, key),
                    format!(
                        "did:      filter = build_filter({}, {bits_per_key}), then \
                         may_contain(filter, {})\nexpected: true (the key is one of them: a \
                         filter never says no to its own keys)\ngot:      false",
                        keys_text(&keys),
                        short(key)
                    ),
                )?;
            }
            Ok(())
        },
    )
}

fn key_or_empty(keys: &[Vec<u8>]) -> &[u8] {
    keys.first().map_or(&[], |key| key)
}

fn false_positive_rate(ctx: &mut Ctx) -> CheckResult {
    let mut rng = ctx.rng();
    let mut random_keys = |tag: u8, count: usize| -> Vec<Vec<u8>> {
        let mut keys = BTreeSet::new();
        while keys.len() < count {
            let len = rng.random_range(4..16usize);
            let mut key = vec![tag];
            key.extend((0..len).map(|_| rng.random::<u8>()));
            keys.insert(key);
        }
        keys.into_iter().collect()
    };
    let keys = random_keys(b'+', 1000);
    let absent = random_keys(b'-', 10_000);
    for bits_per_key in [5, 10, 20] {
        let filter = build_filter(&keys, bits_per_key);
        let k = ref_k(bits_per_key) as f64;
        let theory = (1.0 - (-k / bits_per_key as f64).exp()).powf(k);
        let allowed = (2.0 * theory * absent.len() as f64).ceil() as usize + 10;
        // The rate is counted with the reference's may_contain, whose answers the learner's
        // must match (checked on a sample): a call into the crate carries the whole filter, and
        // 30,000 of them took seconds.
        for key in absent.iter().step_by(50) {
            let expected = ref_may_contain(&filter, key);
            let got = may_contain(&filter, key);
            expect(
                got == expected,
                format!(
                    "did:      filter = build_filter(1,000 random keys, {bits_per_key}), then \
                     may_contain(filter, {}), a key not among them\nexpected: {expected}\n\
                     got:      {got}",
                    short(key)
                ),
            )?;
        }
        let yes = absent
            .iter()
            .filter(|key| ref_may_contain(&filter, key))
            .count();
        expect(
            yes <= allowed,
            format!(
                "did:      filter = build_filter(1,000 random keys, {bits_per_key}), then \
                 may_contain(filter, key) for 10,000 other random keys\nexpected: at most \
                 {allowed} yes (k = {k}: the theory's rate is {:.3}%, about {:.0} of 10,000)\n\
                 got:      {yes} yes",
                100.0 * theory,
                theory * absent.len() as f64
            ),
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The table.

fn put(key: &[u8], seq: u64, value: &[u8]) -> TableEntry {
    TableEntry {
        key: key.to_vec(),
        seq,
        value: Some(value.to_vec()),
    }
}

/// The user keys of `entries`, each once, in order.
fn user_keys(entries: &[TableEntry]) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = entries.iter().map(|e| e.key.clone()).collect();
    keys.dedup();
    keys
}

/// The newest version of `key` at or below `snapshot`.
fn model_get(entries: &[TableEntry], key: &[u8], snapshot: u64) -> Option<Entry> {
    entries
        .iter()
        .find(|e| e.key == key && e.seq <= snapshot)
        .map(|e| Entry {
            key: e.key.clone(),
            seq: e.seq,
            value: e.value.clone(),
        })
}

/// What the disk's counters saw, as a message says it: `1 read of 200 bytes`.
fn read_count(count: u64, bytes: u64) -> String {
    match count {
        1 => format!("1 read of {bytes} bytes"),
        n => format!("{n} reads of {bytes} bytes"),
    }
}

/// A table of `entries` with the reference's filter of their user keys, on a disk, opened.
fn opened(
    seed: u64,
    entries: &[TableEntry],
    bits_per_key: usize,
) -> Result<(SimDisk, FilteredTable, Vec<u8>, String), Failure> {
    let filter = ref_build(&user_keys(entries), bits_per_key);
    let bytes = write_table_with_filter(entries, OPTIONS, &filter);
    let disk = disk_holding(seed, NAME, &bytes)?;
    let did = format!(
        "a table of {} entries ({} user keys, from {} to {}) with a filter of {bits_per_key} \
         bits per key, FilteredTable::open(dir, {NAME:?})",
        entries.len(),
        user_keys(entries).len(),
        short(&entries[0].key),
        short(&entries[entries.len() - 1].key)
    );
    let table = FilteredTable::open(&*disk.dir(), NAME).map_err(|e| io_failure(&did, e))?;
    Ok((disk, table, filter, did))
}

fn expect_get(
    table: &FilteredTable,
    entries: &[TableEntry],
    key: &[u8],
    snapshot: u64,
    did: &str,
) -> CheckResult {
    let call = format!("{did}, get({}, {snapshot})", short(key));
    let got = table.get(key, snapshot).map_err(|e| io_failure(&call, e))?;
    let expected = model_get(entries, key, snapshot);
    expect(
        got == expected,
        format!(
            "did:      {call}\nexpected: {}\ngot:      {}",
            entry_text(&expected),
            entry_text(&got)
        ),
    )
}

fn reads(disk: &SimDisk) -> (u64, u64) {
    let stats = disk.stats();
    (stats.reads, stats.bytes_read)
}

fn reads_counted(ctx: &mut Ctx) -> CheckResult {
    let entries: Vec<TableEntry> = numbered("key", 600)
        .iter()
        .enumerate()
        .map(|(i, key)| put(key, i as u64 + 1, b"value"))
        .collect();
    let filter = ref_build(&user_keys(&entries), 10);
    let bytes = write_table_with_filter(&entries, OPTIONS, &filter);
    let disk = disk_holding(ctx.seed(), NAME, &bytes)?;
    let footer = bytes.len() - 40;
    let word = |i: usize| {
        u64::from_le_bytes(
            bytes[footer + 8 * i..footer + 8 * i + 8]
                .try_into()
                .expect("8"),
        )
    };
    let (index_size, filter_size) = (word(1), word(3));
    disk.reset_stats();
    let did = format!(
        "a table of 600 entries (\"key00000\" to \"key00599\", {} data blocks) with a filter of \
         10 bits per key ({filter_size} bytes), FilteredTable::open(dir, {NAME:?})",
        bytes.len() / 200
    );
    let table = FilteredTable::open(&*disk.dir(), NAME).map_err(|e| io_failure(&did, e))?;
    let (count, bytes_read) = reads(&disk);
    let most = 2 * 40 + index_size + 4 + filter_size + 4;
    expect(
        count <= 4 && bytes_read <= most,
        format!(
            "did:      {did}\nexpected: at most 4 reads of {most} bytes in all (the footer, the \
             index block and its crc, the footer again if you must, the filter block and its \
             crc), no data block\ngot:      {}",
            read_count(count, bytes_read)
        ),
    )?;
    let biggest = 200 * 4;
    let mut ruled_out = 0;
    for i in 0..1200 {
        // Absent keys inside the table's range: the index alone cannot rule them out.
        let key = format!("key{:05}x", i % 600).into_bytes();
        let key = if i < 600 { key } else { key[..7].to_vec() };
        let says = ref_may_contain(&filter, &key);
        disk.reset_stats();
        expect_get(&table, &entries, &key, u64::MAX, &did)?;
        let (count, bytes_read) = reads(&disk);
        if says {
            expect(
                count <= 1 && bytes_read <= biggest,
                format!(
                    "did:      {did}, get({}, u64::MAX) (a false positive of the filter)\n\
                     expected: at most one read, of one data block\ngot:      {}",
                    short(&key),
                    read_count(count, bytes_read)
                ),
            )?;
        } else {
            ruled_out += 1;
            expect(
                count == 0,
                format!(
                    "did:      {did}, get({}, u64::MAX)\nexpected: no read (the filter, loaded \
                     at open, says the key is not in the table)\ngot:      {}",
                    short(&key),
                    read_count(count, bytes_read)
                ),
            )?;
        }
    }
    expect(
        ruled_out > 1000,
        format!("the reference filter ruled out only {ruled_out} of 1,200 keys"),
    )?;
    for entry in entries.iter().step_by(7) {
        disk.reset_stats();
        expect_get(&table, &entries, &entry.key, u64::MAX, &did)?;
        let (count, bytes_read) = reads(&disk);
        expect(
            count == 1 && bytes_read <= biggest,
            format!(
                "did:      {did}, get({}, u64::MAX) (a key of the table)\nexpected: one read, \
                 of the data block that holds it\ngot:      {}",
                short(&entry.key),
                read_count(count, bytes_read)
            ),
        )?;
    }
    Ok(())
}

fn user_keys_any_snapshot(ctx: &mut Ctx) -> CheckResult {
    let mut rng = ctx.rng();
    let mut entries = Vec::new();
    let mut seq = 1u64;
    for key in numbered("user", 80) {
        let versions = rng.random_range(1..5usize);
        let mut seqs: Vec<u64> = (0..versions)
            .map(|_| {
                seq += rng.random_range(1..4u64);
                seq
            })
            .collect();
        seqs.reverse();
        for (v, s) in seqs.into_iter().enumerate() {
            entries.push(TableEntry {
                key: key.clone(),
                seq: s,
                value: (v % 3 != 1).then(|| format!("v{s}").into_bytes()),
            });
        }
    }
    let (_disk, table, _, did) = opened(ctx.seed(), &entries, 10)?;
    for entry in &entries {
        for snapshot in [entry.seq, entry.seq + 1, entry.seq - 1, u64::MAX, 0] {
            expect_get(&table, &entries, &entry.key, snapshot, &did)?;
        }
    }
    Ok(())
}

fn no_filter_block(ctx: &mut Ctx) -> CheckResult {
    let entries: Vec<TableEntry> = numbered("key", 300)
        .iter()
        .enumerate()
        .map(|(i, key)| put(key, 300 - i as u64, b"value"))
        .collect();
    let disk = disk_holding(ctx.seed(), NAME, &write_table(&entries, OPTIONS))?;
    let did = format!(
        "a table of 300 entries (\"key00000\" to \"key00299\") without a filter block (filter \
         offset and size 0 in the footer), FilteredTable::open(dir, {NAME:?})"
    );
    let table = FilteredTable::open(&*disk.dir(), NAME).map_err(|e| io_failure(&did, e))?;
    for entry in entries.iter().step_by(3) {
        expect_get(&table, &entries, &entry.key, u64::MAX, &did)?;
        expect_get(&table, &entries, &entry.key, entry.seq - 1, &did)?;
        let absent = [&entry.key[..], b"x"].concat();
        expect_get(&table, &entries, &absent, u64::MAX, &did)?;
    }
    Ok(())
}

/// The table the damage check damages, as its messages name it.
const THREE: &str =
    "a table of [\"key00000\"@1, \"key00001\"@2, \"key00002\"@3] with a filter of 10 bits per key";

fn damaged_filter(ctx: &mut Ctx) -> CheckResult {
    let entries: Vec<TableEntry> = numbered("key", 3)
        .iter()
        .enumerate()
        .map(|(i, key)| put(key, i as u64 + 1, b"value"))
        .collect();
    let filter = ref_build(&user_keys(&entries), 10);
    let bytes = write_table_with_filter(&entries, OPTIONS, &filter);
    let footer = bytes.len() - 40;
    let filter_at = u64::from_le_bytes(bytes[footer + 16..footer + 24].try_into().expect("8"));
    let filter_at = filter_at as usize;
    let mut damaged: Vec<(String, Vec<u8>)> = Vec::new();
    for byte in filter_at..filter_at + filter.len() + 4 {
        for bit in 0..8 {
            let mut copy = bytes.clone();
            copy[byte] ^= 1 << bit;
            let part = if byte < filter_at + filter.len() {
                format!("byte {} of the filter block", byte - filter_at)
            } else {
                format!(
                    "byte {} of the filter block's crc",
                    byte - filter_at - filter.len()
                )
            };
            damaged.push((format!("{THREE}, bit {bit} of {part} flipped"), copy));
        }
    }
    let len = bytes.len() as u64;
    for (offset, size, why) in [
        (filter_at as u64, u64::MAX, "size u64::MAX"),
        (u64::MAX - 2, filter.len() as u64, "offset u64::MAX - 2"),
        (filter_at as u64, len, "size the file's length"),
        (len - 20, filter.len() as u64, "offset inside the footer"),
        (
            len - 5,
            filter.len() as u64,
            "a block that ends past the end of the file",
        ),
        (
            len - 10,
            10,
            "a block that fits in the file, and its crc that does not",
        ),
    ] {
        let mut copy = bytes.clone();
        copy[footer + 16..footer + 24].copy_from_slice(&offset.to_le_bytes());
        copy[footer + 24..footer + 32].copy_from_slice(&size.to_le_bytes());
        damaged.push((
            format!("{THREE}, the footer's filter handle set to ({offset}, {size}): {why}"),
            copy,
        ));
    }
    // A table of no entries: its filter block is at offset 0, and is there all the same.
    let empty_filter = ref_build(&[], 10);
    let mut empty = write_table_with_filter(&[], OPTIONS, &empty_filter);
    empty[0] ^= 1;
    damaged.push((
        "a table of no entries with a filter of 10 bits per key, bit 0 of byte 0 of its filter \
         block (at offset 0) flipped"
            .to_string(),
        empty,
    ));
    for (what, copy) in damaged {
        let disk = disk_holding(ctx.seed(), NAME, &copy)?;
        let did = format!("{what}, FilteredTable::open(dir, {NAME:?})");
        ctx.doing(&did);
        match FilteredTable::open(&*disk.dir(), NAME) {
            Err(e) if e.kind() == ErrorKind::InvalidData => {}
            Err(e) => {
                return fail(format!(
                    "did:      {did}\nexpected: Err(InvalidData)\ngot:      Err({:?}): {e}",
                    e.kind()
                ));
            }
            Ok(table) => {
                let answers: Vec<String> = entries
                    .iter()
                    .map(|e| {
                        let got = table.get(&e.key, u64::MAX).map_or_else(
                            |e| format!("Err({:?})", e.kind()),
                            |entry| entry_text(&entry),
                        );
                        format!("get({}) = {got}", short(&e.key))
                    })
                    .collect();
                return fail(format!(
                    "did:      {did}\nexpected: Err(InvalidData): the filter block's crc does \
                     not match, or its handle points outside the file\ngot:      Ok, then {}",
                    answers.join(", ")
                ));
            }
        }
    }
    Ok(())
}

fn failed_reads(ctx: &mut Ctx) -> CheckResult {
    let entries: Vec<TableEntry> = numbered("key", 3)
        .iter()
        .enumerate()
        .map(|(i, key)| put(key, i as u64 + 1, b"value"))
        .collect();
    let filter = ref_build(&user_keys(&entries), 10);
    let disk = disk_holding(
        ctx.seed(),
        NAME,
        &write_table_with_filter(&entries, OPTIONS, &filter),
    )?;
    let golden = FaultDir::new(&disk, &[]);
    let open = format!("{THREE}, FilteredTable::open(dir, {NAME:?})");
    FilteredTable::open(&*golden.dir(), NAME).map_err(|e| io_failure(&open, e))?;
    for n in 1..=golden.count(OpKind::Read) {
        let aim = Aim {
            kind: OpKind::Read,
            n,
            fault: Fault::IoError,
        };
        let faults = FaultDir::new(&disk, &[aim]);
        let did = format!("{open}, whose read {n} fails with an I/O error");
        ctx.doing(&did);
        match FilteredTable::open(&*faults.dir(), NAME) {
            Err(e) if e.kind() != ErrorKind::InvalidData => {}
            Err(e) => {
                return fail(format!(
                    "did:      {did}\nexpected: the read's own error, passed on: a read that \
                     fails says nothing about the table's bytes\ngot:      Err(InvalidData): {e}"
                ));
            }
            Ok(_) => {
                return fail(format!(
                    "did:      {did}\nexpected: an error: a read it made failed\ngot:      Ok"
                ));
            }
        }
    }
    Ok(())
}
