//! Hidden checks for bitcask/keydir.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::Arc;

use bitcask_keydir::{LOG_NAME, Store};
use judge::prelude::*;
use kit::checksum::crc32;
use kit::crash::{KvOp, Subject};
use kit::disk::Dir;
use kit::fault::{FaultDir, attempt};
use kit::sim::{Fault, OpKind, SimDisk, Stats};

use crate::support::{self, Shape};

pub fn suite() -> Suite {
    Suite::new()
        .check("a get returns the value just put", put_then_get)
        .check(
            "a key that was never put is absent: get returns None",
            absent_key,
        )
        .check("the latest put of a key wins", latest_put_wins)
        .check(
            "keys and values of any bytes come back exactly, the empty value included",
            any_bytes,
        )
        .check(
            "agrees with a HashMap on any sequence of puts and gets",
            matches_model,
        )
        .check(
            "a get of a present key costs one read of exactly its record",
            get_costs_one_read,
        )
        .check(
            "a get costs one read however many times the key was overwritten",
            get_after_many_overwrites,
        )
        .check("a get of an absent key touches no disk", absent_get_is_free)
        .check(
            "a put is one append: one write, no reads",
            put_is_one_append,
        )
        .check(
            "a put that fails leaves the key as it was, and the store keeps working",
            failed_put,
        )
        .check(
            "keys whose CRC-32s are equal keep their own values",
            colliding_keys,
        )
        .check(
            "reopening appends after what the log already holds",
            reopen_appends,
        )
        .check(
            "an open that meets a failed operation returns the error and leaves the log's bytes alone",
            failed_open,
        )
        .check(
            "a failed write, read or open at any step is reported, and every acknowledged put reads back",
            faults_everywhere,
        )
}

/// Bytes shown as a byte string, so keys and values read like the code that wrote them.
#[derive(Clone, PartialEq, Eq, Hash)]
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

/// How many bytes the record of a put takes in the log.
fn record_len(key: &[u8], value: &[u8]) -> u64 {
    HEADER_LEN + key.len() as u64 + value.len() as u64
}

#[derive(Clone, Debug)]
enum Op {
    Put(Bytes, Bytes),
    Get(Bytes),
}

/// A few short keys, so puts overwrite and gets hit; now and then any bytes, the empty key too.
fn key() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        4 => prop_oneof![Just(b"a"), Just(b"b"), Just(b"c")].prop_map(|k| Bytes(k.to_vec())),
        1 => prop::collection::vec(any::<u8>(), 0..6).prop_map(Bytes),
    ]
}

/// Values of any bytes, the empty one included.
fn value() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        prop_oneof![Just(&b"1"[..]), Just(&b"2"[..]), Just(&b""[..])]
            .prop_map(|v| Bytes(v.to_vec())),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Bytes),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (key(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        key().prop_map(Op::Get),
    ]
}

/// Records the calls made so far, to say in a failure exactly what was done.
struct Script {
    calls: Vec<String>,
}

