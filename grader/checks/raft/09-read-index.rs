//! Hidden checks for raft/read-index.

use std::time::Duration;

use judge::prelude::*;
use kit::consensus::{NodeView, SafetyChecker};
use kit::lin::{self, KvModel, KvOp, Operation, Verdict};
use kit::net::{Faults, NodeId, Sim, TraceEvent};
use raft_read_index::{AppendReply, Command, Message, Node, NotLeader, Op, ReadId, Role, Timer};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a new leader appends a no-op of its own term at once, and every node commits it",
            no_op_at_term_start,
        )
        .check(
            "a cluster of one elects itself, commits its no-op and serves a read at once: it is \
             its own majority",
            lone_node_reads_at_once,
        )
        .check(
            "a new leader saves its no-op before it counts itself as storing it, and a read \
             sends the round that confirms it at once, not at the next heartbeat",
            no_op_saved_and_read_round_sent_at_once,
        )
        .check(
            "a read at a follower is refused, with a hint of who leads",
            follower_refuses_reads,
        )
        .check(
            "a read at the leader of a quiet cluster sees the last write, and None for a missing key",
            leader_reads_last_write,
        )
        .check(
            "a read at a new leader sees every write its predecessor committed",
            new_leader_reads_old_commits,
        )
        .check(
            "a read at a new leader waits until its no-op is applied, even once its leadership is confirmed",
            read_waits_for_no_op,
        )
        .check(
            "a leader cut off from the majority never serves a read, while the others elect a new leader and take writes",
            isolated_leader_never_reads,
        )
        .check(
            "a late answer to a heartbeat sent before the read does not confirm it; an answer to the next round does",
            only_later_rounds_confirm,
        )
        .check(
            "an answer to a heartbeat of an earlier term confirms no read, whatever its round; \
             an answer of the read's own term and round does (and the election timer set as a \
             candidate of the earlier term starts nothing)",
            older_term_answers_confirm_nothing,
        )
        .check(
            "a node that leads again counts only answers of its new term: answers it got while \
             leading an earlier term confirm no read",
            leading_again_forgets_old_answers,
        )
        .check(
            "every read gets an id of its own, even after the reads before it were served",
            read_ids_are_unique,
        )
        .check(
            "clients reading and writing through lost messages, partitions and crashes see a linearizable store",
            linearizable_under_faults,
        )
}

/// Virtual milliseconds.
fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A network that delivers every message after exactly 5 ms, in order.
fn steady() -> Faults {
    Faults {
        name: "steady",
        delay: (ms(5), ms(5)),
        ..Faults::reliable()
    }
}

/// A check gives up on a run that handles more events than this (a message storm).
const MOST_EVENTS: u64 = 400_000;

/// A simulated cluster, with the safety checker watching it.
struct Run {
    sim: Sim<Node>,
    checker: SafetyChecker,
    /// Per node, what its view last looked like (to observe only when something changed), and
    /// how much of its applied list the checker has already seen.
    last_key: Vec<Option<ViewKey>>,
    seen_applied: Vec<usize>,
    /// The highest term of an entry seen committed: a leader of an older term is a stale one,
    /// cut off and not yet told, and is not held to leader completeness.
    committed_term: u64,
    name: &'static str,
    seed: u64,
}

type ViewKey = (u64, bool, u64, u64, u64, usize);

fn key_of(node: &Node) -> ViewKey {
    let last = node.last_log_index();
    (
        node.term(),
        node.role() == Role::Leader,
        last,
        node.entry(last).map_or(0, |e| e.term),
        node.commit_index(),
        node.applied().len(),
    )
}

fn show_command(command: &Command) -> String {
    match &command.op {
        Op::Noop => "noop".to_string(),
        Op::Put { key, value } => {
            format!("c{}#{} put {key}={value}", command.client_id, command.seq)
        }
        Op::Append { key, value } => {
            format!(
                "c{}#{} append {key}+={value}",
                command.client_id, command.seq
            )
        }
        Op::Get { key } => format!("c{}#{} get {key}", command.client_id, command.seq),
    }
}

/// Why a run stopped early.
enum Stop {
    Reached,
    Broken(String),
}

impl Run {
    fn new(n: usize, faults: Faults, seed: u64, name: &'static str) -> Run {
        Run {
            sim: crate::support::cluster!(n, faults, seed),
            checker: SafetyChecker::new(),
            last_key: vec![None; n],
            seen_applied: vec![0; n],
            committed_term: 0,
            name,
            seed,
        }
    }

    /// Runs until `done` holds (true) or virtual time `until` passes (false), checking safety
    /// after every event.
    fn run_until(
        &mut self,
        until: Duration,
        mut done: impl FnMut(&Sim<Node>) -> bool,
    ) -> Result<bool, String> {
        if done(&self.sim) {
            return Ok(true);
        }
        let mut sim = std::mem::replace(&mut self.sim, Sim::new(0, steady(), 0));
        let result = sim.run_until(until, |sim| {
            self.sim_observe(sim).map_err(Stop::Broken)?;
            if sim.processed() > MOST_EVENTS {
                return Err(Stop::Broken(format!(
                    "more than {MOST_EVENTS} events by t={:?}: is something sending without end?",
                    sim.now()
                )));
            }
            if done(sim) {
                Err(Stop::Reached)
            } else {
                Ok(())
            }
        });
        self.sim = sim;
        match result {
            Ok(()) => Ok(false),
            Err(Stop::Reached) => Ok(true),
            Err(Stop::Broken(why)) => Err(self.report(&why)),
        }
    }

