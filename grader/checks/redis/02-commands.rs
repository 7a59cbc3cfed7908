//! Hidden checks for redis/commands.

use std::collections::BTreeMap;
use std::fmt;

use judge::prelude::*;
use redis_commands::{Db, Frame, Reply};

use crate::support::{
    COMMANDS_TABLE, NOT_AN_INTEGER, SYNTAX_ERROR, WRONGTYPE, arity_error, clamped, command_line,
    string2ll, told, unknown_command_error, words,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "each command answers as the README's table says: PONG, ECHO, GET of a missing key \
             is nil, SET replaces, DEL and EXISTS count, TYPE, pushes in order, LLEN, LRANGE",
            golden,
        )
        .check(
            "EXISTS counts a key named twice twice, DEL counts only the keys that existed, and \
             neither counts its own name, even when a key has that name",
            counting,
        )
        .check(
            "command names are found whatever their ASCII case, and only ASCII: \u{17f}et, \
             GET with a NUL or a space after it, and G ET are unknown",
            names_any_case,
        )
        .check(
            "every command with 0 to its arity + 2 arguments: the arity error, with the table's \
             lowercase name, exactly when the count does not fit (PING takes at most one), and \
             nothing changed by a refused request",
            arity,
        )
        .check(
            "an unknown command is answered with its name and its arguments quoted, as Redis \
             words it, whatever the number of arguments (none too)",
            unknown_commands,
        )
        .check(
            "an unknown command's text is cut as Redis's C cuts it: the name at 128 bytes, the \
             arguments while the list is under 128 bytes, at a NUL; CR and LF become spaces",
            unknown_command_edges,
        )
        .check(
            "an unknown command's text matches Redis's for random names and binary arguments, \
             short and long",
            unknown_commands_random,
        )
        .check(
            "WRONGTYPE for every command against a key of the wrong type, which is left as it \
             was; SET, DEL, EXISTS and TYPE work on keys of every type",
            wrong_type,
        )
        .check(
            "LRANGE reads its indexes as Redis reads integers (no +, no leading 0, no -0, \
             within i64), before it looks at the key or its type",
            integers,
        )
        .check(
            "LRANGE of any start and stop, negative, past either end and at the ends of i64, \
             agrees with Redis's clamping",
            ranges,
        )
        .check(
            "SET with anything after the value is a syntax error, and leaves the key as it was",
            syntax_error,
        )
        .check(
            "a request that is not an array of bulk strings: nothing for an empty one, the \
             connection closed with Redis's protocol error otherwise, and nothing run",
            protocol,
        )
        .check(
            "keys and values are bytes: CRLF, NUL, the empty string and 70,000 bytes are kept \
             exactly, and k and K are two keys",
            binary,
        )
        .check(
            "random sequences of commands, names in any case, right and wrong, answer as a \
             model of Redis does, request after request",
            matches_model,
        )
}

// ---- requests and replies, as redis-cli shows them ----

crate::support::keyspace_replies!();

fn array(items: &[&[u8]]) -> Reply {
    Reply::Send(Frame::Array(
        items.iter().map(|i| Frame::Bulk(i.to_vec())).collect(),
    ))
}

/// A learner's keyspace and the model, sent the same requests; what was sent is kept for the
/// messages.
struct Session {
    db: Db,
    model: Model,
    sent: Vec<String>,
}

impl Session {
    fn new() -> Session {
        Session {
            db: Db::new(),
            model: Model::default(),
            sent: Vec::new(),
        }
    }

    /// Sends a request, checks its reply against the model's.
    fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> CheckResult {
        let line = command_line(args);
        self.send_frame(request(args), &line)
    }

    fn send_frame(&mut self, frame: Frame, line: &str) -> CheckResult {
        let expected = self.model.answer(&frame);
        self.expect_frame(frame, line, &expected)
    }

    /// Sends a request, checks its reply against the one given (the model is sent it too).
    fn expect<A: AsRef<[u8]>>(&mut self, args: &[A], expected: &Reply) -> CheckResult {
        let line = command_line(args);
        let frame = request(args);
        let model = self.model.answer(&frame);
        debug_assert_eq!(
            &model, expected,
            "the model disagrees with the script: {line}"
        );
        self.expect_frame(frame, &line, expected)
    }

    fn expect_frame(&mut self, frame: Frame, line: &str, expected: &Reply) -> CheckResult {
        let got = self.db.execute(frame);
        let result = expect_reply(&told(&self.sent, line), &got, expected);
        self.sent.push(line.to_string());
        if self.sent.len() > 12 {
            self.sent.remove(0);
            self.sent[0] = "...".into();
        }
        result
    }

