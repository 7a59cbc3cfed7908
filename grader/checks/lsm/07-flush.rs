//! Hidden checks for lsm/flush.

use std::collections::BTreeSet;
use std::io::{self, ErrorKind};

use judge::prelude::*;
use kit::fault::{Aim, FaultDir, attempt};
use kit::sim::{Fault, OpKind, Profile, SimDisk};
use lsm_flush::{Db, MANIFEST, Options, TableInfo};

use crate::support::{
    Answer, DbOptions, DbTable, KINDS, MANIFEST_NAME, Model, Script, Step, check_disk, delete,
    expect_answer, expect_layout, expect_rebuilt, faults_for, framed, get, infos, io_failure,
    manifest_body, no_panic, ordinal, pairs, parse_manifest, parse_table, put, rebuild, scan_all,
    short, state_text, step, table_file, table_options, value_text, wal_file, write_table,
};

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

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "open on an empty directory creates log 000001.log and a MANIFEST of one record \
             (last seq 0, next file 2, log 1, no tables), byte for byte, both durable; open on a \
             directory that holds a MANIFEST is InvalidInput and changes nothing",
            open_layout,
        )
        .check(
            "flush writes the memtable to the next table number, every key's newest version \
             with its seq, tombstones kept; the MANIFEST gains one record listing it with its \
             size and key range, the new log takes the number after, the old log is removed, \
             and the n-th write has seq n across flushes",
            flush_writes_files,
        )
        .check(
            "a flush of an empty memtable does nothing: no table, no MANIFEST record, the same \
             log",
            empty_flush,
        )
        .check(
            "before a write, a memtable holding memtable_bytes or more (key + value + 9 bytes a \
             key, a replaced value's bytes taken off) is flushed first; one byte under is not",
            auto_flush_boundary,
        )
        .check(
            "puts, deletes, gets, scans and flushes in any order agree with a BTreeMap; \
             tables() and last_seq() follow every write, and the disk holds exactly the \
             MANIFEST, the log and the tables a model says",
            agrees_with_model,
        )
        .check(
            "a get answered by the memtable reads nothing; any other get reads at most one \
             data block of each table, newest first, whose key range holds the key, up to the \
             first that has it, and nothing of the others",
            get_reads,
        )
        .check(
            "a scan reads nothing of a table whose key range lies wholly before from or at and \
             after to",
            scan_skips_tables,
        )
        .check(
            "a crash at any I/O step (in a write, a flush or an automatic flush) leaves a \
             MANIFEST whose last record, with the tables and the log it names, rebuilds every \
             acknowledged write and nothing else",
            crash_at_every_step,
        )
        .check(
            "a write whose log record cannot be written or synced fails, is not applied, and \
             leaves its seq to the next write",
            failed_write_not_applied,
        )
        .check(
            "a flush that fails writing its table, opening it or creating its new log returns \
             the error, removes its new files, and the database carries on: later writes and \
             flushes work, and take none of the numbers the failed flush took",
            usable_after_failed_flush,
        )
        .check(
            "a MANIFEST record whose write or sync fails: flush returns the error, tables() \
             lists what it did before, every file stays where it is (the new table and log \
             too), every later write and flush is refused, while gets and scans still answer",
            refuses_after_failed_edit,
        )
        .check(
            "a flush whose removal of the old log fails is done all the same: flush, or the \
             write whose automatic flush it is, returns Ok, the table is listed, and the \
             database works on",
            old_log_removal_fails,
        )
        .check(
            "every I/O operation failed in turn (I/O error, full disk, a sync that loses data): \
             an error, never a panic nor a wrong answer; the database works on or refuses every \
             later write; and the disk rebuilds exactly what was acknowledged",
            faults_everywhere,
        )
}

// ---------------------------------------------------------------------------------------------
// Driving the database and comparing.

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

/// Makes `step` on `db` and the model, and compares what it returned and, after a write or a
/// flush, `tables()` and `last_seq()`.
fn step_both(db: &mut Db, model: &mut Model, step: &Step, script: &mut Script) -> CheckResult {
    step_compared(db, model, step, script, true)
}

/// As [`step_both`]; `tables()` and `last_seq()` are compared only when `layout` is true (a
/// flush that failed may have used file numbers the model did not).
fn step_compared(
    db: &mut Db,
    model: &mut Model,
    step: &Step,
    script: &mut Script,
    layout: bool,
) -> CheckResult {
    let did = script.did(format!("{step:?}"));
    let got = call(db, step).map_err(|e| io_failure(&did, e))?;
    expect_answer(&did, &got, &model.answer(step))?;
    if got != Answer::Done {
        return Ok(());
    }
    let note = model.flush_note(step);
    model.apply(step);
    if !layout {
        return Ok(());
    }
    expect_layout(&did, model, &tables_of(db), db.last_seq(), &note)
}

