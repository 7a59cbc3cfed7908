//! Starting one judge: its handshake in, its messages out, and a watchdog over it.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use protocol::{CHANNEL_FD, HANDSHAKE_FD, Handshake, Message, SUBJECT_FD};

use super::binary::Binary;
use super::strays;

/// What came back from one judge.
pub struct JudgeRun {
    pub messages: Vec<Message>,
    /// None when the watchdog killed it.
    pub status: Option<ExitStatus>,
    /// What the judge itself printed (its own panics; never the learner's output).
    pub stderr: String,
}

/// Keep this much of what a judge prints.
const STDERR_LIMIT: usize = 16 * 1024;

/// Runs `judge` with `handshake`, calling `heard` on each message. The watchdog kills it when
/// `patience` passes without an outcome (a judge enforces each check's limit itself; this is
/// for a judge that hangs in the checks' own code).
pub fn run(
    judge: &Binary,
    subject: Option<&Binary>,
    handshake: &Handshake,
    patience: Duration,
    mut heard: impl FnMut(&Message),
) -> std::io::Result<JudgeRun> {
    let (handshake_read, handshake_write) = pipe()?;
    let (channel_read, channel_write) = pipe()?;
    let mut fds = vec![
        (handshake_read.as_raw_fd(), HANDSHAKE_FD),
        (channel_write.as_raw_fd(), CHANNEL_FD),
    ];
    if let Some(subject) = subject {
        fds.push((subject.fd(), SUBJECT_FD));
    }
    let mut command = Command::new(judge.exec_path());
    command
        .env_clear()
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: between fork and exec, only descriptor moves on descriptors the parent holds open.
    unsafe {
        command.pre_exec(move || protocol::place_descriptors(&fds));
    }
    write_handshake(handshake_write, handshake)?;
    let mut child = strays::spawn(&mut command)?;
    drop(handshake_read);
    drop(channel_write);

    let mut stderr = child.stderr.take().expect("piped");
    let stderr = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        let start = text.len().saturating_sub(STDERR_LIMIT);
        String::from_utf8_lossy(&text[start..]).into_owned()
    });
    let (lines, incoming) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(std::fs::File::from(channel_read))
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                return;
            }
        }
    });

    let mut messages = Vec::new();
    let mut deadline = Instant::now() + patience;
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match incoming.recv_timeout(left) {
            Ok(line) => {
                // A judge is trusted, but a line it did not mean (a crash mid-write) is skipped.
                if let Some(message) = Message::parse(&line) {
                    if matches!(message, Message::Outcome { .. }) {
                        deadline = Instant::now() + patience;
                    }
                    heard(&message);
                    messages.push(message);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
        }
    }
    // Whatever happened, nothing it started may outlive it.
    // SAFETY: signalling the process group we created.
    unsafe {
        libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
    }
    if timed_out {
        let _ = child.kill();
    }
    let status = child.wait()?;
    strays::finished(child.id());
    Ok(JudgeRun {
        messages,
        status: (!timed_out).then_some(status),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Writes the handshake into the pipe before the judge starts: the read end is still ours, so
/// the write cannot meet a closed pipe (and raise SIGPIPE, which ends the grader: see `main`).
fn write_handshake(write: OwnedFd, handshake: &Handshake) -> std::io::Result<()> {
    /// What a pipe holds unread on every platform the grader runs on.
    const PIPE_CAPACITY: usize = 16 * 1024;
    let text = serde_json::to_string(handshake).expect("a handshake always serialises");
    if text.len() > PIPE_CAPACITY {
        return Err(std::io::Error::other(format!(
            "the handshake is {} bytes, more than a pipe holds",
            text.len()
        )));
    }
    std::fs::File::from(write).write_all(text.as_bytes())
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe fills `fds` on success.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors we own; close-on-exec so only the dup2'd copies are inherited.
    unsafe {
        libc::fcntl(fds[0], libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(fds[1], libc::F_SETFD, libc::FD_CLOEXEC);
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

/// Runs a playground judge on the terminal, until it ends.
pub fn play(
    judge: &Binary,
    subject: &Binary,
    containment: &protocol::Containment,
    args: &[String],
) -> std::io::Result<ExitStatus> {
    let handshake = Handshake {
        task: protocol::Task::Play,
        seed: 1,
        variant: 0,
        timeout_ms: 0,
        memory_bytes: 2 << 30,
        containment: containment.clone(),
        shrink: true,
    };
    let (handshake_read, handshake_write) = pipe()?;
    let fds = vec![
        (handshake_read.as_raw_fd(), HANDSHAKE_FD),
        (subject.fd(), SUBJECT_FD),
    ];
    let mut command = Command::new(judge.exec_path());
    command.env_clear().args(args);
    // SAFETY: between fork and exec, only descriptor moves on descriptors the parent holds open.
    unsafe {
        command.pre_exec(move || protocol::place_descriptors(&fds));
    }
    write_handshake(handshake_write, &handshake)?;
    let mut child = strays::spawn(&mut command)?;
    drop(handshake_read);
    let status = child.wait()?;
    strays::finished(child.id());
    Ok(status)
}
