//! Hidden checks for primitives/varint.

use judge::prelude::*;
use primitives_varint::{DecodeError, decode, encode, unzigzag, zigzag};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "0, 127, 128, 300, 16384 and u64::MAX encode as the standard bytes",
            known_encodings,
        )
        .check(
            "encode appends after what the buffer holds and returns how many bytes it wrote",
            appends,
        )
        .check(
            "an encoding takes one byte per 7 significant bits, and at least one",
            encoded_length,
        )
        .check(
            "any u64 decodes back to itself, and the bytes after it are left unread",
            round_trip,
        )
        .check(
            "every strict prefix of an encoding, the empty one included, is Incomplete",
            prefixes_are_incomplete,
        )
        .check(
            "a tenth byte above 1 is Overflow, even when more bytes follow",
            overflow,
        )
        .check(
            "padded encodings, with zero groups after the value, decode to the value",
            padded,
        )
        .check(
            "decode agrees with a reference on any bytes",
            matches_reference,
        )
        .check(
            "zigzag maps 0, -1, 1, -2, 2 to 0, 1, 2, 3, 4 and the extremes to the top",
            known_zigzags,
        )
        .check(
            "unzigzag undoes zigzag for any i64, and zigzag undoes unzigzag for any u64",
            zigzag_round_trip,
        )
}

/// Bytes shown in hex, the way the README writes them.
#[derive(PartialEq)]
struct Bytes(Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[")?;
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{byte:#04X}")?;
        }
        f.write_str("]")
    }
}

fn hex(bytes: &[u8]) -> String {
    format!("{:?}", Bytes(bytes.to_vec()))
}

/// Encodes into a fresh buffer: the bytes, and what `encode` said it wrote.
fn encoded(value: u64) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let written = encode(value, &mut out);
    (out, written)
}

/// A varint decoder written differently from the usual loop: collect into a u128, then check the
/// range. The tenth byte must end the value, and may only hold bit 63.
fn reference(bytes: &[u8]) -> Result<(u64, usize), DecodeError> {
    let mut value = 0u128;
    for (i, &byte) in bytes.iter().enumerate() {
        value |= u128::from(byte & 0x7F) << (7 * i);
        if value > u128::from(u64::MAX) || (i == 9 && byte & 0x80 != 0) {
            return Err(DecodeError::Overflow);
        }
        if byte & 0x80 == 0 {
            return Ok((value as u64, i + 1));
        }
    }
    Err(DecodeError::Incomplete)
}

/// Values of every width, not only the huge ones a uniform u64 almost always is.
fn any_width() -> impl Strategy<Value = u64> {
    (any::<u64>(), 0u32..64).prop_map(|(value, shift)| value >> shift)
}

fn known_encodings(_: &mut Ctx) -> CheckResult {
    let cases: [(u64, &[u8]); 7] = [
        (0, &[0x00]),
        (1, &[0x01]),
        (127, &[0x7F]),
        (128, &[0x80, 0x01]),
        (300, &[0xAC, 0x02]),
        (16_384, &[0x80, 0x80, 0x01]),
        (
            u64::MAX,
            &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        ),
    ];
    for (value, bytes) in cases {
        let (out, written) = encoded(value);
        expect_eq(
            format!("encode({value}, &mut vec![])"),
            Bytes(out),
            Bytes(bytes.to_vec()),
        )?;
        expect_eq(
            format!("encode({value}, &mut vec![]) returned"),
            written,
            bytes.len(),
        )?;
        expect_eq(
            format!("decode(&{})", hex(bytes)),
            decode(bytes),
            Ok((value, bytes.len())),
        )?;
    }
    Ok(())
}

fn appends(ctx: &mut Ctx) -> CheckResult {
    let input = (prop::collection::vec(any::<u8>(), 1..20), any_width());
    ctx.forall_named(
        &["before", "value"],
        DEFAULT_CASES,
        input,
        |(before, value)| {
            let mut out = before.clone();
            let written = encode(value, &mut out);
            let mut expected = before.clone();
            expected.extend(encoded(value).0);
            let did = format!(
                "encode({value}, &mut {}) into a non-empty buffer",
                hex(&before)
            );
            expect_eq(
                format!("{did}: the buffer"),
                Bytes(out),
                Bytes(expected.clone()),
            )?;
            expect_eq(
                format!("{did}: the return value"),
                written,
                expected.len() - before.len(),
            )
        },
    )
}

fn encoded_length(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(&["value"], DEFAULT_CASES, any_width(), |value| {
        let bits = 64 - value.leading_zeros() as usize;
        let expected = bits.div_ceil(7).max(1);
        let (out, written) = encoded(value);
        expect_eq(
            format!("encode({value}, &mut vec![]), a {bits}-bit value: bytes written"),
            out.len(),
            expected,
        )?;
        expect_eq(
            format!("encode({value}, &mut vec![]), a {bits}-bit value: returned"),
            written,
            expected,
        )
    })
}

fn round_trip(ctx: &mut Ctx) -> CheckResult {
    let input = (any_width(), prop::collection::vec(any::<u8>(), 0..12));
    ctx.forall_named(
        &["value", "trailing"],
        DEFAULT_CASES,
        input,
        |(value, trailing)| {
            let (mut bytes, _) = encoded(value);
            let len = bytes.len();
            bytes.extend(&trailing);
            expect_eq(
                format!(
                    "decode(&{}): the encoding of {value} followed by {} other bytes",
                    hex(&bytes),
                    trailing.len()
                ),
                decode(&bytes),
                Ok((value, len)),
            )
        },
    )
}

