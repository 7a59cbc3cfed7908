//! `cargo grade verify`: the author's proof that every scene is sound.
//!
//! For each scene: its files are all there; the stub compiles and fails every check; the
//! reference passes every check; every mutant fails at least one; each of those verdicts comes
//! out the same when run again with the same seed. A scene's checks build into one judge, and
//! its stub, reference and mutants into one subject (each an implementation the judge picks by
//! number), so a scene costs two binaries however many mutants it has. Everything builds in one
//! cargo run.

mod proof;
mod structure;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};

use super::exit_code;
use crate::build::{self, CrateRef, Entry, JudgeSpec, SubjectSpec};
use crate::manifest::{Scene, Workbook};
use crate::run::{self, Binary};
use crate::{grading, parallel, ui, variants};

pub struct Options {
    /// Checks to run at once.
    pub jobs: Option<usize>,
    /// Name the checks that catch each mutant.
    pub verbose: bool,
    /// Run clippy over the checks and the solutions too.
    pub lint: bool,
    /// Only run clippy (and rustfmt) over the checks and the solutions; grade nothing.
    pub lint_only: bool,
    /// Also run each solution on this many more seeds.
    pub more_seeds: u64,
    /// Also grade mutants made by machine from each solution.
    pub mutate: bool,
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
    let base = variants::base_dir(workbook);
    // One verification at a time: they share the variants and the workspace.
    let _lock = crate::files::hold(&base, "a verification")?;

    let mut plans = Vec::new();
    let mut judges = Vec::new();
    let mut subjects = Vec::new();
    let mut solutions = Vec::new();
    for scene in &scenes {
        let mut problems = structure::scene_problems(workbook, scene);
        let mut variants = Vec::new();
        if variants::stub(workbook, scene).is_ok_and(|stub| stub.worked_on) {
            println!(
                "{} {} differs from its stub as committed; the proof grades the committed one",
                ui::dim("note:"),
                scene.relative(&scene.exercise_dir().join("src"))
            );
        }
        if problems.is_empty() {
            match write_variants(workbook, scene, options.mutate) {
                Ok(written) => variants = written,
                Err(error) => problems.push(format!("{error:#}")),
            }
        }
        solutions.extend(
            variants
                .iter()
                .filter(|v| v.kind == variants::Kind::Solution)
                .map(|v| v.dir.clone()),
        );
        plans.push((*scene, problems, variants));
    }
    let display = build::Display {
        colour: ui::colour(),
        progress: ui::shows_progress(),
    };
    let mut unviable = HashMap::new();
    if options.mutate {
        unviable = drop_unviable(workbook, &base, &mut plans, display)?;
    }
    for (scene, problems, variants) in &plans {
        if problems.is_empty() {
            judges.push(grading::judge_spec(scene, "verify")?);
            subjects.push(subject_spec(scene, variants)?);
        }
    }
    for track in workbook
        .tracks
        .iter()
        .filter(|t| tracks.contains(t.name.as_str()))
    {
        if let Some(judge) = playground_judge(workbook, track)? {
            judges.push(judge);
        }
    }
    println!(
        "building {} and {} for {}...",
        ui::count(judges.len(), "judge"),
        ui::count(subjects.len(), "subject"),
        ui::count(scenes.len(), "scene")
    );
    let build_started = Instant::now();
    // The solutions are members of the workspace, so that clippy looks at them too.
    let members: Vec<_> = solutions
        .iter()
        .filter_map(|dir| dir.strip_prefix(&base).ok().map(Path::to_path_buf))
        .collect();
    if options.lint_only {
        build::write_workspace(&workbook.root, &base, &judges, &subjects, &members)?;
        let clean = lint(workbook, &base, &scenes, display)? && strays.is_empty();
        println!("linted in {:.1} s", started.elapsed().as_secs_f64());
        return Ok(exit_code(clean));
    }
    let mut built = build::build(&workbook.root, &base, &judges, &subjects, &members, display)?;
    println!(
        "built in {:.1} s; checking with {jobs} jobs",
        build_started.elapsed().as_secs_f64()
    );

