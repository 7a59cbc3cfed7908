//! Hidden checks for redis/sets-zsets.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use judge::prelude::*;
use redis_sets_zsets::{Db, Frame, Reply, ZSkipList};

use crate::support::{
    HASH_NOT_AN_INTEGER, INDEX_OUT_OF_RANGE, LISTS_HASHES_TABLE, MUST_BE_POSITIVE, NO_SUCH_KEY,
    NOT_AN_INTEGER, OVERFLOW, SYNTAX_ERROR, Step, WRONGTYPE, arity_error, clamped, command_line,
    joined, quoted, string2ll, told, unknown_command_error, words,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "SADD and SREM count what changed (a member named twice counts once); SISMEMBER, \
             SMISMEMBER, SCARD, SMEMBERS; binary members; the last member removed deletes the key",
            sets,
        )
        .check(
            "SINTER, SUNION and SDIFF of one to three sets, a missing key an empty set; \
             WRONGTYPE for a key of another type anywhere among the keys",
            set_algebra,
        )
        .check(
            "ZADD with NX, XX, GT, LT, CH and INCR as Redis 7 answers them, errors in Redis's \
             order (arguments, options, scores, then the key); NaN from INCR refused",
            zadd_options,
        )
        .check(
            "scores read as Redis reads them (inf, -inf, 1e3, .5; not nan, 1e400, spaces) and \
             written as %.17g: 1, 1.5, 0.10000000000000001, 1e+17, inf",
            scores,
        )
        .check(
            "ZRANGE by rank, by score with ( and -inf/+inf, REV, LIMIT and WITHSCORES; \
             ZRANGEBYSCORE; ZCOUNT; errors in Redis's order",
            ranges,
        )
        .check(
            "ZRANK and ZREVRANK, ties ordered by the members' bytes, ranks after updates and \
             removals; ZREM, ZSCORE, ZCARD; the last member removed deletes the key",
            ranks,
        )
        .check(
            "every set and sorted-set command on a key of another type, and other commands on \
             a set or sorted set, answer WRONGTYPE and change nothing",
            wrong_types,
        )
        .check(
            "set and sorted-set writes keep the key's TTL; an emptied key loses it; an expired \
             set or sorted set is missing to every new command",
            ttls,
        )
        .check(
            "the new commands with 0 to their arity + 2 arguments: the arity error exactly when \
             the count does not fit; names in any case",
            arity,
        )
        .check(
            "random sequences of set, sorted-set and other commands and jumps in time answer as \
             a model of Redis does",
            matches_model,
        )
        .check(
            "ZSkipList alone: random inserts, deletes, rank and by_rank agree with a sorted Vec \
             (ties by member bytes), any seed for the levels",
            skiplist_matches_sorted_vec,
        )
        .check(
            "ZSkipList's insert, delete, rank and by_rank step onto O(log n) nodes of 4,096 \
             (counted by visited()), and ranks stay right after half the members are deleted",
            rank_is_logarithmic,
        )
}

// ---- requests and replies, as redis-cli shows them ----

crate::support::keyspace_replies!();

crate::support::keyspace_session!(unordered);

/// The commands whose answer is a set's members, in an order Redis does not promise.
fn unordered(name: &[u8]) -> bool {
    ["smembers", "sinter", "sunion", "sdiff"]
        .iter()
        .any(|known| name.eq_ignore_ascii_case(known.as_bytes()))
}

/// Sorts the members of an array reply, so that two sets compare equal in any order.
fn sort_members(reply: &mut Reply) {
    if let Reply::Send(Frame::Array(items)) = reply {
        items.sort_by(|a, b| match (a, b) {
            (Frame::Bulk(a), Frame::Bulk(b)) => a.cmp(b),
            _ => format!("{a:?}").cmp(&format!("{b:?}")),
        });
    }
}

// ---- the model ----

#[derive(Debug, Clone, PartialEq)]
enum Value {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Hash(Fields),
    Set(BTreeSet<Vec<u8>>),
    /// (score, member) pairs, kept sorted: by score, then by the member's bytes.
    ZSet(Vec<(f64, Vec<u8>)>),
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
const TABLE: [(&str, i64); 56] = joined(
    LISTS_HASHES_TABLE,
    [
        ("sadd", -3),
        ("srem", -3),
        ("sismember", 3),
        ("smismember", -3),
        ("scard", 2),
        ("smembers", 2),
        ("sinter", -2),
        ("sunion", -2),
        ("sdiff", -2),
        ("zadd", -4),
        ("zrem", -3),
        ("zscore", 3),
        ("zcard", 2),
        ("zincrby", 4),
        ("zrank", 3),
        ("zrevrank", 3),
        ("zrange", -4),
        ("zrangebyscore", -4),
        ("zcount", 4),
    ],
);

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
            Some(Entry {
                value: Value::Hash(_),
                ..
            }) => "hash",
            Some(Entry {
                value: Value::Set(_),
                ..
            }) => "set",
            Some(_) => "zset",
        }
    }

    /// The sets' and sorted sets' commands.
    fn scene_command(&mut self, name: &str, args: &[Vec<u8>], now: i64) -> Reply {
        match name {
            "sadd" | "srem" | "sismember" | "smismember" | "scard" | "smembers" => {
                self.set_command(name, args, now)
            }
            "sinter" | "sunion" | "sdiff" => self.set_algebra(name, args, now),
            "zadd" | "zincrby" => self.zadd(name, args, now),
            "zrange" | "zrangebyscore" => self.zrange(name, args, now),
            "zrem" | "zscore" | "zcard" | "zrank" | "zrevrank" | "zcount" => {
                self.zset_command(name, args, now)
            }
            _ => self.list_hash_command(name, args, now),
        }
    }

    /// Removes the key if its list or hash is empty: Redis keeps no empty aggregate.
    fn drop_if_empty(&mut self, key: &[u8]) {
        let empty = match self.keys.get(key).map(|entry| &entry.value) {
            Some(Value::List(list)) => list.is_empty(),
            Some(Value::Hash(fields)) => fields.is_empty(),
            Some(Value::Set(members)) => members.is_empty(),
            Some(Value::ZSet(pairs)) => pairs.is_empty(),
            _ => false,
        };
        if empty {
            self.keys.remove(key);
        }
    }
}

crate::support::keyspace_model!(scene_command);
crate::support::list_hash_model!();

// ---- the model: sets and sorted sets ----

/// C's `strtod` as Redis's `string2d` takes it for a score: the whole text a number, no
/// leading space, not NaN, not out of a double's range either way; -0 taken as 0.
fn model_score(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let value: f64 = text.parse().ok()?;
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let spells_infinity = unsigned.to_ascii_lowercase().starts_with("inf");
    let mantissa = unsigned.split(['e', 'E']).next().unwrap_or_default();
    let nonzero_digits = mantissa.chars().any(|c| ('1'..='9').contains(&c));
    let refused = value.is_nan()
        || (value.is_infinite() && !spells_infinity)
        || (value == 0.0 && nonzero_digits);
    if refused {
        None
    } else if value == 0.0 {
        Some(0.0)
    } else {
        Some(value)
    }
}

/// `%.17g`, as Redis 7.0's addReplyDouble prints a score.
fn model_format(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return "0".into();
    }
    let e_form = format!("{d:.16e}");
    let (digits, exp) = e_form.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    let strip = |s: String| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if !(-4..17).contains(&exp) {
        let sign = if exp < 0 { "-" } else { "+" };
        format!("{}e{sign}{:02}", strip(digits.to_string()), exp.abs())
    } else {
        strip(format!("{d:.*}", (16 - exp) as usize))
    }
}

/// zslParseRange: `(` for an end left out, then a score.
fn model_bound(bytes: &[u8]) -> Option<(f64, bool)> {
    match bytes.strip_prefix(b"(") {
        Some(rest) => Some((model_score(rest)?, true)),
        None => Some((model_score(bytes)?, false)),
    }
}

fn score_bulk(score: f64) -> Frame {
    Frame::Bulk(model_format(score).into_bytes())
}

/// Puts a member in sorted place, replacing its old score.
fn zset_put(pairs: &mut Vec<(f64, Vec<u8>)>, score: f64, member: &[u8]) {
    pairs.retain(|(_, m)| m != member);
    let at = pairs
        .iter()
        .position(|(s, m)| *s > score || (*s == score && m.as_slice() > member))
        .unwrap_or(pairs.len());
    pairs.insert(at, (score, member.to_vec()));
}

