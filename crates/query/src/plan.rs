//! Validating a request and resolving its date ranges into bucket ranges.

use glinto_aggregator::rollup::{Dimension, HourRange};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::Value;

use crate::QueryError;
use crate::request::{Comparisons, DateRangeInput, Include, Pagination, QueryRequest};
use crate::time::{
    Boundary, Grain, SiteClock, add_days, add_months, bucket_offset_minutes, monday_of,
};

/// What [`plan`] needs to know about the site: its zone, its bucket phase
/// and the time of the request. Nothing here is read from a clock: `now_ms`
/// is passed in, so answers are reproducible.
#[derive(Clone, Debug)]
pub struct SiteContext {
    /// The site's domain (`site_id` must equal it).
    pub site_id: String,
    /// The site's IANA zone name, as configured.
    pub time_zone_name: String,
    /// The zone.
    pub time_zone: TimeZone,
    /// The phase of the site's buckets, minutes (stored with the site; the
    /// writer's `WriterConfig::bucket_offset_minutes`).
    pub bucket_offset_minutes: u16,
    /// The time of the request, ms since the epoch.
    pub now_ms: i64,
    /// The site's first data (or its creation), ms: where `"all"` starts.
    pub stats_start_ms: Option<i64>,
    /// The site's configured goal names, if it restricts them: a goal filter
    /// naming another is an error, as in Plausible. `None` accepts any
    /// custom event name.
    pub goals: Option<Vec<String>>,
}

impl SiteContext {
    /// The context of `site_id` in the IANA zone `time_zone` at `now_ms`,
    /// with the bucket phase stored for the site.
    ///
    /// # Errors
    /// [`QueryError::UnknownTimeZone`] when the zone is not in the bundled
    /// tz database.
    pub fn new(
        site_id: impl Into<String>,
        time_zone: &str,
        bucket_offset_minutes: u16,
        now_ms: i64,
    ) -> Result<Self, QueryError> {
        Ok(Self {
            site_id: site_id.into(),
            time_zone_name: time_zone.to_owned(),
            time_zone: zone(time_zone)?,
            bucket_offset_minutes: bucket_offset_minutes % 60,
            now_ms,
            stats_start_ms: None,
            goals: None,
        })
    }

    /// Sets where `"all"` starts.
    #[must_use]
    pub fn with_stats_start(mut self, ms: i64) -> Self {
        self.stats_start_ms = Some(ms);
        self
    }

    /// Restricts goal filters to these names.
    #[must_use]
    pub fn with_goals(mut self, goals: Vec<String>) -> Self {
        self.goals = Some(goals);
        self
    }

    pub(crate) fn clock(&self) -> SiteClock {
        SiteClock::new(self.time_zone.clone(), self.bucket_offset_minutes)
    }
}

/// The zone named `name` in the bundled tz database.
///
/// # Errors
/// [`QueryError::UnknownTimeZone`].
pub fn zone(name: &str) -> Result<TimeZone, QueryError> {
    TimeZone::get(name).map_err(|_| QueryError::UnknownTimeZone {
        name: name.to_owned(),
    })
}

/// The bucket phase for a site created at `at_ms` in the zone `name`: what
/// to store with the site and give its writer and its [`SiteContext`].
///
/// # Errors
/// [`QueryError::UnknownTimeZone`].
pub fn site_bucket_offset(name: &str, at_ms: i64) -> Result<u16, QueryError> {
    let tz = zone(name)?;
    let at = crate::time::timestamp(at_ms)?;
    Ok(bucket_offset_minutes(&tz, at))
}

/// A metric of the Stats API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Metric {
    Visitors,
    Visits,
    Pageviews,
    ViewsPerVisit,
    BounceRate,
    VisitDuration,
    Events,
    Percentage,
    ConversionRate,
}

impl Metric {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Visitors => "visitors",
            Self::Visits => "visits",
            Self::Pageviews => "pageviews",
            Self::ViewsPerVisit => "views_per_visit",
            Self::BounceRate => "bounce_rate",
            Self::VisitDuration => "visit_duration",
            Self::Events => "events",
            Self::Percentage => "percentage",
            Self::ConversionRate => "conversion_rate",
        }
    }

    const ALL: [Metric; 9] = [
        Self::Visitors,
        Self::Visits,
        Self::Pageviews,
        Self::ViewsPerVisit,
        Self::BounceRate,
        Self::VisitDuration,
        Self::Events,
        Self::Percentage,
        Self::ConversionRate,
    ];

    fn parse(s: &str) -> Result<Self, QueryError> {
        if let Some(m) = Self::ALL.into_iter().find(|m| m.as_str() == s) {
            return Ok(m);
        }
        if NOT_KEPT_METRICS.contains(&s) {
            return Err(QueryError::not_supported(
                "metrics",
                format!("metric `{s}`"),
                "the rollups do not keep what it needs",
            ));
        }
        Err(QueryError::InvalidMetrics {
            reason: format!("Unknown metric '{s:?}'."),
        })
    }

    /// Whether the metric divides or is unique visitors (a sketch).
    pub(crate) fn uses_visitors(self) -> bool {
        matches!(
            self,
            Self::Visitors | Self::Percentage | Self::ConversionRate
        )
    }

    fn is_session_only(self) -> bool {
        matches!(
            self,
            Self::BounceRate | Self::ViewsPerVisit | Self::VisitDuration
        )
    }
}

