//! Hidden checks for redis/resp.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use judge::prelude::*;
use redis_resp::{ErrorKind, Frame, Limits, MAX_NUMBER_LINE, ParseError, encode, parse};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "each type is written as the README's examples show (nulls, booleans, doubles, \
             verbatim strings, maps...), and those bytes parse back to the frame",
            golden,
        )
        .check(
            "encode writes any frame, nested or not, byte for byte as the README says",
            encode_matches_reference,
        )
        .check(
            "parse reads back any frame whole (bulk data holding CRLF, i64::MIN and MAX, every \
             double, empty aggregates, maps with aggregates as keys), and used is every byte",
            round_trip,
        )
        .check(
            "every proper prefix of a frame's bytes, down to the empty buffer and ending inside \
             a CRLF, is Ok(None)",
            prefixes_need_more,
        )
        .check(
            "the bytes after a frame are left for the next one: the same frame and used, whatever \
             follows, and frames back to back parse one at a time",
            followed_by_more,
        )
        .check(
            "malformed frames are errors of the README's kind, at the frame's type byte: \
             unknown types, CR without LF, data without its CRLF, numbers in another spelling",
            malformed,
        )
        .check(
            "a number is i64 in one spelling: every i64 reads back, and one past either end is \
             BadValue, never a wrapped number",
            integers,
        )
        .check(
            "a line is Ok(None) until its CRLF, unless it is already too long: past \
             MAX_NUMBER_LINE bytes a number line is BadValue, past max_bulk_len a text line \
             is TooLong",
            long_lines,
        )
        .check(
            "a length over max_bulk_len is TooLong as soon as its line ends, before any data; \
             a huge one within the limits is waited for, never allocated up front",
            bulk_limit,
        )
        .check(
            "a count over max_elements is TooMany as soon as its line ends (a map of n pairs \
             counts 2n); a huge one within the limits is waited for, never allocated up front",
            element_limit,
        )
        .check(
            "max_depth aggregates nested in each other parse, one more is TooDeep at its type \
             byte (10,000 levels too); scalars and siblings are not levels",
            depth_limit,
        )
        .check(
            "values over 64 KiB: a bulk string and a simple string of 70,000 bytes are written, \
             read back and waited for like any other",
            big_values,
        )
        .check(
            "parse agrees with a reference parser on damaged frames and random bytes, under \
             small and default limits, and never panics",
            matches_reference,
        )
        .check(
            "encode panics, as documented, on a frame no parser could read back: CR or LF in a \
             simple string or error, a big number that is not digits, a format not 3 bytes",
            encode_refuses,
        )
}

// ---- showing bytes and frames ----

/// Bytes as a Rust byte string, `b"$2\r\nhi\r\n"`, cut in the middle when long.
struct Esc<'a>(&'a [u8]);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 48;
        let escape = |f: &mut fmt::Formatter<'_>, bytes: &[u8]| -> fmt::Result {
            for &byte in bytes {
                match byte {
                    b'\r' => f.write_str("\\r")?,
                    b'\n' => f.write_str("\\n")?,
                    b'"' => f.write_str("\\\"")?,
                    b'\\' => f.write_str("\\\\")?,
                    0x20..=0x7E => write!(f, "{}", byte as char)?,
                    _ => write!(f, "\\x{byte:02x}")?,
                }
            }
            Ok(())
        };
        f.write_str("b\"")?;
        if self.0.len() <= 2 * SHOWN {
            escape(f, self.0)?;
        } else {
            escape(f, &self.0[..SHOWN])?;
            write!(f, "\" ... ({} bytes) ... b\"", self.0.len())?;
            escape(f, &self.0[self.0.len() - SHOWN..])?;
        }
        f.write_str("\"")
    }
}

/// A frame with its bytes written as byte strings.
struct Shown<'a>(&'a Frame);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, name: &str, items: &[Frame]| -> fmt::Result {
            write!(f, "{name}([")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}", Shown(item))?;
            }
            f.write_str("])")
        };
        match self.0 {
            Frame::Simple(text) => write!(f, "Simple({text:?})"),
            Frame::Error(text) => write!(f, "Error({text:?})"),
            Frame::Integer(n) => write!(f, "Integer({n})"),
            Frame::Bulk(data) => write!(f, "Bulk({})", Esc(data)),
            Frame::NullBulk => f.write_str("NullBulk"),
            Frame::Array(items) => list(f, "Array", items),
            Frame::NullArray => f.write_str("NullArray"),
            Frame::Null => f.write_str("Null"),
            Frame::Boolean(b) => write!(f, "Boolean({b})"),
            Frame::Double(x) => write!(f, "Double({x:?})"),
            Frame::BigNumber(text) => write!(f, "BigNumber({text:?})"),
            Frame::BulkError(data) => write!(f, "BulkError({})", Esc(data)),
            Frame::Verbatim { format, text } => {
                write!(f, "Verbatim {{ format: {format:?}, text: {} }}", Esc(text))
            }
            Frame::Map(pairs) => {
                f.write_str("Map([")?;
                for (i, (key, value)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "({}, {})", Shown(key), Shown(value))?;
                }
                f.write_str("])")
            }
            Frame::Set(items) => list(f, "Set", items),
            Frame::Push(items) => list(f, "Push", items),
        }
    }
}

