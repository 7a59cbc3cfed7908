//! A B+tree whose values may be bigger than a page: a cell keeps a prefix of a big value in its
//! leaf, and the rest goes to a chain of overflow pages, taken from the free list and given back
//! to it when the value is deleted or replaced.
//!
//! Read README.md first. The code below is the delete scene's reference `Tree`, with the
//! size limit of `insert` lifted to the scene's: its leaves still hold every value whole, which
//! fails for a big one. Write the three helpers at the end of `impl Tree` and call them where
//! values go into and come out of a leaf (see "What to build"). Run `cargo grade` to check your
//! work.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::collections::BTreeMap;
use std::io::{self, ErrorKind};

use btree_leaf::{CELL_HEADER, LEAF_HEADER, LEAF_KIND, Leaf, SLOT, max_cell};
use btree_pager::{PageNo, Pager};
use kit::disk::Dir;

/// The root's page: it never moves.
pub const ROOT: PageNo = 1;

/// The first byte of every internal page.
pub const INTERNAL_KIND: u8 = 0x05;

/// An internal page's header: kind, a zero byte, the key count (u16), the rightmost child (u32).
pub const INTERNAL_HEADER: usize = 8;

/// An internal entry's header: its child (u32) and its key's length (u16).
pub const ENTRY_HEADER: usize = 6;

/// The biggest value the tree takes: 4 MiB.
pub const MAX_VALUE: usize = 1 << 22;

/// An overflow page's header: the next page of the chain (u32, 0 for the last).
pub const OVERFLOW_HEADER: usize = 4;

/// What an overflowing cell keeps after its value's prefix: the value's whole length (u32) and
/// its chain's first page (u32).
pub const OVERFLOW_POINTER: usize = 8;

/// The biggest cell kept whole in its leaf. A bigger one keeps a prefix and points at a chain,
/// and is then exactly `max_cell(page_size)` bytes: `OVERFLOW_POINTER` more than this.
pub fn max_local(page_size: usize) -> usize {
    max_cell(page_size) - OVERFLOW_POINTER
}

