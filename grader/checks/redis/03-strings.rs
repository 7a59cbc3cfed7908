//! Hidden checks for redis/strings.

use std::collections::BTreeMap;
use std::fmt;

use judge::prelude::*;
use redis_strings::{Db, Frame, MAX_ROUNDS, Reply, Round, SAMPLE};

use crate::support::{
    NOT_AN_INTEGER, OVERFLOW, STRINGS_TABLE, SYNTAX_ERROR, Step, WRONGTYPE, arity_error,
    command_line, string2ll, told, unknown_command_error, words,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a key is alive up to its expiry time and gone the millisecond after: PX 1, EX 1, \
             an hour of idleness; TTL rounds to the nearest second",
            boundary,
        )
        .check(
            "TTL and PTTL say -2 for a missing or expired key and -1 for a key without a TTL; \
             a plain SET removes the TTL, KEEPTTL and INCR keep it, PERSIST drops it",
            ttl_meanings,
        )
        .check(
            "every command that names an expired key removes it first (DBSIZE counts it until \
             then); a command refused before it looks at its key removes nothing",
            lazy_expiry,
        )
        .check(
            "SET's options NX, XX, EX, PX and KEEPTTL, in any case and order Redis allows, and \
             its syntax errors",
            set_options,
        )
        .check(
            "SET's time: not an integer, 0, negative, past i64 in seconds or added to now is \
             refused as Redis words it; PX 1 and PX of i64::MAX at time 0 are kept",
            set_times,
        )
        .check(
            "INCR, DECR, INCRBY, DECRBY: from 0, on integers in Redis's one spelling only, \
             WRONGTYPE, overflow at both ends of i64 refused and the value left alone",
            counters,
        )
        .check(
            "EXPIRE and PEXPIRE: the options NX, XX, GT, LT, a time of 0 or less deleting the \
             key, and each error in Redis's order and words",
            expire_command,
        )
        .check(
            "the new commands with 0 to their arity + 2 arguments: the arity error exactly when \
             the count does not fit; names in any case",
            arity,
        )
        .check(
            "random sequences of commands and jumps in time, milliseconds to hours, answer as a \
             model of Redis does, DBSIZE included",
            matches_model,
        )
        .check(
            "an active expire cycle samples min(20, keys with a TTL) distinct keys a round, goes \
             on while more than 25% expired, stops after 16 rounds or when no TTL is left",
            cycle_rounds,
        )
        .check(
            "an active expire cycle removes only expired keys and every key its rounds say it \
             removed; what it leaves still expires lazily",
            cycle_removes,
        )
        .check(
            "an active expire cycle picks its keys at random from the seed: one expired key \
             among 100 is found by about a fifth of the cycles, wherever it was inserted",
            cycle_random,
        )
        .check(
            "a key leaves the keys a cycle samples when it loses its TTL (PERSIST, a plain SET, \
             EXPIRE or PEXPIRE to now or before, DEL, lazy expiry), and is sampled once \
             however often its TTL is set",
            cycle_after_ttl_lost,
        )
        .check(
            "random commands, jumps in time and active expire cycles interleaved: each cycle \
             samples exactly the keys a model says have a TTL, and removes the expired ones",
            cycle_matches_model,
        )
}

// ---- requests and replies, as redis-cli shows them ----

crate::support::keyspace_replies!();

crate::support::keyspace_session!();

// ---- the model ----

#[derive(Debug, Clone, PartialEq)]
enum Value {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    value: Value,
    at: Option<i64>,
}

/// Redis, as its source reads, for the commands of the scene.
#[derive(Debug, Clone, Default)]
struct Model {
    keys: BTreeMap<Vec<u8>, Entry>,
}

/// The commands, with Redis's arity.
const TABLE: [(&str, i64); 21] = STRINGS_TABLE;

fn e(text: &str) -> Reply {
    err(text)
}

impl Model {
    /// TYPE's answer for the key: the one command that names every type of the scene.
    fn type_name(&mut self, key: &[u8], now: i64) -> &'static str {
        match self.touch(key, now) {
            None => "none",
            Some(Entry {
                value: Value::String(_),
                ..
            }) => "string",
            Some(_) => "list",
        }
    }
}

crate::support::keyspace_model!();

// ---- scripted checks ----

fn boundary(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("SET k v PX 1", ok())?;
    s.line("PTTL k", int(1))?;
    s.wait(1);
    s.line("PTTL k", int(0))?;
    s.line("TTL k", int(0))?;
    s.line("GET k", bulk(b"v"))?;
    s.wait(1);
    s.line("GET k", nil())?;
    s.line("PTTL k", int(-2))?;
    s.line("SET k v EX 1", ok())?;
    s.line("TTL k", int(1))?;
    s.line("PTTL k", int(1000))?;
    s.wait(500);
    s.line("TTL k", int(1))?;
    s.line("PTTL k", int(500))?;
    s.wait(1);
    s.line("TTL k", int(0))?;
    s.line("PTTL k", int(499))?;
    s.wait(499);
    s.line("EXISTS k", int(1))?;
    s.wait(1);
    s.line("EXISTS k", int(0))?;
    s.line("SET h v EX 3600", ok())?;
    s.line("TTL h", int(3600))?;
    s.wait(3_600_000);
    s.line("TTL h", int(0))?;
    s.line("GET h", bulk(b"v"))?;
    s.wait(1);
    s.line("GET h", nil())?;
    // TTL rounds to the nearest second: 1499 ms is 1, 1500 ms is 2.
    s.line("SET r v PX 1499", ok())?;
    s.line("TTL r", int(1))?;
    s.line("SET r v PX 1500", ok())?;
    s.line("TTL r", int(2))?;
    s.line("PEXPIRE r 2500", int(1))?;
    s.line("TTL r", int(3))?;
    s.line("PEXPIRE r 2499", int(1))?;
    s.line("TTL r", int(2))
}

