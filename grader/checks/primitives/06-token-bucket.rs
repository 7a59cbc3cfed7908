//! Hidden checks for primitives/token-bucket.

use std::fmt;
use std::time::Duration;

use judge::prelude::*;
use primitives_token_bucket::TokenBucket;

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "starts full: a burst of `capacity` tokens passes at once, and the next request fails",
            starts_full,
        )
        .check(
            "refills at the given rate and keeps the fractions of a token",
            refills_at_rate,
        )
        .check(
            "takes all the tokens asked for or none: a failed request takes nothing",
            all_or_nothing,
        )
        .check(
            "never holds more than its capacity, however long it sits idle",
            capped_when_idle,
        )
        .check(
            "asked every few milliseconds, loses nothing to rounding",
            tiny_steps,
        )
        .check(
            "in any stretch of time, lets through at most capacity + rate × its length",
            window_bound,
        )
        .check(
            "agrees with an exact reference on any requests at nondecreasing times",
            matches_model,
        )
        .check(
            "agrees with the exact reference at the edges: capacity and rate 0, 1, 10^6 or \
             u64::MAX, nanosecond steps, idles of hours, and times up to Duration::MAX",
            matches_model_at_edges,
        )
}

/// Nano-tokens in one token.
const NANOS: u128 = 1_000_000_000;

/// The reference: the bucket's level in nano-tokens, exact, in u128 arithmetic.
struct Model {
    max_level: u128,
    rate: u128,
    level: u128,
    last: u128,
}

impl Model {
    fn new(capacity: u64, rate: u64) -> Self {
        let max_level = u128::from(capacity) * NANOS;
        Self {
            max_level,
            rate: u128::from(rate),
            level: max_level,
            last: 0,
        }
    }

    fn refill(&mut self, now: u128) {
        // Saturating: past max_level every level is the same, and Duration::MAX nanoseconds at
        // u64::MAX tokens a second does not fit in a u128.
        let added = (now - self.last).saturating_mul(self.rate);
        self.level = self.level.saturating_add(added).min(self.max_level);
        self.last = now;
    }

    fn try_acquire(&mut self, now: u128, tokens: u64) -> bool {
        self.refill(now);
        let cost = u128::from(tokens) * NANOS;
        let ok = self.level >= cost;
        if ok {
            self.level -= cost;
        }
        ok
    }

    fn available(&mut self, now: u128) -> u64 {
        self.refill(now);
        (self.level / NANOS) as u64
    }
}

/// One call on a bucket, at an absolute time.
#[derive(Clone, Copy)]
enum Call {
    Acquire(Duration, u64),
    Available(Duration),
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Acquire(now, tokens) => write!(f, "try_acquire({now:?}, {tokens})"),
            Call::Available(now) => write!(f, "available({now:?})"),
        }
    }
}

/// What a call returned; shown as the bare value.
#[derive(Clone, Copy, PartialEq)]
enum Reply {
    Acquired(bool),
    Available(u64),
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Acquired(ok) => write!(f, "{ok}"),
            Reply::Available(count) => write!(f, "{count}"),
        }
    }
}

fn call(bucket: &mut TokenBucket, call: Call) -> Reply {
    match call {
        Call::Acquire(now, tokens) => Reply::Acquired(bucket.try_acquire(now, tokens)),
        Call::Available(now) => Reply::Available(bucket.available(now)),
    }
}

fn call_model(model: &mut Model, call: Call) -> Reply {
    match call {
        Call::Acquire(now, tokens) => Reply::Acquired(model.try_acquire(now.as_nanos(), tokens)),
        Call::Available(now) => Reply::Available(model.available(now.as_nanos())),
    }
}

/// What has been done to a bucket so far, one call a line, for failure messages.
struct Transcript(String);

impl Transcript {
    fn new(capacity: u64, rate: u64) -> Self {
        Self(format!("TokenBucket::new({capacity}, {rate})"))
    }

    fn record(&mut self, call: Call, reply: Reply) {
        self.0 += &format!("\n          {call} = {reply:?}");
    }

    fn then(&self, call: Call) -> String {
        format!("{}\n          then {call}", self.0)
    }
}

