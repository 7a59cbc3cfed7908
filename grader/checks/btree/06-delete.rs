//! Hidden checks for btree/delete.
//!
//! The checks read every page of the learner's file after every operation and decode it with
//! their own reader of the layouts (the leaf's, the internal page's, the free page's), then walk
//! the tree from page 1: keys sorted in every node, every leaf at the same depth, every page but
//! the root at or above its bound, separators bracketing their children, every page reached
//! once; then they walk the free list from the header's head, and hold every page of the file
//! to be in the tree or on the free list, exactly once, the list as long as the header says.
//! The leaves, read left to right, must hold exactly what a `BTreeMap` holds.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;

use btree_delete::{ENTRY_HEADER, INTERNAL_HEADER, ROOT, Tree};
use judge::prelude::*;
use kit::crash::show;
use kit::fault::{FaultDir, attempt};
use kit::sim::{Fault, OpKind, SimDisk};

use crate::support::{
    CELL_HEADER, LEAF_HEADER, NAME, Node, SLOT, Script, be32, bound, create_call, decode,
    delete_call, insert_call, io_failure, max_cell, reopen_call, short, show_value,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "delete returns the value and get then finds nothing; a key the tree does not hold \
             (in an empty tree, below the first key, between two, above the last, deleted \
             already) is None and changes no page, so that the next flush writes nothing",
            delete_basics,
        )
        .check(
            "random inserts, deletes, gets and reopens against a BTreeMap, pages of 512 bytes: \
             after every operation, keys sorted in every node, every leaf at the same depth, \
             every page but the root at or above its bound (a leaf a third, an internal page a \
             quarter), separators bracketing their children, every page in the tree or on the \
             free list exactly once, the free list as long as the header says, and a file that \
             grew only once the free list was empty",
            matches_model,
        )
        .check(
            "the same, on pages of 1024 and 4096 bytes, with keys and values up to the biggest \
             cell a page takes",
            matches_model_big_cells,
        )
        .check(
            "every rebalance is made where the README says, pages of 512 bytes: after every \
             insert and delete each page holds exactly what the README's rules put there (a \
             page left alone while at or above its bound, exactly at it included; merged with \
             the right sibling, or the left for the last child, when the two fit, exactly full \
             included; shared again otherwise; a page that overflows split, one filled to its \
             last byte not; free pages taken from the head of the list, the most recently freed \
             first), and free_list() is the model's",
            rebalances_as_the_readme_says,
        )
        .check(
            "deleting every key (in ascending, descending or random order) leaves page 1 an \
             empty leaf, a tree of depth 1 and every other page on the free list; inserting \
             them all again in the same order never grows the file past its high-water mark, \
             nor does it after a reopen",
            delete_all,
        )
        .check(
            "scripted: a root over two leaves whose keys fit in one page merges them and \
             collapses: page 1 a leaf holding every key, pages 2 and 3 on the free list, the \
             right-hand page freed first; the next split takes those pages back, the file not \
             growing; two leaves that fill a page to its last byte merge too",
            root_collapses,
        )
        .check(
            "scripted: a leaf that falls below a third of its usable bytes while its sibling \
             is too full to merge with takes entries from it, and the parent's separator \
             becomes the first key of the right-hand page; a shorter value that leaves a leaf \
             too empty rebalances it as well",
            borrows_from_a_sibling,
        )
        .check(
            "the free list survives a flush and an open: the header on disk holds its head and \
             count at bytes 24..32, every free page holds the next one's number in its first \
             four bytes (0 for the last) and zeros after them, and the reopened tree reuses \
             those pages before growing the file",
            free_list_on_disk,
        )
        .check(
            "pages counted: on a tree just opened, a delete that leaves its leaf above the bound \
             (or finds no key) reads one page per level and no more, and the flush after it \
             writes that one leaf and the header (or nothing at all)",
            pages_counted,
        )
        .check(
            "a read that fails at any step of a delete that rebalances (the path down, a \
             sibling) or of an insert that takes a free page makes it return the error, never a \
             panic, and leaves every page, the page count and the free list as they were: a get \
             then answers as before, and the same call made again works",
            failed_reads,
        )
}

// ---------------------------------------------------------------------------------------------
// Saying what was done.

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
                "page {page} is on the free list and in the tree at once: a page the tree \
                 uses must never be free"
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
             it) nor on the free list (free list {:?}): a page the tree lets go of must go on \
             the free list",
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
            walk.entries.extend(entries);
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
        expect_eq(did, show_value(&got), show_value(&expected))
    }

    fn delete(&mut self, key: &[u8]) -> CheckResult {
        let did = self.script.did(delete_call(key));
        let got = self.tree.delete(key).map_err(|e| io_failure(&did, e))?;
        let expected = self.map.remove(key);
        expect_eq(did, show_value(&got), show_value(&expected))
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
        expect_eq(did, show_value(&got), show_value(&expected))
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
                 (a split takes a free page first)\ngot:      the file grew from {} to {count} \
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

/// Key `i` of a pool of 64, some of them long: deletes and replacements find keys the tree
/// holds, and long separators come and go.
fn pooled(i: usize, room: usize) -> Vec<u8> {
    const PADS: [usize; 8] = [0, 1, 3, 8, 20, 40, 80, 200];
    let mut key = format!("{i:02}").into_bytes();
    key.resize((2 + PADS[i % 8]).min(room), b'-');
    key
}

fn key(room: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => (0..64usize).prop_map(move |i| pooled(i, room)),
        1 => prop::collection::vec(prop::sample::select(vec![b'a', b'b', 0x00, 0xFF]), 0..3),
    ]
}

