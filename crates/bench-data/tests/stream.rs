//! The generator's promises: the same config gives the same bytes; the lines
//! follow the format (timestamp order but for re-deliveries, re-deliveries
//! exact copies 1 s to 10 min late, visits by the 30-minute rule); and the
//! reference answers are right on hand-checked streams.

use std::collections::{BTreeMap, HashMap};

use glinto_bench_data::truth::{TopRow, Totals, Truth};
use glinto_bench_data::{Config, Line, SITES, Stream, VISIT_GAP_MS};
use serde_json::Value;

const SMALL: Config = Config {
    events: 20_000,
    days: 3,
    seed: 11,
    dup_rate: 0.05,
};

fn bytes(config: &Config) -> (Vec<u8>, String) {
    let stream = Stream::generate(config);
    let mut ndjson = Vec::new();
    stream.write_ndjson(&mut ndjson).unwrap();
    let truth = serde_json::to_string(&Truth::compute(config, stream.lines())).unwrap();
    (ndjson, truth)
}

#[test]
fn same_config_same_bytes_and_the_seed_matters() {
    let a = bytes(&SMALL);
    assert_eq!(a, bytes(&SMALL));
    let other_seed = bytes(&Config { seed: 12, ..SMALL });
    assert_ne!(a.0, other_seed.0);
    // Pinned: a change of these bytes is a change of the benchmark stream,
    // which makes earlier figures incomparable. Update deliberately.
    let fnv = a.0.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    assert_eq!((a.0.len(), fnv), (7_472_693, 0x1568_bbb5_2e1a_6bd1));
}

#[test]
fn lines_follow_the_format() {
    let stream = Stream::generate(&SMALL);
    let mut ndjson = Vec::new();
    stream.write_ndjson(&mut ndjson).unwrap();
    let text = String::from_utf8(ndjson).unwrap();
    let lines: Vec<Line<'_>> = stream.lines().collect();
    assert_eq!(lines.len() as u64, SMALL.events);
    let columns: Vec<&str> = glinto_bench_data::COLUMNS.to_vec();

    let mut originals: HashMap<u64, (usize, Line<'_>)> = HashMap::new();
    let mut last_original = 0;
    let mut copies = 0;
    for (n, (text, line)) in text.lines().zip(&lines).enumerate() {
        // Valid JSON with the columns in order, ids as exact integers,
        // equal to the line it was written from.
        let v: serde_json::Map<String, Value> = serde_json::from_str(text).unwrap();
        assert_eq!(v.len(), columns.len());
        let at: Vec<Option<usize>> = columns
            .iter()
            .map(|c| text.find(&format!("\"{c}\":")))
            .collect();
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "columns in order: {text}"
        );
        assert_eq!(v["event_id"].as_u64(), Some(line.event_id));
        assert_eq!(v["visitor_id"].as_u64(), Some(line.visitor_id));
        assert_eq!(v["session_id"].as_u64(), Some(line.session_id));
        assert_eq!(v["timestamp"].as_u64(), Some(line.timestamp));
        assert_eq!(v["pathname"].as_str(), Some(line.pathname));
        assert_eq!(v["referrer_source"].as_str(), Some(line.referrer_source));
        assert!(SITES.contains(&line.domain));
        match originals.get(&line.event_id) {
            None => {
                assert!(line.timestamp >= last_original, "line {n} out of order");
                last_original = line.timestamp;
                originals.insert(line.event_id, (n, *line));
            }
            Some(&(_, original)) => {
                copies += 1;
                assert_eq!(*line, original, "line {n}: a re-delivery is an exact copy");
                // It arrives among the originals of 1 s to 10 min later.
                assert!(
                    last_original <= original.timestamp + 600_000,
                    "line {n} too late"
                );
                let next = lines[n + 1..]
                    .iter()
                    .find(|l| !originals.contains_key(&l.event_id));
                if let Some(next) = next {
                    assert!(
                        next.timestamp >= original.timestamp + 1_000,
                        "line {n} too early"
                    );
                }
            }
        }
    }
    assert_eq!(copies, SMALL.duplicates());

    // Visits: recomputed by brute force per (site, visitor), they are the
    // partition the session ids make.
    let mut by_visitor: BTreeMap<(&str, u64), Vec<(u64, u64)>> = BTreeMap::new();
    for (_, l) in originals.values() {
        by_visitor
            .entry((l.domain, l.visitor_id))
            .or_default()
            .push((l.timestamp, l.session_id));
    }
    let mut session_owner: HashMap<u64, (&str, u64, usize)> = HashMap::new();
    for ((site, visitor), mut hits) in by_visitor {
        hits.sort_unstable();
        let mut visit = 0;
        for (i, &(at, session)) in hits.iter().enumerate() {
            if i > 0 && at - hits[i - 1].0 > VISIT_GAP_MS {
                visit += 1;
            }
            let owner = *session_owner
                .entry(session)
                .or_insert((site, visitor, visit));
            assert_eq!(owner, (site, visitor, visit), "session {session}");
        }
    }
    // Realistic shape: several visits per visitor, most events page views.
    let truth = Truth::compute(&SMALL, lines.iter().copied());
    assert_eq!(truth.meta.sessions as usize, session_owner.len());
    assert!(truth.meta.sessions > truth.meta.distinct_visitors);
    assert!((0.85..0.99).contains(&truth.meta.pageview_share));
}

