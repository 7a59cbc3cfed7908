//! `cargo grade play`: a prompt on the learner's own store (or the reference), to watch it work.
//!
//! A track may name a scene to play with; its playground, `grader/play/<track>.rs`, is a judge
//! like any other: it runs on the learner's terminal and calls the learner's crates (that
//! scene's and any earlier one's it names) through their API declarations, in a subject.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::exit_code;
use crate::build::{self, Api, CrateRef, Entry, JudgeSpec, SubjectSpec};
use crate::grading::{self, Outcome};
use crate::manifest::{Scene, Track, Workbook};
use crate::run::{self, Binary};
use crate::{progress, report, ui, variants};

pub fn run(workbook: &Workbook, track_name: &str, reference: bool) -> Result<ExitCode> {
    let Some(track) = workbook.tracks.iter().find(|t| t.name == track_name) else {
        bail!("no track is called {track_name:?}; `cargo grade list` shows them");
    };
    let Some(play) = &track.play else {
        bail!("the {track_name} track has no playground");
    };
    let scene = workbook.find(&format!("{track_name}/{play}"))?;
    if !reference {
        warn_if_unwritten(workbook, &scene);
    }
    let used = apis_used(workbook, track)?;
    let solutions = if reference {
        variants::write_solutions_through(workbook, &scene)?
    } else {
        Vec::new()
    };
    let mut crates = Vec::new();
    for (used_scene, _) in &used {
        let dir = match solutions.get(used_scene.number - 1) {
            Some(solution) => solution.dir.clone(),
            None => used_scene.exercise_dir(),
        };
        crates.push(CrateRef {
            package: grading::package_name(&dir)?,
            dir,
        });
    }
    let apis: Vec<Api> = used.into_iter().map(|(_, api)| api).collect();
    let whose = if reference { "reference" } else { "learner" };
    let judge = JudgeSpec {
        package: format!("play-{track_name}"),
        entry: Entry::Playground(workbook.playground_file(track)),
        apis: apis.clone(),
        // A playground waits on its user, not on its code.
        optimised: false,
    };
    let subject = SubjectSpec {
        package: format!("play-{track_name}-{whose}"),
        apis,
        variants: vec![crates],
    };
    println!("{}", ui::dim("building the playground..."));
    let dir = workbook.root.join("target/grade/play");
    let display = build::Display {
        colour: ui::colour(),
        progress: ui::shows_progress(),
    };
    let mut built = build::build(
        &workbook.root,
        &dir,
        std::slice::from_ref(&judge),
        std::slice::from_ref(&subject),
        &[],
        display,
    )?;
    let binaries = (
        built.judges.remove(&judge.package).expect("built"),
        built.subjects.remove(&subject.package).expect("built"),
    );
    let (judge, subject) = match binaries {
        (Ok(judge), Ok(subject)) => (Binary::load(&judge)?, Binary::load(&subject)?),
        (Err(failure), _) | (_, Err(failure)) => {
            let outcome = Outcome::DoesNotBuild(failure);
            print!("{}", report::outcome(&scene.id(), &outcome, &[], "", false));
            return Ok(ExitCode::FAILURE);
        }
    };
    let containment = run::containment::for_this_machine(&workbook.root);
    let status =
        run::play_judge(&judge, &subject, &containment).context("cannot start the playground")?;
    Ok(exit_code(status.success()))
}

/// The playground drives the crate of its scene (the track's last, usually): before the learner
/// has passed it, some commands reach a `todo!()`. Said before the first command, not after it.
fn warn_if_unwritten(workbook: &Workbook, scene: &Scene) {
    let passed = progress::Store::new(&workbook.root)
        .load()
        .is_ok_and(|progress| progress.passed(&scene.id()));
    if !passed {
        println!(
            "{}",
            ui::dim(&format!(
                "this playground runs your {} crate (scene {}), which you have not passed yet: \
                 a command that reaches unwritten code stops at its todo!(). \
                 `cargo grade play {} --reference` plays with the reference.",
                scene.id(),
                scene.number,
                scene.track.name
            ))
        );
    }
}

/// The scenes of `track`, up to its playground's scene, whose crates the playground names, with
/// their APIs.
pub fn apis_used<'w>(workbook: &'w Workbook, track: &Track) -> Result<Vec<(Scene<'w>, Api)>> {
    let source = std::fs::read_to_string(workbook.playground_file(track))
        .with_context(|| format!("the {} track has no playground file", track.name))?;
    let last = track.play.as_deref().unwrap_or_default();
    let mut used = Vec::new();
    for scene in workbook.scenes().filter(|s| s.track.name == track.name) {
        let api = grading::api(&scene)?;
        if source.contains(&format!("{}::", api.crate_name)) {
            used.push((scene, api));
        }
        if scene.entry.name == last {
            break;
        }
    }
    Ok(used)
}
