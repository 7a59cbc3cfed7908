//! Hidden checks for lsm/recovery.

use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, ErrorKind};
use std::sync::Arc;

use judge::prelude::*;
use kit::crash::{self, KvOp, Limits};
use kit::disk::Dir;
use kit::fault::{Aim, FaultDir, attempt};
use kit::sim::{OpKind, Profile, SimDisk};
use lsm_recovery::{Db, Options, TableInfo};

use crate::support::{
    Answer, DbOptions, DbTable, KINDS, MANIFEST_NAME, ManifestRecord, Model, Script, Step,
    check_disk, delete, expect_answer, expect_layout, expect_rebuilt, faults_for, framed, get,
    io_failure, manifest_body, no_panic, ordinal, parse_manifest, put, rebuild, scan_all,
    state_text, step, table_file, table_options, wal_file,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a database closed and opened again holds every write and the same tables, and goes \
             on where it was: the same log, seqs after the last, the next file number",
            reopen_goes_on,
        )
        .check(
            "puts, deletes, gets, scans, flushes, reopens and crashes in any order agree with a \
             BTreeMap (every write is synced: a crash loses none), and the disk holds exactly the \
             MANIFEST, the log and the tables a model says",
            agrees_with_model,
        )
        .check(
            "a crash at any I/O step of writes, flushes and reopens, and again during the \
             recovery after it, loses no acknowledged write, brings back nothing else, and the \
             database works on",
            crash_everywhere,
        )
        .check(
            "after a crash in a flush, open removes every file the MANIFEST's last record does \
             not name (the flush's table, its new log, a log already flushed), and the next \
             flush, taking the same numbers again, works",
            orphans_removed,
        )
        .check(
            "a MANIFEST whose last record is torn or zeroed: open cuts it off, durably, and the \
             next record is found after the next power cycle",
            torn_manifest,
        )
        .check(
            "a directory whose MANIFEST has no whole record, or that has no MANIFEST (the first \
             open crashed), opens as a new, empty database, whatever files that open left",
            unborn_database,
        )
        .check(
            "a damaged MANIFEST record with a whole record after it is InvalidData; a table or \
             log the last record names that is missing is an error; never a panic",
            damage_is_an_error,
        )
        .check(
            "a whole MANIFEST record (its crc right) whose body does not decode (a table on a \
             level other than 0, bytes after its last table, a body cut short) is InvalidData, \
             last or alone, and the directory is left as it was: not cut as a torn tail",
            undecodable_record,
        )
        .check(
            "a log batch of several ops is replayed with op i at seq batch.seq + i: last_seq() \
             is the last op's, and the next write takes the seq after it",
            batch_replayed_in_order,
        )
        .check(
            "every I/O operation of a recovery failed in turn (a removal's too): open returns \
             an error, never a panic nor a wrong answer, and the next open, with the disk well, \
             recovers everything",
            faults_in_recovery,
        )
}

/// The scene's options, as the model takes them.
fn ours(options: Options) -> DbOptions {
    DbOptions {
        memtable_bytes: options.memtable_bytes,
        block_size: options.block_size,
        restart_interval: options.restart_interval,
    }
}

/// `tables()`, as the model lists them.
fn tables_of(db: &Db) -> Vec<DbTable> {
    db.tables()
        .into_iter()
        .map(|t: TableInfo| DbTable {
            number: t.number,
            size: t.size,
            first_key: t.first_key,
            last_key: t.last_key,
        })
        .collect()
}

/// A call on the database: a step of the flush scene's, or closing it and opening it again.
#[derive(Clone, PartialEq, Eq)]
enum Call {
    Step(Step),
    Reopen,
    /// The power fails, losing everything unsynced, and the database is opened again.
    Crash,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Step(step) => step.fmt(f),
            Call::Reopen => write!(f, "reopen()"),
            Call::Crash => write!(f, "crash(), reopen()"),
        }
    }
}

fn any_call() -> impl Strategy<Value = Call> {
    prop_oneof![
        12 => step().prop_map(Call::Step),
        2 => Just(Call::Reopen),
        1 => Just(Call::Crash),
    ]
}

