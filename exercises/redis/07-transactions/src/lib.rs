//! Transactions: MULTI queues a client's commands and EXEC runs them all at once; WATCH makes
//! EXEC refuse to run them if a key it names was written since.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

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
///
/// Add what you need: each client's queue and watches, and the keys watched with who
/// watches them.
#[derive(Debug, Default)]
pub struct Server {
    db: Db,
}

impl Server {
    /// An empty keyspace and no clients.
    pub fn new() -> Server {
        todo!()
    }

    /// A new client: not in a transaction, watching nothing.
    pub fn connect(&mut self) -> ClientId {
        todo!()
    }

    /// Runs one request of `client` at time `now` (milliseconds), and says what to answer:
    /// MULTI, EXEC, DISCARD, WATCH and UNWATCH here, every other command queued inside a
    /// transaction or run in the keyspace outside one. A request that is empty or not an array
    /// of bulk strings is the keyspace's to answer, in a transaction or not.
    ///
    /// # Panics
    ///
    /// If `client` is not connected (never was, or has disconnected).
    pub fn execute(&mut self, client: ClientId, request: Frame, now: i64) -> Reply {
        todo!()
    }

    /// The client goes: its transaction and its watches with it.
    ///
    /// # Panics
    ///
    /// If `client` is not connected.
    pub fn disconnect(&mut self, client: ClientId) {
        todo!()
    }

    /// One active expire cycle of the keyspace at `now`; answers how many keys it removed.
    pub fn active_expire_cycle(&mut self, now: i64, seed: u64) -> usize {
        todo!()
    }

    /// How many distinct keys at least one client watches.
    pub fn watched_keys(&self) -> usize {
        todo!()
    }
}
