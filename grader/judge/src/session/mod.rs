//! The judge's hold on the subject: its zygote, the instances a check has started, the disk it
//! lends them, what they printed, and whether the check must end because one of them died,
//! hung or broke the protocol.

mod disk;
mod instance;
mod zygote;

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use disk::Lent;
pub use instance::Instance;
use protocol::Handshake;
use wire::frame::{self, DiskOp};
use wire::region::Region;

use crate::panics;
use crate::remote::UnitSlot;
use zygote::{Output, Zygote};

/// Keep this much of what the learner's code prints: enough to debug with, not enough to flood
/// memory.
const OUTPUT_LIMIT: usize = 64 * 1024;

/// How many call lanes an instance gets when the API declares objects shared between threads.
const SHARED_LANES: usize = 8;

pub struct Session {
    zygote: Zygote,
    variant: u16,
    timeout: Option<Duration>,
    units: &'static [&'static UnitSlot],
    call_lanes: usize,
    background: bool,
    state: Mutex<State>,
    pub disk: disk::DiskTable,
    output: Arc<Mutex<Vec<u8>>>,
    /// The pipe the subject's output comes through, and whether its reader holds bytes it has
    /// read and not yet kept: what [`Session::end_check`] waits on.
    output_pipe: Option<(RawFd, Arc<AtomicBool>)>,
    spares: Spares,
    /// Where the subject runs; removed at the end.
    workdir: std::path::PathBuf,
}

#[derive(Default)]
struct State {
    /// Which check this is, counted from 1 in this judge.
    check: u64,
    deadline: Option<Instant>,
    /// Why the check in progress must end as a death, once something has gone that wrong.
    fatal: Option<String>,
    /// The instance calls go to unless they are made on an object that lives elsewhere.
    default: Option<Arc<Instance>>,
    /// Every instance started during the check in progress.
    instances: Vec<Arc<Instance>>,
}

static SESSION: OnceLock<Session> = OnceLock::new();

/// The session of this judge process.
pub fn session() -> &'static Session {
    SESSION
        .get()
        .expect("the learner's code was called before the judge started its subject")
}

/// How the zygote's output reaches the judge.
pub enum Printing {
    Captured,
    OnTerminal,
}

