//! Hidden checks for btree/leaf.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, ErrorKind};

use btree_leaf::{CELL_HEADER, LEAF_HEADER, LEAF_KIND, Leaf, SLOT, max_cell};
use judge::prelude::*;
use kit::crash::show;
use kit::fault::attempt;

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "new makes an empty leaf byte for byte (kind 0x0D, no cells, the cell area starting \
             at the page's end, no fragments, zeros) for every page size from 512 to 65536; any \
             other size is InvalidInput",
            new_leaf,
        )
        .check(
            "insert and replace against a BTreeMap: get, search, entries, len and free_space \
             after every step; StorageFull exactly when the cell and its slot do not fit in the \
             free space, fragments included, and the page is then unchanged",
            matches_model,
        )
        .check(
            "the page is laid out byte for byte as the README says after every insert: the \
             header, the slots in key order, each new cell just below the cell area, a replaced \
             cell left as a fragment, the cells packed against the end only when the gap is too \
             small",
            layout_matches,
        )
        .check(
            "scripted, a page of 512 bytes: ten cells of 48 bytes and their slots fill it to \
             the last byte; a cell one byte too big for what is left is StorageFull, one that \
             fits exactly is taken; fragments left by replacements are used once the gap is too \
             small",
            fills_exactly,
        )
        .check(
            "keys are ordered as unsigned bytes, a key before every longer key it starts; search \
             finds every key held and the slot of every key not held (before the first, between \
             two, after the last; the empty key, 0x00 and 0xFF keys)",
            byte_order,
        )
        .check(
            "search answers right on a page of 8,190 keys as on one of 8: every key held, and \
             the slot of every key not held",
            search_on_full_pages,
        )
        .check(
            "a cell bigger than max_cell is InvalidInput and changes nothing; a cell of exactly \
             max_cell fits, and four of them fill an empty page to the last byte",
            cell_sizes,
        )
        .check(
            "from_bytes reads pages written by hand as the README lays them out (big-endian, \
             cells anywhere in the cell area, fragments between them; an empty leaf; a full one \
             whose last cell is a bare header at the page's end) and inserts into one",
            reads_a_handmade_page,
        )
        .check(
            "from_bytes refuses a broken page with InvalidData, never a panic: a wrong length or \
             kind, a count whose slots run into the cells, a cell area out of the page, a slot \
             outside the cells, a cell past the end, keys out of order or repeated, fragments \
             that do not add up",
            refuses_broken_pages,
        )
}

// ---------------------------------------------------------------------------------------------
// The reference layout.

/// A leaf as the README lays it out, kept as its entries (in key order, each with its cell's
/// offset) and the page image they are written into.
#[derive(Clone)]
struct Model {
    size: usize,
    entries: Vec<(Vec<u8>, Vec<u8>, usize)>,
    start: usize,
    fragmented: usize,
    image: Vec<u8>,
}

fn cell(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(CELL_HEADER + key.len() + value.len());
    out.extend((key.len() as u16).to_be_bytes());
    out.extend((value.len() as u16).to_be_bytes());
    out.extend(key);
    out.extend(value);
    out
}

impl Model {
    fn new(size: usize) -> Model {
        let mut model = Model {
            size,
            entries: Vec::new(),
            start: size,
            fragmented: 0,
            image: vec![0; size],
        };
        model.render();
        model
    }

    fn free(&self) -> usize {
        self.start - (LEAF_HEADER + SLOT * self.entries.len()) + self.fragmented
    }

