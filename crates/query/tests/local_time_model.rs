//! Model test: for random events around daylight-saving changes, in zones
//! with whole-hour, +5:30, +5:45 and +12:45 offsets, the `time:day` and
//! `time:hour` series count exactly the events whose local date (local hour)
//! jiff gives, read straight from their timestamps.

mod common;

use std::collections::BTreeMap;

use common::{ask, event_at, pv, rollup, site};
use glinto_query::{site_bucket_offset, zone};
use proptest::prelude::*;
use serde_json::json;

/// Zones and a window (UTC ms start) of five days around a change.
const CASES: [(&str, i64); 7] = [
    ("Europe/Berlin", 1_711_670_400_000), // 2024-03-29: spring forward on the 31st
    ("Europe/Berlin", 1_729_814_400_000), // 2024-10-25: fall back on the 27th
    ("America/New_York", 1_730_419_200_000), // 2024-11-01: fall back on the 3rd
    ("Asia/Kolkata", 1_705_276_800_000),
    ("Asia/Kathmandu", 1_705_276_800_000),
    ("Pacific/Chatham", 1_711_670_400_000), // +13:45 to +12:45 on 2024-04-07
    ("Australia/Adelaide", 1_712_016_000_000), // +10:30 to +9:30 on 2024-04-07
];
const WINDOW_MS: i64 = 5 * 86_400_000 + 12 * 3_600_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn series_count_the_events_of_each_local_day_and_hour(
        case in 0..CASES.len(),
        offsets in proptest::collection::vec(0..WINDOW_MS, 1..60),
    ) {
        let (tz_name, start) = CASES[case];
        let tz = zone(tz_name).unwrap_or_else(|e| panic!("{e}"));
        let phase = site_bucket_offset(tz_name, start).unwrap_or_else(|e| panic!("{e}"));
        let mut events = Vec::new();
        let mut days: BTreeMap<String, i64> = BTreeMap::new();
        let mut hours: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        for (i, off) in offsets.iter().enumerate() {
            let ms = start + off;
            let id = i as u64 + 1;
            events.push(event_at(id, ms, &pv("", id, "/")));
            let local = jiff::Timestamp::from_millisecond(ms)
                .unwrap_or_else(|e| panic!("{e}"))
                .to_zoned(tz.clone());
            *days.entry(local.date().to_string()).or_default() += 1;
            *hours
                .entry(local.date().to_string())
                .or_default()
                .entry(local.strftime("%Y-%m-%d %H:00:00").to_string())
                .or_default() += 1;
        }
        let rollup = rollup(&events, phase);
        let site = site(tz_name, phase, "2025-06-01T12:00");
        let first = days.keys().next().cloned().unwrap_or_default();
        let last = days.keys().next_back().cloned().unwrap_or_default();
        let got = ask(&site, &rollup, json!({"metrics": ["pageviews"], "date_range": [first, last],
                                              "dimensions": ["time:day"]}))
            .unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(got["meta"].get("time_zone_warning"), None);
        let series: BTreeMap<String, i64> = got["results"].as_array().into_iter().flatten()
            .map(|r| (r["dimensions"][0].as_str().unwrap_or_default().to_owned(),
                      r["metrics"][0].as_i64().unwrap_or(-1)))
            .collect();
        prop_assert_eq!(&series, &days);
        for (day, expected) in &hours {
            let got = ask(&site, &rollup, json!({"metrics": ["pageviews"], "date_range": [day, day],
                                                  "dimensions": ["time:hour"]}))
                .unwrap_or_else(|e| panic!("{e}"));
            let series: BTreeMap<String, i64> = got["results"].as_array().into_iter().flatten()
                .map(|r| (r["dimensions"][0].as_str().unwrap_or_default().to_owned(),
                          r["metrics"][0].as_i64().unwrap_or(-1)))
                .collect();
            prop_assert_eq!(&series, expected, "{} {}", tz_name, day);
        }
    }
}
