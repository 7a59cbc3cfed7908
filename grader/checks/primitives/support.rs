//! Helpers the primitives checks share.

#![allow(dead_code)]

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use judge::prelude::*;

/// What a caught panic said.
pub fn panic_text(panic: &(dyn Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => text.to_string(),
        (_, Some(text)) => text.clone(),
        _ => "(a panic without a message)".into(),
    }
}

/// Runs `call`, which the documentation says must panic; `did` is the call as code, `why` the
/// documented reason. A `todo!()` is not the panic asked for.
pub fn expect_panic<T>(did: &str, why: &str, call: impl FnOnce() -> T) -> CheckResult {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(_) => fail(format!(
            "did:      {did}\nexpected: a panic ({why})\ngot:      it returned normally"
        )),
        Err(panic) => {
            let text = panic_text(&*panic);
            if text.starts_with("not yet implemented") || text.starts_with("not implemented") {
                fail(format!(
                    "did:      {did}\nexpected: a panic ({why})\n\
                     got:      it reached a todo!(), which is not written yet"
                ))
            } else {
                Ok(())
            }
        }
    }
}

/// Runs `call`, which must not panic, and reports a panic as a failure that says what was done.
pub fn no_panic<T>(did: &str, call: impl FnOnce() -> T) -> Result<T, Failure> {
    catch_unwind(AssertUnwindSafe(call)).map_err(|panic| {
        Failure::new(format!(
            "did:      {did}\nexpected: no panic\npanicked: {}",
            panic_text(&*panic)
        ))
    })
}
