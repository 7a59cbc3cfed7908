//! Helpers the lsm checks share.

// Every judge of the track includes this module, and a scene uses only what it needs of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;

use judge::prelude::*;
use kit::checksum::crc32;
use kit::crash::show;
use kit::sim::{Fault, OpKind, SimDisk};

/// The kinds of operation a store over one file makes, and a fault can be aimed at.
pub const KINDS: [OpKind; 7] = [
    OpKind::Read,
    OpKind::Write,
    OpKind::Sync,
    OpKind::DirSync,
    OpKind::Create,
    OpKind::Open,
    OpKind::Len,
];

/// The faults an operation of `kind` is failed with in a sweep: an I/O error and a full disk,
/// and for a sync, one that loses the unsynced data too.
pub fn faults_for(kind: OpKind) -> Vec<Fault> {
    let mut faults = vec![Fault::IoError, Fault::DiskFull];
    if kind == OpKind::Sync {
        faults.push(Fault::SyncLosesData);
    }
    faults
}

/// A disk holding one file, `name`, of exactly `bytes`, durable: what a check reads back or
/// damages by hand.
pub fn disk_holding(seed: u64, name: &str, bytes: &[u8]) -> Result<SimDisk, Failure> {
    let disk = SimDisk::new(seed);
    let dir = disk.dir();
    let setup = || -> io::Result<()> {
        let file = dir.create(name)?;
        if !bytes.is_empty() {
            file.append(bytes)?;
        }
        file.sync()?;
        dir.sync()
    };
    setup().map_err(|e| Failure::new(format!("setting up the disk failed: {e}")))?;
    Ok(disk)
}

// ---------------------------------------------------------------------------------------------
// The table format
//
// The spec of the lsm scenes' table file in code: a writer (entries and options to bytes), and a
// parser that decodes a file back to its blocks and entries, checking every rule of the format
// and naming the first one broken with its byte offset.

/// The last 8 bytes of every table.
pub const TABLE_MAGIC: u64 = 0x4C53_4D54_4142_4C45;

/// Index offset, index size, filter offset, filter size, magic: five u64s.
pub const TABLE_FOOTER_LEN: usize = 40;

/// A version of a key: `None` is a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEntry {
    pub key: Vec<u8>,
    pub seq: u64,
    pub value: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableOptions {
    pub block_size: usize,
    pub restart_interval: usize,
}

impl Default for TableOptions {
    fn default() -> TableOptions {
        TableOptions {
            block_size: 4096,
            restart_interval: 16,
        }
    }
}

/// `seq << 8 | kind`: kind 1 is a put, 0 a tombstone.
pub fn trailer(entry: &TableEntry) -> u64 {
    entry.seq << 8 | u64::from(entry.value.is_some())
}

/// How two (key, seq) compare in table order: key ascending, then seq descending.
pub fn table_order(a: (&[u8], u64), b: (&[u8], u64)) -> std::cmp::Ordering {
    a.0.cmp(b.0).then(b.1.cmp(&a.1))
}

/// LEB128: 7 bits a byte, low bits first, the top bit set on every byte but the last.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Encodes a block of `(key, trailer, value)` entries, a restart every `interval` entries.
fn write_block(entries: &[(Vec<u8>, u64, Vec<u8>)], interval: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut restarts = Vec::new();
    for (i, (key, trailer, value)) in entries.iter().enumerate() {
        let shared = if i.is_multiple_of(interval) {
            restarts.push(out.len() as u32);
            0
        } else {
            common_prefix(&entries[i - 1].0, key)
        };
        put_varint(&mut out, shared as u64);
        put_varint(&mut out, (key.len() - shared) as u64);
        put_varint(&mut out, value.len() as u64);
        out.extend_from_slice(&key[shared..]);
        out.extend_from_slice(&trailer.to_le_bytes());
        out.extend_from_slice(value);
    }
    for restart in &restarts {
        out.extend_from_slice(&restart.to_le_bytes());
    }
    out.extend_from_slice(&(restarts.len() as u32).to_le_bytes());
    out
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The table file of `entries` (in table order) under `options`.
pub fn write_table(entries: &[TableEntry], options: TableOptions) -> Vec<u8> {
    write_table_with(entries, options, None)
}

/// The table file of `entries` under `options`, with `filter` as its filter block: after the
/// data blocks and before the index, followed by its crc, and named by the footer's filter
/// offset and size (without the crc).
pub fn write_table_with_filter(
    entries: &[TableEntry],
    options: TableOptions,
    filter: &[u8],
) -> Vec<u8> {
    write_table_with(entries, options, Some(filter))
}

fn write_table_with(
    entries: &[TableEntry],
    options: TableOptions,
    filter: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut index = Vec::new();
    let mut block: Vec<(Vec<u8>, u64, Vec<u8>)> = Vec::new();
    let mut flush = |block: &mut Vec<(Vec<u8>, u64, Vec<u8>)>, out: &mut Vec<u8>| {
        let bytes = write_block(block, options.restart_interval);
        let (key, trailer, _) = block.pop().expect("a data block is never empty");
        let mut handle = Vec::new();
        put_varint(&mut handle, out.len() as u64);
        put_varint(&mut handle, bytes.len() as u64);
        index.push((key, trailer, handle));
        out.extend_from_slice(&bytes);
        out.extend_from_slice(&crc32(&bytes).to_le_bytes());
        block.clear();
    };
    for entry in entries {
        let value = entry.value.clone().unwrap_or_default();
        block.push((entry.key.clone(), trailer(entry), value));
        if write_block(&block, options.restart_interval).len() >= options.block_size {
            flush(&mut block, &mut out);
        }
    }
    if !block.is_empty() {
        flush(&mut block, &mut out);
    }
    let (filter_offset, filter_size) = match filter {
        Some(filter) => {
            let at = out.len() as u64;
            out.extend_from_slice(filter);
            out.extend_from_slice(&crc32(filter).to_le_bytes());
            (at, filter.len() as u64)
        }
        None => (0, 0),
    };
    let index = write_block(&index, 1);
    let index_offset = out.len() as u64;
    out.extend_from_slice(&index);
    out.extend_from_slice(&crc32(&index).to_le_bytes());
    for field in [
        index_offset,
        index.len() as u64,
        filter_offset,
        filter_size,
        TABLE_MAGIC,
    ] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out
}

/// A rule of the format a file breaks, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    pub offset: u64,
    pub rule: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.rule)
    }
}

/// One entry of a block as the parser decoded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEntry {
    /// Where the entry starts in the file.
    pub offset: u64,
    pub key: Vec<u8>,
    pub trailer: u64,
    pub value: Vec<u8>,
}

/// A data block: where it is, how long (without its crc), its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataBlock {
    pub offset: u64,
    pub size: u64,
    pub entries: Vec<TableEntry>,
}

/// A table file, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTable {
    pub blocks: Vec<DataBlock>,
}

impl ParsedTable {
    pub fn entries(&self) -> Vec<TableEntry> {
        self.blocks
            .iter()
            .flat_map(|block| block.entries.iter().cloned())
            .collect()
    }
}

