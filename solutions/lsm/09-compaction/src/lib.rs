//! Compaction: the tables of a database, kept in levels. Level 0 holds flushed tables, which may
//! overlap; every deeper level holds tables that do not, each level ten times (or `multiplier`
//! times) the one above. Compaction merges a table of a level that is too big into the tables
//! of the next level it overlaps, drops what no reader can see any more, and records the new
//! tables in one MANIFEST edit before the old files go.
//!
//! The reference solution. Everything but compaction, the levels and what they change in `get`,
//! `scan` and the MANIFEST is the recovery scene's.

use std::collections::BTreeSet;
use std::io::{self, ErrorKind};
use std::sync::Arc;

use kit::disk::{Dir, File};
use lsm_merge_iterator as merge;
use lsm_skiplist::SkipList;
use lsm_sstable_read::Table;
use lsm_sstable_write::{self as write, TableWriter};
use lsm_wal::{Batch, Op, Wal};

/// The name of the file that says which files make up the database.
pub const MANIFEST: &str = "MANIFEST";

/// The name of table number `number`: `000002.sst`.
pub fn table_name(number: u64) -> String {
    format!("{number:06}.sst")
}

/// The name of log number `number`: `000001.log`.
pub fn wal_name(number: u64) -> String {
    format!("{number:06}.log")
}

/// How many levels there are: 0 to `LEVELS - 1`. The last one has no size limit.
pub const LEVELS: usize = 7;

/// How the database sizes its memtable, its tables and its levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Before a write, a memtable of this many bytes or more is flushed.
    pub memtable_bytes: usize,
    /// The tables' block size.
    pub block_size: usize,
    /// The tables' restart interval.
    pub restart_interval: usize,
    /// Level 0 is over its limit when it holds this many tables or more.
    pub l0_tables: usize,
    /// Level 1 is over its limit when its tables' sizes add up to more than this many bytes.
    pub l1_bytes: u64,
    /// Each level below 1 may hold this many times the bytes of the level above it.
    pub multiplier: u64,
    /// A compaction finishes a table once the keys and values written to it reach this many
    /// bytes, and starts the next.
    pub table_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            memtable_bytes: 4 << 20,
            block_size: 4096,
            restart_interval: 16,
            l0_tables: 4,
            l1_bytes: 10 << 20,
            multiplier: 10,
            table_bytes: 2 << 20,
        }
    }
}

/// A table as the MANIFEST records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// Its level: 0 to `LEVELS - 1`.
    pub level: u32,
    /// Its file number: the file is `table_name(number)`.
    pub number: u64,
    /// The file's length in bytes.
    pub size: u64,
    /// Its smallest key.
    pub first_key: Vec<u8>,
    /// Its largest key.
    pub last_key: Vec<u8>,
}

/// In a memtable value: the kind byte after the seq.
const PUT: u8 = 1;
const TOMBSTONE: u8 = 0;

/// A table, recorded and opened.
struct Opened {
    info: TableInfo,
    table: Table,
}

/// An LSM tree: a memtable over a write-ahead log, and the tables in levels.
pub struct Db {
    dir: Arc<dyn Dir>,
    options: Options,
    /// Key -> seq, kind and value: the newest version of every key written since the last flush.
    memtable: SkipList,
    wal: Wal,
    wal_number: u64,
    manifest: Box<dyn File>,
    /// `LEVELS` levels: level 0 newest first, every other level in key order, its tables'
    /// key ranges apart.
    levels: Vec<Vec<Opened>>,
    /// The number the next new file takes.
    next_file: u64,
    /// The seq of the last write applied.
    last_seq: u64,
    /// Set when a MANIFEST edit failed: whether it reached the disk is unknown, so the database
    /// takes no more writes.
    broken: Option<String>,
}

