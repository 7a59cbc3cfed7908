//! Calls across the judge/subject boundary, against the same code in one process, measured in
//! one run: crash-recover cycles of a small store whose disk is in the judge (process restarts
//! included), and simulated network events of a small cluster whose nodes are in the subject.
//!
//!     cargo grade bench

// The same store and protocol, compiled into this process.
#[path = "../../kit/tests/support/gossip.rs"]
mod local_gossip;
#[path = "../../kit/tests/support/tiny_store.rs"]
mod local_store;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kit::crash::{self, KvOp, Limits};
use kit::disk::Dir;
use kit::net::{Faults, Process, Sim};

/// How long each measurement runs.
const RUN: Duration = Duration::from_secs(2);

pub fn main() {
    println!("crash-recover cycles per second (12-op workload, crashes during recovery too):");
    let local = cycles::<local_store::Tiny<0>>();
    let remote = cycles::<Remote>();
    println!("  in one process:        {local:>10.0}");
    println!(
        "  across the boundary:   {remote:>10.0}  ({:.2}x, the subject restarted at {} of crashes)",
        local / remote,
        "1 in 8 and the last of every workload"
    );
    for (name, faults) in [
        ("reliable", Faults::reliable()),
        ("everything", Faults::everything()),
    ] {
        println!("simulated events per second (5 gossiping nodes, {name}):");
        let local = events::<local_gossip::Gossip>(&faults);
        let remote = events::<fixtures::Gossip>(&faults);
        println!("  in one process:        {local:>10.0}");
        println!("  across the boundary:   {remote:>10.0}  ({:.2}x)", local / remote);
    }
}

fn workload() -> Vec<KvOp> {
    (0..12u8)
        .map(|i| match i % 4 {
            3 => KvOp::Sync,
            _ => KvOp::Put(vec![b'a' + i % 3], vec![i; 100]),
        })
        .collect()
}

/// Crash-recover cycles per second of the store `S` drives.
fn cycles<S: crash::Subject>() -> f64 {
    let workload = workload();
    let probes = [b"never".to_vec()];
    let started = Instant::now();
    let mut cycles = 0;
    let mut seed = 0;
    while started.elapsed() < RUN {
        cycles += crash::check::<S>(seed, &workload, &probes, Limits::default())
            .expect("the tiny store keeps its promises")
            .crashes;
        seed += 1;
    }
    cycles as f64 / started.elapsed().as_secs_f64()
}

/// Simulated events per second of a cluster of `P`.
fn events<P: Process>(faults: &Faults) -> f64 {
    let started = Instant::now();
    let mut events = 0;
    let mut seed = 0;
    while started.elapsed() < RUN {
        let mut sim = Sim::<P>::new(5, faults.clone(), seed);
        sim.run_until(Duration::from_secs(10), |_| Ok::<(), ()>(()))
            .expect("nothing fails");
        events += sim.processed();
        seed += 1;
    }
    events as f64 / started.elapsed().as_secs_f64()
}

/// The tiny store in the subject, driven as the kit's tests drive the local one.
struct Remote;

impl crash::Subject for Remote {
    type Store = fixtures::TinyStore;

    fn open(dir: Arc<dyn Dir>) -> io::Result<fixtures::TinyStore> {
        fixtures::TinyStore::open(dir, fixtures::Mistakes::default())
    }

    fn apply(store: &mut fixtures::TinyStore, op: &KvOp) -> io::Result<()> {
        match op {
            KvOp::Put(k, v) => store.write(k, Some(v)),
            KvOp::Delete(k) => store.write(k, None),
            KvOp::Sync => store.sync(),
            KvOp::Maintain | KvOp::Reopen => Ok(()),
        }
    }

    fn get(store: &mut fixtures::TinyStore, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        Ok(store.get(key))
    }
}
