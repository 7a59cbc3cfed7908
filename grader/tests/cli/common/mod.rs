//! What the grader's integration tests share: the workbook, a lock, and crates made on the fly.

pub mod classroom;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use assert_cmd::Command;

/// The workbook this grader belongs to.
pub fn workbook() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A file of the workbook as its last commit has it.
pub fn committed(path: &str) -> String {
    let output = std::process::Command::new("git")
        .args(["show", &format!("HEAD:{path}")])
        .current_dir(workbook())
        .output()
        .unwrap();
    assert!(output.status.success(), "git show HEAD:{path}");
    String::from_utf8(output.stdout).unwrap()
}

/// How many checks the crc32 scene has, from its checks file: the tests grade against it, and
/// its checks may grow.
pub fn crc32_checks() -> usize {
    let checks = workbook().join("grader/checks/primitives/01-crc32.rs");
    std::fs::read_to_string(checks)
        .unwrap()
        .matches("\n        .check(")
        .count()
}

/// The grader, run in `dir`, without a terminal and without colour. In the workbook it builds
/// in `target/grade-tests` (`GRADE_TARGET_DIR`), never in the learner's `target/grade`, so that
/// `cargo test` keeps no learner waiting. (Classroom repositories build behind their own
/// `target` link, shared by all of them and by the gradings in them: a grading with
/// `--scrub-checkout` deletes its judges' products, which the proof must not lose mid-run.)
///
/// Without incremental compilation: the tests build from nothing more often than not (a clean
/// clone, CI), where incremental caches cost a third more processor time (the primitives
/// track's scenes, judges and variants: 73 s against 41 s, measured).
pub fn grade(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("grader").unwrap();
    command
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("CARGO_INCREMENTAL", "0");
    if dir == workbook() {
        command.env("GRADE_TARGET_DIR", "target/grade-tests");
    }
    command
}

/// Tests that grade in the workbook share its scenes' workspace, so they take turns.
pub fn workbook_turn() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Tests that grade a classroom repository share its build cache, so they take turns.
pub fn classroom_turn() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A crate in a temporary directory with `lib` as its `src/lib.rs`.
pub fn crate_with(lib: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"submission\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), lib).unwrap();
    dir
}

/// A workbook of its own: the real manifest and hints, and nothing else, in a temporary
/// directory, so tests can make and break progress without touching the real one.
pub fn scratch_workbook() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = workbook();
    std::fs::copy(
        root.join("curriculum.toml"),
        dir.path().join("curriculum.toml"),
    )
    .unwrap();
    copy_tree(&root.join("hints"), &dir.path().join("hints"));
    dir
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs git in `dir` as a throwaway identity, and insists it succeeds.
pub fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}
