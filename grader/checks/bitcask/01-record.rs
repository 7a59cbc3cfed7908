//! Hidden checks for bitcask/record.

use std::fmt;

use bitcask_record::{DecodeError, HEADER_LEN, Record, TOMBSTONE, decode};
use judge::prelude::*;
use kit::checksum::crc32;
use kit::crash::show;

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "a record takes 12 header bytes plus its key and its value, and encode makes that many",
            encoded_length,
        )
        .check(
            "put(\"key\", \"value\"), tombstone(\"key\") and put(\"\", \"\") encode as the README's bytes",
            golden_bytes,
        )
        .check(
            "encode follows the layout for any key and value: crc32, key_len, value_len, key, value",
            matches_layout,
        )
        .check(
            "decode gives back any record it is handed, and says it used all of its bytes",
            round_trip,
        )
        .check(
            "a tombstone and a put of an empty value are different records, both ways",
            tombstone_is_not_empty,
        )
        .check(
            "decode reads only its own record: the bytes after it are left for the next one",
            back_to_back,
        )
        .check(
            "every cut-short record, down to the empty buffer, is Incomplete",
            cut_short_is_incomplete,
        )
        .check(
            "any single flipped bit is caught: Corrupt in the checksum, key or value, an error in the lengths",
            single_bit_flips,
        )
        .check(
            "a header that claims gigabytes is Incomplete, with no huge allocation and no overflow",
            huge_lengths,
        )
        .check(
            "decode agrees with a reference decoder on arbitrary bytes, and never panics",
            matches_reference,
        )
        .check(
            "records with a key or value over 64 KiB encode, decode and are cut short like any other",
            big_records,
        )
        .check(
            "zeros are not a record: an all-zero header (and a run of zeros) is Corrupt",
            all_zero_header,
        )
}

/// The layout, written out field by field.
fn reference_encode(record: &Record) -> Vec<u8> {
    let value_len = match &record.value {
        Some(value) => value.len() as u32,
        None => TOMBSTONE,
    };
    let mut covered = Vec::new();
    covered.extend_from_slice(&(record.key.len() as u32).to_le_bytes());
    covered.extend_from_slice(&value_len.to_le_bytes());
    covered.extend_from_slice(&record.key);
    covered.extend_from_slice(record.value.as_deref().unwrap_or_default());
    let mut out = crc32(&covered).to_le_bytes().to_vec();
    out.extend_from_slice(&covered);
    out
}

/// A decoder written for clarity rather than speed, all arithmetic in u128.
fn reference_decode(buf: &[u8]) -> Result<(Record, usize), DecodeError> {
    if buf.len() < HEADER_LEN {
        return Err(DecodeError::Incomplete);
    }
    let word = |at: usize| u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
    let (crc, key_len, value_len) = (word(0), word(4), word(8));
    let value_bytes = if value_len == TOMBSTONE { 0 } else { value_len };
    let total = HEADER_LEN as u128 + u128::from(key_len) + u128::from(value_bytes);
    if (buf.len() as u128) < total {
        return Err(DecodeError::Incomplete);
    }
    let total = total as usize;
    if crc32(&buf[4..total]) != crc {
        return Err(DecodeError::Corrupt);
    }
    let key_end = HEADER_LEN + key_len as usize;
    let record = Record {
        key: buf[HEADER_LEN..key_end].to_vec(),
        value: (value_len != TOMBSTONE).then(|| buf[key_end..total].to_vec()),
    };
    Ok((record, total))
}

/// A record as the README writes it: `put("k", "v")` or `tombstone("k")`.
struct Shown<'a>(&'a Record);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.value {
            Some(value) => write!(f, "put({}, {})", show(&self.0.key), show(value)),
            None => write!(f, "tombstone({})", show(&self.0.key)),
        }
    }
}

/// What decode returned, with the record shown readably.
#[derive(PartialEq)]
struct Decoded(Result<(Record, usize), DecodeError>);

impl fmt::Debug for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok((record, used)) => write!(f, "Ok(({}, {used}))", Shown(record)),
            Err(error) => write!(f, "Err({error:?})"),
        }
    }
}

/// Bytes in hex, for layouts.
#[derive(PartialEq)]
struct Hex(Vec<u8>);

