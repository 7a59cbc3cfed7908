//! `cargo grade`: the workbook's grader.

mod build;
mod commands;
mod committed;
mod files;
mod grading;
mod manifest;
mod mutate;
mod parallel;
mod progress;
mod report;
mod run;
mod ui;
mod variants;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo grade",
    bin_name = "cargo grade",
    about = "Grade the workbook's scenes: with no command, the first scene not yet passed."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Re-grade the current scene on every save.
    Watch {
        /// Look for changes every second instead of waiting for file events.
        #[arg(long)]
        poll: bool,
    },
    /// Every track and scene, with its state.
    List,
    /// The next hint for a scene (the current one by default).
    Hint { scene: Option<String> },
    /// Grade one scene.
    Check {
        scene: String,
        /// Grade on this seed only, to replay a run: the same seed gives the same result
        /// (seeds 1, 2 and 3 by default, each once the one before passes).
        #[arg(long)]
        seed: Option<u64>,
        /// Grade this crate directory instead of the scene's exercise.
        #[arg(long = "impl", value_name = "DIR")]
        implementation: Option<PathBuf>,
        /// Time limit for each call into the crate, in seconds (the scene's own limit by
        /// default); a whole check gets three times as long.
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
        /// Tell every failure in full, not only the first.
        #[arg(long)]
        every_failure: bool,
    },
    /// A prompt on your own store (or the reference): write, crash, recover, and look.
    Play {
        track: String,
        /// Play with the reference solution instead of your code.
        #[arg(long)]
        reference: bool,
        /// For a playground that is a server (redis): the port it listens on, on 127.0.0.1.
        #[arg(long)]
        port: Option<u16>,
    },
    /// The reference solution of a scene you have passed.
    Solution { scene: String },
    /// Start a scene from your own code of the scene before it, not the reference the stub
    /// holds (a three-way merge; conflicts are marked for you to settle).
    Carry { scene: String },
    /// Put a scene's exercise back as it was first given.
    Reset {
        scene: String,
        /// Do not ask first.
        #[arg(long)]
        yes: bool,
    },
    /// Grade a classroom submission with the checks of a trusted commit, and write the results
    /// for CI (job summary, annotations, JUnit, Gradescope, GitHub Classroom).
    Ci {
        /// The commit whose checks, grader and manifest are trusted (a pull request's base).
        #[arg(long, value_name = "REV")]
        trusted: String,
        /// The commit to grade; only its exercises/*/*/src files count.
        #[arg(long, value_name = "REV", default_value = "HEAD")]
        submission: String,
        /// A track or a scene; everything when left out.
        #[arg(conflicts_with = "assignment")]
        selector: Option<String>,
        /// Grade an assignment of the trusted commit's classroom.toml: its scenes and points,
        /// the last commit before its deadline, its late policy.
        #[arg(long, value_name = "NAME")]
        assignment: Option<String>,
        /// When the platform says the submission was pushed (RFC 3339): the time an assignment's
        /// deadline is held to, instead of the commit's own (which the student's machine sets).
        #[arg(long, value_name = "TIME", value_parser = humantime::parse_rfc3339_weak)]
        pushed_at: Option<std::time::SystemTime>,
        /// Where to write the result files (by default `ci/out` in the build directory,
        /// target/grade unless `GRADE_TARGET_DIR` names another).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Once the checks are built, delete the references, the checks and the git objects
        /// from this checkout, so the submission's code cannot read them: for CI machines,
        /// whose checkout is thrown away after grading.
        #[arg(long)]
        scrub_checkout: bool,
        /// Grade under names of this number's own (its directories, packages and binaries), so
        /// that gradings can run side by side in one checkout (`classroom grade --jobs` does).
        #[arg(long, value_name = "N")]
        slot: Option<usize>,
    },
    /// For instructors: a whole class at once.
    #[command(subcommand)]
    Classroom(Classroom),
    /// For authors: what a call across the judge/subject boundary costs, against one process.
    Bench,
    /// The author's proof: stubs fail, solutions pass, mutants are caught, seeds replay.
    Verify {
        /// A track or a scene; everything when left out.
        selector: Option<String>,
        /// Checks to run at once (the number of cores by default).
        #[arg(long)]
        jobs: Option<usize>,
        /// Also say which checks catch each mutant.
        #[arg(long, short)]
        verbose: bool,
        /// Also run clippy, warnings denied, over the checks and the reference solutions.
        #[arg(long)]
        lint: bool,
        /// Only run clippy and rustfmt over the checks and the solutions, and grade nothing: CI
        /// runs this beside `cargo test`, whose proof then stays quick.
        #[arg(long, conflicts_with_all = ["lint", "mutate", "more_seeds"])]
        lint_only: bool,
        /// Also run each solution on this many more seeds, where every check must pass.
        #[arg(long, value_name = "N", default_value_t = 0)]
        more_seeds: u64,
        /// Also grade mutants made by machine from each solution, and list the survivors that
        /// mutants/equivalent.toml does not explain.
        #[arg(long)]
        mutate: bool,
    },
}

