//! Faults aimed at chosen operations: a directory of a [`SimDisk`] that counts its operations by
//! kind, keeps their order, and fails the `n`th operation of a kind with a chosen fault. Checks
//! use it to fail every operation of a workload in turn, and to see what the code under test did.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::disk::{Dir, File};
use crate::sim::{Fault, OpKind, SimDisk};

/// One fault: the `n`th operation of `kind` (counting from 1) fails with `fault`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aim {
    pub kind: OpKind,
    pub n: u64,
    pub fault: Fault,
}

/// A rename as the disk saw it: the source's length and durable length at that moment.
#[derive(Debug, Clone)]
pub struct RenameSeen {
    pub from: String,
    pub to: String,
    pub len: u64,
    pub durable_len: u64,
}

#[derive(Default)]
struct Books {
    counts: BTreeMap<String, u64>,
    armed: Vec<Aim>,
    fired: u64,
    trace: Vec<OpKind>,
    renames: Vec<RenameSeen>,
}

/// A directory of a [`SimDisk`] that counts its operations by kind, keeps their order, notes
/// every rename, and fails the operations it is aimed at. Its clones share their books.
#[derive(Clone)]
pub struct FaultDir {
    disk: SimDisk,
    books: Arc<Mutex<Books>>,
}

impl FaultDir {
    /// Counting from now: `aims` count each kind's operations from 1.
    pub fn new(disk: &SimDisk, aims: &[Aim]) -> FaultDir {
        FaultDir {
            disk: disk.clone(),
            books: Arc::new(Mutex::new(Books {
                armed: aims.to_vec(),
                ..Books::default()
            })),
        }
    }

    /// The `n`th operation of kind `kind` from now on (counting from 1) fails with `fault`.
    pub fn arm(&self, kind: OpKind, n: u64, fault: Fault) {
        let mut books = self.books();
        let done = books.counts.get(&format!("{kind:?}")).copied().unwrap_or(0);
        books.armed.push(Aim {
            kind,
            n: done + n,
            fault,
        });
    }

    /// How many faults have fired so far.
    pub fn fired(&self) -> u64 {
        self.books().fired
    }

    /// How many operations of `kind` were made so far.
    pub fn count(&self, kind: OpKind) -> u64 {
        self.books()
            .counts
            .get(&format!("{kind:?}"))
            .copied()
            .unwrap_or(0)
    }

    /// Every operation made so far, in order.
    pub fn trace(&self) -> Vec<OpKind> {
        self.books().trace.clone()
    }

    /// Every rename made so far, in order.
    pub fn renames(&self) -> Vec<RenameSeen> {
        self.books().renames.clone()
    }

    /// The directory, for the disk's current incarnation.
    pub fn dir(&self) -> Arc<dyn Dir> {
        Arc::new(FaultyDir {
            inner: self.disk.dir(),
            owner: self.clone(),
        })
    }

    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts an operation of `kind`, and aims a fault at it if it is an armed one.
    fn before(&self, kind: OpKind) {
        let mut books = self.books();
        books.trace.push(kind);
        let count = books.counts.entry(format!("{kind:?}")).or_insert(0);
        *count += 1;
        let count = *count;
        if let Some(i) = books
            .armed
            .iter()
            .position(|aim| aim.kind == kind && aim.n == count)
        {
            let aim = books.armed.remove(i);
            books.fired += 1;
            self.disk.fail_next(kind, aim.fault);
        }
    }
}

struct FaultyDir {
    inner: Arc<dyn Dir>,
    owner: FaultDir,
}

impl fmt::Debug for FaultyDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl FaultyDir {
    fn wrap(&self, file: io::Result<Box<dyn File>>) -> io::Result<Box<dyn File>> {
        Ok(Box::new(FaultyFile {
            inner: file?,
            owner: self.owner.clone(),
        }))
    }
}

impl Dir for FaultyDir {
    fn create(&self, name: &str) -> io::Result<Box<dyn File>> {
        self.owner.before(OpKind::Create);
        self.wrap(self.inner.create(name))
    }
    fn open(&self, name: &str) -> io::Result<Box<dyn File>> {
        self.owner.before(OpKind::Open);
        self.wrap(self.inner.open(name))
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.owner.before(OpKind::Remove);
        self.inner.remove(name)
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        if let Some(file) = self.owner.disk.files().into_iter().find(|f| f.name == from) {
            self.owner.books().renames.push(RenameSeen {
                from: from.into(),
                to: to.into(),
                len: file.len,
                durable_len: file.durable_len,
            });
        }
        self.owner.before(OpKind::Rename);
        self.inner.rename(from, to)
    }
    fn list(&self) -> io::Result<Vec<String>> {
        self.owner.before(OpKind::List);
        self.inner.list()
    }
    fn sync(&self) -> io::Result<()> {
        self.owner.before(OpKind::DirSync);
        self.inner.sync()
    }
}

struct FaultyFile {
    inner: Box<dyn File>,
    owner: FaultDir,
}

impl fmt::Debug for FaultyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl File for FaultyFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.owner.before(OpKind::Read);
        self.inner.read_at(offset, buf)
    }
    fn append(&self, data: &[u8]) -> io::Result<u64> {
        self.owner.before(OpKind::Write);
        self.inner.append(data)
    }
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.owner.before(OpKind::Write);
        self.inner.write_at(offset, data)
    }
    fn truncate(&self, len: u64) -> io::Result<()> {
        self.owner.before(OpKind::Write);
        self.inner.truncate(len)
    }
    fn len(&self) -> io::Result<u64> {
        self.owner.before(OpKind::Len);
        self.inner.len()
    }
    fn sync(&self) -> io::Result<()> {
        self.owner.before(OpKind::Sync);
        self.inner.sync()
    }
}

/// Runs `f`, turning a panic into an error: code under a fault may `unwrap` the error the fault
/// caused, and a check wants to see what the disk holds afterwards, not stop.
pub fn attempt<T>(f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            Err(io::Error::other(format!("panicked: {text}")))
        }
    }
}
