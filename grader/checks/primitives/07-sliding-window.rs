//! Hidden checks for primitives/sliding-window.

use std::fmt;
use std::time::Duration;

use judge::prelude::*;
use primitives_sliding_window::SlidingWindow;

use crate::support::no_panic;

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "allows `limit` requests at one instant, then rejects the next",
            fills_up,
        )
        .check(
            "agrees with a simple model on random nondecreasing times",
            matches_model,
        )
        .check(
            "never allows more than `limit` requests in any window-long interval",
            never_over_limit,
        )
        .check(
            "a burst straddling a fixed-window boundary is still limited",
            boundary_burst,
        )
        .check(
            "a request exactly one window old no longer counts",
            exact_edge,
        )
        .check(
            "rejected requests do not count against the limit",
            rejections_not_counted,
        )
        .check(
            "the log holds at most `limit` timestamps, however many requests arrive",
            memory_bounded,
        )
        .check(
            "agrees with the model at the edges: limits 0, 1 and usize::MAX, windows from zero \
             to Duration::MAX, nanosecond steps and times up to Duration::MAX",
            matches_model_at_edges,
        )
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The limiter's definition, checked the slow way: keep every allowed timestamp forever and
/// count the ones in `(now - window, now]` on every call.
struct Model {
    limit: usize,
    window: Duration,
    allowed: Vec<Duration>,
}

impl Model {
    fn in_window(&self, now: Duration) -> usize {
        self.allowed
            .iter()
            // t is in (now - window, now]; written as a difference, so that no sum overflows.
            .filter(|&&t| t <= now && now - t < self.window)
            .count()
    }

    fn try_acquire(&mut self, now: Duration) -> bool {
        let ok = self.in_window(now) < self.limit;
        if ok {
            self.allowed.push(now);
        }
        ok
    }
}

#[derive(Clone, Copy)]
enum Op {
    Acquire(Duration),
    InWindow(Duration),
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every generated time is a whole number of milliseconds.
        match self {
            Op::Acquire(t) => write!(f, "try_acquire({}ms)", t.as_millis()),
            Op::InWindow(t) => write!(f, "in_window({}ms)", t.as_millis()),
        }
    }
}

struct Scenario {
    limit: usize,
    window: Duration,
    ops: Vec<Op>,
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SlidingWindow::new({}, {:?}) then {:?}",
            self.limit, self.window, self.ops
        )
    }
}

/// Times in milliseconds from gaps between them: nondecreasing by construction.
fn running_total(steps: Vec<u64>) -> Vec<u64> {
    steps
        .into_iter()
        .scan(0, |now, step| {
            *now += step;
            Some(*now)
        })
        .collect()
}

/// A limit, a window of a few milliseconds, and operations at nondecreasing times. Steps are
/// small and often zero, so requests pile up and land exactly on window edges.
fn scenarios() -> impl Strategy<Value = Scenario> {
    (0usize..=4, 1u64..=12).prop_flat_map(|(limit, window)| {
        let step = prop_oneof![Just(0u64), 0..=window + 1];
        let op = (prop::bool::weighted(0.25), step);
        prop::collection::vec(op, 0..60).prop_map(move |steps| {
            let mut now = 0;
            let ops = steps
                .into_iter()
                .map(|(count, step)| {
                    now += step;
                    if count {
                        Op::InWindow(ms(now))
                    } else {
                        Op::Acquire(ms(now))
                    }
                })
                .collect();
            Scenario {
                limit,
                window: ms(window),
                ops,
            }
        })
    })
}

fn fills_up(_: &mut Ctx) -> CheckResult {
    let mut limiter = SlidingWindow::new(3, Duration::from_secs(1));
    for i in 1..=3 {
        expect_eq(
            format!("SlidingWindow::new(3, 1s), then try_acquire(0s) {i} time(s): answer #{i}"),
            limiter.try_acquire(ms(0)),
            true,
        )?;
    }
    expect_eq(
        "SlidingWindow::new(3, 1s), 3 × try_acquire(0s), then try_acquire(0s) once more",
        limiter.try_acquire(ms(0)),
        false,
    )?;
    expect_eq(
        "SlidingWindow::new(3, 1s), 4 × try_acquire(0s) (3 allowed), then in_window(0s)",
        limiter.in_window(ms(0)),
        3,
    )
}

fn matches_model(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(&["scenario"], DEFAULT_CASES, scenarios(), |scenario| {
        let mut limiter = SlidingWindow::new(scenario.limit, scenario.window);
        let mut model = Model {
            limit: scenario.limit,
            window: scenario.window,
            allowed: Vec::new(),
        };
        let mut history = format!(
            "SlidingWindow::new({}, {:?})",
            scenario.limit, scenario.window
        );
        for op in &scenario.ops {
            let did = format!("{history}, then {op:?}");
            match *op {
                Op::Acquire(now) => {
                    let got = limiter.try_acquire(now);
                    expect_eq(&did, got, model.try_acquire(now))?;
                    history = format!("{history}, {op:?} -> {got}");
                }
                Op::InWindow(now) => {
                    let got = limiter.in_window(now);
                    expect_eq(&did, got, model.in_window(now))?;
                    history = format!("{history}, {op:?} -> {got}");
                }
            }
        }
        Ok(())
    })
}

