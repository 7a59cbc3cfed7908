//! Hidden checks for raft/commit.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use judge::prelude::*;
use kit::consensus::{NodeView, SafetyChecker};
use kit::net::{Faults, NodeId, Process, Sim};
use raft_commit::{AppendEntries, Entry, Message, Node, Role, Timer};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a cluster of one node elects itself and commits and applies each proposal at once, \
             alone",
            cluster_of_one,
        )
        .check(
            "a leader elected again counts only what followers acknowledged in its new term: \
             match indexes from its earlier term count for nothing",
            leads_again_with_fresh_match_indexes,
        )
        .check(
            "a follower commits up to the leader's commit index, but never past the entries the \
             leader just sent it, applies in order and exactly once, and never goes back (not \
             even on a late copy of an earlier AppendEntries)",
            follower_learns_commit,
        )
        .check(
            "a follower does not commit a leftover entry of an older term that the leader has \
             not yet confirmed",
            follower_skips_leftovers,
        )
        .check(
            "a leader commits an entry once a majority stores it (itself included), and not before",
            leader_counts_a_majority,
        )
        .check(
            "in a cluster of an even size, half is not a majority: a leader of 4 nodes commits \
             once 3 store an entry, and a leader of 2 once both do",
            even_clusters_need_more_than_half,
        )
        .check(
            "a leader never commits an older term's entry by counting replicas; it commits with \
             the first entry of its own term (Figure 8)",
            figure_eight,
        )
        .check(
            "under loss, reordering and partitions the cluster stays safe, and once the network \
             heals a new command is committed and applied everywhere",
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
    let path: PathBuf = std::env::temp_dir().join(format!("raft-05-commit-{name}-run-{seed}.svg"));
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
    sim.node(id)
        .expect("the checks never crash a node in this scene")
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

type Hand = crate::support::Script<Node>;

fn vote(term: u64, granted: bool) -> Message {
    Message::Vote { term, granted }
}

/// Fires node `id`'s latest pending election timer, which must exist.
fn time_out(script: &mut Hand, id: NodeId) -> CheckResult {
    match script.fire_latest(id, |t| matches!(t, Timer::Election(_))) {
        Some(_) => Ok(()),
        None => Err(script.failure(format!(
            "expected: node {id} has an election timer pending\ngot:      none"
        ))),
    }
}

fn hand_propose(script: &mut Hand, id: NodeId, command: &str) -> Result<u64, Failure> {
    let owned = command.to_string();
    let (result, _) = script.act(
        format!("propose({command:?}) at node {id}"),
        id,
        |node, ctx| node.propose(owned, ctx),
    );
    result.map_err(|e| {
        script.failure(format!(
            "expected: node {id}, the leader, accepts the proposal\ngot:      Err({e:?})"
        ))
    })
}

fn cluster_of_one(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(1);
    time_out(&mut script, 0)?;
    script.expect_eq("node 0's role", script.node(0).role(), Role::Leader)?;
    for (k, command) in ["a", "b", "c"].into_iter().enumerate() {
        let index = hand_propose(&mut script, 0, command)?;
        script.expect_eq("the index propose returned", index, k as u64 + 1)?;
        script.expect_eq(
            "node 0's commit index (it is the whole cluster: its own copy is a majority)",
            script.node(0).commit_index(),
            k as u64 + 1,
        )?;
    }
    let applied: Vec<String> = script.node(0).applied().to_vec();
    script.expect_eq(
        "node 0's applied()",
        applied,
        vec!["a".into(), "b".into(), "c".into()],
    )
}

fn leads_again_with_fresh_match_indexes(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(5);
    let reply = |term, index| Message::AppendReply {
        term,
        success: true,
        index,
        last_log_index: index,
    };
    time_out(&mut script, 0)?;
    script.deliver(3, 0, vote(1, true));
    script.deliver(4, 0, vote(1, true));
    script.expect_eq("node 0's role", script.node(0).role(), Role::Leader)?;
    for command in ["a", "b", "c"] {
        hand_propose(&mut script, 0, command)?;
    }
    // Node 1 stores all three; nobody else does: nothing is committed.
    script.deliver(1, 0, reply(1, 3));
    script.expect_eq("node 0's commit index", script.node(0).commit_index(), 0)?;
    // Node 2 leads term 2 and replaces b and c with x.
    script.deliver(
        2,
        0,
        Message::AppendEntries(AppendEntries {
            term: 2,
            prev_log_index: 1,
            prev_log_term: 1,
            entries: vec![entry(2, "x")],
            leader_commit: 0,
        }),
    );
    // Node 0 leads again, in term 3, and proposes d at index 3.
    time_out(&mut script, 0)?;
    let term = script.node(0).term();
    script.deliver(3, 0, vote(term, true));
    script.deliver(4, 0, vote(term, true));
    script.expect_eq("node 0's role", script.node(0).role(), Role::Leader)?;
    let index = hand_propose(&mut script, 0, "d")?;
    script.expect_eq("the index propose returned", index, 3)?;
    // Node 3 stores d: node 0 and node 3 are two of five. Node 1's acknowledgement of index 3
    // was for c, in term 1: it says nothing about d.
    script.deliver(3, 0, reply(term, 3));
    script.expect(
        script.node(0).commit_index() == 0,
        format!(
            "expected: node 0's commit index stays 0: only nodes 0 and 3 hold d in term {term} \
             (node 1 acknowledged index 3 in term 1, when it held c)\ngot:      commit index {}",
            script.node(0).commit_index()
        ),
    )?;
    script.deliver(4, 0, reply(term, 3));
    script.expect_eq(
        "node 0's commit index, once node 4 stores d too",
        script.node(0).commit_index(),
        3,
    )
}

fn follower_learns_commit(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let name = "follower";
    let mut sim = crate::support::cluster!(3, Faults::reliable(), seed);
    let mut did = Vec::new();
    let e = |command| entry(1, command);
    let abcdef = ["a", "b", "c", "d", "e", "f"];
    // (What the network did, if not the obvious; the message; the commit index expected, with
    // everything up to it applied.)
    let steps = [
        (None, append(1, (0, 0), vec![e("a"), e("b"), e("c")], 0), 0),
        (None, append(1, (3, 1), vec![], 2), 2),
        // The same news again: nothing is applied twice.
        (None, append(1, (3, 1), vec![], 2), 2),
        (
            Some("a late heartbeat from before arrives"),
            append(1, (0, 0), vec![], 1),
            2,
        ),
        // Commit only as far as this message proves our log matches the leader's (index 4).
        (None, append(1, (3, 1), vec![e("d")], 9), 4),
        (None, append(1, (4, 1), vec![], 4), 4),
        (None, append(1, (4, 1), vec![e("e"), e("f")], 9), 6),
        // It proves the logs match only up to index 4, but the follower already knows that 6
        // is committed.
        (
            Some("a late copy of the message that brought d arrives"),
            append(1, (3, 1), vec![e("d")], 9),
            6,
        ),
    ];
    for (note, message, commit) in steps {
        if let Some(note) = note {
            did.push(note.to_string());
        }
        deliver(&mut sim, 1, 0, message, &mut did);
        expect_state(
            &sim,
            1,
            &did,
            commit,
            &abcdef[..commit as usize],
            name,
            seed,
        )?;
    }
    Ok(())
}

fn follower_skips_leftovers(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let name = "leftovers";
    let mut sim = crate::support::cluster!(5, Faults::reliable(), seed);
    let mut did = Vec::new();
    // Node 0 leads term 1; node 2 leads term 2 and gets x only to node 1 before it fails.
    deliver(
        &mut sim,
        1,
        0,
        append(1, (0, 0), vec![entry(1, "a"), entry(1, "b")], 0),
        &mut did,
    );
    deliver(
        &mut sim,
        1,
        2,
        append(2, (2, 1), vec![entry(2, "x")], 0),
        &mut did,
    );
    expect_state(&sim, 1, &did, 0, &[], name, seed)?;
    // Node 3 leads term 3: its entry 3 is y (term 3), committed on a majority. Its heartbeat
    // proves the logs match up to index 2 only: entry 3 of node 1 (x) is not the leader's.
    deliver(&mut sim, 1, 3, append(3, (2, 1), vec![], 3), &mut did);
    expect_state(&sim, 1, &did, 2, &["a", "b"], name, seed)?;
    deliver(
        &mut sim,
        1,
        3,
        append(3, (2, 1), vec![entry(3, "y")], 3),
        &mut did,
    );
    expect_state(&sim, 1, &did, 3, &["a", "b", "y"], name, seed)
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

fn reply(term: u64, index: u64) -> Message {
    Message::AppendReply {
        term,
        success: true,
        index,
        last_log_index: index,
    }
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

fn leader_counts_a_majority(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let name = "majority";
    let mut sim = crate::support::cluster!(5, Faults::reliable(), seed);
    let mut did = Vec::new();
    let term = make_leader(&mut sim, &[1, 2], &mut did).map_err(Failure::new)?;
    for command in ["x1", "x2", "x3"] {
        propose(&mut sim, command, &mut did).map_err(Failure::new)?;
    }
    expect_state(&sim, 0, &did, 0, &[], name, seed)?;
    // Two of five (the leader and node 1) store x3: not a majority.
    deliver(&mut sim, 0, 1, reply(term, 3), &mut did);
    expect_state(&sim, 0, &did, 0, &[], name, seed)?;
    // Node 2 stores up to x2: x1 and x2 are on three of five; x3 still on two.
    deliver(&mut sim, 0, 2, reply(term, 2), &mut did);
    expect_state(&sim, 0, &did, 2, &["x1", "x2"], name, seed)?;
    deliver(&mut sim, 0, 3, reply(term, 3), &mut did);
    expect_state(&sim, 0, &did, 3, &["x1", "x2", "x3"], name, seed)
}

/// A cluster of `n` nodes (an even number) where node 0 leads term 1 with the votes of just
/// enough others, proposes one entry, and then hears followers store it one by one: it must
/// commit at the `n / 2 + 1`-th copy (its own included), not a copy sooner.
fn even_cluster(n: usize) -> CheckResult {
    let mut script = Hand::new(n);
    time_out(&mut script, 0)?;
    for voter in 1..n / 2 + 1 {
        script.deliver(voter, 0, vote(1, true));
    }
    script.expect_eq("node 0's role", script.node(0).role(), Role::Leader)?;
    let index = hand_propose(&mut script, 0, "x")?;
    script.expect_eq("the index propose returned", index, 1)?;
    for (follower, stores) in (1..n).zip(2..) {
        let commit = script.node(0).commit_index();
        let majority = stores > n / 2;
        let before = stores - 1;
        if commit != 0 {
            return Err(script.failure(format!(
                "expected: node 0's commit index stays 0: {before} of {n} nodes store x, and a \
                 majority of {n} is {}\ngot:      commit index {commit}",
                n / 2 + 1
            )));
        }
        script.deliver(follower, 0, reply(1, 1));
        if majority {
            return script.expect_eq(
                format!("node 0's commit index, once {stores} of {n} nodes store x"),
                script.node(0).commit_index(),
                1,
            );
        }
    }
    Ok(())
}

fn even_clusters_need_more_than_half(_: &mut Ctx) -> CheckResult {
    even_cluster(4)?;
    even_cluster(2)
}

fn figure_eight(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let name = "figure-8";
    let mut sim = crate::support::cluster!(3, Faults::reliable(), seed);
    let mut did = Vec::new();
    // Node 0 got "old" from the leader of term 2, which failed before committing it.
    deliver(
        &mut sim,
        0,
        1,
        append(2, (0, 0), vec![entry(2, "old")], 0),
        &mut did,
    );
    let term = make_leader(&mut sim, &[1], &mut did).map_err(Failure::new)?;
    // Node 1 now stores "old" too: two of three, but of term 2, not the leader's term.
    deliver(&mut sim, 0, 1, reply(term, 1), &mut did);
    expect_state(&sim, 0, &did, 0, &[], name, seed)?;
    propose(&mut sim, "new", &mut did).map_err(Failure::new)?;
    expect_state(&sim, 0, &did, 0, &[], name, seed)?;
    // "new" (of the leader's term) reaches a majority: it commits, and "old" with it.
    deliver(&mut sim, 0, 1, reply(term, 2), &mut did);
    expect_state(&sim, 0, &did, 2, &["old", "new"], name, seed)
}

/// The node that leads the highest term, if any.
fn leader(sim: &Sim<Node>) -> Option<NodeId> {
    (0..sim.len())
        .filter(|&i| sim.node(i).is_some_and(|n| n.role() == Role::Leader))
        .max_by_key(|&i| node(sim, i).term())
}

fn random_runs(ctx: &mut Ctx) -> CheckResult {
    let profiles = [
        Faults::lossy(),
        Faults::partitions(),
        Faults {
            name: "lossy with partitions",
            crashes: false,
            ..Faults::everything()
        },
    ];
    for (p, faults) in profiles.iter().enumerate() {
        for k in 0..3u64 {
            let seed = ctx.seed().wrapping_add(p as u64 * 1000 + k);
            ctx.doing(format!(
                "running 5 nodes under {} faults, simulated run {seed}",
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
    let mut sim = crate::support::cluster!(5, faults.clone(), seed);
    let mut observer = Observer::new(sim.len());
    let mut proposed = 0;
    let broke = |sim: &Sim<Node>, error: String| {
        fail(format!(
            "5 nodes under {} faults (simulated run {seed}), at t={:?}: {error}{}",
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
            let n = node(&sim, i);
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
