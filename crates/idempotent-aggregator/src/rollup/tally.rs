//! What a cell counts: one replica's cumulative [`Counts`], the per-replica
//! [`Tally`] of a cell, the net [`Metrics`] of a sum, and the [`Cell`].

use crate::Result;
use crate::counter::{ReplicaId, Replicas, Totals};
use crate::lattice::Lattice;
use crate::sketch::UniqueSketch;

use super::malformed;

/// One replica's cumulative totals in one cell. Every field only grows, for
/// a given replica: that is what makes the per-replica maximum a join.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counts {
    /// Page views.
    pub pageviews: u64,
    /// All events (page views included).
    pub events: u64,
    /// Visits counted.
    pub visits_added: u64,
    /// Visits un-counted (they changed or merged).
    pub visits_retracted: u64,
    /// Bounces counted.
    pub bounces_added: u64,
    /// Bounces un-counted.
    pub bounces_retracted: u64,
    /// Visit duration counted, milliseconds.
    pub duration_added_ms: u64,
    /// Visit duration un-counted, milliseconds.
    pub duration_retracted_ms: u64,
}

impl Counts {
    /// Adds `other` field by field (a writer's pending increments).
    #[inline]
    pub(crate) fn add(&mut self, other: &Self) {
        self.pageviews += other.pageviews;
        self.events += other.events;
        self.visits_added += other.visits_added;
        self.visits_retracted += other.visits_retracted;
        self.bounces_added += other.bounces_added;
        self.bounces_retracted += other.bounces_retracted;
        self.duration_added_ms += other.duration_added_ms;
        self.duration_retracted_ms += other.duration_retracted_ms;
    }

    pub(crate) fn fields(&self) -> [u64; 8] {
        [
            self.pageviews,
            self.events,
            self.visits_added,
            self.visits_retracted,
            self.bounces_added,
            self.bounces_retracted,
            self.duration_added_ms,
            self.duration_retracted_ms,
        ]
    }

    /// Bit `i` set when field `i` (in [`Self::fields`] order) is not zero:
    /// the mask both encodings write before the non-zero fields.
    pub(super) fn mask(&self) -> u8 {
        self.fields()
            .iter()
            .enumerate()
            .fold(0u8, |m, (i, &v)| if v != 0 { m | 1 << i } else { m })
    }

    pub(crate) fn from_fields(f: [u64; 8]) -> Self {
        Self {
            pageviews: f[0],
            events: f[1],
            visits_added: f[2],
            visits_retracted: f[3],
            bounces_added: f[4],
            bounces_retracted: f[5],
            duration_added_ms: f[6],
            duration_retracted_ms: f[7],
        }
    }

    fn max(&self, other: &Self) -> Self {
        let (a, b) = (self.fields(), other.fields());
        Self::from_fields(std::array::from_fn(|i| a[i].max(b[i])))
    }
}

impl Totals for Counts {
    fn join(&mut self, other: &Self) {
        *self = self.max(other);
    }

    fn fold(&mut self, other: &Self) {
        let (a, b) = (self.fields(), other.fields());
        *self = Self::from_fields(std::array::from_fn(|i| a[i].saturating_add(b[i])));
    }

    fn is_zero(&self) -> bool {
        self.fields() == [0; 8]
    }
}

/// The per-replica totals of one cell: a PN counter of eight fields, with
/// the watermark compaction of [`crate::counter`] (the same mechanism:
/// [`Self::compact`] folds retired replicas into a base, a merge keeps the
/// larger watermark's base and drops the entries below it).
///
/// Canonical form: entries sorted by replica, none all-zero, none below the
/// watermark. An uncompacted tally (watermark 0) with a single entry is
/// stored inline (the common case: one writer per site), so scanning the
/// cells of a range does not chase a pointer per cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    repr: TallyRepr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum TallyRepr {
    One((ReplicaId, Counts)),
    /// Watermark 0 and zero or at least two entries.
    Many(Vec<(ReplicaId, Counts)>),
    /// Watermark above 0.
    Compacted(Box<Replicas<Counts>>),
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            repr: TallyRepr::Many(Vec::new()),
        }
    }
}

impl Tally {
    /// A tally with one replica's totals.
    pub fn single(replica: ReplicaId, counts: Counts) -> Self {
        if counts.is_zero() {
            Self::default()
        } else {
            Self {
                repr: TallyRepr::One((replica, counts)),
            }
        }
    }

    /// The canonical tally of `replicas` (zero entries and entries below
    /// the watermark dropped).
    pub(super) fn from_replicas(mut replicas: Replicas<Counts>) -> Self {
        let watermark = replicas.watermark;
        replicas
            .entries
            .retain(|(r, c)| !c.is_zero() && r.0 >= watermark);
        if watermark > 0 {
            return Self {
                repr: TallyRepr::Compacted(Box::new(replicas)),
            };
        }
        match replicas.entries.as_slice() {
            [(replica, counts)] => Self::single(*replica, *counts),
            _ => Self {
                repr: TallyRepr::Many(replicas.entries),
            },
        }
    }

    pub(super) fn from_entries(entries: Vec<(ReplicaId, Counts)>) -> Self {
        Self::from_replicas(Replicas {
            entries,
            ..Replicas::default()
        })
    }

    fn to_replicas(&self) -> Replicas<Counts> {
        match &self.repr {
            TallyRepr::Compacted(r) => (**r).clone(),
            _ => Replicas {
                entries: self.entries().to_vec(),
                ..Replicas::default()
            },
        }
    }