    fn sim_observe(&mut self, sim: &Sim<Node>) -> Result<(), String> {
        let keys: Vec<Option<ViewKey>> =
            (0..sim.len()).map(|id| sim.node(id).map(key_of)).collect();
        if keys == self.last_key {
            return Ok(());
        }
        for node in (0..sim.len()).filter_map(|id| sim.node(id)) {
            let term = node.entry(node.commit_index()).map_or(0, |e| e.term);
            self.committed_term = self.committed_term.max(term);
        }
        let mut views = Vec::new();
        for id in 0..sim.len() {
            let Some(node) = sim.node(id) else {
                self.seen_applied[id] = 0;
                views.push(None);
                continue;
            };
            let applied = node.applied();
            let from = self.seen_applied[id].min(applied.len());
            self.seen_applied[id] = applied.len();
            views.push(Some(NodeView {
                term: node.term(),
                leader: node.role() == Role::Leader && node.term() >= self.committed_term,
                first_index: 1,
                log_terms: node.log().iter().map(|e| e.term).collect(),
                log_commands: node
                    .log()
                    .iter()
                    .map(|e| show_command(&e.command))
                    .collect(),
                commit_index: node.commit_index(),
                applied: applied[from..]
                    .iter()
                    .enumerate()
                    .map(|(i, c)| ((from + i) as u64 + 1, show_command(c)))
                    .collect(),
            }));
        }
        self.last_key = keys;
        self.checker.observe(&views)
    }

    /// Runs for `span` more virtual time.
    fn run_for(&mut self, span: Duration) -> Result<(), String> {
        let until = self.sim.now() + span;
        self.run_until(until, |_| false).map(|_| ())
    }

    /// The failure message: what broke, when, and where the picture of the run is.
    fn report(&self, what: &str) -> String {
        let path = std::env::temp_dir().join(format!(
            "raft-09-read-index-{}-seed-{}.svg",
            self.name, self.seed
        ));
        let picture = match kit::diagram::write(self.sim.trace(), &path) {
            Ok(()) => format!(
                "picture of the run: {} (to step through it event by event, open {})",
                path.display(),
                path.with_extension("html").display()
            ),
            Err(error) => format!("(could not draw the run: {error})"),
        };
        format!(
            "{what}\n(simulated run {}, at t={:?}; {})\n{picture}",
            self.seed,
            self.sim.now(),
            self.describe()
        )
    }

    fn describe(&self) -> String {
        let nodes: Vec<String> = (0..self.sim.len())
            .map(|id| match self.sim.node(id) {
                Some(n) => format!(
                    "node {id}: {:?} of term {}, log of {}, commit {}",
                    n.role(),
                    n.term(),
                    n.last_log_index(),
                    n.commit_index()
                ),
                None => format!("node {id}: down"),
            })
            .collect();
        nodes.join("; ")
    }

    fn fail(&self, what: &str) -> CheckResult {
        fail(self.report(what))
    }

    /// The leader of the highest term among the running nodes, if any.
    fn leader(&self) -> Option<NodeId> {
        leader_of(&self.sim)
    }

    /// Waits (up to `within`) for a leader whose log every running node has committed.
    fn settle(&mut self, within: Duration) -> Result<NodeId, String> {
        let until = self.sim.now() + within;
        let settled = self.run_until(until, |sim| settled_leader(sim).is_some())?;
        match settled_leader(&self.sim) {
            Some(leader) if settled => Ok(leader),
            _ => Err(self.report(&format!(
                "expected within {within:?} a leader whose log ends with an entry of its term (its \
                 no-op) committed on every running node; none"
            ))),
        }
    }

    /// Proposes `op` as request `seq` of client `client` at `leader`, and waits until the
    /// leader has applied it.
    fn write(&mut self, leader: NodeId, client: u64, seq: u64, op: Op) -> Result<u64, String> {
        let command = Command {
            client_id: client,
            seq,
            op: op.clone(),
        };
        self.sim.note(leader, format!("client {client}: {op:?}"));
        let index = match self
            .sim
            .call(leader, |node, ctx| node.propose(command, ctx))
        {
            Some(Ok(index)) => index,
            other => {
                return Err(self.report(&format!(
                    "propose({op:?}) at the leader, node {leader}: expected Ok(index), got {other:?}"
                )));
            }
        };
        let until = self.sim.now() + ms(500);
        let applied = self.run_until(until, |sim| {
            sim.node(leader)
                .is_some_and(|n| n.result(client, seq).is_some())
        })?;
        if applied {
            Ok(index)
        } else {
            Err(self.report(&format!(
                "{op:?}, proposed at the leader (node {leader}), was not applied there within 500 ms"
            )))
        }
    }

    /// Starts a read of `key` at `node`.
    fn read(&mut self, node: NodeId, key: &str) -> Result<ReadId, NotLeader> {
        self.sim.note(node, format!("client: read {key}"));
        self.sim
            .call(node, |n, ctx| n.read(key.to_string(), ctx))
            .expect("reads go to running nodes")
    }

    fn read_result(&self, node: NodeId, id: ReadId) -> Option<Option<String>> {
        self.sim.node(node).and_then(|n| n.read_result(id))
    }

