//! A Bloom filter in every table: built from the table's user keys, stored in its filter block,
//! loaded once at open, and asked before a get reads any data block.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::io::{self, ErrorKind};

use kit::disk::Dir;
use lsm_sstable_read::{FOOTER_LEN, Table};

pub use lsm_sstable_read::Entry;

/// The hash the filter probes with: LevelDB's, over the key's bytes. Given: the checks use the
/// same one, so that filters can be compared byte for byte.
pub fn filter_hash(key: &[u8]) -> u32 {
    const SEED: u32 = 0xBC9F_1D34;
    const M: u32 = 0xC6A4_A793;
    let mut h = SEED ^ (key.len() as u32).wrapping_mul(M);
    let mut words = key.chunks_exact(4);
    for word in &mut words {
        h = h.wrapping_add(u32::from_le_bytes(word.try_into().unwrap()));
        h = h.wrapping_mul(M);
        h ^= h >> 16;
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        for (i, &byte) in rest.iter().enumerate() {
            h = h.wrapping_add(u32::from(byte) << (8 * i));
        }
        h = h.wrapping_mul(M);
        h ^= h >> 24;
    }
    h
}

/// The fewest bits a filter has, so that a table of one key still gets a useful filter.
pub const MIN_FILTER_BITS: usize = 64;

/// The filter block of `keys` (user keys, each once: the size counts every key given),
/// `bits_per_key` bits each: the bit array, then k in the last byte.
pub fn build_filter(keys: &[Vec<u8>], bits_per_key: usize) -> Vec<u8> {
    todo!()
}

/// False: `key` was certainly not among the keys. True: probably was. A filter with no bit
/// array (fewer than 2 bytes) holds no key.
pub fn may_contain(filter: &[u8], key: &[u8]) -> bool {
    todo!()
}

/// A table, opened with its filter in memory.
#[derive(Debug)]
pub struct FilteredTable {
    table: Table,
    /// The filter block; `None` if the table has none.
    filter: Option<Vec<u8>>,
}

impl FilteredTable {
    /// Opens the table with the reader of the scene before, and loads its filter block (one
    /// read, its crc checked: `InvalidData` if it is wrong or the block is outside the file). A
    /// table without one (filter offset and size 0) is opened all the same.
    pub fn open(dir: &dyn Dir, name: &str) -> io::Result<FilteredTable> {
        todo!()
    }

    /// As `Table::get`, but asks the filter first: a key it rules out reads no data block.
    pub fn get(&self, key: &[u8], snapshot: u64) -> io::Result<Option<Entry>> {
        todo!()
    }
}
