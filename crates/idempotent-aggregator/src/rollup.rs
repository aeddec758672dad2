//! Hourly rollups: cells keyed by (site, UTC hour, dimension, value) that
//! merge as a join-semilattice, their version-tagged encoding, and the query
//! API that answers dashboard questions over any range of hours.
//!
//! # Cells
//! A [`Cell`] holds a [`Tally`] (page views, events, visits, bounces, visit
//! duration) and the unique visitors ([`UniqueSketch`]). The base time bucket
//! is the UTC hour, so a day, week or month in any whole-hour site time zone
//! is a union of hours ([`HourRange`]), and uniques over a range are the union
//! of the hour sketches, never a sum. Unique counts are only meaningful within
//! one salt epoch of visitor ids (`docs/privacy.md`).
//!
//! # What each dimension counts
//! - Event-level counts (`pageviews`, `events`) go to the hour of the event:
//!   - the visit-level dimensions ([`Dimension::is_visit_level`]: hostname,
//!     source, referrer, channel, UTM, country, browser, OS, device, screen)
//!     and [`Dimension::Total`] count every event, and their sketches every
//!     visitor;
//!   - [`Dimension::Page`] counts page views only (a custom event's page is
//!     not a page view of it); [`Dimension::Goal`] counts custom events by
//!     name; [`Dimension::Prop`] counts events by `key=value`.
//! - Visit counts (`visits`, `bounces`, `duration`) go to the hour the
//!   visit started, under the visit's *first* event's visit-level values,
//!   its entry page ([`Dimension::EntryPage`]) and exit page
//!   ([`Dimension::ExitPage`]), and the total. Page, goal and prop cells hold
//!   no visit counts.
//! - Empty UTM values, referrer URLs, host names and browser/OS versions are
//!   absent, not values: they get no cell ([`Dimension::omits_empty`]). An
//!   empty source is direct traffic and does get one.
//! - Uniques of entry and exit pages are an upper bound when visits were
//!   retracted: a sketch cannot forget the visitor of a visit whose entry
//!   page changed (a late event), while the visit counts are exact.
//!
//! # Queries
//! [`SiteRollup::totals`], [`SiteRollup::series`] (one [`Stats`] per bucket:
//! the days, weeks or months of a site's time zone as [`HourRange`]s),
//! [`SiteRollup::stats`] (one dimension value) and [`SiteRollup::top`]
//! (breakdown by a dimension, ordered by page views, events or visits, with
//! uniques for the rows returned). Values are interned per rollup, so a
//! range scan sums into a dense array indexed by value id; uniques are the
//! union of the hour sketches of the range.
//!
//! # Why per-replica totals (a PN counter per cell)
//! A visit can be counted and later retracted (a bounce that gets a second
//! page view, two visits bridged by a late event). Each writer (replica)
//! keeps monotone *cumulative* totals of additions and retractions, and a
//! cell keeps the latest totals of every replica: merge takes the
//! per-replica maximum, exactly like [`crate::counter::PNCounter`], under the
//! same one-writer-per-replica rule. One replica map per cell holds all eight
//! totals (rather than eight counters with eight maps) because cells are the
//! unit of storage: there are about as many cells as events in an hour.
//!
//! Since a delta carries cumulative totals, re-applying it, applying it late
//! or applying an older delta after a newer one changes nothing.

use std::collections::BTreeMap;

use hashbrown::HashMap;

use crate::counter::ReplicaId;
use crate::lattice::Lattice;
use crate::{Error, Result};

mod codec_v1;
mod codec_v2;
mod dimension;
mod query;
mod select;
mod seq;
mod tally;

pub(crate) use crate::intern::Values;
pub(crate) use codec_v1::{RollupWire, postcard_error};
pub(crate) use codec_v2::{ROLLUP_V3, decode_body};
pub use dimension::{DIMENSIONS, Dimension};
pub use query::{HourRange, OrderBy, Row, Stats};
pub use seq::SeqSet;
use tally::read_counts;
pub use tally::{Cell, Counts, Metrics, Tally};

/// Milliseconds in one hour bucket.
pub const HOUR_MS: u64 = 3_600_000;

