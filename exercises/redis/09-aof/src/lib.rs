//! An append-only file: every write the keyspace accepts is appended to a file as the RESP
//! request that makes it again, synced as the policy says, replayed when the server starts, and
//! rewritten from the keyspace when it has grown.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::collections::BTreeSet;
use std::io::{self, ErrorKind};
use std::sync::Arc;

use kit::disk::{Dir, File};
use redis_resp::{Limits, encode, parse};

pub use redis_lists_hashes::{Db, Frame, Reply};

/// The append-only file's name in its directory.
pub const AOF_NAME: &str = "appendonly.aof";

/// The name a rewrite writes its new file under, before renaming it over [`AOF_NAME`].
pub const REWRITE_NAME: &str = "temp-rewrite.aof";

/// When the file is synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// After every write, before its reply is returned.
    Always,
    /// By [`Aof::tick`], once a second has passed since the last sync.
    EverySec,
    /// Never by the append-only file itself (a rewrite still syncs the file it writes).
    No,
}

/// A keyspace whose writes are kept in an append-only file.
pub struct Aof {
    db: Db,
    dir: Arc<dyn Dir>,
    file: Box<dyn File>,
    policy: Fsync,
    // Add what else you need: the keys the file holds, whether something is unsynced and
    // when the last sync was, whether an I/O error has broken the file.
}

impl Aof {
    /// Opens the append-only file in `dir`, creating it (its name made durable) if there is
    /// none, removes a leftover [`REWRITE_NAME`], and replays the file into a new keyspace.
    /// `now` is the time in milliseconds since the Unix epoch.
    ///
    /// A torn tail is cut, and the file synced, before `open` returns. Under `Always`, damage
    /// with a whole command after it is `InvalidData`, the file left as it is; so is a
    /// command the keyspace answers with an error, under any policy.
    pub fn open(dir: Arc<dyn Dir>, policy: Fsync, now: i64) -> io::Result<Aof> {
        todo!()
    }

    /// Runs `request` at time `now` (milliseconds since the Unix epoch). A write that changed
    /// the keyspace is appended to the file (and, under `Always`, synced) before its reply is
    /// returned, as the README says: relative times made absolute, a key the keyspace has
    /// expired written as a `DEL` first.
    ///
    /// After a failed append or sync, every write answers an error until the file is opened
    /// again; reads are still answered.
    pub fn execute(&mut self, request: Frame, now: i64) -> io::Result<Reply> {
        todo!()
    }

    /// Under `EverySec`, syncs the file if something was written since the last sync and that
    /// sync (or the open) was at least 1000 ms before `now`. Does nothing under the other
    /// policies.
    pub fn tick(&mut self, now: i64) -> io::Result<()> {
        todo!()
    }

    /// Writes a new file from the keyspace as it is at `now`: for each key, in byte order, the
    /// one command that makes it, and a `PEXPIREAT` if it has a TTL. Writes it as
    /// [`REWRITE_NAME`], syncs it, renames it over [`AOF_NAME`], syncs the directory. Later
    /// writes go to the new file.
    pub fn rewrite(&mut self, now: i64) -> io::Result<()> {
        todo!()
    }
}
