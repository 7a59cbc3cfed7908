//! Hidden checks for btree/pager.

use std::fmt;
use std::io::{self, ErrorKind};
use std::sync::{Arc, Mutex, PoisonError};

use btree_pager::{CacheStats, HEADER_LEN, MAGIC, Pager};
use judge::prelude::*;
use kit::disk::{Dir, File};
use kit::fault::{Aim, FaultDir, attempt};
use kit::sim::{Fault, OpKind, Profile, SimDisk};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "create writes the header page byte for byte as the README lays it out (magic, page \
             size, a page count of 1, free list 0 and 0, change counter 0, zeros), syncs it and \
             the directory, for every page size from 512 to 65536",
            create_writes_the_header,
        )
        .check(
            "a page size that is not a power of two from 512 to 65536, or a cache of 0 pages, \
             is InvalidInput, before the disk is touched",
            bad_arguments,
        )
        .check(
            "read and write of page 0, of a page past the end, and a write of data that is not \
             one page long are InvalidInput, touch no disk, and change nothing",
            bad_pages,
        )
        .check(
            "allocate, read, write, set_free_list, flush, reopen and a power failure, against a \
             model: every read returns the last page written (zeros for a new page), a flush \
             leaves the file byte for byte as the README lays it out, and what was flushed \
             survives reopen and the power failing",
            pages_match_model,
        )
        .check(
            "the cache, against a model of an LRU cache: a cached page costs no disk read, a \
             miss one aligned read of one page, a write none; the least recently used page is \
             evicted, written back once if dirty and never if clean; stats count the same",
            cache_matches_model,
        )
        .check(
            "eviction, scripted: the least recently used page goes (a read or a write makes a \
             page the most recent), a dirty page is written back exactly once with its bytes, \
             and a clean one never",
            eviction_order,
        )
        .check(
            "flush writes every dirty page once, syncs, writes the header with the change \
             counter one up, and syncs again; a flush with nothing changed touches nothing",
            flush_order,
        )
        .check(
            "open reads the header and nothing more, and opens a file written by hand as the \
             README lays it out (big-endian fields, pages at page_size * n)",
            open_reads_a_handmade_file,
        )
        .check(
            "open refuses what is not a pager's file: another magic, a page size out of range, \
             a page count of 0, a file shorter than its page count or than a header \
             (InvalidData), a missing file (NotFound)",
            open_validates,
        )
        .check(
            "a failed read, write-back, flush write or open is an error, loses nothing, counts \
             nothing in stats and changes neither page count nor free list, and the same call \
             succeeds once the disk recovers; every page read is right, and a flush made again \
             writes the change counter one up, not two (every operation of a workload failed \
             in turn)",
            faults_everywhere,
        )
        .check(
            "after a sync fails, every call fails (the disk may have dropped written-back \
             pages); reopened, the file holds what the last good flush left",
            failed_sync_stops,
        )
        .check(
            "the power failing at any step of a flush: the file opens, with the old page count \
             or the new one, and with the new one every page is new",
            crash_during_flush,
        )
}

const NAME: &str = "pages.db";

// ---------------------------------------------------------------------------------------------
// Pages and what the file should hold.

/// The contents the checks write: `[page p, version v]` is a page made from `p` and `v`, so that
/// a wrong page in a failure can be named.
fn fill(page: u32, version: u8, size: usize) -> Vec<u8> {
    let mut data: Vec<u8> = (0..size)
        .map(|j| (j as u8) ^ ((j >> 8) as u8).wrapping_mul(29) ^ version.wrapping_mul(101))
        .collect();
    data[..4].copy_from_slice(&page.to_be_bytes());
    data[4] = version;
    data
}

/// What a page holds: zeros (a page just allocated) or a version the checks wrote.
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
        return "a header page".into();
    }
    let shown: Vec<String> = bytes[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("other bytes, starting {}...", shown.join(" "))
}

/// The header page as the README lays it out.
fn golden_header(size: usize, count: u32, free: (u32, u32), counter: u32) -> Vec<u8> {
    let mut page = vec![0; size];
    page[..16].copy_from_slice(MAGIC);
    for (i, field) in [size as u32, count, free.0, free.1, counter]
        .into_iter()
        .enumerate()
    {
        page[16 + 4 * i..20 + 4 * i].copy_from_slice(&field.to_be_bytes());
    }
    page
}

/// Says where two headers differ, field by field.
fn header_difference(got: &[u8], expected: &[u8]) -> String {
    const FIELDS: [(&str, usize, usize); 7] = [
        ("the magic", 0, 16),
        ("the page size", 16, 20),
        ("the page count", 20, 24),
        ("the free-list head", 24, 28),
        ("the free-list count", 28, 32),
        ("the change counter", 32, 36),
        ("the reserved zeros", 36, usize::MAX),
    ];
    if got.len() < HEADER_LEN {
        return format!("the file holds only {} bytes", got.len());
    }
    for (name, from, to) in FIELDS {
        let to = to.min(expected.len());
        let got = &got[from..to.min(got.len())];
        let expected = &expected[from..to];
        if got != expected {
            let at = got.iter().zip(expected).take_while(|(a, b)| a == b).count();
            let shown = |bytes: &[u8]| {
                let end = if from == 36 {
                    (at + 8).min(bytes.len())
                } else {
                    bytes.len()
                };
                let start = if from == 36 { at } else { 0 };
                let hex: Vec<String> = bytes[start..end]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                hex.join(" ")
            };
            return format!(
                "{name} (bytes {from}..{}) differ: expected {}, got {}{}",
                from + expected.len(),
                shown(expected),
                shown(got),
                if from == 36 {
                    format!(" at byte {}", from + at)
                } else {
                    String::new()
                }
            );
        }
    }
    "the header page has the wrong length".into()
}

// ---------------------------------------------------------------------------------------------
// A directory that records what the pager does with its file.

/// One operation on a file, as the recorder saw it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Io {
    Read { at: u64, len: usize },
    Write { at: u64, data: Vec<u8> },
    Truncate(u64),
    Sync,
    Len,
}

/// A file operation as a failure message tells it, for pages of `size` bytes.
fn show_io(io: &Io, size: usize) -> String {
    let size64 = size as u64;
    match io {
        Io::Read { at, len } if at % size64 == 0 && *len == size => {
            format!("read page {}", at / size64)
        }
        Io::Read { at, len } => format!("read {len} bytes at offset {at}"),
        Io::Write { at: 0, data } if data.len() == size && data.starts_with(MAGIC) => {
            "write the header".into()
        }
        Io::Write { at, data } if at % size64 == 0 && data.len() == size => {
            format!(
                "write page {} holding {}",
                at / size64,
                name_page(data, size)
            )
        }
        Io::Write { at, data } => format!("write {} bytes at offset {at}", data.len()),
        Io::Truncate(len) => format!("truncate to {len}"),
        Io::Sync => "sync".into(),
        Io::Len => "len".into(),
    }
}

/// The operations between two syncs, in any order: a pager may read a page before or after it
/// writes back the page it evicts for it, and write dirty pages in any order, but it must
/// not move a write across a sync.
fn normalized(ios: &[Io]) -> Vec<Io> {
    let mut out = Vec::new();
    let mut run: Vec<Io> = Vec::new();
    for io in ios {
        if *io == Io::Sync {
            run.sort();
            out.append(&mut run);
            out.push(Io::Sync);
        } else {
            run.push(io.clone());
        }
    }
    run.sort();
    out.append(&mut run);
    out
}

fn show_ios(ios: &[Io], size: usize) -> String {
    if ios.is_empty() {
        return "nothing".into();
    }
    let shown: Vec<String> = ios.iter().map(|io| show_io(io, size)).collect();
    format!("[{}]", shown.join(", "))
}

type Log = Arc<Mutex<Vec<Io>>>;

/// A directory that passes every call on to `inner`, noting each file operation in its log.
#[derive(Debug, Clone)]
struct Recorder {
    inner: Arc<dyn Dir>,
    log: Log,
}

impl Recorder {
    fn new(inner: Arc<dyn Dir>) -> Recorder {
        Recorder {
            inner,
            log: Arc::default(),
        }
    }

