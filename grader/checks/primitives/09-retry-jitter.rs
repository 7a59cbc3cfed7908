//! Hidden checks for primitives/retry-jitter.

use std::time::Duration;

use judge::prelude::*;
use primitives_retry_jitter::{Backoff, Decorrelated};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "exponential doubles from base until it reaches the cap",
            exponential_example,
        )
        .check(
            "exponential is exactly min(cap, base × 2^attempt) for attempts 0 to 200",
            exponential_matches_model,
        )
        .check(
            "exponential never exceeds the cap or panics, even at attempt u32::MAX",
            exponential_saturates,
        )
        .check(
            "full jitter stays between zero and the exponential delay",
            full_jitter_bounds,
        )
        .check(
            "full jitter is random × exponential(attempt), rounded down",
            full_jitter_matches_model,
        )
        .check(
            "decorrelated jitter, worked example: 1 s, 2 s, 3.5 s, 5.75 s ...",
            decorrelated_example,
        )
        .check(
            "decorrelated delays stay between base and cap",
            decorrelated_bounds,
        )
        .check(
            "each decorrelated delay is drawn from base to 3 × the previous delay, then capped",
            decorrelated_matches_model,
        )
        .check(
            "decorrelated jitter follows the formula for any base and cap, without panicking: \
             zero, Duration::MAX, and a base above the cap included",
            decorrelated_any_durations,
        )
        .check(
            "1,000 clients retrying with jitter spread out; without it they arrive all at once",
            herd,
        )
}

// ---------------------------------------------------------------------------------------------
// The model: whole nanoseconds in u128, where nothing a Duration can hold overflows.

fn nanos(duration: Duration) -> u128 {
    duration.as_nanos()
}

fn from_nanos(nanos: u128) -> Duration {
    Duration::new(
        (nanos / 1_000_000_000) as u64,
        (nanos % 1_000_000_000) as u32,
    )
}

/// min(cap, base × 2^attempt), by doubling and capping one step at a time. Capping each step
/// changes nothing (min(cap, 2 × min(cap, x)) = min(cap, 2x)), and after 200 doublings any
/// non-zero base is past any cap, so later attempts give the same answer.
fn model_exponential(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let cap = nanos(cap);
    let mut delay = nanos(base).min(cap);
    for _ in 0..attempt.min(200) {
        delay = (delay * 2).min(cap);
    }
    from_nanos(delay)
}

/// duration × random, in nanoseconds as f64, rounded down, never above duration.
fn model_scale(duration: Duration, random: f64) -> Duration {
    let n = nanos(duration);
    from_nanos(((n as f64 * random) as u128).min(n))
}

/// min(cap, base + random × (3 × previous − base)) in u128 nanoseconds, where 3 × any Duration
/// fits: exact even when the delays are near Duration::MAX (the capped result always fits).
fn model_decorrelated(base: Duration, cap: Duration, previous: Duration, random: f64) -> Duration {
    let span = (3 * nanos(previous)).saturating_sub(nanos(base));
    let scaled = ((span as f64 * random) as u128).min(span);
    from_nanos((nanos(base) + scaled).min(nanos(cap)))
}

/// Float rounding may differ between correct solutions (f64 nanoseconds rounded down, or
/// `Duration::mul_f64`, which goes through seconds and rounds to nearest): allow a nanosecond,
/// plus a sliver proportional to the size for durations beyond f64's 53 bits of precision.
fn close(got: Duration, expected: Duration) -> bool {
    nanos(got).abs_diff(nanos(expected)) <= 1 + (nanos(expected) >> 40)
}

