//! Hidden checks for redis/aof.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::sync::Arc;

use judge::prelude::*;
use kit::crash::{self, KvOp, Subject};
use kit::disk::Dir;
use kit::fault::{FaultDir, attempt};
use kit::sim::{OpKind, Profile, SimDisk};
use redis_aof::{AOF_NAME, Aof, Db, Frame, Fsync, REWRITE_NAME, Reply};

use crate::support::faults::{self, Shape};
use crate::support::{command_line, words};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a write is appended as the RESP array Redis 7 writes: SET with EX or PX as SET key \
             value PXAT deadline, EXPIRE and PEXPIRE as PEXPIREAT, an EXPIRE already due as DEL, \
             everything else as it came",
            written_as_redis_writes,
        )
        .check(
            "a read, a command answered with an error, and a write that changed nothing append \
             nothing",
            nothing_written,
        )
        .check(
            "a key the keyspace has expired is written as a DEL just before the next written \
             command that names it, in the same append, each key of the command, so that the \
             replay agrees; a rewrite forgets the keys it leaves out",
            expiry_written_as_del,
        )
        .check(
            "a key set with EX 10 (or PX, EXPIRE, PEXPIRE) and replayed 5 s later has 5 s left; \
             replayed 20 s later it is gone; a rewrite keeps the deadline",
            deadlines_survive_replay,
        )
        .check(
            "any commands, ticks, rewrites and reopens under any policy: every reply is the one a \
             keyspace with no file gives",
            model,
        )
        .check(
            "Always: each written command is durable before execute returns, with one sync; \
             nothing else syncs; the file's name is durable once open returns",
            always_syncs_each_write,
        )
        .check(
            "EverySec: writes never sync; tick syncs when something is unsynced and a second has \
             passed since the last sync, once; No: nothing but a rewrite syncs",
            everysec_and_no_sync_counts,
        )
        .check(
            "a file cut at any byte opens: the whole commands before the cut replayed, the torn \
             tail cut off and the cut synced",
            torn_tail_cut,
        )
        .check(
            "damage with a whole command after it is InvalidData under Always, and the file is \
             left alone; a command that fails on replay is InvalidData under any policy",
            damage_refused,
        )
        .check(
            "a rewrite writes one command per key in key order (and a PEXPIREAT after a key with \
             a TTL) to temp-rewrite.aof, syncs it, renames it over appendonly.aof, syncs the \
             directory; later writes go to the new file; a leftover temporary file is removed",
            rewrite_by_rename,
        )
        .check(
            "after a failed write or sync, writes answer an error until the file is opened \
             again; reads are still answered",
            broken_until_reopened,
        )
        .check(
            "Always: a power cut at every I/O step (and during the replay after it) loses no \
             acknowledged write and leaves nothing that was never written",
            crash_always,
        )
        .check(
            "EverySec: a power cut at every I/O step loses nothing acknowledged a second before \
             a tick; No: nothing acknowledged before a rewrite",
            crash_everysec_and_no,
        )
        .check(
            "every disk operation failed in turn, with each fault, under each policy: an error, \
             never a wrong reply, and a consistent file after a reopen and after a power cut",
            faults_everywhere,
        )
}

crate::support::keyspace_replies!();

/// A time in milliseconds since 1970, in 2023: the checks' clock starts here.
const T0: i64 = 1_700_000_000_000;

fn line(text: &str) -> Frame {
    request(&words(text))
}

/// The RESP bytes of a request, as the file holds it.
fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend(format!("${}\r\n{arg}\r\n", arg.len()).bytes());
    }
    out
}

/// File bytes, readable in a message.
fn shown_bytes(bytes: &[u8]) -> String {
    let text: String = bytes.escape_ascii().to_string();
    if text.len() > 400 {
        format!("{}... ({} bytes)", &text[..400], bytes.len())
    } else {
        format!("\"{text}\"")
    }
}

fn open(dir: Arc<dyn Dir>, policy: Fsync, now: i64, did: &str) -> Result<Aof, Failure> {
    Aof::open(dir, policy, now).map_err(|error| {
        Failure::new(format!(
            "did:      {did}\nexpected: Aof::open(dir, Fsync::{policy:?}, {now}) to succeed\ngot:      \
             Err({error})"
        ))
    })
}

fn contents(disk: &SimDisk) -> Vec<u8> {
    disk.contents(AOF_NAME).unwrap_or_default()
}

/// Runs one command, which must not fail with an I/O error.
fn run(aof: &mut Aof, text: &str, now: i64, did: &[String]) -> Result<Reply, Failure> {
    aof.execute(line(text), now).map_err(|error| {
        Failure::new(format!(
            "did:      {}\nexpected: a reply\ngot:      Err({error}), with no fault injected",
            told(did, &format!("execute({text}) at {now}"))
        ))
    })
}

fn told(before: &[String], did: &str) -> String {
    crate::support::told(before, did)
}

fn written_as_redis_writes(_: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(1);
    let mut aof = open(disk.dir(), Fsync::Always, T0, "open an empty directory")?;
    let later = (T0 + 10_000).to_string();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("set k v ex 10", resp(&["SET", "k", "v", "PXAT", &later])),
        (
            "SET k2 v NX PX 1500",
            resp(&["SET", "k2", "v", "PXAT", &(T0 + 1500).to_string()]),
        ),
        (
            "SET k3 v EX 5 ex 7",
            resp(&["SET", "k3", "v", "PXAT", &(T0 + 7000).to_string()]),
        ),
        ("rpush l a b", resp(&["rpush", "l", "a", "b"])),
        (
            "EXPIRE l 100 NX",
            resp(&["PEXPIREAT", "l", &(T0 + 100_000).to_string(), "NX"]),
        ),
        (
            "pexpire l 250",
            resp(&["PEXPIREAT", "l", &(T0 + 250).to_string()]),
        ),
        ("EXPIRE l 0", resp(&["DEL", "l"])),
        ("SET s 41 KEEPTTL", resp(&["SET", "s", "41", "KEEPTTL"])),
        ("INCR s", resp(&["INCR", "s"])),
        ("HSET h f v g w", resp(&["HSET", "h", "f", "v", "g", "w"])),
        ("HINCRBY h n -2", resp(&["HINCRBY", "h", "n", "-2"])),
        ("PERSIST k", resp(&["PERSIST", "k"])),
        ("DEL k nothere", resp(&["DEL", "k", "nothere"])),
        ("SET x 1", resp(&["SET", "x", "1"])),
        ("SET y 1", resp(&["SET", "y", "1"])),
        ("DEL x y", resp(&["DEL", "x", "y"])),
        // y is gone by a DEL the file has: no second DEL for it.
        ("SET y 2", resp(&["SET", "y", "2"])),
        // Values that read like options: only the options after the value count.
        ("SET kx EX KEEPTTL", resp(&["SET", "kx", "EX", "KEEPTTL"])),
        (
            "SET kv PXAT EX 10",
            resp(&["SET", "kv", "PXAT", "PXAT", &later]),
        ),
        (
            "SET k4 v PX 5 px 9",
            resp(&["SET", "k4", "v", "PXAT", &(T0 + 9).to_string()]),
        ),
        (
            "SET big v EX 9223372036854",
            resp(&[
                "SET",
                "big",
                "v",
                "PXAT",
                &(9_223_372_036_854_000 + T0).to_string(),
            ]),
        ),
    ];
    let mut did = Vec::new();
    let mut expected_file = Vec::new();
    for (text, bytes) in cases {
        let before = contents(&disk);
        let reply = run(&mut aof, text, T0, &did)?;
        let after = contents(&disk);
        expected_file.extend_from_slice(&bytes);
        let appended = after.get(before.len()..).unwrap_or_default();
        expect(
            after.starts_with(&before) && appended == bytes.as_slice(),
            format!(
                "did:      {}\nexpected: {} appended to {AOF_NAME}\ngot:      {}{}",
                told(
                    &did,
                    &format!("execute({text}) at {T0}, answered {}", shown(&reply))
                ),
                shown_bytes(&bytes),
                shown_bytes(appended),
                if after.starts_with(&before) {
                    ""
                } else {
                    " (and what was there before changed)"
                }
            ),
        )?;
        did.push(text.to_string());
    }
    expect_eq(
        format!("the whole of {AOF_NAME} after: {}", did.join("; ")),
        shown_bytes(&contents(&disk)),
        shown_bytes(&expected_file),
    )?;
    // And the replay reads each back as it was: a value is never taken for an option.
    drop(aof);
    let mut aof = open(disk.dir(), Fsync::Always, T0, "then reopen")?;
    for (text, expected) in [
        ("GET kx", bulk(b"EX")),
        ("GET kv", bulk(b"PXAT")),
        ("PTTL kv", int(10_000)),
        ("GET y", bulk(b"2")),
        ("EXISTS x", int(0)),
    ] {
        let got = run(&mut aof, text, T0, &did)?;
        expect_reply(
            &format!("{}; reopen; {text}", did.join("; ")),
            &got,
            &expected,
        )?;
    }
    Ok(())
}

