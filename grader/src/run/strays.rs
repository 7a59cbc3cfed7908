//! Processes the learner's code leaves behind.
//!
//! Every judge runs in a process group of its own, killed whole when it ends, and kills its
//! subject's when a check ends. Code that escapes its group (`setsid`, a double fork) would
//! outlive both, and could write into the grader's results later. So the grader makes itself
//! the subreaper of its descendants: orphans are handed to it instead of to init, and after
//! every judge it kills any child of its own that is not a judge it is still waiting for.

use std::collections::BTreeSet;
use std::process::{Child, Command};
use std::sync::Mutex;

/// The checks running now, by process id.
static RUNNING: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Asks the kernel to hand this process every orphaned descendant, and to let no process read
/// its memory, descriptors or environment through /proc. Call once, at start.
pub fn adopt_orphans() {
    #[cfg(target_os = "linux")]
    // SAFETY: process-wide flags with no pointers involved.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Kills every descendant that is left, until none is: the last thing before results are
/// written, so that nothing can change them afterwards.
pub fn sweep() {
    for _ in 0..100 {
        let strays = own_children();
        if strays.is_empty() {
            return;
        }
        for stray in strays {
            // SAFETY: signalling and reaping a child of ours.
            unsafe {
                libc::kill(-(stray as libc::pid_t), libc::SIGKILL);
                libc::kill(stray as libc::pid_t, libc::SIGKILL);
                libc::waitpid(stray as libc::pid_t, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// Spawns a check process and remembers it.
pub fn spawn(command: &mut Command) -> std::io::Result<Child> {
    let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    let child = command.spawn()?;
    running.insert(child.id());
    Ok(child)
}

/// A check process has been waited for: forget it, and kill whatever was left behind.
pub fn finished(pid: u32) {
    let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    running.remove(&pid);
    for stray in own_children().into_iter().filter(|p| !running.contains(p)) {
        // SAFETY: signalling and reaping a child of ours.
        unsafe {
            libc::kill(-(stray as libc::pid_t), libc::SIGKILL);
            libc::kill(stray as libc::pid_t, libc::SIGKILL);
            libc::waitpid(stray as libc::pid_t, std::ptr::null_mut(), 0);
        }
    }
}

/// The ids of this process's children, from /proc (empty where there is no /proc).
fn own_children() -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_of(*pid) == Some(me))
        .collect()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces; the fields after it are plain.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}
