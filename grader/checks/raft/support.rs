//! Helpers the raft checks share.
//!
//! [`Script`] drives nodes by hand, outside any simulator: the check delivers each message and
//! fires each timer itself, and sees every message a handler sends and every timer it sets. So
//! a check can ask what no random run shows for sure: which timers are pending, what a late
//! message of an older term is answered with, what a cluster of one does.

// Not every scene's checks use every helper.
#![allow(dead_code)]

use std::fmt::Debug;
use std::time::Duration;

use judge::prelude::*;
use kit::net::{Ctx, NodeId, Process};

/// Nodes driven by hand, with the story of what was done to them.
pub struct Script<P: Process> {
    nodes: Vec<Option<P>>,
    peers: Vec<Vec<NodeId>>,
    saved: Vec<Option<P::Saved>>,
    /// Timers set and not yet fired, per node: when each fires, and the timer.
    timers: Vec<Vec<(Duration, P::Timer)>>,
    now: Duration,
    rng: u64,
    did: Vec<String>,
}

/// What one handler did.
pub struct Effects<P: Process> {
    pub sends: Vec<(NodeId, P::Message)>,
    pub timers: Vec<(Duration, P::Timer)>,
    pub saved: Option<P::Saved>,
}

impl<P: Process> Script<P> {
    /// `n` nodes, each with every other as its peer, booted at time 0.
    pub fn new(n: usize) -> Script<P> {
        let peers = (0..n)
            .map(|id| (0..n).filter(|&p| p != id).collect())
            .collect();
        Script::with_peers(peers)
    }

    /// One node per list of peers, booted at time 0.
    pub fn with_peers(peers: Vec<Vec<NodeId>>) -> Script<P> {
        let n = peers.len();
        let mut script = Script {
            nodes: (0..n).map(|_| None).collect(),
            peers,
            saved: vec![None; n],
            timers: vec![Vec::new(); n],
            now: Duration::ZERO,
            rng: 0x005E_ED0F_5C21,
            did: vec![if n == 1 {
                "started a cluster of one node (node 0)".to_string()
            } else {
                format!("started {n} nodes (0 to {})", n - 1)
            }],
        };
        for id in 0..n {
            script.boot(id);
        }
        script
    }

    fn ctx(&mut self, id: NodeId) -> Ctx<P> {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        Ctx::new(self.now, id, self.rng)
    }

    fn boot(&mut self, id: NodeId) {
        let mut ctx = self.ctx(id);
        let node = P::start(id, &self.peers[id], self.saved[id].clone(), &mut ctx);
        self.nodes[id] = Some(node);
        self.timers[id].clear();
        self.record(id, ctx);
    }

