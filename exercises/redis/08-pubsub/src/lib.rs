//! Publish/subscribe: channels and patterns, messages pushed to subscribers, and a limit on how
//! much a subscriber that does not read may cost the server.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::collections::HashMap;

pub use redis_resp::Frame;
use redis_resp::encode;

/// A connected client, as the broker names it.
pub type ClientId = u64;

/// How much unread output a client may hold before the broker closes its connection (Redis's
/// `client-output-buffer-limit pubsub <hard> <soft> <seconds>`). A limit of 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// At this many bytes pending, the client is closed at once.
    pub hard: usize,
    /// At this many bytes pending for longer than `soft_ms`, the client is closed.
    pub soft: usize,
    pub soft_ms: i64,
}

impl Default for Limits {
    /// Redis's defaults: 32 MiB, or 8 MiB for more than 60 seconds.
    fn default() -> Limits {
        Limits {
            hard: 32 << 20,
            soft: 8 << 20,
            soft_ms: 60_000,
        }
    }
}

/// What the server does after the broker has seen a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The broker answered it: the reply is in the client's output.
    Done,
    /// Not a pub/sub command, and the client may run it: the keyspace answers it.
    Pass,
    /// The client said QUIT: send what is in its output, then close the connection.
    Close,
}

/// Every client's subscriptions and pending output, and who listens on each channel and
/// pattern. Choose the fields: the README says what each operation must cost.
#[derive(Debug)]
pub struct Broker {
    limits: Limits,
}

impl Broker {
    pub fn new(limits: Limits) -> Broker {
        todo!()
    }

    /// A new client, subscribed to nothing. Ids are never reused.
    pub fn connect(&mut self) -> ClientId {
        todo!()
    }

    /// The client went away: everything it held (subscriptions, output) goes with it. A client
    /// that is not connected is left alone.
    pub fn disconnect(&mut self, client: ClientId) {
        todo!()
    }

    /// Whether the client is still connected: not disconnected, not closed for its output.
    pub fn is_open(&self, client: ClientId) -> bool {
        todo!()
    }

    /// How many bytes wait for the client to read them (0 for a client not connected).
    pub fn pending(&self, client: ClientId) -> usize {
        todo!()
    }

    /// How many subscriptions the broker holds: one per client per channel, one per client per
    /// pattern.
    pub fn subscriptions(&self) -> usize {
        todo!()
    }

    /// The client's socket takes up to `max` bytes of its output, oldest first, and they are no
    /// longer pending. `None` for a client not connected.
    pub fn output(&mut self, client: ClientId, max: usize) -> Option<Vec<u8>> {
        todo!()
    }

    /// Runs one request for the client at `now` milliseconds: its arguments, the command's
    /// name first. Replies (and messages to other clients) are encoded into the outputs. For a
    /// client not connected, or no arguments at all, it does nothing and returns `Done`.
    pub fn execute(&mut self, client: ClientId, args: &[Vec<u8>], now: i64) -> Outcome {
        todo!()
    }
}

/// Redis's glob, as the README gives it: does `pattern` match `channel`?
pub fn glob_match(pattern: &[u8], channel: &[u8]) -> bool {
    todo!()
}
