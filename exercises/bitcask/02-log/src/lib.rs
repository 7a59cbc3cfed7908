//! The log: one append-only file of records, where every append says where its record landed.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::io::{self, ErrorKind};

use bitcask_record::{DecodeError, decode};
use kit::disk::{Dir, File};

/// The record type a log holds, re-exported so that code using the log can name it without
/// depending on the record crate.
pub use bitcask_record::Record;

/// Where a record lives in its log: its first byte, and how many bytes it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub offset: u64,
    pub len: u32,
}

/// What a scan of a log found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Every whole, intact record, in the order they were appended.
    pub records: Vec<(Position, Record)>,
    /// Where the last good record ends. Anything after it is a torn or damaged tail.
    pub valid_len: u64,
}

/// An append-only file of records.
#[derive(Debug)]
pub struct Log {
    file: Box<dyn File>,
    /// The file's length: where the next record goes.
    len: u64,
    /// An append failed and left part of its record after `len` (a real disk can write some
    /// of the bytes before it fails), and cutting it off failed too: the next append cuts it.
    torn: bool,
}

impl Log {
    /// Creates a new, empty log called `name`, and syncs the directory so that the name itself
    /// survives a crash (a synced record in a file whose name was lost is lost too).
    pub fn create(dir: &dyn Dir, name: &str) -> io::Result<Log> {
        todo!()
    }

    /// Opens the existing log called `name`. Reads nothing: see [`Log::scan`].
    pub fn open(dir: &dyn Dir, name: &str) -> io::Result<Log> {
        todo!()
    }

    /// Appends `record` in one write (one `File::append`), and says where it went. The record
    /// is not durable until [`Log::sync`] returns.
    ///
    /// A failed write may have left part of the record on the disk: the log's length stays as
    /// it was, and the file is cut back to it at once (or, if that fails too, before the next
    /// append).
    pub fn append(&mut self, record: &Record) -> io::Result<Position> {
        todo!()
    }

    /// Reads the record at `at`, in exactly one read of exactly `at.len` bytes.
    ///
    /// Fails with `UnexpectedEof` if the position runs past the end of the file, and with
    /// `InvalidData` if the bytes there are not one whole, intact record.
    pub fn read(&self, at: Position) -> io::Result<Record> {
        todo!()
    }

    /// Reads the whole file in one read and decodes its records in order, stopping at the first
    /// one that is incomplete or corrupt: after a crash, that is where the good part ends.
    pub fn scan(&self) -> io::Result<Scan> {
        todo!()
    }

    /// Cuts the log to `len` bytes (to drop a torn tail). Durable once [`Log::sync`] returns.
    pub fn truncate(&mut self, len: u64) -> io::Result<()> {
        todo!()
    }

    /// Makes every record appended so far durable.
    pub fn sync(&self) -> io::Result<()> {
        todo!()
    }

    /// The log's length in bytes, unsynced appends included.
    pub fn len(&self) -> u64 {
        todo!()
    }

    /// True when the log holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
