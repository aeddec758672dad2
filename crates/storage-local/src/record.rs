//! The byte layout of every value the backend stores in redb.
//!
//! Every record is `[tag: u8][crc32: u32 LE][payload]`. The tag names the kind of record and
//! its layout version; the CRC-32 (IEEE, as computed by `crc32fast`) covers the tag and the
//! payload. redb checksums its pages but verifies them only when it repairs or checks a file, so
//! without this a flipped bit on disk would be read back as data; with it, every read of a damaged
//! record fails with [`RecordError::Checksum`].
//!
//! Decoding never panics and never allocates more than the input it is given: every length is
//! checked against the bytes actually present before anything is sliced or copied.
//! docs/storage-local.md lists the layouts; the golden tests below pin their exact bytes.

#![warn(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

/// Length of the record header: the tag and the CRC-32.
pub(crate) const HEADER_LEN: usize = 5;

/// Tag of the store's layout record (`meta` table, key `layout`), version 1.
pub(crate) const TAG_LAYOUT_V1: u8 = 0x01;
/// Tag of a counter record (`meta` table, key `next-generation`), version 1.
pub(crate) const TAG_COUNTER_V1: u8 = 0x02;
/// Tag of a KV entry, version 1.
pub(crate) const TAG_KV_V1: u8 = 0x10;
/// Tag of a KV expiry-index entry, version 1 (empty payload; the key carries the data).
pub(crate) const TAG_KV_EXPIRY_V1: u8 = 0x11;
/// Tag of a state entry, version 1.
pub(crate) const TAG_STATE_V1: u8 = 0x20;
/// Tag of a state alarm, version 1.
pub(crate) const TAG_ALARM_V1: u8 = 0x21;
/// Tag of an object's metadata, version 1.
pub(crate) const TAG_OBJECT_META_V1: u8 = 0x30;
/// Tag of one chunk of an object's body, version 1.
pub(crate) const TAG_OBJECT_CHUNK_V1: u8 = 0x31;

/// Why a stored record could not be decoded: the file was damaged or written by something else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum RecordError {
    /// Fewer bytes than the layout needs.
    #[error("record truncated: {field} needs {needed} bytes, {available} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A tag this version does not know, or a record of another kind where one was expected.
    #[error("record tag {found:#04x} where {expected:#04x} was expected")]
    Tag {
        /// The tag read.
        found: u8,
        /// The tag the table holds.
        expected: u8,
    },
    /// The CRC-32 stored does not match the bytes: the record was damaged on disk.
    #[error("record checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// The checksum stored in the header.
        stored: u32,
        /// The checksum of the bytes read.
        computed: u32,
    },
    /// A field holds a value the layout does not allow.
    #[error("record field {field} is invalid: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

fn crc(tag: u8, payload: &[&[u8]]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&[tag]);
    for part in payload {
        hasher.update(part);
    }
    hasher.finalize()
}

/// Seals a payload made of `parts` under `tag`: header then the parts, concatenated.
pub(crate) fn seal(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = parts
        .iter()
        .map(|p| p.len())
        .fold(HEADER_LEN, usize::saturating_add);
    let mut out = Vec::with_capacity(len);
    out.push(tag);
    out.extend_from_slice(&crc(tag, parts).to_le_bytes());
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

/// Checks the header of `bytes` against `expected` and its checksum, and returns the payload.
pub(crate) fn unseal(expected: u8, bytes: &[u8]) -> Result<&[u8], RecordError> {
    let ([tag, c0, c1, c2, c3], payload) = read_array::<HEADER_LEN>(bytes, "header")?;
    if tag != expected {
        return Err(RecordError::Tag {
            found: tag,
            expected,
        });
    }
    let stored = u32::from_le_bytes([c0, c1, c2, c3]);
    let computed = crc(tag, &[payload]);
    if stored != computed {
        return Err(RecordError::Checksum { stored, computed });
    }
    Ok(payload)
}

fn split<'a>(
    bytes: &'a [u8],
    n: usize,
    field: &'static str,
) -> Result<(&'a [u8], &'a [u8]), RecordError> {
    if bytes.len() < n {
        return Err(RecordError::Truncated {
            field,
            needed: n,
            available: bytes.len(),
        });
    }
    Ok(bytes.split_at(n))
}