    fn line(&mut self, line: &str, expected: Reply) -> CheckResult {
        self.expect(&words(line), &expected)
    }

    /// Reads every key the model knows, and the given others, as TYPE then GET or LRANGE: what
    /// a client can see of the keyspace.
    fn probe(&mut self, others: &[&[u8]]) -> CheckResult {
        let mut keys: Vec<Vec<u8>> = self.model.keys.keys().cloned().collect();
        keys.extend(others.iter().map(|k| k.to_vec()));
        for key in keys {
            self.send(&[&b"TYPE"[..], &key])?;
            match self.model.keys.get(&key) {
                Some(Value::List(_)) => self.send(&[&b"LRANGE"[..], &key, b"0", b"-1"])?,
                _ => self.send(&[&b"GET"[..], &key])?,
            }
        }
        Ok(())
    }
}

// ---- the model ----

#[derive(Debug, Clone, PartialEq)]
enum Value {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
}

/// Redis, as its source reads, for the commands of the scene.
#[derive(Debug, Clone, Default)]
struct Model {
    keys: BTreeMap<Vec<u8>, Value>,
}

/// The commands, with Redis's arity.
const TABLE: [(&str, i64); 11] = COMMANDS_TABLE;

fn type_byte(frame: &Frame) -> char {
    match frame {
        Frame::Simple(_) => '+',
        Frame::Error(_) => '-',
        Frame::Integer(_) => ':',
        Frame::Bulk(_) | Frame::NullBulk => '$',
        Frame::Array(_) | Frame::NullArray => '*',
        Frame::Null => '_',
        Frame::Boolean(_) => '#',
        Frame::Double(_) => ',',
        Frame::BigNumber(_) => '(',
        Frame::BulkError(_) => '!',
        Frame::Verbatim { .. } => '=',
        Frame::Map(_) => '%',
        Frame::Set(_) => '~',
        Frame::Push(_) => '>',
    }
}

impl Model {
    fn answer(&mut self, request: &Frame) -> Reply {
        let items = match request {
            Frame::Array(items) => items,
            Frame::NullArray => return Reply::Nothing,
            other => {
                let text = format!(
                    "ERR Protocol error: expected '*', got '{}'",
                    type_byte(other)
                );
                return Reply::Close(Frame::Error(text));
            }
        };
        if items.is_empty() {
            return Reply::Nothing;
        }
        let mut args = Vec::new();
        for item in items {
            match item {
                Frame::Bulk(data) => args.push(data.clone()),
                Frame::NullBulk => {
                    let text = "ERR Protocol error: invalid bulk length";
                    return Reply::Close(Frame::Error(text.into()));
                }
                other => {
                    let text = format!(
                        "ERR Protocol error: expected '$', got '{}'",
                        type_byte(other)
                    );
                    return Reply::Close(Frame::Error(text));
                }
            }
        }
        Reply::Send(self.run(&args))
    }

    fn run(&mut self, args: &[Vec<u8>]) -> Frame {
        let error = |text: &str| Frame::Error(text.to_string());
        let Some(&(name, arity)) = TABLE
            .iter()
            .find(|(known, _)| known.as_bytes() == args[0].to_ascii_lowercase())
        else {
            return error(&unknown_command_error(args));
        };
        let argc = args.len() as i64;
        if (arity > 0 && argc != arity) || argc < -arity || (name == "ping" && argc > 2) {
            return error(&arity_error(name));
        }
        let key = args.get(1).cloned().unwrap_or_default();
        match name {
            "ping" if argc == 1 => Frame::Simple("PONG".into()),
            "ping" | "echo" => Frame::Bulk(args[1].clone()),
            "get" => match self.keys.get(&key) {
                None => Frame::NullBulk,
                Some(Value::String(v)) => Frame::Bulk(v.clone()),
                Some(Value::List(_)) => error(WRONGTYPE),
            },
            "set" if argc > 3 => error(SYNTAX_ERROR),
            "set" => {
                self.keys.insert(key, Value::String(args[2].clone()));
                Frame::Simple("OK".into())
            }
            "del" => {
                let mut n = 0;
                for key in &args[1..] {
                    if self.keys.remove(key).is_some() {
                        n += 1;
                    }
                }
                Frame::Integer(n)
            }
            "exists" => {
                let n = args[1..]
                    .iter()
                    .filter(|k| self.keys.contains_key(*k))
                    .count();
                Frame::Integer(n as i64)
            }
            "type" => Frame::Simple(
                match self.keys.get(&key) {
                    None => "none",
                    Some(Value::String(_)) => "string",
                    Some(Value::List(_)) => "list",
                }
                .into(),
            ),
            "rpush" | "lpush" => {
                let entry = self
                    .keys
                    .entry(key.clone())
                    .or_insert(Value::List(Vec::new()));
                let Value::List(list) = entry else {
                    return error(WRONGTYPE);
                };
                for element in &args[2..] {
                    if name == "rpush" {
                        list.push(element.clone());
                    } else {
                        list.insert(0, element.clone());
                    }
                }
                Frame::Integer(list.len() as i64)
            }
            "llen" => match self.keys.get(&key) {
                None => Frame::Integer(0),
                Some(Value::List(list)) => Frame::Integer(list.len() as i64),
                Some(Value::String(_)) => error(WRONGTYPE),
            },
            _ => {
                // LRANGE, as t_list.c reads: indexes, then the key, then its type.
                let (Some(start), Some(end)) = (string2ll(&args[2]), string2ll(&args[3])) else {
                    return error(NOT_AN_INTEGER);
                };
                let list = match self.keys.get(&key) {
                    None => return Frame::Array(Vec::new()),
                    Some(Value::String(_)) => return error(WRONGTYPE),
                    Some(Value::List(list)) => list,
                };
                let Some(range) = clamped(start, end, list.len()) else {
                    return Frame::Array(Vec::new());
                };
                Frame::Array(list[range].iter().map(|e| Frame::Bulk(e.clone())).collect())
            }
        }
    }
}

