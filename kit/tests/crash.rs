//! The crash driver against a tiny store: the correct one passes; each classic mistake is
//! caught.

#[path = "support/tiny_store.rs"]
mod tiny_store;

use kit::crash::{self, KvOp, Limits};
use proptest::prelude::*;
use tiny_store::Tiny;

const CORRECT: u8 = 0;
const NO_CHECKSUM: u8 = 1;
const NO_SYNC: u8 = 2;
const TORN_TAIL_KEPT: u8 = 4;

fn workload() -> impl Strategy<Value = Vec<KvOp>> {
    let key = prop::sample::select(vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    let value = prop::collection::vec(any::<u8>(), 0..700);
    let op = prop_oneof![
        4 => (key.clone(), value).prop_map(|(k, v)| KvOp::Put(k, v)),
        1 => key.prop_map(KvOp::Delete),
        2 => Just(KvOp::Sync),
    ];
    prop::collection::vec(op, 1..12)
}

fn probes() -> Vec<Vec<u8>> {
    vec![b"never".to_vec()]
}

/// Whether the driver finds a broken promise in any of `cases` random workloads.
fn finds_a_failure<const M: u8>(cases: u32) -> Option<String> {
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(
        ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let result = runner.run(&workload(), |ops| {
        crash::check::<Tiny<M>>(7, &ops, &probes(), Limits::default())
            .map(|_| ())
            .map_err(|failure| TestCaseError::fail(failure.message))
    });
    result.err().map(|e| e.to_string())
}

#[test]
fn a_correct_store_keeps_every_promise() {
    assert_eq!(finds_a_failure::<CORRECT>(64), None);
}

#[test]
fn serving_unchecked_bytes_is_caught() {
    let failure = finds_a_failure::<NO_CHECKSUM>(64).expect("a torn record served as data");
    assert!(failure.contains("returned"), "{failure}");
}

#[test]
fn a_sync_that_does_not_sync_is_caught() {
    let failure = finds_a_failure::<NO_SYNC>(64).expect("a synced write lost");
    assert!(failure.contains("may only be"), "{failure}");
}

#[test]
fn a_torn_tail_left_in_place_is_caught() {
    assert!(finds_a_failure::<TORN_TAIL_KEPT>(64).is_some());
}

#[test]
fn every_step_of_a_short_workload_is_a_crash_point() {
    let ops = vec![
        KvOp::Put(b"a".to_vec(), b"1".to_vec()),
        KvOp::Sync,
        KvOp::Put(b"b".to_vec(), b"2".to_vec()),
    ];
    let stats = crash::check::<Tiny<CORRECT>>(1, &ops, &probes(), Limits::default()).unwrap();
    // Open (open, create, dir sync, len, read) + put + sync + put.
    assert!(stats.crashes >= 7, "{stats:?}");
    assert_eq!(stats.recoveries, 2 * stats.crashes);
}
