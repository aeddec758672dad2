//! Building rollups from events and asking them Stats API queries.

#![allow(dead_code, unreachable_pub, reason = "each test binary uses a subset")]

pub mod bench;

use glinto_aggregator::ReplicaId;
use glinto_aggregator::rollup::SiteRollup;
use glinto_aggregator::writer::{SiteWriter, WriterConfig};
use glinto_event_model::Event;
use glinto_event_model::ndjson::parse_line;
use glinto_query::{QueryError, QueryRequest, Resolution, SiteContext, answer, plan, zone};
use jiff::civil::DateTime;
use serde_json::{Value, json};

pub const SITE: &str = "example.com";

/// One event, described by what the tests vary.
#[derive(Clone, Debug)]
pub struct E {
    /// Local wall-clock time in the site's zone, `2024-04-09T10:00`.
    pub at: &'static str,
    pub visitor: u64,
    pub name: &'static str,
    pub page: &'static str,
    pub country: &'static str,
    pub source: &'static str,
    pub props: &'static [(&'static str, &'static str)],
}

/// A page view of `page` by `visitor` at local time `at`.
pub fn pv(at: &'static str, visitor: u64, page: &'static str) -> E {
    E {
        at,
        visitor,
        name: "pageview",
        page,
        country: "DE",
        source: "",
        props: &[],
    }
}

impl E {
    pub fn country(mut self, c: &'static str) -> Self {
        self.country = c;
        self
    }

    pub fn source(mut self, s: &'static str) -> Self {
        self.source = s;
        self
    }

    pub fn custom(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    pub fn props(mut self, props: &'static [(&'static str, &'static str)]) -> Self {
        self.props = props;
        self
    }
}

/// Milliseconds of a local wall-clock time in `tz` (the earlier instant of
/// a repeated hour).
pub fn local_ms(tz: &str, at: &str) -> i64 {
    let dt: DateTime = at.parse().unwrap_or_else(|e| panic!("{at}: {e}"));
    let zoned = dt
        .to_zoned(zone(tz).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{at}: {e}"));
    zoned.timestamp().as_millisecond()
}

/// The events as the NDJSON exchange format gives them to the writer.
pub fn events(tz: &str, list: &[E]) -> Vec<Event> {
    list.iter()
        .enumerate()
        .map(|(i, e)| {
            let ms = local_ms(tz, e.at);
            event_at(i as u64 + 1, ms, e)
        })
        .collect()
}

/// An event at `ms` (UTC milliseconds).
pub fn event_at(id: u64, ms: i64, e: &E) -> Event {
    let props: serde_json::Map<String, Value> = e
        .props
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let line = json!({
        "event_id": id,
        "timestamp": ms,
        "domain": SITE,
        "hostname": SITE,
        "name": e.name,
        "pathname": e.page,
        "referrer_source": e.source,
        "country_code": e.country,
        "browser": "Firefox",
        "os": "Linux",
        "device": "Desktop",
        "screen_width": "992-1440",
        "visitor_id": e.visitor,
        "props": props,
    });
    parse_line(&line.to_string()).unwrap_or_else(|err| panic!("{line}: {err}"))
}

/// The rollup of `events` written with the bucket phase `offset`.
pub fn rollup(events: &[Event], offset: u16) -> SiteRollup {
    let config = WriterConfig {
        bucket_offset_minutes: offset,
        ..WriterConfig::unbounded()
    };
    let mut w = SiteWriter::new(SITE, ReplicaId(1), config);
    for e in events {
        w.apply(e).unwrap_or_else(|err| panic!("{err}"));
    }
    w.snapshot()
}

/// A site in `tz` (phase `offset`) asked at local time `now`.
pub fn site(tz: &str, offset: u16, now: &str) -> SiteContext {
    SiteContext::new(SITE, tz, offset, local_ms(tz, now)).unwrap_or_else(|e| panic!("{e}"))
}

/// Plans and answers `query` (a JSON object without `site_id`).
pub fn ask(site: &SiteContext, rollup: &SiteRollup, query: Value) -> Result<Value, QueryError> {
    ask_at(site, rollup, query, &Resolution::hourly())
}

/// [`ask`] with the cells at `resolution`.
pub fn ask_at(
    site: &SiteContext,
    rollup: &SiteRollup,
    mut query: Value,
    resolution: &Resolution,
) -> Result<Value, QueryError> {
    if let Some(obj) = query.as_object_mut() {
        obj.entry("site_id").or_insert(json!(SITE));
    }
    let request = QueryRequest::from_json(&query.to_string())?;
    let plan = plan(&request, site)?;
    let response = answer(&plan, rollup, resolution)?;
    Ok(serde_json::to_value(&response).unwrap_or_else(|e| panic!("{e}")))
}
