//! Version 1 of the [`SiteRollup`] encoding: postcard of a string table and
//! per-hour cells (layout in `docs/wire-format.md`, section `rollup`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::counter::ReplicaId;
use crate::sketch::UniqueSketch;
use crate::{Error, Result};

use super::{
    Cell, Counts, DIMENSIONS, Dimension, KIND, SeqSet, SiteRollup, Tally, malformed, read_counts,
};

/// The version tag of the [`SiteRollup`] encoding.
pub(super) const ROLLUP_V1: u8 = 1;

impl SiteRollup {
    /// The retired version-1 encoding (see `docs/wire-format.md`, section
    /// `rollup`): deterministic, values stored once in a string table.
    /// Nothing writes it ([`Self::encode`] writes version 2, about 45 %
    /// smaller): it exists, behind the `testing` feature, so that its golden
    /// bytes stay pinned and [`Self::decode`]'s reading of version 1 stays
    /// tested. It cannot carry compacted tallies (version 3): it writes their
    /// live entries only.
    #[cfg(any(test, feature = "testing"))]
    pub fn encode_v1(&self) -> Vec<u8> {
        let out = vec![ROLLUP_V1];
        let wire = self.to_wire();
        // Serializing plain owned data into a Vec cannot fail.
        postcard::to_extend(&wire, out).unwrap_or_else(|_| vec![ROLLUP_V1])
    }

    /// Decodes version-1 bytes (`encode_v1`); [`Self::decode`]
    /// dispatches here on the version tag.
    pub(crate) fn decode_v1(bytes: &[u8]) -> Result<Self> {
        let (&version, body) = bytes.split_first().ok_or(Error::Truncated {
            kind: KIND,
            field: "version",
        })?;
        if version != ROLLUP_V1 {
            return Err(Error::UnsupportedVersion {
                kind: KIND,
                found: version,
                supported: "1",
            });
        }
        let (wire, rest) = postcard::take_from_bytes::<RollupWire>(body).map_err(postcard_error)?;
        if !rest.is_empty() {
            return Err(Error::TrailingBytes {
                kind: KIND,
                count: rest.len(),
            });
        }
        Self::from_wire(wire)
    }

    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn to_wire(&self) -> RollupWire {
        // Only the values in use, numbered in order of first use.
        const NONE: u32 = u32::MAX;
        let mut remap = vec![NONE; self.values.len()];
        let mut strings: Vec<String> = Vec::new();
        let mut hours = Vec::with_capacity(self.hours.len());
        for (&hour, cells) in &self.hours {
            let mut wire_cells = Vec::with_capacity(cells.len());
            for dim in Dimension::ALL {
                let mut values: Vec<(&str, &Cell)> = cells
                    .dim(dim)
                    .iter()
                    .map(|(&id, cell)| (self.values.get(id), cell))
                    .collect();
                values.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (value, cell) in values {
                    let old = self.values.find(value).unwrap_or(0) as usize;
                    let id = match remap.get(old) {
                        Some(&id) if id != NONE => id,
                        _ => {
                            strings.push(value.to_owned());
                            let id = u32::try_from(strings.len() - 1).unwrap_or(NONE);
                            if let Some(slot) = remap.get_mut(old) {
                                *slot = id;
                            }
                            id
                        }
                    };
                    let entries = cell.tally.entries();
                    let mut tally = Vec::with_capacity(2 + 9 * entries.len());
                    for (replica, counts) in entries {
                        tally.push(replica.0);
                        tally.push(u64::from(counts.mask()));
                        tally.extend(counts.fields().into_iter().filter(|&v| v != 0));
                    }
                    wire_cells.push(CellWire {
                        dim: dim.tag(),
                        value: id,
                        tally,
                        visitors: cell.visitors.encode(),
                    });
                }
            }
            hours.push(HourWire {
                hour,
                cells: wire_cells,
            });
        }
        RollupWire {
            site: self.site.clone(),
            seen: self
                .seen
                .iter()
                .map(|(r, s)| (r.0, s.contiguous, s.extra.iter().copied().collect()))
                .collect(),
            strings,
            hours,
        }
    }