fn nothing_written(_: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(2);
    let mut aof = open(disk.dir(), Fsync::Always, T0, "open an empty directory")?;
    let mut model = Db::new();
    let setup = [
        "SET s 1 EX 100",
        "SET n 5",
        "RPUSH l a b",
        "HSET h f v",
        "SET p v",
    ];
    let mut did: Vec<String> = Vec::new();
    for text in setup {
        run(&mut aof, text, T0, &did)?;
        model.execute(line(text), T0);
        did.push(text.into());
    }
    let nothing = [
        // reads
        "GET s",
        "EXISTS s l h",
        "TYPE l",
        "PTTL s",
        "TTL s",
        "LRANGE l 0 -1",
        "LLEN l",
        "LINDEX l 0",
        "HGETALL h",
        "HGET h f",
        "DBSIZE",
        "PING",
        "ECHO hi",
        // errors
        "FLUSHALL",
        "SET",
        "SET s v EX 0",
        "SET s v PX -1",
        "SET s v EX 9223372036854775807",
        "SET s v EX ten",
        "SET s v NX XX",
        "INCR l",
        "INCR p",
        "RPUSH s x",
        "HSET h f",
        "HINCRBY h f 1",
        "LSET l 9 x",
        "LSET nothere 0 x",
        "EXPIRE s ten",
        "EXPIRE s 10 NX XX",
        "LPOP l -1",
        // writes that change nothing
        "SET s v NX",
        "SET nothere v XX",
        "DEL nothere",
        "DEL nothere gone",
        "EXPIRE nothere 10",
        "PEXPIRE nothere 10",
        "EXPIRE s 10 NX",
        "EXPIRE n 10 XX",
        "PERSIST n",
        "PERSIST nothere",
        "LPOP nothere",
        "RPOP nothere 2",
        "LPOP l 0",
        "LREM l 0 zz",
        "HDEL h nofield",
        "HDEL nothere f",
    ];
    let syncs = disk.stats().syncs;
    for text in nothing {
        let before = contents(&disk);
        let reply = run(&mut aof, text, T0 + 1, &did)?;
        let expected = model.execute(line(text), T0 + 1);
        expect_reply(&told(&did, text), &reply, &expected)?;
        let after = contents(&disk);
        expect(
            after == before,
            format!(
                "did:      {}\nexpected: nothing appended to {AOF_NAME} (the reply was {})\n\
                 got:      {} appended",
                told(&did, &format!("execute({text})")),
                shown(&reply),
                shown_bytes(after.get(before.len()..).unwrap_or(&after))
            ),
        )?;
        did.push(text.into());
    }
    // A request that is no command, and an empty one.
    for (what, frame) in [
        ("an integer frame, :5", Frame::Integer(5)),
        (
            "an array holding an integer",
            Frame::Array(vec![Frame::Bulk(b"SET".to_vec()), Frame::Integer(1)]),
        ),
        ("an empty array", Frame::Array(Vec::new())),
    ] {
        let before = contents(&disk);
        let reply = aof.execute(frame.clone(), T0 + 1).map_err(|error| {
            Failure::new(format!(
                "did:      execute({what})\nexpected: the keyspace's reply\ngot:      Err({error})"
            ))
        })?;
        let expected = model.execute(frame, T0 + 1);
        expect_reply(&format!("execute({what})"), &reply, &expected)?;
        expect(
            contents(&disk) == before,
            format!(
                "did:      execute({what})\nexpected: nothing appended\ngot:      bytes appended"
            ),
        )?;
    }
    expect_eq(
        "syncs made by the reads, failed commands and writes that changed nothing, under Always",
        disk.stats().syncs - syncs,
        0,
    )?;
    // And nothing of all that was taken as a change: a reopen finds the same keyspace.
    let mut again = open(disk.dir(), Fsync::Always, T0 + 2, "then reopen")?;
    for text in [
        "GET s",
        "PTTL s",
        "GET n",
        "LRANGE l 0 -1",
        "HGETALL h",
        "GET p",
    ] {
        let got = run(&mut again, text, T0 + 2, &did)?;
        let expected = model.execute(line(text), T0 + 2);
        expect_reply(
            &format!("all of the above, then reopen, then {text}"),
            &got,
            &expected,
        )?;
    }
    Ok(())
}