/// Frames are equal when their doubles have the same bits, or are both NaN.
fn same(a: &Frame, b: &Frame) -> bool {
    let all =
        |a: &[Frame], b: &[Frame]| a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b));
    match (a, b) {
        (Frame::Double(x), Frame::Double(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Frame::Array(a), Frame::Array(b))
        | (Frame::Set(a), Frame::Set(b))
        | (Frame::Push(a), Frame::Push(b)) => all(a, b),
        (Frame::Map(a), Frame::Map(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ak, av), (bk, bv))| same(ak, bk) && same(av, bv))
        }
        _ => a == b,
    }
}

/// What parse returned, compared with `same` and shown readably.
struct Parsed(Result<Option<(Frame, usize)>, ParseError>);

impl PartialEq for Parsed {
    fn eq(&self, other: &Parsed) -> bool {
        match (&self.0, &other.0) {
            (Ok(Some((a, n))), Ok(Some((b, m)))) => n == m && same(a, b),
            (a, b) => a == b,
        }
    }
}

impl fmt::Debug for Parsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok(Some((frame, used))) => write!(f, "Ok(Some(({}, {used})))", Shown(frame)),
            Ok(None) => f.write_str("Ok(None)"),
            Err(ParseError { kind, at }) => {
                write!(f, "Err(ParseError {{ kind: {kind:?}, at: {at} }})")
            }
        }
    }
}

fn whole(frame: &Frame, used: usize) -> Parsed {
    Parsed(Ok(Some((frame.clone(), used))))
}

fn more() -> Parsed {
    Parsed(Ok(None))
}

fn error(kind: ErrorKind, at: usize) -> Parsed {
    Parsed(Err(ParseError { kind, at }))
}

/// The learner's parse, and the call as a message says it.
fn parsed(buf: &[u8], limits: &Limits) -> (String, Parsed) {
    let did = if *limits == DEFAULT {
        format!("parse({}, &Limits::default())", Esc(buf))
    } else {
        format!("parse({}, &{limits:?})", Esc(buf))
    };
    (did, Parsed(parse(buf, limits)))
}

fn expect_parse(buf: &[u8], limits: &Limits, expected: Parsed) -> CheckResult {
    let (did, got) = parsed(buf, limits);
    expect_eq(did, got, expected)
}

fn limits(max_bulk_len: usize, max_depth: usize, max_elements: usize) -> Limits {
    Limits {
        max_bulk_len,
        max_depth,
        max_elements,
    }
}

const DEFAULT: Limits = Limits {
    max_bulk_len: 512 << 20,
    max_depth: 128,
    max_elements: 1 << 20,
};

// ---- the reference ----

fn reference_encode(frame: &Frame, out: &mut Vec<u8>) {
    let head = |out: &mut Vec<u8>, kind: char, text: String| {
        out.extend_from_slice(format!("{kind}{text}\r\n").as_bytes());
    };
    let bulk = |out: &mut Vec<u8>, kind: char, data: &[u8]| {
        head(out, kind, data.len().to_string());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    };
    match frame {
        Frame::Simple(text) => head(out, '+', text.clone()),
        Frame::Error(text) => head(out, '-', text.clone()),
        Frame::Integer(n) => head(out, ':', n.to_string()),
        Frame::Bulk(data) => bulk(out, '$', data),
        Frame::NullBulk => head(out, '$', "-1".into()),
        Frame::NullArray => head(out, '*', "-1".into()),
        Frame::Null => head(out, '_', String::new()),
        Frame::Boolean(b) => head(out, '#', if *b { "t" } else { "f" }.into()),
        Frame::Double(x) => {
            let text = if x.is_nan() {
                "nan".to_string()
            } else if x.is_infinite() {
                if *x > 0.0 { "inf" } else { "-inf" }.to_string()
            } else {
                format!("{x:?}")
            };
            head(out, ',', text)
        }
        Frame::BigNumber(text) => head(out, '(', text.clone()),
        Frame::BulkError(data) => bulk(out, '!', data),
        Frame::Verbatim { format, text } => {
            let mut data = format.as_bytes().to_vec();
            data.push(b':');
            data.extend_from_slice(text);
            bulk(out, '=', &data)
        }
        Frame::Map(pairs) => {
            head(out, '%', pairs.len().to_string());
            for (key, value) in pairs {
                reference_encode(key, out);
                reference_encode(value, out);
            }
        }
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            let kind = match frame {
                Frame::Array(_) => '*',
                Frame::Set(_) => '~',
                _ => '>',
            };
            head(out, kind, items.len().to_string());
            for item in items {
                reference_encode(item, out);
            }
        }
    }
}

fn bytes_of(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    reference_encode(frame, &mut out);
    out
}

/// The README's rules, read one piece at a time: `Err(None)` is "more bytes are needed".
type Step<T> = Result<T, Option<ParseError>>;

fn reference_parse(buf: &[u8], limits: &Limits) -> Parsed {
    Parsed(match read_frame(buf, limits, 0, 0) {
        Ok(whole) => Ok(Some(whole)),
        Err(None) => Ok(None),
        Err(Some(error)) => Err(error),
    })
}

fn refuse<T>(kind: ErrorKind, at: usize) -> Step<T> {
    Err(Some(ParseError { kind, at }))
}

