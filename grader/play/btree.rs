//! The btree playground: SQL over the learner's engine on a simulated disk, a drawing of each
//! table's B+tree read straight from its file, the files and their unsynced pages, and the
//! power switch.

use std::io::{BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};

use btree_vm::{Database, Error, PAGE_SIZE, SCHEMA_FILE, Value};
use kit::sim::SimDisk;

const HELP: &str = "\
CREATE TABLE t (a INTEGER, b TEXT)   SQL: CREATE TABLE, INSERT, SELECT (one statement a line)
.explain SELECT ...   the plan the engine makes for a statement, without running it
.tree [FILE]          draw a file's B+tree, page by page (`schema` by default; tables are
                      table-1, table-2, ... in the order they were made)
.pages                the files, their pages, and how many bytes are not yet synced
.crash                pull the power: what was not synced may be lost or torn
.recover              power on, and open the database from what survived
.quit";

/// The page cache the playground opens the database with: small, so that `.pages` shows pages
/// going to the disk.
const CACHE_PAGES: usize = 8;

const LEAF_KIND: u8 = 0x0D;
const INTERNAL_KIND: u8 = 0x05;

pub fn main() {
    let disk = SimDisk::new(1);
    let mut db = open(&disk);
    println!("SQL over a B+tree on a simulated disk. Type `.help` for the commands.");
    let stdin = std::io::stdin();
    loop {
        print!("sql> ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let line = line.trim().trim_end_matches(';');
        let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
        match command {
            "" => {}
            ".help" => println!("{HELP}"),
            ".quit" | ".exit" => break,
            ".crash" => {
                disk.crash();
                db = None;
                println!("the power is off; `.recover` turns it back on");
            }
            ".recover" => {
                db = None;
                println!("on restart, {}", disk.restart());
                db = open(&disk);
                if db.is_some() {
                    println!("the database is open again");
                }
            }
            ".pages" => draw_files(&disk),
            ".tree" => draw_tree(
                &disk,
                if rest.is_empty() {
                    SCHEMA_FILE
                } else {
                    rest.trim()
                },
            ),
            ".explain" => match &mut db {
                None => println!("no database is open: `.recover` first"),
                Some(db) => match catch(|| db.explain(rest).map_err(error_text)) {
                    Ok(plan) => println!("{plan}"),
                    Err(why) => println!("error: {why}"),
                },
            },
            _ if command.starts_with('.') => println!("unknown command; `.help` lists them"),
            _ => match &mut db {
                None => println!("no database is open: `.recover` first"),
                Some(db) => match catch(|| db.execute(line).map_err(error_text)) {
                    Ok(rows) => print_rows(&rows),
                    Err(why) => println!("error: {why}"),
                },
            },
        }
    }
}

fn open(disk: &SimDisk) -> Option<Database> {
    match catch(|| Database::open(disk.dir(), CACHE_PAGES).map_err(error_text)) {
        Ok(db) => Some(db),
        Err(why) => {
            println!("opening the database failed: {why}");
            None
        }
    }
}

fn print_rows(rows: &[Vec<Value>]) {
    if rows.is_empty() {
        println!("ok");
        return;
    }
    for row in rows {
        let shown: Vec<String> = row.iter().map(value_text).collect();
        println!("{}", shown.join(" | "));
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Integer(n) => n.to_string(),
        Value::Real(x) => format!("{x:?}"),
        Value::Text(text) => text.clone(),
    }
}

fn draw_files(disk: &SimDisk) {
    let files = disk.files();
    if files.is_empty() {
        println!("no files");
    }
    for file in files {
        let unsynced = file.len.abs_diff(file.durable_len);
        let note = if file.durable_name {
            String::new()
        } else {
            "  (name not yet durable)".into()
        };
        println!(
            "  {:<10} {:>4} pages of {PAGE_SIZE} bytes, {} bytes not yet synced{note}",
            file.name,
            file.len / PAGE_SIZE as u64,
            unsynced
        );
    }
}

/// A file's tree as its bytes on the disk hold it (what was flushed; a page still in the cache
/// is not there yet): page 1 is the root; internal pages list their separators, leaves their
/// first and last keys.
fn draw_tree(disk: &SimDisk, name: &str) {
    let Some(bytes) = disk.contents(name) else {
        println!("no file {name}");
        return;
    };
    let page = |n: u32| -> Option<&[u8]> {
        let start = n as usize * PAGE_SIZE;
        bytes.get(start..start + PAGE_SIZE)
    };
    if page(1).is_none() {
        println!("{name}: no root page on the disk yet (it is still in the cache)");
        return;
    }
    println!("{name}: {} pages on the disk", bytes.len() / PAGE_SIZE);
    let mut stack = vec![(1u32, 0usize)];
    let mut drawn = 0;
    while let Some((number, depth)) = stack.pop() {
        drawn += 1;
        if drawn > 200 {
            println!("  ... (more pages)");
            return;
        }
        let indent = "  ".repeat(depth + 1);
        let Some(data) = page(number) else {
            println!("{indent}page {number}: past the end of the file");
            continue;
        };
        match data[0] {
            INTERNAL_KIND => {
                let (keys, children) = internal(data);
                let shown: Vec<String> = keys.iter().map(|k| key_text(k)).collect();
                println!(
                    "{indent}page {number} internal: {} keys [{}]",
                    keys.len(),
                    shown.join(", ")
                );
                for &child in children.iter().rev() {
                    stack.push((child, depth + 1));
                }
            }
            LEAF_KIND => {
                let keys = leaf_keys(data);
                let range = match (keys.first(), keys.last()) {
                    (Some(first), Some(last)) => {
                        format!(" [{} .. {}]", key_text(first), key_text(last))
                    }
                    _ => String::new(),
                };
                println!("{indent}page {number} leaf: {} keys{range}", keys.len());
            }
            kind => println!("{indent}page {number}: kind {kind:#04x}, not a tree page"),
        }
    }
}

fn u16_at(data: &[u8], at: usize) -> usize {
    data.get(at..at + 2)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]) as usize)
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    data.get(at..at + 4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// An internal page's keys and children, as the split scene lays them out.
fn internal(data: &[u8]) -> (Vec<Vec<u8>>, Vec<u32>) {
    let count = u16_at(data, 2);
    let mut keys = Vec::new();
    let mut children = Vec::new();
    let mut at = 8;
    for _ in 0..count {
        children.push(u32_at(data, at));
        let len = u16_at(data, at + 4);
        keys.push(data.get(at + 6..at + 6 + len).unwrap_or_default().to_vec());
        at += 6 + len;
    }
    children.push(u32_at(data, 4));
    (keys, children)
}

/// A leaf's keys in order, as the leaf scene lays them out.
fn leaf_keys(data: &[u8]) -> Vec<Vec<u8>> {
    (0..u16_at(data, 2))
        .map(|i| {
            let cell = u16_at(data, 12 + 2 * i);
            let len = u16_at(data, cell);
            data.get(cell + 4..cell + 4 + len)
                .unwrap_or_default()
                .to_vec()
        })
        .collect()
}

/// A key as the vm writes it: a rowid, 8 bytes big-endian with the sign bit flipped.
fn key_text(key: &[u8]) -> String {
    match <[u8; 8]>::try_from(key) {
        Ok(bytes) => (u64::from_be_bytes(bytes) ^ (1 << 63))
            .cast_signed()
            .to_string(),
        Err(_) => format!("{key:02x?}"),
    }
}

fn error_text(error: Error) -> String {
    format!("{:?}: {}", error.kind, error.message)
}

/// Runs a call of the learner's code; a panic becomes an error to print, not the end.
fn catch<T, E: std::fmt::Display>(call: impl FnOnce() -> Result<T, E>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("the code panicked (its message is above)".into()),
    }
}
