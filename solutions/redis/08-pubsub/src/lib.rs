//! Publish/subscribe: channels and patterns, messages pushed to subscribers, and a limit on how
//! much a subscriber that does not read may cost the server.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

use std::collections::HashMap;

pub use redis_resp::Frame;
use redis_resp::encode;

/// A connected client, as the broker names it.
pub type ClientId = u64;

/// How much unread output a subscriber may hold before the broker closes its connection
/// (Redis's `client-output-buffer-limit pubsub <hard> <soft> <seconds>`). A limit of 0 is no
/// limit.
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

/// One connection's side of pub/sub.
#[derive(Debug, Default)]
struct Client {
    /// Channels and patterns, in the order they were subscribed.
    channels: Vec<Vec<u8>>,
    patterns: Vec<Vec<u8>>,
    /// Bytes written for the client and not yet taken by `output`.
    pending: Vec<u8>,
    /// Since when `pending` has been at or over the soft limit.
    over_soft_since: Option<i64>,
}

impl Client {
    fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

/// Every client's subscriptions and pending output, and who listens on each channel and
/// pattern.
#[derive(Debug)]
pub struct Broker {
    limits: Limits,
    next_id: ClientId,
    clients: HashMap<ClientId, Client>,
    /// Channel to its subscribers, in the order they subscribed.
    channels: HashMap<Vec<u8>, Vec<ClientId>>,
    /// Pattern to its subscribers, in the order they subscribed.
    patterns: HashMap<Vec<u8>, Vec<ClientId>>,
}

const CONTEXT_ERROR: &str =
    "only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context";

impl Broker {
    pub fn new(limits: Limits) -> Broker {
        Broker {
            limits,
            next_id: 1,
            clients: HashMap::new(),
            channels: HashMap::new(),
            patterns: HashMap::new(),
        }
    }

    /// A new client, subscribed to nothing.
    pub fn connect(&mut self) -> ClientId {
        let id = self.next_id;
        self.next_id += 1;
        self.clients.insert(id, Client::default());
        id
    }

    /// The client went away (or was closed): everything it held goes with it.
    pub fn disconnect(&mut self, client: ClientId) {
        let Some(state) = self.clients.remove(&client) else {
            return;
        };
        for channel in &state.channels {
            forget(&mut self.channels, channel, client);
        }
        for pattern in &state.patterns {
            forget(&mut self.patterns, pattern, client);
        }
    }

    /// Whether the client is still connected: not disconnected, not closed for its output.
    pub fn is_open(&self, client: ClientId) -> bool {
        self.clients.contains_key(&client)
    }

    /// How many bytes wait for the client to read them (0 for a closed client).
    pub fn pending(&self, client: ClientId) -> usize {
        self.clients.get(&client).map_or(0, |c| c.pending.len())
    }

    /// How many (client, channel) and (client, pattern) subscriptions the broker holds.
    pub fn subscriptions(&self) -> usize {
        self.clients.values().map(Client::subscriptions).sum()
    }

    /// The client's socket takes up to `max` bytes of its output, oldest first. `None` once the
    /// client is closed.
    pub fn output(&mut self, client: ClientId, max: usize) -> Option<Vec<u8>> {
        let state = self.clients.get_mut(&client)?;
        let taken = max.min(state.pending.len());
        let bytes: Vec<u8> = state.pending.drain(..taken).collect();
        // Caught up under the soft limit: its clock starts again the next time it is over.
        if self.limits.soft == 0 || state.pending.len() < self.limits.soft {
            state.over_soft_since = None;
        }
        Some(bytes)
    }

