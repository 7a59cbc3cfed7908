//! `cargo grade ci`: grading a classroom submission that cannot grade itself.
//!
//! The checks, the grader, the kit and the manifest come from a trusted commit; only the
//! learner's source files come from the submission (see [`submission`]). Grading goes in an
//! order that leaves the submission nothing to reach:
//!
//! 1. the judges (checks, kit, proxies) are built from the trusted tree alone, and held in
//!    sealed memory from then on;
//! 2. with `--scrub-checkout`, the references, the checks and the repository's objects are
//!    deleted from the disk (a CI machine's checkout is thrown away anyway), so nothing the
//!    submission compiles or runs can read them;
//! 3. only then is the learner's code compiled, into subjects, also held in sealed memory;
//! 4. each scene's judge runs its checks against its subject, contained as the machine allows;
//! 5. every process left behind is killed, anything written meanwhile to the CI system's
//!    files is cut off, and only then does this process write the results.

mod assignment;
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
use crate::build::{self, BuildFailure, CrateRef, JudgeSpec, SubjectSpec};
use crate::grading::{self, DEFAULT_SEED, Outcome};
use crate::manifest::{Scene, Workbook};
use crate::run::{self, Binary, Limits, Setting, Subject, Verdict};
use crate::ui;
use formats::{Report, SceneResult};

pub struct Options<'a> {
    pub trusted: &'a str,
    pub submission: &'a str,
    pub selector: Option<&'a str>,
    /// Grade this assignment of the trusted commit's classroom.toml instead of a selector.
    pub assignment: Option<&'a str>,
    /// When the platform says the submission's tip was pushed.
    pub pushed_at: Option<std::time::SystemTime>,
    pub out: Option<PathBuf>,
    /// Delete the checkout's references, checks and git objects once the judges are built.
    pub scrub_checkout: bool,
    /// Grade under names of this number's own, so that several gradings can run at once in
    /// one checkout (a gradebook's).
    pub slot: Option<usize>,
}

/// The CI system's files that grading appends to; what is in them before grading is kept.
const ENV_FILES: [&str; 2] = ["GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"];

