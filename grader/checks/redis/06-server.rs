//! Hidden checks for redis/server.
//!
//! The judge binds a listening socket, hands it to the learner's server, and connects to it as
//! any client would: raw RESP bytes for byte-exact replies, and a real client library. Every
//! socket has a read timeout, so a server that does not answer fails with a message.

use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use judge::prelude::*;
use kit::redis;
use redis_server::Server;

/// How long a client waits for a reply before it calls the server silent.
const PATIENCE: Duration = Duration::from_secs(2);

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "PING answers +PONG and ECHO its argument byte for byte (CRLF and NUL inside it \
             too), on a real socket",
            ping_and_echo,
        )
        .check(
            "requests sent together in one write (a pipeline) are all answered, in order, each \
             reply byte-exact",
            pipelined,
        )
        .check(
            "a pipeline that arrives in pieces of any size, cut anywhere, is answered as if it \
             came whole",
            in_pieces,
        )
        .check(
            "a request that arrives a byte at a time is answered once, when its last byte comes, \
             and not before",
            byte_at_a_time,
        )
        .check(
            "clients share one keyspace: what one client has written, any other reads next",
            shared_keyspace,
        )
        .check(
            "many clients at once, each with a pipeline of its own, are each answered in order",
            many_clients,
        )
        .check(
            "bytes that are not RESP get -ERR Protocol error (the README's words) and a closed \
             connection; the requests before them are answered, the ones after never run",
            protocol_errors,
        )
        .check(
            "a length over the limits is refused as soon as its line ends, and a request that \
             is not an array at its first byte, without waiting for data that may never come",
            refused_at_once,
        )
        .check(
            "a request that is not an array of bulk strings is answered with the error the \
             keyspace gives, then the connection closes and nothing after it runs",
            closing_requests,
        )
        .check(
            "clients() counts the connected clients: one that disconnects, even mid-request, is \
             counted out, and the others carry on",
            disconnects,
        )
        .check(
            "a key with a TTL is gone once its time is up: for a client that asks for it, and \
             for DBSIZE, within a few expire cycles, when nobody asks",
            expiry,
        )
        .check(
            "a pipeline of set and sorted-set commands in one write is answered byte for byte \
             as Redis 7 answers it: scores, ranks, ranges, errors",
            sets_pipelined,
        )
        .check(
            "a real Redis client library works: commands, binary values, a pipeline",
            real_client,
        )
        .check(
            "a real Redis client library reads sets and sorted sets: members, scores as \
             doubles, ranks, ranges with scores",
            real_client_sets,
        )
        .check(
            "a 1 MiB value comes back whole, and 10,000 requests in one write are all answered",
            large,
        )
}

// ---- requests, replies and a model of the keyspace ----

/// The commands these checks send: a few of the keyspace scene's, enough to see state, order
/// and types.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cmd {
    Ping,
    Echo(Vec<u8>),
    Set(Vec<u8>, Vec<u8>),
    Get(Vec<u8>),
    Del(Vec<Vec<u8>>),
    Rpush(Vec<u8>, Vec<Vec<u8>>),
    Llen(Vec<u8>),
}

impl Cmd {
    fn args(&self) -> Vec<Vec<u8>> {
        let word = |w: &str| w.as_bytes().to_vec();
        match self {
            Cmd::Ping => vec![word("PING")],
            Cmd::Echo(m) => vec![word("ECHO"), m.clone()],
            Cmd::Set(k, v) => vec![word("SET"), k.clone(), v.clone()],
            Cmd::Get(k) => vec![word("GET"), k.clone()],
            Cmd::Del(keys) => [vec![word("DEL")], keys.clone()].concat(),
            Cmd::Rpush(k, values) => [vec![word("RPUSH"), k.clone()], values.clone()].concat(),
            Cmd::Llen(k) => vec![word("LLEN"), k.clone()],
        }
    }

    fn bytes(&self) -> Vec<u8> {
        request(&self.args())
    }
}

