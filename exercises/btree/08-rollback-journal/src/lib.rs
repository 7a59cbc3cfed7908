//! The rollback journal: the pager of the first scene, made all or nothing.
//!
//! Read README.md first. This is the pager's reference, with `flush` gone: add the journal inside
//! it (the cache's write-back on eviction is where a page reaches the file, and only the pager
//! sees it). Fill in every `todo!()` and change what the README says, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::collections::{BTreeSet, HashMap};
use std::io::{self, ErrorKind};
use std::sync::Arc;

use kit::disk::{Dir, File};

/// A page's number: page `n` starts at byte `n * page_size` of the file. Page 0 is the header.
pub type PageNo = u32;

/// The first 16 bytes of every file the pager writes.
pub const MAGIC: &[u8; 16] = b"btree format 1\0\0";

/// The header's fields take this many bytes at the start of page 0; the rest of it is zeros.
pub const HEADER_LEN: usize = 36;

/// The smallest and the largest page size (both powers of two, as every page size is).
pub const MIN_PAGE_SIZE: usize = 512;
pub const MAX_PAGE_SIZE: usize = 65536;

/// The journal of the database `name` is the file `name` followed by this.
pub const JOURNAL_SUFFIX: &str = "-journal";

/// The first 8 bytes of every segment header of a journal (SQLite's own).
pub const JOURNAL_MAGIC: [u8; 8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];

/// A segment header of the journal takes this many bytes.
pub const JOURNAL_HEADER_LEN: usize = 24;

/// What the cache has done since the pager was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads and writes of a page the cache held.
    pub hits: u64,
    /// Reads of a page the cache did not hold: each cost one read of the file.
    pub misses: u64,
    /// Pages dropped from the cache to make room for another.
    pub evictions: u64,
    /// Evicted pages that were dirty, and so were written to the file first.
    pub write_backs: u64,
}

/// One page in the cache.
#[derive(Debug)]
struct Frame {
    data: Vec<u8>,
    /// Changed since it was last written to the file.
    dirty: bool,
    /// When it was last read or written: the frame with the smallest is the least recently used.
    used: u64,
}

/// A file of pages, with a cache of at most `cache_pages` of them, changed in transactions.
#[derive(Debug)]
pub struct Pager {
    dir: Arc<dyn Dir>,
    journal_name: String,
    file: Box<dyn File>,
    page_size: usize,
    page_count: u32,
    free_head: u32,
    free_count: u32,
    change_counter: u32,
    /// A write, sync or name operation failed: what the files hold is no longer known, and
    /// every call fails until the database is opened again.
    broken: bool,
    // Add what an open transaction must keep: the page count and free list at `begin`, the
    // journal's file, the pages already journaled, the segment being written...
    cache_pages: usize,
    frames: HashMap<PageNo, Frame>,
    clock: u64,
    stats: CacheStats,
}

impl Pager {
    /// Creates the file `name` holding only its header page (a page count of 1), syncs it and
    /// the directory. `page_size` must be a power of two from 512 to 65536 and `cache_pages` at
    /// least 1, or `InvalidInput` (before the disk is touched).
    pub fn create(
        dir: Arc<dyn Dir>,
        name: &str,
        page_size: usize,
        cache_pages: usize,
    ) -> io::Result<Pager> {
        if !valid_page_size(page_size) {
            return Err(invalid_input(format!(
                "a page size is a power of two from {MIN_PAGE_SIZE} to {MAX_PAGE_SIZE}, not \
                 {page_size}"
            )));
        }
        check_cache_pages(cache_pages)?;
        let file = dir.create(name)?;
        let mut pager = Pager::new(dir, name, file, page_size, cache_pages);
        pager.page_count = 1;
        pager.file.write_at(0, &pager.header())?;
        pager.file.sync()?;
        // The name must survive a crash too, or the synced header goes with it.
        pager.dir.sync()?;
        Ok(pager)
    }

