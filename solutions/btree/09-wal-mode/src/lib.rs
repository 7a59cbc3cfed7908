//! WAL mode: commits append frames to a log, readers keep a snapshot, a checkpoint copies back.
//!
//! The reference solution.

use std::collections::BTreeMap;
use std::io::{self, ErrorKind};
use std::sync::Arc;

use kit::disk::{Dir, File};

/// A page's number: page `n` starts at byte `n * page_size` of the database file. Page 0 is the
/// header.
pub type PageNo = u32;

/// The first 16 bytes of every database file (the pager's header, as in the first scene).
pub const MAGIC: &[u8; 16] = b"btree format 1\0\0";

/// The header's fields take this many bytes at the start of page 0; the rest of it is zeros.
pub const HEADER_LEN: usize = 36;

/// The smallest and the largest page size (both powers of two, as every page size is).
pub const MIN_PAGE_SIZE: usize = 512;
pub const MAX_PAGE_SIZE: usize = 65536;

/// The write-ahead log of the database `name` is the file `name` followed by this.
pub const WAL_SUFFIX: &str = "-wal";

/// The first 4 bytes of the log's header (SQLite's own), big-endian.
pub const WAL_MAGIC: u32 = 0x377f_0682;

/// The log's header takes this many bytes: magic, page size, salt-1, salt-2, checksum.
pub const WAL_HEADER_LEN: usize = 20;

/// A frame's header takes this many bytes: page, commit size, salt-1, salt-2, checksum. The
/// page's bytes follow it.
pub const FRAME_HEADER_LEN: usize = 20;

/// What a checkpoint did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The database file now holds every page as of this frame (0: as of no frame at all).
    pub backfilled: u64,
    /// Whether the log was restarted: new salts, and the next frame written is frame 1 again.
    pub restarted: bool,
}

/// An open reader: the snapshot it took, and the page count at that snapshot.
#[derive(Debug, Clone, Copy)]
struct Reader {
    snapshot: u64,
    page_count: u32,
}

/// The open write transaction: its page count and the pages it changed, kept in memory until
/// commit.
#[derive(Debug)]
struct Writer {
    page_count: u32,
    dirty: BTreeMap<PageNo, Vec<u8>>,
}

/// A database in WAL mode: the database file `name`, and its log `name-wal`.
#[derive(Debug)]
pub struct Pager {
    file: Box<dyn File>,
    wal: Box<dyn File>,
    page_size: usize,
    /// The pages the database file holds: its length over the page size.
    db_count: u32,
    /// The log header's salts and checksum: every frame carries the salts, and the first
    /// frame's checksum chains from the header's.
    salts: (u32, u32),
    header_sum: u32,
    /// The index of the last commit frame (0: none), and the checksum the next frame chains
    /// from: the last commit frame's.
    last_commit: u64,
    last_sum: u32,
    /// For each page, the committed frames that hold it, oldest first.
    index: BTreeMap<PageNo, Vec<u64>>,
    /// For each commit frame, the page count after its transaction.
    commit_sizes: BTreeMap<u64, u32>,
    /// The database file holds every page as of this frame.
    backfilled: u64,
    readers: BTreeMap<u64, Reader>,
    next_reader: u64,
    writer: Option<Writer>,
    /// A write, sync or name operation failed: what the files hold is no longer known, and
    /// every call fails until the database is opened again.
    broken: bool,
}