impl Model {
    fn set_command(&mut self, name: &str, args: &[Vec<u8>], now: i64) -> Reply {
        let key = &args[1];
        match self.touch(key, now) {
            None
            | Some(Entry {
                value: Value::Set(_),
                ..
            }) => {}
            Some(_) => return e(WRONGTYPE),
        }
        if name == "sadd" && self.touch(key, now).is_none() {
            self.keys.insert(
                key.clone(),
                Entry {
                    value: Value::Set(BTreeSet::new()),
                    at: None,
                },
            );
        }
        let mut missing = BTreeSet::new();
        let members = match self.keys.get_mut(key) {
            Some(Entry {
                value: Value::Set(members),
                ..
            }) => members,
            _ => &mut missing,
        };
        let reply = match name {
            "sadd" => int(args[2..]
                .iter()
                .filter(|m| members.insert(m.to_vec()))
                .count() as i64),
            "srem" => int(args[2..].iter().filter(|m| members.remove(*m)).count() as i64),
            "sismember" => int(members.contains(&args[2]) as i64),
            "smismember" => Reply::Send(Frame::Array(
                args[2..]
                    .iter()
                    .map(|m| Frame::Integer(members.contains(m) as i64))
                    .collect(),
            )),
            "scard" => int(members.len() as i64),
            _ => Reply::Send(Frame::Array(
                members.iter().map(|m| Frame::Bulk(m.clone())).collect(),
            )),
        };
        self.drop_if_empty(key);
        reply
    }

    /// SINTER, SUNION, SDIFF: every key's type first, then the sets (a missing one empty).
    fn set_algebra(&mut self, name: &str, args: &[Vec<u8>], now: i64) -> Reply {
        let mut sets = Vec::new();
        for key in &args[1..] {
            match self.touch(key, now) {
                None => sets.push(None),
                Some(Entry {
                    value: Value::Set(members),
                    ..
                }) => sets.push(Some(members.clone())),
                Some(_) => return e(WRONGTYPE),
            }
        }
        let result: BTreeSet<Vec<u8>> = match name {
            "sinter" if sets.iter().any(Option::is_none) => BTreeSet::new(),
            "sinter" => {
                let sets: Vec<_> = sets.into_iter().flatten().collect();
                sets[0]
                    .iter()
                    .filter(|m| sets.iter().all(|s| s.contains(*m)))
                    .cloned()
                    .collect()
            }
            "sunion" => sets.into_iter().flatten().flatten().collect(),
            _ => {
                let mut first = sets[0].clone().unwrap_or_default();
                for other in sets[1..].iter().flatten() {
                    first = first.difference(other).cloned().collect();
                }
                first
            }
        };
        Reply::Send(Frame::Array(result.into_iter().map(Frame::Bulk).collect()))
    }

    /// t_zset.c's zaddGenericCommand, ZINCRBY included.
    fn zadd(&mut self, name: &str, args: &[Vec<u8>], now: i64) -> Reply {
        let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
            (false, false, false, false, false, name == "zincrby");
        let mut scoreidx = 2;
        if name == "zadd" {
            while scoreidx < args.len() {
                match args[scoreidx].to_ascii_lowercase().as_slice() {
                    b"nx" => nx = true,
                    b"xx" => xx = true,
                    b"gt" => gt = true,
                    b"lt" => lt = true,
                    b"ch" => ch = true,
                    b"incr" => incr = true,
                    _ => break,
                }
                scoreidx += 1;
            }
        }
        let elements = args.len() - scoreidx;
        if elements % 2 == 1 || elements == 0 {
            return e(SYNTAX_ERROR);
        }
        let elements = elements / 2;
        if nx && xx {
            return e("ERR XX and NX options at the same time are not compatible");
        }
        if ((gt || lt) && nx) || (gt && lt) {
            return e("ERR GT, LT, and/or NX options at the same time are not compatible");
        }
        if incr && elements > 1 {
            return e("ERR INCR option supports a single increment-element pair");
        }
        let mut scores = Vec::new();
        for j in 0..elements {
            match model_score(&args[scoreidx + j * 2]) {
                Some(score) => scores.push(score),
                None => return e("ERR value is not a valid float"),
            }
        }
        let key = &args[1];
        let nothing = if incr { nil() } else { int(0) };
        match self.touch(key, now) {
            None if xx => return nothing,
            None => {
                self.keys.insert(
                    key.clone(),
                    Entry {
                        value: Value::ZSet(Vec::new()),
                        at: None,
                    },
                );
            }
            Some(Entry {
                value: Value::ZSet(_),
                ..
            }) => {}
            Some(_) => return e(WRONGTYPE),
        }
        let Some(Entry {
            value: Value::ZSet(pairs),
            ..
        }) = self.keys.get_mut(key)
        else {
            unreachable!()
        };
        let (mut added, mut updated, mut processed) = (0, 0, 0);
        let mut last = 0.0;
        for (j, &score) in scores.iter().enumerate() {
            let member = &args[scoreidx + 1 + j * 2];
            let current = pairs.iter().find(|(_, m)| m == member).map(|(s, _)| *s);
            match current {
                Some(_) if nx => continue,
                Some(cur) => {
                    let score = if incr { cur + score } else { score };
                    if score.is_nan() {
                        return e("ERR resulting score is not a number (NaN)");
                    }
                    if (lt && score >= cur) || (gt && score <= cur) {
                        continue;
                    }
                    if score != cur {
                        zset_put(pairs, score, member);
                        updated += 1;
                    }
                    processed += 1;
                    last = score;
                }
                None if xx => continue,
                None => {
                    zset_put(pairs, score, member);
                    added += 1;
                    processed += 1;
                    last = score;
                }
            }
        }
        if incr {
            if processed > 0 {
                Reply::Send(score_bulk(last))
            } else {
                nil()
            }
        } else {
            int(if ch { added + updated } else { added })
        }
    }

    /// ZREM, ZSCORE, ZCARD, ZRANK, ZREVRANK and ZCOUNT.
    fn zset_command(&mut self, name: &str, args: &[Vec<u8>], now: i64) -> Reply {
        let mut range = None;
        if name == "zcount" {
            match (model_bound(&args[2]), model_bound(&args[3])) {
                (Some(min), Some(max)) => range = Some((min, max)),
                _ => return e("ERR min or max is not a float"),
            }
        }
        let pairs = match self.touch(&args[1], now) {
            None => {
                return match name {
                    "zscore" | "zrank" | "zrevrank" => nil(),
                    _ => int(0),
                };
            }
            Some(Entry {
                value: Value::ZSet(pairs),
                ..
            }) => pairs,
            Some(_) => return e(WRONGTYPE),
        };
        let find = |pairs: &[(f64, Vec<u8>)]| pairs.iter().position(|(_, m)| *m == args[2]);
        let reply = match name {
            "zrem" => {
                let before = pairs.len();
                pairs.retain(|(_, m)| !args[2..].contains(m));
                int((before - pairs.len()) as i64)
            }
            "zscore" => match find(pairs) {
                Some(at) => Reply::Send(score_bulk(pairs[at].0)),
                None => nil(),
            },
            "zcard" => int(pairs.len() as i64),
            "zrank" => find(pairs).map_or_else(nil, |at| int(at as i64)),
            "zrevrank" => find(pairs).map_or_else(nil, |at| int((pairs.len() - 1 - at) as i64)),
            _ => {
                let ((min, minex), (max, maxex)) = range.unwrap();
                int(pairs
                    .iter()
                    .filter(|(s, _)| in_range(*s, min, minex, max, maxex))
                    .count() as i64)
            }
        };
        self.drop_if_empty(&args[1]);
        reply
    }