// ---- scripted checks ----

fn golden(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("PING", simple("PONG"))?;
    s.line("PING hello", bulk(b"hello"))?;
    s.line("ECHO hi", bulk(b"hi"))?;
    s.expect(&[&b"ECHO"[..], b""], &bulk(b""))?;
    s.line("GET k", nil())?;
    s.line("TYPE k", simple("none"))?;
    s.line("SET k v", ok())?;
    s.line("GET k", bulk(b"v"))?;
    s.line("TYPE k", simple("string"))?;
    s.line("SET k w", ok())?;
    s.line("GET k", bulk(b"w"))?;
    s.line("RPUSH l a b", int(2))?;
    s.line("RPUSH l c", int(3))?;
    s.line("TYPE l", simple("list"))?;
    s.line("LLEN l", int(3))?;
    s.line("LRANGE l 0 -1", array(&[b"a", b"b", b"c"]))?;
    s.line("LPUSH m a b c", int(3))?;
    s.line("LRANGE m 0 -1", array(&[b"c", b"b", b"a"]))?;
    s.line("LPUSH l z", int(4))?;
    s.line("LRANGE l 0 -1", array(&[b"z", b"a", b"b", b"c"]))?;
    s.line("LRANGE l 1 2", array(&[b"a", b"b"]))?;
    s.line("LRANGE l -2 -1", array(&[b"b", b"c"]))?;
    s.line("LRANGE l -100 100", array(&[b"z", b"a", b"b", b"c"]))?;
    s.line("LRANGE l 2 1", array(&[]))?;
    s.line("LRANGE l 4 10", array(&[]))?;
    s.line("LRANGE l 3 3", array(&[b"c"]))?;
    s.line("LRANGE nothing 0 -1", array(&[]))?;
    s.line("LLEN nothing", int(0))?;
    s.line("EXISTS k l nothing", int(2))?;
    s.line("DEL k nothing", int(1))?;
    s.line("GET k", nil())?;
    s.line("EXISTS k", int(0))?;
    s.line("SET l now-a-string", ok())?;
    s.line("TYPE l", simple("string"))?;
    s.line("GET l", bulk(b"now-a-string"))?;
    s.line("DEL l m", int(2))?;
    s.line("TYPE m", simple("none"))?;
    s.line("RPUSH m x", int(1))?;
    s.line("LRANGE m 0 -1", array(&[b"x"]))
}

fn counting(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("SET a 1", ok())?;
    s.line("RPUSH b x", int(1))?;
    s.line("EXISTS a a", int(2))?;
    s.line("EXISTS a b a b a", int(5))?;
    s.line("EXISTS c c", int(0))?;
    s.line("EXISTS c a c", int(1))?;
    s.line("DEL c", int(0))?;
    s.line("DEL c d a", int(1))?;
    s.line("DEL a b a b", int(1))?;
    s.line("DEL a b", int(0))?;
    s.line("EXISTS a b", int(0))?;
    // The name is not a key, even when a key has its name.
    s.line("SET del x", ok())?;
    s.line("SET EXISTS y", ok())?;
    s.line("del nothing", int(0))?;
    s.line("EXISTS nothing", int(0))?;
    s.line("exists del EXISTS", int(2))?;
    s.line("del del", int(1))?;
    s.line("EXISTS del EXISTS", int(1))
}

