//! A sliding-window rate limiter: at most `limit` requests in any window-long stretch of time.
//!
//! The reference solution: the sliding log. Every allowed request leaves its timestamp in a
//! queue, oldest at the front; a timestamp leaves the queue once it is a whole window old.

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
        Self {
            limit,
            window,
            // No room reserved up front: `limit` may be far more than memory holds.
            log: VecDeque::new(),
        }
    }

    /// A request arrives at `now`: allows it (and records it) if fewer than `limit` requests were
    /// allowed in `(now - window, now]`, rejects it otherwise.
    ///
    /// `now` never goes backwards from one call to the next.
    pub fn try_acquire(&mut self, now: Duration) -> bool {
        self.forget_expired(now);
        if self.log.len() < self.limit {
            self.log.push_back(now);
            true
        } else {
            false
        }
    }

    /// How many allowed requests fall in `(now - window, now]`.
    ///
    /// Takes `&mut self` because it may forget requests that have left the window.
    pub fn in_window(&mut self, now: Duration) -> usize {
        self.forget_expired(now);
        self.log.len()
    }

    /// How many timestamps the limiter holds in memory right now.
    ///
    /// A request that has left the window is useless: once `try_acquire` returns, this is at most
    /// `limit`.
    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    /// Drops every timestamp that is a whole window old or older.
    fn forget_expired(&mut self, now: Duration) {
        // A request at `t` counts while `t > now - window`, that is while `now - t < window`.
        // Written as a difference of two times (`t <= now`, as times never go backwards), so
        // neither an early `now` (smaller than the window) nor a huge window (Duration::MAX)
        // can overflow. The log is sorted, so expired entries are all at the front.
        while let Some(&oldest) = self.log.front() {
            if now.saturating_sub(oldest) < self.window {
                break;
            }
            self.log.pop_front();
        }
    }
}
