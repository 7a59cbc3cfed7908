//! Hidden checks for primitives/circuit-breaker.

use std::fmt::Write;
use std::time::Duration;

use judge::prelude::*;
use primitives_circuit_breaker::{CircuitBreaker, State};

use crate::support::{expect_panic, no_panic};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a new breaker is closed and lets every request through",
            new_is_closed,
        )
        .check(
            "opens after exactly `failure_threshold` consecutive failures, then rejects requests",
            opens_at_threshold,
        )
        .check(
            "a success resets the run of consecutive failures",
            success_resets_streak,
        )
        .check(
            "stays open until the cooldown has passed since it opened, not since the first failure",
            cooldown_from_opening,
        )
        .check(
            "after the cooldown, of ten requests at once exactly one (the trial) gets through",
            one_trial_after_cooldown,
        )
        .check(
            "a successful trial closes the breaker with a fresh failure count",
            successful_trial_closes,
        )
        .check(
            "a failed trial reopens the breaker and restarts the cooldown from the failure",
            failed_trial_reopens,
        )
        .check(
            "late results that arrive while open change nothing",
            late_results_ignored,
        )
        .check(
            "agrees with a model on random sequences of requests and results",
            matches_model,
        )
        .check(
            "new(0, _) panics: a threshold of zero failures means nothing",
            new_zero_panics,
        )
        .check(
            "agrees with the model at the edges: cooldowns from zero to Duration::MAX, \
             nanosecond steps, times up to Duration::MAX",
            matches_model_at_edges,
        )
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A time as the learner would write it: `0s`, `31s`, `129.999s`.
fn at(t: Duration) -> String {
    if t.is_zero() {
        "0s".to_string()
    } else {
        format!("{t:?}")
    }
}

/// Calls made so far, written out for a failure message.
struct Log(String);

impl Log {
    fn new(threshold: u32, cooldown: Duration) -> Self {
        Self(format!(
            "CircuitBreaker::new({threshold}, {})",
            at(cooldown)
        ))
    }

    fn allow(&mut self, breaker: &mut CircuitBreaker, now: Duration) -> bool {
        let allowed = breaker.allow(now);
        let _ = write!(self.0, ", allow({}) -> {allowed}", at(now));
        allowed
    }

    fn success(&mut self, breaker: &mut CircuitBreaker, now: Duration) {
        breaker.record_success(now);
        let _ = write!(self.0, ", record_success({})", at(now));
    }

    fn failure(&mut self, breaker: &mut CircuitBreaker, now: Duration) {
        breaker.record_failure(now);
        let _ = write!(self.0, ", record_failure({})", at(now));
    }

    fn failures(&mut self, breaker: &mut CircuitBreaker, n: u32, now: Duration) {
        for _ in 0..n {
            self.failure(breaker, now);
        }
    }

    /// What to print as `did` when checking the value of `what` after these calls.
    fn then(&self, what: &str) -> String {
        format!("{}, then {what}", self.0)
    }

    fn expect_state(&self, breaker: &CircuitBreaker, expected: State) -> CheckResult {
        expect_eq(self.then("state()"), breaker.state(), expected)
    }

    fn expect_allow(
        &mut self,
        breaker: &mut CircuitBreaker,
        now: Duration,
        expected: bool,
    ) -> CheckResult {
        let did = self.then(&format!("allow({})", at(now)));
        let allowed = self.allow(breaker, now);
        expect_eq(did, allowed, expected)
    }
}

fn new_is_closed(ctx: &mut Ctx) -> CheckResult {
    let mut log = Log::new(3, secs(10));
    ctx.doing(&log.0);
    let mut breaker = CircuitBreaker::new(3, secs(10));
    log.expect_state(&breaker, State::Closed)?;
    for t in [0, 1, 1, 5, 100, 10_000] {
        log.expect_allow(&mut breaker, secs(t), true)?;
    }
    log.expect_state(&breaker, State::Closed)
}

fn opens_at_threshold(ctx: &mut Ctx) -> CheckResult {
    for threshold in 1..=6 {
        let mut log = Log::new(threshold, secs(30));
        ctx.doing(&log.0);
        let mut breaker = CircuitBreaker::new(threshold, secs(30));
        // Everything happens at 10 s, so where the cooldown is measured from does not matter here.
        let t = secs(10);
        for _ in 1..threshold {
            log.expect_allow(&mut breaker, t, true)?;
            log.failure(&mut breaker, t);
            log.expect_state(&breaker, State::Closed)?;
        }
        log.expect_allow(&mut breaker, t, true)?;
        log.failure(&mut breaker, t);
        log.expect_state(&breaker, State::Open)?;
        log.expect_allow(&mut breaker, t, false)?;
        log.expect_allow(&mut breaker, t + secs(29), false)?;
        log.expect_state(&breaker, State::Open)?;
    }
    Ok(())
}

