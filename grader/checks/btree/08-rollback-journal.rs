//! Hidden checks for btree/rollback-journal.

use std::fmt;
use std::io::{self, ErrorKind};
use std::sync::{Arc, Mutex, PoisonError};

use btree_rollback_journal::{JOURNAL_HEADER_LEN, JOURNAL_MAGIC, JOURNAL_SUFFIX, MAGIC, Pager};
use judge::prelude::*;
use kit::checksum::crc32;
use kit::disk::{Dir, File};
use kit::fault::{Aim, FaultDir, attempt};
use kit::sim::{Fault, OpKind, Profile, SimDisk};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "the journal, read byte for byte as the README lays it out: a segment header \
             (magic, record count, nonce, page count before the transaction, page size, \
             big-endian), then records of page number, original bytes and checksum, page 0 \
             first, each page once, in the order the transaction first changed them, no page \
             the transaction allocated; and a synced segment is never written again",
            journal_layout,
        )
        .check(
            "begin, write, allocate, set_free_list, read, commit, rollback, reopen and the power \
             failing, against a model: reads, page count and free list are the model's; a \
             commit that returned survives any crash; and at every write of the database in a \
             transaction the journal a crash would leave already holds the page's original, \
             and the journal is removed only once the database is synced",
            transactions_match_model,
        )
        .check(
            "rollback, scripted: with pages evicted to the file mid-transaction, a file grown \
             and the free list changed, every page reads as before, page count and free list \
             are as before, the file is the old one byte for byte even after a crash, the \
             journal is gone, and the next transaction commits",
            rollback_restores,
        )
        .check(
            "the power failing at every I/O step of a run of transactions (commits and \
             rollbacks included), and again during recovery, on a gentle and on a harsh disk: \
             the file reopens as the database before the interrupted transaction or after it, \
             page for page and byte for byte, never a mix, and never without a transaction \
             whose commit returned",
            crash_at_every_step,
        )
        .check(
            "every disk operation of a run of transactions failed in turn (I/O errors, a full \
             disk, a sync that drops data, failed writes that leave a prefix): after the worst \
             crash the file reopens as the database before the failed transaction or after it, \
             and after it if a commit returned",
            faults_in_transactions,
        )
        .check(
            "after a write, a sync, a create or a directory sync fails, the pager stops: every \
             later call fails (read, write, allocate, begin, commit, rollback), and the database \
             reopens as it was",
            failure_stops_the_pager,
        )
        .check(
            "every disk operation of recovery failed in turn, then the worst crash: opening \
             again recovers the database as it was before the transaction, byte for byte (the \
             file cut to its old length), and the journal is gone",
            faults_in_recovery,
        )
        .check(
            "open plays back a journal written by hand: every segment, up to the first record \
             whose checksum fails (a torn record is not played back) or a segment header that \
             is not one of this journal's; the file is cut to the old page count; a journal \
             with no valid header (the magic, and a page size that is a power of two from 512 \
             to 65536) is removed and changes nothing",
            handmade_journals,
        )
        .check(
            "reads and syncs the README counts: a read that fails while journaling an original \
             fails that call only (the same write again succeeds, and the transaction commits); \
             the original of a page in the cache is taken from the cache, with no read; and a \
             commit after an eviction synced every record writes no new segment to the journal",
            reads_and_syncs,
        )
        .check(
            "write, allocate and set_free_list with no transaction open, begin with one open, \
             commit and rollback with none, bad pages and a cache of 0 pages are InvalidInput \
             and change nothing, a missing file NotFound; \
             a transaction that changed nothing touches no disk at commit or rollback",
            misuse_and_empty_transactions,
        )
}

const NAME: &str = "pages.db";

fn journal_name() -> String {
    format!("{NAME}{JOURNAL_SUFFIX}")
}

// ---------------------------------------------------------------------------------------------
// Pages, and the database a commit leaves.

/// `[page p, version v]`: a page made from `p` and `v`, so that a wrong page can be named.
fn fill(page: u32, version: u8, size: usize) -> Vec<u8> {
    let mut data: Vec<u8> = (0..size)
        .map(|j| (j as u8) ^ ((j >> 8) as u8).wrapping_mul(29) ^ version.wrapping_mul(101))
        .collect();
    data[..4].copy_from_slice(&page.to_be_bytes());
    data[4] = version;
    data
}

fn contents(version: Option<u8>, page: u32, size: usize) -> Vec<u8> {
    match version {
        None => vec![0; size],
        Some(v) => fill(page, v, size),
    }
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
    if bytes.starts_with(MAGIC) {
        let field = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        return format!(
            "a header page (page count {}, free list {} {}, counter {})",
            field(20),
            field(24),
            field(28),
            field(32)
        );
    }
    let shown: Vec<String> = bytes[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("other bytes, starting {}...", shown.join(" "))
}

/// The database as the file holds it after a commit: pages by version (`None` for zeros), the
/// free list and the change counter.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Image {
    size: usize,
    pages: Vec<Option<u8>>,
    free: (u32, u32),
    counter: u32,
}

impl Image {
    fn new(size: usize) -> Image {
        Image {
            size,
            pages: vec![None],
            free: (0, 0),
            counter: 0,
        }
    }

    fn count(&self) -> u32 {
        self.pages.len() as u32
    }

    fn page(&self, page: u32) -> Vec<u8> {
        if page == 0 {
            return self.header();
        }
        contents(self.pages[page as usize], page, self.size)
    }

    fn header(&self) -> Vec<u8> {
        let mut page = vec![0; self.size];
        page[..16].copy_from_slice(MAGIC);
        for (i, field) in [
            self.size as u32,
            self.count(),
            self.free.0,
            self.free.1,
            self.counter,
        ]
        .into_iter()
        .enumerate()
        {
            page[16 + 4 * i..20 + 4 * i].copy_from_slice(&field.to_be_bytes());
        }
        page
    }

    /// The whole file, byte for byte.
    fn file(&self) -> Vec<u8> {
        (0..self.count()).flat_map(|page| self.page(page)).collect()
    }

    fn apply(&mut self, action: &Action) {
        match *action {
            Action::Write(page, version) => self.pages[page as usize] = Some(version),
            Action::Allocate => self.pages.push(None),
            Action::SetFreeList(head, count) => self.free = (head, count),
            Action::Read(_) => {}
        }
    }
}

/// Says how a file differs from an image: its length, or the first page that differs.
fn file_difference(got: &[u8], expected: &Image) -> Option<String> {
    let want = expected.file();
    if got == want {
        return None;
    }
    let size = expected.size;
    for page in 0..expected.count() {
        let at = page as usize * size;
        let got_page = got.get(at..(at + size).min(got.len())).unwrap_or(&[]);
        let want_page = &want[at..at + size];
        if got_page != want_page {
            return Some(format!(
                "page {page} holds {}, not {}",
                name_page(got_page, size),
                name_page(want_page, size)
            ));
        }
    }
    Some(format!(
        "the file is {} bytes long, not {} ({} pages of {size})",
        got.len(),
        want.len(),
        expected.count()
    ))
}

/// What a crash would leave of the disk as it is now: every unsynced write and name lost.
fn durable(disk: &SimDisk, name: &str) -> Option<Vec<u8>> {
    let fork = disk.fork();
    fork.restart_losing_unsynced();
    fork.contents(name)
}

// ---------------------------------------------------------------------------------------------
// The journal, parsed by the checks.

#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    records: u32,
    nonce: u32,
    old_count: u32,
    page_size: u32,
}

#[derive(Debug, Clone)]
struct Record {
    page: u32,
    data: Vec<u8>,
    sum: u32,
}

fn record_sum(nonce: u32, page: u32, data: &[u8]) -> u32 {
    let mut bytes = nonce.to_be_bytes().to_vec();
    bytes.extend(page.to_be_bytes());
    bytes.extend(data);
    crc32(&bytes)
}

