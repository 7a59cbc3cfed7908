//! `cargo grade solution`: the reference, once the learner's own version passes.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::manifest::Workbook;
use crate::progress::Store;
use crate::ui;

pub fn run(workbook: &Workbook, query: &str) -> Result<ExitCode> {
    let scene = workbook.find(query)?;
    if !Store::new(&workbook.root).load()?.passed(&scene.id()) {
        bail!(
            "{} has not passed yet; the reference is shown once yours passes (`cargo grade check {}`)",
            scene.id(),
            scene.id()
        );
    }
    let src = scene.reference_src()?;
    let mut files: Vec<_> = std::fs::read_dir(&src)
        .with_context(|| format!("cannot read {}", scene.relative(&src)))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    files.sort();
    for reference in files {
        let name = reference.file_name().expect("a file has a name");
        let yours = scene.exercise_dir().join("src").join(name);
        println!(
            "{} {}\n{} {}\n",
            ui::bold("reference:"),
            scene.relative(&reference),
            ui::bold("yours:    "),
            scene.relative(&yours)
        );
        println!("{}", std::fs::read_to_string(&reference)?);
        if let Ok(mine) = std::fs::read_to_string(&yours) {
            let reference = std::fs::read_to_string(&reference)?;
            let patch = diffy::create_patch(&mine, &reference);
            println!("{}", ui::bold("from yours to the reference:"));
            println!("{patch}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