fn expiry_written_as_del(_: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(3);
    let mut aof = open(disk.dir(), Fsync::Always, T0, "open an empty directory")?;
    let mut did = Vec::new();
    let mut step = |aof: &mut Aof, text: &str, at: i64, appended: Vec<u8>| -> CheckResult {
        let before = contents(&disk);
        let reply = run(aof, text, T0 + at, &did)?;
        let after = contents(&disk);
        let got = after.get(before.len()..).unwrap_or_default();
        expect(
            after.starts_with(&before) && got == appended.as_slice(),
            format!(
                "did:      {}\nexpected: {} appended\ngot:      {}",
                told(
                    &did,
                    &format!("{text} at +{at} ms, answered {}", shown(&reply))
                ),
                shown_bytes(&appended),
                shown_bytes(got)
            ),
        )?;
        did.push(format!("{text} at +{at} ms"));
        Ok(())
    };
    let deadline = (T0 + 100).to_string();
    step(
        &mut aof,
        "SET e v PX 100",
        0,
        resp(&["SET", "e", "v", "PXAT", &deadline]),
    )?;
    step(
        &mut aof,
        "SET c 5 PX 100",
        0,
        resp(&["SET", "c", "5", "PXAT", &deadline]),
    )?;
    // A read of an expired key, and a failed write on one, write nothing.
    step(&mut aof, "GET e", 200, Vec::new())?;
    step(&mut aof, "LSET e 0 x", 200, Vec::new())?;
    let mut both = resp(&["DEL", "e"]);
    both.extend(resp(&["RPUSH", "e", "x"]));
    step(&mut aof, "RPUSH e x", 200, both)?;
    // Written once: the next write to it finds a key the file knows.
    step(&mut aof, "RPUSH e y", 201, resp(&["RPUSH", "e", "y"]))?;
    let mut both = resp(&["DEL", "c"]);
    both.extend(resp(&["INCR", "c"]));
    step(&mut aof, "INCR c", 300, both)?;
    // A key that was deleted by a written command is not deleted again.
    step(&mut aof, "DEL c", 301, resp(&["DEL", "c"]))?;
    step(&mut aof, "SET c 7", 302, resp(&["SET", "c", "7"]))?;

    // Keys that share a command's name are keys like any other: the command's name is not one
    // of the keys it names.
    let deadline = (T0 + 350).to_string();
    step(
        &mut aof,
        "SET DEL v PX 50",
        300,
        resp(&["SET", "DEL", "v", "PXAT", &deadline]),
    )?;
    step(
        &mut aof,
        "SET INCR v PX 50",
        300,
        resp(&["SET", "INCR", "v", "PXAT", &deadline]),
    )?;
    step(&mut aof, "SET c 8", 360, resp(&["SET", "c", "8"]))?;
    step(&mut aof, "DEL c", 360, resp(&["DEL", "c"]))?;
    step(&mut aof, "INCR c", 360, resp(&["INCR", "c"]))?;
    step(&mut aof, "SET c 7", 360, resp(&["SET", "c", "7"]))?;

    // An INCR that kept a TTL: the replay must find the key gone, not a fresh counter.
    step(
        &mut aof,
        "SET n 5 PX 1000",
        400,
        resp(&["SET", "n", "5", "PXAT", &(T0 + 1400).to_string()]),
    )?;
    step(&mut aof, "INCR n", 410, resp(&["INCR", "n"]))?;
    drop(aof);
    let mut again = open(
        disk.dir(),
        Fsync::Always,
        T0 + 5000,
        "then reopen at +5000 ms",
    )?;
    for (text, expected) in [
        (
            "LRANGE e 0 -1",
            Reply::Send(Frame::Array(vec![
                Frame::Bulk(b"x".to_vec()),
                Frame::Bulk(b"y".to_vec()),
            ])),
        ),
        ("PTTL e", int(-1)),
        ("GET c", bulk(b"7")),
        ("GET n", nil()),
        ("EXISTS n", int(0)),
    ] {
        let got = run(&mut again, text, T0 + 5000, &did)?;
        expect_reply(
            &format!("{}; reopen at +5000 ms; {text}", did.join("; ")),
            &got,
            &expected,
        )?;
    }
    expired_keys_each_deleted()
}

/// One command at `T0 + at`: exactly `appended` goes to the file, in one append.
fn one_append(
    disk: &SimDisk,
    did: &mut Vec<String>,
    aof: &mut Aof,
    (text, at): (&str, i64),
    appended: Vec<u8>,
    why: &str,
) -> CheckResult {
    let before = contents(disk);
    let writes = disk.stats().writes;
    let reply = run(aof, text, T0 + at, did)?;
    let after = contents(disk);
    let appends = disk.stats().writes - writes;
    let got = after.get(before.len()..).unwrap_or_default();
    let done = told(
        did,
        &format!("{text} at +{at} ms, answered {}", shown(&reply)),
    );
    expect(
        after.starts_with(&before) && got == appended.as_slice(),
        format!(
            "did:      {done}\nexpected: {} appended ({why})\ngot:      {}",
            shown_bytes(&appended),
            shown_bytes(got)
        ),
    )?;
    expect(
        appends == 1,
        format!(
            "did:      {done}\nexpected: one append of {} (the DELs of expired keys go in the \
             same append as the command: a crash between two appends could keep the DELs and \
             lose the write)\ngot:      {appends} appends",
            shown_bytes(&appended)
        ),
    )?;
    did.push(format!("{text} at +{at} ms"));
    Ok(())
}

/// Each expired key a command names gets its DEL, not only the first; and a rewrite forgets
/// the keys it leaves out.
fn expired_keys_each_deleted() -> CheckResult {
    let disk = SimDisk::new(4);
    let mut aof = open(disk.dir(), Fsync::Always, T0, "open an empty directory")?;
    let did = &mut Vec::new();
    let deadline = (T0 + 100).to_string();
    let b = resp(&["SET", "b", "1", "PXAT", &deadline]);
    one_append(&disk, did, &mut aof, ("SET b 1 PX 100", 0), b, "the SET")?;
    let a = resp(&["SET", "a", "1"]);
    one_append(&disk, did, &mut aof, ("SET a 1", 0), a, "the SET")?;
    let mut dels = resp(&["DEL", "b"]);
    dels.extend(resp(&["DEL", "a", "b"]));
    one_append(
        &disk,
        did,
        &mut aof,
        ("DEL a b", 1000),
        dels,
        "a DEL for each key the command names that the file holds and the keyspace has \
         expired, its second key as well as its first, then the command",
    )?;
    let deadline = (T0 + 1050).to_string();
    let g = resp(&["SET", "g", "1", "PXAT", &deadline]);
    one_append(&disk, did, &mut aof, ("SET g 1 PX 50", 1000), g, "the SET")?;
    let h = resp(&["SET", "h", "1"]);
    one_append(&disk, did, &mut aof, ("SET h 1", 1000), h, "the SET")?;
    aof.rewrite(T0 + 1100).map_err(|error| {
        Failure::new(format!(
            "did:      {}\nexpected: Ok(())\ngot:      Err({error}), with no fault injected",
            told(did, "rewrite() at +1100 ms")
        ))
    })?;
    did.push("rewrite() at +1100 ms (g has expired: the new file leaves it out)".to_string());
    one_append(
        &disk,
        did,
        &mut aof,
        ("SET g 2", 1200),
        resp(&["SET", "g", "2"]),
        "no DEL g: the rewrite left the expired g out of the new file and forgot it, so the \
         file holds no g to delete",
    )?;
    drop(aof);
    let mut again = open(
        disk.dir(),
        Fsync::Always,
        T0 + 2000,
        "then reopen at +2000 ms",
    )?;
    for (text, expected) in [
        ("GET a", nil()),
        ("GET b", nil()),
        ("GET g", bulk(b"2")),
        ("GET h", bulk(b"1")),
    ] {
        let got = run(&mut again, text, T0 + 2000, did)?;
        expect_reply(
            &format!("{}; reopen at +2000 ms; {text}", did.join("; ")),
            &got,
            &expected,
        )?;
    }
    Ok(())
}