    fn search(&self, key: &[u8]) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(k, _, _)| k.as_slice().cmp(key))
    }

    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, ErrorKind> {
        let bytes = cell(key, value);
        if bytes.len() > max_cell(self.size) {
            return Err(ErrorKind::InvalidInput);
        }
        let found = self.search(key);
        let freed = match found {
            Ok(slot) => {
                CELL_HEADER + self.entries[slot].0.len() + self.entries[slot].1.len() + SLOT
            }
            Err(_) => 0,
        };
        if bytes.len() + SLOT > self.free() + freed {
            return Err(ErrorKind::StorageFull);
        }
        let (slot, old) = match found {
            Ok(slot) => {
                let (k, v, _) = self.entries.remove(slot);
                self.fragmented += CELL_HEADER + k.len() + v.len();
                (slot, Some(v))
            }
            Err(slot) => (slot, None),
        };
        if self.start < LEAF_HEADER + SLOT * (self.entries.len() + 1) + bytes.len() {
            self.defragment();
        }
        let at = self.start - bytes.len();
        self.image[at..at + bytes.len()].copy_from_slice(&bytes);
        self.start = at;
        self.entries
            .insert(slot, (key.to_vec(), value.to_vec(), at));
        self.render();
        Ok(old)
    }

    fn defragment(&mut self) {
        let mut at = self.size;
        for (key, value, offset) in &mut self.entries {
            let bytes = cell(key, value);
            at -= bytes.len();
            self.image[at..at + bytes.len()].copy_from_slice(&bytes);
            *offset = at;
        }
        self.start = at;
        self.fragmented = 0;
    }

    /// Writes the header and the slots into the image.
    fn render(&mut self) {
        let image = &mut self.image;
        image[0] = LEAF_KIND;
        image[1] = 0;
        image[2..4].copy_from_slice(&(self.entries.len() as u16).to_be_bytes());
        image[4..8].copy_from_slice(&(self.start as u32).to_be_bytes());
        image[8..12].copy_from_slice(&(self.fragmented as u32).to_be_bytes());
        for (i, (_, _, at)) in self.entries.iter().enumerate() {
            let slot = LEAF_HEADER + SLOT * i;
            image[slot..slot + 2].copy_from_slice(&(*at as u16).to_be_bytes());
        }
    }
}

/// Says where a page differs from the model's, in the bytes the README fixes: the header's
/// fields, the slots, the cells. Bytes in the gap and in fragments may hold anything.
fn layout_difference(got: &[u8], model: &Model) -> Option<String> {
    let expected = &model.image;
    if got.len() != expected.len() {
        return Some(format!(
            "a page of {} bytes (expected {})",
            got.len(),
            expected.len()
        ));
    }
    let fields: [(&str, usize, usize); 5] = [
        ("the kind byte", 0, 1),
        ("the zero byte after the kind", 1, 2),
        ("the cell count", 2, 4),
        ("the start of the cell area", 4, 8),
        ("the fragmented bytes", 8, 12),
    ];
    for (name, from, to) in fields {
        if got[from..to] != expected[from..to] {
            return Some(format!(
                "{name} (bytes {from}..{to}): expected {}, got {}",
                hex(&expected[from..to]),
                hex(&got[from..to])
            ));
        }
    }
    for (i, (key, _, at)) in model.entries.iter().enumerate() {
        let slot = LEAF_HEADER + SLOT * i;
        if got[slot..slot + 2] != expected[slot..slot + 2] {
            let found = u16::from_be_bytes([got[slot], got[slot + 1]]);
            return Some(format!(
                "slot {i} (bytes {slot}..{}), the slot of key {}: expected the offset {at} \
                 ({}), got {found} ({})",
                slot + 2,
                short(key),
                hex(&expected[slot..slot + 2]),
                hex(&got[slot..slot + 2])
            ));
        }
    }
    for (i, (key, value, at)) in model.entries.iter().enumerate() {
        let end = at + CELL_HEADER + key.len() + value.len();
        if got[*at..end] != expected[*at..end] {
            let first = (*at..end).find(|&j| got[j] != expected[j]).unwrap_or(*at);
            return Some(format!(
                "the cell of slot {i} at {at}..{end} (key {}): byte {first} is {:02x}, expected \
                 {:02x} (a cell is key length and value length, u16 big-endian, then the key, \
                 then the value)",
                short(key),
                got[first],
                expected[first]
            ));
        }
    }
    None
}

fn hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    shown.join(" ")
}

/// Bytes as `show` writes them, or their length and first bytes when they are long.
fn short(bytes: &[u8]) -> String {
    if bytes.len() <= 24 {
        show(bytes)
    } else {
        format!("<{} bytes: {}...>", bytes.len(), show(&bytes[..8]))
    }
}

// ---------------------------------------------------------------------------------------------
// Saying what was done.

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
        let skip = self.calls.len().saturating_sub(30);
        let mut shown = self.calls[skip..].join(", ");
        if skip > 0 {
            shown = format!("({skip} calls before) {shown}");
        }
        shown
    }
}

