//! A slotted page: variable-length cells in one fixed-size page, laid out as SQLite lays out the
//! pages of its b-trees.
//!
//! The reference solution. The page is its bytes and nothing else: every answer is read from the
//! header, the cell pointer array and the cells, so that a page written out and read back (the
//! pager's job) is the same page. Pointers grow from the front, cells from the back; a removed
//! cell becomes a freeblock, linked into a chain sorted by offset and merged with its neighbours;
//! an insert takes the first freeblock that fits, then the gap, then defragments.

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

/// Where the header's fields are. Byte 0 belongs to the tree (later, the page's kind).
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
    (len + 2).max(MIN_CELL_SIZE)
}

/// One page of variable-length cells.
pub struct Page {
    bytes: Vec<u8>,
}

impl Page {
    /// An empty page of `size` bytes: all zero but its content start, which is `size`.
    ///
    /// Panics unless `size` is a power of two from [`MIN_PAGE_SIZE`] to [`MAX_PAGE_SIZE`].
    pub fn new(size: usize) -> Page {
        check_size(size);
        let mut page = Page {
            bytes: vec![0; size],
        };
        page.set_content_start(size);
        page
    }

    /// A page from bytes a `Page` wrote before (read back from a file, say), taken as they are.
    ///
    /// Panics unless their length is a page size, as for [`Page::new`].
    pub fn from_bytes(bytes: Vec<u8>) -> Page {
        check_size(bytes.len());
        Page { bytes }
    }

    /// The page's bytes, all of them.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many cells the page holds.
    pub fn count(&self) -> usize {
        self.read_u16(CELL_COUNT)
    }

    /// The bytes of cell `index`, as they were inserted.
    ///
    /// Panics if `index >= count()`.
    pub fn cell(&self, index: usize) -> &[u8] {
        let count = self.count();
        assert!(
            index < count,
            "cell index {index} out of range: the page holds {count} cells"
        );
        let at = self.pointer(index);
        let len = self.read_u16(at);
        &self.bytes[at + 2..at + 2 + len]
    }

    /// The bytes free on the page: the gap between the pointers and the cells, every freeblock,
    /// and the fragmented bytes. A cell of `len` bytes fits if `POINTER_SIZE + cell_size(len)`
    /// is at most this.
    pub fn free_space(&self) -> usize {
        let mut free = self.gap() + self.fragmented();
        let mut block = self.read_u16(FIRST_FREEBLOCK);
        while block != 0 {
            free += self.read_u16(block + 2);
            block = self.read_u16(block);
        }
        free
    }

    /// Inserts `cell` as cell `index`: cells `index..` move up one place. Takes the first
    /// freeblock that fits, else the gap, else defragments first.
    ///
    /// Returns `Err(Full)`, and changes nothing, if the cell does not fit even after a defragment.
    /// Panics if `index > count()`, whether the cell fits or not.
    pub fn insert(&mut self, index: usize, cell: &[u8]) -> Result<(), Full> {
        let count = self.count();
        assert!(
            index <= count,
            "insert index {index} out of range: the page holds {count} cells"
        );
        let size = cell_size(cell.len());
        // Decided before anything is written, so that a cell that cannot fit changes nothing.
        if POINTER_SIZE + size > self.free_space() {
            return Err(Full);
        }
        let at = self.allocate(size);
        self.write_u16(at, cell.len());
        self.bytes[at + 2..at + 2 + cell.len()].copy_from_slice(cell);
        // The pointers of cells index.. move up one place, then the new one goes in between.
        let from = HEADER_SIZE + POINTER_SIZE * index;
        let end = HEADER_SIZE + POINTER_SIZE * count;
        self.bytes.copy_within(from..end, from + POINTER_SIZE);
        self.write_u16(from, at);
        self.write_u16(CELL_COUNT, count + 1);
        Ok(())
    }

    /// Removes cell `index`: cells `index + 1..` move down one place, and its bytes become free
    /// (zeroed, then a freeblock, merged with its neighbours, or given back to the gap).
    ///
    /// Panics if `index >= count()`.
    pub fn remove(&mut self, index: usize) {
        let count = self.count();
        assert!(
            index < count,
            "remove index {index} out of range: the page holds {count} cells"
        );
        let at = self.pointer(index);
        let size = cell_size(self.read_u16(at));
        let from = HEADER_SIZE + POINTER_SIZE * index;
        let end = HEADER_SIZE + POINTER_SIZE * count;
        self.bytes.copy_within(from + POINTER_SIZE..end, from);
        // The last pointer's old place is gap now, and gap bytes are zero.
        self.bytes[end - POINTER_SIZE..end].fill(0);
        self.write_u16(CELL_COUNT, count - 1);
        self.free(at, size);
    }

