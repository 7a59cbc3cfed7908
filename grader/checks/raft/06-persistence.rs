//! Hidden checks for raft/persistence.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use judge::prelude::*;
use kit::consensus::{NodeView, SafetyChecker};
use kit::net::{Faults, NodeId, Process, Sim, TraceEvent};
use raft_persistence::{AppendEntries, Entry, Message, Node, Role, Timer};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a cluster of one node commits alone; restarted, it keeps its term and log, applies \
             nothing until it leads again, and then commits the old entries with a new one",
            cluster_of_one_restarts,
        )
        .check(
            "a node that voted keeps its term and its vote through a crash, and does not vote for \
             another candidate in that term",
            vote_survives,
        )
        .check(
            "a candidate keeps its new term and its vote for itself through a crash: its \
             requests for votes went out, so restarted it refuses another candidate of that term",
            candidacy_survives,
        )
        .check(
            "a restarted node takes back its term, vote and log, and nothing else: a follower \
             that knows no leader yet, with commit index 0 and nothing applied",
            restart_takes_back_only_what_was_saved,
        )
        .check(
            "a term learned from a leader's heartbeat survives a crash",
            term_survives,
        )
        .check(
            "entries a follower acknowledged survive a crash, and so does a log repaired by a new \
             leader",
            follower_log_survives,
        )
        .check("a leader's own proposals survive its crash", leader_log_survives)
        .check(
            "a restarted node applies nothing it does not know is committed, and learns the commit \
             index again from the leader",
            restart_applies_only_committed,
        )
        .check(
            "under crashes, loss and partitions the cluster stays safe, and once the weather clears \
             a new command is committed and applied everywhere",
            random_runs,
        )
}

/// The view of a node that the safety checker needs.
fn view(node: &Node) -> NodeView {
    NodeView {
        term: node.term(),
        leader: node.role() == Role::Leader,
        first_index: 1,
        log_terms: node.log().iter().map(|e| e.term).collect(),
        log_commands: node.log().iter().map(|e| e.command.clone()).collect(),
        commit_index: node.commit_index(),
        applied: node
            .applied()
            .iter()
            .enumerate()
            .map(|(i, c)| (i as u64 + 1, c.clone()))
            .collect(),
    }
}

/// What each node must keep true of itself: lastApplied <= commitIndex <= last log index, and
/// what it applied is its log's commands, in order.
fn node_invariants(id: NodeId, node: &Node) -> Result<(), String> {
    let applied = node.applied().len() as u64;
    if applied > node.commit_index() || node.commit_index() > node.last_log_index() {
        return Err(format!(
            "node {id} (term {}) has applied {applied} entries, commit index {}, and {} entries in \
             its log: expected applied <= commit index <= log length",
            node.term(),
            node.commit_index(),
            node.last_log_index()
        ));
    }
    for (i, command) in node.applied().iter().enumerate() {
        if node.log()[i].command != *command {
            return Err(format!(
                "node {id} applied {command:?} as entry {}, but its log holds {:?} there",
                i + 1,
                node.log()[i].command
            ));
        }
    }
    Ok(())
}

/// Checks the cluster after every event: each node's own invariants, election safety, and the
/// kit's safety checker (log matching, leader completeness, state machine safety).
struct Observer {
    checker: SafetyChecker,
    /// Who led each term.
    leaders: BTreeMap<u64, NodeId>,
    /// The highest term in which some node's commit index moved.
    commit_term: u64,
    commit_index: Vec<u64>,
}

impl Observer {
    fn new(n: usize) -> Observer {
        Observer {
            checker: SafetyChecker::new(),
            leaders: BTreeMap::new(),
            commit_term: 0,
            commit_index: vec![0; n],
        }
    }

