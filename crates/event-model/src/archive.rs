//! The archive encoding of [`Event`]: compact, version-tagged postcard
//! (`docs/wire-format.md`, section "Event archive record").
//!
//! A **record** is one tag byte ([`RECORD_V1`]) followed by the postcard
//! encoding of the event's fields in a fixed order. The 64-bit hashes
//! (`event_id`, `visitor_id`, `previous_visitor_id`, `session_id`) are
//! fixed-width little-endian (they are uniformly random, so a varint would
//! take 10 bytes), `timestamp_ms` is a varint, `device` and `channel` are one
//! byte each (their position in [`Device::ALL`] / [`Channel::ALL`]; new
//! variants only ever append), strings are varint-length-prefixed UTF-8.
//!
//! Version 2 ([`RECORD_V2`], tag `2`) is version 1's fields followed by the
//! engagement (`Option<(Option<u8>, u64)>`: scroll depth, engaged ms). A
//! writer uses the oldest layout that holds the event: every event without
//! engagement is still written as version 1, byte for byte as before, so
//! only engagement events pay for (and need readers of) version 2.
//!
//! A **batch** is [`BATCH_MAGIC`], a varint count, then each record prefixed
//! by its varint length, so a reader can skip a record it cannot decode.
//!
//! Why a private mirror struct instead of `#[derive(Serialize)]` on `Event`:
//! the layout must not change when someone adds a field to `Event` or
//! reorders it; a new layout gets a new tag and the mirror of the old one
//! stays, so every record ever written stays readable.
//!
//! Decoding untrusted bytes never panics and allocates at most a small
//! multiple of the input's length: records are capped at [`MAX_RECORD_BYTES`],
//! strings are borrowed from the input before being copied, and sequence
//! lengths read from the input only reserve what the remaining input could hold.

use std::fmt;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::event::{Channel, Device, Engagement, Event, Revenue};

/// Tag byte of version 1 of the record layout.
pub const RECORD_V1: u8 = 1;
/// Tag byte of version 2: version 1 followed by the engagement.
pub const RECORD_V2: u8 = 2;
/// The first bytes of a batch (`GLEB` + layout version 1).
pub const BATCH_MAGIC: [u8; 5] = *b"GLEB\x01";
/// Largest record accepted by the decoders, in bytes.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Fewest bytes any record takes (tag, fixed-width ids and one byte per other
/// field): bounds how many records a batch of a given length can claim.
const MIN_RECORD_BYTES: usize = 1 + 8 + 1 + 17 + 2 + 2 + 1 + 8 + 1 + 1;

/// Why archived bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The input ends before the record or batch does.
    #[error("archive input is truncated")]
    Truncated,
    /// The record's tag (or batch's magic) is not one this version knows.
    #[error("unknown archive version tag {found:#04x}")]
    UnknownVersion {
        /// The tag byte found.
        found: u8,
    },
    /// A record is larger than [`MAX_RECORD_BYTES`].
    #[error("archive record is {len} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The limit.
        limit: usize,
        /// The record's length.
        len: usize,
    },
    /// The bytes do not follow the layout.
    #[error("malformed archive record: {reason}")]
    Malformed {
        /// What postcard reported.
        reason: String,
    },
    /// A field decoded but breaks an invariant of [`Event`].
    #[error("archive field `{field}` is invalid: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Bytes left over after the record or batch.
    #[error("{count} bytes after the end of the archive record")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

/// A 64-bit hash, written as 8 little-endian bytes.
#[derive(Clone, Copy, Serialize, Deserialize)]
struct Fixed(#[serde(with = "postcard::fixint::le")] u64);

/// The version-1 layout, written with `P = PropsOut` (borrowing the
/// event) and read with `P = PropsIn` (borrowing the input): one definition,
/// so that writer and reader cannot drift apart.
#[derive(Serialize, Deserialize)]
struct RecordV1<'a, P> {
    event_id: Fixed,
    timestamp_ms: u64,
    site: &'a str,
    name: &'a str,
    hostname: &'a str,
    pathname: &'a str,
    referrer: &'a str,
    source: &'a str,
    channel: u8,
    utm_source: &'a str,
    utm_medium: &'a str,
    utm_campaign: &'a str,
    utm_content: &'a str,
    utm_term: &'a str,
    country_code: &'a str,
    browser: &'a str,
    browser_version: &'a str,
    os: &'a str,
    os_version: &'a str,
    device: u8,
    screen: &'a str,
    props: P,
    revenue: Option<(&'a str, i64)>,
    interactive: bool,
    visitor_id: Fixed,
    previous_visitor_id: Option<Fixed>,
    session_id: Option<Fixed>,
}

struct PropsOut<'a>(&'a [(String, String)]);

impl Serialize for PropsOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

struct PropsIn<'a>(Vec<(&'a str, &'a str)>);

