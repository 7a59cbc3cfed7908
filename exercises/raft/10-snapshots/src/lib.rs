//! Snapshots: the log cannot grow forever. Once enough of it is applied, a node writes down
//! its state machine (the store and the client sessions) as of the last applied index, and
//! throws away the log up to there. Indexes keep their meaning: the log now starts after the
//! snapshot. A follower so far behind that the leader has discarded the entries it needs gets
//! the leader's snapshot instead (InstallSnapshot).
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

/// A node snapshots once this many applied entries have piled up in its log.
pub const SNAPSHOT_THRESHOLD: u64 = 64;

/// An operation on the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put {
        key: String,
        value: String,
    },
    Append {
        key: String,
        value: String,
    },
    Get {
        key: String,
    },
    /// The entry a new leader appends at the start of its term, to commit something of its own
    /// (and with it everything before). It changes nothing; its client_id and seq are 0.
    Noop,
}

/// A client's request. Each client numbers its requests 1, 2, 3... and has at most one
/// outstanding: a retry carries the same `seq`, and a new request the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub client_id: u64,
    pub seq: u64,
    pub op: Op,
}

/// A read in progress at the leader, to ask [`Node::read_result`] about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadId {
    /// A term has one leader, and no node leads the same term twice: (term, n) is unique.
    pub term: u64,
    pub n: u64,
}

/// A read waiting for its leader to be sure of itself.
#[derive(Debug, Clone)]
struct PendingRead {
    id: ReadId,
    key: String,
    /// Every write committed before the read arrived is at or below this index.
    read_index: u64,
    /// The heartbeat round that must be acknowledged by a majority: the first one sent after
    /// the read arrived.
    round: u64,
}

/// What the state machine remembers of a client: its last applied request and the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub seq: u64,
    /// What a get saw; None for a put or an append.
    pub result: Option<String>,
}

/// The state machine as of the entry at `last_index`, which replaces the log up to there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub last_index: u64,
    /// The term of the entry at `last_index`, for the consistency check of the entry after it.
    pub last_term: u64,
    pub store: BTreeMap<String, String>,
    /// The sessions are state too: without them, a retry applied before the snapshot would be
    /// applied again after it.
    pub sessions: BTreeMap<u64, Session>,
}

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
    /// The answer to an AppendEntries, or to an InstallSnapshot.
    AppendReply(AppendReply),
    /// The leader sends its snapshot to a follower that needs entries it has discarded.
    InstallSnapshot {
        term: u64,
        snapshot: Snapshot,
        /// As in AppendEntries: a heartbeat round, echoed in the reply.
        round: u64,
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
    /// The leader's heartbeat round, echoed in the reply: an answer to round r shows the
    /// follower still took us for its leader after round r was sent.
    pub round: u64,
}

/// A follower's answer to an AppendEntries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendReply {
    pub term: u64,
    /// Whether the follower held the leader's entry at `prev_log_index`.
    pub success: bool,
    /// On success, the follower's log now matches the leader's up to this index
    /// (`prev_log_index + entries.len()`). On failure, the `prev_log_index` that did not
    /// match: it tells the leader which request this answers.
    pub index: u64,
    /// On failure, the follower's last log index, so that a leader far ahead can jump back
    /// in one step instead of one entry per round trip.
    pub last_log_index: u64,
    /// The `round` of the request this answers.
    pub round: u64,
}

