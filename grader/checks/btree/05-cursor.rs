//! Hidden checks for btree/cursor.
//!
//! Cursors are driven against a `BTreeMap` and a model cursor that holds only the key it is at
//! (the README's rule: a cursor held across an insert goes on from its key), with inserts, many
//! of them splitting pages, between the moves; the tree's pages are walked after every insert.
//! Page reads are counted twice, on trees just opened with caches of one and three pages: by the
//! disk (each miss of the pager is one read) and by the pager's own stats (each read of a page,
//! cached or not). Every read of every move is failed in turn.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;

use btree_cursor::{Cursor, ENTRY_HEADER, INTERNAL_HEADER, INTERNAL_KIND, ROOT, Tree};
use judge::prelude::*;
use kit::fault::FaultDir;
use kit::sim::{Fault, OpKind, SimDisk};

use crate::support::{
    CELL_HEADER, LEAF_HEADER, LEAF_KIND, NAME, SLOT, be16, be32, create_call, io_failure, max_cell,
    short,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "on an empty tree a new cursor is at no entry, and stays there: first, last and \
             seek find nothing, next and prev leave it at no entry, scan returns nothing",
            empty_tree,
        )
        .check(
            "on a tree of one key: seek before it, at it and after it, first and last, next \
             and prev off either end (and staying off), and scans around it",
            one_key,
        )
        .check(
            "random inserts, seeks, first, last, next, prev and scans with three cursors held \
             across the inserts, against a BTreeMap, pages of 512 bytes: every cursor's key \
             and value after every move, every scan, and the tree's pages walked after every \
             insert (keys sorted, separators bracketing their children, every leaf at the same \
             depth, the leaves holding what the map holds)",
            matches_model,
        )
        .check(
            "a cursor held across inserts goes on from its key: an insert just after it or \
             just before it in the same leaf, a split of its leaf (the cursor at the split's \
             last left entry, at its first right entry), a split of the root, and its own \
             value replaced; a cursor at no entry stays there",
            cursor_across_inserts,
        )
        .check(
            "a tree of depth 3 or more: seek before all keys, after all, equal to every \
             separator, just after one, in the gap after the last key of a leaf, and equal to \
             the first and last keys; next and prev from each; a full scan forwards and \
             backwards; ranges whose end or start is a separator, empty and reversed ranges",
            deep_tree_edges,
        )
        .check(
            "keys of the biggest size a cell takes, on pages of 4096 bytes (a tree of depth 3 \
             of few keys a page): every seek, a full scan forwards and backwards, and ranges",
            biggest_keys,
        )
        .check(
            "pages read, on a tree of depth 3 or more just opened with a cache of one page: a \
             seek reads one page per level (and the pages down to the next leaf when its key \
             is past the last of its leaf), key and value read nothing; counted by the disk \
             and by the pager's stats",
            seek_reads,
        )
        .check(
            "pages read by a full scan (first, then next to the end; last, then prev to the \
             start) and by scan(start, end), on a tree just opened with a cache of one page and \
             of three: every page of the tree read exactly once, counted by the disk and by the \
             pager's stats",
            scan_reads,
        )
        .check(
            "a read that fails in seek, first, last, next, prev, key after an insert, or scan \
             (each read in turn) makes the call return the error, never a short scan or a \
             cursor at no entry; the cursor stays where it was, and the same call made again \
             works",
            failed_reads,
        )
}

// ---------------------------------------------------------------------------------------------
// Saying what was done.

fn show_key(key: &Option<Vec<u8>>) -> String {
    match key {
        Some(key) => format!("Some({})", short(key)),
        None => "None".into(),
    }
}

fn show_entries(entries: &[(Vec<u8>, Vec<u8>)]) -> String {
    let mut shown: Vec<String> = entries
        .iter()
        .take(8)
        .map(|(k, v)| format!("{} => {}", short(k), short(v)))
        .collect();
    if entries.len() > 8 {
        shown.push(format!("... {} entries in all", entries.len()));
    }
    format!("[{}]", shown.join(", "))
}

/// The first place two lists of entries differ, said.
fn entries_difference(got: &[(Vec<u8>, Vec<u8>)], expected: &[(Vec<u8>, Vec<u8>)]) -> String {
    let at = got
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    let show_at = |entries: &[(Vec<u8>, Vec<u8>)]| match entries.get(at) {
        Some((k, v)) => format!("{} => {}", short(k), short(v)),
        None => "nothing".into(),
    };
    format!(
        "expected: {} entries, entry {at} being {}\ngot:      {} entries, entry {at} being {}",
        expected.len(),
        show_at(expected),
        got.len(),
        show_at(got)
    )
}

/// Fails with what was done, what was expected and what came back, each as shown.
fn expect_shown(did: impl fmt::Display, got: String, expected: String) -> CheckResult {
    if got == expected {
        return Ok(());
    }
    fail(format!(
        "did:      {did}\nexpected: {expected}\ngot:      {got}"
    ))
}

/// The calls made so far, the last dozen of them shown.
struct Script {
    calls: Vec<String>,
}

impl Script {
    fn new(first: impl Into<String>) -> Script {
        Script {
            calls: vec![first.into()],
        }
    }

    fn did(&mut self, call: impl Into<String>) -> String {
        self.calls.push(call.into());
        self.so_far()
    }

