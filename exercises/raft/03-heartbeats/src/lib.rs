//! Heartbeats: a leader that stays silent is soon replaced. It sends AppendEntries (empty,
//! for now) every 50 ms, well inside the shortest election timeout; a follower that hears one
//! knows the leader is alive, resets its election timer, and remembers who leads.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::collections::BTreeSet;
use std::ops::Range;
use std::time::Duration;

use kit::net::{Ctx, NodeId, Process};

/// Election timeouts are drawn from this range, in milliseconds. Random, so that after a
/// leader dies one follower usually times out well before the others and wins alone.
pub const ELECTION_TIMEOUT_MS: Range<u64> = 150..300;

/// How often a leader sends AppendEntries: well under the shortest election timeout, so that
/// followers keep hearing from it even when some messages are lost.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

/// What nodes say to each other. Every message carries its sender's term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A candidate asks for a vote.
    RequestVote { term: u64 },
    /// The answer to a RequestVote.
    Vote { term: u64, granted: bool },
    /// The leader asserts its leadership (later, it will carry log entries too).
    AppendEntries { term: u64 },
    /// The answer to an AppendEntries: `success` is false when it came from a deposed leader.
    AppendReply { term: u64, success: bool },
}

impl Message {
    pub fn term(&self) -> u64 {
        match self {
            Message::RequestVote { term, .. }
            | Message::Vote { term, .. }
            | Message::AppendEntries { term }
            | Message::AppendReply { term, .. } => *term,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timer {
    /// Start an election, unless a newer election timer has been set since: only the timer
    /// carrying the node's current generation counts.
    Election(u64),
    /// Send the next round of heartbeats, if still the leader of this term.
    Heartbeat(u64),
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
    leader_hint: Option<NodeId>,
    /// Bumped whenever the election timer is reset: older timers are stale.
    election_generation: u64,

    // Candidate state.
    votes: BTreeSet<NodeId>,
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

    /// The leader of the current term, if this node knows it (itself, when leading).
    pub fn leader_hint(&self) -> Option<NodeId> {
        self.leader_hint
    }

    /// A node that has never run: term 0, no vote.
    fn new(id: NodeId, peers: &[NodeId]) -> Node {
        Node {
            id,
            peers: peers.to_vec(),
            current_term: 0,
            voted_for: None,
            role: Role::Follower,
            leader_hint: None,
            election_generation: 0,
            votes: BTreeSet::new(),
        }
    }

    /// More than half the cluster (this node and its peers).
    fn majority(&self) -> usize {
        let cluster = self.peers.len() + 1;
        cluster / 2 + 1
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
    fn adopt_term(&mut self, term: u64, ctx: &mut Ctx<Node>) {
        let was_leader = self.role == Role::Leader;
        self.current_term = term;
        self.voted_for = None;
        self.role = Role::Follower;
        self.leader_hint = None;
        if was_leader {
            // A leader runs no election timer; a follower needs one.
            self.reset_election_timer(ctx);
        }
    }

    /// Figure 2, followers and candidates: the election timer fired without word from a
    /// leader. Start an election for the next term, voting for ourselves.
    fn start_election(&mut self, ctx: &mut Ctx<Node>) {
        self.current_term += 1;
        self.role = Role::Candidate;
        self.voted_for = Some(self.id);
        self.leader_hint = None;
        self.votes = BTreeSet::from([self.id]);
        self.reset_election_timer(ctx);
        if self.votes.len() >= self.majority() {
            self.become_leader(ctx);
            return;
        }
        let request = Message::RequestVote {
            term: self.current_term,
        };
        for &peer in &self.peers {
            ctx.send(peer, request.clone());
        }
    }

    /// Figure 2, RequestVote: grant at most one vote per term (a repeated request from the
    /// candidate already voted for gets the same yes). The answer carries our term.
    fn on_request_vote(&mut self, from: NodeId, term: u64, ctx: &mut Ctx<Node>) {
        // A candidate of an older term is answered with our term, which makes it step down.
        // One vote per term: first come, first served (asking again gets the same answer).
        let granted = term == self.current_term && self.voted_for.is_none_or(|v| v == from);
        if granted {
            self.voted_for = Some(from);
            // Granting a vote counts as hearing from a would-be leader: give it time to win.
            self.reset_election_timer(ctx);
        }
        ctx.send(
            from,
            Message::Vote {
                term: self.current_term,
                granted,
            },
        );
    }

    /// A candidate counts the votes of its current election: a majority (itself included)
    /// makes it the leader.
    fn on_vote(&mut self, from: NodeId, term: u64, granted: bool, ctx: &mut Ctx<Node>) {
        // A vote from an earlier election, or arriving after we won or lost, counts for nothing.
        if self.role != Role::Candidate || term != self.current_term || !granted {
            return;
        }
        // A set, so that a duplicated vote counts once.
        self.votes.insert(from);
        if self.votes.len() >= self.majority() {
            self.become_leader(ctx);
        }
    }

    /// Won the election: lead: announce it to every peer at once, and keep announcing it every
    /// heartbeat interval.
    fn become_leader(&mut self, ctx: &mut Ctx<Node>) {
        todo!()
    }

    /// An empty AppendEntries to every peer: "I am still the leader of this term".
    fn broadcast_heartbeat(&self, ctx: &mut Ctx<Node>) {
        todo!()
    }

    /// Figure 2, AppendEntries: refuse a request of an older term; otherwise `from` leads
    /// this term: follow it, and reset the election timer, and answer.
    fn on_append_entries(&mut self, from: NodeId, term: u64, ctx: &mut Ctx<Node>) {
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
        if message.term() > self.current_term {
            self.adopt_term(message.term(), ctx);
        }
        match message {
            Message::RequestVote { term } => self.on_request_vote(from, term, ctx),
            Message::Vote { term, granted } => self.on_vote(from, term, granted, ctx),
            Message::AppendEntries { term } => self.on_append_entries(from, term, ctx),
            // The reply matters only for its term, handled above: a higher one deposes us.
            Message::AppendReply { .. } => {}
        }
    }

    /// An election timer counts only if it is the latest one set (its generation is current) and
    /// this node is not leading: then an election starts. A heartbeat timer of the term this node
    /// still leads sends the next round, and sets the next timer.
    fn on_timer(&mut self, timer: Timer, ctx: &mut Ctx<Node>) {
        match timer {
            Timer::Election(generation) => {
                if generation == self.election_generation && self.role != Role::Leader {
                    self.start_election(ctx);
                }
            }
            Timer::Heartbeat(term) => {
                if self.role == Role::Leader && term == self.current_term {
                    self.broadcast_heartbeat(ctx);
                    ctx.set_timer(HEARTBEAT_INTERVAL, Timer::Heartbeat(term));
                }
            }
        }
    }
}
