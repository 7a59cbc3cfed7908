//! Grading one scene against one implementation crate: build its harness, run its checks.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::harness::{self, BuildFailure, CrateRef, Entry, Harness, Limits, SuiteRun, Verdict};
use crate::manifest::{Scene, Workbook};
use crate::parallel;

/// The seed a scene is graded with unless `--seed` says otherwise.
pub const DEFAULT_SEED: u64 = 1;

pub enum Outcome {
    /// The crate (or the checks against it) did not compile.
    DoesNotBuild(BuildFailure),
    /// The checks could not even start (the process died before listing them).
    DoesNotStart(String),
    Ran(SuiteRun),
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Ran(run) if run.passed())
    }
}

/// Grades `scene` against the crate in `impl_dir`.
pub fn grade(
    workbook: &Workbook,
    scene: &Scene,
    impl_dir: &Path,
    seed: u64,
    limits: Limits,
) -> Result<Outcome> {
    let package = format!("check-{}-{}", scene.track.name, scene.entry.name);
    let harness = checks_harness(package, scene, impl_dir, package_name(impl_dir)?)?;
    let dir = workbook
        .root
        .join("target/grade/scenes")
        .join(&scene.track.name)
        .join(scene.dir_name());
    let binary = match harness::build_one(&workbook.root, &dir, &harness, crate::ui::colour())? {
        Ok(binary) => binary,
        Err(failure) => return Ok(Outcome::DoesNotBuild(failure)),
    };
    Ok(run(&binary, seed, limits).relative_to(&workbook.root))
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

/// The harness that runs `scene`'s checks against the crate in `impl_dir`.
pub fn checks_harness(
    package: String,
    scene: &Scene,
    impl_dir: &Path,
    impl_package: String,
) -> Result<Harness> {
    Ok(Harness {
        package,
        entry: Entry::Checks(scene.checks_file()),
        subject: CrateRef {
            name: crate_name(&scene.exercise_dir())?,
            dir: impl_dir.to_path_buf(),
            package: impl_package,
        },
        also: Vec::new(),
    })
}

/// Runs a built harness's checks.
pub fn run(binary: &Path, seed: u64, limits: Limits) -> Outcome {
    match harness::list_checks(binary, limits) {
        Ok(names) => Outcome::Ran(harness::run_checks(
            binary,
            &names,
            seed,
            limits,
            parallel::default_jobs(),
        )),
        Err(error) => Outcome::DoesNotStart(error.to_string()),
    }
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
