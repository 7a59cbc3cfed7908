scene_api! {
    crate lsm_skiplist;

    pub const MAX_HEIGHT: usize = 12;

    pub struct SkipList { .. }

    impl SkipList {
        pub fn new(seed: u64) -> SkipList;
        pub fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) -> Option<Vec<u8>>;
        pub fn get(&self, key: &[u8]) -> Option<&[u8]>;
        pub fn len(&self) -> usize;
        pub fn is_empty(&self) -> bool;
        pub fn size_bytes(&self) -> usize;
        pub fn height(&self) -> usize;
        pub fn range(&self, from: &[u8], to: Option<&[u8]>, limit: usize) -> Vec<(Vec<u8>, Vec<u8>)>;
    }
}
