//! The file-system interface storage scenes are written against.
//!
//! A [`Dir`] is one directory of files, addressed by plain names (no paths). Its operations are
//! the ones a storage engine needs and no more, and each says what it promises about durability:
//! data written to a file is durable only once [`File::sync`] returns, and a created, renamed or
//! removed name is durable only once [`Dir::sync`] returns.

use std::fmt::Debug;
use std::io::{self, ErrorKind};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// An open file. All methods take `&self`, so one handle can serve many readers at once.
pub trait File: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes at `offset`; fewer only at the end of the file.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    /// Appends `data` at the end; returns the offset it was written at.
    fn append(&self, data: &[u8]) -> io::Result<u64>;

    /// Writes `data` at `offset`, extending the file (with zeros) if needed.
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;

    /// Cuts the file to `len` bytes.
    fn truncate(&self, len: u64) -> io::Result<()>;

    /// The file's length, unsynced writes included.
    fn len(&self) -> io::Result<u64>;

    /// Makes everything written to this file so far durable.
    fn sync(&self) -> io::Result<()>;

    /// Reads exactly `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, mut offset: u64, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(offset, buf)? {
                0 => {
                    return Err(io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "read past the end",
                    ));
                }
                n => {
                    offset += n as u64;
                    buf = &mut buf[n..];
                }
            }
        }
        Ok(())
    }

    /// True when the file has no bytes.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// A directory of files.
pub trait Dir: Send + Sync + Debug {
    /// Creates an empty file; fails with `AlreadyExists` if the name is taken.
    fn create(&self, name: &str) -> io::Result<Box<dyn File>>;

    /// Opens an existing file; fails with `NotFound` if there is none.
    fn open(&self, name: &str) -> io::Result<Box<dyn File>>;

    /// Removes a name. Open handles to the file keep working.
    fn remove(&self, name: &str) -> io::Result<()>;

    /// Renames `from` to `to`, replacing `to` if it exists, in one atomic step.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;

    /// The names in the directory, sorted.
    fn list(&self) -> io::Result<Vec<String>>;

    /// Makes every create, rename and remove so far durable.
    fn sync(&self) -> io::Result<()>;

    /// True if `name` exists.
    fn exists(&self, name: &str) -> io::Result<bool> {
        Ok(self.list()?.iter().any(|n| n == name))
    }
}

/// A [`Dir`] on the real file system.
#[derive(Debug, Clone)]
pub struct RealDir {
    path: PathBuf,
}

impl RealDir {
    /// The directory at `path`, created if missing.
    pub fn new(path: impl AsRef<Path>) -> io::Result<RealDir> {
        std::fs::create_dir_all(path.as_ref())?;
        Ok(RealDir {
            path: path.as_ref().to_path_buf(),
        })
    }

    fn path_of(&self, name: &str) -> io::Result<PathBuf> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("{name:?} is not a plain file name"),
            ));
        }
        Ok(self.path.join(name))
    }
}

impl Dir for RealDir {
    fn create(&self, name: &str) -> io::Result<Box<dyn File>> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(self.path_of(name)?)?;
        Ok(Box::new(RealFile::new(file)))
    }

    fn open(&self, name: &str) -> io::Result<Box<dyn File>> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.path_of(name)?)?;
        Ok(Box::new(RealFile::new(file)))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        std::fs::remove_file(self.path_of(name)?)
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        std::fs::rename(self.path_of(from)?, self.path_of(to)?)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.path)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn sync(&self) -> io::Result<()> {
        std::fs::File::open(&self.path)?.sync_all()
    }
}

/// A real file. Appends take a lock so that two appenders never get the same offset.
#[derive(Debug)]
struct RealFile {
    file: std::fs::File,
    append_lock: Mutex<()>,
}

impl RealFile {
    fn new(file: std::fs::File) -> RealFile {
        RealFile {
            file,
            append_lock: Mutex::new(()),
        }
    }
}

impl File for RealFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read_at(buf, offset)
    }

    fn append(&self, data: &[u8]) -> io::Result<u64> {
        let _turn = self.append_lock.lock().unwrap_or_else(|p| p.into_inner());
        let offset = self.file.metadata()?.len();
        self.file.write_all_at(data, offset)?;
        Ok(offset)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let _turn = self.append_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.file.write_all_at(data, offset)
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        let _turn = self.append_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.file.set_len(len)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_directory_keeps_what_is_written() {
        let temp = tempfile::tempdir().unwrap();
        let dir = RealDir::new(temp.path()).unwrap();
        let file = dir.create("a.log").unwrap();
        assert_eq!(file.append(b"hello ").unwrap(), 0);
        assert_eq!(file.append(b"world").unwrap(), 6);
        file.sync().unwrap();
        dir.rename("a.log", "b.log").unwrap();
        dir.sync().unwrap();
        assert_eq!(dir.list().unwrap(), ["b.log"]);
        let mut buf = [0u8; 5];
        dir.open("b.log")
            .unwrap()
            .read_exact_at(6, &mut buf)
            .unwrap();
        assert_eq!(&buf, b"world");
        assert!(dir.create("b.log").is_err());
        assert_eq!(
            dir.open("b.log")
                .unwrap()
                .read_exact_at(8, &mut buf)
                .unwrap_err()
                .kind(),
            ErrorKind::UnexpectedEof
        );
        assert!(dir.open("../escape").is_err());
    }
}
