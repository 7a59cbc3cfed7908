//! Token bucket: a rate limiter that allows bursts up to a fixed budget.
//!
//! The reference solution keeps the bucket's level in nano-tokens (billionths of a token), so
//! refilling for any whole number of nanoseconds adds a whole number of nano-tokens: no
//! fraction is ever rounded away, however often the bucket is asked.

use std::time::Duration;

/// Nano-tokens in one token. A rate of `r` tokens per second is exactly `r` nano-tokens per
/// nanosecond, which is what makes the arithmetic exact.
const NANOS_PER_TOKEN: u128 = 1_000_000_000;

/// A bucket of up to `capacity` tokens that refills at `refill_per_second` tokens per second.
///
/// Time is passed in by the caller as a [`Duration`] since some fixed start, so the bucket never
/// reads a clock. Times passed in must never go backwards.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// The most the bucket holds, in nano-tokens.
    max_level: u128,
    /// Tokens added per second, which is also nano-tokens added per nanosecond.
    refill_per_second: u128,
    /// What the bucket holds now, in nano-tokens. Never more than `max_level`.
    level: u128,
    /// When `level` was last brought up to date.
    last_refill: Duration,
}

impl TokenBucket {
    /// A full bucket holding `capacity` tokens, refilling `refill_per_second` tokens per second.
    /// Its clock starts at `Duration::ZERO`.
    pub fn new(capacity: u64, refill_per_second: u64) -> Self {
        let max_level = u128::from(capacity) * NANOS_PER_TOKEN;
        Self {
            max_level,
            refill_per_second: u128::from(refill_per_second),
            level: max_level,
            last_refill: Duration::ZERO,
        }
    }

    /// Takes `tokens` tokens at time `now` if the bucket holds that many, and says whether it
    /// did. Takes all of them or none: a request that fails leaves the bucket as it was.
    pub fn try_acquire(&mut self, now: Duration, tokens: u64) -> bool {
        self.refill(now);
        let cost = u128::from(tokens) * NANOS_PER_TOKEN;
        if self.level >= cost {
            self.level -= cost;
            true
        } else {
            false
        }
    }

    /// How many whole tokens the bucket holds at time `now`.
    pub fn available(&mut self, now: Duration) -> u64 {
        self.refill(now);
        // level <= capacity * NANOS_PER_TOKEN, so the quotient fits in a u64.
        (self.level / NANOS_PER_TOKEN) as u64
    }

    /// Adds what flowed in since the last refill, up to the capacity.
    fn refill(&mut self, now: Duration) {
        // Time never goes backwards; if it seems to, treat it as no time passing.
        let elapsed = now.saturating_sub(self.last_refill).as_nanos();
        self.last_refill = self.last_refill.max(now);
        // Saturating: after a very long idle the product may not fit, but the cap below makes
        // any value past `max_level` the same.
        let added = elapsed.saturating_mul(self.refill_per_second);
        self.level = self.level.saturating_add(added).min(self.max_level);
    }
}