fn never_over_limit(ctx: &mut Ctx) -> CheckResult {
    let input = (1usize..=5, 1u64..=20).prop_flat_map(|(limit, window)| {
        let steps = prop::collection::vec(prop_oneof![Just(0u64), 0..=window / 2 + 1], 1..200);
        (Just(limit), Just(window), steps.prop_map(running_total))
    });
    ctx.forall_named(&["limit", "window", "requests"], DEFAULT_CASES, input, |(limit, window, requests)| {
        let mut limiter = SlidingWindow::new(limit, ms(window));
        let mut allowed = Vec::new();
        for &now in &requests {
            if limiter.try_acquire(ms(now)) {
                allowed.push(now);
            }
        }
        // The busiest window-long interval ends at an allowed request: check each of those.
        for &end in &allowed {
            let inside: Vec<u64> = allowed
                .iter()
                .copied()
                .filter(|&t| t <= end && t + window > end)
                .collect();
            if inside.len() > limit {
                return fail(format!(
                    "did:      SlidingWindow::new({limit}, {window}ms), then try_acquire at each \
                     of these times (ms): {requests:?}\n\
                     expected: at most {limit} allowed in any {window}ms\n\
                     got:      {} allowed in ({}ms, {end}ms], at {inside:?}",
                    inside.len(),
                    end as i64 - window as i64,
                ));
            }
        }
        Ok(())
    })
}

fn boundary_burst(_: &mut Ctx) -> CheckResult {
    // 100 requests per minute. A fixed window starting on the minute lets 100 through at 59 s and
    // 100 more at 61 s: 200 in two seconds.
    let minute = Duration::from_secs(60);
    let mut limiter = SlidingWindow::new(100, minute);
    let setup = "SlidingWindow::new(100, 60s)";
    for i in 1..=100 {
        expect_eq(
            format!("{setup}, then try_acquire(59s) {i} time(s): answer #{i}"),
            limiter.try_acquire(Duration::from_secs(59)),
            true,
        )?;
    }
    for i in 1..=100 {
        expect_eq(
            format!(
                "{setup}, 100 × try_acquire(59s) (all allowed), then try_acquire(61s) {i} \
                 time(s): answer #{i} (the last minute already holds 100)"
            ),
            limiter.try_acquire(Duration::from_secs(61)),
            false,
        )?;
    }
    // At 119 s the burst at 59 s is exactly one window old and has left the window.
    for i in 1..=100 {
        expect_eq(
            format!(
                "{setup}, 100 × try_acquire(59s) (all allowed), 100 × try_acquire(61s) (all \
                 rejected), then try_acquire(119s) {i} time(s): answer #{i} (the 59s burst has \
                 left the window)"
            ),
            limiter.try_acquire(Duration::from_secs(119)),
            true,
        )?;
    }
    Ok(())
}

fn exact_edge(_: &mut Ctx) -> CheckResult {
    // One request per 10 s, allowed at 5 s: it counts in (5s, 15s) and is gone at 15 s, where
    // the window is (5s, 15s].
    let mut limiter = SlidingWindow::new(1, Duration::from_secs(10));
    let five = Duration::from_secs(5);
    let fifteen = Duration::from_secs(15);
    let just_before = fifteen - Duration::from_nanos(1);
    let mut did = String::from("SlidingWindow::new(1, 10s), then try_acquire(5s)");
    expect_eq(&did, limiter.try_acquire(five), true)?;
    did += " -> true";
    expect_eq(
        format!("{did}, then in_window(14.999999999s)"),
        limiter.in_window(just_before),
        1,
    )?;
    did += ", in_window(14.999999999s) -> 1";
    expect_eq(
        format!("{did}, then try_acquire(14.999999999s)"),
        limiter.try_acquire(just_before),
        false,
    )?;
    did += ", try_acquire(14.999999999s) -> false";
    expect_eq(
        format!("{did}, then in_window(15s) (the window (5s, 15s] leaves 5s out)"),
        limiter.in_window(fifteen),
        0,
    )?;
    did += ", in_window(15s) -> 0";
    expect_eq(
        format!("{did}, then try_acquire(15s)"),
        limiter.try_acquire(fifteen),
        true,
    )
}

