//! What the grader and a harness say to each other.
//!
//! A harness is a child process that runs hidden checks next to the learner's code. The learner's
//! code shares that process, so nothing it can print may look like a verdict: the grader sends a
//! secret token on the child's stdin, the harness moves its real stdout aside as a private channel
//! before any check runs, and the grader believes only the lines on that channel that carry the
//! token. Everything the learner's code prints ends up in the captured output instead.

use serde::{Deserialize, Serialize};

/// The first and only line the grader writes on the harness's stdin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Handshake {
    pub token: String,
    pub seed: u64,
}

/// One line on the private channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub token: String,
    pub message: Message,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// The names of the suite's checks, in order (the answer to `--list`).
    Checks { names: Vec<String> },
    /// A check is about to run one case; if the process dies, this says what it was doing.
    Doing { check: String, what: String },
    /// A check's own result. A check passes only when this arrives with `passed: true`.
    Outcome {
        check: String,
        passed: bool,
        message: String,
    },
}

impl Envelope {
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("protocol messages always serialize");
        line.push('\n');
        line
    }

    /// Parses a line, keeping it only if it carries `token`.
    pub fn parse_trusted(line: &str, token: &str) -> Option<Message> {
        let envelope: Envelope = serde_json::from_str(line).ok()?;
        (envelope.token == token).then_some(envelope.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_round_trips_only_with_its_token() {
        let envelope = Envelope {
            token: "secret".into(),
            message: Message::Outcome {
                check: "round trip".into(),
                passed: true,
                message: String::new(),
            },
        };
        let line = envelope.to_line();
        assert_eq!(
            Envelope::parse_trusted(&line, "secret"),
            Some(envelope.message.clone())
        );
        assert_eq!(Envelope::parse_trusted(&line, "guess"), None);
        assert_eq!(Envelope::parse_trusted("test crc ... ok", "secret"), None);
    }
}