/// Plausible metrics that exist but that nothing here keeps.
const NOT_KEPT_METRICS: [&str; 5] = [
    "scroll_depth",
    "group_conversion_rate",
    "time_on_page",
    "average_revenue",
    "total_revenue",
];

/// A time dimension's bucket size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeDim {
    Hour,
    Day,
    Week,
    Month,
}

impl TimeDim {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "time:hour",
            Self::Day => "time:day",
            Self::Week => "time:week",
            Self::Month => "time:month",
        }
    }
}

/// What a value dimension's cells count, which decides the metrics it
/// answers exactly (see the crate docs' table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// `event:page`: page views by page; bounce rate from entry pages.
    Page,
    /// `event:hostname`, `event:goal`, `event:props:*`: events by value.
    Event,
    /// `visit:country`, browser, OS, device, screen: the same for every
    /// event of a visit, so per-event and per-visit attribution agree.
    Visitor,
    /// `visit:source`, referrer, channel, UTM: visits by their first
    /// event's value; events by their own.
    Acquisition,
    /// `visit:entry_page`, `visit:exit_page`: visits only.
    EntryExit,
}

/// A value dimension as the rollups keep it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ValueDim {
    /// The API name (`visit:country`).
    pub(crate) name: String,
    pub(crate) dim: Dimension,
    /// For `event:props:KEY`: `"KEY="`, the prefix of the stored values.
    pub(crate) prefix: Option<String>,
    pub(crate) class: Class,
}

impl ValueDim {
    fn parse(name: &str) -> Result<Self, QueryError> {
        use Dimension as D;
        let (dim, class) = match name {
            "event:page" => (D::Page, Class::Page),
            "event:hostname" => (D::Hostname, Class::Event),
            "event:goal" => (D::Goal, Class::Event),
            "visit:entry_page" => (D::EntryPage, Class::EntryExit),
            "visit:exit_page" => (D::ExitPage, Class::EntryExit),
            "visit:source" => (D::Source, Class::Acquisition),
            "visit:referrer" => (D::Referrer, Class::Acquisition),
            "visit:channel" => (D::Channel, Class::Acquisition),
            "visit:utm_source" => (D::UtmSource, Class::Acquisition),
            "visit:utm_medium" => (D::UtmMedium, Class::Acquisition),
            "visit:utm_campaign" => (D::UtmCampaign, Class::Acquisition),
            "visit:utm_content" => (D::UtmContent, Class::Acquisition),
            "visit:utm_term" => (D::UtmTerm, Class::Acquisition),
            "visit:country" => (D::Country, Class::Visitor),
            "visit:browser" => (D::Browser, Class::Visitor),
            "visit:browser_version" => (D::BrowserVersion, Class::Visitor),
            "visit:os" => (D::Os, Class::Visitor),
            "visit:os_version" => (D::OsVersion, Class::Visitor),
            "visit:device" => (D::Device, Class::Visitor),
            "visit:screen" => (D::Screen, Class::Visitor),
            _ => {
                if let Some(key) = name.strip_prefix("event:props:")
                    && !key.is_empty()
                {
                    return Ok(Self {
                        name: name.to_owned(),
                        dim: D::Prop,
                        prefix: Some(format!("{key}=")),
                        class: Class::Event,
                    });
                }
                if NOT_KEPT_DIMENSIONS.contains(&name) {
                    return Err(QueryError::not_supported(
                        "dimensions",
                        format!("dimension `{name}`"),
                        "the rollups do not keep it",
                    ));
                }
                return Err(QueryError::InvalidDimension {
                    value: name.to_owned(),
                    reason: String::new(),
                });
            }
        };
        Ok(Self {
            name: name.to_owned(),
            dim,
            prefix: None,
            class,
        })
    }

    /// The stored value of an API value (`Direct / None` is the empty
    /// source; a property value gets its key).
    pub(crate) fn stored(&self, api: &str) -> String {
        match &self.prefix {
            Some(p) => format!("{p}{api}"),
            None if self.dim == Dimension::Source && api == DIRECT => String::new(),
            None => api.to_owned(),
        }
    }

