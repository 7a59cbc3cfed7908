//! The lsm playground: a database on a simulated disk, a prompt to drive it, the power switch,
//! compaction on demand, a picture of the memtable, the levels and the MANIFEST, what a load of
//! writes costs, and the same load under leveled and tiered compaction side by side.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};

use kit::checksum::crc32;
use kit::crash::show;
use kit::sim::{SimDisk, Stats};
use lsm_amplification::{Db, MANIFEST, Options, Strategy, TableInfo};

const HELP: &str = "\
put KEY VALUE       write a value                get KEY      read it back
del KEY             delete a key                 scan [FROM [TO]]   keys in order
flush               write the memtable to a table, and the MANIFEST edit that lists it
compact             merge levels over their limits into the level below
crash               pull the power: unsynced writes may be lost or torn
recover             power on, and open the database from what survived
show                draw the memtable, the levels and the MANIFEST's last record
load N              write N keys (flushes compact on their own), then say what it cost:
                    write, read and space amplification
compare N           the same N keys on two new databases, leveled and tiered: the three costs
                    side by side
quit";

/// A small memtable, small blocks and small levels, so that a few writes already make tables
/// and a few hundred make levels.
const OPTIONS: Options = Options {
    memtable_bytes: 1024,
    block_size: 256,
    restart_interval: 4,
    l0_tables: 4,
    l1_bytes: 8192,
    multiplier: 10,
    table_bytes: 2048,
    strategy: Strategy::Leveled,
    tier_tables: 4,
};

/// The memtable, as far as the playground can tell: what it wrote since the last flush it saw,
/// and whether the log's writes were replayed into it at a recovery before those.
#[derive(Default)]
struct Memtable {
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    replayed: bool,
}

impl Memtable {
    fn clear(&mut self) {
        *self = Memtable::default();
    }
}

pub fn main() {
    let disk = SimDisk::new(1);
    let mut memtable = Memtable::default();
    let mut loaded = 0u64;
    let mut db = attempt("opening the database", || Db::open(disk.dir(), OPTIONS));
    println!("An LSM tree on a simulated disk. Type `help` for the commands.");
    let stdin = std::io::stdin();
    loop {
        print!("lsm> ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["help"] => println!("{HELP}"),
            ["quit" | "exit"] => break,
            ["crash"] => {
                disk.crash();
                db = None;
                println!("the power is off; `recover` turns it back on");
            }
            ["recover"] => {
                db = None;
                println!("on restart, {}", disk.restart());
                db = attempt("recovering", || Db::open(disk.dir(), OPTIONS));
                if let Some(db) = &db {
                    println!(
                        "recovered: {} tables, last seq {}",
                        db.tables().len(),
                        db.last_seq()
                    );
                }
                memtable.clear();
                memtable.replayed = true;
            }
            ["show"] => {
                draw_files(&disk);
                draw_manifest(&disk);
                if let Some(db) = &db {
                    draw_tables(db, &memtable);
                }
            }
            command => match &mut db {
                None => println!("no database is open: `recover` first"),
                Some(db) => run(db, &disk, command, &mut memtable, &mut loaded),
            },
        }
    }
}