fn insert_call(key: &[u8], value: &[u8]) -> String {
    format!("insert({}, {})", short(key), short(value))
}

fn describe<T>(result: &io::Result<T>, shown: impl Fn(&T) -> String) -> String {
    match result {
        Ok(value) => format!("Ok({})", shown(value)),
        Err(error) => format!("Err({:?}): {error}", error.kind()),
    }
}

fn show_old(old: &Option<Vec<u8>>) -> String {
    match old {
        Some(value) => format!("Some({})", short(value)),
        None => "None".into(),
    }
}

fn show_entries(entries: &[(Vec<u8>, Vec<u8>)]) -> String {
    if entries.len() > 10 {
        return format!(
            "{} entries, from {} to {}",
            entries.len(),
            short(&entries[0].0),
            short(&entries[entries.len() - 1].0)
        );
    }
    let shown: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{} = {}", short(k), short(v)))
        .collect();
    format!("[{}]", shown.join(", "))
}

fn io_failure(did: &str, error: io::Error) -> Failure {
    Failure::new(format!(
        "did:      {did}\nexpected: success\ngot:      Err({:?}): {error}",
        error.kind()
    ))
}

// ---------------------------------------------------------------------------------------------
// Driving a leaf.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Watch {
    Answers,
    Layout,
}

struct Run {
    leaf: Leaf,
    /// What the leaf holds.
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Where the README puts every byte, and when a page is full.
    model: Model,
    script: Script,
    watch: Watch,
}

impl Run {
    fn new(size: usize, watch: Watch) -> Result<Run, Failure> {
        let script = Script::new(format!("Leaf::new({size})"));
        let leaf = Leaf::new(size).map_err(|e| io_failure(&script.so_far(), e))?;
        let run = Run {
            leaf,
            map: BTreeMap::new(),
            model: Model::new(size),
            script,
            watch,
        };
        run.expect_layout()?;
        Ok(run)
    }

    fn expect_layout(&self) -> CheckResult {
        if self.watch != Watch::Layout {
            return Ok(());
        }
        match layout_difference(self.leaf.bytes(), &self.model) {
            None => Ok(()),
            Some(difference) => fail(format!(
                "did:      {}, then looked at bytes()\nexpected: the page the README lays out\n\
                 got:      {difference}",
                self.script.so_far()
            )),
        }
    }

    fn insert(&mut self, key: &[u8], value: &[u8]) -> CheckResult {
        // The page before the call, fetched only when the model says the insert must fail:
        // a whole page crossing over on every step is slow for the biggest pages.
        let refused = self.model.clone().insert(key, value).is_err();
        let before = refused.then(|| self.leaf.bytes().to_vec());
        let free = self.model.free();
        let did = self.script.did(insert_call(key, value));
        let got = attempt(|| self.leaf.insert(key, value));
        let expected = self.model.insert(key, value);
        match (&got, &expected) {
            (Ok(got), Ok(expected)) if got == expected => {
                self.map.insert(key.to_vec(), value.to_vec());
            }
            (Err(error), Err(kind)) if error.kind() == *kind => {
                let unchanged = before.as_deref() == Some(self.leaf.bytes());
                expect(
                    unchanged,
                    format!(
                        "did:      {did}, which failed as it should\nexpected: the page as it \
                         was\ngot:      the page changed"
                    ),
                )?;
            }
            _ => {
                let need = CELL_HEADER + key.len() + value.len();
                let why = match expected {
                    Err(ErrorKind::StorageFull) => format!(
                        " (the cell takes {need} bytes and its slot 2; the free space is \
                         {free}{})",
                        match self.model.search(key) {
                            Ok(_) => ", and the cell it replaces frees its bytes and slot",
                            Err(_) => "",
                        }
                    ),
                    Ok(_) if self.watch == Watch::Answers => format!(
                        " (the cell takes {need} bytes and its slot 2; the free space was \
                         {free}, fragments included: pack the cells when the gap is too small)"
                    ),
                    Err(ErrorKind::InvalidInput) => format!(
                        " (a cell of {need} bytes; max_cell is {})",
                        max_cell(self.model.size)
                    ),
                    _ => String::new(),
                };
                let expected = match &expected {
                    Ok(old) => format!("Ok({})", show_old(old)),
                    Err(kind) => format!("Err({kind:?})"),
                };
                return fail(format!(
                    "did:      {did}\nexpected: {expected}{why}\ngot:      {}",
                    describe(&got, show_old)
                ));
            }
        }
        self.expect_layout()?;
        if self.watch == Watch::Answers {
            self.expect_answers(key)?;
        }
        Ok(())
    }