    fn observe(&mut self, sim: &Sim<Node>) -> Result<(), String> {
        let mut views = Vec::new();
        for i in 0..sim.len() {
            let Some(node) = sim.node(i) else {
                views.push(None);
                continue;
            };
            node_invariants(i, node)?;
            if node.commit_index() > self.commit_index[i] {
                self.commit_term = self.commit_term.max(node.term());
            }
            self.commit_index[i] = node.commit_index();
            if node.role() == Role::Leader {
                let first = *self.leaders.entry(node.term()).or_insert(i);
                if first != i {
                    return Err(format!(
                        "election safety: nodes {first} and {i} were both leader in term {}",
                        node.term()
                    ));
                }
            }
            views.push(Some(view(node)));
        }
        // Leader completeness binds the leaders of later terms than a commit; a deposed leader
        // that has not heard of its successor yet need not hold what was committed since.
        for v in views.iter_mut().flatten() {
            v.leader &= v.term >= self.commit_term;
        }
        self.checker.observe(&views)
    }
}

/// Writes the run's space-time diagram; the text to append to a failure message.
fn picture(sim: &Sim<Node>, name: &str, seed: u64) -> String {
    let path: PathBuf =
        std::env::temp_dir().join(format!("raft-06-persistence-{name}-run-{seed}.svg"));
    match kit::diagram::write(sim.trace(), &path) {
        Ok(()) => format!(
            "\npicture of the run: {} (to step through it event by event, open {})",
            path.display(),
            path.with_extension("html").display()
        ),
        Err(error) => format!("\n(could not draw the run: {error})"),
    }
}

fn entry(term: u64, command: &str) -> Entry {
    Entry {
        term,
        command: command.to_string(),
    }
}

fn append(term: u64, prev: (u64, u64), entries: Vec<Entry>, leader_commit: u64) -> Message {
    Message::AppendEntries(AppendEntries {
        term,
        prev_log_index: prev.0,
        prev_log_term: prev.1,
        entries,
        leader_commit,
    })
}

/// Hands `message` to node `to` as if it came from `from`, and notes it in the trace.
fn deliver(sim: &mut Sim<Node>, to: NodeId, from: NodeId, message: Message, did: &mut Vec<String>) {
    let text = format!("node {to} receives from {from}: {message:?}");
    sim.note(to, format!("from {from}: {message:?}"));
    did.push(text);
    sim.call(to, |node, ctx| node.on_message(from, message, ctx));
}

fn node(sim: &Sim<Node>, id: NodeId) -> &Node {
    sim.node(id).expect("the check restarted the node")
}

fn commands(entries: &[&str]) -> Vec<String> {
    entries.iter().map(|s| s.to_string()).collect()
}

/// Checks node `id`'s commit index and what it has applied after the steps in `did`.
fn expect_state(
    sim: &Sim<Node>,
    id: NodeId,
    did: &[String],
    commit: u64,
    applied: &[&str],
    name: &str,
    seed: u64,
) -> CheckResult {
    let n = node(sim, id);
    let applied = commands(applied);
    if n.commit_index() != commit || n.applied() != applied.as_slice() {
        return fail(format!(
            "did:\n  {}\nexpected: node {id} has commit index {commit} and has applied {applied:?}\n\
             got:      commit index {}, applied {:?} (log: {:?}){}",
            did.join("\n  "),
            n.commit_index(),
            n.applied(),
            n.log(),
            picture(sim, name, seed)
        ));
    }
    Ok(())
}

/// Crashes node `id` and boots it again at once, from what it saved.
fn crash_restart(sim: &mut Sim<Node>, id: NodeId, did: &mut Vec<String>) {
    did.push(format!("node {id} crashes and restarts"));
    sim.crash(id, None);
    sim.restart(id);
}

fn show(did: &[String]) -> String {
    did.join("\n  ")
}

fn request_vote(term: u64) -> Message {
    Message::RequestVote {
        term,
        last_log_index: 0,
        last_log_term: 0,
    }
}

/// Whether node `from` ever sent `to` a vote granted in `term`, by the trace.
fn granted(sim: &Sim<Node>, from: NodeId, to: NodeId, term: u64) -> bool {
    let yes = format!(
        "{:?}",
        Message::Vote {
            term,
            granted: true
        }
    );
    sim.trace().events.iter().any(|event| {
        matches!(event, TraceEvent::Sent { from: f, to: t, what, .. }
            if *f == from && *t == to && *what == yes)
    })
}

type Hand = crate::support::Script<Node>;

