//! `cargo grade play`: a prompt on the learner's own store (or the reference), to watch it work.
//!
//! A track may name a scene to play with; its playground, `grader/play/<track>.rs`, is built
//! against that scene's crate and every earlier scene's crate of the track (to draw with them),
//! then run on the learner's terminal.

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use super::exit_code;
use crate::grading::{self, Outcome};
use crate::harness::{self, CrateRef, Entry, Harness};
use crate::manifest::Workbook;
use crate::{report, ui, variants};

pub fn run(workbook: &Workbook, track_name: &str, reference: bool) -> Result<ExitCode> {
    let Some(track) = workbook.tracks.iter().find(|t| t.name == track_name) else {
        bail!("no track is called {track_name:?}; `cargo grade list` shows them");
    };
    let Some(play) = &track.play else {
        bail!("the {track_name} track has no playground");
    };
    let scene = workbook.find(&format!("{track_name}/{play}"))?;
    let scenes: Vec<_> = workbook
        .scenes()
        .filter(|s| s.track.name == track.name && s.number <= scene.number)
        .collect();
    let mut crates = Vec::new();
    if reference {
        let solutions = variants::write_solutions_through(workbook, &scene)?;
        for (scene, solution) in scenes.iter().zip(solutions) {
            crates.push(CrateRef {
                name: grading::crate_name(&scene.exercise_dir())?,
                dir: solution.dir,
                package: solution.package,
            });
        }
    } else {
        for scene in &scenes {
            let dir = scene.exercise_dir();
            crates.push(CrateRef {
                name: grading::crate_name(&dir)?,
                package: grading::package_name(&dir)?,
                dir,
            });
        }
    }
    let subject = crates.pop().expect("the played scene is among them");
    let whose = if reference { "reference" } else { "learner" };
    let harness = Harness {
        package: format!("play-{track_name}-{whose}"),
        entry: Entry::Playground(workbook.playground_file(track)),
        subject,
        also: crates,
    };
    println!("{}", ui::dim("building the playground..."));
    let dir = workbook.root.join("target/grade/play");
    let binary = match harness::build_one(&workbook.root, &dir, &harness, ui::colour())? {
        Ok(binary) => binary,
        Err(failure) => {
            let outcome = Outcome::DoesNotBuild(failure);
            print!("{}", report::outcome(&scene.id(), &outcome, 0, "", false));
            return Ok(ExitCode::FAILURE);
        }
    };
    let status = Command::new(&binary)
        .status()
        .context("cannot start the playground")?;
    Ok(exit_code(status.success()))
}
