//! Hidden checks for btree/overflow.
//!
//! The checks read every page of the learner's file after every operation and decode it with
//! their own reader of the layouts (the leaf's, the internal page's, the overflow page's, the
//! free page's), then walk the tree from page 1 (keys sorted, leaves at one depth, bounds,
//! separators), follow the overflow chain of every cell too big to stay whole, and walk the free
//! list: every page of the file is in the tree, in one chain, or on the free list, exactly once.
//! The values the leaves and chains hold, read left to right, must be exactly what a `BTreeMap`
//! holds.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;

use btree_overflow::{INTERNAL_HEADER, MAX_VALUE, OVERFLOW_HEADER, OVERFLOW_POINTER, ROOT, Tree};
use judge::prelude::*;
use kit::crash::show;
use kit::fault::{FaultDir, attempt};
use kit::sim::{Fault, OpKind, SimDisk};

use crate::support::{
    CELL_HEADER, LEAF_HEADER, NAME, Node, Script, be32, bound, create_call, decode, delete_call,
    insert_call, io_failure, max_cell, reopen_call, short, show_value,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "scripted, pages of 512 bytes: a value of exactly the local limit stays whole, one \
             byte more takes one overflow page (next 0, the byte, zeros); chains take their pages \
             in chain order, free pages first (the head first), then the file grows; a deleted \
             or replaced value's chain is freed first page first, before a new chain is written",
            layout_exact,
        )
        .check(
            "values at every edge, pages of 512, 1024 and 4096 bytes, keys of 0 bytes to the \
             longest: 0 and 1 byte, the local limit and one byte either side of it, exactly k \
             overflow pages full and one byte either side, for k = 1 to 3: each read back whole, \
             with exactly as many overflow pages as the README's rule gives",
            edges,
        )
        .check(
            "random inserts, deletes, gets and reopens against a BTreeMap, values of 0 bytes to \
             several pages, pages of 512 bytes: after every operation, the tree's invariants, \
             every overflow chain as the README lays it out, and every page in the tree, in one \
             chain or on the free list exactly once; the file grown only once no page was free",
            matches_model,
        )
        .check(
            "the same, on pages of 1024 and 4096 bytes",
            matches_model_big_pages,
        )
        .check(
            "pages counted: on a tree just opened, get reads one page per level and then exactly \
             the pages of the chain of the value it returns: none for a small value, even next \
             to a big one, or for a key the tree does not hold",
            pages_counted,
        )
        .check(
            "replacing big values with small ones and back, or with values as long, again and \
             again, never grows the file: a replaced value's chain is freed before the new one \
             takes pages",
            replace_keeps_size,
        )
        .check(
            "a key longer than max_local - 4 bytes and a value of MAX_VALUE + 1 bytes are \
             InvalidInput and change no page; the longest key is stored, and a value of exactly \
             MAX_VALUE bytes (pages of 65536 bytes) is stored, returned whole by its delete, and \
             its every page freed",
            limits,
        )
        .check(
            "a read that fails at any step of a get, a delete or an insert of a big value (the \
             path down, the old chain, a free page taken) makes it return the error, never a \
             panic, and leaves every page, the page count and the free list as they were: a get \
             then answers as before, and the same call made again works",
            failed_reads,
        )
}

// ---------------------------------------------------------------------------------------------
// Saying what was done.

/// Holds a value returned to the one expected, byte for byte; the message shows where they part.
fn expect_value(
    did: impl Into<String>,
    got: &Option<Vec<u8>>,
    expected: &Option<Vec<u8>>,
) -> CheckResult {
    if got == expected {
        return Ok(());
    }
    let at = match (got, expected) {
        (Some(got), Some(expected)) => {
            let at = got
                .iter()
                .zip(expected)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(expected.len()));
            format!(" (they differ from byte {at} on)")
        }
        _ => String::new(),
    };
    fail(format!(
        "did:      {}\nexpected: {}\ngot:      {}{at}",
        did.into(),
        show_value(expected),
        show_value(got)
    ))
}

/// The biggest cell a leaf keeps whole.
fn max_local(page_size: usize) -> usize {
    max_cell(page_size) - OVERFLOW_POINTER
}

/// How many bytes of a value stay in the leaf, next to a key of `key_len` bytes, when the
/// value does not: every value up to this long is kept whole.
fn local_len(page_size: usize, key_len: usize) -> usize {
    max_local(page_size) - CELL_HEADER - key_len
}

/// How many overflow pages a value of `len` bytes next to a key of `key_len` bytes takes.
fn chain_len(page_size: usize, key_len: usize, len: usize) -> usize {
    len.saturating_sub(local_len(page_size, key_len))
        .div_ceil(page_size - OVERFLOW_HEADER)
}

/// A value of `len` bytes whose every byte depends on its place and on `salt`: a byte read
/// from the wrong place or the wrong page shows.
fn patterned(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(salt) ^ (i >> 8) as u8)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reading the pages as the README lays them out.

/// What a walk of the tree and of its free list found.
struct Walk {
    depth: usize,
    /// Every entry of every leaf, left to right.
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    /// The separators of the internal pages.
    separators: Vec<Vec<u8>>,
    /// The free pages, from the head of the list on.
    free: Vec<u32>,
    /// The overflow chain of every entry that has one: its key and its pages in chain order.
    chains: Vec<(Vec<u8>, Vec<u32>)>,
}

