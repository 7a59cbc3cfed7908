//! Replication: the leader's log is the truth, and it copies it to its followers. Each
//! AppendEntries carries the entry just before the new ones, and a follower accepts only if
//! its log holds that entry: by induction, a follower that accepts has the leader's log up to
//! the last new entry (the Log Matching property). The leader tracks, per follower, where to
//! send from next, and backs off when the check fails. And since a new leader never discards
//! its own entries, only a candidate whose log is at least as up to date as a majority's may
//! win an election.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

use kit::net::{Ctx, NodeId, Process};

/// Election timeouts are drawn from this range, in milliseconds. Random, so that after a
/// leader dies one follower usually times out well before the others and wins alone.
pub const ELECTION_TIMEOUT_MS: Range<u64> = 150..300;

/// How often a leader sends AppendEntries: well under the shortest election timeout, so that
/// followers keep hearing from it even when some messages are lost.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(50);

/// At most this many entries ride in one AppendEntries; a follower far behind catches up over
/// several rounds.
pub const MAX_ENTRIES_PER_MESSAGE: usize = 32;

/// What clients ask the replicated state machine to do. Opaque to Raft.
pub type Command = String;

/// One slot of the replicated log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The term of the leader that created the entry.
    pub term: u64,
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

/// A request that only the leader can serve went to another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotLeader {
    /// Who this node believes leads, if anyone: where the client should try next.
    pub leader_hint: Option<NodeId>,
}

/// What nodes say to each other. Every message carries its sender's term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A candidate asks for a vote.
    RequestVote {
        term: u64,
        /// The index and term of the candidate's last entry: voters refuse candidates whose
        /// log is behind theirs.
        last_log_index: u64,
        last_log_term: u64,
    },
    /// The answer to a RequestVote.
    Vote { term: u64, granted: bool },
    /// The leader replicates entries (none, for a heartbeat).
    AppendEntries(AppendEntries),
    /// The answer to an AppendEntries.
    AppendReply {
        term: u64,
        /// Whether the follower held the leader's entry at `prev_log_index`.
        success: bool,
        /// On success, the follower's log now matches the leader's up to this index
        /// (`prev_log_index + entries.len()`). On failure, the `prev_log_index` that did not
        /// match: it tells the leader which request this answers.
        index: u64,
        /// On failure, the follower's last log index, so that a leader far ahead can jump back
        /// in one step instead of one entry per round trip.
        last_log_index: u64,
    },
}

/// The leader's request to append entries: Figure 2's AppendEntries RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendEntries {
    pub term: u64,
    /// The entry just before `entries`: the follower must hold it, or the request fails.
    pub prev_log_index: u64,
    pub prev_log_term: u64,
    pub entries: Vec<Entry>,
}

