//! Hidden checks for raft/heartbeats.

use std::collections::BTreeMap;
use std::time::Duration;

use judge::prelude::*;
use kit::consensus::{NodeView, SafetyChecker};
use kit::net::{Faults, NodeId, Process, Sim, TraceEvent};
use raft_heartbeats::{HEARTBEAT_INTERVAL, Message, Node, Role, Timer};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a leader deposed by a reply of a higher term runs a new election timer (the one it \
             set as a candidate does nothing); elected once more, it keeps its place against late \
             messages of older terms of every kind, and a heartbeat timer of its old term that \
             fires late does nothing",
            deposed_and_back,
        )
        .check(
            "a new leader at once sends an AppendEntries of its term to every peer, and names \
             itself as the leader (leader_hint() is its own id)",
            announces_at_once,
        )
        .check(
            "a candidate that hears AppendEntries of its term steps down, follows the sender, \
             answers success, and stays quiet while the heartbeats keep coming",
            candidate_follows_the_leader,
        )
        .check(
            "an AppendEntries of an older term is refused with the receiver's term, and neither \
             makes it follow nor holds back its election",
            stale_leader_is_refused,
        )
        .check(
            "only a granted vote or an AppendEntries of the node's term resets its election \
             timer: after refusing a RequestVote (already voted, or of an older term) or a stale \
             AppendEntries, the timer a node had still starts its election",
            refusals_keep_the_timer,
        )
        .check(
            "leader_hint() names the leader of the current term only: it is None right after a \
             node (follower or leader) adopts a higher term, from any kind of message, and right \
             after it starts an election",
            hint_is_of_the_current_term,
        )
        .check(
            "on a steady network the leader keeps its place: a heartbeat every \
             HEARTBEAT_INTERVAL, no election, and every follower knows who leads",
            leader_keeps_its_place,
        )
        .check(
            "a follower cut off from the leader for 400 ms starts an election; once it is back, \
             the old leader steps down and the cluster settles on one leader",
            one_bad_link_costs_a_leader,
        )
        .check(
            "under loss and partitions there is never more than one leader per term, and once \
             the network heals the cluster settles on one leader that everyone follows",
            random_faults,
        )
}

const MS: Duration = Duration::from_millis(1);

/// Messages always arrive after exactly 5 ms, in order.
type Hand = crate::support::Script<Node>;

fn expect_state(script: &Hand, id: NodeId, term: u64, role: Role) -> CheckResult {
    let node = script.node(id);
    let got = (node.term(), node.role());
    script.expect(
        got == (term, role),
        format!(
            "expected: node {id} in term {term}, {role:?}\ngot:      node {id} in term {}, {:?}",
            got.0, got.1
        ),
    )
}

/// Fires node `id`'s latest pending timer of the kind `pick` chooses, which must exist.
fn fire_pending(
    script: &mut Hand,
    id: NodeId,
    kind: &str,
    pick: impl Fn(&Timer) -> bool,
) -> Result<Vec<(NodeId, Message)>, Failure> {
    script.fire_latest(id, pick).ok_or_else(|| {
        script.failure(format!(
            "expected: node {id} has a {kind} timer pending (set with ctx.set_timer)\n\
             got:      none"
        ))
    })
}

fn is_election(timer: &Timer) -> bool {
    matches!(timer, Timer::Election(_))
}

fn is_heartbeat(timer: &Timer) -> bool {
    matches!(timer, Timer::Heartbeat(_))
}

