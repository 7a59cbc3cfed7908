//! Helpers the lsm checks share.

// Every judge of the track includes this module, and a scene uses only what it needs of it.
#![allow(dead_code)]

use std::fmt;
use std::io;

use judge::prelude::*;
use kit::checksum::crc32;
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
pub type KeyValues = std::collections::BTreeMap<Vec<u8>, Vec<u8>>;

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
