//! A sliding-window rate limiter: at most `limit` requests in any window-long stretch of time.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::collections::VecDeque;
use std::time::Duration;

/// Allows at most `limit` requests in any window-long interval of time.
///
/// A request at `now` is allowed when fewer than `limit` requests were allowed in the half-open
/// interval `(now - window, now]`. Rejected requests are not recorded and do not count.
#[derive(Debug, Clone)]
pub struct SlidingWindow {
    limit: usize,
    window: Duration,
    /// Timestamps of the allowed requests still inside the window, oldest first.
    log: VecDeque<Duration>,
}

impl SlidingWindow {
    /// A limiter that allows `limit` requests per `window`. Nothing has been allowed yet.
    pub fn new(limit: usize, window: Duration) -> Self {
        todo!()
    }

    /// A request arrives at `now`: allows it (and records it) if fewer than `limit` requests were
    /// allowed in `(now - window, now]`, rejects it otherwise.
    ///
    /// `now` never goes backwards from one call to the next.
    pub fn try_acquire(&mut self, now: Duration) -> bool {
        todo!()
    }

    /// How many allowed requests fall in `(now - window, now]`.
    ///
    /// Takes `&mut self` because it may forget requests that have left the window.
    pub fn in_window(&mut self, now: Duration) -> usize {
        todo!()
    }

    /// How many timestamps the limiter holds in memory right now.
    ///
    /// A request that has left the window is useless: once `try_acquire` returns, this is at most
    /// `limit`.
    pub fn log_len(&self) -> usize {
        todo!()
    }
}
