//! Small file helpers shared by the generators.

use std::path::Path;

use anyhow::{Context, Result};

/// Writes `contents` unless the file already holds exactly that, so that cargo's fingerprints
/// (file times) stay fresh across runs and nothing is rebuilt for nothing.
pub fn write_if_changed(path: &Path, contents: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))
}

/// Every file below `dir`, as paths relative to it, in a stable order. `skip` names top-level
/// entries to leave out.
pub fn list_files(dir: &Path, skip: &[&str]) -> Result<Vec<std::path::PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .with_context(|| format!("cannot read {}", current.display()))?;
        for entry in entries {
            let path = entry?.path();
            let relative = path.strip_prefix(dir).expect("below dir").to_path_buf();
            if current == dir && skip.iter().any(|s| relative == Path::new(s)) {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(relative);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Takes the lock of `dir`, a directory one run at a time may use, for as long as the returned
/// file is open; `what` says what this run is. If another run holds it, says who, in one line,
/// and waits for it to end: two runs writing one directory would corrupt each other's results.
pub fn hold(dir: &Path, what: &str) -> Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(".lock");
    let mut lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    if let Err(std::fs::TryLockError::WouldBlock) = lock.try_lock() {
        let mut holder = String::new();
        let _ = lock.read_to_string(&mut holder);
        let holder = match holder.trim() {
            "" => "another run".to_string(),
            holder => holder.to_string(),
        };
        eprintln!(
            "  waiting: {holder} is using {}; this one starts when it ends",
            dir.display()
        );
    }
    lock.lock()
        .with_context(|| format!("cannot lock {}", dir.display()))?;
    lock.set_len(0)?;
    lock.rewind()?;
    write!(lock, "{what} (process {})", std::process::id())?;
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_directory_waits_for_its_holder_and_names_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let first = hold(dir.path(), "the grading of a").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let path = dir.path().to_path_buf();
        let second = std::thread::spawn(move || {
            let lock = hold(&path, "the grading of b").unwrap();
            tx.send(()).unwrap();
            lock
        });
        let waited = rx.recv_timeout(std::time::Duration::from_millis(300));
        assert!(waited.is_err(), "the second run did not wait for the first");
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the second run starts once the first ends");
        let _second = second.join().unwrap();
        let holder = std::fs::read_to_string(dir.path().join(".lock")).unwrap();
        assert!(holder.starts_with("the grading of b (process "), "{holder}");
    }
}