fn ttl_meanings(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("TTL k", int(-2))?;
    s.line("PTTL k", int(-2))?;
    s.line("SET k v", ok())?;
    s.line("TTL k", int(-1))?;
    s.line("PTTL k", int(-1))?;
    s.line("EXPIRE k 100", int(1))?;
    s.line("TTL k", int(100))?;
    s.line("SET k w", ok())?;
    s.line("TTL k", int(-1))?;
    s.line("SET k v EX 100", ok())?;
    s.line("SET k w KEEPTTL", ok())?;
    s.line("PTTL k", int(100_000))?;
    s.line("GET k", bulk(b"w"))?;
    s.line("SET n 5 PX 5000", ok())?;
    s.wait(1000);
    s.line("INCR n", int(6))?;
    s.line("PTTL n", int(4000))?;
    s.line("INCRBY n 10", int(16))?;
    s.line("DECR n", int(15))?;
    s.line("DECRBY n 20", int(-5))?;
    s.line("PTTL n", int(4000))?;
    s.line("PERSIST n", int(1))?;
    s.line("TTL n", int(-1))?;
    s.line("PERSIST n", int(0))?;
    s.line("PERSIST missing", int(0))?;
    s.line("GET n", bulk(b"-5"))?;
    s.line("SET fresh v KEEPTTL", ok())?;
    s.line("TTL fresh", int(-1))?;
    s.line("RPUSH l a", int(1))?;
    s.line("EXPIRE l 10", int(1))?;
    s.line("TTL l", int(10))?;
    s.line("RPUSH l b", int(2))?;
    s.line("TTL l", int(10))?;
    s.line("SET l string", ok())?;
    s.line("TTL l", int(-1))?;
    s.line("EXPIRE k 1", int(1))?;
    s.wait(1001);
    s.line("TTL k", int(-2))?;
    s.line("PERSIST k", int(0))
}

fn lazy_expiry(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    // One key per command, all expiring at the same time, and one that never does.
    let touches: [(&str, Reply); 17] = [
        ("GET k0", nil()),
        ("EXISTS k1", int(0)),
        ("DEL k2", int(0)),
        ("TYPE k3", simple("none")),
        ("TTL k4", int(-2)),
        ("PTTL k5", int(-2)),
        ("PERSIST k6", int(0)),
        ("INCR k7", int(1)),
        ("SET k8 new NX", ok()),
        ("SET k9 new XX", nil()),
        ("EXPIRE k10 100", int(0)),
        ("PEXPIRE k11 100", int(0)),
        ("LLEN k12", int(0)),
        ("LRANGE k13 0 -1", Reply::Send(Frame::Array(Vec::new()))),
        ("INCRBY k14 5", int(5)),
        ("DECR k15", int(-1)),
        ("SET k16 new KEEPTTL", ok()),
    ];
    let n = touches.len() as i64;
    for i in 0..n {
        if i == 12 || i == 13 {
            s.line(&format!("RPUSH k{i} a b"), int(2))?;
            s.line(&format!("PEXPIRE k{i} 10"), int(1))?;
        } else {
            s.line(&format!("SET k{i} 10 PX 10"), ok())?;
        }
    }
    s.line("SET forever v", ok())?;
    s.size(n + 1)?;
    s.wait(11);
    // Refused before the key is looked at: nothing removed.
    for refused in [
        "GET k0 extra",
        "SET k0 v junk",
        "SET k0 v EX x",
        "SET k0 v EX 0",
        "INCRBY k0 x",
        "DECRBY k0 -9223372036854775808",
        "EXPIRE k0 x",
        "EXPIRE k0 10 junk",
        "LRANGE k12 x 1",
    ] {
        s.send(&words(refused))?;
    }
    s.size(n + 1)?;
    for (i, (line, expected)) in touches.into_iter().enumerate() {
        s.line(line, expected)?;
        let gone = i as i64 + 1;
        // The commands that create the key again put one back.
        let created = [7, 8, 14, 15, 16].iter().filter(|&&c| c <= i).count() as i64;
        s.size(n + 1 - gone + created)?;
    }
    s.line("GET forever", bulk(b"v"))?;
    s.line("TTL k16", int(-1))?;
    s.line("TTL k7", int(-1))?;
    // DEL and EXISTS name several keys: each expired one is removed, none counted.
    s.line("SET a 1 PX 5", ok())?;
    s.line("SET b 1 PX 5", ok())?;
    s.line("SET c 1", ok())?;
    s.wait(6);
    s.line("EXISTS a c a", int(1))?;
    s.line("DEL b c", int(1))?;
    s.line("EXISTS a b c", int(0))
}

