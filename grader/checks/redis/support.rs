//! Helpers the redis checks share: how redis-cli shows bytes and requests, and how Redis words
//! the errors every scene after the first answers.

// Every judge of the track includes this module, and a scene uses only what it needs of it.
#![allow(dead_code)]

use std::fmt::Write;

/// Bytes as redis-cli quotes them (`sdscatrepr`): in double quotes, `\"`, `\\`, `\n`, `\r`,
/// `\t`, `\a`, `\b` escaped, other bytes outside printable ASCII as `\xhh`. Longer than 80
/// bytes, the start and the end are shown with the length between them.
pub fn quoted(bytes: &[u8]) -> String {
    const SHOWN: usize = 32;
    let mut out = String::from("\"");
    let mut escape = |bytes: &[u8]| {
        for &byte in bytes {
            match byte {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                0x07 => out.push_str("\\a"),
                0x08 => out.push_str("\\b"),
                0x20..=0x7E => out.push(byte as char),
                _ => {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            }
        }
    };
    if bytes.len() <= 80 {
        escape(bytes);
    } else {
        escape(&bytes[..SHOWN]);
        escape(format!("...({} bytes)...", bytes.len()).as_bytes());
        escape(&bytes[bytes.len() - SHOWN..]);
    }
    out.push('"');
    out
}

/// One argument as it is typed at redis-cli: bare when that reads back the same, quoted
/// otherwise (empty, spaces, quotes, anything not printable).
pub fn word(bytes: &[u8]) -> String {
    let bare = !bytes.is_empty()
        && bytes.len() <= 80
        && bytes
            .iter()
            .all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\'' && b != b'\\');
    if bare {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        quoted(bytes)
    }
}

/// A request as it is typed at redis-cli: `SET "a\r\nb" 1`.
pub fn command_line<A: AsRef<[u8]>>(args: &[A]) -> String {
    if args.is_empty() {
        return "(an empty request)".into();
    }
    let words: Vec<String> = args.iter().map(|arg| word(arg.as_ref())).collect();
    words.join(" ")
}

/// Redis's `string2ll`, which reads every integer argument: `0`, or an optional `-` then digits
/// with no leading zero, within `i64`.
pub fn string2ll(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let digits = text.strip_prefix('-').unwrap_or(text);
    let spelled = text == "0"
        || (digits.starts_with(|c: char| ('1'..='9').contains(&c))
            && digits.bytes().all(|b| b.is_ascii_digit()));
    if !spelled {
        return None;
    }
    text.parse().ok()
}

/// What Redis answers a command it does not know, as `commandCheckExistence` builds it in C:
/// `'%.128s'` of the name, then `'%.*s' ` of each argument while the list is under 128 bytes,
/// with 128 less the list's length as the precision; `%s` stops at a NUL; CR and LF become
/// spaces. Bytes that are not UTF-8 become U+FFFD.
pub fn unknown_command_error<A: AsRef<[u8]>>(args: &[A]) -> String {
    /// `%.*s`: the bytes before the first NUL, at most `precision` of them.
    fn printf_s(bytes: &[u8], precision: usize) -> &[u8] {
        let upto_nul = bytes.split(|&b| b == 0).next().unwrap_or(&[]);
        &upto_nul[..upto_nul.len().min(precision)]
    }
    let mut list: Vec<u8> = Vec::new();
    let mut i = 1;
    while i < args.len() && list.len() < 128 {
        let precision = 128 - list.len();
        let mut item = vec![b'\''];
        item.extend_from_slice(printf_s(args[i].as_ref(), precision));
        item.extend_from_slice(b"' ");
        list.extend(item);
        i += 1;
    }
    let mut text: Vec<u8> = Vec::new();
    text.extend_from_slice(b"ERR unknown command '");
    text.extend_from_slice(printf_s(args[0].as_ref(), 128));
    text.extend_from_slice(b"', with args beginning with: ");
    text.extend(list);
    let text: Vec<u8> = text
        .into_iter()
        .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect();
    String::from_utf8_lossy(&text).into_owned()
}

/// `ERR wrong number of arguments for '<name>' command`, the name as the command table has it.
pub fn arity_error(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
pub const SYNTAX_ERROR: &str = "ERR syntax error";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";

// The lists' and hashes' own words (t_list.c, t_hash.c, object.c).
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
pub const HASH_NOT_AN_INTEGER: &str = "ERR hash value is not an integer";
/// A count that must not be negative (LPOP's, RPOP's), whether negative or not an integer.
pub const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

/// `"SET k v"` as its arguments: words split at spaces.
pub fn words(line: &str) -> Vec<Vec<u8>> {
    line.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

/// A request and what came before it, as a message shows them.
pub fn told(before: &[String], did: &str) -> String {
    if before.is_empty() {
        did.to_string()
    } else {
        format!("{did}\n          (after: {})", before.join("; "))
    }
}

/// Requests and replies of a keyspace scene, written as the checks write them and shown as
/// redis-cli shows them. Each scene's crate has `Frame` and `Reply` types of its own, so these
/// are made in the checks file, for the `Frame` and `Reply` it imports. (The resp and server
/// scenes' checks include this module too, and use none of it.)
#[allow(unused_macros)]
macro_rules! keyspace_replies {
    () => {
        fn request<A: AsRef<[u8]>>(args: &[A]) -> Frame {
            Frame::Array(
                args.iter()
                    .map(|arg| Frame::Bulk(arg.as_ref().to_vec()))
                    .collect(),
            )
        }

        fn ok() -> Reply {
            Reply::Send(Frame::Simple("OK".into()))
        }

        fn simple(text: &str) -> Reply {
            Reply::Send(Frame::Simple(text.into()))
        }

        fn int(n: i64) -> Reply {
            Reply::Send(Frame::Integer(n))
        }

        fn bulk(data: &[u8]) -> Reply {
            Reply::Send(Frame::Bulk(data.to_vec()))
        }

        fn nil() -> Reply {
            Reply::Send(Frame::NullBulk)
        }

        fn err(text: &str) -> Reply {
            Reply::Send(Frame::Error(text.into()))
        }

        /// A frame as redis-cli prints it, on one line: `OK`, `"v"`, `(nil)`, `(integer) 3`,
        /// `(error) ERR ...`, `1) "a" 2) "b"`, `(empty array)`.
        fn cli(frame: &Frame) -> String {
            match frame {
                Frame::Simple(text) => text.clone(),
                Frame::Error(text) => format!("(error) {text}"),
                Frame::Integer(n) => format!("(integer) {n}"),
                Frame::Bulk(data) => crate::support::quoted(data),
                Frame::NullBulk => "(nil)".into(),
                Frame::Array(items) if items.is_empty() => "(empty array)".into(),
                Frame::Array(items) => {
                    let shown: Vec<String> = items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| format!("{}) {}", i + 1, cli(item)))
                        .collect();
                    shown.join(" ")
                }
                Frame::NullArray => "(nil array)".into(),
                other => format!("{other:?}"),
            }
        }

        fn shown(reply: &Reply) -> String {
            match reply {
                Reply::Send(frame) => cli(frame),
                Reply::Nothing => "nothing sent (Reply::Nothing)".into(),
                Reply::Close(frame) => format!("{}, then the connection closed", cli(frame)),
            }
        }

        fn expect_reply(did: &str, got: &Reply, expected: &Reply) -> judge::CheckResult {
            judge::expect(
                got == expected,
                format!(
                    "did:      {did}\nexpected: {}\ngot:      {}",
                    shown(expected),
                    shown(got)
                ),
            )
        }
    };
}

#[allow(unused_imports)]
pub(crate) use keyspace_replies;