fn deposed_and_back(_: &mut Ctx) -> CheckResult {
    let append = |term| Message::AppendEntries { term };
    let reply = |term, success| Message::AppendReply { term, success };
    let mut script = Hand::new(3);
    fire_pending(&mut script, 0, "election", is_election)?;
    script.deliver(
        1,
        0,
        Message::Vote {
            term: 1,
            granted: true,
        },
    );
    expect_state(&script, 0, 1, Role::Leader)?;
    let (at, _) = script
        .pending(0)
        .iter()
        .rev()
        .find(|(_, t)| is_heartbeat(t))
        .cloned()
        .ok_or_else(|| {
            script.failure("expected: the new leader has a heartbeat timer pending\ngot:      none")
        })?;
    script.expect(
        at - script.now() <= HEARTBEAT_INTERVAL,
        format!(
            "expected: the leader's heartbeat timer fires within HEARTBEAT_INTERVAL \
             ({HEARTBEAT_INTERVAL:?})\ngot:      it fires after {:?}",
            at - script.now()
        ),
    )?;
    let sent = fire_pending(&mut script, 0, "heartbeat", is_heartbeat)?;
    script.expect_sent(&sent, &[(1, append(1)), (2, append(1))])?;
    // Node 2 had moved on to term 2: its refusal deposes the leader.
    let sent = script.deliver(2, 0, reply(2, false));
    expect_state(&script, 0, 2, Role::Follower)?;
    script.expect_sent(&sent, &[])?;
    // The heartbeat timer of term 1 is still pending: it fires below, once the node leads again.
    let Some((_, old_heartbeat)) = script
        .pending(0)
        .iter()
        .rev()
        .find(|(_, t)| is_heartbeat(t))
        .cloned()
    else {
        return Err(script.failure(
            "expected: the leader of term 1 has a heartbeat timer pending\ngot:      none",
        ));
    };
    // The election timer it set as a candidate of term 1 may still fire: it is stale.
    for timer in script.stale(0, is_election) {
        let sent = script.fire(0, timer);
        script.expect_sent(&sent, &[])?;
        expect_state(&script, 0, 2, Role::Follower)?;
    }
    // The follower must stand again when it hears nothing.
    fire_pending(&mut script, 0, "election", is_election)?;
    expect_state(&script, 0, 3, Role::Candidate)?;
    let sent = script.deliver(
        2,
        0,
        Message::Vote {
            term: 3,
            granted: true,
        },
    );
    expect_state(&script, 0, 3, Role::Leader)?;
    script.expect_sent(&sent, &[(1, append(3)), (2, append(3))])?;
    // The heartbeat timer it set as the leader of term 1 fires only now: it is not of this term.
    let what = format!(
        "node 0's timer {old_heartbeat:?}, set while it led term 1, fired only now (late: it \
         leads term 3)"
    );
    let (_, effects) = script.act(what, 0, move |node, ctx| node.on_timer(old_heartbeat, ctx));
    script.expect_sent(&effects.sends, &[])?;
    expect_state(&script, 0, 3, Role::Leader)?;
    script.expect_no_timer(
        &effects.timers,
        "a heartbeat timer of an old term sets no timer (the leader of term 3 already runs its \
         own heartbeats)",
    )?;
    // Late messages of older terms, of every kind.
    let sent = script.deliver(
        1,
        0,
        Message::Vote {
            term: 1,
            granted: true,
        },
    );
    expect_state(&script, 0, 3, Role::Leader)?;
    script.expect_sent(&sent, &[])?;
    let sent = script.deliver(2, 0, reply(2, false));
    expect_state(&script, 0, 3, Role::Leader)?;
    script.expect_sent(&sent, &[])?;
    let sent = script.deliver(1, 0, reply(1, true));
    expect_state(&script, 0, 3, Role::Leader)?;
    script.expect_sent(&sent, &[])?;
    let sent = script.deliver(1, 0, Message::RequestVote { term: 2 });
    expect_state(&script, 0, 3, Role::Leader)?;
    script.expect_sent(
        &sent,
        &[(
            1,
            Message::Vote {
                term: 3,
                granted: false,
            },
        )],
    )?;
    let sent = script.deliver(2, 0, append(2));
    expect_state(&script, 0, 3, Role::Leader)?;
    script.expect_sent(&sent, &[(2, reply(3, false))])?;
    // Its heartbeats go on, in its term.
    let sent = fire_pending(&mut script, 0, "heartbeat", is_heartbeat)?;
    script.expect_sent(&sent, &[(1, append(3)), (2, append(3))])
}

