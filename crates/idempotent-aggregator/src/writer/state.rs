//! A [`SiteWriter`]'s open state, persisted and restored exactly; and the
//! hours that can no longer change, taken out of memory.
//!
//! # Why the writer's state, and not a replay of recent events
//!
//! A writer restarted empty and fed only the events since its last
//! checkpoint would count twice every visit that spans the checkpoint (its
//! first half published before, its second half seen as a new visit), would
//! forget the event ids it must still de-duplicate, and would restart the
//! per-replica cumulative counters of the open cells from zero (a
//! fresh replica id does not help: the old replica's partial totals and the
//! new one's would add up). [`SiteWriter::encode_state`] therefore writes
//! everything the writer needs to go on: the de-duplication window, the
//! visitors' timelines (hits, published visits, aliases, what waits to be
//! published, the eviction queue), the interned strings and profiles, every
//! cell held (cumulative counts and sketch), the delta sequence number and
//! the flush bookkeeping. [`SiteWriter::restore_state`] rebuilds a writer
//! that behaves exactly as the encoded one: fed the same events afterwards,
//! both produce equal rollups (tested below and in `tests/writer_state.rs`).
//!
//! Left out, because they only save work: the per-visitor memos (where the
//! visitor's last event was counted) and the per-hour groups. Encoding first
//! adds every group's pending counts to its cells; a restored writer has no
//! memo, so the next event of a visitor is resolved from scratch and
//! re-inserts the visitor into sketches that already hold it, which changes
//! nothing (a sketch is a set).
//!
//! # Closed hours leave memory
//!
//! An hour can no longer change once every event that could land in it
//! would be too late (it ends at or before the de-duplication floor) and no
//! visit that started in it is still held by the sessionizer (visits are
//! counted in their first event's hour, and a held visit can still grow,
//! shrink or be retracted). [`SiteWriter::take_closed_hours`] returns the
//! cells of those hours as a [`SiteRollup`] and drops them from the writer;
//! what the writer holds then depends on the open window, not on history.
//! The caller must persist the returned rollup: it is the only copy.

use serde::{Deserialize, Serialize};

use super::{Profiles, SiteWriter, WriterConfig, WriterStats};
use crate::counter::ReplicaId;
use crate::dedup::{DedupWire, Deduplicator};
use crate::rollup::{Cell, Counts, Dimension, SiteRollup, Tally, bucket_of};
use crate::session::{Sessionizer, SessionsWire};
use crate::sketch::UniqueSketch;
use crate::{Error, Result};

/// The version tag of the writer-state encoding.
const WRITER_STATE_V1: u8 = 1;

const KIND: &str = "writer state";

/// One cell held by the writer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct CellState {
    hour: u32,
    dim: u8,
    value: u32,
    counts: [u64; 8],
    visitors: Vec<u8>,
    /// Touched since the last delta.
    dirty: bool,
}

/// Everything a writer needs to go on (module docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct WriterWire {
    site: String,
    replica: u64,
    max_lateness_ms: u64,
    flush_interval_ms: u64,
    /// The bucket phase (`WriterConfig::bucket_offset_minutes`).
    bucket_offset_minutes: u16,
    seq: u64,
    /// admitted, duplicates, too late, deltas, engagements.
    stats: [u64; 5],
    next_flush_ms: u64,
    evicted_floor_ms: u64,
    forgotten_below: u32,
    /// Interned strings in id order; id 0 is the empty string.
    strings: Vec<String>,
    /// Visitor profiles in id order: their seven field values.
    visitor_profiles: Vec<Vec<String>>,
    /// Session profiles in id order: their nine field values.
    session_profiles: Vec<Vec<String>>,
    cells: Vec<CellState>,
    dedup: DedupWire,
    sessions: SessionsWire,
}

impl SiteWriter {
    /// The writer's state as version-tagged bytes (`docs/wire-format.md`,
    /// section `writer-state`); equal states encode to equal bytes. Adds
    /// pending group counts to their cells first (no visible change).
    pub fn encode_state(&mut self) -> Vec<u8> {
        self.expand();
        let wire = self.to_wire(|_| true).0;
        let out = vec![WRITER_STATE_V1];
        // Serializing plain owned data into a Vec cannot fail.
        postcard::to_extend(&wire, out).unwrap_or_else(|_| vec![WRITER_STATE_V1])
    }

