scene_api! {
    crate bitcask_log;

    use std::io;

    use kit::disk::Dir;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Record {
        pub key: Vec<u8>,
        pub value: Option<Vec<u8>>,
    }

    impl Record {
        pub fn put(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Record;
        pub fn tombstone(key: impl Into<Vec<u8>>) -> Record;
        pub fn encoded_len(&self) -> usize;
        pub fn encode(&self) -> Vec<u8>;
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Position {
        pub offset: u64,
        pub len: u32,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Scan {
        pub records: Vec<(Position, Record)>,
        pub valid_len: u64,
    }

    pub struct Log { .. }

    impl Log {
        pub fn create(dir: &dyn Dir, name: &str) -> io::Result<Log>;
        pub fn open(dir: &dyn Dir, name: &str) -> io::Result<Log>;
        pub fn append(&mut self, record: &Record) -> io::Result<Position>;
        pub fn read(&self, at: Position) -> io::Result<Record>;
        pub fn scan(&self) -> io::Result<Scan>;
        pub fn truncate(&mut self, len: u64) -> io::Result<()>;
        pub fn sync(&self) -> io::Result<()>;
        pub fn len(&self) -> u64;
        pub fn is_empty(&self) -> bool;
    }
}
