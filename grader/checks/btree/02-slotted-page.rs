//! Hidden checks for btree/slotted-page.
//!
//! Two judges of a page sit here, independent of the learner's code: `parse`, which reads any
//! page's bytes and says what rule of the layout they break, and `RefPage`, the rules of the
//! README played on bytes, which says what every byte must be after a sequence of calls.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use btree_slotted_page::{
    Full, HEADER_SIZE, MAX_FRAGMENTED, MAX_PAGE_SIZE, MIN_CELL_SIZE, MIN_PAGE_SIZE, POINTER_SIZE,
    Page, cell_size,
};
use judge::prelude::*;
use kit::crash::show;

pub fn suite() -> Suite {
    Suite::new()
        .check("cell_size is the length plus 2, never under 4", cell_sizes)
        .check(
            "a new page of every size from 512 to 65536 is all zeroes but its content start (the \
             page size, 65536 written as 0): count 0, free_space size - 8",
            new_pages,
        )
        .check(
            "new and from_bytes panic on a size that is not a power of two from 512 to 65536",
            bad_sizes_panic,
        )
        .check(
            "insert puts the cell at the index asked, at 0, in the middle and at the end, and \
             remove takes out the one asked, the last one too",
            order_of_cells,
        )
        .check(
            "insert panics on an index past count(); cell and remove panic on an index at or \
             past count()",
            out_of_range_panics,
        )
        .check(
            "empty cells and cells of 1 and 2 bytes take 4 bytes, padded with zeroes, and read \
             back as they were inserted",
            short_cells,
        )
        .check(
            "a cell of size - 12 bytes fills an empty page exactly, at every size; one byte more \
             is Full, and removing it gives back a new page",
            fills_exactly,
        )
        .check(
            "a page filled with 4-byte cells holds (size - 8) / 6 of them, then says Full; \
             removing them all gives back a new page",
            full_of_smallest_cells,
        )
        .check(
            "Err(Full) changes no byte of the page: a cell bigger than free_space, by one byte or \
             many, on a page with freeblocks and fragments",
            full_changes_nothing,
        )
        .check(
            "an insert that fits only once the page is defragmented defragments it and succeeds",
            defragments_when_needed,
        )
        .check(
            "a removed cell merges with the freeblocks it touches on either side, and free bytes \
             at the content start go back to the gap",
            freeblocks_merge,
        )
        .check(
            "an insert takes the first freeblock that fits: its end if 4 bytes or more are left \
             over, else all of it, the rest counted as fragmented bytes",
            first_fit,
        )
        .check(
            "an insert takes a freeblock only if the gap has 2 bytes for its pointer: with 0 or \
             1, the page is defragmented, and the cell goes in the gap",
            freeblock_needs_room_for_the_pointer,
        )
        .check(
            "an insert takes the gap only if it holds the cell and its pointer: with a gap of \
             the cell's size or one byte more, the page is defragmented first",
            gap_needs_room_for_the_pointer,
        )
        .check(
            "an insert that would bring the fragmented bytes past 60 defragments the page instead",
            fragment_limit,
        )
        .check(
            "defragment packs the cells against the end of the page in cell order, cell 0 last, \
             and zeroes the gap",
            defragment_packs_in_order,
        )
        .check(
            "a scripted sequence of inserts, removes and a defragment leaves exactly the bytes the \
             README's rules give",
            golden_bytes,
        )
        .check(
            "from_bytes reads a page laid out by someone else: its cells, its freeblocks, its \
             fragments, and byte 0 is never changed",
            reads_another_page,
        )
        .check(
            "agrees with a list of cells on any sequence of insert, remove, cell and defragment at \
             every page size, and the page parses after every call (header, pointers, cells, \
             freeblock chain, every byte accounted for, free bytes zero)",
            matches_model,
        )
        .check(
            "after any sequence of calls at every page size, every byte is where the README's \
             rules put it",
            exact_bytes,
        )
}

const SIZES: [usize; 8] = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];

// ---------------------------------------------------------------------------------------------
// Reading a page: the checks' own parser.

/// What a page's bytes say, once they are known to obey the layout.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Layout {
    count: usize,
    content_start: usize,
    fragmented: usize,
    /// Where each cell starts, in cell order.
    pointers: Vec<usize>,
    cells: Vec<Vec<u8>>,
    /// (offset, size) of each freeblock, in chain order.
    freeblocks: Vec<(usize, usize)>,
}

impl Layout {
    fn gap(&self) -> usize {
        self.content_start - HEADER_SIZE - POINTER_SIZE * self.count
    }

    fn free_space(&self) -> usize {
        self.gap() + self.fragmented + self.freeblocks.iter().map(|b| b.1).sum::<usize>()
    }

    /// One line, as a failure message shows a page.
    fn summary(&self) -> String {
        let cells: Vec<String> = self
            .pointers
            .iter()
            .zip(&self.cells)
            .map(|(at, cell)| format!("{at}: {} bytes", cell.len()))
            .collect();
        let blocks: Vec<String> = self
            .freeblocks
            .iter()
            .map(|(at, size)| format!("{at}: {size} bytes"))
            .collect();
        format!(
            "{} [{}], content start {}, freeblocks [{}], fragmented {}",
            match self.count {
                1 => "1 cell".to_string(),
                n => format!("{n} cells"),
            },
            cells.join(", "),
            self.content_start,
            blocks.join(", "),
            self.fragmented
        )
    }

    /// What byte `at` of the page is, in words.
    fn place(&self, at: usize) -> String {
        match at {
            0 => return "byte 0 (the tree's, never changed)".into(),
            1 | 2 => return "the header's first freeblock".into(),
            3 | 4 => return "the header's cell count".into(),
            5 | 6 => return "the header's content start".into(),
            7 => return "the header's fragmented count".into(),
            _ => {}
        }
        let array_end = HEADER_SIZE + POINTER_SIZE * self.count;
        if at < array_end {
            return format!("pointer {}", (at - HEADER_SIZE) / POINTER_SIZE);
        }
        if at < self.content_start {
            return "the gap".into();
        }
        for (i, (&start, cell)) in self.pointers.iter().zip(&self.cells).enumerate() {
            if (start..start + cell_bytes(cell.len())).contains(&at) {
                return format!("cell {i}, at {start}");
            }
        }
        for &(start, size) in &self.freeblocks {
            if (start..start + size).contains(&at) {
                return format!("the freeblock at {start}");
            }
        }
        "fragmented bytes".into()
    }
}

/// A byte of the learner's page, which may be shorter than it should be.
fn byte_text(byte: Option<&u8>) -> String {
    byte.map_or("missing (the page is shorter)".into(), |b| {
        format!("{b:#04x}")
    })
}

