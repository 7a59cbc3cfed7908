//! Hidden checks for redis/pubsub.

use std::collections::HashMap;

use judge::prelude::*;
use redis_pubsub::{Broker, ClientId, Limits, Outcome, glob_match};

use crate::support::{command_line, quoted, words};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "SUBSCRIBE and PSUBSCRIBE answer a notice per name with the count of channels plus \
             patterns; twice the same name counts once; UNSUBSCRIBE and PUNSUBSCRIBE with no \
             name leave every one in the order subscribed, or answer one nil notice",
            notices,
        )
        .check(
            "PUBLISH queues a message for each subscriber of the channel, then a pmessage for \
             each of each client's matching patterns in the order it subscribed them, and \
             answers how many it queued; messages of any bytes, empty and 1 MiB",
            publish,
        )
        .check(
            "a subscribed client may only (un)subscribe, PING, QUIT and RESET: anything else \
             is refused with its name; PING answers a pong array; RESET leaves everything; \
             QUIT closes; outside that mode the keyspace's commands pass",
            subscribed_mode,
        )
        .check(
            "arity errors, PUBSUB's unknown subcommands and wrong argument counts, worded as \
             Redis words them, and nothing changed by a refused request",
            errors,
        )
        .check(
            "PUBSUB CHANNELS (sorted, with a pattern), NUMSUB (patterns not counted, names \
             repeated and missing) and NUMPAT (distinct patterns) follow subscribes, \
             unsubscribes and disconnects",
            introspection,
        )
        .check(
            "glob_match and pattern subscriptions agree with Redis's stringmatchlen: ?, *, \
             sets, negated sets, ranges either way round, escapes, unclosed sets, the empty \
             channel",
            glob_rules,
        )
        .check(
            "glob_match answers at once on patterns with many stars that cannot match \
             (*a*a*a...*b against a run of a's), directly and through PSUBSCRIBE and PUBLISH",
            glob_pathological,
        )
        .check(
            "a subscriber that never reads is closed when its output reaches the hard limit \
             (at exactly the limit, not before), all it held freed; the publisher is answered \
             at once and readers that keep up are not touched",
            hard_limit,
        )
        .check(
            "over the soft limit for more than soft_ms (not at exactly soft_ms) closes a \
             client; reading below the soft limit starts its time again",
            soft_limit,
        )
        .check(
            "output hands out the bytes in order in pieces of any size (0, 1, more than \
             pending), and pending counts what is left",
            output_in_pieces,
        )
        .check(
            "disconnect frees a client's channels, patterns and output; ids are never reused; \
             disconnecting twice or an unknown id changes nothing",
            disconnect_frees,
        )
        .check(
            "random sequences of several clients' subscribes, publishes, reads, resets, \
             disconnects and time, under small limits, answer byte for byte as a model does",
            matches_model,
        )
}

// ---- RESP, as the checks write it ----

fn bulk(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

fn array_of_bulks(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for part in parts {
        bulk(&mut out, part);
    }
    out
}

fn notice(kind: &str, name: Option<&[u8]>, count: usize) -> Vec<u8> {
    let mut out = b"*3\r\n".to_vec();
    bulk(&mut out, kind.as_bytes());
    match name {
        Some(name) => bulk(&mut out, name),
        None => out.extend_from_slice(b"$-1\r\n"),
    }
    out.extend_from_slice(format!(":{count}\r\n").as_bytes());
    out
}

fn message(channel: &[u8], data: &[u8]) -> Vec<u8> {
    array_of_bulks(&[b"message", channel, data])
}

fn pmessage(pattern: &[u8], channel: &[u8], data: &[u8]) -> Vec<u8> {
    array_of_bulks(&[b"pmessage", pattern, channel, data])
}

fn integer(n: usize) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

fn error(text: &str) -> Vec<u8> {
    format!("-{text}\r\n").into_bytes()
}

fn context_error(name: &str) -> String {
    format!(
        "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / \
         RESET are allowed in this context"
    )
}

fn arity_error(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// Bytes as a message shows them: RESP's CRLFs as `\r\n`, the rest quoted as redis-cli does.
fn shown(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        "nothing".into()
    } else {
        quoted(bytes)
    }
}

// ---- a session: the learner's broker, what was done to it, and the clients by name ----

/// The learner's broker driven by a script: every request and read is kept for the messages.
struct Session {
    broker: Broker,
    names: Vec<(String, ClientId)>,
    did: Vec<String>,
    now: i64,
}

impl Session {
    fn new(limits: Limits) -> Session {
        Session {
            broker: Broker::new(limits),
            names: Vec::new(),
            did: Vec::new(),
            now: 0,
        }
    }

    fn unlimited() -> Session {
        Session::new(Limits {
            hard: 0,
            soft: 0,
            soft_ms: 0,
        })
    }

    fn connect(&mut self, name: &str) -> ClientId {
        let id = self.broker.connect();
        self.names.push((name.to_string(), id));
        id
    }

    fn id(&self, name: &str) -> ClientId {
        self.names
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, id)| id)
            .expect("a client the check connected")
    }

    fn history(&self) -> String {
        let start = self.did.len().saturating_sub(12);
        let mut lines: Vec<String> = self.did[start..].to_vec();
        if start > 0 {
            lines.insert(0, "...".into());
        }
        lines.join("\n          ")
    }

    /// Client `who` sends `line` (words split at spaces).
    fn send(&mut self, who: &str, line: &str) -> Outcome {
        self.send_args(who, &words(line))
    }

    fn send_args(&mut self, who: &str, args: &[Vec<u8>]) -> Outcome {
        let id = self.id(who);
        self.did.push(format!(
            "{who}: {}{}",
            command_line(args),
            if self.now != 0 {
                format!("    (at now = {})", self.now)
            } else {
                String::new()
            }
        ));
        self.broker.execute(id, args, self.now)
    }

    /// Everything pending for `who`, taken.
    fn take(&mut self, who: &str) -> Option<Vec<u8>> {
        let id = self.id(who);
        self.did
            .push(format!("(the socket of {who} reads everything)"));
        self.broker.output(id, usize::MAX)
    }

    /// Sends `line` for `who`; the outcome must be `outcome` and `who`'s output `expected`.
    fn expect(&mut self, who: &str, line: &str, outcome: Outcome, expected: &[u8]) -> CheckResult {
        self.expect_args(who, &words(line), outcome, expected)
    }

    fn expect_args(
        &mut self,
        who: &str,
        args: &[Vec<u8>],
        outcome: Outcome,
        expected: &[u8],
    ) -> CheckResult {
        let got = self.send_args(who, args);
        let did = self.history();
        expect(
            got == outcome,
            format!(
                "did:      {did}\nexpected: execute returns Outcome::{outcome:?}\ngot:      Outcome::{got:?}"
            ),
        )?;
        self.expect_output(who, expected)
    }

    /// `who`'s pending output must be exactly `expected`; it is taken.
    fn expect_output(&mut self, who: &str, expected: &[u8]) -> CheckResult {
        let id = self.id(who);
        let got = self.broker.output(id, usize::MAX);
        let did = self.history();
        match got {
            None => fail(format!(
                "did:      {did}\nexpected: {who}'s output {}\ngot:      output({who}) is None: the client was closed",
                shown(expected)
            )),
            Some(got) => expect(
                got == expected,
                format!(
                    "did:      {did}\nexpected: {who}'s output {}\ngot:      {}",
                    shown(expected),
                    shown(&got)
                ),
            ),
        }
    }

    fn expect_open(&mut self, who: &str, open: bool) -> CheckResult {
        let id = self.id(who);
        let got = self.broker.is_open(id);
        let did = self.history();
        let say = |open: bool| if open { "open" } else { "closed" };
        expect(
            got == open,
            format!(
                "did:      {did}\nexpected: {who} {} (is_open = {open})\ngot:      {} (is_open = {got})",
                say(open),
                say(got)
            ),
        )
    }

    fn expect_pending(&mut self, who: &str, expected: usize) -> CheckResult {
        let id = self.id(who);
        let got = self.broker.pending(id);
        expect_eq(
            format!("{}\n          then pending({who})", self.history()),
            got,
            expected,
        )
    }

    fn expect_subscriptions(&mut self, expected: usize) -> CheckResult {
        let got = self.broker.subscriptions();
        expect_eq(
            format!("{}\n          then subscriptions()", self.history()),
            got,
            expected,
        )
    }
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

