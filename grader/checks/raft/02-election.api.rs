scene_api! {
    crate raft_election;

    use std::ops::Range;

    use kit::net::{NodeId, Process};

    pub const ELECTION_TIMEOUT_MS: Range<u64> = 150..300;

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
    }

    impl Message {
        pub fn term(&self) -> u64;
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Timer {
        Election(u64),
    }

    pub struct Node { .. }

    impl Node {
        #[view] pub fn id(&self) -> NodeId;
        #[view] pub fn term(&self) -> u64;
        #[view] pub fn role(&self) -> Role;
        #[view] pub fn voted_for(&self) -> Option<NodeId>;
    }

    impl std::fmt::Debug for Node;

    impl Process for Node {
        type Message = Message;
        type Timer = Timer;
        type Saved = ();
    }
}
