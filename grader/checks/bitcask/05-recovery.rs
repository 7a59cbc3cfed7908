//! Hidden checks for bitcask/recovery.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use bitcask_recovery::{LOG_NAME, Store};
use judge::prelude::*;
use kit::crash::{self, KvOp, Limits, show};
use kit::disk::Dir;
use kit::sim::SimDisk;

use crate::support::{self, Shape};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "opening a store over an earlier run's log serves every key it held, deletes included",
            reopen_keeps_everything,
        )
        .check(
            "a key deleted before a reopen stays deleted, and can be put again",
            tombstones_survive_reopening,
        )
        .check(
            "sync() makes every put and delete durable: they survive a power failure",
            sync_is_durable,
        )
        .check(
            "a torn or damaged tail is cut off on opening, and writes after it survive the next crash",
            torn_tail_is_cut,
        )
        .check(
            "after recovery, a get of a present key costs one read, of an absent key none",
            one_read_per_get,
        )
        .check(
            "a crash at any I/O step (recovery included) keeps every synced write and serves nothing torn",
            crashes,
        )
        .check(
            "the cut of a torn tail is durable before open returns",
            cut_is_synced,
        )
        .check(
            "a failed write, read, sync or open at any step is reported, and loses nothing acknowledged",
            faults_everywhere,
        )
}

/// The keys the checks write, and one they never write.
const KEYS: [&[u8]; 3] = [b"a", b"b", b"c"];
const NEVER: &[u8] = b"never";

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(KEYS.to_vec()).prop_map(<[u8]>::to_vec)
}

/// Mostly short values, some long enough to cross a 512-byte sector, where crashes tear.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(b'0'..=b'9', 0..4),
        1 => prop::collection::vec(any::<u8>(), 0..600),
    ]
}

fn open(disk: &SimDisk) -> io::Result<Store> {
    let dir: Arc<dyn Dir> = disk.dir();
    Store::open(dir)
}

fn show_value(value: &Option<Vec<u8>>) -> String {
    match value {
        Some(bytes) => format!("Some({})", show(bytes)),
        None => "None".into(),
    }
}

fn list(ops: &[KvOp]) -> String {
    let shown: Vec<String> = ops.iter().map(|op| format!("{op:?}")).collect();
    shown.join(", ")
}

/// Reads every key the checks use, and the one they never write, against `model`.
fn compare(store: &Store, model: &BTreeMap<Vec<u8>, Vec<u8>>, did: &str) -> CheckResult {
    for key in KEYS.iter().copied().chain([NEVER]) {
        let expected = model.get(key).cloned();
        match store.get(key) {
            Ok(got) if got == expected => {}
            Ok(got) => {
                return fail(format!(
                    "did:      {did}\nthen:     get({})\nexpected: {}\ngot:      {}",
                    show(key),
                    show_value(&expected),
                    show_value(&got)
                ));
            }
            Err(error) => {
                return fail(format!(
                    "did:      {did}\nthen:     get({}) failed: {error}\nexpected: {}",
                    show(key),
                    show_value(&expected)
                ));
            }
        }
    }
    Ok(())
}

/// Applies a put, delete or sync to the store and the model.
fn apply(store: &mut Store, model: &mut BTreeMap<Vec<u8>, Vec<u8>>, op: &KvOp) -> io::Result<()> {
    match op {
        KvOp::Put(key, value) => {
            store.put(key, value)?;
            model.insert(key.clone(), value.clone());
        }
        KvOp::Delete(key) => {
            store.delete(key)?;
            model.remove(key);
        }
        KvOp::Sync => store.sync()?,
        KvOp::Maintain | KvOp::Reopen => {}
    }
    Ok(())
}

fn reopen_keeps_everything(ctx: &mut Ctx) -> CheckResult {
    let op = prop_oneof![
        4 => (key(), value()).prop_map(|(k, v)| KvOp::Put(k, v)),
        2 => key().prop_map(KvOp::Delete),
        2 => Just(KvOp::Reopen),
        1 => Just(KvOp::Sync),
    ];
    let seed = ctx.seed();
    ctx.forall_named(&["ops"], 96, prop::collection::vec(op, 1..16), |ops| {
        let disk = SimDisk::new(seed);
        let mut model = BTreeMap::new();
        let mut store = match open(&disk) {
            Ok(store) => store,
            Err(error) => {
                return fail(format!("Store::open on an empty directory failed: {error}"));
            }
        };
        for (i, op) in ops.iter().enumerate() {
            let did = format!("Store::open, {}", list(&ops[..=i]));
            if let KvOp::Reopen = op {
                drop(store);
                store = match open(&disk) {
                    Ok(store) => store,
                    Err(error) => return fail(format!("did: {did}\nthe reopen failed: {error}")),
                };
            } else if let Err(error) = apply(&mut store, &mut model, op) {
                return fail(format!("did: {did}\nthe last op failed: {error}"));
            }
            compare(&store, &model, &did)?;
        }
        Ok(())
    })
}