impl fmt::Debug for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{byte:02X}")?;
        }
        f.write_str("]")
    }
}

fn bytes_of(ranges: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    // Mostly letters, so a shrunk failure reads as text; any byte now and then.
    let byte = prop_oneof![4 => b'a'..=b'z', 1 => any::<u8>()];
    prop::collection::vec(byte, ranges)
}

fn records() -> impl Strategy<Value = Record> {
    prop_oneof![
        3 => (bytes_of(0..24), bytes_of(0..80)).prop_map(|(k, v)| Record::put(k, v)),
        1 => bytes_of(0..24).prop_map(Record::tombstone),
    ]
}

#[derive(Clone)]
struct AnyRecord(Record);

impl fmt::Debug for AnyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Shown(&self.0))
    }
}

fn shown_records() -> impl Strategy<Value = AnyRecord> {
    records().prop_map(AnyRecord)
}

fn encoded_length(ctx: &mut Ctx) -> CheckResult {
    ctx.forall(shown_records(), |AnyRecord(record)| {
        let expected = HEADER_LEN + record.key.len() + record.value.as_ref().map_or(0, Vec::len);
        expect_eq(
            format!("{}.encoded_len()", Shown(&record)),
            record.encoded_len(),
            expected,
        )?;
        expect_eq(
            format!("{}.encode().len()", Shown(&record)),
            record.encode().len(),
            expected,
        )
    })
}

fn golden_bytes(_: &mut Ctx) -> CheckResult {
    let cases: [(Record, &[u8]); 3] = [
        (
            Record::put("key", "value"),
            &[
                0x38, 0xA4, 0xA7, 0xFE, 0x03, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x6B, 0x65,
                0x79, 0x76, 0x61, 0x6C, 0x75, 0x65,
            ],
        ),
        (
            Record::tombstone("key"),
            &[
                0xD7, 0x85, 0x27, 0xE5, 0x03, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x6B, 0x65,
                0x79,
            ],
        ),
        (
            Record::put("", ""),
            &[
                0x69, 0xDF, 0x22, 0x65, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            ],
        ),
    ];
    for (record, expected) in cases {
        expect_eq(
            format!("{}.encode()", Shown(&record)),
            Hex(record.encode()),
            Hex(expected.to_vec()),
        )?;
    }
    Ok(())
}

fn matches_layout(ctx: &mut Ctx) -> CheckResult {
    ctx.forall(shown_records(), |AnyRecord(record)| {
        expect_eq(
            format!("{}.encode()", Shown(&record)),
            Hex(record.encode()),
            Hex(reference_encode(&record)),
        )
    })
}

fn round_trip(ctx: &mut Ctx) -> CheckResult {
    ctx.forall(shown_records(), |AnyRecord(record)| {
        let bytes = reference_encode(&record);
        expect_eq(
            format!("decode(&{}.encode())", Shown(&record)),
            Decoded(decode(&bytes)),
            Decoded(Ok((record.clone(), bytes.len()))),
        )?;
        // And through the learner's own encoder.
        expect_eq(
            format!("decode(&{}.encode()) with your encode", Shown(&record)),
            Decoded(decode(&record.encode())),
            Decoded(Ok((record.clone(), bytes.len()))),
        )
    })
}

fn tombstone_is_not_empty(_: &mut Ctx) -> CheckResult {
    for key in [&b"k"[..], b""] {
        let tombstone = Record::tombstone(key);
        let empty = Record::put(key, "");
        expect(
            tombstone.encode() != empty.encode(),
            format!(
                "{} and {} both encode as {:?}: a delete would read back as a put of nothing",
                Shown(&tombstone),
                Shown(&empty),
                Hex(empty.encode())
            ),
        )?;
        for record in [tombstone, empty] {
            let bytes = reference_encode(&record);
            expect_eq(
                format!(
                    "decode({:?}), the bytes of {}",
                    Hex(bytes.clone()),
                    Shown(&record)
                ),
                Decoded(decode(&bytes)),
                Decoded(Ok((record.clone(), bytes.len()))),
            )?;
        }
    }
    Ok(())
}

