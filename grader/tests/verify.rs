//! The author's proof over the whole workbook: every stub fails, every solution passes, every
//! mutant is caught, every seed replays, and clippy is content with the checks and solutions.

mod common;

use common::{grade, one_at_a_time, stdout_of, workbook};

#[test]
fn every_scene_is_proven() {
    let _turn = one_at_a_time();
    let output = grade(&workbook())
        .args(["verify", "--lint"])
        .output()
        .unwrap();
    let report = stdout_of(&output);
    println!("{report}");
    let last = report.lines().last().unwrap_or_default();
    assert!(last.ends_with(" passed, 0 failed"), "{report}");
    assert!(output.status.success(), "{report}");
}