/// An insert whose cell is at most `max` bytes: now and then the biggest there is.
fn insert_op(max: usize) -> impl Strategy<Value = Op> {
    let room = max - CELL_HEADER;
    key(room).prop_flat_map(move |key| {
        let left = room - key.len();
        let value = prop_oneof![
            3 => prop::collection::vec(any::<u8>(), 0..=left.min(10)),
            2 => (0..=left).prop_map(|n| vec![b'v'; n]),
            1 => Just(vec![b'w'; left]),
        ];
        (Just(key), value).prop_map(|(key, value)| Op::Insert(key, value))
    })
}

/// A run: a batch of inserts to grow the tree, then inserts, deletes, gets and reopens mixed,
/// deletes the most common.
fn ops(max: usize, grow: usize, mixed: usize) -> impl Strategy<Value = Vec<Op>> {
    let room = max - CELL_HEADER;
    let op = prop_oneof![
        3 => insert_op(max),
        4 => key(room).prop_map(Op::Delete),
        1 => key(room).prop_map(Op::Get),
        1 => prop_oneof![9 => key(room).prop_map(Op::Delete), 1 => Just(Op::Reopen)],
    ];
    (
        prop::collection::vec(insert_op(max), 0..grow),
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
    ctx.forall_named(
        &["operations"],
        28,
        (ops(max_cell(512), 100, 150),),
        |(ops,)| run_ops(seed, 512, &ops),
    )
}

fn matches_model_big_cells(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["page size", "operations"],
        12,
        prop_oneof![Just(1024usize), Just(4096)]
            .prop_flat_map(|size| (Just(size), ops(max_cell(size), 60, 80))),
        |(size, ops)| run_ops(seed, size, &ops),
    )
}

// ---------------------------------------------------------------------------------------------
// Scripted runs.

/// The `i`th key of a scripted run, `"key000"` on, with a value of `value_len` bytes.
fn ascending(i: usize, value_len: usize) -> (Vec<u8>, Vec<u8>) {
    (
        format!("key{i:03}").into_bytes(),
        vec![b'a' + (i % 26) as u8; value_len],
    )
}

fn delete_basics(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), 512, 8)?;
    run.delete(b"")?;
    run.delete(b"key")?;
    run.check_tree()?;
    for i in (0..60).step_by(2) {
        let (key, value) = ascending(i + 10, 20);
        run.insert(&key, &value)?;
    }
    run.check_tree()?;
    let did = run.script.did("flush()");
    run.tree.flush().map_err(|e| io_failure(&did, e))?;
    let before = run.pages()?;
    let writes = run.disk.stats().writes;
    let missing: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"key".to_vec(),
        b"key009".to_vec(),
        b"key011".to_vec(),
        b"key0400".to_vec(),
        b"key069".to_vec(),
        b"key070".to_vec(),
        vec![0xFF; 3],
    ];
    for key in &missing {
        run.delete(key)?;
    }
    let did = run.script.so_far();
    let after = run.pages()?;
    if let Some(page) = after
        .keys()
        .find(|page| before.get(page) != after.get(page))
    {
        return fail(format!(
            "did:      {did}, each a key the tree does not hold, then pages()\nexpected: every \
             page as it was\ngot:      page {page} changed"
        ));
    }
    let did = run.script.did("flush()");
    run.tree.flush().map_err(|e| io_failure(&did, e))?;
    expect_eq(
        format!("{did}: writes to the file (deletes of keys not held change nothing)"),
        run.disk.stats().writes - writes,
        0,
    )?;
    for i in [10, 40, 68, 30] {
        let key = ascending(i, 20).0;
        run.delete(&key)?;
        run.check_tree()?;
        run.expect_get(&key)?;
        run.delete(&key)?;
        run.expect_get(&ascending(i + 2, 20).0)?;
    }
    Ok(())
}

#[derive(Clone, Copy, Debug)]
enum Order {
    Ascending,
    Descending,
    Random,
}

/// Puts `keys` in `order`; a random order is drawn from `state`, a xorshift generator.
fn ordered(keys: &mut [Vec<u8>], order: Order, state: &mut u64) {
    match order {
        Order::Ascending => keys.sort(),
        Order::Descending => keys.sort_by(|a, b| b.cmp(a)),
        Order::Random => {
            for i in (1..keys.len()).rev() {
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                keys.swap(i, (*state % (i as u64 + 1)) as usize);
            }
        }
    }
}