    /// Waits up to `within` for read `id` at `node` to be served.
    fn await_read(
        &mut self,
        node: NodeId,
        id: ReadId,
        within: Duration,
    ) -> Result<Option<Option<String>>, String> {
        let until = self.sim.now() + within;
        self.run_until(until, |sim| {
            sim.node(node).is_some_and(|n| n.read_result(id).is_some())
        })?;
        Ok(self.read_result(node, id))
    }
}

fn leader_of(sim: &Sim<Node>) -> Option<NodeId> {
    (0..sim.len())
        .filter_map(|id| sim.node(id).map(|n| (id, n)))
        .filter(|(_, n)| n.role() == Role::Leader)
        .max_by_key(|(_, n)| n.term())
        .map(|(id, _)| id)
}

fn settled_leader(sim: &Sim<Node>) -> Option<NodeId> {
    let leader = leader_of(sim)?;
    let node = sim.node(leader)?;
    let last = node.last_log_index();
    if last == 0 || node.entry(last).map(|e| e.term) != Some(node.term()) {
        return None;
    }
    let all = (0..sim.len())
        .filter_map(|id| sim.node(id))
        .all(|n| n.term() == node.term() && n.commit_index() == last);
    all.then_some(leader)
}

fn put(key: &str, value: &str) -> Op {
    Op::Put {
        key: key.into(),
        value: value.into(),
    }
}

fn append(key: &str, value: &str) -> Op {
    Op::Append {
        key: key.into(),
        value: value.into(),
    }
}

fn seeds(ctx: &Ctx, count: u64) -> Vec<u64> {
    (0..count)
        .map(|i| {
            ctx.seed()
                .wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        })
        .collect()
}

type Hand = crate::support::Script<Node>;

fn lone_node_reads_at_once(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(1);
    script.fire_pending(0, "an election timer", |t| matches!(t, Timer::Election(_)))?;
    script.expect_eq("node 0's role", script.node(0).role(), Role::Leader)?;
    script.expect_eq(
        "node 0's commit_index (its no-op, on a majority of one)",
        script.node(0).commit_index(),
        1,
    )?;
    let (id, _) = start_read(&mut script, "k")?;
    script.expect_eq(
        "read_result of the read, at once (no one else to ask)",
        script.node(0).read_result(id),
        Some(None),
    )
}

/// Node `id`'s election timer fires and node `voter` grants its vote: it must lead.
/// Has node 0 start a read of `key`; its id, and what node 0 did. Fails the check, with the
/// story, if node 0 refuses.
fn start_read(
    script: &mut Hand,
    key: &str,
) -> Result<(ReadId, crate::support::Effects<Node>), Failure> {
    let (id, effects) = script.act(format!("node 0: read({key:?})"), 0, |node, ctx| {
        node.read(key.to_string(), ctx)
    });
    let id = id.map_err(|e| {
        script.failure(format!(
            "expected: node 0 starts the read of {key:?}\ngot:      Err({e:?})"
        ))
    })?;
    Ok((id, effects))
}

fn hand_elect(
    script: &mut Hand,
    id: NodeId,
    voter: NodeId,
) -> Result<Vec<(NodeId, Message)>, Failure> {
    script.fire_pending(id, "an election timer", |t| matches!(t, Timer::Election(_)))?;
    let term = script.node(id).term();
    let sent = script.deliver(
        voter,
        id,
        Message::Vote {
            term,
            granted: true,
        },
    );
    script.expect_eq(
        format!("node {id}'s role in term {term}"),
        script.node(id).role(),
        Role::Leader,
    )?;
    Ok(sent)
}

fn hand_reply(term: u64, success: bool, index: u64, round: u64) -> Message {
    Message::AppendReply(AppendReply {
        term,
        success,
        index,
        last_log_index: index,
        round,
    })
}

fn older_term_answers_confirm_nothing(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    hand_elect(&mut script, 0, 1)?;
    // A few rounds of heartbeats in term 1.
    for _ in 0..4 {
        script.fire_latest(0, |t| matches!(t, Timer::Heartbeat(_)));
    }
    // Deposed by a late refusal of term 2, then elected again in term 3.
    script.deliver(
        2,
        0,
        Message::Vote {
            term: 2,
            granted: false,
        },
    );
    // The election timer node 0 set as a candidate of term 1 is stale: it starts nothing.
    for timer in script.stale(0, |t| matches!(t, Timer::Election(_))) {
        let sent = script.fire(0, timer);
        script.expect_sent(&sent, &[])?;
        script.expect_eq(
            "node 0's (term, role)",
            (script.node(0).term(), script.node(0).role()),
            (2, Role::Follower),
        )?;
    }
    hand_elect(&mut script, 0, 1)?;
    let term = script.node(0).term();
    let last = script.node(0).last_log_index();
    // Node 1 stores the new no-op: it commits and applies.
    script.deliver(1, 0, hand_reply(term, true, last, 1));
    script.expect_eq("node 0's commit index", script.node(0).commit_index(), last)?;
    let (id, _) = start_read(&mut script, "x")?;
    // A late answer to a heartbeat of term 1, of a high round.
    script.deliver(2, 0, hand_reply(1, true, 1, 5));
    let got = script.node(0).read_result(id);
    script.expect(
        got.is_none(),
        format!(
            "expected: read {id:?} still waits: the only answer since it started is node 2's of \
             term 1, when node 0 led an earlier term; it says nothing of node 0's leadership now\n\
             got:      read_result = {got:?}"
        ),
    )?;
    for round in 1..=3 {
        script.deliver(2, 0, hand_reply(term, true, last, round));
    }
    let got = script.node(0).read_result(id);
    script.expect(
        got == Some(None),
        format!(
            "expected: once node 2 answers the rounds of term {term} sent after the read, the \
             read is served: Some(None), x being missing\ngot:      read_result = {got:?}"
        ),
    )
}

