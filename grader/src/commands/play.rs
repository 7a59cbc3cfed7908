//! `cargo grade play`: a prompt on the learner's own store (or the reference), to watch it work.
//!
//! A track may name a scene to play with; its playground, `grader/play/<track>.rs`, is a judge
//! like any other: it runs on the learner's terminal and calls the learner's crates (that
//! scene's and any earlier one's it names) through their API declarations, in a subject.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::exit_code;
use crate::build::{self, Api, CrateRef, Entry, JudgeSpec, SubjectSpec};
use crate::grading::{self, Outcome};
use crate::manifest::{Scene, Track, Workbook};
use crate::run::{self, Binary};
use crate::{report, ui, variants};

pub fn run(
    workbook: &Workbook,
    track_name: &str,
    reference: bool,
    port: Option<u16>,
) -> Result<ExitCode> {
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
        kit_features: track.kit_features.clone(),
        // A playground waits on its user, not on its code.
        optimised: false,
    };
    let subject = SubjectSpec {
        package: format!("play-{track_name}-{whose}"),
        apis,
        variants: vec![crates],
    };
    println!("{}", ui::dim("building the playground..."));
    let dir = crate::build::work_dir(&workbook.root, "play");
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
    // What the playground is told, as its arguments.
    let args: Vec<String> = port
        .map(|p| vec!["--port".into(), p.to_string()])
        .unwrap_or_default();
    let status = run::play_judge(&judge, &subject, &containment, &args)
        .context("cannot start the playground")?;
    Ok(exit_code(status.success()))
}

/// The playground drives the crate of its scene (the track's last, usually) and the earlier
/// scenes' crates it depends on. Before the learner has written them all, some commands reach a
/// `todo!()`: which functions, in which scene, is said before the first command, not after it.
fn warn_if_unwritten(workbook: &Workbook, scene: &Scene) {
    let unwritten = unwritten(workbook, scene);
    if unwritten.is_empty() {
        return;
    }
    println!(
        "{}",
        ui::dim(&format!(
            "this playground runs your own crates; a command that reaches one of these \
             unwritten functions stops at its todo!() (`cargo grade play {} --reference` plays \
             with the reference):",
            scene.track.name
        ))
    );
    for (scene, functions) in unwritten {
        println!(
            "{}",
            ui::dim(&format!(
                "  {} (scene {}): {}",
                scene.id(),
                scene.number,
                functions.join(", ")
            ))
        );
    }
}

/// The scenes whose crates `scene`'s crate builds on (itself included), each with the
/// functions in it that still hold a `todo!()`.
fn unwritten<'w>(workbook: &'w Workbook, scene: &Scene) -> Vec<(Scene<'w>, Vec<String>)> {
    let used = path_dependencies(&scene.exercise_dir());
    workbook
        .scenes()
        .filter(|s| s.track.name == scene.track.name)
        .filter(|s| {
            s.exercise_dir()
                .canonicalize()
                .is_ok_and(|dir| used.contains(&dir))
        })
        .map(|s| {
            let functions = todo_functions(&s.exercise_dir().join("src"));
            (s, functions)
        })
        .filter(|(_, functions)| !functions.is_empty())
        .collect()
}

/// `dir` and every crate it depends on by path, transitively, canonicalised.
fn path_dependencies(dir: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(dir) = dir.canonicalize() else {
            continue;
        };
        if !found.insert(dir.clone()) {
            continue;
        }
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        let Ok(manifest) = manifest.parse::<toml::Table>() else {
            continue;
        };
        let dependencies = manifest.get("dependencies").and_then(|d| d.as_table());
        for dependency in dependencies.into_iter().flat_map(|d| d.values()) {
            if let Some(path) = dependency.get("path").and_then(|p| p.as_str()) {
                pending.push(dir.join(path));
            }
        }
    }
    found
}

/// The functions under `src` whose bodies still call `todo!()`, file by file. A file that
/// does not parse names nothing: the build that follows says what is wrong with it.
fn todo_functions(src: &Path) -> Vec<String> {
    let files = crate::files::list_files(src, &[]).unwrap_or_default();
    files
        .iter()
        .filter(|file| file.extension().is_some_and(|e| e == "rs"))
        .filter_map(|file| std::fs::read_to_string(src.join(file)).ok())
        .filter_map(|text| crate::mutate::unwritten_functions(&text).ok())
        .flatten()
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unwritten_functions_are_the_ones_holding_a_todo() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(
            src.path().join("lib.rs"),
            "//! Fill in every `todo!()`.\n\
             pub fn written() -> u32 {\n    1\n}\n\
             pub fn open() -> u32 {\n    todo!()\n}\n\
             struct Store;\n\
             impl Store {\n    fn after_write(&self) {\n        // not todo!() here\n        todo!(\"the sync\")\n    }\n}\n",
        )
        .unwrap();
        assert_eq!(todo_functions(src.path()), ["Store::after_write", "open"]);
    }
}