    /// Runs one request for the client at `now` milliseconds: its arguments, the command's
    /// name first. Replies (and messages to other clients) are encoded into the outputs. For a
    /// client not connected, or no arguments at all, it does nothing and returns `Done`.
    pub fn execute(&mut self, client: ClientId, args: &[Vec<u8>], now: i64) -> Outcome {
        let Some(state) = self.clients.get(&client) else {
            return Outcome::Done;
        };
        let Some(name) = args.first() else {
            return Outcome::Done;
        };
        let name = name.to_ascii_lowercase();
        let subscribed = state.subscriptions() > 0;
        let arity_ok = |min: usize, max: usize| (min..=max).contains(&args.len());
        let (min, max) = match name.as_slice() {
            b"subscribe" | b"psubscribe" => (2, usize::MAX),
            b"unsubscribe" | b"punsubscribe" => (1, usize::MAX),
            b"publish" => (3, 3),
            b"pubsub" => (2, usize::MAX),
            b"ping" if subscribed => (1, 2),
            b"reset" if subscribed => (1, 1),
            b"quit" if subscribed => (1, usize::MAX),
            _ if subscribed => {
                // The keyspace's commands are refused here; their names as Redis's table has
                // them, lower case.
                let shown = String::from_utf8_lossy(&name).into_owned();
                self.reply(
                    client,
                    &Frame::Error(format!("ERR Can't execute '{shown}': {CONTEXT_ERROR}")),
                    now,
                );
                return Outcome::Done;
            }
            _ => return Outcome::Pass,
        };
        if !arity_ok(min, max) {
            let shown = String::from_utf8_lossy(&name).into_owned();
            let error = format!("ERR wrong number of arguments for '{shown}' command");
            self.reply(client, &Frame::Error(error), now);
            return Outcome::Done;
        }
        // PUBLISH is the one pub/sub command the mode refuses (PUBSUB's refusal waits until
        // its subcommand is known); arity is checked before the mode, as Redis does.
        if subscribed && name == b"publish" {
            let error = format!("ERR Can't execute 'publish': {CONTEXT_ERROR}");
            self.reply(client, &Frame::Error(error), now);
            return Outcome::Done;
        }
        let rest = &args[1..];
        match name.as_slice() {
            b"subscribe" => rest.iter().for_each(|c| self.subscribe(client, c, now)),
            b"psubscribe" => rest.iter().for_each(|p| self.psubscribe(client, p, now)),
            b"unsubscribe" => self.unsubscribe(client, rest, now),
            b"punsubscribe" => self.punsubscribe(client, rest, now),
            b"publish" => {
                let receivers = self.publish(&rest[0], &rest[1], now);
                self.reply(client, &Frame::Integer(receivers as i64), now);
            }
            b"pubsub" => self.pubsub(client, rest, subscribed, now),
            b"ping" => {
                let echo = rest.first().cloned().unwrap_or_default();
                let pong = Frame::Array(vec![Frame::Bulk(b"pong".to_vec()), Frame::Bulk(echo)]);
                self.reply(client, &pong, now);
            }
            b"reset" => {
                self.unsubscribe_all(client);
                self.reply(client, &Frame::Simple("RESET".into()), now);
            }
            b"quit" => {
                self.reply(client, &Frame::Simple("OK".into()), now);
                return Outcome::Close;
            }
            _ => unreachable!("every name matched above returns or is listed here"),
        }
        Outcome::Done
    }

    fn subscribe(&mut self, client: ClientId, channel: &[u8], now: i64) {
        let Some(state) = self.clients.get_mut(&client) else {
            return;
        };
        if !state.channels.iter().any(|c| c == channel) {
            state.channels.push(channel.to_vec());
            self.channels
                .entry(channel.to_vec())
                .or_default()
                .push(client);
        }
        let count = state.subscriptions();
        self.reply(client, &notice("subscribe", Some(channel), count), now);
    }

    fn psubscribe(&mut self, client: ClientId, pattern: &[u8], now: i64) {
        let Some(state) = self.clients.get_mut(&client) else {
            return;
        };
        if !state.patterns.iter().any(|p| p == pattern) {
            state.patterns.push(pattern.to_vec());
            self.patterns
                .entry(pattern.to_vec())
                .or_default()
                .push(client);
        }
        let count = state.subscriptions();
        self.reply(client, &notice("psubscribe", Some(pattern), count), now);
    }

    /// UNSUBSCRIBE: the channels named, or every channel of the client, in the order it
    /// subscribed them; with none at all, one notice with a nil channel.
    fn unsubscribe(&mut self, client: ClientId, named: &[Vec<u8>], now: i64) {
        let Some(state) = self.clients.get(&client) else {
            return;
        };
        let channels = if named.is_empty() {
            state.channels.clone()
        } else {
            named.to_vec()
        };
        if channels.is_empty() {
            let count = state.subscriptions();
            self.reply(client, &notice("unsubscribe", None, count), now);
        }
        for channel in channels {
            // A notice may be the one that takes the client over its limit and closes it.
            let Some(state) = self.clients.get_mut(&client) else {
                return;
            };
            if let Some(at) = state.channels.iter().position(|c| *c == channel) {
                state.channels.remove(at);
                forget(&mut self.channels, &channel, client);
            }
            let count = state.subscriptions();
            self.reply(client, &notice("unsubscribe", Some(&channel), count), now);
        }
    }

