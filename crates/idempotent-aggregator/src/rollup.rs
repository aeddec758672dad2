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
//!   - the visitor-level dimensions ([`Dimension::is_visit_level`]: hostname,
//!     source, referrer, channel, UTM, country, browser, OS, device, screen)
//!     and [`Dimension::Total`] count every event, and their sketches every
//!     visitor;
//!   - [`Dimension::Page`] counts page views only (a custom event's page is
//!     not a page view of it); [`Dimension::Goal`] counts custom events by
//!     name; [`Dimension::Prop`] counts events by `key=value`.
//! - Visit-level counts (`visits`, `bounces`, `duration`) go to the hour the
//!   visit started, under the visit's *first* event's visitor-level values,
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

use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use serde::{Deserialize, Serialize};

use crate::counter::ReplicaId;
use crate::lattice::Lattice;
use crate::sketch::UniqueSketch;
use crate::{Error, Result};

mod compact;

/// Milliseconds in one hour bucket.
pub const HOUR_MS: u64 = 3_600_000;

/// The version tag of the [`SiteRollup`] encoding.
const ROLLUP_V1: u8 = 1;

/// The hour bucket (hours since the Unix epoch, UTC) of a timestamp.
pub fn hour_of(timestamp_ms: u64) -> u32 {
    u32::try_from(timestamp_ms / HOUR_MS).unwrap_or(u32::MAX)
}

macro_rules! dimensions {
    ($($(#[$doc:meta])* $name:ident = $tag:literal, $label:literal;)*) => {
        /// What a rollup cell is keyed by, besides site and hour.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Dimension {
            $($(#[$doc])* $name = $tag,)*
        }

        impl Dimension {
            /// Every dimension, in tag order.
            pub const ALL: [Dimension; DIMENSIONS] = [$(Dimension::$name,)*];

            /// A stable lower-case name (`entry_page`, `utm_source`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Dimension::$name => $label,)*
                }
            }
        }
    };
}

/// How many dimensions there are.
pub const DIMENSIONS: usize = 22;

dimensions! {
    /// The site total; its one value is the empty string.
    Total = 0, "total";
    /// Page path of page views.
    Page = 1, "page";
    /// Page of a visit's first page view.
    EntryPage = 2, "entry_page";
    /// Page of a visit's last page view.
    ExitPage = 3, "exit_page";
    /// Host name of the page.
    Hostname = 4, "hostname";
    /// Named source or referrer host (`""` is direct traffic).
    Source = 5, "source";
    /// Referrer URL.
    Referrer = 6, "referrer";
    /// Acquisition channel.
    Channel = 7, "channel";
    /// `utm_source`.
    UtmSource = 8, "utm_source";
    /// `utm_medium`.
    UtmMedium = 9, "utm_medium";
    /// `utm_campaign`.
    UtmCampaign = 10, "utm_campaign";
    /// `utm_content`.
    UtmContent = 11, "utm_content";
    /// `utm_term`.
    UtmTerm = 12, "utm_term";
    /// ISO country code.
    Country = 13, "country";
    /// Browser name.
    Browser = 14, "browser";
    /// Browser name and version, `"Chrome 120"`.
    BrowserVersion = 15, "browser_version";
    /// Operating system.
    Os = 16, "os";
    /// Operating system and version, `"Android 14"`.
    OsVersion = 17, "os_version";
    /// Device class.
    Device = 18, "device";
    /// Screen class.
    Screen = 19, "screen";
    /// Custom event (goal) name.
    Goal = 20, "goal";
    /// Custom property, `key=value`.
    Prop = 21, "prop";
}

impl Dimension {
    /// The dimension with this tag.
    pub fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.get(usize::from(tag)).copied()
    }

    /// The tag of this dimension in the encoding.
    pub fn tag(self) -> u8 {
        self as u8
    }

    /// Whether an empty value is *absent* rather than a value, and gets no
    /// cell: the UTM fields, the referrer URL, the host name and the browser
    /// and OS versions (absent when the version is unknown). (An empty
    /// [`Dimension::Source`] is direct traffic and is kept.) The "(none)"
    /// row of such a breakdown is the total minus the listed values, for
    /// everything but uniques.
    pub fn omits_empty(self) -> bool {
        matches!(
            self,
            Self::Hostname
                | Self::Referrer
                | Self::BrowserVersion
                | Self::OsVersion
                | Self::UtmSource
                | Self::UtmMedium
                | Self::UtmCampaign
                | Self::UtmContent
                | Self::UtmTerm
        )
    }

    /// Whether the dimension is a property of the visitor or visit (counted
    /// for every event and attributed the visit's counts): hostname through
    /// screen.
    pub fn is_visit_level(self) -> bool {
        (Self::Hostname.tag()..=Self::Screen.tag()).contains(&self.tag())
    }
}

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

    fn is_zero(&self) -> bool {
        self.fields() == [0; 8]
    }
}

