//! The same nodes on a real clock: a thread per node, channels for the network, wall-clock
//! timers. Code written against [`Process`] runs here unchanged, which is the point of writing
//! it without I/O: `cargo grade play` uses this to run a cluster a person can poke at.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::net::{Ctx, NodeId, Process};

type Call<P> = Box<dyn FnOnce(Option<&mut P>, &mut Ctx<P>) + Send>;

enum Input<P: Process> {
    Message(NodeId, P::Message),
    Call(Call<P>),
    Kill,
    Restart,
    Stop,
}

/// A running cluster.
pub struct Cluster<P: Process> {
    inboxes: Vec<Sender<Input<P>>>,
    threads: Vec<JoinHandle<()>>,
    /// Links that drop every message: (from, to).
    blocked: Arc<Mutex<Vec<(NodeId, NodeId)>>>,
}

impl<P> Cluster<P>
where
    P: Process + Send + 'static,
    P::Message: Send,
    P::Timer: Send,
    P::Saved: Send,
{
    /// Starts `n` nodes.
    pub fn start(n: usize, seed: u64) -> Cluster<P> {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..n).map(|_| mpsc::channel()).unzip();
        let blocked = Arc::new(Mutex::new(Vec::new()));
        let threads = receivers
            .into_iter()
            .enumerate()
            .map(|(me, inbox)| {
                let peers = senders.clone();
                let blocked = Arc::clone(&blocked);
                std::thread::spawn(move || node_loop::<P>(me, n, seed, inbox, peers, blocked))
            })
            .collect();
        Cluster {
            inboxes: senders,
            threads,
            blocked,
        }
    }

    pub fn len(&self) -> usize {
        self.inboxes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inboxes.is_empty()
    }

    /// Runs `f` on node `id`'s thread (with None while it is down) and waits for its answer.
    pub fn call<R: Send + 'static>(
        &self,
        id: NodeId,
        f: impl FnOnce(Option<&mut P>, &mut Ctx<P>) -> R + Send + 'static,
    ) -> R {
        let (tx, rx) = mpsc::channel();
        let call: Call<P> = Box::new(move |node, ctx| {
            let _ = tx.send(f(node, ctx));
        });
        self.inboxes[id]
            .send(Input::Call(call))
            .expect("the node's thread runs until the cluster stops");
        rx.recv().expect("the node answers every call")
    }

    /// Crashes node `id`: it loses everything it did not save, and its timers.
    pub fn kill(&self, id: NodeId) {
        let _ = self.inboxes[id].send(Input::Kill);
    }

    /// Restarts node `id` from what it saved.
    pub fn restart(&self, id: NodeId) {
        let _ = self.inboxes[id].send(Input::Restart);
    }

    /// Cuts node `id` off from every other node, both ways, until [`Cluster::heal`].
    pub fn isolate(&self, id: NodeId) {
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        for other in (0..self.len()).filter(|&o| o != id) {
            blocked.extend([(id, other), (other, id)]);
        }
    }

    pub fn heal(&self) {
        self.blocked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl<P: Process> Drop for Cluster<P> {
    fn drop(&mut self) {
        for inbox in &self.inboxes {
            let _ = inbox.send(Input::Stop);
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn node_loop<P: Process>(
    me: NodeId,
    n: usize,
    seed: u64,
    inbox: Receiver<Input<P>>,
    peers: Vec<Sender<Input<P>>>,
    blocked: Arc<Mutex<Vec<(NodeId, NodeId)>>>,
) {
    let started = Instant::now();
    let others: Vec<NodeId> = (0..n).filter(|&p| p != me).collect();
    let mut rng = seed ^ (me as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next_seed = || {
        rng = rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        rng
    };
    let mut saved: Option<P::Saved> = None;
    let mut timers: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut pending: std::collections::BTreeMap<u64, P::Timer> = std::collections::BTreeMap::new();
    let mut timer_seq = 0;

    let mut ctx = Ctx::new(started.elapsed(), me, next_seed());
    let mut node = Some(P::start(me, &others, None, &mut ctx));
    let mut effects = Some(ctx);
    loop {
        if let Some(ctx) = effects.take() {
            let effects = ctx.into_effects();
            if effects.saved.is_some() {
                saved = effects.saved;
            }
            for (delay, timer) in effects.timers {
                timer_seq += 1;
                timers.push(Reverse((Instant::now() + delay, timer_seq)));
                pending.insert(timer_seq, timer);
            }
            let blocked = blocked.lock().unwrap_or_else(|p| p.into_inner()).clone();
            for (to, message) in effects.sends {
                if to < peers.len() && !blocked.contains(&(me, to)) {
                    let _ = peers[to].send(Input::Message(me, message));
                }
            }
        }
        let wait = timers
            .peek()
            .map_or(Duration::from_secs(3600), |Reverse((at, _))| {
                at.saturating_duration_since(Instant::now())
            });
        let mut ctx = Ctx::new(started.elapsed(), me, next_seed());
        match inbox.recv_timeout(wait) {
            Ok(Input::Message(from, message)) => {
                if let Some(node) = node.as_mut() {
                    node.on_message(from, message, &mut ctx);
                }
            }
            Ok(Input::Call(call)) => call(node.as_mut(), &mut ctx),
            Ok(Input::Kill) => {
                node = None;
                timers.clear();
                pending.clear();
            }
            Ok(Input::Restart) => {
                if node.is_none() {
                    ctx = ctx.restarting();
                    node = Some(P::start(me, &others, saved.clone(), &mut ctx));
                }
            }
            Ok(Input::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                if let Some(Reverse((_, id))) = timers.pop()
                    && let Some(timer) = pending.remove(&id)
                    && let Some(node) = node.as_mut()
                {
                    node.on_timer(timer, &mut ctx);
                }
            }
        }
        effects = Some(ctx);
    }
}
