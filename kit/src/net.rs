//! A deterministic network simulator for sans-IO nodes.
//!
//! A node is a state machine ([`Process`]): messages and timers in; messages, timers and saved
//! state out, all through a [`Ctx`]. The simulator owns time (virtual), randomness (one seeded
//! source) and the network, which it makes as unkind as a [`Faults`] profile says: delay, loss,
//! duplication, reordering, partitions (symmetric, one-way, or a bridge), and crashes. A crashed
//! node loses everything but what it saved with [`Ctx::save`]; its old incarnation can never
//! send again, and its timers never fire. The same seed gives the same run, event for event,
//! and every run keeps a [`Trace`] that can be drawn as a space-time diagram.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt::Debug;
use std::time::Duration;

pub type NodeId = usize;

/// A node of a distributed system, written without I/O.
pub trait Process: Sized {
    type Message: Clone + Debug;
    type Timer: Clone + Debug;
    /// What survives a crash: what the node last passed to [`Ctx::save`].
    type Saved: Clone + Debug;

    /// A node starting: first boot (`saved` is None) or restart after a crash.
    fn start(id: NodeId, peers: &[NodeId], saved: Option<Self::Saved>, ctx: &mut Ctx<Self>)
    -> Self;
    fn on_message(&mut self, from: NodeId, message: Self::Message, ctx: &mut Ctx<Self>);
    fn on_timer(&mut self, timer: Self::Timer, ctx: &mut Ctx<Self>);
}

/// What a handler may do: read the clock, draw randomness, send, set timers, save state.
pub struct Ctx<P: Process> {
    now: Duration,
    me: NodeId,
    rng: u64,
    /// The node is starting again after a crash.
    restart: bool,
    sends: Vec<(NodeId, P::Message)>,
    timers: Vec<(Duration, P::Timer)>,
    saved: Option<P::Saved>,
}

/// What a handler asked for, once it returns.
pub(crate) struct Effects<P: Process> {
    pub sends: Vec<(NodeId, P::Message)>,
    pub timers: Vec<(Duration, P::Timer)>,
    pub saved: Option<P::Saved>,
}

impl<P: Process> Ctx<P> {
    /// A context from its parts. For the grader's proxies, which carry a handler's context to
    /// the learner's process and its effects back; checks never need it.
    #[doc(hidden)]
    pub fn new(now: Duration, me: NodeId, seed: u64) -> Ctx<P> {
        Ctx {
            now,
            me,
            rng: seed,
            restart: false,
            sends: Vec::new(),
            timers: Vec::new(),
            saved: None,
        }
    }

    /// Whether the node this context starts is starting again after a crash: the grader's
    /// proxies start such a node in a process of its own, so nothing it kept in memory survives.
    #[doc(hidden)]
    pub fn is_restart(&self) -> bool {
        self.restart
    }

    pub(crate) fn restarting(mut self) -> Ctx<P> {
        self.restart = true;
        self
    }

    /// The state of the random source, to carry it across to another process and back.
    #[doc(hidden)]
    pub fn rng_state(&self) -> u64 {
        self.rng
    }

    #[doc(hidden)]
    pub fn set_rng_state(&mut self, rng: u64) {
        self.rng = rng;
    }

    /// What the handler asked for, with the random state it left: for the grader's proxies.
    #[doc(hidden)]
    #[allow(clippy::type_complexity)]
    pub fn into_parts(
        self,
    ) -> (
        Vec<(NodeId, P::Message)>,
        Vec<(Duration, P::Timer)>,
        Option<P::Saved>,
        u64,
    ) {
        (self.sends, self.timers, self.saved, self.rng)
    }

    pub(crate) fn into_effects(self) -> Effects<P> {
        Effects {
            sends: self.sends,
            timers: self.timers,
            saved: self.saved,
        }
    }

    pub fn now(&self) -> Duration {
        self.now
    }

    pub fn me(&self) -> NodeId {
        self.me
    }

    /// Sends a message; the network decides when (and whether) it arrives.
    pub fn send(&mut self, to: NodeId, message: P::Message) {
        self.sends.push((to, message));
    }

    /// Fires `timer` after `delay`, unless the node crashes first.
    pub fn set_timer(&mut self, delay: Duration, timer: P::Timer) {
        self.timers.push((delay, timer));
    }

