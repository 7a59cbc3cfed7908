//! Hidden checks for btree/wal-mode.

use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, ErrorKind};
use std::sync::{Arc, Mutex, PoisonError};

use btree_wal_mode::{
    Checkpoint, FRAME_HEADER_LEN, MAGIC, Pager, WAL_HEADER_LEN, WAL_MAGIC, WAL_SUFFIX,
};
use judge::prelude::*;
use kit::checksum::crc32;
use kit::disk::{Dir, File};
use kit::fault::{Aim, FaultDir, attempt};
use kit::sim::{Fault, OpKind, Profile, SimDisk};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "the log, read byte for byte as the README lays it out: a header (magic, page size, \
             salt-1, salt-2, CRC-32 of those), then frames of page number, commit size (non-zero \
             on a transaction's last frame only), the header's salts, a checksum chained from \
             the one before, and the page; a commit leaves the database file alone; a \
             checkpoint with no reader copies every page back and restarts the log with salt-1 \
             one up and a new salt-2, the next frame chained from the new header",
            log_layout,
        )
        .check(
            "readers keep their snapshot, scripted: a reader's snapshot is the index of the last \
             commit frame when it began, it reads every page (and the page count) as of then \
             while later transactions commit and checkpoints run; a checkpoint copies nothing \
             past the oldest open reader's snapshot, and restarts the log only when no reader \
             is open, not even one whose snapshot is the last commit frame",
            readers_keep_their_snapshot,
        )
        .check(
            "begin_read, read, end_read, begin_write, write, commit, rollback, checkpoint, \
             reopen and the power failing, with up to three readers, against a model of \
             versions: every open reader reads every page as of its snapshot (never a \
             transaction half), snapshots and checkpoints report the model's frames, the \
             database file after a checkpoint is the oldest reader's version, and a commit that \
             returned survives any crash",
            versions_match_model,
        )
        .check(
            "after a checkpoint restarts the log, frames left from before with the old salts \
             are never taken: a new transaction that writes the same first frame as an old one \
             and a reopen read the new data, not the old transactions after it",
            stale_frames_are_ignored,
        )
        .check(
            "the power failing at every I/O step of commits, checkpoints (with readers open and \
             not) and restarts, and again during recovery, on a gentle and on a harsh disk: the \
             database reopens as the last transaction whose commit returned (or the one under \
             way), every page, and the same after another crash; at every rewrite of the log's \
             header the database file is already synced",
            crash_at_every_step,
        )
        .check(
            "every disk operation of commits, checkpoints and restarts failed in turn (I/O \
             errors, a full disk, a sync that drops data, failed writes that leave a prefix), \
             then the worst crash: the database reopens as the last transaction whose commit \
             returned, or the one under way",
            faults_everywhere,
        )
        .check(
            "open recovers a log written by hand: every transaction up to the last commit frame \
             whose chain of checksums holds; frames after the last commit frame, a torn frame, \
             a frame with other salts or an unchained checksum end the log; a header that does \
             not check (or of another page size) makes the log hold nothing; a missing log is \
             made; and a commit after recovery chains on from the last valid commit frame",
            handmade_logs,
        )
        .check(
            "begin_write with one open, write, commit and rollback with none, unknown or ended \
             reader ids, page 0, pages past the snapshot's end, data of the wrong length and bad \
             page sizes are InvalidInput and touch no disk; a missing database NotFound, one \
             with another magic or page size InvalidData; \
             begin_read, begin_write, an empty commit and rollback touch no disk; pages of 1024 \
             and 65536 bytes work as pages of 512; a read that \
             fails changes nothing and the pager goes on; and after a write or sync fails, every \
             later call fails",
            misuse_and_failures,
        )
}

const NAME: &str = "pages.db";
const SIZE: usize = 512;

fn wal_name() -> String {
    format!("{NAME}{WAL_SUFFIX}")
}

// ---------------------------------------------------------------------------------------------
// Pages, and the states of the database.

/// `[page p, version v]`: a page made from `p` and `v`, so that a wrong page can be named.
fn fill(page: u32, version: u8, size: usize) -> Vec<u8> {
    let mut data: Vec<u8> = (0..size)
        .map(|j| (j as u8) ^ ((j >> 8) as u8).wrapping_mul(29) ^ version.wrapping_mul(101))
        .collect();
    data[..4].copy_from_slice(&page.to_be_bytes());
    data[4] = version;
    data
}