    /// Opens the file `name`. A hot journal (`name` + `JOURNAL_SUFFIX`, with a valid first
    /// segment header) is played back first: the originals it holds are written back, the file
    /// is cut to the page count it names, synced, and the journal removed. Then the header is
    /// read and checked: another magic, a page size out of range, a page count of 0 or a file
    /// shorter than its page count says is `InvalidData`; `cache_pages` of 0 is `InvalidInput`.
    pub fn open(dir: Arc<dyn Dir>, name: &str, cache_pages: usize) -> io::Result<Pager> {
        check_cache_pages(cache_pages)?;
        let file = dir.open(name)?;
        // Add: a hot journal is played back here, before the header is trusted (README,
        // "Recovery").
        let mut header = [0u8; HEADER_LEN];
        file.read_exact_at(0, &mut header)
            .map_err(|e| match e.kind() {
                ErrorKind::UnexpectedEof => invalid_data("the file is shorter than a header"),
                _ => e,
            })?;
        if &header[..16] != MAGIC {
            return Err(invalid_data(
                "the file does not start with the magic string",
            ));
        }
        let field = |at: usize| u32::from_be_bytes(header[at..at + 4].try_into().unwrap());
        let page_size = field(16) as usize;
        if !valid_page_size(page_size) {
            return Err(invalid_data(format!(
                "the header's page size, {page_size}, is not a power of two from \
                 {MIN_PAGE_SIZE} to {MAX_PAGE_SIZE}"
            )));
        }
        let page_count = field(20);
        if page_count == 0 {
            return Err(invalid_data("the header counts no pages, not even itself"));
        }
        let len = file.len()?;
        if len < u64::from(page_count) * page_size as u64 {
            return Err(invalid_data(format!(
                "the header counts {page_count} pages of {page_size} bytes, but the file holds \
                 only {len} bytes"
            )));
        }
        let mut pager = Pager::new(dir, name, file, page_size, cache_pages);
        pager.page_count = page_count;
        pager.free_head = field(24);
        pager.free_count = field(28);
        pager.change_counter = field(32);
        Ok(pager)
    }

    fn new(
        dir: Arc<dyn Dir>,
        name: &str,
        file: Box<dyn File>,
        page_size: usize,
        cache_pages: usize,
    ) -> Pager {
        Pager {
            dir,
            journal_name: journal_name(name),
            file,
            page_size,
            page_count: 0,
            free_head: 0,
            free_count: 0,
            change_counter: 0,
            broken: false,
            cache_pages,
            frames: HashMap::new(),
            clock: 0,
            stats: CacheStats::default(),
        }
    }

    /// The size of every page, in bytes.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// How many pages the database holds, the header page included (with the open
    /// transaction's allocations).
    pub fn page_count(&self) -> u32 {
        self.page_count
    }

    /// The free list's first page and its length, as the header holds them (with the open
    /// transaction's change).
    pub fn free_list(&self) -> (PageNo, u32) {
        (self.free_head, self.free_count)
    }

