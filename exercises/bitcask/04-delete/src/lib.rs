//! Deletes: nothing in an append-only log is erased, so a delete appends a tombstone.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::collections::HashMap;
use std::io::{self, ErrorKind};
use std::sync::Arc;

use bitcask_log::{Log, Position};
use bitcask_record::Record;
use kit::disk::Dir;

/// The name of the store's one log file.
pub const LOG_NAME: &str = "000001.log";

/// A key-value store: one append-only log on disk, and a key directory in memory.
#[derive(Debug)]
pub struct Store {
    log: Log,
    /// Every live key written since the store opened, and where its latest record is. A deleted
    /// key has no entry.
    keydir: HashMap<Vec<u8>, Position>,
}

impl Store {
    /// Opens the store in `dir`, creating its log if there is none.
    ///
    /// This store does not read back what an earlier run wrote (recovery comes later): it starts
    /// with an empty key directory, and appends after whatever the log already holds.
    pub fn open(dir: Arc<dyn Dir>) -> io::Result<Store> {
        let log = match Log::open(dir.as_ref(), LOG_NAME) {
            Ok(log) => log,
            Err(error) if error.kind() == ErrorKind::NotFound => {
                Log::create(dir.as_ref(), LOG_NAME)?
            }
            Err(error) => return Err(error),
        };
        Ok(Store {
            log,
            keydir: HashMap::new(),
        })
    }

    /// Sets `key` to `value`: one append to the log, then the key directory points at it.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let position = self.log.append(&Record::put(key, value))?;
        // Only once the record is in the log: a failed append must not leave the key pointing
        // at nothing.
        self.keydir.insert(key.to_vec(), position);
        Ok(())
    }

    /// The latest value of `key`: one disk read if the key is present, none if it is absent.
    pub fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let Some(&position) = self.keydir.get(key) else {
            return Ok(None);
        };
        let record = self.log.read(position)?;
        if record.key != key {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!(
                    "the record at offset {} is for another key",
                    position.offset
                ),
            ));
        }
        Ok(record.value)
    }

    /// Deletes `key`: appends a tombstone, then drops the key from the key directory. Deleting
    /// a key that is not there is not an error.
    pub fn delete(&mut self, key: &[u8]) -> io::Result<()> {
        todo!()
    }
}
