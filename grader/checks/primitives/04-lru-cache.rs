//! Hidden checks for primitives/lru-cache.

use std::fmt;
use std::time::{Duration, Instant};

use judge::prelude::*;
use primitives_lru_cache::LruCache;

use crate::support::{expect_panic, no_panic};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "the README's example: put a, b, c, get a, then put d evicts b",
            readme_example,
        )
        .check(
            "a cache evicts nothing until full, then exactly the least recently used entry",
            eviction_order,
        )
        .check("get makes an entry the most recently used", get_refreshes)
        .check(
            "peek reads a value without making it recently used",
            peek_does_not_refresh,
        )
        .check(
            "putting a key already present replaces its value and evicts nothing, even when full",
            replace_evicts_nothing,
        )
        .check(
            "putting a key already present makes it the most recently used",
            replace_refreshes,
        )
        .check(
            "a cache of capacity 1 holds only the last key put",
            capacity_one,
        )
        .check(
            "agrees with a simple model on any sequence of put, get and peek",
            matches_model,
        )
        .check(
            "get and put do not scan: on a cache of 20000 entries they take about as long as on \
             one of 16",
            constant_time,
        )
        .check(
            "new(0) panics: a cache of capacity 0 could hold nothing",
            new_zero_panics,
        )
        .check(
            "a cache of capacity usize::MAX works, and does not reserve room for it up front",
            capacity_max,
        )
}

/// Keys are letters and values small numbers, so a failing sequence reads like the README.
type Cache = LruCache<char, u32>;

/// Records the calls made so far, to say in a failure exactly what was done.
struct Script {
    calls: Vec<String>,
}

impl Script {
    fn new(capacity: usize) -> Self {
        Self {
            calls: vec![format!("LruCache::new({capacity})")],
        }
    }

    fn did(&mut self, call: impl Into<String>) -> String {
        self.calls.push(call.into());
        self.calls.join(", ")
    }
}

/// Puts `(key, value)` pairs one after another, expecting none of them to evict anything.
fn fill(cache: &mut Cache, script: &mut Script, entries: &[(char, u32)]) -> CheckResult {
    for &(key, value) in entries {
        let evicted = cache.put(key, value);
        expect_eq(script.did(format!("put({key:?}, {value})")), evicted, None)?;
    }
    Ok(())
}

fn put(
    cache: &mut Cache,
    script: &mut Script,
    key: char,
    value: u32,
    expected: Option<(char, u32)>,
) -> CheckResult {
    let evicted = cache.put(key, value);
    expect_eq(
        script.did(format!("put({key:?}, {value})")),
        evicted,
        expected,
    )
}

fn get(cache: &mut Cache, script: &mut Script, key: char, expected: Option<u32>) -> CheckResult {
    let got = cache.get(&key).copied();
    expect_eq(script.did(format!("get(&{key:?})")), got, expected)
}

fn peek(cache: &Cache, script: &mut Script, key: char, expected: Option<u32>) -> CheckResult {
    let got = cache.peek(&key).copied();
    expect_eq(script.did(format!("peek(&{key:?})")), got, expected)
}

fn len(cache: &Cache, script: &mut Script, expected: usize) -> CheckResult {
    expect_eq(script.did("len()"), cache.len(), expected)
}

fn readme_example(_: &mut Ctx) -> CheckResult {
    let mut cache = Cache::new(3);
    let mut script = Script::new(3);
    fill(&mut cache, &mut script, &[('a', 1), ('b', 2), ('c', 3)])?;
    get(&mut cache, &mut script, 'a', Some(1))?;
    put(&mut cache, &mut script, 'd', 4, Some(('b', 2)))?;
    peek(&cache, &mut script, 'b', None)?;
    peek(&cache, &mut script, 'a', Some(1))?;
    peek(&cache, &mut script, 'c', Some(3))?;
    peek(&cache, &mut script, 'd', Some(4))?;
    len(&cache, &mut script, 3)
}

