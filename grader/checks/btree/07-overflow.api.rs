scene_api! {
    crate btree_overflow;

    use std::io;

    use kit::disk::Dir;

    pub const ROOT: u32 = 1;
    pub const INTERNAL_KIND: u8 = 0x05;
    pub const INTERNAL_HEADER: usize = 8;
    pub const ENTRY_HEADER: usize = 6;
    pub const MAX_VALUE: usize = 1 << 22;
    pub const OVERFLOW_HEADER: usize = 4;
    pub const OVERFLOW_POINTER: usize = 8;

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
        pub fn free_list(&self) -> (u32, u32);
        pub fn page(&mut self, page: u32) -> io::Result<Vec<u8>>;
        pub fn pages(&mut self) -> io::Result<Vec<(u32, Vec<u8>)>>;
        pub fn depth(&mut self) -> io::Result<usize>;
        pub fn get(&mut self, key: &[u8]) -> io::Result<Option<Vec<u8>>>;
        pub fn insert(&mut self, key: &[u8], value: &[u8]) -> io::Result<Option<Vec<u8>>>;
        pub fn delete(&mut self, key: &[u8]) -> io::Result<Option<Vec<u8>>>;
    }
}