fn read_array<'a, const N: usize>(
    bytes: &'a [u8],
    field: &'static str,
) -> Result<([u8; N], &'a [u8]), RecordError> {
    let (head, rest) = split(bytes, N, field)?;
    let array = <[u8; N]>::try_from(head).map_err(|_| RecordError::Truncated {
        field,
        needed: N,
        available: head.len(),
    })?;
    Ok((array, rest))
}

fn read_u64<'a>(bytes: &'a [u8], field: &'static str) -> Result<(u64, &'a [u8]), RecordError> {
    read_array(bytes, field).map(|(a, rest)| (u64::from_le_bytes(a), rest))
}

fn read_u32<'a>(bytes: &'a [u8], field: &'static str) -> Result<(u32, &'a [u8]), RecordError> {
    read_array(bytes, field).map(|(a, rest)| (u32::from_le_bytes(a), rest))
}

/// Reads a flags byte whose bits outside `allowed` must be clear.
fn read_flags<'a>(
    bytes: &'a [u8],
    allowed: u8,
    field: &'static str,
) -> Result<(u8, &'a [u8]), RecordError> {
    let ([flags], rest) = read_array(bytes, field)?;
    if flags & !allowed != 0 {
        return Err(RecordError::Invalid {
            field,
            reason: "unknown bits set",
        });
    }
    Ok((flags, rest))
}

/// Reads a `u32 LE` length then that many bytes.
fn read_bytes<'a>(
    bytes: &'a [u8],
    field: &'static str,
) -> Result<(&'a [u8], &'a [u8]), RecordError> {
    let (len, rest) = read_u32(bytes, field)?;
    let len = usize::try_from(len).map_err(|_| RecordError::Invalid {
        field,
        reason: "length exceeds usize",
    })?;
    split(rest, len, field)
}

fn len_u32(bytes: &[u8]) -> [u8; 4] {
    // Lengths are bounded by the backend's size limits (far below 4 GiB) before encoding.
    u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes()
}

/// Layout record: `[version: u32 LE]`.
pub(crate) fn encode_layout(version: u32) -> Vec<u8> {
    seal(TAG_LAYOUT_V1, &[&version.to_le_bytes()])
}

/// Decodes a layout record.
pub(crate) fn decode_layout(bytes: &[u8]) -> Result<u32, RecordError> {
    let payload = unseal(TAG_LAYOUT_V1, bytes)?;
    let (version, rest) = read_u32(payload, "layout version")?;
    expect_end(rest, "layout")?;
    Ok(version)
}

/// Counter record: `[value: u64 LE]`.
pub(crate) fn encode_counter(value: u64) -> Vec<u8> {
    seal(TAG_COUNTER_V1, &[&value.to_le_bytes()])
}

/// Decodes a counter record.
pub(crate) fn decode_counter(bytes: &[u8]) -> Result<u64, RecordError> {
    let payload = unseal(TAG_COUNTER_V1, bytes)?;
    let (value, rest) = read_u64(payload, "counter")?;
    expect_end(rest, "counter")?;
    Ok(value)
}

fn expect_end(rest: &[u8], field: &'static str) -> Result<(), RecordError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(RecordError::Invalid {
            field,
            reason: "trailing bytes",
        })
    }
}

/// A decoded KV entry, borrowing from the stored bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KvEntry<'a> {
    /// Expiry in milliseconds since the Unix epoch; `None` never expires.
    pub(crate) expires_at_ms: Option<u64>,
    /// The caller's metadata, if any.
    pub(crate) metadata: Option<&'a [u8]>,
    /// The value.
    pub(crate) value: &'a [u8],
}

/// KV entry: `[flags: u8][expires_at_ms: u64 LE][metadata_len: u32 LE][metadata][value...]`.
///
/// Flags: bit 0 = has expiry, bit 1 = has metadata; other bits must be zero. A field whose flag
/// is clear is still present (zeroed), so the layout has one fixed-size prefix.
pub(crate) fn encode_kv(entry: &KvEntry<'_>) -> Vec<u8> {
    let flags = u8::from(entry.expires_at_ms.is_some()) | (u8::from(entry.metadata.is_some()) << 1);
    let metadata = entry.metadata.unwrap_or_default();
    seal(
        TAG_KV_V1,
        &[
            &[flags],
            &entry.expires_at_ms.unwrap_or(0).to_le_bytes(),
            &len_u32(metadata),
            metadata,
            entry.value,
        ],
    )
}

