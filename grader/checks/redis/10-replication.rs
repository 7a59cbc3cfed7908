//! Hidden checks for redis/replication.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::time::Duration;

use judge::prelude::*;
use kit::net::{Faults, NodeId, Process, Sim, TraceEvent};
use redis_replication::{BACKLOG, Command, Message, Node, NotPrimary, Role, TICK, TIMEOUT};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a new replica gets one full resync (the keyspace and the offset), then the \
             stream: its store, offset and history id equal the primary's; in sync on a quiet \
             network, it asks for nothing",
            full_sync,
        )
        .check(
            "writes stream to replicas in order over a network that reorders: appends land \
             in the order written, none twice",
            streams_in_order,
        )
        .check(
            "a network that loses, duplicates and reorders: once it heals, every replica \
             converges on the primary, a lost last command included",
            lossy_converges,
        )
        .check(
            "a replica cut off for fewer writes than the backlog holds catches up by a \
             partial resync (Continue), never a full one",
            partial_resync,
        )
        .check(
            "a replica cut off for more writes than the backlog holds catches up by a full \
             resync",
            full_resync_past_backlog,
        )
        .check(
            "WAIT counts the replicas that acknowledged everything written before it: not \
             before they do, at its timeout with fewer, at once for 0",
            wait_counts,
        )
        .check(
            "after the primary dies, the replica with the highest offset is promoted; the \
             other continues from it without a full resync; every write a WAIT saw \
             acknowledged survives",
            failover,
        )
        .check(
            "a primary cut off and replaced comes back as a replica: its writes nobody \
             acknowledged are gone, its history replaced by a full resync",
            demoted_primary,
        )
        .check(
            "a replica that crashes restarts as a replica of the same primary (it saved \
             that) and syncs again; a write to a replica is refused",
            restart_and_refusal,
        )
        .check(
            "an answer to a Psync that comes when the replica is not syncing (a stale \
             Continue or FullResync), a duplicate command and another history's command are \
             ignored",
            stale_answers,
        )
        .check(
            "random writes under loss, partitions and replica crashes: after the network \
             heals every replica converges on the primary",
            random_runs,
        )
}

// ---- a cluster and its story ----

