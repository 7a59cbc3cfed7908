//! Simulated events per second: how fast the network simulator runs a small cluster of gossiping
//! nodes, with every fault on, on one core.
//!
//!     cargo bench -p kit --bench sim_events

#[path = "../tests/support/gossip.rs"]
mod gossip;

use std::time::{Duration, Instant};

use gossip::Gossip;
use kit::net::{Faults, Sim};

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