/// Makes a bucket and runs `steps` on it, each with the reply it must give.
fn script(capacity: u64, rate: u64, steps: &[(Call, Reply)]) -> CheckResult {
    let mut bucket = TokenBucket::new(capacity, rate);
    let mut transcript = Transcript::new(capacity, rate);
    for &(step, expected) in steps {
        let got = call(&mut bucket, step);
        expect_eq(transcript.then(step), got, expected)?;
        transcript.record(step, got);
    }
    Ok(())
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

fn starts_full(ctx: &mut Ctx) -> CheckResult {
    use Reply::*;
    script(5, 1, &[(Call::Available(Duration::ZERO), Available(5))])?;
    ctx.forall_named(
        &["capacity", "rate"],
        DEFAULT_CASES,
        (1u64..=40, 0u64..=1000),
        |(capacity, rate)| {
            // One token at a time, all at t = 0: exactly `capacity` pass.
            let mut steps =
                vec![(Call::Acquire(Duration::ZERO, 1), Acquired(true)); capacity as usize];
            steps.push((Call::Acquire(Duration::ZERO, 1), Acquired(false)));
            script(capacity, rate, &steps)?;
            // All of them in one request.
            script(
                capacity,
                rate,
                &[
                    (Call::Acquire(Duration::ZERO, capacity), Acquired(true)),
                    (Call::Available(Duration::ZERO), Available(0)),
                ],
            )
        },
    )
}

fn refills_at_rate(_: &mut Ctx) -> CheckResult {
    use Reply::*;
    // 2 tokens a second: half a token every 250 ms.
    script(
        10,
        2,
        &[
            (Call::Acquire(Duration::ZERO, 10), Acquired(true)),
            (Call::Available(ms(250)), Available(0)),
            (Call::Available(ms(500)), Available(1)),
            (Call::Available(ms(1250)), Available(2)),
            // Holds 2.5 now; half a token stays behind.
            (Call::Acquire(ms(1250), 2), Acquired(true)),
            (Call::Available(ms(1750)), Available(1)),
            (Call::Available(ms(2500)), Available(3)),
        ],
    )?;
    // A rate of 0 never refills.
    script(
        3,
        0,
        &[
            (Call::Acquire(Duration::ZERO, 3), Acquired(true)),
            (Call::Available(secs(1000)), Available(0)),
            (Call::Acquire(secs(2000), 1), Acquired(false)),
        ],
    )
}

fn all_or_nothing(ctx: &mut Ctx) -> CheckResult {
    use Reply::*;
    script(
        5,
        1,
        &[
            (Call::Acquire(Duration::ZERO, 3), Acquired(true)),
            (Call::Acquire(Duration::ZERO, 3), Acquired(false)),
            (Call::Available(Duration::ZERO), Available(2)),
            (Call::Acquire(Duration::ZERO, 2), Acquired(true)),
            (Call::Acquire(Duration::ZERO, 1), Acquired(false)),
        ],
    )?;
    // Asking for more than the capacity can never work, and must not drain the bucket.
    script(
        5,
        1,
        &[
            (Call::Acquire(Duration::ZERO, 6), Acquired(false)),
            (Call::Available(Duration::ZERO), Available(5)),
            (Call::Acquire(secs(100), 6), Acquired(false)),
            (Call::Acquire(secs(100), 5), Acquired(true)),
        ],
    )?;
    // Any request too big for what is left: it fails and the level stays.
    ctx.forall_named(
        &["capacity", "first", "extra"],
        DEFAULT_CASES,
        (1u64..=20, 0u64..=20, 1u64..=20),
        |(capacity, first, extra)| {
            let first = first.min(capacity);
            let left = capacity - first;
            script(
                capacity,
                1,
                &[
                    (Call::Acquire(Duration::ZERO, first), Acquired(true)),
                    (Call::Acquire(Duration::ZERO, left + extra), Acquired(false)),
                    (Call::Available(Duration::ZERO), Available(left)),
                ],
            )
        },
    )
}

fn capped_when_idle(ctx: &mut Ctx) -> CheckResult {
    use Reply::*;
    // Full, then a minute idle: still 10, not 70.
    script(
        10,
        1,
        &[
            (Call::Available(secs(60)), Available(10)),
            (Call::Acquire(secs(60), 11), Acquired(false)),
            (Call::Acquire(secs(60), 10), Acquired(true)),
            (Call::Acquire(secs(60), 1), Acquired(false)),
        ],
    )?;
    // Full and idle, emptied, then idle for an hour: back to full if an hour is long enough.
    let idle = (
        0u64..=30,
        0u64..=1000,
        prop_oneof![1u64..=60_000, 1u64..=86_400_000],
    );
    ctx.forall_named(
        &["capacity", "rate", "idle_ms"],
        DEFAULT_CASES,
        idle,
        |(capacity, rate, idle_ms)| {
            let later = ms(idle_ms);
            let much_later = later + secs(3600);
            let refilled = u128::from(rate) * 3600 >= u128::from(capacity);
            let mut steps = vec![
                (Call::Available(later), Available(capacity)),
                (Call::Acquire(later, capacity), Acquired(true)),
            ];
            if refilled {
                steps.push((Call::Available(much_later), Available(capacity)));
                steps.push((Call::Acquire(much_later, capacity + 1), Acquired(false)));
            }
            script(capacity, rate, &steps)
        },
    )
}

fn tiny_steps(_: &mut Ctx) -> CheckResult {
    // (capacity, rate, step, how long): emptied at t = 0, then asked for one token every step.
    for (capacity, rate, step_ms, total_ms) in [(5u64, 3u64, 1u64, 10_000u64), (2, 7, 13, 13_000)] {
        let mut bucket = TokenBucket::new(capacity, rate);
        let drained = bucket.try_acquire(Duration::ZERO, capacity);
        expect_eq(
            format!("TokenBucket::new({capacity}, {rate}), then try_acquire(0ns, {capacity})"),
            drained,
            true,
        )?;
        let mut accepted = 0u64;
        for t in (step_ms..=total_ms).step_by(step_ms as usize) {
            if bucket.try_acquire(ms(t), 1) {
                accepted += 1;
            }
        }
        // Exactly rate × time flowed in, and every whole token of it was taken.
        let expected = rate * total_ms / 1000;
        expect_eq(
            format!(
                "TokenBucket::new({capacity}, {rate}), try_acquire(0ns, {capacity}), then \
                 try_acquire(t, 1) at every t = {:?}, {:?}, ... up to {:?}; how many returned true",
                ms(step_ms),
                ms(2 * step_ms),
                ms(total_ms)
            ),
            accepted,
            expected,
        )?;
    }
    // Polling a slow bucket must not stop it filling.
    let mut bucket = TokenBucket::new(1, 1);
    bucket.try_acquire(Duration::ZERO, 1);
    for t in 1..=1000 {
        let expected = u64::from(t == 1000);
        let got = bucket.available(ms(t));
        expect_eq(
            format!(
                "TokenBucket::new(1, 1), try_acquire(0ns, 1), then available(t) at every \
                 t = 1ms, 2ms, ... up to {:?}",
                ms(t)
            ),
            got,
            expected,
        )?;
    }
    Ok(())
}

/// Time between one request and the next, in nanoseconds: often none, sometimes a lot.
fn wait() -> impl Strategy<Value = u64> {
    prop_oneof![
        2 => Just(0u64),
        1 => 1u64..1_000,
        3 => (1u64..1_000).prop_map(|ms| ms * 1_000_000),
        1 => (1u64..=20).prop_map(|s| s * 1_000_000_000),
    ]
}

fn rate() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), 1u64..=10, 1u64..=1000]
}