/// Walks the tree from page 1 through `pages` (every page of the file, by number), then the
/// free list from `(head, count)`, holding both to every invariant; the error says which
/// broke, where.
fn walk(
    pages: &BTreeMap<u32, Vec<u8>>,
    page_size: usize,
    (head, count): (u32, u32),
) -> Result<Walk, String> {
    let mut walk = Walk {
        depth: 0,
        entries: Vec::new(),
        separators: Vec::new(),
        free: Vec::new(),
        chains: Vec::new(),
    };
    let mut reached = BTreeSet::new();
    visit(
        pages,
        page_size,
        ROOT,
        1,
        (None, None),
        &mut reached,
        &mut walk,
    )?;
    let mut page = head;
    while page != 0 {
        if walk.free.len() as u32 == count {
            return Err(format!(
                "the free list goes on past the {count} pages the header counts: page {} names \
                 page {page} as the next",
                walk.free.last().copied().unwrap_or(head)
            ));
        }
        let Some(bytes) = pages.get(&page) else {
            return Err(format!(
                "the free list names page {page}, which is not a page of the file (it holds \
                 pages 1 to {})",
                pages.len()
            ));
        };
        if reached.contains(&page) {
            return Err(format!(
                "page {page} is on the free list and in the tree (or in an overflow chain) at \
                 once: a page the tree uses must never be free"
            ));
        }
        if walk.free.contains(&page) {
            return Err(format!(
                "the free list reaches page {page} twice: it runs in a circle"
            ));
        }
        if let Some(at) = bytes[4..].iter().position(|&b| b != 0) {
            return Err(format!(
                "page {page}, a free page, has byte {} not zero: a free page holds the next \
                 one's number in bytes 0..4 and zeros after them",
                at + 4
            ));
        }
        walk.free.push(page);
        page = be32(bytes, 0);
    }
    if walk.free.len() as u32 != count {
        return Err(format!(
            "the free list holds {} pages ({:?}), but its count says {count}",
            walk.free.len(),
            walk.free
        ));
    }
    if let Some(page) = pages
        .keys()
        .find(|page| !reached.contains(*page) && !walk.free.contains(page))
    {
        return Err(format!(
            "page {page} is in the file but neither in the tree (no internal page points at \
             it), nor in an overflow chain (no cell's chain reaches it), nor on the free list \
             (free list {:?}): a page the tree lets go of, an overflow page of a deleted or \
             replaced value included, must go on the free list",
            walk.free
        ));
    }
    Ok(walk)
}

fn visit(
    pages: &BTreeMap<u32, Vec<u8>>,
    page_size: usize,
    page: u32,
    level: usize,
    (low, high): (Option<&[u8]>, Option<&[u8]>),
    reached: &mut BTreeSet<u32>,
    walk: &mut Walk,
) -> Result<(), String> {
    let Some(bytes) = pages.get(&page) else {
        return Err(format!(
            "an internal page points at page {page}, which is not a page of the tree (the file \
             holds pages 1 to {})",
            pages.len()
        ));
    };
    if !reached.insert(page) {
        return Err(format!(
            "page {page} is reached twice from the root: two internal entries point at it"
        ));
    }
    let node = decode(bytes).map_err(|e| format!("page {page} is {e}"))?;
    let keys: Vec<&[u8]> = match &node {
        Node::Leaf { entries, .. } => entries.iter().map(|(k, _)| k.as_slice()).collect(),
        Node::Internal { keys, .. } => keys.iter().map(Vec::as_slice).collect(),
    };
    if let Some(i) = (1..keys.len()).find(|&i| keys[i - 1] >= keys[i]) {
        return Err(format!(
            "page {page} holds key {} at {} and key {} after it: the keys of a page are in \
             strictly increasing order",
            short(keys[i - 1]),
            i - 1,
            short(keys[i])
        ));
    }
    for key in &keys {
        let below = low.is_some_and(|low| *key < low);
        let above = high.is_some_and(|high| *key >= high);
        if below || above {
            return Err(format!(
                "page {page} holds key {}, but its parent's separators send only keys {} to \
                 it: the separators must bracket the keys of their children (after a page takes \
                 entries from its sibling, the separator between them is the right page's first \
                 key)",
                short(key),
                bound(low, high)
            ));
        }
    }
    let root = page == ROOT;
    match node {
        Node::Leaf { entries, used } => {
            let usable = page_size - LEAF_HEADER;
            if !root && used * 3 < usable {
                return Err(format!(
                    "page {page}, a leaf but not the root, holds {} keys in {used} bytes of \
                     cells and slots: below a third of its {usable} usable bytes, where it must \
                     have taken entries from a sibling or merged with it",
                    entries.len()
                ));
            }
            if walk.depth == 0 {
                walk.depth = level;
            } else if walk.depth != level {
                return Err(format!(
                    "page {page} is a leaf at depth {level}, but another leaf is at depth {}: \
                     every leaf is at the same depth",
                    walk.depth
                ));
            }
            for (key, cell) in entries {
                let value = follow(pages, page_size, page, &key, &cell, reached, walk)?;
                walk.entries.push((key, value));
            }
        }
        Node::Internal {
            keys,
            children,
            used,
        } => {
            let usable = page_size - INTERNAL_HEADER;
            if keys.is_empty() {
                return Err(format!(
                    "page {page} is an internal page with no key, one child{}",
                    if root {
                        ": a root left with one child must take that child's place"
                    } else {
                        ""
                    }
                ));
            }
            if !root && used * 4 < usable {
                return Err(format!(
                    "page {page}, an internal page but not the root, holds {} keys in {used} \
                     bytes of entries: below a quarter of its {usable} usable bytes, where it \
                     must have taken entries from a sibling or merged with it",
                    keys.len()
                ));
            }
            walk.separators.extend(keys.iter().cloned());
            for (i, &child) in children.iter().enumerate() {
                let child_low = if i == 0 {
                    low
                } else {
                    Some(keys[i - 1].as_slice())
                };
                let child_high = if i == keys.len() {
                    high
                } else {
                    Some(keys[i].as_slice())
                };
                visit(
                    pages,
                    page_size,
                    child,
                    level + 1,
                    (child_low, child_high),
                    reached,
                    walk,
                )?;
            }
        }
    }
    Ok(())
}