    /// Everything noted since the last take.
    fn take(&self) -> Vec<Io> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn wrap(&self, file: io::Result<Box<dyn File>>) -> io::Result<Box<dyn File>> {
        Ok(Box::new(Recorded {
            inner: file?,
            log: self.log.clone(),
        }))
    }
}

impl Dir for Recorder {
    fn create(&self, name: &str) -> io::Result<Box<dyn File>> {
        self.wrap(self.inner.create(name))
    }
    fn open(&self, name: &str) -> io::Result<Box<dyn File>> {
        self.wrap(self.inner.open(name))
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
struct Recorded {
    inner: Box<dyn File>,
    log: Log,
}

impl Recorded {
    fn note(&self, io: Io) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(io);
    }
}

impl File for Recorded {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.note(Io::Read {
            at: offset,
            len: buf.len(),
        });
        self.inner.read_at(offset, buf)
    }
    fn append(&self, data: &[u8]) -> io::Result<u64> {
        let at = self.inner.len()?;
        self.note(Io::Write {
            at,
            data: data.to_vec(),
        });
        self.inner.append(data)
    }
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.note(Io::Write {
            at: offset,
            data: data.to_vec(),
        });
        self.inner.write_at(offset, data)
    }
    fn truncate(&self, len: u64) -> io::Result<()> {
        self.note(Io::Truncate(len));
        self.inner.truncate(len)
    }
    fn len(&self) -> io::Result<u64> {
        self.note(Io::Len);
        self.inner.len()
    }
    fn sync(&self) -> io::Result<()> {
        self.note(Io::Sync);
        self.inner.sync()
    }
}

// ---------------------------------------------------------------------------------------------
// Saying what was done.

/// The calls made so far, to say in a failure exactly what was done.
struct Script {
    calls: Vec<String>,
}

impl Script {
    fn new(first: impl Into<String>) -> Script {
        Script {
            calls: vec![first.into()],
        }
    }

    fn note(&mut self, call: impl Into<String>) {
        self.calls.push(call.into());
    }

    fn did(&mut self, call: impl Into<String>) -> String {
        self.note(call);
        self.so_far()
    }

    /// The calls so far, a run of the same call written once with its count (`allocate() x
    /// 21`), the last 40 of a long script.
    fn so_far(&self) -> String {
        let mut runs: Vec<(&str, usize)> = Vec::new();
        for call in &self.calls {
            match runs.last_mut() {
                Some((last, n)) if *last == call.as_str() => *n += 1,
                _ => runs.push((call, 1)),
            }
        }
        let shown: Vec<String> = runs
            .into_iter()
            .map(|(call, n)| match n {
                1 => call.to_string(),
                n => format!("{call} x {n}"),
            })
            .collect();
        let skip = shown.len().saturating_sub(40);
        let mut text = shown[skip..].join(", ");
        if skip > 0 {
            text = format!("({skip} calls before) {text}");
        }
        text
    }
}

fn io_failure(did: &str, error: io::Error) -> Failure {
    Failure::new(format!(
        "did:      {did}\nexpected: success\ngot:      Err({:?}): {error}",
        error.kind()
    ))
}

fn describe<T>(result: &io::Result<T>, shown: impl Fn(&T) -> String) -> String {
    match result {
        Ok(value) => format!("Ok({})", shown(value)),
        Err(error) => format!("Err({:?}): {error}", error.kind()),
    }
}

fn expect_kind<T>(
    did: &str,
    result: io::Result<T>,
    kind: ErrorKind,
    shown: impl Fn(&T) -> String,
) -> CheckResult {
    match &result {
        Err(error) if error.kind() == kind => Ok(()),
        _ => fail(format!(
            "did:      {did}\nexpected: Err({kind:?})\ngot:      {}",
            describe(&result, shown)
        )),
    }
}

fn create_call(size: usize, cache: usize) -> String {
    format!("Pager::create(dir, {NAME:?}, {size}, {cache})")
}

fn open_call(cache: usize) -> String {
    format!("Pager::open(dir, {NAME:?}, {cache})")
}

// ---------------------------------------------------------------------------------------------
// The model.

/// What the file should hold: pages by version (`None` for zeros), the free list, the change
/// counter; and what the last flush left on the disk.
#[derive(Clone)]
struct Model {
    size: usize,
    pages: Vec<Option<u8>>,
    free: (u32, u32),
    counter: u32,
    changed: bool,
    flushed: (Vec<Option<u8>>, (u32, u32), u32),
}

impl Model {
    fn new(size: usize) -> Model {
        Model {
            size,
            pages: vec![None],
            free: (0, 0),
            counter: 0,
            changed: false,
            flushed: (vec![None], (0, 0), 0),
        }
    }

    fn count(&self) -> u32 {
        self.pages.len() as u32
    }

    fn page(&self, page: u32) -> Vec<u8> {
        contents(self.pages[page as usize], page, self.size)
    }

    fn flush(&mut self) {
        if self.changed {
            self.counter = self.counter.wrapping_add(1);
            self.changed = false;
        }
        self.flushed = (self.pages.clone(), self.free, self.counter);
    }

    /// The power failed: what was not flushed is gone.
    fn crash(&mut self) {
        (self.pages, self.free, self.counter) = self.flushed.clone();
        self.changed = false;
    }

    /// The whole file as a flush leaves it.
    fn file(&self) -> Vec<u8> {
        let mut bytes = golden_header(self.size, self.count(), self.free, self.counter);
        for page in 1..self.count() {
            bytes.extend(self.page(page));
        }
        bytes
    }
}

/// One step of a random workload. Pages are named by number; a step on a page the file does
/// not hold yet is left out.
#[derive(Clone)]
enum Step {
    Allocate,
    Read(u32),
    Write(u32, u8),
    SetFreeList(u32, u32),
    Flush,
    Reopen(usize),
    PowerFails,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Allocate => write!(f, "allocate()"),
            Step::Read(page) => write!(f, "read({page})"),
            Step::Write(page, v) => write!(f, "write({page}, [page {page}, version {v}])"),
            Step::SetFreeList(head, count) => write!(f, "set_free_list({head}, {count})"),
            Step::Flush => write!(f, "flush()"),
            Step::Reopen(cache) => write!(f, "flush(), reopen with {cache} cache pages"),
            Step::PowerFails => write!(f, "the power fails, reopen"),
        }
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Allocate),
        4 => (1..8u32).prop_map(Step::Read),
        4 => (1..8u32, any::<u8>()).prop_map(|(p, v)| Step::Write(p, v)),
        2 => Just(Step::Flush),
        1 => (1..5usize).prop_map(Step::Reopen),
        1 => Just(Step::PowerFails),
        1 => (prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()], any::<u32>())
            .prop_map(|(h, c)| Step::SetFreeList(h, c)),
    ]
}

fn page_size() -> impl Strategy<Value = usize> {
    prop_oneof![6 => Just(512usize), 1 => Just(1024), 1 => Just(4096), 1 => Just(65536)]
}

fn cache_pages() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 1..4usize, 1 => 4..12usize]
}

/// The cache as a list from least to most recently used: (page, dirty).
#[derive(Clone, Default)]
struct Lru {
    capacity: usize,
    frames: Vec<(u32, bool)>,
    stats: CacheStats,
}

impl Lru {
    fn new(capacity: usize) -> Lru {
        Lru {
            capacity,
            ..Lru::default()
        }
    }

    /// Uses `page`: returns whether it was cached, and moves it to the most recent end.
    fn touch(&mut self, page: u32, dirty: bool) -> bool {
        match self.frames.iter().position(|&(p, _)| p == page) {
            Some(i) => {
                let (_, was) = self.frames.remove(i);
                self.frames.push((page, was || dirty));
                self.stats.hits += 1;
                true
            }
            None => false,
        }
    }

    /// Adds `page` as the most recent, evicting the least recent if full: returns the page
    /// evicted if it was dirty (and so written back).
    fn insert(&mut self, page: u32, dirty: bool) -> Option<u32> {
        let mut written = None;
        if self.frames.len() == self.capacity {
            let (victim, was_dirty) = self.frames.remove(0);
            self.stats.evictions += 1;
            if was_dirty {
                self.stats.write_backs += 1;
                written = Some(victim);
            }
        }
        self.frames.push((page, dirty));
        written
    }