    /// Every answer the leaf gives about its contents, against the model's.
    fn expect_answers(&mut self, key: &[u8]) -> CheckResult {
        let did = self.script.so_far();
        let entries = self.leaf.entries();
        let expected: Vec<(Vec<u8>, Vec<u8>)> = self
            .map
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if entries != expected {
            return fail(format!(
                "did:      {did}, then entries()\nexpected: {}\ngot:      {}",
                show_entries(&expected),
                show_entries(&entries)
            ));
        }
        expect_eq(
            format!("{did}, then len()"),
            self.leaf.len(),
            expected.len(),
        )?;
        expect_eq(
            format!("{did}, then is_empty()"),
            self.leaf.is_empty(),
            expected.is_empty(),
        )?;
        expect_eq(
            format!("{did}, then free_space()"),
            self.leaf.free_space(),
            self.model.free(),
        )?;
        let mut probes = vec![key.to_vec(), [key, &[0]].concat()];
        if let Some((&last, rest)) = key.split_last()
            && last > 0
        {
            probes.push([rest, &[last - 1]].concat());
        }
        for probe in probes {
            // The slot of a key is the number of keys before it.
            let rank = self.map.keys().take_while(|k| **k < probe).count();
            let expected = match self.map.contains_key(&probe) {
                true => Ok(rank),
                false => Err(rank),
            };
            let got = self.leaf.search(&probe);
            expect_eq(
                format!("{did}, then search({})", short(&probe)),
                got,
                expected,
            )?;
            let got = self.leaf.get(&probe).map(short);
            let expected = self.map.get(&probe).map(|v| short(v));
            expect_eq(format!("{did}, then get({})", short(&probe)), got, expected)?;
        }
        Ok(())
    }
}

/// One insert of a random run: keys from a small alphabet, so that many are replaced.
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

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c']), 0..4),
        1 => prop::collection::vec(prop::sample::select(vec![0x00, 0x7F, 0x80, 0xFF]), 0..4),
        1 => prop::collection::vec(any::<u8>(), 0..40),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..12),
        2 => (0..130usize).prop_map(|n| vec![b'v'; n]),
        1 => (0..20_000usize).prop_map(|n| vec![b'w'; n]),
    ]
}

fn inserts() -> impl Strategy<Value = Vec<Insert>> {
    prop::collection::vec(
        (key(), value()).prop_map(|(key, value)| Insert { key, value }),
        0..60,
    )
}

fn page_size() -> impl Strategy<Value = usize> {
    prop_oneof![8 => Just(512usize), 3 => Just(1024), 2 => Just(4096), 1 => Just(65536)]
}

fn run_inserts(size: usize, inserts: &[Insert], watch: Watch) -> CheckResult {
    let mut run = Run::new(size, watch)?;
    for insert in inserts {
        run.insert(&insert.key, &insert.value)?;
    }
    Ok(())
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["page size", "inserts"],
        96,
        (page_size(), inserts()),
        |(size, inserts)| run_inserts(size, &inserts, Watch::Answers),
    )
}

fn layout_matches(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["page size", "inserts"],
        96,
        (page_size(), inserts()),
        |(size, inserts)| run_inserts(size, &inserts, Watch::Layout),
    )
}

// ---------------------------------------------------------------------------------------------
// Scripted checks.

