//! Helpers the redis checks share: how redis-cli shows bytes and requests, and how Redis words
//! the errors every scene after the first answers.

// Every judge of the track includes this module, and a scene uses only what it needs of it.
#![allow(dead_code)]

use std::fmt::Write;

/// Bytes as redis-cli quotes them (`sdscatrepr`): in double quotes, `\"`, `\\`, `\n`, `\r`,
/// `\t`, `\a`, `\b` escaped, other bytes outside printable ASCII as `\xhh`. Longer than 80
/// bytes, the start and the end are shown with the length between them.
pub fn quoted(bytes: &[u8]) -> String {
    const SHOWN: usize = 32;
    let mut out = String::from("\"");
    let mut escape = |bytes: &[u8]| {
        for &byte in bytes {
            match byte {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                0x07 => out.push_str("\\a"),
                0x08 => out.push_str("\\b"),
                0x20..=0x7E => out.push(byte as char),
                _ => {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            }
        }
    };
    if bytes.len() <= 80 {
        escape(bytes);
    } else {
        escape(&bytes[..SHOWN]);
        escape(format!("...({} bytes)...", bytes.len()).as_bytes());
        escape(&bytes[bytes.len() - SHOWN..]);
    }
    out.push('"');
    out
}

/// One argument as it is typed at redis-cli: bare when that reads back the same, quoted
/// otherwise (empty, spaces, quotes, anything not printable).
pub fn word(bytes: &[u8]) -> String {
    let bare = !bytes.is_empty()
        && bytes.len() <= 80
        && bytes
            .iter()
            .all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\'' && b != b'\\');
    if bare {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        quoted(bytes)
    }
}

/// A request as it is typed at redis-cli: `SET "a\r\nb" 1`.
pub fn command_line<A: AsRef<[u8]>>(args: &[A]) -> String {
    if args.is_empty() {
        return "(an empty request)".into();
    }
    let words: Vec<String> = args.iter().map(|arg| word(arg.as_ref())).collect();
    words.join(" ")
}

/// Redis's `string2ll`, which reads every integer argument: `0`, or an optional `-` then digits
/// with no leading zero, within `i64`.
pub fn string2ll(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let digits = text.strip_prefix('-').unwrap_or(text);
    let spelled = text == "0"
        || (digits.starts_with(|c: char| ('1'..='9').contains(&c))
            && digits.bytes().all(|b| b.is_ascii_digit()));
    if !spelled {
        return None;
    }
    text.parse().ok()
}

/// What Redis answers a command it does not know, as `commandCheckExistence` builds it in C:
/// `'%.128s'` of the name, then `'%.*s' ` of each argument while the list is under 128 bytes,
/// with 128 less the list's length as the precision; `%s` stops at a NUL; CR and LF become
/// spaces. Bytes that are not UTF-8 become U+FFFD.
pub fn unknown_command_error<A: AsRef<[u8]>>(args: &[A]) -> String {
    /// `%.*s`: the bytes before the first NUL, at most `precision` of them.
    fn printf_s(bytes: &[u8], precision: usize) -> &[u8] {
        let upto_nul = bytes.split(|&b| b == 0).next().unwrap_or(&[]);
        &upto_nul[..upto_nul.len().min(precision)]
    }
    let mut list: Vec<u8> = Vec::new();
    let mut i = 1;
    while i < args.len() && list.len() < 128 {
        let precision = 128 - list.len();
        let mut item = vec![b'\''];
        item.extend_from_slice(printf_s(args[i].as_ref(), precision));
        item.extend_from_slice(b"' ");
        list.extend(item);
        i += 1;
    }
    let mut text: Vec<u8> = Vec::new();
    text.extend_from_slice(b"ERR unknown command '");
    text.extend_from_slice(printf_s(args[0].as_ref(), 128));
    text.extend_from_slice(b"', with args beginning with: ");
    text.extend(list);
    let text: Vec<u8> = text
        .into_iter()
        .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect();
    String::from_utf8_lossy(&text).into_owned()
}

