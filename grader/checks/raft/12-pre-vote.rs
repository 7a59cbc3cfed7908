//! Hidden checks for raft/pre-vote.

use std::time::Duration;

use judge::prelude::*;
use kit::consensus::{NodeView, SafetyChecker};
use kit::lin::{self, KvModel, KvOp, OperationOf, Verdict};
use kit::net::{Faults, NodeId, Process, Sim, TraceEvent};
use raft_pre_vote::{
    AppendEntries, AppendReply, Command, ELECTION_TIMEOUT_MS, Entry, INITIAL_MEMBERS, Message,
    Node, NotLeader, Op, Role, Timer,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a follower cut off from the cluster keeps its term, and when it comes back the leader \
             stays",
            isolated_node_keeps_its_term,
        )
        .check(
            "a PreVote moves no term and records no vote; it is refused while a leader is heard \
             from, and granted once the leader is gone",
            pre_vote_is_a_question,
        )
        .check(
            "once the leader has been silent for an election timeout, a PreVote is granted for a \
             term new to us from a log as up to date as ours, and refused for the term we have",
            pre_vote_for_an_equal_log,
        )
        .check(
            "once the leader is silent, a PreVote is granted only from a log at least as up to \
             date: a higher last term, or the same last term and a last index at least as high",
            pre_vote_log_restriction,
        )
        .check(
            "an AppendEntries of an older term, refused, is no word from a leader: a node that \
             hears only a deposed leader still grants a PreVote",
            stale_leader_is_not_heard,
        )
        .check(
            "a cluster of one elects itself at once; a pre-candidate keeps an election timer \
             pending and counts only grants to the question it asks now: a late grant to an \
             earlier question starts nothing, nor does one reaching it once it follows a leader \
             again",
            pre_vote_rounds,
        )
        .check(
            "a heartbeat timer set in an earlier term of the leader fires without effect",
            old_heartbeat_timer,
        )
        .check(
            "when the leader crashes, the others pre-vote, then vote, and elect a new leader",
            leader_crash,
        )
        .check(
            "transfer_leadership brings a lagging successor up to date, and it wins at once, \
             while the old leader turns proposals away",
            transfer,
        )
        .check(
            "transfer_leadership starts at once: TimeoutNow to a successor already up to date, \
             an AppendEntries to one that lags",
            transfer_starts_at_once,
        )
        .check(
            "a leadership transfer to a node that never answers gives up within an election \
             timeout (300 ms): proposals are refused meanwhile, then taken again",
            transfer_to_a_dead_node_gives_up,
        )
        .check(
            "transfer_leadership at a follower is refused with a hint of who leads; at the leader, \
             a transfer to itself or to a slot that is not a member does nothing",
            transfer_refusals,
        )
        .check(
            "a late TimeoutNow of an older term starts nothing, nor does one reaching the leader",
            stale_timeout_now,
        )
        .check(
            "with pre-vote and leadership transfers under lost messages, partitions and crashes, \
             the cluster stays safe and linearizable, and commits again once the faults stop",
            faults,
        )
}

const SLOTS: usize = 3;

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
    let path = std::env::temp_dir().join(format!("raft-12-pre-vote-run-{seed}.svg"));
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

fn isolated_node_keeps_its_term(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let mut sim = crate::support::cluster!(SLOTS, in_order(), seed);
    let mut checker = Checker::new();
    let first = elect(&mut sim, &mut checker, seed, ms(1500))?;
    settle(&mut sim, &mut checker, seed, first)?;
    let term = sim.node(first).map_or(0, Node::term);
    let cut = (first + 1 + (seed % 2) as usize) % SLOTS;
    ctx.doing(format!(
        "three nodes, leader {first} of term {term}; node {cut} cut off for 2 s"
    ));
    sim.partition(&[cut], None);
    run_for(&mut sim, &mut checker, ms(2000), seed)?;
    let cut_term = sim.node(cut).map_or(0, Node::term);
    if cut_term != term {
        return Err(failure(
            &sim,
            seed,
            format!(
                "node {cut}, cut off for 2 s from leader {first} of term {term}, is now in term \
                 {cut_term}: a node that cannot win must not raise its term (pre-vote first, and \
                 a pre-vote does not change the term)"
            ),
        ));
    }
    sim.partition(&[], None);
    run_for(&mut sim, &mut checker, ms(1000), seed)?;
    let now = sim.node(first).map(|n| (n.role(), n.term()));
    if now != Some((Role::Leader, term)) {
        return Err(failure(
            &sim,
            seed,
            format!(
                "node {cut} rejoined after 2 s cut off; 1 s later, leader {first} of term {term} \
                 is {now:?}: the rejoining node disrupted a healthy leader\n  {}",
                roles(&sim)
            ),
        ));
    }
    Ok(())
}

