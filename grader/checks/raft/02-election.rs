//! Hidden checks for raft/election.

use std::collections::BTreeMap;
use std::time::Duration;

use judge::prelude::*;
use kit::consensus::{NodeView, SafetyChecker};
use kit::net::{Ctx as NodeCtx, Faults, NodeId, Process, Sim, TraceEvent};
use raft_election::{Message, Node, Role, Timer};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a node grants one vote per term: to the first candidate that asks (again if it asks \
             again), and to no other",
            one_vote_per_term,
        )
        .check(
            "a new term brings a new vote, even for a node that voted or stood in the last one",
            new_term_new_vote,
        )
        .check(
            "a vote request of an older term is refused, and answered with the current term",
            stale_request,
        )
        .check(
            "a candidate leads once a majority of the cluster, itself included, has voted for \
             it, and not one vote sooner",
            majority_wins,
        )
        .check(
            "votes from an earlier election, or counted twice, do not make a leader",
            stale_and_duplicate_votes,
        )
        .check(
            "a leader that hears of a higher term steps down, and may vote in it",
            leader_steps_down,
        )
        .check(
            "a leader deposed by an answer of a higher term runs an election timer again (the \
             one it set as a candidate is stale), and wins a later term with that term's votes \
             alone; each election counts only its own votes",
            leads_again,
        )
        .check(
            "under loss, duplication, reordering and partitions: never two leaders in a term, \
             never two votes in a term",
            random_runs,
        )
        .check(
            "a node that grants a vote waits a full election timeout (150 ms) before it stands \
             itself",
            vote_resets_timer,
        )
        .check(
            "only a granted vote resets the election timer: a node that refuses a request \
             (already voted, or of an older term) sets no timer, and the one it had still \
             starts its election",
            refusal_keeps_timer,
        )
        .check(
            "once the network heals, a new leader is elected within 1.5 s",
            progress,
        )
}

/// A message as it appears in the trace, with its receiver.
type Sent = (NodeId, String);

/// A cluster driven by hand: the checks deliver each message and fire each timer themselves.
/// The simulator never runs, so nothing happens that the script does not do.
struct Script {
    sim: Sim<Node>,
    did: Vec<String>,
}

impl Script {
    fn new(n: usize) -> Script {
        Script {
            sim: crate::support::cluster!(n, Faults::reliable(), 1),
            did: vec![format!("started {n} nodes (0 to {}), all in term 0", n - 1)],
        }
    }

    fn node(&self, id: NodeId) -> &Node {
        self.sim.node(id).expect("nodes driven by hand never crash")
    }

    /// Calls one handler of node `id`, and returns what it sent.
    fn act(
        &mut self,
        what: String,
        id: NodeId,
        f: impl FnOnce(&mut Node, &mut NodeCtx<Node>),
    ) -> Vec<Sent> {
        let since = self.sim.trace().events.len();
        self.did.push(what);
        self.sim.call(id, f);
        let mut sent: Vec<Sent> = self.sim.trace().events[since..]
            .iter()
            .filter_map(|event| match event {
                TraceEvent::Sent { from, to, what, .. } if *from == id => Some((*to, what.clone())),
                _ => None,
            })
            .collect();
        sent.sort();
        sent
    }

    /// Fires node `id`'s current election timer.
    fn time_out(&mut self, id: NodeId) -> Result<Vec<Sent>, Failure> {
        let generation = generation(self.node(id))?;
        Ok(self.act(
            format!("node {id}'s election timer fired"),
            id,
            move |node, ctx| node.on_timer(Timer::Election(generation), ctx),
        ))
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, message: Message) -> Vec<Sent> {
        self.act(
            format!("node {to} got {message:?} from node {from}"),
            to,
            move |node, ctx| node.on_message(from, message, ctx),
        )
    }

    fn story(&self) -> String {
        let steps: Vec<String> = self
            .did
            .iter()
            .enumerate()
            .map(|(i, step)| format!("  {}. {step}", i + 1))
            .collect();
        format!("did:\n{}", steps.join("\n"))
    }

