//! Where the engine keeps what, and the bytes of its own records
//! (`docs/wire-format.md`, section `pipeline`).
//!
//! StateStore keys (one store per site, a Durable Object's storage):
//!
//! | key | value | written by |
//! |---|---|---|
//! | `wal/{seq:016x}/{part:04x}` | an archive batch of events (glinto-event-model `archive::encode_batch`) | a group commit, all parts of one seq in one atomic batch |
//! | `ckpt/{gen:016x}/{part:06x}` | a slice of the writer state (glinto-aggregator `SiteWriter::encode_state`) | a checkpoint, before its pointer |
//! | `ckpt` | the [`Pointer`]: generation, parts, last log seq it contains | the checkpoint's last atomic batch |
//!
//! ObjectStore keys (shared, one prefix per site), all written with
//! `PutMode::Create`:
//!
//! | key | value |
//! |---|---|
//! | `sites/{site}/events/{first_seq:016x}` | [`EventsObject`]: the log records `first..=last` |
//! | `sites/{site}/hours/{hour:08x}` | one closed UTC hour's cells (`SiteRollup::encode`) |

use serde::{Deserialize, Serialize};

/// Prefix of the log records.
pub(crate) const WAL_PREFIX: &str = "wal/";
/// The checkpoint pointer's key.
pub(crate) const POINTER_KEY: &str = "ckpt";
/// Prefix of the checkpoint parts.
pub(crate) const CKPT_PREFIX: &str = "ckpt/";

/// Version tag of [`Pointer`] and [`EventsObject`].
const V1: u8 = 1;

pub(crate) fn wal_key(seq: u64, part: usize) -> String {
    format!("{WAL_PREFIX}{seq:016x}/{part:04x}")
}

/// `(seq, part)` of a log key.
pub(crate) fn parse_wal_key(key: &str) -> Option<(u64, usize)> {
    let rest = key.strip_prefix(WAL_PREFIX)?;
    let (seq, part) = rest.split_once('/')?;
    Some((
        u64::from_str_radix(seq, 16).ok()?,
        usize::from_str_radix(part, 16).ok()?,
    ))
}

pub(crate) fn ckpt_key(generation: u64, part: usize) -> String {
    format!("{CKPT_PREFIX}{generation:016x}/{part:06x}")
}

/// The generation of a checkpoint part's key.
pub(crate) fn parse_ckpt_key(key: &str) -> Option<u64> {
    let rest = key.strip_prefix(CKPT_PREFIX)?;
    let (generation, _) = rest.split_once('/')?;
    u64::from_str_radix(generation, 16).ok()
}

pub(crate) fn events_key(site: &str, first_seq: u64) -> String {
    format!("sites/{site}/events/{first_seq:016x}")
}

pub(crate) fn hours_prefix(site: &str) -> String {
    format!("sites/{site}/hours/")
}

pub(crate) fn hour_key(site: &str, hour: u32) -> String {
    format!("sites/{site}/hours/{hour:08x}")
}

pub(crate) fn parse_hour_key(prefix: &str, key: &str) -> Option<u32> {
    u32::from_str_radix(key.strip_prefix(prefix)?, 16).ok()
}

/// The committed checkpoint: which generation's parts hold the writer
/// state, and the last log record that state contains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pointer {
    pub(crate) generation: u64,
    pub(crate) parts: u32,
    pub(crate) bytes: u64,
    pub(crate) applied_seq: u64,
}

impl Pointer {
    pub(crate) fn encode(&self) -> Vec<u8> {
        postcard::to_extend(self, vec![V1]).unwrap_or_default()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, &'static str> {
        decode_v1(bytes)
    }
}

/// Raw events archived from the log: records `first_seq..=last_seq`, each
/// as its archive batches (the log's parts, unchanged).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EventsObject {
    pub(crate) first_seq: u64,
    pub(crate) last_seq: u64,
    pub(crate) batches: Vec<Vec<u8>>,
}

impl EventsObject {
    pub(crate) fn encode(&self) -> Vec<u8> {
        postcard::to_extend(self, vec![V1]).unwrap_or_default()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, &'static str> {
        decode_v1(bytes)
    }
}

fn decode_v1<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, &'static str> {
    match bytes.split_first() {
        Some((&V1, body)) => match postcard::take_from_bytes::<T>(body) {
            Ok((value, [])) => Ok(value),
            Ok(_) => Err("trailing bytes"),
            Err(_) => Err("not a version-1 body"),
        },
        Some(_) => Err("unsupported version"),
        None => Err("empty"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort_by_number() {
        assert_eq!(wal_key(255, 1), "wal/00000000000000ff/0001");
        assert_eq!(parse_wal_key("wal/00000000000000ff/0001"), Some((255, 1)));
        assert_eq!(parse_wal_key("wal/zz/0001"), None);
        assert!(wal_key(9, 0) < wal_key(10, 0));
        assert_eq!(ckpt_key(2, 3), "ckpt/0000000000000002/000003");
        assert_eq!(parse_ckpt_key(&ckpt_key(2, 3)), Some(2));
        assert_eq!(hour_key("a.example", 17), "sites/a.example/hours/00000011");
        let prefix = hours_prefix("a.example");
        assert_eq!(
            parse_hour_key(&prefix, &hour_key("a.example", 17)),
            Some(17)
        );
    }

    /// Pinned bytes (docs/wire-format.md, section `pipeline`).
    #[test]
    fn golden_records() {
        let pointer = Pointer {
            generation: 3,
            parts: 2,
            bytes: 300,
            applied_seq: 41,
        };
        assert_eq!(pointer.encode(), [1, 3, 2, 0xac, 2, 41]);
        assert_eq!(Pointer::decode(&pointer.encode()), Ok(pointer));
        let events = EventsObject {
            first_seq: 1,
            last_seq: 2,
            batches: vec![vec![7], vec![8, 9]],
        };
        assert_eq!(events.encode(), [1, 1, 2, 2, 1, 7, 2, 8, 9]);
        assert_eq!(EventsObject::decode(&events.encode()), Ok(events));
        let cases: &[(&[u8], &str)] = &[
            (&[], "empty"),
            (&[2, 0], "unsupported version"),
            (&[1, 3], "not a version-1 body"),
            (&[1, 3, 2, 0xac, 2, 41, 0], "trailing bytes"),
        ];
        for (bytes, expected) in cases {
            assert_eq!(Pointer::decode(bytes), Err(*expected), "{bytes:?}");
        }
    }
}