fn eviction_order(_: &mut Ctx) -> CheckResult {
    // Owned keys here, to be sure the cache gives back the very key it was handed.
    for capacity in 1..=6 {
        let mut cache = LruCache::<String, usize>::new(capacity);
        let mut calls = vec![format!("LruCache::new({capacity})")];
        expect_eq(
            format!("{}, capacity()", calls.join(", ")),
            cache.capacity(),
            capacity,
        )?;
        expect_eq(
            format!("{}, is_empty()", calls.join(", ")),
            cache.is_empty(),
            true,
        )?;
        for i in 0..capacity + 8 {
            let key = format!("k{i}");
            calls.push(format!("put({key:?}, {i})"));
            let evicted = cache.put(key, i);
            // Keys were put in order and never used again, so the oldest goes first.
            let expected = i.checked_sub(capacity).map(|old| (format!("k{old}"), old));
            expect_eq(calls.join(", "), evicted, expected)?;
            expect_eq(
                format!("{}, len()", calls.join(", ")),
                cache.len(),
                (i + 1).min(capacity),
            )?;
            expect_eq(
                format!("{}, is_empty()", calls.join(", ")),
                cache.is_empty(),
                false,
            )?;
        }
    }
    Ok(())
}

fn get_refreshes(_: &mut Ctx) -> CheckResult {
    let mut cache = Cache::new(4);
    let mut script = Script::new(4);
    fill(
        &mut cache,
        &mut script,
        &[('a', 1), ('b', 2), ('c', 3), ('d', 4)],
    )?;
    // Oldest to newest is now c, d, b, a.
    get(&mut cache, &mut script, 'b', Some(2))?;
    get(&mut cache, &mut script, 'a', Some(1))?;
    get(&mut cache, &mut script, 'z', None)?;
    put(&mut cache, &mut script, 'e', 5, Some(('c', 3)))?;
    put(&mut cache, &mut script, 'f', 6, Some(('d', 4)))?;
    put(&mut cache, &mut script, 'g', 7, Some(('b', 2)))?;
    put(&mut cache, &mut script, 'h', 8, Some(('a', 1)))
}

fn peek_does_not_refresh(_: &mut Ctx) -> CheckResult {
    let mut cache = Cache::new(3);
    let mut script = Script::new(3);
    fill(&mut cache, &mut script, &[('a', 1), ('b', 2), ('c', 3)])?;
    peek(&cache, &mut script, 'a', Some(1))?;
    peek(&cache, &mut script, 'z', None)?;
    put(&mut cache, &mut script, 'd', 4, Some(('a', 1)))?;
    peek(&cache, &mut script, 'b', Some(2))?;
    put(&mut cache, &mut script, 'e', 5, Some(('b', 2)))
}

fn replace_evicts_nothing(_: &mut Ctx) -> CheckResult {
    let mut cache = Cache::new(3);
    let mut script = Script::new(3);
    fill(&mut cache, &mut script, &[('a', 1), ('b', 2), ('c', 3)])?;
    // The cache is full; each of these keys is already in it, so nobody has to leave.
    put(&mut cache, &mut script, 'a', 10, None)?;
    put(&mut cache, &mut script, 'c', 30, None)?;
    put(&mut cache, &mut script, 'c', 31, None)?;
    len(&cache, &mut script, 3)?;
    peek(&cache, &mut script, 'a', Some(10))?;
    peek(&cache, &mut script, 'b', Some(2))?;
    peek(&cache, &mut script, 'c', Some(31))
}

fn replace_refreshes(_: &mut Ctx) -> CheckResult {
    let mut cache = Cache::new(3);
    let mut script = Script::new(3);
    fill(&mut cache, &mut script, &[('a', 1), ('b', 2), ('c', 3)])?;
    // a was the least recently used; putting it again makes it the most.
    put(&mut cache, &mut script, 'a', 10, None)?;
    put(&mut cache, &mut script, 'd', 4, Some(('b', 2)))?;
    put(&mut cache, &mut script, 'e', 5, Some(('c', 3)))?;
    put(&mut cache, &mut script, 'f', 6, Some(('a', 10)))
}

fn capacity_one(_: &mut Ctx) -> CheckResult {
    let mut cache = Cache::new(1);
    let mut script = Script::new(1);
    put(&mut cache, &mut script, 'a', 1, None)?;
    put(&mut cache, &mut script, 'a', 2, None)?;
    get(&mut cache, &mut script, 'a', Some(2))?;
    put(&mut cache, &mut script, 'b', 3, Some(('a', 2)))?;
    get(&mut cache, &mut script, 'a', None)?;
    get(&mut cache, &mut script, 'b', Some(3))?;
    len(&cache, &mut script, 1)?;
    put(&mut cache, &mut script, 'c', 4, Some(('b', 3)))?;
    peek(&cache, &mut script, 'c', Some(4))
}