fn set_options(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("SET k v NX", ok())?;
    s.line("SET k w NX", nil())?;
    s.line("GET k", bulk(b"v"))?;
    s.line("SET k w XX", ok())?;
    s.line("GET k", bulk(b"w"))?;
    s.line("SET x v XX", nil())?;
    s.line("EXISTS x", int(0))?;
    s.line("SET x v nx", ok())?;
    s.line("SET x v Nx Nx", nil())?;
    s.line("SET k v ex 10", ok())?;
    s.line("PTTL k", int(10_000))?;
    s.line("SET k v Px 10", ok())?;
    s.line("PTTL k", int(10))?;
    s.line("SET k v PX 10 NX", nil())?;
    s.line("SET k v NX PX 50", nil())?;
    s.line("SET k v XX PX 50", ok())?;
    s.line("PTTL k", int(50))?;
    s.line("SET k v EX 10 EX 20", ok())?;
    s.line("TTL k", int(20))?;
    s.line("SET k v PX 10 PX 30", ok())?;
    s.line("PTTL k", int(30))?;
    s.line("SET k v keepttl", ok())?;
    s.line("PTTL k", int(30))?;
    s.line("SET k v KEEPTTL KEEPTTL XX", ok())?;
    s.line("PTTL k", int(30))?;
    s.line("SET k v XX XX", ok())?;
    s.line("PTTL k", int(-1))?;
    s.line("SET k v XX KEEPTTL", ok())?;
    s.line("PTTL k", int(-1))?;
    // A NX or XX that says no changes nothing, its TTL included.
    s.line("SET t v EX 100", ok())?;
    s.line("SET t w NX EX 5", nil())?;
    s.line("PTTL t", int(100_000))?;
    s.line("SET u w XX EX 5", nil())?;
    s.line("TYPE u", simple("none"))?;
    let syntax = [
        "SET k v NX XX",
        "SET k v XX NX",
        "SET k v EX",
        "SET k v PX",
        "SET k v EX 10 PX 10",
        "SET k v PX 10 EX 10",
        "SET k v KEEPTTL EX 10",
        "SET k v EX 10 KEEPTTL",
        "SET k v PX 10 KEEPTTL",
        "SET k v KEEPTTL PX 10",
        "SET k v junk",
        "SET k v NXX",
        "SET k v N",
        "SET k v EXX 10",
        "SET k v 10",
        "SET k v NX EX 10 foo",
        "SET k v EX x NX XX",
    ];
    for line in syntax {
        s.line(line, err(SYNTAX_ERROR))?;
    }
    s.expect(&[&b"SET"[..], b"k", b"v", b""], &err(SYNTAX_ERROR))?;
    s.line("GET k", bulk(b"v"))?;
    s.line("PTTL k", int(-1))?;
    // SET replaces a list, and its TTL.
    s.line("RPUSH l a", int(1))?;
    s.line("EXPIRE l 100", int(1))?;
    s.line("SET l v", ok())?;
    s.line("TYPE l", simple("string"))?;
    s.line("TTL l", int(-1))
}

fn set_times(_: &mut Ctx) -> CheckResult {
    let invalid = || err("ERR invalid expire time in 'set' command");
    let mut s = Session::new();
    s.line("SET k old", ok())?;
    for time in ["0", "-1", "-9223372036854775808"] {
        s.line(&format!("SET k v EX {time}"), invalid())?;
        s.line(&format!("SET k v PX {time}"), invalid())?;
    }
    // Over i64::MAX / 1000 seconds; at the limit, the sum with now overflows.
    s.line("SET k v EX 9223372036854776", invalid())?;
    s.line("SET k v EX 9223372036854775", invalid())?;
    s.line("SET k v PX 9223372036854775807", invalid())?;
    let room = i64::MAX - START;
    s.line(&format!("SET k v PX {}", room + 1), invalid())?;
    for time in [
        "x",
        "",
        "+5",
        "05",
        "1.5",
        "-0",
        "9223372036854775808",
        " 5",
    ] {
        s.expect(
            &[&b"SET"[..], b"k", b"v", b"EX", time.as_bytes()],
            &err(NOT_AN_INTEGER),
        )?;
        s.expect(
            &[&b"SET"[..], b"k", b"v", b"PX", time.as_bytes()],
            &err(NOT_AN_INTEGER),
        )?;
    }
    s.line("GET k", bulk(b"old"))?;
    s.line("TTL k", int(-1))?;
    // The largest deadlines: now + room is i64::MAX itself.
    s.line(&format!("SET k v PX {room}"), ok())?;
    s.line("PTTL k", int(room))?;
    s.line("SET k v PX 1", ok())?;
    s.line("PTTL k", int(1))?;
    s.line(&format!("SET big v EX {}", room / 1000), ok())?;
    s.line("TTL big", int(room / 1000))?;
    // At time 0, PX of i64::MAX is a deadline like any other.
    let mut zero = Session::at(0);
    zero.line("SET k v PX 9223372036854775807", ok())?;
    zero.line("PTTL k", int(i64::MAX))?;
    zero.line("SET k v EX 9223372036854775", ok())?;
    zero.line("PTTL k", int(9_223_372_036_854_775_000))?;
    zero.wait(9_223_372_036_854_775_000);
    zero.line("GET k", bulk(b"v"))?;
    zero.wait(1);
    zero.line("GET k", nil())
}

fn counters(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("INCR n", int(1))?;
    s.line("INCR n", int(2))?;
    s.line("DECR n", int(1))?;
    s.line("DECR m", int(-1))?;
    s.line("INCRBY n 100", int(101))?;
    s.line("INCRBY n -200", int(-99))?;
    s.line("DECRBY n -99", int(0))?;
    s.line("DECRBY x 5", int(-5))?;
    s.line("GET x", bulk(b"-5"))?;
    s.line("INCRBY z 0", int(0))?;
    s.line("GET z", bulk(b"0"))?;
    s.line("SET big 9223372036854775806", ok())?;
    s.line("INCR big", int(i64::MAX))?;
    let overflow = || err("ERR increment or decrement would overflow");
    s.line("INCR big", overflow())?;
    s.line("INCRBY big 1", overflow())?;
    s.line("DECRBY big -1", overflow())?;
    s.line("GET big", bulk(b"9223372036854775807"))?;
    s.line("INCRBY big -9223372036854775808", int(-1))?;
    s.line("SET small -9223372036854775807", ok())?;
    s.line("DECR small", int(i64::MIN))?;
    s.line("DECR small", overflow())?;
    s.line("INCRBY small -1", overflow())?;
    s.line("INCRBY small -9223372036854775808", overflow())?;
    s.line("GET small", bulk(b"-9223372036854775808"))?;
    s.line("INCRBY small 9223372036854775807", int(-1))?;
    s.line(
        "DECRBY small -9223372036854775808",
        err("ERR decrement would overflow"),
    )?;
    s.line(
        "DECRBY missing -9223372036854775808",
        err("ERR decrement would overflow"),
    )?;
    s.line("DECRBY small 9223372036854775807", int(i64::MIN))?;
    // Values that are not integers in Redis's spelling.
    for value in [
        &b"abc"[..],
        b"",
        b"+1",
        b"01",
        b"-0",
        b" 1",
        b"1 ",
        b"1.5",
        b"9223372036854775808",
        b"-9223372036854775809",
        b"1\0",
    ] {
        s.expect(&[&b"SET"[..], b"v", value], &ok())?;
        s.line("INCR v", err(NOT_AN_INTEGER))?;
        s.line("DECRBY v 1", err(NOT_AN_INTEGER))?;
        s.expect(&[&b"GET"[..], b"v"], &bulk(value))?;
    }
    for by in ["x", "", "+1", "01", "-0", "1.0", "9223372036854775808"] {
        s.expect(&[&b"INCRBY"[..], b"n", by.as_bytes()], &err(NOT_AN_INTEGER))?;
        s.expect(&[&b"DECRBY"[..], b"n", by.as_bytes()], &err(NOT_AN_INTEGER))?;
    }
    s.line("RPUSH l a", int(1))?;
    for line in ["INCR l", "DECR l", "INCRBY l 1", "DECRBY l 1"] {
        s.line(line, err(WRONGTYPE))?;
    }
    // The increment is read before the key, its type after.
    s.line("INCRBY l x", err(NOT_AN_INTEGER))?;
    s.line("LLEN l", int(1))
}

