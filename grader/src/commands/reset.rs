//! `cargo grade reset`: the exercise's files as the repository's last commit has them.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::committed;
use crate::manifest::Workbook;
use crate::progress::Store;
use crate::ui;

pub fn run(workbook: &Workbook, query: &str, yes: bool) -> Result<ExitCode> {
    let scene = workbook.find(query)?;
    let dir = scene.exercise_dir();
    let relative = scene.relative(&dir);
    if !yes {
        let question =
            format!("Put {relative} back as first given? Your code there is lost. [y/N] ");
        match ui::ask(&question) {
            Some(answer) if answer.eq_ignore_ascii_case("y") => {}
            Some(_) => return Ok(ExitCode::SUCCESS),
            None if !ui::interactive() => bail!("not a terminal: confirm with --yes"),
            None => return Ok(ExitCode::SUCCESS),
        }
    }
    let restored = restore(&workbook.root, &relative)?;
    println!("{} restored {restored} files in {relative}", ui::pass("✓"));
    if Store::new(&workbook.root).load()?.passed(&scene.id()) {
        println!(
            "Your pass of {} is kept (`cargo grade list` shows it done); grading it again \
             grades the stub.",
            scene.id()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes every file under `relative` as HEAD has it; returns how many.
fn restore(root: &Path, relative: &str) -> Result<usize> {
    let files = committed::files(root, Path::new(relative))?
        .with_context(|| format!("{relative} is not in the last commit"))?;
    for (path, content) in &files {
        let target = root.join(relative).join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, content)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    Ok(files.len())
}
