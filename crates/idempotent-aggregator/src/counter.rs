//! Grow-only and positive-negative counters keyed by replica id, with
//! compaction of retired replicas.
//!
//! # One writer per replica id
//!
//! A [`GCounter`] keeps one running total per [`ReplicaId`] and merges by
//! taking the larger total of each replica. That is only right if **exactly
//! one writer ever increments a given replica id**, so that of two copies the
//! larger total of a replica already contains the smaller one. Two writers
//! sharing an id lose counts: writer A counts 3 under id 7, writer B counts 5
//! under id 7, and the merge keeps `max(3, 5) = 5` instead of 8. In Glinto a
//! replica id is owned by one writer for its whole life: the per-site Durable
//! Object, or one delta producer (for example an edge location's batcher),
//! never a stateless Worker invocation that may run twice concurrently.
//!
//! # Compaction: the watermark rule
//!
//! Entries must not grow without bound as writers come and go, so replica
//! ids are allocated increasing over time (for example the hour bucket in
//! the high bits) and the **single compaction owner** — in Glinto the
//! per-site Durable Object for live counters, and the archive compactor for
//! archived ones — folds every replica below a *watermark* into a `base`:
//!
//! - `compact(w)` adds the totals of every replica `< w` to `base`, drops
//!   those entries and raises the watermark to `w`.
//! - A merge keeps the larger watermark (and that side's base; equal
//!   watermarks keep the larger base), takes the per-replica maximum, and
//!   drops every entry below the resulting watermark — those replicas are
//!   already inside the base.
//!
//! So a copy taken before compaction can never double count: its entries
//! for retired replicas are dropped when it meets the compacted state. The
//! rule the owner must keep in exchange: **compact past a replica only once
//! it is retired** — it will never write again and its final total has been
//! merged into the owner's state. A write that arrives for a retired replica
//! is refused ([`Error::RetiredReplica`]); a late copy carrying a larger total
//! for a retired replica loses the difference (that is the precondition being
//! broken, not a double count). Merge stays a join whatever the owner does:
//! the rule only decides whether the *value* is right.
//!
//! The mechanism exists once, `Replicas` (crate-private), generic over the
//! totals a replica writes: a `u64` here, the eight cumulative counts of a
//! rollup cell's [`crate::rollup::Tally`] there ([`crate::rollup::SiteRollup::compact`]).

use std::cmp::Ordering;

use crate::bits::{Reader, put_varint};
use crate::lattice::Lattice;
use crate::{Error, Result};

/// The identity of one writer of a counter. See the module docs for the
/// one-writer rule and why ids should increase over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ReplicaId(pub u64);

impl std::fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The version tag of the [`GCounter`] encoding.
const GCOUNTER_V1: u8 = 1;
/// The version tag of the [`PNCounter`] encoding.
const PNCOUNTER_V1: u8 = 1;

/// Cumulative totals one replica writes (a counter's `u64`, a rollup cell's
/// [`crate::rollup::Counts`]): merged by maximum, folded into a base by sum.
pub(crate) trait Totals: Copy + Default + PartialEq {
    /// The larger of two totals of one replica (field by field).
    fn join(&mut self, other: &Self);
    /// Adds a retired replica's totals into a base (saturating).
    fn fold(&mut self, other: &Self);
    /// Whether there is nothing to store.
    fn is_zero(&self) -> bool;
}

impl Totals for u64 {
    fn join(&mut self, other: &Self) {
        *self = (*self).max(*other);
    }
    fn fold(&mut self, other: &Self) {
        *self = self.saturating_add(*other);
    }
    fn is_zero(&self) -> bool {
        *self == 0
    }
}

/// The mechanism of this module, once, for every per-replica aggregate
/// ([`GCounter`], [`PNCounter`] and rollup tallies): live replicas' totals
/// sorted by replica, none zero, none below the watermark, and the base
/// that holds the retired ones (module docs: the watermark rule).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Replicas<T> {
    pub(crate) watermark: u64,
    pub(crate) base: T,
    pub(crate) entries: Vec<(ReplicaId, T)>,
}

impl<T: Totals> Replicas<T> {
    /// Folds every replica below `watermark` into the base; a watermark at
    /// or below the current one changes nothing.
    pub(crate) fn compact(&mut self, watermark: u64) {
        if watermark <= self.watermark {
            return;
        }
        let split = self.entries.partition_point(|e| e.0.0 < watermark);
        for (_, totals) in self.entries.drain(..split) {
            self.base.fold(&totals);
        }
        self.watermark = watermark;
    }

