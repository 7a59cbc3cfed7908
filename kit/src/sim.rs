//! A simulated disk: deterministic, in memory, and as unkind as real hardware.
//!
//! It keeps, for every file, the bytes known to be durable and the operations since the last
//! sync, and for the directory, the names known to be durable and the name operations since the
//! last directory sync. When the power fails ([`SimDisk::crash_at_step`], [`SimDisk::crash`]),
//! [`SimDisk::restart`] decides, from the disk's seed, what survived:
//!
//! - unsynced data may be lost entirely (the usual case), survive entirely, or survive in part:
//!   any subset of the unsynced writes, each torn at 512-byte sector boundaries, with the sectors
//!   that did not make it reading back as zeros or as garbage;
//! - unsynced name operations (create, rename, remove) survive as a prefix: file systems journal
//!   metadata in order, but only a directory sync says how far the journal got (or, under the
//!   [`Profile::HARSH`] profile, as any subset: not every file system journals in order);
//! - every handle of the old incarnation is poisoned, so code running after the crash (a `Drop`
//!   that flushes, say) can never reach the disk again.
//!
//! It can also fail operations on purpose ([`SimDisk::fail_next`]): a failed operation has no
//! effect, except under [`Profile::HARSH`], where a failed write may leave part of its data
//! behind, as a real one can. And it counts the work done
//! ([`SimDisk::stats`]) so checks can grade "a get costs one read" instead of timing anything.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, ErrorKind};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::disk::{Dir, File};

/// Torn writes tear at this granularity.
pub const SECTOR: u64 = 512;

/// The work a disk has done, counted by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub reads: u64,
    pub bytes_read: u64,
    pub writes: u64,
    pub bytes_written: u64,
    pub syncs: u64,
    pub dir_syncs: u64,
    pub opens: u64,
}

/// The kinds of operation a fault can be aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Read,
    /// An append, a write at an offset, or a truncate.
    Write,
    Sync,
    DirSync,
    Create,
    Open,
    Rename,
    Remove,
    List,
    Len,
}

/// A failure injected on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The operation fails with an I/O error and has no effect.
    IoError,
    /// The operation fails because the disk is full, and has no effect.
    DiskFull,
    /// A sync fails, and the kernel drops the file's unsynced data: what was not durable before
    /// the sync is gone. (A store should stop, not retry and believe the retry.)
    SyncLosesData,
}

/// What a disk does beyond what every simulated disk does. A scene opts in once its checks and
/// reference are proven under it: each is something real file systems do (the ALICE study of
/// crash behaviour catalogues them) and a store written for a kinder disk gets wrong.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Profile {
    /// A write that fails (an I/O error, a full disk) may have written part of its data first,
    /// a prefix of any length: the file is longer than before the call, though the call failed.
    pub failed_writes_leave_a_prefix: bool,
    /// Unsynced directory operations (create, rename, remove) survive a crash as any subset, in
    /// order, not only as a prefix: only a directory sync orders them.
    pub name_operations_reorder: bool,
}

impl Profile {
    /// Failed operations have no effect, and the directory journals in order.
    pub const GENTLE: Profile = Profile {
        failed_writes_leave_a_prefix: false,
        name_operations_reorder: false,
    };
    /// Everything above.
    pub const HARSH: Profile = Profile {
        failed_writes_leave_a_prefix: true,
        name_operations_reorder: true,
    };
}

/// What a restart did with the unsynced state, for failure messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aftermath {
    /// There was nothing unsynced.
    Clean,
    /// All unsynced data was lost.
    LostEverything,
    /// All unsynced data survived.
    KeptEverything,
    /// Some unsynced writes survived, some torn.
    KeptSome {
        kept: usize,
        torn: usize,
        lost: usize,
    },
}

impl fmt::Display for Aftermath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aftermath::Clean => write!(f, "no file data was unsynced"),
            Aftermath::LostEverything => write!(f, "every unsynced write was lost"),
            Aftermath::KeptEverything => write!(f, "every unsynced write survived"),
            Aftermath::KeptSome { kept, torn, lost } => write!(
                f,
                "of the unsynced writes: {kept} survived, {torn} torn, {lost} lost"
            ),
        }
    }
}

/// One file as the directory view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileView {
    pub name: String,
    pub len: u64,
    /// How much of the file would survive a crash that loses every unsynced write.
    pub durable_len: u64,
    /// Whether the name itself would survive such a crash.
    pub durable_name: bool,
}