/// The line after the type byte at `start`, and where the next piece starts.
fn read_line(buf: &[u8], start: usize, max: usize, too_long: ErrorKind) -> Step<(&[u8], usize)> {
    let mut i = start + 1;
    loop {
        match buf.get(i) {
            None => return Err(None),
            Some(b'\r') => {
                return match buf.get(i + 1) {
                    None => Err(None),
                    Some(b'\n') => Ok((&buf[start + 1..i], i + 2)),
                    Some(_) => refuse(ErrorKind::BadEnding, start),
                };
            }
            Some(b'\n') => return refuse(ErrorKind::BadEnding, start),
            Some(_) if i - (start + 1) == max => return refuse(too_long, start),
            Some(_) => i += 1,
        }
    }
}

/// The one spelling of an i64, checked against its decimal text in i128.
fn read_number(line: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(line).ok()?;
    let n: i128 = text.parse().ok()?;
    let n = i64::try_from(n).ok()?;
    (n.to_string() == text).then_some(n)
}

fn read_frame(buf: &[u8], limits: &Limits, start: usize, depth: usize) -> Step<(Frame, usize)> {
    let kind = *buf.get(start).ok_or(None)?;
    let bad = |kind| refuse(kind, start);
    match kind {
        b'+' | b'-' | b'(' | b',' => {
            let (line, next) = read_line(buf, start, limits.max_bulk_len, ErrorKind::TooLong)?;
            let text = std::str::from_utf8(line).map_err(|_| ParseError {
                kind: ErrorKind::BadValue,
                at: start,
            });
            let text = text.map_err(Some)?.to_string();
            let digits = text.strip_prefix('-').unwrap_or(&text);
            let frame = match kind {
                b'+' => Frame::Simple(text),
                b'-' => Frame::Error(text),
                b'(' if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                    Frame::BigNumber(text)
                }
                b',' if text.parse::<f64>().is_ok() => Frame::Double(text.parse().unwrap()),
                _ => return bad(ErrorKind::BadValue),
            };
            Ok((frame, next))
        }
        b':' | b'#' | b'_' => {
            let (line, next) = read_line(buf, start, MAX_NUMBER_LINE, ErrorKind::BadValue)?;
            let frame = match (kind, line) {
                (b'#', b"t") => Frame::Boolean(true),
                (b'#', b"f") => Frame::Boolean(false),
                (b'_', b"") => Frame::Null,
                (b':', _) => match read_number(line) {
                    Some(n) => Frame::Integer(n),
                    None => return bad(ErrorKind::BadValue),
                },
                _ => return bad(ErrorKind::BadValue),
            };
            Ok((frame, next))
        }
        b'$' | b'!' | b'=' => {
            let (line, from) = read_line(buf, start, MAX_NUMBER_LINE, ErrorKind::BadValue)?;
            let len = match read_number(line) {
                Some(-1) if kind == b'$' => return Ok((Frame::NullBulk, from)),
                Some(n) if n >= 0 => n as u128,
                _ => return bad(ErrorKind::BadValue),
            };
            if len > limits.max_bulk_len as u128 {
                return bad(ErrorKind::TooLong);
            }
            if kind == b'=' && len < 4 {
                return bad(ErrorKind::BadValue);
            }
            let end = from as u128 + len;
            if (buf.len() as u128) < end {
                return Err(None);
            }
            let end = end as usize;
            match buf.get(end) {
                None => return Err(None),
                Some(b'\r') => {}
                Some(_) => return bad(ErrorKind::BadEnding),
            }
            match buf.get(end + 1) {
                None => return Err(None),
                Some(b'\n') => {}
                Some(_) => return bad(ErrorKind::BadEnding),
            }
            let data = buf[from..end].to_vec();
            let frame = match kind {
                b'$' => Frame::Bulk(data),
                b'!' => Frame::BulkError(data),
                _ => match std::str::from_utf8(&data[..3]) {
                    Ok(format) if data[3] == b':' => Frame::Verbatim {
                        format: format.to_string(),
                        text: data[4..].to_vec(),
                    },
                    _ => return bad(ErrorKind::BadValue),
                },
            };
            Ok((frame, end + 2))
        }
        b'*' | b'%' | b'~' | b'>' => {
            if depth >= limits.max_depth {
                return bad(ErrorKind::TooDeep);
            }
            let (line, mut at) = read_line(buf, start, MAX_NUMBER_LINE, ErrorKind::BadValue)?;
            let count = match read_number(line) {
                Some(-1) if kind == b'*' => return Ok((Frame::NullArray, at)),
                Some(n) if n >= 0 => n as u128,
                _ => return bad(ErrorKind::BadValue),
            };
            let frames = if kind == b'%' { 2 * count } else { count };
            if frames > limits.max_elements as u128 {
                return bad(ErrorKind::TooMany);
            }
            let mut items = Vec::new();
            for _ in 0..frames {
                let (item, next) = read_frame(buf, limits, at, depth + 1)?;
                items.push(item);
                at = next;
            }
            let frame = match kind {
                b'*' => Frame::Array(items),
                b'~' => Frame::Set(items),
                b'>' => Frame::Push(items),
                _ => Frame::Map(
                    items
                        .chunks(2)
                        .map(|pair| (pair[0].clone(), pair[1].clone()))
                        .collect(),
                ),
            };
            Ok((frame, at))
        }
        _ => bad(ErrorKind::UnknownType),
    }
}

// ---- generators ----