/// The value of the cell `cell` (its value bytes) of `key` in leaf `leaf`: the cell itself if
/// it is kept whole, or else its prefix and the bytes of its overflow chain, every page of the
/// chain held to the layout and counted as reached.
fn follow(
    pages: &BTreeMap<u32, Vec<u8>>,
    page_size: usize,
    leaf: u32,
    key: &[u8],
    cell: &[u8],
    reached: &mut BTreeSet<u32>,
    walk: &mut Walk,
) -> Result<Vec<u8>, String> {
    let local = local_len(page_size, key.len());
    if cell.len() <= local {
        return Ok(cell.to_vec());
    }
    let whose = format!("the cell of key {} in page {leaf}", short(key));
    if cell.len() != local + OVERFLOW_POINTER {
        return Err(format!(
            "{whose} holds {} value bytes: a cell too big for {} bytes is exactly {} bytes, \
             its key, the value's first {local} bytes, its length and its first overflow page",
            cell.len(),
            max_local(page_size),
            max_cell(page_size)
        ));
    }
    let total = be32(cell, local) as usize;
    let mut page = be32(cell, local + 4);
    if total <= local {
        return Err(format!(
            "{whose} points at overflow page {page} for a value of {total} bytes: a value of at \
             most {local} bytes next to this key ({} with the cell's header and key, at most \
             max_local = {}) stays whole in its leaf",
            CELL_HEADER + key.len() + total,
            max_local(page_size)
        ));
    }
    let per = page_size - OVERFLOW_HEADER;
    let expected = (total - local).div_ceil(per);
    let mut value = cell[..local].to_vec();
    let mut chain = Vec::new();
    for n in 0..expected {
        let Some(bytes) = pages.get(&page) else {
            return Err(format!(
                "{whose} (a value of {total} bytes, {expected} overflow pages) has page {} of \
                 its chain at {page}, which is not a page of the file (it holds pages 1 to {})",
                n + 1,
                pages.len()
            ));
        };
        if !reached.insert(page) {
            return Err(format!(
                "{whose} has overflow page {page}, which is reached twice from the root (by \
                 the tree or by another chain): every overflow page belongs to one value"
            ));
        }
        chain.push(page);
        let take = (total - value.len()).min(per);
        value.extend_from_slice(&bytes[OVERFLOW_HEADER..OVERFLOW_HEADER + take]);
        let next = be32(bytes, 0);
        if n + 1 == expected {
            if next != 0 {
                return Err(format!(
                    "{whose} (a value of {total} bytes: {local} in the leaf, then {expected} \
                     overflow pages of {per} bytes) has its last overflow page, {page}, naming \
                     page {next} as the next: the last page of a chain names page 0"
                ));
            }
            let end = OVERFLOW_HEADER + take;
            if let Some(at) = bytes[end..].iter().position(|&b| b != 0) {
                return Err(format!(
                    "{whose} (a value of {total} bytes) has its last overflow page, {page}, \
                     holding the value's last {take} bytes in bytes {OVERFLOW_HEADER}..{end}, \
                     but byte {} is not zero: the rest of the last page is zeros",
                    end + at
                ));
            }
        } else if next == 0 {
            return Err(format!(
                "{whose} (a value of {total} bytes: {local} in the leaf, then {expected} \
                 overflow pages of {per} bytes) has a chain that ends after {} pages",
                n + 1
            ));
        }
        page = next;
    }
    walk.chains.push((key.to_vec(), chain));
    Ok(value)
}

// ---------------------------------------------------------------------------------------------
// Driving a tree against a map.

struct Run {
    disk: SimDisk,
    tree: Tree,
    page_size: usize,
    cache: usize,
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    script: Script,
    /// The page count and free list after the last check.
    count: u32,
    /// The most pages the file has held.
    high_water: u32,
}

impl Run {
    fn new(seed: u64, page_size: usize, cache: usize) -> Result<Run, Failure> {
        let disk = SimDisk::new(seed);
        let script = Script::new(create_call(page_size, cache));
        let tree = Tree::create(&*disk.dir(), NAME, page_size, cache)
            .map_err(|e| io_failure(&script.so_far(), e))?;
        Ok(Run {
            disk,
            tree,
            page_size,
            cache,
            map: BTreeMap::new(),
            script,
            count: 2,
            high_water: 2,
        })
    }

    fn insert(&mut self, key: &[u8], value: &[u8]) -> CheckResult {
        let did = self.script.did(insert_call(key, value));
        let got = self
            .tree
            .insert(key, value)
            .map_err(|e| io_failure(&did, e))?;
        let expected = self.map.insert(key.to_vec(), value.to_vec());
        expect_value(did, &got, &expected)
    }

