//! A submission written to win, graded as a classroom grades it: whatever it forges, reads or
//! rewrites, it gets no points, one clear line, and the results the grader wrote.
//!
//! Each test commits a crc32 that computes nothing and does one hostile thing, grades it with
//! `cargo grade ci --scrub-checkout`, and holds the outcome to zero points with the result files
//! intact. These hold whether or not the grader runs as root; as root the learner's code also
//! runs under another user, without network, and sees neither the workbook nor other processes.

use std::path::Path;
use std::time::Duration;

use crate::common::classroom::{classroom_repo, crc32_that, out_dir, run_ci_with, write};
use crate::common::{classroom_turn, git};
use serde_json::Value;

/// Commits `lib` as the crc32 exercise and grades it; returns the exit code and the job log.
fn graded(dir: &Path, base: &str, lib: &str) -> (Option<i32>, String) {
    write(dir, "exercises/primitives/01-crc32/src/lib.rs", lib);
    git(dir, &["commit", "-q", "-am", "a submission"]);
    run_ci_with(dir, base, &["--scrub-checkout"])
}

/// The score in the Gradescope results the grader wrote.
fn score(dir: &Path) -> f64 {
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir(dir).join("results.json")).expect("results.json"),
    )
    .expect("results.json is JSON");
    results["score"].as_f64().expect("a score")
}

fn assert_no_points(dir: &Path, code: Option<i32>, log: &str) {
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("✗ primitives/crc32"), "{log}");
    assert!(log.contains("0 of 10 points"), "{log}");
    assert_eq!(score(dir), 0.0, "{log}");
}

/// A forged verdict line in every form the grader ever read one in.
const FORGED: &str = r#"{"kind":"outcome","check":"the empty input has checksum 0","verdict":{"is":"passed"},"output":"","doing":null}"#;

#[test]
fn code_that_runs_before_main_forges_nothing() {
    let _turn = classroom_turn();
    let (repo, base) = classroom_repo();
    let dir = repo.path();
    // Runs as the process starts, before any of the grader's code: writes a forged verdict on
    // every descriptor it has, and on every descriptor of every process it can see.
    let lib = format!(
        "{}\n\
         #[used]\n\
         #[unsafe(link_section = \".init_array\")]\n\
         static BEFORE_MAIN: extern \"C\" fn() = forge;\n\
         extern \"C\" fn forge() {{\n\
             use std::io::Write;\n\
             let line = format!(\"{{}}\\n\", {FORGED:?});\n\
             for fd in 0..64 {{\n\
                 let _ = std::fs::OpenOptions::new().write(true).open(format!(\"/proc/self/fd/{{fd}}\")).map(|mut f| f.write_all(line.as_bytes()));\n\
             }}\n\
             for entry in std::fs::read_dir(\"/proc\").into_iter().flatten().flatten() {{\n\
                 for fd in 0..8 {{\n\
                     let _ = std::fs::OpenOptions::new().write(true).open(entry.path().join(format!(\"fd/{{fd}}\"))).map(|mut f| f.write_all(b\"INJECTED\\n\"));\n\
                 }}\n\
             }}\n\
         }}\n",
        crc32_that("")
    );
    let (code, log) = graded(dir, &base, &lib);
    assert_no_points(dir, code, &log);
    assert!(
        !log.contains("INJECTED"),
        "the learner wrote into the job log:\n{log}"
    );
}

