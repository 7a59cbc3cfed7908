scene_api! {
    crate btree_slotted_page;

    pub const HEADER_SIZE: usize = 8;
    pub const POINTER_SIZE: usize = 2;
    pub const MIN_CELL_SIZE: usize = 4;
    pub const MAX_FRAGMENTED: usize = 60;
    pub const MIN_PAGE_SIZE: usize = 512;
    pub const MAX_PAGE_SIZE: usize = 65536;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Full;

    pub fn cell_size(len: usize) -> usize;

    pub struct Page { .. }

    impl Page {
        pub fn new(size: usize) -> Page;
        pub fn from_bytes(bytes: Vec<u8>) -> Page;
        #[view]
        pub fn bytes(&self) -> &[u8];
        #[view]
        pub fn count(&self) -> usize;
        pub fn cell(&self, index: usize) -> &[u8];
        pub fn free_space(&self) -> usize;
        pub fn insert(&mut self, index: usize, cell: &[u8]) -> Result<(), Full>;
        pub fn remove(&mut self, index: usize);
        pub fn defragment(&mut self);
    }
}