fn expire_command(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("EXPIRE missing 10", int(0))?;
    s.line("SET k v", ok())?;
    s.line("EXPIRE k 10", int(1))?;
    s.line("PTTL k", int(10_000))?;
    s.line("PEXPIRE k 10", int(1))?;
    s.line("PTTL k", int(10))?;
    s.line("EXPIRE k 0", int(1))?;
    s.line("EXISTS k", int(0))?;
    s.size(0)?;
    s.line("SET k v", ok())?;
    s.line("PEXPIRE k -5", int(1))?;
    s.size(0)?;
    s.line("SET k v", ok())?;
    s.line("EXPIRE k -9223372036854775", int(1))?;
    s.size(0)?;
    // NX, XX, GT, LT, in any case.
    s.line("SET k v", ok())?;
    s.line("EXPIRE k 10 XX", int(0))?;
    s.line("EXPIRE k 10 GT", int(0))?;
    s.line("TTL k", int(-1))?;
    s.line("EXPIRE k 10 nx", int(1))?;
    s.line("EXPIRE k 20 NX", int(0))?;
    s.line("EXPIRE k 20 xx", int(1))?;
    s.line("EXPIRE k 20 GT", int(0))?;
    s.line("EXPIRE k 30 gt", int(1))?;
    s.line("EXPIRE k 30 LT", int(0))?;
    s.line("EXPIRE k 5 lt", int(1))?;
    s.line("TTL k", int(5))?;
    s.line("EXPIRE k 4 LT XX", int(1))?;
    s.line("EXPIRE k 3 XX LT XX", int(1))?;
    s.line("TTL k", int(3))?;
    s.line("PERSIST k", int(1))?;
    s.line("EXPIRE k 100 LT", int(1))?;
    s.line("TTL k", int(100))?;
    s.line("EXPIRE k -1 GT", int(0))?;
    s.line("EXPIRE k -1 LT", int(1))?;
    s.line("EXISTS k", int(0))?;
    // The errors, in Redis's order: options, then the time, then the key.
    let invalid = |name: &str| err(&format!("ERR invalid expire time in '{name}' command"));
    let nx_with = || err("ERR NX and XX, GT or LT options at the same time are not compatible");
    s.line("SET k v", ok())?;
    s.line("EXPIRE k 10 foo", err("ERR Unsupported option foo"))?;
    s.line("EXPIRE k x foo", err("ERR Unsupported option foo"))?;
    s.line(
        "EXPIRE missing 10 NX Bar",
        err("ERR Unsupported option Bar"),
    )?;
    s.line("EXPIRE k 10 NX XX", nx_with())?;
    s.line("EXPIRE k 10 GT NX", nx_with())?;
    s.line("PEXPIRE k 10 NX LT", nx_with())?;
    s.line(
        "EXPIRE k 10 GT LT",
        err("ERR GT and LT options at the same time are not compatible"),
    )?;
    s.line("EXPIRE k x NX XX", nx_with())?;
    // Every word is read before any two are compared: an unsupported one is the error even
    // after options that conflict, and NX's conflict is told before GT's with LT.
    for line in [
        "EXPIRE k 10 NX GT foo",
        "EXPIRE k 10 NX XX foo",
        "PEXPIRE k 10 GT LT foo",
        "EXPIRE k 10 foo NX XX",
        "EXPIRE missing x NX LT foo",
    ] {
        s.line(line, err("ERR Unsupported option foo"))?;
    }
    s.line("EXPIRE k 10 GT LT NX", nx_with())?;
    s.line("PEXPIRE k 10 LT NX GT", nx_with())?;
    for time in ["x", "", "+1", "01", "-0", "1.5", "9223372036854775808"] {
        s.expect(
            &[&b"EXPIRE"[..], b"k", time.as_bytes()],
            &err(NOT_AN_INTEGER),
        )?;
        s.expect(
            &[&b"PEXPIRE"[..], b"missing", time.as_bytes()],
            &err(NOT_AN_INTEGER),
        )?;
    }
    s.line("EXPIRE k 9223372036854776", invalid("expire"))?;
    s.line("EXPIRE k -9223372036854776", invalid("expire"))?;
    s.line("EXPIRE missing 9223372036854775", invalid("expire"))?;
    s.line("PEXPIRE k 9223372036854775807", invalid("pexpire"))?;
    let room = i64::MAX - START;
    s.line(&format!("PEXPIRE k {}", room + 1), invalid("pexpire"))?;
    s.line("PEXPIRE k -9223372036854775808", int(1))?;
    s.line("SET k v", ok())?;
    s.line(&format!("PEXPIRE k {room}"), int(1))?;
    s.line("PTTL k", int(room))?;
    s.line("TTL k", int((room + 500) / 1000))?;
    // An unsupported option is shown as Redis shows it: cut at a NUL, CR and LF at its end
    // dropped, others made spaces.
    let option = |word: &[u8], shown: &str| {
        (
            vec![
                b"EXPIRE".to_vec(),
                b"k".to_vec(),
                b"10".to_vec(),
                word.to_vec(),
            ],
            err(&format!("ERR Unsupported option {shown}")),
        )
    };
    for (args, expected) in [
        option(b"a\0b", "a"),
        option(b"a\r\nb", "a  b"),
        option(b"ab\r\n", "ab"),
        option(b"\r\nab", "  ab"),
        option(b"", ""),
        option(b"\xff", "\u{fffd}"),
    ] {
        s.expect(&args, &expected)?;
    }
    s.line("PTTL k", int(room))
}

