//! The learner's panics, caught per call and described: the message and where it happened.
//! Nothing is printed: the judge tells the learner.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};

/// A panic's message and its `file:line:column`.
pub type Caught = (String, Option<String>);

thread_local! {
    static LAST: RefCell<Option<Caught>> = const { RefCell::new(None) };
}

pub fn install_hook() {
    panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
        let message = payload_text(info.payload());
        LAST.with(|last| *last.borrow_mut() = Some((message, location)));
    }));
}

/// Runs `f`, turning a panic into its message and location.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Caught> {
    LAST.with(|last| last.borrow_mut().take());
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        LAST.with(|last| last.borrow_mut().take())
            .unwrap_or_else(|| (payload_text(&*payload), None))
    })
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(a panic without a message)".into()
    }
}