/// One generated step: wait, then call.
#[derive(Clone, Copy)]
enum Op {
    Acquire { wait: u64, tokens: u64 },
    Available { wait: u64 },
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Op::Acquire { wait, tokens } => {
                write!(f, "+{:?} acquire {tokens}", Duration::from_nanos(wait))
            }
            Op::Available { wait } => write!(f, "+{:?} available", Duration::from_nanos(wait)),
        }
    }
}

fn window_bound(ctx: &mut Ctx) -> CheckResult {
    let input = (
        1u64..=20,
        rate(),
        prop::collection::vec((wait(), 1u64..=25), 1..40),
    );
    ctx.forall_named(
        &["capacity", "rate", "requests"],
        DEFAULT_CASES,
        input,
        |(capacity, rate, requests)| {
            let mut bucket = TokenBucket::new(capacity, rate);
            let mut transcript = Transcript::new(capacity, rate);
            let mut now = Duration::ZERO;
            // (when, how many) for every request that went through.
            let mut accepted: Vec<(Duration, u64)> = Vec::new();
            for (wait, tokens) in requests {
                now += Duration::from_nanos(wait);
                let step = Call::Acquire(now, tokens);
                let reply = call(&mut bucket, step);
                transcript.record(step, reply);
                if reply == Reply::Acquired(true) {
                    accepted.push((now, tokens));
                }
            }
            for first in 0..accepted.len() {
                let mut taken = 0u128;
                for last in first..accepted.len() {
                    taken += u128::from(accepted[last].1);
                    let (from, to) = (accepted[first].0, accepted[last].0);
                    let bound =
                        u128::from(capacity) * NANOS + u128::from(rate) * (to - from).as_nanos();
                    if taken * NANOS > bound {
                        return fail(format!(
                            "did:      {}\n\
                         expected: at most capacity + rate × {:?} = {capacity} + {rate} × {:?} \
                         tokens between {from:?} and {to:?}\n\
                         got:      {taken} tokens let through in that time",
                            transcript.0,
                            to - from,
                            (to - from).as_secs_f64(),
                        ));
                    }
                }
            }
            Ok(())
        },
    )
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    let op = prop_oneof![
        3 => (wait(), prop_oneof![0u64..=3, 0u64..=25])
            .prop_map(|(wait, tokens)| Op::Acquire { wait, tokens }),
        1 => wait().prop_map(|wait| Op::Available { wait }),
    ];
    let input = (
        prop_oneof![0u64..=3, 0u64..=20],
        rate(),
        prop::collection::vec(op, 1..40),
    );
    ctx.forall_named(
        &["capacity", "rate", "ops"],
        DEFAULT_CASES,
        input,
        |(capacity, rate, ops)| {
            let mut bucket = TokenBucket::new(capacity, rate);
            let mut model = Model::new(capacity, rate);
            let mut transcript = Transcript::new(capacity, rate);
            let mut now = Duration::ZERO;
            for op in ops {
                let step = match op {
                    Op::Acquire { wait, tokens } => {
                        now += Duration::from_nanos(wait);
                        Call::Acquire(now, tokens)
                    }
                    Op::Available { wait } => {
                        now += Duration::from_nanos(wait);
                        Call::Available(now)
                    }
                };
                let expected = call_model(&mut model, step);
                let got = call(&mut bucket, step);
                expect_eq(transcript.then(step), got, expected)?;
                transcript.record(step, got);
            }
            Ok(())
        },
    )
}