fn arity(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("SET s 1", ok())?;
    let new = [
        ("incr", &["s"][..]),
        ("decr", &["s"]),
        ("incrby", &["s", "2"]),
        ("decrby", &["s", "2"]),
        ("expire", &["s", "100", "nx", "xx"]),
        ("pexpire", &["s", "100", "gt", "lt"]),
        ("ttl", &["s"]),
        ("pttl", &["s"]),
        ("persist", &["s"]),
        ("dbsize", &[]),
        ("set", &["s", "v", "EX", "10"]),
    ];
    s.arities(&mut ctx.rng(), &new, "x")?;
    s.send(&words("GET s"))?;
    s.send(&words("PTTL s"))
}

// ---- random sequences against the model ----

const KEYS: [&str; 4] = ["a", "b", "c", "n"];

fn step() -> impl Strategy<Value = Step> {
    let key = || prop::sample::select(&KEYS[..]).prop_map(|k| k.as_bytes().to_vec());
    let value = || {
        prop::sample::select(vec!["1", "x", "", "-5", "9223372036854775807", "01"])
            .prop_map(|v| v.as_bytes().to_vec())
    };
    let time = || {
        prop_oneof![
            6 => (-2i64..12).prop_map(|n| n.to_string()),
            1 => prop::sample::select(vec![
                "x".to_string(),
                "9223372036854775807".to_string(),
                "-9223372036854775808".to_string(),
                "9223372036854775".to_string(),
            ]),
        ]
        .prop_map(|t| t.into_bytes())
    };
    let option = || {
        prop::sample::select(vec!["NX", "XX", "EX", "PX", "KEEPTTL", "GT", "LT"])
            .prop_map(|o| o.as_bytes().to_vec())
    };
    let with = |name: &'static str, args: Vec<Vec<u8>>| {
        let mut request = vec![name.as_bytes().to_vec()];
        request.extend(args);
        Step::Send(request)
    };
    prop_oneof![
        3 => prop_oneof![
            3 => Just(1i64),
            3 => 0i64..20,
            1 => 1000i64..5000,
            1 => Just(3_600_000i64),
        ]
        .prop_map(Step::Wait),
        3 => (key(), value(), prop::collection::vec(prop_oneof![option(), time()], 0..4))
            .prop_map(move |(k, v, mut rest)| {
                rest.insert(0, v);
                rest.insert(0, k);
                with("set", rest)
            }),
        2 => key().prop_map(move |k| with("get", vec![k])),
        2 => (key(), time(), prop::collection::vec(option(), 0..2)).prop_map(move |(k, t, mut o)| {
            o.insert(0, t);
            o.insert(0, k);
            with("pexpire", o)
        }),
        1 => (key(), time()).prop_map(move |(k, t)| with("expire", vec![k, t])),
        1 => key().prop_map(move |k| with("ttl", vec![k])),
        2 => key().prop_map(move |k| with("pttl", vec![k])),
        1 => key().prop_map(move |k| with("persist", vec![k])),
        2 => key().prop_map(move |k| with("incr", vec![k])),
        1 => key().prop_map(move |k| with("decr", vec![k])),
        1 => (key(), time()).prop_map(move |(k, t)| with("incrby", vec![k, t])),
        1 => (key(), time()).prop_map(move |(k, t)| with("decrby", vec![k, t])),
        1 => (key(), key()).prop_map(move |(a, b)| with("del", vec![a, b])),
        1 => (key(), key()).prop_map(move |(a, b)| with("exists", vec![a, b])),
        1 => key().prop_map(move |k| with("type", vec![k])),
        1 => (key(), value()).prop_map(move |(k, v)| with("rpush", vec![k, v])),
        1 => key().prop_map(move |k| with("llen", vec![k])),
        2 => Just(with("dbsize", Vec::new())),
    ]
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["steps"],
        256,
        prop::collection::vec(step(), 1..40),
        |steps| Session::new().replay(&steps, &KEYS, false),
    )
}

// ---- active expiry ----

/// A keyspace with `live` keys without a TTL, and keys with a TTL: `expiring[i]` says whether
/// the i-th of them (in the order they are set) has expired by the time the cycle runs.
struct Scene {
    s: Session,
    with_ttl: Vec<(Vec<u8>, bool)>,
}

impl Scene {
    fn new(live: usize, expiring: &[bool]) -> Result<Scene, Failure> {
        let mut s = Session::new();
        for i in 0..live {
            s.send(&words(&format!("SET live{i} v")))?;
        }
        let mut with_ttl = Vec::new();
        for (i, &expires) in expiring.iter().enumerate() {
            let key = format!("ttl{i}");
            let ms = if expires { 10 } else { 1_000_000 };
            s.send(&words(&format!("SET {key} v PX {ms}")))?;
            with_ttl.push((key.into_bytes(), expires));
        }
        s.wait(11);
        Ok(Scene { s, with_ttl })
    }