fn expect_close(did: impl std::fmt::Display, got: Duration, expected: Duration) -> CheckResult {
    expect(
        close(got, expected),
        format!(
            "did:      {did}\nexpected: {expected:?} (give or take a nanosecond of rounding)\n\
             got:      {got:?}"
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Inputs.

/// Durations of every size: mostly realistic, sometimes zero, huge or the largest there is.
fn duration() -> impl Strategy<Value = Duration> {
    // prop_oneof! shrinks toward its first choice: keep the realistic sizes first, so a failure
    // is reported with small durations when small ones will do.
    prop_oneof![
        5 => (1u64..=60_000_000_000).prop_map(Duration::from_nanos),
        1 => Just(Duration::ZERO),
        2 => any::<u64>().prop_map(Duration::from_nanos),
        1 => Just(Duration::MAX),
        1 => (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
    ]
}

/// Durations a retry loop could meet: up to a few centuries, so 3 × them still fits.
fn realistic_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        6 => (1u64..=60_000_000_000).prop_map(Duration::from_nanos),
        1 => Just(Duration::ZERO),
        2 => any::<u64>().prop_map(Duration::from_nanos),
    ]
}

/// `base <= cap`.
fn base_and_cap() -> impl Strategy<Value = (Duration, Duration)> {
    (realistic_duration(), realistic_duration()).prop_map(|(a, b)| (a.min(b), a.max(b)))
}

/// The largest f64 below 1.
const ALMOST_ONE: f64 = 1.0 - f64::EPSILON / 2.0;

/// A uniform sample from [0, 1), with its two ends tried often.
fn random() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => 0.0..1.0f64,
        1 => Just(0.0),
        1 => Just(ALMOST_ONE),
    ]
}

fn attempt() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => 0u32..=100,
        1 => Just(u32::MAX),
        1 => any::<u32>(),
    ]
}

// ---------------------------------------------------------------------------------------------
// Exponential backoff.

/// What a caught panic said.
fn text(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => text.to_string(),
        (_, Some(text)) => text.clone(),
        _ => "(a panic without a message)".into(),
    }
}

fn exponential_example(_: &mut Ctx) -> CheckResult {
    let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    let got: Vec<Duration> = (0..=9).map(|a| backoff.exponential(a)).collect();
    let expected = [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]
        .map(Duration::from_millis)
        .to_vec();
    expect_eq(
        "Backoff::new(100ms, 10s), then exponential(attempt) for attempts 0 to 9",
        got,
        expected,
    )
}

fn exponential_matches_model(ctx: &mut Ctx) -> CheckResult {
    // Each case makes 201 calls into the learner's process: 32 cases check 6,432 delays and keep
    // the check quick on a busy machine (the edges have a check of their own, below).
    ctx.forall_named(
        &["base", "cap"],
        32,
        (duration(), duration()),
        |(base, cap)| {
            let backoff = Backoff::new(base, cap);
            for attempt in 0..=200 {
                let did = format!("Backoff::new({base:?}, {cap:?}).exponential({attempt})");
                let got =
                    std::panic::catch_unwind(|| backoff.exponential(attempt)).map_err(|panic| {
                        Failure::new(format!("did:      {did}\npanicked: {}", text(&*panic)))
                    })?;
                expect_eq(did, got, model_exponential(base, cap, attempt))?;
            }
            Ok(())
        },
    )
}

