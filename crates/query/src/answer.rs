//! Answering a [`QueryPlan`] from a site's rollup.

use std::cmp::Ordering;
use std::collections::HashMap;

use glinto_aggregator::rollup::{Dimension, HourRange, SiteRollup, Stats};
use glinto_aggregator::sketch::DEFAULT_PRECISION;

use crate::QueryError;
use crate::plan::{Metric, Period, QueryPlan, SortKey, ValueDim};
use crate::response::{
    ComparisonRow, Estimates, Meta, MetricValue, QueryEcho, QueryResponse, ResultRow,
};
use crate::time::Grain;

/// Counts up to this come from a sketch's sparse representation (HyperLogLog++
/// switches to dense registers above `2^p / 16` prefixes).
const EXACT_UP_TO: u64 = (1 << DEFAULT_PRECISION) / 16;

/// From which bucket on the rollup the engine loaded holds hour cells, and
/// from which day cells; before `days_from` only month cells (stored at the
/// key of their first bucket). [`Resolution::hourly`] when every cell is an
/// hour cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The first bucket from which hour cells exist.
    pub hours_from: u32,
    /// The first bucket from which day cells (or finer) exist; at most
    /// `hours_from`.
    pub days_from: u32,
}

impl Resolution {
    /// Hour cells everywhere.
    pub fn hourly() -> Self {
        Self {
            hours_from: 0,
            days_from: 0,
        }
    }

    /// Hour cells from `hours_from`, day cells from `days_from`, month cells
    /// before.
    pub fn new(hours_from: u32, days_from: u32) -> Self {
        Self {
            hours_from,
            days_from: days_from.min(hours_from),
        }
    }

    /// Whether the cells can answer `plan`: every boundary it cuts at lies
    /// where cells of its grain exist.
    ///
    /// # Errors
    /// [`QueryError::ResolutionUnavailable`] naming the first boundary that
    /// cannot be answered (`time:hour` over hours already folded into days).
    pub fn check(&self, plan: &QueryPlan) -> Result<(), QueryError> {
        for (boundary, grain) in plan.boundaries() {
            let b = boundary.bucket;
            let ok = b >= self.hours_from
                || (grain >= Grain::Day && b >= self.days_from)
                || grain == Grain::Month;
            if ok {
                continue;
            }
            let (needs, available) = if grain == Grain::Hour {
                ("hour", self.hours_from)
            } else {
                ("day", self.days_from)
            };
            let hourly = plan.time.map(|t| t.as_str()) == Some("time:hour");
            return Err(QueryError::ResolutionUnavailable {
                field: if hourly { "dimensions" } else { "date_range" },
                what: if hourly {
                    "time:hour".to_owned()
                } else {
                    "this date range".to_owned()
                },
                needs,
                from: plan.clock.hour_label(b),
                available: plan.clock.hour_label(available),
            });
        }
        Ok(())
    }
}

/// One result group before formatting.
#[derive(Clone, Debug)]
struct Group {
    /// Index of the time bucket.
    bucket: Option<usize>,
    /// Stored value of the value dimension.
    value: Option<String>,
    stats: Stats,
}

