//! Hidden checks for primitives/consistent-hashing.

use std::collections::{BTreeMap, BTreeSet};

use judge::prelude::*;
use primitives_consistent_hashing::{Ring, hash};

use crate::support::expect_panic;

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "an empty ring owns no keys, even after its last node leaves",
            empty_ring,
        )
        .check(
            "a key that hashes exactly onto a vnode point belongs to that point's node",
            exact_point,
        )
        .check(
            "keys hashing past the last point wrap around to the first point's node",
            wrap_around,
        )
        .check(
            "lookups match a model ring for any nodes, vnode count and keys",
            matches_model,
        )
        .check(
            "lookups and nodes() match a model through any sequence of adds and removes",
            operations,
        )
        .check(
            "adding a node moves keys only to the new node, about 1/(n+1) of them",
            add_moves_little,
        )
        .check(
            "removing a node moves only the keys it owned",
            remove_moves_little,
        )
        .check(
            "adding a node and removing it again gives every key its old owner back",
            add_then_remove,
        )
        .check(
            "10 nodes with 160 vnodes each share 10,000 keys within 1.3x of the mean",
            balance,
        )
        .check(
            "new(0) panics: a node without points could never own a key",
            new_zero_panics,
        )
}

/// The ring as simply as it can be written: every point in a sorted map, rebuilt on each change.
#[derive(Debug, Clone)]
struct Model {
    vnodes: usize,
    nodes: BTreeSet<String>,
    points: BTreeMap<u64, String>,
}

impl Model {
    fn new(vnodes: usize) -> Self {
        Self {
            vnodes,
            nodes: BTreeSet::new(),
            points: BTreeMap::new(),
        }
    }

    fn add(&mut self, node: &str) {
        self.nodes.insert(node.to_string());
        self.rebuild();
    }

    fn remove(&mut self, node: &str) {
        self.nodes.remove(node);
        self.rebuild();
    }

    fn rebuild(&mut self) {
        self.points.clear();
        for node in &self.nodes {
            for i in 0..self.vnodes {
                self.points.insert(point(node, i), node.clone());
            }
        }
    }

    fn owner(&self, key: &[u8]) -> Option<&str> {
        let h = hash(key);
        self.points
            .range(h..)
            .next()
            .or_else(|| self.points.iter().next())
            .map(|(_, node)| node.as_str())
    }

    fn nodes(&self) -> Vec<&str> {
        self.nodes.iter().map(String::as_str).collect()
    }
}

fn point(node: &str, i: usize) -> u64 {
    hash(format!("{node}#{i}").as_bytes())
}

/// Vnode counts, with one point per node (the edge) and a few points tried often.
fn vnodes() -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(1usize), 2 => 2..=4usize, 2 => 5..=16usize]
}

fn name(index: usize) -> String {
    format!("node-{index}")
}

/// How the checks built a ring, as code the learner can paste.
fn built(vnodes: usize, nodes: &[String]) -> String {
    let mut text = format!("Ring::new({vnodes})");
    for node in nodes {
        text.push_str(&format!("; add_node({node:?})"));
    }
    text
}

fn show(key: &[u8]) -> String {
    format!("b\"{}\"", key.escape_ascii())
}

fn ring_of(vnodes: usize, nodes: &[String]) -> Ring {
    let mut ring = Ring::new(vnodes);
    for node in nodes {
        ring.add_node(node);
    }
    ring
}

fn model_of(vnodes: usize, nodes: &[String]) -> Model {
    let mut model = Model::new(vnodes);
    for node in nodes {
        model.add(node);
    }
    model
}

/// Some node names from a small pool, so that adds and removes meet the same names again.
fn node_set(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::btree_set(0..12usize, 1..=max)
        .prop_map(|set| set.into_iter().map(name).collect())
}

fn empty_ring(_: &mut Ctx) -> CheckResult {
    let mut ring = Ring::new(4);
    expect_eq("Ring::new(4); nodes()", ring.nodes(), Vec::<&str>::new())?;
    for key in [&b""[..], b"a", b"user:42"] {
        expect_eq(
            format!("Ring::new(4); node_for({})", show(key)),
            ring.node_for(key),
            None,
        )?;
    }
    ring.add_node("a");
    ring.add_node("b");
    ring.remove_node("a");
    ring.remove_node("b");
    let did =
        "Ring::new(4); add_node(\"a\"); add_node(\"b\"); remove_node(\"a\"); remove_node(\"b\")";
    expect_eq(format!("{did}; nodes()"), ring.nodes(), Vec::<&str>::new())?;
    for key in [&b""[..], b"a", b"user:42"] {
        expect_eq(
            format!("{did}; node_for({})", show(key)),
            ring.node_for(key),
            None,
        )?;
    }
    Ok(())
}

