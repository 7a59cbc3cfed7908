//! Hidden checks for bitcask/log.

use std::fmt;
use std::io::{self, ErrorKind};

use bitcask_log::{Log, Position, Record, Scan};
use judge::prelude::*;
use kit::crash::show;
use kit::sim::{Fault, OpKind, Profile, SimDisk};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "append puts each record right after the last: at 0, then at the sum of the sizes before it",
            offsets,
        )
        .check(
            "read gives back every appended record from the position append returned",
            read_back,
        )
        .check(
            "append is one write of exactly the record's bytes, and syncs nothing",
            append_is_one_write,
        )
        .check(
            "after a truncate, a reopen, or a failed append whose cut failed too, an append is \
             still one write (plus, once, the cut still owed)",
            append_stays_one_write,
        )
        .check(
            "read costs exactly one disk read, of exactly the record's bytes",
            read_is_one_read,
        )
        .check(
            "scan returns every record in order with its position, and valid_len is the log's length",
            scan_all,
        )
        .check(
            "scan costs exactly one disk read, of the whole log",
            scan_is_one_read,
        )
        .check(
            "a log opened again knows its length, reads its records, and appends after them",
            reopen,
        )
        .check(
            "scan stops before a torn tail, and truncate to valid_len makes room for new appends",
            torn_tail,
        )
        .check(
            "scan stops at a damaged record: nothing from it on is returned",
            damaged_record,
        )
        .check(
            "reading at or past the end of the log fails with UnexpectedEof",
            read_past_end,
        )
        .check(
            "reading a damaged record, or a position that is not one whole record, fails with InvalidData",
            read_invalid,
        )
        .check(
            "records appended and synced survive a power failure",
            synced_survives,
        )
        .check(
            "create makes the name durable: a new log survives a power failure right after it",
            create_is_durable,
        )
        .check(
            "a failed append, read, scan or sync is reported, and the log stays as it was (records over 64 KiB too)",
            faults_reported,
        )
}

const NAME: &str = "data.log";

/// A record as the README writes it: `put("k", "v")` or `tombstone("k")`.
#[derive(Clone, PartialEq)]
struct Shown(Record);

impl fmt::Debug for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.value {
            Some(value) => write!(f, "put({}, {})", show(&self.0.key), show(value)),
            None => write!(f, "tombstone({})", show(&self.0.key)),
        }
    }
}

fn record() -> impl Strategy<Value = Shown> {
    let bytes = |most: usize| {
        let byte = prop_oneof![4 => b'a'..=b'z', 1 => any::<u8>()];
        prop::collection::vec(byte, 0..most)
    };
    prop_oneof![
        3 => (bytes(8), bytes(40)).prop_map(|(k, v)| Shown(Record::put(k, v))),
        1 => bytes(8).prop_map(|k| Shown(Record::tombstone(k))),
    ]
}

/// Between 1 and `most - 1` records.
fn records(most: usize) -> impl Strategy<Value = Vec<Shown>> {
    prop::collection::vec(record(), 1..most)
}

/// The calls made so far, to say in a failure exactly what was done.
struct Script {
    calls: Vec<String>,
}

impl Script {
    fn new() -> Self {
        Self {
            calls: vec![format!("Log::create(dir, {NAME:?})")],
        }
    }

    fn note(&mut self, call: impl Into<String>) {
        self.calls.push(call.into());
    }

    fn did(&mut self, call: impl Into<String>) -> String {
        self.note(call);
        self.calls.join(", ")
    }
}

/// What a read returned: the record, or the kind of error.
fn outcome(result: io::Result<Record>) -> String {
    match result {
        Ok(record) => format!("Ok({:?})", Shown(record)),
        Err(error) => format!("Err({:?}): {error}", error.kind()),
    }
}

fn kind_of(result: &io::Result<Record>) -> Option<ErrorKind> {
    result.as_ref().err().map(io::Error::kind)
}

/// A scan as `(offset, len, record)` triples and valid_len.
#[derive(PartialEq)]
struct ScanView {
    records: Vec<(u64, u32, Shown)>,
    valid_len: u64,
}

impl fmt::Debug for ScanView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("records [")?;
        for (i, (offset, len, record)) in self.records.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{record:?} at {offset}+{len}")?;
        }
        write!(f, "], valid_len {}", self.valid_len)
    }
}

