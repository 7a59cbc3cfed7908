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

/// Redis's clamping of a range of indexes (LRANGE's, LTRIM's, ZRANGE's by rank) into a sequence of
/// `len`: a negative index counts from the end, the start is raised to 0 and the stop lowered to
/// the last; `None` when nothing is left (a start past the stop or past the end).
pub fn clamped(start: i64, end: i64, len: usize) -> Option<std::ops::RangeInclusive<usize>> {
    let llen = len as i64;
    let (mut start, mut end) = (start, end);
    if start < 0 {
        start += llen;
    }
    if end < 0 {
        end += llen;
    }
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some(start as usize..=end as usize)
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

/// A command as the command table has it: its lowercase name, and its arity as Redis counts it
/// (the name included; negative: at least that many).
pub type Command = (&'static str, i64);

/// The commands scene's table.
pub const COMMANDS_TABLE: [Command; 11] = [
    ("ping", -1),
    ("echo", 2),
    ("get", 2),
    ("set", -3),
    ("del", -2),
    ("exists", -2),
    ("type", 2),
    ("rpush", -3),
    ("lpush", -3),
    ("llen", 2),
    ("lrange", 4),
];

/// The strings scene's table: the commands scene's, then the strings' and TTLs' commands.
pub const STRINGS_TABLE: [Command; 21] = joined(
    COMMANDS_TABLE,
    [
        ("incr", 2),
        ("decr", 2),
        ("incrby", 3),
        ("decrby", 3),
        ("expire", -3),
        ("pexpire", -3),
        ("ttl", 2),
        ("pttl", 2),
        ("persist", 2),
        ("dbsize", 1),
    ],
);

/// The lists and hashes scene's table: the strings scene's, then the lists' and hashes' commands.
pub const LISTS_HASHES_TABLE: [Command; 37] = joined(
    STRINGS_TABLE,
    [
        ("lpop", -2),
        ("rpop", -2),
        ("lindex", 3),
        ("lset", 4),
        ("lrem", 4),
        ("ltrim", 4),
        ("hset", -4),
        ("hget", 3),
        ("hdel", -3),
        ("hlen", 2),
        ("hexists", 3),
        ("hgetall", 2),
        ("hkeys", 2),
        ("hvals", 2),
        ("hincrby", 4),
        ("hmget", -3),
    ],
);

/// A scene's table: the one before it, then the commands the scene adds, in that order.
pub const fn joined<const A: usize, const B: usize, const N: usize>(
    before: [Command; A],
    added: [Command; B],
) -> [Command; N] {
    assert!(A + B == N, "the table's length is the sum of the two");
    let mut table = [("", 0); N];
    let mut i = 0;
    while i < A {
        table[i] = before[i];
        i += 1;
    }
    while i < N {
        table[i] = added[i - A];
        i += 1;
    }
    table
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

/// One step of a random sequence against a keyspace model: a request, or a wait.
#[derive(Clone)]
pub enum Step {
    Send(Vec<Vec<u8>>),
    Wait(i64),
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Send(args) => f.write_str(&command_line(args)),
            Step::Wait(ms) => write!(f, "(wait {ms} ms)"),
        }
    }
}

/// The session every keyspace scene's checks drive: a learner's `Db` and the scene's `Model`,
/// sent the same requests at the same times, what was sent kept for the messages. Made in the
/// checks file, for its `Db`, `Frame`, `Reply` and `Model`; `keyspace_session!(unordered)`
/// compares the replies the file's `unordered` names with `sort_members`.
#[allow(unused_macros)]
macro_rules! keyspace_session {
    (@reply) => {
        impl Session {
            fn expect_reply<A: AsRef<[u8]>>(&mut self, args: &[A], expected: &Reply) -> CheckResult {
                let line = command_line(args);
                let got = self.db.execute(request(args), self.now);
                let result = expect_reply(&self.did(&line), &got, expected);
                self.note(line);
                result
            }
        }
    };
    (@reply unordered) => {
        impl Session {
            fn expect_reply<A: AsRef<[u8]>>(&mut self, args: &[A], expected: &Reply) -> CheckResult {
                let mut line = command_line(args);
                let mut got = self.db.execute(request(args), self.now);
                let mut expected = expected.clone();
                // A set has no order: its members are compared sorted, repeats kept.
                if unordered(args[0].as_ref()) {
                    sort_members(&mut got);
                    sort_members(&mut expected);
                    line.push_str("    (members compared in any order, shown sorted)");
                }
                let result = expect_reply(&self.did(&line), &got, &expected);
                self.note(line);
                result
            }
        }
    };
    ($($unordered:ident)?) => {
        /// Where the clock starts: a real time, 2024-01-01, so that "now plus the time" can overflow.
        const START: i64 = 1_704_067_200_000;

        /// A learner's keyspace and the model, sent the same requests at the same times; what was
        /// sent is kept for the messages.
        struct Session {
            db: Db,
            model: Model,
            now: i64,
            sent: Vec<String>,
        }

        impl Session {
            fn new() -> Session {
                Session::at(START)
            }

            fn at(now: i64) -> Session {
                Session {
                    db: Db::new(),
                    model: Model::default(),
                    now,
                    sent: Vec::new(),
                }
            }

            /// Moves the clock on by `ms`.
            fn wait(&mut self, ms: i64) {
                self.now += ms;
                self.note(format!("(wait {ms} ms)"));
            }

            fn note(&mut self, what: String) {
                self.sent.push(what);
                if self.sent.len() > 14 {
                    self.sent.remove(0);
                    self.sent[0] = "...".into();
                }
            }

            fn did(&self, line: &str) -> String {
                told(&self.sent, &format!("{line}    (at now = {})", self.now))
            }

            /// Sends a request, checks its reply against the model's.
            fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> CheckResult {
                let expected = self.model.run(args, self.now);
                self.expect_reply(args, &expected)
            }

            /// Sends a request, checks its reply against the one given (the model is sent it too).
            fn expect<A: AsRef<[u8]>>(&mut self, args: &[A], expected: &Reply) -> CheckResult {
                let model = self.model.run(args, self.now);
                let line = command_line(args);
                assert_eq!(
                    &model, expected,
                    "the model disagrees with the script: {line}"
                );
                self.expect_reply(args, expected)
            }

            fn line(&mut self, line: &str, expected: Reply) -> CheckResult {
                self.expect(&words(line), &expected)
            }

            /// DBSIZE, which touches no key.
            fn size(&mut self, expected: i64) -> CheckResult {
                self.line("DBSIZE", int(expected))
            }

            /// Each of `new` with 0 to its arity + 2 arguments, taken from its pool and then
            /// `filler`, its name in a random ASCII case: the arity error exactly when the count
            /// does not fit the file's `TABLE`, and what the model answers when it does.
            fn arities(
                &mut self,
                rng: &mut impl Rng,
                new: &[(&str, &[&str])],
                filler: &str,
            ) -> CheckResult {
                for &(name, pool) in new {
                    let arity = TABLE.iter().find(|(n, _)| *n == name).unwrap().1;
                    let most = arity.unsigned_abs() as usize - 1 + 2;
                    for count in 0..=most {
                        let spelled: String = name
                            .chars()
                            .map(|c| {
                                if rng.next_u32() & 1 == 1 {
                                    c.to_ascii_uppercase()
                                } else {
                                    c
                                }
                            })
                            .collect();
                        let mut args = vec![spelled.into_bytes()];
                        args.extend(
                            (0..count).map(|i| pool.get(i).unwrap_or(&filler).as_bytes().to_vec()),
                        );
                        let argc = args.len() as i64;
                        let fits = if arity > 0 {
                            argc == arity
                        } else {
                            argc >= -arity
                        };
                        if fits {
                            self.send(&args)?;
                        } else {
                            self.expect(&args, &err(&arity_error(name)))?;
                        }
                    }
                }
                Ok(())
            }

            /// Gives each of `touches` a key `k{i}` of its own, made by the line `make(i)` (which
            /// answers 1) and due in 10 ms, with `before` keys there already; waits past it; then
            /// sends each of `touches`: its key is found expired and removed (DBSIZE one less after
            /// each), and a line whose index is in `creating` makes it again.
            // The scenes of aggregate types use it; the strings scene has none.
            #[allow(dead_code)]
            fn expired_touches(
                &mut self,
                touches: &[(&str, Reply)],
                make: impl Fn(i64) -> String,
                before: i64,
                creating: &[usize],
            ) -> CheckResult {
                let n = touches.len() as i64;
                for i in 0..n {
                    self.line(&make(i), int(1))?;
                    self.line(&format!("PEXPIRE k{i} 10"), int(1))?;
                }
                self.size(n + before)?;
                self.wait(11);
                for (i, (line, expected)) in touches.iter().enumerate() {
                    self.line(line, expected.clone())?;
                    let gone = i as i64 + 1;
                    let created = creating.iter().filter(|&&c| c <= i).count() as i64;
                    self.size(n + before - gone + created)?;
                }
                Ok(())
            }

            /// A random sequence: its requests and waits, then (TYPE and) PTTL of each of
            /// `keys`, then DBSIZE, each answered as the model answers it.
            fn replay(
                &mut self,
                steps: &[crate::support::Step],
                keys: &[&str],
                types: bool,
            ) -> CheckResult {
                for step in steps {
                    match step {
                        crate::support::Step::Send(args) => self.send(args)?,
                        crate::support::Step::Wait(ms) => self.wait(*ms),
                    }
                }
                for key in keys {
                    if types {
                        self.send(&words(&format!("TYPE {key}")))?;
                    }
                    self.send(&words(&format!("PTTL {key}")))?;
                }
                self.send(&words("DBSIZE"))
            }
        }

        crate::support::keyspace_session!(@reply $($unordered)?);
    };
}

#[allow(unused_imports)]
pub(crate) use keyspace_session;

/// The model's commands every keyspace scene from the strings on shares: `run`, which looks the
/// name up in the file's `TABLE` and checks the arity, then answers PING, ECHO, GET, SET, DEL,
/// EXISTS, the pushes, LLEN, LRANGE, the counters, EXPIRE, PEXPIRE, TTL, PTTL, PERSIST and
/// DBSIZE; the lazy expiry of a key. Made in the checks file, for its `Model` (keys of
/// `Entry { value, at }`, strings as `Value::String`, lists as `Value::List`) and `Reply`. The
/// file gives `type_name` (TYPE's answer, which names its types); `keyspace_model!(method)` sends
/// the commands the scene adds to `method`.
#[allow(unused_macros)]
macro_rules! keyspace_model {
    (@otherwise $model:expr, $name:expr, $args:expr, $now:expr;) => {
        unreachable!("{} is in the table, and has its arm", $name)
    };
    (@otherwise $model:expr, $name:expr, $args:expr, $now:expr; $more:ident) => {
        $model.$more($name, &$args, $now)
    };
    ($($more:ident)?) => {
        impl Model {
            /// Answers a request as Redis does at `now`.
            fn run<A: AsRef<[u8]>>(&mut self, args: &[A], now: i64) -> Reply {
                let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_ref().to_vec()).collect();
                let Some(&(name, arity)) = TABLE
                    .iter()
                    .find(|(known, _)| known.as_bytes() == args[0].to_ascii_lowercase())
                else {
                    return e(&unknown_command_error(&args));
                };
                let argc = args.len() as i64;
                if (arity > 0 && argc != arity) || argc < -arity || (name == "ping" && argc > 2) {
                    return e(&arity_error(name));
                }
                let key = args.get(1).cloned().unwrap_or_default();
                match name {
                    "ping" if argc == 1 => simple("PONG"),
                    "ping" | "echo" => bulk(&args[1]),
                    "get" => match self.touch(&key, now) {
                        None => nil(),
                        Some(Entry {
                            value: Value::String(v),
                            ..
                        }) => bulk(v),
                        Some(_) => e(WRONGTYPE),
                    },
                    "set" => self.set(&args, now),
                    "del" => {
                        let mut n = 0;
                        for key in &args[1..] {
                            if self.touch(key, now).is_some() {
                                self.keys.remove(key);
                                n += 1;
                            }
                        }
                        int(n)
                    }
                    "exists" => {
                        let mut n = 0;
                        for key in &args[1..] {
                            if self.touch(key, now).is_some() {
                                n += 1;
                            }
                        }
                        int(n)
                    }
                    "type" => simple(self.type_name(&key, now)),
                    "rpush" | "lpush" => {
                        if self.touch(&key, now).is_none() {
                            self.keys.insert(
                                key.clone(),
                                Entry {
                                    value: Value::List(Vec::new()),
                                    at: None,
                                },
                            );
                        }
                        let Some(Entry {
                            value: Value::List(list),
                            ..
                        }) = self.keys.get_mut(&key)
                        else {
                            return e(WRONGTYPE);
                        };
                        for element in &args[2..] {
                            if name == "rpush" {
                                list.push(element.clone());
                            } else {
                                list.insert(0, element.clone());
                            }
                        }
                        int(list.len() as i64)
                    }
                    "llen" => match self.touch(&key, now) {
                        None => int(0),
                        Some(Entry {
                            value: Value::List(list),
                            ..
                        }) => int(list.len() as i64),
                        Some(_) => e(WRONGTYPE),
                    },
                    "lrange" => {
                        let (Some(start), Some(end)) = (string2ll(&args[2]), string2ll(&args[3]))
                        else {
                            return e(NOT_AN_INTEGER);
                        };
                        let list = match self.touch(&key, now) {
                            None => return Reply::Send(Frame::Array(Vec::new())),
                            Some(Entry {
                                value: Value::List(list),
                                ..
                            }) => list,
                            Some(_) => return e(WRONGTYPE),
                        };
                        let Some(range) = crate::support::clamped(start, end, list.len()) else {
                            return Reply::Send(Frame::Array(Vec::new()));
                        };
                        Reply::Send(Frame::Array(
                            list[range]
                                .iter()
                                .map(|e| Frame::Bulk(e.clone()))
                                .collect(),
                        ))
                    }
                    "incr" => self.add(&key, 1, now),
                    "decr" => self.add(&key, -1, now),
                    "incrby" | "decrby" => match string2ll(&args[2]) {
                        None => e(NOT_AN_INTEGER),
                        Some(i64::MIN) if name == "decrby" => e("ERR decrement would overflow"),
                        Some(by) if name == "decrby" => self.add(&key, -by, now),
                        Some(by) => self.add(&key, by, now),
                    },
                    "expire" => self.expire(&args, now, 1000, "expire"),
                    "pexpire" => self.expire(&args, now, 1, "pexpire"),
                    "ttl" | "pttl" => match self.touch(&key, now) {
                        None => int(-2),
                        Some(Entry { at: None, .. }) => int(-1),
                        Some(Entry { at: Some(at), .. }) => {
                            let ms = (*at - now).max(0);
                            int(if name == "ttl" { (ms + 500) / 1000 } else { ms })
                        }
                    },
                    "persist" => match self.touch(&key, now) {
                        Some(entry) if entry.at.is_some() => {
                            entry.at = None;
                            int(1)
                        }
                        _ => int(0),
                    },
                    "dbsize" => int(self.keys.len() as i64),
                    _ => crate::support::keyspace_model!(@otherwise self, name, args, now; $($more)?),
                }
            }

            /// Removes the key if it has expired at `now`, and returns its entry if it is still there.
            fn touch(&mut self, key: &[u8], now: i64) -> Option<&mut Entry> {
                if let Some(Entry { at: Some(at), .. }) = self.keys.get(key)
                    && now > *at
                {
                    self.keys.remove(key);
                }
                self.keys.get_mut(key)
            }

            /// t_string.c's parseExtendedStringArgumentsOrReply, for NX, XX, EX, PX and KEEPTTL.
            fn set(&mut self, args: &[Vec<u8>], now: i64) -> Reply {
                let (mut nx, mut xx, mut ex, mut px, mut keepttl) =
                    (false, false, false, false, false);
                let mut time: Option<&[u8]> = None;
                let mut j = 3;
                while j < args.len() {
                    let opt = args[j].to_ascii_lowercase();
                    let has_next = j + 1 < args.len();
                    match opt.as_slice() {
                        b"nx" if !xx => nx = true,
                        b"xx" if !nx => xx = true,
                        b"keepttl" if !ex && !px => keepttl = true,
                        b"ex" if !keepttl && !px && has_next => {
                            ex = true;
                            time = Some(&args[j + 1]);
                            j += 1;
                        }
                        b"px" if !keepttl && !ex && has_next => {
                            px = true;
                            time = Some(&args[j + 1]);
                            j += 1;
                        }
                        _ => return e(SYNTAX_ERROR),
                    }
                    j += 1;
                }
                let mut deadline = None;
                if let Some(time) = time {
                    let Some(mut ms) = string2ll(time) else {
                        return e(NOT_AN_INTEGER);
                    };
                    if ms <= 0 || (ex && ms > i64::MAX / 1000) {
                        return e("ERR invalid expire time in 'set' command");
                    }
                    if ex {
                        ms *= 1000;
                    }
                    if ms > i64::MAX - now {
                        return e("ERR invalid expire time in 'set' command");
                    }
                    deadline = Some(ms + now);
                }
                let found = self.touch(&args[1], now).map(|entry| entry.at);
                if (nx && found.is_some()) || (xx && found.is_none()) {
                    return nil();
                }
                let at = if keepttl { found.flatten() } else { deadline };
                self.keys.insert(
                    args[1].clone(),
                    Entry {
                        value: Value::String(args[2].clone()),
                        at,
                    },
                );
                ok()
            }

            /// t_string.c's incrDecrCommand.
            fn add(&mut self, key: &[u8], by: i64, now: i64) -> Reply {
                let (old, at) = match self.touch(key, now) {
                    None => (0, None),
                    Some(Entry {
                        value: Value::String(v),
                        at,
                    }) => match string2ll(v) {
                        Some(n) => (n, *at),
                        None => return e(NOT_AN_INTEGER),
                    },
                    Some(_) => return e(WRONGTYPE),
                };
                if (by < 0 && old < 0 && by < i64::MIN - old)
                    || (by > 0 && old > 0 && by > i64::MAX - old)
                {
                    return e(OVERFLOW);
                }
                let new = old + by;
                self.keys.insert(
                    key.to_vec(),
                    Entry {
                        value: Value::String(new.to_string().into_bytes()),
                        at,
                    },
                );
                int(new)
            }

            /// expire.c's expireGenericCommand.
            fn expire(&mut self, args: &[Vec<u8>], now: i64, unit: i64, name: &str) -> Reply {
                let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
                for opt in &args[3..] {
                    match opt.to_ascii_lowercase().as_slice() {
                        b"nx" => nx = true,
                        b"xx" => xx = true,
                        b"gt" => gt = true,
                        b"lt" => lt = true,
                        _ => {
                            let upto_nul = opt.split(|&b| b == 0).next().unwrap_or(&[]);
                            let mut text = b"Unsupported option ".to_vec();
                            text.extend_from_slice(upto_nul);
                            while text.last().is_some_and(|&b| b == b'\r' || b == b'\n') {
                                text.pop();
                            }
                            for b in &mut text {
                                if *b == b'\r' || *b == b'\n' {
                                    *b = b' ';
                                }
                            }
                            return e(&format!("ERR {}", String::from_utf8_lossy(&text)));
                        }
                    }
                }
                if nx && (xx || gt || lt) {
                    return e(
                        "ERR NX and XX, GT or LT options at the same time are not compatible",
                    );
                }
                if gt && lt {
                    return e("ERR GT and LT options at the same time are not compatible");
                }
                let Some(mut when) = string2ll(&args[2]) else {
                    return e(NOT_AN_INTEGER);
                };
                let invalid = format!("ERR invalid expire time in '{name}' command");
                if unit == 1000 {
                    if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
                        return e(&invalid);
                    }
                    when *= 1000;
                }
                if when > i64::MAX - now {
                    return e(&invalid);
                }
                when += now;
                let Some(entry) = self.touch(&args[1], now) else {
                    return int(0);
                };
                let current = entry.at;
                if (nx && current.is_some())
                    || (xx && current.is_none())
                    || (gt && (current.is_none() || current.is_some_and(|c| when <= c)))
                    || (lt && current.is_some_and(|c| when >= c))
                {
                    return int(0);
                }
                if when <= now {
                    self.keys.remove(&args[1]);
                } else {
                    entry.at = Some(when);
                }
                int(1)
            }
        }
    };
}

