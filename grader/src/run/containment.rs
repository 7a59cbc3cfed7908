//! How tightly this machine lets the grader hold a subject.
//!
//! As root, a subject runs under a user id of its own, in its own process, network, IPC and
//! mount namespaces, with a /proc that shows only its own processes and the workbook covered by
//! an empty directory. As anyone else it runs as the same user, in a process group of its own;
//! the judge and the grader are still out of its reach (a process boundary, and neither can be
//! read or traced by it), but files the user can write are not.

use std::path::Path;

use protocol::Containment;

/// Where the users and groups subjects run as begin when the grader is root: a range no
/// account or container mapping uses (each judge takes this plus its process id).
const FIRST_SUBJECT_UID: u32 = 2_000_000_000;

pub fn for_this_machine(workbook: &Path) -> Containment {
    if !is_root() {
        return Containment::default();
    }
    Containment {
        first_uid: Some(FIRST_SUBJECT_UID),
        namespaces: cfg!(target_os = "linux"),
        hide: vec![workbook.display().to_string()],
    }
}

/// What the containment holds, in a line for the job log.
pub fn describe(containment: &Containment) -> String {
    let mut held = vec!["a process of its own, killed with everything it started"];
    if containment.first_uid.is_some() {
        held.push("another user id");
    }
    if containment.namespaces {
        held.push("no network, no view of other processes or of the workbook");
    }
    held.join("; ")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
