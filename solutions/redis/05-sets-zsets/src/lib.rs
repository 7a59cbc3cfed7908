//! Sets and sorted sets: members without order, and members kept in order of their scores by a
//! skip list that knows every node's rank.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet, VecDeque};

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
const NOT_A_FLOAT: &str = "ERR value is not a valid float";
const BOUND_NOT_A_FLOAT: &str = "ERR min or max is not a float";
const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";

/// A value in the keyspace: each key holds one type.
#[derive(Debug, Clone)]
enum Value {
    String(Vec<u8>),
    List(VecDeque<Vec<u8>>),
    /// Field and value pairs in the order the fields were first set, as Redis keeps a small
    /// hash: an update stays in its place, a new field goes at the end.
    Hash(Pairs),
    /// Members without order or repeats.
    Set(HashSet<Vec<u8>>),
    /// Members with a score each, in order of (score, member).
    ZSet(ZSet),
}

/// A hash's fields and their values, in order.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// A key's value, and when it expires: the last millisecond it is alive, if it has a TTL.
#[derive(Debug, Clone)]
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
    command("sadd", -3, sadd),
    command("srem", -3, srem),
    command("sismember", 3, sismember),
    command("smismember", -3, smismember),
    command("scard", 2, scard),
    command("smembers", 2, smembers),
    command("sinter", -2, sinter),
    command("sunion", -2, sunion),
    command("sdiff", -2, sdiff),
    command("zadd", -4, zadd),
    command("zrem", -3, zrem),
    command("zscore", 3, zscore),
    command("zcard", 2, zcard),
    command("zincrby", 4, zincrby),
    command("zrank", 3, zrank),
    command("zrevrank", 3, zrevrank),
    command("zrange", -4, zrange),
    command("zrangebyscore", -4, zrangebyscore),
    command("zcount", 4, zcount),
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
#[derive(Debug, Clone)]
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
        Some(Entry {
            value: Value::Set(_),
            ..
        }) => "set",
        Some(Entry {
            value: Value::ZSet(_),
            ..
        }) => "zset",
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

/// The list the key holds: `Ok(None)` if the key is missing, the WRONGTYPE error if it holds
/// another type.
fn list_at<'a>(
    db: &'a mut Db,
    key: &[u8],
    now: i64,
) -> Result<Option<&'a mut VecDeque<Vec<u8>>>, Frame> {
    match db.lookup(key, now) {
        None => Ok(None),
        Some(Entry {
            value: Value::List(list),
            ..
        }) => Ok(Some(list)),
        Some(_) => Err(error(WRONGTYPE.into())),
    }
}

/// Removes the key if its list, hash, set or sorted set has nothing left: Redis keeps no empty aggregate, so an
/// emptied key is missing, TTL and all.
fn drop_if_empty(db: &mut Db, key: &[u8]) {
    let empty = match db.keys.get(key).map(|entry| &entry.value) {
        Some(Value::List(list)) => list.is_empty(),
        Some(Value::Hash(pairs)) => pairs.is_empty(),
        Some(Value::Set(members)) => members.is_empty(),
        Some(Value::ZSet(zset)) => zset.scores.is_empty(),
        _ => false,
    };
    if empty {
        db.remove(key);
    }
}

/// A Redis index into a list of `len` elements: negative ones count from the end (-1 is the
/// last). `None` if it falls outside the list.
fn position(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let index = if index < 0 { len + index } else { index };
    (0..len).contains(&index).then_some(index as usize)
}

fn lpop(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    pop(db, args, now, VecDeque::pop_front)
}

fn rpop(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    pop(db, args, now, VecDeque::pop_back)
}

/// `LPOP key [count]` and `RPOP key [count]`: without a count one element or nil; with one an
/// array of up to `count` elements in the order they were popped, or a nil array if the key is
/// missing. The count is read before the key.
fn pop(
    db: &mut Db,
    args: &[Vec<u8>],
    now: i64,
    take: fn(&mut VecDeque<Vec<u8>>) -> Option<Vec<u8>>,
) -> Frame {
    let name = if args[0].eq_ignore_ascii_case(b"lpop") {
        "lpop"
    } else {
        "rpop"
    };
    let count = match args {
        [_, _] => None,
        [_, _, count] => match parse_integer(count) {
            Some(n) if n >= 0 => Some(n),
            // Not an integer and negative are the same error here.
            _ => return error(MUST_BE_POSITIVE.into()),
        },
        _ => return wrong_arity(name),
    };
    let key = &args[1];
    let list = match list_at(db, key, now) {
        Ok(Some(list)) => list,
        Ok(None) if count.is_some() => return Frame::NullArray,
        Ok(None) => return Frame::NullBulk,
        Err(wrongtype) => return wrongtype,
    };
    let reply = match count {
        None => Frame::Bulk(take(list).expect("a list in the keyspace is never empty")),
        Some(count) => {
            let n = (count as u64).min(list.len() as u64) as usize;
            Frame::Array((0..n).filter_map(|_| take(list)).map(Frame::Bulk).collect())
        }
    };
    drop_if_empty(db, key);
    reply
}

/// `LINDEX key index`: the element, or nil. The key is looked at before the index is read.
fn lindex(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let list = match list_at(db, &args[1], now) {
        Ok(Some(list)) => list,
        Ok(None) => return Frame::NullBulk,
        Err(wrongtype) => return wrongtype,
    };
    let Some(index) = parse_integer(&args[2]) else {
        return error(NOT_AN_INTEGER.into());
    };
    match position(index, list.len()) {
        Some(at) => Frame::Bulk(list[at].clone()),
        None => Frame::NullBulk,
    }
}

