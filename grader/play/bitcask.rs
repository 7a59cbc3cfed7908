//! The bitcask playground: a store on a simulated disk, a prompt to drive it, the power switch,
//! and a picture of the segments, their records and the key directory.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};

use bitcask_durability::{Options, Store, SyncPolicy};
use bitcask_record::{DecodeError, decode};
use kit::crash::show;
use kit::sim::SimDisk;

const HELP: &str = "\
put KEY VALUE    write a value          get KEY     read it back
del KEY          delete a key           big KEY N   write a value of N bytes
sync             make every write so far durable
merge            compact the closed segments
crash            pull the power: unsynced writes may be lost or torn
recover          power on, see what survived, and let the store recover
show             draw the segments, their records and the key directory
quit";

/// Small segments, so that a few writes already make several.
const OPTIONS: Options = Options {
    max_segment_bytes: 1024,
    sync: SyncPolicy::Never,
};

pub fn main() {
    let disk = SimDisk::new(1);
    let mut keys: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut store = attempt("opening the store", || {
        Store::open_with(disk.dir(), OPTIONS)
    });
    println!("A bitcask store on a simulated disk. Type `help` for the commands.");
    let stdin = std::io::stdin();
    loop {
        print!("bitcask> ");
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
                store = None;
                println!("the power is off; `recover` turns it back on");
            }
            ["recover"] => {
                store = None;
                println!("on restart, {}", disk.restart());
                draw_files(&disk);
                let before = disk.files();
                store = attempt("recovering", || Store::open_with(disk.dir(), OPTIONS));
                for (old, new) in before.iter().zip(disk.files()) {
                    if old.name == new.name && new.len < old.len {
                        println!(
                            "recovery cut {} from {} to {} bytes",
                            new.name, old.len, new.len
                        );
                    }
                }
            }
            ["show"] => {
                draw_files(&disk);
                if let Some(store) = &store {
                    draw_keys(store, &keys);
                }
            }
            command => match &store {
                None => println!("no store is open: `recover` first"),
                Some(store) => run(store, &disk, command, &mut keys),
            },
        }
    }
}

fn run(store: &Store, disk: &SimDisk, command: &[&str], keys: &mut BTreeSet<Vec<u8>>) {
    let done = |what: &str, result: std::io::Result<()>| match result {
        Ok(()) => println!("ok"),
        Err(error) => println!("{what} failed: {error}"),
    };
    match command {
        ["put", key, value @ ..] if !value.is_empty() => {
            keys.insert(key.as_bytes().to_vec());
            let value = value.join(" ");
            guarded(|| done("put", store.put(key.as_bytes(), value.as_bytes())));
        }
        ["big", key, size] => match size.parse::<usize>() {
            Ok(size) => {
                keys.insert(key.as_bytes().to_vec());
                let value: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
                guarded(|| done("put", store.put(key.as_bytes(), &value)));
            }
            Err(_) => println!("usage: {} (N is a number of bytes)", usage("big")),
        },
        ["get", key] => guarded(|| match store.get(key.as_bytes()) {
            Ok(Some(value)) => println!("{}", show(&value)),
            Ok(None) => println!("(none)"),
            Err(error) => println!("get failed: {error}"),
        }),
        ["del", key] => {
            keys.insert(key.as_bytes().to_vec());
            guarded(|| done("delete", store.delete(key.as_bytes())));
        }
        ["sync"] => guarded(|| done("sync", store.sync())),
        ["merge"] => guarded(|| merge(store, disk)),
        ["put" | "del" | "get" | "big", ..] => println!("usage: {}", usage(command[0])),
        _ => println!("unknown command; `help` lists them"),
    }
}

/// How a command is called.
fn usage(command: &str) -> &'static str {
    match command {
        "put" => "put KEY VALUE",
        "del" => "del KEY",
        "get" => "get KEY",
        _ => "big KEY N",
    }
}

/// Merges, and says what it changed: a merge compacts the closed segments only, so with none
/// there is nothing to do, and the prompt says so rather than a bare "ok".
fn merge(store: &Store, disk: &SimDisk) {
    let segments = |disk: &SimDisk| -> (usize, u64) {
        let files = disk.files();
        let logs: Vec<_> = files.iter().filter(|f| f.name.ends_with(".log")).collect();
        (logs.len(), logs.iter().map(|f| f.len).sum())
    };
    let (count, bytes) = segments(disk);
    if count < 2 {
        println!(
            "nothing to merge: only the active segment exists, and a merge compacts closed \
             ones (write more than {} bytes to close it)",
            OPTIONS.max_segment_bytes
        );
        return;
    }
    match store.merge() {
        Ok(()) => {
            let (after, after_bytes) = segments(disk);
            println!(
                "merged: {count} segments of {bytes} bytes in all became {after} of \
                 {after_bytes} bytes (`show` draws them)"
            );
        }
        Err(error) => println!("merge failed: {error}"),
    }
}

/// Every file, and for segments every record, with what a crash would lose marked.
fn draw_files(disk: &SimDisk) {
    for file in disk.files() {
        let name_note = if file.durable_name {
            ""
        } else {
            "  (name not yet durable)"
        };
        println!(
            "{}  {} bytes, {} durable{name_note}",
            file.name, file.len, file.durable_len
        );
        if !file.name.ends_with(".log") {
            continue;
        }
        let bytes = disk.contents(&file.name).unwrap_or_default();
        let mut at = 0;
        while at < bytes.len() {
            let end_note = |end: usize| {
                if end as u64 > file.durable_len {
                    "  unsynced"
                } else {
                    ""
                }
            };
            match catch_unwind(|| decode(&bytes[at..])) {
                Ok(Ok((record, used))) => {
                    let what = match &record.value {
                        Some(value) => format!("put {} = {}", show(&record.key), show(value)),
                        None => format!("delete {}", show(&record.key)),
                    };
                    println!("  @{at:<6} {what}{}", end_note(at + used));
                    at += used;
                }
                Ok(Err(DecodeError::Incomplete)) => {
                    println!(
                        "  @{at:<6} {} bytes of an incomplete record (a torn tail)",
                        bytes.len() - at
                    );
                    break;
                }
                Ok(Err(DecodeError::Corrupt)) => {
                    println!(
                        "  @{at:<6} {} bytes that fail their checksum (torn or garbage)",
                        bytes.len() - at
                    );
                    break;
                }
                Err(_) => {
                    println!("  (your decode panicked on the bytes at {at})");
                    break;
                }
            }
        }
    }
}

fn draw_keys(store: &Store, keys: &BTreeSet<Vec<u8>>) {
    println!("key directory (the keys used here):");
    for key in keys {
        match catch_unwind(AssertUnwindSafe(|| store.get(key))) {
            Ok(Ok(Some(value))) => println!("  {} -> {}", show(key), show(&value)),
            Ok(Ok(None)) => println!("  {} -> (none)", show(key)),
            Ok(Err(error)) => println!("  {} -> error: {error}", show(key)),
            Err(_) => println!("  {} -> your get panicked", show(key)),
        }
    }
}

/// Runs a command of the learner's store; a panic is reported, and the prompt goes on.
fn guarded(f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        println!("your code panicked (see above); the store may be in a strange state");
    }
}

fn attempt(what: &str, open: impl FnOnce() -> std::io::Result<Store>) -> Option<Store> {
    match catch_unwind(AssertUnwindSafe(open)) {
        Ok(Ok(store)) => Some(store),
        Ok(Err(error)) => {
            println!("{what} failed: {error}");
            None
        }
        Err(_) => {
            println!("{what} panicked (see above)");
            None
        }
    }
}
