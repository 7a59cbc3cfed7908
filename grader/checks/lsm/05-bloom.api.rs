scene_api! {
    crate lsm_bloom;

    use std::io;

    use kit::disk::Dir;

    pub const MIN_FILTER_BITS: usize = 64;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Entry {
        pub key: Vec<u8>,
        pub seq: u64,
        pub value: Option<Vec<u8>>,
    }

    pub fn filter_hash(key: &[u8]) -> u32;
    pub fn build_filter(keys: &[Vec<u8>], bits_per_key: usize) -> Vec<u8>;
    pub fn may_contain(filter: &[u8], key: &[u8]) -> bool;

    pub struct FilteredTable { .. }

    impl FilteredTable {
        pub fn open(dir: &dyn Dir, name: &str) -> io::Result<FilteredTable>;
        pub fn get(&self, key: &[u8], snapshot: u64) -> io::Result<Option<Entry>>;
    }
}