/// Fires node `id`'s latest pending election timer, which must exist.
fn time_out(script: &mut Hand, id: NodeId) -> CheckResult {
    match script.fire_latest(id, |t| matches!(t, Timer::Election(_))) {
        Some(_) => Ok(()),
        None => Err(script.failure(format!(
            "expected: node {id} has an election timer pending\ngot:      none"
        ))),
    }
}

fn hand_propose(script: &mut Hand, command: &str) -> CheckResult {
    let owned = command.to_string();
    let (result, _) = script.act(format!("propose({command:?}) at node 0"), 0, |node, ctx| {
        node.propose(owned, ctx)
    });
    match result {
        Ok(_) => Ok(()),
        Err(e) => Err(script.failure(format!(
            "expected: node 0, the leader, accepts the proposal\ngot:      Err({e:?})"
        ))),
    }
}

/// Node 0's (term, role, commit index, applied).
fn lone_state(script: &Hand) -> (u64, Role, u64, Vec<String>) {
    let node = script.node(0);
    (
        node.term(),
        node.role(),
        node.commit_index(),
        node.applied().to_vec(),
    )
}

fn cluster_of_one_restarts(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(1);
    time_out(&mut script, 0)?;
    hand_propose(&mut script, "a")?;
    hand_propose(&mut script, "b")?;
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    script.expect_eq(
        "node 0's (term, role, commit index, applied)",
        lone_state(&script),
        (1, Role::Leader, 2, strings(&["a", "b"])),
    )?;
    script.restart(0);
    script.expect_eq(
        "node 0's (term, role, commit index, applied) just after the restart",
        lone_state(&script),
        (1, Role::Follower, 0, vec![]),
    )?;
    script.expect_eq(
        "node 0's log length after the restart",
        script.node(0).log().len(),
        2,
    )?;
    time_out(&mut script, 0)?;
    hand_propose(&mut script, "c")?;
    script.expect_eq(
        "node 0's (term, role, commit index, applied), leading again and proposing c",
        lone_state(&script),
        (2, Role::Leader, 3, strings(&["a", "b", "c"])),
    )
}

fn vote_survives(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let name = "vote";
    let mut sim = crate::support::cluster!(3, Faults::reliable(), seed);
    let mut did = Vec::new();
    deliver(&mut sim, 2, 0, request_vote(3), &mut did);
    let n = node(&sim, 2);
    if (n.term(), n.voted_for()) != (3, Some(0)) {
        return fail(format!(
            "did:\n  {}\nexpected: node 2 in term 3, having voted for node 0\ngot:      term {}, \
             voted for {:?}{}",
            show(&did),
            n.term(),
            n.voted_for(),
            picture(&sim, name, seed)
        ));
    }
    crash_restart(&mut sim, 2, &mut did);
    let n = node(&sim, 2);
    if (n.term(), n.voted_for()) != (3, Some(0)) {
        return fail(format!(
            "did:\n  {}\nexpected: node 2 restarts in term 3, remembering its vote for node 0\n\
             got:      term {}, voted for {:?}{}",
            show(&did),
            n.term(),
            n.voted_for(),
            picture(&sim, name, seed)
        ));
    }
    deliver(&mut sim, 2, 1, request_vote(3), &mut did);
    let n = node(&sim, 2);
    if n.voted_for() != Some(0) || granted(&sim, 2, 1, 3) {
        return fail(format!(
            "did:\n  {}\nexpected: node 2 refuses node 1: it already voted for node 0 in term 3\n\
             got:      voted for {:?}, and {} node 1 its vote: two leaders could win term 3{}",
            show(&did),
            n.voted_for(),
            if granted(&sim, 2, 1, 3) {
                "granted"
            } else {
                "did not grant"
            },
            picture(&sim, name, seed)
        ));
    }
    Ok(())
}