fn view(scan: Scan) -> ScanView {
    ScanView {
        records: scan
            .records
            .into_iter()
            .map(|(at, record)| (at.offset, at.len, Shown(record)))
            .collect(),
        valid_len: scan.valid_len,
    }
}

/// What a scan should find: `records` laid end to end from offset 0.
fn expected_scan(records: &[Shown]) -> ScanView {
    let mut offset = 0;
    let mut out = Vec::new();
    for record in records {
        let len = record.0.encode().len() as u32;
        out.push((offset, len, record.clone()));
        offset += u64::from(len);
    }
    ScanView {
        records: out,
        valid_len: offset,
    }
}

fn io_fail(did: &str, error: io::Error) -> CheckResult {
    fail(format!(
        "did:      {did}\nexpected: success\ngot:      {error}"
    ))
}

fn io_failure(did: &str, error: io::Error) -> Failure {
    Failure::new(format!(
        "did:      {did}\nexpected: success\ngot:      {error}"
    ))
}

/// Creates the log and appends `records`, checking nothing but success.
fn filled(
    disk: &SimDisk,
    records: &[Shown],
    script: &mut Script,
) -> Result<(Log, Vec<Position>), Failure> {
    let dir = disk.dir();
    let mut log = match Log::create(&*dir, NAME) {
        Ok(log) => log,
        Err(error) => return Err(io_failure(&script.calls.join(", "), error)),
    };
    let mut positions = Vec::new();
    for record in records {
        let did = script.did(format!("append({record:?})"));
        match log.append(&record.0) {
            Ok(at) => positions.push(at),
            Err(error) => return Err(io_failure(&did, error)),
        }
    }
    Ok((log, positions))
}

fn offsets(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["records"], 128, records(8), |records| {
        let disk = SimDisk::new(seed);
        let mut script = Script::new();
        let mut log = Log::create(&*disk.dir(), NAME)
            .map_err(|error| io_failure(&script.calls.join(", "), error))?;
        expect_eq(script.did("len()"), log.len(), 0)?;
        let mut end = 0;
        for record in &records {
            let size = record.0.encode().len() as u32;
            let did = script.did(format!("append({record:?})"));
            let at = log
                .append(&record.0)
                .map_err(|error| io_failure(&did, error))?;
            expect_eq(
                &did,
                at,
                Position {
                    offset: end,
                    len: size,
                },
            )?;
            end += u64::from(size);
            expect_eq(script.did("len()"), log.len(), end)?;
        }
        Ok(())
    })
}

fn read_back(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["records"], 128, records(8), |records| {
        let disk = SimDisk::new(seed);
        let mut script = Script::new();
        let (log, positions) = filled(&disk, &records, &mut script)?;
        // Newest first, so a read that ignores its position shows.
        for (record, at) in records.iter().zip(&positions).rev() {
            expect_eq(
                script.did(format!("read({at:?})")),
                outcome(log.read(*at)),
                format!("Ok({record:?})"),
            )?;
        }
        Ok(())
    })
}

fn append_is_one_write(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["records"], 64, records(6), |records| {
        let disk = SimDisk::new(seed);
        let mut script = Script::new();
        let (mut log, _) = filled(&disk, &records[..records.len() - 1], &mut script)?;
        let record = &records[records.len() - 1];
        disk.reset_stats();
        let did = script.did(format!("append({record:?})"));
        if let Err(error) = log.append(&record.0) {
            return io_fail(&did, error);
        }
        let stats = disk.stats();
        let size = record.0.encode().len() as u64;
        expect(
            stats.writes == 1 && stats.bytes_written == size && stats.syncs == 0,
            format!(
                "did:      {did}\nexpected: 1 write of {size} bytes, no sync\n\
                 got:      {} writes of {} bytes in all, {} syncs\n\
                 (a record written in pieces can be torn between them)",
                stats.writes, stats.bytes_written, stats.syncs
            ),
        )
    })
}

/// Appends `record`, and fails unless it took `expected` writes (`why` says what they are).
fn append_costs(
    disk: &SimDisk,
    log: &mut Log,
    record: &Shown,
    script: &mut Script,
    expected: u64,
    why: &str,
) -> CheckResult {
    disk.reset_stats();
    let did = script.did(format!("append({record:?})"));
    log.append(&record.0).map_err(|e| io_failure(&did, e))?;
    let writes = disk.stats().writes;
    expect(
        writes == expected,
        format!(
            "did:      {did}\nexpected: {expected} write{} ({why}; a truncate counts as a write)\n\
             got:      {writes}",
            if expected == 1 { "" } else { "s" }
        ),
    )
}