    fn record(&mut self, id: NodeId, ctx: Ctx<P>) -> Effects<P> {
        let (sends, timers, saved, _) = ctx.into_parts();
        if let Some(saved) = &saved {
            self.saved[id] = Some(saved.clone());
        }
        for (delay, timer) in &timers {
            self.timers[id].push((self.now + *delay, timer.clone()));
        }
        Effects {
            sends,
            timers,
            saved,
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn now(&self) -> Duration {
        self.now
    }

    /// Moves the clock on (nothing fires by itself: the check fires timers).
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    pub fn node(&self, id: NodeId) -> &P {
        self.nodes[id]
            .as_ref()
            .expect("the check restarts a node before using it")
    }

    /// Forgets the last line of the story (for steps a note tells in one line).
    pub fn did_pop(&mut self) {
        self.did.pop();
    }

    /// Adds a line to the story without doing anything.
    pub fn note(&mut self, what: impl Into<String>) {
        self.did.push(what.into());
    }

    /// Calls one handler of node `id` (told in the story as `what`) and returns what it did.
    pub fn act<R>(
        &mut self,
        what: impl Into<String>,
        id: NodeId,
        f: impl FnOnce(&mut P, &mut Ctx<P>) -> R,
    ) -> (R, Effects<P>) {
        self.did.push(what.into());
        let mut ctx = self.ctx(id);
        let mut node = self.nodes[id].take().expect("the node is up");
        let result = f(&mut node, &mut ctx);
        self.nodes[id] = Some(node);
        let effects = self.record(id, ctx);
        (result, effects)
    }

    /// Delivers `message` from `from` to `to`; returns what `to` sent.
    pub fn deliver(
        &mut self,
        from: NodeId,
        to: NodeId,
        message: P::Message,
    ) -> Vec<(NodeId, P::Message)> {
        let what = format!("node {to} got {message:?} from node {from}");
        self.act(what, to, move |node, ctx| {
            node.on_message(from, message, ctx)
        })
        .1
        .sends
    }

    /// Fires `timer` at node `id`, pending or not; returns what it sent.
    pub fn fire(&mut self, id: NodeId, timer: P::Timer) -> Vec<(NodeId, P::Message)> {
        let what = format!("node {id}'s timer {timer:?} fired");
        self.act(what, id, move |node, ctx| node.on_timer(timer, ctx))
            .1
            .sends
    }

    /// The timers node `id` set and that have not fired yet, oldest first.
    pub fn pending(&self, id: NodeId) -> &[(Duration, P::Timer)] {
        &self.timers[id]
    }

    /// Fires the latest pending timer of node `id` that `pick` chooses (moving the clock to
    /// it, and dropping it and every older one `pick` chooses); None if there is none.
    pub fn fire_latest(
        &mut self,
        id: NodeId,
        pick: impl Fn(&P::Timer) -> bool,
    ) -> Option<Vec<(NodeId, P::Message)>> {
        let index = self.timers[id].iter().rposition(|(_, t)| pick(t))?;
        let (at, timer) = self.timers[id][index].clone();
        self.timers[id].retain(|(_, t)| !pick(t));
        self.now = self.now.max(at);
        Some(self.fire(id, timer))
    }

    /// The timers node `id` has pending that `pick` chooses, but the latest: set before it, so
    /// stale if the node keeps one timer of the kind at a time.
    pub fn stale(&self, id: NodeId, pick: impl Fn(&P::Timer) -> bool) -> Vec<P::Timer> {
        let mut chosen: Vec<P::Timer> = self.timers[id]
            .iter()
            .filter(|(_, t)| pick(t))
            .map(|(_, t)| t.clone())
            .collect();
        chosen.pop();
        chosen
    }

    /// [`Script::fire_latest`], failing the check if node `id` has no such timer pending
    /// (`what` names it: "an election timer").
    pub fn fire_pending(
        &mut self,
        id: NodeId,
        what: &str,
        pick: impl Fn(&P::Timer) -> bool,
    ) -> Result<Vec<(NodeId, P::Message)>, Failure> {
        self.fire_latest(id, pick).ok_or_else(|| {
            self.failure(format!(
                "expected: node {id} has {what} pending\ngot:      none"
            ))
        })
    }

    /// Delivers `sent` (what node `from` just sent), and whatever the receivers send in turn,
    /// between the nodes of `among` only, oldest first, until nothing is left or `max`
    /// messages were delivered; messages to other nodes are dropped.
    pub fn pump(
        &mut self,
        from: NodeId,
        sent: Vec<(NodeId, P::Message)>,
        among: &[NodeId],
        max: usize,
    ) {
        let mut queue: std::collections::VecDeque<(NodeId, NodeId, P::Message)> = sent
            .into_iter()
            .map(|(to, message)| (from, to, message))
            .collect();
        let mut delivered = 0;
        while let Some((from, to, message)) = queue.pop_front() {
            if !among.contains(&from) || !among.contains(&to) || self.nodes[to].is_none() {
                continue;
            }
            if delivered == max {
                break;
            }
            delivered += 1;
            for (next, reply) in self.deliver(from, to, message) {
                queue.push_back((to, next, reply));
            }
        }
    }

    /// Crashes node `id` and starts it again from what it saved.
    pub fn restart(&mut self, id: NodeId) {
        self.did.push(format!("node {id} crashed and restarted"));
        self.nodes[id] = None;
        self.boot(id);
    }

    pub fn story(&self) -> String {
        let steps: Vec<String> = self
            .did
            .iter()
            .enumerate()
            .map(|(i, step)| format!("  {}. {step}", i + 1))
            .collect();
        format!("did:\n{}", steps.join("\n"))
    }

    /// A failure that tells the story first.
    pub fn failure(&self, what: impl std::fmt::Display) -> Failure {
        Failure::new(format!("{}\n{what}", self.story()))
    }

    /// Fails with the story and `what` unless `condition` holds.
    pub fn expect(&self, condition: bool, what: impl std::fmt::Display) -> CheckResult {
        if condition {
            Ok(())
        } else {
            Err(self.failure(what))
        }
    }

    /// Fails unless `got` equals `expected`, saying what `what` is.
    pub fn expect_eq<T: PartialEq + Debug>(
        &self,
        what: impl std::fmt::Display,
        got: T,
        expected: T,
    ) -> CheckResult {
        self.expect(
            got == expected,
            format!("expected: {what} = {expected:?}\ngot:      {got:?}"),
        )
    }

    /// Fails unless a handler set no timer (`set`, as its [`Effects`] say); `expected` says why
    /// it must not.
    pub fn expect_no_timer(
        &self,
        set: &[(Duration, P::Timer)],
        expected: impl std::fmt::Display,
    ) -> CheckResult {
        if set.is_empty() {
            return Ok(());
        }
        let set: Vec<String> = set
            .iter()
            .map(|(delay, timer)| format!("{timer:?} in {delay:?}"))
            .collect();
        Err(self.failure(format!(
            "expected: {expected}\ngot:      it set {}",
            set.join(", ")
        )))
    }

    /// Fails unless what was sent is exactly `expected` (in any order).
    pub fn expect_sent(
        &self,
        got: &[(NodeId, P::Message)],
        expected: &[(NodeId, P::Message)],
    ) -> CheckResult {
        let show = |sent: &[(NodeId, P::Message)]| {
            let mut shown: Vec<String> = sent
                .iter()
                .map(|(to, m)| format!("{m:?} to node {to}"))
                .collect();
            shown.sort();
            if shown.is_empty() {
                "nothing".to_string()
            } else {
                shown.join(", ")
            }
        };
        let (got, expected) = (show(got), show(expected));
        self.expect(
            got == expected,
            format!("expected it to send: {expected}\ngot:                 {got}"),
        )
    }
}

/// Whether a message, as `{:?}` shows it, is of the kind `kind` (its variant's name).
pub fn is_kind(message: &impl Debug, kind: &str) -> bool {
    let text = format!("{message:?}");
    text.starts_with(kind)
        && !text[kind.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
}

/// The messages of kind `kind` among `sent`, with their receivers.
pub fn of_kind<M: Debug + Clone>(sent: &[(NodeId, M)], kind: &str) -> Vec<(NodeId, M)> {
    sent.iter()
        .filter(|(_, m)| is_kind(m, kind))
        .cloned()
        .collect()
}

/// A new simulated cluster (as `Sim::<Node>::new`) whose trace, and so its picture, tells each
/// node's term and role whenever they change.
macro_rules! cluster {
    ($n:expr, $faults:expr, $seed:expr $(,)?) => {{
        let mut sim = kit::net::Sim::<Node>::new($n, $faults, $seed);
        sim.label_nodes(|node| format!("term {} {:?}", node.term(), node.role()));
        sim
    }};
}
pub(crate) use cluster;
