//! Durability: when is a write safe? A sync policy decides how often the store pays for a
//! sync, and group commit lets many writers share one, so that "every write is durable when it
//! returns" does not cost one sync per writer.
//!
//! The reference solution.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, ErrorKind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use bitcask_log::{Log, Position};
use bitcask_record::Record;
use kit::disk::{Dir, File};

/// When the store syncs on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// A put or delete returns only once its record is durable. Writers that overlap share
    /// syncs (group commit).
    Always,
    /// Every n-th write waits for a sync that covers it and every write before it; the writes
    /// in between may be lost in a crash. `EveryWrites(0)` is taken as `EveryWrites(1)`.
    EveryWrites(u32),
    /// Only an explicit [`Store::sync`] syncs (and closing a full segment, and a merge).
    Never,
}

/// How a store is set up.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// A segment is closed, and the next one started, before an append would take it past this
    /// size. A single record larger than this still gets written, alone in its segment.
    pub max_segment_bytes: u64,
    /// When writes are made durable.
    pub sync: SyncPolicy,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_segment_bytes: 1 << 20,
            sync: SyncPolicy::Never,
        }
    }
}

/// The file name of segment `id`, zero-padded to six digits. Names sort in id order only up
/// to id 999,999: order segments by the id they stand for, never by name.
pub fn segment_name(id: u64) -> String {
    format!("{id:06}.log")
}

/// The name a merge writes segment `id` under before it is complete.
fn merge_name(id: u64) -> String {
    format!("{id:06}.merge")
}

/// The name of segment `id`'s hint file.
pub fn hint_name(id: u64) -> String {
    format!("{id:06}.hint")
}

/// The name a hint file is written under before it is complete.
fn hint_temp_name(id: u64) -> String {
    format!("{id:06}.hint.tmp")
}

/// The segment id a hint file's name stands for.
fn hint_id(name: &str) -> Option<u64> {
    let id = name.strip_suffix(".hint")?.parse().ok()?;
    (hint_name(id) == name).then_some(id)
}

/// Removes every `.merge` and `.hint.tmp` file among `names`: each was being written when a
/// crash came, before its rename, and what it was made from is still in place.
fn remove_unfinished_files(dir: &dyn Dir, names: &[String]) -> io::Result<()> {
    for name in names
        .iter()
        .filter(|n| n.ends_with(".merge") || n.ends_with(".hint.tmp"))
    {
        // No need to sync the directory: if the removal is lost, the next open removes it.
        dir.remove(name)?;
    }
    Ok(())
}

/// The segment id a file name stands for, if it is a segment's name.
fn segment_id(name: &str) -> Option<u64> {
    let id = name.strip_suffix(".log")?.parse().ok()?;
    // Only the one spelling: "1.log" or "+00001.log" is some other file.
    (segment_name(id) == name).then_some(id)
}

/// A key-value store over a directory of segments that many threads can use at once: every
/// method takes `&self`.
#[derive(Debug)]
pub struct Store {
    inner: Mutex<Inner>,
    /// Signalled when a sync that ran outside the lock ends.
    synced: Condvar,
    policy: SyncPolicy,
}

