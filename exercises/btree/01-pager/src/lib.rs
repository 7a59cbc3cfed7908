//! The pager: a file of fixed-size pages, and a cache of the pages in use.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

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
        todo!()
    }

    /// Opens the file `name`: reads its header and nothing else. A header that is not one the
    /// pager writes (another magic, a page size out of range, a page count of 0) or a file
    /// shorter than its page count says is `InvalidData`; `cache_pages` of 0 is `InvalidInput`.
    pub fn open(dir: &dyn Dir, name: &str, cache_pages: usize) -> io::Result<Pager> {
        todo!()
    }

    /// The size of every page, in bytes.
    pub fn page_size(&self) -> usize {
        todo!()
    }

    /// How many pages the file holds, the header page included (what the header will say once
    /// flushed).
    pub fn page_count(&self) -> u32 {
        todo!()
    }

    /// The free list's first page and its length, as the header holds them (0 and 0 in a new
    /// file).
    pub fn free_list(&self) -> (PageNo, u32) {
        todo!()
    }

    /// Sets the free list's first page and its length, for the next flush to write.
    pub fn set_free_list(&mut self, head: PageNo, count: u32) -> io::Result<()> {
        todo!()
    }

    /// What the cache has done so far.
    pub fn stats(&self) -> CacheStats {
        todo!()
    }

    /// Adds a page at the end of the file, all zeros, and returns its number. It goes into the
    /// cache, dirty, without touching the file (but a full cache evicts a page for it).
    pub fn allocate(&mut self) -> io::Result<PageNo> {
        todo!()
    }

    /// A copy of page `page`: from the cache if it is there, or else with one read of the file
    /// (after which the cache holds it). Page 0 and pages past the end are `InvalidInput`.
    pub fn read(&mut self, page: PageNo) -> io::Result<Vec<u8>> {
        todo!()
    }

    /// Replaces page `page` with `data` (exactly one page long) in the cache, dirty: the file
    /// is written when the page is evicted or flushed, never here. Nothing is read: the whole
    /// page is new. Page 0, pages past the end and data of another length are `InvalidInput`.
    pub fn write(&mut self, page: PageNo, data: &[u8]) -> io::Result<()> {
        todo!()
    }

    /// Makes every change durable: writes every dirty page (in any order), syncs, then writes
    /// the header (its change counter one up) and syncs again, so that the header never counts
    /// a page the disk does not hold. With nothing changed since the last flush, it touches
    /// nothing. If a sync fails, the pager stops: this and every later call return an error.
    pub fn flush(&mut self) -> io::Result<()> {
        todo!()
    }
}
