//! Events and a plain reference count for the engine's tests.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};

use glinto_event_model::Event;

pub const SITE: &str = "a.example";
pub const MIN: u64 = 60_000;
/// 2024-01-01T00:00:00Z.
pub const T0: u64 = 1_704_067_200_000;

pub fn event(id: u64, visitor: u64, timestamp_ms: u64, pageview: bool, interactive: bool) -> Event {
    Event {
        event_id: id,
        timestamp_ms,
        site: SITE.into(),
        name: if pageview {
            "pageview".into()
        } else {
            "signup".into()
        },
        hostname: SITE.into(),
        pathname: ["/", "/pricing", "/blog"][(id % 3) as usize].into(),
        referrer: String::new(),
        source: if visitor.is_multiple_of(2) {
            "google.com".into()
        } else {
            String::new()
        },
        channel: Default::default(),
        utm_source: String::new(),
        utm_medium: String::new(),
        utm_campaign: String::new(),
        utm_content: String::new(),
        utm_term: String::new(),
        country_code: ["DE", "FR", "IN"][(visitor % 3) as usize].into(),
        browser: "Firefox".into(),
        browser_version: "128".into(),
        os: "Linux".into(),
        os_version: String::new(),
        device: Default::default(),
        screen: "<576".into(),
        props: Vec::new(),
        revenue: None,
        engagement: None,
        interactive,
        visitor_id: visitor,
        previous_visitor_id: None,
        session_id: None,
    }
}

/// What a plain count of distinct events says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Truth {
    pub pageviews: u64,
    pub events: u64,
    pub visits: u64,
    pub bounces: u64,
    pub visitors: u64,
}

/// Counts the distinct events (by id) of `events` the plain way: visits are
/// a visitor's runs of events with gaps of at most 30 minutes; a bounce is a
/// visit with exactly one interactive page view.
pub fn truth(events: &[Event]) -> Truth {
    let mut distinct: BTreeMap<u64, &Event> = BTreeMap::new();
    for e in events {
        distinct.entry(e.event_id).or_insert(e);
    }
    let mut t = Truth::default();
    let mut by_visitor: BTreeMap<u64, BTreeSet<(u64, u64)>> = BTreeMap::new();
    for e in distinct.values() {
        t.events += 1;
        t.pageviews += u64::from(e.is_pageview());
        by_visitor
            .entry(e.visitor_id)
            .or_default()
            .insert((e.timestamp_ms, e.event_id));
    }
    t.visitors = by_visitor.len() as u64;
    for hits in by_visitor.values() {
        let mut last: Option<u64> = None;
        let mut interactive_views = 0;
        for &(ts, id) in hits {
            if last.is_none_or(|l| ts - l > 30 * MIN) {
                if last.is_some() {
                    t.bounces += u64::from(interactive_views == 1);
                }
                t.visits += 1;
                interactive_views = 0;
            }
            let e = distinct[&id];
            if e.is_pageview() && e.interactive {
                interactive_views += 1;
            }
            last = Some(ts);
        }
        t.bounces += u64::from(interactive_views == 1);
    }
    t
}