    /// What the cache has done so far.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        todo!()
    }

    /// Opens a transaction. It touches no disk: the journal is made at the first change.
    /// A transaction already open is `InvalidInput`.
    pub fn begin(&mut self) -> io::Result<()> {
        todo!()
    }

    /// Sets the free list's first page and its length, in the open transaction.
    pub fn set_free_list(&mut self, head: PageNo, count: u32) -> io::Result<()> {
        self.check_working()?;
        // Add: a transaction required, and page 0 journaled before its first change.
        self.free_head = head;
        self.free_count = count;
        Ok(())
    }

    /// Adds a page at the end of the file, all zeros, and returns its number, in the open
    /// transaction. It goes into the cache, dirty (but a full cache evicts a page for it).
    pub fn allocate(&mut self) -> io::Result<PageNo> {
        self.check_working()?;
        let page = self.page_count;
        let next = page.checked_add(1).ok_or_else(|| {
            io::Error::new(
                ErrorKind::StorageFull,
                "the file holds as many pages as a page number can name",
            )
        })?;
        // Add: a transaction required, and page 0 journaled (the page count changes).
        self.make_room()?;
        self.insert(page, vec![0; self.page_size], true);
        self.page_count = next;
        Ok(page)
    }

    /// A copy of page `page`: from the cache if it is there, or else with one read of the file
    /// (after which the cache holds it). Page 0 and pages past the end are `InvalidInput`. It
    /// needs no transaction.
    pub fn read(&mut self, page: PageNo) -> io::Result<Vec<u8>> {
        self.check_working()?;
        self.check_page(page)?;
        if let Some(frame) = self.touch(page) {
            let data = frame.data.clone();
            self.stats.hits += 1;
            return Ok(data);
        }
        // Read first: if the read fails, the cache is as it was.
        let mut data = vec![0; self.page_size];
        self.file.read_exact_at(self.offset(page), &mut data)?;
        self.make_room()?;
        self.stats.misses += 1;
        self.insert(page, data.clone(), false);
        Ok(data)
    }

    /// Replaces page `page` with `data` (exactly one page long), in the open transaction: the
    /// page's original bytes go to the journal first, the first time the transaction changes
    /// it. Page 0, pages past the end, data of another length and a write with no transaction
    /// open are `InvalidInput`.
    pub fn write(&mut self, page: PageNo, data: &[u8]) -> io::Result<()> {
        self.check_working()?;
        self.check_page(page)?;
        if data.len() != self.page_size {
            return Err(invalid_input(format!(
                "a page is {} bytes, not {}",
                self.page_size,
                data.len()
            )));
        }
        // Add: a transaction required, and the page's original journaled before its first
        // change.
        if let Some(frame) = self.touch(page) {
            frame.data.copy_from_slice(data);
            frame.dirty = true;
            self.stats.hits += 1;
        } else {
            self.make_room()?;
            self.insert(page, data.to_vec(), true);
        }
        Ok(())
    }

    /// Makes the open transaction durable, all or nothing: syncs the journal, writes every
    /// dirty page and the header (its change counter one up), syncs the file, removes the
    /// journal (the commit point) and syncs the directory. A transaction that changed nothing
    /// touches no disk. With no transaction open: `InvalidInput`.
    pub fn commit(&mut self) -> io::Result<()> {
        todo!()
    }

    /// Undoes the open transaction: every page it changed reads as before, and the page count
    /// and free list are as they were. Pages that already reached the file (evicted) are put
    /// back from the journal, as recovery does, and the journal is removed. With no
    /// transaction open: `InvalidInput`.
    pub fn rollback(&mut self) -> io::Result<()> {
        todo!()
    }

    /// Page 0 as this pager would write it now.
    fn header(&self) -> Vec<u8> {
        let mut page = vec![0; self.page_size];
        page[..16].copy_from_slice(MAGIC);
        let fields = [
            self.page_size as u32,
            self.page_count,
            self.free_head,
            self.free_count,
            self.change_counter,
        ];
        for (i, field) in fields.into_iter().enumerate() {
            page[16 + 4 * i..20 + 4 * i].copy_from_slice(&field.to_be_bytes());
        }
        page
    }

    /// A failed write, sync or name operation leaves the files in a state the pager no longer
    /// knows: it stops, and opening the database again recovers it from the journal.
    fn stop_on_error<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        result.inspect_err(|_| self.broken = true)
    }

    fn check_working(&self) -> io::Result<()> {
        match self.broken {
            true => Err(io::Error::other(
                "a write or a sync failed: the pager stopped; open the database again",
            )),
            false => Ok(()),
        }
    }

    fn check_page(&self, page: PageNo) -> io::Result<()> {
        match page {
            0 => Err(invalid_input("page 0 is the header: the pager's own")),
            page if page >= self.page_count => Err(invalid_input(format!(
                "page {page} is past the end: the file holds {} pages",
                self.page_count
            ))),
            _ => Ok(()),
        }
    }

    fn offset(&self, page: PageNo) -> u64 {
        u64::from(page) * self.page_size as u64
    }

    /// The cached frame of `page`, now the most recently used, if the cache holds it.
    fn touch(&mut self, page: PageNo) -> Option<&mut Frame> {
        self.clock += 1;
        let now = self.clock;
        let frame = self.frames.get_mut(&page)?;
        frame.used = now;
        Some(frame)
    }

    /// If the cache is full, evicts its least recently used page, writing it back first if it
    /// is dirty, and before that syncing the journal that holds its original.
    fn make_room(&mut self) -> io::Result<()> {
        if self.frames.len() < self.cache_pages {
            return Ok(());
        }
        let (&victim, frame) = self
            .frames
            .iter()
            .min_by_key(|(_, frame)| frame.used)
            .expect("a full cache holds a page");
        if frame.dirty {
            // Add: in a transaction, this write puts a changed page in the file. What must be
            // durable before it? (README, "What is journaled".)
            let result = self
                .file
                .write_at(self.offset(victim), &self.frames[&victim].data);
            self.stop_on_error(result)?;
            self.stats.write_backs += 1;
        }
        self.frames.remove(&victim);
        self.stats.evictions += 1;
        Ok(())
    }

    fn insert(&mut self, page: PageNo, data: Vec<u8>, dirty: bool) {
        self.clock += 1;
        let used = self.clock;
        self.frames.insert(page, Frame { data, dirty, used });
    }
}

/// The name of the journal of the database `name`.
fn journal_name(name: &str) -> String {
    format!("{name}{JOURNAL_SUFFIX}")
}

/// A journal record's checksum: the CRC-32 of the nonce, the page number (both big-endian) and
/// the page's bytes.
fn checksum(nonce: u32, page: PageNo, data: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&nonce.to_be_bytes());
    hasher.update(&page.to_be_bytes());
    hasher.update(data);
    hasher.finalize()
}

/// Plays back the journal `journal_name` of `db` if there is one, and removes it. A hot journal
/// (a valid first segment header) puts back every original it holds, up to the first segment
/// or record that does not check, cuts the file to the page count before the transaction, and
/// syncs it, all before the journal goes: a crash at any step finds the journal again, and
/// recovers again.
fn recover(dir: &dyn Dir, db: &dyn File, journal_name: &str) -> io::Result<()> {
    todo!()
}

fn valid_page_size(size: usize) -> bool {
    (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&size) && size.is_power_of_two()
}

fn check_cache_pages(cache_pages: usize) -> io::Result<()> {
    match cache_pages {
        0 => Err(invalid_input("the cache must hold at least one page")),
        _ => Ok(()),
    }
}

fn invalid_input(message: impl Into<String>) -> io::Error {
    io::Error::new(ErrorKind::InvalidInput, message.into())
}

fn invalid_data(message: impl Into<String>) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, message.into())
}
