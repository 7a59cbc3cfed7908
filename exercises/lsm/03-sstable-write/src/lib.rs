//! The table writer: a memtable's entries, sorted, written once into an immutable file of
//! checksummed blocks, an index of those blocks, and a footer that says where the index is.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::io;
use std::sync::Arc;

use kit::disk::{Dir, File};

/// The last 8 bytes of every table.
pub const MAGIC: u64 = 0x4C53_4D54_4142_4C45;

/// The footer's length: index offset, index size, filter offset, filter size, magic.
pub const FOOTER_LEN: usize = 40;

/// A version of a key: its value as of `seq`, or `None` if the key was deleted at `seq` (a
/// tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: Vec<u8>,
    pub seq: u64,
    pub value: Option<Vec<u8>>,
}

/// How the table is cut into blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// A data block is finished once its encoded size reaches this many bytes.
    pub block_size: usize,
    /// Every this-many entries of a block, a key is written whole (a restart point).
    pub restart_interval: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            block_size: 4096,
            restart_interval: 16,
        }
    }
}

/// What [`TableWriter::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMeta {
    /// Entries in the table.
    pub entries: u64,
    /// Data blocks in the table.
    pub data_blocks: u64,
    /// The file's length in bytes.
    pub size: u64,
    /// The key of the first entry (empty for an empty table).
    pub first_key: Vec<u8>,
    /// The key of the last entry (empty for an empty table).
    pub last_key: Vec<u8>,
}

/// Seqs must fit in the trailer's top 56 bits.
const MAX_SEQ: u64 = (1 << 56) - 1;

const PUT: u64 = 1;
const TOMBSTONE: u64 = 0;

/// Writes one table, front to back. After an error the table is incomplete for good: drop the
/// writer, and the caller removes the file.
pub struct TableWriter {
    dir: Arc<dyn Dir>,
    file: Box<dyn File>,
    options: Options,
    /// Bytes written to the file so far: where the next block goes.
    offset: u64,
    /// The data block being filled.
    block: Block,
    /// One entry per data block written: its last key and trailer, and its handle.
    index: Block,
    /// The key and seq of the last entry added, to hold `add` to table order.
    last: Option<(Vec<u8>, u64)>,
    entries: u64,
    data_blocks: u64,
    first_key: Vec<u8>,
}

impl TableWriter {
    /// Creates the file `name` in `dir`, and keeps `dir` to sync it in `finish`. Panics if an
    /// option is 0.
    pub fn create(dir: Arc<dyn Dir>, name: &str, options: Options) -> io::Result<TableWriter> {
        todo!()
    }

    /// Adds `entry` to the table, writing the current data block out once it is full. Panics if
    /// `entry` does not come after the last one added (keys ascending, then seqs descending), or
    /// if its seq is 2^56 or more.
    pub fn add(&mut self, entry: &Entry) -> io::Result<()> {
        todo!()
    }

    /// Writes the last block, the index block and the footer, then syncs the file and, after
    /// it, the directory: when this returns, the table and its name survive a crash. Call it
    /// once, after the last `add`.
    pub fn finish(&mut self) -> io::Result<TableMeta> {
        todo!()
    }

    /// Writes the current data block and its crc in one append, and indexes it under its last
    /// entry.
    fn flush_block(&mut self) -> io::Result<()> {
        todo!()
    }
}

/// A block being built: entries, then the restart array and its length.
struct Block {
    interval: usize,
    buf: Vec<u8>,
    restarts: Vec<u32>,
    /// Entries in this block.
    count: usize,
    last_key: Vec<u8>,
    last_trailer: u64,
}

impl Block {
    fn new(interval: usize) -> Block {
        Block {
            interval,
            buf: Vec::new(),
            restarts: Vec::new(),
            count: 0,
            last_key: Vec::new(),
            last_trailer: 0,
        }
    }

    fn is_empty(&self) -> bool {
        todo!()
    }

    /// The block's encoded size if it were finished now.
    fn size(&self) -> usize {
        todo!()
    }

    /// Appends an entry. Entry 0 of the block, and every `interval`-th after it, is a restart
    /// point: its key is written whole. Any other shares what it can with the key before it.
    fn add(&mut self, key: &[u8], trailer: u64, value: &[u8]) {
        todo!()
    }

    /// The key and trailer of the entry added last: what the index keeps for this block.
    fn last_entry(&self) -> (Vec<u8>, u64) {
        todo!()
    }

    /// The finished block's bytes; the builder starts a new, empty block.
    fn finish(&mut self) -> Vec<u8> {
        todo!()
    }
}

/// `bytes` followed by their crc32.
fn with_crc(mut bytes: Vec<u8>) -> Vec<u8> {
    todo!()
}

/// Appends `value` as a LEB128 varint: 7 bits a byte, low bits first, the top bit set on every
/// byte but the last.
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}