fn names_any_case(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("set k v", ok())?;
    s.line("Get k", bulk(b"v"))?;
    s.line("gEt k", bulk(b"v"))?;
    s.line("eXiStS k k", int(2))?;
    s.line("rPuSh l a", int(1))?;
    s.line("lrangE l 0 0", array(&[b"a"]))?;
    s.line("PiNg", simple("PONG"))?;
    // Every name, in random cases.
    let mut rng = ctx.rng();
    for (name, _) in TABLE {
        for _ in 0..4 {
            let mixed: String = name
                .chars()
                .map(|c| {
                    if rng.next_u32() & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            let args = example_args(name, usize::MAX);
            let mut request = vec![mixed.into_bytes()];
            request.extend(args);
            s.send(&request)?;
        }
    }
    // Only ASCII case: these are not the names of any command.
    for name in [
        "\u{17f}et".as_bytes(),
        "\u{17f}ET".as_bytes(),
        b"GET\0",
        b"GET ",
        b" GET",
        b"G ET",
        b"GETT",
        b"GE",
        "GE\u{54}\u{301}".as_bytes(),
    ] {
        let args = [name, b"k"];
        s.expect(&args, &err(&unknown_command_error(&args)))?;
    }
    Ok(())
}

/// Arguments for `name` that it accepts, `count` of them at most (`usize::MAX`: the usual
/// number); keys `s` (a string), `l` (a list) and `nothing`.
fn example_args(name: &str, count: usize) -> Vec<Vec<u8>> {
    let pool: &[&str] = match name {
        "ping" | "echo" => &["hello", "x", "y", "z"],
        "get" | "type" | "llen" => &["s", "l", "nothing", "x"],
        "set" => &["s2", "v", "x", "y", "z"],
        "del" | "exists" => &["nothing", "s", "l", "s", "x"],
        "rpush" | "lpush" => &["l", "a", "b", "c", "d"],
        _ => &["l", "0", "-1", "x", "y", "z"],
    };
    let usual = match name {
        "ping" | "echo" | "get" | "type" | "llen" => 1,
        "set" | "rpush" | "lpush" => 2,
        "del" | "exists" => 3,
        _ => 3,
    };
    let count = if count == usize::MAX { usual } else { count };
    (0..count)
        .map(|i| pool[i % pool.len()].as_bytes().to_vec())
        .collect()
}

fn arity(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("SET s 1", ok())?;
    s.line("RPUSH l a b", int(2))?;
    for (name, arity) in TABLE {
        let most = arity.unsigned_abs() as usize - 1 + 2;
        for count in 0..=most {
            let spelled = if count % 2 == 0 {
                name.to_ascii_uppercase()
            } else {
                name.to_string()
            };
            ctx.doing(format!("{spelled} with {count} arguments"));
            let mut args = vec![spelled.into_bytes()];
            args.extend(example_args(name, count));
            let argc = args.len() as i64;
            let fits = if arity > 0 {
                argc == arity
            } else {
                argc >= -arity && (name != "ping" || argc <= 2)
            };
            if fits {
                s.send(&args)?;
            } else {
                s.expect(&args, &err(&arity_error(name)))?;
                s.probe(&[b"nothing"])?;
            }
        }
    }
    Ok(())
}

fn unknown_commands(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    let cases: [(&[&[u8]], &str); 7] = [
        (
            &[b"FOO"],
            "ERR unknown command 'FOO', with args beginning with: ",
        ),
        (
            &[b"foo", b"a", b"b c"],
            "ERR unknown command 'foo', with args beginning with: 'a' 'b c' ",
        ),
        (
            &[b"Hello", b"k"],
            "ERR unknown command 'Hello', with args beginning with: 'k' ",
        ),
        (&[b""], "ERR unknown command '', with args beginning with: "),
        (
            &[b"", b"", b""],
            "ERR unknown command '', with args beginning with: '' '' ",
        ),
        (
            &[b"SETT", b"k", b"v"],
            "ERR unknown command 'SETT', with args beginning with: 'k' 'v' ",
        ),
        (
            &[b"x'y", b"it's"],
            "ERR unknown command 'x'y', with args beginning with: 'it's' ",
        ),
    ];
    for (args, text) in cases {
        s.expect(args, &err(text))?;
    }
    // Nothing was run.
    s.probe(&[b"k", b"FOO"])
}

fn unknown_command_edges(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    let long = |n: usize| -> Vec<u8> { (0..n).map(|i| b'a' + (i % 26) as u8).collect() };
    let abc = long(300);
    let text = |name: &[u8], list: &[u8]| -> Reply {
        let mut t = b"ERR unknown command '".to_vec();
        t.extend_from_slice(name);
        t.extend_from_slice(b"', with args beginning with: ");
        t.extend_from_slice(list);
        err(&String::from_utf8_lossy(&t))
    };
    // The name: 128 bytes kept, the 129th cut.
    s.expect(&[long(128)], &text(&abc[..128], b""))?;
    s.expect(&[long(129)], &text(&abc[..128], b""))?;
    s.expect(&[long(70_000)], &text(&abc[..128], b""))?;
    // One long argument: cut to 128 bytes, and nothing after it.
    let mut list = b"'".to_vec();
    list.extend_from_slice(&abc[..128]);
    list.extend_from_slice(b"' ");
    s.expect(
        &[b"x".to_vec(), long(200), b"b".to_vec()],
        &text(b"x", &list),
    )?;
    // Short arguments: added while the list is under 128 bytes. Each "'aaaaaaaa' " is 11
    // bytes: 11 of them make 121, the 12th is cut to the 7 bytes left of 128 (making 131),
    // and the 13th is left out.
    let eight = b"aaaaaaaa".to_vec();
    let mut args = vec![b"x".to_vec()];
    args.extend(std::iter::repeat_n(eight.clone(), 13));
    let mut list = b"'aaaaaaaa' ".repeat(11);
    list.extend_from_slice(b"'aaaaaaa' ");
    s.expect(&args, &text(b"x", &list))?;
    // The last one is cut to what is left of 128: 10 of 11 bytes make 110, 18 are left.
    let mut args = vec![b"x".to_vec()];
    args.extend(std::iter::repeat_n(eight, 10));
    args.push(long(40));
    let mut list = b"'aaaaaaaa' ".repeat(10);
    list.push(b'\'');
    list.extend_from_slice(&abc[..18]);
    list.extend_from_slice(b"' ");
    s.expect(&args, &text(b"x", &list))?;
    // A list of exactly 128 bytes stops there; at 127 one more goes in, cut to 1 byte.
    let mut args = vec![b"x".to_vec(), long(125)];
    args.push(b"next".to_vec());
    let mut list = b"'".to_vec();
    list.extend_from_slice(&abc[..125]);
    list.extend_from_slice(b"' ");
    s.expect(&args, &text(b"x", &list))?;
    let mut args = vec![b"x".to_vec(), long(124)];
    args.push(b"next".to_vec());
    let mut list = b"'".to_vec();
    list.extend_from_slice(&abc[..124]);
    list.extend_from_slice(b"' 'n' ");
    s.expect(&args, &text(b"x", &list))?;
    // A NUL ends a name or an argument, as C's %s stops there.
    s.expect(&[&b"fo\0o"[..], b"a\0b", b"c"], &text(b"fo", b"'a' 'c' "))?;
    s.expect(&[&b"\0get"[..], b"\0"], &text(b"", b"'' "))?;
    // CR and LF become spaces, in the name and the arguments.
    s.expect(
        &[&b"a\r\nb"[..], b"x\ny", b"\r"],
        &text(b"a  b", b"'x y' ' ' "),
    )?;
    // Bytes that are not UTF-8 become U+FFFD; a character cut at 128 bytes too.
    s.expect(
        &[&b"\xff\xfe"[..], b"\xc3"],
        &text("\u{fffd}\u{fffd}".as_bytes(), "'\u{fffd}' ".as_bytes()),
    )?;
    let mut name = vec![b'a'; 127];
    name.extend_from_slice("é".as_bytes());
    let mut cut = vec![b'a'; 127];
    cut.extend_from_slice("\u{fffd}".as_bytes());
    s.expect(&[name], &text(&cut, b""))?;
    let mut name = vec![b'a'; 126];
    name.extend_from_slice("é".as_bytes());
    s.expect(&[name.clone()], &text(&name, b""))
}

fn unknown_commands_random(ctx: &mut Ctx) -> CheckResult {
    let byte = prop_oneof![
        6 => b'a'..=b'z',
        1 => prop::sample::select(b"\r\n\0' \"\xff\xc3\xa9".to_vec()),
        1 => any::<u8>(),
    ];
    let short = prop::collection::vec(byte.clone(), 0..12);
    let data = prop_oneof![
        4 => short.clone(),
        1 => prop::collection::vec(byte, 100..200),
    ];
    let name = data.clone().prop_filter("not a command", |name| {
        !TABLE
            .iter()
            .any(|(known, _)| name.eq_ignore_ascii_case(known.as_bytes()))
    });
    let args = prop_oneof![
        3 => prop::collection::vec(short, 0..5),
        1 => prop::collection::vec(data, 0..20),
    ];
    let request = (name, args).prop_map(|(name, args)| {
        let mut request = vec![name];
        request.extend(args);
        Request(request)
    });
    ctx.forall_named(&["request"], 192, request, |Request(request)| {
        let expected = err(&unknown_command_error(&request));
        let got = Db::new().execute(self::request(&request));
        expect_reply(&command_line(&request), &got, &expected)
    })
}

fn wrong_type(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("SET s hello", ok())?;
    s.line("RPUSH l a b", int(2))?;
    let wrong = [
        "GET l",
        "RPUSH s x",
        "RPUSH s x y",
        "LPUSH s x",
        "LPUSH s x y",
        "LLEN s",
        "LRANGE s 0 -1",
        "LRANGE s 5 1",
    ];
    for line in wrong {
        s.line(line, err(WRONGTYPE))?;
        s.probe(&[])?;
    }
    s.line("TYPE s", simple("string"))?;
    s.line("TYPE l", simple("list"))?;
    s.line("EXISTS s l", int(2))?;
    s.line("ECHO s", bulk(b"s"))?;
    s.line("SET l replaced", ok())?;
    s.line("GET l", bulk(b"replaced"))?;
    s.line("LLEN l", err(WRONGTYPE))?;
    s.line("DEL s", int(1))?;
    s.line("RPUSH s now-a-list", int(1))?;
    s.line("GET s", err(WRONGTYPE))?;
    s.line("DEL s l", int(2))?;
    s.probe(&[b"s", b"l"])
}

fn integers(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("RPUSH l a b c", int(3))?;
    s.line("SET s x", ok())?;
    let bad: [&[u8]; 17] = [
        b"",
        b"+1",
        b"01",
        b"-0",
        b"-01",
        b" 1",
        b"1 ",
        b"1.0",
        b"1e3",
        b"0x1",
        b"one",
        b"-",
        b"9223372036854775808",
        b"-9223372036854775809",
        b"99999999999999999999999",
        b"1\0",
        b"\xef\xbc\x91",
    ];
    for index in bad {
        for key in [&b"l"[..], b"s", b"nothing"] {
            s.expect(&[&b"LRANGE"[..], key, index, b"1"], &err(NOT_AN_INTEGER))?;
            s.expect(&[&b"lrange"[..], key, b"0", index], &err(NOT_AN_INTEGER))?;
        }
    }
    let good: [(&[u8], &[u8], Reply); 7] = [
        (b"0", b"0", array(&[b"a"])),
        (b"-1", b"-1", array(&[b"c"])),
        (b"-3", b"2", array(&[b"a", b"b", b"c"])),
        (b"9223372036854775807", b"-1", array(&[])),
        (
            b"-9223372036854775808",
            b"9223372036854775807",
            array(&[b"a", b"b", b"c"]),
        ),
        (b"-9223372036854775808", b"-9223372036854775808", array(&[])),
        (b"1", b"10", array(&[b"b", b"c"])),
    ];
    for (start, stop, expected) in good {
        s.expect(&[&b"LRANGE"[..], b"l", start, stop], &expected)?;
    }
    s.line("LRANGE s 0 -1", err(WRONGTYPE))
}

fn index() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => -6i64..7,
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => Just(i64::MIN + 1),
        1 => any::<i64>(),
    ]
}