/// `LSET key index element`: `+OK`; a missing key and an index outside the list are errors.
fn lset(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let list = match list_at(db, &args[1], now) {
        Ok(Some(list)) => list,
        Ok(None) => return error(NO_SUCH_KEY.into()),
        Err(wrongtype) => return wrongtype,
    };
    let Some(index) = parse_integer(&args[2]) else {
        return error(NOT_AN_INTEGER.into());
    };
    match position(index, list.len()) {
        Some(at) => {
            list[at] = args[3].clone();
            Frame::Simple("OK".into())
        }
        None => error(OUT_OF_RANGE.into()),
    }
}

/// `LREM key count element`: removes the first `count` elements equal to `element` from the
/// head (count > 0), the last `-count` from the tail (count < 0), or all of them (0).
fn lrem(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let Some(count) = parse_integer(&args[2]) else {
        return error(NOT_AN_INTEGER.into());
    };
    // Redis negates a negative count, and i64::MIN has no negation.
    if count == i64::MIN {
        return error(format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        ));
    }
    let key = &args[1];
    let list = match list_at(db, key, now) {
        Ok(Some(list)) => list,
        Ok(None) => return Frame::Integer(0),
        Err(wrongtype) => return wrongtype,
    };
    let element = &args[3];
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs().min(usize::MAX as u64) as usize
    };
    // Which places go: scanned from the end the count names.
    let matching = (0..list.len()).filter(|&i| &list[i] == element);
    let doomed: Vec<usize> = if count < 0 {
        matching.rev().take(limit).collect()
    } else {
        matching.take(limit).collect()
    };
    let mut gone = vec![false; list.len()];
    for &at in &doomed {
        gone[at] = true;
    }
    let mut at = 0;
    list.retain(|_| {
        at += 1;
        !gone[at - 1]
    });
    drop_if_empty(db, key);
    Frame::Integer(doomed.len() as i64)
}

/// `LTRIM key start stop`: keeps the elements from `start` to `stop`, both included, as LRANGE
/// would show them; a range with nothing in it deletes the key.
fn ltrim(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let (Some(start), Some(stop)) = (parse_integer(&args[2]), parse_integer(&args[3])) else {
        return error(NOT_AN_INTEGER.into());
    };
    let key = &args[1];
    let list = match list_at(db, key, now) {
        Ok(Some(list)) => list,
        Ok(None) => return Frame::Simple("OK".into()),
        Err(wrongtype) => return wrongtype,
    };
    let len = list.len() as i64;
    // The same arithmetic as LRANGE's: from the end if negative, then clamped.
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        list.clear();
    } else {
        // A stop past the end keeps the rest: `truncate` beyond the length does nothing.
        list.truncate(stop as usize + 1);
        list.drain(..start as usize);
    }
    drop_if_empty(db, key);
    Frame::Simple("OK".into())
}

// ---- hashes ----

/// The hash the key holds: `Ok(None)` if the key is missing, the WRONGTYPE error if it holds
/// another type.
fn hash_at<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<Option<&'a mut Pairs>, Frame> {
    match db.lookup(key, now) {
        None => Ok(None),
        Some(Entry {
            value: Value::Hash(pairs),
            ..
        }) => Ok(Some(pairs)),
        Some(_) => Err(error(WRONGTYPE.into())),
    }
}

/// The hash the key holds, created empty (without a TTL) if the key is missing. The caller
/// puts a field in it before it returns.
fn hash_or_new<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<&'a mut Pairs, Frame> {
    if db.lookup(key, now).is_none() {
        db.insert(key, Value::Hash(Vec::new()), None);
    }
    Ok(hash_at(db, key, now)?.expect("the key was just made"))
}

/// The value of a field, if the hash has it.
fn field<'a>(pairs: &'a [(Vec<u8>, Vec<u8>)], name: &[u8]) -> Option<&'a Vec<u8>> {
    pairs.iter().find(|(f, _)| f == name).map(|(_, v)| v)
}

/// Sets a field, in its place if the hash has it, at the end if not; true if it is new.
fn set_field(pairs: &mut Pairs, name: &[u8], value: Vec<u8>) -> bool {
    match pairs.iter_mut().find(|(f, _)| f == name) {
        Some((_, old)) => {
            *old = value;
            false
        }
        None => {
            pairs.push((name.to_vec(), value));
            true
        }
    }
}

/// `HSET key field value [field value ...]`: how many of the fields are new.
fn hset(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    // Pairs, or the arity error: the table can only say "four or more".
    if args.len() % 2 == 1 {
        return wrong_arity("hset");
    }
    let pairs = match hash_or_new(db, &args[1], now) {
        Ok(pairs) => pairs,
        Err(wrongtype) => return wrongtype,
    };
    let mut created = 0;
    for pair in args[2..].chunks(2) {
        // A field named twice is new once: the second time it is an update.
        if set_field(pairs, &pair[0], pair[1].clone()) {
            created += 1;
        }
    }
    Frame::Integer(created)
}

fn hget(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    match hash_at(db, &args[1], now) {
        Ok(pairs) => match pairs.and_then(|pairs| field(pairs, &args[2])) {
            Some(value) => Frame::Bulk(value.clone()),
            None => Frame::NullBulk,
        },
        Err(wrongtype) => wrongtype,
    }
}