impl Db {
    /// Opens the database in `dir`: recovers it from its MANIFEST's last whole record if there is
    /// one, or else makes a new one (removing the files of a database that never finished
    /// opening).
    pub fn open(dir: Arc<dyn Dir>, options: Options) -> io::Result<Db> {
        let names = dir.list()?;
        if names.iter().any(|name| name == MANIFEST) {
            let manifest = dir.open(MANIFEST)?;
            let len = manifest.len()?;
            let mut bytes = vec![0; len as usize];
            manifest.read_exact_at(0, &mut bytes)?;
            let (last, whole) = last_record(&bytes)?;
            if let Some(recorded) = last {
                if whole < bytes.len() {
                    // A torn tail: a crash in the middle of an edit that never returned. Cut it,
                    // durably, or the next record would follow garbage and never be read.
                    manifest.truncate(whole as u64)?;
                    manifest.sync()?;
                }
                return Db::recover(dir, options, manifest, recorded, &names);
            }
        }
        // No MANIFEST with a whole record: the first open never returned, and nothing was
        // acknowledged. Whatever it left behind goes, and the database starts afresh.
        for name in &names {
            if name == MANIFEST || name.ends_with(".log") || name.ends_with(".sst") {
                dir.remove(name)?;
            }
        }
        Db::create(dir, options)
    }

    /// A new database in a directory without one: log 1, then a MANIFEST whose first record
    /// names it, synced, and the directory synced.
    fn create(dir: Arc<dyn Dir>, options: Options) -> io::Result<Db> {
        let wal = Wal::create(&*dir, &wal_name(1))?;
        let manifest = dir.create(MANIFEST)?;
        let mut db = Db {
            memtable: SkipList::new(1),
            wal,
            wal_number: 1,
            manifest,
            levels: empty_levels(),
            next_file: 2,
            last_seq: 0,
            broken: None,
            dir,
            options,
        };
        db.record(&[], 1)?;
        // The MANIFEST's name, like its bytes, must survive a crash.
        db.dir.sync()?;
        Ok(db)
    }

    /// The database as `recorded` says, with the writes of its log replayed into the memtable;
    /// every other file in `names` (a flush's orphans, logs already flushed) is removed.
    fn recover(
        dir: Arc<dyn Dir>,
        options: Options,
        manifest: Box<dyn File>,
        recorded: Recorded,
        names: &[String],
    ) -> io::Result<Db> {
        let mut keep = BTreeSet::from([MANIFEST.to_string(), wal_name(recorded.wal)]);
        let mut levels = empty_levels();
        for info in recorded.tables {
            let name = table_name(info.number);
            let table = Table::open(&*dir, &name)?;
            keep.insert(name);
            // The record lists each level in its order: level 0 newest first, the others by key.
            levels[info.level as usize].push(Opened { info, table });
        }
        let wal = Wal::open(&*dir, &wal_name(recorded.wal))?;
        let mut memtable = SkipList::new(recorded.wal);
        let mut last_seq = recorded.last_seq;
        for batch in wal.recovered() {
            for (seq, op) in (batch.seq..).zip(&batch.ops) {
                match op {
                    Op::Put { key, value } => {
                        memtable.insert(key.clone(), encode(seq, Some(value)))
                    }
                    Op::Delete { key } => memtable.insert(key.clone(), encode(seq, None)),
                };
                last_seq = last_seq.max(seq);
            }
        }
        // A table no record lists was never part of the database: its flush crashed before the
        // record. Its number will be taken again, so it must go before a flush needs the name.
        for name in names.iter().filter(|name| !keep.contains(*name)) {
            dir.remove(name)?;
        }
        Ok(Db {
            dir,
            options,
            memtable,
            wal,
            wal_number: recorded.wal,
            manifest,
            levels,
            next_file: recorded.next_file,
            last_seq,
            broken: None,
        })
    }