fn ranges(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["list length", "start", "stop"],
        256,
        (0usize..6, index(), index()),
        |(len, start, stop)| {
            let mut s = Session::new();
            if len > 0 {
                let mut args = words("RPUSH l");
                args.extend((0..len).map(|i| vec![b'a' + i as u8]));
                s.send(&args)?;
            }
            let args = [
                b"LRANGE".to_vec(),
                b"l".to_vec(),
                start.to_string().into_bytes(),
                stop.to_string().into_bytes(),
            ];
            s.send(&args)
        },
    )
}

fn syntax_error(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("SET k v junk", err(SYNTAX_ERROR))?;
    s.line("GET k", nil())?;
    s.line("SET k v", ok())?;
    s.line("SET k w junk", err(SYNTAX_ERROR))?;
    s.line("SET k w foo bar baz", err(SYNTAX_ERROR))?;
    s.expect(&[&b"SET"[..], b"k", b"w", b""], &err(SYNTAX_ERROR))?;
    s.line("GET k", bulk(b"v"))?;
    s.line("RPUSH l a", int(1))?;
    s.line("SET l w junk", err(SYNTAX_ERROR))?;
    s.line("TYPE l", simple("list"))?;
    s.line("set k w 1", err(SYNTAX_ERROR))?;
    s.probe(&[b"k", b"l"])
}

