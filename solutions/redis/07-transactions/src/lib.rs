//! Transactions: MULTI queues a client's commands and EXEC runs them all at once; WATCH makes
//! EXEC refuse to run them if a key it names was written since.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

use std::collections::HashMap;

use redis_lists_hashes::Db;
/// The keyspace's frame and reply types: the server answers as the keyspace does.
pub use redis_lists_hashes::{Frame, Reply};

/// Every command the keyspace knows, with its arity as Redis writes it (counting the name;
/// `-n` is n or more). A command outside this table, or whose arguments do not fit, is refused
/// before it runs, and inside MULTI before it is queued.
pub const KEYSPACE_COMMANDS: &[(&str, i64)] = &[
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
];

/// A connected client, as the server names it. Ids are never used twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub u64);

/// One keyspace and every client's transaction state, run one request at a time.
#[derive(Debug, Default)]
pub struct Server {
    db: Db,
    clients: HashMap<ClientId, Client>,
    /// Every watched key, and the clients watching it: a write looks here, not at every client.
    watchers: HashMap<Vec<u8>, Vec<ClientId>>,
    next_id: u64,
}

/// What the server keeps for one client.
#[derive(Debug, Default)]
struct Client {
    /// `Some` between MULTI and EXEC or DISCARD: the requests queued so far.
    queue: Option<Vec<Vec<Vec<u8>>>>,
    /// A request was refused while queueing: EXEC will answer EXECABORT.
    refused: bool,
    /// The keys this client watches, each with the time its TTL runs out, if it had one
    /// when WATCH named it.
    watching: Vec<(Vec<u8>, Option<i64>)>,
    /// A watched key was written since WATCH: EXEC will answer a null array.
    dirty: bool,
}

/// Which keys a command writes, and which of its replies say that it wrote nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Writes {
    /// A read: it never writes.
    Nothing,
    /// The key at 1, unless it answered an error.
    Always,
    /// SET: the key at 1 when it answered `+OK` (NX or XX may refuse with nil).
    WhenOk,
    /// LPOP, RPOP: the key at 1 when they popped something.
    WhenPopped,
    /// EXPIRE, PEXPIRE, PERSIST, LREM, HDEL: the key at 1 when the count is above 0.
    WhenCounted,
    /// LTRIM: the key at 1, if it was there to trim.
    WhenItExisted,
    /// DEL: each key it deleted.
    EachDeleted,
}

fn writes(name: &str) -> Writes {
    match name {
        "set" => Writes::WhenOk,
        "del" => Writes::EachDeleted,
        "rpush" | "lpush" | "incr" | "decr" | "incrby" | "decrby" | "lset" | "hset" | "hincrby" => {
            Writes::Always
        }
        "lpop" | "rpop" => Writes::WhenPopped,
        "expire" | "pexpire" | "persist" | "lrem" | "hdel" => Writes::WhenCounted,
        "ltrim" => Writes::WhenItExisted,
        _ => Writes::Nothing,
    }
}

const QUEUED: &str = "QUEUED";
const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
const EXEC_ARITY: &str =
    "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command";

impl Server {
    /// An empty keyspace and no clients.
    pub fn new() -> Server {
        Server::default()
    }

    /// A new client: not in a transaction, watching nothing.
    pub fn connect(&mut self) -> ClientId {
        let id = ClientId(self.next_id);
        self.next_id += 1;
        self.clients.insert(id, Client::default());
        id
    }

