//! Hidden checks for redis/lists-hashes.

use std::collections::BTreeMap;

use judge::prelude::*;
use redis_lists_hashes::{Db, Frame, Reply};

use crate::support::{
    HASH_NOT_AN_INTEGER, INDEX_OUT_OF_RANGE, LISTS_HASHES_TABLE, MUST_BE_POSITIVE, NO_SUCH_KEY,
    NOT_AN_INTEGER, OVERFLOW, SYNTAX_ERROR, Step, WRONGTYPE, arity_error, command_line, string2ll,
    told, unknown_command_error, words,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "LPUSH and RPUSH, LPOP and RPOP with and without a count (0, 1, the length, past it, \
             i64::MAX), nil or a nil array for a missing key, the count's errors; the last \
             element popped deletes the key",
            push_and_pop,
        )
        .check(
            "LINDEX, LSET, LRANGE and LTRIM at every edge: 0, -1, -len, -len-1, len, i64::MAX \
             and i64::MIN; LRANGE's stop is included; LINDEX and LSET look at the key before \
             the index",
            index_edges,
        )
        .check(
            "LREM counts from the head, from the tail when negative, all when 0; LTRIM keeps \
             what LRANGE shows, and a start past the stop empties the list and deletes the key",
            lrem_and_ltrim,
        )
        .check(
            "HSET answers how many fields are new (an update or a field named twice is not); \
             HGET, HMGET, HEXISTS, HLEN, HDEL; HGETALL, HKEYS and HVALS in the order fields \
             were first set; the last field deleted deletes the key",
            hashes,
        )
        .check(
            "HINCRBY from 0, on integers in Redis's one spelling only, overflow at both ends \
             of i64 refused and the field left alone, errors in Redis's order",
            hincrby,
        )
        .check(
            "every list and hash command on a key of another type, and every string command \
             on a list or hash, answers WRONGTYPE and changes nothing",
            wrong_types,
        )
        .check(
            "list and hash writes keep the key's TTL; an emptied key loses it; an expired list \
             or hash is missing to every new command",
            ttls,
        )
        .check(
            "the new commands with 0 to their arity + 2 arguments: the arity error exactly when \
             the count does not fit; names in any case",
            arity,
        )
        .check(
            "random sequences of string, list and hash commands and jumps in time answer as a \
             model of Redis does",
            matches_model,
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
    Hash(Fields),
}

/// A hash's fields and values, in the order the fields were first set.
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

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
const TABLE: [(&str, i64); 37] = LISTS_HASHES_TABLE;

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
            Some(Entry {
                value: Value::List(_),
                ..
            }) => "list",
            Some(_) => "hash",
        }
    }

    /// Removes the key if its list or hash is empty: Redis keeps no empty aggregate.
    fn drop_if_empty(&mut self, key: &[u8]) {
        let empty = match self.keys.get(key).map(|entry| &entry.value) {
            Some(Value::List(list)) => list.is_empty(),
            Some(Value::Hash(fields)) => fields.is_empty(),
            _ => false,
        };
        if empty {
            self.keys.remove(key);
        }
    }
}

crate::support::keyspace_model!(list_hash_command);
crate::support::list_hash_model!();

// ---- scripted checks ----

fn array(items: &[&str]) -> Reply {
    Reply::Send(Frame::Array(
        items
            .iter()
            .map(|item| Frame::Bulk(item.as_bytes().to_vec()))
            .collect(),
    ))
}

fn nil_array() -> Reply {
    Reply::Send(Frame::NullArray)
}

const LREM_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

