//! Replication, as Redis does it: a replica asks its primary for everything after the offset it
//! has; the primary answers with the missing commands from its backlog (a partial resync) or
//! with a snapshot of its whole keyspace (a full resync), then streams every write. WAIT counts
//! the replicas that have acknowledged a write; a promoted replica keeps its old history's id,
//! so that the others can continue from it without a full resync.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use kit::net::{Ctx, NodeId, Process};

/// How many commands the backlog keeps: a replica missing more than that needs a full resync.
pub const BACKLOG: usize = 64;

/// How often a primary pings its replicas and a replica acknowledges its offset.
pub const TICK: Duration = Duration::from_millis(100);

/// A replica that has heard nothing from its primary for this long asks again.
pub const TIMEOUT: Duration = Duration::from_millis(500);

/// A write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Set {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Del {
        key: Vec<u8>,
    },
    /// Adds `value` to the end of the key's value (a missing key counts as empty).
    Append {
        key: Vec<u8>,
        value: Vec<u8>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Primary,
    Replica { primary: NodeId },
}

/// A write sent to a node that is not a primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotPrimary;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Replica to primary: "I have history `replid` up to `offset`; send what follows."
    Psync { replid: u64, offset: u64 },
    /// Primary to replica: the whole keyspace as of `offset` of history `replid`.
    FullResync {
        replid: u64,
        offset: u64,
        snapshot: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// Primary to replica: "your history is mine up to `offset`; from now on it is `replid`;
    /// here are the commands that follow it", in one message, so that none of them can
    /// arrive before it.
    Continue {
        replid: u64,
        offset: u64,
        commands: Vec<Command>,
    },
    /// Primary to replica: the command that takes history `replid` to `offset`.
    Command {
        replid: u64,
        offset: u64,
        command: Command,
    },
    /// Primary to replica, every tick: where the stream is.
    Ping { replid: u64, offset: u64 },
    /// Primary to replica: acknowledge now (a WAIT is waiting).
    GetAck,
    /// Replica to primary: everything up to `offset` is applied.
    Ack { offset: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timer {
    Tick,
    /// A WAIT's time is up.
    Wait(u64),
}

/// What survives a crash: whom the node replicates (the data does not: it syncs again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub primary: Option<NodeId>,
}

/// One server: a primary or a replica. Choose its fields (the README says what it must keep:
/// its role, keyspace, history id and offset, the old history id and offset after a
/// promotion, a backlog, a primary's replicas and their acknowledged offsets, the WAITs).
pub struct Node {
    role: Role,
}

impl Node {
    pub fn role(&self) -> Role {
        todo!()
    }

    /// The id of the history this node holds.
    pub fn replid(&self) -> u64 {
        todo!()
    }

    /// How many commands of its history this node has applied.
    pub fn offset(&self) -> u64 {
        todo!()
    }

    pub fn store(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        todo!()
    }

    /// The replicas a primary streams to, and the offset each acknowledged last.
    pub fn replicas(&self) -> &BTreeMap<NodeId, u64> {
        todo!()
    }

    /// A WAIT's answer: how many replicas had acknowledged its offset when it ended; None
    /// while it waits (and for an id never given).
    pub fn wait_result(&self, id: u64) -> Option<usize> {
        todo!()
    }

    /// Applies a write on a primary and streams it; answers the offset it took the history to.
    pub fn write(&mut self, command: Command, ctx: &mut Ctx<Node>) -> Result<u64, NotPrimary> {
        todo!()
    }

    /// WAIT: ends when `replicas` replicas have acknowledged everything written so far, or
    /// after `timeout`; answers an id for `wait_result`.
    pub fn wait(&mut self, replicas: usize, timeout: Duration, ctx: &mut Ctx<Node>) -> u64 {
        todo!()
    }

    /// REPLICAOF NO ONE: this replica becomes a primary, under a new history id; the old one
    /// and its offset are kept, so its former peers can continue from it. A primary stays
    /// as it is.
    pub fn promote(&mut self, ctx: &mut Ctx<Node>) {
        todo!()
    }

    /// REPLICAOF primary: this node follows `primary` from now on, asking it for what follows
    /// its own offset.
    pub fn replicate(&mut self, primary: NodeId, ctx: &mut Ctx<Node>) {
        todo!()
    }
}

impl Process for Node {
    type Message = Message;
    type Timer = Timer;
    type Saved = Saved;

    /// A fresh primary with an empty keyspace and a new history id, its Tick timer set; or,
    /// after a crash, a replica of the primary it saved.
    fn start(id: NodeId, peers: &[NodeId], saved: Option<Saved>, ctx: &mut Ctx<Node>) -> Node {
        todo!()
    }

    fn on_message(&mut self, from: NodeId, message: Message, ctx: &mut Ctx<Node>) {
        todo!()
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Ctx<Node>) {
        todo!()
    }
}
