scene_api! {
    crate redis_transactions;

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

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct ClientId(pub u64);

    pub struct Server { .. }

    impl Server {
        pub fn new() -> Server;
        pub fn connect(&mut self) -> ClientId;
        pub fn execute(&mut self, client: ClientId, request: Frame, now: i64) -> Reply;
        pub fn disconnect(&mut self, client: ClientId);
        pub fn active_expire_cycle(&mut self, now: i64, seed: u64) -> usize;
        pub fn watched_keys(&self) -> usize;
    }

    impl Default for Server;
}