/// The hour bucket (hours since the Unix epoch, UTC) of a timestamp.
pub fn hour_of(timestamp_ms: u64) -> u32 {
    bucket_of(timestamp_ms, 0)
}

/// The largest bucket phase, in minutes ([`bucket_of`]).
pub const MAX_BUCKET_OFFSET_MINUTES: u16 = 59;

/// The hour bucket of a timestamp for a site whose buckets are shifted by a
/// phase of `offset_minutes`: `floor((t + offset) / 1 h)`, so bucket `b`
/// starts `offset` minutes before the UTC hour `b`. With offset 0 this is
/// [`hour_of`]; a site in
/// Asia/Kolkata (UTC+5:30) uses 30 and one in Asia/Kathmandu (UTC+5:45) 45, so
/// that every bucket is one local hour and a local day is exactly 24 buckets
/// (23 or 25 on a daylight-saving change). Offsets above
/// [`MAX_BUCKET_OFFSET_MINUTES`] are taken modulo 60.
pub fn bucket_of(timestamp_ms: u64, offset_minutes: u16) -> u32 {
    let phase = u64::from(offset_minutes % 60) * 60_000;
    u32::try_from(timestamp_ms.saturating_add(phase) / HOUR_MS).unwrap_or(u32::MAX)
}

/// The cells of one hour, one map per dimension, keyed by value id.
#[derive(Clone, Debug)]
pub struct HourCells {
    dims: Vec<HashMap<u32, Cell>>,
}

impl Default for HourCells {
    fn default() -> Self {
        Self {
            dims: (0..DIMENSIONS).map(|_| HashMap::new()).collect(),
        }
    }
}

impl HourCells {
    fn dim(&self, dim: Dimension) -> &HashMap<u32, Cell> {
        &self.dims[usize::from(dim.tag())]
    }

    fn dim_mut(&mut self, dim: Dimension) -> &mut HashMap<u32, Cell> {
        &mut self.dims[usize::from(dim.tag())]
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.dims.iter().map(HashMap::len).sum()
    }

    /// Whether there is no cell.
    pub fn is_empty(&self) -> bool {
        self.dims.iter().all(HashMap::is_empty)
    }
}

/// The rollups of one site: cells by hour, plus the delta sequence numbers
/// they contain. A join-semilattice ([`Lattice`]); equality compares the
/// content (values as strings), not the interning order.
#[derive(Clone, Debug)]
pub struct SiteRollup {
    site: String,
    seen: BTreeMap<ReplicaId, SeqSet>,
    values: Values,
    hours: BTreeMap<u32, HourCells>,
}

impl SiteRollup {
    /// An empty rollup of `site`.
    pub fn new(site: impl Into<String>) -> Self {
        Self::with_values(site, Values::default())
    }

    pub(crate) fn with_values(site: impl Into<String>, values: Values) -> Self {
        Self {
            site: site.into(),
            seen: BTreeMap::new(),
            values,
            hours: BTreeMap::new(),
        }
    }

    /// The site.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// The cell `(hour, dim, value)`, created empty when missing.
    pub fn cell_mut(&mut self, hour: u32, dim: Dimension, value: &str) -> &mut Cell {
        let id = self.values.intern(value);
        self.cell_mut_by_id(hour, dim, id)
    }

    pub(crate) fn cell_mut_by_id(&mut self, hour: u32, dim: Dimension, id: u32) -> &mut Cell {
        self.hours
            .entry(hour)
            .or_default()
            .dim_mut(dim)
            .entry(id)
            .or_default()
    }