/// A request as a client sends it: an array of bulk strings.
fn request(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn bulk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

#[derive(Default, Clone)]
struct Model {
    strings: std::collections::HashMap<Vec<u8>, Vec<u8>>,
    lists: std::collections::HashMap<Vec<u8>, usize>,
}

impl Model {
    /// Runs `cmd` and gives the reply's bytes, as Redis writes them.
    fn run(&mut self, cmd: &Cmd) -> Vec<u8> {
        match cmd {
            Cmd::Ping => b"+PONG\r\n".to_vec(),
            Cmd::Echo(m) => bulk(m),
            Cmd::Set(k, v) => {
                self.lists.remove(k);
                self.strings.insert(k.clone(), v.clone());
                b"+OK\r\n".to_vec()
            }
            Cmd::Get(k) if self.lists.contains_key(k) => WRONGTYPE.to_vec(),
            Cmd::Get(k) => match self.strings.get(k) {
                Some(v) => bulk(v),
                None => b"$-1\r\n".to_vec(),
            },
            Cmd::Del(keys) => {
                let gone = keys
                    .iter()
                    .filter(|k| self.strings.remove(*k).is_some() | self.lists.remove(*k).is_some())
                    .count();
                format!(":{gone}\r\n").into_bytes()
            }
            Cmd::Rpush(k, _) if self.strings.contains_key(k) => WRONGTYPE.to_vec(),
            Cmd::Rpush(k, values) => {
                let len = self.lists.entry(k.clone()).or_default();
                *len += values.len();
                format!(":{len}\r\n").into_bytes()
            }
            Cmd::Llen(k) if self.strings.contains_key(k) => WRONGTYPE.to_vec(),
            Cmd::Llen(k) => {
                format!(":{}\r\n", self.lists.get(k).copied().unwrap_or(0)).into_bytes()
            }
        }
    }
}

/// Commands on a handful of keys (with `prefix`), so that they meet each other's values.
fn commands(prefix: &str) -> impl Strategy<Value = Cmd> + use<> {
    let keys = ["a", "b", "c", "list"].map(|k| format!("{prefix}{k}").into_bytes());
    let key = prop::sample::select(keys.to_vec());
    let value = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..12),
        Just(b"with\r\nCRLF\0".to_vec()),
    ];
    prop_oneof![
        Just(Cmd::Ping),
        value.clone().prop_map(Cmd::Echo),
        (key.clone(), value.clone()).prop_map(|(k, v)| Cmd::Set(k, v)),
        key.clone().prop_map(Cmd::Get),
        prop::collection::vec(key.clone(), 1..4).prop_map(Cmd::Del),
        (key.clone(), prop::collection::vec(value, 1..4)).prop_map(|(k, v)| Cmd::Rpush(k, v)),
        key.prop_map(Cmd::Llen),
    ]
}

/// A script as redis-cli would show it, one command a line.
fn shown(cmds: &[Cmd]) -> String {
    let mut out = String::new();
    for cmd in cmds {
        let words: Vec<String> = cmd.args().iter().map(|a| word(a)).collect();
        let _ = writeln!(out, "  {}", words.join(" "));
    }
    out
}

/// One argument, quoted where redis-cli would quote it.
fn word(arg: &[u8]) -> String {
    let plain = !arg.is_empty()
        && arg
            .iter()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\'));
    if plain {
        return String::from_utf8_lossy(arg).into_owned();
    }
    format!("\"{}\"", escaped(arg))
}

/// Bytes as a Rust string literal would spell them.
fn escaped(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}

/// At most `limit` bytes of `bytes`, escaped, for a message.
fn clipped(bytes: &[u8], limit: usize) -> String {
    if bytes.len() <= limit {
        return format!("\"{}\"", escaped(bytes));
    }
    format!(
        "\"{}\"... ({} bytes in all)",
        escaped(&bytes[..limit]),
        bytes.len()
    )
}

// ---- the server and its clients ----

/// A server of the learner's, started on a socket of the judge's.
fn start() -> Result<(Server, SocketAddr), Failure> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Failure::new(format!("the checks could not listen on loopback: {e}")))?;
    let addr = listener
        .local_addr()
        .expect("a bound socket has an address");
    let server = Server::start(listener)
        .map_err(|e| Failure::new(format!("did: Server::start(listener)\ngot: Err({e})")))?;
    Ok((server, addr))
}

fn connect(addr: SocketAddr) -> Result<TcpStream, Failure> {
    let stream = TcpStream::connect_timeout(&addr, PATIENCE)
        .map_err(|e| Failure::new(format!("connecting to the server failed: {e}")))?;
    stream.set_read_timeout(Some(PATIENCE)).expect("a timeout");
    stream.set_write_timeout(Some(PATIENCE)).expect("a timeout");
    // Small writes go out as written, so that pieces arrive as pieces.
    stream.set_nodelay(true).expect("nodelay");
    Ok(stream)
}

/// How a read of a reply ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// As many bytes as were expected came.
    Complete,
    /// The server closed the connection.
    Closed,
    /// Nothing more came for PATIENCE.
    Silent,
}

/// Reads until `want` bytes have come, the connection closes, or the server falls silent.
fn read_up_to(stream: &mut TcpStream, want: usize) -> (Vec<u8>, Ended) {
    let mut got = Vec::with_capacity(want.min(1 << 20));
    let mut chunk = vec![0u8; 64 << 10];
    while got.len() < want {
        let room = (want - got.len()).min(chunk.len());
        match stream.read(&mut chunk[..room]) {
            Ok(0) => return (got, Ended::Closed),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (got, Ended::Silent);
            }
            Err(_) => return (got, Ended::Closed),
        }
    }
    (got, Ended::Complete)
}

/// Whether the server closes the connection now (after anything it still had to send).
fn closes(stream: &mut TcpStream) -> Ended {
    let mut chunk = [0u8; 256];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Ended::Closed,
            Ok(_) => return Ended::Complete,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ended::Silent;
            }
            Err(_) => return Ended::Closed,
        }
    }
}

