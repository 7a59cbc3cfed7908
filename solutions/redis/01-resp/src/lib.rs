//! RESP, the Redis serialization protocol (versions 2 and 3): a parser that takes bytes as they
//! arrive, in pieces of any size, and a writer.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

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
    match (Parser { buf, limits }).frame(0, 0) {
        Ok(whole) => Ok(Some(whole)),
        Err(Stop::More) => Ok(None),
        Err(Stop::Bad(error)) => Err(error),
    }
}

/// Why reading stopped before a whole frame.
enum Stop {
    More,
    Bad(ParseError),
}

type Step<T> = Result<T, Stop>;

fn bad<T>(kind: ErrorKind, at: usize) -> Step<T> {
    Err(Stop::Bad(ParseError { kind, at }))
}

struct Parser<'a> {
    buf: &'a [u8],
    limits: &'a Limits,
}

impl<'a> Parser<'a> {
    /// The frame whose type byte is at `start`, inside `depth` aggregates, and where it ends.
    fn frame(&self, start: usize, depth: usize) -> Step<(Frame, usize)> {
        let &kind = self.buf.get(start).ok_or(Stop::More)?;
        let frame = match kind {
            b'+' | b'-' | b'(' | b',' => {
                let (line, next) =
                    self.line(start, self.limits.max_bulk_len, ErrorKind::TooLong)?;
                let Ok(text) = std::str::from_utf8(line) else {
                    return bad(ErrorKind::BadValue, start);
                };
                let frame = match kind {
                    b'+' => Frame::Simple(text.to_owned()),
                    b'-' => Frame::Error(text.to_owned()),
                    b'(' if is_big_number(text) => Frame::BigNumber(text.to_owned()),
                    b',' => match text.parse() {
                        Ok(x) => Frame::Double(x),
                        Err(_) => return bad(ErrorKind::BadValue, start),
                    },
                    _ => return bad(ErrorKind::BadValue, start),
                };
                (frame, next)
            }
            b':' | b'#' | b'_' => {
                let (line, next) = self.number_line(start)?;
                let frame = match (kind, line) {
                    (b'#', b"t") => Frame::Boolean(true),
                    (b'#', b"f") => Frame::Boolean(false),
                    (b'_', b"") => Frame::Null,
                    (b':', _) => match number(line) {
                        Some(n) => Frame::Integer(n),
                        None => return bad(ErrorKind::BadValue, start),
                    },
                    _ => return bad(ErrorKind::BadValue, start),
                };
                (frame, next)
            }
            b'$' | b'!' | b'=' => {
                let (line, next) = self.number_line(start)?;
                let len = match number(line) {
                    Some(-1) if kind == b'$' => return Ok((Frame::NullBulk, next)),
                    Some(len) if len >= 0 => len as u64,
                    _ => return bad(ErrorKind::BadValue, start),
                };
                // Judged now, before the data: a length is only a claim until the bytes come.
                if len > self.limits.max_bulk_len as u64 {
                    return bad(ErrorKind::TooLong, start);
                }
                if kind == b'=' && len < 4 {
                    return bad(ErrorKind::BadValue, start);
                }
                let (data, end) = self.data(start, next, len as usize)?;
                let frame = match kind {
                    b'$' => Frame::Bulk(data.to_vec()),
                    b'!' => Frame::BulkError(data.to_vec()),
                    _ => match (std::str::from_utf8(&data[..3]), data[3]) {
                        (Ok(format), b':') => Frame::Verbatim {
                            format: format.to_owned(),
                            text: data[4..].to_vec(),
                        },
                        _ => return bad(ErrorKind::BadValue, start),
                    },
                };
                (frame, end)
            }
            b'*' | b'%' | b'~' | b'>' => return self.aggregate(kind, start, depth),
            _ => return bad(ErrorKind::UnknownType, start),
        };
        Ok(frame)
    }

    fn aggregate(&self, kind: u8, start: usize, depth: usize) -> Step<(Frame, usize)> {
        // Refused at the type byte: a parser that first read the elements would recurse as
        // deep as the bytes ask, and a stack overflow is not an error a server can answer.
        if depth >= self.limits.max_depth {
            return bad(ErrorKind::TooDeep, start);
        }
        let (line, mut at) = self.number_line(start)?;
        let count = match number(line) {
            Some(-1) if kind == b'*' => return Ok((Frame::NullArray, at)),
            Some(count) if count >= 0 => count as u64,
            _ => return bad(ErrorKind::BadValue, start),
        };
        let frames = if kind == b'%' { 2 * count } else { count };
        if frames > self.limits.max_elements as u64 {
            return bad(ErrorKind::TooMany, start);
        }
        // No capacity reserved from the count: the elements have not arrived yet.
        let mut elements = Vec::new();
        for _ in 0..frames {
            let (element, next) = self.frame(at, depth + 1)?;
            elements.push(element);
            at = next;
        }
        let frame = match kind {
            b'*' => Frame::Array(elements),
            b'~' => Frame::Set(elements),
            b'>' => Frame::Push(elements),
            _ => {
                let mut elements = elements.into_iter();
                let mut pairs = Vec::new();
                while let (Some(key), Some(value)) = (elements.next(), elements.next()) {
                    pairs.push((key, value));
                }
                Frame::Map(pairs)
            }
        };
        Ok((frame, at))
    }

