//! Hidden checks for bitcask/delete.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::Arc;

use bitcask_delete::{LOG_NAME, Store};
use judge::prelude::*;
use kit::checksum::crc32;
use kit::crash::{KvOp, Subject};
use kit::disk::Dir;
use kit::sim::{Fault, OpKind, SimDisk};

use crate::support::{self, Shape};

pub fn suite() -> Suite {
    Suite::new()
        .check("a deleted key reads back as absent", deleted_is_absent)
        .check(
            "deleting a key that is not there succeeds and changes nothing",
            delete_missing,
        )
        .check("a key can be put again after it is deleted", put_again)
        .check(
            "a delete appends a tombstone to the log, and the old put stays",
            tombstone_in_log,
        )
        .check(
            "any mix of puts, deletes and gets agrees with a map",
            agrees_with_model,
        )
        .check(
            "replaying the log record by record gives back exactly the live keys",
            log_replays_to_model,
        )
        .check(
            "a get of a deleted or missing key costs no disk read, of a live key one",
            get_costs,
        )
        .check("a delete is one append and reads nothing; a delete of a key that is not there writes nothing", delete_costs)
        .check(
            "a delete whose write fails leaves the key as it was",
            failed_delete,
        )
        .check(
            "a failed write, read or open at any step is reported, and every acknowledged put and delete reads back",
            faults_everywhere,
        )
}

// ---------------------------------------------------------------------------------------------
// Operations, and how they read in a failure message.

/// The keys the properties use: few, so that deletes and re-puts hit the same keys often.
const KEYS: [&str; 3] = ["a", "b", "c"];

#[derive(Clone)]
enum Op {
    Put(&'static str, Vec<u8>),
    Delete(&'static str),
    Get(&'static str),
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Put(key, value) => write!(f, "put(b\"{key}\", {value:?})"),
            Op::Delete(key) => write!(f, "delete(b\"{key}\")"),
            Op::Get(key) => write!(f, "get(b\"{key}\")"),
        }
    }
}

fn ops(max: usize) -> impl Strategy<Value = Vec<Op>> {
    let key = prop::sample::select(KEYS.to_vec());
    let value = prop::collection::vec(any::<u8>(), 0..6);
    let op = prop_oneof![
        3 => (key.clone(), value).prop_map(|(k, v)| Op::Put(k, v)),
        2 => key.clone().prop_map(Op::Delete),
        2 => key.prop_map(Op::Get),
    ];
    prop::collection::vec(op, 1..max)
}

/// "put(b\"a\", [1]), delete(b\"a\")": what was done, for messages.
fn listed(ops: &[Op]) -> String {
    if ops.is_empty() {
        return "opening an empty store".into();
    }
    ops.iter()
        .map(|op| format!("{op:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn open(disk: &SimDisk) -> Result<Store, Failure> {
    let dir: Arc<dyn Dir> = disk.dir();
    Store::open(dir).map_err(|e| Failure::new(format!("Store::open on an empty disk failed: {e}")))
}

/// Applies `op` to the store, and to the model; the store's answer to a get, if it was one.
fn apply(
    store: &mut Store,
    model: &mut BTreeMap<&'static str, Vec<u8>>,
    done: &[Op],
    op: &Op,
) -> Result<Option<Option<Vec<u8>>>, Failure> {
    let failed = |e: std::io::Error| {
        Failure::new(format!(
            "after {}, {op:?} failed: {e}\nexpected it to succeed",
            listed(done)
        ))
    };
    match op {
        Op::Put(key, value) => {
            store.put(key.as_bytes(), value).map_err(failed)?;
            model.insert(key, value.clone());
            Ok(None)
        }
        Op::Delete(key) => {
            store.delete(key.as_bytes()).map_err(failed)?;
            model.remove(key);
            Ok(None)
        }
        Op::Get(key) => store.get(key.as_bytes()).map(Some).map_err(failed),
    }
}

fn get(store: &Store, done: &[Op], key: &str) -> Result<Option<Vec<u8>>, Failure> {
    store.get(key.as_bytes()).map_err(|e| {
        Failure::new(format!(
            "after {}, get(b\"{key}\") failed: {e}\nexpected it to succeed",
            listed(done)
        ))
    })
}

/// Runs `ops` one by one on a fresh store, and checks every key after each step.
fn run_against_model(disk: &SimDisk, ops: &[Op]) -> Result<Store, Failure> {
    let mut store = open(disk)?;
    let mut model = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        let answer = apply(&mut store, &mut model, &ops[..i], op)?;
        let done = &ops[..=i];
        if let (Some(got), Op::Get(key)) = (answer, op) {
            expect_eq(listed(done), got, model.get(key).cloned())?;
        }
        for key in KEYS {
            expect_eq(
                format!("{}, then get(b\"{key}\")", listed(done)),
                get(&store, done, key)?,
                model.get(key).cloned(),
            )?;
        }
    }
    Ok(store)
}

// ---------------------------------------------------------------------------------------------
// Reading the log without the learner's code: the record format, decoded and checked here.

const HEADER_LEN: usize = 12;
const TOMBSTONE: u32 = u32::MAX;

#[derive(PartialEq, Eq)]
enum Entry {
    Put(Vec<u8>, Vec<u8>),
    Tombstone(Vec<u8>),
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Put(key, value) => {
                write!(f, "put {} = {value:?}", String::from_utf8_lossy(key))
            }
            Entry::Tombstone(key) => write!(f, "tombstone {}", String::from_utf8_lossy(key)),
        }
    }
}