impl Pager {
    /// Creates the database file `name` holding only its header page and syncs it, then the log
    /// `name-wal` holding only its header, synced, then syncs the directory. `page_size` must be
    /// a power of two from 512 to 65536, or `InvalidInput` (before the disk is touched).
    pub fn create(dir: Arc<dyn Dir>, name: &str, page_size: usize) -> io::Result<Pager> {
        if !valid_page_size(page_size) {
            return Err(invalid_input(format!(
                "a page size is a power of two from {MIN_PAGE_SIZE} to {MAX_PAGE_SIZE}, not \
                 {page_size}"
            )));
        }
        let file = dir.create(name)?;
        file.write_at(0, &db_header(page_size))?;
        file.sync()?;
        let wal = dir.create(&wal_name(name))?;
        let salts = (1, mix(page_size as u32));
        let header = wal_header(page_size, salts);
        wal.write_at(0, &header)?;
        wal.sync()?;
        // Both names must survive a crash, or the synced bytes go with them.
        dir.sync()?;
        Ok(Pager::new(file, wal, page_size, 1, salts))
    }

    /// Opens the database file `name` and recovers its log: frames are taken up to the last
    /// commit frame whose checksum chain holds, the rest ignored, nothing written. A log that is
    /// missing or whose header does not check holds nothing: it is cut to nothing and given a
    /// new header, synced (a missing one is made, and the directory synced). A database file with another
    /// magic or a page size out of range is `InvalidData`; a missing one `NotFound`.
    pub fn open(dir: Arc<dyn Dir>, name: &str) -> io::Result<Pager> {
        let file = dir.open(name)?;
        let (page_size, db_count) = read_db_header(&*file)?;
        let wal_name = wal_name(name);
        let (wal, made) = match dir.open(&wal_name) {
            Ok(wal) => (wal, false),
            Err(error) if error.kind() == ErrorKind::NotFound => (dir.create(&wal_name)?, true),
            Err(error) => return Err(error),
        };
        let mut bytes = vec![0; wal.len()? as usize];
        wal.read_exact_at(0, &mut bytes)?;
        match parse_wal_header(&bytes, page_size) {
            Some(salts) => {
                let mut pager = Pager::new(file, wal, page_size, db_count, salts);
                pager.recover_frames(&bytes);
                Ok(pager)
            }
            None => {
                // No frame chains from a header that does not check: the log holds nothing.
                // New salts all the same, so that no frame left behind could ever match.
                let salts = match bytes.get(8..16) {
                    Some(old) => (
                        u32::from_be_bytes(old[..4].try_into().unwrap()).wrapping_add(1),
                        mix(u32::from_be_bytes(old[4..].try_into().unwrap())),
                    ),
                    None => (1, mix(page_size as u32)),
                };
                wal.truncate(0)?;
                wal.write_at(0, &wal_header(page_size, salts))?;
                wal.sync()?;
                if made {
                    dir.sync()?;
                }
                Ok(Pager::new(file, wal, page_size, db_count, salts))
            }
        }
    }

    fn new(
        file: Box<dyn File>,
        wal: Box<dyn File>,
        page_size: usize,
        db_count: u32,
        salts: (u32, u32),
    ) -> Pager {
        let header_sum = header_checksum(&wal_header(page_size, salts));
        Pager {
            file,
            wal,
            page_size,
            db_count,
            salts,
            header_sum,
            last_commit: 0,
            last_sum: header_sum,
            index: BTreeMap::new(),
            commit_sizes: BTreeMap::new(),
            backfilled: 0,
            readers: BTreeMap::new(),
            next_reader: 1,
            writer: None,
            broken: false,
        }
    }

    /// Walks the log's frames from the first, and keeps those up to the last commit frame whose
    /// checksum chain holds. The frames of a transaction that never wrote its commit frame, or
    /// whose frames were torn, are left out whole.
    fn recover_frames(&mut self, bytes: &[u8]) {
        let frame_len = FRAME_HEADER_LEN + self.page_size;
        let mut sum = self.header_sum;
        let mut pending = Vec::new();
        let mut at = WAL_HEADER_LEN;
        let mut frame = 0;
        while let Some(bytes) = bytes.get(at..at + frame_len) {
            let field = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
            let (page, commit_size) = (field(0), field(4));
            // A frame of another log (left from before a restart) or torn by a crash ends the
            // log here.
            if (field(8), field(12)) != self.salts
                || field(16) != frame_checksum(sum, &bytes[..16], &bytes[FRAME_HEADER_LEN..])
                || page == 0
            {
                break;
            }
            sum = field(16);
            frame += 1;
            pending.push(page);
            if commit_size != 0 {
                // A commit frame: its transaction, every frame since the last commit, counts.
                let first = frame - pending.len() as u64 + 1;
                for (i, page) in pending.drain(..).enumerate() {
                    self.index.entry(page).or_default().push(first + i as u64);
                }
                self.commit_sizes.insert(frame, commit_size);
                self.last_commit = frame;
                self.last_sum = sum;
            }
            at += frame_len;
        }
    }

