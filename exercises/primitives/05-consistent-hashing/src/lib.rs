//! Consistent hashing: spread keys over nodes so that a node joining or leaving moves few keys.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

/// The hash that places keys and vnode points on the ring: 64-bit FNV-1a, then the splitmix64
/// finaliser. It is written for you: the checks use this exact function to work out where
/// every point and every key lands, so do not change it.
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
///
/// Choose the fields yourself; a sorted map from point to node is a good start.
#[derive(Debug, Clone)]
pub struct Ring {}

impl Ring {
    /// An empty ring whose nodes will each own `vnodes_per_node` points.
    ///
    /// # Panics
    ///
    /// If `vnodes_per_node` is 0: a node without points could never own a key.
    pub fn new(vnodes_per_node: usize) -> Self {
        todo!()
    }

    /// Adds `node` and its vnode points. Adding a node already in the ring does nothing.
    pub fn add_node(&mut self, node: &str) {
        todo!()
    }

    /// Removes `node` and every one of its vnode points. Removing a node not in the ring does
    /// nothing.
    pub fn remove_node(&mut self, node: &str) {
        todo!()
    }

    /// The node that owns `key`, or `None` if the ring is empty.
    pub fn node_for(&self, key: &[u8]) -> Option<&str> {
        todo!()
    }

    /// The nodes in the ring, each once, in name order.
    pub fn nodes(&self) -> Vec<&str> {
        todo!()
    }
}