/// The per-replica totals of one cell: a PN counter of eight fields.
///
/// Canonical form: entries sorted by replica, none all-zero; a single entry
/// is stored inline (the common case: one writer per site), so scanning the
/// cells of a range does not chase a pointer per cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    repr: TallyRepr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum TallyRepr {
    One((ReplicaId, Counts)),
    /// Zero or at least two entries.
    Many(Vec<(ReplicaId, Counts)>),
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

    fn from_entries(mut entries: Vec<(ReplicaId, Counts)>) -> Self {
        entries.retain(|(_, c)| !c.is_zero());
        match entries.as_slice() {
            [(replica, counts)] => Self::single(*replica, *counts),
            _ => Self {
                repr: TallyRepr::Many(entries),
            },
        }
    }

    /// The per-replica totals, sorted by replica.
    pub fn entries(&self) -> &[(ReplicaId, Counts)] {
        match &self.repr {
            TallyRepr::One(entry) => std::slice::from_ref(entry),
            TallyRepr::Many(entries) => entries,
        }
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
        let mut entries = self.entries().to_vec();
        for (replica, counts) in other.entries() {
            match entries.binary_search_by_key(replica, |e| e.0) {
                Ok(i) => entries[i].1 = entries[i].1.max(counts),
                Err(i) => entries.insert(i, (*replica, *counts)),
            }
        }
        *self = Self::from_entries(entries);
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
    fn add_counts(&mut self, c: &Counts) {
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

    fn add(&mut self, other: &Metrics) {
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

/// The sequence numbers of one replica's deltas that a rollup contains:
/// `1..=contiguous` plus the out-of-order `extra` ones. A grow-only set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeqSet {
    contiguous: u64,
    extra: BTreeSet<u64>,
}

impl SeqSet {
    /// Adds one sequence number (0 is not a sequence number and is ignored).
    pub fn insert(&mut self, seq: u64) {
        if seq > self.contiguous {
            self.extra.insert(seq);
            self.normalize();
        }
    }

    /// Whether `seq` is in the set.
    pub fn contains(&self, seq: u64) -> bool {
        (seq != 0 && seq <= self.contiguous) || self.extra.contains(&seq)
    }

    /// The highest sequence number `h` such that all of `1..=h` are in.
    pub fn contiguous(&self) -> u64 {
        self.contiguous
    }

    /// The sequence numbers below the highest one that are missing (gaps a
    /// shipper should re-send), at most `limit` of them.
    pub fn missing(&self, limit: usize) -> Vec<u64> {
        let Some(&max) = self.extra.last() else {
            return Vec::new();
        };
        (self.contiguous.saturating_add(1)..max)
            .filter(|s| !self.extra.contains(s))
            .take(limit)
            .collect()
    }

    fn normalize(&mut self) {
        let c = self.contiguous;
        self.extra.retain(|&s| s > c);
        while let Some(next) = self.contiguous.checked_add(1)
            && self.extra.first() == Some(&next)
        {
            self.extra.pop_first();
            self.contiguous = next;
        }
    }
}

impl Lattice for SeqSet {
    fn merge(&mut self, other: &Self) {
        self.contiguous = self.contiguous.max(other.contiguous);
        self.extra.extend(other.extra.iter().copied());
        self.normalize();
    }

    fn validate_merge(&self, _other: &Self) -> Result<()> {
        Ok(())
    }
}

/// A half-open range of hour buckets `[start, end)`, hours since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HourRange {
    /// First hour in the range.
    pub start: u32,
    /// First hour after the range.
    pub end: u32,
}

impl HourRange {
    /// The hours `[start, end)`.
    pub fn new(start: u32, end: u32) -> Self {
        Self { start, end }
    }

    /// Every hour.
    pub fn all() -> Self {
        Self::new(0, u32::MAX)
    }

    /// The calendar day `day` (days since the epoch) of a site whose time
    /// zone is `utc_offset_hours` ahead of UTC (whole hours; a half-hour zone
    /// is approximated by the hour buckets).
    pub fn local_day(day: u32, utc_offset_hours: i32) -> Self {
        let start = i64::from(day) * 24 - i64::from(utc_offset_hours);
        let clamp = |h: i64| u32::try_from(h.max(0)).unwrap_or(u32::MAX);
        Self::new(clamp(start), clamp(start + 24))
    }

    /// The UTC day `day` (days since the epoch).
    pub fn utc_day(day: u32) -> Self {
        Self::local_day(day, 0)
    }
}

/// Query answer: net metrics and unique visitors of a range.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Page views.
    pub pageviews: u64,
    /// Events, page views included.
    pub events: u64,
    /// Visits (sessions).
    pub visits: u64,
    /// Visits with exactly one interactive page view.
    pub bounces: u64,
    /// Total visit duration, milliseconds.
    pub duration_ms: u64,
    /// Unique visitors (estimate: the union of the range's sketches).
    pub visitors: u64,
}

