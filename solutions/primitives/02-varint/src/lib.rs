//! Varints: small numbers in few bytes.
//!
//! The reference solution: unsigned LEB128 (as in protobuf, WebAssembly and DWARF) and zigzag
//! for signed numbers.

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
pub fn encode(mut value: u64, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    // Every byte but the last carries 7 bits and the continuation bit (0x80).
    while value >= 0x80 {
        out.push((value & 0x7F) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
    out.len() - start
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
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(MAX_LEN) {
        let bits = u64::from(byte & 0x7F);
        // The tenth byte lands at bit 63, so only its lowest bit fits. Checking the whole byte
        // also rejects a continuation bit there: an eleventh byte could only add more bits.
        if i == MAX_LEN - 1 && byte > 1 {
            return Err(DecodeError::Overflow);
        }
        value |= bits << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    // Fewer than ten bytes, and the last of them said "more follows".
    Err(DecodeError::Incomplete)
}

/// Maps signed to unsigned so that numbers near zero stay small:
/// 0, -1, 1, -2, 2, ... become 0, 1, 2, 3, 4, ...
pub fn zigzag(value: i64) -> u64 {
    // `value >> 63` is an arithmetic shift: all ones for a negative number, all zeros otherwise,
    // so the XOR flips every bit of a negative number and leaves the rest alone.
    ((value << 1) ^ (value >> 63)) as u64
}

/// Undoes [`zigzag`]: `unzigzag(zigzag(n)) == n` for every `n`.
pub fn unzigzag(value: u64) -> i64 {
    // The lowest bit is the sign; `0 - 1` is all ones, which flips the remaining bits back.
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}