fn tombstones_survive_reopening(_: &mut Ctx) -> CheckResult {
    let scripts: [&[KvOp]; 4] = [
        &[put("a", "1"), del("a"), KvOp::Reopen],
        &[put("a", "1"), put("b", "2"), del("a"), KvOp::Reopen],
        &[put("a", "1"), del("a"), put("b", "2"), KvOp::Reopen],
        &[put("a", "1"), del("a"), put("a", "2"), KvOp::Reopen],
    ];
    for script in scripts {
        let disk = SimDisk::new(0);
        let mut model = BTreeMap::new();
        let mut store =
            open(&disk).map_err(|e| Failure::new(format!("Store::open failed: {e}")))?;
        for (i, op) in script.iter().enumerate() {
            let did = format!("Store::open, {}", list(&script[..=i]));
            if let KvOp::Reopen = op {
                drop(store);
                store = open(&disk)
                    .map_err(|e| Failure::new(format!("did: {did}\nthe reopen failed: {e}")))?;
            } else {
                apply(&mut store, &mut model, op)
                    .map_err(|e| Failure::new(format!("did: {did}\nthe last op failed: {e}")))?;
            }
        }
        // Once more, so that a store that only gets the first reopen right is caught too.
        drop(store);
        let store =
            open(&disk).map_err(|e| Failure::new(format!("the second reopen failed: {e}")))?;
        let did = format!("Store::open, {}, reopen()", list(script));
        compare(&store, &model, &did)?;
    }
    Ok(())
}

fn put(key: &str, value: &str) -> KvOp {
    KvOp::Put(key.as_bytes().to_vec(), value.as_bytes().to_vec())
}

fn del(key: &str) -> KvOp {
    KvOp::Delete(key.as_bytes().to_vec())
}

fn sync_is_durable(ctx: &mut Ctx) -> CheckResult {
    let op = prop_oneof![
        3 => (key(), value()).prop_map(|(k, v)| KvOp::Put(k, v)),
        1 => key().prop_map(KvOp::Delete),
    ];
    let seed = ctx.seed();
    ctx.forall_named(&["ops"], 48, prop::collection::vec(op, 1..8), |ops| {
        let disk = SimDisk::new(seed);
        let mut model = BTreeMap::new();
        let mut store = open(&disk).map_err(|e| Failure::new(format!("Store::open failed: {e}")))?;
        for op in ops.iter().chain([&KvOp::Sync]) {
            apply(&mut store, &mut model, op).map_err(|e| {
                Failure::new(format!("did: Store::open, {}, sync()\n{op:?} failed: {e}", list(&ops)))
            })?;
        }
        let did = format!("Store::open, {}, sync()", list(&ops));
        for file in disk.files() {
            expect(
                file.len == file.durable_len,
                format!(
                    "did:      {did}\nexpected: all of {:?} durable ({} bytes)\ngot:      only {} bytes \
                     of it would survive a power failure",
                    file.name, file.len, file.durable_len
                ),
            )?;
        }
        disk.crash();
        drop(store);
        disk.restart();
        let store = open(&disk).map_err(|e| {
            Failure::new(format!("did: {did}, power failure\nrecovery failed: {e}"))
        })?;
        compare(&store, &model, &format!("{did}, power failure, Store::open"))
    })
}

/// What a crash may leave after the last whole record.
#[derive(Debug, Clone)]
enum Tail {
    /// The first `keep` bytes of a record: a write cut short.
    Cut { keep: usize },
    /// A whole record with one byte damaged.
    Flipped { at: usize, mask: u8 },
    /// Sectors that never made it and read back as zeros.
    Zeros(usize),
    /// Sectors that read back as garbage.
    Garbage(Vec<u8>),
}

