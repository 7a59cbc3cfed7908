//! `cargo grade verify`: the author's proof that every scene is sound.
//!
//! For each scene: its files are all there; the stub compiles and fails every check; the
//! reference passes every check; every mutant fails at least one; each of those verdicts comes
//! out the same when run again with the same seed. All harnesses build in one cargo run, and the
//! checks of each scene run in parallel.

mod proof;
mod structure;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};

use super::exit_code;
use crate::harness;
use crate::manifest::{Scene, Workbook};
use crate::{grading, parallel, ui, variants};

pub struct Options {
    /// Checks to run at once.
    pub jobs: Option<usize>,
    /// Name the checks that catch each mutant.
    pub verbose: bool,
    /// Run clippy over the checks and the solutions too.
    pub lint: bool,
    /// Also run the solution on this many more seeds.
    pub more_seeds: u64,
}

pub fn run(workbook: &Workbook, selector: Option<&str>, options: &Options) -> Result<ExitCode> {
    let started = Instant::now();
    let jobs = options.jobs.unwrap_or_else(parallel::default_jobs);
    let scenes = workbook.select(selector)?;
    let tracks: BTreeSet<&str> = scenes.iter().map(|s| s.track.name.as_str()).collect();
    let strays = structure::strays(workbook, &tracks, selector.is_none());
    for stray in &strays {
        println!("{} {stray}", ui::fail("✗"));
    }

    let mut plans = Vec::new();
    for scene in &scenes {
        let mut problems = structure::scene_problems(scene);
        let variants = if problems.is_empty() {
            variants::write(workbook, scene).unwrap_or_else(|error| {
                problems.push(format!("{error:#}"));
                Vec::new()
            })
        } else {
            Vec::new()
        };
        plans.push((*scene, problems, variants));
    }

    let mut harnesses = Vec::new();
    for (scene, _, variants) in &plans {
        for variant in variants {
            let package = format!("check-{}", variant.package);
            harnesses.push(grading::checks_harness(
                package,
                scene,
                &variant.dir,
                variant.package.clone(),
            )?);
        }
    }
    println!(
        "building {} harnesses for {} scene{}...",
        harnesses.len(),
        scenes.len(),
        if scenes.len() == 1 { "" } else { "s" }
    );
    let build_started = Instant::now();
    // One workspace per selection, so two verifications at once do not rewrite each other's.
    let harness_dir = variants::base_dir(workbook)
        .join("harnesses")
        .join(selector.unwrap_or("all").replace('/', "-"));
    let built = harness::build(
        &workbook.root,
        &harness_dir,
        &harnesses,
        ui::colour(),
        ui::interactive(),
    )?;
    println!(
        "built in {:.1} s; checking with {jobs} jobs",
        build_started.elapsed().as_secs_f64()
    );

    let mut passed = 0;
    let mut failed = strays.len();
    if options.lint {
        let objections = harness::lint(
            &workbook.root,
            &harness_dir,
            "check-*-solution",
            ui::colour(),
        )?;
        let unformatted = unformatted(workbook, &scenes)?;
        if !unformatted.is_empty() {
            failed += 1;
            println!("{} rustfmt would change these:", ui::fail("✗"));
            for file in unformatted {
                println!("      {file}");
            }
        }
        if objections.is_empty() {
            println!(
                "{} clippy has nothing to say about the checks and solutions",
                ui::pass("✓")
            );
        } else {
            failed += 1;
            println!(
                "{} clippy objects to the checks or solutions:",
                ui::fail("✗")
            );
            for objection in objections {
                println!("{}", ui::indent(&objection, 6));
            }
        }
    }
    for (i, (scene, mut problems, variants)) in plans.into_iter().enumerate() {
        let scene_started = Instant::now();
        let mut details = String::new();
        let summary = if problems.is_empty() {
            let binaries = variants
                .iter()
                .map(|v| built.get(&format!("check-{}", v.package)).cloned())
                .collect::<Vec<_>>();
            let proof = proof::prove(&scene, &variants, &binaries, jobs, options.more_seeds);
            problems.extend(proof.problems.iter().cloned());
            if options.verbose {
                details = proof.catches();
            }
            proof.summary()
        } else {
            String::new()
        };
        let progress = ui::dim(&format!("[{}/{}]", i + 1, scenes.len()));
        let elapsed = ui::dim(&format!("({:.1} s)", scene_started.elapsed().as_secs_f64()));
        let mark = if problems.is_empty() {
            passed += 1;
            ui::pass("✓")
        } else {
            failed += 1;
            ui::fail("✗")
        };
        println!("{progress} {mark} {:<28} {summary} {elapsed}", scene.id());
        print!("{details}");
        for problem in problems {
            println!("{}", ui::indent(&format!("- {problem}"), 6));
        }
    }
    println!("\nverified in {:.1} s", started.elapsed().as_secs_f64());
    println!("{passed} passed, {failed} failed");
    Ok(exit_code(failed == 0))
}

/// The checks, solution and playground files (outside the workspace, so `cargo fmt` never sees
/// them) that rustfmt would change.
fn unformatted(workbook: &Workbook, scenes: &[Scene]) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for scene in scenes {
        if scene.number == 1 {
            files.push(workbook.playground_file(scene.track));
        }
        files.push(scene.checks_file());
        let src = scene.solution_dir().join("src");
        for file in crate::files::list_files(&src, &[])? {
            files.push(src.join(file));
        }
    }
    let output = std::process::Command::new("rustfmt")
        .args(["--check", "--edition", "2024", "--files-with-diff"])
        .args(files.iter().filter(|f| f.is_file()))
        .output()
        .context("cannot run rustfmt")?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| match scenes.first() {
            Some(scene) => scene.relative(Path::new(line)),
            None => line.to_string(),
        })
        .collect())
}
