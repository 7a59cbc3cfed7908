//! Hidden checks for raft/replication.

use std::collections::BTreeMap;
use std::time::Duration;

use judge::prelude::*;
use kit::consensus::{NodeView, SafetyChecker};
use kit::net::{Faults, NodeId, Process, Sim, TraceEvent};
use raft_replication::{
    AppendEntries, Entry, MAX_ENTRIES_PER_MESSAGE, Message, Node, NotLeader, Role, Timer,
};

use crate::support::of_kind;

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "propose() on the leader appends the command in its term and returns its index; on \
             a follower it returns NotLeader naming the leader; the followers' logs then copy \
             the leader's",
            propose_appends_and_replicates,
        )
        .check(
            "a follower refuses AppendEntries of an older term, and AppendEntries whose \
             previous entry it lacks or holds with another term, answering the prev_log_index \
             that failed and where its log ends",
            consistency_check,
        )
        .check(
            "a follower that accepts AppendEntries answers success with index = prev_log_index + \
             the number of entries, not the end of its log, which may go on past what the \
             request checked",
            success_names_what_was_checked,
        )
        .check(
            "a follower deletes a conflicting entry and everything after it before appending: \
             [1, 1, 2, 2] receiving entry 3 of term 3 after (2, term 1) becomes [1, 1, 3]",
            conflicts_are_truncated,
        )
        .check(
            "a new leader repairs a follower whose log is as long as its own but ends in a \
             conflicting entry, stepping back one entry from where the follower refused",
            repairs_a_conflicting_last_entry,
        )
        .check(
            "a leader sends each follower what follows their last agreed entry: at first (its \
             heartbeat timer set), what follows its own log; after a refusal, what follows the \
             follower's log; after a success, what follows the index it answered, even if the \
             follower's log goes on past it; and a proposal goes out at once",
            sends_what_follows,
        )
        .check(
            "no AppendEntries carries more than MAX_ENTRIES_PER_MESSAGE entries: a follower 70 \
             entries behind gets them over several messages, and catches up",
            batches_are_limited,
        )
        .check(
            "a reply of an earlier term changes nothing: a leader re-elected in a later term \
             sends nothing for it, and then sends that follower what it would have sent anyway",
            stale_replies_change_nothing,
        )
        .check(
            "propose() on a node that is not the leader (a candidate, a deposed leader) returns \
             NotLeader with its leader_hint, leaves its log alone and sends nothing",
            propose_only_on_leader,
        )
        .check(
            "a late or repeated AppendEntries whose entries agree with the log truncates nothing",
            agreeing_entries_stay,
        )
        .check(
            "a vote goes only to a candidate whose log is at least as up to date: a higher last \
             term, or the same last term and a last index at least as high",
            election_restriction,
        )
        .check(
            "a node that grants a vote starts its election timeout afresh, and the timer a \
             deposed leader set as a candidate starts nothing",
            stale_election_timers,
        )
        .check(
            "the leader brings a follower that fell 70 entries behind, and an old leader holding \
             entries nobody else has, back to an exact copy of its log",
            followers_catch_up,
        )
        .check(
            "under loss and partitions logs never disagree, no term has two leaders, no entry on \
             a majority in its own term goes missing; once healed, every log copies the leader's",
            random_faults,
        )
}

const MS: Duration = Duration::from_millis(1);

