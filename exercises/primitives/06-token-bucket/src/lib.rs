//! Token bucket: a rate limiter that allows bursts up to a fixed budget.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::time::Duration;

/// A bucket of up to `capacity` tokens that refills at `refill_per_second` tokens per second.
///
/// Time is passed in by the caller as a [`Duration`] since some fixed start, so the bucket never
/// reads a clock. Times passed in must never go backwards.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: u64,
    refill_per_second: u64,
    // Add what you need: how much the bucket holds (fractions included), and when that was
    // last brought up to date.
}

impl TokenBucket {
    /// A full bucket holding `capacity` tokens, refilling `refill_per_second` tokens per second.
    /// Its clock starts at `Duration::ZERO`.
    pub fn new(capacity: u64, refill_per_second: u64) -> Self {
        todo!()
    }

    /// Takes `tokens` tokens at time `now` if the bucket holds that many, and says whether it
    /// did. Takes all of them or none: a request that fails leaves the bucket as it was.
    pub fn try_acquire(&mut self, now: Duration, tokens: u64) -> bool {
        todo!()
    }

    /// How many whole tokens the bucket holds at time `now`.
    pub fn available(&mut self, now: Duration) -> u64 {
        todo!()
    }
}
