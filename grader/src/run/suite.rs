//! Running a scene's checks: judges in parallel, each running a share of the checks one after
//! another, each check against fresh instances of the subject.
//!
//! The list of checks comes from the judge (trusted), never from the subject, and a verdict is
//! expected for every check asked for: a check a judge did not answer for is run again alone,
//! and if it still has no verdict, it died.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Result, bail};
use protocol::{Containment, Handshake, Message, Task};

use super::binary::Binary;
use super::judge;

/// What one run of learner code may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub memory_bytes: u64,
}

impl Limits {
    pub fn with_timeout(timeout: Duration) -> Limits {
        Limits {
            timeout,
            memory_bytes: 2 << 30,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// The check ran and said why it failed.
    Failed(String),
    /// The learner's process died or hung before the check could finish.
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
    /// How long the check took, as its judge measured it (zero if it never ran).
    pub elapsed: Duration,
}

#[derive(Debug, Clone)]
pub struct SuiteRun {
    pub checks: Vec<CheckRun>,
    /// Wall-clock time of the whole run.
    pub elapsed: Duration,
}

impl SuiteRun {
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.verdict == Verdict::Passed)
    }

    pub fn failures(&self) -> impl Iterator<Item = &CheckRun> {
        self.checks.iter().filter(|c| c.verdict != Verdict::Passed)
    }
}

/// The subject a run grades: a binary, and which of its implementations.
#[derive(Clone, Copy)]
pub struct Subject<'a> {
    pub binary: &'a Binary,
    pub variant: u16,
}

/// What a judge gets told besides its task.
#[derive(Clone)]
pub struct Setting {
    pub seed: u64,
    pub limits: Limits,
    pub containment: Containment,
    /// Shrink failing inputs (see [`protocol::Handshake::shrink`]).
    pub shrink: bool,
}

/// A judge gets this long past a check's own limit before it is taken to hang.
const GRACE: Duration = Duration::from_secs(5);

/// How long a judge may go without a verdict: a whole check's time, and the grace.
fn patience(limits: &Limits) -> Duration {
    limits.timeout * protocol::CHECK_TIMEOUTS + GRACE
}

/// Asks the judge for its checks' names.
pub fn list_checks(judge: &Binary, setting: &Setting) -> Result<Vec<String>> {
    let handshake = handshake(Task::List, 0, setting);
    let run = judge::run(judge, None, &handshake, patience(&setting.limits), |_| {})?;
    for message in &run.messages {
        if let Message::Checks { names } = message {
            if names.is_empty() {
                bail!("the checks list no checks");
            }
            return Ok(names.clone());
        }
    }
    bail!(
        "the checks could not start ({}){}",
        match run.status {
            Some(status) => status.to_string(),
            None => "they did not answer".into(),
        },
        tail(&run.stderr)
    )
}

/// Runs `names` against `subject`, `jobs` judges at a time, and returns them in order.
pub fn run_checks(
    judge: &Binary,
    subject: Subject,
    names: &[String],
    setting: &Setting,
    jobs: usize,
) -> SuiteRun {
    let started = std::time::Instant::now();
    let jobs = jobs.clamp(1, names.len().max(1));
    let batches: Vec<Vec<String>> = (0..jobs)
        .map(|j| names.iter().skip(j).step_by(jobs).cloned().collect())
        .collect();
    let mut found: HashMap<String, CheckRun> = HashMap::new();
    for runs in crate::parallel::map(&batches, jobs, |batch| {
        run_batch(judge, subject, batch, setting)
    }) {
        found.extend(runs.into_iter().map(|run| (run.name.clone(), run)));
    }
    // A check its judge never answered for: alone, once more.
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !found.contains_key(*n))
        .cloned()
        .collect();
    let retried = crate::parallel::map(&missing, jobs, |name| {
        let batch = std::slice::from_ref(name);
        run_batch(judge, subject, batch, setting).into_iter().next()
    });
    for (name, run) in missing.iter().zip(retried) {
        let run = run.unwrap_or_else(|| CheckRun {
            name: name.clone(),
            verdict: Verdict::Died("the checks stopped before this check gave a verdict".into()),
            output: String::new(),
            doing: None,
            elapsed: Duration::ZERO,
        });
        found.insert(name.clone(), run);
    }
    SuiteRun {
        checks: names.iter().filter_map(|n| found.remove(n)).collect(),
        elapsed: started.elapsed(),
    }
}