fn delete_all(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let order = || {
        prop_oneof![
            Just(Order::Ascending),
            Just(Order::Descending),
            Just(Order::Random)
        ]
    };
    ctx.forall_named(
        &["keys", "value bytes", "insert order", "delete order", "shuffle"],
        9,
        (
            prop_oneof![1 => 1..12usize, 3 => 12..100usize],
            prop_oneof![Just(0usize), Just(30), Just(90)],
            order(),
            order(),
            any::<u64>(),
        ),
        |(n, value_len, insert_order, delete_order, shuffle)| {
            let mut rng = shuffle | 1;
            let mut keys: Vec<Vec<u8>> = (0..n)
                .map(|i| [pooled(i % 64, 60), format!("{i}").into_bytes()].concat())
                .collect();
            let mut run = Run::new(seed, 512, 8)?;
            // The same inserts in the same order each round: the same splits, so the same
            // number of pages in use, which the free pages must cover.
            ordered(&mut keys, insert_order, &mut rng);
            let inserts = keys.clone();
            for round in 0..2 {
                for key in &inserts {
                    let value = vec![b'v'; value_len.min(max_cell(512) - CELL_HEADER - key.len())];
                    run.insert(key, &value)?;
                    let high_water = run.high_water;
                    run.check_tree()?;
                    if round == 1 && run.tree.page_count() > high_water {
                        return fail(format!(
                            "did:      {}\nexpected: the file no bigger than its high-water \
                             mark of {high_water} pages (the same inserts in the same order once \
                             filled it to that)\n\
                             got:      {} pages",
                            run.script.so_far(),
                            run.tree.page_count()
                        ));
                    }
                }
                ordered(&mut keys, delete_order, &mut rng);
                for key in &keys {
                    run.delete(key)?;
                    run.check_tree()?;
                }
                let did = run.script.so_far();
                let count = run.tree.page_count();
                let root = run
                    .tree
                    .page(ROOT)
                    .map_err(|e| io_failure(&format!("{did}, then page(1)"), e))?;
                let empty = matches!(decode(&root), Ok(Node::Leaf { ref entries, .. }) if entries.is_empty());
                expect(
                    empty,
                    format!(
                        "did:      {did}, every key deleted, then page(1)\nexpected: an empty \
                         leaf\ngot:      {:02x?}...",
                        &root[..12]
                    ),
                )?;
                expect_eq(
                    format!("{did}, every key deleted, then free_list().1 (page_count() is {count})"),
                    run.tree.free_list().1,
                    count - 2,
                )?;
                run.reopen()?;
                run.check_tree()?;
            }
            Ok(())
        },
    )
}

/// Inserts scripted keys, checking the tree after each.
fn fill(run: &mut Run, keys: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> CheckResult {
    for (key, value) in keys {
        run.insert(&key, &value)?;
        run.check_tree()?;
    }
    Ok(())
}

fn root_collapses(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), 512, 8)?;
    // Cells and slots of 4 + 6 + 40 + 2 = 52 bytes, 9 to a leaf of 500 usable bytes: the 10th
    // splits the root, 5 left (page 3) and 5 right (page 2).
    fill(&mut run, (0..10).map(|i| ascending(i, 40)))?;
    let walk = run.check_tree()?;
    expect_eq(
        format!("{}, then depth()", run.script.so_far()),
        walk.depth,
        2,
    )?;
    // Deleting two from the right leaves 3 there (156 bytes, below 500 / 3) and 8 in all: the
    // two leaves merge into page 3, page 2 is freed, then page 1 takes page 3's place.
    run.delete(&ascending(9, 40).0)?;
    run.check_tree()?;
    run.delete(&ascending(8, 40).0)?;
    let walk = run.check_tree()?;
    let did = run.script.so_far();
    expect_eq(format!("{did}, then depth()"), walk.depth, 1)?;
    expect_eq(
        format!("{did}, then page_count()"),
        run.tree.page_count(),
        4,
    )?;
    expect_eq(
        format!(
            "{did}, then the free list from its head (page 2, the right-hand leaf, freed by the \
             merge; then page 3, freed when the root took its place)"
        ),
        walk.free.clone(),
        vec![3, 2],
    )?;
    // Splitting again takes both free pages back, the most recently freed first.
    fill(&mut run, (8..10).map(|i| ascending(i, 40)))?;
    let did = run.script.so_far();
    expect_eq(
        format!("{did}, a split of the root with pages 3 and 2 free, then page_count()"),
        run.tree.page_count(),
        4,
    )?;
    let root = run
        .tree
        .page(ROOT)
        .map_err(|e| io_failure(&format!("{did}, then page(1)"), e))?;
    let children = match decode(&root) {
        Ok(Node::Internal { children, .. }) => children,
        _ => Vec::new(),
    };
    expect_eq(
        format!(
            "{did}, then page 1's children (the right half took the first free page, 3, the \
             left half the next, 2)"
        ),
        children,
        vec![2, 3],
    )?;
    // And the same shrinking from the left.
    for i in 0..3 {
        run.delete(&ascending(i, 40).0)?;
        run.check_tree()?;
    }
    let did = run.script.so_far();
    expect_eq(format!("{did}, then depth()"), run.check_tree()?.depth, 1)?;
    // Two leaves that fill a page to its last byte merge too: cells and slots of 4 + 6 + 38 + 2
    // = 50 bytes, ten of them exactly the 500 usable bytes. Eleven split 5 | 6, a twelfth makes
    // the right 7; two deletes on the left leave 3 there, and 3 + 7 fit, exactly.
    let mut run = Run::new(ctx.seed(), 512, 8)?;
    fill(&mut run, (0..12).map(|i| ascending(i, 38)))?;
    for i in 0..2 {
        run.delete(&ascending(i, 38).0)?;
        run.check_tree()?;
    }
    let did = run.script.so_far();
    expect_eq(
        format!(
            "{did}, then depth() (3 + 7 cells of 50 bytes fill a page's 500 usable bytes \
             exactly: the leaves merge and the root collapses)"
        ),
        run.check_tree()?.depth,
        1,
    )?;
    Ok(())
}

