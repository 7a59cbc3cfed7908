//! RESP, the Redis serialization protocol (versions 2 and 3): a parser that takes bytes as they
//! arrive, in pieces of any size, and a writer.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters unused. This line keeps those warnings
// out of your way; delete it once every `todo!()` is gone, to see the warnings about your own
// code.
#![allow(unused)]

use std::fmt;

/// The longest line a number, a boolean or a null may have between its type byte and its CRLF:
/// 20 bytes, the length of `-9223372036854775808` (`i64::MIN`).
pub const MAX_NUMBER_LINE: usize = 20;

/// One RESP value, as it travels.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+text\r\n`: a short status reply such as `OK`. No CR or LF inside.
    Simple(String),
    /// `-text\r\n`: an error reply such as `ERR unknown command`. No CR or LF inside.
    Error(String),
    /// `:-42\r\n`
    Integer(i64),
    /// `$5\r\nhello\r\n`: any bytes, CR and LF included: the length says where they end.
    Bulk(Vec<u8>),
    /// `$-1\r\n`: RESP2's null, as a bulk string (a GET of a missing key).
    NullBulk,
    /// `*2\r\n` then two frames.
    Array(Vec<Frame>),
    /// `*-1\r\n`: RESP2's null, as an array.
    NullArray,
    /// `_\r\n`: RESP3's one null.
    Null,
    /// `#t\r\n` or `#f\r\n`.
    Boolean(bool),
    /// `,1.5\r\n`, `,inf\r\n`, `,-inf\r\n`, `,nan\r\n`.
    Double(f64),
    /// `(3492890328409238509324850943850943825024385\r\n`: an optional `-`, then digits.
    BigNumber(String),
    /// `!21\r\nSYNTAX invalid syntax\r\n`: an error whose text may hold any bytes.
    BulkError(Vec<u8>),
    /// `=15\r\ntxt:Some string\r\n`: text with a 3-byte format (`txt`, `mkd`).
    Verbatim { format: String, text: Vec<u8> },
    /// `%2\r\n` then two keys, each followed by its value.
    Map(Vec<(Frame, Frame)>),
    /// `~2\r\n` then two frames.
    Set(Vec<Frame>),
    /// `>2\r\n` then two frames: data the server sends unasked (pub/sub messages).
    Push(Vec<Frame>),
}

/// What one frame may ask of the memory and the stack of the side that reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest bulk string, bulk error or verbatim string, and the longest text line.
    pub max_bulk_len: usize,
    /// The most aggregates (arrays, maps, sets, pushes) nested inside each other.
    pub max_depth: usize,
    /// The most frames one aggregate may announce (a map of n pairs announces 2n).
    pub max_elements: usize,
}

impl Default for Limits {
    /// 512 MiB bulk strings, as Redis's `proto-max-bulk-len`; 128 levels of nesting, which a
    /// parser that recurses holds on its stack with room to spare; 1,048,576 elements, far more
    /// than any command needs.
    fn default() -> Limits {
        Limits {
            max_bulk_len: 512 << 20,
            max_depth: 128,
            max_elements: 1 << 20,
        }
    }
}

/// What was wrong with the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The byte where a frame starts is not one of RESP's type bytes.
    UnknownType,
    /// A CR not followed by LF, an LF without its CR, or bulk data not followed by CRLF.
    BadEnding,
    /// A whole line, or whole data, that its type does not allow: not a number, a negative
    /// length other than `-1`, not `t` or `f`, not UTF-8, a verbatim string without its format,
    /// or a number line longer than [`MAX_NUMBER_LINE`].
    BadValue,
    /// A length, or a text line, longer than `max_bulk_len`.
    TooLong,
    /// A count of elements over `max_elements`.
    TooMany,
    /// An aggregate nested deeper than `max_depth`.
    TooDeep,
}

/// Why the bytes cannot be the start of any frame within the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ErrorKind,
    /// Where the frame being read when it went wrong starts: the offset of its type byte in the
    /// buffer (of the innermost frame, when one is nested in another).
    pub at: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::UnknownType => "unknown type byte",
            ErrorKind::BadEnding => "expected CRLF",
            ErrorKind::BadValue => "invalid value",
            ErrorKind::TooLong => "too long",
            ErrorKind::TooMany => "too many elements",
            ErrorKind::TooDeep => "nested too deep",
        };
        write!(f, "Protocol error: {what} in the frame at byte {}", self.at)
    }
}

impl std::error::Error for ParseError {}

/// Reads the frame at the start of `buf`.
///
/// `Ok(Some((frame, used)))`: a whole frame, `used` bytes long (the bytes after it are left for
/// the next one). `Ok(None)`: `buf` is empty, or stops inside a piece (a line, or data and its
/// CRLF) that is not whole yet and may still end well: more bytes are needed. `Err`: the bytes
/// there already break a rule of the README's "Reading" or "Limits". Never panics, whatever the
/// bytes, and never allocates from a length or a count before the bytes are there.
pub fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(Frame, usize)>, ParseError> {
    todo!()
}

/// Appends the frame's bytes to `out`. Doubles are written as `inf`, `-inf`, `nan`, or Rust's
/// `{:?}` of the number (`1.5`, `-0.0`, `1e300`, `5e-324`), which reads back to the same bits.
///
/// # Panics
///
/// If a `Simple` or `Error` holds a CR or an LF, a `BigNumber` is not an optional `-` and one or
/// more digits, or a `Verbatim`'s format is not exactly 3 bytes: no parser could read those
/// bytes back as the frame that was written.
pub fn encode(frame: &Frame, out: &mut Vec<u8>) {
    todo!()
}