fn options() -> impl Strategy<Value = Options> {
    let memtable = prop_oneof![2 => Just(usize::MAX), 3 => 0..80usize];
    let block = prop_oneof![Just(1usize), 2..120usize, Just(4096)];
    (memtable, block).prop_map(|(memtable_bytes, block_size)| Options {
        memtable_bytes,
        block_size,
        restart_interval: 2,
    })
}

fn opened(dir: Arc<dyn Dir>, options: Options, did: &str) -> Result<Db, Failure> {
    Db::open(dir, options).map_err(|e| io_failure(did, e))
}

/// Makes `what` on the database and the model and compares what it returned; after a write, a
/// flush, a reopen or a crash, `tables()` and `last_seq()` too.
fn call_both(
    disk: &SimDisk,
    db: &mut Db,
    model: &mut Model,
    what: &Call,
    script: &mut Script,
) -> CheckResult {
    let did = script.did(format!("{what:?}"));
    match what {
        Call::Reopen => {
            disk.reset_stats();
            *db = opened(disk.dir(), db_options(model), &did)?;
            let stats = disk.stats();
            let (writes, syncs) = (stats.writes, stats.syncs + stats.dir_syncs);
            expect(
                writes == 0 && syncs == 0,
                format!(
                    "did:      {did}, counting the disk's writes and syncs\nexpected: none: the \
                     database was closed cleanly, with no torn edit to cut and no orphan to \
                     remove, and recovery only reads\ngot:      {writes} writes and {syncs} syncs"
                ),
            )?;
        }
        Call::Crash => {
            disk.crash();
            disk.restart_losing_unsynced();
            *db = opened(disk.dir(), db_options(model), &did)?;
        }
        Call::Step(step) => {
            let got = call(db, step).map_err(|e| io_failure(&did, e))?;
            expect_answer(&did, &got, &model.answer(step))?;
            if got != Answer::Done {
                return Ok(());
            }
            let note = model.flush_note(step);
            model.apply(step);
            return expect_layout(&did, model, &tables_of(db), db.last_seq(), &note);
        }
    }
    expect_layout(&did, model, &tables_of(db), db.last_seq(), "")
}

/// Makes `step` on the database: what it returned.
fn call(db: &mut Db, step: &Step) -> io::Result<Answer> {
    Ok(match step {
        Step::Put(key, value) => db.put(key, value).map(|()| Answer::Done)?,
        Step::Delete(key) => db.delete(key).map(|()| Answer::Done)?,
        Step::Flush => db.flush().map(|()| Answer::Done)?,
        Step::Get(key) => Answer::Value(db.get(key)?),
        Step::Scan(from, to, limit) => Answer::Pairs(db.scan(from, to.as_deref(), *limit)?),
    })
}

fn db_options(model: &Model) -> Options {
    Options {
        memtable_bytes: model.options.memtable_bytes,
        block_size: model.options.block_size,
        restart_interval: model.options.restart_interval,
    }
}

fn run_model(seed: u64, options: Options, calls: &[Call]) -> CheckResult {
    let disk = SimDisk::new(seed);
    let mut script = Script::open(&options);
    let mut db = opened(disk.dir(), options, &script.so_far())?;
    let mut model = Model::new(ours(options));
    for call in calls {
        call_both(&disk, &mut db, &mut model, call, &mut script)?;
    }
    check_disk(&disk, &model, &script.so_far())
}

fn plain(step: Step) -> Call {
    Call::Step(step)
}

// ---------------------------------------------------------------------------------------------
// Behaviour.

fn reopen_goes_on(ctx: &mut Ctx) -> CheckResult {
    let options = Options {
        memtable_bytes: usize::MAX,
        block_size: 48,
        restart_interval: 2,
    };
    let calls = vec![
        // A new database, reopened before any write.
        Call::Reopen,
        plain(put("a", b"1")),
        plain(delete("b")),
        Call::Reopen,
        plain(get("a")),
        plain(put("c", b"2")),
        plain(Step::Flush),
        Call::Reopen,
        plain(get("c")),
        plain(put("a", b"3")),
        plain(delete("c")),
        Call::Reopen,
        Call::Reopen,
        plain(get("a")),
        plain(get("c")),
        plain(scan_all()),
        plain(Step::Flush),
        plain(put("d", b"4")),
        Call::Reopen,
        plain(Step::Flush),
        Call::Reopen,
        plain(scan_all()),
    ];
    run_model(ctx.seed(), options, &calls)
}

