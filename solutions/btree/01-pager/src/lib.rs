//! The pager: a file of fixed-size pages, and a cache of the pages in use.
//!
//! The reference solution.

use std::collections::HashMap;
use std::io::{self, ErrorKind};

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

/// A file of pages, with a cache of at most `cache_pages` of them.
#[derive(Debug)]
pub struct Pager {
    file: Box<dyn File>,
    page_size: usize,
    page_count: u32,
    free_head: u32,
    free_count: u32,
    change_counter: u32,
    /// Something was allocated, written or set since the last flush: the next flush writes the
    /// header.
    changed: bool,
    /// A sync failed: what the file holds is no longer known, and every call fails.
    broken: bool,
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
        dir: &dyn Dir,
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
        let mut pager = Pager::new(file, page_size, cache_pages);
        pager.page_count = 1;
        pager.file.write_at(0, &pager.header())?;
        pager.file.sync()?;
        // The name must survive a crash too, or the synced header goes with it.
        dir.sync()?;
        Ok(pager)
    }

    /// Opens the file `name`: reads its header and nothing else. A header that is not one the
    /// pager writes (another magic, a page size out of range, a page count of 0) or a file
    /// shorter than its page count says is `InvalidData`; `cache_pages` of 0 is `InvalidInput`.
    pub fn open(dir: &dyn Dir, name: &str, cache_pages: usize) -> io::Result<Pager> {
        check_cache_pages(cache_pages)?;
        let file = dir.open(name)?;
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
        let mut pager = Pager::new(file, page_size, cache_pages);
        pager.page_count = page_count;
        pager.free_head = field(24);
        pager.free_count = field(28);
        pager.change_counter = field(32);
        Ok(pager)
    }

    fn new(file: Box<dyn File>, page_size: usize, cache_pages: usize) -> Pager {
        Pager {
            file,
            page_size,
            page_count: 0,
            free_head: 0,
            free_count: 0,
            change_counter: 0,
            changed: false,
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

    /// How many pages the file holds, the header page included (what the header will say once
    /// flushed).
    pub fn page_count(&self) -> u32 {
        self.page_count
    }

    /// The free list's first page and its length, as the header holds them (0 and 0 in a new
    /// file).
    pub fn free_list(&self) -> (PageNo, u32) {
        (self.free_head, self.free_count)
    }

    /// Sets the free list's first page and its length, for the next flush to write.
    pub fn set_free_list(&mut self, head: PageNo, count: u32) -> io::Result<()> {
        self.check_working()?;
        self.free_head = head;
        self.free_count = count;
        self.changed = true;
        Ok(())
    }

    /// What the cache has done so far.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// Adds a page at the end of the file, all zeros, and returns its number. It goes into the
    /// cache, dirty, without touching the file (but a full cache evicts a page for it).
    pub fn allocate(&mut self) -> io::Result<PageNo> {
        self.check_working()?;
        let page = self.page_count;
        let next = page.checked_add(1).ok_or_else(|| {
            io::Error::new(
                ErrorKind::StorageFull,
                "the file holds as many pages as a page number can name",
            )
        })?;
        self.make_room()?;
        self.insert(page, vec![0; self.page_size], true);
        self.page_count = next;
        self.changed = true;
        Ok(page)
    }

    /// A copy of page `page`: from the cache if it is there, or else with one read of the file
    /// (after which the cache holds it). Page 0 and pages past the end are `InvalidInput`.
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

    /// Replaces page `page` with `data` (exactly one page long) in the cache, dirty: the file
    /// is written when the page is evicted or flushed, never here. Nothing is read: the whole
    /// page is new. Page 0, pages past the end and data of another length are `InvalidInput`.
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
        if let Some(frame) = self.touch(page) {
            frame.data.copy_from_slice(data);
            frame.dirty = true;
            self.stats.hits += 1;
        } else {
            self.make_room()?;
            self.insert(page, data.to_vec(), true);
        }
        self.changed = true;
        Ok(())
    }

    /// Makes every change durable: writes every dirty page (in any order), syncs, then writes
    /// the header (its change counter one up) and syncs again, so that the header never counts
    /// a page the disk does not hold. With nothing changed since the last flush, it touches
    /// nothing. If a sync fails, the pager stops: this and every later call return an error.
    pub fn flush(&mut self) -> io::Result<()> {
        self.check_working()?;
        if !self.changed {
            return Ok(());
        }
        let mut dirty: Vec<PageNo> = self
            .frames
            .iter()
            .filter(|(_, frame)| frame.dirty)
            .map(|(&page, _)| page)
            .collect();
        // Any order will do; page order writes the file front to back, as a disk likes best.
        dirty.sort_unstable();
        for &page in &dirty {
            self.file
                .write_at(self.offset(page), &self.frames[&page].data)?;
        }
        self.sync()?;
        let mut header = self.header();
        let counter = self.change_counter.wrapping_add(1);
        header[32..36].copy_from_slice(&counter.to_be_bytes());
        self.file.write_at(0, &header)?;
        self.sync()?;
        // Only now are the pages on the disk for sure: a failure above left them dirty, for the
        // next flush to write again.
        for page in dirty {
            self.frames.get_mut(&page).expect("listed above").dirty = false;
        }
        self.change_counter = counter;
        self.changed = false;
        Ok(())
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

    fn sync(&mut self) -> io::Result<()> {
        // After a failed sync the kernel may have dropped any unsynced write, write-backs of
        // evicted pages included: the cache no longer knows what the file holds.
        self.file.sync().inspect_err(|_| self.broken = true)
    }

    fn check_working(&self) -> io::Result<()> {
        match self.broken {
            true => Err(io::Error::other(
                "a sync failed: the pager stopped; open the file again",
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
    /// is dirty. If that write fails, the page stays, dirty: nothing is lost.
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
            self.file.write_at(self.offset(victim), &frame.data)?;
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