/// `HDEL key field [field ...]`: how many fields went; the last one takes the key with it.
fn hdel(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let key = &args[1];
    let pairs = match hash_at(db, key, now) {
        Ok(Some(pairs)) => pairs,
        Ok(None) => return Frame::Integer(0),
        Err(wrongtype) => return wrongtype,
    };
    let mut deleted = 0;
    for name in &args[2..] {
        if let Some(at) = pairs.iter().position(|(f, _)| f == name) {
            // `remove`, not `swap_remove`: the others keep their order.
            pairs.remove(at);
            deleted += 1;
        }
    }
    drop_if_empty(db, key);
    Frame::Integer(deleted)
}

fn hlen(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    match hash_at(db, &args[1], now) {
        Ok(pairs) => Frame::Integer(pairs.map_or(0, |pairs| pairs.len() as i64)),
        Err(wrongtype) => wrongtype,
    }
}

fn hexists(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    match hash_at(db, &args[1], now) {
        Ok(pairs) => {
            let found = pairs.is_some_and(|pairs| field(pairs, &args[2]).is_some());
            Frame::Integer(i64::from(found))
        }
        Err(wrongtype) => wrongtype,
    }
}

/// HGETALL, HKEYS and HVALS: the fields, the values or both, in the hash's order, as one flat
/// array; an empty one for a missing key.
fn listing(db: &mut Db, args: &[Vec<u8>], now: i64, fields: bool, values: bool) -> Frame {
    let pairs = match hash_at(db, &args[1], now) {
        Ok(pairs) => pairs.map(|pairs| pairs.as_slice()).unwrap_or_default(),
        Err(wrongtype) => return wrongtype,
    };
    let mut shown = Vec::new();
    for (field, value) in pairs {
        if fields {
            shown.push(Frame::Bulk(field.clone()));
        }
        if values {
            shown.push(Frame::Bulk(value.clone()));
        }
    }
    Frame::Array(shown)
}

/// `HGETALL key`: field, value, field, value, ... as a flat array, as Redis answers a client
/// speaking RESP2.
fn hgetall(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    listing(db, args, now, true, true)
}

fn hkeys(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    listing(db, args, now, true, false)
}

fn hvals(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    listing(db, args, now, false, true)
}

/// `HINCRBY key field increment`: the new value. The increment is read first, then the type,
/// then the field's value, then the sum; an error changes nothing.
fn hincrby(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let Some(by) = parse_integer(&args[3]) else {
        return error(NOT_AN_INTEGER.into());
    };
    let pairs = match hash_or_new(db, &args[1], now) {
        Ok(pairs) => pairs,
        Err(wrongtype) => return wrongtype,
    };
    let current = match field(pairs, &args[2]) {
        None => 0,
        Some(value) => match parse_integer(value) {
            Some(n) => n,
            None => return error(HASH_NOT_AN_INTEGER.into()),
        },
    };
    let Some(sum) = current.checked_add(by) else {
        return error(OVERFLOW.into());
    };
    set_field(pairs, &args[2], sum.to_string().into_bytes());
    Frame::Integer(sum)
}

/// `HMGET key field [field ...]`: one value or nil per field named; a missing key is an empty
/// hash.
fn hmget(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let pairs = match hash_at(db, &args[1], now) {
        Ok(pairs) => pairs,
        Err(wrongtype) => return wrongtype,
    };
    let values = args[2..]
        .iter()
        .map(
            |name| match pairs.as_deref().and_then(|pairs| field(pairs, name)) {
                Some(value) => Frame::Bulk(value.clone()),
                None => Frame::NullBulk,
            },
        )
        .collect();
    Frame::Array(values)
}

// ---- sets ----

/// The set the key holds: `Ok(None)` if the key is missing, the WRONGTYPE error if it holds
/// another type.
fn set_at<'a>(
    db: &'a mut Db,
    key: &[u8],
    now: i64,
) -> Result<Option<&'a mut HashSet<Vec<u8>>>, Frame> {
    match db.lookup(key, now) {
        None => Ok(None),
        Some(Entry {
            value: Value::Set(members),
            ..
        }) => Ok(Some(members)),
        Some(_) => Err(error(WRONGTYPE.into())),
    }
}

fn members_of(members: impl IntoIterator<Item = Vec<u8>>) -> Frame {
    Frame::Array(members.into_iter().map(Frame::Bulk).collect())
}

/// `SADD key member [member ...]`: how many members are new.
fn sadd(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let key = &args[1];
    match set_at(db, key, now) {
        Err(wrongtype) => return wrongtype,
        Ok(None) => db.insert(key, Value::Set(HashSet::new()), None),
        Ok(Some(_)) => {}
    }
    let Ok(Some(members)) = set_at(db, key, now) else {
        unreachable!("the key holds a set");
    };
    let added = args[2..]
        .iter()
        .filter(|member| members.insert(member.to_vec()))
        .count();
    Frame::Integer(added as i64)
}

/// `SREM key member [member ...]`: how many members went; the last one takes the key.
fn srem(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let key = &args[1];
    let members = match set_at(db, key, now) {
        Ok(Some(members)) => members,
        Ok(None) => return Frame::Integer(0),
        Err(wrongtype) => return wrongtype,
    };
    let removed = args[2..]
        .iter()
        .filter(|member| members.remove(*member))
        .count();
    drop_if_empty(db, key);
    Frame::Integer(removed as i64)
}

