//! An append-only file: every write the keyspace accepts is appended to a file as the RESP
//! request that makes it again, synced as the policy says, replayed when the server starts, and
//! rewritten from the keyspace when it has grown.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

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

/// The commands that change the keyspace. Every other command is a read and is never written.
const WRITES: &[&str] = &[
    "set", "del", "rpush", "lpush", "incr", "decr", "incrby", "decrby", "expire", "pexpire",
    "persist", "lpop", "rpop", "lset", "lrem", "ltrim", "hset", "hdel", "hincrby",
];

/// A keyspace whose writes are kept in an append-only file.
pub struct Aof {
    db: Db,
    dir: Arc<dyn Dir>,
    file: Box<dyn File>,
    policy: Fsync,
    /// The keys the file leaves in the keyspace when it is replayed (where nothing expires):
    /// what a rewrite must look at, and the keys whose expiry the file has not heard of yet.
    keys: BTreeSet<Vec<u8>>,
    /// Whether something was appended since the last sync.
    unsynced: bool,
    /// When the file was last synced (or opened), for `EverySec`.
    synced_at: i64,
    /// An I/O error happened: what the file holds is no longer known, so no write is taken
    /// until the file is opened (and replayed) again.
    broken: bool,
}

impl Aof {
    /// Opens the append-only file in `dir`, creating it if there is none, and replays it into
    /// a new keyspace. `now` is the time in milliseconds since the Unix epoch.
    pub fn open(dir: Arc<dyn Dir>, policy: Fsync, now: i64) -> io::Result<Aof> {
        // A rewrite that was cut short left its file: it was never renamed, so nothing needs it.
        if dir.exists(REWRITE_NAME)? {
            dir.remove(REWRITE_NAME)?;
        }
        let file = match dir.open(AOF_NAME) {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::NotFound => dir.create(AOF_NAME)?,
            Err(error) => return Err(error),
        };
        // The name must be durable before any write in it is promised. Synced even when the
        // file was there: an open that failed after creating it may not have synced it.
        dir.sync()?;
        let len = file.len()?;
        let mut bytes = vec![0; len as usize];
        file.read_exact_at(0, &mut bytes)?;

        let mut aof = Aof {
            db: Db::new(),
            dir,
            file,
            policy,
            keys: BTreeSet::new(),
            unsynced: false,
            synced_at: now,
            broken: false,
        };
        let whole = aof.replay(&bytes)?;
        if whole < bytes.len() {
            // A torn tail: cut, before any new write lands after it.
            aof.file.truncate(whole as u64)?;
        }
        // The cut made durable, and what an earlier process appended but never synced: it was
        // acknowledged, and no tick of that process will come to sync it.
        aof.file.sync()?;
        Ok(aof)
    }

    /// Runs the commands of `bytes` at time 0, where nothing has expired yet (every time in
    /// the file is absolute). Returns how many bytes hold whole commands.
    fn replay(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let limits = Limits::default();
        let mut at = 0;
        while at < bytes.len() {
            let Some((args, used)) = command_at(&bytes[at..], &limits) else {
                break;
            };
            let request = Frame::Array(
                replayed(args.clone())
                    .into_iter()
                    .map(Frame::Bulk)
                    .collect(),
            );
            match self.db.execute(request, 0) {
                Reply::Send(Frame::Error(error)) | Reply::Close(Frame::Error(error)) => {
                    return Err(invalid(format!(
                        "the command at byte {at} of {AOF_NAME} fails on replay: {error}"
                    )));
                }
                _ => {}
            }
            self.note_keys(&args, 0);
            at += used;
        }
        if at < bytes.len() && self.policy == Fsync::Always {
            // Under Always only the last command can have been in flight at a crash. A whole
            // command anywhere after the break means the break was synced, then damaged.
            if (at + 1..bytes.len()).any(|from| command_at(&bytes[from..], &limits).is_some()) {
                return Err(invalid(format!(
                    "{AOF_NAME} is damaged at byte {at}, with whole commands after it"
                )));
            }
        }
        Ok(at)
    }