impl<'de: 'a, 'a> Deserialize<'de> for PropsIn<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PropsIn<'a>, D::Error> {
        struct PropsVisitor;
        impl<'de> Visitor<'de> for PropsVisitor {
            type Value = PropsIn<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence of (key, value) pairs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PropsIn<'de>, A::Error> {
                // The length comes from untrusted input: reserve little, grow as read.
                let mut props = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(32));
                while let Some(pair) = seq.next_element::<(&'de str, &'de str)>()? {
                    props.push(pair);
                }
                Ok(PropsIn(props))
            }
        }
        deserializer
            .deserialize_seq(PropsVisitor)
            .map(|props| PropsIn(props.0))
    }
}

fn code_of<T: PartialEq + Copy>(all: &[T], value: T) -> u8 {
    let index = all.iter().position(|v| *v == value).unwrap_or(0);
    u8::try_from(index).unwrap_or(0)
}

/// Appends the record of `event` to `out`: version 1, or version 2 for an
/// engagement event.
pub fn encode_into(event: &Event, out: &mut Vec<u8>) {
    let record = RecordV1 {
        event_id: Fixed(event.event_id),
        timestamp_ms: event.timestamp_ms,
        site: &event.site,
        name: &event.name,
        hostname: &event.hostname,
        pathname: &event.pathname,
        referrer: &event.referrer,
        source: &event.source,
        channel: code_of(&Channel::ALL, event.channel),
        utm_source: &event.utm_source,
        utm_medium: &event.utm_medium,
        utm_campaign: &event.utm_campaign,
        utm_content: &event.utm_content,
        utm_term: &event.utm_term,
        country_code: &event.country_code,
        browser: &event.browser,
        browser_version: &event.browser_version,
        os: &event.os,
        os_version: &event.os_version,
        device: code_of(&Device::ALL, event.device),
        screen: &event.screen,
        props: PropsOut(&event.props),
        revenue: event
            .revenue
            .as_ref()
            .map(|r| (r.currency.as_str(), r.amount_micros)),
        interactive: event.interactive,
        visitor_id: Fixed(event.visitor_id),
        previous_visitor_id: event.previous_visitor_id.map(Fixed),
        session_id: event.session_id.map(Fixed),
    };
    out.push(if event.engagement.is_some() {
        RECORD_V2
    } else {
        RECORD_V1
    });
    // Serializing into a Vec cannot fail: every field has a postcard encoding
    // and the writer is infallible.
    if let Ok(bytes) = postcard::to_extend(&record, std::mem::take(out)) {
        *out = bytes;
    }
    if let Some(e) = event.engagement {
        let tail: Option<(Option<u8>, u64)> = Some((e.scroll_depth, e.engaged_ms));
        if let Ok(bytes) = postcard::to_extend(&tail, std::mem::take(out)) {
            *out = bytes;
        }
    }
}

/// The record of `event` (see [`encode_into`]).
pub fn encode(event: &Event) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    encode_into(event, &mut out);
    out
}

/// Decodes one record (the whole of `bytes`).
///
/// # Errors
/// [`ArchiveError`] when the bytes are not exactly one valid record.
pub fn decode(bytes: &[u8]) -> Result<Event, ArchiveError> {
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(ArchiveError::TooLarge {
            limit: MAX_RECORD_BYTES,
            len: bytes.len(),
        });
    }
    let (&tag, body) = bytes.split_first().ok_or(ArchiveError::Truncated)?;
    if tag != RECORD_V1 && tag != RECORD_V2 {
        return Err(ArchiveError::UnknownVersion { found: tag });
    }
    let (record, mut rest) =
        postcard::take_from_bytes::<RecordV1<'_, PropsIn<'_>>>(body).map_err(map_postcard)?;
    let mut engagement = None;
    if tag == RECORD_V2 {
        let (tail, after) =
            postcard::take_from_bytes::<Option<(Option<u8>, u64)>>(rest).map_err(map_postcard)?;
        rest = after;
        if let Some((scroll_depth, engaged_ms)) = tail {
            if scroll_depth.is_some_and(|sd| sd > 100) {
                return Err(ArchiveError::Invalid {
                    field: "scroll_depth",
                    reason: "more than 100 percent".to_owned(),
                });
            }
            engagement = Some(Engagement {
                scroll_depth,
                engaged_ms,
            });
        }
    }
    if !rest.is_empty() {
        return Err(ArchiveError::TrailingBytes { count: rest.len() });
    }
    let mut event = record.into_event()?;
    event.engagement = engagement;
    Ok(event)
}

fn map_postcard(err: postcard::Error) -> ArchiveError {
    match err {
        postcard::Error::DeserializeUnexpectedEnd => ArchiveError::Truncated,
        other => ArchiveError::Malformed {
            reason: other.to_string(),
        },
    }
}