fn broken<T>(offset: u64, rule: impl Into<String>) -> Result<T, FormatError> {
    Err(FormatError {
        offset,
        rule: rule.into(),
    })
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// Reads a varint at `*at` of `bytes` (which start at file offset `base`), moving `*at` past it.
fn varint(bytes: &[u8], at: &mut usize, base: u64, field: &str) -> Result<u64, FormatError> {
    let start = *at;
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let Some(&byte) = bytes.get(*at) else {
            return broken(
                base + start as u64,
                format!("the {field} varint runs past the end of the block's entries"),
            );
        };
        *at += 1;
        value |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    broken(
        base + start as u64,
        format!("the {field} varint is longer than 10 bytes"),
    )
}

/// Decodes the block `block` (at file offset `base`, without its crc): its entries, with every
/// rule of the block format checked for restart interval `interval`, and the length of its
/// entries. An index block's values are handles, whatever the kind in their trailers.
fn parse_block(
    block: &[u8],
    base: u64,
    interval: usize,
    is_index: bool,
) -> Result<(Vec<BlockEntry>, usize), FormatError> {
    let end = base + block.len() as u64;
    if block.len() < 4 {
        return broken(
            base,
            format!(
                "a block of {} bytes is too short for its restart count (4 bytes)",
                block.len()
            ),
        );
    }
    let n = u32_at(block, block.len() - 4) as usize;
    let Some(entries_len) = block.len().checked_sub(4 + 4 * n) else {
        return broken(
            end - 4,
            format!(
                "the block's restart count is {n}, more restarts than its {} bytes hold",
                block.len()
            ),
        );
    };
    let restarts: Vec<u32> = (0..n).map(|i| u32_at(block, entries_len + 4 * i)).collect();
    let region = &block[..entries_len];
    let mut entries: Vec<BlockEntry> = Vec::new();
    let mut at = 0;
    while at < region.len() {
        let start = at;
        let offset = base + start as u64;
        let i = entries.len();
        let shared = varint(region, &mut at, base, "shared")? as usize;
        let unshared = varint(region, &mut at, base, "unshared")? as usize;
        let value_len = varint(region, &mut at, base, "value_len")? as usize;
        let previous: &[u8] = entries.last().map_or(&[], |e| &e.key);
        let restart = i.is_multiple_of(interval);
        if restart && shared != 0 {
            return broken(
                offset,
                format!(
                    "entry {i} of the block is a restart point, but its shared is {shared}, not 0"
                ),
            );
        }
        if shared > previous.len() {
            return broken(
                offset,
                format!(
                    "entry {i} of the block shares {shared} bytes with the previous key, which \
                     is {} bytes long",
                    previous.len()
                ),
            );
        }
        let Some(suffix) = region.get(at..at.saturating_add(unshared)) else {
            return broken(
                offset,
                format!(
                    "entry {i}'s key suffix ({unshared} bytes) runs past the end of the block's \
                     entries"
                ),
            );
        };
        at += unshared;
        let mut key = previous[..shared.min(previous.len())].to_vec();
        key.extend_from_slice(suffix);
        if !restart && shared != common_prefix(previous, &key) {
            return broken(
                offset,
                format!(
                    "entry {i}'s shared is {shared}, but its key shares {} bytes with the previous \
                     entry's key (shared counts every byte in common with the previous key)",
                    common_prefix(previous, &key)
                ),
            );
        }
        let Some(trailer) = region.get(at..at + 8) else {
            return broken(
                base + at as u64,
                format!("entry {i}'s trailer runs past the end of the block's entries"),
            );
        };
        let trailer = u64::from_le_bytes(trailer.try_into().expect("8 bytes"));
        let kind = trailer & 0xFF;
        if kind > 1 {
            return broken(
                base + at as u64,
                format!(
                    "entry {i}'s trailer {trailer:#x} has kind {kind}: only 1 (a put) and 0 (a \
                     tombstone) are kinds"
                ),
            );
        }
        if kind == 0 && value_len != 0 && !is_index {
            return broken(
                offset,
                format!("entry {i} is a tombstone (kind 0) with value_len {value_len}, not 0"),
            );
        }
        at += 8;
        let Some(value) = region.get(at..at.saturating_add(value_len)) else {
            return broken(
                base + at as u64,
                format!(
                    "entry {i}'s value ({value_len} bytes) runs past the end of the block's entries"
                ),
            );
        };
        at += value_len;
        entries.push(BlockEntry {
            offset,
            key,
            trailer,
            value: value.to_vec(),
        });
    }
    let expected: Vec<u32> = entries
        .iter()
        .enumerate()
        .filter(|(i, _)| i.is_multiple_of(interval))
        .map(|(_, e)| (e.offset - base) as u32)
        .collect();
    if restarts != expected {
        return broken(
            base + entries_len as u64,
            format!(
                "the restart array is {restarts:?}: with {} entries and a restart interval of \
                 {interval}, it is the offsets in the block of entries 0, {interval}, ...: \
                 {expected:?}",
                entries.len()
            ),
        );
    }
    Ok((entries, entries_len))
}

/// Decodes a table file written with `options`, checking every rule of the format: the first
/// one broken is the error.
pub fn parse_table(file: &[u8], options: TableOptions) -> Result<ParsedTable, FormatError> {
    let len = file.len();
    if len < TABLE_FOOTER_LEN {
        return broken(
            0,
            format!("the file is {len} bytes, shorter than the {TABLE_FOOTER_LEN}-byte footer"),
        );
    }
    let footer = len - TABLE_FOOTER_LEN;
    let magic = u64_at(file, len - 8);
    if magic != TABLE_MAGIC {
        return broken(
            (len - 8) as u64,
            format!(
                "the footer's magic (the last 8 bytes) is {magic:#018x}, not {TABLE_MAGIC:#018x}"
            ),
        );
    }
    let [index_offset, index_size, filter_offset, filter_size] =
        [0, 8, 16, 24].map(|at| u64_at(file, footer + at));
    if (filter_offset, filter_size) != (0, 0) {
        return broken(
            (footer + 16) as u64,
            format!(
                "the footer's filter offset and size are {filter_offset} and {filter_size}: a \
                 table without a filter has 0 and 0"
            ),
        );
    }
    if index_offset
        .checked_add(index_size)
        .and_then(|end| end.checked_add(4))
        != Some(footer as u64)
    {
        return broken(
            footer as u64,
            format!(
                "the footer says the index block is at byte {index_offset}, {index_size} bytes \
                 long: with its crc it must end where the footer starts, at byte {footer}"
            ),
        );
    }
    let index = block_with_crc(
        file,
        index_offset as usize,
        index_size as usize,
        "the index block",
    )?;
    let (index, _) = parse_block(index, index_offset, 1, true)?;

    let mut blocks = Vec::new();
    let mut at = 0u64;
    let mut previous: Option<TableEntry> = None;
    for (b, handle) in index.iter().enumerate() {
        let mut h = 0;
        let offset = varint(&handle.value, &mut h, handle.offset, "block offset")?;
        let size = varint(&handle.value, &mut h, handle.offset, "block size")?;
        if h != handle.value.len() {
            return broken(
                handle.offset,
                format!(
                    "index entry {b}'s value is {} bytes: a handle is two varints, offset and \
                     size, and nothing else",
                    handle.value.len()
                ),
            );
        }
        if offset != at {
            return broken(
                handle.offset,
                format!(
                    "index entry {b} says data block {b} is at byte {offset}: blocks follow each \
                     other from byte 0, each with its crc, so it is at byte {at}"
                ),
            );
        }
        if size == 0 || size.saturating_add(offset + 4) > index_offset {
            return broken(
                handle.offset,
                format!(
                    "index entry {b} says data block {b} is {size} bytes at byte {offset}: it must \
                     hold at least its restart count, and end, with its crc, before the index at \
                     byte {index_offset}"
                ),
            );
        }
        let bytes = block_with_crc(
            file,
            offset as usize,
            size as usize,
            &format!("data block {b}"),
        )?;
        let (decoded, entries_len) = parse_block(bytes, offset, options.restart_interval, false)?;
        let Some(last) = decoded.last() else {
            return broken(
                offset,
                format!(
                    "data block {b} has no entries: an empty table has no data block, and every \
                     other block holds at least one entry"
                ),
            );
        };
        if (&last.key, last.trailer) != (&handle.key, handle.trailer) {
            return broken(
                handle.offset,
                format!(
                    "index entry {b} has key {} and trailer {:#x}, but the last entry of data \
                     block {b} has key {} and trailer {:#x}: the index holds each block's last key \
                     and trailer",
                    kit::crash::show(&handle.key),
                    handle.trailer,
                    kit::crash::show(&last.key),
                    last.trailer
                ),
            );
        }
        // The block was finished at its first entry that brought it to block_size.
        for (i, entry) in decoded.iter().enumerate() {
            let end = decoded
                .get(i + 1)
                .map_or(offset + entries_len as u64, |next| next.offset);
            let so_far = (end - offset) as usize + 4 * (i / options.restart_interval + 1) + 4;
            let full = so_far >= options.block_size;
            let last_in_block = i + 1 == decoded.len();
            if full && !last_in_block {
                return broken(
                    decoded[i + 1].offset,
                    format!(
                        "data block {b} goes on after its entry {i}, though with that entry the \
                         block was {so_far} bytes (entries, restarts and count), at least the \
                         block size {}: a block is finished as soon as it reaches the block size",
                        options.block_size
                    ),
                );
            }
            if !full && last_in_block && b + 1 < index.len() {
                return broken(
                    entry.offset,
                    format!(
                        "data block {b} ends after {} entries, at {so_far} bytes, under the block \
                         size {}, and is not the last block: a block is finished only once it \
                         reaches the block size",
                        decoded.len(),
                        options.block_size
                    ),
                );
            }
        }
        let mut entries = Vec::new();
        for entry in decoded {
            let table_entry = TableEntry {
                key: entry.key,
                seq: entry.trailer >> 8,
                value: (entry.trailer & 0xFF == 1).then_some(entry.value),
            };
            if let Some(before) = &previous
                && table_order(
                    (&before.key, before.seq),
                    (&table_entry.key, table_entry.seq),
                ) != std::cmp::Ordering::Less
            {
                return broken(
                    entry.offset,
                    format!(
                        "the entry with key {} and seq {} does not come after the one before it \
                         (key {}, seq {}): keys ascend, and a key's seqs descend",
                        kit::crash::show(&table_entry.key),
                        table_entry.seq,
                        kit::crash::show(&before.key),
                        before.seq
                    ),
                );
            }
            previous = Some(table_entry.clone());
            entries.push(table_entry);
        }
        blocks.push(DataBlock {
            offset,
            size,
            entries,
        });
        at = offset + size + 4;
    }
    if at != index_offset {
        return broken(
            at,
            format!(
                "the data blocks end at byte {at}, but the index block starts at byte \
                 {index_offset}: the index block follows the last data block's crc"
            ),
        );
    }
    Ok(ParsedTable { blocks })
}

/// The `size` bytes at `offset`, once the crc after them matches.
fn block_with_crc<'a>(
    file: &'a [u8],
    offset: usize,
    size: usize,
    what: &str,
) -> Result<&'a [u8], FormatError> {
    let bytes = &file[offset..offset + size];
    let stored = u32_at(file, offset + size);
    let crc = crc32(bytes);
    if stored != crc {
        return broken(
            (offset + size) as u64,
            format!(
                "{what}'s crc is {stored:#010x}, but the crc32 of its {size} bytes (at byte \
                 {offset}) is {crc:#010x}"
            ),
        );
    }
    Ok(bytes)
}

