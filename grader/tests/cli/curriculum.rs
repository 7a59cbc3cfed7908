//! The author's proof over the whole workbook: every stub fails, every solution passes, every
//! mutant is caught, every seed replays. (Clippy over the checks and solutions is CI's own step.)

use crate::common::{grade, stdout_of, workbook};

#[test]
fn every_scene_is_proven() {
    // No turn to take: verify builds in a workspace of its own and locks it itself.
    let output = grade(&workbook()).args(["verify"]).output().unwrap();
    let report = stdout_of(&output);
    println!("{report}");
    let last = report.lines().last().unwrap_or_default();
    assert!(last.ends_with(" passed, 0 failed"), "{report}");
    assert!(output.status.success(), "{report}");
}
