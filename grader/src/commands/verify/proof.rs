//! The proof of one scene: what its stub, solution and mutants do under its checks.

use std::time::Duration;

use protocol::Containment;

use crate::grading::DEFAULT_SEED;
use crate::manifest::Scene;
use crate::parallel;
use crate::run::{self, Binary, CheckRun, Limits, Setting, Subject, SuiteRun, Verdict};
use crate::variants::{Kind, Variant};

/// The stub's and the solution's verdicts are taken this many times with the same seed, and must
/// not change.
const RUNS: usize = 2;

pub struct Setup<'a> {
    pub scene: &'a Scene<'a>,
    /// In the order of the subject's implementations.
    pub variants: &'a [Variant],
    pub judge: &'a Binary,
    pub subject: &'a Binary,
    pub containment: &'a Containment,
    pub jobs: usize,
    /// Also run the solution on this many more seeds, where every check must pass.
    pub more_seeds: u64,
    /// Run every check against every mutant, to say which catch it; otherwise a mutant's run
    /// stops at the first check that catches it.
    pub every_catch: bool,
}

/// One run of a variant's suite, or of some of its checks.
#[derive(Clone)]
struct Task {
    variant: usize,
    seed: u64,
    /// The checks to run; all of them when none.
    checks: Option<Vec<String>>,
}

impl Task {
    fn whole(variant: usize, seed: u64) -> Task {
        Task {
            variant,
            seed,
            checks: None,
        }
    }
}

pub struct Proof {
    pub problems: Vec<String>,
    /// Checks of the solution that ran out of time and were run again alone.
    pub retried: Vec<String>,
    stub_failing: usize,
    solution_passing: usize,
    checks: usize,
    mutants_caught: usize,
    mutants: usize,
    generated_caught: usize,
    generated: usize,
    /// For each mutant, the checks that catch it.
    catches: Vec<(String, Vec<String>)>,
    /// The reference's whole suite in one judge, checks one after another: what it costs on
    /// one core, judge and subject processes included.
    suite_time: Duration,
    /// The reference's checks, slowest first, with what each took in its quickest run.
    check_times: Vec<(String, Duration)>,
}

impl Proof {
    /// Which checks catch each mutant, a line each.
    pub fn catches(&self) -> String {
        self.catches
            .iter()
            .map(|(mutant, checks)| format!("      mutant {mutant}: caught by {checks:?}\n"))
            .collect()
    }

    /// The reference's slowest checks, a line: where a slow suite spends its time.
    pub fn slowest(&self) -> String {
        let slowest: Vec<String> = self
            .check_times
            .iter()
            .take(3)
            .map(|(name, took)| format!("{:.2} s {name:?}", took.as_secs_f64()))
            .collect();
        format!(
            "      slowest checks of the solution: {}\n",
            slowest.join(", ")
        )
    }

    pub fn summary(&self) -> String {
        let generated = match self.generated {
            0 => String::new(),
            n => format!(", generated caught {}/{n}", self.generated_caught),
        };
        format!(
            "stub fails {}/{n}, solution passes {}/{n}, mutants caught {}/{}{generated}, suite {:.2} s",
            self.stub_failing,
            self.solution_passing,
            self.mutants_caught,
            self.mutants,
            self.suite_time.as_secs_f64(),
            n = self.checks,
        )
    }
}

