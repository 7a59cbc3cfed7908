//! A tiny log-structured store on the kit's disk, with switches for classic mistakes: the
//! kit's own tests and benchmark run the crash driver against it.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use kit::disk::{Dir, File};

/// The mistakes the store can be told to make.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mistakes {
    pub skip_checksum: bool,
    pub skip_sync: bool,
    pub keep_torn_tail: bool,
}

pub struct TinyStore {
    file: Box<dyn File>,
    index: HashMap<Vec<u8>, Option<Vec<u8>>>,
    mistakes: Mistakes,
}

const LOG: &str = "store.log";
const HEADER: usize = 12;
const TOMBSTONE: u32 = u32::MAX;

fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811C_9DC5, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

impl TinyStore {
    pub fn open(dir: Arc<dyn Dir>, mistakes: Mistakes) -> io::Result<TinyStore> {
        let file = match dir.open(LOG) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let file = dir.create(LOG)?;
                dir.sync()?;
                file
            }
            Err(e) => return Err(e),
        };
        let len = file.len()?;
        let mut bytes = vec![0; len as usize];
        file.read_exact_at(0, &mut bytes)?;
        let mut index = HashMap::new();
        let mut at = 0;
        while let Some((key, value, size)) = decode(&bytes[at..], mistakes) {
            index.insert(key, value);
            at += size;
        }
        if at < bytes.len() && !mistakes.keep_torn_tail {
            file.truncate(at as u64)?;
        }
        Ok(TinyStore {
            file,
            index,
            mistakes,
        })
    }

    pub fn write(&mut self, key: &[u8], value: Option<&[u8]>) -> io::Result<()> {
        let mut body = Vec::new();
        body.extend_from_slice(&(key.len() as u32).to_le_bytes());
        let value_len = value.map_or(TOMBSTONE, |v| v.len() as u32);
        body.extend_from_slice(&value_len.to_le_bytes());
        body.extend_from_slice(key);
        body.extend_from_slice(value.unwrap_or_default());
        let mut record = checksum(&body).to_le_bytes().to_vec();
        record.extend_from_slice(&body);
        self.file.append(&record)?;
        self.index.insert(key.to_vec(), value.map(<[u8]>::to_vec));
        Ok(())
    }

    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.index.get(key).cloned().flatten()
    }

    pub fn sync(&self) -> io::Result<()> {
        if self.mistakes.skip_sync {
            return Ok(());
        }
        self.file.sync()
    }
}

fn decode(bytes: &[u8], mistakes: Mistakes) -> Option<(Vec<u8>, Option<Vec<u8>>, usize)> {
    if bytes.len() < HEADER {
        return None;
    }
    let stored = u32::from_le_bytes(bytes[0..4].try_into().ok()?);
    let key_len = u32::from_le_bytes(bytes[4..8].try_into().ok()?) as usize;
    let value_len = u32::from_le_bytes(bytes[8..12].try_into().ok()?);
    let body_len = if value_len == TOMBSTONE {
        0
    } else {
        value_len as usize
    };
    let size = HEADER.checked_add(key_len)?.checked_add(body_len)?;
    if bytes.len() < size {
        return None;
    }
    if !mistakes.skip_checksum && checksum(&bytes[4..size]) != stored {
        return None;
    }
    let key = bytes[HEADER..HEADER + key_len].to_vec();
    let value = (value_len != TOMBSTONE).then(|| bytes[HEADER + key_len..size].to_vec());
    Some((key, value, size))
}

/// Drives a [`TinyStore`] with the mistakes `M` names.
pub struct Tiny<const M: u8>;

impl<const M: u8> kit::crash::Subject for Tiny<M> {
    type Store = TinyStore;

    fn open(dir: Arc<dyn Dir>) -> io::Result<TinyStore> {
        let mistakes = Mistakes {
            skip_checksum: M & 1 != 0,
            skip_sync: M & 2 != 0,
            keep_torn_tail: M & 4 != 0,
        };
        TinyStore::open(dir, mistakes)
    }

    fn apply(store: &mut TinyStore, op: &kit::crash::KvOp) -> io::Result<()> {
        use kit::crash::KvOp;
        match op {
            KvOp::Put(k, v) => store.write(k, Some(v)),
            KvOp::Delete(k) => store.write(k, None),
            KvOp::Sync => store.sync(),
            KvOp::Maintain | KvOp::Reopen => Ok(()),
        }
    }

    fn get(store: &mut TinyStore, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        Ok(store.get(key))
    }
}