fn success_resets_streak(ctx: &mut Ctx) -> CheckResult {
    let mut log = Log::new(3, secs(30));
    ctx.doing(&log.0);
    let mut breaker = CircuitBreaker::new(3, secs(30));
    // Eight rounds of "fail, fail, succeed": 16 failures in all, never three in a row.
    for round in 0..8 {
        let t = secs(round * 3);
        log.failures(&mut breaker, 2, t);
        log.success(&mut breaker, t + secs(1));
        log.expect_state(&breaker, State::Closed)?;
        log.expect_allow(&mut breaker, t + secs(2), true)?;
    }
    log.failures(&mut breaker, 2, secs(30));
    log.expect_state(&breaker, State::Closed)?;
    log.failure(&mut breaker, secs(30));
    log.expect_state(&breaker, State::Open)
}

fn cooldown_from_opening(ctx: &mut Ctx) -> CheckResult {
    // The first failure is at 0 s, the breaker opens at 100 s: the trial is due at 130 s.
    let mut log = Log::new(3, secs(30));
    ctx.doing(&log.0);
    let mut breaker = CircuitBreaker::new(3, secs(30));
    log.failure(&mut breaker, secs(0));
    log.failure(&mut breaker, secs(50));
    log.failure(&mut breaker, secs(100));
    log.expect_state(&breaker, State::Open)?;
    log.expect_allow(&mut breaker, secs(100), false)?;
    log.expect_allow(&mut breaker, secs(129), false)?;
    log.expect_allow(&mut breaker, Duration::from_millis(129_999), false)?;
    log.expect_state(&breaker, State::Open)?;
    log.expect_allow(&mut breaker, secs(130), true)?;
    log.expect_state(&breaker, State::HalfOpen)
}

fn one_trial_after_cooldown(ctx: &mut Ctx) -> CheckResult {
    // The predict question: threshold 5, cooldown 30 s, opened at 0 s, ten requests at 31 s.
    let mut log = Log::new(5, secs(30));
    ctx.doing(&log.0);
    let mut breaker = CircuitBreaker::new(5, secs(30));
    log.failures(&mut breaker, 5, secs(0));
    let did = log.then("allow(31s) ten times");
    let answers: Vec<bool> = (0..10).map(|_| log.allow(&mut breaker, secs(31))).collect();
    let mut expected = vec![false; 10];
    expected[0] = true;
    expect_eq(did, answers, expected)?;
    log.expect_state(&breaker, State::HalfOpen)?;
    // However long the trial takes, nobody else gets through while it is in flight.
    log.expect_allow(&mut breaker, secs(1_000), false)?;
    log.expect_state(&breaker, State::HalfOpen)
}

fn successful_trial_closes(ctx: &mut Ctx) -> CheckResult {
    for threshold in [1, 2, 4] {
        let mut log = Log::new(threshold, secs(10));
        ctx.doing(&log.0);
        let mut breaker = CircuitBreaker::new(threshold, secs(10));
        log.failures(&mut breaker, threshold, secs(5));
        log.expect_allow(&mut breaker, secs(15), true)?;
        log.success(&mut breaker, secs(16));
        log.expect_state(&breaker, State::Closed)?;
        for t in 17..20 {
            log.expect_allow(&mut breaker, secs(t), true)?;
        }
        // The failures that opened it were forgiven: it takes a whole new run to open again.
        log.failures(&mut breaker, threshold - 1, secs(20));
        log.expect_state(&breaker, State::Closed)?;
        log.failure(&mut breaker, secs(21));
        log.expect_state(&breaker, State::Open)?;
    }
    Ok(())
}