/// The checks' own `cell_size`: the learner's is checked on its own, never trusted.
fn cell_bytes(len: usize) -> usize {
    (len + 2).max(4)
}

fn u16_at(bytes: &[u8], at: usize) -> usize {
    u16::from_be_bytes([bytes[at], bytes[at + 1]]) as usize
}

/// Reads `bytes` as a page, or says the first rule of the layout they break.
fn parse(bytes: &[u8]) -> Result<Layout, String> {
    let size = bytes.len();
    if !(size.is_power_of_two() && (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&size)) {
        return Err(format!("bytes() has {size} bytes, not a page size"));
    }
    let count = u16_at(bytes, 3);
    let first_free = u16_at(bytes, 1);
    let content_start = match u16_at(bytes, 5) {
        0 => MAX_PAGE_SIZE,
        at => at,
    };
    let fragmented = bytes[7] as usize;
    let array_end = HEADER_SIZE + POINTER_SIZE * count;
    if content_start > size {
        return Err(format!(
            "the content start is {content_start}, past the end of a page of {size} bytes"
        ));
    }
    if array_end > content_start {
        return Err(format!(
            "the pointers of {count} cells end at {array_end}, past the content start, \
             {content_start}"
        ));
    }
    if fragmented > MAX_FRAGMENTED {
        return Err(format!(
            "the header counts {fragmented} fragmented bytes: at most {MAX_FRAGMENTED}"
        ));
    }
    // Each region of the content area: (start, end, what it is).
    let mut regions: Vec<(usize, usize, String)> = Vec::new();
    let mut pointers = Vec::new();
    let mut cells = Vec::new();
    for i in 0..count {
        let at = u16_at(bytes, HEADER_SIZE + POINTER_SIZE * i);
        if at < content_start || at + MIN_CELL_SIZE > size {
            return Err(format!(
                "pointer {i} is {at}, outside the content area ({content_start}..{size})"
            ));
        }
        let len = u16_at(bytes, at);
        let end = at + cell_bytes(len);
        if end > size {
            return Err(format!(
                "cell {i}, at {at}, has length {len}: its {} bytes run past the end of the page \
                 ({size})",
                cell_bytes(len)
            ));
        }
        pointers.push(at);
        cells.push(bytes[at + 2..at + 2 + len].to_vec());
        regions.push((at, end, format!("cell {i}")));
    }
    let mut freeblocks = Vec::new();
    let mut block = first_free;
    let mut last_end = 0;
    while block != 0 {
        if block < content_start || block + 4 > size {
            return Err(format!(
                "a freeblock is at {block}, outside the content area ({content_start}..{size}) \
                 (freeblocks so far: {freeblocks:?})"
            ));
        }
        if let Some(&(before, _)) = freeblocks.last()
            && block <= before
        {
            return Err(format!(
                "the freeblock chain goes from {before} to {block}: it must be sorted by offset, \
                 lowest first"
            ));
        }
        if block == content_start {
            return Err(format!(
                "a freeblock starts at the content start, {block}: free bytes there are gap, and \
                 the content start moves up past them"
            ));
        }
        let block_size = u16_at(bytes, block + 2);
        if block_size < 4 || block + block_size > size {
            return Err(format!(
                "the freeblock at {block} says its size is {block_size}: a freeblock holds at \
                 least its 4-byte header and ends within the page ({size})"
            ));
        }
        if block == last_end {
            return Err(format!(
                "the freeblocks at {} and {block} touch: a freed cell merges with the freeblocks \
                 on either side, and the chain never holds two that touch",
                freeblocks.last().map_or(0, |b: &(usize, usize)| b.0)
            ));
        }
        freeblocks.push((block, block_size));
        regions.push((
            block,
            block + block_size,
            format!("the freeblock at {block}"),
        ));
        last_end = block + block_size;
        block = u16_at(bytes, block);
    }
    regions.sort_by_key(|r| (r.0, r.1));
    for pair in regions.windows(2) {
        let ((a_start, a_end, a), (b_start, b_end, b)) = (
            (pair[0].0, pair[0].1, &pair[0].2),
            (pair[1].0, pair[1].1, &pair[1].2),
        );
        if b_start < a_end {
            return Err(format!(
                "{a} (bytes {a_start}..{a_end}) and {b} (bytes {b_start}..{b_end}) overlap"
            ));
        }
    }
    let covered: usize = regions.iter().map(|r| r.1 - r.0).sum();
    let loose = size - content_start - covered;
    if loose != fragmented {
        return Err(format!(
            "the content area ({content_start}..{size}, {} bytes) holds {covered} bytes of cells \
             and freeblocks, which leaves {loose} bytes in none of them, but the header counts \
             {fragmented} fragmented bytes: every byte must be accounted for",
            size - content_start
        ));
    }
    let layout = Layout {
        count,
        content_start,
        fragmented,
        pointers,
        cells,
        freeblocks,
    };
    // Every free byte is zero: the gap, the padding of short cells, freeblocks after their
    // header, fragmented bytes.
    let mut used = vec![false; size];
    used[..array_end].fill(true);
    for (at, cell) in layout.pointers.iter().zip(&layout.cells) {
        used[*at..at + 2 + cell.len()].fill(true);
    }
    for (at, _) in &layout.freeblocks {
        used[*at..at + 4].fill(true);
    }
    if let Some(at) = (0..size).find(|&at| !used[at] && bytes[at] != 0) {
        return Err(format!(
            "byte {at}, in {}, is {:#04x}: every free byte is zero (the gap, fragmented bytes, a \
             freeblock after its 4-byte header, the padding of a cell under 2 bytes)",
            layout.place(at),
            bytes[at]
        ));
    }
    Ok(layout)
}

// ---------------------------------------------------------------------------------------------
// The rules, played on bytes: what every byte must be.

struct RefPage {
    bytes: Vec<u8>,
}

impl RefPage {
    fn new(size: usize) -> RefPage {
        let mut bytes = vec![0; size];
        bytes[5..7].copy_from_slice(&(size as u16).to_be_bytes());
        RefPage { bytes }
    }

    fn get(&self, at: usize) -> usize {
        u16_at(&self.bytes, at)
    }

    fn set(&mut self, at: usize, value: usize) {
        self.bytes[at..at + 2].copy_from_slice(&(value as u16).to_be_bytes());
    }

    fn count(&self) -> usize {
        self.get(3)
    }

    fn content_start(&self) -> usize {
        match self.get(5) {
            0 => MAX_PAGE_SIZE,
            at => at,
        }
    }