/// Every record of the log, in order; an error if any byte is not part of an intact record.
fn parse_log(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let Some(header) = rest.get(..HEADER_LEN) else {
            return Err(format!(
                "after {entries:?}, {} stray bytes at offset {at} are not a whole record",
                rest.len()
            ));
        };
        let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().expect("4 bytes"));
        let (crc, key_len, value_len) = (word(0), word(4), word(8));
        let value_bytes = if value_len == TOMBSTONE { 0 } else { value_len };
        let total = HEADER_LEN as u64 + u64::from(key_len) + u64::from(value_bytes);
        if (rest.len() as u64) < total {
            return Err(format!(
                "after {entries:?}, the record at offset {at} says it is {total} bytes long, \
                 and only {} bytes are left",
                rest.len()
            ));
        }
        let total = total as usize;
        if crc32(&rest[4..total]) != crc {
            return Err(format!(
                "after {entries:?}, the record at offset {at} has a checksum that does not match"
            ));
        }
        let key = rest[HEADER_LEN..HEADER_LEN + key_len as usize].to_vec();
        entries.push(if value_len == TOMBSTONE {
            Entry::Tombstone(key)
        } else {
            Entry::Put(key, rest[HEADER_LEN + key_len as usize..total].to_vec())
        });
        at += total;
    }
    Ok(entries)
}

fn read_log(disk: &SimDisk, done: &[Op]) -> Result<Vec<Entry>, Failure> {
    let Some(bytes) = disk.contents(LOG_NAME) else {
        return Err(Failure::new(format!(
            "after {}, there is no file called {LOG_NAME:?}",
            listed(done)
        )));
    };
    parse_log(&bytes).map_err(|why| {
        Failure::new(format!(
            "after {}, the log does not decode as records: {why}",
            listed(done)
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// The checks.

fn deleted_is_absent(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let ops = [
        Op::Put("a", vec![1]),
        Op::Put("b", vec![2]),
        Op::Delete("a"),
    ];
    let mut store = open(&disk)?;
    let mut model = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        apply(&mut store, &mut model, &ops[..i], op)?;
    }
    let did = listed(&ops);
    expect_eq(
        format!("{did}, then get(b\"a\")"),
        get(&store, &ops, "a")?,
        None,
    )?;
    expect_eq(
        format!("{did}, then get(b\"b\")"),
        get(&store, &ops, "b")?,
        Some(vec![2]),
    )
}

fn delete_missing(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    run_against_model(
        &disk,
        &[
            Op::Delete("a"),
            Op::Put("b", vec![2]),
            Op::Delete("a"),
            Op::Delete("b"),
            Op::Delete("b"),
            Op::Put("b", vec![3]),
        ],
    )?;
    Ok(())
}

fn put_again(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    run_against_model(
        &disk,
        &[
            Op::Put("a", vec![1]),
            Op::Delete("a"),
            Op::Put("a", vec![2]),
            Op::Get("a"),
            Op::Delete("a"),
            Op::Put("a", vec![]),
            Op::Get("a"),
        ],
    )?;
    Ok(())
}

fn tombstone_in_log(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let ops = [Op::Put("a", vec![1, 2, 3]), Op::Delete("a")];
    let mut store = open(&disk)?;
    let mut model = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        apply(&mut store, &mut model, &ops[..i], op)?;
    }
    expect_eq(
        format!(
            "{}, then read the log (a tombstone is a record whose value length is u32::MAX)",
            listed(&ops)
        ),
        read_log(&disk, &ops)?,
        vec![
            Entry::Put(b"a".to_vec(), vec![1, 2, 3]),
            Entry::Tombstone(b"a".to_vec()),
        ],
    )
}

fn agrees_with_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["ops"], 128, ops(20), |ops| {
        run_against_model(&SimDisk::new(seed), &ops).map(|_| ())
    })
}

fn log_replays_to_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["ops"], 128, ops(20), |ops| {
        let disk = SimDisk::new(seed);
        let mut store = open(&disk)?;
        let mut model = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            apply(&mut store, &mut model, &ops[..i], op)?;
        }
        let log = read_log(&disk, &ops)?;
        let mut replayed: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for entry in &log {
            match entry {
                Entry::Put(key, value) => {
                    replayed.insert(String::from_utf8_lossy(key).into_owned(), value.clone());
                }
                Entry::Tombstone(key) => {
                    replayed.remove(String::from_utf8_lossy(key).as_ref());
                }
            }
        }
        let expected: BTreeMap<String, Vec<u8>> = model
            .iter()
            .map(|(key, value)| (key.to_string(), value.clone()))
            .collect();
        expect_eq(
            format!(
                "{}, then replayed the log {log:?} (a put sets its key, a tombstone removes it)",
                listed(&ops)
            ),
            replayed,
            expected,
        )
    })
}