    fn so_far(&self) -> String {
        let skip = self.calls.len().saturating_sub(12);
        let mut shown = self.calls[skip..].join(", ");
        if skip > 0 {
            shown = format!("({skip} calls before) {shown}");
        }
        shown
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the pages as the split scene lays them out, and walking the tree.

#[derive(Debug, Clone)]
enum Node {
    Leaf(Vec<(Vec<u8>, Vec<u8>)>),
    Internal(Vec<Vec<u8>>, Vec<u32>),
}

/// The node page `page` holds, or what in it breaks the layout.
fn decode(page: &[u8]) -> Result<Node, String> {
    let size = page.len();
    match page.first() {
        Some(&LEAF_KIND) => {
            let count = be16(page, 2);
            if LEAF_HEADER + SLOT * count > size {
                return Err(format!("a leaf counting {count} cells, more than fit"));
            }
            let mut entries = Vec::with_capacity(count);
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
                entries.push((key, page[at + CELL_HEADER + key_len..end].to_vec()));
            }
            Ok(Node::Leaf(entries))
        }
        Some(&INTERNAL_KIND) => {
            let count = be16(page, 2);
            let mut keys = Vec::with_capacity(count);
            let mut children = Vec::with_capacity(count + 1);
            let mut at = INTERNAL_HEADER;
            for entry in 0..count {
                if at + ENTRY_HEADER > size || at + ENTRY_HEADER + be16(page, at + 4) > size {
                    return Err(format!(
                        "an internal page counting {count} keys whose entry {entry} runs past \
                         the page"
                    ));
                }
                let len = be16(page, at + 4);
                children.push(be32(page, at));
                keys.push(page[at + ENTRY_HEADER..at + ENTRY_HEADER + len].to_vec());
                at += ENTRY_HEADER + len;
            }
            children.push(be32(page, 4));
            Ok(Node::Internal(keys, children))
        }
        Some(kind) => Err(format!(
            "a page of kind {kind:#04x}, neither a leaf (0x0D) nor an internal page (0x05)"
        )),
        None => Err("an empty page".into()),
    }
}

/// The tree as its pages hold it, decoded and walked.
struct Shape {
    nodes: BTreeMap<u32, Node>,
    depth: usize,
    /// Every entry of every leaf, left to right.
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    /// The separators of the internal pages.
    separators: Vec<Vec<u8>>,
}

impl Shape {
    /// Walks the tree from page 1, holding it to the invariants of a B+tree; the error says
    /// which broke, where.
    fn walk(pages: Vec<(u32, Vec<u8>)>) -> Result<Shape, String> {
        let mut nodes = BTreeMap::new();
        for (page, bytes) in pages {
            nodes.insert(
                page,
                decode(&bytes).map_err(|e| format!("page {page} is {e}"))?,
            );
        }
        let mut shape = Shape {
            nodes,
            depth: 0,
            entries: Vec::new(),
            separators: Vec::new(),
        };
        let mut reached = BTreeSet::new();
        shape.visit(ROOT, 1, (None, None), &mut reached)?;
        if let Some(page) = shape.nodes.keys().find(|page| !reached.contains(*page)) {
            return Err(format!(
                "page {page} is in the file but no internal page points at it"
            ));
        }
        Ok(shape)
    }

    fn visit(
        &mut self,
        page: u32,
        level: usize,
        (low, high): (Option<Vec<u8>>, Option<Vec<u8>>),
        reached: &mut BTreeSet<u32>,
    ) -> Result<(), String> {
        let Some(node) = self.nodes.get(&page).cloned() else {
            return Err(format!(
                "an internal page points at page {page}, which is not a page of the tree"
            ));
        };
        if !reached.insert(page) {
            return Err(format!("page {page} is reached twice from the root"));
        }
        let keys: Vec<Vec<u8>> = match &node {
            Node::Leaf(entries) => entries.iter().map(|(k, _)| k.clone()).collect(),
            Node::Internal(keys, _) => keys.clone(),
        };
        if let Some(i) = (1..keys.len()).find(|&i| keys[i - 1] >= keys[i]) {
            return Err(format!(
                "page {page} holds key {} at {} and key {} after it: the keys of a page are in \
                 strictly increasing order",
                short(&keys[i - 1]),
                i - 1,
                short(&keys[i])
            ));
        }
        for key in &keys {
            if low.as_ref().is_some_and(|low| key < low)
                || high.as_ref().is_some_and(|high| key >= high)
            {
                return Err(format!(
                    "page {page} holds key {}, outside what its parent's separators send to it \
                     ({} to {})",
                    short(key),
                    low.as_deref().map_or("anything".into(), short),
                    high.as_deref().map_or("anything".into(), short),
                ));
            }
        }
        match node {
            Node::Leaf(entries) => {
                if self.depth == 0 {
                    self.depth = level;
                } else if self.depth != level {
                    return Err(format!(
                        "page {page} is a leaf at depth {level}, but another leaf is at depth \
                         {}: every leaf is at the same depth",
                        self.depth
                    ));
                }
                self.entries.extend(entries);
            }
            Node::Internal(keys, children) => {
                if keys.is_empty() {
                    return Err(format!("page {page} is an internal page with no key"));
                }
                self.separators.extend(keys.iter().cloned());
                for (i, &child) in children.iter().enumerate() {
                    let child_low = if i == 0 {
                        low.clone()
                    } else {
                        Some(keys[i - 1].clone())
                    };
                    let child_high = if i == keys.len() {
                        high.clone()
                    } else {
                        Some(keys[i].clone())
                    };
                    self.visit(child, level + 1, (child_low, child_high), reached)?;
                }
            }
        }
        Ok(())
    }

    /// The pages from the root down to the leaf that would hold `key`.
    fn path(&self, key: &[u8]) -> Vec<u32> {
        let mut path = vec![ROOT];
        while let Some(Node::Internal(keys, children)) = self.nodes.get(path.last().unwrap()) {
            path.push(children[keys.partition_point(|k| k.as_slice() <= key)]);
        }
        path
    }

    fn first_at_or_after(&self, key: &[u8]) -> Option<&Vec<u8>> {
        let at = self.entries.partition_point(|(k, _)| k.as_slice() < key);
        self.entries.get(at).map(|(k, _)| k)
    }

    /// The pages a seek of `key` reads: its path, and the path to the first key at or after it
    /// when that key is in another leaf.
    fn seek_pages(&self, key: &[u8]) -> BTreeSet<u32> {
        let mut pages: BTreeSet<u32> = self.path(key).into_iter().collect();
        if let Some(found) = self.first_at_or_after(key) {
            pages.extend(self.path(found));
        }
        pages
    }

