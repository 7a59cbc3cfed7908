//! Cursors over a B+tree: ordered scans and seeks, with a stack of the pages from the root to a
//! leaf, and positions saved by key when an insert changes the tree.
//!
//! Read README.md first. The tree is the split scene's, as its reference solution has it; put
//! your own in its place if you like, keeping the public API. Fill in every `todo!()`, add what
//! `insert` must do for the cursors, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::io::{self, ErrorKind};

use btree_leaf::{CELL_HEADER, LEAF_KIND, Leaf, SLOT, max_cell};
use btree_pager::Pager;
pub use btree_pager::{CacheStats, PageNo};
use kit::disk::Dir;

/// The root's page: it never moves.
pub const ROOT: PageNo = 1;

/// The first byte of every internal page.
pub const INTERNAL_KIND: u8 = 0x05;

/// An internal page's header: kind, a zero byte, the key count (u16), the rightmost child (u32).
pub const INTERNAL_HEADER: usize = 8;

/// An internal entry's header: its child (u32) and its key's length (u16).
pub const ENTRY_HEADER: usize = 6;

/// A cursor of a tree: the number `Tree::cursor` handed out. Every move and read of the cursor
/// is a method of the tree, which keeps the cursor's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub usize);

/// A B+tree in one file of pages, and the cursors open on it.
#[derive(Debug)]
pub struct Tree {
    pager: Pager,
    // Your fields here: where each cursor is (at no entry, at an entry with the path of pages
    // from the root down to it, or saved at a key by an insert).
}

/// An internal node: `children[i]` holds the keys below `keys[i]` (and at or above
/// `keys[i - 1]`); the last child holds the keys at or above the last key.
#[derive(Debug)]
struct Internal {
    keys: Vec<Vec<u8>>,
    children: Vec<PageNo>,
}

/// A page, read and decoded.
enum Node {
    Leaf(Leaf),
    Internal(Internal),
}

/// What an insert into a subtree hands back to its parent when the subtree's top page split:
/// the separator (the first key of the new page) and the new page.
type Split = Option<(Vec<u8>, PageNo)>;

impl Tree {
    /// Creates the file `name` with a pager of `page_size`-byte pages caching `cache_pages`,
    /// and makes page 1 an empty leaf: the root of an empty tree.
    pub fn create(
        dir: &dyn Dir,
        name: &str,
        page_size: usize,
        cache_pages: usize,
    ) -> io::Result<Tree> {
        let mut pager = Pager::create(dir, name, page_size, cache_pages)?;
        let root = pager.allocate()?;
        debug_assert_eq!(root, ROOT);
        pager.write(ROOT, Leaf::new(page_size)?.bytes())?;
        Ok(Tree { pager })
    }

    /// Opens the tree in the file `name`, reading nothing but the pager's header.
    pub fn open(dir: &dyn Dir, name: &str, cache_pages: usize) -> io::Result<Tree> {
        Ok(Tree {
            pager: Pager::open(dir, name, cache_pages)?,
        })
    }

    /// Writes every change to the file and syncs it (the pager's flush).
    pub fn flush(&mut self) -> io::Result<()> {
        self.pager.flush()
    }

    /// How many pages the file holds, the header page included.
    pub fn page_count(&self) -> u32 {
        self.pager.page_count()
    }

    /// What the pager's cache did so far: its hits, misses (one disk read each), evictions and
    /// write-backs.
    pub fn stats(&self) -> CacheStats {
        self.pager.stats()
    }

    /// The bytes of page `page`.
    pub fn page(&mut self, page: PageNo) -> io::Result<Vec<u8>> {
        self.pager.read(page)
    }

    /// Every page of the tree, from page 1 to the last, each with its number.
    pub fn pages(&mut self) -> io::Result<Vec<(PageNo, Vec<u8>)>> {
        (ROOT..self.pager.page_count())
            .map(|page| Ok((page, self.pager.read(page)?)))
            .collect()
    }

