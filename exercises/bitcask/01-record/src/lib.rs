//! Records: the unit a Bitcask log is made of, framed so that a reader can tell a whole record
//! from a torn or rotted one.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::fmt;

/// Bytes before the key: the checksum and the two lengths.
pub const HEADER_LEN: usize = 12;

/// The `value_len` that marks a tombstone: a record saying its key was deleted.
pub const TOMBSTONE: u32 = u32::MAX;

/// One entry of the log: a key and its new value, or a tombstone (`value: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

impl Record {
    /// A record that sets `key` to `value`.
    pub fn put(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Record {
        Record {
            key: key.into(),
            value: Some(value.into()),
        }
    }

    /// A record that says `key` is gone.
    pub fn tombstone(key: impl Into<Vec<u8>>) -> Record {
        Record {
            key: key.into(),
            value: None,
        }
    }

    /// How many bytes [`Record::encode`] produces.
    pub fn encoded_len(&self) -> usize {
        todo!()
    }

    /// The record's bytes, little-endian:
    ///
    /// ```text
    /// crc32 (u32) | key_len (u32) | value_len (u32, TOMBSTONE for a tombstone) | key | value
    ///               \__________________ covered by the crc32 (crc32fast) __________________/
    /// ```
    ///
    /// # Panics
    ///
    /// If the key is `u32::MAX` bytes or longer, or the value `u32::MAX - 1` bytes or longer:
    /// their lengths would not fit the header (and `u32::MAX` is the tombstone mark).
    pub fn encode(&self) -> Vec<u8> {
        todo!()
    }
}

/// Why bytes did not decode as a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer ends before the record does: more bytes are needed. At the end of a log, this
    /// is what a write cut short by a crash looks like.
    Incomplete,
    /// The record is all there, but its checksum does not match: the bytes are damaged.
    Corrupt,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Incomplete => write!(f, "the record is incomplete"),
            DecodeError::Corrupt => write!(f, "the record's checksum does not match"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes the record at the start of `buf`, and says how many bytes it used (the rest of `buf`
/// is left alone: it may hold the next record).
///
/// [`DecodeError::Incomplete`] if `buf` is shorter than a header, or than the header's lengths
/// say the record is; [`DecodeError::Corrupt`] if the checksum does not match. The lengths are
/// not to be trusted before the checksum is checked: never allocate from them, never let them
/// overflow. Never panics, whatever the bytes.
pub fn decode(buf: &[u8]) -> Result<(Record, usize), DecodeError> {
    todo!()
}