    fn dirty(&self) -> Vec<u32> {
        let mut pages: Vec<u32> = self
            .frames
            .iter()
            .filter(|(_, d)| *d)
            .map(|&(p, _)| p)
            .collect();
        pages.sort_unstable();
        pages
    }

    /// The cache as a failure message shows it: `[1, 3*, 2]`, least recently used first.
    fn describe(&self) -> String {
        let pages: Vec<String> = self
            .frames
            .iter()
            .map(|&(p, d)| format!("{p}{}", if d { "*" } else { "" }))
            .collect();
        format!(
            "[{}] of {} (least recently used first; * dirty)",
            pages.join(", "),
            self.capacity
        )
    }

    fn clean(&mut self) {
        for frame in &mut self.frames {
            frame.1 = false;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Driving a pager through a random workload.

/// What a random run checks after every step.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Watch {
    /// What reads return, the page count, and the file after a flush.
    Pages,
    /// Every file operation of every step, and stats.
    Cache,
}

struct Run {
    disk: SimDisk,
    dir: Recorder,
    pager: Pager,
    model: Model,
    lru: Lru,
    script: Script,
    watch: Watch,
    /// What the model's cache held before the step.
    cache_before: String,
}

impl Run {
    fn new(seed: u64, size: usize, cache: usize, watch: Watch) -> Result<Run, Failure> {
        let disk = SimDisk::new(seed);
        let dir = Recorder::new(disk.dir());
        let mut script = Script::new(create_call(size, cache));
        let pager =
            Pager::create(&dir, NAME, size, cache).map_err(|e| io_failure(&script.so_far(), e))?;
        script.calls[0] = format!("{} (pages are named [page p, version v])", script.calls[0]);
        dir.take();
        Ok(Run {
            disk,
            dir,
            pager,
            model: Model::new(size),
            lru: Lru::new(cache),
            script,
            watch,
            cache_before: String::new(),
        })
    }

    fn size(&self) -> usize {
        self.model.size
    }

    fn page_offset(&self, page: u32) -> u64 {
        u64::from(page) * self.size() as u64
    }

    /// Checks the file operations the step made against the model's.
    fn expect_ios(&self, did: &str, expected: Vec<Io>, why: &str) -> CheckResult {
        let got = self.dir.take();
        if self.watch != Watch::Cache || normalized(&got) == normalized(&expected) {
            return Ok(());
        }
        fail(format!(
            "did:      {did}\ncache:    {} before the call\nexpected: {} ({why})\ngot:      {}",
            self.cache_before,
            show_ios(&expected, self.size()),
            show_ios(&got, self.size())
        ))
    }

    /// The write-back a model eviction makes, if any.
    fn write_back(&self, evicted: Option<u32>) -> Vec<Io> {
        evicted
            .map(|page| Io::Write {
                at: self.page_offset(page),
                data: self.model.page(page),
            })
            .into_iter()
            .collect()
    }

    fn expect_stats(&self, did: &str) -> CheckResult {
        if self.watch != Watch::Cache {
            return Ok(());
        }
        expect_eq(
            format!("{did}, then stats()"),
            self.pager.stats(),
            self.lru.stats,
        )
    }

    fn apply(&mut self, step: &Step) -> CheckResult {
        self.cache_before = self.lru.describe();
        match *step {
            Step::Allocate => {
                let did = self.script.did("allocate()");
                let got = self.pager.allocate().map_err(|e| io_failure(&did, e))?;
                let expected = self.model.count();
                expect_eq(&did, got, expected)?;
                let evicted = self.lru.insert(got, true);
                let ios = self.write_back(evicted);
                self.model.pages.push(None);
                self.model.changed = true;
                self.expect_ios(
                    &did,
                    ios,
                    "a new page is zeros in the cache: nothing to read; only a full cache writes \
                     back its least recently used page if dirty",
                )?;
                let count = self.pager.page_count();
                expect_eq(format!("{did}, then page_count()"), count, expected + 1)?;
            }
            Step::Read(page) if page < self.model.count() => {
                let did = self.script.did(format!("read({page})"));
                let got = self.pager.read(page).map_err(|e| io_failure(&did, e))?;
                let expected = self.model.page(page);
                if got != expected {
                    return fail(format!(
                        "did:      {did}\nexpected: {}\ngot:      {}",
                        name_page(&expected, self.size()),
                        name_page(&got, self.size())
                    ));
                }
                let (ios, why) = if self.lru.touch(page, false) {
                    (Vec::new(), "the page is in the cache")
                } else {
                    self.lru.stats.misses += 1;
                    let evicted = self.lru.insert(page, false);
                    let mut ios = vec![Io::Read {
                        at: self.page_offset(page),
                        len: self.size(),
                    }];
                    ios.extend(self.write_back(evicted));
                    (
                        ios,
                        "a miss reads the page, in one read of one page at page * page_size; a \
                         full cache evicts its least recently used page, written back if dirty",
                    )
                };
                self.expect_ios(&did, ios, why)?;
            }
            Step::Write(page, version) if page < self.model.count() => {
                let did = self
                    .script
                    .did(format!("write({page}, [page {page}, version {version}])"));
                let data = fill(page, version, self.size());
                self.pager
                    .write(page, &data)
                    .map_err(|e| io_failure(&did, e))?;
                let ios = if self.lru.touch(page, true) {
                    Vec::new()
                } else {
                    let evicted = self.lru.insert(page, true);
                    self.write_back(evicted)
                };
                self.model.pages[page as usize] = Some(version);
                self.model.changed = true;
                self.expect_ios(
                    &did,
                    ios,
                    "a write replaces the whole page in the cache: nothing to read, nothing \
                     written until it is evicted or flushed",
                )?;
            }
            Step::Read(_) | Step::Write(..) => return Ok(()),
            Step::SetFreeList(head, count) => {
                let did = self.script.did(format!("set_free_list({head}, {count})"));
                self.pager
                    .set_free_list(head, count)
                    .map_err(|e| io_failure(&did, e))?;
                self.model.free = (head, count);
                self.model.changed = true;
                self.expect_ios(&did, Vec::new(), "it changes the header in memory only")?;
                let got = self.pager.free_list();
                expect_eq(format!("{did}, then free_list()"), got, (head, count))?;
            }
            Step::Flush => {
                let did = self.script.did("flush()");
                self.flush(&did)?;
            }
            Step::Reopen(cache) => {
                let did = self.script.did("flush()");
                self.flush(&did)?;
                let did = self.script.did(format!("drop, {}", open_call(cache)));
                self.pager =
                    Pager::open(&self.dir, NAME, cache).map_err(|e| io_failure(&did, e))?;
                self.dir.take();
                self.lru = Lru::new(cache);
                self.expect_reopened(&did)?;
            }
            Step::PowerFails => {
                self.disk.restart_losing_unsynced();
                let cache = self.lru.capacity;
                let did = self.script.did(format!(
                    "the power fails (every unsynced write is lost), {}",
                    open_call(cache)
                ));
                self.dir = Recorder::new(self.disk.dir());
                self.pager =
                    Pager::open(&self.dir, NAME, cache).map_err(|e| io_failure(&did, e))?;
                self.dir.take();
                self.lru = Lru::new(cache);
                self.model.crash();
                self.expect_reopened(&did)?;
            }
        }
        let did = self.script.so_far();
        self.expect_stats(&did)
    }

    fn flush(&mut self, did: &str) -> CheckResult {
        self.pager.flush().map_err(|e| io_failure(did, e))?;
        let changed = self.model.changed;
        let dirty = self.lru.dirty();
        self.lru.clean();
        self.model.flush();
        let mut ios: Vec<Io> = Vec::new();
        if changed {
            for page in dirty {
                ios.push(Io::Write {
                    at: self.page_offset(page),
                    data: self.model.page(page),
                });
            }
            ios.push(Io::Sync);
            let m = &self.model;
            ios.push(Io::Write {
                at: 0,
                data: golden_header(m.size, m.count(), m.free, m.counter),
            });
            ios.push(Io::Sync);
        }
        self.expect_ios(
            did,
            ios,
            "every dirty page once, a sync, the header, a sync; nothing if \
             nothing changed since the last flush",
        )?;
        if self.watch == Watch::Pages {
            let got = self.disk.contents(NAME).unwrap_or_default();
            let expected = self.model.file();
            expect_file(did, &got, &expected, self.size())?;
        }
        Ok(())
    }

    fn expect_reopened(&mut self, did: &str) -> CheckResult {
        let count = self.pager.page_count();
        expect_eq(
            format!("{did}, then page_count()"),
            count,
            self.model.count(),
        )?;
        let free = self.pager.free_list();
        expect_eq(format!("{did}, then free_list()"), free, self.model.free)
    }
}

/// Compares a whole file with what it should be: the header by field, then each page.
fn expect_file(did: &str, got: &[u8], expected: &[u8], size: usize) -> CheckResult {
    if got == expected {
        return Ok(());
    }
    let header = &got[..got.len().min(size)];
    if header != &expected[..size] {
        return fail(format!(
            "did:      {did}, then looked at the file's header page\nexpected: the header the \
             README lays out\ngot:      {}",
            header_difference(header, &expected[..size])
        ));
    }
    if got.len() != expected.len() {
        return fail(format!(
            "did:      {did}, then looked at the file\nexpected: {} bytes: {} pages of {size}\n\
             got:      {} bytes",
            expected.len(),
            expected.len() / size,
            got.len()
        ));
    }
    let page = (0..expected.len() / size)
        .find(|&p| got[p * size..(p + 1) * size] != expected[p * size..(p + 1) * size])
        .unwrap_or(0);
    let range = page * size..(page + 1) * size;
    fail(format!(
        "did:      {did}, then looked at page {page} of the file (bytes {}..{})\nexpected: {}\n\
         got:      {}",
        range.start,
        range.end,
        name_page(&expected[range.clone()], size),
        name_page(&got[range.clone()], size)
    ))
}

fn run_steps(seed: u64, size: usize, cache: usize, steps: &[Step], watch: Watch) -> CheckResult {
    let mut run = Run::new(seed, size, cache, watch)?;
    for step in steps {
        run.apply(step)?;
    }
    // Every page, read back at the end: what no step read is checked too.
    if watch == Watch::Pages {
        for page in 1..run.model.count() {
            run.apply(&Step::Read(page))?;
        }
        run.apply(&Step::Reopen(cache))?;
        for page in 1..run.model.count() {
            run.apply(&Step::Read(page))?;
        }
    }
    Ok(())
}

fn pages_match_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["page size", "cache pages", "steps"],
        64,
        (
            page_size(),
            cache_pages(),
            prop::collection::vec(step(), 0..40),
        ),
        |(size, cache, steps)| run_steps(seed, size, cache, &steps, Watch::Pages),
    )
}

