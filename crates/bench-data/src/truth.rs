//! The exact answers to the six questions: a reference computation by hash
//! maps and sets over the de-duplicated lines, written for obviousness, not
//! speed. It sees only the lines (as written), never the generator's
//! internals, and shares no code with glinto's aggregator.

use std::collections::BTreeMap;

use hashbrown::{HashMap, HashSet};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::{COLUMNS, Config, DAY_MS, Line, SITES, START_MS};

/// Q5's filter: page views with this country and device.
pub const Q5_COUNTRY: &str = "DE";
/// See [`Q5_COUNTRY`].
pub const Q5_DEVICE: &str = "Mobile";
/// Q6's filter: visits whose first event has this referrer source.
pub const Q6_REFERRER: &str = "google.com";

/// One row of a top-10 list, written as `[key, pageviews, visitors]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TopRow(pub String, pub u64, pub u64);

/// Visit-level totals of one site (Q4 and Q6).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    pub pageviews: u64,
    pub visits: u64,
    pub bounces: u64,
    /// `bounces / visits`, 0 without visits (Q4 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounce_rate: Option<f64>,
    pub visitors: u64,
}

/// A map keyed by site, in [`SITES`] order.
#[derive(Clone, Debug, PartialEq)]
pub struct PerSite<T>(pub Vec<(&'static str, T)>);

impl<T: Serialize> Serialize for PerSite<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (site, value) in &self.0 {
            map.serialize_entry(site, value)?;
        }
        map.end()
    }
}

impl<T> PerSite<T> {
    /// The value of `site`.
    pub fn get(&self, site: &str) -> Option<&T> {
        self.0.iter().find(|(s, _)| *s == site).map(|(_, v)| v)
    }
}

/// The minimum, median and maximum of the daily uniques / page views ratio.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

/// What the stream is, and a few figures about it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Meta {
    pub generator: &'static str,
    pub events_written: u64,
    pub days: u32,
    pub seed: u64,
    pub dup_rate: f64,
    pub start_ms: u64,
    pub day_ms: u64,
    pub sites: [&'static str; 5],
    pub columns: [&'static str; 16],
    pub unique_events: u64,
    pub duplicates_written: u64,
    pub days_seen: u64,
    pub distinct_visitors: u64,
    pub sessions: u64,
    pub pageview_share: f64,
    pub daily_uniques_over_pageviews: Spread,
}

/// `truth.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Truth {
    pub meta: Meta,
    /// `[site, UTC epoch day, pageviews, visitors]`, by site then day, for
    /// the days a site has events.
    pub q1: Vec<(&'static str, u64, u64, u64)>,
    pub q2: PerSite<Vec<TopRow>>,
    pub q3_ref: PerSite<Vec<TopRow>>,
    pub q3_country: PerSite<Vec<TopRow>>,
    pub q4: PerSite<Totals>,
    pub q5: PerSite<Vec<TopRow>>,
    pub q6: PerSite<Totals>,
}

/// Page views and the distinct visitors of a group of events.
#[derive(Default)]
struct Count {
    pageviews: u64,
    visitors: HashSet<u64>,
}

/// A visit: its site, its first event (earliest timestamp, then earliest
/// line), its page views and visitor.
struct Visit<'a> {
    site: &'a str,
    first: (u64, usize),
    first_referrer: &'a str,
    pageviews: u64,
    visitor: u64,
}

/// The top 10 keys by page views (ties: key ascending) among keys with page
/// views.
fn top10(counts: HashMap<&str, Count>) -> Vec<TopRow> {
    let mut rows: Vec<TopRow> = counts
        .into_iter()
        .filter(|(_, c)| c.pageviews > 0)
        .map(|(k, c)| TopRow(k.to_owned(), c.pageviews, c.visitors.len() as u64))
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(10);
    rows
}

/// Q4 / Q6 totals of some visits.
fn totals<'a>(visits: impl Iterator<Item = &'a Visit<'a>>, all_visitors: Option<u64>) -> Totals {
    let mut t = Totals::default();
    let mut visitors = HashSet::new();
    for v in visits {
        t.pageviews += v.pageviews;
        t.visits += 1;
        t.bounces += u64::from(v.pageviews == 1);
        visitors.insert(v.visitor);
    }
    t.visitors = all_visitors.unwrap_or(visitors.len() as u64);
    t
}