fn sismember(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    match set_at(db, &args[1], now) {
        Ok(members) => Frame::Integer(i64::from(
            members.is_some_and(|members| members.contains(&args[2])),
        )),
        Err(wrongtype) => wrongtype,
    }
}

/// `SMISMEMBER key member [member ...]`: `:1` or `:0` for each member named.
fn smismember(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let members = match set_at(db, &args[1], now) {
        Ok(members) => members,
        Err(wrongtype) => return wrongtype,
    };
    let found = args[2..]
        .iter()
        .map(|member| {
            let found = members
                .as_ref()
                .is_some_and(|members| members.contains(member));
            Frame::Integer(i64::from(found))
        })
        .collect();
    Frame::Array(found)
}

fn scard(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    match set_at(db, &args[1], now) {
        Ok(members) => Frame::Integer(members.map_or(0, |members| members.len() as i64)),
        Err(wrongtype) => wrongtype,
    }
}

/// `SMEMBERS key`: every member, in no particular order.
fn smembers(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    match set_at(db, &args[1], now) {
        Ok(members) => members_of(members.map(|members| members.clone()).unwrap_or_default()),
        Err(wrongtype) => wrongtype,
    }
}

/// The sets the keys hold, `None` for a missing key; WRONGTYPE if any key holds another type,
/// whichever place it has among the keys.
fn sets_at(
    db: &mut Db,
    keys: &[Vec<u8>],
    now: i64,
) -> Result<Vec<Option<HashSet<Vec<u8>>>>, Frame> {
    keys.iter()
        .map(|key| set_at(db, key, now).map(|members| members.cloned()))
        .collect()
}

/// `SINTER key [key ...]`: the members every set has; a missing key is an empty set, so it
/// makes the answer empty.
fn sinter(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let sets = match sets_at(db, &args[1..], now) {
        Ok(sets) => sets,
        Err(wrongtype) => return wrongtype,
    };
    let Some(sets) = sets.into_iter().collect::<Option<Vec<_>>>() else {
        return Frame::Array(Vec::new());
    };
    // Walk the smallest set and ask the others: the work is bounded by the smallest.
    let smallest = (0..sets.len())
        .min_by_key(|&i| sets[i].len())
        .expect("SINTER names a key at least");
    let common = sets[smallest]
        .iter()
        .filter(|member| sets.iter().all(|set| set.contains(*member)))
        .cloned();
    members_of(common)
}

/// `SUNION key [key ...]`: the members any of the sets has.
fn sunion(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    match sets_at(db, &args[1..], now) {
        Ok(sets) => members_of(sets.into_iter().flatten().flatten().collect::<HashSet<_>>()),
        Err(wrongtype) => wrongtype,
    }
}

/// `SDIFF key [key ...]`: the members of the first set that none of the others has.
fn sdiff(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let sets = match sets_at(db, &args[1..], now) {
        Ok(sets) => sets,
        Err(wrongtype) => return wrongtype,
    };
    let mut sets = sets.into_iter();
    let mut left = sets.next().flatten().unwrap_or_default();
    for other in sets.flatten() {
        left.retain(|member| !other.contains(member));
    }
    members_of(left)
}

// ---- scores ----

/// A score as ZADD, ZINCRBY and the range bounds read it: a decimal number or an infinity
/// (`inf`, `+inf`, `-inf`, any case); no spaces, no NaN, and nothing too large or too small
/// for a double. `-0` is read as 0.
fn parse_score(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let score: f64 = text.parse().ok()?;
    if score.is_nan() {
        return None;
    }
    let digits = text.trim_start_matches(['+', '-']);
    let spelled_infinite = digits.starts_with(['i', 'I']);
    // 1e400 parses as infinity and 1e-400 as 0: Redis calls both out of range.
    if score.is_infinite() && !spelled_infinite {
        return None;
    }
    let mantissa = digits.split(['e', 'E']).next().unwrap_or("");
    if score == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        return None;
    }
    // Adding 0.0 turns -0 into 0, so that one zero is stored.
    Some(score + 0.0)
}

/// A score as Redis writes it: C's `%.17g` (17 significant digits, the shorter of the fixed
/// and the exponent forms, trailing zeros dropped), `inf` and `-inf` for the infinities.
fn format_score(score: f64) -> String {
    if score.is_infinite() {
        return if score > 0.0 { "inf" } else { "-inf" }.into();
    }
    if score == 0.0 {
        return if score.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // The exponent is the one of the number rounded to 17 digits, as %g decides by it.
    let scientific = format!("{score:.16e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` writes an exponent");
    let exponent: i32 = exponent.parse().expect("the exponent is an integer");
    if (-4..17).contains(&exponent) {
        let decimals = (16 - exponent) as usize;
        trim_zeros(&format!("{score:.decimals$}")).into()
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            trim_zeros(mantissa),
            exponent.unsigned_abs()
        )
    }
}

/// Drops the zeros at the end of a decimal fraction, and its point if nothing is left after it.
fn trim_zeros(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

fn score_frame(score: f64) -> Frame {
    Frame::Bulk(format_score(score).into_bytes())
}

/// The order of a sorted set: by score, then by the member's bytes.
fn order(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1))
}

// ---- the skip list ----

/// The most levels a node can have: enough for 4^32 nodes.
const MAX_LEVEL: usize = 32;

/// One level of a node: the next node at that level, and how many places it is ahead.
#[derive(Debug, Clone, Copy)]
struct Link {
    next: Option<usize>,
    /// How many nodes of level 0 the link jumps: 1 to the very next node. A link to nothing
    /// spans the nodes left to the end.
    span: usize,
}