    fn expect_node(
        &self,
        id: NodeId,
        term: u64,
        role: Role,
        voted_for: Option<NodeId>,
    ) -> CheckResult {
        let node = self.node(id);
        let got = (node.term(), node.role(), node.voted_for());
        expect(
            got == (term, role, voted_for),
            format!(
                "{}\nexpected: node {id} in term {term}, {role:?}, voted_for {voted_for:?}\n\
                 got:      node {id} in term {}, {:?}, voted_for {:?}",
                self.story(),
                got.0,
                got.1,
                got.2
            ),
        )
    }

    fn expect_sent(&self, got: Vec<Sent>, expected: &[(NodeId, Message)]) -> CheckResult {
        let mut expected: Vec<Sent> = expected
            .iter()
            .map(|(to, message)| (*to, format!("{message:?}")))
            .collect();
        expected.sort();
        let show = |sent: &[Sent]| {
            if sent.is_empty() {
                return "nothing".to_string();
            }
            let shown: Vec<String> = sent
                .iter()
                .map(|(to, what)| format!("{what} to node {to}"))
                .collect();
            shown.join(", ")
        };
        expect(
            got == expected,
            format!(
                "{}\nexpected it to send: {}\ngot:                 {}",
                self.story(),
                show(&expected),
                show(&got)
            ),
        )
    }
}

/// The generation of a node's current election timer, read from its `election_generation`.
fn generation(node: &Node) -> Result<u64, Failure> {
    let text = format!("{node:?}");
    text.split("election_generation: ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| {
            Failure::new(format!(
                "the checks fire a node's election timer by hand, with the generation in its \
                 `election_generation` field, but the node has no such field: {text}"
            ))
        })
}

fn request(term: u64) -> Message {
    Message::RequestVote { term }
}

fn vote(term: u64, granted: bool) -> Message {
    Message::Vote { term, granted }
}

fn one_vote_per_term(_: &mut Ctx) -> CheckResult {
    let mut script = Script::new(3);
    let sent = script.deliver(1, 0, request(1));
    script.expect_node(0, 1, Role::Follower, Some(1))?;
    script.expect_sent(sent, &[(1, vote(1, true))])?;
    // The same candidate asks again (its request was duplicated, or it lost our answer).
    let sent = script.deliver(1, 0, request(1));
    script.expect_node(0, 1, Role::Follower, Some(1))?;
    script.expect_sent(sent, &[(1, vote(1, true))])?;
    // Another candidate of the same term: too late.
    let sent = script.deliver(2, 0, request(1));
    script.expect_node(0, 1, Role::Follower, Some(1))?;
    script.expect_sent(sent, &[(2, vote(1, false))])?;

    // A candidate has already voted for itself.
    let mut script = Script::new(3);
    script.time_out(2)?;
    let sent = script.deliver(1, 2, request(1));
    script.expect_node(2, 1, Role::Candidate, Some(2))?;
    script.expect_sent(sent, &[(1, vote(1, false))])
}

fn new_term_new_vote(_: &mut Ctx) -> CheckResult {
    let mut script = Script::new(3);
    script.deliver(1, 0, request(1));
    let sent = script.deliver(2, 0, request(2));
    script.expect_node(0, 2, Role::Follower, Some(2))?;
    script.expect_sent(sent, &[(2, vote(2, true))])?;
    let sent = script.deliver(1, 0, request(2));
    script.expect_node(0, 2, Role::Follower, Some(2))?;
    script.expect_sent(sent, &[(1, vote(2, false))])?;

    // A candidate of term 1 hears from a candidate of term 4.
    let mut script = Script::new(5);
    script.time_out(3)?;
    let sent = script.deliver(1, 3, request(4));
    script.expect_node(3, 4, Role::Follower, Some(1))?;
    script.expect_sent(sent, &[(1, vote(4, true))])
}

