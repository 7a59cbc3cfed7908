//! `cargo grade classroom gradescope DIR`: the workbook as a Gradescope autograder. Gradescope
//! unpacks the package in /autograder/source, runs `setup.sh` once to build its image, and
//! `run_autograder` for each submission, which grades it as a pull request is graded and
//! writes /autograder/results/results.json.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use crate::manifest::Workbook;

const SETUP: &str = include_str!("gradescope/setup.sh");
const RUN: &str = include_str!("gradescope/run_autograder");

pub struct Options<'a> {
    pub dir: &'a Path,
    pub trusted: &'a str,
    pub assignment: Option<&'a str>,
    pub selector: Option<&'a str>,
}

pub fn package(workbook: &Workbook, options: &Options) -> Result<ExitCode> {
    let dir = options.dir;
    unpack(&workbook.root, options.trusted, dir)?;
    // Grading never needs the references, and nothing a submission runs should find them.
    let _ = std::fs::remove_dir_all(dir.join("solutions"));

    let mut grading: Vec<String> = Vec::new();
    if let Some(assignment) = options.assignment {
        grading.extend(["--assignment".to_string(), assignment.to_string()]);
    }
    grading.extend(options.selector.map(String::from));
    let grading = format!(
        "GRADING=({})",
        grading
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ")
    );
    for (name, script) in [("setup.sh", SETUP), ("run_autograder", RUN)] {
        let path = dir.join(name);
        std::fs::write(&path, script.replacen("GRADING=()", &grading, 1))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    println!(
        "wrote the autograder in {}: zip what is inside it (setup.sh and run_autograder at the \
         top) and upload the zip as the assignment's autograder",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the files of commit `rev`, as git has them, into `dir`, a new or empty directory.
pub(super) fn unpack(root: &Path, rev: &str, dir: &Path) -> Result<()> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!("{} is not empty: name a new directory", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let archive = Command::new("git")
        .current_dir(root)
        .args(["archive", "--format=tar", rev])
        .output()
        .context("cannot start git")?;
    if !archive.status.success() {
        bail!("{rev}: {}", String::from_utf8_lossy(&archive.stderr).trim());
    }
    let mut untar = Command::new("tar")
        .args(["-x", "-C"])
        .arg(dir)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("cannot start tar")?;
    std::io::Write::write_all(&mut untar.stdin.take().expect("piped"), &archive.stdout)?;
    if !untar.wait()?.success() {
        bail!("cannot unpack {rev} into {}", dir.display());
    }
    Ok(())
}