#[derive(Debug, Clone)]
struct Node {
    member: Vec<u8>,
    score: f64,
    /// The node before, at level 0: for walking backwards.
    prev: Option<usize>,
    links: Vec<Link>,
}

/// Members in order of (score, member), as Redis's `zskiplist`: each node is on level 0 and,
/// with a chance of 1 in 4 for each level more, on the levels above. Every link knows how many
/// places it jumps, so a search that adds up the spans it crosses knows the rank where it
/// lands: rank and the node at a rank cost O(log n), as insert and delete do.
#[derive(Debug, Clone)]
pub struct ZSkipList {
    /// Every node, the head (a node with no member, on every level) at 0. A deleted node's
    /// place is kept in `free` for the next insert.
    nodes: Vec<Node>,
    free: Vec<usize>,
    /// The last node, for walking backwards from the end.
    tail: Option<usize>,
    /// How many levels are in use: the highest level of any node.
    level: usize,
    len: usize,
    random: SplitMix64,
    /// How many nodes the last operation stepped onto.
    visited: Cell<usize>,
}

const HEAD: usize = 0;

impl ZSkipList {
    /// An empty list whose nodes' levels are drawn from `seed`: the same seed and the same
    /// inserts make the same list.
    pub fn new(seed: u64) -> ZSkipList {
        let head = Node {
            member: Vec::new(),
            score: 0.0,
            prev: None,
            links: vec![
                Link {
                    next: None,
                    span: 0
                };
                MAX_LEVEL
            ],
        };
        ZSkipList {
            nodes: vec![head],
            free: Vec::new(),
            tail: None,
            level: 1,
            len: 0,
            random: SplitMix64(seed),
            visited: Cell::new(0),
        }
    }

    /// How many members the list holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the list holds no member.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many nodes the last `insert`, `delete`, `rank` or `by_rank` stepped onto: the work
    /// it did, which is O(log n).
    pub fn visited(&self) -> usize {
        self.visited.get()
    }

    /// A level for a new node: 1, then one more with a chance of 1 in 4 each time.
    fn random_level(&mut self) -> usize {
        let mut level = 1;
        while level < MAX_LEVEL && self.random.next().is_multiple_of(4) {
            level += 1;
        }
        level
    }

    fn key(&self, at: usize) -> (f64, &[u8]) {
        (self.nodes[at].score, &self.nodes[at].member)
    }

    /// From the top level down, the last node at each level that comes before `(score,
    /// member)` in the order (the head if none does), and its rank counting the head as 0.
    /// Returns them with the number of nodes stepped onto.
    fn before(&self, score: f64, member: &[u8]) -> ([usize; MAX_LEVEL], [usize; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0; MAX_LEVEL];
        let mut x = HEAD;
        let mut visited = 0;
        for i in (0..self.level).rev() {
            rank[i] = if i + 1 == self.level { 0 } else { rank[i + 1] };
            while let Some(next) = self.nodes[x].links[i].next {
                if order(self.key(next), (score, member)) != Ordering::Less {
                    break;
                }
                rank[i] += self.nodes[x].links[i].span;
                x = next;
                visited += 1;
            }
            update[i] = x;
        }
        self.visited.set(visited);
        (update, rank)
    }

    /// Adds a member with its score. The member must not be in the list: a new score is a
    /// `delete` of the old, then an `insert`.
    pub fn insert(&mut self, score: f64, member: &[u8]) {
        let (mut update, mut rank) = self.before(score, member);
        let level = self.random_level();
        if level > self.level {
            // The new levels start at the head, whose links there span the whole list.
            for i in self.level..level {
                rank[i] = 0;
                update[i] = HEAD;
                self.nodes[HEAD].links[i].span = self.len;
            }
            self.level = level;
        }
        let node = Node {
            member: member.to_vec(),
            score,
            prev: (update[0] != HEAD).then_some(update[0]),
            links: vec![
                Link {
                    next: None,
                    span: 0
                };
                level
            ],
        };
        let x = match self.free.pop() {
            Some(at) => {
                self.nodes[at] = node;
                at
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        };
        for i in 0..level {
            let before = update[i];
            let link = self.nodes[before].links[i];
            // The new node sits `rank[0] - rank[i]` places after `before` at this level: it
            // takes over the rest of `before`'s span, and `before` now spans up to it.
            let ahead = rank[0] - rank[i];
            self.nodes[x].links[i] = Link {
                next: link.next,
                span: link.span - ahead,
            };
            self.nodes[before].links[i] = Link {
                next: Some(x),
                span: ahead + 1,
            };
        }
        // The levels above the new node jump over it: one place more.
        for (i, &before) in update.iter().enumerate().take(self.level).skip(level) {
            self.nodes[before].links[i].span += 1;
        }
        match self.nodes[x].links[0].next {
            Some(next) => self.nodes[next].prev = Some(x),
            None => self.tail = Some(x),
        }
        self.len += 1;
    }

    /// Removes a member with its score; false if the list does not hold that pair.
    pub fn delete(&mut self, score: f64, member: &[u8]) -> bool {
        let (update, _) = self.before(score, member);
        let Some(x) = self.nodes[update[0]].links[0].next else {
            return false;
        };
        if order(self.key(x), (score, member)) != Ordering::Equal {
            return false;
        }
        for (i, &before) in update.iter().enumerate().take(self.level) {
            let link = self.nodes[before].links[i];
            if link.next == Some(x) {
                // `before` now jumps to where `x` jumped, over one place less.
                let after = self.nodes[x].links[i];
                self.nodes[before].links[i] = Link {
                    next: after.next,
                    span: link.span + after.span - 1,
                };
            } else {
                // A link over `x` spans one place less.
                self.nodes[before].links[i].span -= 1;
            }
        }
        let prev = self.nodes[x].prev;
        match self.nodes[x].links[0].next {
            Some(next) => self.nodes[next].prev = prev,
            None => self.tail = prev,
        }
        while self.level > 1 && self.nodes[HEAD].links[self.level - 1].next.is_none() {
            self.level -= 1;
        }
        self.nodes[x].member = Vec::new();
        self.free.push(x);
        self.len -= 1;
        true
    }

    /// The place of a member with its score, 0 for the first in order; `None` if the list does
    /// not hold that pair.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let mut x = HEAD;
        let mut rank = 0;
        let mut visited = 0;
        for i in (0..self.level).rev() {
            while let Some(next) = self.nodes[x].links[i].next {
                if order(self.key(next), (score, member)) == Ordering::Greater {
                    break;
                }
                rank += self.nodes[x].links[i].span;
                x = next;
                visited += 1;
            }
            // Every node up to x is at or before the pair: if x is the pair, done.
            if x != HEAD && order(self.key(x), (score, member)) == Ordering::Equal {
                self.visited.set(visited);
                return Some(rank - 1);
            }
        }
        self.visited.set(visited);
        None
    }

