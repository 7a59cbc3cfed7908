//! The learner's loop from the outside: manifest and progress errors, hints, list, reset, and
//! what a first run shows.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{crate_with, grade, scratch_workbook, stdout_of, workbook, workbook_turn};
use predicates::prelude::*;

#[test]
fn a_first_run_shows_the_stub_failing_with_a_way_forward() {
    // The stub as committed: the working file may hold the learner's own solution.
    let stub = crate::common::committed("exercises/primitives/01-crc32/src/lib.rs");
    let submission = crate_with(&stub);
    let _turn = workbook_turn();
    let output = grade(&workbook())
        .args(["check", "crc32", "--impl"])
        .arg(submission.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report = stdout_of(&output);
    assert!(report.contains("reached a todo!() at"), "{report}");
    assert!(report.contains("src/lib.rs:"), "{report}");
    assert!(
        report.contains("replay: cargo grade check primitives/crc32 --seed 1 --impl"),
        "{report}"
    );
    assert!(
        !report.contains('\x1b'),
        "colour without a terminal:\n{report}"
    );
}

#[test]
fn two_gradings_of_one_scene_at_once_each_grade_their_own_crate() {
    // One build directory per scene: without a lock, the second build could replace the
    // first's crate before the first ran it, and a stub would pass as the reference.
    let stub = crate_with(&crate::common::committed(
        "exercises/primitives/01-crc32/src/lib.rs",
    ));
    let reference = crate_with(&crate::common::committed(
        "solutions/primitives/01-crc32/src/lib.rs",
    ));
    let _turn = workbook_turn();
    let graded: Vec<(Option<i32>, String)> = std::thread::scope(|scope| {
        let runs: Vec<_> = [stub.path(), reference.path()]
            .into_iter()
            .map(|submission| {
                scope.spawn(move || {
                    let output = grade(&workbook())
                        .args(["check", "crc32", "--impl"])
                        .arg(submission)
                        .output()
                        .unwrap();
                    (output.status.code(), stdout_of(&output))
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    assert_eq!(graded[0].0, Some(1), "the stub: {}", graded[0].1);
    assert_eq!(graded[1].0, Some(0), "the reference: {}", graded[1].1);
}

#[test]
fn a_broken_manifest_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("curriculum.toml"),
        "format_version = 1\n[[tracks]\n",
    )
    .unwrap();
    let output = grade(dir.path()).arg("list").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("curriculum.toml is not valid: line 2"),
        "{stderr}"
    );
}

#[test]
fn a_manifest_from_the_future_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("curriculum.toml"), "format_version = 9\n").unwrap();
    grade(dir.path())
        .arg("list")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("format_version 9"));
}

#[test]
fn outside_a_workbook_the_grader_says_so() {
    let dir = tempfile::tempdir().unwrap();
    grade(dir.path())
        .arg("list")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no curriculum.toml"));
}

#[test]
fn an_unknown_scene_is_named() {
    grade(&workbook())
        .args(["check", "no-such-scene"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no scene is called \"no-such-scene\"",
        ));
}

#[test]
fn hints_come_one_rung_at_a_time_and_are_remembered() {
    let book = scratch_workbook();
    grade(book.path())
        .args(["hint", "crc32"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Hint 1 of 3").and(predicate::str::contains("Hint 2").not()),
        );
    grade(book.path())
        .args(["hint", "crc32"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Hint 2 of 3"));
    grade(book.path())
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("2 hints"));
}

#[test]
fn a_damaged_progress_file_is_reported_and_kept() {
    let book = scratch_workbook();
    let progress = book.path().join(".grade-progress.toml");
    std::fs::write(&progress, "format_version = 1\nscenes = 7\n").unwrap();
    grade(book.path()).arg("list").assert().code(2).stderr(
        predicate::str::contains("is damaged")
            .and(predicate::str::contains("mv .grade-progress.toml")),
    );
    grade(book.path()).args(["hint", "crc32"]).assert().code(2);
    assert_eq!(
        std::fs::read_to_string(&progress).unwrap(),
        "format_version = 1\nscenes = 7\n"
    );
}

#[test]
fn a_progress_file_that_is_not_text_is_damaged_like_any_other() {
    let book = scratch_workbook();
    let progress = book.path().join(".grade-progress.toml");
    std::fs::write(&progress, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    grade(book.path()).arg("list").assert().code(2).stderr(
        predicate::str::contains("is damaged (it is not text)")
            .and(predicate::str::contains("mv .grade-progress.toml")),
    );
    assert_eq!(std::fs::read(&progress).unwrap(), [0xff, 0xfe, 0x00, 0x80]);
}

#[test]
fn killing_the_grader_mid_write_never_damages_progress() {
    let book = scratch_workbook();
    let grader = assert_cmd::cargo::cargo_bin("grader");
    for round in 0..60u64 {
        let mut child = Command::new(&grader)
            .args(["hint", "crc32"])
            .current_dir(book.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kills over the command's whole life, from start-up to the rename.
        std::thread::sleep(Duration::from_micros(round * 97 % 4000));
        let _ = child.kill();
        child.wait().unwrap();
        grade(book.path()).arg("list").assert().success();
    }
}

#[test]
fn list_shows_where_the_learner_is() {
    let book = scratch_workbook();
    grade(book.path()).arg("list").assert().success().stdout(
        predicate::str::contains("▶ current 01-crc32")
            .and(predicate::str::contains("· locked  02-"))
            .and(predicate::str::contains("0 of ")),
    );
}

#[test]
fn output_piped_into_a_reader_that_stops_ends_quietly() {
    // `cargo grade list | head -1`, at its worst: the reader is gone before the first line.
    use std::os::unix::process::ExitStatusExt;
    let book = scratch_workbook();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(assert_cmd::cargo::cargo_bin("grader"))
        .arg("list")
        .current_dir(book.path())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.is_empty(), "the grader complained:\n{stderr}");
    const SIGPIPE: i32 = 13;
    assert_eq!(output.status.signal(), Some(SIGPIPE), "{:?}", output.status);
}

#[test]
fn the_solution_stays_hidden_until_the_scene_passes() {
    let book = scratch_workbook();
    grade(book.path())
        .args(["solution", "crc32"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("has not passed yet"));
}

#[test]
fn reset_restores_the_committed_stub() {
    let book = scratch_workbook();
    let exercise = book.path().join("exercises/primitives/01-crc32");
    crate::common::copy_tree(&workbook().join("exercises/primitives/01-crc32"), &exercise);
    crate::common::git(book.path(), &["init", "-q"]);
    crate::common::git(book.path(), &["add", "."]);
    crate::common::git(book.path(), &["commit", "-q", "-m", "stubs"]);
    let lib = exercise.join("src/lib.rs");
    let stub = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, "// my attempt\n").unwrap();

    grade(book.path())
        .args(["reset", "crc32"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--yes"));
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), "// my attempt\n");

    grade(book.path())
        .args(["reset", "crc32", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains("is kept").not());
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), stub);

    // A passed scene stays passed, and says so; list agrees.
    std::fs::write(
        book.path().join(".grade-progress.toml"),
        "format_version = 1\n[scenes.\"primitives/crc32\"]\npassed = true\n",
    )
    .unwrap();
    grade(book.path())
        .args(["reset", "crc32", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Your pass of primitives/crc32 is kept",
        ));
    grade(book.path())
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("✓ done    01-crc32"));
}

#[test]
fn the_playground_shows_a_torn_write_cut_on_recovery() {
    let _turn = workbook_turn();
    let script = "put a\nmerge\nput a 1\nsync\nbig c 700\ncrash\nrecover\nget a\nget c\nquit\n";
    let output = grade(&workbook())
        .args(["play", "bitcask", "--reference"])
        .write_stdin(script)
        .output()
        .unwrap();
    let shown = stdout_of(&output);
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("incomplete record (a torn tail)"), "{shown}");
    assert!(
        shown.contains("recovery cut 000001.log from 727 to 14 bytes"),
        "{shown}"
    );
    assert!(shown.contains("bitcask> \"1\"\nbitcask> (none)"), "{shown}");
    // A command without its arguments says how it is called; a merge with nothing to merge
    // says why it did nothing.
    assert!(shown.contains("usage: put KEY VALUE"), "{shown}");
    assert!(shown.contains("nothing to merge"), "{shown}");
}

#[test]
fn the_raft_playground_runs_a_cluster_that_survives_a_crash() {
    let _turn = workbook_turn();
    // A real clock: the script gives the cluster time to elect, and the requests retry.
    let script = "put a 1\nkill 0\nappend a 2\nget a\nquit\n";
    let output = grade(&workbook())
        .args(["play", "raft", "--reference"])
        .write_stdin(script)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let shown = stdout_of(&output);
    assert!(output.status.success(), "{shown}");
    assert_eq!(shown.matches("ok (through node").count(), 2, "{shown}");
    assert!(shown.contains("node 0 is down"), "{shown}");
    assert!(shown.contains("\"12\" (from node"), "{shown}");
}

#[test]
fn a_solved_scene_leaves_the_proof_green() {
    // The learner's own crc32 in exercises/: the proof still grades the stub as committed.
    let _turn = crate::common::classroom_turn();
    let repo = workbook_with_crc32_solved();
    let output = grade(repo.path())
        .args(["verify", "primitives/crc32"])
        .output()
        .unwrap();
    let report = stdout_of(&output);
    assert!(output.status.success(), "{report}");
    assert!(
        report
            .contains("note: exercises/primitives/01-crc32/src differs from its stub as committed"),
        "{report}"
    );
}

#[test]
fn watch_goes_on_to_the_next_scene_and_keeps_what_the_pass_said() {
    let _turn = crate::common::classroom_turn();
    let repo = workbook_with_crc32_solved();
    let grader = assert_cmd::cargo::cargo_bin("grader");
    let mut watch = Command::new(grader)
        .arg("watch")
        .current_dir(repo.path())
        .env("NO_COLOR", "1")
        // As `grade` builds, so that the two reuse each other's builds in this copy.
        .env("CARGO_INCREMENTAL", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Watch never ends by itself: read until it waits on the next scene, then stop it.
    let stdout = watch.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut seen = String::new();
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            seen.push_str(&line);
            seen.push('\n');
            if seen.contains("primitives/varint") && line.contains("watching for changes") {
                break;
            }
        }
        seen
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = watch.kill();
    let _ = watch.wait();
    let seen = reader.join().unwrap();
    let next = seen.find("Next: primitives/varint").expect(&seen);
    assert!(seen[next..].contains("watch grades it below"), "{seen}");
    // The pass, the prediction and the way on stay above the next scene's first grading.
    let divider = seen.find("────────").expect(&seen);
    assert!(seen.find("Predict:").expect(&seen) < divider, "{seen}");
    assert!(next < divider, "{seen}");
    assert!(seen[divider..].contains("primitives/varint"), "{seen}");
}

/// A copy of the workbook (sharing the classroom tests' build cache) whose learner has solved
/// crc32 with the reference; one for the tests that build in it, which take the classroom turn.
fn workbook_with_crc32_solved() -> crate::common::classroom::Repo {
    let (repo, _) = crate::common::classroom::classroom_repo_named("crc32-solved");
    let solution =
        std::fs::read_to_string(workbook().join("solutions/primitives/01-crc32/src/lib.rs"))
            .unwrap();
    std::fs::write(
        repo.path().join("exercises/primitives/01-crc32/src/lib.rs"),
        solution,
    )
    .unwrap();
    repo
}

/// Writes `lib` as the learner's raft/terms and records that scene passed.
fn learner_terms(repo: &std::path::Path, lib: &str) {
    std::fs::write(repo.join("exercises/raft/01-terms/src/lib.rs"), lib).unwrap();
    std::fs::write(
        repo.join(".grade-progress.toml"),
        "format_version = 1\n\n[scenes.\"raft/terms\"]\npassed = true\n",
    )
    .unwrap();
}

#[test]
fn carry_walks_a_learners_own_terms_into_election() {
    let (repo, _) = crate::common::classroom::classroom_repo();
    let reference =
        std::fs::read_to_string(workbook().join("solutions/raft/01-terms/src/lib.rs")).unwrap();
    let role = "    pub fn role(&self) -> Role {\n        self.role\n    }\n";
    assert!(reference.contains(role));
    let helper = "\n    /// Mine: whether this node follows.\n    fn is_follower(&self) -> bool {\n        self.role == Role::Follower\n    }\n";
    let own = reference.replacen(role, &format!("{role}{helper}"), 1);

    grade(repo.path())
        .args(["carry", "raft/election"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("pass raft/terms first"));
    learner_terms(repo.path(), &own);
    let output = grade(repo.path())
        .args(["carry", "raft/election"])
        .output()
        .unwrap();
    let said = stdout_of(&output);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains("raft/election now starts from your own raft/terms"),
        "{said}"
    );
    let election = repo.path().join("exercises/raft/02-election/src/lib.rs");
    let merged = std::fs::read_to_string(&election).unwrap();
    assert!(merged.contains(helper), "{merged}");
    assert!(
        merged.contains("fn majority(&self) -> usize {\n        todo!()"),
        "{merged}"
    );
    assert!(!merged.contains("<<<<<<<"), "{merged}");
    // Carrying never merges over what is there now.
    grade(repo.path())
        .args(["carry", "raft/election"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "is not the stub as given any more",
        ));

    // A learner whose on_timer differs where election changes it gets the two side by side.
    grade(repo.path())
        .args(["reset", "raft/election", "--yes"])
        .assert()
        .success();
    let timer = "                if generation == self.election_generation {\n";
    assert!(own.contains(timer));
    let mine = "                if self.election_generation == generation {\n";
    learner_terms(repo.path(), &own.replacen(timer, mine, 1));
    let output = grade(repo.path())
        .args(["carry", "raft/election"])
        .output()
        .unwrap();
    let said = stdout_of(&output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains("src/lib.rs: 1 place"), "{said}");
    let merged = std::fs::read_to_string(&election).unwrap();
    assert!(merged.contains("<<<<<<< election's stub"), "{merged}");
    assert!(merged.contains(">>>>>>> your terms"), "{merged}");
    assert!(merged.contains(mine), "{merged}");
    assert!(merged.contains(helper), "{merged}");
}

#[test]
fn the_redis_playground_serves_real_clients_on_the_port_asked_for() {
    use std::io::{BufRead, BufReader, Read, Write};

    let _turn = workbook_turn();
    // A port free a moment ago: the playground binds it itself.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut play = Command::new(assert_cmd::cargo::cargo_bin("grader"))
        .args(["play", "redis", "--reference", "--port", &port.to_string()])
        .current_dir(workbook())
        .env("NO_COLOR", "1")
        .env("CARGO_INCREMENTAL", "0")
        .env("GRADE_TARGET_DIR", "target/grade-tests")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut prompt = play.stdin.take().unwrap();
    let mut shown = BufReader::new(play.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("listens on") {
        line.clear();
        assert_ne!(
            shown.read_line(&mut line).unwrap(),
            0,
            "the playground ended early"
        );
    }
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");

    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut pong = [0u8; 7];
    client.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"+PONG\r\n");

    prompt.write_all(b"clients\nquit\n").unwrap();
    let mut rest = String::new();
    shown.read_to_string(&mut rest).unwrap();
    assert!(play.wait().unwrap().success(), "{rest}");
    assert!(rest.contains("1 client connected"), "{rest}");
    assert!(rest.contains("server stopped"), "{rest}");
}

#[test]
fn the_btree_playground_runs_sql_draws_a_table_tree_and_recovers_after_a_crash() {
    let _turn = workbook_turn();
    let script = "CREATE TABLE t (a INTEGER, b TEXT)\n\
                  INSERT INTO t VALUES (1, 'one'), (2, 'two'), (-5, NULL)\n\
                  SELECT * FROM t ORDER BY a\nSELECT COUNT(*), SUM(a) FROM t\n\
                  .explain SELECT b FROM t WHERE a > 1\n.pages\n.tree table-1\n.crash\n\
                  .recover\nSELECT b FROM t WHERE a = 2\nSELEC x\n.quit\n";
    let output = grade(&workbook())
        .args(["play", "btree", "--reference"])
        .write_stdin(script)
        .output()
        .unwrap();
    let shown = stdout_of(&output);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("sql> -5 | NULL\n1 | one\n2 | two"),
        "{shown}"
    );
    assert!(shown.contains("sql> 3 | -2"), "{shown}");
    assert!(shown.contains("Scan t"), "{shown}");
    assert!(
        shown.contains("table-1       2 pages of 1024 bytes, 0 bytes not yet synced"),
        "{shown}"
    );
    assert!(shown.contains("page 1 leaf: 3 keys [1 .. 3]"), "{shown}");
    assert!(shown.contains("the database is open again"), "{shown}");
    assert!(shown.contains("sql> two\n"), "{shown}");
    assert!(shown.contains("error: Syntax:"), "{shown}");
}

