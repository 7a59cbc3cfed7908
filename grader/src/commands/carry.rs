//! `cargo grade carry`: start a scene from the learner's own code of the scene before it.
//!
//! In a track that carries forward, each stub holds the reference of the scene before it, so a
//! learner who goes on from the stubs has written only each scene's new parts. Carrying puts
//! their own code in its place: a three-way merge of each source file, with the reference of
//! the scene before as the common ancestor, the learner's crate of that scene as theirs, and
//! the stub as ours. What only one side changed comes through; where both changed the same
//! lines, the file gets conflict markers and the learner chooses. At the end of a track, the
//! crate is their system.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use git2::{MergeFileInput, MergeFileOptions};

use crate::manifest::{Scene, Workbook};
use crate::progress::Store;
use crate::{committed, files, ui};

pub fn run(workbook: &Workbook, query: &str) -> Result<ExitCode> {
    let scene = workbook.find(query)?;
    if !scene.track.carries_forward {
        bail!(
            "the {} track's scenes stand alone: there is no earlier code of yours to carry into {}",
            scene.track.name,
            scene.id()
        );
    }
    let Some(previous) = workbook.previous(&scene) else {
        bail!(
            "{} is the first scene of its track: there is no earlier code of yours to carry into it",
            scene.id()
        );
    };
    if !Store::new(&workbook.root).load()?.passed(&previous.id()) {
        bail!(
            "pass {} first: its code is what `carry` brings into {}",
            previous.id(),
            scene.id()
        );
    }
    // The reference of the scene before is the merge's common ancestor.
    previous.reference_src()?;
    let relative = scene.relative(&scene.exercise_dir());
    let stub = committed::files(&workbook.root, Path::new(&relative))?
        .with_context(|| format!("{relative} is not in the last commit"))?;
    // Carrying starts from the stub as given: it never merges over the learner's own work.
    for (path, content) in &stub {
        if std::fs::read(scene.exercise_dir().join(path))
            .ok()
            .as_deref()
            != Some(content)
        {
            bail!(
                "{relative}/{} is not the stub as given any more: `cargo grade reset {}` puts it \
                 back (your changes there are lost), then carry",
                path.display(),
                scene.id()
            );
        }
    }
    let labels = Labels {
        ours: format!("{}'s stub", scene.entry.name),
        theirs: format!("your {}", previous.entry.name),
        ancestor: format!("the reference {}", previous.entry.name),
    };
    let mut merged = Vec::new();
    let mut conflicts = Vec::new();
    for (path, ours) in stub.iter().filter(|(path, _)| path.starts_with("src")) {
        let base = std::fs::read(previous.solution_dir().join(path));
        let theirs = std::fs::read(previous.exercise_dir().join(path));
        let (Ok(base), Ok(theirs)) = (base, theirs) else {
            continue;
        };
        let (text, clean) = merge(path, &base, ours, &theirs, &labels)?;
        std::fs::write(scene.exercise_dir().join(path), &text)?;
        if clean {
            merged.push(path.clone());
        } else {
            let places = String::from_utf8_lossy(&text)
                .lines()
                .filter(|line| line.starts_with("<<<<<<<"))
                .count();
            conflicts.push((path.clone(), places));
        }
    }
    let own = copy_own_files(&previous, &scene, &stub)?;
    report(&scene, &previous, &merged, &conflicts, &own, &labels);
    Ok(if conflicts.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

struct Labels {
    ours: String,
    theirs: String,
    ancestor: String,
}

/// The three-way merge of one file; and whether it merged without conflicts.
fn merge(
    path: &Path,
    base: &[u8],
    ours: &[u8],
    theirs: &[u8],
    labels: &Labels,
) -> Result<(Vec<u8>, bool)> {
    let input = |content| {
        let mut input = MergeFileInput::new();
        input.content(content).path(path);
        input
    };
    let mut options = MergeFileOptions::new();
    options
        .our_label(&labels.ours)
        .their_label(&labels.theirs)
        .ancestor_label(&labels.ancestor);
    let result = git2::merge_file(
        &input(base),
        &input(ours),
        &input(theirs),
        Some(&mut options),
    )
    .with_context(|| format!("cannot merge {}", path.display()))?;
    Ok((result.content().to_vec(), result.is_automergeable()))
}

/// Source files the learner added to the scene before (a module of their own): they come as
/// they are, since the merged code may name them.
fn copy_own_files(
    previous: &Scene,
    scene: &Scene,
    stub: &committed::Files,
) -> Result<Vec<PathBuf>> {
    let theirs = previous.exercise_dir().join("src");
    let mut copied = Vec::new();
    for file in files::list_files(&theirs, &[]).unwrap_or_default() {
        let path = Path::new("src").join(&file);
        let in_stub = stub.iter().any(|(p, _)| *p == path);
        if in_stub || previous.solution_dir().join(&path).exists() {
            continue;
        }
        let target = scene.exercise_dir().join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(theirs.join(&file), &target)
            .with_context(|| format!("cannot copy {}", path.display()))?;
        copied.push(path);
    }
    Ok(copied)
}

fn report(
    scene: &Scene,
    previous: &Scene,
    merged: &[PathBuf],
    conflicts: &[(PathBuf, usize)],
    own: &[PathBuf],
    labels: &Labels,
) {
    let list = |paths: &mut dyn Iterator<Item = &PathBuf>| {
        paths
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "{} {} now starts from your own {}",
        ui::pass("✓"),
        ui::bold(&scene.id()),
        previous.id()
    );
    if !merged.is_empty() {
        println!("  merged: {}", list(&mut merged.iter()));
    }
    if !own.is_empty() {
        println!("  copied, as your own: {}", list(&mut own.iter()));
    }
    for (path, places) in conflicts {
        println!(
            "{} {}: {} where your code and the stub changed the same lines, between \
             `<<<<<<< {}` and `>>>>>>> {}`",
            ui::fail("!"),
            path.display(),
            ui::count(*places, "place"),
            labels.ours,
            labels.theirs
        );
    }
    if !conflicts.is_empty() {
        println!(
            "  In each, keep what {} needs (the stub's side is the reference, changed for this \
             scene) with what your code did, and delete the markers.",
            scene.entry.name
        );
    }
    println!(
        "  Its new parts are still todo!(): read {}, then run `cargo grade`. \
         `cargo grade reset {}` puts back the stub as given.",
        scene.relative(&scene.exercise_dir().join("README.md")),
        scene.id()
    );
}
