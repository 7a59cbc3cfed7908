//! Retry delays: exponential backoff, with full jitter and with decorrelated jitter.
//!
//! The reference solution. The exponential delay is exact: it is computed in whole nanoseconds
//! (`u128`), where no `Duration` can overflow. Jitter scales a delay by a float and rounds down.
//! Nothing here reads a clock or a random number generator: the caller passes the randomness in.

use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Exponential backoff with a ceiling: attempt `n` waits `min(cap, base × 2ⁿ)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
}

impl Backoff {
    /// A backoff that starts at `base` and never waits longer than `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self { base, cap }
    }

    /// The delay before retry number `attempt` (counting from 0), without jitter:
    /// `min(cap, base × 2^attempt)`, exactly.
    ///
    /// Never overflows or panics, for any `attempt` up to `u32::MAX`: a delay too large to
    /// represent is larger than the cap, so the answer is the cap.
    pub fn exponential(&self, attempt: u32) -> Duration {
        let base = self.base.as_nanos();
        if base == 0 {
            return Duration::ZERO;
        }
        // 2^attempt does not fit in a u128 from attempt 128 on, and base × 2^attempt may overflow
        // well before that. Either way the true delay is beyond any Duration, hence beyond the cap.
        let grown = 1u128
            .checked_shl(attempt)
            .and_then(|factor| base.checked_mul(factor));
        match grown {
            Some(nanos) => duration_from_nanos(nanos.min(self.cap.as_nanos())),
            None => self.cap,
        }
    }

    /// The delay before retry number `attempt` with full jitter: `random × exponential(attempt)`,
    /// rounded down to the nanosecond, so anywhere in `[0, exponential(attempt)]`.
    ///
    /// `random` is a uniform sample from `[0, 1)`, supplied by the caller.
    pub fn full_jitter(&self, attempt: u32, random: f64) -> Duration {
        scale(self.exponential(attempt), random)
    }
}

/// Decorrelated jitter: each delay is drawn between `base` and three times the previous delay,
/// then capped. The range grows with the delays themselves, not with an attempt counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decorrelated {
    base: Duration,
    cap: Duration,
    previous: Duration,
}

impl Decorrelated {
    /// A sequence of delays starting from `base` and never longer than `cap`.
    /// The "previous delay" starts at `base`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            previous: base,
        }
    }

    /// The next delay: `min(cap, base + random × (3 × previous − base))`, where the product is
    /// rounded down to the nanosecond. It becomes the new previous delay.
    ///
    /// `random` is a uniform sample from `[0, 1)`, supplied by the caller.
    pub fn next_delay(&mut self, random: f64) -> Duration {
        // In whole nanoseconds (u128), where 3 × any Duration fits: the formula holds exactly
        // even for delays near Duration::MAX, and a base above the cap makes the span 0, not a
        // panic. Capping brings the result back within a Duration.
        let base = self.base.as_nanos();
        let span = (3 * self.previous.as_nanos()).saturating_sub(base);
        let delay = (base + scale_nanos(span, random)).min(self.cap.as_nanos());
        // Remember the capped delay: an uncapped one would keep tripling out of sight, and the
        // delays would stick at the cap instead of wandering below it.
        self.previous = duration_from_nanos(delay);
        self.previous
    }
}

/// `duration × random`, computed in nanoseconds as f64 and rounded down; never more than
/// `duration`, even when converting to f64 rounds up.
fn scale(duration: Duration, random: f64) -> Duration {
    duration_from_nanos(scale_nanos(duration.as_nanos(), random))
}

/// `nanos × random`, as f64 and rounded down; never more than `nanos`.
fn scale_nanos(nanos: u128, random: f64) -> u128 {
    // `as` from f64 to an integer rounds toward zero and saturates (and sends NaN to 0).
    let scaled = (nanos as f64 * random) as u128;
    scaled.min(nanos)
}

/// The inverse of `Duration::as_nanos`. `nanos` must fit in a Duration: callers only pass values
/// no larger than one they got from `as_nanos`.
fn duration_from_nanos(nanos: u128) -> Duration {
    let secs = u64::try_from(nanos / NANOS_PER_SEC).expect("fits in a Duration");
    Duration::new(secs, (nanos % NANOS_PER_SEC) as u32)
}
