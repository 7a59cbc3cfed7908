//! Hidden checks for redis/transactions.
//!
//! The scripted sessions were written down from a real Redis 7.0 server, two clients on one
//! connection each, byte for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use judge::prelude::*;
use redis_transactions::{ClientId, Frame, Reply, Server};

use crate::support::{
    NOT_AN_INTEGER, SYNTAX_ERROR, WRONGTYPE, arity_error, command_line, told,
    unknown_command_error, words,
};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "MULTI answers +OK and each command after it +QUEUED; EXEC runs them and answers \
             an array of their replies in order; an empty transaction answers an empty array; \
             names in any case",
            queue_and_exec,
        )
        .check(
            "a runtime error (WRONGTYPE, a syntax error, an integer error) is one element of \
             EXEC's array and the commands after it still run",
            runtime_errors,
        )
        .check(
            "DISCARD drops the queue; nested MULTI, EXEC or DISCARD without MULTI and WATCH \
             inside MULTI are errors that leave the transaction as it was",
            discard_and_misuse,
        )
        .check(
            "a command refused while queueing (unknown, wrong arity, MULTI, DISCARD, WATCH or \
             UNWATCH with the wrong arguments) makes EXEC answer EXECABORT and run nothing; \
             EXEC with arguments aborts at once; EXECABORT wins over a stale watch",
            execabort,
        )
        .check(
            "after WATCH, EXEC answers a null array if the key was written by anyone (this \
             client too, the same value too), and runs if it was only read, or a write \
             changed nothing, or another key was written: each write command of the table",
            watch_by_write,
        )
        .check(
            "UNWATCH, EXEC (run, refused or aborted) and DISCARD end the watches; a write run \
             inside EXEC marks other clients' watches; a disconnected client's watches and \
             transaction are gone",
            watch_lifetime,
        )
        .check(
            "a watched key whose TTL runs out before EXEC counts as written (at its last \
             millisecond it is alive), removed or not; a key already expired when watched \
             does not, until a write",
            watch_and_expiry,
        )
        .check(
            "active_expire_cycle answers how many keys the keyspace's cycle removed: every \
             key whose time is up when all are, none when none are",
            expire_cycle_count,
        )
        .check(
            "watched_keys() counts each watched key once, however many clients watch it, and \
             falls to 0 as UNWATCH, EXEC, DISCARD and disconnect free them",
            watch_bookkeeping,
        )
        .check(
            "the commands of a transaction run at EXEC, together: what other clients send \
             between MULTI and EXEC runs first, and nothing runs between them",
            isolation,
        )
        .check(
            "empty and malformed requests inside MULTI are answered as outside, never queued, \
             and spoil nothing",
            malformed_in_multi,
        )
        .check(
            "execute and disconnect panic for a client that is not connected; ids are never \
             used twice",
            clients,
        )
        .check(
            "the optimistic-locking loop (WATCH, GET, MULTI, SET, EXEC, retried on a null \
             array) from several interleaved clients counts every increment exactly once",
            optimistic_locking,
        )
        .check(
            "random interleavings of several clients' MULTI, EXEC, DISCARD, WATCH, UNWATCH, \
             writes, reads, waits and disconnects answer as a model of Redis does, and \
             watched_keys() agrees after every step",
            matches_model,
        )
}

// ---- requests and replies, as redis-cli shows them ----

crate::support::keyspace_replies!();

/// Where the clock starts: a real time, 2024-01-01.
const START: i64 = 1_704_067_200_000;

const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

fn queued() -> Reply {
    simple("QUEUED")
}

fn st(text: &str) -> Frame {
    Frame::Simple(text.into())
}

fn i(n: i64) -> Frame {
    Frame::Integer(n)
}

fn b(text: &str) -> Frame {
    Frame::Bulk(text.as_bytes().to_vec())
}

fn e(text: &str) -> Frame {
    Frame::Error(text.into())
}

/// What EXEC answers when it ran these.
fn ran(frames: Vec<Frame>) -> Reply {
    Reply::Send(Frame::Array(frames))
}

/// What EXEC answers when a watched key was written.
fn refused() -> Reply {
    Reply::Send(Frame::NullArray)
}

/// Clients on one server, named A, B, C...; what each sent is kept for the messages.
struct Session {
    server: Server,
    clients: Vec<ClientId>,
    now: i64,
    sent: Vec<String>,
}

fn name(c: usize) -> char {
    (b'A' + c as u8) as char
}

impl Session {
    fn new(clients: usize) -> Session {
        let mut server = Server::new();
        let clients = (0..clients).map(|_| server.connect()).collect();
        Session {
            server,
            clients,
            now: START,
            sent: Vec::new(),
        }
    }

    fn note(&mut self, what: String) {
        self.sent.push(what);
        if self.sent.len() > 16 {
            self.sent.remove(0);
            self.sent[0] = "...".into();
        }
    }

    fn wait(&mut self, ms: i64) {
        self.now += ms;
        self.note(format!("(wait {ms} ms)"));
    }

    fn did(&self, line: &str) -> String {
        told(&self.sent, line)
    }

    fn send<A: AsRef<[u8]>>(&mut self, c: usize, args: &[A]) -> (String, Reply) {
        let line = format!("{}> {}", name(c), command_line(args));
        let did = self.did(&line);
        let got = self
            .server
            .execute(self.clients[c], request(args), self.now);
        self.note(line);
        (did, got)
    }

    /// Client `c` sends the line (words split at spaces) and must get `expected`.
    fn say(&mut self, c: usize, line: &str, expected: Reply) -> CheckResult {
        self.expect(c, &words(line), expected)
    }

    fn expect<A: AsRef<[u8]>>(&mut self, c: usize, args: &[A], expected: Reply) -> CheckResult {
        let (did, got) = self.send(c, args);
        expect_reply(&did, &got, &expected)
    }

    /// Client `c` sends the line; any reply will do (a setup step).
    fn run(&mut self, c: usize, line: &str) {
        self.send(c, &words(line));
    }

    fn watched(&mut self, expected: usize) -> CheckResult {
        let got = self.server.watched_keys();
        expect_eq(self.did("watched_keys()"), got, expected)
    }

    fn disconnect(&mut self, c: usize) {
        self.server.disconnect(self.clients[c]);
        self.note(format!("{} disconnects", name(c)));
        self.clients[c] = self.server.connect();
        self.note(format!("(a new client is {})", name(c)));
    }
}

// ---- scripted sessions ----