fn new_leaf(_: &mut Ctx) -> CheckResult {
    for shift in 9..=16 {
        let size = 1usize << shift;
        let did = format!("Leaf::new({size})");
        let leaf = Leaf::new(size).map_err(|e| io_failure(&did, e))?;
        let mut expected = vec![0; size];
        expected[0] = LEAF_KIND;
        expected[4..8].copy_from_slice(&(size as u32).to_be_bytes());
        let got = leaf.bytes().to_vec();
        if got != expected {
            let model = Model::new(size);
            let difference = layout_difference(&got, &model).unwrap_or_else(|| {
                let at = got
                    .iter()
                    .zip(&expected)
                    .take_while(|(a, b)| a == b)
                    .count();
                format!("byte {at} is not zero")
            });
            return fail(format!(
                "did:      {did}, then bytes()\nexpected: an empty leaf: 0d 00, count 00 00, the \
                 cell area at {size} ({}), fragments 00 00 00 00, then zeros\ngot:      \
                 {difference}",
                hex(&(size as u32).to_be_bytes())
            ));
        }
        expect_eq(format!("{did}, then len()"), leaf.len(), 0)?;
        expect_eq(format!("{did}, then is_empty()"), leaf.is_empty(), true)?;
        expect_eq(
            format!("{did}, then free_space()"),
            leaf.free_space(),
            size - LEAF_HEADER,
        )?;
        expect_eq(
            format!("{did}, then search(\"a\")"),
            leaf.search(b"a"),
            Err(0),
        )?;
        expect_eq(
            format!("{did}, then get(\"\")"),
            leaf.get(b"").map(<[u8]>::to_vec),
            None,
        )?;
        expect_eq(format!("{did}, then entries()"), leaf.entries(), Vec::new())?;
    }
    for size in [
        0,
        1,
        256,
        511,
        513,
        1000,
        3 * 512,
        65535,
        65537,
        131072,
        usize::MAX,
    ] {
        let did = format!("Leaf::new({size})");
        let result = attempt(|| Leaf::new(size));
        match &result {
            Err(error) if error.kind() == ErrorKind::InvalidInput => {}
            _ => {
                return fail(format!(
                    "did:      {did}\nexpected: Err(InvalidInput)\ngot:      {}",
                    describe(&result, |_| "a leaf".into())
                ));
            }
        }
    }
    Ok(())
}

fn fills_exactly(_: &mut Ctx) -> CheckResult {
    let mut run = Run::new(512, Watch::Answers)?;
    let key = |i: usize| format!("k{i:02}").into_bytes();
    // A cell of 3 + 41 + 4 = 48 bytes, and its slot: 50 bytes each, 450 for nine of them.
    for i in 0..9 {
        run.insert(&key(i), &[b'v'; 41])?;
    }
    // 50 bytes are left: a cell of 49 and its slot do not fit, one of 48 does.
    run.insert(&key(9), &[b'v'; 42])?;
    run.insert(&key(9), &[b'v'; 41])?;
    run.insert(b"", b"")?;
    // A replacement of the same size fits in what it frees.
    run.insert(&key(0), &[b'w'; 41])?;
    // Four values shrunk to nothing: 4 * 41 bytes of fragments, and no gap.
    for i in 1..5 {
        run.insert(&key(i), b"")?;
    }
    // A new cell of 107 bytes and its slot fit only in the fragments: the cells are packed.
    run.insert(b"k10", &[b'x'; 100])?;
    run.insert(b"k11", &[b'x'; 50])?;
    Ok(())
}

fn byte_order(_: &mut Ctx) -> CheckResult {
    let keys: Vec<Vec<u8>> = vec![
        vec![0x80],
        Vec::new(),
        vec![0xFF, 0xFF],
        b"ab".to_vec(),
        vec![0x00],
        b"a".to_vec(),
        vec![0x7F],
        vec![0x00, 0x00],
        vec![0xFF],
        b"b".to_vec(),
        b"abc".to_vec(),
    ];
    let mut run = Run::new(4096, Watch::Answers)?;
    for (i, key) in keys.iter().enumerate() {
        run.insert(key, &[i as u8])?;
    }
    let mut probes = keys.clone();
    probes.extend([
        vec![0x00, 0x00, 0x00],
        vec![0x01],
        b"aa".to_vec(),
        b"abd".to_vec(),
        vec![0x80, 0x00],
        vec![0xFF, 0xFF, 0x00],
        vec![0xFE],
    ]);
    let did = run.script.so_far();
    for probe in probes {
        expect_eq(
            format!("{did}, then search({})", short(&probe)),
            run.leaf.search(&probe),
            run.model.search(&probe),
        )?;
    }
    Ok(())
}

