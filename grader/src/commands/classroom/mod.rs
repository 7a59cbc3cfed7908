//! `cargo grade classroom`: an instructor's view of a whole class.
//!
//! `grade` grades every submission of a roster with `cargo grade ci` (one process each, so each
//! is contained and locked as a pull request's grading is), keeps each one's result files, and
//! writes the gradebook from them: a CSV for a spreadsheet or an LMS import, and a class page.

mod export;
mod gradebook;
mod gradescope;

pub use export::{Options as ExportOptions, export};
pub use gradescope::{Options as GradescopeOptions, package as gradescope};

use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::manifest::Workbook;
use crate::ui;

pub struct GradeOptions<'a> {
    pub roster: &'a Path,
    pub trusted: &'a str,
    pub assignment: Option<&'a str>,
    pub selector: Option<&'a str>,
    pub out: &'a Path,
    /// Submissions graded at once, each in a slot of its own (see `ci --slot`).
    pub jobs: usize,
}

/// One row of the roster.
#[derive(Debug, Deserialize)]
struct Student {
    student: String,
    /// A git URL or a local path.
    repository: String,
    /// A branch, tag or commit of it; its HEAD when left empty.
    #[serde(default)]
    r#ref: String,
    /// The student's login name in the LMS (Canvas's SIS Login ID, Moodle's username): with
    /// it, the gradebook has files those gradebooks import.
    #[serde(default)]
    login: String,
}

pub fn grade(workbook: &Workbook, options: &GradeOptions) -> Result<ExitCode> {
    let students = read_roster(options.roster)?;
    // Each grading runs from the workbook's root; the paths given are the instructor's own.
    let out = std::path::absolute(options.out)?;
    let options = &GradeOptions {
        out: &out,
        ..*options
    };
    let trusted = rev_parse(&workbook.root, options.trusted)
        .with_context(|| format!("--trusted {}: no such commit", options.trusted))?;
    std::fs::create_dir_all(options.out)
        .with_context(|| format!("cannot create {}", options.out.display()))?;
    // Each grading takes a free slot and gives it back. Slot 0 grades as a pull request's
    // grading does; each other slot under names of its own in the build directory (what a
    // slot builds from its own copy of the trusted tree is built once per slot).
    let jobs = options.jobs.clamp(1, students.len().max(1));
    let slots = Mutex::new((0..jobs).collect::<Vec<_>>());
    let done = AtomicUsize::new(0);
    let graded = crate::parallel::map(&students, jobs, |student| {
        let slot = slots
            .lock()
            .expect("no panic holding it")
            .pop()
            .expect("a slot per job");
        let entry = grade_one(
            workbook,
            options,
            &trusted,
            student,
            (slot > 0).then_some(slot),
        );
        slots.lock().expect("no panic holding it").push(slot);
        let progress = format!(
            "[{}/{}] {}",
            done.fetch_add(1, Ordering::Relaxed) + 1,
            students.len(),
            student.student
        );
        match &entry.result {
            Ok((results, how)) => println!(
                "{progress}: {} of {} points ({how})",
                results.score,
                results.max_score()
            ),
            Err(why) => println!("{progress}: {} {why}", ui::fail("not graded:")),
        }
        entry
    });
    let column = options
        .assignment
        .or(options.selector)
        .unwrap_or("workbook");
    let written = gradebook::write(options.out, options.assignment, column, &graded)?;
    println!(
        "wrote {} in {}",
        written.join(" and "),
        options.out.display()
    );
    let failed = graded.iter().filter(|g| g.result.is_err()).count();
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn read_roster(path: &Path) -> Result<Vec<Student>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot read the roster {}", path.display()))?;
    let mut students: Vec<Student> = Vec::new();
    for (row, student) in reader.deserialize::<Student>().enumerate() {
        let student = student.with_context(|| {
            format!(
                "{} row {}: expected the columns student,repository[,ref][,login]",
                path.display(),
                row + 2
            )
        })?;
        let name_ok = !student.student.is_empty()
            && student
                .student
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !name_ok || student.student.starts_with('.') {
            bail!(
                "{} row {}: the student {:?} needs a name of letters, digits, '.', '_' and '-' \
                 (it names a directory and a git ref)",
                path.display(),
                row + 2,
                student.student
            );
        }
        if students.iter().any(|s| s.student == student.student) {
            bail!(
                "{}: the student {:?} is listed twice",
                path.display(),
                student.student
            );
        }
        students.push(student);
    }
    Ok(students)
}

