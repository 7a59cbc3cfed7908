//! A region: the shared memory of one subject instance, holding its lanes and a word that says
//! whether (and how) the instance died.
//!
//! The judge creates the region (an anonymous memory file) and hands its descriptor over; the
//! subject maps the same pages. Layout: a [`RegionHeader`], then `lanes` slots of
//! [`lane::slot_size`] bytes each.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::lane::{self, End, Lane, LaneHeader};

const MAGIC: u32 = 0x4c41_4e45;

#[repr(C, align(64))]
pub struct RegionHeader {
    magic: AtomicU32,
    lanes: AtomicU32,
    capacity: AtomicU32,
    /// Zero while the instance lives; then how it ended (see [`Death`]).
    death: AtomicU32,
    /// Bumped by the judge when it wants the subject to start serving more lanes.
    doorbell: AtomicU32,
    /// How many call lanes the judge has asked for so far.
    lanes_wanted: AtomicU32,
}

/// How a process ended, packed in a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Death {
    Exited(i32),
    Signalled(i32),
}

impl Death {
    pub fn pack(self) -> u32 {
        match self {
            Death::Exited(code) => 0x1_0000 | (code as u32 & 0xFFFF),
            Death::Signalled(signal) => 0x2_0000 | (signal as u32 & 0xFFFF),
        }
    }

    pub fn unpack(word: u32) -> Option<Death> {
        match word >> 16 {
            1 => Some(Death::Exited((word & 0xFFFF) as i32)),
            2 => Some(Death::Signalled((word & 0xFFFF) as i32)),
            _ => None,
        }
    }

    /// From a `waitpid` status.
    pub fn from_status(status: libc::c_int) -> Death {
        if libc::WIFSIGNALED(status) {
            Death::Signalled(libc::WTERMSIG(status))
        } else {
            Death::Exited(libc::WEXITSTATUS(status))
        }
    }
}

/// A mapped region.
pub struct Region {
    base: *mut u8,
    size: usize,
    lanes: usize,
    capacity: usize,
    file: File,
}

// SAFETY: the mapping is owned by the Region and unmapped only on drop; shared state in it is
// accessed atomically or through the baton discipline of `Lane`.
unsafe impl Send for Region {}
unsafe impl Sync for Region {}

impl Region {
    fn size_for(lanes: usize, capacity: usize) -> usize {
        std::mem::size_of::<RegionHeader>() + lanes * lane::slot_size(capacity)
    }

    /// A fresh region with `lanes` lanes of `capacity` bytes each.
    pub fn create(lanes: usize, capacity: usize) -> io::Result<Region> {
        let size = Self::size_for(lanes, capacity);
        let file = anonymous_file(size)?;
        let region = Self::map(file, size, lanes, capacity)?;
        let header = region.header();
        header.lanes.store(lanes as u32, Ordering::Relaxed);
        header.capacity.store(capacity as u32, Ordering::Relaxed);
        header.magic.store(MAGIC, Ordering::Release);
        Ok(region)
    }

    /// Maps a region the other side created. Its header is read once and checked against the
    /// file's real size, so a lying header cannot point outside the mapping.
    pub fn open(fd: OwnedFd) -> io::Result<Region> {
        let file = File::from(fd);
        let size = file.metadata()?.len() as usize;
        let header_size = std::mem::size_of::<RegionHeader>();
        if size < header_size {
            return Err(io::Error::other("the region is smaller than its header"));
        }
        let probe = Self::map(file.try_clone()?, header_size, 0, 0)?;
        let (magic, lanes, capacity) = {
            let header = probe.header();
            (
                header.magic.load(Ordering::Acquire),
                header.lanes.load(Ordering::Relaxed) as usize,
                header.capacity.load(Ordering::Relaxed) as usize,
            )
        };
        drop(probe);
        if magic != MAGIC || lanes == 0 || lanes > 64 || capacity == 0 || capacity > 16 << 20 {
            return Err(io::Error::other("the region's header is not valid"));
        }
        if Self::size_for(lanes, capacity) != size {
            return Err(io::Error::other(
                "the region's size does not match its header",
            ));
        }
        Self::map(file, size, lanes, capacity)
    }