#[allow(unused_imports)]
pub(crate) use keyspace_model;

/// The model's list and hash commands, for the scenes from the lists and hashes on: the file's
/// `Model` also has `drop_if_empty`, which knows its own aggregate types.
#[allow(unused_macros)]
macro_rules! list_hash_model {
    () => {
        impl Model {
            /// The lists' and hashes' commands.
            fn list_hash_command(&mut self, name: &str, args: &[Vec<u8>], now: i64) -> Reply {
                let argc = args.len() as i64;
                let key = args.get(1).cloned().unwrap_or_default();
                match name {
                    "lpop" | "rpop" => self.pop(args, now, name == "lpop"),
                    "lindex" | "lset" => {
                        // The key first, then the index.
                        let missing = if name == "lindex" {
                            nil()
                        } else {
                            e(NO_SUCH_KEY)
                        };
                        let list = match self.touch(&key, now) {
                            None => return missing,
                            Some(Entry {
                                value: Value::List(list),
                                ..
                            }) => list,
                            Some(_) => return e(WRONGTYPE),
                        };
                        let Some(mut index) = string2ll(&args[2]) else {
                            return e(NOT_AN_INTEGER);
                        };
                        let llen = list.len() as i64;
                        if index < 0 {
                            index += llen;
                        }
                        let inside = index >= 0 && index < llen;
                        match (name, inside) {
                            ("lindex", true) => bulk(&list[index as usize]),
                            ("lindex", false) => nil(),
                            (_, true) => {
                                list[index as usize] = args[3].clone();
                                ok()
                            }
                            (_, false) => e(INDEX_OUT_OF_RANGE),
                        }
                    }
                    "lrem" => self.lrem(args, now),
                    "ltrim" => self.ltrim(args, now),
                    "hset" => {
                        if argc % 2 == 1 {
                            return e(&arity_error("hset"));
                        }
                        let fields = match self.hash_or_new(&key, now) {
                            Ok(fields) => fields,
                            Err(reply) => return reply,
                        };
                        let mut created = 0;
                        for pair in args[2..].chunks(2) {
                            match fields.iter_mut().find(|(f, _)| *f == pair[0]) {
                                Some((_, v)) => *v = pair[1].clone(),
                                None => {
                                    fields.push((pair[0].clone(), pair[1].clone()));
                                    created += 1;
                                }
                            }
                        }
                        int(created)
                    }
                    "hincrby" => {
                        let Some(by) = string2ll(&args[3]) else {
                            return e(NOT_AN_INTEGER);
                        };
                        let fields = match self.hash_or_new(&key, now) {
                            Ok(fields) => fields,
                            Err(reply) => return reply,
                        };
                        let at = fields.iter().position(|(f, _)| *f == args[2]);
                        let old = match at {
                            None => 0,
                            Some(at) => match string2ll(&fields[at].1) {
                                Some(n) => n,
                                None => return e(HASH_NOT_AN_INTEGER),
                            },
                        };
                        if (by < 0 && old < 0 && by < i64::MIN - old)
                            || (by > 0 && old > 0 && by > i64::MAX - old)
                        {
                            return e(OVERFLOW);
                        }
                        let new = (old + by).to_string().into_bytes();
                        match at {
                            Some(at) => fields[at].1 = new,
                            None => fields.push((args[2].clone(), new)),
                        }
                        int(old + by)
                    }
                    "hmget" => {
                        let fields = match self.touch(&key, now) {
                            None => Vec::new(),
                            Some(Entry {
                                value: Value::Hash(fields),
                                ..
                            }) => fields.clone(),
                            Some(_) => return e(WRONGTYPE),
                        };
                        let values = args[2..]
                            .iter()
                            .map(|name| match fields.iter().find(|(f, _)| f == name) {
                                Some((_, v)) => Frame::Bulk(v.clone()),
                                None => Frame::NullBulk,
                            })
                            .collect();
                        Reply::Send(Frame::Array(values))
                    }
                    _ => self.hash_read(name, args, now),
                }
            }

            /// The hash at the key, made empty if the key is missing (hashTypeLookupWriteOrCreate).
            fn hash_or_new(&mut self, key: &[u8], now: i64) -> Result<&mut Fields, Reply> {
                if self.touch(key, now).is_none() {
                    self.keys.insert(
                        key.to_vec(),
                        Entry {
                            value: Value::Hash(Vec::new()),
                            at: None,
                        },
                    );
                }
                match self.keys.get_mut(key) {
                    Some(Entry {
                        value: Value::Hash(fields),
                        ..
                    }) => Ok(fields),
                    _ => Err(e(WRONGTYPE)),
                }
            }

            /// t_list.c's popGenericCommand.
            fn pop(&mut self, args: &[Vec<u8>], now: i64, head: bool) -> Reply {
                if args.len() > 3 {
                    return e(&arity_error(if head { "lpop" } else { "rpop" }));
                }
                let count = match args.get(2) {
                    None => None,
                    Some(count) => match string2ll(count) {
                        Some(n) if n >= 0 => Some(n),
                        _ => return e(MUST_BE_POSITIVE),
                    },
                };
                let list = match self.touch(&args[1], now) {
                    None if count.is_some() => return Reply::Send(Frame::NullArray),
                    None => return nil(),
                    Some(Entry {
                        value: Value::List(list),
                        ..
                    }) => list,
                    Some(_) => return e(WRONGTYPE),
                };
                let take = |list: &mut Vec<Vec<u8>>| {
                    if head {
                        list.remove(0)
                    } else {
                        list.pop().unwrap()
                    }
                };
                let reply = match count {
                    Some(0) => return Reply::Send(Frame::Array(Vec::new())),
                    None => bulk(&take(list)),
                    Some(n) => {
                        let n = n.min(list.len() as i64);
                        Reply::Send(Frame::Array(
                            (0..n).map(|_| Frame::Bulk(take(list))).collect(),
                        ))
                    }
                };
                self.drop_if_empty(&args[1]);
                reply
            }

            /// t_list.c's lremCommand.
            fn lrem(&mut self, args: &[Vec<u8>], now: i64) -> Reply {
                let Some(count) = string2ll(&args[2]) else {
                    return e(NOT_AN_INTEGER);
                };
                if count == i64::MIN {
                    return e(
                        "ERR value is out of range, value must between -9223372036854775807 and \
                         9223372036854775807",
                    );
                }
                let list = match self.touch(&args[1], now) {
                    None => return int(0),
                    Some(Entry {
                        value: Value::List(list),
                        ..
                    }) => list,
                    Some(_) => return e(WRONGTYPE),
                };
                let mut removed = 0;
                let want = count.unsigned_abs();
                if count < 0 {
                    let mut i = list.len();
                    while i > 0 && removed < want {
                        i -= 1;
                        if list[i] == args[3] {
                            list.remove(i);
                            removed += 1;
                        }
                    }
                } else {
                    let mut i = 0;
                    while i < list.len() && (count == 0 || removed < want) {
                        if list[i] == args[3] {
                            list.remove(i);
                            removed += 1;
                        } else {
                            i += 1;
                        }
                    }
                }
                self.drop_if_empty(&args[1]);
                int(removed as i64)
            }

            /// t_list.c's ltrimCommand.
            fn ltrim(&mut self, args: &[Vec<u8>], now: i64) -> Reply {
                let (Some(start), Some(end)) = (string2ll(&args[2]), string2ll(&args[3])) else {
                    return e(NOT_AN_INTEGER);
                };
                let list = match self.touch(&args[1], now) {
                    None => return ok(),
                    Some(Entry {
                        value: Value::List(list),
                        ..
                    }) => list,
                    Some(_) => return e(WRONGTYPE),
                };
                let llen = list.len() as i64;
                let (ltrim, rtrim) = match crate::support::clamped(start, end, list.len()) {
                    None => (llen, 0),
                    Some(range) => (*range.start() as i64, llen - *range.end() as i64 - 1),
                };
                list.drain(..ltrim as usize);
                list.truncate(list.len() - rtrim as usize);
                self.drop_if_empty(&args[1]);
                ok()
            }

            /// HGET, HLEN, HEXISTS, HGETALL, HKEYS, HVALS and HDEL.
            fn hash_read(&mut self, name: &str, args: &[Vec<u8>], now: i64) -> Reply {
                let empty = match name {
                    "hget" => nil(),
                    "hlen" | "hexists" | "hdel" => int(0),
                    _ => Reply::Send(Frame::Array(Vec::new())),
                };
                let fields = match self.touch(&args[1], now) {
                    None => return empty,
                    Some(Entry {
                        value: Value::Hash(fields),
                        ..
                    }) => fields,
                    Some(_) => return e(WRONGTYPE),
                };
                let find = |fields: &[(Vec<u8>, Vec<u8>)], name: &[u8]| {
                    fields.iter().position(|(f, _)| f == name)
                };
                let all = |keys: bool, values: bool, fields: &[(Vec<u8>, Vec<u8>)]| {
                    let mut out = Vec::new();
                    for (f, v) in fields {
                        if keys {
                            out.push(Frame::Bulk(f.clone()));
                        }
                        if values {
                            out.push(Frame::Bulk(v.clone()));
                        }
                    }
                    Reply::Send(Frame::Array(out))
                };
                match name {
                    "hget" => match find(fields, &args[2]) {
                        Some(at) => bulk(&fields[at].1),
                        None => nil(),
                    },
                    "hlen" => int(fields.len() as i64),
                    "hexists" => int(find(fields, &args[2]).is_some() as i64),
                    "hgetall" => all(true, true, fields),
                    "hkeys" => all(true, false, fields),
                    "hvals" => all(false, true, fields),
                    _ => {
                        let mut deleted = 0;
                        for name in &args[2..] {
                            if let Some(at) = find(fields, name) {
                                fields.remove(at);
                                deleted += 1;
                            }
                        }
                        self.drop_if_empty(&args[1]);
                        int(deleted)
                    }
                }
            }
        }
    };
}

