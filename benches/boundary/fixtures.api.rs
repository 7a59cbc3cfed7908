scene_api! {
    crate fixtures;

    use std::io;
    use std::sync::Arc;

    use kit::disk::Dir;

    #[derive(Debug, Clone, Copy, Default)]
    pub struct Mistakes {
        pub skip_checksum: bool,
        pub skip_sync: bool,
        pub keep_torn_tail: bool,
    }

    pub struct TinyStore { .. }

    impl TinyStore {
        pub fn open(dir: Arc<dyn Dir>, mistakes: Mistakes) -> io::Result<TinyStore>;
        pub fn write(&mut self, key: &[u8], value: Option<&[u8]>) -> io::Result<()>;
        pub fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
        pub fn sync(&self) -> io::Result<()>;
    }

    pub struct Gossip { .. }

    impl Process for Gossip {
        type Message = u64;
        type Timer = ();
        type Saved = u64;
    }
}