impl Message {
    pub fn term(&self) -> u64 {
        match self {
            Message::RequestVote { term, .. }
            | Message::Vote { term, .. }
            | Message::InstallSnapshot { term, .. } => *term,
            Message::AppendEntries(request) => request.term,
            Message::AppendReply(reply) => reply.term,
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

/// What a node keeps on stable storage (Figure 2, "persistent state on all servers").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub current_term: u64,
    pub voted_for: Option<NodeId>,
    /// The log after the snapshot.
    pub log: Vec<Entry>,
    pub snapshot: Snapshot,
}

/// A Raft node.
#[derive(Debug)]
pub struct Node {
    id: NodeId,
    peers: Vec<NodeId>,

    // Persistent state: saved before anything that depends on it leaves the node.
    current_term: u64,
    voted_for: Option<NodeId>,
    /// The log after the snapshot: `log[0]` is the entry at index `snapshot.last_index + 1`.
    log: Vec<Entry>,
    /// Everything up to `snapshot.last_index`, applied and compacted.
    snapshot: Snapshot,

    // Volatile state.
    role: Role,
    leader_hint: Option<NodeId>,
    commit_index: u64,
    last_applied: u64,
    /// The state machine: the store, and the client sessions that make retries harmless.
    store: BTreeMap<String, String>,
    sessions: BTreeMap<u64, Session>,
    /// Bumped whenever the election timer is reset: older timers are stale.
    election_generation: u64,

    // Candidate state.
    votes: BTreeSet<NodeId>,

    // Leader state, reset on election.
    next_index: BTreeMap<NodeId, u64>,
    match_index: BTreeMap<NodeId, u64>,
    /// The index of this term's no-op: reads wait until it is applied.
    term_start: u64,
    /// Counts the rounds of AppendEntries sent this term.
    round: u64,
    /// Per follower, the highest round it has answered this term.
    acked_round: BTreeMap<NodeId, u64>,
    pending_reads: Vec<PendingRead>,
    reads_started: u64,
    /// Reads served, by id. (Never trimmed: a real server would expire them.)
    read_results: BTreeMap<ReadId, Option<String>>,
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

    /// The log after the snapshot: `log()[i]` is the entry at index `snapshot_index() + i + 1`.
    pub fn log(&self) -> &[Entry] {
        &self.log
    }

    /// The index of the last entry the snapshot replaces (0 before the first snapshot).
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot.last_index
    }

    /// The index of the last entry, in the log or else in the snapshot (0 for nothing at all).
    pub fn last_log_index(&self) -> u64 {
        todo!()
    }

    /// The entry at `index` (1-based), if the log still has one: not if it is compacted.
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        todo!()
    }

