//! Hidden checks for primitives/bloom-filter.

use std::collections::BTreeSet;
use std::f64::consts::LN_2;

use judge::prelude::*;
use primitives_bloom_filter::BloomFilter;

use crate::support::expect_panic;

pub fn suite() -> Suite {
    Suite::new()
        .check("a new filter contains nothing and has no bits set", empty)
        .check(
            "new(n, p) has m = ceil(-n ln p / (ln 2)^2) bits and k = round(m/n ln 2) hashes",
            sizing_table,
        )
        .check(
            "the sizing follows the formulas for any n and p",
            sizing_any,
        )
        .check(
            "one key inserted into an empty filter sets k different bits",
            one_key,
        )
        .check(
            "a key's bits are exactly the README's (h1 + i * h2) mod m, i = 0..k, with h2 forced \
             odd: a small filter agrees bit for bit with one built by that formula",
            exact_indexes,
        )
        .check(
            "every inserted key is found, whatever else was inserted",
            no_false_negatives,
        )
        .check(
            "bits_set never shrinks, grows by at most k, and a repeated insert changes nothing",
            bits_set_grows,
        )
        .check(
            "at its design load the false-positive rate stays near the target p",
            design_load,
        )
        .check(
            "past its design load the false-positive rate follows (1 - e^(-kn/m))^k",
            overload,
        )
        .check(
            "new panics unless the false-positive rate is strictly between 0 and 1 (NaN included)",
            bad_rate_panics,
        )
}

/// The sizing the README asks for, computed the slow, obvious way.
fn sizing(n: usize, p: f64) -> (f64, f64) {
    let n = n.max(1) as f64;
    let raw_bits = -n * p.ln() / (LN_2 * LN_2);
    let raw_hashes = raw_bits.ceil() / n * LN_2;
    (raw_bits, raw_hashes)
}

fn expected_sizing(n: usize, p: f64) -> (usize, u32) {
    let (raw_bits, raw_hashes) = sizing(n, p);
    (raw_bits.ceil() as usize, raw_hashes.round().max(1.0) as u32)
}

/// A key that is never one of the keys inserted by the load checks: they differ in the first byte.
fn key(tag: u8, value: u64) -> [u8; 9] {
    let mut key = [tag; 9];
    key[1..].copy_from_slice(&value.to_le_bytes());
    key
}

/// The scene's given hash: FNV-1a, then the splitmix64 finaliser (the stub's `hash64`).
fn hash64(key: &[u8], seed: u64) -> u64 {
    let mut hash = 0xCBF2_9CE4_8422_2325 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for &byte in key {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01B3);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94D0_49BB_1331_11EB);
    hash ^ (hash >> 31)
}

/// The k bits the README gives `key` in a filter of m bits.
fn readme_indexes(key: &[u8], m: usize, k: u32) -> Vec<u64> {
    let h1 = hash64(key, 0);
    let h2 = hash64(key, 1) | 1;
    (0..u64::from(k))
        .map(|i| h1.wrapping_add(i.wrapping_mul(h2)) % m as u64)
        .collect()
}

fn exact_indexes(_: &mut Ctx) -> CheckResult {
    for (n, p) in [(1, 0.01), (2, 0.3), (3, 0.05), (10, 0.2)] {
        let mut filter = BloomFilter::new(n, p);
        let (m, k) = (filter.bit_count(), filter.hash_count());
        let mut model = BTreeSet::new();
        let mut did = format!("BloomFilter::new({n}, {p}) (m = {m}, k = {k})");
        for i in 0..3 * n {
            let key = format!("key-{i}").into_bytes();
            filter.insert(&key);
            let indexes = readme_indexes(&key, m, k);
            model.extend(indexes.iter().copied());
            did.push_str(&format!(", insert({})", show(&key)));
            expect(
                filter.bits_set() == model.len(),
                format!(
                    "did:      {did}, bits_set()\nexpected: {} (the last key's bits, by the README's \
                     formula, are {indexes:?}; all set so far: {model:?})\ngot:      {}",
                    model.len(),
                    filter.bits_set()
                ),
            )?;
        }
        for j in 0..200 {
            let probe = format!("probe-{j}").into_bytes();
            let indexes = readme_indexes(&probe, m, k);
            let expected = indexes.iter().all(|i| model.contains(i));
            let got = filter.contains(&probe);
            expect(
                got == expected,
                format!(
                    "did:      {did}, contains({})\nexpected: {expected} (its bits by the README's \
                     formula are {indexes:?}; the bits set are {model:?})\ngot:      {got}",
                    show(&probe)
                ),
            )?;
        }
    }
    Ok(())
}