fn cell_sizes(_: &mut Ctx) -> CheckResult {
    for size in [512, 4096, 65536] {
        let max = max_cell(size);
        let mut run = Run::new(size, Watch::Answers)?;
        // One byte too big, as a key, as a value, and split between them.
        let over = max - CELL_HEADER + 1;
        for (k, v) in [(0, over), (over, 0), (over / 2, over - over / 2)] {
            run.insert(&vec![b'k'; k], &vec![b'v'; v])?;
        }
        run.insert(&vec![0xFF; 2 * max], b"")?;
        let value = max - CELL_HEADER - 1;
        for key in [b"a", b"b", b"c", b"d"] {
            run.insert(key, &vec![b'x'; value])?;
        }
        let did = run.script.so_far();
        expect_eq(
            format!("{did}, then free_space()"),
            run.leaf.free_space(),
            (size - LEAF_HEADER) % 4,
        )?;
        run.insert(b"e", b"")?;
        // A replacement by a value of the same size fits in the bytes it frees.
        run.insert(b"b", &vec![b'y'; value])?;
        run.insert(b"b", b"")?;
        run.insert(b"c", &vec![b'z'; value])?;
    }
    Ok(())
}

/// A page written by the checks: `cells` at the offsets given, in the order of the keys, with
/// `fragmented` bytes of garbage between them.
fn handmade(
    size: usize,
    cells: &[(&[u8], &[u8], usize)],
    start: usize,
    fragmented: usize,
) -> Vec<u8> {
    let mut page = vec![0xEE; size];
    page[0] = LEAF_KIND;
    page[1] = 0;
    page[2..4].copy_from_slice(&(cells.len() as u16).to_be_bytes());
    page[4..8].copy_from_slice(&(start as u32).to_be_bytes());
    page[8..12].copy_from_slice(&(fragmented as u32).to_be_bytes());
    for (i, (key, value, at)) in cells.iter().enumerate() {
        let slot = LEAF_HEADER + SLOT * i;
        page[slot..slot + 2].copy_from_slice(&(*at as u16).to_be_bytes());
        let bytes = cell(key, value);
        page[*at..*at + bytes.len()].copy_from_slice(&bytes);
    }
    page
}

/// The cells of the handmade page: out of order in the cell area, with gaps (fragments).
fn handmade_cells() -> Vec<(&'static [u8], &'static [u8], usize)> {
    // "apple" = "red" is 12 bytes, "fig" = "" 7, "kiwi" = "green" 13.
    vec![
        (b"apple", b"red", 480),
        (b"fig", b"", 455),
        (b"kiwi", b"green", 439),
    ]
}

/// Two pages at the edges of the rules, both good: an empty leaf (its cell area starts at the
/// page's end), and a full one (the cells reach the end of the slots, the last cell ends at the
/// page's end and is only a header).
fn edge_pages() -> CheckResult {
    let values = [
        vec![b'a'; 117],
        vec![b'b'; 117],
        vec![b'c'; 116],
        vec![b'd'; 116],
    ];
    let full: Vec<(&[u8], &[u8], usize)> = vec![
        (b"", b"", 508),
        (b"a", &values[0], 386),
        (b"b", &values[1], 264),
        (b"c", &values[2], 143),
        (b"d", &values[3], 22),
    ];
    let pages = [
        (
            "an empty leaf written by hand",
            handmade(512, &[], 512, 0),
            Vec::new(),
        ),
        (
            "a full leaf written by hand: \"\" = \"\" at 508, then cells for \"a\" to \"d\" \
             packed down to 22, where the slots end",
            handmade(512, &full, 22, 0),
            full,
        ),
    ];
    for (what, page, cells) in pages {
        let did = format!("from_bytes({what})");
        let leaf = Leaf::from_bytes(page).map_err(|e| io_failure(&did, e))?;
        let expected: Vec<(Vec<u8>, Vec<u8>)> = cells
            .iter()
            .map(|(k, v, _)| (k.to_vec(), v.to_vec()))
            .collect();
        let got = leaf.entries();
        if got != expected {
            return fail(format!(
                "did:      {did}, then entries()\nexpected: {}\ngot:      {}",
                show_entries(&expected),
                show_entries(&got)
            ));
        }
        let free = if cells.is_empty() { 500 } else { 0 };
        expect_eq(format!("{did}, then free_space()"), leaf.free_space(), free)?;
    }
    Ok(())
}