// ---- scripted checks ----

fn notices(_: &mut Ctx) -> CheckResult {
    let mut s = Session::unlimited();
    s.connect("A");
    let done = Outcome::Done;
    s.expect("A", "UNSUBSCRIBE", done, &notice("unsubscribe", None, 0))?;
    s.expect("A", "PUNSUBSCRIBE", done, &notice("punsubscribe", None, 0))?;
    s.expect(
        "A",
        "SUBSCRIBE c1 c2 c1",
        done,
        &cat(&[
            notice("subscribe", Some(b"c1"), 1),
            notice("subscribe", Some(b"c2"), 2),
            notice("subscribe", Some(b"c1"), 2),
        ]),
    )?;
    s.expect(
        "A",
        "PSUBSCRIBE c* h?llo c*",
        done,
        &cat(&[
            notice("psubscribe", Some(b"c*"), 3),
            notice("psubscribe", Some(b"h?llo"), 4),
            notice("psubscribe", Some(b"c*"), 4),
        ]),
    )?;
    s.expect_subscriptions(4)?;
    s.expect(
        "A",
        "SUBSCRIBE c0",
        done,
        &notice("subscribe", Some(b"c0"), 5),
    )?;
    s.expect(
        "A",
        "UNSUBSCRIBE zz",
        done,
        &notice("unsubscribe", Some(b"zz"), 5),
    )?;
    s.expect(
        "A",
        "PUNSUBSCRIBE nope c*",
        done,
        &cat(&[
            notice("punsubscribe", Some(b"nope"), 5),
            notice("punsubscribe", Some(b"c*"), 4),
        ]),
    )?;
    // With no name: every channel, in the order subscribed; the count goes down to the
    // patterns left.
    s.expect(
        "A",
        "unsubscribe",
        done,
        &cat(&[
            notice("unsubscribe", Some(b"c1"), 3),
            notice("unsubscribe", Some(b"c2"), 2),
            notice("unsubscribe", Some(b"c0"), 1),
        ]),
    )?;
    s.expect("A", "UnSubscribe", done, &notice("unsubscribe", None, 1))?;
    s.expect(
        "A",
        "PSUBSCRIBE a* b*",
        done,
        &cat(&[
            notice("psubscribe", Some(b"a*"), 2),
            notice("psubscribe", Some(b"b*"), 3),
        ]),
    )?;
    s.expect(
        "A",
        "PUNSUBSCRIBE",
        done,
        &cat(&[
            notice("punsubscribe", Some(b"h?llo"), 2),
            notice("punsubscribe", Some(b"a*"), 1),
            notice("punsubscribe", Some(b"b*"), 0),
        ]),
    )?;
    s.expect_subscriptions(0)?;
    // Binary names: the bytes as given.
    let odd = vec![
        b"SUBSCRIBE".to_vec(),
        b"a\r\nb".to_vec(),
        Vec::new(),
        vec![0, 255],
    ];
    s.expect_args(
        "A",
        &odd,
        done,
        &cat(&[
            notice("subscribe", Some(b"a\r\nb"), 1),
            notice("subscribe", Some(b""), 2),
            notice("subscribe", Some(&[0, 255]), 3),
        ]),
    )
}