fn parse_segment(bytes: &[u8]) -> Option<Segment> {
    let header = bytes.get(..JOURNAL_HEADER_LEN)?;
    if header[..8] != JOURNAL_MAGIC {
        return None;
    }
    let field = |at: usize| u32::from_be_bytes(header[at..at + 4].try_into().unwrap());
    Some(Segment {
        records: field(8),
        nonce: field(12),
        old_count: field(16),
        page_size: field(20),
    })
}

/// What recovery would play back from `bytes`: the first segment's header and the records, up
/// to the first that does not check.
fn playable(bytes: &[u8]) -> Option<(Segment, Vec<Record>)> {
    let first = parse_segment(bytes)?;
    let size = first.page_size as usize;
    if !(512..=65536).contains(&size) || !size.is_power_of_two() {
        return None;
    }
    let mut records = Vec::new();
    let mut at = 0;
    'segments: while let Some(segment) = bytes.get(at..).and_then(parse_segment) {
        if (segment.nonce, segment.old_count, segment.page_size)
            != (first.nonce, first.old_count, first.page_size)
        {
            break;
        }
        at += JOURNAL_HEADER_LEN;
        for _ in 0..segment.records {
            let Some(raw) = bytes.get(at..at + size + 8) else {
                break 'segments;
            };
            let record = Record {
                page: u32::from_be_bytes(raw[..4].try_into().unwrap()),
                data: raw[4..4 + size].to_vec(),
                sum: u32::from_be_bytes(raw[4 + size..].try_into().unwrap()),
            };
            if record.sum != record_sum(first.nonce, record.page, &record.data) {
                break 'segments;
            }
            records.push(record);
            at += size + 8;
        }
    }
    Some((first, records))
}

// ---------------------------------------------------------------------------------------------
// A directory that watches the order of what reaches the disk.

/// What the checks are doing, for the watcher to know which rules hold.
#[derive(Debug, Clone)]
enum Phase {
    /// Outside any transaction and any recovery.
    Idle,
    /// In a transaction, begun on this database.
    Transaction(Image),
    /// In open or rollback: recovery.
    Recovering,
}

struct Watched {
    disk: SimDisk,
    phase: Phase,
    /// The rules broken so far, each told once.
    broken: Vec<String>,
}

#[derive(Clone)]
struct Watch {
    state: Arc<Mutex<Watched>>,
}