fn run(db: &mut Db, disk: &SimDisk, command: &[&str], memtable: &mut Memtable, loaded: &mut u64) {
    match command {
        ["put", key, value] => {
            let flushed = write(db, memtable, key.as_bytes(), Some(value.as_bytes()));
            report(flushed, db);
        }
        ["del", key] => {
            let flushed = write(db, memtable, key.as_bytes(), None);
            report(flushed, db);
        }
        ["get", key] => match catch(|| db.get(key.as_bytes())) {
            Ok(Some(value)) => println!("{}", show(&value)),
            Ok(None) => println!("(none)"),
            Err(why) => println!("error: {why}"),
        },
        ["scan", rest @ ..] if rest.len() <= 2 => {
            let from = rest.first().map(|f| f.as_bytes()).unwrap_or_default();
            let to = rest.get(1).map(|t| t.as_bytes());
            match catch(|| db.scan(from, to, 50)) {
                Ok(pairs) if pairs.is_empty() => println!("(nothing)"),
                Ok(pairs) => {
                    for (key, value) in pairs {
                        println!("{} = {}", show(&key), show(&value));
                    }
                }
                Err(why) => println!("error: {why}"),
            }
        }
        ["flush"] => {
            let before = db.tables().len();
            match catch(|| db.flush()) {
                Ok(()) if db.tables().len() > before => {
                    memtable.clear();
                    println!("the memtable is now table {:06}.sst", newest_in_l0(db));
                }
                Ok(()) => println!("nothing to flush: the memtable is empty"),
                Err(why) => println!("error: {why}"),
            }
        }
        ["compact"] => {
            let before = db.tables();
            match catch(|| db.compact()) {
                Ok(()) if db.tables() == before => {
                    println!("nothing to compact: no level is over its limit")
                }
                Ok(()) => println!(
                    "compacted: {} tables became {} ({}); `show` draws the levels",
                    before.len(),
                    db.tables().len(),
                    level_counts(&db.tables())
                ),
                Err(why) => println!("error: {why}"),
            }
        }
        ["load", n] => match n.parse::<u64>() {
            Ok(n) => load(db, disk, n, memtable, loaded),
            Err(_) => println!("usage: load N (a number of keys)"),
        },
        ["compare", n] => match n.parse::<u64>() {
            Ok(n) => compare(n),
            Err(_) => println!("usage: compare N (a number of keys)"),
        },
        ["put", ..] => println!("usage: put KEY VALUE"),
        ["del", ..] => println!("usage: del KEY"),
        ["get", ..] => println!("usage: get KEY"),
        ["scan", ..] => println!("usage: scan [FROM [TO]]"),
        _ => println!("unknown command; `help` lists them"),
    }
}

/// A put (`Some`) or a delete (`None`); says whether it flushed the memtable first.
fn write(db: &mut Db, memtable: &mut Memtable, key: &[u8], value: Option<&[u8]>) -> Option<bool> {
    let before = db.tables().len();
    let done = match value {
        Some(value) => catch(|| db.put(key, value)),
        None => catch(|| db.delete(key)),
    };
    if let Err(why) = done {
        println!("error: {why}");
        return None;
    }
    // A full memtable is flushed before the write that finds it full: this write is the new
    // memtable's first.
    let flushed = db.tables().len() > before;
    if flushed {
        memtable.clear();
    }
    memtable
        .writes
        .insert(key.to_vec(), value.map(<[u8]>::to_vec));
    Some(flushed)
}

fn report(flushed: Option<bool>, db: &Db) {
    match flushed {
        Some(true) => println!(
            "ok (the memtable was full: it became table {:06}.sst first)",
            newest_in_l0(db)
        ),
        Some(false) => println!("ok (seq {})", db.last_seq()),
        None => {}
    }
}

/// The `i`th of `n` keys loaded after `loaded` others: a scattered order, so that tables overlap
/// and compaction has work to do.
fn load_key(loaded: u64, i: u64, n: u64) -> String {
    format!("key{:08}", loaded + (i * 7919) % n)
}

fn load_value(i: u64) -> Vec<u8> {
    vec![b'a' + (i % 26) as u8; 100]
}

/// Writes `n` keys of 100-byte values, then measures what they cost.
fn load(db: &mut Db, disk: &SimDisk, n: u64, memtable: &mut Memtable, loaded: &mut u64) {
    let before = disk.stats();
    let mut user_bytes = 0u64;
    for i in 0..n {
        let key = load_key(*loaded, i, n);
        let value = load_value(i);
        user_bytes += (key.len() + value.len()) as u64;
        if write(db, memtable, key.as_bytes(), Some(&value)).is_none() {
            return;
        }
    }
    *loaded += n;
    let written = stats_since(disk.stats(), before);
    println!(
        "wrote {n} keys ({user_bytes} bytes of keys and values): the disk took {} bytes in {} \
         writes and {} syncs; levels now {}",
        written.bytes_written,
        written.writes,
        written.syncs,
        level_counts(&db.tables())
    );
    if user_bytes > 0 {
        println!(
            "  write amplification {:.2}  (bytes written to disk per byte written by you)",
            written.bytes_written as f64 / user_bytes as f64
        );
    }
    // Gets of keys spread over everything loaded so far: what a point read costs now.
    let probes = (*loaded).min(100);
    if probes > 0 {
        let before = disk.stats();
        for p in 0..probes {
            let key = format!("key{:08}", p * *loaded / probes);
            if let Err(why) = catch(|| db.get(key.as_bytes())) {
                println!("error: {why}");
                return;
            }
        }
        let read = stats_since(disk.stats(), before);
        println!(
            "  read amplification {:.2}  (disk reads per get, over {probes} gets of loaded keys)",
            read.reads as f64 / probes as f64
        );
    }
    let on_disk: u64 = disk.files().iter().map(|f| f.len).sum();
    let live = *loaded * (11 + 100);
    if live > 0 {
        println!(
            "  space amplification {:.2}  ({on_disk} bytes of files for {live} bytes of loaded \
             keys and values)",
            on_disk as f64 / live as f64
        );
    }
    match catch(|| db.stats()) {
        Ok(stats) => println!(
            "  the database's own stats(), since it opened: write {:.2}, read {:.2}, space {:.2}",
            stats.write_amplification, stats.read_amplification, stats.space_amplification
        ),
        Err(why) => println!("  stats() failed: {why}"),
    }
}

