scene_api! {
    crate bitcask_durability;

    use std::io;
    use std::sync::Arc;

    use kit::disk::Dir;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum SyncPolicy {
        Always,
        EveryWrites(u32),
        Never,
    }

    #[derive(Debug, Clone, Copy)]
    pub struct Options {
        pub max_segment_bytes: u64,
        pub sync: SyncPolicy,
    }

    #[shared]
    pub struct Store { .. }

    impl Store {
        pub fn open_with(dir: Arc<dyn Dir>, options: Options) -> io::Result<Store>;
        pub fn put(&self, key: &[u8], value: &[u8]) -> io::Result<()>;
        pub fn delete(&self, key: &[u8]) -> io::Result<()>;
        pub fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>>;
        pub fn sync(&self) -> io::Result<()>;
        pub fn merge(&self) -> io::Result<()>;
    }
}