#[allow(unused_imports)]
pub(crate) use list_hash_model;

/// A sweep that fails every disk operation of a workload in turn, each with each fault, as the
/// bitcask track's checks do: the store must say so, and stay consistent.
pub mod faults {
    use std::collections::BTreeMap;

    use judge::prelude::*;
    use kit::crash::{KvOp, Subject, show};
    use kit::fault::{FaultDir, attempt};
    use kit::sim::{Fault, OpKind, SimDisk};

    /// Every kind of operation a fault can be aimed at.
    pub const KINDS: [OpKind; 10] = [
        OpKind::Read,
        OpKind::Write,
        OpKind::Sync,
        OpKind::DirSync,
        OpKind::Create,
        OpKind::Open,
        OpKind::Rename,
        OpKind::Remove,
        OpKind::List,
        OpKind::Len,
    ];

    type Value = Option<Vec<u8>>;

    /// What one key may read back as.
    #[derive(Debug, Clone)]
    struct Allowed {
        /// In the store as it runs (or after a clean reopen): the last acknowledged value, and the
        /// values of failed writes since, which may or may not have happened.
        now: Vec<Value>,
        /// What survives any crash: the `now` of the last sync that returned.
        durable: Vec<Value>,
        /// Written since that sync, acknowledged or not.
        since: Vec<Value>,
        /// What the key may have held when a sync failed and dropped data: any of it may be what
        /// is left, whatever later syncs say (the store cannot know what the kernel dropped).
        limbo: Vec<Value>,
    }