    /// t_zset.c's zrangeGenericCommand, for ZRANGE (by rank or BYSCORE) and ZRANGEBYSCORE.
    fn zrange(&mut self, name: &str, args: &[Vec<u8>], now: i64) -> Reply {
        let bys = name == "zrangebyscore";
        let (mut rev, mut byscore, mut withscores) = (None, bys.then_some(true), false);
        if bys {
            rev = Some(false);
        }
        let (mut offset, mut limit) = (0i64, -1i64);
        let mut j = 4;
        while j < args.len() {
            let leftargs = args.len() - j - 1;
            match args[j].to_ascii_lowercase().as_slice() {
                b"withscores" => withscores = true,
                b"limit" if leftargs >= 2 => {
                    match (string2ll(&args[j + 1]), string2ll(&args[j + 2])) {
                        (Some(o), Some(l)) => (offset, limit) = (o, l),
                        _ => return e(NOT_AN_INTEGER),
                    }
                    j += 2;
                }
                b"rev" if rev.is_none() => rev = Some(true),
                b"byscore" if byscore.is_none() => byscore = Some(true),
                _ => return e(SYNTAX_ERROR),
            }
            j += 1;
        }
        let rev = rev.unwrap_or(false);
        let byscore = byscore.unwrap_or(false);
        if limit != -1 && !byscore {
            return e(
                "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or \
                 BYLEX",
            );
        }
        let (minidx, maxidx) = if rev && byscore { (3, 2) } else { (2, 3) };
        let shown: Shown = if byscore {
            let (Some((min, minex)), Some((max, maxex))) =
                (model_bound(&args[minidx]), model_bound(&args[maxidx]))
            else {
                return e("ERR min or max is not a float");
            };
            Box::new(move |pairs| {
                let mut inside: Vec<_> = pairs
                    .iter()
                    .filter(|(s, _)| in_range(*s, min, minex, max, maxex))
                    .cloned()
                    .collect();
                if rev {
                    inside.reverse();
                }
                if offset < 0 {
                    return Vec::new();
                }
                let rest = inside.into_iter().skip(offset as usize);
                if limit < 0 {
                    rest.collect()
                } else {
                    rest.take(limit as usize).collect()
                }
            })
        } else {
            let (Some(start), Some(end)) = (string2ll(&args[2]), string2ll(&args[3])) else {
                return e(NOT_AN_INTEGER);
            };
            Box::new(move |pairs| {
                let mut all = pairs.to_vec();
                if rev {
                    all.reverse();
                }
                match clamped(start, end, all.len()) {
                    Some(range) => all[range].to_vec(),
                    None => Vec::new(),
                }
            })
        };
        let pairs = match self.touch(&args[1], now) {
            None => return Reply::Send(Frame::Array(Vec::new())),
            Some(Entry {
                value: Value::ZSet(pairs),
                ..
            }) => pairs,
            Some(_) => return e(WRONGTYPE),
        };
        let mut out = Vec::new();
        for (score, member) in shown(pairs) {
            out.push(Frame::Bulk(member));
            if withscores {
                out.push(score_bulk(score));
            }
        }
        Reply::Send(Frame::Array(out))
    }
}

/// What a range shows of a sorted set's pairs.
type Shown = Box<dyn Fn(&[(f64, Vec<u8>)]) -> Vec<(f64, Vec<u8>)>>;

/// zslValueGteMin and zslValueLteMax: `ex` for an end left out.
fn in_range(score: f64, min: f64, minex: bool, max: f64, maxex: bool) -> bool {
    let above = if minex { score > min } else { score >= min };
    let below = if maxex { score < max } else { score <= max };
    above && below
}

// ---- scripted checks ----

fn array(items: &[&str]) -> Reply {
    Reply::Send(Frame::Array(
        items
            .iter()
            .map(|item| Frame::Bulk(item.as_bytes().to_vec()))
            .collect(),
    ))
}

fn ints(items: &[i64]) -> Reply {
    Reply::Send(Frame::Array(
        items.iter().map(|&n| Frame::Integer(n)).collect(),
    ))
}

const NOT_A_FLOAT: &str = "ERR value is not a valid float";
const BOUND_NOT_A_FLOAT: &str = "ERR min or max is not a float";
const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";
const NX_XX: &str = "ERR XX and NX options at the same time are not compatible";
const GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";
const INCR_ONE_PAIR: &str = "ERR INCR option supports a single increment-element pair";
const LIMIT_BY_RANK: &str =
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";

fn sets(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("SADD s a b c", int(3))?;
    s.line("SADD s a d d", int(1))?;
    s.line("SCARD s", int(4))?;
    s.line("SMEMBERS s", array(&["a", "b", "c", "d"]))?;
    s.line("SISMEMBER s a", int(1))?;
    s.line("SISMEMBER s z", int(0))?;
    s.line("SISMEMBER missing a", int(0))?;
    s.line("SMISMEMBER s a z d a", ints(&[1, 0, 1, 1]))?;
    s.line("SMISMEMBER missing a b", ints(&[0, 0]))?;
    s.line("SREM s a z a", int(1))?;
    s.line("SREM missing a", int(0))?;
    s.line("SCARD s", int(3))?;
    s.line("SCARD missing", int(0))?;
    s.line("SMEMBERS missing", array(&[]))?;
    // The last member gone, the key goes with it.
    s.line("SREM s b c d", int(3))?;
    s.line("EXISTS s", int(0))?;
    s.line("TYPE s", simple("none"))?;
    s.size(0)?;
    // Binary-safe members: the empty one, CR LF and NUL, one over 64 KiB.
    let big = vec![b'm'; 70_000];
    s.expect(&[&b"SADD"[..], b"s", b"", b"\r\n\0", &big[..]], &int(3))?;
    s.expect(&[&b"SISMEMBER"[..], b"s", b""], &int(1))?;
    s.expect(&[&b"SISMEMBER"[..], b"s", &big[..]], &int(1))?;
    s.expect(
        &[&b"SMEMBERS"[..], b"s"],
        &Reply::Send(Frame::Array(vec![
            Frame::Bulk(Vec::new()),
            Frame::Bulk(b"\r\n\0".to_vec()),
            Frame::Bulk(big.clone()),
        ])),
    )?;
    s.line("TYPE s", simple("set"))?;
    // A thousand members, and their removal.
    let many: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    s.line(&format!("SADD t {}", many.join(" ")), int(1000))?;
    s.line(&format!("SADD t {}", many.join(" ")), int(0))?;
    s.line("SCARD t", int(1000))?;
    s.send(&words("SMEMBERS t"))?;
    s.line(&format!("SREM t {}", many[..999].join(" ")), int(999))?;
    s.line("SMEMBERS t", array(&["m999"]))?;
    s.line("SREM t m999", int(1))?;
    // A member may have the key's name: SREM removes only the members after the key.
    s.line("SADD k k a", int(2))?;
    s.line("SREM k a", int(1))?;
    s.line("SMEMBERS k", array(&["k"]))?;
    s.line("DEL k", int(1))?;
    s.size(1)
}

fn set_algebra(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("SADD a 1 2 3 4", int(4))?;
    s.line("SADD b 3 4 5", int(3))?;
    s.line("SADD c 4 5 6", int(3))?;
    s.line("SINTER a", array(&["1", "2", "3", "4"]))?;
    s.line("SINTER a b", array(&["3", "4"]))?;
    s.line("SINTER a b c", array(&["4"]))?;
    s.line("SINTER c b a a", array(&["4"]))?;
    s.line("SINTER a missing", array(&[]))?;
    s.line("SINTER missing a", array(&[]))?;
    s.line("SUNION a b c", array(&["1", "2", "3", "4", "5", "6"]))?;
    s.line("SUNION a missing", array(&["1", "2", "3", "4"]))?;
    s.line("SUNION missing other", array(&[]))?;
    s.line("SDIFF a b", array(&["1", "2"]))?;
    s.line("SDIFF a b c", array(&["1", "2"]))?;
    s.line("SDIFF b a", array(&["5"]))?;
    s.line("SDIFF a a", array(&[]))?;
    s.line("SDIFF a missing", array(&["1", "2", "3", "4"]))?;
    s.line("SDIFF missing a", array(&[]))?;
    // A key of another type is WRONGTYPE wherever it is, before or after a missing key.
    s.line("SET str v", ok())?;
    s.line("ZADD z 1 a", int(1))?;
    for line in [
        "SINTER str",
        "SINTER a str",
        "SINTER a missing str",
        "SINTER missing str",
        "SUNION a z",
        "SUNION missing str",
        "SDIFF a str",
        "SDIFF missing str",
        "SDIFF z a",
    ] {
        s.line(line, err(WRONGTYPE))?;
    }
    // Keys named as the commands are: only the keys after the name are read.
    s.line("SADD SUNION x", int(1))?;
    s.line("SADD SINTER x", int(1))?;
    s.line("SADD SDIFF x", int(1))?;
    s.line("SUNION c", array(&["4", "5", "6"]))?;
    s.line("SINTER c", array(&["4", "5", "6"]))?;
    s.line("SDIFF c", array(&["4", "5", "6"]))?;
    s.line("DEL SUNION SINTER SDIFF", int(3))?;
    // Reading leaves the sets alone.
    s.line("SMEMBERS a", array(&["1", "2", "3", "4"]))?;
    s.line("SCARD b", int(3))?;
    s.size(5)
}

