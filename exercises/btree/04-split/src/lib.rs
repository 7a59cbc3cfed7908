//! A B+tree of pages: leaves that split in two, internal nodes that split, and a root that
//! stays at page 1 while the tree grows a level under it.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::io;

use btree_pager::PageNo;
use kit::disk::Dir;

/// The root's page: it never moves.
pub const ROOT: PageNo = 1;

/// The first byte of every internal page.
pub const INTERNAL_KIND: u8 = 0x05;

/// An internal page's header: kind, a zero byte, the key count (u16), the rightmost child (u32).
pub const INTERNAL_HEADER: usize = 8;

/// An internal entry's header: its child (u32) and its key's length (u16).
pub const ENTRY_HEADER: usize = 6;

/// A B+tree in one file of pages. Leaves are `btree_leaf::Leaf` pages; read and write pages
/// through a `btree_pager::Pager`.
#[derive(Debug)]
pub struct Tree {
    // Your fields here: the pager, at least.
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
        todo!("create the pager, allocate page 1, write an empty leaf there")
    }

    /// Opens the tree in the file `name`, reading nothing but the pager's header.
    pub fn open(dir: &dyn Dir, name: &str, cache_pages: usize) -> io::Result<Tree> {
        todo!("open the pager")
    }

    /// Writes every change to the file and syncs it (the pager's flush).
    pub fn flush(&mut self) -> io::Result<()> {
        todo!()
    }

    /// How many pages the file holds, the header page included.
    pub fn page_count(&self) -> u32 {
        todo!()
    }

    /// The bytes of page `page`.
    pub fn page(&mut self, page: PageNo) -> io::Result<Vec<u8>> {
        todo!()
    }

    /// Every page of the tree, from page 1 to the last, each with its number.
    pub fn pages(&mut self) -> io::Result<Vec<(PageNo, Vec<u8>)>> {
        todo!()
    }

    /// How many levels the tree has: 1 while the root is a leaf.
    pub fn depth(&mut self) -> io::Result<usize> {
        todo!()
    }

    /// The value of `key`: one page read per level, from the root down to a leaf.
    pub fn get(&mut self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        todo!("descend from page 1 to the leaf that would hold the key")
    }

    /// Inserts `key` with `value`, or replaces the value of a key the tree holds (returning the
    /// old one). A full leaf splits, and so may its parent, up to the root. A cell bigger than
    /// `max_cell(page_size)` is `InvalidInput`, and the tree is left as it was.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> io::Result<Option<Vec<u8>>> {
        todo!("insert into the leaf; split it if it is full, and the parents up to the root")
    }
}
