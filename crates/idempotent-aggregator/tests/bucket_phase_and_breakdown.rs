//! The per-site bucket phase (`bucket_of`, `WriterConfig::bucket_offset_minutes`)
//! and the breakdown queries the Stats API uses (`breakdown`, `stats_any`).

use glinto_aggregator::ReplicaId;
use glinto_aggregator::rollup::{Dimension, HOUR_MS, HourRange, SiteRollup, bucket_of, hour_of};
use glinto_aggregator::writer::{SiteWriter, WriterConfig};
use glinto_event_model::Event;
use glinto_event_model::ndjson::parse_line;
use serde_json::json;

const MIN: u64 = 60_000;
/// 2024-01-15 00:00 UTC.
const T0: u64 = 1_705_276_800_000;

fn event(id: u64, ms: u64, visitor: u64, page: &str, country: &str) -> Event {
    let line = json!({
        "event_id": id, "timestamp": ms, "domain": "example.com", "name": "pageview",
        "pathname": page, "country_code": country, "visitor_id": visitor,
    });
    parse_line(&line.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

fn rollup(events: &[Event], offset: u16) -> SiteRollup {
    let config = WriterConfig {
        bucket_offset_minutes: offset,
        ..WriterConfig::unbounded()
    };
    let mut w = SiteWriter::new("example.com", ReplicaId(1), config);
    for e in events {
        w.apply(e).unwrap_or_else(|err| panic!("{err}"));
    }
    w.snapshot()
}

#[test]
fn buckets_start_at_the_phase() {
    let h = HOUR_MS;
    let cases: &[(u64, u16, u32)] = &[
        (0, 0, 0),
        (h - 1, 0, 0),
        (h, 0, 1),
        (h - 30 * MIN - 1, 30, 0),
        (h - 30 * MIN, 30, 1),
        (h - 45 * MIN, 45, 1),
        (h - 30 * MIN, 90, 1), // taken modulo 60
        (u64::MAX, 30, u32::MAX),
    ];
    for &(ms, offset, bucket) in cases {
        assert_eq!(bucket_of(ms, offset), bucket, "{ms} at +{offset} min");
    }
    assert_eq!(hour_of(5 * h + 7), bucket_of(5 * h + 7, 0));
}

#[test]
fn a_phased_writer_keys_events_and_visits_by_its_buckets() {
    // Asia/Kolkata: local midnight of the 16th is 18:30 UTC on the 15th.
    let midnight = T0 + 18 * HOUR_MS + 30 * MIN;
    let events = [
        event(1, midnight - 1_000, 1, "/", "IN"), // 23:59:59 local, the 15th
        event(2, midnight, 2, "/", "IN"),         // 00:00 local, the 16th
        event(3, midnight + 10 * MIN, 2, "/a", "IN"),
    ];
    let phased = rollup(&events, 30);
    let first = bucket_of(midnight, 30);
    // The bucket starts exactly at local midnight (shifted by the phase).
    assert_eq!(u64::from(first) * HOUR_MS, midnight + 30 * MIN);
    assert_eq!(phased.hours().collect::<Vec<_>>(), vec![first - 1, first]);
    let day16 = HourRange::new(first, first + 24);
    let s = phased.totals(day16);
    assert_eq!((s.pageviews, s.visits, s.visitors), (2, 1, 1));
    let s = phased.totals(HourRange::new(first - 24, first));
    assert_eq!((s.pageviews, s.visits, s.visitors), (1, 1, 1));
    // Unphased, one UTC hour holds both local days: no range separates them.
    let unphased = rollup(&events, 0);
    assert_eq!(unphased.hours().count(), 1);
}

fn fixture() -> SiteRollup {
    let events = [
        event(1, T0, 1, "/", "DE"),
        event(2, T0 + MIN, 1, "/a", "DE"),
        event(3, T0 + 2 * MIN, 2, "/", "FR"),
        event(4, T0 + 3 * HOUR_MS, 3, "/", "DE"),
        event(5, T0 + 3 * HOUR_MS + MIN, 4, "/b", "US"),
    ];
    rollup(&events, 0)
}

#[test]
fn breakdown_lists_every_value_with_the_stats_of_each() {
    let r = fixture();
    let range = HourRange::all();
    for dim in [
        Dimension::Country,
        Dimension::Page,
        Dimension::EntryPage,
        Dimension::Total,
    ] {
        let with = r.breakdown(range, dim, true);
        let without = r.breakdown(range, dim, false);
        assert!(!with.is_empty(), "{dim:?}");
        assert_eq!(with.len(), without.len(), "{dim:?}");
        for row in &with {
            assert_eq!(
                row.stats,
                r.stats(range, dim, &row.value),
                "{dim:?} {}",
                row.value
            );
            let bare = without.iter().find(|x| x.value == row.value);
            let mut expected = row.stats;
            expected.visitors = 0;
            assert_eq!(
                bare.map(|x| x.stats),
                Some(expected),
                "{dim:?} {}",
                row.value
            );
        }
    }
    let mut countries: Vec<(String, u64)> = r
        .breakdown(range, Dimension::Country, true)
        .into_iter()
        .map(|row| (row.value, row.stats.pageviews))
        .collect();
    countries.sort();
    assert_eq!(
        countries,
        vec![("DE".into(), 3), ("FR".into(), 1), ("US".into(), 1)]
    );
    // A range without cells has no rows.
    assert!(
        r.breakdown(HourRange::new(0, 1), Dimension::Country, true)
            .is_empty()
    );
}

#[test]
fn stats_any_sums_counts_and_unions_visitors() {
    let r = fixture();
    let range = HourRange::all();
    let cases: &[(&[&str], u64, u64, u64)] = &[
        // values, pageviews, visits, visitors
        (&["DE"], 3, 2, 2),
        (&["DE", "FR"], 4, 3, 3),
        (&["DE", "DE"], 3, 2, 2),
        (&["DE", "nowhere"], 3, 2, 2),
        (&[], 0, 0, 0),
    ];
    for &(values, pageviews, visits, visitors) in cases {
        let s = r.stats_any(range, Dimension::Country, values);
        assert_eq!(
            (s.pageviews, s.visits, s.visitors),
            (pageviews, visits, visitors),
            "{values:?}"
        );
    }
    // Page views of two pages by one visitor: one visitor.
    let s = r.stats_any(range, Dimension::Page, &["/", "/a"]);
    assert_eq!((s.pageviews, s.visitors), (4, 3));
}
