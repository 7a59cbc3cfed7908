//! A server: many clients on a real TCP socket, their requests run one at a time by a single
//! thread that owns the keyspace, their replies sent back in order.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use redis_resp::{ErrorKind, Frame, Limits, ParseError, encode, parse};
use redis_sets_zsets::{Db, Reply};

/// How many bytes a connection reads at a time.
const READ_CHUNK: usize = 16 * 1024;

/// The first bytes of RESP's frames (an unknown one is the parser's to refuse).
const TYPE_BYTES: &[u8] = b"+-:$*_,#(!=%~>";

/// How often the executor runs an active expire cycle: Redis's `hz`, 10 a second.
const EXPIRE_EVERY: Duration = Duration::from_millis(100);

/// A running server. Its threads run until the process ends.
pub struct Server {
    clients: Arc<AtomicUsize>,
}

/// The requests one read of one client brought, for the executor to run in order, and where
/// to send what they answer.
struct Batch {
    requests: Vec<Frame>,
    replies: Sender<Vec<Reply>>,
}

impl Server {
    /// Serves `listener`: accepts every client, reads and parses its requests, has them run
    /// and answers them. Returns at once; the work goes on in threads of its own.
    pub fn start(listener: TcpListener) -> io::Result<Server> {
        let clients = Arc::new(AtomicUsize::new(0));
        let (batches, incoming) = mpsc::channel();
        thread::Builder::new()
            .name("executor".into())
            .spawn(move || execute(incoming))?;
        let counted = Arc::clone(&clients);
        thread::Builder::new()
            .name("acceptor".into())
            .spawn(move || accept(listener, batches, counted))?;
        Ok(Server { clients })
    }

    /// How many clients are connected now: a client is counted from its accept until its
    /// connection is closed, by either side.
    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::SeqCst)
    }
}

/// The one thread that touches the keyspace: requests run one after another, whichever
/// client sent them, so no command ever sees another half done. Between them, ten times a
/// second, it removes keys whose time is up that nobody asks for.
fn execute(incoming: Receiver<Batch>) {
    let mut db = Db::new();
    // The keyspace's clock: milliseconds since the server started, which never go back.
    let started = Instant::now();
    let now = || started.elapsed().as_millis() as i64;
    let mut next_cycle = started + EXPIRE_EVERY;
    let mut cycles = 0u64;
    loop {
        // Checked between batches too: a server that is never idle still expires keys.
        if Instant::now() >= next_cycle {
            cycles += 1;
            db.active_expire_cycle(now(), cycles);
            next_cycle = Instant::now() + EXPIRE_EVERY;
        }
        let wait = next_cycle.saturating_duration_since(Instant::now());
        let batch = match incoming.recv_timeout(wait) {
            Ok(batch) => batch,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut replies = Vec::with_capacity(batch.requests.len());
        for request in batch.requests {
            let reply = db.execute(request, now());
            let closes = matches!(reply, Reply::Close(_));
            replies.push(reply);
            // After a request that closes the connection, nothing the client sent runs.
            if closes {
                break;
            }
        }
        // A client that has gone does not stop the server.
        let _ = batch.replies.send(replies);
    }
}

fn accept(listener: TcpListener, batches: Sender<Batch>, clients: Arc<AtomicUsize>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        clients.fetch_add(1, Ordering::SeqCst);
        let batches = batches.clone();
        let counted = Arc::clone(&clients);
        let started = thread::Builder::new().name("client".into()).spawn(move || {
            let _ = serve(stream, &batches);
            counted.fetch_sub(1, Ordering::SeqCst);
        });
        if started.is_err() {
            // No thread for it: the connection closes as the stream drops.
            clients.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Serves one client until it closes the connection or breaks the protocol.
fn serve(mut stream: TcpStream, batches: &Sender<Batch>) -> io::Result<()> {
    let limits = Limits::default();
    let (replies, answered) = mpsc::channel();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut out = Vec::new();
    loop {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            // Closed, perhaps in the middle of a request: what it sent of it is dropped.
            return Ok(());
        }
        pending.extend_from_slice(&chunk[..read]);

        // Every whole request the bytes so far hold; what follows the last stays pending,
        // to be completed by the next read.
        let mut requests = Vec::new();
        let mut used = 0;
        let broken = loop {
            // A request is an array. Any other frame would be refused once parsed, so it is
            // refused at its first byte: a `+` and then a gigabyte with no CRLF is never kept.
            if let Some(&first) = pending.get(used)
                && first != b'*'
                && TYPE_BYTES.contains(&first)
            {
                let error = format!("ERR Protocol error: expected '*', got '{}'", first as char);
                break Some(Frame::Error(error));
            }
            match parse(&pending[used..], &limits) {
                Ok(Some((frame, n))) => {
                    requests.push(frame);
                    used += n;
                }
                Ok(None) => break None,
                Err(error) => break Some(protocol_error(&error)),
            }
        };
        pending.drain(..used);

        // The requests before a protocol error are answered, then the error, then the end.
        let mut closing = false;
        if !requests.is_empty() {
            let batch = Batch {
                requests,
                replies: replies.clone(),
            };
            if batches.send(batch).is_err() {
                return Ok(());
            }
            let Ok(answers) = answered.recv() else {
                return Ok(());
            };
            for answer in answers {
                match answer {
                    Reply::Send(frame) => encode(&frame, &mut out),
                    Reply::Nothing => {}
                    Reply::Close(frame) => {
                        encode(&frame, &mut out);
                        closing = true;
                        break;
                    }
                }
            }
        }
        if let (false, Some(error)) = (closing, broken) {
            encode(&error, &mut out);
            closing = true;
        }
        // One write for everything this read answered: a pipelined client's replies go out
        // together, as its requests came in.
        stream.write_all(&out)?;
        out.clear();
        if closing {
            return Ok(());
        }
    }
}

/// What a client that broke the protocol is told, before the connection closes.
fn protocol_error(error: &ParseError) -> Frame {
    let what = match error.kind {
        ErrorKind::UnknownType => "unknown type byte",
        ErrorKind::BadEnding => "line not ended by CRLF",
        ErrorKind::BadValue => "invalid number",
        ErrorKind::TooLong => "invalid bulk length",
        ErrorKind::TooMany => "invalid multibulk length",
        ErrorKind::TooDeep => "too deeply nested",
    };
    Frame::Error(format!("ERR Protocol error: {what}"))
}
