//! Learner code is hostile until proven otherwise: whatever it does, it gets a failing verdict
//! with one clear reason, within the time limit, and the grader carries on.

use std::time::{Duration, Instant};

use crate::common::{crate_with, crc32_checks, grade, stdout_of, workbook, workbook_turn};

/// A crate with the crc32 scene's API whose every entry point first runs `misbehaviour`.
fn submission(misbehaviour: &str) -> tempfile::TempDir {
    crate_with(&format!(
        "pub const POLYNOMIAL: u32 = 0xEDB8_8320;\n\
         pub fn crc32(bytes: &[u8]) -> u32 {{ misbehave(); bytes.len() as u32 }}\n\
         pub struct Crc32;\n\
         impl Crc32 {{\n\
             pub fn new() -> Self {{ misbehave(); Crc32 }}\n\
             pub fn update(&mut self, _: &[u8]) {{}}\n\
             pub fn finish(&self) -> u32 {{ 0 }}\n\
         }}\n\
         impl Default for Crc32 {{ fn default() -> Self {{ Self::new() }} }}\n\
         #[allow(unreachable_code, clippy::empty_loop)]\n\
         fn misbehave() {{ {misbehaviour} }}\n"
    ))
}

/// Grades `crate_dir` against the crc32 scene with a one-second limit per call.
fn verdict_on(crate_dir: &std::path::Path) -> (bool, String, Duration) {
    verdict_with(crate_dir, &["--timeout", "1"])
}

fn verdict_with(crate_dir: &std::path::Path, args: &[&str]) -> (bool, String, Duration) {
    let _turn = workbook_turn();
    let started = Instant::now();
    let output = grade(&workbook())
        .args(["check", "primitives/crc32"])
        .args(args)
        .arg("--impl")
        .arg(crate_dir)
        .output()
        .unwrap();
    (
        output.status.success(),
        stdout_of(&output),
        started.elapsed(),
    )
}

fn assert_fails_with(misbehaviour: &str, reason: &str) {
    let submission = submission(misbehaviour);
    let (passed, report, _) = verdict_on(submission.path());
    assert!(!passed, "a hostile submission passed:\n{report}");
    let n = crc32_checks();
    assert!(
        report.contains(&format!("{n} of {n} checks fail")),
        "{report}"
    );
    assert!(report.contains(reason), "expected {reason:?} in:\n{report}");
}

#[test]
fn exiting_the_process_with_success_is_a_failure() {
    assert_fails_with(
        "std::process::exit(0);",
        "the process exited before the check finished",
    );
}

#[test]
fn an_infinite_loop_times_out() {
    assert_fails_with("loop {}", "did not finish within 1 s");
}

#[test]
fn a_check_of_calls_each_slow_but_in_time_fails_as_slow() {
    // A right crc32 whose every call takes 0.3 s: no call reaches the one-second limit, but a
    // check of many calls runs out of its three seconds.
    let slow = crate_with(
        "pub const POLYNOMIAL: u32 = 0xEDB8_8320;\n\
         fn slowly() { std::thread::sleep(std::time::Duration::from_millis(300)); }\n\
         pub fn crc32(bytes: &[u8]) -> u32 { let mut c = Crc32::new(); c.update(bytes); c.finish() }\n\
         pub struct Crc32 { state: u32 }\n\
         impl Crc32 {\n\
             pub fn new() -> Self { slowly(); Crc32 { state: !0 } }\n\
             pub fn update(&mut self, bytes: &[u8]) {\n\
                 for &b in bytes { self.state ^= b as u32;\n\
                     for _ in 0..8 { self.state = if self.state & 1 == 1 { (self.state >> 1) ^ POLYNOMIAL } else { self.state >> 1 }; } }\n\
             }\n\
             pub fn finish(&self) -> u32 { !self.state }\n\
         }\n\
         impl Default for Crc32 { fn default() -> Self { Self::new() } }\n",
    );
    let (passed, report, _) = verdict_on(slow.path());
    assert!(
        !passed,
        "a submission too slow for its checks passed:\n{report}"
    );
    assert!(
        report
            .contains("the check did not finish within 3 s, though each call returned within 1 s"),
        "{report}"
    );
}

#[test]
fn a_stack_overflow_is_named() {
    assert_fails_with(
        "fn deep(n: u64) -> u64 { 1 + deep(std::hint::black_box(n + 1)) } deep(0);",
        "overflowed its stack",
    );
}

#[test]
fn an_abort_is_named() {
    assert_fails_with("std::process::abort();", "aborted");
}

#[test]
fn running_out_of_memory_is_named() {
    assert_fails_with(
        "std::hint::black_box(vec![1u8; 64 << 30]);",
        "ran out of memory",
    );
}

#[test]
fn a_panic_is_reported_with_its_message() {
    assert_fails_with("panic!(\"the disk is on fire\");", "the disk is on fire");
}