/// A B+tree in one file of pages.
#[derive(Debug)]
pub struct Tree {
    pager: Pager,
    /// The pages an insert or a delete has changed so far, kept here until it has read every
    /// page it needs: a read that fails half way then leaves the pager's pages as they were.
    staged: BTreeMap<PageNo, Vec<u8>>,
    /// Pages the operation added past the end of the file, numbered from the page count on.
    grown: u32,
    /// The free list as the operation has left it so far: its first page and its length.
    free: (PageNo, u32),
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

/// What a change to a subtree tells its parent about the subtree's top page.
enum Outcome {
    /// Nothing for the parent to do.
    Fine,
    /// The page split: the parent takes the separator and the new page just after it.
    Split(Vec<u8>, PageNo),
    /// The page (not the root) fell below its bound: the parent rebalances it with a sibling.
    Under,
}

/// One change to the tree.
#[derive(Clone, Copy)]
enum Change<'a> {
    Insert(&'a [u8], &'a [u8]),
    Delete(&'a [u8]),
}

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
        Ok(Tree::over(pager))
    }

    /// Opens the tree in the file `name`, reading nothing but the pager's header.
    pub fn open(dir: &dyn Dir, name: &str, cache_pages: usize) -> io::Result<Tree> {
        Ok(Tree::over(Pager::open(dir, name, cache_pages)?))
    }

    fn over(pager: Pager) -> Tree {
        let free = pager.free_list();
        Tree {
            pager,
            staged: BTreeMap::new(),
            grown: 0,
            free,
        }
    }

    /// Writes every change to the file and syncs it (the pager's flush).
    pub fn flush(&mut self) -> io::Result<()> {
        self.pager.flush()
    }

    /// How many pages the file holds, the header page included.
    pub fn page_count(&self) -> u32 {
        self.pager.page_count()
    }

    /// The free list's first page and its length, as the header will hold them.
    pub fn free_list(&self) -> (PageNo, u32) {
        self.pager.free_list()
    }

    /// The bytes of page `page`.
    pub fn page(&mut self, page: PageNo) -> io::Result<Vec<u8>> {
        self.pager.read(page)
    }

    /// Every page of the file after the header, free pages included, each with its number.
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

    /// The value of `key`: one page read per level, from the root down to a leaf, then the
    /// pages of its overflow chain if it has one, and no other.
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
    /// old one). A value too big for its leaf keeps a prefix there and the rest in a chain of
    /// overflow pages; the old value's chain is freed before the new one is written. A full
    /// leaf splits, and so may its parent, up to the root; a leaf that a shorter value leaves
    /// below its bound is rebalanced, as a delete does. A key longer than
    /// `max_local(page_size) - 4` bytes, or a value longer than `MAX_VALUE`, is `InvalidInput`,
    /// and the tree is left as it was.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let max_key = max_local(self.pager.page_size()) - CELL_HEADER;
        if key.len() > max_key {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "a key of {} bytes: the longest a page of {} bytes takes is {max_key}",
                    key.len(),
                    self.pager.page_size()
                ),
            ));
        }
        if value.len() > MAX_VALUE {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "a value of {} bytes: the longest the tree takes is {MAX_VALUE}",
                    value.len()
                ),
            ));
        }
        self.run(Change::Insert(key, value))
    }

    /// Removes `key`, returning its value, or `None` (and changes nothing) if the tree does not
    /// hold it. The value's overflow chain, if it has one, goes on the free list, first page
    /// first. A page left below its bound takes entries from a sibling or merges with it; a
    /// root left with one child takes that child's place; freed pages go on the free list.
    pub fn delete(&mut self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        self.run(Change::Delete(key))
    }

    /// Makes one change: staged first, then handed to the pager only if every read worked.
    fn run(&mut self, change: Change) -> io::Result<Option<Vec<u8>>> {
        self.free = self.pager.free_list();
        let result = self
            .change_root(change)
            .and_then(|old| self.commit().map(|()| old));
        // Done or failed, the next operation (a get as well) starts from the pager's pages.
        self.staged.clear();
        self.grown = 0;
        result
    }

    fn change_root(&mut self, change: Change) -> io::Result<Option<Vec<u8>>> {
        let (old, outcome) = self.change(ROOT, change)?;
        match outcome {
            Outcome::Split(separator, right) => self.grow(separator, right)?,
            Outcome::Under => unreachable!("the root has no bound"),
            Outcome::Fine => {
                // A root left with one child is no use: the child's content moves up to page 1
                // and the tree is one level shorter.
                if self.staged.contains_key(&ROOT)
                    && let Node::Internal(root) = self.node(ROOT)?
                    && root.keys.is_empty()
                {
                    let child = root.children[0];
                    let bytes = self.read(child)?;
                    self.write(ROOT, bytes);
                    self.free_page(child);
                }
            }
        }
        Ok(old)
    }

    /// Hands the staged pages to the pager: the new pages first, then every page written, then
    /// the free list.
    fn commit(&mut self) -> io::Result<()> {
        for _ in 0..self.grown {
            self.pager.allocate()?;
        }
        for (&page, bytes) in &self.staged {
            self.pager.write(page, bytes)?;
        }
        if self.free != self.pager.free_list() {
            self.pager.set_free_list(self.free.0, self.free.1)?;
        }
        Ok(())
    }

    /// A page as the operation has left it so far.
    fn read(&mut self, page: PageNo) -> io::Result<Vec<u8>> {
        match self.staged.get(&page) {
            Some(bytes) => Ok(bytes.clone()),
            None => self.pager.read(page),
        }
    }

    fn write(&mut self, page: PageNo, bytes: Vec<u8>) {
        self.staged.insert(page, bytes);
    }

    /// A page for a split: the first free page if there is one, or else a new page at the end
    /// of the file.
    fn allocate(&mut self) -> io::Result<PageNo> {
        let (head, count) = self.free;
        if head == 0 {
            let page = self.pager.page_count() + self.grown;
            self.grown += 1;
            return Ok(page);
        }
        let bytes = self.read(head)?;
        let next = u32::from_be_bytes(bytes[..4].try_into().unwrap());
        self.free = (next, count - 1);
        Ok(head)
    }

    /// Puts `page` at the head of the free list: its first four bytes name the next free page,
    /// the rest are zeros.
    fn free_page(&mut self, page: PageNo) {
        let (head, count) = self.free;
        let mut bytes = vec![0; self.pager.page_size()];
        bytes[..4].copy_from_slice(&head.to_be_bytes());
        self.write(page, bytes);
        self.free = (page, count + 1);
    }

    /// The root split: page 1 holds its left half and `right` its right half. The left half
    /// moves to a new page, and page 1 becomes an internal node over the two, so that the root
    /// stays where every lookup starts.
    fn grow(&mut self, separator: Vec<u8>, right: PageNo) -> io::Result<()> {
        let left_half = self.read(ROOT)?;
        let left = self.allocate()?;
        self.write(left, left_half);
        let root = Internal {
            keys: vec![separator],
            children: vec![left, right],
        };
        self.write(ROOT, root.encode(self.pager.page_size()));
        Ok(())
    }

    /// Makes `change` in the subtree under `page`: returns the old value, and what the parent
    /// must do about `page`.
    fn change(&mut self, page: PageNo, change: Change) -> io::Result<(Option<Vec<u8>>, Outcome)> {
        let page_size = self.pager.page_size();
        match self.node(page)? {
            Node::Leaf(mut leaf) => {
                let old = match change {
                    Change::Insert(key, value) => match leaf.insert(key, value) {
                        Ok(old) => old,
                        Err(e) if e.kind() == ErrorKind::StorageFull => {
                            return self.split_leaf(page, &leaf, key, value);
                        }
                        Err(e) => return Err(e),
                    },
                    Change::Delete(key) => {
                        let Some(old) = leaf.get(key).map(<[u8]>::to_vec) else {
                            // Nothing to delete: nothing is written.
                            return Ok((None, Outcome::Fine));
                        };
                        let mut entries = leaf.entries();
                        entries.retain(|(k, _)| k.as_slice() != key);
                        leaf = build_leaf(page_size, &entries)?;
                        Some(old)
                    }
                };
                let under = page != ROOT && leaf_under(page_size, &leaf);
                self.write(page, leaf.bytes().to_vec());
                Ok((old, if under { Outcome::Under } else { Outcome::Fine }))
            }
            Node::Internal(mut node) => {
                let key = match change {
                    Change::Insert(key, _) | Change::Delete(key) => key,
                };
                let at = node.child_for(key);
                let (old, outcome) = self.change(node.children[at], change)?;
                match outcome {
                    Outcome::Fine => return Ok((old, Outcome::Fine)),
                    Outcome::Split(separator, new_child) => {
                        // The child at `at` kept the keys below the separator; the new page
                        // takes the ones from it on, so it goes just after.
                        node.keys.insert(at, separator);
                        node.children.insert(at + 1, new_child);
                    }
                    Outcome::Under => self.rebalance(&mut node, at)?,
                }
                // A rebalance may have put a longer separator here: this page may now be too
                // full as well as too empty.
                if node.size() > page_size {
                    let (up, right) = self.split_internal(page, node)?;
                    return Ok((old, Outcome::Split(up, right)));
                }
                let under = page != ROOT && internal_under(page_size, &node);
                self.write(page, node.encode(page_size));
                Ok((old, if under { Outcome::Under } else { Outcome::Fine }))
            }
        }
    }

    /// Splits the full leaf at `page` to take `key` and `value`, as the split scene does.
    fn split_leaf(
        &mut self,
        page: PageNo,
        leaf: &Leaf,
        key: &[u8],
        value: &[u8],
    ) -> io::Result<(Option<Vec<u8>>, Outcome)> {
        let page_size = self.pager.page_size();
        let mut entries = leaf.entries();
        let old = match entries.binary_search_by(|(k, _)| k.as_slice().cmp(key)) {
            Ok(i) => Some(std::mem::replace(&mut entries[i].1, value.to_vec())),
            Err(i) => {
                entries.insert(i, (key.to_vec(), value.to_vec()));
                None
            }
        };
        let at = leaf_split_point(&entry_sizes(&entries));
        let right_entries = entries.split_off(at);
        let separator = right_entries[0].0.clone();
        let right = self.allocate()?;
        self.write(page, build_leaf(page_size, &entries)?.bytes().to_vec());
        self.write(
            right,
            build_leaf(page_size, &right_entries)?.bytes().to_vec(),
        );
        Ok((old, Outcome::Split(separator, right)))
    }

    /// The value a leaf's cell for `key` holds (`cell` is the cell's value bytes), and the
    /// pages of its overflow chain, in chain order (none for a cell kept whole).
    fn load(&mut self, key: &[u8], cell: &[u8]) -> io::Result<(Vec<u8>, Vec<PageNo>)> {
        todo!("read the cell: whole, or a prefix, a length and a chain to follow")
    }

    /// The value of `key`'s cell, its overflow chain read and then freed, first page first.
    fn take(&mut self, key: &[u8], cell: &[u8]) -> io::Result<Vec<u8>> {
        todo!("load the value, then free its chain, first page first")
    }

    /// The cell value that holds `value` for `key`: the value itself if the cell fits in
    /// `max_local`, or else its prefix, its length and its chain's first page, the rest of it
    /// written to overflow pages taken (free pages first) in chain order.
    fn store(&mut self, key: &[u8], value: &[u8]) -> io::Result<Vec<u8>> {
        todo!("keep the value whole, or write its chain and return the prefix and the pointer")
    }

    /// Splits the overfull internal node of `page`: its middle key goes up, the right half to
    /// a new page.
    fn split_internal(
        &mut self,
        page: PageNo,
        mut node: Internal,
    ) -> io::Result<(Vec<u8>, PageNo)> {
        let page_size = self.pager.page_size();
        let m = internal_split_point(&key_sizes(&node.keys));
        let right_node = Internal {
            keys: node.keys.split_off(m + 1),
            children: node.children.split_off(m + 1),
        };
        let up = node.keys.pop().expect("the key at m");
        let right = self.allocate()?;
        self.write(page, node.encode(page_size));
        self.write(right, right_node.encode(page_size));
        Ok((up, right))
    }

    /// `node.children[at]` fell below its bound. With its right sibling (its left one if it is
    /// the last child), it merges into the left page of the two if their entries fit in one
    /// page, freeing the right page; or else the two pages share their entries again, split
    /// as a full page splits, and the separator between them is the new right page's.
    fn rebalance(&mut self, node: &mut Internal, at: usize) -> io::Result<()> {
        let page_size = self.pager.page_size();
        let j = if at + 1 < node.children.len() {
            at
        } else {
            at - 1
        };
        let (left, right) = (node.children[j], node.children[j + 1]);
        match (self.node(left)?, self.node(right)?) {
            (Node::Leaf(l), Node::Leaf(r)) => {
                let mut entries = l.entries();
                entries.extend(r.entries());
                let sizes = entry_sizes(&entries);
                if sizes.iter().sum::<usize>() <= page_size - LEAF_HEADER {
                    self.write(left, build_leaf(page_size, &entries)?.bytes().to_vec());
                    self.free_page(right);
                    node.keys.remove(j);
                    node.children.remove(j + 1);
                } else {
                    let right_entries = entries.split_off(leaf_split_point(&sizes));
                    // The separator must follow the entries that moved: it is the right page's
                    // first key now.
                    node.keys[j] = right_entries[0].0.clone();
                    self.write(left, build_leaf(page_size, &entries)?.bytes().to_vec());
                    self.write(
                        right,
                        build_leaf(page_size, &right_entries)?.bytes().to_vec(),
                    );
                }
            }
            (Node::Internal(l), Node::Internal(r)) => {
                // The separator comes down between the two pages' keys: it brackets the left
                // page's last child and the right page's first.
                let mut both = Internal {
                    keys: l.keys,
                    children: l.children,
                };
                both.keys.push(node.keys[j].clone());
                both.keys.extend(r.keys);
                both.children.extend(r.children);
                if both.size() <= page_size {
                    self.write(left, both.encode(page_size));
                    self.free_page(right);
                    node.keys.remove(j);
                    node.children.remove(j + 1);
                } else {
                    let m = internal_split_point(&key_sizes(&both.keys));
                    let right_node = Internal {
                        keys: both.keys.split_off(m + 1),
                        children: both.children.split_off(m + 1),
                    };
                    node.keys[j] = both.keys.pop().expect("the key at m");
                    self.write(left, both.encode(page_size));
                    self.write(right, right_node.encode(page_size));
                }
            }
            _ => {
                return Err(invalid(format!(
                    "pages {left} and {right} are siblings of different kinds"
                )));
            }
        }
        Ok(())
    }

    fn node(&mut self, page: PageNo) -> io::Result<Node> {
        let bytes = self.read(page)?;
        match bytes[0] {
            LEAF_KIND => Ok(Node::Leaf(Leaf::from_bytes(bytes)?)),
            INTERNAL_KIND => Ok(Node::Internal(Internal::decode(&bytes)?)),
            kind => Err(invalid(format!(
                "page {page} is of kind {kind:#04x}: no tree page"
            ))),
        }
    }
}