fn show(key: &[u8]) -> String {
    format!("b\"{}\"", key.escape_ascii())
}

fn empty(ctx: &mut Ctx) -> CheckResult {
    for (n, p) in [(1000, 0.01), (1, 0.5), (0, 0.1)] {
        ctx.doing(format!("BloomFilter::new({n}, {p})"));
        let filter = BloomFilter::new(n, p);
        expect_eq(
            format!("BloomFilter::new({n}, {p}).bits_set()"),
            filter.bits_set(),
            0,
        )?;
        let mut rng = ctx.rng();
        for probe in [b"".to_vec(), b"a".to_vec(), b"hello".to_vec()]
            .into_iter()
            .chain((0..200).map(|_| key(0, rng.next_u64()).to_vec()))
        {
            expect_eq(
                format!("BloomFilter::new({n}, {p}).contains({})", show(&probe)),
                filter.contains(&probe),
                false,
            )?;
        }
    }
    Ok(())
}

fn check_sizing(n: usize, p: f64) -> CheckResult {
    let filter = BloomFilter::new(n, p);
    let expected = expected_sizing(n, p);
    expect_eq(
        format!(
            "BloomFilter::new({n}, {p}), then (bit_count(), hash_count()); \
             m = ceil(-n ln p / (ln 2)^2), k = round(m/n ln 2) at least 1, n = 0 counts as 1"
        ),
        (filter.bit_count(), filter.hash_count()),
        expected,
    )
}

fn sizing_table(_: &mut Ctx) -> CheckResult {
    for (n, p) in [
        (1000, 0.01),
        (10_000, 0.001),
        (250, 0.2),
        (1, 0.5),
        (0, 0.01),
        (100, 0.9),
    ] {
        check_sizing(n, p)?;
    }
    Ok(())
}

fn sizing_any(ctx: &mut Ctx) -> CheckResult {
    // Small n often (where rounding matters most), and p out to both ends.
    let n = prop_oneof![1usize..=10, 1usize..100_000];
    let p = prop_oneof![
        4 => 0.0001f64..0.99,
        1 => 1e-12f64..0.0001,
        1 => 0.99f64..0.999_999,
    ];
    ctx.forall_named(&["n", "p"], DEFAULT_CASES, (n, p), |(n, p)| {
        // Skip the rare sizes a hair from an integer (or from .5 for k), where two correct ways
        // of writing the formula may round apart.
        let (raw_bits, raw_hashes) = sizing(n, p);
        if (raw_bits - raw_bits.round()).abs() < 1e-6
            || (raw_hashes - raw_hashes.floor() - 0.5).abs() < 1e-6
        {
            return Ok(());
        }
        check_sizing(n, p)
    })
}

fn one_key(ctx: &mut Ctx) -> CheckResult {
    let (n, p) = (10_000, 0.01);
    let mut rng = ctx.rng();
    let mut short = Vec::new();
    for _ in 0..100 {
        let key = key(0, rng.next_u64());
        let mut filter = BloomFilter::new(n, p);
        filter.insert(&key);
        let k = filter.hash_count() as usize;
        let set = filter.bits_set();
        let did = format!(
            "BloomFilter::new({n}, {p}) (m = {}, k = {k}), insert({}), bits_set()",
            filter.bit_count(),
            show(&key)
        );
        expect(
            (1..=k).contains(&set),
            format!("did:      {did}\nexpected: between 1 and {k}\ngot:      {set}"),
        )?;
        if set < k {
            short.push((did, set, k));
        }
    }
    // Two of a key's k indexes may land on the same bit, but among m = 95,851 bits that is rare.
    match short.as_slice() {
        [] | [_] | [_, _] => Ok(()),
        [(did, set, k), ..] => fail(format!(
            "did:      {did}\nexpected: {k} (each key's k indexes should almost always differ)\n\
             got:      {set}, and {} of 100 keys set fewer than k bits",
            short.len()
        )),
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Vec<u8>),
    Contains(Vec<u8>),
}