fn deadlines_survive_replay(_: &mut Ctx) -> CheckResult {
    for (how, setup) in [
        ("SET EX", vec!["SET k v EX 10"]),
        ("SET PX", vec!["SET k v PX 10000"]),
        ("EXPIRE", vec!["RPUSH k v", "EXPIRE k 10"]),
        ("PEXPIRE", vec!["HSET k f v", "PEXPIRE k 10000"]),
    ] {
        for rewrite in [false, true] {
            let disk = SimDisk::new(4);
            let mut aof = open(disk.dir(), Fsync::Always, T0, "open an empty directory")?;
            let mut did: Vec<String> = Vec::new();
            for text in &setup {
                run(&mut aof, text, T0, &did)?;
                did.push(format!("{text} at {T0}"));
            }
            if rewrite {
                aof.rewrite(T0 + 1000).map_err(|error| {
                    Failure::new(format!(
                        "did:      {}; rewrite({})\nexpected: Ok\ngot:      Err({error})",
                        did.join("; "),
                        T0 + 1000
                    ))
                })?;
                did.push(format!("rewrite at +1000 ms ({how})"));
            }
            drop(aof);
            let mut aof = open(disk.dir(), Fsync::Always, T0 + 5000, "reopen 5 s later")?;
            let got = run(&mut aof, "PTTL k", T0 + 5000, &did)?;
            expect_reply(
                &format!("{}; reopen 5 s later; PTTL k", did.join("; ")),
                &got,
                &int(5000),
            )?;
            drop(aof);
            let mut aof = open(disk.dir(), Fsync::Always, T0 + 20_000, "reopen 20 s later")?;
            for (text, expected) in [("EXISTS k", int(0)), ("PTTL k", int(-2))] {
                let got = run(&mut aof, text, T0 + 20_000, &did)?;
                expect_reply(
                    &format!("{}; reopen 20 s later; {text}", did.join("; ")),
                    &got,
                    &expected,
                )?;
            }
        }
    }
    Ok(())
}

// ---- the model ----

#[derive(Clone)]
enum Step {
    Cmd(Vec<Vec<u8>>),
    Wait(i64),
    Tick,
    Rewrite,
    Reopen,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Cmd(args) => write!(f, "{}", command_line(args)),
            Step::Wait(ms) => write!(f, "wait {ms} ms"),
            Step::Tick => write!(f, "tick"),
            Step::Rewrite => write!(f, "rewrite"),
            Step::Reopen => write!(f, "reopen"),
        }
    }
}

fn commands() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let key = prop::sample::select(vec!["a", "b", "c"]);
    let value = prop_oneof![
        4 => prop::sample::select(vec!["x", "yz", "7", "-3", ""]).prop_map(|v| v.as_bytes().to_vec()),
        1 => Just(vec![b'v'; 700]),
    ];
    let ttl = prop_oneof![
        4 => 1..3_000i64,
        1 => Just(0i64),
        1 => Just(-5i64),
        1 => Just(i64::MAX),
        1 => 1..100_000_000i64,
    ];
    let option = prop::sample::select(vec!["", "NX", "XX", "GT", "LT"]);
    let shape = (0..24u8, key.clone(), key, value, ttl, option);
    shape.prop_map(|(which, k, k2, v, ttl, option)| {
        let text = |s: String| words(&s);
        let mut args = match which {
            0 => text(format!("SET {k} _")),
            1 => text(format!("SET {k} _ EX {}", ttl.min(100))),
            2 => text(format!("SET {k} _ PX {ttl}")),
            3 => text(format!(
                "SET {k} _ {}",
                ["NX", "XX", "KEEPTTL"][(ttl % 3).unsigned_abs() as usize]
            )),
            4 => text(format!("GET {k}")),
            5 => text(format!("DEL {k} {k2}")),
            6 => text(format!("INCRBY {k} {}", ttl % 5)),
            7 => text(format!("RPUSH {k} _ _")),
            8 => text(format!("LPUSH {k} _")),
            9 => text(format!("LPOP {k}")),
            10 => text(format!("RPOP {k} {}", ttl % 3)),
            11 => text(format!("LRANGE {k} 0 -1")),
            12 => text(format!("LTRIM {k} 1 -1")),
            13 => text(format!("LSET {k} 0 _")),
            14 => text(format!("HSET {k} f _")),
            15 => text(format!("HDEL {k} f")),
            16 => text(format!("HINCRBY {k} n {}", ttl % 7)),
            17 => text(format!("HGETALL {k}")),
            18 => text(format!("EXPIRE {k} {} {option}", ttl.min(100))),
            19 => text(format!("PEXPIRE {k} {ttl} {option}")),
            20 => text(format!("PERSIST {k}")),
            21 => text(format!("PTTL {k}")),
            22 => text(format!("TYPE {k}")),
            _ => text(format!("LREM {k} 0 _")),
        };
        if args.last().is_some_and(Vec::is_empty) {
            args.pop();
        }
        for arg in &mut args {
            if arg == b"_" {
                *arg = v.clone();
            }
        }
        args
    })
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let wait = prop_oneof![
        3 => 0..50i64,
        2 => 500..1_500i64,
        1 => 3_600_000..7_200_000i64,
    ];
    let step = prop_oneof![
        12 => commands().prop_map(Step::Cmd),
        3 => wait.prop_map(Step::Wait),
        1 => Just(Step::Tick),
        1 => Just(Step::Rewrite),
        2 => Just(Step::Reopen),
    ];
    prop::collection::vec(step, 1..40)
}

fn model(ctx: &mut Ctx) -> CheckResult {
    let policy = prop::sample::select(vec![Fsync::Always, Fsync::EverySec, Fsync::No]);
    let seed = ctx.seed();
    ctx.forall_named(&["policy", "steps"], 32, (policy, steps()), |(policy, steps)| {
        let disk = SimDisk::new(seed);
        let mut now = T0;
        let mut aof = open(disk.dir(), policy, now, "open an empty directory")?;
        let mut keyspace = Db::new();
        let mut did: Vec<String> = vec![format!("open (Fsync::{policy:?})")];
        let io = |did: &[String], what: &str, error: io::Error| {
            Failure::new(format!(
                "did:      {}\nexpected: Ok\ngot:      Err({error}), with no fault injected",
                told(did, what)
            ))
        };
        for step in steps {
            let mut probe = false;
            match &step {
                Step::Cmd(args) => {
                    let got = aof
                        .execute(request(args), now)
                        .map_err(|e| io(&did, &command_line(args), e))?;
                    let expected = keyspace.execute(request(args), now);
                    expect(
                        got == expected,
                        format!(
                            "did:      {}\nexpected: {} (what a keyspace with no file answers)\n\
                             got:      {}",
                            told(&did, &command_line(args)),
                            shown(&expected),
                            shown(&got)
                        ),
                    )?;
                }
                Step::Wait(ms) => now += ms,
                Step::Tick => aof.tick(now).map_err(|e| io(&did, "tick", e))?,
                Step::Rewrite => {
                    aof.rewrite(now).map_err(|e| io(&did, "rewrite", e))?;
                    probe = true;
                }
                Step::Reopen => {
                    drop(aof);
                    aof = open(disk.dir(), policy, now, &did.join("; "))?;
                    probe = true;
                }
            }
            did.push(format!("{step:?}"));
            if probe {
                for key in ["a", "b", "c"] {
                    for read in ["TYPE", "PTTL", "GET", "LRANGE", "HGETALL"] {
                        let text = if read == "LRANGE" {
                            format!("LRANGE {key} 0 -1")
                        } else {
                            format!("{read} {key}")
                        };
                        let got = aof
                            .execute(line(&text), now)
                            .map_err(|e| io(&did, &text, e))?;
                        let expected = keyspace.execute(line(&text), now);
                        expect(
                            got == expected,
                            format!(
                                "did:      {}\nexpected: {} (what a keyspace with no file \
                                 answers)\ngot:      {}",
                                told(&did, &text),
                                shown(&expected),
                                shown(&got)
                            ),
                        )?;
                    }
                }
            }
        }
        Ok(())
    })
}

