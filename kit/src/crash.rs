//! Crash checks for key-value stores: run a workload, pull the power at an I/O step, recover,
//! and hold what comes back to what was promised.
//!
//! The promise is the usual one for a store with an explicit sync:
//! - every write acknowledged before a sync that returned is there after recovery;
//! - a key reads back as a value it really held at some point since then, never garbage;
//! - a key never written reads back as nothing (no phantoms);
//! - a crash during recovery loses nothing more, and the store works after recovery.
//!
//! [`check`] does this at every I/O step of a workload (or at an even sample of them when the
//! workload is long), each crash with its own seed, so a failure replays exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::sync::Arc;

use crate::disk::Dir;
use crate::fault::attempt;
use crate::sim::{Aftermath, Profile, SimDisk};

/// One step of a workload.
#[derive(Clone, PartialEq, Eq)]
pub enum KvOp {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    /// Everything acknowledged before it is durable once it returns.
    Sync,
    /// Housekeeping that must not change what the store holds (a merge, a compaction).
    Maintain,
    /// Close the store cleanly and open it again (no crash).
    Reopen,
}

impl fmt::Debug for KvOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvOp::Put(k, v) => write!(f, "put({}, {})", show(k), show(v)),
            KvOp::Delete(k) => write!(f, "delete({})", show(k)),
            KvOp::Sync => write!(f, "sync()"),
            KvOp::Maintain => write!(f, "maintain()"),
            KvOp::Reopen => write!(f, "reopen()"),
        }
    }
}

/// Bytes, short enough to read in a failure message: a string literal when they are short
/// text, `[byte; count]` when they repeat one byte, the first few otherwise.
pub fn show(bytes: &[u8]) -> String {
    const SHORT: usize = 24;
    if let Ok(text) = std::str::from_utf8(bytes)
        && bytes.len() <= SHORT
        && text.chars().all(|c| !c.is_control())
    {
        return format!("{text:?}");
    }
    match bytes {
        [] => "[]".into(),
        [first, rest @ ..] if rest.len() >= 3 && rest.iter().all(|b| b == first) => {
            format!("[{first}; {}]", bytes.len())
        }
        _ if bytes.len() <= SHORT / 2 => format!("{bytes:?}"),
        _ => {
            let head: Vec<String> = bytes[..8].iter().map(u8::to_string).collect();
            format!("[{}, ... ({} bytes)]", head.join(", "), bytes.len())
        }
    }
}

/// How a check drives the store under test. The checks implement it for a type of their own.
pub trait Subject {
    type Store;
    /// Opens (and recovers) the store in `dir`.
    fn open(dir: Arc<dyn Dir>) -> io::Result<Self::Store>;
    /// Applies a put, delete, sync or maintenance step.
    fn apply(store: &mut Self::Store, op: &KvOp) -> io::Result<()>;
    fn get(store: &mut Self::Store, key: &[u8]) -> io::Result<Option<Vec<u8>>>;
    /// True when every acknowledged write is durable at once (a store that syncs every write).
    fn syncs_every_write() -> bool {
        false
    }
}

/// What each key may read back as, given what was acknowledged and what was made durable.
#[derive(Debug, Clone, Default)]
pub struct KvHistory {
    /// Per key: the values it may hold, oldest first. The first is its durable value; the
    /// rest were written after the last durable point (None is "absent").
    allowed: BTreeMap<Vec<u8>, Vec<Option<Vec<u8>>>>,
}

impl KvHistory {
    /// A write that happened after the last durable point.
    fn record(&mut self, key: &[u8], value: Option<Vec<u8>>) {
        self.allowed
            .entry(key.to_vec())
            .or_insert_with(|| vec![None])
            .push(value);
    }

    /// Everything so far is durable: each key keeps only its latest value.
    fn make_durable(&mut self) {
        for values in self.allowed.values_mut() {
            let last = values.pop().expect("never empty");
            *values = vec![last];
        }
    }