    /// The size of every page, in bytes.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Opens a reader and returns its id: it takes a snapshot, the index of the last commit
    /// frame now (0 if there is none). Every read of this reader sees the database as of that
    /// snapshot, whatever is committed or checkpointed later. It touches no disk.
    pub fn begin_read(&mut self) -> io::Result<u64> {
        self.check_working()?;
        let id = self.next_reader;
        self.next_reader += 1;
        let reader = Reader {
            snapshot: self.last_commit,
            page_count: self.latest_count(),
        };
        self.readers.insert(id, reader);
        Ok(id)
    }

    /// The snapshot of reader `reader`: the index of the last commit frame it sees. An id that
    /// is not an open reader's is `InvalidInput`.
    pub fn snapshot(&self, reader: u64) -> io::Result<u64> {
        self.check_working()?;
        Ok(self.reader(reader)?.snapshot)
    }

    /// The page count (page 0 included) at reader `reader`'s snapshot. An id that is not an
    /// open reader's is `InvalidInput`.
    pub fn page_count(&self, reader: u64) -> io::Result<u32> {
        self.check_working()?;
        Ok(self.reader(reader)?.page_count)
    }

    /// Page `page` as of reader `reader`'s snapshot: from the newest frame of the page at or
    /// below the snapshot, or else from the database file. Page 0, a page at or past the page
    /// count at the snapshot and an id that is not an open reader's are `InvalidInput`. A read
    /// that fails fails the call, and nothing else.
    pub fn read(&mut self, reader: u64, page: PageNo) -> io::Result<Vec<u8>> {
        self.check_working()?;
        let Reader {
            snapshot,
            page_count,
        } = *self.reader(reader)?;
        check_page(page, page_count)?;
        let mut data = vec![0; self.page_size];
        // The newest frame of the page that the snapshot includes; frames after it are
        // another transaction's, committed after this reader began, or not at all.
        let frame = self.index.get(&page).and_then(|frames| {
            let below = frames.partition_point(|&f| f <= snapshot);
            below.checked_sub(1).map(|i| frames[i])
        });
        match frame {
            Some(frame) => self.wal.read_exact_at(
                self.frame_offset(frame) + FRAME_HEADER_LEN as u64,
                &mut data,
            )?,
            None => self.file.read_exact_at(self.offset(page), &mut data)?,
        }
        Ok(data)
    }

    /// Closes reader `reader`: a checkpoint need no longer keep its snapshot. An id that is not
    /// an open reader's is `InvalidInput`.
    pub fn end_read(&mut self, reader: u64) -> io::Result<()> {
        self.check_working()?;
        self.reader(reader)?;
        self.readers.remove(&reader);
        Ok(())
    }

    /// Opens the write transaction (there is at most one). It touches no disk. One already open
    /// is `InvalidInput`.
    pub fn begin_write(&mut self) -> io::Result<()> {
        self.check_working()?;
        if self.writer.is_some() {
            return Err(invalid_input("a write transaction is already open"));
        }
        self.writer = Some(Writer {
            page_count: self.latest_count(),
            dirty: BTreeMap::new(),
        });
        Ok(())
    }