    /// The join: the larger watermark with its base (equal watermarks: the
    /// larger base), per-replica maxima, entries below the watermark dropped.
    pub(crate) fn merge(&mut self, other: &Self) {
        if other.watermark > self.watermark {
            self.watermark = other.watermark;
            self.base = other.base;
        } else if other.watermark == self.watermark {
            self.base.join(&other.base);
        }
        let watermark = self.watermark;
        let (ours, theirs) = (&self.entries, &other.entries);
        let mut merged = Vec::with_capacity(ours.len().max(theirs.len()));
        let (mut i, mut j) = (0, 0);
        loop {
            let next = match (ours.get(i), theirs.get(j)) {
                (Some(&x), Some(&y)) => match x.0.cmp(&y.0) {
                    Ordering::Less => {
                        i += 1;
                        x
                    }
                    Ordering::Greater => {
                        j += 1;
                        y
                    }
                    Ordering::Equal => {
                        i += 1;
                        j += 1;
                        let mut joined = x.1;
                        joined.join(&y.1);
                        (x.0, joined)
                    }
                },
                (Some(&x), None) => {
                    i += 1;
                    x
                }
                (None, Some(&y)) => {
                    j += 1;
                    y
                }
                (None, None) => break,
            };
            if next.0.0 >= watermark && !next.1.is_zero() {
                merged.push(next);
            }
        }
        self.entries = merged;
    }

    /// The base plus every live replica's totals.
    pub(crate) fn total(&self) -> T {
        let mut sum = self.base;
        for (_, totals) in &self.entries {
            sum.fold(totals);
        }
        sum
    }
}

/// A grow-only counter: one total per replica, merged by maximum, with
/// watermark compaction (see the module docs).
///
/// Canonical form (what `PartialEq` and the encoding rely on): entries sorted
/// by replica, none zero, none below the watermark.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GCounter {
    r: Replicas<u64>,
}

impl GCounter {
    /// An empty counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `by` to `replica`'s total. Totals saturate at `u64::MAX`.
    ///
    /// # Errors
    ///
    /// [`Error::RetiredReplica`] if `replica` is below the watermark.
    pub fn increment(&mut self, replica: ReplicaId, by: u64) -> Result<()> {
        if replica.0 < self.r.watermark {
            return Err(Error::RetiredReplica {
                replica: replica.0,
                watermark: self.r.watermark,
            });
        }
        if by == 0 {
            return Ok(());
        }
        match self.r.entries.binary_search_by_key(&replica, |e| e.0) {
            Ok(i) => self.r.entries[i].1 = self.r.entries[i].1.saturating_add(by),
            Err(i) => self.r.entries.insert(i, (replica, by)),
        }
        Ok(())
    }

    /// The count: the base plus every live replica's total (saturating).
    pub fn value(&self) -> u64 {
        self.r.total()
    }

    /// `replica`'s own total (0 for unknown or retired replicas).
    pub fn get(&self, replica: ReplicaId) -> u64 {
        self.r
            .entries
            .binary_search_by_key(&replica, |e| e.0)
            .map_or(0, |i| self.r.entries[i].1)
    }

    /// Every replica below this id is retired and folded into [`base`](Self::base).
    pub fn watermark(&self) -> ReplicaId {
        ReplicaId(self.r.watermark)
    }

    /// The sum of the retired replicas' totals.
    pub fn base(&self) -> u64 {
        self.r.base
    }

    /// The live replicas and their totals, sorted by replica.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = (ReplicaId, u64)> + '_ {
        self.r.entries.iter().copied()
    }

    /// Folds every replica below `watermark` into the base. Only the single
    /// compaction owner calls this, and only past retired replicas (module
    /// docs). A watermark at or below the current one changes nothing.
    pub fn compact(&mut self, watermark: ReplicaId) {
        self.r.compact(watermark.0);
    }

    /// The encoded form: version `1`, varint watermark, varint base, varint
    /// entry count, then per entry the varint replica-id gap (the first gap
    /// is from the watermark) and the varint total. See docs/wire-format.md.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 4 * self.r.entries.len());
        out.push(GCOUNTER_V1);
        self.encode_body(&mut out);
        out
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        put_varint(out, self.r.watermark);
        put_varint(out, self.r.base);
        put_varint(out, self.r.entries.len() as u64);
        let mut previous = self.r.watermark;
        for &(replica, total) in &self.r.entries {
            put_varint(out, replica.0 - previous);
            put_varint(out, total);
            previous = replica.0;
        }
    }

    /// Decodes [`encode`](Self::encode)'s output.
    ///
    /// # Errors
    ///
    /// A decoding [`Error`] for anything an encoder does not write: unknown
    /// version, truncation, replica ids out of order or overflowing, zero
    /// totals, trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut reader = Reader::new(bytes, "GCounter");
        reader.version(GCOUNTER_V1, "1")?;
        let counter = Self::decode_body(&mut reader)?;
        reader.finish()?;
        Ok(counter)
    }

    fn decode_body(reader: &mut Reader<'_>) -> Result<Self> {
        let watermark = reader.varint("watermark")?;
        let base = reader.varint("base")?;
        // Each entry takes at least two bytes: this bounds the allocation.
        let limit = reader.rest().len() as u64 / 2;
        let count = reader.varint_max("entry count", limit)?;
        let mut entries = Vec::with_capacity(count as usize);
        let mut previous = watermark;
        for i in 0..count {
            let gap = reader.varint("replica gap")?;
            if i > 0 && gap == 0 {
                return Err(reader.malformed("replica gap", "replicas repeat or are unsorted"));
            }
            let replica = previous
                .checked_add(gap)
                .ok_or_else(|| reader.malformed("replica gap", "replica id overflows u64"))?;
            let total = reader.varint("total")?;
            if total == 0 {
                return Err(reader.malformed("total", "zero totals are not stored"));
            }
            entries.push((ReplicaId(replica), total));
            previous = replica;
        }
        Ok(Self {
            r: Replicas {
                watermark,
                base,
                entries,
            },
        })
    }
}

