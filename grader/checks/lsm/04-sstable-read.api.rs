scene_api! {
    crate lsm_sstable_read;

    use std::io;

    use kit::disk::Dir;

    pub const FOOTER_LEN: u64 = 40;
    pub const MAGIC: u64 = 0x4C53_4D54_4142_4C45;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Entry {
        pub key: Vec<u8>,
        pub seq: u64,
        pub value: Option<Vec<u8>>,
    }

    pub struct Table { .. }

    impl Table {
        pub fn open(dir: &dyn Dir, name: &str) -> io::Result<Table>;
        pub fn get(&self, key: &[u8], snapshot: u64) -> io::Result<Option<Entry>>;
        pub fn iter(&self) -> TableIter;
    }

    pub struct TableIter { .. }

    impl TableIter {
        pub fn seek(&mut self, key: &[u8]) -> io::Result<()>;
        #[allow(clippy::should_implement_trait)]
        pub fn next(&mut self) -> io::Result<Option<Entry>>;
    }
}