impl Stats {
    fn from_metrics(m: &Metrics, visitors: u64) -> Self {
        let clamp = |v: i64| u64::try_from(v).unwrap_or(0);
        Self {
            pageviews: m.pageviews,
            events: m.events,
            visits: clamp(m.visits),
            bounces: clamp(m.bounces),
            duration_ms: clamp(m.duration_ms),
            visitors,
        }
    }

    /// Bounces over visits, 0 without visits.
    pub fn bounce_rate(&self) -> f64 {
        ratio(self.bounces, self.visits)
    }

    /// Page views per visit, 0 without visits.
    pub fn views_per_visit(&self) -> f64 {
        ratio(self.pageviews, self.visits)
    }

    /// Mean visit duration in milliseconds, 0 without visits.
    pub fn mean_visit_duration_ms(&self) -> f64 {
        ratio(self.duration_ms, self.visits)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The metric a breakdown is ordered by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OrderBy {
    /// Page views, then events.
    Pageviews,
    /// Events.
    Events,
    /// Visits (for entry and exit pages).
    Visits,
}

/// One row of a breakdown.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The dimension value.
    pub value: String,
    /// Its metrics and uniques over the range.
    pub stats: Stats,
}

/// Dimension values of one rollup, interned: cells are keyed by `u32` ids,
/// so scanning a range sums into a dense array instead of hashing strings.
#[derive(Clone, Debug, Default)]
pub(crate) struct Values {
    hasher: DefaultHashBuilder,
    table: HashTable<u32>,
    /// Every string laid end to end, in order of first use: the comparisons
    /// of interning read one dense buffer rather than a heap block each.
    bytes: String,
    /// `(start, end)` of each id's string in `bytes`.
    spans: Vec<(u32, u32)>,
}

impl Values {
    /// The id of `s`, interned when new.
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        let hash = self.hasher.hash_one(s);
        if let Some(&id) = self.table.find(hash, |&id| self.get(id) == s) {
            return id;
        }
        let (bytes, spans, hasher) = (&mut self.bytes, &mut self.spans, &self.hasher);
        let id = u32::try_from(spans.len()).unwrap_or(u32::MAX);
        let start = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        bytes.push_str(s);
        let end = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        spans.push((start, end));
        self.table.insert_unique(hash, id, |&id| {
            let &(start, end) = spans.get(id as usize).unwrap_or(&(0, 0));
            hasher.hash_one(bytes.get(start as usize..end as usize).unwrap_or(""))
        });
        id
    }

    /// The id of `s`, if interned.
    pub(crate) fn find(&self, s: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(s);
        self.table.find(hash, |&id| self.get(id) == s).copied()
    }

