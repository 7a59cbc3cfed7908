//! The runtime of a hidden-check binary.
//!
//! The grader generates one small binary per scene (and per implementation under test) whose
//! `main` is `harness::run(checks::suite())`. This crate is everything such a binary needs: the
//! suite and its checks, proptest configured by the grader alone, panics turned into messages a
//! learner can act on, and the private channel the verdicts travel on.

mod channel;
mod check;
mod failure;
mod panics;
mod property;

pub use check::{Check, Ctx, Suite};
pub use failure::{CheckResult, Failure, expect, expect_eq, fail};
pub use proptest;

/// What a checks file needs in one import.
pub mod prelude {
    pub use crate::{CheckResult, Ctx, Failure, Suite, expect, expect_eq, fail};
    pub use proptest::prelude::*;
}

/// Runs the suite as the grader asked (on stdin) and exits.
pub fn run(suite: Suite) -> ! {
    check::run(suite)
}