fn candidacy_survives(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    let sent = script.fire_pending(0, "an election timer", |t| matches!(t, Timer::Election(_)))?;
    let term = script.node(0).term();
    script.expect(
        crate::support::of_kind(&sent, "RequestVote").len() == 2,
        format!(
            "expected: node 0 stands for election and asks nodes 1 and 2 for their votes\n\
             got:      it sent {sent:?}"
        ),
    )?;
    script.restart(0);
    let node = script.node(0);
    script.expect(
        (node.term(), node.voted_for()) == (term, Some(0)),
        format!(
            "expected: node 0 restarts in term {term}, having voted for itself: its \
             RequestVotes of term {term} went out before the crash, so it must keep the term \
             and the vote they announced\ngot:      term {}, voted for {:?}",
            node.term(),
            node.voted_for()
        ),
    )?;
    let answer = script.deliver(
        1,
        0,
        Message::RequestVote {
            term,
            last_log_index: 0,
            last_log_term: 0,
        },
    );
    script.expect_sent(
        &answer,
        &[(
            1,
            Message::Vote {
                term,
                granted: false,
            },
        )],
    )
}

fn restart_takes_back_only_what_was_saved(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    let (a, b) = (entry(2, "a"), entry(2, "b"));
    script.deliver(1, 2, append(2, (0, 0), vec![a.clone(), b.clone()], 1));
    script.deliver(
        0,
        2,
        Message::RequestVote {
            term: 3,
            last_log_index: 2,
            last_log_term: 2,
        },
    );
    script.deliver(0, 2, append(3, (2, 2), vec![], 1));
    let state = |node: &Node| {
        format!(
            "term {}, voted for {:?}, {:?}, leader_hint {:?}, commit index {}, applied {:?}, \
             log {:?}",
            node.term(),
            node.voted_for(),
            node.role(),
            node.leader_hint(),
            node.commit_index(),
            node.applied(),
            node.log()
        )
    };
    let log = format!("{:?}", [a, b]);
    let before = state(script.node(2));
    let expected = format!(
        "term 3, voted for Some(0), Follower, leader_hint Some(0), commit index 1, applied \
         [\"a\"], log {log}"
    );
    script.expect(
        before == expected,
        format!("expected: node 2 has {expected}\ngot:      {before}"),
    )?;
    script.restart(2);
    let after = state(script.node(2));
    let expected = format!(
        "term 3, voted for Some(0), Follower, leader_hint None, commit index 0, applied [], \
         log {log}"
    );
    script.expect(
        after == expected,
        format!(
            "expected: node 2 restarts with {expected} (term, vote and log come back; it has \
             heard from no leader since it booted, and learns the commit index again)\n\
             got:      {after}"
        ),
    )
}

fn term_survives(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let name = "term";
    let mut sim = crate::support::cluster!(3, Faults::reliable(), seed);
    let mut did = Vec::new();
    deliver(&mut sim, 1, 0, append(4, (0, 0), vec![], 0), &mut did);
    crash_restart(&mut sim, 1, &mut did);
    let n = node(&sim, 1);
    if n.term() != 4 {
        return fail(format!(
            "did:\n  {}\nexpected: node 1 restarts in term 4: a term it answered in must never \
             go back (it could then vote in a term it has seen pass)\ngot:      term {}{}",
            show(&did),
            n.term(),
            picture(&sim, name, seed)
        ));
    }
    Ok(())
}

fn expect_log(
    sim: &Sim<Node>,
    id: NodeId,
    did: &[String],
    expected: &[Entry],
    name: &str,
    seed: u64,
) -> CheckResult {
    let n = node(sim, id);
    if n.log() != expected {
        return fail(format!(
            "did:\n  {}\nexpected: node {id}'s log is {expected:?}\ngot:      {:?}{}",
            show(did),
            n.log(),
            picture(sim, name, seed)
        ));
    }
    Ok(())
}