/// Sends `pieces` (with a pause between them, so that each arrives on its own) while reading
/// the replies, and holds them to `expected`, byte for byte.
fn exchange(stream: &mut TcpStream, pieces: &[Vec<u8>], expected: &[u8]) -> Result<(), String> {
    let mut writer = stream.try_clone().expect("a clone of the stream");
    let (got, ended) = std::thread::scope(|scope| {
        // Written from a thread of its own: a server that answers while the client still
        // writes must not wait on a client that is not reading.
        scope.spawn(move || {
            for (i, piece) in pieces.iter().enumerate() {
                if writer.write_all(piece).is_err() {
                    return;
                }
                if i + 1 < pieces.len() && pieces.len() > 1 {
                    std::thread::sleep(Duration::from_micros(150));
                }
            }
        });
        read_up_to(stream, expected.len())
    });
    if got == expected {
        return Ok(());
    }
    let at = got.iter().zip(expected).take_while(|(a, b)| a == b).count();
    let how = match ended {
        Ended::Complete => "",
        Ended::Closed => ", then the server closed the connection",
        Ended::Silent => ", then nothing for 2 s",
    };
    let start = at.saturating_sub(20);
    Err(format!(
        "expected {} bytes of replies; got {}{how}. They first differ at byte {at}:\n\
         expected: {}\ngot:      {}",
        expected.len(),
        got.len(),
        clipped(&expected[start..], 120),
        clipped(&got[start.min(got.len())..], 120),
    ))
}

fn script_bytes(cmds: &[Cmd]) -> Vec<u8> {
    cmds.iter().flat_map(Cmd::bytes).collect()
}

fn replies(model: &mut Model, cmds: &[Cmd]) -> Vec<u8> {
    cmds.iter().flat_map(|c| model.run(c)).collect()
}

/// Splits `bytes` into pieces of 1 to `max` bytes, at places drawn from `cuts`.
fn cut(bytes: &[u8], cuts: &[usize], max: usize) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < bytes.len() {
        let len = 1 + cuts.get(i).copied().unwrap_or(max) % max;
        let end = (at + len).min(bytes.len());
        pieces.push(bytes[at..end].to_vec());
        at = end;
        i += 1;
    }
    pieces
}

// ---- the checks ----

fn ping_and_echo(_: &mut Ctx) -> CheckResult {
    let (_server, addr) = start()?;
    let mut stream = connect(addr)?;
    let cases: Vec<(Vec<Vec<u8>>, Vec<u8>)> = vec![
        (vec![b"PING".to_vec()], b"+PONG\r\n".to_vec()),
        (vec![b"ping".to_vec()], b"+PONG\r\n".to_vec()),
        (vec![b"ECHO".to_vec(), b"hello".to_vec()], bulk(b"hello")),
        (vec![b"ECHO".to_vec(), Vec::new()], bulk(b"")),
        (
            vec![b"ECHO".to_vec(), b"a\r\nb\0c".to_vec()],
            bulk(b"a\r\nb\0c"),
        ),
    ];
    for (args, expected) in cases {
        let words: Vec<String> = args.iter().map(|a| word(a)).collect();
        exchange(&mut stream, &[request(&args)], &expected)
            .map_err(|e| Failure::new(format!("sent: {}\n{e}", words.join(" "))))?;
    }
    // Empty requests get no reply at all (Reply::Nothing): one would put every later reply of
    // a pipelining client out of step with its requests.
    exchange(
        &mut stream,
        &[b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n".to_vec()],
        b"+PONG\r\n",
    )
    .map_err(|e| {
        Failure::new(format!(
            "sent in one write: \"*0\\r\\n\" and \"*-1\\r\\n\" (empty requests, which get no \
                 reply), then PING\n{e}"
        ))
    })
}

fn pipelined(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_n(32, prop::collection::vec(commands(""), 1..60), |cmds| {
        let (_server, addr) = start()?;
        let mut stream = connect(addr)?;
        let expected = replies(&mut Model::default(), &cmds);
        exchange(&mut stream, &[script_bytes(&cmds)], &expected).map_err(|e| {
            Failure::new(format!(
                "sent in one write, on a fresh server:\n{}{e}",
                shown(&cmds)
            ))
        })
    })
}

fn in_pieces(ctx: &mut Ctx) -> CheckResult {
    let strategy = (
        prop::collection::vec(commands(""), 1..30),
        prop::collection::vec(any::<usize>(), 0..400),
    );
    ctx.forall_n(24, strategy, |(cmds, cuts)| {
        let (_server, addr) = start()?;
        let mut stream = connect(addr)?;
        let expected = replies(&mut Model::default(), &cmds);
        let pieces = cut(&script_bytes(&cmds), &cuts, 9);
        let sizes: Vec<String> = pieces.iter().map(|p| p.len().to_string()).collect();
        exchange(&mut stream, &pieces, &expected).map_err(|e| {
            Failure::new(format!(
                "sent in pieces of {} bytes, on a fresh server:\n{}{e}",
                sizes.join(", "),
                shown(&cmds)
            ))
        })
    })
}

fn byte_at_a_time(_: &mut Ctx) -> CheckResult {
    let (_server, addr) = start()?;
    let mut stream = connect(addr)?;
    let bytes = request(&[b"ECHO".to_vec(), b"hello".to_vec()]);
    stream
        .set_read_timeout(Some(Duration::from_millis(5)))
        .expect("a timeout");
    for (i, byte) in bytes.iter().enumerate() {
        stream
            .write_all(std::slice::from_ref(byte))
            .map_err(|e| Failure::new(format!("writing to the server failed: {e}")))?;
        if i + 1 == bytes.len() {
            break;
        }
        let mut early = [0u8; 64];
        match stream.read(&mut early) {
            Ok(0) => {
                return fail(format!(
                    "sent \"{}\" a byte at a time: after {} bytes, \"{}\", the server closed \
                     the connection; it must keep them and wait for the rest",
                    escaped(&bytes),
                    i + 1,
                    escaped(&bytes[..=i])
                ));
            }
            Ok(n) => {
                return fail(format!(
                    "sent \"{}\" a byte at a time: after only {} bytes, \"{}\", the server \
                     answered \"{}\"; a request is answered once it is whole",
                    escaped(&bytes),
                    i + 1,
                    escaped(&bytes[..=i]),
                    escaped(&early[..n])
                ));
            }
            Err(_) => {}
        }
    }
    stream.set_read_timeout(Some(PATIENCE)).expect("a timeout");
    exchange(&mut stream, &[], &bulk(b"hello")).map_err(|e| {
        Failure::new(format!(
            "sent \"{}\" a byte at a time, then waited:\n{e}",
            escaped(&bytes)
        ))
    })
}

fn shared_keyspace(ctx: &mut Ctx) -> CheckResult {
    let strategy = prop::collection::vec((0..3usize, commands("")), 1..40);
    ctx.forall_n(16, strategy, |script| {
        let (_server, addr) = start()?;
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(connect(addr)?);
        }
        let mut model = Model::default();
        for (step, (client, cmd)) in script.iter().enumerate() {
            let expected = model.run(cmd);
            exchange(&mut clients[*client], &[cmd.bytes()], &expected).map_err(|e| {
                let done: Vec<String> = script[..=step]
                    .iter()
                    .map(|(c, cmd)| {
                        format!("client {c}: {}", shown(std::slice::from_ref(cmd)).trim())
                    })
                    .collect();
                Failure::new(format!(
                    "three clients of one server, each waiting for its reply before the next \
                     request:\n  {}\nthe last reply was wrong:\n{e}",
                    done.join("\n  ")
                ))
            })?;
        }
        Ok(())
    })
}

