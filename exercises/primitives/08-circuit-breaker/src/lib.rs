//! A circuit breaker: stop calling a backend that keeps failing, and probe it now and then.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.
//!
//! Time is an argument: every method that needs the clock takes `now`, the time since some fixed
//! start. Times passed to one breaker never go backwards.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::time::Duration;

/// Where the breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Healthy: every request goes through, and consecutive failures are counted.
    Closed,
    /// Tripped: every request is rejected until the cooldown has passed.
    Open,
    /// Probing: one trial request is in flight, and every other request is rejected until its
    /// result is recorded.
    HalfOpen,
}

/// A circuit breaker on a simulated clock.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    // Choose your own fields.
}

impl CircuitBreaker {
    /// A closed breaker that opens after `failure_threshold` consecutive failures and stays open
    /// for `cooldown` before letting a trial request through.
    ///
    /// Panics if `failure_threshold` is 0.
    pub fn new(failure_threshold: u32, cooldown: Duration) -> Self {
        todo!()
    }

    /// Asks whether a request may be sent at `now`.
    ///
    /// - Closed: yes.
    /// - Open: no, until `cooldown` has passed since the breaker opened (`now - opened >=
    ///   cooldown`: written this way round it cannot overflow, even for `Duration::MAX`).
    ///   The first request from then on becomes the trial: the breaker turns half-open and
    ///   answers yes.
    /// - HalfOpen: no, the trial is still in flight.
    ///
    /// A caller that gets `true` sends the request and reports its result with
    /// [`record_success`](Self::record_success) or [`record_failure`](Self::record_failure).
    pub fn allow(&mut self, now: Duration) -> bool {
        todo!()
    }

    /// Reports that a request which was allowed succeeded at `now`.
    ///
    /// - Closed: the run of consecutive failures is over; the count starts again from zero.
    /// - HalfOpen: the trial worked, so the breaker closes (with a failure count of zero).
    /// - Open: a late result of a request sent before the breaker opened; it changes nothing.
    pub fn record_success(&mut self, now: Duration) {
        todo!()
    }

    /// Reports that a request which was allowed failed at `now`.
    ///
    /// - Closed: counts one more consecutive failure; at `failure_threshold` of them the breaker
    ///   opens at `now`.
    /// - HalfOpen: the trial failed, so the breaker opens again, and the cooldown starts over
    ///   from `now`.
    /// - Open: a late result of a request sent before the breaker opened; it changes nothing (in
    ///   particular, it does not restart the cooldown).
    pub fn record_failure(&mut self, now: Duration) {
        todo!()
    }

    /// The current state.
    ///
    /// An open breaker reports `Open` until a call to [`allow`](Self::allow) after the cooldown
    /// turns it half-open: the state changes only when a method is called with a time.
    pub fn state(&self) -> State {
        todo!()
    }
}