// ---------------------------------------------------------------------------------------------
// The log and the MANIFEST
//
// The write-ahead log's records and the MANIFEST's records share a frame: crc32 (of the length
// and the body), the body's length, then the body; every integer little-endian. A store reads
// the whole records from the start and stops at the first that is not whole: a torn tail.

/// The bodies of the whole records at the start of `bytes`, and where the first one that is not
/// whole starts (the length of `bytes` when every record is whole).
pub fn framed_records(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut bodies = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + 8) {
        let crc = u32_at(header, 0);
        let len = u32_at(header, 4) as usize;
        let Some(covered) = bytes.get(at + 4..at + 8 + len) else {
            break;
        };
        if crc32(covered) != crc {
            break;
        }
        bodies.push(&covered[4..]);
        at += 8 + len;
    }
    (bodies, at)
}

/// What is left of a record's body to read.
pub struct BodyReader<'a>(pub &'a [u8]);

impl<'a> BodyReader<'a> {
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// A u32 length, then that many bytes.
    pub fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.u32()? as usize;
        Some(self.take(n)?.to_vec())
    }
}

/// One write of the log: a key and its value, `None` for a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedWrite {
    pub seq: u64,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// Every write of a log's whole records, in order, each op with its own seq (the batch's seq,
/// plus its place in the batch); an error names the first malformed body.
pub fn parse_wal(bytes: &[u8]) -> Result<Vec<LoggedWrite>, String> {
    let (bodies, _) = framed_records(bytes);
    let mut writes = Vec::new();
    for (r, body) in bodies.into_iter().enumerate() {
        let mut reader = BodyReader(body);
        let malformed = || format!("record {r} of the log has a malformed body");
        let count = reader.u32().ok_or_else(malformed)?;
        for _ in 0..count {
            let seq = reader.u64().ok_or_else(malformed)?;
            let ops = reader.u32().ok_or_else(malformed)?;
            for i in 0..u64::from(ops) {
                let kind = reader.take(1).ok_or_else(malformed)?[0];
                let key = reader.bytes().ok_or_else(malformed)?;
                let value = match kind {
                    1 => Some(reader.bytes().ok_or_else(malformed)?),
                    2 => None,
                    _ => return Err(malformed()),
                };
                writes.push(LoggedWrite {
                    seq: seq + i,
                    key,
                    value,
                });
            }
        }
        if !reader.0.is_empty() {
            return Err(malformed());
        }
    }
    Ok(writes)
}

/// A table as a MANIFEST record lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTable {
    pub level: u32,
    pub number: u64,
    pub size: u64,
    pub first_key: Vec<u8>,
    pub last_key: Vec<u8>,
}

