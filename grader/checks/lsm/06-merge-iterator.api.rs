scene_api! {
    crate lsm_merge_iterator;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Entry {
        pub key: Vec<u8>,
        pub seq: u64,
        pub value: Option<Vec<u8>>,
    }

    pub struct MergeIter { .. }

    impl MergeIter {
        pub fn new(runs: Vec<Vec<Entry>>) -> MergeIter;
        pub fn seek(&mut self, key: &[u8]);
        // The crate's `Iterator::next`: the proxy, which is no iterator, has it as a method.
        #[allow(clippy::should_implement_trait)]
        pub fn next(&mut self) -> Option<Entry>;
    }

    pub fn scan(
        runs: Vec<Vec<Entry>>,
        from: &[u8],
        to: Option<&[u8]>,
        snapshot: u64,
        limit: usize,
    ) -> Vec<(Vec<u8>, Vec<u8>)>;
    pub fn get(runs: Vec<Vec<Entry>>, key: &[u8], snapshot: u64) -> Option<Vec<u8>>;
}
