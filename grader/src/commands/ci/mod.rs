//! `cargo grade ci`: grading a classroom submission that cannot grade itself.
//!
//! The checks, the grader's harness, the kit and the manifest come from a trusted commit; only
//! the learner's source files come from the submission (see [`submission`]). Every harness is
//! built before any learner code runs, and each binary's fingerprint is taken then and checked
//! before it runs, so code graded earlier cannot rewrite the checks of a scene graded later.
//! Results are written by this process alone, at the end.

mod formats;
mod submission;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};

use super::exit_code;
use crate::grading::{self, DEFAULT_SEED, Outcome};
use crate::harness::{self, Limits, Verdict};
use crate::manifest::{Scene, Workbook};
use crate::ui;
use formats::{Report, SceneResult};

pub struct Options<'a> {
    pub trusted: &'a str,
    pub submission: &'a str,
    pub selector: Option<&'a str>,
    pub out: Option<PathBuf>,
}

pub fn run(workbook: &Workbook, options: &Options) -> Result<ExitCode> {
    let ci_dir = workbook.root.join("target/grade/ci");
    std::fs::create_dir_all(&ci_dir)?;
    // Canonical, so that the paths cargo fingerprints stay the same from run to run.
    let ci_dir = ci_dir.canonicalize()?;
    let materialized = submission::materialize(
        &workbook.root,
        options.trusted,
        options.submission,
        &ci_dir.join("workbook"),
    )?;
    let trusted = Workbook::load(&materialized.root)
        .context("the trusted commit's workbook does not load")?;
    let scenes = trusted.select(options.selector)?;
    println!(
        "grading {} scene{} of submission {} with the checks of {}",
        scenes.len(),
        if scenes.len() == 1 { "" } else { "s" },
        materialized.submission,
        materialized.trusted
    );
    for path in &materialized.ignored {
        println!(
            "{} not counted (outside exercises/*/*/src): {path}",
            ui::dim("note:")
        );
    }

    let built = build_all(&trusted, &scenes)?;
    let fingerprints: HashMap<String, u64> = built
        .iter()
        .filter_map(|(package, outcome)| {
            Some((package.clone(), fingerprint(outcome.as_ref().ok()?).ok()?))
        })
        .collect();
    let mut results = Vec::new();
    for scene in &scenes {
        let started = Instant::now();
        let package = harness_package(scene);
        let outcome = match built.get(&package).cloned() {
            Some(Ok(binary))
                if fingerprint(&binary).ok() == fingerprints.get(&package).copied() =>
            {
                grading::run(&binary, DEFAULT_SEED, Limits::with_timeout(scene.timeout()))
                    .relative_to(&trusted.root)
            }
            Some(Ok(_)) => Outcome::DoesNotStart(
                "the checks binary changed after it was built: something rewrote it".into(),
            ),
            Some(Err(failure)) => Outcome::DoesNotBuild(failure),
            None => Outcome::DoesNotStart("the checks were not built".into()),
        };
        let result = scene_result(scene, &outcome, started.elapsed().as_secs_f64());
        print_line(&result, &outcome);
        results.push(result);
    }

    let report = Report {
        trusted: materialized.trusted,
        submission: materialized.submission,
        ignored: materialized.ignored,
        scenes: results,
    };
    for scene in report.scenes.iter().filter(|s| !s.passed) {
        println!("{}", formats::annotation(scene));
    }
    let out = options.out.clone().unwrap_or_else(|| ci_dir.join("out"));
    let written = formats::write_all(&report, &out)?;
    append_to_env_file("GITHUB_STEP_SUMMARY", &formats::summary_markdown(&report))?;
    append_to_env_file("GITHUB_OUTPUT", &formats::classroom_output(&report))?;
    println!(
        "{} of {} points; wrote {} in {}",
        report.score(),
        report.max_score(),
        written.join(", "),
        out.display()
    );
    let passed = report.scenes.iter().filter(|s| s.passed).count();
    println!("{passed} passed, {} failed", report.scenes.len() - passed);
    Ok(exit_code(report.passed()))
}

fn harness_package(scene: &Scene) -> String {
    format!("check-{}-{}", scene.track.name, scene.entry.name)
}