fn failed_trial_reopens(ctx: &mut Ctx) -> CheckResult {
    // Opens at 0 s; trial at 31 s fails at 40 s; the next trial is due at 70 s, not at 30 s.
    let mut log = Log::new(2, secs(30));
    ctx.doing(&log.0);
    let mut breaker = CircuitBreaker::new(2, secs(30));
    log.failures(&mut breaker, 2, secs(0));
    log.expect_allow(&mut breaker, secs(31), true)?;
    log.failure(&mut breaker, secs(40));
    log.expect_state(&breaker, State::Open)?;
    log.expect_allow(&mut breaker, secs(40), false)?;
    log.expect_allow(&mut breaker, secs(69), false)?;
    log.expect_state(&breaker, State::Open)?;
    log.expect_allow(&mut breaker, secs(70), true)?;
    log.expect_state(&breaker, State::HalfOpen)?;
    log.expect_allow(&mut breaker, secs(70), false)?;
    // A second failed trial restarts it again.
    log.failure(&mut breaker, secs(75));
    log.expect_allow(&mut breaker, secs(104), false)?;
    log.expect_allow(&mut breaker, secs(105), true)
}

fn late_results_ignored(ctx: &mut Ctx) -> CheckResult {
    // Four requests go out while closed; two fail and trip the breaker at 1 s; the other two
    // answer while it is open.
    let mut log = Log::new(2, secs(30));
    ctx.doing(&log.0);
    let mut breaker = CircuitBreaker::new(2, secs(30));
    for _ in 0..4 {
        log.expect_allow(&mut breaker, secs(0), true)?;
    }
    log.failures(&mut breaker, 2, secs(1));
    log.expect_state(&breaker, State::Open)?;
    log.success(&mut breaker, secs(10));
    log.expect_state(&breaker, State::Open)?;
    log.expect_allow(&mut breaker, secs(10), false)?;
    log.failure(&mut breaker, secs(20));
    log.expect_state(&breaker, State::Open)?;
    log.expect_allow(&mut breaker, secs(30), false)?;
    log.expect_allow(&mut breaker, secs(31), true)?;
    log.expect_state(&breaker, State::HalfOpen)
}

/// The simplest breaker there is, written differently from the reference on purpose.
struct Model {
    threshold: u32,
    cooldown: Duration,
    streak: u32,
    open_since: Option<Duration>,
    trial_out: bool,
}

impl Model {
    fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold,
            cooldown,
            streak: 0,
            open_since: None,
            trial_out: false,
        }
    }

    fn state(&self) -> State {
        match (self.trial_out, self.open_since) {
            (true, _) => State::HalfOpen,
            (false, Some(_)) => State::Open,
            (false, None) => State::Closed,
        }
    }

    fn allow(&mut self, now: Duration) -> bool {
        match self.state() {
            State::Closed => true,
            State::HalfOpen => false,
            State::Open => {
                let since = self.open_since.unwrap();
                self.trial_out = now - since >= self.cooldown;
                self.trial_out
            }
        }
    }

    fn success(&mut self) {
        match self.state() {
            State::Closed => self.streak = 0,
            State::HalfOpen => *self = Self::new(self.threshold, self.cooldown),
            State::Open => {}
        }
    }

    fn failure(&mut self, now: Duration) {
        match self.state() {
            State::Closed => {
                self.streak += 1;
                if self.streak == self.threshold {
                    self.streak = 0;
                    self.open_since = Some(now);
                }
            }
            State::HalfOpen => {
                self.trial_out = false;
                self.open_since = Some(now);
            }
            State::Open => {}
        }
    }
}

/// One step of a caller: wait this many seconds, then send a request or report a result.
/// A result is only reported if some allowed request is still in flight; otherwise it is skipped.
#[derive(Debug, Clone, Copy)]
enum Op {
    Request(u64),
    Succeed(u64),
    Fail(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u64..=3).prop_map(Op::Request),
        1 => (0u64..=3).prop_map(Op::Succeed),
        3 => (0u64..=3).prop_map(Op::Fail),
    ]
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    let input = (1u32..=4, 1u64..=6, prop::collection::vec(op(), 0..60));
    ctx.forall_named(
        &["threshold", "cooldown", "ops"],
        DEFAULT_CASES,
        input,
        |(threshold, cooldown, ops)| {
            let cooldown = secs(cooldown);
            let mut log = Log::new(threshold, cooldown);
            let mut breaker = CircuitBreaker::new(threshold, cooldown);
            let mut model = Model::new(threshold, cooldown);
            let mut now = Duration::ZERO;
            // Requests allowed and not yet answered: a real caller only reports those.
            let mut in_flight = 0u32;
            for op in ops {
                match op {
                    Op::Request(wait) => {
                        now += secs(wait);
                        let did = log.then(&format!("allow({})", at(now)));
                        let allowed = log.allow(&mut breaker, now);
                        let expected = model.allow(now);
                        expect_eq(did, allowed, expected)?;
                        in_flight += u32::from(allowed);
                    }
                    Op::Succeed(wait) | Op::Fail(wait) => {
                        if in_flight == 0 {
                            continue;
                        }
                        in_flight -= 1;
                        now += secs(wait);
                        if let Op::Succeed(_) = op {
                            log.success(&mut breaker, now);
                            model.success();
                        } else {
                            log.failure(&mut breaker, now);
                            model.failure(now);
                        }
                    }
                }
                log.expect_state(&breaker, model.state())?;
            }
            Ok(())
        },
    )
}

