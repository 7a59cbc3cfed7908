//! Lanes: request-and-reply channels in memory shared by a judge and one subject process.
//!
//! A lane is a baton. Exactly one side holds it at a time and may write one message into the
//! lane's buffer; handing the baton over is a single counter store, so a round trip costs two
//! cache-line transfers when both sides are awake, and two futex calls when one is asleep. The
//! counter says whose turn it is and how many turns have passed, so each side knows the exact
//! value it waits for, and a value it does not expect is a broken protocol, never a guess.
//!
//! The other side is untrusted: it can write anything anywhere in the shared memory at any
//! time. A message is therefore copied out of the lane before anything looks at it, its length
//! is clamped to the buffer, and a message too large to be honest is refused.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The largest message either side accepts, in bytes (longer ones arrive in chunks).
pub const MAX_MESSAGE: usize = 64 << 20;

/// Which end of a lane this process holds. The opener writes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Opener,
    Answerer,
}

impl End {
    fn bit(self) -> u32 {
        match self {
            End::Opener => 1,
            End::Answerer => 2,
        }
    }

    fn slot(self) -> usize {
        match self {
            End::Opener => 0,
            End::Answerer => 1,
        }
    }

    fn other(self) -> End {
        match self {
            End::Opener => End::Answerer,
            End::Answerer => End::Opener,
        }
    }
}

/// The control words of one lane, at the start of its slot in the shared memory.
#[repr(C, align(64))]
pub struct LaneHeader {
    /// Turns passed: even while the opener holds the baton, odd while the answerer does.
    turn: AtomicU32,
    /// Which ends are asleep in a futex wait (bits from [`End::bit`]).
    sleepers: AtomicU32,
    /// Bytes of the current chunk.
    len: AtomicU32,
    /// Non-zero when more chunks of the same message follow.
    more: AtomicU32,
    /// The processor each end last handed the baton over on (indexed by [`End::slot`]): an end
    /// that shares its processor with the other is better off yielding at once than spinning.
    cpus: [AtomicU32; 2],
}

/// Why a wait ended without the baton.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// The deadline passed.
    TimedOut,
    /// The other side said, through `alive`, that it is gone.
    Gone(String),
    /// The other side wrote something the protocol does not allow.
    Protocol(String),
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Broken::TimedOut => f.write_str("timed out"),
            Broken::Gone(why) => f.write_str(why),
            Broken::Protocol(why) => write!(f, "broke the protocol: {why}"),
        }
    }
}

/// One end of a lane: where its header and buffer are, and the turn it waits for next.
pub struct Lane {
    header: *const LaneHeader,
    data: *mut u8,
    capacity: usize,
    end: End,
    /// The turn value that gives this end the baton next.
    next: u32,
}

// SAFETY: the pointers are into a shared mapping that outlives every Lane made from it (the
// Region owns it), and all access to the header is atomic; the buffer is only touched by the
// end holding the baton.
unsafe impl Send for Lane {}

/// How long a waiting end keeps looking before it sleeps. Looking wins when the other side
/// answers in microseconds (most calls); sleeping keeps a slow answer from burning a core.
const SPIN: Duration = Duration::from_micros(50);

/// Busy spins between two looks at the clock.
const SPIN_BEFORE_CLOCK: u32 = 64;

/// How often a sleeping end wakes to look at its deadline and at whether the other side lives.
const NAP: Duration = Duration::from_millis(5);

impl Lane {
    /// # Safety
    /// `header` must point at a `LaneHeader` followed by `capacity` bytes, in a mapping that
    /// lives as long as the lane, shared with at most one other process holding the other end.
    pub unsafe fn new(header: *const LaneHeader, capacity: usize, end: End) -> Lane {
        let data = unsafe { (header as *mut u8).add(std::mem::size_of::<LaneHeader>()) };
        Lane {
            header,
            data,
            capacity,
            end,
            next: match end {
                End::Opener => 0,
                End::Answerer => 1,
            },
        }
    }

    fn header(&self) -> &LaneHeader {
        // SAFETY: see `new`.
        unsafe { &*self.header }
    }

    /// Bytes one chunk can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Writes `message` and hands the baton over. The caller must hold the baton (it has just
    /// received, or it is the opener and has not sent yet). A long message goes in chunks, each
    /// acknowledged by the other side taking and returning the baton.
    pub fn send(
        &mut self,
        message: &[u8],
        deadline: Option<Instant>,
        alive: &dyn Fn() -> Result<(), String>,
    ) -> Result<(), Broken> {
        if message.len() > MAX_MESSAGE {
            return Err(Broken::Protocol(format!(
                "a message of {} bytes is over the limit of {MAX_MESSAGE}",
                message.len()
            )));
        }
        let mut chunks = message.chunks(self.capacity).peekable();
        let mut first = true;
        loop {
            let chunk = chunks.next().unwrap_or(&[]);
            if !first {
                self.wait(deadline, alive)?;
            }
            first = false;
            // SAFETY: this end holds the baton, so the other side does not touch the buffer
            // (and if it does anyway, it only corrupts what it will be told).
            unsafe { std::ptr::copy_nonoverlapping(chunk.as_ptr(), self.data, chunk.len()) };
            let more = chunks.peek().is_some();
            self.header()
                .len
                .store(chunk.len() as u32, Ordering::Relaxed);
            self.header().more.store(u32::from(more), Ordering::Relaxed);
            self.hand_over();
            if !more {
                return Ok(());
            }
        }
    }