    /// The line after the type byte at `start` (without its CRLF), and where the next piece
    /// starts. A line longer than `max` is `too_long` as soon as its byte `max` is not a CR.
    fn line(&self, start: usize, max: usize, too_long: ErrorKind) -> Step<(&'a [u8], usize)> {
        let from = start + 1;
        for (i, &byte) in self.buf[from..].iter().enumerate() {
            match byte {
                b'\r' => {
                    return match self.buf.get(from + i + 1) {
                        None => Err(Stop::More),
                        Some(b'\n') => Ok((&self.buf[from..from + i], from + i + 2)),
                        Some(_) => bad(ErrorKind::BadEnding, start),
                    };
                }
                b'\n' => return bad(ErrorKind::BadEnding, start),
                _ if i == max => return bad(too_long, start),
                _ => {}
            }
        }
        Err(Stop::More)
    }

    fn number_line(&self, start: usize) -> Step<(&'a [u8], usize)> {
        self.line(start, MAX_NUMBER_LINE, ErrorKind::BadValue)
    }

    /// `len` bytes of data from `from`, then a CRLF; the data and where the next piece starts.
    fn data(&self, start: usize, from: usize, len: usize) -> Step<(&'a [u8], usize)> {
        let end = from.saturating_add(len);
        if self.buf.len() < end {
            return Err(Stop::More);
        }
        for (i, expected) in [b'\r', b'\n'].into_iter().enumerate() {
            match self.buf.get(end + i) {
                None => return Err(Stop::More),
                Some(&byte) if byte != expected => return bad(ErrorKind::BadEnding, start),
                Some(_) => {}
            }
        }
        Ok((&self.buf[from..end], end + 2))
    }
}

/// A number in its one spelling: `0`, or an optional `-` and digits without a leading zero,
/// within `i64`.
fn number(line: &[u8]) -> Option<i64> {
    let (negative, digits) = match line {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, line),
    };
    match digits {
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    let mut n: i64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        let digit = i64::from(digit - b'0');
        // Built on the side of its sign, so that i64::MIN, whose magnitude i64 cannot hold,
        // is reached too.
        n = n.checked_mul(10)?;
        n = if negative {
            n.checked_sub(digit)?
        } else {
            n.checked_add(digit)?
        };
    }
    Some(n)
}

fn is_big_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
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
    match frame {
        Frame::Simple(text) => text_line(out, b'+', text),
        Frame::Error(text) => text_line(out, b'-', text),
        Frame::Integer(n) => line(out, b':', n),
        Frame::Bulk(data) => bulk(out, b'$', data),
        Frame::NullBulk => out.extend_from_slice(b"$-1\r\n"),
        Frame::Array(elements) => aggregate(out, b'*', elements),
        Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
        Frame::Null => out.extend_from_slice(b"_\r\n"),
        Frame::Boolean(true) => out.extend_from_slice(b"#t\r\n"),
        Frame::Boolean(false) => out.extend_from_slice(b"#f\r\n"),
        Frame::Double(x) if x.is_nan() => out.extend_from_slice(b",nan\r\n"),
        Frame::Double(x) if *x == f64::INFINITY => out.extend_from_slice(b",inf\r\n"),
        Frame::Double(x) if *x == f64::NEG_INFINITY => out.extend_from_slice(b",-inf\r\n"),
        Frame::Double(x) => line(out, b',', format!("{x:?}")),
        Frame::BigNumber(digits) => {
            assert!(
                is_big_number(digits),
                "a big number is an optional - and digits, not {digits:?}"
            );
            line(out, b'(', digits);
        }
        Frame::BulkError(data) => bulk(out, b'!', data),
        Frame::Verbatim { format, text } => {
            assert!(
                format.len() == 3,
                "a verbatim string's format is 3 bytes, not {format:?}"
            );
            line(out, b'=', 4 + text.len());
            out.extend_from_slice(format.as_bytes());
            out.push(b':');
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
        Frame::Map(pairs) => {
            line(out, b'%', pairs.len());
            for (key, value) in pairs {
                encode(key, out);
                encode(value, out);
            }
        }
        Frame::Set(elements) => aggregate(out, b'~', elements),
        Frame::Push(elements) => aggregate(out, b'>', elements),
    }
}

fn line(out: &mut Vec<u8>, kind: u8, text: impl fmt::Display) {
    out.push(kind);
    out.extend_from_slice(text.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn text_line(out: &mut Vec<u8>, kind: u8, text: &str) {
    assert!(
        !text.contains(['\r', '\n']),
        "a simple string or error cannot hold CR or LF: {text:?}"
    );
    line(out, kind, text);
}

fn bulk(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
    line(out, kind, data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

fn aggregate(out: &mut Vec<u8>, kind: u8, elements: &[Frame]) {
    line(out, kind, elements.len());
    for element in elements {
        encode(element, out);
    }
}
