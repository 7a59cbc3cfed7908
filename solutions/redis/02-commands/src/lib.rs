//! Commands: a keyspace of strings and lists, and a command table that answers every request
//! the way Redis does, errors included, byte for byte.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

use std::collections::{HashMap, VecDeque};

/// The frame type of the protocol, re-exported so that code using the keyspace can name it
/// without depending on the RESP crate.
pub use redis_resp::Frame;

/// What the server does after reading one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Send this frame back.
    Send(Frame),
    /// Send nothing: an empty request (`*0`, `*-1`), which Redis skips.
    Nothing,
    /// Send this error, then close the connection: the request is not an array of bulk
    /// strings, and the bytes after it cannot be trusted to start where it ends.
    Close(Frame),
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
const SYNTAX_ERROR: &str = "ERR syntax error";

/// A value in the keyspace: each key holds one type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    String(Vec<u8>),
    List(VecDeque<Vec<u8>>),
}

/// The keyspace: every key, binary-safe, with its value.
#[derive(Debug, Default)]
pub struct Db {
    keys: HashMap<Vec<u8>, Value>,
}

/// A command's handler: the keyspace and the whole request, the name at `args[0]` (Redis's
/// `argv`). It runs only once the arity has been checked.
type Handler = fn(&mut Db, &[Vec<u8>]) -> Frame;

/// One entry of the command table.
struct Command {
    /// Lowercase, as the arity error names it.
    name: &'static str,
    /// Redis's convention, counting the name: `n` is exactly n, `-n` is n or more.
    arity: i64,
    run: Handler,
}

const fn command(name: &'static str, arity: i64, run: Handler) -> Command {
    Command { name, arity, run }
}

/// Every command this server knows.
const COMMANDS: &[Command] = &[
    command("ping", -1, ping),
    command("echo", 2, echo),
    command("get", 2, get),
    command("set", -3, set),
    command("del", -2, del),
    command("exists", -2, exists),
    command("type", 2, type_of),
    command("rpush", -3, rpush),
    command("lpush", -3, lpush),
    command("llen", 2, llen),
    command("lrange", 4, lrange),
];

impl Db {
    /// An empty keyspace.
    pub fn new() -> Db {
        Db::default()
    }

    /// Runs one request, a RESP frame as the client sent it, and says what to answer.
    pub fn execute(&mut self, request: Frame) -> Reply {
        match arguments(request) {
            Ok(args) => Reply::Send(self.run(&args)),
            Err(reply) => reply,
        }
    }

    /// Looks the command up, checks its arity, then runs it: in that order, as Redis does, so
    /// that an unknown command is never an arity error.
    fn run(&mut self, args: &[Vec<u8>]) -> Frame {
        let Some(command) = COMMANDS
            .iter()
            .find(|command| args[0].eq_ignore_ascii_case(command.name.as_bytes()))
        else {
            return unknown_command(args);
        };
        let argc = args.len() as i64;
        let fits = if command.arity >= 0 {
            argc == command.arity
        } else {
            argc >= -command.arity
        };
        if !fits {
            return wrong_arity(command.name);
        }
        (command.run)(self, args)
    }
}

/// The request's arguments, or what to answer when it is not an array of bulk strings.
fn arguments(request: Frame) -> Result<Vec<Vec<u8>>, Reply> {
    let elements = match request {
        Frame::Array(elements) if elements.is_empty() => return Err(Reply::Nothing),
        Frame::Array(elements) => elements,
        Frame::NullArray => return Err(Reply::Nothing),
        other => {
            return Err(Reply::Close(error(format!(
                "ERR Protocol error: expected '*', got '{}'",
                type_byte(&other) as char
            ))));
        }
    };
    let mut args = Vec::with_capacity(elements.len());
    for element in elements {
        match element {
            Frame::Bulk(arg) => args.push(arg),
            // `$-1` has the right type byte, and a length Redis refuses.
            Frame::NullBulk => {
                return Err(Reply::Close(error(
                    "ERR Protocol error: invalid bulk length".into(),
                )));
            }
            other => {
                return Err(Reply::Close(error(format!(
                    "ERR Protocol error: expected '$', got '{}'",
                    type_byte(&other) as char
                ))));
            }
        }
    }
    Ok(args)
}

/// The byte a frame starts with on the wire.
fn type_byte(frame: &Frame) -> u8 {
    match frame {
        Frame::Simple(_) => b'+',
        Frame::Error(_) => b'-',
        Frame::Integer(_) => b':',
        Frame::Bulk(_) | Frame::NullBulk => b'$',
        Frame::Array(_) | Frame::NullArray => b'*',
        Frame::Null => b'_',
        Frame::Boolean(_) => b'#',
        Frame::Double(_) => b',',
        Frame::BigNumber(_) => b'(',
        Frame::BulkError(_) => b'!',
        Frame::Verbatim { .. } => b'=',
        Frame::Map(_) => b'%',
        Frame::Set(_) => b'~',
        Frame::Push(_) => b'>',
    }
}

fn error(text: String) -> Frame {
    Frame::Error(text)
}