fn reads_a_handmade_page(_: &mut Ctx) -> CheckResult {
    edge_pages()?;
    let size = 512;
    // 439..452 kiwi, 452..455 garbage, 455..462 fig, 462..480 garbage, 480..492 apple, 492..512
    // garbage: 3 + 18 + 20 = 41 bytes of fragments.
    let page = handmade(size, &handmade_cells(), 439, 41);
    let did = "from_bytes(a page written by hand: apple = red, fig = \"\", kiwi = green, in the \
               cell area from 439 with 41 bytes of fragments between the cells)";
    let mut leaf = Leaf::from_bytes(page.clone()).map_err(|e| io_failure(did, e))?;
    let expected: Vec<(Vec<u8>, Vec<u8>)> = handmade_cells()
        .iter()
        .map(|(k, v, _)| (k.to_vec(), v.to_vec()))
        .collect();
    let got = leaf.entries();
    if got != expected {
        return fail(format!(
            "did:      {did}, then entries()\nexpected: {}\ngot:      {}",
            show_entries(&expected),
            show_entries(&got)
        ));
    }
    expect_eq(
        format!("{did}, then get(\"fig\")"),
        leaf.get(b"fig").map(<[u8]>::to_vec),
        Some(Vec::new()),
    )?;
    expect_eq(
        format!("{did}, then search(\"grape\")"),
        leaf.search(b"grape"),
        Err(2),
    )?;
    expect_eq(
        format!("{did}, then bytes()"),
        hex(leaf.bytes()),
        hex(&page),
    )?;
    let free = 439 - (LEAF_HEADER + 3 * SLOT) + 41;
    expect_eq(format!("{did}, then free_space()"), leaf.free_space(), free)?;
    // The gap is 421 bytes: a cell of 100 goes below 439, at 339.
    let did = format!("{did}, insert(\"grape\", <91 bytes>)");
    let old = leaf
        .insert(b"grape", &[b'g'; 91])
        .map_err(|e| io_failure(&did, e))?;
    expect_eq(&did, show_old(&old), "None".into())?;
    let mut cells = handmade_cells();
    cells.insert(2, (b"grape", &[b'g'; 91], 339));
    let expected = handmade(size, &cells, 339, 41);
    let model = Model {
        size,
        entries: cells
            .iter()
            .map(|(k, v, at)| (k.to_vec(), v.to_vec(), *at))
            .collect(),
        start: 339,
        fragmented: 41,
        image: expected,
    };
    if let Some(difference) = layout_difference(leaf.bytes(), &model) {
        return fail(format!(
            "did:      {did}, then bytes()\nexpected: the new cell at 339, just below the cell \
             area, its slot between fig's and kiwi's\ngot:      {difference}"
        ));
    }
    Ok(())
}