    /// Runs one request of `client` at time `now` (milliseconds), and says what to answer.
    ///
    /// # Panics
    ///
    /// If `client` is not connected (never was, or has disconnected).
    pub fn execute(&mut self, client: ClientId, request: Frame, now: i64) -> Reply {
        assert!(
            self.clients.contains_key(&client),
            "{client:?} is not connected"
        );
        // An empty request or one that is not a request is the keyspace's to answer: it is
        // not queued, and refuses nothing in a transaction.
        let Some(args) = arguments(&request) else {
            return self.db.execute(request, now);
        };
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        let in_multi = self.client(client).queue.is_some();
        let frame = match name.as_str() {
            // EXEC with arguments is refused as Redis refuses it, in a transaction or not:
            // with EXECABORT, and the transaction and the watches go.
            "exec" if args.len() != 1 => {
                self.end_transaction(client);
                error(EXEC_ARITY.into())
            }
            "exec" if !in_multi => error("ERR EXEC without MULTI".into()),
            "exec" => self.exec(client, now),
            "multi" | "discard" | "unwatch" if args.len() != 1 => self.refuse(client, &name),
            "watch" if args.len() < 2 => self.refuse(client, &name),
            "multi" if in_multi => error("ERR MULTI calls can not be nested".into()),
            "multi" => {
                self.client(client).queue = Some(Vec::new());
                ok()
            }
            "discard" if !in_multi => error("ERR DISCARD without MULTI".into()),
            "discard" => {
                self.end_transaction(client);
                ok()
            }
            "watch" if in_multi => error("ERR WATCH inside MULTI is not allowed".into()),
            "watch" => {
                for key in &args[1..] {
                    self.watch(client, key, now);
                }
                ok()
            }
            _ if in_multi => {
                if known(&name, args.len()) || name == "unwatch" {
                    let client = self.client(client);
                    client.queue.as_mut().expect("in a transaction").push(args);
                    Frame::Simple(QUEUED.into())
                } else {
                    // Unknown, or the wrong number of arguments: the keyspace words the error
                    // without running anything, and the transaction is spoiled.
                    self.client(client).refused = true;
                    return self.db.execute(request, now);
                }
            }
            _ => self.run(client, &args, now),
        };
        Reply::Send(frame)
    }

    /// The client goes: its transaction and its watches with it.
    ///
    /// # Panics
    ///
    /// If `client` is not connected.
    pub fn disconnect(&mut self, client: ClientId) {
        self.unwatch_all(client);
        self.clients
            .remove(&client)
            .unwrap_or_else(|| panic!("{client:?} is not connected"));
    }

    /// One active expire cycle of the keyspace at `now`; answers how many keys it removed.
    pub fn active_expire_cycle(&mut self, now: i64, seed: u64) -> usize {
        self.db
            .active_expire_cycle(now, seed)
            .iter()
            .map(|round| round.expired)
            .sum()
    }

    /// How many distinct keys at least one client watches.
    pub fn watched_keys(&self) -> usize {
        self.watchers.len()
    }

    fn client(&mut self, client: ClientId) -> &mut Client {
        self.clients.get_mut(&client).expect("a connected client")
    }

    /// The arity error of one of the transaction commands; inside MULTI it spoils the
    /// transaction, as any request refused there does.
    fn refuse(&mut self, client: ClientId, name: &str) -> Frame {
        let client = self.client(client);
        if client.queue.is_some() {
            client.refused = true;
        }
        error(format!(
            "ERR wrong number of arguments for '{name}' command"
        ))
    }

    /// EXEC: the whole queue at once, or nothing.
    fn exec(&mut self, id: ClientId, now: i64) -> Frame {
        let client = self.client(id);
        let queue = client.queue.take().expect("in a transaction");
        let refused = client.refused;
        // A watched key whose TTL ran out counts as written: the key the transaction
        // looked at is gone, whether or not anything has removed it yet.
        let expired = client
            .watching
            .iter()
            .any(|(_, at)| matches!(at, Some(at) if now > *at));
        let dirty = client.dirty || expired;
        // Watches end with the transaction, whatever it answers.
        self.end_transaction(id);
        if refused {
            return error(EXECABORT.into());
        }
        if dirty {
            return Frame::NullArray;
        }
        // One call, one loop: no other client's request can run between these.
        let replies = queue.iter().map(|args| self.run(id, args, now)).collect();
        Frame::Array(replies)
    }