impl Session {
    /// Starts the subject. Call before any other thread of the judge starts.
    pub fn start(
        handshake: &Handshake,
        units: &'static [&'static UnitSlot],
        printing: Printing,
    ) -> Result<&'static Session, String> {
        let workdir = workdir(handshake.containment.subject_uid())
            .map_err(|e| format!("cannot make the subject's working directory: {e}"))?;
        let output = Arc::new(Mutex::new(Vec::new()));
        let (zygote_output, reader) = match printing {
            Printing::Captured => {
                let (read, write) = pipe().map_err(|e| format!("cannot make a pipe: {e}"))?;
                (Output::Pipe(write), Some(read))
            }
            Printing::OnTerminal => (Output::Inherit, None),
        };
        // SAFETY: the grader passes the subject binary as this descriptor; nothing else owns it.
        let binary = protocol::SUBJECT_FD;
        unsafe { libc::fcntl(binary, libc::F_SETFD, libc::FD_CLOEXEC) };
        let zygote = Zygote::start(
            binary,
            &handshake.containment,
            handshake.memory_bytes,
            zygote_output,
            &workdir,
        )
        .map_err(|e| e.to_string())?;
        let output_pipe = reader.map(|read| {
            let fd = read.as_raw_fd();
            let holding = Arc::new(AtomicBool::new(false));
            let (output, flag) = (Arc::clone(&output), Arc::clone(&holding));
            std::thread::spawn(move || keep_tail(read, &output, &flag));
            (fd, holding)
        });
        let expected: Vec<u64> = units.iter().map(|u| u.fingerprint).collect();
        match zygote.fingerprints.get(handshake.variant as usize) {
            Some(found) if *found == expected => {}
            Some(_) => {
                return Err(
                    "the learner's process was built from another version of the \
                            scene's API declaration than the checks: rebuild both"
                        .into(),
                );
            }
            None => return Err(format!("the subject has no variant {}", handshake.variant)),
        }
        let started = Session {
            zygote,
            variant: handshake.variant,
            timeout: match printing_has_deadline(&handshake.task) {
                true => Some(Duration::from_millis(handshake.timeout_ms)),
                false => None,
            },
            units,
            call_lanes: if units.iter().any(|u| u.shared) {
                SHARED_LANES
            } else {
                1
            },
            background: units.iter().any(|u| u.disk),
            state: Mutex::new(State::default()),
            disk: disk::DiskTable::default(),
            output,
            output_pipe,
            spares: Spares::default(),
            workdir,
        };
        if SESSION.set(started).is_err() {
            return Err("a judge starts one subject".into());
        }
        session().keep_spares();
        Ok(session())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The position of `unit` among the units the subject was built with.
    pub fn unit_index(&self, unit: &UnitSlot) -> u16 {
        self.units
            .iter()
            .position(|u| std::ptr::eq(*u, unit))
            .expect("every API the checks use is registered with the judge") as u16
    }

    /// A check starts: a clean slate and a deadline.
    pub fn begin_check(&self) {
        self.disk.clear();
        self.output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let mut state = self.state();
        *state = State {
            check: state.check + 1,
            ..State::default()
        };
        state.deadline = self
            .timeout
            .map(|timeout| Instant::now() + timeout * protocol::CHECK_TIMEOUTS);
    }

    /// The check has ended: every instance it started is killed. Returns why it died, if it
    /// did, and what the learner's code printed.
    pub fn end_check(&self) -> (Option<String>, String) {
        let (fatal, instances) = {
            let mut state = self.state();
            state.default = None;
            (state.fatal.take(), std::mem::take(&mut state.instances))
        };
        self.stop(&instances);
        // Give the last words of a dying process a moment to arrive.
        let quiet_from =
            Instant::now() + Duration::from_millis(if fatal.is_some() { 50 } else { 0 });
        while Instant::now() < quiet_from {
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Some((fd, holding)) = &self.output_pipe {
            settle(*fd, holding);
        }
        let output =
            String::from_utf8_lossy(&self.output.lock().unwrap_or_else(|p| p.into_inner()))
                .into_owned();
        let output = if output.len() >= OUTPUT_LIMIT {
            format!("[... earlier output dropped ...]\n{output}")
        } else {
            output
        };
        let fatal = fatal.map(|why| self.explain(why, &output));
        (fatal, output)
    }

    /// Names a death more precisely when the output says what happened.
    fn explain(&self, why: String, output: &str) -> String {
        if output.contains("has overflowed its stack") {
            "overflowed its stack: unbounded recursion?".into()
        } else if output.contains("memory allocation of") {
            "ran out of memory (the limit is set by the grader)".into()
        } else {
            why
        }
    }

    /// Stops the judge's subject for good.
    pub fn shutdown(&self) {
        let mut instances = std::mem::take(&mut self.state().instances);
        instances.extend(self.spares.close());
        self.stop(&instances);
        self.zygote.kill_all();
        let _ = std::fs::remove_dir_all(&self.workdir);
    }

    fn stop(&self, instances: &[Arc<Instance>]) {
        for instance in instances {
            self.retire(instance);
        }
    }

    /// Lets an instance go and has it killed.
    pub fn retire(&self, instance: &Instance) {
        if !instance
            .retired
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            self.zygote.kill(instance.id);
            instance.retire();
        }
    }

    /// The instance calls go to by default, started on first use.
    pub fn default_instance(&self) -> Arc<Instance> {
        if let Some(instance) = &self.state().default {
            return Arc::clone(instance);
        }
        let instance = self.spawn_instance();
        self.state().default = Some(Arc::clone(&instance));
        instance
    }

    /// A new instance, for an object that lives in a process of its own: the spare one the
    /// spawner keeps ready if there is one, so that starting a process costs the check nothing.
    pub fn spawn_instance(&self) -> Arc<Instance> {
        self.check_fatal();
        let instance = match self.spares.take() {
            Some(instance) => instance,
            None => self.fresh_instance().unwrap_or_else(|why| self.fail(why)),
        };
        let mut state = self.state();
        instance.belongs_to(state.check);
        state.instances.push(Arc::clone(&instance));
        instance
    }

    /// Forks an instance from the zygote.
    fn fresh_instance(&self) -> Result<Arc<Instance>, String> {
        let lanes = self.call_lanes + usize::from(self.background);
        let region = Region::create(lanes, instance::LANE_BYTES)
            .map_err(|e| format!("cannot make shared memory: {e}"))?;
        let id = self.zygote.spawn(
            self.variant,
            &region,
            self.call_lanes as u16,
            self.background,
        )?;
        let instance = Arc::new(Instance::new(id, region, self.call_lanes));
        if self.background {
            instance.serve_background(|request, answer| {
                let session = session();
                let reply = match frame::payload::<DiskOp>(request) {
                    Ok(op) => session.disk.serve(op, &[]),
                    Err(why) => Err(std::io::Error::other(why).into()),
                };
                *answer = wire::postcard::to_stdvec(&reply).expect("an answer always encodes");
            });
        }
        Ok(instance)
    }

    /// Keeps a spare instance ready, for as long as the judge runs.
    fn keep_spares(&'static self) {
        std::thread::spawn(move || {
            loop {
                self.spares.wait_for_room();
                match self.fresh_instance() {
                    Ok(instance) => self.spares.put(instance),
                    // The check that asks next will fork one itself, and say what fails.
                    Err(_) => return,
                }
            }
        });
    }

    /// The power was cut: the default instance goes, and the next call starts a fresh one.
    pub fn power_cut(&self) {
        let old = self.state().default.take();
        if let Some(old) = old {
            self.retire(&old);
        }
    }

    /// When a call starting now must have returned: the per-call limit, or the end of the
    /// check's time if that comes first. Unwinds out of the check if it has already died.
    pub fn call_deadline_unless_fatal(&self) -> Option<Deadline> {
        let state = self.state();
        if state.fatal.is_some() {
            drop(state);
            panics::abort_check();
        }
        let call = Instant::now() + self.timeout?;
        let check = state.deadline?;
        Some(if check < call {
            Deadline {
                at: check,
                whole_check: true,
            }
        } else {
            Deadline {
                at: call,
                whole_check: false,
            }
        })
    }

    /// Hands the socket `fd` over to `instance`, for a call to take by the id returned; the
    /// judge's copy closes, so the subject's is the only one.
    pub fn hand_over(&self, instance: &Instance, fd: std::os::fd::OwnedFd) -> u64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Err(why) = self.zygote.hand_over(instance.id, id, &fd) {
            self.fail_on(instance, why);
        }
        id
    }

    /// Whether the zygote still runs.
    pub fn zygote_alive(&self) -> Result<(), String> {
        self.zygote.alive()
    }

    pub fn is_fatal(&self) -> bool {
        self.state().fatal.is_some()
    }

    /// Unwinds out of the check if it has already failed fatally.
    pub fn check_fatal(&self) {
        if self.is_fatal() {
            panics::abort_check();
        }
    }

    /// Ends the check as a death because of what happened on `instance`: unless the instance
    /// belongs to an earlier check (a thread that check left running), whose end changes nothing
    /// now; that thread just unwinds.
    pub fn fail_on(&self, instance: &Instance, why: impl Into<String>) -> ! {
        if self.is_stale(instance) {
            panics::abort_check();
        }
        self.fail(why)
    }

    /// Whether `instance` was started for a check that has ended.
    pub fn is_stale(&self, instance: &Instance) -> bool {
        instance.check() != self.state().check
    }

    /// Ends the check as a death: records why (the first reason wins), stops every instance,
    /// and unwinds out of the check.
    pub fn fail(&self, why: impl Into<String>) -> ! {
        let instances = {
            let mut state = self.state();
            state.fatal.get_or_insert_with(|| why.into());
            state.default = None;
            state.instances.clone()
        };
        self.stop(&instances);
        panics::abort_check()
    }

    /// The reason a lane broke, in the learner's terms.
    pub fn broken(&self, broken: wire::lane::Broken, deadline: Option<Deadline>) -> String {
        let limit = self.timeout.unwrap_or_default();
        match broken {
            wire::lane::Broken::TimedOut if deadline.is_some_and(|d| d.whole_check) => format!(
                "the check did not finish within {} s, though each call returned within {} s: \
                 very slow code",
                (limit * protocol::CHECK_TIMEOUTS).as_secs(),
                limit.as_secs()
            ),
            wire::lane::Broken::TimedOut => format!(
                "did not finish within {} s: an infinite loop, a deadlock, or very slow code",
                limit.as_secs()
            ),
            other => instance::broken(other),
        }
    }
}

