scene_api! {
    crate bitcask_segments;

    use std::io;
    use std::sync::Arc;

    use kit::disk::Dir;

    #[derive(Debug, Clone, Copy)]
    pub struct Options {
        pub max_segment_bytes: u64,
    }

    pub fn segment_name(id: u64) -> String;

    pub struct Store { .. }

    impl Store {
        pub fn open_with(dir: Arc<dyn Dir>, options: Options) -> io::Result<Store>;
        pub fn put(&mut self, key: &[u8], value: &[u8]) -> io::Result<()>;
        pub fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>>;
        pub fn delete(&mut self, key: &[u8]) -> io::Result<()>;
        pub fn sync(&self) -> io::Result<()>;
        pub fn segment_ids(&self) -> Vec<u64>;
    }
}
