//! Round trips over a lane between two processes: what one call into a subject costs when the
//! call itself does nothing. Run with `cargo bench -p wire`.

use std::io::Write;
use std::time::{Duration, Instant};

use wire::lane::End;
use wire::region::Region;

fn main() {
    let region = Region::create(1, 128 << 10).expect("shared memory");
    // SAFETY: fork in a process that has no other threads yet.
    let child = unsafe { libc::fork() };
    if child == 0 {
        // SAFETY: a flag on the calling process: die with the benchmark.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        let mut lane = region.lane(0, End::Answerer);
        let mut message = Vec::new();
        loop {
            if lane.receive(&mut message, None, &|| Ok(())).is_err() {
                unsafe { libc::_exit(0) };
            }
            if message == b"stop" {
                unsafe { libc::_exit(0) };
            }
            lane.send(&message, None, &|| Ok(())).expect("send");
        }
    }
    let mut lane = region.lane(0, End::Opener);
    let mut reply = Vec::new();
    for (label, size) in [("32 B", 32usize), ("4 KiB", 4096), ("1 MiB", 1 << 20)] {
        let message = vec![7u8; size];
        let rounds = if size > 100_000 { 200 } else { 100_000 };
        let started = Instant::now();
        for _ in 0..rounds {
            lane.send(&message, None, &|| Ok(())).unwrap();
            lane.receive(&mut reply, None, &|| Ok(())).unwrap();
        }
        let each = started.elapsed() / rounds;
        let _ = writeln!(
            std::io::stdout(),
            "round trip of {label}: {:.2} us ({:.0} per second)",
            each.as_secs_f64() * 1e6,
            1.0 / each.as_secs_f64().max(1e-9)
        );
    }
    lane.send(b"stop", None, &|| Ok(())).unwrap();
    unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
    let _ = Duration::ZERO;
}