fn queue_and_exec(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new(1);
    s.say(0, "MULTI", ok())?;
    s.say(0, "SET k 1", queued())?;
    s.say(0, "INCR k", queued())?;
    s.say(0, "GET k", queued())?;
    s.say(0, "RPUSH l a b", queued())?;
    s.say(0, "LRANGE l 0 -1", queued())?;
    s.say(0, "PING", queued())?;
    s.say(
        0,
        "EXEC",
        ran(vec![
            s_ok(),
            i(2),
            b("2"),
            i(2),
            Frame::Array(vec![b("a"), b("b")]),
            st("PONG"),
        ]),
    )?;
    // Out of the transaction again: commands run at once.
    s.say(0, "GET k", bulk(b"2"))?;
    // A key may be named as a command is: DEL deletes what it names, not itself.
    s.say(0, "SET DEL x", ok())?;
    s.say(0, "DEL nothing", int(0))?;
    s.say(0, "GET DEL", bulk(b"x"))?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "EXEC", ran(vec![]))?;
    s.say(0, "multi", ok())?;
    s.say(0, "set k 3", queued())?;
    s.say(0, "uNwAtCh", queued())?;
    s.say(0, "eXeC", ran(vec![s_ok(), s_ok()]))?;
    s.say(0, "GET k", bulk(b"3"))?;
    // PING's own arity check runs at EXEC: its table arity (-1) lets it be queued.
    s.say(0, "MULTI", ok())?;
    s.say(0, "PING a b", queued())?;
    s.say(0, "EXEC", ran(vec![e(&arity_error("ping"))]))?;
    // A value over 64 KiB goes through the queue whole.
    let big = vec![b'v'; 70_000];
    s.say(0, "MULTI", ok())?;
    s.expect(0, &[b"SET".as_slice(), b"big", &big], queued())?;
    s.say(0, "GET big", queued())?;
    s.say(0, "EXEC", ran(vec![s_ok(), Frame::Bulk(big)]))
}

fn s_ok() -> Frame {
    st("OK")
}

fn runtime_errors(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new(1);
    s.say(0, "SET k a", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "INCR k", queued())?;
    s.say(0, "SET j 2", queued())?;
    s.say(0, "LPUSH k x", queued())?;
    s.say(0, "SET k 1 XX NX", queued())?;
    s.say(0, "GET j", queued())?;
    s.say(
        0,
        "EXEC",
        ran(vec![
            e(NOT_AN_INTEGER),
            s_ok(),
            e(WRONGTYPE),
            e(SYNTAX_ERROR),
            b("2"),
        ]),
    )?;
    s.say(0, "GET j", bulk(b"2"))?;
    // The first and the last command failing: the middle one still runs.
    s.say(0, "MULTI", ok())?;
    s.say(0, "LPUSH k x", queued())?;
    s.say(0, "INCR j", queued())?;
    s.say(0, "HSET k f v", queued())?;
    s.say(0, "EXEC", ran(vec![e(WRONGTYPE), i(3), e(WRONGTYPE)]))?;
    s.say(0, "GET j", bulk(b"3"))
}

fn discard_and_misuse(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new(1);
    s.say(0, "EXEC", err("ERR EXEC without MULTI"))?;
    s.say(0, "DISCARD", err("ERR DISCARD without MULTI"))?;
    s.say(0, "UNWATCH", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "SET k 1", queued())?;
    s.say(0, "DISCARD", ok())?;
    s.say(0, "GET k", nil())?;
    s.say(0, "EXEC", err("ERR EXEC without MULTI"))?;
    s.say(0, "DISCARD", err("ERR DISCARD without MULTI"))?;
    // Nested MULTI: an error, and the transaction goes on with what it had.
    s.say(0, "MULTI", ok())?;
    s.say(0, "SET k 1", queued())?;
    s.say(0, "MULTI", err("ERR MULTI calls can not be nested"))?;
    s.say(0, "SET k 2", queued())?;
    s.say(0, "EXEC", ran(vec![s_ok(), s_ok()]))?;
    s.say(0, "GET k", bulk(b"2"))?;
    // WATCH inside MULTI: an error, and the transaction still runs.
    s.say(0, "MULTI", ok())?;
    s.say(0, "WATCH k", err("ERR WATCH inside MULTI is not allowed"))?;
    s.say(0, "SET k 3", queued())?;
    s.say(0, "EXEC", ran(vec![s_ok()]))?;
    s.say(0, "GET k", bulk(b"3"))?;
    // Arity errors outside a transaction are plain errors.
    s.say(0, "MULTI x", err(&arity_error("multi")))?;
    s.say(0, "EXEC", err("ERR EXEC without MULTI"))?;
    s.say(0, "DISCARD x", err(&arity_error("discard")))?;
    s.say(0, "UNWATCH x", err(&arity_error("unwatch")))?;
    s.say(0, "WATCH", err(&arity_error("watch")))?;
    s.say(0, "GET k", bulk(b"3"))
}

fn execabort(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new(2);
    let refusals: Vec<(Vec<Vec<u8>>, Reply)> = vec![
        (
            words("FOO bar"),
            err(&unknown_command_error(&words("FOO bar"))),
        ),
        (words("GET"), err(&arity_error("get"))),
        (words("SET k"), err(&arity_error("set"))),
        (words("MULTI x"), err(&arity_error("multi"))),
        (words("DISCARD x"), err(&arity_error("discard"))),
        (words("WATCH"), err(&arity_error("watch"))),
        (words("UNWATCH x"), err(&arity_error("unwatch"))),
    ];
    for (refused_request, error) in &refusals {
        s.say(0, "MULTI", ok())?;
        s.say(0, "SET k 1", queued())?;
        s.expect(0, refused_request, error.clone())?;
        s.say(0, "SET k 2", queued())?;
        s.say(0, "EXEC", err(EXECABORT))?;
        s.say(0, "GET k", nil())?;
        // The transaction is over.
        s.say(0, "EXEC", err("ERR EXEC without MULTI"))?;
    }
    // EXEC with arguments: Redis's own words, and the transaction is gone at once.
    let exec_arity =
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command";
    s.say(0, "MULTI", ok())?;
    s.say(0, "SET k 1", queued())?;
    s.say(0, "EXEC x", err(exec_arity))?;
    s.say(0, "SET k 5", ok())?;
    s.say(0, "EXEC", err("ERR EXEC without MULTI"))?;
    s.say(0, "exec x y", err(exec_arity))?;
    // ... and the watches with it, even outside MULTI.
    s.say(0, "WATCH k", ok())?;
    s.say(0, "EXEC x", err(exec_arity))?;
    s.say(1, "SET k 6", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "PING", queued())?;
    s.say(0, "EXEC", ran(vec![st("PONG")]))?;
    // EXECABORT is answered even when a watched key was written too, and ends the watches.
    s.say(0, "WATCH k", ok())?;
    s.say(1, "SET k 1", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "FOO", err(&unknown_command_error(&words("FOO"))))?;
    s.say(0, "EXEC", err(EXECABORT))?;
    s.say(1, "SET k 2", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "PING", queued())?;
    s.say(0, "EXEC", ran(vec![st("PONG")]))?;
    // A refused request outside MULTI spoils nothing later.
    s.say(0, "FOO", err(&unknown_command_error(&words("FOO"))))?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "PING", queued())?;
    s.say(0, "EXEC", ran(vec![st("PONG")]))
}