fn many_clients(ctx: &mut Ctx) -> CheckResult {
    const CLIENTS: usize = 12;
    // Each client's keys are its own, so its replies follow from its own script.
    let scripts: Vec<_> = (0..CLIENTS)
        .map(|i| prop::collection::vec(commands(&format!("c{i}:")), 20..150))
        .collect();
    ctx.forall_n(4, scripts, |scripts| {
        let (_server, addr) = start()?;
        // All connected before any sends: a server that serves one client at a time shows.
        let mut streams = Vec::new();
        for _ in 0..CLIENTS {
            streams.push(connect(addr)?);
        }
        let outcomes: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = streams
                .iter_mut()
                .zip(&scripts)
                .map(|(stream, cmds)| {
                    scope.spawn(move || {
                        let expected = replies(&mut Model::default(), cmds);
                        exchange(stream, &[script_bytes(cmds)], &expected)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("a client's thread panicked".into()))
                })
                .collect()
        });
        for (i, outcome) in outcomes.into_iter().enumerate() {
            outcome.map_err(|e| {
                Failure::new(format!(
                    "{CLIENTS} clients connected, then each sent a pipeline of its own at once \
                     (each on its own keys). Client {i} sent:\n{}{e}",
                    shown(&scripts[i])
                ))
            })?;
        }
        Ok(())
    })
}

/// Bytes that are not RESP, and the README's words for each.
fn bad_input() -> Vec<(Vec<u8>, &'static str)> {
    vec![
        (b"hello\r\n".to_vec(), "unknown type byte"),
        (b"*abc\r\n".to_vec(), "invalid number"),
        (b"*1\r\n$3\r\nGETXY".to_vec(), "line not ended by CRLF"),
        (b"*1\r\n$536870913\r\n".to_vec(), "invalid bulk length"),
        (b"*1048577\r\n".to_vec(), "invalid multibulk length"),
        // 129 arrays, one inside the other: one past the limit.
        (b"*1\r\n".repeat(129), "too deeply nested"),
    ]
}

fn protocol_errors(_: &mut Ctx) -> CheckResult {
    for (bad, words) in bad_input() {
        let (server, addr) = start()?;
        let mut stream = connect(addr)?;
        let before = Cmd::Set(b"k".to_vec(), b"before".to_vec());
        let after = Cmd::Set(b"k".to_vec(), b"after".to_vec());
        let sent = [before.bytes(), bad.clone(), after.bytes()].concat();
        let error = format!("-ERR Protocol error: {words}\r\n");
        let expected = [b"+OK\r\n".as_slice(), error.as_bytes()].concat();
        let did = format!(
            "sent in one write: SET k before, then \"{}\", then SET k after",
            escaped(&bad)
        );
        exchange(&mut stream, &[sent], &expected)
            .map_err(|e| Failure::new(format!("{did}\n{e}")))?;
        match closes(&mut stream) {
            Ended::Closed => {}
            Ended::Complete => {
                return fail(format!(
                    "{did}\nthe server sent more after the protocol error; it must close the \
                     connection"
                ));
            }
            Ended::Silent => {
                return fail(format!(
                    "{did}\nthe server answered the protocol error but kept the connection \
                     open; after bytes that are not RESP it must close it"
                ));
            }
        }
        closed_before_after(&server, addr, &did, "bytes")?;
    }
    Ok(())
}