fn exponential_saturates(ctx: &mut Ctx) -> CheckResult {
    let attempts = prop_oneof![
        1 => Just(u32::MAX),
        1 => Just(u32::MAX - 1),
        2 => prop::sample::select(vec![31u32, 32, 33, 63, 64, 65, 95, 96, 127, 128, 129, 1 << 31]),
        2 => any::<u32>(),
    ];
    ctx.forall_named(
        &["base", "cap", "attempt"],
        DEFAULT_CASES,
        (duration(), duration(), attempts),
        |(base, cap, attempt)| {
            let got = Backoff::new(base, cap).exponential(attempt);
            let did = format!("Backoff::new({base:?}, {cap:?}).exponential({attempt})");
            expect(
                got <= cap,
                format!("did:      {did}\nexpected: at most the cap, {cap:?}\ngot:      {got:?}"),
            )?;
            expect_eq(did, got, model_exponential(base, cap, attempt))
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Full jitter.

fn full_jitter_bounds(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["base", "cap", "attempt", "random"],
        DEFAULT_CASES,
        (duration(), duration(), attempt(), random()),
        |(base, cap, attempt, random)| {
            let got = Backoff::new(base, cap).full_jitter(attempt, random);
            let ceiling = model_exponential(base, cap, attempt);
            expect(
                got <= ceiling || close(got, ceiling),
                format!(
                    "did:      Backoff::new({base:?}, {cap:?}).full_jitter({attempt}, {random:?})\n\
                     expected: between 0 and exponential({attempt}) = {ceiling:?}\n\
                     got:      {got:?}"
                ),
            )
        },
    )
}

fn full_jitter_matches_model(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["base", "cap", "attempt", "random"],
        DEFAULT_CASES,
        (duration(), duration(), attempt(), random()),
        |(base, cap, attempt, random)| {
            let expected = model_scale(model_exponential(base, cap, attempt), random);
            expect_close(
                format!("Backoff::new({base:?}, {cap:?}).full_jitter({attempt}, {random:?})"),
                Backoff::new(base, cap).full_jitter(attempt, random),
                expected,
            )
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Decorrelated jitter.

fn decorrelated_example(_: &mut Ctx) -> CheckResult {
    let randoms = [0.0, 0.5, 0.5, 0.5, 0.75, 0.5, 0.75, 0.5, 0.25];
    let mut delays = Decorrelated::new(Duration::from_secs(1), Duration::from_secs(60));
    let got: Vec<Duration> = randoms.iter().map(|&r| delays.next_delay(r)).collect();
    let expected = [
        1.0, 2.0, 3.5, 5.75, 13.1875, 20.28125, 45.8828125, 60.0, 45.75,
    ]
    .map(Duration::from_secs_f64)
    .to_vec();
    expect_eq(
        format!("Decorrelated::new(1s, 60s), then next_delay(r) for r in {randoms:?}"),
        got,
        expected,
    )
}

fn decorrelated_bounds(ctx: &mut Ctx) -> CheckResult {
    let input = (base_and_cap(), prop::collection::vec(random(), 1..40));
    ctx.forall(input, |((base, cap), randoms)| {
        let mut delays = Decorrelated::new(base, cap);
        for (step, &random) in randoms.iter().enumerate() {
            let got = delays.next_delay(random);
            expect(
                base <= got && got <= cap,
                format!(
                    "did:      Decorrelated::new({base:?}, {cap:?}), then next_delay(r) for r in \
                     {:?}\nexpected: every delay between {base:?} and {cap:?}\n\
                     got:      {got:?} from the last of them",
                    &randoms[..=step]
                ),
            )?;
        }
        Ok(())
    })
}

fn decorrelated_matches_model(ctx: &mut Ctx) -> CheckResult {
    let input = (base_and_cap(), prop::collection::vec(random(), 1..40));
    ctx.forall(input, |((base, cap), randoms)| {
        let mut delays = Decorrelated::new(base, cap);
        // The model follows the delays actually returned, so a nanosecond of rounding in one
        // step is not blown up by the next ones.
        let mut previous = base;
        for (step, &random) in randoms.iter().enumerate() {
            let expected = model_decorrelated(base, cap, previous, random);
            let got = delays.next_delay(random);
            let after = if step == 0 {
                format!("previous delay starts at base = {base:?}")
            } else {
                format!("previous delay was {previous:?}")
            };
            expect_close(
                format!(
                    "Decorrelated::new({base:?}, {cap:?}), then next_delay(r) for r in {:?}\n\
                     \x20         ({after}; expected min(cap, base + r × (3 × previous − base)))",
                    &randoms[..=step]
                ),
                got,
                expected,
            )?;
            previous = got;
        }
        Ok(())
    })
}

fn decorrelated_any_durations(ctx: &mut Ctx) -> CheckResult {
    // Often within a factor of 4 of Duration::MAX, where 3 × the previous delay no longer fits.
    let huge = (u64::MAX / 4..=u64::MAX, 0u32..1_000_000_000)
        .prop_map(|(secs, nanos)| Duration::new(secs, nanos));
    let size = || prop_oneof![3 => duration(), 1 => huge.clone()];
    let input = (size(), size(), prop::collection::vec(random(), 1..30));
    ctx.forall_named(
        &["base", "cap", "randoms"],
        DEFAULT_CASES,
        input,
        |(base, cap, randoms)| {
            let mut delays = Decorrelated::new(base, cap);
            let mut previous = base;
            for (step, &random) in randoms.iter().enumerate() {
                let did = format!(
                    "Decorrelated::new({base:?}, {cap:?}), then next_delay(r) for r in {:?}\n\
                 \x20         (previous delay {previous:?}; expected min(cap, base + r × \
                 (3 × previous − base)), worked out without overflow)",
                    &randoms[..=step]
                );
                let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    delays.next_delay(random)
                }))
                .map_err(|panic| {
                    Failure::new(format!("did:      {did}\npanicked: {}", text(&*panic)))
                })?;
                expect_close(&did, got, model_decorrelated(base, cap, previous, random))?;
                previous = got;
            }
            Ok(())
        },
    )
}

// ---------------------------------------------------------------------------------------------
// The thundering herd.

const CLIENTS: usize = 1000;
/// Enough rounds for plain backoff to reach the cap (2^6 s > 60 s).
const ROUNDS: u32 = 10;
const WINDOW: u128 = 10_000_000; // 10 ms, in nanoseconds
const MOST_IN_A_WINDOW: usize = CLIENTS / 10;
/// Nearly all: a few clients may draw the same nanosecond by chance.
const NEARLY_ALL: usize = CLIENTS * 99 / 100;

/// A uniform sample from [0, 1): 53 random bits.
fn uniform(rng: &mut impl Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// What the server sees when every client fails at t = 0 and retries `ROUNDS` times.
struct Load {
    /// The most retries that land in one 10 ms window.
    busiest: usize,
    /// How many different delays the clients chose, in the round where they agreed most.
    fewest_distinct_delays: usize,
    /// The round where they agreed most.
    round: u32,
}

/// Runs the clients; `delay(client, round)` is the wait before that client's retry `round`.
fn simulate(mut delay: impl FnMut(usize, u32) -> Duration) -> Load {
    // Each client keeps its own clock: the moment of its last retry.
    let mut now = vec![0u128; CLIENTS];
    let mut arrivals = Vec::with_capacity(CLIENTS * ROUNDS as usize);
    let mut load = Load {
        busiest: 0,
        fewest_distinct_delays: usize::MAX,
        round: 0,
    };
    for round in 0..ROUNDS {
        let mut delays = Vec::with_capacity(CLIENTS);
        for (client, t) in now.iter_mut().enumerate() {
            let d = delay(client, round);
            delays.push(d);
            *t += nanos(d);
            arrivals.push(*t);
        }
        delays.sort_unstable();
        delays.dedup();
        if delays.len() < load.fewest_distinct_delays {
            load.fewest_distinct_delays = delays.len();
            load.round = round;
        }
    }
    let mut windows: Vec<u128> = arrivals.iter().map(|t| t / WINDOW).collect();
    windows.sort_unstable();
    load.busiest = windows
        .chunk_by(|a, b| a == b)
        .map(<[u128]>::len)
        .max()
        .unwrap_or(0);
    load
}

fn herd(ctx: &mut Ctx) -> CheckResult {
    let (base, cap) = (Duration::from_secs(1), Duration::from_secs(60));
    let backoff = Backoff::new(base, cap);
    let setting = format!(
        "{CLIENTS} clients fail at t = 0 and each retries {ROUNDS} times (base 1s, cap 60s)"
    );

    ctx.doing(format!("{setting}, with exponential() and no jitter"));
    let plain = simulate(|_, round| backoff.exponential(round));
    expect_eq(
        format!(
            "{setting}, with exponential() and no jitter: the most retries in one 10 ms window"
        ),
        plain.busiest,
        CLIENTS,
    )?;

    ctx.doing(format!("{setting}, with full_jitter()"));
    let mut rng = ctx.rng();
    let full = simulate(|_, round| backoff.full_jitter(round, uniform(&mut rng)));
    expect(
        full.busiest <= MOST_IN_A_WINDOW && full.fewest_distinct_delays >= NEARLY_ALL,
        format!(
            "did:      {setting}, with full_jitter() and a fresh random number for each retry\n\
             expected: at most {MOST_IN_A_WINDOW} retries in any 10 ms window, and at least \
             {NEARLY_ALL} different delays in every round\n\
             got:      {} in the busiest window; only {} different delays in round {}",
            full.busiest, full.fewest_distinct_delays, full.round
        ),
    )?;

    // Decorrelated delays often sit exactly at the cap, so distinct delays are not the point
    // here; but the clients' clocks have drifted apart, and that is what the server feels.
    ctx.doing(format!("{setting}, with one Decorrelated each"));
    let mut clients: Vec<Decorrelated> =
        (0..CLIENTS).map(|_| Decorrelated::new(base, cap)).collect();
    let decorrelated = simulate(|client, _| clients[client].next_delay(uniform(&mut rng)));
    expect(
        decorrelated.busiest <= MOST_IN_A_WINDOW,
        format!(
            "did:      {setting}, each with its own Decorrelated and fresh random numbers\n\
             expected: at most {MOST_IN_A_WINDOW} retries in any 10 ms window\n\
             got:      {} in the busiest window",
            decorrelated.busiest
        ),
    )
}
