//! Hidden-check binaries: generated, built and run by the grader.
//!
//! A harness is a tiny generated package whose `main` runs one scene's checks file against one
//! implementation crate (the learner's, the reference, a mutant, or any `--impl DIR`). Harnesses
//! are built in a workspace of their own under `target/grade`, so building them never waits for
//! an editor holding the main workspace's lock, and many of them build in one cargo run.

mod child;
mod compile;
mod strays;
mod suite;

pub use child::Limits;
pub use compile::{BuildFailure, CrateRef, Entry, Harness, build, build_one, lint};
pub use strays::adopt_orphans;
pub use suite::{CheckRun, SuiteRun, Verdict, list_checks, run_check, run_checks};
