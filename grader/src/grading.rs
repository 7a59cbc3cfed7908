//! Grading one scene against one implementation crate: build its judge and a subject around
//! the crate, then let the judge run its checks.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::build::{self, Api, BuildFailure, CrateRef, Entry, JudgeSpec, SubjectSpec};
use crate::manifest::{Scene, Workbook};
use crate::run::{self, Binary, Limits, Setting, Subject, SuiteRun, Verdict};
use crate::{parallel, ui};

/// The seed a verdict is first taken on, and the one `verify` proves scenes with.
pub const DEFAULT_SEED: u64 = 1;

/// The seeds a learner's crate is graded on unless `--seed` names one. A right answer passes
/// on every seed; a wrong one that slips past the first is often caught by the next. Later
/// seeds run only once the first passes, so a failure costs no more than before.
pub const SEEDS: [u64; 3] = [DEFAULT_SEED, 2, 3];

pub enum Outcome {
    /// The crate (or the checks) did not compile.
    DoesNotBuild(BuildFailure),
    /// The checks could not even start.
    DoesNotStart(String),
    Ran(SuiteRun),
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Ran(run) if run.passed())
    }

    fn elapsed(&self) -> std::time::Duration {
        match self {
            Outcome::Ran(run) => run.elapsed,
            _ => std::time::Duration::ZERO,
        }
    }
}

/// A verdict, and the seeds it took: every one passed, or the last one did not.
pub struct Graded {
    pub outcome: Outcome,
    pub seeds: Vec<u64>,
}

/// Grades `scene` against the crate in `impl_dir`, on each of `seeds` until one fails.
pub fn grade(
    workbook: &Workbook,
    scene: &Scene,
    impl_dir: &Path,
    seeds: &[u64],
    limits: Limits,
) -> Result<Graded> {
    let judge = judge_spec(scene, "grade")?;
    let subject = SubjectSpec {
        package: package("grade", "subject", scene),
        apis: vec![api(scene)?],
        variants: vec![vec![CrateRef {
            dir: impl_dir.to_path_buf(),
            package: package_name(impl_dir)?,
        }]],
    };
    let dir = build::work_dir(&workbook.root, "scenes")
        .join(&scene.track.name)
        .join(scene.dir_name());
    // Two gradings of one scene at once (two terminals, a script grading several crates) share
    // this build directory: held until both binaries are copied out, the lock keeps one from
    // building over the other's crate and running the wrong code.
    let building = lock_dir(&dir)?;
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
    let unbuilt = |failure| Graded {
        outcome: Outcome::DoesNotBuild(failure),
        seeds: Vec::new(),
    };
    let judge = match built.judges.remove(&judge.package).expect("built") {
        Ok(path) => path,
        Err(failure) => return Ok(unbuilt(failure)),
    };
    let subject = match built.subjects.remove(&subject.package).expect("built") {
        Ok(path) => path,
        Err(failure) => return Ok(unbuilt(failure)),
    };
    let (judge, subject) = (Binary::load(&judge)?, Binary::load(&subject)?);
    drop(building);
    let setting = Setting {
        seed: DEFAULT_SEED,
        limits,
        containment: run::containment::for_this_machine(&workbook.root),
        shrink: true,
    };
    let subject = Subject {
        binary: &subject,
        variant: 0,
    };
    let mut graded = run_on_seeds(&judge, subject, &setting, seeds);
    graded.outcome = graded.outcome.relative_to(&workbook.root);
    Ok(graded)
}