    /// The API value of a stored value, `None` when it is not this
    /// dimension's (another property's key).
    pub(crate) fn api<'a>(&self, stored: &'a str) -> Option<&'a str> {
        match &self.prefix {
            Some(p) => stored.strip_prefix(p.as_str()),
            None if self.dim == Dimension::Source && stored.is_empty() => Some(DIRECT),
            None => Some(stored),
        }
    }
}

/// Plausible's label of direct traffic in `visit:source`.
pub(crate) const DIRECT: &str = "Direct / None";

/// Plausible dimensions that exist but that the rollups do not keep.
const NOT_KEPT_DIMENSIONS: [&str; 9] = [
    "event:name",
    "visit:region",
    "visit:city",
    "visit:country_name",
    "visit:region_name",
    "visit:city_name",
    "visit:entry_page_hostname",
    "visit:exit_page_hostname",
    "segment",
];

/// A supported filter: `["is", dimension, values]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ValueFilter {
    pub(crate) dim: ValueDim,
    /// Stored values.
    pub(crate) values: Vec<String>,
}

impl ValueFilter {
    pub(crate) fn is_goal(&self) -> bool {
        self.dim.dim == Dimension::Goal
    }
}

/// One bucket of a time dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TimeBucket {
    pub(crate) label: String,
    pub(crate) range: HourRange,
}

/// A resolved date range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Period {
    pub(crate) range: HourRange,
    /// The local dates, for ranges given as dates.
    pub(crate) dates: Option<(Date, Date)>,
    /// The time dimension's buckets, in order (empty without one).
    pub(crate) buckets: Vec<TimeBucket>,
    /// Every boundary the answer cuts at, with how coarse it is.
    pub(crate) boundaries: Vec<(Boundary, Grain)>,
}

impl Period {
    fn approximate(&self) -> bool {
        self.boundaries.iter().any(|(b, _)| !b.aligned)
    }
}

/// What an ordering entry sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SortKey {
    /// The i-th metric.
    Metric(usize),
    /// The time dimension.
    Time,
    /// The value dimension.
    Value,
}

/// A validated query, its date ranges resolved to bucket ranges in the
/// site's zone. Produced by [`plan`], consumed by [`crate::answer`]; the
/// engine reads [`QueryPlan::ranges`] to know which cells to load.
#[derive(Clone, Debug)]
pub struct QueryPlan {
    pub(crate) site_id: String,
    pub(crate) metrics: Vec<Metric>,
    /// The request's dimensions, resolved (`time` -> `time:day`...).
    pub(crate) dimension_names: Vec<String>,
    pub(crate) time: Option<TimeDim>,
    pub(crate) value: Option<ValueDim>,
    pub(crate) filter: Option<ValueFilter>,
    pub(crate) filters_echo: Vec<Value>,
    pub(crate) order_by: Vec<(SortKey, bool)>,
    pub(crate) order_echo: Vec<[String; 2]>,
    pub(crate) include: Include,
    pub(crate) pagination: Pagination,
    pub(crate) main: Period,
    pub(crate) comparison: Option<Period>,
    pub(crate) clock: SiteClock,
}

impl QueryPlan {
    /// The bucket ranges whose cells the answer reads: the main range, then
    /// the comparison's if any. Load one `SiteRollup` holding the cells of
    /// all of them.
    pub fn ranges(&self) -> Vec<HourRange> {
        let mut out = vec![self.main.range];
        out.extend(self.comparison.as_ref().map(|p| p.range));
        out
    }

    /// The smallest range covering [`Self::ranges`].
    pub fn span(&self) -> HourRange {
        let ranges = self.ranges();
        let start = ranges.iter().map(|r| r.start).min().unwrap_or(0);
        let end = ranges.iter().map(|r| r.end).max().unwrap_or(0);
        HourRange::new(start, end)
    }

    /// The finest cells the answer cuts at: [`Grain::Hour`] for `time:hour`
    /// and datetime ranges, [`Grain::Day`] for days and weeks, else
    /// [`Grain::Month`]. Cells coarser than this cannot answer it.
    pub fn finest_grain(&self) -> Grain {
        self.boundaries()
            .map(|(_, g)| g)
            .min()
            .unwrap_or(Grain::Month)
    }

    /// The site.
    pub fn site_id(&self) -> &str {
        &self.site_id
    }

    pub(crate) fn boundaries(&self) -> impl Iterator<Item = (Boundary, Grain)> + '_ {
        self.main
            .boundaries
            .iter()
            .chain(self.comparison.iter().flat_map(|p| p.boundaries.iter()))
            .copied()
    }

    pub(crate) fn approximate(&self) -> bool {
        self.main.approximate() || self.comparison.as_ref().is_some_and(Period::approximate)
    }
}