// Sharing a store across threads is the point of this scene: this fails to compile if it breaks.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Store>();
};

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

    /// Opens the store in `dir` and recovers, as in the scenes before: segments, an unfinished
    /// merge, hint files.
    pub fn open_with(dir: Arc<dyn Dir>, options: Options) -> io::Result<Store> {
        Ok(Store {
            inner: Mutex::new(Inner::open(dir, options)?),
            synced: Condvar::new(),
            policy: options.sync,
        })
    }

    /// Sets `key` to `value`. Under [`SyncPolicy::Always`] it returns once the write is durable.
    pub fn put(&self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let mut inner = self.lock();
        inner.usable()?;
        let seq = inner.put(key, value)?;
        self.after_write(inner, seq)
    }

    /// Deletes `key`. Deleting a key that is not there is not an error. Under
    /// [`SyncPolicy::Always`] it returns once the key is durably gone.
    pub fn delete(&self, key: &[u8]) -> io::Result<()> {
        let mut inner = self.lock();
        inner.usable()?;
        match inner.delete(key)? {
            Some(seq) => self.after_write(inner, seq),
            None if self.policy == SyncPolicy::Always => {
                // Nothing to write, but the key may be absent because of another writer's
                // delete that is not durable yet: acknowledging this one now would promise
                // what a crash could still take back.
                let seq = inner.written;
                self.wait_durable(inner, seq)
            }
            None => Ok(()),
        }
    }

    /// The latest value of `key`: one disk read if present, none if absent. A reader sees a
    /// write whole or not at all: records are appended and indexed under the lock.
    pub fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        self.lock().get(key)
    }

    /// Makes every put and delete that returned before it durable. Joins a sync already running
    /// if that one covers them, or the next one if not.
    pub fn sync(&self) -> io::Result<()> {
        let inner = self.lock();
        inner.usable()?;
        let seq = inner.written;
        self.wait_durable(inner, seq)
    }

    /// Compacts every inactive segment, as in the merge scene. Writers and readers wait while
    /// it runs: merging alongside them is a refinement this store does without.
    pub fn merge(&self) -> io::Result<()> {
        let mut inner = self.lock();
        inner.usable()?;
        inner.merge()
    }

    /// The total size of every segment, in bytes.
    pub fn disk_bytes(&self) -> io::Result<u64> {
        self.lock().disk_bytes()
    }

    /// The ids of the segments, oldest first; the last is the active one.
    pub fn segment_ids(&self) -> Vec<u64> {
        self.lock().segment_ids()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic with the lock held is a bug, and was reported where it happened: the store
        // goes on serving rather than fail every later call too.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the sync policy asks of write number `seq`, just appended, before its put or
    /// delete may return: under `Always`, that it be durable; under `EveryWrites(n)`, that every
    /// n-th write be durable (and with it every write before it); under `Never`, nothing.
    fn after_write<'a>(&'a self, mut inner: MutexGuard<'a, Inner>, seq: u64) -> io::Result<()> {
        let must_sync = match self.policy {
            SyncPolicy::Always => true,
            SyncPolicy::EveryWrites(n) => {
                inner.writes_since_sync += 1;
                let due = inner.writes_since_sync >= n.max(1);
                if due {
                    inner.writes_since_sync = 0;
                }
                due
            }
            SyncPolicy::Never => false,
        };
        if must_sync {
            self.wait_durable(inner, seq)
        } else {
            Ok(())
        }
    }

    /// Returns once write number `seq` is durable: group commit.
    ///
    /// One writer at a time leads: it notes how far the writes go, lets go of the lock, syncs,
    /// and takes the lock back to record that everything up to that point is durable. Writers
    /// that come while it syncs append their records (the lock is free) and wait; when the sync
    /// ends, one of them leads the next sync, which covers all of them at once.
    ///
    /// If a sync fails, the writes it was to cover may be lost: every writer waiting on it gets
    /// an error, and the store refuses writes from then on.
    fn wait_durable<'a>(&'a self, mut inner: MutexGuard<'a, Inner>, seq: u64) -> io::Result<()> {
        loop {
            inner.usable()?;
            if inner.durable >= seq {
                return Ok(());
            }
            if inner.syncing {
                inner = self
                    .synced
                    .wait(inner)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            inner.syncing = true;
            let covers = inner.written;
            // The active segment's file, through a handle of its own, so that the sync needs no
            // lock. Should the segment be closed meanwhile, closing it syncs it too.
            let file = Arc::clone(&inner.active_file);
            drop(inner);
            let result = file.sync();
            inner = self.lock();
            inner.syncing = false;
            match &result {
                Ok(()) => inner.durable = inner.durable.max(covers),
                // The kernel may have dropped what it could not write: nothing since the last
                // good sync can be promised any more, now or after a retry.
                Err(_) => inner.failed = true,
            }
            self.synced.notify_all();
            result?;
        }
    }
}

/// The store's state: everything the lock guards.
#[derive(Debug)]
struct Inner {
    dir: Arc<dyn Dir>,
    options: Options,
    /// Every segment by id. The highest id is the active one; there is always one.
    segments: BTreeMap<u64, Log>,
    /// Every live key, and the segment and position of its latest record.
    keydir: HashMap<Vec<u8>, (u64, Position)>,
    /// A second handle on the active segment's file, for syncing it outside the lock.
    active_file: Arc<dyn File>,
    /// How many writes have been appended: the sequence number of the latest.
    written: u64,
    /// Every write up to this sequence number is durable.
    durable: u64,
    /// Whether a sync is running outside the lock.
    syncing: bool,
    /// Writes since the last sync that [`SyncPolicy::EveryWrites`] asked for.
    writes_since_sync: u32,
    /// Whether a sync has failed: the store then refuses writes until it is reopened.
    failed: bool,
}