fn borrows_from_a_sibling(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), 512, 8)?;
    // Ten cells of 52 bytes split 5 | 5 (page 3 | page 2); four more on the right make 9 there.
    fill(&mut run, (0..14).map(|i| ascending(i, 40)))?;
    // Deleting three on the left leaves 2 there (104 bytes, below a third of 500): 2 + 9 do
    // not fit in one page, so the 11 entries are shared again, 5 | 6, and the separator is the
    // right page's new first key, "key008".
    for i in 0..3 {
        run.delete(&ascending(i, 40).0)?;
        run.check_tree()?;
        if i == 0 {
            // 4 cells of 52 bytes, 208 of 500: above a third, so nothing moves.
            let did = format!("{}, then page(1)", run.script.so_far());
            let root = run.tree.page(ROOT).map_err(|e| io_failure(&did, e))?;
            let keys = match decode(&root) {
                Ok(Node::Internal { keys, .. }) => keys.iter().map(|k| short(k)).collect(),
                _ => Vec::new(),
            };
            expect_eq(
                format!(
                    "{did}'s keys (the left leaf holds 4 cells, 208 of its 500 bytes: above \
                     a third, so it is left alone)"
                ),
                keys,
                vec![short(b"key005")],
            )?;
        }
    }
    let did = run.script.so_far();
    let mut shapes = Vec::new();
    for page in [1, 3, 2] {
        let bytes = run
            .tree
            .page(page)
            .map_err(|e| io_failure(&format!("{did}, then page({page})"), e))?;
        shapes.push(match decode(&bytes) {
            Ok(Node::Leaf { entries, .. }) => entries
                .iter()
                .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
                .collect::<Vec<_>>()
                .join(" "),
            Ok(Node::Internal { keys, children, .. }) => format!(
                "{} over {children:?}",
                keys.iter()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Err(why) => why,
        });
    }
    expect_eq(
        format!("{did}, then pages 1, 3 and 2"),
        shapes,
        vec![
            "key008 over [3, 2]".to_string(),
            "key003 key004 key005 key006 key007".to_string(),
            "key008 key009 key010 key011 key012 key013".to_string(),
        ],
    )?;
    // A shorter value on the right: 6 cells, one of them now 12 bytes, 272 bytes in all; four
    // more short values leave it at 112, below the bound, and the two leaves merge.
    for i in 8..13 {
        let key = ascending(i, 0).0;
        run.insert(&key, b"")?;
        run.check_tree()?;
    }
    let walk = run.check_tree()?;
    expect_eq(
        format!(
            "{}, then depth() (shorter values shrank the right leaf below its bound: the \
             leaves merge, the root collapses)",
            run.script.so_far()
        ),
        walk.depth,
        1,
    )?;
    Ok(())
}

fn free_list_on_disk(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), 512, 8)?;
    let mut rng = ctx.rng();
    let mut order: Vec<usize> = (0..200).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    for &i in &order {
        let (key, value) = ascending(i, 30);
        let did = run.script.did(insert_call(&key, &value));
        run.tree
            .insert(&key, &value)
            .map_err(|e| io_failure(&did, e))?;
        run.map.insert(key, value);
    }
    run.check_tree()?;
    for &i in order.iter().take(150) {
        let key = ascending(i, 30).0;
        let did = run.script.did(delete_call(&key));
        run.tree.delete(&key).map_err(|e| io_failure(&did, e))?;
        run.map.remove(&key);
    }
    let walk = run.check_tree()?;
    let free = run.tree.free_list();
    let did = run.script.did("flush()");
    run.tree.flush().map_err(|e| io_failure(&did, e))?;
    let file = run.disk.contents(NAME).unwrap_or_default();
    let header = file.get(24..32).map(|b| (be32(b, 0), be32(b, 4)));
    expect_eq(
        format!("{did}, then read the header's bytes 24..32 on disk (free-list head, count)"),
        header,
        Some(free),
    )?;
    expect(
        free.1 >= 3,
        format!(
            "did:      {did}\nexpected: pages freed by 150 deletes of 200 keys\ngot:      \
             free_list() is {free:?}"
        ),
    )?;
    for &page in &walk.free {
        let at = page as usize * 512;
        let bytes = file.get(at..at + 512).unwrap_or_default();
        let pages = run.pages()?;
        expect_eq(
            format!("{did}, then read free page {page} on disk"),
            show(bytes),
            show(&pages[&page]),
        )?;
    }
    run.reopen()?;
    run.check_tree()?;
    let count = run.tree.page_count();
    for &i in order.iter().take(150) {
        let (key, value) = ascending(i, 30);
        run.insert(&key, &value)?;
        run.check_tree()?;
        let now = run.tree.free_list().1;
        if run.tree.page_count() > count && now > 0 {
            return fail(format!(
                "did:      {}\nexpected: free pages taken before the file grows\ngot:      {} \
                 pages, {now} free",
                run.script.so_far(),
                run.tree.page_count()
            ));
        }
    }
    Ok(())
}