fn append_stays_one_write(ctx: &mut Ctx) -> CheckResult {
    let record = Shown(Record::put(b"k".to_vec(), b"v".to_vec()));
    let disk = SimDisk::new(ctx.seed());
    let mut script = Script::new();
    let (mut log, _) = filled(&disk, std::slice::from_ref(&record), &mut script)?;
    let did = script.did("truncate(len())");
    log.truncate(log.len()).map_err(|e| io_failure(&did, e))?;
    append_costs(&disk, &mut log, &record, &mut script, 1, "the record")?;
    drop(log);
    let did = script.did(format!("drop the log, Log::open(dir, {NAME:?})"));
    let mut log = Log::open(&*disk.dir(), NAME).map_err(|e| io_failure(&did, e))?;
    append_costs(&disk, &mut log, &record, &mut script, 1, "the record")?;
    disk.fail_next(OpKind::Write, Fault::IoError);
    disk.fail_next(OpKind::Write, Fault::IoError);
    let did = script.did(format!(
        "append({record:?}), whose write fails, and so does the next write (its cut)"
    ));
    if log.append(&record.0).is_ok() {
        return fail(format!("did:      {did}\nexpected: Err\ngot:      Ok"));
    }
    append_costs(
        &disk,
        &mut log,
        &record,
        &mut script,
        2,
        "the cut the failed append still owes, then the record",
    )?;
    append_costs(&disk, &mut log, &record, &mut script, 1, "the record")
}

fn read_is_one_read(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["records"], 64, records(6), |records| {
        let disk = SimDisk::new(seed);
        let mut script = Script::new();
        let (log, positions) = filled(&disk, &records, &mut script)?;
        for at in positions.iter().rev() {
            disk.reset_stats();
            let did = script.did(format!("read({at:?})"));
            if let Err(error) = log.read(*at) {
                return io_fail(&did, error);
            }
            let stats = disk.stats();
            expect(
                stats.reads == 1 && stats.bytes_read == u64::from(at.len),
                format!(
                    "did:      {did}\nexpected: 1 read of {} bytes\ngot:      {} reads of {} bytes in all",
                    at.len, stats.reads, stats.bytes_read
                ),
            )?;
        }
        Ok(())
    })
}

fn scan_all(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["records"], 128, records(8), |records| {
        let disk = SimDisk::new(seed);
        let mut script = Script::new();
        let (log, _) = filled(&disk, &records, &mut script)?;
        let did = script.did("scan()");
        match log.scan() {
            Ok(scan) => expect_eq(did, view(scan), expected_scan(&records)),
            Err(error) => io_fail(&did, error),
        }
    })
}

fn scan_is_one_read(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["records"], 64, records(8), |records| {
        let disk = SimDisk::new(seed);
        let mut script = Script::new();
        let (log, _) = filled(&disk, &records, &mut script)?;
        let len = log.len();
        disk.reset_stats();
        let did = script.did("scan()");
        if let Err(error) = log.scan() {
            return io_fail(&did, error);
        }
        let stats = disk.stats();
        expect(
            stats.reads == 1 && stats.bytes_read == len,
            format!(
                "did:      {did}\nexpected: 1 read of {len} bytes (the whole log)\ngot:      {} \
                 reads of {} bytes in all (a read per record, or per header and body, costs a \
                 seek each on a real disk)",
                stats.reads, stats.bytes_read
            ),
        )
    })
}

fn reopen(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (records(6), records(3));
    ctx.forall_named(&["before", "after"], 64, input, |(before, after)| {
        let disk = SimDisk::new(seed);
        let mut script = Script::new();
        let (log, positions) = filled(&disk, &before, &mut script)?;
        let did = script.did("sync()");
        if let Err(error) = log.sync() {
            return io_fail(&did, error);
        }
        drop(log);
        let did = script.did(format!("drop the log, Log::open(dir, {NAME:?})"));
        let mut log = match Log::open(&*disk.dir(), NAME) {
            Ok(log) => log,
            Err(error) => return io_fail(&did, error),
        };
        let end = expected_scan(&before).valid_len;
        expect_eq(script.did("len()"), log.len(), end)?;
        for (record, at) in before.iter().zip(&positions) {
            expect_eq(
                script.did(format!("read({at:?})")),
                outcome(log.read(*at)),
                format!("Ok({record:?})"),
            )?;
        }
        let mut offset = end;
        for record in &after {
            let did = script.did(format!("append({record:?})"));
            let at = match log.append(&record.0) {
                Ok(at) => at,
                Err(error) => return io_fail(&did, error),
            };
            let len = record.0.encode().len() as u32;
            expect_eq(&did, at, Position { offset, len })?;
            offset += u64::from(len);
        }
        let all: Vec<Shown> = before.iter().chain(&after).cloned().collect();
        let did = script.did("scan()");
        match log.scan() {
            Ok(scan) => expect_eq(did, view(scan), expected_scan(&all)),
            Err(error) => io_fail(&did, error),
        }
    })
}

