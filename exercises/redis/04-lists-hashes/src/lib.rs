//! Lists and hashes: pushes and pops at both ends, indexes that count from either end, fields
//! of a hash in the order they were set, and keys that vanish when their value is empty.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.
//!
//! Everything of the last scene is here as its reference wrote it: the keyspace with its TTLs,
//! lazy and active expiry, and the string commands. The new commands are in the table, each
//! with an empty handler; `Value::Hash` is declared for you, and `TYPE` already names it.

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
const NO_SUCH_KEY: &str = "ERR no such key";
const OUT_OF_RANGE: &str = "ERR index out of range";
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
const HASH_NOT_AN_INTEGER: &str = "ERR hash value is not an integer";

/// A value in the keyspace: each key holds one type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    String(Vec<u8>),
    List(VecDeque<Vec<u8>>),
    /// Field and value pairs in the order the fields were first set, as Redis keeps a small
    /// hash: an update stays in its place, a new field goes at the end.
    Hash(Pairs),
}

/// A hash's fields and their values, in order.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

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
    command("lpop", -2, lpop),
    command("rpop", -2, rpop),
    command("lindex", 3, lindex),
    command("lset", 4, lset),
    command("lrem", 4, lrem),
    command("ltrim", 4, ltrim),
    command("hset", -4, hset),
    command("hget", 3, hget),
    command("hdel", -3, hdel),
    command("hlen", 2, hlen),
    command("hexists", 3, hexists),
    command("hgetall", 2, hgetall),
    command("hkeys", 2, hkeys),
    command("hvals", 2, hvals),
    command("hincrby", 4, hincrby),
    command("hmget", -3, hmget),
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
        let mut random = SplitMix64(seed);
        let mut rounds = Vec::new();
        while rounds.len() < MAX_ROUNDS && !self.volatile.is_empty() {
            let sampled = self.volatile.len().min(SAMPLE);
            // A partial Fisher-Yates shuffle: the first `sampled` places get distinct keys
            // picked at random among all the keys with a TTL.
            for i in 0..sampled {
                let j = i + random.below(self.volatile.len() - i);
                self.swap_volatile(i, j);
            }
            let picked: Vec<Vec<u8>> = self.volatile[..sampled].to_vec();
            let mut expired = 0;
            for key in picked {
                if self.is_expired(&key, now) {
                    self.remove(&key);
                    expired += 1;
                }
            }
            rounds.push(Round { sampled, expired });
            // Few expired in the sample: few are likely to be left, so the cycle stops.
            if expired * 4 <= sampled {
                break;
            }
        }
        rounds
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
        matches!(self.keys.get(key), Some(Entry { expires_at: Some(at), .. }) if now > *at)
    }

    /// The key's entry, once an expired key has been removed: every command looks its keys up
    /// through here (lazy expiry).
    fn lookup(&mut self, key: &[u8], now: i64) -> Option<&mut Entry> {
        if self.is_expired(key, now) {
            self.remove(key);
        }
        self.keys.get_mut(key)
    }

    /// Removes the key, its value and its TTL.
    fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let entry = self.keys.remove(key)?;
        self.set_expiry(key, None);
        Some(entry)
    }

    /// Stores the value with the given expiry time, replacing any value and TTL the key had.
    fn insert(&mut self, key: &[u8], value: Value, expires_at: Option<i64>) {
        self.keys.insert(
            key.to_vec(),
            Entry {
                value,
                expires_at: None,
            },
        );
        self.set_expiry(key, expires_at);
    }

    /// Sets or clears the TTL of a key that is in the keyspace (or was just removed), keeping
    /// `volatile` in step.
    fn set_expiry(&mut self, key: &[u8], expires_at: Option<i64>) {
        if let Some(entry) = self.keys.get_mut(key) {
            entry.expires_at = expires_at;
        }
        let has_ttl = expires_at.is_some() && self.keys.contains_key(key);
        match (self.slot.get(key).copied(), has_ttl) {
            (None, true) => {
                self.slot.insert(key.to_vec(), self.volatile.len());
                self.volatile.push(key.to_vec());
            }
            (Some(at), false) => {
                let last = self.volatile.len() - 1;
                self.swap_volatile(at, last);
                self.volatile.pop();
                self.slot.remove(key);
            }
            _ => {}
        }
    }

    /// Swaps two places of `volatile`, and the slots that say where they are.
    fn swap_volatile(&mut self, i: usize, j: usize) {
        self.volatile.swap(i, j);
        self.slot.insert(self.volatile[i].clone(), i);
        self.slot.insert(self.volatile[j].clone(), j);
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

/// How SET was asked to treat the key's TTL.
enum Ttl {
    /// Remove it: a plain SET.
    Clear,
    /// KEEPTTL.
    Keep,
    /// EX or PX: the argument, and whether it counts seconds.
    In(Vec<u8>, bool),
}

/// `SET key value [NX|XX] [EX seconds|PX milliseconds|KEEPTTL]`: `+OK`, or nil when NX or XX
/// says not to; a plain SET removes the key's TTL.
fn set(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    // The options first, as Redis reads them: each one allowed only when no option it
    // conflicts with came before it, EX and PX taking the argument after them.
    let (mut nx, mut xx) = (false, false);
    let mut ttl = Ttl::Clear;
    let mut j = 3;
    while j < args.len() {
        let option = args[j].to_ascii_uppercase();
        let next = args.get(j + 1);
        match (option.as_slice(), &ttl, next) {
            (b"NX", _, _) if !xx => nx = true,
            (b"XX", _, _) if !nx => xx = true,
            (b"KEEPTTL", Ttl::Clear | Ttl::Keep, _) => ttl = Ttl::Keep,
            (b"EX", Ttl::Clear, Some(next)) | (b"EX", Ttl::In(_, true), Some(next)) => {
                ttl = Ttl::In(next.clone(), true);
                j += 1;
            }
            (b"PX", Ttl::Clear, Some(next)) | (b"PX", Ttl::In(_, false), Some(next)) => {
                ttl = Ttl::In(next.clone(), false);
                j += 1;
            }
            _ => return error(SYNTAX_ERROR.into()),
        }
        j += 1;
    }
    // Then the time, before the key is looked at.
    let expires_at = match &ttl {
        Ttl::In(time, seconds) => {
            let Some(n) = parse_integer(time) else {
                return error(NOT_AN_INTEGER.into());
            };
            // SET refuses a TTL of 0 or less, and one past the end of time.
            let at = if n <= 0 {
                None
            } else if *seconds {
                n.checked_mul(1000).and_then(|ms| ms.checked_add(now))
            } else {
                n.checked_add(now)
            };
            match at {
                Some(at) => Some(at),
                None => return invalid_expire_time("set"),
            }
        }
        _ => None,
    };
    let old = db.lookup(&args[1], now).map(|entry| entry.expires_at);
    if (nx && old.is_some()) || (xx && old.is_none()) {
        return Frame::NullBulk;
    }
    let expires_at = match ttl {
        Ttl::Keep => old.flatten(),
        _ => expires_at,
    };
    // SET replaces a value of any type.
    db.insert(&args[1], Value::String(args[2].clone()), expires_at);
    Frame::Simple("OK".into())
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
        Some(Entry {
            value: Value::Hash(_),
            ..
        }) => "hash",
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
    add(db, &args[1], 1, now)
}

/// `DECR key`: the new value.
fn decr(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    add(db, &args[1], -1, now)
}

/// `INCRBY key increment`: the new value.
fn incrby(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    match parse_integer(&args[2]) {
        Some(by) => add(db, &args[1], by, now),
        None => error(NOT_AN_INTEGER.into()),
    }
}

/// `DECRBY key decrement`: the new value.
fn decrby(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    match parse_integer(&args[2]) {
        // -i64::MIN is not an i64.
        Some(i64::MIN) => error("ERR decrement would overflow".into()),
        Some(by) => add(db, &args[1], -by, now),
        None => error(NOT_AN_INTEGER.into()),
    }
}

/// Adds `by` to the integer the key holds (0 if it is missing), keeping its TTL.
fn add(db: &mut Db, key: &[u8], by: i64, now: i64) -> Frame {
    let (current, expires_at) = match db.lookup(key, now) {
        None => (0, None),
        Some(Entry {
            value: Value::String(value),
            expires_at,
        }) => match parse_integer(value) {
            Some(n) => (n, *expires_at),
            None => return error(NOT_AN_INTEGER.into()),
        },
        Some(_) => return error(WRONGTYPE.into()),
    };
    let Some(sum) = current.checked_add(by) else {
        return error(OVERFLOW.into());
    };
    let value = Value::String(sum.to_string().into_bytes());
    db.insert(key, value, expires_at);
    Frame::Integer(sum)
}

/// `EXPIRE key seconds [NX|XX|GT|LT]`: `:1` if the TTL was set (or the key deleted), else `:0`.
fn expire(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    set_ttl(db, args, now, 1000, "expire")
}

/// `PEXPIRE key milliseconds [NX|XX|GT|LT]`: as EXPIRE, in milliseconds.
fn pexpire(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    set_ttl(db, args, now, 1, "pexpire")
}

/// EXPIRE and PEXPIRE: the options, then the time, then the key, in Redis's order.
fn set_ttl(db: &mut Db, args: &[Vec<u8>], now: i64, unit: i64, name: &str) -> Frame {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for option in &args[3..] {
        match option.to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => {
                // Redis formats the text, trims CR and LF off its end, then turns the others
                // into spaces.
                let text = format!(
                    "Unsupported option {}",
                    String::from_utf8_lossy(c_string(option, usize::MAX))
                );
                let text = text
                    .trim_end_matches(['\r', '\n'])
                    .replace(['\r', '\n'], " ");
                return error(format!("ERR {text}"));
            }
        }
    }
    if nx && (xx || gt || lt) {
        return error("ERR NX and XX, GT or LT options at the same time are not compatible".into());
    }
    if gt && lt {
        return error("ERR GT and LT options at the same time are not compatible".into());
    }
    let Some(time) = parse_integer(&args[2]) else {
        return error(NOT_AN_INTEGER.into());
    };
    // Any time is allowed, negative too, as long as the deadline is an i64.
    let Some(at) = time.checked_mul(unit).and_then(|ms| ms.checked_add(now)) else {
        return invalid_expire_time(name);
    };
    let key = &args[1];
    let Some(entry) = db.lookup(key, now) else {
        return Frame::Integer(0);
    };
    let current = entry.expires_at;
    // A key without a TTL lives forever: GT never beats that, LT always does.
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|current| at <= current))
        || (lt && current.is_some_and(|current| at >= current));
    if refused {
        return Frame::Integer(0);
    }
    // A deadline already reached deletes the key now.
    if at <= now {
        db.remove(key);
    } else {
        db.set_expiry(key, Some(at));
    }
    Frame::Integer(1)
}

