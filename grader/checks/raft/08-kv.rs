//! Hidden checks for raft/kv.

use std::collections::BTreeMap;
use std::time::Duration;

use judge::prelude::*;
use kit::consensus::{NodeView, SafetyChecker};
use kit::lin::{self, KvModel, KvOp, Operation, Verdict};
use kit::net::{Faults, NodeId, Sim};
use raft_kv::{Command, Node, NotLeader, Op, Role};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "every node applies puts, appends and gets in log order, each client's requests \
             numbered 1, 2, 3...: a get returns what the writes before it left",
            applies_in_order,
        )
        .check(
            "result() tells a request's outcome only once it is applied, and only for the \
             client's latest request",
            results_of_the_latest_request,
        )
        .check(
            "a retry of a request already in the log (an append, a get or a put) takes effect \
             once, on every node, and is answered with the first outcome",
            retries_take_effect_once,
        )
        .check(
            "a late retry of an older request, committed after the client's next one, changes \
             nothing",
            late_retry_of_an_older_request,
        )
        .check(
            "under loss, duplication, reordering, partitions and crashes, clients that retry \
             get linearizable answers, and once the weather clears they all finish and every \
             node holds the same store",
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

/// A command as the safety checker compares it: the request it carries.
fn short(command: &Command) -> String {
    format!("{}#{}", command.client_id, command.seq)
}

fn show(command: &Command) -> String {
    let op = match &command.op {
        Op::Put { key, value } => format!("put {key}={value:?}"),
        Op::Append { key, value } => format!("append {value:?} to {key}"),
        Op::Get { key } => format!("get {key}"),
    };
    format!("client {} request {}: {op}", command.client_id, command.seq)
}

/// The view of a node that the safety checker needs.
fn view(node: &Node) -> NodeView {
    NodeView {
        term: node.term(),
        leader: node.role() == Role::Leader,
        first_index: 1,
        log_terms: node.log().iter().map(|e| e.term).collect(),
        log_commands: node.log().iter().map(|e| short(&e.command)).collect(),
        commit_index: node.commit_index(),
        applied: node
            .applied()
            .iter()
            .enumerate()
            .map(|(i, c)| (i as u64 + 1, short(c)))
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
    checker.safety.observe(&views)
}

/// Writes the run's space-time diagram; the line to append to a failure message.
fn picture(sim: &Sim<Node>, seed: u64) -> String {
    let path = std::env::temp_dir().join(format!("raft-08-kv-run-{seed}.svg"));
    match kit::diagram::write(sim.trace(), &path) {
        Ok(()) => format!(
            "\npicture of the run: {} (to step through it event by event, open {})",
            path.display(),
            path.with_extension("html").display()
        ),
        Err(error) => format!("\n(the picture of the run could not be written: {error})"),
    }
}

/// The node that leads the highest term, if any.
fn leader(sim: &Sim<Node>) -> Option<NodeId> {
    (0..sim.len())
        .filter(|&i| sim.node(i).is_some_and(|n| n.role() == Role::Leader))
        .max_by_key(|&i| sim.node(i).map_or(0, Node::term))
}

fn put(client_id: u64, seq: u64, key: &str, value: &str) -> Command {
    Command {
        client_id,
        seq,
        op: Op::Put {
            key: key.into(),
            value: value.into(),
        },
    }
}

fn append(client_id: u64, seq: u64, key: &str, value: &str) -> Command {
    Command {
        client_id,
        seq,
        op: Op::Append {
            key: key.into(),
            value: value.into(),
        },
    }
}

fn get(client_id: u64, seq: u64, key: &str) -> Command {
    Command {
        client_id,
        seq,
        op: Op::Get { key: key.into() },
    }
}

/// Three nodes on an in-order network, a leader, and the story so far for failure messages.
struct Cluster {
    sim: Sim<Node>,
    seed: u64,
    checker: Checker,
    did: Vec<String>,
}

impl Cluster {
    fn start(seed: u64) -> Result<Cluster, Failure> {
        let mut cluster = Cluster {
            sim: crate::support::cluster!(3, in_order(), seed),
            seed,
            checker: Checker::new(),
            did: Vec::new(),
        };
        let limit = Duration::from_secs(3);
        cluster.run_until("a leader is elected", limit, |sim| leader(sim).is_some())?;
        Ok(cluster)
    }

    fn fail<T>(
        &self,
        expected: impl std::fmt::Display,
        got: impl std::fmt::Display,
    ) -> Result<T, Failure> {
        Err(Failure::new(format!(
            "did:\n  {}\nexpected: {expected}\ngot:      {got}{}",
            self.did.join("\n  "),
            picture(&self.sim, self.seed)
        )))
    }

    /// Runs until `done` holds (checking safety after every event), for at most `within`.
    fn run_until(
        &mut self,
        what: &str,
        within: Duration,
        done: impl Fn(&Sim<Node>) -> bool,
    ) -> Result<(), Failure> {
        let limit = self.sim.now() + within;
        let checker = &mut self.checker;
        let outcome = self.sim.run_until(limit, |sim| {
            observe(sim, checker)?;
            if done(sim) {
                Err(String::new())
            } else {
                Ok(())
            }
        });
        match outcome {
            Err(error) if error.is_empty() => Ok(()),
            Err(error) => self.fail("the cluster stays safe", error),
            Ok(()) => self.fail(
                format!("{what} within {within:?} on a network that loses nothing"),
                "it did not happen",
            ),
        }
    }

    fn leader(&self) -> Result<NodeId, Failure> {
        match leader(&self.sim) {
            Some(id) => Ok(id),
            None => self.fail("a leader", "none"),
        }
    }

    /// Proposes `command` at the leader: its index.
    fn propose(&mut self, command: &Command) -> Result<u64, Failure> {
        let id = self.leader()?;
        self.did
            .push(format!("node {id} (leader) is asked: {}", show(command)));
        self.sim.note(id, show(command));
        let proposed = command.clone();
        match self.sim.call(id, |node, ctx| node.propose(proposed, ctx)) {
            Some(Ok(index)) => Ok(index),
            other => self.fail("the leader accepts the proposal", format!("{other:?}")),
        }
    }

    /// Runs until every node has applied the log up to `index`.
    fn settle(&mut self, index: u64) -> Result<(), Failure> {
        self.run_until(
            &format!("every node applies entries up to {index}"),
            Duration::from_secs(1),
            |sim| {
                (0..sim.len()).all(|i| {
                    sim.node(i)
                        .is_some_and(|n| n.applied().len() as u64 >= index)
                })
            },
        )
    }

    /// Proposes `command`, waits for every node to apply it, and returns its outcome at the
    /// leader.
    fn submit(&mut self, command: &Command) -> Result<Option<String>, Failure> {
        let index = self.propose(command)?;
        self.settle(index)?;
        let id = self.leader()?;
        match self
            .sim
            .node(id)
            .and_then(|n| n.result(command.client_id, command.seq))
        {
            Some(outcome) => {
                self.did
                    .push(format!("it is applied everywhere; outcome {outcome:?}"));
                Ok(outcome)
            }
            None => self.fail(
                format!(
                    "result({}, {}) on node {id}, which applied it, is Some(..)",
                    command.client_id, command.seq
                ),
                "None",
            ),
        }
    }

    /// Every node's store is `expected`.
    fn expect_stores(&self, expected: &[(&str, &str)]) -> CheckResult {
        let expected: BTreeMap<String, String> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for id in 0..self.sim.len() {
            let store = self.sim.node(id).map(Node::store);
            if store != Some(&expected) {
                return self.fail(
                    format!("every node's store is {expected:?}"),
                    format!("node {id}'s is {store:?}"),
                );
            }
        }
        Ok(())
    }

    fn expect_outcome(
        &self,
        command: &Command,
        got: Option<String>,
        expected: Option<&str>,
    ) -> CheckResult {
        let expected = expected.map(str::to_string);
        if got != expected {
            return self.fail(
                format!("{} returns {expected:?}", show(command)),
                format!("{got:?}"),
            );
        }
        Ok(())
    }
}

fn applies_in_order(ctx: &mut Ctx) -> CheckResult {
    let mut cluster = Cluster::start(ctx.seed())?;
    let steps: [(Command, Option<&str>); 9] = [
        (put(1, 1, "x", "1"), None),
        (append(2, 1, "x", "2"), None),
        (get(1, 2, "x"), Some("12")),
        (get(2, 2, "y"), None),
        (append(1, 3, "z", "q"), None),
        (put(2, 3, "y", "a"), None),
        (put(1, 4, "x", "3"), None),
        (get(2, 4, "x"), Some("3")),
        (get(1, 5, "z"), Some("q")),
    ];
    for (command, expected) in &steps {
        let got = cluster.submit(command)?;
        cluster.expect_outcome(command, got, *expected)?;
    }
    cluster.expect_stores(&[("x", "3"), ("y", "a"), ("z", "q")])
}

fn results_of_the_latest_request(ctx: &mut Ctx) -> CheckResult {
    let mut cluster = Cluster::start(ctx.seed())?;
    let first = put(1, 1, "k", "v");
    let index = cluster.propose(&first)?;
    let l = cluster.leader()?;
    let early = cluster.sim.node(l).and_then(|n| n.result(1, 1));
    if early.is_some() {
        return cluster.fail(
            "result(1, 1) is None: the put is not committed yet",
            format!("{early:?}"),
        );
    }
    cluster.settle(index)?;
    let done = cluster.sim.node(l).and_then(|n| n.result(1, 1));
    if done != Some(None) {
        return cluster.fail(
            "result(1, 1) is Some(None): the put is applied",
            format!("{done:?}"),
        );
    }
    cluster.did.push("it is applied everywhere".into());
    let second = get(1, 2, "k");
    let index = cluster.propose(&second)?;
    let early = cluster.sim.node(l).and_then(|n| n.result(1, 2));
    if early.is_some() {
        return cluster.fail(
            "result(1, 2) is None: the get is not committed yet",
            format!("{early:?} (the outcome of request 1?)"),
        );
    }
    cluster.settle(index)?;
    cluster.did.push("it is applied everywhere".into());
    for id in 0..3 {
        let node = cluster.sim.node(id);
        let latest = node.and_then(|n| n.result(1, 2));
        if latest != Some(Some("v".into())) {
            return cluster.fail(
                format!("result(1, 2) on node {id} is Some(Some(\"v\"))"),
                format!("{latest:?}"),
            );
        }
        let older = node.and_then(|n| n.result(1, 1));
        if older.is_some() {
            return cluster.fail(
                format!("result(1, 1) on node {id} is None: request 1 is no longer the latest"),
                format!("{older:?}"),
            );
        }
        let stranger = node.and_then(|n| n.result(2, 1));
        if stranger.is_some() {
            return cluster.fail(
                format!("result(2, 1) on node {id} is None: client 2 never asked anything"),
                format!("{stranger:?}"),
            );
        }
    }
    Ok(())
}

fn retries_take_effect_once(ctx: &mut Ctx) -> CheckResult {
    let mut cluster = Cluster::start(ctx.seed())?;
    // Committed, then retried: the reply was lost.
    let first = append(1, 1, "k", "x");
    let got = cluster.submit(&first)?;
    cluster.expect_outcome(&first, got, None)?;
    cluster
        .did
        .push("the reply is lost; the client retries".into());
    let got = cluster.submit(&first)?;
    cluster.expect_outcome(&first, got, None)?;
    cluster.expect_stores(&[("k", "x")])?;
    // Retried before the first copy committed: both copies in the log.
    let second = append(1, 2, "k", "y");
    cluster.propose(&second)?;
    cluster
        .did
        .push("no reply yet; the client retries at once".into());
    let got = cluster.submit(&second)?;
    cluster.expect_outcome(&second, got, None)?;
    cluster.expect_stores(&[("k", "xy")])?;
    // A get, answered, then overwritten by another client, then retried.
    let read = get(1, 3, "k");
    let got = cluster.submit(&read)?;
    cluster.expect_outcome(&read, got, Some("xy"))?;
    let other = put(2, 1, "k", "z");
    cluster.submit(&other)?;
    cluster
        .did
        .push("client 1's reply to the get was lost; it retries".into());
    let got = cluster.submit(&read)?;
    cluster.expect_outcome(&read, got, Some("xy"))?;
    cluster.expect_stores(&[("k", "z")])?;
    // A put, overwritten by another client, then retried: writing it again would undo the
    // other client's write, which came after it.
    let write = put(1, 4, "k", "w");
    cluster.submit(&write)?;
    let other = put(2, 2, "k", "v");
    cluster.submit(&other)?;
    cluster
        .did
        .push("client 1's reply to its put was lost; it retries".into());
    let got = cluster.submit(&write)?;
    cluster.expect_outcome(&write, got, None)?;
    cluster.expect_stores(&[("k", "v")])
}

fn late_retry_of_an_older_request(ctx: &mut Ctx) -> CheckResult {
    let mut cluster = Cluster::start(ctx.seed())?;
    let first = append(1, 1, "k", "a");
    cluster.submit(&first)?;
    let second = append(1, 2, "k", "b");
    cluster.submit(&second)?;
    cluster.did.push(
        "a retry of request 1, sent before its answer came and delayed in the network, reaches \
         the leader"
            .into(),
    );
    let index = cluster.propose(&first)?;
    cluster.settle(index)?;
    cluster.expect_stores(&[("k", "ab")])?;
    let l = cluster.leader()?;
    let latest = cluster.sim.node(l).and_then(|n| n.result(1, 2));
    if latest != Some(None) {
        return cluster.fail(
            "result(1, 2) is still Some(None): request 2 is still the client's latest",
            format!("{latest:?}"),
        );
    }
    Ok(())
}

/// Retries a request that got no answer after this long.
const RETRY: Duration = Duration::from_millis(80);
const TICK: Duration = Duration::from_millis(10);
const KEYS: [&str; 2] = ["x", "y"];

struct Client {
    id: u64,
    seq: u64,
    target: NodeId,
    /// The request waiting for its answer: the command, its place in the history, and when
    /// to try again.
    pending: Option<(Command, usize, Duration)>,
}

fn random_runs(ctx: &mut Ctx) -> CheckResult {
    let runs = [
        (3, Faults::lossy()),
        (5, Faults::everything()),
        (5, Faults::everything()),
    ];
    for (k, (n, faults)) in runs.into_iter().enumerate() {
        let seed = ctx.seed().wrapping_add(k as u64 * 7919);
        ctx.doing(format!(
            "running {n} nodes and 3 clients under {} faults, simulated run {seed}",
            faults.name
        ));
        random_run(n, faults, seed)?;
    }
    Ok(())
}

fn to_lin(op: &Op) -> KvOp {
    match op {
        Op::Put { key, value } => KvOp::Put(key.clone(), value.clone()),
        Op::Append { key, value } => KvOp::Append(key.clone(), value.clone()),
        Op::Get { key } => KvOp::Get(key.clone()),
    }
}

fn micros(at: Duration) -> u64 {
    at.as_micros() as u64
}

/// The client's next request: into the history, and off to its target.
fn ask(
    sim: &mut Sim<Node>,
    client: &mut Client,
    op: Op,
    history: &mut Vec<Operation<KvOp, Option<String>>>,
) {
    client.seq += 1;
    history.push(Operation {
        client: client.id as usize,
        op: to_lin(&op),
        invoked: micros(sim.now()),
        returned: None,
    });
    let command = Command {
        client_id: client.id,
        seq: client.seq,
        op,
    };
    client.pending = Some((command, history.len() - 1, sim.now()));
    send(sim, client);
}

/// Sends the client's pending request to its target; on a refusal, picks the next target.
fn send(sim: &mut Sim<Node>, client: &mut Client) {
    let Some((command, _, retry_at)) = &mut client.pending else {
        return;
    };
    let n = sim.len();
    let proposed = command.clone();
    sim.note(
        client.target,
        format!("client {}: {}", client.id, show(command)),
    );
    match sim.call(client.target, |node, ctx| node.propose(proposed, ctx)) {
        Some(Ok(_)) => *retry_at = sim.now() + RETRY,
        Some(Err(NotLeader { leader_hint })) => {
            client.target = leader_hint
                .filter(|&hint| hint != client.target)
                .unwrap_or((client.target + 1) % n);
            *retry_at = sim.now();
        }
        None => {
            client.target = (client.target + 1) % n;
            *retry_at = sim.now();
        }
    }
}

fn random_run(n: usize, faults: Faults, seed: u64) -> CheckResult {
    let mut sim = crate::support::cluster!(n, faults.clone(), seed);
    let mut checker = Checker::new();
    let mut rng = seed;
    let mut random = move |below: u64| {
        rng = rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below
    };
    let mut clients: Vec<Client> = (1..=3)
        .map(|id| Client {
            id,
            seq: 0,
            target: id as usize % n,
            pending: None,
        })
        .collect();
    let mut history: Vec<Operation<KvOp, Option<String>>> = Vec::new();
    let broke = |sim: &Sim<Node>, error: String| {
        fail(format!(
            "{n} nodes, 3 clients, under {} faults (simulated run {seed}), at t={:?}: {error}{}",
            faults.name,
            sim.now(),
            picture(sim, seed)
        ))
    };
    // Clients ask away in bad weather; then the faults stop (crashed nodes restart), the clients
    // finish what they asked, and, once the last partition has healed too, read every key.
    let heal_at = Duration::from_millis(2500);
    let read_after = heal_at + Duration::from_millis(500);
    let deadline = heal_at + Duration::from_secs(5);
    let mut healed = false;
    let mut final_reads = false;
    loop {
        if !healed && sim.now() >= heal_at {
            healed = true;
            sim.set_faults(faults.healed());
            for id in 0..n {
                sim.restart(id);
            }
        }
        let now = sim.now();
        for client in &mut clients {
            if let Some((command, at, retry_at)) = &client.pending {
                let answer = sim
                    .node(client.target)
                    .and_then(|node| node.result(command.client_id, command.seq));
                if let Some(answer) = answer {
                    history[*at].returned = Some((micros(now), answer));
                    client.pending = None;
                } else if now >= *retry_at {
                    send(&mut sim, client);
                    continue;
                } else {
                    continue;
                }
            }
            if healed {
                continue;
            }
            let key = KEYS[random(KEYS.len() as u64) as usize].to_string();
            let value = format!("{}.{} ", client.id, client.seq + 1);
            let op = match random(5) {
                0 => Op::Put { key, value },
                1 | 2 => Op::Append { key, value },
                _ => Op::Get { key },
            };
            ask(&mut sim, client, op, &mut history);
        }
        if clients.iter().all(|c| c.pending.is_none()) && now >= read_after {
            if final_reads {
                break;
            }
            // A last read of every key, so that a request applied twice shows in the history.
            final_reads = true;
            for (client, key) in clients.iter_mut().zip(KEYS) {
                let op = Op::Get {
                    key: key.to_string(),
                };
                ask(&mut sim, client, op, &mut history);
            }
            continue;
        }
        if now >= deadline {
            let waiting: Vec<String> = clients
                .iter()
                .filter_map(|c| {
                    let (command, _, _) = c.pending.as_ref()?;
                    Some(format!("  {} (asking node {})", show(command), c.target))
                })
                .collect();
            return broke(
                &sim,
                format!(
                    "the faults stopped at t={heal_at:?}, and 5 s later these requests still had \
                     no answer:\n{}",
                    waiting.join("\n")
                ),
            );
        }
        let until = now + TICK;
        if let Err(error) = sim.run_until(until, |sim| observe(sim, &mut checker)) {
            return broke(&sim, error);
        }
    }
    match lin::check(&KvModel, &history, 200_000) {
        Verdict::Linearizable => {}
        verdict => return broke(&sim, format!("the clients' history is {verdict}")),
    }
    // The final reads committed everything before them: every node catches up.
    let settled_at = sim.now();
    let agree = |sim: &Sim<Node>| {
        let nodes: Vec<&Node> = (0..n).filter_map(|i| sim.node(i)).collect();
        nodes.len() == n
            && nodes.iter().all(|node| {
                node.applied().len() == nodes[0].applied().len() && node.store() == nodes[0].store()
            })
    };
    let limit = settled_at + Duration::from_secs(3);
    while !agree(&sim) && sim.now() < limit {
        let until = sim.now() + TICK;
        if let Err(error) = sim.run_until(until, |sim| observe(sim, &mut checker)) {
            return broke(&sim, error);
        }
    }
    if !agree(&sim) {
        let shown: Vec<String> = (0..n)
            .map(|i| match sim.node(i) {
                Some(node) => format!(
                    "  node {i}: term {}, {:?}, {} entries, commit index {}, applied {}, store {:?}",
                    node.term(),
                    node.role(),
                    node.last_log_index(),
                    node.commit_index(),
                    node.applied().len(),
                    node.store()
                ),
                None => format!("  node {i}: down"),
            })
            .collect();
        return broke(
            &sim,
            format!(
                "the weather cleared at t={heal_at:?}, every client had its answers at \
                 t={settled_at:?}, and 3 s later the nodes still disagree:\n{}",
                shown.join("\n")
            ),
        );
    }
    Ok(())
}
