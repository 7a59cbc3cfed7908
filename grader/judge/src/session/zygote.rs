//! Starting the subject binary (its zygote) as contained as the machine allows, and asking it
//! for instances.
//!
//! The zygote is started with a raw `clone`, not `Command`: with a new PID namespace it must
//! be the namespace's first process (its init, so that when it dies the kernel kills every
//! other process in it), and the judge must not enter the namespace itself, or it could no
//! longer start threads.

use std::ffi::CString;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use protocol::Containment;
use wire::control::{self, FromZygote, ToZygote};
use wire::frame::PROTOCOL_VERSION;
use wire::region::Region;

/// Where the zygote finds its control socket.
const CONTROL_FD: RawFd = 3;

pub struct Zygote {
    control: Mutex<OwnedFd>,
    pid: libc::pid_t,
    /// Set once it has been reaped.
    ended: Mutex<Option<String>>,
    /// Per variant, the fingerprint of each dispatch unit, as the subject says.
    pub fingerprints: Vec<Vec<u64>>,
}

/// How the zygote's output is wired.
pub enum Output {
    /// Into this pipe, which the judge reads.
    Pipe(OwnedFd),
    /// Onto the terminal (a playground).
    Inherit,
}

/// Everything the child needs, prepared before it is created: between clone and exec it may
/// only make system calls.
struct Plan {
    program: CString,
    argv: [*const libc::c_char; 2],
    envp: [*const libc::c_char; 1],
    workdir: CString,
    hide: Vec<CString>,
    null: OwnedFd,
    output: Option<OwnedFd>,
    control: OwnedFd,
    report: OwnedFd,
    namespaces: bool,
    uid: Option<u32>,
    memory_bytes: u64,
}

impl Zygote {
    /// Starts the subject binary at descriptor `binary` under `containment`. If the machine
    /// does not allow the namespaces asked for, it starts without them.
    pub fn start(
        binary: RawFd,
        containment: &Containment,
        memory_bytes: u64,
        output: Output,
        workdir: &std::path::Path,
    ) -> io::Result<Zygote> {
        let output = match output {
            Output::Pipe(pipe) => Some(pipe),
            Output::Inherit => None,
        };
        let attempt = |namespaces: bool, output: Option<OwnedFd>| -> io::Result<Zygote> {
            Self::start_once(
                binary,
                containment,
                namespaces,
                memory_bytes,
                output,
                workdir,
            )
        };
        if containment.namespaces {
            let copy = output.as_ref().map(OwnedFd::try_clone).transpose()?;
            if let Ok(zygote) = attempt(true, copy) {
                return Ok(zygote);
            }
        }
        attempt(false, output)
    }