fn data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(b'a'..=b'z', 0..10),
        1 => prop::collection::vec(any::<u8>(), 0..40),
        1 => prop::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'$'), Just(b'*'), any::<u8>()],
            0..12
        ),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z :]{0,10}",
        1 => "[^\r\n]{0,8}",
    ]
}

fn integer() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -20i64..100,
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => Just(i64::MIN + 1),
        2 => any::<i64>(),
    ]
}

fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        2 => (-100i32..100).prop_map(|n| f64::from(n) / 4.0),
        1 => prop::sample::select(vec![
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::MAX,
            f64::MIN,
            1e300,
            1e-300,
            1e16,
            0.1,
        ]),
        2 => any::<f64>(),
    ]
}

fn scalar() -> impl Strategy<Value = Frame> {
    prop_oneof![
        text().prop_map(Frame::Simple),
        text().prop_map(Frame::Error),
        integer().prop_map(Frame::Integer),
        data().prop_map(Frame::Bulk),
        Just(Frame::NullBulk),
        Just(Frame::NullArray),
        Just(Frame::Null),
        any::<bool>().prop_map(Frame::Boolean),
        double().prop_map(Frame::Double),
        "-?[0-9]{1,40}".prop_map(Frame::BigNumber),
        data().prop_map(Frame::BulkError),
        ("txt|mkd|[a-z]{3}", data()).prop_map(|(format, text)| Frame::Verbatim { format, text }),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    scalar().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Frame::Array),
            prop::collection::vec((inner.clone(), inner.clone()), 0..3).prop_map(Frame::Map),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Frame::Set),
            prop::collection::vec(inner, 0..4).prop_map(Frame::Push),
        ]
    })
}

/// A frame as the input line of a shrunk failure shows it.
#[derive(Clone)]
struct AnyFrame(Frame);

impl fmt::Debug for AnyFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Shown(&self.0))
    }
}

fn frames() -> impl Strategy<Value = AnyFrame> {
    frame().prop_map(AnyFrame)
}

/// Bytes as the input line of a shrunk failure shows them.
#[derive(Clone)]
struct AnyBytes(Vec<u8>);

impl fmt::Debug for AnyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Esc(&self.0))
    }
}

// ---- the checks ----

fn golden(_: &mut Ctx) -> CheckResult {
    let cases: Vec<(Frame, &[u8])> = vec![
        (Frame::Simple("OK".into()), b"+OK\r\n"),
        (Frame::Error("ERR unknown".into()), b"-ERR unknown\r\n"),
        (Frame::Integer(-42), b":-42\r\n"),
        (Frame::Integer(0), b":0\r\n"),
        (Frame::Bulk(b"hello".to_vec()), b"$5\r\nhello\r\n"),
        (Frame::Bulk(Vec::new()), b"$0\r\n\r\n"),
        (Frame::NullBulk, b"$-1\r\n"),
        (Frame::Array(Vec::new()), b"*0\r\n"),
        (Frame::NullArray, b"*-1\r\n"),
        (
            Frame::Array(vec![
                Frame::Bulk(b"GET".to_vec()),
                Frame::Bulk(b"key".to_vec()),
            ]),
            b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n",
        ),
        (Frame::Null, b"_\r\n"),
        (Frame::Boolean(true), b"#t\r\n"),
        (Frame::Boolean(false), b"#f\r\n"),
        (Frame::Double(1.5), b",1.5\r\n"),
        (Frame::Double(10.0), b",10.0\r\n"),
        (Frame::Double(-0.0), b",-0.0\r\n"),
        (Frame::Double(1e300), b",1e300\r\n"),
        (Frame::Double(5e-324), b",5e-324\r\n"),
        (Frame::Double(f64::INFINITY), b",inf\r\n"),
        (Frame::Double(f64::NEG_INFINITY), b",-inf\r\n"),
        (Frame::Double(f64::NAN), b",nan\r\n"),
        (
            Frame::BigNumber("-123456789012345678901234567890".into()),
            b"(-123456789012345678901234567890\r\n",
        ),
        (
            Frame::BulkError(b"SYNTAX bad".to_vec()),
            b"!10\r\nSYNTAX bad\r\n",
        ),
        (
            Frame::Verbatim {
                format: "txt".into(),
                text: b"Some string".to_vec(),
            },
            b"=15\r\ntxt:Some string\r\n",
        ),
        (
            Frame::Map(vec![
                (Frame::Simple("a".into()), Frame::Integer(1)),
                (Frame::Array(Vec::new()), Frame::Null),
            ]),
            b"%2\r\n+a\r\n:1\r\n*0\r\n_\r\n",
        ),
        (Frame::Map(Vec::new()), b"%0\r\n"),
        (
            Frame::Verbatim {
                format: "é1".into(),
                text: b"x".to_vec(),
            },
            b"=5\r\n\xc3\xa91:x\r\n",
        ),
        (Frame::Set(vec![Frame::Integer(1)]), b"~1\r\n:1\r\n"),
        (
            Frame::Push(vec![Frame::Bulk(b"message".to_vec())]),
            b">1\r\n$7\r\nmessage\r\n",
        ),
    ];
    for (frame, bytes) in &cases {
        let mut out = Vec::new();
        encode(frame, &mut out);
        expect(
            out == *bytes,
            format!(
                "did:      encode(&{}, &mut out)\nexpected: out = {}\ngot:      out = {}",
                Shown(frame),
                Esc(bytes),
                Esc(&out)
            ),
        )?;
    }
    for (frame, bytes) in &cases {
        expect_parse(bytes, &DEFAULT, whole(frame, bytes.len()))?;
    }
    // Other spellings the specification allows read as the same doubles.
    let spellings: [(&[u8], f64); 7] = [
        (b",1.5e3\r\n", 1500.0),
        (b",-1E-2\r\n", -0.01),
        (b",10\r\n", 10.0),
        (b",-inf\r\n", f64::NEG_INFINITY),
        (b",.5\r\n", 0.5),
        (b",+1.5\r\n", 1.5),
        (b",Infinity\r\n", f64::INFINITY),
    ];
    for (text, x) in spellings {
        expect_parse(text, &DEFAULT, whole(&Frame::Double(x), text.len()))?;
    }
    // A NaN is written one way, whatever its sign bit.
    let mut out = Vec::new();
    encode(&Frame::Double(-f64::NAN), &mut out);
    expect(
        out == b",nan\r\n",
        format!(
            "did:      encode(&Double(-f64::NAN), &mut out)\nexpected: out = {}\ngot:      out = {}",
            Esc(b",nan\r\n"),
            Esc(&out)
        ),
    )
}