/// The slowest correct LRU cache there is: a list, least recently used first.
struct Model {
    capacity: usize,
    entries: Vec<(char, u32)>,
}

impl Model {
    fn position(&self, key: char) -> Option<usize> {
        self.entries.iter().position(|&(k, _)| k == key)
    }

    fn get(&mut self, key: char) -> Option<u32> {
        let entry = self.entries.remove(self.position(key)?);
        self.entries.push(entry);
        Some(entry.1)
    }

    fn peek(&self, key: char) -> Option<u32> {
        self.position(key).map(|i| self.entries[i].1)
    }

    fn put(&mut self, key: char, value: u32) -> Option<(char, u32)> {
        if let Some(i) = self.position(key) {
            self.entries.remove(i);
            self.entries.push((key, value));
            return None;
        }
        let evicted = (self.entries.len() == self.capacity).then(|| self.entries.remove(0));
        self.entries.push((key, value));
        evicted
    }
}

#[derive(Clone, Copy)]
enum Op {
    Put(char, u32),
    Get(char),
    Peek(char),
}

/// Written as the call, so a shrunk failure reads as code.
impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Put(key, value) => write!(f, "put({key:?}, {value})"),
            Op::Get(key) => write!(f, "get(&{key:?})"),
            Op::Peek(key) => write!(f, "peek(&{key:?})"),
        }
    }
}

const KEYS: [char; 6] = ['a', 'b', 'c', 'd', 'e', 'f'];

fn op() -> impl Strategy<Value = Op> {
    let key = || prop::sample::select(&KEYS[..]);
    prop_oneof![
        3 => (key(), 0u32..100).prop_map(|(k, v)| Op::Put(k, v)),
        2 => key().prop_map(Op::Get),
        1 => key().prop_map(Op::Peek),
    ]
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    // Mostly smaller than the 6 keys, so that entries are evicted; sometimes room for all of them.
    let capacity = prop_oneof![4 => 1usize..=4, 1 => 5usize..=7, 1 => Just(usize::MAX)];
    let input = (capacity, prop::collection::vec(op(), 0..40));
    ctx.forall_named(
        &["capacity", "ops"],
        DEFAULT_CASES,
        input,
        |(capacity, ops)| {
            let mut cache = Cache::new(capacity);
            let mut model = Model {
                capacity,
                entries: Vec::new(),
            };
            let mut did = format!("LruCache::new({capacity})");
            for op in ops {
                did.push_str(&format!(", {op:?}"));
                match op {
                    Op::Put(key, value) => {
                        expect_eq(&did, cache.put(key, value), model.put(key, value))?
                    }
                    Op::Get(key) => expect_eq(&did, cache.get(&key).copied(), model.get(key))?,
                    Op::Peek(key) => expect_eq(&did, cache.peek(&key).copied(), model.peek(key))?,
                }
                // After every step, the whole contents, read without disturbing recency.
                let contents: Vec<(char, u32)> = KEYS
                    .iter()
                    .filter_map(|&key| cache.peek(&key).map(|&value| (key, value)))
                    .collect();
                let mut expected = model.entries.clone();
                expected.sort_unstable();
                expect_eq(
                    format!("{did}, then peek at every key: which entries are there?"),
                    contents,
                    expected,
                )?;
                expect_eq(format!("{did}, len()"), cache.len(), model.entries.len())?;
            }
            Ok(())
        },
    )
}

fn new_zero_panics(_: &mut Ctx) -> CheckResult {
    let mut cache = Cache::new(1);
    expect_eq("LruCache::new(1), put('a', 1)", cache.put('a', 1), None)?;
    expect_panic(
        "LruCache::<char, u32>::new(0)",
        "the documentation says new panics if capacity is 0",
        || Cache::new(0),
    )?;
    expect_panic(
        "LruCache::<String, usize>::new(0)",
        "the documentation says new panics if capacity is 0",
        || LruCache::<String, usize>::new(0),
    )
}