fn zadd_options(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("ZADD z 1 a 1 b 1 c 0 d 2 e", int(5))?;
    s.line("ZRANGE z 0 -1", array(&["d", "a", "b", "c", "e"]))?;
    s.line("ZADD z 3 a 3 a", int(0))?;
    s.line("ZSCORE z a", bulk(b"3"))?;
    s.line("ZADD z 1 a", int(0))?;
    // CH counts a changed score, not one set to what it was.
    s.line("ZADD z CH 1 a 1 b 7 c 1 f", int(2))?;
    s.line("ZADD z ch 7 c", int(0))?;
    s.line("ZSCORE z c", bulk(b"7"))?;
    s.line("ZADD z CH 1 c", int(1))?;
    // NX adds only; XX updates only, and adds nothing, not even the key.
    s.line("ZADD z NX 9 a 9 g", int(1))?;
    s.line("ZSCORE z a", bulk(b"1"))?;
    s.line("ZSCORE z g", bulk(b"9"))?;
    s.line("ZADD z XX 5 a 5 nope", int(0))?;
    s.line("ZSCORE z a", bulk(b"5"))?;
    s.line("ZSCORE z nope", nil())?;
    s.line("ZADD z XX CH 6 a 5 nope", int(1))?;
    s.line("ZADD missing XX 1 a", int(0))?;
    s.line("ZADD missing XX INCR 1 a", nil())?;
    s.line("EXISTS missing", int(0))?;
    // GT and LT: only a higher (or lower) score replaces the current one; new members are added.
    s.line("ZADD z GT CH 1 a 8 b 3 h", int(2))?;
    s.line("ZSCORE z a", bulk(b"6"))?;
    s.line("ZSCORE z b", bulk(b"8"))?;
    s.line("ZADD z LT CH 7 a 8 b 2 i", int(1))?;
    s.line("ZSCORE z a", bulk(b"6"))?;
    s.line("ZADD z LT CH 0 a", int(1))?;
    s.line("ZADD z GT 6 a", int(0))?;
    s.line("ZSCORE z a", bulk(b"6"))?;
    s.line("ZADD z GT XX CH 6 a 7 a", int(1))?;
    s.line("ZSCORE z a", bulk(b"7"))?;
    // INCR answers the new score, or nil when an option held it back.
    s.line("ZADD z INCR 1.5 a", bulk(b"8.5"))?;
    s.line("ZADD z INCR -10 new", bulk(b"-10"))?;
    s.line("ZADD z NX INCR 1 a", nil())?;
    s.line("ZADD z XX INCR 1 nope", nil())?;
    s.line("ZADD z GT INCR -1 a", nil())?;
    s.line("ZADD z LT INCR -1 a", bulk(b"7.5"))?;
    s.line("ZADD z CH INCR 0 a", bulk(b"7.5"))?;
    s.line("ZINCRBY z 2.5 a", bulk(b"10"))?;
    s.line("ZINCRBY z 1 brand-new", bulk(b"1"))?;
    s.line("ZINCRBY fresh -3 m", bulk(b"-3"))?;
    s.line("TYPE fresh", simple("zset"))?;
    // Errors, in Redis's order: the count of arguments, the options, every score, the key.
    s.line("SET str v", ok())?;
    for (line, expected) in [
        ("ZADD z 1", err(&arity_error("zadd"))),
        ("ZADD z NX", err(&arity_error("zadd"))),
        ("ZADD z 1 a 2", err(SYNTAX_ERROR)),
        ("ZADD z NX 1", err(SYNTAX_ERROR)),
        ("ZADD z CH NX", err(SYNTAX_ERROR)),
        ("ZADD z foo 1 a", err(SYNTAX_ERROR)),
        ("ZADD z 1 a 2 b INCR", err(SYNTAX_ERROR)),
        ("ZADD z NX XX 1 a", err(NX_XX)),
        ("ZADD z NX XX x a", err(NX_XX)),
        ("ZADD z GT LT 1 a", err(GT_LT_NX)),
        ("ZADD z GT NX 1 a", err(GT_LT_NX)),
        ("ZADD z LT NX 1 a", err(GT_LT_NX)),
        ("ZADD z INCR 1 a 2 b", err(INCR_ONE_PAIR)),
        ("ZADD z INCR NX GT 1 a 2 b", err(GT_LT_NX)),
        ("ZADD z 1 a x b", err(NOT_A_FLOAT)),
        ("ZADD str x a", err(NOT_A_FLOAT)),
        ("ZADD str 1 a", err(WRONGTYPE)),
        ("ZADD str XX 1 a", err(WRONGTYPE)),
        ("ZINCRBY str x a", err(NOT_A_FLOAT)),
        ("ZINCRBY str 1 a", err(WRONGTYPE)),
        ("ZINCRBY z nan a", err(NOT_A_FLOAT)),
    ] {
        s.line(line, expected)?;
    }
    s.line("ZSCORE z b", bulk(b"8"))?;
    // inf + -inf is no number: refused, and the member keeps its score.
    s.line("ZADD z inf top -inf bottom", int(2))?;
    s.line("ZINCRBY z -inf top", err(NAN_SCORE))?;
    s.line("ZADD z INCR +inf bottom", err(NAN_SCORE))?;
    s.line("ZSCORE z top", bulk(b"inf"))?;
    s.line("ZSCORE z bottom", bulk(b"-inf"))?;
    s.line("ZINCRBY z 1 top", bulk(b"inf"))?;
    s.line("ZADD z 1 a 1 b 1 c NX", err(SYNTAX_ERROR))?;
    s.size(3)
}