/// The simulated disk. Cloning gives another handle to the same disk.
#[derive(Clone)]
pub struct SimDisk {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for SimDisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimDisk")
            .field("files", &self.files())
            .finish()
    }
}

type FileId = u64;

#[derive(Clone)]
struct State {
    profile: Profile,
    rng: u64,
    incarnation: u64,
    powered: bool,
    step: u64,
    crash_at: Option<u64>,
    faults: Vec<(OpKind, Fault)>,
    stats: Stats,
    next_id: FileId,
    files: BTreeMap<FileId, SimFileState>,
    names: BTreeMap<String, FileId>,
    durable_names: BTreeMap<String, FileId>,
    pending_names: Vec<NameOp>,
}

#[derive(Clone, Default)]
struct SimFileState {
    durable: Vec<u8>,
    current: Vec<u8>,
    pending: Vec<DataOp>,
}

#[derive(Clone)]
enum DataOp {
    Write { offset: u64, data: Vec<u8> },
    Truncate { len: u64 },
}

#[derive(Clone)]
enum NameOp {
    Create(String, FileId),
    Remove(String),
    Rename(String, String),
}

/// What runs after every [`SimDisk::restart`].
static POWER_CUT: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Sets what runs after every power cut a disk comes back from (once per process).
pub fn on_power_cut(hook: fn()) {
    let _ = POWER_CUT.set(hook);
}

impl SimDisk {
    /// An empty disk whose every choice follows from `seed`, with the [`Profile::GENTLE`]
    /// profile.
    pub fn new(seed: u64) -> SimDisk {
        SimDisk::with_profile(seed, Profile::GENTLE)
    }

    /// An empty disk whose every choice follows from `seed`, as unkind as `profile` says.
    pub fn with_profile(seed: u64, profile: Profile) -> SimDisk {
        SimDisk {
            state: Arc::new(Mutex::new(State {
                profile,
                rng: seed ^ 0x5EED_D15C,
                incarnation: 0,
                powered: true,
                step: 0,
                crash_at: None,
                faults: Vec::new(),
                stats: Stats::default(),
                next_id: 0,
                files: BTreeMap::new(),
                names: BTreeMap::new(),
                durable_names: BTreeMap::new(),
                pending_names: Vec::new(),
            })),
        }
    }

    /// The disk's directory, for the current incarnation.
    pub fn dir(&self) -> Arc<dyn Dir> {
        let incarnation = self.lock().incarnation;
        Arc::new(SimDir {
            disk: self.clone(),
            incarnation,
        })
    }

    /// An independent copy of the disk as it is now (power state, pending writes and all).
    pub fn fork(&self) -> SimDisk {
        SimDisk {
            state: Arc::new(Mutex::new(self.lock().clone())),
        }
    }

    /// As [`SimDisk::fork`], but the copy makes its own choices (how a crash tears) from `seed`:
    /// forks of one disk that should crash differently.
    pub fn fork_reseeded(&self, seed: u64) -> SimDisk {
        let fork = self.fork();
        fork.lock().rng = seed ^ 0x5EED_D15C;
        fork
    }

    /// Operations done so far (each call on a file or the directory is one step).
    pub fn steps(&self) -> u64 {
        self.lock().step
    }

    /// The power fails as operation number `step` starts: it and every later one fail.
    pub fn crash_at_step(&self, step: u64) {
        self.lock().crash_at = Some(step);
    }

    /// The power fails now.
    pub fn crash(&self) {
        self.lock().powered = false;
    }

    /// Whether the power has failed and the disk has not been restarted.
    pub fn is_crashed(&self) -> bool {
        !self.lock().powered
    }

    /// Power comes back (after a crash, or as a clean power cycle if there was none): decides
    /// what unsynced state survived, and starts a new incarnation whose handles are the only
    /// ones that work. The machine restarted too: the hook set with [`on_power_cut`] runs, so a
    /// grader that keeps the code under test in another process starts that process afresh.
    pub fn restart(&self) -> Aftermath {
        let aftermath = self.restart_disk_only();
        if let Some(hook) = POWER_CUT.get() {
            hook();
        }
        aftermath
    }

    /// As [`SimDisk::restart`], but the processes using the disk are not told: cheaper, for
    /// drivers that crash a workload at every step and restart the processes on a sample.
    pub fn restart_disk_only(&self) -> Aftermath {
        self.power_on().restart()
    }