fn capacity_max(_: &mut Ctx) -> CheckResult {
    let mut script = Script::new(usize::MAX);
    let mut cache = no_panic(&format!("LruCache::new({})", usize::MAX), || {
        Cache::new(usize::MAX)
    })?;
    expect_eq(script.did("capacity()"), cache.capacity(), usize::MAX)?;
    let entries: Vec<(char, u32)> = ('a'..='z').zip(0..).collect();
    fill(&mut cache, &mut script, &entries)?;
    len(&cache, &mut script, 26)?;
    get(&mut cache, &mut script, 'a', Some(0))?;
    put(&mut cache, &mut script, 'b', 100, None)?;
    peek(&cache, &mut script, 'z', Some(25))?;
    len(&cache, &mut script, 26)
}

/// The cache sizes timed against each other, and how much slower per call the big one may be.
const SMALL: usize = 16;
const BIG: usize = 20_000;
const SLOWER_AT_MOST: f64 = 4.0;

/// A long key with a shared prefix, so comparing two costs what real keys cost.
fn long_key(i: usize) -> String {
    format!("session-{i:0>24}")
}

/// A cache of `capacity` holding keys 0..capacity (value i for key i), and how it is timed:
/// each batch puts new keys (each evicting one) and gets the key `behind` the newest, checking
/// every answer, so that skipping the work cannot look fast.
struct Timed {
    cache: LruCache<String, usize>,
    capacity: usize,
    /// How far behind the newest key the key got is: in the middle of a big cache, where
    /// finding it by a scan from either end costs the most.
    behind: usize,
    /// The next new key.
    next: usize,
    fastest: Duration,
}

impl Timed {
    fn new(capacity: usize, behind: usize) -> Result<Timed, Failure> {
        let mut cache = LruCache::<String, usize>::new(capacity);
        for i in 0..capacity {
            if let Some(evicted) = cache.put(long_key(i), i) {
                return Err(Failure::new(format!(
                    "did:      LruCache::new({capacity}), put(key i, i) for i in 0..{capacity}\n\
                     expected: no put evicts anything before the cache is full\n\
                     got:      put(key {i}, {i}) = Some({evicted:?})"
                )));
            }
        }
        Ok(Timed {
            cache,
            capacity,
            behind,
            next: capacity,
            fastest: Duration::MAX,
        })
    }

    fn batch(&mut self, calls: usize) -> CheckResult {
        let start = Instant::now();
        for _ in 0..calls / 2 {
            let key = self.next;
            self.next += 1;
            if self.cache.put(long_key(key), key).is_none() {
                return Err(self.wrong(format!("put(key {key}, {key})"), "an eviction", "None"));
            }
            // Each got key is new to gets, so the puts always evict one never got.
            let back = key - self.behind;
            let got = self.cache.get(&long_key(back)).copied();
            if got != Some(back) {
                return Err(self.wrong(
                    format!("get(key {back})"),
                    &format!("Some({back})"),
                    &format!("{got:?}"),
                ));
            }
        }
        self.fastest = self.fastest.min(start.elapsed() / calls as u32);
        Ok(())
    }

    fn wrong(&self, call: String, expected: &str, got: &str) -> Failure {
        Failure::new(format!(
            "did:      LruCache::new({capacity}), put(key i, i) for i in 0..{capacity}, then in turn \
             put(key n, n) of a new key n and get(key n-{behind}); key i is \"{example}\" for \
             i = 0\nat:       {call}\nexpected: {expected}\ngot:      {got}",
            capacity = self.capacity,
            behind = self.behind,
            example = long_key(0),
        ))
    }
}

fn constant_time(_: &mut Ctx) -> CheckResult {
    let mut small = Timed::new(SMALL, 1)?;
    let mut big = Timed::new(BIG, BIG / 2)?;
    // Interleaved, and the fastest batch of each kept: a busy machine slows some batches, not
    // the fastest of ten.
    for _ in 0..10 {
        small.batch(100)?;
        big.batch(100)?;
    }
    let ratio = big.fastest.as_secs_f64() / small.fastest.as_secs_f64().max(1e-9);
    // The figures themselves are left out: they differ from run to run, and the verdict a
    // seed gives must not.
    expect(
        ratio <= SLOWER_AT_MOST,
        format!(
            "did:      timed put of a new key and get of an older one (in the middle of the big \
             cache), on caches of {SMALL} and of {BIG} entries\n\
             expected: about as fast on both (at most {SLOWER_AT_MOST}x slower per call on the \
             big one): get and put find a key through the map and move it in the list, whatever \
             the size\n\
             got:      more than {SLOWER_AT_MOST}x slower per call on the big one, as if each \
             call scanned the entries"
        ),
    )
}
