//! The judge's disk, as the learner's code sees it: [`kit::disk::Dir`] and [`kit::disk::File`]
//! whose every call crosses to the judge, where the simulated disk counts, fails and crashes.
//! Each method forwards one call of the trait, so the disk sees what it would see in process.

use std::io;
use std::sync::Arc;

use kit::disk::{Dir, File};
use wire::frame::{Closed, DiskOp, DiskValue};

use crate::instance::callback;

/// A directory of the judge's, by the id the judge gave it.
#[derive(Debug)]
pub struct RemoteDir {
    id: u64,
    /// Lent for one call only (a `&dyn Dir` argument): nothing to give back when dropped.
    lent: bool,
}

/// A directory lent for the length of one call.
pub fn lend_dir(id: u64) -> RemoteDir {
    RemoteDir { id, lent: true }
}

/// A directory the learner's code may keep: the judge forgets it when the last handle goes.
pub fn own_dir(id: u64) -> Arc<dyn Dir> {
    Arc::new(RemoteDir { id, lent: false })
}

#[derive(Debug)]
struct RemoteFile {
    id: u64,
}

fn unexpected(value: DiskValue) -> io::Error {
    io::Error::other(format!("the grader's disk answered {value:?}"))
}

fn done(value: DiskValue) -> io::Result<()> {
    match value {
        DiskValue::Done => Ok(()),
        other => Err(unexpected(other)),
    }
}

fn number(value: DiskValue) -> io::Result<u64> {
    match value {
        DiskValue::Number(n) => Ok(n),
        other => Err(unexpected(other)),
    }
}

fn file(value: DiskValue) -> io::Result<Box<dyn File>> {
    match value {
        DiskValue::File(id) => Ok(Box::new(RemoteFile { id })),
        other => Err(unexpected(other)),
    }
}

impl Dir for RemoteDir {
    fn create(&self, name: &str) -> io::Result<Box<dyn File>> {
        let name = name.to_string();
        file(callback(DiskOp::Create { dir: self.id, name })?)
    }

    fn open(&self, name: &str) -> io::Result<Box<dyn File>> {
        let name = name.to_string();
        file(callback(DiskOp::Open { dir: self.id, name })?)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let name = name.to_string();
        done(callback(DiskOp::Remove { dir: self.id, name })?)
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (from, to) = (from.to_string(), to.to_string());
        done(callback(DiskOp::Rename {
            dir: self.id,
            from,
            to,
        })?)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        match callback(DiskOp::List { dir: self.id })? {
            DiskValue::Names(names) => Ok(names),
            other => Err(unexpected(other)),
        }
    }

    fn sync(&self) -> io::Result<()> {
        done(callback(DiskOp::SyncDir { dir: self.id })?)
    }
}

impl Drop for RemoteDir {
    fn drop(&mut self) {
        if !self.lent {
            closed(Closed::Dir(self.id));
        }
    }
}

impl File for RemoteFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        match callback(DiskOp::ReadAt {
            file: self.id,
            offset,
            len,
        })? {
            DiskValue::Bytes(bytes) if bytes.len() <= buf.len() => {
                buf[..bytes.len()].copy_from_slice(&bytes);
                Ok(bytes.len())
            }
            other => Err(unexpected(other)),
        }
    }

    fn append(&self, data: &[u8]) -> io::Result<u64> {
        number(callback(DiskOp::Append {
            file: self.id,
            data: data.to_vec(),
        })?)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let data = data.to_vec();
        done(callback(DiskOp::WriteAt {
            file: self.id,
            offset,
            data,
        })?)
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        done(callback(DiskOp::Truncate { file: self.id, len })?)
    }

    fn len(&self) -> io::Result<u64> {
        number(callback(DiskOp::Len { file: self.id })?)
    }

    fn sync(&self) -> io::Result<()> {
        done(callback(DiskOp::Sync { file: self.id })?)
    }
}

impl Drop for RemoteFile {
    fn drop(&mut self) {
        closed(Closed::File(self.id));
    }
}

/// Handles let go of since the last reply to the judge.
static CLOSED: std::sync::Mutex<Vec<Closed>> = std::sync::Mutex::new(Vec::new());

fn closed(handle: Closed) {
    CLOSED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(handle);
}

/// The handles to tell the judge about with the next reply.
pub fn take_closed() -> Vec<Closed> {
    std::mem::take(&mut *CLOSED.lock().unwrap_or_else(|p| p.into_inner()))
}