/// Decodes a KV entry.
pub(crate) fn decode_kv(bytes: &[u8]) -> Result<KvEntry<'_>, RecordError> {
    let payload = unseal(TAG_KV_V1, bytes)?;
    let (flags, rest) = read_flags(payload, 0b11, "kv flags")?;
    let (expires, rest) = read_u64(rest, "kv expires_at_ms")?;
    let (metadata, value) = read_bytes(rest, "kv metadata")?;
    Ok(KvEntry {
        expires_at_ms: (flags & 0b01 != 0).then_some(expires),
        metadata: (flags & 0b10 != 0).then_some(metadata),
        value,
    })
}

/// KV expiry-index record: empty payload (the index key carries expiry and key).
pub(crate) fn encode_kv_expiry() -> Vec<u8> {
    seal(TAG_KV_EXPIRY_V1, &[])
}

/// Index key of the KV expiry index: `[expires_at_ms: u64 BE][key]`, so a range scan from the
/// start up to "now" yields exactly the expired entries, oldest first.
pub(crate) fn kv_expiry_key(expires_at_ms: u64, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8usize.saturating_add(key.len()));
    out.extend_from_slice(&expires_at_ms.to_be_bytes());
    out.extend_from_slice(key);
    out
}

/// Splits an expiry-index key into expiry and KV key.
pub(crate) fn split_kv_expiry_key(index_key: &[u8]) -> Result<(u64, &[u8]), RecordError> {
    let (at, key) = read_array(index_key, "kv expiry index key")?;
    Ok((u64::from_be_bytes(at), key))
}

/// State entry: `[value...]`.
pub(crate) fn encode_state(value: &[u8]) -> Vec<u8> {
    seal(TAG_STATE_V1, &[value])
}

/// Decodes a state entry.
pub(crate) fn decode_state(bytes: &[u8]) -> Result<&[u8], RecordError> {
    unseal(TAG_STATE_V1, bytes)
}

/// Alarm: `[at_ms: u64 LE]`.
pub(crate) fn encode_alarm(at_ms: u64) -> Vec<u8> {
    seal(TAG_ALARM_V1, &[&at_ms.to_le_bytes()])
}

/// Decodes an alarm.
pub(crate) fn decode_alarm(bytes: &[u8]) -> Result<u64, RecordError> {
    let payload = unseal(TAG_ALARM_V1, bytes)?;
    let (at, rest) = read_u64(payload, "alarm at_ms")?;
    expect_end(rest, "alarm")?;
    Ok(at)
}

/// A decoded object metadata record, borrowing from the stored bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ObjectMeta<'a> {
    /// Body length in bytes.
    pub(crate) size: u64,
    /// Last write, milliseconds since the Unix epoch (from the injected clock).
    pub(crate) uploaded_ms: u64,
    /// The body's chunk size at write time (chunks are this size except the last).
    pub(crate) chunk_size: u32,
    /// Unique id of this version of the object; chunk keys include it.
    pub(crate) generation: u64,
    /// Content hash, the etag.
    pub(crate) etag: &'a [u8],
    /// The caller's metadata, if any.
    pub(crate) metadata: Option<&'a [u8]>,
}

/// Object metadata: `[flags: u8][size: u64 LE][uploaded_ms: u64 LE][chunk_size: u32 LE]
/// [generation: u64 LE][etag_len: u32 LE][etag][metadata_len: u32 LE][metadata]`.
///
/// Flags: bit 0 = has metadata; other bits must be zero.
pub(crate) fn encode_object_meta(meta: &ObjectMeta<'_>) -> Vec<u8> {
    let flags = u8::from(meta.metadata.is_some());
    let metadata = meta.metadata.unwrap_or_default();
    seal(
        TAG_OBJECT_META_V1,
        &[
            &[flags],
            &meta.size.to_le_bytes(),
            &meta.uploaded_ms.to_le_bytes(),
            &meta.chunk_size.to_le_bytes(),
            &meta.generation.to_le_bytes(),
            &len_u32(meta.etag),
            meta.etag,
            &len_u32(metadata),
            metadata,
        ],
    )
}