impl Lattice for GCounter {
    fn merge(&mut self, other: &Self) {
        self.r.merge(&other.r);
    }

    fn validate_merge(&self, _other: &Self) -> Result<()> {
        Ok(())
    }
}

/// A counter that goes up and down: two [`GCounter`]s, increments and
/// decrements, compacted together under one watermark.
///
/// Glinto uses it where a contribution can be taken back, such as a bounce
/// that stops being one when a visit's second pageview arrives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PNCounter {
    increments: GCounter,
    decrements: GCounter,
}

impl PNCounter {
    /// An empty counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `by` under `replica`.
    ///
    /// # Errors
    ///
    /// [`Error::RetiredReplica`] if `replica` is below the watermark.
    pub fn increment(&mut self, replica: ReplicaId, by: u64) -> Result<()> {
        self.decrements.check_live(replica)?;
        self.increments.increment(replica, by)
    }

    /// Subtracts `by` under `replica`.
    ///
    /// # Errors
    ///
    /// [`Error::RetiredReplica`] if `replica` is below the watermark.
    pub fn decrement(&mut self, replica: ReplicaId, by: u64) -> Result<()> {
        self.increments.check_live(replica)?;
        self.decrements.increment(replica, by)
    }

    /// Increments minus decrements, saturating at the `i64` range.
    pub fn value(&self) -> i64 {
        let diff = i128::from(self.increments.value()) - i128::from(self.decrements.value());
        diff.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// The grow-only counter of increments.
    pub fn increments(&self) -> &GCounter {
        &self.increments
    }

    /// The grow-only counter of decrements.
    pub fn decrements(&self) -> &GCounter {
        &self.decrements
    }

    /// Every replica below this id is retired.
    pub fn watermark(&self) -> ReplicaId {
        self.increments.watermark().max(self.decrements.watermark())
    }

    /// [`GCounter::compact`] on both halves with the same watermark.
    pub fn compact(&mut self, watermark: ReplicaId) {
        self.increments.compact(watermark);
        self.decrements.compact(watermark);
    }

    /// The encoded form: version `1`, then the increments' and the
    /// decrements' [`GCounter`] bodies (without their version byte).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 4 * self.increments.r.entries.len());
        out.push(PNCOUNTER_V1);
        self.increments.encode_body(&mut out);
        self.decrements.encode_body(&mut out);
        out
    }

    /// Decodes [`encode`](Self::encode)'s output.
    ///
    /// # Errors
    ///
    /// As [`GCounter::decode`], and [`Error::Malformed`] if the two halves
    /// carry different watermarks.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut reader = Reader::new(bytes, "PNCounter");
        reader.version(PNCOUNTER_V1, "1")?;
        let increments = GCounter::decode_body(&mut reader)?;
        let decrements = GCounter::decode_body(&mut reader)?;
        reader.finish()?;
        if increments.r.watermark != decrements.r.watermark {
            return Err(reader.malformed("watermark", "the two halves differ"));
        }
        Ok(Self {
            increments,
            decrements,
        })
    }
}

impl GCounter {
    fn check_live(&self, replica: ReplicaId) -> Result<()> {
        if replica.0 < self.r.watermark {
            Err(Error::RetiredReplica {
                replica: replica.0,
                watermark: self.r.watermark,
            })
        } else {
            Ok(())
        }
    }
}

impl Lattice for PNCounter {
    fn merge(&mut self, other: &Self) {
        self.increments.merge(&other.increments);
        self.decrements.merge(&other.decrements);
    }

    fn validate_merge(&self, _other: &Self) -> Result<()> {
        Ok(())
    }
}