/// One case of the write table: what is set up, what client B sends, and whether it counts
/// as a write of `k` for a client watching it.
struct Case {
    setup: &'static [&'static str],
    write: &'static str,
    writes: bool,
}

const fn case(setup: &'static [&'static str], write: &'static str, writes: bool) -> Case {
    Case {
        setup,
        write,
        writes,
    }
}

const CASES: &[Case] = &[
    case(&[], "SET k v", true),
    case(&["SET k v"], "SET k v", true),
    case(&["SET k v"], "SET k w NX", false),
    case(&[], "SET k w XX", false),
    case(&[], "SET k w NX", true),
    case(&["SET k v"], "SET k w XX PX 100", true),
    case(&["SET k v"], "SET k w EX 0", false),
    case(&[], "DEL k", false),
    case(&["SET k v"], "DEL k", true),
    case(&["SET j v"], "DEL j k", false),
    case(&["SET k v"], "DEL j k", true),
    case(&["SET k v"], "DEL k k", true),
    case(&[], "INCR k", true),
    case(&["SET k -1"], "INCR k", true),
    case(&["SET k x"], "INCR k", false),
    case(&["SET k 1"], "DECR k", true),
    case(&["SET k 1"], "INCRBY k 0", true),
    case(&["SET k 1"], "DECRBY k x", false),
    case(&["SET k 9223372036854775807"], "INCR k", false),
    case(&[], "RPUSH k a", true),
    case(&["RPUSH k a"], "LPUSH k b", true),
    case(&["SET k v"], "LPUSH k b", false),
    case(&[], "LPOP k", false),
    case(&["RPUSH k a"], "LPOP k", true),
    case(&["RPUSH k a b"], "RPOP k", true),
    case(&["RPUSH k a"], "LPOP k 0", false),
    case(&["RPUSH k a"], "RPOP k 5", true),
    case(&["RPUSH k a"], "LSET k 0 a", true),
    case(&["RPUSH k a"], "LSET k 5 a", false),
    case(&["RPUSH k a"], "LREM k 0 z", false),
    case(&["RPUSH k a"], "LREM k 0 a", true),
    case(&[], "LTRIM k 0 1", false),
    case(&["RPUSH k a"], "LTRIM k 0 5", true),
    case(&["RPUSH k a"], "LTRIM k 1 0", true),
    case(&["SET k v"], "LTRIM k 0 1", false),
    case(&["HSET k f v"], "HSET k f v", true),
    case(&[], "HSET k f v", true),
    case(&["HSET k f v"], "HDEL k g", false),
    case(&["HSET k f v"], "HDEL k g f", true),
    case(&["HSET k f 1"], "HINCRBY k f 0", true),
    case(&["HSET k f x"], "HINCRBY k f 1", false),
    case(&["SET k v"], "EXPIRE k 100", true),
    case(&["SET k v"], "EXPIRE k 100 XX", false),
    case(&["SET k v"], "EXPIRE k -1", true),
    case(&["SET k v"], "PEXPIRE k 0", true),
    case(&[], "PEXPIRE k 100", false),
    case(&["SET k v PX 100"], "PERSIST k", true),
    case(&["SET k v"], "PERSIST k", false),
    case(&["SET j v"], "SET j w", false),
    // Reads write nothing, whatever they answer.
    case(&["SET k v"], "GET k", false),
    case(&["RPUSH k a b"], "LRANGE k 0 -1", false),
    case(&["RPUSH k a b"], "LINDEX k 0", false),
    case(&["RPUSH k a b"], "LLEN k", false),
    case(&["SET k v"], "EXISTS k", false),
    case(&["SET k v"], "TYPE k", false),
    case(&["SET k v PX 100"], "TTL k", false),
    case(&["SET k v PX 100"], "PTTL k", false),
    case(&["HSET k f v"], "HGET k f", false),
    case(&["HSET k f v"], "HMGET k f g", false),
    case(&["HSET k f v"], "HGETALL k", false),
    case(&["HSET k f v"], "HKEYS k", false),
    case(&["HSET k f v"], "HVALS k", false),
    case(&["HSET k f v"], "HLEN k", false),
    case(&["HSET k f v"], "HEXISTS k f", false),
    case(&["SET k v"], "ECHO k", false),
    case(&["SET k v"], "DBSIZE", false),
    case(&["SET k v"], "FOO k", false),
    case(&["SET k v"], "SET k", false),
];

fn watch_by_write(_: &mut Ctx) -> CheckResult {
    for case in CASES {
        // Written by another client, then by the watching client itself.
        for writer in [1, 0] {
            let mut s = Session::new(2);
            for line in case.setup {
                s.run(0, line);
            }
            s.say(0, "WATCH k", ok())?;
            s.run(writer, case.write);
            s.say(0, "MULTI", ok())?;
            s.say(0, "SET done 1", queued())?;
            let expected = if case.writes {
                refused()
            } else {
                ran(vec![s_ok()])
            };
            s.say(0, "EXEC", expected)?;
        }
    }
    // Watching several keys: a write of any one of them refuses EXEC.
    for written in ["a", "b", "c"] {
        let mut s = Session::new(2);
        s.say(0, "WATCH a b", ok())?;
        s.say(0, "WATCH c", ok())?;
        s.run(1, &format!("SET {written} 1"));
        s.say(0, "MULTI", ok())?;
        s.say(0, "GET a", queued())?;
        s.say(0, "EXEC", refused())?;
        s.say(0, "GET a", if written == "a" { bulk(b"1") } else { nil() })?;
    }
    // A write between WATCH and MULTI by the same client, then a read-only transaction.
    let mut s = Session::new(1);
    s.say(0, "WATCH k", ok())?;
    s.say(0, "SET k v", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "GET k", queued())?;
    s.say(0, "EXEC", refused())?;
    // Watching a key twice is watching it once; another WATCH adds to the keys.
    s.say(0, "WATCH k k j", ok())?;
    s.say(0, "WATCH k", ok())?;
    s.say(0, "SET j 1", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "EXEC", refused())
}

