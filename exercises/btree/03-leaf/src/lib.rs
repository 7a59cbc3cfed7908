//! A leaf page: sorted keys and their values in one page, in a slotted layout.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::cmp::Ordering;
use std::io::{self, ErrorKind};

/// The first byte of every leaf page.
pub const LEAF_KIND: u8 = 0x0D;

/// The leaf's header: kind, a zero byte, the cell count (u16), where the cell area starts (u32)
/// and how many bytes in it are fragments (u32).
pub const LEAF_HEADER: usize = 12;

/// A slot: the offset of its cell, a u16.
pub const SLOT: usize = 2;

/// A cell's header: the key's length and the value's, two u16s.
pub const CELL_HEADER: usize = 4;

/// The biggest cell (header, key and value) a leaf of `page_size` bytes takes: small enough
/// that four of them, with their slots, always fit in an empty page.
pub fn max_cell(page_size: usize) -> usize {
    (page_size - LEAF_HEADER) / 4 - SLOT
}

/// One leaf page.
#[derive(Debug, Clone)]
pub struct Leaf {
    page: Vec<u8>,
}

impl Leaf {
    /// An empty leaf of `page_size` bytes (a power of two from 512 to 65536, or
    /// `InvalidInput`).
    pub fn new(page_size: usize) -> io::Result<Leaf> {
        todo!()
    }

    /// The leaf held in `page`, once every rule of the layout is checked: `InvalidData` names
    /// the first one broken.
    pub fn from_bytes(page: Vec<u8>) -> io::Result<Leaf> {
        todo!()
    }

    /// The page's bytes.
    pub fn bytes(&self) -> &[u8] {
        todo!()
    }

    /// How many entries the leaf holds.
    pub fn len(&self) -> usize {
        todo!()
    }

    /// True when the leaf holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes a new cell and its slot may still take: the gap between the slots and the
    /// cells, and the fragments.
    pub fn free_space(&self) -> usize {
        todo!()
    }

    /// Where `key` is: `Ok(slot)` if the leaf holds it, or `Err(slot)`, the slot it would be
    /// inserted at to keep the keys in order. A binary search over the slots.
    pub fn search(&self, key: &[u8]) -> Result<usize, usize> {
        todo!()
    }

    /// The value of `key`, if the leaf holds it.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        todo!()
    }

    /// Every entry, in key order.
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        todo!()
    }

    /// Inserts `key` with `value`, or replaces the value of a key the leaf holds (returning
    /// the old one). A cell bigger than [`max_cell`] is `InvalidInput`; a cell that does not
    /// fit in the free space is `StorageFull` (the page must be split). Either way the page is
    /// left as it was.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> io::Result<Option<Vec<u8>>> {
        todo!()
    }
}
