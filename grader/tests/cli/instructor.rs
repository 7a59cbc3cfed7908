//! An instructor's tools: the students' repository, a gradebook from a roster, a Gradescope
//! autograder.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::classroom::{classroom_repo, crc32_that, write};
use crate::common::{classroom_turn, git, grade, stdout_of};

/// Chromium, if this machine has it; CI installs it (`.ci/run`) and says so, so that there the
/// test cannot pass without a browser.
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(PathBuf::from);
    if found.is_none() && std::env::var_os("KIT_BROWSER_REQUIRED").is_some() {
        panic!("KIT_BROWSER_REQUIRED is set, and no chromium was found");
    }
    found
}

fn branch(dir: &Path, base: &str, name: &str, crc32: &str) {
    git(dir, &["checkout", "-q", "-b", name, base]);
    write(dir, "exercises/primitives/01-crc32/src/lib.rs", crc32);
    git(dir, &["commit", "-q", "-am", name]);
}

#[test]
fn a_roster_is_graded_into_a_gradebook_and_a_class_page() {
    let _turn = classroom_turn();
    let (repo, base) = classroom_repo();
    let dir = repo.path();
    let solution =
        std::fs::read_to_string(dir.join("solutions/primitives/01-crc32/src/lib.rs")).unwrap();
    branch(dir, &base, "ada", &solution);
    branch(dir, &base, "bob", &crc32_that(""));
    git(dir, &["checkout", "-q", "--detach", &base]);
    let roster = dir.join("roster.csv");
    std::fs::write(
        &roster,
        format!(
            "student,repository,ref,login\nada,{d},ada,ada.l\nbob,{d},bob,\nzed,{d}/nowhere,main,zed.z\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let run_with = |trusted: &str, jobs: &str| {
        let output = grade(dir)
            .args(["classroom", "grade", "--roster"])
            .arg(&roster)
            .args(["--trusted", trusted, "--out", "book", "--jobs", jobs])
            .arg("primitives/crc32")
            .output()
            .unwrap();
        (output.status.code(), stdout_of(&output))
    };
    let run = || run_with(&base, "1");

    // Two at once, each in a build directory of its own: each student gets their own grade.
    let (code, log) = run_with(&base, "2");
    assert_eq!(code, Some(1), "one student could not be graded:\n{log}");
    assert!(log.contains("] ada: 10 of 10 points (graded)"), "{log}");
    assert!(log.contains("] bob: 0 of 10 points (graded)"), "{log}");
    assert!(
        log.contains("] zed: not graded: cannot fetch main"),
        "{log}"
    );
    assert!(log.contains("[3/3] "), "{log}");
    let book = dir.join("book");
    let csv = std::fs::read_to_string(book.join("grades.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("student,assignment,primitives/crc32,total,max,days late"),
        "{csv}"
    );
    assert!(lines[1].starts_with("ada,,10,10,10,0,0,"), "{csv}");
    assert!(lines[2].starts_with("bob,,0,0,10,0,0,"), "{csv}");
    assert!(lines[3].starts_with("zed,,,,,,,,cannot fetch"), "{csv}");
    // What LMS gradebooks import, for the students the roster gives a login.
    let canvas = std::fs::read_to_string(book.join("canvas.csv")).unwrap();
    assert_eq!(
        canvas,
        "Student,ID,SIS User ID,SIS Login ID,Section,primitives/crc32\n    \
         Points Possible,,,,,10\nada,,,ada.l,,10\nzed,,,zed.z,,\n"
    );
    let moodle = std::fs::read_to_string(book.join("moodle.csv")).unwrap();
    assert_eq!(
        moodle,
        "username,student,primitives/crc32\nada.l,ada,10\nzed.z,zed,\n"
    );

    // Run again: nothing changed, so nothing is graded again.
    let (_, log) = run();
    assert!(
        log.contains("[1/3] ada: 10 of 10 points (kept from the last run)"),
        "{log}"
    );
    // A new trusted commit (a fix to the checks, say; here to the README, which builds
    // nothing): everyone is graded again with it.
    git(dir, &["checkout", "-q", "--detach", &base]);
    let readme = format!(
        "{}\nFixed.\n",
        std::fs::read_to_string(dir.join("README.md")).unwrap()
    );
    write(dir, "README.md", &readme);
    git(dir, &["commit", "-q", "-am", "a fix"]);
    let (_, log) = run_with(&crate::common::classroom::head(dir), "1");
    assert!(log.contains("[1/3] ada: 10 of 10 points (graded)"), "{log}");

    let Some(browser) = chromium() else {
        eprintln!("skipped the class page: no chromium here (CI runs this test with one)");
        return;
    };
    let output = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", book.join("class.html").display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("<p id=\"counts\">2 students graded, 1 not graded.</p>"),
        "{dom}"
    );
    assert!(
        dom.contains("<td>primitives/crc32</td><td>1 of 2</td>"),
        "{dom}"
    );
    assert!(dom.contains("<li>zed: cannot fetch main"), "{dom}");
}

