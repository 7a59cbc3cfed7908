scene_api! {
    crate primitives_consistent_hashing;

    pub fn hash(bytes: &[u8]) -> u64;

    pub struct Ring { .. }

    impl Ring {
        pub fn new(vnodes_per_node: usize) -> Self;
        pub fn add_node(&mut self, node: &str);
        pub fn remove_node(&mut self, node: &str);
        pub fn node_for(&self, key: &[u8]) -> Option<&str>;
        pub fn nodes(&self) -> Vec<&str>;
    }
}
