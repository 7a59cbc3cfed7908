scene_api! {
    crate raft_heartbeats;

    use std::ops::Range;
    use std::time::Duration;

    use kit::net::{NodeId, Process};

    pub const ELECTION_TIMEOUT_MS: Range<u64> = 150..300;
    pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(50);

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Role {
        Follower,
        Candidate,
        Leader,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Message {
        RequestVote { term: u64 },
        Vote { term: u64, granted: bool },
        AppendEntries { term: u64 },
        AppendReply { term: u64, success: bool },
    }

    impl Message {
        pub fn term(&self) -> u64;
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Timer {
        Election(u64),
        Heartbeat(u64),
    }

    pub struct Node { .. }

    impl Node {
        #[view] pub fn id(&self) -> NodeId;
        #[view] pub fn term(&self) -> u64;
        #[view] pub fn role(&self) -> Role;
        #[view] pub fn voted_for(&self) -> Option<NodeId>;
        #[view] pub fn leader_hint(&self) -> Option<NodeId>;
    }

    impl Process for Node {
        type Message = Message;
        type Timer = Timer;
        type Saved = ();
    }
}