fn protocol(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    let close = |text: &str| Reply::Close(Frame::Error(text.into()));
    let expected_dollar = |c: char| close(&format!("ERR Protocol error: expected '$', got '{c}'"));
    s.expect_frame(
        Frame::Array(Vec::new()),
        "*0 (an empty array)",
        &Reply::Nothing,
    )?;
    s.expect_frame(Frame::NullArray, "*-1 (a null array)", &Reply::Nothing)?;
    let others = [
        Frame::Simple("GET".into()),
        Frame::Error("ERR".into()),
        Frame::Integer(1),
        Frame::Array(vec![Frame::Bulk(b"GET".to_vec())]),
        Frame::Array(Vec::new()),
        Frame::NullArray,
        Frame::Null,
        Frame::Boolean(true),
        Frame::Double(1.5),
        Frame::BigNumber("1".into()),
        Frame::BulkError(b"x".to_vec()),
        Frame::Verbatim {
            format: "txt".into(),
            text: b"GET".to_vec(),
        },
        Frame::Map(Vec::new()),
        Frame::Set(vec![Frame::Bulk(b"k".to_vec())]),
        Frame::Push(Vec::new()),
    ];
    for other in others.iter().chain([&Frame::NullBulk]) {
        let c = type_byte(other);
        // The bad element first, then after a good SET that must not run.
        let first = Frame::Array(vec![other.clone()]);
        let expected = match other {
            Frame::NullBulk => close("ERR Protocol error: invalid bulk length"),
            _ => expected_dollar(c),
        };
        s.expect_frame(
            first,
            &format!("an array holding only {other:?}"),
            &expected,
        )?;
        let late = Frame::Array(vec![
            Frame::Bulk(b"SET".to_vec()),
            Frame::Bulk(b"k".to_vec()),
            other.clone(),
        ]);
        s.expect_frame(
            late,
            &format!("SET k, then {other:?} as the value"),
            &expected,
        )?;
        let early = Frame::Array(vec![
            Frame::Bulk(b"SET".to_vec()),
            other.clone(),
            Frame::Bulk(b"k".to_vec()),
            Frame::NullBulk,
        ]);
        s.expect_frame(
            early,
            &format!("SET, then {other:?} as the key, then k and a NullBulk"),
            &expected,
        )?;
    }
    for other in others {
        if matches!(other, Frame::Array(_) | Frame::NullArray) {
            continue;
        }
        let c = type_byte(&other);
        let did = format!("a request that is not an array: {other:?}");
        let expected = close(&format!("ERR Protocol error: expected '*', got '{c}'"));
        s.expect_frame(other, &did, &expected)?;
    }
    s.expect_frame(
        Frame::Bulk(b"PING".to_vec()),
        "Bulk(\"PING\") alone",
        &close("ERR Protocol error: expected '*', got '$'"),
    )?;
    s.expect_frame(
        Frame::NullBulk,
        "NullBulk alone",
        &close("ERR Protocol error: expected '*', got '$'"),
    )?;
    // Nothing was run: k was never set.
    s.probe(&[b"k", b"GET"])?;
    s.line("PING", simple("PONG"))
}

