//! An LRU cache: a fixed number of entries, and when a new one needs room, the entry used least
//! recently goes.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::collections::HashMap;
use std::hash::Hash;

/// One entry, and its neighbours in recency order (slots in `nodes`).
///
/// A suggested layout: change the private parts freely, only the public API is graded.
struct Node<K, V> {
    key: K,
    value: V,
    /// The next more recently used entry; `None` for the most recent.
    prev: Option<usize>,
    /// The next less recently used entry; `None` for the least recent.
    next: Option<usize>,
}

/// A map of at most `capacity` entries that evicts the least recently used one when full.
///
/// `get` and `put` count as uses; `peek` does not. `get` and `put` take O(1) time.
pub struct LruCache<K, V> {
    capacity: usize,
    /// Where each key's node lives in `nodes`.
    index: HashMap<K, usize>,
    /// The nodes, linked into a list by index: most recent at `head`, least recent at `tail`.
    nodes: Vec<Node<K, V>>,
    head: Option<usize>,
    tail: Option<usize>,
}

impl<K: Eq + Hash + Clone, V> LruCache<K, V> {
    /// An empty cache that holds at most `capacity` entries.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0: such a cache could hold nothing.
    pub fn new(capacity: usize) -> Self {
        todo!()
    }

    /// The most entries the cache holds.
    pub fn capacity(&self) -> usize {
        todo!()
    }

    /// How many entries the cache holds now.
    pub fn len(&self) -> usize {
        todo!()
    }

    /// Whether the cache holds no entries.
    pub fn is_empty(&self) -> bool {
        todo!()
    }

    /// The value for `key`, if present, which becomes the most recently used entry.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        todo!()
    }

    /// The value for `key`, if present, without changing its recency.
    pub fn peek(&self, key: &K) -> Option<&V> {
        todo!()
    }

    /// Inserts `key` with `value`, or replaces the value of an existing `key`; either way `key`
    /// becomes the most recently used entry.
    ///
    /// Returns the entry evicted to make room, if any: the least recently used one, and only
    /// when the cache was full. Replacing an existing key evicts nothing.
    pub fn put(&mut self, key: K, value: V) -> Option<(K, V)> {
        todo!()
    }
}