    /// Writes `key = value` with the next seq: to the log (synced), then to the memtable.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.write(key, Some(value))
    }

    /// Deletes `key` with the next seq: a tombstone, to the log and then the memtable.
    pub fn delete(&mut self, key: &[u8]) -> io::Result<()> {
        self.write(key, None)
    }

    /// The value of `key`: from the memtable if it holds the key, else from the first table
    /// that does, newest first: level 0 from its newest table, then one table a level, the one
    /// whose key range holds `key`. Tables whose key range cannot hold `key` are not read.
    pub fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        if let Some(encoded) = self.memtable.get(key) {
            return Ok(decode(encoded).1);
        }
        for l0 in &self.levels[0] {
            if !holds(&l0.info, key) {
                continue;
            }
            // A tombstone is an answer too: the older tables must not be asked.
            if let Some(entry) = l0.table.get(key, u64::MAX)? {
                return Ok(entry.value);
            }
        }
        for level in &self.levels[1..] {
            // The tables of a level are apart and in order: the first whose last key is not
            // before `key` is the only one that may hold it.
            let i = level.partition_point(|t| t.info.last_key.as_slice() < key);
            let Some(candidate) = level.get(i).filter(|t| holds(&t.info, key)) else {
                continue;
            };
            if let Some(entry) = candidate.table.get(key, u64::MAX)? {
                return Ok(entry.value);
            }
        }
        Ok(None)
    }

    /// Up to `limit` pairs with `from <= key` (and `key < to` when `to` is given), in key order:
    /// the memtable and every table that may hold such keys, merged.
    pub fn scan(
        &self,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
    ) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let memtable = self
            .memtable
            .range(from, to, usize::MAX)
            .into_iter()
            .map(|(key, encoded)| {
                let (seq, value) = decode(&encoded);
                merge::Entry { key, seq, value }
            })
            .collect();
        // Runs newest first: the memtable, level 0 from the newest table down, then level 1, 2...
        // (a table a run: a level's tables are apart, so their order among themselves does not
        // matter).
        let mut runs = vec![memtable];
        for opened in self.levels.iter().flatten() {
            let info = &opened.info;
            if info.last_key.as_slice() < from
                || to.is_some_and(|to| info.first_key.as_slice() >= to)
            {
                continue;
            }
            let mut run = Vec::new();
            let mut iter = opened.table.iter();
            iter.seek(from)?;
            while let Some(entry) = iter.next()? {
                if to.is_some_and(|to| entry.key.as_slice() >= to) {
                    break;
                }
                run.push(merge::Entry {
                    key: entry.key,
                    seq: entry.seq,
                    value: entry.value,
                });
            }
            runs.push(run);
        }
        Ok(merge::scan(runs, from, to, u64::MAX, limit))
    }

    /// Writes the memtable to a new table on level 0, then records it in the MANIFEST with a new
    /// log, then starts that log and removes the old one. An empty memtable flushes nothing.
    ///
    /// A failure before the MANIFEST edit leaves the database as it was (the new files removed);
    /// a failure of the edit itself leaves it refusing every later write and flush.
    pub fn flush(&mut self) -> io::Result<()> {
        self.usable()?;
        if self.memtable.is_empty() {
            return Ok(());
        }
        // Numbers are never used twice, even by a flush that failed: a file it could not
        // remove must not be mistaken for a later one.
        let number = self.take_number();
        let name = table_name(number);
        let (meta, table) = match self.write_table(&name) {
            Ok(written) => written,
            Err(error) => {
                let _ = self.dir.remove(&name);
                return Err(error);
            }
        };
        let wal_number = self.take_number();
        let wal = match Wal::create(&*self.dir, &wal_name(wal_number)) {
            Ok(wal) => wal,
            Err(error) => {
                let _ = self.dir.remove(&name);
                let _ = self.dir.remove(&wal_name(wal_number));
                return Err(error);
            }
        };
        let info = TableInfo {
            level: 0,
            number,
            size: meta.size,
            first_key: meta.first_key,
            last_key: meta.last_key,
        };
        let mut listed = self.tables();
        listed.insert(0, info.clone());

        // The commit point: once this record is synced, the table holds the memtable's writes
        // and the old log is no longer needed. Before it, the old log is still what counts.
        if let Err(error) = self.record(&listed, wal_number) {
            self.broken = Some(format!("a MANIFEST edit failed ({error})"));
            return Err(error);
        }
        let old = std::mem::replace(&mut self.wal_number, wal_number);
        self.wal = wal;
        self.memtable = SkipList::new(wal_number);
        self.levels[0].insert(0, Opened { info, table });
        // Nothing names the old log now; if it cannot be removed, it is garbage left for the
        // next open to delete, not a failed flush.
        let _ = self.dir.remove(&wal_name(old));
        Ok(())
    }

    /// Every table, as the MANIFEST lists them: level 0 newest first, then level 1 in key
    /// order, level 2 in key order...
    pub fn tables(&self) -> Vec<TableInfo> {
        self.levels
            .iter()
            .flatten()
            .map(|opened| opened.info.clone())
            .collect()
    }

    /// Compacts until no level is over its limit: level 0 with `l0_tables` tables or more (and at
    /// least one), level `n >= 1` with more than `l1_bytes * multiplier^(n-1)` bytes. Each round
    /// compacts the shallowest level over its limit into the next one.
    ///
    /// A failure before a round's MANIFEST edit leaves the database as that round found it (its
    /// new files removed); a failure of the edit itself leaves it refusing every later write,
    /// flush and compaction.
    pub fn compact(&mut self) -> io::Result<()> {
        self.usable()?;
        while let Some(level) = (0..LEVELS - 1).find(|&level| self.over_limit(level)) {
            self.compact_level(level)?;
        }
        Ok(())
    }

    fn over_limit(&self, level: usize) -> bool {
        if level == 0 {
            // An empty level 0 is never over its limit, whatever `l0_tables` says.
            return !self.levels[0].is_empty() && self.levels[0].len() >= self.options.l0_tables;
        }
        let bytes: u64 = self.levels[level].iter().map(|t| t.info.size).sum();
        let limit = (1..level).fold(self.options.l1_bytes, |limit, _| {
            limit.saturating_mul(self.options.multiplier)
        });
        bytes > limit
    }

    /// One round: the tables of `level` to push down (all of level 0, whose tables overlap; the
    /// first table of a deeper level), merged with the tables of the next level they overlap,
    /// written to new tables of the next level, recorded, and only then the old files removed.
    fn compact_level(&mut self, level: usize) -> io::Result<()> {
        let upper: Vec<usize> = if level == 0 {
            (0..self.levels[0].len()).collect()
        } else {
            vec![0]
        };
        let (first, last) = span(upper.iter().map(|&i| &self.levels[level][i].info));
        let lower: Vec<usize> = (0..self.levels[level + 1].len())
            .filter(|&i| overlaps(&self.levels[level + 1][i].info, &first, &last))
            .collect();

        // Runs newest first: level 0 is already newest first, and any table of `level` is newer
        // than every table of the level below.
        let mut runs = Vec::new();
        for i in &upper {
            runs.push(read_all(&self.levels[level][*i].table)?);
        }
        for i in &lower {
            runs.push(read_all(&self.levels[level + 1][*i].table)?);
        }
        let written = match self.write_merged(runs, level + 1) {
            Ok(written) => written,
            Err((error, names)) => {
                for name in names {
                    let _ = self.dir.remove(&name);
                }
                return Err(error);
            }
        };

        // The state after the edit: the inputs gone, the outputs in their place in key order.
        let mut removed = Vec::new();
        for i in upper.iter().rev() {
            removed.push(self.levels[level].remove(*i));
        }
        for i in lower.iter().rev() {
            removed.push(self.levels[level + 1].remove(*i));
        }
        let at = self.levels[level + 1].partition_point(|t| t.info.last_key < first);
        self.levels[level + 1].splice(at..at, written);
        let listed = self.tables();
        // The commit point, as for a flush: until this record is synced the old tables are what
        // the database is, and removing them would lose their keys to a crash.
        if let Err(error) = self.record(&listed, self.wal_number) {
            self.broken = Some(format!("a MANIFEST edit failed ({error})"));
            return Err(error);
        }
        for old in removed {
            // Nothing names the old table now: a removal that fails leaves garbage for the next
            // open, not a failed compaction.
            let _ = self.dir.remove(&table_name(old.info.number));
        }
        Ok(())
    }

    /// Merges `runs` (newest first) into new tables of level `to`: the newest version of each
    /// key only, and a tombstone only where a level below `to` may hold an older version of its
    /// key. On failure, the error and the names of every file it created.
    fn write_merged(
        &mut self,
        runs: Vec<Vec<merge::Entry>>,
        to: usize,
    ) -> Result<Vec<Opened>, (io::Error, Vec<String>)> {
        let mut created = Vec::new();
        let mut done = Vec::new();
        let mut current: Option<(TableWriter, u64, String, u64)> = None;
        let mut last_key: Option<Vec<u8>> = None;
        let result = (|| -> io::Result<()> {
            for entry in merge::MergeIter::new(runs) {
                // Table order puts a key's newest version first: every later one is shadowed.
                if last_key.as_ref() == Some(&entry.key) {
                    continue;
                }
                last_key = Some(entry.key.clone());
                if entry.value.is_none() && !self.deeper_may_hold(to, &entry.key) {
                    // Nothing older is left below to hide: the tombstone has done its work.
                    continue;
                }
                if current.is_none() {
                    let number = self.take_number();
                    let name = table_name(number);
                    created.push(name.clone());
                    let writer =
                        TableWriter::create(self.dir.clone(), &name, self.write_options())?;
                    current = Some((writer, number, name, 0));
                }
                let (writer, _, _, bytes) = current.as_mut().expect("a table is open");
                *bytes += (entry.key.len() + entry.value.as_ref().map_or(0, Vec::len)) as u64;
                writer.add(&write::Entry {
                    key: entry.key,
                    seq: entry.seq,
                    value: entry.value,
                })?;
                if *bytes >= self.options.table_bytes {
                    let (writer, number, name, _) = current.take().expect("a table is open");
                    done.push(self.finish(writer, number, &name, to)?);
                }
            }
            if let Some((writer, number, name, _)) = current.take() {
                done.push(self.finish(writer, number, &name, to)?);
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok(done),
            Err(error) => Err((error, created)),
        }
    }

    /// Finishes a compaction's table (the writer syncs it and its name) and opens it.
    fn finish(
        &self,
        mut writer: TableWriter,
        number: u64,
        name: &str,
        level: usize,
    ) -> io::Result<Opened> {
        let meta = writer.finish()?;
        let table = Table::open(&*self.dir, name)?;
        let info = TableInfo {
            level: level as u32,
            number,
            size: meta.size,
            first_key: meta.first_key,
            last_key: meta.last_key,
        };
        Ok(Opened { info, table })
    }

    /// Whether a table of a level below `level` has a key range that holds `key`.
    fn deeper_may_hold(&self, level: usize, key: &[u8]) -> bool {
        self.levels[level + 1..]
            .iter()
            .flatten()
            .any(|t| holds(&t.info, key))
    }

    fn write_options(&self) -> write::Options {
        write::Options {
            block_size: self.options.block_size,
            restart_interval: self.options.restart_interval,
        }
    }

    /// The seq of the last write: 0 before the first.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    fn write(&mut self, key: &[u8], value: Option<&[u8]>) -> io::Result<()> {
        self.usable()?;
        // Room first: a write that cannot get it fails whole, and is not applied.
        if self.memtable.size_bytes() >= self.options.memtable_bytes {
            self.flush()?;
        }
        let seq = self.last_seq + 1;
        let op = match value {
            Some(value) => Op::Put {
                key: key.to_vec(),
                value: value.to_vec(),
            },
            None => Op::Delete { key: key.to_vec() },
        };
        self.wal.commit(&[Batch { seq, ops: vec![op] }])?;
        self.memtable.insert(key.to_vec(), encode(seq, value));
        self.last_seq = seq;
        Ok(())
    }

    fn usable(&self) -> io::Result<()> {
        match &self.broken {
            Some(why) => Err(io::Error::other(format!(
                "{why}: the database takes no more writes until it is reopened"
            ))),
            None => Ok(()),
        }
    }

    fn take_number(&mut self) -> u64 {
        self.next_file += 1;
        self.next_file - 1
    }

    /// Writes the memtable, in key order, to the table `name` (the writer syncs it and its
    /// name), and opens it.
    fn write_table(&self, name: &str) -> io::Result<(write::TableMeta, Table)> {
        let mut writer = TableWriter::create(self.dir.clone(), name, self.write_options())?;
        for (key, encoded) in self.memtable.range(&[], None, usize::MAX) {
            // Tombstones go to the table too: an older table may hold the key.
            let (seq, value) = decode(&encoded);
            writer.add(&write::Entry { key, seq, value })?;
        }
        let meta = writer.finish()?;
        let table = Table::open(&*self.dir, name)?;
        Ok((meta, table))
    }

    /// Appends one MANIFEST record, the whole state after this edit, and syncs it.
    fn record(&mut self, tables: &[TableInfo], wal_number: u64) -> io::Result<()> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.last_seq.to_le_bytes());
        body.extend_from_slice(&self.next_file.to_le_bytes());
        body.extend_from_slice(&wal_number.to_le_bytes());
        put_u32(&mut body, tables.len())?;
        for info in tables {
            body.extend_from_slice(&info.level.to_le_bytes());
            body.extend_from_slice(&info.number.to_le_bytes());
            body.extend_from_slice(&info.size.to_le_bytes());
            put_u32(&mut body, info.first_key.len())?;
            body.extend_from_slice(&info.first_key);
            put_u32(&mut body, info.last_key.len())?;
            body.extend_from_slice(&info.last_key);
        }
        let mut covered = Vec::with_capacity(4 + body.len());
        put_u32(&mut covered, body.len())?;
        covered.extend_from_slice(&body);
        let mut record = crc32fast::hash(&covered).to_le_bytes().to_vec();
        record.extend_from_slice(&covered);
        self.manifest.append(&record)?;
        self.manifest.sync()
    }
}

