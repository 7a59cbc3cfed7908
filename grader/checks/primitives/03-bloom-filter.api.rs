scene_api! {
    crate primitives_bloom_filter;

    pub struct BloomFilter { .. }

    impl BloomFilter {
        pub fn new(expected_items: usize, false_positive_rate: f64) -> Self;
        pub fn insert(&mut self, key: &[u8]);
        pub fn contains(&self, key: &[u8]) -> bool;
        pub fn bit_count(&self) -> usize;
        pub fn hash_count(&self) -> u32;
        pub fn bits_set(&self) -> usize;
    }
}
