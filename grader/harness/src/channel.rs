//! The private channel to the grader, and the capture of what the learner's code prints.
//!
//! The grader reads verdicts from what starts out as this process's stdout, and the learner's
//! output from its stderr. Before any check runs, the harness moves both pipes to new
//! close-on-exec descriptors and points stdout and stderr at /dev/null. While a check runs they
//! point at the capture pipe, so the learner's prints are kept and libtest's chatter is not, and
//! nothing the learner's code prints can reach the channel.

use std::fs::File;
use std::io::{BufRead, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use protocol::{Envelope, Handshake, Message};

pub struct Channel {
    token: String,
    pipe: Mutex<File>,
    capture: OwnedFd,
    silence: File,
}

impl Channel {
    /// Reads the handshake from stdin and takes stdout and stderr over.
    pub fn open() -> (Channel, Handshake) {
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line);
        let handshake: Handshake = match read.ok().and_then(|_| serde_json::from_str(&line).ok()) {
            Some(handshake) => handshake,
            None => {
                eprintln!("this binary runs hidden checks for `cargo grade`; run that instead");
                std::process::exit(2);
            }
        };
        let silence = File::options()
            .write(true)
            .open("/dev/null")
            .expect("/dev/null opens");
        let channel = Channel {
            token: handshake.token.clone(),
            pipe: Mutex::new(File::from(duplicate(libc::STDOUT_FILENO))),
            capture: duplicate(libc::STDERR_FILENO),
            silence,
        };
        channel.point_stdio_at(channel.silence.as_raw_fd());
        (channel, handshake)
    }

    pub fn send(&self, message: Message) {
        let line = Envelope {
            token: self.token.clone(),
            message,
        }
        .to_line();
        let mut pipe = self
            .pipe
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // One write per line, so lines never interleave. If the grader has gone, there is
        // nobody left to tell.
        let _ = pipe.write_all(line.as_bytes());
    }

    /// Runs `body` with stdout and stderr going to the grader's capture.
    pub fn capturing<T>(&self, body: impl FnOnce() -> T) -> T {
        self.point_stdio_at(self.capture.as_raw_fd());
        let result = body();
        let _ = std::io::stdout().flush();
        self.point_stdio_at(self.silence.as_raw_fd());
        result
    }

    fn point_stdio_at(&self, fd: RawFd) {
        // SAFETY: dup2 onto the standard descriptors; both stay valid for the process's life.
        unsafe {
            libc::dup2(fd, libc::STDOUT_FILENO);
            libc::dup2(fd, libc::STDERR_FILENO);
        }
    }
}

/// A close-on-exec copy of `fd`, so children the learner's code spawns do not inherit it.
fn duplicate(fd: RawFd) -> OwnedFd {
    // SAFETY: F_DUPFD_CLOEXEC returns a fresh descriptor we alone own, or -1.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    assert!(copy >= 0, "cannot set up the grader's channel");
    // SAFETY: `copy` is a valid descriptor nobody else owns.
    unsafe { OwnedFd::from_raw_fd(copy) }
}