/// The same `n` writes over `n / 3` keys (each key written about three times), then 100 gets,
/// on a new leveled database and a new tiered one; their figures as each database's `stats()`
/// counts them.
fn compare(n: u64) {
    let keys = (n / 3).max(1);
    println!(
        "{n} writes of 100-byte values over {keys} keys, then 100 gets, on two new databases:"
    );
    println!(
        "  {:<8} {:>7} {:>7} {:>7}   levels",
        "", "write", "read", "space"
    );
    for strategy in [Strategy::Leveled, Strategy::Tiered] {
        let disk = SimDisk::new(1);
        let options = Options {
            strategy,
            ..OPTIONS
        };
        let Some(mut db) = attempt("opening the database", || Db::open(disk.dir(), options)) else {
            return;
        };
        let run = |db: &mut Db| -> std::io::Result<()> {
            for i in 0..n {
                db.put(load_key(0, i % keys, keys).as_bytes(), &load_value(i))?;
            }
            for p in 0..keys.min(100) {
                db.get(load_key(0, p, keys).as_bytes())?;
            }
            Ok(())
        };
        if let Err(why) = catch(|| run(&mut db)) {
            println!("error: {why}");
            return;
        }
        match catch(|| db.stats()) {
            Ok(stats) => println!(
                "  {:<8} {:>7.2} {:>7.2} {:>7.2}   {}",
                format!("{strategy:?}").to_lowercase(),
                stats.write_amplification,
                stats.read_amplification,
                stats.space_amplification,
                level_counts(&db.tables())
            ),
            Err(why) => println!("  stats() failed: {why}"),
        }
    }
    println!(
        "  (write: bytes to the disk per byte put; read: table reads per get; space: file bytes per live byte)"
    );
}

fn stats_since(now: Stats, then: Stats) -> Stats {
    Stats {
        reads: now.reads - then.reads,
        bytes_read: now.bytes_read - then.bytes_read,
        writes: now.writes - then.writes,
        bytes_written: now.bytes_written - then.bytes_written,
        syncs: now.syncs - then.syncs,
        dir_syncs: now.dir_syncs - then.dir_syncs,
        opens: now.opens - then.opens,
    }
}

fn draw_files(disk: &SimDisk) {
    println!("files:");
    for file in disk.files() {
        let name_note = if file.durable_name {
            ""
        } else {
            "  (name not yet durable)"
        };
        println!(
            "  {:<12} {:>7} bytes, {} durable{name_note}",
            file.name, file.len, file.durable_len
        );
    }
}