fn binary(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    let big: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let keys: [&[u8]; 6] = [b"k\r\nv", b"\0", b"", b"a\0b", b"\r\n", b"\xff\xfe"];
    let values: [&[u8]; 5] = [b"", b"\r\n", b"\0\0", b"$3\r\nabc\r\n", &big];
    for (i, key) in keys.iter().enumerate() {
        let value = values[i % values.len()];
        s.expect(&[&b"SET"[..], key, value], &ok())?;
        s.expect(&[&b"GET"[..], key], &bulk(value))?;
        s.expect(&[&b"TYPE"[..], key], &simple("string"))?;
    }
    s.probe(&[b"k", b"a", b"\0\0"])?;
    s.line("SET k lower", ok())?;
    s.line("SET K upper", ok())?;
    s.line("GET k", bulk(b"lower"))?;
    s.line("GET K", bulk(b"upper"))?;
    s.line("EXISTS k K KK", int(2))?;
    s.line("RPUSH L a", int(1))?;
    s.line("TYPE l", simple("none"))?;
    s.line("LLEN L", int(1))?;
    s.expect(&[&b"RPUSH"[..], b"\0", b"x"], &err(WRONGTYPE))?;
    s.expect(&[&b"RPUSH"[..], b"bin", b"\r\n", b"", &big, b"\0"], &int(4))?;
    s.expect(
        &[&b"LRANGE"[..], b"bin", b"0", b"-1"],
        &array(&[b"\r\n", b"", &big, b"\0"]),
    )?;
    s.expect(&[&b"ECHO"[..], &big], &bulk(&big))?;
    s.expect(&[&b"PING"[..], b"\r\n\0"], &bulk(b"\r\n\0"))?;
    s.expect(&[&b"DEL"[..], b"", b"\0", b"\0"], &int(2))?;
    s.probe(&[b"", b"\0"])
}

