//! Records: the unit a Bitcask log is made of, framed so that a reader can tell a whole record
//! from a torn or rotted one.
//!
//! The reference solution. On disk, little-endian:
//!
//! ```text
//! crc32 (u32) | key_len (u32) | value_len (u32, u32::MAX = tombstone) | key | value
//!               \____________________ covered by the crc32 ____________________/
//! ```

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
        HEADER_LEN + self.key.len() + self.value.as_ref().map_or(0, Vec::len)
    }

    /// The record's bytes, header first.
    ///
    /// # Panics
    ///
    /// If the key is `u32::MAX` bytes or longer, or the value `u32::MAX - 1` bytes or longer:
    /// their lengths would not fit the header (and `u32::MAX` is the tombstone mark).
    pub fn encode(&self) -> Vec<u8> {
        let key_len = u32::try_from(self.key.len()).expect("a key shorter than 4 GiB");
        let value_len = match &self.value {
            Some(value) => u32::try_from(value.len())
                .ok()
                .filter(|&len| len != TOMBSTONE)
                .expect("a value shorter than 4 GiB"),
            None => TOMBSTONE,
        };
        let mut out = Vec::with_capacity(self.encoded_len());
        // Room for the checksum, filled in once the bytes it covers are there.
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&key_len.to_le_bytes());
        out.extend_from_slice(&value_len.to_le_bytes());
        out.extend_from_slice(&self.key);
        if let Some(value) = &self.value {
            out.extend_from_slice(value);
        }
        let crc = crc32fast::hash(&out[4..]);
        out[..4].copy_from_slice(&crc.to_le_bytes());
        out
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
pub fn decode(buf: &[u8]) -> Result<(Record, usize), DecodeError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Err(DecodeError::Incomplete);
    };
    let word = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    let (crc, key_len, value_len) = (word(0), word(4), word(8));

    // The lengths are not checked yet (the checksum comes last, over all the bytes), so they are
    // only compared with what the buffer holds, in u64 so that no sum can overflow, and nothing
    // is allocated from them.
    let body_len = u64::from(key_len)
        + if value_len == TOMBSTONE {
            0
        } else {
            u64::from(value_len)
        };
    let total = HEADER_LEN as u64 + body_len;
    if (buf.len() as u64) < total {
        return Err(DecodeError::Incomplete);
    }
    let total = total as usize;
    if crc32fast::hash(&buf[4..total]) != crc {
        return Err(DecodeError::Corrupt);
    }

    let key_end = HEADER_LEN + key_len as usize;
    let record = Record {
        key: buf[HEADER_LEN..key_end].to_vec(),
        value: (value_len != TOMBSTONE).then(|| buf[key_end..total].to_vec()),
    };
    Ok((record, total))
}