/// One MANIFEST record: the whole state of the database after an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    pub last_seq: u64,
    pub next_file: u64,
    pub wal: u64,
    pub tables: Vec<ListedTable>,
}

/// The MANIFEST's file name.
pub const MANIFEST_NAME: &str = "MANIFEST";

pub fn table_file(number: u64) -> String {
    format!("{number:06}.sst")
}

pub fn wal_file(number: u64) -> String {
    format!("{number:06}.log")
}

/// The body of a MANIFEST record for `record`.
pub fn manifest_body(record: &ManifestRecord) -> Vec<u8> {
    let mut body = Vec::new();
    for word in [record.last_seq, record.next_file, record.wal] {
        body.extend_from_slice(&word.to_le_bytes());
    }
    body.extend_from_slice(&(record.tables.len() as u32).to_le_bytes());
    for table in &record.tables {
        body.extend_from_slice(&table.level.to_le_bytes());
        body.extend_from_slice(&table.number.to_le_bytes());
        body.extend_from_slice(&table.size.to_le_bytes());
        for key in [&table.first_key, &table.last_key] {
            body.extend_from_slice(&(key.len() as u32).to_le_bytes());
            body.extend_from_slice(key);
        }
    }
    body
}

/// A whole framed record of `body`: crc32 of the length and the body, the length, the body.
pub fn framed(body: &[u8]) -> Vec<u8> {
    let mut covered = (body.len() as u32).to_le_bytes().to_vec();
    covered.extend_from_slice(body);
    let mut record = crc32(&covered).to_le_bytes().to_vec();
    record.extend_from_slice(&covered);
    record
}

/// The MANIFEST's whole records, in order, and the length of the whole ones (a torn tail
/// follows them when it is less than the file's); an error names the first malformed body.
pub fn parse_manifest(bytes: &[u8]) -> Result<(Vec<ManifestRecord>, usize), String> {
    let (bodies, whole) = framed_records(bytes);
    let mut records = Vec::new();
    for (r, body) in bodies.into_iter().enumerate() {
        let malformed = |what: &str| {
            format!(
                "MANIFEST record {r} (its body is {} bytes) is malformed: {what}",
                body.len()
            )
        };
        let mut reader = BodyReader(body);
        let mut word = |what: &str| reader.u64().ok_or_else(|| malformed(what));
        let (last_seq, next_file, wal) = (word("last seq")?, word("next file")?, word("log")?);
        let count = reader
            .u32()
            .ok_or_else(|| malformed("no table count after the log number"))?;
        let mut tables = Vec::new();
        for t in 0..count {
            let short = || malformed(&format!("it ends inside table {t} of {count}"));
            tables.push(ListedTable {
                level: reader.u32().ok_or_else(short)?,
                number: reader.u64().ok_or_else(short)?,
                size: reader.u64().ok_or_else(short)?,
                first_key: reader.bytes().ok_or_else(short)?,
                last_key: reader.bytes().ok_or_else(short)?,
            });
        }
        if !reader.0.is_empty() {
            return Err(malformed(&format!(
                "{} bytes follow its last table",
                reader.0.len()
            )));
        }
        records.push(ManifestRecord {
            last_seq,
            next_file,
            wal,
            tables,
        });
    }
    Ok((records, whole))
}

/// Keys and their values: what a database holds.
pub type KeyValues = BTreeMap<Vec<u8>, Vec<u8>>;

/// What a directory holds, rebuilt the way a recovery would: the MANIFEST's last whole record,
/// every table it lists (oldest first), then the log it names. `files` reads a file's bytes.
/// `Ok(None)` when there is no MANIFEST or it has no whole record; an error says which file
/// breaks which rule.
pub fn rebuild(
    files: impl Fn(&str) -> Option<Vec<u8>>,
    options: TableOptions,
) -> Result<Option<KeyValues>, String> {
    let Some(manifest) = files(MANIFEST_NAME) else {
        return Ok(None);
    };
    let (records, _) = parse_manifest(&manifest)?;
    let Some(record) = records.last() else {
        return Ok(None);
    };
    let mut state = KeyValues::new();
    for listed in record.tables.iter().rev() {
        let name = table_file(listed.number);
        let bytes = files(&name).ok_or_else(|| {
            format!("the MANIFEST's last record lists table {name}, which is not on the disk")
        })?;
        let parsed = parse_table(&bytes, options)
            .map_err(|e| format!("table {name}, listed by the MANIFEST, breaks the format {e}"))?;
        if bytes.len() as u64 != listed.size {
            return Err(format!(
                "the MANIFEST lists table {name} as {} bytes, but it is {} bytes",
                listed.size,
                bytes.len()
            ));
        }
        let mut seen: Option<Vec<u8>> = None;
        for entry in parsed.entries() {
            // Only a key's newest version in a table counts.
            if seen.as_ref() == Some(&entry.key) {
                continue;
            }
            seen = Some(entry.key.clone());
            match entry.value {
                Some(value) => state.insert(entry.key, value),
                None => state.remove(&entry.key),
            };
        }
    }
    let name = wal_file(record.wal);
    let log = files(&name).ok_or_else(|| {
        format!("the MANIFEST's last record names the log {name}, which is not on the disk")
    })?;
    for write in parse_wal(&log).map_err(|e| format!("{name}: {e}"))? {
        match write.value {
            Some(value) => state.insert(write.key, value),
            None => state.remove(&write.key),
        };
    }
    Ok(Some(state))
}

// ---------------------------------------------------------------------------------------------
// A model of the database of the flush scene and after
//
// What the database and its directory hold after each call, file by file: the MANIFEST's
// records, each table's entries and the log's writes. The scenes' own `Options` and `TableInfo`
// are met here as `DbOptions` and `DbTable`.

/// The options of the database: the memtable's size, the tables' block size and restart
/// interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbOptions {
    pub memtable_bytes: usize,
    pub block_size: usize,
    pub restart_interval: usize,
}

/// A table as the database's `tables()` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbTable {
    pub number: u64,
    pub size: u64,
    pub first_key: Vec<u8>,
    pub last_key: Vec<u8>,
}

/// Bytes a memtable counts for each key besides the key's and the value's: the seq and kind.
pub const PER_KEY: usize = 9;

// ---------------------------------------------------------------------------------------------
// Showing what was done.

/// Bytes as `show` writes them, or their length and first bytes when they are long.
pub fn short(bytes: &[u8]) -> String {
    if bytes.len() <= 32 {
        show(bytes)
    } else {
        format!("<{} bytes: {}...>", bytes.len(), show(&bytes[..8]))
    }
}

/// One call a check makes on the database.
#[derive(Clone, PartialEq, Eq)]
pub enum Step {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Get(Vec<u8>),
    Scan(Vec<u8>, Option<Vec<u8>>, usize),
    Flush,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Put(k, v) => write!(f, "put({}, {})", short(k), short(v)),
            Step::Delete(k) => write!(f, "delete({})", short(k)),
            Step::Get(k) => write!(f, "get({})", short(k)),
            Step::Scan(from, to, limit) => {
                let to = to.as_ref().map_or("None".to_string(), |to| short(to));
                let limit = if *limit == usize::MAX {
                    "usize::MAX".to_string()
                } else {
                    limit.to_string()
                };
                write!(f, "scan({}, {to}, {limit})", short(from))
            }
            Step::Flush => write!(f, "flush()"),
        }
    }
}

