//! Building the two halves of a check run.
//!
//! A *judge* is a binary built from trusted parts only: a scene's checks (or a playground), the
//! kit, and proxies generated from the scene's API declaration. A *subject* is a binary built
//! from one or more implementations of that API (the learner's crate, the reference, the
//! mutants) and a dispatcher generated from the same declaration, and nothing else. Both are
//! generated as packages of a workspace of their own under `target/grade` and built in one
//! cargo run, so they share every compiled dependency and never wait for an editor's lock.

mod cargo;
mod failure;
mod workspace;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

pub use failure::{Blame, BuildFailure};

/// Where cargo puts what the grader builds: `target/grade`, unless `GRADE_TARGET_DIR` names
/// another directory. The project's own tests name one of their own, so that `cargo test`
/// never holds the build lock a learner's `cargo grade` waits for.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("GRADE_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target/grade"),
    }
}

/// Where the grader writes the generated workspace of one kind of run (`scenes`, `verify`,
/// `play`...): inside [`target_dir`], so that a run with a build directory of its own shares
/// nothing with another, not even a lock.
pub fn work_dir(root: &Path, kind: &str) -> PathBuf {
    target_dir(root).join(kind)
}

/// A scene's API declaration and the name the checks use for the crate it describes.
#[derive(Debug, Clone)]
pub struct Api {
    pub declaration: PathBuf,
    /// E.g. `primitives_lru_cache`.
    pub crate_name: String,
}

/// A crate on disk.
#[derive(Debug, Clone)]
pub struct CrateRef {
    pub dir: PathBuf,
    /// The package name in `dir`'s Cargo.toml.
    pub package: String,
}

/// What a judge's `main` runs.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A checks file (`pub fn suite() -> judge::Suite`), and its track's shared module.
    Checks {
        file: PathBuf,
        support: Option<PathBuf>,
    },
    /// A playground file (`pub fn main()`), run on the learner's terminal.
    Playground(PathBuf),
}

#[derive(Debug, Clone)]
pub struct JudgeSpec {
    /// Unique within one build.
    pub package: String,
    pub entry: Entry,
    /// The APIs its checks call, in the order the subject lists them too.
    pub apis: Vec<Api>,
    /// The kit's features its track asks for.
    pub kit_features: Vec<String>,
    /// Built once and run often (a learner's scene, a classroom's): worth optimising. The
    /// proof builds many judges to run each once, and builds them faster unoptimised.
    pub optimised: bool,
}

#[derive(Debug, Clone)]
pub struct SubjectSpec {
    pub package: String,
    pub apis: Vec<Api>,
    /// Implementations: for each, one crate per API. A judge picks one by its index.
    pub variants: Vec<Vec<CrateRef>>,
}

/// What one build produced: each binary, or why it did not build.
#[derive(Default)]
pub struct Built {
    pub judges: HashMap<String, Result<PathBuf, BuildFailure>>,
    pub subjects: HashMap<String, Result<PathBuf, BuildFailure>>,
}

/// How a build shows itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Display {
    pub colour: bool,
    /// Pass cargo's progress through to the terminal.
    pub progress: bool,
}

/// Writes the workspace for `judges` and `subjects` into `dir` and builds them in one cargo run.
/// `members` are further crates (below `dir`) to make members of the workspace, to lint them.
pub fn build(
    root: &Path,
    dir: &Path,
    judges: &[JudgeSpec],
    subjects: &[SubjectSpec],
    members: &[PathBuf],
    display: Display,
) -> Result<Built> {
    build_in(
        &target_dir(root),
        root,
        dir,
        judges,
        subjects,
        members,
        display,
    )
}

/// [`build`], into the build directory `target` instead of `root`'s: a classroom grading builds
/// the trusted tree in the checkout's, so that the judges and subjects of every grading there
/// share their compiled dependencies.
pub fn build_in(
    target: &Path,
    root: &Path,
    dir: &Path,
    judges: &[JudgeSpec],
    subjects: &[SubjectSpec],
    members: &[PathBuf],
    display: Display,
) -> Result<Built> {
    let layout = workspace::write(root, dir, judges, subjects, members)?;
    let run = cargo::run(
        root,
        target,
        dir,
        &["build", "--keep-going", "--bins"],
        display,
    )?;
    let mut built = Built::default();
    for judge in judges {
        let outcome = match run.binaries.get(&judge.package) {
            Some(exe) => Ok(exe.clone()),
            None => Err(failure::of_judge(judge, &layout, &run)),
        };
        built.judges.insert(judge.package.clone(), outcome);
    }
    for subject in subjects {
        let outcome = match run.binaries.get(&subject.package) {
            Some(exe) => Ok(exe.clone()),
            None => Err(failure::of_subject(subject, &layout, &run)),
        };
        built.subjects.insert(subject.package.clone(), outcome);
    }
    Ok(built)
}

/// Writes the workspace [`build`] would build, without building it (for clippy alone).
pub fn write_workspace(
    root: &Path,
    dir: &Path,
    judges: &[JudgeSpec],
    subjects: &[SubjectSpec],
    members: &[PathBuf],
) -> Result<()> {
    workspace::write(root, dir, judges, subjects, members).map(|_| ())
}

/// The crates among `members` (below `dir`, variants of `subjects`) that do not build, by
/// their root source file. Builds them all in one cargo run, with the profiles the subjects'
/// build will use (so what builds here is reused there): a build, not a check, because some
/// errors (an arithmetic overflow in a constant) surface only in code generation.
pub fn failing_crates(
    root: &Path,
    dir: &Path,
    subjects: &[SubjectSpec],
    members: &[PathBuf],
    packages: &str,
    display: Display,
) -> Result<std::collections::HashSet<PathBuf>> {
    workspace::write(root, dir, &[], subjects, members)?;
    let run = cargo::run(
        root,
        &target_dir(root),
        dir,
        &["build", "--keep-going", "--lib", "--package", packages],
        display,
    )?;
    Ok(run.errors.into_iter().map(|e| e.target_src).collect())
}

/// Runs clippy, warnings denied, over the `targets` (`--bins`, `--lib`) of the packages of the
/// workspace in `dir` that `packages` matches (a cargo package pattern). Returns what it
/// objects to.
pub fn lint(
    root: &Path,
    dir: &Path,
    packages: &str,
    targets: &str,
    display: Display,
) -> Result<Vec<String>> {
    let args = [
        "clippy",
        "--keep-going",
        targets,
        "--package",
        packages,
        "--",
        "-D",
        "warnings",
    ];
    let run = cargo::run(root, &target_dir(root), dir, &args, display)?;
    Ok(run.errors.into_iter().map(|error| error.rendered).collect())
}