fn exact_point(_: &mut Ctx) -> CheckResult {
    let nodes: Vec<String> = (0..5).map(name).collect();
    let ring = ring_of(8, &nodes);
    for node in &nodes {
        for i in 0..8 {
            // The key "{node}#{i}" hashes to exactly that vnode's point.
            let key = format!("{node}#{i}");
            expect_eq(
                format!(
                    "{}; node_for(b{key:?}) (the key's hash is {node}'s point #{i}, {:#018x})",
                    built(8, &nodes),
                    hash(key.as_bytes())
                ),
                ring.node_for(key.as_bytes()),
                Some(node.as_str()),
            )?;
        }
    }
    Ok(())
}

fn wrap_around(ctx: &mut Ctx) -> CheckResult {
    let first: u64 = ctx.rng().random_range(0..1_000_000);
    let nodes: Vec<String> = (first as usize..first as usize + 3).map(name).collect();
    let model = model_of(4, &nodes);
    let ring = ring_of(4, &nodes);
    let (&last, _) = model
        .points
        .iter()
        .next_back()
        .expect("the model has points");
    let (&lowest, owner) = model.points.iter().next().expect("the model has points");
    let mut found = 0;
    for n in 0u32.. {
        let key = format!("key-{n}");
        let h = hash(key.as_bytes());
        if h <= last {
            continue;
        }
        expect_eq(
            format!(
                "{}; node_for(b{key:?}) (the key hashes to {h:#018x}, past the last point \
                 {last:#018x}; the first point is {owner}'s, at {lowest:#018x})",
                built(4, &nodes)
            ),
            ring.node_for(key.as_bytes()),
            Some(owner.as_str()),
        )?;
        found += 1;
        if found == 20 {
            break;
        }
    }
    Ok(())
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    let input = (
        vnodes(),
        node_set(6),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 1..40),
    );
    ctx.forall_named(
        &["vnodes", "nodes", "keys"],
        DEFAULT_CASES,
        input,
        |(vnodes, nodes, keys)| {
            let ring = ring_of(vnodes, &nodes);
            let model = model_of(vnodes, &nodes);
            for key in &keys {
                expect_eq(
                    format!("{}; node_for({})", built(vnodes, &nodes), show(key)),
                    ring.node_for(key),
                    model.owner(key),
                )?;
            }
            Ok(())
        },
    )
}

#[derive(Debug, Clone)]
enum Op {
    Add(usize),
    Remove(usize),
}

fn operations(ctx: &mut Ctx) -> CheckResult {
    let op = prop_oneof![
        3 => (0..6usize).prop_map(Op::Add),
        2 => (0..6usize).prop_map(Op::Remove),
    ];
    let probes: Vec<String> = (0..40).map(|n| format!("probe-{n}")).collect();
    let input = (vnodes(), prop::collection::vec(op, 1..20));
    ctx.forall_named(&["vnodes", "ops"], DEFAULT_CASES, input, |(vnodes, ops)| {
        let mut ring = Ring::new(vnodes);
        let mut model = Model::new(vnodes);
        let mut did = format!("Ring::new({vnodes})");
        for op in &ops {
            match op {
                Op::Add(n) => {
                    ring.add_node(&name(*n));
                    model.add(&name(*n));
                    did.push_str(&format!("; add_node(\"{}\")", name(*n)));
                }
                Op::Remove(n) => {
                    ring.remove_node(&name(*n));
                    model.remove(&name(*n));
                    did.push_str(&format!("; remove_node(\"{}\")", name(*n)));
                }
            }
            expect_eq(format!("{did}; nodes()"), ring.nodes(), model.nodes())?;
            for probe in &probes {
                expect_eq(
                    format!("{did}; node_for(b{probe:?})"),
                    ring.node_for(probe.as_bytes()),
                    model.owner(probe.as_bytes()),
                )?;
            }
        }
        Ok(())
    })
}

/// Owners of `count` keys named from `prefix`, as owned strings.
fn owners(ring: &Ring, prefix: u32, count: usize) -> Vec<(String, Option<String>)> {
    (0..count)
        .map(|i| {
            let key = format!("{prefix}-{i}");
            let owner = ring.node_for(key.as_bytes()).map(str::to_string);
            (key, owner)
        })
        .collect()
}

const MOVE_VNODES: usize = 64;
const MOVE_KEYS: usize = 2000;

fn add_moves_little(ctx: &mut Ctx) -> CheckResult {
    let input = (node_set(8), 12..20usize, any::<u32>());
    // Each case asks 4,000 lookups, each a call into the learner's process: a dozen cases
    // check 24,000 keys, and keep the check quick on a busy machine.
    ctx.forall_named(&["nodes", "new", "prefix"], 12, input, |(nodes, new, prefix)| {
        let new = name(new);
        let mut ring = ring_of(MOVE_VNODES, &nodes);
        let before = owners(&ring, prefix, MOVE_KEYS);
        ring.add_node(&new);
        let mut moved = 0;
        for (key, old) in &before {
            let now = ring.node_for(key.as_bytes());
            if now != old.as_deref() {
                expect_eq(
                    format!(
                        "{}; node_for(b{key:?}) gave {old:?}; then add_node({new:?}); \
                         node_for(b{key:?}) again (a key may only move to the new node)",
                        built(MOVE_VNODES, &nodes)
                    ),
                    now,
                    Some(new.as_str()),
                )?;
                moved += 1;
            }
        }
        // The new node's fair share is 1/(n+1); twice that is far outside what chance gives.
        let limit = 2 * MOVE_KEYS / (nodes.len() + 1);
        expect(
            moved <= limit,
            format!(
                "{}; then add_node({new:?}): {moved} of {MOVE_KEYS} keys \"{prefix}-0\".. moved, \
                 expected about {} and at most {limit}",
                built(MOVE_VNODES, &nodes),
                MOVE_KEYS / (nodes.len() + 1)
            ),
        )
    })
}