    impl Default for Allowed {
        fn default() -> Self {
            Allowed {
                now: vec![None],
                durable: vec![None],
                since: Vec::new(),
                limbo: Vec::new(),
            }
        }
    }

    #[derive(Debug, Default)]
    struct Model {
        keys: BTreeMap<Vec<u8>, Allowed>,
    }

    impl Model {
        fn write(&mut self, key: &[u8], value: Value, acknowledged: bool) {
            let allowed = self.keys.entry(key.to_vec()).or_default();
            if acknowledged {
                allowed.now = vec![value.clone()];
            } else if !allowed.now.contains(&value) {
                allowed.now.push(value.clone());
            }
            allowed.since.push(value);
        }

        fn make_durable(&mut self) {
            for allowed in self.keys.values_mut() {
                allowed.durable = allowed.now.clone();
                allowed.since.clear();
            }
        }

        /// After a crash (or a sync that lost data), or as the store runs.
        fn allowed(&self, key: &[u8], crashed: bool) -> Vec<Value> {
            let allowed = self.keys.get(key).cloned().unwrap_or_default();
            let mut all = if crashed {
                let mut all = allowed.durable;
                all.extend(allowed.since);
                all
            } else {
                allowed.now
            };
            all.extend(allowed.limbo);
            all
        }