fn set(key: &str, value: &str) -> Command {
    Command::Set {
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

fn append(key: &str, value: &str) -> Command {
    Command::Append {
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

fn del(key: &str) -> Command {
    Command::Del {
        key: key.as_bytes().to_vec(),
    }
}

fn show(command: &Command) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match command {
        Command::Set { key, value } => format!("SET {} {}", text(key), text(value)),
        Command::Del { key } => format!("DEL {}", text(key)),
        Command::Append { key, value } => format!("APPEND {} {}", text(key), text(value)),
    }
}

type Store = BTreeMap<Vec<u8>, Vec<u8>>;

fn apply(store: &mut Store, command: &Command) {
    match command {
        Command::Set { key, value } => {
            store.insert(key.clone(), value.clone());
        }
        Command::Del { key } => {
            store.remove(key);
        }
        Command::Append { key, value } => store
            .entry(key.clone())
            .or_default()
            .extend_from_slice(value),
    }
}

fn show_store(store: &Store) -> String {
    let pairs: Vec<String> = store
        .iter()
        .map(|(k, v)| {
            let v = String::from_utf8_lossy(v);
            let v = if v.len() > 24 {
                format!("{}..({} bytes)", &v[..12], v.len())
            } else {
                v.into_owned()
            };
            format!("{}={v}", String::from_utf8_lossy(k))
        })
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Writes the run's space-time diagram; the line to append to a failure message.
fn picture(sim: &Sim<Node>, seed: u64) -> String {
    let path = std::env::temp_dir().join(format!("redis-replication-run-{seed}.svg"));
    match kit::diagram::write(sim.trace(), &path) {
        Ok(()) => format!(
            "\npicture of the run: {} (to step through it event by event, open {})",
            path.display(),
            path.with_extension("html").display()
        ),
        Err(error) => format!("\n(the picture of the run could not be written: {error})"),
    }
}

/// Messages that go one way in order: every delay the same.
fn in_order() -> Faults {
    Faults {
        name: "in order",
        delay: (Duration::from_millis(2), Duration::from_millis(2)),
        ..Faults::reliable()
    }
}

struct Cluster {
    sim: Sim<Node>,
    seed: u64,
    did: Vec<String>,
}

impl Cluster {
    /// `n` nodes, all primaries of nothing, as fresh servers start.
    fn new(n: usize, faults: Faults, seed: u64) -> Cluster {
        let mut sim = Sim::<Node>::new(n, faults, seed);
        sim.label_nodes(|node| match node.role() {
            Role::Primary => format!("primary at {}", node.offset()),
            Role::Replica { primary } => format!("replica of {primary} at {}", node.offset()),
        });
        Cluster {
            sim,
            seed,
            did: Vec::new(),
        }
    }

    /// Node 0 the primary, every other node its replica, in sync.
    fn started(n: usize, faults: Faults, seed: u64) -> Result<Cluster, Failure> {
        let mut cluster = Cluster::new(n, faults, seed);
        for id in 1..n {
            cluster.replicate(id, 0);
        }
        cluster.settle(0, &(1..n).collect::<Vec<_>>(), Duration::from_secs(2))?;
        Ok(cluster)
    }

    fn note(&mut self, what: impl Into<String>) {
        let what = what.into();
        if self.did.len() > 40 {
            self.did.remove(1);
            self.did[0] = "...".into();
        }
        self.did.push(what);
    }

    fn fail<T>(&self, expected: impl Display, got: impl Display) -> Result<T, Failure> {
        Err(Failure::new(format!(
            "did:\n  {}\n  (at {} ms of simulated time)\nnodes:\n  {}\nexpected: {expected}\ngot:      {got}{}",
            self.did.join("\n  "),
            self.sim.now().as_millis(),
            self.states().join("\n  "),
            picture(&self.sim, self.seed)
        )))
    }

    fn states(&self) -> Vec<String> {
        (0..self.sim.len())
            .map(|id| match self.sim.node(id) {
                None => format!("node {id}: down"),
                Some(node) => format!(
                    "node {id}: {:?}, history {:016x} at offset {}, store {}",
                    node.role(),
                    node.replid(),
                    node.offset(),
                    show_store(node.store())
                ),
            })
            .collect()
    }

    fn replicate(&mut self, id: NodeId, primary: NodeId) {
        self.note(format!("node {id}: REPLICAOF {primary}"));
        self.sim.note(id, format!("REPLICAOF {primary}"));
        self.sim.call(id, |node, ctx| node.replicate(primary, ctx));
    }

    fn promote(&mut self, id: NodeId) {
        self.note(format!("node {id}: REPLICAOF NO ONE"));
        self.sim.note(id, "REPLICAOF NO ONE");
        self.sim.call(id, |node, ctx| node.promote(ctx));
    }

    fn write(&mut self, id: NodeId, command: &Command) -> Result<u64, Failure> {
        self.note(format!("node {id}: {}", show(command)));
        self.sim.note(id, show(command));
        let sent = command.clone();
        match self.sim.call(id, |node, ctx| node.write(sent, ctx)) {
            Some(Ok(offset)) => Ok(offset),
            other => self.fail(
                format!("node {id}, the primary, takes the write"),
                format!("{other:?}"),
            ),
        }
    }

    fn wait(&mut self, id: NodeId, replicas: usize, timeout: Duration) -> u64 {
        self.note(format!(
            "node {id}: WAIT {replicas} {}",
            timeout.as_millis()
        ));
        self.sim
            .note(id, format!("WAIT {replicas} {}", timeout.as_millis()));
        self.sim
            .call(id, |node, ctx| node.wait(replicas, timeout, ctx))
            .unwrap_or(0)
    }

    fn wait_result(&self, id: NodeId, wait: u64) -> Option<usize> {
        self.sim.node(id).and_then(|n| n.wait_result(wait))
    }

    fn run(&mut self, for_: Duration) {
        let until = self.sim.now() + for_;
        let _ = self.sim.run_until(until, |_| Ok::<(), ()>(()));
        self.note(format!("(the network runs for {} ms)", for_.as_millis()));
    }

    /// Runs until `done` holds, for at most `within`; false if it never did.
    fn run_until(&mut self, within: Duration, done: impl Fn(&Sim<Node>) -> bool) -> bool {
        let limit = self.sim.now() + within;
        let reached = self
            .sim
            .run_until(limit, |sim| if done(sim) { Err(()) } else { Ok(()) })
            .is_err();
        self.note(format!(
            "(the network runs{})",
            if reached {
                String::new()
            } else {
                format!(" for {} ms", within.as_millis())
            }
        ));
        reached
    }

    /// Every node of `replicas` has `primary`'s store, offset and history id.
    fn settle(&mut self, primary: NodeId, replicas: &[NodeId], within: Duration) -> CheckResult {
        let listed = replicas.to_vec();
        let synced = move |sim: &Sim<Node>| {
            let Some(p) = sim.node(primary) else {
                return false;
            };
            listed.iter().all(|&r| {
                sim.node(r).is_some_and(|n| {
                    n.offset() == p.offset() && n.replid() == p.replid() && n.store() == p.store()
                })
            })
        };
        if self.run_until(within, synced) {
            return Ok(());
        }
        self.fail(
            format!(
                "within {} ms, nodes {replicas:?} have the store, offset and history id of node {primary}",
                within.as_millis()
            ),
            "they do not (see the nodes above)",
        )
    }

    /// How many messages of a kind (its name, as `{:?}` starts) were sent to `to` so far.
    fn sent(&self, kind: &str, to: NodeId) -> usize {
        self.count_sent(kind, |_, t| t == to)
    }

    /// How many messages of a kind `from` sent so far.
    fn sent_by(&self, kind: &str, from: NodeId) -> usize {
        self.count_sent(kind, |f, _| f == from)
    }

    fn count_sent(&self, kind: &str, between: impl Fn(NodeId, NodeId) -> bool) -> usize {
        self.sim
            .trace()
            .events
            .iter()
            .filter(|e| {
                matches!(e, TraceEvent::Sent { from, to, what, .. }
                    if between(*from, *to) && what.starts_with(kind))
            })
            .count()
    }

    fn store(&self, id: NodeId) -> Option<Store> {
        self.sim.node(id).map(|n| n.store().clone())
    }
}

// ---- scripted checks ----

fn full_sync(ctx: &mut Ctx) -> CheckResult {
    let mut c = Cluster::new(2, in_order(), ctx.seed());
    let mut model = Store::new();
    for i in 0..20 {
        let command = if i % 5 == 4 {
            del(&format!("k{}", i - 2))
        } else {
            set(&format!("k{i}"), &format!("v{i}"))
        };
        apply(&mut model, &command);
        c.write(0, &command)?;
    }
    c.replicate(1, 0);
    // Psync at 2 ms, the snapshot at 4, its Ack at 6: well before the first tick's Ack.
    c.run(Duration::from_millis(10));
    let acked = c.sim.node(0).map(|n| n.replicas().clone());
    let expected: BTreeMap<NodeId, u64> = [(1, 20)].into();
    if acked.as_ref() != Some(&expected) {
        return c.fail(
            "node 0's replicas() is {1: 20} 10 ms after REPLICAOF: a replica acknowledges a snapshot as soon as it has applied it",
            format!("{acked:?}"),
        );
    }
    c.settle(0, &[1], Duration::from_secs(1))?;
    let role = c.sim.node(1).map(Node::role);
    if role != Some(Role::Replica { primary: 0 }) {
        return c.fail(
            "node 1's role is Replica { primary: 0 }",
            format!("{role:?}"),
        );
    }
    if c.store(1) != Some(model.clone()) {
        return c.fail(show_store(&model), "another store on node 1");
    }
    let full = c.sent("FullResync", 1);
    if full != 1 {
        return c.fail("one FullResync sent to node 1", format!("{full}"));
    }
    // The stream follows the snapshot, in order on this network: nothing to ask again for.
    let psyncs_before_stream = c.sent_by("Psync", 1);
    for i in 0..10 {
        let command = append("log", &i.to_string());
        apply(&mut model, &command);
        c.write(0, &command)?;
    }
    c.settle(0, &[1], Duration::from_secs(1))?;
    let full = c.sent("FullResync", 1);
    if full != 1 {
        return c.fail(
            "still one FullResync: the stream carries the rest",
            format!("{full}"),
        );
    }
    let asked = c.sent_by("Psync", 1) - psyncs_before_stream;
    if asked != 0 {
        return c.fail(
            "no Psync from node 1 while commands come in order, each the next one",
            format!("{asked} Psync sent"),
        );
    }
    // A quiet second: the pings say the replica is up to date, so it asks for nothing.
    let psyncs = c.sent_by("Psync", 1);
    c.run(TIMEOUT * 2);
    let asked = c.sent_by("Psync", 1) - psyncs;
    if asked != 0 {
        return c.fail(
            "no Psync from node 1 in a quiet second: the primary's pings (every TICK) tell it it is in sync",
            format!("{asked} Psync sent"),
        );
    }
    // The primary knows its replica and, after a tick, what it has.
    c.run(TICK * 3);
    let acked = c.sim.node(0).map(|n| n.replicas().clone());
    let expected: BTreeMap<NodeId, u64> = [(1, 30)].into();
    if acked.as_ref() != Some(&expected) {
        return c.fail(
            "node 0's replicas() is {1: 30}: node 1 acknowledged all 30 commands",
            format!("{acked:?}"),
        );
    }
    Ok(())
}

fn streams_in_order(ctx: &mut Ctx) -> CheckResult {
    // Delays between 1 and 10 ms, writes 1 ms apart: later commands often arrive first.
    let mut c = Cluster::started(3, Faults::reliable(), ctx.seed())?;
    let mut model = Store::new();
    for i in 0..150 {
        let command = match i % 7 {
            6 => set("b", &i.to_string()),
            5 => del("a"),
            _ => append(if i % 2 == 0 { "a" } else { "b" }, &format!("{i},")),
        };
        apply(&mut model, &command);
        c.write(0, &command)?;
        c.run(Duration::from_millis(1));
    }
    c.settle(0, &[1, 2], Duration::from_secs(2))?;
    if c.store(0) != Some(model.clone()) {
        return c.fail(format!("node 0's store {}", show_store(&model)), "another");
    }
    for id in [1, 2] {
        let full = c.sent("FullResync", id);
        if full != 1 {
            return c.fail(
                format!("one FullResync to node {id}, at the start: a reordered stream needs none"),
                format!("{full}"),
            );
        }
    }
    Ok(())
}

fn lossy_converges(ctx: &mut Ctx) -> CheckResult {
    for (round, seed) in [ctx.seed(), ctx.seed() ^ 0x5EED].into_iter().enumerate() {
        let mut c = Cluster::started(3, Faults::reliable(), seed)?;
        c.sim.set_faults(Faults::lossy());
        c.note("(the network starts losing, duplicating and reordering)");
        for i in 0..120 {
            let command = if i % 3 == 0 {
                set(&format!("k{}", i % 5), &i.to_string())
            } else {
                append("log", &format!("{i},"))
            };
            c.write(0, &command)?;
            c.run(Duration::from_millis(3));
        }
        // The last command is the one most easily lost for good: nothing comes after it.
        c.write(0, &set("last", &round.to_string()))?;
        c.sim.set_faults(Faults::lossy().healed());
        c.note("(the network heals)");
        c.settle(0, &[1, 2], TIMEOUT * 4)?;
    }
    Ok(())
}

fn partial_resync(ctx: &mut Ctx) -> CheckResult {
    // Missing nothing at all is still a partial resync: cut off with no writes, and a peer at
    // exactly the offset a promoted replica had reached.
    let mut d = Cluster::started(3, in_order(), ctx.seed())?;
    for i in 0..3 {
        d.write(0, &set(&format!("k{i}"), "v"))?;
    }
    d.settle(0, &[1, 2], Duration::from_secs(1))?;
    let before = d.sent("FullResync", 2);
    d.sim.partition(&[2], None);
    d.note("(node 2 is cut off; nothing is written)");
    d.run(TIMEOUT * 2);
    d.sim.partition(&[], None);
    d.note("(the network heals)");
    // Long enough for node 2, silent for a second, to have asked again and been answered.
    d.run(TIMEOUT * 2);
    d.settle(0, &[1, 2], TIMEOUT * 3)?;
    d.sim.crash(0, None);
    d.note("(node 0 crashes for good)");
    d.promote(1);
    d.replicate(2, 1);
    d.settle(1, &[2], TIMEOUT * 3)?;
    let full = d.sent("FullResync", 2) - before;
    if full != 0 {
        return d.fail(
            "no full resync: node 2 missed nothing (its offset is the primary's, then the promoted node's)",
            format!("{full} FullResync sent to it"),
        );
    }
    let mut c = Cluster::started(3, in_order(), ctx.seed())?;
    let before = c.sent("FullResync", 2);
    c.sim.partition(&[2], None);
    c.note("(node 2 is cut off)");
    for i in 0..BACKLOG as u64 - 4 {
        c.write(0, &append("log", &format!("{i},")))?;
        c.run(Duration::from_millis(5));
    }
    c.run(TIMEOUT * 2);
    c.sim.set_faults(in_order());
    c.sim.partition(&[], None);
    c.note("(the network heals)");
    c.settle(0, &[1, 2], TIMEOUT * 3)?;
    let full = c.sent("FullResync", 2) - before;
    if full != 0 {
        return c.fail(
            format!(
                "node 2 catches up by a partial resync: it missed {} commands, the backlog holds {BACKLOG}",
                BACKLOG - 4
            ),
            format!("{full} FullResync sent to it"),
        );
    }
    if c.sent("Continue", 2) == 0 {
        return c.fail("a Continue sent to node 2", "none");
    }
    Ok(())
}

fn full_resync_past_backlog(ctx: &mut Ctx) -> CheckResult {
    // The backlog's edge: BACKLOG missed commands are all still in it, one more is not.
    for (missed, full_expected) in [
        (BACKLOG as u64, false),
        (BACKLOG as u64 + 1, true),
        (BACKLOG as u64 + 10, true),
    ] {
        let mut c = Cluster::started(2, in_order(), ctx.seed())?;
        let before = c.sent("FullResync", 1);
        c.sim.partition(&[1], None);
        c.note("(node 1 is cut off)");
        for i in 0..missed {
            c.write(0, &append("log", &format!("{i},")))?;
        }
        c.run(TIMEOUT * 2);
        c.sim.partition(&[], None);
        c.note("(the network heals)");
        c.settle(0, &[1], TIMEOUT * 3)?;
        let full = c.sent("FullResync", 1) - before;
        if full_expected && full == 0 {
            return c.fail(
                format!(
                    "a full resync: node 1 missed {missed} commands, the backlog holds {BACKLOG}"
                ),
                "none was sent",
            );
        }
        if !full_expected && full != 0 {
            return c.fail(
                format!(
                    "a partial resync: node 1 missed {missed} commands, all still in the backlog of {BACKLOG}"
                ),
                format!("{full} FullResync sent to it"),
            );
        }
    }
    Ok(())
}

fn wait_counts(ctx: &mut Ctx) -> CheckResult {
    let mut c = Cluster::started(3, in_order(), ctx.seed())?;
    // Just after the replicas' ticks (they Ack every 100 ms): only a GetAck answers sooner.
    let since_tick = (c.sim.now().as_millis() % 100) as u64;
    c.run(Duration::from_millis((110 - since_tick) % 100));
    c.write(0, &set("a", "1"))?;
    // Nobody has the write yet: a WAIT cannot be answered now.
    let w = c.wait(0, 2, Duration::from_secs(1));
    if let Some(n) = c.wait_result(0, w) {
        return c.fail(
            "no answer yet: the replicas have not acknowledged the write",
            format!("Some({n}) at once"),
        );
    }
    let answered = c.run_until(Duration::from_millis(30), |sim| {
        sim.node(0).is_some_and(|n| n.wait_result(w).is_some())
    });
    let got = c.wait_result(0, w);
    if !answered || got != Some(2) {
        return c.fail(
            "Some(2) within 30 ms, long before the replicas' next tick: WAIT asks them to acknowledge at once (GetAck)",
            format!("{got:?}"),
        );
    }
    // WAIT 0 answers at once.
    let w = c.wait(0, 0, Duration::from_secs(1));
    let got = c.wait_result(0, w);
    if got != Some(2) {
        return c.fail(
            "Some(2) at once: WAIT 0 waits for nobody",
            format!("{got:?}"),
        );
    }
    // An answer, once given, stays: WAIT 1 answered by node 1 while node 2 is cut off keeps
    // its Some(1) after node 2 catches up and the WAIT's time runs out.
    c.sim.partition(&[2], None);
    c.note("(node 2 is cut off)");
    c.write(0, &set("b", "1"))?;
    let once = c.wait(0, 1, Duration::from_millis(300));
    c.run(Duration::from_millis(30));
    let first = c.wait_result(0, once);
    c.sim.partition(&[], None);
    c.note("(the network heals)");
    c.settle(0, &[1, 2], TIMEOUT * 3)?;
    c.run(Duration::from_millis(400));
    let later = c.wait_result(0, once);
    if first != Some(1) || later != Some(1) {
        return c.fail(
            "WAIT 1 answered Some(1) by the one replica reachable, and still Some(1) after its timeout",
            format!("{first:?}, then {later:?}"),
        );
    }
    // One replica cut off: WAIT 2 ends at its timeout with 1, not before.
    c.sim.partition(&[2], None);
    c.note("(node 2 is cut off)");
    c.write(0, &set("a", "2"))?;
    let w = c.wait(0, 2, Duration::from_millis(300));
    c.run(Duration::from_millis(250));
    let early = c.wait_result(0, w);
    if early.is_some() {
        return c.fail(
            "no answer 250 ms into a 300 ms WAIT 2 with one replica reachable",
            format!("{early:?}"),
        );
    }
    c.run(Duration::from_millis(100));
    let got = c.wait_result(0, w);
    if got != Some(1) {
        return c.fail(
            "Some(1) at the timeout: one replica acknowledged",
            format!("{got:?}"),
        );
    }
    // A replica sent a full resync has nothing until it acknowledges the snapshot.
    let mut d = Cluster::new(2, in_order(), ctx.seed());
    for i in 0..5 {
        d.write(0, &set(&format!("k{i}"), "v"))?;
    }
    d.replicate(1, 0);
    // The Psync arrives at 2 ms and is answered; the snapshot arrives at 4 ms, its Ack at 6.
    d.run(Duration::from_millis(3));
    let w = d.wait(0, 1, Duration::from_secs(1));
    if let Some(n) = d.wait_result(0, w) {
        return d.fail(
            "no answer yet: node 1 was sent a full resync and has not acknowledged it",
            format!("Some({n}) at once"),
        );
    }
    d.run(Duration::from_millis(20));
    let got = d.wait_result(0, w);
    if got != Some(1) {
        return d.fail(
            "Some(1) once node 1 acknowledged the snapshot",
            format!("{got:?}"),
        );
    }
    // Asking for more replicas than there are: the timeout, with all of them.
    c.sim.partition(&[], None);
    c.note("(the network heals)");
    c.settle(0, &[1, 2], TIMEOUT * 3)?;
    let w = c.wait(0, 3, Duration::from_millis(200));
    c.run(Duration::from_millis(300));
    let got = c.wait_result(0, w);
    if got != Some(2) {
        return c.fail(
            "Some(2) at the timeout of a WAIT 3 with two replicas",
            format!("{got:?}"),
        );
    }
    Ok(())
}

fn failover(ctx: &mut Ctx) -> CheckResult {
    for seed in [ctx.seed(), ctx.seed().wrapping_add(77)] {
        let mut c = Cluster::started(3, Faults::reliable(), seed)?;
        let mut acknowledged: Vec<(String, String)> = Vec::new();
        for i in 0..40u64 {
            let key = format!("k{}", i % 8);
            let value = i.to_string();
            c.write(0, &set(&key, &value))?;
            if i % 10 == 9 {
                let w = c.wait(0, 1, Duration::from_millis(200));
                c.run_until(Duration::from_millis(250), |sim| {
                    sim.node(0).is_some_and(|n| n.wait_result(w).is_some())
                });
                if c.wait_result(0, w).is_some_and(|n| n >= 1) {
                    // Everything written so far is on some replica.
                    let mut model = Store::new();
                    for j in 0..=i {
                        apply(&mut model, &set(&format!("k{}", j % 8), &j.to_string()));
                    }
                    acknowledged = model
                        .into_iter()
                        .map(|(k, v)| {
                            (
                                String::from_utf8_lossy(&k).into_owned(),
                                String::from_utf8_lossy(&v).into_owned(),
                            )
                        })
                        .collect();
                }
            } else {
                c.run(Duration::from_millis(1));
            }
        }
        // Node 2 falls a few writes behind; node 1 acknowledges them.
        c.run(Duration::from_millis(50));
        c.sim.partition(&[2], None);
        c.note("(node 2 is cut off)");
        for i in 0..3 {
            c.write(0, &set(&format!("late{i}"), "v"))?;
        }
        let w = c.wait(0, 1, Duration::from_millis(200));
        c.run_until(Duration::from_millis(250), |sim| {
            sim.node(0).is_some_and(|n| n.wait_result(w).is_some())
        });
        if c.wait_result(0, w) == Some(1) {
            for i in 0..3 {
                acknowledged.push((format!("late{i}"), "v".into()));
            }
        }
        // The primary dies with a write in flight; the network heals.
        c.write(0, &set("in-flight", "maybe"))?;
        c.sim.crash(0, None);
        c.note("(node 0 crashes for good)");
        c.sim.partition(&[], None);
        c.note("(the network heals)");
        let offsets: Vec<(u64, NodeId)> = [1, 2]
            .iter()
            .filter_map(|&id| c.sim.node(id).map(|n| (n.offset(), id)))
            .collect();
        let Some(&(_, chosen)) = offsets.iter().max() else {
            return c.fail("nodes 1 and 2 up", "down");
        };
        let other = 3 - chosen;
        let full_before = c.sent("FullResync", other);
        c.promote(chosen);
        c.replicate(other, chosen);
        c.settle(chosen, &[other], TIMEOUT * 3)?;
        let full = c.sent("FullResync", other) - full_before;
        if full != 0 {
            return c.fail(
                format!(
                    "node {other} continues from node {chosen}'s old history (kept with its offset at promotion): no full resync"
                ),
                format!("{full} FullResync sent to node {other}"),
            );
        }
        let store = c.store(chosen).unwrap_or_default();
        for (key, value) in &acknowledged {
            let got = store
                .get(key.as_bytes())
                .map(|v| String::from_utf8_lossy(v).into_owned());
            if got.as_deref() != Some(value) {
                return c.fail(
                    format!("{key}={value} on the new primary: a WAIT saw it acknowledged"),
                    format!("{key}={got:?}"),
                );
            }
        }
        // The new primary takes writes, and they stream.
        // The peer continued by a partial resync is one of the new primary's replicas: the
        // next write streams to it at once, not at its next Psync.
        c.write(chosen, &set("after", "failover"))?;
        c.settle(chosen, &[other], Duration::from_millis(50))?;
    }
    Ok(())
}

fn demoted_primary(ctx: &mut Ctx) -> CheckResult {
    let mut c = Cluster::started(3, in_order(), ctx.seed())?;
    for i in 0..10 {
        c.write(0, &set("k", &i.to_string()))?;
    }
    c.settle(0, &[1, 2], Duration::from_secs(1))?;
    c.sim.partition(&[0], None);
    c.note("(node 0, the primary, is cut off)");
    c.write(0, &set("k", "lost"))?;
    c.write(0, &set("only-on-0", "x"))?;
    let w = c.wait(0, 1, Duration::from_millis(100));
    c.run(Duration::from_millis(150));
    let got = c.wait_result(0, w);
    if got != Some(0) {
        return c.fail("Some(0): no replica can acknowledge", format!("{got:?}"));
    }
    c.promote(1);
    c.replicate(2, 1);
    c.write(1, &set("k", "new"))?;
    c.write(1, &append("new-log", "a"))?;
    c.sim.partition(&[], None);
    c.note("(the network heals)");
    c.replicate(0, 1);
    c.settle(1, &[0, 2], TIMEOUT * 3)?;
    let kept = c
        .sim
        .node(0)
        .map(|n| n.replicas().clone())
        .unwrap_or_default();
    if !kept.is_empty() {
        return c.fail(
            "node 0, a replica now, has no replicas of its own: replicas() is empty",
            format!("{kept:?}"),
        );
    }
    let store = c.store(0).unwrap_or_default();
    if store.contains_key(&b"only-on-0"[..]) || store.get(&b"k"[..]) != Some(&b"new".to_vec()) {
        return c.fail(
            "node 0 has node 1's keyspace: k=new, and no only-on-0",
            show_store(&store),
        );
    }
    Ok(())
}

fn restart_and_refusal(ctx: &mut Ctx) -> CheckResult {
    let mut c = Cluster::started(2, in_order(), ctx.seed())?;
    for i in 0..5 {
        c.write(0, &set(&format!("k{i}"), "v"))?;
    }
    c.settle(0, &[1], Duration::from_secs(1))?;
    let refused = c.sim.call(1, |node, ctx| node.write(set("x", "y"), ctx));
    c.note("node 1: SET x y");
    if refused != Some(Err(NotPrimary)) {
        return c.fail(
            "Err(NotPrimary): node 1 is a replica",
            format!("{refused:?}"),
        );
    }
    c.sim.crash(1, None);
    c.note("(node 1 crashes)");
    for i in 5..10 {
        c.write(0, &set(&format!("k{i}"), "v"))?;
    }
    c.sim.restart(1);
    c.note("(node 1 restarts: it kept nothing but what it saved)");
    let role = c.sim.node(1).map(Node::role);
    if role != Some(Role::Replica { primary: 0 }) {
        return c.fail(
            "node 1 restarts as Replica { primary: 0 }, as it saved",
            format!("{role:?}"),
        );
    }
    c.settle(0, &[1], TIMEOUT * 3)?;
    // A promoted node saved that it follows nobody: it restarts as a primary.
    c.promote(1);
    c.sim.crash(1, None);
    c.sim.restart(1);
    c.note("(node 1 crashes and restarts)");
    let role = c.sim.node(1).map(Node::role);
    if role != Some(Role::Primary) {
        return c.fail(
            "node 1, promoted before the crash, restarts as Primary, as it saved",
            format!("{role:?}"),
        );
    }
    Ok(())
}

fn stale_answers(ctx: &mut Ctx) -> CheckResult {
    let mut c = Cluster::started(2, in_order(), ctx.seed())?;
    for i in 0..4 {
        c.write(0, &set(&format!("k{i}"), "v"))?;
    }
    c.settle(0, &[1], Duration::from_secs(1))?;
    let Some(node) = c.sim.node(1) else {
        return c.fail("node 1 up", "down");
    };
    let (offset, replid, store) = (node.offset(), node.replid(), node.store().clone());
    let stale = [
        Message::Continue {
            replid: replid ^ 1,
            offset,
            commands: vec![append("k0", "-stale")],
        },
        Message::FullResync {
            replid: replid ^ 2,
            offset: 1,
            snapshot: vec![(b"stale".to_vec(), b"x".to_vec())],
        },
        // A duplicate of a command it has applied, and the next command of another history.
        Message::Command {
            replid,
            offset,
            command: append("k0", "-again"),
        },
        Message::Command {
            replid: replid ^ 4,
            offset: offset + 1,
            command: append("k0", "-foreign"),
        },
    ];
    for message in stale {
        let shown = format!("{message:?}");
        c.note(format!("node 1 receives from node 0, late: {shown}"));
        c.sim.call(1, |node, ctx| node.on_message(0, message, ctx));
        let Some(node) = c.sim.node(1) else {
            return c.fail("node 1 up", "down");
        };
        if node.offset() != offset || node.replid() != replid || node.store() != &store {
            return c.fail(
                "node 1 ignores it: it is not syncing, so no Continue or FullResync is its answer",
                "node 1 took it (see its history, offset and store above)",
            );
        }
    }
    Ok(())
}

fn random_runs(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["seed", "writes"],
        12,
        (any::<u64>(), 50usize..200),
        |(seed, writes)| {
            let mut c = Cluster::started(4, Faults::reliable(), seed)?;
            c.sim.set_faults(Faults::lossy());
            c.note("(the network starts losing, duplicating and reordering)");
            let mut rng = seed;
            let mut next = || {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                rng >> 33
            };
            for i in 0..writes {
                let command = match next() % 4 {
                    0 => del(&format!("k{}", next() % 6)),
                    1 => set(&format!("k{}", next() % 6), &i.to_string()),
                    _ => append(&format!("k{}", next() % 6), &format!("{i},")),
                };
                c.write(0, &command)?;
                match next() % 40 {
                    0 => {
                        let id = 1 + (next() % 3) as usize;
                        c.sim.crash(id, Some(Duration::from_millis(200)));
                        c.note(format!("(node {id} crashes for 200 ms)"));
                    }
                    1 => {
                        let id = 1 + (next() % 3) as usize;
                        c.sim.partition(&[id], Some(Duration::from_millis(300)));
                        c.note(format!("(node {id} is cut off for 300 ms)"));
                    }
                    _ => {}
                }
                c.run(Duration::from_millis(1 + next() % 8));
            }
            c.sim.set_faults(Faults::lossy().healed());
            c.run(Duration::from_millis(400));
            c.note("(the network heals)");
            c.settle(0, &[1, 2, 3], TIMEOUT * 4)
        },
    )
}