/// Validates `request` and resolves its date ranges (main and comparison)
/// into bucket ranges in the site's zone, relative to `site.now_ms`.
///
/// # Errors
/// A [`QueryError`] naming the field at fault: unknown metric, invalid date
/// range, unknown dimension, invalid filter, a metric incompatible with the
/// dimensions (Plausible's rules), or what is valid but not supported yet.
pub fn plan(request: &QueryRequest, site: &SiteContext) -> Result<QueryPlan, QueryError> {
    if request.site_id != site.site_id {
        return Err(QueryError::WrongSite {
            site_id: request.site_id.clone(),
            expected: site.site_id.clone(),
        });
    }
    let clock = site.clock();
    let metrics = parse_metrics(&request.metrics)?;
    let today = clock.date_at(site.now_ms)?;
    let main_range = resolve_date_range(&request.date_range, site, &clock, today)?;

    // Dimensions.
    let mut time_requested: Option<Option<TimeDim>> = None;
    let mut value: Option<ValueDim> = None;
    let mut order_of_dims: Vec<bool> = Vec::new(); // true = time
    for (i, name) in request.dimensions.iter().enumerate() {
        if request.dimensions[..i].contains(name) {
            return Err(QueryError::InvalidDimension {
                value: name.clone(),
                reason: "listed twice".into(),
            });
        }
        let time = match name.as_str() {
            "time" => Some(None),
            "time:hour" => Some(Some(TimeDim::Hour)),
            "time:day" => Some(Some(TimeDim::Day)),
            "time:week" => Some(Some(TimeDim::Week)),
            "time:month" => Some(Some(TimeDim::Month)),
            _ => None,
        };
        if let Some(t) = time {
            if time_requested.is_some() {
                return Err(QueryError::InvalidDimension {
                    value: name.clone(),
                    reason: "only one time dimension can be queried".into(),
                });
            }
            time_requested = Some(t);
            order_of_dims.push(true);
            continue;
        }
        let dim = ValueDim::parse(name)?;
        if let Some(first) = &value {
            return Err(QueryError::not_supported(
                "dimensions",
                format!("a breakdown by both `{}` and `{name}`", first.name),
                "the rollups keep cells per value of one dimension, not per combination",
            ));
        }
        value = Some(dim);
        order_of_dims.push(false);
    }
    let time = time_requested.map(|t| t.unwrap_or_else(|| auto_time(main_range.range)));
    let dimension_names: Vec<String> = order_of_dims
        .iter()
        .map(|&is_time| match (is_time, time, &value) {
            (true, Some(t), _) => t.as_str().to_owned(),
            (_, _, Some(v)) => v.name.clone(),
            _ => String::new(),
        })
        .collect();

    let filter = parse_filters(&request.filters, value.as_ref(), site)?;
    check_metrics(
        &metrics,
        &request.metrics,
        time.is_some(),
        value.as_ref(),
        filter.as_ref(),
    )?;

    let (order_by, order_echo) = parse_order_by(
        request.order_by.as_deref(),
        &metrics,
        &request.metrics,
        &dimension_names,
        time,
        &value,
    )?;

    if request.include.time_labels && time.is_none() {
        return Err(QueryError::InvalidOption {
            field: "include.time_labels",
            reason: "requires a time dimension.".into(),
        });
    }
    if request.pagination.limit == 0 {
        return Err(QueryError::InvalidOption {
            field: "pagination.limit",
            reason: "must be at least 1.".into(),
        });
    }

    let main = period(&clock, main_range, time)?;
    let comparison = match &request.include.comparisons {
        Some(c) => Some(period(
            &clock,
            comparison_range(c, &main, &clock, today)?,
            time,
        )?),
        None => None,
    };
    Ok(QueryPlan {
        site_id: site.site_id.clone(),
        metrics,
        dimension_names,
        time,
        value,
        filter,
        filters_echo: request.filters.clone(),
        order_by,
        order_echo,
        include: request.include.clone(),
        pagination: request.pagination,
        main,
        comparison,
        clock,
    })
}

fn parse_metrics(names: &[String]) -> Result<Vec<Metric>, QueryError> {
    if names.is_empty() {
        return Err(QueryError::InvalidMetrics {
            reason: "Invalid metrics: at least one metric is required.".into(),
        });
    }
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let m = Metric::parse(name)?;
        if out.contains(&m) {
            return Err(QueryError::InvalidMetrics {
                reason: format!("Invalid metrics: `{name}` is listed twice."),
            });
        }
        out.push(m);
    }
    Ok(out)
}

/// A date range before its time buckets: bucket range and, for date
/// ranges, the dates.
#[derive(Clone, Copy, Debug)]
struct RawRange {
    range: HourRange,
    start: Boundary,
    end: Boundary,
    start_grain: Grain,
    end_grain: Grain,
    dates: Option<(Date, Date)>,
}