fn push_and_pop(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("RPUSH l a b c", int(3))?;
    s.line("LPUSH l x y", int(5))?;
    s.line("LRANGE l 0 -1", array(&["y", "x", "a", "b", "c"]))?;
    s.line("LPOP l", bulk(b"y"))?;
    s.line("RPOP l", bulk(b"c"))?;
    s.line("LPOP l 0", array(&[]))?;
    s.line("LPOP l 1", array(&["x"]))?;
    s.line("RPOP l 2", array(&["b", "a"]))?;
    // The last element gone, the key goes with it.
    s.line("EXISTS l", int(0))?;
    s.line("TYPE l", simple("none"))?;
    s.size(0)?;
    s.line("LPOP l", nil())?;
    s.line("RPOP l", nil())?;
    s.line("LPOP l 1", nil_array())?;
    s.line("RPOP l 0", nil_array())?;
    s.line("LPOP l 9223372036854775807", nil_array())?;
    s.line("RPUSH l a b c", int(3))?;
    s.line("LPOP l 9223372036854775807", array(&["a", "b", "c"]))?;
    s.size(0)?;
    s.line("RPUSH l a b c", int(3))?;
    s.line("RPOP l 4", array(&["c", "b", "a"]))?;
    s.size(0)?;
    s.line("RPUSH l a", int(1))?;
    s.line("RPOP l", bulk(b"a"))?;
    // Binary-safe elements, the empty one and one over 64 KiB too.
    let big = vec![b'x'; 70_000];
    s.expect(&[&b"RPUSH"[..], b"l", b"", &big[..], b"\r\n\0"], &int(3))?;
    s.line("LPOP l", bulk(b""))?;
    s.expect(&[&b"LINDEX"[..], b"l", b"0"], &bulk(&big))?;
    s.expect(
        &[&b"RPOP"[..], b"l", b"2"],
        &Reply::Send(Frame::Array(vec![
            Frame::Bulk(b"\r\n\0".to_vec()),
            Frame::Bulk(big.clone()),
        ])),
    )?;
    s.line("LLEN l", int(0))?;
    s.size(0)?;
    // The count is read before the key, negative or not an integer alike.
    s.line("RPUSH l a", int(1))?;
    for count in [
        "-1",
        "x",
        "-9223372036854775808",
        "9223372036854775808",
        "+1",
        "01",
    ] {
        s.line(&format!("LPOP l {count}"), err(MUST_BE_POSITIVE))?;
        s.line(&format!("RPOP missing {count}"), err(MUST_BE_POSITIVE))?;
    }
    s.line("LPOP l 1 2", err(&arity_error("lpop")))?;
    s.line("RPOP l 1 2 3", err(&arity_error("rpop")))?;
    s.line("LLEN l", int(1))?;
    s.line("SET s v", ok())?;
    s.line("LPOP s", err(WRONGTYPE))?;
    s.line("RPOP s 0", err(WRONGTYPE))?;
    s.line("LPOP s -1", err(MUST_BE_POSITIVE))?;
    s.line("HSET h f v", int(1))?;
    s.line("RPOP h 2", err(WRONGTYPE))?;
    s.size(3)
}

/// The indexes every edge of a list of `len` is made of.
fn edges(len: i64) -> Vec<i64> {
    let mut all = vec![
        0,
        1,
        -1,
        -2,
        len - 1,
        len,
        len + 1,
        -len,
        -len + 1,
        -len - 1,
        i64::MAX,
        i64::MIN,
        i64::MIN + 1,
    ];
    all.sort_unstable();
    all.dedup();
    all
}