fn cache_matches_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["page size", "cache pages", "steps"],
        64,
        (
            page_size(),
            cache_pages(),
            prop::collection::vec(step(), 0..40),
        ),
        |(size, cache, steps)| run_steps(seed, size, cache, &steps, Watch::Cache),
    )
}

// ---------------------------------------------------------------------------------------------
// Scripted checks.

fn create_writes_the_header(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    for shift in 9..=16 {
        let size = 1usize << shift;
        let disk = SimDisk::new(seed);
        let dir = disk.dir();
        let did = create_call(size, 1);
        let pager = Pager::create(&*dir, NAME, size, 1).map_err(|e| io_failure(&did, e))?;
        expect_eq(format!("{did}, then page_size()"), pager.page_size(), size)?;
        expect_eq(format!("{did}, then page_count()"), pager.page_count(), 1)?;
        expect_eq(
            format!("{did}, then free_list()"),
            pager.free_list(),
            (0, 0),
        )?;
        let expected = golden_header(size, 1, (0, 0), 0);
        expect_file(
            &did,
            &disk.contents(NAME).unwrap_or_default(),
            &expected,
            size,
        )?;
        let view = disk.files().into_iter().find(|f| f.name == NAME);
        let durable = view.as_ref().is_some_and(|v| v.durable_len == size as u64);
        expect(
            durable,
            format!(
                "did:      {did}\nexpected: the header page synced ({size} durable bytes)\n\
                 got:      {} durable bytes",
                view.map_or(0, |v| v.durable_len)
            ),
        )?;
        expect(
            disk.files()
                .iter()
                .any(|f| f.name == NAME && f.durable_name),
            format!(
                "did:      {did}\nexpected: the directory synced, so that the file's name \
                 survives a crash\ngot:      the name is not durable"
            ),
        )?;
        drop(pager);
        disk.restart_losing_unsynced();
        let did = format!("{did}, the power fails, {}", open_call(1));
        let pager = Pager::open(&*disk.dir(), NAME, 1).map_err(|e| io_failure(&did, e))?;
        expect_eq(format!("{did}, then page_count()"), pager.page_count(), 1)?;
        expect_eq(format!("{did}, then page_size()"), pager.page_size(), size)?;
    }
    let disk = SimDisk::new(seed);
    let dir = disk.dir();
    Pager::create(&*dir, NAME, 512, 1).map_err(|e| io_failure(&create_call(512, 1), e))?;
    let did = format!("{0}, {0} again", create_call(512, 1));
    expect_kind(
        &did,
        Pager::create(&*dir, NAME, 512, 1),
        ErrorKind::AlreadyExists,
        |_| "a pager".into(),
    )
}

fn bad_arguments(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let sizes = [
        0,
        1,
        256,
        511,
        513,
        768,
        1000,
        4095,
        4097,
        3 * 4096,
        65535,
        65537,
        131072,
        1 << 32,
        usize::MAX,
    ];
    for size in sizes {
        let disk = SimDisk::new(seed);
        let did = create_call(size, 4);
        let result = Pager::create(&*disk.dir(), NAME, size, 4);
        expect_kind(&did, result, ErrorKind::InvalidInput, |_| "a pager".into())?;
        expect_eq(
            format!("{did}, then counted the disk's operations"),
            disk.steps(),
            0,
        )?;
    }
    let disk = SimDisk::new(seed);
    let did = create_call(4096, 0);
    let result = Pager::create(&*disk.dir(), NAME, 4096, 0);
    expect_kind(&did, result, ErrorKind::InvalidInput, |_| "a pager".into())?;
    expect_eq(
        format!("{did}, then counted the disk's operations"),
        disk.steps(),
        0,
    )?;
    let pager = Pager::create(&*disk.dir(), NAME, 4096, 1)
        .map_err(|e| io_failure(&create_call(4096, 1), e))?;
    drop(pager);
    let steps = disk.steps();
    let did = format!("{}, {}", create_call(4096, 1), open_call(0));
    let result = Pager::open(&*disk.dir(), NAME, 0);
    expect_kind(&did, result, ErrorKind::InvalidInput, |_| "a pager".into())?;
    expect_eq(
        format!("{did}, then counted the disk's operations open made"),
        disk.steps() - steps,
        0,
    )
}

fn bad_pages(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let size = 512;
    let disk = SimDisk::new(seed);
    let mut script = Script::new(create_call(size, 2));
    let mut pager =
        Pager::create(&*disk.dir(), NAME, size, 2).map_err(|e| io_failure(&script.so_far(), e))?;
    let page = |n: u32| fill(n, 1, size);
    let shown = |data: &Vec<u8>| name_page(data, size);
    // A file of the header alone: no page can be read or written.
    for n in [0, 1, 2, u32::MAX] {
        let steps = disk.steps();
        let did = script.did(format!("read({n})"));
        expect_kind(&did, pager.read(n), ErrorKind::InvalidInput, shown)?;
        let did = script.did(format!("write({n}, [page {n}, version 1])"));
        expect_kind(
            &did,
            pager.write(n, &page(n)),
            ErrorKind::InvalidInput,
            |_| "()".into(),
        )?;
        expect_eq(
            format!("{did}, then counted the disk's operations since read({n})"),
            disk.steps() - steps,
            0,
        )?;
    }
    for _ in 0..3 {
        let did = script.did("allocate()");
        pager.allocate().map_err(|e| io_failure(&did, e))?;
    }
    let did = script.did("flush()");
    pager.flush().map_err(|e| io_failure(&did, e))?;
    for n in 1..4 {
        let did = script.did(format!("write({n}, [page {n}, version 1])"));
        pager.write(n, &page(n)).map_err(|e| io_failure(&did, e))?;
    }
    let stats = pager.stats();
    let steps = disk.steps();
    for n in [0, 4, 5, u32::MAX] {
        let did = script.did(format!("read({n})"));
        expect_kind(&did, pager.read(n), ErrorKind::InvalidInput, shown)?;
        let did = script.did(format!("write({n}, [page {n}, version 2])"));
        let result = pager.write(n, &fill(n, 2, size));
        expect_kind(&did, result, ErrorKind::InvalidInput, |_| "()".into())?;
    }
    for len in [0, 1, size - 1, size + 1, 2 * size] {
        let did = script.did(format!("write(3, <{len} bytes>)"));
        let result = pager.write(3, &vec![7; len]);
        expect_kind(&did, result, ErrorKind::InvalidInput, |_| "()".into())?;
    }
    let did = script.so_far();
    expect_eq(
        format!("{did}, counting the disk's operations of the calls that failed"),
        disk.steps() - steps,
        0,
    )?;
    expect_eq(
        format!("{did}, then stats() (calls that failed count nothing)"),
        pager.stats(),
        stats,
    )?;
    expect_eq(format!("{did}, then page_count()"), pager.page_count(), 4)?;
    for n in 1..4 {
        let did = script.did(format!("read({n})"));
        let got = pager.read(n).map_err(|e| io_failure(&did, e))?;
        expect_eq(&did, shown(&got), shown(&page(n)))?;
    }
    Ok(())
}