#[derive(Subcommand)]
enum Classroom {
    /// Grade every submission of a roster (a CSV with the columns student, repository and,
    /// optionally, ref) and write the gradebook: grades.csv and class.html. Resumable: a
    /// submission already graded with the same checks is kept.
    Grade {
        /// The roster: one row per student; the repository a git URL or a local path.
        #[arg(long, value_name = "CSV")]
        roster: PathBuf,
        /// The commit whose checks, grader and manifest are trusted.
        #[arg(long, value_name = "REV")]
        trusted: String,
        /// Grade this assignment of the trusted commit's classroom.toml.
        #[arg(long, value_name = "NAME")]
        assignment: Option<String>,
        /// A track or a scene; everything when left out.
        #[arg(conflicts_with = "assignment")]
        selector: Option<String>,
        /// Where to write the gradebook and each student's result files.
        #[arg(long, value_name = "DIR", default_value = "gradebook")]
        out: PathBuf,
        /// Submissions to grade at once (half the cores by default: each grading runs two
        /// processes, and a check's time limit must not depend on how busy the machine is).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Write the repository a class's students get into a new directory: the exercises, hints,
    /// manifest, grader and kit, without the references, the hidden checks, or the project's own
    /// tests and workflows; its grade.yml fetches the checks from this repository.
    Export {
        dir: PathBuf,
        /// Only these tracks; every track when left out.
        tracks: Vec<String>,
        /// The commit to export.
        #[arg(long, value_name = "REV", default_value = "HEAD")]
        rev: String,
    },
    /// Write a Gradescope autograder (setup.sh, run_autograder and the trusted workbook without
    /// its references) into a new directory, to zip and upload.
    Gradescope {
        dir: PathBuf,
        /// The commit whose checks, grader and manifest are trusted.
        #[arg(long, value_name = "REV", default_value = "HEAD")]
        trusted: String,
        /// Grade this assignment of the trusted commit's classroom.toml.
        #[arg(long, value_name = "NAME")]
        assignment: Option<String>,
        /// A track or a scene; everything when left out.
        #[arg(conflicts_with = "assignment")]
        selector: Option<String>,
    },
}

fn main() -> ExitCode {
    // Output piped into a reader that stops (`cargo grade list | head -1`) ends the grader
    // quietly, as it ends any Unix tool. The grader writes into no other pipe that a reader
    // could close (a judge's handshake is written before the judge starts), and what it
    // records is written atomically, so being stopped mid-way loses nothing.
    // SAFETY: setting a signal's disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    run::adopt_orphans();
    let outcome = std::env::current_dir()
        .map_err(anyhow::Error::from)
        .and_then(|dir| manifest::Workbook::discover(&dir))
        .and_then(|workbook| commands::run(&workbook, cli.command));
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{} {error:#}", ui::fail("error:"));
            ExitCode::from(2)
        }
    }
}