fn index_edges(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    // Golden answers first, on [a, b, c].
    s.line("RPUSH l a b c", int(3))?;
    for (index, expected) in [
        ("0", bulk(b"a")),
        ("2", bulk(b"c")),
        ("3", nil()),
        ("-1", bulk(b"c")),
        ("-3", bulk(b"a")),
        ("-4", nil()),
        ("9223372036854775807", nil()),
        ("-9223372036854775808", nil()),
    ] {
        s.line(&format!("LINDEX l {index}"), expected)?;
    }
    for (range, expected) in [
        ("0 -1", array(&["a", "b", "c"])),
        ("0 0", array(&["a"])),
        ("0 1", array(&["a", "b"])),
        ("1 2", array(&["b", "c"])),
        ("-2 -1", array(&["b", "c"])),
        ("-3 0", array(&["a"])),
        ("-100 100", array(&["a", "b", "c"])),
        ("2 1", array(&[])),
        ("3 5", array(&[])),
        ("0 -4", array(&[])),
    ] {
        s.line(&format!("LRANGE l {range}"), expected)?;
    }
    s.line("LSET l -1 z", ok())?;
    s.line("LSET l -3 x", ok())?;
    s.line("LSET l 3 w", err(INDEX_OUT_OF_RANGE))?;
    s.line("LSET l -4 w", err(INDEX_OUT_OF_RANGE))?;
    s.line("LRANGE l 0 -1", array(&["x", "b", "z"]))?;
    // LINDEX and LSET look at the key before they read the index, unlike LRANGE and LTRIM.
    s.line("LINDEX missing x", nil())?;
    s.line("LSET missing x v", err(NO_SUCH_KEY))?;
    s.line("SET s v", ok())?;
    s.line("LINDEX s x", err(WRONGTYPE))?;
    s.line("LSET s 1.5 v", err(WRONGTYPE))?;
    for index in ["x", "", "1.5", "+1", "01", "-0", "9223372036854775808"] {
        s.expect(
            &[&b"LINDEX"[..], b"l", index.as_bytes()],
            &err(NOT_AN_INTEGER),
        )?;
        s.expect(
            &[&b"LSET"[..], b"l", index.as_bytes(), b"v"],
            &err(NOT_AN_INTEGER),
        )?;
    }
    s.line("LRANGE l 0 -1", array(&["x", "b", "z"]))?;
    s.line("DEL l s", int(2))?;
    // Then every pair of edges, on lists of 1 to 5, against the model.
    for len in 1..=5i64 {
        let list: Vec<String> = (0..len).map(|i| format!("e{i}")).collect();
        for index in edges(len) {
            s.send(&words("DEL l"))?;
            s.send(&words(&format!("RPUSH l {}", list.join(" "))))?;
            s.send(&words(&format!("LINDEX l {index}")))?;
            s.send(&words(&format!("LSET l {index} new")))?;
            s.send(&words("LRANGE l 0 -1"))?;
            for stop in edges(len) {
                s.send(&words(&format!("LRANGE l {index} {stop}")))?;
            }
        }
        for start in edges(len) {
            for stop in edges(len) {
                s.send(&words("DEL l"))?;
                s.send(&words(&format!("RPUSH l {}", list.join(" "))))?;
                s.send(&words(&format!("LTRIM l {start} {stop}")))?;
                s.send(&words("LRANGE l 0 -1"))?;
                s.send(&words("EXISTS l"))?;
            }
        }
    }
    Ok(())
}

fn lrem_and_ltrim(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    let fill = |s: &mut Session| s.line("RPUSH l a x b x c x d", int(7));
    fill(&mut s)?;
    s.line("LREM l 2 x", int(2))?;
    s.line("LRANGE l 0 -1", array(&["a", "b", "c", "x", "d"]))?;
    s.line("DEL l", int(1))?;
    fill(&mut s)?;
    s.line("LREM l -2 x", int(2))?;
    s.line("LRANGE l 0 -1", array(&["a", "x", "b", "c", "d"]))?;
    s.line("DEL l", int(1))?;
    fill(&mut s)?;
    s.line("LREM l -1 x", int(1))?;
    s.line("LRANGE l 0 -1", array(&["a", "x", "b", "x", "c", "d"]))?;
    s.line("LREM l 0 x", int(2))?;
    s.line("LRANGE l 0 -1", array(&["a", "b", "c", "d"]))?;
    s.line("LREM l 0 nothing", int(0))?;
    s.line("LREM l 9223372036854775807 a", int(1))?;
    s.line("LREM l -9223372036854775807 d", int(1))?;
    s.line("LRANGE l 0 -1", array(&["b", "c"]))?;
    s.line("LREM l 1 b", int(1))?;
    s.line("LREM l -1 c", int(1))?;
    s.line("EXISTS l", int(0))?;
    s.size(0)?;
    s.line("RPUSH l v v v", int(3))?;
    s.line("LREM l 0 v", int(3))?;
    s.size(0)?;
    s.line("LREM missing 0 v", int(0))?;
    // The count is read before the key; its negation must be a count too.
    s.line("LREM missing x v", err(NOT_AN_INTEGER))?;
    s.line("LREM missing -9223372036854775808 v", err(LREM_RANGE))?;
    s.line("SET s v", ok())?;
    s.line("LREM s 0 v", err(WRONGTYPE))?;
    s.line("LREM s x v", err(NOT_AN_INTEGER))?;
    // LTRIM: what it keeps is what LRANGE shows.
    s.line("RPUSH l a b c d e", int(5))?;
    s.line("LTRIM l 1 -2", ok())?;
    s.line("LRANGE l 0 -1", array(&["b", "c", "d"]))?;
    s.line("LTRIM l -100 100", ok())?;
    s.line("LRANGE l 0 -1", array(&["b", "c", "d"]))?;
    s.line("LTRIM l 1 1", ok())?;
    s.line("LRANGE l 0 -1", array(&["c"]))?;
    s.line("EXPIRE l 100", int(1))?;
    s.line("LTRIM l 0 0", ok())?;
    s.line("TTL l", int(100))?;
    // A start past the stop keeps nothing, and nothing kept deletes the key.
    s.line("LTRIM l 2 1", ok())?;
    s.line("EXISTS l", int(0))?;
    s.line("TTL l", int(-2))?;
    s.line("RPUSH l a b c", int(3))?;
    s.line("LTRIM l 3 10", ok())?;
    s.size(1)?;
    s.line("RPUSH l a b c", int(3))?;
    s.line("LTRIM l 0 -4", ok())?;
    s.line("LLEN l", int(0))?;
    s.line("LTRIM missing 0 1", ok())?;
    s.line("LTRIM missing x 1", err(NOT_AN_INTEGER))?;
    s.line("LTRIM s 0 x", err(NOT_AN_INTEGER))?;
    s.line("LTRIM s 0 1", err(WRONGTYPE))?;
    s.size(1)
}