/// Hands node `id` `message` from node `from`, which it must refuse with `reply` and without
/// setting a timer; then fires the election timer it had before, which must start its election
/// of the next term.
fn refuse_and_stand(
    script: &mut Hand,
    from: NodeId,
    id: NodeId,
    message: Message,
    reply: Message,
    why: &str,
) -> CheckResult {
    let Some((_, before)) = script
        .pending(id)
        .iter()
        .rev()
        .find(|(_, t)| is_election(t))
        .cloned()
    else {
        return Err(script.failure(format!(
            "expected: node {id} has an election timer pending (set with ctx.set_timer)\n\
             got:      none"
        )));
    };
    let term = script.node(id).term();
    let (_, effects) = script.act(
        format!("node {id} got {message:?} from node {from} ({why})"),
        id,
        move |node, ctx| node.on_message(from, message, ctx),
    );
    script.expect_sent(&effects.sends, &[(from, reply)])?;
    script.expect_no_timer(
        &effects.timers,
        format!(
            "a refusal sets no timer: only a granted vote or an AppendEntries of its term \
             resets node {id}'s election timer, so that no stale or refused node holds back its \
             election"
        ),
    )?;
    let what = format!(
        "node {id}'s timer {before:?} fired (the election timer it had before that message)"
    );
    script.act(what, id, move |node, ctx| node.on_timer(before, ctx));
    let node = script.node(id);
    let got = (node.term(), node.role());
    script.expect(
        got == (term + 1, Role::Candidate),
        format!(
            "expected: that timer still counts: node {id} stands, in term {}, Candidate\n\
             got:      node {id} in term {}, {:?}",
            term + 1,
            got.0,
            got.1
        ),
    )
}

fn refusals_keep_the_timer(_: &mut Ctx) -> CheckResult {
    let vote = |term, granted| Message::Vote { term, granted };
    let mut script = Hand::new(3);
    // Node 1 votes for node 0 in term 1, and follows it once it leads.
    script.deliver(0, 1, Message::RequestVote { term: 1 });
    script.deliver(0, 1, Message::AppendEntries { term: 1 });
    expect_state(&script, 1, 1, Role::Follower)?;
    refuse_and_stand(
        &mut script,
        2,
        1,
        Message::RequestVote { term: 1 },
        vote(1, false),
        "it voted for node 0 in term 1",
    )?;
    // Now a candidate of term 2.
    refuse_and_stand(
        &mut script,
        2,
        1,
        Message::RequestVote { term: 1 },
        vote(2, false),
        "an older term",
    )?;
    // Now a candidate of term 3.
    refuse_and_stand(
        &mut script,
        0,
        1,
        Message::AppendEntries { term: 2 },
        Message::AppendReply {
            term: 3,
            success: false,
        },
        "an older term",
    )
}

/// Fails unless node `id`'s leader_hint() is `expected`, saying why (`because`).
fn expect_hint(script: &Hand, id: NodeId, expected: Option<NodeId>, because: &str) -> CheckResult {
    let got = script.node(id).leader_hint();
    script.expect(
        got == expected,
        format!("expected: node {id}'s leader_hint() = {expected:?}: {because}\ngot:      {got:?}"),
    )
}

fn hint_is_of_the_current_term(_: &mut Ctx) -> CheckResult {
    let higher = [
        Message::RequestVote { term: 2 },
        Message::Vote {
            term: 2,
            granted: false,
        },
        Message::AppendReply {
            term: 2,
            success: false,
        },
    ];
    let unknown = "it names the leader of the current term, and the node has heard from no \
                   leader of term 2";
    for message in higher {
        // A follower that knows the leader of term 1.
        let mut script = Hand::new(3);
        script.deliver(0, 1, Message::AppendEntries { term: 1 });
        expect_state(&script, 1, 1, Role::Follower)?;
        expect_hint(
            &script,
            1,
            Some(0),
            "it follows node 0, the leader of term 1",
        )?;
        script.deliver(2, 1, message.clone());
        expect_state(&script, 1, 2, Role::Follower)?;
        expect_hint(&script, 1, None, unknown)?;

        // The leader of term 1 itself.
        let mut script = Hand::new(3);
        fire_pending(&mut script, 0, "election", is_election)?;
        script.deliver(
            1,
            0,
            Message::Vote {
                term: 1,
                granted: true,
            },
        );
        expect_state(&script, 0, 1, Role::Leader)?;
        script.deliver(2, 0, message);
        expect_state(&script, 0, 2, Role::Follower)?;
        expect_hint(&script, 0, None, unknown)?;
    }
    // A follower of node 0 that times out.
    let mut script = Hand::new(3);
    script.deliver(0, 1, Message::AppendEntries { term: 1 });
    expect_state(&script, 1, 1, Role::Follower)?;
    fire_pending(&mut script, 1, "election", is_election)?;
    expect_state(&script, 1, 2, Role::Candidate)?;
    expect_hint(
        &script,
        1,
        None,
        "it names the leader of the current term, and node 1 stands for term 2 itself",
    )
}

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