fn encode_matches_reference(ctx: &mut Ctx) -> CheckResult {
    ctx.forall(frames(), |AnyFrame(frame)| {
        let mut out = b"before".to_vec();
        encode(&frame, &mut out);
        let mut expected = b"before".to_vec();
        reference_encode(&frame, &mut expected);
        expect(
            out == expected,
            format!(
                "did:      out = b\"before\"; encode(&{}, &mut out)\nexpected: out = {}\n\
                 got:      out = {}",
                Shown(&frame),
                Esc(&expected),
                Esc(&out)
            ),
        )
    })
}

fn round_trip(ctx: &mut Ctx) -> CheckResult {
    ctx.forall(frames(), |AnyFrame(frame)| {
        let bytes = bytes_of(&frame);
        expect_parse(&bytes, &DEFAULT, whole(&frame, bytes.len()))
    })
}

fn prefixes_need_more(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_n(96, frames(), |AnyFrame(frame)| {
        let bytes = bytes_of(&frame);
        for cut in 0..bytes.len() {
            let (did, got) = parsed(&bytes[..cut], &DEFAULT);
            expect_eq(
                format!(
                    "{did}: the first {cut} of the {} bytes of {}",
                    bytes.len(),
                    Shown(&frame)
                ),
                got,
                more(),
            )?;
        }
        Ok(())
    })
}

fn followed_by_more(ctx: &mut Ctx) -> CheckResult {
    let trailing = prop_oneof![
        data().prop_map(AnyBytes),
        Just(AnyBytes(b"\r\n".to_vec())),
        Just(AnyBytes(b"garbage\r\n".to_vec())),
    ];
    let input = (prop::collection::vec(frames(), 1..5), trailing);
    ctx.forall_named(
        &["frames", "then"],
        128,
        input,
        |(frames, AnyBytes(tail))| {
            let mut buf = Vec::new();
            let mut ends = Vec::new();
            for AnyFrame(frame) in &frames {
                reference_encode(frame, &mut buf);
                ends.push(buf.len());
            }
            buf.extend_from_slice(&tail);
            let mut at = 0;
            for (AnyFrame(frame), end) in frames.iter().zip(ends) {
                let (did, got) = parsed(&buf[at..], &DEFAULT);
                expect_eq(
                    format!(
                        "{did}: the bytes of the frames from byte {at} on, then {}",
                        Esc(&tail)
                    ),
                    got,
                    whole(frame, end - at),
                )?;
                at = end;
            }
            Ok(())
        },
    )
}