fn hashes(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("HSET h a 1 b 2 c 3", int(3))?;
    s.line("HSET h b 20 d 4", int(1))?;
    s.line("HSET h a 10 a 11", int(0))?;
    s.line("HSET h e 5 e 6", int(1))?;
    s.line("HGET h a", bulk(b"11"))?;
    s.line("HGET h e", bulk(b"6"))?;
    s.line("HGET h z", nil())?;
    s.line("HGET missing a", nil())?;
    s.line("HLEN h", int(5))?;
    // Fields in the order they were first set; an update keeps its place.
    s.line(
        "HGETALL h",
        array(&["a", "11", "b", "20", "c", "3", "d", "4", "e", "6"]),
    )?;
    s.line("HKEYS h", array(&["a", "b", "c", "d", "e"]))?;
    s.line("HVALS h", array(&["11", "20", "3", "4", "6"]))?;
    s.line("HEXISTS h c", int(1))?;
    s.line("HEXISTS h z", int(0))?;
    s.line("HEXISTS missing c", int(0))?;
    s.line("HDEL h b z b", int(1))?;
    // A field may have the key's name: HDEL deletes only the fields after the key.
    s.line("HSET h h 0", int(1))?;
    s.line("HDEL h z", int(0))?;
    s.line("HGET h h", bulk(b"0"))?;
    s.line("HDEL h h", int(1))?;
    s.line("HSET h b again", int(1))?;
    s.line("HKEYS h", array(&["a", "c", "d", "e", "b"]))?;
    s.line(
        "HMGET h a z b",
        Reply::Send(Frame::Array(vec![
            Frame::Bulk(b"11".to_vec()),
            Frame::NullBulk,
            Frame::Bulk(b"again".to_vec()),
        ])),
    )?;
    s.line(
        "HMGET missing a b",
        Reply::Send(Frame::Array(vec![Frame::NullBulk, Frame::NullBulk])),
    )?;
    s.line("HDEL h a c d e", int(4))?;
    s.line("HLEN h", int(1))?;
    // The last field gone, the key goes with it.
    s.line("HDEL h b", int(1))?;
    s.line("EXISTS h", int(0))?;
    s.line("TYPE h", simple("none"))?;
    s.size(0)?;
    s.line("HDEL h b", int(0))?;
    s.line("HLEN h", int(0))?;
    s.line("HGETALL h", array(&[]))?;
    s.line("HKEYS h", array(&[]))?;
    s.line("HVALS h", array(&[]))?;
    s.line("HSET h f v", int(1))?;
    s.line("TYPE h", simple("hash"))?;
    // HSET takes pairs: an odd count is the arity error, and nothing is set.
    s.line("HSET h f", err(&arity_error("hset")))?;
    s.line("HSET h a 1 b", err(&arity_error("hset")))?;
    s.line("HSET new a 1 b", err(&arity_error("hset")))?;
    s.line("HEXISTS h a", int(0))?;
    s.line("EXISTS new", int(0))?;
    // Binary-safe fields and values, the empty one too.
    s.expect(&[&b"HSET"[..], b"h", b"", b"\r\n\0"], &int(1))?;
    s.expect(&[&b"HGET"[..], b"h", b""], &bulk(b"\r\n\0"))?;
    let big = vec![b'x'; 70_000];
    s.expect(&[&b"HSET"[..], b"h", &big[..], &big[..]], &int(1))?;
    s.expect(&[&b"HGET"[..], b"h", &big[..]], &bulk(&big))?;
    s.line("HLEN h", int(3))
}