impl Op {
    fn show(&self) -> String {
        match self {
            Op::Insert(key) => format!("insert({})", show(key)),
            Op::Contains(key) => format!("contains({})", show(key)),
        }
    }
}

/// Small filters and a small alphabet of keys, so that filters fill up and keys repeat.
fn scenarios() -> impl Strategy<Value = (usize, f64, Vec<Op>)> {
    let key = prop::collection::vec(b'a'..=b'd', 0..3);
    let op = (any::<bool>(), key).prop_map(|(insert, key)| {
        if insert {
            Op::Insert(key)
        } else {
            Op::Contains(key)
        }
    });
    (
        1usize..40,
        prop_oneof![Just(0.5), Just(0.1), Just(0.01), Just(0.001)],
        prop::collection::vec(op, 0..60),
    )
}

fn history(n: usize, p: f64, ops: &[Op]) -> String {
    let mut text = format!("BloomFilter::new({n}, {p})");
    for op in ops {
        text.push_str(", ");
        text.push_str(&op.show());
    }
    text
}

fn no_false_negatives(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["n", "p", "ops"],
        DEFAULT_CASES,
        scenarios(),
        |(n, p, ops)| {
            let mut filter = BloomFilter::new(n, p);
            let mut inserted = BTreeSet::new();
            for (step, op) in ops.iter().enumerate() {
                match op {
                    Op::Insert(key) => {
                        filter.insert(key);
                        inserted.insert(key.clone());
                    }
                    Op::Contains(key) => {
                        let answer = filter.contains(key);
                        if inserted.contains(key) {
                            expect_eq(history(n, p, &ops[..=step]), answer, true)?;
                        }
                    }
                }
                for key in &inserted {
                    expect_eq(
                        format!(
                            "{}, then contains({}), a key inserted earlier",
                            history(n, p, &ops[..=step]),
                            show(key)
                        ),
                        filter.contains(key),
                        true,
                    )?;
                }
            }
            Ok(())
        },
    )
}

fn bits_set_grows(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["n", "p", "ops"],
        DEFAULT_CASES,
        scenarios(),
        |(n, p, ops)| {
            let mut filter = BloomFilter::new(n, p);
            let (m, k) = (filter.bit_count(), filter.hash_count() as usize);
            let mut inserted = BTreeSet::new();
            let mut before = filter.bits_set();
            for (step, op) in ops.iter().enumerate() {
                if let Op::Insert(key) = op {
                    filter.insert(key);
                    let after = filter.bits_set();
                    let did = format!(
                        "{} (m = {m}, k = {k}); bits_set() before the last insert was {before}, \
                     after it",
                        history(n, p, &ops[..=step])
                    );
                    if !inserted.insert(key.clone()) {
                        expect_eq(format!("{did} (the key was already in)"), after, before)?;
                    }
                    expect(
                        before <= after && after <= (before + k).min(m),
                        format!(
                            "did:      {did}\nexpected: between {before} and {}\ngot:      {after}",
                            (before + k).min(m)
                        ),
                    )?;
                    before = after;
                } else if let Op::Contains(key) = op {
                    filter.contains(key);
                    expect_eq(
                        format!(
                            "{}, then bits_set() (contains must not change the bits)",
                            history(n, p, &ops[..=step])
                        ),
                        filter.bits_set(),
                        before,
                    )?;
                }
            }
            Ok(())
        },
    )
}

const PROBES: usize = 20_000;