fn torn_tail_is_cut(ctx: &mut Ctx) -> CheckResult {
    let tail = prop_oneof![
        (1usize..200).prop_map(|keep| Tail::Cut { keep }),
        (0usize..200, 1u8..=255).prop_map(|(at, mask)| Tail::Flipped { at, mask }),
        (1usize..600).prop_map(Tail::Zeros),
        prop::collection::vec(any::<u8>(), 1..600).prop_map(Tail::Garbage),
    ];
    let put_op = || (key(), value()).prop_map(|(k, v)| KvOp::Put(k, v));
    let writes = prop::collection::vec(put_op(), 0..5);
    let seed = ctx.seed();
    ctx.forall_named(&["writes", "torn", "tail"], 96, (writes, put_op(), tail), |(writes, torn, tail)| {
        let KvOp::Put(torn_key, torn_value) = &torn else {
            return Ok(());
        };
        // The bytes of the record the crash tore, as this store writes them.
        let scratch = SimDisk::new(seed);
        let mut store =
            open(&scratch).map_err(|e| Failure::new(format!("Store::open failed: {e}")))?;
        store
            .put(torn_key, torn_value)
            .map_err(|e| Failure::new(format!("{torn:?} failed: {e}")))?;
        drop(store);
        let record = scratch.contents(LOG_NAME).unwrap_or_default();
        if record.is_empty() {
            return fail(format!(
                "did:      Store::open, {torn:?} on an empty directory\nexpected: a file \
                     {LOG_NAME:?} holding the record\ngot:      {:?}",
                scratch.files()
            ));
        }
        let bytes = match &tail {
            Tail::Cut { keep } => record[..1 + keep % (record.len() - 1)].to_vec(),
            Tail::Flipped { at, mask } => {
                let mut bytes = record.clone();
                bytes[at % record.len()] ^= mask;
                bytes
            }
            Tail::Zeros(n) => vec![0; *n],
            Tail::Garbage(bytes) => bytes.clone(),
        };
        if bytes.is_empty() {
            return Ok(());
        }

        let disk = SimDisk::new(seed);
        let mut model = BTreeMap::new();
        let mut store =
            open(&disk).map_err(|e| Failure::new(format!("Store::open failed: {e}")))?;
        let mut ops = writes;
        ops.push(KvOp::Sync);
        for op in &ops {
            apply(&mut store, &mut model, op)
                .map_err(|e| Failure::new(format!("{op:?} failed: {e}")))?;
        }
        drop(store);
        let valid_len = disk.contents(LOG_NAME).map_or(0, |log| log.len() as u64);
        let damage = match &tail {
            Tail::Cut { .. } => format!(
                "the first {} of the {} bytes of {torn:?}",
                bytes.len(),
                record.len()
            ),
            Tail::Flipped { .. } => format!(
                "the {} bytes of {torn:?} with byte {} damaged",
                record.len(),
                record
                    .iter()
                    .zip(&bytes)
                    .position(|(a, b)| a != b)
                    .unwrap_or(0)
            ),
            Tail::Zeros(n) => format!("{n} zero bytes"),
            Tail::Garbage(garbage) => format!("{} bytes of garbage", garbage.len()),
        };
        disk.corrupt(LOG_NAME, valid_len, &bytes)
            .map_err(|e| Failure::new(format!("the log is missing: {e}")))?;
        let did = format!(
            "Store::open, {}, then a crash left {damage} after the last whole record \
                 (at byte {valid_len} of the log), then Store::open",
            list(&ops)
        );

        let mut store = open(&disk)
            .map_err(|e| Failure::new(format!("did: {did}\nStore::open failed: {e}")))?;
        compare(&store, &model, &did)?;
        let len = disk.contents(LOG_NAME).map_or(0, |log| log.len() as u64);
        expect(
            len == valid_len,
            format!(
                "did:      {did}\nexpected: the log cut back to the {valid_len} bytes of \
                     whole records\ngot:      a log of {len} bytes"
            ),
        )?;

        let after = put("after", "ok");
        for op in [&after, &KvOp::Sync] {
            apply(&mut store, &mut model, op)
                .map_err(|e| Failure::new(format!("did: {did}, then {op:?}\nit failed: {e}")))?;
        }
        drop(store);
        disk.crash();
        disk.restart();
        let did = format!("{did}, {after:?}, sync(), power failure, Store::open");
        let store =
            open(&disk).map_err(|e| Failure::new(format!("did: {did}\nrecovery failed: {e}")))?;
        compare(&store, &model, &did)?;
        let got = store.get(b"after").ok().flatten();
        expect(
            got.as_deref() == Some(b"ok".as_slice()),
            format!(
                "did:      {did}\nthen:     get(\"after\")\nexpected: Some(\"ok\")\ngot:      {}",
                show_value(&got)
            ),
        )
    })
}