fn date_range(clock: &SiteClock, first: Date, last: Date) -> Result<RawRange, QueryError> {
    if first > last {
        return Err(QueryError::invalid_date_range(
            format!("[{first}, {last}]"),
            "the first date is after the last",
        ));
    }
    let (start, end) = clock.days(first, last)?;
    let grain = |d: Date| {
        if d.day() == 1 {
            Grain::Month
        } else {
            Grain::Day
        }
    };
    Ok(RawRange {
        range: HourRange::new(start.bucket, end.bucket),
        start,
        end,
        start_grain: grain(first),
        end_grain: grain(add_days(last, 1)),
        dates: Some((first, last)),
    })
}

fn bucket_range(start: u32, end: u32) -> RawRange {
    let b = |bucket| Boundary {
        bucket,
        aligned: true,
    };
    RawRange {
        range: HourRange::new(start, end),
        start: b(start),
        end: b(end),
        start_grain: Grain::Hour,
        end_grain: Grain::Hour,
        dates: None,
    }
}

fn resolve_date_range(
    input: &DateRangeInput,
    site: &SiteContext,
    clock: &SiteClock,
    today: Date,
) -> Result<RawRange, QueryError> {
    let invalid = || QueryError::invalid_date_range(input.to_string(), "");
    match input {
        DateRangeInput::Shorthand(s) => match s.as_str() {
            "day" => date_range(clock, today, today),
            "24h" => {
                let end = clock.bucket_at(site.now_ms).saturating_add(1);
                Ok(bucket_range(end.saturating_sub(24), end))
            }
            "month" => date_range(clock, today.first_of_month(), today.last_of_month()),
            "year" => {
                let first = today.first_of_year();
                date_range(clock, first, first.last_of_year())
            }
            "all" => {
                let first = match site.stats_start_ms {
                    Some(ms) => clock.date_at(ms)?.min(today),
                    None => today,
                };
                date_range(clock, first, today)
            }
            other => {
                if let Some(n) = other.strip_suffix("mo").and_then(|n| n.parse::<i64>().ok())
                    && (1..=100).contains(&n)
                {
                    let first = add_months(today, -n).first_of_month();
                    let last = add_months(today, -1).last_of_month();
                    return date_range(clock, first, last);
                }
                if let Some(n) = other.strip_suffix('d').and_then(|n| n.parse::<i64>().ok())
                    && (1..=5000).contains(&n)
                {
                    return date_range(clock, add_days(today, -n), add_days(today, -1));
                }
                Err(invalid())
            }
        },
        DateRangeInput::Pair([a, b]) => {
            // jiff reads a date out of a datetime too: dates are `YYYY-MM-DD`.
            let is_date = |s: &str| !s.contains('T') && !s.contains(' ');
            if is_date(a) && is_date(b) {
                let (Ok(first), Ok(last)) = (a.parse::<Date>(), b.parse::<Date>()) else {
                    return Err(invalid());
                };
                return date_range(clock, first, last);
            }
            let (Ok(first), Ok(last)) = (a.parse::<Timestamp>(), b.parse::<Timestamp>()) else {
                return Err(invalid());
            };
            let start_ms = first.as_millisecond();
            let last_ms = last.as_millisecond();
            if last_ms < start_ms {
                return Err(QueryError::invalid_date_range(
                    input.to_string(),
                    "the first datetime is after the last",
                ));
            }
            let start = clock.boundary_at(start_ms);
            // The last instant is inclusive: `15:59:59` ends the 15:00 hour.
            let end = [last_ms + 1_000, last_ms + 1, last_ms]
                .into_iter()
                .map(|ms| clock.boundary_at(ms))
                .find(|b| b.aligned);
            match (start.aligned, end) {
                (true, Some(end)) if end.bucket > start.bucket => {
                    Ok(bucket_range(start.bucket, end.bucket))
                }
                _ => Err(QueryError::invalid_date_range(
                    input.to_string(),
                    "datetimes must start and end on the hours of the site's zone (e.g. 12:00:00 to 15:59:59)",
                )),
            }
        }
    }
}

/// Plausible's choice for `time`: hours up to 48 hours, days up to 40
/// days, weeks up to 52 weeks, else months.
fn auto_time(range: HourRange) -> TimeDim {
    let hours = u64::from(range.end.saturating_sub(range.start));
    // Plausible measures from the first to the last second of the range.
    let seconds = (hours * 3600).saturating_sub(1);
    if seconds / 3600 <= 48 {
        TimeDim::Hour
    } else if seconds / 86_400 <= 40 {
        TimeDim::Day
    } else if seconds / (7 * 86_400) <= 52 {
        TimeDim::Week
    } else {
        TimeDim::Month
    }
}