fn new_zero_panics(_: &mut Ctx) -> CheckResult {
    let mut log = Log::new(1, secs(1));
    let mut breaker = CircuitBreaker::new(1, secs(1));
    log.expect_allow(&mut breaker, secs(0), true)?;
    for cooldown in [secs(1), Duration::ZERO] {
        expect_panic(
            &format!("CircuitBreaker::new(0, {})", at(cooldown)),
            "the documentation says new panics if failure_threshold is 0",
            || CircuitBreaker::new(0, cooldown),
        )?;
    }
    Ok(())
}

/// How far the clock moves before a step, at the edges: often exactly a cooldown, or a
/// nanosecond either side of it.
#[derive(Clone, Copy, Debug)]
enum Jump {
    Nanos(u64),
    Cooldown,
    CooldownMinus1ns,
    CooldownPlus1ns,
    ToEnd,
}

impl Jump {
    fn apply(self, now: Duration, cooldown: Duration) -> Duration {
        let one = Duration::from_nanos(1);
        let step = match self {
            Jump::Nanos(nanos) => Duration::from_nanos(nanos),
            Jump::Cooldown => cooldown,
            Jump::CooldownMinus1ns => cooldown.saturating_sub(one),
            Jump::CooldownPlus1ns => cooldown.saturating_add(one),
            Jump::ToEnd => Duration::MAX,
        };
        now.saturating_add(step)
    }
}

fn matches_model_at_edges(ctx: &mut Ctx) -> CheckResult {
    let threshold = prop_oneof![Just(1u32), 2u32..=3, Just(u32::MAX)];
    let cooldown = prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::from_nanos(1)),
        (2u64..1_000_000).prop_map(Duration::from_nanos),
        (1u64..=24).prop_map(|hours| Duration::from_secs(hours * 3600)),
        Just(Duration::MAX),
        Just(Duration::MAX - Duration::from_nanos(1)),
    ];
    let jump = prop_oneof![
        4 => Just(Jump::Nanos(0)),
        2 => Just(Jump::Nanos(1)),
        2 => (2u64..2_000_000).prop_map(Jump::Nanos),
        2 => Just(Jump::Cooldown),
        1 => Just(Jump::CooldownMinus1ns),
        1 => Just(Jump::CooldownPlus1ns),
        1 => Just(Jump::ToEnd),
    ];
    // 0: request, 1: success, 2: failure (a result only when a request is in flight).
    let op = (
        prop_oneof![3 => Just(0u8), 1 => Just(1u8), 3 => Just(2u8)],
        jump,
    );
    let input = (threshold, cooldown, prop::collection::vec(op, 0..40));
    ctx.forall_named(
        &["threshold", "cooldown", "ops"],
        DEFAULT_CASES,
        input,
        |(threshold, cooldown, ops)| {
            let mut log = Log::new(threshold, cooldown);
            let mut breaker = no_panic(&log.0, || CircuitBreaker::new(threshold, cooldown))?;
            let mut model = Model::new(threshold, cooldown);
            let mut now = Duration::ZERO;
            let mut in_flight = 0u32;
            for (kind, jump) in ops {
                if kind != 0 && in_flight == 0 {
                    continue;
                }
                now = jump.apply(now, cooldown);
                match kind {
                    0 => {
                        let did = log.then(&format!("allow({})", at(now)));
                        let allowed = no_panic(&did, || log.allow(&mut breaker, now))?;
                        expect_eq(did, allowed, model.allow(now))?;
                        in_flight += u32::from(allowed);
                    }
                    1 => {
                        in_flight -= 1;
                        let did = log.then(&format!("record_success({})", at(now)));
                        no_panic(&did, || log.success(&mut breaker, now))?;
                        model.success();
                    }
                    _ => {
                        in_flight -= 1;
                        let did = log.then(&format!("record_failure({})", at(now)));
                        no_panic(&did, || log.failure(&mut breaker, now))?;
                        model.failure(now);
                    }
                }
                log.expect_state(&breaker, model.state())?;
            }
            Ok(())
        },
    )
}