/// A tree of 300 keys with 150 of them deleted again, flushed: leaves of every fill.
fn thinned(seed: u64, cache: usize) -> Result<Run, Failure> {
    let mut run = Run::new(seed, 512, cache)?;
    for i in 0..300 {
        let (key, value) = ascending(i * 7 % 300, 20);
        let did = run.script.did(insert_call(&key, &value));
        run.tree
            .insert(&key, &value)
            .map_err(|e| io_failure(&did, e))?;
        run.map.insert(key, value);
    }
    for i in (0..300).filter(|i| i % 3 != 1 || i % 2 == 0).take(150) {
        let key = ascending(i, 20).0;
        let did = run.script.did(delete_call(&key));
        run.tree.delete(&key).map_err(|e| io_failure(&did, e))?;
        run.map.remove(&key);
    }
    // The deletes made no page: only the inserts grew the file, the free list empty then.
    run.count = run.tree.page_count();
    run.check_tree()?;
    let did = run.script.did("flush()");
    run.tree.flush().map_err(|e| io_failure(&did, e))?;
    Ok(run)
}

fn pages_counted(ctx: &mut Ctx) -> CheckResult {
    let mut run = thinned(ctx.seed(), 64)?;
    let walk = run.check_tree()?;
    let pages = run.pages()?;
    let did = format!(
        "300 inserts and 150 deletes (a tree of depth {}), flush(), Tree::open(dir, {NAME:?}, 64)",
        walk.depth
    );
    let held: Vec<Vec<u8>> = run.map.keys().cloned().collect();
    let probes = [
        Vec::new(),
        held[0].clone(),
        held[held.len() / 2].clone(),
        held[held.len() - 1].clone(),
        b"key0005".to_vec(),
        vec![0xFF],
    ];
    let mut tried = 0;
    for key in probes {
        let dir = run.disk.dir();
        let mut tree =
            Tree::open(&*dir, NAME, 64).map_err(|e| io_failure(&format!("{did}, open"), e))?;
        let before = run.disk.stats();
        let call = format!("{did}, then {}", delete_call(&key));
        let got = tree.delete(&key).map_err(|e| io_failure(&call, e))?;
        let after = run.disk.stats();
        expect_eq(
            call.clone(),
            show_value(&got),
            show_value(&run.map.get(&key).cloned()),
        )?;
        // Which pages changed: one leaf, or more if it rebalanced (then counting says nothing).
        let now: BTreeMap<u32, Vec<u8>> = tree
            .pages()
            .map_err(|e| io_failure(&format!("{call}, then pages()"), e))?
            .into_iter()
            .collect();
        let changed = now.iter().filter(|(n, b)| pages.get(n) != Some(b)).count();
        if changed > 1 || now.len() != pages.len() {
            continue;
        }
        tried += 1;
        expect_eq(
            format!(
                "{call}: pages read from the disk (one per level, on a tree of depth {})",
                walk.depth
            ),
            after.reads - before.reads,
            walk.depth as u64,
        )?;
        let before = run.disk.stats();
        tree.flush()
            .map_err(|e| io_failure(&format!("{call}, then flush()"), e))?;
        let after = run.disk.stats();
        let expected = if got.is_some() { 2 } else { 0 };
        expect_eq(
            format!(
                "{call}, then flush(): writes to the file ({})",
                if got.is_some() {
                    "the one leaf that changed, then the header"
                } else {
                    "nothing changed, so nothing"
                }
            ),
            after.writes - before.writes,
            expected,
        )?;
        // Put the file back as it was for the next probe.
        if let Some(value) = &got {
            tree.insert(&key, value)
                .map_err(|e| io_failure(&format!("{call}, then insert it back"), e))?;
            tree.flush()
                .map_err(|e| io_failure(&format!("{call}, then flush()"), e))?;
        }
    }
    expect(
        tried >= 2,
        format!(
            "did:      {did}, then deletes of keys held and not held\nexpected: at least two \
             that change no more than their leaf\ngot:      {tried}"
        ),
    )
}

/// One change a fault sweep makes.
#[derive(Clone)]
enum Step {
    Delete(Vec<u8>),
    Insert(Vec<u8>, Vec<u8>),
}

impl Step {
    fn call(&self) -> String {
        match self {
            Step::Delete(key) => delete_call(key),
            Step::Insert(key, value) => insert_call(key, value),
        }
    }

    fn key(&self) -> &[u8] {
        match self {
            Step::Delete(key) | Step::Insert(key, _) => key,
        }
    }

    fn apply(&self, tree: &mut Tree) -> io::Result<Option<Vec<u8>>> {
        match self {
            Step::Delete(key) => tree.delete(key),
            Step::Insert(key, value) => tree.insert(key, value),
        }
    }
}