    /// Every cell: `(hour, dimension, value, cell)`, hours ascending.
    pub fn cells(&self) -> impl Iterator<Item = (u32, Dimension, &str, &Cell)> + '_ {
        self.hours.iter().flat_map(move |(&hour, cells)| {
            Dimension::ALL.into_iter().flat_map(move |dim| {
                cells
                    .dim(dim)
                    .iter()
                    .map(move |(&id, cell)| (hour, dim, self.values.get(id), cell))
            })
        })
    }

    /// The hours present.
    pub fn hours(&self) -> impl Iterator<Item = u32> + '_ {
        self.hours.keys().copied()
    }

    /// The delta sequence numbers contained, per replica.
    pub fn seen(&self) -> &BTreeMap<ReplicaId, SeqSet> {
        &self.seen
    }

    /// Records that the delta `(replica, seq)` is contained.
    pub fn mark_seen(&mut self, replica: ReplicaId, seq: u64) {
        self.seen.entry(replica).or_default().insert(seq);
    }

    /// Number of cells over all hours.
    pub fn cell_count(&self) -> usize {
        self.hours.values().map(HourCells::len).sum()
    }

    /// Folds, in every cell, the totals of every replica below `watermark`
    /// into the cell's base ([`Tally::compact`]): what keeps per-replica
    /// entries from piling up as writers come and go. Only the single
    /// compaction owner of the rollup calls it, and only past replicas that
    /// are retired: they will never write again and every delta they wrote
    /// has been applied here (`crate::counter`, "the watermark rule"). A copy
    /// taken before compaction then merges in without double counting.
    pub fn compact(&mut self, watermark: ReplicaId) {
        for cells in self.hours.values_mut() {
            for map in &mut cells.dims {
                for cell in map.values_mut() {
                    cell.tally.compact(watermark);
                }
            }
        }
    }
}

impl PartialEq for SiteRollup {
    /// Same site, same sequence numbers, same cells by value string.
    fn eq(&self, other: &Self) -> bool {
        if self.site != other.site
            || self.seen != other.seen
            || self.hours.len() != other.hours.len()
        {
            return false;
        }
        self.hours
            .iter()
            .zip(&other.hours)
            .all(|((h1, a), (h2, b))| {
                h1 == h2
                    && a.dims.iter().zip(&b.dims).all(|(x, y)| {
                        x.len() == y.len()
                            && x.iter().all(|(&id, cell)| {
                                other
                                    .values
                                    .find(self.values.get(id))
                                    .and_then(|oid| y.get(&oid))
                                    .is_some_and(|c| c == cell)
                            })
                    })
            })
    }
}

const KIND: &str = "rollup";

fn malformed(field: &'static str, reason: &'static str) -> Error {
    Error::Malformed {
        kind: KIND,
        field,
        reason,
    }
}

impl Lattice for SiteRollup {
    /// Joins cell by cell. A rollup of another site is left unchanged
    /// (`validate_merge` reports it).
    fn merge(&mut self, other: &Self) {
        if self.site != other.site {
            return;
        }
        for (replica, seqs) in &other.seen {
            self.seen.entry(*replica).or_default().merge(seqs);
        }
        // Their value ids -> ours, resolved once per value.
        const NONE: u32 = u32::MAX;
        let mut remap = vec![NONE; other.values.len()];
        for (&hour, theirs) in &other.hours {
            let ours = self.hours.entry(hour).or_default();
            for (mine, their) in ours.dims.iter_mut().zip(&theirs.dims) {
                for (&their_id, cell) in their {
                    let Some(slot) = remap.get_mut(their_id as usize) else {
                        continue;
                    };
                    if *slot == NONE {
                        *slot = self.values.intern(other.values.get(their_id));
                    }
                    match mine.get_mut(slot) {
                        Some(c) => c.merge(cell),
                        None => {
                            mine.insert(*slot, cell.clone());
                        }
                    }
                }
            }
        }
    }

    fn validate_merge(&self, other: &Self) -> Result<()> {
        if self.site != other.site {
            return Err(Error::WrongSite {
                kind: KIND,
                expected: self.site.as_str().into(),
                found: other.site.as_str().into(),
            });
        }
        for (hour, theirs) in &other.hours {
            let Some(ours) = self.hours.get(hour) else {
                continue;
            };
            for (mine, their) in ours.dims.iter().zip(&theirs.dims) {
                for (&their_id, cell) in their {
                    let mine = self
                        .values
                        .find(other.values.get(their_id))
                        .and_then(|id| mine.get(&id));
                    if let Some(c) = mine {
                        c.validate_merge(cell)?;
                    }
                }
            }
        }
        Ok(())
    }
}
