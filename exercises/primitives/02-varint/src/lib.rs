//! Varints: small numbers in few bytes.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

/// The most bytes a `u64` can take: 64 bits at 7 per byte, rounded up.
pub const MAX_LEN: usize = 10;

/// Why [`decode`] could not read a value.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum DecodeError {
    /// The bytes ran out before a byte without the continuation bit: more may be on the way.
    Incomplete,
    /// The encoding describes a number that does not fit in 64 bits.
    Overflow,
}

/// Appends the LEB128 encoding of `value` to `out` and returns how many bytes it wrote (1 to 10).
///
/// Least significant 7 bits first; every byte but the last has its top bit (0x80) set.
/// `encode(300, &mut out)` appends `[0xAC, 0x02]` and returns 2.
pub fn encode(value: u64, out: &mut Vec<u8>) -> usize {
    todo!()
}

/// Reads one LEB128 value from the start of `bytes`.
///
/// Returns the value and how many bytes it took; anything after them is left alone.
/// Fails with [`DecodeError::Incomplete`] if the bytes end before the value does (an empty slice
/// included), and with [`DecodeError::Overflow`] if the encoding runs past [`MAX_LEN`] bytes or
/// the value needs more than 64 bits (the tenth byte may only be 0 or 1).
/// Padded encodings such as `[0x80, 0x00]` are accepted (the value 0, two bytes).
/// Never panics, whatever the bytes.
pub fn decode(bytes: &[u8]) -> Result<(u64, usize), DecodeError> {
    todo!()
}

/// Maps signed to unsigned so that numbers near zero stay small:
/// 0, -1, 1, -2, 2, ... become 0, 1, 2, 3, 4, ...
pub fn zigzag(value: i64) -> u64 {
    todo!()
}

/// Undoes [`zigzag`]: `unzigzag(zigzag(n)) == n` for every `n`.
pub fn unzigzag(value: u64) -> i64 {
    todo!()
}