impl Script {
    fn new() -> Self {
        Script {
            calls: vec!["Store::open(dir)".to_string()],
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

fn open(disk: &SimDisk) -> Result<Store, Failure> {
    Store::open(disk.dir())
        .map_err(|e| Failure::new(format!("Store::open(dir) on an empty disk failed: {e}")))
}

fn put(store: &mut Store, script: &mut Script, key: &[u8], value: &[u8]) -> CheckResult {
    let did = script.did(format!("put({}, {})", show(key), show(value)));
    store
        .put(key, value)
        .map_err(|e| Failure::new(format!("{did}: the put failed: {e}")))
}

fn get(store: &Store, script: &mut Script, key: &[u8], expected: Option<&[u8]>) -> CheckResult {
    let did = script.did(format!("get({})", show(key)));
    match store.get(key) {
        Ok(got) => expect_eq(did, got.map(Bytes), expected.map(|v| Bytes(v.to_vec()))),
        Err(e) => fail(format!(
            "{did}: expected {:?}, the get failed: {e}",
            expected.map(|v| Bytes(v.to_vec()))
        )),
    }
}

fn put_then_get(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let mut store = open(&disk)?;
    let mut script = Script::new();
    put(&mut store, &mut script, b"hello", b"world")?;
    get(&store, &mut script, b"hello", Some(b"world"))?;
    put(&mut store, &mut script, b"answer", b"42")?;
    get(&store, &mut script, b"answer", Some(b"42"))?;
    get(&store, &mut script, b"hello", Some(b"world"))
}

fn absent_key(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let mut store = open(&disk)?;
    let mut script = Script::new();
    get(&store, &mut script, b"nobody", None)?;
    put(&mut store, &mut script, b"somebody", b"here")?;
    get(&store, &mut script, b"nobody", None)?;
    get(&store, &mut script, b"some", None)?;
    get(&store, &mut script, b"", None)
}

fn latest_put_wins(ctx: &mut Ctx) -> CheckResult {
    let versions = prop::collection::vec(value(), 1..8);
    let seed = ctx.seed();
    ctx.forall_named(&["versions"], 64, versions, |versions| {
        let disk = SimDisk::new(seed);
        let mut store = open(&disk)?;
        let mut script = Script::new();
        for version in &versions {
            put(&mut store, &mut script, b"k", &version.0)?;
        }
        let last = versions.last().expect("at least one version");
        get(&store, &mut script, b"k", Some(&last.0))?;
        // And again: a get changes nothing.
        get(&store, &mut script, b"k", Some(&last.0))
    })
}

fn any_bytes(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let mut store = open(&disk)?;
    let mut script = Script::new();
    put(&mut store, &mut script, b"empty", b"")?;
    get(&store, &mut script, b"empty", Some(b""))?;
    put(&mut store, &mut script, b"", b"the empty key")?;
    get(&store, &mut script, b"", Some(b"the empty key"))?;
    put(
        &mut store,
        &mut script,
        b"\x00\xff",
        b"\xff\xff\xff\xff\x00",
    )?;
    get(
        &store,
        &mut script,
        b"\x00\xff",
        Some(b"\xff\xff\xff\xff\x00"),
    )?;
    get(&store, &mut script, b"empty", Some(b""))?;

    let pairs = prop::collection::vec(
        (
            prop::collection::vec(any::<u8>(), 0..20),
            prop::collection::vec(any::<u8>(), 0..200),
        ),
        1..6,
    );
    let seed = ctx.seed();
    ctx.forall_named(&["pairs"], 64, pairs, |pairs| {
        let disk = SimDisk::new(seed);
        let mut store = open(&disk)?;
        let mut script = Script::new();
        let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for (key, value) in &pairs {
            put(&mut store, &mut script, key, value)?;
            model.insert(key.clone(), value.clone());
        }
        for (key, _) in &pairs {
            get(&store, &mut script, key, model.get(key).map(Vec::as_slice))?;
        }
        Ok(())
    })
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["ops"], 128, prop::collection::vec(op(), 1..24), |ops| {
        let disk = SimDisk::new(seed);
        let mut store = open(&disk)?;
        let mut script = Script::new();
        let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for op in &ops {
            match op {
                Op::Put(key, value) => {
                    put(&mut store, &mut script, &key.0, &value.0)?;
                    model.insert(key.0.clone(), value.0.clone());
                }
                Op::Get(key) => {
                    get(
                        &store,
                        &mut script,
                        &key.0,
                        model.get(&key.0).map(Vec::as_slice),
                    )?;
                }
            }
        }
        Ok(())
    })
}

/// The disk work of one call, as the check reports it.
fn cost(stats: Stats) -> String {
    format!(
        "{} read(s) of {} byte(s), {} write(s), {} sync(s)",
        stats.reads, stats.bytes_read, stats.writes, stats.syncs
    )
}

/// Gets `key` with the disk's counters reset, and checks the value and the cost: one read of
/// exactly the record's bytes, nothing else.
fn get_counted(
    disk: &SimDisk,
    store: &Store,
    script: &mut Script,
    key: &[u8],
    value: &[u8],
) -> CheckResult {
    disk.reset_stats();
    get(store, script, key, Some(value))?;
    let stats = disk.stats();
    let expected = Stats {
        reads: 1,
        bytes_read: record_len(key, value),
        ..Stats::default()
    };
    expect(
        stats == expected,
        format!(
            "{}: the log holds {} byte(s), the record of {} takes {} of them; expected the get \
             to cost {}, it cost {}",
            script.so_far(),
            disk.contents(LOG_NAME).map_or(0, |c| c.len()),
            show(key),
            record_len(key, value),
            cost(expected),
            cost(stats),
        ),
    )
}

fn get_costs_one_read(ctx: &mut Ctx) -> CheckResult {
    let puts = prop::collection::vec((key(), value()), 2..10);
    let seed = ctx.seed();
    ctx.forall_named(&["puts"], 64, puts, |puts| {
        let disk = SimDisk::new(seed);
        let mut store = open(&disk)?;
        let mut script = Script::new();
        let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for (key, value) in &puts {
            put(&mut store, &mut script, &key.0, &value.0)?;
            model.insert(key.0.clone(), value.0.clone());
        }
        // In the order of the puts (not the model's), so a replay is the same.
        for (key, _) in &puts {
            let value = model[&key.0].clone();
            get_counted(&disk, &store, &mut script, &key.0, &value)?;
        }
        Ok(())
    })
}

fn get_after_many_overwrites(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let mut store = open(&disk)?;
    let mut script = Script::new();
    put(&mut store, &mut script, b"other", b"x")?;
    for version in 0..100 {
        let value = format!("version {version}");
        // Not every put into the script: a hundred of them would drown the message.
        store.put(b"hot", value.as_bytes()).map_err(|e| {
            Failure::new(format!(
                "{}, then put(b\"hot\", {}): the put failed: {e}",
                script.so_far(),
                show(value.as_bytes())
            ))
        })?;
    }
    script.did("99 puts of b\"hot\": b\"version 0\" to b\"version 98\"");
    put(&mut store, &mut script, b"hot", b"version 99")?;
    put(&mut store, &mut script, b"cold", b"y")?;
    get_counted(&disk, &store, &mut script, b"hot", b"version 99")?;
    get_counted(&disk, &store, &mut script, b"other", b"x")?;
    get_counted(&disk, &store, &mut script, b"cold", b"y")
}

fn absent_get_is_free(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let mut store = open(&disk)?;
    let mut script = Script::new();
    put(&mut store, &mut script, b"a", b"1")?;
    put(&mut store, &mut script, b"b", b"2")?;
    for key in [&b"c"[..], b"", b"ab"] {
        disk.reset_stats();
        get(&store, &mut script, key, None)?;
        let stats = disk.stats();
        expect_eq(
            format!(
                "{}: the disk work of the last get (the key directory knows the key is absent)",
                script.so_far()
            ),
            cost(stats),
            cost(Stats::default()),
        )?;
    }
    Ok(())
}

fn put_is_one_append(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let mut store = open(&disk)?;
    let mut script = Script::new();
    let mut log_len = 0;
    for (key, value) in [
        (&b"a"[..], &b"first"[..]),
        (b"b", b"second"),
        (b"a", b"third"),
        (b"a", b"third"),
        (b"c", b""),
    ] {
        disk.reset_stats();
        put(&mut store, &mut script, key, value)?;
        let stats = disk.stats();
        expect(
            stats.writes == 1 && stats.reads == 0 && stats.bytes_written == record_len(key, value),
            format!(
                "{}: expected the last put to cost one write of {} bytes (its record) and no \
                 reads, it cost {} read(s) and {} write(s) of {} byte(s)",
                script.so_far(),
                record_len(key, value),
                stats.reads,
                stats.writes,
                stats.bytes_written
            ),
        )?;
        log_len += record_len(key, value);
        let on_disk = disk.contents(LOG_NAME).map_or(0, |c| c.len() as u64);
        expect_eq(
            format!("{}: the length of {LOG_NAME}", script.so_far()),
            on_disk,
            log_len,
        )?;
    }
    Ok(())
}

fn failed_put(ctx: &mut Ctx) -> CheckResult {
    for fault in [Fault::IoError, Fault::DiskFull] {
        let disk = SimDisk::new(ctx.seed());
        let mut store = open(&disk)?;
        let mut script = Script::new();
        put(&mut store, &mut script, b"a", b"old")?;

        disk.fail_next(OpKind::Write, fault);
        let did = script.did(format!(
            "put(b\"a\", b\"new\") with the disk set to fail the write ({fault:?})"
        ));
        expect(
            store.put(b"a", b"new").is_err(),
            format!("{did}: expected the put to return the disk's error, it returned Ok"),
        )?;
        get(&store, &mut script, b"a", Some(b"old"))?;

        disk.fail_next(OpKind::Write, fault);
        let did = script.did(format!(
            "put(b\"b\", b\"new\") with the disk set to fail the write ({fault:?})"
        ));
        expect(
            store.put(b"b", b"new").is_err(),
            format!("{did}: expected the put to return the disk's error, it returned Ok"),
        )?;
        get(&store, &mut script, b"b", None)?;

        put(&mut store, &mut script, b"b", b"later")?;
        get(&store, &mut script, b"b", Some(b"later"))?;
        get(&store, &mut script, b"a", Some(b"old"))?;
    }
    Ok(())
}

fn reopen_appends(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let mut script = Script::new();
    {
        let mut store = open(&disk)?;
        put(&mut store, &mut script, b"a", b"from the first run")?;
        put(&mut store, &mut script, b"b", b"also")?;
    }
    let before = disk.contents(LOG_NAME).unwrap_or_default();
    script.did("drop the store");
    let did = script.did("Store::open(dir) again");
    let mut store = Store::open(disk.dir())
        .map_err(|e| Failure::new(format!("{did}: the second open failed: {e}")))?;
    put(&mut store, &mut script, b"c", b"from the second run")?;
    get(&store, &mut script, b"c", Some(b"from the second run"))?;
    put(&mut store, &mut script, b"b", b"replaced")?;
    get(&store, &mut script, b"b", Some(b"replaced"))?;

    let after = disk.contents(LOG_NAME).unwrap_or_default();
    let added = record_len(b"c", b"from the second run") + record_len(b"b", b"replaced");
    expect(
        after.len() as u64 == before.len() as u64 + added && after.starts_with(&before),
        format!(
            "{}: expected {LOG_NAME} to keep the first run's {} bytes and grow by {added}; it \
             holds {} bytes{}",
            script.so_far(),
            before.len(),
            after.len(),
            if after.starts_with(&before) {
                ""
            } else {
                ", and the first run's bytes are not at its start"
            }
        ),
    )
}

fn colliding_keys(ctx: &mut Ctx) -> CheckResult {
    // A well-known pair: two different keys, one CRC-32.
    let (first, second) = (&b"plumless"[..], &b"buckeroo"[..]);
    expect_eq(
        "the check's own premise: crc32(b\"plumless\") == crc32(b\"buckeroo\")",
        crc32(first),
        crc32(second),
    )?;
    for (a, b) in [(first, second), (second, first)] {
        let disk = SimDisk::new(ctx.seed());
        let mut store = open(&disk)?;
        let mut script = Script::new();
        put(&mut store, &mut script, a, b"first")?;
        put(&mut store, &mut script, b, b"second")?;
        let did = script.did(format!("get({})", show(a)));
        let got = store.get(a).map_err(|e| e.to_string());
        if got != Ok(Some(b"first".to_vec())) {
            return fail(format!(
                "did:      {did}\nexpected: Ok(Some(b\"first\"))\ngot:      {}\n{} and {} are \
                 different keys with the same CRC-32 ({:#010x}): is the key directory keyed by a \
                 hash of the key, or does get return a record without checking its key?",
                match &got {
                    Ok(Some(v)) => format!("Ok(Some({}))", show(v)),
                    Ok(None) => "Ok(None)".into(),
                    Err(e) => format!("Err({e})"),
                },
                show(a),
                show(b),
                crc32(a)
            ));
        }
        get(&store, &mut script, b, Some(b"second"))?;
    }
    Ok(())
}

/// The kind of error each fault makes an operation fail with.
fn fault_kind(fault: Fault) -> io::ErrorKind {
    match fault {
        Fault::DiskFull => io::ErrorKind::StorageFull,
        Fault::IoError | Fault::SyncLosesData => io::ErrorKind::Other,
    }
}

fn failed_open(ctx: &mut Ctx) -> CheckResult {
    let setup = "Store::open(dir), put(b\"a\", b\"1\"), put(b\"b\", b\"2\"), drop the store";
    let disk = SimDisk::new(ctx.seed());
    {
        let mut store = open(&disk)?;
        let mut script = Script::new();
        put(&mut store, &mut script, b"a", b"1")?;
        put(&mut store, &mut script, b"b", b"2")?;
    }
    let before = disk.contents(LOG_NAME);
    // The operations a clean open makes: each is failed in turn below.
    let golden = FaultDir::new(&disk.fork(), &[]);
    Store::open(golden.dir())
        .map_err(|e| Failure::new(format!("{setup}, Store::open(dir) again: failed: {e}")))?;
    for kind in support::KINDS {
        for n in 1..=golden.count(kind) {
            let faults: &[Fault] = if kind == OpKind::Sync {
                &[Fault::IoError, Fault::DiskFull, Fault::SyncLosesData]
            } else {
                &[Fault::IoError, Fault::DiskFull]
            };
            for &fault in faults {
                let disk = disk.fork();
                let dir = FaultDir::new(&disk, &[]);
                dir.arm(kind, n, fault);
                let result = attempt(|| Store::open(dir.dir()));
                if dir.fired() == 0 {
                    continue;
                }
                let did = format!(
                    "{setup}, Store::open(dir) again, with operation {n} of kind {kind:?} failing \
                     with Fault::{fault:?}"
                );
                let length = |c: &Option<Vec<u8>>| match c {
                    Some(bytes) => format!("{} bytes", bytes.len()),
                    None => "no such file".into(),
                };
                match &result {
                    Ok(_) => {
                        return fail(format!(
                            "did:      {did}\nexpected: Err, the disk's error (only NotFound \
                             means there is no log to open)\ngot:      Ok, and {LOG_NAME} holds \
                             {} (it held {})",
                            length(&disk.contents(LOG_NAME)),
                            length(&before)
                        ));
                    }
                    // The disk's error, perhaps wrapped with some context.
                    Err(e) if e.kind() != fault_kind(fault) && e.kind() != io::ErrorKind::Other => {
                        return fail(format!(
                            "did:      {did}\nexpected: Err of kind {:?}, the disk's error \
                             (only NotFound means there is no log to open)\ngot:      Err of \
                             kind {:?}: {e}",
                            fault_kind(fault),
                            e.kind()
                        ));
                    }
                    Err(_) => {}
                }
                drop(result);
                let after = disk.contents(LOG_NAME);
                expect(
                    after == before,
                    format!(
                        "did:      {did}\nexpected: {LOG_NAME} left as it was ({}): an error \
                         opening a log says nothing about what it holds\ngot:      {LOG_NAME} \
                         now holds {}{}",
                        length(&before),
                        length(&after),
                        if after.as_ref().is_some_and(|a| a.is_empty()) {
                            ": was it removed and created afresh?"
                        } else {
                            ""
                        }
                    ),
                )?;
            }
        }
    }
    Ok(())
}

/// The sweep's handle on the store.
struct Keyed;

impl Subject for Keyed {
    type Store = Store;

    fn open(dir: Arc<dyn Dir>) -> io::Result<Store> {
        Store::open(dir)
    }

    fn apply(store: &mut Store, op: &KvOp) -> io::Result<()> {
        match op {
            KvOp::Put(k, v) => store.put(k, v),
            _ => unreachable!("the keydir scene's workloads only put"),
        }
    }

    fn get(store: &mut Store, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        store.get(key)
    }
}

fn faults_everywhere(ctx: &mut Ctx) -> CheckResult {
    let shape = Shape::PUTS;
    support::faults_everywhere::<Keyed>(ctx, &[], 3, support::workload(9, shape), shape, "")
}