/// `TTL key`: the seconds left, rounded to the nearest; -1 without a TTL, -2 if missing.
fn ttl(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    match time_to_live(db, &args[1], now) {
        // Rounded to the nearest second, as Redis does.
        Some(ms) if ms >= 0 => Frame::Integer((ms + 500) / 1000),
        Some(none) => Frame::Integer(none),
        None => Frame::Integer(-2),
    }
}

/// `PTTL key`: the milliseconds left; -1 without a TTL, -2 if missing.
fn pttl(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    Frame::Integer(time_to_live(db, &args[1], now).unwrap_or(-2))
}

/// `None` for a missing key, `Some(-1)` for a key without a TTL, else the milliseconds left.
fn time_to_live(db: &mut Db, key: &[u8], now: i64) -> Option<i64> {
    let entry = db.lookup(key, now)?;
    Some(match entry.expires_at {
        None => -1,
        Some(at) => (at - now).max(0),
    })
}

/// `PERSIST key`: `:1` if the key had a TTL and now has none, else `:0`.
fn persist(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    match db.lookup(&args[1], now) {
        Some(Entry {
            expires_at: Some(_),
            ..
        }) => {
            db.set_expiry(&args[1], None);
            Frame::Integer(1)
        }
        _ => Frame::Integer(0),
    }
}

