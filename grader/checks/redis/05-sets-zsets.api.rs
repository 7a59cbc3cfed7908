scene_api! {
    crate redis_sets_zsets;

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

    pub struct ZSkipList { .. }

    impl ZSkipList {
        pub fn new(seed: u64) -> ZSkipList;
        pub fn len(&self) -> usize;
        pub fn is_empty(&self) -> bool;
        pub fn insert(&mut self, score: f64, member: &[u8]);
        pub fn delete(&mut self, score: f64, member: &[u8]) -> bool;
        pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize>;
        pub fn by_rank(&self, rank: usize) -> Option<(Vec<u8>, f64)>;
        pub fn visited(&self) -> usize;
    }
}
