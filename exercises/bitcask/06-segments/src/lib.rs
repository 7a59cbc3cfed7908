//! Segments: the log cut into files of bounded size, of which only the newest is ever written.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::collections::{BTreeMap, HashMap};
use std::io::{self, ErrorKind};
use std::sync::Arc;

use bitcask_log::{Log, Position};
use bitcask_record::Record;
use kit::disk::Dir;

/// How a store is set up.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// A segment is closed, and the next one started, before an append would take it past this
    /// size. A single record larger than this still gets written, alone in its segment.
    pub max_segment_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_segment_bytes: 1 << 20,
        }
    }
}

/// The file name of segment `id`, zero-padded to six digits. Names sort in id order only up
/// to id 999,999: order segments by the id they stand for, never by name.
pub fn segment_name(id: u64) -> String {
    format!("{id:06}.log")
}

/// The segment id a file name stands for, if it is a segment's name.
fn segment_id(name: &str) -> Option<u64> {
    let id = name.strip_suffix(".log")?.parse().ok()?;
    // Only the one spelling: "1.log" or "+00001.log" is some other file.
    (segment_name(id) == name).then_some(id)
}

/// A key-value store over a directory of segments.
#[derive(Debug)]
pub struct Store {
    dir: Arc<dyn Dir>,
    options: Options,
    /// Every segment by id. The highest id is the active one; there is always one.
    segments: BTreeMap<u64, Log>,
    /// Every live key, and the segment and position of its latest record.
    keydir: HashMap<Vec<u8>, (u64, Position)>,
}

/// Creates the log `name`, first removing what an earlier attempt left under that name: a create
/// whose directory sync failed leaves the file behind, and without this every later attempt
/// would fail on it, so one failed sync would stop rotation (or merging) for good.
fn create_afresh(dir: &dyn Dir, name: &str) -> io::Result<Log> {
    match Log::create(dir, name) {
        Err(error) if error.kind() == ErrorKind::AlreadyExists => {
            dir.remove(name)?;
            Log::create(dir, name)
        }
        result => result,
    }
}

impl Store {
    /// Opens the store in `dir` with default [`Options`].
    pub fn open(dir: Arc<dyn Dir>) -> io::Result<Store> {
        Store::open_with(dir, Options::default())
    }

    /// Opens the store in `dir`, creating its first segment if there is none, and recovers:
    /// replays every segment in id order to rebuild the key directory, and cuts a torn tail
    /// off the last one.
    pub fn open_with(dir: Arc<dyn Dir>, options: Options) -> io::Result<Store> {
        todo!()
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let at = self.append(&Record::put(key, value))?;
        self.keydir.insert(key.to_vec(), at);
        Ok(())
    }

    /// The latest value of `key`: one disk read if present, none if absent.
    pub fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        todo!()
    }

    /// Deletes `key`. Deleting a key that is not there is not an error.
    pub fn delete(&mut self, key: &[u8]) -> io::Result<()> {
        if !self.keydir.contains_key(key) {
            return Ok(());
        }
        self.append(&Record::tombstone(key))?;
        self.keydir.remove(key);
        Ok(())
    }

    /// Makes every put and delete so far durable.
    pub fn sync(&self) -> io::Result<()> {
        // Older segments were synced when they were closed.
        self.active().sync()
    }

    /// The ids of the segments, oldest first; the last is the active one.
    pub fn segment_ids(&self) -> Vec<u64> {
        self.segments.keys().copied().collect()
    }

    fn active_id(&self) -> u64 {
        *self
            .segments
            .keys()
            .next_back()
            .expect("there is always a segment")
    }

    fn active(&self) -> &Log {
        self.segments
            .values()
            .next_back()
            .expect("there is always a segment")
    }

    /// Appends `record` to the active segment, and says which segment and where.
    ///
    /// If the record would take a non-empty active segment past `max_segment_bytes`, that
    /// segment is closed first: synced (it is never written or synced again, and a later
    /// [`Store::sync`] syncs only the active segment), and the next segment created, its name
    /// made durable before any record in it can be acknowledged. If closing fails, the store
    /// keeps working: the next append tries again ([`create_afresh`] clears what a failed
    /// attempt left).
    fn append(&mut self, record: &Record) -> io::Result<(u64, Position)> {
        todo!()
    }
}