fn scores(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    // What Redis 7.0 answers ZSCORE for each score given to ZADD: %.17g.
    for (given, shown) in [
        ("1", "1"),
        ("1.5", "1.5"),
        ("-2", "-2"),
        ("0", "0"),
        ("-0", "0"),
        (".5", "0.5"),
        ("5.", "5"),
        ("+5", "5"),
        ("1e3", "1000"),
        ("1E-2", "0.01"),
        ("0.1", "0.10000000000000001"),
        ("3.0000000000000004", "3.0000000000000004"),
        ("0.0001", "0.0001"),
        ("0.00001", "1.0000000000000001e-05"),
        ("123456789", "123456789"),
        ("12345678901234567", "12345678901234568"),
        ("123456789012345678", "1.2345678901234568e+17"),
        ("1e16", "10000000000000000"),
        ("1e17", "1e+17"),
        ("-1e17", "-1e+17"),
        ("1e300", "1.0000000000000001e+300"),
        ("5e-324", "4.9406564584124654e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        ("9007199254740993", "9007199254740992"),
        ("inf", "inf"),
        ("+inf", "inf"),
        ("-inf", "-inf"),
        ("Infinity", "inf"),
        ("-INF", "-inf"),
    ] {
        s.send(&words(&format!("ZADD z {given} m")))?;
        s.line("ZSCORE z m", bulk(shown.as_bytes()))?;
        s.line(&format!("ZINCRBY y {given} m"), bulk(shown.as_bytes()))?;
        s.line("DEL y", int(1))?;
    }
    for refused in [
        "x", "", " 1", "1 ", "nan", "-nan", "NaN", "1e400", "-1e400", "1e-400", "1e", "1,5", "--1",
    ] {
        s.expect(
            &[&b"ZADD"[..], b"z", refused.as_bytes(), b"m"],
            &err(NOT_A_FLOAT),
        )?;
        s.expect(
            &[&b"ZINCRBY"[..], b"z", refused.as_bytes(), b"m"],
            &err(NOT_A_FLOAT),
        )?;
    }
    s.line("ZSCORE z m", bulk(b"-inf"))?;
    Ok(())
}

fn ranges(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("ZADD z 1 a 2 b 2 c 3 d 4 e 5 f", int(6))?;
    // A score equal to the current one is not higher for GT, nor lower for LT.
    s.line("ZADD z GT INCR 0 a", nil())?;
    s.line("ZADD z LT INCR 0 a", nil())?;
    s.line("ZRANGE z 1 2", array(&["b", "c"]))?;
    s.line("ZRANGE z 1 3 REV", array(&["e", "d", "c"]))?;
    s.line("ZRANGEBYSCORE z 1 3 LIMIT 1 -1", array(&["b", "c", "d"]))?;
    s.line(
        "ZRANGE z 3 1 BYSCORE REV LIMIT 1 -1",
        array(&["c", "b", "a"]),
    )?;
    s.line("ZRANGE z (1 4 BYSCORE LIMIT 1 2", array(&["c", "d"]))?;
    // By rank: both ends included, negative ones from the end, REV from the highest score.
    s.line("ZRANGE z 0 -1", array(&["a", "b", "c", "d", "e", "f"]))?;
    s.line(
        "ZRANGE z 0 -1 WITHSCORES",
        array(&["a", "1", "b", "2", "c", "2", "d", "3", "e", "4", "f", "5"]),
    )?;
    s.line("ZRANGE z 2 100", array(&["c", "d", "e", "f"]))?;
    s.line("ZRANGE z 5 6", array(&["f"]))?;
    s.line("ZRANGE z 6 7", array(&[]))?;
    s.line("ZRANGE z -2 -1", array(&["e", "f"]))?;
    s.line("ZRANGE z -100 0", array(&["a"]))?;
    s.line("ZRANGE z 3 2", array(&[]))?;
    s.line("ZRANGE z 0 2 REV", array(&["f", "e", "d"]))?;
    s.line(
        "ZRANGE z -2 -1 REV WITHSCORES",
        array(&["b", "2", "a", "1"]),
    )?;
    s.line(
        "ZRANGE z 0 -1 LIMIT 0 -1",
        array(&["a", "b", "c", "d", "e", "f"]),
    )?;
    s.line(
        "ZRANGE z 9223372036854775807 -9223372036854775808",
        array(&[]),
    )?;
    s.line(
        "ZRANGE z -9223372036854775808 9223372036854775807",
        array(&["a", "b", "c", "d", "e", "f"]),
    )?;
    // By score: ( leaves an end out; -inf and +inf; REV takes max first.
    s.line("ZRANGE z 0 -1 BYSCORE", array(&[]))?;
    s.line("ZRANGE z (1 (5 BYSCORE", array(&["b", "c", "d", "e"]))?;
    s.line(
        "ZRANGE z 2 4 BYSCORE WITHSCORES",
        array(&["b", "2", "c", "2", "d", "3", "e", "4"]),
    )?;
    s.line(
        "ZRANGE z 5 1 BYSCORE REV",
        array(&["f", "e", "d", "c", "b", "a"]),
    )?;
    s.line("ZRANGE z (5 (1 BYSCORE REV", array(&["e", "d", "c", "b"]))?;
    s.line("ZRANGE z 1 5 BYSCORE REV", array(&[]))?;
    s.line("ZRANGE z (2 +inf BYSCORE", array(&["d", "e", "f"]))?;
    s.line("ZRANGE z 2 2 BYSCORE", array(&["b", "c"]))?;
    s.line("ZRANGE z (2 2 BYSCORE", array(&[]))?;
    s.line("ZRANGE z 2 (2 BYSCORE", array(&[]))?;
    s.line("ZRANGE z 3 1 BYSCORE", array(&[]))?;
    s.line("ZRANGE z -inf -inf BYSCORE", array(&[]))?;
    s.line("ZRANGE z 1.5 2.5 BYSCORE", array(&["b", "c"]))?;
    // LIMIT: an offset into the range, then at most count; a negative count is all the rest.
    s.line(
        "ZRANGE z -inf +inf BYSCORE LIMIT 2 3",
        array(&["c", "d", "e"]),
    )?;
    s.line(
        "ZRANGE z +inf -inf BYSCORE REV LIMIT 1 2 WITHSCORES",
        array(&["e", "4", "d", "3"]),
    )?;
    s.line("ZRANGE z -inf +inf BYSCORE LIMIT 6 1", array(&[]))?;
    s.line("ZRANGE z -inf +inf BYSCORE LIMIT 5 10", array(&["f"]))?;
    s.line("ZRANGE z -inf +inf BYSCORE LIMIT 0 0", array(&[]))?;
    s.line(
        "ZRANGE z -inf +inf BYSCORE LIMIT 0 -5",
        array(&["a", "b", "c", "d", "e", "f"]),
    )?;
    s.line("ZRANGE z -inf +inf BYSCORE LIMIT -1 2", array(&[]))?;
    s.line("ZRANGE z (1 +inf BYSCORE REV LIMIT 0 1", array(&[]))?;
    s.line("ZRANGE z +inf (1 BYSCORE REV LIMIT 0 1", array(&["f"]))?;
    s.line(
        "ZRANGE z 2 5 BYSCORE LIMIT 1 9223372036854775807",
        array(&["c", "d", "e", "f"]),
    )?;
    s.line("ZRANGEBYSCORE z 2 4", array(&["b", "c", "d", "e"]))?;
    s.line("ZRANGEBYSCORE z (2 (4 WITHSCORES", array(&["d", "3"]))?;
    s.line("ZRANGEBYSCORE z -inf 2 LIMIT 1 5", array(&["b", "c"]))?;
    s.line(
        "ZRANGEBYSCORE z 0 10 LIMIT 1 2 LIMIT 2 2",
        array(&["c", "d"]),
    )?;
    s.line(
        "ZRANGEBYSCORE z 0 10 withscores limit 4 9",
        array(&["e", "4", "f", "5"]),
    )?;
    s.line("ZCOUNT z 2 4", int(4))?;
    s.line("ZCOUNT z (2 4", int(2))?;
    s.line("ZCOUNT z -inf +inf", int(6))?;
    s.line("ZCOUNT z 4 2", int(0))?;
    s.line("ZCOUNT z (1 (2", int(0))?;
    s.line("ZCOUNT z 2 2", int(2))?;
    s.line("ZCOUNT z (5 +inf", int(0))?;
    // Errors: options first, then the range, then the key.
    s.line("ZRANGEBYSCORE z 1 2 REV", err(SYNTAX_ERROR))?;
    s.line("ZRANGEBYSCORE z 1 2 BYSCORE", err(SYNTAX_ERROR))?;
    s.line("ZRANGE z 0 1 BYSCORE BYSCORE", err(SYNTAX_ERROR))?;
    s.line("ZRANGE z 0 1 REV REV", err(SYNTAX_ERROR))?;
    s.line("ZRANGE z 0 1 LIMIT 1", err(SYNTAX_ERROR))?;
    s.line("ZRANGE z 0 1 LIMIT", err(SYNTAX_ERROR))?;
    s.line("ZRANGE z 0 1 foo", err(SYNTAX_ERROR))?;
    s.line(
        "ZRANGE z 0 1 WITHSCORES WITHSCORES",
        array(&["a", "1", "b", "2"]),
    )?;
    s.line("ZRANGE z a 1 BYSCORE", err(BOUND_NOT_A_FLOAT))?;
    s.line("ZRANGE z 1 ((2 BYSCORE", err(BOUND_NOT_A_FLOAT))?;
    s.line("ZRANGE z 0 1.5", err(NOT_AN_INTEGER))?;
    s.line("ZRANGE z 0 1 BYSCORE LIMIT 0 x", err(NOT_AN_INTEGER))?;
    s.line("ZRANGE z x 1 BYSCORE LIMIT 0 x", err(NOT_AN_INTEGER))?;
    s.line("ZRANGE z x 1 LIMIT 0 1", err(LIMIT_BY_RANK))?;
    s.line("ZRANGE z 0 1 LIMIT 0 2", err(LIMIT_BY_RANK))?;
    s.line("ZRANGE missing 0 1 LIMIT 0 2", err(LIMIT_BY_RANK))?;
    s.line("ZRANGE missing x 1", err(NOT_AN_INTEGER))?;
    s.line("ZCOUNT z x 1", err(BOUND_NOT_A_FLOAT))?;
    s.line("ZCOUNT z nan 1", err(BOUND_NOT_A_FLOAT))?;
    s.line("ZCOUNT missing 1 x", err(BOUND_NOT_A_FLOAT))?;
    s.line("ZRANGEBYSCORE z (nan 1", err(BOUND_NOT_A_FLOAT))?;
    s.line("ZRANGE missing 0 -1", array(&[]))?;
    s.line("ZRANGE missing -inf +inf BYSCORE", array(&[]))?;
    s.line("ZCOUNT missing -inf +inf", int(0))?;
    s.line("SET str v", ok())?;
    s.line("ZRANGE str x 1", err(NOT_AN_INTEGER))?;
    s.line("ZRANGE str 0 1", err(WRONGTYPE))?;
    s.line("ZRANGE str 0 1 BYSCORE", err(WRONGTYPE))?;
    s.line("ZRANGEBYSCORE str x 1", err(BOUND_NOT_A_FLOAT))?;
    s.line("ZCOUNT str x 1", err(BOUND_NOT_A_FLOAT))?;
    s.line("ZCOUNT str 0 1", err(WRONGTYPE))?;
    s.size(2)
}

fn ranks(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    // Ties are ordered by the members' bytes, whatever order they came in.
    s.line("ZADD z 1 b 1 aa 1 a 1 B 0 zz 2 A", int(6))?;
    s.line(
        "ZRANGE z 0 -1 WITHSCORES",
        array(&["zz", "0", "B", "1", "a", "1", "aa", "1", "b", "1", "A", "2"]),
    )?;
    s.line("ZRANK z zz", int(0))?;
    s.line("ZRANK z B", int(1))?;
    s.line("ZRANK z a", int(2))?;
    s.line("ZRANK z aa", int(3))?;
    s.line("ZRANK z b", int(4))?;
    s.line("ZRANK z A", int(5))?;
    s.line("ZREVRANK z A", int(0))?;
    s.line("ZREVRANK z b", int(1))?;
    s.line("ZREVRANK z zz", int(5))?;
    s.line("ZRANK z nope", nil())?;
    s.line("ZRANK missing a", nil())?;
    s.line("ZREVRANK missing a", nil())?;
    // A new score moves the member; ranks follow.
    s.line("ZADD z 1 zz", int(0))?;
    s.line("ZRANK z zz", int(4))?;
    s.line("ZRANGE z 0 -1", array(&["B", "a", "aa", "b", "zz", "A"]))?;
    s.line("ZADD z -1 A", int(0))?;
    s.line("ZRANK z A", int(0))?;
    s.line("ZRANK z zz", int(5))?;
    s.line("ZREM z B aa nope B", int(2))?;
    s.line("ZRANGE z 0 -1", array(&["A", "a", "b", "zz"]))?;
    s.line("ZRANK z b", int(2))?;
    s.line("ZREVRANK z A", int(3))?;
    s.line("ZCARD z", int(4))?;
    s.line("ZCARD missing", int(0))?;
    s.line("ZREM missing a", int(0))?;
    s.line("ZSCORE missing a", nil())?;
    s.line("ZSCORE z nope", nil())?;
    s.line("ZREM z A a b zz", int(4))?;
    s.line("EXISTS z", int(0))?;
    s.line("TYPE z", simple("none"))?;
    s.line("ZCARD z", int(0))?;
    s.line("ZADD z 5 a", int(1))?;
    s.line("ZRANK z a", int(0))?;
    s.line("ZREVRANK z a", int(0))?;
    s.line("SET str v", ok())?;
    s.line("ZRANK str a", err(WRONGTYPE))?;
    s.line("ZREVRANK str a", err(WRONGTYPE))?;
    s.line("ZSCORE str a", err(WRONGTYPE))?;
    s.line("ZCARD str", err(WRONGTYPE))?;
    s.line("ZREM str a", err(WRONGTYPE))?;
    // A member may have the key's name: ZREM removes only the members after the key.
    s.line("ZADD y 1 y 2 a", int(2))?;
    s.line("ZREM y a", int(1))?;
    s.line("ZRANGE y 0 -1", array(&["y"]))?;
    s.line("DEL y", int(1))?;
    s.size(2)
}

fn wrong_types(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("SET str v", ok())?;
    s.line("RPUSH l a", int(1))?;
    s.line("HSET h f 1", int(1))?;
    s.line("SADD s a", int(1))?;
    s.line("ZADD z 1 a", int(1))?;
    let set_commands = [
        "SADD @ a",
        "SREM @ a",
        "SISMEMBER @ a",
        "SMISMEMBER @ a",
        "SCARD @",
        "SMEMBERS @",
        "SINTER @",
        "SUNION @",
        "SDIFF @",
    ];
    let zset_commands = [
        "ZADD @ 1 a",
        "ZADD @ XX 1 a",
        "ZINCRBY @ 1 a",
        "ZREM @ a",
        "ZSCORE @ a",
        "ZCARD @",
        "ZRANK @ a",
        "ZREVRANK @ a",
        "ZRANGE @ 0 -1",
        "ZRANGE @ -inf +inf BYSCORE",
        "ZRANGEBYSCORE @ -inf +inf",
        "ZCOUNT @ -inf +inf",
    ];
    let others = [
        "GET @",
        "INCR @",
        "LPUSH @ a",
        "LRANGE @ 0 -1",
        "HSET @ f 1",
        "HGET @ f",
    ];
    for (command, wrong) in set_commands
        .iter()
        .map(|c| (c, &["str", "l", "h", "z"][..]))
        .chain(
            zset_commands
                .iter()
                .map(|c| (c, &["str", "l", "h", "s"][..])),
        )
        .chain(others.iter().map(|c| (c, &["s", "z"][..])))
    {
        for key in wrong {
            s.line(&command.replace('@', key), err(WRONGTYPE))?;
        }
    }
    // Nothing changed: each key still holds what it held.
    s.line("SMEMBERS s", array(&["a"]))?;
    s.line("ZRANGE z 0 -1 WITHSCORES", array(&["a", "1"]))?;
    s.line("TYPE s", simple("set"))?;
    s.line("TYPE z", simple("zset"))?;
    // SET replaces any type; DEL works on all.
    s.line("SET s v", ok())?;
    s.line("SET z v", ok())?;
    s.line("TYPE z", simple("string"))?;
    s.line("SADD z a", err(WRONGTYPE))?;
    s.line("ZADD s 1 a", err(WRONGTYPE))?;
    s.line("SADD t a", int(1))?;
    s.line("ZADD y 1 a", int(1))?;
    s.line("DEL t y", int(2))?;
    s.size(5)
}

fn ttls(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    // Writes to a set or sorted set keep its TTL.
    s.line("SADD s a b c", int(3))?;
    s.line("ZADD z 1 a 2 b 3 c", int(3))?;
    s.line("PEXPIRE s 5000", int(1))?;
    s.line("PEXPIRE z 5000", int(1))?;
    for (line, expected) in [
        ("SADD s d", int(1)),
        ("SREM s a", int(1)),
        ("ZADD z 4 d", int(1)),
        ("ZADD z 9 a", int(0)),
        ("ZINCRBY z 1 b", bulk(b"3")),
        ("ZREM z c", int(1)),
    ] {
        s.line(line, expected)?;
        let key = if line.starts_with('S') { "s" } else { "z" };
        s.line(&format!("PTTL {key}"), int(5000))?;
    }
    // Emptied, the key is gone, TTL and all; made again, it has none.
    s.line("SREM s b c d", int(3))?;
    s.line("PTTL s", int(-2))?;
    s.line("SADD s a", int(1))?;
    s.line("PTTL s", int(-1))?;
    s.line("ZREM z a b d", int(3))?;
    s.line("PTTL z", int(-2))?;
    s.line("ZINCRBY z 1 a", bulk(b"1"))?;
    s.line("PTTL z", int(-1))?;
    // An expired set or sorted set is missing to every new command.
    let touches: [(&str, Reply); 19] = [
        ("SISMEMBER k0 a", int(0)),
        ("SMISMEMBER k1 a", ints(&[0])),
        ("SCARD k2", int(0)),
        ("SMEMBERS k3", array(&[])),
        ("SREM k4 a", int(0)),
        ("SINTER k5", array(&[])),
        ("SUNION k6", array(&[])),
        ("SDIFF k7", array(&[])),
        ("SADD k8 b", int(1)),
        ("ZSCORE k9 a", nil()),
        ("ZCARD k10", int(0)),
        ("ZRANK k11 a", nil()),
        ("ZREVRANK k12 a", nil()),
        ("ZRANGE k13 0 -1", array(&[])),
        ("ZRANGEBYSCORE k14 -inf +inf", array(&[])),
        ("ZCOUNT k15 -inf +inf", int(0)),
        ("ZREM k16 a", int(0)),
        ("ZADD k17 XX 1 a", int(0)),
        ("ZADD k18 2 b", int(1)),
    ];
    let make = |i: i64| {
        if i < 9 {
            format!("SADD k{i} a")
        } else {
            format!("ZADD k{i} 1 a")
        }
    };
    s.expired_touches(&touches, make, 2, &[8, 18])?;
    s.line("SMEMBERS k8", array(&["b"]))?;
    s.line("TTL k8", int(-1))?;
    s.line("ZRANGE k18 0 -1 WITHSCORES", array(&["b", "2"]))?;
    s.line("TTL k18", int(-1))
}

fn arity(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::new();
    s.line("SADD s a b", int(2))?;
    s.line("ZADD z 1 a 2 b", int(2))?;
    let new = [
        ("sadd", &["s", "c"][..]),
        ("srem", &["s", "x"]),
        ("sismember", &["s", "a"]),
        ("smismember", &["s", "a"]),
        ("scard", &["s"]),
        ("smembers", &["s"]),
        ("sinter", &["s", "s"]),
        ("sunion", &["s", "s"]),
        ("sdiff", &["s", "s"]),
        ("zadd", &["z", "3", "c"]),
        ("zrem", &["z", "x"]),
        ("zscore", &["z", "a"]),
        ("zcard", &["z"]),
        ("zincrby", &["z", "1", "a"]),
        ("zrank", &["z", "a"]),
        ("zrevrank", &["z", "a"]),
        ("zrange", &["z", "0", "-1"]),
        ("zrangebyscore", &["z", "-inf", "+inf"]),
        ("zcount", &["z", "-inf", "+inf"]),
    ];
    s.arities(&mut ctx.rng(), &new, "1")?;
    s.send(&words("SMEMBERS s"))?;
    s.send(&words("ZRANGE z 0 -1 WITHSCORES"))
}

// ---- random sequences against the model ----

const KEYS: [&str; 3] = ["a", "b", "c"];

fn step() -> impl Strategy<Value = Step> {
    let key = || prop::sample::select(&KEYS[..]).prop_map(|k| k.as_bytes().to_vec());
    let member = || {
        prop::sample::select(vec!["x", "y", "z", "", "xx", "X"]).prop_map(|v| v.as_bytes().to_vec())
    };
    let score = || {
        prop_oneof![
            6 => (-3i64..4).prop_map(|n| n.to_string()),
            2 => prop::sample::select(vec!["1.5", "-0.5", "0.1", "inf", "-inf"]).prop_map(String::from),
            1 => prop::sample::select(vec!["x", "nan", "1e17", "-0"]).prop_map(String::from),
        ]
        .prop_map(|t| t.into_bytes())
    };
    let bound = move || {
        prop_oneof![
            3 => score(),
            2 => score().prop_map(|s| [&b"("[..], &s].concat()),
        ]
    };
    let index = || {
        prop_oneof![
            6 => (-4i64..5).prop_map(|n| n.to_string()),
            1 => prop::sample::select(vec!["x", "9223372036854775807", "-9223372036854775808"])
                .prop_map(String::from),
        ]
        .prop_map(|t| t.into_bytes())
    };
    let with = |name: &'static str, args: Vec<Vec<u8>>| {
        let mut request = vec![name.as_bytes().to_vec()];
        request.extend(args);
        Step::Send(request)
    };
    let option = prop::sample::select(vec!["NX", "XX", "GT", "LT", "CH", "INCR"]);
    let range_option = prop::sample::select(vec![
        "WITHSCORES",
        "REV",
        "BYSCORE",
        "LIMIT 1 2",
        "LIMIT 0 -1",
    ]);
    let zread = prop::sample::select(vec!["zscore", "zrank", "zrevrank"]);
    let sread = prop::sample::select(vec!["sismember", "smismember", "srem"]);
    let algebra = prop::sample::select(vec!["sinter", "sunion", "sdiff"]);
    let whole = prop::sample::select(vec!["scard", "smembers", "zcard", "type"]);
    prop_oneof![
        2 => prop_oneof![Just(1i64), 0i64..20, Just(3_600_000i64)].prop_map(Step::Wait),
        3 => (key(), prop::collection::vec(member(), 1..4)).prop_map(move |(k, mut m)| {
            m.insert(0, k);
            with("sadd", m)
        }),
        2 => (sread, key(), prop::collection::vec(member(), 1..3)).prop_map(move |(r, k, mut m)| {
            m.insert(0, k);
            with(r, m)
        }),
        2 => (algebra, prop::collection::vec(key(), 1..4)).prop_map(move |(a, k)| with(a, k)),
        5 => (key(), prop::collection::vec(option, 0..3), prop::collection::vec((score(), member()), 1..4))
            .prop_map(move |(k, options, pairs)| {
                let mut args = vec![k];
                args.extend(options.into_iter().map(|o| o.as_bytes().to_vec()));
                for (s, m) in pairs {
                    args.push(s);
                    args.push(m);
                }
                with("zadd", args)
            }),
        2 => (key(), score(), member()).prop_map(move |(k, s, m)| with("zincrby", vec![k, s, m])),
        2 => (key(), prop::collection::vec(member(), 1..3)).prop_map(move |(k, mut m)| {
            m.insert(0, k);
            with("zrem", m)
        }),
        2 => (zread, key(), member()).prop_map(move |(r, k, m)| with(r, vec![k, m])),
        3 => (key(), index(), index(), prop::collection::vec(range_option.clone(), 0..3)).prop_map(
            move |(k, a, b, options)| {
                let mut args = vec![k, a, b];
                for o in options {
                    args.extend(words(o));
                }
                with("zrange", args)
            }
        ),
        3 => (key(), bound(), bound(), prop::collection::vec(range_option, 0..3)).prop_map(
            move |(k, a, b, options)| {
                let mut args = vec![k, a, b, b"BYSCORE".to_vec()];
                for o in options {
                    if o != "BYSCORE" {
                        args.extend(words(o));
                    }
                }
                with("zrange", args)
            }
        ),
        1 => (key(), bound(), bound()).prop_map(move |(k, a, b)| with("zrangebyscore", vec![k, a, b, b"WITHSCORES".to_vec()])),
        2 => (key(), bound(), bound()).prop_map(move |(k, a, b)| with("zcount", vec![k, a, b])),
        2 => (whole, key()).prop_map(move |(r, k)| with(r, vec![k])),
        1 => (key(), member()).prop_map(move |(k, v)| with("set", vec![k, v])),
        1 => (key(), member()).prop_map(move |(k, v)| with("rpush", vec![k, v])),
        1 => (key(), index()).prop_map(move |(k, t)| with("pexpire", vec![k, t])),
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

// ---- the skip list alone ----

/// One operation on a skip list.
#[derive(Clone)]
enum ListOp {
    Insert(f64, Vec<u8>),
    Delete(f64, Vec<u8>),
    Rank(f64, Vec<u8>),
    ByRank(usize),
}

impl fmt::Debug for ListOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListOp::Insert(score, member) => write!(f, "insert({score:?}, {})", quoted(member)),
            ListOp::Delete(score, member) => write!(f, "delete({score:?}, {})", quoted(member)),
            ListOp::Rank(score, member) => write!(f, "rank({score:?}, {})", quoted(member)),
            ListOp::ByRank(rank) => write!(f, "by_rank({rank})"),
        }
    }
}

