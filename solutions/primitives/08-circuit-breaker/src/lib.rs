//! A circuit breaker: stop calling a backend that keeps failing, and probe it now and then.
//!
//! The reference solution: the state enum plus two numbers, the failure streak and the time the
//! breaker last opened.
//!
//! Time is an argument: every method that needs the clock takes `now`, the time since some fixed
//! start. Times passed to one breaker never go backwards.

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
    failure_threshold: u32,
    cooldown: Duration,
    state: State,
    /// Failures in a row while closed. Only meaningful in `Closed`.
    consecutive_failures: u32,
    /// When the breaker last opened. Only meaningful in `Open`.
    opened_at: Duration,
}

impl CircuitBreaker {
    /// A closed breaker that opens after `failure_threshold` consecutive failures and stays open
    /// for `cooldown` before letting a trial request through.
    ///
    /// Panics if `failure_threshold` is 0.
    pub fn new(failure_threshold: u32, cooldown: Duration) -> Self {
        assert!(
            failure_threshold > 0,
            "failure_threshold must be at least 1"
        );
        Self {
            failure_threshold,
            cooldown,
            state: State::Closed,
            consecutive_failures: 0,
            opened_at: Duration::ZERO,
        }
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
        match self.state {
            State::Closed => true,
            // `saturating_sub` rather than `opened_at + cooldown`: no overflow for a huge cooldown.
            State::Open if now.saturating_sub(self.opened_at) >= self.cooldown => {
                // This request is the trial. Everyone after it waits for its result.
                self.state = State::HalfOpen;
                true
            }
            State::Open => false,
            State::HalfOpen => false,
        }
    }

    /// Reports that a request which was allowed succeeded at `now`.
    ///
    /// - Closed: the run of consecutive failures is over; the count starts again from zero.
    /// - HalfOpen: the trial worked, so the breaker closes (with a failure count of zero).
    /// - Open: a late result of a request sent before the breaker opened; it changes nothing.
    pub fn record_success(&mut self, _now: Duration) {
        match self.state {
            State::Closed => self.consecutive_failures = 0,
            State::HalfOpen => {
                self.state = State::Closed;
                self.consecutive_failures = 0;
            }
            State::Open => {}
        }
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
        match self.state {
            State::Closed => {
                self.consecutive_failures += 1;
                if self.consecutive_failures >= self.failure_threshold {
                    self.open(now);
                }
            }
            State::HalfOpen => self.open(now),
            // Requests sent before the breaker tripped may still be failing; the backend is
            // already known to be down, so they tell us nothing new.
            State::Open => {}
        }
    }

    /// The current state.
    ///
    /// An open breaker reports `Open` until a call to [`allow`](Self::allow) after the cooldown
    /// turns it half-open: the state changes only when a method is called with a time.
    pub fn state(&self) -> State {
        self.state
    }

    /// Trips the breaker: the cooldown runs from `now`.
    fn open(&mut self, now: Duration) {
        self.state = State::Open;
        self.opened_at = now;
    }
}