/// Hands `to` a PreVote from `from` for `term`, with a log as long as anyone's: what it answered.
fn ask(sim: &mut Sim<Node>, from: NodeId, to: NodeId, term: u64) -> Option<String> {
    let message = Message::PreVote {
        term,
        last_log_index: 1_000,
        last_log_term: term - 1,
    };
    sim.note(to, format!("PreVote from {from} for term {term}"));
    let before = sim.trace().events.len();
    sim.call(to, |n, ctx| n.on_message(from, message, ctx));
    sim.trace().events[before..].iter().find_map(|e| match e {
        TraceEvent::Sent {
            from: f,
            to: t,
            what,
            ..
        } if *f == to && *t == from => Some(what.clone()),
        _ => None,
    })
}

fn pre_vote_is_a_question(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.doing(
        "three nodes: PreVotes handed to the leader and a follower, then after the leader crashes",
    );
    let mut sim = crate::support::cluster!(SLOTS, in_order(), seed);
    let mut checker = Checker::new();
    let first = elect(&mut sim, &mut checker, seed, ms(1500))?;
    settle(&mut sim, &mut checker, seed, first)?;
    run_for(&mut sim, &mut checker, ms(60), seed)?;
    let term = sim.node(first).map_or(0, Node::term);
    let asker = (first + 1) % SLOTS;
    let other = (first + 2) % SLOTS;
    for to in [other, first] {
        let before = sim.node(to).map(|n| (n.term(), n.voted_for(), n.role()));
        let answer = ask(&mut sim, asker, to, term + 1);
        let after = sim.node(to).map(|n| (n.term(), n.voted_for(), n.role()));
        let did = format!(
            "node {to} (term {term}, {:?}, just heard from leader {first}) got a PreVote for term \
             {} from node {asker}, whose log is longer",
            before.map(|b| b.2),
            term + 1
        );
        if after != before {
            return Err(failure(
                &sim,
                seed,
                format!(
                    "{did}: its (term, vote, role) went from {before:?} to {after:?}; a PreVote is \
                     a question: it changes nothing"
                ),
            ));
        }
        if !answer
            .as_deref()
            .is_some_and(|a| a.starts_with("PreVoteReply") && a.contains("granted: false"))
        {
            return Err(failure(
                &sim,
                seed,
                format!(
                    "{did}: it answered {answer:?}; expected a PreVoteReply with granted: false: \
                     while a leader is heard from, nobody needs a new one"
                ),
            ));
        }
    }
    // The leader goes; once an election timeout has passed without it, the answer is yes.
    sim.crash(first, None);
    let silent = ms(160);
    let quiet_until = sim.now() + silent;
    let early = sim.run_until(quiet_until, |sim| {
        if (0..SLOTS).any(|i| sim.node(i).is_some_and(|n| n.term() != term)) {
            Err(())
        } else {
            Ok(())
        }
    });
    if early.is_err() {
        // A follower timed out already: fine, but then the question below is moot.
        return Ok(());
    }
    let before = sim.node(other).map(|n| (n.term(), n.voted_for()));
    let answer = ask(&mut sim, asker, other, term + 1);
    let after = sim.node(other).map(|n| (n.term(), n.voted_for()));
    let did = format!(
        "leader {first} crashed {silent:?} ago; node {other} (term {term}) got a PreVote for term \
         {} from node {asker}, whose log is longer",
        term + 1
    );
    if after != before {
        return Err(failure(
            &sim,
            seed,
            format!(
                "{did}: its (term, vote) went from {before:?} to {after:?}; expected no change"
            ),
        ));
    }
    if !answer
        .as_deref()
        .is_some_and(|a| a.starts_with("PreVoteReply") && a.contains("granted: true"))
    {
        return Err(failure(
            &sim,
            seed,
            format!(
                "{did}: it answered {answer:?}; expected a PreVoteReply with granted: true: no \
                 leader has been heard from for longer than the shortest election timeout"
            ),
        ));
    }
    Ok(())
}