fn empty_levels() -> Vec<Vec<Opened>> {
    (0..LEVELS).map(|_| Vec::new()).collect()
}

/// Whether `key` is in the table's key range.
fn holds(info: &TableInfo, key: &[u8]) -> bool {
    info.first_key.as_slice() <= key && key <= info.last_key.as_slice()
}

/// Whether the table's key range meets `first..=last`.
fn overlaps(info: &TableInfo, first: &[u8], last: &[u8]) -> bool {
    info.first_key.as_slice() <= last && first <= info.last_key.as_slice()
}

/// The smallest first key and the largest last key of `tables` (at least one).
fn span<'a>(tables: impl Iterator<Item = &'a TableInfo>) -> (Vec<u8>, Vec<u8>) {
    let mut span: Option<(Vec<u8>, Vec<u8>)> = None;
    for info in tables {
        span = Some(match span {
            None => (info.first_key.clone(), info.last_key.clone()),
            Some((first, last)) => (
                first.min(info.first_key.clone()),
                last.max(info.last_key.clone()),
            ),
        });
    }
    span.expect("a compaction has a table to push down")
}

/// Every entry of a table, in table order.
fn read_all(table: &Table) -> io::Result<Vec<merge::Entry>> {
    let mut run = Vec::new();
    let mut iter = table.iter();
    while let Some(entry) = iter.next()? {
        run.push(merge::Entry {
            key: entry.key,
            seq: entry.seq,
            value: entry.value,
        });
    }
    Ok(run)
}

