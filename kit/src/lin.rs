//! Linearizability: could a concurrent history have happened one operation at a time?
//!
//! The search is Wing and Gong's: pick an operation that may take effect next (nothing that
//! returned before it was invoked is still waiting), apply it to a sequential model, check its
//! return value, and backtrack on a mismatch. Visited (done-set, state) pairs are remembered, as
//! Lowe suggests, and the history is split into independent partitions (the keys of a store),
//! which keeps each search small.
//!
//! An operation that never returned (its client gave up, or the run ended) may have taken
//! effect at any point after its invocation, or not at all; its return value is unknown.
//!
//! The checker fails closed: when a search runs out of budget the verdict is
//! [`Verdict::Undecided`], which a check must treat as a failure, never as a pass.

use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Debug};
use std::hash::Hash;

/// The sequential specification of an object.
pub trait Model {
    type State: Clone + Eq + Hash + Debug;
    type Op: Clone + Debug;
    type Ret: Clone + Debug + PartialEq;
    fn init(&self) -> Self::State;
    /// Applies `op` to `state`: the new state and what `op` returns.
    fn step(&self, state: &Self::State, op: &Self::Op) -> (Self::State, Self::Ret);
    /// Operations in different partitions never affect each other (different keys).
    fn partition(&self, _op: &Self::Op) -> u64 {
        0
    }
}

/// One client operation: when it was invoked and, if it did, when it returned and with what.
#[derive(Debug, Clone)]
pub struct Operation<Op, Ret> {
    pub client: usize,
    pub op: Op,
    pub invoked: u64,
    pub returned: Option<(u64, Ret)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    /// No order works; the operations of the partition that has none, one per line.
    NotLinearizable {
        operations: Vec<String>,
    },
    /// The search ran out of budget before deciding: not a pass.
    Undecided {
        explored: u64,
    },
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Linearizable => write!(f, "linearizable"),
            Verdict::NotLinearizable { operations } => write!(
                f,
                "not linearizable: no one-at-a-time order of these operations gives their results\n{}",
                operations.join("\n")
            ),
            Verdict::Undecided { explored } => write!(
                f,
                "could not decide linearizability within the budget ({explored} states explored): \
                 this counts as a failure"
            ),
        }
    }
}

/// An operation of `M`'s history.
pub type OperationOf<M> = Operation<<M as Model>::Op, <M as Model>::Ret>;

/// Checks `history` against `model`, exploring at most `budget` states in all.
pub fn check<M: Model>(model: &M, history: &[OperationOf<M>], budget: u64) -> Verdict {
    let mut partitions: BTreeMap<u64, Vec<&OperationOf<M>>> = BTreeMap::new();
    for operation in history {
        partitions
            .entry(model.partition(&operation.op))
            .or_default()
            .push(operation);
    }
    let mut explored = 0;
    for operations in partitions.values() {
        match search(
            model,
            operations,
            budget.saturating_sub(explored),
            &mut explored,
        ) {
            Some(true) => {}
            Some(false) => {
                return Verdict::NotLinearizable {
                    operations: operations.iter().map(|o| describe(o)).collect(),
                };
            }
            None => return Verdict::Undecided { explored },
        }
    }
    Verdict::Linearizable
}

fn describe<Op: Debug, Ret: Debug>(operation: &Operation<Op, Ret>) -> String {
    match &operation.returned {
        Some((at, ret)) => format!(
            "  client {}: {:?} from t={} to t={} returned {:?}",
            operation.client, operation.op, operation.invoked, at, ret
        ),
        None => format!(
            "  client {}: {:?} from t={}, never returned",
            operation.client, operation.op, operation.invoked
        ),
    }
}

/// Some(verdict), or None when the budget ran out.
fn search<M: Model>(
    model: &M,
    operations: &[&OperationOf<M>],
    budget: u64,
    explored: &mut u64,
) -> Option<bool> {
    let n = operations.len();
    let completed: Vec<bool> = operations.iter().map(|o| o.returned.is_some()).collect();
    let all_completed_done = |done: &[bool]| (0..n).all(|i| done[i] || !completed[i]);
    let mut seen: HashSet<(Vec<bool>, M::State)> = HashSet::new();
    let mut stack = vec![(vec![false; n], model.init())];
    let mut spent = 0;
    while let Some((done, state)) = stack.pop() {
        if all_completed_done(&done) {
            return Some(true);
        }
        if !seen.insert((done.clone(), state.clone())) {
            continue;
        }
        spent += 1;
        *explored += 1;
        if spent > budget {
            return None;
        }
        // The earliest return among operations still waiting: nothing invoked after it may go
        // before it.
        let deadline = (0..n)
            .filter(|&i| !done[i])
            .filter_map(|i| operations[i].returned.as_ref().map(|(at, _)| *at))
            .min()
            .unwrap_or(u64::MAX);
        for i in (0..n).rev() {
            if done[i] || operations[i].invoked > deadline {
                continue;
            }
            let (next, ret) = model.step(&state, &operations[i].op);
            let fits = match &operations[i].returned {
                Some((_, expected)) => *expected == ret,
                None => true,
            };
            if fits {
                let mut now_done = done.clone();
                now_done[i] = true;
                stack.push((now_done, next));
            }
        }
    }
    Some(false)
}

/// A key-value register per key: `Put(k, v)`, `Get(k)`; the model for replicated stores.
#[derive(Debug, Clone, Copy, Default)]
pub struct KvModel;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KvOp {
    Put(String, String),
    Append(String, String),
    Get(String),
}

impl Model for KvModel {
    /// The value of the one key this partition is about.
    type State = Option<String>;
    type Op = KvOp;
    /// What a get saw (None for a put, and for a get of a missing key).
    type Ret = Option<String>;

    fn init(&self) -> Option<String> {
        None
    }

    fn step(&self, state: &Option<String>, op: &KvOp) -> (Option<String>, Option<String>) {
        match op {
            KvOp::Put(_, value) => (Some(value.clone()), None),
            KvOp::Append(_, value) => {
                let mut next = state.clone().unwrap_or_default();
                next.push_str(value);
                (Some(next), None)
            }
            KvOp::Get(_) => (state.clone(), state.clone()),
        }
    }

    fn partition(&self, op: &KvOp) -> u64 {
        let key = match op {
            KvOp::Put(k, _) | KvOp::Append(k, _) | KvOp::Get(k) => k,
        };
        key.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
        })
    }
}
