//! CRC-32: a checksum that catches the errors disks and networks actually make.
//!
//! The reference solution: a 256-entry table built at compile time, one lookup per byte.

/// The reflected form of the CRC-32 (IEEE 802.3) generator polynomial.
pub const POLYNOMIAL: u32 = 0xEDB8_8320;

/// For every byte value, what dividing it by the polynomial leaves over.
const TABLE: [u32; 256] = build_table();

const fn build_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut remainder = byte as u32;
        let mut bit = 0;
        while bit < 8 {
            remainder = if remainder & 1 == 1 {
                (remainder >> 1) ^ POLYNOMIAL
            } else {
                remainder >> 1
            };
            bit += 1;
        }
        table[byte] = remainder;
        byte += 1;
    }
    table
}

/// The CRC-32 of `bytes` in one call.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut hasher = Crc32::new();
    hasher.update(bytes);
    hasher.finish()
}

/// A CRC-32 computed over bytes that arrive in pieces.
///
/// Feeding the same bytes in any split gives the same result as [`crc32`] of all of them.
#[derive(Debug, Clone)]
pub struct Crc32 {
    state: u32,
}

impl Crc32 {
    pub fn new() -> Self {
        // Starting from all ones makes leading zero bytes count.
        Self { state: !0 }
    }

    /// Feeds more bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            let index = (self.state ^ u32::from(byte)) & 0xFF;
            self.state = (self.state >> 8) ^ TABLE[index as usize];
        }
    }

    /// The checksum of everything fed so far. Does not consume the hasher: more bytes may follow.
    pub fn finish(&self) -> u32 {
        !self.state
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}
