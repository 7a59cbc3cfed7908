//! Hidden checks for raft/unreliable.

use std::collections::BTreeMap;
use std::time::Duration;

use judge::prelude::*;
use kit::consensus::{NodeView, SafetyChecker};
use kit::net::{Faults, NodeId, Process, Sim, TraceEvent};
use raft_unreliable::{AppendEntries, Entry, Message, Node, Role};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a follower that gets a late copy of an older, shorter AppendEntries keeps the \
             entries it already acknowledged: it truncates only on a conflict",
            late_shorter_append_keeps_entries,
        )
        .check(
            "a leader ignores a reply of an earlier term: a late success from a term it led \
             before cannot commit an entry of its new term",
            reply_of_an_earlier_term_counts_for_nothing,
        )
        .check(
            "a late success for fewer entries does not make the leader forget what the \
             follower holds: match_index never goes back, and the commit is not held up",
            match_index_never_goes_back,
        )
        .check(
            "after a late success for fewer entries, the leader still sends that follower only \
             what comes after what it confirmed",
            next_index_never_goes_back_on_success,
        )
        .check(
            "a failure sends the leader back at once to where the follower's log ends, but one \
             that answers an older probe (or arrives twice) does not send it back over entries \
             the follower has since confirmed",
            stale_failure_is_ignored,
        )
        .check(
            "under loss, duplication, reordering, partitions and crashes the cluster stays safe \
             after every event, and once the weather clears a new command reaches every node",
            random_runs,
        )
}

const MS: Duration = Duration::from_millis(1);

/// Messages always arrive after exactly 5 ms, in the order they were sent.
fn in_order() -> Faults {
    Faults {
        name: "in order",
        delay: (5 * MS, 5 * MS),
        ..Faults::reliable()
    }
}