    fn delete(&mut self, key: &[u8]) -> CheckResult {
        let did = self.script.did(delete_call(key));
        let got = self.tree.delete(key).map_err(|e| io_failure(&did, e))?;
        let expected = self.map.remove(key);
        expect_value(did, &got, &expected)
    }

    fn reopen(&mut self) -> CheckResult {
        let did = self.script.did(reopen_call(self.cache));
        self.tree.flush().map_err(|e| io_failure(&did, e))?;
        let before = self.tree.free_list();
        self.tree =
            Tree::open(&*self.disk.dir(), NAME, self.cache).map_err(|e| io_failure(&did, e))?;
        expect_eq(
            format!("{did}, then free_list() (it was {before:?} before the flush)"),
            self.tree.free_list(),
            before,
        )
    }

    fn expect_get(&mut self, key: &[u8]) -> CheckResult {
        let did = format!("{}, then get({})", self.script.so_far(), short(key));
        let got = self.tree.get(key).map_err(|e| io_failure(&did, e))?;
        let expected = self.map.get(key).cloned();
        expect_value(did, &got, &expected)
    }

    fn pages(&mut self) -> Result<BTreeMap<u32, Vec<u8>>, Failure> {
        let did = format!("{}, then pages()", self.script.so_far());
        let pages = self.tree.pages().map_err(|e| io_failure(&did, e))?;
        let count = self.tree.page_count();
        let numbers: Vec<u32> = pages.iter().map(|(n, _)| *n).collect();
        let expected: Vec<u32> = (1..count).collect();
        if numbers != expected {
            return Err(Failure::new(format!(
                "did:      {did}\nexpected: pages 1 to {} in order (page_count() is {count})\n\
                 got:      pages {numbers:?}",
                count.saturating_sub(1)
            )));
        }
        Ok(pages.into_iter().collect())
    }

    /// Walks the tree and the free list, and holds them to every invariant and to the map.
    fn check_tree(&mut self) -> Result<Walk, Failure> {
        let pages = self.pages()?;
        let did = self.script.so_far();
        let free = self.tree.free_list();
        let walk = walk(&pages, self.page_size, free).map_err(|why| {
            Failure::new(format!(
                "did:      {did}, then read every page (free_list() is {free:?})\nexpected: a \
                 B+tree and a free list as the README lays them out\ngot:      {why}"
            ))
        })?;
        let expected: Vec<(Vec<u8>, Vec<u8>)> = self
            .map
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if walk.entries != expected {
            let first = walk
                .entries
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(walk.entries.len().min(expected.len()));
            let show_at = |entries: &[(Vec<u8>, Vec<u8>)]| match entries.get(first) {
                Some((k, v)) => format!("{} => {}", short(k), short(v)),
                None => "nothing".into(),
            };
            return Err(Failure::new(format!(
                "did:      {did}, then read the leaves from left to right\nexpected: {} \
                 entries, entry {first} being {}\ngot:      {} entries, entry {first} being {}",
                expected.len(),
                show_at(&expected),
                walk.entries.len(),
                show_at(&walk.entries)
            )));
        }
        let count = self.tree.page_count();
        if count > self.count && free.1 > 0 {
            return Err(Failure::new(format!(
                "did:      {did}\nexpected: the file to grow only once the free list is empty \
                 (a split and an overflow chain take free pages first)\ngot:      the file grew from {} to {count} \
                 pages, and {} pages are still free ({:?})",
                self.count, free.1, walk.free
            )));
        }
        let depth = self
            .tree
            .depth()
            .map_err(|e| io_failure(&format!("{did}, then depth()"), e))?;
        expect_eq(format!("{did}, then depth()"), depth, walk.depth)?;
        self.count = count;
        self.high_water = self.high_water.max(count);
        Ok(walk)
    }
}

// ---------------------------------------------------------------------------------------------
// Random runs.

#[derive(Clone)]
enum Op {
    Insert(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Get(Vec<u8>),
    Reopen,
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Insert(key, value) => write!(f, "{}", insert_call(key, value)),
            Op::Delete(key) => write!(f, "{}", delete_call(key)),
            Op::Get(key) => write!(f, "get({})", short(key)),
            Op::Reopen => write!(f, "{}", reopen_call(8)),
        }
    }
}

/// Key `i` of a pool of 32, some of them long: deletes and replacements find keys the tree
/// holds, and the local part of a big value is short or long.
fn pooled(i: usize, room: usize) -> Vec<u8> {
    const PADS: [usize; 8] = [0, 1, 3, 8, 20, 40, 80, 200];
    let mut key = format!("{i:02}").into_bytes();
    key.resize((2 + PADS[i % 8]).min(room), b'-');
    key
}

fn key(page_size: usize) -> impl Strategy<Value = Vec<u8>> {
    let room = max_local(page_size) - CELL_HEADER;
    prop_oneof![
        4 => (0..32usize).prop_map(move |i| pooled(i, room)),
        1 => prop::collection::vec(prop::sample::select(vec![b'a', 0x00, 0xFF]), 0..3),
        1 => Just(vec![b'k'; room]),
    ]
}

