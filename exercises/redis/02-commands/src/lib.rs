//! Commands: a keyspace of strings and lists, and a command table that answers every request
//! the way Redis does, errors included, byte for byte.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and items unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::collections::{HashMap, VecDeque};

/// The frame type of the protocol, re-exported so that code using the keyspace can name it
/// without depending on the RESP crate.
pub use redis_resp::Frame;

/// What the server does after reading one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Send this frame back.
    Send(Frame),
    /// Send nothing: an empty request (`*0`, `*-1`), which Redis skips.
    Nothing,
    /// Send this error, then close the connection: the request is not an array of bulk
    /// strings, and the bytes after it cannot be trusted to start where it ends.
    Close(Frame),
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
const SYNTAX_ERROR: &str = "ERR syntax error";

/// A value in the keyspace: each key holds one type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    String(Vec<u8>),
    List(VecDeque<Vec<u8>>),
}

/// The keyspace: every key, binary-safe, with its value.
#[derive(Debug, Default)]
pub struct Db {
    keys: HashMap<Vec<u8>, Value>,
}

/// A command's handler: the keyspace and the whole request, the name at `args[0]` (Redis's
/// `argv`). It runs only once the arity has been checked.
type Handler = fn(&mut Db, &[Vec<u8>]) -> Frame;

/// One entry of the command table: make a `const` slice of them, one per command of the
/// README's table.
struct Command {
    /// Lowercase, as the arity error names it.
    name: &'static str,
    /// Redis's convention, counting the name: `n` is exactly n, `-n` is n or more.
    arity: i64,
    run: Handler,
}

impl Db {
    /// An empty keyspace.
    pub fn new() -> Db {
        todo!()
    }

    /// Runs one request, a RESP frame as the client sent it, and says what to answer: the
    /// reply of the command it names, or an error, worded as Redis words it (the README's
    /// table); nothing for an empty request; an error and a closed connection for a request
    /// that is not an array of bulk strings. A request answered with an error changes nothing.
    pub fn execute(&mut self, request: Frame) -> Reply {
        todo!()
    }
}
