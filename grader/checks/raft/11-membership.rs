//! Hidden checks for raft/membership.

use std::time::Duration;

use judge::prelude::*;
use kit::consensus::{NodeView, SafetyChecker};
use kit::lin::{self, KvModel, KvOp, OperationOf, Verdict};
use kit::net::{Faults, NodeId, Sim};
use raft_membership::{
    AppendEntries, AppendReply, Command, ConfigError, Entry, INITIAL_MEMBERS, Message, Node,
    NotLeader, Op, Role, SNAPSHOT_THRESHOLD, Snapshot, Timer,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a new cluster's configuration is its first three slots: they elect and commit, the \
             other slots stay silent",
            first_configuration,
        )
        .check(
            "with one of the three first members down, the other two still elect and commit",
            majority_of_the_configuration,
        )
        .check(
            "add_server appends the new configuration, which the leader uses at once; the new \
             server catches up, and then counts towards every majority",
            adding_servers,
        )
        .check(
            "one change at a time: refused while a change is uncommitted, before a new leader \
             commits an entry of its term, on a follower, and when nothing would change",
            one_change_at_a_time,
        )
        .check(
            "a node uses the latest configuration in its log as soon as it appends it, and goes \
             back to the previous one when a new leader truncates it away",
            configuration_on_append,
        )
        .check(
            "a leader that removes itself leads until the change commits, then steps down, and \
             the remaining members elect a leader among themselves",
            leader_removes_itself,
        )
        .check(
            "a leader that removed itself counts only the members' copies, not its own: the \
             change commits once a majority of the remaining members store it, and not before",
            removed_leader_counts_members_only,
        )
        .check(
            "a change that leaves the leader its own majority commits at once, and a leader \
             saves each change it counts itself as storing",
            lone_majority_commits_at_once,
        )
        .check(
            "a configuration appended just after a snapshot is in effect at once",
            config_just_after_snapshot,
        )
        .check(
            "a snapshot taken while a configuration change is uncommitted records the \
             configuration as of its last index, not the newer one",
            snapshot_config_at_its_index,
        )
        .check(
            "a node that installs a snapshot uses the configuration the snapshot records: a new \
             server learns it is a member, and a node whose log the snapshot replaces drops the \
             configuration that log held",
            install_takes_the_snapshot_config,
        )
        .check(
            "servers join and leave under lost messages, partitions and crashes: the cluster \
             stays safe and linearizable, and commits again once the faults stop",
            changes_under_faults,
        )
}

