scene_api! {
    crate bitcask_keydir;

    use std::io;
    use std::sync::Arc;

    use kit::disk::Dir;

    pub const LOG_NAME: &str = "000001.log";

    pub struct Store { .. }

    impl Store {
        pub fn open(dir: Arc<dyn Dir>) -> io::Result<Store>;
        pub fn put(&mut self, key: &[u8], value: &[u8]) -> io::Result<()>;
        pub fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>>;
    }
}