    fn expired(&self) -> usize {
        self.with_ttl.iter().filter(|(_, e)| *e).count()
    }

    fn cycle(&mut self, seed: u64) -> (String, Vec<Round>) {
        let did = format!(
            "active_expire_cycle(now = {}, seed = {seed}) over {} keys with a TTL, {} of them \
             expired, and {} without",
            self.s.now,
            self.with_ttl.len(),
            self.expired(),
            self.s.model.keys.len() - self.with_ttl.len()
        );
        let rounds = self.s.db.active_expire_cycle(self.s.now, seed);
        (did, rounds)
    }
}

fn show_rounds(rounds: &[Round]) -> String {
    let shown: Vec<String> = rounds
        .iter()
        .map(|r| format!("{}/{}", r.expired, r.sampled))
        .collect();
    format!("[{}] (expired/sampled per round)", shown.join(", "))
}

/// What the rules allow of a cycle's rounds, given how many keys have a TTL and how many of
/// them have expired; `Err` says which rule the rounds broke.
fn judge_rounds(with_ttl: usize, expired: usize, rounds: &[Round]) -> Result<(), String> {
    let mut left = with_ttl;
    let mut expired_left = expired;
    if with_ttl == 0 {
        return match rounds.is_empty() {
            true => Ok(()),
            false => Err("no round, as no key has a TTL".into()),
        };
    }
    if rounds.is_empty() {
        return Err("at least one round, as some keys have a TTL".into());
    }
    if rounds.len() > MAX_ROUNDS {
        return Err(format!("at most MAX_ROUNDS ({MAX_ROUNDS}) rounds"));
    }
    for (i, round) in rounds.iter().enumerate() {
        let want = left.min(SAMPLE);
        if round.sampled != want {
            return Err(format!(
                "round {} to sample min(SAMPLE, keys with a TTL left) = {want} keys",
                i + 1
            ));
        }
        if round.expired > round.sampled || round.expired > expired_left {
            return Err(format!(
                "round {} to expire no more than it sampled, nor than had expired",
                i + 1
            ));
        }
        if left <= SAMPLE && round.expired != expired_left {
            return Err(format!(
                "round {} to sample every key with a TTL left, and so remove all {expired_left} \
                 expired ones",
                i + 1
            ));
        }
        left -= round.expired;
        expired_left -= round.expired;
        let last = i + 1 == rounds.len();
        let more = round.expired * 4 > round.sampled;
        if !last && !more {
            return Err(format!(
                "the cycle to stop after round {}: no more than 25% of its sample had expired",
                i + 1
            ));
        }
        if last && more && left > 0 && rounds.len() < MAX_ROUNDS {
            return Err(format!(
                "another round after round {}: more than 25% of its sample had expired",
                i + 1
            ));
        }
    }
    Ok(())
}

fn check_cycle(scene: &mut Scene, seed: u64) -> Result<Vec<Round>, Failure> {
    let (did, rounds) = scene.cycle(seed);
    if let Err(rule) = judge_rounds(scene.with_ttl.len(), scene.expired(), &rounds) {
        return Err(Failure::new(format!(
            "did:      {did}\nexpected: {rule}\ngot:      {}",
            show_rounds(&rounds)
        )));
    }
    Ok(rounds)
}

fn cycle_rounds(ctx: &mut Ctx) -> CheckResult {
    // Scripted: nothing with a TTL; few keys; exactly 25%; just over; a huge backlog.
    let cases: [(usize, Vec<bool>, Vec<Round>); 6] = [
        (5, vec![], vec![]),
        (
            0,
            vec![true; 10],
            vec![Round {
                sampled: 10,
                expired: 10,
            }],
        ),
        (
            3,
            vec![false; 7],
            vec![Round {
                sampled: 7,
                expired: 0,
            }],
        ),
        (
            0,
            [vec![true; 5], vec![false; 15]].concat(),
            vec![Round {
                sampled: 20,
                expired: 5,
            }],
        ),
        (
            0,
            [vec![true; 6], vec![false; 14]].concat(),
            vec![
                Round {
                    sampled: 20,
                    expired: 6,
                },
                Round {
                    sampled: 14,
                    expired: 0,
                },
            ],
        ),
        (
            2,
            vec![true; 400],
            vec![
                Round {
                    sampled: 20,
                    expired: 20
                };
                MAX_ROUNDS
            ],
        ),
    ];
    for (live, expiring, expected) in cases {
        let mut scene = Scene::new(live, &expiring)?;
        let (did, rounds) = scene.cycle(ctx.seed());
        expect(
            rounds == expected,
            format!(
                "did:      {did}\nexpected: {}\ngot:      {}",
                show_rounds(&expected),
                show_rounds(&rounds)
            ),
        )?;
    }
    ctx.forall_named(
        &[
            "keys without a TTL",
            "keys with a TTL (true: expired)",
            "seed",
        ],
        96,
        (
            0usize..4,
            prop_oneof![
                2 => prop::collection::vec(any::<bool>(), 0..25),
                1 => prop::collection::vec(prop::bool::weighted(0.7), 20..120),
            ],
            any::<u64>(),
        ),
        |(live, expiring, seed)| {
            let mut scene = Scene::new(live, &expiring)?;
            check_cycle(&mut scene, seed).map(drop)
        },
    )
}