pub fn run(workbook: &Workbook, options: &Options) -> Result<ExitCode> {
    let env_files = EnvFiles::remember();
    // A slot's gradings have names of their own (their directories, packages and binaries),
    // so that gradings side by side share the build directory's dependencies and nothing else.
    let purpose = match options.slot {
        Some(slot) => format!("ci{slot}"),
        None => "ci".to_string(),
    };
    let target = build::target_dir(&workbook.root);
    let ci_dir = target.join(&purpose);
    // Two gradings in one checkout share this directory (the submission, the judges, the result
    // files): one at a time, or one grades what the other wrote.
    let _lock = crate::files::hold(&ci_dir, &format!("the grading of {}", options.submission))?;
    // Canonical, so that the paths cargo fingerprints stay the same from run to run.
    let ci_dir = ci_dir.canonicalize()?;
    let assigned = match options.assignment {
        Some(name) => Some(pick_commit(workbook, options, name)?),
        None => None,
    };
    // An assignment grades the commit it picks; with none in time, the template as given.
    let submission = match &assigned {
        Some(AssignmentGrade { graded, .. }) => match graded.commit {
            Some(commit) => commit.to_string(),
            None => options.trusted.to_string(),
        },
        None => options.submission.to_string(),
    };
    let materialized = submission::materialize(
        &workbook.root,
        options.trusted,
        &submission,
        &ci_dir.join("workbook"),
    )?;
    let trusted = Workbook::load(&materialized.root)
        .context("the trusted commit's workbook does not load")?;
    let scenes = match &assigned {
        Some(AssignmentGrade { assignment, .. }) => select_all(&trusted, &assignment.scenes)?,
        None => trusted.select(options.selector)?,
    };
    if let Some(assigned) = &assigned {
        println!("{}", assigned.describe());
    }
    println!(
        "grading {} of submission {} with the checks of {}",
        ui::count(scenes.len(), "scene"),
        materialized.submission,
        materialized.trusted
    );
    for path in &materialized.ignored {
        println!(
            "{} not counted (outside exercises/*/*/src): {path}",
            ui::dim("note:")
        );
    }

    // Built in the checkout's build directory, from the trusted tree's sources: every grading
    // in this checkout shares the compiled dependencies. Canonical, as `ci_dir` is (it lives
    // there, so it exists).
    let target = target.canonicalize()?;
    let work = Work {
        dir: target.join(format!("{purpose}-work")),
        target,
        purpose,
    };
    let judges = build_judges(&trusted, &scenes, &work)?;
    if options.scrub_checkout {
        scrub(&workbook.root, &trusted.root, &work)?;
    }
    let subjects = build_subjects(&trusted, &scenes, &work)?;
    let containment = run::containment::for_this_machine(&workbook.root);
    let seeds = fresh_seeds();
    println!(
        "{} graded on seeds {}: the first fixed, the others new each run",
        ui::dim("note:"),
        seeds.map(|s| s.to_string()).join(", ")
    );
    println!(
        "{} the learner's code runs in {}",
        ui::dim("note:"),
        run::containment::describe(&containment)
    );

    let mut results = Vec::new();
    let mut outcomes = Vec::new();
    for scene in &scenes {
        let started = Instant::now();
        let key = scene.id();
        let mut failing_seed = None;
        let outcome = match (judges.get(&key), subjects.get(&key)) {
            (Some(Ok(judge)), Some(Ok(subject))) => {
                let setting = Setting {
                    seed: DEFAULT_SEED,
                    limits: Limits::with_timeout(scene.timeout()),
                    containment: containment.clone(),
                    shrink: true,
                };
                let subject = Subject {
                    binary: subject,
                    variant: 0,
                };
                let graded = grading::run_on_seeds(judge, subject, &setting, &seeds);
                failing_seed = graded
                    .seeds
                    .last()
                    .copied()
                    .filter(|_| !graded.outcome.passed());
                graded.outcome.relative_to(&trusted.root)
            }
            (Some(Err(failure)), _) | (_, Some(Err(failure))) => {
                Outcome::DoesNotBuild(failure.clone())
            }
            _ => Outcome::DoesNotStart("the checks were not built".into()),
        };
        let mut result = scene_result(scene, &outcome, started.elapsed().as_secs_f64());
        if let Some(points) = assigned
            .as_ref()
            .and_then(|a| a.assignment.points.get(&key))
        {
            result.points = *points;
        }
        if let Some(seed) = failing_seed {
            result.summary = format!(
                "{} (seed {seed}; replay: cargo grade check {key} --seed {seed})",
                result.summary
            );
        }
        results.push(result);
        outcomes.push(outcome);
    }

    // Nothing the learner's code started may be left to change what is written next.
    run::sweep();
    env_files.restore()?;
    for (result, outcome) in results.iter().zip(&outcomes) {
        print_line(result, outcome);
    }
    let report = Report {
        trusted: materialized.trusted,
        submission: materialized.submission,
        ignored: materialized.ignored,
        scenes: results,
        assignment: assigned,
    };
    for line in formats::annotations(&report) {
        println!("{line}");
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

type Binaries = HashMap<String, Result<Binary, BuildFailure>>;

pub use assignment::AssignmentGrade;

/// The assignment `name` of the trusted commit, and the submission's commit it grades.
fn pick_commit(workbook: &Workbook, options: &Options, name: &str) -> Result<AssignmentGrade> {
    let repo =
        git2::Repository::open(&workbook.root).context("the workbook is not a git repository")?;
    let assignment = assignment::at(&repo, options.trusted, name)?;
    let tip = repo
        .revparse_single(options.submission)
        .and_then(|o| o.peel_to_commit())
        .with_context(|| format!("--submission {}: no such commit", options.submission))?;
    let graded = assignment.pick(&tip, options.pushed_at);
    Ok(AssignmentGrade { assignment, graded })
}

/// The scenes of every selector, each once, in the manifest's order.
fn select_all<'a>(workbook: &'a Workbook, selectors: &[String]) -> Result<Vec<Scene<'a>>> {
    let mut chosen: Vec<String> = Vec::new();
    for selector in selectors {
        for scene in workbook.select(Some(selector))? {
            chosen.push(scene.id());
        }
    }
    Ok(workbook
        .select(None)?
        .into_iter()
        .filter(|scene| chosen.contains(&scene.id()))
        .collect())
}

/// Where ci builds: the generated workspace, the build directory it builds into, and the
/// purpose its packages are named for (see [`grading::package`]).
struct Work {
    target: PathBuf,
    dir: PathBuf,
    purpose: String,
}

impl Work {
    /// What the name of every judge package of this grading begins with.
    fn judge_packages(&self) -> String {
        format!("{}-judge-", self.purpose)
    }
}

/// Every scene's judge, in one cargo run, from the trusted tree alone; each loaded at once.
fn build_judges(workbook: &Workbook, scenes: &[Scene], work: &Work) -> Result<Binaries> {
    let specs: Vec<(String, JudgeSpec)> = scenes
        .iter()
        .map(|scene| Ok((scene.id(), grading::judge_spec(scene, &work.purpose)?)))
        .collect::<Result<_>>()?;
    let judges: Vec<JudgeSpec> = specs.iter().map(|(_, spec)| spec.clone()).collect();
    debug_assert!(
        judges
            .iter()
            .all(|j| j.package.starts_with(&work.judge_packages()))
    );
    let mut built = build::build_in(
        &work.target,
        &workbook.root,
        &work.dir,
        &judges,
        &[],
        &[],
        quiet(),
    )?;
    specs
        .into_iter()
        .map(|(id, spec)| {
            let outcome = built.judges.remove(&spec.package).expect("built");
            Ok((id, load(outcome)?))
        })
        .collect()
}

