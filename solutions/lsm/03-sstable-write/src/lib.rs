//! The table writer: a memtable's entries, sorted, written once into an immutable file of
//! checksummed blocks, an index of those blocks, and a footer that says where the index is.
//!
//! The reference solution.

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
        assert!(options.block_size > 0, "block_size must be at least 1");
        assert!(
            options.restart_interval > 0,
            "restart_interval must be at least 1"
        );
        let file = dir.create(name)?;
        Ok(TableWriter {
            dir,
            file,
            options,
            offset: 0,
            block: Block::new(options.restart_interval),
            index: Block::new(1),
            last: None,
            entries: 0,
            data_blocks: 0,
            first_key: Vec::new(),
        })
    }

    /// Adds `entry` to the table, writing the current data block out once it is full. Panics if
    /// `entry` does not come after the last one added (keys ascending, then seqs descending), or
    /// if its seq is 2^56 or more.
    pub fn add(&mut self, entry: &Entry) -> io::Result<()> {
        assert!(entry.seq <= MAX_SEQ, "seq {} is 2^56 or more", entry.seq);
        if let Some((key, seq)) = &self.last {
            let after = entry.key > *key || (entry.key == *key && entry.seq < *seq);
            assert!(
                after,
                "entries must be added in order: key ascending, seq descending"
            );
        }
        let (trailer, value) = match &entry.value {
            Some(value) => (entry.seq << 8 | PUT, value.as_slice()),
            None => (entry.seq << 8 | TOMBSTONE, &[][..]),
        };
        self.block.add(&entry.key, trailer, value);
        if self.entries == 0 {
            self.first_key = entry.key.clone();
        }
        self.entries += 1;
        self.last = Some((entry.key.clone(), entry.seq));
        if self.block.size() >= self.options.block_size {
            self.flush_block()?;
        }
        Ok(())
    }

    /// Writes the last block, the index block and the footer, then syncs the file and, after
    /// it, the directory: when this returns, the table and its name survive a crash. Call it
    /// once, after the last `add`.
    pub fn finish(&mut self) -> io::Result<TableMeta> {
        if !self.block.is_empty() {
            self.flush_block()?;
        }
        let index = self.index.finish();
        let (index_offset, index_size) = (self.offset, index.len() as u64);
        let mut tail = with_crc(index);
        for field in [index_offset, index_size, 0, 0, MAGIC] {
            tail.extend_from_slice(&field.to_le_bytes());
        }
        self.file.append(&tail)?;
        self.offset += tail.len() as u64;
        // The data first, then the name: a name made durable before its data could survive a
        // crash as a file that is not a table.
        self.file.sync()?;
        self.dir.sync()?;
        Ok(TableMeta {
            entries: self.entries,
            data_blocks: self.data_blocks,
            size: self.offset,
            first_key: self.first_key.clone(),
            last_key: self.last.clone().map(|(key, _)| key).unwrap_or_default(),
        })
    }

    /// Writes the current data block and its crc in one append, and indexes it under its last
    /// entry.
    fn flush_block(&mut self) -> io::Result<()> {
        let (key, trailer) = self.block.last_entry();
        let block = self.block.finish();
        let mut handle = Vec::new();
        put_varint(&mut handle, self.offset);
        put_varint(&mut handle, block.len() as u64);
        let size = block.len() as u64;
        self.file.append(&with_crc(block))?;
        self.index.add(&key, trailer, &handle);
        self.offset += size + 4;
        self.data_blocks += 1;
        Ok(())
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
        self.count == 0
    }

    /// The block's encoded size if it were finished now.
    fn size(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// Appends an entry. Entry 0 of the block, and every `interval`-th after it, is a restart
    /// point: its key is written whole. Any other shares what it can with the key before it.
    fn add(&mut self, key: &[u8], trailer: u64, value: &[u8]) {
        let shared = if self.count.is_multiple_of(self.interval) {
            self.restarts.push(self.buf.len() as u32);
            0
        } else {
            key.iter()
                .zip(&self.last_key)
                .take_while(|(a, b)| a == b)
                .count()
        };
        put_varint(&mut self.buf, shared as u64);
        put_varint(&mut self.buf, (key.len() - shared) as u64);
        put_varint(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(&key[shared..]);
        self.buf.extend_from_slice(&trailer.to_le_bytes());
        self.buf.extend_from_slice(value);
        self.count += 1;
        self.last_key = key.to_vec();
        self.last_trailer = trailer;
    }

    /// The key and trailer of the entry added last: what the index keeps for this block.
    fn last_entry(&self) -> (Vec<u8>, u64) {
        (self.last_key.clone(), self.last_trailer)
    }

    /// The finished block's bytes; the builder starts a new, empty block.
    fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        for restart in &self.restarts {
            out.extend_from_slice(&restart.to_le_bytes());
        }
        out.extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        *self = Block::new(self.interval);
        out
    }
}

/// `bytes` followed by their crc32.
fn with_crc(mut bytes: Vec<u8>) -> Vec<u8> {
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
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
