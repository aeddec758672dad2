//! Site-local days and hours, exactly: +5:30 and +5:45 zones on phased
//! buckets, days of 23 and 25 hours, and the zone whose summer time moves by
//! half an hour.

mod common;

use common::{ask, event_at, events, local_ms, pv, rollup, site};
use glinto_query::{QueryError, QueryRequest, plan, site_bucket_offset};
use serde_json::{Value, json};

fn series(response: &Value) -> Vec<(String, i64)> {
    response["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["dimensions"][0].as_str().unwrap_or_default().to_owned(),
                r["metrics"][0].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

fn labels(response: &Value) -> Vec<String> {
    response["meta"]["time_labels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str().map(str::to_owned))
        .collect()
}

fn pairs(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(l, n)| ((*l).to_owned(), *n)).collect()
}

/// Buckets of the main range of a query.
fn bucket_count(site: &glinto_query::SiteContext, query: Value) -> u32 {
    let mut query = query;
    query["site_id"] = json!(common::SITE);
    let request = QueryRequest::from_json(&query.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let plan = plan(&request, site).unwrap_or_else(|e| panic!("{e}"));
    let r = plan.ranges()[0];
    r.end - r.start
}

#[test]
fn bucket_phases_follow_the_standard_offset() {
    let jan = local_ms("UTC", "2024-01-15T00:00");
    let jul = local_ms("UTC", "2024-07-15T00:00");
    let cases = [
        ("UTC", 0),
        ("Europe/Berlin", 0),
        ("America/New_York", 0),
        ("Asia/Kolkata", 30),
        ("Asia/Kathmandu", 45),
        ("Asia/Tehran", 30),
        ("Australia/Adelaide", 30),
        ("Australia/Lord_Howe", 30),
        ("America/St_Johns", 30),
        ("Pacific/Chatham", 45),
    ];
    for (zone, phase) in cases {
        for at in [jan, jul] {
            assert_eq!(site_bucket_offset(zone, at), Ok(phase), "{zone} at {at}");
        }
    }
    assert!(matches!(
        site_bucket_offset("Mars/Olympus_Mons", jan),
        Err(QueryError::UnknownTimeZone { .. })
    ));
}

#[test]
fn kolkata_days_and_hours_are_exact_on_half_hour_buckets() {
    const TZ: &str = "Asia/Kolkata";
    let list = [
        pv("2024-01-14T23:55", 4, "/"),
        pv("2024-01-15T00:10", 1, "/"),
        pv("2024-01-15T23:50", 2, "/"),
        pv("2024-01-16T00:05", 3, "/"),
    ];
    let rollup = rollup(&events(TZ, &list), 30);
    let site = site(TZ, 30, "2024-01-20T12:00");
    let days = json!({"metrics": ["pageviews"], "date_range": ["2024-01-14", "2024-01-16"], "dimensions": ["time:day"]});
    let got = ask(&site, &rollup, days.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        series(&got),
        pairs(&[("2024-01-14", 1), ("2024-01-15", 2), ("2024-01-16", 1)])
    );
    assert_eq!(got["meta"].get("time_zone_warning"), None);

    let hours = json!({"metrics": ["pageviews"], "date_range": ["2024-01-15", "2024-01-15"],
                       "dimensions": ["time:hour"], "include": {"time_labels": true}});
    let got = ask(&site, &rollup, hours.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        series(&got),
        pairs(&[("2024-01-15 00:00:00", 1), ("2024-01-15 23:00:00", 1)])
    );
    let l = labels(&got);
    assert_eq!(l.len(), 24);
    assert_eq!(l.first().map(String::as_str), Some("2024-01-15 00:00:00"));
    assert_eq!(l.last().map(String::as_str), Some("2024-01-15 23:00:00"));
    assert_eq!(bucket_count(&site, hours), 24);

    // The same zone on whole-hour buckets cannot cut at 18:30 UTC: the
    // answer says so instead of pretending.
    let unphased = common::site(TZ, 0, "2024-01-20T12:00");
    let got = ask(&unphased, &rollup, days).unwrap_or_else(|e| panic!("{e}"));
    assert!(got["meta"]["time_zone_warning"].is_string(), "{got}");
}

#[test]
fn kathmandu_days_are_exact_on_quarter_past_buckets() {
    const TZ: &str = "Asia/Kathmandu";
    let list = [
        pv("2024-01-14T23:59:59", 1, "/"),
        pv("2024-01-15T00:00", 2, "/"),
        pv("2024-01-15T23:59:59", 3, "/"),
    ];
    let rollup = rollup(&events(TZ, &list), 45);
    let site = site(TZ, 45, "2024-01-20T12:00");
    let got = ask(
        &site,
        &rollup,
        json!({"metrics": ["pageviews"], "date_range": ["2024-01-14", "2024-01-15"], "dimensions": ["time:day"]}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(series(&got), pairs(&[("2024-01-14", 1), ("2024-01-15", 2)]));

    // Datetimes on the zone's hours are answered; on UTC's hours (which fall
    // mid-bucket here) they are refused.
    let hour = json!({"metrics": ["pageviews"], "date_range": ["2024-01-15T00:00:00+05:45", "2024-01-15T00:59:59+05:45"]});
    let got = ask(&site, &rollup, hour).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got["results"][0]["metrics"], json!([1]));
    let utc_hour = json!({"metrics": ["pageviews"], "date_range": ["2024-01-15T00:00:00Z", "2024-01-15T00:59:59Z"]});
    assert!(matches!(
        ask(&site, &rollup, utc_hour),
        Err(QueryError::InvalidDateRange { .. })
    ));
}

#[test]
fn berlin_spring_forward_day_has_23_hours() {
    const TZ: &str = "Europe/Berlin";
    let list = [
        pv("2024-03-31T01:30", 1, "/"),
        pv("2024-03-31T03:30", 2, "/"),
        pv("2024-03-31T23:30", 3, "/"),
        pv("2024-04-01T00:30", 4, "/"),
    ];
    let rollup = rollup(&events(TZ, &list), 0);
    let site = site(TZ, 0, "2024-04-05T12:00");
    let got = ask(
        &site,
        &rollup,
        json!({"metrics": ["pageviews"], "date_range": ["2024-03-31", "2024-04-01"], "dimensions": ["time:day"]}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(series(&got), pairs(&[("2024-03-31", 3), ("2024-04-01", 1)]));

    let hours = json!({"metrics": ["pageviews"], "date_range": ["2024-03-31", "2024-03-31"],
                       "dimensions": ["time:hour"], "include": {"time_labels": true}});
    let got = ask(&site, &rollup, hours.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        series(&got),
        pairs(&[
            ("2024-03-31 01:00:00", 1),
            ("2024-03-31 03:00:00", 1),
            ("2024-03-31 23:00:00", 1)
        ])
    );
    let l = labels(&got);
    assert_eq!(l.len(), 23);
    assert!(!l.iter().any(|x| x == "2024-03-31 02:00:00"), "{l:?}");
    assert_eq!(bucket_count(&site, hours), 23);
}

#[test]
fn berlin_fall_back_day_has_25_hours_and_one_row_for_the_repeated_hour() {
    const TZ: &str = "Europe/Berlin";
    let e = |id: u64, utc: &str, visitor: u64| {
        event_at(id, local_ms("UTC", utc), &pv("", visitor, "/"))
    };
    let events = vec![
        e(1, "2024-10-26T22:30", 1), // 00:30 CEST
        e(2, "2024-10-27T00:30", 2), // 02:30 CEST
        e(3, "2024-10-27T01:30", 3), // 02:30 CET, the second time
        e(4, "2024-10-27T22:30", 4), // 23:30 CET
    ];
    let rollup = rollup(&events, 0);
    let site = site(TZ, 0, "2024-11-01T12:00");
    let hours = json!({"metrics": ["pageviews", "visitors"], "date_range": ["2024-10-27", "2024-10-27"],
                       "dimensions": ["time:hour"], "include": {"time_labels": true}});
    let got = ask(&site, &rollup, hours.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        series(&got),
        pairs(&[
            ("2024-10-27 00:00:00", 1),
            ("2024-10-27 02:00:00", 2),
            ("2024-10-27 23:00:00", 1)
        ])
    );
    assert_eq!(got["results"][1]["metrics"], json!([2, 2]));
    assert_eq!(labels(&got).len(), 24);
    assert_eq!(bucket_count(&site, hours), 25);
    let days = json!({"metrics": ["pageviews"], "date_range": ["2024-10-26", "2024-10-28"], "dimensions": ["time:day"]});
    let got = ask(&site, &rollup, days).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(series(&got), pairs(&[("2024-10-27", 4)]));
}

#[test]
fn new_york_days_follow_its_daylight_saving_time() {
    const TZ: &str = "America/New_York";
    let list = [
        pv("2024-03-10T23:30", 1, "/"), // EDT: 03:30 UTC on the 11th
        pv("2024-03-11T00:30", 2, "/"),
        pv("2024-11-03T00:30", 3, "/"), // EDT
        pv("2024-11-03T23:30", 4, "/"), // EST: 04:30 UTC on the 4th
    ];
    let rollup = rollup(&events(TZ, &list), 0);
    let site = site(TZ, 0, "2024-12-01T12:00");
    let q = |first: &str, last: &str| json!({"metrics": ["pageviews"], "date_range": [first, last], "dimensions": ["time:day"]});
    let got = ask(&site, &rollup, q("2024-03-10", "2024-03-11")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(series(&got), pairs(&[("2024-03-10", 1), ("2024-03-11", 1)]));
    let got = ask(&site, &rollup, q("2024-11-03", "2024-11-04")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(series(&got), pairs(&[("2024-11-03", 2)]));
    assert_eq!(bucket_count(&site, q("2024-03-10", "2024-03-10")), 23);
    assert_eq!(bucket_count(&site, q("2024-11-03", "2024-11-03")), 25);
    // A month across the change: 31 * 24 - 1 hours.
    assert_eq!(bucket_count(&site, q("2024-03-01", "2024-03-31")), 743);
}

#[test]
fn lord_howe_summer_days_are_rounded_to_buckets_and_say_so() {
    const TZ: &str = "Australia/Lord_Howe";
    let site = site(TZ, 30, "2024-12-01T12:00");
    let rollup = rollup(&[], 30);
    let q = |day: &str| json!({"metrics": ["pageviews"], "date_range": [day, day]});
    // Standard time (+10:30, June): days are whole buckets.
    let winter = ask(&site, &rollup, q("2024-06-10")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(winter["meta"].get("time_zone_warning"), None);
    // Summer time (+11:00, January): days start mid-bucket.
    let summer = ask(&site, &rollup, q("2024-01-10")).unwrap_or_else(|e| panic!("{e}"));
    assert!(summer["meta"]["time_zone_warning"].is_string(), "{summer}");
}