    /// How many levels the tree has: 1 while the root is a leaf.
    pub fn depth(&mut self) -> io::Result<usize> {
        let mut page = ROOT;
        let mut depth = 1;
        while let Node::Internal(node) = self.node(page)? {
            page = node.children[0];
            depth += 1;
        }
        Ok(depth)
    }

    /// The value of `key`: one page read per level, from the root down to a leaf.
    pub fn get(&mut self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let mut page = ROOT;
        loop {
            match self.node(page)? {
                Node::Internal(node) => page = node.children[node.child_for(key)],
                Node::Leaf(leaf) => return Ok(leaf.get(key).map(<[u8]>::to_vec)),
            }
        }
    }

    /// Inserts `key` with `value`, or replaces the value of a key the tree holds (returning the
    /// old one). A full leaf splits, and so may its parent, up to the root. A cell bigger than
    /// `max_cell(page_size)` is `InvalidInput`, and the tree is left as it was.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let page_size = self.pager.page_size();
        let len = CELL_HEADER + key.len() + value.len();
        if len > max_cell(page_size) {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "a cell of {len} bytes: the most a page of {page_size} bytes takes is {}",
                    max_cell(page_size)
                ),
            ));
        }
        // Your change here: an insert may shift the entries of a leaf or split it, and then the
        // path every cursor holds is stale. Save each cursor at its key first (README: "A tree
        // that changes under a cursor").
        let (old, split) = self.insert_into(ROOT, key, value)?;
        if let Some((separator, right)) = split {
            self.grow(separator, right)?;
        }
        Ok(old)
    }

    /// A new cursor on this tree, at no entry.
    pub fn cursor(&mut self) -> Cursor {
        todo!("remember a new cursor, at no entry, and hand out its number")
    }

    /// Puts `cursor` at the first entry whose key is at or after `key`, or at no entry if there
    /// is none. Reads one page per level, and the pages down to the next leaf when `key` is
    /// past the last key of its leaf.
    pub fn seek(&mut self, cursor: Cursor, key: &[u8]) -> io::Result<()> {
        todo!("descend as get does, keeping every page and the child taken in it")
    }

    /// Puts `cursor` at the first entry of the tree (at no entry if the tree is empty).
    pub fn first(&mut self, cursor: Cursor) -> io::Result<()> {
        todo!("descend through the first child of every internal page")
    }

    /// Puts `cursor` at the last entry of the tree (at no entry if the tree is empty).
    pub fn last(&mut self, cursor: Cursor) -> io::Result<()> {
        todo!("descend through the last child of every internal page")
    }

    /// Moves `cursor` to the entry after its own, or to no entry after the last. A cursor at
    /// no entry stays there.
    pub fn next(&mut self, cursor: Cursor) -> io::Result<()> {
        todo!("the next entry of the leaf, or climb to the nearest page with a next child")
    }

    /// Moves `cursor` to the entry before its own, or to no entry before the first. A cursor
    /// at no entry stays there.
    pub fn prev(&mut self, cursor: Cursor) -> io::Result<()> {
        todo!("the entry before in the leaf, or climb to the nearest page with a child before")
    }

    /// The key of the entry `cursor` is at, or `None` if it is at no entry.
    pub fn key(&mut self, cursor: Cursor) -> io::Result<Option<Vec<u8>>> {
        todo!("seek a saved cursor again first")
    }

    /// The value of the entry `cursor` is at, or `None` if it is at no entry.
    pub fn value(&mut self, cursor: Cursor) -> io::Result<Option<Vec<u8>>> {
        todo!("seek a saved cursor again first")
    }

    /// Every entry whose key is at or after `start` and before `end`, in key order: a seek,
    /// then one step after another, each page read once.
    pub fn scan(&mut self, start: &[u8], end: &[u8]) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        todo!("seek start, then step until a key at or after end")
    }

    /// The root split: page 1 holds its left half and `right` its right half. The left half
    /// moves to a new page, and page 1 becomes an internal node over the two, so that the root
    /// stays where every lookup starts.
    fn grow(&mut self, separator: Vec<u8>, right: PageNo) -> io::Result<()> {
        let left_half = self.pager.read(ROOT)?;
        let left = self.pager.allocate()?;
        self.pager.write(left, &left_half)?;
        let root = Internal {
            keys: vec![separator],
            children: vec![left, right],
        };
        self.pager.write(ROOT, &root.encode(self.pager.page_size()))
    }

    /// Inserts into the subtree under `page`; if its page split, returns the separator and the
    /// new page for the parent to take.
    fn insert_into(
        &mut self,
        page: PageNo,
        key: &[u8],
        value: &[u8],
    ) -> io::Result<(Option<Vec<u8>>, Split)> {
        let page_size = self.pager.page_size();
        match self.node(page)? {
            Node::Leaf(mut leaf) => match leaf.insert(key, value) {
                Ok(old) => {
                    self.pager.write(page, leaf.bytes())?;
                    Ok((old, None))
                }
                Err(e) if e.kind() == ErrorKind::StorageFull => {
                    let mut entries = leaf.entries();
                    let old = match entries.binary_search_by(|(k, _)| k.as_slice().cmp(key)) {
                        Ok(i) => Some(std::mem::replace(&mut entries[i].1, value.to_vec())),
                        Err(i) => {
                            entries.insert(i, (key.to_vec(), value.to_vec()));
                            None
                        }
                    };
                    let sizes: Vec<usize> = entries
                        .iter()
                        .map(|(k, v)| CELL_HEADER + k.len() + v.len() + SLOT)
                        .collect();
                    let at = leaf_split_point(&sizes);
                    let right_entries = entries.split_off(at);
                    // The separator is a copy of the right half's first key: every key below it
                    // is on the left, every key from it on is on the right.
                    let separator = right_entries[0].0.clone();
                    let right = self.pager.allocate()?;
                    self.pager
                        .write(page, build_leaf(page_size, &entries)?.bytes())?;
                    self.pager
                        .write(right, build_leaf(page_size, &right_entries)?.bytes())?;
                    Ok((old, Some((separator, right))))
                }
                Err(e) => Err(e),
            },
            Node::Internal(mut node) => {
                let at = node.child_for(key);
                let (old, split) = self.insert_into(node.children[at], key, value)?;
                let Some((separator, new_child)) = split else {
                    return Ok((old, None));
                };
                // The child at `at` kept the keys below the separator; the new page takes the
                // ones from it on, so it goes just after.
                node.keys.insert(at, separator);
                node.children.insert(at + 1, new_child);
                if node.size() <= page_size {
                    self.pager.write(page, &node.encode(page_size))?;
                    return Ok((old, None));
                }
                let sizes: Vec<usize> = node.keys.iter().map(|k| ENTRY_HEADER + k.len()).collect();
                let m = internal_split_point(&sizes);
                // Key `m` goes up and is kept by neither half: the left keeps the keys before it
                // and its children up to `children[m]`, the right the rest.
                let right_node = Internal {
                    keys: node.keys.split_off(m + 1),
                    children: node.children.split_off(m + 1),
                };
                let up = node.keys.pop().expect("the key at m");
                let right = self.pager.allocate()?;
                self.pager.write(page, &node.encode(page_size))?;
                self.pager.write(right, &right_node.encode(page_size))?;
                Ok((old, Some((up, right))))
            }
        }
    }

    fn node(&mut self, page: PageNo) -> io::Result<Node> {
        let bytes = self.pager.read(page)?;
        match bytes[0] {
            LEAF_KIND => Ok(Node::Leaf(Leaf::from_bytes(bytes)?)),
            INTERNAL_KIND => Ok(Node::Internal(Internal::decode(&bytes)?)),
            kind => Err(invalid(format!(
                "page {page} is of kind {kind:#04x}: no tree page"
            ))),
        }
    }
}