/// Answers `plan` from `rollup`, which must hold the cells of
/// [`QueryPlan::ranges`] (hour cells, or day and month cells at the key of
/// their first bucket where `resolution` says so).
///
/// # Errors
/// [`QueryError::ResolutionUnavailable`] when the plan cuts where only
/// coarser cells exist.
pub fn answer(
    plan: &QueryPlan,
    rollup: &SiteRollup,
    resolution: &Resolution,
) -> Result<QueryResponse, QueryError> {
    resolution.check(plan)?;
    let q = Answerer { plan, rollup };
    let needs_visitors = plan.metrics.iter().any(|m| m.uses_visitors());
    let sort_by_visitors = plan.order_by.iter().any(|(k, _)| match k {
        SortKey::Metric(i) => plan.metrics.get(*i).is_some_and(|m| m.uses_visitors()),
        _ => false,
    });
    let eager = needs_visitors && (sort_by_visitors || plan.time.is_some());
    let fill_time = plan.comparison.is_some() && plan.value.is_none();
    let mut groups = q.groups(&plan.main, eager, fill_time);
    let totals = q.ratio_totals(plan.main.range);

    let total_rows = groups.len() as u64;
    let offset = usize::try_from(plan.pagination.offset).unwrap_or(usize::MAX);
    let limit = usize::try_from(plan.pagination.limit).unwrap_or(usize::MAX);
    // Only the rows up to the page's end need their order (a top 10 of
    // thousands of pages): select them, then sort those.
    let wanted = offset.saturating_add(limit);
    if wanted < groups.len() {
        groups.select_nth_unstable_by(wanted, |a, b| q.compare(a, b, totals));
        groups.truncate(wanted);
    }
    groups.sort_by(|a, b| q.compare(a, b, totals));
    let mut page: Vec<Group> = groups.into_iter().skip(offset).take(limit).collect();
    if needs_visitors && !eager {
        for g in &mut page {
            if let (Some(v), Some(stored)) = (&plan.value, &g.value) {
                g.stats.visitors = rollup.stats(plan.main.range, v.dim, stored).visitors;
            }
        }
    }

    let mut max_visitors = if needs_visitors {
        totals.0.max(totals.1)
    } else {
        0
    };
    let comparison = plan
        .comparison
        .as_ref()
        .map(|p| (p, q.ratio_totals(p.range)));
    let mut results = Vec::with_capacity(page.len());
    for g in &page {
        max_visitors = max_visitors.max(g.stats.visitors);
        let metrics = q.metric_values(&g.stats, totals);
        let comparison = comparison.map(|(period, ctotals)| {
            let range = match g.bucket {
                Some(i) => period.buckets.get(i).map(|b| b.range),
                None => Some(period.range),
            };
            let stats = match (range, &plan.value, &g.value) {
                (None, _, _) => Stats::default(),
                (Some(r), Some(v), Some(stored)) => q.value_stats(r, v, stored),
                (Some(r), _, _) => q.scope_stats(r),
            };
            max_visitors = max_visitors
                .max(stats.visitors)
                .max(ctotals.0)
                .max(ctotals.1);
            let old = q.metric_values(&stats, ctotals);
            let change = plan
                .metrics
                .iter()
                .zip(old.iter().zip(&metrics))
                .map(|(&m, (&o, &n))| change(m, o, n))
                .collect();
            ComparisonRow {
                dimensions: q.labels(g, Some(period)),
                metrics: old,
                change,
            }
        });
        results.push(ResultRow {
            dimensions: q.labels(g, None),
            metrics,
            comparison,
        });
    }

    let include = &plan.include;
    let estimated: Vec<String> = plan
        .metrics
        .iter()
        .filter(|m| m.uses_visitors())
        .map(|m| m.as_str().to_owned())
        .collect();
    let meta = Meta {
        estimates: (!estimated.is_empty()).then(|| Estimates {
            metrics: estimated,
            sketch: "HyperLogLog++".to_owned(),
            relative_standard_error: 1.04 / f64::from(1u32 << DEFAULT_PRECISION).sqrt(),
            exact_up_to: EXACT_UP_TO,
            exact: max_visitors <= EXACT_UP_TO,
        }),
        imports_included: include.imports.then_some(false),
        imports_skip_reason: include.imports.then(|| "no_imported_data".to_owned()),
        time_labels: include
            .time_labels
            .then(|| plan.main.buckets.iter().map(|b| b.label.clone()).collect()),
        time_zone_warning: plan.approximate().then(|| {
            "the site's time zone changes its offset by a non-whole hour: some boundaries were rounded down to the hour bucket".to_owned()
        }),
        total_rows: include.total_rows.then_some(total_rows),
    };
    let clock = &plan.clock;
    let range = plan.main.range;
    let query = QueryEcho {
        site_id: plan.site_id.clone(),
        metrics: plan.metrics.iter().map(|m| m.as_str().to_owned()).collect(),
        date_range: [
            clock.iso(clock.bucket_start_ms(range.start)),
            clock.iso(clock.bucket_start_ms(range.end) - 1_000),
        ],
        filters: plan.filters_echo.clone(),
        dimensions: plan.dimension_names.clone(),
        order_by: plan.order_echo.clone(),
        include: plan.include.clone(),
        pagination: plan.pagination,
    };
    Ok(QueryResponse {
        results,
        meta,
        query,
    })
}

struct Answerer<'a> {
    plan: &'a QueryPlan,
    rollup: &'a SiteRollup,
}

