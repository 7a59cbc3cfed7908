//! The proof of one scene: what its stub, solution and mutants do under its checks.

use std::path::PathBuf;
use std::time::Duration;

use crate::grading::DEFAULT_SEED;
use crate::harness::{self, BuildFailure, CheckRun, Limits, Verdict};
use crate::manifest::Scene;
use crate::parallel;
use crate::variants::{Kind, Variant};

/// Every verdict is taken this many times with the same seed, and must not change.
const RUNS: usize = 2;

pub struct Proof {
    pub problems: Vec<String>,
    stub_failing: usize,
    solution_passing: usize,
    checks: usize,
    mutants_caught: usize,
    mutants: usize,
    /// For each mutant, the checks that catch it.
    catches: Vec<(String, Vec<String>)>,
    /// The reference's checks, one after another: what the suite costs on one core.
    suite_time: Duration,
}

impl Proof {
    /// Which checks catch each mutant, a line each.
    pub fn catches(&self) -> String {
        self.catches
            .iter()
            .map(|(mutant, checks)| format!("      mutant {mutant}: caught by {checks:?}\n"))
            .collect()
    }

    pub fn summary(&self) -> String {
        format!(
            "stub fails {}/{n}, solution passes {}/{n}, mutants caught {}/{}, suite {:.2} s",
            self.stub_failing,
            self.solution_passing,
            self.mutants_caught,
            self.mutants,
            self.suite_time.as_secs_f64(),
            n = self.checks,
        )
    }
}

/// Proves a scene. With `more_seeds`, the solution also runs on that many seeds after the
/// default one, where every check must still pass: a check that fails the reference on some
/// seed is flaky, and would fail a learner's right answer.
pub fn prove(
    scene: &Scene,
    variants: &[Variant],
    binaries: &[Option<Result<PathBuf, BuildFailure>>],
    jobs: usize,
    more_seeds: u64,
) -> Proof {
    let limits = Limits::with_timeout(scene.timeout());
    let mut problems = Vec::new();
    let mut names: Option<Vec<String>> = None;
    let mut runnable = Vec::new();
    for (variant, binary) in variants.iter().zip(binaries) {
        match binary {
            Some(Ok(binary)) => {
                if names.is_none() {
                    match harness::list_checks(binary, limits) {
                        Ok(listed) => names = Some(listed),
                        Err(error) => problems.push(format!("cannot list the checks: {error}")),
                    }
                }
                runnable.push((variant, binary));
            }
            Some(Err(failure)) => problems.push(format!(
                "{} does not compile:\n{}",
                describe(&variant.kind),
                failure
                    .errors
                    .first()
                    .map(String::as_str)
                    .unwrap_or("")
                    .trim_end()
            )),
            None => problems.push(format!("{} was not built", describe(&variant.kind))),
        }
    }
    let names = names.unwrap_or_default();

    let tasks: Vec<(usize, &str, usize)> = (0..runnable.len())
        .flat_map(|v| {
            names
                .iter()
                .flat_map(move |name| (0..RUNS).map(move |run| (v, name.as_str(), run)))
        })
        .collect();
    let results = parallel::map(&tasks, jobs, |&(v, name, _)| {
        harness::run_check(runnable[v].1, name, DEFAULT_SEED, limits)
    });

    let solution = runnable.iter().position(|(v, _)| v.kind == Kind::Solution);
    let seed_tasks: Vec<(&str, u64)> = solution
        .into_iter()
        .flat_map(|_| {
            names
                .iter()
                .flat_map(|n| (0..more_seeds).map(move |s| (n.as_str(), DEFAULT_SEED + 1 + s)))
        })
        .collect();
    let seed_results = parallel::map(&seed_tasks, jobs, |&(name, seed)| {
        let binary = runnable[solution.expect("tasks only with a solution")].1;
        harness::run_check(binary, name, seed, limits)
    });
    for ((name, seed), result) in seed_tasks.iter().zip(&seed_results) {
        if result.verdict != Verdict::Passed {
            problems.push(format!(
                "the solution fails {name:?} on seed {seed}: a flaky check ({})",
                short(&result.verdict)
            ));
        }
    }

    let mut proof = Proof {
        problems,
        stub_failing: 0,
        solution_passing: 0,
        checks: names.len(),
        mutants_caught: 0,
        mutants: variants
            .iter()
            .filter(|v| matches!(v.kind, Kind::Mutant { .. }))
            .count(),
        catches: Vec::new(),
        suite_time: Duration::ZERO,
    };
    for (v, (variant, _)) in runnable.iter().enumerate() {
        let runs: Vec<Vec<&CheckRun>> = (0..RUNS)
            .map(|run| {
                tasks
                    .iter()
                    .zip(&results)
                    .filter(|((tv, _, tr), _)| *tv == v && *tr == run)
                    .map(|(_, result)| result)
                    .collect()
            })
            .collect();
        proof.judge(variant, &runs);
    }
    proof
}

impl Proof {
    fn judge(&mut self, variant: &Variant, runs: &[Vec<&CheckRun>]) {
        let first = &runs[0];
        for later in &runs[1..] {
            for (a, b) in first.iter().zip(later) {
                if a.verdict != b.verdict {
                    self.problems.push(format!(
                        "{}: the same seed gave two verdicts for {:?}: {} then {}",
                        describe(&variant.kind),
                        a.name,
                        short(&a.verdict),
                        short(&b.verdict)
                    ));
                }
            }
        }
        let failing: Vec<&&CheckRun> = first
            .iter()
            .filter(|c| c.verdict != Verdict::Passed)
            .collect();
        match &variant.kind {
            Kind::Stub => {
                self.stub_failing = failing.len();
                for check in first.iter().filter(|c| c.verdict == Verdict::Passed) {
                    self.problems.push(format!(
                        "the stub passes {:?}: a check a stub passes tests nothing",
                        check.name
                    ));
                }
            }
            Kind::Solution => {
                self.solution_passing = first.len() - failing.len();
                self.suite_time = first.iter().map(|c| c.elapsed).sum();
                for check in failing {
                    self.problems.push(format!(
                        "the solution fails {:?}: {}",
                        check.name,
                        short(&check.verdict)
                    ));
                }
            }
            Kind::Mutant { name, about } => {
                if failing.is_empty() {
                    self.problems.push(format!(
                        "mutant {name} is not caught by any check ({about})"
                    ));
                } else {
                    self.mutants_caught += 1;
                }
                let names = failing.iter().map(|c| c.name.clone()).collect();
                self.catches.push((name.clone(), names));
            }
        }
    }
}

fn describe(kind: &Kind) -> String {
    match kind {
        Kind::Stub => "the stub".into(),
        Kind::Solution => "the solution".into(),
        Kind::Mutant { name, .. } => format!("mutant {name}"),
    }
}

/// A verdict in one line, for lists of problems.
fn short(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Passed => "pass".into(),
        Verdict::Failed(message) | Verdict::Died(message) => {
            let line = message.lines().next().unwrap_or_default();
            format!("fail ({line})")
        }
    }
}