    /// The writer whose state [`Self::encode_state`] encoded.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedVersion`], [`Error::Truncated`],
    /// [`Error::TrailingBytes`], [`Error::Malformed`] or
    /// [`Error::OutOfRange`] for bytes that are not a writer state; never
    /// panics.
    pub fn restore_state(bytes: &[u8]) -> Result<Self> {
        let (&version, body) = bytes.split_first().ok_or(Error::Truncated {
            kind: KIND,
            field: "version",
        })?;
        if version != WRITER_STATE_V1 {
            return Err(Error::UnsupportedVersion {
                kind: KIND,
                found: version,
                supported: "1",
            });
        }
        let (wire, rest) = postcard::take_from_bytes::<WriterWire>(body).map_err(|e| match e {
            postcard::Error::DeserializeUnexpectedEnd => Error::Truncated {
                kind: KIND,
                field: "body",
            },
            _ => malformed("body", "not a postcard writer state"),
        })?;
        if !rest.is_empty() {
            return Err(Error::TrailingBytes {
                kind: KIND,
                count: rest.len(),
            });
        }
        Self::from_wire(wire)
    }

    /// The first hour that may still change: every hour before it is closed
    /// (module docs).
    pub fn open_from_hour(&self) -> u32 {
        let floor = self.dedup.floor_ms();
        let earliest = self.sessions.earliest_hit_ms().unwrap_or(u64::MAX);
        bucket_of(floor.min(earliest), self.bucket_offset_minutes)
    }

    /// Removes the cells of the closed hours (before
    /// [`Self::open_from_hour`]) and returns them; `None` when no cell is
    /// closed. The returned cells carry this replica's cumulative counts, as
    /// a snapshot's do: merged with later snapshots they count once.
    pub fn take_closed_hours(&mut self) -> Option<SiteRollup> {
        let open_from = self.open_from_hour();
        if !self.cells.slots.iter().any(|s| s.id.hour < open_from) {
            return None;
        }
        self.expand();
        let (wire, closed) = self.to_wire(|hour| hour >= open_from);
        // Our own wire always restores; if it did not, keep everything.
        let rebuilt = Self::from_wire(wire).ok()?;
        *self = rebuilt;
        Some(closed)
    }

    /// The state as plain data, with the cells of the hours `keep` accepts;
    /// the others are returned as a rollup. Groups must be expanded.
    fn to_wire(&self, keep: impl Fn(u32) -> bool) -> (WriterWire, SiteRollup) {
        let mut closed = SiteRollup::new(self.site.clone());
        let mut cells = Vec::new();
        for s in self.cells.slots.iter() {
            if keep(s.id.hour) {
                cells.push(CellState {
                    hour: s.id.hour,
                    dim: s.id.dim.tag(),
                    value: s.id.value,
                    counts: s.counts.fields(),
                    visitors: s.visitors.encode(),
                    dirty: s.dirty,
                });
            } else {
                let cell = closed.cell_mut(s.id.hour, s.id.dim, self.strings.get(s.id.value));
                *cell = Cell {
                    tally: Tally::single(self.replica, s.counts),
                    visitors: s.visitors.clone(),
                };
            }
        }
        // Canonical order: equal states, equal bytes.
        cells.sort_unstable_by_key(|c| (c.hour, c.dim, c.value));
        let strings = (0..self.strings.len())
            .map(|id| {
                self.strings
                    .get(u32::try_from(id).unwrap_or(u32::MAX))
                    .to_owned()
            })
            .collect();
        let wire = WriterWire {
            site: self.site.clone(),
            replica: self.replica.0,
            max_lateness_ms: self.dedup.max_lateness_ms(),
            flush_interval_ms: self.flush_interval_ms,
            bucket_offset_minutes: self.bucket_offset_minutes,
            seq: self.seq,
            stats: [
                self.stats.admitted,
                self.stats.duplicates,
                self.stats.too_late,
                self.stats.deltas,
                self.stats.engagements,
            ],
            next_flush_ms: self.next_flush_ms,
            evicted_floor_ms: self.evicted_floor_ms,
            forgotten_below: self.forgotten_below,
            strings,
            visitor_profiles: profile_fields(&self.profiles.visitor),
            session_profiles: profile_fields(&self.profiles.visit),
            cells,
            dedup: self.dedup.to_wire(),
            sessions: self.sessions.to_wire(),
        };
        (wire, closed)
    }

