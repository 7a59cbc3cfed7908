use std::fmt::{Debug, Display};

/// Why a check failed, written for the learner: what was done, what was expected, what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
}

pub type CheckResult = Result<(), Failure>;

impl Failure {
    pub fn new(message: impl Display) -> Self {
        Self {
            message: message.to_string(),
        }
    }
}

impl Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Fails with `message`.
pub fn fail(message: impl Display) -> CheckResult {
    Err(Failure::new(message))
}

/// Passes when `condition` holds, fails with `message` otherwise.
pub fn expect(condition: bool, message: impl Display) -> CheckResult {
    if condition { Ok(()) } else { fail(message) }
}

/// Passes when `got == expected`; otherwise says what was done and both values.
pub fn expect_eq<T: PartialEq + Debug>(did: impl Display, got: T, expected: T) -> CheckResult {
    if got == expected {
        return Ok(());
    }
    fail(format!(
        "did:      {did}\nexpected: {}\ngot:      {}",
        compact_debug(&expected),
        compact_debug(&got)
    ))
}

/// `{:?}` when it fits on a line, `{:#?}` when it does not.
pub(crate) fn compact_debug(value: &impl Debug) -> String {
    let flat = format!("{value:?}");
    if flat.len() <= 100 {
        flat
    } else {
        format!("{value:#?}")
    }
}