        /// A sync failed and the kernel dropped what was not durable.
        fn drop_unsynced(&mut self) {
            for allowed in self.keys.values_mut() {
                let mut limbo = std::mem::take(&mut allowed.limbo);
                limbo.extend(allowed.durable.iter().cloned());
                limbo.extend(allowed.since.iter().cloned());
                limbo.extend(allowed.now.iter().cloned());
                allowed.limbo = limbo;
            }
        }

        /// After a crash, what was read is the one truth.
        fn settle(&mut self, key: &[u8], value: Value) {
            let allowed = self.keys.entry(key.to_vec()).or_default();
            allowed.now = vec![value.clone()];
            allowed.durable = vec![value];
            allowed.since.clear();
            allowed.limbo.clear();
        }
    }

    fn shown(value: &Value) -> String {
        match value {
            Some(bytes) => format!("Some({})", show(bytes)),
            None => "None".into(),
        }
    }

    /// One run of a workload, with the fault (if any) armed at the start.
    struct Run<S: Subject> {
        faults: FaultDir,
        disk: SimDisk,
        model: Model,
        /// A failed sync dropped unsynced data: only what is durable can be promised.
        lost: bool,
        /// An operation failed: the store may refuse everything until it is opened again (after a
        /// failed write or sync it cannot know what reached the disk).
        refusing: bool,
        did: Vec<String>,
        /// The kind of operation the fault is aimed at, and the fault.
        armed: Option<(OpKind, Fault)>,
        store: Option<S::Store>,
    }