/// Every scene's subject around the submission's crate, in one cargo run.
fn build_subjects(workbook: &Workbook, scenes: &[Scene], work: &Work) -> Result<Binaries> {
    let mut specs = Vec::new();
    for scene in scenes {
        let dir = scene.exercise_dir();
        specs.push((
            scene.id(),
            SubjectSpec {
                package: grading::package(&work.purpose, "subject", scene),
                apis: vec![grading::api(scene)?],
                variants: vec![vec![CrateRef {
                    package: grading::package_name(&dir)?,
                    dir,
                }]],
            },
        ));
    }
    let subjects: Vec<SubjectSpec> = specs.iter().map(|(_, spec)| spec.clone()).collect();
    let mut built = build::build_in(
        &work.target,
        &workbook.root,
        &work.dir,
        &[],
        &subjects,
        &[],
        quiet(),
    )?;
    specs
        .into_iter()
        .map(|(id, spec)| {
            let outcome = built.subjects.remove(&spec.package).expect("built");
            Ok((id, load(outcome)?))
        })
        .collect()
}

fn load(outcome: Result<PathBuf, BuildFailure>) -> Result<Result<Binary, BuildFailure>> {
    Ok(match outcome {
        Ok(path) => {
            Ok(Binary::load(&path).with_context(|| format!("cannot load {}", path.display()))?)
        }
        Err(failure) => Err(failure),
    })
}

fn quiet() -> build::Display {
    build::Display::default()
}

/// Deletes what the submission must not read: the checkout's references, checks and git
/// objects, the checks copied into the trusted tree, and everything the judges' build left
/// (their generated packages, and binaries, dependency info, fingerprints and incremental
/// caches, which hold the checks compiled). The rest of the build directory (the kit, the judge
/// runtime, the API declarations) is what a student's copy holds anyway, and stays for the next
/// grading.
fn scrub(checkout: &Path, trusted: &Path, work: &Work) -> Result<()> {
    for dir in [
        checkout.join("solutions"),
        checkout.join("grader/checks"),
        checkout.join(".git"),
    ] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot scrub {}", dir.display()))?;
        }
    }
    // The trusted tree keeps the API declarations, which the subjects are built with (they say
    // no more than the stubs do).
    let checks = trusted.join("grader/checks");
    for file in crate::files::list_files(&checks, &[]).unwrap_or_default() {
        if !file.to_string_lossy().ends_with(".api.rs") {
            std::fs::remove_file(checks.join(&file))
                .with_context(|| format!("cannot scrub {}", file.display()))?;
        }
    }
    let products = work.target.join("debug");
    let package = work.judge_packages();
    let crate_name = package.replace('-', "_");
    let judged = |name: &str| {
        let name = name.strip_prefix("lib").unwrap_or(name);
        name.starts_with(&package) || name.starts_with(&crate_name)
    };
    let dirs = ["", "deps", ".fingerprint", "build", "incremental"]
        .map(|dir| products.join(dir))
        .into_iter()
        .chain([work.dir.clone()]);
    for dir in dirs {
        for entry in std::fs::read_dir(dir).into_iter().flatten() {
            let entry = entry?;
            if judged(&entry.file_name().to_string_lossy()) {
                let path = entry.path();
                if entry.file_type()?.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                }
                .with_context(|| format!("cannot scrub {}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// The CI system's files as they were before any learner code ran.
struct EnvFiles(Vec<(PathBuf, u64)>);

impl EnvFiles {
    fn remember() -> EnvFiles {
        EnvFiles(
            ENV_FILES
                .iter()
                .filter_map(std::env::var_os)
                .map(PathBuf::from)
                .map(|path| {
                    let len = std::fs::metadata(&path).map_or(0, |m| m.len());
                    (path, len)
                })
                .collect(),
        )
    }

    /// Cuts off whatever was appended since: only this process writes to them.
    fn restore(&self) -> Result<()> {
        for (path, len) in &self.0 {
            if let Ok(file) = std::fs::OpenOptions::new().write(true).open(path) {
                file.set_len(*len)
                    .with_context(|| format!("cannot restore {}", path.display()))?;
            }
        }
        Ok(())
    }
}

/// The first seed is the learner's own first seed; the others are drawn afresh for every
/// grading, so that a solution tuned to the fixed seeds gains nothing.
fn fresh_seeds() -> [u64; 3] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut state = nanos ^ u64::from(std::process::id()).rotate_left(32);
    let mut next = || {
        // splitmix64: well spread from a poorly spread start.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        // Short enough to type in a replay command.
        10 + (z ^ (z >> 31)) % 999_990
    };
    [DEFAULT_SEED, next(), next()]
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