    /// Saves state durably, at once: it is what the node restarts with after a crash.
    pub fn save(&mut self, state: P::Saved) {
        self.saved = Some(state);
    }

    /// A random number in `range` (from the simulation's seed).
    pub fn random_range(&mut self, range: std::ops::Range<u64>) -> u64 {
        assert!(range.start < range.end, "an empty range");
        range.start + splitmix(&mut self.rng) % (range.end - range.start)
    }
}

/// `{:?}`, but stops formatting after a few hundred bytes: a trace of a run that sends big
/// messages (log batches, snapshots) should not cost their whole text.
fn bounded_debug(value: &impl Debug) -> String {
    const LIMIT: usize = 200;
    struct Bounded(String);
    impl std::fmt::Write for Bounded {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let room = LIMIT.saturating_sub(self.0.len());
            let mut end = s.len().min(room);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            self.0.push_str(&s[..end]);
            if end < s.len() {
                Err(std::fmt::Error)
            } else {
                Ok(())
            }
        }
    }
    let mut out = Bounded(String::new());
    if std::fmt::write(&mut out, format_args!("{value:?}")).is_err() {
        out.0.push('…');
    }
    out.0
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How unkind the network and the machines are.
#[derive(Debug, Clone)]
pub struct Faults {
    pub name: &'static str,
    /// Each message takes between these two delays (so messages overtake each other).
    pub delay: (Duration, Duration),
    /// Chance, in percent, that a message is lost.
    pub loss_percent: u64,
    /// Chance, in percent, that a message arrives twice.
    pub duplicate_percent: u64,
    /// Every so often the network splits, for a while, then heals.
    pub partitions: bool,
    /// Every so often a node crashes, and restarts a while later.
    pub crashes: bool,
    /// How often a partition or crash may begin, on average.
    pub mean_time_between_faults: Duration,
}

impl Faults {
    /// Messages always arrive, after a short random delay (so they may still overtake each
    /// other: for delivery in order, give `delay` equal bounds).
    pub fn reliable() -> Faults {
        Faults {
            name: "reliable",
            delay: (Duration::from_millis(1), Duration::from_millis(10)),
            loss_percent: 0,
            duplicate_percent: 0,
            partitions: false,
            crashes: false,
            mean_time_between_faults: Duration::from_millis(300),
        }
    }

    /// Messages are lost, duplicated and reordered.
    pub fn lossy() -> Faults {
        Faults {
            name: "lossy",
            delay: (Duration::from_millis(1), Duration::from_millis(40)),
            loss_percent: 15,
            duplicate_percent: 10,
            ..Faults::reliable()
        }
    }

    /// The network splits and heals.
    pub fn partitions() -> Faults {
        Faults {
            name: "partitions",
            partitions: true,
            ..Faults::reliable()
        }
    }

    /// Nodes crash and restart from what they saved.
    pub fn crashes() -> Faults {
        Faults {
            name: "crashes",
            crashes: true,
            ..Faults::reliable()
        }
    }

    /// All of the above at once.
    pub fn everything() -> Faults {
        Faults {
            name: "everything",
            partitions: true,
            crashes: true,
            ..Faults::lossy()
        }
    }

    /// Faults stop: messages arrive, partitions heal, crashed nodes restart. For checking that
    /// a system makes progress again once the weather clears.
    pub fn healed(&self) -> Faults {
        Faults {
            name: "healed",
            loss_percent: 0,
            duplicate_percent: 0,
            partitions: false,
            crashes: false,
            ..self.clone()
        }
    }
}

/// Something that happened, for drawing and for failure messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceEvent {
    Sent {
        id: u64,
        from: NodeId,
        to: NodeId,
        at: Duration,
        what: String,
    },
    Delivered {
        id: u64,
        at: Duration,
    },
    Dropped {
        id: u64,
        at: Duration,
        why: &'static str,
    },
    Crashed {
        node: NodeId,
        at: Duration,
    },
    Restarted {
        node: NodeId,
        at: Duration,
    },
    /// From now on, `blocked` lists the (from, to) pairs that cannot talk.
    Partitioned {
        at: Duration,
        blocked: Vec<(NodeId, NodeId)>,
    },
    Healed {
        at: Duration,
    },
    /// A note from the check (a client operation, say), shown beside its node.
    Note {
        node: NodeId,
        at: Duration,
        text: String,
    },
    /// What node `node` is now (`term 3 Leader`), by the check's labeller: recorded whenever
    /// it changes, so that a picture can show each node's state at every moment.
    State {
        node: NodeId,
        at: Duration,
        label: String,
    },
}