impl Message {
    pub fn term(&self) -> u64 {
        match self {
            Message::RequestVote { term, .. }
            | Message::Vote { term, .. }
            | Message::AppendReply { term, .. } => *term,
            Message::AppendEntries(request) => request.term,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timer {
    /// Start an election, unless a newer election timer has been set since: only the timer
    /// carrying the node's current generation counts.
    Election(u64),
    /// Send the next round of AppendEntries, if still the leader of this term.
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
    /// `log[0]` is the entry at index 1.
    log: Vec<Entry>,

    // Volatile state.
    role: Role,
    leader_hint: Option<NodeId>,
    /// Bumped whenever the election timer is reset: older timers are stale.
    election_generation: u64,

    // Candidate state.
    votes: BTreeSet<NodeId>,

    // Leader state, reset on election.
    next_index: BTreeMap<NodeId, u64>,
    match_index: BTreeMap<NodeId, u64>,
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

    /// The whole log; `log()[i]` is the entry at index `i + 1`.
    pub fn log(&self) -> &[Entry] {
        &self.log
    }

    /// The index of the last entry (0 for an empty log).
    pub fn last_log_index(&self) -> u64 {
        todo!()
    }

    /// The entry at `index` (1-based), if the log has one.
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        todo!()
    }

    /// Asks the leader to replicate `command`: its index in the log, or where to go instead.
    pub fn propose(&mut self, command: Command, ctx: &mut Ctx<Node>) -> Result<u64, NotLeader> {
        todo!()
    }

    /// A node that has never run: term 0, no vote, an empty log.
    fn new(id: NodeId, peers: &[NodeId]) -> Node {
        Node {
            id,
            peers: peers.to_vec(),
            current_term: 0,
            voted_for: None,
            log: Vec::new(),
            role: Role::Follower,
            leader_hint: None,
            election_generation: 0,
            votes: BTreeSet::new(),
            next_index: BTreeMap::new(),
            match_index: BTreeMap::new(),
        }
    }

    /// More than half the cluster (this node and its peers).
    fn majority(&self) -> usize {
        let cluster = self.peers.len() + 1;
        cluster / 2 + 1
    }

    /// The term of the entry at `index`; 0 for index 0, the empty start of every log.
    fn term_at(&self, index: u64) -> u64 {
        todo!()
    }

    /// The term of the last entry (0 for an empty log).
    fn last_log_term(&self) -> u64 {
        todo!()
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
            last_log_index: self.last_log_index(),
            last_log_term: self.last_log_term(),
        };
        for &peer in &self.peers {
            ctx.send(peer, request.clone());
        }
    }

    /// Figure 2, RequestVote: grant at most one vote per term (a repeated request from the
    /// candidate already voted for gets the same yes), and (the election restriction, §5.4.1) only
    /// to a candidate whose log is at least as up to date as ours: last term higher, or equal with
    /// an index as high. The answer carries our term.
    fn on_request_vote(
        &mut self,
        from: NodeId,
        term: u64,
        last_log_index: u64,
        last_log_term: u64,
        ctx: &mut Ctx<Node>,
    ) {
        todo!()
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

    /// Won the election: lead: announce it at once and every heartbeat interval, and start each
    /// follower's `next_index` just past our log (`match_index` at 0).
    fn become_leader(&mut self, ctx: &mut Ctx<Node>) {
        todo!()
    }

    /// AppendEntries to every peer, each from its own `next_index`.
    fn broadcast_append(&self, ctx: &mut Ctx<Node>) {
        todo!()
    }

    /// Sends `peer` everything from its `next_index` on (up to a batch), with the entry before
    /// it for the consistency check. With nothing to send, it is a heartbeat.
    fn send_append(&self, peer: NodeId, ctx: &mut Ctx<Node>) {
        todo!()
    }

    /// Figure 2, AppendEntries: refuse a request of an older term; otherwise `from` leads
    /// this term: follow it, and reset the election timer. Then the consistency check
    /// at `prev_log_index`; on success, take the entries in. Answer with our term.
    fn on_append_entries(&mut self, from: NodeId, request: AppendEntries, ctx: &mut Ctx<Node>) {
        todo!()
    }

    /// Figure 2, AppendEntries rules 3 and 4: an entry that conflicts with a new one (same
    /// index, different term) goes, with everything after it; entries already present stay.
    /// Truncating unconditionally would let a delayed, older request erase newer entries this
    /// node has already acknowledged, and that the leader may have counted as committed.
    fn accept_entries(&mut self, prev_log_index: u64, entries: Vec<Entry>) {
        todo!()
    }

    fn reply_append(&self, to: NodeId, success: bool, index: u64, ctx: &mut Ctx<Node>) {
        ctx.send(
            to,
            Message::AppendReply {
                term: self.current_term,
                success,
                index,
                last_log_index: self.last_log_index(),
            },
        );
    }

    /// The leader learns how a follower's log compares to its own: on success, it matches up
    /// to `index`; on failure, the follower lacks our entry at `index`, so probe further back
    /// (straight to the end of its log, if that is shorter).
    fn on_append_reply(
        &mut self,
        from: NodeId,
        term: u64,
        success: bool,
        index: u64,
        last_log_index: u64,
        ctx: &mut Ctx<Node>,
    ) {
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
            Message::RequestVote {
                term,
                last_log_index,
                last_log_term,
            } => self.on_request_vote(from, term, last_log_index, last_log_term, ctx),
            Message::Vote { term, granted } => self.on_vote(from, term, granted, ctx),
            Message::AppendEntries(request) => self.on_append_entries(from, request, ctx),
            Message::AppendReply {
                term,
                success,
                index,
                last_log_index,
            } => self.on_append_reply(from, term, success, index, last_log_index, ctx),
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
                    self.broadcast_append(ctx);
                    ctx.set_timer(HEARTBEAT_INTERVAL, Timer::Heartbeat(term));
                }
            }
        }
    }
}