// ---------------------------------------------------------------------------------------------
// Inputs.

fn options() -> impl Strategy<Value = Options> {
    let memtable = prop_oneof![
        2 => Just(usize::MAX),
        3 => 0..80usize,
        1 => Just(4 << 20),
    ];
    let block = prop_oneof![Just(1usize), 2..120usize, Just(4096)];
    let restart = prop_oneof![Just(1usize), Just(2), Just(16)];
    (memtable, block, restart).prop_map(|(memtable_bytes, block_size, restart_interval)| Options {
        memtable_bytes,
        block_size,
        restart_interval,
    })
}

fn opened(disk: &SimDisk, options: Options, script: &Script) -> Result<Db, Failure> {
    Db::open(disk.dir(), options).map_err(|e| io_failure(&script.so_far(), e))
}

/// Runs `steps` on a new database and the model, comparing after each, then the disk.
fn run_model(seed: u64, options: Options, steps: &[Step]) -> CheckResult {
    let disk = SimDisk::new(seed);
    let mut script = Script::open(&options);
    let mut db = opened(&disk, options, &script)?;
    let mut model = Model::new(ours(options));
    for step in steps {
        step_both(&mut db, &mut model, step, &mut script)?;
    }
    check_disk(&disk, &model, &script.so_far())
}

// ---------------------------------------------------------------------------------------------
// Behaviour.

fn open_layout(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let options = Options::default();
    let mut script = Script::open(&options);
    let db = opened(&disk, options, &script)?;
    let model = Model::new(ours(options));
    check_disk(&disk, &model, &script.so_far())?;
    let expected = framed(&manifest_body(&model.records[0]));
    expect_eq(
        format!("{}, then read the MANIFEST's bytes", script.so_far()),
        disk.contents(MANIFEST),
        Some(expected),
    )?;
    expect_eq(
        format!("{}, tables()", script.so_far()),
        db.tables(),
        Vec::new(),
    )?;
    expect_eq(format!("{}, last_seq()", script.so_far()), db.last_seq(), 0)?;

    let did = script.did(format!("Db::open(dir, {options:?}) again"));
    refused_open(&disk, options, &did)?;

    // A database whose log 1 was flushed away: its MANIFEST is what says it is one.
    let disk = SimDisk::new(ctx.seed());
    let mut script = Script::open(&options);
    let mut db = opened(&disk, options, &script)?;
    let mut model = Model::new(ours(options));
    for step in [put("a", b"1"), Step::Flush] {
        step_both(&mut db, &mut model, &step, &mut script)?;
    }
    drop(db);
    let did = script.did(format!(
        "close (000001.log is gone), Db::open(dir, {options:?}) again"
    ));
    refused_open(&disk, options, &did)
}

/// Opens a directory that holds a database: `InvalidInput`, and not a file created, removed
/// or changed.
fn refused_open(disk: &SimDisk, options: Options, did: &str) -> CheckResult {
    let before = disk.files();
    match attempt(|| Db::open(disk.dir(), options)) {
        Err(error) if error.kind() == ErrorKind::InvalidInput => {}
        Err(error) => {
            no_panic(did, &error)?;
            return fail(format!(
                "did:      {did}\nexpected: Err(InvalidInput): the directory holds a database \
                 already\ngot:      Err({:?}): {error}",
                error.kind()
            ));
        }
        Ok(_) => {
            return fail(format!(
                "did:      {did}\nexpected: Err(InvalidInput): the directory holds a database \
                 already\ngot:      Ok"
            ));
        }
    }
    expect_eq(
        format!(
            "{did}, then listed the directory (open must change nothing: it answers from the \
             MANIFEST's name before it creates any file)"
        ),
        disk.files(),
        before,
    )
}

fn flush_writes_files(ctx: &mut Ctx) -> CheckResult {
    let options = Options {
        memtable_bytes: usize::MAX,
        block_size: 48,
        restart_interval: 2,
    };
    let big = vec![b'x'; 3000];
    let huge: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let rounds = [
        vec![
            put("b", b"1"),
            put("a", b"2"),
            put("b", b"3"),
            delete("c"),
            put("", b"empty key"),
            put("d", &big),
            delete("a"),
            put("huge", &huge),
        ],
        vec![put("a", b"again"), delete("b"), put("e", b"")],
        vec![delete("a"), delete("e"), put("z", b"last")],
    ];
    let disk = SimDisk::new(ctx.seed());
    let mut script = Script::open(&options);
    let mut db = opened(&disk, options, &script)?;
    let mut model = Model::new(ours(options));
    for round in &rounds {
        for step in round {
            step_both(&mut db, &mut model, step, &mut script)?;
        }
        step_both(&mut db, &mut model, &Step::Flush, &mut script)?;
        check_disk(&disk, &model, &script.so_far())?;
        for key in ["", "a", "b", "c", "d", "e", "huge", "z"] {
            step_both(&mut db, &mut model, &get(key), &mut script)?;
        }
        step_both(&mut db, &mut model, &scan_all(), &mut script)?;
    }
    Ok(())
}