    /// Replaces page `page` with `data` (exactly one page long) in the write transaction, in
    /// memory: nothing reaches the disk before commit. `page` may be the page count, which adds
    /// a page. Page 0, a page past that, data of another length and a write with no write
    /// transaction open are `InvalidInput`.
    pub fn write(&mut self, page: PageNo, data: &[u8]) -> io::Result<()> {
        self.check_working()?;
        let page_size = self.page_size;
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| invalid_input("no write transaction is open: call begin_write"))?;
        if page == 0 || page > writer.page_count {
            return Err(invalid_input(format!(
                "page {page} cannot be written: pages 1 to {} can (the last adds a page)",
                writer.page_count
            )));
        }
        if data.len() != page_size {
            return Err(invalid_input(format!(
                "a page is {page_size} bytes, not {}",
                data.len()
            )));
        }
        if page == writer.page_count {
            writer.page_count += 1;
        }
        writer.dirty.insert(page, data.to_vec());
        Ok(())
    }

    /// Commits the write transaction: appends one frame per changed page, in page order, after
    /// the last commit frame, the last frame marked with the page count (the commit frame), and
    /// syncs the log: the commit point. The database file is not touched. A transaction that
    /// changed nothing touches no disk. With none open: `InvalidInput`.
    pub fn commit(&mut self) -> io::Result<()> {
        self.check_working()?;
        let writer = self
            .writer
            .take()
            .ok_or_else(|| invalid_input("no write transaction is open: call begin_write"))?;
        if writer.dirty.is_empty() {
            return Ok(());
        }
        let mut sum = self.last_sum;
        let last = writer.dirty.len() - 1;
        for (i, (&page, data)) in writer.dirty.iter().enumerate() {
            // Only the last frame says the transaction is whole.
            let commit_size = if i == last { writer.page_count } else { 0 };
            let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + self.page_size);
            for field in [page, commit_size, self.salts.0, self.salts.1] {
                frame.extend_from_slice(&field.to_be_bytes());
            }
            sum = frame_checksum(sum, &frame, data);
            frame.extend_from_slice(&sum.to_be_bytes());
            frame.extend_from_slice(data);
            let at = self.frame_offset(self.last_commit + 1 + i as u64);
            let result = self.wal.write_at(at, &frame);
            self.stop_on_error(result)?;
        }
        // The commit point: once the log is synced, a crash keeps the transaction.
        let result = self.wal.sync();
        self.stop_on_error(result)?;
        for (i, &page) in writer.dirty.keys().enumerate() {
            let frame = self.last_commit + 1 + i as u64;
            self.index.entry(page).or_default().push(frame);
        }
        self.last_commit += writer.dirty.len() as u64;
        self.last_sum = sum;
        self.commit_sizes
            .insert(self.last_commit, writer.page_count);
        Ok(())
    }

    /// Drops the write transaction's changes. It touches no disk. With none open:
    /// `InvalidInput`.
    pub fn rollback(&mut self) -> io::Result<()> {
        self.check_working()?;
        match self.writer.take() {
            Some(_) => Ok(()),
            None => Err(invalid_input(
                "no write transaction is open: call begin_write",
            )),
        }
    }

    /// Copies committed pages back into the database file: up to the oldest open reader's
    /// snapshot (or the last commit frame, with no reader open), the newest frame of each page
    /// not yet copied; then syncs the file (page 0 is left as `create` wrote it). If then every
    /// committed frame is copied, the log holds a frame and no reader is open, it restarts the
    /// log: a new header, salt-1 one up and a new salt-2, so that the frames left in the file
    /// never check again. Returns how far the file is copied, and whether the log restarted.
    /// A write transaction may be open.
    pub fn checkpoint(&mut self) -> io::Result<Checkpoint> {
        self.check_working()?;
        // A reader that reads the database file for a page must find it as of its snapshot, or
        // older: nothing past the oldest snapshot may be copied.
        let target = self
            .readers
            .values()
            .map(|r| r.snapshot)
            .min()
            .unwrap_or(self.last_commit)
            .min(self.last_commit);
        if target > self.backfilled {
            let pages: Vec<(PageNo, u64)> = self
                .index
                .iter()
                .filter_map(|(&page, frames)| {
                    let below = frames.partition_point(|&f| f <= target);
                    let newest = *frames[..below].last()?;
                    (newest > self.backfilled).then_some((page, newest))
                })
                .collect();
            let mut data = vec![0; self.page_size];
            for (page, frame) in pages {
                // A read that fails changes nothing yet: the call fails, the pager goes on.
                self.wal.read_exact_at(
                    self.frame_offset(frame) + FRAME_HEADER_LEN as u64,
                    &mut data,
                )?;
                let result = self.file.write_at(self.offset(page), &data);
                self.stop_on_error(result)?;
            }
            // Page 0 is never written again: a crash could tear it, and nothing could repair it.
            // The file's length says how many pages it holds.
            let count = self.commit_sizes[&target];
            // The pages must be durable before the log that holds them may go.
            let result = self.file.sync();
            self.stop_on_error(result)?;
            self.backfilled = target;
            self.db_count = count;
        }
        let restart =
            self.readers.is_empty() && self.last_commit > 0 && self.backfilled == self.last_commit;
        if restart {
            // New salts: the old frames stay in the file, and must never check again. No sync:
            // until the next commit syncs it, a crash finds the old header (whose frames are all
            // in the synced database file) or the new one (no frames), and both are right.
            let salts = (self.salts.0.wrapping_add(1), mix(self.salts.1));
            let header = wal_header(self.page_size, salts);
            let result = self.wal.write_at(0, &header);
            self.stop_on_error(result)?;
            self.salts = salts;
            self.header_sum = header_checksum(&header);
            self.last_sum = self.header_sum;
            self.last_commit = 0;
            self.backfilled = 0;
            self.index.clear();
            self.commit_sizes.clear();
        }
        Ok(Checkpoint {
            backfilled: self.backfilled,
            restarted: restart,
        })
    }

    /// The page count of the last commit: what a reader begun now sees.
    fn latest_count(&self) -> u32 {
        match self.last_commit {
            0 => self.db_count,
            frame => self.commit_sizes[&frame],
        }
    }

    fn reader(&self, reader: u64) -> io::Result<&Reader> {
        self.readers
            .get(&reader)
            .ok_or_else(|| invalid_input(format!("{reader} is not an open reader's id")))
    }

    fn offset(&self, page: PageNo) -> u64 {
        u64::from(page) * self.page_size as u64
    }

    /// Where frame `frame` (from 1) starts in the log.
    fn frame_offset(&self, frame: u64) -> u64 {
        WAL_HEADER_LEN as u64 + (frame - 1) * (FRAME_HEADER_LEN + self.page_size) as u64
    }

    /// A failed write, sync or name operation leaves the files in a state the pager no longer
    /// knows: it stops, and opening the database again recovers it from the log.
    fn stop_on_error<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        result.inspect_err(|_| self.broken = true)
    }

    fn check_working(&self) -> io::Result<()> {
        match self.broken {
            true => Err(io::Error::other(
                "a write or a sync failed: the pager stopped; open the database again",
            )),
            false => Ok(()),
        }
    }
}