    pub(crate) fn from_wire(wire: RollupWire) -> Result<Self> {
        let mut rollup = Self::new(wire.site);
        let mut last_replica = None;
        for (replica, contiguous, extra) in wire.seen {
            if last_replica.is_some_and(|r| r >= replica) {
                return Err(malformed("seen", "replicas not strictly increasing"));
            }
            last_replica = Some(replica);
            let mut set = SeqSet {
                contiguous,
                extra: BTreeSet::new(),
            };
            for seq in extra {
                if seq <= set.contiguous.saturating_add(1)
                    || set.extra.last().is_some_and(|&l| l >= seq)
                {
                    return Err(malformed("seen", "sequence numbers not canonical"));
                }
                set.extra.insert(seq);
            }
            rollup.seen.insert(ReplicaId(replica), set);
        }
        let mut ids = Vec::with_capacity(wire.strings.len());
        for s in &wire.strings {
            let id = rollup.values.intern(s);
            if id as usize != ids.len() {
                return Err(malformed("strings", "a value twice in the string table"));
            }
            ids.push(id);
        }
        let mut last_hour = None;
        for hour in wire.hours {
            if last_hour.is_some_and(|h| h >= hour.hour) {
                return Err(malformed("hour", "hours not strictly increasing"));
            }
            last_hour = Some(hour.hour);
            if hour.cells.is_empty() {
                return Err(malformed("hour", "an hour without cells"));
            }
            let cells = rollup.hours.entry(hour.hour).or_default();
            for cell in hour.cells {
                let dim = Dimension::from_tag(cell.dim).ok_or(Error::OutOfRange {
                    kind: KIND,
                    field: "dimension",
                    value: u64::from(cell.dim),
                    limit: (DIMENSIONS - 1) as u64,
                })?;
                let id = *ids
                    .get(usize::try_from(cell.value).unwrap_or(usize::MAX))
                    .ok_or(Error::OutOfRange {
                        kind: KIND,
                        field: "value",
                        value: u64::from(cell.value),
                        limit: ids.len().saturating_sub(1) as u64,
                    })?;
                let tally = decode_tally(&cell.tally)?;
                let visitors = UniqueSketch::decode(&cell.visitors)?;
                let map = cells.dim_mut(dim);
                if map.insert(id, Cell { tally, visitors }).is_some() {
                    return Err(malformed("cell", "a (dimension, value) twice in one hour"));
                }
            }
        }
        Ok(rollup)
    }
}

pub(crate) fn postcard_error(err: postcard::Error) -> Error {
    match err {
        postcard::Error::DeserializeUnexpectedEnd => Error::Truncated {
            kind: KIND,
            field: "body",
        },
        _ => malformed("body", "not a postcard rollup body"),
    }
}

fn decode_tally(flat: &[u64]) -> Result<Tally> {
    let mut entries: Vec<(ReplicaId, Counts)> = Vec::new();
    let mut it = flat.iter().copied();
    while let Some(replica) = it.next() {
        let mask = it.next().ok_or(Error::Truncated {
            kind: KIND,
            field: "tally mask",
        })?;
        if mask == 0 || mask > 0xff {
            return Err(Error::OutOfRange {
                kind: KIND,
                field: "tally mask",
                value: mask,
                limit: 0xff,
            });
        }
        let counts = read_counts(mask, || {
            it.next().ok_or(Error::Truncated {
                kind: KIND,
                field: "tally value",
            })
        })?;
        if entries.last().is_some_and(|(r, _)| r.0 >= replica) {
            return Err(malformed("tally", "replicas not strictly increasing"));
        }
        entries.push((ReplicaId(replica), counts));
    }
    Ok(Tally::from_entries(entries))
}

/// The serde image of a [`SiteRollup`] (after the version byte).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RollupWire {
    site: String,
    /// `(replica, contiguous, extra sequence numbers)`, replicas increasing.
    seen: Vec<(u64, u64, Vec<u64>)>,
    /// Every dimension value once, in order of first use.
    strings: Vec<String>,
    /// Hours increasing.
    hours: Vec<HourWire>,
}

#[derive(Debug, Serialize, Deserialize)]
struct HourWire {
    hour: u32,
    /// By dimension tag, then value.
    cells: Vec<CellWire>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CellWire {
    dim: u8,
    /// Index into the string table.
    value: u32,
    /// Per replica: `replica, mask, the non-zero fields of the mask`.
    tally: Vec<u64>,
    /// The sketch's own encoding.
    visitors: Vec<u8>,
}