impl Inner {
    /// Opens the store in `dir`, creating its first segment if there is none, and recovers:
    /// replays every segment in id order to rebuild the key directory, and cuts a torn tail
    /// off the last one.
    ///
    /// A leftover `.merge` file is a merge the power cut short before it was renamed into
    /// place: the segments it was built from are all still there, so it is simply removed.
    ///
    /// A segment with a valid hint file is indexed from the hint alone, without reading the
    /// segment; a missing, damaged or mismatched hint costs only time: the segment is scanned.
    fn open(dir: Arc<dyn Dir>, options: Options) -> io::Result<Inner> {
        let names = dir.list()?;
        remove_unfinished_files(dir.as_ref(), &names)?;
        let mut ids: Vec<u64> = names.iter().filter_map(|n| segment_id(n)).collect();
        // By id, not by name: "1000000.log" lists before "999999.log".
        ids.sort_unstable();
        let mut hinted = BTreeSet::new();
        for (name, id) in names.iter().filter_map(|n| Some((n, hint_id(n)?))) {
            if ids.contains(&id) {
                hinted.insert(id);
            } else {
                // The hint of a segment that a merge removed: a crash kept it around.
                dir.remove(name)?;
            }
        }

        let mut segments = BTreeMap::new();
        let mut keydir = HashMap::new();
        let last = ids.last().copied();
        for id in ids {
            let mut log = Log::open(dir.as_ref(), &segment_name(id))?;
            if hinted.contains(&id)
                && let Some(entries) = read_hint(dir.as_ref(), id, log.len())?
            {
                for entry in entries {
                    if entry.tombstone {
                        keydir.remove(&entry.key);
                    } else {
                        keydir.insert(entry.key, (id, entry.position));
                    }
                }
                segments.insert(id, log);
                continue;
            }
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
        let active = *segments.keys().next_back().expect("there is a segment");
        let active_file = Arc::from(dir.open(&segment_name(active))?);
        Ok(Inner {
            dir,
            options,
            segments,
            keydir,
            active_file,
            // What recovery found may not be durable yet (closing a store cleanly syncs
            // nothing), so the first sync must really sync: count it as one unsynced write.
            written: 1,
            durable: 0,
            syncing: false,
            writes_since_sync: 0,
            failed: false,
        })
    }

    /// Fails if an earlier sync failed.
    fn usable(&self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other(
                "an earlier sync failed, so recent writes may be lost: reopen the store",
            ));
        }
        Ok(())
    }

    /// Sets `key` to `value`; returns the write's sequence number.
    fn put(&mut self, key: &[u8], value: &[u8]) -> io::Result<u64> {
        let at = self.append(&Record::put(key, value))?;
        self.keydir.insert(key.to_vec(), at);
        self.written += 1;
        Ok(self.written)
    }

    /// The latest value of `key`: one disk read if present, none if absent.
    fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
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

    /// Deletes `key`; returns the write's sequence number, or `None` if there was nothing to
    /// delete.
    fn delete(&mut self, key: &[u8]) -> io::Result<Option<u64>> {
        if !self.keydir.contains_key(key) {
            return Ok(None);
        }
        self.append(&Record::tombstone(key))?;
        self.keydir.remove(key);
        self.written += 1;
        Ok(Some(self.written))
    }

    /// Syncs the active segment with the lock held (closing a segment, starting a merge):
    /// every write so far is then durable.
    fn sync_active(&mut self) -> io::Result<()> {
        match self.active().sync() {
            Ok(()) => {
                self.durable = self.written;
                Ok(())
            }
            Err(error) => {
                self.failed = true;
                Err(error)
            }
        }
    }

    /// Compacts every inactive segment (all but the active one) into one, keeping only the
    /// latest record of each key that still needs one.
    ///
    /// With N the highest inactive id, the steps are ordered so that a crash between any two
    /// leaves a store that recovers to the same contents:
    ///
    /// 1. sync the active segment: a record there may make an inactive one obsolete, and the
    ///    merge drops the obsolete one only if the newer one cannot be lost;
    /// 2. write the survivors to `N.merge` and sync it (a crash leaves a stray file: open
    ///    removes it);
    /// 3. rename it over `N.log` and sync the directory (a crash leaves the merged segment next
    ///    to the older ones it replaces: they agree, because the merged one is newer and keeps
    ///    the tombstones that shadow their values);
    /// 4. remove the segments below N and sync the directory;
    /// 5. write N's hint file, which appears whole or not at all.
    ///
    /// If N has a hint file from an earlier merge, it describes the old `N.log`: it is removed,
    /// durably, before the new `N.log` takes the name, so no crash can pair the new segment
    /// with the old hint.
    fn merge(&mut self) -> io::Result<()> {
        let inactive: Vec<u64> = self
            .segments
            .keys()
            .copied()
            .filter(|&id| id != self.active_id())
            .collect();
        let Some(&target) = inactive.last() else {
            return Ok(());
        };
        self.sync_active()?;

        // The latest record of every key in the inactive segments, and whether an older record
        // there holds a value: a tombstone is only worth keeping while it has something to
        // shadow.
        let mut latest: BTreeMap<Vec<u8>, Latest> = BTreeMap::new();
        for &id in &inactive {
            let log = &self.segments[&id];
            let scan = log.scan()?;
            if scan.valid_len != log.len() {
                return Err(io::Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "segment {} is damaged at offset {}",
                        segment_name(id),
                        scan.valid_len
                    ),
                ));
            }
            for (position, record) in scan.records {
                let older_value = latest
                    .get(&record.key)
                    .is_some_and(|older| older.older_value || older.record.value.is_some());
                latest.insert(
                    record.key.clone(),
                    Latest {
                        at: (id, position),
                        record,
                        older_value,
                    },
                );
            }
        }

        let mut merged = create_afresh(self.dir.as_ref(), &merge_name(target))?;
        let mut entries = Vec::new();
        for (key, latest) in latest {
            let keep = match latest.record.value {
                // A value is live if the key directory still points at it; if not, a newer
                // record in the active segment (synced above) replaced it.
                Some(_) => self.keydir.get(&key) == Some(&latest.at),
                // A tombstone stays while an older value may sit in a segment below N, which a
                // crash could leave in place for a while. If the key is live again, the newer
                // value in the active segment shadows everything anyway.
                None => latest.older_value && !self.keydir.contains_key(&key),
            };
            if keep {
                let position = merged.append(&latest.record)?;
                entries.push(HintEntry {
                    key,
                    position,
                    tombstone: latest.record.value.is_none(),
                });
            }
        }
        merged.sync()?;
        let hints: BTreeSet<u64> = self.dir.list()?.iter().filter_map(|n| hint_id(n)).collect();
        if hints.contains(&target) {
            self.dir.remove(&hint_name(target))?;
            self.dir.sync()?;
        }
        self.dir
            .rename(&merge_name(target), &segment_name(target))?;

        // The merged segment is in place: from here on, memory follows it.
        let merged_len = merged.len();
        self.segments.insert(target, merged);
        for entry in &entries {
            if !entry.tombstone {
                self.keydir
                    .insert(entry.key.clone(), (target, entry.position));
            }
        }
        self.dir.sync()?;
        for &id in &inactive[..inactive.len() - 1] {
            if hints.contains(&id) {
                // Before its segment: a hint left without one is removed on open.
                self.dir.remove(&hint_name(id))?;
            }
            self.dir.remove(&segment_name(id))?;
            self.segments.remove(&id);
        }
        self.dir.sync()?;
        write_hint(self.dir.as_ref(), target, &entries, merged_len)
    }

    /// The total size of every segment, in bytes.
    fn disk_bytes(&self) -> io::Result<u64> {
        Ok(self.segments.values().map(Log::len).sum())
    }

    /// The ids of the segments, oldest first; the last is the active one.
    fn segment_ids(&self) -> Vec<u64> {
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
        self.sync_active()?;
        let id = self.active_id() + 1;
        let log = create_afresh(self.dir.as_ref(), &segment_name(id))?;
        self.segments.insert(id, log);
        self.active_file = Arc::from(self.dir.open(&segment_name(id))?);
        Ok(())
    }
}