    fn map(file: File, size: usize, lanes: usize, capacity: usize) -> io::Result<Region> {
        // SAFETY: a fresh shared mapping of a file we hold; checked for failure below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(lane::setup_error(
                "cannot map shared memory",
                io::Error::last_os_error(),
            ));
        }
        Ok(Region {
            base: base as *mut u8,
            size,
            lanes,
            capacity,
            file,
        })
    }

    pub fn header(&self) -> &RegionHeader {
        // SAFETY: the mapping starts with the header and is at least that large.
        unsafe { &*(self.base as *const RegionHeader) }
    }

    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// The descriptor of the memory, to hand to the other side.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// End `end` of lane `index`. Each end of each lane must be taken once per process.
    pub fn lane(&self, index: usize, end: End) -> Lane {
        assert!(index < self.lanes, "lane {index} of {}", self.lanes);
        let offset = std::mem::size_of::<RegionHeader>() + index * lane::slot_size(self.capacity);
        // SAFETY: the slot lies inside the mapping (sizes checked when it was made or opened),
        // and the Region outlives its lanes by construction of their users.
        unsafe {
            Lane::new(
                self.base.add(offset) as *const LaneHeader,
                self.capacity,
                end,
            )
        }
    }

    /// How the instance died, if it has.
    pub fn death(&self) -> Option<Death> {
        Death::unpack(self.header().death.load(Ordering::Acquire))
    }

    /// Records a death and wakes everyone waiting on any lane.
    pub fn mark_dead(&self, death: Death) {
        self.header().death.store(death.pack(), Ordering::Release);
        for index in 0..self.lanes {
            let offset =
                std::mem::size_of::<RegionHeader>() + index * lane::slot_size(self.capacity);
            // SAFETY: as in `lane`.
            let header = unsafe { &*(self.base.add(offset) as *const LaneHeader) };
            lane::wake_all(header);
        }
    }

    /// Asks the subject to serve call lanes up to `count`.
    pub fn ring(&self, count: u32) {
        let header = self.header();
        header.lanes_wanted.fetch_max(count, Ordering::SeqCst);
        header.doorbell.fetch_add(1, Ordering::SeqCst);
        lane::wake_word(&header.doorbell);
    }

    /// Waits for the doorbell to ring (or `timeout`), returning the call lanes wanted.
    pub fn wait_doorbell(&self, seen: u32, timeout: std::time::Duration) -> (u32, u32) {
        let header = self.header();
        lane::wait_word(&header.doorbell, seen, timeout);
        (
            header.doorbell.load(Ordering::SeqCst),
            header.lanes_wanted.load(Ordering::SeqCst),
        )
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: unmapping what `map` mapped; no lane made from it is used after this (their
        // users hold the Region alive).
        unsafe {
            libc::munmap(self.base as *mut libc::c_void, self.size);
        }
    }
}

/// An anonymous file of `size` zero bytes: a memfd on Linux, an unlinked temporary file
/// elsewhere.
fn anonymous_file(size: usize) -> io::Result<File> {
    #[cfg(target_os = "linux")]
    let file = {
        // SAFETY: memfd_create with a static name; the result is checked.
        let fd = unsafe { libc::memfd_create(c"lanes".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(lane::setup_error(
                "cannot create shared memory",
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: a fresh descriptor we own.
        unsafe { File::from_raw_fd(fd) }
    };
    #[cfg(not(target_os = "linux"))]
    let file = {
        let dir = std::env::temp_dir();
        let path = dir.join(format!(
            "lanes-{}-{:?}",
            std::process::id(),
            std::time::Instant::now()
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        std::fs::remove_file(&path)?;
        file
    };
    file.set_len(size as u64)?;
    Ok(file)
}
