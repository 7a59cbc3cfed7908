scene_api! {
    crate redis_pubsub;

    pub type ClientId = u64;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Limits {
        pub hard: usize,
        pub soft: usize,
        pub soft_ms: i64,
    }

    impl Default for Limits;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Outcome {
        Done,
        Pass,
        Close,
    }

    pub struct Broker { .. }

    impl Broker {
        pub fn new(limits: Limits) -> Broker;
        pub fn connect(&mut self) -> ClientId;
        pub fn disconnect(&mut self, client: ClientId);
        pub fn is_open(&self, client: ClientId) -> bool;
        pub fn pending(&self, client: ClientId) -> usize;
        pub fn subscriptions(&self) -> usize;
        pub fn output(&mut self, client: ClientId, max: usize) -> Option<Vec<u8>>;
        pub fn execute(&mut self, client: ClientId, args: &[Vec<u8>], now: i64) -> Outcome;
    }

    pub fn glob_match(pattern: &[u8], channel: &[u8]) -> bool;
}