/// Resolves a range into a [`Period`] with the time dimension's buckets.
fn period(clock: &SiteClock, raw: RawRange, time: Option<TimeDim>) -> Result<Period, QueryError> {
    let mut boundaries = vec![(raw.start, raw.start_grain), (raw.end, raw.end_grain)];
    let mut buckets = Vec::new();
    let clip = |r: HourRange| {
        HourRange::new(
            r.start.clamp(raw.range.start, raw.range.end),
            r.end.clamp(raw.range.start, raw.range.end),
        )
    };
    match time {
        None => {}
        Some(TimeDim::Hour) => {
            for bucket in raw.range.start..raw.range.end {
                let label = clock.hour_label(bucket);
                boundaries.push((
                    Boundary {
                        bucket,
                        aligned: true,
                    },
                    Grain::Hour,
                ));
                // The repeated hour of a fall-back day is one row, as in
                // Plausible (its buckets are consecutive).
                match buckets.last_mut() {
                    Some(TimeBucket { label: l, range }) if *l == label => range.end = bucket + 1,
                    _ => buckets.push(TimeBucket {
                        label,
                        range: HourRange::new(bucket, bucket + 1),
                    }),
                }
            }
        }
        Some(dim) => {
            let (first, last) = match raw.dates {
                Some(d) => d,
                None => (
                    clock.date_at(clock.bucket_start_ms(raw.range.start))?,
                    clock.date_at(clock.bucket_start_ms(raw.range.end).saturating_sub(1))?,
                ),
            };
            let mut start = first;
            while start <= last {
                let end = match dim {
                    TimeDim::Day => start,
                    TimeDim::Week => add_days(monday_of(start), 6).min(last),
                    _ => start.last_of_month().min(last),
                };
                let label = match dim {
                    TimeDim::Month => start.first_of_month(),
                    _ => start,
                };
                let (a, b) = clock.days(start, end)?;
                let grain = |d: Date| {
                    if d.day() == 1 {
                        Grain::Month
                    } else {
                        Grain::Day
                    }
                };
                boundaries.push((a, grain(start)));
                boundaries.push((b, grain(add_days(end, 1))));
                buckets.push(TimeBucket {
                    label: label.to_string(),
                    range: clip(HourRange::new(a.bucket, b.bucket)),
                });
                let next = add_days(end, 1);
                if next <= start {
                    break;
                }
                start = next;
            }
        }
    }
    Ok(Period {
        range: raw.range,
        dates: raw.dates,
        buckets,
        boundaries,
    })
}

fn comparison_range(
    c: &Comparisons,
    main: &Period,
    clock: &SiteClock,
    today: Date,
) -> Result<RawRange, QueryError> {
    let invalid = |reason: &str| QueryError::InvalidOption {
        field: "include.comparisons",
        reason: reason.to_owned(),
    };
    let shifted = match (c.mode.as_str(), main.dates) {
        ("custom", _) => {
            let Some([a, b]) = &c.date_range else {
                return Err(invalid("mode `custom` needs a date_range."));
            };
            let (Ok(first), Ok(last)) = (a.parse::<Date>(), b.parse::<Date>()) else {
                return Err(invalid("date_range must be a pair of ISO dates."));
            };
            if a.contains('T') || b.contains('T') {
                return Err(invalid("date_range must be a pair of ISO dates."));
            }
            return date_range(clock, first, last);
        }
        ("previous_period", Some((first, last))) => {
            let last = last.min(today);
            let len = (last - first).get_days() as i64 + 1;
            (add_days(first, -len), add_days(last, -len))
        }
        ("year_over_year", Some((first, last))) => {
            (add_days(first, -365), add_days(last.min(today), -365))
        }
        ("previous_period", None) => {
            let len = main.range.end - main.range.start;
            return Ok(bucket_range(
                main.range.start.saturating_sub(len),
                main.range.end.saturating_sub(len),
            ));
        }
        ("year_over_year", None) => {
            let len = 365 * 24;
            return Ok(bucket_range(
                main.range.start.saturating_sub(len),
                main.range.end.saturating_sub(len),
            ));
        }
        _ => {
            return Err(invalid(
                "mode must be `previous_period`, `year_over_year` or `custom`.",
            ));
        }
    };
    let (mut first, mut last) = shifted;
    if c.match_day_of_week
        && let Some((main_first, _)) = main.dates
    {
        let moved = nearest_weekday(first, main_first);
        let by = (moved - first).get_days() as i64;
        first = moved;
        last = add_days(last, by);
    }
    date_range(clock, first, last)
}

/// Plausible's `shift_to_nearest`: of the next and the previous date on the
/// weekday of `source`, the first by `date − candidate` ascending (so the
/// next one, unless it is `source` itself).
fn nearest_weekday(date: Date, source: Date) -> Date {
    if date.weekday() == source.weekday() {
        return date;
    }
    let want = i64::from(source.weekday().to_monday_zero_offset());
    let have = i64::from(date.weekday().to_monday_zero_offset());
    let forward = (want - have).rem_euclid(7);
    let next = add_days(date, forward);
    let previous = add_days(date, forward - 7);
    let mut candidates = [next, previous];
    candidates.sort_by_key(|d| (date - *d).get_days());
    candidates
        .into_iter()
        .find(|d| *d != source)
        .unwrap_or(next)
}