/// A table as a message shows it.
pub struct Info<'a>(&'a DbTable);

impl fmt::Debug for Info<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "#{} {}..={} {} bytes",
            t.number,
            short(&t.first_key),
            short(&t.last_key),
            t.size
        )
    }
}

pub fn infos(tables: &[DbTable]) -> String {
    let shown: Vec<String> = tables.iter().map(|t| format!("{:?}", Info(t))).collect();
    format!("[{}]", shown.join(", "))
}

pub fn pairs(found: &[(Vec<u8>, Vec<u8>)]) -> String {
    let shown: Vec<String> = found
        .iter()
        .map(|(k, v)| format!("({}, {})", short(k), short(v)))
        .collect();
    format!("[{}]", shown.join(", "))
}

pub fn value_text(value: &Option<Vec<u8>>) -> String {
    value
        .as_ref()
        .map_or("None".to_string(), |v| format!("Some({})", short(v)))
}

/// The calls made so far.
pub struct Script(pub Vec<String>);

impl Script {
    pub fn open(options: &impl fmt::Debug) -> Script {
        Script(vec![format!("Db::open(dir, {options:?})")])
    }

    pub fn did(&mut self, call: impl Into<String>) -> String {
        self.0.push(call.into());
        self.so_far()
    }

    pub fn so_far(&self) -> String {
        self.0.join(", ")
    }
}

pub fn io_failure(did: &str, error: io::Error) -> Failure {
    Failure::new(format!(
        "did:      {did}\nexpected: success\ngot:      Err({:?}): {error}",
        error.kind()
    ))
}

pub fn table_options(options: DbOptions) -> TableOptions {
    TableOptions {
        block_size: options.block_size,
        restart_interval: options.restart_interval,
    }
}

// ---------------------------------------------------------------------------------------------
// The model: what the database and its directory hold after each call.

#[derive(Clone)]
pub struct ModelTable {
    pub info: DbTable,
    pub entries: Vec<TableEntry>,
}

#[derive(Clone)]
pub struct Model {
    pub options: DbOptions,
    /// Key -> the seq and value (None: a tombstone) of its newest version since the last flush.
    pub memtable: BTreeMap<Vec<u8>, (u64, Option<Vec<u8>>)>,
    /// Level 0, newest first.
    pub tables: Vec<ModelTable>,
    pub wal: u64,
    pub next_file: u64,
    pub last_seq: u64,
    /// Every MANIFEST record written, in order.
    pub records: Vec<ManifestRecord>,
    /// The writes in the current log.
    pub logged: Vec<LoggedWrite>,
}

impl Model {
    pub fn new(options: DbOptions) -> Model {
        let mut model = Model {
            options,
            memtable: BTreeMap::new(),
            tables: Vec::new(),
            wal: 1,
            next_file: 2,
            last_seq: 0,
            records: Vec::new(),
            logged: Vec::new(),
        };
        model.records.push(model.record());
        model
    }

    /// The memtable's size: key, value and the seq and kind, for each key.
    pub fn size(&self) -> usize {
        self.memtable
            .iter()
            .map(|(k, (_, v))| k.len() + v.as_ref().map_or(0, Vec::len) + PER_KEY)
            .sum()
    }

    /// Whether the next write flushes first.
    pub fn full(&self) -> bool {
        self.size() >= self.options.memtable_bytes
    }

    pub fn write(&mut self, key: &[u8], value: Option<&[u8]>) {
        if self.full() {
            self.flush();
        }
        self.last_seq += 1;
        let value = value.map(<[u8]>::to_vec);
        self.memtable
            .insert(key.to_vec(), (self.last_seq, value.clone()));
        self.logged.push(LoggedWrite {
            seq: self.last_seq,
            key: key.to_vec(),
            value,
        });
    }

    pub fn flush(&mut self) {
        if self.memtable.is_empty() {
            return;
        }
        let entries: Vec<TableEntry> = std::mem::take(&mut self.memtable)
            .into_iter()
            .map(|(key, (seq, value))| TableEntry { key, seq, value })
            .collect();
        let size = write_table(&entries, table_options(self.options)).len() as u64;
        let info = DbTable {
            number: self.next_file,
            size,
            first_key: entries[0].key.clone(),
            last_key: entries[entries.len() - 1].key.clone(),
        };
        self.wal = self.next_file + 1;
        self.next_file += 2;
        self.tables.insert(0, ModelTable { info, entries });
        self.logged.clear();
        self.records.push(self.record());
    }

    pub fn record(&self) -> ManifestRecord {
        ManifestRecord {
            last_seq: self.last_seq,
            next_file: self.next_file,
            wal: self.wal,
            tables: self
                .tables
                .iter()
                .map(|t| ListedTable {
                    level: 0,
                    number: t.info.number,
                    size: t.info.size,
                    first_key: t.info.first_key.clone(),
                    last_key: t.info.last_key.clone(),
                })
                .collect(),
        }
    }

    pub fn infos(&self) -> Vec<DbTable> {
        self.tables.iter().map(|t| t.info.clone()).collect()
    }

    /// What a reader sees: the tables oldest first, then the memtable.
    pub fn state(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut state = BTreeMap::new();
        let newest = self
            .tables
            .iter()
            .rev()
            .flat_map(|t| t.entries.iter().map(|e| (e.key.clone(), e.value.clone())));
        let memtable = self
            .memtable
            .iter()
            .map(|(k, (_, v))| (k.clone(), v.clone()));
        for (key, value) in newest.chain(memtable) {
            match value {
                Some(value) => state.insert(key, value),
                None => state.remove(&key),
            };
        }
        state
    }

    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.state().get(key).cloned()
    }

    pub fn scan(&self, from: &[u8], to: Option<&[u8]>, limit: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.state()
            .into_iter()
            .filter(|(k, _)| k.as_slice() >= from && to.is_none_or(|to| k.as_slice() < to))
            .take(limit)
            .collect()
    }

    /// What `step` returns from the database the model holds, before it is applied.
    pub fn answer(&self, step: &Step) -> Answer {
        match step {
            Step::Get(key) => Answer::Value(self.get(key)),
            Step::Scan(from, to, limit) => Answer::Pairs(self.scan(from, to.as_deref(), *limit)),
            Step::Put(..) | Step::Delete(_) | Step::Flush => Answer::Done,
        }
    }

    /// Whether a write flushes first, said for a failure message, before it is applied.
    pub fn flush_note(&self, step: &Step) -> String {
        if matches!(step, Step::Flush | Step::Get(_) | Step::Scan(..)) {
            return String::new();
        }
        let (size, limit) = (self.size(), self.options.memtable_bytes);
        if self.full() {
            format!(
                "\n(before this write the memtable held {size} bytes, at least memtable_bytes = \
                 {limit}: the write flushes it first)"
            )
        } else {
            format!(
                "\n(before this write the memtable held {size} bytes, under memtable_bytes = \
                 {limit}: no flush)"
            )
        }
    }

    /// Applies a step the database acknowledged.
    pub fn apply(&mut self, step: &Step) {
        match step {
            Step::Put(k, v) => self.write(k, Some(v)),
            Step::Delete(k) => self.write(k, None),
            Step::Flush => self.flush(),
            Step::Get(_) | Step::Scan(..) => {}
        }
    }
}