/// Every scene's harness, in one cargo run, before any learner code runs.
fn build_all(
    workbook: &Workbook,
    scenes: &[Scene],
) -> Result<HashMap<String, Result<PathBuf, harness::BuildFailure>>> {
    let mut harnesses = Vec::new();
    for scene in scenes {
        let dir = scene.exercise_dir();
        let package = grading::package_name(&dir)?;
        harnesses.push(grading::checks_harness(
            harness_package(scene),
            scene,
            &dir,
            package,
        )?);
    }
    let dir = workbook.root.join("target/grade/ci-harnesses");
    harness::build(&workbook.root, &dir, &harnesses, false, false)
}

/// A keyed hash of a file: keys are random per process, so no submission can aim at it.
fn fingerprint(path: &Path) -> std::io::Result<u64> {
    static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let mut hasher = KEYS.get_or_init(Default::default).build_hasher();
    hasher.write(&std::fs::read(path)?);
    Ok(hasher.finish())
}

fn scene_result(scene: &Scene, outcome: &Outcome, seconds: f64) -> SceneResult {
    let lib = scene.relative(&scene.exercise_dir().join("src/lib.rs"));
    let (summary, checks, location) = match outcome {
        Outcome::Ran(run) => {
            let failing: Vec<_> = run.failures().collect();
            let summary = match failing.first() {
                None => format!("all {} checks pass", run.checks.len()),
                Some(first) => {
                    let why = match &first.verdict {
                        Verdict::Failed(m) | Verdict::Died(m) => m.clone(),
                        Verdict::Passed => unreachable!("a failure"),
                    };
                    format!(
                        "{} of {} checks fail; first: {}\n{why}",
                        failing.len(),
                        run.checks.len(),
                        first.name
                    )
                }
            };
            let location = failing
                .first()
                .and_then(|c| match &c.verdict {
                    Verdict::Failed(m) | Verdict::Died(m) => learner_location(m, &lib),
                    Verdict::Passed => None,
                })
                .unwrap_or((lib.clone(), 1));
            let checks = run
                .checks
                .iter()
                .map(|c| (c.name.clone(), c.verdict.clone()))
                .collect();
            (summary, checks, location)
        }
        Outcome::DoesNotBuild(failure) => (
            format!(
                "does not compile\n{}",
                failure
                    .errors
                    .first()
                    .map(String::as_str)
                    .unwrap_or_default()
            ),
            Vec::new(),
            failure.location.clone().unwrap_or((lib, 1)),
        ),
        Outcome::DoesNotStart(why) => (
            format!("the checks could not start: {why}"),
            Vec::new(),
            (lib, 1),
        ),
    };
    SceneResult {
        id: scene.id(),
        track: scene.track.name.clone(),
        title: scene.entry.title.clone(),
        points: scene.entry.points,
        passed: outcome.passed(),
        checks,
        summary,
        location,
        seconds,
    }
}

/// The first `exercises/...rs:LINE` a message mentions inside the scene's crate (a panic's
/// location), if any.
fn learner_location(message: &str, lib: &str) -> Option<(String, usize)> {
    let crate_dir = lib.strip_suffix("src/lib.rs")?;
    let start = message.find(crate_dir)?;
    let rest = &message[start..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    let mut parts = rest[..end].split(':');
    let file = parts.next()?.to_string();
    let line = parts.next()?.parse().ok()?;
    Some((file, line))
}

/// One line per scene; for a failure, its details, fenced so that nothing in them (learner
/// output included) can act as a workflow command.
fn print_line(result: &SceneResult, outcome: &Outcome) {
    let mark = if result.passed {
        ui::pass("✓")
    } else {
        ui::fail("✗")
    };
    println!(
        "{mark} {:<32} {:>3}/{:<3} {}",
        result.id,
        result.score(),
        result.points,
        result.summary.lines().next().unwrap_or_default()
    );
    if result.passed {
        return;
    }
    let token = fence_token();
    println!("::stop-commands::{token}");
    println!("{}", ui::indent(&result.summary, 4));
    if let Outcome::Ran(run) = outcome {
        for check in run
            .failures()
            .filter(|c| !c.output.trim().is_empty())
            .take(1)
        {
            println!(
                "    output of the learner's code:\n{}",
                ui::indent(&check.output, 6)
            );
        }
    }
    println!("::{token}::");
}

fn fence_token() -> String {
    let hasher = std::collections::hash_map::RandomState::new().build_hasher();
    format!("fence{:016x}", hasher.finish())
}

fn append_to_env_file(variable: &str, text: &str) -> Result<()> {
    let Some(path) = std::env::var_os(variable) else {
        return Ok(());
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot append to ${variable}"))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
