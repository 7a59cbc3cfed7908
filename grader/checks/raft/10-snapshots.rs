//! Hidden checks for raft/snapshots.

use std::collections::BTreeMap;
use std::time::Duration;

use judge::prelude::*;
use kit::consensus::{NodeView, SafetyChecker};
use kit::lin::{self, KvModel, KvOp, Operation, Verdict};
use kit::net::{Faults, NodeId, Sim, TraceEvent};
use raft_snapshots::{
    AppendEntries, AppendReply, Command, Entry, Message, Node, NotLeader, Op, ReadId, Role,
    SNAPSHOT_THRESHOLD, Session, Snapshot, Timer,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "once SNAPSHOT_THRESHOLD entries are applied, every node compacts its log, and indexes keep their meaning",
            compacts,
        )
        .check(
            "a lone leader compacts exactly when SNAPSHOT_THRESHOLD applied entries are in its \
             log, saves the snapshot at once, and compacts again only SNAPSHOT_THRESHOLD entries later",
            compacts_at_the_threshold,
        )
        .check(
            "nodes restarted after snapshotting recover their store from the snapshot and the log after it",
            restart_from_snapshot,
        )
        .check(
            "a retried request committed again after a restart from a snapshot takes effect once",
            sessions_survive,
        )
        .check(
            "a follower that missed entries the leader has compacted catches up through InstallSnapshot",
            catch_up_by_snapshot,
        )
        .check(
            "installing a snapshot keeps the log after it when the log holds its last entry, and replaces a log that does not",
            install_snapshot,
        )
        .check(
            "a follower that takes a snapshot hears its leader in it (a fresh election timer), \
             saves it before answering, and a second snapshot compacts from the first one's end",
            install_resets_saves_and_stacks,
        )
        .check(
            "after installing a snapshot a node's commit index is the snapshot's last index, and \
             the snapshot's last term answers the consistency check at that index",
            after_install,
        )
        .check(
            "a snapshot that covers no more than the node has applied changes nothing, even one \
             past the node's own snapshot; an AppendEntries reaching into the snapshot is \
             answered with success, and a request of an older term is refused",
            stale_messages,
        )
        .check(
            "after installing a snapshot, a retry of a request the snapshot covers takes effect \
             once: the snapshot's client sessions come with its store",
            install_takes_sessions,
        )
        .check(
            "a read at a new leader waits until its no-op is applied, even once a majority has \
             answered the read's round",
            read_waits_for_no_op,
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
    /// Per node, what its view last looked like (to observe only when something changed).
    last_key: Vec<Option<ViewKey>>,
    /// The store as first seen after applying up to each index: every node must agree.
    stores: BTreeMap<u64, (NodeId, String)>,
    /// The highest term of an entry seen committed: a leader of an older term is a stale one,
    /// cut off and not yet told, and is not held to leader completeness.
    committed_term: u64,
    name: &'static str,
    seed: u64,
}

type ViewKey = (u64, bool, u64, u64, u64, u64, u64);