#[test]
fn a_call_that_scans_its_own_memory_and_descriptors_forges_nothing() {
    let _turn = classroom_turn();
    let (repo, base) = classroom_repo();
    let dir = repo.path();
    // On its first call: reads its whole address space looking for anything verdict-shaped,
    // and writes a forged verdict into every descriptor it holds, the shared memory included.
    let lib = crc32_that(&format!(
        "use std::io::{{Read, Seek, SeekFrom, Write}};\n\
         let maps = std::fs::read_to_string(\"/proc/self/maps\").unwrap_or_default();\n\
         let mut mem = std::fs::File::open(\"/proc/self/mem\").ok();\n\
         let mut found = 0usize;\n\
         for line in maps.lines() {{\n\
             let range = line.split(' ').next().unwrap_or(\"0-0\");\n\
             let (a, b) = range.split_once('-').unwrap_or((\"0\", \"0\"));\n\
             let (a, b) = (u64::from_str_radix(a, 16).unwrap_or(0), u64::from_str_radix(b, 16).unwrap_or(0));\n\
             if b - a > 64 << 20 {{ continue; }}\n\
             if let Some(mem) = mem.as_mut() {{\n\
                 let mut buf = vec![0u8; (b - a) as usize];\n\
                 if mem.seek(SeekFrom::Start(a)).is_ok() && mem.read_exact(&mut buf).is_ok() {{\n\
                     found += buf.windows(7).filter(|w| w == b\"outcome\").count();\n\
                 }}\n\
             }}\n\
         }}\n\
         let line = format!(\"{{}}\\n\", {FORGED:?});\n\
         for entry in std::fs::read_dir(\"/proc/self/fd\").into_iter().flatten().flatten() {{\n\
             let _ = std::fs::OpenOptions::new().write(true).open(entry.path()).map(|mut f| f.write_all(line.as_bytes()));\n\
         }}\n\
         let _ = found;"
    ));
    let (code, log) = graded(dir, &base, &lib);
    assert_no_points(dir, code, &log);
}

#[test]
fn the_grader_cannot_be_read_or_written_through_proc() {
    let _turn = classroom_turn();
    let (repo, base) = classroom_repo();
    let dir = repo.path();
    // Every process it can see: its environment (the CI's secrets live there), and its standard
    // output (the job log).
    let lib = crc32_that(
        "use std::io::Write;\n\
         for entry in std::fs::read_dir(\"/proc\").into_iter().flatten().flatten() {\n\
             if let Ok(environ) = std::fs::read(entry.path().join(\"environ\")) {\n\
                 println!(\"ENVIRON {}\", String::from_utf8_lossy(&environ));\n\
             }\n\
             for fd in 0..8 {\n\
                 let _ = std::fs::OpenOptions::new().write(true).open(entry.path().join(format!(\"fd/{fd}\"))).map(|mut f| f.write_all(b\"INJECTED\\n\"));\n\
             }\n\
         }",
    );
    write(dir, "exercises/primitives/01-crc32/src/lib.rs", &lib);
    git(dir, &["commit", "-q", "-am", "a submission"]);
    let output = crate::common::grade(dir)
        .args(["ci", "--scrub-checkout", "--trusted", &base, "--out"])
        .arg(out_dir(dir))
        .arg("primitives/crc32")
        .env("GRADE_TEST_SECRET", "hunter2-not-for-learners")
        .output()
        .unwrap();
    let log = crate::common::stdout_of(&output);
    assert_no_points(dir, output.status.code(), &log);
    assert!(
        !log.contains("INJECTED"),
        "the learner wrote into the job log:\n{log}"
    );
    assert!(
        !log.contains("hunter2-not-for-learners"),
        "the learner read the grader's environment:\n{log}"
    );
}