/// Proves a scene. The stub's and the solution's suites run [`RUNS`] times in judges of their
/// own, and the checks that catch each hand-written mutant run again; with
/// `more_seeds`, the solution also runs on that many seeds after the default one: a check that
/// fails the reference on some seed is flaky, and would fail a learner's right answer.
pub fn prove(setup: &Setup) -> Proof {
    let limits = Limits::with_timeout(setup.scene.timeout());
    // Shrinking tells a learner the smallest failing input; a proof needs only the verdicts,
    // which shrinking never changes. So the stub and the mutants stop at their first failure.
    let setting = |seed, shrink| Setting {
        seed,
        limits,
        containment: setup.containment.clone(),
        shrink,
    };
    let mut problems = Vec::new();
    let names = match run::list_checks(setup.judge, &setting(DEFAULT_SEED, true)) {
        Ok(names) => names,
        Err(error) => {
            problems.push(format!("cannot list the checks: {error:#}"));
            Vec::new()
        }
    };
    let solution = setup.variants.iter().position(|v| v.kind == Kind::Solution);
    let run = |task: &Task| {
        let subject = Subject {
            binary: setup.subject,
            variant: task.variant as u16,
        };
        let kind = &setup.variants[task.variant].kind;
        let setting = setting(task.seed, *kind == Kind::Solution);
        let checks = task.checks.as_deref().unwrap_or(&names);
        if matches!(kind, Kind::Mutant { .. } | Kind::Generated { .. }) && !setup.every_catch {
            run::run_until_failure(setup.judge, subject, checks, &setting)
        } else {
            run::run_checks(setup.judge, subject, checks, &setting, 1)
        }
    };
    // The stub and the solution run their whole suite twice, first. A mutant then runs until a
    // check catches it, quickest checks first by the solution's times (each check has a seed of
    // its own, so the order changes no verdict, only how soon a catch comes), and the check that
    // caught it runs again; the checks it passed on the way prove nothing about it, and twice
    // would double the proof's longest part. Mutants made by machine are many, and each is taken
    // once: their proof is a survey.
    let mut tasks: Vec<Task> = Vec::new();
    for (v, variant) in setup.variants.iter().enumerate() {
        if matches!(variant.kind, Kind::Stub | Kind::Solution) {
            tasks.extend((0..RUNS).map(|_| Task::whole(v, DEFAULT_SEED)));
        }
    }
    let mut results: Vec<SuiteRun> = parallel::map(&tasks, setup.jobs, run);
    let quickest_first = solution
        .and_then(|s| tasks.iter().position(|t| t.variant == s))
        .map(|first_run| quickest_first(&names, &results[first_run]));
    let mut later: Vec<Task> = Vec::new();
    for (v, variant) in setup.variants.iter().enumerate() {
        if matches!(variant.kind, Kind::Mutant { .. } | Kind::Generated { .. }) {
            later.push(Task {
                checks: quickest_first.clone(),
                ..Task::whole(v, DEFAULT_SEED)
            });
        }
    }
    if let Some(solution) = solution {
        later.extend((0..setup.more_seeds).map(|s| Task::whole(solution, DEFAULT_SEED + 1 + s)));
    }
    results.extend(parallel::map(&later, setup.jobs, run));
    tasks.extend(later);
    let mut retried = Vec::new();
    let replays: Vec<Task> = tasks
        .iter()
        .zip(&results)
        .filter(|(task, _)| matches!(setup.variants[task.variant].kind, Kind::Mutant { .. }))
        .map(|(task, result)| Task {
            checks: Some(result.failures().map(|c| c.name.clone()).collect()),
            ..task.clone()
        })
        .filter(|task| task.checks.as_ref().is_some_and(|c| !c.is_empty()))
        .collect();
    results.extend(parallel::map(&replays, setup.jobs, run));
    tasks.extend(replays);
    // A time limit is wall-clock time, and a busy machine (other builds and gradings) can make
    // a check of the solution that takes seconds alone run past it. Such a check runs once more,
    // with the machine to itself as far as this proof goes; out of time again, it fails.
    for (task, result) in tasks.iter().zip(results.iter_mut()) {
        if Some(task.variant) != solution {
            continue;
        }
        for check in result.checks.iter_mut().filter(|c| out_of_time(&c.verdict)) {
            let alone = Task {
                checks: Some(vec![check.name.clone()]),
                ..task.clone()
            };
            if let Some(again) = run(&alone).checks.pop() {
                retried.push(format!("{:?} ({})", check.name, short(&check.verdict)));
                *check = again;
            }
        }
    }
    for (task, result) in tasks
        .iter()
        .zip(&results)
        .filter(|(task, _)| task.seed != DEFAULT_SEED)
    {
        for check in result.failures() {
            problems.push(format!(
                "the solution fails {:?} on seed {}: a flaky check ({})",
                check.name,
                task.seed,
                short(&check.verdict)
            ));
        }
    }

    let mut proof = Proof {
        problems,
        retried,
        stub_failing: 0,
        solution_passing: 0,
        checks: names.len(),
        mutants_caught: 0,
        mutants: setup
            .variants
            .iter()
            .filter(|v| matches!(v.kind, Kind::Mutant { .. }))
            .count(),
        generated_caught: 0,
        generated: setup
            .variants
            .iter()
            .filter(|v| matches!(v.kind, Kind::Generated { .. }))
            .count(),
        catches: Vec::new(),
        suite_time: Duration::ZERO,
        check_times: Vec::new(),
    };
    for (v, variant) in setup.variants.iter().enumerate() {
        let runs: Vec<&SuiteRun> = tasks
            .iter()
            .zip(&results)
            .filter(|(task, _)| task.variant == v && task.seed == DEFAULT_SEED)
            .map(|(_, result)| result)
            .collect();
        proof.judge(variant, &runs);
    }
    proof
}

