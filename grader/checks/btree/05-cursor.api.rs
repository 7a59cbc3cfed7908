scene_api! {
    crate btree_cursor;

    use std::io;

    use kit::disk::Dir;

    pub const ROOT: u32 = 1;
    pub const INTERNAL_KIND: u8 = 0x05;
    pub const INTERNAL_HEADER: usize = 8;
    pub const ENTRY_HEADER: usize = 6;

    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct CacheStats {
        pub hits: u64,
        pub misses: u64,
        pub evictions: u64,
        pub write_backs: u64,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Cursor(pub usize);

    pub struct Tree { .. }

    impl Tree {
        pub fn create(
            dir: &dyn Dir,
            name: &str,
            page_size: usize,
            cache_pages: usize,
        ) -> io::Result<Tree>;
        pub fn open(dir: &dyn Dir, name: &str, cache_pages: usize) -> io::Result<Tree>;
        pub fn flush(&mut self) -> io::Result<()>;
        pub fn page_count(&self) -> u32;
        pub fn stats(&self) -> CacheStats;
        pub fn page(&mut self, page: u32) -> io::Result<Vec<u8>>;
        pub fn pages(&mut self) -> io::Result<Vec<(u32, Vec<u8>)>>;
        pub fn depth(&mut self) -> io::Result<usize>;
        pub fn get(&mut self, key: &[u8]) -> io::Result<Option<Vec<u8>>>;
        pub fn insert(&mut self, key: &[u8], value: &[u8]) -> io::Result<Option<Vec<u8>>>;
        pub fn cursor(&mut self) -> Cursor;
        pub fn seek(&mut self, cursor: Cursor, key: &[u8]) -> io::Result<()>;
        pub fn first(&mut self, cursor: Cursor) -> io::Result<()>;
        pub fn last(&mut self, cursor: Cursor) -> io::Result<()>;
        pub fn next(&mut self, cursor: Cursor) -> io::Result<()>;
        pub fn prev(&mut self, cursor: Cursor) -> io::Result<()>;
        pub fn key(&mut self, cursor: Cursor) -> io::Result<Option<Vec<u8>>>;
        pub fn value(&mut self, cursor: Cursor) -> io::Result<Option<Vec<u8>>>;
        pub fn scan(&mut self, start: &[u8], end: &[u8]) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>>;
    }
}