    fn gap(&self) -> usize {
        self.content_start() - HEADER_SIZE - POINTER_SIZE * self.count()
    }

    fn free_space(&self) -> usize {
        let mut free = self.gap() + self.bytes[7] as usize;
        let mut block = self.get(1);
        while block != 0 {
            free += self.get(block + 2);
            block = self.get(block);
        }
        free
    }

    fn insert(&mut self, index: usize, cell: &[u8]) -> Result<(), Full> {
        let count = self.count();
        let size = cell_bytes(cell.len());
        if POINTER_SIZE + size > self.free_space() {
            return Err(Full);
        }
        let at = self.allocate(size);
        self.set(at, cell.len());
        self.bytes[at + 2..at + 2 + cell.len()].copy_from_slice(cell);
        let from = HEADER_SIZE + POINTER_SIZE * index;
        let end = HEADER_SIZE + POINTER_SIZE * count;
        self.bytes.copy_within(from..end, from + POINTER_SIZE);
        self.set(from, at);
        self.set(3, count + 1);
        Ok(())
    }

    fn allocate(&mut self, size: usize) -> usize {
        if self.gap() >= POINTER_SIZE {
            let mut link = 1;
            let mut block = self.get(1);
            while block != 0 {
                let (block_size, next) = (self.get(block + 2), self.get(block));
                if block_size >= size {
                    let rest = block_size - size;
                    if rest >= MIN_CELL_SIZE {
                        self.set(block + 2, rest);
                        return block + rest;
                    }
                    let fragmented = self.bytes[7] as usize + rest;
                    if fragmented > MAX_FRAGMENTED {
                        self.defragment();
                        return self.take_from_gap(size);
                    }
                    self.set(link, next);
                    self.bytes[block..block + 4].fill(0);
                    self.bytes[7] = fragmented as u8;
                    return block;
                }
                link = block;
                block = next;
            }
        }
        if self.gap() < POINTER_SIZE + size {
            self.defragment();
        }
        self.take_from_gap(size)
    }

    fn take_from_gap(&mut self, size: usize) -> usize {
        let at = self.content_start() - size;
        self.set(5, at);
        at
    }

    fn remove(&mut self, index: usize) {
        let count = self.count();
        let at = self.get(HEADER_SIZE + POINTER_SIZE * index);
        let size = cell_bytes(self.get(at));
        let from = HEADER_SIZE + POINTER_SIZE * index;
        let end = HEADER_SIZE + POINTER_SIZE * count;
        self.bytes.copy_within(from + POINTER_SIZE..end, from);
        self.bytes[end - POINTER_SIZE..end].fill(0);
        self.set(3, count - 1);
        self.bytes[at..at + size].fill(0);
        let (mut link, mut prev, mut next) = (1, None, self.get(1));
        while next != 0 && next < at {
            prev = Some(next);
            link = next;
            next = self.get(next);
        }
        let mut end = at + size;
        if next != 0 && next == end {
            end += self.get(next + 2);
            let after = self.get(next);
            self.bytes[next..next + 4].fill(0);
            next = after;
        }
        if let Some(prev) = prev
            && prev + self.get(prev + 2) == at
        {
            self.set(prev, next);
            self.set(prev + 2, end - prev);
            return;
        }
        if at == self.content_start() {
            self.set(link, next);
            self.set(5, end);
            return;
        }
        self.set(at, next);
        self.set(at + 2, end - at);
        self.set(link, at);
    }

    fn defragment(&mut self) {
        let count = self.count();
        let size = self.bytes.len();
        let mut packed = vec![0; size];
        let mut top = size;
        for i in 0..count {
            let at = self.get(HEADER_SIZE + POINTER_SIZE * i);
            let len = cell_bytes(self.get(at));
            top -= len;
            packed[top..top + len].copy_from_slice(&self.bytes[at..at + len]);
            self.set(HEADER_SIZE + POINTER_SIZE * i, top);
        }
        let array_end = HEADER_SIZE + POINTER_SIZE * count;
        self.bytes[array_end..].copy_from_slice(&packed[array_end..]);
        self.set(1, 0);
        self.bytes[7] = 0;
        self.set(5, top);
    }
}

// ---------------------------------------------------------------------------------------------
// Calls on a page, each noted, so that a failure says what was done.

/// A cell's bytes as a failure message writes them: `"abc"`, `[7; 30]`.
fn shown(cell: &[u8]) -> String {
    if cell.len() > 24 && cell.iter().all(|&b| b == cell[0]) {
        return format!("[{}; {}]", cell[0], cell.len());
    }
    show(cell)
}

/// A learner's page, its judges' view (the list of cells it must hold and the rules' bytes), and
/// the calls made so far.
struct Tested {
    page: Page,
    size: usize,
    model: Vec<Vec<u8>>,
    reference: RefPage,
    calls: Vec<String>,
}

impl Tested {
    fn new(size: usize) -> Tested {
        Tested {
            page: Page::new(size),
            size,
            model: Vec::new(),
            reference: RefPage::new(size),
            calls: vec![format!("Page::new({size})")],
        }
    }

    fn from_bytes(bytes: Vec<u8>, how: &str) -> Tested {
        let layout = parse(&bytes).expect("the checks build a page that parses");
        let size = bytes.len();
        Tested {
            page: Page::from_bytes(bytes.clone()),
            size,
            model: layout.cells,
            reference: RefPage { bytes },
            calls: vec![format!("Page::from_bytes({how})")],
        }
    }

    fn did(&self) -> String {
        self.calls.join(", ")
    }

    fn note(&mut self, call: String) -> String {
        self.calls.push(call);
        self.did()
    }

    /// Free space as the list of cells says it must be.
    fn model_free(&self) -> usize {
        let used: usize = self
            .model
            .iter()
            .map(|c| POINTER_SIZE + cell_bytes(c.len()))
            .sum();
        self.size - HEADER_SIZE - used
    }

