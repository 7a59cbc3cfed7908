scene_api! {
    crate btree_rollback_journal;

    use std::io;
    use std::sync::Arc;

    use kit::disk::Dir;

    pub const MAGIC: &[u8; 16] = b"btree format 1\0\0";
    pub const HEADER_LEN: usize = 36;
    pub const MIN_PAGE_SIZE: usize = 512;
    pub const MAX_PAGE_SIZE: usize = 65536;
    pub const JOURNAL_SUFFIX: &str = "-journal";
    pub const JOURNAL_MAGIC: [u8; 8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];
    pub const JOURNAL_HEADER_LEN: usize = 24;

    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct CacheStats {
        pub hits: u64,
        pub misses: u64,
        pub evictions: u64,
        pub write_backs: u64,
    }

    pub struct Pager { .. }

    impl Pager {
        pub fn create(
            dir: Arc<dyn Dir>,
            name: &str,
            page_size: usize,
            cache_pages: usize,
        ) -> io::Result<Pager>;
        pub fn open(dir: Arc<dyn Dir>, name: &str, cache_pages: usize) -> io::Result<Pager>;
        pub fn page_size(&self) -> usize;
        pub fn page_count(&self) -> u32;
        pub fn free_list(&self) -> (u32, u32);
        pub fn stats(&self) -> CacheStats;
        pub fn in_transaction(&self) -> bool;
        pub fn begin(&mut self) -> io::Result<()>;
        pub fn set_free_list(&mut self, head: u32, count: u32) -> io::Result<()>;
        pub fn allocate(&mut self) -> io::Result<u32>;
        pub fn read(&mut self, page: u32) -> io::Result<Vec<u8>>;
        pub fn write(&mut self, page: u32, data: &[u8]) -> io::Result<()>;
        pub fn commit(&mut self) -> io::Result<()>;
        pub fn rollback(&mut self) -> io::Result<()>;
    }
}