fn publish(_: &mut Ctx) -> CheckResult {
    let mut s = Session::unlimited();
    for who in ["A", "B", "C", "P"] {
        s.connect(who);
    }
    let done = Outcome::Done;
    s.send("A", "SUBSCRIBE news");
    s.send("B", "SUBSCRIBE news");
    s.send("B", "PSUBSCRIBE n* * news");
    s.send("C", "PSUBSCRIBE s?orts");
    for who in ["A", "B", "C"] {
        s.take(who);
    }
    s.expect("P", "PUBLISH news hi", done, &integer(5))?;
    s.expect_output("A", &message(b"news", b"hi"))?;
    s.expect_output(
        "B",
        &cat(&[
            message(b"news", b"hi"),
            pmessage(b"n*", b"news", b"hi"),
            pmessage(b"*", b"news", b"hi"),
            pmessage(b"news", b"news", b"hi"),
        ]),
    )?;
    s.expect_output("C", b"")?;
    s.expect("P", "PUBLISH sports goal", done, &integer(2))?;
    s.expect_output("A", b"")?;
    s.expect_output("B", &pmessage(b"*", b"sports", b"goal"))?;
    s.expect_output("C", &pmessage(b"s?orts", b"sports", b"goal"))?;
    s.expect("P", "PUBLISH nothing-here x", done, &integer(2))?;
    s.take("B");
    s.send("B", "PUNSUBSCRIBE *");
    s.take("B");
    s.expect("P", "PUBLISH quiet x", done, &integer(0))?;
    // A later subscriber gets only what is published after it subscribed.
    s.connect("D");
    s.send("D", "SUBSCRIBE news");
    s.take("D");
    s.expect("P", "PUBLISH news again", done, &integer(5))?;
    s.expect_output("D", &message(b"news", b"again"))?;
    for who in ["A", "B"] {
        s.take(who);
    }
    // Any bytes: CR LF inside, empty, 1 MiB.
    for data in [b"a\r\nb".to_vec(), Vec::new(), vec![0x5A; 1 << 20]] {
        let args = vec![b"PUBLISH".to_vec(), b"news".to_vec(), data.clone()];
        s.expect_args("P", &args, done, &integer(5))?;
        s.expect_output("A", &message(b"news", &data))?;
        s.take("B");
        s.take("D");
    }
    Ok(())
}

fn subscribed_mode(_: &mut Ctx) -> CheckResult {
    let mut s = Session::unlimited();
    s.connect("A");
    let (done, pass) = (Outcome::Done, Outcome::Pass);
    // Outside the mode, everything but pub/sub belongs to the keyspace.
    for line in ["GET x", "PING", "QUIT", "RESET", "SET k v", "FOO"] {
        s.expect("A", line, pass, b"")?;
    }
    s.expect("A", "PUBLISH c m", done, &integer(0))?;
    s.send("A", "SUBSCRIBE c");
    s.take("A");
    s.expect("A", "GET x", done, &error(&context_error("get")))?;
    s.expect("A", "Set k v", done, &error(&context_error("set")))?;
    s.expect("A", "PUBLISH c m", done, &error(&context_error("publish")))?;
    s.expect(
        "A",
        "PUBSUB NUMSUB c",
        done,
        &error(&context_error("pubsub|numsub")),
    )?;
    s.expect("A", "ping", done, &array_of_bulks(&[b"pong", b""]))?;
    s.expect("A", "PING hi", done, &array_of_bulks(&[b"pong", b"hi"]))?;
    s.expect("A", "PING a b", done, &error(&arity_error("ping")))?;
    s.expect("A", "RESET x", done, &error(&arity_error("reset")))?;
    // Back to normal once the last channel is gone.
    s.expect(
        "A",
        "UNSUBSCRIBE c",
        done,
        &notice("unsubscribe", Some(b"c"), 0),
    )?;
    s.expect("A", "GET x", pass, b"")?;
    // A pattern alone is the mode too.
    s.send("A", "PSUBSCRIBE p*");
    s.take("A");
    s.expect("A", "GET x", done, &error(&context_error("get")))?;
    // RESET: out of everything, no notices.
    s.send("A", "SUBSCRIBE c d");
    s.take("A");
    s.expect("A", "RESET", done, b"+RESET\r\n")?;
    s.expect_subscriptions(0)?;
    s.expect("A", "GET x", pass, b"")?;
    s.connect("P");
    s.expect("P", "PUBLISH c m", done, &integer(0))?;
    s.expect("P", "PUBLISH pp m", done, &integer(0))?;
    // QUIT in the mode: +OK, then the server closes.
    s.send("A", "SUBSCRIBE c");
    s.take("A");
    s.expect("A", "QUIT", Outcome::Close, b"+OK\r\n")
}

fn errors(_: &mut Ctx) -> CheckResult {
    let mut s = Session::unlimited();
    s.connect("A");
    s.connect("B");
    let done = Outcome::Done;
    s.send("B", "SUBSCRIBE c");
    s.send("B", "PSUBSCRIBE p*");
    s.take("B");
    let cases: Vec<(Vec<Vec<u8>>, String)> = vec![
        (words("SUBSCRIBE"), arity_error("subscribe")),
        (words("psubscribe"), arity_error("psubscribe")),
        (words("PUBLISH c"), arity_error("publish")),
        (words("PUBLISH c m x"), arity_error("publish")),
        (words("PUBSUB"), arity_error("pubsub")),
        (
            words("PUBSUB foo"),
            "ERR unknown subcommand 'foo'. Try PUBSUB HELP.".into(),
        ),
        (
            words("pubsub CHANNELS a b"),
            "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."
                .into(),
        ),
        (words("PUBSUB NUMPAT x"), arity_error("pubsub|numpat")),
    ];
    for (args, text) in &cases {
        s.expect_args("A", args, done, &error(text))?;
    }
    // The mode's own commands are checked for arity before the mode is.
    s.expect("B", "SUBSCRIBE", done, &error(&arity_error("subscribe")))?;
    s.expect("B", "PUBLISH c", done, &error(&arity_error("publish")))?;
    s.expect(
        "B",
        "PUBSUB foo",
        done,
        &error("ERR unknown subcommand 'foo'. Try PUBSUB HELP."),
    )?;
    // Nothing changed.
    s.expect_subscriptions(2)?;
    s.expect("A", "PUBLISH c m", done, &integer(1))?;
    s.expect_output("B", &message(b"c", b"m"))
}