fn leading_again_forgets_old_answers(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    hand_elect(&mut script, 0, 1)?;
    // A few rounds of heartbeats in term 1, round 5 answered by both followers.
    for _ in 0..4 {
        script.fire_latest(0, |t| matches!(t, Timer::Heartbeat(_)));
    }
    for follower in [1, 2] {
        script.deliver(follower, 0, hand_reply(1, true, 1, 5));
    }
    // Deposed by a refusal of term 2, then elected again in term 3.
    script.deliver(
        2,
        0,
        Message::Vote {
            term: 2,
            granted: false,
        },
    );
    hand_elect(&mut script, 0, 1)?;
    let term = script.node(0).term();
    let last = script.node(0).last_log_index();
    // Node 1 stores the new no-op: it commits and applies.
    script.deliver(1, 0, hand_reply(term, true, last, 1));
    script.expect_eq("node 0's commit index", script.node(0).commit_index(), last)?;
    let (id, effects) = start_read(&mut script, "x")?;
    let got = script.node(0).read_result(id);
    script.expect(
        got.is_none(),
        format!(
            "expected: read {id:?} waits: in term {term}, the only answer node 0 has is node 1's \
             to round 1, sent before the read; the answers of nodes 1 and 2 to round 5 came while \
             node 0 led term 1, and say nothing of its leadership now (rounds start again at 0 \
             in each term, and so do the answers counted)\n\
             got:      read_result = {got:?}"
        ),
    )?;
    let round = effects.sends.iter().find_map(|(_, m)| match m {
        Message::AppendEntries(append) => Some(append.round),
        _ => None,
    });
    let Some(round) = round else {
        return Err(
            script.failure("expected: read sends a round of AppendEntries at once\ngot:      none")
        );
    };
    script.deliver(2, 0, hand_reply(term, true, last, round));
    let got = script.node(0).read_result(id);
    script.expect(
        got == Some(None),
        format!(
            "expected: once node 2 answers round {round} of term {term}, the one the read sent, \
             the read is served: Some(None), x being missing\ngot:      read_result = {got:?}"
        ),
    )
}

fn read_ids_are_unique(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(1);
    script.fire_pending(0, "an election timer", |t| matches!(t, Timer::Election(_)))?;
    let mut reads: Vec<(ReadId, Option<String>)> = Vec::new();
    for seq in 1..=3 {
        let value = seq.to_string();
        let command = Command {
            client_id: 1,
            seq,
            op: put("x", &value),
        };
        let (proposed, _) =
            script.act(format!("node 0: propose(put x={value})"), 0, |node, ctx| {
                node.propose(command, ctx)
            });
        if let Err(e) = proposed {
            return Err(script.failure(format!(
                "expected: node 0, a leader of one, takes the proposal\ngot:      Err({e:?})"
            )));
        }
        let (id, _) = start_read(&mut script, "x")?;
        script.did_pop();
        script.note(format!("node 0: read(\"x\") = Ok({id:?})"));
        if reads.iter().any(|(earlier, _)| *earlier == id) {
            return Err(script.failure(format!(
                "expected: each read gets an id no earlier read had (a client asking about its \
                 read would get another's answer)\ngot:      {id:?} twice"
            )));
        }
        reads.push((id, Some(value)));
        for (id, value) in &reads {
            let got = script.node(0).read_result(*id);
            script.expect(
                got.as_ref() == Some(value),
                format!(
                    "expected: read_result({id:?}) = Some({value:?}), what x was when that read \
                     was served (a cluster of one serves a read at once)\ngot:      {got:?}"
                ),
            )?;
        }
    }
    Ok(())
}