fn files(disk: &SimDisk) -> (u64, u64, bool) {
    disk.files()
        .into_iter()
        .find(|file| file.name == AOF_NAME)
        .map(|file| (file.len, file.durable_len, file.durable_name))
        .unwrap_or((0, 0, false))
}

fn always_syncs_each_write(_: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(5);
    let aof = open(disk.dir(), Fsync::Always, T0, "open an empty directory")?;
    let (_, _, named) = files(&disk);
    expect(
        named,
        format!(
            "did:      Aof::open on an empty directory, Fsync::Always\nexpected: {AOF_NAME} \
             created and its name durable (the directory synced) before open returns\ngot:      \
             a name a power cut would lose"
        ),
    )?;
    let mut aof = aof;
    let mut did: Vec<String> = Vec::new();
    let script = [
        ("SET a 1", ok(), true),
        ("GET a", bulk(b"1"), false),
        ("RPUSH l x y z", int(3), true),
        ("TYPE l", simple("list"), false),
        ("DEL nothere", int(0), false),
        ("SET a 2 EX 10", ok(), true),
        ("INCR l", err(crate::support::WRONGTYPE), false),
        ("LPOP l", bulk(b"x"), true),
        ("HSET h f v", int(1), true),
    ];
    for (text, reply, written) in script {
        let syncs = disk.stats().syncs;
        let got = run(&mut aof, text, T0, &did)?;
        expect_reply(&told(&did, text), &got, &reply)?;
        let (len, durable, _) = files(&disk);
        let made = disk.stats().syncs - syncs;
        let expected = u64::from(written);
        expect(
            made == expected && len == durable,
            format!(
                "did:      {}\nexpected: {expected} sync(s), and all {len} bytes of {AOF_NAME} \
                 durable when execute returns\ngot:      {made} sync(s), {durable} bytes durable",
                told(&did, text)
            ),
        )?;
        did.push(text.into());
    }
    Ok(())
}

fn everysec_and_no_sync_counts(_: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(6);
    let mut aof = open(
        disk.dir(),
        Fsync::EverySec,
        T0,
        "open an empty directory, Fsync::EverySec",
    )?;
    let mut did: Vec<String> = vec!["open at +0 (Fsync::EverySec)".into()];
    let base = disk.stats().syncs;
    for i in 0..50 {
        run(&mut aof, &format!("RPUSH l {i}"), T0 + i, &did)?;
    }
    did.push("RPUSH l 0 .. RPUSH l 49 at +0 .. +49 ms".into());
    let count = |disk: &SimDisk, did: &[String], what: &str, expected: u64, from: u64| {
        let made = disk.stats().syncs - from;
        expect(
            made == expected,
            format!(
                "did:      {}\nexpected: {expected} sync(s)\ngot:      {made}",
                told(did, what)
            ),
        )
    };
    count(&disk, &did, "(the writes)", 0, base)?;
    let (len, durable, _) = files(&disk);
    expect(
        durable < len,
        format!(
            "did:      {}\nexpected: the writes not yet durable under EverySec (a tick syncs \
             them)\ngot:      all {len} bytes durable",
            did.join("; ")
        ),
    )?;
    let tick = |aof: &mut Aof, did: &mut Vec<String>, at: i64, expected: u64| -> CheckResult {
        let before = disk.stats().syncs;
        let what = format!("tick at +{at} ms");
        aof.tick(T0 + at).map_err(|error| {
            Failure::new(format!(
                "did:      {}\nexpected: Ok\ngot:      Err({error})",
                told(did, &what)
            ))
        })?;
        count(&disk, did, &what, expected, before)?;
        if expected == 1 {
            let (len, durable, _) = files(&disk);
            expect_eq(
                format!("{}; {what}: durable bytes of {AOF_NAME}", did.join("; ")),
                durable,
                len,
            )?;
        }
        did.push(what);
        Ok(())
    };
    tick(&mut aof, &mut did, 999, 0)?;
    tick(&mut aof, &mut did, 1000, 1)?;
    tick(&mut aof, &mut did, 1001, 0)?;
    tick(&mut aof, &mut did, 5000, 0)?;
    run(&mut aof, "SET a 1", T0 + 5500, &did)?;
    did.push("SET a 1 at +5500 ms".into());
    // The last sync was at +1000: a second has passed, and there is something to sync.
    tick(&mut aof, &mut did, 5501, 1)?;
    run(&mut aof, "SET a 2", T0 + 5600, &did)?;
    did.push("SET a 2 at +5600 ms".into());
    tick(&mut aof, &mut did, 6500, 0)?;
    tick(&mut aof, &mut did, 6501, 1)?;
    // A rewrite syncs what it writes: nothing is left for a tick.
    run(&mut aof, "SET a 3", T0 + 7000, &did)?;
    did.push("SET a 3 at +7000 ms".into());
    aof.rewrite(T0 + 7001)
        .map_err(|error| Failure::new(format!("rewrite failed: {error}")))?;
    did.push("rewrite at +7001 ms".into());
    tick(&mut aof, &mut did, 9000, 0)?;

    // Nothing written since the open: nothing to sync.
    let disk = SimDisk::new(8);
    let mut aof = open(
        disk.dir(),
        Fsync::EverySec,
        T0,
        "open an empty directory, Fsync::EverySec",
    )?;
    let mut did: Vec<String> = vec!["open at +0 (Fsync::EverySec)".into()];
    let base = disk.stats().syncs;
    for at in [1000, 5000] {
        aof.tick(T0 + at)
            .map_err(|error| Failure::new(format!("tick failed: {error}")))?;
        did.push(format!("tick at +{at} ms"));
    }
    count(&disk, &did, "(ticks with nothing written)", 0, base)?;

    // No: nothing but a rewrite syncs.
    let disk = SimDisk::new(7);
    let mut aof = open(
        disk.dir(),
        Fsync::No,
        T0,
        "open an empty directory, Fsync::No",
    )?;
    let base = disk.stats().syncs;
    let mut did = vec!["open (Fsync::No)".to_string()];
    for i in 0..20 {
        run(&mut aof, &format!("SET k{i} v"), T0 + i * 700, &did)?;
        aof.tick(T0 + i * 700 + 1)
            .map_err(|error| Failure::new(format!("tick failed: {error}")))?;
    }
    did.push("SET k0 v .. SET k19 v, a tick after each, 700 ms apart".into());
    count(&disk, &did, "(the writes and ticks)", 0, base)
}