fn introspection(_: &mut Ctx) -> CheckResult {
    let mut s = Session::unlimited();
    for who in ["A", "B", "Q"] {
        s.connect(who);
    }
    let done = Outcome::Done;
    s.expect("Q", "PUBSUB CHANNELS", done, b"*0\r\n")?;
    s.expect("Q", "PUBSUB NUMPAT", done, b":0\r\n")?;
    s.expect("Q", "PUBSUB NUMSUB", done, b"*0\r\n")?;
    s.send("A", "SUBSCRIBE news sports b");
    s.send("B", "SUBSCRIBE news a");
    s.send("A", "PSUBSCRIBE n* s*");
    s.send("B", "PSUBSCRIBE n* x");
    s.expect(
        "Q",
        "PUBSUB CHANNELS",
        done,
        &array_of_bulks(&[b"a", b"b", b"news", b"sports"]),
    )?;
    s.expect(
        "Q",
        "PUBSUB channels *s*",
        done,
        &array_of_bulks(&[b"news", b"sports"]),
    )?;
    s.expect("Q", "PUBSUB CHANNELS zz*", done, b"*0\r\n")?;
    let mut numsub = b"*8\r\n".to_vec();
    for (name, count) in [("news", 2), ("a", 1), ("n*", 0), ("news", 2)] {
        bulk(&mut numsub, name.as_bytes());
        numsub.extend_from_slice(&integer(count));
    }
    s.expect("Q", "PUBSUB NUMSUB news a n* news", done, &numsub)?;
    s.expect("Q", "PUBSUB NUMPAT", done, &integer(3))?;
    s.send("A", "PUNSUBSCRIBE n*");
    s.expect("Q", "PUBSUB NUMPAT", done, &integer(3))?;
    s.send("B", "PUNSUBSCRIBE n*");
    s.expect("Q", "PUBSUB NUMPAT", done, &integer(2))?;
    s.send("A", "UNSUBSCRIBE news");
    let mut one = b"*2\r\n".to_vec();
    bulk(&mut one, b"news");
    one.extend_from_slice(&integer(1));
    s.expect("Q", "PUBSUB NUMSUB news", done, &one)?;
    let b = s.id("B");
    s.did.push("(B disconnects)".into());
    s.broker.disconnect(b);
    s.expect(
        "Q",
        "PUBSUB CHANNELS",
        done,
        &array_of_bulks(&[b"b", b"sports"]),
    )?;
    s.expect("Q", "PUBSUB NUMPAT", done, &integer(1))
}

// ---- patterns ----

/// Redis's `stringmatchlen`, as the README describes it (the checks' own copy).
fn redis_glob(pattern: &[u8], channel: &[u8]) -> bool {
    fn from(pattern: &[u8], channel: &[u8], skip_longer: &mut bool) -> bool {
        let (mut p, mut s) = (0, 0);
        while p < pattern.len() && s < channel.len() {
            match pattern[p] {
                b'*' => {
                    while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                        p += 1;
                    }
                    if p + 1 == pattern.len() {
                        return true;
                    }
                    for start in s..channel.len() {
                        if from(&pattern[p + 1..], &channel[start..], skip_longer) {
                            return true;
                        }
                        if *skip_longer {
                            return false;
                        }
                    }
                    *skip_longer = true;
                    return false;
                }
                b'?' => s += 1,
                b'[' => {
                    p += 1;
                    let negate = pattern.get(p) == Some(&b'^');
                    if negate {
                        p += 1;
                    }
                    let mut hit = false;
                    loop {
                        if p + 1 < pattern.len() && pattern[p] == b'\\' {
                            p += 1;
                            hit |= pattern[p] == channel[s];
                        } else if p >= pattern.len() {
                            p -= 1;
                            break;
                        } else if pattern[p] == b']' {
                            break;
                        } else if p + 2 < pattern.len() && pattern[p + 1] == b'-' {
                            let (a, b) = (
                                pattern[p].min(pattern[p + 2]),
                                pattern[p].max(pattern[p + 2]),
                            );
                            hit |= (a..=b).contains(&channel[s]);
                            p += 2;
                        } else {
                            hit |= pattern[p] == channel[s];
                        }
                        p += 1;
                    }
                    if hit == negate {
                        return false;
                    }
                    s += 1;
                }
                byte => {
                    let literal = if byte == b'\\' && p + 1 < pattern.len() {
                        p += 1;
                        pattern[p]
                    } else {
                        byte
                    };
                    if literal != channel[s] {
                        return false;
                    }
                    s += 1;
                }
            }
            p += 1;
            if s == channel.len() {
                while p < pattern.len() && pattern[p] == b'*' {
                    p += 1;
                }
                break;
            }
        }
        p == pattern.len() && s == channel.len()
    }
    from(pattern, channel, &mut false)
}

/// Pairs whose answers a plausible glob gets wrong, each with Redis's answer (checked against
/// a real Redis 7.0 when this was written).
const GLOB_EDGES: &[(&[u8], &[u8], bool)] = &[
    (b"*", b"", false),
    (b"", b"", true),
    (b"", b"a", false),
    (b"*", b"a", true),
    (b"a*", b"a", true),
    (b"a**", b"a", true),
    (b"*a", b"a", true),
    (b"?", b"", false),
    (b"?", b"ab", false),
    (b"a?c", b"abc", true),
    (b"h[ae]llo", b"hallo", true),
    (b"h[ae]llo", b"hillo", false),
    (b"h[^e]llo", b"hallo", true),
    (b"h[^e]llo", b"hello", false),
    (b"h[a-b]llo", b"hbllo", true),
    (b"h[b-a]llo", b"hbllo", true),
    (b"h[b-a]llo", b"hcllo", false),
    (b"[a-]", b"-", false),
    (b"[a-]", b"a", true),
    (b"[-a]", b"-", true),
    (b"[ab", b"a", true),
    (b"[ab", b"b", true),
    (b"[ab", b"c", false),
    (b"[^", b"a", true),
    (b"[", b"a", false),
    (b"[]", b"a", false),
    (b"[]]", b"]", false),
    (b"[\\]]", b"]", true),
    (b"[\\]", b"\\", false),
    (b"\\*", b"*", true),
    (b"\\*", b"a", false),
    (b"x\\?", b"x?", true),
    (b"x\\?", b"xy", false),
    (b"a\\", b"a\\", true),
    (b"\\", b"\\", true),
    (b"*\\", b"ab\\", true),
    (b"a*b*c", b"axxbyyc", true),
    (b"a*b*c", b"axxbyyd", false),
    (b"*.*", b"news.sport", true),
    (b"news.*", b"news.", true),
    (b"news.*", b"news.x", true),
];