fn get_costs(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["ops"], 128, ops(16), |ops| {
        let disk = SimDisk::new(seed);
        let mut store = open(&disk)?;
        let mut model = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            apply(&mut store, &mut model, &ops[..i], op)?;
        }
        for key in KEYS {
            let live = model.contains_key(key);
            disk.reset_stats();
            let got = get(&store, &ops, key)?;
            let reads = disk.stats().reads;
            let did = format!("{}, then get(b\"{key}\")", listed(&ops));
            expect_eq(did.clone(), got, model.get(key).cloned())?;
            let (expected, why) = if live {
                (1, "a live key: one read at its position")
            } else {
                (
                    0,
                    "the key directory has no entry for it, so there is nothing to read",
                )
            };
            expect(
                reads == expected,
                format!(
                    "did:      {did}\nexpected: {expected} disk read(s) ({why})\ngot:      {reads}"
                ),
            )?;
        }
        Ok(())
    })
}

fn delete_costs(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["ops"], 128, ops(16), |ops| {
        let disk = SimDisk::new(seed);
        let mut store = open(&disk)?;
        let mut model = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            let live = matches!(op, Op::Delete(key) if model.contains_key(key));
            disk.reset_stats();
            apply(&mut store, &mut model, &ops[..i], op)?;
            let Op::Delete(key) = op else { continue };
            let stats = disk.stats();
            let did = listed(&ops[..=i]);
            expect(
                stats.reads == 0,
                format!(
                    "did:      {did}\nexpected: the last delete reads nothing (the key directory \
                     already knows whether b\"{key}\" is there)\ngot:      {} read(s)",
                    stats.reads
                ),
            )?;
            if live {
                expect(
                    stats.writes == 1,
                    format!(
                        "did:      {did}\nexpected: the last delete, of a live key, is one write \
                         (its tombstone)\ngot:      {} write(s)",
                        stats.writes
                    ),
                )?;
            } else {
                expect(
                    stats.writes == 0,
                    format!(
                        "did:      {did}\nexpected: the last delete, of a key that is not there, \
                         writes nothing (the key directory knows it is not there, and a \
                         tombstone would have nothing to shadow)\ngot:      {} write(s)",
                        stats.writes
                    ),
                )?;
            }
        }
        Ok(())
    })
}

fn failed_delete(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let mut store = open(&disk)?;
    let before = [Op::Put("a", vec![1]), Op::Put("b", vec![2])];
    let mut model = BTreeMap::new();
    for (i, op) in before.iter().enumerate() {
        apply(&mut store, &mut model, &before[..i], op)?;
    }
    let did = format!(
        "{}, then delete(b\"a\") with the disk failing its next write",
        listed(&before)
    );
    disk.fail_next(OpKind::Write, Fault::IoError);
    let result = store.delete(b"a");
    expect(
        result.is_err(),
        format!(
            "did:      {did}\nexpected: the delete returns the write's error (its tombstone is \
             not in the log)\ngot:      Ok(())"
        ),
    )?;
    expect_eq(
        format!("{did}, then get(b\"a\")"),
        get(&store, &before, "a")?,
        Some(vec![1]),
    )?;
    expect_eq(
        format!("{did}, then get(b\"b\")"),
        get(&store, &before, "b")?,
        Some(vec![2]),
    )?;
    let did = format!("{did}, then delete(b\"a\") again");
    store
        .delete(b"a")
        .map_err(|e| Failure::new(format!("{did}: the second delete failed: {e}")))?;
    expect_eq(
        format!("{did}, then get(b\"a\")"),
        store.get(b"a").ok(),
        Some(None),
    )
}

/// The sweep's handle on the store.
struct Deleting;

impl Subject for Deleting {
    type Store = Store;

    fn open(dir: Arc<dyn Dir>) -> io::Result<Store> {
        Store::open(dir)
    }

    fn apply(store: &mut Store, op: &KvOp) -> io::Result<()> {
        match op {
            KvOp::Put(k, v) => store.put(k, v),
            KvOp::Delete(k) => store.delete(k),
            _ => unreachable!("the delete scene's workloads only put and delete"),
        }
    }

    fn get(store: &mut Store, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        store.get(key)
    }
}

fn faults_everywhere(ctx: &mut Ctx) -> CheckResult {
    let shape = Shape::DELETES;
    support::faults_everywhere::<Deleting>(ctx, &[], 3, support::workload(9, shape), shape, "")
}
