//! The table reader: a point lookup reads one block of a sorted table, found through the index
//! the table keeps in memory; an iterator walks the blocks in order.
//!
//! The reference solution.

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

/// The low byte of a trailer: what the entry is.
const PUT: u64 = 1;
const TOMBSTONE: u64 = 0;

/// A sorted table, opened: its file and its index, in memory.
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
        let file: Arc<dyn File> = Arc::from(dir.open(name)?);
        let len = file.len()?;
        if len < FOOTER_LEN {
            return Err(invalid(format!(
                "the file is {len} bytes, too short for a {FOOTER_LEN}-byte footer"
            )));
        }
        let footer_at = len - FOOTER_LEN;
        let mut footer = [0; FOOTER_LEN as usize];
        file.read_exact_at(footer_at, &mut footer)?;
        let word = |i: usize| u64::from_le_bytes(footer[i * 8..i * 8 + 8].try_into().unwrap());
        if word(4) != MAGIC {
            return Err(invalid(format!("the footer's magic is {:#x}", word(4))));
        }
        let (index_at, index_size) = (word(0), word(1));
        let bytes = read_block(&*file, index_at, index_size, footer_at)?;
        let block = Block::parse(&bytes)?;
        let mut index = Vec::new();
        for raw in block.scan(0) {
            // An index entry's value is the handle of its block: its offset and size.
            let raw = raw?;
            let mut at = 0;
            let bad_handle = || invalid("an index entry's handle is malformed".into());
            let offset = varint(raw.value, &mut at).ok_or_else(bad_handle)?;
            let size = varint(raw.value, &mut at).ok_or_else(bad_handle)?;
            // Data blocks come before the index: a handle past it points at no block.
            if offset.checked_add(size).and_then(|end| end.checked_add(4)) > Some(index_at) {
                return Err(invalid(format!(
                    "a data block's handle ({offset}, {size}) points past the index at {index_at}"
                )));
            }
            index.push(BlockRef {
                seq: raw.seq(),
                key: raw.key,
                offset,
                size,
            });
        }
        Ok(Table {
            file,
            index: index.into(),
        })
    }

    /// The newest version of `key` with seq <= `snapshot`, a tombstone included (value `None`);
    /// `None` if there is none. Reads at most one data block.
    pub fn get(&self, key: &[u8], snapshot: u64) -> io::Result<Option<Entry>> {
        // The first block whose last entry is not before (key, snapshot): a key's versions may
        // span blocks, so the seq takes part in the search, not only the key.
        let i = self
            .index
            .partition_point(|b| before(&b.key, b.seq, key, snapshot));
        let Some(block) = self.index.get(i) else {
            return Ok(None);
        };
        let bytes = self.read(block)?;
        let block = Block::parse(&bytes)?;
        for raw in block.scan(block.restart_for(key, snapshot)?) {
            let raw = raw?;
            if !before(&raw.key, raw.seq(), key, snapshot) {
                return if raw.key == key {
                    raw.entry().map(Some)
                } else {
                    Ok(None)
                };
            }
        }
        Ok(None)
    }

    /// An iterator over every entry, in table order.
    pub fn iter(&self) -> TableIter {
        TableIter {
            table: self.clone(),
            next_block: 0,
            pending: VecDeque::new(),
        }
    }

    fn read(&self, block: &BlockRef) -> io::Result<Vec<u8>> {
        read_block(&*self.file, block.offset, block.size, u64::MAX)
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
        // Seqs are below 2^56: (key, u64::MAX) comes before every version of key.
        let i = self
            .table
            .index
            .partition_point(|b| before(&b.key, b.seq, key, u64::MAX));
        let mut pending = VecDeque::new();
        if let Some(block) = self.table.index.get(i) {
            let bytes = self.table.read(block)?;
            let block = Block::parse(&bytes)?;
            for raw in block.scan(block.restart_for(key, u64::MAX)?) {
                let raw = raw?;
                if raw.key.as_slice() >= key {
                    pending.push_back(raw.entry()?);
                }
            }
        }
        self.next_block = i + 1;
        self.pending = pending;
        Ok(())
    }

    /// The next entry, or `None` at the end of the table. A call that fails leaves the iterator
    /// where it was: the next call tries the same entry again.
    // Not `Iterator::next`: a read can fail, and an error is not an entry nor the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> io::Result<Option<Entry>> {
        while self.pending.is_empty() {
            let Some(block) = self.table.index.get(self.next_block) else {
                return Ok(None);
            };
            let bytes = self.table.read(block)?;
            let block = Block::parse(&bytes)?;
            self.pending = block
                .scan(0)
                .map(|raw| raw?.entry())
                .collect::<io::Result<_>>()?;
            self.next_block += 1;
        }
        Ok(self.pending.pop_front())
    }
}

/// True if (key a, seq a) comes before (key b, seq b) in table order: keys ascending, then seqs
/// descending.
fn before(a: &[u8], a_seq: u64, b: &[u8], b_seq: u64) -> bool {
    a < b || (a == b && a_seq > b_seq)
}

