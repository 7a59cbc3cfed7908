//! The workbook a submission is graded in: everything from the trusted commit, except the
//! learner's own source files, which come from the submission.
//!
//! Both commits are read from the repository's object store with git2, never from the working
//! tree, so nothing a student edits outside `exercises/*/*/src/` (the checks, the grader, the
//! kit, the manifest, a Cargo.toml, a build script, the workflows) takes part in grading. Those
//! changes are listed, so a student sees why they did not count.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use git2::{Delta, ObjectType, Oid, Repository, Tree, TreeWalkMode, TreeWalkResult};

/// A file mode git uses for symbolic links.
const SYMLINK: i32 = 0o120000;

pub struct Materialized {
    /// The root of the workbook to grade in.
    pub root: PathBuf,
    /// Short ids of the trusted and submitted commits.
    pub trusted: String,
    pub submission: String,
    /// Changed paths that do not count as the learner's work.
    pub ignored: Vec<String>,
}

/// Writes the trusted commit's tree (less `solutions/`, which grading does not need and a
/// submission must not read) into `dir`, then the submission's learner files over it.
pub fn materialize(
    repo_root: &Path,
    trusted: &str,
    submission: &str,
    dir: &Path,
) -> Result<Materialized> {
    let repo = Repository::open(repo_root).context("the workbook is not a git repository")?;
    let trusted_commit = repo
        .revparse_single(trusted)
        .and_then(|o| o.peel_to_commit())
        .with_context(|| format!("--trusted {trusted}: no such commit"))?;
    let submission_commit = repo
        .revparse_single(submission)
        .and_then(|o| o.peel_to_commit())
        .with_context(|| format!("--submission {submission}: no such commit"))?;
    let trusted_tree = trusted_commit.tree()?;
    let submission_tree = submission_commit.tree()?;

    let mut files = tree_files(&trusted_tree)?;

    // What the student changed is what the submission changed since it left the trusted line
    // (their merge base): files the trusted side changed since are not the student's doing. A
    // class's copy shares no history with the instructor's repository: there, it is what
    // changed since the copy's first commit, the template as the student got it.
    let since = match repo.merge_base(trusted_commit.id(), submission_commit.id()) {
        Ok(base) => repo.find_commit(base)?.tree()?,
        Err(_) => first_commit(&submission_commit).tree()?,
    };
    let mut ignored = Vec::new();
    for delta in repo
        .diff_tree_to_tree(Some(&since), Some(&submission_tree), None)?
        .deltas()
    {
        let path = changed_path(&delta)?;
        if !is_learner_source(path) {
            ignored.push(path.display().to_string());
        }
    }

    let diff = repo.diff_tree_to_tree(Some(&trusted_tree), Some(&submission_tree), None)?;
    for delta in diff.deltas() {
        let file = delta.new_file();
        let path = changed_path(&delta)?.to_path_buf();
        if !is_learner_source(&path) {
            continue;
        }
        let shown = path.display().to_string();
        match delta.status() {
            Delta::Deleted => {
                files.remove(&path);
            }
            _ if i32::from(file.mode()) == SYMLINK => {
                ignored.push(format!("{shown} (a symbolic link)"))
            }
            _ => {
                files.insert(path, file.id());
            }
        }
    }
    sync(&repo, dir, &files)?;
    Ok(Materialized {
        root: dir.to_path_buf(),
        trusted: short(trusted_commit.id()),
        submission: short(submission_commit.id()),
        ignored,
    })
}

/// The first commit of `commit`'s history, along first parents.
fn first_commit<'r>(commit: &git2::Commit<'r>) -> git2::Commit<'r> {
    let mut first = commit.clone();
    while let Some(parent) = first.parents().next() {
        first = parent;
    }
    first
}

fn changed_path<'a>(delta: &git2::DiffDelta<'a>) -> Result<&'a Path> {
    delta
        .new_file()
        .path()
        .or_else(|| delta.old_file().path())
        .context("a change without a path")
}

/// `exercises/<track>/<scene>/src/...`, and nothing that climbs out of it.
pub fn is_learner_source(path: &Path) -> bool {
    let parts: Vec<Component> = path.components().collect();
    parts.len() >= 5
        && parts[0].as_os_str() == "exercises"
        && parts[3].as_os_str() == "src"
        && parts.iter().all(|c| matches!(c, Component::Normal(_)))
}

fn short(id: Oid) -> String {
    id.to_string()[..12].to_string()
}

/// The files of `tree` to grade with, by path: not `solutions/` (grading does not need them
/// and a submission must not read them), `target/`, or symbolic links.
fn tree_files(tree: &Tree) -> Result<BTreeMap<PathBuf, Oid>> {
    let mut files = BTreeMap::new();
    tree.walk(TreeWalkMode::PreOrder, |parent, entry| {
        let name = entry.name().unwrap_or_default();
        if parent.is_empty() && ["solutions", "target"].contains(&name) {
            return TreeWalkResult::Skip;
        }
        if entry.kind() == Some(ObjectType::Blob) && entry.filemode() != SYMLINK {
            files.insert(PathBuf::from(format!("{parent}{name}")), entry.id());
        }
        TreeWalkResult::Ok
    })?;
    Ok(files)
}

/// Makes `dir` (but for its `target/`, where the builds of earlier gradings are cached) hold
/// exactly `files`: what is not among them goes, what differs is written, and a file already
/// as it should be is left alone, with its time, so that cargo rebuilds only what changed since
/// the last grading here (not the kit and the judge runtime every time).
fn sync(repo: &Repository, dir: &Path, files: &BTreeMap<PathBuf, Oid>) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    prune(dir, Path::new(""), files)?;
    for (path, id) in files {
        let target = dir.join(path);
        let blob = repo.find_blob(*id)?;
        let same = std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_file())
            && std::fs::read(&target).is_ok_and(|there| there == blob.content());
        if !same {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&target, blob.content())
                .with_context(|| format!("cannot write {}", target.display()))?;
        }
    }
    Ok(())
}

/// Removes from `dir/relative` whatever `files` does not hold there: other files, symbolic
/// links (never followed), and directories with no wanted file inside.
fn prune(dir: &Path, relative: &Path, files: &BTreeMap<PathBuf, Oid>) -> Result<()> {
    for entry in std::fs::read_dir(dir.join(relative))? {
        let entry = entry?;
        if relative.as_os_str().is_empty() && entry.file_name() == "target" {
            continue;
        }
        let name = relative.join(entry.file_name());
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() && !files.contains_key(&name) {
            prune(dir, &name, files)?;
            if !files.keys().any(|file| file.starts_with(&name)) {
                std::fs::remove_dir_all(&path)?;
            }
        } else if kind.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else if kind.is_symlink() || !files.contains_key(&name) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_learner_source;
    use std::path::Path;

    #[test]
    fn only_exercise_sources_count() {
        let counts = |p: &str| is_learner_source(Path::new(p));
        assert!(counts("exercises/primitives/01-crc32/src/lib.rs"));
        assert!(counts("exercises/bitcask/02-log/src/nested/more.rs"));
        assert!(!counts("exercises/primitives/01-crc32/Cargo.toml"));
        assert!(!counts("exercises/primitives/01-crc32/build.rs"));
        assert!(!counts("grader/checks/primitives/01-crc32.rs"));
        assert!(!counts("curriculum.toml"));
        assert!(!counts(".github/workflows/grade.yml"));
        assert!(!counts(
            "exercises/primitives/01-crc32/src/../../../../grader/x.rs"
        ));
    }
}
