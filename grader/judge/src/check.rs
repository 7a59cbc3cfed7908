use proptest::test_runner::{RngAlgorithm, TestRng};
use protocol::{Handshake, Message, Task, Verdict};

use crate::failure::CheckResult;
use crate::remote::UnitSlot;
use crate::session::{Printing, Session};
use crate::{panics, report};

/// One scene's hidden checks, in the order a learner should meet their failures.
#[derive(Default)]
pub struct Suite {
    checks: Vec<Check>,
}

pub struct Check {
    name: String,
    body: fn(&mut Ctx) -> CheckResult,
}

impl Suite {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a check. Its name is what the learner reads, so make it a sentence about behaviour.
    pub fn check(mut self, name: &str, body: fn(&mut Ctx) -> CheckResult) -> Self {
        assert!(
            self.checks.iter().all(|c| c.name != name),
            "two checks are named {name:?}"
        );
        self.checks.push(Check {
            name: name.to_string(),
            body,
        });
        self
    }
}

/// What a running check may ask for: its seed, randomness from it, and a way to say what it is
/// doing (if the process dies, the grader reports the last thing said).
pub struct Ctx {
    check: String,
    seed: u64,
    /// Whether failing properties shrink their input.
    shrink: bool,
    /// The last thing the check said it was doing, for a panic's report.
    doing: std::cell::RefCell<Option<String>>,
}

impl Ctx {
    /// This check's seed: the run's seed mixed with the check's name, so one check replays alone.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub(crate) fn shrink(&self) -> bool {
        self.shrink
    }

    /// A random source that is the same every time for the same seed.
    pub fn rng(&self) -> TestRng {
        let mut bytes = [0u8; 32];
        let mut state = self.seed;
        for chunk in bytes.chunks_mut(8) {
            state = splitmix64(state);
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
    }

    /// Tells the grader what the check is about to do.
    pub fn doing(&self, what: impl std::fmt::Display) {
        let mut what = what.to_string();
        truncate_on_char_boundary(&mut what, 2000);
        report::send(&Message::Doing {
            check: self.check.clone(),
            what: what.clone(),
        });
        *self.doing.borrow_mut() = Some(what);
    }
}

/// Runs a judge: lists the suite's checks, or runs the ones asked for against the subject and
/// reports each verdict.
pub(crate) fn run(suite: Suite, units: &'static [&'static UnitSlot]) -> ! {
    let handshake = start();
    match &handshake.task {
        Task::List => {
            let names = suite.checks.iter().map(|c| c.name.clone()).collect();
            report::send(&Message::Checks { names });
        }
        Task::Run {
            checks,
            until_failure,
        } => match Session::start(&handshake, units, Printing::Captured) {
            Ok(session) => {
                for name in checks {
                    let verdict = match suite.checks.iter().find(|c| &c.name == name) {
                        Some(check) => run_check(check, &handshake, session),
                        None => outcome(name, Verdict::Died("there is no such check".into())),
                    };
                    report::send(&verdict);
                    let passed = matches!(
                        verdict,
                        Message::Outcome {
                            verdict: Verdict::Passed,
                            ..
                        }
                    );
                    if *until_failure && !passed {
                        break;
                    }
                }
                session.shutdown();
            }
            Err(why) => {
                for name in checks {
                    report::send(&outcome(name, Verdict::Died(why.clone())));
                }
            }
        },
        Task::Play => {
            eprintln!("this judge runs checks, not a playground");
        }
    }
    std::process::exit(0)
}

/// Runs a playground's `main` with the learner's code in a subject, on the terminal.
pub(crate) fn play(main: fn(), units: &'static [&'static UnitSlot]) -> ! {
    let handshake = start();
    match Session::start(&handshake, units, Printing::OnTerminal) {
        Ok(session) => {
            session.begin_check();
            let result = panics::catch(main);
            let (fatal, _) = session.end_check();
            session.shutdown();
            if let Some(why) = fatal.or(result.err()) {
                eprintln!("the playground stopped: {why}");
                std::process::exit(1);
            }
            std::process::exit(0)
        }
        Err(why) => {
            eprintln!("the playground could not start: {why}");
            std::process::exit(1)
        }
    }
}

/// What every judge does first: nobody may read its memory or descriptors (the subject runs
/// as the same user where the grader is not root), and it learns what to do.
fn start() -> Handshake {
    #[cfg(target_os = "linux")]
    // SAFETY: a process-wide flag with no pointers involved.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    let handshake = report::open();
    panics::install_hook();
    kit::sim::on_power_cut(crate::session::power_cut);
    handshake
}

fn run_check(check: &Check, handshake: &Handshake, session: &Session) -> Message {
    let mut ctx = Ctx {
        seed: splitmix64(handshake.seed ^ fnv1a(&check.name)),
        shrink: handshake.shrink,
        check: check.name.clone(),
        doing: Default::default(),
    };
    let started = std::time::Instant::now();
    session.begin_check();
    let result = panics::catch(|| (check.body)(&mut ctx)).unwrap_or_else(|panic| {
        let doing = ctx.doing.borrow().clone();
        Err(crate::Failure::new(match doing {
            Some(doing) => format!("while {doing}:\n{panic}"),
            None => panic,
        }))
    });
    let (fatal, output) = session.end_check();
    let (verdict, doing) = match fatal {
        Some(why) => (Verdict::Died(why), ctx.doing.borrow().clone()),
        None => match result {
            Ok(()) => (Verdict::Passed, None),
            Err(failure) => (Verdict::Failed(failure.message), None),
        },
    };
    Message::Outcome {
        check: check.name.clone(),
        verdict,
        output: output.trim_end().to_string(),
        doing,
        micros: started.elapsed().as_micros().try_into().unwrap_or(u64::MAX),
    }
}

fn outcome(check: &str, verdict: Verdict) -> Message {
    Message::Outcome {
        check: check.to_string(),
        verdict,
        output: String::new(),
        doing: None,
        micros: 0,
    }
}

fn truncate_on_char_boundary(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(" ...");
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}
