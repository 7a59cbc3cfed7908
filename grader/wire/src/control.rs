//! The control channel between a judge and the subject's fork server (the zygote): a
//! packet socket, one message per packet, on which the judge asks for instances and hands
//! over the shared memory of each.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Judge to zygote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToZygote {
    /// Fork an instance of `variant` that serves the region whose descriptor comes with this
    /// message: `call_lanes` lanes for calls, then one lane for callbacks from threads of the
    /// learner's own if `background`.
    Spawn {
        variant: u16,
        call_lanes: u16,
        background: bool,
    },
    /// Kill instance `instance` now.
    Kill { instance: u64 },
    /// Pass the descriptor that comes with this message (a socket the judge made) on to
    /// `instance`, where the call that names it by `id` takes it.
    HandOver { instance: u64, id: u64 },
}

/// Zygote to instance, on the instance's own socket: the descriptor that comes with it is the
/// one the judge handed over as `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandedOver {
    pub id: u64,
}

/// Zygote to judge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromZygote {
    /// The first message: which protocol it speaks and, per variant, the fingerprint of each
    /// dispatch unit's declaration.
    Hello {
        version: u32,
        fingerprints: Vec<Vec<u64>>,
    },
    Spawned {
        instance: u64,
    },
    Refused(String),
}

/// The largest control message.
const MAX_PACKET: usize = 64 << 10;

/// A connected pair of packet sockets, close-on-exec.
pub fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    #[cfg(target_os = "linux")]
    let kind = libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC;
    #[cfg(not(target_os = "linux"))]
    let kind = libc::SOCK_SEQPACKET;
    // SAFETY: socketpair fills `fds` on success.
    if unsafe { libc::socketpair(libc::AF_UNIX, kind, 0, fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: two fresh descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sends one message, with a descriptor if given.
pub fn send<M: Serialize>(socket: &impl AsRawFd, message: &M, fd: Option<RawFd>) -> io::Result<()> {
    let bytes = postcard::to_stdvec(message).map_err(io::Error::other)?;
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    // Room for one descriptor's control message, aligned as cmsghdr wants.
    let mut space = [0u64; 8];
    // SAFETY: an msghdr over our buffers; CMSG macros stay inside `space`.
    unsafe {
        let mut header: libc::msghdr = std::mem::zeroed();
        header.msg_iov = &mut iov;
        header.msg_iovlen = 1;
        if let Some(fd) = fd {
            header.msg_control = space.as_mut_ptr() as *mut libc::c_void;
            header.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as _;
            let cmsg = libc::CMSG_FIRSTHDR(&header);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut RawFd, fd);
        }
        loop {
            if libc::sendmsg(socket.as_raw_fd(), &header, 0) >= 0 {
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}

/// Receives one message and the descriptor that came with it, if any. `Ok(None)` when the
/// other side has closed the socket.
pub fn receive<M: DeserializeOwned>(
    socket: &impl AsRawFd,
) -> io::Result<Option<(M, Option<OwnedFd>)>> {
    let mut bytes = vec![0u8; MAX_PACKET];
    let mut iov = libc::iovec {
        iov_base: bytes.as_mut_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    let mut space = [0u64; 8];
    // SAFETY: as in `send`; the kernel writes at most the lengths given.
    let (read, fd) = unsafe {
        let mut header: libc::msghdr = std::mem::zeroed();
        header.msg_iov = &mut iov;
        header.msg_iovlen = 1;
        header.msg_control = space.as_mut_ptr() as *mut libc::c_void;
        header.msg_controllen = std::mem::size_of_val(&space) as _;
        #[cfg(target_os = "linux")]
        let flags = libc::MSG_CMSG_CLOEXEC;
        #[cfg(not(target_os = "linux"))]
        let flags = 0;
        let read = loop {
            let read = libc::recvmsg(socket.as_raw_fd(), &mut header, flags);
            if read >= 0 {
                break read as usize;
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        };
        let mut fd = None;
        let mut cmsg = libc::CMSG_FIRSTHDR(&header);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let received = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const RawFd);
                // Only the first descriptor is kept; any more are closed with the OwnedFd.
                let owned = OwnedFd::from_raw_fd(received);
                if fd.is_none() {
                    fd = Some(owned);
                }
            }
            cmsg = libc::CMSG_NXTHDR(&header, cmsg);
        }
        (read, fd)
    };
    if read == 0 {
        return Ok(None);
    }
    let message = postcard::from_bytes(&bytes[..read]).map_err(io::Error::other)?;
    Ok(Some((message, fd)))
}