fn one_read_per_get(ctx: &mut Ctx) -> CheckResult {
    let op = prop_oneof![
        3 => (key(), value()).prop_map(|(k, v)| KvOp::Put(k, v)),
        1 => key().prop_map(KvOp::Delete),
    ];
    let seed = ctx.seed();
    ctx.forall_named(&["ops"], 32, prop::collection::vec(op, 1..10), |ops| {
        let disk = SimDisk::new(seed);
        let mut model = BTreeMap::new();
        let mut store =
            open(&disk).map_err(|e| Failure::new(format!("Store::open failed: {e}")))?;
        for op in &ops {
            apply(&mut store, &mut model, op)
                .map_err(|e| Failure::new(format!("{op:?} failed: {e}")))?;
        }
        drop(store);
        let store = open(&disk).map_err(|e| Failure::new(format!("reopen failed: {e}")))?;
        let did = format!("Store::open, {}, reopen()", list(&ops));
        compare(&store, &model, &did)?;
        for key in KEYS.iter().copied().chain([NEVER]) {
            disk.reset_stats();
            let got = store.get(key).map_err(|e| {
                Failure::new(format!("did: {did}\nthen get({}) failed: {e}", show(key)))
            })?;
            let reads = disk.stats().reads;
            let expected = u64::from(model.contains_key(key));
            expect(
                reads == expected,
                format!(
                    "did:      {did}\nthen:     get({}), which returned {}\nexpected: {expected} \
                     disk read(s)\ngot:      {reads}",
                    show(key),
                    show_value(&got)
                ),
            )?;
        }
        Ok(())
    })
}

/// The crash driver's handle on the store.
struct Recovery;

impl crash::Subject for Recovery {
    type Store = Store;

    fn open(dir: Arc<dyn Dir>) -> io::Result<Store> {
        Store::open(dir)
    }

    fn apply(store: &mut Store, op: &KvOp) -> io::Result<()> {
        match op {
            KvOp::Put(key, value) => store.put(key, value),
            KvOp::Delete(key) => store.delete(key),
            KvOp::Sync => store.sync(),
            KvOp::Maintain | KvOp::Reopen => Ok(()),
        }
    }

    fn get(store: &mut Store, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        store.get(key)
    }
}

fn crashes(ctx: &mut Ctx) -> CheckResult {
    let op = prop_oneof![
        4 => (key(), value()).prop_map(|(k, v)| KvOp::Put(k, v)),
        1 => key().prop_map(KvOp::Delete),
        2 => Just(KvOp::Sync),
        1 => Just(KvOp::Reopen),
    ];
    let seed = ctx.seed();
    let limits = Limits {
        crash_points: 64,
        crash_during_recovery: true,
        // Name operations a directory sync has not ordered may survive in any subset.
        profile: kit::sim::Profile::HARSH,
    };
    ctx.forall_named(&["ops"], 64, prop::collection::vec(op, 1..13), |ops| {
        crash::check::<Recovery>(seed, &ops, &[NEVER.to_vec()], limits)
            .map(|_| ())
            .map_err(|failure| Failure::new(failure.message))
    })
}

fn cut_is_synced(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let mut store = open(&disk).map_err(|e| Failure::new(format!("Store::open failed: {e}")))?;
    let mut did = vec![
        "Store::open".to_string(),
        "put(\"a\", \"1\")".into(),
        "sync()".into(),
    ];
    store
        .put(b"a", b"1")
        .and_then(|()| store.sync())
        .map_err(|e| Failure::new(format!("{}: {e}", did.join(", "))))?;
    drop(store);
    let good = disk.contents(LOG_NAME).unwrap_or_default().len() as u64;
    // Half a record, durable (a crash wrote it out, and a later run must not trip on it).
    let torn = [0x55u8; 9];
    let file = disk.dir().open(LOG_NAME).and_then(|file| {
        file.append(&torn)?;
        file.sync()?;
        Ok(file)
    });
    file.map_err(|e| Failure::new(format!("writing a torn tail failed: {e}")))?;
    did.push(format!(
        "drop the store; {} bytes of a torn record after the log's {good}, durable; Store::open",
        torn.len()
    ));
    ctx.doing(did.join(", "));
    let store = open(&disk).map_err(|e| Failure::new(format!("{}: {e}", did.join(", "))))?;
    let view = disk.files().into_iter().find(|f| f.name == LOG_NAME);
    let Some(view) = view else {
        return fail(format!("{}: {LOG_NAME} is gone", did.join(", ")));
    };
    expect_eq(
        format!("{}: the length of {LOG_NAME}", did.join(", ")),
        view.len,
        good,
    )?;
    expect(
        view.durable_len == good,
        format!(
            "did:      {}\nexpected: open to cut the log to {good} bytes and sync the cut before \
             returning\ngot:      the log is {good} bytes, but only as far as the cache knows: a \
             crash now would bring back {} bytes, torn tail and all",
            did.join(", "),
            view.durable_len
        ),
    )?;
    drop(store);
    Ok(())
}

fn faults_everywhere(ctx: &mut Ctx) -> CheckResult {
    let shape = Shape::RECOVERS;
    support::faults_everywhere::<Recovery>(ctx, &[], 3, support::workload(7, shape), shape, "")
}
