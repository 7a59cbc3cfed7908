//! Hidden checks for btree/split.
//!
//! The checks read every page of the learner's file after every insert and decode it with their
//! own reader of the two layouts (the leaf's, the internal page's), then walk the tree from page
//! 1: keys sorted in every node, every leaf at the same depth, every page but the root filled
//! past its bound, separators bracketing their children, every page of the file reached once,
//! and the leaves, read left to right, holding exactly what a `BTreeMap` holds.

use std::collections::BTreeMap;
use std::fmt;
use std::io::ErrorKind;

use btree_split::{ENTRY_HEADER, INTERNAL_HEADER, INTERNAL_KIND, ROOT, Tree};
use judge::prelude::*;
use kit::fault::attempt;
use kit::sim::{Fault, OpKind, SimDisk};

use crate::support::{
    CELL_HEADER, LEAF_HEADER, LEAF_KIND, NAME, Node, SLOT, Script, bound, create_call, decode,
    insert_call, io_failure, max_cell, short, show_value,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "create makes page 1 an empty leaf (the file holds the header and page 1); an empty \
             tree has depth 1 and finds nothing",
            empty_tree,
        )
        .check(
            "random inserts in ascending, descending and random order against a BTreeMap, pages \
             of 512 bytes: after every insert, keys sorted in every node, every leaf at the same \
             depth, every page a split made filled past its bound (a leaf a third, an internal \
             page a quarter), separators bracketing their children, every page reached once, the leaves holding what the map holds, and get \
             finding every key with the value last inserted",
            matches_model,
        )
        .check(
            "the same, on pages of 1024 and 4096 bytes, with keys and values up to the biggest \
             cell a page takes",
            matches_model_big_cells,
        )
        .check(
            "every split is made where the README says, pages of 512 bytes: after every insert \
             each page holds exactly the keys and children that the README's rules (halves \
             closest in bytes, the smaller on a tie; the new page just after the one that split; \
             pages allocated right half first, then the root's left half) put there; an \
             internal page filled to its last byte does not split",
            splits_as_the_readme_says,
        )
        .check(
            "scripted, 4096-byte pages and cells of 1 KiB in ascending order: an internal page \
             of more than 255 keys (its count using both bytes) is read back right, and every \
             page holds what the README's rules put there",
            wide_internal_page,
        )
        .check(
            "scripted: the first root split leaves page 1 an internal page over two leaves, the \
             left half moved to page 3 and the right half on page 2, the separator the first \
             key of the right half; the tree reads the same after a flush and an open",
            first_root_split,
        )
        .check(
            "scripted, 120 ascending keys on 512-byte pages: page 1 and its children are laid \
             out byte for byte as the README says, each split at the point that makes its halves \
             closest in bytes",
            golden_internal_pages,
        )
        .check(
            "a get on a tree just opened (nothing cached) reads exactly one page per level, for \
             keys held, separators, keys below the first and above the last, and keys not held",
            one_read_per_level,
        )
        .check(
            "a cell bigger than max_cell is InvalidInput and leaves every page as it was; one of \
             exactly max_cell (and an empty key and value) is taken, on pages of 512, 4096 and \
             65536 bytes",
            cell_sizes,
        )
        .check(
            "a read that fails at any level makes get and insert return the error (never None, \
             never a panic) and leaves the tree as it was: the same call made again works",
            failed_reads,
        )
}

// ---------------------------------------------------------------------------------------------
// Saying what was done.

// ---------------------------------------------------------------------------------------------
// Reading the pages as the README lays them out.

/// What a walk of the tree found.
struct Walk {
    depth: usize,
    /// Every entry of every leaf, left to right.
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    /// The separators of the internal pages.
    separators: Vec<Vec<u8>>,
}