fn refuses_broken_pages(_: &mut Ctx) -> CheckResult {
    let size = 512;
    let good = || handmade(size, &handmade_cells(), 439, 41);
    let with = |at: usize, bytes: &[u8]| {
        let mut page = good();
        page[at..at + bytes.len()].copy_from_slice(bytes);
        page
    };
    let cases: Vec<(String, Vec<u8>)> = vec![
        ("an empty page".into(), Vec::new()),
        ("a page of 511 bytes".into(), good()[..511].to_vec()),
        ("a page of 513 bytes".into(), [good(), vec![0]].concat()),
        ("a page of 512 zeros".into(), vec![0; size]),
        ("a page whose kind is 0x0A".into(), with(0, &[0x0A])),
        ("a page whose second byte is 1".into(), with(1, &[1])),
        (
            "a count of 250, whose slots run past the cell area's start".into(),
            with(2, &250u16.to_be_bytes()),
        ),
        ("a count of 0xFFFF".into(), with(2, &[0xFF, 0xFF])),
        (
            "a cell area starting at 513, past the page".into(),
            with(4, &513u32.to_be_bytes()),
        ),
        (
            "a cell area starting at u32::MAX".into(),
            with(4, &u32::MAX.to_be_bytes()),
        ),
        (
            "a cell area starting at 14, inside the slots".into(),
            with(4, &14u32.to_be_bytes()),
        ),
        (
            "slot 0 pointing at 400, before the cell area".into(),
            with(12, &400u16.to_be_bytes()),
        ),
        (
            "slot 2 pointing at 510, where a cell's header does not fit".into(),
            with(16, &510u16.to_be_bytes()),
        ),
        ("slot 2 pointing at 0xFFFF".into(), with(16, &[0xFF, 0xFF])),
        (
            "apple's value length 0x1000, running past the page".into(),
            with(482, &0x1000u16.to_be_bytes()),
        ),
        ("apple's key length 0xFFFF".into(), with(480, &[0xFF, 0xFF])),
        (
            "kiwi renamed \"dogs\": keys out of order".into(),
            with(443, b"dogs"),
        ),
        (
            "kiwi renamed \"figs\", then its key cut to \"fig\": a key twice".into(),
            {
                let mut page = with(439, &3u16.to_be_bytes());
                page[441..443].copy_from_slice(&6u16.to_be_bytes());
                page[443..446].copy_from_slice(b"fig");
                page
            },
        ),
        ("slots 0 and 1 swapped: keys out of order".into(), {
            let mut page = with(12, &455u16.to_be_bytes());
            page[14..16].copy_from_slice(&480u16.to_be_bytes());
            page
        }),
        (
            "an empty leaf whose cell area starts at 513".into(),
            handmade(size, &[], 513, 0),
        ),
        (
            "an empty leaf whose cell area starts at u32::MAX".into(),
            handmade(size, &[], u32::MAX as usize, 0),
        ),
        (
            "a cell area starting at 14, inside the slots, with fragments that add up (466)".into(),
            handmade(size, &handmade_cells(), 14, 466),
        ),
        (
            "40 bytes of fragments, where 41 are".into(),
            with(8, &40u32.to_be_bytes()),
        ),
        (
            "u32::MAX bytes of fragments".into(),
            with(8, &u32::MAX.to_be_bytes()),
        ),
    ];
    for (what, page) in cases {
        let did = format!("from_bytes({what})");
        let result = attempt(|| Leaf::from_bytes(page));
        match &result {
            Err(error) if error.kind() == ErrorKind::InvalidData => {}
            _ => {
                return fail(format!(
                    "did:      {did}\nexpected: Err(InvalidData)\ngot:      {}",
                    describe(&result, |leaf| format!(
                        "a leaf of {} entries",
                        leaf.entries().len()
                    ))
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Big pages.

/// A page of `count` keys (2 bytes each, big-endian `2 * i`, values empty), opened with
/// from_bytes.
fn page_of_keys(count: usize) -> Result<Leaf, Failure> {
    let size = 65536;
    let keys: Vec<[u8; 2]> = (0..count).map(|i| ((2 * i) as u16).to_be_bytes()).collect();
    let mut cells: Vec<(&[u8], &[u8], usize)> = Vec::new();
    let mut at = size;
    for key in &keys {
        at -= CELL_HEADER + 2;
        cells.push((key, b"", at));
    }
    let page = handmade(size, &cells, at, 0);
    let did = format!("from_bytes(a page of {count} keys, written by hand)");
    Leaf::from_bytes(page).map_err(|e| io_failure(&did, e))
}

// Whether search is a binary search is not graded: a scan of the slots gives the same answers,
// and a call across to the learner's process costs as much as scanning a thousand slots, so only
// a clock could tell them apart, and a verdict must not depend on a clock.
fn search_on_full_pages(_: &mut Ctx) -> CheckResult {
    for count in [8, 8190] {
        let leaf = page_of_keys(count)?;
        // A stride that visits every slot, held keys and the gaps between them: 7919 is prime,
        // and no count here is a multiple of it.
        let mut next = 0;
        for _ in 0..(2 * count).min(1000) {
            next = (next + 7919) % (2 * count);
            let key = (next as u16).to_be_bytes();
            let expected = match next % 2 {
                0 => Ok(next / 2),
                _ => Err(next / 2 + 1),
            };
            let got = leaf.search(&key);
            if got != expected {
                return fail(format!(
                    "did:      from_bytes(a page of {count} keys: 2-byte big-endian 2 * i, values \
                     empty), search({})\nexpected: {expected:?}\ngot:      {got:?}",
                    short(&key)
                ));
            }
        }
    }
    Ok(())
}