    /// The pages `scan(start, end)` reads: the seek's, the leaves of every key in the range,
    /// and the leaf of the first key at or after `end`, where the scan learns it is done.
    fn scan_pages(&self, start: &[u8], end: &[u8]) -> BTreeSet<u32> {
        let mut pages = self.seek_pages(start);
        if start < end {
            for (key, _) in &self.entries {
                if key.as_slice() >= start && key.as_slice() < end {
                    pages.extend(self.path(key));
                }
            }
            if let Some(found) = self.first_at_or_after(end) {
                pages.extend(self.path(found));
            }
        }
        pages
    }
}

// ---------------------------------------------------------------------------------------------
// The model: a map, and cursors that hold the key they are at.

struct Model {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    cursors: Vec<Option<Vec<u8>>>,
}

impl Model {
    fn at_or_after(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.map
            .range(key.to_vec()..)
            .next()
            .map(|(k, _)| k.clone())
    }

    fn apply(&mut self, op: &Op) {
        use std::ops::Bound::{Excluded, Unbounded};
        match op {
            Op::Insert(key, value) => {
                self.map.insert(key.clone(), value.clone());
            }
            Op::Grow(seed, n) => {
                for (key, value) in grow(*seed, *n) {
                    self.map.insert(key, value);
                }
            }
            Op::Seek(c, key) => self.cursors[*c] = self.at_or_after(key),
            Op::First(c) => self.cursors[*c] = self.map.keys().next().cloned(),
            Op::Last(c) => self.cursors[*c] = self.map.keys().next_back().cloned(),
            Op::Next(c) => {
                self.cursors[*c] = self.cursors[*c].as_ref().and_then(|at| {
                    self.map
                        .range::<Vec<u8>, _>((Excluded(at), Unbounded))
                        .next()
                        .map(|(k, _)| k.clone())
                })
            }
            Op::Prev(c) => {
                self.cursors[*c] = self.cursors[*c].as_ref().and_then(|at| {
                    self.map
                        .range(..at.clone())
                        .next_back()
                        .map(|(k, _)| k.clone())
                })
            }
            Op::Read(_) | Op::Scan(..) => {}
        }
    }

    fn scan(&self, start: &[u8], end: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        if start >= end {
            return Vec::new();
        }
        self.map
            .range(start.to_vec()..end.to_vec())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// One step of a run. Cursors are numbered from 0, as `Tree::cursor` hands them out.
#[derive(Clone)]
enum Op {
    Insert(Vec<u8>, Vec<u8>),
    /// Inserts of `n` keys of 30 bytes: enough to split internal pages.
    Grow(u16, usize),
    Seek(usize, Vec<u8>),
    First(usize),
    Last(usize),
    Next(usize),
    Prev(usize),
    /// key and value of a cursor.
    Read(usize),
    Scan(Vec<u8>, Vec<u8>),
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Insert(key, value) => write!(f, "insert({}, {})", short(key), short(value)),
            Op::Grow(seed, n) => write!(f, "{}", grow_call(*seed, *n)),
            Op::Seek(c, key) => write!(f, "seek(Cursor({c}), {})", short(key)),
            Op::First(c) => write!(f, "first(Cursor({c}))"),
            Op::Last(c) => write!(f, "last(Cursor({c}))"),
            Op::Next(c) => write!(f, "next(Cursor({c}))"),
            Op::Prev(c) => write!(f, "prev(Cursor({c}))"),
            Op::Read(c) => write!(f, "key(Cursor({c})), value(Cursor({c}))"),
            Op::Scan(start, end) => write!(f, "scan({}, {})", short(start), short(end)),
        }
    }
}

/// The keys and values of a `Grow`: 30-byte keys starting with a, b or c, spread among the
/// small keys the runs draw.
fn grow(seed: u16, n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let spread = (usize::from(seed) * 7919 + i * 104_729) % 100_000;
            let key = format!("{}{spread:05}{}", ['a', 'b', 'c'][i % 3], "-".repeat(24));
            (key.into_bytes(), vec![b'g'; i % 7])
        })
        .collect()
}

fn grow_call(seed: u16, n: usize) -> String {
    let keys = grow(seed, n);
    match (keys.first(), keys.last()) {
        (Some(first), Some(last)) => format!(
            "{n} inserts of 30-byte keys ({} ... {})",
            short(&first.0),
            short(&last.0)
        ),
        _ => "0 inserts".into(),
    }
}

/// A tree driven beside the model.
struct Run {
    disk: SimDisk,
    tree: Tree,
    cursors: Vec<Cursor>,
    model: Model,
    script: Script,
}

impl Run {
    fn new(seed: u64, page_size: usize, cache: usize, cursors: usize) -> Result<Run, Failure> {
        let disk = SimDisk::new(seed);
        let mut script = Script::new(create_call(page_size, cache));
        let mut tree = Tree::create(&*disk.dir(), NAME, page_size, cache)
            .map_err(|e| io_failure(&script.so_far(), e))?;
        let mut handed = Vec::new();
        for _ in 0..cursors {
            handed.push(tree.cursor());
        }
        script.did(format!("cursor() {cursors} times"));
        if (1..handed.len()).any(|i| handed[..i].contains(&handed[i])) {
            return Err(Failure::new(format!(
                "did:      {}\nexpected: {cursors} different cursors\ngot:      {handed:?}",
                script.so_far()
            )));
        }
        Ok(Run {
            disk,
            tree,
            cursors: handed,
            model: Model {
                map: BTreeMap::new(),
                cursors: vec![None; cursors],
            },
            script,
        })
    }

    fn walk(&mut self) -> Result<Shape, Failure> {
        let did = format!("{}, then pages()", self.script.so_far());
        let pages = self.tree.pages().map_err(|e| io_failure(&did, e))?;
        let shape = Shape::walk(pages).map_err(|why| {
            Failure::new(format!(
                "did:      {did}\nexpected: a B+tree as the split scene lays it out\ngot:      \
                 {why}"
            ))
        })?;
        let expected: Vec<(Vec<u8>, Vec<u8>)> = self
            .model
            .map
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if shape.entries != expected {
            return Err(Failure::new(format!(
                "did:      {did}, and read the leaves from left to right\n{}",
                entries_difference(&shape.entries, &expected)
            )));
        }
        Ok(shape)
    }

    fn insert(&mut self, key: &[u8], value: &[u8]) -> CheckResult {
        let did = self.script.so_far() + &format!(", insert({}, {})", short(key), short(value));
        let got = self
            .tree
            .insert(key, value)
            .map_err(|e| io_failure(&did, e))?;
        let expected = self.model.map.get(key).cloned();
        expect_shown(&did, show_key(&got), show_key(&expected))
    }