fn parse_filters(
    filters: &[Value],
    value: Option<&ValueDim>,
    site: &SiteContext,
) -> Result<Option<ValueFilter>, QueryError> {
    let mut out: Option<ValueFilter> = None;
    for filter in filters {
        let text = filter.to_string();
        let invalid = |reason: &str| QueryError::InvalidFilter {
            filter: text.clone(),
            reason: reason.to_owned(),
        };
        let items = filter.as_array().ok_or_else(|| invalid(""))?;
        let operator = items
            .first()
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(""))?;
        match operator {
            "is" => {}
            "is_not"
            | "contains"
            | "contains_not"
            | "matches"
            | "matches_not"
            | "matches_wildcard"
            | "matches_wildcard_not"
            | "and"
            | "or"
            | "not"
            | "has_done"
            | "has_not_done" => {
                return Err(QueryError::not_supported(
                    "filters",
                    format!("filter operator `{operator}` ({text})"),
                    "the rollups answer only `is` on the dimension broken down; other filters come with the columnar store",
                ));
            }
            _ => {
                return Err(QueryError::InvalidFilter {
                    filter: text.clone(),
                    reason: "unknown operator".into(),
                });
            }
        }
        let [_, dimension, clauses, rest @ ..] = items.as_slice() else {
            return Err(invalid(""));
        };
        if !rest.is_empty() {
            return Err(QueryError::not_supported(
                "filters",
                format!("filter modifiers ({text})"),
                "only exact, case-sensitive `is` filters are answered",
            ));
        }
        let dimension = dimension.as_str().ok_or_else(|| invalid(""))?;
        if dimension.starts_with("time") {
            return Err(invalid(
                "time dimensions are not usable in filters; set date_range",
            ));
        }
        let dim = ValueDim::parse(dimension).map_err(|e| match e {
            QueryError::InvalidDimension { .. } => invalid("unknown dimension"),
            other => other,
        })?;
        let clauses = clauses.as_array().ok_or_else(|| invalid(""))?;
        let mut values = Vec::with_capacity(clauses.len());
        for clause in clauses {
            let s = clause.as_str().ok_or_else(|| invalid(""))?;
            if dim.dim == Dimension::Country && s.chars().count() != 2 {
                return Err(QueryError::InvalidFilter {
                    filter: text.clone(),
                    reason: "visit:country needs to be a valid 2-letter country code".into(),
                });
            }
            if dim.dim == Dimension::Goal
                && let Some(goals) = &site.goals
                && !goals.iter().any(|g| g == s)
            {
                return Err(QueryError::InvalidFilter {
                    filter: text.clone(),
                    reason: format!("the goal `{s}` is not configured for this site"),
                });
            }
            values.push(dim.stored(s));
        }
        if out.is_some() {
            return Err(QueryError::not_supported(
                "filters",
                format!("more than one filter ({text})"),
                "the rollups answer one `is` filter on the dimension broken down; combined filters come with the columnar store",
            ));
        }
        if let Some(v) = value
            && *v != dim
        {
            return Err(QueryError::not_supported(
                "filters",
                format!(
                    "a filter on `{}` with a breakdown by `{}`",
                    dim.name, v.name
                ),
                "the rollups keep cells per value of one dimension, so a filter is answered only on the dimension broken down or without one; filtered breakdowns come with the columnar store",
            ));
        }
        out = Some(ValueFilter { dim, values });
    }
    Ok(out)
}