const SLOTS: usize = 5;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A reliable network that delivers in order: every message takes exactly 5 ms.
fn in_order() -> Faults {
    Faults {
        delay: (ms(5), ms(5)),
        ..Faults::reliable()
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn view(node: &Node, leader: bool) -> NodeView {
    let first = node.snapshot_index() + 1;
    NodeView {
        term: node.term(),
        leader,
        first_index: first,
        log_terms: node.log().iter().map(|e| e.term).collect(),
        log_commands: node
            .log()
            .iter()
            .map(|e| format!("{:?}", e.command))
            .collect(),
        commit_index: node.commit_index(),
        applied: (first..=node.last_applied())
            .filter_map(|i| Some((i, format!("{:?}", node.entry(i)?.command))))
            .collect(),
    }
}

/// The latest configuration in `node`'s log, or the first one if it has none and never
/// snapshotted (after a snapshot without a configuration entry since, we cannot tell).
fn latest_config(node: &Node, slots: usize) -> Option<Vec<NodeId>> {
    node.log()
        .iter()
        .rev()
        .find_map(|e| match &e.command.op {
            Op::Config { members } => Some(members.clone()),
            _ => None,
        })
        .or_else(|| (node.snapshot_index() == 0).then(|| (0..INITIAL_MEMBERS.min(slots)).collect()))
}

/// Raft's safety properties, and the configuration rule, after every event.
struct Checker {
    safety: SafetyChecker,
    /// Each node's commit index when last seen.
    commits: Vec<u64>,
    /// The highest term a node was in when its commit index moved: no entry was committed by a
    /// leader of a later term.
    commit_term: u64,
}

impl Checker {
    fn new() -> Checker {
        Checker {
            safety: SafetyChecker::new(),
            commits: Vec::new(),
            commit_term: 0,
        }
    }

    fn observe(&mut self, sim: &Sim<Node>) -> Result<(), String> {
        self.commits.resize(sim.len(), 0);
        for id in 0..sim.len() {
            if let Some(node) = sim.node(id) {
                if node.commit_index() > self.commits[id] {
                    self.commit_term = self.commit_term.max(node.term());
                }
                self.commits[id] = node.commit_index();
            }
        }
        // A deposed leader that has not heard of the new term yet still calls itself leader:
        // it is held to leader completeness only if no later term has committed anything.
        let views: Vec<Option<NodeView>> = (0..sim.len())
            .map(|i| {
                let node = sim.node(i)?;
                let leader = node.role() == Role::Leader && node.term() >= self.commit_term;
                Some(view(node, leader))
            })
            .collect();
        self.safety.observe(&views)?;
        for id in 0..sim.len() {
            let Some(node) = sim.node(id) else { continue };
            if let Some(expected) = latest_config(node, sim.len())
                && node.config() != expected.as_slice()
            {
                return Err(format!(
                    "node {id} (term {}, {:?}) uses the configuration {:?}, but the latest one in \
                     its log is {expected:?}: a configuration takes effect when appended \
                     (and stops when truncated away), committed or not",
                    node.term(),
                    node.role(),
                    node.config()
                ));
            }
        }
        Ok(())
    }
}

/// A failure with the picture of the run.
fn failure(sim: &Sim<Node>, seed: u64, what: impl std::fmt::Display) -> Failure {
    let path = std::env::temp_dir().join(format!("raft-11-membership-run-{seed}.svg"));
    let picture = match kit::diagram::write(sim.trace(), &path) {
        Ok(()) => format!(
            "picture of the run: {} (to step through it event by event, open {})",
            path.display(),
            path.with_extension("html").display()
        ),
        Err(error) => format!("(could not draw the run: {error})"),
    };
    Failure::new(format!(
        "simulated run {seed}, at t={:?}: {what}\n{picture}",
        sim.now()
    ))
}

/// Runs until `until`, checking safety after every event.
fn run(sim: &mut Sim<Node>, checker: &mut Checker, until: Duration, seed: u64) -> CheckResult {
    let result = sim.run_until(until, |sim| checker.observe(sim));
    result.map_err(|e| failure(sim, seed, e))
}

/// Runs for `span` more, checking safety after every event.
fn run_for(sim: &mut Sim<Node>, checker: &mut Checker, span: Duration, seed: u64) -> CheckResult {
    let until = sim.now() + span;
    run(sim, checker, until, seed)
}

/// Runs for at most `within`, until `done` holds; whether it did.
fn wait(
    sim: &mut Sim<Node>,
    checker: &mut Checker,
    seed: u64,
    within: Duration,
    done: impl Fn(&Sim<Node>) -> bool,
) -> Result<bool, Failure> {
    let deadline = sim.now() + within;
    while sim.now() < deadline {
        if done(sim) {
            return Ok(true);
        }
        let next = (sim.now() + ms(1)).min(deadline);
        run(sim, checker, next, seed)?;
    }
    Ok(done(sim))
}

/// The leader of the highest term among the nodes up.
fn leader(sim: &Sim<Node>) -> Option<NodeId> {
    (0..sim.len())
        .filter_map(|i| Some((i, sim.node(i)?)))
        .filter(|(_, n)| n.role() == Role::Leader)
        .max_by_key(|(_, n)| n.term())
        .map(|(i, _)| i)
}

fn roles(sim: &Sim<Node>) -> String {
    let shown: Vec<String> = (0..sim.len())
        .map(|i| match sim.node(i) {
            Some(n) => format!(
                "node {i}: term {} {:?}, config {:?}, log up to {}, commit {}",
                n.term(),
                n.role(),
                n.config(),
                n.last_log_index(),
                n.commit_index()
            ),
            None => format!("node {i}: down"),
        })
        .collect();
    shown.join("\n  ")
}

/// Waits up to `within` for a leader.
fn elect(
    sim: &mut Sim<Node>,
    checker: &mut Checker,
    seed: u64,
    within: Duration,
) -> Result<NodeId, Failure> {
    wait(sim, checker, seed, within, |sim| leader(sim).is_some())?;
    leader(sim).ok_or_else(|| {
        failure(
            sim,
            seed,
            format!("no leader within {within:?}\n  {}", roles(sim)),
        )
    })
}

/// Waits until the leader has committed an entry of its term (its no-op): changes may begin.
fn settle(
    sim: &mut Sim<Node>,
    checker: &mut Checker,
    seed: u64,
    id: NodeId,
) -> Result<(), Failure> {
    let committed_own = |sim: &Sim<Node>| {
        sim.node(id).is_some_and(|n| {
            n.entry(n.commit_index())
                .is_some_and(|e| e.term == n.term())
        })
    };
    if wait(sim, checker, seed, ms(500), committed_own)? {
        Ok(())
    } else {
        Err(failure(
            sim,
            seed,
            format!(
                "leader {id} did not commit its no-op within 500 ms on a reliable network\n  {}",
                roles(sim)
            ),
        ))
    }
}

type Hand = crate::support::Script<Node>;

/// Node 0 of `script` wins term 1 with node 1's vote, and node 1 stores its no-op.
fn lead_with_no_op(script: &mut Hand) -> Result<u64, Failure> {
    script.fire_pending(0, "an election timer", |t| matches!(t, Timer::Election(_)))?;
    let term = script.node(0).term();
    script.deliver(
        1,
        0,
        Message::Vote {
            term,
            granted: true,
        },
    );
    script.expect_eq("node 0's role", script.node(0).role(), Role::Leader)?;
    let noop = script.node(0).last_log_index();
    script.deliver(1, 0, ack(term, noop));
    script.expect_eq("node 0's commit index", script.node(0).commit_index(), noop)?;
    Ok(term)
}

/// A membership change asked of node 0, the leader.
#[derive(Clone, Copy)]
enum Change {
    Add(NodeId),
    Remove(NodeId),
}

/// Asks node 0 for `change`; the index of its entry, and what node 0 did. Fails the check,
/// with the story, if node 0 refuses it.
fn membership_change(
    script: &mut Hand,
    change: Change,
) -> Result<(u64, crate::support::Effects<Node>), Failure> {
    let what = match change {
        Change::Add(id) => format!("add_server({id})"),
        Change::Remove(id) => format!("remove_server({id})"),
    };
    let (index, effects) = script.act(format!("node 0: {what}"), 0, |node, ctx| match change {
        Change::Add(id) => node.add_server(id, ctx),
        Change::Remove(id) => node.remove_server(id, ctx),
    });
    let index = index.map_err(|e| {
        script.failure(format!(
            "expected: {what} is accepted\ngot:      Err({e:?})"
        ))
    })?;
    Ok((index, effects))
}

fn ack(term: u64, index: u64) -> Message {
    Message::AppendReply(AppendReply {
        term,
        success: true,
        index,
        last_log_index: index,
        round: 1,
    })
}

/// Proposes `count` appends (client 1, seqs from 1) at node 0, which must take each.
fn propose_appends(script: &mut Hand, count: u64) -> CheckResult {
    script.note(format!("node 0 was proposed {count} appends"));
    for seq in 1..=count {
        let (result, _) = script.act(String::new(), 0, |node, ctx| {
            node.propose(command(1, seq, "k", "v"), ctx)
        });
        script.did_pop();
        result.map_err(|e| {
            script.failure(format!(
                "expected: the leader takes proposal {seq}\ngot:      Err({e:?})"
            ))
        })?;
    }
    Ok(())
}

fn lone_majority_commits_at_once(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    let term = lead_with_no_op(&mut script)?;
    let (first, _) = membership_change(&mut script, Change::Remove(2))?;
    script.deliver(1, 0, ack(term, first));
    script.expect_eq(
        "node 0's commit index",
        script.node(0).commit_index(),
        first,
    )?;
    let (second, _) = membership_change(&mut script, Change::Remove(1))?;
    let commit = script.node(0).commit_index();
    script.expect(
        commit == second,
        format!(
            "expected: node 0's commit index = {second} at once, the index of remove_server(1): \
             the configuration [0] takes effect when appended, and node 0 alone is a majority \
             of it\ngot:      commit index {commit}"
        ),
    )?;
    script.restart(0);
    let kept = script.node(0).entry(second).map(|e| e.command.op.clone());
    script.expect_eq(
        format!(
            "node 0's entry {second} after the restart: it counted itself among those storing \
             the change, so it must have saved it"
        ),
        kept,
        Some(Op::Config { members: vec![0] }),
    )
}

fn removed_leader_counts_members_only(_: &mut Ctx) -> CheckResult {
    // Four slots: members 0, 1, 2; slot 3 waits to be added.
    let mut script = Hand::new(4);
    let term = lead_with_no_op(&mut script)?;
    let (added, _) = membership_change(&mut script, Change::Add(3))?;
    script.deliver(1, 0, ack(term, added));
    script.deliver(3, 0, ack(term, added));
    script.expect_eq(
        "node 0's commit index, nodes 0, 1 and 3 of [0, 1, 2, 3] storing the change",
        script.node(0).commit_index(),
        added,
    )?;
    let (removal, _) = membership_change(&mut script, Change::Remove(0))?;
    script.deliver(1, 0, ack(term, removal));
    let got = (script.node(0).commit_index(), script.node(0).role());
    script.expect(
        got == (added, Role::Leader),
        format!(
            "expected: node 0 leaves its commit index at {added} and leads on: of the members \
             [1, 2, 3], only node 1 stores entry {removal}, one of three; node 0 is no member \
             of that configuration, so its own copy does not count\n\
             got:      commit index {}, {:?}",
            got.0, got.1
        ),
    )?;
    script.deliver(3, 0, ack(term, removal));
    let got = (script.node(0).commit_index(), script.node(0).role());
    script.expect(
        got == (removal, Role::Follower),
        format!(
            "expected: nodes 1 and 3 store entry {removal}, two of the members [1, 2, 3]: node \
             0 commits it (commit index {removal}) and steps down, a Follower\n\
             got:      commit index {}, {:?}",
            got.0, got.1
        ),
    )
}

fn config_entry(term: u64, members: Vec<NodeId>) -> Entry {
    Entry {
        term,
        command: Command {
            client_id: 0,
            seq: 0,
            op: Op::Config { members },
        },
    }
}

fn install_takes_the_snapshot_config(_: &mut Ctx) -> CheckResult {
    let snapshot = |last_term: u64, config: Vec<NodeId>| Snapshot {
        last_index: 80,
        last_term,
        config,
        ..Snapshot::default()
    };
    // Four slots: members 0, 1, 2; slot 3, empty, was added at some index up to 80.
    let mut script = Hand::new(4);
    script.deliver(
        0,
        3,
        Message::InstallSnapshot {
            term: 1,
            snapshot: snapshot(1, vec![0, 1, 2, 3]),
            round: 1,
        },
    );
    expect_config(
        &script,
        3,
        &[0, 1, 2, 3],
        "the configuration the snapshot records, with no log after it",
    )?;

    // Node 2 appends a change adding 3 that is then lost: the new leader's snapshot, which
    // replaces node 2's whole log, records [0, 1, 2].
    let mut script = Hand::new(4);
    script.deliver(
        0,
        2,
        Message::AppendEntries(AppendEntries {
            term: 1,
            prev_log_index: 0,
            prev_log_term: 0,
            entries: vec![config_entry(1, vec![0, 1, 2, 3])],
            leader_commit: 0,
            round: 1,
        }),
    );
    expect_config(
        &script,
        2,
        &[0, 1, 2, 3],
        "the latest configuration in its log, in effect once appended",
    )?;
    script.deliver(
        1,
        2,
        Message::InstallSnapshot {
            term: 2,
            snapshot: snapshot(2, vec![0, 1, 2]),
            round: 1,
        },
    );
    expect_config(
        &script,
        2,
        &[0, 1, 2],
        "the snapshot's, up to index 80: past the end of its log, it replaces the whole log, \
         and no configuration entry is left after it",
    )
}

/// Fails unless node `id` of `script` uses the configuration `expected`, for the reason `why`.
fn expect_config(script: &Hand, id: NodeId, expected: &[NodeId], why: &str) -> CheckResult {
    let got = script.node(id).config().to_vec();
    script.expect(
        got == expected,
        format!("expected: node {id}'s config() = {expected:?}, {why}\ngot:      {got:?}"),
    )
}

fn config_just_after_snapshot(_: &mut Ctx) -> CheckResult {
    // Four slots: members 0, 1, 2; slot 3 waits to be added.
    let mut script = Hand::new(4);
    let term = lead_with_no_op(&mut script)?;
    let entries = SNAPSHOT_THRESHOLD - script.node(0).last_log_index();
    propose_appends(&mut script, entries)?;
    script.deliver(1, 0, ack(term, SNAPSHOT_THRESHOLD));
    script.expect_eq(
        "node 0's snapshot_index, its log applied up to SNAPSHOT_THRESHOLD",
        script.node(0).snapshot_index(),
        SNAPSHOT_THRESHOLD,
    )?;
    let (added, _) = membership_change(&mut script, Change::Add(3))?;
    script.expect_eq(
        format!(
            "node 0's config(), with the change at index {added}, the first after the snapshot"
        ),
        script.node(0).config().to_vec(),
        vec![0, 1, 2, 3],
    )
}

fn snapshot_config_at_its_index(_: &mut Ctx) -> CheckResult {
    // Four slots: members 0, 1, 2; slot 3 waits to be added.
    let mut script = Hand::new(4);
    let term = lead_with_no_op(&mut script)?;
    let ack = |index: u64| ack(term, index);
    propose_appends(&mut script, SNAPSHOT_THRESHOLD + 5)?;
    let stored = script.node(0).last_log_index();
    let (added, effects) = membership_change(&mut script, Change::Add(3))?;
    let to_new: Vec<Message> = effects
        .sends
        .into_iter()
        .filter(|(to, _)| *to == 3)
        .map(|(_, m)| m)
        .collect();
    // Nodes 1 and 2 store everything before the change (three of the four members the
    // leader now counts): it commits, is applied and compacted, while the change itself is
    // not committed.
    script.deliver(1, 0, ack(stored));
    script.deliver(2, 0, ack(stored));
    let node = script.node(0);
    script.expect(
        node.commit_index() == stored && node.snapshot_index() == stored,
        format!(
            "expected: with nodes 1 and 2 holding entries 1..={stored}, node 0 commits and applies them \
             and, past SNAPSHOT_THRESHOLD, compacts them: commit_index() = snapshot_index() = \
             {stored}\ngot:      commit_index() = {}, snapshot_index() = {}",
            node.commit_index(),
            node.snapshot_index()
        ),
    )?;
    // Node 3, empty, gets what the leader sent it when it was added, and refuses: the leader
    // must send it the snapshot.
    let mut sent = Vec::new();
    for message in to_new {
        for (_, reply) in script.deliver(0, 3, message) {
            sent.extend(script.deliver(3, 0, reply));
        }
    }
    let Some(config) = sent.iter().find_map(|(to, m): &(NodeId, Message)| match m {
        Message::InstallSnapshot { snapshot, .. } if *to == 3 => Some(snapshot.config.clone()),
        _ => None,
    }) else {
        return Err(script.failure(format!(
            "expected: node 0 sends node 3 an InstallSnapshot (node 3 lacks entries the leader \
             has compacted)\ngot:      {sent:?}"
        )));
    };
    script.expect(
        config == vec![0, 1, 2],
        format!(
            "expected: the snapshot up to index {stored} records the configuration in effect \
             there, [0, 1, 2]: the change adding 3 is at index {added}, after it, and not \
             committed\ngot:      snapshot.config = {config:?}"
        ),
    )
}

fn command(client_id: u64, seq: u64, key: &str, value: &str) -> Command {
    Command {
        client_id,
        seq,
        op: Op::Append {
            key: key.into(),
            value: value.into(),
        },
    }
}

/// Proposes at `at`; the index.
fn propose(sim: &mut Sim<Node>, seed: u64, at: NodeId, cmd: Command) -> Result<u64, Failure> {
    sim.note(at, format!("propose {:?}", cmd.op));
    match sim.call(at, |n, ctx| n.propose(cmd.clone(), ctx)) {
        Some(Ok(index)) => Ok(index),
        other => Err(failure(
            sim,
            seed,
            format!("propose({cmd:?}) at leader {at} returned {other:?}"),
        )),
    }
}

fn has_applied(sim: &Sim<Node>, id: NodeId, index: u64) -> bool {
    sim.node(id).is_some_and(|n| n.last_applied() >= index)
}

fn first_configuration(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.doing("running five slots, three of them members, on a reliable network");
    let mut sim = crate::support::cluster!(SLOTS, Faults::reliable(), seed);
    let mut checker = Checker::new();
    let first = elect(&mut sim, &mut checker, seed, ms(1500))?;
    if first >= INITIAL_MEMBERS {
        return Err(failure(
            &sim,
            seed,
            format!(
                "node {first}, not a member, became leader\n  {}",
                roles(&sim)
            ),
        ));
    }
    settle(&mut sim, &mut checker, seed, first)?;
    let index = propose(&mut sim, seed, first, command(1, 1, "k", "v"))?;
    let all = |sim: &Sim<Node>| (0..INITIAL_MEMBERS).all(|i| has_applied(sim, i, index));
    if !wait(&mut sim, &mut checker, seed, ms(500), all)? {
        return Err(failure(
            &sim,
            seed,
            format!(
                "entry {index}, proposed at leader {first}, was not applied on all three members \
                 within 500 ms\n  {}",
                roles(&sim)
            ),
        ));
    }
    run_for(&mut sim, &mut checker, ms(500), seed)?;
    for id in 0..SLOTS {
        let node = sim.node(id).expect("no node crashed");
        let expected: Vec<NodeId> = (0..INITIAL_MEMBERS).collect();
        if node.config() != expected.as_slice() {
            return Err(failure(
                &sim,
                seed,
                format!(
                    "node {id} uses the configuration {:?}; expected {expected:?}",
                    node.config()
                ),
            ));
        }
        if id >= INITIAL_MEMBERS && (node.term() != 0 || !node.log().is_empty()) {
            return Err(failure(
                &sim,
                seed,
                format!(
                    "node {id} is not a member, yet it is in term {} with {} log entries: the \
                     members must leave it alone, and it must not stand\n  {}",
                    node.term(),
                    node.log().len(),
                    roles(&sim)
                ),
            ));
        }
    }
    Ok(())
}

fn majority_of_the_configuration(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let mut rng = seed;
    for round in 0..3 {
        let down = (splitmix(&mut rng) % INITIAL_MEMBERS as u64) as NodeId;
        ctx.doing(format!(
            "five slots, members 0, 1, 2, with node {down} down"
        ));
        let run_seed = seed.wrapping_add(round);
        let mut sim = crate::support::cluster!(SLOTS, Faults::reliable(), run_seed);
        sim.crash(down, None);
        let mut checker = Checker::new();
        let first = elect(&mut sim, &mut checker, run_seed, ms(2000)).map_err(|f| {
            Failure::new(format!(
                "with node {down} of the members 0, 1, 2 down (two of three up is a majority): {}",
                f.message
            ))
        })?;
        settle(&mut sim, &mut checker, run_seed, first)?;
        let index = propose(&mut sim, run_seed, first, command(1, 1, "k", "v"))?;
        let up: Vec<NodeId> = (0..INITIAL_MEMBERS).filter(|&i| i != down).collect();
        let all = |sim: &Sim<Node>| up.iter().all(|&i| has_applied(sim, i, index));
        if !wait(&mut sim, &mut checker, run_seed, ms(500), all)? {
            return Err(failure(
                &sim,
                run_seed,
                format!(
                    "with node {down} down, entry {index} proposed at leader {first} was not \
                     applied on {up:?} within 500 ms: two of the three members are a majority\n  {}",
                    roles(&sim)
                ),
            ));
        }
    }
    Ok(())
}

/// Adds `id` at leader `at`, checking the answer and the leader's configuration at once.
fn add(sim: &mut Sim<Node>, seed: u64, at: NodeId, id: NodeId) -> Result<u64, Failure> {
    let before = sim
        .node(at)
        .map(|n| n.config().to_vec())
        .unwrap_or_default();
    sim.note(at, format!("add_server({id})"));
    let answer = sim.call(at, |n, ctx| n.add_server(id, ctx));
    let Some(Ok(index)) = answer else {
        return Err(failure(
            sim,
            seed,
            format!(
                "add_server({id}) at leader {at}, whose configuration {before:?} is committed, \
                 returned {answer:?}\n  {}",
                roles(sim)
            ),
        ));
    };
    let node = sim.node(at).expect("up");
    let mut expected = before.clone();
    expected.push(id);
    expected.sort_unstable();
    let entry = node.entry(index).map(|e| e.command.op.clone());
    if entry
        != Some(Op::Config {
            members: expected.clone(),
        })
    {
        return Err(failure(
            sim,
            seed,
            format!(
                "add_server({id}) at leader {at} returned index {index}; expected the entry there \
                 to be Config {{ members: {expected:?} }} (sorted), got {entry:?}"
            ),
        ));
    }
    if node.config() != expected.as_slice() {
        return Err(failure(
            sim,
            seed,
            format!(
                "right after add_server({id}) returned, leader {at} uses the configuration {:?}; \
                 expected {expected:?}: a configuration takes effect when appended, not when \
                 committed",
                node.config()
            ),
        ));
    }
    Ok(index)
}

fn adding_servers(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.doing("five slots, adding servers 4 and 3 to the members 0, 1, 2");
    let mut sim = crate::support::cluster!(SLOTS, Faults::reliable(), seed);
    let mut checker = Checker::new();
    let first = elect(&mut sim, &mut checker, seed, ms(1500))?;
    settle(&mut sim, &mut checker, seed, first)?;
    for n in 0..5 {
        propose(
            &mut sim,
            seed,
            first,
            command(1, n + 1, "k", &n.to_string()),
        )?;
    }
    // Node 4 first: node 3 then joins below a higher id, and the members stay sorted.
    for (new, members) in [(4, vec![0, 1, 2, 4]), (3, vec![0, 1, 2, 3, 4])] {
        let index = add(&mut sim, seed, first, new)?;
        let caught_up = |sim: &Sim<Node>| {
            members.iter().all(|&i| {
                sim.node(i)
                    .is_some_and(|n| n.commit_index() >= index && n.config() == members)
            })
        };
        if !wait(&mut sim, &mut checker, seed, ms(1000), caught_up)? {
            return Err(failure(
                &sim,
                seed,
                format!(
                    "after add_server({new}) (entry {index}), not every one of the members \
                     {members:?} had the new configuration and committed it within 1 s\n  {}",
                    roles(&sim)
                ),
            ));
        }
    }
    let index = propose(&mut sim, seed, first, command(1, 6, "k", "last"))?;
    let all = |sim: &Sim<Node>| (0..SLOTS).all(|i| has_applied(sim, i, index));
    if !wait(&mut sim, &mut checker, seed, ms(1000), all)? {
        return Err(failure(
            &sim,
            seed,
            format!(
                "with five members, entry {index} was not applied on all of them within 1 s\n  {}",
                roles(&sim)
            ),
        ));
    }
    let store = sim.node(4).map(|n| n.store().get("k").cloned());
    if store != Some(Some("01234last".into())) {
        return Err(failure(
            &sim,
            seed,
            format!("the added node 4 holds k = {store:?}; expected Some(\"01234last\")"),
        ));
    }

    // Five members: a majority is three. With two of them up, nothing commits.
    let others: Vec<NodeId> = (0..SLOTS).filter(|&i| i != first).collect();
    for &id in &others[..3] {
        sim.crash(id, None);
    }
    let alone_with = others[3];
    let index = propose(&mut sim, seed, first, command(1, 7, "k", "lost"))?;
    run_for(&mut sim, &mut checker, ms(400), seed)?;
    let committed = sim.node(first).map_or(0, Node::commit_index);
    if committed >= index {
        return Err(failure(
            &sim,
            seed,
            format!(
                "with five members and only leader {first} and node {alone_with} up, leader \
                 {first} committed entry {index}: two of five are not a majority\n  {}",
                roles(&sim)
            ),
        ));
    }
    // The added servers count: crash one of the first members instead, and three of five
    // commit.
    sim.restart(others[0]);
    let all = |sim: &Sim<Node>| sim.node(first).is_some_and(|n| n.commit_index() >= index);
    let leader_now = leader(&sim);
    if leader_now == Some(first) && !wait(&mut sim, &mut checker, seed, ms(1000), all)? {
        return Err(failure(
            &sim,
            seed,
            format!(
                "with three of five members up (leader {first}, nodes {} and {alone_with}), \
                 entry {index} was not committed within 1 s\n  {}",
                others[0],
                roles(&sim)
            ),
        ));
    }
    Ok(())
}

fn one_change_at_a_time(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.doing("five slots, members 0, 1, 2, calling add_server and remove_server");
    let mut sim = crate::support::cluster!(SLOTS, in_order(), seed);
    let mut checker = Checker::new();
    // Catch the leader the moment it wins, before its no-op can commit.
    let won = sim.run_until(ms(3000), |sim| match leader(sim) {
        Some(id) => Err(id),
        None => checker.observe(sim).map_err(|_| usize::MAX),
    });
    let first = match won {
        Err(id) if id != usize::MAX => id,
        _ => {
            return Err(failure(
                &sim,
                seed,
                format!("no leader within 3 s\n  {}", roles(&sim)),
            ));
        }
    };
    let answer = sim.call(first, |n, ctx| n.add_server(3, ctx));
    if answer != Some(Err(ConfigError::Pending)) {
        return Err(failure(
            &sim,
            seed,
            format!(
                "node {first} had just won the election, its no-op not yet committed; \
                 add_server(3) returned {answer:?}; expected Err(Pending): a new leader \
                 changes the configuration only once an entry of its term is committed"
            ),
        ));
    }
    settle(&mut sim, &mut checker, seed, first)?;
    let follower = (0..INITIAL_MEMBERS)
        .find(|&i| i != first)
        .expect("three members");
    run_for(&mut sim, &mut checker, ms(20), seed)?;
    let answer = sim.call(follower, |n, ctx| n.add_server(3, ctx));
    let expected = Some(Err(ConfigError::NotLeader(NotLeader {
        leader_hint: Some(first),
    })));
    if answer != expected {
        return Err(failure(
            &sim,
            seed,
            format!(
                "add_server(3) at follower {follower} returned {answer:?}; expected {expected:?}"
            ),
        ));
    }
    for (what, answer) in [
        (
            "add_server(1), a member already",
            sim.call(first, |n, ctx| n.add_server(1, ctx)),
        ),
        (
            "remove_server(4), not a member",
            sim.call(first, |n, ctx| n.remove_server(4, ctx)),
        ),
    ] {
        if answer != Some(Err(ConfigError::Unchanged)) {
            return Err(failure(
                &sim,
                seed,
                format!("{what}, at leader {first} returned {answer:?}; expected Err(Unchanged)"),
            ));
        }
    }
    let before = sim.node(first).map(Node::last_log_index);
    let index = add(&mut sim, seed, first, 3)?;
    for (what, answer) in [
        (
            "add_server(4)",
            sim.call(first, |n, ctx| n.add_server(4, ctx)),
        ),
        (
            "remove_server(follower)",
            sim.call(first, |n, ctx| n.remove_server(follower, ctx)),
        ),
    ] {
        if answer != Some(Err(ConfigError::Pending)) {
            return Err(failure(
                &sim,
                seed,
                format!(
                    "add_server(3) at leader {first} appended entry {index} (log was up to \
                     {before:?}); then at once {what} returned {answer:?}; expected \
                     Err(Pending): two changes in flight add up to a change of two servers"
                ),
            ));
        }
    }
    let committed = |sim: &Sim<Node>| sim.node(first).is_some_and(|n| n.commit_index() >= index);
    if !wait(&mut sim, &mut checker, seed, ms(1000), committed)? {
        return Err(failure(
            &sim,
            seed,
            format!(
                "leader {first} did not commit its configuration entry {index} within 1 s\n  {}",
                roles(&sim)
            ),
        ));
    }
    let answer = sim.call(first, |n, ctx| n.remove_server(follower, ctx));
    if !matches!(answer, Some(Ok(_))) {
        return Err(failure(
            &sim,
            seed,
            format!(
                "once add_server(3) committed, remove_server({follower}) at leader {first} \
                 returned {answer:?}; expected Ok(index)"
            ),
        ));
    }
    let config = sim.node(first).map(|n| n.config().to_vec());
    let expected: Vec<NodeId> = [0, 1, 2, 3]
        .into_iter()
        .filter(|&i| i != follower)
        .collect();
    if config != Some(expected.clone()) {
        return Err(failure(
            &sim,
            seed,
            format!(
                "after remove_server({follower}), leader {first} uses {config:?}; expected \
                 {expected:?}"
            ),
        ));
    }
    Ok(())
}

fn configuration_on_append(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.doing(
        "members 0, 1, 2: a leader appends add_server(3) cut off from everyone, then rejoins",
    );
    let mut sim = crate::support::cluster!(SLOTS, in_order(), seed);
    let mut checker = Checker::new();
    let first = elect(&mut sim, &mut checker, seed, ms(1500))?;
    settle(&mut sim, &mut checker, seed, first)?;
    run_for(&mut sim, &mut checker, ms(60), seed)?;

    // The leader, cut off, appends a change nobody else will ever see.
    let old_term = sim.node(first).map_or(0, Node::term);
    sim.partition(&[first], None);
    let lost = add(&mut sim, seed, first, 3)?;
    let others: Vec<NodeId> = (0..INITIAL_MEMBERS).filter(|&i| i != first).collect();
    let new_leader = |sim: &Sim<Node>| {
        others
            .iter()
            .any(|&i| sim.node(i).is_some_and(|n| n.role() == Role::Leader))
    };
    if !wait(&mut sim, &mut checker, seed, ms(2000), new_leader)? {
        return Err(failure(
            &sim,
            seed,
            format!(
                "leader {first} was cut off: the members {others:?} did not elect a new leader \
                 within 2 s\n  {}",
                roles(&sim)
            ),
        ));
    }
    let second = leader(&sim).expect("a leader");
    settle(&mut sim, &mut checker, seed, second)?;
    sim.partition(&[], None);
    // Healing: the old leader learns of the new term and loses its uncommitted change.
    let reverted = |sim: &Sim<Node>| {
        sim.node(first).is_some_and(|n| {
            n.term() > old_term && n.entry(lost).is_none_or(|e| e.term != old_term)
        })
    };
    if !wait(&mut sim, &mut checker, seed, ms(1000), reverted)? {
        return Err(failure(
            &sim,
            seed,
            format!(
                "after the partition healed, old leader {first} still holds its uncommitted \
                 entry {lost} (add_server(3)) after 1 s\n  {}",
                roles(&sim)
            ),
        ));
    }
    run_for(&mut sim, &mut checker, ms(200), seed)?;
    let config = sim.node(first).map(|n| n.config().to_vec());
    if config != Some(vec![0, 1, 2]) {
        return Err(failure(
            &sim,
            seed,
            format!(
                "old leader {first} lost its uncommitted change (entry {lost}, adding 3) to leader \
                 {second}, yet it uses {config:?}; expected [0, 1, 2]: with no configuration \
                 entry left in its log, the first configuration"
            ),
        ));
    }

    // On a reliable network, followers take a change in on append, before it commits.
    add(&mut sim, seed, second, 3)?;
    run_for(&mut sim, &mut checker, ms(400), seed)
}

fn leader_removes_itself(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.doing("five slots, members 0, 1, 2: add 3, then the leader removes itself");
    let mut sim = crate::support::cluster!(SLOTS, Faults::reliable(), seed);
    let mut checker = Checker::new();
    let first = elect(&mut sim, &mut checker, seed, ms(1500))?;
    settle(&mut sim, &mut checker, seed, first)?;
    let index = add(&mut sim, seed, first, 3)?;
    let committed = |sim: &Sim<Node>| sim.node(first).is_some_and(|n| n.commit_index() >= index);
    wait(&mut sim, &mut checker, seed, ms(1000), committed)?;
    sim.note(first, format!("remove_server({first})"));
    let answer = sim.call(first, |n, ctx| n.remove_server(first, ctx));
    let Some(Ok(removal)) = answer else {
        return Err(failure(
            &sim,
            seed,
            format!(
                "remove_server({first}) at leader {first}, with [0, 1, 2, 3] committed, returned \
                 {answer:?}\n  {}",
                roles(&sim)
            ),
        ));
    };
    let role = sim.node(first).map(Node::role);
    if role != Some(Role::Leader) {
        return Err(failure(
            &sim,
            seed,
            format!(
                "right after remove_server({first}) at leader {first}, it is {role:?}: it must \
                 lead until the change commits, to replicate it"
            ),
        ));
    }
    let remaining: Vec<NodeId> = (0..4).filter(|&i| i != first).collect();
    let removal_committed = |sim: &Sim<Node>| {
        remaining
            .iter()
            .filter(|&&i| sim.node(i).is_some_and(|n| n.commit_index() >= removal))
            .count()
            >= 2
    };
    if !wait(&mut sim, &mut checker, seed, ms(1000), removal_committed)? {
        return Err(failure(
            &sim,
            seed,
            format!(
                "leader {first} removed itself (entry {removal}); the change was not committed \
                 on the remaining members {remaining:?} within 1 s\n  {}",
                roles(&sim)
            ),
        ));
    }
    let next = |sim: &Sim<Node>| {
        remaining
            .iter()
            .any(|&i| sim.node(i).is_some_and(|n| n.role() == Role::Leader))
            && sim.node(first).is_some_and(|n| n.role() != Role::Leader)
    };
    if !wait(&mut sim, &mut checker, seed, ms(1500), next)? {
        return Err(failure(
            &sim,
            seed,
            format!(
                "leader {first} removed itself and the change (entry {removal}) committed; within \
                 1.5 s expected it to step down and one of {remaining:?} to lead\n  {}",
                roles(&sim)
            ),
        ));
    }
    let second = leader(&sim).expect("a leader");
    settle(&mut sim, &mut checker, seed, second)?;
    let index = propose(&mut sim, seed, second, command(1, 1, "k", "v"))?;
    let all = |sim: &Sim<Node>| remaining.iter().all(|&i| has_applied(sim, i, index));
    if !wait(&mut sim, &mut checker, seed, ms(1000), all)? {
        return Err(failure(
            &sim,
            seed,
            format!(
                "new leader {second} of {remaining:?}: entry {index} was not applied on all of \
                 them within 1 s\n  {}",
                roles(&sim)
            ),
        ));
    }
    run_for(&mut sim, &mut checker, ms(600), seed)?;
    let old = sim.node(first).map(|n| (n.role(), n.term()));
    let now = sim.node(second).map(Node::term);
    if old.is_some_and(|(role, _)| role != Role::Follower) || leader(&sim) != Some(second) {
        return Err(failure(
            &sim,
            seed,
            format!(
                "the removed node {first} must stay quiet, and leader {second} (term {now:?}) keep \
                 leading; got node {first} as {old:?}\n  {}",
                roles(&sim)
            ),
        ));
    }
    Ok(())
}

/// A client of the store: one request at a time, retried at the leader until applied.
struct Client {
    id: u64,
    seq: u64,
    /// The request in flight, its place in the history, and when it was last sent.
    pending: Option<(Command, usize, Duration)>,
}

fn to_command(client: u64, seq: u64, op: &KvOp) -> Command {
    let op = match op.clone() {
        KvOp::Put(key, value) => Op::Put { key, value },
        KvOp::Append(key, value) => Op::Append { key, value },
        KvOp::Get(key) => Op::Get { key },
    };
    Command {
        client_id: client,
        seq,
        op,
    }
}

fn micros(t: Duration) -> u64 {
    t.as_micros() as u64
}

/// Drives the clients for one tick: collects results, retries, and starts new requests.
fn drive_clients(
    sim: &mut Sim<Node>,
    clients: &mut [Client],
    history: &mut Vec<OperationOf<KvModel>>,
    rng: &mut u64,
    new_requests: bool,
) {
    let now = sim.now();
    for client in clients.iter_mut() {
        if let Some((cmd, at, _)) = &client.pending {
            let done = (0..sim.len()).find_map(|i| sim.node(i)?.result(client.id, cmd.seq));
            if let Some(result) = done {
                sim.note(0, format!("client {} got {result:?}", client.id));
                history[*at].returned = Some((micros(now), result));
                client.pending = None;
            }
        }
        if client.pending.is_none() && new_requests && splitmix(rng).is_multiple_of(4) {
            let key = ["x", "y"][(splitmix(rng) % 2) as usize].to_string();
            let value = format!("{}.{}", client.id, client.seq + 1);
            let op = match splitmix(rng) % 3 {
                0 => KvOp::Put(key, value),
                1 => KvOp::Append(key, value),
                _ => KvOp::Get(key),
            };
            client.seq += 1;
            history.push(lin::Operation {
                client: client.id as usize,
                op: op.clone(),
                invoked: micros(now),
                returned: None,
            });
            let cmd = to_command(client.id, client.seq, &op);
            client.pending = Some((cmd, history.len() - 1, Duration::ZERO));
        }
        if let Some((cmd, _, sent)) = &mut client.pending
            && (*sent == Duration::ZERO || now >= *sent + ms(100))
            && let Some(at) = leader(sim)
        {
            *sent = now.max(ms(1));
            let cmd = cmd.clone();
            sim.note(at, format!("client {} proposes {:?}", client.id, cmd.op));
            sim.call(at, |n, ctx| n.propose(cmd, ctx));
        }
    }
}

/// The latest configuration of the leader, and whether it is committed.
fn leader_config(sim: &Sim<Node>) -> Option<(NodeId, Vec<NodeId>, bool)> {
    let id = leader(sim)?;
    let node = sim.node(id)?;
    let at = (node.snapshot_index() + 1..=node.last_log_index())
        .rev()
        .find(|&i| {
            matches!(
                node.entry(i).map(|e| &e.command.op),
                Some(Op::Config { .. })
            )
        })
        .unwrap_or(0);
    Some((id, node.config().to_vec(), node.commit_index() >= at))
}

/// Shuts down every server that a committed configuration has left out (the operator's job:
/// a removed server that never heard of its removal would stand for election forever).
fn decommission(sim: &mut Sim<Node>) {
    if let Some((_, members, true)) = leader_config(sim) {
        for id in 0..sim.len() {
            if !members.contains(&id) && sim.node(id).is_some() {
                sim.crash(id, None);
            }
        }
    }
}

/// Asks the leader for a random change, keeping three to five members.
fn change(sim: &mut Sim<Node>, rng: &mut u64) {
    let Some((at, members, true)) = leader_config(sim) else {
        return;
    };
    let outside: Vec<NodeId> = (0..sim.len()).filter(|i| !members.contains(i)).collect();
    let add = members.len() <= 3 || (!outside.is_empty() && splitmix(rng).is_multiple_of(2));
    if add && !outside.is_empty() {
        let id = outside[(splitmix(rng) % outside.len() as u64) as usize];
        // An operator boots the server, then adds it.
        sim.restart(id);
        sim.note(at, format!("add_server({id})"));
        sim.call(at, |n, ctx| n.add_server(id, ctx));
    } else if members.len() > 3 {
        let id = members[(splitmix(rng) % members.len() as u64) as usize];
        sim.note(at, format!("remove_server({id})"));
        sim.call(at, |n, ctx| n.remove_server(id, ctx));
    }
}

fn changes_under_faults(ctx: &mut Ctx) -> CheckResult {
    let profiles = [
        Faults::lossy(),
        Faults::partitions(),
        Faults::crashes(),
        Faults::everything(),
    ];
    for (k, faults) in profiles.into_iter().enumerate() {
        let seed = ctx.seed().wrapping_add(k as u64);
        ctx.doing(format!(
            "five slots under the {} profile, with membership changes and clients, simulated run {seed}",
            faults.name
        ));
        changes_run(seed, faults)?;
    }
    Ok(())
}

fn changes_run(seed: u64, faults: Faults) -> CheckResult {
    let name = faults.name;
    let mut sim = crate::support::cluster!(SLOTS, faults.clone(), seed);
    let mut checker = Checker::new();
    let mut rng = seed ^ 0x00C0_FFEE;
    let mut clients: Vec<Client> = (1..=3)
        .map(|id| Client {
            id,
            seq: 0,
            pending: None,
        })
        .collect();
    let mut history = Vec::new();
    let tick = ms(10);
    let stormy = ms(2500);
    let mut next_change = ms(400);
    while sim.now() < stormy {
        run_for(&mut sim, &mut checker, tick, seed)
            .map_err(|f| Failure::new(format!("under {name}: {}", f.message)))?;
        drive_clients(&mut sim, &mut clients, &mut history, &mut rng, true);
        if sim.now() >= next_change {
            change(&mut sim, &mut rng);
            next_change = sim.now() + ms(150 + splitmix(&mut rng) % 200);
        }
        decommission(&mut sim);
    }

    // The weather clears: every server comes back, the removed ones are shut down again.
    sim.set_faults(faults.healed());
    sim.partition(&[], None);
    for id in 0..SLOTS {
        sim.restart(id);
    }
    let deadline = sim.now() + ms(3000);
    let mut probe: Option<(NodeId, u64)> = None;
    let mut probe_seq = 0;
    loop {
        run_for(&mut sim, &mut checker, tick, seed)?;
        drive_clients(&mut sim, &mut clients, &mut history, &mut rng, false);
        decommission(&mut sim);
        if let Some((at, members, true)) = leader_config(&sim) {
            let fresh = probe.is_none_or(|(p, _)| p != at);
            if fresh
                && sim
                    .node(at)
                    .is_some_and(|n| n.commit_index() >= n.last_log_index())
            {
                probe_seq += 1;
                let cmd = command(99, probe_seq, "probe", "!");
                if let Some(Ok(index)) = sim.call(at, |n, ctx| n.propose(cmd, ctx)) {
                    probe = Some((at, index));
                }
            }
            if let Some((p, index)) = probe
                && p == at
                && members.iter().all(|&i| has_applied(&sim, i, index))
                && clients.iter().all(|c| c.pending.is_none())
            {
                break;
            }
        }
        if sim.now() >= deadline {
            return Err(failure(
                &sim,
                seed,
                format!(
                    "under {name} then 3 s of calm: expected a leader whose proposal is applied on \
                     every member, and every client answered; got probe {probe:?}, clients \
                     waiting: {:?}\n  {}",
                    clients
                        .iter()
                        .filter_map(|c| c.pending.as_ref().map(|p| (c.id, p.0.seq)))
                        .collect::<Vec<_>>(),
                    roles(&sim)
                ),
            ));
        }
    }
    match lin::check(&KvModel, &history, 200_000) {
        Verdict::Linearizable => Ok(()),
        verdict => Err(failure(
            &sim,
            seed,
            format!("under {name}, the clients' history is {verdict}"),
        )),
    }
}
