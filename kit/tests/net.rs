//! The network simulator on a tiny protocol: nodes count, gossip their count, take the maximum.

#[path = "support/gossip.rs"]
mod gossip;

use std::time::Duration;

use gossip::Gossip;
use kit::net::{Faults, Sim, TraceEvent};

fn run(faults: Faults, seed: u64) -> Sim<Gossip> {
    let mut sim = Sim::<Gossip>::new(3, faults, seed);
    sim.run_until(Duration::from_secs(2), |_| Ok::<(), ()>(()))
        .unwrap();
    sim
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let a = run(Faults::everything(), 7);
    let b = run(Faults::everything(), 7);
    assert_eq!(a.trace().events, b.trace().events);
    let c = run(Faults::everything(), 8);
    assert_ne!(a.trace().events, c.trace().events);
}

#[test]
fn a_reliable_network_delivers_everything() {
    let sim = run(Faults::reliable(), 1);
    assert!(
        !sim.trace()
            .events
            .iter()
            .any(|e| matches!(e, TraceEvent::Dropped { .. }))
    );
}

#[test]
fn a_lossy_network_loses_and_duplicates() {
    let sim = run(Faults::lossy(), 1);
    let events = &sim.trace().events;
    let sent = events
        .iter()
        .filter(|e| matches!(e, TraceEvent::Sent { .. }))
        .count();
    let lost = events
        .iter()
        .filter(|e| matches!(e, TraceEvent::Dropped { why: "lost", .. }))
        .count();
    let delivered = events
        .iter()
        .filter(|e| matches!(e, TraceEvent::Delivered { .. }))
        .count();
    assert!(lost > sent / 20 && lost < sent / 3, "{lost} of {sent} lost");
    assert!(
        delivered > sent - lost,
        "no duplicates among {delivered} deliveries"
    );
}

#[test]
fn a_partition_blocks_and_heals() {
    let mut sim = Sim::<Gossip>::new(3, Faults::reliable(), 1);
    sim.partition(&[0], Some(Duration::from_millis(500)));
    sim.run_until(Duration::from_millis(400), |_| Ok::<(), ()>(()))
        .unwrap();
    let isolated = sim.node(0).unwrap().count;
    let others = sim.node(1).unwrap().count;
    assert!(
        isolated < 50 && others < 50,
        "nobody counts faster than the clock"
    );
    assert!(sim.trace().events.iter().any(|e| matches!(
        e,
        TraceEvent::Dropped {
            why: "partitioned",
            ..
        }
    )));
    sim.run_until(Duration::from_millis(700), |_| Ok::<(), ()>(()))
        .unwrap();
    assert!(
        sim.trace()
            .events
            .iter()
            .any(|e| matches!(e, TraceEvent::Healed { .. }))
    );
}

#[test]
fn a_crashed_node_restarts_from_what_it_saved_and_its_old_timers_never_fire() {
    let mut sim = Sim::<Gossip>::new(2, Faults::reliable(), 1);
    sim.partition(&[0], None);
    sim.run_until(Duration::from_millis(105), |_| Ok::<(), ()>(()))
        .unwrap();
    let before = sim.node(0).unwrap().count;
    sim.crash(0, None);
    sim.run_until(Duration::from_millis(300), |_| Ok::<(), ()>(()))
        .unwrap();
    assert!(sim.node(0).is_none());
    sim.restart(0);
    assert_eq!(
        sim.node(0).unwrap().count,
        before,
        "restarted from the saved count"
    );
    // One timer chain per incarnation: the count grows with the clock, not twice as fast.
    sim.run_until(Duration::from_millis(400), |_| Ok::<(), ()>(()))
        .unwrap();
    let grown = sim.node(0).unwrap().count - before;
    assert!((9..=11).contains(&grown), "grew by {grown} in 100 ms");
}

#[test]
fn crashes_and_partitions_come_and_go_under_everything() {
    let sim = run(Faults::everything(), 3);
    let events = &sim.trace().events;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, TraceEvent::Crashed { .. }))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, TraceEvent::Restarted { .. }))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, TraceEvent::Partitioned { .. }))
    );
}

#[test]
fn a_run_draws_as_a_space_time_diagram() {
    let mut sim = run(Faults::everything(), 3);
    sim.note(1, "client: get x");
    let svg = kit::diagram::svg(sim.trace());
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    for expected in [
        "node 0",
        "node 2",
        "crash",
        "partition",
        "marker-end",
        "client: get x",
    ] {
        assert!(svg.contains(expected), "no {expected:?} in the diagram");
    }
}

#[test]
fn the_same_nodes_run_on_a_real_clock() {
    use kit::runtime::Cluster;
    let cluster = Cluster::<Gossip>::start(3, 1);
    std::thread::sleep(Duration::from_millis(150));
    let count = |id| cluster.call(id, |node, _| node.map(|n| n.count));
    assert!(count(0).unwrap() >= 5, "node 0 counted {:?}", count(0));
    cluster.kill(0);
    assert_eq!(count(0), None);
    cluster.restart(0);
    assert!(count(0).unwrap() >= 5, "restarted from what it saved");
}

#[test]
fn an_old_partition_healing_does_not_end_a_newer_one() {
    let mut sim = Sim::<Gossip>::new(3, Faults::reliable(), 1);
    sim.partition(&[0], Some(Duration::from_millis(100)));
    sim.run_until(Duration::from_millis(50), |_| Ok::<(), ()>(()))
        .unwrap();
    sim.partition(&[1], None);
    sim.run_until(Duration::from_millis(300), |_| Ok::<(), ()>(()))
        .unwrap();
    assert!(
        !sim.trace()
            .events
            .iter()
            .any(|e| matches!(e, TraceEvent::Healed { .. }))
    );
}