fn malformed(_: &mut Ctx) -> CheckResult {
    use ErrorKind::*;
    let cases: &[(&[u8], ErrorKind, usize)] = &[
        (b"x", UnknownType, 0),
        (b"\r\n", UnknownType, 0),
        (b" +OK\r\n", UnknownType, 0),
        (b"PING\r\n", UnknownType, 0),
        (b"|1\r\n+a\r\n:1\r\n", UnknownType, 0),
        (b"*2\r\n:1\r\nx", UnknownType, 8),
        (b"+OK\rX", BadEnding, 0),
        (b"+O\nK\r\n", BadEnding, 0),
        (b":1\r2\r\n", BadEnding, 0),
        (b"$3\r\nabcX", BadEnding, 0),
        (b"$3\r\nabc\rX", BadEnding, 0),
        (b"$3\r\nabcd\r\n", BadEnding, 0),
        (b"$3\r\nab\r\n", BadEnding, 0),
        (b"*2\r\n$1\r\na\r\n$1\r\nbXY", BadEnding, 11),
        (b":+5\r\n", BadValue, 0),
        (b": 5\r\n", BadValue, 0),
        (b":5 \r\n", BadValue, 0),
        (b":05\r\n", BadValue, 0),
        (b":-0\r\n", BadValue, 0),
        (b":\r\n", BadValue, 0),
        (b":-\r\n", BadValue, 0),
        (b":1.5\r\n", BadValue, 0),
        (b"$-2\r\n", BadValue, 0),
        (b"$+3\r\nabc\r\n", BadValue, 0),
        (b"$03\r\nabc\r\n", BadValue, 0),
        (b"$\r\n", BadValue, 0),
        (b"$x\r\n", BadValue, 0),
        (b"*-2\r\n", BadValue, 0),
        (b"*1x\r\n", BadValue, 0),
        (b"%-1\r\n", BadValue, 0),
        (b"~-1\r\n", BadValue, 0),
        (b">-1\r\n", BadValue, 0),
        (b"!-1\r\n", BadValue, 0),
        (b"=-1\r\n", BadValue, 0),
        (b"=3\r\n", BadValue, 0),
        (b"=5\r\nabcde\r\n", BadValue, 0),
        (b"=5\r\n\xff\xffa:b\r\n", BadValue, 0),
        (b"#x\r\n", BadValue, 0),
        (b"#\r\n", BadValue, 0),
        (b"#true\r\n", BadValue, 0),
        (b"#T\r\n", BadValue, 0),
        (b", 1.5\r\n", BadValue, 0),
        (b",1.5 \r\n", BadValue, 0),
        (b"(+5\r\n", BadValue, 0),
        (b"(\xd9\xa3\r\n", BadValue, 0),
        (b"_x\r\n", BadValue, 0),
        (b",\r\n", BadValue, 0),
        (b",abc\r\n", BadValue, 0),
        (b"(\r\n", BadValue, 0),
        (b"(-\r\n", BadValue, 0),
        (b"(12a\r\n", BadValue, 0),
        (b"(1-2\r\n", BadValue, 0),
        (b"(--1\r\n", BadValue, 0),
        (b"+\xff\r\n", BadValue, 0),
        (b"*1\r\n*1\r\n:x\r\n", BadValue, 8),
        (b"%1\r\n+k\r\n$-5\r\n", BadValue, 8),
    ];
    for &(buf, kind, at) in cases {
        expect_parse(buf, &DEFAULT, error(kind, at))?;
    }
    Ok(())
}

fn integers(ctx: &mut Ctx) -> CheckResult {
    use ErrorKind::BadValue;
    let too_big: &[&[u8]] = &[
        b":9223372036854775808\r\n",
        b":-9223372036854775809\r\n",
        b":10000000000000000000\r\n",
        b":18446744073709551616\r\n",
        b":18446744073709551617\r\n",
        b":-18446744073709551615\r\n",
        b"$18446744073709551619\r\nabc\r\n",
        b"*18446744073709551617\r\n:1\r\n",
        b"%9223372036854775808\r\n",
    ];
    let wide = limits(usize::MAX, 128, usize::MAX);
    for buf in too_big {
        expect_parse(buf, &wide, error(BadValue, 0))?;
    }
    ctx.forall(integer(), |n| {
        let buf = format!(":{n}\r\n").into_bytes();
        expect_parse(&buf, &DEFAULT, whole(&Frame::Integer(n), buf.len()))
    })
}

fn long_lines(_: &mut Ctx) -> CheckResult {
    // A number line of MAX_NUMBER_LINE bytes may still end; one more byte cannot.
    for kind in [b':', b'$', b'*', b'%', b'!', b'#', b'_'] {
        let mut buf = vec![kind];
        buf.extend(std::iter::repeat_n(b'1', MAX_NUMBER_LINE));
        expect_parse(&buf, &DEFAULT, more())?;
        buf.push(b'1');
        expect_parse(&buf, &DEFAULT, error(ErrorKind::BadValue, 0))?;
        let mut nested = b"*1\r\n".to_vec();
        nested.extend_from_slice(&buf);
        expect_parse(&nested, &DEFAULT, error(ErrorKind::BadValue, 4))?;
    }
    expect_parse(
        b":-9223372036854775808\r\n",
        &DEFAULT,
        whole(&Frame::Integer(i64::MIN), 23),
    )?;
    // A text line may be max_bulk_len bytes long.
    let small = limits(8, 128, 16);
    for kind in [b'+', b'-', b'(', b','] {
        let mut buf = vec![kind];
        buf.extend_from_slice(b"12345678");
        expect_parse(&buf, &small, more())?;
        let mut ended = buf.clone();
        ended.extend_from_slice(b"\r");
        expect_parse(&ended, &small, more())?;
        ended.extend_from_slice(b"\n");
        let frame = match kind {
            b'+' => Frame::Simple("12345678".into()),
            b'-' => Frame::Error("12345678".into()),
            b'(' => Frame::BigNumber("12345678".into()),
            _ => Frame::Double(12345678.0),
        };
        expect_parse(&ended, &small, whole(&frame, 11))?;
        buf.push(b'9');
        expect_parse(&buf, &small, error(ErrorKind::TooLong, 0))?;
    }
    // Bad endings are errors at once, not at the end of the line.
    expect_parse(b"+abc\ndef", &small, error(ErrorKind::BadEnding, 0))?;
    expect_parse(b"+abc\rdef", &small, error(ErrorKind::BadEnding, 0))
}