    /// Runs `request` at time `now` (milliseconds since the Unix epoch). A write that changed
    /// the keyspace is appended to the file (and, under `Always`, synced) before its reply is
    /// returned.
    pub fn execute(&mut self, request: Frame, now: i64) -> io::Result<Reply> {
        let args = arguments(&request);
        let name = args
            .as_ref()
            .and_then(|args| args.first())
            .map(|name| String::from_utf8_lossy(name).to_ascii_lowercase());
        let write = name.as_deref().is_some_and(|name| WRITES.contains(&name));
        if !write {
            return Ok(self.db.execute(request, now));
        }
        if self.broken {
            return Err(broken());
        }
        let (args, name) = (args.expect("a write has arguments"), name.expect("named"));

        // Keys the file still holds but the keyspace has expired: the file hears of it as a
        // DEL, before the first command written that names them.
        let mut expired = Vec::new();
        for key in named_keys(&name, &args) {
            if self.keys.contains(key) && !self.exists(key, now) {
                expired.push(key.clone());
            }
        }

        let reply = self.db.execute(request, now);
        let Reply::Send(frame) = &reply else {
            return Ok(reply);
        };
        if !changed(&name, frame) {
            return Ok(reply);
        }
        let mut out = Vec::new();
        for key in expired {
            encode(&command(&[b"DEL", &key]), &mut out);
        }
        encode(&logged(&name, &args, now), &mut out);
        self.append(&out)?;
        self.note_keys(&args, now);
        if self.policy == Fsync::Always {
            self.sync()?;
        }
        Ok(reply)
    }

    /// Under `EverySec`, syncs the file if something was written since the last sync and that
    /// sync was at least a second ago. Does nothing under the other policies.
    pub fn tick(&mut self, now: i64) -> io::Result<()> {
        if self.broken {
            return Err(broken());
        }
        if self.policy == Fsync::EverySec && self.unsynced && now - self.synced_at >= 1000 {
            self.sync()?;
            self.synced_at = now;
        }
        Ok(())
    }

    /// Writes a new file from the keyspace as it is at `now`, one command per key (and a
    /// `PEXPIREAT` for a key with a TTL), syncs it, renames it over the old one and syncs the
    /// directory. Later writes go to the new file.
    pub fn rewrite(&mut self, now: i64) -> io::Result<()> {
        if self.broken {
            return Err(broken());
        }
        let result = self.try_rewrite(now);
        if result.is_err() {
            // The rename may or may not have happened, or be durable: which file later writes
            // would go to is not known.
            self.broken = true;
        }
        result
    }

    fn try_rewrite(&mut self, now: i64) -> io::Result<()> {
        let mut out = Vec::new();
        let mut kept = BTreeSet::new();
        for key in std::mem::take(&mut self.keys) {
            let Some(value) = self.dump(&key, now) else {
                continue;
            };
            encode(&value, &mut out);
            if let Frame::Integer(ms) = self.read(&[b"PTTL", &key], now)
                && ms >= 0
            {
                let at = (now + ms).to_string();
                encode(&command(&[b"PEXPIREAT", &key, at.as_bytes()]), &mut out);
            }
            kept.insert(key);
        }
        self.keys = kept;

        if self.dir.exists(REWRITE_NAME)? {
            self.dir.remove(REWRITE_NAME)?;
        }
        let file = self.dir.create(REWRITE_NAME)?;
        if !out.is_empty() {
            file.append(&out)?;
        }
        // The new file whole on the disk before its name takes the old one's place...
        file.sync()?;
        self.dir.rename(REWRITE_NAME, AOF_NAME)?;
        // ... and the new name durable before any write to it is promised.
        self.dir.sync()?;
        self.file = file;
        self.unsynced = false;
        self.synced_at = now;
        Ok(())
    }

    /// The one command that makes `key` again, or `None` if it is gone.
    fn dump(&mut self, key: &[u8], now: i64) -> Option<Frame> {
        let Frame::Simple(kind) = self.read(&[b"TYPE", key], now) else {
            return None;
        };
        let (name, items): (&[u8], Vec<Frame>) = match kind.as_str() {
            "string" => (b"SET", vec![self.read(&[b"GET", key], now)]),
            "list" => match self.read(&[b"LRANGE", key, b"0", b"-1"], now) {
                Frame::Array(items) => (b"RPUSH", items),
                _ => return None,
            },
            "hash" => match self.read(&[b"HGETALL", key], now) {
                Frame::Array(items) => (b"HSET", items),
                _ => return None,
            },
            _ => return None,
        };
        let mut args = vec![Frame::Bulk(name.to_vec()), Frame::Bulk(key.to_vec())];
        args.extend(items);
        Some(Frame::Array(args))
    }

    /// Runs a read the keyspace answers with a frame.
    fn read(&mut self, args: &[&[u8]], now: i64) -> Frame {
        match self.db.execute(command(args), now) {
            Reply::Send(frame) | Reply::Close(frame) => frame,
            Reply::Nothing => Frame::Null,
        }
    }

    fn exists(&mut self, key: &[u8], now: i64) -> bool {
        self.read(&[b"EXISTS", key], now) == Frame::Integer(1)
    }