/// A value for a key of `key_len` bytes: small, or at the edges of the local limit and of the
/// overflow pages (exactly kept whole, one byte more; exactly filling k pages, one byte more),
/// or anything up to four pages.
fn value(page_size: usize, key_len: usize) -> impl Strategy<Value = Vec<u8>> {
    let local = local_len(page_size, key_len);
    let per = page_size - OVERFLOW_HEADER;
    let edges = vec![
        local,
        local + 1,
        local + per,
        local + per + 1,
        local + 2 * per,
        local + 2 * per + 1,
        local + 3 * per,
        0,
    ];
    (
        prop_oneof![
            3 => 0..=local.min(12),
            3 => prop::sample::select(edges),
            2 => 0..=local,
            2 => local..=local + 4 * per,
        ],
        any::<u8>(),
    )
        .prop_map(|(len, salt)| patterned(len, salt))
}

fn insert_op(page_size: usize) -> impl Strategy<Value = Op> {
    key(page_size).prop_flat_map(move |key| {
        let len = key.len();
        (Just(key), value(page_size, len)).prop_map(|(key, value)| Op::Insert(key, value))
    })
}

/// A run: a batch of inserts to grow the tree, then inserts, deletes, gets and reopens mixed.
fn ops(page_size: usize, grow: usize, mixed: usize) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        4 => insert_op(page_size),
        3 => key(page_size).prop_map(Op::Delete),
        2 => key(page_size).prop_map(Op::Get),
        1 => prop_oneof![4 => key(page_size).prop_map(Op::Delete), 1 => Just(Op::Reopen)],
    ];
    (
        prop::collection::vec(insert_op(page_size), 0..grow),
        prop::collection::vec(op, 0..mixed),
    )
        .prop_map(|(mut first, then)| {
            first.extend(then);
            first
        })
}

fn run_ops(seed: u64, page_size: usize, ops: &[Op]) -> CheckResult {
    let mut run = Run::new(seed, page_size, 8)?;
    for op in ops {
        match op {
            Op::Insert(key, value) => run.insert(key, value)?,
            Op::Delete(key) => run.delete(key)?,
            Op::Get(key) => {
                run.script.did(format!("get({})", short(key)));
                run.expect_get(key)?;
            }
            Op::Reopen => run.reopen()?,
        }
        run.check_tree()?;
        if let Op::Insert(key, _) | Op::Delete(key) = op {
            run.expect_get(key)?;
        }
    }
    let keys: Vec<Vec<u8>> = run.map.keys().cloned().collect();
    for key in keys {
        run.expect_get(&key)?;
    }
    Ok(())
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(&["operations"], 20, (ops(512, 40, 80),), |(ops,)| {
        run_ops(seed, 512, &ops)
    })
}

fn matches_model_big_pages(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["page size", "operations"],
        6,
        prop_oneof![Just(1024usize), Just(4096)]
            .prop_flat_map(|size| (Just(size), ops(size, 30, 50))),
        |(size, ops)| run_ops(seed, size, &ops),
    )
}

// ---------------------------------------------------------------------------------------------
// Scripted runs.

/// The chain of every key that has one, as the walk found them.
fn chains(walk: &Walk) -> BTreeMap<String, Vec<u32>> {
    walk.chains
        .iter()
        .map(|(key, chain)| (String::from_utf8_lossy(key).into_owned(), chain.clone()))
        .collect()
}

fn expect_chains(run: &mut Run, why: &str, expected: &[(&str, &[u32])]) -> CheckResult {
    let walk = run.check_tree()?;
    let expected: BTreeMap<String, Vec<u32>> = expected
        .iter()
        .map(|(key, chain)| (key.to_string(), chain.to_vec()))
        .collect();
    expect_eq(
        format!(
            "{}, then every overflow chain, key => pages in chain order ({why})",
            run.script.so_far()
        ),
        chains(&walk),
        expected,
    )
}

fn expect_free(run: &mut Run, why: &str, expected: &[u32]) -> CheckResult {
    let walk = run.check_tree()?;
    expect_eq(
        format!(
            "{}, then the free list from its head ({why})",
            run.script.so_far()
        ),
        walk.free,
        expected.to_vec(),
    )
}