impl Proof {
    fn judge(&mut self, variant: &Variant, runs: &[&SuiteRun]) {
        let first = &runs[0].checks;
        let replays_some = matches!(variant.kind, Kind::Mutant { .. });
        for later in &runs[1..] {
            // A run that stops at its first failure ends sooner when that failure came sooner.
            let ended_on_time =
                |run: &[CheckRun]| run.last().is_some_and(|c| out_of_time(&c.verdict));
            if !replays_some
                && later.checks.len() != first.len()
                && !ended_on_time(first)
                && !ended_on_time(&later.checks)
            {
                self.problems.push(format!(
                    "{}: the same seed gave verdicts for {} checks, then for {}",
                    describe(&variant.kind),
                    first.len(),
                    later.checks.len()
                ));
            }
            let pairs = later
                .checks
                .iter()
                .filter_map(|b| first.iter().find(|a| a.name == b.name).map(|a| (a, b)));
            for (a, b) in pairs {
                // Running out of time says how busy the machine was as much as what the code
                // does: the replay compares what the checks decide. (A solution that runs out of
                // time still fails below, on its first run.)
                if a.verdict != b.verdict && !out_of_time(&a.verdict) && !out_of_time(&b.verdict) {
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
        let failing: Vec<&CheckRun> = first
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
                self.suite_time = runs.iter().map(|r| r.elapsed).min().unwrap_or_default();
                self.check_times = first
                    .iter()
                    .map(|check| {
                        let took = runs
                            .iter()
                            .flat_map(|run| run.checks.iter().filter(|c| c.name == check.name))
                            .map(|c| c.elapsed)
                            .min()
                            .unwrap_or_default();
                        (check.name.clone(), took)
                    })
                    .collect();
                self.check_times
                    .sort_by_key(|(_, took)| std::cmp::Reverse(*took));
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
            Kind::Generated { id, place, .. } => {
                if failing.is_empty() {
                    self.problems.push(format!(
                        "survivor at {place}: {id}\n  no check catches it: add one, or record \
                         it with the reason in mutants/equivalent.toml"
                    ));
                } else {
                    self.generated_caught += 1;
                }
            }
        }
    }
}

/// The checks, those the solution's run took least time over first.
fn quickest_first(names: &[String], solution: &SuiteRun) -> Vec<String> {
    let took = |name: &String| {
        let check = solution.checks.iter().find(|c| &c.name == name);
        check.map_or(std::time::Duration::MAX, |c| c.elapsed)
    };
    let mut names = names.to_vec();
    names.sort_by_cached_key(took);
    names
}

fn describe(kind: &Kind) -> String {
    match kind {
        Kind::Stub => "the stub".into(),
        Kind::Solution => "the solution".into(),
        Kind::Mutant { name, .. } => format!("mutant {name}"),
        Kind::Generated { id, .. } => format!("the generated mutant {id:?}"),
    }
}

/// Whether a verdict is a time limit reached (a call, or a whole check).
fn out_of_time(verdict: &Verdict) -> bool {
    match verdict {
        Verdict::Passed => false,
        Verdict::Failed(message) | Verdict::Died(message) => {
            message.starts_with("did not finish within")
                || message.starts_with("the check did not finish within")
        }
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
