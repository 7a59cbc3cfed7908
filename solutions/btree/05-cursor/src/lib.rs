//! Cursors over the B+tree of the split scene: ordered scans and seeks, with a stack of the
//! pages from the root to a leaf, and positions saved by key when an insert changes the tree.
//!
//! The reference solution.

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
    cursors: Vec<Position>,
}

/// Where a cursor is.
#[derive(Debug)]
enum Position {
    /// At no entry: new, moved off either end, or sought past the last key.
    Off,
    /// At an entry: the pages from the root down to its leaf, as they were read, and the index
    /// taken in each. Holding the pages is what lets the cursor climb without reading again.
    At(Vec<Frame>),
    /// At the entry of this key, whose path an insert may have made stale: the cursor seeks it
    /// again before its next move or read.
    Saved(Vec<u8>),
}

/// One page of a cursor's path.
#[derive(Debug)]
enum Frame {
    /// An internal page, and the child the path goes down through.
    Internal { node: Internal, index: usize },
    /// The leaf at the bottom, its entries in key order, and the one the cursor is at.
    Leaf {
        entries: Vec<(Vec<u8>, Vec<u8>)>,
        index: usize,
    },
}

/// A path from the root; its last frame is a leaf.
type Path = Vec<Frame>;

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
        Ok(Tree {
            pager,
            cursors: Vec::new(),
        })
    }

    /// Opens the tree in the file `name`, reading nothing but the pager's header.
    pub fn open(dir: &dyn Dir, name: &str, cache_pages: usize) -> io::Result<Tree> {
        Ok(Tree {
            pager: Pager::open(dir, name, cache_pages)?,
            cursors: Vec::new(),
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
        // The insert may shift the entries of a leaf or split it, and every cursor's copy of
        // its path would then be stale: each cursor keeps only its key, and seeks it again
        // when it is next used (SQLite saves its cursors the same way).
        self.save_cursors();
        let (old, split) = self.insert_into(ROOT, key, value)?;
        if let Some((separator, right)) = split {
            self.grow(separator, right)?;
        }
        Ok(old)
    }

    /// A new cursor on this tree, at no entry.
    pub fn cursor(&mut self) -> Cursor {
        self.cursors.push(Position::Off);
        Cursor(self.cursors.len() - 1)
    }

    /// Puts `cursor` at the first entry whose key is at or after `key`, or at no entry if there
    /// is none. Reads one page per level, and the pages down to the next leaf when `key` is
    /// past the last key of its leaf.
    pub fn seek(&mut self, cursor: Cursor, key: &[u8]) -> io::Result<()> {
        self.place(cursor, |tree| tree.seek_path(key))
    }

    /// Puts `cursor` at the first entry of the tree (at no entry if the tree is empty).
    pub fn first(&mut self, cursor: Cursor) -> io::Result<()> {
        self.place(cursor, |tree| tree.edge_path(false))
    }

    /// Puts `cursor` at the last entry of the tree (at no entry if the tree is empty).
    pub fn last(&mut self, cursor: Cursor) -> io::Result<()> {
        self.place(cursor, |tree| tree.edge_path(true))
    }

    /// Moves `cursor` to the entry after its own, or to no entry after the last. A cursor at
    /// no entry stays there.
    pub fn next(&mut self, cursor: Cursor) -> io::Result<()> {
        self.step(cursor, Tree::forward)
    }

    /// Moves `cursor` to the entry before its own, or to no entry before the first. A cursor
    /// at no entry stays there.
    pub fn prev(&mut self, cursor: Cursor) -> io::Result<()> {
        self.step(cursor, Tree::backward)
    }

    /// The key of the entry `cursor` is at, or `None` if it is at no entry.
    pub fn key(&mut self, cursor: Cursor) -> io::Result<Option<Vec<u8>>> {
        Ok(self.entry(cursor)?.map(|(key, _)| key))
    }

    /// The value of the entry `cursor` is at, or `None` if it is at no entry.
    pub fn value(&mut self, cursor: Cursor) -> io::Result<Option<Vec<u8>>> {
        Ok(self.entry(cursor)?.map(|(_, value)| value))
    }

    /// Every entry whose key is at or after `start` and before `end`, in key order: a seek,
    /// then one step after another, each page read once.
    pub fn scan(&mut self, start: &[u8], end: &[u8]) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut found = Vec::new();
        let Some(mut path) = self.seek_path(start)? else {
            return Ok(found);
        };
        loop {
            let (key, value) = current(&path);
            if key.as_slice() >= end {
                return Ok(found);
            }
            found.push((key.clone(), value.clone()));
            if !self.forward(&mut path)? {
                return Ok(found);
            }
        }
    }

    /// The entry `cursor` is at, its path first found again if an insert saved it.
    fn entry(&mut self, cursor: Cursor) -> io::Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.restore(cursor)?;
        Ok(match &self.cursors[cursor.0] {
            Position::At(path) => Some(current(path).clone()),
            _ => None,
        })
    }

    /// Places `cursor` on the path `find` returns. If it fails, the cursor stays where it was.
    fn place(
        &mut self,
        cursor: Cursor,
        find: impl FnOnce(&mut Tree) -> io::Result<Option<Path>>,
    ) -> io::Result<()> {
        let _ = &self.cursors[cursor.0];
        let path = find(self)?;
        self.cursors[cursor.0] = match path {
            Some(path) => Position::At(path),
            None => Position::Off,
        };
        Ok(())
    }

    /// Moves `cursor` along its path with `step`. A step that fails halfway has popped part of
    /// the path, so the cursor is saved at its key, to be sought again by its next call.
    fn step(
        &mut self,
        cursor: Cursor,
        step: fn(&mut Tree, &mut Path) -> io::Result<bool>,
    ) -> io::Result<()> {
        self.restore(cursor)?;
        let Position::At(mut path) = std::mem::replace(&mut self.cursors[cursor.0], Position::Off)
        else {
            return Ok(());
        };
        let key = current(&path).0.clone();
        match step(self, &mut path) {
            Ok(true) => self.cursors[cursor.0] = Position::At(path),
            Ok(false) => {}
            Err(e) => {
                self.cursors[cursor.0] = Position::Saved(key);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Seeks a saved cursor's key again: the key is still in the tree (nothing removes keys),
    /// so the cursor lands on it, on a fresh path. If a read fails, it stays saved.
    fn restore(&mut self, cursor: Cursor) -> io::Result<()> {
        if let Position::Saved(key) = &self.cursors[cursor.0] {
            let key = key.clone();
            let path = self.seek_path(&key)?;
            self.cursors[cursor.0] = match path {
                Some(path) => Position::At(path),
                None => Position::Off,
            };
        }
        Ok(())
    }

    /// Before the tree changes: every cursor at an entry keeps only that entry's key.
    fn save_cursors(&mut self) {
        for position in &mut self.cursors {
            if let Position::At(path) = position {
                *position = Position::Saved(current(path).0.clone());
            }
        }
    }

    /// The path to the first entry at or after `key`, or `None` if every key is below it.
    fn seek_path(&mut self, key: &[u8]) -> io::Result<Option<Path>> {
        let mut path = Vec::new();
        self.descend(ROOT, &mut path, |node| node.child_for(key))?;
        let Some(Frame::Leaf { entries, index }) = path.last_mut() else {
            unreachable!("a path ends at a leaf")
        };
        *index = entries.partition_point(|(k, _)| k.as_slice() < key);
        if *index < entries.len() {
            return Ok(Some(path));
        }
        // Every key of this leaf is below `key`: the entry sought, if any, is the first of the
        // next leaf.
        Ok(self.climb_forward(&mut path)?.then_some(path))
    }

    /// The path to the first entry (`last` false) or the last, `None` for an empty tree.
    fn edge_path(&mut self, last: bool) -> io::Result<Option<Path>> {
        let mut path = Vec::new();
        self.descend(ROOT, &mut path, |node| match last {
            true => node.children.len() - 1,
            false => 0,
        })?;
        let Some(Frame::Leaf { entries, index }) = path.last_mut() else {
            unreachable!("a path ends at a leaf")
        };
        // Only the root can be an empty leaf: the tree is then empty.
        if entries.is_empty() {
            return Ok(None);
        }
        if last {
            *index = entries.len() - 1;
        }
        Ok(Some(path))
    }

    /// Reads the pages from `page` down to a leaf, going down through the child `pick` chooses
    /// at each internal page, and pushes each on `path`; the leaf's index is 0.
    fn descend(
        &mut self,
        mut page: PageNo,
        path: &mut Path,
        pick: impl Fn(&Internal) -> usize,
    ) -> io::Result<()> {
        loop {
            match self.node(page)? {
                Node::Internal(node) => {
                    let index = pick(&node);
                    page = node.children[index];
                    path.push(Frame::Internal { node, index });
                }
                Node::Leaf(leaf) => {
                    path.push(Frame::Leaf {
                        entries: leaf.entries(),
                        index: 0,
                    });
                    return Ok(());
                }
            }
        }
    }

    /// Moves `path` to the next entry; false if it was at the last.
    fn forward(&mut self, path: &mut Path) -> io::Result<bool> {
        if let Some(Frame::Leaf { entries, index }) = path.last_mut()
            && *index + 1 < entries.len()
        {
            *index += 1;
            return Ok(true);
        }
        self.climb_forward(path)
    }

    /// Moves `path` to the first entry of the next leaf: up to the nearest page with a child
    /// after the one the path went through, and down that child's leftmost pages. False if
    /// the path's leaf is the last one.
    fn climb_forward(&mut self, path: &mut Path) -> io::Result<bool> {
        path.pop();
        while let Some(Frame::Internal { node, index }) = path.last_mut() {
            if *index + 1 < node.children.len() {
                *index += 1;
                let child = node.children[*index];
                self.descend(child, path, |_| 0)?;
                return Ok(true);
            }
            path.pop();
        }
        Ok(false)
    }

    /// Moves `path` to the entry before; false if it was at the first.
    fn backward(&mut self, path: &mut Path) -> io::Result<bool> {
        if let Some(Frame::Leaf { index, .. }) = path.last_mut()
            && *index > 0
        {
            *index -= 1;
            return Ok(true);
        }
        path.pop();
        while let Some(Frame::Internal { node, index }) = path.last_mut() {
            if *index > 0 {
                *index -= 1;
                let child = node.children[*index];
                self.descend(child, path, |node| node.children.len() - 1)?;
                if let Some(Frame::Leaf { entries, index }) = path.last_mut() {
                    *index = entries.len() - 1;
                }
                return Ok(true);
            }
            path.pop();
        }
        Ok(false)
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

/// The entry a path is at: its leaf's.
fn current(path: &Path) -> &(Vec<u8>, Vec<u8>) {
    match path.last() {
        Some(Frame::Leaf { entries, index }) => &entries[*index],
        _ => unreachable!("a path ends at a leaf"),
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
