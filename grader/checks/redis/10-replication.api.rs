scene_api! {
    crate redis_replication;

    use std::collections::BTreeMap;
    use std::time::Duration;

    use kit::net::{Ctx, NodeId, Process};

    pub const BACKLOG: usize = 64;
    pub const TICK: Duration = Duration::from_millis(100);
    pub const TIMEOUT: Duration = Duration::from_millis(500);

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Command {
        Set { key: Vec<u8>, value: Vec<u8> },
        Del { key: Vec<u8> },
        Append { key: Vec<u8>, value: Vec<u8> },
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Role {
        Primary,
        Replica { primary: NodeId },
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct NotPrimary;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Message {
        Psync { replid: u64, offset: u64 },
        FullResync {
            replid: u64,
            offset: u64,
            snapshot: Vec<(Vec<u8>, Vec<u8>)>,
        },
        Continue {
            replid: u64,
            offset: u64,
            commands: Vec<Command>,
        },
        Command {
            replid: u64,
            offset: u64,
            command: Command,
        },
        Ping { replid: u64, offset: u64 },
        GetAck,
        Ack { offset: u64 },
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Timer {
        Tick,
        Wait(u64),
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Saved {
        pub primary: Option<NodeId>,
    }

    pub struct Node { .. }

    impl Node {
        #[view] pub fn role(&self) -> Role;
        #[view] pub fn replid(&self) -> u64;
        #[view] pub fn offset(&self) -> u64;
        #[view] pub fn store(&self) -> &BTreeMap<Vec<u8>, Vec<u8>>;
        #[view] pub fn replicas(&self) -> &BTreeMap<NodeId, u64>;
        #[view] pub fn wait_result(&self, id: u64) -> Option<usize>;
        pub fn write(&mut self, command: Command, ctx: &mut Ctx<Node>) -> Result<u64, NotPrimary>;
        pub fn wait(&mut self, replicas: usize, timeout: Duration, ctx: &mut Ctx<Node>) -> u64;
        pub fn promote(&mut self, ctx: &mut Ctx<Node>);
        pub fn replicate(&mut self, primary: NodeId, ctx: &mut Ctx<Node>);
    }

    impl Process for Node {
        type Message = Message;
        type Timer = Timer;
        type Saved = Saved;
    }
}