/// A pager over a recorded disk, `count - 1` pages allocated, written and flushed.
fn flushed_pager(
    seed: u64,
    size: usize,
    cache: usize,
    count: u32,
) -> Result<(SimDisk, Recorder, Pager, Script), Failure> {
    let disk = SimDisk::new(seed);
    let dir = Recorder::new(disk.dir());
    let mut script = Script::new(create_call(size, cache));
    let mut pager =
        Pager::create(&dir, NAME, size, cache).map_err(|e| io_failure(&script.so_far(), e))?;
    for page in 1..count {
        let did = script.did("allocate()");
        pager.allocate().map_err(|e| io_failure(&did, e))?;
        let did = script.did(format!("write({page}, [page {page}, version 1])"));
        pager
            .write(page, &fill(page, 1, size))
            .map_err(|e| io_failure(&did, e))?;
    }
    let did = script.did("flush()");
    pager.flush().map_err(|e| io_failure(&did, e))?;
    let cache_call = format!("drop, {}", open_call(cache));
    let did = script.did(&cache_call);
    let pager = Pager::open(&dir, NAME, cache).map_err(|e| io_failure(&did, e))?;
    dir.take();
    Ok((disk, dir, pager, script))
}

fn eviction_order(ctx: &mut Ctx) -> CheckResult {
    let size = 512;
    let seed = ctx.seed();
    let (_disk, dir, mut pager, mut script) = flushed_pager(seed, size, 3, 7)?;
    let at = |page: u32| u64::from(page) * size as u64;
    let read = |page: u32| Io::Read {
        at: at(page),
        len: size,
    };
    let mut expect_step =
        |pager: &mut Pager, call: &str, expected: Vec<Io>, why: &str| -> CheckResult {
            let did = script.did(call);
            let result = match call.strip_prefix("read(") {
                Some(rest) => {
                    let page: u32 = rest.trim_end_matches(')').parse().unwrap();
                    pager.read(page).map(|_| ())
                }
                None => {
                    let page: u32 = call[6..7].parse().unwrap();
                    pager.write(page, &fill(page, 2, size))
                }
            };
            result.map_err(|e| io_failure(&did, e))?;
            let got = dir.take();
            if normalized(&got) == normalized(&expected) {
                return Ok(());
            }
            fail(format!(
                "did:      {did} (the cache holds 3 pages)\nexpected: {} ({why})\ngot:      {}",
                show_ios(&expected, size),
                show_ios(&got, size)
            ))
        };
    let miss = "a miss: one read";
    for page in 1..=3 {
        expect_step(&mut pager, &format!("read({page})"), vec![read(page)], miss)?;
    }
    expect_step(&mut pager, "read(1)", vec![], "a hit")?;
    expect_step(
        &mut pager,
        "read(4)",
        vec![read(4)],
        "page 2 is the least recently used now (read(1) made page 1 the most recent), and \
         clean: it goes, unwritten",
    )?;
    expect_step(&mut pager, "read(1)", vec![], "page 1 is still cached")?;
    expect_step(&mut pager, "read(3)", vec![], "page 3 is still cached")?;
    expect_step(
        &mut pager,
        "read(2)",
        vec![read(2)],
        "page 2 was evicted: a miss; page 4 goes, clean",
    )?;
    // The cache holds 1, 3, 2 (least recent first). A write makes page 1 the most recent.
    expect_step(
        &mut pager,
        "write(1, [page 1, version 2])",
        vec![],
        "page 1 is cached: the write changes it there",
    )?;
    expect_step(
        &mut pager,
        "read(5)",
        vec![read(5)],
        "page 3 is the least recently used (the write made page 1 the most recent): it goes, \
         clean",
    )?;
    expect_step(&mut pager, "read(6)", vec![read(6)], "page 2 goes, clean")?;
    let dirty = Io::Write {
        at: at(1),
        data: fill(1, 2, size),
    };
    expect_step(
        &mut pager,
        "read(4)",
        vec![read(4), dirty],
        "page 1 is the least recently used and dirty: written back once, with its bytes, then \
         dropped",
    )?;
    expect_step(
        &mut pager,
        "read(1)",
        vec![read(1)],
        "page 1 was evicted: a miss; page 5 goes, clean",
    )?;
    expect_step(&mut pager, "read(2)", vec![read(2)], "page 6 goes, clean")?;
    expect_step(
        &mut pager,
        "read(3)",
        vec![read(3)],
        "page 4 goes, clean; page 1 was written back already: it is clean now",
    )?;
    expect_step(
        &mut pager,
        "read(5)",
        vec![read(5)],
        "page 1 goes, clean: its write-back is on the disk already, so it is not written again",
    )?;
    let did = script.so_far();
    expect_eq(
        format!("{did}, then stats()"),
        pager.stats(),
        CacheStats {
            hits: 4,
            misses: 12,
            evictions: 9,
            write_backs: 1,
        },
    )?;
    // A page read again just after another was read in must count as the more recent of the
    // two: ten times over, a cache of 2 reads a, b, a again, then a third page, which must evict
    // b, and a again, which must cost nothing. (A clock that a hit does not move makes a and b
    // equal, and which goes is then a matter of luck: ten times makes luck rare.)
    let mut steps = vec![Step::Allocate; 21];
    steps.extend([Step::Flush, Step::Reopen(2)]);
    for k in 0..10 {
        let (a, b) = (2 * k + 1, 2 * k + 2);
        steps.extend([a, b, a, 21, a].map(Step::Read));
    }
    run_steps(seed, 512, 2, &steps, Watch::Cache)
}