    impl<S: Subject> Run<S> {
        fn failure(&self, message: String) -> String {
            format!("did:      {}\n{message}", self.did.join(", "))
        }

        /// Opens the store; an open that a fault made fail is tried once more.
        fn open(&mut self, what: &str) -> Result<(), String> {
            self.store = None;
            for _ in 0..2 {
                let fired = self.faults.fired();
                let dir = self.faults.dir();
                match attempt(|| S::open(dir)) {
                    Ok(store) => {
                        self.did.push(what.into());
                        self.store = Some(store);
                        self.refusing = false;
                        return Ok(());
                    }
                    Err(error) if self.faults.fired() > fired => {
                        self.did
                            .push(format!("{what}, which failed on the fault ({error})"));
                        // A store that syncs as it opens (what an earlier process left
                        // unsynced) can lose it there too.
                        if matches!(self.armed, Some((_, Fault::SyncLosesData))) {
                            self.lost = true;
                            self.model.drop_unsynced();
                        }
                    }
                    Err(error) => {
                        self.did.push(what.into());
                        return Err(self.failure(format!(
                            "expected: the store to open\ngot:      Err({error}), with no fault \
                             injected in it"
                        )));
                    }
                }
            }
            Err(self.failure(
                "expected: the store to open once the fault had passed\ngot:      it failed again"
                    .into(),
            ))
        }