/// Holds the directory to the model: exactly the MANIFEST, the log and the tables, all
/// durable; the MANIFEST's records, each table's entries and the log's writes as the model has
/// them.
pub fn check_disk(disk: &SimDisk, model: &Model, did: &str) -> CheckResult {
    let files = disk.files();
    let wal = wal_file(model.wal);
    let mut expected: BTreeSet<String> = model
        .tables
        .iter()
        .map(|t| table_file(t.info.number))
        .collect();
    expected.insert(MANIFEST_NAME.to_string());
    expected.insert(wal.clone());
    let got: BTreeSet<String> = files.iter().map(|f| f.name.clone()).collect();
    if got != expected {
        return fail(format!(
            "did:      {did}, then listed the directory\nexpected: {expected:?} (the MANIFEST, \
             the log its last record names, the tables it lists: a flush removes the log it \
             replaces)\ngot:      {got:?}"
        ));
    }
    for file in &files {
        expect(
            file.durable_name && file.durable_len == file.len,
            format!(
                "did:      {did}, then looked at {} on the disk\nexpected: the file and its \
                 name durable (every write acknowledged is synced, and every new file's name \
                 too)\ngot:      {} of its {} bytes durable, its name {}",
                file.name,
                file.durable_len,
                file.len,
                if file.durable_name {
                    "durable"
                } else {
                    "not durable"
                }
            ),
        )?;
    }

    let manifest = disk.contents(MANIFEST_NAME).unwrap_or_default();
    let (records, whole) = parse_manifest(&manifest).map_err(|e| {
        Failure::new(format!(
            "did:      {did}, then read the MANIFEST\nexpected: records as the README lays \
             them out\ngot:      {e}"
        ))
    })?;
    if whole != manifest.len() || records != model.records {
        let at = records
            .iter()
            .zip(&model.records)
            .take_while(|(g, e)| g == e)
            .count();
        return fail(format!(
            "did:      {did}, then read the MANIFEST ({} bytes, {} whole records)\nexpected: \
             {} records (one at open, one a flush), record {at} being {:?}\ngot:      record \
             {at} {:?}{}",
            manifest.len(),
            records.len(),
            model.records.len(),
            model.records.get(at),
            records.get(at),
            if whole != manifest.len() {
                format!(
                    ", then {} bytes that are no whole record",
                    manifest.len() - whole
                )
            } else {
                String::new()
            }
        ));
    }

    let options = table_options(model.options);
    for table in &model.tables {
        let name = table_file(table.info.number);
        let bytes = disk.contents(&name).unwrap_or_default();
        let parsed = parse_table(&bytes, options).map_err(|e| {
            Failure::new(format!(
                "did:      {did}, then read {name}\nexpected: a table in the format of the \
                 table scenes, written with {options:?}\ngot:      {e}"
            ))
        })?;
        let got = parsed.entries();
        if got != table.entries {
            let at = got
                .iter()
                .zip(&table.entries)
                .take_while(|(g, e)| g == e)
                .count();
            let why = match (table.entries.get(at), got.get(at)) {
                (Some(e), Some(g)) if e.key == g.key && e.seq != g.seq => {
                    "\n(the n-th write of the database has seq n, whatever the flushes before it)"
                }
                (Some(e), _) if e.value.is_none() => {
                    "\n(a tombstone is flushed too: an older table may hold the key it deletes)"
                }
                _ => "",
            };
            return fail(format!(
                "did:      {did}, then read {name}\nexpected: {} entries (each key of the \
                 memtable once, its newest version), entry {at} being {:?}\ngot:      {} \
                 entries, entry {at} {:?}{why}",
                table.entries.len(),
                table.entries.get(at),
                got.len(),
                got.get(at)
            ));
        }
    }

    let log = disk.contents(&wal).unwrap_or_default();
    let got = parse_wal(&log).map_err(|e| {
        Failure::new(format!(
            "did:      {did}, then read {wal}\nexpected: the log's records\ngot:      {e}"
        ))
    })?;
    expect_eq(
        format!(
            "{did}, then read the writes in {wal} (each a batch of one op, its seq the write's)"
        ),
        got,
        model.logged.clone(),
    )
}

pub fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::sample::select(vec![
            b"a".to_vec(),
            b"b".to_vec(),
            b"c".to_vec(),
            b"ab".to_vec(),
            Vec::new(),
        ]),
        1 => prop::collection::vec(prop::sample::select(vec![0x00, 0xFF, b'a']), 0..4),
        1 => prop::collection::vec(any::<u8>(), 0..12),
    ]
}

pub fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::collection::vec(b'a'..=b'z', 0..6),
        1 => Just(Vec::new()),
        1 => prop::collection::vec(any::<u8>(), 0..300),
    ]
}

pub fn step() -> impl Strategy<Value = Step> {
    let limit = prop_oneof![Just(usize::MAX), 0..4usize];
    prop_oneof![
        5 => (key(), value()).prop_map(|(k, v)| Step::Put(k, v)),
        2 => key().prop_map(Step::Delete),
        3 => key().prop_map(Step::Get),
        2 => (key(), prop::option::of(key()), limit).prop_map(|(f, t, l)| Step::Scan(f, t, l)),
        2 => Just(Step::Flush),
    ]
}

pub fn put(key: &str, value: &[u8]) -> Step {
    Step::Put(key.as_bytes().to_vec(), value.to_vec())
}

pub fn delete(key: &str) -> Step {
    Step::Delete(key.as_bytes().to_vec())
}

pub fn get(key: &str) -> Step {
    Step::Get(key.as_bytes().to_vec())
}

pub fn scan_all() -> Step {
    Step::Scan(Vec::new(), None, usize::MAX)
}

pub fn state_text(state: &BTreeMap<Vec<u8>, Vec<u8>>) -> String {
    let shown: Vec<String> = state
        .iter()
        .map(|(k, v)| format!("{}: {}", short(k), short(v)))
        .collect();
    format!("{{{}}}", shown.join(", "))
}

/// Fails with a message if `error` is a panic that `attempt` caught.
pub fn no_panic(did: &str, error: &io::Error) -> CheckResult {
    let text = error.to_string();
    expect(
        !text.starts_with("panicked"),
        format!("did:      {did}\nexpected: an error, or success\ngot:      a panic: {text}"),
    )
}

