use std::sync::OnceLock;

use libtest_mimic::{Arguments, Failed, Trial};
use proptest::test_runner::{RngAlgorithm, TestRng};
use protocol::Message;

use crate::channel::Channel;
use crate::failure::CheckResult;
use crate::panics;

static CHANNEL: OnceLock<Channel> = OnceLock::new();

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
    /// The last thing the check said it was doing, for a panic's report.
    doing: std::cell::RefCell<Option<String>>,
}

impl Ctx {
    /// This check's seed: the run's seed mixed with the check's name, so one check replays alone.
    pub fn seed(&self) -> u64 {
        self.seed
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
        if let Some(channel) = CHANNEL.get() {
            channel.send(Message::Doing {
                check: self.check.clone(),
                what: what.clone(),
            });
        }
        *self.doing.borrow_mut() = Some(what);
    }
}

pub(crate) fn run(suite: Suite) -> ! {
    let args = Arguments::from_args();
    let (channel, handshake) = Channel::open();
    let channel = CHANNEL.get_or_init(|| channel);
    panics::install_hook();

    if args.list {
        let names = suite.checks.iter().map(|c| c.name.clone()).collect();
        channel.send(Message::Checks { names });
        std::process::exit(0);
    }

    let run_seed = handshake.seed;
    let trials = suite
        .checks
        .into_iter()
        .map(|check| {
            Trial::test(check.name.clone(), move || {
                let mut ctx = Ctx {
                    seed: splitmix64(run_seed ^ fnv1a(&check.name)),
                    check: check.name.clone(),
                    doing: Default::default(),
                };
                let result = channel
                    .capturing(|| panics::catch(|| (check.body)(&mut ctx)))
                    .unwrap_or_else(|panic| {
                        let doing = ctx.doing.borrow().clone();
                        Err(crate::Failure::new(match doing {
                            Some(doing) => format!("while {doing}:\n{panic}"),
                            None => panic,
                        }))
                    });
                channel.send(Message::Outcome {
                    check: check.name,
                    passed: result.is_ok(),
                    message: result
                        .as_ref()
                        .err()
                        .map(|f| f.message.clone())
                        .unwrap_or_default(),
                });
                result.map_err(|failure| Failed::from(failure.message))
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit()
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