fn wrong_arity(name: &str) -> Frame {
    error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// Redis's text, built the way its C builds it: `'%.128s'` for the name, then each argument
/// as `'%.*s' ` while the list is under 128 bytes, the precision being what is left of 128.
fn unknown_command(args: &[Vec<u8>]) -> Frame {
    let mut listed = Vec::new();
    for arg in &args[1..] {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        listed.push(b'\'');
        listed.extend_from_slice(c_string(arg, room));
        listed.extend_from_slice(b"' ");
    }
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(c_string(&args[0], 128));
    text.extend_from_slice(b"', with args beginning with: ");
    text.extend_from_slice(&listed);
    // A CR or LF would end the error line early: Redis turns them into spaces.
    for byte in &mut text {
        if *byte == b'\r' || *byte == b'\n' {
            *byte = b' ';
        }
    }
    // Redis sends the bytes as they are; an error frame holds text, so any byte that is not
    // UTF-8 (a name cut in the middle of a character, too) becomes U+FFFD.
    error(String::from_utf8_lossy(&text).into_owned())
}

/// What C's `%.*s` prints of these bytes: up to the first NUL, and at most `max` bytes.
fn c_string(bytes: &[u8], max: usize) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end.min(max)]
}

/// Redis's `string2ll`: `0`, or an optional `-` then digits without a leading zero, within
/// `i64`. No `+`, no spaces, no `-0`.
fn parse_integer(bytes: &[u8]) -> Option<i64> {
    let (negative, digits) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, bytes),
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
        n = n.checked_mul(10)?;
        // Built on the side of its sign, so that i64::MIN is reached too.
        n = if negative {
            n.checked_sub(digit)?
        } else {
            n.checked_add(digit)?
        };
    }
    Some(n)
}

fn ping(_: &mut Db, args: &[Vec<u8>]) -> Frame {
    // The table says "one or more"; PING itself refuses a second argument.
    match args {
        [_] => Frame::Simple("PONG".into()),
        [_, message] => Frame::Bulk(message.clone()),
        _ => wrong_arity("ping"),
    }
}

fn echo(_: &mut Db, args: &[Vec<u8>]) -> Frame {
    Frame::Bulk(args[1].clone())
}

fn get(db: &mut Db, args: &[Vec<u8>]) -> Frame {
    match db.keys.get(&args[1]) {
        None => Frame::NullBulk,
        Some(Value::String(value)) => Frame::Bulk(value.clone()),
        Some(_) => error(WRONGTYPE.into()),
    }
}

fn set(db: &mut Db, args: &[Vec<u8>]) -> Frame {
    // Options come in a later scene: for now anything after the value is a syntax error,
    // and the key is left alone.
    if args.len() > 3 {
        return error(SYNTAX_ERROR.into());
    }
    // SET replaces a value of any type.
    db.keys
        .insert(args[1].clone(), Value::String(args[2].clone()));
    Frame::Simple("OK".into())
}

fn del(db: &mut Db, args: &[Vec<u8>]) -> Frame {
    let removed = args[1..]
        .iter()
        .filter(|key| db.keys.remove(*key).is_some())
        .count();
    Frame::Integer(removed as i64)
}

fn exists(db: &mut Db, args: &[Vec<u8>]) -> Frame {
    // Each argument counts, so a key named twice counts twice.
    let found = args[1..]
        .iter()
        .filter(|key| db.keys.contains_key(*key))
        .count();
    Frame::Integer(found as i64)
}

fn type_of(db: &mut Db, args: &[Vec<u8>]) -> Frame {
    let name = match db.keys.get(&args[1]) {
        None => "none",
        Some(Value::String(_)) => "string",
        Some(Value::List(_)) => "list",
    };
    Frame::Simple(name.into())
}

fn rpush(db: &mut Db, args: &[Vec<u8>]) -> Frame {
    push(db, args, VecDeque::push_back)
}

fn lpush(db: &mut Db, args: &[Vec<u8>]) -> Frame {
    push(db, args, VecDeque::push_front)
}

/// Pushes every element, one at a time, and answers the list's new length. The type is
/// checked before anything is created or pushed.
fn push(db: &mut Db, args: &[Vec<u8>], put: fn(&mut VecDeque<Vec<u8>>, Vec<u8>)) -> Frame {
    let value = db
        .keys
        .entry(args[1].clone())
        .or_insert_with(|| Value::List(VecDeque::new()));
    let Value::List(list) = value else {
        return error(WRONGTYPE.into());
    };
    for element in &args[2..] {
        put(list, element.clone());
    }
    Frame::Integer(list.len() as i64)
}

fn llen(db: &mut Db, args: &[Vec<u8>]) -> Frame {
    match db.keys.get(&args[1]) {
        None => Frame::Integer(0),
        Some(Value::List(list)) => Frame::Integer(list.len() as i64),
        Some(_) => error(WRONGTYPE.into()),
    }
}

fn lrange(db: &mut Db, args: &[Vec<u8>]) -> Frame {
    // The indexes are read first: a bad one is the error even when the key is missing or
    // holds a string.
    let (Some(start), Some(stop)) = (parse_integer(&args[2]), parse_integer(&args[3])) else {
        return error(NOT_AN_INTEGER.into());
    };
    let list = match db.keys.get(&args[1]) {
        None => return Frame::Array(Vec::new()),
        Some(Value::List(list)) => list,
        Some(_) => return error(WRONGTYPE.into()),
    };
    let len = list.len() as i64;
    // Negative indexes count from the end; then both are clamped to the list. A start past
    // the end is then past the stop too.
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        len + stop
    } else {
        stop.min(len - 1)
    };
    if start > stop {
        return Frame::Array(Vec::new());
    }
    let range = list.range(start as usize..=stop as usize);
    Frame::Array(range.map(|element| Frame::Bulk(element.clone())).collect())
}