impl Truth {
    /// The answers for `lines`, the stream of `config` in written order.
    pub fn compute<'a>(config: &Config, lines: impl IntoIterator<Item = Line<'a>>) -> Self {
        let mut seen = HashSet::new();
        let mut written = 0u64;
        let mut distinct: Vec<Line<'a>> = Vec::new();
        for line in lines {
            written += 1;
            if seen.insert(line.event_id) {
                distinct.push(line);
            }
        }
        drop(seen);

        let mut q1: BTreeMap<(usize, u64), Count> = BTreeMap::new();
        let mut q2: HashMap<&str, HashMap<&str, Count>> = HashMap::new();
        let mut q3_ref: HashMap<&str, HashMap<&str, Count>> = HashMap::new();
        let mut q3_country: HashMap<&str, HashMap<&str, Count>> = HashMap::new();
        let mut q5: HashMap<&str, HashMap<&str, Count>> = HashMap::new();
        let mut site_visitors: HashMap<&str, HashSet<u64>> = HashMap::new();
        let mut visits: HashMap<u64, Visit<'a>> = HashMap::new();
        let mut all_visitors = HashSet::new();
        let mut pageviews = 0u64;
        for (n, e) in distinct.iter().enumerate() {
            let site = SITES
                .iter()
                .position(|&s| s == e.domain)
                .unwrap_or(SITES.len());
            let pv = u64::from(e.is_pageview());
            pageviews += pv;
            all_visitors.insert(e.visitor_id);
            site_visitors
                .entry(e.domain)
                .or_default()
                .insert(e.visitor_id);

            let day = q1.entry((site, e.timestamp / DAY_MS)).or_default();
            day.pageviews += pv;
            day.visitors.insert(e.visitor_id);

            if e.is_pageview() {
                for (map, key) in [
                    (&mut q2, e.pathname),
                    (&mut q3_ref, e.referrer_source),
                    (&mut q3_country, e.country_code),
                ] {
                    let c = map.entry(e.domain).or_default().entry(key).or_default();
                    c.pageviews += 1;
                    c.visitors.insert(e.visitor_id);
                }
                if e.country_code == Q5_COUNTRY && e.device == Q5_DEVICE {
                    let c = q5
                        .entry(e.domain)
                        .or_default()
                        .entry(e.pathname)
                        .or_default();
                    c.pageviews += 1;
                    c.visitors.insert(e.visitor_id);
                }
            }

            let visit = visits.entry(e.session_id).or_insert(Visit {
                site: e.domain,
                first: (e.timestamp, n),
                first_referrer: e.referrer_source,
                pageviews: 0,
                visitor: e.visitor_id,
            });
            visit.pageviews += pv;
            if (e.timestamp, n) < visit.first {
                visit.first = (e.timestamp, n);
                visit.first_referrer = e.referrer_source;
            }
        }

        let per_site = |mut lists: HashMap<&str, HashMap<&str, Count>>| {
            PerSite(
                SITES
                    .iter()
                    .map(|&s| (s, top10(lists.remove(s).unwrap_or_default())))
                    .collect(),
            )
        };
        let q4 = PerSite(
            SITES
                .iter()
                .map(|&s| {
                    let visitors = site_visitors.get(s).map_or(0, |v| v.len() as u64);
                    let mut t = totals(visits.values().filter(|v| v.site == s), Some(visitors));
                    t.bounce_rate = Some(if t.visits > 0 {
                        t.bounces as f64 / t.visits as f64
                    } else {
                        0.0
                    });
                    (s, t)
                })
                .collect(),
        );
        let q6 = PerSite(
            SITES
                .iter()
                .map(|&s| {
                    let google = visits
                        .values()
                        .filter(|v| v.site == s && v.first_referrer == Q6_REFERRER);
                    (s, totals(google, None))
                })
                .collect(),
        );

        let mut ratios: Vec<f64> = q1
            .values()
            .filter(|c| c.pageviews > 0)
            .map(|c| c.visitors.len() as f64 / c.pageviews as f64)
            .collect();
        ratios.sort_by(f64::total_cmp);
        let median = match ratios.len() {
            0 => 0.0,
            n if n % 2 == 1 => ratios[n / 2],
            n => (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0,
        };
        let first_day = START_MS / DAY_MS;
        let meta = Meta {
            generator: concat!("glinto-bench-data ", env!("CARGO_PKG_VERSION")),
            events_written: written,
            days: config.days,
            seed: config.seed,
            dup_rate: config.dup_rate,
            start_ms: START_MS,
            day_ms: DAY_MS,
            sites: SITES,
            columns: COLUMNS,
            unique_events: distinct.len() as u64,
            duplicates_written: written - distinct.len() as u64,
            days_seen: q1
                .keys()
                .map(|&(_, day)| day + 1)
                .max()
                .map_or(0, |end| end.saturating_sub(first_day)),
            distinct_visitors: all_visitors.len() as u64,
            sessions: visits.len() as u64,
            pageview_share: if distinct.is_empty() {
                0.0
            } else {
                pageviews as f64 / distinct.len() as f64
            },
            daily_uniques_over_pageviews: Spread {
                min: ratios.first().copied().unwrap_or(0.0),
                median,
                max: ratios.last().copied().unwrap_or(0.0),
            },
        };
        Self {
            meta,
            q1: q1
                .into_iter()
                .filter_map(|((site, day), c)| {
                    let site = *SITES.get(site)?;
                    Some((site, day, c.pageviews, c.visitors.len() as u64))
                })
                .collect(),
            q2: per_site(q2),
            q3_ref: per_site(q3_ref),
            q3_country: per_site(q3_country),
            q4,
            q5: per_site(q5),
            q6,
        }
    }
}