fn bulk_limit(_: &mut Ctx) -> CheckResult {
    let small = limits(10, 128, 16);
    for kind in ['$', '!', '='] {
        let over = format!("{kind}11\r\n").into_bytes();
        expect_parse(&over, &small, error(ErrorKind::TooLong, 0))?;
        let mut nested = b"*1\r\n".to_vec();
        nested.extend_from_slice(&over);
        expect_parse(&nested, &small, error(ErrorKind::TooLong, 4))?;
        let at = format!("{kind}10\r\n").into_bytes();
        expect_parse(&at, &small, more())?;
        let mut full = at.clone();
        full.extend_from_slice(b"txt:567890\r\n");
        let data = b"txt:567890".to_vec();
        let frame = match kind {
            '$' => Frame::Bulk(data),
            '!' => Frame::BulkError(data),
            _ => Frame::Verbatim {
                format: "txt".into(),
                text: b"567890".to_vec(),
            },
        };
        expect_parse(&full, &small, whole(&frame, full.len()))?;
    }
    expect_parse(b"$536870913\r\n", &DEFAULT, error(ErrorKind::TooLong, 0))?;
    expect_parse(b"$4294967296\r\n", &DEFAULT, error(ErrorKind::TooLong, 0))?;
    expect_parse(b"$536870912\r\n", &DEFAULT, more())?;
    // A claim the limits allow is waited for: space for it is not reserved before it comes.
    let wide = limits(usize::MAX, 128, usize::MAX);
    expect_parse(b"$9223372036854775807\r\nabc", &wide, more())?;
    expect_parse(b"=9223372036854775807\r\ntxt:", &wide, more())
}

fn element_limit(_: &mut Ctx) -> CheckResult {
    let small = limits(64, 128, 4);
    let cases: [(&[u8], Parsed); 9] = [
        (b"*4\r\n", more()),
        (b"*5\r\n", error(ErrorKind::TooMany, 0)),
        (b"~5\r\n", error(ErrorKind::TooMany, 0)),
        (b">5\r\n", error(ErrorKind::TooMany, 0)),
        (b"%2\r\n", more()),
        (b"%3\r\n", error(ErrorKind::TooMany, 0)),
        (b"*1\r\n*5\r\n", error(ErrorKind::TooMany, 4)),
        (
            b"*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n",
            whole(&Frame::Array((1..=4).map(Frame::Integer).collect()), 20),
        ),
        (
            b"%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n",
            whole(
                &Frame::Map(vec![
                    (Frame::Integer(1), Frame::Integer(2)),
                    (Frame::Integer(3), Frame::Integer(4)),
                ]),
                20,
            ),
        ),
    ];
    for (buf, expected) in cases {
        expect_parse(buf, &small, expected)?;
    }
    let wide = limits(64, 128, usize::MAX);
    expect_parse(b"*9223372036854775807\r\n:1\r\n", &wide, more())?;
    expect_parse(b"%9223372036854775807\r\n:1\r\n", &wide, more())?;
    expect_parse(b"~9223372036854775807\r\n", &wide, more())
}

fn depth_limit(_: &mut Ctx) -> CheckResult {
    let nested = |levels: usize, inner: &[u8]| {
        let mut buf = b"*1\r\n".repeat(levels);
        buf.extend_from_slice(inner);
        buf
    };
    let wrap =
        |levels: usize, inner: Frame| (0..levels).fold(inner, |frame, _| Frame::Array(vec![frame]));
    let three = limits(64, 3, 16);
    let buf = nested(3, b":1\r\n");
    expect_parse(&buf, &three, whole(&wrap(3, Frame::Integer(1)), buf.len()))?;
    expect_parse(&nested(3, b"*"), &three, error(ErrorKind::TooDeep, 12))?;
    expect_parse(&nested(3, b"%0\r\n"), &three, error(ErrorKind::TooDeep, 12))?;
    expect_parse(
        &nested(2, b"%1\r\n*0\r\n:1\r\n"),
        &three,
        error(ErrorKind::TooDeep, 12),
    )?;
    expect_parse(
        &nested(2, b"%1\r\n:1\r\n~0\r\n"),
        &three,
        error(ErrorKind::TooDeep, 16),
    )?;
    // Scalars and siblings are not levels.
    let one = limits(64, 1, 16);
    let flat = b"*3\r\n:1\r\n$1\r\na\r\n_\r\n";
    let frame = Frame::Array(vec![
        Frame::Integer(1),
        Frame::Bulk(b"a".to_vec()),
        Frame::Null,
    ]);
    expect_parse(flat, &one, whole(&frame, flat.len()))?;
    let two = limits(64, 2, 16);
    let wide = b"*4\r\n*0\r\n*0\r\n%0\r\n~0\r\n";
    let frame = Frame::Array(vec![
        Frame::Array(Vec::new()),
        Frame::Array(Vec::new()),
        Frame::Map(Vec::new()),
        Frame::Set(Vec::new()),
    ]);
    expect_parse(wide, &two, whole(&frame, wide.len()))?;
    let none = limits(64, 0, 16);
    expect_parse(b":1\r\n", &none, whole(&Frame::Integer(1), 4))?;
    expect_parse(b"*0\r\n", &none, error(ErrorKind::TooDeep, 0))?;
    // The default limits: 128 levels parse, and 10,000 are refused, not a stack overflow.
    let buf = nested(128, b"$0\r\n\r\n");
    expect_parse(
        &buf,
        &DEFAULT,
        whole(&wrap(128, Frame::Bulk(Vec::new())), buf.len()),
    )?;
    let deep = nested(10_000, b":1\r\n");
    let (did, got) = parsed(&deep, &DEFAULT);
    expect_eq(
        format!("{did}: 10,000 arrays nested"),
        got,
        error(ErrorKind::TooDeep, 512),
    )
}