#[test]
fn the_vocabulary_needs_no_json_escaping() {
    let stream = Stream::generate(&Config {
        events: 50_000,
        ..SMALL
    });
    for l in stream.lines() {
        for s in [
            l.domain,
            l.name,
            l.pathname,
            l.referrer_source,
            l.utm_source,
            l.utm_medium,
            l.utm_campaign,
            l.country_code,
            l.browser,
            l.os,
            l.device,
            l.screen_width,
        ] {
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{s}\""));
        }
    }
}

#[test]
fn empty_and_tiny_streams() {
    for events in [0, 1, 2, 7] {
        let config = Config {
            events,
            dup_rate: 0.5,
            ..SMALL
        };
        let stream = Stream::generate(&config);
        assert_eq!(stream.len() as u64, events);
        let truth = Truth::compute(&config, stream.lines());
        assert_eq!(truth.meta.unique_events, events - config.duplicates());
    }
}

/// A line of `site` by `visitor` at minute `minute`, in visit `session`.
fn hit(id: u64, site: usize, visitor: u64, minute: u64, session: u64) -> Line<'static> {
    Line {
        event_id: id,
        timestamp: glinto_bench_data::START_MS + minute * 60_000,
        domain: SITES[site],
        name: "pageview",
        pathname: "/",
        referrer_source: "",
        utm_source: "",
        utm_medium: "",
        utm_campaign: "",
        country_code: "US",
        browser: "Chrome",
        os: "Windows",
        device: "Desktop",
        screen_width: "992-1440",
        visitor_id: visitor,
        session_id: session,
    }
}