/// Decodes object metadata.
pub(crate) fn decode_object_meta(bytes: &[u8]) -> Result<ObjectMeta<'_>, RecordError> {
    let payload = unseal(TAG_OBJECT_META_V1, bytes)?;
    let (flags, rest) = read_flags(payload, 0b1, "object flags")?;
    let (size, rest) = read_u64(rest, "object size")?;
    let (uploaded_ms, rest) = read_u64(rest, "object uploaded_ms")?;
    let (chunk_size, rest) = read_u32(rest, "object chunk_size")?;
    if chunk_size == 0 {
        return Err(RecordError::Invalid {
            field: "object chunk_size",
            reason: "zero",
        });
    }
    let (generation, rest) = read_u64(rest, "object generation")?;
    let (etag, rest) = read_bytes(rest, "object etag")?;
    let (metadata, rest) = read_bytes(rest, "object metadata")?;
    expect_end(rest, "object")?;
    Ok(ObjectMeta {
        size,
        uploaded_ms,
        chunk_size,
        generation,
        etag,
        metadata: (flags & 0b1 != 0).then_some(metadata),
    })
}

/// Object chunk: `[bytes...]`.
pub(crate) fn encode_chunk(bytes: &[u8]) -> Vec<u8> {
    seal(TAG_OBJECT_CHUNK_V1, &[bytes])
}

/// Decodes an object chunk.
pub(crate) fn decode_chunk(bytes: &[u8]) -> Result<&[u8], RecordError> {
    unseal(TAG_OBJECT_CHUNK_V1, bytes)
}