fn flush_order(ctx: &mut Ctx) -> CheckResult {
    let size = 1024;
    let (disk, dir, mut pager, mut script) = flushed_pager(ctx.seed(), size, 8, 6)?;
    let at = |page: u32| u64::from(page) * size as u64;
    let flush = |pager: &mut Pager, script: &mut Script| -> Result<(String, Vec<Io>), Failure> {
        let did = script.did("flush()");
        pager.flush().map_err(|e| io_failure(&did, e))?;
        Ok((did, dir.take()))
    };
    let (did, got) = flush(&mut pager, &mut script)?;
    expect(
        got.is_empty(),
        format!(
            "did:      {did}\nexpected: nothing (nothing changed since the file was opened)\n\
             got:      {}",
            show_ios(&got, size)
        ),
    )?;
    for (page, version) in [(4, 2), (2, 2), (4, 3)] {
        let did = script.did(format!("write({page}, [page {page}, version {version}])"));
        pager
            .write(page, &fill(page, version, size))
            .map_err(|e| io_failure(&did, e))?;
    }
    let did = script.did("allocate()");
    pager.allocate().map_err(|e| io_failure(&did, e))?;
    dir.take();
    let (did, got) = flush(&mut pager, &mut script)?;
    let expected = vec![
        Io::Write {
            at: at(2),
            data: fill(2, 2, size),
        },
        Io::Write {
            at: at(4),
            data: fill(4, 3, size),
        },
        Io::Write {
            at: at(6),
            data: vec![0; size],
        },
        Io::Sync,
        Io::Write {
            at: 0,
            data: golden_header(size, 7, (0, 0), 2),
        },
        Io::Sync,
    ];
    if normalized(&got) != normalized(&expected) {
        let header = got
            .iter()
            .find_map(|io| match io {
                Io::Write { at: 0, data } => Some(data.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let header_note = if !header.is_empty() && header != golden_header(size, 7, (0, 0), 2) {
            format!(
                "\n(the header it wrote: {})",
                header_difference(&header, &golden_header(size, 7, (0, 0), 2))
            )
        } else {
            String::new()
        };
        return fail(format!(
            "did:      {did} (the file was flushed once before: its change counter was 1)\n\
             expected: {} (each dirty page once, with its last bytes, in any order; a sync, so \
             that the pages are on the disk before a header counts them; the header, its change \
             counter one up; a sync)\ngot:      {}{header_note}",
            show_ios(&expected, size),
            show_ios(&got, size)
        ));
    }
    let (did, got) = flush(&mut pager, &mut script)?;
    expect(
        got.is_empty(),
        format!(
            "did:      {did}\nexpected: nothing (the flush before wrote everything)\ngot:      {}",
            show_ios(&got, size)
        ),
    )?;
    let did = script.did("set_free_list(5, 1)");
    pager.set_free_list(5, 1).map_err(|e| io_failure(&did, e))?;
    let (did, got) = flush(&mut pager, &mut script)?;
    let expected = vec![
        Io::Sync,
        Io::Write {
            at: 0,
            data: golden_header(size, 7, (5, 1), 3),
        },
        Io::Sync,
    ];
    if normalized(&got) != normalized(&expected) {
        return fail(format!(
            "did:      {did}\nexpected: {} (no page is dirty, but the header changed)\n\
             got:      {}",
            show_ios(&expected, size),
            show_ios(&got, size)
        ));
    }
    let view = disk.files().into_iter().find(|f| f.name == NAME);
    let durable = view.map_or(0, |v| v.durable_len);
    expect_eq(
        format!(
            "{}, then looked at the file's durable length",
            script.so_far()
        ),
        durable,
        7 * size as u64,
    )
}

fn open_reads_a_handmade_file(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    for (size, count, free, counter) in [
        (512, 1, (0, 0), 0),
        (512, 4, (3, 1), 7),
        (4096, 3, (u32::MAX, u32::MAX), u32::MAX),
        (65536, 2, (0, 0), 0x0102_0304),
    ] {
        let mut model = Model::new(size);
        for page in 1..count {
            model.pages.push(Some(page as u8 + 10));
        }
        model.free = free;
        model.counter = counter;
        let bytes = model.file();
        let disk = SimDisk::new(seed);
        let setup = || -> io::Result<()> {
            let file = disk.dir().create(NAME)?;
            file.append(&bytes)?;
            file.sync()
        };
        setup().map_err(|e| Failure::new(format!("setting up the disk failed: {e}")))?;
        let dir = Recorder::new(disk.dir());
        let did = format!(
            "wrote a file by hand: page size {size}, {count} pages, free list {free:?}, change \
             counter {counter}; {}",
            open_call(2)
        );
        let mut pager = Pager::open(&dir, NAME, 2).map_err(|e| io_failure(&did, e))?;
        let reads: Vec<Io> = dir
            .take()
            .into_iter()
            .filter(|io| matches!(io, Io::Read { .. } | Io::Write { .. }))
            .collect();
        let header_only = reads.len() <= 2
            && reads.iter().all(|io| match io {
                Io::Read { at, len } => at + *len as u64 <= size as u64,
                _ => false,
            });
        expect(
            header_only,
            format!(
                "did:      {did}\nexpected: reads of the header page only (it is all open needs), \
                 no writes\ngot:      {}",
                show_ios(&reads, size)
            ),
        )?;
        expect_eq(format!("{did}, then page_size()"), pager.page_size(), size)?;
        expect_eq(
            format!("{did}, then page_count()"),
            pager.page_count(),
            count,
        )?;
        expect_eq(format!("{did}, then free_list()"), pager.free_list(), free)?;
        for page in 1..count {
            let call = format!("{did}, read({page})");
            let got = pager.read(page).map_err(|e| io_failure(&call, e))?;
            expect_eq(
                &call,
                name_page(&got, size),
                name_page(&model.page(page), size),
            )?;
        }
        // A flush of a change writes the counter one up, the rest as it was.
        let did = format!("{did}, set_free_list(0, 0), flush()");
        pager.set_free_list(0, 0).map_err(|e| io_failure(&did, e))?;
        pager.flush().map_err(|e| io_failure(&did, e))?;
        model.free = (0, 0);
        model.counter = counter.wrapping_add(1);
        expect_file(
            &did,
            &disk.contents(NAME).unwrap_or_default(),
            &model.file(),
            size,
        )?;
    }
    Ok(())
}

fn open_validates(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let good = golden_header(512, 3, (0, 0), 1);
    let with_field = |at: usize, value: u32| {
        let mut bytes = good.clone();
        bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
        bytes.extend(vec![0; 1024]);
        bytes
    };
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("an empty file".into(), Vec::new()),
        (
            "a file of 20 bytes: the start of a header".into(),
            good[..20].to_vec(),
        ),
        (
            "a file of 35 bytes: a header one byte short".into(),
            good[..35].to_vec(),
        ),
    ];
    let mut other_magic = with_field(20, 3);
    other_magic[..16].copy_from_slice(b"SQLite format 3\0");
    cases.push(("a header with SQLite's magic".into(), other_magic));
    let mut zero_magic = with_field(20, 3);
    zero_magic[..16].fill(0);
    cases.push(("a header whose magic is zeros".into(), zero_magic));
    let mut last_byte = with_field(20, 3);
    last_byte[15] = b'!';
    cases.push((
        "a header whose magic differs in its last byte".into(),
        last_byte,
    ));
    for size in [0, 1, 256, 511, 513, 1000, 131072, u32::MAX] {
        cases.push((
            format!("a header whose page size is {size}"),
            with_field(16, size),
        ));
    }
    let mut little = with_field(16, 0);
    little[16..20].copy_from_slice(&512u32.to_le_bytes());
    cases.push((
        "a header whose page size is 512 little-endian (00 02 00 00)".into(),
        little,
    ));
    cases.push(("a header whose page count is 0".into(), with_field(20, 0)));
    let mut short = with_field(20, 3);
    short.truncate(3 * 512 - 1);
    cases.push((
        "a header counting 3 pages of 512 bytes, in a file of 1535 bytes".into(),
        short,
    ));
    cases.push((
        "a header counting u32::MAX pages, in a file of 3 pages".into(),
        with_field(20, u32::MAX),
    ));
    for (what, bytes) in cases {
        let disk = SimDisk::new(seed);
        let setup = || -> io::Result<()> {
            let file = disk.dir().create(NAME)?;
            if !bytes.is_empty() {
                file.append(&bytes)?;
            }
            file.sync()
        };
        setup().map_err(|e| Failure::new(format!("setting up the disk failed: {e}")))?;
        let did = format!("wrote {what}; {}", open_call(2));
        let result = attempt(|| Pager::open(&*disk.dir(), NAME, 2));
        expect_kind(&did, result, ErrorKind::InvalidData, |p| {
            format!("a pager of {} pages", p.page_count())
        })?;
    }
    let disk = SimDisk::new(seed);
    let did = format!("{} on an empty directory", open_call(2));
    expect_kind(
        &did,
        Pager::open(&*disk.dir(), NAME, 2),
        ErrorKind::NotFound,
        |_| "a pager".into(),
    )
}

// ---------------------------------------------------------------------------------------------
// Faults.

/// The kinds of operation a pager makes, and a fault is aimed at.
const KINDS: [OpKind; 7] = [
    OpKind::Create,
    OpKind::Open,
    OpKind::Read,
    OpKind::Write,
    OpKind::Sync,
    OpKind::DirSync,
    OpKind::Len,
];

fn faults_for(kind: OpKind) -> Vec<Fault> {
    let mut faults = vec![Fault::IoError, Fault::DiskFull];
    if kind == OpKind::Sync {
        faults.push(Fault::SyncLosesData);
    }
    faults
}

/// What became of a sweep run.
enum Ended {
    /// The workload ran to its end.
    Done,
    /// A sync failed, and the pager stopped as it should.
    Stopped,
}

/// One run of the sweep's workload, with `aim` armed.
struct Sweep {
    faults: FaultDir,
    disk: SimDisk,
    script: Script,
    model: Model,
    aim: Option<Aim>,
}

impl Sweep {
    /// Makes a call. If no fault fired in it, it must succeed. If one did, it must fail; if the
    /// fault hit a sync, the pager must have stopped (`Ok(None)`), and otherwise the call, made
    /// again, must succeed.
    fn call<T>(
        &mut self,
        call: &str,
        mut f: impl FnMut() -> io::Result<T>,
        shown: impl Fn(&T) -> String,
    ) -> Result<Option<T>, Failure> {
        let fired = self.faults.fired();
        let first = attempt(&mut f);
        if self.faults.fired() == fired {
            let did = self.script.did(call);
            return first.map(Some).map_err(|e| io_failure(&did, e));
        }
        if let Ok(got) = &first {
            return Err(Failure::new(format!(
                "did:      {}\nexpected: an error: an operation it made on the disk failed\n\
                 got:      Ok({})",
                self.script.did(call),
                shown(got)
            )));
        }
        self.script.note(format!("{call}, which failed"));
        if self.aim.is_some_and(|aim| aim.kind == OpKind::Sync) {
            return Ok(None);
        }
        let did = self.script.did(format!("{call} again"));
        attempt(f).map(Some).map_err(|e| io_failure(&did, e))
    }

    /// A call on the pager, made as `call` makes it; in addition, a call that failed (and did
    /// not stop the pager) must have counted nothing and changed nothing the pager shows: its
    /// stats, page count and free list are checked before it is made again.
    fn call_on<T>(
        &mut self,
        pager: &mut Pager,
        call: &str,
        mut f: impl FnMut(&mut Pager) -> io::Result<T>,
    ) -> Result<Option<T>, Failure> {
        let stats = pager.stats();
        let count = pager.page_count();
        let free = pager.free_list();
        let fired = self.faults.fired();
        let first = attempt(|| f(pager));
        if self.faults.fired() == fired {
            let did = self.script.did(call);
            return first.map(Some).map_err(|e| io_failure(&did, e));
        }
        if first.is_ok() {
            return Err(Failure::new(format!(
                "did:      {}\nexpected: an error: an operation it made on the disk failed\n\
                 got:      Ok(...)",
                self.script.did(call)
            )));
        }
        self.script.note(format!("{call}, which failed"));
        if self.aim.is_some_and(|aim| aim.kind == OpKind::Sync) {
            return Ok(None);
        }
        let did = self.script.so_far();
        expect_eq(
            format!(
                "{did}, then stats() (a call that fails counts nothing: no hit, miss, eviction \
                 or write-back)"
            ),
            pager.stats(),
            stats,
        )?;
        expect_eq(
            format!("{did}, then page_count() (a call that fails changes nothing)"),
            pager.page_count(),
            count,
        )?;
        expect_eq(
            format!("{did}, then free_list() (a call that fails changes nothing)"),
            pager.free_list(),
            free,
        )?;
        let did = self.script.did(format!("{call} again"));
        attempt(|| f(pager))
            .map(Some)
            .map_err(|e| io_failure(&did, e))
    }

    /// After a flush that returned Ok, the header page on the disk is the model's, its change
    /// counter one up for each flush that changed something: a failed flush made again counts
    /// once.
    fn expect_header(&self) -> CheckResult {
        let size = self.model.size;
        let got = self.disk.contents(NAME).unwrap_or_default();
        let header = &got[..got.len().min(size)];
        let m = &self.model;
        let expected = golden_header(size, m.count(), m.free, m.counter);
        if header == expected {
            return Ok(());
        }
        fail(format!(
            "did:      {}, then looked at the file's header page\nexpected: the header the README \
             lays out, its change counter {} (one up for each flush that changed the file; a \
             flush that failed and was made again counts once)\ngot:      {}",
            self.script.so_far(),
            m.counter,
            header_difference(header, &expected)
        ))
    }

    fn expect_page(&self, page: u32, got: &[u8]) -> CheckResult {
        let expected = self.model.page(page);
        if got == expected {
            return Ok(());
        }
        fail(format!(
            "did:      {}\nexpected: {}\ngot:      {}",
            self.script.so_far(),
            name_page(&expected, self.model.size),
            name_page(got, self.model.size)
        ))
    }
}

/// The sweep's workload: a cache of 2 pages over 4, so that reads evict dirty pages and flushes
/// follow write-backs; a reopen; a set of the free list; a flush after it all.
fn sweep_run(seed: u64, profile: Profile, aim: Option<Aim>) -> Result<(FaultDir, Ended), Failure> {
    const SIZE: usize = 512;
    let disk = SimDisk::with_profile(seed, profile);
    let faults = FaultDir::new(&disk, aim.as_slice());
    let mut script = Script::new(match aim {
        Some(aim) => format!(
            "(operation {} of kind {:?} fails with Fault::{:?})",
            aim.n, aim.kind, aim.fault
        ),
        None => String::new(),
    });
    script.calls.retain(|c| !c.is_empty());
    let mut s = Sweep {
        faults,
        disk,
        script,
        model: Model::new(SIZE),
        aim,
    };
    let dir = s.faults.dir();
    let fired = s.faults.fired();
    let created = attempt(|| Pager::create(&*dir, NAME, SIZE, 2));
    let mut pager = match created {
        Ok(pager) if s.faults.fired() == fired => pager,
        Ok(_) => {
            return Err(Failure::new(format!(
                "did:      {}\nexpected: an error: an operation it made on the disk failed\n\
                 got:      Ok(a pager)",
                s.script.did(create_call(SIZE, 2))
            )));
        }
        // A failed create may leave a file behind: the store is made again elsewhere.
        Err(_) if s.faults.fired() > fired => return Ok((s.faults, Ended::Done)),
        Err(error) => return Err(io_failure(&s.script.did(create_call(SIZE, 2)), error)),
    };
    s.script.note(create_call(SIZE, 2));
    let page = |n: u32| format!("[page {n}, version {}]", n);

    macro_rules! call {
        ($pager:ident, $call:expr, $f:expr) => {
            match s.call_on(&mut $pager, &String::from($call), $f)? {
                Some(value) => value,
                None => return stopped(s, &mut $pager),
            }
        };
    }

    for n in 1..=4u32 {
        let got = call!(pager, "allocate()", |p| p.allocate());
        expect_eq(s.script.so_far(), got, n)?;
        s.model.pages.push(None);
        s.model.changed = true;
    }
    for n in 1..=4u32 {
        let data = fill(n, n as u8, SIZE);
        call!(pager, format!("write({n}, {})", page(n)), |p| p
            .write(n, &data));
        s.model.pages[n as usize] = Some(n as u8);
        s.model.changed = true;
    }
    call!(pager, "flush()", |p| p.flush());
    s.model.flush();
    s.expect_header()?;
    for n in [1, 2, 3, 1] {
        let got = call!(pager, format!("read({n})"), |p| p.read(n));
        s.expect_page(n, &got)?;
    }
    for n in [2, 3] {
        let data = fill(n, 20 + n as u8, SIZE);
        call!(
            pager,
            format!("write({n}, [page {n}, version {}])", 20 + n),
            |p| p.write(n, &data)
        );
        s.model.pages[n as usize] = Some(20 + n as u8);
        s.model.changed = true;
    }
    for n in [4, 1, 2] {
        let got = call!(pager, format!("read({n})"), |p| p.read(n));
        s.expect_page(n, &got)?;
    }
    call!(pager, "set_free_list(3, 1)", |p| p.set_free_list(3, 1));
    s.model.free = (3, 1);
    s.model.changed = true;
    call!(pager, "flush()", |p| p.flush());
    s.model.flush();
    s.expect_header()?;
    drop(pager);
    let reopen = format!("drop, {}", open_call(2));
    let opened = s.call(
        &reopen,
        || Pager::open(&*dir, NAME, 2),
        |_| "a pager".into(),
    )?;
    let Some(mut pager) = opened else {
        return Err(Failure::new(format!(
            "did:      {}\nexpected: open to make no sync (it writes nothing)\ngot:      a sync",
            s.script.so_far()
        )));
    };
    for n in 1..=4 {
        let got = call!(pager, format!("read({n})"), |p| p.read(n));
        s.expect_page(n, &got)?;
    }
    let data = fill(4, 40, SIZE);
    call!(pager, format!("write(4, [page 4, version 40])"), |p| p
        .write(4, &data));
    s.model.pages[4] = Some(40);
    s.model.changed = true;
    let got = call!(pager, "allocate()", |p| p.allocate());
    expect_eq(s.script.so_far(), got, 5)?;
    s.model.pages.push(None);
    let data = fill(5, 50, SIZE);
    call!(pager, format!("write(5, [page 5, version 50])"), |p| p
        .write(5, &data));
    s.model.pages[5] = Some(50);
    s.model.changed = true;
    for n in [1, 2, 3] {
        let got = call!(pager, format!("read({n})"), |p| p.read(n));
        s.expect_page(n, &got)?;
    }
    call!(pager, "flush()", |p| p.flush());
    s.model.flush();
    s.expect_header()?;
    for n in 1..=5 {
        let got = call!(pager, format!("read({n})"), |p| p.read(n));
        s.expect_page(n, &got)?;
    }
    drop(pager);
    reopen_after_crash(&mut s, None)?;
    Ok((s.faults, Ended::Done))
}

/// A call on a pager, made by a check.
type Call = Box<dyn FnOnce(&mut Pager) -> io::Result<()>>;

/// The pager stopped after a failed sync: one more call must fail too; then the power fails,
/// and the file must hold what the last good flush left.
fn stopped(mut s: Sweep, pager: &mut Pager) -> Result<(FaultDir, Ended), Failure> {
    let did = s.script.did("read(1)");
    if let Ok(got) = attempt(|| pager.read(1)) {
        return Err(Failure::new(format!(
            "did:      {did}\nexpected: an error: a sync failed, and the pager must stop (the \
             failed sync may have dropped pages written back before it)\ngot:      Ok({})",
            name_page(&got, s.model.size)
        )));
    }
    let size = s.model.size;
    let others: [(&str, Call); 3] = [
        (
            "write(1, [page 1, version 99])",
            Box::new(move |p: &mut Pager| p.write(1, &fill(1, 99, size))),
        ),
        (
            "allocate()",
            Box::new(|p: &mut Pager| p.allocate().map(|_| ())),
        ),
        (
            "set_free_list(1, 1)",
            Box::new(|p: &mut Pager| p.set_free_list(1, 1)),
        ),
    ];
    for (call, f) in others {
        let did = s.script.did(call);
        if attempt(|| f(pager)).is_ok() {
            return Err(Failure::new(format!(
                "did:      {did}\nexpected: an error: a sync failed, and the pager must stop\n\
                 got:      Ok"
            )));
        }
    }
    let did = s.script.did("flush()");
    if attempt(|| pager.flush()).is_ok() {
        return Err(Failure::new(format!(
            "did:      {did}\nexpected: an error: a sync failed, and the pager must stop, not \
             flush again and believe it\ngot:      Ok(())"
        )));
    }
    // Without a journal, a flush that failed after its first sync may have left some of its
    // pages on the disk: each page is the flushed one or the one it was writing.
    let attempted = s.model.pages.clone();
    reopen_after_crash(&mut s, Some(attempted))?;
    Ok((s.faults, Ended::Stopped))
}

/// The power fails, losing every unsynced write; the file opens with the flushed state.
fn reopen_after_crash(s: &mut Sweep, attempted: Option<Vec<Option<u8>>>) -> CheckResult {
    s.disk.restart_losing_unsynced();
    s.model.crash();
    let did = s.script.did(format!(
        "the power fails (every unsynced write is lost), {}",
        open_call(4)
    ));
    let mut pager = Pager::open(&*s.disk.dir(), NAME, 4).map_err(|e| io_failure(&did, e))?;
    expect_eq(
        format!("{did}, then page_count()"),
        pager.page_count(),
        s.model.count(),
    )?;
    expect_eq(
        format!("{did}, then free_list()"),
        pager.free_list(),
        s.model.free,
    )?;
    for n in 1..s.model.count() {
        let call = s.script.did(format!("read({n})"));
        let got = pager.read(n).map_err(|e| io_failure(&call, e))?;
        let other = attempted.as_ref().and_then(|pages| pages.get(n as usize));
        if other.is_some_and(|&v| got == contents(v, n, s.model.size)) {
            continue;
        }
        s.expect_page(n, &got)?;
    }
    Ok(())
}

fn faults_everywhere(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let prefix = Profile {
        failed_writes_leave_a_prefix: true,
        ..Profile::GENTLE
    };
    for profile in [Profile::GENTLE, prefix] {
        let (golden, _) = sweep_run(seed, profile, None)?;
        for kind in KINDS {
            if kind == OpKind::Sync {
                continue;
            }
            for n in 1..=golden.count(kind) {
                for fault in faults_for(kind) {
                    ctx.doing(format!(
                        "failing operation {n} of kind {kind:?} with {fault:?}"
                    ));
                    sweep_run(seed, profile, Some(Aim { kind, n, fault }))?;
                }
            }
        }
    }
    Ok(())
}

fn failed_sync_stops(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let (golden, _) = sweep_run(seed, Profile::GENTLE, None)?;
    for n in 1..=golden.count(OpKind::Sync) {
        for fault in faults_for(OpKind::Sync) {
            ctx.doing(format!("failing sync {n} with {fault:?}"));
            sweep_run(
                seed,
                Profile::GENTLE,
                Some(Aim {
                    kind: OpKind::Sync,
                    n,
                    fault,
                }),
            )?;
        }
    }
    Ok(())
}

fn crash_during_flush(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let size = 512;
    // Counts the disk operations of the flush, on a fork that does not crash.
    let prepare = || -> Result<(SimDisk, Pager, Script), Failure> {
        let (disk, _dir, mut pager, mut script) = flushed_pager(seed, size, 2, 4)?;
        for page in 1..4 {
            let did = script.did(format!("write({page}, [page {page}, version 2])"));
            pager
                .write(page, &fill(page, 2, size))
                .map_err(|e| io_failure(&did, e))?;
        }
        for page in 4..6 {
            let did = script.did("allocate()");
            pager.allocate().map_err(|e| io_failure(&did, e))?;
            let did = script.did(format!("write({page}, [page {page}, version 2])"));
            pager
                .write(page, &fill(page, 2, size))
                .map_err(|e| io_failure(&did, e))?;
        }
        Ok((disk, pager, script))
    };
    let (disk, mut pager, mut script) = prepare()?;
    let before = disk.steps();
    let did = script.did("flush()");
    pager.flush().map_err(|e| io_failure(&did, e))?;
    let steps = disk.steps() - before;
    for step in 1..=steps {
        let (disk, mut pager, mut script) = prepare()?;
        disk.crash_at_step(disk.steps() + step);
        let flushed = attempt(|| pager.flush()).is_ok();
        drop(pager);
        disk.restart_losing_unsynced();
        let did = script.did(format!(
            "flush(), the power failing at its disk operation {step} of {steps} (every unsynced \
             write lost), {}",
            open_call(2)
        ));
        let mut pager = Pager::open(&*disk.dir(), NAME, 2).map_err(|e| io_failure(&did, e))?;
        let count = pager.page_count();
        expect(
            count == 4 || count == 6,
            format!(
                "did:      {did}, then page_count()\nexpected: 4 (the flush before) or 6 (this \
                 one)\ngot:      {count}"
            ),
        )?;
        if flushed {
            expect_eq(
                format!("{did} (the flush returned Ok), then page_count()"),
                count,
                6,
            )?;
        }
        if count == 6 {
            for page in 1..6 {
                let call = format!("{did}, read({page})");
                let got = pager.read(page).map_err(|e| io_failure(&call, e))?;
                if got != fill(page, 2, size) {
                    return fail(format!(
                        "did:      {call}\nexpected: [page {page}, version 2]: the header counts \
                         6 pages, so this flush's header reached the disk, and every page it \
                         wrote before it must have too\ngot:      {}",
                        name_page(&got, size)
                    ));
                }
            }
        }
    }
    Ok(())
}
