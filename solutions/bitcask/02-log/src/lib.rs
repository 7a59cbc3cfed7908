//! The log: one append-only file of records. Every write goes at the end, and each append says
//! where its record landed, so it can be read back with a single read.
//!
//! The reference solution.

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
        let file = dir.create(name)?;
        dir.sync()?;
        Ok(Log {
            file,
            len: 0,
            torn: false,
        })
    }

    /// Opens the existing log called `name`. Reads nothing: see [`Log::scan`].
    pub fn open(dir: &dyn Dir, name: &str) -> io::Result<Log> {
        let file = dir.open(name)?;
        let len = file.len()?;
        Ok(Log {
            file,
            len,
            torn: false,
        })
    }

    /// Appends `record` in one write, and says where it went. The record is not durable until
    /// [`Log::sync`] returns.
    ///
    /// A failed write may have left part of the record on the disk: the log's length stays as
    /// it was, and the file is cut back to it at once (or, if that fails too, before the next
    /// append).
    pub fn append(&mut self, record: &Record) -> io::Result<Position> {
        let bytes = record.encode();
        let len = u32::try_from(bytes.len())
            .map_err(|_| io::Error::new(ErrorKind::InvalidInput, "a record must fit in 4 GiB"))?;
        // Bytes a failed append left behind would sit before this record (or end a segment
        // that is closed next), and a scan stops at them: everything after would be lost to
        // recovery. They are cut at once, or, if that fails too, before the next append.
        if self.torn {
            self.file.truncate(self.len)?;
            self.torn = false;
        }
        let offset = self
            .file
            .append(&bytes)
            .inspect_err(|_| self.torn = self.file.truncate(self.len).is_err())?;
        self.len = offset + u64::from(len);
        Ok(Position { offset, len })
    }

    /// Reads the record at `at`, in exactly one read of exactly `at.len` bytes.
    ///
    /// Fails with `UnexpectedEof` if the position runs past the end of the file, and with
    /// `InvalidData` if the bytes there are not one whole, intact record.
    pub fn read(&self, at: Position) -> io::Result<Record> {
        let mut buf = vec![0; at.len as usize];
        let n = self.file.read_at(at.offset, &mut buf)?;
        if n < buf.len() {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                format!("no record of {} bytes at offset {}", at.len, at.offset),
            ));
        }
        match decode(&buf) {
            Ok((record, used)) if used == buf.len() => Ok(record),
            Ok(_) => Err(io::Error::new(
                ErrorKind::InvalidData,
                format!(
                    "the record at offset {} is not {} bytes long",
                    at.offset, at.len
                ),
            )),
            Err(error) => Err(io::Error::new(
                ErrorKind::InvalidData,
                format!("the record at offset {}: {error}", at.offset),
            )),
        }
    }

    /// Reads the whole file in one read and decodes its records in order, stopping at the first
    /// one that is incomplete or corrupt: after a crash, that is where the good part ends.
    pub fn scan(&self) -> io::Result<Scan> {
        let mut buf = vec![0; self.len as usize];
        let n = self.file.read_at(0, &mut buf)?;
        buf.truncate(n);

        let mut records = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            match decode(&buf[at..]) {
                Ok((record, used)) => {
                    let position = Position {
                        offset: at as u64,
                        len: used as u32,
                    };
                    records.push((position, record));
                    at += used;
                }
                Err(DecodeError::Incomplete | DecodeError::Corrupt) => break,
            }
        }
        Ok(Scan {
            records,
            valid_len: at as u64,
        })
    }

    /// Cuts the log to `len` bytes (to drop a torn tail). Durable once [`Log::sync`] returns.
    pub fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.truncate(len)?;
        self.len = len;
        self.torn = false;
        Ok(())
    }

    /// Makes every record appended so far durable.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync()
    }

    /// The log's length in bytes, unsynced appends included.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the log holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
