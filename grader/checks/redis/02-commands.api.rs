scene_api! {
    crate redis_commands;

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

    pub struct Db { .. }

    impl Db {
        pub fn new() -> Db;
        pub fn execute(&mut self, request: Frame) -> Reply;
    }

    impl Default for Db;
}