#[test]
fn printing_fake_results_passes_nothing() {
    let fake_channel_line = r#"{"token":"0","message":{"kind":"outcome","check":"the empty input has checksum 0","passed":true,"message":""}}"#;
    let submission = submission(&format!(
        "println!(\"test the standard check value ... ok\"); \
         println!(\"test result: ok. 7 passed; 0 failed\"); \
         println!(\"{{}}\", r#\"{fake_channel_line}\"#); \
         eprintln!(\"{{}}\", r#\"{fake_channel_line}\"#); \
         std::process::exit(0);"
    ));
    let (passed, report, _) = verdict_on(submission.path());
    assert!(!passed, "{report}");
    let n = crc32_checks();
    assert!(
        report.contains(&format!("{n} of {n} checks fail")),
        "{report}"
    );
}

#[test]
fn a_child_left_running_does_not_hold_the_grader() {
    let submission =
        submission("let _ = std::process::Command::new(\"sleep\").arg(\"120\").spawn();");
    let (passed, report, elapsed) = verdict_on(submission.path());
    assert!(!passed, "{report}");
    assert!(
        elapsed < Duration::from_secs(100),
        "the grader waited for the learner's child: {elapsed:?}"
    );
}

#[test]
fn a_compile_error_is_shown_with_file_and_line() {
    let submission =
        crate_with("pub fn crc32(bytes: &[u8]) -> u32 {\n    let x: u32 = \"text\";\n    x\n}\n");
    let (passed, report, _) = verdict_on(submission.path());
    assert!(!passed);
    assert!(report.contains("does not compile"), "{report}");
    assert!(report.contains("src/lib.rs:2:"), "{report}");
    assert!(
        !report.contains("Compiling"),
        "cargo's chatter leaked:\n{report}"
    );
}

#[test]
fn a_changed_signature_names_the_item_and_shows_the_stubs_signature_only() {
    let reference =
        std::fs::read_to_string(workbook().join("solutions/primitives/01-crc32/src/lib.rs"))
            .unwrap();
    let changed = reference.replace(
        "pub fn crc32(bytes: &[u8]) -> u32 {",
        "pub fn crc32(bytes: &str) -> u32 {\n    let bytes = bytes.as_bytes();",
    );
    assert_ne!(changed, reference, "the reference's signature moved");
    let submission = crate_with(&changed);
    let (passed, report, _) = verdict_on(submission.path());
    assert!(!passed);
    assert!(
        report.contains("`crc32` in your crate no longer matches the stub"),
        "{report}"
    );
    assert!(
        report.contains("pub fn crc32(bytes: &[u8]) -> u32;"),
        "{report}"
    );
    assert!(
        !report.contains("grader/checks"),
        "the checks showed:\n{report}"
    );
}

