//! `cargo grade classroom export DIR [TRACK...]`: the repository a class's students get. It holds
//! what a learner works with (the exercises, the hints, the READMEs, the manifest, the grader and
//! the kit) and none of what grading must keep from them: the references and their mutants, the
//! hidden checks (their API declarations stay: they say no more than the stubs), the project's
//! own tests and workflows. Grading fetches the checks from the instructor's repository
//! (`grade.yml`, with a token set as a secret).
//!
//! The README is rewritten for students (see [`class_readme`]): what is between
//! `<!-- not in a class's copy -->` and `<!-- end -->` goes, what is inside
//! `<!-- in a class's copy:` ... `-->` comes in, and the command table's rows for authors and
//! instructors go.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use crate::manifest::Workbook;

/// The template's grading workflow: the instructor's repository's checks, fetched with a token.
const GRADE_WORKFLOW: &str = include_str!("export/grade.yml");

/// What the students' repository leaves out, besides the checks and the tracks not chosen.
const LEFT_OUT: [&str; 8] = [
    "solutions",
    "grader/tests",
    "CONTRIBUTING.md",
    ".ci",
    ".github/workflows/tests.yml",
    ".github/workflows/mutate.yml",
    ".github/workflows/warm-cache.yml",
    "classroom.toml",
];

pub struct Options<'a> {
    pub dir: &'a Path,
    pub rev: &'a str,
    pub tracks: &'a [String],
}

pub fn export(workbook: &Workbook, options: &Options) -> Result<ExitCode> {
    let dir = options.dir;
    for track in options.tracks {
        if !workbook.tracks.iter().any(|t| &t.name == track) {
            let names: Vec<&str> = workbook.tracks.iter().map(|t| t.name.as_str()).collect();
            bail!("there is no track {track:?} (there are {names:?})");
        }
    }
    super::gradescope::unpack(&workbook.root, options.rev, dir)?;
    for path in LEFT_OUT {
        remove(&dir.join(path))?;
    }
    // The hidden checks and their tracks' shared modules go; the API declarations stay: the
    // students' code is built against them, and they say no more than the stubs.
    let checks = dir.join("grader/checks");
    for file in crate::files::list_files(&checks, &[])? {
        if !file.to_string_lossy().ends_with(".api.rs") {
            remove(&checks.join(file))?;
        }
    }
    if !options.tracks.is_empty() {
        keep_tracks(dir, options.tracks)?;
    }
    std::fs::write(dir.join(".github/workflows/grade.yml"), GRADE_WORKFLOW)?;
    let readme = dir.join("README.md");
    let text = std::fs::read_to_string(&readme).context("the README is missing")?;
    std::fs::write(&readme, class_readme(&text).context("README.md")?)?;
    let output = Command::new("git")
        .current_dir(dir)
        .args(["init", "-q"])
        .output()
        .context("cannot start git")?;
    if !output.status.success() {
        bail!("cannot make {} a git repository", dir.display());
    }
    println!(
        "wrote the students' repository in {}: commit it, push it to a new repository of your \
         organisation, mark it a template, and set CHECKS_REPOSITORY (a variable: this \
         repository's owner/name) and CHECKS_TOKEN (a secret: a read-only token for it) there; \
         see the README's instructor section",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The README as a class's copy has it: for students, without what authors and instructors do.
fn class_readme(text: &str) -> Result<String> {
    let mut out = String::new();
    let mut block: Option<(&str, usize)> = None;
    for (number, line) in text.lines().enumerate() {
        let number = number + 1;
        match (block, line.trim()) {
            (None, "<!-- not in a class's copy -->") => block = Some(("left out", number)),
            (None, "<!-- in a class's copy:") => block = Some(("put in", number)),
            (Some(("left out", _)), "<!-- end -->") | (Some(("put in", _)), "-->") => block = None,
            (Some((_, start)), marker) if marker.starts_with("<!--") => {
                bail!("line {number}: a marker inside the block that line {start} opens")
            }
            (Some(("left out", _)), _) => {}
            (None, _) if is_author_row(line) => {}
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if let Some((_, start)) = block {
        bail!("line {start}: a block that never ends");
    }
    Ok(out)
}

/// A row of the command table for authors or instructors.
fn is_author_row(line: &str) -> bool {
    let description = line.split(" | ").nth(1).unwrap_or_default();
    line.starts_with("| `cargo grade")
        && ["for authors", "for instructors"]
            .iter()
            .any(|who| description.starts_with(who))
}

fn remove(path: &Path) -> Result<()> {
    let result = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Leaves only `tracks` in the exercises, hints, declarations, playgrounds and manifest.
fn keep_tracks(dir: &Path, tracks: &[String]) -> Result<()> {
    for parent in ["exercises", "hints", "grader/checks"] {
        for entry in std::fs::read_dir(dir.join(parent))? {
            let entry = entry?;
            if !tracks.contains(&entry.file_name().to_string_lossy().into_owned()) {
                remove(&entry.path())?;
            }
        }
    }
    for entry in std::fs::read_dir(dir.join("grader/play"))? {
        let path = entry?.path();
        let track = path.file_stem().unwrap_or_default().to_string_lossy();
        if !tracks.iter().any(|t| *t == track) {
            remove(&path)?;
        }
    }
    let path = dir.join("curriculum.toml");
    let mut manifest: toml_edit::DocumentMut = std::fs::read_to_string(&path)?
        .parse()
        .context("the manifest does not parse")?;
    if let Some(all) = manifest
        .get_mut("tracks")
        .and_then(|t| t.as_array_of_tables_mut())
    {
        all.retain(|track| {
            track
                .get("name")
                .and_then(|n| n.as_str())
                .is_some_and(|name| tracks.iter().any(|t| t == name))
        });
    }
    std::fs::write(&path, manifest.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::class_readme;

    #[test]
    fn the_class_readme_leaves_out_and_puts_in_its_blocks() {
        let readme = "# W\n<!-- not in a class's copy -->\ncargo test\n<!-- end -->\n\
                      <!-- in a class's copy:\ngit push\n-->\n\
                      | command | what |\n|---|---|\n| `cargo grade` | grade |\n\
                      | `cargo grade verify` | for authors: prove |\n\
                      | `cargo grade ci` | for instructors: grade |\ntail\n";
        assert_eq!(
            class_readme(readme).unwrap(),
            "# W\ngit push\n| command | what |\n|---|---|\n| `cargo grade` | grade |\ntail\n"
        );
    }

    #[test]
    fn an_unended_or_nested_block_is_an_error_with_its_line() {
        let unended = class_readme("a\n<!-- not in a class's copy -->\nb\n").unwrap_err();
        assert_eq!(unended.to_string(), "line 2: a block that never ends");
        let nested = "<!-- not in a class's copy -->\n<!-- in a class's copy:\n-->\n<!-- end -->\n";
        let nested = class_readme(nested).unwrap_err();
        assert_eq!(
            nested.to_string(),
            "line 2: a marker inside the block that line 1 opens"
        );
    }
}
