//! The learner's progress: which scenes passed, hints used, predictions made.
//!
//! One small TOML file in the workbook's root, never in git. Every change is a whole new file
//! written beside it, synced, then renamed over it, under a lock: a kill at any moment leaves
//! either the old file or the new one. A file that does not parse is an error with a way out,
//! never a silent fresh start.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub const PROGRESS_FILE: &str = ".grade-progress.toml";
const LOCK_FILE: &str = ".grade-progress.lock";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    format_version: u32,
    #[serde(default)]
    pub scenes: BTreeMap<String, SceneProgress>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SceneProgress {
    #[serde(default)]
    pub passed: bool,
    #[serde(default)]
    pub hints_used: usize,
    /// The choice the learner predicted (from 1), and whether it was right.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted: Option<Prediction>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prediction {
    pub choice: usize,
    pub correct: bool,
}

impl Progress {
    pub fn scene(&self, id: &str) -> SceneProgress {
        self.scenes.get(id).cloned().unwrap_or_default()
    }

    pub fn passed(&self, id: &str) -> bool {
        self.scenes.get(id).is_some_and(|s| s.passed)
    }
}

/// The progress file of one workbook.
pub struct Store {
    path: PathBuf,
    lock_path: PathBuf,
}

impl Store {
    pub fn new(root: &Path) -> Store {
        Store {
            path: root.join(PROGRESS_FILE),
            lock_path: root.join(LOCK_FILE),
        }
    }

    pub fn load(&self) -> Result<Progress> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Progress {
                    format_version: FORMAT_VERSION,
                    ..Progress::default()
                });
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {PROGRESS_FILE}")),
        };
        let damaged = |why: String| {
            anyhow::anyhow!(
                "{PROGRESS_FILE} is damaged ({why}). Fix it by hand, or move it aside to start \
                 over: mv {PROGRESS_FILE} {PROGRESS_FILE}.bak"
            )
        };
        let text = String::from_utf8(bytes).map_err(|_| damaged("it is not text".into()))?;
        let progress: Progress =
            toml::from_str(&text).map_err(|e| damaged(crate::manifest::one_line(&e, &text)))?;
        if progress.format_version != FORMAT_VERSION {
            bail!(
                "{PROGRESS_FILE} has format_version {}, but this grader reads {FORMAT_VERSION}",
                progress.format_version
            );
        }
        Ok(progress)
    }

    /// Reads, changes and writes the progress under an exclusive lock, so that two commands
    /// running at once (a watch and a hint, say) never lose each other's changes.
    pub fn update<T>(&self, change: impl FnOnce(&mut Progress) -> T) -> Result<T> {
        let lock =
            File::create(&self.lock_path).with_context(|| format!("cannot create {LOCK_FILE}"))?;
        lock.lock()
            .with_context(|| format!("cannot lock {LOCK_FILE}"))?;
        let mut progress = self.load()?;
        let answer = change(&mut progress);
        self.write(&progress)?;
        Ok(answer)
    }

    fn write(&self, progress: &Progress) -> Result<()> {
        let text = toml::to_string(progress).context("cannot serialise progress")?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let mut temp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot write beside {PROGRESS_FILE}"))?;
        temp.write_all(text.as_bytes())?;
        temp.as_file().sync_all()?;
        temp.persist(&self.path)
            .with_context(|| format!("cannot replace {PROGRESS_FILE}"))?;
        // The rename is durable once the directory is.
        File::open(dir)?.sync_all()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_a_fresh_start_and_updates_persist() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        assert!(!store.load().unwrap().passed("primitives/crc32"));
        store
            .update(|p| {
                p.scenes
                    .entry("primitives/crc32".into())
                    .or_default()
                    .passed = true
            })
            .unwrap();
        assert!(store.load().unwrap().passed("primitives/crc32"));
    }

    #[test]
    fn a_damaged_file_is_an_error_that_names_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PROGRESS_FILE),
            "format_version = 1\n[scenes\n",
        )
        .unwrap();
        let error = Store::new(dir.path()).load().unwrap_err().to_string();
        assert!(error.contains("damaged"), "{error}");
        assert!(error.contains("mv .grade-progress.toml"), "{error}");
        let update = Store::new(dir.path())
            .update(|_| ())
            .unwrap_err()
            .to_string();
        assert!(update.contains("damaged"), "{update}");
        let kept = std::fs::read_to_string(dir.path().join(PROGRESS_FILE)).unwrap();
        assert!(
            kept.contains("[scenes"),
            "the damaged file must be left as it was"
        );
    }
}