/// The name of the log of the database `name`.
fn wal_name(name: &str) -> String {
    format!("{name}{WAL_SUFFIX}")
}

/// The checksum of a frame: the CRC-32 of the checksum before it (the previous frame's, or the
/// log header's for frame 1) as 4 bytes big-endian, the frame header's first 16 bytes, and the
/// page's bytes. Each frame's checksum so vouches for every frame before it.
pub fn frame_checksum(previous: u32, header: &[u8], page: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&previous.to_be_bytes());
    hasher.update(&header[..16]);
    hasher.update(page);
    hasher.finalize()
}

/// The checksum of the log's header: the CRC-32 of its first 16 bytes.
pub fn header_checksum(header: &[u8]) -> u32 {
    crc32fast::hash(&header[..16])
}

/// The log's header for `page_size` and `salts`, its checksum included.
fn wal_header(page_size: usize, salts: (u32, u32)) -> Vec<u8> {
    let mut header = Vec::with_capacity(WAL_HEADER_LEN);
    for field in [WAL_MAGIC, page_size as u32, salts.0, salts.1] {
        header.extend_from_slice(&field.to_be_bytes());
    }
    let sum = header_checksum(&header);
    header.extend_from_slice(&sum.to_be_bytes());
    header
}

/// The salts of a log header that checks, for a database of `page_size`.
fn parse_wal_header(bytes: &[u8], page_size: usize) -> Option<(u32, u32)> {
    let header = bytes.get(..WAL_HEADER_LEN)?;
    let field = |i: usize| u32::from_be_bytes(header[i..i + 4].try_into().unwrap());
    let valid = field(0) == WAL_MAGIC
        && field(4) as usize == page_size
        && field(16) == header_checksum(header);
    valid.then(|| (field(8), field(12)))
}

