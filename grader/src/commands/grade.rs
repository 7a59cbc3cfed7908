//! `cargo grade` and `cargo grade check`: grade a scene, record a pass, ask its question.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use super::exit_code;
use crate::grading;
use crate::manifest::{Scene, Workbook};
use crate::progress::{Prediction, Progress, Store};
use crate::run::Limits;
use crate::{report, ui};

/// The first scene, in manifest order, that has not passed yet.
pub fn current_scene<'w>(workbook: &'w Workbook, progress: &Progress) -> Option<Scene<'w>> {
    workbook.scenes().find(|s| !progress.passed(&s.id()))
}

/// `cargo grade`: the scene whose folder the learner is in, or else the first not passed.
pub fn current(workbook: &Workbook) -> Result<ExitCode> {
    let store = Store::new(&workbook.root);
    ask_pending_predictions(workbook, &store)?;
    let progress = store.load()?;
    let here = std::env::current_dir()
        .ok()
        .and_then(|dir| workbook.scene_at(&dir));
    let Some(scene) = here.or_else(|| current_scene(workbook, &progress)) else {
        println!(
            "{} Every scene in the workbook passes. `cargo grade list` shows them all.",
            ui::pass("✓")
        );
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "{} {} {}",
        ui::bold(&scene.id()),
        scene.entry.title,
        ui::dim(&format!(
            "(scene {} of {} in {})",
            scene.number,
            scene.track.scenes.len(),
            scene.track.name
        ))
    );
    println!(
        "{} {}\n",
        ui::dim("lesson:"),
        scene.relative(&scene.exercise_dir().join("README.md"))
    );
    let passed = grade_and_report(workbook, &scene, &Options::default())?;
    Ok(exit_code(passed))
}

/// How to grade: the options of `cargo grade check`, and what the other commands use.
#[derive(Default)]
pub struct Options {
    /// One seed to replay; the usual seeds when none.
    pub seed: Option<u64>,
    /// A crate to grade instead of the learner's exercise.
    pub implementation: Option<PathBuf>,
    /// Seconds per check, instead of the scene's own limit.
    pub timeout: Option<u64>,
    pub every_failure: bool,
    /// Graded by `watch`, which goes on to the next scene by itself.
    pub watching: bool,
}

pub fn one(workbook: &Workbook, query: &str, options: &Options) -> Result<ExitCode> {
    let scene = workbook.find(query)?;
    let passed = grade_and_report(workbook, &scene, options)?;
    Ok(exit_code(passed))
}

/// Grades and prints the verdict. A pass of the learner's own crate is recorded, its question
/// asked, and the next scene named; a failure points at the hints.
pub fn grade_and_report(workbook: &Workbook, scene: &Scene, options: &Options) -> Result<bool> {
    let implementation = options.implementation.as_deref();
    let impl_dir = grading::impl_dir(implementation, scene)?;
    let limits = Limits::with_timeout(options.timeout.map_or(scene.timeout(), Duration::from_secs));
    let seeds = match options.seed {
        Some(seed) => vec![seed],
        None => grading::SEEDS.to_vec(),
    };
    println!("{}", ui::dim("checking..."));
    let graded = grading::grade(workbook, scene, &impl_dir, &seeds, limits)?;
    let seed = graded.seeds.last().copied().unwrap_or(seeds[0]);
    let mut replay = format!("cargo grade check {} --seed {seed}", scene.id());
    if let Some(dir) = implementation {
        replay.push_str(&format!(" --impl {}", dir.display()));
    }
    let report = report::outcome(
        &scene.id(),
        &graded.outcome,
        &graded.seeds,
        &replay,
        options.every_failure,
    );
    print!("{report}");
    let passed = graded.outcome.passed();
    if implementation.is_some() {
        return Ok(passed);
    }
    let store = Store::new(&workbook.root);
    if passed {
        let newly = store.update(|p| {
            let entry = p.scenes.entry(scene.id()).or_default();
            !std::mem::replace(&mut entry.passed, true)
        })?;
        if newly {
            ask_prediction(scene, &store)?;
        }
        match current_scene(workbook, &store.load()?) {
            Some(next) => println!(
                "\nNext: {} {}. Read {}, then {}.",
                ui::bold(&next.id()),
                next.entry.title,
                next.relative(&next.exercise_dir().join("README.md")),
                if options.watching {
                    "save: watch grades it below, and on every save"
                } else {
                    "run `cargo grade`"
                }
            ),
            None => println!("\nThat was the last scene. Well built."),
        }
        if let Some(next) = current_scene(workbook, &store.load()?)
            && next.track.carries_forward
            && workbook
                .previous(&next)
                .is_some_and(|p| p.id() == scene.id())
        {
            println!(
                "{}",
                ui::dim(&format!(
                    "Its stub holds the reference of {}. To build on your own code instead: \
                     `cargo grade carry {}`.",
                    scene.entry.name,
                    next.id()
                ))
            );
        }
    } else {
        let used = store.load()?.scene(&scene.id()).hints_used;
        // A scene without hints (one being written) simply offers none.
        let available = crate::commands::hint::ladder(scene).map_or(0, |l| l.len());
        if used < available {
            println!(
                "\n{} `cargo grade hint {}` ({} of {available} hints used)",
                ui::dim("stuck?"),
                scene.id(),
                used
            );
        }
    }
    Ok(passed)
}

/// Asks the question of every passed scene whose question was never answered (a pass graded
/// without a terminal could not ask it).
fn ask_pending_predictions(workbook: &Workbook, store: &Store) -> Result<()> {
    if !ui::interactive() {
        return Ok(());
    }
    let progress = store.load()?;
    for scene in workbook.scenes() {
        let state = progress.scene(&scene.id());
        if state.passed && state.predicted.is_none() {
            ask_prediction(&scene, store)?;
        }
    }
    Ok(())
}

fn ask_prediction(scene: &Scene, store: &Store) -> Result<()> {
    let predict = &scene.entry.predict;
    println!("\n{} {}", ui::bold("Predict:"), predict.question);
    for (i, choice) in predict.choices.iter().enumerate() {
        println!("  {}) {choice}", i + 1);
    }
    if !ui::interactive() {
        println!("{}", ui::dim("(run `cargo grade` in a terminal to answer)"));
        return Ok(());
    }
    let range = 1..=predict.choices.len();
    let choice = loop {
        let prompt = format!("your answer [1-{}, enter to skip]: ", predict.choices.len());
        match ui::ask(&prompt) {
            None => return Ok(()),
            Some(answer) => match answer.parse::<usize>() {
                Ok(n) if range.contains(&n) => break n,
                _ => println!("a number from 1 to {}, please", predict.choices.len()),
            },
        }
    };
    let correct = choice == predict.answer;
    if correct {
        println!("{} {}", ui::pass("Right."), predict.why);
    } else {
        println!(
            "{} It is {}. {}",
            ui::fail("Not quite."),
            predict.answer,
            predict.why
        );
    }
    store.update(|p| {
        p.scenes.entry(scene.id()).or_default().predicted = Some(Prediction { choice, correct });
    })
}