fn hincrby(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("HINCRBY h n 5", int(5))?;
    s.line("HINCRBY h n -7", int(-2))?;
    s.line("HINCRBY h m 0", int(0))?;
    s.line("HGETALL h", array(&["n", "-2", "m", "0"]))?;
    s.line("HSET h big 9223372036854775806", int(1))?;
    s.line("HINCRBY h big 1", int(i64::MAX))?;
    let overflow = || err(OVERFLOW);
    s.line("HINCRBY h big 1", overflow())?;
    s.line("HINCRBY h big 9223372036854775807", overflow())?;
    s.line("HGET h big", bulk(b"9223372036854775807"))?;
    s.line("HINCRBY h big -9223372036854775808", int(-1))?;
    s.line("HSET h small -9223372036854775807", int(1))?;
    s.line("HSET h small -9223372036854775807", int(0))?;
    s.line("HINCRBY h small -1", int(i64::MIN))?;
    s.line("HINCRBY h small -1", overflow())?;
    s.line("HINCRBY h small -9223372036854775808", overflow())?;
    s.line("HGET h small", bulk(b"-9223372036854775808"))?;
    s.line("HINCRBY h small 9223372036854775807", int(-1))?;
    s.line("HSET h v 1", int(1))?;
    for value in [
        &b"abc"[..],
        b"",
        b"+1",
        b"01",
        b"-0",
        b" 1",
        b"1.5",
        b"9223372036854775808",
    ] {
        s.expect(&[&b"HSET"[..], b"h", b"v", value], &int(0))?;
        s.line("HINCRBY h v 1", err(HASH_NOT_AN_INTEGER))?;
        s.expect(&[&b"HGET"[..], b"h", b"v"], &bulk(value))?;
    }
    // The increment is read first, then the type, then the value.
    for by in ["x", "", "+1", "01", "-0", "1.0", "9223372036854775808"] {
        s.expect(
            &[&b"HINCRBY"[..], b"h", b"n", by.as_bytes()],
            &err(NOT_AN_INTEGER),
        )?;
        s.expect(
            &[&b"HINCRBY"[..], b"missing", b"n", by.as_bytes()],
            &err(NOT_AN_INTEGER),
        )?;
    }
    s.line("EXISTS missing", int(0))?;
    s.line("SET s 1", ok())?;
    s.line("HINCRBY s n 1", err(WRONGTYPE))?;
    s.line("HINCRBY s n x", err(NOT_AN_INTEGER))?;
    s.line("HGET h n", bulk(b"-2"))
}

fn wrong_types(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("SET s v", ok())?;
    s.line("RPUSH l a", int(1))?;
    s.line("HSET h f 1", int(1))?;
    let list_commands = [
        "LPUSH @ a",
        "RPUSH @ a",
        "LPOP @",
        "RPOP @",
        "LPOP @ 1",
        "LLEN @",
        "LRANGE @ 0 -1",
        "LINDEX @ 0",
        "LSET @ 0 a",
        "LREM @ 0 a",
        "LTRIM @ 0 -1",
    ];
    let hash_commands = [
        "HSET @ f 1",
        "HGET @ f",
        "HDEL @ f",
        "HLEN @",
        "HEXISTS @ f",
        "HGETALL @",
        "HKEYS @",
        "HVALS @",
        "HINCRBY @ f 1",
        "HMGET @ f",
    ];
    let string_commands = ["GET @", "INCR @", "DECRBY @ 1"];
    for (command, wrong) in list_commands
        .iter()
        .map(|c| (c, ["s", "h"]))
        .chain(hash_commands.iter().map(|c| (c, ["s", "l"])))
        .chain(string_commands.iter().map(|c| (c, ["l", "h"])))
    {
        for key in wrong {
            s.line(&command.replace('@', key), err(WRONGTYPE))?;
        }
    }
    // Nothing changed: each key still holds what it held.
    s.line("GET s", bulk(b"v"))?;
    s.line("LRANGE l 0 -1", array(&["a"]))?;
    s.line("HGETALL h", array(&["f", "1"]))?;
    s.line("TYPE s", simple("string"))?;
    s.line("TYPE l", simple("list"))?;
    s.line("TYPE h", simple("hash"))?;
    // SET replaces any type; DEL and EXPIRE work on all.
    s.line("SET h v", ok())?;
    s.line("TYPE h", simple("string"))?;
    s.line("HSET h f 1", err(WRONGTYPE))?;
    s.line("HSET g f 1", int(1))?;
    s.line("DEL g l", int(2))?;
    s.size(2)
}

