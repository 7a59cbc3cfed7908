//! The runtime of a judge: the trusted half of a check run.
//!
//! The grader generates one judge binary per scene: its `main` is
//! `judge::main(checks::suite(), &UNITS)`, where `UNITS` are the scene's API declarations. The
//! checks call the learner's code through proxies generated from those declarations; the code
//! itself runs in a subject process the judge starts, contains and can restart. Everything
//! that decides a verdict (the checks, proptest, the kit's disk, network and checkers, the
//! models) lives here, out of the learner's reach.

mod check;
mod failure;
mod panics;
mod property;
pub mod remote;
mod report;
mod session;

pub use check::{Check, Ctx, Suite};
pub use failure::{CheckResult, Failure, expect, expect_eq, fail};
pub use proptest;
pub use remote::UnitSlot;
pub use {kit, serde, wire};

/// What a checks file needs in one import.
pub mod prelude {
    pub use crate::property::DEFAULT_CASES;
    pub use crate::{CheckResult, Ctx, Failure, Suite, expect, expect_eq, fail};
    pub use proptest::prelude::*;
}

/// Runs a judge for `suite`, whose checks call the APIs in `units`, as the grader asks.
pub fn main(suite: Suite, units: &'static [&'static UnitSlot]) -> ! {
    check::run(suite, units)
}

/// Runs a playground: `main` on the terminal, calling the APIs in `units`.
pub fn play(main: fn(), units: &'static [&'static UnitSlot]) -> ! {
    check::play(main, units)
}