    fn punsubscribe(&mut self, client: ClientId, named: &[Vec<u8>], now: i64) {
        let Some(state) = self.clients.get(&client) else {
            return;
        };
        let patterns = if named.is_empty() {
            state.patterns.clone()
        } else {
            named.to_vec()
        };
        if patterns.is_empty() {
            let count = state.subscriptions();
            self.reply(client, &notice("punsubscribe", None, count), now);
        }
        for pattern in patterns {
            let Some(state) = self.clients.get_mut(&client) else {
                return;
            };
            if let Some(at) = state.patterns.iter().position(|p| *p == pattern) {
                state.patterns.remove(at);
                forget(&mut self.patterns, &pattern, client);
            }
            let count = state.subscriptions();
            self.reply(client, &notice("punsubscribe", Some(&pattern), count), now);
        }
    }

    /// RESET's part: out of every channel and pattern, without a notice for each.
    fn unsubscribe_all(&mut self, client: ClientId) {
        let Some(state) = self.clients.get_mut(&client) else {
            return;
        };
        let channels = std::mem::take(&mut state.channels);
        let patterns = std::mem::take(&mut state.patterns);
        for channel in &channels {
            forget(&mut self.channels, channel, client);
        }
        for pattern in &patterns {
            forget(&mut self.patterns, pattern, client);
        }
    }

    /// Sends the message to the channel's subscribers, then once for each matching pattern to
    /// that pattern's subscribers; answers how many messages were queued.
    fn publish(&mut self, channel: &[u8], message: &[u8], now: i64) -> usize {
        let mut deliveries: Vec<(ClientId, Frame)> = Vec::new();
        if let Some(subscribers) = self.channels.get(channel) {
            let frame = Frame::Array(vec![
                Frame::Bulk(b"message".to_vec()),
                Frame::Bulk(channel.to_vec()),
                Frame::Bulk(message.to_vec()),
            ]);
            deliveries.extend(subscribers.iter().map(|&c| (c, frame.clone())));
        }
        // Per client, the patterns in the order that client subscribed them.
        let mut by_client: Vec<(ClientId, Frame)> = Vec::new();
        for (&id, state) in &self.clients {
            for pattern in &state.patterns {
                if glob_match(pattern, channel) {
                    let frame = Frame::Array(vec![
                        Frame::Bulk(b"pmessage".to_vec()),
                        Frame::Bulk(pattern.clone()),
                        Frame::Bulk(channel.to_vec()),
                        Frame::Bulk(message.to_vec()),
                    ]);
                    by_client.push((id, frame));
                }
            }
        }
        deliveries.extend(by_client);
        let receivers = deliveries.len();
        for (client, frame) in deliveries {
            self.reply(client, &frame, now);
        }
        receivers
    }

    fn pubsub(&mut self, client: ClientId, rest: &[Vec<u8>], subscribed: bool, now: i64) {
        let sub = rest[0].to_ascii_lowercase();
        let shown = String::from_utf8_lossy(&rest[0]).into_owned();
        let known = matches!(sub.as_slice(), b"channels" | b"numsub" | b"numpat");
        if !known {
            let error = format!("ERR unknown subcommand '{shown}'. Try PUBSUB HELP.");
            self.reply(client, &Frame::Error(error), now);
            return;
        }
        let full = format!("pubsub|{}", String::from_utf8_lossy(&sub));
        if subscribed {
            let error = format!("ERR Can't execute '{full}': {CONTEXT_ERROR}");
            self.reply(client, &Frame::Error(error), now);
            return;
        }
        let reply = match sub.as_slice() {
            b"channels" if rest.len() > 2 => Frame::Error(format!(
                "ERR unknown subcommand or wrong number of arguments for '{shown}'. Try PUBSUB HELP."
            )),
            b"channels" => {
                let pattern = rest.get(1);
                let mut names: Vec<&Vec<u8>> = self
                    .channels
                    .keys()
                    .filter(|name| pattern.is_none_or(|p| glob_match(p, name)))
                    .collect();
                names.sort();
                Frame::Array(names.into_iter().map(|n| Frame::Bulk(n.clone())).collect())
            }
            b"numsub" => Frame::Array(
                rest[1..]
                    .iter()
                    .flat_map(|channel| {
                        let count = self.channels.get(channel).map_or(0, Vec::len);
                        [Frame::Bulk(channel.clone()), Frame::Integer(count as i64)]
                    })
                    .collect(),
            ),
            _ if rest.len() != 1 => Frame::Error(format!(
                "ERR wrong number of arguments for '{full}' command"
            )),
            _ => Frame::Integer(self.patterns.len() as i64),
        };
        self.reply(client, &reply, now);
    }