fn layout_exact(ctx: &mut Ctx) -> CheckResult {
    // Pages of 512 bytes: max_local 115, a one-byte key keeps 110 bytes of its value in the
    // leaf, and an overflow page holds 508.
    let mut run = Run::new(ctx.seed(), 512, 8)?;
    let local = local_len(512, 1);
    let per = 512 - OVERFLOW_HEADER;
    run.insert(b"a", &patterned(local, 1))?;
    expect_chains(
        &mut run,
        "a value of exactly 110 bytes next to a 1-byte key stays whole",
        &[],
    )?;
    run.insert(b"b", &patterned(local + 1, 2))?;
    expect_chains(
        &mut run,
        "one byte more overflows to one page, the first the file adds",
        &[("b", &[2])],
    )?;
    let did = format!("{}, then page(2)", run.script.so_far());
    let page = run.tree.page(2).map_err(|e| io_failure(&did, e))?;
    let mut expected = vec![0; 512];
    expected[OVERFLOW_HEADER] = patterned(local + 1, 2)[local];
    expect_eq(
        format!("{did} (next 0, the value's last byte, then zeros)"),
        show(&page),
        show(&expected),
    )?;
    run.insert(b"c", &patterned(local + 2 * per, 3))?;
    expect_chains(
        &mut run,
        "exactly two pages full, taken in chain order",
        &[("b", &[2]), ("c", &[3, 4])],
    )?;
    run.insert(b"d", &patterned(local + per + 1, 4))?;
    expect_chains(
        &mut run,
        "two pages, the second holding one byte",
        &[("b", &[2]), ("c", &[3, 4]), ("d", &[5, 6])],
    )?;
    run.delete(b"c")?;
    expect_free(
        &mut run,
        "the chain freed first page first: 3, then 4, which is the head",
        &[4, 3],
    )?;
    run.insert(b"e", &patterned(local + 3 * per, 5))?;
    expect_chains(
        &mut run,
        "three pages: the two free ones from the head, then one the file adds",
        &[("b", &[2]), ("d", &[5, 6]), ("e", &[4, 3, 7])],
    )?;
    expect_free(&mut run, "every free page taken", &[])?;
    run.insert(b"e", b"small")?;
    expect_free(
        &mut run,
        "the replaced value's chain freed, first page first",
        &[7, 3, 4],
    )?;
    run.insert(b"e", &patterned(local + 3 * per, 6))?;
    expect_chains(
        &mut run,
        "the free pages taken from the head again",
        &[("b", &[2]), ("d", &[5, 6]), ("e", &[7, 3, 4])],
    )?;
    run.insert(b"b", &patterned(local + per + 1, 7))?;
    expect_chains(
        &mut run,
        "a replaced value's chain is freed before the new one is written: the new chain takes \
         its page back first",
        &[("b", &[2, 8]), ("d", &[5, 6]), ("e", &[7, 3, 4])],
    )?;
    expect_eq(
        format!("{}, then page_count()", run.script.so_far()),
        run.tree.page_count(),
        9,
    )?;
    run.insert(b"d", &patterned(local + 2 * per, 8))?;
    expect_chains(
        &mut run,
        "a value replaced by one as long takes its own pages back, the last freed first",
        &[("b", &[2, 8]), ("d", &[6, 5]), ("e", &[7, 3, 4])],
    )?;
    run.expect_get(b"d")?;
    run.reopen()?;
    for key in [b"a", b"b", b"d", b"e"] {
        run.expect_get(key)?;
    }
    Ok(())
}

fn edges(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    for page_size in [512, 1024, 4096] {
        let per = page_size - OVERFLOW_HEADER;
        let room = max_local(page_size) - CELL_HEADER;
        let mut run = Run::new(seed, page_size, 8)?;
        let mut keys = Vec::new();
        for (k, key_len) in [0, 1, 20, room].into_iter().enumerate() {
            let local = local_len(page_size, key_len);
            let mut lens = vec![0, 1, local.saturating_sub(1), local, local + 1];
            for pages in 1..=3 {
                lens.extend([
                    local + pages * per - 1,
                    local + pages * per,
                    local + pages * per + 1,
                ]);
            }
            for (i, len) in lens.into_iter().enumerate() {
                // Keys of 0 and 1 byte: one key, its value replaced by each length in turn.
                let key = if key_len < 3 {
                    vec![b'a' + k as u8; key_len]
                } else {
                    let mut key = format!("{k}{i:02}").into_bytes();
                    key.resize(key_len, b'-');
                    key
                };
                let value = patterned(len, (i * 13 + k) as u8);
                run.insert(&key, &value)?;
                let walk = run.check_tree()?;
                let chain = walk
                    .chains
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or(0, |(_, chain)| chain.len());
                expect_eq(
                    format!(
                        "{}, then count the overflow pages of its value ({len} bytes next to a \
                         key of {} bytes: {} stay in the leaf, pages hold {per})",
                        run.script.so_far(),
                        key.len(),
                        local_len(page_size, key.len()).min(len)
                    ),
                    chain,
                    chain_len(page_size, key.len(), len),
                )?;
                run.expect_get(&key)?;
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        for key in keys.iter().step_by(2) {
            run.delete(key)?;
            run.check_tree()?;
        }
        for key in &keys {
            run.expect_get(key)?;
        }
    }
    Ok(())
}

fn limits(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), 512, 8)?;
    run.insert(b"k", &patterned(300, 1))?;
    run.check_tree()?;
    let before = run.pages()?;
    let room = max_local(512) - CELL_HEADER;
    let too_long = vec![b'k'; room + 1];
    let did = run.script.did(insert_call(&too_long, b"v"));
    let got = run.tree.insert(&too_long, b"v");
    expect_eq(
        format!("{did} (a key longer than max_local - 4 = {room} bytes)"),
        format!("{:?}", got.map_err(|e| e.kind())),
        "Err(InvalidInput)".to_string(),
    )?;
    let did = run.script.so_far();
    let after = run.pages()?;
    if after != before {
        return fail(format!(
            "did:      {did}, refused, then pages()\nexpected: every page as it was ({} pages)\n\
             got:      {} pages, or a page changed",
            before.len(),
            after.len()
        ));
    }
    run.expect_get(b"k")?;
    let key = vec![b'k'; room];
    run.insert(&key, &patterned(local_len(512, room) + 1, 9))?;
    run.check_tree()?;
    run.expect_get(&key)?;
    // The biggest value there is, on the biggest pages, in a cache that holds its chain.
    let mut run = Run::new(ctx.seed(), 65536, 300)?;
    let big = patterned(MAX_VALUE, 3);
    run.insert(b"big", &big)?;
    run.insert(b"small", b"s")?;
    let pages = 2 + chain_len(65536, 3, MAX_VALUE) as u32;
    expect_eq(
        format!(
            "{}, then page_count() (the header, the root, and the value's overflow pages)",
            run.script.so_far()
        ),
        run.tree.page_count(),
        pages,
    )?;
    let huge = vec![b'h'; MAX_VALUE + 1];
    let did = run.script.did(insert_call(b"h", &huge));
    let got = run.tree.insert(b"h", &huge);
    expect_eq(
        format!("{did} (a value of MAX_VALUE + 1 bytes)"),
        format!("{:?}", got.map_err(|e| e.kind())),
        "Err(InvalidInput)".to_string(),
    )?;
    expect_eq(
        format!("{did}, refused, then page_count()"),
        run.tree.page_count(),
        pages,
    )?;
    run.delete(b"big")?;
    expect_eq(
        format!(
            "{}, then free_list().1 (every overflow page of the value freed)",
            run.script.so_far()
        ),
        run.tree.free_list().1,
        pages - 2,
    )?;
    run.expect_get(b"small")
}

