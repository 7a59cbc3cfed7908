//! Property checks: proptest, configured by the grader and nobody else.

use std::fmt::Debug;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRunner};

use crate::check::Ctx;
use crate::failure::{CheckResult, Failure, compact_debug};
use crate::panics;
use crate::session::session;

/// How many cases a property tries unless the check asks for another number.
pub const DEFAULT_CASES: u32 = 256;

impl Ctx {
    /// Checks `test` on [`DEFAULT_CASES`] inputs drawn from `strategy`; on failure, reports the
    /// smallest input proptest could shrink it to.
    pub fn forall<S>(&self, strategy: S, test: impl Fn(S::Value) -> CheckResult) -> CheckResult
    where
        S: Strategy,
        S::Value: Debug,
    {
        self.forall_n(DEFAULT_CASES, strategy, test)
    }

    /// As [`Ctx::forall`], with `cases` inputs.
    pub fn forall_n<S>(
        &self,
        cases: u32,
        strategy: S,
        test: impl Fn(S::Value) -> CheckResult,
    ) -> CheckResult
    where
        S: Strategy,
        S::Value: Debug,
    {
        let mut runner = TestRunner::new_with_rng(config(cases, self.shrink()), self.rng());
        let outcome = runner.run(&strategy, |input| {
            // Once the learner's process has died the check is over: every further case
            // passes at once, so shrinking stops and the input that killed it is the one told.
            if session().is_fatal() {
                return Ok(());
            }
            self.doing(format!("input {}", compact_debug(&input)));
            test(input).map_err(|failure| TestCaseError::fail(failure.message))
        });
        match outcome {
            Ok(()) => Ok(()),
            Err(TestError::Abort(reason)) => Err(Failure::new(format!(
                "the property gave up before finding enough inputs: {reason}"
            ))),
            Err(TestError::Fail(reason, input)) => {
                let shown = compact_debug(&input);
                // Run the smallest input once more, to report its own failure (and the panic's
                // location) rather than proptest's summary of it.
                let why = match panics::catch(|| test(input)) {
                    Ok(Err(failure)) => failure.message,
                    Err(panic) => panic,
                    Ok(Ok(())) => reason.message().to_string(),
                };
                Err(Failure::new(format!(
                    "smallest failing input (shrunk): {shown}\n{why}"
                )))
            }
        }
    }
}

/// Built field by field: `Config::default()` listens to `PROPTEST_*` variables and writes
/// regression files next to the source, and a suite must do neither.
fn config(cases: u32, shrink: bool) -> Config {
    Config {
        cases,
        failure_persistence: None,
        source_file: None,
        max_shrink_iters: if shrink { 4096 } else { 0 },
        max_shrink_time: 0,
        rng_algorithm: RngAlgorithm::ChaCha,
        verbose: 0,
        ..Config::default()
    }
}
