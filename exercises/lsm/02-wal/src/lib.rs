//! The write-ahead log: every write batch goes here, synced, before it is acknowledged, and the
//! memtable is rebuilt from it after a crash.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::io::{self, ErrorKind};

use kit::disk::{Dir, File};

/// One change to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put { key: Vec<u8>, value: Vec<u8> },
    Delete { key: Vec<u8> },
}

/// Ops applied together, numbered from `seq`: the first has sequence number `seq`, the next
/// `seq + 1`, and so on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub seq: u64,
    pub ops: Vec<Op>,
}

/// An append-only log of commits, each one record.
#[derive(Debug)]
pub struct Wal {
    file: Box<dyn File>,
    /// Where the next record goes: the end of the last whole record.
    len: u64,
    /// A failed commit left bytes after `len`, and cutting them off failed too: the next commit
    /// cuts them first, so that it never follows garbage.
    torn: bool,
    recovered: Vec<Batch>,
}

impl Wal {
    /// Creates a new, empty log called `name`, and syncs the directory so that the name survives
    /// a crash.
    pub fn create(dir: &dyn Dir, name: &str) -> io::Result<Wal> {
        todo!()
    }

    /// Opens the log called `name` and replays it: every batch of every whole record, in order
    /// (see [`Wal::recovered`]). A torn tail is cut off, and the cut synced, before this
    /// returns (if either fails, so does this); a damaged record with a whole record after it
    /// is `InvalidData`.
    pub fn open(dir: &dyn Dir, name: &str) -> io::Result<Wal> {
        todo!()
    }

    /// The batches [`Wal::open`] replayed, in the order they were committed (none for a log
    /// just created).
    pub fn recovered(&self) -> &[Batch] {
        todo!()
    }

    /// Writes `batches` as one record in one write, then syncs once: `Ok` means every one of
    /// them is durable. On failure none of them is acknowledged, and the log is cut back to
    /// where it was, so it never replays them and the next commit follows the last good record.
    pub fn commit(&mut self, batches: &[Batch]) -> io::Result<()> {
        todo!()
    }

    /// The log's length in bytes: where the next record goes.
    pub fn len(&self) -> u64 {
        todo!()
    }

    /// True when the log holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
