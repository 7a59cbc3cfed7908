scene_api! {
    crate lsm_wal;

    use std::io;

    use kit::disk::Dir;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Op {
        Put { key: Vec<u8>, value: Vec<u8> },
        Delete { key: Vec<u8> },
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Batch {
        pub seq: u64,
        pub ops: Vec<Op>,
    }

    pub struct Wal { .. }

    impl Wal {
        pub fn create(dir: &dyn Dir, name: &str) -> io::Result<Wal>;
        pub fn open(dir: &dyn Dir, name: &str) -> io::Result<Wal>;
        pub fn recovered(&self) -> &[Batch];
        pub fn commit(&mut self, batches: &[Batch]) -> io::Result<()>;
        pub fn len(&self) -> u64;
        pub fn is_empty(&self) -> bool;
    }
}