fn torn_tail(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let input = (records(6), record(), record()).prop_flat_map(|(whole, torn, next)| {
        let size = torn.0.encode().len();
        (Just(whole), Just(torn), 1..size, Just(next))
    });
    ctx.forall_named(
        &["whole", "torn", "cut", "next"],
        128,
        input,
        |(whole, torn, cut, next)| {
            let disk = SimDisk::new(seed);
            let mut script = Script::new();
            let (log, _) = filled(&disk, &whole, &mut script)?;
            drop(log);
            let bytes = torn.0.encode();
            let raw = disk
                .dir()
                .open(NAME)
                .and_then(|file| file.append(&bytes[..cut]));
            if let Err(error) = raw {
                return io_fail("appending raw bytes to the file", error);
            }
            script.note(format!(
                "then only the first {cut} of the {} bytes of {torn:?} written to the file \
             (a torn write), Log::open(dir, {NAME:?})",
                bytes.len()
            ));
            let mut log = match Log::open(&*disk.dir(), NAME) {
                Ok(log) => log,
                Err(error) => return io_fail(&script.calls.join(", "), error),
            };
            let expected = expected_scan(&whole);
            let valid_len = expected.valid_len;
            let did = script.did("scan()");
            match log.scan() {
                Ok(scan) => expect_eq(did, view(scan), expected)?,
                Err(error) => return io_fail(&did, error),
            }
            let did = script.did(format!("truncate({valid_len})"));
            if let Err(error) = log.truncate(valid_len) {
                return io_fail(&did, error);
            }
            expect_eq(script.did("len()"), log.len(), valid_len)?;
            let did = script.did(format!("append({next:?})"));
            match log.append(&next.0) {
                Ok(at) => expect_eq(
                    &did,
                    at,
                    Position {
                        offset: valid_len,
                        len: next.0.encode().len() as u32,
                    },
                )?,
                Err(error) => return io_fail(&did, error),
            }
            let all: Vec<Shown> = whole.iter().chain([&next]).cloned().collect();
            let did = script.did("scan()");
            match log.scan() {
                Ok(scan) => expect_eq(did, view(scan), expected_scan(&all)),
                Err(error) => io_fail(&did, error),
            }
        },
    )
}

fn damaged_record(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    // Which record to damage, and where in its checksum, key or value (not its lengths, so the
    // record still claims the right size and a scan that skips it would find the next one).
    let input = records(6).prop_flat_map(|records| {
        let n = records.len();
        (Just(records), 0..n, any::<prop::sample::Index>(), 1u8..=255)
    });
    ctx.forall_named(
        &["records", "victim", "byte", "mask"],
        128,
        input,
        |(records, victim, byte, mask)| {
            let disk = SimDisk::new(seed);
            let mut script = Script::new();
            let (log, positions) = filled(&disk, &records, &mut script)?;
            let at = positions[victim];
            let damageable: Vec<u64> = (0..u64::from(at.len))
                .filter(|i| !(4..12).contains(i))
                .collect();
            let offset = at.offset + damageable[byte.index(damageable.len())];
            let old = disk.contents(NAME).map_or(0, |c| c[offset as usize]);
            if let Err(error) = disk.corrupt(NAME, offset, &[old ^ mask]) {
                return io_fail("damaging a byte", error);
            }
            script.note(format!(
                "the byte at offset {offset} (in record {}, {:?}) damaged",
                victim + 1,
                records[victim]
            ));
            let expected = expected_scan(&records[..victim]);
            let did = script.did("scan()");
            match log.scan() {
                Ok(scan) => expect_eq(did, view(scan), expected),
                Err(error) => io_fail(&did, error),
            }
        },
    )
}

