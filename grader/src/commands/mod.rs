//! One module per command.

mod bench;
mod carry;
mod ci;
mod classroom;
mod grade;
mod hint;
mod list;
pub mod play;
mod reset;
mod solution;
mod verify;
mod watch;

use std::process::ExitCode;

use anyhow::Result;

use crate::manifest::Workbook;
use crate::{Classroom, Command};

pub fn run(workbook: &Workbook, command: Option<Command>) -> Result<ExitCode> {
    match command {
        None => grade::current(workbook),
        Some(Command::Watch { poll }) => watch::run(workbook, poll),
        Some(Command::List) => list::run(workbook),
        Some(Command::Hint { scene }) => hint::run(workbook, scene.as_deref()),
        Some(Command::Check {
            scene,
            seed,
            implementation,
            timeout,
            every_failure,
        }) => {
            let options = grade::Options {
                seed,
                implementation,
                timeout,
                every_failure,
                watching: false,
            };
            grade::one(workbook, &scene, &options)
        }
        Some(Command::Solution { scene }) => solution::run(workbook, &scene),
        Some(Command::Play {
            track,
            reference,
            port,
        }) => play::run(workbook, &track, reference, port),
        Some(Command::Classroom(Classroom::Grade {
            roster,
            trusted,
            assignment,
            selector,
            out,
            jobs,
        })) => classroom::grade(
            workbook,
            &classroom::GradeOptions {
                roster: &roster,
                trusted: &trusted,
                assignment: assignment.as_deref(),
                selector: selector.as_deref(),
                out: &out,
                jobs: jobs.unwrap_or_else(|| (crate::parallel::default_jobs() / 2).max(1)),
            },
        ),
        Some(Command::Classroom(Classroom::Export { dir, tracks, rev })) => classroom::export(
            workbook,
            &classroom::ExportOptions {
                dir: &dir,
                rev: &rev,
                tracks: &tracks,
            },
        ),
        Some(Command::Classroom(Classroom::Gradescope {
            dir,
            trusted,
            assignment,
            selector,
        })) => classroom::gradescope(
            workbook,
            &classroom::GradescopeOptions {
                dir: &dir,
                trusted: &trusted,
                assignment: assignment.as_deref(),
                selector: selector.as_deref(),
            },
        ),
        Some(Command::Ci {
            trusted,
            submission,
            selector,
            assignment,
            pushed_at,
            out,
            scrub_checkout,
            slot,
        }) => {
            let options = ci::Options {
                trusted: &trusted,
                submission: &submission,
                selector: selector.as_deref(),
                assignment: assignment.as_deref(),
                pushed_at,
                out,
                scrub_checkout,
                slot,
            };
            ci::run(workbook, &options)
        }
        Some(Command::Carry { scene }) => carry::run(workbook, &scene),
        Some(Command::Reset { scene, yes }) => reset::run(workbook, &scene, yes),
        Some(Command::Bench) => bench::run(workbook),
        Some(Command::Verify {
            selector,
            jobs,
            verbose,
            lint,
            lint_only,
            more_seeds,
            mutate,
        }) => {
            let options = verify::Options {
                jobs,
                verbose,
                lint,
                lint_only,
                more_seeds,
                mutate,
            };
            verify::run(workbook, selector.as_deref(), &options)
        }
    }
}

fn exit_code(passed: bool) -> ExitCode {
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