/// Every message is lost: the nodes hear only what the check hands them.
fn mute() -> Faults {
    Faults {
        name: "every message lost",
        loss_percent: 100,
        ..Faults::reliable()
    }
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

/// The kit's safety checker, shown each node after every event, with one correction: it holds
/// every node that thinks it leads to every committed entry, but Raft lets a deposed leader of an
/// older term, cut off from the news, keep thinking so (it can commit nothing). So only a leader
/// of the highest term yet seen is shown to it as a leader; one leader per term is checked here
/// for every leader.
struct Checker {
    safety: SafetyChecker,
    highest_term: u64,
    leaders: BTreeMap<u64, NodeId>,
}

impl Checker {
    fn new() -> Checker {
        Checker {
            safety: SafetyChecker::new(),
            highest_term: 0,
            leaders: BTreeMap::new(),
        }
    }
}

fn observe(sim: &Sim<Node>, checker: &mut Checker) -> Result<(), String> {
    for id in 0..sim.len() {
        let Some(node) = sim.node(id) else { continue };
        checker.highest_term = checker.highest_term.max(node.term());
        if node.role() == Role::Leader
            && let Some(other) = checker.leaders.insert(node.term(), id)
            && other != id
        {
            return Err(format!(
                "election safety: nodes {other} and {id} were both leader in term {}",
                node.term()
            ));
        }
    }
    let highest = checker.highest_term;
    let views: Vec<Option<NodeView>> = (0..sim.len())
        .map(|i| {
            sim.node(i).map(|node| NodeView {
                leader: node.role() == Role::Leader && node.term() == highest,
                ..view(node)
            })
        })
        .collect();
    for (id, node) in views.iter().enumerate() {
        if let Some(node) = node
            && (node.applied.len() as u64 > node.commit_index
                || node.commit_index > node.log_terms.len() as u64)
        {
            return Err(format!(
                "node {id} (term {}) has applied {} entries, commit index {}, and {} entries in \
                 its log: expected applied <= commit index <= log length",
                node.term,
                node.applied.len(),
                node.commit_index,
                node.log_terms.len()
            ));
        }
    }
    checker.safety.observe(&views)
}

/// Writes the run's space-time diagram; the line to append to a failure message.
fn picture(sim: &Sim<Node>, seed: u64) -> String {
    let path = std::env::temp_dir().join(format!("raft-07-unreliable-run-{seed}.svg"));
    match kit::diagram::write(sim.trace(), &path) {
        Ok(()) => format!(
            "\npicture of the run: {} (to step through it event by event, open {})",
            path.display(),
            path.with_extension("html").display()
        ),
        Err(error) => format!("\n(the picture of the run could not be written: {error})"),
    }
}

fn node(sim: &Sim<Node>, id: NodeId) -> &Node {
    sim.node(id)
        .expect("the targeted checks never crash a node")
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

fn success(term: u64, index: u64) -> Message {
    Message::AppendReply {
        term,
        success: true,
        index,
        last_log_index: index,
    }
}

/// Hands `message` to node `to` as if it came from `from`, and notes it in the trace.
fn deliver(sim: &mut Sim<Node>, to: NodeId, from: NodeId, message: Message, did: &mut Vec<String>) {
    did.push(format!("node {to} receives from {from}: {message:?}"));
    sim.note(to, format!("from {from}: {message:?}"));
    sim.call(to, |node, ctx| node.on_message(from, message, ctx));
}

fn propose(
    sim: &mut Sim<Node>,
    id: NodeId,
    command: &str,
    did: &mut Vec<String>,
) -> Result<u64, Failure> {
    did.push(format!("node {id} is asked to propose {command:?}"));
    sim.note(id, format!("propose {command}"));
    let command = command.to_string();
    match sim.call(id, |node, ctx| node.propose(command, ctx)) {
        Some(Ok(index)) => Ok(index),
        other => Err(Failure::new(format!(
            "did:\n  {}\nexpected: the leader accepts the proposal\ngot:      {other:?}",
            did.join("\n  ")
        ))),
    }
}

/// On a mute network, waits for node 0 to stand for election (in a term above `above`), then
/// hands it the votes of `voters`. Returns the term it leads.
fn make_leader(
    sim: &mut Sim<Node>,
    voters: &[NodeId],
    above: u64,
    did: &mut Vec<String>,
) -> Result<u64, Failure> {
    let limit = sim.now() + Duration::from_secs(3);
    let stood = sim.run_until(limit, |sim| match sim.node(0) {
        Some(n) if n.role() == Role::Candidate && n.term() > above => Err(()),
        _ => Ok(()),
    });
    if stood.is_ok() {
        return Err(Failure::new(format!(
            "did:\n  {}\nexpected: node 0, hearing nothing, stands for election within 3 s\n\
             got:      it is {:?} in term {}",
            did.join("\n  "),
            node(sim, 0).role(),
            node(sim, 0).term()
        )));
    }
    let term = node(sim, 0).term();
    did.push(format!(
        "node 0 hears nothing, times out and stands for election in term {term}"
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
        return Err(Failure::new(format!(
            "did:\n  {}\nexpected: node 0 leads term {term}\ngot:      it is {:?}",
            did.join("\n  "),
            node(sim, 0).role()
        )));
    }
    Ok(term)
}

/// The `prev_log_index` of each AppendEntries `from` sent `to` since trace position `start`.
fn appends_sent(sim: &Sim<Node>, start: usize, from: NodeId, to: NodeId) -> Vec<u64> {
    sim.trace().events[start..]
        .iter()
        .filter_map(|event| match event {
            TraceEvent::Sent {
                from: f,
                to: t,
                what,
                ..
            } if *f == from && *t == to && what.starts_with("AppendEntries") => {
                let rest = &what[what.find("prev_log_index: ")? + "prev_log_index: ".len()..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            }
            _ => None,
        })
        .collect()
}

/// The node that leads the highest term, if any.
fn leader(sim: &Sim<Node>) -> Option<NodeId> {
    (0..sim.len())
        .filter(|&i| sim.node(i).is_some_and(|n| n.role() == Role::Leader))
        .max_by_key(|&i| sim.node(i).map_or(0, Node::term))
}

fn late_shorter_append_keeps_entries(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let mut sim = crate::support::cluster!(3, in_order(), seed);
    let mut checker = Checker::new();
    let mut did = Vec::new();
    ctx.doing("electing a leader among 3 nodes on a network that delivers in order");
    let elected = sim.run_until(Duration::from_secs(3), |sim| {
        observe(sim, &mut checker)?;
        match leader(sim) {
            Some(_) => Err(String::new()),
            None => Ok(()),
        }
    });
    match elected {
        Ok(()) => {
            return fail(format!(
                "3 nodes on a network that loses nothing elected no leader in 3 s{}",
                picture(&sim, seed)
            ));
        }
        Err(error) if !error.is_empty() => {
            return fail(format!(
                "while electing a leader: {error}{}",
                picture(&sim, seed)
            ));
        }
        Err(_) => {}
    }
    let l = leader(&sim).expect("a leader was just seen");
    let term = node(&sim, l).term();
    let f = (l + 1) % 3;
    let cut = (l + 2) % 3;
    did.push(format!("node {l} is elected leader of term {term}"));
    sim.partition(&[cut], None);
    did.push(format!("node {cut} is cut off from the others"));
    for command in ["a", "b", "c", "d"] {
        propose(&mut sim, l, command, &mut did)?;
    }
    ctx.doing("waiting for the leader to commit 4 entries with one follower");
    let limit = sim.now() + Duration::from_secs(1);
    let done = sim.run_until(limit, |sim| {
        observe(sim, &mut checker)?;
        if sim
            .node(l)
            .is_some_and(|n| n.commit_index() >= 4 && n.role() == Role::Leader)
        {
            Err(String::new())
        } else {
            Ok(())
        }
    });
    match done {
        Ok(()) => {
            let n = node(&sim, l);
            return fail(format!(
                "did:\n  {}\n  run 1 s on a network that loses nothing\nexpected: the leader \
                 commits the 4 entries, which node {f} stores\ngot:      the leader is {:?} in \
                 term {}, with commit index {} (node {f} holds {} entries){}",
                did.join("\n  "),
                n.role(),
                n.term(),
                n.commit_index(),
                node(&sim, f).last_log_index(),
                picture(&sim, seed)
            ));
        }
        Err(error) if !error.is_empty() => {
            return fail(format!(
                "did:\n  {}\nthen: {error}{}",
                did.join("\n  "),
                picture(&sim, seed)
            ));
        }
        Err(_) => {}
    }
    did.push(format!(
        "node {f} acknowledged entries 1-4, and the leader committed them"
    ));
    let before = node(&sim, f).log().to_vec();
    if before.len() < 4 {
        return fail(format!(
            "did:\n  {}\nexpected: node {f} holds entries 1-4\ngot:      {before:?}{}",
            did.join("\n  "),
            picture(&sim, seed)
        ));
    }
    // A copy of the leader's second AppendEntries, delayed: it carried entries 1 and 2.
    let first_two = before[..2].to_vec();
    deliver(&mut sim, f, l, append(term, (0, 0), first_two, 0), &mut did);
    let after = node(&sim, f).log();
    if after != before.as_slice() {
        return fail(format!(
            "did:\n  {}\nexpected: node {f} keeps its log {before:?}: the late entries match what \
             it holds, nothing conflicts\ngot:      {after:?}: entries the leader counted as \
             committed are gone{}",
            did.join("\n  "),
            picture(&sim, seed)
        ));
    }
    Ok(())
}

fn reply_of_an_earlier_term_counts_for_nothing(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let mut sim = crate::support::cluster!(3, mute(), seed);
    let mut did = Vec::new();
    let first = make_leader(&mut sim, &[1], 0, &mut did)?;
    propose(&mut sim, 0, "x1", &mut did)?;
    propose(&mut sim, 0, "x2", &mut did)?;
    did.push(format!(
        "node 1 stores x1 and x2 and answers success; its answer (term {first}) is delayed"
    ));
    // Node 2 leads the next term, with an entry of its own at index 1.
    deliver(
        &mut sim,
        0,
        2,
        append(first + 1, (0, 0), vec![entry(first + 1, "z")], 0),
        &mut did,
    );
    let log: Vec<u64> = node(&sim, 0).log().iter().map(|e| e.term).collect();
    if log != [first + 1] {
        return fail(format!(
            "did:\n  {}\nexpected: node 0's log holds just z (term {})\ngot:      terms {log:?}",
            did.join("\n  "),
            first + 1
        ));
    }
    let term = make_leader(&mut sim, &[1], first + 1, &mut did)?;
    let y = propose(&mut sim, 0, "y", &mut did)?;
    // The late answer from the first term: node 1 held x1 and x2 then, not z and y.
    deliver(&mut sim, 0, 1, success(first, 2), &mut did);
    let n = node(&sim, 0);
    if n.commit_index() != 0 {
        return fail(format!(
            "did:\n  {}\nexpected: node 0, leader of term {term}, commits nothing: no other node \
             holds y (entry {y})\ngot:      commit index {}, applied {:?}: it counted a reply of \
             term {first} as if node 1 held its log of term {term}{}",
            did.join("\n  "),
            n.commit_index(),
            n.applied(),
            picture(&sim, seed)
        ));
    }
    Ok(())
}

fn match_index_never_goes_back(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let mut sim = crate::support::cluster!(5, mute(), seed);
    let mut did = Vec::new();
    let term = make_leader(&mut sim, &[1, 2], 0, &mut did)?;
    for command in ["a", "b", "c", "d"] {
        propose(&mut sim, 0, command, &mut did)?;
    }
    deliver(&mut sim, 0, 1, success(term, 4), &mut did);
    // Node 1's answer to an earlier AppendEntries, which carried only entries 1 and 2.
    deliver(&mut sim, 0, 1, success(term, 2), &mut did);
    deliver(&mut sim, 0, 2, success(term, 4), &mut did);
    let n = node(&sim, 0);
    if n.commit_index() != 4 {
        return fail(format!(
            "did:\n  {}\nexpected: commit index 4 (nodes 0, 1 and 2 hold entries 1-4: a majority \
             of 5)\ngot:      commit index {}: node 1's late answer made the leader forget it \
             holds entries 3 and 4{}",
            did.join("\n  "),
            n.commit_index(),
            picture(&sim, seed)
        ));
    }
    Ok(())
}

fn next_index_never_goes_back_on_success(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let mut sim = crate::support::cluster!(3, mute(), seed);
    let mut did = Vec::new();
    let term = make_leader(&mut sim, &[1], 0, &mut did)?;
    for command in ["a", "b", "c", "d"] {
        propose(&mut sim, 0, command, &mut did)?;
    }
    deliver(&mut sim, 0, 1, success(term, 4), &mut did);
    // Node 1's answer to an earlier AppendEntries, which carried only entries 1 and 2.
    deliver(&mut sim, 0, 1, success(term, 2), &mut did);
    let start = sim.trace().events.len();
    propose(&mut sim, 0, "e", &mut did)?;
    let sent = appends_sent(&sim, start, 0, 1);
    if sent != [4] {
        return fail(format!(
            "did:\n  {}\nexpected: one AppendEntries to node 1 with prev_log_index 4 (it confirmed \
             entries 1-4; it lacks only e)\ngot:      {}{}",
            did.join("\n  "),
            show_appends(&sent),
            picture(&sim, seed)
        ));
    }
    Ok(())
}

/// The AppendEntries of `sent` (their `prev_log_index`es), as a failure message tells them.
fn show_appends(sent: &[u64]) -> String {
    match sent {
        [] => "no AppendEntries".to_string(),
        _ => format!(
            "AppendEntries from prev_log_index {}",
            sent.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", then ")
        ),
    }
}

fn stale_failure_is_ignored(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let mut sim = crate::support::cluster!(3, mute(), seed);
    let mut did = Vec::new();
    // Node 2 led term 1 and got entries a-d to node 0 only.
    let old: Vec<Entry> = ["a", "b", "c", "d"].iter().map(|c| entry(1, c)).collect();
    deliver(&mut sim, 0, 2, append(1, (0, 0), old, 0), &mut did);
    let term = make_leader(&mut sim, &[1], 1, &mut did)?;
    did.push(
        "as leader, node 0 probes each follower with an AppendEntries from prev_log_index 4"
            .to_string(),
    );
    // Node 1 holds only a and b: the probe at index 4 fails.
    let probe_failed = Message::AppendReply {
        term,
        success: false,
        index: 4,
        last_log_index: 2,
    };
    did.push("node 1, which holds only a and b, fails the probe".to_string());
    let start = sim.trace().events.len();
    deliver(&mut sim, 0, 1, probe_failed.clone(), &mut did);
    let sent = appends_sent(&sim, start, 0, 1);
    if sent != [2] {
        return fail(format!(
            "did:\n  {}\nexpected: the leader at once sends node 1 an AppendEntries from \
             prev_log_index 2, where node 1 said its log ends\ngot:      {}{}",
            did.join("\n  "),
            show_appends(&sent),
            picture(&sim, seed)
        ));
    }
    // Node 2 holds nothing at all: the leader starts it from the beginning.
    did.push("node 2, which holds nothing, fails the probe".to_string());
    let start = sim.trace().events.len();
    let empty_failed = Message::AppendReply {
        term,
        success: false,
        index: 4,
        last_log_index: 0,
    };
    deliver(&mut sim, 0, 2, empty_failed, &mut did);
    let sent = appends_sent(&sim, start, 0, 2);
    if sent != [0] {
        return fail(format!(
            "did:\n  {}\nexpected: the leader at once sends node 2 an AppendEntries from \
             prev_log_index 0: its log is empty\ngot:      {}{}",
            did.join("\n  "),
            show_appends(&sent),
            picture(&sim, seed)
        ));
    }
    // A failure, then a success for the same index: the network delivers the failure a second
    // time. It answers the probe at index 4, the one just before next_index, yet it is old news:
    // node 1 has confirmed entries 1-4 since.
    did.push("node 1 takes c and d, and answers success".into());
    deliver(&mut sim, 0, 1, success(term, 4), &mut did);
    did.push("the network delivers node 1's failure a second time, late".into());
    let start = sim.trace().events.len();
    deliver(&mut sim, 0, 1, probe_failed.clone(), &mut did);
    let e = propose(&mut sim, 0, "e", &mut did)?;
    let sent = appends_sent(&sim, start, 0, 1);
    if sent.is_empty() || sent.iter().any(|&prev| prev < 4) {
        return fail(format!(
            "did:\n  {}\nexpected: AppendEntries to node 1 from prev_log_index 4 on (it \
             confirmed entries 1-4 after it failed the probe; never go back below match_index \
             + 1)\ngot:      {}{}",
            did.join("\n  "),
            show_appends(&sent),
            picture(&sim, seed)
        ));
    }
    did.push("node 1 takes e, and answers success".into());
    deliver(&mut sim, 0, 1, success(term, e), &mut did);
    // Now the failure answers a probe the leader has long acted on.
    did.push("the network delivers node 1's failure a third time, later still".into());
    let start = sim.trace().events.len();
    deliver(&mut sim, 0, 1, probe_failed, &mut did);
    propose(&mut sim, 0, "f", &mut did)?;
    let sent = appends_sent(&sim, start, 0, 1);
    if sent.is_empty() || sent.iter().any(|&prev| prev < e) {
        return fail(format!(
            "did:\n  {}\nexpected: AppendEntries to node 1 from prev_log_index {e} on (it \
             confirmed entries 1-{e}; the copy of the failure is old news)\ngot:      {}{}",
            did.join("\n  "),
            show_appends(&sent),
            picture(&sim, seed)
        ));
    }
    Ok(())
}

fn random_runs(ctx: &mut Ctx) -> CheckResult {
    let runs = [
        (3, Faults::lossy()),
        (5, Faults::lossy()),
        (5, Faults::everything()),
        (5, Faults::everything()),
    ];
    for (k, (n, faults)) in runs.into_iter().enumerate() {
        let seed = ctx.seed().wrapping_add(k as u64 * 7919);
        ctx.doing(format!(
            "running {n} nodes under {} faults, simulated run {seed}",
            faults.name
        ));
        random_run(n, faults, seed)?;
    }
    Ok(())
}

fn random_run(n: usize, faults: Faults, seed: u64) -> CheckResult {
    const TICK: Duration = Duration::from_millis(50);
    let mut sim = crate::support::cluster!(n, faults.clone(), seed);
    let mut checker = Checker::new();
    let mut proposed = 0;
    let broke = |sim: &Sim<Node>, error: String| {
        fail(format!(
            "{n} nodes under {} faults (simulated run {seed}), at t={:?}: {error}{}",
            faults.name,
            sim.now(),
            picture(sim, seed)
        ))
    };
    // Bad weather, with a client proposing to whoever leads.
    while sim.now() < Duration::from_secs(3) {
        if let Some(id) = leader(&sim) {
            proposed += 1;
            let command = format!("c{proposed}");
            sim.note(id, format!("propose {command}"));
            sim.call(id, |node, ctx| node.propose(command, ctx));
        }
        let until = sim.now() + TICK;
        if let Err(error) = sim.run_until(until, |sim| observe(sim, &mut checker)) {
            return broke(&sim, error);
        }
    }
    // Clear skies: crashed nodes come back, and a command proposed now must reach every node.
    sim.set_faults(faults.healed());
    for id in 0..n {
        sim.restart(id);
    }
    let healed_at = sim.now();
    let mut finals: Vec<String> = Vec::new();
    while sim.now() < healed_at + Duration::from_secs(4) {
        if finals
            .iter()
            .any(|f| (0..n).all(|i| sim.node(i).is_some_and(|node| node.applied().contains(f))))
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
        if let Err(error) = sim.run_until(until, |sim| observe(sim, &mut checker)) {
            return broke(&sim, error);
        }
    }
    let state: Vec<String> = (0..n)
        .map(|i| match sim.node(i) {
            Some(node) => format!(
                "  node {i}: term {}, {:?}, {} entries, commit index {}, applied {}",
                node.term(),
                node.role(),
                node.last_log_index(),
                node.commit_index(),
                node.applied().len()
            ),
            None => format!("  node {i}: down"),
        })
        .collect();
    broke(
        &sim,
        format!(
            "the faults stopped at t={healed_at:?}, and 4 s later none of the {} commands \
             proposed since (\"final1\" to \"final{}\", to whoever led) was applied by every \
             node:\n{}",
            finals.len(),
            finals.len(),
            state.join("\n")
        ),
    )
}