#[test]
fn the_gradescope_autograder_grades_a_submission_where_gradescope_puts_it() {
    let _turn = classroom_turn();
    let (repo, base) = classroom_repo();
    let dir = repo.path();
    let autograder = tempfile::tempdir().unwrap();
    let root = autograder.path();
    let source = root.join("source");
    let output = grade(dir)
        .args(["classroom", "gradescope"])
        .arg(&source)
        .args(["--trusted", &base, "primitives/crc32"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stdout_of(&output));
    assert!(source.join("setup.sh").exists() && source.join("run_autograder").exists());
    assert!(
        !source.join("solutions").exists(),
        "the references stay out"
    );
    assert!(source.join("grader/checks/primitives/01-crc32.rs").exists());
    for script in ["setup.sh", "run_autograder"] {
        let text = std::fs::read_to_string(source.join(script)).unwrap();
        assert!(text.contains("GRADING=('primitives/crc32')"), "{text}");
        let syntax = Command::new("bash")
            .arg("-n")
            .arg(source.join(script))
            .status();
        assert!(syntax.unwrap().success(), "{script} is not valid bash");
    }
    // What setup.sh does besides installing and building: the package as the trusted commit.
    git(&source, &["init", "-q"]);
    git(&source, &["add", "-A"]);
    git(&source, &["commit", "-q", "-m", "the checks"]);
    git(&source, &["tag", "trusted"]);

    // Gradescope puts a GitHub submission's files in submission/, here inside one folder.
    let submitted = root.join("submission/my-workbook/exercises/primitives/01-crc32/src");
    std::fs::create_dir_all(&submitted).unwrap();
    let solution =
        std::fs::read_to_string(dir.join("solutions/primitives/01-crc32/src/lib.rs")).unwrap();
    std::fs::write(submitted.join("lib.rs"), &solution).unwrap();
    // The grader itself is tested grading pull requests (and scrubbing: forgery.rs); here a
    // stand-in says what run_autograder asked of it and what the commit it graded holds, and
    // the scrub does not empty the build directory the other tests share.
    let grader = root.join("grader");
    std::fs::write(
        &grader,
        "#!/bin/sh\necho \"$@\" > \"$AUTOGRADER_ROOT/asked\"\n\
         git show HEAD:exercises/primitives/01-crc32/src/lib.rs > \"$AUTOGRADER_ROOT/graded.rs\"\n\
         echo '{\"score\": 10}' > \"$AUTOGRADER_ROOT/results/results.json\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&grader, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(root.join("results")).unwrap();
    let output = Command::new("bash")
        .arg(source.join("run_autograder"))
        .env("AUTOGRADER_ROOT", root)
        .env("GRADER", &grader)
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        stdout_of(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{log}");
    let asked = std::fs::read_to_string(root.join("asked")).unwrap();
    assert_eq!(
        asked.trim(),
        format!(
            "ci --scrub-checkout --trusted trusted --submission HEAD --out {} primitives/crc32",
            root.join("results").display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(root.join("graded.rs")).unwrap(),
        solution,
        "the submission's source is what was graded"
    );
}

#[test]
fn the_students_repository_holds_no_check_and_is_graded_with_the_instructors() {
    let _turn = classroom_turn();
    let (repo, base) = classroom_repo();
    let dir = repo.path();
    let class = tempfile::tempdir().unwrap();
    let students = class.path().join("students");
    let output = grade(dir)
        .args(["classroom", "export"])
        .arg(&students)
        .args(["--rev", &base, "primitives"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stdout_of(&output));
    for gone in [
        "solutions",
        "grader/tests",
        "grader/checks/primitives/01-crc32.rs",
        "grader/checks/raft",
        "exercises/raft",
        ".github/workflows/tests.yml",
    ] {
        assert!(
            !students.join(gone).exists(),
            "{gone} is in the students' copy"
        );
    }
    for kept in [
        "grader/checks/primitives/01-crc32.api.rs",
        "exercises/primitives/01-crc32/src/lib.rs",
        "hints/primitives",
        ".github/workflows/grade.yml",
    ] {
        assert!(
            students.join(kept).exists(),
            "{kept} is not in the students' copy"
        );
    }
    let manifest = std::fs::read_to_string(students.join("curriculum.toml")).unwrap();
    assert!(manifest.contains("name = \"primitives\"") && !manifest.contains("name = \"raft\""));
    // The README speaks to students: their two commands, none of the author's or instructor's.
    let readme = std::fs::read_to_string(students.join("README.md")).unwrap();
    assert!(readme.contains("git push "), "{readme}");
    for gone in [
        "cargo test",
        "For instructors",
        "cargo grade verify",
        "class's copy -->",
    ] {
        assert!(
            !readme.contains(gone),
            "{gone:?} in the students' README:\n{readme}"
        );
    }

    // A student's own grading says where grading happens, in one line.
    let output = grade(&students).args(["check", "crc32"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the checks of primitives/crc32 are not in this copy of the workbook"),
        "{stderr}"
    );

    // The student's copy starts from the template; their work is graded with the checks of
    // the instructor's repository, and nothing the template lacks counts as theirs.
    git(&students, &["add", "-A"]);
    git(&students, &["commit", "-q", "-m", "the template"]);
    let solution =
        std::fs::read_to_string(dir.join("solutions/primitives/01-crc32/src/lib.rs")).unwrap();
    write(
        &students,
        "exercises/primitives/01-crc32/src/lib.rs",
        &solution,
    );
    git(&students, &["commit", "-q", "-am", "done"]);
    git(
        dir,
        &[
            "fetch",
            "-q",
            &students.display().to_string(),
            "HEAD:refs/student",
        ],
    );
    let output = grade(dir)
        .args([
            "ci",
            "--trusted",
            &base,
            "--submission",
            "refs/student",
            "--out",
        ])
        .arg(class.path().join("out"))
        .arg("primitives/crc32")
        .env("GITHUB_STEP_SUMMARY", class.path().join("summary.md"))
        .env("GITHUB_OUTPUT", class.path().join("output.txt"))
        .output()
        .unwrap();
    let log = stdout_of(&output);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(!log.contains("not counted"), "{log}");
}