        fn op(&mut self, op: &KvOp) -> Result<(), String> {
            if let KvOp::Reopen = op {
                return self.open("reopen()");
            }
            let fired = self.faults.fired();
            let result = attempt(|| S::apply(self.store.as_mut().expect("open"), op));
            let faulted = self.faults.fired() > fired;
            let ok = result.is_ok();
            match &result {
                Ok(()) => self.did.push(format!("{op:?}")),
                Err(error) if faulted => self.did.push(format!("{op:?} failed ({error})")),
                Err(error) => {
                    self.did.push(format!("{op:?}"));
                    if !self.refusing {
                        return Err(self.failure(format!(
                            "expected: Ok\ngot:      Err({error}), with no fault injected in it"
                        )));
                    }
                }
            }
            match op {
                KvOp::Put(k, v) => self.model.write(k, Some(v.clone()), ok),
                KvOp::Delete(k) => self.model.write(k, None, ok),
                // A sync that returned promised durability, whatever it hid.
                KvOp::Sync if ok => self.model.make_durable(),
                _ => {}
            }
            if ok && S::syncs_every_write() {
                self.model.make_durable();
            }
            // Any failed operation: the append-only file takes no write until it is opened again.
            if faulted {
                self.refusing = true;
            }
            if faulted && matches!(self.armed, Some((_, Fault::SyncLosesData))) {
                self.lost = true;
                self.model.drop_unsynced();
            }
            Ok(())
        }

        /// Reads every key the workload wrote, and a probe never written.
        fn verify(&mut self, crashed: bool, settle: bool, when: &str) -> Result<(), String> {
            let mut keys: Vec<Vec<u8>> = self.model.keys.keys().cloned().collect();
            keys.push(b"never written".to_vec());
            for key in keys {
                let fired = self.faults.fired();
                let got = attempt(|| S::get(self.store.as_mut().expect("open"), &key));
                let faulted = self.faults.fired() > fired;
                let allowed = self.model.allowed(&key, crashed || self.lost);
                let expected = allowed.iter().map(shown).collect::<Vec<_>>().join(" or ");
                match got {
                    Ok(value) if allowed.contains(&value) => {
                        if settle {
                            self.model.settle(&key, value);
                        }
                    }
                    Ok(value) => {
                        return Err(self.failure(format!(
                            "{when}, get({})\nexpected: {expected}\ngot:      {}",
                            show(&key),
                            shown(&value)
                        )));
                    }
                    Err(_) if faulted || self.refusing => {}
                    Err(error) => {
                        return Err(self.failure(format!(
                            "{when}, get({})\nexpected: {expected}\ngot:      Err({error}), with no \
                             fault injected in it",
                            show(&key)
                        )));
                    }
                }
            }
            Ok(())
        }
    }

