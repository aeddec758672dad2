//! The query API: ranges of hours, and the [`Stats`] and breakdown [`Row`]s
//! a [`SiteRollup`] answers over them.

use crate::lattice::Lattice;
use crate::sketch::UniqueSketch;

use super::{Dimension, HourCells, Metrics, SiteRollup};

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
    /// zone is `utc_offset_hours` ahead of UTC (whole hours, no daylight
    /// saving time; a half-hour zone is approximated by the hour buckets).
    /// Site-local days, weeks and months in an IANA zone (DST, +5:30, +5:45)
    /// are resolved by `glinto-query`, on buckets with the site's phase
    /// ([`super::bucket_of`]).
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
    pub(super) fn from_metrics(m: &Metrics, visitors: u64) -> Self {
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

impl SiteRollup {
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

    pub(super) fn range(&self, range: HourRange) -> impl Iterator<Item = &HourCells> {
        let end = range.end.max(range.start);
        self.hours.range(range.start..end).map(|(_, cells)| cells)
    }
}