/// Any new value from an old one: a salt-2 that differs from the last.
fn mix(value: u32) -> u32 {
    value.wrapping_mul(0x9E37_79B9).rotate_left(13) ^ 0x5A17_C0DE
}

/// Page 0 of the database file, as `create` writes it and nothing writes again: the magic, the
/// page size and a page count of 1 (the first scene's header; in WAL mode the page count is the
/// file's length over the page size, and the free list and change counter stay 0).
fn db_header(page_size: usize) -> Vec<u8> {
    let mut page = vec![0; page_size];
    page[..16].copy_from_slice(MAGIC);
    page[16..20].copy_from_slice(&(page_size as u32).to_be_bytes());
    page[20..24].copy_from_slice(&1u32.to_be_bytes());
    page
}

/// The page size of the database file, checked, and the pages it holds (its length over the
/// page size).
fn read_db_header(file: &dyn File) -> io::Result<(usize, u32)> {
    let mut header = [0u8; HEADER_LEN];
    file.read_exact_at(0, &mut header)
        .map_err(|e| match e.kind() {
            ErrorKind::UnexpectedEof => invalid_data("the file is shorter than a header"),
            _ => e,
        })?;
    if &header[..16] != MAGIC {
        return Err(invalid_data(
            "the file does not start with the magic string",
        ));
    }
    let field = |at: usize| u32::from_be_bytes(header[at..at + 4].try_into().unwrap());
    let page_size = field(16) as usize;
    if !valid_page_size(page_size) {
        return Err(invalid_data(format!(
            "the header's page size, {page_size}, is not a power of two from {MIN_PAGE_SIZE} \
             to {MAX_PAGE_SIZE}"
        )));
    }
    // A checkpoint cut short by a crash may leave a page torn, or the file short: the log
    // still holds every page such a checkpoint was copying, and reads take them from there.
    let pages = file.len()? / page_size as u64;
    Ok((page_size, u32::try_from(pages).unwrap_or(u32::MAX).max(1)))
}

fn check_page(page: PageNo, page_count: u32) -> io::Result<()> {
    match page {
        0 => Err(invalid_input("page 0 is the header: the pager's own")),
        page if page >= page_count => Err(invalid_input(format!(
            "page {page} is past the end: the snapshot holds {page_count} pages"
        ))),
        _ => Ok(()),
    }
}

fn valid_page_size(size: usize) -> bool {
    (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&size) && size.is_power_of_two()
}

fn invalid_input(message: impl Into<String>) -> io::Error {
    io::Error::new(ErrorKind::InvalidInput, message.into())
}

fn invalid_data(message: impl Into<String>) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, message.into())
}