    fn from_wire(wire: WriterWire) -> Result<Self> {
        let config = WriterConfig {
            max_lateness_ms: wire.max_lateness_ms,
            flush_interval_ms: wire.flush_interval_ms,
            bucket_offset_minutes: wire.bucket_offset_minutes,
        };
        let mut w = SiteWriter::new(wire.site, ReplicaId(wire.replica), config);
        // `new` interned the empty string as id 0; the rest in order.
        if wire.strings.first().map(String::as_str) != Some("") {
            return Err(malformed("strings", "id 0 is not the empty string"));
        }
        for (id, s) in wire.strings.iter().enumerate().skip(1) {
            if w.strings.intern(s) as usize != id {
                return Err(malformed("strings", "a string twice"));
            }
        }
        let strings = w.strings.len();
        w.profiles = Profiles::default();
        for (id, fields) in wire.visitor_profiles.iter().enumerate() {
            let fields: [&str; 7] = as_array(fields)?;
            let got = w
                .profiles
                .visitor
                .intern(&fields, &mut w.strings, &[(2, 1), (4, 3)]);
            if got as usize != id {
                return Err(malformed("visitor profiles", "a profile twice"));
            }
        }
        for (id, fields) in wire.session_profiles.iter().enumerate() {
            let fields: [&str; 9] = as_array(fields)?;
            if w.profiles.visit.intern(&fields, &mut w.strings, &[]) as usize != id {
                return Err(malformed("session profiles", "a profile twice"));
            }
        }
        if w.strings.len() != strings {
            return Err(malformed(
                "profiles",
                "a profile value missing from the strings",
            ));
        }
        let (vcount, scount) = (wire.visitor_profiles.len(), wire.session_profiles.len());
        for c in wire.cells {
            let dim = Dimension::from_tag(c.dim).ok_or(Error::OutOfRange {
                kind: KIND,
                field: "dimension",
                value: u64::from(c.dim),
                limit: (crate::rollup::DIMENSIONS - 1) as u64,
            })?;
            if c.value as usize >= strings {
                return Err(Error::OutOfRange {
                    kind: KIND,
                    field: "cell value",
                    value: u64::from(c.value),
                    limit: strings.saturating_sub(1) as u64,
                });
            }
            let visitors = UniqueSketch::decode(&c.visitors)?;
            let id = super::CellId {
                hour: c.hour,
                dim,
                value: c.value,
            };
            let slot = w.cells.slot(id, w.empty);
            let s = if c.dirty {
                w.cells.touch(slot)
            } else {
                w.cells.slots.get_mut(slot)
            };
            if let Some(s) = s {
                s.counts = Counts::from_fields(c.counts);
                s.visitors = visitors;
            }
        }
        w.dedup = Deduplicator::from_wire(wire.max_lateness_ms, wire.dedup)?;
        w.sessions = Sessionizer::from_wire(wire.sessions, |page, (v, s)| {
            (page as usize) < strings && (v as usize) < vcount && (s as usize) < scount
        })?;
        w.seq = wire.seq;
        let [admitted, duplicates, too_late, deltas, engagements] = wire.stats;
        w.stats = WriterStats {
            admitted,
            duplicates,
            too_late,
            cells: 0,
            deltas,
            engagements,
        };
        w.next_flush_ms = wire.next_flush_ms;
        w.evicted_floor_ms = wire.evicted_floor_ms;
        w.forgotten_below = wire.forgotten_below;
        Ok(w)
    }
}

/// The field values of each interned tuple (its key split at `0xff`).
fn profile_fields<const N: usize>(tuples: &super::Tuples<N>) -> Vec<Vec<String>> {
    (0..tuples.values.len())
        .map(|id| {
            let key = tuples
                .keys
                .key(u32::try_from(id).unwrap_or(u32::MAX))
                .unwrap_or(&[]);
            let key = key.strip_suffix(&[0xff]).unwrap_or(key);
            key.split(|&b| b == 0xff)
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect()
        })
        .collect()
}

fn as_array<const N: usize>(fields: &[String]) -> Result<[&str; N]> {
    if fields.len() != N {
        return Err(malformed("profiles", "wrong number of fields"));
    }
    Ok(std::array::from_fn(|i| {
        fields.get(i).map_or("", String::as_str)
    }))
}

fn malformed(field: &'static str, reason: &'static str) -> Error {
    Error::Malformed {
        kind: KIND,
        field,
        reason,
    }
}