/// A flushed tree of 240 keys of 512-byte pages, every sixth with a value of one to four
/// overflow pages, and then every fourth key deleted: free pages on the list, chains among them.
fn mixed(seed: u64, cache: usize) -> Result<Run, Failure> {
    let mut run = Run::new(seed, 512, cache)?;
    for i in 0..240 {
        let key = format!("key{:03}", i * 7 % 240).into_bytes();
        let local = local_len(512, key.len());
        let len = if i % 6 == 0 {
            local + 1 + (i / 6 % 4) * 508
        } else {
            20
        };
        let value = patterned(len, i as u8);
        let did = run.script.did(insert_call(&key, &value));
        run.tree
            .insert(&key, &value)
            .map_err(|e| io_failure(&did, e))?;
        run.map.insert(key, value);
    }
    for i in (0..240).step_by(4) {
        let key = format!("key{i:03}").into_bytes();
        let did = run.script.did(delete_call(&key));
        run.tree.delete(&key).map_err(|e| io_failure(&did, e))?;
        run.map.remove(&key);
    }
    // The deletes grew nothing: only the inserts did, the free list empty then.
    run.count = run.tree.page_count();
    run.check_tree()?;
    let did = run.script.did("flush()");
    run.tree.flush().map_err(|e| io_failure(&did, e))?;
    Ok(run)
}

fn pages_counted(ctx: &mut Ctx) -> CheckResult {
    let mut run = mixed(ctx.seed(), 256)?;
    let walk = run.check_tree()?;
    let chains: BTreeMap<Vec<u8>, usize> = walk
        .chains
        .iter()
        .map(|(key, chain)| (key.clone(), chain.len()))
        .collect();
    let did = format!(
        "240 inserts, every sixth value overflowing, 60 deletes (a tree of depth {}), flush(), \
         Tree::open(dir, {NAME:?}, 256)",
        walk.depth
    );
    let keys: Vec<Vec<u8>> = run.map.keys().cloned().collect();
    let mut probes = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        if chains.contains_key(key) && probes.len() < 24 {
            probes.push(key.clone());
            if let Some(next) = keys.get(i + 1).filter(|k| !chains.contains_key(*k)) {
                probes.push(next.clone());
            }
            if let Some(before) = i.checked_sub(1).map(|j| &keys[j])
                && !chains.contains_key(before)
            {
                probes.push(before.clone());
            }
        }
    }
    probes.push(b"key".to_vec());
    let dir = run.disk.dir();
    for key in probes {
        let mut tree =
            Tree::open(&*dir, NAME, 256).map_err(|e| io_failure(&format!("{did}, open"), e))?;
        let call = format!("{did}, then get({})", short(&key));
        let before = run.disk.stats();
        let got = tree.get(&key).map_err(|e| io_failure(&call, e))?;
        let reads = run.disk.stats().reads - before.reads;
        expect_value(call.clone(), &got, &run.map.get(&key).cloned())?;
        let chain = chains.get(&key).copied().unwrap_or(0);
        expect_eq(
            format!(
                "{call}: pages read from the disk (one per level, {}, then {chain} overflow \
                 pages: the chain of the value returned, and no other)",
                walk.depth
            ),
            reads,
            (walk.depth + chain) as u64,
        )?;
    }
    Ok(())
}

fn replace_keeps_size(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), 512, 8)?;
    let mut rng = ctx.rng();
    let mut bigs = Vec::new();
    for i in 0..20 {
        let key = format!("key{i:02}").into_bytes();
        let local = local_len(512, key.len());
        let value = patterned(local + rng.random_range(1..4 * 508), i as u8);
        run.insert(&key, &value)?;
        bigs.push((key, value));
    }
    let walk = run.check_tree()?;
    let count = run.tree.page_count();
    let did = run.script.so_far();
    expect_eq(
        format!("{did}, then free_list() (nothing deleted yet)"),
        (walk.free.len(), run.tree.free_list().1),
        (0, 0),
    )?;
    for round in 0..2 {
        for (key, value) in &bigs {
            let small = patterned(round * 7, 1);
            run.insert(key, &small)?;
            run.check_tree()?;
            run.insert(key, value)?;
            run.check_tree()?;
            let mut longer = value.clone();
            longer.truncate(value.len() - round);
            run.insert(key, &longer)?;
            run.check_tree()?;
            run.insert(key, value)?;
            run.check_tree()?;
            let now = run.tree.page_count();
            if now != count {
                return fail(format!(
                    "did:      {}\nexpected: {count} pages: a big value replaced by a small one \
                     and back, or by one as long, takes back the pages its own chain freed\n\
                     got:      {now} pages",
                    run.script.so_far()
                ));
            }
        }
    }
    for (key, _) in &bigs {
        run.expect_get(key)?;
    }
    Ok(())
}