fn watch_lifetime(_: &mut Ctx) -> CheckResult {
    // EXEC that runs ends the watches.
    let mut s = Session::new(3);
    s.say(0, "WATCH k", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "PING", queued())?;
    s.say(0, "EXEC", ran(vec![st("PONG")]))?;
    s.say(1, "SET k 1", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "PING", queued())?;
    s.say(0, "EXEC", ran(vec![st("PONG")]))?;
    // EXEC refused ends them too.
    s.say(0, "WATCH k", ok())?;
    s.say(1, "SET k 2", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "PING", queued())?;
    s.say(0, "EXEC", refused())?;
    s.say(1, "SET k 3", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "PING", queued())?;
    s.say(0, "EXEC", ran(vec![st("PONG")]))?;
    // DISCARD ends them.
    s.say(0, "WATCH k", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "DISCARD", ok())?;
    s.say(1, "SET k 4", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "PING", queued())?;
    s.say(0, "EXEC", ran(vec![st("PONG")]))?;
    // UNWATCH ends them.
    s.say(0, "WATCH k", ok())?;
    s.say(0, "UNWATCH", ok())?;
    s.say(1, "SET k 5", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "PING", queued())?;
    s.say(0, "EXEC", ran(vec![st("PONG")]))?;
    // ... and a watch already dirty is forgotten with them.
    s.say(0, "WATCH k", ok())?;
    s.say(1, "SET k 5", ok())?;
    s.say(0, "UNWATCH", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "PING", queued())?;
    s.say(0, "EXEC", ran(vec![st("PONG")]))?;
    s.say(0, "WATCH k", ok())?;
    s.say(1, "SET k 5", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "DISCARD", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "PING", queued())?;
    s.say(0, "EXEC", ran(vec![st("PONG")]))?;
    // UNWATCH queued inside MULTI runs at EXEC: the watches were checked before it.
    s.say(0, "WATCH k", ok())?;
    s.say(1, "SET k 6", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "UNWATCH", queued())?;
    s.say(0, "EXEC", refused())?;
    // A watch made dirty stays dirty when more keys are watched.
    s.say(0, "WATCH k", ok())?;
    s.say(1, "SET k 7", ok())?;
    s.say(0, "WATCH j", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "EXEC", refused())?;
    // A write run inside another client's EXEC is a write like any other.
    s.say(1, "WATCH k", ok())?;
    s.say(2, "WATCH j", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "SET k 8", queued())?;
    s.say(0, "GET j", queued())?;
    s.say(0, "EXEC", ran(vec![s_ok(), nil_frame()]))?;
    s.say(1, "MULTI", ok())?;
    s.say(1, "GET k", queued())?;
    s.say(1, "EXEC", refused())?;
    s.say(2, "MULTI", ok())?;
    s.say(2, "GET k", queued())?;
    s.say(2, "EXEC", ran(vec![b("8")]))?;
    // A client that disconnects takes its transaction and watches with it; its id's
    // successor starts clean.
    s.say(0, "WATCH k", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "SET k 9", queued())?;
    s.disconnect(0);
    s.say(1, "GET k", bulk(b"8"))?;
    s.watched(0)?;
    s.say(0, "EXEC", err("ERR EXEC without MULTI"))?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "EXEC", ran(vec![]))
}

fn nil_frame() -> Frame {
    Frame::NullBulk
}

fn watch_and_expiry(_: &mut Ctx) -> CheckResult {
    // Alive when watched, its TTL runs out before EXEC: refused, whether or not anything
    // looked at the key since.
    for touch in ["nothing", "GET", "cycle"] {
        for ttl in [1, 100, 3_600_000] {
            let mut s = Session::new(2);
            s.say(0, &format!("SET k v PX {ttl}"), ok())?;
            s.say(0, "WATCH k", ok())?;
            // At the last millisecond the key is alive.
            s.wait(ttl);
            s.say(0, "MULTI", ok())?;
            s.say(0, "PING", queued())?;
            s.say(0, "EXEC", ran(vec![st("PONG")]))?;
            s.say(0, "WATCH k", ok())?;
            s.wait(1);
            match touch {
                "GET" => s.say(1, "GET k", nil())?,
                "cycle" => {
                    s.server.active_expire_cycle(s.now, 7);
                    s.note("(an active expire cycle)".into());
                }
                _ => {}
            }
            s.say(0, "MULTI", ok())?;
            s.say(0, "PING", queued())?;
            s.say(0, "EXEC", refused())?;
        }
    }
    // Already expired when watched: its removal changes nothing, a write still counts.
    let writes = [
        ("nothing", true),
        ("GET k", true),
        ("cycle", true),
        ("DEL k", true),
        ("SET k w XX", true),
        ("PERSIST k", true),
        ("SET k w", false),
        ("RPUSH k x", false),
        ("SET k w PX 5", false),
    ];
    for (then, runs) in writes {
        let mut s = Session::new(2);
        s.say(0, "SET k v PX 50", ok())?;
        s.wait(51);
        s.say(0, "WATCH k", ok())?;
        match then {
            "nothing" => {}
            "cycle" => {
                s.server.active_expire_cycle(s.now, 3);
                s.note("(an active expire cycle)".into());
            }
            line => s.run(1, line),
        }
        s.wait(10);
        s.say(0, "MULTI", ok())?;
        s.say(0, "PING", queued())?;
        s.say(
            0,
            "EXEC",
            if runs {
                ran(vec![st("PONG")])
            } else {
                refused()
            },
        )?;
    }
    // A key set with a TTL after WATCH named it missing: the SET is the write.
    let mut s = Session::new(2);
    s.say(0, "WATCH k", ok())?;
    s.say(1, "SET k v PX 50", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "EXEC", refused())?;
    // A TTL the key had when watched, still running at EXEC: it runs.
    s.say(0, "WATCH k", ok())?;
    s.wait(50);
    s.say(0, "MULTI", ok())?;
    s.say(0, "GET k", queued())?;
    s.say(0, "EXEC", ran(vec![b("v")]))?;
    // Watched again after the TTL ran out: the first WATCH is the one that counts.
    s.say(0, "SET k v PX 10", ok())?;
    s.say(0, "WATCH k", ok())?;
    s.wait(11);
    s.say(0, "WATCH k", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "EXEC", refused())
}

