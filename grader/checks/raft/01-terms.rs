//! Hidden checks for raft/terms.

use std::collections::BTreeMap;
use std::time::Duration;

use judge::prelude::*;
use kit::net::{Ctx as NodeCtx, Faults, NodeId, Process, Sim, TraceEvent};
use raft_terms::{Message, Node, Role, Timer};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "when its election timer fires, a node starts the next term as a candidate, votes for \
             itself and asks every peer for a vote",
            election_timeout,
        )
        .check(
            "a message of a higher term, request or answer, makes a node adopt that term, forget \
             its vote and follow",
            higher_term,
        )
        .check(
            "a message of an older term, or of the node's own term, changes nothing (a \
             candidate stays a candidate), and a request of such a term is refused with the \
             node's own term",
            older_term,
        )
        .check(
            "only the latest election timer counts: a stale one starts nothing",
            stale_timer,
        )
        .check(
            "a node always has an election timer pending, set 150 to 300 ms ahead, from its start \
             and after every election it starts, and that timer starts the next election",
            timer_pending,
        )
        .check(
            "each election timeout is a new random draw from 150 to 300 ms: neither one node's \
             timeouts nor the first timeouts of different nodes are all the same",
            random_timeouts,
        )
        .check(
            "under loss, duplication, reordering and partitions, terms never go back, a higher \
             term is adopted at once (forgetting the vote), and every message carries its \
             sender's term",
            random_runs,
        )
        .check(
            "with no leader to hear from, every node starts a new term at least every 300 ms, \
             again and again",
            keeps_trying,
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

    /// Fires a timer of node `id` by hand, current or not.
    fn fire(&mut self, id: NodeId, generation: u64, why: &str) -> Vec<Sent> {
        self.act(
            format!("node {id} got Timer::Election({generation}) ({why})"),
            id,
            move |node, ctx| node.on_timer(Timer::Election(generation), ctx),
        )
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

fn refusal(term: u64) -> Message {
    Message::Vote {
        term,
        granted: false,
    }
}

fn election_timeout(_: &mut Ctx) -> CheckResult {
    let mut script = Script::new(5);
    let sent = script.time_out(0)?;
    script.expect_node(0, 1, Role::Candidate, Some(0))?;
    script.expect_sent(sent, &[1, 2, 3, 4].map(|peer| (peer, request(1))))?;
    // Nobody answered: the next timeout starts the next term.
    let sent = script.time_out(0)?;
    script.expect_node(0, 2, Role::Candidate, Some(0))?;
    script.expect_sent(sent, &[1, 2, 3, 4].map(|peer| (peer, request(2))))?;

    let mut script = Script::new(3);
    let sent = script.time_out(2)?;
    script.expect_node(2, 1, Role::Candidate, Some(2))?;
    script.expect_sent(sent, &[(0, request(1)), (1, request(1))])
}

fn higher_term(_: &mut Ctx) -> CheckResult {
    // A follower that never voted, told of a higher term by a request.
    let mut script = Script::new(5);
    let sent = script.deliver(3, 1, request(5));
    script.expect_node(1, 5, Role::Follower, None)?;
    script.expect_sent(sent, &[(3, refusal(5))])?;

    // A candidate, told of a higher term by a request: it steps down and forgets its own vote.
    let mut script = Script::new(3);
    script.time_out(0)?;
    script.time_out(0)?;
    let sent = script.deliver(2, 0, request(7));
    script.expect_node(0, 7, Role::Follower, None)?;
    script.expect_sent(sent, &[(2, refusal(7))])?;

    // A candidate, told of a higher term by an answer to its own request.
    let mut script = Script::new(3);
    script.time_out(1)?;
    let sent = script.deliver(2, 1, refusal(4));
    script.expect_node(1, 4, Role::Follower, None)?;
    script.expect_sent(sent, &[])?;
    // ... and it may stand again, in the term after that.
    let sent = script.time_out(1)?;
    script.expect_node(1, 5, Role::Candidate, Some(1))?;
    script.expect_sent(sent, &[(0, request(5)), (2, request(5))])
}

fn older_term(_: &mut Ctx) -> CheckResult {
    let mut script = Script::new(3);
    for _ in 0..3 {
        script.time_out(0)?;
    }
    script.expect_node(0, 3, Role::Candidate, Some(0))?;
    // A late request from an old election: refused, and told the current term.
    let sent = script.deliver(1, 0, request(1));
    script.expect_node(0, 3, Role::Candidate, Some(0))?;
    script.expect_sent(sent, &[(1, refusal(3))])?;
    // A late answer from an old election: nothing to do.
    let sent = script.deliver(2, 0, refusal(2));
    script.expect_node(0, 3, Role::Candidate, Some(0))?;
    script.expect_sent(sent, &[])?;
    // A rival candidate of the same term: not newer, so no reason to step down.
    let sent = script.deliver(2, 0, request(3));
    script.expect_node(0, 3, Role::Candidate, Some(0))?;
    script.expect_sent(sent, &[(2, refusal(3))])?;
    // A refusal of its own election: the same term, so nothing to adopt.
    let sent = script.deliver(1, 0, refusal(3));
    script.expect_node(0, 3, Role::Candidate, Some(0))?;
    script.expect_sent(sent, &[])?;

    // A follower that learned of term 6 hears from a candidate of term 2.
    let mut script = Script::new(3);
    script.deliver(2, 1, refusal(6));
    let sent = script.deliver(0, 1, request(2));
    script.expect_node(1, 6, Role::Follower, None)?;
    script.expect_sent(sent, &[(0, refusal(6))])
}

fn stale_timer(_: &mut Ctx) -> CheckResult {
    let mut script = Script::new(3);
    let first = generation(script.node(0))?;
    let sent = script.fire(
        0,
        first.wrapping_sub(1),
        "a timer older than the one start() set",
    );
    script.expect_node(0, 0, Role::Follower, None)?;
    script.expect_sent(sent, &[])?;

    script.time_out(0)?;
    script.expect_node(0, 1, Role::Candidate, Some(0))?;
    // The timer that just fired was replaced when the election began.
    let sent = script.fire(0, first, "the timer that already fired, now replaced");
    script.expect_node(0, 1, Role::Candidate, Some(0))?;
    script.expect_sent(sent, &[])?;
    // The current one still counts.
    let sent = script.time_out(0)?;
    script.expect_node(0, 2, Role::Candidate, Some(0))?;
    script.expect_sent(sent, &[(1, request(2)), (2, request(2))])
}

/// Checks that node `id` of `script` has an election timer pending, due 150 to 300 ms after
/// `set_at`, and fires the latest one: it must start the election of term `term`.
fn fire_pending(
    script: &mut crate::support::Script<Node>,
    id: NodeId,
    set_at: Duration,
    term: u64,
) -> CheckResult {
    let Some((at, timer)) = script.pending(id).last().cloned() else {
        return Err(script.failure(format!(
            "expected: node {id} has an election timer pending (set with ctx.set_timer)\n\
             got:      no timer pending: nothing would ever start the next election"
        )));
    };
    let delay = at - set_at;
    script.expect(
        (Duration::from_millis(150)..Duration::from_millis(300)).contains(&delay),
        format!(
            "expected: node {id}'s latest timer, {timer:?}, fires 150 to 300 ms after it was set \
             (ELECTION_TIMEOUT_MS)\ngot:      it fires after {delay:?}"
        ),
    )?;
    script.fire_latest(id, |_| true);
    let node = script.node(id);
    let got = (node.term(), node.role(), node.voted_for());
    script.expect(
        got == (term, Role::Candidate, Some(id)),
        format!(
            "expected: node {id}'s latest pending timer, {timer:?}, starts the election of term \
             {term} (Candidate, voted for itself)\ngot:      term {}, {:?}, voted_for {:?}",
            got.0, got.1, got.2
        ),
    )
}

fn timer_pending(_: &mut Ctx) -> CheckResult {
    let mut script = crate::support::Script::<Node>::new(3);
    for term in 1..=3 {
        let set_at = script.now();
        fire_pending(&mut script, 0, set_at, term)?;
    }
    // A node that adopts a higher term keeps a timer that still counts.
    script.deliver(2, 1, request(5));
    let set_at = Duration::ZERO;
    fire_pending(&mut script, 1, set_at, 6)
}

fn random_timeouts(_: &mut Ctx) -> CheckResult {
    const NODES: usize = 5;
    const TIMERS: usize = 4;
    let mut script = crate::support::Script::<Node>::new(NODES);
    // The timeout of each election timer each node sets: at its start, then at each election.
    let mut drawn: Vec<Vec<Duration>> = vec![Vec::new(); NODES];
    for (id, timeouts) in drawn.iter_mut().enumerate() {
        for k in 0..TIMERS {
            // Every node started at time 0; each later timer is set when the last one fires.
            let mut set_at = Duration::ZERO;
            if k > 0 {
                script.fire_latest(id, |_| true);
                set_at = script.now();
            }
            let Some((at, _)) = script.pending(id).last().cloned() else {
                return Err(script.failure(format!(
                    "expected: node {id} has an election timer pending (set with ctx.set_timer)\n\
                     got:      none"
                )));
            };
            timeouts.push(at - set_at);
        }
    }
    let did = format!(
        "did:      started {NODES} nodes, and fired each node's latest election timer {} times \
         (each election sets a new one)",
        TIMERS - 1
    );
    let show = |timeouts: &[Duration]| {
        let shown: Vec<String> = timeouts.iter().map(|t| format!("{t:?}")).collect();
        shown.join(", ")
    };
    for (id, timeouts) in drawn.iter().enumerate() {
        if timeouts.iter().all(|t| *t == timeouts[0]) {
            return fail(format!(
                "{did}\nexpected: node {id}'s {TIMERS} election timeouts differ: each is drawn at \
                 random from ELECTION_TIMEOUT_MS (150..300 ms), so that two nodes rarely time out \
                 together\ngot:      {}",
                show(timeouts)
            ));
        }
    }
    let first: Vec<Duration> = drawn.iter().map(|timeouts| timeouts[0]).collect();
    expect(
        first.iter().any(|t| *t != first[0]),
        format!(
            "{did}\nexpected: the {NODES} nodes' first election timeouts differ: each node draws \
             its own at random from ELECTION_TIMEOUT_MS (150..300 ms)\ngot:      {}",
            show(&first)
        ),
    )
}

/// The term a message (as the trace shows it) carries.
fn term_of(what: &str) -> Option<u64> {
    let rest = what.split("term: ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
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

/// What one run must keep to: the rules of terms, or with `liveness` only "a new term at
/// least every 300 ms".
struct Watch {
    liveness: bool,
    terms: Vec<u64>,
    rose_at: Vec<Duration>,
    seen: usize,
    /// Each message sent so far: its receiver and the term it carries.
    carried: BTreeMap<u64, (NodeId, u64)>,
}

impl Watch {
    fn new(n: usize, liveness: bool) -> Watch {
        Watch {
            liveness,
            terms: vec![0; n],
            rose_at: vec![Duration::ZERO; n],
            seen: 0,
            carried: BTreeMap::new(),
        }
    }

    fn observe(&mut self, sim: &Sim<Node>) -> Result<(), String> {
        let now = sim.now();
        for id in 0..sim.len() {
            let node = sim.node(id).expect("these runs crash nobody");
            let term = node.term();
            let before = self.terms[id];
            if term != before {
                self.terms[id] = term;
                self.rose_at[id] = now;
            }
            if self.liveness {
                if now.saturating_sub(self.rose_at[id]) > Duration::from_millis(300) {
                    return Err(format!(
                        "node {id} has been in term {term} since {:?}, more than 300 ms: its \
                         election timer should have fired and started term {}",
                        self.rose_at[id],
                        term + 1
                    ));
                }
                continue;
            }
            if term < before {
                return Err(format!(
                    "node {id} went back from term {before} to term {term}: terms only move \
                     forward"
                ));
            }
            match (node.role(), node.voted_for()) {
                (Role::Leader, _) => {
                    return Err(format!(
                        "node {id} became Leader of term {term}, but no vote is ever granted \
                         in this scene"
                    ));
                }
                (Role::Candidate, Some(v)) if v == id => {}
                (Role::Follower, None) => {}
                (role, voted_for) => {
                    return Err(format!(
                        "node {id} is a {role:?} of term {term} with voted_for {voted_for:?}: a \
                         candidate has voted for itself, and a node that adopts a newer term \
                         follows, with no vote yet"
                    ));
                }
            }
        }
        if self.liveness {
            return Ok(());
        }
        let events = &sim.trace().events;
        for event in &events[self.seen..] {
            match event {
                TraceEvent::Sent {
                    id, from, to, what, ..
                } => {
                    let Some(carried) = term_of(what) else {
                        continue;
                    };
                    let term = self.terms[*from];
                    if carried != term {
                        return Err(format!(
                            "node {from}, in term {term}, sent {what} to node {to}: a message \
                             carries its sender's current term"
                        ));
                    }
                    self.carried.insert(*id, (*to, carried));
                }
                TraceEvent::Delivered { id, .. } => {
                    if let Some(&(to, carried)) = self.carried.get(id) {
                        let term = self.terms[to];
                        if term < carried {
                            return Err(format!(
                                "node {to} got a message of term {carried} (message #{id}) and \
                                 stayed in term {term}: a higher term is adopted at once"
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        self.seen = events.len();
        Ok(())
    }
}

fn run(seed: u64, n: usize, faults: Faults, until: Duration, liveness: bool) -> CheckResult {
    let profile = faults.name;
    let mut sim = crate::support::cluster!(n, faults, seed);
    let mut watch = Watch::new(n, liveness);
    let result = sim.run_until(until, |sim| watch.observe(sim));
    let Err(broken) = result else {
        return Ok(());
    };
    let path = std::env::temp_dir().join(format!("raft-01-terms-run-{seed}.svg"));
    let picture = match kit::diagram::write(sim.trace(), &path) {
        Ok(()) => format!(
            "picture of the run: {} (to step through it event by event, open {})",
            path.display(),
            path.with_extension("html").display()
        ),
        Err(error) => format!("(could not draw the run: {error})"),
    };
    fail(format!(
        "ran {n} nodes on a {profile} network (simulated run {seed})\nat {:?}: {broken}\n{picture}",
        sim.now()
    ))
}

fn random_runs(ctx: &mut Ctx) -> CheckResult {
    for (k, seed) in seeds(ctx, 24).enumerate() {
        let faults = profiles()[k % 4].clone();
        let n = if k % 2 == 0 { 5 } else { 3 };
        ctx.doing(format!(
            "running {n} nodes on a {} network, simulated run {seed}",
            faults.name
        ));
        run(seed, n, faults, Duration::from_secs(3), false)?;
    }
    Ok(())
}

fn keeps_trying(ctx: &mut Ctx) -> CheckResult {
    for (k, seed) in seeds(ctx, 12).enumerate() {
        let faults = profiles()[k % 4].clone();
        let n = if k % 2 == 0 { 3 } else { 5 };
        ctx.doing(format!(
            "running {n} nodes on a {} network, simulated run {seed}",
            faults.name
        ));
        run(seed, n, faults, Duration::from_secs(2), true)?;
    }
    Ok(())
}
