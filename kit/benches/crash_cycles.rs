//! Crash-recover cycles per second: how many times a second the driver can run a small store's
//! workload up to a crash point, restart the disk, recover and check, on one core.
//!
//!     cargo bench -p kit --bench crash_cycles

#[path = "../tests/support/tiny_store.rs"]
mod tiny_store;

use std::time::Instant;

use kit::crash::{self, KvOp, Limits};
use tiny_store::Tiny;

fn main() {
    let workload: Vec<KvOp> = (0..12u8)
        .map(|i| match i % 4 {
            3 => KvOp::Sync,
            _ => KvOp::Put(vec![b'a' + i % 3], vec![i; 100]),
        })
        .collect();
    let probes = [b"never".to_vec()];
    for (name, limits) in [
        (
            "crash only",
            Limits {
                crash_points: 1000,
                crash_during_recovery: false,
                ..Limits::default()
            },
        ),
        ("crash, and crash again during recovery", Limits::default()),
    ] {
        let started = Instant::now();
        let mut cycles = 0;
        let mut seed = 0;
        while started.elapsed().as_secs_f64() < 2.0 {
            cycles += crash::check::<Tiny<0>>(seed, &workload, &probes, limits)
                .expect("the tiny store keeps its promises")
                .crashes;
            seed += 1;
        }
        let rate = cycles as f64 / started.elapsed().as_secs_f64();
        println!(
            "{name}: {rate:.0} crash-recover cycles per second ({cycles} cycles, 12-op workload)"
        );
    }
}