fn show(message: &Message) -> String {
    format!("{message:?}")
}

/// Writes the run's space-time diagram and says where.
fn picture(sim: &Sim<Node>, seed: u64) -> String {
    let path = std::env::temp_dir().join(format!("raft-03-heartbeats-run-{seed}.svg"));
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
                "node {id}: {:?} of term {}, leader_hint {:?}",
                node.role(),
                node.term(),
                node.leader_hint()
            ),
            None => format!("node {id}: down"),
        })
        .collect();
    nodes.join("\n          ")
}

fn views(sim: &Sim<Node>) -> Vec<Option<NodeView>> {
    (0..sim.len())
        .map(|id| {
            sim.node(id).map(|node| NodeView {
                term: node.term(),
                leader: node.role() == Role::Leader,
                first_index: 1,
                log_terms: Vec::new(),
                log_commands: Vec::new(),
                commit_index: 0,
                applied: BTreeMap::new(),
            })
        })
        .collect()
}

fn leader(sim: &Sim<Node>) -> Option<(NodeId, u64)> {
    (0..sim.len()).find_map(|id| {
        let node = sim.node(id)?;
        (node.role() == Role::Leader).then(|| (id, node.term()))
    })
}

/// Runs until some node leads (returning it and its term) or `until` passes.
fn run_until_leader(sim: &mut Sim<Node>, until: Duration) -> Option<(NodeId, u64)> {
    sim.run_until(until, |sim| match leader(sim) {
        Some(found) => Err(found),
        None => Ok(()),
    })
    .err()
}

/// One leader, every node in its term, every follower pointing at it.
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

fn announces_at_once(ctx: &mut Ctx) -> CheckResult {
    for round in 0..3 {
        let seed = ctx.seed().wrapping_add(round);
        ctx.doing(format!(
            "running 3 nodes on a steady network (simulated run {seed})"
        ));
        let mut sim = crate::support::cluster!(3, steady(), seed);
        let Some((id, term)) = run_until_leader(&mut sim, Duration::from_secs(3)) else {
            return fail(format!(
                "3 nodes on a network that delivers everything in 5 ms elected no leader in 3 s \
                 (simulated run {seed})\n          {}\n{}",
                describe(&sim),
                picture(&sim, seed)
            ));
        };
        let now = sim.now();
        // The sends of the step that made it leader are at the end of the trace.
        let start = sim
            .trace()
            .events
            .iter()
            .rposition(|event| !matches!(event, TraceEvent::Sent { at, .. } if *at == now))
            .map_or(0, |i| i + 1);
        let sent = sent_since(&sim, start, id);
        let expected = show(&Message::AppendEntries { term });
        for peer in (0..3).filter(|&peer| peer != id) {
            if !sent
                .iter()
                .any(|(to, what)| *to == peer && *what == expected)
            {
                return fail(format!(
                    "did:      ran 3 nodes on a steady network (simulated run {seed}); node {id} became \
                     leader of term {term} at {now:?}\nexpected: it sends {expected} to node \
                     {peer} in that same step\ngot:      it sent {sent:?}\n{}",
                    picture(&sim, seed)
                ));
            }
        }
        let hint = sim.node(id).and_then(Node::leader_hint);
        expect(
            hint == Some(id),
            format!(
                "did:      node {id} became leader of term {term} (simulated run {seed})\nexpected: its \
                 leader_hint() is Some({id}): itself\ngot:      {hint:?}"
            ),
        )?;
    }
    Ok(())
}