/// After the worst crash: the MANIFEST, its tables and its log rebuild what the model holds.
pub fn expect_rebuilt(disk: &SimDisk, model: &Model, did: &str) -> CheckResult {
    let did =
        format!("{did}, then the power failed, losing every unsynced write and name operation");
    match rebuild(|name| disk.contents(name), table_options(model.options)) {
        Ok(Some(state)) if state == model.state() => Ok(()),
        Ok(Some(state)) => fail(format!(
            "did:      {did}\nexpected: the MANIFEST, tables and log to rebuild what was \
             acknowledged: {}\ngot:      {}",
            state_text(&model.state()),
            state_text(&state)
        )),
        Ok(None) => fail(format!(
            "did:      {did}\nexpected: a MANIFEST with a whole record\ngot:      none"
        )),
        Err(why) => fail(format!(
            "did:      {did}\nexpected: the MANIFEST, tables and log to rebuild what was \
             acknowledged\ngot:      {why}"
        )),
    }
}

pub fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// What a call returned: nothing for a write or a flush, a value for a get, pairs for a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Done,
    Value(Option<Vec<u8>>),
    Pairs(Vec<(Vec<u8>, Vec<u8>)>),
}

impl Answer {
    /// As a failure message writes it.
    pub fn text(&self) -> String {
        match self {
            Answer::Done => "Ok".to_string(),
            Answer::Value(value) => value_text(value),
            Answer::Pairs(found) => pairs(found),
        }
    }
}

/// Holds what a call returned to what the model says.
pub fn expect_answer(did: &str, got: &Answer, expected: &Answer) -> CheckResult {
    if got == expected {
        return Ok(());
    }
    fail(format!(
        "did:      {did}\nexpected: {}\ngot:      {}",
        expected.text(),
        got.text()
    ))
}

/// Holds `tables()` and `last_seq()` to the model after a write or a flush; `note` says whether
/// the write flushed first (see [`Model::flush_note`]).
pub fn expect_layout(
    did: &str,
    model: &Model,
    tables: &[DbTable],
    last_seq: u64,
    note: &str,
) -> CheckResult {
    let expected = model.infos();
    if tables != expected {
        return fail(format!(
            "did:      {did}, tables()\nexpected: {}\ngot:      {}{note}",
            infos(&expected),
            infos(tables)
        ));
    }
    expect_eq(
        format!(
            "{did}, last_seq() (the n-th write has seq n, across flushes, reopens and crashes)"
        ),
        last_seq,
        model.last_seq,
    )
}

// ---------------------------------------------------------------------------------------------
// A directory that watches: which file each read, append, sync and removal was made on, in
// order, and whether a table was removed while the durable MANIFEST still listed it.

/// One operation a [`Watch`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Create(String),
    Open(String),
    Read(String),
    Append(String),
    Sync(String),
    Remove(String),
    /// A removal of a file that the MANIFEST's last durable record still listed.
    RemovedWhileListed(String),
}

/// A directory of a [`SimDisk`] that notes every file operation by name; its clones share
/// their notes.
#[derive(Clone)]
pub struct Watch {
    disk: SimDisk,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Watch")
    }
}

impl Watch {
    pub fn new(disk: &SimDisk) -> Watch {
        Watch {
            disk: disk.clone(),
            seen: Default::default(),
        }
    }

    /// The directory, for the disk's current incarnation.
    pub fn dir(&self) -> std::sync::Arc<dyn kit::disk::Dir> {
        std::sync::Arc::new(WatchedDir {
            inner: self.disk.dir(),
            watch: self.clone(),
        })
    }

    /// What was seen since the last call, and forgets it.
    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    fn note(&self, seen: Seen) {
        self.seen.lock().unwrap().push(seen);
    }

    /// The names of the tables the MANIFEST's last durable record lists.
    fn durably_listed(&self) -> BTreeSet<String> {
        let durable = self
            .disk
            .files()
            .into_iter()
            .find(|f| f.name == MANIFEST_NAME && f.durable_name)
            .map_or(0, |f| f.durable_len as usize);
        let bytes = self.disk.contents(MANIFEST_NAME).unwrap_or_default();
        let bytes = &bytes[..durable.min(bytes.len())];
        match parse_manifest(bytes) {
            Ok((records, _)) => records.last().map_or_else(BTreeSet::new, |last| {
                last.tables.iter().map(|t| table_file(t.number)).collect()
            }),
            Err(_) => BTreeSet::new(),
        }
    }
}

#[derive(Debug)]
struct WatchedDir {
    inner: std::sync::Arc<dyn kit::disk::Dir>,
    watch: Watch,
}

#[derive(Debug)]
struct WatchedFile {
    inner: Box<dyn kit::disk::File>,
    name: String,
    watch: Watch,
}

impl kit::disk::Dir for WatchedDir {
    fn create(&self, name: &str) -> io::Result<Box<dyn kit::disk::File>> {
        self.watch.note(Seen::Create(name.to_string()));
        Ok(Box::new(WatchedFile {
            inner: self.inner.create(name)?,
            name: name.to_string(),
            watch: self.watch.clone(),
        }))
    }

    fn open(&self, name: &str) -> io::Result<Box<dyn kit::disk::File>> {
        self.watch.note(Seen::Open(name.to_string()));
        Ok(Box::new(WatchedFile {
            inner: self.inner.open(name)?,
            name: name.to_string(),
            watch: self.watch.clone(),
        }))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        if self.watch.durably_listed().contains(name) {
            self.watch.note(Seen::RemovedWhileListed(name.to_string()));
        }
        self.watch.note(Seen::Remove(name.to_string()));
        self.inner.remove(name)
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.inner.rename(from, to)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        self.inner.list()
    }

    fn sync(&self) -> io::Result<()> {
        self.inner.sync()
    }
}

impl kit::disk::File for WatchedFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.watch.note(Seen::Read(self.name.clone()));
        self.inner.read_at(offset, buf)
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.watch.note(Seen::Read(self.name.clone()));
        self.inner.read_exact_at(offset, buf)
    }

    fn append(&self, data: &[u8]) -> io::Result<u64> {
        self.watch.note(Seen::Append(self.name.clone()));
        self.inner.append(data)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.watch.note(Seen::Append(self.name.clone()));
        self.inner.write_at(offset, data)
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn sync(&self) -> io::Result<()> {
        self.watch.note(Seen::Sync(self.name.clone()));
        self.inner.sync()
    }
}

// ---------------------------------------------------------------------------------------------
// A model with versions, for the snapshots scene: every write a version with its seq, the live
// snapshots, and which versions a reader can still see.

/// A key's versions, oldest first: (seq, value), `None` for a delete.
pub type Versions = Vec<(u64, Option<Vec<u8>>)>;

/// Every version of every key ever written, and the snapshots live now.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Per key, its versions.
    pub versions: BTreeMap<Vec<u8>, Versions>,
    /// The seq of the last write: the n-th write has seq n.
    pub last_seq: u64,
    /// The live snapshots: seq -> how many are taken at it.
    pub live: BTreeMap<u64, usize>,
}

impl History {
    /// A put (`Some`) or a delete (`None`) with the next seq.
    pub fn write(&mut self, key: &[u8], value: Option<Vec<u8>>) {
        self.last_seq += 1;
        self.versions
            .entry(key.to_vec())
            .or_default()
            .push((self.last_seq, value));
    }

    /// A snapshot taken now: its seq.
    pub fn snapshot(&mut self) -> u64 {
        *self.live.entry(self.last_seq).or_insert(0) += 1;
        self.last_seq
    }