fn ttls(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    // Writes to a list or hash keep its TTL.
    s.line("RPUSH l a b c d", int(4))?;
    s.line("HSET h a 1 b 2", int(2))?;
    s.line("PEXPIRE l 5000", int(1))?;
    s.line("PEXPIRE h 5000", int(1))?;
    for (line, expected) in [
        ("LPUSH l x", int(5)),
        ("RPUSH l y", int(6)),
        ("LPOP l", bulk(b"x")),
        ("RPOP l 1", array(&["y"])),
        ("LSET l 0 z", ok()),
        ("LREM l 1 b", int(1)),
        ("LTRIM l 0 1", ok()),
        ("HSET h c 3", int(1)),
        ("HSET h a 10", int(0)),
        ("HDEL h b", int(1)),
        ("HINCRBY h n 1", int(1)),
    ] {
        s.line(line, expected)?;
        let key = if line.starts_with('H') { "h" } else { "l" };
        s.line(&format!("PTTL {key}"), int(5000))?;
    }
    s.line("LRANGE l 0 -1", array(&["z", "c"]))?;
    // Emptied, the key is gone, TTL and all; made again, it has none.
    s.line("LPOP l 2", array(&["z", "c"]))?;
    s.line("PTTL l", int(-2))?;
    s.line("RPUSH l a", int(1))?;
    s.line("PTTL l", int(-1))?;
    s.line("HDEL h a c n", int(3))?;
    s.line("PTTL h", int(-2))?;
    s.line("HINCRBY h n 1", int(1))?;
    s.line("PTTL h", int(-1))?;
    // An expired list or hash is missing to every new command.
    let touches: [(&str, Reply); 16] = [
        ("LPOP k0", nil()),
        ("RPOP k1 2", nil_array()),
        ("LINDEX k2 0", nil()),
        ("LSET k3 0 v", err(NO_SUCH_KEY)),
        ("LREM k4 0 a", int(0)),
        ("LTRIM k5 0 -1", ok()),
        ("HGET k6 a", nil()),
        ("HDEL k7 a", int(0)),
        ("HLEN k8", int(0)),
        ("HEXISTS k9 a", int(0)),
        ("HGETALL k10", array(&[])),
        ("HKEYS k11", array(&[])),
        ("HVALS k12", array(&[])),
        (
            "HMGET k13 a",
            Reply::Send(Frame::Array(vec![Frame::NullBulk])),
        ),
        ("HSET k14 b 2", int(1)),
        ("HINCRBY k15 a 5", int(5)),
    ];
    let make = |i: i64| {
        if i < 6 {
            format!("RPUSH k{i} a")
        } else {
            format!("HSET k{i} a 1")
        }
    };
    s.expired_touches(&touches, make, 2, &[14, 15])?;
    s.line("HGETALL k14", array(&["b", "2"]))?;
    s.line("TTL k14", int(-1))?;
    s.line("HGETALL k15", array(&["a", "5"]))?;
    s.line("TTL k15", int(-1))
}

fn arity(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("RPUSH l a b c", int(3))?;
    s.line("HSET h f 1", int(1))?;
    let new = [
        ("lpop", &["l", "1"][..]),
        ("rpop", &["l", "1"]),
        ("lindex", &["l", "0"]),
        ("lset", &["l", "0", "v"]),
        ("lrem", &["l", "0", "v"]),
        ("ltrim", &["l", "0", "-1"]),
        ("hset", &["h", "f", "2"]),
        ("hget", &["h", "f"]),
        ("hdel", &["h", "g"]),
        ("hlen", &["h"]),
        ("hexists", &["h", "f"]),
        ("hgetall", &["h"]),
        ("hkeys", &["h"]),
        ("hvals", &["h"]),
        ("hincrby", &["h", "f", "1"]),
        ("hmget", &["h", "f"]),
    ];
    s.arities(&mut ctx.rng(), &new, "1")?;
    s.send(&words("LRANGE l 0 -1"))?;
    s.send(&words("HGETALL h"))
}