/// How far the clock moves before a call at the edges.
#[derive(Clone, Copy)]
enum Jump {
    Nanos(u64),
    Hours(u64),
    /// To `Duration::MAX`, the last instant there is; later jumps stay there.
    ToEnd,
}

impl fmt::Debug for Jump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Jump::Nanos(nanos) => write!(f, "+{:?}", Duration::from_nanos(*nanos)),
            Jump::Hours(hours) => write!(f, "+{hours}h"),
            Jump::ToEnd => write!(f, "to Duration::MAX"),
        }
    }
}

impl Jump {
    fn apply(self, now: Duration) -> Duration {
        match self {
            Jump::Nanos(nanos) => now.saturating_add(Duration::from_nanos(nanos)),
            Jump::Hours(hours) => now.saturating_add(Duration::from_secs(hours * 3600)),
            Jump::ToEnd => Duration::MAX,
        }
    }
}

fn jump() -> impl Strategy<Value = Jump> {
    prop_oneof![
        3 => Just(Jump::Nanos(0)),
        3 => (1u64..1_000).prop_map(Jump::Nanos),
        3 => (1_000u64..10_000_000).prop_map(Jump::Nanos),
        1 => (1u64..=48).prop_map(Jump::Hours),
        1 => Just(Jump::ToEnd),
    ]
}

/// Capacities and rates at and near the edges: none, one, a bytes-per-second limiter, the most.
fn edge_amount() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1u64),
        1u64..=5,
        Just(1_000_000u64),
        Just(u64::MAX),
        Just((1u64 << 53) + 1),
        any::<u64>(),
    ]
}

fn matches_model_at_edges(ctx: &mut Ctx) -> CheckResult {
    let input = (edge_amount(), edge_amount()).prop_flat_map(|(capacity, rate)| {
        let tokens = prop_oneof![
            3 => 0u64..=2,
            1 => Just(capacity),
            1 => Just(capacity.saturating_add(1)),
            1 => Just(capacity.saturating_sub(1)),
            1 => Just(capacity / 2),
            1 => 1_000u64..=2_000,
            1 => Just(u64::MAX),
            1 => any::<u64>(),
        ];
        let op = (jump(), prop::option::weighted(0.8, tokens));
        (Just(capacity), Just(rate), prop::collection::vec(op, 1..30))
    });
    ctx.forall_named(
        &["capacity", "rate", "ops"],
        DEFAULT_CASES,
        input,
        |(capacity, rate, ops)| {
            let mut bucket = TokenBucket::new(capacity, rate);
            let mut model = Model::new(capacity, rate);
            let mut transcript = Transcript::new(capacity, rate);
            let mut now = Duration::ZERO;
            for (jump, tokens) in ops {
                now = jump.apply(now);
                let step = match tokens {
                    Some(tokens) => Call::Acquire(now, tokens),
                    None => Call::Available(now),
                };
                let expected = call_model(&mut model, step);
                let got = call(&mut bucket, step);
                expect_eq(transcript.then(step), got, expected)?;
                transcript.record(step, got);
            }
            Ok(())
        },
    )
}
