//! A classroom repository to grade with `cargo grade ci`: the workbook committed as the trusted
//! base, and helpers to commit a student's work over it.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{git, grade, stdout_of, workbook};

/// A repository holding the workbook as it is now (its tracked and new files), committed as
/// the trusted base, at a path named after the test that asks for it.
pub fn classroom_repo() -> (Repo, String) {
    let test = std::thread::current()
        .name()
        .unwrap_or("main")
        .replace("::", "-");
    classroom_repo_named(&test)
}

/// [`classroom_repo`], at a path named `name`. Its `target/` is shared between runs, so builds
/// are cached; and its path and its files' times are the same from run to run and test to test,
/// so that what is built there (the kit and the judge runtime, from its own sources) is built
/// once, not by every test that builds there. Tests that share a name take the classroom turn.
pub fn classroom_repo_named(name: &str) -> (Repo, String) {
    let root = workbook();
    let dir = root.join("target/classroom-repos").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(&root)
        .output()
        .unwrap();
    for file in listed.stdout.split(|&b| b == 0).filter(|f| !f.is_empty()) {
        let relative = Path::new(std::str::from_utf8(file).unwrap());
        let source = root.join(relative);
        if !source.is_file() {
            continue;
        }
        let target = dir.join(relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&source, &target).unwrap();
        let modified = std::fs::metadata(&source).unwrap().modified().unwrap();
        std::fs::File::options()
            .write(true)
            .open(&target)
            .unwrap()
            .set_modified(modified)
            .unwrap();
    }
    let cache = root.join("target/classroom-test");
    std::fs::create_dir_all(&cache).unwrap();
    std::os::unix::fs::symlink(&cache, dir.join("target")).unwrap();
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "the workbook"]);
    let base = head(&dir);
    (Repo(dir), base)
}

/// A classroom repository; it stays on disk after its test, until the test runs again.
pub struct Repo(PathBuf);

impl Repo {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

pub fn head(dir: &Path) -> String {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn write(dir: &Path, path: &str, text: &str) {
    std::fs::write(dir.join(path), text).unwrap();
}

pub fn out_dir(dir: &Path) -> PathBuf {
    dir.join("grade-out")
}

/// Runs `ci` on the crc32 scene, with GitHub's output files set.
pub fn run_ci(dir: &Path, base: &str) -> (Option<i32>, String) {
    run_ci_with(dir, base, &[])
}

/// Runs `ci` on the crc32 scene with further arguments, with GitHub's output files set.
pub fn run_ci_with(dir: &Path, base: &str, args: &[&str]) -> (Option<i32>, String) {
    let output = grade(dir)
        .args(["ci", "--trusted", base, "--out"])
        .arg(out_dir(dir))
        .args(args)
        .arg("primitives/crc32")
        .env("GITHUB_STEP_SUMMARY", dir.join("step-summary.md"))
        .env("GITHUB_OUTPUT", dir.join("step-output.txt"))
        .output()
        .unwrap();
    (output.status.code(), stdout_of(&output))
}

/// A crate with the crc32 scene's API that answers 1 to everything (so every check fails, the
/// first one included, and the report shows what the first one printed), and runs
/// `misbehaviour` (a function body) on its first call in each subject process: once is all an
/// attack needs, and once per call (thousands of calls) made these tests start processes by the
/// hundred.
pub fn crc32_that(misbehaviour: &str) -> String {
    format!(
        "pub const POLYNOMIAL: u32 = 0xEDB8_8320;\n\
         fn misbehave() {{ static FIRST: std::sync::Once = std::sync::Once::new(); FIRST.call_once(act); }}\n\
         #[allow(unreachable_code, clippy::empty_loop)]\n\
         fn act() {{ {misbehaviour} }}\n\
         pub fn crc32(_: &[u8]) -> u32 {{ misbehave(); 1 }}\n\
         pub struct Crc32;\n\
         impl Crc32 {{\n\
             pub fn new() -> Self {{ misbehave(); Crc32 }}\n\
             pub fn update(&mut self, _: &[u8]) {{}}\n\
             pub fn finish(&self) -> u32 {{ 1 }}\n\
         }}\n\
         impl Default for Crc32 {{ fn default() -> Self {{ Self::new() }} }}\n"
    )
}