fn back_to_back(ctx: &mut Ctx) -> CheckResult {
    let input = (shown_records(), shown_records(), bytes_of(0..20));
    ctx.forall(input, |(AnyRecord(first), AnyRecord(second), junk)| {
        let a = reference_encode(&first);
        let b = reference_encode(&second);
        let mut buf = a.clone();
        buf.extend_from_slice(&b);
        buf.extend_from_slice(&junk);
        let did = format!(
            "buf = the bytes of {} ({} bytes), then of {} ({} bytes), then {} more; decode(&buf)",
            Shown(&first),
            a.len(),
            Shown(&second),
            b.len(),
            junk.len()
        );
        expect_eq(
            &did,
            Decoded(decode(&buf)),
            Decoded(Ok((first.clone(), a.len()))),
        )?;
        expect_eq(
            format!("{did}, then decode(&buf[{}..])", a.len()),
            Decoded(decode(&buf[a.len()..])),
            Decoded(Ok((second.clone(), b.len()))),
        )
    })
}

fn cut_short_is_incomplete(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_n(128, shown_records(), |AnyRecord(record)| {
        let bytes = reference_encode(&record);
        for cut in 0..bytes.len() {
            expect_eq(
                format!(
                    "decode of the first {cut} of the {} bytes of {}",
                    bytes.len(),
                    Shown(&record)
                ),
                Decoded(decode(&bytes[..cut])),
                Decoded(Err(DecodeError::Incomplete)),
            )?;
        }
        Ok(())
    })
}

fn single_bit_flips(ctx: &mut Ctx) -> CheckResult {
    let input = shown_records().prop_flat_map(|record| {
        let bits = reference_encode(&record.0).len() * 8;
        (Just(record), 0..bits)
    });
    ctx.forall(input, |(AnyRecord(record), bit)| {
        let mut bytes = reference_encode(&record);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let byte = bit / 8;
        let field = match byte {
            0..4 => "the checksum",
            4..8 => "key_len",
            8..12 => "value_len",
            _ if byte < HEADER_LEN + record.key.len() => "the key",
            _ => "the value",
        };
        let got = decode(&bytes);
        let did = format!(
            "flipped bit {} of byte {byte} (in {field}) of the bytes of {}, then decode",
            bit % 8,
            Shown(&record)
        );
        if (4..HEADER_LEN).contains(&byte) {
            // A damaged length may ask for more bytes than there are, or frame the wrong ones.
            expect(
                got.is_err(),
                format!(
                    "did:      {did}\nexpected: Err(Incomplete) or Err(Corrupt)\ngot:      {:?}",
                    Decoded(got.clone())
                ),
            )
        } else {
            expect_eq(did, Decoded(got), Decoded(Err(DecodeError::Corrupt)))
        }
    })
}

/// A header with the given lengths and checksum, then `body` bytes.
fn header(crc: u32, key_len: u32, value_len: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&key_len.to_le_bytes());
    out.extend_from_slice(&value_len.to_le_bytes());
    out.extend_from_slice(body);
    out
}

fn huge_lengths(ctx: &mut Ctx) -> CheckResult {
    let cases: [(u32, u32, &str); 6] = [
        (u32::MAX, 0, "key_len u32::MAX"),
        (0, u32::MAX - 1, "value_len u32::MAX - 1"),
        (u32::MAX, TOMBSTONE, "key_len u32::MAX in a tombstone"),
        (
            u32::MAX,
            u32::MAX - 1,
            "key_len u32::MAX and value_len u32::MAX - 1",
        ),
        (
            0x8000_0000,
            0x8000_0000,
            "two lengths of 2 GiB (their u32 sum is 0)",
        ),
        (
            16,
            u32::MAX - 20,
            "lengths whose u32 sum, plus 12, wraps to 8",
        ),
    ];
    for (key_len, value_len, what) in cases {
        let buf = header(0xDEAD_BEEF, key_len, value_len, b"only a few bytes");
        let did = format!(
            "decode of a {}-byte buffer whose header says {what} ({key_len:#X}, {value_len:#X})",
            buf.len()
        );
        ctx.doing(&did);
        expect_eq(
            did,
            Decoded(decode(&buf)),
            Decoded(Err(DecodeError::Incomplete)),
        )?;
    }
    Ok(())
}