    /// One snapshot at `seq` released, if one is live.
    pub fn release(&mut self, seq: u64) {
        if let Some(count) = self.live.get_mut(&seq) {
            *count -= 1;
            if *count == 0 {
                self.live.remove(&seq);
            }
        }
    }

    pub fn is_live(&self, seq: u64) -> bool {
        self.live.contains_key(&seq)
    }

    /// The value of `key` to a reader at `seq`.
    pub fn get_at(&self, key: &[u8], seq: u64) -> Option<Vec<u8>> {
        let versions = self.versions.get(key)?;
        versions
            .iter()
            .rev()
            .find(|(s, _)| *s <= seq)
            .and_then(|(_, value)| value.clone())
    }

    /// What a reader at `seq` sees.
    pub fn state_at(&self, seq: u64) -> KeyValues {
        self.versions
            .keys()
            .filter_map(|key| Some((key.clone(), self.get_at(key, seq)?)))
            .collect()
    }

    /// A scan at `seq`: `from <= key` (and `key < to`), in key order, at most `limit` pairs.
    pub fn scan_at(
        &self,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
        seq: u64,
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.state_at(seq)
            .into_iter()
            .filter(|(k, _)| k.as_slice() >= from && to.is_none_or(|to| k.as_slice() < to))
            .take(limit)
            .collect()
    }

    /// The versions a compaction of everything into the bottom level keeps, in table order: of
    /// each key, the newest, and for each live snapshot the newest at or below its seq; then the
    /// oldest of those while they are tombstones go (nothing is below them to hide).
    pub fn needed(&self) -> Vec<TableEntry> {
        let mut out = Vec::new();
        for (key, versions) in &self.versions {
            let readers = self.live.keys().copied().chain([u64::MAX]);
            let mut seqs: BTreeSet<u64> = BTreeSet::new();
            for reader in readers {
                if let Some((seq, _)) = versions.iter().rev().find(|(s, _)| *s <= reader) {
                    seqs.insert(*seq);
                }
            }
            let mut kept: Vec<TableEntry> = versions
                .iter()
                .rev()
                .filter(|(seq, _)| seqs.contains(seq))
                .map(|(seq, value)| TableEntry {
                    key: key.clone(),
                    seq: *seq,
                    value: value.clone(),
                })
                .collect();
            while kept.last().is_some_and(|e| e.value.is_none()) {
                kept.pop();
            }
            out.extend(kept);
        }
        out
    }

    /// Whether a live snapshot sees the version at `older` under the one at `newer` of the same
    /// key: one at a seq `s` with `older <= s < newer`.
    pub fn seen_between(&self, older: u64, newer: u64) -> bool {
        self.live.range(older..newer).next().is_some()
    }

    /// What a flush of the versions with seqs in `after + 1..=upto` (the memtable) keeps, in
    /// table order: of each key its newest, and the newest at or below each live snapshot;
    /// tombstones included.
    pub fn kept_between(&self, after: u64, upto: u64) -> Vec<TableEntry> {
        let mut out = Vec::new();
        for (key, versions) in &self.versions {
            let mut newer: Option<u64> = None;
            for (seq, value) in versions.iter().rev() {
                if *seq <= after || *seq > upto {
                    continue;
                }
                if newer.is_none_or(|newer| self.seen_between(*seq, newer)) {
                    out.push(TableEntry {
                        key: key.clone(),
                        seq: *seq,
                        value: value.clone(),
                    });
                }
                newer = Some(*seq);
            }
        }
        out
    }

    /// Every snapshot gone, as after a reopen.
    pub fn forget_snapshots(&mut self) {
        self.live.clear();
    }
}

/// A version as a message shows it: `key@seq = value` or `key@seq deleted`.
pub fn version_text(entry: &TableEntry) -> String {
    match &entry.value {
        Some(value) => format!("{}@{} = {}", short(&entry.key), entry.seq, short(value)),
        None => format!("{}@{} deleted", short(&entry.key), entry.seq),
    }
}

pub fn versions_text(entries: &[TableEntry]) -> String {
    let shown: Vec<String> = entries.iter().map(version_text).collect();
    format!("[{}]", shown.join(", "))
}

// Workloads: writes and gets to measure a database's amplification on.

/// A fixed sequence of writes (`None` a delete), then gets.
#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    pub writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    pub gets: Vec<Vec<u8>>,
}

/// A small generator of fixed numbers (a 64-bit LCG): the fixed workloads are the same on every
/// seed, so that their figures can be compared with the reference's.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `key00042`.
pub fn workload_key(i: u64) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

impl Workload {
    /// One of the fixed workloads, the same on every seed: "uniform" (1200 puts of 100-byte
    /// values to keys drawn uniformly from 300), "hot set" (300 keys written once, then 900
    /// updates of 50 of them) or "deletes" (300 keys written, then 900 writes of which two in
    /// three delete). Each ends with 200 gets of keys drawn from 400 (a quarter never written).
    pub fn fixed(name: &str) -> Workload {
        let mut rng = Lcg(42);
        let value = |rng: &mut Lcg| vec![b'a' + rng.below(26) as u8; 100];
        let mut writes = Vec::new();
        match name {
            "uniform" => {
                for _ in 0..1200 {
                    let key = workload_key(rng.below(300));
                    writes.push((key, Some(value(&mut rng))));
                }
            }
            "hot set" => {
                for i in 0..300 {
                    writes.push((workload_key(i), Some(b"cold value, written once".to_vec())));
                }
                for _ in 0..900 {
                    let key = workload_key(100 + rng.below(50));
                    writes.push((key, Some(value(&mut rng))));
                }
            }
            "deletes" => {
                for i in 0..300 {
                    writes.push((workload_key(i), Some(value(&mut rng))));
                }
                for _ in 0..900 {
                    let key = workload_key(rng.below(300));
                    if rng.below(3) == 0 {
                        writes.push((key, Some(value(&mut rng))));
                    } else {
                        writes.push((key, None));
                    }
                }
            }
            _ => panic!("no fixed workload {name:?}"),
        }
        let mut rng = Lcg(99);
        let gets = (0..200).map(|_| workload_key(rng.below(400))).collect();
        Workload {
            name: format!("the {name:?} workload"),
            writes,
            gets,
        }
    }

    /// `writes` writes drawn from `seed` (a fifth of them deletes) of short values to `keys` keys, then
    /// `writes / 3` gets.
    pub fn random(seed: u64, writes: usize, keys: u64) -> Workload {
        let mut lcg = Lcg(seed);
        let mut list = Vec::new();
        for _ in 0..writes {
            let key = workload_key(lcg.below(keys));
            let value = (lcg.below(5) != 0).then(|| vec![b'v'; lcg.below(40) as usize]);
            list.push((key, value));
        }
        let gets = (0..writes / 3)
            .map(|_| workload_key(lcg.below(keys + 5)))
            .collect();
        Workload {
            name: format!(
                "{writes} random writes to {keys} keys, then {} gets",
                writes / 3
            ),
            writes: list,
            gets,
        }
    }
}
