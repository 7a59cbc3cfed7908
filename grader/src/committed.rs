//! What the repository's last commit holds: the stubs as first given, whatever the learner has
//! done to them since. `reset` writes them back; the proof grades them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use git2::{ObjectType, Repository, TreeWalkMode, TreeWalkResult};

/// Files by their paths, with their contents.
pub type Files = Vec<(PathBuf, Vec<u8>)>;

/// The files under `relative` (a directory of the workbook) as HEAD has them, with paths
/// relative to it. `None` when HEAD has no such directory (a scene not yet committed).
pub fn files(root: &Path, relative: &Path) -> Result<Option<Files>> {
    let repo = Repository::open(root).context("the workbook is not a git repository")?;
    let head = repo
        .head()?
        .peel_to_tree()
        .context("the repository has no commit yet")?;
    let Ok(entry) = head.get_path(relative) else {
        return Ok(None);
    };
    let subtree = entry.to_object(&repo)?.peel_to_tree()?;
    let mut found = Vec::new();
    subtree.walk(TreeWalkMode::PreOrder, |parent, entry| {
        if entry.kind() == Some(ObjectType::Blob) {
            found.push((
                PathBuf::from(format!("{parent}{}", entry.name().unwrap_or_default())),
                entry.id(),
            ));
        }
        TreeWalkResult::Ok
    })?;
    let mut files = Vec::new();
    for (path, id) in found {
        files.push((path, repo.find_blob(id)?.content().to_vec()));
    }
    Ok(Some(files))
}