fn big_values(ctx: &mut Ctx) -> CheckResult {
    let mut state = ctx.seed() | 1;
    let data: Vec<u8> = (0..70_000)
        .map(|i| {
            if i % 1000 == 0 {
                return b'\r';
            }
            if i % 1000 == 1 {
                return b'\n';
            }
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let text: String = (0..70_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    for frame in [
        Frame::Bulk(data),
        Frame::Simple(text),
        Frame::Array(vec![Frame::BulkError(vec![b'x'; 70_000])]),
    ] {
        let bytes = bytes_of(&frame);
        ctx.doing(format!("encode and parse {}", Shown(&frame)));
        let mut out = Vec::new();
        encode(&frame, &mut out);
        expect(
            out == bytes,
            format!(
                "did:      encode(&{}, &mut out)\nexpected: out = {}\ngot:      out = {}",
                Shown(&frame),
                Esc(&bytes),
                Esc(&out)
            ),
        )?;
        expect_parse(&bytes, &DEFAULT, whole(&frame, bytes.len()))?;
        for cut in [1, 9, 65_537, bytes.len() - 2, bytes.len() - 1] {
            expect_parse(&bytes[..cut], &DEFAULT, more())?;
        }
    }
    Ok(())
}

/// Bytes to parse: damaged frames mostly, random bytes now and then.
fn damaged() -> impl Strategy<Value = AnyBytes> {
    let token = prop::sample::select(vec![
        &b"\r"[..],
        b"\n",
        b"\r\n",
        b"-1",
        b"-",
        b"0",
        b"9",
        b"$",
        b"*",
        b"%",
        b":",
        b"x",
        b"\xff",
        b"99999999999999999999",
    ]);
    let edit = (any::<prop::sample::Index>(), token, 0..3u8);
    let damage = (frame(), prop::collection::vec(edit, 0..3)).prop_map(|(frame, edits)| {
        let mut bytes = bytes_of(&frame);
        for (index, token, how) in edits {
            let at = index.index(bytes.len() + 1);
            match how {
                0 => bytes.splice(at..at, token.iter().copied()).for_each(drop),
                1 if at < bytes.len() => bytes[at] = token[0],
                _ => bytes.truncate(at),
            }
        }
        AnyBytes(bytes)
    });
    let noise = prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(b"+-:$*_#,(!=%~>\r\n01-9tfx".to_vec()),
            1 => any::<u8>(),
        ],
        0..24,
    )
    .prop_map(AnyBytes);
    prop_oneof![3 => damage, 1 => noise]
}

fn any_limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        1 => Just(DEFAULT),
        2 => (0usize..12, 0usize..4, 0usize..6).prop_map(|(b, d, e)| limits(b, d, e)),
    ]
}

fn matches_reference(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["buf", "limits"],
        768,
        (damaged(), any_limits()),
        |(AnyBytes(buf), limits)| {
            let (did, got) = parsed(&buf, &limits);
            expect_eq(did, got, reference_parse(&buf, &limits))
        },
    )
}

/// What a caught panic said.
fn panic_text(panic: &(dyn Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => text.to_string(),
        (_, Some(text)) => text.clone(),
        _ => "(a panic without a message)".into(),
    }
}

fn encode_refuses(_: &mut Ctx) -> CheckResult {
    let cases = [
        (
            Frame::Simple("a\rb".into()),
            "a simple string cannot hold CR",
        ),
        (
            Frame::Simple("ab\n".into()),
            "a simple string cannot hold LF",
        ),
        (
            Frame::Error("ERR\r\n".into()),
            "an error cannot hold CR or LF",
        ),
        (
            Frame::Array(vec![Frame::Integer(1), Frame::Simple("\n".into())]),
            "a simple string cannot hold LF, in an array too",
        ),
        (Frame::BigNumber("12a".into()), "a big number is digits"),
        (
            Frame::BigNumber(String::new()),
            "a big number has a digit at least",
        ),
        (
            Frame::BigNumber("-".into()),
            "a big number has a digit at least",
        ),
        (
            Frame::BigNumber("+1".into()),
            "a big number's only sign is -",
        ),
        (
            Frame::Verbatim {
                format: "tx".into(),
                text: Vec::new(),
            },
            "a verbatim format is 3 bytes",
        ),
        (
            Frame::Verbatim {
                format: "text".into(),
                text: b"x".to_vec(),
            },
            "a verbatim format is 3 bytes",
        ),
    ];
    for (frame, why) in cases {
        let did = format!("encode(&{}, &mut out)", Shown(&frame));
        let mut out = Vec::new();
        match catch_unwind(AssertUnwindSafe(|| encode(&frame, &mut out))) {
            Ok(()) => {
                return fail(format!(
                    "did:      {did}\nexpected: a panic ({why})\ngot:      it returned, \
                     and wrote {}",
                    Esc(&out)
                ));
            }
            Err(panic) => {
                let text = panic_text(&*panic);
                if text.starts_with("not yet implemented") || text.starts_with("not implemented") {
                    return fail(format!(
                        "did:      {did}\nexpected: a panic ({why})\n\
                         got:      it reached a todo!(), which is not written yet"
                    ));
                }
            }
        }
    }
    Ok(())
}