    /// The member and score at a place, 0 for the first; `None` past the end.
    pub fn by_rank(&self, rank: usize) -> Option<(Vec<u8>, f64)> {
        let at = self.node_at(rank)?;
        Some((self.nodes[at].member.clone(), self.nodes[at].score))
    }

    /// The node at a place, 0 for the first.
    fn node_at(&self, rank: usize) -> Option<usize> {
        if rank >= self.len {
            self.visited.set(0);
            return None;
        }
        // Ranks count the head as 0 here, so the node at place `rank` is at `rank + 1`.
        let target = rank + 1;
        let mut x = HEAD;
        let mut traversed = 0;
        let mut visited = 0;
        for i in (0..self.level).rev() {
            while let Some(next) = self.nodes[x].links[i].next {
                let span = self.nodes[x].links[i].span;
                if traversed + span > target {
                    break;
                }
                traversed += span;
                x = next;
                visited += 1;
            }
            if traversed == target {
                break;
            }
        }
        self.visited.set(visited);
        Some(x)
    }

    /// How many members come before the first whose score is above `min` (at or above it if
    /// `inclusive`): the place where a range starting at `min` starts.
    fn count_below(&self, min: f64, inclusive: bool) -> usize {
        let mut x = HEAD;
        let mut rank = 0;
        for i in (0..self.level).rev() {
            while let Some(next) = self.nodes[x].links[i].next {
                let score = self.nodes[next].score;
                let below = if inclusive { score < min } else { score <= min };
                if !below {
                    break;
                }
                rank += self.nodes[x].links[i].span;
                x = next;
            }
        }
        rank
    }

    /// The members from place `from` on, in order, or backwards when `reverse`.
    fn walk(&self, from: usize, reverse: bool) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let mut at = self.node_at(from);
        std::iter::from_fn(move || {
            let x = at?;
            let node = &self.nodes[x];
            at = if reverse {
                node.prev
            } else {
                node.links[0].next
            };
            Some((node.member.as_slice(), node.score))
        })
    }
}

// ---- sorted sets ----

/// A sorted set: the score of each member, for ZSCORE in O(1), and the members in order.
#[derive(Debug, Clone)]
struct ZSet {
    scores: HashMap<Vec<u8>, f64>,
    list: ZSkipList,
}

/// The seed of every sorted set's levels: any will do, and a fixed one makes runs repeat.
const ZSET_SEED: u64 = 0x5EED;

impl ZSet {
    fn new() -> ZSet {
        ZSet {
            scores: HashMap::new(),
            list: ZSkipList::new(ZSET_SEED),
        }
    }

    /// Sets a member's score, adding the member if it is new.
    fn set(&mut self, member: &[u8], score: f64) {
        if let Some(old) = self.scores.insert(member.to_vec(), score) {
            if old == score {
                return;
            }
            self.list.delete(old, member);
        }
        self.list.insert(score, member);
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        match self.scores.remove(member) {
            Some(score) => self.list.delete(score, member),
            None => false,
        }
    }
}

/// The sorted set the key holds: `Ok(None)` if the key is missing, the WRONGTYPE error if it
/// holds another type.
fn zset_at<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<Option<&'a mut ZSet>, Frame> {
    match db.lookup(key, now) {
        None => Ok(None),
        Some(Entry {
            value: Value::ZSet(zset),
            ..
        }) => Ok(Some(zset)),
        Some(_) => Err(error(WRONGTYPE.into())),
    }
}