    /// The highest index known to be committed.
    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }

    /// The index of the last entry applied to the state machine (Figure 2's `lastApplied`).
    pub fn last_applied(&self) -> u64 {
        self.last_applied
    }

    /// This node's copy of the store, as of its last applied entry.
    pub fn store(&self) -> &BTreeMap<String, String> {
        &self.store
    }

    /// The outcome of request `seq` of client `client_id`, once this node has applied it:
    /// `Some(value seen)` for a get, `Some(None)` for a put or an append. None while it is not
    /// applied here (yet), and for any request but the client's latest.
    pub fn result(&self, client_id: u64, seq: u64) -> Option<Option<String>> {
        self.sessions
            .get(&client_id)
            .filter(|session| session.seq == seq)
            .map(|session| session.result.clone())
    }

    /// Starts a linearizable read of `key` at the leader: poll [`Node::read_result`] with the
    /// id. If this node loses its leadership first, the read is dropped, and never answered:
    /// the client retries elsewhere.
    pub fn read(&mut self, key: String, ctx: &mut Ctx<Node>) -> Result<ReadId, NotLeader> {
        if self.role != Role::Leader {
            return Err(NotLeader {
                leader_hint: self.leader_hint,
            });
        }
        self.reads_started += 1;
        let id = ReadId {
            term: self.current_term,
            n: self.reads_started,
        };
        self.pending_reads.push(PendingRead {
            id,
            key,
            // Until this term's no-op commits, the commit index may lag what earlier leaders
            // committed; the no-op's index covers all of that.
            read_index: self.commit_index.max(self.term_start),
            round: self.round + 1,
        });
        // Confirm leadership now rather than at the next heartbeat.
        self.broadcast_append(ctx);
        self.serve_reads();
        Ok(id)
    }

    /// What read `id` saw, once served: `Some(value)`, or `Some(None)` for a missing key.
    pub fn read_result(&self, id: ReadId) -> Option<Option<String>> {
        self.read_results.get(&id).cloned()
    }

    /// Asks the leader to replicate `command`: its index in the log, or where to go instead.
    /// Once committed and applied, [`Node::result`] tells the outcome, on any node that has
    /// applied it.
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
        self.persist(ctx);
        self.broadcast_append(ctx);
        // A cluster of one commits on its own.
        self.advance_commit_index(ctx);
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
            snapshot: Snapshot::default(),
            last_applied: 0,
            store: BTreeMap::new(),
            sessions: BTreeMap::new(),
            election_generation: 0,
            votes: BTreeSet::new(),
            next_index: BTreeMap::new(),
            match_index: BTreeMap::new(),
            term_start: 0,
            round: 0,
            acked_round: BTreeMap::new(),
            pending_reads: Vec::new(),
            reads_started: 0,
            read_results: BTreeMap::new(),
        }
    }

    /// Takes back the persistent state after a crash. Everything else starts over: the commit
    /// index is learned again from the leader, and the state machine is rebuilt by applying
    /// the log again from the start.
    fn restore(&mut self, saved: Saved) {
        todo!()
    }

    /// More than half the cluster (this node and its peers).
    fn majority(&self) -> usize {
        let cluster = self.peers.len() + 1;
        cluster / 2 + 1
    }

    /// The term of the entry at `index`, for an index at or after the snapshot's last one (0
    /// for index 0, the empty start of every log, and past the end).
    fn term_at(&self, index: u64) -> u64 {
        todo!()
    }

    /// The term of the last entry (0 for an empty log).
    fn last_log_term(&self) -> u64 {
        self.term_at(self.last_log_index())
    }

    /// Writes the persistent state. Called before sending anything that depends on it: a vote
    /// granted, an entry acknowledged, a term announced must never be forgotten by a crash.
    fn persist(&self, ctx: &mut Ctx<Node>) {
        ctx.save(Saved {
            current_term: self.current_term,
            voted_for: self.voted_for,
            log: self.log.clone(),
            snapshot: self.snapshot.clone(),
        });
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
        self.persist(ctx);
        // Reads waiting for this node's leadership to be confirmed never will be.
        self.pending_reads.clear();
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
        self.persist(ctx);
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
            self.persist(ctx);
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

    /// Won the election: lead: append a no-op of our term (until it commits, we cannot know what is
    /// committed), announce it at once and every heartbeat interval, and start each
    /// follower's `next_index` just past our log (`match_index` at 0, heartbeat rounds at 0).
    fn become_leader(&mut self, ctx: &mut Ctx<Node>) {
        self.role = Role::Leader;
        self.leader_hint = Some(self.id);
        // The pending election timer is now stale: a leader does not time out.
        self.election_generation += 1;
        // A no-op of our own term: committing it commits everything before it, and tells us
        // where the committed log ends (§8 of the Raft paper).
        self.log.push(Entry {
            term: self.current_term,
            command: Command {
                client_id: 0,
                seq: 0,
                op: Op::Noop,
            },
        });
        self.persist(ctx);
        self.term_start = self.last_log_index();
        let next = self.last_log_index() + 1;
        self.next_index = self.peers.iter().map(|&p| (p, next)).collect();
        self.match_index = self.peers.iter().map(|&p| (p, 0)).collect();
        self.round = 0;
        self.acked_round = self.peers.iter().map(|&p| (p, 0)).collect();
        // Announce ourselves at once, then keep it up.
        self.broadcast_append(ctx);
        ctx.set_timer(HEARTBEAT_INTERVAL, Timer::Heartbeat(self.current_term));
        // A cluster of one commits its no-op on its own.
        self.advance_commit_index(ctx);
    }

    /// A new round of AppendEntries to every follower.
    fn broadcast_append(&mut self, ctx: &mut Ctx<Node>) {
        self.round += 1;
        for &peer in &self.peers {
            self.send_append(peer, ctx);
        }
    }

    /// Sends `peer` everything from its `next_index` on (up to a batch), with the entry before
    /// it for the consistency check. With nothing to send, it is a heartbeat.
    /// (If the entries it needs are compacted, it gets the snapshot instead.)
    fn send_append(&self, peer: NodeId, ctx: &mut Ctx<Node>) {
        todo!()
    }

    /// Figure 2, AppendEntries: refuse a request of an older term; otherwise `from` leads
    /// this term: follow it, and reset the election timer. Then the consistency check
    /// at `prev_log_index`; on success, take the entries in, learn the commit index. Entries the
    /// snapshot already covers are committed, hence the leader's: skip them. Answer with our term.
    fn on_append_entries(&mut self, from: NodeId, request: AppendEntries, ctx: &mut Ctx<Node>) {
        todo!()
    }

    /// Figure 2, AppendEntries rule 5: commit what the leader has committed, but only as far
    /// as this request proved our log matches the leader's (up to `last_new`). Entries beyond
    /// it may be leftovers of an older term that the leader's log does not have.
    fn learn_commit(&mut self, leader_commit: u64, last_new: u64, ctx: &mut Ctx<Node>) {
        if leader_commit > self.commit_index {
            self.commit_index = self.commit_index.max(leader_commit.min(last_new));
            self.apply_committed(ctx);
        }
    }

    /// Figure 2, AppendEntries rules 3 and 4: an entry that conflicts with a new one (same
    /// index, different term) goes, with everything after it; entries already present stay.
    /// Truncating unconditionally would let a delayed, older request erase newer entries this
    /// node has already acknowledged, and that the leader may have counted as committed.
    fn accept_entries(&mut self, prev_log_index: u64, entries: Vec<Entry>, ctx: &mut Ctx<Node>) {
        let mut changed = false;
        for (offset, entry) in entries.into_iter().enumerate() {
            let index = prev_log_index + 1 + offset as u64;
            if index <= self.last_log_index() {
                if self.term_at(index) == entry.term {
                    continue;
                }
                debug_assert!(index > self.commit_index, "truncating a committed entry");
                self.log
                    .truncate((index - self.snapshot.last_index - 1) as usize);
            }
            self.log.push(entry);
            changed = true;
        }
        if changed {
            self.persist(ctx);
        }
    }

    fn reply_append(&self, to: NodeId, success: bool, index: u64, round: u64, ctx: &mut Ctx<Node>) {
        ctx.send(
            to,
            Message::AppendReply(AppendReply {
                term: self.current_term,
                success,
                index,
                last_log_index: self.last_log_index(),
                round,
            }),
        );
    }

    /// The leader learns how a follower's log compares to its own.
    ///
    /// Replies arrive late, twice, or out of order. So: a reply of another term is ignored
    /// (it answers an older leader, or a request sent before we lost and regained power);
    /// `match_index` only ever grows (a stale success must not undo a newer one); and a
    /// failure moves `next_index` back only if it answers the probe we are waiting on, not an
    /// older one we have already backed off for.
    fn on_append_reply(&mut self, from: NodeId, reply: AppendReply, ctx: &mut Ctx<Node>) {
        let AppendReply {
            term,
            success,
            index,
            last_log_index,
            round,
        } = reply;
        if self.role != Role::Leader || term != self.current_term {
            return;
        }
        self.record_ack(from, round);
        let matched = self.match_index[&from];
        if success {
            if index > matched {
                self.match_index.insert(from, index);
                self.advance_commit_index(ctx);
            }
            let next = self.next_index[&from].max(index + 1);
            self.next_index.insert(from, next);
        } else if self.next_index[&from] == index + 1 {
            // The follower lacks our entry at `index`: probe further back, straight to the
            // end of its log if that is shorter, but never at or below what it has matched.
            let next = index.min(last_log_index + 1).max(matched + 1);
            self.next_index.insert(from, next);
            self.send_append(from, ctx);
        }
    }

    /// A follower answered our AppendEntries of `round`: any answer of our term, success or
    /// not, shows it still took us for its leader when it answered. Reads waiting on that
    /// round may now be served.
    fn record_ack(&mut self, from: NodeId, round: u64) {
        if round > self.acked_round[&from] {
            self.acked_round.insert(from, round);
            self.serve_reads();
        }
    }

    /// Figure 2, leaders: commit the highest index stored on a majority, if its entry is of
    /// the current term. An older term's entry, even on a majority, can still be overwritten
    /// by a future leader (Figure 8); it commits only along with one of our own.
    fn advance_commit_index(&mut self, ctx: &mut Ctx<Node>) {
        for index in (self.commit_index + 1..=self.last_log_index()).rev() {
            if self.term_at(index) != self.current_term {
                // Terms only grow along the log: everything below is older too.
                break;
            }
            let stored = 1 + self.match_index.values().filter(|&&m| m >= index).count();
            if stored >= self.majority() {
                self.commit_index = index;
                self.apply_committed(ctx);
                break;
            }
        }
    }

    /// Compacts the log once enough of it is applied: the state machine becomes the snapshot,
    /// and the entries it covers go. Only applied entries: what is merely stored may still be
    /// overwritten by a leader, and a snapshot cannot be.
    fn maybe_snapshot(&mut self, ctx: &mut Ctx<Node>) {
        todo!()
    }

    /// A follower takes the leader's snapshot (Figure 13).
    fn on_install_snapshot(
        &mut self,
        from: NodeId,
        term: u64,
        snapshot: Snapshot,
        round: u64,
        ctx: &mut Ctx<Node>,
    ) {
        todo!()
    }

    /// The term at `index` if we still have it, in the log or as the snapshot's last entry.
    fn term_at_or_none(&self, index: u64) -> Option<u64> {
        todo!()
    }

    /// Applies committed entries, in order, each once.
    fn apply_committed(&mut self, ctx: &mut Ctx<Node>) {
        while self.last_applied < self.commit_index {
            self.last_applied += 1;
            let command = self
                .entry(self.last_applied)
                .expect("applies from the log")
                .command
                .clone();
            self.apply(&command);
        }
        self.serve_reads();
        self.maybe_snapshot(ctx);
    }

    /// Serves the reads whose leadership round a majority has answered, once the store has
    /// caught up with their read index.
    fn serve_reads(&mut self) {
        let majority = self.majority();
        let applied = self.last_applied;
        let mut still_pending = Vec::new();
        for read in std::mem::take(&mut self.pending_reads) {
            let acked = 1 + self
                .acked_round
                .values()
                .filter(|&&round| round >= read.round)
                .count();
            if acked >= majority && applied >= read.read_index {
                let value = self.store.get(&read.key).cloned();
                self.read_results.insert(read.id, value);
            } else {
                still_pending.push(read);
            }
        }
        self.pending_reads = still_pending;
    }

    /// The state machine's transition. A request the client's session shows as already
    /// applied is a retry that made it into the log twice: it changes nothing. Every node
    /// applies the same commands in the same order, so every node decides the same way.
    fn apply(&mut self, command: &Command) {
        if let Some(session) = self.sessions.get(&command.client_id)
            && command.seq <= session.seq
        {
            return;
        }
        if command.op == Op::Noop {
            return;
        }
        let result = match &command.op {
            Op::Put { key, value } => {
                self.store.insert(key.clone(), value.clone());
                None
            }
            Op::Append { key, value } => {
                self.store.entry(key.clone()).or_default().push_str(value);
                None
            }
            Op::Get { key } => self.store.get(key).cloned(),
            Op::Noop => unreachable!("no-ops are skipped above"),
        };
        self.sessions.insert(
            command.client_id,
            Session {
                seq: command.seq,
                result,
            },
        );
    }
}

impl Process for Node {
    type Message = Message;
    type Timer = Timer;
    type Saved = Saved;

    fn start(id: NodeId, peers: &[NodeId], saved: Option<Saved>, ctx: &mut Ctx<Node>) -> Node {
        let mut node = Node::new(id, peers);
        if let Some(saved) = saved {
            node.restore(saved);
        }
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
            Message::AppendReply(reply) => self.on_append_reply(from, reply, ctx),
            Message::InstallSnapshot {
                term,
                snapshot,
                round,
            } => self.on_install_snapshot(from, term, snapshot, round, ctx),
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