fn read_past_end(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["records"], 64, records(5), |records| {
        let disk = SimDisk::new(seed);
        let mut script = Script::new();
        let (log, positions) = filled(&disk, &records, &mut script)?;
        let end = log.len();
        let last = positions[positions.len() - 1];
        let beyond = [
            Position {
                offset: end,
                len: 12,
            },
            Position {
                offset: last.offset,
                len: last.len + 1,
            },
            Position {
                offset: end + 1000,
                len: 20,
            },
        ];
        for at in beyond {
            let got = log.read(at);
            let did = script.did(format!("read({at:?}) with the log {end} bytes long"));
            if kind_of(&got) != Some(ErrorKind::UnexpectedEof) {
                return fail(format!(
                    "did:      {did}\nexpected: Err(UnexpectedEof)\ngot:      {}",
                    outcome(got)
                ));
            }
        }
        Ok(())
    })
}

fn read_invalid(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    // The two records alone, then with more after them.
    invalid_reads(seed, Vec::new())?;
    ctx.forall_named(
        &["records appended after put(\"first\", \"one\") and put(\"second\", \"two\")"],
        64,
        records(5),
        |records| invalid_reads(seed, records),
    )
}

/// Appends put("first", "one"), put("second", "two") and `more`, then reads positions that are
/// not one whole record, and a damaged record.
fn invalid_reads(seed: u64, more: Vec<Shown>) -> CheckResult {
    let disk = SimDisk::new(seed);
    let mut script = Script::new();
    let mut all = vec![
        Shown(Record::put("first", "one")),
        Shown(Record::put("second", "two")),
    ];
    all.extend(more);
    let (log, positions) = filled(&disk, &all, &mut script)?;
    let (first, second) = (positions[0], positions[1]);
    let framings = [
        (
            Position {
                offset: first.offset,
                len: first.len - 1,
            },
            "one byte short of the first record",
        ),
        (
            Position {
                offset: first.offset,
                len: first.len + second.len,
            },
            "the first two records as if they were one",
        ),
        (
            Position {
                offset: first.offset + 1,
                len: first.len,
            },
            "one byte into the first record",
        ),
    ];
    for (at, what) in framings {
        let got = log.read(at);
        let did = script.did(format!("read({at:?}): {what}"));
        if kind_of(&got) != Some(ErrorKind::InvalidData) {
            return fail(format!(
                "did:      {did}\nexpected: Err(InvalidData)\ngot:      {}",
                outcome(got)
            ));
        }
    }
    // Damage the last byte of the second record's value.
    let offset = second.offset + u64::from(second.len) - 1;
    let old = disk.contents(NAME).map_or(0, |c| c[offset as usize]);
    if let Err(error) = disk.corrupt(NAME, offset, &[!old]) {
        return io_fail("damaging a byte", error);
    }
    script.note(format!("the byte at offset {offset} damaged"));
    let got = log.read(second);
    let did = script.did(format!("read({second:?})"));
    if kind_of(&got) != Some(ErrorKind::InvalidData) {
        return fail(format!(
            "did:      {did}\nexpected: Err(InvalidData)\ngot:      {}",
            outcome(got)
        ));
    }
    Ok(())
}

