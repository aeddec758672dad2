//! The de-duplicator's state as plain data, for [`crate::writer`]'s
//! persisted state (`docs/wire-format.md`, section `writer-state`).

use hashbrown::HashSet;
use serde::{Deserialize, Serialize};

use super::Deduplicator;
use crate::{Error, Result};

/// A [`Deduplicator`]'s window: the newest timestamp, the first bucket kept
/// and each bucket's event ids (sorted, so equal states encode equally).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DedupWire {
    pub(crate) watermark_ms: Option<u64>,
    pub(crate) first_bucket: u64,
    pub(crate) buckets: Vec<Vec<u64>>,
    pub(crate) next_expiry_ms: u64,
}

impl Deduplicator {
    /// The lateness window it was made with.
    pub(crate) fn max_lateness_ms(&self) -> u64 {
        self.max_lateness_ms
    }

    pub(crate) fn to_wire(&self) -> DedupWire {
        DedupWire {
            watermark_ms: self.watermark_ms,
            first_bucket: self.first_bucket,
            buckets: self
                .buckets
                .iter()
                .map(|set| {
                    let mut ids: Vec<u64> = set.iter().copied().collect();
                    ids.sort_unstable();
                    ids
                })
                .collect(),
            next_expiry_ms: self.next_expiry_ms,
        }
    }

    /// The de-duplicator with `max_lateness_ms` holding `wire`'s window.
    pub(crate) fn from_wire(max_lateness_ms: u64, wire: DedupWire) -> Result<Self> {
        let mut dedup = Self::new(max_lateness_ms);
        dedup.watermark_ms = wire.watermark_ms;
        dedup.first_bucket = wire.first_bucket;
        dedup.next_expiry_ms = wire.next_expiry_ms;
        if wire
            .first_bucket
            .checked_add(wire.buckets.len() as u64)
            .is_none()
        {
            return Err(malformed("buckets", "bucket index overflows"));
        }
        for ids in wire.buckets {
            if ids.windows(2).any(|w| w[0] >= w[1]) {
                return Err(malformed("buckets", "event ids not strictly increasing"));
            }
            dedup.ids += ids.len();
            let set: HashSet<u64> = ids.into_iter().collect();
            dedup.buckets.push_back(set);
        }
        Ok(dedup)
    }
}

fn malformed(field: &'static str, reason: &'static str) -> Error {
    Error::Malformed {
        kind: "writer state",
        field,
        reason,
    }
}