fn list_op() -> impl Strategy<Value = ListOp> {
    let score = || {
        prop_oneof![
            4 => (0i32..4).prop_map(f64::from),
            1 => prop::sample::select(vec![f64::NEG_INFINITY, f64::INFINITY, -1.5, 1e300, f64::MIN_POSITIVE]),
        ]
    };
    let member = || {
        prop::sample::select(vec!["a", "b", "c", "", "ab", "B"]).prop_map(|m| m.as_bytes().to_vec())
    };
    prop_oneof![
        5 => (score(), member()).prop_map(|(s, m)| ListOp::Insert(s, m)),
        3 => (score(), member()).prop_map(|(s, m)| ListOp::Delete(s, m)),
        2 => (score(), member()).prop_map(|(s, m)| ListOp::Rank(s, m)),
        2 => (0usize..12).prop_map(ListOp::ByRank),
    ]
}

/// The skip list against a sorted `Vec`: after every operation, every rank and every place.
fn skiplist_matches_sorted_vec(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["seed", "ops"],
        256,
        (any::<u64>(), prop::collection::vec(list_op(), 1..60)),
        |(seed, ops)| {
            let mut list = ZSkipList::new(seed);
            let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
            let mut done: Vec<String> = vec![format!("ZSkipList::new({seed})")];
            let place = |model: &[(f64, Vec<u8>)], score: f64, member: &[u8]| {
                model.iter().position(|(s, m)| *s == score && m == member)
            };
            for op in &ops {
                let did = done.join("; ");
                match op {
                    ListOp::Insert(score, member) => {
                        // A member is in the list once: a new score is a delete, then an insert.
                        if model.iter().any(|(_, m)| m == member) {
                            continue;
                        }
                        list.insert(*score, member);
                        zset_put(&mut model, *score, member);
                    }
                    ListOp::Delete(score, member) => {
                        let expected = place(&model, *score, member).is_some();
                        let got = list.delete(*score, member);
                        expect_eq(format!("{did}; {op:?}"), got, expected)?;
                        model.retain(|(s, m)| !(*s == *score && m == member));
                    }
                    ListOp::Rank(score, member) => {
                        let expected = place(&model, *score, member);
                        expect_eq(
                            format!("{did}; {op:?}"),
                            list.rank(*score, member),
                            expected,
                        )?;
                    }
                    ListOp::ByRank(rank) => {
                        let expected = model.get(*rank).map(|(s, m)| (m.clone(), *s));
                        expect_eq(format!("{did}; {op:?}"), list.by_rank(*rank), expected)?;
                    }
                }
                done.push(format!("{op:?}"));
            }
            // Then every place, and every member's rank.
            let did = done.join("; ");
            expect_eq(format!("{did}; len()"), list.len(), model.len())?;
            expect_eq(
                format!("{did}; is_empty()"),
                list.is_empty(),
                model.is_empty(),
            )?;
            for (i, (score, member)) in model.iter().enumerate() {
                expect_eq(
                    format!("{did}; rank({score:?}, {})", quoted(member)),
                    list.rank(*score, member),
                    Some(i),
                )?;
                expect_eq(
                    format!("{did}; by_rank({i})"),
                    list.by_rank(i),
                    Some((member.clone(), *score)),
                )?;
            }
            expect_eq(
                format!("{did}; by_rank({})", model.len()),
                list.by_rank(model.len()),
                None,
            )?;
            Ok(())
        },
    )
}

