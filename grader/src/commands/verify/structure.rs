//! The manifest against the disk: every scene has all its parts, and nothing on disk is
//! unknown to the manifest.

use std::collections::BTreeSet;
use std::path::Path;

use crate::manifest::{Scene, Workbook};
use crate::variants;

pub const MIN_MUTANTS: usize = 3;
pub const HINTS: std::ops::RangeInclusive<usize> = 2..=4;

/// What is missing or wrong in one scene's files.
pub fn scene_problems(workbook: &Workbook, scene: &Scene) -> Vec<String> {
    let mut problems = Vec::new();
    let exercise = scene.exercise_dir();
    for part in ["README.md", "Cargo.toml", "src/lib.rs"] {
        if !exercise.join(part).is_file() {
            problems.push(format!("no {}", scene.relative(&exercise.join(part))));
        }
    }
    // The stub as committed: the working file may hold the learner's own solution.
    if let Ok(stub) = crate::variants::stub(workbook, scene)
        && !stub
            .committed
            .iter()
            .any(|(_, text)| text.contains("todo!()"))
    {
        problems.push("the stub has no todo!(): is a solution checked in as the exercise?".into());
    }
    let solution = scene.solution_dir().join("src/lib.rs");
    if !solution.is_file() {
        problems.push(format!("no {}", scene.relative(&solution)));
    }
    for file in [scene.checks_file(), scene.api_file()] {
        if !file.is_file() {
            problems.push(format!("no {}", scene.relative(&file)));
        }
    }
    match crate::commands::hint::ladder(scene) {
        Ok(hints) if HINTS.contains(&hints.len()) => {}
        Ok(hints) => problems.push(format!(
            "{} hints in {}; a ladder has {} to {}",
            hints.len(),
            scene.relative(&scene.hints_file()),
            HINTS.start(),
            HINTS.end()
        )),
        Err(error) => problems.push(error.to_string()),
    }
    match variants::mutants(scene) {
        Ok(mutants) if mutants.len() >= MIN_MUTANTS => {}
        Ok(mutants) => problems.push(format!(
            "{} mutants in {}; a scene needs at least {MIN_MUTANTS}",
            mutants.len(),
            scene.relative(&scene.mutants_dir())
        )),
        Err(error) => problems.push(error.to_string()),
    }
    problems
}

/// Files and folders in the content folders of `tracks` that no scene of the manifest owns,
/// and track folders the manifest does not know (when every track is being verified).
pub fn strays(workbook: &Workbook, tracks: &BTreeSet<&str>, all_tracks: bool) -> Vec<String> {
    let root = &workbook.root;
    let known_tracks: BTreeSet<&str> = workbook.tracks.iter().map(|t| t.name.as_str()).collect();
    let mut problems = Vec::new();
    for (folder, extension) in [
        ("exercises", None),
        ("solutions", None),
        ("hints", Some("md")),
        ("grader/checks", Some("rs")),
    ] {
        for entry in names_in(&root.join(folder), true) {
            let known = known_tracks.contains(entry.as_str());
            if !known && all_tracks {
                problems.push(format!("{folder}/{entry} is not a track in the manifest"));
            }
            if !known || !tracks.contains(entry.as_str()) {
                continue;
            }
            let mut scenes: BTreeSet<String> = workbook
                .scenes()
                .filter(|s| s.track.name == entry)
                .map(|s| match extension {
                    Some(ext) => format!("{}.{ext}", s.dir_name()),
                    None => s.dir_name(),
                })
                .collect();
            if folder == "grader/checks" {
                // Beside each checks file its API declaration, and the track's shared helpers.
                let declarations: Vec<String> = workbook
                    .scenes()
                    .filter(|s| s.track.name == entry)
                    .map(|s| format!("{}.api.rs", s.dir_name()))
                    .collect();
                scenes.extend(declarations);
                scenes.insert("support.rs".into());
            }
            for item in names_in(&root.join(folder).join(&entry), false) {
                if !scenes.contains(&item) {
                    problems.push(format!(
                        "{folder}/{entry}/{item} belongs to no scene in the manifest"
                    ));
                }
            }
        }
    }
    problems
}

fn names_in(dir: &Path, folders_only: bool) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok())
        .filter(|entry| !folders_only || entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    names
}