fn cycle_removes(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &[
            "keys without a TTL",
            "keys with a TTL (true: expired)",
            "seed",
        ],
        64,
        (
            0usize..4,
            prop_oneof![
                2 => prop::collection::vec(any::<bool>(), 0..25),
                1 => prop::collection::vec(prop::bool::weighted(0.6), 20..80),
            ],
            any::<u64>(),
        ),
        |(live, expiring, seed)| {
            let mut scene = Scene::new(live, &expiring)?;
            let before = scene.s.model.keys.len() as i64;
            let rounds = check_cycle(&mut scene, seed)?;
            let removed: usize = rounds.iter().map(|r| r.expired).sum();
            // DBSIZE touches no key: it counts what the cycle left.
            let size = scene.s.db.execute(request(&words("DBSIZE")), scene.s.now);
            expect_reply(
                &format!(
                    "DBSIZE after a cycle whose rounds say {} (of {before} keys)",
                    show_rounds(&rounds)
                ),
                &size,
                &int(before - removed as i64),
            )?;
            // Every live key is still there with its TTL; every expired one reads as gone,
            // whether the cycle removed it or this GET does.
            for i in 0..live {
                scene.s.send(&words(&format!("GET live{i}")))?;
            }
            let keys: Vec<Vec<u8>> = scene.with_ttl.iter().map(|(k, _)| k.clone()).collect();
            for key in keys {
                scene.s.send(&[&b"PTTL"[..], &key])?;
                scene.s.send(&[&b"GET"[..], &key])?;
            }
            let left = scene.s.model.keys.len() as i64;
            scene.s.size(left)?;
            // Later, every key with a TTL has expired: cycles must find each one that is left,
            // which they cannot if the keys they sample went out of step with the keyspace.
            scene.s.wait(1_000_000);
            let with_ttl = scene
                .s
                .model
                .keys
                .values()
                .filter(|e| e.at.is_some())
                .count();
            let rounds = scene.s.db.active_expire_cycle(scene.s.now, seed ^ 1);
            if let Err(rule) = judge_rounds(with_ttl, with_ttl, &rounds) {
                return fail(format!(
                    "did:      a first cycle, a read of every key, then {} ms later, when the \
                     {with_ttl} keys with a TTL left have all expired, a second cycle\n\
                     expected: {rule}\ngot:      {}",
                    1_000_000,
                    show_rounds(&rounds)
                ));
            }
            let removed: usize = rounds.iter().map(|r| r.expired).sum();
            let size = scene.s.db.execute(request(&words("DBSIZE")), scene.s.now);
            expect_reply(
                &format!(
                    "DBSIZE after that second cycle, whose rounds say {}",
                    show_rounds(&rounds)
                ),
                &size,
                &int((live + with_ttl - removed) as i64),
            )
        },
    )
}

fn cycle_random(ctx: &mut Ctx) -> CheckResult {
    // One expired key among 100 with a TTL: a round samples 20, so it finds it one time in
    // five. The key is set first, in the middle and last: a sampler that always takes the same
    // 20 finds it always or never. For the first, each cycle runs on a fresh keyspace; for the
    // others, on one keyspace where the key is set again before each cycle.
    let base = ctx.seed().wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let send = |db: &mut Db, line: &str, now: i64| -> CheckResult {
        let got = db.execute(request(&words(line)), now);
        expect_reply(&format!("{line}    (at now = {now})"), &got, &ok())
    };
    let fill = |db: &mut Db, place: usize, now: i64| -> CheckResult {
        for i in 0..100 {
            if i != place {
                send(db, &format!("SET k{i} v PX 100000000"), now)?;
            } else {
                send(db, "SET target v PX 1", now)?;
            }
        }
        Ok(())
    };
    for place in [0usize, 57, 99] {
        let mut db = Db::new();
        let mut now = START;
        fill(&mut db, place, now)?;
        let mut found = 0;
        for trial in 0..100u64 {
            if place == 0 && trial > 0 {
                db = Db::new();
                fill(&mut db, place, now)?;
            } else {
                // The target is set anew before each cycle, and has expired when it runs.
                send(&mut db, "SET target v PX 1", now)?;
            }
            now += 2;
            let seed = base.wrapping_add(trial.wrapping_mul(0x2545_F491_4F6C_DD1D));
            ctx.doing(format!("cycle {trial} with the expired key set at {place}"));
            let rounds = db.active_expire_cycle(now, seed);
            if let Err(rule) = judge_rounds(100, 1, &rounds) {
                return fail(format!(
                    "did:      active_expire_cycle(now = {now}, seed = {seed}) over 100 keys \
                     with a TTL, 1 of them expired\nexpected: {rule}\ngot:      {}",
                    show_rounds(&rounds)
                ));
            }
            found += rounds.iter().map(|r| r.expired).sum::<usize>();
        }
        expect(
            (4..=50).contains(&found),
            format!(
                "did:      100 active expire cycles, seeds differing, each over 100 keys with a \
                 TTL of which one has expired, the key set {} of the 100\nexpected: a round \
                 picks 20 of the 100 at random, so about 20 cycles of 100 find it (4 to 50 \
                 allowed)\ngot:      {found} cycles found it",
                match place {
                    0 => "first".to_string(),
                    99 => "last".to_string(),
                    n => format!("{}th", n + 1),
                }
            ),
        )?;
    }
    Ok(())
}

// ---- what a cycle samples, after the TTL changes ----

/// The rounds a cycle must return when every key with a TTL fits in one sample: one round of
/// all of them, and a second of those left if more than a quarter had expired (and some are
/// left), finding none.
fn rounds_of_one_sample(with_ttl: usize, expired: usize) -> Vec<Round> {
    assert!(with_ttl <= SAMPLE);
    let mut rounds = Vec::new();
    if with_ttl > 0 {
        rounds.push(Round {
            sampled: with_ttl,
            expired,
        });
        if expired * 4 > with_ttl && expired < with_ttl {
            rounds.push(Round {
                sampled: with_ttl - expired,
                expired: 0,
            });
        }
    }
    rounds
}