impl Internal {
    /// The child to descend into for `key`: the first whose key is above it, so that a key
    /// equal to a separator goes right, where the split put it.
    fn child_for(&self, key: &[u8]) -> usize {
        self.keys.partition_point(|k| k.as_slice() <= key)
    }

    /// The bytes the node takes in a page.
    fn size(&self) -> usize {
        INTERNAL_HEADER
            + self
                .keys
                .iter()
                .map(|k| ENTRY_HEADER + k.len())
                .sum::<usize>()
    }

    fn encode(&self, page_size: usize) -> Vec<u8> {
        let mut page = vec![0; page_size];
        page[0] = INTERNAL_KIND;
        page[2..4].copy_from_slice(&(self.keys.len() as u16).to_be_bytes());
        let last = *self.children.last().expect("a node has a child");
        page[4..8].copy_from_slice(&last.to_be_bytes());
        let mut at = INTERNAL_HEADER;
        for (key, child) in self.keys.iter().zip(&self.children) {
            page[at..at + 4].copy_from_slice(&child.to_be_bytes());
            page[at + 4..at + 6].copy_from_slice(&(key.len() as u16).to_be_bytes());
            page[at + 6..at + 6 + key.len()].copy_from_slice(key);
            at += ENTRY_HEADER + key.len();
        }
        page
    }

