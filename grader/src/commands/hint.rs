//! `cargo grade hint`: the next rung of a scene's hint ladder.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::manifest::{Scene, Workbook};
use crate::progress::Store;
use crate::ui;

/// A scene's hints, from gentlest to most telling. In the file they are separated by `---` lines.
pub fn ladder(scene: &Scene) -> Result<Vec<String>> {
    let path = scene.hints_file();
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", scene.relative(&path)))?;
    Ok(text
        .split("\n---\n")
        .map(|hint| hint.trim().to_string())
        .filter(|hint| !hint.is_empty())
        .collect())
}

pub fn run(workbook: &Workbook, query: Option<&str>) -> Result<ExitCode> {
    let store = Store::new(&workbook.root);
    let scene = match query {
        Some(query) => workbook.find(query)?,
        None => match super::grade::current_scene(workbook, &store.load()?) {
            Some(scene) => scene,
            None => bail!("every scene passes; name one to see its hints"),
        },
    };
    let hints = ladder(&scene)?;
    let shown = store.update(|p| {
        let entry = p.scenes.entry(scene.id()).or_default();
        entry.hints_used = (entry.hints_used + 1).min(hints.len());
        entry.hints_used
    })?;
    for (i, hint) in hints.iter().enumerate().take(shown) {
        println!(
            "{}\n{}\n",
            ui::bold(&format!(
                "Hint {} of {} for {}",
                i + 1,
                hints.len(),
                scene.id()
            )),
            hint
        );
    }
    if shown == hints.len() {
        println!("{}", ui::dim("That is the last hint."));
    }
    Ok(ExitCode::SUCCESS)
}