    let mut passed = 0;
    let mut failed = strays.len();
    if options.lint && !lint(workbook, &base, &scenes, display)? {
        failed += 1;
    }
    for judge in judges
        .iter()
        .filter(|j| matches!(j.entry, Entry::Playground(_)))
    {
        if let Some(Err(failure)) = built.judges.get(&judge.package) {
            failed += 1;
            println!(
                "{} the playground {} does not compile:\n{}",
                ui::fail("✗"),
                judge.package,
                ui::indent(failure.errors.first().map_or("", String::as_str), 6)
            );
        }
    }
    let containment = run::containment::for_this_machine(&workbook.root);
    for (i, (scene, mut problems, variants)) in plans.into_iter().enumerate() {
        let scene_started = Instant::now();
        let mut details = String::new();
        let summary = if problems.is_empty() {
            let judge = built.judges.remove(&judge_package(&scene));
            let subject = built.subjects.remove(&subject_package(&scene));
            match (judge, subject) {
                (Some(Ok(judge)), Some(Ok(subject))) => {
                    let judge = Binary::load(&judge)?;
                    let subject = Binary::load(&subject)?;
                    let proof = proof::prove(&proof::Setup {
                        scene: &scene,
                        variants: &variants,
                        judge: &judge,
                        subject: &subject,
                        containment: &containment,
                        jobs,
                        more_seeds: options.more_seeds,
                        every_catch: options.verbose,
                    });
                    problems.extend(proof.problems.iter().cloned());
                    if options.verbose {
                        details = proof.catches() + &proof.slowest();
                    }
                    for check in &proof.retried {
                        details.push_str(&ui::dim(&format!(
                            "      the solution ran out of time on {check}, and was run again alone (a busy machine)\n"
                        )));
                    }
                    proof.summary()
                }
                (judge, subject) => {
                    for (what, outcome) in [("the checks", judge), ("the variants", subject)] {
                        if let Some(Err(failure)) = outcome {
                            problems.push(format!(
                                "{what} do not compile:\n{}",
                                failure.errors.first().map_or("", |e| e.trim_end())
                            ));
                        }
                    }
                    String::new()
                }
            }
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
        let dropped = match unviable.get(&scene.id()) {
            Some(&n) if n > 0 => ui::dim(&format!(" ({n} generated did not compile)")),
            _ => String::new(),
        };
        println!(
            "{progress} {mark} {:<28} {summary}{dropped} {elapsed}",
            scene.id()
        );
        print!("{details}");
        for problem in problems {
            println!("{}", ui::indent(&format!("- {problem}"), 6));
        }
    }
    println!("\nverified in {:.1} s", started.elapsed().as_secs_f64());
    println!("{passed} passed, {failed} failed");
    Ok(exit_code(failed == 0))
}

fn judge_package(scene: &Scene) -> String {
    grading::package("verify", "judge", scene)
}

fn subject_package(scene: &Scene) -> String {
    grading::package("verify", "subject", scene)
}

/// A scene's stub, solution and mutants, written out as crates (with `generated`, the mutants
/// made by machine too).
fn write_variants(
    workbook: &Workbook,
    scene: &Scene,
    generated: bool,
) -> Result<Vec<variants::Variant>> {
    let mut written = variants::write(workbook, scene)?;
    if generated {
        written.extend(variants::write_generated(workbook, scene)?);
    }
    Ok(written)
}

/// A subject of the scene's variants, each an implementation the judge picks by number.
fn subject_spec(scene: &Scene, variants: &[variants::Variant]) -> Result<SubjectSpec> {
    Ok(SubjectSpec {
        package: subject_package(scene),
        apis: vec![grading::api(scene)?],
        variants: variants
            .iter()
            .map(|v| {
                vec![CrateRef {
                    dir: v.dir.clone(),
                    package: v.package.clone(),
                }]
            })
            .collect(),
    })
}

/// Mutants made by machine that do not compile (a swapped operator the type has not got, a
/// literal out of range) are no mutants at all: they are built in one cargo run and left out.
/// Returns how many each scene lost.
fn drop_unviable(
    workbook: &Workbook,
    base: &Path,
    plans: &mut [(Scene, Vec<String>, Vec<variants::Variant>)],
    display: build::Display,
) -> Result<HashMap<String, usize>> {
    let generated: Vec<PathBuf> = plans
        .iter()
        .flat_map(|(_, _, variants)| variants)
        .filter(|v| matches!(v.kind, variants::Kind::Generated { .. }))
        .filter_map(|v| v.dir.strip_prefix(base).ok().map(Path::to_path_buf))
        .collect();
    println!(
        "building {} generated mutants, to leave out those that do not compile...",
        generated.len()
    );
    let subjects = plans
        .iter()
        .filter(|(_, problems, _)| problems.is_empty())
        .map(|(scene, _, variants)| subject_spec(scene, variants))
        .collect::<Result<Vec<_>>>()?;
    let failing = build::failing_crates(
        &workbook.root,
        base,
        &subjects,
        &generated,
        "*-generated-*",
        display,
    )?;
    let mut dropped = HashMap::new();
    for (scene, _, variants) in plans.iter_mut() {
        let before = variants.len();
        variants.retain(|v| !failing.contains(&v.dir.join("src/lib.rs")));
        dropped.insert(scene.id(), before - variants.len());
    }
    Ok(dropped)
}

/// The judge of a track's playground, built to prove it compiles against the declarations.
fn playground_judge(
    workbook: &Workbook,
    track: &crate::manifest::Track,
) -> Result<Option<JudgeSpec>> {
    let file = workbook.playground_file(track);
    if track.play.is_none() || !file.is_file() {
        return Ok(None);
    }
    let apis = crate::commands::play::apis_used(workbook, track)?;
    Ok(Some(JudgeSpec {
        package: format!("verify-play-{}", track.name),
        entry: Entry::Playground(file),
        apis: apis.into_iter().map(|(_, api)| api).collect(),
        kit_features: track.kit_features.clone(),
        optimised: false,
    }))
}

/// The checks, declarations, solution and playground files (outside the workspace, so `cargo
/// fmt` never sees them) that rustfmt would change.
fn unformatted(workbook: &Workbook, scenes: &[Scene]) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for scene in scenes {
        if scene.number == 1 {
            files.push(workbook.playground_file(scene.track));
            files.push(scene.support_file());
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

/// Clippy, warnings denied, over the checks and the solutions, and rustfmt over them; says what
/// it found, and whether all was clean.
fn lint(
    workbook: &Workbook,
    base: &Path,
    scenes: &[Scene],
    display: build::Display,
) -> Result<bool> {
    let mut clean = true;
    let mut objections = build::lint(&workbook.root, base, "verify-judge-*", "--bins", display)?;
    objections.extend(build::lint(
        &workbook.root,
        base,
        "*-solution",
        "--lib",
        display,
    )?);
    let unformatted = unformatted(workbook, scenes)?;
    if !unformatted.is_empty() {
        clean = false;
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
        clean = false;
        println!(
            "{} clippy objects to the checks or solutions:",
            ui::fail("✗")
        );
        for objection in objections {
            println!("{}", ui::indent(&objection, 6));
        }
    }
    Ok(clean)
}