/// Messages always arrive after exactly 5 ms, in order.
fn steady() -> Faults {
    Faults {
        name: "steady",
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

fn entry(term: u64, command: &str) -> Entry {
    Entry {
        term,
        command: command.to_string(),
    }
}

fn show(message: &Message) -> String {
    format!("{message:?}")
}

/// The log as `[term:command, ...]`.
fn show_log(log: &[Entry]) -> String {
    let entries: Vec<String> = log
        .iter()
        .map(|e| format!("{}:{}", e.term, e.command))
        .collect();
    format!("[{}]", entries.join(", "))
}

fn terms(log: &[Entry]) -> Vec<u64> {
    log.iter().map(|e| e.term).collect()
}

/// Writes the run's space-time diagram and says where.
fn picture(sim: &Sim<Node>, seed: u64) -> String {
    let path = std::env::temp_dir().join(format!("raft-04-replication-run-{seed}.svg"));
    match kit::diagram::write(sim.trace(), &path) {
        Ok(()) => format!(
            "picture of the run: {} (to step through it event by event, open {})",
            path.display(),
            path.with_extension("html").display()
        ),
        Err(error) => format!("(the picture of the run could not be written: {error})"),
    }
}

/// What `from` sent since trace position `start`: (to, message as text).
fn sent_since(sim: &Sim<Node>, start: usize, from: NodeId) -> Vec<(NodeId, String)> {
    sim.trace().events[start..]
        .iter()
        .filter_map(|event| match event {
            TraceEvent::Sent {
                from: sender,
                to,
                what,
                ..
            } if *sender == from => Some((*to, what.clone())),
            _ => None,
        })
        .collect()
}

fn describe(sim: &Sim<Node>) -> String {
    let nodes: Vec<String> = (0..sim.len())
        .map(|id| match sim.node(id) {
            Some(node) => format!(
                "node {id}: {:?} of term {}, log {}",
                node.role(),
                node.term(),
                show_log(node.log())
            ),
            None => format!("node {id}: down"),
        })
        .collect();
    nodes.join("\n          ")
}

/// The highest index the leader could commit by Raft's rule: an entry of its own term that a
/// majority of the cluster holds. Nothing in this scene commits, but such an entry must survive
/// every later election all the same.
fn committable(sim: &Sim<Node>, leader: &Node) -> u64 {
    let majority = sim.len() / 2 + 1;
    (1..=leader.last_log_index())
        .rev()
        .find(|&index| {
            let Some(mine) = leader.entry(index) else {
                return false;
            };
            mine.term == leader.term()
                && (0..sim.len())
                    .filter(|&id| sim.node(id).and_then(|n| n.entry(index)) == Some(mine))
                    .count()
                    >= majority
        })
        .unwrap_or(0)
}

/// Each node as the safety checker sees it. With `current_only`, a node counts as a leader only
/// if no node that is up has a higher term, and a leader reports as committed what it could
/// commit. A deposed leader that has not heard of the newer term yet may well lack what the newer
/// leader committed: leader completeness is about the leaders of later terms.
fn views(sim: &Sim<Node>, current_only: bool) -> Vec<Option<NodeView>> {
    let highest = (0..sim.len())
        .filter_map(|id| sim.node(id).map(Node::term))
        .max()
        .unwrap_or(0);
    (0..sim.len())
        .map(|id| {
            sim.node(id).map(|node| {
                let leader =
                    node.role() == Role::Leader && (!current_only || node.term() == highest);
                NodeView {
                    term: node.term(),
                    leader,
                    first_index: 1,
                    log_terms: terms(node.log()),
                    log_commands: node.log().iter().map(|e| e.command.clone()).collect(),
                    commit_index: if current_only && leader {
                        committable(sim, node)
                    } else {
                        0
                    },
                    applied: BTreeMap::new(),
                }
            })
        })
        .collect()
}

/// Raft's safety properties, checked after every step: election safety and log matching over
/// every node, leader completeness over the leaders of the highest term.
#[derive(Default)]
struct Safety {
    all: SafetyChecker,
    current: SafetyChecker,
}

impl Safety {
    fn observe(&mut self, sim: &Sim<Node>) -> Result<(), String> {
        self.all.observe(&views(sim, false))?;
        self.current.observe(&views(sim, true))
    }
}

/// The leader of the highest term, if any node leads.
fn leader(sim: &Sim<Node>) -> Option<(NodeId, u64)> {
    (0..sim.len())
        .filter_map(|id| {
            let node = sim.node(id)?;
            (node.role() == Role::Leader).then(|| (id, node.term()))
        })
        .max_by_key(|&(_, term)| term)
}

/// One leader, every node in its term and pointing at it.
fn settled(sim: &Sim<Node>) -> Option<(NodeId, u64)> {
    let (id, term) = leader(sim)?;
    let all_follow = (0..sim.len()).all(|other| {
        sim.node(other).is_some_and(|node| {
            node.term() == term
                && (other == id
                    || (node.role() == Role::Follower && node.leader_hint() == Some(id)))
        })
    });
    all_follow.then_some((id, term))
}

/// Settled, and every log a copy of the leader's.
fn converged(sim: &Sim<Node>) -> Option<(NodeId, u64)> {
    let (id, term) = settled(sim)?;
    let log = sim.node(id)?.log();
    (0..sim.len())
        .all(|other| sim.node(other).is_some_and(|node| node.log() == log))
        .then_some((id, term))
}

fn propose(sim: &mut Sim<Node>, id: NodeId, command: &str) -> Option<Result<u64, NotLeader>> {
    sim.note(id, format!("propose {command}"));
    sim.call(id, |node, ctx| node.propose(command.to_string(), ctx))
}

fn append(term: u64, prev: (u64, u64), entries: &[Entry]) -> Message {
    Message::AppendEntries(AppendEntries {
        term,
        prev_log_index: prev.0,
        prev_log_term: prev.1,
        entries: entries.to_vec(),
    })
}

/// Hands node 0 of a silent cluster `message` from node 1; returns what node 0 sent back.
fn hand(sim: &mut Sim<Node>, message: &Message) -> Vec<(NodeId, String)> {
    let start = sim.trace().events.len();
    sim.call(0, |node, ctx| node.on_message(1, message.clone(), ctx));
    sent_since(sim, start, 0)
}

/// The text of a reply up to `last_log_index`, which a success reply need not pin down.
fn reply_prefix(term: u64, success: bool, index: u64) -> String {
    let full = show(&Message::AppendReply {
        term,
        success,
        index,
        last_log_index: 0,
    });
    let cut = full.find("last_log_index").unwrap_or(full.len());
    full[..cut].to_string()
}

/// The text of a refusal in `term`, up to the index, which a refusal of an older term's request
/// need not pin down.
fn stale_refusal(term: u64) -> String {
    let full = reply_prefix(term, false, 0);
    let cut = full.find("index").unwrap_or(full.len());
    full[..cut].to_string()
}

/// A node 0 (of 3, on a network that loses everything) whose log holds `log`, handed to it by
/// node 1 as leader of `term`.
fn follower_with(log: &[Entry], term: u64, seed: u64) -> Result<Sim<Node>, Failure> {
    let mut sim = crate::support::cluster!(3, mute(), seed);
    let message = append(term, (0, 0), log);
    let sent = hand(&mut sim, &message);
    let expected = reply_prefix(term, true, log.len() as u64);
    let node = sim.node(0).expect("node 0 is up");
    if node.log() != log
        || !sent
            .iter()
            .any(|(to, what)| *to == 1 && what.starts_with(&expected))
    {
        return Err(Failure::new(format!(
            "did:      handed a new node 0 {message:?} from node 1\nexpected: its log is {} and \
             it answers node 1 {expected}...\ngot:      its log is {} and it sent {sent:?}",
            show_log(log),
            show_log(node.log())
        )));
    }
    Ok(sim)
}

fn propose_appends_and_replicates(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    ctx.doing(format!(
        "running 3 nodes on a steady network (simulated run {seed})"
    ));
    let mut sim = crate::support::cluster!(3, steady(), seed);
    let found = sim.run_until(Duration::from_secs(3), |sim| match settled(sim) {
        Some(found) => Err(found),
        None => Ok(()),
    });
    let Err((id, term)) = found else {
        return fail(format!(
            "3 nodes on a network that delivers everything in 5 ms did not settle on a leader \
             in 3 s (simulated run {seed})\n          {}\n{}",
            describe(&sim),
            picture(&sim, seed)
        ));
    };
    let commands = ["a", "b", "c"];
    for (i, command) in commands.iter().enumerate() {
        let got = propose(&mut sim, id, command);
        expect_eq(
            format!(
                "node {id}, leader of term {term}, propose({command:?}) (proposal {})",
                i + 1
            ),
            got,
            Some(Ok(i as u64 + 1)),
        )?;
    }
    let expected: Vec<Entry> = commands.iter().map(|c| entry(term, c)).collect();
    let log = sim.node(id).map(|n| n.log().to_vec()).unwrap_or_default();
    expect(
        log == expected,
        format!(
            "did:      node {id}, leader of term {term}, propose(\"a\"), propose(\"b\"), \
             propose(\"c\")\nexpected: its log() is {}\ngot:      {}",
            show_log(&expected),
            show_log(&log)
        ),
    )?;
    let follower = (id + 1) % 3;
    let got = propose(&mut sim, follower, "d");
    expect_eq(
        format!("node {follower}, a follower of node {id} in term {term}, propose(\"d\")"),
        got,
        Some(Err(NotLeader {
            leader_hint: Some(id),
        })),
    )?;
    let follower_log = sim.node(follower).map(|n| n.log().len()).unwrap_or(0);
    expect(
        follower_log <= 3,
        format!(
            "did:      propose(\"d\") at follower {follower}\nexpected: its log unchanged\ngot:      {describe}",
            describe = describe(&sim)
        ),
    )?;
    let end = sim.now() + Duration::from_millis(200);
    sim.run_until(end, |_| Ok::<(), ()>(())).ok();
    expect(
        converged(&sim).is_some(),
        format!(
            "did:      proposed \"a\", \"b\", \"c\" at node {id}, leader of term {term}, then \
             waited 200 ms on a steady network (simulated run {seed})\nexpected: every log is {}\ngot:      \
             {}\n{}",
            show_log(&expected),
            describe(&sim),
            picture(&sim, seed)
        ),
    )
}

fn consistency_check(ctx: &mut Ctx) -> CheckResult {
    let log = [entry(1, "a"), entry(1, "b"), entry(2, "c")];
    let mut sim = follower_with(&log, 2, ctx.seed())?;
    let held = log.to_vec();
    // (request, expected reply as text, whether the reply must match whole, the log after it)
    let cases: Vec<(Message, String, bool, Vec<Entry>)> = vec![
        (
            append(2, (5, 2), &[entry(2, "x")]),
            show(&Message::AppendReply {
                term: 2,
                success: false,
                index: 5,
                last_log_index: 3,
            }),
            true,
            held.clone(),
        ),
        (
            append(2, (3, 1), &[entry(2, "x")]),
            show(&Message::AppendReply {
                term: 2,
                success: false,
                index: 3,
                last_log_index: 3,
            }),
            true,
            held.clone(),
        ),
        (
            append(2, (2, 2), &[]),
            show(&Message::AppendReply {
                term: 2,
                success: false,
                index: 2,
                last_log_index: 3,
            }),
            true,
            held.clone(),
        ),
        // From a deposed leader of term 1: refused whatever it holds, with our term, so that
        // it learns it was deposed.
        (
            append(1, (4, 2), &[entry(1, "z")]),
            stale_refusal(2),
            false,
            held.clone(),
        ),
    ];
    let mut did = format!(
        "node 0 took in {} from node 1, leader of term 2",
        show_log(&log)
    );
    for (request, expected, whole, after) in cases {
        ctx.doing(format!("{did}, then {request:?}"));
        let sent = hand(&mut sim, &request);
        did = format!("{did}, then {request:?}");
        let answered = sent.iter().any(|(to, what)| {
            *to == 1
                && if whole {
                    *what == expected
                } else {
                    what.starts_with(&expected)
                }
        });
        let shown = if whole {
            expected.clone()
        } else {
            format!("{expected}...")
        };
        expect(
            answered,
            format!(
                "did:      {did}\nexpected: it answers node 1 with {shown}\ngot:      it sent {sent:?}"
            ),
        )?;
        let log = sim.node(0).map(|n| n.log().to_vec()).unwrap_or_default();
        expect(
            log == after,
            format!(
                "did:      {did}\nexpected: its log is {}\ngot:      {}",
                show_log(&after),
                show_log(&log)
            ),
        )?;
    }
    Ok(())
}

fn success_names_what_was_checked(ctx: &mut Ctx) -> CheckResult {
    let log = [entry(1, "a"), entry(1, "b"), entry(2, "c")];
    // (request, the index a success reply names, the log after it)
    let cases = [
        (append(2, (2, 1), &[]), 2, log.to_vec()),
        (append(2, (1, 1), &[entry(1, "b")]), 2, log.to_vec()),
        (append(2, (0, 0), &[]), 0, log.to_vec()),
        (append(2, (0, 0), &[entry(1, "a")]), 1, log.to_vec()),
        (
            append(2, (3, 2), &[entry(2, "d")]),
            4,
            vec![entry(1, "a"), entry(1, "b"), entry(2, "c"), entry(2, "d")],
        ),
    ];
    for (request, index, after) in cases {
        let mut sim = follower_with(&log, 2, ctx.seed())?;
        let did = format!(
            "node 0 took in {} from node 1, leader of term 2, then received {request:?}",
            show_log(&log)
        );
        ctx.doing(&did);
        let sent = hand(&mut sim, &request);
        let expected = reply_prefix(2, true, index);
        expect(
            sent.iter()
                .any(|(to, what)| *to == 1 && what.starts_with(&expected)),
            format!(
                "did:      {did}\nexpected: it answers node 1 with {expected}... (prev_log_index \
                 + entries.len(): the request checked the log only that far; what follows may \
                 not be the leader's)\ngot:      it sent {sent:?}"
            ),
        )?;
        let got = sim.node(0).map(|n| n.log().to_vec()).unwrap_or_default();
        expect(
            got == after,
            format!(
                "did:      {did}\nexpected: its log is {}\ngot:      {}",
                show_log(&after),
                show_log(&got)
            ),
        )?;
    }
    Ok(())
}

fn conflicts_are_truncated(ctx: &mut Ctx) -> CheckResult {
    let log = [entry(1, "a"), entry(1, "b"), entry(2, "c"), entry(2, "d")];
    // (request, the log after it, the index a success reply names)
    let cases = [
        (
            append(3, (2, 1), &[entry(3, "x")]),
            vec![entry(1, "a"), entry(1, "b"), entry(3, "x")],
            3,
        ),
        (
            append(3, (1, 1), &[entry(1, "b"), entry(3, "x"), entry(3, "y")]),
            vec![entry(1, "a"), entry(1, "b"), entry(3, "x"), entry(3, "y")],
            4,
        ),
        (append(3, (0, 0), &[entry(3, "x")]), vec![entry(3, "x")], 1),
        (
            append(3, (3, 2), &[entry(2, "d"), entry(3, "x")]),
            vec![
                entry(1, "a"),
                entry(1, "b"),
                entry(2, "c"),
                entry(2, "d"),
                entry(3, "x"),
            ],
            5,
        ),
    ];
    for (request, after, index) in cases {
        let mut sim = follower_with(&log, 2, ctx.seed())?;
        let did = format!(
            "node 0 holding {} (from node 1, leader of term 2) received {request:?} from node 1",
            show_log(&log)
        );
        ctx.doing(&did);
        let sent = hand(&mut sim, &request);
        let got = sim.node(0).map(|n| n.log().to_vec()).unwrap_or_default();
        expect(
            got == after,
            format!(
                "did:      {did}\nexpected: its log is {}\ngot:      {}",
                show_log(&after),
                show_log(&got)
            ),
        )?;
        let expected = reply_prefix(3, true, index);
        expect(
            sent.iter()
                .any(|(to, what)| *to == 1 && what.starts_with(&expected)),
            format!(
                "did:      {did}\nexpected: it answers node 1 with {expected}...\ngot:      it sent {sent:?}"
            ),
        )?;
    }
    Ok(())
}

fn repairs_a_conflicting_last_entry(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    // Node 1 holds [a (1), b (1)]; node 0 holds [a (1), c (2)], from the leader of term 2.
    script.deliver(2, 1, append(1, (0, 0), &[entry(1, "a"), entry(1, "b")]));
    script.deliver(2, 0, append(1, (0, 0), &[entry(1, "a")]));
    script.deliver(2, 0, append(2, (1, 1), &[entry(2, "c")]));
    let expected = vec![entry(1, "a"), entry(2, "c")];
    script.expect_eq(
        "node 0's log",
        script.node(0).log().to_vec(),
        expected.clone(),
    )?;
    script.fire_pending(0, "an election timer", |t| matches!(t, Timer::Election(_)))?;
    let term = script.node(0).term();
    let sent = script.deliver(
        2,
        0,
        Message::Vote {
            term,
            granted: true,
        },
    );
    script.expect_eq("node 0's role", script.node(0).role(), Role::Leader)?;
    script.note("then every message between nodes 0 and 1 was delivered, up to 20");
    script.pump(0, sent, &[0, 1], 20);
    let got = script.node(1).log().to_vec();
    script.expect(
        got == expected,
        format!(
            "expected: node 1's log becomes the leader's, {} (its last entry, b of term 1, \
             conflicts with the leader's c of term 2: the leader must probe index 1 next)\n\
             got:      {}",
            show_log(&expected),
            show_log(&got)
        ),
    )
}

fn sends_what_follows(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    let log = [entry(1, "a"), entry(1, "b"), entry(1, "c")];
    script.deliver(2, 0, append(1, (0, 0), &log));
    script.fire_pending(0, "an election timer", |t| matches!(t, Timer::Election(_)))?;
    let term = script.node(0).term();
    let sent = script.deliver(
        1,
        0,
        Message::Vote {
            term,
            granted: true,
        },
    );
    script.expect_eq("node 0's role", script.node(0).role(), Role::Leader)?;
    script.expect(
        script
            .pending(0)
            .iter()
            .any(|(_, t)| matches!(t, Timer::Heartbeat(_))),
        format!(
            "expected: node 0, leader now, has its heartbeat timer pending\ngot:      timers {:?}",
            script.pending(0)
        ),
    )?;
    let first = append(term, (3, 1), &[]);
    script.expect_sent(
        &of_kind(&sent, "AppendEntries"),
        &[(1, first.clone()), (2, first)],
    )?;
    // Node 1 holds only [a]: it refuses, and says where its log ends.
    let sent = script.deliver(
        1,
        0,
        Message::AppendReply {
            term,
            success: false,
            index: 3,
            last_log_index: 1,
        },
    );
    script.expect_sent(
        &of_kind(&sent, "AppendEntries"),
        &[(1, append(term, (1, 1), &log[1..]))],
    )?;
    script.deliver(
        1,
        0,
        Message::AppendReply {
            term,
            success: true,
            index: 3,
            last_log_index: 3,
        },
    );
    // Node 2, the leader of term 1, holds an entry z that never reached anyone: its log goes on
    // past what the heartbeat checked, and z is not the leader's.
    script.note("(node 2, the deposed leader of term 1, holds [1:a, 1:b, 1:c, 1:z])");
    script.deliver(
        2,
        0,
        Message::AppendReply {
            term,
            success: true,
            index: 3,
            last_log_index: 4,
        },
    );
    let (_, effects) = script.act("node 0 was asked to propose d", 0, |node, ctx| {
        node.propose("d".to_string(), ctx)
    });
    let next = append(term, (3, 1), &[entry(term, "d")]);
    script.expect_sent(
        &of_kind(&effects.sends, "AppendEntries"),
        &[(1, next.clone()), (2, next)],
    )
}

type Hand = crate::support::Script<Node>;

fn is_election(timer: &Timer) -> bool {
    matches!(timer, Timer::Election(_))
}

fn is_heartbeat(timer: &Timer) -> bool {
    matches!(timer, Timer::Heartbeat(_))
}

/// Votes for node 0 from `voters` in `term`; fails unless it then leads. Returns what it sent.
fn elect_node_0(
    script: &mut Hand,
    term: u64,
    voters: &[NodeId],
) -> Result<Vec<(NodeId, Message)>, Failure> {
    let mut sent = Vec::new();
    for &voter in voters {
        sent = script.deliver(
            voter,
            0,
            Message::Vote {
                term,
                granted: true,
            },
        );
    }
    script.expect_eq(
        "node 0's (term, role)",
        (script.node(0).term(), script.node(0).role()),
        (term, Role::Leader),
    )?;
    Ok(sent)
}

/// The AppendEntries among `sent` addressed to `to`, if one is.
fn append_to(sent: &[(NodeId, Message)], to: NodeId) -> Option<AppendEntries> {
    sent.iter().rev().find_map(|(peer, message)| match message {
        Message::AppendEntries(request) if *peer == to => Some(request.clone()),
        _ => None,
    })
}

/// An AppendEntries in a line: its term, the entry before, and how many entries (first .. last).
fn brief(request: &AppendEntries) -> String {
    let commands = match request.entries.as_slice() {
        [] => String::new(),
        [one] => format!(" ({})", one.command),
        [first, .., last] => format!(" ({} .. {})", first.command, last.command),
    };
    format!(
        "AppendEntries of term {} after ({}, term {}) with {} entries{commands}",
        request.term,
        request.prev_log_index,
        request.prev_log_term,
        request.entries.len()
    )
}

/// Fails unless every AppendEntries among `sent` carries at most MAX_ENTRIES_PER_MESSAGE.
fn within_batch(script: &Hand, from: NodeId, sent: &[(NodeId, Message)]) -> CheckResult {
    for (to, message) in sent {
        if let Message::AppendEntries(request) = message
            && request.entries.len() > MAX_ENTRIES_PER_MESSAGE
        {
            return Err(script.failure(format!(
                "expected: at most MAX_ENTRIES_PER_MESSAGE = {MAX_ENTRIES_PER_MESSAGE} entries in \
                 one AppendEntries (a follower further behind gets the rest in later messages)\n\
                 got:      node {from} sent node {to} {}",
                brief(request)
            )));
        }
    }
    Ok(())
}

fn batches_are_limited(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    script.fire_pending(0, "an election timer", is_election)?;
    elect_node_0(&mut script, 1, &[1])?;
    let mut last = Vec::new();
    for k in 0..70u64 {
        let command = format!("c{k}");
        let (got, effects) = script.act(
            format!("node 0 was asked to propose {command}"),
            0,
            |node, ctx| node.propose(command.clone(), ctx),
        );
        script.did_pop();
        let told = format!(
            "node 0 was asked to propose c0, c1, .. {command}, one at a time (none of what it \
             sent was delivered)"
        );
        if got != Ok(k + 1) || within_batch(&script, 0, &effects.sends).is_err() {
            script.note(&told);
            script.expect_eq(format!("propose({command:?})"), got, Ok(k + 1))?;
            within_batch(&script, 0, &effects.sends)?;
        }
        if k == 69 {
            script.note(told);
        }
        last = effects.sends;
    }
    let leader_log = script.node(0).log().to_vec();
    // Deliver what node 0 sends node 1, and node 1's answers, heartbeat after heartbeat.
    let mut sent = last;
    for _ in 0..80 {
        let mut queue: std::collections::VecDeque<(NodeId, NodeId, Message)> = sent
            .into_iter()
            .filter(|(to, _)| *to == 1)
            .map(|(to, message)| (0, to, message))
            .collect();
        for _ in 0..20 {
            let Some((from, to, message)) = queue.pop_front() else {
                break;
            };
            let told = match &message {
                Message::AppendEntries(request) => brief(request),
                other => format!("{other:?}"),
            };
            let replies = script.deliver(from, to, message);
            script.did_pop();
            script.note(format!("node {to} got {told} from node {from}"));
            if to == 1 {
                queue.extend(replies.into_iter().map(|(next, m)| (1, next, m)));
            } else {
                within_batch(&script, 0, &replies)?;
                queue.extend(
                    replies
                        .into_iter()
                        .filter(|(next, _)| *next == 1)
                        .map(|(next, m)| (0, next, m)),
                );
            }
        }
        if script.node(1).log() == leader_log {
            return Ok(());
        }
        sent = script.fire_pending(0, "a heartbeat timer", is_heartbeat)?;
        within_batch(&script, 0, &sent)?;
    }
    let got = script.node(1).log().len();
    Err(script.failure(format!(
        "expected: node 1's log becomes the leader's 70 entries, c0 .. c69\ngot:      it holds \
         {got} entries after 80 heartbeats"
    )))
}

fn stale_replies_change_nothing(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(5);
    script.fire_pending(0, "an election timer", is_election)?;
    elect_node_0(&mut script, 1, &[1, 2])?;
    for (index, command) in (1..).zip(["a", "b", "c"]) {
        let (got, _) = script.act(
            format!("node 0 was asked to propose {command}"),
            0,
            |node, ctx| node.propose(command.to_string(), ctx),
        );
        script.expect_eq(format!("propose({command:?})"), got, Ok(index))?;
    }
    let late = Message::AppendReply {
        term: 1,
        success: true,
        index: 3,
        last_log_index: 3,
    };
    script.note(format!(
        "(node 1 took in [1:a, 1:b, 1:c] and answered {late:?}; the answer is delayed)"
    ));
    script.note(
        "(node 3 won term 2 with the votes of nodes 2 and 4, and replaced node 1's log with \
         [2:y])",
    );
    script.deliver(3, 0, append(2, (1, 2), &[]));
    script.fire_pending(0, "an election timer", is_election)?;
    let mut sent = elect_node_0(&mut script, 3, &[2, 4])?;
    // Node 1 holds [2:y]: it refuses until the leader probes index 0.
    let mut probe = append_to(&sent, 1);
    for _ in 0..3 {
        let Some(request) = &probe else { break };
        if request.prev_log_index == 0 {
            break;
        }
        sent = script.deliver(
            1,
            0,
            Message::AppendReply {
                term: 3,
                success: false,
                index: request.prev_log_index,
                last_log_index: 1,
            },
        );
        probe = append_to(&sent, 1);
    }
    let Some(probe) = probe else {
        return Err(script.failure(
            "expected: node 0 sends node 1 AppendEntries (at once, after a refusal)\ngot:      \
             nothing",
        ));
    };
    let sent = script.deliver(1, 0, late.clone());
    script.expect(
        sent.is_empty(),
        format!(
            "expected: node 0, leader of term 3, sends nothing for a reply of term 1: it answers a \
             request of node 0's first leadership, about a log node 1 no longer holds\ngot:      \
             it sent {sent:?}"
        ),
    )?;
    let sent = script.fire_pending(0, "a heartbeat timer", is_heartbeat)?;
    let got = append_to(&sent, 1);
    let expected = Message::AppendEntries(probe);
    script.expect(
        got.clone().map(Message::AppendEntries) == Some(expected.clone()),
        format!(
            "expected: node 0 sends node 1 {expected:?} again, as before the reply of term 1 (a \
             reply of an earlier term changes nothing: node 1 no longer holds the log it \
             speaks of)\ngot:      {}",
            match got {
                Some(request) => format!("{:?}", Message::AppendEntries(request)),
                None => "no AppendEntries to node 1".to_string(),
            }
        ),
    )
}

fn propose_only_on_leader(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(3);
    script.fire_pending(0, "an election timer", is_election)?;
    let refused = |script: &mut Hand, what: &str, command: &str| -> CheckResult {
        let before = script.node(0).log().to_vec();
        let (got, effects) = script.act(
            format!("node 0, {what}, was asked to propose {command}"),
            0,
            |node, ctx| node.propose(command.to_string(), ctx),
        );
        script.expect_eq(
            format!(
                "propose({command:?}) (only a leader takes proposals; this node knows no leader \
                 of its term)"
            ),
            got,
            Err(NotLeader { leader_hint: None }),
        )?;
        let after = script.node(0).log().to_vec();
        script.expect(
            after == before,
            format!(
                "expected: node 0's log unchanged, {}\ngot:      {}",
                show_log(&before),
                show_log(&after)
            ),
        )?;
        script.expect_sent(&effects.sends, &[])
    };
    refused(&mut script, "a candidate of term 1", "x")?;
    elect_node_0(&mut script, 1, &[1])?;
    let (got, _) = script.act("node 0 was asked to propose a", 0, |node, ctx| {
        node.propose("a".to_string(), ctx)
    });
    script.expect_eq("propose(\"a\")", got, Ok(1))?;
    script.deliver(
        2,
        0,
        Message::RequestVote {
            term: 2,
            last_log_index: 0,
            last_log_term: 0,
        },
    );
    script.expect_eq(
        "node 0's (term, role)",
        (script.node(0).term(), script.node(0).role()),
        (2, Role::Follower),
    )?;
    refused(&mut script, "deposed by term 2 (no leader known)", "y")
}

fn stale_election_timers(_: &mut Ctx) -> CheckResult {
    let is_election = |t: &Timer| matches!(t, Timer::Election(_));
    // Fires every election timer of node 0 set before its latest: each must start nothing.
    let fire_stale = |script: &mut Hand, term: u64| -> CheckResult {
        for timer in script.stale(0, is_election) {
            let sent = script.fire(0, timer);
            script.expect_sent(&sent, &[])?;
            script.expect_eq(
                "node 0's (term, role)",
                (script.node(0).term(), script.node(0).role()),
                (term, Role::Follower),
            )?;
        }
        Ok(())
    };
    let mut script = Hand::new(3);
    let request = Message::RequestVote {
        term: 1,
        last_log_index: 0,
        last_log_term: 0,
    };
    let (_, effects) = script.act(
        format!("node 0 got {request:?} from node 1"),
        0,
        |node, ctx| kit::net::Process::on_message(node, 1, request, ctx),
    );
    script.expect_sent(
        &effects.sends,
        &[(
            1,
            Message::Vote {
                term: 1,
                granted: true,
            },
        )],
    )?;
    script.expect(
        effects.timers.iter().any(|(_, t)| is_election(t)),
        "expected: granting its vote, node 0 sets a fresh election timer (Figure 2: a follower \
         stands only after an election timeout without hearing a leader or granting a vote)\n\
         got:      no election timer set",
    )?;
    fire_stale(&mut script, 1)?;

    let mut script = Hand::new(3);
    script.fire_pending(0, "an election timer", is_election)?;
    script.deliver(
        1,
        0,
        Message::Vote {
            term: 1,
            granted: true,
        },
    );
    script.expect_eq("node 0's role", script.node(0).role(), Role::Leader)?;
    script.deliver(
        2,
        0,
        Message::Vote {
            term: 2,
            granted: false,
        },
    );
    fire_stale(&mut script, 2)
}

fn agreeing_entries_stay(ctx: &mut Ctx) -> CheckResult {
    let log = [entry(1, "a"), entry(1, "b"), entry(1, "c"), entry(1, "d")];
    let cases = [
        append(1, (0, 0), &[entry(1, "a"), entry(1, "b")]),
        append(1, (1, 1), &[entry(1, "b")]),
        append(1, (2, 1), &[entry(1, "c"), entry(1, "d")]),
        append(2, (1, 1), &[entry(1, "b"), entry(1, "c")]),
        append(1, (4, 1), &[]),
    ];
    for request in cases {
        let mut sim = follower_with(&log, 1, ctx.seed())?;
        let did = format!(
            "node 0 holding {} (from node 1, leader of term 1) received the late {request:?}",
            show_log(&log)
        );
        ctx.doing(&did);
        hand(&mut sim, &request);
        let got = sim.node(0).map(|n| n.log().to_vec()).unwrap_or_default();
        expect(
            got == log,
            format!(
                "did:      {did}\nexpected: its log unchanged, {}: those entries agree with it, \
                 and the leader may already count the later ones as stored\ngot:      {}",
                show_log(&log),
                show_log(&got)
            ),
        )?;
    }
    Ok(())
}

fn election_restriction(ctx: &mut Ctx) -> CheckResult {
    let log = [entry(1, "a"), entry(1, "b"), entry(2, "c")];
    // (candidate's last log index, last log term, granted)
    let cases = [
        (3, 2, true),
        (5, 2, true),
        (1, 3, true),
        (2, 2, false),
        (9, 1, false),
        (0, 0, false),
    ];
    for (last_log_index, last_log_term, granted) in cases {
        let mut sim = follower_with(&log, 2, ctx.seed())?;
        let request = Message::RequestVote {
            term: 3,
            last_log_index,
            last_log_term,
        };
        let did = format!(
            "node 0 holding {} (last entry: index 3, term 2) received {request:?} from node 2",
            show_log(&log)
        );
        ctx.doing(&did);
        let start = sim.trace().events.len();
        sim.call(0, |node, ctx| node.on_message(2, request.clone(), ctx));
        let sent = sent_since(&sim, start, 0);
        let expected = show(&Message::Vote { term: 3, granted });
        expect(
            sent.contains(&(2, expected.clone())),
            format!(
                "did:      {did}\nexpected: it answers node 2 with {expected}\ngot:      it sent {sent:?}"
            ),
        )?;
        let voted = sim.node(0).and_then(Node::voted_for);
        expect_eq(
            format!("{did}; then voted_for()"),
            voted,
            granted.then_some(2),
        )?;
        if !granted {
            // The vote is still free for a candidate that deserves it.
            let request = Message::RequestVote {
                term: 3,
                last_log_index: 3,
                last_log_term: 2,
            };
            let start = sim.trace().events.len();
            sim.call(0, |node, ctx| node.on_message(1, request.clone(), ctx));
            let sent = sent_since(&sim, start, 0);
            let expected = show(&Message::Vote {
                term: 3,
                granted: true,
            });
            expect(
                sent.contains(&(1, expected.clone())),
                format!(
                    "did:      {did}, refused it, then received {request:?} from node 1\n\
                     expected: it answers node 1 with {expected}: a refused candidate does not \
                     use up the vote\ngot:      it sent {sent:?}"
                ),
            )?;
        }
    }
    Ok(())
}

fn followers_catch_up(ctx: &mut Ctx) -> CheckResult {
    for round in 0..2 {
        let seed = ctx.seed().wrapping_add(round);
        ctx.doing(format!(
            "running 3 nodes on a steady network (simulated run {seed})"
        ));
        let mut sim = crate::support::cluster!(3, steady(), seed);
        let mut safety = Safety::default();
        let found = sim.run_until(Duration::from_secs(3), |sim| {
            safety.observe(sim).map_err(Some)?;
            match settled(sim) {
                Some(_) => Err(None::<String>),
                None => Ok(()),
            }
        });
        if let Err(Some(broken)) = found {
            return fail(format!(
                "3 nodes on a steady network (simulated run {seed}), at {:?}: {broken}\n{}",
                sim.now(),
                picture(&sim, seed)
            ));
        }
        let Some((id, term)) = settled(&sim) else {
            return fail(format!(
                "3 nodes on a network that delivers everything in 5 ms did not settle on a \
                 leader in 3 s (simulated run {seed})\n          {}\n{}",
                describe(&sim),
                picture(&sim, seed)
            ));
        };

        // A follower misses 70 entries.
        let behind = (id + 1) % 3;
        sim.note(behind, "cut off for 300 ms");
        sim.partition(&[behind], Some(Duration::from_millis(300)));
        let mut proposed = Vec::new();
        for batch in 0..7 {
            let at = sim.now() + 20 * MS;
            if let Err(broken) = sim.run_until(at, |sim| safety.observe(sim)) {
                return fail(format!(
                    "3 nodes on a steady network (simulated run {seed}), at {:?}: {broken}\n{}",
                    sim.now(),
                    picture(&sim, seed)
                ));
            }
            for k in 0..10 {
                let command = format!("c{}", batch * 10 + k);
                let got = propose(&mut sim, id, &command);
                if !matches!(got, Some(Ok(_))) {
                    return fail(format!(
                        "did:      node {id} led term {term} with node {behind} cut off (seed \
                         {seed}); propose({command:?}) at node {id}\nexpected: Ok(index)\ngot:      \
                         {got:?}\n{}",
                        picture(&sim, seed)
                    ));
                }
                proposed.push(command);
            }
        }
        let did = format!(
            "3 nodes on a steady network (simulated run {seed}); node {id} led term {term}; node {behind} \
             was cut off for 300 ms while node {id} took 70 proposals"
        );
        let bound = sim.now() + Duration::from_secs(3);
        let outcome = sim.run_until(bound, |sim| {
            safety.observe(sim)?;
            match converged(sim) {
                Some(_) => Err(String::new()),
                None => Ok(()),
            }
        });
        match outcome {
            Err(broken) if broken.is_empty() => {}
            Err(broken) => {
                return fail(format!(
                    "did:      {did}\ngot:      at {:?}: {broken}\n{}",
                    sim.now(),
                    picture(&sim, seed)
                ));
            }
            Ok(()) => {
                return fail(format!(
                    "did:      {did}\nexpected: within 3 s, one leader, and every log a copy of \
                     its log\ngot:      \n          {}\n{}",
                    describe(&sim),
                    picture(&sim, seed)
                ));
            }
        }
        let Some((id, term)) = converged(&sim) else {
            unreachable!("converged just now")
        };
        let log: Vec<String> = sim
            .node(id)
            .map(|n| n.log().iter().map(|e| e.command.clone()).collect())
            .unwrap_or_default();
        expect(
            log == proposed,
            format!(
                "did:      {did}\nexpected: every log holds the 70 commands, in order\ngot:      \
                 {}\n{}",
                describe(&sim),
                picture(&sim, seed)
            ),
        )?;

        // An old leader takes entries nobody else will ever have.
        let old = id;
        sim.note(old, "cut off for 2 s");
        sim.partition(&[old], Some(Duration::from_secs(2)));
        for k in 0..5 {
            let command = format!("orphan{k}");
            let got = propose(&mut sim, old, &command);
            if !matches!(got, Some(Ok(_))) {
                return fail(format!(
                    "did:      node {old} led term {term}, then was cut off (simulated run {seed}); \
                     propose({command:?}) at node {old}\nexpected: Ok(index): it still believes \
                     it leads\ngot:      {got:?}"
                ));
            }
        }
        let elected = sim.run_until(sim.now() + Duration::from_millis(1500), |sim| {
            safety.observe(sim)?;
            match leader(sim) {
                Some((new, _)) if new != old => Err(String::new()),
                _ => Ok(()),
            }
        });
        let new = match elected {
            Err(broken) if broken.is_empty() => leader(&sim).map_or(old, |(new, _)| new),
            Err(broken) => {
                return fail(format!(
                    "3 nodes on a steady network (simulated run {seed}), at {:?}: {broken}\n{}",
                    sim.now(),
                    picture(&sim, seed)
                ));
            }
            Ok(()) => {
                return fail(format!(
                    "did:      node {old} led term {term}, then was cut off (simulated run {seed})\n\
                     expected: the other two elect a leader within 1.5 s\ngot:      {}\n{}",
                    describe(&sim),
                    picture(&sim, seed)
                ));
            }
        };
        for k in 0..5 {
            let command = format!("after{k}");
            if !matches!(propose(&mut sim, new, &command), Some(Ok(_))) {
                return fail(format!(
                    "did:      node {new} was elected while node {old} was cut off (seed \
                     {seed}); propose({command:?}) at node {new}\nexpected: Ok(index)\ngot:      \
                     an error\n{}",
                    picture(&sim, seed)
                ));
            }
            proposed.push(command);
        }
        let did = format!(
            "{did}; then node {old} was cut off for 2 s and took 5 proposals (\"orphan0\" ..), \
             node {new} was elected and took 5 (\"after0\" ..)"
        );
        let bound = sim.now() + Duration::from_secs(3);
        let outcome = sim.run_until(bound, |sim| {
            safety.observe(sim)?;
            match converged(sim) {
                Some((_, now)) if now > term => Err(String::new()),
                _ => Ok(()),
            }
        });
        match outcome {
            Err(broken) if broken.is_empty() => {}
            Err(broken) => {
                return fail(format!(
                    "did:      {did}\ngot:      at {:?}: {broken}\n{}",
                    sim.now(),
                    picture(&sim, seed)
                ));
            }
            Ok(()) => {
                return fail(format!(
                    "did:      {did}\nexpected: within 3 s of that, one leader, and every log a \
                     copy of its log\ngot:      \n          {}\n{}",
                    describe(&sim),
                    picture(&sim, seed)
                ));
            }
        }
        let log: Vec<String> = sim
            .node(new)
            .map(|n| n.log().iter().map(|e| e.command.clone()).collect())
            .unwrap_or_default();
        expect(
            log == proposed,
            format!(
                "did:      {did}\nexpected: every log holds c0 .. c69, after0 .. after4, and no \
                 orphan\ngot:      {}\n{}",
                describe(&sim),
                picture(&sim, seed)
            ),
        )?;
    }
    Ok(())
}

fn random_faults(ctx: &mut Ctx) -> CheckResult {
    let lossy_partitions = Faults {
        name: "lossy with partitions",
        partitions: true,
        ..Faults::lossy()
    };
    let profiles = [
        (3, Faults::lossy()),
        (5, Faults::partitions()),
        (3, lossy_partitions.clone()),
        (5, lossy_partitions),
    ];
    for (round, (n, faults)) in profiles.into_iter().enumerate() {
        let seed = ctx.seed().wrapping_add(round as u64);
        let name = faults.name;
        ctx.doing(format!(
            "running {n} nodes under {name} with a client proposing (simulated run {seed})"
        ));
        let mut sim = crate::support::cluster!(n, faults.clone(), seed);
        let mut safety = Safety::default();
        let stormy = Duration::from_secs(3);
        let mut proposals = 0;
        while sim.now() < stormy {
            let at = sim.now() + 40 * MS;
            if let Err(broken) = sim.run_until(at, |sim| safety.observe(sim)) {
                return fail(format!(
                    "{n} nodes under {name} with a client proposing (simulated run {seed}), at {:?}: \
                     {broken}\n{}",
                    sim.now(),
                    picture(&sim, seed)
                ));
            }
            if let Some((id, _)) = leader(&sim) {
                proposals += 1;
                propose(&mut sim, id, &format!("p{proposals}"));
            }
        }
        sim.set_faults(faults.healed());
        // A partition under way still lasts its course (at most 450 ms), and may cost a leader.
        // So keep proposing "last" at each new leader until every log holds it.
        let bound = stormy + Duration::from_secs(4);
        let mut asked: Option<(NodeId, u64)> = None;
        loop {
            let at = sim.now() + 20 * MS;
            if let Err(broken) = sim.run_until(at, |sim| safety.observe(sim)) {
                return fail(format!(
                    "{n} nodes under {name} (simulated run {seed}), healed at 3 s; at {:?}: {broken}\n{}",
                    sim.now(),
                    picture(&sim, seed)
                ));
            }
            if let Some((id, _)) = converged(&sim)
                && sim
                    .node(id)
                    .is_some_and(|n| n.log().iter().any(|e| e.command == "last"))
            {
                break;
            }
            if sim.now() >= bound {
                let asked = match asked {
                    Some((id, term)) => format!(
                        "proposed \"last\" at node {id}, leader of term {term}, once the \
                         cluster had settled"
                    ),
                    None => "never saw one leader that every node followed, to propose \"last\" at"
                        .into(),
                };
                return fail(format!(
                    "did:      ran {n} nodes under {name} for 3 s (simulated run {seed}), then healed \
                     the network; {asked}\nexpected: by 7 s, one leader, and every log a copy \
                     of its log, \"last\" included\ngot:      \n          {}\n{}",
                    describe(&sim),
                    picture(&sim, seed)
                ));
            }
            if let Some(now) = settled(&sim)
                && asked != Some(now)
                && sim
                    .node(now.0)
                    .is_some_and(|n| n.log().iter().all(|e| e.command != "last"))
            {
                asked = Some(now);
                propose(&mut sim, now.0, "last");
            }
        }
    }
    Ok(())
}