    /// What `key` may read back as.
    pub fn allowed(&self, key: &[u8]) -> Vec<Option<Vec<u8>>> {
        self.allowed.get(key).cloned().unwrap_or_else(|| vec![None])
    }

    /// After a recovery: what was read is now the one truth.
    fn settle(&mut self, observed: BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
        self.allowed = observed.into_iter().map(|(k, v)| (k, vec![v])).collect();
    }
}

/// Bounds on how much a crash check does.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Crash at every step of workloads up to this many steps; sample this many otherwise.
    pub crash_points: u64,
    /// Also crash during recovery, then recover again.
    pub crash_during_recovery: bool,
    /// How unkind the disk is (see [`Profile`]).
    pub profile: Profile,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            crash_points: 200,
            crash_during_recovery: true,
            profile: Profile::GENTLE,
        }
    }
}

/// A broken promise, with what is needed to understand and replay it.
#[derive(Debug, Clone)]
pub struct CrashFailure {
    pub message: String,
}

impl fmt::Display for CrashFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a passing check did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrashStats {
    pub crashes: u64,
    pub recoveries: u64,
}

/// Runs `ops` against `S` on a simulated disk, crashing at each I/O step in turn, and checks
/// every recovery. `probes` are keys the workload never writes, to catch phantoms.
pub fn check<S: Subject>(
    seed: u64,
    ops: &[KvOp],
    probes: &[Vec<u8>],
    limits: Limits,
) -> Result<CrashStats, CrashFailure> {
    let steps = golden_run::<S>(seed, ops)?;
    let mut stats = CrashStats::default();
    let points = crash_points(steps, limits.crash_points, seed);
    let last = points.len().saturating_sub(1);
    for (i, crash_step) in points.into_iter().enumerate() {
        // A power cut restarts the processes too (see `SimDisk::restart`): at the last crash of
        // every workload, and at a sample of the others, which is what keeps this fast.
        let restart = if i == last || i as u64 % RESTART_EVERY == seed % RESTART_EVERY {
            Restart::Processes
        } else {
            Restart::DiskOnly
        };
        crash_once::<S>(seed, ops, probes, crash_step, limits, restart)?;
        stats.crashes += 1;
        stats.recoveries += if limits.crash_during_recovery { 2 } else { 1 };
    }
    Ok(stats)
}

/// The workload without a crash: it must succeed, and tells how many steps it takes.
fn golden_run<S: Subject>(seed: u64, ops: &[KvOp]) -> Result<u64, CrashFailure> {
    let disk = SimDisk::new(seed);
    let outcome = run::<S>(&disk, ops);
    let history = acknowledged::<S>(ops, None);
    if let Some(problem) = outcome.problem {
        return Err(CrashFailure {
            message: format!(
                "with no crash at all, {problem}\nworkload: {}",
                list(ops, ops.len())
            ),
        });
    }
    let context = format!(
        "reopening after the workload, with no crash\nworkload: {}",
        list(ops, ops.len())
    );
    let mut store = open_or_fail::<S>(&disk, &context)?;
    verify::<S>(&mut store, &history, &[], &context)?;
    Ok(disk.steps())
}

fn crash_points(steps: u64, most: u64, seed: u64) -> Vec<u64> {
    if steps <= most {
        return (1..=steps).collect();
    }
    // An even spread, shifted by the seed so different seeds probe different steps.
    let stride = steps as f64 / most as f64;
    let shift = (seed % 1000) as f64 / 1000.0;
    (0..most)
        .map(|i| 1 + ((i as f64 + shift) * stride) as u64)
        .map(|s| s.min(steps))
        .collect()
}

/// Where the power failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interruption {
    Opening,
    /// In the operation at this index.
    Op(usize),
}

struct RunOutcome {
    interrupted: Option<Interruption>,
    /// Something that went wrong without a crash to blame.
    problem: Option<String>,
}