/// A memtable value: the seq (u64 LE), the kind, then the value's bytes (none for a tombstone).
fn encode(seq: u64, value: Option<&[u8]>) -> Vec<u8> {
    let mut out = seq.to_le_bytes().to_vec();
    match value {
        Some(value) => {
            out.push(PUT);
            out.extend_from_slice(value);
        }
        None => out.push(TOMBSTONE),
    }
    out
}

/// The seq and value (`None` for a tombstone) of a memtable value.
fn decode(encoded: &[u8]) -> (u64, Option<Vec<u8>>) {
    let seq = u64::from_le_bytes(encoded[..8].try_into().expect("a seq heads every value"));
    let value = (encoded[8] == PUT).then(|| encoded[9..].to_vec());
    (seq, value)
}

fn put_u32(out: &mut Vec<u8>, len: usize) -> io::Result<()> {
    let len = u32::try_from(len).map_err(|_| {
        io::Error::new(
            ErrorKind::InvalidInput,
            "a MANIFEST field must fit in 4 GiB",
        )
    })?;
    out.extend_from_slice(&len.to_le_bytes());
    Ok(())
}

/// What a MANIFEST record says.
struct Recorded {
    last_seq: u64,
    next_file: u64,
    wal: u64,
    tables: Vec<TableInfo>,
}

