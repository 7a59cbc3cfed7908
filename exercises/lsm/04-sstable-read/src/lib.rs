//! The table reader: a point lookup reads one block of a sorted table, found through the index
//! the table keeps in memory; an iterator walks the blocks in order.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::sync::Arc;

use kit::disk::{Dir, File};

/// A version of a key: its value as of `seq`, or `None` if the key was deleted then (a
/// tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: Vec<u8>,
    pub seq: u64,
    pub value: Option<Vec<u8>>,
}

/// The footer's length: five little-endian u64s.
pub const FOOTER_LEN: u64 = 40;

/// The footer's last word: it says the file is a table.
pub const MAGIC: u64 = 0x4C53_4D54_4142_4C45;

/// A sorted table, opened: its file and its index, in memory. Cloning it is cheap (both are
/// shared), which is how an iterator can hold the table without borrowing it.
#[derive(Debug, Clone)]
pub struct Table {
    file: Arc<dyn File>,
    /// One entry per data block, in order: the block's last key and seq, and where it is.
    index: Arc<[BlockRef]>,
}

/// Where a data block is, and the last entry it holds.
#[derive(Debug)]
struct BlockRef {
    key: Vec<u8>,
    seq: u64,
    offset: u64,
    size: u64,
}

impl Table {
    /// Reads the footer and the index block (one read each); `InvalidData` if the file is too
    /// short, the magic is wrong, a handle points outside the file or the index's crc is wrong.
    pub fn open(dir: &dyn Dir, name: &str) -> io::Result<Table> {
        todo!()
    }

    /// The newest version of `key` with seq <= `snapshot`, a tombstone included (value `None`);
    /// `None` if there is none. Reads at most one data block.
    pub fn get(&self, key: &[u8], snapshot: u64) -> io::Result<Option<Entry>> {
        todo!()
    }

    /// An iterator over every entry, in table order.
    pub fn iter(&self) -> TableIter {
        todo!()
    }
}

/// Walks a table's entries in order, a block at a time. It holds the table (shared), not a
/// borrow of it.
#[derive(Debug)]
pub struct TableIter {
    table: Table,
    /// The next data block to read once `pending` is used up.
    next_block: usize,
    /// What is left of the block read last.
    pending: VecDeque<Entry>,
}

impl TableIter {
    /// Positions the iterator at the first entry whose key is >= `key` (any seq). A call that
    /// fails leaves the iterator where it was.
    pub fn seek(&mut self, key: &[u8]) -> io::Result<()> {
        todo!()
    }

    /// The next entry, or `None` at the end of the table. A call that fails leaves the iterator
    /// where it was: the next call tries the same entry again.
    // Not `Iterator::next`: a read can fail, and an error is not an entry nor the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> io::Result<Option<Entry>> {
        todo!()
    }
}

/// An error saying the file is not a well-formed table.
fn invalid(message: String) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, message)
}

/// Reads a LEB128 varint at `*at` and moves `*at` past it; `None` if the bytes end first or it
/// does not fit in a u64.
fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        let bits = u64::from(byte & 0x7f);
        if shift == 63 && bits > 1 {
            return None;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}