/// ZADD's options.
#[derive(Default)]
struct ZaddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`: how many members
/// are new (with CH: new or given another score); with INCR, the member's new score, or nil
/// if an option said not to.
fn zadd(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let mut flags = ZaddFlags::default();
    let mut at = 2;
    // Options come first; the first argument that is none is the first score.
    while let Some(option) = args.get(at) {
        match option.to_ascii_uppercase().as_slice() {
            b"NX" => flags.nx = true,
            b"XX" => flags.xx = true,
            b"GT" => flags.gt = true,
            b"LT" => flags.lt = true,
            b"CH" => flags.ch = true,
            b"INCR" => flags.incr = true,
            _ => break,
        }
        at += 1;
    }
    zadd_with(db, &args[1], &args[at..], flags, now)
}

/// `ZINCRBY key increment member`: ZADD INCR, which always answers the new score.
fn zincrby(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let flags = ZaddFlags {
        incr: true,
        ..ZaddFlags::default()
    };
    zadd_with(db, &args[1], &args[2..], flags, now)
}

/// ZADD once its options are read: then, in Redis's order, the count of the arguments, the
/// options that cannot go together, every score, and only then the key.
fn zadd_with(db: &mut Db, key: &[u8], pairs: &[Vec<u8>], flags: ZaddFlags, now: i64) -> Frame {
    let ZaddFlags {
        nx,
        xx,
        gt,
        lt,
        ch,
        incr,
    } = flags;
    if pairs.is_empty() || pairs.len() % 2 == 1 {
        return error(SYNTAX_ERROR.into());
    }
    if nx && xx {
        return error("ERR XX and NX options at the same time are not compatible".into());
    }
    if ((gt || lt) && nx) || (gt && lt) {
        return error("ERR GT, LT, and/or NX options at the same time are not compatible".into());
    }
    if incr && pairs.len() > 2 {
        return error("ERR INCR option supports a single increment-element pair".into());
    }
    let mut scores = Vec::with_capacity(pairs.len() / 2);
    for pair in pairs.chunks(2) {
        match parse_score(&pair[0]) {
            Some(score) => scores.push((score, &pair[1])),
            None => return error(NOT_A_FLOAT.into()),
        }
    }
    let missing = |incr: bool| {
        if incr {
            Frame::NullBulk
        } else {
            Frame::Integer(0)
        }
    };
    match zset_at(db, key, now) {
        Err(wrongtype) => return wrongtype,
        // XX adds nothing, so a missing key stays missing.
        Ok(None) if xx => return missing(incr),
        Ok(None) => db.insert(key, Value::ZSet(ZSet::new()), None),
        Ok(Some(_)) => {}
    }
    let Ok(Some(zset)) = zset_at(db, key, now) else {
        unreachable!("the key holds a sorted set");
    };
    let (mut added, mut changed, mut done) = (0, 0, 0);
    let mut last = 0.0;
    for (score, member) in scores {
        match zset.scores.get(member.as_slice()).copied() {
            None if xx => {}
            None => {
                zset.set(member, score);
                added += 1;
                done += 1;
                last = score;
            }
            Some(_) if nx => {}
            Some(current) => {
                let score = if incr { current + score } else { score };
                // inf + -inf: the member keeps its score.
                if score.is_nan() {
                    return error(NAN_SCORE.into());
                }
                // GT and LT hold back a score that does not beat the current one.
                if (gt && score <= current) || (lt && score >= current) {
                    continue;
                }
                if score != current {
                    zset.set(member, score);
                    changed += 1;
                }
                done += 1;
                last = score;
            }
        }
    }
    if incr {
        // One pair: answered with its score, or nil when an option held it back.
        if done > 0 {
            score_frame(last)
        } else {
            Frame::NullBulk
        }
    } else if ch {
        Frame::Integer(added + changed)
    } else {
        Frame::Integer(added)
    }
}

/// `ZREM key member [member ...]`: how many members went; the last one takes the key.
fn zrem(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let key = &args[1];
    let zset = match zset_at(db, key, now) {
        Ok(Some(zset)) => zset,
        Ok(None) => return Frame::Integer(0),
        Err(wrongtype) => return wrongtype,
    };
    let removed = args[2..]
        .iter()
        .filter(|member| zset.remove(member))
        .count();
    drop_if_empty(db, key);
    Frame::Integer(removed as i64)
}

fn zscore(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    match zset_at(db, &args[1], now) {
        Ok(zset) => match zset.and_then(|zset| zset.scores.get(&args[2])) {
            Some(&score) => score_frame(score),
            None => Frame::NullBulk,
        },
        Err(wrongtype) => wrongtype,
    }
}

fn zcard(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    match zset_at(db, &args[1], now) {
        Ok(zset) => Frame::Integer(zset.map_or(0, |zset| zset.scores.len() as i64)),
        Err(wrongtype) => wrongtype,
    }
}

fn zrank(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    rank_of(db, args, now, false)
}

fn zrevrank(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    rank_of(db, args, now, true)
}

/// ZRANK and ZREVRANK: the member's place from the lowest score (or the highest), or nil.
fn rank_of(db: &mut Db, args: &[Vec<u8>], now: i64, reverse: bool) -> Frame {
    let zset = match zset_at(db, &args[1], now) {
        Ok(Some(zset)) => zset,
        Ok(None) => return Frame::NullBulk,
        Err(wrongtype) => return wrongtype,
    };
    let Some(&score) = zset.scores.get(&args[2]) else {
        return Frame::NullBulk;
    };
    let rank = zset
        .list
        .rank(score, &args[2])
        .expect("every member with a score is in the list");
    let rank = if reverse {
        zset.list.len() - 1 - rank
    } else {
        rank
    };
    Frame::Integer(rank as i64)
}

/// One end of a score range: the score, and whether the end itself is in the range.
#[derive(Clone, Copy)]
struct Bound {
    score: f64,
    inclusive: bool,
}

/// A bound as Redis reads it: a score, or `(` then a score for an end left out.
fn parse_bound(bytes: &[u8]) -> Option<Bound> {
    match bytes {
        [b'(', rest @ ..] => Some(Bound {
            score: parse_score(rest)?,
            inclusive: false,
        }),
        _ => Some(Bound {
            score: parse_score(bytes)?,
            inclusive: true,
        }),
    }
}

/// The places `from..to` of the members whose scores are between the bounds.
fn ranks_between(list: &ZSkipList, min: Bound, max: Bound) -> (usize, usize) {
    let from = list.count_below(min.score, min.inclusive);
    // The members up to max are the ones below "just past" max.
    let to = list.count_below(max.score, !max.inclusive);
    (from, to.max(from))
}

/// How ZRANGE reads its two range arguments.
#[derive(Clone, Copy, PartialEq)]
enum By {
    Rank,
    Score,
}

/// `ZRANGE key start stop [BYSCORE] [REV] [LIMIT offset count] [WITHSCORES]`.
fn zrange(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    range(db, args, now, None)
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`: ZRANGE BYSCORE.
fn zrangebyscore(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    range(db, args, now, Some(By::Score))
}

/// ZRANGE and ZRANGEBYSCORE, read as Redis reads them: the options, their conflicts, the range,
/// and only then the key.
fn range(db: &mut Db, args: &[Vec<u8>], now: i64, fixed: Option<By>) -> Frame {
    let mut by = fixed;
    // ZRANGEBYSCORE is always forwards: REV is not one of its options.
    let mut reverse = fixed.map(|_| false);
    let mut withscores = false;
    // -1 is "no limit", as in Redis, where LIMIT 0 -1 is the same as no LIMIT at all.
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = 4;
    while j < args.len() {
        let option = args[j].to_ascii_uppercase();
        let left = args.len() - j - 1;
        match option.as_slice() {
            b"WITHSCORES" => withscores = true,
            b"LIMIT" if left >= 2 => {
                let (Some(o), Some(l)) = (parse_integer(&args[j + 1]), parse_integer(&args[j + 2]))
                else {
                    return error(NOT_AN_INTEGER.into());
                };
                (offset, limit) = (o, l);
                j += 2;
            }
            b"REV" if reverse.is_none() => reverse = Some(true),
            b"BYSCORE" if by.is_none() => by = Some(By::Score),
            _ => return error(SYNTAX_ERROR.into()),
        }
        j += 1;
    }
    let by = by.unwrap_or(By::Rank);
    let reverse = reverse.unwrap_or(false);
    if limit != -1 && by == By::Rank {
        return error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
                .into(),
        );
    }
    // Reversed by score, the range is written from its high end: max first.
    let (low, high) = if reverse && by == By::Score {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let places = match by {
        By::Rank => {
            let (Some(start), Some(stop)) = (parse_integer(low), parse_integer(high)) else {
                return error(NOT_AN_INTEGER.into());
            };
            Places::Ranks(start, stop)
        }
        By::Score => {
            let (Some(min), Some(max)) = (parse_bound(low), parse_bound(high)) else {
                return error(BOUND_NOT_A_FLOAT.into());
            };
            Places::Scores(min, max)
        }
    };
    let zset = match zset_at(db, &args[1], now) {
        Ok(Some(zset)) => zset,
        Ok(None) => return Frame::Array(Vec::new()),
        Err(wrongtype) => return wrongtype,
    };
    let list = &zset.list;
    let len = list.len() as i64;
    // The places to show, counted from the first shown: `skip` of them, then `take`.
    let (first, count) = match places {
        Places::Ranks(start, stop) => {
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
            if start > stop || start >= len {
                return Frame::Array(Vec::new());
            }
            (start, stop - start + 1)
        }
        Places::Scores(min, max) => {
            let (from, to) = ranks_between(list, min, max);
            let inside = (to - from) as i64;
            // A negative offset shows nothing; a negative count, everything from the offset.
            if offset < 0 || offset >= inside {
                return Frame::Array(Vec::new());
            }
            let count = if limit < 0 {
                inside - offset
            } else {
                limit.min(inside - offset)
            };
            // Reversed, place 0 is the highest score in the range, at `to - 1`.
            let first = if reverse {
                len - to as i64 + offset
            } else {
                from as i64 + offset
            };
            (first, count)
        }
    };
    // `first` counts from the end the walk starts at.
    let start = if reverse { len - 1 - first } else { first };
    let mut shown = Vec::new();
    for (member, score) in list.walk(start as usize, reverse).take(count as usize) {
        shown.push(Frame::Bulk(member.to_vec()));
        if withscores {
            shown.push(score_frame(score));
        }
    }
    Frame::Array(shown)
}

/// What a range names: places, or scores.
enum Places {
    Ranks(i64, i64),
    Scores(Bound, Bound),
}

/// `ZCOUNT key min max`: how many members have a score between the bounds.
fn zcount(db: &mut Db, args: &[Vec<u8>], now: i64) -> Frame {
    let (Some(min), Some(max)) = (parse_bound(&args[2]), parse_bound(&args[3])) else {
        return error(BOUND_NOT_A_FLOAT.into());
    };
    match zset_at(db, &args[1], now) {
        Ok(Some(zset)) => {
            let (from, to) = ranks_between(&zset.list, min, max);
            Frame::Integer((to - from) as i64)
        }
        Ok(None) => Frame::Integer(0),
        Err(wrongtype) => wrongtype,
    }
}