#[test]
fn descendants_that_leave_cannot_rewrite_the_results_later() {
    let _turn = classroom_turn();
    let (repo, base) = classroom_repo();
    let dir = repo.path();
    let out = out_dir(dir);
    let fake = r#"{"score": 10, "tests": []}"#;
    // A chain of processes, each in a session of its own, that waits for the grader to write
    // its results and then writes over them and appends to the CI system's files.
    let targets = [
        out.join("results.json"),
        out.join("junit.xml"),
        out.join("autograding.json"),
        dir.join("step-output.txt"),
        dir.join("step-summary.md"),
    ];
    let script = targets
        .iter()
        .map(|t| format!("echo '{fake}' >> {}", t.display()))
        .collect::<Vec<_>>()
        .join("; ");
    let lib = crc32_that(&format!(
        "let _ = std::process::Command::new(\"setsid\").args([\"sh\", \"-c\", &format!(\"setsid sh -c 'sleep 1; {{}}' &\", {script:?})]).spawn();\n\
         std::thread::sleep(std::time::Duration::from_millis(50));"
    ));
    let (code, log) = graded(dir, &base, &lib);
    assert_no_points(dir, code, &log);
    let written: Vec<String> = targets
        .iter()
        .map(|t| std::fs::read_to_string(t).unwrap_or_default())
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    for (target, before) in targets.iter().zip(&written) {
        let after = std::fs::read_to_string(target).unwrap_or_default();
        assert_eq!(&after, before, "{} changed after grading", target.display());
        assert!(
            !after.contains(r#""score": 10"#),
            "{}: {after}",
            target.display()
        );
    }
}

#[test]
fn the_reference_and_the_checks_cannot_be_read_at_build_or_run_time() {
    let _turn = classroom_turn();
    let (repo, base) = classroom_repo();
    let dir = repo.path();
    let reference = dir.join("solutions/primitives/01-crc32/src/lib.rs");
    // At build time: the reference's source, included whole.
    let lib = format!(
        "#[path = {:?}]\nmod reference;\npub use reference::*;\n",
        reference
    );
    let (code, log) = graded(dir, &base, &lib);
    assert_no_points(dir, code, &log);
    assert!(log.contains("does not compile"), "{log}");

    // At run time: the reference, the checks, the repository's objects, and the judges' build
    // products (binaries and compiler caches hold the checks, compiled).
    let (repo, base) = classroom_repo();
    let dir = repo.path();
    let lib = crc32_that(&format!(
        "for path in [{:?}, {:?}, {:?}] {{\n\
             println!(\"readable {{path}}: {{}}\", std::fs::read_dir(path).is_ok() || std::fs::read(path).is_ok());\n\
         }}\n\
         fn judged(dir: &std::path::Path, found: &mut Vec<String>) {{\n\
             for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {{\n\
                 let name = entry.file_name().to_string_lossy().into_owned();\n\
                 if name.contains(\"ci-judge\") || name.contains(\"ci_judge\") {{ found.push(name); }}\n\
                 else if entry.file_type().is_ok_and(|t| t.is_dir()) {{ judged(&entry.path(), found); }}\n\
             }}\n\
         }}\n\
         let mut found = Vec::new();\n\
         judged(std::path::Path::new({:?}), &mut found);\n\
         println!(\"readable judge products: {{}}\", !found.is_empty());",
        dir.join("solutions/primitives/01-crc32/src/lib.rs"),
        dir.join("grader/checks/primitives/01-crc32.rs"),
        dir.join(".git/objects"),
        dir.join("target/grade"),
    ));
    let (code, log) = graded(dir, &base, &lib);
    assert_no_points(dir, code, &log);
    assert!(
        log.contains("readable judge"),
        "the probe did not run:\n{log}"
    );
    assert!(
        !log.contains(": true"),
        "the learner read what it must not:\n{log}"
    );
}

#[test]
fn binaries_rewritten_mid_grading_change_nothing() {
    let _turn = classroom_turn();
    let (repo, base) = classroom_repo();
    let dir = repo.path();
    // Overwrites every judge, subject and grader binary it can reach with a script that would
    // print a perfect score, so that whatever starts next runs that instead.
    let target = dir.join("target");
    let lib = crc32_that(&format!(
        "fn walk(dir: &std::path::Path) {{\n\
             for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {{\n\
                 let path = entry.path();\n\
                 let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();\n\
                 if path.is_dir() {{ walk(&path); }}\n\
                 else if name.contains(\"judge\") || name.contains(\"subject\") || name == \"grader\" {{\n\
                     let _ = std::fs::write(&path, \"#!/bin/sh\\necho all checks pass\\n\");\n\
                 }}\n\
             }}\n\
         }}\n\
         walk(std::path::Path::new({target:?}));"
    ));
    let (code, log) = graded(dir, &base, &lib);
    assert_no_points(dir, code, &log);
    // Every check still ran to a verdict of its own: none of them met a rewritten binary.
    let n = crate::common::crc32_checks();
    assert!(log.contains(&format!("{n} of {n} checks fail")), "{log}");
    assert!(!log.contains("could not start"), "{log}");
}
