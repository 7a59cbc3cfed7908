//! The write-ahead log: every write batch goes here, synced, before it is acknowledged, and the
//! memtable is rebuilt from it after a crash.
//!
//! The reference solution.

use std::io::{self, ErrorKind};

use kit::disk::{Dir, File};

/// One change to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put { key: Vec<u8>, value: Vec<u8> },
    Delete { key: Vec<u8> },
}

/// Ops applied together, numbered from `seq`: the first has sequence number `seq`, the next
/// `seq + 1`, and so on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub seq: u64,
    pub ops: Vec<Op>,
}

/// The bytes before a record's body: its checksum, then its length.
const HEADER: usize = 8;

const PUT: u8 = 1;
const DELETE: u8 = 2;

/// An append-only log of commits, each one record.
#[derive(Debug)]
pub struct Wal {
    file: Box<dyn File>,
    /// Where the next record goes: the end of the last whole record.
    len: u64,
    /// A failed commit left bytes after `len`, and cutting them off failed too: the next commit
    /// cuts them first, so that it never follows garbage.
    torn: bool,
    recovered: Vec<Batch>,
}

impl Wal {
    /// Creates a new, empty log called `name`, and syncs the directory so that the name survives
    /// a crash.
    pub fn create(dir: &dyn Dir, name: &str) -> io::Result<Wal> {
        let file = dir.create(name)?;
        dir.sync()?;
        Ok(Wal {
            file,
            len: 0,
            torn: false,
            recovered: Vec::new(),
        })
    }

    /// Opens the log called `name` and replays it: every batch of every whole record, in order
    /// (see [`Wal::recovered`]). A torn tail is cut off, and the cut synced, before this
    /// returns (if either fails, so does this); a damaged record with a whole record after it
    /// is `InvalidData`.
    pub fn open(dir: &dyn Dir, name: &str) -> io::Result<Wal> {
        let file = dir.open(name)?;
        let size = file.len()?;
        let mut buf = vec![0; size as usize];
        file.read_exact_at(0, &mut buf)?;

        let mut recovered = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            match record_at(&buf, at) {
                Some(body) => {
                    recovered.extend(decode_body(body).ok_or_else(|| {
                        invalid(format!("the record at offset {at} has a malformed body"))
                    })?);
                    at += HEADER + body.len();
                }
                // A crash tears only the last write, so a whole record further on means this one
                // was damaged after it was synced: dropping it would drop acknowledged batches.
                None => match (at + 1..buf.len()).find(|&next| record_at(&buf, next).is_some()) {
                    Some(next) => {
                        return Err(invalid(format!(
                            "the record at offset {at} is damaged, and a whole record follows \
                             at offset {next}"
                        )));
                    }
                    None => break,
                },
            }
        }
        let len = at as u64;
        if len < size {
            file.truncate(len)?;
            file.sync()?;
        }
        Ok(Wal {
            file,
            len,
            torn: false,
            recovered,
        })
    }

    /// The batches [`Wal::open`] replayed, in the order they were committed (none for a log
    /// just created).
    pub fn recovered(&self) -> &[Batch] {
        &self.recovered
    }

    /// Writes `batches` as one record in one write, then syncs once: `Ok` means every one of
    /// them is durable. On failure none of them is acknowledged, and the log is cut back to
    /// where it was, so it never replays them and the next commit follows the last good record.
    pub fn commit(&mut self, batches: &[Batch]) -> io::Result<()> {
        let record = encode(batches)?;
        if self.torn {
            self.file.truncate(self.len)?;
            self.torn = false;
        }
        let written = self.file.append(&record).and_then(|_| self.file.sync());
        if let Err(error) = written {
            // A failed write may have left part of the record behind, and a failed sync leaves
            // all of it: either would replay, or sit before the next record, unless cut.
            self.torn = self.file.truncate(self.len).is_err();
            return Err(error);
        }
        self.len += record.len() as u64;
        Ok(())
    }

    /// The log's length in bytes: where the next record goes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the log holds no records.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, message)
}

/// The record of one commit: checksum, length, then the body (how many batches, then each).
fn encode(batches: &[Batch]) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    put_len(&mut body, batches.len())?;
    for batch in batches {
        body.extend_from_slice(&batch.seq.to_le_bytes());
        put_len(&mut body, batch.ops.len())?;
        for op in &batch.ops {
            match op {
                Op::Put { key, value } => {
                    body.push(PUT);
                    put_bytes(&mut body, key)?;
                    put_bytes(&mut body, value)?;
                }
                Op::Delete { key } => {
                    body.push(DELETE);
                    put_bytes(&mut body, key)?;
                }
            }
        }
    }
    let mut covered = Vec::with_capacity(4 + body.len());
    put_len(&mut covered, body.len())?;
    covered.extend_from_slice(&body);
    let mut record = crc32fast::hash(&covered).to_le_bytes().to_vec();
    record.extend_from_slice(&covered);
    Ok(record)
}

fn put_len(out: &mut Vec<u8>, len: usize) -> io::Result<()> {
    let len = u32::try_from(len).map_err(|_| {
        io::Error::new(
            ErrorKind::InvalidInput,
            "a commit must fit in a 4 GiB record",
        )
    })?;
    out.extend_from_slice(&len.to_le_bytes());
    Ok(())
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> io::Result<()> {
    put_len(out, bytes.len())?;
    out.extend_from_slice(bytes);
    Ok(())
}

/// The body of the whole, intact record at `at`, if there is one.
fn record_at(buf: &[u8], at: usize) -> Option<&[u8]> {
    let header = buf.get(at..at + HEADER)?;
    let crc = u32::from_le_bytes(header[..4].try_into().ok()?);
    let len = u32::from_le_bytes(header[4..].try_into().ok()?) as usize;
    let covered = buf.get(at + 4..(at + HEADER).checked_add(len)?)?;
    (crc32fast::hash(covered) == crc).then(|| &covered[4..])
}

/// Reads a body back; `None` if it is not one.
fn decode_body(body: &[u8]) -> Option<Vec<Batch>> {
    let mut reader = Reader(body);
    let count = reader.u32()?;
    let mut batches = Vec::new();
    for _ in 0..count {
        let seq = u64::from_le_bytes(reader.take(8)?.try_into().ok()?);
        let n = reader.u32()?;
        let mut ops = Vec::new();
        for _ in 0..n {
            let op = match reader.take(1)?[0] {
                PUT => Op::Put {
                    key: reader.bytes()?,
                    value: reader.bytes()?,
                },
                DELETE => Op::Delete {
                    key: reader.bytes()?,
                },
                _ => return None,
            };
            ops.push(op);
        }
        batches.push(Batch { seq, ops });
    }
    reader.0.is_empty().then_some(batches)
}

/// What is left of a body to read.
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

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.u32()? as usize;
        Some(self.take(n)?.to_vec())
    }
}
