//! A leaf page: sorted keys and their values in one page, in a slotted layout.
//!
//! The reference solution.

use std::cmp::Ordering;
use std::io::{self, ErrorKind};

/// The first byte of every leaf page.
pub const LEAF_KIND: u8 = 0x0D;

/// The leaf's header: kind, a zero byte, the cell count (u16), where the cell area starts (u32)
/// and how many bytes in it are fragments (u32).
pub const LEAF_HEADER: usize = 12;

/// A slot: the offset of its cell, a u16.
pub const SLOT: usize = 2;

/// A cell's header: the key's length and the value's, two u16s.
pub const CELL_HEADER: usize = 4;

/// The biggest cell (header, key and value) a leaf of `page_size` bytes takes: small enough
/// that four of them, with their slots, always fit in an empty page.
pub fn max_cell(page_size: usize) -> usize {
    (page_size - LEAF_HEADER) / 4 - SLOT
}

/// One leaf page.
#[derive(Debug, Clone)]
pub struct Leaf {
    page: Vec<u8>,
}

impl Leaf {
    /// An empty leaf of `page_size` bytes (a power of two from 512 to 65536, or
    /// `InvalidInput`).
    pub fn new(page_size: usize) -> io::Result<Leaf> {
        if !valid_page_size(page_size) {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("a page size is a power of two from 512 to 65536, not {page_size}"),
            ));
        }
        let mut leaf = Leaf {
            page: vec![0; page_size],
        };
        leaf.page[0] = LEAF_KIND;
        leaf.set_content_start(page_size);
        Ok(leaf)
    }

    /// The leaf held in `page`, once every rule of the layout is checked: `InvalidData` names
    /// the first one broken.
    pub fn from_bytes(page: Vec<u8>) -> io::Result<Leaf> {
        if !valid_page_size(page.len()) {
            return Err(invalid(format!("a page of {} bytes", page.len())));
        }
        let leaf = Leaf { page };
        let size = leaf.page.len();
        if leaf.page[0] != LEAF_KIND || leaf.page[1] != 0 {
            return Err(invalid("the page does not start with a leaf's kind"));
        }
        let count = leaf.len();
        let slots_end = LEAF_HEADER + SLOT * count;
        let start = leaf.content_start();
        if start < slots_end || start > size {
            return Err(invalid(format!(
                "the cell area starts at {start}, outside {slots_end}..={size}"
            )));
        }
        let mut live = 0;
        for slot in 0..count {
            let at = leaf.slot(slot);
            if at < start || at + CELL_HEADER > size {
                return Err(invalid(format!(
                    "slot {slot} points at {at}, outside the cells"
                )));
            }
            let len = leaf.cell_len(at);
            if at + len > size {
                return Err(invalid(format!(
                    "the cell of slot {slot} runs past the page"
                )));
            }
            live += len;
            if slot > 0 && leaf.key(slot - 1) >= leaf.key(slot) {
                return Err(invalid(format!(
                    "the keys of slots {} and {slot} are out of order",
                    slot - 1
                )));
            }
        }
        if live + leaf.fragmented() != size - start {
            return Err(invalid(
                "the cells and the fragments do not add up to the cell area",
            ));
        }
        Ok(leaf)
    }

    /// The page's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.page
    }

    /// How many entries the leaf holds.
    pub fn len(&self) -> usize {
        usize::from(self.u16_at(2))
    }

    /// True when the leaf holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes a new cell and its slot may still take: the gap between the slots and the
    /// cells, and the fragments.
    pub fn free_space(&self) -> usize {
        self.content_start() - (LEAF_HEADER + SLOT * self.len()) + self.fragmented()
    }

    /// Where `key` is: `Ok(slot)` if the leaf holds it, or `Err(slot)`, the slot it would be
    /// inserted at to keep the keys in order. A binary search over the slots.
    pub fn search(&self, key: &[u8]) -> Result<usize, usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = low + (high - low) / 2;
            match self.key(middle).cmp(key) {
                Ordering::Less => low = middle + 1,
                Ordering::Greater => high = middle,
                Ordering::Equal => return Ok(middle),
            }
        }
        Err(low)
    }

    /// The value of `key`, if the leaf holds it.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.search(key).ok().map(|slot| self.value(slot))
    }

    /// Every entry, in key order.
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..self.len())
            .map(|slot| (self.key(slot).to_vec(), self.value(slot).to_vec()))
            .collect()
    }

    /// Inserts `key` with `value`, or replaces the value of a key the leaf holds (returning
    /// the old one). A cell bigger than [`max_cell`] is `InvalidInput`; a cell that does not
    /// fit in the free space is `StorageFull` (the page must be split). Either way the page is
    /// left as it was.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let len = CELL_HEADER + key.len() + value.len();
        let max = max_cell(self.page.len());
        if len > max {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("a cell of {len} bytes: the most a page of this size takes is {max}"),
            ));
        }
        let found = self.search(key);
        let freed = match found {
            Ok(slot) => self.cell_len(self.slot(slot)) + SLOT,
            Err(_) => 0,
        };
        if len + SLOT > self.free_space() + freed {
            return Err(io::Error::new(
                ErrorKind::StorageFull,
                "the page is full: split it",
            ));
        }
        let (slot, old) = match found {
            Ok(slot) => {
                let old = self.value(slot).to_vec();
                self.remove_slot(slot);
                (slot, Some(old))
            }
            Err(slot) => (slot, None),
        };
        // The new slot takes two bytes of the gap; the cell goes just below the cell area, once
        // the gap is big enough for both.
        if self.content_start() < LEAF_HEADER + SLOT * (self.len() + 1) + len {
            self.defragment();
        }
        let at = self.content_start() - len;
        self.page[at..at + 2].copy_from_slice(&(key.len() as u16).to_be_bytes());
        self.page[at + 2..at + 4].copy_from_slice(&(value.len() as u16).to_be_bytes());
        self.page[at + 4..at + 4 + key.len()].copy_from_slice(key);
        self.page[at + 4 + key.len()..at + len].copy_from_slice(value);
        self.set_content_start(at);
        // Open slot `slot` by moving the ones after it along by one.
        let count = self.len();
        let from = LEAF_HEADER + SLOT * slot;
        let end = LEAF_HEADER + SLOT * count;
        self.page.copy_within(from..end, from + SLOT);
        self.page[from..from + SLOT].copy_from_slice(&(at as u16).to_be_bytes());
        self.set_u16(2, count as u16 + 1);
        Ok(old)
    }

    /// Drops slot `slot`: its cell's bytes become fragments.
    fn remove_slot(&mut self, slot: usize) {
        let len = self.cell_len(self.slot(slot));
        let count = self.len();
        let from = LEAF_HEADER + SLOT * slot;
        self.page
            .copy_within(from + SLOT..LEAF_HEADER + SLOT * count, from);
        self.set_u16(2, count as u16 - 1);
        self.set_fragmented(self.fragmented() + len);
    }

    /// Packs the cells against the end of the page, slot 0's last, with no fragment between
    /// them, and zeros the gap.
    fn defragment(&mut self) {
        let cells: Vec<Vec<u8>> = (0..self.len())
            .map(|slot| {
                let at = self.slot(slot);
                self.page[at..at + self.cell_len(at)].to_vec()
            })
            .collect();
        let mut at = self.page.len();
        for (slot, cell) in cells.iter().enumerate() {
            at -= cell.len();
            self.page[at..at + cell.len()].copy_from_slice(cell);
            self.set_u16(LEAF_HEADER + SLOT * slot, at as u16);
        }
        let slots_end = LEAF_HEADER + SLOT * self.len();
        self.page[slots_end..at].fill(0);
        self.set_content_start(at);
        self.set_fragmented(0);
    }

    fn u16_at(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.page[at], self.page[at + 1]])
    }

    fn set_u16(&mut self, at: usize, value: u16) {
        self.page[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }

    fn u32_at(&self, at: usize) -> usize {
        u32::from_be_bytes(self.page[at..at + 4].try_into().unwrap()) as usize
    }

    fn set_u32(&mut self, at: usize, value: usize) {
        self.page[at..at + 4].copy_from_slice(&(value as u32).to_be_bytes());
    }

    fn content_start(&self) -> usize {
        self.u32_at(4)
    }

    fn set_content_start(&mut self, at: usize) {
        self.set_u32(4, at);
    }

    fn fragmented(&self) -> usize {
        self.u32_at(8)
    }

    fn set_fragmented(&mut self, bytes: usize) {
        self.set_u32(8, bytes);
    }

    /// Where slot `slot`'s cell starts.
    fn slot(&self, slot: usize) -> usize {
        usize::from(self.u16_at(LEAF_HEADER + SLOT * slot))
    }

    /// The length of the cell at `at`, its header included.
    fn cell_len(&self, at: usize) -> usize {
        CELL_HEADER + usize::from(self.u16_at(at)) + usize::from(self.u16_at(at + 2))
    }

    fn key(&self, slot: usize) -> &[u8] {
        let at = self.slot(slot);
        let key_len = usize::from(self.u16_at(at));
        &self.page[at + CELL_HEADER..at + CELL_HEADER + key_len]
    }

    fn value(&self, slot: usize) -> &[u8] {
        let at = self.slot(slot);
        let key_len = usize::from(self.u16_at(at));
        let start = at + CELL_HEADER + key_len;
        &self.page[start..at + self.cell_len(at)]
    }
}

fn valid_page_size(size: usize) -> bool {
    (512..=65536).contains(&size) && size.is_power_of_two()
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, message.into())
}