    /// The string of `id` (empty for an unknown id).
    pub(crate) fn get(&self, id: u32) -> &str {
        self.spans
            .get(id as usize)
            .and_then(|&(start, end)| self.bytes.get(start as usize..end as usize))
            .unwrap_or("")
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
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

    /// Totals of the site over `range`: the `Total` cells.
    pub fn totals(&self, range: HourRange) -> Stats {
        self.stats(range, Dimension::Total, "")
    }

    /// Metrics and uniques of one dimension value over `range`.
    pub fn stats(&self, range: HourRange, dim: Dimension, value: &str) -> Stats {
        match self.values.find(value) {
            Some(id) => self.stats_by_id(range, dim, id),
            None => Stats::default(),
        }
    }

    fn stats_by_id(&self, range: HourRange, dim: Dimension, id: u32) -> Stats {
        let mut metrics = Metrics::default();
        let mut visitors: Option<UniqueSketch> = None;
        for cells in self.range(range) {
            if let Some(cell) = cells.dim(dim).get(&id) {
                metrics.add(&cell.tally.metrics());
                match &mut visitors {
                    Some(v) => v.merge(&cell.visitors),
                    None => visitors = Some(cell.visitors.clone()),
                }
            }
        }
        Stats::from_metrics(&metrics, visitors.map_or(0, |v| v.count()))
    }

    /// Totals per bucket (days in the site's time zone, weeks...): one
    /// [`Stats`] per range, in order.
    pub fn series(&self, buckets: &[HourRange]) -> Vec<Stats> {
        buckets.iter().map(|&range| self.totals(range)).collect()
    }

    /// The top `n` values of `dim` over `range` by `order` (ties: value
    /// ascending), with their uniques (unions computed for those `n` only).
    pub fn top(&self, range: HourRange, dim: Dimension, order: OrderBy, n: usize) -> Vec<Row> {
        // Dense sums indexed by value id: no hashing while scanning.
        let mut sums = vec![Metrics::default(); self.values.len()];
        let mut seen = vec![false; self.values.len()];
        let mut touched: Vec<u32> = Vec::new();
        for cells in self.range(range) {
            for (&id, cell) in cells.dim(dim) {
                let Some(sum) = sums.get_mut(id as usize) else {
                    continue;
                };
                sum.add(&cell.tally.metrics());
                if let Some(flag) = seen.get_mut(id as usize)
                    && !*flag
                {
                    *flag = true;
                    touched.push(id);
                }
            }
        }
        let key = |id: u32| -> (i128, i128) {
            let m = sums.get(id as usize).copied().unwrap_or_default();
            match order {
                OrderBy::Pageviews => (i128::from(m.pageviews), i128::from(m.events)),
                OrderBy::Events => (i128::from(m.events), 0),
                OrderBy::Visits => (i128::from(m.visits), i128::from(m.pageviews)),
            }
        };
        touched.retain(|&id| key(id) > (0, 0));
        let cmp = |a: &u32, b: &u32| {
            key(*b)
                .cmp(&key(*a))
                .then_with(|| self.values.get(*a).cmp(self.values.get(*b)))
        };
        if touched.len() > n && n > 0 {
            touched.select_nth_unstable_by(n - 1, cmp);
        }
        touched.truncate(n);
        touched.sort_unstable_by(cmp);
        touched
            .into_iter()
            .map(|id| Row {
                value: self.values.get(id).to_owned(),
                stats: self.stats_by_id(range, dim, id),
            })
            .collect()
    }

    fn range(&self, range: HourRange) -> impl Iterator<Item = &HourCells> {
        let end = range.end.max(range.start);
        self.hours.range(range.start..end).map(|(_, cells)| cells)
    }

    /// The retired version-1 encoding (see `docs/wire-format.md`, section
    /// `rollup`): deterministic, values stored once in a string table.
    /// Nothing new should be written in it ([`Self::encode`] writes version 2,
    /// about 45 % smaller); it stays so that its golden bytes remain pinned and
    /// [`Self::decode`]'s reading of version 1 stays tested.
    pub fn encode_v1(&self) -> Vec<u8> {
        let out = vec![ROLLUP_V1];
        let wire = self.to_wire();
        // Serializing plain owned data into a Vec cannot fail.
        postcard::to_extend(&wire, out).unwrap_or_else(|_| vec![ROLLUP_V1])
    }

    /// Decodes version-1 bytes ([`Self::encode_v1`]); [`Self::decode`]
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
                        let fields = counts.fields();
                        let mask = fields
                            .iter()
                            .enumerate()
                            .fold(0u64, |m, (i, &v)| if v != 0 { m | 1 << i } else { m });
                        tally.push(mask);
                        tally.extend(fields.iter().copied().filter(|&v| v != 0));
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

pub(crate) fn postcard_error(err: postcard::Error) -> Error {
    match err {
        postcard::Error::DeserializeUnexpectedEnd => Error::Truncated {
            kind: KIND,
            field: "body",
        },
        _ => malformed("body", "not a postcard rollup body"),
    }
}

/// The counts of the fields present in `mask`, read in field order by
/// `next`, checked: no zero marked present, no more retracted than added.
fn read_counts(mask: u64, mut next: impl FnMut() -> Result<u64>) -> Result<Counts> {
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
            return Err(Error::Malformed {
                kind: KIND,
                field: "site",
                reason: "rollups of different sites do not merge",
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