    /// Applies `op` to the tree and to the model, and compares what the tree says after it.
    fn apply(&mut self, op: &Op) -> CheckResult {
        match op {
            Op::Insert(key, value) => {
                self.insert(key, value)?;
                self.model.apply(op);
                self.script.did(format!("{op:?}"));
                self.walk()?;
                return Ok(());
            }
            Op::Grow(seed, n) => {
                for (key, value) in grow(*seed, *n) {
                    self.insert(&key, &value)?;
                    self.model.map.insert(key, value);
                }
                self.script.did(format!("{op:?}"));
                self.walk()?;
                return Ok(());
            }
            Op::Scan(start, end) => {
                let did = self.script.did(format!("{op:?}"));
                let got = self
                    .tree
                    .scan(start, end)
                    .map_err(|e| io_failure(&did, e))?;
                let expected = self.model.scan(start, end);
                if got != expected {
                    return fail(format!(
                        "did:      {did}\n{}",
                        entries_difference(&got, &expected)
                    ));
                }
                return Ok(());
            }
            _ => {}
        }
        let c = match op {
            Op::Seek(c, _) | Op::First(c) | Op::Last(c) | Op::Next(c) | Op::Prev(c) => *c,
            Op::Read(c) => *c,
            _ => unreachable!(),
        };
        let cursor = self.cursors[c];
        let did = self.script.did(format!("{op:?}"));
        let done = match op {
            Op::Seek(_, key) => self.tree.seek(cursor, key),
            Op::First(_) => self.tree.first(cursor),
            Op::Last(_) => self.tree.last(cursor),
            Op::Next(_) => self.tree.next(cursor),
            Op::Prev(_) => self.tree.prev(cursor),
            _ => Ok(()),
        };
        done.map_err(|e| io_failure(&did, e))?;
        self.model.apply(op);
        self.expect_at(c, &did)
    }

    /// Holds cursor `c`'s key and value to the model's.
    fn expect_at(&mut self, c: usize, did: &str) -> CheckResult {
        let cursor = self.cursors[c];
        let key_did = if did.ends_with(&format!("key(Cursor({c})), value(Cursor({c}))")) {
            did.to_string()
        } else {
            format!("{did}, then key(Cursor({c}))")
        };
        let key = self.tree.key(cursor).map_err(|e| io_failure(&key_did, e))?;
        let expected = self.model.cursors[c].clone();
        expect_shown(&key_did, show_key(&key), show_key(&expected))?;
        let value_did = format!("{did}, then value(Cursor({c}))");
        let value = self
            .tree
            .value(cursor)
            .map_err(|e| io_failure(&value_did, e))?;
        let expected = expected.map(|key| self.model.map[&key].clone());
        expect_shown(&value_did, show_key(&value), show_key(&expected))
    }

    /// Applies `ops`, reading each cursor only after the ops that move it.
    fn steps(&mut self, ops: &[Op]) -> CheckResult {
        for op in ops {
            self.apply(op)?;
        }
        Ok(())
    }

    /// Applies `ops`, then reads every cursor and walks the tree once more: moving cursors
    /// changes no page.
    fn run(&mut self, ops: &[Op]) -> CheckResult {
        self.steps(ops)?;
        self.walk()?;
        let did = self.script.so_far();
        for c in 0..self.cursors.len() {
            self.expect_at(c, &did)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Random runs.

fn small_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c']), 0..4),
        1 => prop::collection::vec(prop::sample::select(vec![0x00, 0xFF]), 0..3),
        1 => prop::collection::vec(any::<u8>(), 0..=40),
    ]
}

fn op(cursors: usize) -> impl Strategy<Value = Op> {
    let room = max_cell(512) - CELL_HEADER;
    let insert = small_key().prop_flat_map(move |key| {
        let left = room - key.len();
        let value = prop_oneof![
            3 => prop::collection::vec(any::<u8>(), 0..8),
            1 => (0..=left).prop_map(|n| vec![b'v'; n]),
            1 => Just(vec![b'w'; left]),
        ];
        (Just(key), value).prop_map(|(key, value)| Op::Insert(key, value))
    });
    let c = 0..cursors;
    prop_oneof![
        4 => insert,
        4 => c.clone().prop_map(Op::Next),
        3 => c.clone().prop_map(Op::Prev),
        3 => (c.clone(), small_key()).prop_map(|(c, key)| Op::Seek(c, key)),
        1 => c.clone().prop_map(Op::First),
        1 => c.clone().prop_map(Op::Last),
        1 => c.prop_map(Op::Read),
        2 => (small_key(), small_key()).prop_map(|(start, end)| Op::Scan(start, end)),
        1 => (any::<u16>(), 0..160usize).prop_map(|(seed, n)| Op::Grow(seed, n)),
    ]
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["ops"],
        64,
        (prop::collection::vec(op(3), 1..70),),
        |(ops,)| {
            let mut run = Run::new(seed, 512, 8, 3)?;
            run.run(&ops)
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Scripted runs.

fn k(key: &str) -> Vec<u8> {
    key.as_bytes().to_vec()
}

fn empty_tree(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), 512, 4, 2)?;
    run.run(&[
        Op::Read(0),
        Op::Next(0),
        Op::Prev(0),
        Op::First(0),
        Op::Last(1),
        Op::Next(1),
        Op::Prev(1),
        Op::Seek(0, Vec::new()),
        Op::Seek(1, vec![0xFF; 3]),
        Op::Scan(Vec::new(), vec![0xFF]),
        Op::Scan(Vec::new(), Vec::new()),
        Op::Prev(0),
    ])
}

fn one_key(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), 512, 4, 2)?;
    run.run(&[
        Op::Insert(k("m"), k("one")),
        Op::Read(0),
        Op::Seek(0, Vec::new()),
        Op::Seek(1, k("m")),
        Op::Seek(0, k("m\0")),
        Op::Next(0),
        Op::Prev(0),
        Op::Seek(0, k("l\u{7f}")),
        Op::Seek(0, vec![0xFF]),
        Op::First(0),
        Op::Next(0),
        Op::Next(0),
        Op::Prev(0),
        Op::Last(0),
        Op::Prev(0),
        Op::Prev(0),
        Op::Next(0),
        Op::First(1),
        Op::Last(0),
        Op::Scan(Vec::new(), k("m")),
        Op::Scan(k("m"), k("m\0")),
        Op::Scan(Vec::new(), vec![0xFF]),
        Op::Scan(k("m"), k("m")),
        Op::Scan(k("n"), k("a")),
        Op::Scan(k("m\0"), vec![0xFF]),
    ])
}