    /// Inserts and checks the answer: `Ok` when the cell fits, `Full` and no byte changed when not.
    fn insert(&mut self, index: usize, cell: &[u8]) -> CheckResult {
        let fits = POINTER_SIZE + cell_bytes(cell.len()) <= self.model_free();
        let free = self.model_free();
        let before = if fits {
            Vec::new()
        } else {
            self.page.bytes().to_vec()
        };
        let did = self.note(format!("insert({index}, {})", shown(cell)));
        let got = self.page.insert(index, cell);
        let expected = self.reference.insert(index, cell);
        if got != expected {
            let why = if fits {
                format!(
                    "Ok(()): free_space() was {free}, and the cell needs {} (2 for its pointer, \
                     {} for the cell), so it fits, after a defragment if need be",
                    POINTER_SIZE + cell_bytes(cell.len()),
                    cell_bytes(cell.len())
                )
            } else {
                format!(
                    "Err(Full): free_space() was {free}, and the cell needs {} (2 for its \
                     pointer, {} for the cell)",
                    POINTER_SIZE + cell_bytes(cell.len()),
                    cell_bytes(cell.len())
                )
            };
            return fail(format!(
                "did:      {did}\nexpected: {why}\ngot:      {got:?}"
            ));
        }
        if fits {
            self.model.insert(index, cell.to_vec());
        } else {
            let after = self.page.bytes();
            if let Some(at) = (0..self.size).find(|&at| after.get(at) != before.get(at)) {
                let place = parse(&before).map_or("the page".into(), |l| l.place(at));
                return fail(format!(
                    "did:      {did}\nexpected: Err(Full), and the page unchanged, every byte\n\
                     got:      Err(Full), and byte {at} ({place}) changed from {:#04x} to {}",
                    before[at],
                    byte_text(after.get(at))
                ));
            }
        }
        Ok(())
    }

    fn remove(&mut self, index: usize) {
        self.note(format!("remove({index})"));
        self.page.remove(index);
        self.reference.remove(index);
        self.model.remove(index);
    }

    fn defragment(&mut self) {
        self.note("defragment()".into());
        self.page.defragment();
        self.reference.defragment();
    }

    /// The learner's page parsed, or a failure that says which rule it breaks.
    fn layout(&mut self) -> Result<Layout, Failure> {
        let bytes = self.page.bytes();
        parse(bytes).map_err(|why| {
            Failure::new(format!(
                "did:      {}, bytes()\nexpected: a page laid out as the README says\n\
                 got:      {why}",
                self.did()
            ))
        })
    }

    /// The page parses, holds the cells it must in their order, and says so through count()
    /// and free_space().
    fn check_cells(&mut self) -> CheckResult {
        let layout = self.layout()?;
        let did = self.did();
        if layout.cells != self.model {
            let at = (0..layout.cells.len().max(self.model.len()))
                .find(|&i| layout.cells.get(i) != self.model.get(i))
                .unwrap_or(0);
            let what = |cell: Option<&Vec<u8>>| cell.map_or("no cell".into(), |c| shown(c));
            return fail(format!(
                "did:      {did}, bytes()\nexpected: {} cells; cell {at} is {}\n\
                 got:      {} cells in the page's bytes; cell {at} is {}\n\
                 page:     {}",
                self.model.len(),
                what(self.model.get(at)),
                layout.cells.len(),
                what(layout.cells.get(at)),
                layout.summary()
            ));
        }
        expect_eq(
            format!("{did}, count()"),
            self.page.count(),
            self.model.len(),
        )?;
        expect_eq(
            format!("{did}, free_space()"),
            self.page.free_space(),
            self.model_free(),
        )
    }

    /// `cell(index)` answers what the list of cells holds there.
    fn check_cell(&mut self, index: usize) -> CheckResult {
        let did = self.note(format!("cell({index})"));
        let got = shown(self.page.cell(index));
        expect_eq(did, got, shown(&self.model[index]))
    }

