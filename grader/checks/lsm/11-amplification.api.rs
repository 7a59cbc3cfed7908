scene_api! {
    crate lsm_amplification;

    use std::io;
    use std::sync::Arc;

    use kit::disk::Dir;

    pub const MANIFEST: &str = "MANIFEST";
    pub const LEVELS: usize = 7;

    pub fn table_name(number: u64) -> String;
    pub fn wal_name(number: u64) -> String;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Strategy {
        Leveled,
        Tiered,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Options {
        pub memtable_bytes: usize,
        pub block_size: usize,
        pub restart_interval: usize,
        pub l0_tables: usize,
        pub l1_bytes: u64,
        pub multiplier: u64,
        pub table_bytes: u64,
        pub strategy: Strategy,
        pub tier_tables: usize,
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

    #[derive(Debug, Clone, PartialEq)]
    pub struct Stats {
        pub user_bytes: u64,
        pub bytes_written: u64,
        pub gets: u64,
        pub get_reads: u64,
        pub file_bytes: u64,
        pub live_bytes: u64,
        pub write_amplification: f64,
        pub read_amplification: f64,
        pub space_amplification: f64,
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
        pub fn tables(&self) -> Vec<TableInfo>;
        pub fn last_seq(&self) -> u64;
        pub fn stats(&self) -> io::Result<Stats>;
    }
}