fn glob_rules(ctx: &mut Ctx) -> CheckResult {
    for &(pattern, channel, matches) in GLOB_EDGES {
        let got = glob_match(pattern, channel);
        expect(
            got == matches,
            format!(
                "did:      glob_match({}, {})\nexpected: {matches}\ngot:      {got}",
                quoted(pattern),
                quoted(channel)
            ),
        )?;
    }
    // Many pairs at once through PUBSUB CHANNELS: one client subscribed to every short channel
    // over a small alphabet, and each pattern asked which of them it matches.
    const ALPHABET: &[u8] = b"ab-[]^\\*?";
    let mut channels: Vec<Vec<u8>> = vec![Vec::new()];
    for len in 1..=3 {
        let mut next = Vec::new();
        for prefix in channels.iter().filter(|c| c.len() == len - 1) {
            for &byte in ALPHABET {
                let mut c = prefix.clone();
                c.push(byte);
                next.push(c);
            }
        }
        channels.extend(next);
    }
    let mut s = Session::unlimited();
    s.connect("S");
    s.connect("Q");
    let mut subscribe = vec![b"SUBSCRIBE".to_vec()];
    subscribe.extend(channels.iter().cloned());
    s.send_args("S", &subscribe);
    s.did.clear();
    s.did.push(format!(
        "S: SUBSCRIBE to every channel of 0 to 3 bytes from {} ({} channels)",
        quoted(ALPHABET),
        channels.len()
    ));
    let mut rng = ctx.rng();
    let mut patterns: Vec<Vec<u8>> = GLOB_EDGES.iter().map(|&(p, _, _)| p.to_vec()).collect();
    while patterns.len() < 400 {
        let len = rng.random_range(0..=6);
        patterns.push(
            (0..len)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
                .collect(),
        );
    }
    let q = s.id("Q");
    for pattern in patterns {
        let mut expected: Vec<&Vec<u8>> = channels
            .iter()
            .filter(|c| redis_glob(&pattern, c))
            .collect();
        expected.sort();
        let parts: Vec<&[u8]> = expected.iter().map(|c| c.as_slice()).collect();
        let args = vec![b"PUBSUB".to_vec(), b"CHANNELS".to_vec(), pattern.clone()];
        s.broker.execute(q, &args, 0);
        if s.broker.output(q, usize::MAX) != Some(array_of_bulks(&parts)) {
            // Name the channels it got wrong, by asking glob_match itself.
            let wrong: Vec<String> = channels
                .iter()
                .filter(|c| glob_match(&pattern, c) != redis_glob(&pattern, c))
                .take(6)
                .map(|c| {
                    format!(
                        "{} ({})",
                        quoted(c),
                        if redis_glob(&pattern, c) {
                            "matches"
                        } else {
                            "does not match"
                        }
                    )
                })
                .collect();
            return fail(format!(
                "did:      {}
          Q: {}
expected: the channels the pattern matches, sorted ({} of them)
got:      another list; glob_match is wrong about {}",
                s.history(),
                command_line(&args),
                expected.len(),
                if wrong.is_empty() {
                    "none of them: the list itself is wrong (sorted? each once?)".to_string()
                } else {
                    wrong.join(", ")
                }
            ));
        }
    }
    Ok(())
}

