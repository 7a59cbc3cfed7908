//! Running judges: each one a trusted process that runs a scene's checks against a subject it
//! starts and contains itself. The grader only starts judges, hears their verdicts, and makes
//! sure nothing they (or the learner's code) started outlives them.

mod binary;
pub mod containment;
mod judge;
mod strays;
mod suite;

pub use binary::Binary;
pub use judge::play as play_judge;
pub use strays::{adopt_orphans, sweep};
pub use suite::{
    CheckRun, Limits, Setting, Subject, SuiteRun, Verdict, list_checks, run_checks,
    run_until_failure,
};
