//! The rollback journal: the pager of the first scene, made all or nothing.
//!
//! The reference solution.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, ErrorKind};
use std::sync::Arc;

use kit::disk::{Dir, File};

/// A page's number: page `n` starts at byte `n * page_size` of the file. Page 0 is the header.
pub type PageNo = u32;

/// The first 16 bytes of every file the pager writes.
pub const MAGIC: &[u8; 16] = b"btree format 1\0\0";

/// The header's fields take this many bytes at the start of page 0; the rest of it is zeros.
pub const HEADER_LEN: usize = 36;

/// The smallest and the largest page size (both powers of two, as every page size is).
pub const MIN_PAGE_SIZE: usize = 512;
pub const MAX_PAGE_SIZE: usize = 65536;

/// The journal of the database `name` is the file `name` followed by this.
pub const JOURNAL_SUFFIX: &str = "-journal";

/// The first 8 bytes of every segment header of a journal (SQLite's own).
pub const JOURNAL_MAGIC: [u8; 8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];

/// A segment header of the journal takes this many bytes.
pub const JOURNAL_HEADER_LEN: usize = 24;

/// What the cache has done since the pager was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads and writes of a page the cache held.
    pub hits: u64,
    /// Reads of a page the cache did not hold: each cost one read of the file.
    pub misses: u64,
    /// Pages dropped from the cache to make room for another.
    pub evictions: u64,
    /// Evicted pages that were dirty, and so were written to the file first.
    pub write_backs: u64,
}

/// One page in the cache.
#[derive(Debug)]
struct Frame {
    data: Vec<u8>,
    /// Changed since it was last written to the file.
    dirty: bool,
    /// When it was last read or written: the frame with the smallest is the least recently used.
    used: u64,
}

/// What an open transaction keeps.
#[derive(Debug)]
struct Transaction {
    /// The page count and the free list at `begin`: what a rollback puts back.
    old_count: u32,
    old_free: (PageNo, u32),
    /// The journal, from the transaction's first change on.
    journal: Option<Journal>,
}

/// The journal of the open transaction.
#[derive(Debug)]
struct Journal {
    file: Box<dyn File>,
    nonce: u32,
    /// The pages whose original bytes are in the journal (written, perhaps not yet synced).
    saved: BTreeSet<PageNo>,
    /// Where the segment being written starts, and how many records it holds so far: its header
    /// is written when it is synced.
    segment_start: u64,
    segment_records: u32,
    /// Whether the journal's name was made durable (by a directory sync).
    name_synced: bool,
}

/// A file of pages, with a cache of at most `cache_pages` of them, changed in transactions.
#[derive(Debug)]
pub struct Pager {
    dir: Arc<dyn Dir>,
    journal_name: String,
    file: Box<dyn File>,
    page_size: usize,
    page_count: u32,
    free_head: u32,
    free_count: u32,
    change_counter: u32,
    /// A write, sync or name operation failed: what the files hold is no longer known, and
    /// every call fails until the database is opened again.
    broken: bool,
    transaction: Option<Transaction>,
    cache_pages: usize,
    frames: HashMap<PageNo, Frame>,
    clock: u64,
    stats: CacheStats,
}

impl Pager {
    /// Creates the file `name` holding only its header page (a page count of 1), syncs it and
    /// the directory. `page_size` must be a power of two from 512 to 65536 and `cache_pages` at
    /// least 1, or `InvalidInput` (before the disk is touched).
    pub fn create(
        dir: Arc<dyn Dir>,
        name: &str,
        page_size: usize,
        cache_pages: usize,
    ) -> io::Result<Pager> {
        if !valid_page_size(page_size) {
            return Err(invalid_input(format!(
                "a page size is a power of two from {MIN_PAGE_SIZE} to {MAX_PAGE_SIZE}, not \
                 {page_size}"
            )));
        }
        check_cache_pages(cache_pages)?;
        let file = dir.create(name)?;
        let mut pager = Pager::new(dir, name, file, page_size, cache_pages);
        pager.page_count = 1;
        pager.file.write_at(0, &pager.header())?;
        pager.file.sync()?;
        // The name must survive a crash too, or the synced header goes with it.
        pager.dir.sync()?;
        Ok(pager)
    }