fn watch_bookkeeping(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new(3);
    s.watched(0)?;
    s.say(0, "WATCH a b", ok())?;
    s.watched(2)?;
    s.say(0, "WATCH a a b", ok())?;
    s.watched(2)?;
    s.say(1, "WATCH b c", ok())?;
    s.watched(3)?;
    s.say(2, "WATCH c", ok())?;
    s.watched(3)?;
    // A refused WATCH watches nothing.
    s.say(2, "MULTI", ok())?;
    s.say(2, "WATCH d", err("ERR WATCH inside MULTI is not allowed"))?;
    s.watched(3)?;
    s.say(2, "DISCARD", ok())?;
    s.watched(3)?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "SET a 1", queued())?;
    s.say(0, "EXEC", ran(vec![s_ok()]))?;
    s.watched(2)?;
    s.say(1, "SET c 1", ok())?;
    s.watched(2)?;
    s.say(1, "MULTI", ok())?;
    s.say(1, "EXEC", refused())?;
    // C's DISCARD ended its watch of c: nobody watches anything now.
    s.watched(0)?;
    s.say(2, "WATCH c", ok())?;
    s.watched(1)?;
    s.say(2, "UNWATCH", ok())?;
    s.watched(0)?;
    s.say(0, "WATCH x", ok())?;
    s.say(1, "WATCH x y", ok())?;
    s.watched(2)?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "FOO", err(&unknown_command_error(&words("FOO"))))?;
    s.say(0, "EXEC", err(EXECABORT))?;
    s.watched(2)?;
    s.disconnect(1);
    s.watched(0)?;
    // Many keys, then all freed at once.
    let many: Vec<String> = (0..500).map(|n| format!("key:{n}")).collect();
    let mut watch = vec!["WATCH".to_string()];
    watch.extend(many.iter().cloned());
    s.expect(0, &watch, ok())?;
    s.expect(1, &watch[..251], ok())?;
    s.watched(500)?;
    s.say(0, "UNWATCH", ok())?;
    s.watched(250)?;
    s.say(1, "MULTI", ok())?;
    s.say(1, "EXEC", ran(vec![]))?;
    s.watched(0)?;
    // A key of every byte, the empty key included.
    s.expect(0, &[b"WATCH".as_slice(), b"", b"\0\xff\r\n"], ok())?;
    s.watched(2)?;
    s.expect(1, &[b"SET".as_slice(), b"", b"x"], ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "EXEC", refused())?;
    s.watched(0)
}

fn isolation(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::new(2);
    s.say(0, "SET x 1", ok())?;
    s.say(0, "MULTI", ok())?;
    s.say(0, "INCR x", queued())?;
    // Queued, not run: B sees x as it was.
    s.say(1, "GET x", bulk(b"1"))?;
    s.say(1, "SET x 10", ok())?;
    s.say(0, "INCR x", queued())?;
    s.say(1, "INCR x", int(11))?;
    s.say(0, "GET x", queued())?;
    s.say(0, "DEL x", queued())?;
    s.say(1, "GET x", bulk(b"11"))?;
    s.say(0, "EXEC", ran(vec![i(12), i(13), b("13"), i(1)]))?;
    s.say(1, "GET x", nil())?;

    // Random interleavings: each transaction pushes its id three times, so that the list
    // shows whether anything came between them.
    let mut rng = ctx.rng();
    for round in 0..20 {
        let mut s = Session::new(4);
        let mut expected: Vec<Vec<u8>> = Vec::new();
        let mut queued_by: Vec<usize> = vec![0; 4];
        let mut open = [false; 4];
        for _ in 0..60 {
            let c = (rng.next_u32() % 4) as usize;
            let tag = format!("{}{round}", name(c));
            if !open[c] {
                s.say(c, "MULTI", ok())?;
                open[c] = true;
                queued_by[c] = 0;
            } else if queued_by[c] < 3 {
                s.say(c, &format!("RPUSH l {tag}"), queued())?;
                queued_by[c] += 1;
            } else {
                let (did, got) = s.send(c, &words("EXEC"));
                let len = expected.len() as i64;
                let want = ran(vec![i(len + 1), i(len + 2), i(len + 3)]);
                expect_reply(&did, &got, &want)?;
                expected.extend(std::iter::repeat_n(tag.into_bytes(), 3));
                open[c] = false;
            }
        }
        let list: Vec<Frame> = expected.into_iter().map(Frame::Bulk).collect();
        s.say(
            0,
            "DISCARD",
            if open[0] {
                ok()
            } else {
                err("ERR DISCARD without MULTI")
            },
        )?;
        s.expect(0, &words("LRANGE l 0 -1"), Reply::Send(Frame::Array(list)))?;
    }
    Ok(())
}

fn malformed_in_multi(_: &mut Ctx) -> CheckResult {
    let mut s = Session::new(1);
    let bad = Frame::Array(vec![Frame::Bulk(b"SET".to_vec()), Frame::Integer(5)]);
    s.say(0, "MULTI", ok())?;
    s.say(0, "SET k 1", queued())?;
    for (what, frame, expected) in [
        (
            "*0 (an empty request)",
            Frame::Array(vec![]),
            Reply::Nothing,
        ),
        ("*-1 (a null array)", Frame::NullArray, Reply::Nothing),
        (
            "*2 $3 SET :5 (an integer in a request)",
            bad.clone(),
            Reply::Close(Frame::Error(
                "ERR Protocol error: expected '$', got ':'".into(),
            )),
        ),
        (
            ":5 (not an array)",
            Frame::Integer(5),
            Reply::Close(Frame::Error(
                "ERR Protocol error: expected '*', got ':'".into(),
            )),
        ),
    ] {
        let did = s.did(&format!("A> {what}"));
        let got = s.server.execute(s.clients[0], frame, s.now);
        expect_reply(&did, &got, &expected)?;
        s.note(format!("A> {what}"));
    }
    s.say(0, "GET k", queued())?;
    s.say(0, "EXEC", ran(vec![s_ok(), b("1")]))
}

fn clients(_: &mut Ctx) -> CheckResult {
    let mut server = Server::new();
    let a = server.connect();
    let b = server.connect();
    expect(a != b, format!("connect() twice gave the same id: {a:?}"))?;
    server.disconnect(a);
    let c = server.connect();
    expect(
        c != a && c != b,
        format!("connect() after disconnecting {a:?} gave {c:?}, an id already used"),
    )?;
    // The newest gone, then everyone gone: still no id given twice.
    let mut given = vec![a, b, c];
    server.disconnect(c);
    let d = server.connect();
    expect(
        !given.contains(&d),
        format!(
            "connect() after disconnecting the newest client, {c:?}, gave {d:?}, an id already used"
        ),
    )?;
    given.push(d);
    server.disconnect(b);
    server.disconnect(d);
    let e = server.connect();
    expect(
        !given.contains(&e),
        format!(
            "connect() after every client disconnected gave {e:?}, an id already used ({given:?})"
        ),
    )?;
    server.disconnect(e);
    let panics = |what: &str, f: &mut dyn FnMut()| -> CheckResult {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        expect(
            caught.is_err(),
            format!("{what} returned; expected a panic: the client is not connected"),
        )
    };
    panics(
        &format!("execute({a:?}, PING) after disconnect({a:?})"),
        &mut || {
            server.execute(a, request(&["PING"]), START);
        },
    )?;
    panics(&format!("disconnect({a:?}) twice"), &mut || {
        server.disconnect(a)
    })?;
    let never = ClientId(1_000_000);
    panics(
        &format!("execute({never:?}, PING), never connected"),
        &mut || {
            server.execute(never, request(&["PING"]), START);
        },
    )?;
    // Whatever the request: the client is looked up first.
    for (shown, frame) in [
        ("an empty request", Frame::Array(Vec::new())),
        ("a null array", Frame::NullArray),
        ("+PING, not an array", Frame::Simple("PING".into())),
    ] {
        panics(
            &format!("execute({a:?}, {shown}) after disconnect({a:?})"),
            &mut || {
                server.execute(a, frame.clone(), START);
            },
        )?;
    }
    let mut server = Server::new();
    let b = server.connect();
    let got = server.execute(b, request(&["PING"]), START);
    expect_reply(
        "execute(a new client, PING) on a new server",
        &got,
        &simple("PONG"),
    )
}