/// Applies the workload until it ends or the power fails.
fn run<S: Subject>(disk: &SimDisk, ops: &[KvOp]) -> RunOutcome {
    // An error is the crash's doing if the power is off; otherwise it is a problem.
    let stopped = |error: io::Error, at: Interruption, what: String| {
        if disk.is_crashed() {
            RunOutcome {
                interrupted: Some(at),
                problem: None,
            }
        } else {
            RunOutcome {
                interrupted: None,
                problem: Some(format!("{what} failed: {error}")),
            }
        }
    };
    let mut store = match attempt(|| S::open(disk.dir())) {
        Ok(store) => Some(store),
        Err(error) => {
            return stopped(
                error,
                Interruption::Opening,
                "opening an empty store".into(),
            );
        }
    };
    for (i, op) in ops.iter().enumerate() {
        let result = match op {
            KvOp::Reopen => {
                // Closed before it is opened again, as a restarting process would.
                store = None;
                attempt(|| S::open(disk.dir())).map(|reopened| store = Some(reopened))
            }
            _ => attempt(|| S::apply(store.as_mut().expect("open between operations"), op)),
        };
        if let Err(error) = result {
            return stopped(error, Interruption::Op(i), format!("op {} {op:?}", i + 1));
        }
    }
    RunOutcome {
        interrupted: None,
        problem: None,
    }
}

/// What the store promised by the time the power failed in op `interrupted` (or by the end).
/// The interrupted op may or may not have reached the disk, so its write is possible but not
/// certain; if it was a sync, it promised nothing, since it never returned.
fn acknowledged<S: Subject>(ops: &[KvOp], interrupted: Option<Interruption>) -> KvHistory {
    let mut history = KvHistory::default();
    let done = match interrupted {
        None => ops.len(),
        Some(Interruption::Opening) => 0,
        Some(Interruption::Op(i)) => i + 1,
    };
    for (i, op) in ops[..done].iter().enumerate() {
        let returned = interrupted != Some(Interruption::Op(i));
        match op {
            KvOp::Put(k, v) => history.record(k, Some(v.clone())),
            KvOp::Delete(k) => history.record(k, None),
            KvOp::Sync if returned => history.make_durable(),
            KvOp::Sync | KvOp::Maintain | KvOp::Reopen => {}
        }
        if returned && S::syncs_every_write() {
            history.make_durable();
        }
    }
    history
}

/// One crash in this many restarts the processes as well as the disk.
const RESTART_EVERY: u64 = 8;

/// What comes back after a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    Processes,
    DiskOnly,
}

impl Restart {
    fn power_on(self, disk: &SimDisk) -> Aftermath {
        match self {
            Restart::Processes => disk.restart(),
            Restart::DiskOnly => disk.restart_disk_only(),
        }
    }
}

