//! Panics, caught and described. A panic in the learner's code happens in the subject, which
//! reports its message and location; the proxy that made the call raises it again here, so it
//! unwinds through the check exactly as it would have in one process. The hook prints nothing:
//! it only remembers where the last panic on this thread came from.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// How many `catch`es this thread is inside: a panic outside all of them is the judge's own
    /// failure, and is told on its stderr for the grader to show.
    static CATCHING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The payload of an unwind that ends a check that has died (see `Session::fail`).
pub struct CheckDied;

pub fn install_hook() {
    panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_else(|| "an unknown place".into());
        let description = describe(&payload_text(info.payload()), &location);
        if CATCHING.with(|depth| depth.get()) == 0 {
            eprintln!("the judge failed: {description}");
        }
        LAST_PANIC.with(|last| *last.borrow_mut() = Some(description));
    }));
}

/// Runs `f`, turning a panic into a description of it.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    LAST_PANIC.with(|last| last.borrow_mut().take());
    CATCHING.with(|depth| depth.set(depth.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|depth| depth.set(depth.get() - 1));
    result.map_err(|payload| {
        LAST_PANIC
            .with(|last| last.borrow_mut().take())
            .unwrap_or_else(|| format!("panicked: {}", payload_text(&*payload)))
    })
}

/// Raises, in the judge, a panic the learner's code raised in the subject, in the call named
/// `call`. The payload is the panic's message, as it was there.
pub fn subject_panicked(message: String, location: Option<String>, call: Option<&str>) -> ! {
    let location = location.unwrap_or_else(|| "an unknown place".into());
    // A panic inside the standard library (an overflowing capacity, a subtraction of
    // durations) has a location that says nothing of the learner's code: the call does.
    let location = match call {
        Some(call) => format!("{location}, in a call of {call}"),
        None => location,
    };
    let description = describe(&message, &location);
    LAST_PANIC.with(|last| *last.borrow_mut() = Some(description));
    panic::resume_unwind(Box::new(message))
}

/// Unwinds out of a check that has died.
pub fn abort_check() -> ! {
    panic::resume_unwind(Box::new(CheckDied))
}

fn describe(message: &str, location: &str) -> String {
    if message.starts_with("not yet implemented") || message.starts_with("not implemented") {
        format!("reached a todo!() at {location}: this part is not written yet")
    } else {
        format!("panicked at {location}:\n{message}")
    }
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else if payload.is::<CheckDied>() {
        "the learner's process died".into()
    } else {
        "(a panic without a message)".into()
    }
}