fn stale_request(_: &mut Ctx) -> CheckResult {
    let mut script = Script::new(3);
    for _ in 0..3 {
        script.time_out(0)?;
    }
    script.expect_node(0, 3, Role::Candidate, Some(0))?;
    let sent = script.deliver(1, 0, request(2));
    script.expect_node(0, 3, Role::Candidate, Some(0))?;
    script.expect_sent(sent, &[(1, vote(3, false))])?;

    // A follower that learned of term 6, and has not voted in it.
    let mut script = Script::new(3);
    script.deliver(2, 1, vote(6, false));
    script.expect_node(1, 6, Role::Follower, None)?;
    let sent = script.deliver(0, 1, request(5));
    script.expect_node(1, 6, Role::Follower, None)?;
    script.expect_sent(sent, &[(0, vote(6, false))])?;
    // Its vote in term 6 is still free.
    let sent = script.deliver(0, 1, request(6));
    script.expect_node(1, 6, Role::Follower, Some(0))?;
    script.expect_sent(sent, &[(0, vote(6, true))])
}

fn majority_wins(_: &mut Ctx) -> CheckResult {
    // Five nodes: a majority is three, the candidate and two others.
    let mut script = Script::new(5);
    let sent = script.time_out(0)?;
    script.expect_sent(sent, &[1, 2, 3, 4].map(|peer| (peer, request(1))))?;
    script.deliver(1, 0, vote(1, true));
    script.expect_node(0, 1, Role::Candidate, Some(0))?;
    script.deliver(2, 0, vote(1, false));
    script.expect_node(0, 1, Role::Candidate, Some(0))?;
    let sent = script.deliver(3, 0, vote(1, true));
    script.expect_node(0, 1, Role::Leader, Some(0))?;
    script.expect_sent(sent, &[])?;
    // A vote that arrives after the win changes nothing.
    let sent = script.deliver(4, 0, vote(1, true));
    script.expect_node(0, 1, Role::Leader, Some(0))?;
    script.expect_sent(sent, &[])?;

    // Four nodes: a majority is three, so two votes are not enough.
    let mut script = Script::new(4);
    script.time_out(3)?;
    script.deliver(0, 3, vote(1, true));
    script.expect_node(3, 1, Role::Candidate, Some(3))?;
    script.deliver(1, 3, vote(1, true));
    script.expect_node(3, 1, Role::Leader, Some(3))?;

    // Three nodes: one vote besides its own is enough.
    let mut script = Script::new(3);
    script.time_out(1)?;
    script.expect_node(1, 1, Role::Candidate, Some(1))?;
    script.deliver(2, 1, vote(1, true));
    script.expect_node(1, 1, Role::Leader, Some(1))?;

    // One node: its own vote is a majority.
    let mut script = Script::new(1);
    let sent = script.time_out(0)?;
    script.expect_node(0, 1, Role::Leader, Some(0))?;
    script.expect_sent(sent, &[])
}

fn stale_and_duplicate_votes(_: &mut Ctx) -> CheckResult {
    // Votes granted in term 1 arrive while the candidate runs again in term 2.
    let mut script = Script::new(3);
    script.time_out(0)?;
    script.time_out(0)?;
    script.deliver(1, 0, vote(1, true));
    script.deliver(2, 0, vote(1, true));
    script.expect_node(0, 2, Role::Candidate, Some(0))?;
    script.deliver(2, 0, vote(2, true));
    script.expect_node(0, 2, Role::Leader, Some(0))?;

    // One vote, delivered three times, is still one vote.
    let mut script = Script::new(5);
    script.time_out(4)?;
    for _ in 0..3 {
        script.deliver(2, 4, vote(1, true));
    }
    script.expect_node(4, 1, Role::Candidate, Some(4))?;
    script.deliver(0, 4, vote(1, true));
    script.expect_node(4, 1, Role::Leader, Some(4))
}

fn leader_steps_down(_: &mut Ctx) -> CheckResult {
    let mut script = Script::new(3);
    script.time_out(0)?;
    script.deliver(1, 0, vote(1, true));
    script.expect_node(0, 1, Role::Leader, Some(0))?;
    // A rival of the same term gets no vote: the leader voted for itself.
    let sent = script.deliver(2, 0, request(1));
    script.expect_node(0, 1, Role::Leader, Some(0))?;
    script.expect_sent(sent, &[(2, vote(1, false))])?;
    // A candidate of a newer term: the leader is out of date.
    let sent = script.deliver(2, 0, request(2));
    script.expect_node(0, 2, Role::Follower, Some(2))?;
    script.expect_sent(sent, &[(2, vote(2, true))])
}

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