/// `DBSIZE`: how many keys the keyspace holds.
fn dbsize(db: &mut Db, _: &[Vec<u8>], _: i64) -> Frame {
    // Every key held, expired ones that nothing has touched yet included.
    Frame::Integer(db.keys.len() as i64)
}

// ---- lists ----

/// `LPOP key [count]`: without a count, the first element or nil; with one, an array of up to
/// `count` elements from the head, or a nil array if the key is missing. The count is read
/// before the key; a list left empty takes its key with it.
fn lpop(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `RPOP key [count]`: as LPOP, from the tail; the array holds the elements in the order they
/// were popped (the last first).
fn rpop(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `LINDEX key index`: the element at the index (negative ones count from the end), or nil.
/// The key is looked at before the index is read.
fn lindex(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `LSET key index element`: `+OK`; `ERR no such key` for a missing key, `ERR index out of
/// range` for an index outside the list.
fn lset(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `LREM key count element`: removes the first `count` elements equal to `element` (from the
/// tail if `count` is negative, all of them if it is 0), and answers how many went.
fn lrem(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `LTRIM key start stop`: keeps the elements LRANGE would show, `+OK`; nothing kept deletes
/// the key.
fn ltrim(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

// ---- hashes ----

/// `HSET key field value [field value ...]`: how many of the fields are new. An odd number of
/// arguments is the arity error.
fn hset(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `HGET key field`: the value, or nil.
fn hget(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `HDEL key field [field ...]`: how many fields went; the last one takes the key with it.
fn hdel(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `HLEN key`: how many fields the hash has, 0 for a missing key.
fn hlen(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `HEXISTS key field`: `:1` or `:0`.
fn hexists(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `HGETALL key`: field, value, field, value, ... in the hash's order, one flat array.
fn hgetall(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `HKEYS key`: the fields, in the hash's order.
fn hkeys(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `HVALS key`: the values, in the hash's order.
fn hvals(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `HINCRBY key field increment`: the new value; the increment is read first, then the type,
/// then the field's value, then the sum.
fn hincrby(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}

/// `HMGET key field [field ...]`: one value or nil per field named.
fn hmget(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    todo!()
}
