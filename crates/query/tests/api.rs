//! Stats API v2 requests and their responses, table-driven, over rollups the
//! real writer built from events in the site's time zone.

mod common;

use common::{E, SITE, ask, ask_at, events, local_ms, pv, rollup, site};
use glinto_aggregator::rollup::SiteRollup;
use glinto_query::{QueryError, QueryRequest, Resolution, SiteContext, plan};
use serde_json::{Value, json};

// ------------------------------------------------------------------ fixture

const BERLIN: &str = "Europe/Berlin";
/// "Today" of the fixture: 2024-04-10, a Wednesday.
const NOW: &str = "2024-04-10T12:00";

/// Five visits by four visitors in April 2024 (CEST, UTC+2):
/// - A: visitor 1 on 04-09 from google.com: `/`, `/pricing`, a Signup
///   (plan=pro) six minutes after arriving: 2 page views, not a bounce, 360 s;
/// - B: visitor 2 on 04-09 23:30 from FR, direct: `/`, a bounce;
/// - C: visitor 3 on 04-08 from google.com: `/blog`, a bounce;
/// - D: visitor 1 again today (04-10), direct: `/`, a bounce;
/// - E: visitor 4 on 04-02 from the US via t.co: `/`, a bounce.
fn fixture() -> Vec<E> {
    vec![
        pv("2024-04-09T10:00", 1, "/").source("google.com"),
        pv("2024-04-09T10:05", 1, "/pricing"),
        pv("2024-04-09T10:06", 1, "/pricing")
            .custom("Signup")
            .props(&[("plan", "pro")]),
        pv("2024-04-09T23:30", 2, "/").country("FR"),
        pv("2024-04-08T08:00", 3, "/blog").source("google.com"),
        pv("2024-04-10T09:00", 1, "/"),
        pv("2024-04-02T12:00", 4, "/").country("US").source("t.co"),
    ]
}

fn berlin() -> (SiteContext, SiteRollup) {
    let site = site(BERLIN, 0, NOW).with_stats_start(local_ms(BERLIN, "2024-04-01T00:00"));
    (site, rollup(&events(BERLIN, &fixture()), 0))
}

