scene_api! {
    crate redis_aof;

    use std::io;
    use std::sync::Arc;

    use kit::disk::Dir;

    pub const AOF_NAME: &str = "appendonly.aof";
    pub const REWRITE_NAME: &str = "temp-rewrite.aof";

    #[derive(Debug, Clone, PartialEq)]
    pub enum Frame {
        Simple(String),
        Error(String),
        Integer(i64),
        Bulk(Vec<u8>),
        NullBulk,
        Array(Vec<Frame>),
        NullArray,
        Null,
        Boolean(bool),
        Double(f64),
        BigNumber(String),
        BulkError(Vec<u8>),
        Verbatim { format: String, text: Vec<u8> },
        Map(Vec<(Frame, Frame)>),
        Set(Vec<Frame>),
        Push(Vec<Frame>),
    }

    #[derive(Debug, Clone, PartialEq)]
    pub enum Reply {
        Send(Frame),
        Nothing,
        Close(Frame),
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Fsync {
        Always,
        EverySec,
        No,
    }

    pub struct Db { .. }

    impl Db {
        pub fn new() -> Db;
        pub fn execute(&mut self, request: Frame, now: i64) -> Reply;
    }

    impl Default for Db;

    pub struct Aof { .. }

    impl Aof {
        pub fn open(dir: Arc<dyn Dir>, policy: Fsync, now: i64) -> io::Result<Aof>;
        pub fn execute(&mut self, request: Frame, now: i64) -> io::Result<Reply>;
        pub fn tick(&mut self, now: i64) -> io::Result<()>;
        pub fn rewrite(&mut self, now: i64) -> io::Result<()>;
    }
}