/// The steps one kind of operation took, counted by `visited()`.
#[derive(Default)]
struct Steps {
    total: usize,
    calls: usize,
}

impl Steps {
    /// Holds one call's count to the bound, and adds it up.
    fn count(&mut self, list: &ZSkipList, did: &str, bound: usize) -> CheckResult {
        let visited = list.visited();
        self.total += visited;
        self.calls += 1;
        expect(
            visited <= bound,
            format!(
                "{did}\nvisited() says it stepped onto {visited} nodes; a skip list with spans \
                 reaches any place in O(log n) steps: at most {bound} expected"
            ),
        )
    }

    /// Holds the calls to an average of 1.5 steps at least. A head has a few dozen links, so
    /// all but a few dozen of thousands of places are two steps away or more: a count that
    /// stays at 0 or 1, or is left over from another call, is not counting this one.
    fn counted(&self, what: &str) -> CheckResult {
        expect(
            2 * self.total >= 3 * self.calls,
            format!(
                "{what}: visited() said {} steps in all for {} calls, fewer than 1.5 a call; \
                 among thousands of members most are two steps from the head or more: each \
                 call must count the nodes it steps onto, and set visited() to that",
                self.total, self.calls
            ),
        )
    }
}

/// rank, by_rank, insert and delete step onto O(log n) nodes: counted on 4,096 members, the
/// levels drawn from a seed of the check, so the count is the same on every run.
fn rank_is_logarithmic(ctx: &mut Ctx) -> CheckResult {
    const N: usize = 4096;
    let seed = ctx.rng().next_u64();
    let mut list = ZSkipList::new(seed);
    // Scores in a scrambled order, many ties among them, so that inserts land everywhere.
    let mut members: Vec<(f64, Vec<u8>)> = (0..N)
        .map(|i| {
            (
                ((i * 7919) % 1024) as f64,
                format!("m{:05}", (i * 4099) % N).into_bytes(),
            )
        })
        .collect();
    let bound = 8 * (N as f64).log2() as usize + 8;
    // An insert searches for its place as rank does: O(log n) steps too, once the list is big.
    let mut inserts = Steps::default();
    for (i, (score, member)) in members.iter().enumerate() {
        list.insert(*score, member);
        if i >= N / 2 {
            let did = format!(
                "ZSkipList::new({seed}) and {i} inserts, then insert({score:?}, {})",
                quoted(member)
            );
            inserts.count(&list, &did, bound)?;
        }
    }
    inserts.counted(&format!(
        "ZSkipList::new({seed}) and the last {} of {N} inserts",
        N / 2
    ))?;
    members.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let made = format!("ZSkipList::new({seed}) and {N} inserts");
    let (ranks, by_ranks) = places(&list, &made, &members, bound, 37)?;
    ranks.counted(&format!("{made}; rank of every 37th member"))?;
    by_ranks.counted(&format!("{made}; by_rank of every 37th place"))?;
    // Deletes keep the spans right: ranks still add up after half the members go. A rank of
    // the first member comes before them, so that a delete that leaves visited() alone shows.
    let (score, member) = &members[0];
    expect_eq(
        format!("{made}; rank({score:?}, {})", quoted(member)),
        list.rank(*score, member),
        Some(0),
    )?;
    let mut deletes = Steps::default();
    for (score, member) in members.iter().step_by(2) {
        let did = format!("{made}; delete({score:?}, {})", quoted(member));
        expect(list.delete(*score, member), format!("{did} said false"))?;
        deletes.count(&list, &did, bound)?;
    }
    deletes.counted(&format!("{made}; every other member deleted"))?;
    let left: Vec<(f64, Vec<u8>)> = members.iter().skip(1).step_by(2).cloned().collect();
    let made = format!("{made}, then every other member deleted");
    let (ranks, by_ranks) = places(&list, &made, &left, bound, 29)?;
    ranks.counted(&format!("{made}; rank of every 29th member"))?;
    by_ranks.counted(&format!("{made}; by_rank of every 29th place"))
}