/// Plausible's metric rules, then what the rollups can answer exactly.
fn check_metrics(
    metrics: &[Metric],
    names: &[String],
    has_time: bool,
    value: Option<&ValueDim>,
    filter: Option<&ValueFilter>,
) -> Result<(), QueryError> {
    let goal =
        value.is_some_and(|v| v.dim == Dimension::Goal) || filter.is_some_and(ValueFilter::is_goal);
    // Plausible: session metrics with event dimensions other than event:page.
    if let Some(v) = value
        && v.name.starts_with("event:")
        && v.dim != Dimension::Page
    {
        let session: Vec<&str> = metrics
            .iter()
            .filter(|m| m.is_session_only())
            .map(|m| m.as_str())
            .collect();
        if let Some(first) = session.first() {
            return Err(QueryError::incompatible(
                first,
                format!(
                    "Session metric(s) `{}` cannot be queried along with event dimensions.",
                    session.join(", ")
                ),
            ));
        }
    }
    for (&m, name) in metrics.iter().zip(names) {
        match m {
            Metric::ConversionRate if !goal => {
                return Err(QueryError::incompatible(
                    name,
                    "Metric `conversion_rate` can only be queried with event:goal filters or dimensions.",
                ));
            }
            Metric::Percentage if value.is_none() && !has_time => {
                return Err(QueryError::incompatible(
                    name,
                    "Metric `percentage` can only be queried with dimensions.",
                ));
            }
            Metric::ViewsPerVisit if filter.is_some_and(|f| f.dim.dim == Dimension::Page) => {
                return Err(QueryError::incompatible(
                    name,
                    "Metric `views_per_visit` cannot be queried with a filter on `event:page`.",
                ));
            }
            _ => {}
        }
        if let Some(f) = filter
            && f.is_goal()
            && matches!(
                m,
                Metric::Visits | Metric::BounceRate | Metric::VisitDuration | Metric::ViewsPerVisit
            )
        {
            return Err(QueryError::not_supported(
                "metrics",
                format!("`{name}` with a filter on event:goal"),
                "goal cells count the goal's events and visitors, not the visits that converted",
            ));
        }
        let scope = value.or(filter.map(|f| &f.dim));
        let Some(scope) = scope else { continue };
        let unsupported = |why: &str| {
            Err(QueryError::not_supported(
                "metrics",
                format!("`{name}` by `{}`", scope.name),
                why,
            ))
        };
        match (scope.class, m) {
            (
                Class::Acquisition,
                Metric::Visitors
                | Metric::Pageviews
                | Metric::Events
                | Metric::ViewsPerVisit
                | Metric::Percentage,
            ) => {
                return unsupported(
                    "the rollups count events and their visitors under each event's own value, while Plausible's visit: dimensions count all of a visit's events under its first event's value; visits, bounce_rate and visit_duration are answered exactly",
                );
            }
            (Class::EntryExit, Metric::Pageviews | Metric::Events | Metric::ViewsPerVisit) => {
                return unsupported(
                    "entry and exit page cells count visits and their visitors, not the visits' events",
                );
            }
            (Class::Page, Metric::Visits | Metric::VisitDuration | Metric::ViewsPerVisit) => {
                return unsupported(
                    "page cells count page views and their visitors, not the visits that viewed the page (bounce_rate is the entry page's)",
                );
            }
            (Class::Page, Metric::BounceRate) if value.is_none() => {
                return unsupported(
                    "the bounce rate of the visits that viewed a page needs those visits; with the event:page dimension it is the entry page's",
                );
            }
            (Class::Event, Metric::Visits) => {
                return unsupported("event cells count events and their visitors, not visits");
            }
            _ => {}
        }
    }
    Ok(())
}

#[allow(clippy::type_complexity, reason = "the two views of one ordering")]
fn parse_order_by(
    order_by: Option<&[Value]>,
    metrics: &[Metric],
    names: &[String],
    dimension_names: &[String],
    time: Option<TimeDim>,
    value: &Option<ValueDim>,
) -> Result<(Vec<(SortKey, bool)>, Vec<[String; 2]>), QueryError> {
    let Some(entries) = order_by else {
        // Plausible's default: the time dimension ascending, then the first
        // metric descending.
        let mut keys = Vec::new();
        let mut echo = Vec::new();
        if let Some(t) = time {
            keys.push((SortKey::Time, false));
            echo.push([t.as_str().to_owned(), "asc".to_owned()]);
        }
        keys.push((SortKey::Metric(0), true));
        echo.push([metrics[0].as_str().to_owned(), "desc".to_owned()]);
        return Ok((keys, echo));
    };
    let mut keys = Vec::with_capacity(entries.len());
    let mut echo = Vec::with_capacity(entries.len());
    for entry in entries {
        let text = entry.to_string();
        let malformed = || QueryError::InvalidOrderBy {
            entry: text.clone(),
            reason: String::new(),
        };
        let pair = entry.as_array().ok_or_else(malformed)?;
        let [key, direction] = pair.as_slice() else {
            return Err(malformed());
        };
        let key = key.as_str().ok_or_else(malformed)?;
        let desc = match direction.as_str() {
            Some("asc") => false,
            Some("desc") => true,
            _ => return Err(malformed()),
        };
        let sort = if let Some(i) = names.iter().position(|n| n == key) {
            SortKey::Metric(i)
        } else if time.is_some()
            && (key == "time"
                || dimension_names
                    .iter()
                    .any(|d| d == key && d.starts_with("time")))
        {
            SortKey::Time
        } else if value.as_ref().is_some_and(|v| v.name == key) {
            SortKey::Value
        } else {
            return Err(QueryError::InvalidOrderBy {
                entry: text.clone(),
                reason: "Entry is not a queried metric or dimension".into(),
            });
        };
        keys.push((sort, desc));
        let name = match sort {
            SortKey::Time => time.map_or_else(|| key.to_owned(), |t| t.as_str().to_owned()),
            _ => key.to_owned(),
        };
        echo.push([name, if desc { "desc" } else { "asc" }.to_owned()]);
    }
    Ok((keys, echo))
}