/// Asks every query and compares `results` (and `meta` where given).
fn check(site: &SiteContext, rollup: &SiteRollup, cases: &[(&str, Value, Value)]) {
    for (name, query, expected) in cases {
        let got = ask(site, rollup, query.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let compared = if ["results", "meta", "query"]
            .iter()
            .any(|k| expected.get(k).is_some())
        {
            let mut sub = serde_json::Map::new();
            for key in ["results", "meta", "query"] {
                if expected.get(key).is_some() {
                    sub.insert(key.to_owned(), got[key].clone());
                }
            }
            Value::Object(sub)
        } else {
            got["results"].clone()
        };
        assert_eq!(&compared, expected, "{name}: {query}");
    }
}

fn row(dimensions: Value, metrics: Value) -> Value {
    json!({"dimensions": dimensions, "metrics": metrics})
}

// ------------------------------------------------------------------ metrics and date ranges

#[test]
fn every_metric_over_every_date_range() {
    let (site, rollup) = berlin();
    let all = json!([
        "visitors",
        "visits",
        "pageviews",
        "events",
        "bounce_rate",
        "visit_duration",
        "views_per_visit"
    ]);
    let q = |range: Value| json!({"metrics": all, "date_range": range});
    check(
        &site,
        &rollup,
        &[
            // Today: visit D.
            (
                "day",
                q(json!("day")),
                json!([row(json!([]), json!([1, 1, 1, 1, 100, 0, 1.0]))]),
            ),
            // The 7 days before today, today excluded (Plausible's "Nd"):
            // 04-03..04-09, visits A, B, C.
            (
                "7d",
                q(json!("7d")),
                json!([row(json!([]), json!([3, 3, 4, 5, 67, 120, 1.33]))]),
            ),
            // 03-13..04-09: A, B, C, E.
            (
                "28d",
                q(json!("28d")),
                json!([row(json!([]), json!([4, 4, 5, 6, 75, 90, 1.25]))]),
            ),
            (
                "30d",
                q(json!("30d")),
                json!([row(json!([]), json!([4, 4, 5, 6, 75, 90, 1.25]))]),
            ),
            (
                "91d",
                q(json!("91d")),
                json!([row(json!([]), json!([4, 4, 5, 6, 75, 90, 1.25]))]),
            ),
            // The whole current month, today included.
            (
                "month",
                q(json!("month")),
                json!([row(json!([]), json!([4, 5, 6, 7, 80, 72, 1.2]))]),
            ),
            (
                "year",
                q(json!("year")),
                json!([row(json!([]), json!([4, 5, 6, 7, 80, 72, 1.2]))]),
            ),
            (
                "all",
                q(json!("all")),
                json!([row(json!([]), json!([4, 5, 6, 7, 80, 72, 1.2]))]),
            ),
            // Whole months before the current one: March and before, empty.
            (
                "6mo",
                q(json!("6mo")),
                json!([row(json!([]), json!([0, 0, 0, 0, 0, 0, 0.0]))]),
            ),
            (
                "12mo",
                q(json!("12mo")),
                json!([row(json!([]), json!([0, 0, 0, 0, 0, 0, 0.0]))]),
            ),
            // The last 24 hour buckets, the current one included: 04-09
            // 13:00 to 04-10 12:59, visits B and D.
            (
                "24h",
                q(json!("24h")),
                json!([row(json!([]), json!([2, 2, 2, 2, 100, 0, 1.0]))]),
            ),
            (
                "dates",
                q(json!(["2024-04-08", "2024-04-09"])),
                json!([row(json!([]), json!([3, 3, 4, 5, 67, 120, 1.33]))]),
            ),
            (
                "datetimes",
                q(json!([
                    "2024-04-09T10:00:00+02:00",
                    "2024-04-09T10:59:59+02:00"
                ])),
                json!([row(json!([]), json!([1, 1, 2, 3, 0, 360, 2.0]))]),
            ),
            (
                "datetimes in another offset",
                q(json!(["2024-04-09T08:00:00Z", "2024-04-09T09:00:00Z"])),
                json!([row(json!([]), json!([1, 1, 2, 3, 0, 360, 2.0]))]),
            ),
        ],
    );
}

#[test]
fn the_query_echo_resolves_the_range_in_the_site_zone() {
    let (site, rollup) = berlin();
    check(
        &site,
        &rollup,
        &[(
            "echo",
            json!({"metrics": ["visitors"], "date_range": "7d", "dimensions": ["time"]}),
            json!({"query": {
                "site_id": SITE,
                "metrics": ["visitors"],
                "date_range": ["2024-04-03T00:00:00+02:00", "2024-04-09T23:59:59+02:00"],
                "filters": [],
                "dimensions": ["time:day"],
                "order_by": [["time:day", "asc"], ["visitors", "desc"]],
                "include": {},
                "pagination": {"limit": 10000, "offset": 0}
            }}),
        )],
    );
}

// ------------------------------------------------------------------ dimensions

#[test]
fn time_picks_its_bucket_from_the_range_length() {
    let (site, rollup) = berlin();
    let site = site.with_stats_start(local_ms(BERLIN, "2021-01-01T00:00"));
    let cases = [
        ("day", "time:hour"),
        ("24h", "time:hour"),
        ("7d", "time:day"),
        ("month", "time:day"),
        ("91d", "time:week"),
        ("year", "time:week"),
        ("all", "time:month"),
    ];
    for (range, resolved) in cases {
        let q = json!({"metrics": ["visits"], "date_range": range, "dimensions": ["time"]});
        let got = ask(&site, &rollup, q).unwrap_or_else(|e| panic!("{range}: {e}"));
        assert_eq!(got["query"]["dimensions"], json!([resolved]), "{range}");
    }
}

#[test]
fn breakdowns_by_every_kind_of_dimension() {
    let (site, rollup) = berlin();
    let month = |metrics: Value, dims: Value| json!({"metrics": metrics, "date_range": "month", "dimensions": dims});
    check(
        &site,
        &rollup,
        &[
            (
                "visit:country with percentage",
                month(
                    json!(["visitors", "pageviews", "percentage"]),
                    json!(["visit:country"]),
                ),
                json!([
                    row(json!(["DE"]), json!([2, 4, 50.0])),
                    row(json!(["FR"]), json!([1, 1, 25.0])),
                    row(json!(["US"]), json!([1, 1, 25.0])),
                ]),
            ),
            (
                "event:page with the entry page's bounce rate",
                json!({"metrics": ["pageviews", "visitors", "bounce_rate"], "date_range": "month",
                       "dimensions": ["event:page"], "order_by": [["pageviews", "desc"]]}),
                json!([
                    row(json!(["/"]), json!([4, 3, 75])),
                    row(json!(["/blog"]), json!([1, 1, 100])),
                    row(json!(["/pricing"]), json!([1, 1, 0])),
                ]),
            ),
            (
                "event:goal with conversion rate",
                month(
                    json!(["visitors", "events", "conversion_rate"]),
                    json!(["event:goal"]),
                ),
                json!([row(json!(["Signup"]), json!([1, 1, 25.0]))]),
            ),
            (
                "event:props",
                month(json!(["visitors", "events"]), json!(["event:props:plan"])),
                json!([row(json!(["pro"]), json!([1, 1]))]),
            ),
            (
                "event:hostname",
                month(json!(["pageviews"]), json!(["event:hostname"])),
                json!([row(json!([SITE]), json!([6]))]),
            ),
            (
                "visit:source counts visits by their first event",
                month(
                    json!(["visits", "bounce_rate", "visit_duration"]),
                    json!(["visit:source"]),
                ),
                json!([
                    row(json!(["Direct / None"]), json!([2, 100, 0])),
                    row(json!(["google.com"]), json!([2, 50, 180])),
                    row(json!(["t.co"]), json!([1, 100, 0])),
                ]),
            ),
            (
                "visit:entry_page",
                month(json!(["visits", "visitors"]), json!(["visit:entry_page"])),
                json!([
                    row(json!(["/"]), json!([4, 3])),
                    row(json!(["/blog"]), json!([1, 1])),
                ]),
            ),
            (
                "visit:exit_page",
                month(json!(["visits"]), json!(["visit:exit_page"])),
                json!([
                    row(json!(["/"]), json!([3])),
                    row(json!(["/blog"]), json!([1])),
                    row(json!(["/pricing"]), json!([1])),
                ]),
            ),
            (
                "visit:browser, os, device, screen",
                month(
                    json!(["visitors", "visits", "views_per_visit"]),
                    json!(["visit:browser"]),
                ),
                json!([row(json!(["Firefox"]), json!([4, 5, 1.2]))]),
            ),
            (
                "visit:os",
                month(json!(["visitors"]), json!(["visit:os"])),
                json!([row(json!(["Linux"]), json!([4]))]),
            ),
            (
                "visit:device",
                month(json!(["visitors"]), json!(["visit:device"])),
                json!([row(json!(["Desktop"]), json!([4]))]),
            ),
            (
                "visit:screen",
                month(json!(["visitors"]), json!(["visit:screen"])),
                json!([row(json!(["992-1440"]), json!([4]))]),
            ),
            (
                "order_by a dimension, paginated, with total rows",
                json!({"metrics": ["visitors"], "date_range": "month", "dimensions": ["visit:country"],
                       "order_by": [["visit:country", "desc"]], "pagination": {"limit": 1, "offset": 1},
                       "include": {"total_rows": true}}),
                json!({"results": [row(json!(["FR"]), json!([1]))],
                       "meta": {"total_rows": 3, "estimates": estimates(&["visitors"], true)}}),
            ),
        ],
    );
}

fn estimates(metrics: &[&str], exact: bool) -> Value {
    json!({
        "metrics": metrics,
        "sketch": "HyperLogLog++",
        "relative_standard_error": 0.008125,
        "exact_up_to": 1024,
        "exact": exact
    })
}

#[test]
fn time_dimensions_with_labels() {
    let (site, rollup) = berlin();
    check(
        &site,
        &rollup,
        &[
            (
                "time:day",
                json!({"metrics": ["visitors", "pageviews"], "date_range": ["2024-04-08", "2024-04-10"],
                       "dimensions": ["time:day"], "include": {"time_labels": true}}),
                json!({"results": [
                    row(json!(["2024-04-08"]), json!([1, 1])),
                    row(json!(["2024-04-09"]), json!([2, 3])),
                    row(json!(["2024-04-10"]), json!([1, 1])),
                ], "meta": {
                    "estimates": estimates(&["visitors"], true),
                    "time_labels": ["2024-04-08", "2024-04-09", "2024-04-10"]
                }}),
            ),
            (
                "time:week starts on Monday",
                json!({"metrics": ["visitors"], "date_range": "month", "dimensions": ["time:week"],
                       "include": {"time_labels": true}}),
                json!({"results": [
                    row(json!(["2024-04-01"]), json!([1])),
                    row(json!(["2024-04-08"]), json!([3])),
                ], "meta": {
                    "estimates": estimates(&["visitors"], true),
                    "time_labels": ["2024-04-01", "2024-04-08", "2024-04-15", "2024-04-22", "2024-04-29"]
                }}),
            ),
            (
                "a week cut by the range starts at the range",
                json!({"metrics": ["pageviews"], "date_range": ["2024-04-03", "2024-04-09"],
                       "dimensions": ["time:week"]}),
                json!([row(json!(["2024-04-08"]), json!([4]))]),
            ),
            (
                "time:month",
                json!({"metrics": ["pageviews"], "date_range": "year", "dimensions": ["time:month"]}),
                json!([row(json!(["2024-04-01"]), json!([6]))]),
            ),
            (
                "time:hour",
                json!({"metrics": ["pageviews", "events"], "date_range": ["2024-04-09", "2024-04-09"],
                       "dimensions": ["time:hour"]}),
                json!([
                    row(json!(["2024-04-09 10:00:00"]), json!([2, 3])),
                    row(json!(["2024-04-09 23:00:00"]), json!([1, 1])),
                ]),
            ),
            (
                "time picks hours for a day",
                json!({"metrics": ["pageviews"], "date_range": "day", "dimensions": ["time"]}),
                json!([row(json!(["2024-04-10 09:00:00"]), json!([1]))]),
            ),
            (
                "time with a value dimension",
                json!({"metrics": ["pageviews"], "date_range": ["2024-04-08", "2024-04-09"],
                       "dimensions": ["time:day", "visit:country"]}),
                json!([
                    row(json!(["2024-04-08", "DE"]), json!([1])),
                    row(json!(["2024-04-09", "DE"]), json!([2])),
                    row(json!(["2024-04-09", "FR"]), json!([1])),
                ]),
            ),
        ],
    );
}

// ------------------------------------------------------------------ filters and comparisons

#[test]
fn filters_the_rollups_answer_exactly() {
    let (site, rollup) = berlin();
    check(
        &site,
        &rollup,
        &[
            (
                "a goal filter with conversion rate",
                json!({"metrics": ["visitors", "events", "conversion_rate"], "date_range": "month",
                       "filters": [["is", "event:goal", ["Signup"]]]}),
                json!([row(json!([]), json!([1, 1, 25.0]))]),
            ),
            (
                "a goal filter over time",
                json!({"metrics": ["conversion_rate"], "date_range": ["2024-04-09", "2024-04-10"],
                       "dimensions": ["time:day"], "filters": [["is", "event:goal", ["Signup"]]]}),
                // Plausible divides by the visitors of the whole range (2).
                json!([row(json!(["2024-04-09"]), json!([50.0]))]),
            ),
            (
                "a filter without dimension: the union of its values",
                json!({"metrics": ["visitors", "pageviews", "visits"], "date_range": "month",
                       "filters": [["is", "visit:country", ["DE", "US"]]]}),
                json!([row(json!([]), json!([3, 5, 4]))]),
            ),
            (
                "a filter on the dimension broken down",
                json!({"metrics": ["visitors", "percentage"], "date_range": "month",
                       "dimensions": ["visit:country"], "filters": [["is", "visit:country", ["FR", "US"]]]}),
                json!([
                    row(json!(["FR"]), json!([1, 50.0])),
                    row(json!(["US"]), json!([1, 50.0])),
                ]),
            ),
            (
                "direct traffic by Plausible's label",
                json!({"metrics": ["visits"], "date_range": "month",
                       "filters": [["is", "visit:source", ["Direct / None"]]]}),
                json!([row(json!([]), json!([2]))]),
            ),
        ],
    );
}

#[test]
fn comparisons_with_the_previous_period_and_last_year() {
    let (site, rollup) = berlin();
    check(
        &site,
        &rollup,
        &[
            (
                "previous period of today is yesterday",
                json!({"metrics": ["visitors", "pageviews", "bounce_rate"], "date_range": "day",
                       "include": {"comparisons": {"mode": "previous_period"}}}),
                json!([{"dimensions": [], "metrics": [1, 1, 100],
                        "comparison": {"dimensions": [], "metrics": [2, 3, 50], "change": [-50, -67, 50]}}]),
            ),
            (
                "year over year from nothing",
                json!({"metrics": ["visitors", "bounce_rate"], "date_range": "day",
                       "include": {"comparisons": {"mode": "year_over_year"}}}),
                json!([{"dimensions": [], "metrics": [1, 100],
                        "comparison": {"dimensions": [], "metrics": [0, 0], "change": [100, null]}}]),
            ),
            (
                "a time series compares bucket by bucket, empty buckets included",
                json!({"metrics": ["pageviews"], "date_range": ["2024-04-09", "2024-04-10"],
                       "dimensions": ["time:day"], "include": {"comparisons": {"mode": "previous_period"}}}),
                json!([
                    {"dimensions": ["2024-04-09"], "metrics": [3],
                     "comparison": {"dimensions": ["2024-04-07"], "metrics": [0], "change": [100]}},
                    {"dimensions": ["2024-04-10"], "metrics": [1],
                     "comparison": {"dimensions": ["2024-04-08"], "metrics": [1], "change": [0]}},
                ]),
            ),
            (
                "year over year on the same weekday",
                json!({"metrics": ["pageviews"], "date_range": ["2024-04-10", "2024-04-10"],
                       "dimensions": ["time:day"],
                       "include": {"comparisons": {"mode": "year_over_year", "match_day_of_week": true}}}),
                // 2024-04-10 is a Wednesday; 365 days earlier is Tuesday
                // 2023-04-11, and the nearest Wednesday 2023-04-12.
                json!([{"dimensions": ["2024-04-10"], "metrics": [1],
                        "comparison": {"dimensions": ["2023-04-12"], "metrics": [0], "change": [100]}}]),
            ),
            (
                "a breakdown compares each value",
                json!({"metrics": ["visitors"], "date_range": ["2024-04-09", "2024-04-09"],
                       "dimensions": ["visit:country"],
                       "include": {"comparisons": {"mode": "custom", "date_range": ["2024-04-08", "2024-04-08"]}}}),
                json!([
                    {"dimensions": ["DE"], "metrics": [1],
                     "comparison": {"dimensions": ["DE"], "metrics": [1], "change": [0]}},
                    {"dimensions": ["FR"], "metrics": [1],
                     "comparison": {"dimensions": ["FR"], "metrics": [0], "change": [100]}},
                ]),
            ),
        ],
    );
}

// ------------------------------------------------------------------ errors

#[test]
fn invalid_and_unsupported_requests_name_their_field() {
    let (site, rollup) = berlin();
    let q = |extra: Value| {
        let mut base = json!({"metrics": ["visitors"], "date_range": "month"});
        for (k, v) in extra.as_object().into_iter().flatten() {
            base[k] = v.clone();
        }
        base
    };
    let cases: &[(&str, Value, &str, &str)] = &[
        (
            "unknown metric",
            q(json!({"metrics": ["foo"]})),
            "metrics",
            "Unknown metric '\"foo\"'.",
        ),
        (
            "no metric",
            q(json!({"metrics": []})),
            "metrics",
            "at least one metric",
        ),
        (
            "metric twice",
            q(json!({"metrics": ["visits", "visits"]})),
            "metrics",
            "listed twice",
        ),
        (
            "a metric not kept",
            q(json!({"metrics": ["scroll_depth"]})),
            "metrics",
            "Not supported yet: metric `scroll_depth`",
        ),
        (
            "unknown date range",
            q(json!({"date_range": "8x"})),
            "date_range",
            "Invalid date_range '8x'.",
        ),
        (
            "reversed dates",
            q(json!({"date_range": ["2024-04-09", "2024-04-01"]})),
            "date_range",
            "after the last",
        ),
        (
            "not a date",
            q(json!({"date_range": ["2024-04-09", "tomorrow"]})),
            "date_range",
            "Invalid date_range",
        ),
        (
            "datetimes inside an hour",
            q(json!({"date_range": ["2024-04-09T10:15:00+02:00", "2024-04-09T10:59:59+02:00"]})),
            "date_range",
            "hours of the site's zone",
        ),
        (
            "unknown dimension",
            q(json!({"dimensions": ["visit:nope"]})),
            "dimensions",
            "Invalid dimensions 'visit:nope'.",
        ),
        (
            "a dimension not kept",
            q(json!({"dimensions": ["visit:city"]})),
            "dimensions",
            "Not supported yet: dimension `visit:city`",
        ),
        (
            "two value dimensions",
            q(json!({"dimensions": ["visit:country", "visit:browser"]})),
            "dimensions",
            "a breakdown by both `visit:country` and `visit:browser`",
        ),
        (
            "two time dimensions",
            q(json!({"dimensions": ["time:day", "time:week"]})),
            "dimensions",
            "only one time dimension",
        ),
        (
            "conversion rate without goal",
            q(json!({"metrics": ["conversion_rate"]})),
            "metrics",
            "Metric `conversion_rate` can only be queried with event:goal filters or dimensions.",
        ),
        (
            "percentage without dimension",
            q(json!({"metrics": ["percentage"]})),
            "metrics",
            "Metric `percentage` can only be queried with dimensions.",
        ),
        (
            "session metrics with event dimensions",
            q(json!({"metrics": ["bounce_rate", "visit_duration"], "dimensions": ["event:goal"]})),
            "metrics",
            "Session metric(s) `bounce_rate, visit_duration` cannot be queried along with event dimensions.",
        ),
        (
            "views per visit with a page filter",
            q(json!({"metrics": ["views_per_visit"], "filters": [["is", "event:page", ["/"]]]})),
            "metrics",
            "Metric `views_per_visit` cannot be queried with a filter on `event:page`.",
        ),
        (
            "page views by visit source",
            q(json!({"metrics": ["pageviews"], "dimensions": ["visit:source"]})),
            "metrics",
            "Not supported yet: `pageviews` by `visit:source`",
        ),
        (
            "visitors by visit source",
            q(json!({"dimensions": ["visit:utm_source"]})),
            "metrics",
            "Not supported yet: `visitors` by `visit:utm_source`",
        ),
        (
            "page views by entry page",
            q(json!({"metrics": ["pageviews"], "dimensions": ["visit:entry_page"]})),
            "metrics",
            "Not supported yet: `pageviews` by `visit:entry_page`",
        ),
        (
            "visits by page",
            q(json!({"metrics": ["visits"], "dimensions": ["event:page"]})),
            "metrics",
            "Not supported yet: `visits` by `event:page`",
        ),
        (
            "visits of a goal",
            q(json!({"metrics": ["visits"], "filters": [["is", "event:goal", ["Signup"]]]})),
            "metrics",
            "Not supported yet: `visits` with a filter on event:goal",
        ),
        (
            "a contains filter",
            q(json!({"filters": [["contains", "event:page", ["/blog"]]]})),
            "filters",
            "Not supported yet: filter operator `contains`",
        ),
        (
            "a logical filter",
            q(
                json!({"filters": [["or", [["is", "visit:country", ["DE"]], ["is", "visit:country", ["FR"]]]]]}),
            ),
            "filters",
            "filter operator `or`",
        ),
        (
            "a filter on another dimension",
            q(json!({"dimensions": ["event:page"], "filters": [["is", "visit:country", ["DE"]]]})),
            "filters",
            "a filter on `visit:country` with a breakdown by `event:page`",
        ),
        (
            "two filters",
            q(
                json!({"filters": [["is", "visit:country", ["DE"]], ["is", "visit:browser", ["Firefox"]]]}),
            ),
            "filters",
            "more than one filter",
        ),
        (
            "unknown operator",
            q(json!({"filters": [["equals", "visit:country", ["DE"]]]})),
            "filters",
            "unknown operator",
        ),
        (
            "a country that is not a code",
            q(json!({"filters": [["is", "visit:country", ["Germany"]]]})),
            "filters",
            "visit:country needs to be a valid 2-letter country code",
        ),
        (
            "a time filter",
            q(json!({"filters": [["is", "time:day", ["2024-04-01"]]]})),
            "filters",
            "not usable in filters",
        ),
        (
            "order by what is not queried",
            q(json!({"order_by": [["visits", "desc"]]})),
            "order_by",
            "Invalid order_by entry '[\"visits\",\"desc\"]': Entry is not a queried metric or dimension.",
        ),
        (
            "order by a bad direction",
            q(json!({"order_by": [["visitors", "up"]]})),
            "order_by",
            "Invalid order_by entry",
        ),
        (
            "time labels without time",
            q(json!({"include": {"time_labels": true}})),
            "include.time_labels",
            "Invalid include.time_labels: requires a time dimension.",
        ),
        (
            "a zero limit",
            q(json!({"pagination": {"limit": 0}})),
            "pagination.limit",
            "at least 1",
        ),
        (
            "an unknown comparison",
            q(json!({"include": {"comparisons": {"mode": "last_week"}}})),
            "include.comparisons",
            "mode must be",
        ),
        (
            "another site",
            q(json!({"site_id": "other.org"})),
            "site_id",
            "Invalid site_id 'other.org'",
        ),
        (
            "an unknown field",
            q(json!({"interval": "day"})),
            "body",
            "unknown field `interval`",
        ),
    ];
    for (name, query, field, message) in cases {
        let err = ask(&site, &rollup, query.clone())
            .err()
            .unwrap_or_else(|| panic!("{name}: answered"));
        assert_eq!(err.field(), *field, "{name}: {err}");
        assert!(err.to_string().contains(message), "{name}: {err}");
    }
}

#[test]
fn configured_goals_restrict_goal_filters() {
    let (site, rollup) = berlin();
    let site = site.with_goals(vec!["Signup".into()]);
    let q = |goal: &str| json!({"metrics": ["visitors"], "date_range": "month", "filters": [["is", "event:goal", [goal]]]});
    assert!(ask(&site, &rollup, q("Signup")).is_ok());
    let err = ask(&site, &rollup, q("Purchase")).err();
    assert!(
        matches!(&err, Some(QueryError::InvalidFilter { reason, .. }) if reason.contains("`Purchase` is not configured")),
        "{err:?}"
    );
}

#[test]
fn hours_folded_into_days_cannot_answer_time_hour() {
    let (site, rollup) = berlin();
    // Hour cells kept from 04-09 00:00 local on, day cells before.
    let hours_from = rollup_bucket(&site, "2024-04-09T00:00");
    let resolution = Resolution::new(hours_from, 0);
    let hourly = json!({"metrics": ["pageviews"], "date_range": ["2024-04-08", "2024-04-09"], "dimensions": ["time:hour"]});
    let err = ask_at(&site, &rollup, hourly, &resolution).err();
    assert!(
        matches!(&err, Some(QueryError::ResolutionUnavailable { field: "dimensions", from, available, .. })
            if from == "2024-04-08 00:00:00" && available == "2024-04-09 00:00:00"),
        "{err:?}"
    );
    // Days over the same range, and hours where hours are kept, answer.
    let daily = json!({"metrics": ["pageviews"], "date_range": ["2024-04-08", "2024-04-09"], "dimensions": ["time:day"]});
    assert!(ask_at(&site, &rollup, daily, &resolution).is_ok());
    let recent =
        json!({"metrics": ["pageviews"], "date_range": "day", "dimensions": ["time:hour"]});
    assert!(ask_at(&site, &rollup, recent, &resolution).is_ok());
    // A datetime range cut inside a folded day is refused too.
    let cut = json!({"metrics": ["pageviews"], "date_range": ["2024-04-08T10:00:00+02:00", "2024-04-08T11:59:59+02:00"]});
    let err = ask_at(&site, &rollup, cut, &resolution).err();
    assert!(
        matches!(
            &err,
            Some(QueryError::ResolutionUnavailable {
                field: "date_range",
                ..
            })
        ),
        "{err:?}"
    );
}

fn rollup_bucket(site: &SiteContext, local: &str) -> u32 {
    let ms = local_ms(&site.time_zone_name, local);
    u32::try_from(ms / 3_600_000).unwrap_or(0)
}

#[test]
fn the_plan_names_the_ranges_to_load() {
    let (site, _) = berlin();
    let request = QueryRequest::from_json(
        &json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "day",
                "include": {"comparisons": {"mode": "previous_period"}}})
        .to_string(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let plan = plan(&request, &site).unwrap_or_else(|e| panic!("{e}"));
    let today = rollup_bucket(&site, "2024-04-10T00:00");
    let ranges = plan.ranges();
    assert_eq!(ranges.len(), 2);
    assert_eq!((ranges[0].start, ranges[0].end), (today, today + 24));
    assert_eq!((ranges[1].start, ranges[1].end), (today - 24, today));
    assert_eq!(plan.finest_grain(), glinto_query::Grain::Day);
}