fn empty_flush(ctx: &mut Ctx) -> CheckResult {
    let options = Options::default();
    let disk = SimDisk::new(ctx.seed());
    let mut script = Script::open(&options);
    let mut db = opened(&disk, options, &script)?;
    let mut model = Model::new(ours(options));
    for step in [Step::Flush, put("a", b"1"), Step::Flush, Step::Flush] {
        step_both(&mut db, &mut model, &step, &mut script)?;
        check_disk(&disk, &model, &script.so_far())?;
    }
    Ok(())
}

fn auto_flush_boundary(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let m = 50;
    let options = |memtable_bytes| Options {
        memtable_bytes,
        block_size: 4096,
        restart_interval: 16,
    };
    let v = |n: usize| vec![b'v'; n];
    let scripts: Vec<(Options, Vec<Step>)> = vec![
        // 1 + 40 + 9 = 50: the next write flushes first.
        (options(m), vec![put("a", &v(40)), put("b", b""), get("a")]),
        // 49: no flush; then 49 + 10 = 59: the next one flushes a and b.
        (
            options(m),
            vec![put("a", &v(39)), put("b", b""), put("c", b""), get("b")],
        ),
        // A replace takes the old value's bytes off: 40, then 11, then 11 + 39 = 50.
        (
            options(m),
            vec![
                put("a", &v(30)),
                put("a", b"x"),
                put("b", &v(29)),
                put("c", b""),
                put("d", b""),
            ],
        ),
        // A tombstone counts its key and 9: 10 + 10 + 10 + 10 + 10 = 50.
        (
            options(m),
            vec![
                delete("a"),
                delete("b"),
                delete("c"),
                delete("d"),
                put("e", b""),
                put("f", b""),
                get("a"),
            ],
        ),
        // 0: every write flushes the one before it; 1: the same.
        (
            options(0),
            vec![put("a", b"1"), put("b", b"2"), delete("a"), get("a")],
        ),
        (
            options(1),
            vec![put("a", b""), put("a", b"x"), put("b", b""), get("a")],
        ),
    ];
    for (options, steps) in scripts {
        run_model(seed, options, &steps)?;
    }
    Ok(())
}

fn agrees_with_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["options", "steps"],
        96,
        (options(), prop::collection::vec(step(), 0..30)),
        |(options, steps)| run_model(seed, options, &steps),
    )
}

/// How many tables a get of `key` may read a block of: newest first, each whose key range holds
/// the key, up to the first that has a version of it.
fn visits(model: &Model, key: &[u8]) -> u64 {
    let mut visits = 0;
    for table in &model.tables {
        let info = &table.info;
        if key < info.first_key.as_slice() || key > info.last_key.as_slice() {
            continue;
        }
        visits += 1;
        if table.entries.iter().any(|e| e.key == key) {
            break;
        }
    }
    visits
}

/// Three tables, many blocks each: "b000".."b199", "c000".."c199", then one across both, every
/// third key of "b100".."b199" and a tombstone of "c050"; then a memtable of a few keys.
fn three_tables(seed: u64) -> Result<(SimDisk, Db, Model, Script), Failure> {
    let options = Options {
        memtable_bytes: usize::MAX,
        block_size: 128,
        restart_interval: 4,
    };
    let disk = SimDisk::new(seed);
    let mut script = Script::open(&options);
    let mut db = opened(&disk, options, &script)?;
    let mut model = Model::new(ours(options));
    let key = |prefix: &str, i: u32| format!("{prefix}{i:03}");
    let mut writes = Vec::new();
    for i in 0..200 {
        writes.push(put(&key("b", i), format!("b{i}").as_bytes()));
    }
    writes.push(Step::Flush);
    for i in 0..200 {
        writes.push(put(&key("c", i), format!("c{i}").as_bytes()));
    }
    writes.push(Step::Flush);
    for i in (100..200).step_by(3) {
        writes.push(put(&key("b", i), b"newer"));
    }
    writes.push(delete("c050"));
    writes.push(Step::Flush);
    writes.extend([put("b150", b"in memory"), put("m", b"in memory")]);
    script.0.push(format!(
        "put(\"b000\") ... put(\"b199\"), flush(), put(\"c000\") ... put(\"c199\"), flush(), \
         put of every third key from \"b100\" to \"b199\", delete(\"c050\"), flush(), \
         put(\"b150\"), put(\"m\") (block_size {}: many blocks a table)",
        options.block_size
    ));
    for step in &writes {
        call(&mut db, step)
            .map_err(|e| io_failure(&format!("{}, {step:?}", script.so_far()), e))?;
        model.apply(step);
    }
    Ok((disk, db, model, script))
}