#[test]
fn the_reference_passes_and_its_verdict_is_stable() {
    let reference =
        std::fs::read_to_string(workbook().join("solutions/primitives/01-crc32/src/lib.rs"))
            .unwrap();
    let submission = crate_with(&reference);
    // With the scene's own limits: a right answer passes however busy the machine is.
    let (passed, report, _) = verdict_with(submission.path(), &[]);
    assert!(passed, "{report}");
    let n = crc32_checks();
    assert!(
        report.contains(&format!("all {n} checks pass (seeds 1, 2 and 3,")),
        "{report}"
    );
    let mut left_behind: Vec<_> = walk(submission.path());
    left_behind.sort();
    assert_eq!(
        left_behind,
        ["Cargo.toml", "src/lib.rs"],
        "grading wrote into the crate"
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.extend(walk(&path).into_iter().map(|f| format!("{name}/{f}")));
        } else {
            files.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    files
}

#[test]
fn the_environment_cannot_weaken_the_checks() {
    let reference =
        std::fs::read_to_string(workbook().join("solutions/primitives/01-crc32/src/lib.rs"))
            .unwrap();
    // Wrong for one length only: found by enough cases, missed by one.
    let subtle = reference.replace(
        "pub fn crc32(bytes: &[u8]) -> u32 {",
        "pub fn crc32(bytes: &[u8]) -> u32 {\n    if bytes.len() % 7 == 3 {\n        return 0;\n    }",
    );
    let submission = crate_with(&subtle);
    let (_, plain, _) = verdict_on(submission.path());
    let _turn = workbook_turn();
    let weakened = grade(&workbook())
        .args(["check", "primitives/crc32", "--timeout", "1", "--impl"])
        .arg(submission.path())
        .env("PROPTEST_CASES", "1")
        .env("PROPTEST_MAX_SHRINK_ITERS", "0")
        .output()
        .unwrap();
    assert!(!weakened.status.success());
    let strip_time = |report: &str| {
        report
            .lines()
            .filter(|l| !l.contains(" s)"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip_time(&plain), strip_time(&stdout_of(&weakened)));
    assert!(plain.contains("smallest failing input (shrunk)"), "{plain}");
}

#[test]
fn a_process_that_leaves_its_group_is_still_stopped() {
    let submission = submission(
        "let _ = std::process::Command::new(\"setsid\").args([\"sleep\", \"313\"]).spawn();",
    );
    let (passed, report, _) = verdict_on(submission.path());
    assert!(!passed, "{report}");
    let survivors: Vec<_> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|cmdline| cmdline == b"sleep\x00313\x00")
        .collect();
    assert!(
        survivors.is_empty(),
        "{} escaped processes still run",
        survivors.len()
    );
}

#[test]
fn a_swarm_of_processes_is_stopped_with_its_check() {
    // A fork bomb, bounded so that the machine running the test survives it.
    let submission = submission(
        "for _ in 0..100 { let _ = std::process::Command::new(\"sleep\").arg(\"101\").spawn(); } loop {}",
    );
    let (passed, report, _) = verdict_on(submission.path());
    assert!(!passed, "{report}");
    assert!(report.contains("did not finish within 1 s"), "{report}");
    let survivors = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|cmdline| cmdline == b"sleep\x00101\x00")
        .count();
    assert_eq!(survivors, 0, "processes of the swarm still run");
}

/// The bitcask scenes up to `scene` laid out as a learner has them, each with the reference's
/// sources, and `scene`'s own `src/lib.rs` replaced by `lib`.
fn bitcask_through(scene: &str, lib: &str) -> tempfile::TempDir {
    let root = workbook();
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root.join("exercises/bitcask")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.as_str() > scene {
            continue;
        }
        let target = dir.path().join("exercises/bitcask").join(&name);
        std::fs::create_dir_all(target.join("src")).unwrap();
        // The one kit the grader's own crates use too.
        let manifest = std::fs::read_to_string(
            root.join("exercises/bitcask")
                .join(&name)
                .join("Cargo.toml"),
        )
        .unwrap()
        .replace("\"../../../kit\"", &format!("{:?}", root.join("kit")));
        std::fs::write(target.join("Cargo.toml"), manifest).unwrap();
        let source = if name == scene {
            lib.to_string()
        } else {
            std::fs::read_to_string(
                root.join("solutions/bitcask")
                    .join(&name)
                    .join("src/lib.rs"),
            )
            .unwrap()
        };
        std::fs::write(target.join("src/lib.rs"), source).unwrap();
    }
    dir
}

#[test]
fn a_store_that_keeps_its_data_in_a_static_loses_it_at_the_power_cut() {
    let reference =
        std::fs::read_to_string(workbook().join("solutions/bitcask/05-recovery/src/lib.rs"))
            .unwrap();
    // Syncs nothing: it keeps every write in memory and serves reads from there. Run in one
    // process, that memory outlives every simulated power cut and this store passed the crash
    // check; a real power cut (a new subject process) loses it, as it loses the writes.
    let edits = [
        (
            "    pub fn sync(&self) -> io::Result<()> {\n        self.log.sync()\n    }",
            "    pub fn sync(&self) -> io::Result<()> {\n        Ok(())\n    }",
        ),
        (
            "        self.keydir.insert(key.to_vec(), position);\n        Ok(())",
            "        self.keydir.insert(key.to_vec(), position);\n        \
             MEMORY.lock().unwrap().push((key.to_vec(), Some(value.to_vec())));\n        Ok(())",
        ),
        (
            "        self.keydir.remove(key);\n        Ok(())",
            "        self.keydir.remove(key);\n        \
             MEMORY.lock().unwrap().push((key.to_vec(), None));\n        Ok(())",
        ),
        (
            "    pub fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {\n",
            "    pub fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {\n        \
             if let Some((_, value)) = MEMORY.lock().unwrap().iter().rev().find(|(k, _)| k == key) {\n            \
             return Ok(value.clone());\n        }\n",
        ),
        (
            "            Err(error) if error.kind() == ErrorKind::NotFound => {\n",
            "            Err(error) if error.kind() == ErrorKind::NotFound => {\n                \
             MEMORY.lock().unwrap().clear();\n",
        ),
    ];
    let mut lib = reference;
    for (from, to) in edits {
        assert!(lib.contains(from), "the reference moved: {from}");
        lib = lib.replace(from, to);
    }
    lib.push_str(
        "\nstatic MEMORY: std::sync::Mutex<Vec<(Vec<u8>, Option<Vec<u8>>)>> = \
         std::sync::Mutex::new(Vec::new());\n",
    );
    let learner = bitcask_through("05-recovery", &lib);
    let _turn = workbook_turn();
    let output = grade(&workbook())
        .args(["check", "bitcask/recovery", "--impl"])
        .arg(learner.path().join("exercises/bitcask/05-recovery"))
        .output()
        .unwrap();
    let report = stdout_of(&output);
    assert!(!output.status.success(), "{report}");
    assert!(
        report.contains("✗ a crash at any I/O step (recovery included) keeps every synced write"),
        "{report}"
    );
}