/// `ERR wrong number of arguments for '<name>' command`, the name as the command table has it.
pub fn arity_error(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
pub const SYNTAX_ERROR: &str = "ERR syntax error";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";

// The lists' and hashes' own words (t_list.c, t_hash.c, object.c).
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
pub const HASH_NOT_AN_INTEGER: &str = "ERR hash value is not an integer";
/// A count that must not be negative (LPOP's, RPOP's), whether negative or not an integer.
pub const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

/// `"SET k v"` as its arguments: words split at spaces.
pub fn words(line: &str) -> Vec<Vec<u8>> {
    line.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

/// A request and what came before it, as a message shows them.
pub fn told(before: &[String], did: &str) -> String {
    if before.is_empty() {
        did.to_string()
    } else {
        format!("{did}\n          (after: {})", before.join("; "))
    }
}

/// Requests and replies of a keyspace scene, written as the checks write them and shown as
/// redis-cli shows them. Each scene's crate has `Frame` and `Reply` types of its own, so these
/// are made in the checks file, for the `Frame` and `Reply` it imports. (The resp and server
/// scenes' checks include this module too, and use none of it.)
#[allow(unused_macros)]
macro_rules! keyspace_replies {
    () => {
        fn request<A: AsRef<[u8]>>(args: &[A]) -> Frame {
            Frame::Array(
                args.iter()
                    .map(|arg| Frame::Bulk(arg.as_ref().to_vec()))
                    .collect(),
            )
        }

        fn ok() -> Reply {
            Reply::Send(Frame::Simple("OK".into()))
        }

        fn simple(text: &str) -> Reply {
            Reply::Send(Frame::Simple(text.into()))
        }

        fn int(n: i64) -> Reply {
            Reply::Send(Frame::Integer(n))
        }

        fn bulk(data: &[u8]) -> Reply {
            Reply::Send(Frame::Bulk(data.to_vec()))
        }

        fn nil() -> Reply {
            Reply::Send(Frame::NullBulk)
        }

        fn err(text: &str) -> Reply {
            Reply::Send(Frame::Error(text.into()))
        }

        /// A frame as redis-cli prints it, on one line: `OK`, `"v"`, `(nil)`, `(integer) 3`,
        /// `(error) ERR ...`, `1) "a" 2) "b"`, `(empty array)`.
        fn cli(frame: &Frame) -> String {
            match frame {
                Frame::Simple(text) => text.clone(),
                Frame::Error(text) => format!("(error) {text}"),
                Frame::Integer(n) => format!("(integer) {n}"),
                Frame::Bulk(data) => crate::support::quoted(data),
                Frame::NullBulk => "(nil)".into(),
                Frame::Array(items) if items.is_empty() => "(empty array)".into(),
                Frame::Array(items) => {
                    let shown: Vec<String> = items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| format!("{}) {}", i + 1, cli(item)))
                        .collect();
                    shown.join(" ")
                }
                Frame::NullArray => "(nil array)".into(),
                other => format!("{other:?}"),
            }
        }

        fn shown(reply: &Reply) -> String {
            match reply {
                Reply::Send(frame) => cli(frame),
                Reply::Nothing => "nothing sent (Reply::Nothing)".into(),
                Reply::Close(frame) => format!("{}, then the connection closed", cli(frame)),
            }
        }

        fn expect_reply(did: &str, got: &Reply, expected: &Reply) -> judge::CheckResult {
            judge::expect(
                got == expected,
                format!(
                    "did:      {did}\nexpected: {}\ngot:      {}",
                    shown(expected),
                    shown(got)
                ),
            )
        }
    };
}

#[allow(unused_imports)]
pub(crate) use keyspace_replies;

/// A sweep that fails every disk operation of a workload in turn, each with each fault, as the
/// bitcask track's checks do: the store must say so, and stay consistent.
pub mod faults {
    use std::collections::BTreeMap;

    use judge::prelude::*;
    use kit::crash::{KvOp, Subject, show};
    use kit::fault::{FaultDir, attempt};
    use kit::sim::{Fault, OpKind, SimDisk};

    /// Every kind of operation a fault can be aimed at.
    pub const KINDS: [OpKind; 10] = [
        OpKind::Read,
        OpKind::Write,
        OpKind::Sync,
        OpKind::DirSync,
        OpKind::Create,
        OpKind::Open,
        OpKind::Rename,
        OpKind::Remove,
        OpKind::List,
        OpKind::Len,
    ];

    type Value = Option<Vec<u8>>;

    /// What one key may read back as.
    #[derive(Debug, Clone)]
    struct Allowed {
        /// In the store as it runs (or after a clean reopen): the last acknowledged value, and the
        /// values of failed writes since, which may or may not have happened.
        now: Vec<Value>,
        /// What survives any crash: the `now` of the last sync that returned.
        durable: Vec<Value>,
        /// Written since that sync, acknowledged or not.
        since: Vec<Value>,
        /// What the key may have held when a sync failed and dropped data: any of it may be what
        /// is left, whatever later syncs say (the store cannot know what the kernel dropped).
        limbo: Vec<Value>,
    }

    impl Default for Allowed {
        fn default() -> Self {
            Allowed {
                now: vec![None],
                durable: vec![None],
                since: Vec::new(),
                limbo: Vec::new(),
            }
        }
    }

    #[derive(Debug, Default)]
    struct Model {
        keys: BTreeMap<Vec<u8>, Allowed>,
    }

    impl Model {
        fn write(&mut self, key: &[u8], value: Value, acknowledged: bool) {
            let allowed = self.keys.entry(key.to_vec()).or_default();
            if acknowledged {
                allowed.now = vec![value.clone()];
            } else if !allowed.now.contains(&value) {
                allowed.now.push(value.clone());
            }
            allowed.since.push(value);
        }

        fn make_durable(&mut self) {
            for allowed in self.keys.values_mut() {
                allowed.durable = allowed.now.clone();
                allowed.since.clear();
            }
        }

        /// After a crash (or a sync that lost data), or as the store runs.
        fn allowed(&self, key: &[u8], crashed: bool) -> Vec<Value> {
            let allowed = self.keys.get(key).cloned().unwrap_or_default();
            let mut all = if crashed {
                let mut all = allowed.durable;
                all.extend(allowed.since);
                all
            } else {
                allowed.now
            };
            all.extend(allowed.limbo);
            all
        }

        /// A sync failed and the kernel dropped what was not durable.
        fn drop_unsynced(&mut self) {
            for allowed in self.keys.values_mut() {
                let mut limbo = std::mem::take(&mut allowed.limbo);
                limbo.extend(allowed.durable.iter().cloned());
                limbo.extend(allowed.since.iter().cloned());
                limbo.extend(allowed.now.iter().cloned());
                allowed.limbo = limbo;
            }
        }

        /// After a crash, what was read is the one truth.
        fn settle(&mut self, key: &[u8], value: Value) {
            let allowed = self.keys.entry(key.to_vec()).or_default();
            allowed.now = vec![value.clone()];
            allowed.durable = vec![value];
            allowed.since.clear();
            allowed.limbo.clear();
        }
    }

    fn shown(value: &Value) -> String {
        match value {
            Some(bytes) => format!("Some({})", show(bytes)),
            None => "None".into(),
        }
    }

    /// One run of a workload, with the fault (if any) armed at the start.
    struct Run<S: Subject> {
        faults: FaultDir,
        disk: SimDisk,
        model: Model,
        /// A failed sync dropped unsynced data: only what is durable can be promised.
        lost: bool,
        /// An operation failed: the store may refuse everything until it is opened again (after a
        /// failed write or sync it cannot know what reached the disk).
        refusing: bool,
        did: Vec<String>,
        /// The kind of operation the fault is aimed at, and the fault.
        armed: Option<(OpKind, Fault)>,
        store: Option<S::Store>,
    }

    impl<S: Subject> Run<S> {
        fn failure(&self, message: String) -> String {
            format!("did:      {}\n{message}", self.did.join(", "))
        }

        /// Opens the store; an open that a fault made fail is tried once more.
        fn open(&mut self, what: &str) -> Result<(), String> {
            self.store = None;
            for _ in 0..2 {
                let fired = self.faults.fired();
                let dir = self.faults.dir();
                match attempt(|| S::open(dir)) {
                    Ok(store) => {
                        self.did.push(what.into());
                        self.store = Some(store);
                        self.refusing = false;
                        return Ok(());
                    }
                    Err(error) if self.faults.fired() > fired => {
                        self.did
                            .push(format!("{what}, which failed on the fault ({error})"));
                        // A store that syncs as it opens (what an earlier process left
                        // unsynced) can lose it there too.
                        if matches!(self.armed, Some((_, Fault::SyncLosesData))) {
                            self.lost = true;
                            self.model.drop_unsynced();
                        }
                    }
                    Err(error) => {
                        self.did.push(what.into());
                        return Err(self.failure(format!(
                            "expected: the store to open\ngot:      Err({error}), with no fault \
                             injected in it"
                        )));
                    }
                }
            }
            Err(self.failure(
                "expected: the store to open once the fault had passed\ngot:      it failed again"
                    .into(),
            ))
        }

        fn op(&mut self, op: &KvOp) -> Result<(), String> {
            if let KvOp::Reopen = op {
                return self.open("reopen()");
            }
            let fired = self.faults.fired();
            let result = attempt(|| S::apply(self.store.as_mut().expect("open"), op));
            let faulted = self.faults.fired() > fired;
            let ok = result.is_ok();
            match &result {
                Ok(()) => self.did.push(format!("{op:?}")),
                Err(error) if faulted => self.did.push(format!("{op:?} failed ({error})")),
                Err(error) => {
                    self.did.push(format!("{op:?}"));
                    if !self.refusing {
                        return Err(self.failure(format!(
                            "expected: Ok\ngot:      Err({error}), with no fault injected in it"
                        )));
                    }
                }
            }
            match op {
                KvOp::Put(k, v) => self.model.write(k, Some(v.clone()), ok),
                KvOp::Delete(k) => self.model.write(k, None, ok),
                // A sync that returned promised durability, whatever it hid.
                KvOp::Sync if ok => self.model.make_durable(),
                _ => {}
            }
            if ok && S::syncs_every_write() {
                self.model.make_durable();
            }
            // Any failed operation: the append-only file takes no write until it is opened again.
            if faulted {
                self.refusing = true;
            }
            if faulted && matches!(self.armed, Some((_, Fault::SyncLosesData))) {
                self.lost = true;
                self.model.drop_unsynced();
            }
            Ok(())
        }

        /// Reads every key the workload wrote, and a probe never written.
        fn verify(&mut self, crashed: bool, settle: bool, when: &str) -> Result<(), String> {
            let mut keys: Vec<Vec<u8>> = self.model.keys.keys().cloned().collect();
            keys.push(b"never written".to_vec());
            for key in keys {
                let fired = self.faults.fired();
                let got = attempt(|| S::get(self.store.as_mut().expect("open"), &key));
                let faulted = self.faults.fired() > fired;
                let allowed = self.model.allowed(&key, crashed || self.lost);
                let expected = allowed.iter().map(shown).collect::<Vec<_>>().join(" or ");
                match got {
                    Ok(value) if allowed.contains(&value) => {
                        if settle {
                            self.model.settle(&key, value);
                        }
                    }
                    Ok(value) => {
                        return Err(self.failure(format!(
                            "{when}, get({})\nexpected: {expected}\ngot:      {}",
                            show(&key),
                            shown(&value)
                        )));
                    }
                    Err(_) if faulted || self.refusing => {}
                    Err(error) => {
                        return Err(self.failure(format!(
                            "{when}, get({})\nexpected: {expected}\ngot:      Err({error}), with no \
                             fault injected in it",
                            show(&key)
                        )));
                    }
                }
            }
            Ok(())
        }
    }

    /// Runs the workload once with `fault` armed at the `n`th operation of `kind`: every op, then
    /// reads of every key, a clean reopen and reads, a sync, a power cut, recovery and reads.
    fn run_once<S: Subject>(
        seed: u64,
        ops: &[KvOp],
        armed: Option<(OpKind, u64, Fault)>,
        shape: Shape,
    ) -> Result<FaultDir, String> {
        // A failed write leaves part of its bytes behind, as a real disk's can: nothing a store
        // writes later may trip on them.
        let profile = kit::sim::Profile {
            failed_writes_leave_a_prefix: true,
            ..kit::sim::Profile::GENTLE
        };
        let disk = SimDisk::with_profile(seed, profile);
        let faults = FaultDir::new(&disk, &[]);
        let mut did = Vec::new();
        if let Some((kind, n, fault)) = armed {
            faults.arm(kind, n, fault);
            did.push(format!(
                "(operation {n} of kind {kind:?} fails with Fault::{fault:?})"
            ));
        }
        let mut run = Run::<S> {
            faults: faults.clone(),
            disk: disk.clone(),
            model: Model::default(),
            lost: false,
            refusing: false,
            armed: armed.map(|(kind, _, fault)| (kind, fault)),
            did,
            store: None,
        };
        run.open("open an empty store")?;
        for op in ops {
            run.op(op)?;
        }
        run.verify(false, false, "then")?;
        if !shape.reopens {
            return Ok(faults);
        }
        let lost = run.lost;
        run.open("close and open the store again")?;
        run.lost = false;
        run.verify(lost, false, "then")?;
        if !shape.crash {
            return Ok(faults);
        }
        if shape.syncs {
            // What was acknowledged is now promised: the crash below must keep all of it.
            run.op(&KvOp::Sync)?;
        }
        run.store = None;
        run.disk.crash();
        // The worst crash: nothing unsynced survives, so a promise kept only by luck is caught.
        run.disk.restart_losing_unsynced();
        run.open("the power fails; recover")?;
        run.verify(true, true, "then")?;
        Ok(faults)
    }

    /// Fails every operation the workload makes, one run for each, with each fault in turn: an I/O
    /// error and a full disk on every operation, a sync that drops data on every sync. Every run
    /// must report the fault and stay consistent: acknowledged writes read back, nothing reads back
    /// wrong, and after a clean reopen and after a power cut, only what was promised is there.
    /// Runs at most `most` faults besides those at each kind's first two and last operations.
    pub fn sweep<S: Subject>(
        seed: u64,
        ops: &[KvOp],
        most: usize,
        shape: Shape,
    ) -> Result<(), String> {
        let golden = run_once::<S>(seed, ops, None, shape)?;
        let mut plans = Vec::new();
        for kind in KINDS {
            for n in 1..=golden.count(kind) {
                plans.push((kind, n, Fault::IoError));
                plans.push((kind, n, Fault::DiskFull));
                if kind == OpKind::Sync {
                    plans.push((kind, n, Fault::SyncLosesData));
                }
            }
        }
        // The first two and the last operation of each kind always (the first is often in open,
        // where a failure is easiest to mishandle, the second the first retry or rotation), and an
        // even sample of the rest by seed.
        let edge = |&(kind, n, _): &(OpKind, u64, Fault)| n <= 2 || n == golden.count(kind);
        let (edges, rest): (Vec<_>, Vec<_>) = plans.into_iter().partition(edge);
        let room = most.saturating_sub(edges.len()).max(1);
        let stride = rest.len().div_ceil(room).max(1);
        let shift = (seed as usize) % stride;
        let sampled = rest
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % stride == shift);
        for plan in edges.into_iter().chain(sampled.map(|(_, plan)| plan)) {
            run_once::<S>(seed, ops, Some(plan), shape)?;
        }
        Ok(())
    }

    /// The check every storage scene runs: a [`sweep`] of the smallest workload (one put: faults in
    /// open are easiest to see there, with nothing after them to hide them), of each of `scripted`
    /// (the scene's own edges),
    /// then of `cases` workloads from `workloads`, each shrunk on failure. `context` starts the failure message (the store's settings).
    pub fn faults_everywhere<S: Subject>(
        ctx: &mut Ctx,
        scripted: &[Vec<KvOp>],
        cases: u32,
        workloads: impl Strategy<Value = Vec<KvOp>>,
        shape: Shape,
        context: &str,
    ) -> CheckResult {
        const MOST: usize = 20;
        let seed = ctx.seed();
        let explain = |message: String| Failure::new(format!("{context}{message}"));
        let smallest = vec![KvOp::Put(b"a".to_vec(), b"1".to_vec())];
        for ops in std::iter::once(&smallest).chain(scripted) {
            sweep::<S>(seed, ops, MOST, shape).map_err(explain)?;
        }
        ctx.forall_named(&["ops"], cases, workloads, |ops| {
            sweep::<S>(seed, &ops, MOST, shape).map_err(explain)
        })
    }

    /// What a store can do: the append-only file's reopens and recovers from a power cut.
    #[derive(Debug, Clone, Copy)]
    pub struct Shape {
        pub reopens: bool,
        pub syncs: bool,
        pub crash: bool,
    }

    impl Shape {
        pub const RECOVERS: Shape = Shape {
            reopens: true,
            syncs: true,
            crash: true,
        };
    }
}
