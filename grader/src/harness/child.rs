//! One run of a harness binary in a child process, under limits, heard only on its channel.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use protocol::{Envelope, Handshake, Message};

use super::strays;
use wait_timeout::ChildExt;

/// What one run of learner code may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub memory_bytes: u64,
}

impl Limits {
    pub fn with_timeout(timeout: Duration) -> Limits {
        Limits {
            timeout,
            memory_bytes: 2 << 30,
        }
    }
}

/// What came back from one child.
pub struct ChildRun {
    /// The trusted messages, in order.
    pub messages: Vec<Message>,
    /// None when the child was killed for running out of time.
    pub status: Option<ExitStatus>,
    /// Everything the child printed, stdout and stderr together (the tail, if it printed a lot).
    pub output: String,
    pub elapsed: Duration,
}

/// Keep this much of what a child prints: enough to debug with, not enough to flood memory.
const OUTPUT_LIMIT: usize = 64 * 1024;

pub fn run(binary: &Path, args: &[&str], seed: u64, limits: Limits) -> std::io::Result<ChildRun> {
    let token = fresh_token();
    let workdir = tempfile::tempdir()?;
    let mut command = Command::new(binary);
    command
        .args(args)
        .current_dir(workdir.path())
        // Nothing from the environment reaches the checks: no PROPTEST_CASES, no RUST_* knobs.
        .env_clear()
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own, so everything the learner's code spawns can be killed with it.
        .process_group(0);
    let memory = limits.memory_bytes as libc::rlim_t;
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: memory,
                rlim_max: memory,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = strays::spawn(&mut command)?;
    let handshake = serde_json::to_string(&Handshake {
        token: token.clone(),
        seed,
    })
    .expect("a handshake always serialises");
    if let Some(mut stdin) = child.stdin.take() {
        // A child that exits at once closes the pipe; that is its verdict to give, not an error.
        let _ = writeln!(stdin, "{handshake}");
    }

    let channel = BufReader::new(child.stdout.take().expect("piped"));
    let channel = std::thread::spawn(move || {
        channel
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| Envelope::parse_trusted(&line, &token))
            .collect::<Vec<_>>()
    });
    let mut stderr = child.stderr.take().expect("piped");
    let output = std::thread::spawn(move || read_tail(&mut stderr));

    let status = child.wait_timeout(limits.timeout)?;
    // Whether it finished or not, nothing it started may outlive it (or hold the pipes open).
    // SAFETY: signalling our own child's process group.
    unsafe {
        libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
    }
    let status = match status {
        Some(status) => Some(status),
        None => {
            child.wait()?;
            None
        }
    };
    strays::finished(child.id());
    let elapsed = started.elapsed();
    Ok(ChildRun {
        messages: channel.join().unwrap_or_default(),
        status,
        output: output.join().unwrap_or_default(),
        elapsed,
    })
}

impl ChildRun {
    /// Why the child stopped without giving a verdict, in one line.
    pub fn death(&self, limits: Limits) -> String {
        let Some(status) = self.status else {
            return format!(
                "did not finish within {} s: an infinite loop, a deadlock, or very slow code",
                limits.timeout.as_secs()
            );
        };
        if self.output.contains("has overflowed its stack") {
            return "overflowed its stack: unbounded recursion?".into();
        }
        if self.output.contains("memory allocation of") {
            return format!(
                "ran out of memory (the limit is {} MiB)",
                limits.memory_bytes >> 20
            );
        }
        match (status.code(), status.signal()) {
            (Some(0), _) => "the process exited before the check finished: \
                             does the code call std::process::exit?"
                .into(),
            (Some(code), _) => format!("the process exited with status {code} mid-check"),
            (_, Some(libc::SIGABRT)) => "the process aborted (std::process::abort?)".into(),
            (_, Some(libc::SIGSEGV)) => "the process crashed with a segmentation fault".into(),
            (_, Some(signal)) => format!("the process was killed by signal {signal}"),
            (None, None) => "the process ended without a verdict".into(),
        }
    }
}

fn read_tail(reader: &mut impl Read) -> String {
    let mut kept = Vec::new();
    let mut buffer = [0u8; 8192];
    let mut dropped = false;
    while let Ok(n) = reader.read(&mut buffer) {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buffer[..n]);
        if kept.len() > 2 * OUTPUT_LIMIT {
            kept.drain(..kept.len() - OUTPUT_LIMIT);
            dropped = true;
        }
    }
    if kept.len() > OUTPUT_LIMIT {
        kept.drain(..kept.len() - OUTPUT_LIMIT);
        dropped = true;
    }
    let text = String::from_utf8_lossy(&kept).into_owned();
    if dropped {
        format!("[... earlier output dropped ...]\n{text}")
    } else {
        text
    }
}

/// 128 bits from the standard library's per-process random hash keys.
fn fresh_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let half = || {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(Instant::now().elapsed().as_nanos());
        hasher.finish()
    };
    format!("{:016x}{:016x}", half(), half())
}
