scene_api! {
    crate lsm_sstable_write;

    use std::io;
    use std::sync::Arc;

    use kit::disk::Dir;

    pub const MAGIC: u64 = 0x4C53_4D54_4142_4C45;
    pub const FOOTER_LEN: usize = 40;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Entry {
        pub key: Vec<u8>,
        pub seq: u64,
        pub value: Option<Vec<u8>>,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Options {
        pub block_size: usize,
        pub restart_interval: usize,
    }

    impl Default for Options;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TableMeta {
        pub entries: u64,
        pub data_blocks: u64,
        pub size: u64,
        pub first_key: Vec<u8>,
        pub last_key: Vec<u8>,
    }

    pub struct TableWriter { .. }

    impl TableWriter {
        pub fn create(dir: Arc<dyn Dir>, name: &str, options: Options) -> io::Result<TableWriter>;
        pub fn add(&mut self, entry: &Entry) -> io::Result<()>;
        pub fn finish(&mut self) -> io::Result<TableMeta>;
    }
}