/// Fires node `id`'s latest pending election timer, which must exist.
fn fire_pending(script: &mut Hand, id: NodeId) -> CheckResult {
    if script
        .fire_latest(id, |t| matches!(t, Timer::Election(_)))
        .is_none()
    {
        return Err(script.failure(format!(
            "expected: node {id} has an election timer pending (set with ctx.set_timer)\n\
             got:      none: nothing would ever start its next election"
        )));
    }
    Ok(())
}

fn leads_again(_: &mut Ctx) -> CheckResult {
    let mut script = Hand::new(5);
    fire_pending(&mut script, 0)?;
    expect_state(&script, 0, 1, Role::Candidate)?;
    script.deliver(1, 0, vote(1, true));
    expect_state(&script, 0, 1, Role::Candidate)?;
    // Term 1 comes to nothing; in term 2, node 1's vote of term 1 no longer counts.
    fire_pending(&mut script, 0)?;
    expect_state(&script, 0, 2, Role::Candidate)?;
    script.deliver(2, 0, vote(2, true));
    expect_state(&script, 0, 2, Role::Candidate)?;
    script.deliver(3, 0, vote(2, true));
    expect_state(&script, 0, 2, Role::Leader)?;
    // A late refusal of a higher term deposes it: it follows, and needs a timer again.
    script.deliver(4, 0, vote(3, false));
    expect_state(&script, 0, 3, Role::Follower)?;
    // The timer it set as a candidate of term 2 may still fire: it is stale.
    for timer in script.stale(0, |t| matches!(t, Timer::Election(_))) {
        let sent = script.fire(0, timer);
        script.expect_sent(&sent, &[])?;
        expect_state(&script, 0, 3, Role::Follower)?;
    }
    fire_pending(&mut script, 0)?;
    expect_state(&script, 0, 4, Role::Candidate)?;
    // Its votes of term 2 count for nothing in term 4.
    script.deliver(1, 0, vote(4, true));
    expect_state(&script, 0, 4, Role::Candidate)?;
    script.deliver(4, 0, vote(4, true));
    expect_state(&script, 0, 4, Role::Leader)
}

/// Hands node `id` a request of `term` from node `from`, which it must refuse (with its own
/// term, `current`) without setting a timer; then fires the election timer it had before,
/// which must start its election of the next term.
fn refuse_and_stand(
    script: &mut Hand,
    from: NodeId,
    id: NodeId,
    term: u64,
    current: u64,
    why: &str,
) -> CheckResult {
    let Some((_, before)) = script
        .pending(id)
        .iter()
        .rev()
        .find(|(_, t)| matches!(t, Timer::Election(_)))
        .cloned()
    else {
        return Err(script.failure(format!(
            "expected: node {id} has an election timer pending (set with ctx.set_timer)\n\
             got:      none"
        )));
    };
    let message = request(term);
    let (_, effects) = script.act(
        format!("node {id} got {message:?} from node {from} ({why})"),
        id,
        move |node, ctx| node.on_message(from, message, ctx),
    );
    script.expect_sent(&effects.sends, &[(from, vote(current, false))])?;
    script.expect_no_timer(
        &effects.timers,
        format!(
            "refusing the vote sets no timer: only a granted vote resets the election timer, so \
             that no refused candidate holds back node {id}'s own election"
        ),
    )?;
    let what = format!(
        "node {id}'s timer {before:?} fired (the election timer it had before the refused \
         request)"
    );
    script.act(what, id, move |node, ctx| node.on_timer(before, ctx));
    let node = script.node(id);
    let got = (node.term(), node.role());
    script.expect(
        got == (current + 1, Role::Candidate),
        format!(
            "expected: that timer still counts: node {id} stands, in term {}, Candidate\n\
             got:      node {id} in term {}, {:?}",
            current + 1,
            got.0,
            got.1
        ),
    )
}