    /// Runs the workload once with `fault` armed at the `n`th operation of `kind`: every op, then
    /// reads of every key, a clean reopen and reads, a sync, a power cut, recovery and reads.
    fn run_once<S: Subject>(
        seed: u64,
        ops: &[KvOp],
        armed: Option<(OpKind, u64, Fault)>,
        shape: Shape,
    ) -> Result<FaultDir, String> {
        // A failed write leaves part of its bytes behind, as a real disk's can: nothing a store
        // writes later may trip on them.
        let profile = kit::sim::Profile {
            failed_writes_leave_a_prefix: true,
            ..kit::sim::Profile::GENTLE
        };
        let disk = SimDisk::with_profile(seed, profile);
        let faults = FaultDir::new(&disk, &[]);
        let mut did = Vec::new();
        if let Some((kind, n, fault)) = armed {
            faults.arm(kind, n, fault);
            did.push(format!(
                "(operation {n} of kind {kind:?} fails with Fault::{fault:?})"
            ));
        }
        let mut run = Run::<S> {
            faults: faults.clone(),
            disk: disk.clone(),
            model: Model::default(),
            lost: false,
            refusing: false,
            armed: armed.map(|(kind, _, fault)| (kind, fault)),
            did,
            store: None,
        };
        run.open("open an empty store")?;
        for op in ops {
            run.op(op)?;
        }
        run.verify(false, false, "then")?;
        if !shape.reopens {
            return Ok(faults);
        }
        let lost = run.lost;
        run.open("close and open the store again")?;
        run.lost = false;
        run.verify(lost, false, "then")?;
        if !shape.crash {
            return Ok(faults);
        }
        if shape.syncs {
            // What was acknowledged is now promised: the crash below must keep all of it.
            run.op(&KvOp::Sync)?;
        }
        run.store = None;
        run.disk.crash();
        // The worst crash: nothing unsynced survives, so a promise kept only by luck is caught.
        run.disk.restart_losing_unsynced();
        run.open("the power fails; recover")?;
        run.verify(true, true, "then")?;
        Ok(faults)
    }

    /// Fails every operation the workload makes, one run for each, with each fault in turn: an I/O
    /// error and a full disk on every operation, a sync that drops data on every sync. Every run
    /// must report the fault and stay consistent: acknowledged writes read back, nothing reads back
    /// wrong, and after a clean reopen and after a power cut, only what was promised is there.
    /// Runs at most `most` faults besides those at each kind's first two and last operations.
    pub fn sweep<S: Subject>(
        seed: u64,
        ops: &[KvOp],
        most: usize,
        shape: Shape,
    ) -> Result<(), String> {
        let golden = run_once::<S>(seed, ops, None, shape)?;
        let mut plans = Vec::new();
        for kind in KINDS {
            for n in 1..=golden.count(kind) {
                plans.push((kind, n, Fault::IoError));
                plans.push((kind, n, Fault::DiskFull));
                if kind == OpKind::Sync {
                    plans.push((kind, n, Fault::SyncLosesData));
                }
            }
        }
        // The first two and the last operation of each kind always (the first is often in open,
        // where a failure is easiest to mishandle, the second the first retry or rotation), and an
        // even sample of the rest by seed.
        let edge = |&(kind, n, _): &(OpKind, u64, Fault)| n <= 2 || n == golden.count(kind);
        let (edges, rest): (Vec<_>, Vec<_>) = plans.into_iter().partition(edge);
        let room = most.saturating_sub(edges.len()).max(1);
        let stride = rest.len().div_ceil(room).max(1);
        let shift = (seed as usize) % stride;
        let sampled = rest
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % stride == shift);
        for plan in edges.into_iter().chain(sampled.map(|(_, plan)| plan)) {
            run_once::<S>(seed, ops, Some(plan), shape)?;
        }
        Ok(())
    }

    /// The check every storage scene runs: a [`sweep`] of the smallest workload (one put: faults in
    /// open are easiest to see there, with nothing after them to hide them), of each of `scripted`
    /// (the scene's own edges),
    /// then of `cases` workloads from `workloads`, each shrunk on failure. `context` starts the failure message (the store's settings).
    pub fn faults_everywhere<S: Subject>(
        ctx: &mut Ctx,
        scripted: &[Vec<KvOp>],
        cases: u32,
        workloads: impl Strategy<Value = Vec<KvOp>>,
        shape: Shape,
        context: &str,
    ) -> CheckResult {
        const MOST: usize = 20;
        let seed = ctx.seed();
        let explain = |message: String| Failure::new(format!("{context}{message}"));
        let smallest = vec![KvOp::Put(b"a".to_vec(), b"1".to_vec())];
        for ops in std::iter::once(&smallest).chain(scripted) {
            sweep::<S>(seed, ops, MOST, shape).map_err(explain)?;
        }
        ctx.forall_named(&["ops"], cases, workloads, |ops| {
            sweep::<S>(seed, &ops, MOST, shape).map_err(explain)
        })
    }

    /// What a store can do: the append-only file's reopens and recovers from a power cut.
    #[derive(Debug, Clone, Copy)]
    pub struct Shape {
        pub reopens: bool,
        pub syncs: bool,
        pub crash: bool,
    }

    impl Shape {
        pub const RECOVERS: Shape = Shape {
            reopens: true,
            syncs: true,
            crash: true,
        };
    }
}