// ---- random sequences against the model ----

/// One request of a random sequence.
#[derive(Clone)]
struct Request(Vec<Vec<u8>>);

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&command_line(&self.0))
    }
}

const KEYS: [&[u8]; 7] = [b"a", b"b", b"A", b"k\r\n", b"\0", b"", b"long"];

fn request_strategy() -> impl Strategy<Value = Request> {
    let key = || prop::sample::select(&KEYS[..]).prop_map(|k| k.to_vec());
    let value = || {
        prop_oneof![
            4 => prop::sample::select(vec![&b"1"[..], b"x", b"", b"\r\n", b"\0", b"-1"])
                .prop_map(|v| v.to_vec()),
            1 => prop::collection::vec(any::<u8>(), 0..20),
        ]
    };
    let keys = || prop::collection::vec(key(), 0..4);
    let values = || prop::collection::vec(value(), 0..4);
    let int = || {
        prop_oneof![
            6 => (-4i64..5).prop_map(|n| n.to_string().into_bytes()),
            1 => index().prop_map(|n| n.to_string().into_bytes()),
            1 => prop::sample::select(vec![&b"+1"[..], b"01", b"-0", b"x", b""])
                .prop_map(|v| v.to_vec()),
        ]
    };
    let with = |name: &'static str, args: Vec<Vec<u8>>| {
        let mut request = vec![name.as_bytes().to_vec()];
        request.extend(args);
        request
    };
    let command = prop_oneof![
        3 => (key(), value()).prop_map(move |(k, v)| with("set", vec![k, v])),
        3 => key().prop_map(move |k| with("get", vec![k])),
        2 => (key(), value(), values())
            .prop_map(move |(k, v, mut vs)| { vs.insert(0, v); vs.insert(0, k); with("rpush", vs) }),
        2 => (key(), value(), values())
            .prop_map(move |(k, v, mut vs)| { vs.insert(0, v); vs.insert(0, k); with("lpush", vs) }),
        2 => (key(), int(), int()).prop_map(move |(k, a, b)| with("lrange", vec![k, a, b])),
        1 => key().prop_map(move |k| with("llen", vec![k])),
        1 => key().prop_map(move |k| with("type", vec![k])),
        1 => (key(), keys()).prop_map(move |(k, mut ks)| { ks.insert(0, k); with("del", ks) }),
        1 => (key(), keys()).prop_map(move |(k, mut ks)| { ks.insert(0, k); with("exists", ks) }),
        1 => values().prop_map(move |vs| with("ping", vs)),
        1 => values().prop_map(move |vs| with("echo", vs)),
        1 => (key(), value(), values()).prop_map(move |(k, v, mut vs)| {
            vs.insert(0, v);
            vs.insert(0, k);
            with("set", vs)
        }),
        1 => (prop::sample::select(vec!["foo", "gett", "sett", "lpop", ""]), values())
            .prop_map(move |(name, vs)| with(name, vs)),
        1 => (key(), keys()).prop_map(move |(k, ks)| {
            let mut args = vec![k];
            args.extend(ks);
            with("lrange", args)
        }),
    ];
    (command, any::<u32>()).prop_map(|(mut request, case)| {
        // The name in a random ASCII case: bit i of `case` uppercases letter i.
        for (i, byte) in request[0].iter_mut().enumerate() {
            if case >> (i % 32) & 1 == 1 {
                *byte = byte.to_ascii_uppercase();
            }
        }
        Request(request)
    })
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["requests"],
        256,
        prop::collection::vec(request_strategy(), 1..30),
        |requests| {
            let mut s = Session::new();
            for Request(args) in &requests {
                s.send(args)?;
            }
            s.probe(&[])
        },
    )
}
