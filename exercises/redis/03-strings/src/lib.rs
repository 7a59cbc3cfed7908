//! Strings with a time to live: SET's options, counters, EXPIRE and TTL, and keys that expire
//! both when they are touched and by a background sweep that samples them.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.
//!
//! The command table, the protocol's answers and the commands of the last scene are given, as
//! its reference wrote them; the commands that read a key now look it up through
//! `Db::lookup`, which you write, with the rest of the keyspace's bookkeeping.

// Until its bodies are written, a stub leaves parameters, fields and items unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::collections::{HashMap, VecDeque};

/// The frame type of the protocol, re-exported so that code using the keyspace can name it
/// without depending on the RESP crate.
pub use redis_resp::Frame;

/// How many keys with a TTL one round of [`Db::active_expire_cycle`] samples.
pub const SAMPLE: usize = 20;

/// The most rounds one [`Db::active_expire_cycle`] runs: the bound on its work.
pub const MAX_ROUNDS: usize = 16;

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

/// One round of an active expire cycle: how many keys with a TTL it looked at, and how many
/// of those had expired and were removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub sampled: usize,
    pub expired: usize,
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
const SYNTAX_ERROR: &str = "ERR syntax error";
const OVERFLOW: &str = "ERR increment or decrement would overflow";

/// A value in the keyspace: each key holds one type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    String(Vec<u8>),
    List(VecDeque<Vec<u8>>),
}

/// A key's value, and when it expires: the last millisecond it is alive, if it has a TTL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    value: Value,
    expires_at: Option<i64>,
}

/// The keyspace: every key, binary-safe, with its value and its expiry time.
#[derive(Debug, Default)]
pub struct Db {
    keys: HashMap<Vec<u8>, Entry>,
    /// Every key that has a TTL, in no order, so that a round can pick some at random.
    volatile: Vec<Vec<u8>>,
    /// Where each key of `volatile` is in it, to take one out in O(1).
    slot: HashMap<Vec<u8>, usize>,
}

/// A command's handler: the keyspace, the whole request (the name at `args[0]`) and the time.
/// It runs only once the arity has been checked.
type Handler = fn(&mut Db, &[Vec<u8>], i64) -> Frame;

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
    command("incr", 2, incr),
    command("decr", 2, decr),
    command("incrby", 3, incrby),
    command("decrby", 3, decrby),
    command("expire", -3, expire),
    command("pexpire", -3, pexpire),
    command("ttl", 2, ttl),
    command("pttl", 2, pttl),
    command("persist", 2, persist),
    command("dbsize", 1, dbsize),
];

impl Db {
    /// An empty keyspace.
    pub fn new() -> Db {
        Db::default()
    }

    /// Runs one request at time `now` (milliseconds since the Unix epoch) and says what to
    /// answer.
    pub fn execute(&mut self, request: Frame, now: i64) -> Reply {
        match arguments(request) {
            Ok(args) => Reply::Send(self.run(&args, now)),
            Err(reply) => reply,
        }
    }

    /// One active expire cycle at time `now`: rounds of [`SAMPLE`] keys with a TTL picked at
    /// random (from `seed`), each removing those of its keys that have expired, repeated while
    /// a round finds more than a quarter of its sample expired, [`MAX_ROUNDS`] at most.
    pub fn active_expire_cycle(&mut self, now: i64, seed: u64) -> Vec<Round> {
        todo!()
    }

    /// Looks the command up, checks its arity, then runs it.
    fn run(&mut self, args: &[Vec<u8>], now: i64) -> Frame {
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
        (command.run)(self, args, now)
    }

    /// A key is expired once `now` is past its expiry time: at `expires_at` itself it is still
    /// alive.
    fn is_expired(&self, key: &[u8], now: i64) -> bool {
        todo!()
    }

    /// The key's entry, once an expired key has been removed: every command looks its keys up
    /// through here (lazy expiry).
    fn lookup(&mut self, key: &[u8], now: i64) -> Option<&mut Entry> {
        todo!()
    }

    /// Removes the key, its value and its TTL.
    fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        todo!()
    }

    /// Stores the value with the given expiry time, replacing any value and TTL the key had.
    fn insert(&mut self, key: &[u8], value: Value, expires_at: Option<i64>) {
        todo!()
    }

    /// Sets or clears the TTL of a key that is in the keyspace (or was just removed), keeping
    /// `volatile` in step.
    fn set_expiry(&mut self, key: &[u8], expires_at: Option<i64>) {
        todo!()
    }

    /// Swaps two places of `volatile`, and the slots that say where they are.
    fn swap_volatile(&mut self, i: usize, j: usize) {
        todo!()
    }
}

/// A small, fast generator of random numbers (SplitMix64): the same seed, the same picks.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`, `n` above 0.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
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