fn candidate_follows_the_leader(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let mut sim = crate::support::cluster!(3, mute(), seed);
    ctx.doing("letting node 0 time out on a network that loses every message");
    let became_candidate = sim.run_until(Duration::from_secs(1), |sim| {
        match sim.node(0).map(Node::role) {
            Some(Role::Candidate) => Err(()),
            _ => Ok(()),
        }
    });
    if became_candidate.is_ok() {
        return fail(format!(
            "node 0, hearing nothing for 1 s, never became a candidate\n          {}",
            describe(&sim)
        ));
    }
    let term = sim.node(0).map_or(0, Node::term);
    let heard = sim.now();
    let start = sim.trace().events.len();
    let heartbeat = Message::AppendEntries { term };
    ctx.doing(format!(
        "handing node 0, candidate of term {term}, {heartbeat:?} from node 1"
    ));
    sim.call(0, |node, ctx| node.on_message(1, heartbeat.clone(), ctx));
    let did = format!("node 0, candidate of term {term}, received {heartbeat:?} from node 1");
    let node = sim.node(0).expect("node 0 is up");
    expect_eq(format!("{did}; then role()"), node.role(), Role::Follower)?;
    expect_eq(format!("{did}; then term()"), node.term(), term)?;
    expect_eq(
        format!("{did}; then leader_hint()"),
        node.leader_hint(),
        Some(1),
    )?;
    let reply = show(&Message::AppendReply {
        term,
        success: true,
    });
    let sent = sent_since(&sim, start, 0);
    expect(
        sent.contains(&(1, reply.clone())),
        format!(
            "did:      {did}\nexpected: it answers node 1 with {reply}\ngot:      it sent {sent:?}"
        ),
    )?;

    // A heartbeat every 50 ms for a second: the node must not start an election.
    ctx.doing("handing node 0 a heartbeat every 50 ms for 1 s");
    let mut at = heard;
    while at < heard + Duration::from_secs(1) {
        at += HEARTBEAT_INTERVAL;
        let quiet = sim.run_until(at, |sim| {
            let node = sim.node(0).expect("node 0 is up");
            if node.term() != term || node.role() != Role::Follower {
                Err(format!(
                    "{:?} of term {} at {:?}",
                    node.role(),
                    node.term(),
                    sim.now()
                ))
            } else {
                Ok(())
            }
        });
        if let Err(now) = quiet {
            return fail(format!(
                "did:      {did} at {heard:?}, and then {heartbeat:?} every 50 ms\nexpected: \
                 node 0 stays a follower of term {term}: each heartbeat resets its election \
                 timer\ngot:      it became {now}"
            ));
        }
        sim.call(0, |node, ctx| node.on_message(1, heartbeat.clone(), ctx));
    }
    // Then silence: it must time out again.
    ctx.doing("letting node 0 hear nothing more for 400 ms");
    sim.run_until(at + Duration::from_millis(400), |_| Ok::<(), ()>(()))
        .ok();
    let later = sim.node(0).map_or(0, Node::term);
    expect(
        later > term,
        format!(
            "did:      {did}, then heartbeats until {at:?}, then 400 ms of silence\nexpected: \
             node 0 starts an election (a term above {term})\ngot:      it is still in term \
             {later}"
        ),
    )?;

    // A follower that hears a leader of a newer term joins that term and follows it.
    let newer = sim.node(1).map_or(0, Node::term) + 3;
    let heartbeat = Message::AppendEntries { term: newer };
    let start = sim.trace().events.len();
    ctx.doing(format!("handing node 1 {heartbeat:?} from node 2"));
    sim.call(1, |node, ctx| node.on_message(2, heartbeat.clone(), ctx));
    let node = sim.node(1).expect("node 1 is up");
    let did = format!("node 1 received {heartbeat:?} from node 2, a term above its own");
    expect_eq(
        format!("{did}; then (role(), term(), leader_hint())"),
        (node.role(), node.term(), node.leader_hint()),
        (Role::Follower, newer, Some(2)),
    )?;
    let reply = show(&Message::AppendReply {
        term: newer,
        success: true,
    });
    let sent = sent_since(&sim, start, 1);
    expect(
        sent.contains(&(2, reply.clone())),
        format!(
            "did:      {did}\nexpected: it answers node 2 with {reply}\ngot:      it sent {sent:?}"
        ),
    )
}

