//! Pre-vote and leadership transfer. A node cut off from the cluster times out again and
//! again; if each timeout started an election, its term would climb, and when it came back its
//! high term would depose a perfectly good leader. So a node first asks, without changing its
//! term, whether it could win (PreVote); nodes that still hear from a leader say no. And a
//! leader that must go (for maintenance, say) can hand over on purpose: it brings the chosen
//! successor's log up to date, then tells it to stand at once (TimeoutNow).
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

/// The first configuration: the slots `0..INITIAL_MEMBERS` (or every slot, if fewer).
pub const INITIAL_MEMBERS: usize = 3;

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
    /// A new configuration: the members, sorted. It changes nothing in the store; it takes
    /// effect on each node as soon as the node appends it. Its client_id and seq are 0.
    Config {
        members: Vec<NodeId>,
    },
}

/// A client's request. Each client numbers its requests 1, 2, 3... and has at most one
/// outstanding: a retry carries the same `seq`, and a new request the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub client_id: u64,
    pub seq: u64,
    pub op: Op,
}

/// Why a membership change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    NotLeader(NotLeader),
    /// An earlier change is not committed yet, or this leader has not yet committed an entry
    /// of its term: one change at a time.
    Pending,
    /// The server is already a member (add), or is not one (remove).
    Unchanged,
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
    /// The configuration as of `last_index`: the log that held it is gone.
    pub config: Vec<NodeId>,
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
    /// Asking whether it could win, before standing for real.
    PreCandidate,
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
    /// Would you vote for me in `term` (the sender's term + 1)? Changes nothing on either
    /// side: the receiver does not adopt `term`, and grants nothing it must remember.
    PreVote {
        term: u64,
        last_log_index: u64,
        last_log_term: u64,
    },
    /// The answer to a PreVote.
    PreVoteReply {
        /// The answering node's own term, which the asker adopts if higher.
        term: u64,
        /// The `term` of the PreVote this answers.
        prospective_term: u64,
        granted: bool,
    },
    /// From a leader handing over: start an election now.
    TimeoutNow { term: u64 },
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
            | Message::PreVote { term, .. }
            | Message::PreVoteReply { term, .. }
            | Message::TimeoutNow { term }
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
    /// Every other slot: members or not.
    peers: Vec<NodeId>,
    /// The configuration in effect: the latest in the log, or else the snapshot's.
    config: Vec<NodeId>,
    /// The index of the entry that set `config` (0 if it came from a snapshot).
    config_index: u64,

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

    /// When this node last heard from a leader of its term (AppendEntries, InstallSnapshot).
    last_leader_contact: Option<Duration>,

    // Pre-candidate and candidate state.
    pre_votes: BTreeSet<NodeId>,
    votes: BTreeSet<NodeId>,

    // Leader state, reset on election.
    next_index: BTreeMap<NodeId, u64>,
    match_index: BTreeMap<NodeId, u64>,
    /// A leadership transfer under way: to whom, and when to give up on it.
    transfer: Option<(NodeId, Duration)>,
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

    /// The members of the configuration this node uses (the latest it has appended).
    pub fn config(&self) -> &[NodeId] {
        &self.config
    }

    /// Adds server `id` to the configuration: the index of the configuration entry. One
    /// change at a time: the previous one must be committed first.
    pub fn add_server(&mut self, id: NodeId, ctx: &mut Ctx<Node>) -> Result<u64, ConfigError> {
        if self.config.contains(&id) {
            return self.change_config(None, ctx);
        }
        self.change_config(Some((id, true)), ctx)
    }

    /// Removes server `id` (perhaps this very leader, which then steps down once the change
    /// commits).
    pub fn remove_server(&mut self, id: NodeId, ctx: &mut Ctx<Node>) -> Result<u64, ConfigError> {
        if !self.config.contains(&id) {
            return self.change_config(None, ctx);
        }
        self.change_config(Some((id, false)), ctx)
    }

    /// Appends the new configuration, which takes effect at once.
    fn change_config(
        &mut self,
        change: Option<(NodeId, bool)>,
        ctx: &mut Ctx<Node>,
    ) -> Result<u64, ConfigError> {
        if self.role != Role::Leader {
            return Err(ConfigError::NotLeader(NotLeader {
                leader_hint: self.leader_hint,
            }));
        }
        // The earlier change must be committed, or two changes in flight could add up to a
        // change of two servers. And a new leader must first commit an entry of its own term:
        // else a change it appends could interleave with an uncommitted one of an earlier
        // leader's, which it does not know is lost (Ongaro's fix to single-server changes).
        if self.config_index > self.commit_index
            || self.commit_index < self.term_start
            || self.transfer.is_some()
        {
            return Err(ConfigError::Pending);
        }
        let Some((id, add)) = change else {
            return Err(ConfigError::Unchanged);
        };
        let mut members = self.config.clone();
        if add {
            members.push(id);
            members.sort_unstable();
        } else {
            members.retain(|&m| m != id);
        }
        self.log.push(Entry {
            term: self.current_term,
            command: Command {
                client_id: 0,
                seq: 0,
                op: Op::Config { members },
            },
        });
        self.persist(ctx);
        self.refresh_config();
        self.broadcast_append(ctx);
        self.advance_commit_index(ctx);
        Ok(self.last_log_index())
    }

    /// The index of the last entry the snapshot replaces (0 before the first snapshot).
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot.last_index
    }

    /// The index of the last entry, in the log or else in the snapshot (0 for nothing at all).
    pub fn last_log_index(&self) -> u64 {
        self.snapshot.last_index + self.log.len() as u64
    }

    /// The entry at `index` (1-based), if the log still has one: not if it is compacted.
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        let i = index.checked_sub(self.snapshot.last_index + 1)?;
        self.log.get(usize::try_from(i).ok()?)
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

    /// Hands leadership to member `to`: the leader stops taking new commands, brings `to` up
    /// to date, and tells it to start an election at once. If no new leader emerges within an
    /// election timeout, the leader carries on. Transferring to itself or to a non-member does
    /// nothing.
    pub fn transfer_leadership(
        &mut self,
        to: NodeId,
        ctx: &mut Ctx<Node>,
    ) -> Result<(), NotLeader> {
        todo!()
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
        // During a transfer, new commands would only keep the successor behind.
        if let Some((to, _)) = self.transfer {
            return Err(NotLeader {
                leader_hint: Some(to),
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
        // The slots are numbered 0..n: the first few form the first configuration.
        let initial: Vec<NodeId> = (0..=peers.len()).take(INITIAL_MEMBERS).collect();
        Node {
            id,
            peers: peers.to_vec(),
            config: initial.clone(),
            config_index: 0,
            current_term: 0,
            voted_for: None,
            log: Vec::new(),
            role: Role::Follower,
            leader_hint: None,
            commit_index: 0,
            snapshot: Snapshot {
                config: initial,
                ..Snapshot::default()
            },
            last_applied: 0,
            store: BTreeMap::new(),
            sessions: BTreeMap::new(),
            election_generation: 0,
            last_leader_contact: None,
            pre_votes: BTreeSet::new(),
            votes: BTreeSet::new(),
            next_index: BTreeMap::new(),
            match_index: BTreeMap::new(),
            transfer: None,
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
        self.current_term = saved.current_term;
        self.voted_for = saved.voted_for;
        self.log = saved.log;
        // The state machine restarts from the snapshot, and what is committed after it is
        // applied again as the leader tells us.
        self.store = saved.snapshot.store.clone();
        self.sessions = saved.snapshot.sessions.clone();
        self.commit_index = saved.snapshot.last_index;
        self.last_applied = saved.snapshot.last_index;
        self.snapshot = saved.snapshot;
        self.refresh_config();
    }

    /// More than half the members of the configuration in use.
    fn majority(&self) -> usize {
        self.config.len() / 2 + 1
    }

    fn is_member(&self) -> bool {
        self.config.contains(&self.id)
    }

    /// The other members: whom a candidate asks for votes, and a leader replicates to.
    fn other_members(&self) -> Vec<NodeId> {
        self.config
            .iter()
            .copied()
            .filter(|&m| m != self.id)
            .collect()
    }

    /// How many members `has` holds, this node counting if it is a member itself.
    fn count_members(&self, has: impl Fn(NodeId) -> bool) -> usize {
        self.config
            .iter()
            .filter(|&&m| m == self.id || has(m))
            .count()
    }

    /// The configuration in effect as of `index`: the latest configuration entry at or before
    /// it, or else the snapshot's.
    fn config_at(&self, index: u64) -> (Vec<NodeId>, u64) {
        (self.snapshot.last_index + 1..=index)
            .rev()
            .find_map(|i| match &self.entry(i)?.command.op {
                Op::Config { members } => Some((members.clone(), i)),
                _ => None,
            })
            .unwrap_or_else(|| (self.snapshot.config.clone(), 0))
    }

    /// Picks up the latest configuration in the log: called whenever the log changes, since
    /// a configuration takes effect when appended, and is undone if truncated away.
    fn refresh_config(&mut self) {
        (self.config, self.config_index) = self.config_at(self.last_log_index());
    }

    /// The term of the entry at `index`, for an index at or after the snapshot's last one (0
    /// for index 0, the empty start of every log, and past the end).
    fn term_at(&self, index: u64) -> u64 {
        debug_assert!(
            index >= self.snapshot.last_index,
            "asked for a compacted term"
        );
        if index == self.snapshot.last_index {
            self.snapshot.last_term
        } else {
            self.entry(index).map_or(0, |entry| entry.term)
        }
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
        self.transfer = None;
        if was_leader {
            // A leader runs no election timer; a follower needs one.
            self.reset_election_timer(ctx);
        }
    }

    /// The election timer fired without word from a leader: before standing, ask whether we
    /// could win. Our term stays as it is, so a node that cannot win (cut off, or behind)
    /// disturbs nobody, however often it asks.
    fn start_pre_vote(&mut self, ctx: &mut Ctx<Node>) {
        todo!()
    }

    /// Would we vote for this candidate in `term`? Only if the term would be new to us, its log
    /// is at least as up to date as ours, and we have not heard from a leader within the
    /// shortest election timeout: while a leader is alive, nobody needs a new one.
    fn on_pre_vote(
        &mut self,
        from: NodeId,
        term: u64,
        last_log_index: u64,
        last_log_term: u64,
        ctx: &mut Ctx<Node>,
    ) {
        todo!()
    }

    /// A pre-candidate counts the answers to its current PreVote: with a majority (itself
    /// included), it starts a real election.
    fn on_pre_vote_reply(
        &mut self,
        from: NodeId,
        prospective_term: u64,
        granted: bool,
        ctx: &mut Ctx<Node>,
    ) {
        todo!()
    }

    /// A majority would vote for us: stand for real, in the next term, voting for ourselves.
    fn start_election(&mut self, ctx: &mut Ctx<Node>) {
        self.current_term += 1;
        self.role = Role::Candidate;
        self.voted_for = Some(self.id);
        self.leader_hint = None;
        self.votes = BTreeSet::new();
        self.persist(ctx);
        self.reset_election_timer(ctx);
        if self.count_members(|m| self.votes.contains(&m)) >= self.majority() {
            self.become_leader(ctx);
            return;
        }
        let request = Message::RequestVote {
            term: self.current_term,
            last_log_index: self.last_log_index(),
            last_log_term: self.last_log_term(),
        };
        for peer in self.other_members() {
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
        if self.count_members(|m| self.votes.contains(&m)) >= self.majority() {
            self.become_leader(ctx);
        }
    }

    /// Won the election: lead: append a no-op of our term (until it commits, we cannot know what is
    /// committed), announce it at once and every heartbeat interval, and start each
    /// follower's `next_index` just past our log (`match_index` at 0, heartbeat rounds at 0).
    fn become_leader(&mut self, ctx: &mut Ctx<Node>) {
        self.role = Role::Leader;
        self.transfer = None;
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
        for peer in self.other_members() {
            self.send_append(peer, ctx);
        }
    }

    /// Sends `peer` everything from its `next_index` on (up to a batch), with the entry before
    /// it for the consistency check. With nothing to send, it is a heartbeat.
    /// (If the entries it needs are compacted, it gets the snapshot instead.)
    fn send_append(&self, peer: NodeId, ctx: &mut Ctx<Node>) {
        let next = self.next_index[&peer];
        if next <= self.snapshot.last_index {
            ctx.send(
                peer,
                Message::InstallSnapshot {
                    term: self.current_term,
                    snapshot: self.snapshot.clone(),
                    round: self.round,
                },
            );
            return;
        }
        let prev_log_index = next - 1;
        let entries: Vec<Entry> = self
            .log
            .iter()
            .skip((prev_log_index - self.snapshot.last_index) as usize)
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
                round: self.round,
            }),
        );
    }

    /// Figure 2, AppendEntries: refuse a request of an older term; otherwise `from` leads
    /// this term: follow it, and reset the election timer. Then the consistency check
    /// at `prev_log_index`; on success, take the entries in, learn the commit index. Entries the
    /// snapshot already covers are committed, hence the leader's: skip them. Answer with our term.
    fn on_append_entries(&mut self, from: NodeId, request: AppendEntries, ctx: &mut Ctx<Node>) {
        let AppendEntries {
            term,
            mut prev_log_index,
            mut prev_log_term,
            mut entries,
            leader_commit,
            round,
        } = request;
        if term < self.current_term {
            // From a deposed leader: our term in the reply tells it so.
            self.reply_append(from, false, prev_log_index, round, ctx);
            return;
        }
        // The term's one leader is `from`: a candidate of this term lost, and steps down.
        debug_assert_ne!(self.role, Role::Leader, "two leaders in term {term}");
        self.role = Role::Follower;
        self.leader_hint = Some(from);
        self.last_leader_contact = Some(ctx.now());
        self.reset_election_timer(ctx);

        // Entries up to our snapshot are committed, so they match the leader's: skip them,
        // and check from the snapshot's last entry on.
        if prev_log_index < self.snapshot.last_index {
            let known = (self.snapshot.last_index - prev_log_index) as usize;
            if entries.len() <= known {
                let index = prev_log_index + entries.len() as u64;
                self.reply_append(from, true, index, round, ctx);
                return;
            }
            entries.drain(..known);
            prev_log_index = self.snapshot.last_index;
            prev_log_term = self.snapshot.last_term;
        }

        // The consistency check: our log must hold the entry the new ones follow.
        if prev_log_index > self.last_log_index() || self.term_at(prev_log_index) != prev_log_term {
            self.reply_append(from, false, prev_log_index, round, ctx);
            return;
        }
        let last_new = prev_log_index + entries.len() as u64;
        self.accept_entries(prev_log_index, entries, ctx);
        self.learn_commit(leader_commit, last_new, ctx);
        self.reply_append(from, true, last_new, round, ctx);
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
            self.refresh_config();
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
                // The successor has caught up: hand over.
                if self.transfer.is_some_and(|(to, _)| to == from) && index == self.last_log_index()
                {
                    ctx.send(
                        from,
                        Message::TimeoutNow {
                            term: self.current_term,
                        },
                    );
                }
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
            let stored = self.count_members(|m| self.match_index[&m] >= index);
            if stored >= self.majority() {
                self.commit_index = index;
                self.apply_committed(ctx);
                break;
            }
        }
        // A leader that removed itself keeps leading until the change commits (it must, to
        // replicate it), then steps down, and stays quiet: it is no longer a member.
        if !self.is_member() && self.commit_index >= self.config_index {
            self.role = Role::Follower;
            self.leader_hint = None;
            self.pending_reads.clear();
        }
    }

    /// Compacts the log once enough of it is applied: the state machine becomes the snapshot,
    /// and the entries it covers go. Only applied entries: what is merely stored may still be
    /// overwritten by a leader, and a snapshot cannot be.
    fn maybe_snapshot(&mut self, ctx: &mut Ctx<Node>) {
        if self.last_applied - self.snapshot.last_index < SNAPSHOT_THRESHOLD {
            return;
        }
        let last_term = self.term_at(self.last_applied);
        let (config, _) = self.config_at(self.last_applied);
        let compacted = (self.last_applied - self.snapshot.last_index) as usize;
        self.log.drain(..compacted);
        self.snapshot = Snapshot {
            last_index: self.last_applied,
            last_term,
            store: self.store.clone(),
            sessions: self.sessions.clone(),
            config,
        };
        self.persist(ctx);
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
        if term < self.current_term {
            self.reply_append(from, false, 0, round, ctx);
            return;
        }
        self.role = Role::Follower;
        self.leader_hint = Some(from);
        self.last_leader_contact = Some(ctx.now());
        self.reset_election_timer(ctx);
        let last_index = snapshot.last_index;
        // A snapshot of what we have already applied tells us nothing new (it may be an old
        // message); our log matches the leader's at least this far, being committed.
        if last_index > self.last_applied {
            if self.term_at_or_none(last_index) == Some(snapshot.last_term) {
                // Our log holds the snapshot's last entry: what follows it may still be good.
                let covered = (last_index - self.snapshot.last_index) as usize;
                self.log.drain(..covered);
            } else {
                self.log.clear();
            }
            self.store = snapshot.store.clone();
            self.sessions = snapshot.sessions.clone();
            self.snapshot = snapshot;
            self.refresh_config();
            self.commit_index = self.commit_index.max(last_index);
            self.last_applied = last_index;
            self.persist(ctx);
            self.serve_reads();
        }
        self.reply_append(from, true, last_index, round, ctx);
    }

    /// The term at `index` if we still have it, in the log or as the snapshot's last entry.
    fn term_at_or_none(&self, index: u64) -> Option<u64> {
        if index == self.snapshot.last_index {
            Some(self.snapshot.last_term)
        } else {
            self.entry(index).map(|entry| entry.term)
        }
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
            let acked = self.count_members(|m| self.acked_round[&m] >= read.round);
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
        if matches!(command.op, Op::Noop | Op::Config { .. }) {
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
            Op::Noop | Op::Config { .. } => unreachable!("skipped above"),
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

    /// Figure 2, all servers: a message of a higher term makes this node adopt that term and follow
    /// (but a PreVote's term is only a question); then each message goes to its handler, which
    /// ignores or refuses what is stale.
    fn on_message(&mut self, from: NodeId, message: Message, ctx: &mut Ctx<Node>) {
        todo!()
    }

    /// An election timer counts only if it is the latest one set (its generation is current) and
    /// this node is not leading (and is a member): then a pre-vote starts. A heartbeat timer of the
    /// term this node still leads sends the next round (and gives up a leadership transfer past its
    /// deadline), and sets the next timer.
    fn on_timer(&mut self, timer: Timer, ctx: &mut Ctx<Node>) {
        todo!()
    }
}
