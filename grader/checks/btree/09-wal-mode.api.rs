scene_api! {
    crate btree_wal_mode;

    use std::io;
    use std::sync::Arc;

    use kit::disk::Dir;

    pub const MAGIC: &[u8; 16] = b"btree format 1\0\0";
    pub const HEADER_LEN: usize = 36;
    pub const MIN_PAGE_SIZE: usize = 512;
    pub const MAX_PAGE_SIZE: usize = 65536;
    pub const WAL_SUFFIX: &str = "-wal";
    pub const WAL_MAGIC: u32 = 0x377f_0682;
    pub const WAL_HEADER_LEN: usize = 20;
    pub const FRAME_HEADER_LEN: usize = 20;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Checkpoint {
        pub backfilled: u64,
        pub restarted: bool,
    }

    pub struct Pager { .. }

    impl Pager {
        pub fn create(dir: Arc<dyn Dir>, name: &str, page_size: usize) -> io::Result<Pager>;
        pub fn open(dir: Arc<dyn Dir>, name: &str) -> io::Result<Pager>;
        pub fn page_size(&self) -> usize;
        pub fn begin_read(&mut self) -> io::Result<u64>;
        pub fn snapshot(&self, reader: u64) -> io::Result<u64>;
        pub fn page_count(&self, reader: u64) -> io::Result<u32>;
        pub fn read(&mut self, reader: u64, page: u32) -> io::Result<Vec<u8>>;
        pub fn end_read(&mut self, reader: u64) -> io::Result<()>;
        pub fn begin_write(&mut self) -> io::Result<()>;
        pub fn write(&mut self, page: u32, data: &[u8]) -> io::Result<()>;
        pub fn commit(&mut self) -> io::Result<()>;
        pub fn rollback(&mut self) -> io::Result<()>;
        pub fn checkpoint(&mut self) -> io::Result<Checkpoint>;
    }
}
