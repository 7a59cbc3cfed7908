//! Compaction: the tables of a database, kept in levels. Level 0 holds flushed tables, which may
//! overlap; every deeper level holds tables that do not, each level `multiplier` times the one
//! above. Compaction merges a table of a level that is too big into the tables of the next level
//! it overlaps, drops what no reader can see any more, and records the new tables in one
//! MANIFEST edit before the old files go.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`. Everything else is the
//! recovery scene's database, as its reference solution has it, with a level in each table's
//! MANIFEST record: put your own in its place if you like, keeping the public API.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

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

/// A table, recorded and opened: of level 0, until compaction moves tables down.
struct L0Table {
    info: TableInfo,
    table: Table,
}

/// An LSM tree: a memtable over a write-ahead log, and the tables it was flushed to.
pub struct Db {
    dir: Arc<dyn Dir>,
    options: Options,
    /// Key -> seq, kind and value: the newest version of every key written since the last flush.
    memtable: SkipList,
    wal: Wal,
    wal_number: u64,
    manifest: Box<dyn File>,
    /// Every table as the MANIFEST lists them: level 0 newest first, then level 1, 2... Read in
    /// this order, a key's newest version is met first, whatever the levels.
    tables: Vec<L0Table>,
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
            tables: Vec::new(),
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
        let mut tables = Vec::new();
        for info in recorded.tables {
            let name = table_name(info.number);
            let table = Table::open(&*dir, &name)?;
            keep.insert(name);
            // Level 0 newest first, then the deeper levels: newest first still.
            tables.push(L0Table { info, table });
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
            tables,
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

    /// The value of `key`: from the memtable if it holds the key, else from the first table,
    /// newest first, that does. Tables whose key range cannot hold `key` are not read.
    pub fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        if let Some(encoded) = self.memtable.get(key) {
            return Ok(decode(encoded).1);
        }
        for l0 in &self.tables {
            if key < l0.info.first_key.as_slice() || key > l0.info.last_key.as_slice() {
                continue;
            }
            // A tombstone is an answer too: the older tables must not be asked.
            if let Some(entry) = l0.table.get(key, u64::MAX)? {
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
        // Runs newest first: the memtable, then level 0 from the newest table down.
        let mut runs = vec![memtable];
        for l0 in &self.tables {
            let info = &l0.info;
            if info.last_key.as_slice() < from
                || to.is_some_and(|to| info.first_key.as_slice() >= to)
            {
                continue;
            }
            let mut run = Vec::new();
            let mut iter = l0.table.iter();
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
        let mut listed = vec![info.clone()];
        listed.extend(self.tables.iter().map(|l0| l0.info.clone()));

        // The commit point: once this record is synced, the table holds the memtable's writes
        // and the old log is no longer needed. Before it, the old log is still what counts.
        if let Err(error) = self.record(&listed, wal_number) {
            self.broken = Some(format!("a MANIFEST edit failed ({error})"));
            return Err(error);
        }
        let old = std::mem::replace(&mut self.wal_number, wal_number);
        self.wal = wal;
        self.memtable = SkipList::new(wal_number);
        self.tables.insert(0, L0Table { info, table });
        // Nothing names the old log now; if it cannot be removed, it is garbage left for the
        // next open to delete, not a failed flush.
        let _ = self.dir.remove(&wal_name(old));
        Ok(())
    }

    /// Every table, as the MANIFEST lists them: level 0 newest first, then level 1 in key
    /// order, level 2 in key order...
    pub fn tables(&self) -> Vec<TableInfo> {
        self.tables.iter().map(|l0| l0.info.clone()).collect()
    }

    /// Compacts until no level is over its limit: level 0 with `l0_tables` tables or more (and at
    /// least one), level `n >= 1` with more than `l1_bytes * multiplier^(n-1)` bytes. Each round
    /// compacts the shallowest level over its limit into the next one: all of level 0, or one
    /// table of a deeper level, merged with the tables of the next level whose key ranges meet
    /// theirs, written to new tables of the next level (a new one each `table_bytes` of keys and
    /// values), recorded in one MANIFEST edit, synced, and only then the old files removed.
    ///
    /// A failure before a round's MANIFEST edit leaves the database as that round found it (its
    /// new files removed); a failure of the edit itself leaves it refusing every later write,
    /// flush and compaction.
    pub fn compact(&mut self) -> io::Result<()> {
        todo!()
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
        let options = write::Options {
            block_size: self.options.block_size,
            restart_interval: self.options.restart_interval,
        };
        let mut writer = TableWriter::create(self.dir.clone(), name, options)?;
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