/// When a call must have returned, and which limit that is.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: Instant,
    /// The end of the whole check's time, not the limit of one call.
    pub whole_check: bool,
}

fn printing_has_deadline(task: &protocol::Task) -> bool {
    !matches!(task, protocol::Task::Play)
}

/// Power cuts from the kit's simulated disk land here.
pub fn power_cut() {
    if let Some(session) = SESSION.get() {
        session.power_cut();
    }
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe fills `fds` on success.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: two fresh descriptors we own; the read end is kept from the subject.
    unsafe {
        libc::fcntl(fds[0], libc::F_SETFD, libc::FD_CLOEXEC);
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

/// Waits until what the subject wrote before now is kept, so that a check's output is all of it
/// and none of it lands in the next check's: the pipe is empty and its reader holds nothing, seen
/// twice (the reader may have just taken bytes out), or 100 ms have passed (something the
/// subject started writes without end).
fn settle(fd: RawFd, holding: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_millis(100);
    let mut quiet = 0;
    while quiet < 2 && Instant::now() < deadline {
        let mut pending: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int; the descriptor stays open while its reader runs.
        let asked = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut pending) };
        if asked != 0 {
            return;
        }
        if pending == 0 && !holding.load(Ordering::SeqCst) {
            quiet += 1;
        } else {
            quiet = 0;
        }
        // Long enough for a reader that has just taken bytes out to say it holds them; short,
        // because every check ends here.
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// Reads the subject's output until it closes, keeping the last [`OUTPUT_LIMIT`] bytes.
fn keep_tail(read: OwnedFd, output: &Mutex<Vec<u8>>, holding: &AtomicBool) {
    let mut file = std::fs::File::from(read);
    let mut buffer = [0u8; 8192];
    while let Ok(n) = file.read(&mut buffer) {
        if n == 0 {
            return;
        }
        holding.store(true, Ordering::SeqCst);
        let _kept = KeptOnDrop(holding);
        let mut kept = output.lock().unwrap_or_else(|p| p.into_inner());
        kept.extend_from_slice(&buffer[..n]);
        if kept.len() > 2 * OUTPUT_LIMIT {
            let excess = kept.len() - OUTPUT_LIMIT;
            kept.drain(..excess);
        }
    }
}

/// Clears the reader's "holding" flag once the bytes it read are kept.
struct KeptOnDrop<'a>(&'a AtomicBool);

impl Drop for KeptOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// The subject's working directory: fresh, empty, and owned by the subject's user.
fn workdir(uid: Option<u32>) -> std::io::Result<std::path::PathBuf> {
    let dir = tempfile::Builder::new()
        .prefix("grade-subject-")
        .tempdir()?
        .keep();
    if let Some(uid) = uid {
        std::os::unix::fs::chown(&dir, Some(uid), Some(uid))?;
    }
    Ok(dir)
}

/// Instances forked ahead of need.
#[derive(Default)]
struct Spares {
    ready: Mutex<SpareState>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct SpareState {
    instances: Vec<Arc<Instance>>,
    closed: bool,
}

/// How many instances to keep forked ahead: crash checks restart a few in quick succession.
const SPARES: usize = 2;

impl Spares {
    fn take(&self) -> Option<Arc<Instance>> {
        let mut ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        let taken = ready.instances.pop();
        self.changed.notify_all();
        taken
    }

    fn put(&self, instance: Arc<Instance>) {
        let mut ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        ready.instances.push(instance);
        self.changed.notify_all();
    }

    /// Returns once there is room for another spare; never, once closed.
    fn wait_for_room(&self) {
        let mut ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        while ready.closed || ready.instances.len() >= SPARES {
            ready = self.changed.wait(ready).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// No more spares; the ones left, to be stopped.
    fn close(&self) -> Vec<Arc<Instance>> {
        let mut ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        ready.closed = true;
        std::mem::take(&mut ready.instances)
    }
}
