//! Bloom filters: a set that answers "definitely not" or "probably yes".
//!
//! The reference solution: bits packed 64 to a word, k indexes per key by double hashing.

use std::f64::consts::LN_2;

/// A fixed 64-bit hash of `key`; each `seed` gives an independent-looking hash.
///
/// FNV-1a over the bytes, then the splitmix64 finaliser, which spreads every input bit over
/// every output bit (FNV-1a alone leaves the top bits poorly mixed for short keys).
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
#[derive(Debug, Clone)]
pub struct BloomFilter {
    /// The bit array, 64 bits to a word; bit `i` is bit `i % 64` of word `i / 64`.
    words: Vec<u64>,
    /// m: how many bits are in use (the last word may have spare bits that stay zero).
    bits: usize,
    /// k: how many bits each key sets.
    hashes: u32,
}

impl BloomFilter {
    /// A filter sized to hold `expected_items` keys with a false-positive rate of about
    /// `false_positive_rate`.
    ///
    /// With n = `expected_items` (at least 1) and p = `false_positive_rate`:
    /// m = ceil(-n ln p / (ln 2)²) bits and k = round(m / n × ln 2) hashes, at least 1.
    ///
    /// # Panics
    ///
    /// If `false_positive_rate` is not strictly between 0 and 1.
    pub fn new(expected_items: usize, false_positive_rate: f64) -> Self {
        assert!(
            false_positive_rate > 0.0 && false_positive_rate < 1.0,
            "a false-positive rate must be strictly between 0 and 1, not {false_positive_rate}"
        );
        let n = expected_items.max(1) as f64;
        // The m that makes the best k reach p: each extra bit per key buys a factor of
        // e^-(ln 2)² off the false-positive rate.
        let bits = (-n * false_positive_rate.ln() / (LN_2 * LN_2)).ceil() as usize;
        let bits = bits.max(1);
        // The k that leaves about half the bits set at n keys, which minimises the rate.
        let hashes = (bits as f64 / n * LN_2).round().max(1.0) as u32;
        Self {
            words: vec![0; bits.div_ceil(64)],
            bits,
            hashes,
        }
    }

    /// Adds `key`. Afterwards `contains(key)` is true, forever.
    pub fn insert(&mut self, key: &[u8]) {
        for index in self.indexes(key) {
            self.words[index / 64] |= 1 << (index % 64);
        }
    }

    /// False if `key` was certainly never inserted; true if it probably was.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.indexes(key)
            .all(|index| self.words[index / 64] & (1 << (index % 64)) != 0)
    }

    /// m: the number of bits in the filter.
    pub fn bit_count(&self) -> usize {
        self.bits
    }

    /// k: the number of bits each key sets.
    pub fn hash_count(&self) -> u32 {
        self.hashes
    }

    /// How many of the m bits are set to 1.
    pub fn bits_set(&self) -> usize {
        self.words
            .iter()
            .map(|word| word.count_ones() as usize)
            .sum()
    }

    /// The k bit indexes of `key`: h1 + i × h2 (mod m) for i in 0..k.
    ///
    /// Two hashes stand in for k (Kirsch and Mitzenmacher showed the false-positive rate does
    /// not suffer). h2 is forced odd so it is never zero: a zero step would pile all k indexes
    /// onto one bit.
    fn indexes(&self, key: &[u8]) -> impl Iterator<Item = usize> + use<> {
        let h1 = hash64(key, 0);
        let h2 = hash64(key, 1) | 1;
        let bits = self.bits as u64;
        (0..u64::from(self.hashes))
            .map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % bits) as usize)
    }
}
