scene_api! {
    crate raft_kv;

    use std::collections::BTreeMap;
    use std::ops::Range;
    use std::time::Duration;

    use kit::net::{Ctx, NodeId, Process};

    pub const ELECTION_TIMEOUT_MS: Range<u64> = 150..300;
    pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(50);
    pub const MAX_ENTRIES_PER_MESSAGE: usize = 32;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Op {
        Put { key: String, value: String },
        Append { key: String, value: String },
        Get { key: String },
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Command {
        pub client_id: u64,
        pub seq: u64,
        pub op: Op,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Entry {
        pub term: u64,
        pub command: Command,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Role {
        Follower,
        Candidate,
        Leader,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct NotLeader {
        pub leader_hint: Option<NodeId>,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Message {
        RequestVote {
            term: u64,
            last_log_index: u64,
            last_log_term: u64,
        },
        Vote { term: u64, granted: bool },
        AppendEntries(AppendEntries),
        AppendReply {
            term: u64,
            success: bool,
            index: u64,
            last_log_index: u64,
        },
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AppendEntries {
        pub term: u64,
        pub prev_log_index: u64,
        pub prev_log_term: u64,
        pub entries: Vec<Entry>,
        pub leader_commit: u64,
    }

    impl Message {
        pub fn term(&self) -> u64;
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Timer {
        Election(u64),
        Heartbeat(u64),
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Saved {
        pub current_term: u64,
        pub voted_for: Option<NodeId>,
        pub log: Vec<Entry>,
    }

    pub struct Node { .. }

    impl Node {
        #[view] pub fn id(&self) -> NodeId;
        #[view] pub fn term(&self) -> u64;
        #[view] pub fn role(&self) -> Role;
        #[view] pub fn voted_for(&self) -> Option<NodeId>;
        #[view] pub fn leader_hint(&self) -> Option<NodeId>;
        #[view] pub fn log(&self) -> &[Entry];
        #[view] pub fn last_log_index(&self) -> u64;
        #[view] pub fn entry(&self, index: u64) -> Option<&Entry>;
        #[view] pub fn commit_index(&self) -> u64;
        #[view] pub fn applied(&self) -> &[Command];
        #[view] pub fn store(&self) -> &BTreeMap<String, String>;
        #[view] pub fn result(&self, client_id: u64, seq: u64) -> Option<Option<String>>;
        pub fn propose(&mut self, command: Command, ctx: &mut Ctx<Node>) -> Result<u64, NotLeader>;
    }

    impl Process for Node {
        type Message = Message;
        type Timer = Timer;
        type Saved = Saved;
    }
}
