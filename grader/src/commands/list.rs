//! `cargo grade list`: every track and scene with its state.

use std::process::ExitCode;

use anyhow::Result;

use crate::manifest::Workbook;
use crate::progress::Store;
use crate::ui;

pub fn run(workbook: &Workbook) -> Result<ExitCode> {
    let progress = Store::new(&workbook.root).load()?;
    let current = super::grade::current_scene(workbook, &progress).map(|s| s.id());
    let (mut points, mut points_total) = (0, 0);
    let (mut passed_total, mut scenes_total) = (0, 0);
    for track in &workbook.tracks {
        println!("{} {}", ui::bold(&track.title), ui::dim(&track.summary));
        for scene in workbook.scenes().filter(|s| std::ptr::eq(s.track, track)) {
            let id = scene.id();
            let state = progress.scene(&id);
            scenes_total += 1;
            points_total += scene.entry.points;
            let mark = if state.passed {
                passed_total += 1;
                points += scene.entry.points;
                ui::pass("✓ done   ")
            } else if current.as_deref() == Some(id.as_str()) {
                ui::bold("▶ current")
            } else {
                ui::dim("· locked ")
            };
            let mut notes = Vec::new();
            if state.hints_used > 0 {
                notes.push(ui::count(state.hints_used, "hint"));
            }
            match state.predicted {
                Some(p) if p.correct => notes.push("predicted right".into()),
                Some(_) => notes.push("predicted wrong".into()),
                None if state.passed => notes.push("question unanswered".into()),
                None => {}
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                ui::dim(&format!("({})", notes.join(", ")))
            };
            println!(
                "  {mark} {:<28} {} {notes}",
                scene.dir_name(),
                scene.entry.title
            );
        }
    }
    println!("\n{passed_total} of {scenes_total} scenes done, {points} of {points_total} points");
    Ok(ExitCode::SUCCESS)
}
