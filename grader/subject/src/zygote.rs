//! The fork server. The judge starts the subject binary once per check; this process then forks
//! an instance whenever the judge asks, which costs far less than starting a program, and
//! reaps the instances, writing how each one died into its region where the judge looks.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use wire::control::{self, FromZygote, HandedOver, ToZygote};
use wire::frame::PROTOCOL_VERSION;
use wire::region::{Death, Region};

use crate::dispatch::Unit;
use crate::{instance, panics};

/// The control socket's descriptor, as the judge arranges it.
const CONTROL_FD: i32 = 3;

/// How often the zygote looks for instances that died, when nothing else wakes it.
const REAP_EVERY: Duration = Duration::from_millis(2);

struct Child {
    pid: libc::pid_t,
    region: Region,
    /// Where descriptors the judge hands over to this instance go.
    hands: OwnedFd,
}

pub fn run(variants: &'static [&'static [&'static Unit]]) -> ! {
    let control = match take_control_socket() {
        Some(control) => control,
        None => {
            eprintln!("this program runs a learner's code for `cargo grade`; run that instead");
            std::process::exit(2);
        }
    };
    panics::install_hook();
    let hello = FromZygote::Hello {
        version: PROTOCOL_VERSION,
        fingerprints: variants
            .iter()
            .map(|units| units.iter().map(|u| u.fingerprint).collect())
            .collect(),
    };
    if control::send(&control, &hello, None).is_err() {
        std::process::exit(0);
    }
    let me = std::process::id() as libc::pid_t;
    let mut children: HashMap<u64, Child> = HashMap::new();
    let mut next_instance = 0u64;
    loop {
        reap(&mut children);
        if !readable(&control, REAP_EVERY) {
            continue;
        }
        let (message, fd) = match control::receive::<ToZygote>(&control) {
            Ok(Some(received)) => received,
            // The judge is gone: so is everything it asked for.
            _ => {
                for child in children.values() {
                    // SAFETY: signalling a child of ours.
                    unsafe { libc::kill(child.pid, libc::SIGKILL) };
                }
                std::process::exit(0);
            }
        };
        let reply = match message {
            ToZygote::Spawn {
                variant,
                call_lanes,
                background,
            } => {
                let units = variants.get(variant as usize).copied();
                match (units, fd.map(Region::open)) {
                    (Some(units), Some(Ok(region))) => {
                        next_instance += 1;
                        match fork_instance(region, units, call_lanes, background, &control, me) {
                            Ok(child) => {
                                children.insert(next_instance, child);
                                FromZygote::Spawned {
                                    instance: next_instance,
                                }
                            }
                            Err(error) => FromZygote::Refused(format!("cannot fork: {error}")),
                        }
                    }
                    (None, _) => FromZygote::Refused(format!("no variant {variant}")),
                    (_, None) => FromZygote::Refused("no region came with the request".into()),
                    (_, Some(Err(error))) => FromZygote::Refused(format!("bad region: {error}")),
                }
            }
            ToZygote::Kill { instance } => {
                if let Some(child) = children.get(&instance) {
                    // SAFETY: signalling a child of ours; it is reaped below.
                    unsafe { libc::kill(child.pid, libc::SIGKILL) };
                }
                continue;
            }
            ToZygote::HandOver { instance, id } => {
                // An instance that has died takes nothing: the call that wanted it fails as
                // the instance's death says.
                if let (Some(child), Some(fd)) = (children.get(&instance), fd) {
                    let _ = control::send(&child.hands, &HandedOver { id }, Some(fd.as_raw_fd()));
                }
                continue;
            }
        };
        if control::send(&control, &reply, None).is_err() {
            std::process::exit(0);
        }
    }
}

fn take_control_socket() -> Option<OwnedFd> {
    // SAFETY: fstat on a descriptor number; we only take it over if it is a socket.
    let is_socket = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        libc::fstat(CONTROL_FD, &mut stat) == 0 && (stat.st_mode & libc::S_IFMT) == libc::S_IFSOCK
    };
    // SAFETY: the judge passes the control socket as this descriptor, and nothing else owns it.
    is_socket.then(|| unsafe { OwnedFd::from_raw_fd(CONTROL_FD) })
}

fn readable(socket: &OwnedFd, timeout: Duration) -> bool {
    let mut poll = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: polling one descriptor we own.
    let ready = unsafe { libc::poll(&mut poll, 1, timeout.as_millis() as libc::c_int) };
    ready > 0
}

fn fork_instance(
    region: Region,
    units: &'static [&'static Unit],
    call_lanes: u16,
    background: bool,
    control: &OwnedFd,
    zygote: libc::pid_t,
) -> std::io::Result<Child> {
    let (hands, instance_hands) = control::pair()?;
    // SAFETY: the zygote is single-threaded, so the child may run Rust code after fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: in the child: die with the zygote, and let go of its control socket.
        unsafe {
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            libc::close(control.as_raw_fd());
        }
        if unsafe { libc::getppid() } != zygote {
            std::process::exit(0);
        }
        drop(hands);
        instance::serve(
            region,
            units,
            call_lanes as usize,
            background,
            instance_hands,
            zygote,
        );
    }
    Ok(Child { pid, region, hands })
}

/// Waits for every instance that has died, and says so in its region.
fn reap(children: &mut HashMap<u64, Child>) {
    loop {
        let mut status = 0;
        // SAFETY: reaping our own children without blocking.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
        let found = children
            .iter()
            .find(|(_, child)| child.pid == pid)
            .map(|(id, _)| *id);
        if let Some(child) = found.and_then(|id| children.remove(&id)) {
            child.region.mark_dead(Death::from_status(status));
        }
    }
}