/// A leaf below its bound: its cells and slots take less than a third of its usable bytes.
fn leaf_under(page_size: usize, leaf: &Leaf) -> bool {
    let usable = page_size - LEAF_HEADER;
    3 * (usable - leaf.free_space()) < usable
}

/// An internal page below its bound: its entries take less than a quarter of its usable bytes.
fn internal_under(page_size: usize, node: &Internal) -> bool {
    let usable = page_size - INTERNAL_HEADER;
    4 * (node.size() - INTERNAL_HEADER) < usable
}

impl Internal {
    /// The child to descend into for `key`: the first whose key is above it, so that a key
    /// equal to a separator goes right, where the split put it.
    fn child_for(&self, key: &[u8]) -> usize {
        self.keys.partition_point(|k| k.as_slice() <= key)
    }

    /// The bytes the node takes in a page.
    fn size(&self) -> usize {
        INTERNAL_HEADER + key_sizes(&self.keys).iter().sum::<usize>()
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

/// The bytes each entry of a leaf takes: its cell and its slot.
fn entry_sizes(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<usize> {
    entries
        .iter()
        .map(|(k, v)| CELL_HEADER + k.len() + v.len() + SLOT)
        .collect()
}

/// The bytes each entry of an internal page takes: its header and its key.
fn key_sizes(keys: &[Vec<u8>]) -> Vec<usize> {
    keys.iter().map(|k| ENTRY_HEADER + k.len()).collect()
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
