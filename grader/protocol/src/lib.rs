//! What the grader and a judge say to each other.
//!
//! A judge is the trusted half of a check run: a binary built from a scene's checks, the kit and
//! the scene's API declaration, which never loads the learner's code. It runs that code in a
//! subject process of its own and decides every verdict. The grader hands it a [`Handshake`] on
//! one descriptor and reads [`Message`]s, one JSON line each, on another. Neither descriptor is
//! ever visible to the subject, so nothing here needs to be guarded against it.

use serde::{Deserialize, Serialize};

/// The descriptor a judge reads its handshake from (then closes).
pub const HANDSHAKE_FD: i32 = 3;

/// A whole check may take this many times the limit of one call. A check of many quick calls
/// is then not failed because the machine is busy (each call crosses two processes, and a
/// loaded scheduler makes every crossing slow), while a call that never returns is still
/// failed at the limit itself.
pub const CHECK_TIMEOUTS: u32 = 3;
/// The descriptor a judge writes its messages to.
pub const CHANNEL_FD: i32 = 4;
/// The descriptor of the subject binary a judge is handed (run from it, never from a path).
pub const SUBJECT_FD: i32 = 5;

/// Everything a judge is told.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Handshake {
    pub task: Task,
    pub seed: u64,
    /// Which implementation in the subject binary to use (only `verify` builds several).
    pub variant: u16,
    /// Wall-clock limit for one call into the learner's code, in milliseconds; a whole check
    /// gets [`CHECK_TIMEOUTS`] times as long.
    pub timeout_ms: u64,
    /// Address-space limit of the subject, in bytes.
    pub memory_bytes: u64,
    pub containment: Containment,
    /// Shrink a failing property's input to the smallest that still fails. Off only where the
    /// verdict is all that counts (proving that a mutant fails): a verdict never depends on it.
    pub shrink: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    /// Say the names of the suite's checks.
    List,
    /// Run these checks, one after another, and report each; with `until_failure`, stop after
    /// the first that does not pass.
    Run {
        checks: Vec<String>,
        until_failure: bool,
    },
    /// Run the playground on the terminal (no checks, no messages).
    Play,
}

/// How tightly the subject is held, as the grader found the machine allows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Containment {
    /// Run the subject under a user and group id of its own (the grader runs as root): this
    /// one plus the judge's process id, so that no two live judges share one.
    pub first_uid: Option<u32>,
    /// Give the subject its own process, network, IPC and mount namespaces, with a /proc of
    /// its own and `hide` covered by empty directories.
    pub namespaces: bool,
    /// Directories the subject must not see (the references, the checks, the repository).
    pub hide: Vec<String>,
}

impl Containment {
    /// The user the subjects of the calling judge run as. One user per judge: the bound on a
    /// user's processes then bounds this judge's subjects alone, and a fork bomb in another
    /// grading on the machine cannot starve them.
    pub fn subject_uid(&self) -> Option<u32> {
        self.first_uid
            .map(|first| first.saturating_add(std::process::id()))
    }
}

/// One line on the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// The names of the suite's checks, in order (the answer to [`Task::List`]).
    Checks { names: Vec<String> },
    /// A check is about to do something; if the run then dies, this says what it was doing.
    Doing { check: String, what: String },
    /// A check's result.
    Outcome {
        check: String,
        verdict: Verdict,
        /// What the learner's code printed during the check (the tail, if it printed a lot).
        output: String,
        /// The last thing the check said it was doing, when the learner's process died.
        doing: Option<String>,
        /// How long the check took, in microseconds (0 for a check that never ran).
        micros: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "is", content = "why", rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    /// The check ran and said why it failed.
    Failed(String),
    /// The learner's process died, hung or broke the protocol before the check could finish.
    Died(String),
}

impl Message {
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("protocol messages always serialise");
        line.push('\n');
        line
    }

    pub fn parse(line: &str) -> Option<Message> {
        serde_json::from_str(line).ok()
    }
}

/// Puts descriptors where a child expects them, between fork and exec: each `(from, to)` pair
/// makes `to` a copy of `from`, open across exec. Safe when the numbers overlap (a `from` that
/// is another pair's `to`), and uses only async-signal-safe calls.
///
/// # Safety
/// Call only in a forked child before exec; every `from` must be open.
pub unsafe fn place_descriptors(pairs: &[(i32, i32)]) -> std::io::Result<()> {
    const PARKING: i32 = 100;
    let mut parked = [0i32; 8];
    assert!(pairs.len() <= parked.len(), "a few descriptors at most");
    for (i, (from, _)) in pairs.iter().enumerate() {
        // SAFETY: duplicating an open descriptor above every target number.
        let copy = unsafe { libc::fcntl(*from, libc::F_DUPFD_CLOEXEC, PARKING) };
        if copy < 0 {
            return Err(std::io::Error::last_os_error());
        }
        parked[i] = copy;
    }
    for (i, (_, to)) in pairs.iter().enumerate() {
        // SAFETY: dup2 onto a number of our choosing; the copy it makes is not close-on-exec.
        if unsafe { libc::dup2(parked[i], *to) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips_and_anything_else_is_ignored() {
        let message = Message::Outcome {
            check: "round trip".into(),
            verdict: Verdict::Failed("no".into()),
            output: "printed".into(),
            doing: None,
            micros: 1,
        };
        assert_eq!(Message::parse(&message.to_line()), Some(message));
        assert_eq!(Message::parse("test crc ... ok"), None);
    }
}