/// One call a fault sweep makes.
#[derive(Clone)]
enum Step {
    Get(Vec<u8>),
    Delete(Vec<u8>),
    Insert(Vec<u8>, Vec<u8>),
}

impl Step {
    fn call(&self) -> String {
        match self {
            Step::Get(key) => format!("get({})", short(key)),
            Step::Delete(key) => delete_call(key),
            Step::Insert(key, value) => insert_call(key, value),
        }
    }

    fn key(&self) -> &[u8] {
        match self {
            Step::Get(key) | Step::Delete(key) | Step::Insert(key, _) => key,
        }
    }

    fn apply(&self, tree: &mut Tree) -> io::Result<Option<Vec<u8>>> {
        match self {
            Step::Get(key) => tree.get(key),
            Step::Delete(key) => tree.delete(key),
            Step::Insert(key, value) => tree.insert(key, value),
        }
    }

    /// What the call returns on the tree `map` holds.
    fn answer(&self, map: &BTreeMap<Vec<u8>, Vec<u8>>) -> Option<Vec<u8>> {
        map.get(self.key()).cloned()
    }
}

fn failed_reads(ctx: &mut Ctx) -> CheckResult {
    let mut run = mixed(ctx.seed(), 64)?;
    let walk = run.check_tree()?;
    let pages = run.pages()?;
    let free = run.tree.free_list();
    let count = run.tree.page_count();
    let did = format!(
        "240 inserts, every sixth value overflowing, 60 deletes (a tree of depth {}, free list \
         {free:?}), flush(), Tree::open(dir, {NAME:?}, 64)",
        walk.depth
    );
    expect(
        free.1 >= 4,
        format!(
            "did:      {did}\nexpected: pages freed by the deletes, for the inserts below to \
             take\ngot:      free_list() is {free:?}"
        ),
    )?;
    let longest = walk
        .chains
        .iter()
        .max_by_key(|(_, chain)| chain.len())
        .map(|(key, _)| key.clone())
        .unwrap_or_default();
    let other = walk
        .chains
        .iter()
        .find(|(key, chain)| chain.len() == 2 && *key != longest)
        .map(|(key, _)| key.clone())
        .unwrap_or_default();
    let small = run
        .map
        .keys()
        .find(|key| !walk.chains.iter().any(|(k, _)| k == *key))
        .cloned()
        .unwrap_or_default();
    let local = local_len(512, longest.len());
    // Deletes of big values, some of which rebalance their leaf after freeing the chain.
    let big_deletes = walk
        .chains
        .iter()
        .filter(|(key, _)| *key != longest && *key != other)
        .take(6)
        .map(|(key, _)| Step::Delete(key.clone()));
    let mut steps = vec![
        Step::Get(longest.clone()),
        Step::Delete(longest.clone()),
        Step::Insert(longest.clone(), patterned(local + 3 * 508 + 9, 77)),
        Step::Insert(other.clone(), b"small now".to_vec()),
        Step::Insert(small.clone(), patterned(local + 2 * 508, 78)),
        Step::Insert(b"new".to_vec(), patterned(local + 508, 79)),
    ];
    steps.extend(big_deletes);
    for step in &steps {
        for n in 1.. {
            let faults = FaultDir::new(&run.disk, &[]);
            let dir = faults.dir();
            let mut tree =
                Tree::open(&*dir, NAME, 64).map_err(|e| io_failure(&format!("{did}, open"), e))?;
            faults.arm(OpKind::Read, n, Fault::IoError);
            let what = format!("{did}, then {}, read {n} of it failing", step.call());
            ctx.doing(&what);
            let got = attempt(|| step.apply(&mut tree));
            if faults.fired() == 0 {
                // The call made fewer reads than n: every one has failed in turn.
                break;
            }
            if let Ok(answer) = got {
                return fail(format!(
                    "did:      {what}\nexpected: Err(Other), the read's error\ngot:      Ok({})",
                    show_value(&answer)
                ));
            }
            let after: BTreeMap<u32, Vec<u8>> = tree
                .pages()
                .map_err(|e| io_failure(&format!("{what}, then pages()"), e))?
                .into_iter()
                .collect();
            if let Some(page) = after
                .keys()
                .chain(pages.keys())
                .find(|page| after.get(page) != pages.get(page))
            {
                return fail(format!(
                    "did:      {what}, which failed as it should, then pages()\nexpected: every \
                     page as it was ({count} pages)\ngot:      page {page} changed ({} pages)",
                    tree.page_count()
                ));
            }
            expect_eq(
                format!("{what}, which failed as it should, then free_list()"),
                tree.free_list(),
                free,
            )?;
            let did_get = format!(
                "{what}, which failed as it should, then get({})",
                short(step.key())
            );
            let got = tree.get(step.key()).map_err(|e| io_failure(&did_get, e))?;
            expect_value(did_get, &got, &run.map.get(step.key()).cloned())?;
            let again = step
                .apply(&mut tree)
                .map_err(|e| io_failure(&format!("{what}, then the same call again"), e))?;
            expect_value(
                format!("{what}, then the same call again"),
                &again,
                &step.answer(&run.map),
            )?;
        }
    }
    Ok(())
}