    fn decode(page: &[u8]) -> io::Result<Internal> {
        let count = usize::from(u16::from_be_bytes([page[2], page[3]]));
        let mut node = Internal {
            keys: Vec::with_capacity(count),
            children: Vec::with_capacity(count + 1),
        };
        let mut at = INTERNAL_HEADER;
        for _ in 0..count {
            if at + ENTRY_HEADER > page.len() {
                return Err(invalid("an internal entry runs past the page"));
            }
            let child = u32::from_be_bytes(page[at..at + 4].try_into().unwrap());
            let len = usize::from(u16::from_be_bytes([page[at + 4], page[at + 5]]));
            let key = page
                .get(at + ENTRY_HEADER..at + ENTRY_HEADER + len)
                .ok_or_else(|| invalid("an internal key runs past the page"))?;
            node.children.push(child);
            node.keys.push(key.to_vec());
            at += ENTRY_HEADER + len;
        }
        node.children
            .push(u32::from_be_bytes(page[4..8].try_into().unwrap()));
        Ok(node)
    }
}

/// Where a leaf's entries (their cells and slots of `sizes` bytes, in key order) split: the
/// first `i` go left, the rest right, for the `i` from 1 to `n - 1` that makes the two sides'
/// bytes closest (the smaller `i` on a tie).
fn leaf_split_point(sizes: &[usize]) -> usize {
    let total: usize = sizes.iter().sum();
    let mut left = 0;
    let mut best = (usize::MAX, 0);
    for (i, size) in sizes.iter().enumerate().take(sizes.len() - 1) {
        left += size;
        let gap = (2 * left).abs_diff(total);
        if gap < best.0 {
            best = (gap, i + 1);
        }
    }
    best.1
}

/// Which key of an overfull internal node (its entries of `sizes` bytes) goes up: the `m` from
/// 1 to `n - 2` that makes the entries before it and the entries after it closest in bytes (the
/// smaller `m` on a tie).
fn internal_split_point(sizes: &[usize]) -> usize {
    let total: usize = sizes.iter().sum();
    let mut left = 0usize;
    let mut best = (usize::MAX, 0);
    for (m, &size) in sizes.iter().enumerate().take(sizes.len() - 1) {
        // Key 0 never goes up: the left page would be left with no key.
        if m > 0 {
            let gap = left.abs_diff(total - left - size);
            if gap < best.0 {
                best = (gap, m);
            }
        }
        left += size;
    }
    best.1
}

/// A leaf holding `entries`, already in key order.
fn build_leaf(page_size: usize, entries: &[(Vec<u8>, Vec<u8>)]) -> io::Result<Leaf> {
    let mut leaf = Leaf::new(page_size)?;
    for (key, value) in entries {
        leaf.insert(key, value)?;
    }
    Ok(leaf)
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, message.into())
}