fn stale_leader_is_refused(ctx: &mut Ctx) -> CheckResult {
    let seed = ctx.seed();
    let mut sim = crate::support::cluster!(3, mute(), seed);
    // Node 0 learns of term 5 from a vote it did not ask for: it follows, with no leader known.
    sim.call(0, |node, ctx| {
        node.on_message(
            1,
            Message::Vote {
                term: 5,
                granted: false,
            },
            ctx,
        );
    });
    let stale = Message::AppendEntries { term: 2 };
    ctx.doing(format!(
        "handing node 0, follower of term 5, {stale:?} from node 1"
    ));
    sim.run_until(MS, |_| Ok::<(), ()>(())).ok();
    let start = sim.trace().events.len();
    sim.call(0, |node, ctx| node.on_message(1, stale.clone(), ctx));
    let did = format!(
        "node 0, a follower of term 5 that knows no leader, received {stale:?} from node 1"
    );
    let node = sim.node(0).expect("node 0 is up");
    expect_eq(
        format!("{did}; then (role(), term(), leader_hint())"),
        (node.role(), node.term(), node.leader_hint()),
        (Role::Follower, 5, None),
    )?;
    let reply = show(&Message::AppendReply {
        term: 5,
        success: false,
    });
    let sent = sent_since(&sim, start, 0);
    expect(
        sent == vec![(1, reply.clone())],
        format!(
            "did:      {did}\nexpected: it answers node 1 with {reply} (and nothing else), so \
             that the deposed leader learns of term 5\ngot:      it sent {sent:?}"
        ),
    )?;

    // The stale leader keeps talking: it must not keep node 0 from timing out.
    ctx.doing("handing node 0 a stale heartbeat every 20 ms for 400 ms");
    let mut at = MS;
    while at < Duration::from_millis(400) {
        at += 20 * MS;
        sim.run_until(at, |_| Ok::<(), ()>(())).ok();
        sim.call(0, |node, ctx| node.on_message(1, stale.clone(), ctx));
    }
    let term = sim.node(0).map_or(0, Node::term);
    expect(
        term > 5,
        format!(
            "did:      {did}, and the same every 20 ms for 400 ms\nexpected: node 0 still times \
             out and starts an election (its timeout is at most 300 ms): a deposed leader's \
             heartbeats must not reset its timer\ngot:      it is still in term {term}, {:?}",
            sim.node(0).map(Node::role)
        ),
    )
}

fn leader_keeps_its_place(ctx: &mut Ctx) -> CheckResult {
    for round in 0..3 {
        let seed = ctx.seed().wrapping_add(round);
        ctx.doing(format!(
            "running 5 nodes on a reliable network (simulated run {seed})"
        ));
        let mut sim = crate::support::cluster!(5, Faults::reliable(), seed);
        let mut safety = SafetyChecker::new();
        let settle = Duration::from_secs(1);
        if let Err(broken) = sim.run_until(settle, |sim| safety.observe(&views(sim))) {
            return fail(format!(
                "5 nodes on a reliable network (simulated run {seed}), at {:?}: {broken}\n{}",
                sim.now(),
                picture(&sim, seed)
            ));
        }
        let Some((id, term)) = settled(&sim) else {
            return fail(format!(
                "did:      ran 5 nodes for 1 s on a network that delivers every message within \
                 10 ms (simulated run {seed})\nexpected: one leader, every node in its term and pointing \
                 at it\ngot:      {}\n{}",
                describe(&sim),
                picture(&sim, seed)
            ));
        };
        let start = sim.trace().events.len();
        let end = Duration::from_secs(3);
        let kept = sim.run_until(end, |sim| {
            safety.observe(&views(sim))?;
            match settled(sim) {
                Some(now) if now == (id, term) => Ok(()),
                _ => Err(format!(
                    "at {:?} the cluster no longer follows node {id} in term {term}:\n          \
                     {}",
                    sim.now(),
                    describe(sim)
                )),
            }
        });
        if let Err(broken) = kept {
            return fail(format!(
                "did:      ran 5 nodes on a reliable network (simulated run {seed}); at 1 s node {id} \
                 led term {term} and all followed\nexpected: it leads until 3 s, unchallenged\n\
                 got:      {broken}\n{}",
                picture(&sim, seed)
            ));
        }
        // The heartbeats themselves: never more than HEARTBEAT_INTERVAL apart, to every peer.
        let heartbeat = show(&Message::AppendEntries { term });
        for peer in (0..5).filter(|&peer| peer != id) {
            let mut last = settle;
            let times = sim.trace().events[start..]
                .iter()
                .filter_map(|event| match event {
                    TraceEvent::Sent {
                        from, to, at, what, ..
                    } if *from == id && *to == peer && *what == heartbeat => Some(*at),
                    _ => None,
                });
            for at in times.chain([end]) {
                if at > last + HEARTBEAT_INTERVAL {
                    return fail(format!(
                        "did:      ran 5 nodes on a reliable network (simulated run {seed}); node {id} led \
                         term {term}\nexpected: it sends {heartbeat} to each peer at least every \
                         {HEARTBEAT_INTERVAL:?}\ngot:      nothing to node {peer} between {last:?} \
                         and {at:?}\n{}",
                        picture(&sim, seed)
                    ));
                }
                last = at;
            }
        }
    }
    Ok(())
}