fn key_of(node: &Node) -> ViewKey {
    let last = node.last_log_index();
    (
        node.term(),
        node.role() == Role::Leader,
        last,
        node.entry(last).map_or(0, |e| e.term),
        node.commit_index(),
        node.last_applied(),
        node.snapshot_index(),
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
            stores: BTreeMap::new(),
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
                views.push(None);
                continue;
            };
            let applied = node.last_applied();
            if applied > 0 {
                let store = format!("{:?}", node.store());
                let first = self.stores.entry(applied).or_insert((id, store.clone()));
                if first.1 != store {
                    return Err(format!(
                        "state machine safety: after applying up to index {applied}, node {} had \
                         the store {} but node {id} has {store}",
                        first.0, first.1
                    ));
                }
            }
            views.push(Some(NodeView {
                term: node.term(),
                leader: node.role() == Role::Leader && node.term() >= self.committed_term,
                first_index: node.snapshot_index() + 1,
                log_terms: node.log().iter().map(|e| e.term).collect(),
                log_commands: node
                    .log()
                    .iter()
                    .map(|e| show_command(&e.command))
                    .collect(),
                commit_index: node.commit_index(),
                applied: BTreeMap::new(),
            }));
        }
        self.last_key = keys;
        self.checker.observe(&views)
    }

    /// The failure message: what broke, when, and where the picture of the run is.
    fn report(&self, what: &str) -> String {
        let path = std::env::temp_dir().join(format!(
            "raft-10-snapshots-{}-seed-{}.svg",
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
    // (Its last entry, its no-op, may be compacted already.)
    if last == 0 || node.entry(last).is_some_and(|e| e.term != node.term()) {
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

/// Proposes puts of client `client`, seqs `seqs` (to keys k0..k4), at the leader, 8 at a time,
/// and waits until the leader has applied each batch. `model` follows.
fn fill(
    run: &mut Run,
    leader: NodeId,
    model: &mut BTreeMap<String, String>,
    client: u64,
    seqs: std::ops::RangeInclusive<u64>,
) -> Result<(), String> {
    let seqs: Vec<u64> = seqs.collect();
    run.sim
        .note(leader, format!("client {client}: {} puts", seqs.len()));
    for batch in seqs.chunks(8) {
        let mut last = 0;
        for &seq in batch {
            let key = format!("k{}", seq % 5);
            let value = seq.to_string();
            let command = Command {
                client_id: client,
                seq,
                op: put(&key, &value),
            };
            match run.sim.call(leader, |n, ctx| n.propose(command, ctx)) {
                Some(Ok(index)) => last = index,
                other => {
                    return Err(run.report(&format!(
                        "propose(put {key}={value}) at the leader, node {leader}: expected Ok(index), got {other:?}"
                    )));
                }
            }
            model.insert(key, value);
        }
        let until = run.sim.now() + ms(500);
        let done = run.run_until(until, |sim| {
            sim.node(leader).is_some_and(|n| n.last_applied() >= last)
        })?;
        if !done {
            let applied = run.sim.node(leader).map(Node::last_applied);
            return Err(run.report(&format!(
                "node {leader}, the leader of a steady cluster, proposed entries up to index {last}; \
                 500 ms later it had applied up to {applied:?}"
            )));
        }
    }
    Ok(())
}

/// Waits until every running node has applied the leader's whole log.
fn converge(run: &mut Run, within: Duration) -> Result<NodeId, String> {
    let until = run.sim.now() + within;
    let done = run.run_until(until, |sim| {
        let Some(leader) = settled_leader(sim) else {
            return false;
        };
        let last = sim.node(leader).map_or(0, Node::last_log_index);
        (0..sim.len())
            .filter_map(|id| sim.node(id))
            .all(|n| n.last_applied() == last && n.last_log_index() == last)
    })?;
    match settled_leader(&run.sim) {
        Some(leader) if done => Ok(leader),
        _ => Err(run.report(&format!(
            "expected every running node to apply the leader's whole log within {within:?}; they did not"
        ))),
    }
}

/// Every running node's store is `model`.
fn stores_match(run: &Run, model: &BTreeMap<String, String>, did: &str) -> CheckResult {
    for id in 0..run.sim.len() {
        let Some(node) = run.sim.node(id) else {
            continue;
        };
        if node.store() != model {
            return run.fail(&format!(
                "{did}\nexpected node {id}'s store: {model:?}\ngot:                      {:?}",
                node.store()
            ));
        }
    }
    Ok(())
}

fn compacts(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.doing("writing 150 puts on a steady cluster of 3");
    let mut run = Run::new(3, steady(), seed, "compacts");
    let leader = run.settle(ms(2000)).map_err(Failure::new)?;
    let mut model = BTreeMap::new();
    fill(&mut run, leader, &mut model, 8, 1..=150).map_err(Failure::new)?;
    let leader = converge(&mut run, ms(500)).map_err(Failure::new)?;
    let threshold = SNAPSHOT_THRESHOLD;
    for id in 0..3 {
        let node = run.sim.node(id).expect("no crashes here");
        let (snap, applied, last) = (
            node.snapshot_index(),
            node.last_applied(),
            node.last_log_index(),
        );
        let did = format!(
            "150 puts, all applied on node {id}: snapshot_index() = {snap}, last_applied() = {applied}, \
             last_log_index() = {last}, log().len() = {}",
            node.log().len()
        );
        if snap < threshold || snap > applied {
            return run.fail(&format!(
                "{did}\nexpected a snapshot of applied entries only, at least SNAPSHOT_THRESHOLD = \
                 {threshold} of them: {threshold} <= snapshot_index() <= last_applied()"
            ));
        }
        if applied - snap >= threshold {
            return run.fail(&format!(
                "{did}\nexpected a new snapshot once {threshold} applied entries pile up after the last one"
            ));
        }
        if node.log().len() as u64 != last - snap {
            return run.fail(&format!(
                "{did}\nexpected the log to hold exactly the entries after the snapshot: \
                 last_log_index() - snapshot_index() of them"
            ));
        }
        if node.entry(snap).is_some() || node.entry(snap + 1) != node.log().first() {
            return run.fail(&format!(
                "{did}\nexpected entry({snap}) = None (compacted) and entry({}) = log()[0]; got {:?} and {:?}",
                snap + 1,
                node.entry(snap),
                node.entry(snap + 1)
            ));
        }
        let theirs = run.sim.node(leader).and_then(|l| l.entry(last));
        if node.entry(last) != theirs {
            return run.fail(&format!(
                "{did}\nexpected entry({last}) to be the leader's (node {leader}): {theirs:?}\ngot: {:?}",
                node.entry(last)
            ));
        }
    }
    stores_match(
        &run,
        &model,
        "150 puts (keys k0..k4), all applied on every node",
    )
}

fn restart_from_snapshot(ctx: &mut Ctx) -> CheckResult {
    for seed in seeds(ctx, 2) {
        ctx.doing(format!(
            "writing 150 puts, crashing and restarting every node (simulated run {seed})"
        ));
        let mut run = Run::new(3, steady(), seed, "restart");
        let leader = run.settle(ms(2000)).map_err(Failure::new)?;
        let mut model = BTreeMap::new();
        fill(&mut run, leader, &mut model, 8, 1..=150).map_err(Failure::new)?;
        converge(&mut run, ms(500)).map_err(Failure::new)?;
        for id in 0..3 {
            run.sim.crash(id, None);
        }
        for id in 0..3 {
            run.sim.restart(id);
        }
        let leader = run.settle(ms(2000)).map_err(Failure::new)?;
        converge(&mut run, ms(500)).map_err(Failure::new)?;
        stores_match(
            &run,
            &model,
            "150 puts (keys k0..k4) applied and compacted; every node crashed and restarted; a leader \
             was elected and every node applied its log",
        )?;
        run.write(leader, 8, 151, put("k0", "after"))
            .map_err(Failure::new)?;
        model.insert("k0".into(), "after".into());
        converge(&mut run, ms(500)).map_err(Failure::new)?;
        stores_match(&run, &model, "... then put k0=after")?;
        let got = match run.read(leader, "k0") {
            Ok(id) => run.await_read(leader, id, ms(300)).map_err(Failure::new)?,
            Err(error) => {
                return run.fail(&format!("read(\"k0\") at the leader: got Err({error:?})"));
            }
        };
        if got != Some(Some("after".to_string())) {
            return run.fail(&format!(
                "... then put k0=after, and read(\"k0\") at the leader, node {leader}\nexpected: \
                 Some(Some(\"after\")) within 300 ms\ngot:      {got:?}"
            ));
        }
    }
    Ok(())
}

fn sessions_survive(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.doing("append x+=a, 100 puts, restarting every node, then a retry of the append");
    let mut run = Run::new(3, steady(), seed, "sessions");
    let leader = run.settle(ms(2000)).map_err(Failure::new)?;
    let first = run
        .write(leader, 7, 1, append("x", "a"))
        .map_err(Failure::new)?;
    let mut model = BTreeMap::new();
    fill(&mut run, leader, &mut model, 8, 1..=100).map_err(Failure::new)?;
    converge(&mut run, ms(500)).map_err(Failure::new)?;
    if let Some((id, node)) = (0..3)
        .map(|id| (id, run.sim.node(id).expect("running")))
        .find(|(_, n)| n.snapshot_index() < first)
    {
        return run.fail(&format!(
            "101 writes applied on every node, but node {id}'s snapshot_index() is {}: expected a \
             snapshot past index {first} (SNAPSHOT_THRESHOLD is {SNAPSHOT_THRESHOLD})",
            node.snapshot_index()
        ));
    }
    for id in 0..3 {
        run.sim.crash(id, None);
    }
    for id in 0..3 {
        run.sim.restart(id);
    }
    let leader = run.settle(ms(2000)).map_err(Failure::new)?;
    let retry = Command {
        client_id: 7,
        seq: 1,
        op: append("x", "a"),
    };
    run.sim
        .note(leader, "client 7 retries: append x+=a (seq 1)");
    if let Some(Err(error)) = run.sim.call(leader, |n, ctx| n.propose(retry, ctx)) {
        return run.fail(&format!(
            "propose(retry) at the leader, node {leader}: expected Ok(index), got Err({error:?})"
        ));
    }
    converge(&mut run, ms(500)).map_err(Failure::new)?;
    model.insert("x".into(), "a".into());
    stores_match(
        &run,
        &model,
        "client 7: append x+=a (seq 1), applied; 100 more writes, compacted into snapshots; every \
         node crashed and restarted; then client 7 retried its append (seq 1 again), and the retry \
         was committed",
    )
}

fn catch_up_by_snapshot(ctx: &mut Ctx) -> CheckResult {
    for seed in seeds(ctx, 2) {
        ctx.doing(format!(
            "crashing a follower, writing 150 puts, restarting it (simulated run {seed})"
        ));
        let mut run = Run::new(3, steady(), seed, "catch-up");
        let leader = run.settle(ms(2000)).map_err(Failure::new)?;
        let down = (leader + 1) % 3;
        run.sim.crash(down, None);
        let mut model = BTreeMap::new();
        fill(&mut run, leader, &mut model, 8, 1..=150).map_err(Failure::new)?;
        let compacted = run.sim.node(leader).map_or(0, Node::snapshot_index);
        let restarted_at = run.sim.trace().events.len();
        run.sim.restart(down);
        let caught_up = converge(&mut run, ms(1000));
        let sent_snapshot = run.sim.trace().events[restarted_at..].iter().any(|event| {
            matches!(event, TraceEvent::Sent { from, to, what, .. }
                if *from == leader && *to == down && what.starts_with("InstallSnapshot"))
        });
        if let Err(why) = caught_up {
            return fail(format!(
                "node {down} was down while the leader, node {leader}, applied 150 puts and compacted \
                 its log up to index {compacted}; node {down} restarted.{}\n{why}",
                if sent_snapshot {
                    ""
                } else {
                    " The leader never sent it an InstallSnapshot."
                }
            ));
        }
        if !sent_snapshot {
            return run.fail(&format!(
                "node {down} caught up, but the leader, node {leader}, which had compacted its log up \
                 to index {compacted}, never sent it an InstallSnapshot: where did the entries come from?"
            ));
        }
        stores_match(
            &run,
            &model,
            &format!("node {down} was down for 150 puts, restarted, and caught up"),
        )?;
    }
    Ok(())
}

/// A fresh node 0, cut off from the others, to hand messages to.
fn lone_node(seed: u64, name: &'static str) -> Run {
    let mut run = Run::new(3, steady(), seed, name);
    run.sim.partition(&[0], None);
    run
}

fn deliver(run: &mut Run, from: NodeId, message: Message) {
    let text = format!("{message:?}");
    let short: String = text.chars().take(80).collect();
    run.sim
        .note(0, format!("hand-delivered from {from}: {short}"));
    run.sim.call(0, |n, ctx| {
        kit::net::Process::on_message(n, from, message, ctx)
    });
}

/// What node 0 last answered an AppendEntries or InstallSnapshot with: (success, index).
fn last_answer(run: &Run) -> Option<(bool, u64)> {
    answer_since(run, 0)
}

/// What node 0 last answered with among the trace's events from `start` on.
fn answer_since(run: &Run, start: usize) -> Option<(bool, u64)> {
    run.sim.trace().events[start..]
        .iter()
        .rev()
        .find_map(|event| match event {
            TraceEvent::Sent { from: 0, what, .. } if what.starts_with("AppendReply") => {
                let success = what.contains("success: true");
                let at = what.find(", index: ")? + 9;
                let digits: String = what[at..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                Some((success, digits.parse().ok()?))
            }
            _ => None,
        })
}

fn entry(i: u64) -> Entry {
    Entry {
        term: 1,
        command: Command {
            client_id: 9,
            seq: i,
            op: put("k", &i.to_string()),
        },
    }
}

fn snapshot(last_index: u64, last_term: u64, value: &str) -> Snapshot {
    Snapshot {
        last_index,
        last_term,
        store: BTreeMap::from([("k".to_string(), value.to_string())]),
        sessions: BTreeMap::from([(
            9,
            Session {
                seq: last_index,
                result: None,
            },
        )]),
    }
}

fn store_of(value: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("k".to_string(), value.to_string())])
}

/// Node 0 as (snapshot_index, last_applied, last_log_index, store).
fn state(run: &Run) -> (u64, u64, u64, BTreeMap<String, String>) {
    let node = run.sim.node(0).expect("running");
    (
        node.snapshot_index(),
        node.last_applied(),
        node.last_log_index(),
        node.store().clone(),
    )
}

/// Hands node 0 entries 1..=10 of term 1 (put k=i, client 9 seq i) from leader 1, commit 0,
/// then leader 1's snapshot up to 4. Fails unless the entries after the snapshot stay.
fn entries_then_snapshot(run: &mut Run) -> CheckResult {
    let append = AppendEntries {
        term: 1,
        prev_log_index: 0,
        prev_log_term: 0,
        entries: (1..=10).map(entry).collect(),
        leader_commit: 0,
        round: 1,
    };
    deliver(run, 1, Message::AppendEntries(append));
    let did = "node 0, fresh, got AppendEntries from leader 1 of term 1 with entries 1..=10 \
               (term 1, put k=i), leader_commit 0";
    if state(run).2 != 10 {
        return run.fail(&format!(
            "{did}\nexpected last_log_index() = 10\ngot:      {}",
            state(run).2
        ));
    }
    deliver(
        run,
        1,
        Message::InstallSnapshot {
            term: 1,
            snapshot: snapshot(4, 1, "4"),
            round: 2,
        },
    );
    let did =
        format!("{did}; then InstallSnapshot of term 1 up to index 4 (term 1), store {{k: 4}}");
    let expected = (4, 4, 10, store_of("4"));
    let got = state(run);
    if got != expected {
        return run.fail(&format!(
            "{did}\nits log holds the snapshot's last entry (index 4, term 1): the entries after it stay\n\
             expected (snapshot_index, last_applied, last_log_index, store): {expected:?}\ngot: {got:?}"
        ));
    }
    let node = run.sim.node(0).expect("running");
    for i in 5..=10 {
        if node.entry(i) != Some(&entry(i)) {
            return run.fail(&format!(
                "{did}\nexpected entry({i}) = {:?}\ngot:      {:?}",
                entry(i),
                node.entry(i)
            ));
        }
    }
    let answer = last_answer(run);
    if answer != Some((true, 4)) {
        return run.fail(&format!(
            "{did}\nexpected the answer AppendReply {{ success: true, index: 4, .. }} (the leader's \
             match index for it)\ngot (success, index): {answer:?}"
        ));
    }
    Ok(())
}

fn install_snapshot(ctx: &mut Ctx) -> CheckResult {
    ctx.doing("handing InstallSnapshot messages to a node cut off from the rest");
    let mut run = lone_node(ctx.seed(), "install");
    entries_then_snapshot(&mut run)?;
    // A leader of term 2 whose entry 8 is of term 2: ours (term 1) conflicts.
    deliver(
        &mut run,
        2,
        Message::InstallSnapshot {
            term: 2,
            snapshot: snapshot(8, 2, "eight"),
            round: 1,
        },
    );
    let expected = (8, 8, 8, store_of("eight"));
    let got = state(&run);
    let log = run.sim.node(0).map_or(0, |n| n.log().len());
    if got != expected || log != 0 {
        return run.fail(&format!(
            "node 0 held entries 5..=10 of term 1 after a snapshot up to 4; then InstallSnapshot from \
             leader 2 of term 2, up to index 8 of term 2, store {{k: eight}}: its entry 8 (term 1) \
             conflicts, so its whole log goes\nexpected (snapshot_index, last_applied, \
             last_log_index, store): {expected:?}, and an empty log()\ngot: {got:?}, log() of {log}"
        ));
    }
    Ok(())
}

fn after_install(ctx: &mut Ctx) -> CheckResult {
    ctx.doing("handing InstallSnapshot, then AppendEntries, to a node cut off from the rest");
    let mut run = lone_node(ctx.seed(), "after-install");
    entries_then_snapshot(&mut run)?;
    deliver(
        &mut run,
        2,
        Message::InstallSnapshot {
            term: 2,
            snapshot: snapshot(8, 2, "eight"),
            round: 1,
        },
    );
    let mut did = "node 0 held entries 1..=10 of term 1 (leader 1, commit 0) and a snapshot up to \
                   4; then InstallSnapshot from leader 2 of term 2, up to index 8 of term 2"
        .to_string();
    let commit = run.sim.node(0).map_or(0, |n| n.commit_index());
    if commit != 8 {
        return run.fail(&format!(
            "{did}\nexpected commit_index() = 8: a snapshot holds only committed entries, and \
             the node has applied them\ngot:      {commit}"
        ));
    }
    let nine = Entry {
        term: 2,
        command: Command {
            client_id: 9,
            seq: 9,
            op: put("k", "nine"),
        },
    };
    let append = |prev_log_term: u64, round: u64| {
        Message::AppendEntries(AppendEntries {
            term: 2,
            prev_log_index: 8,
            prev_log_term,
            entries: vec![nine.clone()],
            leader_commit: 9,
            round,
        })
    };
    deliver(&mut run, 2, append(1, 2));
    did.push_str("; then AppendEntries of term 2 after (8, term 1)");
    let answer = last_answer(&run);
    if answer != Some((false, 8)) {
        return run.fail(&format!(
            "{did}\nexpected the answer AppendReply {{ success: false, index: 8, .. }}: its entry 8 \
             is the snapshot's last, of term 2\ngot (success, index): {answer:?}"
        ));
    }
    deliver(&mut run, 2, append(2, 3));
    did.push_str("; then AppendEntries of term 2 after (8, term 2) with entry 9, leader_commit 9");
    let answer = last_answer(&run);
    let node = run.sim.node(0).expect("running");
    let got = (
        answer,
        node.commit_index(),
        node.last_applied(),
        node.store().clone(),
    );
    let expected = (Some((true, 9)), 9, 9, store_of("nine"));
    if got != expected {
        return run.fail(&format!(
            "{did}\nexpected (answer (success, index), commit_index, last_applied, store): \
             {expected:?}\ngot: {got:?}"
        ));
    }
    Ok(())
}

fn stale_messages(ctx: &mut Ctx) -> CheckResult {
    ctx.doing("handing late messages to a node that took a snapshot");
    let mut run = lone_node(ctx.seed(), "stale");
    entries_then_snapshot(&mut run)?;
    deliver(
        &mut run,
        1,
        Message::AppendEntries(AppendEntries {
            term: 1,
            prev_log_index: 10,
            prev_log_term: 1,
            entries: Vec::new(),
            leader_commit: 10,
            round: 3,
        }),
    );
    let expected = (4, 10, 10, store_of("10"));
    if state(&run) != expected {
        return run.fail(&format!(
            "node 0 held a snapshot up to 4 and entries 5..=10; then a heartbeat with leader_commit 10\n\
             expected (snapshot_index, last_applied, last_log_index, store): {expected:?}\ngot: {:?}",
            state(&run)
        ));
    }
    let did = "node 0 held a snapshot up to 4 and entries 5..=10, all applied (store {k: 10})";
    deliver(
        &mut run,
        1,
        Message::InstallSnapshot {
            term: 1,
            snapshot: snapshot(4, 1, "4"),
            round: 2,
        },
    );
    let got = state(&run);
    let answer = last_answer(&run);
    if got != expected || answer != Some((true, 4)) {
        return run.fail(&format!(
            "{did}; then the same InstallSnapshot up to 4 again (a late copy)\nexpected: nothing \
             changes, (snapshot_index, last_applied, last_log_index, store) = {expected:?}, and \
             the answer (success, index) = (true, 4)\ngot: {got:?}, answer {answer:?}"
        ));
    }
    deliver(
        &mut run,
        1,
        Message::InstallSnapshot {
            term: 1,
            snapshot: snapshot(7, 1, "7"),
            round: 3,
        },
    );
    let got = state(&run);
    let answer = last_answer(&run);
    if got != expected || answer != Some((true, 7)) {
        return run.fail(&format!(
            "{did}; then a late InstallSnapshot up to 7 (store {{k: 7}}): past node 0's own \
             snapshot (4), but short of what it has applied (10)\nexpected: nothing changes (its \
             store and last_applied never go back), (snapshot_index, last_applied, \
             last_log_index, store) = {expected:?}, and the answer (success, index) = (true, 7)\n\
             got: {got:?}, answer {answer:?}"
        ));
    }
    deliver(
        &mut run,
        1,
        Message::AppendEntries(AppendEntries {
            term: 1,
            prev_log_index: 2,
            prev_log_term: 1,
            entries: (3..=6).map(entry).collect(),
            leader_commit: 6,
            round: 1,
        }),
    );
    let got = state(&run);
    let answer = last_answer(&run);
    if got != expected || answer != Some((true, 6)) {
        return run.fail(&format!(
            "{did}; then a late AppendEntries with prev_log_index 2 (compacted) and entries 3..=6\n\
             expected: nothing changes, (snapshot_index, last_applied, last_log_index, store) = \
             {expected:?}, and the answer (success, index) = (true, 6): entries up to the snapshot \
             are committed, so they match\ngot: {got:?}, answer {answer:?}"
        ));
    }
    // Requests the snapshot covers whole, and requests of an older term (a deposed leader's).
    let cases = [
        (
            "a late AppendEntries with prev_log_index 2 and entries 3..=4, all inside the snapshot",
            Message::AppendEntries(AppendEntries {
                term: 1,
                prev_log_index: 2,
                prev_log_term: 1,
                entries: (3..=4).map(entry).collect(),
                leader_commit: 4,
                round: 1,
            }),
            (true, 4),
        ),
        (
            "an AppendEntries of term 0, older than node 0's term 1",
            Message::AppendEntries(AppendEntries {
                term: 0,
                prev_log_index: 10,
                prev_log_term: 1,
                entries: vec![entry(11)],
                leader_commit: 11,
                round: 4,
            }),
            (false, 10),
        ),
        (
            "an InstallSnapshot of term 0, older than node 0's term 1",
            Message::InstallSnapshot {
                term: 0,
                snapshot: snapshot(12, 0, "12"),
                round: 5,
            },
            (false, 0),
        ),
    ];
    for (what, message, (success, index)) in cases {
        let start = run.sim.trace().events.len();
        deliver(&mut run, 1, message);
        let got = state(&run);
        let answer = answer_since(&run, start);
        // A refusal's index is for the leader to read, and a deposed leader reads nothing.
        let answered = answer.is_some_and(|(s, i)| s == success && (!success || i == index));
        if got != expected || !answered {
            let index = if success {
                index.to_string()
            } else {
                "_".into()
            };
            return run.fail(&format!(
                "{did}; then {what}\nexpected: nothing changes, (snapshot_index, last_applied, \
                 last_log_index, store) = {expected:?}, and the answer (success, index) = \
                 ({success}, {index})\ngot: {got:?}, answer {answer:?}"
            ));
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

type Hand = crate::support::Script<Node>;

/// Proposes puts k=i (client 9, seq i) for `seqs` at node 0, a leader of one, in one step.
fn propose_puts(script: &mut Hand, seqs: std::ops::RangeInclusive<u64>) -> CheckResult {
    let what = format!(
        "node 0: propose put k=i (client 9, seq i) for i in {}..={}",
        seqs.start(),
        seqs.end()
    );
    let (refused, _) = script.act(what, 0, |node, ctx| {
        seqs.map(|seq| {
            let command = Command {
                client_id: 9,
                seq,
                op: put("k", &seq.to_string()),
            };
            node.propose(command, ctx)
        })
        .find(Result::is_err)
    });
    match refused {
        Some(error) => Err(script.failure(format!(
            "expected: node 0, a leader of one, takes every proposal\ngot:      {error:?}"
        ))),
        None => Ok(()),
    }
}

/// Node 0's (snapshot_index, last_applied, log().len()).
fn compaction(script: &Hand) -> (u64, u64, usize) {
    let node = script.node(0);
    (node.snapshot_index(), node.last_applied(), node.log().len())
}

fn compacts_at_the_threshold(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(1);
    script.fire_pending(0, "an election timer", |t| matches!(t, Timer::Election(_)))?;
    let applied = script.node(0).last_applied();
    script.expect(
        (1..SNAPSHOT_THRESHOLD).contains(&applied),
        format!(
            "expected: node 0 leads and has applied its no-op\ngot:      last_applied() = {applied}"
        ),
    )?;
    let threshold = SNAPSHOT_THRESHOLD;
    let last = threshold - applied;
    propose_puts(&mut script, 1..=last - 1)?;
    let n = threshold as usize;
    script.expect_eq(
        "(snapshot_index, last_applied, log().len()), one entry short of the threshold",
        compaction(&script),
        (0, threshold - 1, n - 1),
    )?;
    propose_puts(&mut script, last..=last)?;
    script.expect_eq(
        format!("(snapshot_index, last_applied, log().len()), {threshold} entries applied"),
        compaction(&script),
        (threshold, threshold, 0),
    )?;
    script.restart(0);
    let value = script.node(0).store().get("k").cloned();
    script.expect_eq(
        "(snapshot_index, last_applied, store()[k]) after the restart (a snapshot is saved when taken)",
        (script.node(0).snapshot_index(), script.node(0).last_applied(), value),
        (threshold, threshold, Some(last.to_string())),
    )?;
    script.fire_pending(0, "an election timer", |t| matches!(t, Timer::Election(_)))?;
    let applied = script.node(0).last_applied() - threshold;
    script.expect_eq(
        "snapshot_index, with the new term's no-op applied past the snapshot",
        script.node(0).snapshot_index(),
        threshold,
    )?;
    let first = last + 1;
    propose_puts(&mut script, first..=first + (threshold - applied) - 2)?;
    script.expect_eq(
        "(snapshot_index, last_applied, log().len()), one entry short of the next threshold",
        compaction(&script),
        (threshold, 2 * threshold - 1, n - 1),
    )?;
    let next = first + (threshold - applied) - 1;
    propose_puts(&mut script, next..=next)?;
    script.expect_eq(
        format!("(snapshot_index, last_applied, log().len()), {threshold} more entries applied"),
        compaction(&script),
        (2 * threshold, 2 * threshold, 0),
    )
}

fn install_takes_sessions(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    let append_a = Command {
        client_id: 7,
        seq: 1,
        op: append("x", "a"),
    };
    let snapshot = Snapshot {
        last_index: 4,
        last_term: 1,
        store: BTreeMap::from([("x".to_string(), "a".to_string())]),
        sessions: BTreeMap::from([(
            7,
            Session {
                seq: 1,
                result: None,
            },
        )]),
    };
    script.act(
        "node 0 got InstallSnapshot from leader 1 of term 1, up to index 4 (term 1), store \
         {x: a}, sessions {client 7: seq 1 applied} (client 7's append x+=a is in it)",
        0,
        |node, ctx| {
            let message = Message::InstallSnapshot {
                term: 1,
                snapshot,
                round: 1,
            };
            kit::net::Process::on_message(node, 1, message, ctx)
        },
    );
    let got = script.node(0).result(7, 1);
    script.expect(
        got == Some(None),
        format!(
            "expected: result(7, 1) = Some(None): the snapshot's sessions show client 7's request \
             1 applied, and a node takes them with the store (without them, a retry of that \
             request would be applied a second time)\ngot:      {got:?}"
        ),
    )?;
    script.deliver(
        1,
        0,
        Message::AppendEntries(AppendEntries {
            term: 1,
            prev_log_index: 4,
            prev_log_term: 1,
            entries: vec![Entry {
                term: 1,
                command: append_a,
            }],
            leader_commit: 5,
            round: 2,
        }),
    );
    let node = script.node(0);
    let got = (node.last_applied(), node.store().get("x").cloned());
    script.expect(
        got == (5, Some("a".to_string())),
        format!(
            "expected: entry 5, client 7's retry of append x+=a (seq 1 again), is applied but \
             changes nothing: (last_applied, store()[x]) = (5, Some(\"a\"))\ngot:      {got:?}"
        ),
    )
}

fn read_waits_for_no_op(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    let put_x = Entry {
        term: 1,
        command: Command {
            client_id: 1,
            seq: 1,
            op: put("x", "1"),
        },
    };
    script.deliver(
        1,
        0,
        Message::AppendEntries(AppendEntries {
            term: 1,
            prev_log_index: 0,
            prev_log_term: 0,
            entries: vec![put_x],
            leader_commit: 0,
            round: 1,
        }),
    );
    script.note(
        "(node 1, with node 0's answer, commits put x=1, tells its client, and crashes before \
         anyone learns it is committed)",
    );
    script.fire_pending(0, "an election timer", |t| matches!(t, Timer::Election(_)))?;
    let term = script.node(0).term();
    script.deliver(
        2,
        0,
        Message::Vote {
            term,
            granted: true,
        },
    );
    script.expect_eq(
        format!("node 0's role in term {term}"),
        script.node(0).role(),
        Role::Leader,
    )?;
    let (id, effects) = script.act("node 0: read(\"x\")", 0, |node, ctx| {
        node.read("x".to_string(), ctx)
    });
    let id = id.map_err(|e| {
        script.failure(format!(
            "expected: the leader starts the read\ngot:      Err({e:?})"
        ))
    })?;
    let to_2 = effects.sends.iter().find_map(|(to, m)| match m {
        Message::AppendEntries(append) if *to == 2 => Some(append.clone()),
        _ => None,
    });
    let Some(sent) = to_2 else {
        return Err(script.failure(
            "expected: read sends a round of AppendEntries to node 2 at once\ngot:      none",
        ));
    };
    // Node 2, its log empty, cannot take the entries, but it answers: it follows node 0.
    let resent = script.deliver(
        2,
        0,
        Message::AppendReply(AppendReply {
            term,
            success: false,
            index: sent.prev_log_index,
            last_log_index: 0,
            round: sent.round,
        }),
    );
    let got = script.node(0).read_result(id);
    script.expect(
        got.is_none(),
        format!(
            "expected: read {id:?} waits: node 2 answered its round, so node 0 still leads, but \
             node 0's no-op of term {term} is not committed yet, and until it is node 0 cannot \
             know what node 1 committed before it (put x=1)\ngot:      read_result = {got:?}"
        ),
    )?;
    let round = resent
        .iter()
        .find_map(|(_, m)| match m {
            Message::AppendEntries(append) => Some(append.round),
            _ => None,
        })
        .unwrap_or(sent.round);
    let last = script.node(0).last_log_index();
    script.deliver(
        2,
        0,
        Message::AppendReply(AppendReply {
            term,
            success: true,
            index: last,
            last_log_index: last,
            round,
        }),
    );
    let got = script.node(0).read_result(id);
    script.expect(
        got == Some(Some("1".to_string())),
        format!(
            "expected: once node 2 stores node 0's whole log (to index {last}, its no-op), the \
             no-op commits, put x=1 with it, and the read is served: Some(Some(\"1\"))\n\
             got:      read_result = {got:?}"
        ),
    )
}

fn install_resets_saves_and_stacks(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    let install = |last_index: u64, value: &str| Message::InstallSnapshot {
        term: 1,
        snapshot: snapshot(last_index, 1, value),
        round: last_index,
    };
    let (_, effects) = script.act(
        "node 0 got InstallSnapshot from leader 1 of term 1, up to index 4 (term 1), store {k: 4}",
        0,
        |node, ctx| kit::net::Process::on_message(node, 1, install(4, "4"), ctx),
    );
    let elections = effects
        .timers
        .iter()
        .filter(|(_, t)| matches!(t, Timer::Election(_)))
        .count();
    script.expect(
        elections > 0,
        "expected: node 0 sets a fresh election timer: InstallSnapshot comes from its leader, as \
         AppendEntries does, and the old timer would start an election against a live leader\n\
         got:      no election timer set",
    )?;
    script.restart(0);
    let got = (
        script.node(0).snapshot_index(),
        script.node(0).store().get("k").cloned(),
    );
    script.expect_eq(
        "(snapshot_index, store()[k]) after the restart (it answered success: the leader counts on it)",
        got,
        (4, Some("4".to_string())),
    )?;
    script.deliver(
        1,
        0,
        Message::AppendEntries(AppendEntries {
            term: 1,
            prev_log_index: 2,
            prev_log_term: 1,
            entries: (3..=10).map(entry).collect(),
            leader_commit: 4,
            round: 5,
        }),
    );
    let taken: Vec<Option<Entry>> = (5..=10).map(|i| script.node(0).entry(i).cloned()).collect();
    let expected: Vec<Option<Entry>> = (5..=10).map(|i| Some(entry(i))).collect();
    script.expect(
        taken == expected,
        format!(
            "expected: entries 3 and 4, inside the snapshot, are skipped, and entries 5..=10 are \
             taken at their own indexes\n\
             got:      entry(5..=10) = {taken:?}"
        ),
    )?;
    script.deliver(1, 0, install(7, "7"));
    let node = script.node(0);
    let got = (
        node.snapshot_index(),
        node.last_applied(),
        node.last_log_index(),
        node.log().len(),
    );
    script.expect_eq(
        "(snapshot_index, last_applied, last_log_index, log().len()): the snapshot up to 7 \
         covers entries 5..=7 of the log after the first snapshot, and 8..=10 stay",
        got,
        (7, 7, 10, 3),
    )
}