fn refusal_keeps_timer(_: &mut Ctx) -> CheckResult {
    // A follower that voted in term 1 refuses a second candidate of term 1.
    let mut script = Hand::new(3);
    script.deliver(1, 0, request(1));
    expect_state(&script, 0, 1, Role::Follower)?;
    refuse_and_stand(&mut script, 2, 0, 1, 1, "it voted for node 1 in term 1")?;

    // A candidate of term 1 refuses a rival of its term, then (in term 2) a late request of
    // term 1.
    let mut script = Hand::new(3);
    fire_pending(&mut script, 0)?;
    expect_state(&script, 0, 1, Role::Candidate)?;
    refuse_and_stand(&mut script, 2, 0, 1, 1, "it voted for itself in term 1")?;
    refuse_and_stand(&mut script, 1, 0, 1, 2, "an older term")?;

    // A follower of term 6 that has not voted refuses a candidate of term 5.
    let mut script = Hand::new(3);
    script.deliver(2, 1, vote(6, false));
    expect_state(&script, 1, 6, Role::Follower)?;
    refuse_and_stand(&mut script, 0, 1, 5, 6, "an older term")
}

fn view(node: &Node) -> NodeView {
    NodeView {
        term: node.term(),
        leader: node.role() == Role::Leader,
        first_index: 1,
        log_terms: Vec::new(),
        log_commands: Vec::new(),
        commit_index: 0,
        applied: BTreeMap::new(),
    }
}

fn profiles() -> [Faults; 4] {
    [
        Faults::reliable(),
        Faults::lossy(),
        Faults::partitions(),
        Faults {
            name: "lossy, with partitions",
            crashes: false,
            ..Faults::everything()
        },
    ]
}

