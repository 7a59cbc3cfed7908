//! Commit: an entry is committed once it is safe for good: stored on a majority, so that any
//! future leader has it. The leader decides, counting its followers' match indexes; the
//! followers learn it from the leader's commit index; everyone applies committed entries to
//! the state machine, in order, exactly once.
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
    /// The leader's commit index.
    pub leader_commit: u64,
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
    commit_index: u64,
    /// The commands applied to the state machine, in log order: `applied.len()` is
    /// Figure 2's `lastApplied`.
    applied: Vec<Command>,
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
        self.log.len() as u64
    }

    /// The entry at `index` (1-based), if the log has one.
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        let i = usize::try_from(index).ok()?.checked_sub(1)?;
        self.log.get(i)
    }

    /// The highest index known to be committed.
    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }

    /// What this node has applied to its state machine, in log order, each entry exactly once.
    pub fn applied(&self) -> &[Command] {
        &self.applied
    }

    /// Asks the leader to replicate `command`: its index in the log, or where to go instead.
    /// The command is committed once a majority stores it; watch [`Node::applied`].
    pub fn propose(&mut self, command: Command, ctx: &mut Ctx<Node>) -> Result<u64, NotLeader> {
        if self.role != Role::Leader {
            return Err(NotLeader {
                leader_hint: self.leader_hint,
            });
        }
        self.log.push(Entry {
            term: self.current_term,
            command,
        });
        self.broadcast_append(ctx);
        // A cluster of one commits on its own.
        self.advance_commit_index();
        Ok(self.last_log_index())
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
            commit_index: 0,
            applied: Vec::new(),
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
        self.entry(index).map_or(0, |entry| entry.term)
    }

    /// The term of the last entry (0 for an empty log).
    fn last_log_term(&self) -> u64 {
        self.term_at(self.last_log_index())
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
        // A candidate of an older term is answered with our term, which makes it step down.
        let granted = term == self.current_term
            && self.voted_for.is_none_or(|v| v == from)
            // The election restriction (§5.4.1): only a candidate whose log is at least as up
            // to date as ours can hold every committed entry.
            && (last_log_term, last_log_index) >= (self.last_log_term(), self.last_log_index());
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

    /// Won the election: lead: announce it at once and every heartbeat interval, and start each
    /// follower's `next_index` just past our log (`match_index` at 0).
    fn become_leader(&mut self, ctx: &mut Ctx<Node>) {
        self.role = Role::Leader;
        self.leader_hint = Some(self.id);
        // The pending election timer is now stale: a leader does not time out.
        self.election_generation += 1;
        let next = self.last_log_index() + 1;
        self.next_index = self.peers.iter().map(|&p| (p, next)).collect();
        self.match_index = self.peers.iter().map(|&p| (p, 0)).collect();
        // Announce ourselves at once, then keep it up.
        self.broadcast_append(ctx);
        ctx.set_timer(HEARTBEAT_INTERVAL, Timer::Heartbeat(self.current_term));
    }

    /// AppendEntries to every peer, each from its own `next_index`.
    fn broadcast_append(&self, ctx: &mut Ctx<Node>) {
        for &peer in &self.peers {
            self.send_append(peer, ctx);
        }
    }

    /// Sends `peer` everything from its `next_index` on (up to a batch), with the entry before
    /// it for the consistency check. With nothing to send, it is a heartbeat.
    fn send_append(&self, peer: NodeId, ctx: &mut Ctx<Node>) {
        let next = self.next_index[&peer];
        let prev_log_index = next - 1;
        let entries: Vec<Entry> = self
            .log
            .iter()
            .skip(prev_log_index as usize)
            .take(MAX_ENTRIES_PER_MESSAGE)
            .cloned()
            .collect();
        ctx.send(
            peer,
            Message::AppendEntries(AppendEntries {
                term: self.current_term,
                prev_log_index,
                prev_log_term: self.term_at(prev_log_index),
                entries,
                leader_commit: self.commit_index,
            }),
        );
    }

    /// Figure 2, AppendEntries: refuse a request of an older term; otherwise `from` leads this
    /// term: follow it, and reset the election timer. Then the consistency check at
    /// `prev_log_index`; on success, take the entries in, learn the commit index. Answer with our
    /// term.
    fn on_append_entries(&mut self, from: NodeId, request: AppendEntries, ctx: &mut Ctx<Node>) {
        let AppendEntries {
            term,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
        } = request;
        if term < self.current_term {
            // From a deposed leader: our term in the reply tells it so.
            self.reply_append(from, false, prev_log_index, ctx);
            return;
        }
        // The term's one leader is `from`: a candidate of this term lost, and steps down.
        debug_assert_ne!(self.role, Role::Leader, "two leaders in term {term}");
        self.role = Role::Follower;
        self.leader_hint = Some(from);
        self.reset_election_timer(ctx);

        // The consistency check: our log must hold the entry the new ones follow.
        if prev_log_index > self.last_log_index() || self.term_at(prev_log_index) != prev_log_term {
            self.reply_append(from, false, prev_log_index, ctx);
            return;
        }
        let last_new = prev_log_index + entries.len() as u64;
        self.accept_entries(prev_log_index, entries);
        self.learn_commit(leader_commit, last_new);
        self.reply_append(from, true, last_new, ctx);
    }

    /// Figure 2, AppendEntries rule 5: commit what the leader has committed, but only as far
    /// as this request proved our log matches the leader's (up to `last_new`). Entries beyond
    /// it may be leftovers of an older term that the leader's log does not have. The commit
    /// index never goes down: a late request may prove less than a later one already did.
    fn learn_commit(&mut self, leader_commit: u64, last_new: u64) {
        todo!()
    }

    /// Figure 2, AppendEntries rules 3 and 4: an entry that conflicts with a new one (same
    /// index, different term) goes, with everything after it; entries already present stay.
    /// Truncating unconditionally would let a delayed, older request erase newer entries this
    /// node has already acknowledged, and that the leader may have counted as committed.
    fn accept_entries(&mut self, prev_log_index: u64, entries: Vec<Entry>) {
        for (offset, entry) in entries.into_iter().enumerate() {
            let index = prev_log_index + 1 + offset as u64;
            if index <= self.last_log_index() {
                if self.term_at(index) == entry.term {
                    continue;
                }
                debug_assert!(index > self.commit_index, "truncating a committed entry");
                self.log.truncate(index as usize - 1);
            }
            self.log.push(entry);
        }
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
        if self.role != Role::Leader || term != self.current_term {
            return;
        }
        if success {
            self.match_index.insert(from, index);
            self.next_index.insert(from, index + 1);
            self.advance_commit_index();
        } else {
            let next = index.min(last_log_index + 1).max(1);
            self.next_index.insert(from, next);
            self.send_append(from, ctx);
        }
    }

    /// Figure 2, leaders: commit the highest index stored on a majority, if its entry is of
    /// the current term. An older term's entry, even on a majority, can still be overwritten
    /// by a future leader (Figure 8); it commits only along with one of our own.
    fn advance_commit_index(&mut self) {
        todo!()
    }

    /// Applies committed entries, in order, each once.
    fn apply_committed(&mut self) {
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