fn glob_pathological(_: &mut Ctx) -> CheckResult {
    let pattern: Vec<u8> = [&b"*a".repeat(14)[..], b"*b"].concat();
    let channel = vec![b'a'; 60];
    let got = glob_match(&pattern, &channel);
    expect(
        !got,
        format!(
            "did:      glob_match({}, {})\nexpected: false\ngot:      {got}",
            quoted(&pattern),
            quoted(&channel)
        ),
    )?;
    let mut s = Session::unlimited();
    s.connect("S");
    s.connect("P");
    let mut psub = vec![b"PSUBSCRIBE".to_vec(), pattern.clone()];
    psub.push(b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c*".to_vec());
    s.send_args("S", &psub);
    s.take("S");
    let publish = vec![b"PUBLISH".to_vec(), channel, b"m".to_vec()];
    s.expect_args("P", &publish, Outcome::Done, &integer(0))
}

// ---- the output limits ----

fn hard_limit(_: &mut Ctx) -> CheckResult {
    // The hard limit is exactly ten messages' bytes.
    let payload = vec![b'x'; 80];
    let one = message(b"c", &payload).len();
    let hard = 10 * one;
    let mut s = Session::new(Limits {
        hard,
        soft: 0,
        soft_ms: 0,
    });
    for who in ["slow", "reader", "P"] {
        s.connect(who);
    }
    s.send("slow", "SUBSCRIBE c");
    s.send("reader", "SUBSCRIBE c");
    s.take("slow");
    s.take("reader");
    let publish = vec![b"PUBLISH".to_vec(), b"c".to_vec(), payload.clone()];
    for sent in 1..10 {
        s.expect_args("P", &publish, Outcome::Done, &integer(2))?;
        s.expect_pending("slow", sent * one)?;
        s.expect_open("slow", true)?;
        s.expect_output("reader", &message(b"c", &payload))?;
    }
    // The tenth makes exactly `hard` bytes: closed, and still counted.
    s.expect_args("P", &publish, Outcome::Done, &integer(2))?;
    s.expect_open("slow", false)?;
    s.expect_pending("slow", 0)?;
    let slow = s.id("slow");
    let got = s.broker.output(slow, usize::MAX);
    expect(
        got.is_none(),
        format!(
            "did:      {}\n          then output(slow)\nexpected: None: the client was closed at the hard limit\ngot:      {:?} bytes",
            s.history(),
            got.map(|g| g.len())
        ),
    )?;
    s.expect_subscriptions(1)?;
    s.expect_args("P", &publish, Outcome::Done, &integer(1))?;
    s.expect_output(
        "reader",
        &cat(&[message(b"c", &payload), message(b"c", &payload)]),
    )?;
    // A client's own replies count too: notices it never reads.
    s.connect("chatty");
    let each = notice("subscribe", Some(b"a-channel-name-of-some-length"), 1).len();
    for sent in 1..=hard.div_ceil(each) {
        s.send("chatty", "SUBSCRIBE a-channel-name-of-some-length");
        s.expect_open("chatty", sent * each < hard)?;
    }
    Ok(())
}

fn soft_limit(_: &mut Ctx) -> CheckResult {
    let payload = vec![b'y'; 76];
    let one = message(b"c", &payload).len(); // 100 bytes
    let mut s = Session::new(Limits {
        hard: 0,
        soft: 3 * one,
        soft_ms: 1000,
    });
    s.connect("slow");
    s.connect("P");
    s.send("slow", "SUBSCRIBE c");
    s.take("slow");
    let publish = vec![b"PUBLISH".to_vec(), b"c".to_vec(), payload.clone()];
    // Over the soft limit from t = 10 (three messages: exactly `soft` bytes counts as over).
    for t in [0, 5, 10] {
        s.now = t;
        s.send_args("P", &publish);
    }
    s.now = 1010;
    s.send_args("P", &publish);
    s.expect_open("slow", true)?;
    s.take("P");
    s.now = 1011;
    s.expect_args("P", &publish, Outcome::Done, &integer(1))?;
    s.expect_open("slow", false)?;

    // Reading below the soft limit starts the time again.
    let mut s = Session::new(Limits {
        hard: 0,
        soft: 3 * one,
        soft_ms: 1000,
    });
    s.connect("slow");
    s.connect("P");
    s.send("slow", "SUBSCRIBE c");
    s.take("slow");
    for t in [0, 0, 0] {
        s.now = t;
        s.send_args("P", &publish);
    }
    let slow = s.id("slow");
    s.did
        .push("(the socket of slow reads 100 bytes, at now = 500)".into());
    s.broker.output(slow, one);
    s.now = 900;
    s.send_args("P", &publish); // over again, from 900
    s.now = 1500;
    s.send_args("P", &publish);
    s.expect_open("slow", true)?;
    s.now = 1900;
    s.send_args("P", &publish);
    s.expect_open("slow", true)?;
    s.now = 1901;
    s.send_args("P", &publish);
    s.expect_open("slow", false)?;

    // A read that leaves it still over does not.
    let mut s = Session::new(Limits {
        hard: 0,
        soft: 3 * one,
        soft_ms: 1000,
    });
    s.connect("slow");
    s.connect("P");
    s.send("slow", "SUBSCRIBE c");
    s.take("slow");
    for _ in 0..5 {
        s.send_args("P", &publish);
    }
    let slow = s.id("slow");
    s.did
        .push("(the socket of slow reads 100 bytes, leaving 400)".into());
    s.broker.output(slow, one);
    s.now = 1001;
    s.send_args("P", &publish);
    s.expect_open("slow", false)
}

fn output_in_pieces(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::unlimited();
    s.connect("A");
    s.connect("P");
    s.send("A", "SUBSCRIBE c");
    let mut expected = notice("subscribe", Some(b"c"), 1);
    for i in 0..20 {
        let data = format!("message number {i}").into_bytes();
        let publish = vec![b"PUBLISH".to_vec(), b"c".to_vec(), data.clone()];
        s.send_args("P", &publish);
        expected.extend(message(b"c", &data));
    }
    s.take("P");
    let a = s.id("A");
    let mut rng = ctx.rng();
    let mut got = Vec::new();
    let mut sizes = Vec::new();
    while got.len() < expected.len() {
        let size = match rng.random_range(0..4) {
            0 => 0,
            1 => 1,
            2 => rng.random_range(2..60),
            _ => 10_000,
        };
        sizes.push(size);
        let piece = s.broker.output(a, size).unwrap_or_default();
        let did = format!(
            "{}\n          then output(A, n) for n in {sizes:?}",
            s.history()
        );
        expect(
            piece.len() <= size
                && (piece.len() == size || got.len() + piece.len() == expected.len()),
            format!(
                "did:      {did}\nexpected: min(n, pending) bytes\ngot:      {} bytes",
                piece.len()
            ),
        )?;
        got.extend(piece);
        let pending = s.broker.pending(a);
        expect_eq(
            format!("{did}, then pending(A)"),
            pending,
            expected.len() - got.len(),
        )?;
        if sizes.len() > 10_000 {
            break;
        }
    }
    expect(
        got == expected,
        format!(
            "did:      {}\n          then output(A, n) for n in {sizes:?}\nexpected: {}\ngot:      {}",
            s.history(),
            shown(&expected),
            shown(&got)
        ),
    )
}

fn disconnect_frees(_: &mut Ctx) -> CheckResult {
    let mut s = Session::unlimited();
    for who in ["A", "B", "P"] {
        s.connect(who);
    }
    s.send("A", "SUBSCRIBE c d");
    s.send("A", "PSUBSCRIBE c* *");
    s.send("B", "SUBSCRIBE c");
    s.send("P", "PUBLISH c m");
    s.expect_subscriptions(5)?;
    let a = s.id("A");
    s.did.push("(A disconnects)".into());
    s.broker.disconnect(a);
    s.expect_open("A", false)?;
    s.expect_pending("A", 0)?;
    s.expect_subscriptions(1)?;
    s.take("P");
    s.expect("P", "PUBLISH c m", Outcome::Done, &integer(1))?;
    s.expect("P", "PUBSUB NUMPAT", Outcome::Done, &integer(0))?;
    s.did
        .push("(A disconnects again; then client id 999999 disconnects)".into());
    s.broker.disconnect(a);
    s.broker.disconnect(999_999);
    s.expect_subscriptions(1)?;
    s.expect_open("B", true)?;
    // A new client never gets an old one's id, nor its subscriptions.
    let mut seen = vec![s.id("A"), s.id("B"), s.id("P")];
    for i in 0..5 {
        let name = format!("N{i}");
        let id = s.connect(&name);
        expect(
            !seen.contains(&id),
            format!(
                "did:      {}\n          then connect()\nexpected: an id not given before ({seen:?})\ngot:      {id}",
                s.history()
            ),
        )?;
        seen.push(id);
        s.send(&name, "PING");
    }
    s.expect("P", "PUBLISH d m", Outcome::Done, &integer(0))
}

// ---- the model ----

/// The broker as the README describes it, for the random sequences.
struct Model {
    limits: Limits,
    clients: HashMap<usize, ModelClient>,
}

#[derive(Default)]
struct ModelClient {
    channels: Vec<Vec<u8>>,
    patterns: Vec<Vec<u8>>,
    pending: Vec<u8>,
    over_since: Option<i64>,
}

impl Model {
    fn append(&mut self, client: usize, bytes: &[u8], now: i64) {
        let limits = self.limits;
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        c.pending.extend_from_slice(bytes);
        let pending = c.pending.len();
        let over_hard = limits.hard > 0 && pending >= limits.hard;
        let over_soft = limits.soft > 0 && pending >= limits.soft;
        let since = if over_soft {
            *c.over_since.get_or_insert(now)
        } else {
            c.over_since = None;
            now
        };
        if over_hard || (over_soft && now - since > limits.soft_ms) {
            self.clients.remove(&client);
        }
    }

    fn count(&self, client: usize) -> usize {
        self.clients
            .get(&client)
            .map_or(0, |c| c.channels.len() + c.patterns.len())
    }

    fn run(&mut self, client: usize, args: &[Vec<u8>], now: i64) -> Outcome {
        if !self.clients.contains_key(&client) || args.is_empty() {
            return Outcome::Done;
        }
        let name = args[0].to_ascii_lowercase();
        let name_text = String::from_utf8_lossy(&name).into_owned();
        let subscribed = self.count(client) > 0;
        let (min, max) = match name.as_slice() {
            b"subscribe" | b"psubscribe" => (2, usize::MAX),
            b"unsubscribe" | b"punsubscribe" => (1, usize::MAX),
            b"publish" => (3, 3),
            b"pubsub" => (2, usize::MAX),
            b"ping" if subscribed => (1, 2),
            b"reset" if subscribed => (1, 1),
            b"quit" if subscribed => (1, usize::MAX),
            _ if subscribed => {
                self.append(client, &error(&context_error(&name_text)), now);
                return Outcome::Done;
            }
            _ => return Outcome::Pass,
        };
        if args.len() < min || args.len() > max {
            self.append(client, &error(&arity_error(&name_text)), now);
            return Outcome::Done;
        }
        if subscribed && name.as_slice() == b"publish" {
            self.append(client, &error(&context_error("publish")), now);
            return Outcome::Done;
        }
        let rest = &args[1..];
        match name.as_slice() {
            b"subscribe" | b"psubscribe" => {
                let pattern = name.as_slice() == b"psubscribe";
                for n in rest {
                    let Some(c) = self.clients.get_mut(&client) else {
                        break;
                    };
                    let list = if pattern {
                        &mut c.patterns
                    } else {
                        &mut c.channels
                    };
                    if !list.contains(n) {
                        list.push(n.clone());
                    }
                    let count = self.count(client);
                    self.append(client, &notice(&name_text, Some(n), count), now);
                }
            }
            b"unsubscribe" | b"punsubscribe" => {
                let pattern = name.as_slice() == b"punsubscribe";
                let c = &self.clients[&client];
                let own = if pattern { &c.patterns } else { &c.channels };
                let names = if rest.is_empty() {
                    own.clone()
                } else {
                    rest.to_vec()
                };
                if names.is_empty() {
                    let count = self.count(client);
                    self.append(client, &notice(&name_text, None, count), now);
                }
                for n in names {
                    let Some(c) = self.clients.get_mut(&client) else {
                        break;
                    };
                    let list = if pattern {
                        &mut c.patterns
                    } else {
                        &mut c.channels
                    };
                    list.retain(|x| *x != n);
                    let count = self.count(client);
                    self.append(client, &notice(&name_text, Some(&n), count), now);
                }
            }
            b"publish" => {
                let (channel, data) = (&rest[0], &rest[1]);
                let mut ids: Vec<usize> = self.clients.keys().copied().collect();
                ids.sort();
                let mut deliveries = Vec::new();
                for &id in &ids {
                    if self.clients[&id].channels.contains(channel) {
                        deliveries.push((id, message(channel, data)));
                    }
                }
                for &id in &ids {
                    for p in &self.clients[&id].patterns {
                        if redis_glob(p, channel) {
                            deliveries.push((id, pmessage(p, channel, data)));
                        }
                    }
                }
                let receivers = deliveries.len();
                for (id, bytes) in deliveries {
                    self.append(id, &bytes, now);
                }
                self.append(client, &integer(receivers), now);
            }
            b"pubsub" => {
                let sub = rest[0].to_ascii_lowercase();
                let shown = String::from_utf8_lossy(&rest[0]).into_owned();
                let full = format!("pubsub|{}", String::from_utf8_lossy(&sub));
                let reply = match sub.as_slice() {
                    b"channels" | b"numsub" | b"numpat" if subscribed => {
                        error(&context_error(&full))
                    }
                    b"channels" if rest.len() > 2 => error(&format!(
                        "ERR unknown subcommand or wrong number of arguments for '{shown}'. Try PUBSUB HELP."
                    )),
                    b"channels" => {
                        let mut all: Vec<Vec<u8>> = self
                            .clients
                            .values()
                            .flat_map(|c| c.channels.iter().cloned())
                            .filter(|n| rest.get(1).is_none_or(|p| redis_glob(p, n)))
                            .collect();
                        all.sort();
                        all.dedup();
                        let parts: Vec<&[u8]> = all.iter().map(|n| n.as_slice()).collect();
                        array_of_bulks(&parts)
                    }
                    b"numsub" => {
                        let mut out = format!("*{}\r\n", 2 * (rest.len() - 1)).into_bytes();
                        for n in &rest[1..] {
                            bulk(&mut out, n);
                            let count = self
                                .clients
                                .values()
                                .filter(|c| c.channels.contains(n))
                                .count();
                            out.extend(integer(count));
                        }
                        out
                    }
                    b"numpat" if rest.len() != 1 => error(&arity_error(&full)),
                    b"numpat" => {
                        let mut all: Vec<&Vec<u8>> = self
                            .clients
                            .values()
                            .flat_map(|c| c.patterns.iter())
                            .collect();
                        all.sort();
                        all.dedup();
                        integer(all.len())
                    }
                    _ => error(&format!(
                        "ERR unknown subcommand '{shown}'. Try PUBSUB HELP."
                    )),
                };
                self.append(client, &reply, now);
            }
            b"ping" => {
                let echo = rest.first().cloned().unwrap_or_default();
                self.append(client, &array_of_bulks(&[b"pong", &echo]), now);
            }
            b"reset" => {
                if let Some(c) = self.clients.get_mut(&client) {
                    c.channels.clear();
                    c.patterns.clear();
                }
                self.append(client, b"+RESET\r\n", now);
            }
            _ => {
                self.append(client, b"+OK\r\n", now);
                return Outcome::Close;
            }
        }
        Outcome::Done
    }

    fn output(&mut self, client: usize, max: usize) -> Option<Vec<u8>> {
        let soft = self.limits.soft;
        let c = self.clients.get_mut(&client)?;
        let taken = max.min(c.pending.len());
        let bytes: Vec<u8> = c.pending.drain(..taken).collect();
        if soft == 0 || c.pending.len() < soft {
            c.over_since = None;
        }
        Some(bytes)
    }
}

#[derive(Debug, Clone)]
enum Step {
    Send(usize, Vec<Vec<u8>>),
    Read(usize, usize),
    Disconnect(usize),
    Reconnect(usize),
    Wait(i64),
}

const CLIENTS: usize = 4;

fn step() -> impl Strategy<Value = Step> {
    let client = || 0..CLIENTS;
    let channel =
        || prop::sample::select(vec!["c", "d", "cd", "x", ""]).prop_map(|c| c.as_bytes().to_vec());
    let pattern = || {
        prop::sample::select(vec!["c*", "*", "?", "[cd]", "[^c]*", "\\*", "c?", "x"])
            .prop_map(|p| p.as_bytes().to_vec())
    };
    let data = prop_oneof![
        3 => prop::sample::select(vec!["m", "", "hello"]).prop_map(|d| d.as_bytes().to_vec()),
        1 => (1usize..300).prop_map(|n| vec![b'z'; n]),
    ];
    let with = |name: &'static str, rest: Vec<Vec<u8>>| {
        let mut args = vec![name.as_bytes().to_vec()];
        args.extend(rest);
        args
    };
    let names = |one: BoxedStrategy<Vec<u8>>| prop::collection::vec(one, 0..3);
    prop_oneof![
        3 => (client(), names(channel().boxed())).prop_map(move |(c, n)| Step::Send(c, with("SUBSCRIBE", n))),
        2 => (client(), names(channel().boxed())).prop_map(move |(c, n)| Step::Send(c, with("UNSUBSCRIBE", n))),
        2 => (client(), names(pattern().boxed())).prop_map(move |(c, n)| Step::Send(c, with("PSUBSCRIBE", n))),
        1 => (client(), names(pattern().boxed())).prop_map(move |(c, n)| Step::Send(c, with("PUNSUBSCRIBE", n))),
        5 => (client(), channel(), data).prop_map(move |(c, ch, d)| Step::Send(c, with("PUBLISH", vec![ch, d]))),
        1 => (client(), prop::sample::select(vec!["PUBSUB CHANNELS", "PUBSUB NUMPAT", "PUBSUB NUMSUB c d", "PUBSUB CHANNELS c*", "PING", "PING x", "GET k", "RESET", "QUIT"]))
            .prop_map(|(c, line)| Step::Send(c, words(line))),
        3 => (client(), prop_oneof![Just(0usize), 1usize..50, Just(usize::MAX)]).prop_map(|(c, n)| Step::Read(c, n)),
        1 => client().prop_map(Step::Disconnect),
        1 => client().prop_map(Step::Reconnect),
        2 => prop_oneof![1i64..30, Just(100i64)].prop_map(Step::Wait),
    ]
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    let limits = Limits {
        hard: 900,
        soft: 400,
        soft_ms: 50,
    };
    ctx.forall_named(
        &["steps"],
        200,
        prop::collection::vec(step(), 1..40),
        |steps| {
            let mut broker = Broker::new(limits);
            let mut model = Model {
                limits,
                clients: HashMap::new(),
            };
            let mut ids: Vec<ClientId> = Vec::new();
            for slot in 0..CLIENTS {
                ids.push(broker.connect());
                model.clients.insert(slot, ModelClient::default());
            }
            let mut slots: Vec<usize> = (0..CLIENTS).collect();
            let mut next_slot = CLIENTS;
            let mut now = 0i64;
            let mut did: Vec<String> = Vec::new();
            let name = |c: usize| (b'A' + c as u8) as char;
            for step in &steps {
                match step {
                    Step::Send(c, args) => {
                        did.push(format!("{}: {}", name(*c), command_line(args)));
                        let got = broker.execute(ids[*c], args, now);
                        let expected = model.run(slots[*c], args, now);
                        expect(
                            got == expected,
                            format!(
                                "did:      {}\nexpected: Outcome::{expected:?}\ngot:      Outcome::{got:?}",
                                did.join("\n          ")
                            ),
                        )?;
                    }
                    Step::Read(c, n) => {
                        did.push(format!("(the socket of {} reads up to {n} bytes)", name(*c)));
                        let got = broker.output(ids[*c], *n);
                        let expected = model.output(slots[*c], *n);
                        let show = |o: &Option<Vec<u8>>| match o {
                            None => "None (closed)".to_string(),
                            Some(bytes) => shown(bytes),
                        };
                        expect(
                            got == expected,
                            format!(
                                "did:      {}\nexpected: {}\ngot:      {}",
                                did.join("\n          "),
                                show(&expected),
                                show(&got)
                            ),
                        )?;
                    }
                    Step::Disconnect(c) => {
                        did.push(format!("({} disconnects)", name(*c)));
                        broker.disconnect(ids[*c]);
                        model.clients.remove(&slots[*c]);
                    }
                    Step::Reconnect(c) => {
                        did.push(format!("({} disconnects and a new client takes its name)", name(*c)));
                        broker.disconnect(ids[*c]);
                        model.clients.remove(&slots[*c]);
                        ids[*c] = broker.connect();
                        slots[*c] = next_slot;
                        model.clients.insert(next_slot, ModelClient::default());
                        next_slot += 1;
                    }
                    Step::Wait(ms) => {
                        now += ms;
                        did.push(format!("(now = {now})"));
                    }
                }
                for c in 0..CLIENTS {
                    let open = broker.is_open(ids[c]);
                    let pending = broker.pending(ids[c]);
                    let expected = model.clients.get(&slots[c]);
                    let expected_open = expected.is_some();
                    let expected_pending = expected.map_or(0, |m| m.pending.len());
                    expect(
                        open == expected_open && pending == expected_pending,
                        format!(
                            "did:      {}\nexpected: {} {}, {expected_pending} bytes pending\ngot:      {} {}, {pending} bytes pending",
                            did.join("\n          "),
                            name(c),
                            if expected_open { "open" } else { "closed" },
                            name(c),
                            if open { "open" } else { "closed" },
                        ),
                    )?;
                }
                let subscriptions: usize = model
                    .clients
                    .values()
                    .map(|c| c.channels.len() + c.patterns.len())
                    .sum();
                expect_eq(
                    format!("{}\n          then subscriptions()", did.join("\n          ")),
                    broker.subscriptions(),
                    subscriptions,
                )?;
            }
            Ok(())
        },
    )
}
