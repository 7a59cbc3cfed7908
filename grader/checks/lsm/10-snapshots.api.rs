scene_api! {
    crate lsm_snapshots;

    use std::io;
    use std::sync::Arc;

    use kit::disk::Dir;

    pub const MANIFEST: &str = "MANIFEST";
    pub const LEVELS: usize = 7;

    pub fn table_name(number: u64) -> String;
    pub fn wal_name(number: u64) -> String;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Options {
        pub memtable_bytes: usize,
        pub block_size: usize,
        pub restart_interval: usize,
        pub l0_tables: usize,
        pub l1_bytes: u64,
        pub multiplier: u64,
        pub table_bytes: u64,
    }

    impl Default for Options;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TableInfo {
        pub level: u32,
        pub number: u64,
        pub size: u64,
        pub first_key: Vec<u8>,
        pub last_key: Vec<u8>,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Snapshot {
        pub seq: u64,
    }

    pub struct Db { .. }

    impl Db {
        pub fn open(dir: Arc<dyn Dir>, options: Options) -> io::Result<Db>;
        pub fn put(&mut self, key: &[u8], value: &[u8]) -> io::Result<()>;
        pub fn delete(&mut self, key: &[u8]) -> io::Result<()>;
        pub fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>>;
        pub fn scan(
            &self,
            from: &[u8],
            to: Option<&[u8]>,
            limit: usize,
        ) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>>;
        pub fn flush(&mut self) -> io::Result<()>;
        pub fn compact(&mut self) -> io::Result<()>;
        pub fn compact_all(&mut self) -> io::Result<()>;
        pub fn snapshot(&mut self) -> Snapshot;
        pub fn release(&mut self, snapshot: Snapshot);
        pub fn get_at(&self, key: &[u8], snapshot: &Snapshot) -> io::Result<Option<Vec<u8>>>;
        pub fn scan_at(
            &self,
            from: &[u8],
            to: Option<&[u8]>,
            limit: usize,
            snapshot: &Snapshot,
        ) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>>;
        pub fn tables(&self) -> Vec<TableInfo>;
        pub fn last_seq(&self) -> u64;
    }
}