/// Reads the block at `offset` and its crc, in one read, and checks the crc. The block and its
/// crc must end at or before `limit`.
fn read_block(file: &dyn File, offset: u64, size: u64, limit: u64) -> io::Result<Vec<u8>> {
    let end = offset.checked_add(size).and_then(|end| end.checked_add(4));
    if end.is_none_or(|end| end > limit) {
        return Err(invalid(format!(
            "a block's handle ({offset}, {size}) points outside the file"
        )));
    }
    let mut buf = vec![0; size as usize + 4];
    file.read_exact_at(offset, &mut buf)?;
    let crc = u32::from_le_bytes(buf[size as usize..].try_into().unwrap());
    buf.truncate(size as usize);
    if crc32fast::hash(&buf) != crc {
        return Err(invalid(format!(
            "the block at offset {offset} fails its checksum"
        )));
    }
    Ok(buf)
}

/// A block's bytes, split into its entries and its restart points.
struct Block<'a> {
    entries: &'a [u8],
    restarts: Vec<usize>,
}

impl<'a> Block<'a> {
    fn parse(bytes: &'a [u8]) -> io::Result<Block<'a>> {
        let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let too_short = || invalid(format!("a block of {} bytes is too short", bytes.len()));
        let count_at = bytes.len().checked_sub(4).ok_or_else(too_short)?;
        let n = word(count_at);
        let restarts_at = n
            .checked_mul(4)
            .and_then(|len| count_at.checked_sub(len))
            .ok_or_else(too_short)?;
        // A restart point past the entries is not checked here: decoding there fails.
        let restarts: Vec<usize> = (0..n).map(|i| word(restarts_at + 4 * i)).collect();
        Ok(Block {
            entries: &bytes[..restarts_at],
            restarts,
        })
    }

    /// Where to start scanning for the first entry not before (key, seq): the last restart
    /// point before it, found by binary search (keys at restart points are whole).
    fn restart_for(&self, key: &[u8], seq: u64) -> io::Result<usize> {
        let (mut low, mut high) = (0, self.restarts.len());
        while low < high {
            let mid = (low + high) / 2;
            let (raw, _) = decode(self.entries, self.restarts[mid], &[])?;
            if before(&raw.key, raw.seq(), key, seq) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        Ok(low.checked_sub(1).map_or(0, |i| self.restarts[i]))
    }

    /// The entries from the one at `at` (a restart point) to the end of the block.
    fn scan(&self, at: usize) -> Scan<'_> {
        Scan {
            entries: self.entries,
            at,
            key: Vec::new(),
        }
    }
}

struct Scan<'a> {
    entries: &'a [u8],
    at: usize,
    /// The key of the entry decoded last, which the next one shares a prefix with.
    key: Vec<u8>,
}

impl<'a> Iterator for Scan<'a> {
    type Item = io::Result<Raw<'a>>;

    fn next(&mut self) -> Option<io::Result<Raw<'a>>> {
        if self.at >= self.entries.len() {
            return None;
        }
        match decode(self.entries, self.at, &self.key) {
            Ok((raw, next)) => {
                self.at = next;
                self.key.clone_from(&raw.key);
                Some(Ok(raw))
            }
            Err(error) => {
                self.at = self.entries.len();
                Some(Err(error))
            }
        }
    }
}

/// An entry of a block, decoded: its whole key, its trailer, and its value's bytes (a data
/// block's value, or an index entry's handle).
struct Raw<'a> {
    key: Vec<u8>,
    trailer: u64,
    value: &'a [u8],
}

impl Raw<'_> {
    fn seq(&self) -> u64 {
        self.trailer >> 8
    }

    /// The entry of a data block.
    fn entry(self) -> io::Result<Entry> {
        let value = match self.trailer & 0xff {
            PUT => Some(self.value.to_vec()),
            TOMBSTONE if self.value.is_empty() => None,
            kind => {
                return Err(invalid(format!(
                    "an entry of kind {kind}, with {} bytes of value",
                    self.value.len()
                )));
            }
        };
        Ok(Entry {
            seq: self.seq(),
            key: self.key,
            value,
        })
    }
}

/// The entry at `at`, whose key shares its first bytes with `previous`; and where the next
/// entry starts.
fn decode<'a>(entries: &'a [u8], mut at: usize, previous: &[u8]) -> io::Result<(Raw<'a>, usize)> {
    let start = at;
    let bad = || {
        invalid(format!(
            "the entry at offset {start} of a block is malformed"
        ))
    };
    let mut length = || {
        varint(entries, &mut at)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(bad)
    };
    let shared = length()?;
    let unshared = length()?;
    let value_len = length()?;
    let prefix = previous.get(..shared).ok_or_else(bad)?;
    let mut take = |n: usize| {
        let bytes = entries.get(at..at.checked_add(n)?)?;
        at += n;
        Some(bytes)
    };
    let suffix = take(unshared).ok_or_else(bad)?;
    let trailer = u64::from_le_bytes(take(8).ok_or_else(bad)?.try_into().unwrap());
    let value = take(value_len).ok_or_else(bad)?;
    let key = [prefix, suffix].concat();
    Ok((
        Raw {
            key,
            trailer,
            value,
        },
        at,
    ))
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