fn refused_at_once(_: &mut Ctx) -> CheckResult {
    // Bytes the server reads whole before it answers: closing on unread bytes would reset the
    // connection and could lose the answer on the way.
    let endless_line = [&b"+"[..], &[b'a'; 1000]].concat();
    let cases: [(&[u8], &str); 5] = [
        (b"*1\r\n$4294967296\r\n", "invalid bulk length"),
        (b"*2\r\n$3\r\nGET\r\n$536870913\r\n", "invalid bulk length"),
        (b"*4294967296\r\n", "invalid multibulk length"),
        // Not arrays: refused at their first byte, before their line ends.
        (&endless_line, "expected '*', got '+'"),
        (b"$1000\r\n", "expected '*', got '$'"),
    ];
    for (header, words) in cases {
        let (_server, addr) = start()?;
        let mut stream = connect(addr)?;
        let error = format!("-ERR Protocol error: {words}\r\n");
        let did = format!(
            "sent \"{}\" and nothing more, keeping the connection open",
            clipped(header, 40)
        );
        exchange(&mut stream, &[header.to_vec()], error.as_bytes())
            .map_err(|e| Failure::new(format!("{did}\n{e}")))?;
        if closes(&mut stream) != Ended::Closed {
            return fail(format!(
                "{did}\nthe server answered, but did not close the connection"
            ));
        }
    }
    Ok(())
}

fn closing_requests(_: &mut Ctx) -> CheckResult {
    // Frames that parse, but are no request: the keyspace answers them with an error that
    // closes the connection.
    let cases: [&[u8]; 3] = [b":5\r\n", b"*1\r\n:5\r\n", b"+PING\r\n"];
    for bad in cases {
        let (server, addr) = start()?;
        let mut stream = connect(addr)?;
        let before = Cmd::Set(b"k".to_vec(), b"before".to_vec());
        let after = Cmd::Set(b"k".to_vec(), b"after".to_vec());
        let did = format!(
            "sent in one write: SET k before, then \"{}\", then SET k after",
            escaped(bad)
        );
        stream
            .write_all(&[before.bytes(), bad.to_vec(), after.bytes()].concat())
            .map_err(|e| Failure::new(format!("writing to the server failed: {e}")))?;
        let (got, ended) = read_up_to(&mut stream, 1 << 16);
        let prefix: &[u8] = b"+OK\r\n-ERR Protocol error: ";
        if !got.starts_with(prefix) || !got.ends_with(b"\r\n") || ended != Ended::Closed {
            let how = match ended {
                Ended::Closed => "then the connection closed",
                _ => "and the connection stayed open",
            };
            return fail(format!(
                "{did}\nexpected: +OK, then an error starting -ERR Protocol error:, then the \
                 connection closed\ngot:      {} {how}",
                clipped(&got, 200)
            ));
        }
        closed_before_after(&server, addr, &did, "request")?;
    }
    Ok(())
}

/// After the server closed a connection on `SET k before`, something bad, `SET k after`: the
/// client is counted out, and another client finds k as the first SET left it.
fn closed_before_after(server: &Server, addr: SocketAddr, did: &str, bad: &str) -> CheckResult {
    clients_become(
        server,
        0,
        &format!("{did}\nthe server closed the connection, and the client has not connected since"),
    )?;
    let mut other = connect(addr)?;
    exchange(
        &mut other,
        &[Cmd::Get(b"k".to_vec()).bytes()],
        &bulk(b"before"),
    )
    .map_err(|e| {
        Failure::new(format!(
            "{did}\nthen another client sent GET k: nothing after the bad {bad} may run\n{e}"
        ))
    })
}