fn leader_crash(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    for round in 0..3u64 {
        let run_seed = seed.wrapping_add(round);
        let faults = if round == 0 {
            in_order()
        } else {
            Faults::reliable()
        };
        let mut sim = crate::support::cluster!(SLOTS, faults, run_seed);
        let mut checker = Checker::new();
        let first = elect(&mut sim, &mut checker, run_seed, ms(1500))?;
        settle(&mut sim, &mut checker, run_seed, first)?;
        let term = sim.node(first).map_or(0, Node::term);
        ctx.doing(format!(
            "three nodes: leader {first} of term {term} crashes"
        ));
        sim.crash(first, None);
        let next = |sim: &Sim<Node>| leader(sim).is_some();
        if !wait(&mut sim, &mut checker, run_seed, ms(1500), next)? {
            return Err(failure(
                &sim,
                run_seed,
                format!(
                    "leader {first} of term {term} crashed; the other two did not elect a leader \
                     within 1.5 s\n  {}",
                    roles(&sim)
                ),
            ));
        }
        let second = leader(&sim).expect("a leader");
        settle(&mut sim, &mut checker, run_seed, second)?;
        let index = propose(&mut sim, run_seed, second, command(1, 1, "k", "v"))?;
        let others: Vec<NodeId> = (0..SLOTS).filter(|&i| i != first).collect();
        let all = |sim: &Sim<Node>| others.iter().all(|&i| has_applied(sim, i, index));
        if !wait(&mut sim, &mut checker, run_seed, ms(500), all)? {
            return Err(failure(
                &sim,
                run_seed,
                format!(
                    "new leader {second}: entry {index} not applied on {others:?} within 500 ms"
                ),
            ));
        }
    }
    Ok(())
}