    /// As [`SimDisk::restart_disk_only`], with the worst aftermath: nothing unsynced survives,
    /// no data and no name operation. The commonest crash on real disks, and the one a check
    /// wants when it holds a store to exactly what it promised.
    pub fn restart_losing_unsynced(&self) {
        let mut state = self.power_on();
        for file in state.files.values_mut() {
            file.pending.clear();
            file.current = file.durable.clone();
        }
        state.pending_names.clear();
        state.names = state.durable_names.clone();
        let live: std::collections::BTreeSet<FileId> = state.names.values().copied().collect();
        state.files.retain(|id, _| live.contains(id));
    }

    fn power_on(&self) -> MutexGuard<'_, State> {
        let mut state = self.lock();
        state.powered = true;
        state.crash_at = None;
        state.faults.clear();
        state.incarnation += 1;
        state
    }

    /// The next operation of kind `kind` fails with `fault`.
    pub fn fail_next(&self, kind: OpKind, fault: Fault) {
        self.lock().faults.push((kind, fault));
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats
    }

    pub fn reset_stats(&self) {
        self.lock().stats = Stats::default();
    }

    /// The files under their current names, in name order.
    pub fn files(&self) -> Vec<FileView> {
        let state = self.lock();
        state
            .names
            .iter()
            .map(|(name, id)| {
                let file = &state.files[id];
                FileView {
                    name: name.clone(),
                    len: file.current.len() as u64,
                    durable_len: file.durable.len() as u64,
                    durable_name: state.durable_names.get(name) == Some(id),
                }
            })
            .collect()
    }

    /// A file's current contents, unsynced writes included (for drawing and for checks).
    pub fn contents(&self, name: &str) -> Option<Vec<u8>> {
        let state = self.lock();
        let id = state.names.get(name)?;
        Some(state.files[id].current.clone())
    }

    /// Overwrites bytes of a file as if the disk had rotted: durable at once, no sync needed.
    /// Checks use it to corrupt a file on purpose.
    pub fn corrupt(&self, name: &str, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.lock();
        let id = *state.names.get(name).ok_or_else(|| not_found(name))?;
        let file = state.files.get_mut(&id).expect("named files exist");
        for image in [&mut file.durable, &mut file.current] {
            write_into(image, offset, bytes);
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next_random().is_multiple_of(one_in)
    }

    /// Starts an operation: counts the step, and fails it if the power is off, the crash point
    /// is reached, the handle is stale, or a fault is aimed at it.
    fn begin(&mut self, incarnation: u64, kind: OpKind) -> io::Result<Option<Fault>> {
        match self.begin_raw(incarnation, kind)? {
            Some(Fault::IoError) => Err(io::Error::other("injected I/O error")),
            Some(Fault::DiskFull) => Err(io::Error::new(ErrorKind::StorageFull, "disk full")),
            other => Ok(other),
        }
    }

    /// As [`State::begin`], but an injected error is returned as a fault, for the caller to
    /// act out before failing.
    fn begin_raw(&mut self, incarnation: u64, kind: OpKind) -> io::Result<Option<Fault>> {
        if incarnation != self.incarnation {
            return Err(io::Error::other(
                "this handle is from before a crash: reopen the store",
            ));
        }
        if !self.powered {
            return Err(io::Error::other("the power is off"));
        }
        self.step += 1;
        if self.crash_at == Some(self.step) {
            self.powered = false;
            return Err(io::Error::other("the power failed"));
        }
        Ok(match self.faults.iter().position(|(k, _)| *k == kind) {
            Some(i) => Some(self.faults.remove(i).1),
            None => None,
        })
    }

    fn file(&mut self, id: FileId) -> io::Result<&mut SimFileState> {
        self.files
            .get_mut(&id)
            .ok_or_else(|| io::Error::other("the file is gone"))
    }

    fn restart(&mut self) -> Aftermath {
        let mut kept = 0;
        let mut torn = 0;
        let mut lost = 0;
        let pending: usize = self.files.values().map(|f| f.pending.len()).sum();
        // A quarter of crashes lose everything unsynced (the usual case on real disks), a
        // quarter keep it all, and half keep a subset, tearing writes at sector boundaries:
        // the last write to a file is the one most likely caught halfway.
        let mode = self.next_random() % 4;
        let ids: Vec<FileId> = self.files.keys().copied().collect();
        for id in ids {
            let ops = std::mem::take(&mut self.files.get_mut(&id).expect("listed").pending);
            let mut image = self.files[&id].durable.clone();
            let last = ops.len().saturating_sub(1);
            for (i, op) in ops.into_iter().enumerate() {
                match (mode, op) {
                    (0, _) => lost += 1,
                    (1, op) => {
                        apply(&mut image, &op);
                        kept += 1;
                    }
                    (_, DataOp::Truncate { len }) => {
                        if self.chance(2) {
                            image.truncate(len as usize);
                            kept += 1;
                        } else {
                            lost += 1;
                        }
                    }
                    (_, DataOp::Write { offset, data }) => {
                        let roll = self.next_random() % 4;
                        if roll == 0 || (i == last && roll != 3) {
                            self.tear_into(&mut image, offset, &data);
                            torn += 1;
                        } else if roll == 1 {
                            lost += 1;
                        } else {
                            write_into(&mut image, offset, &data);
                            kept += 1;
                        }
                    }
                }
            }
            let file = self.files.get_mut(&id).expect("listed");
            file.durable = image.clone();
            file.current = image;
        }

        let pending_names = std::mem::take(&mut self.pending_names);
        let survive: Vec<bool> = if pending_names.is_empty() {
            Vec::new()
        } else if self.profile.name_operations_reorder {
            pending_names.iter().map(|_| self.chance(2)).collect()
        } else {
            let prefix = (self.next_random() % (pending_names.len() as u64 + 1)) as usize;
            (0..pending_names.len()).map(|i| i < prefix).collect()
        };
        let mut names = self.durable_names.clone();
        for (op, survives) in pending_names.into_iter().zip(survive) {
            if survives {
                apply_name(&mut names, op);
            }
        }
        self.durable_names = names.clone();
        self.names = names;
        let live: std::collections::BTreeSet<FileId> = self.names.values().copied().collect();
        self.files.retain(|id, _| live.contains(id));

        match (pending, mode) {
            (0, _) => Aftermath::Clean,
            (_, 0) => Aftermath::LostEverything,
            (_, 1) => Aftermath::KeptEverything,
            _ => Aftermath::KeptSome { kept, torn, lost },
        }
    }

    /// Writes the sectors of `data` that survive; the others read back as zeros or garbage.
    fn tear_into(&mut self, image: &mut Vec<u8>, offset: u64, data: &[u8]) {
        let end = offset + data.len() as u64;
        let mut start = offset;
        while start < end {
            let sector_end = ((start / SECTOR) + 1) * SECTOR;
            let chunk_end = sector_end.min(end);
            let chunk = &data[(start - offset) as usize..(chunk_end - offset) as usize];
            match self.next_random() % 3 {
                0 => write_into(image, start, chunk),
                1 => write_into(image, start, &vec![0; chunk.len()]),
                _ => {
                    let garbage: Vec<u8> =
                        (0..chunk.len()).map(|_| self.next_random() as u8).collect();
                    write_into(image, start, &garbage);
                }
            }
            start = chunk_end;
        }
    }
}