    /// After a command was written: which of the keys it names the file now leaves in place.
    fn note_keys(&mut self, args: &[Vec<u8>], now: i64) {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        for key in named_keys(&name, args) {
            if self.exists(key, now) {
                self.keys.insert(key.clone());
            } else {
                self.keys.remove(key);
            }
        }
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self.file.append(bytes) {
            Ok(_) => {
                self.unsynced = true;
                Ok(())
            }
            Err(error) => {
                self.broken = true;
                Err(error)
            }
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        match self.file.sync() {
            Ok(()) => {
                self.unsynced = false;
                Ok(())
            }
            Err(error) => {
                // What the sync dropped cannot be known: stop until a replay says.
                self.broken = true;
                Err(error)
            }
        }
    }
}

/// The whole command at the start of `bytes` (an array of bulk strings) and its length, or
/// `None` if there is none: cut short, or not a command.
fn command_at(bytes: &[u8], limits: &Limits) -> Option<(Vec<Vec<u8>>, usize)> {
    match parse(bytes, limits) {
        Ok(Some((frame, used))) => {
            let args = arguments(&frame)?;
            (!args.is_empty()).then_some((args, used))
        }
        _ => None,
    }
}

/// The arguments of a request that is an array of bulk strings.
fn arguments(request: &Frame) -> Option<Vec<Vec<u8>>> {
    let Frame::Array(items) = request else {
        return None;
    };
    items
        .iter()
        .map(|item| match item {
            Frame::Bulk(bytes) => Some(bytes.clone()),
            _ => None,
        })
        .collect()
}

/// The keys a write names: every argument of DEL, the first of the others.
fn named_keys<'a>(name: &str, args: &'a [Vec<u8>]) -> &'a [Vec<u8>] {
    match (name, args.len()) {
        (_, 0 | 1) => &[],
        ("del", _) => &args[1..],
        _ => &args[1..2],
    }
}

/// Whether a write's reply says it changed the keyspace.
fn changed(name: &str, reply: &Frame) -> bool {
    match reply {
        Frame::Error(_) | Frame::NullBulk | Frame::NullArray => false,
        Frame::Array(items) => !items.is_empty(),
        Frame::Integer(0) => !matches!(
            name,
            "del" | "expire" | "pexpire" | "persist" | "lrem" | "hdel"
        ),
        _ => true,
    }
}

/// The command to write for a write that changed the keyspace at `now`: relative times made
/// absolute, so that replaying it later sets the same deadline.
fn logged(name: &str, args: &[Vec<u8>], now: i64) -> Frame {
    match name {
        "set" => {
            // EX or PX: SET key value PXAT deadline, as Redis 7 writes it. The other options
            // held when it ran; the replay reaches the same state without them. An option
            // given twice counts as the keyspace counts it: the last one.
            let mut ttl = None;
            let mut i = 3;
            while i < args.len() {
                match args[i].to_ascii_uppercase().as_slice() {
                    b"EX" if i + 1 < args.len() => {
                        ttl = Some(integer(&args[i + 1]) * 1000);
                        i += 1;
                    }
                    b"PX" if i + 1 < args.len() => {
                        ttl = Some(integer(&args[i + 1]));
                        i += 1;
                    }
                    _ => {}
                }
                i += 1;
            }
            match ttl {
                // The keyspace accepted it, so it fits.
                Some(ms) => {
                    let at = (now + ms).to_string();
                    command(&[b"SET", &args[1], &args[2], b"PXAT", at.as_bytes()])
                }
                None => command_of(args),
            }
        }
        "expire" | "pexpire" => {
            let unit = if name == "expire" { 1000 } else { 1 };
            let at = integer(&args[2]) * unit + now;
            if at <= now {
                // The key was deleted, and that is what the file says.
                return command(&[b"DEL", &args[1]]);
            }
            let at = at.to_string();
            let mut parts: Vec<&[u8]> = vec![b"PEXPIREAT", &args[1], at.as_bytes()];
            parts.extend(args[3..].iter().map(Vec::as_slice));
            command(&parts)
        }
        _ => command_of(args),
    }
}

/// A command read back from the file, as the keyspace runs it at time 0: an absolute deadline
/// is a time to live counted from 0.
fn replayed(mut args: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    if args[0].eq_ignore_ascii_case(b"PEXPIREAT") {
        args[0] = b"PEXPIRE".to_vec();
    }
    if args[0].eq_ignore_ascii_case(b"SET") {
        for arg in args.iter_mut().skip(3) {
            if arg.eq_ignore_ascii_case(b"PXAT") {
                *arg = b"PX".to_vec();
            }
        }
    }
    args
}

/// An integer argument the keyspace has already accepted.
fn integer(bytes: &[u8]) -> i64 {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

fn command(args: &[&[u8]]) -> Frame {
    Frame::Array(args.iter().map(|arg| Frame::Bulk(arg.to_vec())).collect())
}

fn command_of(args: &[Vec<u8>]) -> Frame {
    Frame::Array(args.iter().cloned().map(Frame::Bulk).collect())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, message)
}

fn broken() -> io::Error {
    io::Error::other("the append-only file failed a write or a sync: open it again")
}