// ---- random sequences against the model ----

const KEYS: [&str; 3] = ["a", "b", "c"];

fn step() -> impl Strategy<Value = Step> {
    let key = || prop::sample::select(&KEYS[..]).prop_map(|k| k.as_bytes().to_vec());
    let element =
        || prop::sample::select(vec!["x", "y", "1", ""]).prop_map(|v| v.as_bytes().to_vec());
    let field = || prop::sample::select(vec!["f", "g", "h"]).prop_map(|v| v.as_bytes().to_vec());
    let number = || {
        prop_oneof![
            6 => (-4i64..5).prop_map(|n| n.to_string()),
            1 => prop::sample::select(vec![
                "x".to_string(),
                "9223372036854775807".to_string(),
                "-9223372036854775808".to_string(),
                "-9223372036854775807".to_string(),
            ]),
        ]
        .prop_map(|t| t.into_bytes())
    };
    let with = |name: &'static str, args: Vec<Vec<u8>>| {
        let mut request = vec![name.as_bytes().to_vec()];
        request.extend(args);
        Step::Send(request)
    };
    let push = prop::sample::select(vec!["lpush", "rpush"]);
    let pop = prop::sample::select(vec!["lpop", "rpop"]);
    let reads = prop::sample::select(vec!["hlen", "hgetall", "hkeys", "hvals", "llen", "type"]);
    prop_oneof![
        2 => prop_oneof![Just(1i64), 0i64..20, Just(3_600_000i64)].prop_map(Step::Wait),
        3 => (push, key(), prop::collection::vec(element(), 1..4)).prop_map(move |(p, k, mut e)| {
            e.insert(0, k);
            with(p, e)
        }),
        3 => (pop, key(), prop::option::of(number())).prop_map(move |(p, k, n)| {
            with(p, std::iter::once(k).chain(n).collect())
        }),
        1 => (key(), number()).prop_map(move |(k, i)| with("lindex", vec![k, i])),
        1 => (key(), number(), element()).prop_map(move |(k, i, e)| with("lset", vec![k, i, e])),
        2 => (key(), number(), element()).prop_map(move |(k, n, e)| with("lrem", vec![k, n, e])),
        2 => (key(), number(), number()).prop_map(move |(k, a, b)| with("ltrim", vec![k, a, b])),
        2 => (key(), number(), number()).prop_map(move |(k, a, b)| with("lrange", vec![k, a, b])),
        3 => (key(), prop::collection::vec((field(), element()), 1..4)).prop_map(move |(k, pairs)| {
            let mut args = vec![k];
            for (f, v) in pairs {
                args.push(f);
                args.push(v);
            }
            with("hset", args)
        }),
        1 => (key(), field()).prop_map(move |(k, f)| with("hget", vec![k, f])),
        2 => (key(), prop::collection::vec(field(), 1..3)).prop_map(move |(k, mut f)| {
            f.insert(0, k);
            with("hdel", f)
        }),
        1 => (key(), field()).prop_map(move |(k, f)| with("hexists", vec![k, f])),
        2 => (key(), field(), number()).prop_map(move |(k, f, n)| with("hincrby", vec![k, f, n])),
        1 => (key(), field(), field()).prop_map(move |(k, f, g)| with("hmget", vec![k, f, g])),
        2 => (reads, key()).prop_map(move |(r, k)| with(r, vec![k])),
        1 => (key(), element()).prop_map(move |(k, v)| with("set", vec![k, v])),
        1 => key().prop_map(move |k| with("get", vec![k])),
        1 => key().prop_map(move |k| with("incr", vec![k])),
        1 => (key(), number()).prop_map(move |(k, t)| with("pexpire", vec![k, t])),
        1 => key().prop_map(move |k| with("del", vec![k])),
    ]
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["steps"],
        256,
        prop::collection::vec(step(), 1..40),
        |steps| Session::new().replay(&steps, &KEYS, true),
    )
}