    /// Opens the file `name`. A hot journal (`name` + `JOURNAL_SUFFIX`, with a valid first
    /// segment header) is played back first: the originals it holds are written back, the file
    /// is cut to the page count it names, synced, and the journal removed. Then the header is
    /// read and checked: another magic, a page size out of range, a page count of 0 or a file
    /// shorter than its page count says is `InvalidData`; `cache_pages` of 0 is `InvalidInput`.
    pub fn open(dir: Arc<dyn Dir>, name: &str, cache_pages: usize) -> io::Result<Pager> {
        check_cache_pages(cache_pages)?;
        let file = dir.open(name)?;
        // Before the header is trusted: an interrupted commit may have torn it.
        recover(&*dir, &*file, &journal_name(name))?;
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
                "the header's page size, {page_size}, is not a power of two from \
                 {MIN_PAGE_SIZE} to {MAX_PAGE_SIZE}"
            )));
        }
        let page_count = field(20);
        if page_count == 0 {
            return Err(invalid_data("the header counts no pages, not even itself"));
        }
        let len = file.len()?;
        if len < u64::from(page_count) * page_size as u64 {
            return Err(invalid_data(format!(
                "the header counts {page_count} pages of {page_size} bytes, but the file holds \
                 only {len} bytes"
            )));
        }
        let mut pager = Pager::new(dir, name, file, page_size, cache_pages);
        pager.page_count = page_count;
        pager.free_head = field(24);
        pager.free_count = field(28);
        pager.change_counter = field(32);
        Ok(pager)
    }

    fn new(
        dir: Arc<dyn Dir>,
        name: &str,
        file: Box<dyn File>,
        page_size: usize,
        cache_pages: usize,
    ) -> Pager {
        Pager {
            dir,
            journal_name: journal_name(name),
            file,
            page_size,
            page_count: 0,
            free_head: 0,
            free_count: 0,
            change_counter: 0,
            broken: false,
            transaction: None,
            cache_pages,
            frames: HashMap::new(),
            clock: 0,
            stats: CacheStats::default(),
        }
    }

    /// The size of every page, in bytes.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// How many pages the database holds, the header page included (with the open
    /// transaction's allocations).
    pub fn page_count(&self) -> u32 {
        self.page_count
    }

    /// The free list's first page and its length, as the header holds them (with the open
    /// transaction's change).
    pub fn free_list(&self) -> (PageNo, u32) {
        (self.free_head, self.free_count)
    }

    /// What the cache has done so far.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }

    /// Opens a transaction. It touches no disk: the journal is made at the first change.
    /// A transaction already open is `InvalidInput`.
    pub fn begin(&mut self) -> io::Result<()> {
        self.check_working()?;
        if self.transaction.is_some() {
            return Err(invalid_input("a transaction is already open"));
        }
        self.transaction = Some(Transaction {
            old_count: self.page_count,
            old_free: (self.free_head, self.free_count),
            journal: None,
        });
        Ok(())
    }

    /// Sets the free list's first page and its length, in the open transaction.
    pub fn set_free_list(&mut self, head: PageNo, count: u32) -> io::Result<()> {
        self.check_working()?;
        self.check_transaction()?;
        self.save_original(0)?;
        self.free_head = head;
        self.free_count = count;
        Ok(())
    }

    /// Adds a page at the end of the file, all zeros, and returns its number, in the open
    /// transaction. It goes into the cache, dirty (but a full cache evicts a page for it).
    pub fn allocate(&mut self) -> io::Result<PageNo> {
        self.check_working()?;
        self.check_transaction()?;
        let page = self.page_count;
        let next = page.checked_add(1).ok_or_else(|| {
            io::Error::new(
                ErrorKind::StorageFull,
                "the file holds as many pages as a page number can name",
            )
        })?;
        // The header changes: the page count.
        self.save_original(0)?;
        self.make_room()?;
        self.insert(page, vec![0; self.page_size], true);
        self.page_count = next;
        Ok(page)
    }

    /// A copy of page `page`: from the cache if it is there, or else with one read of the file
    /// (after which the cache holds it). Page 0 and pages past the end are `InvalidInput`. It
    /// needs no transaction.
    pub fn read(&mut self, page: PageNo) -> io::Result<Vec<u8>> {
        self.check_working()?;
        self.check_page(page)?;
        if let Some(frame) = self.touch(page) {
            let data = frame.data.clone();
            self.stats.hits += 1;
            return Ok(data);
        }
        // Read first: if the read fails, the cache is as it was.
        let mut data = vec![0; self.page_size];
        self.file.read_exact_at(self.offset(page), &mut data)?;
        self.make_room()?;
        self.stats.misses += 1;
        self.insert(page, data.clone(), false);
        Ok(data)
    }

    /// Replaces page `page` with `data` (exactly one page long), in the open transaction: the
    /// page's original bytes go to the journal first, the first time the transaction changes
    /// it. Page 0, pages past the end, data of another length and a write with no transaction
    /// open are `InvalidInput`.
    pub fn write(&mut self, page: PageNo, data: &[u8]) -> io::Result<()> {
        self.check_working()?;
        self.check_page(page)?;
        if data.len() != self.page_size {
            return Err(invalid_input(format!(
                "a page is {} bytes, not {}",
                self.page_size,
                data.len()
            )));
        }
        self.check_transaction()?;
        self.save_original(page)?;
        if let Some(frame) = self.touch(page) {
            frame.data.copy_from_slice(data);
            frame.dirty = true;
            self.stats.hits += 1;
        } else {
            self.make_room()?;
            self.insert(page, data.to_vec(), true);
        }
        Ok(())
    }

    /// Makes the open transaction durable, all or nothing: syncs the journal, writes every
    /// dirty page and the header (its change counter one up), syncs the file, removes the
    /// journal (the commit point) and syncs the directory. A transaction that changed nothing
    /// touches no disk. With no transaction open: `InvalidInput`.
    pub fn commit(&mut self) -> io::Result<()> {
        self.check_working()?;
        self.check_transaction()?;
        let changed = self
            .transaction
            .as_ref()
            .is_some_and(|t| t.journal.is_some());
        if !changed {
            self.transaction = None;
            return Ok(());
        }
        // Every original must be durable before the first page is overwritten.
        self.sync_journal()?;
        let mut dirty: Vec<PageNo> = self
            .frames
            .iter()
            .filter(|(_, frame)| frame.dirty)
            .map(|(&page, _)| page)
            .collect();
        dirty.sort_unstable();
        for &page in &dirty {
            let result = self
                .file
                .write_at(self.offset(page), &self.frames[&page].data);
            self.stop_on_error(result)?;
        }
        let mut header = self.header();
        let counter = self.change_counter.wrapping_add(1);
        header[32..36].copy_from_slice(&counter.to_be_bytes());
        let result = self.file.write_at(0, &header);
        self.stop_on_error(result)?;
        // The pages must be durable before the journal that could undo them is gone.
        let result = self.file.sync();
        self.stop_on_error(result)?;
        // The commit point: with the journal gone, a crash keeps the new pages.
        let result = self.dir.remove(&self.journal_name);
        self.stop_on_error(result)?;
        let result = self.dir.sync();
        self.stop_on_error(result)?;
        for page in dirty {
            self.frames.get_mut(&page).expect("listed above").dirty = false;
        }
        self.change_counter = counter;
        self.transaction = None;
        Ok(())
    }

    /// Undoes the open transaction: every page it changed reads as before, and the page count
    /// and free list are as they were. Pages that already reached the file (evicted) are put
    /// back from the journal, as recovery does, and the journal is removed. With no
    /// transaction open: `InvalidInput`.
    pub fn rollback(&mut self) -> io::Result<()> {
        self.check_working()?;
        self.check_transaction()?;
        let transaction = self.transaction.take().expect("checked above");
        if transaction.journal.is_some() {
            // The journal's synced segments hold the original of every page that reached the
            // file; the pages of the segment not yet synced never did.
            let result = recover(&*self.dir, &*self.file, &self.journal_name);
            self.stop_on_error(result)?;
        }
        // What the cache holds of the transaction is gone; clean pages are the originals.
        let old_count = transaction.old_count;
        self.frames
            .retain(|&page, frame| !frame.dirty && page < old_count);
        self.page_count = old_count;
        (self.free_head, self.free_count) = transaction.old_free;
        Ok(())
    }

    /// Puts the original of `page` in the journal if the open transaction has not yet changed
    /// it. Pages the transaction allocated have no original: the file is cut back instead.
    fn save_original(&mut self, page: PageNo) -> io::Result<()> {
        let transaction = self.transaction.as_ref().expect("checked by the caller");
        if page >= transaction.old_count {
            return Ok(());
        }
        if transaction.journal.is_none() {
            self.open_journal()?;
        }
        let journal = self.journal();
        if journal.saved.contains(&page) {
            return Ok(());
        }
        // The cache holds the page as it is in the file: nothing was changed yet.
        let original = match self.frames.get(&page) {
            Some(frame) => frame.data.clone(),
            None => {
                let mut data = vec![0; self.page_size];
                // A failed read changes nothing: the call fails, the pager goes on.
                self.file.read_exact_at(self.offset(page), &mut data)?;
                data
            }
        };
        self.append_record(page, &original)
    }

    /// Creates the journal at the transaction's first change, its first record the header
    /// page as it was.
    fn open_journal(&mut self) -> io::Result<()> {
        let result = self.dir.create(&self.journal_name);
        let file = self.stop_on_error(result)?;
        // Any value will do; mixing in the change counter makes each transaction's differ.
        let nonce = self.change_counter.wrapping_mul(0x9E37_79B9) ^ 0x5A17_C0DE;
        let transaction = self.transaction.as_mut().expect("checked by the caller");
        transaction.journal = Some(Journal {
            file,
            nonce,
            saved: BTreeSet::new(),
            segment_start: 0,
            segment_records: 0,
            name_synced: false,
        });
        let header = self.header();
        self.append_record(0, &header)
    }

    /// Writes a record of `page`'s original into the segment being written.
    fn append_record(&mut self, page: PageNo, original: &[u8]) -> io::Result<()> {
        let record_len = (self.page_size + 8) as u64;
        let journal = self.journal();
        let at = journal.segment_start
            + JOURNAL_HEADER_LEN as u64
            + u64::from(journal.segment_records) * record_len;
        let mut record = Vec::with_capacity(record_len as usize);
        record.extend_from_slice(&page.to_be_bytes());
        record.extend_from_slice(original);
        record.extend_from_slice(&checksum(journal.nonce, page, original).to_be_bytes());
        let result = journal.file.write_at(at, &record);
        self.stop_on_error(result)?;
        let journal = self.journal();
        journal.segment_records += 1;
        journal.saved.insert(page);
        Ok(())
    }

    /// Makes every record written so far durable: writes the segment's header, syncs the
    /// journal, and the first time, the directory (or the journal's name may not survive a
    /// crash that the pages written next do). Called before any page reaches the file.
    fn sync_journal(&mut self) -> io::Result<()> {
        let old_count = match &self.transaction {
            Some(Transaction {
                old_count,
                journal: Some(_),
                ..
            }) => *old_count,
            _ => return Ok(()),
        };
        let page_size = self.page_size;
        let journal = self.journal();
        if journal.segment_records == 0 {
            return Ok(());
        }
        let mut header = Vec::with_capacity(JOURNAL_HEADER_LEN);
        header.extend_from_slice(&JOURNAL_MAGIC);
        header.extend_from_slice(&journal.segment_records.to_be_bytes());
        header.extend_from_slice(&journal.nonce.to_be_bytes());
        header.extend_from_slice(&old_count.to_be_bytes());
        header.extend_from_slice(&(page_size as u32).to_be_bytes());
        let result = journal.file.write_at(journal.segment_start, &header);
        self.stop_on_error(result)?;
        let result = self.journal().file.sync();
        self.stop_on_error(result)?;
        if !self.journal().name_synced {
            let result = self.dir.sync();
            self.stop_on_error(result)?;
        }
        let journal = self.journal();
        journal.name_synced = true;
        journal.segment_start +=
            JOURNAL_HEADER_LEN as u64 + u64::from(journal.segment_records) * (page_size as u64 + 8);
        journal.segment_records = 0;
        Ok(())
    }

    fn journal(&mut self) -> &mut Journal {
        self.transaction
            .as_mut()
            .and_then(|t| t.journal.as_mut())
            .expect("the transaction has a journal")
    }

    /// Page 0 as this pager would write it now.
    fn header(&self) -> Vec<u8> {
        let mut page = vec![0; self.page_size];
        page[..16].copy_from_slice(MAGIC);
        let fields = [
            self.page_size as u32,
            self.page_count,
            self.free_head,
            self.free_count,
            self.change_counter,
        ];
        for (i, field) in fields.into_iter().enumerate() {
            page[16 + 4 * i..20 + 4 * i].copy_from_slice(&field.to_be_bytes());
        }
        page
    }

    /// A failed write, sync or name operation leaves the files in a state the pager no longer
    /// knows: it stops, and opening the database again recovers it from the journal.
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

    fn check_transaction(&self) -> io::Result<()> {
        match self.transaction {
            Some(_) => Ok(()),
            None => Err(invalid_input("no transaction is open: call begin first")),
        }
    }

    fn check_page(&self, page: PageNo) -> io::Result<()> {
        match page {
            0 => Err(invalid_input("page 0 is the header: the pager's own")),
            page if page >= self.page_count => Err(invalid_input(format!(
                "page {page} is past the end: the file holds {} pages",
                self.page_count
            ))),
            _ => Ok(()),
        }
    }

    fn offset(&self, page: PageNo) -> u64 {
        u64::from(page) * self.page_size as u64
    }

    /// The cached frame of `page`, now the most recently used, if the cache holds it.
    fn touch(&mut self, page: PageNo) -> Option<&mut Frame> {
        self.clock += 1;
        let now = self.clock;
        let frame = self.frames.get_mut(&page)?;
        frame.used = now;
        Some(frame)
    }

    /// If the cache is full, evicts its least recently used page, writing it back first if it
    /// is dirty, and before that syncing the journal that holds its original.
    fn make_room(&mut self) -> io::Result<()> {
        if self.frames.len() < self.cache_pages {
            return Ok(());
        }
        let (&victim, frame) = self
            .frames
            .iter()
            .min_by_key(|(_, frame)| frame.used)
            .expect("a full cache holds a page");
        if frame.dirty {
            // The original must be durable in the journal before the page overwrites it.
            self.sync_journal()?;
            let result = self
                .file
                .write_at(self.offset(victim), &self.frames[&victim].data);
            self.stop_on_error(result)?;
            self.stats.write_backs += 1;
        }
        self.frames.remove(&victim);
        self.stats.evictions += 1;
        Ok(())
    }

    fn insert(&mut self, page: PageNo, data: Vec<u8>, dirty: bool) {
        self.clock += 1;
        let used = self.clock;
        self.frames.insert(page, Frame { data, dirty, used });
    }
}

