//! Running a harness's checks, one child process per check, spread over the machine's cores.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use protocol::Message;

use super::child::{self, Limits};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// The check ran and said why it failed.
    Failed(String),
    /// The process died or hung before the check could say anything.
    Died(String),
}

#[derive(Debug, Clone)]
pub struct CheckRun {
    pub name: String,
    pub verdict: Verdict,
    /// What the learner's code printed during the check.
    pub output: String,
    /// The last thing the check said it was doing, if it died.
    pub doing: Option<String>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone)]
pub struct SuiteRun {
    pub checks: Vec<CheckRun>,
    /// The sum of the checks' own times: what the suite costs on one core.
    pub elapsed: Duration,
}

impl SuiteRun {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.verdict == Verdict::Passed)
    }

    pub fn failures(&self) -> impl Iterator<Item = &CheckRun> {
        self.checks.iter().filter(|c| c.verdict != Verdict::Passed)
    }
}

/// Asks the harness for its checks' names.
pub fn list_checks(binary: &Path, limits: Limits) -> Result<Vec<String>> {
    let run = child::run(binary, &["--list"], 0, limits)?;
    for message in &run.messages {
        if let Message::Checks { names } = message {
            return Ok(names.clone());
        }
    }
    bail!(
        "the checks could not start: {}\n{}",
        run.death(limits),
        run.output.trim()
    )
}

/// Runs each named check in its own process, `jobs` at a time, and returns them in order.
pub fn run_checks(
    binary: &Path,
    names: &[String],
    seed: u64,
    limits: Limits,
    jobs: usize,
) -> SuiteRun {
    let checks = crate::parallel::map(names, jobs, |name| run_check(binary, name, seed, limits));
    let elapsed = checks.iter().map(|c| c.elapsed).sum();
    SuiteRun { checks, elapsed }
}

/// Runs one check in a process of its own.
pub fn run_check(binary: &Path, name: &str, seed: u64, limits: Limits) -> CheckRun {
    let args = ["--exact", name, "--test-threads", "1"];
    let run = match child::run(binary, &args, seed, limits) {
        Ok(run) => run,
        Err(error) => {
            return CheckRun {
                name: name.to_string(),
                verdict: Verdict::Died(format!("could not start the checks: {error}")),
                output: String::new(),
                doing: None,
                elapsed: Duration::ZERO,
            };
        }
    };
    let mut doing = None;
    let mut verdict = None;
    for message in &run.messages {
        match message {
            Message::Doing { check, what } if check == name => doing = Some(what.clone()),
            Message::Outcome {
                check,
                passed,
                message,
            } if check == name => {
                verdict = Some(if *passed {
                    Verdict::Passed
                } else {
                    Verdict::Failed(message.clone())
                });
            }
            _ => {}
        }
    }
    let verdict = verdict.unwrap_or_else(|| Verdict::Died(run.death(limits)));
    CheckRun {
        name: name.to_string(),
        doing: matches!(verdict, Verdict::Died(_))
            .then_some(doing)
            .flatten(),
        verdict,
        output: run.output.trim_end().to_string(),
        elapsed: run.elapsed,
    }
}