fn get_reads(ctx: &mut Ctx) -> CheckResult {
    let (disk, db, model, mut script) = three_tables(ctx.seed())?;
    let options = model.options;
    let biggest = model
        .tables
        .iter()
        .flat_map(|t| {
            let bytes = write_table(&t.entries, table_options(options));
            parse_table(&bytes, table_options(options))
                .expect("the reference writes tables the parser reads")
                .blocks
                .into_iter()
                .map(|b| b.size + 4)
                .collect::<Vec<_>>()
        })
        .max()
        .unwrap_or(0);

    let mut probes: Vec<Vec<u8>> = ["b150", "m", "a", "", "b", "b000", "b007", "b099", "b100"]
        .iter()
        .chain(&[
            "b101", "b103", "b150x", "b199", "b1995", "c000", "c050", "c100", "c199",
        ])
        .chain(&["c2", "bz", "d", "zzz"])
        .map(|k| k.as_bytes().to_vec())
        .collect();
    probes.push(vec![0xFF; 3]);
    for probe in probes {
        let did = script.did(format!("{:?}", Step::Get(probe.clone())));
        disk.reset_stats();
        let got = db.get(&probe).map_err(|e| io_failure(&did, e))?;
        let stats = disk.stats();
        let expected = model.get(&probe);
        if got != expected {
            return fail(format!(
                "did:      {did}\nexpected: {}\ngot:      {}",
                value_text(&expected),
                value_text(&got)
            ));
        }
        let in_memtable = model.memtable.contains_key(&probe);
        let most = if in_memtable {
            0
        } else {
            visits(&model, &probe)
        };
        let why = if in_memtable {
            "the memtable holds the key: no table is asked".to_string()
        } else {
            format!(
                "one data block (at most {biggest} bytes with its crc) of each table whose \
                 first and last keys hold the key, newest first, until one has it: {most} here, \
                 of the {} tables {}",
                model.tables.len(),
                infos(&model.infos())
            )
        };
        expect(
            stats.reads <= most && stats.bytes_read <= most * biggest,
            format!(
                "did:      {did}, counting the disk's reads\nexpected: at most {most} reads ({why})\
                 \ngot:      {} reads of {} bytes",
                stats.reads, stats.bytes_read
            ),
        )?;
        script.0.pop();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Crashes.

/// What a run cut short by a crash got done.
struct Cut {
    opened: bool,
    acknowledged: Model,
    /// The write the power failed in, if it was one: it may or may not have happened.
    in_flight: Option<Step>,
    calls: Vec<String>,
}

fn run_until_crash(disk: &SimDisk, options: Options, steps: &[Step]) -> Cut {
    let mut cut = Cut {
        opened: false,
        acknowledged: Model::new(ours(options)),
        in_flight: None,
        calls: vec![format!("Db::open(dir, {options:?})")],
    };
    let Ok(mut db) = attempt(|| Db::open(disk.dir(), options)) else {
        return cut;
    };
    cut.opened = true;
    for step in steps {
        cut.calls.push(format!("{step:?}"));
        let done = attempt(|| call(&mut db, step));
        if done.is_err() {
            if matches!(step, Step::Put(..) | Step::Delete(_)) {
                cut.in_flight = Some(step.clone());
            }
            break;
        }
        cut.acknowledged.apply(step);
    }
    cut
}

/// Holds what the directory rebuilds to after a crash to what was acknowledged.
fn judge_crash(disk: &SimDisk, cut: &Cut, options: Options, story: &str) -> CheckResult {
    if !cut.opened {
        return Ok(());
    }
    let rebuilt = rebuild(|name| disk.contents(name), table_options(ours(options)));
    let state = match rebuilt {
        Err(why) => {
            return fail(format!(
                "{story}\nexpected: the MANIFEST's last whole record, the tables it lists and \
                 the log it names, to rebuild every acknowledged write\ngot:      {why}"
            ));
        }
        Ok(None) => {
            return fail(format!(
                "{story}\nexpected: a MANIFEST with a whole record (open returned: it must \
                 have made one durable)\ngot:      none"
            ));
        }
        Ok(Some(state)) => state,
    };
    let acknowledged = cut.acknowledged.state();
    if state == acknowledged {
        return Ok(());
    }
    if let Some(step) = &cut.in_flight {
        let mut with = cut.acknowledged.clone();
        with.apply(step);
        if state == with.state() {
            return Ok(());
        }
    }
    fail(format!(
        "{story}\nexpected: {}{}\ngot:      {} (rebuilt from the MANIFEST's last record: {:?})",
        state_text(&acknowledged),
        cut.in_flight.as_ref().map_or(String::new(), |s| format!(
            ", or that after {s:?} in flight"
        )),
        state_text(&state),
        parse_manifest(&disk.contents(MANIFEST_NAME).unwrap_or_default())
            .ok()
            .and_then(|(records, _)| records.last().cloned()),
    ))
}

fn crash_everywhere(seed: u64, options: Options, steps: &[Step]) -> CheckResult {
    let golden = SimDisk::new(seed);
    let mut script = Script::open(&options);
    let mut db = opened(&golden, options, &script)?;
    let mut model = Model::new(ours(options));
    for step in steps {
        step_both(&mut db, &mut model, step, &mut script)?;
    }
    drop(db);
    let total = golden.steps();
    for step in 1..=total {
        let disk = SimDisk::with_profile(
            seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            Profile::HARSH,
        );
        disk.crash_at_step(step);
        let cut = run_until_crash(&disk, options, steps);
        let did = cut.calls.join(", ");
        for fork in 0..3u64 {
            let trial = disk.fork_reseeded(seed ^ step ^ (fork << 32));
            let aftermath = trial.restart_disk_only();
            let story = format!(
                "did:      {did}\n          the power failed in the last call, at I/O step \
                 {step} of {total}; on restart {aftermath}"
            );
            judge_crash(&trial, &cut, options, &story)?;
        }
        let trial = disk.fork();
        trial.restart_losing_unsynced();
        let story = format!(
            "did:      {did}\n          the power failed in the last call, at I/O step {step} \
             of {total}; on restart every unsynced write and name operation was lost"
        );
        judge_crash(&trial, &cut, options, &story)?;
    }
    Ok(())
}

fn crash_at_every_step(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = Options {
        memtable_bytes: 60,
        block_size: 64,
        restart_interval: 2,
    };
    let sectors = vec![b's'; 1500];
    let scripted = vec![
        put("a", b"1"),
        put("b", &sectors),
        delete("a"),
        Step::Flush,
        put("c", b"2"),
        put("a", b"3"),
        put("d", b"4"),
        put("e", b"5"),
        get("b"),
        delete("c"),
        put("b", b"6"),
        Step::Flush,
        put("f", b"7"),
    ];
    crash_everywhere(seed, options, &scripted)?;
    ctx.forall_named(
        &["options", "steps"],
        6,
        (options_for_crashes(), prop::collection::vec(step(), 0..12)),
        |(options, steps)| crash_everywhere(seed, options, &steps),
    )
}

fn options_for_crashes() -> impl Strategy<Value = Options> {
    (prop_oneof![Just(usize::MAX), 0..60usize], 1..100usize).prop_map(
        |(memtable_bytes, block_size)| Options {
            memtable_bytes,
            block_size,
            restart_interval: 2,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Faults.

fn failed_write_not_applied(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = Options {
        memtable_bytes: usize::MAX,
        block_size: 64,
        restart_interval: 2,
    };
    let aims = [
        (OpKind::Write, Fault::IoError, "its log record's write"),
        (OpKind::Write, Fault::DiskFull, "its log record's write"),
        (OpKind::Sync, Fault::IoError, "its log record's sync"),
        (OpKind::Sync, Fault::SyncLosesData, "its log record's sync"),
    ];
    for (kind, fault, what) in aims {
        for failing in [put("a", b"new"), delete("a"), put("b", b"new")] {
            let disk = SimDisk::with_profile(
                seed,
                Profile {
                    failed_writes_leave_a_prefix: true,
                    name_operations_reorder: false,
                },
            );
            let faults = FaultDir::new(&disk, &[]);
            let mut script = Script::open(&options);
            let mut db =
                Db::open(faults.dir(), options).map_err(|e| io_failure(&script.so_far(), e))?;
            let mut model = Model::new(ours(options));
            for step in [put("a", b"old"), Step::Flush, put("c", b"1")] {
                step_both(&mut db, &mut model, &step, &mut script)?;
            }
            faults.arm(kind, 1, fault);
            let did = script.did(format!("{failing:?} with {what} failing with {fault:?}"));
            let result = attempt(|| call(&mut db, &failing));
            match result {
                Ok(_) => {
                    return fail(format!(
                        "did:      {did}\nexpected: Err: the write could not be made durable\n\
                         got:      Ok"
                    ));
                }
                Err(error) => no_panic(&did, &error)?,
            }
            // Not applied, and its seq free: the next write takes it.
            for step in [
                get("a"),
                get("b"),
                scan_all(),
                put("d", b"2"),
                get("a"),
                Step::Flush,
                get("a"),
            ] {
                step_both(&mut db, &mut model, &step, &mut script)?;
            }
            check_disk(&disk, &model, &script.so_far())?;
        }
    }
    Ok(())
}

fn usable_after_failed_flush(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = Options {
        memtable_bytes: usize::MAX,
        block_size: 64,
        restart_interval: 2,
    };
    // Each aim with the file numbers the flush has taken when it fails: the table's, and the
    // new log's once it is being created.
    let aims: [(OpKind, u64, &str, &[u64]); 8] = [
        (OpKind::Create, 1, "creating the table", &[2]),
        (OpKind::Write, 1, "the table's first write", &[2]),
        (OpKind::Sync, 1, "syncing the table", &[2]),
        (
            OpKind::DirSync,
            1,
            "syncing the directory after the table",
            &[2],
        ),
        (
            OpKind::Open,
            1,
            "opening the written table to read it",
            &[2],
        ),
        (OpKind::Read, 1, "reading the written table's footer", &[2]),
        (OpKind::Create, 2, "creating the new log", &[2, 3]),
        (
            OpKind::DirSync,
            2,
            "syncing the directory after the new log",
            &[2, 3],
        ),
    ];
    for (kind, n, what, took) in aims {
        for fault in [Fault::IoError, Fault::DiskFull] {
            let disk = SimDisk::new(seed);
            let faults = FaultDir::new(&disk, &[]);
            let mut script = Script::open(&options);
            let mut db =
                Db::open(faults.dir(), options).map_err(|e| io_failure(&script.so_far(), e))?;
            let mut model = Model::new(ours(options));
            for step in [put("a", b"1"), put("b", b"2"), delete("c")] {
                step_both(&mut db, &mut model, &step, &mut script)?;
            }
            faults.arm(kind, n, fault);
            let did = script.did(format!(
                "flush() with the {} {kind:?} of the flush failing with {fault:?} ({what})",
                ordinal(n)
            ));
            match attempt(|| db.flush()) {
                Ok(()) => {
                    return fail(format!(
                        "did:      {did}\nexpected: Err: the flush could not be made\ngot:      \
                         Ok{}",
                        if faults.fired() == 0 {
                            " (and the flush never made the operation that was to fail)"
                        } else {
                            ""
                        }
                    ));
                }
                Err(error) => no_panic(&did, &error)?,
            }
            // Nothing was flushed: the model stays as it was, and the files too.
            check_disk(&disk, &model, &script.so_far())?;
            for step in [
                get("a"),
                get("b"),
                put("d", b"3"),
                Step::Flush,
                put("e", b"4"),
                get("a"),
                get("d"),
                scan_all(),
            ] {
                step_compared(&mut db, &mut model, &step, &mut script, false)?;
            }
            let got: Vec<u64> = db.tables().iter().map(|t| t.number).collect();
            expect(
                got.len() == 1,
                format!(
                    "did:      {}, tables()\nexpected: one table, the flush that worked\ngot:      \
                     {got:?}",
                    script.so_far()
                ),
            )?;
            let highest = took.iter().max().copied().unwrap_or(0);
            expect(
                got[0] > highest,
                format!(
                    "did:      {}, tables()\nexpected: the table of the flush that worked numbered \
                     above {highest}: the failed flush took {took:?}, and a number is never \
                     used twice (a file it could not remove would be taken for the new one)\n\
                     got:      table {}",
                    script.so_far(),
                    got[0]
                ),
            )?;
            drop(db);
            disk.crash();
            disk.restart_losing_unsynced();
            expect_rebuilt(&disk, &model, &script.so_far())?;
        }
    }
    Ok(())
}

fn refuses_after_failed_edit(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = Options {
        memtable_bytes: usize::MAX,
        block_size: 64,
        restart_interval: 2,
    };
    let setup = [put("a", b"1"), Step::Flush, put("b", b"2"), delete("a")];
    // Which write and which sync of a flush are its MANIFEST record's: the last of each.
    let golden = SimDisk::new(seed);
    let counter = FaultDir::new(&golden, &[]);
    let mut script = Script::open(&options);
    let mut db = Db::open(counter.dir(), options).map_err(|e| io_failure(&script.so_far(), e))?;
    let mut model = Model::new(ours(options));
    for step in &setup {
        step_both(&mut db, &mut model, step, &mut script)?;
    }
    let (writes, syncs) = (counter.count(OpKind::Write), counter.count(OpKind::Sync));
    step_both(&mut db, &mut model, &Step::Flush, &mut script)?;
    let aims = [
        (
            OpKind::Write,
            counter.count(OpKind::Write) - writes,
            "write",
        ),
        (OpKind::Sync, counter.count(OpKind::Sync) - syncs, "sync"),
    ];
    drop(db);
    for (kind, n, what) in aims {
        for fault in faults_for(kind) {
            let disk = SimDisk::with_profile(
                seed,
                Profile {
                    failed_writes_leave_a_prefix: true,
                    name_operations_reorder: false,
                },
            );
            let faults = FaultDir::new(&disk, &[]);
            let mut script = Script::open(&options);
            let mut db =
                Db::open(faults.dir(), options).map_err(|e| io_failure(&script.so_far(), e))?;
            let mut model = Model::new(ours(options));
            for step in &setup {
                step_both(&mut db, &mut model, step, &mut script)?;
            }
            let before: BTreeSet<String> = disk.files().into_iter().map(|f| f.name).collect();
            faults.arm(kind, n, fault);
            let did = script.did(format!(
                "flush() with the MANIFEST record's {what} (the flush's {} {kind:?}) failing \
                 with {fault:?}",
                ordinal(n)
            ));
            if attempt(|| db.flush()).is_ok() {
                return fail(format!(
                    "did:      {did}\nexpected: Err: the record may or may not be on the disk\n\
                     got:      Ok"
                ));
            }
            // In memory, nothing was flushed: no record is known to name the new table.
            expect_layout(
                &did,
                &model,
                &tables_of(&db),
                db.last_seq(),
                " (the flush's MANIFEST record failed: tables() lists what it listed before, \
                 the new table is not known to be named by any record)",
            )?;
            // On disk, every file stays: the record may be there, naming the new table and log.
            let mut expected = before;
            expected.insert(table_file(model.next_file));
            expected.insert(wal_file(model.next_file + 1));
            let got: BTreeSet<String> = disk.files().into_iter().map(|f| f.name).collect();
            if got != expected {
                return fail(format!(
                    "did:      {did}, then listed the directory\nexpected: {expected:?} (every \
                     file left where it is: the record may have reached the disk, naming the \
                     new table and log, and the old log holds the writes if it did not)\ngot:      \
                     {got:?}"
                ));
            }
            for step in [put("c", b"3"), delete("b"), Step::Flush] {
                let did = script.did(format!("{step:?}"));
                let refused = attempt(|| call(&mut db, &step));
                match refused {
                    Ok(_) => {
                        return fail(format!(
                            "did:      {did}\nexpected: Err: after a MANIFEST record fails, \
                             nobody knows whether it is on the disk, and the database takes no \
                             more writes until it is reopened\ngot:      Ok"
                        ));
                    }
                    Err(error) => no_panic(&did, &error)?,
                }
            }
            // Reads still answer, from what the database holds.
            for step in [get("a"), get("b"), get("c"), scan_all()] {
                step_compared(&mut db, &mut model, &step, &mut script, false)?;
            }
            drop(db);
            disk.crash();
            disk.restart_losing_unsynced();
            expect_rebuilt(&disk, &model, &script.so_far())?;
        }
    }
    Ok(())
}

fn old_log_removal_fails(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    // 1 + 10 + 9 = 20: a memtable of one key of a 10-byte value is full.
    let options = Options {
        memtable_bytes: 20,
        block_size: 64,
        restart_interval: 2,
    };
    let ten = [b'v'; 10];
    for fault in faults_for(OpKind::Remove) {
        let disk = SimDisk::new(seed);
        let faults = FaultDir::new(&disk, &[]);
        let mut script = Script::open(&options);
        let mut db =
            Db::open(faults.dir(), options).map_err(|e| io_failure(&script.so_far(), e))?;
        let mut model = Model::new(ours(options));
        step_both(&mut db, &mut model, &put("a", b"1"), &mut script)?;
        // An explicit flush, then a put whose automatic flush it is.
        for (setup, step) in [(None, Step::Flush), (Some(put("b", &ten)), put("c", b"2"))] {
            if let Some(setup) = setup {
                step_both(&mut db, &mut model, &setup, &mut script)?;
            }
            faults.arm(OpKind::Remove, 1, fault);
            let did = script.did(format!(
                "{step:?} with the removal of the old log {} failing with {fault:?}",
                wal_file(model.wal)
            ));
            let got = attempt(|| call(&mut db, &step));
            if let Err(error) = got {
                no_panic(&did, &error)?;
                return fail(format!(
                    "did:      {did}\nexpected: Ok: once the MANIFEST record is synced the \
                     flush is done, and the old log is garbage for the next open to delete\n\
                     got:      Err({:?}): {error}",
                    error.kind()
                ));
            }
            let note = model.flush_note(&step);
            model.apply(&step);
            expect_layout(&did, &model, &tables_of(&db), db.last_seq(), &note)?;
        }
        for step in [
            get("a"),
            get("b"),
            get("c"),
            put("d", b"3"),
            Step::Flush,
            scan_all(),
        ] {
            step_both(&mut db, &mut model, &step, &mut script)?;
        }
        drop(db);
        disk.crash();
        disk.restart_losing_unsynced();
        expect_rebuilt(&disk, &model, &script.so_far())?;
    }
    Ok(())
}

/// Runs `steps` with one fault aimed, holding every answer to the model.
fn faulted_run(seed: u64, options: Options, steps: &[Step], aim: Aim) -> CheckResult {
    let disk = SimDisk::with_profile(
        seed,
        Profile {
            failed_writes_leave_a_prefix: true,
            name_operations_reorder: false,
        },
    );
    let faults = FaultDir::new(&disk, &[aim]);
    let mut script = Script::open(&options);
    script.0[0] = format!(
        "with the {} {:?} failing with {:?}: {}",
        ordinal(aim.n),
        aim.kind,
        aim.fault,
        script.0[0]
    );
    let mut db = match attempt(|| Db::open(faults.dir(), options)) {
        Ok(db) => db,
        Err(error) => return no_panic(&script.so_far(), &error),
    };
    let mut model = Model::new(ours(options));
    let mut failed_before = false;
    for step in steps {
        let did = script.did(format!("{step:?}"));
        let fired = faults.fired();
        let result = attempt(|| call(&mut db, step));
        let hit = faults.fired() > fired;
        match result {
            Ok(answer) => {
                expect_answer(&did, &answer, &model.answer(step))?;
                model.apply(step);
            }
            Err(error) => {
                no_panic(&did, &error)?;
                let last = script.0.last_mut().expect("a call was noted");
                last.push_str(&format!(" -> Err({:?})", error.kind()));
                let write = !matches!(step, Step::Get(_) | Step::Scan(..));
                if !(hit || write && failed_before) {
                    return fail(format!(
                        "did:      {did}\nexpected: success: no fault hit this call{}\ngot:      \
                         Err({:?}): {error}",
                        if write {
                            ", and no write or flush failed before it"
                        } else {
                            " (a read may fail only when its own I/O does)"
                        },
                        error.kind()
                    ));
                }
                failed_before |= write;
            }
        }
    }
    drop(db);
    disk.crash();
    disk.restart_losing_unsynced();
    expect_rebuilt(&disk, &model, &script.so_far())
}

fn faults_everywhere(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let options = Options {
        memtable_bytes: 40,
        block_size: 32,
        restart_interval: 2,
    };
    // Two explicit flushes and automatic ones, so that a flush follows a failed one; gets and
    // scans over the tables between them.
    let steps = vec![
        put("a", b"1"),
        put("b", b"2"),
        delete("a"),
        Step::Flush,
        get("b"),
        put("c", b"3"),
        put("a", b"4"),
        put("d", &[b'd'; 20]),
        scan_all(),
        put("e", b"5"),
        delete("b"),
        get("b"),
        get("a"),
        Step::Flush,
        put("f", b"6"),
        get("c"),
        scan_all(),
    ];
    let golden = SimDisk::new(seed);
    let counter = FaultDir::new(&golden, &[]);
    let mut script = Script::open(&options);
    let mut db = Db::open(counter.dir(), options).map_err(|e| io_failure(&script.so_far(), e))?;
    let mut model = Model::new(ours(options));
    for step in &steps {
        step_both(&mut db, &mut model, step, &mut script)?;
    }
    drop(db);
    let mut kinds = KINDS.to_vec();
    kinds.extend([OpKind::Remove, OpKind::List]);
    for kind in kinds {
        for n in 1..=counter.count(kind) {
            for fault in faults_for(kind) {
                faulted_run(seed, options, &steps, Aim { kind, n, fault })?;
            }
        }
    }
    Ok(())
}

fn scan_skips_tables(ctx: &mut Ctx) -> CheckResult {
    let (disk, db, model, mut script) = three_tables(ctx.seed())?;
    let ranges: [(&[u8], Option<&[u8]>); 5] = [
        (b"", Some(b"b000")),
        (b"a", Some(b"b")),
        (b"c2", None),
        (b"d", Some(b"z")),
        (b"c1995", Some(b"c2")),
    ];
    for (from, to) in ranges {
        let step = Step::Scan(from.to_vec(), to.map(<[u8]>::to_vec), usize::MAX);
        let did = script.did(format!("{step:?}"));
        disk.reset_stats();
        let got = db
            .scan(from, to, usize::MAX)
            .map_err(|e| io_failure(&did, e))?;
        let reads = disk.stats().reads;
        let expected = model.scan(from, to, usize::MAX);
        if got != expected {
            return fail(format!(
                "did:      {did}\nexpected: {}\ngot:      {}",
                pairs(&expected),
                pairs(&got)
            ));
        }
        expect_eq(
            format!(
                "{did}, counting the disk's reads (no table's key range meets the scan's: the \
                 tables are {}, and the keys scanned run from {} up to, not including, {})",
                infos(&model.infos()),
                short(from),
                to.map_or("the end".to_string(), short)
            ),
            reads,
            0,
        )?;
        script.0.pop();
    }
    Ok(())
}
