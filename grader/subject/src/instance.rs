//! One instance: a forked process serving the lanes of its region.
//!
//! Call lanes are served by one thread each (the main thread serves the first; more are
//! started when the judge rings for them). A callback to the judge's disk goes back on the
//! lane of the call that made it; a thread the learner's code started itself has no lane, and
//! uses the region's background lane instead, if there is one.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use wire::control::{self, HandedOver};
use wire::frame::{self, DiskAnswer, DiskOp, DiskValue, Request, Response};
use wire::lane::{Broken, End, Lane};
use wire::region::Region;

use crate::dispatch::{self, Call, Refusal, Unit};
use crate::panics;

thread_local! {
    /// The lane this thread serves, while it serves one.
    static LANE: RefCell<Option<Lane>> = const { RefCell::new(None) };
}

/// The lane for callbacks from threads without one of their own.
static BACKGROUND: Mutex<Option<Lane>> = Mutex::new(None);

/// Descriptors the judge hands over, by the id a call names them with.
static HANDS: OnceLock<Hands> = OnceLock::new();

struct Hands {
    socket: OwnedFd,
    /// Arrived before the call that takes them asked (calls on other lanes may overtake).
    arrived: Mutex<HashMap<u64, OwnedFd>>,
}

/// How long a call waits for a descriptor the judge says it has handed over.
const HAND_OVER_WAIT: Duration = Duration::from_secs(10);

/// The descriptor the judge handed over as `id`: it comes through the zygote, just before
/// the call that names it, or is already here.
pub fn handed_over(id: u64) -> OwnedFd {
    let hands = HANDS.get().expect("an instance has its hand-over socket");
    let started = std::time::Instant::now();
    loop {
        {
            let mut arrived = hands.arrived.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(fd) = arrived.remove(&id) {
                return fd;
            }
            if readable(&hands.socket, Duration::ZERO) {
                match control::receive::<HandedOver>(&hands.socket) {
                    Ok(Some((HandedOver { id }, Some(fd)))) => {
                        arrived.insert(id, fd);
                    }
                    _ => panic!("the grader's hand-over socket closed"),
                }
                continue;
            }
        }
        if started.elapsed() > HAND_OVER_WAIT || alive().is_err() {
            panic!("the grader did not hand over the socket it promised (id {id})");
        }
        // Without the lock: another thread may take what arrives, and put it in `arrived`.
        readable(&hands.socket, Duration::from_millis(20));
    }
}

fn readable(socket: &OwnedFd, timeout: Duration) -> bool {
    let mut poll = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: polling one descriptor we own.
    unsafe { libc::poll(&mut poll, 1, timeout.as_millis() as libc::c_int) > 0 }
}

/// The zygote this instance was forked from: when it is gone, so is the judge.
static ZYGOTE: OnceLock<libc::pid_t> = OnceLock::new();

fn alive() -> Result<(), String> {
    // SAFETY: getppid has no preconditions.
    if Some(&unsafe { libc::getppid() }) == ZYGOTE.get() {
        Ok(())
    } else {
        Err("the grader has gone".into())
    }
}

/// Serves `region` until the judge goes away; descriptors the judge hands over arrive on
/// `hands`.
pub fn serve(
    region: Region,
    units: &'static [&'static Unit],
    call_lanes: usize,
    background: bool,
    hands: OwnedFd,
    zygote: libc::pid_t,
) -> ! {
    let _ = ZYGOTE.set(zygote);
    let _ = HANDS.set(Hands {
        socket: hands,
        arrived: Mutex::new(HashMap::new()),
    });
    let region: &'static Region = Box::leak(Box::new(region));
    if background {
        *BACKGROUND.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(region.lane(call_lanes, End::Opener));
    }
    if call_lanes > 1 {
        std::thread::spawn(move || open_lanes_on_request(region, units, call_lanes));
    }
    serve_lane(region.lane(0, End::Answerer), units)
}

/// Starts a thread for each further call lane the judge rings for.
fn open_lanes_on_request(
    region: &'static Region,
    units: &'static [&'static Unit],
    call_lanes: usize,
) {
    let mut serving = 1;
    let mut seen = 0;
    loop {
        let (rung, wanted) = region.wait_doorbell(seen, Duration::from_millis(50));
        seen = rung;
        while serving < (wanted as usize).min(call_lanes) {
            let lane = region.lane(serving, End::Answerer);
            std::thread::spawn(move || serve_lane(lane, units));
            serving += 1;
        }
        if alive().is_err() {
            std::process::exit(0);
        }
    }
}