fn agrees_with_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["options", "calls"],
        64,
        (options(), prop::collection::vec(any_call(), 0..30)),
        |(options, calls)| run_model(seed, options, &calls),
    )
}

// ---------------------------------------------------------------------------------------------
// Crashes.

/// The options the crash checks open the database with: a small memtable, so that writes
/// flush on their own, and small blocks.
const CRASH_OPTIONS: Options = Options {
    memtable_bytes: 48,
    block_size: 64,
    restart_interval: 2,
};

/// The crash driver's handle on the database: every write is synced, and maintenance is a
/// flush.
struct Recovering;

impl crash::Subject for Recovering {
    type Store = Db;

    fn open(dir: Arc<dyn Dir>) -> io::Result<Db> {
        Db::open(dir, CRASH_OPTIONS)
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

fn crash_check(seed: u64, ops: &[KvOp], crash_points: u64) -> CheckResult {
    let probes = vec![b"never written".to_vec(), b"zz".to_vec()];
    let limits = Limits {
        crash_points,
        crash_during_recovery: true,
        profile: Profile::HARSH,
    };
    crash::check::<Recovering>(seed, ops, &probes, limits)
        .map(drop)
        .map_err(|failure| {
            Failure::new(format!(
                "opened with {CRASH_OPTIONS:?}; maintain() is flush(), sync() does nothing (every \
                 write is synced)\n{failure}"
            ))
        })
}

fn crash_everywhere(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let big = vec![b'x'; 1500];
    let p = |k: &str, v: &[u8]| KvOp::Put(k.as_bytes().to_vec(), v.to_vec());
    let scripted = vec![
        p("a", b"1"),
        p("b", &big),
        KvOp::Delete(b"a".to_vec()),
        KvOp::Maintain,
        p("c", b"2"),
        KvOp::Reopen,
        p("a", b"3"),
        p("d", b"4"),
        p("e", b"5"),
        KvOp::Delete(b"c".to_vec()),
        KvOp::Reopen,
        p("b", b"6"),
        KvOp::Maintain,
        p("f", b"7"),
    ];
    crash_check(seed, &scripted, 40)?;
    let key = prop::sample::select(vec![
        b"a".to_vec(),
        b"b".to_vec(),
        b"c".to_vec(),
        Vec::new(),
    ]);
    let value = prop_oneof![
        6 => prop::collection::vec(b'a'..=b'z', 0..8),
        1 => Just(vec![b'v'; 700]),
    ];
    let op = prop_oneof![
        5 => (key.clone(), value).prop_map(|(k, v)| KvOp::Put(k, v)),
        2 => key.prop_map(KvOp::Delete),
        1 => Just(KvOp::Maintain),
        1 => Just(KvOp::Reopen),
    ];
    ctx.forall_named(&["ops"], 6, prop::collection::vec(op, 1..14), |ops| {
        crash_check(seed, &ops, 16)
    })
}

/// The names in the directory.
fn names(disk: &SimDisk) -> BTreeSet<String> {
    disk.files().into_iter().map(|f| f.name).collect()
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

fn orphans_removed(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = Options {
        memtable_bytes: usize::MAX,
        block_size: 64,
        restart_interval: 2,
    };
    let before = [put("a", b"1"), put("b", b"2"), Step::Flush, put("c", b"3")];
    // Where the second flush's steps start and end.
    let golden = SimDisk::new(seed);
    let mut script = Script::open(&options);
    let mut db = opened(golden.dir(), options, &script.so_far())?;
    let mut model = Model::new(ours(options));
    for s in &before {
        call_both(&golden, &mut db, &mut model, &plain(s.clone()), &mut script)?;
    }
    let first = golden.steps() + 1;
    call_both(
        &golden,
        &mut db,
        &mut model,
        &plain(Step::Flush),
        &mut script,
    )?;
    let last = golden.steps();
    drop(db);

    for at in first..=last {
        for losing in [false, true] {
            let disk = SimDisk::with_profile(seed ^ at, Profile::HARSH);
            let mut db = Db::open(disk.dir(), options).map_err(|e| io_failure("open", e))?;
            for s in &before {
                call(&mut db, s).map_err(|e| io_failure(&script.so_far(), e))?;
            }
            disk.crash_at_step(at);
            let _ = attempt(|| db.flush());
            drop(db);
            let aftermath = if losing {
                disk.restart_losing_unsynced();
                "every unsynced write and name operation was lost".to_string()
            } else {
                disk.restart_disk_only().to_string()
            };
            let mut did = format!(
                "Db::open(dir, {options:?}), put(\"a\", \"1\"), put(\"b\", \"2\"), flush(), \
                 put(\"c\", \"3\"), flush(): the power failed at step {} of that flush's {}; on \
                 restart {aftermath}; the directory held {:?}; Db::open(dir, ..)",
                at - first + 1,
                last - first + 1,
                names(&disk)
            );
            let mut db = opened(disk.dir(), options, &did)?;
            let expected = named(&disk);
            let got = names(&disk);
            if got != expected {
                return fail(format!(
                    "did:      {did}, then listed the directory\nexpected: {expected:?} (the \
                     MANIFEST, and what its last record names: every other file is an orphan, \
                     and open removes it)\ngot:      {got:?}"
                ));
            }
            for (key, value) in [("a", "1"), ("b", "2"), ("c", "3")] {
                did.push_str(&format!(", get({key:?})"));
                let got = db.get(key.as_bytes()).map_err(|e| io_failure(&did, e))?;
                expect_eq(
                    &did,
                    got.map(|v| String::from_utf8_lossy(&v).into_owned()),
                    Some(value.to_string()),
                )?;
            }
            // The next flush takes the numbers the failed one took: its files must be gone.
            did.push_str(", put(\"d\", \"4\"), flush()");
            db.put(b"d", b"4")
                .and_then(|()| db.flush())
                .map_err(|e| io_failure(&did, e))?;
            drop(db);
            disk.restart_losing_unsynced();
            did.push_str(", then the power failed, losing what was unsynced");
            let state = rebuild(|name| disk.contents(name), table_options(ours(options)))
                .map_err(|why| Failure::new(format!("did:      {did}\ngot:      {why}")))?
                .unwrap_or_default();
            let expected: Vec<(&str, &str)> = vec![("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")];
            let expected = expected
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect();
            if state != expected {
                return fail(format!(
                    "did:      {did}\nexpected: the MANIFEST, tables and log to rebuild {}\ngot:      \
                     {}",
                    state_text(&expected),
                    state_text(&state)
                ));
            }
        }
    }
    Ok(())
}

/// A database of three MANIFEST records and a log of two writes, closed.
fn three_records(seed: u64, options: Options) -> Result<(SimDisk, Model, Script), Failure> {
    let disk = SimDisk::new(seed);
    let mut script = Script::open(&options);
    let mut db = opened(disk.dir(), options, &script.so_far())?;
    let mut model = Model::new(ours(options));
    for s in [
        put("a", b"1"),
        Step::Flush,
        put("b", b"2"),
        delete("a"),
        Step::Flush,
        put("c", b"3"),
        put("a", b"4"),
    ] {
        call_both(&disk, &mut db, &mut model, &plain(s), &mut script)?;
    }
    Ok((disk, model, script))
}

fn torn_manifest(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = Options {
        memtable_bytes: usize::MAX,
        block_size: 64,
        restart_interval: 2,
    };
    let next = framed(&manifest_body(&ManifestRecord {
        last_seq: 9,
        next_file: 9,
        wal: 9,
        tables: Vec::new(),
    }));
    let tails: Vec<(String, Vec<u8>)> = vec![
        ("the first 5 bytes of a record".into(), next[..5].to_vec()),
        (
            "a record but its last byte".into(),
            next[..next.len() - 1].to_vec(),
        ),
        ("8 zero bytes".into(), vec![0; 8]),
        ("600 zero bytes".into(), vec![0; 600]),
    ];
    for (what, tail) in tails {
        let (disk, mut model, mut script) = three_records(seed, options)?;
        let whole = disk.contents(MANIFEST_NAME).unwrap_or_default().len() as u64;
        let dir = disk.dir();
        let file = dir
            .open(MANIFEST_NAME)
            .map_err(|e| io_failure("setup", e))?;
        file.append(&tail)
            .and_then(|_| file.sync())
            .map_err(|e| io_failure("setup", e))?;
        let did = script.did(format!(
            "close, {what} appended to the MANIFEST (a torn edit), Db::open(dir, ..)"
        ));
        let mut db = opened(disk.dir(), options, &did)?;
        let view = disk
            .files()
            .into_iter()
            .find(|f| f.name == MANIFEST_NAME)
            .expect("the MANIFEST is there");
        expect(
            view.len == whole && view.durable_len == whole,
            format!(
                "did:      {did}, then looked at the MANIFEST\nexpected: cut back to its {whole} \
                 bytes of whole records, and the cut synced (the next record must not land \
                 after garbage)\ngot:      {} bytes, {} of them durable",
                view.len, view.durable_len
            ),
        )?;
        for s in [get("a"), get("c"), put("d", b"5"), Step::Flush, scan_all()] {
            call_both(&disk, &mut db, &mut model, &plain(s), &mut script)?;
        }
        drop(db);
        disk.restart_losing_unsynced();
        let did = script.did("the power failed, Db::open(dir, ..)");
        let mut db = opened(disk.dir(), options, &did)?;
        for s in [get("d"), scan_all()] {
            call_both(&disk, &mut db, &mut model, &plain(s), &mut script)?;
        }
        let got = tables_of(&db);
        expect_eq(format!("{}, tables()", script.so_far()), got, model.infos())?;
        check_disk(&disk, &model, &script.so_far())?;
    }
    Ok(())
}

fn unborn_database(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = Options::default();
    type Files = Vec<(&'static str, Vec<u8>)>;
    let leftovers: Vec<(&str, Files)> = vec![
        ("an empty MANIFEST", vec![(MANIFEST_NAME, Vec::new())]),
        (
            "000001.log and a MANIFEST of 20 zero bytes",
            vec![("000001.log", Vec::new()), (MANIFEST_NAME, vec![0; 20])],
        ),
        ("000001.log alone", vec![("000001.log", Vec::new())]),
    ];
    for (what, files) in leftovers {
        let disk = SimDisk::new(seed);
        let dir = disk.dir();
        for (name, bytes) in &files {
            let file = dir.create(name).map_err(|e| io_failure("setup", e))?;
            if !bytes.is_empty() {
                file.append(bytes).map_err(|e| io_failure("setup", e))?;
            }
            file.sync().map_err(|e| io_failure("setup", e))?;
        }
        dir.sync().map_err(|e| io_failure("setup", e))?;
        let mut script = Script(vec![format!(
            "a directory holding {what}, Db::open(dir, {options:?})"
        )]);
        let mut db = opened(disk.dir(), options, &script.so_far())?;
        let mut model = Model::new(ours(options));
        check_disk(&disk, &model, &script.so_far())?;
        for s in [get("a"), put("a", b"1"), Step::Flush, get("a")] {
            call_both(&disk, &mut db, &mut model, &plain(s), &mut script)?;
        }
        check_disk(&disk, &model, &script.so_far())?;
    }
    Ok(())
}

fn damage_is_an_error(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = Options {
        memtable_bytes: usize::MAX,
        block_size: 64,
        restart_interval: 2,
    };
    // A byte of every record but the last, flipped: the records after it are whole.
    let (disk, _, script) = three_records(seed, options)?;
    let manifest = disk.contents(MANIFEST_NAME).unwrap_or_default();
    let (records, _) = parse_manifest(&manifest).map_err(Failure::new)?;
    let mut at = 0usize;
    for (r, record) in records.iter().enumerate().take(records.len() - 1) {
        let len = framed(&manifest_body(record)).len();
        for offset in [at, at + 4, at + 8, at + len - 1] {
            let damaged = disk.fork();
            let byte = manifest[offset] ^ 0x20;
            damaged
                .corrupt(MANIFEST_NAME, offset as u64, &[byte])
                .map_err(|e| io_failure("setup", e))?;
            let did = format!(
                "{}, close, then flipped a bit of MANIFEST record {r} (of {}) at byte {offset}, \
                 Db::open(dir, ..)",
                script.so_far(),
                records.len()
            );
            match attempt(|| Db::open(damaged.dir(), options)) {
                Err(error) if error.kind() == ErrorKind::InvalidData => {}
                Err(error) => {
                    no_panic(&did, &error)?;
                    return fail(format!(
                        "did:      {did}\nexpected: Err(InvalidData): a whole record follows the \
                         damaged one, so the damage is not a torn edit\ngot:      Err({:?}): \
                         {error}",
                        error.kind()
                    ));
                }
                Ok(_) => {
                    return fail(format!(
                        "did:      {did}\nexpected: Err(InvalidData): a whole record follows the \
                         damaged one, so the damage is not a torn edit (cutting there would \
                         throw away the records after it)\ngot:      Ok"
                    ));
                }
            }
        }
        at += len;
    }
    // A stray byte before the last record: the record after it is whole, one byte on.
    let first = manifest.len() - framed(&manifest_body(&records[records.len() - 1])).len();
    let stray = [&manifest[..first], &[0xA5], &manifest[first..]].concat();
    let damaged = disk.fork();
    let dir = damaged.dir();
    let rewrite = || -> io::Result<()> {
        dir.remove(MANIFEST_NAME)?;
        let file = dir.create(MANIFEST_NAME)?;
        file.append(&stray)?;
        file.sync()?;
        dir.sync()
    };
    rewrite().map_err(|e| io_failure("setup", e))?;
    let did = format!(
        "{}, close, then put a stray byte 0xA5 before the last of the MANIFEST's {} records \
         (at byte {first}), Db::open(dir, ..)",
        script.so_far(),
        records.len()
    );
    match attempt(|| Db::open(damaged.dir(), options)) {
        Err(error) if error.kind() == ErrorKind::InvalidData => {}
        other => {
            let got = match other {
                Ok(_) => "Ok".to_string(),
                Err(error) => {
                    no_panic(&did, &error)?;
                    format!("Err({:?}): {error}", error.kind())
                }
            };
            return fail(format!(
                "did:      {did}\nexpected: Err(InvalidData): whole records follow the stray \
                 byte, one byte on from where the next record was looked for (look at every \
                 offset)\ngot:      {got}"
            ));
        }
    }

    // A table or the log that the last record names, gone.
    let last = records.last().expect("three records");
    let mut gone = vec![wal_file(last.wal)];
    gone.extend(last.tables.iter().map(|t| table_file(t.number)));
    for name in gone {
        let damaged = disk.fork();
        damaged
            .dir()
            .remove(&name)
            .map_err(|e| io_failure("setup", e))?;
        let did = format!(
            "{}, close, then removed {name}, Db::open(dir, ..)",
            script.so_far()
        );
        match attempt(|| Db::open(damaged.dir(), options)) {
            Err(error) => no_panic(&did, &error)?,
            Ok(_) => {
                return fail(format!(
                    "did:      {did}\nexpected: an error: the MANIFEST names {name}, and without \
                     it writes are lost\ngot:      Ok"
                ));
            }
        }
    }
    Ok(())
}

/// A closed database whose recovery has every kind of work to do: tables and a log to open and
/// replay, a torn MANIFEST tail to cut, and an orphan table and an old log to remove.
fn messy(seed: u64, options: Options) -> Result<(SimDisk, Model, Script), Failure> {
    let (disk, model, mut script) = three_records(seed, options)?;
    let dir = disk.dir();
    let setup = || -> io::Result<()> {
        let manifest = dir.open(MANIFEST_NAME)?;
        manifest.append(&[0; 7])?;
        manifest.sync()?;
        for name in [table_file(model.next_file), wal_file(1)] {
            let file = dir.create(&name)?;
            file.append(b"left behind")?;
            file.sync()?;
        }
        dir.sync()
    };
    setup().map_err(|e| io_failure("setup", e))?;
    script.0.push(format!(
        "close, 7 zero bytes appended to the MANIFEST, {} and {} left in the directory",
        table_file(model.next_file),
        wal_file(1)
    ));
    Ok((disk, model, script))
}

fn faults_in_recovery(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = Options {
        memtable_bytes: usize::MAX,
        block_size: 64,
        restart_interval: 2,
    };
    let (disk, model, script) = messy(seed, options)?;
    let counter = FaultDir::new(&disk.fork(), &[]);
    let probe = counter.dir();
    drop(opened(probe, options, &script.so_far())?);
    let mut kinds = KINDS.to_vec();
    kinds.extend([OpKind::Remove, OpKind::List]);
    for kind in kinds {
        for n in 1..=counter.count(kind) {
            for fault in faults_for(kind) {
                let trial = disk.fork_reseeded(seed ^ n);
                let faults = FaultDir::new(&trial, &[Aim { kind, n, fault }]);
                let mut did = format!(
                    "{}, Db::open(dir, ..) with its {} {kind:?} failing with {fault:?}",
                    script.so_far(),
                    ordinal(n)
                );
                match attempt(|| Db::open(faults.dir(), options)) {
                    Err(error) => no_panic(&did, &error)?,
                    Ok(_) if faults.fired() > 0 => {
                        return fail(format!(
                            "did:      {did}\nexpected: Err: the {kind:?} failed, and any error \
                             while opening (a removal's too) makes open fail\ngot:      Ok{}",
                            if kind == OpKind::Remove {
                                " (a file nothing names stays, and a later flush that takes \
                                 its number finds the name taken)"
                            } else {
                                ""
                            }
                        ));
                    }
                    Ok(mut db) => {
                        // An open that got past its fault must be right.
                        let mut trial_model = model.clone();
                        let mut trial_script = Script(vec![did.clone()]);
                        for s in [get("a"), get("b"), get("c"), scan_all()] {
                            call_both(
                                &trial,
                                &mut db,
                                &mut trial_model,
                                &plain(s),
                                &mut trial_script,
                            )?;
                        }
                    }
                }
                // Whatever that open did or left, the next one recovers everything.
                did.push_str(
                    ", then the power failed, losing what was unsynced; Db::open(dir, ..)",
                );
                trial.crash();
                trial.restart_losing_unsynced();
                let mut db = opened(trial.dir(), options, &did)?;
                let mut trial_model = model.clone();
                let mut trial_script = Script(vec![did]);
                for s in [
                    get("a"),
                    get("b"),
                    get("c"),
                    scan_all(),
                    put("e", b"6"),
                    Step::Flush,
                ] {
                    call_both(
                        &trial,
                        &mut db,
                        &mut trial_model,
                        &plain(s),
                        &mut trial_script,
                    )?;
                }
                drop(db);
                expect_rebuilt(&trial, &trial_model, &trial_script.so_far())?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Records and batches made by hand.

fn undecodable_record(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = Options {
        memtable_bytes: usize::MAX,
        block_size: 64,
        restart_interval: 2,
    };
    let (disk, _, script) = three_records(seed, options)?;
    let manifest = disk.contents(MANIFEST_NAME).unwrap_or_default();
    let (records, _) = parse_manifest(&manifest).map_err(Failure::new)?;
    let last = records.last().expect("three records").clone();
    let mut on_level_1 = last.clone();
    on_level_1.tables[0].level = 1;
    let body = manifest_body(&last);
    let bad: [(&str, Vec<u8>); 3] = [
        ("its first table on level 1", manifest_body(&on_level_1)),
        ("one byte after its last table", [&body[..], &[0]].concat()),
        (
            "its last byte cut off (the body ends inside its last table)",
            body[..body.len() - 1].to_vec(),
        ),
    ];
    for (what, bad) in bad {
        let record = framed(&bad);
        // After the whole records, where a torn edit would be; and as the only record.
        let placed = [
            (
                format!(
                    "appended to the MANIFEST a whole record (crc right) of the last record's \
                     state with {what}"
                ),
                [&manifest[..], &record[..]].concat(),
            ),
            (
                format!(
                    "made the MANIFEST one whole record (crc right) of the last record's state \
                     with {what}"
                ),
                record.clone(),
            ),
        ];
        for (how, bytes) in placed {
            let damaged = disk.fork();
            let dir = damaged.dir();
            let rewrite = || -> io::Result<()> {
                dir.remove(MANIFEST_NAME)?;
                let file = dir.create(MANIFEST_NAME)?;
                file.append(&bytes)?;
                file.sync()?;
                dir.sync()
            };
            rewrite().map_err(|e| io_failure("setup", e))?;
            let before = damaged.files();
            let did = format!("{}, close, then {how}, Db::open(dir, ..)", script.so_far());
            match attempt(|| Db::open(damaged.dir(), options)) {
                Err(error) if error.kind() == ErrorKind::InvalidData => {}
                other => {
                    let got = match other {
                        Ok(_) => "Ok".to_string(),
                        Err(error) => {
                            no_panic(&did, &error)?;
                            format!("Err({:?}): {error}", error.kind())
                        }
                    };
                    return fail(format!(
                        "did:      {did}\nexpected: Err(InvalidData): the record is whole, so \
                         it was written and synced in full, and its body does not decode as the \
                         layout says (it is no torn edit to cut)\ngot:      {got}"
                    ));
                }
            }
            expect_eq(
                format!(
                    "{did}, then listed the directory (an open that fails leaves it as it was: \
                     a whole record is not a torn tail to cut, nor the files of a database \
                     that never opened)"
                ),
                damaged.files(),
                before,
            )?;
        }
    }
    Ok(())
}

/// A log record of one batch, as the log writes it: the batch count, then the batch's seq, its
/// op count, and each op (1 and the key and value of a put, 2 and the key of a delete).
fn log_record(seq: u64, ops: &[(&[u8], Option<&[u8]>)]) -> Vec<u8> {
    let mut body = 1u32.to_le_bytes().to_vec();
    body.extend_from_slice(&seq.to_le_bytes());
    body.extend_from_slice(&(ops.len() as u32).to_le_bytes());
    let bytes = |body: &mut Vec<u8>, bytes: &[u8]| {
        body.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        body.extend_from_slice(bytes);
    };
    for (key, value) in ops {
        body.push(if value.is_some() { 1 } else { 2 });
        bytes(&mut body, key);
        if let Some(value) = value {
            bytes(&mut body, value);
        }
    }
    framed(&body)
}

fn batch_replayed_in_order(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = Options {
        memtable_bytes: usize::MAX,
        block_size: 64,
        restart_interval: 2,
    };
    let (disk, mut model, mut script) = three_records(seed, options)?;
    // One batch of three ops, the second replacing a key of the log's, the third the first's.
    let seq = model.last_seq + 1;
    let ops: [(&[u8], Option<&[u8]>); 3] =
        [(b"x", Some(b"first")), (b"c", None), (b"x", Some(b"third"))];
    let dir = disk.dir();
    let wal = wal_file(model.wal);
    let append = || -> io::Result<()> {
        let file = dir.open(&wal)?;
        file.append(&log_record(seq, &ops))?;
        file.sync()
    };
    append().map_err(|e| io_failure("setup", e))?;
    for (key, value) in ops {
        model.write(key, value);
    }
    script.0.push(format!(
        "close, then appended to {wal} one batch of seq {seq}: put(\"x\", \"first\"), \
         delete(\"c\"), put(\"x\", \"third\") (ops at seqs {seq}, {}, {})",
        seq + 1,
        seq + 2
    ));
    let did = script.did("Db::open(dir, ..)");
    let mut db = opened(disk.dir(), options, &did)?;
    expect_layout(&did, &model, &tables_of(&db), db.last_seq(), "")?;
    for call in [
        plain(get("x")),
        plain(get("c")),
        plain(put("y", b"after")),
        plain(scan_all()),
        plain(Step::Flush),
        Call::Crash,
        plain(get("x")),
        plain(scan_all()),
    ] {
        call_both(&disk, &mut db, &mut model, &call, &mut script)?;
    }
    drop(db);
    check_disk(&disk, &model, &script.so_far())
}
