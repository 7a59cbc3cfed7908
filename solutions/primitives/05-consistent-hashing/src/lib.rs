//! Consistent hashing: spread keys over nodes so that a node joining or leaving moves few keys.
//!
//! The reference solution: the ring is a `BTreeMap` from point to node, so a lookup is one
//! range query plus a wrap-around.

use std::collections::{BTreeMap, BTreeSet};

/// The hash that places keys and vnode points on the ring: 64-bit FNV-1a, then the splitmix64
/// finaliser.
///
/// FNV-1a alone leaves the high bits of short, similar strings (`"a#1"`, `"a#2"`) poorly mixed,
/// and the high bits are what decide where a point lands on the ring. The finaliser fixes that.
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A consistent-hash ring with virtual nodes.
///
/// Node `node` owns `vnodes_per_node` points on the ring, at `hash("{node}#{i}")` for `i` in
/// `0..vnodes_per_node` (for node `"a"` and 3 vnodes: the hashes of `"a#0"`, `"a#1"`, `"a#2"`).
/// A key belongs to the node of the first point at or after `hash(key)`, wrapping around to the
/// smallest point when no point is that large.
#[derive(Debug, Clone)]
pub struct Ring {
    vnodes_per_node: usize,
    /// Every vnode point, and the node it belongs to.
    points: BTreeMap<u64, String>,
    /// The nodes in the ring, in name order.
    nodes: BTreeSet<String>,
}

impl Ring {
    /// An empty ring whose nodes will each own `vnodes_per_node` points.
    ///
    /// # Panics
    ///
    /// If `vnodes_per_node` is 0: a node without points could never own a key.
    pub fn new(vnodes_per_node: usize) -> Self {
        assert!(vnodes_per_node > 0, "a node needs at least one point");
        Self {
            vnodes_per_node,
            points: BTreeMap::new(),
            nodes: BTreeSet::new(),
        }
    }

    /// Adds `node` and its vnode points. Adding a node already in the ring does nothing.
    pub fn add_node(&mut self, node: &str) {
        if !self.nodes.insert(node.to_string()) {
            return;
        }
        for point in self.points_of(node) {
            // Two points colliding in 64 bits is astronomically unlikely; if it ever happens,
            // the point stays with the node that placed it first.
            self.points.entry(point).or_insert_with(|| node.to_string());
        }
    }

    /// Removes `node` and every one of its vnode points. Removing a node not in the ring does
    /// nothing.
    pub fn remove_node(&mut self, node: &str) {
        if !self.nodes.remove(node) {
            return;
        }
        for point in self.points_of(node) {
            // Only remove the point if it is really ours (see the collision note in `add_node`).
            if self.points.get(&point).is_some_and(|owner| owner == node) {
                self.points.remove(&point);
            }
        }
    }

    /// The node that owns `key`, or `None` if the ring is empty.
    pub fn node_for(&self, key: &[u8]) -> Option<&str> {
        let h = hash(key);
        self.points
            .range(h..)
            .next()
            // Past the last point: wrap around to the first.
            .or_else(|| self.points.first_key_value())
            .map(|(_, node)| node.as_str())
    }

    /// The nodes in the ring, each once, in name order.
    pub fn nodes(&self) -> Vec<&str> {
        self.nodes.iter().map(String::as_str).collect()
    }

    /// Where `node`'s vnode points sit on the ring.
    fn points_of(&self, node: &str) -> Vec<u64> {
        (0..self.vnodes_per_node)
            .map(|i| hash(format!("{node}#{i}").as_bytes()))
            .collect()
    }
}