fn prefixes_are_incomplete(ctx: &mut Ctx) -> CheckResult {
    let input = any_width().prop_flat_map(|value| {
        let len = reference_encode(value).len();
        (Just(value), 0..len)
    });
    ctx.forall_named(&["value", "cut"], DEFAULT_CASES, input, |(value, cut)| {
        let bytes = reference_encode(value);
        let prefix = &bytes[..cut];
        expect_eq(
            format!(
                "decode(&{}): the first {cut} of the {} bytes that encode {value}",
                hex(prefix),
                bytes.len()
            ),
            decode(prefix),
            Err(DecodeError::Incomplete),
        )
    })
}

/// The encoding of `value`, built from the most significant group down.
fn reference_encode(value: u64) -> Vec<u8> {
    let groups = (64 - value.leading_zeros() as usize).div_ceil(7).max(1);
    (0..groups)
        .map(|i| {
            let bits = (value >> (7 * i)) as u8 & 0x7F;
            if i + 1 < groups { bits | 0x80 } else { bits }
        })
        .collect()
}

fn overflow(ctx: &mut Ctx) -> CheckResult {
    // The largest value is fine; one bit more is not.
    let mut max = vec![0xFF; 9];
    max.push(0x01);
    expect_eq(
        format!("decode(&{})", hex(&max)),
        decode(&max),
        Ok((u64::MAX, 10)),
    )?;
    let mut one_more = vec![0x80; 9];
    one_more.push(0x02);
    expect_eq(
        format!("decode(&{}): that is 2^64", hex(&one_more)),
        decode(&one_more),
        Err(DecodeError::Overflow),
    )?;
    // Nine continuation bytes, a tenth above 1, and anything after it.
    let input = (
        prop::collection::vec(0x80u8..=0xFF, 9),
        2u8..=0xFF,
        prop::collection::vec(any::<u8>(), 0..6),
    );
    ctx.forall_named(
        &["nine", "tenth", "after"],
        DEFAULT_CASES,
        input,
        |(nine, tenth, after)| {
            let mut bytes = nine;
            bytes.push(tenth);
            bytes.extend(after);
            expect_eq(
                format!("decode(&{}): tenth byte {tenth:#04X}", hex(&bytes)),
                decode(&bytes),
                Err(DecodeError::Overflow),
            )
        },
    )
}

fn padded(ctx: &mut Ctx) -> CheckResult {
    let mut cases: Vec<(Vec<u8>, u64)> = vec![
        (vec![0x80, 0x00], 0),
        (vec![0xFF, 0x80, 0x00], 127),
        (vec![0x80, 0x80, 0x80, 0x00], 0),
    ];
    let mut ten = vec![0x80; 9];
    ten.push(0x00);
    cases.push((ten.clone(), 0));
    ten[9] = 0x01;
    cases.push((ten, 1 << 63));
    for (bytes, value) in cases {
        let len = bytes.len();
        expect_eq(
            format!("decode(&{}): a padded encoding", hex(&bytes)),
            decode(&bytes),
            Ok((value, len)),
        )?;
    }
    // Any value, padded with zero groups up to ten bytes in all.
    let input = any_width().prop_flat_map(|value| {
        let len = reference_encode(value).len();
        (Just(value), len..=10)
    });
    ctx.forall_named(
        &["value", "total"],
        DEFAULT_CASES,
        input,
        |(value, total)| {
            let mut bytes = reference_encode(value);
            while bytes.len() < total {
                *bytes.last_mut().unwrap() |= 0x80;
                bytes.push(0x00);
            }
            expect_eq(
                format!(
                    "decode(&{}): {value}, padded with zero groups to {total} bytes",
                    hex(&bytes)
                ),
                decode(&bytes),
                Ok((value, total)),
            )
        },
    )
}

fn matches_reference(ctx: &mut Ctx) -> CheckResult {
    // Mostly continuation bytes, so that long, unfinished and overlong inputs are common.
    let byte = prop_oneof![3 => 0x80u8..=0xFF, 1 => any::<u8>(), 1 => Just(0x80u8)];
    ctx.forall_named(
        &["bytes"],
        1024,
        prop::collection::vec(byte, 0..16),
        |bytes| {
            expect_eq(
                format!("decode(&{})", hex(&bytes)),
                decode(&bytes),
                reference(&bytes),
            )
        },
    )
}

fn known_zigzags(_: &mut Ctx) -> CheckResult {
    let cases = [
        (0i64, 0u64),
        (-1, 1),
        (1, 2),
        (-2, 3),
        (2, 4),
        (-64, 127),
        (64, 128),
        (i64::MAX, u64::MAX - 1),
        (i64::MIN, u64::MAX),
    ];
    for (signed, unsigned) in cases {
        expect_eq(format!("zigzag({signed})"), zigzag(signed), unsigned)?;
        expect_eq(format!("unzigzag({unsigned})"), unzigzag(unsigned), signed)?;
    }
    Ok(())
}

fn zigzag_round_trip(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_named(&["value"], DEFAULT_CASES, any::<i64>(), |value| {
        expect_eq(
            format!(
                "unzigzag(zigzag({value})), where zigzag gave {}",
                zigzag(value)
            ),
            unzigzag(zigzag(value)),
            value,
        )
    })?;
    ctx.forall_named(&["value"], DEFAULT_CASES, any_width(), |value| {
        expect_eq(
            format!(
                "zigzag(unzigzag({value})), where unzigzag gave {}",
                unzigzag(value)
            ),
            zigzag(unzigzag(value)),
            value,
        )
    })
}
