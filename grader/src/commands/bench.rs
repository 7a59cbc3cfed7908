//! `cargo grade bench`: what crossing the judge/subject boundary costs, measured against the
//! same work in one process, in one run (`benches/boundary/`).

use std::process::ExitCode;

use anyhow::{Context, Result};

use super::exit_code;
use crate::build::{self, Api, CrateRef, Entry, JudgeSpec, SubjectSpec};
use crate::manifest::Workbook;
use crate::run::{self, Binary};
use crate::ui;

pub fn run(workbook: &Workbook) -> Result<ExitCode> {
    let dir = workbook.root.join("benches/boundary");
    let api = Api {
        declaration: dir.join("fixtures.api.rs"),
        crate_name: "fixtures".into(),
    };
    let judge = JudgeSpec {
        package: "bench-judge".into(),
        entry: Entry::Playground(dir.join("main.rs")),
        apis: vec![api.clone()],
        kit_features: Vec::new(),
        optimised: true,
    };
    let subject = SubjectSpec {
        package: "bench-subject".into(),
        apis: vec![api],
        variants: vec![vec![CrateRef {
            dir: dir.join("fixtures"),
            package: "fixtures".into(),
        }]],
    };
    println!("{}", ui::dim("building the benchmark..."));
    let display = build::Display {
        colour: ui::colour(),
        progress: ui::shows_progress(),
    };
    let work = crate::build::work_dir(&workbook.root, "bench");
    let mut built = build::build(
        &workbook.root,
        &work,
        std::slice::from_ref(&judge),
        std::slice::from_ref(&subject),
        &[],
        display,
    )?;
    let judge = built.judges.remove(&judge.package).expect("built");
    let subject = built.subjects.remove(&subject.package).expect("built");
    let (judge, subject) = match (judge, subject) {
        (Ok(judge), Ok(subject)) => (Binary::load(&judge)?, Binary::load(&subject)?),
        (Err(failure), _) | (_, Err(failure)) => {
            anyhow::bail!(
                "the benchmark does not build:\n{}",
                failure.errors.join("\n")
            )
        }
    };
    let containment = run::containment::for_this_machine(&workbook.root);
    let status = run::play_judge(&judge, &subject, &containment, &[]).context("cannot start")?;
    Ok(exit_code(status.success()))
}