fn failed_reads(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let mut run = thinned(seed, 64)?;
    let walk = run.check_tree()?;
    let pages = run.pages()?;
    let free = run.tree.free_list();
    let count = run.tree.page_count();
    let did = format!(
        "300 inserts and 150 deletes (a tree of depth {}, free list {free:?}), flush(), \
         Tree::open(dir, {NAME:?}, 64)",
        walk.depth
    );
    // The deletes that rebalance (they change more than their leaf), and the inserts that split
    // (they take a free page).
    let deletes = run.map.keys().map(|key| Step::Delete(key.clone()));
    let inserts = run.map.keys().map(|key| {
        let mut key = key.clone();
        key.push(b'+');
        Step::Insert(key, vec![b'n'; 60])
    });
    let mut steps = Vec::new();
    let (mut rebalancing, mut splitting) = (0, 0);
    for step in deletes.chain(inserts) {
        let deleting = matches!(step, Step::Delete(_));
        if (deleting && rebalancing == 6) || (!deleting && splitting == 3) {
            continue;
        }
        let mut tree = Tree::open(&*run.disk.dir(), NAME, 64)
            .map_err(|e| io_failure(&format!("{did}, open"), e))?;
        step.apply(&mut tree)
            .map_err(|e| io_failure(&format!("{did}, then {}", step.call()), e))?;
        let now = tree
            .pages()
            .map_err(|e| io_failure(&format!("{did}, then pages()"), e))?;
        let changed = now.iter().filter(|(n, b)| pages.get(n) != Some(b)).count();
        if deleting && changed > 1 {
            rebalancing += 1;
            steps.push(step);
        } else if !deleting && tree.free_list() != free {
            splitting += 1;
            steps.push(step);
        }
    }
    expect(
        rebalancing >= 4 && splitting >= 1,
        format!(
            "did:      {did}, then deletes of each key in turn, and inserts next to each\n\
             expected: some deletes that rebalance (change more than their leaf) and inserts \
             that take a free page\ngot:      {rebalancing} and {splitting}"
        ),
    )?;
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
                // The change made fewer reads than n: every one has failed in turn.
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
            expect_eq(
                did_get,
                show_value(&got),
                show_value(&run.map.get(step.key()).cloned()),
            )?;
            let again = step
                .apply(&mut tree)
                .map_err(|e| io_failure(&format!("{what}, then the same call again"), e))?;
            expect_eq(
                format!("{what}, then the same call again"),
                show_value(&again),
                show_value(&run.map.get(step.key()).cloned()),
            )?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The README's rules, as a model of every page.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Leaf(Vec<(Vec<u8>, Vec<u8>)>),
    Internal(Vec<Vec<u8>>, Vec<u32>),
    /// A free page, naming the next one.
    Free(u32),
}

/// What a change to a subtree tells its parent, in the model.
enum Out {
    Fine,
    Split(Vec<u8>, u32),
    Under,
}

/// The tree the README's rules build, page by page: `pages[n - 1]` is page `n`.
struct Model {
    page_size: usize,
    pages: Vec<Shape>,
    free: (u32, u32),
}

/// The first of `candidates` whose `gap` is smallest.
fn closest(candidates: std::ops::Range<usize>, gap: impl Fn(usize) -> usize) -> usize {
    let mut best = (usize::MAX, candidates.start);
    for i in candidates {
        if gap(i) < best.0 {
            best = (gap(i), i);
        }
    }
    best.1
}

