//! `cargo grade ci` on a local repository with a base commit and a student's commit: only the
//! student's exercise sources count, every output format has its published shape, and a
//! submission cannot write its own results.

use crate::common::classroom::{classroom_repo, crc32_that, head, out_dir, run_ci, write};
use crate::common::{classroom_turn, git, grade, stdout_of};
use base64::Engine;
use serde_json::Value;

#[test]
fn only_the_students_sources_count_and_every_format_is_written() {
    let _turn = classroom_turn();
    let (repo, base) = classroom_repo();
    let dir = repo.path();
    let solution =
        std::fs::read_to_string(dir.join("solutions/primitives/01-crc32/src/lib.rs")).unwrap();
    write(
        dir,
        "exercises/primitives/01-crc32/src/lib.rs",
        &crc32_that(""),
    );
    // Attempts to pass without doing the work: weaken the checks, add a build script, change
    // the manifest. None of them may count.
    write(
        dir,
        "grader/checks/primitives/01-crc32.rs",
        "use judge::prelude::*;\npub fn suite() -> Suite { Suite::new() }\n",
    );
    write(
        dir,
        "exercises/primitives/01-crc32/build.rs",
        "fn main() {}\n",
    );
    let manifest = std::fs::read_to_string(dir.join("curriculum.toml")).unwrap();
    write(
        dir,
        "curriculum.toml",
        &manifest.replacen("format_version = 1", "format_version = 1\n# mine", 1),
    );
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "student"]);

    let (code, log) = run_ci(dir, &base);
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains(
            "not counted (outside exercises/*/*/src): grader/checks/primitives/01-crc32.rs"
        ),
        "{log}"
    );
    assert!(
        log.contains("exercises/primitives/01-crc32/build.rs"),
        "{log}"
    );
    assert!(log.contains("✗ primitives/crc32"), "{log}");
    assert!(
        log.contains("::error file=exercises/primitives/01-crc32/src/lib.rs,line="),
        "{log}"
    );
    assert!(
        log.contains("::stop-commands::"),
        "learner text must be fenced:\n{log}"
    );
    let out = out_dir(dir);
    check_summary(
        &std::fs::read_to_string(out.join("summary.md")).unwrap(),
        0,
        10,
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("step-summary.md")).unwrap(),
        std::fs::read_to_string(out.join("summary.md")).unwrap()
    );
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    check_junit(&junit);
    let results = std::fs::read_to_string(out.join("results.json")).unwrap();
    check_gradescope(&results, 0.0);
    // Every format says what did not count, not the job summary alone.
    for written in [&junit, &results] {
        assert!(
            written.contains("grader/checks/primitives/01-crc32.rs"),
            "{written}"
        );
    }
    let classroom: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("autograding.json")).unwrap())
            .unwrap();
    check_classroom(&classroom, "fail");
    let step_output = std::fs::read_to_string(dir.join("step-output.txt")).unwrap();
    let encoded = step_output
        .trim()
        .strip_prefix("result=")
        .expect("a result= line");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&decoded).unwrap(),
        classroom
    );

    // The real work, and it passes; meanwhile the instructor's side moved on, and what it changed
    // is not the student's doing.
    write(dir, "exercises/primitives/01-crc32/src/lib.rs", &solution);
    git(dir, &["commit", "-q", "-am", "done"]);
    git(dir, &["checkout", "-q", "-b", "instructor", &base]);
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    write(
        dir,
        "README.md",
        &format!("{readme}\nA note for the class.\n"),
    );
    git(dir, &["commit", "-q", "-am", "instructor"]);
    let trusted = head(dir);
    git(dir, &["checkout", "-q", "-"]);
    let (code, log) = run_ci(dir, &trusted);
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("README.md"), "{log}");
    assert!(
        log.contains("grader/checks/primitives/01-crc32.rs"),
        "{log}"
    );
    check_summary(
        &std::fs::read_to_string(out.join("summary.md")).unwrap(),
        10,
        10,
    );
    check_gradescope(
        &std::fs::read_to_string(out.join("results.json")).unwrap(),
        10.0,
    );
}

#[test]
fn a_submission_cannot_write_its_own_results() {
    let _turn = classroom_turn();
    let (repo, base) = classroom_repo();
    let dir = repo.path();
    let out = out_dir(dir);
    let fake = r#"{"score": 10, "tests": []}"#;
    // Writes a perfect score where the results go, from the learner's process and from a
    // process that leaves its group to keep writing it.
    let lib = crc32_that(&format!(
        "let path = {:?};\n\
         let _ = std::fs::write(path, {fake:?});\n\
         let _ = std::process::Command::new(\"setsid\").args([\"sh\", \"-c\", &format!(\"while true; do echo '{{}}' > {{}}; sleep 0.01; done\", {fake:?}, path)]).spawn();\n\
         println!(\"::set-output name=result::forged\");\n\
         let reference = concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/../../../solutions/primitives/01-crc32/src/lib.rs\");\n\
         println!(\"solution readable: {{}}\", std::fs::read_to_string(reference).is_ok());",
        out.join("results.json")
    ));
    write(dir, "exercises/primitives/01-crc32/src/lib.rs", &lib);
    git(dir, &["commit", "-q", "-am", "forge"]);
    let (code, log) = run_ci(dir, &base);
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("solution readable: false"), "{log}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    check_gradescope(
        &std::fs::read_to_string(out.join("results.json")).unwrap(),
        0.0,
    );
}

