//! A skip list: the ordered map an LSM tree keeps its newest writes in (its memtable).
//!
//! The reference solution: the nodes live in an arena (a `Vec`) and link to each other by index.
//! Node 0 is the head, a full-height tower in front of every key. A search starts at the top of
//! the head and goes right while the next key is smaller, down when it is not; each level skips
//! about four times as far as the one below it, so a search makes O(log n) steps.

/// The tallest a tower may grow.
pub const MAX_HEIGHT: usize = 12;

/// The head's place in the arena.
const HEAD: usize = 0;

/// One key and its tower: `next[level]` is the following node at that level, and the tower's
/// height is `next.len()`.
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
        let head = Node {
            key: Vec::new(),
            value: Vec::new(),
            next: vec![None; MAX_HEIGHT],
        };
        SkipList {
            nodes: vec![head],
            height: 0,
            bytes: 0,
            towers: Towers::new(seed),
        }
    }

    /// Inserts `key` with `value`, or replaces the value of a key already there. Returns the value
    /// replaced, or `None` for a new key.
    ///
    /// A new key draws its tower's height from `Towers::draw`, once.
    pub fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) -> Option<Vec<u8>> {
        let before = self.predecessors(&key);
        if let Some(found) = self.nodes[before[0]].next[0]
            && self.nodes[found].key == key
        {
            // The key's bytes stay; the old value's leave with it.
            self.bytes = self.bytes - self.nodes[found].value.len() + value.len();
            return Some(std::mem::replace(&mut self.nodes[found].value, value));
        }
        let height = self.towers.draw();
        let new = self.nodes.len();
        // On each level of its tower, the new node goes in between the last node below its key
        // and the one that followed it.
        let next = (0..height)
            .map(|level| self.nodes[before[level]].next[level])
            .collect();
        for (level, &node) in before.iter().enumerate().take(height) {
            self.nodes[node].next[level] = Some(new);
        }
        self.bytes += key.len() + value.len();
        self.nodes.push(Node { key, value, next });
        self.height = self.height.max(height);
        None
    }

    /// The value of `key`, if the list holds it.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        let node = &self.nodes[self.seek(key)?];
        (node.key == key).then_some(node.value.as_slice())
    }

    /// How many keys the list holds.
    pub fn len(&self) -> usize {
        self.nodes.len() - 1
    }

    /// Whether the list holds no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of keys and values held: what decides when a memtable is flushed. A replace swaps
    /// the old value's bytes for the new one's.
    pub fn size_bytes(&self) -> usize {
        self.bytes
    }

    /// The tallest tower in the list: 0 when empty, never above [`MAX_HEIGHT`].
    pub fn height(&self) -> usize {
        self.height
    }

    /// Up to `limit` entries with `from <= key` (and `key < to` when `to` is given), in key order.
    ///
    /// A `to` at or below `from` gives nothing, and so does a `limit` of 0.
    pub fn range(&self, from: &[u8], to: Option<&[u8]>, limit: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        // Nothing reserved up front: `limit` is a cap, and may be usize::MAX.
        let mut entries = Vec::new();
        let mut at = self.seek(from);
        while let Some(index) = at
            && entries.len() < limit
        {
            let node = &self.nodes[index];
            if to.is_some_and(|to| node.key.as_slice() >= to) {
                break;
            }
            entries.push((node.key.clone(), node.value.clone()));
            at = node.next[0];
        }
        entries
    }

    /// For each level, the last node whose key is below `key`: where a search for `key` turns
    /// down. Levels at and above `height` hold the head, whose links there lead nowhere yet.
    fn predecessors(&self, key: &[u8]) -> [usize; MAX_HEIGHT] {
        let mut before = [HEAD; MAX_HEIGHT];
        let mut at = HEAD;
        for level in (0..self.height).rev() {
            while let Some(next) = self.nodes[at].next[level]
                && self.nodes[next].key.as_slice() < key
            {
                at = next;
            }
            before[level] = at;
        }
        before
    }

    /// The first node whose key is `key` or above, if any.
    fn seek(&self, key: &[u8]) -> Option<usize> {
        self.nodes[self.predecessors(key)[0]].next[0]
    }
}

/// The coin that decides how tall each new tower grows: a xorshift generator, small and fast, and
/// the same every time for the same seed.
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
