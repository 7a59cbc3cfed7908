//! The checker on histories whose answer is known.

use kit::lin::{KvModel, KvOp, Operation, Verdict, check};

fn put(
    client: usize,
    key: &str,
    value: &str,
    invoked: u64,
    returned: u64,
) -> Operation<KvOp, Option<String>> {
    Operation {
        client,
        op: KvOp::Put(key.into(), value.into()),
        invoked,
        returned: Some((returned, None)),
    }
}

fn get(
    client: usize,
    key: &str,
    saw: Option<&str>,
    invoked: u64,
    returned: u64,
) -> Operation<KvOp, Option<String>> {
    Operation {
        client,
        op: KvOp::Get(key.into()),
        invoked,
        returned: Some((returned, saw.map(String::from))),
    }
}

#[test]
fn sequential_reads_of_the_latest_write_are_linearizable() {
    let history = [put(0, "x", "1", 0, 10), get(1, "x", Some("1"), 20, 30)];
    assert_eq!(check(&KvModel, &history, 10_000), Verdict::Linearizable);
}

#[test]
fn a_stale_read_after_a_write_returned_is_not() {
    let history = [
        put(0, "x", "1", 0, 10),
        put(0, "x", "2", 20, 30),
        get(1, "x", Some("1"), 40, 50),
    ];
    assert!(matches!(
        check(&KvModel, &history, 10_000),
        Verdict::NotLinearizable { .. }
    ));
}

#[test]
fn concurrent_operations_may_take_effect_in_either_order() {
    // The get overlaps the put, so it may see the old value or the new one.
    for saw in [None, Some("1")] {
        let history = [put(0, "x", "1", 0, 100), get(1, "x", saw, 10, 20)];
        assert_eq!(
            check(&KvModel, &history, 10_000),
            Verdict::Linearizable,
            "{saw:?}"
        );
    }
}

#[test]
fn two_readers_must_agree_on_the_order() {
    // Two overlapping puts; one reader sees 1 then 2, the other 2 then 1: no single order.
    let history = [
        put(0, "x", "1", 0, 100),
        put(1, "x", "2", 0, 100),
        get(2, "x", Some("1"), 10, 20),
        get(2, "x", Some("2"), 30, 40),
        get(3, "x", Some("2"), 10, 20),
        get(3, "x", Some("1"), 30, 40),
    ];
    assert!(matches!(
        check(&KvModel, &history, 100_000),
        Verdict::NotLinearizable { .. }
    ));
}

#[test]
fn an_operation_that_never_returned_may_or_may_not_have_happened() {
    let pending = Operation {
        client: 0,
        op: KvOp::Put("x".into(), "1".into()),
        invoked: 0,
        returned: None,
    };
    for saw in [None, Some("1")] {
        let history = [pending.clone(), get(1, "x", saw, 50, 60)];
        assert_eq!(check(&KvModel, &history, 10_000), Verdict::Linearizable);
    }
    // But it cannot be seen before it was invoked.
    let late = Operation {
        invoked: 100,
        ..pending
    };
    let history = [late, get(1, "x", Some("1"), 50, 60)];
    assert!(matches!(
        check(&KvModel, &history, 10_000),
        Verdict::NotLinearizable { .. }
    ));
}

#[test]
fn keys_are_checked_apart() {
    let history = [
        put(0, "x", "1", 0, 10),
        put(0, "y", "2", 0, 10),
        get(1, "y", Some("2"), 20, 30),
        get(1, "x", None, 20, 30),
    ];
    match check(&KvModel, &history, 10_000) {
        Verdict::NotLinearizable { operations } => {
            assert!(
                operations.iter().all(|o| o.contains("\"x\"")),
                "{operations:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn running_out_of_budget_is_not_a_pass() {
    // Many concurrent writes and reads of one key: more states than a budget of 10.
    let mut history = Vec::new();
    for i in 0..8 {
        history.push(put(i, "x", &i.to_string(), 0, 1000));
    }
    history.push(get(9, "x", Some("3"), 2000, 2001));
    assert!(matches!(
        check(&KvModel, &history, 10),
        Verdict::Undecided { .. }
    ));
    assert_eq!(check(&KvModel, &history, 1_000_000), Verdict::Linearizable);
}