fn follower_log_survives(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let name = "follower-log";
    let mut sim = crate::support::cluster!(3, Faults::reliable(), seed);
    let mut did = Vec::new();
    let (a, b, c, x) = (entry(1, "a"), entry(1, "b"), entry(1, "c"), entry(2, "x"));
    deliver(
        &mut sim,
        1,
        0,
        append(1, (0, 0), vec![a.clone(), b.clone(), c.clone()], 0),
        &mut did,
    );
    crash_restart(&mut sim, 1, &mut did);
    expect_log(&sim, 1, &did, &[a.clone(), b.clone(), c], name, seed)?;
    // A new leader repairs the log: b and c go, x comes.
    deliver(
        &mut sim,
        1,
        2,
        append(2, (1, 1), vec![x.clone()], 0),
        &mut did,
    );
    crash_restart(&mut sim, 1, &mut did);
    expect_log(&sim, 1, &did, &[a.clone(), x.clone()], name, seed)?;
    // A heartbeat that changes nothing, then more entries.
    deliver(&mut sim, 1, 2, append(2, (2, 2), vec![], 0), &mut did);
    deliver(
        &mut sim,
        1,
        2,
        append(2, (2, 2), vec![b.clone()], 0),
        &mut did,
    );
    crash_restart(&mut sim, 1, &mut did);
    expect_log(&sim, 1, &did, &[a, x, b], name, seed)
}

fn leader_log_survives(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let name = "leader-log";
    let mut sim = crate::support::cluster!(3, Faults::reliable(), seed);
    let mut did = Vec::new();
    let term = make_leader(&mut sim, &[1], &mut did).map_err(Failure::new)?;
    for command in ["p1", "p2"] {
        propose(&mut sim, command, &mut did).map_err(Failure::new)?;
    }
    crash_restart(&mut sim, 0, &mut did);
    let n = node(&sim, 0);
    if n.term() != term || n.voted_for() != Some(0) {
        return fail(format!(
            "did:\n  {}\nexpected: node 0 restarts in term {term}, having voted for itself\n\
             got:      term {}, voted for {:?}{}",
            show(&did),
            n.term(),
            n.voted_for(),
            picture(&sim, name, seed)
        ));
    }
    expect_log(
        &sim,
        0,
        &did,
        &[entry(term, "p1"), entry(term, "p2")],
        name,
        seed,
    )
}

fn restart_applies_only_committed(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let name = "restart-apply";
    let mut sim = crate::support::cluster!(3, Faults::reliable(), seed);
    let mut did = Vec::new();
    deliver(
        &mut sim,
        1,
        0,
        append(1, (0, 0), vec![entry(1, "a"), entry(1, "b")], 1),
        &mut did,
    );
    crash_restart(&mut sim, 1, &mut did);
    let n = node(&sim, 1);
    if n.commit_index() > 1 || n.applied().iter().any(|c| c != "a") || n.applied().len() > 1 {
        return fail(format!(
            "did:\n  {}\nexpected: after the restart, node 1 has applied at most [\"a\"], the only \
             entry committed: b is in its log but may yet be overwritten\n\
             got:      commit index {}, applied {:?}{}",
            show(&did),
            n.commit_index(),
            n.applied(),
            picture(&sim, name, seed)
        ));
    }
    deliver(&mut sim, 1, 0, append(1, (2, 1), vec![], 1), &mut did);
    expect_state(&sim, 1, &did, 1, &["a"], name, seed)?;
    deliver(&mut sim, 1, 0, append(1, (2, 1), vec![], 2), &mut did);
    expect_state(&sim, 1, &did, 2, &["a", "b"], name, seed)
}

/// Makes node 0 a leader by hand: cut off, it times out and stands; then `voters` grant it their
/// votes. Returns its term. Node 0's own messages go nowhere: the sim is not run afterwards.
fn make_leader(
    sim: &mut Sim<Node>,
    voters: &[NodeId],
    did: &mut Vec<String>,
) -> Result<u64, String> {
    sim.partition(&[0], None);
    let limit = sim.now() + Duration::from_secs(2);
    let stood = sim.run_until(limit, |sim| match sim.node(0).map(Node::role) {
        Some(Role::Candidate) => Err(()),
        _ => Ok(()),
    });
    if stood.is_ok() {
        return Err("node 0, cut off from the others for 2 s, never became a candidate".into());
    }
    let term = node(sim, 0).term();
    did.push(format!(
        "node 0, cut off, times out and stands for election in term {term}"
    ));
    for &voter in voters {
        deliver(
            sim,
            0,
            voter,
            Message::Vote {
                term,
                granted: true,
            },
            did,
        );
    }
    if node(sim, 0).role() != Role::Leader {
        return Err(format!(
            "did:\n  {}\nexpected node 0 to lead term {term}, but it is {:?}",
            did.join("\n  "),
            node(sim, 0).role()
        ));
    }
    Ok(term)
}