fn draw_tables(db: &Db, memtable: &Memtable) {
    let writes = &memtable.writes;
    if memtable.replayed {
        println!(
            "memtable: the log's writes, replayed at recovery, and {} keys written since",
            writes.len()
        );
    } else if writes.is_empty() {
        println!("memtable: nothing written since the last flush");
    } else {
        println!(
            "memtable: {} keys written since the last flush",
            writes.len()
        );
    }
    for (key, value) in writes.iter().take(12) {
        match value {
            Some(value) => println!("  {} = {}", show(key), show(value)),
            None => println!("  {} deleted (a tombstone)", show(key)),
        }
    }
    if writes.len() > 12 {
        println!("  ... and {} more", writes.len() - 12);
    }
    let tables = db.tables();
    if tables.is_empty() {
        println!("no tables");
    }
    let deepest = tables.iter().map(|t| t.level).max().unwrap_or(0);
    for level in 0..=deepest {
        let mut label = format!("L{level}:");
        let mut of_level: Vec<&TableInfo> = tables.iter().filter(|t| t.level == level).collect();
        if of_level.is_empty() {
            println!("{label} no tables");
        }
        // Level 0 newest first (the order a get asks them in); deeper levels by key.
        if level > 0 {
            of_level.sort_by(|a, b| a.first_key.cmp(&b.first_key));
        }
        for table in of_level {
            println!(
                "{label:<4} {:06}.sst  {:>6} bytes  [{} .. {}]",
                table.number,
                table.size,
                show(&table.first_key),
                show(&table.last_key)
            );
            label = String::new();
        }
    }
}

/// The number of the newest table of level 0, the one a flush just wrote.
fn newest_in_l0(db: &Db) -> u64 {
    db.tables()
        .iter()
        .filter(|t| t.level == 0)
        .map(|t| t.number)
        .max()
        .unwrap_or(0)
}

/// How many tables each level holds, as "L0 2, L1 5".
fn level_counts(tables: &[TableInfo]) -> String {
    let deepest = tables.iter().map(|t| t.level).max().unwrap_or(0);
    (0..=deepest)
        .map(|level| {
            let n = tables.iter().filter(|t| t.level == level).count();
            format!("L{level} {n}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The MANIFEST's last whole record, decoded as the flush scene's README lays it out.
fn draw_manifest(disk: &SimDisk) {
    let Some(bytes) = disk.contents(MANIFEST) else {
        println!("MANIFEST: none");
        return;
    };
    let mut records = 0;
    let mut last = None;
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + 8) {
        let crc = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(header[4..].try_into().expect("4 bytes")) as usize;
        let Some(body) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        if crc32(&bytes[at + 4..at + 8 + len]) != crc {
            break;
        }
        records += 1;
        last = Some(body);
        at += 8 + len;
    }
    let tail = bytes.len() - at;
    let tail_note = if tail > 0 {
        format!(", then {tail} bytes that are no whole record")
    } else {
        String::new()
    };
    println!("MANIFEST: {records} records{tail_note}");
    if let Some(body) = last.and_then(decode_body) {
        println!("  the last: {body}");
    }
}

fn decode_body(body: &[u8]) -> Option<String> {
    let mut at = 0;
    let mut take = |n: usize| -> Option<&[u8]> {
        let bytes = body.get(at..at + n)?;
        at += n;
        Some(bytes)
    };
    let u64_at = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    let u32_at = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
    let last_seq = u64_at(take(8)?);
    let next_file = u64_at(take(8)?);
    let log = u64_at(take(8)?);
    let count = u32_at(take(4)?);
    let mut tables = Vec::new();
    for _ in 0..count {
        let level = u32_at(take(4)?);
        let number = u64_at(take(8)?);
        let _size = u64_at(take(8)?);
        let first_len = u32_at(take(4)?) as usize;
        let first = take(first_len)?.to_vec();
        let last_len = u32_at(take(4)?) as usize;
        let last = take(last_len)?.to_vec();
        tables.push(format!(
            "L{level} {number:06}.sst [{} .. {}]",
            show(&first),
            show(&last)
        ));
    }
    Some(format!(
        "last seq {last_seq}, next file {next_file}, log {log:06}.log, tables: {}",
        if tables.is_empty() {
            "none".to_string()
        } else {
            tables.join(", ")
        }
    ))
}

/// Runs a call of the learner's code; a panic becomes an error to print, not the end.
fn catch<T>(call: impl FnOnce() -> std::io::Result<T>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("the code panicked (its message is above)".into()),
    }
}

fn attempt(what: &str, open: impl FnOnce() -> std::io::Result<Db>) -> Option<Db> {
    match catch(open) {
        Ok(db) => Some(db),
        Err(why) => {
            println!("{what} failed: {why}");
            None
        }
    }
}