/// Inserts `load` fresh keys into `BloomFilter::new(n, p)`, then asks about PROBES keys that
/// were never inserted. Returns the filter and how many of those it claimed to contain.
fn measure(ctx: &Ctx, n: usize, p: f64, load: usize) -> Result<(BloomFilter, usize), Failure> {
    let mut rng = ctx.rng();
    ctx.doing(format!("BloomFilter::new({n}, {p}), then {load} inserts"));
    let mut filter = BloomFilter::new(n, p);
    let keys: Vec<[u8; 9]> = (0..load).map(|_| key(0, rng.next_u64())).collect();
    for key in &keys {
        filter.insert(key);
    }
    for key in &keys {
        expect_eq(
            format!(
                "BloomFilter::new({n}, {p}), {load} inserts of random keys, then contains({}), \
                 one of them",
                show(key)
            ),
            filter.contains(key),
            true,
        )?;
    }
    ctx.doing(format!(
        "BloomFilter::new({n}, {p}) holding {load} keys, then {PROBES} contains() of absent keys"
    ));
    let false_positives = (0..PROBES)
        .filter(|_| filter.contains(&key(1, rng.next_u64())))
        .count();
    Ok((filter, false_positives))
}

fn design_load(ctx: &mut Ctx) -> CheckResult {
    for (n, p) in [(1000, 0.01), (5000, 0.001), (2000, 0.05)] {
        let (filter, false_positives) = measure(ctx, n, p, n)?;
        let rate = false_positives as f64 / PROBES as f64;
        // Generous: at these sizes a correct filter lands within a few tenths of p.
        let bound = 1.5 * p + 0.002;
        expect(
            rate <= bound,
            format!(
                "did:      BloomFilter::new({n}, {p}) (m = {}, k = {}), {n} inserts of random \
                 keys, then contains() of {PROBES} keys never inserted\n\
                 expected: at most {:.0} answers true (a rate of about {p}, at most {bound})\n\
                 got:      {false_positives} answered true (a rate of {rate:.4})",
                filter.bit_count(),
                filter.hash_count(),
                bound * PROBES as f64,
            ),
        )?;
    }
    Ok(())
}

fn overload(ctx: &mut Ctx) -> CheckResult {
    for (n, p, load) in [(1000, 0.01, 2000), (2000, 0.05, 4000)] {
        let (filter, false_positives) = measure(ctx, n, p, load)?;
        let rate = false_positives as f64 / PROBES as f64;
        // The theory for the filter's own m and k, so that a sizing mistake fails elsewhere.
        let (m, k) = (filter.bit_count() as f64, f64::from(filter.hash_count()));
        let theory = (1.0 - (-k * load as f64 / m).exp()).powf(k);
        let (low, high) = (0.75 * theory, 1.25 * theory);
        expect(
            (low..=high).contains(&rate),
            format!(
                "did:      BloomFilter::new({n}, {p}) (m = {m}, k = {k}), {load} inserts of \
                 random keys, then contains() of {PROBES} keys never inserted\n\
                 expected: a rate near (1 - e^(-kn/m))^k = {theory:.4}, between {low:.4} and \
                 {high:.4}\n\
                 got:      {false_positives} answered true (a rate of {rate:.4})"
            ),
        )?;
    }
    Ok(())
}

fn bad_rate_panics(_: &mut Ctx) -> CheckResult {
    let filter = BloomFilter::new(10, 0.5);
    expect_eq("BloomFilter::new(10, 0.5).bits_set()", filter.bits_set(), 0)?;
    for (p, shown) in [
        (1.0, "1.0"),
        (0.0, "0.0"),
        (1.5, "1.5"),
        (-0.25, "-0.25"),
        (f64::NAN, "f64::NAN"),
        (f64::INFINITY, "f64::INFINITY"),
        (-0.0, "-0.0"),
    ] {
        expect_panic(
            &format!("BloomFilter::new(100, {shown})"),
            "the documentation says new panics if the rate is not strictly between 0 and 1",
            || BloomFilter::new(100, p),
        )?;
    }
    Ok(())
}