fn transfer(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let mut sim = crate::support::cluster!(SLOTS, in_order(), seed);
    let mut checker = Checker::new();
    let first = elect(&mut sim, &mut checker, seed, ms(1500))?;
    settle(&mut sim, &mut checker, seed, first)?;
    let to = (first + 1 + (seed % 2) as usize) % SLOTS;
    ctx.doing(format!(
        "three nodes, leader {first}: node {to} misses entries, then takes over"
    ));
    // The successor misses a few entries (briefly: it must not time out).
    sim.partition(&[to], None);
    for n in 0..4 {
        propose(
            &mut sim,
            seed,
            first,
            command(1, n + 1, "k", &n.to_string()),
        )?;
    }
    run_for(&mut sim, &mut checker, ms(40), seed)?;
    sim.partition(&[], None);
    let term = sim.node(first).map_or(0, Node::term);
    let behind = sim.node(to).map_or(0, Node::last_log_index);
    let last = sim.node(first).map_or(0, Node::last_log_index);
    sim.note(first, format!("transfer_leadership({to})"));
    let answer = sim.call(first, |n, ctx| n.transfer_leadership(to, ctx));
    if answer != Some(Ok(())) {
        return Err(failure(
            &sim,
            seed,
            format!(
                "transfer_leadership({to}) at leader {first} returned {answer:?}; expected Ok(())"
            ),
        ));
    }
    let answer = sim.call(first, |n, ctx| n.propose(command(1, 9, "k", "late"), ctx));
    let expected = Some(Err(NotLeader {
        leader_hint: Some(to),
    }));
    if answer != expected {
        return Err(failure(
            &sim,
            seed,
            format!(
                "right after transfer_leadership({to}), propose at leader {first} returned \
                 {answer:?}; expected {expected:?}: new commands would only keep the successor \
                 behind"
            ),
        ));
    }
    let took_over = |sim: &Sim<Node>| sim.node(to).is_some_and(|n| n.role() == Role::Leader);
    let within = ms(120);
    if !wait(&mut sim, &mut checker, seed, within, took_over)? {
        return Err(failure(
            &sim,
            seed,
            format!(
                "leader {first} (term {term}, log up to {last}) transferred leadership to node \
                 {to} (log up to {behind}); within {within:?}, less than any election timeout, \
                 expected node {to} to lead, caught up and elected at once (TimeoutNow: no \
                 pre-vote, no waiting)\n  {}",
                roles(&sim)
            ),
        ));
    }
    let new_term = sim.node(to).map_or(0, Node::term);
    if new_term != term + 1 {
        return Err(failure(
            &sim,
            seed,
            format!(
                "node {to} took over in term {new_term}; expected term {}",
                term + 1
            ),
        ));
    }
    let index = propose(&mut sim, seed, to, command(1, 10, "k", "after"))?;
    let all = |sim: &Sim<Node>| (0..SLOTS).all(|i| has_applied(sim, i, index));
    if !wait(&mut sim, &mut checker, seed, ms(500), all)? {
        return Err(failure(
            &sim,
            seed,
            format!("new leader {to}: entry {index} not applied everywhere within 500 ms"),
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

type Hand = crate::support::Script<Node>;

/// Makes node `id` of `script` the leader: its election timer fires, node `voter` grants its
/// pre-vote and its vote.
fn hand_elect(script: &mut Hand, id: NodeId, voter: NodeId) -> CheckResult {
    script.fire_pending(id, "an election timer", |t| matches!(t, Timer::Election(_)))?;
    let term = script.node(id).term();
    script.deliver(
        voter,
        id,
        Message::PreVoteReply {
            term,
            prospective_term: term + 1,
            granted: true,
        },
    );
    script.deliver(
        voter,
        id,
        Message::Vote {
            term: term + 1,
            granted: true,
        },
    );
    script.expect_eq(
        format!("node {id}'s (term, role)"),
        (script.node(id).term(), script.node(id).role()),
        (term + 1, Role::Leader),
    )
}

fn hand_propose(script: &mut Hand, id: NodeId, seq: u64) -> Result<u64, NotLeader> {
    let cmd = command(1, seq, "x", &seq.to_string());
    script
        .act(format!("propose({cmd:?}) at node {id}"), id, |node, ctx| {
            node.propose(cmd, ctx)
        })
        .0
}

fn pre_vote_for_an_equal_log(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    let held = Entry {
        term: 1,
        command: command(1, 1, "k", "v"),
    };
    script.deliver(
        1,
        0,
        Message::AppendEntries(AppendEntries {
            term: 1,
            prev_log_index: 0,
            prev_log_term: 0,
            entries: vec![held],
            leader_commit: 0,
            round: 1,
        }),
    );
    script.advance(ms(ELECTION_TIMEOUT_MS.end));
    script.note(format!(
        "then {} ms passed without a word from node 1",
        ELECTION_TIMEOUT_MS.end
    ));
    // The term node 0 already has is no new term: no.
    let sent = script.deliver(
        2,
        0,
        Message::PreVote {
            term: 1,
            last_log_index: 1,
            last_log_term: 1,
        },
    );
    script.expect_sent(
        &sent,
        &[(
            2,
            Message::PreVoteReply {
                term: 1,
                prospective_term: 1,
                granted: false,
            },
        )],
    )?;
    let sent = script.deliver(
        2,
        0,
        Message::PreVote {
            term: 2,
            last_log_index: 1,
            last_log_term: 1,
        },
    );
    script.expect_sent(
        &sent,
        &[(
            2,
            Message::PreVoteReply {
                term: 1,
                prospective_term: 2,
                granted: true,
            },
        )],
    )
}

fn entry(term: u64, seq: u64) -> Entry {
    Entry {
        term,
        command: command(1, seq, "k", &seq.to_string()),
    }
}

fn pre_vote_log_restriction(_: &mut Ctx) -> CheckResult {
    let log = vec![entry(1, 1), entry(1, 2), entry(2, 3)];
    // (the asker's last log index, last log term, granted)
    let cases = [
        (3, 2, true),
        (5, 2, true),
        (1, 3, true),
        (2, 2, false),
        (9, 1, false),
        (0, 0, false),
    ];
    for (last_log_index, last_log_term, granted) in cases {
        let mut script = Hand::new(3);
        script.deliver(
            1,
            0,
            Message::AppendEntries(AppendEntries {
                term: 2,
                prev_log_index: 0,
                prev_log_term: 0,
                entries: log.clone(),
                leader_commit: 0,
                round: 1,
            }),
        );
        script.advance(ms(ELECTION_TIMEOUT_MS.end));
        script.note(format!(
            "then {} ms passed without a word from node 1 (node 0's log ends at index 3, of term 2)",
            ELECTION_TIMEOUT_MS.end
        ));
        let sent = script.deliver(
            2,
            0,
            Message::PreVote {
                term: 3,
                last_log_index,
                last_log_term,
            },
        );
        let why = if granted {
            "at least as up to date as node 0's"
        } else {
            "less up to date than node 0's"
        };
        script
            .expect_sent(
                &sent,
                &[(
                    2,
                    Message::PreVoteReply {
                        term: 2,
                        prospective_term: 3,
                        granted,
                    },
                )],
            )
            .map_err(|f| {
                Failure::new(format!(
                    "{}\n(a log ending at index {last_log_index} of term {last_log_term} is {why}, \
                     which ends at index 3 of term 2: the later last term wins, and with the \
                     same last term the longer log, as for votes)",
                    f.message
                ))
            })?;
    }
    Ok(())
}

fn stale_leader_is_not_heard(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    let heartbeat = |term: u64| {
        Message::AppendEntries(AppendEntries {
            term,
            prev_log_index: 0,
            prev_log_term: 0,
            entries: Vec::new(),
            leader_commit: 0,
            round: 1,
        })
    };
    script.deliver(1, 0, heartbeat(1));
    script.deliver(
        2,
        0,
        Message::RequestVote {
            term: 2,
            last_log_index: 0,
            last_log_term: 0,
        },
    );
    script.advance(ms(ELECTION_TIMEOUT_MS.end));
    script.note(format!(
        "then {} ms passed, and no leader of term 2 showed up",
        ELECTION_TIMEOUT_MS.end
    ));
    // Node 1, deposed without knowing it, still sends heartbeats of term 1.
    script.deliver(1, 0, heartbeat(1));
    let sent = script.deliver(
        2,
        0,
        Message::PreVote {
            term: 3,
            last_log_index: 0,
            last_log_term: 0,
        },
    );
    script
        .expect_sent(
            &sent,
            &[(
                2,
                Message::PreVoteReply {
                    term: 2,
                    prospective_term: 3,
                    granted: true,
                },
            )],
        )
        .map_err(|f| {
            Failure::new(format!(
                "{}\n(node 1's heartbeat of term 1 comes from a deposed leader: node 0, in term \
                 2, refuses it, and has never heard from a leader of term 2)",
                f.message
            ))
        })
}

fn pre_vote_rounds(_: &mut Ctx) -> CheckResult {
    let mut lone = Hand::new(1);
    lone.fire_pending(0, "an election timer", |t| matches!(t, Timer::Election(_)))?;
    lone.expect_eq(
        "node 0's (term, role): it grants itself the pre-vote and the vote, a majority of one",
        (lone.node(0).term(), lone.node(0).role()),
        (1, Role::Leader),
    )?;

    let mut script = Hand::new(3);
    let heartbeat = || {
        Message::AppendEntries(AppendEntries {
            term: 1,
            prev_log_index: 0,
            prev_log_term: 0,
            entries: Vec::new(),
            leader_commit: 0,
            round: 1,
        })
    };
    script.deliver(1, 0, heartbeat());
    script.advance(ms(ELECTION_TIMEOUT_MS.end));
    script.note(format!(
        "then {} ms passed without a word from node 1",
        ELECTION_TIMEOUT_MS.end
    ));
    script.fire_pending(0, "an election timer", |t| matches!(t, Timer::Election(_)))?;
    let (term, role) = (script.node(0).term(), script.node(0).role());
    script.expect_eq(
        "node 0's (term, role)",
        (term, role),
        (1, Role::PreCandidate),
    )?;
    let armed = script
        .pending(0)
        .iter()
        .any(|(_, t)| matches!(t, Timer::Election(_)));
    script.expect(
        armed,
        "expected: node 0 sets a fresh election timer as it asks, so that it asks again if no \
         majority answers\ngot:      no election timer pending",
    )?;
    let answer = |granted: bool| Message::PreVoteReply {
        term: 1,
        prospective_term: 2,
        granted,
    };
    script.deliver(2, 0, answer(false));
    script.expect_eq(
        "node 0's (term, role) after node 2 refused",
        (script.node(0).term(), script.node(0).role()),
        (1, Role::PreCandidate),
    )?;
    script.deliver(1, 0, heartbeat());
    script.deliver(2, 0, answer(true));
    script.expect_eq(
        "node 0's (term, role): the grant answers a question node 0 no longer asks, since it \
         heard its leader again",
        (script.node(0).term(), script.node(0).role()),
        (1, Role::Follower),
    )?;

    // A grant to an earlier question, reaching a pre-candidate that asks a newer one.
    let mut script = Hand::new(3);
    script.fire_pending(0, "an election timer", |t| matches!(t, Timer::Election(_)))?;
    script.deliver(
        1,
        0,
        Message::PreVoteReply {
            term: 0,
            prospective_term: 1,
            granted: true,
        },
    );
    script.expect_eq(
        "node 0's (term, role), node 1 granting its PreVote for term 1",
        (script.node(0).term(), script.node(0).role()),
        (1, Role::Candidate),
    )?;
    script.note("node 0's election of term 1 got no votes");
    script.fire_pending(0, "an election timer", |t| matches!(t, Timer::Election(_)))?;
    script.expect_eq(
        "node 0's (term, role), asking for term 2",
        (script.node(0).term(), script.node(0).role()),
        (1, Role::PreCandidate),
    )?;
    script.note("node 2's grant to node 0's first PreVote (for term 1) was delayed until now");
    script.deliver(
        2,
        0,
        Message::PreVoteReply {
            term: 0,
            prospective_term: 1,
            granted: true,
        },
    );
    let got = (script.node(0).term(), script.node(0).role());
    script.expect(
        got == (1, Role::PreCandidate),
        format!(
            "expected: node 0 stays in term 1, a PreCandidate: the grant answers its question \
             about term 1, not the one it asks now (term 2), so it counts for nothing\n\
             got:      term {}, {:?}",
            got.0, got.1
        ),
    )?;
    script.deliver(
        2,
        0,
        Message::PreVoteReply {
            term: 1,
            prospective_term: 2,
            granted: true,
        },
    );
    script.expect_eq(
        "node 0's (term, role), node 2 granting the question it asks now (with itself, a \
         majority)",
        (script.node(0).term(), script.node(0).role()),
        (2, Role::Candidate),
    )
}

fn old_heartbeat_timer(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    hand_elect(&mut script, 0, 1)?;
    let first = script.node(0).term();
    script.deliver(
        2,
        0,
        Message::Vote {
            term: first + 1,
            granted: false,
        },
    );
    hand_elect(&mut script, 0, 1)?;
    let sent = script.fire_pending(0, &format!("its Heartbeat({first}) timer"), |t| {
        *t == Timer::Heartbeat(first)
    })?;
    script.expect_sent(&sent, &[])?;
    let rearmed = script
        .pending(0)
        .iter()
        .filter(|(_, t)| *t == Timer::Heartbeat(first))
        .count();
    script.expect_eq(
        format!(
            "Heartbeat({first}) timers it set again (node 0 leads term {} now, with a heartbeat \
             timer of its own)",
            first + 2
        ),
        rearmed,
        0,
    )
}

fn transfer_starts_at_once(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    hand_elect(&mut script, 0, 1)?;
    let term = script.node(0).term();
    let last = script.node(0).last_log_index();
    script.deliver(
        1,
        0,
        Message::AppendReply(AppendReply {
            term,
            success: true,
            index: last,
            last_log_index: last,
            round: 0,
        }),
    );
    let (result, effects) = script.act(
        format!("node 0: transfer_leadership(1), node 1 holding its whole log (up to {last})"),
        0,
        |node, ctx| node.transfer_leadership(1, ctx),
    );
    script.expect_eq("transfer_leadership(1)", result, Ok(()))?;
    script.expect(
        effects
            .sends
            .iter()
            .any(|(to, m)| *to == 1 && *m == Message::TimeoutNow { term }),
        format!(
            "expected: node 1 is up to date, so node 0 sends it TimeoutNow {{ term: {term} }} at \
             once\ngot:      it sent {:?}",
            effects.sends
        ),
    )?;
    let mut script = Hand::new(3);
    hand_elect(&mut script, 0, 1)?;
    let (result, effects) = script.act(
        "node 0: transfer_leadership(2), node 2 holding nothing yet",
        0,
        |node, ctx| node.transfer_leadership(2, ctx),
    );
    script.expect_eq("transfer_leadership(2)", result, Ok(()))?;
    script.expect(
        effects
            .sends
            .iter()
            .any(|(to, m)| *to == 2 && crate::support::is_kind(m, "AppendEntries")),
        format!(
            "expected: node 2 lacks entries, so node 0 sends it an AppendEntries at once, to \
             bring it up to date before the TimeoutNow\ngot:      it sent {:?}",
            effects.sends
        ),
    )
}

fn transfer_to_a_dead_node_gives_up(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    hand_elect(&mut script, 0, 1)?;
    let (result, _) = script.act(
        "node 0: transfer_leadership(2), node 2 being down",
        0,
        |node, ctx| node.transfer_leadership(2, ctx),
    );
    script.expect_eq("transfer_leadership(2)", result, Ok(()))?;
    let got = hand_propose(&mut script, 0, 1);
    script.expect_eq(
        "propose during the transfer",
        got,
        Err(NotLeader {
            leader_hint: Some(2),
        }),
    )?;
    let start = script.now();
    script.note("then node 0's heartbeat timers fired, one after another, for 400 ms");
    while script.now() < start + ms(400) {
        let before = script.now();
        if fire_heartbeat(&mut script, 0).is_none() || script.now() == before {
            return Err(script.failure(
                "expected: the leader keeps a heartbeat timer pending, set HEARTBEAT_INTERVAL \
                 ahead\ngot:      none",
            ));
        }
    }
    let got = hand_propose(&mut script, 0, 2);
    script.expect(
        got.is_ok(),
        format!(
            "expected: 400 ms after a transfer to node 2, which never answered, node 0 has given \
             up on it, leads on, and takes the proposal\ngot:      {got:?}"
        ),
    )
}

/// Fires node `id`'s latest pending heartbeat timer.
fn fire_heartbeat(script: &mut Hand, id: NodeId) -> Option<()> {
    script
        .fire_latest(id, |t| matches!(t, Timer::Heartbeat(_)))
        .map(|_| ())
}

fn transfer_refusals(_: &mut Ctx) -> CheckResult {
    // Four slots: members 0, 1, 2; slot 3 is not a member.
    let mut script = Hand::new(4);
    hand_elect(&mut script, 0, 1)?;
    let sent = script.fire_pending(0, "a heartbeat timer", |t| matches!(t, Timer::Heartbeat(_)))?;
    for (to, message) in sent.into_iter().filter(|(to, _)| *to == 2) {
        script.deliver(0, to, message);
    }
    let (answer, effects) = script.act("node 2: transfer_leadership(1)", 2, |node, ctx| {
        node.transfer_leadership(1, ctx)
    });
    script.expect_eq(
        "transfer_leadership(1) at node 2, a follower of node 0",
        answer,
        Err(NotLeader {
            leader_hint: Some(0),
        }),
    )?;
    script.expect_sent(&effects.sends, &[])?;
    for to in [0, 3] {
        let what = if to == 0 {
            "itself"
        } else {
            "slot 3, not a member"
        };
        let (answer, effects) = script.act(
            format!("node 0: transfer_leadership({to}), to {what}"),
            0,
            |node, ctx| node.transfer_leadership(to, ctx),
        );
        script.expect_eq(format!("transfer_leadership({to})"), answer, Ok(()))?;
        script.expect_sent(&effects.sends, &[])?;
        let got = hand_propose(&mut script, 0, to as u64 + 1);
        script.expect(
            got.is_ok(),
            format!(
                "expected: no transfer began, so node 0 still takes proposals\ngot:      {got:?}"
            ),
        )?;
    }
    Ok(())
}

fn stale_timeout_now(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    hand_elect(&mut script, 2, 1)?;
    // Node 0 learns of term 2 from a late answer.
    script.deliver(
        1,
        0,
        Message::Vote {
            term: 2,
            granted: false,
        },
    );
    script.expect_eq(
        "node 0's (term, role)",
        (script.node(0).term(), script.node(0).role()),
        (2, Role::Follower),
    )?;
    // A TimeoutNow node 2 sent when it led term 1, arriving late.
    let sent = script.deliver(2, 0, Message::TimeoutNow { term: 1 });
    script.expect(
        script.node(0).term() == 2 && script.node(0).role() == Role::Follower && sent.is_empty(),
        format!(
            "expected: node 0 ignores a TimeoutNow of term 1 (it is in term 2: the leader that \
             sent it is gone), staying a Follower of term 2 and sending nothing\n\
             got:      term {}, {:?}, sent {sent:?}",
            script.node(0).term(),
            script.node(0).role()
        ),
    )?;
    // And a leader ignores a TimeoutNow of its own term.
    let sent = script.deliver(1, 2, Message::TimeoutNow { term: 1 });
    script.expect(
        script.node(2).term() == 1 && script.node(2).role() == Role::Leader && sent.is_empty(),
        format!(
            "expected: node 2, leader of term 1, ignores a TimeoutNow: it leads already\n\
             got:      term {}, {:?}, sent {sent:?}",
            script.node(2).term(),
            script.node(2).role()
        ),
    )
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

fn faults(ctx: &mut Ctx) -> CheckResult {
    let profiles = [
        Faults::lossy(),
        Faults::partitions(),
        Faults::crashes(),
        Faults::everything(),
    ];
    for (k, faults) in profiles.into_iter().enumerate() {
        let seed = ctx.seed().wrapping_add(k as u64);
        ctx.doing(format!(
            "three nodes under the {} profile, with transfers and clients, simulated run {seed}",
            faults.name
        ));
        faulty_run(seed, faults)?;
    }
    Ok(())
}

fn faulty_run(seed: u64, faults: Faults) -> CheckResult {
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
    let mut next_transfer = ms(500);
    while sim.now() < stormy {
        run_for(&mut sim, &mut checker, tick, seed)
            .map_err(|f| Failure::new(format!("under {name}: {}", f.message)))?;
        drive_clients(&mut sim, &mut clients, &mut history, &mut rng, true);
        if sim.now() >= next_transfer {
            if let Some(at) = leader(&sim) {
                let to = (splitmix(&mut rng) % SLOTS as u64) as NodeId;
                sim.note(at, format!("transfer_leadership({to})"));
                sim.call(at, |n, ctx| n.transfer_leadership(to, ctx));
            }
            next_transfer = sim.now() + ms(300 + splitmix(&mut rng) % 400);
        }
    }

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
        if let Some(at) = leader(&sim) {
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
                && (0..SLOTS).all(|i| has_applied(&sim, i, index))
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
                     every node, and every client answered; got probe {probe:?}, clients \
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
