//! The messages on a lane. Each message is a header, postcard-encoded, and then (for some
//! headers) a payload encoded the same way right after it: the arguments of a call, the value
//! a call returned, a disk operation or its answer.

use std::io;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Judge to subject, on a call lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Call method `method` of dispatch unit `unit`, on object `this` (0 for none). The
    /// arguments follow.
    Call { unit: u16, method: u16, this: u64 },
    /// Drop object `this`, running its `Drop`.
    Drop { this: u64 },
    /// The answer to the subject's last callback follows.
    Answer,
}

/// Subject to judge, on a call lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The call returned; its value follows. `closed` are the handles the learner's code let go
    /// of since the last reply: told in passing, so that dropping a file costs no round trip.
    Returned { closed: Vec<Closed> },
    /// The learner's code panicked.
    Panicked {
        message: String,
        location: Option<String>,
    },
    /// The subject asks the judge for a disk operation, which follows; the judge answers with
    /// [`Request::Answer`].
    Callback,
    /// The call could not be made at all: a handle that does not exist, arguments that do not
    /// decode. One side has a bug, or the subject is not what it claims.
    Refused(String),
}

/// What a subject asks of the judge's disk. Directories and files are named by the ids the
/// judge gave them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiskOp {
    Create {
        dir: u64,
        name: String,
    },
    Open {
        dir: u64,
        name: String,
    },
    Remove {
        dir: u64,
        name: String,
    },
    Rename {
        dir: u64,
        from: String,
        to: String,
    },
    List {
        dir: u64,
    },
    SyncDir {
        dir: u64,
    },
    ReadAt {
        file: u64,
        offset: u64,
        len: u32,
    },
    Append {
        file: u64,
        data: Vec<u8>,
    },
    WriteAt {
        file: u64,
        offset: u64,
        data: Vec<u8>,
    },
    Truncate {
        file: u64,
        len: u64,
    },
    Len {
        file: u64,
    },
    Sync {
        file: u64,
    },
}

/// A handle the learner's code let go of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Closed {
    File(u64),
    Dir(u64),
}

/// The judge's answer to a [`DiskOp`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiskValue {
    Done,
    File(u64),
    Names(Vec<String>),
    Bytes(Vec<u8>),
    Number(u64),
}

pub type DiskAnswer = Result<DiskValue, WireError>;

/// An `io::Error` on the wire: its kind and its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    pub kind: u8,
    pub message: String,
}

/// The kinds an error keeps across the boundary; any other becomes `Other`.
const KINDS: [io::ErrorKind; 16] = [
    io::ErrorKind::Other,
    io::ErrorKind::NotFound,
    io::ErrorKind::AlreadyExists,
    io::ErrorKind::UnexpectedEof,
    io::ErrorKind::InvalidData,
    io::ErrorKind::InvalidInput,
    io::ErrorKind::PermissionDenied,
    io::ErrorKind::StorageFull,
    io::ErrorKind::Interrupted,
    io::ErrorKind::Unsupported,
    io::ErrorKind::WriteZero,
    io::ErrorKind::BrokenPipe,
    io::ErrorKind::WouldBlock,
    io::ErrorKind::TimedOut,
    io::ErrorKind::OutOfMemory,
    io::ErrorKind::ResourceBusy,
];

impl From<&io::Error> for WireError {
    fn from(error: &io::Error) -> WireError {
        WireError {
            kind: KINDS.iter().position(|k| *k == error.kind()).unwrap_or(0) as u8,
            message: error.to_string(),
        }
    }
}

impl From<io::Error> for WireError {
    fn from(error: io::Error) -> WireError {
        WireError::from(&error)
    }
}

impl From<WireError> for io::Error {
    fn from(error: WireError) -> io::Error {
        let kind = KINDS
            .get(error.kind as usize)
            .copied()
            .unwrap_or(io::ErrorKind::Other);
        io::Error::new(kind, error.message)
    }
}

/// What a sans-IO handler is handed besides its own arguments: the clock, its id and the
/// state of its random source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetContext {
    pub now: Duration,
    pub me: u64,
    pub rng: u64,
}

/// What a sans-IO handler did, to be replayed into the judge's context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetEffects<M, T, S> {
    pub sends: Vec<(u64, M)>,
    pub timers: Vec<(Duration, T)>,
    pub saved: Option<S>,
    pub rng: u64,
}

/// Appends `header` and then `payload` to `out`.
pub fn encode<H: Serialize, P: Serialize + ?Sized>(out: &mut Vec<u8>, header: &H, payload: &P) {
    out.clear();
    // Encoding into a Vec cannot fail for the types used here (no maps with non-string keys
    // are involved, and postcard has no such limit anyway).
    let buf = std::mem::take(out);
    let buf = postcard::to_extend(header, buf).expect("a header always encodes");
    *out = postcard::to_extend(payload, buf).expect("a payload always encodes");
}

/// Splits a message into its header and the bytes after it.
pub fn header<H: DeserializeOwned>(message: &[u8]) -> Result<(H, &[u8]), String> {
    postcard::take_from_bytes(message).map_err(|e| format!("a header that does not decode: {e}"))
}

/// Decodes a payload, which must use every byte.
pub fn payload<P: DeserializeOwned>(bytes: &[u8]) -> Result<P, String> {
    match postcard::take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(format!("{} bytes left after the payload", rest.len())),
        Err(e) => Err(format!("a payload that does not decode: {e}")),
    }
}

/// A version both sides must share; bumped whenever a message changes shape.
pub const PROTOCOL_VERSION: u32 = 3;