/// Runs `names` in order in one judge until the first that does not pass, which is the last
/// one returned (or none, if every check passes). Enough to prove that an implementation is
/// wrong, at the cost of the checks up to that one.
pub fn run_until_failure(
    judge: &Binary,
    subject: Subject,
    names: &[String],
    setting: &Setting,
) -> SuiteRun {
    let started = std::time::Instant::now();
    let handshake = handshake(
        Task::Run {
            checks: names.to_vec(),
            until_failure: true,
        },
        subject.variant,
        setting,
    );
    let patience = patience(&setting.limits);
    let messages = judge::run(judge, Some(subject.binary), &handshake, patience, |_| {})
        .map(|run| run.messages)
        .unwrap_or_default();
    let mut checks = outcomes(messages, names);
    if checks.len() < names.len() && checks.last().is_none_or(|c| c.verdict == Verdict::Passed) {
        // The judge stopped before a verdict that did not pass: the next check died.
        checks.push(CheckRun {
            name: names[checks.len()].clone(),
            verdict: Verdict::Died("the checks stopped before this check gave a verdict".into()),
            output: String::new(),
            doing: None,
            elapsed: Duration::ZERO,
        });
    }
    SuiteRun {
        checks,
        elapsed: started.elapsed(),
    }
}

/// One judge running `batch`; the checks it reported on.
fn run_batch(
    judge: &Binary,
    subject: Subject,
    batch: &[String],
    setting: &Setting,
) -> Vec<CheckRun> {
    let handshake = handshake(
        Task::Run {
            checks: batch.to_vec(),
            until_failure: false,
        },
        subject.variant,
        setting,
    );
    let patience = patience(&setting.limits);
    let Ok(run) = judge::run(judge, Some(subject.binary), &handshake, patience, |_| {}) else {
        return Vec::new();
    };
    outcomes(run.messages, batch)
}

/// The verdicts among `messages` for checks in `asked`.
fn outcomes(messages: Vec<Message>, asked: &[String]) -> Vec<CheckRun> {
    messages
        .into_iter()
        .filter_map(|message| match message {
            Message::Outcome {
                check,
                verdict,
                output,
                doing,
                micros,
            } if asked.contains(&check) => Some(CheckRun {
                name: check,
                verdict: match verdict {
                    protocol::Verdict::Passed => Verdict::Passed,
                    protocol::Verdict::Failed(why) => Verdict::Failed(why),
                    protocol::Verdict::Died(why) => Verdict::Died(why),
                },
                output,
                doing,
                elapsed: Duration::from_micros(micros),
            }),
            _ => None,
        })
        .collect()
}

fn handshake(task: Task, variant: u16, setting: &Setting) -> Handshake {
    Handshake {
        task,
        seed: setting.seed,
        variant,
        timeout_ms: setting.limits.timeout.as_millis() as u64,
        memory_bytes: setting.limits.memory_bytes,
        containment: setting.containment.clone(),
        shrink: setting.shrink,
    }
}

fn tail(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        let lines: Vec<&str> = text.lines().collect();
        format!(":\n{}", lines[lines.len().saturating_sub(10)..].join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(verdict: Verdict) -> CheckRun {
        CheckRun {
            name: "a check".into(),
            verdict,
            output: String::new(),
            doing: None,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn no_checks_is_no_pass() {
        let run = |checks| SuiteRun {
            checks,
            elapsed: Duration::ZERO,
        };
        assert!(!run(Vec::new()).passed());
        assert!(run(vec![check(Verdict::Passed)]).passed());
        assert!(
            !run(vec![
                check(Verdict::Passed),
                check(Verdict::Died("gone".into()))
            ])
            .passed()
        );
    }
}