fn invalid_expire_time(name: &str) -> Frame {
    error(format!("ERR invalid expire time in '{name}' command"))
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

fn ping(_: &mut Db, args: &[Vec<u8>], _: i64) -> Frame {
    // The table says "one or more"; PING itself refuses a second argument.
    match args {
        [_] => Frame::Simple("PONG".into()),
        [_, message] => Frame::Bulk(message.clone()),
        _ => wrong_arity("ping"),
    }
}

fn echo(_: &mut Db, args: &[Vec<u8>], _: i64) -> Frame {
    Frame::Bulk(args[1].clone())
}

fn get(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    match db.lookup(&args[1], now) {
        None => Frame::NullBulk,
        Some(Entry {
            value: Value::String(value),
            ..
        }) => Frame::Bulk(value.clone()),
        Some(_) => error(WRONGTYPE.into()),
    }
}

/// `SET key value [NX|XX] [EX seconds|PX milliseconds|KEEPTTL]`: `+OK`, or nil when NX or XX
/// says not to; a plain SET removes the key's TTL.
fn set(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

fn del(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let mut removed = 0;
    for key in &args[1..] {
        // An expired key is gone already: it does not count.
        if db.lookup(key, now).is_some() {
            db.remove(key);
            removed += 1;
        }
    }
    Frame::Integer(removed)
}

fn exists(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    // Each argument counts, so a key named twice counts twice.
    let mut found = 0;
    for key in &args[1..] {
        if db.lookup(key, now).is_some() {
            found += 1;
        }
    }
    Frame::Integer(found)
}

fn type_of(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let name = match db.lookup(&args[1], now) {
        None => "none",
        Some(Entry {
            value: Value::String(_),
            ..
        }) => "string",
        Some(Entry {
            value: Value::List(_),
            ..
        }) => "list",
    };
    Frame::Simple(name.into())
}

fn rpush(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    push(db, args, now, VecDeque::push_back)
}

fn lpush(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    push(db, args, now, VecDeque::push_front)
}

/// Pushes every element, one at a time, and answers the list's new length. The type is
/// checked before anything is created or pushed.
fn push(
    db: &mut Db,
    args: &[Vec<u8>],
    now: i64,
    put: fn(&mut VecDeque<Vec<u8>>, Vec<u8>),
) -> Frame {
    if db.lookup(&args[1], now).is_none() {
        db.insert(&args[1], Value::List(VecDeque::new()), None);
    }
    let Some(Entry {
        value: Value::List(list),
        ..
    }) = db.lookup(&args[1], now)
    else {
        return error(WRONGTYPE.into());
    };
    for element in &args[2..] {
        put(list, element.clone());
    }
    Frame::Integer(list.len() as i64)
}

fn llen(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    match db.lookup(&args[1], now) {
        None => Frame::Integer(0),
        Some(Entry {
            value: Value::List(list),
            ..
        }) => Frame::Integer(list.len() as i64),
        Some(_) => error(WRONGTYPE.into()),
    }
}

fn lrange(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    // The indexes are read first: a bad one is the error even when the key is missing or
    // holds a string.
    let (Some(start), Some(stop)) = (parse_integer(&args[2]), parse_integer(&args[3])) else {
        return error(NOT_AN_INTEGER.into());
    };
    let list = match db.lookup(&args[1], now) {
        None => return Frame::Array(Vec::new()),
        Some(Entry {
            value: Value::List(list),
            ..
        }) => list,
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

/// `INCR key`: the new value.
fn incr(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `DECR key`: the new value.
fn decr(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `INCRBY key increment`: the new value.
fn incrby(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `DECRBY key decrement`: the new value.
fn decrby(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// Adds `by` to the integer the key holds (0 if it is missing), keeping its TTL.
fn add(db: &mut Db, key: &[u8], by: i64, now: i64) -> Frame {
    todo!()
}

/// `EXPIRE key seconds [NX|XX|GT|LT]`: `:1` if the TTL was set (or the key deleted), else `:0`.
fn expire(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `PEXPIRE key milliseconds [NX|XX|GT|LT]`: as EXPIRE, in milliseconds.
fn pexpire(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// EXPIRE and PEXPIRE: the options, then the time, then the key, in Redis's order.
fn set_ttl(db: &mut Db, args: &[Vec<u8>], now: i64, unit: i64, name: &str) -> Frame {
    todo!()
}

/// `TTL key`: the seconds left, rounded to the nearest; -1 without a TTL, -2 if missing.
fn ttl(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `PTTL key`: the milliseconds left; -1 without a TTL, -2 if missing.
fn pttl(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `None` for a missing key, `Some(-1)` for a key without a TTL, else the milliseconds left.
fn time_to_live(db: &mut Db, key: &[u8], now: i64) -> Option<i64> {
    todo!()
}

/// `PERSIST key`: `:1` if the key had a TTL and now has none, else `:0`.
fn persist(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `DBSIZE`: how many keys the keyspace holds.
fn dbsize(db: &mut Db, _: &[Vec<u8>], _: i64) -> Frame {
    todo!()
}