fn check_summary(md: &str, score: u32, max: u32) {
    assert!(
        md.starts_with(&format!("## Grade: {score} of {max} points")),
        "{md}"
    );
    assert!(
        md.contains("### primitives\n\n| scene | result | points |\n|---|---|---|\n"),
        "{md}"
    );
}

fn check_junit(xml: &str) {
    use quick_xml::events::{BytesStart, Event};
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut open: Vec<String> = Vec::new();
    let (mut cases, mut failures) = (0, 0);
    let mut check = |e: &BytesStart, parent: Option<&str>| -> String {
        let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
        let has = |key: &str| {
            e.attributes()
                .any(|a| a.unwrap().key.as_ref() == key.as_bytes())
        };
        let (expected_parent, required): (Option<&str>, &[&str]) = match name.as_str() {
            "testsuites" => (None, &["tests", "failures"]),
            "testsuite" => (Some("testsuites"), &["name", "tests", "failures"]),
            "testcase" => (Some("testsuite"), &["name", "classname"]),
            "failure" => (Some("testcase"), &["message"]),
            "properties" => (Some("testsuite"), &[]),
            "property" => (Some("properties"), &["name", "value"]),
            other => panic!("unexpected element {other}"),
        };
        assert_eq!(parent, expected_parent, "{name} in the wrong place");
        for key in required {
            assert!(has(key), "{name} lacks {key}");
        }
        cases += usize::from(name == "testcase");
        failures += usize::from(name == "failure");
        name
    };
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                let name = check(&e, open.last().map(String::as_str));
                open.push(name);
            }
            Event::Empty(e) => {
                check(&e, open.last().map(String::as_str));
            }
            Event::End(_) => {
                open.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(open.is_empty());
    assert!(cases >= 7, "{xml}");
    assert!(failures >= 1, "{xml}");
}

fn check_gradescope(json: &str, score: f64) {
    let results: Value = serde_json::from_str(json).unwrap();
    assert_eq!(results["score"].as_f64(), Some(score), "{json}");
    let tests = results["tests"].as_array().expect("tests");
    assert!(!tests.is_empty());
    for test in tests {
        assert!(test["name"].is_string() && test["output"].is_string());
        assert!(test["score"].is_number() && test["max_score"].is_number());
        assert!(matches!(test["status"].as_str(), Some("passed" | "failed")));
    }
}

fn check_classroom(result: &Value, status: &str) {
    assert_eq!(result["version"], 1);
    assert_eq!(result["status"], status);
    assert!(result["max_score"].is_number());
    for test in result["tests"].as_array().expect("tests") {
        for key in [
            "name",
            "status",
            "message",
            "line_no",
            "execution_time",
            "score",
        ] {
            assert!(test.get(key).is_some(), "a test lacks {key}: {test}");
        }
        assert!(matches!(test["status"].as_str(), Some("pass" | "fail")));
        assert!(test["line_no"].is_u64(), "line_no is not a number: {test}");
    }
}

#[test]
fn an_assignment_grades_its_scenes_at_its_points_less_the_late_penalty() {
    let _turn = classroom_turn();
    let (repo, _) = classroom_repo();
    let dir = repo.path();
    write(
        dir,
        "classroom.toml",
        "[[assignment]]\nname = \"checksums\"\nscenes = [\"primitives/crc32\"]\n\
         points = { \"primitives/crc32\" = 20 }\ndue = \"2026-01-10T00:00:00Z\"\n\
         late = { penalty_per_day = 25 }\n",
    );
    git(dir, &["add", "classroom.toml"]);
    git(dir, &["commit", "-q", "-m", "the class's assignments"]);
    let trusted = head(dir);
    let solution =
        std::fs::read_to_string(dir.join("solutions/primitives/01-crc32/src/lib.rs")).unwrap();
    write(dir, "exercises/primitives/01-crc32/src/lib.rs", &solution);
    git(dir, &["commit", "-q", "-am", "done"]);

    let output = grade(dir)
        .args(["ci", "--trusted", &trusted, "--assignment", "checksums"])
        .args(["--pushed-at", "2026-01-11T12:00:00Z", "--out"])
        .arg(out_dir(dir))
        .env("GITHUB_STEP_SUMMARY", dir.join("step-summary.md"))
        .env("GITHUB_OUTPUT", dir.join("step-output.txt"))
        .output()
        .unwrap();
    let log = stdout_of(&output);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(log.contains("grading 1 scene"), "{log}");
    assert!(
        log.contains("(pushed 2026-01-11T12:00:00Z); 2 day(s) late: 50 % off"),
        "{log}"
    );
    let out = out_dir(dir);
    check_summary(
        &std::fs::read_to_string(out.join("summary.md")).unwrap(),
        10,
        20,
    );
    check_gradescope(
        &std::fs::read_to_string(out.join("results.json")).unwrap(),
        10.0,
    );

    // An assignment the trusted commit does not have is one clear line.
    let output = grade(dir)
        .args(["ci", "--trusted", &trusted, "--assignment", "sorting"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(r#"classroom.toml has no assignment "sorting""#),
        "{stderr}"
    );
}