fn cursor_across_inserts(ctx: &mut Ctx) -> CheckResult {
    // Cells of 4 + 6 + 40 bytes and their slots: 52 bytes, 9 to a leaf of 500 usable bytes.
    let v = |c: u8| vec![c; 40];
    let key = |i: usize| format!("key{i:03}").into_bytes();
    // Seven keys in the root leaf; cursors at the third, the last, the first, at no entry,
    // and at the fourth.
    let mut ops: Vec<Op> = (1..=7).map(|i| Op::Insert(key(i * 10), v(b'a'))).collect();
    ops.extend([
        Op::Seek(0, key(30)),
        Op::Last(1),
        Op::First(2),
        Op::Seek(3, key(900)),
        Op::Seek(4, key(40)),
        // In the same leaf, no split: just after cursor 0's key, and just before cursor 1's.
        Op::Insert(key(31), v(b'b')),
        Op::Insert(key(69), v(b'b')),
        Op::Next(0),
        Op::Prev(1),
    ]);
    let mut run = Run::new(ctx.seed(), 512, 8, 5)?;
    run.steps(&ops)?;
    expect_depth(&mut run, 1, "nine cells of 52 bytes fit in a leaf")?;
    let mut ops = Vec::new();
    ops.extend([
        // The tenth key splits the root leaf 5 | 5: 010 020 025 030 031 | 040 050 060 069 070.
        // Cursor 0, at key031, is the last entry of the left half, cursor 4, at key040, the
        // first of the right; cursor 2 stays on key010, cursor 3 at no entry.
        Op::Insert(key(25), v(b'c')),
    ]);
    run.steps(&ops)?;
    expect_depth(
        &mut run,
        2,
        "the tenth cell of 52 bytes splits the root leaf",
    )?;
    let mut ops = Vec::new();
    ops.extend([
        Op::Next(0),
        Op::Prev(0),
        Op::Prev(4),
        Op::Next(4),
        Op::Next(2),
        Op::Next(3),
        Op::Prev(3),
        Op::Read(3),
        // Its own value replaced.
        Op::Insert(key(31), v(b'd')),
        Op::Read(0),
        // Cursor 1, at key069, held across a split of its leaf and more.
        Op::Insert(key(65), v(b'e')),
        Op::Insert(key(66), v(b'e')),
        Op::Insert(key(67), v(b'e')),
        Op::Insert(key(68), v(b'e')),
        Op::Insert(key(85), v(b'e')),
        Op::Prev(1),
        Op::Next(1),
        Op::Next(1),
        Op::Next(1),
        Op::Next(1),
        Op::Next(1),
    ]);
    run.run(&ops)?;
    // Cursors at the first and last keys, then hundreds of inserts around them: internal pages
    // split and the root splits again; every cursor walks the whole tree from where it was.
    let mut run = Run::new(ctx.seed(), 512, 8, 3)?;
    let mut ops = vec![
        Op::Insert(k("b"), k("first")),
        Op::Insert(k("c~"), k("last")),
        Op::First(0),
        Op::Last(1),
        Op::Seek(2, k("b\0")),
        Op::Grow(7, 300),
        Op::Read(0),
        Op::Read(1),
        Op::Read(2),
    ];
    let total = 302;
    ops.extend((0..total).map(|_| Op::Next(0)));
    ops.extend((0..total).map(|_| Op::Prev(1)));
    run.run(&ops)?;
    let shape = run.walk()?;
    expect(
        shape.depth >= 3,
        format!(
            "did:      {}\nexpected: a tree of depth 3 or more, to hold cursors across root \
             splits\ngot:      depth {}",
            run.script.so_far(),
            shape.depth
        ),
    )
}

/// Holds the scripted run to the depth its script is written for.
fn expect_depth(run: &mut Run, depth: usize, why: &str) -> CheckResult {
    let shape = run.walk()?;
    expect_eq(
        format!(
            "{}, then read every page: the depth of the tree ({why})",
            run.script.so_far()
        ),
        shape.depth,
        depth,
    )
}

/// A tree of depth 3 or 4 on 512-byte pages: 900 keys of 40 bytes, in random order.
fn deep_run(ctx: &mut Ctx, cache: usize) -> Result<(Run, Shape), Failure> {
    let mut run = Run::new(ctx.seed(), 512, cache, 2)?;
    let mut order: Vec<usize> = (0..900).collect();
    let mut rng = ctx.rng();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    for &i in &order {
        let key = format!("{i:05}-{}", "k".repeat(34)).into_bytes();
        let value = vec![b'a' + (i % 26) as u8; i % 5];
        let did = format!(
            "{} inserts of 40-byte keys in random order",
            run.model.map.len()
        );
        run.tree
            .insert(&key, &value)
            .map_err(|e| io_failure(&did, e))?;
        run.model.map.insert(key, value);
    }
    run.script = Script::new(format!(
        "{}, 900 inserts of 40-byte keys in random order",
        create_call(512, cache)
    ));
    let shape = run.walk()?;
    expect(
        shape.depth >= 3,
        format!(
            "did:      {}\nexpected: a tree of depth 3 or more\ngot:      depth {}",
            run.script.so_far(),
            shape.depth
        ),
    )?;
    run.script.did(format!("a tree of depth {}", shape.depth));
    Ok((run, shape))
}