fn leaf_bytes(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<usize> {
    entries
        .iter()
        .map(|(k, v)| CELL_HEADER + k.len() + v.len() + SLOT)
        .collect()
}

fn key_bytes(keys: &[Vec<u8>]) -> Vec<usize> {
    keys.iter().map(|k| ENTRY_HEADER + k.len()).collect()
}

/// Where a leaf's entries split: halves closest in bytes, the smaller `i` on a tie.
fn leaf_split(sizes: &[usize]) -> usize {
    let total: usize = sizes.iter().sum();
    closest(1..sizes.len(), |i| {
        (2 * sizes[..i].iter().sum::<usize>()).abs_diff(total)
    })
}

/// Which key of an overfull internal page goes up.
fn internal_split(sizes: &[usize]) -> usize {
    let total: usize = sizes.iter().sum();
    closest(1..sizes.len() - 1, |m| {
        let left: usize = sizes[..m].iter().sum();
        left.abs_diff(total - left - sizes[m])
    })
}

impl Model {
    fn new(page_size: usize) -> Model {
        Model {
            page_size,
            pages: vec![Shape::Leaf(Vec::new())],
            free: (0, 0),
        }
    }

    fn get(&self, page: u32) -> Shape {
        self.pages[page as usize - 1].clone()
    }

    fn set(&mut self, page: u32, shape: Shape) {
        self.pages[page as usize - 1] = shape;
    }

    fn allocate(&mut self, shape: Shape) -> u32 {
        let (head, count) = self.free;
        if head == 0 {
            self.pages.push(shape);
            return self.pages.len() as u32;
        }
        let Shape::Free(next) = self.get(head) else {
            unreachable!("the model's free list holds free pages")
        };
        self.free = (next, count - 1);
        self.set(head, shape);
        head
    }

    fn release(&mut self, page: u32) {
        let (head, count) = self.free;
        self.set(page, Shape::Free(head));
        self.free = (page, count + 1);
    }

    fn insert(&mut self, key: &[u8], value: &[u8]) {
        let change = Step::Insert(key.to_vec(), value.to_vec());
        self.change_root(&change);
    }

    fn delete(&mut self, key: &[u8]) {
        self.change_root(&Step::Delete(key.to_vec()));
    }

    fn change_root(&mut self, change: &Step) {
        match self.change(ROOT, change) {
            Out::Split(separator, right) => {
                let left = self.allocate(self.get(ROOT));
                self.set(ROOT, Shape::Internal(vec![separator], vec![left, right]));
            }
            Out::Fine | Out::Under => {
                if let Shape::Internal(keys, children) = self.get(ROOT)
                    && keys.is_empty()
                {
                    self.set(ROOT, self.get(children[0]));
                    self.release(children[0]);
                }
            }
        }
    }

    fn change(&mut self, page: u32, change: &Step) -> Out {
        let usable = self.page_size - LEAF_HEADER;
        match self.get(page) {
            Shape::Leaf(mut entries) => {
                let found = entries.binary_search_by(|(k, _)| k.as_slice().cmp(change.key()));
                match (change, found) {
                    (Step::Insert(_, value), Ok(i)) => entries[i].1 = value.clone(),
                    (Step::Insert(key, value), Err(i)) => {
                        entries.insert(i, (key.clone(), value.clone()));
                    }
                    (Step::Delete(_), Ok(i)) => {
                        entries.remove(i);
                    }
                    (Step::Delete(_), Err(_)) => return Out::Fine,
                }
                let sizes = leaf_bytes(&entries);
                let used: usize = sizes.iter().sum();
                if used > usable {
                    let right = entries.split_off(leaf_split(&sizes));
                    let separator = right[0].0.clone();
                    self.set(page, Shape::Leaf(entries));
                    return Out::Split(separator, self.allocate(Shape::Leaf(right)));
                }
                self.set(page, Shape::Leaf(entries));
                if page != ROOT && 3 * used < usable {
                    Out::Under
                } else {
                    Out::Fine
                }
            }
            Shape::Internal(mut keys, mut children) => {
                let i = keys.partition_point(|k| k.as_slice() <= change.key());
                match self.change(children[i], change) {
                    Out::Fine => return Out::Fine,
                    Out::Split(separator, new_page) => {
                        keys.insert(i, separator);
                        children.insert(i + 1, new_page);
                    }
                    Out::Under => self.rebalance(&mut keys, &mut children, i),
                }
                let sizes = key_bytes(&keys);
                let used: usize = sizes.iter().sum();
                if INTERNAL_HEADER + used > self.page_size {
                    let m = internal_split(&sizes);
                    let right_keys = keys.split_off(m + 1);
                    let right_children = children.split_off(m + 1);
                    let up = keys.pop().expect("key m");
                    self.set(page, Shape::Internal(keys, children));
                    let right = self.allocate(Shape::Internal(right_keys, right_children));
                    return Out::Split(up, right);
                }
                self.set(page, Shape::Internal(keys, children));
                if page != ROOT && 4 * used < self.page_size - INTERNAL_HEADER {
                    Out::Under
                } else {
                    Out::Fine
                }
            }
            Shape::Free(_) => unreachable!("the model's tree holds no free page"),
        }
    }

    fn rebalance(&mut self, keys: &mut Vec<Vec<u8>>, children: &mut Vec<u32>, i: usize) {
        let j = if i + 1 < children.len() { i } else { i - 1 };
        let (left, right) = (children[j], children[j + 1]);
        match (self.get(left), self.get(right)) {
            (Shape::Leaf(mut entries), Shape::Leaf(more)) => {
                entries.extend(more);
                let sizes = leaf_bytes(&entries);
                if sizes.iter().sum::<usize>() <= self.page_size - LEAF_HEADER {
                    self.set(left, Shape::Leaf(entries));
                    self.release(right);
                    keys.remove(j);
                    children.remove(j + 1);
                } else {
                    let tail = entries.split_off(leaf_split(&sizes));
                    keys[j] = tail[0].0.clone();
                    self.set(left, Shape::Leaf(entries));
                    self.set(right, Shape::Leaf(tail));
                }
            }
            (Shape::Internal(mut both_keys, mut both_children), Shape::Internal(k, c)) => {
                both_keys.push(keys[j].clone());
                both_keys.extend(k);
                both_children.extend(c);
                let sizes = key_bytes(&both_keys);
                if INTERNAL_HEADER + sizes.iter().sum::<usize>() <= self.page_size {
                    self.set(left, Shape::Internal(both_keys, both_children));
                    self.release(right);
                    keys.remove(j);
                    children.remove(j + 1);
                } else {
                    let m = internal_split(&sizes);
                    let tail_keys = both_keys.split_off(m + 1);
                    let tail_children = both_children.split_off(m + 1);
                    keys[j] = both_keys.pop().expect("key m");
                    self.set(left, Shape::Internal(both_keys, both_children));
                    self.set(right, Shape::Internal(tail_keys, tail_children));
                }
            }
            _ => unreachable!("the model's siblings are of one kind"),
        }
    }
}

fn show_keys<'a>(keys: impl Iterator<Item = &'a [u8]>) -> String {
    let keys: Vec<&[u8]> = keys.collect();
    let mut shown: Vec<String> = keys.iter().take(6).map(|k| short(k)).collect();
    if keys.len() > 6 {
        shown.push(format!("... {} keys in all", keys.len()));
    }
    format!("[{}]", shown.join(", "))
}