impl Session {
    /// The keys the model holds with a TTL, and how many of them have expired at `now`.
    fn with_ttl(&self) -> (Vec<String>, usize) {
        let mut keys = Vec::new();
        let mut expired = 0;
        for (key, entry) in &self.model.keys {
            if let Some(at) = entry.at {
                keys.push(crate::support::word(key));
                expired += usize::from(self.now > at);
            }
        }
        (keys, expired)
    }

    /// Runs a cycle where every key with a TTL fits in one sample, checks its rounds against
    /// the model's keys with a TTL, and removes the expired keys from the model as the cycle
    /// must have.
    fn cycle(&mut self, seed: u64) -> CheckResult {
        let (keys, expired) = self.with_ttl();
        let expected = rounds_of_one_sample(keys.len(), expired);
        let call = format!("active_expire_cycle(now = {}, seed = {seed})", self.now);
        let rounds = self.db.active_expire_cycle(self.now, seed);
        let why = match keys.len() {
            0 => "no key has a TTL: no round".to_string(),
            n => format!(
                "{n} key(s) with a TTL ({}), {expired} of them expired: a round samples them all",
                keys.join(" ")
            ),
        };
        let result = expect(
            rounds == expected,
            format!(
                "did:      {}\nexpected: {} ({why})\ngot:      {}",
                told(&self.sent, &call),
                show_rounds(&expected),
                show_rounds(&rounds)
            ),
        );
        let now = self.now;
        self.model
            .keys
            .retain(|_, entry| entry.at.is_none_or(|at| now <= at));
        self.note(format!("(active expire cycle, seed {seed})"));
        result
    }
}

fn cycle_after_ttl_lost(ctx: &mut Ctx) -> CheckResult {
    // Each script leaves the keys it names with the TTL the model says; a cycle then samples
    // exactly those.
    let scripts: [&[&str]; 12] = [
        &["SET k v EX 100", "PERSIST k"],
        &["SET k v EX 100", "SET k w"],
        &["RPUSH l a", "EXPIRE l 100", "SET l v"],
        &["SET k v EX 100", "EXPIRE k 0"],
        &["SET k v EX 100", "PEXPIRE k -5"],
        &["SET k v EX 100", "EXPIRE k -1 LT"],
        &["SET k v EX 100", "DEL k"],
        &["SET k v PX 10", "wait 11", "GET k"],
        &["SET k v PX 10", "wait 11", "SET k w"],
        &[
            "SET k v EX 100",
            "SET k v EX 200",
            "EXPIRE k 300",
            "PEXPIRE k 400000",
            "SET k v KEEPTTL",
        ],
        &["SET k 1 EX 100", "INCR k", "DECRBY k 5"],
        &[
            "SET k v EX 100",
            "PERSIST k",
            "PEXPIRE k 100",
            "SET k v XX EX 5",
        ],
    ];
    for script in scripts {
        let mut s = Session::new();
        for line in script {
            match line.strip_prefix("wait ") {
                Some(ms) => s.wait(ms.parse().unwrap()),
                None => s.send(&words(line))?,
            }
        }
        s.cycle(ctx.seed())?;
        // And once the keys left with a TTL have expired, a cycle finds each of them.
        s.wait(1_000_000);
        s.cycle(ctx.seed() ^ 1)?;
    }
    // Thirty keys that lost their TTL, ten ways each, beside ten that expired: a cycle that
    // still samples the thirty finds too few of the ten to go on, and leaves some behind.
    let mut s = Session::new();
    for i in 0..30 {
        s.send(&words(&format!("SET g{i} v EX 100")))?;
    }
    for i in 0..10 {
        s.send(&words(&format!("PERSIST g{i}")))?;
        s.send(&words(&format!("SET g{} w", i + 10)))?;
        s.send(&words(&format!("EXPIRE g{} 0", i + 20)))?;
    }
    for i in 0..10 {
        s.send(&words(&format!("SET x{i} v PX 10")))?;
    }
    s.wait(11);
    s.cycle(ctx.seed())?;
    s.size(20)
}

/// One step of a random run: a request, a wait, or an active expire cycle.
#[derive(Clone)]
enum Act {
    Step(Step),
    Cycle(u64),
}

impl fmt::Debug for Act {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Act::Step(step) => step.fmt(f),
            Act::Cycle(seed) => write!(f, "(active expire cycle, seed {seed})"),
        }
    }
}

fn cycle_matches_model(ctx: &mut Ctx) -> CheckResult {
    // Beside the model run's steps, more of those that give or take a TTL.
    let key = || prop::sample::select(&KEYS[..]);
    let line = |line: String| Act::Step(Step::Send(words(&line)));
    let act = prop_oneof![
        6 => step().prop_map(Act::Step),
        2 => any::<u64>().prop_map(Act::Cycle),
        1 => (key(), 1i64..30).prop_map(move |(k, ms)| line(format!("SET {k} v PX {ms}"))),
        1 => key().prop_map(move |k| line(format!("PERSIST {k}"))),
        1 => key().prop_map(move |k| line(format!("SET {k} v"))),
        1 => (key(), -2i64..1).prop_map(move |(k, t)| line(format!("EXPIRE {k} {t}"))),
    ];
    ctx.forall_named(&["steps"], 256, prop::collection::vec(act, 1..40), |acts| {
        // The keys are four, so one round samples every key with a TTL: the model knows
        // each round's counts, and which keys a cycle leaves.
        let mut s = Session::new();
        for act in &acts {
            match act {
                Act::Step(Step::Send(args)) => s.send(args)?,
                Act::Step(Step::Wait(ms)) => s.wait(*ms),
                Act::Cycle(seed) => s.cycle(*seed)?,
            }
        }
        s.wait(3_600_000);
        s.cycle(0)?;
        s.send(&words("DBSIZE"))
    })
}