fn no_op_saved_and_read_round_sent_at_once(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    let announced = hand_elect(&mut script, 0, 1)?;
    let term = script.node(0).term();
    let no_op = script.node(0).last_log_index();
    for (to, message) in &announced {
        if let Message::AppendEntries(append) = message {
            script.expect(
                append.prev_log_index <= no_op,
                format!(
                    "expected: node 0's first AppendEntries to node {to} checks an entry node 0 \
                     has (prev_log_index at most {no_op}, its log's end: next_index starts just \
                     past its log)\ngot:      {append:?}"
                ),
            )?;
        }
    }
    // Node 1 stores the no-op: with node 0 itself, a majority.
    script.deliver(1, 0, hand_reply(term, true, no_op, 1));
    script.expect_eq(
        "node 0's commit index",
        script.node(0).commit_index(),
        no_op,
    )?;
    script.restart(0);
    let kept = script.node(0).entry(no_op).cloned();
    script.expect(
        kept.as_ref()
            .is_some_and(|e| e.term == term && e.command.op == Op::Noop),
        format!(
            "expected: node 0 comes back with its no-op of term {term} at index {no_op}: it \
             counted itself among the majority that committed it, so it must have saved it\n\
             got:      entry({no_op}) = {kept:?}"
        ),
    )?;
    let mut script = Hand::new(3);
    hand_elect(&mut script, 0, 1)?;
    script.deliver(1, 0, hand_reply(term, true, no_op, 1));
    let (id, effects) = start_read(&mut script, "x")?;
    let rounds: Vec<(NodeId, u64)> = effects
        .sends
        .iter()
        .filter_map(|(to, m)| match m {
            Message::AppendEntries(append) => Some((*to, append.round)),
            _ => None,
        })
        .collect();
    let to: Vec<NodeId> = rounds.iter().map(|&(to, _)| to).collect();
    script.expect(
        to.contains(&1) && to.contains(&2),
        format!(
            "expected: read sends a round of AppendEntries to nodes 1 and 2 at once (waiting for \
             the next heartbeat makes every read up to a heartbeat interval slower)\n\
             got:      AppendEntries to {to:?}"
        ),
    )?;
    let round = rounds[0].1;
    script.deliver(1, 0, hand_reply(term, true, no_op, round));
    let got = script.node(0).read_result(id);
    script.expect(
        got == Some(None),
        format!(
            "expected: node 1's answer to round {round}, the one read sent, confirms the read: \
             Some(None), x being missing\ngot:      read_result = {got:?}"
        ),
    )
}

fn no_op_at_term_start(ctx: &mut Ctx) -> CheckResult {
    for seed in seeds(ctx, 2) {
        ctx.doing(format!(
            "electing leaders on a steady network of 3 (simulated run {seed})"
        ));
        let mut run = Run::new(3, steady(), seed, "no-op");
        for round in 0..2 {
            let elected = run.run_until(ms(2000) * (round + 1), |sim| leader_of(sim).is_some());
            if !elected.map_err(Failure::new)? {
                return run.fail("expected a leader within 2 s on a steady network; none");
            }
            let leader = run.leader().expect("just found");
            let node = run.sim.node(leader).expect("running");
            let last = node.entry(node.last_log_index()).cloned();
            let term = node.term();
            let is_no_op = last.as_ref().is_some_and(|e| {
                e.term == term && e.command.op == Op::Noop && e.command.client_id == 0
            });
            if !is_no_op {
                return run.fail(&format!(
                    "node {leader} has just become the leader of term {term}\nexpected: its last \
                     entry is a no-op of term {term} (Op::Noop, client 0, seq 0)\ngot:      {last:?}"
                ));
            }
            let index = node.last_log_index();
            let until = run.sim.now() + ms(500);
            let committed = run.run_until(until, |sim| {
                (0..sim.len()).all(|id| sim.node(id).is_some_and(|n| n.commit_index() >= index))
            });
            if !committed.map_err(Failure::new)? {
                return run.fail(&format!(
                    "the no-op of node {leader}, leader of term {term}, at index {index}, was not \
                     committed on every node within 500 ms"
                ));
            }
            // Depose it, for a second election.
            run.sim.crash(leader, Some(ms(100)));
        }
    }
    Ok(())
}

fn follower_refuses_reads(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.doing("reading at each follower of a settled cluster of 3");
    let mut run = Run::new(3, steady(), seed, "follower");
    let leader = run.settle(ms(2000)).map_err(Failure::new)?;
    for follower in (0..3).filter(|&id| id != leader) {
        let got = run.read(follower, "x");
        if got
            != Err(NotLeader {
                leader_hint: Some(leader),
            })
        {
            return run.fail(&format!(
                "read(\"x\") at node {follower}, a follower of node {leader}\nexpected: \
                 Err(NotLeader {{ leader_hint: Some({leader}) }})\ngot:      {got:?}"
            ));
        }
    }
    Ok(())
}

fn leader_reads_last_write(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.doing("writing and reading at the leader of a cluster of 3");
    let mut run = Run::new(3, steady(), seed, "quiet");
    let leader = run.settle(ms(2000)).map_err(Failure::new)?;
    run.write(leader, 1, 1, put("x", "1"))
        .map_err(Failure::new)?;
    run.write(leader, 1, 2, append("x", "2"))
        .map_err(Failure::new)?;
    let reads = [("x", Some("12".to_string())), ("nothing", None)];
    let mut ids = Vec::new();
    for (key, _) in &reads {
        match run.read(leader, key) {
            Ok(id) => ids.push(id),
            Err(error) => {
                return run.fail(&format!(
                    "read({key:?}) at node {leader}, the leader: expected Ok(id), got Err({error:?})"
                ));
            }
        }
    }
    if ids[0] == ids[1] {
        return run.fail(&format!(
            "two reads at the leader got the same id, {:?}: each read needs its own",
            ids[0]
        ));
    }
    for ((key, expected), id) in reads.iter().zip(ids) {
        let got = run.await_read(leader, id, ms(300)).map_err(Failure::new)?;
        if got != Some(expected.clone()) {
            return run.fail(&format!(
                "put x=1, append x+=2, then read({key:?}) at the leader, node {leader}, waited 300 ms \
                 for read_result\nexpected: Some({expected:?})\ngot:      {got:?}"
            ));
        }
    }
    Ok(())
}

