//! An LRU cache: a fixed number of entries, and when a new one needs room, the entry used least
//! recently goes.
//!
//! The reference solution: a `HashMap` from key to slot, and a doubly linked list threaded
//! through a `Vec` of nodes (a slab) by index. The map finds an entry in O(1); the list keeps
//! entries in recency order and moves or removes any of them in O(1).

use std::collections::HashMap;
use std::hash::Hash;

/// One entry, and its neighbours in recency order (slots in `nodes`).
struct Node<K, V> {
    key: K,
    value: V,
    /// The next more recently used entry; `None` for the head.
    prev: Option<usize>,
    /// The next less recently used entry; `None` for the tail.
    next: Option<usize>,
}

/// A map of at most `capacity` entries that evicts the least recently used one when full.
///
/// `get` and `put` count as uses; `peek` does not.
pub struct LruCache<K, V> {
    capacity: usize,
    /// Where each key's node lives in `nodes`.
    index: HashMap<K, usize>,
    /// The slab. It only grows, up to `capacity`; after that an eviction frees exactly the slot
    /// the new entry needs, so no free list is required.
    nodes: Vec<Node<K, V>>,
    /// The most recently used entry.
    head: Option<usize>,
    /// The least recently used entry: the next to be evicted.
    tail: Option<usize>,
}

impl<K: Eq + Hash + Clone, V> LruCache<K, V> {
    /// An empty cache that holds at most `capacity` entries.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0: such a cache could hold nothing.
    pub fn new(capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "an LRU cache needs room for at least one entry"
        );
        // No room reserved up front: the capacity is only a limit, and may be far more than
        // memory holds (usize::MAX included). The map and the vector grow as entries arrive.
        Self {
            capacity,
            index: HashMap::new(),
            nodes: Vec::new(),
            head: None,
            tail: None,
        }
    }

    /// The most entries the cache holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many entries the cache holds now.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the cache holds no entries.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The value for `key`, if present, which becomes the most recently used entry.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        let slot = *self.index.get(key)?;
        self.move_to_front(slot);
        Some(&self.nodes[slot].value)
    }

    /// The value for `key`, if present, without changing its recency.
    pub fn peek(&self, key: &K) -> Option<&V> {
        self.index.get(key).map(|&slot| &self.nodes[slot].value)
    }

    /// Inserts `key` with `value`, or replaces the value of an existing `key`; either way `key`
    /// becomes the most recently used entry.
    ///
    /// Returns the entry evicted to make room, if any. Replacing an existing key evicts nothing.
    pub fn put(&mut self, key: K, value: V) -> Option<(K, V)> {
        // Replacing must come first: a full cache has room for a key it already holds.
        if let Some(&slot) = self.index.get(&key) {
            self.nodes[slot].value = value;
            self.move_to_front(slot);
            return None;
        }

        let node = Node {
            key: key.clone(),
            value,
            prev: None,
            next: None,
        };

        if self.nodes.len() < self.capacity {
            let slot = self.nodes.len();
            self.nodes.push(node);
            self.index.insert(key, slot);
            self.push_front(slot);
            return None;
        }

        // Full: the least recently used entry leaves, and the new one takes over its slot.
        let slot = self
            .tail
            .expect("a full cache has a least recently used entry");
        self.unlink(slot);
        let evicted = std::mem::replace(&mut self.nodes[slot], node);
        self.index.remove(&evicted.key);
        self.index.insert(key, slot);
        self.push_front(slot);
        Some((evicted.key, evicted.value))
    }

    /// Takes the node in `slot` out of the list, joining its neighbours to each other.
    fn unlink(&mut self, slot: usize) {
        let (prev, next) = (self.nodes[slot].prev, self.nodes[slot].next);
        match prev {
            Some(prev) => self.nodes[prev].next = next,
            None => self.head = next,
        }
        match next {
            Some(next) => self.nodes[next].prev = prev,
            None => self.tail = prev,
        }
        self.nodes[slot].prev = None;
        self.nodes[slot].next = None;
    }

    /// Puts the (unlinked) node in `slot` at the head: the most recently used.
    fn push_front(&mut self, slot: usize) {
        self.nodes[slot].prev = None;
        self.nodes[slot].next = self.head;
        match self.head {
            Some(old_head) => self.nodes[old_head].prev = Some(slot),
            None => self.tail = Some(slot),
        }
        self.head = Some(slot);
    }

    fn move_to_front(&mut self, slot: usize) {
        if self.head != Some(slot) {
            self.unlink(slot);
            self.push_front(slot);
        }
    }
}