fn show_shape(shape: &Shape) -> String {
    match shape {
        Shape::Leaf(entries) => format!(
            "a leaf holding {}",
            show_keys(entries.iter().map(|(k, _)| k.as_slice()))
        ),
        Shape::Internal(keys, children) => format!(
            "an internal page with keys {} and children {children:?}",
            show_keys(keys.iter().map(Vec::as_slice))
        ),
        Shape::Free(next) => format!("a free page naming page {next} as the next"),
    }
}

/// The first page the learner's file and the model disagree on, said.
fn shape_difference(pages: &BTreeMap<u32, Vec<u8>>, model: &Model) -> Option<String> {
    if pages.len() != model.pages.len() {
        return Some(format!(
            "{} pages after the header, where the README's rules make {}",
            pages.len(),
            model.pages.len()
        ));
    }
    for (i, expected) in model.pages.iter().enumerate() {
        let page = i as u32 + 1;
        let bytes = &pages[&page];
        let got = match (expected, decode(bytes)) {
            (Shape::Free(_), _) if bytes[4..].iter().all(|&b| b == 0) => {
                Shape::Free(be32(bytes, 0))
            }
            (_, Ok(Node::Leaf { entries, .. })) => Shape::Leaf(entries),
            (_, Ok(Node::Internal { keys, children, .. })) => Shape::Internal(keys, children),
            (_, Err(why)) => return Some(format!("page {page} is {why}")),
        };
        if got != *expected {
            return Some(format!(
                "page {page} is {}; the README's rules make it {}",
                show_shape(&got),
                show_shape(expected)
            ));
        }
    }
    None
}

fn run_exact(seed: u64, ops: &[Op]) -> CheckResult {
    let mut run = Run::new(seed, 512, 8)?;
    let mut model = Model::new(512);
    for op in ops {
        match op {
            Op::Insert(key, value) => {
                run.insert(key, value)?;
                model.insert(key, value);
            }
            Op::Delete(key) => {
                run.delete(key)?;
                model.delete(key);
            }
            Op::Get(_) => continue,
            Op::Reopen => run.reopen()?,
        }
        let pages = run.pages()?;
        let did = run.script.so_far();
        if let Some(difference) = shape_difference(&pages, &model) {
            return fail(format!(
                "did:      {did}, then read every page\nexpected: the pages the README's rules \
                 make (splits, merges, shares, the root's collapse, free pages taken from the \
                 head of the list)\ngot:      {difference}"
            ));
        }
        expect_eq(
            format!("{did}, then free_list()"),
            run.tree.free_list(),
            model.free,
        )?;
    }
    Ok(())
}

fn rebalances_as_the_readme_says(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    run_exact(seed, &exact_fill_ops())?;
    ctx.forall_named(
        &["operations"],
        20,
        (ops(max_cell(512), 100, 150),),
        |(ops,)| run_exact(seed, &ops),
    )
}

/// The keys the model's subtree under `page` holds.
fn model_keys(model: &Model, page: u32, into: &mut Vec<Vec<u8>>) {
    match model.get(page) {
        Shape::Leaf(entries) => into.extend(entries.into_iter().map(|(k, _)| k)),
        Shape::Internal(_, children) => {
            for child in children {
                model_keys(model, child, into);
            }
        }
        Shape::Free(_) => {}
    }
}

/// Internal pages filled to their last byte, and emptied to their bound exactly: keys of 36
/// bytes make internal entries of 42, twelve of which fill a 512-byte page (8 + 12 * 42) and
/// three of which are its bound (4 * 126 = 504 usable bytes). Ascending inserts fill page 1 to
/// twelve keys (it must not split) and go on until the last internal page holds 9 keys; then
/// deleting the keys under the page before it, in order, brings that page down to 3 keys
/// (not too empty), then 2, when it merges with the last one into 2 + 1 + 9 = 12 keys: full to
/// the last byte, which fits.
fn exact_fill_ops() -> Vec<Op> {
    let key = |i: usize| format!("{i:04}-{}", "x".repeat(31)).into_bytes();
    let mut model = Model::new(512);
    let mut ops = Vec::new();
    for i in 0..2000 {
        ops.push(Op::Insert(key(i), Vec::new()));
        model.insert(&key(i), b"");
        if let Shape::Internal(_, children) = model.get(ROOT)
            && children.len() >= 2
            && let Shape::Internal(last, _) = model.get(children[children.len() - 1])
            && last.len() == 9
        {
            let mut under = Vec::new();
            model_keys(&model, children[children.len() - 2], &mut under);
            ops.extend(under.into_iter().map(Op::Delete));
            break;
        }
    }
    ops
}
