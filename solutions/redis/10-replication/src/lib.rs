//! Replication, as Redis does it: a replica asks its primary for everything after the offset it
//! has; the primary answers with the missing commands from its backlog (a partial resync) or
//! with a snapshot of its whole keyspace (a full resync), then streams every write. WAIT counts
//! the replicas that have acknowledged a write; a promoted replica keeps its old history's id,
//! so that the others can continue from it without a full resync.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

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

/// A WAIT not answered yet.
#[derive(Debug)]
struct Waiting {
    id: u64,
    offset: u64,
    replicas: usize,
}

pub struct Node {
    role: Role,
    store: BTreeMap<Vec<u8>, Vec<u8>>,
    /// This history's id, and how many commands of it this node has applied.
    replid: u64,
    offset: u64,
    /// The history this node had before it was promoted, and where it left it: replicas of
    /// the old primary may continue from there.
    replid2: u64,
    offset2: u64,
    /// The last commands applied, each with the offset it took the history to.
    backlog: VecDeque<(u64, Command)>,
    /// Primary: its replicas, and the offset each acknowledged last.
    replicas: BTreeMap<NodeId, u64>,
    /// Replica: waiting for a FullResync or Continue since it sent a Psync at `psync_at`.
    syncing: bool,
    psync_at: Duration,
    last_heard: Duration,
    waits: Vec<Waiting>,
    done: BTreeMap<u64, usize>,
    next_wait: u64,
}

impl Node {
    pub fn role(&self) -> Role {
        self.role
    }

    pub fn replid(&self) -> u64 {
        self.replid
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn store(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.store
    }

    /// The replicas a primary streams to, and the offset each acknowledged last.
    pub fn replicas(&self) -> &BTreeMap<NodeId, u64> {
        &self.replicas
    }

    /// A WAIT's answer: how many replicas had acknowledged its offset when it ended; None
    /// while it waits.
    pub fn wait_result(&self, id: u64) -> Option<usize> {
        self.done.get(&id).copied()
    }

    /// Applies a write on a primary and streams it; answers the offset it took the history to.
    pub fn write(&mut self, command: Command, ctx: &mut Ctx<Node>) -> Result<u64, NotPrimary> {
        if self.role != Role::Primary {
            return Err(NotPrimary);
        }
        self.apply(command.clone());
        for &replica in self.replicas.keys() {
            ctx.send(
                replica,
                Message::Command {
                    replid: self.replid,
                    offset: self.offset,
                    command: command.clone(),
                },
            );
        }
        Ok(self.offset)
    }

    /// WAIT: ends when `replicas` replicas have acknowledged everything written so far, or
    /// after `timeout`; answers an id for `wait_result`.
    pub fn wait(&mut self, replicas: usize, timeout: Duration, ctx: &mut Ctx<Node>) -> u64 {
        let id = self.next_wait;
        self.next_wait += 1;
        self.waits.push(Waiting {
            id,
            offset: self.offset,
            replicas,
        });
        for &replica in self.replicas.keys() {
            ctx.send(replica, Message::GetAck);
        }
        ctx.set_timer(timeout, Timer::Wait(id));
        self.settle_waits();
        id
    }

    /// REPLICAOF NO ONE: this replica becomes a primary, under a new history id; the old one
    /// and its offset are kept, so its former peers can continue from it.
    pub fn promote(&mut self, ctx: &mut Ctx<Node>) {
        if self.role == Role::Primary {
            return;
        }
        self.replid2 = self.replid;
        self.offset2 = self.offset;
        self.replid = new_replid(ctx);
        self.role = Role::Primary;
        self.syncing = false;
        ctx.save(Saved { primary: None });
    }

    /// REPLICAOF primary: this node follows `primary` from now on, asking it for what follows
    /// its own offset.
    pub fn replicate(&mut self, primary: NodeId, ctx: &mut Ctx<Node>) {
        self.role = Role::Replica { primary };
        self.replicas.clear();
        ctx.save(Saved {
            primary: Some(primary),
        });
        self.psync(ctx);
    }

    fn psync(&mut self, ctx: &mut Ctx<Node>) {
        if let Role::Replica { primary } = self.role {
            self.syncing = true;
            self.psync_at = ctx.now();
            self.last_heard = ctx.now();
            ctx.send(
                primary,
                Message::Psync {
                    replid: self.replid,
                    offset: self.offset,
                },
            );
        }
    }

    fn apply(&mut self, command: Command) {
        match &command {
            Command::Set { key, value } => {
                self.store.insert(key.clone(), value.clone());
            }
            Command::Del { key } => {
                self.store.remove(key);
            }
            Command::Append { key, value } => {
                self.store
                    .entry(key.clone())
                    .or_default()
                    .extend_from_slice(value);
            }
        }
        self.offset += 1;
        self.backlog.push_back((self.offset, command));
        if self.backlog.len() > BACKLOG {
            self.backlog.pop_front();
        }
    }

    /// Whether the backlog holds every command after `offset`.
    fn backlog_has_after(&self, offset: u64) -> bool {
        offset == self.offset
            || self
                .backlog
                .front()
                .is_some_and(|&(first, _)| first <= offset + 1)
    }

    fn on_psync(&mut self, from: NodeId, replid: u64, offset: u64, ctx: &mut Ctx<Node>) {
        if self.role != Role::Primary {
            return;
        }
        let same_history = (replid == self.replid && offset <= self.offset)
            || (replid == self.replid2 && offset <= self.offset2);
        if same_history && self.backlog_has_after(offset) {
            // What it has is a prefix of this history: that much counts as acknowledged.
            self.replicas.insert(from, offset);
            let commands = self
                .backlog
                .iter()
                .filter(|(at, _)| *at > offset)
                .map(|(_, command)| command.clone())
                .collect();
            ctx.send(
                from,
                Message::Continue {
                    replid: self.replid,
                    offset,
                    commands,
                },
            );
        } else {
            let snapshot = self
                .store
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            // Nothing it has counts until it acknowledges the snapshot.
            self.replicas.insert(from, 0);
            ctx.send(
                from,
                Message::FullResync {
                    replid: self.replid,
                    offset: self.offset,
                    snapshot,
                },
            );
        }
    }

    fn on_command(&mut self, replid: u64, offset: u64, command: Command, ctx: &mut Ctx<Node>) {
        if self.syncing || replid != self.replid || offset <= self.offset {
            // Not this history, or a command already applied (a duplicate).
            return;
        }
        if offset > self.offset + 1 {
            // One was lost on the way: ask for everything after what we have.
            self.psync(ctx);
            return;
        }
        self.apply(command);
    }

    /// Answers every WAIT that has enough acknowledgements.
    fn settle_waits(&mut self) {
        let acks: Vec<u64> = self.replicas.values().copied().collect();
        let done = &mut self.done;
        self.waits.retain(|wait| {
            let acked = acks.iter().filter(|&&a| a >= wait.offset).count();
            if acked >= wait.replicas {
                done.insert(wait.id, acked);
                false
            } else {
                true
            }
        });
    }
}

fn new_replid(ctx: &mut Ctx<Node>) -> u64 {
    ctx.random_range(1..u64::MAX)
}

impl Process for Node {
    type Message = Message;
    type Timer = Timer;
    type Saved = Saved;

