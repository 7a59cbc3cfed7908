//! Simulated events per second: how fast the network simulator runs a small cluster of gossiping
//! nodes, with every fault on, on one core.
//!
//!     cargo bench -p kit --bench sim_events

use std::time::{Duration, Instant};

use kit::net::{Ctx, Faults, NodeId, Process, Sim};

struct Gossip {
    count: u64,
    peers: Vec<NodeId>,
}

impl Process for Gossip {
    type Message = u64;
    type Timer = ();
    type Saved = u64;

    fn start(_: NodeId, peers: &[NodeId], saved: Option<u64>, ctx: &mut Ctx<Self>) -> Self {
        ctx.set_timer(Duration::from_millis(10), ());
        Gossip {
            count: saved.unwrap_or(0),
            peers: peers.to_vec(),
        }
    }

    fn on_message(&mut self, _: NodeId, count: u64, _: &mut Ctx<Self>) {
        self.count = self.count.max(count);
    }

    fn on_timer(&mut self, _: (), ctx: &mut Ctx<Self>) {
        self.count += 1;
        ctx.save(self.count);
        for &peer in &self.peers {
            ctx.send(peer, self.count);
        }
        ctx.set_timer(Duration::from_millis(10), ());
    }
}

fn main() {
    for (name, faults) in [
        ("reliable", Faults::reliable()),
        ("everything", Faults::everything()),
    ] {
        let started = Instant::now();
        let mut events = 0;
        let mut seed = 0;
        while started.elapsed() < Duration::from_secs(2) {
            let mut sim = Sim::<Gossip>::new(5, faults.clone(), seed);
            sim.run_until(Duration::from_secs(10), |_| Ok::<(), ()>(()))
                .unwrap();
            events += sim.processed();
            seed += 1;
        }
        let rate = events as f64 / started.elapsed().as_secs_f64();
        println!(
            "{name}: {rate:.0} simulated events per second (5 nodes, {seed} runs of 10 s virtual)"
        );
    }
}
