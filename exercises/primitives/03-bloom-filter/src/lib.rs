//! Bloom filters: a set that answers "definitely not" or "probably yes".
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

/// A fixed 64-bit hash of `key`; each `seed` gives an independent-looking hash.
///
/// This one is given: use it, do not change it. It is FNV-1a over the bytes, then the splitmix64
/// finaliser, which spreads every input bit over every output bit. `hash64(key, 0)` and
/// `hash64(key, 1)` make a good pair for double hashing.
pub fn hash64(key: &[u8], seed: u64) -> u64 {
    let mut hash = 0xCBF2_9CE4_8422_2325 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for &byte in key {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01B3);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94D0_49BB_1331_11EB);
    hash ^ (hash >> 31)
}

/// A Bloom filter over byte-string keys.
///
/// The fields are a suggestion: any representation of m bits will do.
#[derive(Debug, Clone)]
pub struct BloomFilter {
    /// The bit array, 64 bits to a word; bit `i` is bit `i % 64` of word `i / 64`.
    words: Vec<u64>,
    /// m: how many bits are in use.
    bits: usize,
    /// k: how many bits each key sets.
    hashes: u32,
}

impl BloomFilter {
    /// A filter sized to hold `expected_items` keys with a false-positive rate of about
    /// `false_positive_rate`.
    ///
    /// With n = `expected_items` (treat 0 as 1) and p = `false_positive_rate`:
    /// m = ceil(-n ln p / (ln 2)²) bits and k = round(m / n × ln 2) hashes, at least 1.
    ///
    /// # Panics
    ///
    /// If `false_positive_rate` is not strictly between 0 and 1.
    pub fn new(expected_items: usize, false_positive_rate: f64) -> Self {
        todo!()
    }

    /// Adds `key`. Afterwards `contains(key)` is true, forever.
    pub fn insert(&mut self, key: &[u8]) {
        todo!()
    }

    /// False if `key` was certainly never inserted; true if it probably was.
    pub fn contains(&self, key: &[u8]) -> bool {
        todo!()
    }

    /// m: the number of bits in the filter.
    pub fn bit_count(&self) -> usize {
        todo!()
    }

    /// k: the number of bits each key sets.
    pub fn hash_count(&self) -> u32 {
        todo!()
    }

    /// How many of the m bits are set to 1.
    pub fn bits_set(&self) -> usize {
        todo!()
    }
}