fn synced_survives(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    // Each case crashes its own disk: the seed, mixed with the case, decides what survives.
    let input = (records(6), any::<u16>());
    ctx.forall_named(&["records", "salt"], 48, input, |(records, salt)| {
        let disk = SimDisk::new(seed ^ u64::from(salt).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut script = Script::new();
        let (log, _) = filled(&disk, &records, &mut script)?;
        let did = script.did("sync()");
        if let Err(error) = log.sync() {
            return io_fail(&did, error);
        }
        disk.crash();
        drop(log);
        disk.restart();
        let did = script.did(format!(
            "the power failed and came back, Log::open(dir, {NAME:?})"
        ));
        let log = match Log::open(&*disk.dir(), NAME) {
            Ok(log) => log,
            Err(error) => return io_fail(&did, error),
        };
        let did = script.did("scan()");
        match log.scan() {
            Ok(scan) => expect_eq(did, view(scan), expected_scan(&records)),
            Err(error) => io_fail(&did, error),
        }
    })
}

fn create_is_durable(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["salt"], 48, any::<u16>(), |salt| {
        let disk = SimDisk::new(seed ^ u64::from(salt).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut script = Script::new();
        match Log::create(&*disk.dir(), NAME) {
            Ok(log) => drop(log),
            Err(error) => return io_fail(&script.calls.join(", "), error),
        }
        disk.crash();
        disk.restart();
        let did = script.did(format!(
            "the power failed as soon as create returned, and came back; Log::open(dir, {NAME:?})"
        ));
        match Log::open(&*disk.dir(), NAME) {
            Ok(log) => expect_eq(script.did("len()"), log.len(), 0),
            Err(error) => io_fail(&did, error),
        }
    })
}

fn faults_reported(ctx: &mut Ctx) -> CheckResult {
    let big = Shown(Record::put(b"big".to_vec(), vec![b'v'; 70_000]));
    let small = Shown(Record::put(b"k".to_vec(), b"".to_vec()));
    let lost = Shown(Record::put(b"lost".to_vec(), b"x".to_vec()));
    let after = Shown(Record::tombstone(b"".to_vec()));
    // A failed write on a real disk may have written part of its bytes first: on the second
    // disk it leaves some behind, which the next append must not land after.
    let leaves_a_prefix = Profile {
        failed_writes_leave_a_prefix: true,
        ..Profile::GENTLE
    };
    for (fault, profile) in [
        (Fault::IoError, Profile::GENTLE),
        (Fault::DiskFull, Profile::GENTLE),
        (Fault::IoError, leaves_a_prefix),
        (Fault::DiskFull, leaves_a_prefix),
    ] {
        // The first seed from this one on whose failed write leaves bytes behind, if any must.
        let mut seed = ctx.seed();
        let (disk, mut log, positions, mut script, before) = loop {
            let disk = SimDisk::with_profile(seed, profile);
            let mut script = Script::new();
            let (mut log, positions) = filled(&disk, &[big.clone(), small.clone()], &mut script)?;
            let before = log.len();
            disk.fail_next(OpKind::Write, fault);
            if log.append(&lost.0).is_ok() {
                let did = script.did(format!("append({lost:?}) whose write fails with {fault:?}"));
                return fail(format!(
                    "did:      {did}\nexpected: Err (the write failed)\ngot:      Ok"
                ));
            }
            let file = disk.contents(NAME).map_or(0, |bytes| bytes.len() as u64);
            if !profile.failed_writes_leave_a_prefix || file > before || seed > ctx.seed() + 64 {
                break (disk, log, positions, script, before);
            }
            seed += 1;
        };
        let left = disk.contents(NAME).map_or(0, |bytes| bytes.len() as u64) - before;
        let did = script.did(if left == 0 {
            format!("append({lost:?}) whose write fails with {fault:?}")
        } else {
            format!(
                "append({lost:?}) whose write fails with {fault:?}, having written the first \
                 {left} of its bytes (a real disk can)"
            )
        });
        ctx.doing(&did);
        expect_eq(format!("{did}, then len()"), log.len(), before)?;
        let did = script.did(format!("append({after:?})"));
        let at = log.append(&after.0).map_err(|e| io_failure(&did, e))?;
        expect_eq(
            format!("{did}: the position it returned"),
            at,
            Position {
                offset: before,
                len: after.0.encode().len() as u32,
            },
        )?;

        disk.fail_next(OpKind::Read, fault);
        let did = script.did(format!("scan() whose read fails with {fault:?}"));
        ctx.doing(&did);
        if let Ok(scan) = log.scan() {
            return fail(format!(
                "did:      {did}\nexpected: Err: a scan that could not read the log knows \
                 nothing about it (recovery would cut the log to what it returned)\ngot:      \
                 Ok({:?})",
                view(scan)
            ));
        }
        disk.fail_next(OpKind::Read, fault);
        let did = script.did(format!(
            "read({:?}) whose read fails with {fault:?}",
            positions[0]
        ));
        let got = log.read(positions[0]);
        expect(
            got.is_err(),
            format!("did:      {did}\nexpected: Err\ngot:      {}", outcome(got)),
        )?;
        let did = script.did("scan()");
        let scan = log.scan().map_err(|e| io_failure(&did, e))?;
        expect_eq(
            did,
            view(scan),
            expected_scan(&[big.clone(), small.clone(), after.clone()]),
        )?;
    }

    let disk = SimDisk::new(ctx.seed());
    let mut script = Script::new();
    let (log, _) = filled(&disk, std::slice::from_ref(&small), &mut script)?;
    disk.fail_next(OpKind::Sync, Fault::SyncLosesData);
    let did = script.did("sync(), which fails and drops the unsynced data");
    ctx.doing(&did);
    expect(
        log.sync().is_err(),
        format!("did:      {did}\nexpected: Err\ngot:      Ok"),
    )
}