/// Key of one body chunk: `[generation: u64 BE][index: u32 BE]`. Generations are unique per
/// store, so a new version of an object never shares chunk keys with the one it replaces.
pub(crate) fn chunk_key(generation: u64, index: u32) -> [u8; 12] {
    let mut out = [0u8; 12];
    let (g, i) = out.split_at_mut(8);
    g.copy_from_slice(&generation.to_be_bytes());
    i.copy_from_slice(&index.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        reason = "tests"
    )]

    use super::*;

    fn check<T: std::fmt::Debug + PartialEq<U>, U: std::fmt::Debug>(actual: T, expected: U) {
        assert_eq!(actual, expected);
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The exact bytes of every record kind. A change here is a change of the on-disk format:
    /// it needs a new tag, and decoders keep reading the old one.
    #[test]
    fn golden_bytes() {
        check(hex(&encode_layout(1)), "01c8b9fe4301000000");
        check(hex(&encode_counter(5)), "024c321f800500000000000000");
        check(hex(&encode_state(b"ab")), "2060c556186162");
        check(hex(&encode_alarm(0x0102)), "21878ed1970201000000000000");
        check(
            hex(&encode_kv(&KvEntry {
                expires_at_ms: Some(7),
                metadata: Some(b"m"),
                value: b"v",
            })),
            "1034a745dc030700000000000000010000006d76",
        );
        check(hex(&encode_kv_expiry()), "117fcfb2b8");
        check(
            hex(&encode_object_meta(&ObjectMeta {
                size: 5,
                uploaded_ms: 9,
                chunk_size: 4,
                generation: 3,
                etag: b"abc",
                metadata: Some(b"{}"),
            })),
            "3071a40029010500000000000000090000000000000004000000030000000000000003000000616263020000007b7d",
        );
        check(hex(&encode_chunk(b"y")), "31d5dc5dae79");
        check(hex(&chunk_key(1, 2)), "000000000000000100000002");
        check(hex(&kv_expiry_key(0x0a, b"k")), "000000000000000a6b");
    }

    #[test]
    fn round_trips() {
        let kv = KvEntry {
            expires_at_ms: None,
            metadata: None,
            value: b"\x00\xff",
        };
        check(decode_kv(&encode_kv(&kv)), Ok(kv));
        let kv = KvEntry {
            expires_at_ms: Some(u64::MAX),
            metadata: Some(b""),
            value: b"",
        };
        check(decode_kv(&encode_kv(&kv)), Ok(kv));
        let meta = ObjectMeta {
            size: 5,
            uploaded_ms: 9,
            chunk_size: 4,
            generation: 3,
            etag: b"abc",
            metadata: Some(b"{}"),
        };
        check(decode_object_meta(&encode_object_meta(&meta)), Ok(meta));
        check(decode_layout(&encode_layout(7)), Ok(7));
        check(decode_alarm(&encode_alarm(42)), Ok(42));
        check(decode_state(&encode_state(b"x")), Ok(&b"x"[..]));
        check(decode_chunk(&encode_chunk(b"y")), Ok(&b"y"[..]));
        check(
            split_kv_expiry_key(&kv_expiry_key(5, b"key")),
            Ok((5, &b"key"[..])),
        );
    }

    #[test]
    fn damaged_records_are_reported() {
        let mut bytes = encode_state(b"hello");
        bytes[6] ^= 0x01;
        check(
            decode_state(&bytes),
            Err(RecordError::Checksum {
                stored: 0x465c_f50e,
                computed: 0xfee0_926b,
            }),
        );
        check(
            decode_state(&[]),
            Err(RecordError::Truncated {
                field: "header",
                needed: 5,
                available: 0,
            }),
        );
        check(
            decode_kv(&encode_state(b"x")),
            Err(RecordError::Tag {
                found: 0x20,
                expected: 0x10,
            }),
        );
        check(
            decode_kv(&seal(TAG_KV_V1, &[&[0b100]])),
            Err(RecordError::Invalid {
                field: "kv flags",
                reason: "unknown bits set",
            }),
        );
        check(
            decode_kv(&seal(TAG_KV_V1, &[&[0], &[0; 8], &[9, 0, 0, 0]])),
            Err(RecordError::Truncated {
                field: "kv metadata",
                needed: 9,
                available: 0,
            }),
        );
        check(
            decode_layout(&seal(TAG_LAYOUT_V1, &[&[1, 0, 0, 0, 0]])),
            Err(RecordError::Invalid {
                field: "layout",
                reason: "trailing bytes",
            }),
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // Every prefix and every single-byte corruption of valid records decodes to Ok or Err.
        let records = [
            encode_kv(&KvEntry {
                expires_at_ms: Some(1),
                metadata: Some(b"meta"),
                value: b"value",
            }),
            encode_object_meta(&ObjectMeta {
                size: 1,
                uploaded_ms: 2,
                chunk_size: 3,
                generation: 4,
                etag: b"e",
                metadata: None,
            }),
            encode_alarm(1),
            encode_layout(1),
        ];
        for record in &records {
            for end in 0..=record.len() {
                let prefix = &record[..end];
                let _ = (
                    decode_kv(prefix),
                    decode_object_meta(prefix),
                    decode_alarm(prefix),
                    decode_layout(prefix),
                );
            }
            for i in 0..record.len() {
                let mut bytes = record.clone();
                bytes[i] ^= 0x80;
                let _ = (
                    decode_kv(&bytes),
                    decode_object_meta(&bytes),
                    decode_alarm(&bytes),
                    decode_layout(&bytes),
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Decoding any bytes as any record kind returns Ok or Err, never panics.
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = (
                decode_layout(&bytes),
                decode_counter(&bytes),
                decode_kv(&bytes),
                decode_state(&bytes),
                decode_alarm(&bytes),
                decode_object_meta(&bytes),
                decode_chunk(&bytes),
                split_kv_expiry_key(&bytes),
            );
        }

        /// A KV entry decodes to what was encoded, for any field values.
        #[test]
        fn kv_entries_round_trip(
            expires in proptest::option::of(proptest::prelude::any::<u64>()),
            metadata in proptest::option::of(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)),
            value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
        ) {
            let entry = KvEntry { expires_at_ms: expires, metadata: metadata.as_deref(), value: &value };
            let encoded = encode_kv(&entry);
            proptest::prop_assert_eq!(decode_kv(&encoded), Ok(entry));
        }

        /// Any single flipped bit of a sealed record is caught (by the tag or the checksum).
        #[test]
        fn every_single_bit_flip_is_detected(
            value in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..128),
            bit in 0usize..1024,
        ) {
            let mut bytes = encode_state(&value);
            let bit = bit % (bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            proptest::prop_assert!(decode_state(&bytes).is_err());
        }
    }
}