    /// The live per-replica totals, sorted by replica.
    pub fn entries(&self) -> &[(ReplicaId, Counts)] {
        match &self.repr {
            TallyRepr::One(entry) => std::slice::from_ref(entry),
            TallyRepr::Many(entries) => entries,
            TallyRepr::Compacted(r) => &r.entries,
        }
    }

    /// Every replica below this id is retired and folded into [`Self::base`].
    pub fn watermark(&self) -> ReplicaId {
        match &self.repr {
            TallyRepr::Compacted(r) => ReplicaId(r.watermark),
            _ => ReplicaId(0),
        }
    }

    /// The sum of the retired replicas' totals.
    pub fn base(&self) -> Counts {
        match &self.repr {
            TallyRepr::Compacted(r) => r.base,
            _ => Counts::default(),
        }
    }

    /// Folds every replica below `watermark` into the base (the rule of
    /// [`crate::counter`]: only the single compaction owner calls this, and
    /// only past replicas that will never write again and whose totals it
    /// has merged). A watermark at or below the current one changes nothing.
    pub fn compact(&mut self, watermark: ReplicaId) {
        if watermark <= self.watermark() {
            return;
        }
        let mut replicas = self.to_replicas();
        replicas.compact(watermark.0);
        *self = Self::from_replicas(replicas);
    }

    /// The net metrics: sums over replicas, retractions subtracted.
    pub fn metrics(&self) -> Metrics {
        let mut m = Metrics::default();
        match &self.repr {
            TallyRepr::One((_, c)) => m.add_counts(c),
            TallyRepr::Many(entries) => {
                for (_, c) in entries {
                    m.add_counts(c);
                }
            }
            TallyRepr::Compacted(r) => m.add_counts(&r.total()),
        }
        m
    }
}

impl Lattice for Tally {
    fn merge(&mut self, other: &Self) {
        if let (TallyRepr::One((a, mine)), TallyRepr::One((b, theirs))) =
            (&mut self.repr, &other.repr)
            && a == b
        {
            *mine = mine.max(theirs);
            return;
        }
        // Into or from an empty, uncompacted tally (a new cell): a copy.
        if let TallyRepr::Many(theirs) = &other.repr
            && theirs.is_empty()
        {
            return;
        }
        if let TallyRepr::Many(mine) = &self.repr
            && mine.is_empty()
        {
            self.clone_from(other);
            return;
        }
        let mut replicas = self.to_replicas();
        replicas.merge(&other.to_replicas());
        *self = Self::from_replicas(replicas);
    }

    fn validate_merge(&self, _other: &Self) -> Result<()> {
        Ok(())
    }
}

/// Net counts summed over replicas and cells (signed while summing: a
/// retraction and its addition may sit in different hours).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Page views.
    pub pageviews: u64,
    /// Events (page views included).
    pub events: u64,
    /// Visits.
    pub visits: i64,
    /// Bounces.
    pub bounces: i64,
    /// Total visit duration, milliseconds.
    pub duration_ms: i64,
}

impl Metrics {
    pub(super) fn add_counts(&mut self, c: &Counts) {
        self.pageviews = self.pageviews.saturating_add(c.pageviews);
        self.events = self.events.saturating_add(c.events);
        self.visits = self
            .visits
            .saturating_add(net(c.visits_added, c.visits_retracted));
        self.bounces = self
            .bounces
            .saturating_add(net(c.bounces_added, c.bounces_retracted));
        self.duration_ms = self
            .duration_ms
            .saturating_add(net(c.duration_added_ms, c.duration_retracted_ms));
    }

    pub(super) fn add(&mut self, other: &Metrics) {
        self.pageviews = self.pageviews.saturating_add(other.pageviews);
        self.events = self.events.saturating_add(other.events);
        self.visits = self.visits.saturating_add(other.visits);
        self.bounces = self.bounces.saturating_add(other.bounces);
        self.duration_ms = self.duration_ms.saturating_add(other.duration_ms);
    }
}

fn net(added: u64, retracted: u64) -> i64 {
    let diff = i128::from(added) - i128::from(retracted);
    i64::try_from(diff).unwrap_or(if diff < 0 { i64::MIN } else { i64::MAX })
}

/// One rollup cell: per-replica totals and the unique visitors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cell {
    /// Page views, events, visits, bounces, duration per replica.
    pub tally: Tally,
    /// Distinct visitor ids seen in the cell.
    pub visitors: UniqueSketch,
}

impl Lattice for Cell {
    fn merge(&mut self, other: &Self) {
        self.tally.merge(&other.tally);
        self.visitors.merge(&other.visitors);
    }

    fn validate_merge(&self, other: &Self) -> Result<()> {
        self.visitors.validate_merge(&other.visitors)
    }
}

/// The counts of the fields present in `mask`, read in field order by
/// `next`, checked: no zero marked present, no more retracted than added.
pub(super) fn read_counts(mask: u64, mut next: impl FnMut() -> Result<u64>) -> Result<Counts> {
    let mut fields = [0u64; 8];
    for (i, field) in fields.iter_mut().enumerate() {
        if mask & (1 << i) != 0 {
            *field = next()?;
            if *field == 0 {
                return Err(malformed("tally", "a zero value marked present"));
            }
        }
    }
    let counts = Counts::from_fields(fields);
    if counts.visits_retracted > counts.visits_added
        || counts.bounces_retracted > counts.bounces_added
        || counts.duration_retracted_ms > counts.duration_added_ms
    {
        return Err(malformed("tally", "more retracted than added"));
    }
    Ok(counts)
}