impl Answerer<'_> {
    /// The groups of a period: one per (time bucket, value) with data; the
    /// single row of a query without dimensions always.
    fn groups(&self, period: &Period, visitors: bool, fill_time: bool) -> Vec<Group> {
        let plan = self.plan;
        let buckets: Vec<(Option<usize>, HourRange)> = if plan.time.is_some() {
            period
                .buckets
                .iter()
                .enumerate()
                .map(|(i, b)| (Some(i), b.range))
                .collect()
        } else {
            vec![(None, period.range)]
        };
        let mut out = Vec::new();
        for (bucket, range) in buckets {
            match &plan.value {
                Some(v) => {
                    for (value, stats) in self.value_rows(range, v, visitors) {
                        out.push(Group {
                            bucket,
                            value: Some(value),
                            stats,
                        });
                    }
                }
                None => {
                    let stats = self.scope_stats(range);
                    if bucket.is_none() || fill_time || stats != Stats::default() {
                        out.push(Group {
                            bucket,
                            value: None,
                            stats,
                        });
                    }
                }
            }
        }
        out
    }

    /// Totals of the query's scope over `range`: the filtered values, or the
    /// site.
    fn scope_stats(&self, range: HourRange) -> Stats {
        match &self.plan.filter {
            Some(f) => {
                let values: Vec<&str> = f.values.iter().map(String::as_str).collect();
                self.rollup.stats_any(range, f.dim.dim, &values)
            }
            None => self.rollup.totals(range),
        }
    }

    /// Whether `event:page` rows need their entry pages' visits.
    fn page_bounces(&self, v: &ValueDim) -> bool {
        v.dim == Dimension::Page && self.plan.metrics.contains(&Metric::BounceRate)
    }

    /// Every value of `v` with data over `range`, restricted by the filter.
    fn value_rows(&self, range: HourRange, v: &ValueDim, visitors: bool) -> Vec<(String, Stats)> {
        let filter = self.plan.filter.as_ref().map(|f| &f.values);
        let mut rows: Vec<(String, Stats)> = self
            .rollup
            .breakdown(range, v.dim, visitors)
            .into_iter()
            .filter(|r| v.api(&r.value).is_some() && filter.is_none_or(|f| f.contains(&r.value)))
            .map(|r| (r.value, r.stats))
            .collect();
        if self.page_bounces(v) {
            let entries: HashMap<String, Stats> = self
                .rollup
                .breakdown(range, Dimension::EntryPage, false)
                .into_iter()
                .map(|r| (r.value, r.stats))
                .collect();
            for (value, stats) in &mut rows {
                with_visits_of(
                    stats,
                    entries.get(value.as_str()).copied().unwrap_or_default(),
                );
            }
        }
        rows
    }

    /// The stats of one stored value of `v` over `range`.
    fn value_stats(&self, range: HourRange, v: &ValueDim, stored: &str) -> Stats {
        let mut stats = self.rollup.stats(range, v.dim, stored);
        if self.page_bounces(v) {
            with_visits_of(
                &mut stats,
                self.rollup.stats(range, Dimension::EntryPage, stored),
            );
        }
        stats
    }

    /// The denominators over a period: visitors of the query's scope (for
    /// `percentage`) and of the whole site (for `conversion_rate`, goal
    /// filters removed), as Plausible computes them over the whole range.
    fn ratio_totals(&self, range: HourRange) -> (u64, u64) {
        let m = &self.plan.metrics;
        let pct = if m.contains(&Metric::Percentage) {
            self.scope_stats(range).visitors
        } else {
            0
        };
        let cr = if m.contains(&Metric::ConversionRate) {
            self.rollup.totals(range).visitors
        } else {
            0
        };
        (pct, cr)
    }

    fn metric_values(&self, s: &Stats, totals: (u64, u64)) -> Vec<MetricValue> {
        self.plan
            .metrics
            .iter()
            .map(|&m| metric_value(m, s, totals))
            .collect()
    }

    /// The dimension labels of a group, in the query's order; with `period`,
    /// the time labels of that (comparison) period.
    fn labels(&self, g: &Group, period: Option<&Period>) -> Vec<String> {
        let plan = self.plan;
        let period = period.unwrap_or(&plan.main);
        plan.dimension_names
            .iter()
            .map(|name| {
                if name.starts_with("time") {
                    g.bucket
                        .and_then(|i| period.buckets.get(i))
                        .map(|b| b.label.clone())
                        .unwrap_or_default()
                } else {
                    match (&plan.value, &g.value) {
                        (Some(v), Some(stored)) => v.api(stored).unwrap_or_default().to_owned(),
                        _ => String::new(),
                    }
                }
            })
            .collect()
    }

    fn compare(&self, a: &Group, b: &Group, totals: (u64, u64)) -> Ordering {
        let plan = self.plan;
        for &(key, desc) in &plan.order_by {
            let ord = match key {
                SortKey::Metric(i) => {
                    let m = plan.metrics.get(i).copied().unwrap_or(Metric::Visitors);
                    let x = as_f64(metric_value(m, &a.stats, totals));
                    let y = as_f64(metric_value(m, &b.stats, totals));
                    x.total_cmp(&y)
                }
                SortKey::Time => a.bucket.cmp(&b.bucket),
                SortKey::Value => self.value_label(a).cmp(self.value_label(b)),
            };
            let ord = if desc { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.bucket
            .cmp(&b.bucket)
            .then_with(|| self.value_label(a).cmp(self.value_label(b)))
    }

    fn value_label<'g>(&self, g: &'g Group) -> &'g str {
        match (&self.plan.value, &g.value) {
            (Some(v), Some(stored)) => v.api(stored).unwrap_or_default(),
            _ => "",
        }
    }
}