/// What a merge found about one key in the inactive segments.
struct Latest {
    /// Where its latest record is.
    at: (u64, Position),
    /// That record.
    record: Record,
    /// Whether an older record of the key in the inactive segments holds a value, which a
    /// tombstone must go on shadowing.
    older_value: bool,
}

/// One entry of a hint file: a record of the segment, without its value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HintEntry {
    key: Vec<u8>,
    /// Where the record is in the segment.
    position: Position,
    /// Whether the record is a tombstone.
    tombstone: bool,
}

/// The value of a hint entry's record: offset (u64), length (u32), tombstone flag (u8).
const HINT_VALUE_LEN: usize = 13;

/// The value of the trailer record: the segment's length (u64) and the entry count (u64).
const TRAILER_VALUE_LEN: usize = 16;

/// A hint file as records, so that every entry carries its own checksum: one record per entry,
/// the key as its key and where the record is (and whether it is a tombstone) as its value; then
/// a trailer record, with an empty key, holding the segment's length and the number of entries.
fn hint_records(entries: &[HintEntry], segment_len: u64) -> Vec<Record> {
    let mut records: Vec<Record> = entries
        .iter()
        .map(|entry| {
            let mut value = Vec::with_capacity(HINT_VALUE_LEN);
            value.extend_from_slice(&entry.position.offset.to_le_bytes());
            value.extend_from_slice(&entry.position.len.to_le_bytes());
            value.push(u8::from(entry.tombstone));
            Record::put(entry.key.clone(), value)
        })
        .collect();
    let mut trailer = Vec::with_capacity(TRAILER_VALUE_LEN);
    trailer.extend_from_slice(&segment_len.to_le_bytes());
    trailer.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    records.push(Record::put(Vec::new(), trailer));
    records
}