    fn start_once(
        binary: RawFd,
        containment: &Containment,
        namespaces: bool,
        memory_bytes: u64,
        output: Option<OwnedFd>,
        workdir: &std::path::Path,
    ) -> io::Result<Zygote> {
        let (judge_end, zygote_end) = control::pair()?;
        let (report_read, report_write) = pipe()?;
        let program = CString::new(format!("/dev/fd/{binary}")).expect("no NUL in a number");
        let null = std::fs::File::open("/dev/null")?.into();
        let mut plan = Plan {
            argv: [program.as_ptr(), std::ptr::null()],
            envp: [std::ptr::null()],
            program,
            workdir: CString::new(workdir.as_os_str().as_encoded_bytes())
                .map_err(io::Error::other)?,
            hide: containment
                .hide
                .iter()
                .filter_map(|path| CString::new(path.as_str()).ok())
                .collect(),
            null,
            output,
            control: zygote_end,
            report: report_write,
            namespaces,
            uid: containment.subject_uid(),
            memory_bytes,
        };
        plan.argv[0] = plan.program.as_ptr();
        let mut flags = libc::SIGCHLD as libc::c_long;
        #[cfg(target_os = "linux")]
        if namespaces {
            flags |= libc::CLONE_NEWPID as libc::c_long;
        }
        // SAFETY: a fork-like clone (no new stack: the child gets a copy of ours). The child only
        // makes system calls on `plan`, prepared above, then execs or exits.
        let pid = unsafe { clone(flags) };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: in the child, which never returns from here.
            unsafe { child(&plan) }
        }
        drop(plan);
        let mut failure = [0u8; 4];
        let mut report = std::fs::File::from(report_read);
        if report.read_exact(&mut failure).is_ok() {
            let mut status = 0;
            // SAFETY: reaping our own child, which failed before exec.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            return Err(io::Error::from_raw_os_error(i32::from_ne_bytes(failure)));
        }
        let zygote = Zygote {
            control: Mutex::new(judge_end),
            pid,
            ended: Mutex::new(None),
            fingerprints: Vec::new(),
        };
        let control = zygote.control.lock().unwrap_or_else(|p| p.into_inner());
        let fingerprints = match control::receive::<FromZygote>(&*control) {
            Ok(Some((
                FromZygote::Hello {
                    version,
                    fingerprints,
                },
                _,
            ))) if version == PROTOCOL_VERSION => fingerprints,
            Ok(Some((FromZygote::Hello { version, .. }, _))) => {
                return Err(io::Error::other(format!(
                    "the subject speaks protocol {version}, the judge {PROTOCOL_VERSION}: \
                     rebuild both"
                )));
            }
            _ => {
                return Err(io::Error::other(
                    "the subject did not start (it ended before saying hello)",
                ));
            }
        };
        drop(control);
        Ok(Zygote {
            fingerprints,
            ..zygote
        })
    }

    /// A fresh instance serving `region`.
    pub fn spawn(
        &self,
        variant: u16,
        region: &Region,
        call_lanes: u16,
        background: bool,
    ) -> Result<u64, String> {
        let control = self.control.lock().unwrap_or_else(|p| p.into_inner());
        let request = ToZygote::Spawn {
            variant,
            call_lanes,
            background,
        };
        control::send(&*control, &request, Some(region.file().as_raw_fd()))
            .map_err(|e| format!("the subject's process is gone ({e})"))?;
        match control::receive::<FromZygote>(&*control) {
            Ok(Some((FromZygote::Spawned { instance }, _))) => Ok(instance),
            Ok(Some((FromZygote::Refused(why), _))) => Err(why),
            Ok(Some((other, _))) => Err(format!("the subject answered {other:?}")),
            Ok(None) | Err(_) => Err(self
                .alive()
                .err()
                .unwrap_or_else(|| "the subject's process stopped answering".into())),
        }
    }

    /// Asks for `instance` to be killed.
    pub fn kill(&self, instance: u64) {
        let control = self.control.lock().unwrap_or_else(|p| p.into_inner());
        let _ = control::send(&*control, &ToZygote::Kill { instance }, None);
    }

    /// Hands `fd` over to `instance`, as `id`.
    pub fn hand_over(&self, instance: u64, id: u64, fd: &impl AsRawFd) -> Result<(), String> {
        let control = self.control.lock().unwrap_or_else(|p| p.into_inner());
        control::send(
            &*control,
            &ToZygote::HandOver { instance, id },
            Some(fd.as_raw_fd()),
        )
        .map_err(|e| format!("the subject's process is gone ({e})"))
    }

    /// Whether the zygote still runs.
    pub fn alive(&self) -> Result<(), String> {
        let mut ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(why) = &*ended {
            return Err(why.clone());
        }
        let mut status = 0;
        // SAFETY: polling our own child without blocking.
        match unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } {
            0 => Ok(()),
            _ => {
                let why = format!(
                    "the subject's process ended ({})",
                    super::instance::describe(wire::region::Death::from_status(status))
                );
                *ended = Some(why.clone());
                Err(why)
            }
        }
    }

    /// Kills the zygote and every process in its group (and, with namespaces, every process in
    /// its namespace: it is their init).
    pub fn kill_all(&self) {
        // SAFETY: signalling the group we created, and our own child, then reaping it.
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
            libc::kill(self.pid, libc::SIGKILL);
            if self
                .ended
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_none()
            {
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// `clone` as a fork, with extra flags.
///
/// # Safety
/// As `fork`.
unsafe fn clone(flags: libc::c_long) -> libc::pid_t {
    #[cfg(target_os = "linux")]
    // SAFETY: clone without a new stack behaves as fork; x86-64 and aarch64 take the flags
    // first and the stack second.
    unsafe {
        libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) as libc::pid_t
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = flags;
        // SAFETY: as the caller's.
        unsafe { libc::fork() }
    }
}

/// The child's side: contain itself, then become the subject. On failure it reports the error
/// number on the report pipe and exits.
///
/// # Safety
/// Only in the child created by `clone`.
unsafe fn child(plan: &Plan) -> ! {
    // SAFETY: system calls on the child's own state, with prepared arguments.
    unsafe {
        let result = contain(plan);
        if result.is_ok() {
            libc::execve(
                plan.program.as_ptr(),
                plan.argv.as_ptr(),
                plan.envp.as_ptr(),
            );
        }
        let errno = result.err().unwrap_or_else(io::Error::last_os_error);
        let code = errno.raw_os_error().unwrap_or(libc::EINVAL).to_ne_bytes();
        libc::write(
            plan.report.as_raw_fd(),
            code.as_ptr() as *const libc::c_void,
            4,
        );
        libc::_exit(127)
    }
}

/// # Safety
/// Only in the child created by `clone`, before exec.
unsafe fn contain(plan: &Plan) -> io::Result<()> {
    let check = |result: libc::c_int| {
        if result < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // SAFETY: system calls on the calling process only.
    unsafe {
        check(libc::setpgid(0, 0))?;
        #[cfg(target_os = "linux")]
        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
        let out = plan.output.as_ref().map_or(1, AsRawFd::as_raw_fd);
        let err = plan.output.as_ref().map_or(2, AsRawFd::as_raw_fd);
        protocol::place_descriptors(&[
            (plan.null.as_raw_fd(), 0),
            (out, 1),
            (err, 2),
            (plan.control.as_raw_fd(), CONTROL_FD),
        ])?;
        #[cfg(target_os = "linux")]
        if plan.namespaces {
            isolate(&plan.hide)?;
        }
        check(libc::chdir(plan.workdir.as_ptr()))?;
        limit(libc::RLIMIT_AS, plan.memory_bytes)?;
        limit(libc::RLIMIT_CORE, 0)?;
        if let Some(uid) = plan.uid {
            // Another user: it cannot signal, trace or read the grader and the judge, nor
            // write what they wrote. A bound on its processes stops a fork bomb.
            check(libc::setgroups(0, std::ptr::null()))?;
            check(libc::setgid(uid))?;
            check(libc::setuid(uid))?;
            limit(libc::RLIMIT_NPROC, 512)?;
        }
        #[cfg(target_os = "linux")]
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
    }
    Ok(())
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
type Resource = libc::c_int;

fn limit(resource: Resource, value: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: value as libc::rlim_t,
        rlim_max: value as libc::rlim_t,
    };
    // SAFETY: setrlimit on the calling process.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// In the child, before exec: no network, a private mount table with a /proc of the new PID
/// namespace (so no other process is visible), and the hidden directories covered.
#[cfg(target_os = "linux")]
unsafe fn isolate(hide: &[CString]) -> io::Result<()> {
    let check = |result: libc::c_int| {
        if result < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // SAFETY: namespace and mount calls on the calling process, with static or prepared strings.
    unsafe {
        check(libc::unshare(
            libc::CLONE_NEWNS | libc::CLONE_NEWNET | libc::CLONE_NEWIPC,
        ))?;
        check(libc::mount(
            c"none".as_ptr(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))?;
        check(libc::mount(
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        ))?;
        for path in hide {
            check(libc::mount(
                c"tmpfs".as_ptr(),
                path.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                c"size=4k,mode=0".as_ptr() as *const libc::c_void,
            ))?;
        }
    }
    Ok(())
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe fills `fds` on success.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors we own, kept from every exec.
    unsafe {
        libc::fcntl(fds[0], libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(fds[1], libc::F_SETFD, libc::FD_CLOEXEC);
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}