/// Walks the tree from page 1 through `pages` (every page of the file, by number), holding it to
/// every invariant; the error says which broke, where.
///
/// A leaf's fill is held to its bound only where `just_split` says the page is a half of a split
/// made by the last insert: a replacement by a shorter value shrinks a leaf, and nothing merges
/// leaves before deletes do.
fn walk(
    pages: &BTreeMap<u32, Vec<u8>>,
    page_size: usize,
    just_split: &dyn Fn(u32) -> bool,
) -> Result<Walk, String> {
    let mut walk = Walk {
        depth: 0,
        entries: Vec::new(),
        separators: Vec::new(),
    };
    let mut reached = BTreeMap::new();
    let tree = Pages {
        pages,
        page_size,
        just_split,
    };
    visit(&tree, ROOT, 1, (None, None), &mut reached, &mut walk)?;
    if let Some(page) = pages.keys().find(|page| !reached.contains_key(*page)) {
        return Err(format!(
            "page {page} is in the file but no internal page points at it: every page but the \
             header belongs to the tree, whose root is page 1"
        ));
    }
    Ok(walk)
}

struct Pages<'a> {
    pages: &'a BTreeMap<u32, Vec<u8>>,
    page_size: usize,
    just_split: &'a dyn Fn(u32) -> bool,
}