/// Leader A commits `put x=1` and crashes at once, before its followers learn the commit; B is
/// elected. Returns the run, A, and B as soon as it leads.
fn lose_leader_after_commit(
    seed: u64,
    name: &'static str,
) -> Result<(Run, NodeId, NodeId), Failure> {
    let mut run = Run::new(3, steady(), seed, name);
    let old = run.settle(ms(2000)).map_err(Failure::new)?;
    let command = Command {
        client_id: 1,
        seq: 1,
        op: put("x", "1"),
    };
    run.sim.note(old, "client 1: put x=1");
    let index = match run.sim.call(old, |n, ctx| n.propose(command, ctx)) {
        Some(Ok(index)) => index,
        other => {
            return Err(Failure::new(run.report(&format!(
                "propose(put x=1) at the leader, node {old}: expected Ok(index), got {other:?}"
            ))));
        }
    };
    let until = run.sim.now() + ms(300);
    let committed = run
        .run_until(until, |sim| {
            sim.node(old).is_some_and(|n| n.result(1, 1).is_some())
        })
        .map_err(Failure::new)?;
    if !committed {
        return Err(Failure::new(run.report(&format!(
            "put x=1 at index {index}, proposed at the leader (node {old}), was not applied there within 300 ms"
        ))));
    }
    run.sim.note(old, "put x=1 is committed: crash");
    run.sim.crash(old, None);
    let until = run.sim.now() + ms(2000);
    let elected = run
        .run_until(until, |sim| leader_of(sim).is_some())
        .map_err(Failure::new)?;
    let Some(new) = run.leader().filter(|_| elected) else {
        return Err(Failure::new(run.report(&format!(
            "node {old}, the leader, crashed; expected the other two to elect a leader within 2 s; none"
        ))));
    };
    Ok((run, old, new))
}

fn new_leader_reads_old_commits(ctx: &mut Ctx) -> CheckResult {
    for seed in seeds(ctx, 3) {
        ctx.doing(format!(
            "committing put x=1, crashing the leader, reading at the next one (simulated run {seed})"
        ));
        let (mut run, old, new) = lose_leader_after_commit(seed, "new-leader")?;
        let id = match run.read(new, "x") {
            Ok(id) => id,
            Err(error) => {
                return run.fail(&format!(
                    "read(\"x\") at node {new}, just elected: expected Ok(id), got Err({error:?})"
                ));
            }
        };
        let got = run.await_read(new, id, ms(500)).map_err(Failure::new)?;
        if got != Some(Some("1".to_string())) {
            return run.fail(&format!(
                "node {old}, leader, applied put x=1 (the client was told it is done) and crashed \
                 before its followers learned it was committed. Node {new} was elected, and read(\"x\") \
                 at once; waited 500 ms for read_result\nexpected: Some(Some(\"1\"))\ngot:      {got:?}"
            ));
        }
    }
    Ok(())
}

fn read_waits_for_no_op(ctx: &mut Ctx) -> CheckResult {
    for seed in seeds(ctx, 3) {
        ctx.doing(format!(
            "reading at a new leader before its no-op commits (simulated run {seed})"
        ));
        let (mut run, old, new) = lose_leader_after_commit(seed, "no-op-wait")?;
        // Nothing the new leader sends arrives: its no-op cannot commit.
        run.sim.partition(&[new], None);
        let id = match run.read(new, "x") {
            Ok(id) => id,
            Err(error) => {
                return run.fail(&format!(
                    "read(\"x\") at node {new}, just elected: expected Ok(id), got Err({error:?})"
                ));
            }
        };
        let follower = (0..3)
            .find(|&id| id != old && id != new)
            .expect("three nodes");
        let term = run.sim.node(new).expect("running").term();
        // The follower confirms the leadership, for any round the leader could have sent.
        let reply = AppendReply {
            term,
            success: true,
            index: 0,
            last_log_index: 0,
            round: 1_000_000,
        };
        run.sim
            .note(new, "hand-delivered: node's answer to round 1000000");
        run.sim.call(new, |n, ctx| {
            kit::net::Process::on_message(n, follower, Message::AppendReply(reply), ctx)
        });
        let got = run.await_read(new, id, ms(100)).map_err(Failure::new)?;
        if let Some(value) = got {
            return run.fail(&format!(
                "node {old} committed put x=1 and crashed; node {new} was elected with x=1 in its log \
                 but not known committed, then cut off, so its no-op cannot commit. read(\"x\") at \
                 node {new}, and node {follower} answered a heartbeat round later than the read's.\n\
                 expected: the read waits (its leader has not applied its no-op, the read index)\n\
                 got:      read_result = Some({value:?})"
            ));
        }
    }
    Ok(())
}

