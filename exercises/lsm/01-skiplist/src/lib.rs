//! A skip list: the ordered map an LSM tree keeps its newest writes in (its memtable).
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

/// The tallest a tower may grow.
pub const MAX_HEIGHT: usize = 12;

/// The head's place in the arena: node 0, a tower of [`MAX_HEIGHT`] links in front of every key.
/// Its key and value are never read.
const HEAD: usize = 0;

/// One key and its tower: `next[level]` is the following node at that level, and the tower's
/// height is `next.len()`.
///
/// A suggested layout: change the private parts freely, only the public API is graded.
struct Node {
    key: Vec<u8>,
    value: Vec<u8>,
    next: Vec<Option<usize>>,
}

/// An ordered map from byte keys to byte values, kept as a skip list: the memtable of an LSM tree.
///
/// Nothing is ever removed from a memtable (a delete is written as a value, a tombstone, in a
/// later scene), so there is no `remove`.
pub struct SkipList {
    /// The arena: the head, then every key's node in the order it was inserted.
    nodes: Vec<Node>,
    /// The tallest tower of any key; 0 when there is none.
    height: usize,
    /// Bytes of every key and value held.
    bytes: usize,
    towers: Towers,
}

impl SkipList {
    /// An empty list whose towers are drawn from a generator seeded with `seed`, so that the same
    /// inserts build the same list.
    pub fn new(seed: u64) -> SkipList {
        todo!()
    }

    /// Inserts `key` with `value`, or replaces the value of a key already there. Returns the value
    /// replaced, or `None` for a new key.
    ///
    /// A new key draws its tower's height from `Towers::draw`, once.
    pub fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) -> Option<Vec<u8>> {
        todo!()
    }

    /// The value of `key`, if the list holds it.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        todo!()
    }

    /// How many keys the list holds.
    pub fn len(&self) -> usize {
        todo!()
    }

    /// Whether the list holds no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of keys and values held: what decides when a memtable is flushed. A replace swaps
    /// the old value's bytes for the new one's.
    pub fn size_bytes(&self) -> usize {
        todo!()
    }

    /// The tallest tower in the list: 0 when empty, never above [`MAX_HEIGHT`].
    pub fn height(&self) -> usize {
        todo!()
    }

    /// Up to `limit` entries with `from <= key` (and `key < to` when `to` is given), in key order.
    ///
    /// A `to` at or below `from` gives nothing, and so does a `limit` of 0.
    pub fn range(&self, from: &[u8], to: Option<&[u8]>, limit: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        todo!()
    }

    /// For each level, the last node whose key is below `key`: where a search for `key` turns
    /// down. Levels at and above `height` hold the head, whose links there lead nowhere yet.
    ///
    /// A suggested helper: `insert` links a new tower in right after these, and `get` and
    /// `range` start from what follows the one on level 0.
    fn predecessors(&self, key: &[u8]) -> [usize; MAX_HEIGHT] {
        todo!()
    }

    /// The first node whose key is `key` or above, if any.
    fn seek(&self, key: &[u8]) -> Option<usize> {
        todo!()
    }
}

/// The coin that decides how tall each new tower grows: a xorshift generator, small and fast, and
/// the same every time for the same seed.
///
/// Given whole: call `draw` once for each key the list did not hold before, and use the height
/// it gives. The checks draw the same towers to know how tall your list must be.
struct Towers {
    state: u64,
}

impl Towers {
    fn new(seed: u64) -> Towers {
        // Scrambled, so that nearby seeds draw unrelated towers; xorshift stuck at 0 would stay
        // there, so 0 is out.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Towers {
            state: (z ^ (z >> 31)).max(1),
        }
    }

    /// The height of a new key's tower: 1, then one level more with probability 1/4 each time,
    /// up to [`MAX_HEIGHT`] (as LevelDB does).
    fn draw(&mut self) -> usize {
        let mut height = 1;
        while height < MAX_HEIGHT && self.step().is_multiple_of(4) {
            height += 1;
        }
        height
    }

    fn step(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }
}