    /// Appends a frame to the client's output, then holds the output to the limits: over the
    /// hard limit, or over the soft one for longer than it allows, the client is closed and
    /// all it held freed. The publisher never waits for a slow subscriber.
    fn reply(&mut self, client: ClientId, frame: &Frame, now: i64) {
        let limits = self.limits;
        let Some(state) = self.clients.get_mut(&client) else {
            return;
        };
        encode(frame, &mut state.pending);
        let pending = state.pending.len();
        let over_hard = limits.hard > 0 && pending >= limits.hard;
        let over_soft = limits.soft > 0 && pending >= limits.soft;
        let since = if over_soft {
            *state.over_soft_since.get_or_insert(now)
        } else {
            state.over_soft_since = None;
            now
        };
        if over_hard || (over_soft && now - since > limits.soft_ms) {
            self.disconnect(client);
        }
    }
}

/// A subscribe or unsubscribe notice: the kind, the channel or pattern (nil for none), and how
/// many subscriptions the client has now.
fn notice(kind: &str, name: Option<&[u8]>, count: usize) -> Frame {
    Frame::Array(vec![
        Frame::Bulk(kind.as_bytes().to_vec()),
        name.map_or(Frame::NullBulk, |n| Frame::Bulk(n.to_vec())),
        Frame::Integer(count as i64),
    ])
}

/// Takes the client off a channel's or pattern's list, and the list away once it is empty.
fn forget(lists: &mut HashMap<Vec<u8>, Vec<ClientId>>, name: &[u8], client: ClientId) {
    if let Some(list) = lists.get_mut(name) {
        list.retain(|&c| c != client);
        if list.is_empty() {
            lists.remove(name);
        }
    }
}

/// Redis's glob (`stringmatchlen`): `*` any run of bytes, `?` one byte, `[...]` one byte of a
/// set (`^` first negates it, `a-z` is a range either way round, `\` escapes), `\x` the byte
/// x. The match goes while both the pattern and the channel have bytes left, so an empty
/// channel matches only an empty pattern, `*` included.
pub fn glob_match(pattern: &[u8], channel: &[u8]) -> bool {
    matches_from(pattern, channel, &mut false)
}

/// `skip_longer` is set once a `*` has tried every place in the channel and failed: the
/// pattern after it cannot match at any place further on either, so every `*` before it stops
/// trying too. Without that, `*a*a*a*a*a*b` against forty `a`s tries billions of ways.
fn matches_from(pattern: &[u8], channel: &[u8], skip_longer: &mut bool) -> bool {
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
                for from in s..channel.len() {
                    if matches_from(&pattern[p + 1..], &channel[from..], skip_longer) {
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
                let mut matched = false;
                loop {
                    if p + 1 < pattern.len() && pattern[p] == b'\\' {
                        p += 1;
                        matched |= pattern[p] == channel[s];
                    } else if p >= pattern.len() {
                        // An unclosed set ends with the pattern.
                        p -= 1;
                        break;
                    } else if pattern[p] == b']' {
                        break;
                    } else if p + 2 < pattern.len() && pattern[p + 1] == b'-' {
                        let (a, b) = (pattern[p], pattern[p + 2]);
                        let (low, high) = if a <= b { (a, b) } else { (b, a) };
                        matched |= (low..=high).contains(&channel[s]);
                        p += 2;
                    } else {
                        matched |= pattern[p] == channel[s];
                    }
                    p += 1;
                }
                if matched == negate {
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
