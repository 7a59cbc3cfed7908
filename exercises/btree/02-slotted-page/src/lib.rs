//! A slotted page: variable-length cells in one fixed-size page, laid out as SQLite lays out the
//! pages of its b-trees.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::fmt;

/// Bytes of the page header, at the start of the page.
pub const HEADER_SIZE: usize = 8;
/// Bytes of one entry of the cell pointer array: a cell's offset, big-endian.
pub const POINTER_SIZE: usize = 2;
/// The fewest bytes a cell takes in the content area: a freed cell is always a freeblock.
pub const MIN_CELL_SIZE: usize = 4;
/// The most fragmented bytes a page keeps before an insert defragments it instead.
pub const MAX_FRAGMENTED: usize = 60;
/// The smallest page size.
pub const MIN_PAGE_SIZE: usize = 512;
/// The largest page size: offsets are 2 bytes, and a content start of 65536 is written as 0.
pub const MAX_PAGE_SIZE: usize = 65536;

/// Where the header's fields are (README, "The layout"). Byte 0 belongs to the tree: this scene
/// never writes it.
const FIRST_FREEBLOCK: usize = 1;
const CELL_COUNT: usize = 3;
const CONTENT_START: usize = 5;
const FRAGMENTED: usize = 7;

/// The cell does not fit in the page, not even after a defragment. The page is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

impl fmt::Display for Full {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the cell does not fit in the page")
    }
}

impl std::error::Error for Full {}

/// The bytes a cell of `len` bytes takes in the content area: a 2-byte length, then the bytes,
/// and never fewer than [`MIN_CELL_SIZE`] in all (an empty cell is padded with two zero bytes).
pub fn cell_size(len: usize) -> usize {
    todo!()
}

/// One page of variable-length cells.
///
/// The page is its bytes and nothing else: every answer is read from the header, the pointers
/// and the cells, so that a page written to a file and read back is the same page.
pub struct Page {
    bytes: Vec<u8>,
}

impl Page {
    /// An empty page of `size` bytes: all zero but its content start, which is `size`.
    ///
    /// Panics unless `size` is a power of two from [`MIN_PAGE_SIZE`] to [`MAX_PAGE_SIZE`].
    pub fn new(size: usize) -> Page {
        todo!()
    }

    /// A page from bytes a `Page` wrote before (read back from a file, say), taken as they are.
    ///
    /// Panics unless their length is a page size, as for [`Page::new`].
    pub fn from_bytes(bytes: Vec<u8>) -> Page {
        todo!()
    }

    /// The page's bytes, all of them.
    pub fn bytes(&self) -> &[u8] {
        todo!()
    }

    /// How many cells the page holds.
    pub fn count(&self) -> usize {
        todo!()
    }

    /// The bytes of cell `index`, as they were inserted.
    ///
    /// Panics if `index >= count()`.
    pub fn cell(&self, index: usize) -> &[u8] {
        todo!()
    }

    /// The bytes free on the page: the gap between the pointers and the cells, every freeblock,
    /// and the fragmented bytes. A cell of `len` bytes fits if `POINTER_SIZE + cell_size(len)`
    /// is at most this.
    pub fn free_space(&self) -> usize {
        todo!()
    }

    /// Inserts `cell` as cell `index`: cells `index..` move up one place. Takes the first
    /// freeblock that fits, else the gap, else defragments first.
    ///
    /// Returns `Err(Full)`, and changes nothing, if the cell does not fit even after a defragment.
    /// Panics if `index > count()`, whether the cell fits or not.
    pub fn insert(&mut self, index: usize, cell: &[u8]) -> Result<(), Full> {
        todo!()
    }

    /// Removes cell `index`: cells `index + 1..` move down one place, and its bytes become free
    /// (zeroed, then a freeblock, merged with its neighbours, or given back to the gap).
    ///
    /// Panics if `index >= count()`.
    pub fn remove(&mut self, index: usize) {
        todo!()
    }

    /// Packs every cell against the end of the page, cell 0 last of all, cell 1 just below it,
    /// and so on: no freeblocks, no fragments, all free space in the gap (zeroed).
    pub fn defragment(&mut self) {
        todo!()
    }

    /// Finds `size` bytes for a new cell, whose pointer will take 2 bytes of the gap, and returns
    /// their offset: the first freeblock that fits, else the gap, else after a defragment.
    ///
    /// A suggested helper, as are the ones below: change the private parts freely, only the
    /// public API is graded.
    fn allocate(&mut self, size: usize) -> usize {
        todo!()
    }

    /// Makes `size` bytes at `start` free: zeroed, then merged with a freeblock that ends where
    /// they start or starts where they end, and given back to the gap if they are where the
    /// content area starts.
    fn free(&mut self, start: usize, size: usize) {
        todo!()
    }

    /// The free bytes between the end of the pointer array and the first cell.
    fn gap(&self) -> usize {
        todo!()
    }

    /// Where the content area starts: the header's field, with 0 read as 65536.
    fn content_start(&self) -> usize {
        todo!()
    }

    /// The offset of cell `index`, from the cell pointer array.
    fn pointer(&self, index: usize) -> usize {
        todo!()
    }

    /// The big-endian `u16` at `at`. Given whole.
    fn read_u16(&self, at: usize) -> usize {
        u16::from_be_bytes([self.bytes[at], self.bytes[at + 1]]) as usize
    }

    /// Writes `value` as a big-endian `u16` at `at`: 65536 is written as 0. Given whole.
    fn write_u16(&mut self, at: usize, value: usize) {
        self.bytes[at..at + 2].copy_from_slice(&(value as u16).to_be_bytes());
    }
}