#[test]
fn reference_answers_on_a_hand_checked_stream() {
    let day = |minute: u64| (glinto_bench_data::START_MS + minute * 60_000) / 86_400_000;
    let first = Line {
        referrer_source: "google.com",
        country_code: "DE",
        device: "Mobile",
        ..hit(1, 0, 1, 0, 100)
    };
    let lines = vec![
        // Visitor 1, site 0: a visit from google.com with two page views and
        // a custom event...
        first,
        Line {
            pathname: "/b",
            country_code: "DE",
            device: "Mobile",
            ..hit(2, 0, 1, 10, 100)
        },
        // ...re-delivered (counts once)...
        first,
        Line {
            name: "signup",
            ..hit(3, 0, 1, 40, 100)
        },
        // ...then a bounce from bing.com the next day.
        Line {
            referrer_source: "bing.com",
            ..hit(4, 0, 1, 24 * 60 + 5, 101)
        },
        // Visitor 2, site 0: one visit whose first event (by time, although
        // it arrives second) is from google.com; a bounce.
        Line {
            referrer_source: "t.co",
            name: "signup",
            ..hit(5, 0, 2, 3, 200)
        },
        Line {
            referrer_source: "google.com",
            ..hit(6, 0, 2, 2, 200)
        },
        // Visitor 3, site 1: a custom event only (a visit without page views).
        Line {
            name: "purchase",
            ..hit(7, 1, 3, 5, 300)
        },
    ];
    let config = Config {
        events: lines.len() as u64,
        days: 2,
        seed: 0,
        dup_rate: 0.0,
    };
    let truth = Truth::compute(&config, lines);
    assert_eq!(truth.meta.unique_events, 7);
    assert_eq!(truth.meta.duplicates_written, 1);
    assert_eq!(truth.meta.sessions, 4);
    assert_eq!(truth.meta.distinct_visitors, 3);
    assert_eq!(truth.meta.days_seen, 2);
    assert_eq!(
        truth.q1,
        [
            (SITES[0], day(0), 3, 2),
            (SITES[0], day(24 * 60 + 5), 1, 1),
            (SITES[1], day(5), 0, 1),
        ]
    );
    let row = |k: &str, pv, uv| TopRow(k.to_owned(), pv, uv);
    assert_eq!(
        truth.q2.get(SITES[0]),
        Some(&vec![row("/", 3, 2), row("/b", 1, 1)])
    );
    assert_eq!(truth.q2.get(SITES[1]), Some(&vec![]));
    assert_eq!(
        truth.q3_ref.get(SITES[0]),
        Some(&vec![
            row("google.com", 2, 2),
            row("", 1, 1),
            row("bing.com", 1, 1)
        ])
    );
    assert_eq!(
        truth.q3_country.get(SITES[0]),
        Some(&vec![row("DE", 2, 1), row("US", 2, 2)])
    );
    assert_eq!(
        truth.q5.get(SITES[0]),
        Some(&vec![row("/", 1, 1), row("/b", 1, 1)])
    );
    let totals = |pageviews, visits, bounces, visitors, rate: Option<f64>| Totals {
        pageviews,
        visits,
        bounces,
        bounce_rate: rate,
        visitors,
    };
    assert_eq!(
        truth.q4.get(SITES[0]),
        Some(&totals(4, 3, 2, 2, Some(2.0 / 3.0)))
    );
    assert_eq!(truth.q4.get(SITES[1]), Some(&totals(0, 1, 0, 1, Some(0.0))));
    assert_eq!(truth.q4.get(SITES[2]), Some(&totals(0, 0, 0, 0, Some(0.0))));
    // Visits 100 (two page views) and 200 (one) came from google.com.
    assert_eq!(truth.q6.get(SITES[0]), Some(&totals(3, 2, 1, 2, None)));
    assert_eq!(truth.q6.get(SITES[1]), Some(&totals(0, 0, 0, 0, None)));
}

#[test]
fn truth_json_has_the_shared_shape() {
    let stream = Stream::generate(&SMALL);
    let v: Value = serde_json::from_str(
        &serde_json::to_string(&Truth::compute(&SMALL, stream.lines())).unwrap(),
    )
    .unwrap();
    let row = &v["q1"][0];
    assert!(row[0].is_string() && row[1].is_u64() && row[2].is_u64() && row[3].is_u64());
    for q in ["q2", "q3_ref", "q3_country", "q5"] {
        let top = &v[q][SITES[0]];
        assert_eq!(top.as_array().map(Vec::len), Some(10), "{q}");
        assert!(top[0][0].is_string() && top[0][1].is_u64() && top[0][2].is_u64());
    }
    for q in ["q4", "q6"] {
        for field in ["pageviews", "visits", "bounces", "visitors"] {
            assert!(v[q][SITES[0]][field].is_u64(), "{q} {field}");
        }
    }
    assert!(v["q4"][SITES[0]]["bounce_rate"].is_f64());
    assert_eq!(v["meta"]["events_written"], SMALL.events);
}