    /// Every byte is the rules' byte.
    fn check_bytes(&mut self) -> CheckResult {
        let got = self.page.bytes().to_vec();
        let expected = &self.reference.bytes;
        if got.len() != expected.len() {
            return fail(format!(
                "did:      {}, bytes()\nexpected: {} bytes\ngot:      {} bytes",
                self.did(),
                expected.len(),
                got.len()
            ));
        }
        let Some(at) = (0..got.len()).find(|&at| got[at] != expected[at]) else {
            return Ok(());
        };
        let want = parse(expected).expect("the rules' page parses");
        let have =
            parse(&got).map_or_else(|why| format!("breaks the layout: {why}"), |l| l.summary());
        fail(format!(
            "did:      {}, bytes()\nexpected: the bytes the README's rules give; byte {at}, in {}, \
             is {:#04x}\ngot:      byte {at} is {:#04x}\nexpected page: {}\ngot page:      {have}",
            self.did(),
            want.place(at),
            expected[at],
            got[at],
            want.summary()
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Panics.

fn panic_text(panic: &(dyn Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => text.to_string(),
        (_, Some(text)) => text.clone(),
        _ => "(a panic without a message)".into(),
    }
}

/// Runs `call`, which the documentation says must panic. A `todo!()` is not the panic asked for.
fn expect_panic<T>(did: &str, why: &str, call: impl FnOnce() -> T) -> CheckResult {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(_) => fail(format!(
            "did:      {did}\nexpected: a panic ({why})\ngot:      it returned normally"
        )),
        Err(panic) => {
            let text = panic_text(&*panic);
            if text.starts_with("not yet implemented") || text.starts_with("not implemented") {
                fail(format!(
                    "did:      {did}\nexpected: a panic ({why})\n\
                     got:      it reached a todo!(), which is not written yet"
                ))
            } else {
                Ok(())
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scripted checks.

fn cell_sizes(_: &mut Ctx) -> CheckResult {
    for (len, size) in [
        (0, 4),
        (1, 4),
        (2, 4),
        (3, 5),
        (4, 6),
        (100, 102),
        (65_524, 65_526),
        (70_000, 70_002),
    ] {
        expect_eq(format!("cell_size({len})"), cell_size(len), size)?;
    }
    Ok(())
}

fn new_pages(_: &mut Ctx) -> CheckResult {
    for size in SIZES {
        let mut t = Tested::new(size);
        t.check_bytes()?;
        t.check_cells()?;
        expect_eq(
            format!("Page::new({size}), free_space()"),
            t.page.free_space(),
            size - 8,
        )?;
    }
    Ok(())
}

fn bad_sizes_panic(_: &mut Ctx) -> CheckResult {
    let why = "a page size is a power of two from 512 to 65536";
    // 1536 and 3072 are multiples of 512, and no powers of two.
    for size in [0, 1, 256, 511, 513, 1000, 1536, 3072, 4095, 4097, 131_072] {
        expect_panic(&format!("Page::new({size})"), why, || Page::new(size))?;
    }
    for size in [0, 100, 256, 768, 1536, 4000, 131_072] {
        expect_panic(&format!("Page::from_bytes(vec![0; {size}])"), why, || {
            Page::from_bytes(vec![0; size])
        })?;
    }
    Ok(())
}

fn order_of_cells(_: &mut Ctx) -> CheckResult {
    let mut t = Tested::new(4096);
    // At 0 of an empty page, at the end, at 0 again, in the middle, at the end again.
    for (index, cell) in [
        (0, &b"bee"[..]),
        (1, b"dog"),
        (0, b"ant"),
        (2, b"cat"),
        (4, b"eel"),
        (2, b"bug"),
    ] {
        t.insert(index, cell)?;
        t.check_cells()?;
    }
    for i in 0..t.model.len() {
        t.check_cell(i)?;
    }
    // The first, the last, one in the middle, then the only one left.
    for index in [0, 4, 1, 2, 1, 0] {
        t.remove(index);
        t.check_cells()?;
        for i in 0..t.model.len() {
            t.check_cell(i)?;
        }
    }
    t.check_bytes()
}

fn out_of_range_panics(_: &mut Ctx) -> CheckResult {
    let why = |what: &str| format!("{what}: the page holds fewer cells");
    let page = |cells: usize| {
        let mut page = Page::new(1024);
        for i in 0..cells {
            let _ = page.insert(i, b"x");
        }
        page
    };
    let made = |cells: usize| {
        let inserts: Vec<String> = (0..cells).map(|i| format!("insert({i}, \"x\")")).collect();
        std::iter::once("Page::new(1024)".to_string())
            .chain(inserts)
            .collect::<Vec<_>>()
            .join(", ")
    };
    for cells in [0, 2] {
        let did = format!("{}, insert({}, \"y\")", made(cells), cells + 1);
        expect_panic(&did, &why("an index past count()"), || {
            page(cells).insert(cells + 1, b"y")
        })?;
        let did = format!("{}, cell({cells})", made(cells), cells = cells);
        expect_panic(&did, &why("an index at count()"), || {
            page(cells).cell(cells).to_vec()
        })?;
        let did = format!("{}, remove({cells})", made(cells));
        expect_panic(&did, &why("an index at count()"), || {
            page(cells).remove(cells)
        })?;
        // Panics on the index whether the cell fits or not.
        let did = format!("{}, insert({}, [0; 2000])", made(cells), cells + 1);
        expect_panic(&did, &why("an index past count()"), || {
            page(cells).insert(cells + 1, &[0; 2000])
        })?;
        let did = format!("{}, remove(usize::MAX)", made(cells));
        expect_panic(&did, &why("an index past count()"), || {
            page(cells).remove(usize::MAX)
        })?;
    }
    Ok(())
}

fn short_cells(_: &mut Ctx) -> CheckResult {
    let mut t = Tested::new(512);
    for (index, cell) in [
        (0, &b""[..]),
        (1, b"\x00"),
        (2, b"\xff\xff"),
        (1, b""),
        (0, b"z"),
        (5, b"\x00\x00"),
    ] {
        t.insert(index, cell)?;
        t.check_cells()?;
        t.check_bytes()?;
    }
    for i in 0..t.model.len() {
        t.check_cell(i)?;
    }
    for index in [1, 3, 0] {
        t.remove(index);
        t.check_cells()?;
        t.check_bytes()?;
    }
    t.defragment();
    t.check_cells()?;
    t.check_bytes()
}

fn fills_exactly(_: &mut Ctx) -> CheckResult {
    for size in SIZES {
        // One byte too many, on an empty page: Full, and the page still new.
        let mut t = Tested::new(size);
        t.insert(0, &vec![7; size - 11])?;
        t.check_bytes()?;
        // Exactly the page.
        let mut t = Tested::new(size);
        t.insert(0, &vec![9; size - 12])?;
        t.check_cells()?;
        t.check_bytes()?;
        t.insert(0, b"")?;
        t.insert(1, b"")?;
        t.remove(0);
        t.check_cells()?;
        t.check_bytes()?;
        // And again, the second time in a page whose content start has been 10.
        t.insert(0, &vec![5; size - 12])?;
        t.check_cells()?;
        t.check_bytes()?;
        t.remove(0);
        t.check_bytes()?;
    }
    Ok(())
}

fn full_of_smallest_cells(_: &mut Ctx) -> CheckResult {
    for size in [512, 4096, 65_536] {
        let mut page = Page::new(size);
        let most = (size - 8) / 6;
        let did = format!(
            "Page::new({size}), insert(i, cell i) for i = 0, 1, 2 ... while it returns Ok, cell i \
             being i % 3 bytes of value 1"
        );
        let cell = |i: usize| vec![1; i % 3];
        let mut count = 0;
        while count <= most {
            if page.insert(count, &cell(count)).is_err() {
                break;
            }
            count += 1;
        }
        expect(
            count == most,
            format!(
                "did:      {did}\nexpected: {most} inserts (each cell takes 4 bytes and its \
                 pointer 2; (size - 8) / 6 = {most}), then Err(Full)\ngot:      {count} inserts \
                 returned Ok"
            ),
        )?;
        let bytes = page.bytes().to_vec();
        let layout = parse(&bytes).map_err(|why| {
            Failure::new(format!(
                "did:      {did}, bytes()\nexpected: a page laid out as the README says\n\
                 got:      {why}"
            ))
        })?;
        let expected: Vec<Vec<u8>> = (0..most).map(cell).collect();
        expect(
            layout.cells == expected,
            format!(
                "did:      {did}, bytes()\nexpected: {most} cells, cell i of i % 3 bytes\n\
                 got:      {}",
                layout.summary()
            ),
        )?;
        expect_eq(
            format!("{did}, free_space()"),
            page.free_space(),
            (size - 8) % 6,
        )?;
        // Every other cell out, then the rest, from the end: freeblocks everywhere, then none.
        // (Not on the biggest page: its 10,921 cells take as many calls again to remove.)
        if size == MAX_PAGE_SIZE {
            continue;
        }
        for i in (0..most).rev().filter(|i| i % 2 == 1) {
            page.remove(i);
        }
        let left = most - most / 2;
        let did = format!("{did}, remove(i) for every odd i from the last down");
        expect_eq(format!("{did}, count()"), page.count(), left)?;
        for i in (0..left).rev() {
            page.remove(i);
        }
        let did = format!("{did}, remove(i) for every i from {} down to 0", left - 1);
        let got = page.bytes().to_vec();
        let new = RefPage::new(size).bytes;
        if let Some(at) = (0..size).find(|&at| got[at] != new[at]) {
            return fail(format!(
                "did:      {did}, bytes()\nexpected: the bytes of a new page (no cells, no \
                 freeblocks, content start {size}, every other byte zero)\ngot:      byte {at} \
                 is {:#04x}, not {:#04x}; {}",
                got[at],
                new[at],
                parse(&got).map_or_else(|why| why, |l| l.summary())
            ));
        }
    }
    Ok(())
}

/// A page with freeblocks, fragmented bytes and a small gap: cells of 40 bytes, then every
/// other one removed (not the lowest), and shorter cells put in the first two holes.
fn scattered(size: usize) -> Result<Tested, Failure> {
    let mut t = Tested::new(size);
    let mut i = 0;
    while t.model_free() >= 2 + 42 {
        t.insert(i, &[(i % 250) as u8 + 1; 40])?;
        i += 1;
    }
    for index in (1..i - 1).rev().filter(|index| index % 2 == 1) {
        t.remove(index);
    }
    // Into the first hole, 3 bytes left over: fragmented bytes. Into the second, 8 left over.
    t.insert(0, &[0xAA; 37])?;
    t.insert(0, &[0xBB; 32])?;
    t.check_cells()?;
    t.check_bytes()?;
    Ok(t)
}

fn full_changes_nothing(_: &mut Ctx) -> CheckResult {
    for size in [512, 1024, 65_536] {
        let mut t = Tested::new(size);
        for extra in [11, 100, size] {
            t.insert(0, &vec![3; size - extra])?;
        }
        t.check_cells()?;
        let mut t = scattered(size)?;
        let free = t.model_free();
        // One byte too many: a page that would defragment before it decides is caught here.
        t.insert(1, &vec![4; free - 3])?;
        t.insert(1, &vec![4; free + 50])?;
        t.insert(1, &vec![4; 70_000])?;
        t.check_cells()?;
        t.check_bytes()?;
        // Exactly enough: it fits, once packed.
        t.insert(1, &vec![4; free - 4])?;
        t.check_cells()?;
        t.check_bytes()?;
        expect_eq(format!("{}, free_space()", t.did()), t.page.free_space(), 0)?;
        t.insert(0, b"")?;
        t.check_bytes()?;
    }
    Ok(())
}

fn defragments_when_needed(_: &mut Ctx) -> CheckResult {
    for size in [512, 4096] {
        let mut t = scattered(size)?;
        let layout = t.layout()?;
        let biggest = layout.freeblocks.iter().map(|b| b.1).max().unwrap_or(0);
        let len = (biggest + 10).max(layout.gap() + 10);
        // The premise: no freeblock and not the gap, only all the free bytes together.
        assert!(len + 4 <= t.model_free(), "the check's own premise");
        t.insert(1, &vec![0x5A; len])?;
        t.check_cells()?;
        t.check_bytes()?;
        let layout = t.layout()?;
        expect(
            layout.freeblocks.is_empty() && layout.fragmented == 0,
            format!(
                "did:      {}, bytes()\nexpected: the page defragmented (no freeblock, no \
                 fragmented bytes)\ngot:      {}",
                t.did(),
                layout.summary()
            ),
        )?;
    }
    Ok(())
}

fn freeblocks_merge(_: &mut Ctx) -> CheckResult {
    // Cells 0..6 of 20 bytes (22 on the page), cell 0 at the end of the page, cell 5 lowest.
    let fresh = || -> Result<Tested, Failure> {
        let mut t = Tested::new(1024);
        for i in 0..6 {
            t.insert(i, &[i as u8 + 1; 20])?;
        }
        Ok(t)
    };
    // Each order of freeing 1, 2 and 3 (by their first places: cells move down as others go).
    let orders: [&[usize]; 6] = [
        &[1, 1, 1],
        &[1, 2, 1],
        &[2, 1, 1],
        &[2, 2, 1],
        &[3, 1, 1],
        &[3, 2, 1],
    ];
    for order in orders {
        let mut t = fresh()?;
        for &index in order {
            t.remove(index);
            t.check_cells()?;
            t.check_bytes()?;
        }
        let layout = t.layout()?;
        expect(
            layout.freeblocks.len() == 1 && layout.freeblocks[0].1 == 66,
            format!(
                "did:      {}, bytes()\nexpected: one freeblock of 66 bytes, the three cells' \
                 22 each merged\ngot:      {}",
                t.did(),
                layout.summary()
            ),
        )?;
        // The cell at the content start goes back to the gap; then the next, which touches the
        // freeblock: it and the freeblock are gap again.
        for _ in 0..2 {
            let last = t.model.len() - 1;
            t.remove(last);
            t.check_cells()?;
            t.check_bytes()?;
        }
        let layout = t.layout()?;
        expect(
            layout.freeblocks.is_empty() && layout.content_start == 1024 - 22,
            format!(
                "did:      {}, bytes()\nexpected: no freeblock, and the content start at {}: \
                 the cell at the content start and the freeblock it touched are gap again\n\
                 got:      {}",
                t.did(),
                1024 - 22,
                layout.summary()
            ),
        )?;
    }
    Ok(())
}

fn first_fit(_: &mut Ctx) -> CheckResult {
    let mut t = Tested::new(1024);
    // Cells of 30, 30, 50 and 10 bytes (32, 32, 52 and 12 on the page), each followed by a cell
    // of 1 byte. Cells go down the page as they come: once the four are removed, the chain, by
    // offset, holds blocks of 12, 52, 32 and 32 bytes.
    for (i, len) in [30, 1, 30, 1, 50, 1, 10, 1].into_iter().enumerate() {
        t.insert(i, &vec![i as u8 + 1; len])?;
    }
    for index in [6, 4, 2, 0] {
        t.remove(index);
    }
    t.check_bytes()?;
    // 20 bytes: not the first block (12), the second (52), though a block of 32 fits better:
    // 32 left over, the cell at its end.
    t.insert(0, &[0xC1; 18])?;
    t.check_bytes()?;
    // 32 bytes: the block left of 52, exactly: it leaves the chain, from between two others.
    t.insert(0, &[0xC2; 30])?;
    t.check_bytes()?;
    // 10 bytes: the first block, 12: 2 bytes left over, fragmented.
    t.insert(0, &[0xC3; 8])?;
    t.check_bytes()?;
    // 30 bytes: the first block of 32, 2 more fragmented bytes; the last, at the top, is left.
    t.insert(0, &[0xC4; 28])?;
    t.check_bytes()?;
    t.check_cells()?;
    let layout = t.layout()?;
    expect_eq(
        format!("{}, bytes(), the fragmented count", t.did()),
        layout.fragmented,
        4,
    )?;
    expect_eq(
        format!("{}, bytes(), the freeblocks (offset, size)", t.did()),
        layout.freeblocks,
        vec![(992, 32)],
    )
}

fn freeblock_needs_room_for_the_pointer(_: &mut Ctx) -> CheckResult {
    for size in [512, 65_536] {
        for gap in [0, 1, 2, 3] {
            let mut t = Tested::new(size);
            // A freeblock of 8 bytes between two cells, then a cell that leaves `gap` bytes of gap.
            t.insert(0, &[1; 100])?;
            t.insert(1, &[2; 6])?;
            t.insert(2, &[3; 10])?;
            t.remove(1);
            let room = t.layout()?.gap();
            t.insert(2, &vec![4; room - 4 - gap])?;
            t.check_bytes()?;
            expect_eq(
                format!("{}, bytes(), the gap", t.did()),
                t.layout()?.gap(),
                gap,
            )?;
            // 8 bytes free in the freeblock, and a few in the gap: enough for an empty cell and
            // its pointer (6), but the pointer array can only grow into the gap.
            t.insert(1, b"")?;
            t.check_cells()?;
            t.check_bytes()?;
        }
    }
    Ok(())
}

fn gap_needs_room_for_the_pointer(_: &mut Ctx) -> CheckResult {
    // On a 512-byte page: a 12-byte freeblock at the page's end, and a gap of 218 bytes. Cells
    // of 200 to 228 bytes fit in no freeblock; those needing the gap's last byte or two for
    // their pointer fit only once the page is defragmented, and the rest are Full.
    for len in 200..=228 {
        let mut t = Tested::new(512);
        t.insert(0, &[1; 10])?;
        t.insert(1, &[2; 270])?;
        t.remove(0);
        t.insert(1, &vec![3; len])?;
        t.check_cells()?;
        t.check_bytes()?;
    }
    Ok(())
}

fn fragment_limit(_: &mut Ctx) -> CheckResult {
    let mut t = Tested::new(4096);
    // 25 holes of 7 bytes (cells of 5), each between two cells of 1 byte.
    for i in 0..25 {
        t.insert(2 * i, b"-")?;
        t.insert(2 * i + 1, b"hello")?;
    }
    t.insert(50, b"-")?;
    for i in (0..25).rev() {
        t.remove(2 * i + 1);
    }
    // An empty cell (4 bytes) into each hole leaves 3 fragmented bytes: 20 of them make 60.
    for i in 0..21 {
        t.insert(i, b"")?;
        t.check_bytes()?;
        let layout = t.layout()?;
        let expected = if i < 20 { 3 * (i + 1) } else { 0 };
        expect_eq(
            format!(
                "{}, bytes(), the fragmented count{}",
                t.did(),
                if i < 20 {
                    ""
                } else {
                    " (63 would be past 60: the page is defragmented instead)"
                }
            ),
            layout.fragmented,
            expected,
        )?;
    }
    t.check_cells()
}

fn defragment_packs_in_order(_: &mut Ctx) -> CheckResult {
    for size in [512, 65_536] {
        let mut t = Tested::new(size);
        for (index, cell) in [
            (0, &b"first"[..]),
            (0, b""),
            (1, b"middle cell"),
            (3, b"z"),
            (2, b"gone"),
            (0, b"x"),
        ] {
            t.insert(index, cell)?;
        }
        t.remove(3);
        t.defragment();
        t.check_cells()?;
        let layout = t.layout()?;
        let mut top = size;
        for (i, cell) in t.model.iter().enumerate() {
            top -= cell_bytes(cell.len());
            expect(
                layout.pointers[i] == top,
                format!(
                    "did:      {}, bytes()\nexpected: cell {i} at {top}: cell 0 ends at the end \
                     of the page, and each next cell ends where the one before starts\n\
                     got:      {}",
                    t.did(),
                    layout.summary()
                ),
            )?;
        }
        t.check_bytes()?;
        // Defragmenting a packed page changes nothing.
        t.defragment();
        t.check_bytes()?;
    }
    Ok(())
}

/// The page of the README's example, then more: every byte written out by hand.
fn golden_bytes(_: &mut Ctx) -> CheckResult {
    let mut t = Tested::new(512);
    t.insert(0, b"hello")?;
    t.insert(1, b"")?;
    t.insert(1, b"abc")?;
    t.remove(0);
    let mut readme = vec![0u8; 512];
    readme[..12].copy_from_slice(&[0, 0x01, 0xF9, 0, 2, 0x01, 0xF0, 0, 0x01, 0xF0, 0x01, 0xF5]);
    readme[496..501].copy_from_slice(&[0, 3, b'a', b'b', b'c']);
    readme[505..509].copy_from_slice(&[0, 0, 0, 7]);
    golden(&mut t, &readme, "the README's example")?;
    // "xy" takes the freeblock of 7 whole (3 left over); "abc", at the content start, goes back
    // to the gap; "long cell!" (12 bytes) comes from the gap.
    t.insert(0, b"xy")?;
    t.remove(1);
    t.insert(2, b"long cell!")?;
    let mut more = vec![0u8; 512];
    more[..14].copy_from_slice(&[
        0, 0, 0, 0, 3, 0x01, 0xE9, 3, 0x01, 0xF9, 0x01, 0xF5, 0x01, 0xE9,
    ]);
    more[489..501].copy_from_slice(b"\x00\x0along cell!");
    more[505..509].copy_from_slice(&[0, 2, b'x', b'y']);
    golden(
        &mut t,
        &more,
        "the page after insert(0, \"xy\"), remove(1), insert(2, \"long cell!\")",
    )?;
    t.defragment();
    let mut packed = vec![0u8; 512];
    packed[..14].copy_from_slice(&[
        0, 0, 0, 0, 3, 0x01, 0xEC, 0, 0x01, 0xFC, 0x01, 0xF8, 0x01, 0xEC,
    ]);
    packed[492..504].copy_from_slice(b"\x00\x0along cell!");
    packed[504..508].copy_from_slice(&[0, 0, 0, 0]);
    packed[508..512].copy_from_slice(&[0, 2, b'x', b'y']);
    golden(&mut t, &packed, "the same page defragmented")
}

fn golden(t: &mut Tested, expected: &[u8], what: &str) -> CheckResult {
    let got = t.page.bytes().to_vec();
    let Some(at) = (0..expected.len()).find(|&at| got.get(at) != expected.get(at)) else {
        return Ok(());
    };
    let want = parse(expected).expect("a golden page parses");
    fail(format!(
        "did:      {}, bytes()\nexpected: {what}, byte for byte; byte {at}, in {}, is {:#04x}\n\
         got:      byte {at} is {}\nexpected page: {}\ngot page:      {}",
        t.did(),
        want.place(at),
        expected[at],
        byte_text(got.get(at)),
        want.summary(),
        parse(&got).map_or_else(|why| format!("breaks the layout: {why}"), |l| l.summary())
    ))
}

fn reads_another_page(_: &mut Ctx) -> CheckResult {
    // Byte 0 is 0x0D; cells "one" at 992, "two" at 977, "three" at 1017 (the cells' order is
    // not their places'); 2 fragmented bytes at 982; freeblocks of 8 at 984 and of 20 at 997;
    // the content start at 977.
    let mut bytes = vec![0u8; 1024];
    bytes[..14].copy_from_slice(&[
        0x0D, 0x03, 0xD8, 0, 3, 0x03, 0xD1, 2, 0x03, 0xE0, 0x03, 0xD1, 0x03, 0xF9,
    ]);
    bytes[977..982].copy_from_slice(b"\x00\x03two");
    bytes[984..988].copy_from_slice(&[0x03, 0xE5, 0, 8]);
    bytes[992..997].copy_from_slice(b"\x00\x03one");
    bytes[997..1001].copy_from_slice(&[0, 0, 0, 20]);
    bytes[1017..1024].copy_from_slice(b"\x00\x05three");
    let premise = parse(&bytes).expect("the check's own page parses");
    assert_eq!(premise.free_space(), 1024 - 14 - 5 - 5 - 7);
    let how = "a page of 1024 bytes: byte 0 is 0x0D; cells \"one\" at 992, \"two\" at 977, \
               \"three\" at 1017; 2 fragmented bytes at 982; freeblocks of 8 bytes at 984 and 20 \
               at 997; content start 977";
    let mut t = Tested::from_bytes(bytes, how);
    t.check_cells()?;
    for i in 0..3 {
        t.check_cell(i)?;
    }
    // 12 bytes: not the block of 8, the block of 20, at its end.
    t.insert(1, b"ten bytes!")?;
    t.check_cells()?;
    t.check_bytes()?;
    t.remove(0);
    t.check_bytes()?;
    t.defragment();
    t.check_cells()?;
    t.check_bytes()?;
    // A page of 65536 bytes whose content start is written 0: empty, all of it free.
    let mut empty = vec![0u8; 65_536];
    empty[0] = 0x05;
    let mut t = Tested::from_bytes(empty, "a page of 65536 bytes, all zero but byte 0, 0x05");
    t.check_cells()?;
    t.insert(0, b"cell")?;
    t.check_bytes()?;
    t.remove(0);
    t.check_bytes()
}

// ---------------------------------------------------------------------------------------------
// Random sequences.

/// A cell's length, from the page's size: short, a share of the page, or about all of it.
#[derive(Clone, Copy)]
enum Len {
    Short(usize),
    /// 64ths of the page.
    Share(usize),
    /// The page size less this many bytes: 12 fills an empty page exactly, 11 never fits.
    PageLess(usize),
}

impl Len {
    fn of(self, size: usize) -> usize {
        match self {
            Len::Short(n) => n,
            Len::Share(n) => size * n / 64,
            Len::PageLess(n) => size - n,
        }
    }
}

#[derive(Clone)]
enum Op {
    /// At a place among the cells (taken modulo count + 1), a cell of a length.
    Insert(usize, Len),
    /// The cell at a place (modulo count); nothing on an empty page.
    Remove(usize),
    Cell(usize),
    Defragment,
}

impl fmt::Debug for Len {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Len::Short(n) => write!(f, "{n} bytes"),
            Len::Share(n) => write!(f, "{n}/64 of the page"),
            Len::PageLess(n) => write!(f, "the page size - {n}"),
        }
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Insert(at, len) => write!(f, "insert(place {at}, {len:?})"),
            Op::Remove(at) => write!(f, "remove(place {at})"),
            Op::Cell(at) => write!(f, "cell(place {at})"),
            Op::Defragment => write!(f, "defragment()"),
        }
    }
}

fn len() -> impl Strategy<Value = Len> {
    prop_oneof![
        6 => (0usize..8).prop_map(Len::Short),
        3 => (8usize..64).prop_map(Len::Short),
        3 => (1usize..=16).prop_map(Len::Share),
        1 => (10usize..15).prop_map(Len::PageLess),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..64, len()).prop_map(|(at, l)| Op::Insert(at, l)),
        4 => (0usize..64).prop_map(Op::Remove),
        1 => (0usize..64).prop_map(Op::Cell),
        1 => Just(Op::Defragment),
    ]
}

/// Every page size, the small ones more often: a big page's bytes take longer to read after
/// every call, and its edges are the same.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        5 => prop::sample::select(SIZES[..4].to_vec()),
        1 => prop::sample::select(SIZES[4..].to_vec()),
    ]
}

/// Runs `ops` on a page of `size` (its byte 0 set to `byte0` first, through from_bytes, when it is
/// not 0), checking it after every call against the list of cells, and against the rules' bytes
/// when `exact`.
fn run(size: usize, byte0: u8, ops: &[Op], exact: bool) -> CheckResult {
    let mut t = if byte0 == 0 {
        Tested::new(size)
    } else {
        let mut bytes = RefPage::new(size).bytes;
        bytes[0] = byte0;
        Tested::from_bytes(
            bytes,
            &format!("the bytes of Page::new({size}) with byte 0 set to {byte0:#04x}"),
        )
    };
    for (step, op) in ops.iter().enumerate() {
        let count = t.model.len();
        match *op {
            Op::Insert(at, len) => {
                let index = at % (count + 1);
                // Each cell its own bytes: a cell moved or mixed up with another shows.
                let fill = (step % 250) as u8 + 1;
                t.insert(index, &vec![fill; len.of(size)])?;
            }
            Op::Remove(at) if count > 0 => t.remove(at % count),
            Op::Cell(at) if count > 0 => t.check_cell(at % count)?,
            Op::Remove(_) | Op::Cell(_) => continue,
            Op::Defragment => t.defragment(),
        }
        if exact {
            t.check_bytes()?;
        } else {
            t.check_cells()?;
        }
    }
    if !exact {
        for i in 0..t.model.len() {
            t.check_cell(i)?;
        }
    }
    Ok(())
}

/// Sequences tried by each random check: every one reads the page's bytes after every call.
const CASES: u32 = 100;

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    let ops = prop::collection::vec(op(), 0..40);
    ctx.forall_named(
        &["page size", "ops"],
        CASES,
        (size(), ops),
        |(size, ops)| run(size, 0, &ops, false),
    )
}

fn exact_bytes(ctx: &mut Ctx) -> CheckResult {
    let ops = prop::collection::vec(op(), 0..40);
    let byte0 = prop_oneof![Just(0u8), 1u8..=255];
    ctx.forall_named(
        &["page size", "byte 0", "ops"],
        CASES,
        (size(), byte0, ops),
        |(size, byte0, ops)| run(size, byte0, &ops, true),
    )
}