fn optimistic_locking(ctx: &mut Ctx) -> CheckResult {
    let mut rng = ctx.rng();
    for clients in [1usize, 2, 3, 5] {
        let increments = 6;
        let mut s = Session::new(clients);
        // Each client's place in its loop, and what it read.
        let mut step = vec![0u8; clients];
        let mut read = vec![0i64; clients];
        let mut done = vec![0; clients];
        let mut refusals = 0;
        // The first round in lockstep (every client WATCHes and reads before any writes), so
        // that all but one must retry; then in a random order.
        let mut turn = 0;
        while done.iter().any(|&d| d < increments) {
            let c = if turn < clients * 5 {
                turn % clients
            } else {
                (rng.next_u32() as usize) % clients
            };
            turn += 1;
            if done[c] == increments {
                continue;
            }
            match step[c] {
                0 => s.say(c, "WATCH counter", ok())?,
                1 => {
                    let (did, got) = s.send(c, &words("GET counter"));
                    let number = match &got {
                        Reply::Send(Frame::NullBulk) => Some(0),
                        Reply::Send(Frame::Bulk(v)) => String::from_utf8_lossy(v).parse().ok(),
                        _ => None,
                    };
                    let Some(number) = number else {
                        return fail(format!(
                            "{did}\nexpected: a number or (nil)\ngot:      {}",
                            shown(&got)
                        ));
                    };
                    read[c] = number;
                }
                2 => s.say(c, "MULTI", ok())?,
                3 => s.say(c, &format!("SET counter {}", read[c] + 1), queued())?,
                _ => {
                    let (did, got) = s.send(c, &words("EXEC"));
                    match got {
                        Reply::Send(Frame::NullArray) => refusals += 1,
                        Reply::Send(Frame::Array(ref replies)) if *replies == vec![s_ok()] => {
                            done[c] += 1
                        }
                        other => {
                            return fail(format!(
                                "{did}\nexpected: 1) OK, or (nil array) if counter changed\ngot:      {}",
                                shown(&other)
                            ));
                        }
                    }
                }
            }
            step[c] = (step[c] + 1) % 5;
        }
        let total = (clients * increments) as i64;
        s.say(0, "GET counter", bulk(total.to_string().as_bytes()))?;
        // In the lockstep round, every EXEC after the first found counter written.
        expect(
            refusals >= clients - 1,
            format!(
                "{clients} clients ran WATCH counter, GET counter, MULTI, SET counter <read + 1>, \
                 EXEC in lockstep: expected at least {} EXECs answered (nil array), got \
                 {refusals}",
                clients - 1
            ),
        )?;
    }
    Ok(())
}

// ---- the model ----

#[derive(Debug, Clone, PartialEq)]
enum Value {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
}

/// A client as Redis keeps it.
#[derive(Debug, Clone, Default)]
struct ModelClient {
    queue: Option<Vec<Vec<Vec<u8>>>>,
    refused: bool,
    /// Each watched key, and when its TTL ran out, if it was alive with one when watched.
    watching: Vec<(Vec<u8>, Option<i64>)>,
    dirty: bool,
}

/// Redis 7.0's keyspace, for the commands the random steps send, and its transactions.
#[derive(Debug, Clone, Default)]
struct Model {
    keys: BTreeMap<Vec<u8>, (Value, Option<i64>)>,
    clients: Vec<ModelClient>,
}

fn f_err(text: &str) -> Frame {
    Frame::Error(text.into())
}

impl Model {
    fn new(clients: usize) -> Model {
        Model {
            keys: BTreeMap::new(),
            clients: vec![ModelClient::default(); clients],
        }
    }

    /// The key's entry, once an expired key is removed.
    fn touch(&mut self, key: &[u8], now: i64) -> Option<&mut (Value, Option<i64>)> {
        if let Some((_, Some(at))) = self.keys.get(key)
            && now > *at
        {
            self.keys.remove(key);
        }
        self.keys.get_mut(key)
    }

    fn watched_keys(&self) -> usize {
        let keys: BTreeSet<&Vec<u8>> = self
            .clients
            .iter()
            .flat_map(|c| c.watching.iter().map(|(k, _)| k))
            .collect();
        keys.len()
    }

    /// A write of `key`: every client watching it is dirty.
    fn wrote(&mut self, key: &[u8]) {
        for client in &mut self.clients {
            if client.watching.iter().any(|(k, _)| k == key) {
                client.dirty = true;
            }
        }
    }

    fn end(&mut self, c: usize) {
        self.clients[c] = ModelClient::default();
    }

    fn disconnect(&mut self, c: usize) {
        self.end(c);
    }