fn apply(image: &mut Vec<u8>, op: &DataOp) {
    match op {
        DataOp::Write { offset, data } => write_into(image, *offset, data),
        DataOp::Truncate { len } => image.truncate(*len as usize),
    }
}

fn apply_name(names: &mut BTreeMap<String, FileId>, op: NameOp) {
    match op {
        NameOp::Create(name, id) => {
            names.insert(name, id);
        }
        NameOp::Remove(name) => {
            names.remove(&name);
        }
        NameOp::Rename(from, to) => {
            if let Some(id) = names.remove(&from) {
                names.insert(to, id);
            }
        }
    }
}

fn write_into(image: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let end = offset as usize + data.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[offset as usize..end].copy_from_slice(data);
}

fn not_found(name: &str) -> io::Error {
    io::Error::new(ErrorKind::NotFound, format!("no file named {name:?}"))
}

/// The directory of a [`SimDisk`], for one incarnation.
#[derive(Debug, Clone)]
struct SimDir {
    disk: SimDisk,
    incarnation: u64,
}

impl SimDir {
    fn handle(&self, id: FileId) -> Box<dyn File> {
        Box::new(SimFile {
            disk: self.disk.clone(),
            incarnation: self.incarnation,
            id,
        })
    }
}

impl Dir for SimDir {
    fn create(&self, name: &str) -> io::Result<Box<dyn File>> {
        let mut state = self.disk.lock();
        state.begin(self.incarnation, OpKind::Create)?;
        if state.names.contains_key(name) {
            return Err(io::Error::new(
                ErrorKind::AlreadyExists,
                format!("{name:?} exists"),
            ));
        }
        let id = state.next_id;
        state.next_id += 1;
        state.files.insert(id, SimFileState::default());
        state.names.insert(name.to_string(), id);
        state
            .pending_names
            .push(NameOp::Create(name.to_string(), id));
        drop(state);
        Ok(self.handle(id))
    }