/// Takes the visit counts (for `bounce_rate`) from the entry page's cells.
fn with_visits_of(stats: &mut Stats, entry: Stats) {
    stats.visits = entry.visits;
    stats.bounces = entry.bounces;
    stats.duration_ms = entry.duration_ms;
}

/// ClickHouse's `round(x, digits)` on floats: half to even.
fn round_to(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round_ties_even() / scale
}

fn ratio(a: u64, b: u64) -> f64 {
    a as f64 / b as f64
}

fn int(x: f64) -> MetricValue {
    MetricValue::Int(x as i64)
}

/// A metric's value as Plausible computes and rounds it.
fn metric_value(m: Metric, s: &Stats, (pct_total, cr_total): (u64, u64)) -> MetricValue {
    let count = |v: u64| MetricValue::Int(i64::try_from(v).unwrap_or(i64::MAX));
    match m {
        Metric::Visitors => count(s.visitors),
        Metric::Visits => count(s.visits),
        Metric::Pageviews => count(s.pageviews),
        Metric::Events => count(s.events),
        Metric::ViewsPerVisit if s.visits == 0 => MetricValue::Float(0.0),
        Metric::ViewsPerVisit => MetricValue::Float(round_to(ratio(s.pageviews, s.visits), 2)),
        Metric::BounceRate if s.visits == 0 => MetricValue::Int(0),
        Metric::BounceRate => int((ratio(s.bounces, s.visits) * 100.0).round_ties_even()),
        Metric::VisitDuration if s.visits == 0 => MetricValue::Int(0),
        Metric::VisitDuration => int((ratio(s.duration_ms, s.visits) / 1000.0).round_ties_even()),
        Metric::Percentage if pct_total == 0 => MetricValue::Null,
        Metric::Percentage => MetricValue::Float(round_to(ratio(s.visitors, pct_total) * 100.0, 1)),
        Metric::ConversionRate if cr_total == 0 => MetricValue::Float(0.0),
        Metric::ConversionRate => {
            MetricValue::Float(round_to(ratio(s.visitors, cr_total) * 100.0, 1))
        }
    }
}

fn as_f64(v: MetricValue) -> f64 {
    match v {
        MetricValue::Int(i) => i as f64,
        MetricValue::Float(f) => f,
        MetricValue::Null => f64::NEG_INFINITY,
    }
}

/// Plausible's `Compare.calculate_change`: the difference in points for
/// `bounce_rate` (null from 0), else the percent change rounded half away
/// from zero (100 from zero, 0 from zero to zero).
fn change(m: Metric, old: MetricValue, new: MetricValue) -> MetricValue {
    if matches!(old, MetricValue::Null) || matches!(new, MetricValue::Null) {
        return MetricValue::Null;
    }
    let (o, n) = (as_f64(old), as_f64(new));
    if m == Metric::BounceRate {
        return if o > 0.0 {
            int(n - o)
        } else {
            MetricValue::Null
        };
    }
    if o == 0.0 {
        return MetricValue::Int(if n > 0.0 { 100 } else { 0 });
    }
    int(((n - o) / o * 100.0).round())
}