/// The events of a run, in order.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub events: Vec<TraceEvent>,
    pub nodes: usize,
}

enum Event<P: Process> {
    Deliver {
        id: u64,
        from: NodeId,
        to: NodeId,
        message: P::Message,
    },
    Timer {
        node: NodeId,
        incarnation: u64,
        timer: P::Timer,
    },
    Fault,
    Restart {
        node: NodeId,
    },
    /// Ends the partition of this generation (a later partition is not its to end).
    Heal {
        generation: u64,
    },
}

/// A simulated cluster.
pub struct Sim<P: Process> {
    now: Duration,
    rng: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(Duration, u64)>>,
    events: BTreeMap<u64, Event<P>>,
    nodes: Vec<Option<P>>,
    saved: Vec<Option<P::Saved>>,
    incarnations: Vec<u64>,
    blocked: BTreeSet<(NodeId, NodeId)>,
    partition_generation: u64,
    faults: Faults,
    trace: Trace,
    processed: u64,
    /// Says what a node is, for the trace; and what each node last was.
    labeller: Option<fn(&P) -> String>,
    labels: Vec<String>,
}

impl<P: Process> Sim<P> {
    /// `n` nodes, booted, on a network with `faults`, all choices following `seed`.
    pub fn new(n: usize, faults: Faults, seed: u64) -> Sim<P> {
        let mut sim = Sim {
            now: Duration::ZERO,
            rng: seed ^ 0x0005_EED0_F0E7,
            seq: 0,
            queue: BinaryHeap::new(),
            events: BTreeMap::new(),
            nodes: (0..n).map(|_| None).collect(),
            saved: vec![None; n],
            incarnations: vec![0; n],
            blocked: BTreeSet::new(),
            partition_generation: 0,
            faults,
            trace: Trace {
                events: Vec::new(),
                nodes: n,
            },
            processed: 0,
            labeller: None,
            labels: vec![String::new(); n],
        };
        for node in 0..n {
            sim.boot(node);
        }
        sim.schedule_fault();
        sim
    }

    pub fn now(&self) -> Duration {
        self.now
    }