fn visit(
    tree: &Pages,
    page: u32,
    level: usize,
    (low, high): (Option<&[u8]>, Option<&[u8]>),
    reached: &mut BTreeMap<u32, usize>,
    walk: &mut Walk,
) -> Result<(), String> {
    let (pages, page_size) = (tree.pages, tree.page_size);
    let Some(bytes) = pages.get(&page) else {
        return Err(format!(
            "an internal page points at page {page}, which is not a page of the tree (the file \
             holds pages 1 to {})",
            pages.len()
        ));
    };
    if reached.insert(page, level).is_some() {
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
                 it: the separators must bracket the keys of their children (a key equal to a \
                 separator is found to its right)",
                short(key),
                bound(low, high)
            ));
        }
    }
    let root = page == ROOT;
    match node {
        Node::Leaf { entries, used } => {
            let usable = page_size - LEAF_HEADER;
            if !root && (tree.just_split)(page) && used * 3 < usable {
                return Err(format!(
                    "page {page}, a leaf just made by a split, holds {} keys in {used} bytes of \
                     cells and slots: below a third of its {usable} usable bytes (a split \
                     leaves each half about half the bytes)",
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
                return Err(format!("page {page} is an internal page with no key"));
            }
            if !root && used * 4 < usable {
                return Err(format!(
                    "page {page}, an internal page but not the root, holds {} keys in {used} \
                     bytes of entries: below a quarter of its {usable} usable bytes",
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
                    tree,
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
// The README's splits, as a model of every page.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Leaf(Vec<(Vec<u8>, Vec<u8>)>),
    Internal(Vec<Vec<u8>>, Vec<u32>),
}

/// The tree the README's rules build, page by page: `pages[n - 1]` is page `n`.
struct Model {
    page_size: usize,
    pages: Vec<Shape>,
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

impl Model {
    fn new(page_size: usize) -> Model {
        Model {
            page_size,
            pages: vec![Shape::Leaf(Vec::new())],
        }
    }

    fn allocate(&mut self, shape: Shape) -> u32 {
        self.pages.push(shape);
        self.pages.len() as u32
    }

    fn insert(&mut self, key: &[u8], value: &[u8]) {
        if let Some((separator, right)) = self.insert_into(ROOT, key, value) {
            let left = self.allocate(self.pages[0].clone());
            self.pages[0] = Shape::Internal(vec![separator], vec![left, right]);
        }
    }

    fn insert_into(&mut self, page: u32, key: &[u8], value: &[u8]) -> Option<(Vec<u8>, u32)> {
        let at = page as usize - 1;
        match self.pages[at].clone() {
            Shape::Leaf(mut entries) => {
                match entries.binary_search_by(|(k, _)| k.as_slice().cmp(key)) {
                    Ok(i) => entries[i].1 = value.to_vec(),
                    Err(i) => entries.insert(i, (key.to_vec(), value.to_vec())),
                }
                let sizes: Vec<usize> = entries
                    .iter()
                    .map(|(k, v)| CELL_HEADER + k.len() + v.len() + SLOT)
                    .collect();
                let total: usize = sizes.iter().sum();
                if total <= self.page_size - LEAF_HEADER {
                    self.pages[at] = Shape::Leaf(entries);
                    return None;
                }
                let split = closest(1..sizes.len(), |i| {
                    (2 * sizes[..i].iter().sum::<usize>()).abs_diff(total)
                });
                let right = entries.split_off(split);
                let separator = right[0].0.clone();
                self.pages[at] = Shape::Leaf(entries);
                Some((separator, self.allocate(Shape::Leaf(right))))
            }
            Shape::Internal(mut keys, mut children) => {
                let i = keys.partition_point(|k| k.as_slice() <= key);
                let (separator, new_page) = self.insert_into(children[i], key, value)?;
                keys.insert(i, separator);
                children.insert(i + 1, new_page);
                let sizes: Vec<usize> = keys.iter().map(|k| ENTRY_HEADER + k.len()).collect();
                let total: usize = sizes.iter().sum();
                if INTERNAL_HEADER + total <= self.page_size {
                    self.pages[at] = Shape::Internal(keys, children);
                    return None;
                }
                let m = closest(1..sizes.len() - 1, |m| {
                    let left: usize = sizes[..m].iter().sum();
                    left.abs_diff(total - left - sizes[m])
                });
                let right_keys = keys.split_off(m + 1);
                let right_children = children.split_off(m + 1);
                let up = keys.pop().expect("key m");
                self.pages[at] = Shape::Internal(keys, children);
                Some((
                    up,
                    self.allocate(Shape::Internal(right_keys, right_children)),
                ))
            }
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
    }
}

/// The first page the learner's file and the model disagree on, said.
fn shape_difference(pages: &BTreeMap<u32, Vec<u8>>, model: &Model) -> Option<String> {
    if pages.len() != model.pages.len() {
        return Some(format!(
            "{} pages after the header, where the README's splits make {}",
            pages.len(),
            model.pages.len()
        ));
    }
    for (i, expected) in model.pages.iter().enumerate() {
        let page = i as u32 + 1;
        let got = match decode(&pages[&page]) {
            Ok(Node::Leaf { entries, .. }) => Shape::Leaf(entries),
            Ok(Node::Internal { keys, children, .. }) => Shape::Internal(keys, children),
            Err(why) => return Some(format!("page {page} is {why}")),
        };
        if got != *expected {
            return Some(format!(
                "page {page} is {}; the README's splits make it {}",
                show_shape(&got),
                show_shape(expected)
            ));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Driving a tree against a map.

struct Run {
    disk: SimDisk,
    tree: Tree,
    page_size: usize,
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    script: Script,
    /// The pages as the last walk found them.
    before: BTreeMap<u32, Vec<u8>>,
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
            map: BTreeMap::new(),
            script,
            before: BTreeMap::new(),
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

    /// Walks the tree and holds it to every invariant and to the map.
    fn check_tree(&mut self) -> Result<Walk, Failure> {
        let pages = self.pages()?;
        let did = self.script.so_far();
        // The halves of a split: the pages changed or made by an insert that made pages.
        let grew = pages.len() > self.before.len();
        let before = &self.before;
        let just_split = |page: u32| grew && before.get(&page) != pages.get(&page);
        let walk = walk(&pages, self.page_size, &just_split).map_err(|why| {
            Failure::new(format!(
                "did:      {did}, then read every page\nexpected: a B+tree as the README lays it \
                 out\ngot:      {why}"
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
        let depth = self
            .tree
            .depth()
            .map_err(|e| io_failure(&format!("{did}, then depth()"), e))?;
        expect_eq(format!("{did}, then depth()"), depth, walk.depth)?;
        self.before = pages;
        Ok(walk)
    }

    fn expect_get(&mut self, key: &[u8]) -> CheckResult {
        let did = format!("{}, then get({})", self.script.so_far(), short(key));
        let got = self.tree.get(key).map_err(|e| io_failure(&did, e))?;
        let expected = self.map.get(key).cloned();
        expect_eq(did, show_value(&got), show_value(&expected))
    }
}

/// One insert of a random run.
#[derive(Clone)]
struct Insert {
    key: Vec<u8>,
    value: Vec<u8>,
}

impl fmt::Debug for Insert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", insert_call(&self.key, &self.value))
    }
}

#[derive(Clone, Copy, Debug)]
enum Order {
    Ascending,
    Descending,
    AsDrawn,
}

/// A key and a value whose cell is at most `max` bytes: small keys from a small alphabet often
/// (so that many are replaced), and now and then the biggest cell there is.
fn insert(max: usize) -> impl Strategy<Value = Insert> {
    let room = max - CELL_HEADER;
    let key = prop_oneof![
        3 => prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c']), 0..4),
        1 => prop::collection::vec(prop::sample::select(vec![0x00, 0x7F, 0x80, 0xFF]), 0..4),
        3 => prop::collection::vec(any::<u8>(), 1..16),
        1 => prop::collection::vec(any::<u8>(), 0..=room),
    ];
    key.prop_flat_map(move |key| {
        let left = room - key.len();
        let value = prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..=left.min(10)),
            1 => (0..=left).prop_map(|n| vec![b'v'; n]),
            1 => Just(vec![b'w'; left]),
        ];
        (Just(key), value)
    })
    .prop_map(|(key, value)| Insert { key, value })
}

fn inserts(max: usize, most: usize) -> impl Strategy<Value = Vec<Insert>> {
    (
        prop_oneof![
            Just(Order::AsDrawn),
            Just(Order::Ascending),
            Just(Order::Descending)
        ],
        prop::collection::vec(insert(max), 0..most),
    )
        .prop_map(|(order, mut inserts)| {
            match order {
                Order::AsDrawn => {}
                // A stable sort: replacements of a key keep their order.
                Order::Ascending => inserts.sort_by(|a, b| a.key.cmp(&b.key)),
                Order::Descending => inserts.sort_by(|a, b| b.key.cmp(&a.key)),
            }
            inserts
        })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Watch {
    Invariants,
    Splits,
}

fn run_inserts(seed: u64, page_size: usize, inserts: &[Insert], watch: Watch) -> CheckResult {
    let mut run = Run::new(seed, page_size, 8)?;
    let mut model = Model::new(page_size);
    for insert in inserts {
        run.insert(&insert.key, &insert.value)?;
        if watch == Watch::Splits {
            model.insert(&insert.key, &insert.value);
            let pages = run.pages()?;
            if let Some(difference) = shape_difference(&pages, &model) {
                return fail(format!(
                    "did:      {}, then read every page\nexpected: the pages the README's \
                     splits make\ngot:      {difference}",
                    run.script.so_far()
                ));
            }
            continue;
        }
        run.check_tree()?;
        run.expect_get(&insert.key)?;
        // A key next to it, held or not.
        let mut next = insert.key.clone();
        next.push(0);
        run.expect_get(&next)?;
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
        &["inserts"],
        48,
        (inserts(max_cell(512), 160),),
        |(inserts,)| run_inserts(seed, 512, &inserts, Watch::Invariants),
    )
}

fn matches_model_big_cells(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.forall_named(
        &["page size", "inserts"],
        12,
        prop_oneof![Just(1024usize), Just(4096)].prop_flat_map(|size| {
            let big = (max_cell(size) / 2..=max_cell(size)).prop_flat_map(move |len| {
                (1..=len - CELL_HEADER).prop_map(move |key_len| Insert {
                    key: (0..key_len).map(|i| (i * 7 + len) as u8).collect(),
                    value: vec![b'v'; len - CELL_HEADER - key_len],
                })
            });
            let one = prop_oneof![insert(max_cell(size)), big];
            (Just(size), prop::collection::vec(one, 0..60).prop_shuffle())
        }),
        |(size, inserts)| run_inserts(seed, size, &inserts, Watch::Invariants),
    )
}

fn splits_as_the_readme_says(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    // Keys of 36 bytes: separators of 36, internal entries of 42, and twelve of them fill an
    // internal page of 512 bytes to its last byte (8 + 12 * 42), which must not split.
    let exact: Vec<Insert> = (0..100)
        .map(|i| Insert {
            key: format!("{i:03}-{}", "x".repeat(32)).into_bytes(),
            value: Vec::new(),
        })
        .collect();
    run_inserts(seed, 512, &exact, Watch::Splits)?;
    // Keys of 39 bytes: internal entries of 45, eleven to a page; the twelfth splits it, and
    // with twelve equal keys, sending up key 5 or key 6 leaves halves 45 bytes apart either
    // way: the tie goes to key 5.
    let tie: Vec<Insert> = (0..100)
        .map(|i| Insert {
            key: format!("{i:03}-{}", "y".repeat(35)).into_bytes(),
            value: Vec::new(),
        })
        .collect();
    run_inserts(seed, 512, &tie, Watch::Splits)?;
    // Ascending keys of lengths from 20 to 48 bytes in a fixed jumble: internal pages whose
    // halves can only be nearly even, where a count off by a byte picks another key to send up.
    let uneven: Vec<Insert> = (0..100)
        .map(|i| Insert {
            key: format!("{i:03}-{}", "z".repeat(16 + i * 8 % 29)).into_bytes(),
            value: Vec::new(),
        })
        .collect();
    run_inserts(seed, 512, &uneven, Watch::Splits)?;
    ctx.forall_named(
        &["inserts"],
        24,
        (inserts(max_cell(512), 160),),
        |(inserts,)| run_inserts(seed, 512, &inserts, Watch::Splits),
    )?;
    // Long keys of every length make internal pages of few keys, of every size, that split
    // often.
    let long = (
        prop::collection::vec(any::<u8>(), 20..80),
        prop::collection::vec(any::<u8>(), 0..8),
    )
        .prop_map(|(key, value)| Insert { key, value });
    ctx.forall_named(
        &["inserts"],
        10,
        (prop::collection::vec(long, 60..200),),
        |(inserts,)| run_inserts(seed, 512, &inserts, Watch::Splits),
    )
}

fn wide_internal_page(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), 4096, 16)?;
    let mut model = Model::new(4096);
    // Cells of max_cell(4096) = 1019 bytes: four to a leaf, split 2 | 3, so every two inserts
    // make a leaf; internal entries of 6 + 8 bytes, 292 to a page.
    let value = vec![b'v'; max_cell(4096) - CELL_HEADER - 8];
    for i in 0..560 {
        let key = format!("k{i:07}").into_bytes();
        let did = run
            .script
            .did(format!("insert({}, {} bytes)", short(&key), value.len()));
        run.tree
            .insert(&key, &value)
            .map_err(|e| io_failure(&did, e))?;
        run.map.insert(key.clone(), value.clone());
        model.insert(&key, &value);
    }
    let pages = run.pages()?;
    if let Some(difference) = shape_difference(&pages, &model) {
        return fail(format!(
            "did:      {}, then read every page\nexpected: the pages the README's splits make\n\
             got:      {difference}",
            run.script.so_far()
        ));
    }
    let keys: Vec<Vec<u8>> = run.map.keys().cloned().collect();
    for key in keys {
        run.expect_get(&key)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Scripted checks.

fn empty_tree(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), 512, 4)?;
    let did = run.script.so_far();
    expect_eq(
        format!("{did}, then page_count()"),
        run.tree.page_count(),
        2,
    )?;
    let page = run
        .tree
        .page(ROOT)
        .map_err(|e| io_failure(&format!("{did}, then page(1)"), e))?;
    let mut empty = vec![0u8; 512];
    empty[0] = LEAF_KIND;
    empty[4..8].copy_from_slice(&512u32.to_be_bytes());
    expect(
        page == empty,
        format!(
            "did:      {did}, then page(1)\nexpected: an empty leaf, 0d 00 00 00 00 00 02 00 \
             then zeros\ngot:      {:02x?}...",
            &page[..16]
        ),
    )?;
    run.check_tree()?;
    for key in [&b""[..], b"a", b"\xff"] {
        run.expect_get(key)?;
    }
    Ok(())
}

/// The `i`th key of a scripted run, `"key000"` on, with a value of `value_len` bytes.
fn ascending(i: usize, value_len: usize) -> (Vec<u8>, Vec<u8>) {
    (
        format!("key{i:03}").into_bytes(),
        vec![b'a' + (i % 26) as u8; value_len],
    )
}

fn first_root_split(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), 512, 8)?;
    // Cells of 4 + 6 + 40 bytes and their slots: 52 bytes, 9 to a leaf of 500 usable bytes.
    for i in 0..40 {
        let (key, value) = ascending(i, 40);
        run.insert(&key, &value)?;
        let walk = run.check_tree()?;
        if walk.depth == 1 {
            continue;
        }
        let did = run.script.so_far();
        expect_eq(
            format!("{did}, the first insert that split the root, then page_count()"),
            run.tree.page_count(),
            4,
        )?;
        let root = run
            .tree
            .page(ROOT)
            .map_err(|e| io_failure(&format!("{did}, then page(1)"), e))?;
        let Ok(Node::Internal { keys, children, .. }) = decode(&root) else {
            return fail(format!(
                "did:      {did}\nexpected: page 1 an internal page\ngot:      {:02x?}...",
                &root[..8]
            ));
        };
        let right = run
            .tree
            .page(2)
            .map_err(|e| io_failure(&format!("{did}, then page(2)"), e))?;
        let first_right = match decode(&right) {
            Ok(Node::Leaf { entries, .. }) => entries.first().map(|(k, _)| k.clone()),
            _ => None,
        };
        expect_eq(
            format!(
                "{did}, the first insert that split the root, then read page 1's children and \
                 separator"
            ),
            (
                children.clone(),
                keys.iter().map(|k| short(k)).collect::<Vec<_>>(),
            ),
            (
                vec![3, 2],
                first_right.iter().map(|k| short(k)).collect::<Vec<_>>(),
            ),
        )?;
        run.tree
            .flush()
            .map_err(|e| io_failure(&format!("{did}, then flush()"), e))?;
        run.tree = Tree::open(&*run.disk.dir(), NAME, 8).map_err(|e| {
            io_failure(
                &format!("{did}, flush(), then Tree::open(dir, {NAME:?}, 8)"),
                e,
            )
        })?;
        run.script
            .did(format!("flush(), Tree::open(dir, {NAME:?}, 8)"));
        run.check_tree()?;
        for j in 0..=i + 1 {
            run.expect_get(&ascending(j, 40).0)?;
        }
        return Ok(());
    }
    fail(format!(
        "did:      {}\nexpected: the root split by now (40 cells of 52 bytes in 500 usable bytes)\n\
         got:      a tree of depth 1",
        run.script.so_far()
    ))
}

/// An internal page laid out as the README says.
fn internal_page(page_size: usize, keys: &[&[u8]], children: &[u32]) -> Vec<u8> {
    let mut page = vec![0u8; page_size];
    page[0] = INTERNAL_KIND;
    page[2..4].copy_from_slice(&(keys.len() as u16).to_be_bytes());
    page[4..8].copy_from_slice(&children[keys.len()].to_be_bytes());
    let mut at = INTERNAL_HEADER;
    for (key, child) in keys.iter().zip(children) {
        page[at..at + 4].copy_from_slice(&child.to_be_bytes());
        page[at + 4..at + 6].copy_from_slice(&(key.len() as u16).to_be_bytes());
        page[at + 6..at + 6 + key.len()].copy_from_slice(key);
        at += ENTRY_HEADER + key.len();
    }
    page
}

fn hex_difference(got: &[u8], expected: &[u8]) -> String {
    match got.iter().zip(expected).position(|(a, b)| a != b) {
        None => format!("{} bytes, not {}", got.len(), expected.len()),
        Some(at) => {
            let from = at.saturating_sub(8);
            let to = (at + 8).min(got.len()).min(expected.len());
            format!(
                "byte {at} differs: bytes {from}..{to} are {:02x?}, the README's {:02x?}",
                &got[from..to],
                &expected[from..to]
            )
        }
    }
}

fn golden_internal_pages(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), 512, 8)?;
    // Keys of 19 bytes and values of 60: cells and slots of 85 bytes, five to a leaf (425 of
    // its 500 usable bytes), the sixth splitting it 3 | 3. Internal entries of 6 + 19 = 25
    // bytes, 20 to a page (500 of 504), the 21st splitting it 10 | up | 10. So page 1 ends over
    // two internal pages made by splits and a third, each over leaves of three keys.
    let entry = |i: usize| {
        (
            format!("key-{i:03}-padding-pad").into_bytes(),
            vec![b'a' + (i % 26) as u8; 60],
        )
    };
    for i in 0..120 {
        let (key, value) = entry(i);
        run.insert(&key, &value)?;
    }
    run.check_tree()?;
    let did = format!(
        "{create}, then insert(\"key-000-padding-pad\", 60 bytes) ... insert(\"key-119-padding-pad\", \
         60 bytes) in order, then page(n)",
        create = create_call(512, 8)
    );
    for (page, keys, children) in GOLDEN {
        let got = run
            .tree
            .page(page)
            .map_err(|e| io_failure(&format!("{did} for n = {page}"), e))?;
        let want = internal_page(512, keys, children);
        if got != want {
            let keys: Vec<String> = keys.iter().map(|k| short(k)).collect();
            return fail(format!(
                "did:      {did} for n = {page}\nexpected: an internal page with keys {keys:?} \
                 and children {children:?}\ngot:      {}",
                match decode(&got) {
                    Ok(Node::Internal { keys, children, .. }) => format!(
                        "an internal page with keys {:?} and children {children:?}; {}",
                        keys.iter().map(|k| short(k)).collect::<Vec<_>>(),
                        hex_difference(&got, &want)
                    ),
                    Ok(Node::Leaf { .. }) => "a leaf".into(),
                    Err(why) => why,
                }
            ));
        }
    }
    Ok(())
}

/// A page number, and the keys and children the README's rules put there.
type Golden = (u32, &'static [&'static [u8]], &'static [u32]);

const GOLDEN: [Golden; 3] = [
    (
        1,
        &[b"key-033-padding-pad", b"key-066-padding-pad"],
        &[25, 24, 37],
    ),
    (
        25,
        &[
            b"key-003-padding-pad",
            b"key-006-padding-pad",
            b"key-009-padding-pad",
            b"key-012-padding-pad",
            b"key-015-padding-pad",
            b"key-018-padding-pad",
            b"key-021-padding-pad",
            b"key-024-padding-pad",
            b"key-027-padding-pad",
            b"key-030-padding-pad",
        ],
        &[3, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    ),
    (
        24,
        &[
            b"key-036-padding-pad",
            b"key-039-padding-pad",
            b"key-042-padding-pad",
            b"key-045-padding-pad",
            b"key-048-padding-pad",
            b"key-051-padding-pad",
            b"key-054-padding-pad",
            b"key-057-padding-pad",
            b"key-060-padding-pad",
            b"key-063-padding-pad",
        ],
        &[13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23],
    ),
];

fn one_read_per_level(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), 512, 16)?;
    // 900 keys of 40 bytes in random order: cells and slots of 46 bytes, up to 10 to a leaf;
    // internal entries of 46 bytes, up to 10 to a page: a tree of depth 3 or 4.
    let mut order: Vec<usize> = (0..900).collect();
    let mut rng = ctx.rng();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    for &i in &order {
        let key = format!("{i:05}-{}", "k".repeat(34)).into_bytes();
        let did = run.script.did(insert_call(&key, b""));
        run.tree
            .insert(&key, b"")
            .map_err(|e| io_failure(&did, e))?;
        run.map.insert(key, Vec::new());
    }
    let walk = run.check_tree()?;
    run.tree
        .flush()
        .map_err(|e| io_failure(&format!("{}, then flush()", run.script.so_far()), e))?;
    let first = run.map.keys().next().cloned().unwrap();
    let last = run.map.keys().next_back().cloned().unwrap();
    let mut probes = vec![
        first.clone(),
        last.clone(),
        Vec::new(),
        vec![0xFF],
        [&last[..], &[0]].concat(),
        first[..first.len() - 1].to_vec(),
    ];
    probes.extend(walk.separators.iter().take(6).cloned());
    probes.extend(walk.separators.iter().rev().take(3).cloned());
    probes.extend(
        walk.separators
            .iter()
            .take(3)
            .map(|k| [&k[..], &[0]].concat()),
    );
    let did = format!(
        "{} inserts of 40-byte keys in random order (a tree of depth {}), flush()",
        run.map.len(),
        walk.depth
    );
    for key in probes {
        let dir = run.disk.dir();
        let mut tree =
            Tree::open(&*dir, NAME, 16).map_err(|e| io_failure(&format!("{did}, open"), e))?;
        let before = run.disk.stats();
        let call = format!(
            "{did}, Tree::open(dir, {NAME:?}, 16), then get({})",
            short(&key)
        );
        let got = tree.get(&key).map_err(|e| io_failure(&call, e))?;
        let after = run.disk.stats();
        expect_eq(
            call.clone(),
            show_value(&got),
            show_value(&run.map.get(&key).cloned()),
        )?;
        expect_eq(
            format!(
                "{call}: pages read from the disk (one per level, the root's included, on a \
                 tree of depth {})",
                walk.depth
            ),
            after.reads - before.reads,
            walk.depth as u64,
        )?;
    }
    Ok(())
}

fn cell_sizes(ctx: &mut Ctx) -> CheckResult {
    for size in [512usize, 4096, 65536] {
        let mut run = Run::new(ctx.seed(), size, 8)?;
        let max = max_cell(size);
        // Fill a little first, so that the page a refused insert must leave alone holds cells.
        for i in 0..3 {
            run.insert(format!("k{i}").as_bytes(), b"v")?;
        }
        let before = run.pages()?;
        for (key_len, value_len) in [
            (max - CELL_HEADER + 1, 0),
            (0, max - CELL_HEADER + 1),
            (10, max),
        ] {
            let key = vec![b'k'; key_len];
            let value = vec![b'v'; value_len];
            let did = run.script.so_far() + ", " + &insert_call(&key, &value);
            let got = attempt(|| run.tree.insert(&key, &value));
            match got {
                Err(e) if e.kind() == ErrorKind::InvalidInput => {}
                other => {
                    return fail(format!(
                        "did:      {did}\nexpected: Err(InvalidInput): a cell of {} bytes, \
                         max_cell({size}) being {max}\ngot:      {}",
                        CELL_HEADER + key_len + value_len,
                        match other {
                            Ok(old) => format!("Ok({})", show_value(&old)),
                            Err(e) => format!("Err({:?}): {e}", e.kind()),
                        }
                    ));
                }
            }
            let after = run.pages()?;
            expect(
                after == before,
                format!(
                    "did:      {did}, which failed as it should\nexpected: every page as it \
                     was\ngot:      a page changed"
                ),
            )?;
        }
        for (key_len, value_len) in [(max - CELL_HEADER, 0), (0, max - CELL_HEADER), (0, 0)] {
            let key = vec![b'm'; key_len];
            let value = vec![b'x'; value_len];
            run.insert(&key, &value)?;
            run.check_tree()?;
            run.expect_get(&key)?;
        }
    }
    Ok(())
}

fn failed_reads(ctx: &mut Ctx) -> CheckResult {
    let mut run = Run::new(ctx.seed(), 512, 16)?;
    for i in 0..300 {
        let (key, value) = ascending(i * 7 % 300, 20);
        run.insert(&key, &value)?;
    }
    let walk = run.check_tree()?;
    run.tree
        .flush()
        .map_err(|e| io_failure(&format!("{}, then flush()", run.script.so_far()), e))?;
    let pages = run.pages()?;
    let did = format!(
        "300 inserts (a tree of depth {}), flush(), Tree::open(dir, {NAME:?}, 16)",
        walk.depth
    );
    let key = ascending(150, 20).0;
    // The pages from the root to the key's leaf.
    let mut path = vec![ROOT];
    while let Ok(Node::Internal { keys, children, .. }) = decode(&pages[path.last().unwrap()]) {
        let at = keys.partition_point(|k| k.as_slice() <= key.as_slice());
        path.push(children[at]);
    }
    for (call, inserting) in [("get", false), ("insert", true)] {
        for level in 0..path.len() {
            let dir = run.disk.dir();
            let mut tree = Tree::open(&*dir, NAME, 16).map_err(|e| io_failure(&did, e))?;
            // Warm the cache with the pages above the level that fails.
            for &page in &path[..level] {
                tree.page(page)
                    .map_err(|e| io_failure(&format!("{did}, page({page})"), e))?;
            }
            run.disk.fail_next(OpKind::Read, Fault::IoError);
            let shown = match inserting {
                true => insert_call(&key, b"new"),
                false => format!("get({})", short(&key)),
            };
            let what = format!(
                "{did}, {call} of a key whose path is pages {path:?}, the read of page {} (level \
                 {}) failing: {shown}",
                path[level],
                level + 1
            );
            let got = attempt(|| match inserting {
                true => tree.insert(&key, b"new"),
                false => tree.get(&key),
            });
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
            expect(
                after == pages,
                format!(
                    "did:      {what}, which failed as it should, then pages()\nexpected: every \
                     page as it was\ngot:      a page changed"
                ),
            )?;
            let again = tree
                .get(&key)
                .map_err(|e| io_failure(&format!("{what}, then get again"), e))?;
            expect_eq(
                format!("{what}, then get({}) again", short(&key)),
                show_value(&again),
                show_value(&run.map.get(&key).cloned()),
            )?;
        }
    }
    Ok(())
}