fn propose(sim: &mut Sim<Node>, command: &str, did: &mut Vec<String>) -> Result<u64, String> {
    did.push(format!("node 0 is asked to propose {command:?}"));
    let command = command.to_string();
    match sim.call(0, |node, ctx| node.propose(command, ctx)) {
        Some(Ok(index)) => Ok(index),
        other => Err(format!(
            "did:\n  {}\nthe leader's propose returned {other:?}",
            did.join("\n  ")
        )),
    }
}

/// The node that leads the highest term, if any.
fn leader(sim: &Sim<Node>) -> Option<NodeId> {
    (0..sim.len())
        .filter(|&i| sim.node(i).is_some_and(|n| n.role() == Role::Leader))
        .max_by_key(|&i| node(sim, i).term())
}

fn random_runs(ctx: &mut Ctx) -> CheckResult {
    let profiles = [
        Faults::crashes(),
        Faults::everything(),
        Faults {
            name: "crashes and partitions",
            partitions: true,
            ..Faults::crashes()
        },
    ];
    for (p, faults) in profiles.iter().enumerate() {
        for k in 0..5u64 {
            let seed = ctx.seed().wrapping_add(p as u64 * 1000 + k);
            ctx.doing(format!(
                "running 3 nodes under {} faults, simulated run {seed}",
                faults.name
            ));
            random_run(faults.clone(), seed)?;
        }
    }
    Ok(())
}

fn random_run(faults: Faults, seed: u64) -> CheckResult {
    const TICK: Duration = Duration::from_millis(50);
    let name = faults.name.replace(' ', "-");
    let mut sim = crate::support::cluster!(3, faults.clone(), seed);
    let mut observer = Observer::new(sim.len());
    let mut proposed = 0;
    let broke = |sim: &Sim<Node>, error: String| {
        fail(format!(
            "3 nodes under {} faults (simulated run {seed}), at t={:?}: {error}{}",
            faults.name,
            sim.now(),
            picture(sim, &name, seed)
        ))
    };
    // Faulty weather, with a client proposing to whoever leads.
    while sim.now() < Duration::from_secs(3) {
        if let Some(id) = leader(&sim) {
            proposed += 1;
            let command = format!("c{proposed}");
            sim.note(id, format!("propose {command}"));
            sim.call(id, |node, ctx| node.propose(command, ctx));
        }
        let until = sim.now() + TICK;
        if let Err(error) = sim.run_until(until, |sim| observer.observe(sim)) {
            return broke(&sim, error);
        }
    }
    // Clear skies: a command proposed now must reach every node's state machine.
    sim.set_faults(faults.healed());
    for id in 0..sim.len() {
        sim.restart(id);
    }
    let healed_at = sim.now();
    let mut finals = Vec::new();
    while sim.now() < healed_at + Duration::from_secs(4) {
        if finals
            .iter()
            .any(|f| (0..sim.len()).all(|i| sim.node(i).is_some_and(|n| n.applied().contains(f))))
        {
            return Ok(());
        }
        if let Some(id) = leader(&sim) {
            let command = format!("final{}", finals.len() + 1);
            finals.push(command.clone());
            sim.note(id, format!("propose {command}"));
            sim.call(id, |node, ctx| node.propose(command, ctx));
        }
        let until = sim.now() + Duration::from_millis(100);
        if let Err(error) = sim.run_until(until, |sim| observer.observe(sim)) {
            return broke(&sim, error);
        }
    }
    let state: Vec<String> = (0..sim.len())
        .map(|i| {
            let Some(n) = sim.node(i) else {
                return format!("  node {i}: down");
            };
            format!(
                "  node {i}: term {}, {:?}, {} entries, commit index {}, applied {}",
                n.term(),
                n.role(),
                n.last_log_index(),
                n.commit_index(),
                n.applied().len()
            )
        })
        .collect();
    broke(
        &sim,
        format!(
            "the network healed at t={healed_at:?}, and 4 s later no command proposed since \
             ({finals:?}) was applied by every node:\n{}",
            state.join("\n")
        ),
    )
}