    /// Node `id`, or None while it is down.
    pub fn node(&self, id: NodeId) -> Option<&P> {
        self.nodes[id].as_ref()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Events handled so far (deliveries, timers, faults).
    pub fn processed(&self) -> u64 {
        self.processed
    }

    /// Changes the weather from now on (a fault in progress still heals as planned).
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// Calls `f` on a running node with a context, as if an outside caller (a client) asked
    /// something of it; returns None if the node is down.
    pub fn call<R>(&mut self, id: NodeId, f: impl FnOnce(&mut P, &mut Ctx<P>) -> R) -> Option<R> {
        let mut node = self.nodes[id].take()?;
        let mut ctx = self.ctx(id);
        let result = f(&mut node, &mut ctx);
        self.nodes[id] = Some(node);
        self.apply(id, ctx);
        Some(result)
    }

    /// Records in the trace what `labeller` says of each node (its term and role, say), now and
    /// after every change, so that the run's picture shows each node's state as it goes.
    pub fn label_nodes(&mut self, labeller: fn(&P) -> String) {
        self.labeller = Some(labeller);
        for node in 0..self.len() {
            self.relabel(node);
        }
    }

    fn relabel(&mut self, node: NodeId) {
        let (Some(labeller), Some(process)) = (self.labeller, &self.nodes[node]) else {
            return;
        };
        let label = labeller(process);
        if label != self.labels[node] {
            self.labels[node] = label.clone();
            self.trace.events.push(TraceEvent::State {
                node,
                at: self.now,
                label,
            });
        }
    }

    /// Writes a note into the trace beside `node`.
    pub fn note(&mut self, node: NodeId, text: impl Into<String>) {
        self.trace.events.push(TraceEvent::Note {
            node,
            at: self.now,
            text: text.into(),
        });
    }

    /// Handles the next event; false when nothing is left to happen.
    pub fn step(&mut self) -> bool {
        let Some(Reverse((at, seq))) = self.queue.pop() else {
            return false;
        };
        self.now = at;
        let event = self.events.remove(&seq).expect("queued events exist");
        self.processed += 1;
        match event {
            Event::Deliver {
                id,
                from,
                to,
                message,
            } => {
                if self.nodes[to].is_none() {
                    self.trace.events.push(TraceEvent::Dropped {
                        id,
                        at,
                        why: "the receiver is down",
                    });
                } else if self.blocked.contains(&(from, to)) {
                    self.trace.events.push(TraceEvent::Dropped {
                        id,
                        at,
                        why: "partitioned",
                    });
                } else {
                    self.trace.events.push(TraceEvent::Delivered { id, at });
                    self.call(to, |node, ctx| node.on_message(from, message, ctx));
                }
            }
            Event::Timer {
                node,
                incarnation,
                timer,
            } => {
                if self.incarnations[node] == incarnation {
                    self.call(node, |n, ctx| n.on_timer(timer, ctx));
                }
            }
            Event::Fault => {
                self.inject_fault();
                self.schedule_fault();
            }
            Event::Restart { node } => {
                if self.nodes[node].is_none() {
                    self.boot(node);
                    self.trace.events.push(TraceEvent::Restarted { node, at });
                }
            }
            Event::Heal { generation } if generation != self.partition_generation => {}
            Event::Heal { .. } => {
                if !self.blocked.is_empty() {
                    self.blocked.clear();
                    self.trace.events.push(TraceEvent::Healed { at });
                }
            }
        }
        true
    }

    /// Runs until virtual time `until`, calling `after_each` after every event; stops early
    /// with its error.
    pub fn run_until<E>(
        &mut self,
        until: Duration,
        mut after_each: impl FnMut(&Sim<P>) -> Result<(), E>,
    ) -> Result<(), E> {
        while let Some(Reverse((at, _))) = self.queue.peek() {
            if *at > until {
                break;
            }
            self.step();
            after_each(self)?;
        }
        self.now = self.now.max(until);
        Ok(())
    }

    /// Crashes `node` now; it restarts after `down_for` (or never, if None).
    pub fn crash(&mut self, node: NodeId, down_for: Option<Duration>) {
        if self.nodes[node].take().is_some() {
            self.incarnations[node] += 1;
            self.trace
                .events
                .push(TraceEvent::Crashed { node, at: self.now });
            if let Some(down_for) = down_for {
                self.schedule(self.now + down_for, Event::Restart { node });
            }
        }
    }

    /// Restarts a crashed node now.
    pub fn restart(&mut self, node: NodeId) {
        if self.nodes[node].is_none() {
            self.boot(node);
            self.trace
                .events
                .push(TraceEvent::Restarted { node, at: self.now });
        }
    }

    /// Cuts every link between `side` and the rest, both ways; `heal_after` restores them.
    pub fn partition(&mut self, side: &[NodeId], heal_after: Option<Duration>) {
        let others: Vec<NodeId> = (0..self.len()).filter(|n| !side.contains(n)).collect();
        let mut blocked = Vec::new();
        for &a in side {
            for &b in &others {
                blocked.push((a, b));
                blocked.push((b, a));
            }
        }
        self.block(blocked, heal_after);
    }

    fn block(&mut self, links: Vec<(NodeId, NodeId)>, heal_after: Option<Duration>) {
        self.blocked = links.iter().copied().collect();
        self.partition_generation += 1;
        self.trace.events.push(TraceEvent::Partitioned {
            at: self.now,
            blocked: links,
        });
        if let Some(after) = heal_after {
            let generation = self.partition_generation;
            self.schedule(self.now + after, Event::Heal { generation });
        }
    }

    fn boot(&mut self, node: NodeId) {
        let peers: Vec<NodeId> = (0..self.len()).filter(|&p| p != node).collect();
        let mut ctx = self.ctx(node);
        if self.incarnations[node] > 0 {
            ctx = ctx.restarting();
        }
        let process = P::start(node, &peers, self.saved[node].clone(), &mut ctx);
        self.nodes[node] = Some(process);
        // A restarted node's state is told again, even where it is what it was.
        self.labels[node].clear();
        self.apply(node, ctx);
    }

    fn ctx(&mut self, me: NodeId) -> Ctx<P> {
        let seed = splitmix(&mut self.rng);
        Ctx::new(self.now, me, seed)
    }

    /// Puts a handler's effects into the world.
    fn apply(&mut self, from: NodeId, ctx: Ctx<P>) {
        self.relabel(from);
        let effects = ctx.into_effects();
        if let Some(saved) = effects.saved {
            self.saved[from] = Some(saved);
        }
        for (delay, timer) in effects.timers {
            let incarnation = self.incarnations[from];
            self.schedule(
                self.now + delay,
                Event::Timer {
                    node: from,
                    incarnation,
                    timer,
                },
            );
        }
        for (to, message) in effects.sends {
            self.seq += 1;
            let id = self.seq;
            self.trace.events.push(TraceEvent::Sent {
                id,
                from,
                to,
                at: self.now,
                what: bounded_debug(&message),
            });
            if to >= self.len() || self.chance(self.faults.loss_percent) {
                self.trace.events.push(TraceEvent::Dropped {
                    id,
                    at: self.now,
                    why: "lost",
                });
                continue;
            }
            let copies = if self.chance(self.faults.duplicate_percent) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let delay = self.delay();
                let message = message.clone();
                self.schedule(
                    self.now + delay,
                    Event::Deliver {
                        id,
                        from,
                        to,
                        message,
                    },
                );
            }
        }
    }

