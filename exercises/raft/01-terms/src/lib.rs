//! Terms: Raft's logical clock. Time is cut into numbered terms, each with at most one leader.
//! Every message carries its sender's term, and three rules keep everyone in step: a node that
//! sees a higher term adopts it and becomes a follower; a message of a lower term is stale,
//! and is rejected; a follower that hears nothing for an election timeout starts the next term
//! as a candidate, voting for itself.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::ops::Range;
use std::time::Duration;

use kit::net::{Ctx, NodeId, Process};

/// Election timeouts are drawn from this range, in milliseconds.
pub const ELECTION_TIMEOUT_MS: Range<u64> = 150..300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    /// Nobody wins an election yet: that is the next scene.
    Leader,
}

/// What nodes say to each other. Every message carries its sender's term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A candidate asks for a vote.
    RequestVote { term: u64 },
    /// The answer to a RequestVote. (Granting votes comes in the next scene: for now, every
    /// answer is a refusal.)
    Vote { term: u64, granted: bool },
}

impl Message {
    pub fn term(&self) -> u64 {
        match self {
            Message::RequestVote { term } | Message::Vote { term, .. } => *term,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timer {
    /// Start an election, unless a newer election timer has been set since: only the timer
    /// carrying the node's current generation counts.
    Election(u64),
}

/// A Raft node.
#[derive(Debug)]
pub struct Node {
    id: NodeId,
    peers: Vec<NodeId>,

    // What Figure 2 calls persistent state: this node does not save it yet, and must not crash.
    current_term: u64,
    voted_for: Option<NodeId>,

    // Volatile state.
    role: Role,
    /// Bumped whenever the election timer is reset: older timers are stale.
    election_generation: u64,
}

impl Node {
    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn term(&self) -> u64 {
        self.current_term
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }

    /// A node that has never run: term 0, no vote.
    fn new(id: NodeId, peers: &[NodeId]) -> Node {
        Node {
            id,
            peers: peers.to_vec(),
            current_term: 0,
            voted_for: None,
            role: Role::Follower,
            election_generation: 0,
        }
    }

    /// Arms a fresh election timer; any timer set before it is now stale.
    fn reset_election_timer(&mut self, ctx: &mut Ctx<Node>) {
        self.election_generation += 1;
        let timeout = ctx.random_range(ELECTION_TIMEOUT_MS);
        ctx.set_timer(
            Duration::from_millis(timeout),
            Timer::Election(self.election_generation),
        );
    }

    /// Figure 2, all servers: a higher term means this node is behind. Adopt the term, forget
    /// the vote (it was for an older term), and follow.
    fn adopt_term(&mut self, term: u64) {
        todo!()
    }

    /// Figure 2, followers and candidates: the election timer fired without word from a
    /// leader. Start an election for the next term, voting for ourselves; if it comes to
    /// nothing, the next timeout starts another.
    fn start_election(&mut self, ctx: &mut Ctx<Node>) {
        todo!()
    }

    /// A vote request is refused (granting votes is the next scene), but the refusal carries
    /// our term, so that a candidate of an older term learns it is behind.
    fn on_request_vote(&self, from: NodeId, ctx: &mut Ctx<Node>) {
        todo!()
    }
}

impl Process for Node {
    type Message = Message;
    type Timer = Timer;
    /// Nothing survives a crash yet.
    type Saved = ();

    fn start(id: NodeId, peers: &[NodeId], _saved: Option<()>, ctx: &mut Ctx<Node>) -> Node {
        let mut node = Node::new(id, peers);
        node.reset_election_timer(ctx);
        node
    }

    /// Figure 2, all servers: a message of a higher term makes this node adopt that term and
    /// follow; then each message goes to its handler, which ignores or refuses what is stale.
    fn on_message(&mut self, from: NodeId, message: Message, ctx: &mut Ctx<Node>) {
        todo!()
    }

    /// An election timer counts only if it is the latest one set (its generation is current)
    /// and this node is not leading: then an election starts.
    fn on_timer(&mut self, timer: Timer, ctx: &mut Ctx<Node>) {
        todo!()
    }
}