/// An exclusive lock on a build directory, made if missing; released when dropped.
fn lock_dir(dir: &Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let lock = std::fs::File::create(dir.join(".lock"))
        .with_context(|| format!("creating {}", dir.join(".lock").display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", dir.display()))?;
    Ok(lock)
}

/// Runs the checks on each of `seeds` (the seed of `setting` aside) until a run does not pass;
/// on the seed of `setting` when `seeds` is empty.
pub fn run_on_seeds(judge: &Binary, subject: Subject, setting: &Setting, seeds: &[u64]) -> Graded {
    let (&first, rest) = seeds.split_first().unwrap_or((&setting.seed, &[]));
    let on = |seed| Setting {
        seed,
        ..setting.clone()
    };
    let mut graded = Graded {
        outcome: run(judge, subject, &on(first)),
        seeds: vec![first],
    };
    for &seed in rest {
        if !graded.outcome.passed() {
            break;
        }
        let before = graded.outcome.elapsed();
        graded.outcome = run(judge, subject, &on(seed));
        graded.seeds.push(seed);
        if let Outcome::Ran(suite) = &mut graded.outcome {
            suite.elapsed += before;
        }
    }
    graded
}

/// Lists the judge's checks and runs them all against `subject`.
pub fn run(judge: &Binary, subject: Subject, setting: &Setting) -> Outcome {
    match run::list_checks(judge, setting) {
        Ok(names) => Outcome::Ran(run::run_checks(
            judge,
            subject,
            &names,
            setting,
            parallel::default_jobs(),
        )),
        Err(error) => Outcome::DoesNotStart(error.to_string()),
    }
}

impl Outcome {
    /// Paths in messages relative to the workbook's root, as the learner sees the tree.
    pub fn relative_to(mut self, root: &Path) -> Outcome {
        let prefix = format!("{}/", root.display());
        if let Outcome::Ran(run) = &mut self {
            for check in &mut run.checks {
                if let Verdict::Failed(message) | Verdict::Died(message) = &mut check.verdict {
                    *message = message.replace(&prefix, "");
                }
                check.output = check.output.replace(&prefix, "");
                if let Some(doing) = &mut check.doing {
                    *doing = doing.replace(&prefix, "");
                }
            }
        }
        self
    }
}

/// A scene's API declaration, for the crate the checks name.
pub fn api(scene: &Scene) -> Result<Api> {
    Ok(Api {
        declaration: scene.api_file(),
        crate_name: crate_name(&scene.exercise_dir())?,
    })
}

/// A package name for `scene`: `purpose` keeps the packages of different commands apart, as
/// they share one target directory.
pub fn package(purpose: &str, what: &str, scene: &Scene) -> String {
    format!("{purpose}-{what}-{}-{}", scene.track.name, scene.entry.name)
}

/// The judge of a scene: its checks, its track's shared helpers, its API.
pub fn judge_spec(scene: &Scene, purpose: &str) -> Result<JudgeSpec> {
    if !scene.checks_file().is_file() {
        // A class's copy of the workbook: the instructor keeps the checks.
        anyhow::bail!(
            "the checks of {} are not in this copy of the workbook: your instructor keeps them. \
             Commit your work, push it and open a pull request: it is graded there",
            scene.id()
        );
    }
    let support = scene.support_file();
    Ok(JudgeSpec {
        package: package(purpose, "judge", scene),
        entry: Entry::Checks {
            file: scene.checks_file(),
            support: support.is_file().then_some(support),
        },
        apis: vec![api(scene)?],
        kit_features: scene.track.kit_features.clone(),
        optimised: purpose != "verify",
    })
}

/// The package name in a crate directory's Cargo.toml.
pub fn package_name(crate_dir: &Path) -> Result<String> {
    let path = crate_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{} is not a crate: no Cargo.toml", crate_dir.display()))?;
    let manifest: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .with_context(|| format!("{} has no [package] name", path.display()))
}

/// The name the checks use for a scene's crate: its exercise's package name, as Rust spells it.
pub fn crate_name(exercise_dir: &Path) -> Result<String> {
    Ok(package_name(exercise_dir)?.replace('-', "_"))
}

/// Resolves `--impl DIR` against the directory the learner typed it in.
pub fn impl_dir(given: Option<&Path>, scene: &Scene) -> Result<PathBuf> {
    match given {
        None => Ok(scene.exercise_dir()),
        Some(dir) => dir
            .canonicalize()
            .with_context(|| format!("--impl {}: no such directory", dir.display())),
    }
}