    fn schedule(&mut self, at: Duration, event: Event<P>) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq)));
        self.events.insert(self.seq, event);
    }

    fn random(&mut self) -> u64 {
        splitmix(&mut self.rng)
    }

    fn chance(&mut self, percent: u64) -> bool {
        percent > 0 && self.random() % 100 < percent
    }

    fn delay(&mut self) -> Duration {
        let (low, high) = self.faults.delay;
        let span = (high - low).as_micros().max(1) as u64;
        low + Duration::from_micros(self.random() % span)
    }

    fn schedule_fault(&mut self) {
        let mean = self.faults.mean_time_between_faults.as_micros().max(1) as u64;
        let after = Duration::from_micros(mean / 2 + self.random() % mean);
        self.schedule(self.now + after, Event::Fault);
    }

    fn inject_fault(&mut self) {
        let n = self.len();
        let mean = self.faults.mean_time_between_faults;
        let mut choices = Vec::new();
        if self.faults.partitions && self.blocked.is_empty() {
            choices.push(0);
        }
        if self.faults.crashes {
            choices.push(1);
        }
        if choices.is_empty() || n < 2 {
            return;
        }
        let lasting =
            mean / 2 + Duration::from_micros(self.random() % mean.as_micros().max(1) as u64);
        match choices[(self.random() % choices.len() as u64) as usize] {
            0 => {
                let shape = self.random() % 3;
                let mut nodes: Vec<NodeId> = (0..n).collect();
                // A seeded shuffle, so that any node may end up anywhere.
                for i in (1..n).rev() {
                    let j = (self.random() % (i as u64 + 1)) as usize;
                    nodes.swap(i, j);
                }
                let cut = 1 + (self.random() % (n as u64 - 1)) as usize;
                let (side, rest) = nodes.split_at(cut);
                let mut links = Vec::new();
                match shape {
                    // Symmetric: the two sides cannot hear each other.
                    0 => {
                        for &a in side {
                            for &b in rest {
                                links.extend([(a, b), (b, a)]);
                            }
                        }
                    }
                    // One-way: one side hears the other, but not back.
                    1 => {
                        for &a in side {
                            for &b in rest {
                                links.push((a, b));
                            }
                        }
                    }
                    // A bridge: one node hears both sides, which cannot hear each other.
                    _ => {
                        let bridge = nodes[0];
                        for &a in side.iter().filter(|&&a| a != bridge) {
                            for &b in rest.iter().filter(|&&b| b != bridge) {
                                links.extend([(a, b), (b, a)]);
                            }
                        }
                    }
                }
                self.block(links, Some(lasting));
            }
            _ => {
                let node = (self.random() % n as u64) as usize;
                self.crash(node, Some(lasting));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn big_messages_are_traced_in_brief() {
        let traced = super::bounded_debug(&vec![7u8; 10_000]);
        assert!(traced.starts_with("[7, 7, 7"));
        assert!(
            traced.ends_with('…') && traced.chars().count() == 201,
            "{traced}"
        );
        assert_eq!(super::bounded_debug(&Some(3)), "Some(3)");
    }
}