/// Bytes that look like a record's start: lengths small, huge or the tombstone mark, a
/// checksum right or wrong, and a body that may be short, exact or too long.
#[derive(Clone)]
struct Bytes(Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() < HEADER_LEN {
            return write!(f, "{:?}", Hex(self.0.clone()));
        }
        let word = |at: usize| {
            u32::from_le_bytes([self.0[at], self.0[at + 1], self.0[at + 2], self.0[at + 3]])
        };
        write!(
            f,
            "crc {:#010X}, key_len {:#X}, value_len {:#X}, then {:?}",
            word(0),
            word(4),
            word(8),
            Hex(self.0[HEADER_LEN..].to_vec())
        )
    }
}

fn record_like() -> impl Strategy<Value = Bytes> {
    let length = prop_oneof![
        4 => 0u32..12,
        1 => Just(TOMBSTONE),
        1 => (0u32..12).prop_map(|n| u32::MAX - 1 - n),
        1 => any::<u32>(),
    ];
    let short = prop::collection::vec(any::<u8>(), 0..HEADER_LEN).prop_map(Bytes);
    let framed = (
        length.clone(),
        length,
        any::<bool>(),
        any::<u32>(),
        bytes_of(0..30),
    )
        .prop_map(|(key_len, value_len, right_crc, crc, body)| {
            let mut buf = header(0, key_len, value_len, &body);
            let value_bytes = if value_len == TOMBSTONE { 0 } else { value_len };
            let total = HEADER_LEN as u64 + u64::from(key_len) + u64::from(value_bytes);
            let crc = if right_crc && total <= buf.len() as u64 {
                crc32(&buf[4..total as usize])
            } else {
                crc
            };
            buf[..4].copy_from_slice(&crc.to_le_bytes());
            Bytes(buf)
        });
    prop_oneof![4 => framed, 1 => short]
}

fn matches_reference(ctx: &mut Ctx) -> CheckResult {
    ctx.forall_n(512, record_like(), |Bytes(buf)| {
        expect_eq(
            format!("decode({:?})", Bytes(buf.clone())),
            Decoded(decode(&buf)),
            Decoded(reference_decode(&buf)),
        )
    })
}

fn big_records(ctx: &mut Ctx) -> CheckResult {
    let mut state = ctx.seed() | 1;
    let mut bytes = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    };
    let cases = [
        Record::put(bytes(3), bytes(70_000)),
        Record::put(bytes(66_000), bytes(5)),
        Record::put(Vec::new(), bytes(1 << 17)),
        Record::tombstone(bytes(65_537)),
        Record::put(Vec::new(), Vec::new()),
    ];
    for record in cases {
        let shown = Shown(&record).to_string();
        let bytes = reference_encode(&record);
        ctx.doing(format!("encode and decode {shown}"));
        expect_eq(
            format!("{shown}.encoded_len()"),
            record.encoded_len(),
            bytes.len(),
        )?;
        expect(
            record.encode() == bytes,
            format!(
                "did:      {shown}.encode()\nexpected: the layout's {} bytes\ngot:      other bytes",
                bytes.len()
            ),
        )?;
        expect_eq(
            format!("decode of the {} bytes of {shown}", bytes.len()),
            Decoded(decode(&bytes)),
            Decoded(Ok((record.clone(), bytes.len()))),
        )?;
        for cut in [bytes.len() - 1, HEADER_LEN + 1, (1 << 16) + HEADER_LEN] {
            if cut >= bytes.len() {
                continue;
            }
            expect_eq(
                format!(
                    "decode of the first {cut} of the {} bytes of {shown}",
                    bytes.len()
                ),
                Decoded(decode(&bytes[..cut])),
                Decoded(Err(DecodeError::Incomplete)),
            )?;
        }
    }
    Ok(())
}

fn all_zero_header(_: &mut Ctx) -> CheckResult {
    // A torn sector reads back as zeros. Twelve zeros say key_len 0 and value_len 0, a whole
    // record of twelve bytes, but the checksum of its eight length bytes is not 0.
    for len in [HEADER_LEN, HEADER_LEN + 1, 512] {
        let zeros = vec![0u8; len];
        expect_eq(
            format!(
                "decode of {len} zero bytes (crc 0, key_len 0, value_len 0: the crc32 of the \
                 lengths is {:#010X}, not 0)",
                crc32(&[0; 8])
            ),
            Decoded(decode(&zeros)),
            Decoded(Err(DecodeError::Corrupt)),
        )?;
    }
    Ok(())
}