/// The entries of a hint file, from its records; `None` if anything is off: no trailer, a
/// trailer for a segment of another length or another number of entries, a malformed entry, or
/// a position outside the segment.
fn parse_hint(mut records: Vec<Record>, segment_len: u64) -> Option<Vec<HintEntry>> {
    let trailer = records.pop()?.value?;
    let trailer: [u8; TRAILER_VALUE_LEN] = trailer.try_into().ok()?;
    let (len, count) = trailer.split_at(8);
    if u64::from_le_bytes(len.try_into().ok()?) != segment_len
        || u64::from_le_bytes(count.try_into().ok()?) != records.len() as u64
    {
        return None;
    }
    records
        .into_iter()
        .map(|record| {
            let value: [u8; HINT_VALUE_LEN] = record.value?.try_into().ok()?;
            let position = Position {
                offset: u64::from_le_bytes(value[..8].try_into().ok()?),
                len: u32::from_le_bytes(value[8..12].try_into().ok()?),
            };
            let tombstone = match value[12] {
                0 => false,
                1 => true,
                _ => return None,
            };
            let end = position.offset.checked_add(u64::from(position.len))?;
            (end <= segment_len).then_some(HintEntry {
                key: record.key,
                position,
                tombstone,
            })
        })
        .collect()
}

/// Writes the hint file of segment `id`, whose length is `segment_len`, so that it appears
/// whole or not at all: written under a temporary name (with [`create_afresh`], so that a
/// failed attempt's file does not stop the next), synced, renamed into place, and the directory
/// synced.
fn write_hint(dir: &dyn Dir, id: u64, entries: &[HintEntry], segment_len: u64) -> io::Result<()> {
    let temp = hint_temp_name(id);
    let mut hint = create_afresh(dir, &temp)?;
    for record in hint_records(entries, segment_len) {
        hint.append(&record)?;
    }
    hint.sync()?;
    dir.rename(&temp, &hint_name(id))?;
    dir.sync()
}

/// The entries of segment `id`'s hint file, if it has a valid one for a segment of
/// `segment_len` bytes. Reads the hint file, and nothing of the segment.
fn read_hint(dir: &dyn Dir, id: u64, segment_len: u64) -> io::Result<Option<Vec<HintEntry>>> {
    let hint = match Log::open(dir, &hint_name(id)) {
        Ok(hint) => hint,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let scan = hint.scan()?;
    if scan.valid_len != hint.len() {
        return Ok(None);
    }
    let records = scan.records.into_iter().map(|(_, record)| record).collect();
    Ok(parse_hint(records, segment_len))
}