#[test]
fn the_lsm_playground_recovers_after_a_crash_compacts_a_load_and_compares_strategies() {
    let _turn = workbook_turn();
    let script = "put a 1\nput b 2\ndel a\nflush\nput c 3\ncrash\nrecover\nget b\nget a\nget c\n\
                  show\nload 300\ncompact\ncompare 300\nput x\nquit\n";
    let output = grade(&workbook())
        .args(["play", "lsm", "--reference"])
        .write_stdin(script)
        .output()
        .unwrap();
    let shown = stdout_of(&output);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("the memtable is now table 000002.sst"),
        "{shown}"
    );
    assert!(shown.contains("recovered: 1 tables, last seq 4"), "{shown}");
    // b from the table, a deleted by a tombstone in it, c replayed from the log.
    assert!(
        shown.contains("lsm> \"2\"\nlsm> (none)\nlsm> \"3\""),
        "{shown}"
    );
    assert!(shown.contains("MANIFEST: 2 records"), "{shown}");
    assert!(shown.contains("L0:  000002.sst"), "{shown}");
    // A load of 300 keys fills level 0 again and again: flushes compact into deeper levels,
    // and the database's own count of the cost agrees with the disk's.
    assert!(shown.contains("levels now L0 2, L1 3, L2 12"), "{shown}");
    assert!(
        shown.contains("write amplification 9.32  (bytes written"),
        "{shown}"
    );
    assert!(
        shown.contains("the database's own stats(), since it opened: write 9.32"),
        "{shown}"
    );
    assert!(shown.contains("nothing to compact"), "{shown}");
    // The same load on both strategies: tiered writes less.
    assert!(shown.contains("  leveled     6.51"), "{shown}");
    assert!(shown.contains("  tiered      4.72"), "{shown}");
    assert!(shown.contains("usage: put KEY VALUE"), "{shown}");
}