/// Names the bytes of a page as a failure message shows them.
fn name_page(bytes: &[u8], size: usize) -> String {
    if bytes.len() != size {
        return format!("{} bytes (a page is {size})", bytes.len());
    }
    if bytes.iter().all(|&b| b == 0) {
        return "zeros".into();
    }
    let page = u32::from_be_bytes(bytes[..4].try_into().unwrap());
    if bytes == fill(page, bytes[4], size) {
        return format!("[page {page}, version {}]", bytes[4]);
    }
    let shown: Vec<String> = bytes[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("other bytes, starting {}...", shown.join(" "))
}

/// A state of the database: the version of each page (index 0, the header, unused); its length
/// is the page count.
type State = Vec<u8>;

fn show_state(state: &State) -> String {
    if state.len() < 2 {
        return "1 page (the header only)".into();
    }
    let pages: Vec<String> = (1..state.len())
        .map(|p| format!("{p}: v{}", state[p]))
        .collect();
    format!("{} pages {{{}}}", state.len(), pages.join(", "))
}

/// Reads every page of `state` through a new reader, and its page count; `None` if all match.
fn differs(pager: &mut Pager, state: &State) -> io::Result<Option<String>> {
    let reader = pager.begin_read()?;
    let result = differs_at(pager, reader, state);
    pager.end_read(reader)?;
    result
}

/// What reader `reader` sees that `state` does not hold, if anything.
fn differs_at(pager: &mut Pager, reader: u64, state: &State) -> io::Result<Option<String>> {
    let count = pager.page_count(reader)?;
    if count as usize != state.len() {
        return Ok(Some(format!(
            "page_count({reader}) = {count}, not {}",
            state.len()
        )));
    }
    for page in 1..count {
        let got = pager.read(reader, page)?;
        let want = fill(page, state[page as usize], pager.page_size());
        if got != want {
            return Ok(Some(format!(
                "read({reader}, {page}) = {}, not {}",
                name_page(&got, want.len()),
                name_page(&want, want.len())
            )));
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------
// The log, parsed and written by the checks.

fn be(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn frame_sum(previous: u32, header: &[u8], data: &[u8]) -> u32 {
    let mut bytes = previous.to_be_bytes().to_vec();
    bytes.extend_from_slice(&header[..16]);
    bytes.extend_from_slice(data);
    crc32(&bytes)
}

fn log_header(size: usize, salts: (u32, u32)) -> Vec<u8> {
    let mut header = Vec::new();
    for field in [WAL_MAGIC, size as u32, salts.0, salts.1] {
        header.extend_from_slice(&field.to_be_bytes());
    }
    let sum = crc32(&header);
    header.extend_from_slice(&sum.to_be_bytes());
    header
}

/// A frame's bytes, its checksum chained from `previous`; returns them and the checksum.
fn frame_bytes(
    previous: u32,
    page: u32,
    commit: u32,
    salts: (u32, u32),
    data: &[u8],
) -> (Vec<u8>, u32) {
    let mut bytes = Vec::new();
    for field in [page, commit, salts.0, salts.1] {
        bytes.extend_from_slice(&field.to_be_bytes());
    }
    let sum = frame_sum(previous, &bytes, data);
    bytes.extend_from_slice(&sum.to_be_bytes());
    bytes.extend_from_slice(data);
    (bytes, sum)
}

/// The log's header: salts, if it checks for `size`.
fn parse_log_header(bytes: &[u8], size: usize) -> Result<(u32, u32), String> {
    if bytes.len() < WAL_HEADER_LEN {
        return Err(format!("the log holds {} bytes: no header", bytes.len()));
    }
    if be(bytes, 0) != WAL_MAGIC {
        return Err(format!(
            "the log's header starts {:08x}, not the magic {WAL_MAGIC:08x}",
            be(bytes, 0)
        ));
    }
    if be(bytes, 4) as usize != size {
        return Err(format!(
            "the log's header names page size {}, not {size}",
            be(bytes, 4)
        ));
    }
    if be(bytes, 16) != crc32(&bytes[..16]) {
        return Err(format!(
            "the log header's checksum is {:08x}, not the CRC-32 of its first 16 bytes, {:08x}",
            be(bytes, 16),
            crc32(&bytes[..16])
        ));
    }
    Ok((be(bytes, 8), be(bytes, 12)))
}

// ---------------------------------------------------------------------------------------------
// Saying what was done.

fn io_failure(did: &str, error: io::Error) -> Failure {
    Failure::new(format!(
        "did:      {did}\nexpected: success\ngot:      Err({:?}): {error}",
        error.kind()
    ))
}

fn describe<T: fmt::Debug>(result: &io::Result<T>) -> String {
    match result {
        Ok(value) => format!("Ok({value:?})"),
        Err(error) => format!("Err({:?}): {error}", error.kind()),
    }
}

fn expect_kind<T: fmt::Debug>(did: &str, result: io::Result<T>, kind: ErrorKind) -> CheckResult {
    match &result {
        Err(error) if error.kind() == kind => Ok(()),
        _ => fail(format!(
            "did:      {did}\nexpected: Err({kind:?})\ngot:      {}",
            describe(&result)
        )),
    }
}

/// Commits `writes` in one transaction.
fn commit(pager: &mut Pager, writes: &[(u32, u8)]) -> io::Result<()> {
    pager.begin_write()?;
    for &(page, v) in writes {
        pager.write(page, &fill(page, v, pager.page_size()))?;
    }
    pager.commit()
}

fn apply(state: &State, writes: &[(u32, u8)]) -> State {
    let mut next = state.clone();
    for &(page, v) in writes {
        if page as usize == next.len() {
            next.push(v);
        } else {
            next[page as usize] = v;
        }
    }
    next
}

fn show_writes(writes: &[(u32, u8)]) -> String {
    let calls: Vec<String> = writes
        .iter()
        .map(|(p, v)| format!("write({p}, [page {p}, version {v}])"))
        .collect();
    format!("begin_write(), {}, commit()", calls.join(", "))
}

// ---------------------------------------------------------------------------------------------
// The log's layout.

fn log_layout(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let mut did = format!("Pager::create(dir, {NAME:?}, {SIZE})");
    let mut pager = Pager::create(disk.dir(), NAME, SIZE).map_err(|e| io_failure(&did, e))?;
    let db_at_create = disk.contents(NAME).unwrap_or_default();
    let log = disk.contents(&wal_name()).unwrap_or_default();
    expect_eq(
        format!("{did}; the log's bytes"),
        log.clone(),
        log_header(SIZE, parse_log_header(&log, SIZE).unwrap_or((0, 0))),
    )?;
    let salts = parse_log_header(&log, SIZE).expect("checked above");
    let txs: [&[(u32, u8)]; 3] = [&[(1, 1), (2, 1)], &[(3, 2), (2, 2)], &[(1, 3)]];
    let mut expected = log_header(SIZE, salts);
    let mut sum = be(&expected, 16);
    let mut state: State = vec![0];
    for writes in txs {
        commit(&mut pager, writes).map_err(|e| io_failure(&did, e))?;
        did = format!("{did}, {}", show_writes(writes));
        state = apply(&state, writes);
        // Frames in page order, the last one the commit frame.
        let mut pages: Vec<(u32, u8)> = writes.to_vec();
        pages.sort();
        for (i, &(page, v)) in pages.iter().enumerate() {
            let commit = if i + 1 == pages.len() {
                state.len() as u32
            } else {
                0
            };
            let (bytes, next) = frame_bytes(sum, page, commit, salts, &fill(page, v, SIZE));
            expected.extend_from_slice(&bytes);
            sum = next;
        }
        let got = disk.contents(&wal_name()).unwrap_or_default();
        if got != expected {
            return fail(format!(
                "did:      {did}\nexpected: the log to hold {} bytes: its header, then one frame \
                 per page written, in page order, the last of each transaction marked with the \
                 page count\ngot:      {}",
                expected.len(),
                log_difference(&got, &expected)
            ));
        }
        if disk.contents(NAME).unwrap_or_default() != db_at_create {
            return fail(format!(
                "did:      {did}\nexpected: the database file untouched by a commit (only a \
                 checkpoint writes it)\ngot:      it changed"
            ));
        }
    }
    // The commit point is the log's sync: after a crash, all three are there.
    disk.restart_losing_unsynced();
    drop(pager);
    did = format!("{did}, the power fails, Pager::open(dir, {NAME:?})");
    let mut pager = Pager::open(disk.dir(), NAME).map_err(|e| io_failure(&did, e))?;
    if let Some(problem) = differs(&mut pager, &state).map_err(|e| io_failure(&did, e))? {
        return fail(format!(
            "did:      {did}\nexpected: every committed transaction ({}), its log synced by \
             commit\ngot:      {problem}",
            show_state(&state)
        ));
    }
    did = format!("{did}, checkpoint()");
    let result = pager.checkpoint();
    expect_eq(
        did.clone(),
        describe(&result),
        describe(&Ok::<_, io::Error>(Checkpoint {
            backfilled: 0,
            restarted: true,
        })),
    )?;
    // The database file holds every page, and the header the page count.
    let db = disk.contents(NAME).unwrap_or_default();
    let mut want = vec![0u8; SIZE];
    want[..16].copy_from_slice(MAGIC);
    want[16..20].copy_from_slice(&(SIZE as u32).to_be_bytes());
    want[20..24].copy_from_slice(&1u32.to_be_bytes());
    for (page, &v) in state.iter().enumerate().skip(1) {
        want.extend_from_slice(&fill(page as u32, v, SIZE));
    }
    if db != want {
        let problem = if db.get(..SIZE) != Some(&want[..SIZE]) {
            "its header page is not as create wrote it (the magic, the page size, a page count \
             of 1)"
                .to_string()
        } else if db.len() != want.len() {
            format!("{} bytes, not {}", db.len(), want.len())
        } else {
            let page = (1..state.len())
                .find(|&p| {
                    db.get(p * SIZE..(p + 1) * SIZE) != Some(&want[p * SIZE..(p + 1) * SIZE])
                })
                .unwrap_or(0);
            format!(
                "page {page} is {}",
                name_page(db.get(page * SIZE..(page + 1) * SIZE).unwrap_or(&[]), SIZE)
            )
        };
        return fail(format!(
            "did:      {did}\nexpected: the database file to hold every committed page after \
             page 0, left as create wrote it (a rewritten header page could be torn by a crash, \
             and nothing could repair it)\ngot:      {problem}"
        ));
    }
    if durable_contents(&disk, NAME) != Some(db) {
        return fail(format!(
            "did:      {did}\nexpected: the checkpoint to sync the database file\ngot:      \
             writes of it are not synced"
        ));
    }
    let log = disk.contents(&wal_name()).unwrap_or_default();
    let new_salts = match parse_log_header(&log, SIZE) {
        Ok(salts) => salts,
        Err(problem) => {
            return fail(format!(
                "did:      {did}\nexpected: a new log header that checks\ngot:      {problem}"
            ));
        }
    };
    if new_salts.0 != salts.0.wrapping_add(1) || new_salts.1 == salts.1 {
        return fail(format!(
            "did:      {did}\nexpected: the restarted log's salts to be ({}, anything but {}): \
             salt-1 one up, a new salt-2\ngot:      {new_salts:?}",
            salts.0.wrapping_add(1),
            salts.1
        ));
    }
    // The next frame is frame 1 again, chained from the new header.
    did = format!("{did}, {}", show_writes(&[(2, 4)]));
    commit(&mut pager, &[(2, 4)]).map_err(|e| io_failure(&did, e))?;
    let log = disk.contents(&wal_name()).unwrap_or_default();
    let (frame, _) = frame_bytes(
        be(&log, 16),
        2,
        state.len() as u32,
        new_salts,
        &fill(2, 4, SIZE),
    );
    let got = log
        .get(WAL_HEADER_LEN..WAL_HEADER_LEN + frame.len())
        .unwrap_or(&[]);
    if got != frame {
        return fail(format!(
            "did:      {did}\nexpected: frame 1 of the restarted log at byte {WAL_HEADER_LEN}: \
             page 2, commit size 4, the new salts, its checksum chained from the new header's\n\
             got:      {}",
            frame_difference(got, &frame)
        ));
    }
    Ok(())
}

fn durable_contents(disk: &SimDisk, name: &str) -> Option<Vec<u8>> {
    let fork = disk.fork();
    fork.restart_losing_unsynced();
    fork.contents(name)
}

fn frame_difference(got: &[u8], want: &[u8]) -> String {
    if got.len() < FRAME_HEADER_LEN {
        return format!("only {} bytes", got.len());
    }
    let fields = ["page", "commit size", "salt-1", "salt-2", "checksum"];
    for (i, field) in fields.iter().enumerate() {
        if be(got, 4 * i) != be(want, 4 * i) {
            return format!(
                "its {field} is {} (0x{:08x}), not {} (0x{:08x})",
                be(got, 4 * i),
                be(got, 4 * i),
                be(want, 4 * i),
                be(want, 4 * i)
            );
        }
    }
    let size = want.len() - FRAME_HEADER_LEN;
    format!(
        "its page is {}, not {}",
        name_page(got.get(FRAME_HEADER_LEN..).unwrap_or(&[]), size),
        name_page(&want[FRAME_HEADER_LEN..], size)
    )
}

fn log_difference(got: &[u8], want: &[u8]) -> String {
    if got.get(..WAL_HEADER_LEN) != want.get(..WAL_HEADER_LEN) {
        return match parse_log_header(got, SIZE) {
            Err(problem) => problem,
            Ok(_) => "another header".into(),
        };
    }
    let frame_len = FRAME_HEADER_LEN + SIZE;
    let mut at = WAL_HEADER_LEN;
    let mut n = 1;
    while at < want.len() {
        let g = got.get(at..(at + frame_len).min(got.len())).unwrap_or(&[]);
        if g != &want[at..at + frame_len] {
            if g.is_empty() {
                return format!("{} bytes: no frame {n}", got.len());
            }
            return format!(
                "frame {n}: {}",
                frame_difference(g, &want[at..at + frame_len])
            );
        }
        at += frame_len;
        n += 1;
    }
    format!(
        "{} bytes, {} more than the frames written",
        got.len(),
        got.len() - want.len()
    )
}

// ---------------------------------------------------------------------------------------------
// Readers, scripted.

fn readers_keep_their_snapshot(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let mut did = format!("Pager::create(dir, {NAME:?}, {SIZE})");
    let mut pager = Pager::create(disk.dir(), NAME, SIZE).map_err(|e| io_failure(&did, e))?;
    let t1: &[(u32, u8)] = &[(1, 1), (2, 1)];
    let t2: &[(u32, u8)] = &[(1, 2), (3, 2)];
    let t3: &[(u32, u8)] = &[(2, 3)];
    let s0: State = vec![0];
    let s1 = apply(&s0, t1);
    let s2 = apply(&s1, t2);
    let s3 = apply(&s2, t3);
    let r0 = pager.begin_read().map_err(|e| io_failure(&did, e))?;
    did = format!("{did}, begin_read() = {r0}");
    commit(&mut pager, t1).map_err(|e| io_failure(&did, e))?;
    did = format!("{did}, {}", show_writes(t1));
    let r1 = pager.begin_read().map_err(|e| io_failure(&did, e))?;
    did = format!("{did}, begin_read() = {r1}");
    commit(&mut pager, t2).map_err(|e| io_failure(&did, e))?;
    did = format!("{did}, {}", show_writes(t2));
    let r2 = pager.begin_read().map_err(|e| io_failure(&did, e))?;
    did = format!("{did}, begin_read() = {r2}");
    for (reader, snapshot) in [(r0, 0), (r1, 2), (r2, 4)] {
        expect_eq(
            format!("{did}, snapshot({reader})"),
            describe(&pager.snapshot(reader)),
            describe(&Ok::<_, io::Error>(snapshot)),
        )?;
    }
    let see = |pager: &mut Pager, did: &str, reader: u64, state: &State| -> CheckResult {
        match differs_at(pager, reader, state).map_err(|e| io_failure(did, e))? {
            None => Ok(()),
            Some(problem) => fail(format!(
                "did:      {did}\nexpected: reader {reader} to see the database as of its \
                 snapshot, {}\ngot:      {problem}",
                show_state(state)
            )),
        }
    };
    see(&mut pager, &did, r0, &s0)?;
    see(&mut pager, &did, r1, &s1)?;
    see(&mut pager, &did, r2, &s2)?;
    expect_kind(
        &format!("{did}, read({r1}, 3) (page 3 is past the end at reader {r1}'s snapshot)"),
        pager.read(r1, 3),
        ErrorKind::InvalidInput,
    )?;
    // A checkpoint with reader r0 (snapshot 0) open copies nothing.
    did = format!("{did}, checkpoint()");
    let want = Checkpoint {
        backfilled: 0,
        restarted: false,
    };
    expect_eq(
        did.clone(),
        describe(&pager.checkpoint()),
        describe(&Ok::<_, io::Error>(want)),
    )?;
    expect_db(&disk, &did, &s0, "reader 1's snapshot, 0: nothing copied")?;
    pager.end_read(r0).map_err(|e| io_failure(&did, e))?;
    did = format!("{did}, end_read({r0}), {}", show_writes(t3));
    commit(&mut pager, t3).map_err(|e| io_failure(&did, e))?;
    did = format!("{did}, checkpoint()");
    let want = Checkpoint {
        backfilled: 2,
        restarted: false,
    };
    expect_eq(
        did.clone(),
        describe(&pager.checkpoint()),
        describe(&Ok::<_, io::Error>(want)),
    )?;
    expect_db(
        &disk,
        &did,
        &s1,
        &format!("reader {r1}'s snapshot, frame 2, the oldest open"),
    )?;
    see(&mut pager, &did, r1, &s1)?;
    see(&mut pager, &did, r2, &s2)?;
    pager.end_read(r1).map_err(|e| io_failure(&did, e))?;
    did = format!("{did}, end_read({r1}), checkpoint()");
    let want = Checkpoint {
        backfilled: 4,
        restarted: false,
    };
    expect_eq(
        did.clone(),
        describe(&pager.checkpoint()),
        describe(&Ok::<_, io::Error>(want)),
    )?;
    expect_db(
        &disk,
        &did,
        &s2,
        &format!("reader {r2}'s snapshot, frame 4, the oldest open"),
    )?;
    see(&mut pager, &did, r2, &s2)?;
    pager.end_read(r2).map_err(|e| io_failure(&did, e))?;
    expect_kind(
        &format!("{did}, end_read({r2}), read({r2}, 1) (an ended reader)"),
        pager.read(r2, 1),
        ErrorKind::InvalidInput,
    )?;
    did = format!("{did}, end_read({r2}), checkpoint()");
    let want = Checkpoint {
        backfilled: 0,
        restarted: true,
    };
    expect_eq(
        did.clone(),
        describe(&pager.checkpoint()),
        describe(&Ok::<_, io::Error>(want)),
    )?;
    expect_db(&disk, &did, &s3, "the last commit: no reader open")?;
    let r3 = pager.begin_read().map_err(|e| io_failure(&did, e))?;
    did = format!("{did}, begin_read() = {r3}");
    expect_eq(
        format!("{did}, snapshot({r3}) (the log restarted)"),
        describe(&pager.snapshot(r3)),
        describe(&Ok::<_, io::Error>(0)),
    )?;
    see(&mut pager, &did, r3, &s3)?;
    // A checkpoint with nothing in the log restarts nothing.
    pager.end_read(r3).map_err(|e| io_failure(&did, e))?;
    did = format!("{did}, end_read({r3}), checkpoint()");
    let want = Checkpoint {
        backfilled: 0,
        restarted: false,
    };
    let before = disk.contents(&wal_name());
    expect_eq(
        did.clone(),
        describe(&pager.checkpoint()),
        describe(&Ok::<_, io::Error>(want)),
    )?;
    if disk.contents(&wal_name()) != before {
        return fail(format!(
            "did:      {did}\nexpected: a log with no frame is left as it is\ngot:      it \
             changed"
        ));
    }
    // A reader whose snapshot is the last commit frame needs nothing from the log, but its
    // snapshot's number still names frames: the log must not restart under it.
    let t4: &[(u32, u8)] = &[(1, 5)];
    let t5: &[(u32, u8)] = &[(1, 6), (3, 6)];
    let s4 = apply(&s3, t4);
    commit(&mut pager, t4).map_err(|e| io_failure(&did, e))?;
    did = format!("{did}, {}", show_writes(t4));
    let r4 = pager.begin_read().map_err(|e| io_failure(&did, e))?;
    did = format!("{did}, begin_read() = {r4}, checkpoint()");
    let want = Checkpoint {
        backfilled: 1,
        restarted: false,
    };
    expect_eq(
        format!("{did} (reader {r4} is open: no restart)"),
        describe(&pager.checkpoint()),
        describe(&Ok::<_, io::Error>(want)),
    )?;
    commit(&mut pager, t5).map_err(|e| io_failure(&did, e))?;
    did = format!("{did}, {}", show_writes(t5));
    see(&mut pager, &did, r4, &s4)?;
    Ok(())
}

/// Holds the database file (pages and header's page count) to `state`.
fn expect_db(disk: &SimDisk, did: &str, state: &State, why: &str) -> CheckResult {
    let db = disk.contents(NAME).unwrap_or_default();
    let count = db.len() / SIZE;
    if count != state.len() || !db.len().is_multiple_of(SIZE) {
        return fail(format!(
            "did:      {did}\nexpected: the database file as of {why} ({}): {} pages of {SIZE} \
             bytes\ngot:      {} bytes",
            show_state(state),
            state.len(),
            db.len()
        ));
    }
    for page in 1..state.len() {
        let got = db.get(page * SIZE..(page + 1) * SIZE).unwrap_or(&[]);
        let want = fill(page as u32, state[page], SIZE);
        if got != want {
            return fail(format!(
                "did:      {did}\nexpected: the database file as of {why} ({}): page {page} \
                 {}\ngot:      page {page} {}",
                show_state(state),
                name_page(&want, SIZE),
                name_page(got, SIZE)
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The model.

#[derive(Clone, Copy)]
enum Step {
    BeginRead(usize),
    EndRead(usize),
    Read(usize, u32),
    BeginWrite,
    Write(u32, u8),
    Commit,
    Rollback,
    Checkpoint,
    Reopen,
    PowerFails,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::BeginRead(slot) => write!(f, "begin_read() as reader {}", slot + 1),
            Step::EndRead(slot) => write!(f, "end_read(reader {})", slot + 1),
            Step::Read(slot, p) => write!(f, "read(reader {}, page #{p})", slot + 1),
            Step::BeginWrite => write!(f, "begin_write()"),
            Step::Write(p, v) => write!(f, "write(page #{p}, version {v})"),
            Step::Commit => write!(f, "commit()"),
            Step::Rollback => write!(f, "rollback()"),
            Step::Checkpoint => write!(f, "checkpoint()"),
            Step::Reopen => write!(f, "reopen"),
            Step::PowerFails => write!(f, "the power fails, reopen"),
        }
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..6u32, 1..255u8).prop_map(|(p, v)| Step::Write(p, v)),
        3 => Just(Step::BeginWrite),
        3 => Just(Step::Commit),
        2 => (0..3usize).prop_map(Step::BeginRead),
        2 => Just(Step::Checkpoint),
        1 => (0..3usize).prop_map(Step::EndRead),
        1 => (0..3usize, 0..6u32).prop_map(|(s, p)| Step::Read(s, p)),
        1 => Just(Step::Rollback),
        1 => Just(Step::Reopen),
        1 => Just(Step::PowerFails),
    ]
}

fn versions_match_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["steps"],
        128,
        prop::collection::vec(step(), 1..40),
        move |steps| run_model(seed, &steps),
    )
}

/// A reader of the model: its id, the index of its state in the history, and its snapshot's
/// frame (unknown after a crash: the model does not know what the log kept).
#[derive(Clone, Copy)]
struct ModelReader {
    id: u64,
    state: usize,
    frame: Option<u64>,
}

fn run_model(seed: u64, steps: &[Step]) -> CheckResult {
    let disk = SimDisk::new(seed);
    let watch = Watch::new(&disk);
    let mut done = format!("Pager::create(dir, {NAME:?}, {SIZE})");
    let mut pager = Pager::create(watch.dir(), NAME, SIZE).map_err(|e| io_failure(&done, e))?;
    // Every committed state; readers point into it.
    let mut history: Vec<State> = vec![vec![0]];
    let mut readers: [Option<ModelReader>; 3] = [None; 3];
    // The open write transaction: its state and the pages it wrote.
    let mut writer: Option<(State, BTreeSet<u32>)> = None;
    // The last commit frame and the checkpoint's progress, while the model knows them.
    let mut last: Option<u64> = Some(0);
    let mut backfilled: Option<u64> = Some(0);
    for &step in steps {
        done = format!("{done}, {step:?}");
        let did = done.as_str();
        let latest = history.len() - 1;
        match step {
            Step::BeginRead(slot) => {
                if readers[slot].is_some() {
                    continue;
                }
                let id = pager.begin_read().map_err(|e| io_failure(did, e))?;
                if readers.iter().flatten().any(|r| r.id == id) {
                    return fail(format!(
                        "did:      {did}\nexpected: a new reader id\ngot:      {id}, an open \
                         reader's"
                    ));
                }
                if let Some(frame) = last {
                    expect_eq(
                        format!("{did}, snapshot({id}) (the last commit frame)"),
                        describe(&pager.snapshot(id)),
                        describe(&Ok::<_, io::Error>(frame)),
                    )?;
                }
                readers[slot] = Some(ModelReader {
                    id,
                    state: latest,
                    frame: last,
                });
            }
            Step::EndRead(slot) => {
                if let Some(reader) = readers[slot].take() {
                    pager.end_read(reader.id).map_err(|e| io_failure(did, e))?;
                }
            }
            Step::Read(slot, sel) => {
                let Some(reader) = readers[slot] else {
                    continue;
                };
                let state = &history[reader.state];
                if state.len() < 2 {
                    continue;
                }
                let page = 1 + sel % (state.len() as u32 - 1);
                let got = pager
                    .read(reader.id, page)
                    .map_err(|e| io_failure(did, e))?;
                let want = fill(page, state[page as usize], SIZE);
                if got != want {
                    return fail(format!(
                        "did:      {did}: read({}, {page})\nexpected: {} (as of the reader's \
                         snapshot)\ngot:      {}",
                        reader.id,
                        name_page(&want, SIZE),
                        name_page(&got, SIZE)
                    ));
                }
            }
            Step::BeginWrite => {
                if writer.is_some() {
                    continue;
                }
                pager.begin_write().map_err(|e| io_failure(did, e))?;
                writer = Some((history[latest].clone(), BTreeSet::new()));
            }
            Step::Write(sel, v) => {
                let Some((state, written)) = &mut writer else {
                    continue;
                };
                let page = 1 + sel % state.len() as u32;
                pager
                    .write(page, &fill(page, v, SIZE))
                    .map_err(|e| io_failure(&format!("{did}: write({page}, ..)"), e))?;
                *state = apply(state, &[(page, v)]);
                written.insert(page);
            }
            Step::Commit | Step::Rollback => {
                let Some((state, written)) = writer.take() else {
                    continue;
                };
                if matches!(step, Step::Rollback) {
                    pager.rollback().map_err(|e| io_failure(did, e))?;
                    continue;
                }
                pager.commit().map_err(|e| io_failure(did, e))?;
                // One frame per page written.
                last = last.map(|frame| frame + written.len() as u64);
                if !written.is_empty() {
                    history.push(state);
                }
            }
            Step::Checkpoint => {
                let oldest = readers.iter().flatten().map(|r| r.state).min();
                let frames: Option<Vec<u64>> = readers.iter().flatten().map(|r| r.frame).collect();
                let target = match (frames, last) {
                    (Some(frames), Some(last)) => {
                        Some(frames.into_iter().min().unwrap_or(last).min(last))
                    }
                    _ => None,
                };
                let got = pager.checkpoint().map_err(|e| io_failure(did, e))?;
                let no_reader = readers.iter().all(Option::is_none);
                let want = match (target, backfilled) {
                    (Some(target), Some(done)) => {
                        let restart = no_reader && last.is_some_and(|l| l > 0);
                        Some(Checkpoint {
                            backfilled: if restart { 0 } else { target.max(done) },
                            restarted: restart,
                        })
                    }
                    _ => None,
                };
                if let Some(want) = want
                    && got != want
                {
                    return fail(format!(
                        "did:      {did}\nexpected: {want:?}\ngot:      {got:?}"
                    ));
                }
                let copied = oldest.unwrap_or(latest);
                expect_db(
                    &disk,
                    did,
                    &history[copied],
                    "the oldest open reader's snapshot (or the last commit, with no reader)",
                )?;
                if no_reader {
                    last = Some(0);
                    backfilled = Some(0);
                } else {
                    backfilled = want.map(|w| w.backfilled);
                }
            }
            Step::Reopen | Step::PowerFails => {
                drop(pager);
                readers = [None; 3];
                writer = None;
                backfilled = Some(0);
                if matches!(step, Step::PowerFails) {
                    disk.restart_disk_only();
                    last = None;
                }
                pager =
                    attempt(|| Pager::open(watch.dir(), NAME)).map_err(|e| io_failure(did, e))?;
                if let Some(problem) =
                    differs(&mut pager, &history[latest]).map_err(|e| io_failure(did, e))?
                {
                    return fail(format!(
                        "did:      {did}\nexpected: the database as the last commit left it \
                         ({})\ngot:      {problem}",
                        show_state(&history[latest])
                    ));
                }
            }
        }
        if let Some(rule) = watch.take() {
            return fail(format!("did:      {did}\n{rule}"));
        }
        // Every open reader sees its snapshot, every page, whatever happened since.
        if matches!(step, Step::Commit | Step::Checkpoint) {
            for reader in readers.iter().flatten() {
                let state = &history[reader.state];
                if let Some(problem) =
                    differs_at(&mut pager, reader.id, state).map_err(|e| io_failure(did, e))?
                {
                    return fail(format!(
                        "did:      {did}\nexpected: reader {} to see the database as of its \
                         snapshot ({})\ngot:      {problem}",
                        reader.id,
                        show_state(state)
                    ));
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Watching the order of writes: the database file synced before the log's header is rewritten.

struct Watched {
    disk: SimDisk,
    broken: Vec<String>,
}

#[derive(Clone)]
struct Watch {
    state: Arc<Mutex<Watched>>,
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Watch")
    }
}

impl Watch {
    fn new(disk: &SimDisk) -> Watch {
        Watch {
            state: Arc::new(Mutex::new(Watched {
                disk: disk.clone(),
                broken: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Watched> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self) -> Option<String> {
        let mut state = self.lock();
        let first = state.broken.first().cloned();
        state.broken.clear();
        first
    }

    fn dir(&self) -> Arc<dyn Dir> {
        let inner = self.lock().disk.dir();
        Arc::new(WatchDir {
            inner,
            watch: self.clone(),
        })
    }

    /// Before a write over the log's header: the database file must be durable, or a crash
    /// loses the pages the old frames held.
    fn before_log_header(&self) {
        let mut state = self.lock();
        // (A database whose name is not yet durable is being created: nothing to lose.)
        let durable = durable_contents(&state.disk, NAME);
        if durable.is_some() && durable != state.disk.contents(NAME) {
            state.broken.push(
                "the log's header was rewritten while the database file had writes not yet \
                 synced: a crash then keeps neither the frames nor the pages copied from them \
                 (sync the database file before the log restarts)"
                    .to_string(),
            );
        }
    }
}

#[derive(Debug)]
struct WatchDir {
    inner: Arc<dyn Dir>,
    watch: Watch,
}

impl WatchDir {
    fn wrap(&self, name: &str, file: io::Result<Box<dyn File>>) -> io::Result<Box<dyn File>> {
        Ok(Box::new(WatchFile {
            inner: file?,
            log: name == wal_name(),
            watch: self.watch.clone(),
        }))
    }
}

impl Dir for WatchDir {
    fn create(&self, name: &str) -> io::Result<Box<dyn File>> {
        self.wrap(name, self.inner.create(name))
    }
    fn open(&self, name: &str) -> io::Result<Box<dyn File>> {
        self.wrap(name, self.inner.open(name))
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.inner.remove(name)
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn list(&self) -> io::Result<Vec<String>> {
        self.inner.list()
    }
    fn sync(&self) -> io::Result<()> {
        self.inner.sync()
    }
}

#[derive(Debug)]
struct WatchFile {
    inner: Box<dyn File>,
    log: bool,
    watch: Watch,
}

impl File for WatchFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_at(offset, buf)
    }
    fn append(&self, data: &[u8]) -> io::Result<u64> {
        if self.log && self.inner.len()? < WAL_HEADER_LEN as u64 {
            self.watch.before_log_header();
        }
        self.inner.append(data)
    }
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        if self.log && offset < WAL_HEADER_LEN as u64 {
            self.watch.before_log_header();
        }
        self.inner.write_at(offset, data)
    }
    fn truncate(&self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn sync(&self) -> io::Result<()> {
        self.inner.sync()
    }
}

// ---------------------------------------------------------------------------------------------
// Stale frames after a restart.

fn stale_frames_are_ignored(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let mut did = format!("Pager::create(dir, {NAME:?}, {SIZE})");
    let mut pager = Pager::create(disk.dir(), NAME, SIZE).map_err(|e| io_failure(&did, e))?;
    // Two transactions of one frame each; a restart; one transaction writing page 1 as the
    // first did: with the same salts its frame would be the first's, byte for byte, and the
    // second's frame after it would chain on.
    let script: [(&[(u32, u8)], bool); 5] = [
        (&[(1, 1)], false),
        (&[(1, 2)], true),
        (&[(1, 3)], true),
        (&[(1, 1)], false),
        (&[(1, 1)], false),
    ];
    let mut state: State = vec![0];
    for (writes, checkpoint) in script {
        if checkpoint {
            did = format!("{did}, checkpoint()");
            let result = pager.checkpoint().map_err(|e| io_failure(&did, e))?;
            if !result.restarted {
                return fail(format!(
                    "did:      {did}\nexpected: the log restarted (no reader open, every frame \
                     copied)\ngot:      {result:?}"
                ));
            }
        }
        did = format!("{did}, {}", show_writes(writes));
        commit(&mut pager, writes).map_err(|e| io_failure(&did, e))?;
        state = apply(&state, writes);
        drop(pager);
        did = format!("{did}, reopen");
        pager = Pager::open(disk.dir(), NAME).map_err(|e| io_failure(&did, e))?;
        if let Some(problem) = differs(&mut pager, &state).map_err(|e| io_failure(&did, e))? {
            return fail(format!(
                "did:      {did}\nexpected: {} (the last commit; the frames of the log from \
                 before the restart carry the old salts, and must not be taken)\ngot:      \
                 {problem}",
                show_state(&state)
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Workloads, crashes and faults.

#[derive(Clone)]
enum Op {
    BeginRead(usize),
    EndRead(usize),
    Tx(Vec<(u32, u8)>, bool),
    Checkpoint,
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::BeginRead(slot) => write!(f, "begin_read() as reader {}", slot + 1),
            Op::EndRead(slot) => write!(f, "end_read(reader {})", slot + 1),
            Op::Tx(writes, true) => write!(f, "{}", show_writes(writes)),
            Op::Tx(writes, false) => {
                let shown = show_writes(writes);
                write!(f, "{}rollback()", &shown[..shown.len() - "commit()".len()])
            }
            Op::Checkpoint => write!(f, "checkpoint()"),
        }
    }
}

fn show_ops(ops: &[Op]) -> String {
    ops.iter().map(|op| format!("\n  {op:?}")).collect()
}

fn workloads() -> Vec<Vec<Op>> {
    use Op::*;
    vec![
        vec![
            Tx(vec![(1, 1), (2, 1), (3, 1)], true),
            Tx(vec![(2, 2), (4, 2)], true),
            Checkpoint,
            Tx(vec![(1, 3)], true),
            Tx(vec![(3, 4), (2, 4)], false),
            Checkpoint,
            Tx(vec![(5, 5), (4, 5)], true),
        ],
        vec![
            Tx(vec![(1, 1), (2, 1)], true),
            BeginRead(0),
            Tx(vec![(1, 2), (3, 2)], true),
            Checkpoint,
            Tx(vec![(2, 3)], true),
            EndRead(0),
            Checkpoint,
            Tx(vec![(3, 4), (1, 4)], true),
            Checkpoint,
            Checkpoint,
        ],
    ]
}

fn states_of(ops: &[Op]) -> Vec<State> {
    let mut states = vec![vec![0]];
    for op in ops {
        if let Op::Tx(writes, true) = op {
            let next = apply(states.last().unwrap(), writes);
            states.push(next);
        }
    }
    states
}

#[derive(Debug, Default, Clone, Copy)]
struct Progress {
    committed: usize,
    under_way: bool,
}

/// Opens the database and runs `ops`, stopping at the first error.
fn run_ops(dir: Arc<dyn Dir>, ops: &[Op], progress: &mut Progress) -> io::Result<()> {
    let mut pager = attempt(|| Pager::open(dir, NAME))?;
    let mut readers = [None; 2];
    for op in ops {
        match op {
            Op::BeginRead(slot) => readers[*slot] = Some(attempt(|| pager.begin_read())?),
            Op::EndRead(slot) => {
                if let Some(id) = readers[*slot].take() {
                    attempt(|| pager.end_read(id))?;
                }
            }
            Op::Tx(writes, true) => {
                progress.under_way = true;
                attempt(|| commit(&mut pager, writes))?;
                progress.under_way = false;
                progress.committed += 1;
            }
            Op::Tx(writes, false) => attempt(|| {
                pager.begin_write()?;
                for &(page, v) in writes {
                    pager.write(page, &fill(page, v, SIZE))?;
                }
                pager.rollback()
            })?,
            Op::Checkpoint => {
                attempt(|| pager.checkpoint())?;
            }
        }
    }
    Ok(())
}

fn fresh(seed: u64, profile: Profile) -> Result<SimDisk, Failure> {
    let disk = SimDisk::with_profile(seed, profile);
    Pager::create(disk.dir(), NAME, SIZE)
        .map_err(|e| io_failure(&format!("Pager::create(dir, {NAME:?}, {SIZE})"), e))?;
    Ok(disk)
}

/// Opens the database after a crash or a failure and holds it to one of `allowed`, every page;
/// then again after the worst crash.
fn expect_recovered(
    disk: &SimDisk,
    allowed: &[&State],
    context: &dyn Fn() -> String,
) -> CheckResult {
    for round in [
        "open",
        "the power fails again (nothing unsynced survives), and open",
    ] {
        if round != "open" {
            disk.restart_losing_unsynced();
        }
        let watch = Watch::new(disk);
        let mut pager = match attempt(|| Pager::open(watch.dir(), NAME)) {
            Ok(pager) => pager,
            Err(error) => {
                return fail(format!(
                    "{}; {round}\nexpected: the database opens\ngot:      Err({:?}): {error}",
                    context(),
                    error.kind()
                ));
            }
        };
        let mut problems = Vec::new();
        for state in allowed {
            match attempt(|| differs(&mut pager, state)) {
                Ok(None) => {
                    problems.clear();
                    break;
                }
                Ok(Some(problem)) => problems.push(problem),
                Err(error) => problems.push(format!("Err({:?}): {error}", error.kind())),
            }
        }
        if !problems.is_empty() {
            let expected: Vec<String> = allowed.iter().map(|s| show_state(s)).collect();
            return fail(format!(
                "{}; {round}\nexpected: the database as the last transaction whose commit \
                 returned left it{}: {}\ngot:      {}",
                context(),
                if allowed.len() > 1 {
                    ", or the one under way"
                } else {
                    ""
                },
                expected.join(" or "),
                problems.join("; or against the other: ")
            ));
        }
        if let Some(rule) = watch.take() {
            return fail(format!("{}; {round}\nduring recovery, {rule}", context()));
        }
    }
    Ok(())
}

fn crash_at_every_step(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    for (profile, name) in [(Profile::GENTLE, "gentle"), (Profile::HARSH, "harsh")] {
        for ops in workloads() {
            crash_sweep(seed, profile, name, &ops)?;
        }
    }
    Ok(())
}

fn crash_sweep(seed: u64, profile: Profile, profile_name: &str, ops: &[Op]) -> CheckResult {
    let states = states_of(ops);
    let prepared = fresh(seed, profile)?;
    let golden = prepared.fork();
    let start = golden.steps();
    let watch = Watch::new(&golden);
    run_ops(watch.dir(), ops, &mut Progress::default()).map_err(|e| {
        io_failure(
            &format!(
                "Pager::create, Pager::open(dir, {NAME:?}), then{}",
                show_ops(ops)
            ),
            e,
        )
    })?;
    if let Some(rule) = watch.take() {
        return fail(format!(
            "did:      Pager::create, Pager::open(dir, {NAME:?}), then{}\n{rule}",
            show_ops(ops)
        ));
    }
    let steps = golden.steps() - start;
    for crash in 1..=steps {
        let disk = prepared.fork_reseeded(seed ^ crash.wrapping_mul(0x9E37_79B9));
        disk.crash_at_step(disk.steps() + crash);
        let mut progress = Progress::default();
        let result = run_ops(disk.dir(), ops, &mut progress);
        let context = |extra: &str| {
            format!(
                "did:      Pager::create, Pager::open(dir, {NAME:?}), then{}\n          on a \
                 {profile_name} disk, the power failed at I/O step {crash} of {steps}, after {} \
                 commits returned{extra}",
                show_ops(ops),
                progress.committed
            )
        };
        if let Err(error) = &result
            && !disk.is_crashed()
        {
            return fail(format!(
                "{}\nexpected: the run to go on until the power failed\ngot:      Err({:?}): \
                 {error}",
                context(""),
                error.kind()
            ));
        }
        let aftermath = if crash % 16 == seed % 16 || crash == steps {
            disk.restart()
        } else {
            disk.restart_disk_only()
        };
        // And the power fails again, during recovery.
        let trial = disk.fork();
        let before = trial.steps();
        let mut during = String::new();
        if attempt(|| Pager::open(trial.dir(), NAME)).is_ok() {
            let recovery = trial.steps() - before;
            if recovery > 0 {
                let into = 1 + (crash * 7919) % recovery;
                disk.crash_at_step(disk.steps() + into);
                let _ = attempt(|| Pager::open(disk.dir(), NAME));
                let again = disk.restart_disk_only();
                during = format!(
                    "; the power failed again at step {into} of open's {recovery}; on restart \
                     {again}"
                );
            }
        }
        let mut allowed = vec![&states[progress.committed]];
        if progress.under_way {
            allowed.push(&states[progress.committed + 1]);
        }
        let extra = format!("; on restart {aftermath}{during}");
        expect_recovered(&disk, &allowed, &|| context(&extra))?;
    }
    Ok(())
}

fn faults_for(kind: OpKind) -> Vec<Fault> {
    match kind {
        OpKind::Write => vec![Fault::IoError, Fault::DiskFull],
        OpKind::Sync => vec![Fault::SyncLosesData, Fault::IoError],
        _ => vec![Fault::IoError],
    }
}

const KINDS: [OpKind; 7] = [
    OpKind::Write,
    OpKind::Sync,
    OpKind::DirSync,
    OpKind::Create,
    OpKind::Read,
    OpKind::Open,
    OpKind::Len,
];

fn faults_everywhere(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    for (profile, profile_name) in [(Profile::GENTLE, "gentle"), (Profile::HARSH, "harsh")] {
        for ops in workloads() {
            let states = states_of(&ops);
            let prepared = fresh(seed, profile)?;
            let golden = prepared.fork();
            let counter = FaultDir::new(&golden, &[]);
            run_ops(counter.dir(), &ops, &mut Progress::default())
                .map_err(|e| io_failure(&format!("the run{}", show_ops(&ops)), e))?;
            for kind in KINDS {
                for n in 1..=counter.count(kind) {
                    for fault in faults_for(kind) {
                        let disk = prepared.fork_reseeded(seed ^ n);
                        let faulty = FaultDir::new(&disk, &[Aim { kind, n, fault }]);
                        let mut progress = Progress::default();
                        let result = run_ops(faulty.dir(), &ops, &mut progress);
                        disk.restart_losing_unsynced();
                        let mut allowed = vec![&states[progress.committed]];
                        if progress.under_way {
                            allowed.push(&states[progress.committed + 1]);
                        }
                        let context = || {
                            format!(
                                "did:      Pager::create, Pager::open(dir, {NAME:?}), then{}\n \
                                 on a {profile_name} disk, operation {n} of kind {kind:?} \
                                 failed with {fault:?} (the run: {}); then the power failed \
                                 (nothing unsynced survives)",
                                show_ops(&ops),
                                describe(&result)
                            )
                        };
                        expect_recovered(&disk, &allowed, &context)?;
                    }
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Logs written by hand.

/// The database file: the header page as create writes it, and `state`'s pages.
fn db_bytes(state: &State) -> Vec<u8> {
    let mut bytes = vec![0u8; SIZE];
    bytes[..16].copy_from_slice(MAGIC);
    bytes[16..20].copy_from_slice(&(SIZE as u32).to_be_bytes());
    bytes[20..24].copy_from_slice(&1u32.to_be_bytes());
    for (page, &v) in state.iter().enumerate().skip(1) {
        bytes.extend_from_slice(&fill(page as u32, v, SIZE));
    }
    bytes
}

/// A log of `txs` after a header with `salts`: each transaction's frames, the last one marked
/// if its entry of `commits` says so.
fn log_bytes(base: &State, salts: (u32, u32), txs: &[&[(u32, u8)]], commits: &[bool]) -> Vec<u8> {
    let mut bytes = log_header(SIZE, salts);
    let mut sum = be(&bytes, 16);
    let mut state = base.clone();
    for (tx, &marked) in txs.iter().zip(commits) {
        state = apply(&state, tx);
        for (i, &(page, v)) in tx.iter().enumerate() {
            let commit = if marked && i + 1 == tx.len() {
                state.len() as u32
            } else {
                0
            };
            let (frame, next) = frame_bytes(sum, page, commit, salts, &fill(page, v, SIZE));
            bytes.extend_from_slice(&frame);
            sum = next;
        }
    }
    bytes
}

fn handmade(seed: u64, db: &[u8], log: Option<&[u8]>) -> SimDisk {
    let disk = SimDisk::new(seed);
    let dir = disk.dir();
    let mut files = vec![(NAME.to_string(), db)];
    if let Some(log) = log {
        files.push((wal_name(), log));
    }
    for (name, bytes) in files {
        let f = dir.create(&name).expect("a fresh disk");
        f.write_at(0, bytes).expect("a fresh disk");
        f.sync().expect("a fresh disk");
    }
    dir.sync().expect("a fresh disk");
    disk
}

fn frame_at(n: usize) -> usize {
    WAL_HEADER_LEN + n * (FRAME_HEADER_LEN + SIZE)
}

fn handmade_logs(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let base: State = vec![0, 1, 1];
    let t1: &[(u32, u8)] = &[(1, 2), (3, 2)];
    let t2: &[(u32, u8)] = &[(2, 3), (1, 3)];
    let s1 = apply(&base, t1);
    let s2 = apply(&s1, t2);
    let salts = (7, 0xC0FF_EE00);
    let both = log_bytes(&base, salts, &[t1, t2], &[true, true]);
    let mut cases: Vec<(String, Option<Vec<u8>>, &State)> = vec![(
        "two transactions, both committed".into(),
        Some(both.clone()),
        &s2,
    )];
    cases.push((
        "two transactions, the second without its commit frame (a transaction cut short)".into(),
        Some(log_bytes(&base, salts, &[t1, t2], &[true, false])),
        &s1,
    ));
    let mut torn = both.clone();
    torn[frame_at(3) + FRAME_HEADER_LEN + 100] ^= 0x5A;
    cases.push((
        "two transactions, a byte of the second's commit frame's page changed (torn)".into(),
        Some(torn),
        &s1,
    ));
    let mut torn_first = both.clone();
    torn_first[frame_at(2) + FRAME_HEADER_LEN + 7] ^= 0x01;
    cases.push((
        "two transactions, a byte of the second's first frame changed (its commit frame \
         intact)"
            .into(),
        Some(torn_first),
        &s1,
    ));
    let mut cut = both.clone();
    cut.truncate(frame_at(3) + 300);
    cases.push((
        "two transactions, the log cut in the middle of the last frame".into(),
        Some(cut),
        &s1,
    ));
    let mut other_salts = both.clone();
    let stale = log_bytes(&base, (6, 0xC0FF_EE00), &[t1, t2], &[true, true]);
    other_salts[frame_at(2)..].copy_from_slice(&stale[frame_at(2)..]);
    cases.push((
        "two transactions, the second's frames from a log with salt-1 6 (left from before a \
         restart)"
            .into(),
        Some(other_salts),
        &s1,
    ));
    // The second transaction's frames each checked on their own, not chained.
    let mut unchained = log_bytes(&base, salts, &[t1], &[true]);
    let s_mid = apply(&base, t1);
    for (i, &(page, v)) in t2.iter().enumerate() {
        let commit = if i + 1 == t2.len() {
            apply(&s_mid, t2).len() as u32
        } else {
            0
        };
        let (frame, _) = frame_bytes(0, page, commit, salts, &fill(page, v, SIZE));
        unchained.extend_from_slice(&frame);
    }
    cases.push((
        "two transactions, the second's frames with checksums that start from 0 rather than \
         chain from the frame before"
            .into(),
        Some(unchained),
        &s1,
    ));
    let mut bad_header = both.clone();
    bad_header[9] ^= 0x01;
    cases.push((
        "two transactions after a header whose checksum fails (salt-1 changed)".into(),
        Some(bad_header),
        &base,
    ));
    let mut other_size = log_bytes(&base, salts, &[], &[]);
    other_size[4..8].copy_from_slice(&1024u32.to_be_bytes());
    let sum = crc32(&other_size[..16]);
    other_size[16..20].copy_from_slice(&sum.to_be_bytes());
    cases.push((
        "a header naming page size 1024 (the database's is 512)".into(),
        Some(other_size),
        &base,
    ));
    cases.push(("an empty log".into(), Some(Vec::new()), &base));
    cases.push(("no log at all".into(), None, &base));
    for (case, log, want) in cases {
        let disk = handmade(seed, &db_bytes(&base), log.as_deref());
        let mut did = format!(
            "a database of {} (synced), and a log written by hand: {case}; \
             Pager::open(dir, {NAME:?})",
            show_state(&base)
        );
        let mut pager =
            attempt(|| Pager::open(disk.dir(), NAME)).map_err(|e| io_failure(&did, e))?;
        if let Some(problem) = differs(&mut pager, want).map_err(|e| io_failure(&did, e))? {
            return fail(format!(
                "did:      {did}\nexpected: {}\ngot:      {problem}",
                show_state(want)
            ));
        }
        // A commit after recovery goes after the last valid commit frame, chained from it, and
        // survives a crash.
        let t3: &[(u32, u8)] = &[(2, 9)];
        did = format!("{did}, {}, the power fails, open", show_writes(t3));
        commit(&mut pager, t3).map_err(|e| io_failure(&did, e))?;
        drop(pager);
        disk.restart_losing_unsynced();
        let after = apply(want, t3);
        let mut pager =
            attempt(|| Pager::open(disk.dir(), NAME)).map_err(|e| io_failure(&did, e))?;
        if let Some(problem) = differs(&mut pager, &after).map_err(|e| io_failure(&did, e))? {
            return fail(format!(
                "did:      {did}\nexpected: {} (the new transaction's frames chain on from the \
                 last valid commit frame)\ngot:      {problem}",
                show_state(&after)
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Misuse, and failures.

fn misuse_and_failures(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let disk = SimDisk::new(seed);
    for size in [0, 1, 256, 511, 513, 1000, 131_072, usize::MAX] {
        expect_kind(
            &format!("Pager::create(dir, {NAME:?}, {size})"),
            Pager::create(disk.dir(), NAME, size).map(|_| ()),
            ErrorKind::InvalidInput,
        )?;
    }
    if !disk.files().is_empty() {
        return fail(
            "did:      Pager::create with bad page sizes\nexpected: no file made\ngot:      a \
             file on the disk"
                .to_string(),
        );
    }
    expect_kind(
        &format!("Pager::open(dir, {NAME:?}) with no database"),
        Pager::open(disk.dir(), NAME).map(|_| ()),
        ErrorKind::NotFound,
    )?;
    // Database files that are not one.
    let good = db_bytes(&vec![0, 1]);
    let mut bad_magic = good.clone();
    bad_magic[3] ^= 0x20;
    let mut bad_size = good.clone();
    bad_size[16..20].copy_from_slice(&1000u32.to_be_bytes());
    let mut huge_size = good.clone();
    huge_size[16..20].copy_from_slice(&131_072u32.to_be_bytes());
    let bad: [(&str, Vec<u8>); 5] = [
        ("an empty database file", Vec::new()),
        ("a database file of 20 bytes", good[..20].to_vec()),
        ("a database file with another magic", bad_magic),
        (
            "a database file whose header names page size 1000",
            bad_size,
        ),
        (
            "a database file whose header names page size 131072",
            huge_size,
        ),
    ];
    for (case, bytes) in bad {
        let disk = handmade(seed, &bytes, None);
        expect_kind(
            &format!("{case}; Pager::open(dir, {NAME:?})"),
            attempt(|| Pager::open(disk.dir(), NAME)).map(|_| ()),
            ErrorKind::InvalidData,
        )?;
    }
    let mut did = format!("Pager::create(dir, {NAME:?}, {SIZE})");
    let mut pager = Pager::create(disk.dir(), NAME, SIZE).map_err(|e| io_failure(&did, e))?;
    commit(&mut pager, &[(1, 1), (2, 1)]).map_err(|e| io_failure(&did, e))?;
    did = format!("{did}, {}", show_writes(&[(1, 1), (2, 1)]));
    let reader = pager.begin_read().map_err(|e| io_failure(&did, e))?;
    did = format!("{did}, begin_read() = {reader}");
    let page = fill(1, 5, SIZE);
    let stats = disk.stats();
    let unknown = reader.wrapping_add(1000);
    let calls: Vec<(String, io::Result<()>)> = vec![
        (
            "write(1, ..) with no write transaction".into(),
            pager.write(1, &page),
        ),
        ("commit() with no write transaction".into(), pager.commit()),
        (
            "rollback() with no write transaction".into(),
            pager.rollback(),
        ),
        (
            format!("read({unknown}, 1) (no such reader)"),
            pager.read(unknown, 1).map(|_| ()),
        ),
        (
            format!("snapshot({unknown})"),
            pager.snapshot(unknown).map(|_| ()),
        ),
        (
            format!("page_count({unknown})"),
            pager.page_count(unknown).map(|_| ()),
        ),
        (format!("end_read({unknown})"), pager.end_read(unknown)),
        (
            format!("read({reader}, 0)"),
            pager.read(reader, 0).map(|_| ()),
        ),
        (
            format!("read({reader}, 3) (3 pages)"),
            pager.read(reader, 3).map(|_| ()),
        ),
        (
            format!("read({reader}, u32::MAX)"),
            pager.read(reader, u32::MAX).map(|_| ()),
        ),
    ];
    for (call, result) in calls {
        expect_kind(&format!("{did}, {call}"), result, ErrorKind::InvalidInput)?;
    }
    did = format!("{did}, begin_write()");
    pager.begin_write().map_err(|e| io_failure(&did, e))?;
    let calls: Vec<(String, io::Result<()>)> = vec![
        ("begin_write() again".into(), pager.begin_write()),
        ("write(0, ..)".into(), pager.write(0, &page)),
        (
            "write(4, ..) (3 pages: 3 may be added, not 4)".into(),
            pager.write(4, &page),
        ),
        ("write(u32::MAX, ..)".into(), pager.write(u32::MAX, &page)),
        ("write(1, 511 bytes)".into(), pager.write(1, &page[..511])),
        (
            "write(1, 513 bytes)".into(),
            pager.write(1, &[page.clone(), vec![0]].concat()),
        ),
        ("write(1, no bytes)".into(), pager.write(1, &[])),
    ];
    for (call, result) in calls {
        expect_kind(&format!("{did}, {call}"), result, ErrorKind::InvalidInput)?;
    }
    // Nothing above touched the disk; nor does an empty commit, a rollback, or a reader.
    let quiet: Vec<(&str, io::Result<()>)> = vec![
        ("commit() of nothing", pager.commit()),
        ("begin_write()", pager.begin_write()),
        ("write(1, ..)", pager.write(1, &page)),
        ("rollback()", pager.rollback()),
        ("begin_read()", pager.begin_read().map(|_| ())),
    ];
    for (call, result) in quiet {
        did = format!("{did}, {call}");
        result.map_err(|e| io_failure(&did, e))?;
    }
    let now = disk.stats();
    if (now.writes, now.syncs, now.dir_syncs) != (stats.writes, stats.syncs, stats.dir_syncs) {
        return fail(format!(
            "did:      {did}\nexpected: no write and no sync (the calls refused, an empty \
             commit, a rollback and begin_read touch no disk)\ngot:      {} writes, {} syncs",
            now.writes - stats.writes,
            now.syncs - stats.syncs + now.dir_syncs - stats.dir_syncs
        ));
    }
    // The state is as it was.
    drop(pager);
    let mut pager = Pager::open(disk.dir(), NAME).map_err(|e| io_failure(&did, e))?;
    if let Some(problem) = differs(&mut pager, &vec![0, 1, 1]).map_err(|e| io_failure(&did, e))? {
        return fail(format!(
            "did:      {did}, reopen\nexpected: the database as committed, 3 pages\ngot:      \
             {problem}"
        ));
    }
    drop(pager);
    // A read that fails fails the call, and nothing else: from the database file, from the
    // log, and inside a checkpoint.
    {
        let disk = SimDisk::new(seed);
        let did = format!(
            "Pager::create(dir, {NAME:?}, {SIZE}), {}, checkpoint(), {}, reopen, begin_read()",
            show_writes(&[(1, 1), (2, 1)]),
            show_writes(&[(2, 2)])
        );
        let mut pager = Pager::create(disk.dir(), NAME, SIZE).map_err(|e| io_failure(&did, e))?;
        commit(&mut pager, &[(1, 1), (2, 1)]).map_err(|e| io_failure(&did, e))?;
        pager.checkpoint().map_err(|e| io_failure(&did, e))?;
        commit(&mut pager, &[(2, 2)]).map_err(|e| io_failure(&did, e))?;
        drop(pager);
        let faulty = FaultDir::new(&disk, &[]);
        let mut pager = Pager::open(faulty.dir(), NAME).map_err(|e| io_failure(&did, e))?;
        let reader = pager.begin_read().map_err(|e| io_failure(&did, e))?;
        for (page, v, from) in [(1, 1, "the database file"), (2, 2, "the log")] {
            faulty.arm(OpKind::Read, 1, Fault::IoError);
            let did = format!("{did}, read({reader}, {page}) (from {from}) failing with IoError");
            if pager.read(reader, page).is_ok() {
                return fail(format!(
                    "did:      {did}\nexpected: the read to fail\ngot:      Ok"
                ));
            }
            let got = pager
                .read(reader, page)
                .map_err(|e| io_failure(&format!("{did}, then read({reader}, {page}) again"), e))?;
            let want = fill(page, v, SIZE);
            if got != want {
                return fail(format!(
                    "did:      {did}, then read({reader}, {page}) again\nexpected: {} (a failed \
                     read changes nothing, and the pager goes on)\ngot:      {}",
                    name_page(&want, SIZE),
                    name_page(&got, SIZE)
                ));
            }
        }
        pager.end_read(reader).map_err(|e| io_failure(&did, e))?;
        faulty.arm(OpKind::Read, 1, Fault::IoError);
        let did = format!("{did}, end_read({reader}), checkpoint() with its first read failing");
        if pager.checkpoint().is_ok() {
            return fail(format!(
                "did:      {did}\nexpected: the checkpoint to fail\ngot:      Ok"
            ));
        }
        let got = pager.checkpoint();
        let want = Checkpoint {
            backfilled: 0,
            restarted: true,
        };
        expect_eq(
            format!("{did}, then checkpoint() again"),
            describe(&got),
            describe(&Ok::<_, io::Error>(want)),
        )?;
        expect_db(&disk, &did, &vec![0, 1, 2], "the last commit")?;
    }
    // Other page sizes, the largest included: frames are 20 bytes and a page, whatever the page.
    for size in [1024, 65536] {
        let disk = SimDisk::new(seed);
        let t1: &[(u32, u8)] = &[(1, 1), (2, 1)];
        let t2: &[(u32, u8)] = &[(2, 2), (3, 2)];
        let did = format!(
            "Pager::create(dir, {NAME:?}, {size}), {}, {}",
            show_writes(t1),
            show_writes(t2)
        );
        let mut pager = Pager::create(disk.dir(), NAME, size).map_err(|e| io_failure(&did, e))?;
        commit(&mut pager, t1).map_err(|e| io_failure(&did, e))?;
        commit(&mut pager, t2).map_err(|e| io_failure(&did, e))?;
        drop(pager);
        let log = disk.contents(&wal_name()).unwrap_or_default();
        let expected = WAL_HEADER_LEN + 4 * (FRAME_HEADER_LEN + size);
        if log.len() != expected {
            return fail(format!(
                "did:      {did}\nexpected: a log of {expected} bytes (a header, then 4 frames of \
                 {FRAME_HEADER_LEN} + {size} bytes)\ngot:      {} bytes",
                log.len()
            ));
        }
        let want = apply(&apply(&vec![0], t1), t2);
        for round in [", reopen", ", reopen, checkpoint(), reopen"] {
            let did = format!("{did}{round}");
            let mut pager = Pager::open(disk.dir(), NAME).map_err(|e| io_failure(&did, e))?;
            if let Some(problem) = differs(&mut pager, &want).map_err(|e| io_failure(&did, e))? {
                return fail(format!(
                    "did:      {did}\nexpected: {}\ngot:      {problem}",
                    show_state(&want)
                ));
            }
            pager.checkpoint().map_err(|e| io_failure(&did, e))?;
        }
    }
    // After a failed write or sync, the pager stops.
    for (kind, n, fault, what) in [
        (OpKind::Write, 1, Fault::IoError, "commit()"),
        (OpKind::Sync, 1, Fault::SyncLosesData, "commit()"),
        (OpKind::Write, 2, Fault::DiskFull, "checkpoint()"),
        (OpKind::Sync, 1, Fault::IoError, "checkpoint()"),
    ] {
        let disk = SimDisk::new(seed);
        let mut pager =
            Pager::create(disk.dir(), NAME, SIZE).map_err(|e| io_failure("Pager::create", e))?;
        if what == "checkpoint()" {
            commit(&mut pager, &[(1, 1), (2, 1)]).map_err(|e| io_failure("a commit", e))?;
        }
        drop(pager);
        let faulty = FaultDir::new(&disk, &[Aim { kind, n, fault }]);
        let did = format!(
            "Pager::open(dir, {NAME:?}) with operation {n} of kind {kind:?} failing with \
             {fault:?}, then {}",
            if what == "commit()" {
                show_writes(&[(1, 1), (2, 1)])
            } else {
                "checkpoint()".to_string()
            }
        );
        let mut pager = Pager::open(faulty.dir(), NAME).map_err(|e| io_failure(&did, e))?;
        let result = match what {
            "commit()" => commit(&mut pager, &[(1, 1), (2, 1)]),
            _ => pager.checkpoint().map(|_| ()),
        };
        if result.is_ok() {
            return fail(format!(
                "did:      {did}\nexpected: the call to fail, its disk operation failed\ngot:      \
                 Ok"
            ));
        }
        let calls: [(&str, io::Result<()>); 4] = [
            ("begin_read()", pager.begin_read().map(|_| ())),
            ("begin_write()", pager.begin_write()),
            ("checkpoint()", pager.checkpoint().map(|_| ())),
            ("commit()", pager.commit()),
        ];
        for (call, result) in calls {
            if result.is_ok() {
                return fail(format!(
                    "did:      {did} (which failed), then {call}\nexpected: an error: after a \
                     failed write or sync the pager stops, and every call fails\ngot:      Ok"
                ));
            }
        }
    }
    Ok(())
}