/// Waits until `server.clients()` is `want`, as a disconnect takes a moment to be seen.
fn clients_become(server: &Server, want: usize, did: &str) -> CheckResult {
    let started = Instant::now();
    loop {
        let now = server.clients();
        if now == want {
            return Ok(());
        }
        if started.elapsed() > PATIENCE {
            return fail(format!(
                "{did}\nexpected: clients() == {want} (within 2 s)\ngot:      {now}"
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn disconnects(_: &mut Ctx) -> CheckResult {
    let (server, addr) = start()?;
    clients_become(&server, 0, "started a server, connected nobody")?;
    let mut streams = Vec::new();
    for _ in 0..5 {
        let mut stream = connect(addr)?;
        exchange(&mut stream, &[Cmd::Ping.bytes()], b"+PONG\r\n")
            .map_err(|e| Failure::new(format!("sent: PING\n{e}")))?;
        streams.push(stream);
    }
    clients_become(
        &server,
        5,
        "connected 5 clients, each sent PING and got +PONG",
    )?;
    // One leaves cleanly, one in the middle of a request, one in the middle of a length.
    drop(streams.pop());
    let mut half = streams.pop().expect("a client");
    let _ = half.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhel");
    drop(half);
    let mut cut = streams.pop().expect("a client");
    let _ = cut.write_all(b"*2\r\n$4");
    drop(cut);
    let did = "connected 5 clients, then one closed its connection, one closed it halfway \
               through SET k hello, one halfway through a length line";
    clients_become(&server, 2, did)?;
    for (i, stream) in streams.iter_mut().enumerate() {
        exchange(stream, &[Cmd::Get(b"k".to_vec()).bytes()], b"$-1\r\n").map_err(|e| {
            Failure::new(format!(
                "{did}\nthen client {i} of those left sent GET k (the half-sent SET must not \
                 have run):\n{e}"
            ))
        })?;
    }
    drop(streams);
    clients_become(
        &server,
        0,
        "then the last two clients closed their connections",
    )?;
    let mut late = connect(addr)?;
    exchange(&mut late, &[Cmd::Ping.bytes()], b"+PONG\r\n").map_err(|e| {
        Failure::new(format!(
            "after every client had gone, a new one connected and sent PING:\n{e}"
        ))
    })
}

/// Sends `args` and holds the reply to `expected`, saying what was done before on failure.
fn ask(stream: &mut TcpStream, did: &str, args: &[&[u8]], expected: &[u8]) -> CheckResult {
    let args: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
    let words: Vec<String> = args.iter().map(|a| word(a)).collect();
    exchange(stream, &[request(&args)], expected)
        .map_err(|e| Failure::new(format!("{did}\nthen sent: {}\n{e}", words.join(" "))))
}

fn expiry(_: &mut Ctx) -> CheckResult {
    let (_server, addr) = start()?;
    let mut stream = connect(addr)?;
    // The time a command runs at is the time it runs, not when the executor last woke up.
    for _ in 0..5 {
        ask(
            &mut stream,
            "on a server",
            &[b"SET", b"k", b"v", b"PX", b"30"],
            b"+OK\r\n",
        )?;
        ask(&mut stream, "SET k v PX 30", &[b"GET", b"k"], &bulk(b"v"))?;
        std::thread::sleep(Duration::from_millis(45));
        ask(
            &mut stream,
            "SET k v PX 30, GET k, then 45 ms later (the key expired 15 ms ago)",
            &[b"GET", b"k"],
            b"$-1\r\n",
        )?;
    }
    // Keys nobody asks for again: only the executor's cycles can remove them. Twice: once
    // the first lot is gone, a cycle has just run, so the second lot's wait shows the period.
    purged(&mut stream, addr, "t", Duration::from_millis(1500))?;
    purged(&mut stream, addr, "u", Duration::from_millis(500))
}

/// Sets 200 keys named `prefix`i with a TTL of 30 ms, and waits for DBSIZE to show them gone,
/// for at most `within`.
fn purged(stream: &mut TcpStream, addr: SocketAddr, prefix: &str, within: Duration) -> CheckResult {
    let sets: Vec<u8> = (0..200)
        .flat_map(|i| {
            request(&[
                b"SET".to_vec(),
                format!("{prefix}{i}").into_bytes(),
                b"x".to_vec(),
                b"PX".to_vec(),
                b"30".to_vec(),
            ])
        })
        .collect();
    let did = format!("SET {prefix}i x PX 30 for i in 0..200, then nothing asked of those keys");
    exchange(stream, &[sets], &b"+OK\r\n".repeat(200))
        .map_err(|e| Failure::new(format!("sent: {did}\n{e}")))?;
    let started = Instant::now();
    loop {
        // A connection per question: a longer answer than expected leaves nothing behind.
        let mut probe = connect(addr)?;
        let reply = exchange(&mut probe, &[request(&[b"DBSIZE".to_vec()])], b":0\r\n");
        if reply.is_ok() {
            return Ok(());
        }
        if started.elapsed() > within {
            return reply.map_err(|e| {
                Failure::new(format!(
                    "{did}\nthen sent DBSIZE for {} ms: the expired keys must go within a few \
                     expire cycles (one every 100 ms), without anyone asking for them\nthe last \
                     answer: {e}",
                    within.as_millis()
                ))
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A session of set and sorted-set commands, and what redis-server 7.0 answered it, byte for
/// byte, when it was sent in one write.
const SETS_SCRIPT: [&str; 26] = [
    "SADD tags rust redis skiplist",
    "SADD tags rust",
    "SCARD tags",
    "SISMEMBER tags redis",
    "SMISMEMBER tags rust go",
    "SADD other go rust",
    "SINTER tags other",
    "SDIFF other tags",
    "SREM other go rust",
    "EXISTS other",
    "ZADD board 10 ada 20 bob 20 cy 35 dee 0.1 eve",
    "ZRANGE board 0 -1 WITHSCORES",
    "ZINCRBY board 1.5 ada",
    "ZADD board GT CH 5 bob 25 cy",
    "ZRANK board cy",
    "ZREVRANK board cy",
    "ZRANGE board (11.5 +inf BYSCORE LIMIT 1 2",
    "ZRANGEBYSCORE board -inf (20 WITHSCORES",
    "ZCOUNT board (0.1 25",
    "ZSCORE board eve",
    "ZADD board NX XX 1 a",
    "ZRANGE board 0 1 LIMIT 0 1",
    "ZADD board nan x",
    "ZADD tags 1 a",
    "ZREM board ada bob cy dee eve",
    "TYPE board",
];

const SETS_REPLIES: &[u8] = b":3\r\n:0\r\n:3\r\n:1\r\n*2\r\n:1\r\n:0\r\n:2\r\n*1\r\n$4\r\nrust\r\n\
    *1\r\n$2\r\ngo\r\n:2\r\n:0\r\n:5\r\n*10\r\n$3\r\neve\r\n$19\r\n0.10000000000000001\r\n\
    $3\r\nada\r\n$2\r\n10\r\n$3\r\nbob\r\n$2\r\n20\r\n$2\r\ncy\r\n$2\r\n20\r\n$3\r\ndee\r\n\
    $2\r\n35\r\n$4\r\n11.5\r\n:1\r\n:3\r\n:1\r\n*2\r\n$2\r\ncy\r\n$3\r\ndee\r\n*4\r\n\
    $3\r\neve\r\n$19\r\n0.10000000000000001\r\n$3\r\nada\r\n$4\r\n11.5\r\n:3\r\n\
    $19\r\n0.10000000000000001\r\n\
    -ERR XX and NX options at the same time are not compatible\r\n\
    -ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n\
    -ERR value is not a valid float\r\n\
    -WRONGTYPE Operation against a key holding the wrong kind of value\r\n:5\r\n+none\r\n";

fn sets_pipelined(_: &mut Ctx) -> CheckResult {
    let (_server, addr) = start()?;
    let mut stream = connect(addr)?;
    let bytes: Vec<u8> = SETS_SCRIPT
        .iter()
        .flat_map(|line| {
            let args: Vec<Vec<u8>> = line.split(' ').map(|w| w.as_bytes().to_vec()).collect();
            request(&args)
        })
        .collect();
    exchange(&mut stream, &[bytes], SETS_REPLIES).map_err(|e| {
        Failure::new(format!(
            "sent in one write, on a fresh server:\n  {}\n{e}",
            SETS_SCRIPT.join("\n  ")
        ))
    })
}

fn real_client_sets(_: &mut Ctx) -> CheckResult {
    let (_server, addr) = start()?;
    let client = redis::Client::open(format!("redis://{addr}/"))
        .map_err(|e| Failure::new(format!("the client library refused the address: {e}")))?;
    let mut conn = client
        .get_connection_with_timeout(PATIENCE)
        .map_err(|e| Failure::new(format!("the client library could not connect: {e}")))?;
    let step = |what: &str, e: redis::RedisError| {
        Failure::new(format!(
            "with the redis client library: {what}\ngot: error {e}"
        ))
    };
    let added: i64 = redis::cmd("SADD")
        .arg("s")
        .arg(&["b", "a", "c", "a"])
        .query(&mut conn)
        .map_err(|e| step("SADD s b a c a", e))?;
    expect_eq("with the redis client library: SADD s b a c a", added, 3)?;
    let members: std::collections::BTreeSet<String> = redis::cmd("SMEMBERS")
        .arg("s")
        .query(&mut conn)
        .map_err(|e| step("SMEMBERS s", e))?;
    let expected: std::collections::BTreeSet<String> =
        ["a", "b", "c"].iter().map(|m| m.to_string()).collect();
    expect_eq(
        "with the redis client library: SADD s b a c a, then SMEMBERS s (as a set)",
        members,
        expected,
    )?;
    let mut pipe = redis::pipe();
    pipe.cmd("ZADD")
        .arg("z")
        .arg(&[("2.5", "b"), ("1", "a"), ("1e17", "c")]);
    pipe.cmd("ZINCRBY").arg("z").arg(0.25).arg("a");
    pipe.cmd("ZRANK").arg("z").arg("c");
    let (count, score, rank): (i64, f64, Option<i64>) = pipe.query(&mut conn).map_err(|e| {
        step(
            "a pipeline of ZADD z 2.5 b 1 a 1e17 c, ZINCRBY z 0.25 a, ZRANK z c",
            e,
        )
    })?;
    expect_eq(
        "with the redis client library: a pipeline of ZADD z 2.5 b 1 a 1e17 c, ZINCRBY z 0.25 a, \
         ZRANK z c",
        (count, score, rank),
        (3, 1.25, Some(2)),
    )?;
    let range: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg("z")
        .arg("+inf")
        .arg("(1.25")
        .arg("BYSCORE")
        .arg("REV")
        .arg("WITHSCORES")
        .query(&mut conn)
        .map_err(|e| step("ZRANGE z +inf (1.25 BYSCORE REV WITHSCORES", e))?;
    expect_eq(
        "with the redis client library: ZRANGE z +inf (1.25 BYSCORE REV WITHSCORES",
        range,
        vec![("c".to_string(), 1e17), ("b".to_string(), 2.5)],
    )?;
    let missing: Option<f64> = redis::cmd("ZSCORE")
        .arg("z")
        .arg("nobody")
        .query(&mut conn)
        .map_err(|e| step("ZSCORE z nobody", e))?;
    expect_eq(
        "with the redis client library: ZSCORE z nobody",
        missing,
        None,
    )?;
    let wrong: redis::RedisResult<i64> = redis::cmd("SCARD").arg("z").query(&mut conn);
    match wrong {
        Err(e) if e.code() == Some("WRONGTYPE") => Ok(()),
        other => fail(format!(
            "with the redis client library: SCARD z, where z is a sorted set\nexpected: the \
             WRONGTYPE error\ngot:      {other:?}"
        )),
    }
}

fn real_client(_: &mut Ctx) -> CheckResult {
    let (_server, addr) = start()?;
    let client = redis::Client::open(format!("redis://{addr}/"))
        .map_err(|e| Failure::new(format!("the client library refused the address: {e}")))?;
    let mut conn = client
        .get_connection_with_timeout(PATIENCE)
        .map_err(|e| Failure::new(format!("the client library could not connect: {e}")))?;
    let step = |what: &str, e: redis::RedisError| {
        Failure::new(format!(
            "with the redis client library: {what}\ngot: error {e}"
        ))
    };
    let pong: String = redis::cmd("PING")
        .query(&mut conn)
        .map_err(|e| step("PING", e))?;
    expect_eq("with the redis client library: PING", pong.as_str(), "PONG")?;
    let value: Vec<u8> = (0..=255u8).collect();
    let _: () = redis::cmd("SET")
        .arg(b"bin\r\nkey")
        .arg(&value)
        .query(&mut conn)
        .map_err(|e| step("SET \"bin\\r\\nkey\" <the 256 byte values>", e))?;
    let back: Vec<u8> = redis::cmd("GET")
        .arg(b"bin\r\nkey")
        .query(&mut conn)
        .map_err(|e| step("GET \"bin\\r\\nkey\"", e))?;
    expect(
        back == value,
        format!(
            "with the redis client library: SET then GET of a key holding CRLF, with the 256 \
             byte values\nexpected: the same 256 bytes back\ngot:      {}",
            clipped(&back, 80)
        ),
    )?;
    let missing: Option<Vec<u8>> = redis::cmd("GET")
        .arg("missing")
        .query(&mut conn)
        .map_err(|e| step("GET missing", e))?;
    expect_eq("with the redis client library: GET missing", missing, None)?;
    let mut pipe = redis::pipe();
    for i in 0..100 {
        pipe.cmd("RPUSH").arg("l").arg(i);
    }
    pipe.cmd("LLEN").arg("l");
    let lengths: Vec<i64> = pipe
        .query(&mut conn)
        .map_err(|e| step("a pipeline of 100 RPUSH l i, then LLEN l", e))?;
    let expected: Vec<i64> = (1..=100).chain([100]).collect();
    expect_eq(
        "with the redis client library: a pipeline of 100 RPUSH l i, then LLEN l",
        lengths,
        expected,
    )?;
    let wrong: redis::RedisResult<Option<Vec<u8>>> = redis::cmd("GET").arg("l").query(&mut conn);
    match wrong {
        Err(e) if e.code() == Some("WRONGTYPE") => Ok(()),
        other => fail(format!(
            "with the redis client library: GET l, where l is a list\nexpected: the \
             WRONGTYPE error\ngot:      {other:?}"
        )),
    }
}

fn large(ctx: &mut Ctx) -> CheckResult {
    let mut rng = ctx.rng();
    let (_server, addr) = start()?;
    let mut stream = connect(addr)?;
    let mut value = vec![0u8; 1 << 20];
    rng.fill_bytes(&mut value);
    let set = Cmd::Set(b"big".to_vec(), value.clone());
    exchange(&mut stream, &[set.bytes()], b"+OK\r\n")
        .map_err(|e| Failure::new(format!("sent: SET big <1 MiB of random bytes>\n{e}")))?;
    exchange(
        &mut stream,
        &[Cmd::Get(b"big".to_vec()).bytes()],
        &bulk(&value),
    )
    .map_err(|e| {
        Failure::new(format!(
            "sent: SET big <1 MiB of random bytes>, then GET big\n{e}"
        ))
    })?;
    let cmds: Vec<Cmd> = (0..10_000)
        .map(|i| match i % 3 {
            0 => Cmd::Rpush(b"l".to_vec(), vec![format!("{i}").into_bytes()]),
            1 => Cmd::Echo(format!("echo {i}").into_bytes()),
            _ => Cmd::Llen(b"l".to_vec()),
        })
        .collect();
    let expected = replies(&mut Model::default(), &cmds);
    exchange(&mut stream, &[script_bytes(&cmds)], &expected).map_err(|e| {
        Failure::new(format!(
            "sent in one write 10,000 requests (RPUSH l i, ECHO \"echo i\", LLEN l, and again):\n{e}"
        ))
    })
}