    fn execute(&mut self, c: usize, args: &[Vec<u8>], now: i64) -> Reply {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        let argc = args.len();
        let in_multi = self.clients[c].queue.is_some();
        let refuse = |model: &mut Model| {
            if in_multi {
                model.clients[c].refused = true;
            }
            err(&arity_error(&name))
        };
        match name.as_str() {
            "multi" | "discard" | "unwatch" if argc != 1 => refuse(self),
            "watch" if argc < 2 => refuse(self),
            "exec" if argc != 1 => {
                self.end(c);
                err(
                    "EXECABORT Transaction discarded because of: wrong number of arguments \
                     for 'exec' command",
                )
            }
            "multi" if in_multi => err("ERR MULTI calls can not be nested"),
            "multi" => {
                self.clients[c].queue = Some(Vec::new());
                ok()
            }
            "exec" if !in_multi => err("ERR EXEC without MULTI"),
            "exec" => {
                let client = self.clients[c].clone();
                self.end(c);
                let expired = client
                    .watching
                    .iter()
                    .any(|(_, at)| at.is_some_and(|at| now > at));
                if client.refused {
                    err(EXECABORT)
                } else if client.dirty || expired {
                    refused()
                } else {
                    let queue = client.queue.unwrap_or_default();
                    ran(queue.iter().map(|args| self.run(c, args, now)).collect())
                }
            }
            "discard" if !in_multi => err("ERR DISCARD without MULTI"),
            "discard" => {
                self.end(c);
                ok()
            }
            "watch" if in_multi => err("ERR WATCH inside MULTI is not allowed"),
            "watch" => {
                for key in &args[1..] {
                    if self.clients[c].watching.iter().any(|(k, _)| k == key) {
                        continue;
                    }
                    let at = self.touch(key, now).and_then(|(_, at)| *at);
                    self.clients[c].watching.push((key.clone(), at));
                }
                ok()
            }
            _ if in_multi => match self.refusal(args) {
                Some(error) => {
                    self.clients[c].refused = true;
                    Reply::Send(error)
                }
                None => {
                    self.clients[c].queue.as_mut().unwrap().push(args.to_vec());
                    queued()
                }
            },
            _ => Reply::Send(self.run(c, args, now)),
        }
    }

    /// The error of a command refused before it runs: unknown, or the wrong arity.
    fn refusal(&self, args: &[Vec<u8>]) -> Option<Frame> {
        const ARITY: [(&str, i64); 13] = [
            ("unwatch", 1),
            ("get", 2),
            ("incr", 2),
            ("persist", 2),
            ("exists", -2),
            ("lpop", -2),
            ("del", -2),
            ("set", -3),
            ("rpush", -3),
            ("pexpire", -3),
            ("hdel", -3),
            ("hset", -4),
            ("ltrim", 4),
        ];
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        let Some(&(name, arity)) = ARITY.iter().find(|(known, _)| *known == name) else {
            return Some(f_err(&unknown_command_error(args)));
        };
        let argc = args.len() as i64;
        let fits = if arity > 0 {
            argc == arity
        } else {
            argc >= -arity
        };
        (!fits).then(|| f_err(&arity_error(name)))
    }

    /// Runs one command of the random steps in the keyspace, marking what it wrote.
    fn run(&mut self, c: usize, args: &[Vec<u8>], now: i64) -> Frame {
        if let Some(error) = self.refusal(args) {
            return error;
        }
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        let key = args.get(1).cloned().unwrap_or_default();
        match name.as_str() {
            "unwatch" => {
                self.clients[c].watching.clear();
                self.clients[c].dirty = false;
                s_ok()
            }
            "get" => match self.touch(&key, now) {
                None => Frame::NullBulk,
                Some((Value::String(v), _)) => Frame::Bulk(v.clone()),
                Some(_) => f_err(WRONGTYPE),
            },
            "exists" => {
                let n = args[1..]
                    .iter()
                    .filter(|k| self.touch(k, now).is_some())
                    .count();
                i(n as i64)
            }
            "set" => {
                // SET k v, SET k v NX, SET k v PX n: the forms the steps send.
                let exists = self.touch(&key, now).is_some();
                let option = args.get(3).map(|o| o.to_ascii_uppercase());
                let at = match option.as_deref() {
                    Some(b"NX") if exists => return Frame::NullBulk,
                    Some(b"PX") => {
                        let ms: i64 = String::from_utf8_lossy(&args[4]).parse().unwrap();
                        Some(now + ms)
                    }
                    _ => None,
                };
                self.keys
                    .insert(key.clone(), (Value::String(args[2].clone()), at));
                self.wrote(&key);
                s_ok()
            }
            "del" => {
                let mut n = 0;
                for key in &args[1..] {
                    if self.touch(key, now).is_some() {
                        self.keys.remove(key);
                        self.wrote(key);
                        n += 1;
                    }
                }
                i(n)
            }
            "incr" => {
                let (current, at) = match self.touch(&key, now) {
                    None => (0, None),
                    Some((Value::String(v), at)) => match crate::support::string2ll(v) {
                        Some(n) => (n, *at),
                        None => return f_err(NOT_AN_INTEGER),
                    },
                    Some(_) => return f_err(WRONGTYPE),
                };
                let Some(n) = current.checked_add(1) else {
                    return f_err(crate::support::OVERFLOW);
                };
                self.keys
                    .insert(key.clone(), (Value::String(n.to_string().into_bytes()), at));
                self.wrote(&key);
                i(n)
            }
            "rpush" => {
                let len = match self.touch(&key, now) {
                    None => {
                        self.keys
                            .insert(key.clone(), (Value::List(args[2..].to_vec()), None));
                        args.len() - 2
                    }
                    Some((Value::List(list), _)) => {
                        list.extend(args[2..].iter().cloned());
                        list.len()
                    }
                    Some(_) => return f_err(WRONGTYPE),
                };
                self.wrote(&key);
                i(len as i64)
            }
            "lpop" => {
                let popped = match self.touch(&key, now) {
                    None => return Frame::NullBulk,
                    Some((Value::List(list), _)) => list.remove(0),
                    Some(_) => return f_err(WRONGTYPE),
                };
                self.drop_if_empty(&key);
                self.wrote(&key);
                Frame::Bulk(popped)
            }
            "ltrim" => {
                let start: usize = String::from_utf8_lossy(&args[2]).parse().unwrap();
                let stop: usize = String::from_utf8_lossy(&args[3]).parse().unwrap();
                match self.touch(&key, now) {
                    None => return s_ok(),
                    Some((Value::List(list), _)) => {
                        if start > stop || start >= list.len() {
                            list.clear();
                        } else {
                            let stop = stop.min(list.len() - 1);
                            *list = list[start..=stop].to_vec();
                        }
                    }
                    Some(_) => return f_err(WRONGTYPE),
                }
                self.drop_if_empty(&key);
                self.wrote(&key);
                s_ok()
            }
            "pexpire" => {
                let ms: i64 = String::from_utf8_lossy(&args[2]).parse().unwrap();
                let Some((_, at)) = self.touch(&key, now) else {
                    return i(0);
                };
                if now + ms <= now {
                    self.keys.remove(&key);
                } else {
                    *at = Some(now + ms);
                }
                self.wrote(&key);
                i(1)
            }
            "persist" => match self.touch(&key, now) {
                Some((_, at)) if at.is_some() => {
                    *at = None;
                    self.wrote(&key);
                    i(1)
                }
                _ => i(0),
            },
            "hset" => {
                let (field, value) = (args[2].clone(), args[3].clone());
                let new = match self.touch(&key, now) {
                    None => {
                        self.keys
                            .insert(key.clone(), (Value::Hash(vec![(field, value)]), None));
                        true
                    }
                    Some((Value::Hash(pairs), _)) => {
                        match pairs.iter_mut().find(|(f, _)| *f == field) {
                            Some((_, v)) => {
                                *v = value;
                                false
                            }
                            None => {
                                pairs.push((field, value));
                                true
                            }
                        }
                    }
                    Some(_) => return f_err(WRONGTYPE),
                };
                self.wrote(&key);
                i(new as i64)
            }
            "hdel" => {
                let deleted = match self.touch(&key, now) {
                    None => return i(0),
                    Some((Value::Hash(pairs), _)) => {
                        let before = pairs.len();
                        pairs.retain(|(f, _)| *f != args[2]);
                        before - pairs.len()
                    }
                    Some(_) => return f_err(WRONGTYPE),
                };
                if deleted > 0 {
                    self.drop_if_empty(&key);
                    self.wrote(&key);
                }
                i(deleted as i64)
            }
            other => unreachable!("the steps do not send {other}"),
        }
    }

