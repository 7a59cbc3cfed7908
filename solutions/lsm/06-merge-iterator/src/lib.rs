//! A merging iterator: the memtable and every table of an LSM tree, read as one sorted sequence.

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
        let mut merge = MergeIter {
            next_in: vec![0; runs.len()],
            heap: BinaryHeap::with_capacity(runs.len()),
            runs,
        };
        merge.seek(b"");
        merge
    }

    /// Repositions every run at its first entry with a key at or above `key`, whatever was read
    /// before: seeking back reads entries again.
    pub fn seek(&mut self, key: &[u8]) {
        self.heap.clear();
        for run in 0..self.runs.len() {
            self.next_in[run] = self.runs[run].partition_point(|e| e.key.as_slice() < key);
            self.refill(run);
        }
    }

    /// Moves run `run`'s next entry, if it has one, into the heap.
    fn refill(&mut self, run: usize) {
        if let Some(entry) = self.runs[run].get(self.next_in[run]) {
            self.next_in[run] += 1;
            self.heap.push(Head {
                entry: entry.clone(),
                run,
            });
        }
    }
}

impl Iterator for MergeIter {
    type Item = Entry;

    /// The next entry in table order: O(log k) for k runs.
    fn next(&mut self) -> Option<Entry> {
        let Head { entry, run } = self.heap.pop()?;
        self.refill(run);
        Some(entry)
    }
}

/// A run's first entry not yet yielded, ordered so that `BinaryHeap`, a max-heap, puts the
/// first in table order on top.
struct Head {
    entry: Entry,
    run: usize,
}

impl Ord for Head {
    fn cmp(&self, other: &Head) -> Ordering {
        // Table order is key up, seq down, run up; the heap pops its greatest, so each part is
        // compared the other way round.
        other
            .entry
            .key
            .cmp(&self.entry.key)
            .then(self.entry.seq.cmp(&other.entry.seq))
            .then(other.run.cmp(&self.run))
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
    let mut merge = MergeIter::new(runs);
    merge.seek(from);
    let mut found = Vec::new();
    // The key whose visible version was already met: every later entry of it is older.
    let mut decided: Option<Vec<u8>> = None;
    while found.len() < limit {
        let Some(entry) = merge.next() else { break };
        if to.is_some_and(|to| entry.key.as_slice() >= to) {
            break;
        }
        if entry.seq > snapshot || decided.as_ref() == Some(&entry.key) {
            continue;
        }
        decided = Some(entry.key.clone());
        if let Some(value) = entry.value {
            found.push((entry.key, value));
        }
    }
    found
}

/// The value of `key` a reader at `snapshot` sees: its newest version with a seq at or below
/// `snapshot`, or `None` when that is a tombstone or there is none.
pub fn get(runs: Vec<Vec<Entry>>, key: &[u8], snapshot: u64) -> Option<Vec<u8>> {
    let mut merge = MergeIter::new(runs);
    merge.seek(key);
    merge
        .take_while(|entry| entry.key == key)
        .find(|entry| entry.seq <= snapshot)
        .and_then(|entry| entry.value)
}