    fn open(&self, name: &str) -> io::Result<Box<dyn File>> {
        let mut state = self.disk.lock();
        state.begin(self.incarnation, OpKind::Open)?;
        state.stats.opens += 1;
        let id = *state.names.get(name).ok_or_else(|| not_found(name))?;
        drop(state);
        Ok(self.handle(id))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut state = self.disk.lock();
        state.begin(self.incarnation, OpKind::Remove)?;
        state.names.remove(name).ok_or_else(|| not_found(name))?;
        state.pending_names.push(NameOp::Remove(name.to_string()));
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut state = self.disk.lock();
        state.begin(self.incarnation, OpKind::Rename)?;
        let id = state.names.remove(from).ok_or_else(|| not_found(from))?;
        state.names.insert(to.to_string(), id);
        state
            .pending_names
            .push(NameOp::Rename(from.to_string(), to.to_string()));
        Ok(())
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut state = self.disk.lock();
        state.begin(self.incarnation, OpKind::List)?;
        Ok(state.names.keys().cloned().collect())
    }

    fn sync(&self) -> io::Result<()> {
        let mut state = self.disk.lock();
        state.begin(self.incarnation, OpKind::DirSync)?;
        state.stats.dir_syncs += 1;
        state.durable_names = state.names.clone();
        state.pending_names.clear();
        Ok(())
    }
}

/// An open file of a [`SimDisk`].
#[derive(Debug)]
struct SimFile {
    disk: SimDisk,
    incarnation: u64,
    id: FileId,
}

impl SimFile {
    fn write(&self, offset: Option<u64>, data: &[u8]) -> io::Result<u64> {
        let mut state = self.disk.lock();
        let failure = match state.begin_raw(self.incarnation, OpKind::Write)? {
            Some(Fault::IoError) => Some(io::Error::other("injected I/O error")),
            Some(Fault::DiskFull) => Some(io::Error::new(ErrorKind::StorageFull, "disk full")),
            _ => None,
        };
        let written = match &failure {
            None => data.len(),
            Some(_) if state.profile.failed_writes_leave_a_prefix && !data.is_empty() => {
                (state.next_random() % data.len() as u64) as usize
            }
            Some(_) => 0,
        };
        if written == 0
            && let Some(error) = failure
        {
            return Err(error);
        }
        state.stats.writes += 1;
        state.stats.bytes_written += written as u64;
        let file = state.file(self.id)?;
        let offset = offset.unwrap_or(file.current.len() as u64);
        if written > 0 {
            write_into(&mut file.current, offset, &data[..written]);
            file.pending.push(DataOp::Write {
                offset,
                data: data[..written].to_vec(),
            });
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(offset),
        }
    }
}

impl File for SimFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut state = self.disk.lock();
        state.begin(self.incarnation, OpKind::Read)?;
        let file = state.file(self.id)?;
        let start = (offset as usize).min(file.current.len());
        let n = buf.len().min(file.current.len() - start);
        buf[..n].copy_from_slice(&file.current[start..start + n]);
        state.stats.reads += 1;
        state.stats.bytes_read += n as u64;
        Ok(n)
    }

    fn append(&self, data: &[u8]) -> io::Result<u64> {
        self.write(None, data)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.write(Some(offset), data).map(|_| ())
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        let mut state = self.disk.lock();
        state.begin(self.incarnation, OpKind::Write)?;
        state.stats.writes += 1;
        let file = state.file(self.id)?;
        file.current.truncate(len as usize);
        file.pending.push(DataOp::Truncate { len });
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        let mut state = self.disk.lock();
        state.begin(self.incarnation, OpKind::Len)?;
        Ok(state.file(self.id)?.current.len() as u64)
    }

    fn sync(&self) -> io::Result<()> {
        let mut state = self.disk.lock();
        let fault = state.begin(self.incarnation, OpKind::Sync)?;
        state.stats.syncs += 1;
        let file = state.file(self.id)?;
        if fault == Some(Fault::SyncLosesData) {
            file.current = file.durable.clone();
            file.pending.clear();
            return Err(io::Error::other(
                "injected sync failure: unsynced data dropped",
            ));
        }
        file.durable = file.current.clone();
        file.pending.clear();
        Ok(())
    }
}