fn crash_once<S: Subject>(
    seed: u64,
    ops: &[KvOp],
    probes: &[Vec<u8>],
    crash_step: u64,
    limits: Limits,
    restart: Restart,
) -> Result<(), CrashFailure> {
    // Each crash decides differently: by seed, by step, and by workload (so that a check's many
    // workloads, all run with the check's one seed, do not all crash alike).
    let disk = SimDisk::with_profile(
        seed ^ crash_step.wrapping_mul(0x9E37_79B9) ^ fingerprint(ops),
        limits.profile,
    );
    disk.crash_at_step(crash_step);
    let outcome = run::<S>(&disk, ops);
    let mut history = acknowledged::<S>(ops, outcome.interrupted);
    if let Some(problem) = outcome.problem {
        return Err(CrashFailure {
            message: format!("{problem}\nworkload: {}", list(ops, ops.len())),
        });
    }
    let at = match outcome.interrupted {
        Some(Interruption::Op(i)) => format!("during op {} ({:?})", i + 1, ops[i]),
        Some(Interruption::Opening) => "while opening the empty store".into(),
        None => "after the workload".into(),
    };
    let context = |aftermath: &Aftermath, extra: &str| {
        format!(
            "power failed at I/O step {crash_step}, {at}; on restart {aftermath}{extra}\nworkload: {}",
            list(ops, ops.len())
        )
    };
    let aftermath = restart.power_on(&disk);

    if limits.crash_during_recovery {
        let trial = disk.fork();
        let before = trial.steps();
        if attempt(|| S::open(trial.dir())).is_ok() {
            let recovery_steps = trial.steps() - before;
            if recovery_steps > 0 {
                let into = 1 + (crash_step * 7919) % recovery_steps;
                disk.crash_at_step(disk.steps() + into);
                let _ = attempt(|| S::open(disk.dir()));
                // The processes were restarted at the crash above, if at all: once per crash
                // point is enough to lose whatever the store kept in memory.
                disk.restart_disk_only();
            }
        }
    }

    let mut store = open_or_fail::<S>(&disk, &context(&aftermath, ""))?;
    let observed = verify::<S>(&mut store, &history, probes, &context(&aftermath, ""))?;
    history.settle(observed);

    // The recovered store must keep working: one more write, made durable, read back.
    // A name no workload of short keys uses, readable in a failure message.
    let key = b"~written after recovery~".to_vec();
    let more = [KvOp::Put(key.clone(), b"ok".to_vec()), KvOp::Sync];
    for op in &more {
        if let Err(error) = attempt(|| S::apply(&mut store, op)) {
            return Err(CrashFailure {
                message: format!(
                    "after recovery, {op:?} failed: {error}\n{}",
                    context(&aftermath, "")
                ),
            });
        }
    }
    history.record(&key, Some(b"ok".to_vec()));
    history.make_durable();
    let later = context(&aftermath, "; then one more write was made durable");
    verify::<S>(&mut store, &history, &[], &later)?;

    // And it must survive another power cycle: a torn tail left in place after recovery
    // shows up here, when the next recovery trips over it.
    drop(store);
    disk.restart_disk_only();
    let again = context(
        &aftermath,
        "; then one more write was made durable, and the power cycled again",
    );
    let mut store = open_or_fail::<S>(&disk, &again)?;
    verify::<S>(&mut store, &history, probes, &again)?;
    Ok(())
}

/// Opens the store; `context` says what happened before (and what the workload was).
fn open_or_fail<S: Subject>(disk: &SimDisk, context: &str) -> Result<S::Store, CrashFailure> {
    attempt(|| S::open(disk.dir())).map_err(|error| CrashFailure {
        message: format!("recovery failed: {error}\n{context}"),
    })
}

/// Reads every key the history knows and every probe; fails on anything not allowed.
fn verify<S: Subject>(
    store: &mut S::Store,
    history: &KvHistory,
    probes: &[Vec<u8>],
    context: &str,
) -> Result<BTreeMap<Vec<u8>, Option<Vec<u8>>>, CrashFailure> {
    let keys: BTreeSet<Vec<u8>> = history
        .allowed
        .keys()
        .cloned()
        .chain(probes.iter().cloned())
        .collect();
    let mut observed = BTreeMap::new();
    for key in keys {
        let got = attempt(|| S::get(store, &key)).map_err(|error| CrashFailure {
            message: format!("get({}) failed: {error}\n{context}", show(&key)),
        })?;
        let allowed = history.allowed(&key);
        if !allowed.contains(&got) {
            let shown: Vec<String> = allowed.iter().map(|v| show_value(v.as_deref())).collect();
            return Err(CrashFailure {
                message: format!(
                    "get({}) returned {}, but it may only be {}\n{context}",
                    show(&key),
                    show_value(got.as_deref()),
                    shown.join(" or ")
                ),
            });
        }
        observed.insert(key, got);
    }
    Ok(observed)
}

fn fingerprint(ops: &[KvOp]) -> u64 {
    format!("{ops:?}")
        .bytes()
        .fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
        })
}

fn show_value(value: Option<&[u8]>) -> String {
    match value {
        Some(bytes) => format!("Some({})", show(bytes)),
        None => "None".into(),
    }
}

fn list(ops: &[KvOp], upto: usize) -> String {
    ops[..upto]
        .iter()
        .map(|op| format!("{op:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
