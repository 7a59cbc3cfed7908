//! How a verdict reads: the first failure in full, the rest in a line each, and how to replay.

use crate::build::Blame;
use crate::grading::Outcome;
use crate::run::{CheckRun, Verdict};
use crate::ui;

/// Compile errors shown at most; the first is nearly always the one to fix.
const ERRORS_SHOWN: usize = 3;

/// The whole report for one graded scene. `replay` is the command that reruns it. The first
/// failure is told in full (fix that one first); `every_failure` tells them all.
pub fn outcome(
    id: &str,
    outcome: &Outcome,
    seeds: &[u64],
    replay: &str,
    every_failure: bool,
) -> String {
    match outcome {
        Outcome::DoesNotBuild(failure) => {
            let mut text = match failure.blame {
                Blame::Mismatch => format!(
                    "{} {id}: your crate compiles, but the checks cannot call it:\n",
                    ui::fail("✗")
                ),
                Blame::Checks => format!(
                    "{} {id}: the hidden checks do not compile (a bug in the workbook, not in \
                     your code):\n",
                    ui::fail("✗")
                ),
                Blame::Implementation | Blame::Other => {
                    format!("{} {id} does not compile:\n", ui::fail("✗"))
                }
            };
            for error in failure.errors.iter().take(ERRORS_SHOWN) {
                text.push('\n');
                text.push_str(error.trim_end());
                text.push('\n');
            }
            if failure.errors.len() > ERRORS_SHOWN {
                text.push_str(&format!(
                    "\n... and {} more errors\n",
                    failure.errors.len() - ERRORS_SHOWN
                ));
            }
            text
        }
        Outcome::DoesNotStart(why) => format!(
            "{} {id}: the checks could not start ({why})\n",
            ui::fail("✗")
        ),
        Outcome::Ran(run) => {
            let total = run.checks.len();
            let failed: Vec<&CheckRun> = run.failures().collect();
            if failed.is_empty() {
                return format!(
                    "{} {id}: all {total} checks pass {}\n",
                    ui::pass("✓"),
                    ui::dim(&format!(
                        "({}, {:.1} s)",
                        seed_list(seeds),
                        run.elapsed.as_secs_f64()
                    ))
                );
            }
            let mut text = format!(
                "{} {id}: {} of {total} checks fail {}\n\n",
                ui::fail("✗"),
                failed.len(),
                ui::dim(&match seeds {
                    [.., last] => format!("(seed {last})"),
                    [] => String::new(),
                })
            );
            let told = if every_failure { failed.len() } else { 1 };
            for check in &failed[..told] {
                text.push_str(&failure(check, replay));
                text.push('\n');
            }
            let rest: Vec<&CheckRun> = run
                .checks
                .iter()
                .filter(|c| !failed[..told].iter().any(|f| f.name == c.name))
                .collect();
            if !rest.is_empty() {
                text.push_str(&format!("  {}\n", ui::dim("the other checks:")));
            }
            for check in rest {
                let mark = match check.verdict {
                    Verdict::Passed => ui::pass("✓"),
                    _ => ui::fail("✗"),
                };
                text.push_str(&format!("  {mark} {}\n", check.name));
            }
            text
        }
    }
}

/// "seed 1", or "seeds 1, 2 and 3".
fn seed_list(seeds: &[u64]) -> String {
    match seeds {
        [] => String::new(),
        [one] => format!("seed {one}"),
        [most @ .., last] => {
            let most: Vec<String> = most.iter().map(u64::to_string).collect();
            format!("seeds {} and {last}", most.join(", "))
        }
    }
}

fn failure(check: &CheckRun, replay: &str) -> String {
    let mut text = format!("  {} {}\n", ui::fail("✗"), ui::bold(&check.name));
    let body = match &check.verdict {
        Verdict::Failed(message) => message.clone(),
        Verdict::Died(why) => match &check.doing {
            Some(doing) => format!("{why}\nit was running: {doing}"),
            None => why.clone(),
        },
        Verdict::Passed => unreachable!("only failures are reported"),
    };
    text.push_str(&ui::indent(&body, 4));
    text.push('\n');
    if !check.output.trim().is_empty() {
        text.push_str(&format!("\n    {}\n", ui::dim("your code printed:")));
        text.push_str(&ui::indent(check.output.trim_end(), 6));
        text.push('\n');
    }
    text.push_str(&format!("\n    {} {replay}\n", ui::dim("replay:")));
    text
}