/// Commands of different lengths, one crossing a sector boundary.
fn sample_commands() -> Vec<(Vec<u8>, &'static str)> {
    vec![
        (resp(&["SET", "a", "1"]), "a"),
        (resp(&["RPUSH", "b", &"x".repeat(600), "y"]), "b"),
        (resp(&["HSET", "c", "f", "v"]), "c"),
        (resp(&["SET", "d", ""]), "d"),
    ]
}

fn torn_tail_cut(_: &mut Ctx) -> CheckResult {
    let cmds = sample_commands();
    let whole: Vec<u8> = cmds.iter().flat_map(|(bytes, _)| bytes.clone()).collect();
    let mut ends = Vec::new();
    let mut end = 0;
    for (bytes, _) in &cmds {
        end += bytes.len();
        ends.push(end);
    }
    for policy in [Fsync::Always, Fsync::EverySec] {
        for cut in 0..=whole.len() {
            let disk = SimDisk::new(cut as u64);
            let dir = disk.dir();
            {
                let file = dir.create(AOF_NAME).expect("the check's own file");
                file.append(&whole[..cut]).expect("the check's own write");
                file.sync().expect("the check's own sync");
                dir.sync().expect("the check's own sync");
            }
            let kept = ends.iter().filter(|&&end| end <= cut).count();
            let keep_len = if kept == 0 { 0 } else { ends[kept - 1] };
            let did = format!(
                "{AOF_NAME} holds the first {cut} of the {} bytes of SET a 1, RPUSH b x*600 y, \
                 HSET c f v, SET d \"\" ({kept} whole); Aof::open with Fsync::{policy:?}",
                whole.len()
            );
            let mut aof = open(disk.dir(), policy, T0, &did)?;
            for (i, (_, key)) in cmds.iter().enumerate() {
                let got = run(
                    &mut aof,
                    &format!("EXISTS {key}"),
                    T0,
                    std::slice::from_ref(&did),
                )?;
                expect_reply(
                    &format!("{did}; EXISTS {key}"),
                    &got,
                    &int(i64::from(i < kept)),
                )?;
            }
            disk.crash();
            disk.restart_losing_unsynced();
            let after = contents(&disk);
            expect(
                after == whole[..keep_len],
                format!(
                    "did:      {did}; then the power fails, losing what was not synced\n\
                     expected: the file cut to its {keep_len} bytes of whole commands, the cut \
                     durable\ngot:      {} bytes: {}",
                    after.len(),
                    shown_bytes(&after[keep_len.min(after.len())..])
                ),
            )?;
        }
    }
    Ok(())
}

fn damage_refused(_: &mut Ctx) -> CheckResult {
    let cmds = sample_commands();
    let whole: Vec<u8> = cmds.iter().flat_map(|(bytes, _)| bytes.clone()).collect();
    let second = cmds[0].0.len();
    let third = second + cmds[1].0.len();
    let mut damaged = Vec::new();
    let mut garbage = whole.clone();
    garbage[second] = b'?';
    damaged.push(("the first byte of the second command made '?'", garbage));
    let last = whole.len() - cmds[3].0.len();
    let mut stray = whole[..last].to_vec();
    stray.push(b'\n');
    stray.extend_from_slice(&whole[last..]);
    damaged.push(("a stray byte between the third and the last command", stray));
    let mut zeros = whole.clone();
    zeros[second..third].fill(0);
    damaged.push(("the second command zeroed, as a lost sector reads", zeros));
    let mut not_command = cmds[0].0.clone();
    not_command.extend_from_slice(b":5\r\n");
    not_command.extend_from_slice(&whole[second..]);
    damaged.push((
        "an integer frame, :5, between the first and second command",
        not_command,
    ));
    let mut length = whole.clone();
    length[third + 1] = b'9';
    damaged.push(("the third command's count *3 made *9", length));
    for (what, bytes) in damaged {
        let disk = SimDisk::new(8);
        let dir = disk.dir();
        {
            let file = dir.create(AOF_NAME).expect("the check's own file");
            file.append(&bytes).expect("the check's own write");
            file.sync().expect("the check's own sync");
        }
        let did = format!("{AOF_NAME} holds four commands, {what}; Aof::open with Fsync::Always");
        match Aof::open(disk.dir(), Fsync::Always, T0) {
            Err(error) if error.kind() == io::ErrorKind::InvalidData => {}
            Err(error) => {
                return fail(format!(
                    "did:      {did}\nexpected: Err(InvalidData)\ngot:      Err({error}) of kind {:?}",
                    error.kind()
                ));
            }
            Ok(_) => {
                return fail(format!(
                    "did:      {did}\nexpected: Err(InvalidData): the damage has whole commands \
                     after it, so it was synced, then damaged\ngot:      Ok"
                ));
            }
        }
        expect(
            contents(&disk) == bytes,
            format!(
                "did:      {did}\nexpected: the file left as it was, for a human to look at\ngot:      it was changed"
            ),
        )?;
    }
    // Whole commands the keyspace refuses: damage under any policy.
    for policy in [Fsync::Always, Fsync::EverySec, Fsync::No] {
        for (what, bad) in [
            ("an unknown command, HELLO", resp(&["HELLO"])),
            ("INCR on a list", resp(&["INCR", "b"])),
        ] {
            let disk = SimDisk::new(9);
            let dir = disk.dir();
            let mut bytes = whole.clone();
            bytes.extend(bad);
            bytes.extend(resp(&["SET", "e", "1"]));
            {
                let file = dir.create(AOF_NAME).expect("the check's own file");
                file.append(&bytes).expect("the check's own write");
                file.sync().expect("the check's own sync");
            }
            let did = format!(
                "{AOF_NAME} holds four commands, then {what}, then SET e 1; Aof::open with Fsync::{policy:?}"
            );
            match Aof::open(disk.dir(), policy, T0) {
                Err(error) if error.kind() == io::ErrorKind::InvalidData => {}
                Err(error) => {
                    return fail(format!(
                        "did:      {did}\nexpected: Err(InvalidData)\ngot:      Err({error})"
                    ));
                }
                Ok(_) => {
                    return fail(format!(
                        "did:      {did}\nexpected: Err(InvalidData): a command that fails on replay is not what was written\ngot:      Ok"
                    ));
                }
            }
        }
    }
    // Under EverySec, what follows a break was in flight: the whole commands before it are kept.
    let disk = SimDisk::new(10);
    let dir = disk.dir();
    let mut zeros = whole.clone();
    zeros[second..third].fill(0);
    {
        let file = dir.create(AOF_NAME).expect("the check's own file");
        file.append(&zeros).expect("the check's own write");
        file.sync().expect("the check's own sync");
    }
    let did = format!(
        "{AOF_NAME} holds four commands, the second zeroed; Aof::open with Fsync::EverySec"
    );
    let mut aof = open(disk.dir(), Fsync::EverySec, T0, &did)?;
    for (key, expected) in [("a", 1), ("b", 0), ("c", 0)] {
        let got = run(
            &mut aof,
            &format!("EXISTS {key}"),
            T0,
            std::slice::from_ref(&did),
        )?;
        expect_reply(&format!("{did}; EXISTS {key}"), &got, &int(expected))?;
    }
    expect_eq(
        format!("{did}: the file after open"),
        shown_bytes(&contents(&disk)),
        shown_bytes(&whole[..second]),
    )
}

