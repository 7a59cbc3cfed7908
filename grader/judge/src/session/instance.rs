//! One instance of the subject: its shared memory, its lanes, and the thread that answers the
//! callbacks of threads the learner's code started itself.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use wire::lane::{Broken, End, Lane};
use wire::region::{Death, Region};

/// Bytes a lane carries per chunk.
pub const LANE_BYTES: usize = 128 << 10;

pub struct Instance {
    /// The zygote's number for it.
    pub id: u64,
    pub region: Arc<Region>,
    call_lanes: usize,
    lanes: Mutex<Lanes>,
    lane_freed: Condvar,
    /// Set once the judge has let it go (killed, or replaced after a power cut).
    pub retired: AtomicBool,
    /// The check it was started for.
    check: AtomicU64,
}

struct Lanes {
    free: Vec<Lane>,
    opened: usize,
    /// Threads waiting for a lane to come free.
    waiting: usize,
}

impl Instance {
    pub fn new(id: u64, region: Region, call_lanes: usize) -> Instance {
        let region = Arc::new(region);
        let first = region.lane(0, End::Opener);
        Instance {
            id,
            region,
            call_lanes,
            lanes: Mutex::new(Lanes {
                free: vec![first],
                opened: 1,
                waiting: 0,
            }),
            lane_freed: Condvar::new(),
            retired: AtomicBool::new(false),
            check: AtomicU64::new(0),
        }
    }

    /// A call lane for one call: a free one, a newly opened one, or the next to come free.
    pub fn take_lane(&self) -> Lane {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(lane) = lanes.free.pop() {
                return lane;
            }
            if lanes.opened < self.call_lanes {
                let lane = self.region.lane(lanes.opened, End::Opener);
                lanes.opened += 1;
                self.region.ring(lanes.opened as u32);
                return lane;
            }
            lanes.waiting += 1;
            lanes = self
                .lane_freed
                .wait(lanes)
                .unwrap_or_else(|p| p.into_inner());
            lanes.waiting -= 1;
        }
    }

    pub fn give_back(&self, lane: Lane) {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        lanes.free.push(lane);
        // Waking costs a system call even when nobody waits: the common case is one caller.
        if lanes.waiting > 0 {
            self.lane_freed.notify_one();
        }
    }

    /// Starts the thread that answers callbacks on the background lane, with `serve`. It ends
    /// when the instance dies or is retired.
    pub fn serve_background(
        self: &Arc<Self>,
        serve: impl Fn(&[u8], &mut Vec<u8>) + Send + 'static,
    ) {
        let mut lane = self.region.lane(self.call_lanes, End::Answerer);
        let instance = Arc::clone(self);
        std::thread::spawn(move || {
            let mut request = Vec::new();
            let mut answer = Vec::new();
            let alive = || instance.alive();
            loop {
                if lane.receive(&mut request, None, &alive).is_err() {
                    return;
                }
                serve(&request, &mut answer);
                if lane.send(&answer, None, &alive).is_err() {
                    return;
                }
            }
        });
    }

    pub fn belongs_to(&self, check: u64) {
        self.check.store(check, Ordering::Release);
    }

    pub fn check(&self) -> u64 {
        self.check.load(Ordering::Acquire)
    }

    /// Ok while the instance may still answer.
    pub fn alive(&self) -> Result<(), String> {
        if self.retired.load(Ordering::Acquire) {
            return Err("the process was stopped by the grader".into());
        }
        match self.region.death() {
            Some(death) => Err(describe(death)),
            None => Ok(()),
        }
    }

    /// Lets the background thread go; the zygote kills the process.
    /// The background thread, if any, sees this and ends on its own.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        self.region.mark_dead(Death::Signalled(libc::SIGKILL));
    }
}

/// A death in words, before the output is looked at (see `Session::describe_death`).
pub fn describe(death: Death) -> String {
    match death {
        Death::Exited(0) => "the process exited before the check finished: \
                             does the code call std::process::exit?"
            .into(),
        Death::Exited(code) => format!("the process exited with status {code} mid-check"),
        Death::Signalled(libc::SIGABRT) => "the process aborted (std::process::abort?)".into(),
        Death::Signalled(libc::SIGSEGV) => "the process crashed with a segmentation fault".into(),
        Death::Signalled(libc::SIGKILL) => "the process was killed".into(),
        Death::Signalled(signal) => format!("the process was killed by signal {signal}"),
    }
}

/// Turns a broken lane into the reason a check died.
pub fn broken(broken: Broken) -> String {
    match broken {
        Broken::TimedOut => "timed out".into(),
        Broken::Gone(why) => why,
        Broken::Protocol(why) => {
            format!("the learner's process broke the grader's protocol: {why}")
        }
    }
}