/// The bytes before a MANIFEST record's body: its checksum, then its length.
const HEADER: usize = 8;

/// The last whole record of a MANIFEST, and where the whole records end. A damaged record with a
/// whole record anywhere after it was damaged after it was synced: `InvalidData`.
fn last_record(bytes: &[u8]) -> io::Result<(Option<Recorded>, usize)> {
    let mut last = None;
    let mut at = 0;
    while at < bytes.len() {
        let Some(body) = record_at(bytes, at) else {
            if let Some(next) = (at + 1..bytes.len()).find(|&next| record_at(bytes, next).is_some())
            {
                return Err(invalid(format!(
                    "the MANIFEST record at offset {at} is damaged, and a whole record follows at \
                     offset {next}"
                )));
            }
            break;
        };
        last = Some(decode_record(body).ok_or_else(|| {
            invalid(format!(
                "the MANIFEST record at offset {at} has a malformed body"
            ))
        })?);
        at += HEADER + body.len();
    }
    Ok((last, at))
}

/// The body of the whole, intact record at `at`, if there is one. Given: the log's frame.
fn record_at(bytes: &[u8], at: usize) -> Option<&[u8]> {
    let header = bytes.get(at..at + HEADER)?;
    let crc = u32::from_le_bytes(header[..4].try_into().ok()?);
    let len = u32::from_le_bytes(header[4..].try_into().ok()?) as usize;
    let covered = bytes.get(at + 4..(at + HEADER).checked_add(len)?)?;
    (crc32fast::hash(covered) == crc).then(|| &covered[4..])
}

/// A record's body, decoded as the README lays it out; `None` if it is not one, or if it lists a
/// table on a level that does not exist.
fn decode_record(body: &[u8]) -> Option<Recorded> {
    let mut reader = Reader(body);
    let (last_seq, next_file, wal) = (reader.u64()?, reader.u64()?, reader.u64()?);
    let count = reader.u32()?;
    let mut tables = Vec::new();
    for _ in 0..count {
        let level = reader.u32()?;
        if level as usize >= LEVELS {
            return None;
        }
        tables.push(TableInfo {
            level,
            number: reader.u64()?,
            size: reader.u64()?,
            first_key: reader.bytes()?,
            last_key: reader.bytes()?,
        });
    }
    reader.0.is_empty().then_some(Recorded {
        last_seq,
        next_file,
        wal,
        tables,
    })
}

/// What is left of a record's body to read.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.u32()? as usize;
        Some(self.take(n)?.to_vec())
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, message)
}