fn serve_lane(lane: Lane, units: &'static [&'static Unit]) -> ! {
    LANE.with(|slot| *slot.borrow_mut() = Some(lane));
    let mut message = Vec::new();
    let mut out = Vec::new();
    loop {
        if on_my_lane(|lane| lane.receive(&mut message, None, &alive)).is_err() {
            std::process::exit(0);
        }
        answer(&message, units, &mut out);
        if on_my_lane(|lane| lane.send(&out, None, &alive)).is_err() {
            std::process::exit(0);
        }
    }
}

fn on_my_lane<T>(f: impl FnOnce(&mut Lane) -> T) -> T {
    LANE.with(|slot| f(slot.borrow_mut().as_mut().expect("a lane thread")))
}

/// Carries out one request and writes the response into `out`.
fn answer(message: &[u8], units: &'static [&'static Unit], out: &mut Vec<u8>) {
    out.clear();
    let (request, args) = match frame::header::<Request>(message) {
        Ok(parsed) => parsed,
        Err(why) => return respond(out, &Response::Refused(why)),
    };
    let returned = Response::Returned { closed: Vec::new() };
    let outcome = match request {
        Request::Call { unit, method, this } => {
            let Some(unit) = units.get(unit as usize) else {
                return respond(out, &Response::Refused(format!("no dispatch unit {unit}")));
            };
            respond(out, &returned);
            let mut call = Call {
                method,
                this,
                args,
                out,
            };
            panics::catch(|| (unit.dispatch)(&mut call))
        }
        Request::Drop { this } => {
            respond(out, &returned);
            panics::catch(|| dispatch::drop_object(this))
        }
        Request::Answer => Ok(Err(Refusal::new("an answer when no callback was asked"))),
    };
    match outcome {
        Ok(Ok(())) => {
            let closed = crate::disk::take_closed();
            if !closed.is_empty() {
                // The value follows a header of a new length: write both again.
                let header_len = wire::postcard::to_stdvec(&returned).map_or(0, |h| h.len());
                let value = out[header_len..].to_vec();
                respond(out, &Response::Returned { closed });
                out.extend_from_slice(&value);
            }
        }
        Ok(Err(Refusal(why))) => respond(out, &Response::Refused(why)),
        Err((message, location)) => respond(out, &Response::Panicked { message, location }),
    }
}

/// Replaces `out` with a response header (a payload may follow).
fn respond(out: &mut Vec<u8>, response: &Response) {
    out.clear();
    let buf = std::mem::take(out);
    *out = wire::postcard::to_extend(response, buf).expect("a response always encodes");
}

/// Asks the judge to do `op` on its disk: on this thread's lane in the middle of a call, or on
/// the background lane from a thread of the learner's own.
pub fn callback(op: DiskOp) -> io::Result<DiskValue> {
    let mut message = Vec::new();
    let answer = LANE.with(|slot| -> Option<Result<(), Broken>> {
        let mut slot = slot.borrow_mut();
        let lane = slot.as_mut()?;
        frame::encode(&mut message, &Response::Callback, &op);
        Some(
            lane.send(&message, None, &alive)
                .and_then(|()| lane.receive(&mut message, None, &alive)),
        )
    });
    let answer = match answer {
        Some(done) => done.and_then(|()| match frame::header::<Request>(&message) {
            Ok((Request::Answer, rest)) => {
                let rest = rest.to_vec();
                message = rest;
                Ok(())
            }
            Ok((other, _)) => Err(Broken::Protocol(format!("{other:?} instead of an answer"))),
            Err(why) => Err(Broken::Protocol(why)),
        }),
        None => {
            let mut background = BACKGROUND.lock().unwrap_or_else(|p| p.into_inner());
            let Some(lane) = background.as_mut() else {
                return Err(io::Error::other(
                    "the disk was used from a thread of your own, which this scene does not \
                     allow: use it from the thread that called into your code",
                ));
            };
            let encoded = wire::postcard::to_stdvec(&op).map_err(io::Error::other)?;
            lane.send(&encoded, None, &alive)
                .and_then(|()| lane.receive(&mut message, None, &alive))
        }
    };
    if let Err(broken) = answer {
        return Err(io::Error::other(format!(
            "the grader's disk did not answer: {broken}"
        )));
    }
    let answer: DiskAnswer = frame::payload(&message)
        .map_err(|why| io::Error::other(format!("the grader's disk answered oddly: {why}")))?;
    answer.map_err(io::Error::from)
}