fn seeds(ctx: &Ctx, count: u64) -> impl Iterator<Item = u64> {
    let base = ctx.seed();
    (0..count).map(move |k| base ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// What a run is watched for, after every event.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// One leader per term, one vote per node per term.
    Safety,
    /// A node that grants a vote does not stand for 150 ms.
    VoteResetsTimer,
}

struct Watch {
    rule: Rule,
    safety: SafetyChecker,
    /// The first vote seen for each (node, term).
    votes: BTreeMap<(NodeId, u64), NodeId>,
    /// When each node last granted a vote, from the messages it sent.
    granted_at: Vec<Option<Duration>>,
    seen: usize,
}

impl Watch {
    fn new(n: usize, rule: Rule) -> Watch {
        Watch {
            rule,
            safety: SafetyChecker::new(),
            votes: BTreeMap::new(),
            granted_at: vec![None; n],
            seen: 0,
        }
    }

    fn observe(&mut self, sim: &Sim<Node>) -> Result<(), String> {
        match self.rule {
            Rule::Safety => self.safety(sim),
            Rule::VoteResetsTimer => self.timer(sim),
        }
    }

    fn safety(&mut self, sim: &Sim<Node>) -> Result<(), String> {
        let views: Vec<Option<NodeView>> =
            (0..sim.len()).map(|id| sim.node(id).map(view)).collect();
        self.safety.observe(&views)?;
        for id in 0..sim.len() {
            let Some(node) = sim.node(id) else { continue };
            if let Some(candidate) = node.voted_for() {
                let first = *self.votes.entry((id, node.term())).or_insert(candidate);
                if first != candidate {
                    return Err(format!(
                        "node {id} voted for node {first} in term {}, then for node {candidate}: \
                         one vote per term",
                        node.term()
                    ));
                }
            }
        }
        Ok(())
    }

    fn timer(&mut self, sim: &Sim<Node>) -> Result<(), String> {
        let events = &sim.trace().events;
        for event in &events[self.seen..] {
            if let TraceEvent::Sent { from, at, what, .. } = event {
                if what.starts_with("Vote") && what.contains("granted: true") {
                    self.granted_at[*from] = Some(*at);
                } else if what.starts_with("RequestVote")
                    && let Some(granted) = self.granted_at[*from]
                    && *at < granted + Duration::from_millis(150)
                {
                    return Err(format!(
                        "node {from} granted a vote at {granted:?} and stood itself ({what}) at \
                         {at:?}, {:?} later: granting a vote resets the election timer",
                        *at - granted
                    ));
                }
            }
        }
        self.seen = events.len();
        Ok(())
    }
}

fn picture(sim: &Sim<Node>, seed: u64) -> String {
    let path = std::env::temp_dir().join(format!("raft-02-election-run-{seed}.svg"));
    match kit::diagram::write(sim.trace(), &path) {
        Ok(()) => format!(
            "picture of the run: {} (to step through it event by event, open {})",
            path.display(),
            path.with_extension("html").display()
        ),
        Err(error) => format!("(could not draw the run: {error})"),
    }
}

/// Runs `n` nodes under `faults` for `duration`, checking every event; with `heal`, then heals
/// the network and expects a leader of a new term within 1.5 s of the last partition's end.
fn run(
    seed: u64,
    n: usize,
    faults: Faults,
    duration: Duration,
    rule: Rule,
    heal: bool,
) -> CheckResult {
    let profile = faults.name;
    let healed = faults.healed();
    let mut sim = crate::support::cluster!(n, faults, seed);
    let mut watch = Watch::new(n, rule);
    let told = |sim: &Sim<Node>, what: String| {
        fail(format!(
            "ran {n} nodes on a {profile} network (simulated run {seed})\nat {:?}: {what}\n{}",
            sim.now(),
            picture(sim, seed)
        ))
    };
    if let Err(broken) = sim.run_until(duration, |sim| watch.observe(sim)) {
        return told(&sim, broken);
    }
    if !heal {
        return Ok(());
    }
    sim.set_faults(healed);
    // A partition in progress lasts at most 450 ms more.
    let calm = duration + Duration::from_millis(450);
    if let Err(broken) = sim.run_until(calm, |sim| watch.observe(sim)) {
        return told(&sim, broken);
    }
    let before = (0..n)
        .filter_map(|id| sim.node(id).map(Node::term))
        .max()
        .unwrap_or(0);
    let deadline = calm + Duration::from_millis(1500);
    let outcome = sim.run_until(deadline, |sim| {
        watch.observe(sim).map_err(Some)?;
        let won = (0..n).any(|id| {
            sim.node(id)
                .is_some_and(|node| node.role() == Role::Leader && node.term() > before)
        });
        // A new leader: stop here, all is well.
        if won { Err(None) } else { Ok(()) }
    });
    match outcome {
        Err(None) => Ok(()),
        Err(Some(broken)) => told(&sim, broken),
        Ok(()) => {
            let states: Vec<String> = (0..n)
                .filter_map(|id| sim.node(id))
                .map(|node| {
                    format!(
                        "node {}: term {}, {:?}",
                        node.id(),
                        node.term(),
                        node.role()
                    )
                })
                .collect();
            told(
                &sim,
                format!(
                    "the network healed by {calm:?}, when the highest term was {before}, and no \
                     node became leader of a later term by {deadline:?}\n{}",
                    states.join("\n")
                ),
            )
        }
    }
}

fn random_runs(ctx: &mut Ctx) -> CheckResult {
    for (k, seed) in seeds(ctx, 32).enumerate() {
        let faults = profiles()[k % 4].clone();
        let n = [5, 4, 3][k % 3];
        ctx.doing(format!(
            "running {n} nodes on a {} network, simulated run {seed}",
            faults.name
        ));
        run(seed, n, faults, Duration::from_secs(3), Rule::Safety, false)?;
    }
    Ok(())
}

fn vote_resets_timer(ctx: &mut Ctx) -> CheckResult {
    for (k, seed) in seeds(ctx, 12).enumerate() {
        let faults = profiles()[k % 2].clone();
        let n = [3, 5][k % 2];
        ctx.doing(format!(
            "running {n} nodes on a {} network, simulated run {seed}",
            faults.name
        ));
        run(
            seed,
            n,
            faults,
            Duration::from_secs(2),
            Rule::VoteResetsTimer,
            false,
        )?;
    }
    Ok(())
}

fn progress(ctx: &mut Ctx) -> CheckResult {
    for (k, seed) in seeds(ctx, 16).enumerate() {
        let faults = profiles()[k % 4].clone();
        let n = [5, 3][k % 2];
        ctx.doing(format!(
            "running {n} nodes on a {} network, simulated run {seed}, then healing it",
            faults.name
        ));
        run(seed, n, faults, Duration::from_secs(2), Rule::Safety, true)?;
    }
    Ok(())
}
