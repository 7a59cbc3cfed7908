scene_api! {
    crate btree_leaf;

    use std::io;

    pub const LEAF_KIND: u8 = 0x0D;
    pub const LEAF_HEADER: usize = 12;
    pub const SLOT: usize = 2;
    pub const CELL_HEADER: usize = 4;

    pub fn max_cell(page_size: usize) -> usize;

    pub struct Leaf { .. }

    impl Leaf {
        pub fn new(page_size: usize) -> io::Result<Leaf>;
        pub fn from_bytes(page: Vec<u8>) -> io::Result<Leaf>;
        pub fn bytes(&self) -> &[u8];
        pub fn len(&self) -> usize;
        pub fn is_empty(&self) -> bool;
        pub fn free_space(&self) -> usize;
        pub fn search(&self, key: &[u8]) -> Result<usize, usize>;
        pub fn get(&self, key: &[u8]) -> Option<&[u8]>;
        pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)>;
        pub fn insert(&mut self, key: &[u8], value: &[u8]) -> io::Result<Option<Vec<u8>>>;
    }
}