    /// Waits for the baton and copies the message out of the lane. Afterwards this end holds
    /// the baton: it answers with [`Lane::send`].
    pub fn receive(
        &mut self,
        into: &mut Vec<u8>,
        deadline: Option<Instant>,
        alive: &dyn Fn() -> Result<(), String>,
    ) -> Result<(), Broken> {
        into.clear();
        loop {
            self.wait(deadline, alive)?;
            let len = (self.header().len.load(Ordering::Relaxed) as usize).min(self.capacity);
            let more = self.header().more.load(Ordering::Relaxed) != 0;
            if into.len() + len > MAX_MESSAGE {
                return Err(Broken::Protocol("a message over the size limit".into()));
            }
            // SAFETY: `len` is clamped to the buffer; the bytes may change under us if the other
            // side misbehaves, which makes them garbage, never out of bounds.
            into.extend_from_slice(unsafe { std::slice::from_raw_parts(self.data, len) });
            if !more {
                return Ok(());
            }
            // Acknowledge the chunk: the baton goes back for the next one.
            self.hand_over();
        }
    }

    /// Gives the baton to the other end, waking it if it sleeps.
    fn hand_over(&mut self) {
        let given = self.next.wrapping_add(1);
        self.next = given.wrapping_add(1);
        let header = self.header();
        header.cpus[self.end.slot()].store(current_cpu(), Ordering::Relaxed);
        header.turn.store(given, Ordering::SeqCst);
        if header.sleepers.load(Ordering::SeqCst) & self.end.other().bit() != 0 {
            futex::wake(&header.turn);
        }
    }

    /// Waits until the turn counter reaches the value that gives this end the baton.
    fn wait(
        &mut self,
        deadline: Option<Instant>,
        alive: &dyn Fn() -> Result<(), String>,
    ) -> Result<(), Broken> {
        let header = self.header();
        let mine = self.next;
        let theirs = mine.wrapping_sub(1);
        let check = |seen: u32| -> Result<bool, Broken> {
            if seen == mine {
                Ok(true)
            } else if seen == theirs {
                Ok(false)
            } else {
                Err(Broken::Protocol(format!(
                    "the turn counter jumped to {seen} (expected {theirs} or {mine})"
                )))
            }
        };
        // With the other side on another processor, spin a while: its answer is often on the
        // way, and sleeping there would cost a wake-up of an idle processor. With it on this
        // processor, or once the spin is over, sleep: the scheduler then runs the other side
        // here at once, and wakes this end as soon as the baton comes. (Yielding instead hands
        // the processor to any busy program for a whole time slice, every turn: beside one
        // build, a check of half a second took a minute.)
        let beside = header.cpus[self.end.other().slot()].load(Ordering::Relaxed);
        if beside != current_cpu() {
            let started = Instant::now();
            while started.elapsed() < SPIN {
                for _ in 0..SPIN_BEFORE_CLOCK {
                    if check(header.turn.load(Ordering::Acquire))? {
                        return Ok(());
                    }
                    std::hint::spin_loop();
                }
            }
        }
        loop {
            header.sleepers.fetch_or(self.end.bit(), Ordering::SeqCst);
            let seen = header.turn.load(Ordering::SeqCst);
            if check(seen)? {
                header.sleepers.fetch_and(!self.end.bit(), Ordering::SeqCst);
                return Ok(());
            }
            let nap = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        header.sleepers.fetch_and(!self.end.bit(), Ordering::SeqCst);
                        return Err(Broken::TimedOut);
                    }
                    left.min(NAP)
                }
                None => NAP,
            };
            futex::wait(&header.turn, seen, nap);
            header.sleepers.fetch_and(!self.end.bit(), Ordering::SeqCst);
            if check(header.turn.load(Ordering::Acquire))? {
                return Ok(());
            }
            alive().map_err(Broken::Gone)?;
        }
    }
}

/// Wakes every sleeper on a lane: the other side has gone, and they should look at why.
pub fn wake_all(header: &LaneHeader) {
    futex::wake(&header.turn);
}

/// Sleeps while `word` holds `seen`, for at most `timeout`.
pub fn wait_word(word: &AtomicU32, seen: u32, timeout: Duration) {
    futex::wait(word, seen, timeout);
}

/// Wakes everyone sleeping on `word`.
pub fn wake_word(word: &AtomicU32) {
    futex::wake(word);
}

/// The processor this thread runs on now (a hint: it may move at any time).
fn current_cpu() -> u32 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sched_getcpu has no preconditions.
        unsafe { libc::sched_getcpu() as u32 }
    }
    #[cfg(not(target_os = "linux"))]
    u32::MAX
}

/// Waiting on a word of shared memory.
mod futex {
    use super::*;

    #[cfg(target_os = "linux")]
    pub fn wait(word: &AtomicU32, seen: u32, timeout: Duration) {
        let timeout = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: a futex wait on a word we can read; the kernel compares it with `seen` and
        // sleeps only if it still holds that value. Not FUTEX_PRIVATE: the word is shared
        // between processes.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT,
                seen,
                &timeout as *const libc::timespec,
            );
        }
    }

    #[cfg(target_os = "linux")]
    pub fn wake(word: &AtomicU32) {
        // SAFETY: as above; waking waiters on a shared word.
        unsafe {
            libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
        }
    }

    /// Elsewhere there is no portable futex: nap briefly and look again.
    #[cfg(not(target_os = "linux"))]
    pub fn wait(word: &AtomicU32, seen: u32, timeout: Duration) {
        let until = Instant::now() + timeout;
        while word.load(Ordering::Acquire) == seen && Instant::now() < until {
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn wake(_: &AtomicU32) {}
}

/// The size of a lane's slot: header and buffer.
pub fn slot_size(capacity: usize) -> usize {
    std::mem::size_of::<LaneHeader>() + capacity.next_multiple_of(64)
}

/// Turns an I/O error from setting lanes up into one line.
pub fn setup_error(what: &str, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{what}: {error}"))
}
