//! What the btree checks share: the page layouts as the leaf and split scenes' READMEs give
//! them, a reader of tree pages, and how a check says what it did.

// Every judge of the track includes this module, and a scene uses only what it needs of it.
#![allow(dead_code)]

use std::io;

use judge::Failure;
use kit::crash::show;

/// The internal pages' layout, as the split scene's README gives it (each scene's crate
/// declares the same constants; the checks hold the layout, not the learner's values).
pub const INTERNAL_KIND: u8 = 0x05;
pub const INTERNAL_HEADER: usize = 8;
pub const ENTRY_HEADER: usize = 6;

pub const NAME: &str = "tree.db";

pub const LEAF_KIND: u8 = 0x0D;

pub const LEAF_HEADER: usize = 12;

pub const SLOT: usize = 2;

pub const CELL_HEADER: usize = 4;

pub fn short(bytes: &[u8]) -> String {
    if bytes.len() <= 24 {
        show(bytes)
    } else {
        format!("<{} bytes: {}...>", bytes.len(), show(&bytes[..8]))
    }
}

pub fn create_call(page_size: usize, cache: usize) -> String {
    format!("Tree::create(dir, {NAME:?}, {page_size}, {cache})")
}

pub fn io_failure(did: &str, error: io::Error) -> Failure {
    Failure::new(format!(
        "did:      {did}\nexpected: success\ngot:      Err({:?}): {error}",
        error.kind()
    ))
}

pub fn max_cell(page_size: usize) -> usize {
    (page_size - LEAF_HEADER) / 4 - SLOT
}

pub fn be16(page: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([page[at], page[at + 1]]))
}

pub fn be32(page: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(page[at..at + 4].try_into().unwrap())
}

pub fn insert_call(key: &[u8], value: &[u8]) -> String {
    format!("insert({}, {})", short(key), short(value))
}

pub fn delete_call(key: &[u8]) -> String {
    format!("delete({})", short(key))
}

pub fn reopen_call(cache: usize) -> String {
    format!("flush(), Tree::open(dir, {NAME:?}, {cache})")
}

pub struct Script {
    pub calls: Vec<String>,
}

impl Script {
    pub fn new(first: impl Into<String>) -> Script {
        Script {
            calls: vec![first.into()],
        }
    }

    pub fn did(&mut self, call: impl Into<String>) -> String {
        self.calls.push(call.into());
        self.so_far()
    }

    pub fn so_far(&self) -> String {
        let skip = self.calls.len().saturating_sub(12);
        let mut shown = self.calls[skip..].join(", ");
        if skip > 0 {
            shown = format!("({skip} calls before) {shown}");
        }
        shown
    }
}

pub fn show_value(value: &Option<Vec<u8>>) -> String {
    match value {
        Some(value) => format!("Some({})", short(value)),
        None => "None".into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Leaf {
        entries: Vec<(Vec<u8>, Vec<u8>)>,
        /// Cells and slots.
        used: usize,
    },
    Internal {
        keys: Vec<Vec<u8>>,
        children: Vec<u32>,
        /// Entries: their headers and keys.
        used: usize,
    },
}

/// The node page `page` holds, or what in it breaks the layout.
pub fn decode(page: &[u8]) -> Result<Node, String> {
    let size = page.len();
    match page.first() {
        Some(&LEAF_KIND) => {
            let count = be16(page, 2);
            if LEAF_HEADER + SLOT * count > size {
                return Err(format!("a leaf counting {count} cells, more than fit"));
            }
            let mut entries = Vec::with_capacity(count);
            let mut used = 0;
            for slot in 0..count {
                let at = be16(page, LEAF_HEADER + SLOT * slot);
                if at + CELL_HEADER > size {
                    return Err(format!("a leaf whose slot {slot} points past the page"));
                }
                let (key_len, value_len) = (be16(page, at), be16(page, at + 2));
                let end = at + CELL_HEADER + key_len + value_len;
                if end > size {
                    return Err(format!("a leaf whose cell {slot} runs past the page"));
                }
                let key = page[at + CELL_HEADER..at + CELL_HEADER + key_len].to_vec();
                let value = page[at + CELL_HEADER + key_len..end].to_vec();
                entries.push((key, value));
                used += CELL_HEADER + key_len + value_len + SLOT;
            }
            Ok(Node::Leaf { entries, used })
        }
        Some(&INTERNAL_KIND) => {
            if page[1] != 0 {
                return Err("an internal page whose byte 1 is not 0".into());
            }
            let count = be16(page, 2);
            let mut keys = Vec::with_capacity(count);
            let mut children = Vec::with_capacity(count + 1);
            let mut at = INTERNAL_HEADER;
            for entry in 0..count {
                if at + ENTRY_HEADER > size {
                    return Err(format!(
                        "an internal page counting {count} keys whose entry {entry} runs past \
                         the page"
                    ));
                }
                let len = be16(page, at + 4);
                if at + ENTRY_HEADER + len > size {
                    return Err(format!(
                        "an internal page whose key {entry} runs past the page"
                    ));
                }
                children.push(be32(page, at));
                keys.push(page[at + ENTRY_HEADER..at + ENTRY_HEADER + len].to_vec());
                at += ENTRY_HEADER + len;
            }
            children.push(be32(page, 4));
            if let Some(nonzero) = page[at..].iter().position(|&b| b != 0) {
                return Err(format!(
                    "an internal page whose entries end at byte {at} but whose byte {} is not \
                     zero",
                    at + nonzero
                ));
            }
            Ok(Node::Internal {
                keys,
                children,
                used: at - INTERNAL_HEADER,
            })
        }
        Some(kind) => Err(format!(
            "a page of kind {kind:#04x}, neither a leaf (0x0D) nor an internal page (0x05)"
        )),
        None => Err("an empty page".into()),
    }
}

pub fn bound(low: Option<&[u8]>, high: Option<&[u8]>) -> String {
    let low = low.map_or("anything".to_string(), |k| {
        format!("at or above {}", short(k))
    });
    let high = high.map_or(String::new(), |k| format!(" and below {}", short(k)));
    format!("{low}{high}")
}