fn isolated_leader_never_reads(ctx: &mut Ctx) -> CheckResult {
    for (i, seed) in seeds(ctx, 3).into_iter().enumerate() {
        let n = if i == 0 { 5 } else { 3 };
        ctx.doing(format!(
            "cutting off the leader of {n} nodes and reading there (simulated run {seed})"
        ));
        let mut run = Run::new(n, steady(), seed, "isolated");
        let old = run.settle(ms(2000)).map_err(Failure::new)?;
        run.write(old, 1, 1, put("x", "old"))
            .map_err(Failure::new)?;
        run.run_for(ms(20)).map_err(Failure::new)?;
        run.sim.note(old, "cut off");
        run.sim.partition(&[old], None);
        let id = match run.read(old, "x") {
            Ok(id) => id,
            Err(error) => {
                return run.fail(&format!(
                    "read(\"x\") at node {old}, the leader (just cut off, it cannot know yet): \
                     expected Ok(id), got Err({error:?})"
                ));
            }
        };
        // The others elect a new leader, which takes a write.
        let until = run.sim.now() + ms(2000);
        let elected = run
            .run_until(until, |sim| {
                (0..sim.len())
                    .any(|id| id != old && sim.node(id).is_some_and(|n| n.role() == Role::Leader))
            })
            .map_err(Failure::new)?;
        let new = (0..n)
            .filter(|&id| id != old)
            .find(|&id| run.sim.node(id).is_some_and(|x| x.role() == Role::Leader));
        let Some(new) = new.filter(|_| elected) else {
            return run.fail(&format!(
                "node {old}, the leader, was cut off; expected the other {} to elect a leader within 2 s",
                n - 1
            ));
        };
        run.write(new, 1, 2, put("x", "new"))
            .map_err(Failure::new)?;
        let got = run.await_read(old, id, ms(400)).map_err(Failure::new)?;
        if let Some(value) = got {
            return run.fail(&format!(
                "node {old}, leader, was cut off from the rest; read(\"x\") there; the others \
                 elected node {new}, which committed put x=new\nexpected: the read at node {old} \
                 is never served (no majority can confirm its leadership)\ngot:      read_result = \
                 Some({value:?})"
            ));
        }
    }
    Ok(())
}