/// Keys worth seeking in `shape`: before, after, at the ends, every separator and the keys
/// around it, the gap after the last key of every leaf.
fn probes(shape: &Shape, some: usize) -> Vec<Vec<u8>> {
    let first = shape.entries.first().map(|(k, _)| k.clone()).unwrap();
    let last = shape.entries.last().map(|(k, _)| k.clone()).unwrap();
    let mut probes = vec![
        Vec::new(),
        vec![0xFF],
        [&last[..], &[0]].concat(),
        first.clone(),
        last.clone(),
        first[..first.len() - 1].to_vec(),
    ];
    let step = (shape.separators.len() / some).max(1);
    for separator in shape.separators.iter().step_by(step) {
        probes.push(separator.clone());
        probes.push([&separator[..], &[0]].concat());
        // The gap after the last key of the leaf to the separator's left.
        let at = shape
            .entries
            .partition_point(|(k, _)| k.as_slice() < separator.as_slice());
        if at > 0 {
            probes.push([&shape.entries[at - 1].0[..], &[0]].concat());
        }
    }
    probes
}

fn deep_tree_edges(ctx: &mut Ctx) -> CheckResult {
    let (mut run, shape) = deep_run(ctx, 16)?;
    let mut ops = Vec::new();
    for key in probes(&shape, 40) {
        ops.extend([
            Op::Seek(0, key.clone()),
            Op::Next(0),
            Op::Prev(0),
            Op::Prev(0),
            Op::Seek(1, key),
            Op::Prev(1),
        ]);
    }
    let n = shape.entries.len();
    ops.push(Op::First(0));
    ops.extend((0..n).map(|_| Op::Next(0)));
    ops.push(Op::Last(1));
    ops.extend((0..n).map(|_| Op::Prev(1)));
    let seps = &shape.separators;
    let (a, b) = (&seps[0], &seps[seps.len() / 2]);
    let first = shape.entries[0].0.clone();
    let last = shape.entries[n - 1].0.clone();
    ops.extend([
        Op::Scan(a.clone(), b.clone()),
        Op::Scan(Vec::new(), a.clone()),
        Op::Scan(b.clone(), vec![0xFF]),
        Op::Scan([&a[..], &[0]].concat(), b.clone()),
        Op::Scan(first.clone(), last.clone()),
        Op::Scan(Vec::new(), vec![0xFF]),
        Op::Scan(b.clone(), b.clone()),
        Op::Scan(b.clone(), a.clone()),
        Op::Scan([&last[..], &[0]].concat(), vec![0xFF]),
    ]);
    for pair in seps.windows(2).step_by(7) {
        ops.push(Op::Scan(pair[0].clone(), pair[1].clone()));
    }
    run.run(&ops)
}

fn biggest_keys(ctx: &mut Ctx) -> CheckResult {
    let size = 4096;
    let mut run = Run::new(ctx.seed(), size, 8, 2)?;
    let len = max_cell(size) - CELL_HEADER;
    // Keys of 1015 bytes: three or four to a leaf, and internal entries of 1021 bytes, three to
    // an internal page: 60 keys make a tree of depth 3 or more.
    let key = |i: usize| {
        let mut key = vec![b'k'; len];
        key[..4].copy_from_slice(format!("{:04}", i * 37 % 60).as_bytes());
        key
    };
    for i in 0..60 {
        run.insert(&key(i), b"")?;
        run.model.map.insert(key(i), Vec::new());
    }
    run.script
        .did("60 inserts of keys of max_cell(4096) - 4 bytes");
    let shape = run.walk()?;
    expect(
        shape.depth >= 3,
        format!(
            "did:      {}\nexpected: a tree of depth 3 or more\ngot:      depth {}",
            run.script.so_far(),
            shape.depth
        ),
    )?;
    let mut ops = Vec::new();
    for key in probes(&shape, 100) {
        ops.extend([Op::Seek(0, key), Op::Next(0), Op::Prev(0), Op::Prev(0)]);
    }
    ops.push(Op::First(0));
    ops.extend((0..60).map(|_| Op::Next(0)));
    ops.push(Op::Last(1));
    ops.extend((0..60).map(|_| Op::Prev(1)));
    ops.push(Op::Scan(Vec::new(), vec![0xFF]));
    for pair in shape.separators.windows(2) {
        ops.push(Op::Scan(pair[0].clone(), pair[1].clone()));
    }
    run.run(&ops)
}

// ---------------------------------------------------------------------------------------------
// Pages read.

/// A tree just opened on the deep run's file, with a cold cache of `cache` pages.
fn reopen(run: &Run, cache: usize, did: &str) -> Result<(Tree, Cursor), Failure> {
    let mut tree = Tree::open(&*run.disk.dir(), NAME, cache).map_err(|e| {
        io_failure(
            &format!("{did}, then Tree::open(dir, {NAME:?}, {cache})"),
            e,
        )
    })?;
    let cursor = tree.cursor();
    Ok((tree, cursor))
}

/// Pages read by `call`: by the disk, and through the pager (its hits and misses).
fn count<T>(
    run: &Run,
    tree: &mut Tree,
    call: impl FnOnce(&mut Tree) -> io::Result<T>,
) -> (io::Result<T>, u64, u64) {
    let disk = run.disk.stats().reads;
    let before = tree.stats();
    let got = call(tree);
    let after = tree.stats();
    let pager = (after.hits + after.misses) - (before.hits + before.misses);
    (got, run.disk.stats().reads - disk, pager)
}

fn expect_reads(did: &str, disk: u64, pager: u64, expected: usize, what: &str) -> CheckResult {
    expect_eq(
        format!("{did}: pages read from the disk ({what})"),
        disk,
        expected as u64,
    )?;
    expect_eq(
        format!(
            "{did}: pages read through the pager, its stats' hits and misses ({what}; a cursor \
             keeps the pages of its path and reads none twice)"
        ),
        pager,
        expected as u64,
    )
}

fn flushed_deep_run(ctx: &mut Ctx) -> Result<(Run, Shape, String), Failure> {
    let (mut run, shape) = deep_run(ctx, 16)?;
    let did = format!("{}, flush()", run.script.so_far());
    run.tree.flush().map_err(|e| io_failure(&did, e))?;
    Ok((run, shape, did))
}