/// Asks rank and by_rank of every `step`th member and the last, checking answers and steps.
/// Before each, the other asks for the first member, so that a call that leaves visited() as
/// it was shows a count of about 1.
fn places(
    list: &ZSkipList,
    made: &str,
    members: &[(f64, Vec<u8>)],
    bound: usize,
    step: usize,
) -> Result<(Steps, Steps), Failure> {
    let (mut ranks, mut by_ranks, mut misses) =
        (Steps::default(), Steps::default(), Steps::default());
    let (first_score, first) = &members[0];
    let last = members.len() - 1;
    for i in (0..members.len()).step_by(step).chain([last]) {
        let (score, member) = &members[i];
        expect_eq(
            format!("{made}; by_rank(0)"),
            list.by_rank(0),
            Some((first.clone(), *first_score)),
        )?;
        let did = format!("{made}; rank({score:?}, {})", quoted(member));
        expect_eq(did.clone(), list.rank(*score, member), Some(i))?;
        ranks.count(list, &did, bound)?;
        expect_eq(
            format!("{made}; rank({first_score:?}, {})", quoted(first)),
            list.rank(*first_score, first),
            Some(0),
        )?;
        let did = format!("{made}; by_rank({i})");
        expect_eq(did.clone(), list.by_rank(i), Some((member.clone(), *score)))?;
        by_ranks.count(list, &did, bound)?;
        // A pair that is not there: the search to its place is as long, and counted too.
        let absent = [member.as_slice(), b"!"].concat();
        list.by_rank(0);
        let did = format!("{made}; by_rank(0); rank({score:?}, {})", quoted(&absent));
        expect_eq(did.clone(), list.rank(*score, &absent), None)?;
        misses.count(list, &did, bound)?;
    }
    misses.counted(&format!("{made}; rank of pairs that are not in the list"))?;
    Ok((ranks, by_ranks))
}
