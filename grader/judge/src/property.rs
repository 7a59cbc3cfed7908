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
        self.forall_named(&[], cases, strategy, test)
    }

    /// As [`Ctx::forall_n`], naming the parts of each input (a tuple's fields in order, or the
    /// one value), so that a failing input reads `capacity = 3, rate = 1000` and not `(3, 1000)`.
    pub fn forall_named<S>(
        &self,
        names: &[&str],
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
            self.doing(format!("input {}", named(&input, names)));
            test(input).map_err(|failure| TestCaseError::fail(failure.message))
        });
        match outcome {
            Ok(()) => Ok(()),
            Err(TestError::Abort(reason)) => Err(Failure::new(format!(
                "the property gave up before finding enough inputs: {reason}"
            ))),
            Err(TestError::Fail(reason, input)) => {
                let shown = named(&input, names);
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

/// `input` as `name = value` for each of `names` (a tuple's fields, or the one value); as it
/// prints when there are no names, or when they do not match its shape.
fn named(input: &impl Debug, names: &[&str]) -> String {
    let flat = format!("{input:?}");
    let parts = match names.len() {
        0 => Vec::new(),
        1 => vec![flat.as_str()],
        _ => flat
            .strip_prefix('(')
            .and_then(|inner| inner.strip_suffix(')'))
            .map(top_level_fields)
            .unwrap_or_default(),
    };
    if parts.is_empty() || parts.len() != names.len() {
        return compact_debug(input);
    }
    let fields: Vec<String> = names
        .iter()
        .zip(parts)
        .map(|(name, part)| format!("{name} = {part}"))
        .collect();
    let one_line = fields.join(", ");
    if one_line.len() <= 100 {
        one_line
    } else {
        format!("\n  {}", fields.join("\n  "))
    }
}

/// The fields of a tuple's `Debug` text without its parentheses: split at the commas outside
/// any bracket or string.
fn top_level_fields(inner: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut start) = (0i32, false, false, 0);
    for (i, c) in inner.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            _ if in_string => {}
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                fields.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = inner[start..].trim();
    if !last.is_empty() {
        fields.push(last);
    }
    fields
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

#[cfg(test)]
mod tests {
    use super::named;

    #[test]
    fn a_tuple_reads_field_by_field() {
        let input = (3u64, "a, b".to_string(), vec![(1, 2)]);
        assert_eq!(
            named(&input, &["capacity", "key", "ops"]),
            "capacity = 3, key = \"a, b\", ops = [(1, 2)]"
        );
    }

    #[test]
    fn one_value_gets_its_name() {
        assert_eq!(named(&1341u32, &["value"]), "value = 1341");
    }

    #[test]
    fn names_that_do_not_fit_leave_the_input_as_it_prints() {
        assert_eq!(named(&(1, 2), &["only one", "two", "three"]), "(1, 2)");
        assert_eq!(named(&(1, 2), &[]), "(1, 2)");
    }
}
