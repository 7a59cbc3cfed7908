//! Binaries held by descriptor. A judge or subject binary is read into sealed memory once,
//! right after it is built and before any learner code runs, and every process is started from
//! that copy: whatever a subject later writes over the files in `target/` changes nothing.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct Binary {
    file: File,
}

impl Binary {
    /// Takes a copy of the binary at `path` that nothing can change.
    pub fn load(path: &Path) -> io::Result<Binary> {
        let contents = std::fs::read(path)?;
        Ok(Binary {
            file: out_of_the_way(sealed_copy(&contents)?)?,
        })
    }

    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// The path that starts this binary from its descriptor.
    pub fn exec_path(&self) -> PathBuf {
        PathBuf::from(format!("/dev/fd/{}", self.fd()))
    }
}

/// The same file at a descriptor number above the few a child's descriptors are moved to, so
/// that moving them never closes the binary the child is about to start.
fn out_of_the_way(file: File) -> io::Result<File> {
    use std::os::fd::FromRawFd;
    // SAFETY: duplicating a descriptor we own; the copy is ours alone.
    let fd = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 16) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { File::from_raw_fd(fd) })
}

#[cfg(target_os = "linux")]
fn sealed_copy(contents: &[u8]) -> io::Result<File> {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    // SAFETY: memfd_create with a static name; the result is checked.
    let fd = unsafe {
        libc::memfd_create(
            c"grade-binary".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor we own.
    let mut file = unsafe { File::from_raw_fd(fd) };
    file.write_all(contents)?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on our own descriptor.
    if unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// Elsewhere: a copy in a private directory of the grader's, opened and unlinked.
#[cfg(not(target_os = "linux"))]
fn sealed_copy(contents: &[u8]) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("binary");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o500)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, contents))?;
    let file = File::open(&path)?;
    // The directory (and the name) must outlive the descriptor's use on systems without
    // /dev/fd execution; keep it for the life of the process.
    std::mem::forget(dir);
    Ok(file)
}