fn one_bad_link_costs_a_leader(ctx: &mut Ctx) -> CheckResult {
    for round in 0..2 {
        let seed = ctx.seed().wrapping_add(round);
        ctx.doing(format!(
            "running 3 nodes on a steady network (simulated run {seed})"
        ));
        let mut sim = crate::support::cluster!(3, steady(), seed);
        sim.run_until(Duration::from_secs(1), |_| Ok::<(), ()>(()))
            .ok();
        let Some((id, term)) = settled(&sim) else {
            return fail(format!(
                "did:      ran 3 nodes for 1 s on a network that delivers everything in 5 ms \
                 (simulated run {seed})\nexpected: one leader, every node in its term and pointing at \
                 it\ngot:      {}\n{}",
                describe(&sim),
                picture(&sim, seed)
            ));
        };
        let cut = (id + 1) % 3;
        sim.note(cut, "cut off for 400 ms");
        sim.partition(&[cut], Some(Duration::from_millis(400)));
        let did = format!(
            "3 nodes on a steady network (simulated run {seed}); node {id} led term {term}; at 1 s node \
             {cut} was cut off for 400 ms"
        );
        sim.run_until(Duration::from_millis(1399), |_| Ok::<(), ()>(()))
            .ok();
        let cut_term = sim.node(cut).map_or(0, Node::term);
        if cut_term <= term {
            return fail(format!(
                "did:      {did}\nexpected: node {cut} hears no heartbeat for longer than its \
                 timeout and starts an election of a higher term\ngot:      it is in term \
                 {cut_term}\n{}",
                picture(&sim, seed)
            ));
        }
        let mut safety = SafetyChecker::new();
        let outcome = sim.run_until(Duration::from_secs(4), |sim| {
            safety.observe(&views(sim))?;
            match settled(sim) {
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
                    "did:      {did}\nexpected: within 2.6 s of the link coming back, one leader \
                     of a term above {term}, followed by all\ngot:      at 4 s\n          {}\n{}",
                    describe(&sim),
                    picture(&sim, seed)
                ));
            }
        }
    }
    Ok(())
}

fn random_faults(ctx: &mut Ctx) -> CheckResult {
    let profiles = [
        (3, Faults::lossy()),
        (5, Faults::partitions()),
        (3, Faults::partitions()),
        (
            5,
            Faults {
                name: "lossy with partitions",
                partitions: true,
                ..Faults::lossy()
            },
        ),
    ];
    for (round, (n, faults)) in profiles.into_iter().enumerate() {
        let seed = ctx.seed().wrapping_add(round as u64);
        let name = faults.name;
        ctx.doing(format!(
            "running {n} nodes under {name} (simulated run {seed})"
        ));
        let mut sim = crate::support::cluster!(n, faults.clone(), seed);
        let mut safety = SafetyChecker::new();
        let stormy = Duration::from_secs(3);
        if let Err(broken) = sim.run_until(stormy, |sim| safety.observe(&views(sim))) {
            return fail(format!(
                "{n} nodes under {name} (simulated run {seed}), at {:?}: {broken}\n{}",
                sim.now(),
                picture(&sim, seed)
            ));
        }
        sim.set_faults(faults.healed());
        let bound = stormy + Duration::from_secs(3);
        let outcome = sim.run_until(bound, |sim| {
            safety.observe(&views(sim))?;
            match settled(sim) {
                Some(_) => Err(String::new()),
                None => Ok(()),
            }
        });
        match outcome {
            Err(broken) if broken.is_empty() => {}
            Err(broken) => {
                return fail(format!(
                    "{n} nodes under {name} (simulated run {seed}), healed at 3 s; at {:?}: {broken}\n{}",
                    sim.now(),
                    picture(&sim, seed)
                ));
            }
            Ok(()) => {
                return fail(format!(
                    "did:      ran {n} nodes under {name} for 3 s (simulated run {seed}), then healed \
                     the network\nexpected: within 3 s, one leader, every node in its term and \
                     pointing at it\ngot:      at 6 s\n          {}\n{}",
                    describe(&sim),
                    picture(&sim, seed)
                ));
            }
        }
    }
    Ok(())
}
