//! Hidden checks for primitives/crc32.

use judge::prelude::*;
// The slowest correct CRC-32 there is, one bit at a time, no table: the oracle.
use kit::checksum::crc32 as reference;
use primitives_crc32::{Crc32, crc32};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "the standard check value: crc32(\"123456789\") = 0xCBF43926",
            check_value,
        )
        .check("the empty input has checksum 0", empty_input)
        .check(
            "agrees with a bit-at-a-time reference on any bytes",
            matches_reference,
        )
        .check(
            "every one-byte input agrees with the reference, and so do buffers of 64 KiB and more",
            single_bytes_and_long_buffers,
        )
        .check(
            "feeding bytes in pieces gives the one-call checksum",
            pieces,
        )
        .check(
            "finish() can be called, then more bytes fed",
            finish_then_more,
        )
        .check(
            "any single flipped bit changes the checksum",
            single_bit_flips,
        )
        .check("any burst of errors up to 32 bits long is caught", bursts)
        .check(
            "Crc32::default() starts where Crc32::new() does",
            default_is_new,
        )
}

#[derive(PartialEq)]
struct Hex(u32);

impl std::fmt::Debug for Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#010X}", self.0)
    }
}

fn check_value(_: &mut Ctx) -> CheckResult {
    expect_eq(
        "crc32(b\"123456789\")",
        Hex(crc32(b"123456789")),
        Hex(0xCBF4_3926),
    )
}

fn empty_input(_: &mut Ctx) -> CheckResult {
    expect_eq("crc32(b\"\")", Hex(crc32(b"")), Hex(0))?;
    expect_eq("Crc32::new().finish()", Hex(Crc32::new().finish()), Hex(0))
}

fn matches_reference(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(
        &["bytes"],
        DEFAULT_CASES,
        prop::collection::vec(any::<u8>(), 0..300),
        |bytes| {
            expect_eq(
                format!("crc32(&{bytes:?})"),
                Hex(crc32(&bytes)),
                Hex(reference(&bytes)),
            )
        },
    )
}

fn single_bytes_and_long_buffers(_: &mut Ctx) -> CheckResult {
    // One byte each: a wrong table entry shows as the one byte that reaches it first.
    for byte in 0..=u8::MAX {
        expect_eq(
            format!("crc32(&[{byte}])"),
            Hex(crc32(&[byte])),
            Hex(reference(&[byte])),
        )?;
    }
    // Lengths past what a u16 counts, and past 1 MiB: a length or an index kept in a narrow
    // type wraps here.
    for len in [65_535, 65_536, 65_537, (1 << 20) + 3] {
        let bytes: Vec<u8> = (0..len).map(|i: usize| (i * 31 + 7) as u8).collect();
        expect_eq(
            format!("crc32 of {len} bytes, byte i being (i * 31 + 7) % 256"),
            Hex(crc32(&bytes)),
            Hex(reference(&bytes)),
        )?;
    }
    Ok(())
}

fn pieces(ctx: &mut Ctx) -> CheckResult {
    let input = prop::collection::vec(any::<u8>(), 0..200)
        .prop_flat_map(|bytes| {
            let len = bytes.len();
            (Just(bytes), prop::collection::vec(0..=len, 0..5))
        })
        .prop_map(|(bytes, mut cuts)| {
            cuts.sort_unstable();
            (bytes, cuts)
        });
    ctx.forall_named(&["bytes", "cuts"], DEFAULT_CASES, input, |(bytes, cuts)| {
        let mut hasher = Crc32::new();
        let mut start = 0;
        let mut pieces = Vec::new();
        for &cut in cuts.iter().chain([&bytes.len()]) {
            hasher.update(&bytes[start..cut]);
            pieces.push(&bytes[start..cut]);
            start = cut;
        }
        expect_eq(
            format!("Crc32::new(), update() with each of {pieces:?}, then finish()"),
            Hex(hasher.finish()),
            Hex(reference(&bytes)),
        )
    })
}

fn finish_then_more(_: &mut Ctx) -> CheckResult {
    let mut hasher = Crc32::new();
    hasher.update(b"1234");
    let halfway = hasher.finish();
    hasher.update(b"56789");
    expect_eq(
        "update(b\"1234\"), finish()",
        Hex(halfway),
        Hex(reference(b"1234")),
    )?;
    expect_eq(
        "update(b\"1234\"), finish(), update(b\"56789\"), finish()",
        Hex(hasher.finish()),
        Hex(0xCBF4_3926),
    )
}

fn single_bit_flips(ctx: &mut Ctx) -> CheckResult {
    let input = prop::collection::vec(any::<u8>(), 1..100).prop_flat_map(|bytes| {
        let bits = bytes.len() * 8;
        (Just(bytes), 0..bits)
    });
    ctx.forall_named(&["bytes", "bit"], DEFAULT_CASES, input, |(bytes, bit)| {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        expect(
            crc32(&bytes) != crc32(&flipped),
            format!(
                "flipping bit {bit} of {bytes:?} left the checksum unchanged ({:#010X})",
                crc32(&bytes)
            ),
        )
    })
}

fn bursts(ctx: &mut Ctx) -> CheckResult {
    // A burst: the first and last changed bits are at most 32 apart, anything between may flip.
    let input = prop::collection::vec(any::<u8>(), 8..100).prop_flat_map(|bytes| {
        let bits = bytes.len() * 8;
        (Just(bytes), 0..bits - 32, 1u32..=32, any::<u32>())
    });
    ctx.forall_named(
        &["bytes", "start", "length", "noise"],
        DEFAULT_CASES,
        input,
        |(bytes, start, length, noise)| {
            let mut pattern = noise | 1 | (1 << (length - 1));
            if length < 32 {
                pattern &= (1 << length) - 1;
            }
            let mut corrupted = bytes.clone();
            for i in 0..length as usize {
                if pattern >> i & 1 == 1 {
                    let bit = start + i;
                    corrupted[bit / 8] ^= 1 << (bit % 8);
                }
            }
            expect(
                crc32(&bytes) != crc32(&corrupted),
                format!(
                    "a burst of {length} bits at bit {start} turned {bytes:?} into {corrupted:?}, \
                 and both have checksum {:#010X}",
                    crc32(&bytes)
                ),
            )
        },
    )
}

fn default_is_new(_: &mut Ctx) -> CheckResult {
    expect_eq(
        "Crc32::default().finish()",
        Hex(Crc32::default().finish()),
        Hex(0),
    )?;
    let mut hasher = Crc32::default();
    hasher.update(b"123456789");
    expect_eq(
        "Crc32::default(), update(b\"123456789\"), finish()",
        Hex(hasher.finish()),
        Hex(0xCBF4_3926),
    )
}