impl Watch {
    fn new(disk: &SimDisk) -> Watch {
        Watch {
            state: Arc::new(Mutex::new(Watched {
                disk: disk.clone(),
                phase: Phase::Idle,
                broken: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Watched> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, phase: Phase) {
        self.lock().phase = phase;
    }

    /// The first rule broken since the last call, if any.
    fn take(&self) -> Option<String> {
        let mut state = self.lock();
        let first = state.broken.first().cloned();
        state.broken.clear();
        first
    }

    /// A directory of the disk's current incarnation that passes every call on, watching.
    fn dir(&self) -> Arc<dyn Dir> {
        let inner = self.lock().disk.dir();
        Arc::new(WatchDir {
            inner,
            watch: self.clone(),
        })
    }

    /// Before page data reaches the database in a transaction: a crash now must find a hot
    /// journal naming the old page count, holding the page's original.
    fn before_db_write(&self, offset: u64, data: &[u8]) {
        let mut state = self.lock();
        let Phase::Transaction(old) = &state.phase else {
            return;
        };
        let size = old.size as u64;
        let page = (offset / size) as u32;
        let journal = durable(&state.disk, &journal_name());
        let what = format!(
            "a write of {} at offset {offset} of the database in a transaction",
            if offset.is_multiple_of(size) && data.len() as u64 == size {
                format!("page {page}")
            } else {
                format!("{} bytes", data.len())
            }
        );
        let problem = match journal.as_deref().map(playable) {
            None => Some(
                "no journal would survive a crash then (its name not synced to the directory, \
                 or none made)"
                    .to_string(),
            ),
            Some(None) => Some(
                "the journal a crash would leave then has no valid synced segment header"
                    .to_string(),
            ),
            Some(Some((segment, _))) if segment.old_count != old.count() => Some(format!(
                "the journal a crash would leave then names {} as the page count before the \
                 transaction, not {}",
                segment.old_count,
                old.count()
            )),
            Some(Some((_, records))) if page < old.count() => {
                match records.iter().find(|r| r.page == page) {
                    None => Some(format!(
                        "the journal a crash would leave then holds no synced record of page \
                         {page}'s original"
                    )),
                    Some(r) if r.data != old.page(page) => Some(format!(
                        "the journal's record of page {page} holds {}, not its original, {}",
                        name_page(&r.data, old.size),
                        name_page(&old.page(page), old.size)
                    )),
                    Some(_) => None,
                }
            }
            Some(Some(_)) => None,
        };
        if let Some(problem) = problem {
            state.broken.push(format!(
                "{what}: {problem}. The journal must be synced (and its name, by a directory \
                 sync) before any page reaches the database"
            ));
        }
    }

    /// Before the journal is removed: the database must be durable, or a crash loses both.
    fn before_journal_removed(&self) {
        let mut state = self.lock();
        if matches!(state.phase, Phase::Idle) {
            return;
        }
        let now = state.disk.contents(NAME);
        if durable(&state.disk, NAME) != now {
            state.broken.push(
                "the journal was removed while the database file had writes not yet synced: a \
                 crash then keeps neither the old pages nor the new"
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

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Watch")
    }
}

impl WatchDir {
    fn wrap(&self, name: &str, file: io::Result<Box<dyn File>>) -> io::Result<Box<dyn File>> {
        Ok(Box::new(WatchFile {
            inner: file?,
            database: name == NAME,
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
        if name == journal_name() {
            self.watch.before_journal_removed();
        }
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
    database: bool,
    watch: Watch,
}

impl File for WatchFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_at(offset, buf)
    }
    fn append(&self, data: &[u8]) -> io::Result<u64> {
        if self.database {
            self.watch.before_db_write(self.inner.len()?, data);
        }
        self.inner.append(data)
    }
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        if self.database {
            self.watch.before_db_write(offset, data);
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

// ---------------------------------------------------------------------------------------------
// Transactions, as the checks run them.

/// One change (or read) inside a transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Write(u32, u8),
    Allocate,
    SetFreeList(u32, u32),
    Read(u32),
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Write(page, v) => write!(f, "write({page}, [page {page}, version {v}])"),
            Action::Allocate => write!(f, "allocate()"),
            Action::SetFreeList(head, count) => write!(f, "set_free_list({head}, {count})"),
            Action::Read(page) => write!(f, "read({page})"),
        }
    }
}

/// A transaction: its actions, then a commit or a rollback.
#[derive(Clone, PartialEq, Eq)]
struct Tx {
    actions: Vec<Action>,
    commit: bool,
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut calls = vec!["begin()".to_string()];
        calls.extend(self.actions.iter().map(|a| format!("{a:?}")));
        calls.push(
            if self.commit {
                "commit()"
            } else {
                "rollback()"
            }
            .into(),
        );
        write!(f, "{}", calls.join(", "))
    }
}

fn show_txs(txs: &[Tx]) -> String {
    txs.iter()
        .enumerate()
        .map(|(i, tx)| format!("\n  transaction {}: {tx:?}", i + 1))
        .collect()
}

/// Applies `action` to the pager.
fn act(pager: &mut Pager, action: Action) -> io::Result<()> {
    match action {
        Action::Write(page, v) => pager.write(page, &fill(page, v, pager.page_size())),
        Action::Allocate => pager.allocate().map(|_| ()),
        Action::SetFreeList(head, count) => pager.set_free_list(head, count),
        Action::Read(page) => pager.read(page).map(|_| ()),
    }
}

/// The database after each transaction: `states[k]` after the first `k`.
fn states(base: &Image, txs: &[Tx]) -> Vec<Image> {
    let mut out = vec![base.clone()];
    for tx in txs {
        let mut next = out.last().unwrap().clone();
        if tx.commit {
            let mut changed = next.clone();
            for action in &tx.actions {
                changed.apply(action);
            }
            if tx.actions.iter().any(|a| !matches!(a, Action::Read(_))) {
                changed.counter = changed.counter.wrapping_add(1);
            }
            next = changed;
        }
        out.push(next);
    }
    out
}

/// How far a run got: transactions finished, and whether one was under way (and whether its
/// commit returned).
#[derive(Debug, Default, Clone, Copy)]
struct Progress {
    finished: usize,
    under_way: bool,
}

/// Opens the database and runs the transactions, stopping at the first error.
fn run_txs(dir: Arc<dyn Dir>, cache: usize, txs: &[Tx], progress: &mut Progress) -> io::Result<()> {
    let mut pager = attempt(|| Pager::open(dir, NAME, cache))?;
    for tx in txs {
        progress.under_way = true;
        attempt(|| pager.begin())?;
        for &action in &tx.actions {
            attempt(|| act(&mut pager, action))?;
        }
        if tx.commit {
            attempt(|| pager.commit())?;
        } else {
            attempt(|| pager.rollback())?;
        }
        progress.finished += 1;
        progress.under_way = false;
    }
    Ok(())
}

/// Creates the database on `disk` and commits `base`'s pages to it, with no fault and no crash.
fn set_up(disk: &SimDisk, base: &Image) -> Result<(), Failure> {
    let did = format!(
        "Pager::create(dir, {NAME:?}, {}, 4), then a transaction writing {} pages, committed",
        base.size,
        base.count() - 1
    );
    let mut pager =
        Pager::create(disk.dir(), NAME, base.size, 4).map_err(|e| io_failure(&did, e))?;
    let result = (|| {
        pager.begin()?;
        for page in 1..base.count() {
            pager.allocate()?;
            if let Some(v) = base.pages[page as usize] {
                pager.write(page, &fill(page, v, base.size))?;
            }
        }
        pager.set_free_list(base.free.0, base.free.1)?;
        pager.commit()
    })();
    result.map_err(|e| io_failure(&did, e))
}

/// A database of `pages` pages (page 0 included) holding version 1, with a free list, as
/// `set_up` commits it.
fn base_image(size: usize, pages: u32) -> Image {
    let mut image = Image::new(size);
    for _ in 1..pages {
        image.pages.push(Some(1));
    }
    image.free = (pages.saturating_sub(1), 1);
    image.counter = 1;
    image
}

/// After a crash and recovery (or a failure): opens the database, and holds the file to one of
/// `allowed`, byte for byte, then to the same after another crash; no journal may be left.
fn expect_recovered(
    disk: &SimDisk,
    allowed: &[&Image],
    context: &dyn Fn() -> String,
) -> CheckResult {
    let watch = Watch::new(disk);
    watch.set(Phase::Recovering);
    let pager = match attempt(|| Pager::open(watch.dir(), NAME, 2)) {
        Ok(pager) => pager,
        Err(error) => {
            return fail(format!(
                "{}\nexpected: the database opens\ngot:      Err({:?}): {error}",
                context(),
                error.kind()
            ));
        }
    };
    if let Some(rule) = watch.take() {
        return fail(format!("{}\nduring recovery, {rule}", context()));
    }
    let shown = (pager.page_count(), pager.free_list());
    drop(pager);
    let got = disk.contents(NAME).unwrap_or_default();
    let differences: Vec<String> = allowed
        .iter()
        .filter_map(|image| file_difference(&got, image))
        .collect();
    if differences.len() == allowed.len() {
        let expected = match allowed.len() {
            1 => "the database as it was".to_string(),
            _ => "the database before the transaction or after it".to_string(),
        };
        return fail(format!(
            "{}\nexpected: {expected}, byte for byte\ngot:      {}",
            context(),
            differences.join("; or against the other: ")
        ));
    }
    // The pager opened must know the database it recovered, not the header it found before.
    let image = allowed
        .iter()
        .find(|image| file_difference(&got, image).is_none())
        .expect("one matched");
    if shown != (image.count(), image.free) {
        return fail(format!(
            "{}\nexpected: the opened pager's (page_count(), free_list()) to be the recovered \
             database's, {:?} (the header is read after the journal is played back)\ngot:      \
             {shown:?}",
            context(),
            (image.count(), image.free)
        ));
    }
    if disk.contents(&journal_name()).is_some() {
        return fail(format!(
            "{}\nexpected: recovery removes the journal\ngot:      {:?} is still there",
            context(),
            journal_name()
        ));
    }
    // Recovery must have made what it did durable.
    disk.restart_losing_unsynced();
    let again = disk.contents(NAME).unwrap_or_default();
    if again != got || disk.contents(&journal_name()).is_some() {
        return fail(format!(
            "{}\nexpected: what recovery left to survive a crash right after open returned \
             (synced, the journal's removal synced to the directory)\ngot:      after that \
             crash, {}",
            context(),
            if again != got {
                "the database file differs from what open left".to_string()
            } else {
                "the journal is back".to_string()
            }
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The journal's layout.

fn journal_layout(ctx: &mut Ctx) -> CheckResult {
    for size in [512usize, 1024, 65536] {
        let disk = SimDisk::new(ctx.seed());
        let base = base_image(size, 6);
        set_up(&disk, &base)?;
        // With a cache of 2 pages, the third change evicts a dirty page: the journal is synced
        // and the page written then; later evictions sync the records written since.
        let mut pager = Pager::open(disk.dir(), NAME, 2).map_err(|e| io_failure("open", e))?;
        let mut did = format!(
            "a database of 6 pages of {size} bytes, committed; Pager::open(dir, {NAME:?}, 2), \
             begin()"
        );
        pager.begin().map_err(|e| io_failure(&did, e))?;
        let changes = [
            Action::Write(3, 2),
            Action::Allocate,
            Action::Write(1, 2),
            Action::Write(3, 3),
            Action::Write(6, 2),
            Action::Write(5, 2),
            Action::SetFreeList(7, 9),
            Action::Write(2, 2),
        ];
        let mut synced: Vec<u8> = Vec::new();
        for action in changes {
            did = format!("{did}, {action:?}");
            act(&mut pager, action).map_err(|e| io_failure(&did, e))?;
            // What a crash would leave of the journal only ever grows: a synced segment is
            // never written again, since a write in place can be torn by a crash.
            let now = durable(&disk, &journal_name()).unwrap_or_default();
            if !now.starts_with(&synced) {
                let at = now.iter().zip(&synced).take_while(|(a, b)| a == b).count();
                return fail(format!(
                    "did:      {did}\nexpected: the journal's synced bytes left as they are \
                     (new records go to a new segment after them: a synced segment header is \
                     never written again, or a crash tearing that write loses the journal \
                     while pages it protects are in the file)\ngot:      byte {at} of the \
                     synced journal changed"
                ));
            }
            synced = now;
        }
        // The pages in the order first changed: page 0 first (the header changes too), page 6
        // not at all (the transaction allocated it).
        let order = [0u32, 3, 1, 5, 2];
        let Some(bytes) = durable(&disk, &journal_name()) else {
            return fail(format!(
                "did:      {did}\nexpected: dirty pages evicted from a cache of 2, so a synced \
                 journal {:?}\ngot:      no journal would survive a crash",
                journal_name()
            ));
        };
        check_journal_bytes(&bytes, &base, &order, &did)?;
    }
    Ok(())
}

/// Reads `bytes` as a journal of the transaction begun on `base` that first changed `order`
/// (a prefix of it may be all that was synced), and fails on anything out of place.
fn check_journal_bytes(bytes: &[u8], base: &Image, order: &[u32], did: &str) -> CheckResult {
    let size = base.size;
    let record_len = size + 8;
    let hex = |b: &[u8]| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut at = 0;
    let mut pages = Vec::new();
    let mut nonce = None;
    while at < bytes.len() {
        let Some(header) = bytes.get(at..at + JOURNAL_HEADER_LEN) else {
            return fail(format!(
                "did:      {did}\nexpected: the synced journal to hold whole segments\ngot:      \
                 {} bytes after the last segment, too few for a header",
                bytes.len() - at
            ));
        };
        let field = |i: usize| u32::from_be_bytes(header[i..i + 4].try_into().unwrap());
        let mut expected = JOURNAL_MAGIC.to_vec();
        let records = field(8);
        expected.extend(records.to_be_bytes());
        expected.extend(nonce.unwrap_or(field(12)).to_be_bytes());
        expected.extend(base.count().to_be_bytes());
        expected.extend((size as u32).to_be_bytes());
        if header != expected.as_slice() {
            return fail(format!(
                "did:      {did}\nexpected: a segment header at byte {at} of the journal: magic \
                 d9 d5 05 f9 20 a1 63 d7, record count, nonce (the first segment's), page count \
                 before the transaction {}, page size {size}, each u32 big-endian:\n          \
                 {}\ngot:      {}",
                base.count(),
                hex(&expected),
                hex(header)
            ));
        }
        let this_nonce = field(12);
        nonce = Some(this_nonce);
        at += JOURNAL_HEADER_LEN;
        for _ in 0..records {
            let Some(raw) = bytes.get(at..at + record_len) else {
                return fail(format!(
                    "did:      {did}\nexpected: {records} records of {record_len} bytes after \
                     the segment header\ngot:      the synced journal ends at byte {}",
                    bytes.len()
                ));
            };
            let page = u32::from_be_bytes(raw[..4].try_into().unwrap());
            let data = &raw[4..4 + size];
            let sum = u32::from_be_bytes(raw[4 + size..].try_into().unwrap());
            let n = pages.len();
            if order.get(n) != Some(&page) {
                return fail(format!(
                    "did:      {did}\nexpected: the journal's records to name pages {order:?} \
                     in that order (page 0 first, then each page the first time the \
                     transaction changed it, none it allocated)\ngot:      record {} names page \
                     {page} (records so far: {pages:?})",
                    n + 1
                ));
            }
            if data != base.page(page).as_slice() {
                return fail(format!(
                    "did:      {did}\nexpected: the record of page {page} to hold its original, \
                     {}\ngot:      {}",
                    name_page(&base.page(page), size),
                    name_page(data, size)
                ));
            }
            let want = record_sum(this_nonce, page, data);
            if sum != want {
                return fail(format!(
                    "did:      {did}\nexpected: the record of page {page} to end with its \
                     checksum, the CRC-32 of nonce, page number (big-endian) and bytes: \
                     {want:#010x}\ngot:      {sum:#010x}"
                ));
            }
            pages.push(page);
            at += record_len;
        }
    }
    if pages.len() < 3 {
        return fail(format!(
            "did:      {did}\nexpected: a dirty page evicted, so the journal synced with the \
             records of pages {:?} at least\ngot:      records of pages {pages:?}",
            &order[..3]
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The model.

#[derive(Clone, Copy)]
enum Step {
    Begin,
    Act(Action),
    Commit,
    Rollback,
    Reopen(usize),
    PowerFails,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Begin => write!(f, "begin()"),
            Step::Act(action) => write!(f, "{action:?}"),
            Step::Commit => write!(f, "commit()"),
            Step::Rollback => write!(f, "rollback()"),
            Step::Reopen(cache) => write!(f, "reopen with {cache} cache pages"),
            Step::PowerFails => write!(f, "the power fails (nothing unsynced survives), reopen"),
        }
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1..8u32, 1..255u8).prop_map(|(p, v)| Step::Act(Action::Write(p, v))),
        2 => Just(Step::Begin),
        2 => Just(Step::Commit),
        2 => Just(Step::Act(Action::Allocate)),
        2 => (1..8u32).prop_map(|p| Step::Act(Action::Read(p))),
        1 => Just(Step::Rollback),
        1 => (1..4usize).prop_map(Step::Reopen),
        1 => Just(Step::PowerFails),
        1 => (prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()], any::<u32>())
            .prop_map(|(h, c)| Step::Act(Action::SetFreeList(h, c))),
    ]
}

fn transactions_match_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["cache_pages", "steps"],
        96,
        (1..4usize, prop::collection::vec(step(), 1..40)),
        move |(cache, steps)| run_model(seed, cache, &steps),
    )
}

fn run_model(seed: u64, cache: usize, steps: &[Step]) -> CheckResult {
    let size = 512;
    let disk = SimDisk::new(seed);
    let base = base_image(size, 4);
    set_up(&disk, &base)?;
    let mut committed = base.clone();
    let mut open: Option<(Image, bool)> = None;
    let watch = Watch::new(&disk);
    let mut done = format!("a database of 4 pages, committed; Pager::open(dir, {NAME:?}, {cache})");
    let mut pager = Pager::open(watch.dir(), NAME, cache).map_err(|e| io_failure(&done, e))?;
    for &step in steps {
        done = format!("{done}, {step:?}");
        let did = done.as_str();
        match step {
            Step::Begin => {
                let result = pager.begin();
                if open.is_some() {
                    expect_kind(did, result, ErrorKind::InvalidInput)?;
                } else {
                    result.map_err(|e| io_failure(did, e))?;
                    open = Some((committed.clone(), false));
                    watch.set(Phase::Transaction(committed.clone()));
                }
            }
            Step::Act(action) => {
                let current = open.as_ref().map_or(&committed, |(image, _)| image);
                let page = match action {
                    Action::Write(page, _) | Action::Read(page) => Some(page),
                    _ => None,
                };
                if page.is_some_and(|p| p >= current.count()) {
                    continue;
                }
                if let Action::Read(page) = action {
                    let got = pager.read(page).map_err(|e| io_failure(did, e))?;
                    let want = current.page(page);
                    if got != want {
                        return fail(format!(
                            "did:      {did}\nexpected: {}\ngot:      {}",
                            name_page(&want, size),
                            name_page(&got, size)
                        ));
                    }
                    continue;
                }
                let result = act(&mut pager, action);
                match &mut open {
                    None => expect_kind(did, result, ErrorKind::InvalidInput)?,
                    Some((image, changed)) => {
                        result.map_err(|e| io_failure(did, e))?;
                        image.apply(&action);
                        *changed = true;
                    }
                }
            }
            Step::Commit | Step::Rollback => {
                let result = if matches!(step, Step::Commit) {
                    pager.commit()
                } else {
                    pager.rollback()
                };
                match open.take() {
                    None => expect_kind(did, result, ErrorKind::InvalidInput)?,
                    Some((mut image, changed)) => {
                        result.map_err(|e| io_failure(did, e))?;
                        if matches!(step, Step::Commit) {
                            if changed {
                                image.counter = image.counter.wrapping_add(1);
                            }
                            committed = image;
                        }
                    }
                }
                watch.set(Phase::Idle);
            }
            Step::Reopen(_) | Step::PowerFails => {
                drop(pager);
                open = None;
                let cache = match step {
                    Step::Reopen(cache) => cache,
                    _ => {
                        disk.restart_losing_unsynced();
                        cache
                    }
                };
                watch.set(Phase::Recovering);
                pager = attempt(|| Pager::open(watch.dir(), NAME, cache))
                    .map_err(|e| io_failure(did, e))?;
                watch.set(Phase::Idle);
                if let Some(problem) =
                    file_difference(&disk.contents(NAME).unwrap_or_default(), &committed)
                {
                    return fail(format!(
                        "did:      {did}\nexpected: the file to be the database as the last \
                         commit left it (a transaction open is rolled back)\ngot:      \
                         {problem}"
                    ));
                }
            }
        }
        if let Some(rule) = watch.take() {
            return fail(format!("did:      {did}\n{rule}"));
        }
        let current = open.as_ref().map_or(&committed, |(image, _)| image);
        let shown = (
            pager.page_count(),
            pager.free_list(),
            pager.in_transaction(),
        );
        let want = (current.count(), current.free, open.is_some());
        if shown != want {
            return fail(format!(
                "did:      {did}\nexpected: page_count(), free_list(), in_transaction() = \
                 {want:?}\ngot:      {shown:?}"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rollback, scripted.

fn rollback_restores(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let base = base_image(1024, 5);
    set_up(&disk, &base)?;
    let watch = Watch::new(&disk);
    let mut did = format!("a database of 5 pages, committed; Pager::open(dir, {NAME:?}, 1)");
    let mut pager = Pager::open(watch.dir(), NAME, 1).map_err(|e| io_failure(&did, e))?;
    did.push_str(", begin()");
    pager.begin().map_err(|e| io_failure(&did, e))?;
    watch.set(Phase::Transaction(base.clone()));
    let actions = [
        Action::Write(2, 7),
        Action::Write(4, 7),
        Action::Allocate,
        Action::Write(5, 7),
        Action::Allocate,
        Action::SetFreeList(6, 2),
        Action::Write(1, 7),
        Action::Read(3),
    ];
    for action in actions {
        did = format!("{did}, {action:?}");
        act(&mut pager, action).map_err(|e| io_failure(&did, e))?;
    }
    did.push_str(", rollback()");
    pager.rollback().map_err(|e| io_failure(&did, e))?;
    watch.set(Phase::Idle);
    if let Some(rule) = watch.take() {
        return fail(format!("did:      {did}\n{rule}"));
    }
    let shown = (
        pager.page_count(),
        pager.free_list(),
        pager.in_transaction(),
    );
    let want = (base.count(), base.free, false);
    if shown != want {
        return fail(format!(
            "did:      {did}\nexpected: page_count(), free_list(), in_transaction() = {want:?}\n\
             got:      {shown:?}"
        ));
    }
    for page in 1..base.count() {
        let got = pager.read(page).map_err(|e| io_failure(&did, e))?;
        if got != base.page(page) {
            return fail(format!(
                "did:      {did}, read({page})\nexpected: {}\ngot:      {}",
                name_page(&base.page(page), 1024),
                name_page(&got, 1024)
            ));
        }
    }
    let files = disk.files();
    if let Some(journal) = files.iter().find(|f| f.name == journal_name()) {
        return fail(format!(
            "did:      {did}\nexpected: the journal removed\ngot:      {:?} is there ({} bytes)",
            journal.name, journal.len
        ));
    }
    let now = durable(&disk, NAME).unwrap_or_default();
    if let Some(problem) = file_difference(&now, &base) {
        return fail(format!(
            "did:      {did}, and the power failed (nothing unsynced survives)\nexpected: the \
             file to be the old database, byte for byte (pages put back synced, the file cut \
             to its old length)\ngot:      {problem}"
        ));
    }
    // The next transaction works, and commits.
    let next = [Action::Allocate, Action::Write(5, 9), Action::Write(2, 9)];
    did.push_str(", begin()");
    pager.begin().map_err(|e| io_failure(&did, e))?;
    watch.set(Phase::Transaction(base.clone()));
    let mut image = base.clone();
    for action in next {
        did = format!("{did}, {action:?}");
        act(&mut pager, action).map_err(|e| io_failure(&did, e))?;
        image.apply(&action);
    }
    image.counter += 1;
    did.push_str(", commit()");
    pager.commit().map_err(|e| io_failure(&did, e))?;
    if let Some(rule) = watch.take() {
        return fail(format!("did:      {did}\n{rule}"));
    }
    drop(pager);
    disk.restart_losing_unsynced();
    expect_recovered(&disk, &[&image], &|| {
        format!("did:      {did}, the power failed (nothing unsynced survives), open")
    })
}

// ---------------------------------------------------------------------------------------------
// Crashes.

/// Scripted runs of transactions: evictions mid-transaction, files grown, rollbacks, commits of
/// one page, and a transaction that changes nothing.
fn workloads() -> Vec<(usize, usize, Vec<Tx>)> {
    use Action::*;
    let tx = |actions: &[Action], commit: bool| Tx {
        actions: actions.to_vec(),
        commit,
    };
    vec![
        (
            512,
            2,
            vec![
                tx(
                    &[Write(1, 2), Write(2, 2), Write(3, 2), Allocate, Write(4, 2)],
                    true,
                ),
                tx(
                    &[Write(2, 3), Allocate, Write(5, 3), SetFreeList(5, 1)],
                    false,
                ),
                tx(&[Write(3, 4)], true),
            ],
        ),
        (
            1024,
            1,
            vec![
                tx(
                    &[Allocate, Allocate, Write(5, 2), Write(1, 2), Write(4, 2)],
                    true,
                ),
                tx(&[Read(2), Write(2, 3), Write(3, 3), Write(2, 4)], true),
            ],
        ),
        (
            512,
            4,
            vec![
                tx(&[Read(1)], true),
                tx(&[SetFreeList(0, 0)], true),
                tx(
                    &[Write(3, 5), Write(1, 5), Allocate, Allocate, Write(5, 5)],
                    false,
                ),
                tx(&[Write(3, 6), Allocate], true),
            ],
        ),
    ]
}

fn crash_at_every_step(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    for (profile, name) in [(Profile::GENTLE, "gentle"), (Profile::HARSH, "harsh")] {
        for (size, cache, txs) in workloads() {
            crash_sweep(seed, profile, name, size, cache, &txs)?;
        }
    }
    Ok(())
}

fn crash_sweep(
    seed: u64,
    profile: Profile,
    profile_name: &str,
    size: usize,
    cache: usize,
    txs: &[Tx],
) -> CheckResult {
    let base = base_image(size, 4);
    let states = states(&base, txs);
    // The run with no crash: how many steps it takes.
    let prepared = SimDisk::with_profile(seed, profile);
    set_up(&prepared, &base)?;
    let golden = prepared.fork();
    let start = golden.steps();
    let mut progress = Progress::default();
    if let Err(error) = run_txs(golden.dir(), cache, txs, &mut progress) {
        return Err(io_failure(
            &format!(
                "a database of 4 pages of {size} bytes, Pager::open(dir, {NAME:?}, {cache}), \
                 then{}",
                show_txs(txs)
            ),
            error,
        ));
    }
    let steps = golden.steps() - start;
    for crash in 1..=steps {
        let disk = prepared.fork_reseeded(seed ^ crash.wrapping_mul(0x9E37_79B9));
        disk.crash_at_step(disk.steps() + crash);
        let mut progress = Progress::default();
        let result = run_txs(disk.dir(), cache, txs, &mut progress);
        let context = |extra: &str| {
            format!(
                "did:      a database of 4 pages of {size} bytes, committed; \
                 Pager::open(dir, {NAME:?}, {cache}), then{}\n          on a {profile_name} \
                 disk, the power failed at I/O step {crash} of {steps}, in transaction {}{extra}",
                show_txs(txs),
                progress.finished + 1
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
        // A power cut restarts the process too, on a sample (a restart costs a new process).
        let aftermath = if crash % 16 == seed % 16 || crash == steps {
            disk.restart()
        } else {
            disk.restart_disk_only()
        };
        // And the power fails again, during recovery.
        let trial = disk.fork();
        let before = trial.steps();
        let mut during = String::new();
        if attempt(|| Pager::open(trial.dir(), NAME, 2)).is_ok() {
            let recovery = trial.steps() - before;
            if recovery > 0 {
                let into = 1 + (crash * 7919) % recovery;
                disk.crash_at_step(disk.steps() + into);
                let _ = attempt(|| Pager::open(disk.dir(), NAME, 2));
                let again = disk.restart_disk_only();
                during = format!(
                    "; the power failed again at step {into} of recovery's {recovery}; on \
                     restart {again}"
                );
            }
        }
        let mut allowed = vec![&states[progress.finished]];
        if progress.under_way {
            allowed.push(&states[progress.finished + 1]);
        }
        let extra = format!("; on restart {aftermath}{during}; then open");
        expect_recovered(&disk, &allowed, &|| context(&extra))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Faults.

fn faults_for(kind: OpKind) -> Vec<Fault> {
    match kind {
        OpKind::Write => vec![Fault::IoError, Fault::DiskFull],
        OpKind::Sync => vec![Fault::SyncLosesData, Fault::IoError],
        _ => vec![Fault::IoError],
    }
}

const KINDS: [OpKind; 8] = [
    OpKind::Write,
    OpKind::Sync,
    OpKind::DirSync,
    OpKind::Create,
    OpKind::Remove,
    OpKind::Read,
    OpKind::Open,
    OpKind::Len,
];

fn faults_in_transactions(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    for (profile, profile_name) in [(Profile::GENTLE, "gentle"), (Profile::HARSH, "harsh")] {
        for (size, cache, txs) in workloads() {
            let base = base_image(size, 4);
            let states = states(&base, &txs);
            let prepared = SimDisk::with_profile(seed, profile);
            set_up(&prepared, &base)?;
            let golden = prepared.fork();
            let counter = FaultDir::new(&golden, &[]);
            let mut progress = Progress::default();
            run_txs(counter.dir(), cache, &txs, &mut progress)
                .map_err(|e| io_failure(&format!("the run{}", show_txs(&txs)), e))?;
            for kind in KINDS {
                for n in 1..=counter.count(kind) {
                    for fault in faults_for(kind) {
                        let disk = prepared.fork_reseeded(seed ^ n);
                        let faulty = FaultDir::new(&disk, &[Aim { kind, n, fault }]);
                        let mut progress = Progress::default();
                        let result = run_txs(faulty.dir(), cache, &txs, &mut progress);
                        disk.restart_losing_unsynced();
                        let mut allowed = vec![&states[progress.finished]];
                        if progress.under_way {
                            allowed.push(&states[progress.finished + 1]);
                        }
                        let context = || {
                            format!(
                                "did:      a database of 4 pages of {size} bytes, committed; \
                                 Pager::open(dir, {NAME:?}, {cache}), then{}\n          on a \
                                 {profile_name} disk, operation {n} of kind {kind:?} failed \
                                 with {fault:?} ({}); then the power failed (nothing \
                                 unsynced survives), and open",
                                show_txs(&txs),
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

/// A disk whose database holds a transaction's new pages, synced, and whose journal is hot: the
/// commit failed at the journal's removal. `old` is what recovery must bring back.
fn hot_journal(
    seed: u64,
    profile: Profile,
    size: usize,
) -> Result<(SimDisk, Image, String), Failure> {
    let disk = SimDisk::with_profile(seed, profile);
    let old = base_image(size, 4);
    set_up(&disk, &old)?;
    let faulty = FaultDir::new(
        &disk,
        &[Aim {
            kind: OpKind::Remove,
            n: 1,
            fault: Fault::IoError,
        }],
    );
    let txs = [Tx {
        actions: vec![
            Action::Write(2, 5),
            Action::Allocate,
            Action::Allocate,
            Action::Write(5, 5),
            Action::Write(1, 5),
            Action::SetFreeList(4, 2),
        ],
        commit: true,
    }];
    let did = format!(
        "a database of 4 pages of {size} bytes, committed; Pager::open(dir, {NAME:?}, 2), \
         then{}, whose removal of the journal failed",
        show_txs(&txs)
    );
    let mut progress = Progress::default();
    if run_txs(faulty.dir(), 2, &txs, &mut progress).is_ok() {
        return Err(Failure::new(format!(
            "did:      {did}\nexpected: commit to fail when the journal's removal fails\ngot:      \
             Ok(())"
        )));
    }
    Ok((disk, old, did))
}

fn faults_in_recovery(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    for (profile, profile_name) in [(Profile::GENTLE, "gentle"), (Profile::HARSH, "harsh")] {
        for size in [512usize, 2048] {
            let (disk, old, did) = hot_journal(seed, profile, size)?;
            // With no fault: the old database, even after the worst crash right after.
            let plain = disk.fork();
            expect_recovered(&plain, &[&old], &|| {
                format!("did:      {did}; then open, on a {profile_name} disk")
            })?;
            let counter_disk = disk.fork();
            let counter = FaultDir::new(&counter_disk, &[]);
            let _ = attempt(|| Pager::open(counter.dir(), NAME, 2));
            for kind in KINDS {
                for n in 1..=counter.count(kind) {
                    for fault in faults_for(kind) {
                        let trial = disk.fork();
                        let faulty = FaultDir::new(&trial, &[Aim { kind, n, fault }]);
                        let result = attempt(|| Pager::open(faulty.dir(), NAME, 2));
                        let shown = match &result {
                            Ok(_) => "Ok".to_string(),
                            Err(e) => format!("Err({:?}): {e}", e.kind()),
                        };
                        drop(result);
                        trial.restart_losing_unsynced();
                        expect_recovered(&trial, &[&old], &|| {
                            format!(
                                "did:      {did}; then open on a {profile_name} disk, its \
                                 operation {n} of kind {kind:?} failing with {fault:?} \
                                 ({shown}); the power failed (nothing unsynced survives); open"
                            )
                        })?;
                    }
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Journals written by hand.

fn segment(records: u32, nonce: u32, old_count: u32, size: usize) -> Vec<u8> {
    let mut bytes = JOURNAL_MAGIC.to_vec();
    for field in [records, nonce, old_count, size as u32] {
        bytes.extend(field.to_be_bytes());
    }
    bytes
}

fn record(nonce: u32, page: u32, data: &[u8]) -> Vec<u8> {
    let mut bytes = page.to_be_bytes().to_vec();
    bytes.extend(data);
    bytes.extend(record_sum(nonce, page, data).to_be_bytes());
    bytes
}

/// Writes `file` as the database and `journal` as its journal, both durable.
fn handmade(seed: u64, file: &[u8], journal: &[u8]) -> SimDisk {
    let disk = SimDisk::new(seed);
    let dir = disk.dir();
    for (name, bytes) in [(NAME.to_string(), file), (journal_name(), journal)] {
        let f = dir.create(&name).expect("a fresh disk");
        f.write_at(0, bytes).expect("a fresh disk");
        f.sync().expect("a fresh disk");
    }
    dir.sync().expect("a fresh disk");
    disk
}

fn handmade_journals(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let size = 512;
    let old = base_image(size, 4);
    // What an interrupted transaction left in the file: pages 1 and 3 new, page 4 and 5 added,
    // the header's page count 6.
    let mut new = old.clone();
    new.pages[1] = Some(9);
    new.pages[3] = Some(9);
    new.pages.push(Some(9));
    new.pages.push(Some(9));
    new.counter = 2;
    let nonce = 0xC0FF_EE11;
    let full = |records: &[u32]| -> Vec<u8> {
        let mut bytes = segment(records.len() as u32, nonce, old.count(), size);
        for &page in records {
            bytes.extend(record(nonce, page, &old.page(page)));
        }
        bytes
    };

    // One segment: everything put back, the file cut to 4 pages.
    let journal = full(&[0, 1, 3]);
    let disk = handmade(seed, &new.file(), &journal);
    expect_recovered(&disk, &[&old], &|| {
        "did:      a database file of 6 pages (pages 1, 3, 4, 5 new) and a journal of one \
         segment (old page count 4) holding the originals of pages 0, 1, 3; open"
            .to_string()
    })?;

    // Two segments: both played back.
    let mut journal = full(&[0, 1]);
    journal.extend(full(&[3]));
    let disk = handmade(seed, &new.file(), &journal);
    expect_recovered(&disk, &[&old], &|| {
        "did:      a database file of 6 pages (pages 1, 3, 4, 5 new) and a journal of two \
         segments: pages 0 and 1, then page 3; open"
            .to_string()
    })?;

    // A torn record: page 3's original was never synced, so page 3 never reached the file;
    // playback stops there, and what follows is not played either.
    let mut partly = old.clone();
    partly.pages[1] = Some(9);
    let mut journal = full(&[0, 1, 3, 2]);
    let torn_at = JOURNAL_HEADER_LEN + 2 * (size + 8) + 4 + 100;
    for (i, byte) in journal[torn_at..torn_at + 64].iter_mut().enumerate() {
        *byte = (i as u8).wrapping_mul(37) ^ 0x5A;
    }
    let disk = handmade(seed, &partly.file(), &journal);
    expect_recovered(&disk, &[&old], &|| {
        "did:      a database file with page 1 new and a journal of one segment counting 4 \
         records (pages 0, 1, 3, 2), the record of page 3 torn (its checksum fails); open \
         (pages 3 and 2 must be left as they are: a torn record is never played back)"
            .to_string()
    })?;

    // A valid record after a torn one is not played either: nothing after the first torn
    // record reached the file. Its bytes differ from the file's, so playing it shows.
    let mut journal = full(&[0, 1, 3]);
    journal[8..12].copy_from_slice(&4u32.to_be_bytes());
    journal.extend(record(nonce, 2, &fill(2, 77, size)));
    let torn_at = JOURNAL_HEADER_LEN + 2 * (size + 8) + 4 + 100;
    journal[torn_at] ^= 0xFF;
    let disk = handmade(seed, &partly.file(), &journal);
    expect_recovered(&disk, &[&old], &|| {
        "did:      a database file with page 1 new and a journal of one segment counting 4 \
         records: pages 0 and 1, page 3 torn (its checksum fails), then a record of page 2 \
         whose checksum holds but whose bytes differ from the file's; open (playback stops at \
         the torn record: the record after it must not be played, page 2 stays as it is)"
            .to_string()
    })?;

    // A record count past the end of the file: the complete records are played, then playback
    // stops.
    let mut journal = full(&[0, 1]);
    journal[8..12].copy_from_slice(&5u32.to_be_bytes());
    let disk = handmade(seed, &partly.file(), &journal);
    expect_recovered(&disk, &[&old], &|| {
        "did:      a database file with page 1 new and a journal of one segment whose header \
         counts 5 records but whose file holds only 2 (pages 0 and 1); open"
            .to_string()
    })?;

    // A second segment naming another nonce, its records checked with the first's: still not
    // this journal's, and not played back.
    let mut journal = full(&[0, 1]);
    let mut stale = segment(1, 0x0BAD_5EED, old.count(), size);
    stale.extend(record(nonce, 2, &fill(2, 77, size)));
    journal.extend(stale);
    let disk = handmade(seed, &partly.file(), &journal);
    expect_recovered(&disk, &[&old], &|| {
        "did:      a database file with page 1 new and a journal: a segment with pages 0 and 1, \
         then a segment whose header names another nonce, holding other bytes for page 2 (with \
         a checksum made with the first segment's nonce); open (a segment whose header names \
         another nonce is not this journal's: compare every segment's nonce with the first's)"
            .to_string()
    })?;

    // A second segment of another journal (another nonce) is not played back.
    let mut journal = full(&[0, 1]);
    let other = 0x0BAD_5EED;
    let mut stale = segment(1, other, old.count(), size);
    stale.extend(record(other, 2, &fill(2, 77, size)));
    journal.extend(stale);
    let disk = handmade(seed, &partly.file(), &journal);
    expect_recovered(&disk, &[&old], &|| {
        "did:      a database file with page 1 new and a journal: a segment with pages 0 and 1, \
         then a segment with another nonce holding other bytes for page 2; open (the second \
         segment is not this journal's)"
            .to_string()
    })?;

    // A journal with no valid header: never synced, so nothing reached the file.
    for (what, journal) in [
        ("an empty journal", Vec::new()),
        ("a journal of zeros", vec![0; JOURNAL_HEADER_LEN + size + 8]),
        ("a journal whose header's magic is wrong", {
            let mut j = full(&[0, 1]);
            j[0] ^= 0xFF;
            j
        }),
        ("a journal whose magic's last byte is wrong", {
            let mut j = full(&[0, 1]);
            j[7] ^= 0x01;
            j
        }),
        ("a journal with the magic but a header of 23 bytes", {
            full(&[0])[..JOURNAL_HEADER_LEN - 1].to_vec()
        }),
    ] {
        let disk = handmade(seed, &old.file(), &journal);
        expect_recovered(&disk, &[&old], &|| {
            format!("did:      a database as committed and {what} beside it; open")
        })?;
    }
    // The magic alone does not make a journal hot: its page size must be a power of two from
    // 512 to 65536, or the header was never written whole.
    for bad in [0u32, 1, 256, 1000, 513, 131_072] {
        let mut journal = full(&[0, 1]);
        journal[20..24].copy_from_slice(&bad.to_be_bytes());
        let disk = handmade(seed, &old.file(), &journal);
        expect_recovered(&disk, &[&old], &|| {
            format!(
                "did:      a database as committed and a journal whose first header has the \
                 magic but page size {bad} beside it; open (a journal is hot only if its first \
                 header has the magic AND a page size that is a power of two from 512 to \
                 65536; this one is not: remove it and touch nothing else)"
            )
        })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Misuse, and transactions that change nothing.

fn misuse_and_empty_transactions(ctx: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(ctx.seed());
    let base = base_image(512, 4);
    set_up(&disk, &base)?;
    expect_kind(
        "Pager::open(dir, \"missing.db\", 2) of a file that does not exist",
        Pager::open(disk.dir(), "missing.db", 2).map(|_| ()),
        ErrorKind::NotFound,
    )?;
    expect_kind(
        &format!("a database of 4 pages, committed; Pager::open(dir, {NAME:?}, 0)"),
        Pager::open(disk.dir(), NAME, 0).map(|_| ()),
        ErrorKind::InvalidInput,
    )?;
    let mut pager = Pager::open(disk.dir(), NAME, 2).map_err(|e| io_failure("open", e))?;
    let page = fill(1, 8, 512);
    let prefix = "a database of 4 pages, committed; Pager::open(dir, \"pages.db\", 2)";
    let steps_before = disk.steps();
    expect_kind(
        &format!("{prefix}, write(1, [page 1, version 8]) with no transaction"),
        pager.write(1, &page),
        ErrorKind::InvalidInput,
    )?;
    expect_kind(
        &format!("{prefix}, allocate() with no transaction"),
        pager.allocate(),
        ErrorKind::InvalidInput,
    )?;
    expect_kind(
        &format!("{prefix}, set_free_list(1, 1) with no transaction"),
        pager.set_free_list(1, 1),
        ErrorKind::InvalidInput,
    )?;
    expect_kind(
        &format!("{prefix}, commit() with no transaction"),
        pager.commit(),
        ErrorKind::InvalidInput,
    )?;
    expect_kind(
        &format!("{prefix}, rollback() with no transaction"),
        pager.rollback(),
        ErrorKind::InvalidInput,
    )?;
    expect_eq(
        format!("{prefix}, the calls above, each refused: disk operations they made"),
        disk.steps() - steps_before,
        0,
    )?;
    expect_eq(
        format!("{prefix}, the calls above, each refused: (page_count(), free_list())"),
        (pager.page_count(), pager.free_list()),
        (base.count(), base.free),
    )?;
    let did = format!("{prefix}, begin()");
    pager.begin().map_err(|e| io_failure(&did, e))?;
    expect_kind(
        &format!("{did}, begin()"),
        pager.begin(),
        ErrorKind::InvalidInput,
    )?;
    expect_kind(
        &format!("{did}, write(0, one page)"),
        pager.write(0, &page),
        ErrorKind::InvalidInput,
    )?;
    expect_kind(
        &format!("{did}, write(4, one page) (past the end)"),
        pager.write(4, &page),
        ErrorKind::InvalidInput,
    )?;
    expect_kind(
        &format!("{did}, write(1, 511 bytes)"),
        pager.write(1, &page[..511]),
        ErrorKind::InvalidInput,
    )?;
    // Nothing changed yet: reading is allowed, and commit touches no disk.
    let did = format!("{did}, read(2)");
    let got = pager.read(2).map_err(|e| io_failure(&did, e))?;
    expect_eq(
        format!("{did}: the page"),
        name_page(&got, 512),
        name_page(&base.page(2), 512),
    )?;
    let before = disk.steps();
    let did = format!("{did}, commit()");
    pager.commit().map_err(|e| io_failure(&did, e))?;
    expect_eq(
        format!("{did}: disk operations made by a commit of a transaction that changed nothing"),
        disk.steps() - before,
        0,
    )?;
    let did = format!("{did}, begin(), rollback()");
    pager.begin().map_err(|e| io_failure(&did, e))?;
    let before = disk.steps();
    pager.rollback().map_err(|e| io_failure(&did, e))?;
    expect_eq(
        format!("{did}: disk operations made by a rollback of a transaction that changed nothing"),
        disk.steps() - before,
        0,
    )?;
    expect_eq(
        format!("{did}: the file, byte for byte, is the database as committed"),
        file_difference(&disk.contents(NAME).unwrap_or_default(), &base),
        None,
    )?;
    expect_eq(
        format!("{did}: in_transaction()"),
        pager.in_transaction(),
        false,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reads, and syncs only when there is something to sync.

fn reads_and_syncs(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let base = base_image(512, 4);

    // A read that fails while journaling an original fails that call; the pager goes on.
    let disk = SimDisk::new(seed);
    set_up(&disk, &base)?;
    let faulty = FaultDir::new(&disk, &[]);
    let mut did = format!("a database of 4 pages, committed; Pager::open(dir, {NAME:?}, 2)");
    let mut pager = Pager::open(faulty.dir(), NAME, 2).map_err(|e| io_failure(&did, e))?;
    did.push_str(", begin()");
    pager.begin().map_err(|e| io_failure(&did, e))?;
    faulty.arm(OpKind::Read, 1, Fault::IoError);
    did.push_str(
        ", write(1, [page 1, version 5]) with the next read failing (page 1 is not in the cache: \
         its original must be read to be journaled)",
    );
    let page = fill(1, 5, 512);
    if let Ok(()) = pager.write(1, &page) {
        return fail(format!(
            "did:      {did}\nexpected: Err: the original could not be read, so the page cannot \
             be changed\ngot:      Ok(())"
        ));
    }
    did.push_str(" (which failed)");
    for (call, result) in [
        ("write(1, [page 1, version 5]) again", pager.write(1, &page)),
        ("commit()", pager.commit()),
    ] {
        did = format!("{did}, {call}");
        if let Err(error) = result {
            return fail(format!(
                "did:      {did}\nexpected: Ok(()): a failed read fails only its call, changes \
                 nothing, and the pager goes on (it stops only after a failed write, sync or \
                 name operation)\ngot:      Err({:?}): {error}",
                error.kind()
            ));
        }
    }
    drop(pager);
    let mut after = base.clone();
    after.pages[1] = Some(5);
    after.counter += 1;
    expect_recovered(&disk, &[&after], &|| {
        format!("did:      {did}; dropped, then open (the commit returned: it must be there)")
    })?;

    // The original of a page in the cache comes from the cache.
    let disk = SimDisk::new(seed);
    set_up(&disk, &base)?;
    let faulty = FaultDir::new(&disk, &[]);
    let mut did = format!(
        "a database of 4 pages, committed; Pager::open(dir, {NAME:?}, 4), begin(), write(2, \
         [page 2, version 5]), read(1)"
    );
    let mut pager = Pager::open(faulty.dir(), NAME, 4).map_err(|e| io_failure(&did, e))?;
    (|| {
        pager.begin()?;
        pager.write(2, &fill(2, 5, 512))?;
        pager.read(1).map(|_| ())
    })()
    .map_err(|e| io_failure(&did, e))?;
    let reads = faulty.count(OpKind::Read);
    did.push_str(", write(1, [page 1, version 5])");
    pager.write(1, &page).map_err(|e| io_failure(&did, e))?;
    expect_eq(
        format!(
            "{did}: reads of the disk made by the write (page 1 is in the cache, clean: its \
             original is taken from there, not read from the file again)"
        ),
        faulty.count(OpKind::Read) - reads,
        0,
    )?;
    drop(pager);

    // A commit after an eviction synced every record: no record to sync, no new segment.
    let disk = SimDisk::new(seed);
    set_up(&disk, &base)?;
    let faulty = FaultDir::new(&disk, &[]);
    let mut did = format!(
        "a database of 4 pages, committed; Pager::open(dir, {NAME:?}, 1), begin(), write(1, \
         [page 1, version 5]), read(2) (the cache of one page evicts page 1: the journal is \
         synced, page 1 written)"
    );
    let mut pager = Pager::open(faulty.dir(), NAME, 1).map_err(|e| io_failure(&did, e))?;
    (|| {
        pager.begin()?;
        pager.write(1, &page)?;
        pager.read(2).map(|_| ())
    })()
    .map_err(|e| io_failure(&did, e))?;
    let journal = disk.contents(&journal_name()).unwrap_or_default();
    // Fail the journal's removal, to see the journal commit leaves.
    faulty.arm(OpKind::Remove, 1, Fault::IoError);
    did.push_str(", commit() with the journal's removal failing");
    if pager.commit().is_ok() {
        return fail(format!(
            "did:      {did}\nexpected: Err: the journal could not be removed\ngot:      Ok(())"
        ));
    }
    let left = disk.contents(&journal_name()).unwrap_or_default();
    if left != journal {
        return fail(format!(
            "did:      {did}\nexpected: the journal as the eviction left it, {} bytes: every \
             record was synced already, so commit has nothing to sync (sync only if records were \
             written since the last sync; an empty segment is never written)\ngot:      a \
             journal of {} bytes{}",
            journal.len(),
            left.len(),
            if left.len() > journal.len() {
                format!(
                    ", with {} bytes added after the synced segment",
                    left.len() - journal.len()
                )
            } else {
                String::new()
            }
        ));
    }
    drop(pager);
    let mut after = base.clone();
    after.pages[1] = Some(5);
    after.counter += 1;
    expect_recovered(&disk, &[&base, &after], &|| {
        format!("did:      {did}; dropped, then open")
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A failure stops the pager.

fn failure_stops_the_pager(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let aims = [
        (OpKind::Sync, 1, Fault::SyncLosesData),
        (OpKind::Sync, 1, Fault::IoError),
        (OpKind::Write, 1, Fault::IoError),
        (OpKind::Write, 3, Fault::DiskFull),
        (OpKind::DirSync, 1, Fault::IoError),
        (OpKind::Create, 1, Fault::IoError),
    ];
    for (kind, n, fault) in aims {
        let disk = SimDisk::new(seed);
        let base = base_image(512, 4);
        set_up(&disk, &base)?;
        let faulty = FaultDir::new(&disk, &[Aim { kind, n, fault }]);
        let mut did = format!(
            "a database of 4 pages, committed; Pager::open(dir, {NAME:?}, 1) with operation \
             {n} of kind {kind:?} failing with {fault:?}, begin()"
        );
        let mut pager = Pager::open(faulty.dir(), NAME, 1).map_err(|e| io_failure(&did, e))?;
        pager.begin().map_err(|e| io_failure(&did, e))?;
        let mut failed = None;
        for action in [
            Action::Write(1, 4),
            Action::Write(2, 4),
            Action::Write(3, 4),
        ] {
            did = format!("{did}, {action:?}");
            if let Err(error) = act(&mut pager, action) {
                failed = Some(error);
                break;
            }
        }
        if failed.is_none() {
            did.push_str(", commit()");
            failed = pager.commit().err();
        }
        let Some(error) = failed else {
            return fail(format!(
                "did:      {did}\nexpected: a call to fail when the disk operation failed\ngot:      \
                 every call returned Ok"
            ));
        };
        did = format!("{did} (which returned Err({:?}): {error})", error.kind());
        let page = fill(1, 5, 512);
        let calls: [(&str, io::Result<()>); 6] = [
            ("read(2)", pager.read(2).map(|_| ())),
            ("write(1, [page 1, version 5])", pager.write(1, &page)),
            ("allocate()", pager.allocate().map(|_| ())),
            ("commit()", pager.commit()),
            ("rollback()", pager.rollback()),
            ("begin()", pager.begin()),
        ];
        for (call, result) in calls {
            if result.is_ok() {
                return fail(format!(
                    "did:      {did}, then {call}\nexpected: an error: after a failed write, sync \
                     or name operation the pager stops, and every call fails\ngot:      Ok"
                ));
            }
        }
        drop(pager);
        expect_recovered(&disk, &[&base], &|| {
            format!("did:      {did}; every later call failed; dropped, then open")
        })?;
    }
    Ok(())
}