fn rewrite_by_rename(_: &mut Ctx) -> CheckResult {
    let disk = SimDisk::new(11);
    let faults = FaultDir::new(&disk, &[]);
    {
        // A rewrite cut short by a crash left its file behind.
        let dir = disk.dir();
        let file = dir.create(REWRITE_NAME).expect("the check's own file");
        file.append(&resp(&["SET", "ghost", "1"]))
            .expect("the check's own write");
    }
    let mut aof = open(
        faults.dir(),
        Fsync::No,
        T0,
        "open with a leftover temp-rewrite.aof",
    )?;
    let did0 = format!("{REWRITE_NAME} left by a crash holds SET ghost 1; open");
    let got = run(&mut aof, "EXISTS ghost", T0, std::slice::from_ref(&did0))?;
    expect_reply(&format!("{did0}; EXISTS ghost"), &got, &int(0))?;
    let names = disk.dir().list().unwrap_or_default();
    expect(
        !names.iter().any(|n| n == REWRITE_NAME),
        format!(
            "did:      {did0}\nexpected: {REWRITE_NAME} removed\ngot:      the directory holds {names:?}"
        ),
    )?;
    let script = [
        "RPUSH l a b c",
        "SET s v EX 100",
        "HSET h f 1 g 2",
        "SET gone 1 PX 10",
        "SET e v PX 1000",
        "LPOP l",
        "HSET h f 3",
        "SET s w KEEPTTL",
        "SET z 1",
        "DEL z",
        "SET b\"x 1",
    ];
    let mut did = vec![did0];
    for text in script {
        run(&mut aof, text, T0, &did)?;
        did.push(text.into());
    }
    let at = T0 + 1000;
    let trace_from = faults.trace().len();
    aof.rewrite(at).map_err(|error| {
        Failure::new(format!(
            "did:      {}; rewrite at +1000 ms\nexpected: Ok\ngot:      Err({error})",
            did.join("; ")
        ))
    })?;
    did.push("rewrite at +1000 ms".into());
    let mut expected = resp(&["SET", "b\"x", "1"]);
    // A deadline of exactly now: alive now, gone the next millisecond.
    expected.extend(resp(&["SET", "e", "v"]));
    expected.extend(resp(&["PEXPIREAT", "e", &(T0 + 1000).to_string()]));
    expected.extend(resp(&["HSET", "h", "f", "3", "g", "2"]));
    expected.extend(resp(&["RPUSH", "l", "b", "c"]));
    expected.extend(resp(&["SET", "s", "w"]));
    expected.extend(resp(&["PEXPIREAT", "s", &(T0 + 100_000).to_string()]));
    expect_eq(
        format!("{}: {AOF_NAME}", did.join("; ")),
        shown_bytes(&contents(&disk)),
        shown_bytes(&expected),
    )?;
    let renames = faults.renames();
    expect(
        renames
            .iter()
            .any(|r| r.from == REWRITE_NAME && r.to == AOF_NAME),
        format!(
            "did:      {}\nexpected: the new file written as {REWRITE_NAME}, then renamed over \
             {AOF_NAME} (a crash then leaves one file or the other whole)\ngot:      renames {renames:?}",
            did.join("; ")
        ),
    )?;
    // In order: the new file synced before the rename, the directory after it.
    let trace: Vec<OpKind> = faults.trace()[trace_from..].to_vec();
    let rename = trace.iter().position(|k| *k == OpKind::Rename);
    let sync_before = rename.is_some_and(|r| trace[..r].contains(&OpKind::Sync));
    let dir_sync_after = rename.is_some_and(|r| trace[r..].contains(&OpKind::DirSync));
    expect(
        sync_before && dir_sync_after,
        format!(
            "did:      {}\nexpected: the new file synced, then renamed, then the directory \
             synced\ngot:      the rewrite's disk operations were {trace:?}",
            did.join("; ")
        ),
    )?;
    let (len, durable, named) = files(&disk);
    expect(
        durable == len && named,
        format!(
            "did:      {}\nexpected: the new {AOF_NAME} whole and named on the disk when rewrite \
             returns\ngot:      {durable} of {len} bytes durable, name durable: {named}",
            did.join("; ")
        ),
    )?;
    run(&mut aof, "RPUSH l d", at, &did)?;
    did.push("RPUSH l d".into());
    expected.extend(resp(&["RPUSH", "l", "d"]));
    expect_eq(
        format!("{}: {AOF_NAME}", did.join("; ")),
        shown_bytes(&contents(&disk)),
        shown_bytes(&expected),
    )?;
    // An empty keyspace rewrites to an empty file, and a second rewrite follows the first.
    run(&mut aof, "DEL l h s b\"x e", at, &did)?;
    did.push("DEL l h s b\"x e".into());
    for _ in 0..2 {
        aof.rewrite(at).map_err(|error| {
            Failure::new(format!(
                "did:      {}; rewrite\nexpected: Ok\ngot:      Err({error})",
                did.join("; ")
            ))
        })?;
        did.push("rewrite".into());
        expect_eq(
            format!("{}: {AOF_NAME}", did.join("; ")),
            shown_bytes(&contents(&disk)),
            shown_bytes(b""),
        )?;
    }
    Ok(())
}

fn broken_until_reopened(_: &mut Ctx) -> CheckResult {
    for (kind, what) in [(OpKind::Write, "append"), (OpKind::Sync, "sync")] {
        let disk = SimDisk::new(12);
        let faults = FaultDir::new(&disk, &[]);
        let mut aof = open(faults.dir(), Fsync::Always, T0, "open")?;
        let mut did = vec!["open (Fsync::Always)".to_string()];
        run(&mut aof, "SET a 1", T0, &did)?;
        did.push("SET a 1".into());
        faults.arm(kind, 1, kit::sim::Fault::IoError);
        let first = attempt(|| aof.execute(line("SET a 2"), T0));
        did.push(format!("SET a 2, whose {what} fails"));
        expect(
            first.is_err(),
            format!(
                "did:      {}\nexpected: Err (the {what} failed)\ngot:      {first:?}",
                did.join("; ")
            ),
        )?;
        let second = attempt(|| aof.execute(line("SET b 1"), T0));
        expect(
            second.is_err(),
            format!(
                "did:      {}; SET b 1\nexpected: Err: after a failed {what}, what the file holds \
                 is not known, so no write is taken until it is opened again\ngot:      {second:?}",
                did.join("; ")
            ),
        )?;
        did.push("SET b 1 (refused)".into());
        let got = run(&mut aof, "EXISTS b", T0, &did)?;
        expect_reply(&format!("{}; EXISTS b", did.join("; ")), &got, &int(0))?;
        drop(aof);
        let mut aof = open(faults.dir(), Fsync::Always, T0, &did.join("; "))?;
        did.push("reopen".into());
        run(&mut aof, "SET b 1", T0, &did)?;
        let got = run(&mut aof, "GET a", T0, &did)?;
        expect(
            got == bulk(b"1") || got == bulk(b"2"),
            format!(
                "did:      {}; GET a\nexpected: \"1\" or \"2\"\ngot:      {}",
                did.join("; "),
                shown(&got)
            ),
        )?;
    }
    Ok(())
}