    /// Runs a command in the keyspace, and marks the watchers of every key it wrote.
    fn run(&mut self, client: ClientId, args: &[Vec<u8>], now: i64) -> Frame {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        if name == "unwatch" {
            self.unwatch_all(client);
            return ok();
        }
        let writes = if known(&name, args.len()) {
            writes(&name)
        } else {
            Writes::Nothing
        };
        match writes {
            // DEL one key at a time: its answer says which of the keys it deleted. A key
            // named twice is deleted once, as in one DEL.
            Writes::EachDeleted => {
                let mut deleted = 0;
                for key in &args[1..] {
                    if self.send(&[b"DEL".as_slice(), key], now) == Frame::Integer(1) {
                        deleted += 1;
                        self.touch(key);
                    }
                }
                Frame::Integer(deleted)
            }
            Writes::WhenItExisted => {
                let existed =
                    self.send(&[b"EXISTS".as_slice(), &args[1]], now) == Frame::Integer(1);
                let reply = self.send(args, now);
                if existed && reply == ok() {
                    self.touch(&args[1]);
                }
                reply
            }
            _ => {
                let reply = self.send(args, now);
                let wrote = match (writes, &reply) {
                    (_, Frame::Error(_)) | (Writes::Nothing, _) => false,
                    (Writes::WhenOk, reply) => *reply == ok(),
                    (Writes::WhenPopped, Frame::Bulk(_)) => true,
                    (Writes::WhenPopped, Frame::Array(popped)) => !popped.is_empty(),
                    (Writes::WhenPopped, _) => false,
                    (Writes::WhenCounted, reply) => matches!(reply, Frame::Integer(n) if *n > 0),
                    _ => true,
                };
                if wrote {
                    self.touch(&args[1]);
                }
                reply
            }
        }
    }

    /// Sends the keyspace a request made of these arguments, and gives its frame back.
    fn send<A: AsRef<[u8]>>(&mut self, args: &[A], now: i64) -> Frame {
        let request = Frame::Array(
            args.iter()
                .map(|arg| Frame::Bulk(arg.as_ref().to_vec()))
                .collect(),
        );
        match self.db.execute(request, now) {
            Reply::Send(frame) => frame,
            // A request of bulk strings, not empty, is always answered.
            other => unreachable!("the keyspace answered {other:?} to a request"),
        }
    }

    /// Every client watching the key will find its EXEC refused.
    fn touch(&mut self, key: &[u8]) {
        if let Some(watchers) = self.watchers.get(key) {
            for id in watchers {
                if let Some(client) = self.clients.get_mut(id) {
                    client.dirty = true;
                }
            }
        }
    }

    /// Starts watching a key (again: nothing), noting when its TTL runs out if it has one.
    fn watch(&mut self, id: ClientId, key: &[u8], now: i64) {
        if self.client(id).watching.iter().any(|(k, _)| k == key) {
            return;
        }
        // PTTL is a read: it writes nothing, and says whether the key is there and for how
        // long. A key already expired is missing to it, and stays missing.
        let expires_at = match self.send(&[b"PTTL".as_slice(), key], now) {
            Frame::Integer(left) if left >= 0 => Some(now + left),
            _ => None,
        };
        self.client(id).watching.push((key.to_vec(), expires_at));
        self.watchers.entry(key.to_vec()).or_default().push(id);
    }

    /// Ends the client's transaction, if any, and its watches: EXEC, DISCARD.
    fn end_transaction(&mut self, id: ClientId) {
        let client = self.client(id);
        client.queue = None;
        client.refused = false;
        self.unwatch_all(id);
    }

    /// Forgets every key the client watches, and the key itself once nobody watches it.
    fn unwatch_all(&mut self, id: ClientId) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        client.dirty = false;
        for (key, _) in std::mem::take(&mut client.watching) {
            if let Some(watchers) = self.watchers.get_mut(&key) {
                watchers.retain(|&other| other != id);
                if watchers.is_empty() {
                    self.watchers.remove(&key);
                }
            }
        }
    }
}

/// Whether the keyspace knows the command and its number of arguments fits.
fn known(name: &str, argc: usize) -> bool {
    KEYSPACE_COMMANDS
        .iter()
        .find(|(known, _)| *known == name)
        .is_some_and(|&(_, arity)| {
            let argc = argc as i64;
            if arity >= 0 {
                argc == arity
            } else {
                argc >= -arity
            }
        })
}

/// The arguments of a request that is an array of bulk strings, not empty.
fn arguments(request: &Frame) -> Option<Vec<Vec<u8>>> {
    let Frame::Array(elements) = request else {
        return None;
    };
    if elements.is_empty() {
        return None;
    }
    elements
        .iter()
        .map(|element| match element {
            Frame::Bulk(arg) => Some(arg.clone()),
            _ => None,
        })
        .collect()
}

fn ok() -> Frame {
    Frame::Simple("OK".into())
}

fn error(text: String) -> Frame {
    Frame::Error(text)
}