/// The name of the journal of the database `name`.
fn journal_name(name: &str) -> String {
    format!("{name}{JOURNAL_SUFFIX}")
}

/// A journal record's checksum: the CRC-32 of the nonce, the page number (both big-endian) and
/// the page's bytes.
fn checksum(nonce: u32, page: PageNo, data: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&nonce.to_be_bytes());
    hasher.update(&page.to_be_bytes());
    hasher.update(data);
    hasher.finalize()
}

/// A journal segment's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SegmentHeader {
    records: u32,
    nonce: u32,
    old_count: u32,
    page_size: usize,
}

fn parse_header(bytes: &[u8]) -> Option<SegmentHeader> {
    let header = bytes.get(..JOURNAL_HEADER_LEN)?;
    if header[..8] != JOURNAL_MAGIC {
        return None;
    }
    let field = |at: usize| u32::from_be_bytes(header[at..at + 4].try_into().unwrap());
    let page_size = field(20) as usize;
    if !valid_page_size(page_size) {
        return None;
    }
    Some(SegmentHeader {
        records: field(8),
        nonce: field(12),
        old_count: field(16),
        page_size,
    })
}

/// Plays back the journal `journal_name` of `db` if there is one, and removes it. A hot journal
/// (a valid first segment header) puts back every original it holds, up to the first segment
/// or record that does not check, cuts the file to the page count before the transaction, and
/// syncs it, all before the journal goes: a crash at any step finds the journal again, and
/// recovers again.
fn recover(dir: &dyn Dir, db: &dyn File, journal_name: &str) -> io::Result<()> {
    let journal = match dir.open(journal_name) {
        Ok(file) => file,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    let mut bytes = vec![0; journal.len()? as usize];
    journal.read_exact_at(0, &mut bytes)?;
    // A journal without a valid first header was never synced: no page of its transaction
    // reached the file, and it is simply removed.
    if let Some(first) = parse_header(&bytes) {
        let page_size = first.page_size;
        let record_len = page_size + 8;
        let mut at = 0;
        'segments: while let Some(header) = bytes.get(at..).and_then(parse_header) {
            // A segment of another journal (a header left from before) ends this one.
            if (header.nonce, header.old_count, header.page_size)
                != (first.nonce, first.old_count, first.page_size)
            {
                break;
            }
            at += JOURNAL_HEADER_LEN;
            for _ in 0..header.records {
                let Some(record) = bytes.get(at..at + record_len) else {
                    break 'segments;
                };
                let page = u32::from_be_bytes(record[..4].try_into().unwrap());
                let original = &record[4..4 + page_size];
                let sum = u32::from_be_bytes(record[4 + page_size..].try_into().unwrap());
                // A record torn by a crash: its segment was never synced, so its page never
                // reached the file. It and everything after it are left alone.
                if sum != checksum(header.nonce, page, original) {
                    break 'segments;
                }
                db.write_at(u64::from(page) * page_size as u64, original)?;
                at += record_len;
            }
        }
        // Pages the transaction added are cut off.
        db.truncate(u64::from(first.old_count) * page_size as u64)?;
        db.sync()?;
    }
    dir.remove(journal_name)?;
    dir.sync()
}

fn valid_page_size(size: usize) -> bool {
    (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&size) && size.is_power_of_two()
}

fn check_cache_pages(cache_pages: usize) -> io::Result<()> {
    match cache_pages {
        0 => Err(invalid_input("the cache must hold at least one page")),
        _ => Ok(()),
    }
}

fn invalid_input(message: impl Into<String>) -> io::Error {
    io::Error::new(ErrorKind::InvalidInput, message.into())
}

fn invalid_data(message: impl Into<String>) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, message.into())
}