fn remove_moves_little(ctx: &mut Ctx) -> CheckResult {
    let input = node_set(8)
        .prop_filter("two nodes or more", |nodes| nodes.len() >= 2)
        .prop_flat_map(|nodes| {
            let len = nodes.len();
            (Just(nodes), 0..len, any::<u32>())
        });
    // As above: a dozen cases of 4,000 lookups.
    ctx.forall_named(
        &["nodes", "gone", "prefix"],
        12,
        input,
        |(nodes, gone, prefix)| {
            let gone = nodes[gone].clone();
            let mut ring = ring_of(MOVE_VNODES, &nodes);
            let before = owners(&ring, prefix, MOVE_KEYS);
            ring.remove_node(&gone);
            for (key, old) in &before {
                let now = ring.node_for(key.as_bytes());
                let did = format!(
                    "{}; node_for(b{key:?}) gave {old:?}; then remove_node({gone:?}); \
                 node_for(b{key:?}) again",
                    built(MOVE_VNODES, &nodes)
                );
                if old.as_deref() == Some(gone.as_str()) {
                    expect(
                        now.is_some() && now != Some(gone.as_str()),
                        format!(
                            "did:      {did}\nexpected: another node in the ring\ngot:      {now:?}"
                        ),
                    )?;
                } else {
                    expect_eq(
                        format!("{did} (only keys {gone:?} owned may move)"),
                        now,
                        old.as_deref(),
                    )?;
                }
            }
            Ok(())
        },
    )
}

fn add_then_remove(ctx: &mut Ctx) -> CheckResult {
    let input = (vnodes(), node_set(6), 12..20usize, any::<u32>());
    ctx.forall_named(
        &["vnodes", "nodes", "extra", "prefix"],
        64,
        input,
        |(vnodes, nodes, extra, prefix)| {
            let extra = name(extra);
            let mut ring = ring_of(vnodes, &nodes);
            let before = owners(&ring, prefix, 300);
            ring.add_node(&extra);
            ring.remove_node(&extra);
            expect_eq(
                format!(
                    "{}; add_node({extra:?}); remove_node({extra:?}); nodes()",
                    built(vnodes, &nodes)
                ),
                ring.nodes(),
                model_of(vnodes, &nodes).nodes(),
            )?;
            for (key, old) in &before {
                expect_eq(
                    format!(
                        "{}; node_for(b{key:?}) gave {old:?}; then add_node({extra:?}); \
                     remove_node({extra:?}); node_for(b{key:?}) again",
                        built(vnodes, &nodes)
                    ),
                    ring.node_for(key.as_bytes()),
                    old.as_deref(),
                )?;
            }
            Ok(())
        },
    )
}

fn balance(ctx: &mut Ctx) -> CheckResult {
    let nodes: Vec<String> = (0..10).map(name).collect();
    let ring = ring_of(160, &nodes);
    let prefix: u32 = ctx.rng().random();
    let mut load: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..10_000 {
        let key = format!("{prefix}-{i}");
        match ring.node_for(key.as_bytes()) {
            Some(node) => *load.entry(node.to_string()).or_default() += 1,
            None => {
                return fail(format!(
                    "{}; node_for(b{key:?}) gave None, but the ring has nodes",
                    built(160, &nodes)
                ));
            }
        }
    }
    let (busiest, most) = load
        .iter()
        .max_by_key(|(_, count)| **count)
        .map(|(node, count)| (node.clone(), *count))
        .unwrap_or_default();
    expect(
        most <= 1_300,
        format!(
            "Ring::new(160) with add_node(\"node-0\") .. add_node(\"node-9\"), then node_for() of \
             10,000 keys \"{prefix}-0\" .. \"{prefix}-9999\"\nexpected: every node to own at \
             most 1,300 keys (the mean is 1,000)\ngot:      {busiest} owns {most}; all: {load:?}"
        ),
    )
}

fn new_zero_panics(_: &mut Ctx) -> CheckResult {
    let mut ring = Ring::new(1);
    ring.add_node("a");
    expect_eq(
        "Ring::new(1); add_node(\"a\"); node_for(b\"key\")",
        ring.node_for(b"key"),
        Some("a"),
    )?;
    expect_panic(
        "Ring::new(0)",
        "the documentation says new panics if vnodes_per_node is 0",
        || Ring::new(0),
    )
}
