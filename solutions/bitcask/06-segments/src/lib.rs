//! Segments: the log cut into files of bounded size. Only the newest, the active segment, is
//! ever written; the older ones are immutable, which is what will make them safe to merge.
//!
//! The reference solution.

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
        let mut ids: Vec<u64> = dir.list()?.iter().filter_map(|n| segment_id(n)).collect();
        // By id, not by name: "1000000.log" lists before "999999.log".
        ids.sort_unstable();
        let mut segments = BTreeMap::new();
        let mut keydir = HashMap::new();
        let last = ids.last().copied();
        for id in ids {
            let mut log = Log::open(dir.as_ref(), &segment_name(id))?;
            let scan = log.scan()?;
            for (position, record) in scan.records {
                match record.value {
                    Some(_) => keydir.insert(record.key, (id, position)),
                    None => keydir.remove(&record.key),
                };
            }
            if scan.valid_len < log.len() {
                if Some(id) != last {
                    // Every older segment was synced before the next one was created: a bad
                    // record there is damage, not a crash, and skipping it would serve stale
                    // values.
                    return Err(io::Error::new(
                        ErrorKind::InvalidData,
                        format!(
                            "segment {} is damaged at offset {}",
                            segment_name(id),
                            scan.valid_len
                        ),
                    ));
                }
                log.truncate(scan.valid_len)?;
                log.sync()?;
            }
            segments.insert(id, log);
        }
        if segments.is_empty() {
            segments.insert(1, Log::create(dir.as_ref(), &segment_name(1))?);
        } else {
            // A segment's name may not be durable yet: the directory sync after an earlier run
            // created it may have failed. Syncing again costs little.
            dir.sync()?;
            // Nor the one before the newest: a rotation that failed after creating the newest
            // leaves it behind, empty, while writes go on in the one before, and from now on a
            // sync covers only the newest.
            if let Some(previous) = segments.values().rev().nth(1) {
                previous.sync()?;
            }
        }
        Ok(Store {
            dir,
            options,
            segments,
            keydir,
        })
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let at = self.append(&Record::put(key, value))?;
        self.keydir.insert(key.to_vec(), at);
        Ok(())
    }

    /// The latest value of `key`: one disk read if present, none if absent.
    pub fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let Some(&(id, position)) = self.keydir.get(key) else {
            return Ok(None);
        };
        let log = self.segments.get(&id).ok_or_else(|| {
            io::Error::other(format!("the key directory points at missing segment {id}"))
        })?;
        let record = log.read(position)?;
        if record.key != key {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!("the record at {id}:{} is for another key", position.offset),
            ));
        }
        Ok(record.value)
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

    /// Appends `record` to the active segment, first starting a new one if the record would take
    /// a non-empty active segment past the size limit.
    fn append(&mut self, record: &Record) -> io::Result<(u64, Position)> {
        let active = self.active();
        if !active.is_empty()
            && active.len() + record.encoded_len() as u64 > self.options.max_segment_bytes
        {
            self.rotate()?;
        }
        let id = self.active_id();
        let log = self
            .segments
            .get_mut(&id)
            .expect("the active segment exists");
        Ok((id, log.append(record)?))
    }

    /// Closes the active segment and starts the next one.
    fn rotate(&mut self) -> io::Result<()> {
        // The closed segment is never written or synced again, so it is synced now: a sync of
        // the store later only syncs the new active segment. Creating the new segment syncs the
        // directory, so its name outlives a crash before any record in it is acknowledged.
        self.active().sync()?;
        let id = self.active_id() + 1;
        let log = create_afresh(self.dir.as_ref(), &segment_name(id))?;
        self.segments.insert(id, log);
        Ok(())
    }
}