    fn start(_id: NodeId, _peers: &[NodeId], saved: Option<Saved>, ctx: &mut Ctx<Node>) -> Node {
        let mut node = Node {
            role: Role::Primary,
            store: BTreeMap::new(),
            replid: new_replid(ctx),
            offset: 0,
            replid2: 0,
            offset2: 0,
            backlog: VecDeque::new(),
            replicas: BTreeMap::new(),
            syncing: false,
            psync_at: ctx.now(),
            last_heard: ctx.now(),
            waits: Vec::new(),
            done: BTreeMap::new(),
            next_wait: 1,
        };
        ctx.set_timer(TICK, Timer::Tick);
        if let Some(Saved {
            primary: Some(primary),
        }) = saved
        {
            node.replicate(primary, ctx);
        }
        node
    }

    fn on_message(&mut self, from: NodeId, message: Message, ctx: &mut Ctx<Node>) {
        if let Message::Psync { replid, offset } = message {
            return self.on_psync(from, replid, offset, ctx);
        }
        if let Message::Ack { offset } = message {
            // Only a replica's own: an Ack from any other node says nothing of this history.
            if let (Role::Primary, Some(acked)) = (self.role, self.replicas.get_mut(&from)) {
                *acked = (*acked).max(offset);
                self.settle_waits();
            }
            return;
        }
        // The rest come from a primary: only this node's own is listened to.
        if self.role != (Role::Replica { primary: from }) {
            return;
        }
        self.last_heard = ctx.now();
        match message {
            Message::FullResync {
                replid,
                offset,
                snapshot,
            } => {
                if self.syncing {
                    self.store = snapshot.into_iter().collect();
                    self.replid = replid;
                    self.offset = offset;
                    self.backlog.clear();
                    self.syncing = false;
                    ctx.send(from, Message::Ack { offset });
                }
            }
            Message::Continue {
                replid,
                offset,
                commands,
            } => {
                if self.syncing && offset == self.offset {
                    self.replid = replid;
                    self.syncing = false;
                    for command in commands {
                        self.apply(command);
                    }
                }
            }
            Message::Command {
                replid,
                offset,
                command,
            } => self.on_command(replid, offset, command, ctx),
            Message::Ping { replid, offset } => {
                if !self.syncing && (replid != self.replid || offset > self.offset) {
                    self.psync(ctx);
                }
            }
            Message::GetAck => ctx.send(
                from,
                Message::Ack {
                    offset: self.offset,
                },
            ),
            Message::Psync { .. } | Message::Ack { .. } => {}
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Ctx<Node>) {
        match timer {
            Timer::Tick => {
                ctx.set_timer(TICK, Timer::Tick);
                match self.role {
                    Role::Primary => {
                        for &replica in self.replicas.keys() {
                            ctx.send(
                                replica,
                                Message::Ping {
                                    replid: self.replid,
                                    offset: self.offset,
                                },
                            );
                        }
                    }
                    Role::Replica { primary } => {
                        let silent = ctx.now().saturating_sub(self.last_heard) >= TIMEOUT;
                        // Pings may come while the answer to a Psync was lost: ask again.
                        let unanswered =
                            self.syncing && ctx.now().saturating_sub(self.psync_at) >= TIMEOUT;
                        if silent || unanswered {
                            self.psync(ctx);
                        } else if !self.syncing {
                            ctx.send(
                                primary,
                                Message::Ack {
                                    offset: self.offset,
                                },
                            );
                        }
                    }
                }
            }
            Timer::Wait(id) => {
                if let Some(at) = self.waits.iter().position(|w| w.id == id) {
                    let wait = self.waits.remove(at);
                    let acked = self
                        .replicas
                        .values()
                        .filter(|&&a| a >= wait.offset)
                        .count();
                    self.done.insert(id, acked);
                }
            }
        }
    }
}
