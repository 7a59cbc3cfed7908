//! A merging iterator: the memtable and every table of an LSM tree, read as one sorted sequence.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One version of a key: a put of `value`, or a tombstone when `value` is `None`, written at
/// sequence number `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: Vec<u8>,
    pub seq: u64,
    pub value: Option<Vec<u8>>,
}

/// Every entry of every run, in table order: by key (bytewise), then by seq from the newest
/// down, and an entry of an earlier run before one of a later run with the same key and seq.
///
/// Each run must already be in table order. Runs are given newest first, as an LSM tree holds
/// them: the memtable, then the tables.
///
/// A suggested layout: change the private parts freely, only the public API is graded.
pub struct MergeIter {
    runs: Vec<Vec<Entry>>,
    /// Where each run's next entry not yet in the heap is.
    next_in: Vec<usize>,
    /// The first entry of each run not yet yielded, the smallest in table order on top.
    heap: BinaryHeap<Head>,
}

impl MergeIter {
    /// An iterator at the start of every run.
    pub fn new(runs: Vec<Vec<Entry>>) -> MergeIter {
        todo!()
    }

    /// Repositions every run at its first entry with a key at or above `key`, whatever was read
    /// before: seeking back reads entries again.
    pub fn seek(&mut self, key: &[u8]) {
        todo!()
    }
}

impl Iterator for MergeIter {
    type Item = Entry;

    /// The next entry in table order: O(log k) for k runs.
    fn next(&mut self) -> Option<Entry> {
        todo!()
    }
}

/// A run's first entry not yet yielded, and which run it came from.
///
/// `BinaryHeap` is a max-heap: it pops its greatest. Write `Ord` so that the greatest `Head` is
/// the first in table order.
struct Head {
    entry: Entry,
    run: usize,
}

impl Ord for Head {
    fn cmp(&self, other: &Head) -> Ordering {
        todo!()
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Head) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

/// What a reader at `snapshot` sees of the keys in `from..to` (to the end when `to` is `None`):
/// per key, the newest version with a seq at or below `snapshot`, left out when it is a
/// tombstone. At most `limit` pairs, in key order.
pub fn scan(
    runs: Vec<Vec<Entry>>,
    from: &[u8],
    to: Option<&[u8]>,
    snapshot: u64,
    limit: usize,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    todo!()
}

/// The value of `key` a reader at `snapshot` sees: its newest version with a seq at or below
/// `snapshot`, or `None` when that is a tombstone or there is none.
pub fn get(runs: Vec<Vec<Entry>>, key: &[u8], snapshot: u64) -> Option<Vec<u8>> {
    todo!()
}