fn rejections_not_counted(_: &mut Ctx) -> CheckResult {
    let mut limiter = SlidingWindow::new(2, Duration::from_secs(10));
    let mut did = String::from("SlidingWindow::new(2, 10s), then try_acquire(0s) twice");
    let first = (
        limiter.try_acquire(Duration::ZERO),
        limiter.try_acquire(Duration::ZERO),
    );
    expect_eq(&did, first, (true, true))?;
    for second in 1..=9 {
        let now = Duration::from_secs(second);
        expect_eq(
            format!("{did} (both allowed), then try_acquire each second from 1s to {second}s"),
            limiter.try_acquire(now),
            false,
        )?;
    }
    did += " (both allowed), try_acquire each second from 1s to 9s (all rejected)";
    expect_eq(
        format!("{did}, then in_window(10s)"),
        limiter.in_window(Duration::from_secs(10)),
        0,
    )?;
    let ten = Duration::from_secs(10);
    expect_eq(
        format!("{did}, then try_acquire(10s) three times"),
        (
            limiter.try_acquire(ten),
            limiter.try_acquire(ten),
            limiter.try_acquire(ten),
        ),
        (true, true, false),
    )
}

fn memory_bounded(ctx: &mut Ctx) -> CheckResult {
    let input = (1usize..=6, 1u64..=30).prop_flat_map(|(limit, window)| {
        (
            Just(limit),
            Just(window),
            prop::collection::vec(0u64..=3, 1..400).prop_map(running_total),
        )
    });
    ctx.forall_named(&["limit", "window", "requests"], 128, input, |(limit, window, requests)| {
        let mut limiter = SlidingWindow::new(limit, ms(window));
        for (i, &now) in requests.iter().enumerate() {
            limiter.try_acquire(ms(now));
            let held = limiter.log_len();
            if held > limit {
                return fail(format!(
                    "did:      SlidingWindow::new({limit}, {window}ms), then try_acquire at each \
                     of these times (ms): {:?}, then log_len()\n\
                     expected: at most {limit} (older requests have left the window)\n\
                     got:      {held}",
                    &requests[..=i]
                ));
            }
        }
        Ok(())
    })
}

/// How far the clock moves before a call, at the edges: often exactly a window, or a
/// nanosecond either side of it.
#[derive(Clone, Copy, Debug)]
enum Jump {
    Nanos(u64),
    Window,
    WindowMinus1ns,
    WindowPlus1ns,
    ToEnd,
}

impl Jump {
    fn apply(self, now: Duration, window: Duration) -> Duration {
        let one = Duration::from_nanos(1);
        let step = match self {
            Jump::Nanos(nanos) => Duration::from_nanos(nanos),
            Jump::Window => window,
            Jump::WindowMinus1ns => window.saturating_sub(one),
            Jump::WindowPlus1ns => window.saturating_add(one),
            Jump::ToEnd => Duration::MAX,
        };
        now.saturating_add(step)
    }
}

fn matches_model_at_edges(ctx: &mut Ctx) -> CheckResult {
    let limit = prop_oneof![Just(0usize), Just(1usize), 2usize..=3, Just(usize::MAX)];
    let window = prop_oneof![
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
        2 => Just(Jump::Window),
        1 => Just(Jump::WindowMinus1ns),
        1 => Just(Jump::WindowPlus1ns),
        1 => Just(Jump::ToEnd),
    ];
    let op = (prop::bool::weighted(0.25), jump);
    let input = (limit, window, prop::collection::vec(op, 1..40));
    ctx.forall_named(
        &["limit", "window", "ops"],
        DEFAULT_CASES,
        input,
        |(limit, window, ops)| {
            let mut history = format!("SlidingWindow::new({limit}, {window:?})");
            let mut limiter = no_panic(&history, || SlidingWindow::new(limit, window))?;
            let mut model = Model {
                limit,
                window,
                allowed: Vec::new(),
            };
            let mut now = Duration::ZERO;
            for (count, jump) in ops {
                now = jump.apply(now, window);
                if count {
                    let did = format!("{history}, then in_window({now:?})");
                    let got = no_panic(&did, || limiter.in_window(now))?;
                    expect_eq(&did, got, model.in_window(now))?;
                    history = format!("{history}, in_window({now:?}) -> {got}");
                } else {
                    let did = format!("{history}, then try_acquire({now:?})");
                    let got = no_panic(&did, || limiter.try_acquire(now))?;
                    expect_eq(&did, got, model.try_acquire(now))?;
                    history = format!("{history}, try_acquire({now:?}) -> {got}");
                    // It holds every request still in the window (it needs them to decide), and
                    // nothing past the limit.
                    let held = limiter.log_len();
                    let needed = model.in_window(now);
                    expect(
                        (needed..=limit).contains(&held),
                        format!(
                            "did:      {history}, then log_len()\n\
                         expected: from {needed} (the requests still in the window) to the \
                         limit, {limit}\n\
                         got:      {held}"
                        ),
                    )?;
                }
            }
            Ok(())
        },
    )
}