/// The highest heartbeat round `leader` has sent so far, from the run's trace.
fn last_round_sent(run: &Run, leader: NodeId) -> Option<u64> {
    run.sim
        .trace()
        .events
        .iter()
        .filter_map(|event| match event {
            TraceEvent::Sent { from, what, .. }
                if *from == leader && what.starts_with("AppendEntries") =>
            {
                let at = what.rfind("round: ")?;
                let digits: String = what[at + 7..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            }
            _ => None,
        })
        .max()
}

fn only_later_rounds_confirm(ctx: &mut Ctx) -> CheckResult {
    for seed in seeds(ctx, 2) {
        ctx.doing(format!(
            "hand-delivering answers to heartbeat rounds to a cut-off leader (simulated run {seed})"
        ));
        let mut run = Run::new(3, steady(), seed, "rounds");
        let leader = run.settle(ms(2000)).map_err(Failure::new)?;
        run.write(leader, 1, 1, put("x", "1"))
            .map_err(Failure::new)?;
        run.run_for(ms(20)).map_err(Failure::new)?;
        // From now on, only the messages we hand it reach the leader.
        run.sim.partition(&[leader], None);
        run.run_for(ms(30)).map_err(Failure::new)?;
        let Some(before) = last_round_sent(&run, leader) else {
            return run.fail(&format!(
                "node {leader} leads, but no AppendEntries of it shows a round in the trace"
            ));
        };
        let id = match run.read(leader, "x") {
            Ok(id) => id,
            Err(error) => {
                return run.fail(&format!(
                    "read(\"x\") at node {leader}, the leader: expected Ok(id), got Err({error:?})"
                ));
            }
        };
        let node = run.sim.node(leader).expect("running");
        let (term, last) = (node.term(), node.last_log_index());
        let follower = (leader + 1) % 3;
        for (round, must_serve) in [(before, false), (before + 1, true)] {
            let reply = AppendReply {
                term,
                success: true,
                index: last,
                last_log_index: last,
                round,
            };
            run.sim.note(
                leader,
                format!("hand-delivered: node {follower}'s answer to round {round}"),
            );
            run.sim.call(leader, |n, ctx| {
                kit::net::Process::on_message(n, follower, Message::AppendReply(reply), ctx)
            });
            let got = run.await_read(leader, id, ms(20)).map_err(Failure::new)?;
            if must_serve && got != Some(Some("1".to_string())) {
                return run.fail(&format!(
                    "node {leader} leads a cluster of 3 (cut off, so only hand-delivered answers reach \
                     it); its last round before read(\"x\") was {before}. Node {follower} answered \
                     round {round}, sent after the read: with the leader itself, a majority.\n\
                     expected: read_result = Some(Some(\"1\")) within 20 ms\ngot:      {got:?}"
                ));
            }
            if !must_serve && got.is_some() {
                return run.fail(&format!(
                    "node {leader} leads a cluster of 3 (cut off, so only hand-delivered answers reach \
                     it); its last round before read(\"x\") was {before}. A late answer of node \
                     {follower} to round {round} arrived.\nexpected: the read still waits (that answer \
                     may predate a newer leader)\ngot:      read_result = {got:?}"
                ));
            }
        }
    }
    Ok(())
}

/// A little splitmix generator, so that the clients' choices follow the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

enum Attempt {
    Write(Command),
    /// Where the latest try of the read went, if anywhere.
    Read(String, Option<(NodeId, ReadId)>),
}

struct Pending {
    /// Its place in the history.
    op: usize,
    attempt: Attempt,
    last_try: Option<Duration>,
}

struct Client {
    id: u64,
    seq: u64,
    guess: NodeId,
    pending: Option<Pending>,
    idle_until: Duration,
}

type History = Vec<Operation<KvOp, Option<String>>>;

const RETRY: Duration = Duration::from_millis(100);

/// Moves each client along: notices answers, retries, and starts new operations.
fn drive(
    run: &mut Run,
    clients: &mut [Client],
    history: &mut History,
    rng: &mut Rng,
    start_new: bool,
) {
    let now = run.sim.now();
    let n = run.sim.len();
    let micros = |t: Duration| t.as_micros() as u64;
    for client in clients.iter_mut() {
        if let Some(pending) = &mut client.pending {
            let answer = match &pending.attempt {
                Attempt::Write(command) => (0..n)
                    .filter_map(|id| run.sim.node(id))
                    .any(|node| node.result(command.client_id, command.seq).is_some())
                    .then_some(None),
                Attempt::Read(_, Some((node, id))) => run.read_result(*node, *id),
                Attempt::Read(_, None) => None,
            };
            if let Some(value) = answer {
                history[pending.op].returned = Some((micros(now), value));
                client.pending = None;
                client.idle_until = now + ms(rng.below(30));
                continue;
            }
            if pending.last_try.is_some_and(|t| now < t + RETRY) {
                continue;
            }
            // (Re)try, starting with the node the client believes leads.
            for _ in 0..n {
                let target = client.guess;
                let tried = match &mut pending.attempt {
                    Attempt::Write(command) => {
                        let command = command.clone();
                        run.sim
                            .call(target, |node, ctx| node.propose(command, ctx).map(|_| ()))
                    }
                    Attempt::Read(key, at) => {
                        let key = key.clone();
                        let got = run.sim.call(target, |node, ctx| node.read(key, ctx));
                        match got {
                            Some(Ok(id)) => {
                                *at = Some((target, id));
                                Some(Ok(()))
                            }
                            Some(Err(e)) => Some(Err(e)),
                            None => None,
                        }
                    }
                };
                match tried {
                    Some(Ok(())) => {
                        pending.last_try = Some(now);
                        break;
                    }
                    Some(Err(NotLeader {
                        leader_hint: Some(hint),
                    })) if hint != target && hint < n => {
                        client.guess = hint;
                    }
                    _ => client.guess = (target + 1) % n,
                }
            }
        } else if start_new && now >= client.idle_until {
            client.seq += 1;
            let key = ["x", "y"][rng.below(2) as usize].to_string();
            let value = format!("{}.{}", client.id, client.seq);
            let (op, attempt) = match rng.below(10) {
                0..=2 => (
                    KvOp::Put(key.clone(), value.clone()),
                    Attempt::Write(Command {
                        client_id: client.id,
                        seq: client.seq,
                        op: put(&key, &value),
                    }),
                ),
                3..=5 => (
                    KvOp::Append(key.clone(), value.clone()),
                    Attempt::Write(Command {
                        client_id: client.id,
                        seq: client.seq,
                        op: append(&key, &value),
                    }),
                ),
                _ => (KvOp::Get(key.clone()), Attempt::Read(key, None)),
            };
            history.push(Operation {
                client: client.id as usize,
                op,
                invoked: micros(now),
                returned: None,
            });
            client.pending = Some(Pending {
                op: history.len() - 1,
                attempt,
                last_try: None,
            });
        }
    }
}

fn linearizable_under_faults(ctx: &mut Ctx) -> CheckResult {
    let profiles = [
        Faults::everything(),
        Faults::lossy(),
        Faults::partitions(),
        Faults::crashes(),
    ];
    for (i, seed) in seeds(ctx, 4).into_iter().enumerate() {
        let faults = profiles[i % profiles.len()].clone();
        let n = 3;
        ctx.doing(format!(
            "3 clients on {n} nodes, network {}, simulated run {seed}",
            faults.name
        ));
        let mut run = Run::new(n, faults.clone(), seed, faults.name);
        let mut rng = Rng(seed ^ 0xC11E_0757);
        let mut clients: Vec<Client> = (1..=3)
            .map(|id| Client {
                id,
                seq: 0,
                guess: 0,
                pending: None,
                idle_until: Duration::ZERO,
            })
            .collect();
        let mut history = History::new();
        let tick = ms(5);
        let faulty_until = ms(2500);
        while run.sim.now() < faulty_until {
            let next = run.sim.now() + tick;
            run.run_until(next, |_| false).map_err(Failure::new)?;
            drive(&mut run, &mut clients, &mut history, &mut rng, true);
        }
        // The weather clears: every client's operation must now complete.
        run.sim.set_faults(faults.healed());
        for id in 0..n {
            run.sim.restart(id);
        }
        let healed_until = faulty_until + ms(2500);
        while run.sim.now() < healed_until && clients.iter().any(|c| c.pending.is_some()) {
            let next = run.sim.now() + tick;
            run.run_until(next, |_| false).map_err(Failure::new)?;
            drive(&mut run, &mut clients, &mut history, &mut rng, false);
        }
        if let Some(stuck) = clients.iter().find(|c| c.pending.is_some()) {
            let op = &history[stuck.pending.as_ref().expect("pending").op];
            return run.fail(&format!(
                "network {}: after the faults stopped at t={faulty_until:?} (crashed nodes restarted), \
                 client {}'s {:?}, retried every {RETRY:?}, still had no answer 2.5 s later",
                faults.name, stuck.id, op.op
            ));
        }
        match lin::check(&KvModel, &history, 200_000) {
            Verdict::Linearizable => {}
            verdict => {
                return run.fail(&format!(
                    "network {}: {} operations by 3 clients (writes proposed, reads by read()); {verdict}",
                    faults.name,
                    history.len()
                ));
            }
        }
    }
    Ok(())
}