/// One student's grading: their results, and whether they were graded now or kept from before.
pub struct Graded {
    pub student: String,
    pub login: String,
    pub result: std::result::Result<(gradebook::Results, &'static str), String>,
}

fn grade_one(
    workbook: &Workbook,
    options: &GradeOptions,
    trusted: &str,
    student: &Student,
    slot: Option<usize>,
) -> Graded {
    let result = (|| -> Result<(gradebook::Results, &'static str)> {
        let submission = fetch(&workbook.root, student)?;
        let dir = options.out.join("students").join(&student.student);
        // What this grading is of: the same three again, and the results there stand.
        let key = format!(
            "trusted {trusted}\nsubmission {submission}\nassignment {}\nselector {}\n",
            options.assignment.unwrap_or("-"),
            options.selector.unwrap_or("-")
        );
        let key_file = dir.join("graded.txt");
        let results_file = dir.join("results.json");
        if std::fs::read_to_string(&key_file).is_ok_and(|k| k == key) && results_file.exists() {
            return Ok((
                gradebook::Results::read(&results_file)?,
                "kept from the last run",
            ));
        }
        let _ = std::fs::remove_file(&key_file);
        let mut ci = Command::new(std::env::current_exe()?);
        ci.current_dir(&workbook.root)
            .args([
                "ci",
                "--trusted",
                trusted,
                "--submission",
                &submission,
                "--out",
            ])
            .arg(&dir)
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_OUTPUT");
        if let Some(assignment) = options.assignment {
            ci.args(["--assignment", assignment]);
        }
        if let Some(slot) = slot {
            ci.args(["--slot", &slot.to_string()]);
        }
        ci.args(options.selector);
        let output = ci.output().context("cannot start the grader")?;
        // 0: every scene passed, 1: some did not; anything else is a grading that did not happen.
        if !matches!(output.status.code(), Some(0 | 1)) {
            let stderr = String::from_utf8_lossy(&output.stderr);
            bail!("{}", stderr.lines().last().unwrap_or("the grader stopped"));
        }
        std::fs::write(dir.join("log.txt"), &output.stdout)?;
        let results = gradebook::Results::read(&results_file)?;
        std::fs::write(&key_file, key)?;
        Ok((results, "graded"))
    })();
    Graded {
        student: student.student.clone(),
        login: student.login.clone(),
        result: result.map_err(|e| format!("{e:#}")),
    }
}

/// Fetches the student's ref into `refs/roster/<student>`; returns the commit. One fetch at a
/// time: fetches into one repository side by side contend for its files.
fn fetch(root: &Path, student: &Student) -> Result<String> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let wanted = if student.r#ref.is_empty() {
        "HEAD"
    } else {
        &student.r#ref
    };
    let local = format!("refs/roster/{}", student.student);
    let output = Command::new("git")
        .current_dir(root)
        .args([
            "fetch",
            "--quiet",
            "--no-tags",
            "--force",
            &student.repository,
        ])
        .arg(format!("{wanted}:{local}"))
        .output()
        .context("cannot start git")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!(
            "cannot fetch {wanted} of {}: {}",
            student.repository,
            stderr.lines().next().unwrap_or_default().trim()
        );
    }
    rev_parse(root, &local)
}

fn rev_parse(root: &Path, rev: &str) -> Result<String> {
    let output = Command::new("git")
        .current_dir(root)
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("{rev}^{{commit}}"))
        .output()
        .context("cannot start git")?;
    if !output.status.success() {
        bail!("{rev} is not a commit here");
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}
