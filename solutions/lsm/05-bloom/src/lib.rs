//! A Bloom filter in every table: built from the table's user keys, stored in its filter block,
//! loaded once at open, and asked before a get reads any data block.
//!
//! The reference solution.

use std::io::{self, ErrorKind};

use kit::disk::Dir;
use lsm_sstable_read::{FOOTER_LEN, Table};

pub use lsm_sstable_read::Entry;

/// The hash the filter probes with: LevelDB's, over the key's bytes.
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
    let k = (bits_per_key as f64 * std::f64::consts::LN_2).round() as usize;
    let k = k.clamp(1, 30);
    let bits = keys.len().saturating_mul(bits_per_key).max(MIN_FILTER_BITS);
    let bytes = bits.div_ceil(8);
    let bits = bytes * 8;
    let mut filter = vec![0u8; bytes + 1];
    for key in keys {
        for bit in probes(key, k, bits) {
            filter[bit / 8] |= 1 << (bit % 8);
        }
    }
    filter[bytes] = k as u8;
    filter
}

/// False: `key` was certainly not among the keys. True: probably was. A filter with no bit
/// array (fewer than 2 bytes) holds no key.
pub fn may_contain(filter: &[u8], key: &[u8]) -> bool {
    let Some((&k, array)) = filter.split_last() else {
        return false;
    };
    if array.is_empty() {
        return false;
    }
    probes(key, usize::from(k), array.len() * 8).all(|bit| array[bit / 8] & (1 << (bit % 8)) != 0)
}

/// The `k` bits a key sets, out of `bits`: double hashing from one hash, as LevelDB does.
fn probes(key: &[u8], k: usize, bits: usize) -> impl Iterator<Item = usize> {
    let mut h = filter_hash(key);
    let delta = h.rotate_right(17);
    (0..k).map(move |_| {
        let bit = h as usize % bits;
        h = h.wrapping_add(delta);
        bit
    })
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
        let table = Table::open(dir, name)?;
        let file = dir.open(name)?;
        let len = file.len()?;
        // Table::open has checked that the file is long enough for a footer, and its magic.
        let mut footer = [0; FOOTER_LEN as usize];
        file.read_exact_at(len - FOOTER_LEN, &mut footer)?;
        let word = |i: usize| u64::from_le_bytes(footer[i * 8..i * 8 + 8].try_into().unwrap());
        let (offset, size) = (word(2), word(3));
        if size == 0 {
            return Ok(FilteredTable {
                table,
                filter: None,
            });
        }
        let end = offset.checked_add(size).and_then(|end| end.checked_add(4));
        if end.is_none_or(|end| end > len - FOOTER_LEN) {
            return Err(invalid(format!(
                "the filter block's handle ({offset}, {size}) points past the footer"
            )));
        }
        let mut bytes = vec![0; size as usize + 4];
        file.read_exact_at(offset, &mut bytes)?;
        let crc = bytes.split_off(size as usize);
        let stored = u32::from_le_bytes(crc.try_into().unwrap());
        if crc32fast::hash(&bytes) != stored {
            return Err(invalid("the filter block's crc is wrong".into()));
        }
        Ok(FilteredTable {
            table,
            filter: Some(bytes),
        })
    }

    /// As `Table::get`, but asks the filter first: a key it rules out reads no data block.
    pub fn get(&self, key: &[u8], snapshot: u64) -> io::Result<Option<Entry>> {
        if let Some(filter) = &self.filter
            && !may_contain(filter, key)
        {
            return Ok(None);
        }
        self.table.get(key, snapshot)
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, message)
}
