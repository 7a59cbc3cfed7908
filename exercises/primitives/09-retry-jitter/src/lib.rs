//! Retry delays: exponential backoff, with full jitter and with decorrelated jitter.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.
//!
//! Nothing here reads a clock or a random number generator: the caller passes the randomness in,
//! as an `f64` in `[0, 1)`. Multiplying a delay by such a number is done in nanoseconds and
//! rounded down (a result within a nanosecond or so of that is accepted).

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::time::Duration;

/// Exponential backoff with a ceiling: attempt `n` waits `min(cap, base × 2ⁿ)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
}

impl Backoff {
    /// A backoff that starts at `base` and never waits longer than `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        todo!()
    }

    /// The delay before retry number `attempt` (counting from 0), without jitter:
    /// `min(cap, base × 2^attempt)`, exactly.
    ///
    /// Never overflows or panics, for any `attempt` up to `u32::MAX`: a delay too large to
    /// represent is larger than the cap, so the answer is the cap.
    pub fn exponential(&self, attempt: u32) -> Duration {
        todo!()
    }

    /// The delay before retry number `attempt` with full jitter: `random × exponential(attempt)`,
    /// rounded down to the nanosecond, so anywhere in `[0, exponential(attempt)]`.
    ///
    /// `random` is a uniform sample from `[0, 1)`, supplied by the caller.
    pub fn full_jitter(&self, attempt: u32, random: f64) -> Duration {
        todo!()
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
        todo!()
    }

    /// The next delay: `min(cap, base + random × (3 × previous − base))`, where the product is
    /// rounded down to the nanosecond. It becomes the new previous delay.
    ///
    /// `random` is a uniform sample from `[0, 1)`, supplied by the caller.
    pub fn next_delay(&mut self, random: f64) -> Duration {
        todo!()
    }
}
