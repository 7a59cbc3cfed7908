//! The judge's disk as the subject reaches it: directories and files by id, and the
//! operations a subject may ask for. Directories are lent for one call (a `&dyn Dir`
//! argument) or handed over for keeps (an `Arc<dyn Dir>`); files are what those directories
//! opened. An id the subject makes up, or one it no longer holds, is an error, not a crash.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use kit::disk::{Dir, File};
use wire::frame::{Closed, DiskAnswer, DiskOp, DiskValue, WireError};

/// The longest single read a subject may ask for.
const MAX_READ: u32 = 64 << 20;

#[derive(Default)]
pub struct DiskTable {
    next: AtomicU64,
    dirs: Mutex<HashMap<u64, Arc<dyn Dir>>>,
    files: Mutex<HashMap<u64, Arc<dyn File>>>,
}

/// Directories lent to the call in progress on one lane.
pub type Lent<'a> = [(u64, &'a dyn Dir)];

impl DiskTable {
    pub fn fresh_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Hands `dir` over; the subject refers to it by the id returned until it lets it go.
    pub fn keep_dir(&self, dir: Arc<dyn Dir>) -> u64 {
        let id = self.fresh_id();
        self.dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, dir);
        id
    }

    /// Forgets everything: a new check starts.
    pub fn clear(&self) {
        self.dirs.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.files.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn dir<'a>(&self, id: u64, lent: &Lent<'a>) -> io::Result<Dirs<'a>> {
        if let Some((_, dir)) = lent.iter().find(|(lent_id, _)| *lent_id == id) {
            return Ok(Dirs::Lent(*dir));
        }
        let dirs = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
        dirs.get(&id)
            .cloned()
            .map(Dirs::Kept)
            .ok_or_else(|| io::Error::other(format!("no directory {id} is open")))
    }

    fn file(&self, id: u64) -> io::Result<Arc<dyn File>> {
        let files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        files
            .get(&id)
            .cloned()
            .ok_or_else(|| io::Error::other(format!("no file {id} is open")))
    }

    fn opened(&self, file: Box<dyn File>) -> DiskValue {
        let id = self.fresh_id();
        self.files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Arc::from(file));
        DiskValue::File(id)
    }

    /// Carries out `op`. No table lock is held while the disk works: a sync may wait at a
    /// check's gate while other callbacks go on.
    pub fn serve(&self, op: DiskOp, lent: &Lent) -> DiskAnswer {
        self.serve_io(op, lent).map_err(WireError::from)
    }

    fn serve_io(&self, op: DiskOp, lent: &Lent) -> io::Result<DiskValue> {
        Ok(match op {
            DiskOp::Create { dir, name } => self.opened(self.dir(dir, lent)?.get().create(&name)?),
            DiskOp::Open { dir, name } => self.opened(self.dir(dir, lent)?.get().open(&name)?),
            DiskOp::Remove { dir, name } => {
                self.dir(dir, lent)?.get().remove(&name)?;
                DiskValue::Done
            }
            DiskOp::Rename { dir, from, to } => {
                self.dir(dir, lent)?.get().rename(&from, &to)?;
                DiskValue::Done
            }
            DiskOp::List { dir } => DiskValue::Names(self.dir(dir, lent)?.get().list()?),
            DiskOp::SyncDir { dir } => {
                self.dir(dir, lent)?.get().sync()?;
                DiskValue::Done
            }
            DiskOp::ReadAt { file, offset, len } => {
                if len > MAX_READ {
                    return Err(io::Error::other(format!(
                        "a read of {len} bytes at once is more than the grader's disk allows"
                    )));
                }
                let mut buf = vec![0; len as usize];
                let read = self.file(file)?.read_at(offset, &mut buf)?;
                buf.truncate(read);
                DiskValue::Bytes(buf)
            }
            DiskOp::Append { file, data } => DiskValue::Number(self.file(file)?.append(&data)?),
            DiskOp::WriteAt { file, offset, data } => {
                self.file(file)?.write_at(offset, &data)?;
                DiskValue::Done
            }
            DiskOp::Truncate { file, len } => {
                self.file(file)?.truncate(len)?;
                DiskValue::Done
            }
            DiskOp::Len { file } => DiskValue::Number(self.file(file)?.len()?),
            DiskOp::Sync { file } => {
                self.file(file)?.sync()?;
                DiskValue::Done
            }
        })
    }

    /// Forgets the handles the learner's code let go of.
    pub fn close(&self, handles: &[Closed]) {
        for handle in handles {
            // Each is dropped outside the lock: a file's or directory's drop may do work.
            match handle {
                Closed::File(id) => {
                    let file = self
                        .files
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(id);
                    drop(file);
                }
                Closed::Dir(id) => {
                    let dir = self
                        .dirs
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(id);
                    drop(dir);
                }
            }
        }
    }
}

enum Dirs<'a> {
    Lent(&'a dyn Dir),
    Kept(Arc<dyn Dir>),
}

impl Dirs<'_> {
    fn get(&self) -> &dyn Dir {
        match self {
            Dirs::Lent(dir) => *dir,
            Dirs::Kept(dir) => &**dir,
        }
    }
}