    fn drop_if_empty(&mut self, key: &[u8]) {
        let empty = match self.keys.get(key) {
            Some((Value::List(list), _)) => list.is_empty(),
            Some((Value::Hash(pairs), _)) => pairs.is_empty(),
            _ => false,
        };
        if empty {
            self.keys.remove(key);
        }
    }
}

// ---- random interleavings against the model ----

#[derive(Clone)]
enum Step {
    Send(usize, Vec<Vec<u8>>),
    Wait(i64),
    Cycle(u64),
    Reconnect(usize),
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Send(c, args) => write!(f, "{}> {}", name(*c), command_line(args)),
            Step::Wait(ms) => write!(f, "(wait {ms} ms)"),
            Step::Cycle(seed) => write!(f, "(an active expire cycle, seed {seed})"),
            Step::Reconnect(c) => write!(
                f,
                "({} disconnects and a new client is {})",
                name(*c),
                name(*c)
            ),
        }
    }
}

const CLIENTS: usize = 3;

fn step() -> impl Strategy<Value = Step> {
    let key = || prop::sample::select(vec!["a", "b"]);
    let line = prop_oneof![
        4 => Just("MULTI".to_string()),
        4 => Just("EXEC".to_string()),
        1 => Just("DISCARD".to_string()),
        3 => key().prop_map(|k| format!("WATCH {k}")),
        1 => Just("WATCH a b".to_string()),
        1 => Just("UNWATCH".to_string()),
        3 => (key(), prop::sample::select(vec!["1", "x"])).prop_map(|(k, v)| format!("SET {k} {v}")),
        1 => key().prop_map(|k| format!("SET {k} 1 NX")),
        3 => (key(), prop::sample::select(vec![1, 5, 50])).prop_map(|(k, t)| format!("SET {k} 1 PX {t}")),
        3 => key().prop_map(|k| format!("GET {k}")),
        2 => key().prop_map(|k| format!("INCR {k}")),
        1 => key().prop_map(|k| format!("DEL {k}")),
        1 => Just("DEL a b".to_string()),
        1 => key().prop_map(|k| format!("EXISTS {k}")),
        2 => key().prop_map(|k| format!("RPUSH {k} x")),
        1 => key().prop_map(|k| format!("LPOP {k}")),
        1 => (key(), prop::sample::select(vec!["0 0", "1 0"])).prop_map(|(k, r)| format!("LTRIM {k} {r}")),
        1 => (key(), prop::sample::select(vec![-1, 5, 50])).prop_map(|(k, t)| format!("PEXPIRE {k} {t}")),
        1 => key().prop_map(|k| format!("PERSIST {k}")),
        2 => (key(), prop::sample::select(vec!["f", "g"])).prop_map(|(k, f)| format!("HSET {k} {f} v")),
        1 => key().prop_map(|k| format!("HDEL {k} f")),
        1 => Just("FOO a".to_string()),
        1 => Just("GET".to_string()),
        1 => Just("EXEC x".to_string()),
    ];
    prop_oneof![
        12 => (0..CLIENTS, line).prop_map(|(c, l)| Step::Send(c, words(&l))),
        2 => prop::sample::select(vec![1i64, 4, 60]).prop_map(Step::Wait),
        1 => any::<u64>().prop_map(Step::Cycle),
        1 => (0..CLIENTS).prop_map(Step::Reconnect),
    ]
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["steps"],
        256,
        prop::collection::vec(step(), 1..40),
        |steps| {
            let mut s = Session::new(CLIENTS);
            let mut model = Model::new(CLIENTS);
            let mut all = steps.clone();
            // Every client ends with MULTI and EXEC (which runs what it had queued, or tells
            // whether its watches still hold), and a look at both keys.
            for c in 0..CLIENTS {
                all.push(Step::Send(c, words("MULTI")));
                all.push(Step::Send(c, words("EXEC")));
            }
            all.push(Step::Send(0, words("GET a")));
            all.push(Step::Send(0, words("GET b")));
            for step in &all {
                match step {
                    Step::Send(c, args) => {
                        let expected = model.execute(*c, args, s.now);
                        s.expect(*c, args, expected)?;
                    }
                    Step::Wait(ms) => s.wait(*ms),
                    Step::Cycle(seed) => {
                        s.server.active_expire_cycle(s.now, *seed);
                        s.note(format!("{step:?}"));
                    }
                    Step::Reconnect(c) => {
                        model.disconnect(*c);
                        s.disconnect(*c);
                    }
                }
                s.watched(model.watched_keys())?;
            }
            Ok(())
        },
    )
}

fn expire_cycle_count(_: &mut Ctx) -> CheckResult {
    for (expiring, lasting) in [(0, 0), (0, 3), (1, 0), (5, 3), (30, 2)] {
        let mut s = Session::new(1);
        for n in 0..expiring {
            s.say(0, &format!("SET e{n} v PX 10"), ok())?;
        }
        for n in 0..lasting {
            s.say(0, &format!("SET l{n} v"), ok())?;
        }
        // Nothing has expired yet.
        let got = s.server.active_expire_cycle(s.now, 1);
        expect_eq(
            s.did("active_expire_cycle(now, 1), before any key's time is up"),
            got,
            0,
        )?;
        s.wait(11);
        let got = s.server.active_expire_cycle(s.now, 2);
        expect_eq(
            s.did(&format!(
                "active_expire_cycle(now, 2), with all {expiring} keys with a TTL expired"
            )),
            got,
            expiring,
        )?;
        s.note("(an active expire cycle)".into());
        s.say(0, "DBSIZE", int(lasting as i64))?;
        let got = s.server.active_expire_cycle(s.now, 3);
        expect_eq(s.did("active_expire_cycle(now, 3), again"), got, 0)?;
    }
    Ok(())
}