impl RecordV1<'_, PropsIn<'_>> {
    fn into_event(self) -> Result<Event, ArchiveError> {
        let channel =
            *Channel::ALL
                .get(usize::from(self.channel))
                .ok_or_else(|| ArchiveError::Invalid {
                    field: "channel",
                    reason: format!("unknown code {}", self.channel),
                })?;
        let device =
            *Device::ALL
                .get(usize::from(self.device))
                .ok_or_else(|| ArchiveError::Invalid {
                    field: "device",
                    reason: format!("unknown code {}", self.device),
                })?;
        if self.props.0.windows(2).any(|w| match w {
            [a, b] => a.0 >= b.0,
            _ => false,
        }) {
            return Err(ArchiveError::Invalid {
                field: "props",
                reason: "keys are not sorted and unique".to_owned(),
            });
        }
        Ok(Event {
            event_id: self.event_id.0,
            timestamp_ms: self.timestamp_ms,
            site: self.site.to_owned(),
            name: self.name.to_owned(),
            hostname: self.hostname.to_owned(),
            pathname: self.pathname.to_owned(),
            referrer: self.referrer.to_owned(),
            source: self.source.to_owned(),
            channel,
            utm_source: self.utm_source.to_owned(),
            utm_medium: self.utm_medium.to_owned(),
            utm_campaign: self.utm_campaign.to_owned(),
            utm_content: self.utm_content.to_owned(),
            utm_term: self.utm_term.to_owned(),
            country_code: self.country_code.to_owned(),
            browser: self.browser.to_owned(),
            browser_version: self.browser_version.to_owned(),
            os: self.os.to_owned(),
            os_version: self.os_version.to_owned(),
            device,
            screen: self.screen.to_owned(),
            props: self
                .props
                .0
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            revenue: self.revenue.map(|(currency, amount_micros)| Revenue {
                currency: currency.to_owned(),
                amount_micros,
            }),
            interactive: self.interactive,
            engagement: None,
            visitor_id: self.visitor_id.0,
            previous_visitor_id: self.previous_visitor_id.map(|f| f.0),
            session_id: self.session_id.map(|f| f.0),
        })
    }
}

fn push_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        // The low seven bits with the continuation bit; `n & 0x7f < 128`.
        out.push(u8::try_from(n & 0x7f).unwrap_or(0) | 0x80);
        n >>= 7;
    }
    out.push(u8::try_from(n).unwrap_or(0));
}

fn take_varint(bytes: &[u8]) -> Result<(u64, &[u8]), ArchiveError> {
    postcard::take_from_bytes::<u64>(bytes).map_err(map_postcard)
}

/// A batch of `events`: [`BATCH_MAGIC`], the count, and length-prefixed records.
pub fn encode_batch(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + events.len() * 160);
    out.extend_from_slice(&BATCH_MAGIC);
    push_varint(&mut out, events.len() as u64);
    let mut record = Vec::with_capacity(256);
    for event in events {
        record.clear();
        encode_into(event, &mut record);
        push_varint(&mut out, record.len() as u64);
        out.extend_from_slice(&record);
    }
    out
}

/// Decodes a batch written by [`encode_batch`].
///
/// # Errors
/// [`ArchiveError`] for a wrong magic, a truncated batch, any invalid record,
/// or bytes after the last record.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<Event>, ArchiveError> {
    let rest = match bytes.strip_prefix(&BATCH_MAGIC) {
        Some(rest) => rest,
        None if bytes.len() < BATCH_MAGIC.len() && BATCH_MAGIC.starts_with(bytes) => {
            return Err(ArchiveError::Truncated);
        }
        None => {
            let found = if bytes.starts_with(&BATCH_MAGIC[..4]) {
                bytes.get(4).copied().unwrap_or(0)
            } else {
                bytes.first().copied().unwrap_or(0)
            };
            return Err(ArchiveError::UnknownVersion { found });
        }
    };
    let (count, mut rest) = take_varint(rest)?;
    let claimable = rest.len() / MIN_RECORD_BYTES;
    let mut events =
        Vec::with_capacity(usize::try_from(count).unwrap_or(usize::MAX).min(claimable));
    for _ in 0..count {
        let (len, after) = take_varint(rest)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > MAX_RECORD_BYTES {
            return Err(ArchiveError::TooLarge {
                limit: MAX_RECORD_BYTES,
                len,
            });
        }
        let record = after.get(..len).ok_or(ArchiveError::Truncated)?;
        events.push(decode(record)?);
        rest = after.get(len..).unwrap_or(&[]);
    }
    if !rest.is_empty() {
        return Err(ArchiveError::TrailingBytes { count: rest.len() });
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_postcard() {
        for n in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut ours = Vec::new();
            push_varint(&mut ours, n);
            assert_eq!(postcard::to_allocvec(&n).ok(), Some(ours.clone()), "{n}");
            assert_eq!(take_varint(&ours), Ok((n, &[][..])));
        }
    }
}