    /// Packs every cell against the end of the page, cell 0 last of all, cell 1 just below it,
    /// and so on: no freeblocks, no fragments, all free space in the gap (zeroed).
    pub fn defragment(&mut self) {
        let count = self.count();
        let size = self.bytes.len();
        // The cells are copied out to a fresh content area first: a cell's new place may
        // overlap another cell's old one.
        let mut packed = vec![0; size];
        let mut top = size;
        for index in 0..count {
            let at = self.pointer(index);
            let len = cell_size(self.read_u16(at));
            top -= len;
            packed[top..top + len].copy_from_slice(&self.bytes[at..at + len]);
            self.set_pointer(index, top);
        }
        let array_end = HEADER_SIZE + POINTER_SIZE * count;
        self.bytes[array_end..].copy_from_slice(&packed[array_end..]);
        self.write_u16(FIRST_FREEBLOCK, 0);
        self.bytes[FRAGMENTED] = 0;
        self.set_content_start(top);
    }

    /// Finds `size` bytes for a new cell, whose pointer will take 2 bytes of the gap, and returns
    /// their offset. The caller has checked that the page has the room.
    fn allocate(&mut self, size: usize) -> usize {
        // A freeblock is of use only if the pointer array can still grow into the gap.
        if self.gap() >= POINTER_SIZE {
            // `link` is where the offset of `block` is written: the header, or the block before.
            let mut link = FIRST_FREEBLOCK;
            let mut block = self.read_u16(link);
            while block != 0 {
                let block_size = self.read_u16(block + 2);
                let next = self.read_u16(block);
                if block_size >= size {
                    let rest = block_size - size;
                    if rest >= MIN_CELL_SIZE {
                        // The block keeps its place in the chain, smaller; the cell takes its end.
                        self.write_u16(block + 2, rest);
                        return block + rest;
                    }
                    let fragmented = self.fragmented() + rest;
                    if fragmented > MAX_FRAGMENTED {
                        // Too many lost bytes: pack the page rather than lose more.
                        self.defragment();
                        return self.take_from_gap(size);
                    }
                    // The whole block: the cell at its start, up to 3 bytes left over as a fragment.
                    self.write_u16(link, next);
                    self.bytes[block..block + 4].fill(0);
                    self.bytes[FRAGMENTED] = fragmented as u8;
                    return block;
                }
                link = block;
                block = next;
            }
        }
        if self.gap() < POINTER_SIZE + size {
            self.defragment();
        }
        self.take_from_gap(size)
    }

    /// The `size` bytes just below the content start, which moves down over them.
    fn take_from_gap(&mut self, size: usize) -> usize {
        let at = self.content_start() - size;
        self.set_content_start(at);
        at
    }

    /// Makes `size` bytes at `start` free: zeroed, then merged with a freeblock that ends where
    /// they start or starts where they end, and given back to the gap if they are where the
    /// content area starts.
    fn free(&mut self, start: usize, size: usize) {
        self.bytes[start..start + size].fill(0);
        // The chain is sorted by offset: find the blocks either side of `start`.
        let mut link = FIRST_FREEBLOCK;
        let mut prev = None;
        let mut next = self.read_u16(FIRST_FREEBLOCK);
        while next != 0 && next < start {
            prev = Some(next);
            link = next;
            next = self.read_u16(next);
        }
        let mut end = start + size;
        if next != 0 && next == end {
            end += self.read_u16(next + 2);
            let after = self.read_u16(next);
            self.bytes[next..next + 4].fill(0);
            next = after;
        }
        if let Some(prev) = prev
            && prev + self.read_u16(prev + 2) == start
        {
            self.write_u16(prev, next);
            self.write_u16(prev + 2, end - prev);
            return;
        }
        if start == self.content_start() {
            // Free bytes at the start of the content area are simply gap again.
            self.write_u16(link, next);
            self.set_content_start(end);
            return;
        }
        self.write_u16(start, next);
        self.write_u16(start + 2, end - start);
        self.write_u16(link, start);
    }

    /// The free bytes between the end of the pointer array and the first cell.
    fn gap(&self) -> usize {
        self.content_start() - (HEADER_SIZE + POINTER_SIZE * self.count())
    }

    fn content_start(&self) -> usize {
        match self.read_u16(CONTENT_START) {
            0 => MAX_PAGE_SIZE,
            at => at,
        }
    }

    fn set_content_start(&mut self, at: usize) {
        // 65536 does not fit in 2 bytes: it is written as 0, which no other start can be.
        self.write_u16(CONTENT_START, at);
    }

    fn fragmented(&self) -> usize {
        self.bytes[FRAGMENTED] as usize
    }

    fn pointer(&self, index: usize) -> usize {
        self.read_u16(HEADER_SIZE + POINTER_SIZE * index)
    }

    fn set_pointer(&mut self, index: usize, at: usize) {
        self.write_u16(HEADER_SIZE + POINTER_SIZE * index, at);
    }

    /// The big-endian `u16` at `at`.
    fn read_u16(&self, at: usize) -> usize {
        u16::from_be_bytes([self.bytes[at], self.bytes[at + 1]]) as usize
    }

    /// Writes `value` as a big-endian `u16` at `at`: 65536 is written as 0.
    fn write_u16(&mut self, at: usize, value: usize) {
        self.bytes[at..at + 2].copy_from_slice(&(value as u16).to_be_bytes());
    }
}

fn check_size(size: usize) {
    assert!(
        size.is_power_of_two() && (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&size),
        "a page size is a power of two from {MIN_PAGE_SIZE} to {MAX_PAGE_SIZE}, not {size}"
    );
}
