scene_api! {
    crate redis_lists_hashes;

    pub const SAMPLE: usize = 20;
    pub const MAX_ROUNDS: usize = 16;

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
    pub struct Round {
        pub sampled: usize,
        pub expired: usize,
    }

    pub struct Db { .. }

    impl Db {
        pub fn new() -> Db;
        pub fn execute(&mut self, request: Frame, now: i64) -> Reply;
        pub fn active_expire_cycle(&mut self, now: i64, seed: u64) -> Vec<Round>;
    }

    impl Default for Db;
}