fn seek_reads(ctx: &mut Ctx) -> CheckResult {
    let (run, shape, did) = flushed_deep_run(ctx)?;
    for key in probes(&shape, 12) {
        let (mut tree, cursor) = reopen(&run, 1, &did)?;
        let call = format!(
            "{did}, Tree::open(dir, {NAME:?}, 1), cursor(), then seek(Cursor, {})",
            short(&key)
        );
        let (got, disk, pager) = count(&run, &mut tree, |tree| tree.seek(cursor, &key));
        got.map_err(|e| io_failure(&call, e))?;
        let pages = shape.seek_pages(&key);
        let what = if pages.len() == shape.depth {
            format!("one per level, on a tree of depth {}", shape.depth)
        } else {
            format!(
                "one per level on a tree of depth {}, and the {} pages down to the next leaf",
                shape.depth,
                pages.len() - shape.depth
            )
        };
        expect_reads(&call, disk, pager, pages.len(), &what)?;
        let expected = shape.first_at_or_after(&key).cloned();
        let (got, disk, pager) = count(&run, &mut tree, |tree| {
            Ok((tree.key(cursor)?, tree.value(cursor)?))
        });
        let (key_got, value_got) =
            got.map_err(|e| io_failure(&format!("{call}, key, value"), e))?;
        expect_shown(
            format!("{call}, then key(Cursor)"),
            show_key(&key_got),
            show_key(&expected),
        )?;
        let expected_value = expected.map(|k| run.model.map[&k].clone());
        expect_shown(
            format!("{call}, then value(Cursor)"),
            show_key(&value_got),
            show_key(&expected_value),
        )?;
        expect_reads(
            &format!("{call}, then key(Cursor) and value(Cursor)"),
            disk,
            pager,
            0,
            "none: the cursor holds its leaf",
        )?;
    }
    Ok(())
}