// ---- crashes ----

trait Policy {
    const FSYNC: Fsync;
}

struct AlwaysPolicy;
struct EverySecPolicy;
struct NoPolicy;

impl Policy for AlwaysPolicy {
    const FSYNC: Fsync = Fsync::Always;
}
impl Policy for EverySecPolicy {
    const FSYNC: Fsync = Fsync::EverySec;
}
impl Policy for NoPolicy {
    const FSYNC: Fsync = Fsync::No;
}

/// The append-only file as a key-value store for the kit's crash checks: a put is SET, a delete
/// DEL; a sync is what makes writes durable under the policy (nothing under Always, a second
/// passing and a tick under EverySec, a rewrite under No); maintenance is a rewrite.
struct Under<P>(PhantomData<P>);

struct Clocked {
    aof: Aof,
    now: i64,
}

impl<P: Policy> Subject for Under<P> {
    type Store = Clocked;

    fn open(dir: Arc<dyn Dir>) -> io::Result<Clocked> {
        Ok(Clocked {
            aof: Aof::open(dir, P::FSYNC, T0)?,
            now: T0,
        })
    }

    fn apply(store: &mut Clocked, op: &KvOp) -> io::Result<()> {
        store.now += 1;
        let now = store.now;
        let expect_reply = |reply: Reply, ok: fn(&Reply) -> bool, what: &str| {
            if ok(&reply) {
                Ok(())
            } else {
                Err(io::Error::other(format!(
                    "{what} answered {}",
                    shown(&reply)
                )))
            }
        };
        match op {
            KvOp::Put(k, v) => expect_reply(
                store
                    .aof
                    .execute(request(&[b"SET".as_slice(), k, v]), now)?,
                |r| *r == ok(),
                "SET",
            ),
            KvOp::Delete(k) => expect_reply(
                store.aof.execute(request(&[b"DEL".as_slice(), k]), now)?,
                |r| matches!(r, Reply::Send(Frame::Integer(0 | 1))),
                "DEL",
            ),
            KvOp::Sync => match P::FSYNC {
                Fsync::Always => Ok(()),
                Fsync::EverySec => {
                    store.now += 1000;
                    store.aof.tick(store.now)
                }
                Fsync::No => store.aof.rewrite(now),
            },
            KvOp::Maintain => store.aof.rewrite(now),
            KvOp::Reopen => Ok(()),
        }
    }

    fn get(store: &mut Clocked, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        match store
            .aof
            .execute(request(&[b"GET".as_slice(), key]), store.now)?
        {
            Reply::Send(Frame::Bulk(value)) => Ok(Some(value)),
            Reply::Send(Frame::NullBulk) => Ok(None),
            other => Err(io::Error::other(format!("GET answered {}", shown(&other)))),
        }
    }

    fn syncs_every_write() -> bool {
        P::FSYNC == Fsync::Always
    }
}

fn kv_workload(most: usize) -> impl Strategy<Value = Vec<KvOp>> {
    let key = prop::sample::select(vec![b"a".to_vec(), b"b".to_vec(), Vec::new()]);
    let value = prop_oneof![
        6 => prop::collection::vec(b'a'..=b'z', 1..12),
        1 => Just(Vec::new()),
        1 => Just(vec![b'x'; 700]),
    ];
    let op = prop_oneof![
        6 => (key.clone(), value).prop_map(|(k, v)| KvOp::Put(k, v)),
        2 => key.prop_map(KvOp::Delete),
        2 => Just(KvOp::Sync),
        1 => Just(KvOp::Reopen),
        2 => Just(KvOp::Maintain),
    ];
    prop::collection::vec(op, 1..most)
}

fn scripted() -> Vec<Vec<KvOp>> {
    let put = |k: &[u8], v: &[u8]| KvOp::Put(k.to_vec(), v.to_vec());
    vec![
        vec![
            put(b"a", b"1"),
            put(b"b", &[b'x'; 700]),
            KvOp::Sync,
            put(b"a", b"2"),
        ],
        vec![
            put(b"a", b"1"),
            KvOp::Maintain,
            put(b"a", b"2"),
            KvOp::Delete(b"b".to_vec()),
            KvOp::Maintain,
            put(b"b", b"3"),
        ],
        vec![
            put(b"a", b"1"),
            KvOp::Sync,
            KvOp::Reopen,
            put(b"a", b"2"),
            KvOp::Sync,
        ],
    ]
}

fn crash_limits() -> crash::Limits {
    crash::Limits {
        profile: Profile::HARSH,
        ..crash::Limits::default()
    }
}

fn crash_with<P: Policy>(ctx: &mut Ctx, cases: u32) -> CheckResult {
    let seed = ctx.seed();
    let probes = [b"never written".to_vec()];
    let context = format!("under Fsync::{:?}: ", P::FSYNC);
    for ops in scripted() {
        crash::check::<Under<P>>(seed, &ops, &probes, crash_limits())
            .map_err(|failure| Failure::new(format!("{context}{failure}")))?;
    }
    ctx.forall_named(&["ops"], cases, kv_workload(8), |ops| {
        crash::check::<Under<P>>(seed, &ops, &probes, crash_limits())
            .map(|_| ())
            .map_err(|failure| Failure::new(format!("{context}{failure}")))
    })
}

fn crash_always(ctx: &mut Ctx) -> CheckResult {
    crash_with::<AlwaysPolicy>(ctx, 8)
}

fn crash_everysec_and_no(ctx: &mut Ctx) -> CheckResult {
    crash_with::<EverySecPolicy>(ctx, 6)?;
    crash_with::<NoPolicy>(ctx, 4)
}

fn faults_everywhere(ctx: &mut Ctx) -> CheckResult {
    fn with<P: Policy>(ctx: &mut Ctx, cases: u32) -> CheckResult {
        let context = format!("under Fsync::{:?}:\n", P::FSYNC);
        faults::faults_everywhere::<Under<P>>(
            ctx,
            &scripted(),
            cases,
            kv_workload(6),
            Shape::RECOVERS,
            &context,
        )
    }
    with::<AlwaysPolicy>(ctx, 4)?;
    with::<EverySecPolicy>(ctx, 3)?;
    with::<NoPolicy>(ctx, 3)
}