fn scan_reads(ctx: &mut Ctx) -> CheckResult {
    let (run, shape, did) = flushed_deep_run(ctx)?;
    let all = shape.nodes.len();
    let entries: Vec<(Vec<u8>, Vec<u8>)> = shape.entries.clone();
    for cache in [1, 3] {
        for backwards in [false, true] {
            let (mut tree, cursor) = reopen(&run, cache, &did)?;
            let call = format!(
                "{did}, Tree::open(dir, {NAME:?}, {cache}), cursor(), then {}",
                match backwards {
                    false => "first(Cursor) and next(Cursor) to the end, reading each key",
                    true => "last(Cursor) and prev(Cursor) to the start, reading each key",
                }
            );
            let (got, disk, pager) = count(&run, &mut tree, |tree| {
                let mut seen = Vec::new();
                match backwards {
                    false => tree.first(cursor)?,
                    true => tree.last(cursor)?,
                }
                while let Some(key) = tree.key(cursor)? {
                    seen.push(key);
                    if seen.len() > entries.len() {
                        break;
                    }
                    match backwards {
                        false => tree.next(cursor)?,
                        true => tree.prev(cursor)?,
                    }
                }
                Ok(seen)
            });
            let seen = got.map_err(|e| io_failure(&call, e))?;
            let mut expected: Vec<Vec<u8>> = entries.iter().map(|(k, _)| k.clone()).collect();
            if backwards {
                expected.reverse();
            }
            if seen != expected {
                let as_entries = |keys: &[Vec<u8>]| -> Vec<(Vec<u8>, Vec<u8>)> {
                    keys.iter().map(|k| (k.clone(), Vec::new())).collect()
                };
                return fail(format!(
                    "did:      {call}\n{}",
                    entries_difference(&as_entries(&seen), &as_entries(&expected))
                ));
            }
            expect_reads(
                &call,
                disk,
                pager,
                all,
                &format!("every page of the tree once: {all} pages"),
            )?;
        }
        let seps = &shape.separators;
        let first = entries[0].0.clone();
        let ranges = [
            (seps[0].clone(), seps[seps.len() / 2].clone()),
            (Vec::new(), seps[seps.len() / 3].clone()),
            ([&seps[1][..], &[0]].concat(), seps[seps.len() - 2].clone()),
            (seps[seps.len() / 2].clone(), vec![0xFF]),
            (first, seps[0].clone()),
            (Vec::new(), vec![0xFF]),
        ];
        for (start, end) in ranges {
            let (mut tree, _) = reopen(&run, cache, &did)?;
            let call = format!(
                "{did}, Tree::open(dir, {NAME:?}, {cache}), then scan({}, {})",
                short(&start),
                short(&end)
            );
            let (got, disk, pager) = count(&run, &mut tree, |tree| tree.scan(&start, &end));
            let got = got.map_err(|e| io_failure(&call, e))?;
            let expected = run.model.scan(&start, &end);
            if got != expected {
                return fail(format!(
                    "did:      {call}\n{}",
                    entries_difference(&got, &expected)
                ));
            }
            // An empty range may be answered at once, reading nothing, or by the seek the
            // README describes: both are right.
            if start >= end && disk == 0 && pager == 0 {
                continue;
            }
            let pages = shape.scan_pages(&start, &end);
            expect_reads(
                &call,
                disk,
                pager,
                pages.len(),
                "the seek's pages, then each leaf of the range and the pages down to it once, \
                 up to the leaf of the first key at or after the end",
            )?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Failed reads.

/// What a call with a failed read is made of: putting the cursor somewhere first, then the call.
struct Failing {
    /// Said in the message.
    call: String,
    /// Where the cursor is put before the call, if anywhere.
    before: Option<Vec<u8>>,
    op: Step,
    /// The cursor's key after the call works.
    after: Option<Vec<u8>>,
}

#[derive(Clone)]
enum Step {
    Seek(Vec<u8>),
    First,
    Last,
    Next,
    Prev,
    /// An insert of this key (its reads not failed), then key.
    KeyAfterInsert(Vec<u8>),
    Scan(Vec<u8>, Vec<u8>),
}

fn failed_reads(ctx: &mut Ctx) -> CheckResult {
    let (run, shape, did) = flushed_deep_run(ctx)?;
    let keys: Vec<Vec<u8>> = shape.entries.iter().map(|(k, _)| k.clone()).collect();
    // A key whose leaf is the last child of its parent, and not of its grandparent: a next
    // from it climbs two levels and reads two pages, a prev from the key after it the same.
    let mut far = None;
    for (i, pair) in keys.windows(2).enumerate() {
        let (a, b) = (shape.path(&pair[0]), shape.path(&pair[1]));
        if a[a.len() - 2] != b[b.len() - 2] {
            far = Some(i);
            if a[a.len() - 3] == b[b.len() - 3] {
                break;
            }
        }
    }
    let far = far.expect("a tree of depth 3 has two leaves of different parents");
    let gap = [&keys[far][..], &[0]].concat();
    let cases = [
        Failing {
            call: format!("seek(Cursor, {})", short(&gap)),
            before: Some(keys[3].clone()),
            op: Step::Seek(gap.clone()),
            after: Some(keys[far + 1].clone()),
        },
        Failing {
            call: "first(Cursor)".into(),
            before: Some(keys[far].clone()),
            op: Step::First,
            after: Some(keys[0].clone()),
        },
        Failing {
            call: "last(Cursor)".into(),
            before: None,
            op: Step::Last,
            after: keys.last().cloned(),
        },
        Failing {
            call: format!(
                "next(Cursor) from {}, the last key of its leaf",
                short(&keys[far])
            ),
            before: Some(keys[far].clone()),
            op: Step::Next,
            after: Some(keys[far + 1].clone()),
        },
        Failing {
            call: format!(
                "prev(Cursor) from {}, the first key of its leaf",
                short(&keys[far + 1])
            ),
            before: Some(keys[far + 1].clone()),
            op: Step::Prev,
            after: Some(keys[far].clone()),
        },
        Failing {
            call: format!("key(Cursor) after an insert of {}", short(&gap)),
            before: Some(keys[far].clone()),
            op: Step::KeyAfterInsert(gap.clone()),
            after: Some(keys[far].clone()),
        },
        Failing {
            call: format!(
                "scan({}, {})",
                short(&keys[far - 5.min(far)]),
                short(&keys[(far + 20).min(keys.len() - 1)])
            ),
            before: None,
            op: Step::Scan(
                keys[far - 5.min(far)].clone(),
                keys[(far + 20).min(keys.len() - 1)].clone(),
            ),
            after: None,
        },
    ];
    for case in &cases {
        let mut n = 1;
        loop {
            // A copy of the disk for each attempt: pages written back by one leave the next alone.
            let disk = run.disk.fork();
            let faults = FaultDir::new(&disk, &[]);
            let mut tree = Tree::open(&*faults.dir(), NAME, 1)
                .map_err(|e| io_failure(&format!("{did}, Tree::open(dir, {NAME:?}, 1)"), e))?;
            let cursor = tree.cursor();
            let mut setup = format!("{did}, Tree::open(dir, {NAME:?}, 1), cursor()");
            if let Some(key) = &case.before {
                setup += &format!(", seek(Cursor, {})", short(key));
                tree.seek(cursor, key).map_err(|e| io_failure(&setup, e))?;
            }
            if let Step::KeyAfterInsert(key) = &case.op {
                setup += &format!(", insert({}, \"\")", short(key));
                tree.insert(key, b"").map_err(|e| io_failure(&setup, e))?;
            }
            faults.arm(OpKind::Read, n, Fault::IoError);
            let what = format!(
                "{setup}, then {}, its read number {n} from the disk failing",
                case.call
            );
            let got = match &case.op {
                Step::Seek(key) => tree.seek(cursor, key).map(|()| None),
                Step::First => tree.first(cursor).map(|()| None),
                Step::Last => tree.last(cursor).map(|()| None),
                Step::Next => tree.next(cursor).map(|()| None),
                Step::Prev => tree.prev(cursor).map(|()| None),
                Step::KeyAfterInsert(_) => tree.key(cursor).map(|_| None),
                Step::Scan(start, end) => tree.scan(start, end).map(Some),
            };
            if faults.fired() == 0 {
                // The call made fewer reads than n: every read of it has been failed.
                if n == 1 {
                    let why = match case.op {
                        Step::KeyAfterInsert(_) => {
                            "the insert saved the cursor, which seeks its key again on the tree \
                             as it is now"
                        }
                        _ => "the cache of one page is cold",
                    };
                    return fail(format!(
                        "did:      {setup}, then {}\nexpected: pages read from the disk ({why})\n\
                         got:      no read",
                        case.call
                    ));
                }
                break;
            }
            match got {
                Err(_) => {}
                Ok(Some(entries)) => {
                    return fail(format!(
                        "did:      {what}\nexpected: Err, the read's error\ngot:      Ok({}), \
                         a scan cut short by the failed read",
                        show_entries(&entries)
                    ));
                }
                Ok(None) => {
                    return fail(format!(
                        "did:      {what}\nexpected: Err, the read's error\ngot:      Ok"
                    ));
                }
            }
            let before = match &case.op {
                Step::Scan(..) => None,
                _ => case.before.clone(),
            };
            if !matches!(case.op, Step::Scan(..)) {
                let key = tree
                    .key(cursor)
                    .map_err(|e| io_failure(&format!("{what}, then key(Cursor)"), e))?;
                expect_shown(
                    format!(
                        "{what}, then key(Cursor): the cursor where it was before the failed call"
                    ),
                    show_key(&key),
                    show_key(&before),
                )?;
            }
            let again = format!("{what}, then the same call again");
            match &case.op {
                Step::Scan(start, end) => {
                    let got = tree.scan(start, end).map_err(|e| io_failure(&again, e))?;
                    let expected = run.model.scan(start, end);
                    if got != expected {
                        return fail(format!(
                            "did:      {again}\n{}",
                            entries_difference(&got, &expected)
                        ));
                    }
                }
                step => {
                    match step {
                        Step::Seek(key) => tree.seek(cursor, key),
                        Step::First => tree.first(cursor),
                        Step::Last => tree.last(cursor),
                        Step::Next => tree.next(cursor),
                        Step::Prev => tree.prev(cursor),
                        _ => Ok(()),
                    }
                    .map_err(|e| io_failure(&again, e))?;
                    let key = tree
                        .key(cursor)
                        .map_err(|e| io_failure(&format!("{again}, then key(Cursor)"), e))?;
                    expect_shown(
                        format!("{again}, then key(Cursor)"),
                        show_key(&key),
                        show_key(&case.after),
                    )?;
                }
            }
            n += 1;
        }
    }
    Ok(())
}
