//! The engine's mergeable types keep the lattice laws, results do not depend
//! on arrival order, and rollup/delta bytes are pinned and safe to decode.

use std::collections::BTreeMap;

use glinto_aggregator::dedup::Admission;
use glinto_aggregator::delta::Delta;
use glinto_aggregator::lattice::testing::check_lattice_laws;
use glinto_aggregator::rollup::{
    Cell, Counts, Dimension, HourRange, OrderBy, SeqSet, SiteRollup, Stats, Tally,
};
use glinto_aggregator::writer::{SiteWriter, WriterConfig};
use glinto_aggregator::{Error, Lattice, ReplicaId, UniqueSketch};
use glinto_event_model::Event;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const SITE: &str = "a.example";
const MIN: u64 = 60_000;
/// 2024-01-01T00:00:00Z.
const T0: u64 = 1_704_067_200_000;

// ---------------------------------------------------------------- strategies

fn counts() -> impl Strategy<Value = Counts> {
    (0u64..5, 0u64..5, 0u64..4, 0u64..4, 0u64..4, 0u64..4).prop_map(|(pv, ev, va, vr, ba, br)| {
        Counts {
            pageviews: pv,
            events: pv + ev,
            visits_added: va + vr,
            visits_retracted: vr,
            bounces_added: ba + br,
            bounces_retracted: br,
            duration_added_ms: 1000 * va,
            duration_retracted_ms: 0,
        }
    })
}

fn rollups() -> impl Strategy<Value = SiteRollup> {
    let cell = (
        0u32..3,
        prop_oneof![
            Just(Dimension::Total),
            Just(Dimension::Page),
            Just(Dimension::Country)
        ],
        prop_oneof![Just(""), Just("/a"), Just("DE")],
        1u64..4,
        counts(),
        proptest::collection::vec(0u64..50, 0..4),
    );
    (
        proptest::collection::vec(cell, 0..6),
        proptest::collection::vec((1u64..4, 1u64..6), 0..4),
        0u64..4,
    )
        .prop_map(|(cells, seen, watermark)| {
            let mut rollup = SiteRollup::new(SITE);
            for (hour, dim, value, replica, counts, visitors) in cells {
                let mut sketch = UniqueSketch::new();
                for v in visitors {
                    sketch.insert(v);
                }
                let cell = Cell {
                    tally: Tally::single(ReplicaId(replica), counts),
                    visitors: sketch,
                };
                rollup.cell_mut(475_000 + hour, dim, value).merge(&cell);
            }
            for (replica, seq) in seen {
                rollup.mark_seen(ReplicaId(replica), seq);
            }
            // Some rollups compacted (version 3's watermark and base).
            rollup.compact(ReplicaId(watermark));
            rollup
        })
}

fn seq_sets() -> impl Strategy<Value = SeqSet> {
    proptest::collection::vec(1u64..12, 0..8).prop_map(|seqs| {
        let mut set = SeqSet::default();
        for s in seqs {
            set.insert(s);
        }
        set
    })
}

fn event(id: u64, visitor: u64, minute: u64, page: &str, name: &str, country: &str) -> Event {
    Event {
        event_id: id,
        timestamp_ms: T0 + minute * MIN,
        site: SITE.into(),
        name: name.into(),
        hostname: SITE.into(),
        pathname: page.into(),
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
        country_code: country.into(),
        browser: "Firefox".into(),
        browser_version: "128".into(),
        os: "Linux".into(),
        os_version: String::new(),
        device: Default::default(),
        screen: "<576".into(),
        props: if name == "signup" {
            vec![("plan".into(), "pro".into())]
        } else {
            Vec::new()
        },
        revenue: None,
        interactive: true,
        engagement: None,
        visitor_id: visitor,
        previous_visitor_id: None,
        session_id: None,
    }
}

/// Random events over three hours: few visitors, pages and ids, so visits
/// bridge, bounces flip and duplicates happen.
fn events() -> impl Strategy<Value = Vec<Event>> {
    // The event id determines the event, as it does in reality: three
    // visitors, three pages, custom events, timestamps spread over 3 hours.
    proptest::collection::vec(0u64..30, 1..40).prop_map(|ids| {
        ids.into_iter()
            .map(|id| {
                let (visitor, minute) = (1 + id % 3, (id * 37) % 180);
                let page = ["/", "/pricing", "/blog"][(id % 3) as usize];
                let name = if id % 5 == 4 { "signup" } else { "pageview" };
                event(
                    id,
                    visitor,
                    minute,
                    page,
                    name,
                    ["DE", "FR"][(id % 2) as usize],
                )
            })
            .collect()
    })
}

// ------------------------------------------------------------------- helpers

/// The net content of a rollup: every cell's metrics and unique count, zero
/// cells dropped. Equal views = equal answers to every query.
fn net(rollup: &SiteRollup) -> BTreeMap<(u32, Dimension, String), (Stats, u64)> {
    let mut out = BTreeMap::new();
    for (hour, dim, value, _) in rollup.cells() {
        let mut stats = rollup.stats(HourRange::new(hour, hour + 1), dim, value);
        let visitors = stats.visitors;
        stats.visitors = 0;
        if stats == Stats::default() {
            continue;
        }
        // A sketch cannot forget: the entry/exit cells a visit was
        // retracted from keep its visitor (documented in rollup.rs).
        let exact_visitors = !matches!(dim, Dimension::EntryPage | Dimension::ExitPage);
        out.insert(
            (hour, dim, value.to_owned()),
            (stats, if exact_visitors { visitors } else { 0 }),
        );
    }
    out
}

fn aggregate(events: &[Event], config: WriterConfig) -> SiteRollup {
    let mut w = SiteWriter::new(SITE, ReplicaId(1), config);
    for e in events {
        w.apply(e).unwrap_or_else(|err| panic!("{err}"));
    }
    w.snapshot()
}

fn run(
    cases: u32,
    strategy: impl Strategy<Value = Vec<Event>>,
    test: impl Fn(Vec<Event>) -> Result<(), TestCaseError>,
) {
    let mut runner = TestRunner::new(Config::with_cases(cases));
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}

// ------------------------------------------------------------------- laws

#[test]
fn rollups_are_a_lattice() {
    check_lattice_laws(rollups());
}

#[test]
fn seq_sets_are_a_lattice() {
    check_lattice_laws(seq_sets());
}

/// Deltas are rollup fragments: the laws on the rollups a writer's deltas
/// carry, from several replicas (the join is what `SiteRollup::apply` does).
#[test]
fn deltas_are_a_lattice() {
    let deltas = (events(), 1u64..4).prop_map(|(events, replica)| {
        let mut w = SiteWriter::new(SITE, ReplicaId(replica), WriterConfig::default());
        let mut sofar = SiteRollup::new(SITE);
        for e in &events {
            let _ = w.apply(e);
            if let Some(d) = w.take_delta() {
                sofar.apply(&d).unwrap_or_else(|err| panic!("{err}"));
            }
        }
        sofar
    });
    check_lattice_laws(deltas);
}

// ------------------------------------------------------- order independence

#[test]
fn any_arrival_order_and_duplicates_give_the_same_rollup() {
    let case = events().prop_flat_map(|events| {
        let n = events.len();
        (
            Just(events),
            Just(()).prop_perturb(move |(), mut rng| {
                let mut order: Vec<usize> = (0..n).chain(0..n / 2).collect();
                for i in (1..order.len()).rev() {
                    order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
                }
                order
            }),
        )
    });
    let mut runner = TestRunner::new(Config::with_cases(128));
    let result = runner.run(&case, |(events, order)| {
        let mut sorted = events.clone();
        sorted.sort_by_key(|e| (e.timestamp_ms, e.event_id));
        let any = WriterConfig::unbounded();
        let reference = net(&aggregate(&sorted, WriterConfig::default()));
        let shuffled: Vec<Event> = order.iter().map(|&i| events[i].clone()).collect();
        prop_assert_eq!(&net(&aggregate(&shuffled, any)), &reference);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

type CellKey = (u32, Dimension, String);

/// Every event-level cell (page views, events, exact uniques) against a count
/// made directly from the events: the writer folds the visit-level cells
/// through per-(hour, profile) groups and a per-visitor memo, and a visitor
/// here changes country and campaign between events of one hour.
#[test]
fn event_level_cells_match_a_direct_count() {
    let case = events().prop_map(|mut events| {
        for e in &mut events {
            e.utm_campaign = ["", "spring", "fall"][(e.event_id % 3) as usize].into();
            e.timestamp_ms = T0 + (e.event_id * 7919 % 600) * MIN;
        }
        events
    });
    run(256, case, |events| {
        // (hour, dimension, value) -> (page views, events, visitors).
        let mut expected: BTreeMap<CellKey, (u64, u64, Vec<u64>)> = BTreeMap::new();
        let mut seen = std::collections::BTreeSet::new();
        for e in &events {
            if !seen.insert(e.event_id) {
                continue;
            }
            let hour = u32::try_from(e.timestamp_ms / 3_600_000).unwrap_or(u32::MAX);
            let pv = u64::from(e.name == "pageview");
            let mut cells = vec![
                (Dimension::Total, String::new()),
                (Dimension::Country, e.country_code.clone()),
                (Dimension::Source, e.source.clone()),
                (
                    Dimension::BrowserVersion,
                    format!("{} {}", e.browser, e.browser_version),
                ),
            ];
            if !e.utm_campaign.is_empty() {
                cells.push((Dimension::UtmCampaign, e.utm_campaign.clone()));
            }
            if pv == 1 {
                cells.push((Dimension::Page, e.pathname.clone()));
            } else {
                cells.push((Dimension::Goal, e.name.clone()));
            }
            for (k, v) in &e.props {
                cells.push((Dimension::Prop, format!("{k}={v}")));
            }
            for (dim, value) in cells {
                let c = expected.entry((hour, dim, value)).or_default();
                c.0 += pv;
                c.1 += 1;
                if !c.2.contains(&e.visitor_id) {
                    c.2.push(e.visitor_id);
                }
            }
        }
        // In any order with an unbounded horizon; in time order with the
        // default one, whose eviction releases and reuses the groups of hours
        // that can no longer change.
        let mut sorted = events.clone();
        sorted.sort_by_key(|e| (e.timestamp_ms, e.event_id));
        let unbounded = aggregate(&events, WriterConfig::unbounded());
        let bounded = aggregate(&sorted, WriterConfig::default());
        prop_assert_eq!(net(&unbounded), net(&bounded));
        let rollup = unbounded;
        for ((hour, dim, value), (pageviews, n, visitors)) in &expected {
            let got = rollup.stats(HourRange::new(*hour, hour + 1), *dim, value);
            prop_assert_eq!(
                (got.pageviews, got.events, got.visitors),
                (*pageviews, *n, visitors.len() as u64),
                "{:?} {:?}={:?}",
                hour,
                dim,
                value
            );
        }
        // And no event-level cell the events do not explain.
        for (hour, dim, value, _) in rollup.cells() {
            if dim.is_visit_level() || matches!(dim, Dimension::Total | Dimension::Page) {
                let got = rollup.stats(HourRange::new(hour, hour + 1), dim, value);
                if got.events > 0 {
                    prop_assert!(
                        !matches!(
                            dim,
                            Dimension::Total
                                | Dimension::Country
                                | Dimension::Source
                                | Dimension::UtmCampaign
                                | Dimension::Page
                        ) || expected.contains_key(&(hour, dim, value.to_owned())),
                        "unexpected cell {hour} {dim:?}={value:?}"
                    );
                }
            }
        }
        Ok(())
    });
}

#[test]
fn deltas_in_any_order_twice_equal_the_snapshot() {
    run(64, events(), |events| {
        let mut w = SiteWriter::new(SITE, ReplicaId(9), WriterConfig::default());
        let mut deltas = Vec::new();
        for e in &events {
            let _ = w.apply(e);
            deltas.extend(w.take_delta());
        }
        let snapshot = w.snapshot();
        let mut store = SiteRollup::new(SITE);
        for d in deltas.iter().rev().chain(&deltas) {
            store.apply(d).unwrap_or_else(|err| panic!("{err}"));
        }
        prop_assert_eq!(net(&store), net(&snapshot));
        Ok(())
    });
}

// ------------------------------------------------------------ small examples

/// Feeds events in order; compares the site totals over everything.
fn check(events: &[Event], expected: (u64, u64, u64, u64, u64)) {
    let t = aggregate(events, WriterConfig::default()).totals(HourRange::all());
    assert_eq!(
        (
            t.pageviews,
            t.visits,
            t.bounces,
            t.visitors,
            t.duration_ms / MIN
        ),
        expected,
        "(pageviews, visits, bounces, visitors, duration minutes)"
    );
}

#[test]
fn totals_of_small_streams() {
    let a = |id, minute| event(id, 1, minute, "/", "pageview", "DE");
    check(&[a(1, 0)], (1, 1, 1, 1, 0));
    check(&[a(1, 0), a(2, 10)], (2, 1, 0, 1, 10));
    check(&[a(1, 0), a(2, 40)], (2, 2, 2, 1, 0));
    // The late event bridges the two visits.
    check(&[a(1, 0), a(2, 40), a(3, 20)], (3, 1, 0, 1, 40));
    // A duplicate counts once; a custom event is no page view and no bounce breaker.
    check(&[a(1, 0), a(1, 0)], (1, 1, 1, 1, 0));
    check(
        &[a(1, 0), event(2, 1, 5, "/", "signup", "DE")],
        (1, 1, 1, 1, 5),
    );
}

#[test]
fn events_later_than_the_horizon_are_not_counted() {
    let config = WriterConfig {
        max_lateness_ms: 10 * MIN,
        ..WriterConfig::default()
    };
    let mut w = SiteWriter::new(SITE, ReplicaId(1), config);
    let admitted: Vec<Admission> = [(1, 100), (2, 89), (1, 100), (3, 95)]
        .iter()
        .map(|&(id, minute)| {
            w.apply(&event(id, 1, minute, "/", "pageview", "DE"))
                .unwrap_or(Admission::TooLate)
        })
        .collect();
    assert_eq!(
        admitted,
        [
            Admission::New,
            Admission::TooLate,
            Admission::Duplicate,
            Admission::New
        ]
    );
    assert_eq!(w.stats().too_late, 1);
}

#[test]
fn engagement_events_are_neither_pageviews_nor_goals() {
    let engaged = |id, minute| Event {
        engagement: Some(glinto_event_model::Engagement {
            scroll_depth: Some(40),
            engaged_ms: 9_000,
        }),
        ..event(id, 1, minute, "/", "engagement", "DE")
    };
    // The engagement events change no total: one page view, one bouncing visit.
    check(
        &[
            event(1, 1, 0, "/", "pageview", "DE"),
            engaged(2, 1),
            engaged(3, 20),
        ],
        (1, 1, 1, 1, 0),
    );
    let mut w = SiteWriter::new(SITE, ReplicaId(1), WriterConfig::default());
    assert_eq!(w.apply(&engaged(2, 1)).ok(), Some(Admission::New));
    assert_eq!(w.apply(&engaged(2, 1)).ok(), Some(Admission::Duplicate));
    assert_eq!(w.stats().engagements, 1);
}

#[test]
fn an_event_of_another_site_is_refused() {
    let mut w = SiteWriter::new("b.example", ReplicaId(1), WriterConfig::default());
    let err = w.apply(&event(1, 1, 0, "/", "pageview", "DE"));
    assert_eq!(
        err,
        Err(Error::WrongSite {
            kind: "event",
            expected: "b.example".into(),
            found: SITE.into(),
        })
    );
    let mut other = SiteRollup::new("b.example");
    let delta = Delta::new(ReplicaId(1), 1, SiteRollup::new(SITE));
    assert_eq!(
        other.apply(&delta),
        Err(Error::WrongSite {
            kind: "rollup",
            expected: "b.example".into(),
            found: SITE.into(),
        })
    );
}

#[test]
fn breakdowns_by_dimension() {
    let events = [
        event(1, 1, 0, "/", "pageview", "DE"),
        event(2, 1, 1, "/pricing", "pageview", "DE"),
        event(3, 2, 2, "/pricing", "pageview", "FR"),
        event(4, 2, 3, "/pricing", "signup", "FR"),
    ];
    let r = aggregate(&events, WriterConfig::default());
    let top = |dim, order| -> Vec<(String, u64, u64, u64)> {
        r.top(HourRange::all(), dim, order, 10)
            .into_iter()
            .map(|row| {
                (
                    row.value,
                    row.stats.pageviews,
                    row.stats.visits,
                    row.stats.visitors,
                )
            })
            .collect()
    };
    let s = |v: &str| v.to_owned();
    assert_eq!(
        top(Dimension::Page, OrderBy::Pageviews),
        [(s("/pricing"), 2, 0, 2), (s("/"), 1, 0, 1)]
    );
    assert_eq!(
        top(Dimension::EntryPage, OrderBy::Visits),
        [(s("/"), 0, 1, 1), (s("/pricing"), 0, 1, 1)]
    );
    assert_eq!(
        top(Dimension::ExitPage, OrderBy::Visits),
        [(s("/pricing"), 0, 2, 2)]
    );
    assert_eq!(
        top(Dimension::Country, OrderBy::Pageviews),
        [(s("DE"), 2, 1, 1), (s("FR"), 1, 1, 1)]
    );
    assert_eq!(
        top(Dimension::Goal, OrderBy::Events),
        [(s("signup"), 0, 0, 1)]
    );
    assert_eq!(
        top(Dimension::Prop, OrderBy::Events),
        [(s("plan=pro"), 0, 0, 1)]
    );
    assert_eq!(
        top(Dimension::BrowserVersion, OrderBy::Pageviews),
        [(s("Firefox 128"), 3, 2, 2)]
    );
    assert_eq!(
        top(Dimension::Source, OrderBy::Pageviews),
        [(s(""), 2, 1, 1), (s("google.com"), 1, 1, 1)]
    );
}

// ------------------------------------------------------------------ encoding

fn golden_rollup() -> SiteRollup {
    let mut r = SiteRollup::new(SITE);
    let counts = Counts {
        pageviews: 2,
        events: 3,
        visits_added: 2,
        visits_retracted: 1,
        bounces_added: 1,
        bounces_retracted: 1,
        duration_added_ms: 60_000,
        duration_retracted_ms: 0,
    };
    let mut visitors = UniqueSketch::new();
    visitors.insert(42);
    let cell = Cell {
        tally: Tally::single(ReplicaId(7), counts),
        visitors,
    };
    r.cell_mut(473_352, Dimension::Total, "").merge(&cell);
    r.cell_mut(473_352, Dimension::Page, "/x").merge(&Cell {
        tally: Tally::single(
            ReplicaId(7),
            Counts {
                pageviews: 2,
                events: 2,
                ..Counts::default()
            },
        ),
        visitors: UniqueSketch::new(),
    });
    r.mark_seen(ReplicaId(7), 1);
    r.mark_seen(ReplicaId(7), 3);
    r
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn rollup_golden_bytes() {
    let r = golden_rollup();
    let bytes = r.encode_v1();
    assert_eq!(hex(&bytes), GOLDEN_ROLLUP);
    assert_eq!(SiteRollup::decode(&bytes), Ok(r));
}

/// Deltas are written in version 3: `(replica, seq)` as varints, then the
/// version-3 rollup body (`GOLDEN_ROLLUP_V3` without its version byte).
#[test]
fn delta_golden_bytes() {
    let d = Delta::new(ReplicaId(7), 3, golden_rollup());
    let bytes = d.encode();
    assert_eq!(hex(&bytes), GOLDEN_DELTA);
    assert_eq!(hex(&bytes[3..]), GOLDEN_ROLLUP_V3[2..]);
    assert_eq!(Delta::decode(&bytes), Ok(d.clone()));
    // Version 2 (the version-2 rollup body) stays readable.
    assert_eq!(Delta::decode(&unhex(GOLDEN_DELTA_V2)), Ok(d));
}

/// Version 1 (postcard) deltas, which earlier builds wrote, stay readable.
#[test]
fn delta_v1_golden_bytes() {
    let d = Delta::new(ReplicaId(7), 3, golden_rollup());
    let bytes = d.encode_v1();
    assert_eq!(hex(&bytes), GOLDEN_DELTA_V1);
    assert_eq!(Delta::decode(&bytes), Ok(d));
}

#[test]
fn bad_delta_bytes_are_typed_errors() {
    let good = Delta::new(ReplicaId(7), 3, golden_rollup()).encode();
    let not_its_own = Delta::new(ReplicaId(7), 3, golden_rollup())
        .encode()
        .into_iter()
        .enumerate()
        // seq 3 -> 2: the body records deltas 1 and 3 of replica 7.
        .map(|(i, b)| if i == 2 { 2 } else { b })
        .collect::<Vec<_>>();
    let mut long = good.clone();
    long.push(0);
    let cases: [(&[u8], Error); 6] = [
        (
            &[],
            Error::Truncated {
                kind: "delta",
                field: "version",
            },
        ),
        (
            &[4],
            Error::UnsupportedVersion {
                kind: "delta",
                found: 4,
                supported: "1, 2, 3",
            },
        ),
        (
            &[3, 7],
            Error::Truncated {
                kind: "delta",
                field: "seq",
            },
        ),
        (
            &not_its_own,
            Error::Malformed {
                kind: "delta",
                field: "seq",
                reason: "the body does not record the delta's own (replica, seq)",
            },
        ),
        (
            &long,
            Error::TrailingBytes {
                kind: "rollup",
                count: 1,
            },
        ),
        (
            &good[..good.len() - 1],
            Error::Truncated {
                kind: "rollup",
                field: "sketch",
            },
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(Delta::decode(bytes), Err(expected), "bytes {}", hex(bytes));
    }
}

const GOLDEN_ROLLUP: &str = "0109612e6578616d706c6501070101030200022f780188f21c02000009077f020302010101e0d40307014e019eeb99000101040703020203014e00";
const GOLDEN_DELTA_V1: &str = "01070309612e6578616d706c6501070101030200022f780188f21c02000009077f020302010101e0d40307014e019eeb99000101040703020203014e00";

/// Decoding errors name what is wrong.
fn check_decode(bytes: &[u8], expected: &Error) {
    assert_eq!(
        SiteRollup::decode(bytes).as_ref(),
        Err(expected),
        "bytes {}",
        hex(bytes)
    );
}

#[test]
fn bad_rollup_bytes_are_typed_errors() {
    let good = golden_rollup().encode_v1();
    check_decode(
        &[],
        &Error::Truncated {
            kind: "rollup",
            field: "version",
        },
    );
    check_decode(
        &[9],
        &Error::UnsupportedVersion {
            kind: "rollup",
            found: 9,
            supported: "1, 2, 3",
        },
    );
    check_decode(
        &good[..good.len() - 1],
        &Error::Truncated {
            kind: "rollup",
            field: "body",
        },
    );
    let mut long = good.clone();
    long.push(0);
    check_decode(
        &long,
        &Error::TrailingBytes {
            kind: "rollup",
            count: 1,
        },
    );
}

#[test]
fn rollups_round_trip() {
    let mut runner = TestRunner::new(Config::with_cases(128));
    let result = runner.run(&rollups(), |r| {
        prop_assert_eq!(SiteRollup::decode(&r.encode()), Ok(r.clone()));
        // Version 1 has no compacted tallies: it round-trips the others.
        let compacted = r.cells().any(|(.., c)| c.tally.watermark() > ReplicaId(0));
        if !compacted {
            prop_assert_eq!(SiteRollup::decode(&r.encode_v1()), Ok(r.clone()));
        }
        let d = Delta::new(ReplicaId(2), 5, r);
        prop_assert_eq!(Delta::decode(&d.encode()), Ok(d.clone()));
        if !compacted {
            prop_assert_eq!(Delta::decode(&d.encode_v1()), Ok(d));
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn decoding_arbitrary_bytes_never_panics() {
    let golden = golden_rollup().encode_v1();
    let case = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        // Mutations of a valid encoding reach deeper into the decoder.
        proptest::collection::vec((0..golden.len(), any::<u8>()), 1..4).prop_map(move |flips| {
            let mut bytes = golden.clone();
            for (at, b) in flips {
                bytes[at] = b;
            }
            bytes
        }),
    ];
    let mut runner = TestRunner::new(Config::with_cases(256));
    let result = runner.run(&case, |bytes| {
        if let Ok(r) = SiteRollup::decode(&bytes) {
            prop_assert_eq!(SiteRollup::decode(&r.encode()), Ok(r));
        }
        let _ = Delta::decode(&bytes);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn sequence_numbers_saturate_at_the_top() {
    // Site "a", replica 1 with every sequence number up to u64::MAX seen.
    let bytes = [
        0x01, 0x01, b'a', 0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        0x00, 0x00, 0x00,
    ];
    let full = SiteRollup::decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let mut other = SiteRollup::new("a");
    other.mark_seen(ReplicaId(1), 5);
    other.merge(&full);
    let seqs = &other.seen()[&ReplicaId(1)];
    assert_eq!((seqs.contiguous(), seqs.missing(3)), (u64::MAX, Vec::new()));
}

#[test]
fn days_in_a_site_time_zone_are_unions_of_hours() {
    // 2024-01-01 22:30Z, 23:30Z and 2024-01-02 00:30Z: one UTC day apart.
    let events = [
        event(1, 1, 22 * 60 + 30, "/", "pageview", "DE"),
        event(2, 2, 23 * 60 + 30, "/", "pageview", "DE"),
        event(3, 3, 24 * 60 + 30, "/", "pageview", "DE"),
    ];
    let r = aggregate(&events, WriterConfig::default());
    let day = (T0 / 86_400_000) as u32;
    let pageviews = |ranges: &[HourRange]| -> Vec<u64> {
        r.series(ranges).iter().map(|s| s.pageviews).collect()
    };
    assert_eq!(
        pageviews(&[HourRange::utc_day(day), HourRange::utc_day(day + 1)]),
        [2, 1]
    );
    // UTC+2: all three fall on January 2nd local time.
    assert_eq!(
        pageviews(&[
            HourRange::local_day(day, 2),
            HourRange::local_day(day + 1, 2)
        ]),
        [0, 3]
    );
    // UTC-1: 22:30Z and 23:30Z are January 1st, 00:30Z is still January 1st (23:30 local).
    assert_eq!(
        pageviews(&[
            HourRange::local_day(day, -1),
            HourRange::local_day(day + 1, -1)
        ]),
        [3, 0]
    );
}

#[test]
fn a_visit_continues_across_a_salt_rotation() {
    let mut before = event(1, 100, 23 * 60 + 50, "/", "pageview", "DE");
    before.visitor_id = 100;
    let mut after = event(2, 200, 24 * 60 + 5, "/pricing", "pageview", "DE");
    after.previous_visitor_id = Some(100);
    for events in [[before.clone(), after.clone()], [after, before]] {
        let t = aggregate(&events, WriterConfig::unbounded()).totals(HourRange::all());
        // One visit, not a bounce; two visitor ids (uniques are per salt epoch).
        assert_eq!((t.visits, t.bounces, t.visitors), (1, 0, 2));
    }
}

// ------------------------------------------------------- encoding, version 2

/// Rollups whose sketches are of the default precision or, for some cells,
/// of precision 12 (written whole in version 2).
fn mixed_rollups() -> impl Strategy<Value = SiteRollup> {
    (
        rollups(),
        proptest::collection::vec((0u32..3, 0u64..40), 0..3),
    )
        .prop_map(|(mut rollup, foreign)| {
            for (hour, visitor) in foreign {
                let mut visitors = UniqueSketch::with_precision(12).unwrap_or_default();
                visitors.insert(visitor);
                let cell = Cell {
                    tally: Tally::default(),
                    visitors,
                };
                // A fresh (dimension, value): sketches of two precisions do
                // not merge.
                *rollup.cell_mut(475_000 + hour, Dimension::Goal, "signup") = cell;
            }
            rollup
        })
}

const GOLDEN_ROLLUP_V2: &str = "0209612e6578616d706c65010701010301074e02000000022f780188f21c0180b2aef705020001007f020302010101e0d403040001010103020200";
const GOLDEN_DELTA_V2: &str = "02070309612e6578616d706c65010701010301074e02000000022f780188f21c0180b2aef705020001007f020302010101e0d403040001010103020200";

/// Version 3 is version 2 with one more byte after the sketch parameters:
/// 0, no compacted tally.
const GOLDEN_ROLLUP_V3: &str = "0309612e6578616d706c65010701010301074e0002000000022f780188f21c0180b2aef705020001007f020302010101e0d403040001010103020200";
const GOLDEN_DELTA: &str = "03070309612e6578616d706c65010701010301074e0002000000022f780188f21c0180b2aef705020001007f020302010101e0d403040001010103020200";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn rollup_v3_golden_bytes() {
    let r = golden_rollup();
    let bytes = r.encode();
    assert_eq!(hex(&bytes), GOLDEN_ROLLUP_V3);
    assert_eq!(SiteRollup::decode(&bytes), Ok(r.clone()));
    // Versions 1 and 2 stay readable.
    assert_eq!(SiteRollup::decode(&unhex(GOLDEN_ROLLUP_V2)), Ok(r.clone()));
    assert_eq!(SiteRollup::decode(&r.encode_v1()), Ok(r));
}

/// A compacted cell: replicas below 7 folded into the base, which version 3
/// writes as the watermark and the base's mask and fields before the tally.
#[test]
fn compacted_rollup_golden_bytes() {
    let mut r = SiteRollup::new("a");
    let counts = |pageviews| Counts {
        pageviews,
        events: pageviews,
        ..Counts::default()
    };
    for (replica, pageviews) in [(3, 2), (5, 1), (7, 4)] {
        r.cell_mut(1, Dimension::Total, "").merge(&Cell {
            tally: Tally::single(ReplicaId(replica), counts(pageviews)),
            visitors: UniqueSketch::new(),
        });
    }
    let before = r.totals(HourRange::all());
    r.compact(ReplicaId(7));
    assert_eq!(r.totals(HourRange::all()), before);
    let bytes = r.encode();
    assert_eq!(
        hex(&bytes),
        concat!(
            "03", "0161", "00", // version 3, site "a", nothing seen
            "0107", "4e", "01", // replicas [7], params, compacted
            "010000", "0101", // strings [""], one hour (1)
            "00", "01",     // no codes, one group
            "000100", // total: 1 cell, value 0
            "07", "03", "03", "03", // watermark 7, base mask 0x03: 3 3
            "03", "04", "04", // replica 7's mask 0x03: 4 4
            "00", // an empty sketch
        )
    );
    assert_eq!(SiteRollup::decode(&bytes), Ok(r.clone()));
    // A copy taken before compaction merges in without double counting.
    let mut old = SiteRollup::new("a");
    old.cell_mut(1, Dimension::Total, "").merge(&Cell {
        tally: Tally::single(ReplicaId(3), counts(2)),
        visitors: UniqueSketch::new(),
    });
    let mut merged = r.clone();
    merged.merge(&old);
    assert_eq!(merged, r);
    assert_eq!(merged.totals(HourRange::all()).pageviews, 7);
    // The flag set with no compacted tally (watermark 0) is not canonical.
    let flagged = unhex(concat!(
        "03", "0161", "00", "0107", "4e", "01", "010000", "0101", "00", "01", "000100",
        "00", // watermark 0: not compacted
        "03", "04", "04", "00",
    ));
    assert_eq!(
        SiteRollup::decode(&flagged),
        Err(Error::Malformed {
            kind: "rollup",
            field: "compacted",
            reason: "set without a compacted tally"
        })
    );
}

fn check_decode_v2(bytes: &[u8], expected: &Error) {
    assert_eq!(
        SiteRollup::decode(bytes).as_ref(),
        Err(expected),
        "bytes {}",
        hex(bytes)
    );
}

#[test]
fn bad_rollup_v2_bytes_are_typed_errors() {
    let good = golden_rollup().encode();
    let version = |found| Error::UnsupportedVersion {
        kind: "rollup",
        found,
        supported: "1, 2, 3",
    };
    check_decode_v2(&[9], &version(9));
    check_decode_v2(&[0], &version(0));
    check_decode_v2(
        &[],
        &Error::Truncated {
            kind: "rollup",
            field: "version",
        },
    );
    check_decode_v2(
        &good[..good.len() - 1],
        &Error::Truncated {
            kind: "rollup",
            field: "sketch",
        },
    );
    let mut long = good.clone();
    long.push(0);
    check_decode_v2(
        &long,
        &Error::TrailingBytes {
            kind: "rollup",
            count: 1,
        },
    );
}

#[test]
fn rollups_round_trip_in_version_2() {
    let mut runner = TestRunner::new(Config::with_cases(128));
    let result = runner.run(&mixed_rollups(), |r| {
        let bytes = r.encode();
        let back = SiteRollup::decode(&bytes);
        prop_assert_eq!(back.as_ref(), Ok(&r));
        // Canonical: the decoded rollup encodes to the same bytes.
        prop_assert_eq!(back.map(|b| b.encode()), Ok(bytes.clone()));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn decoding_arbitrary_v2_bytes_never_panics() {
    let golden = golden_rollup().encode();
    let case = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|mut bytes| {
            bytes.insert(0, 2);
            bytes
        }),
        proptest::collection::vec((0..golden.len(), any::<u8>()), 1..4).prop_map(move |flips| {
            let mut bytes = golden.clone();
            for (at, b) in flips {
                bytes[at] = b;
            }
            bytes
        }),
    ];
    let mut runner = TestRunner::new(Config::with_cases(256));
    let result = runner.run(&case, |bytes| {
        // Whatever decodes is canonical: it encodes back to the same bytes.
        if let Ok(r) = SiteRollup::decode(&bytes) {
            prop_assert_eq!(hex(&r.encode()), hex(&bytes));
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Inputs the fuzz target `rollup_decode` found (they panicked once).
#[test]
fn rollup_v2_fuzz_crashers_are_typed_errors() {
    check_decode_v2(
        &[
            0x02, 0x00, 0x00, 0x85, 0x72, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x01, 0x02, 0x16, 0xff, 0xff, 0x01, 0x02, 0x16,
        ],
        &Error::OutOfRange {
            kind: "rollup",
            field: "replica",
            value: 2,
            limit: 0,
        },
    );
    // A replica table listing replicas no tally has: not what the encoder
    // writes (it re-encoded to fewer bytes).
    check_decode_v2(
        &[
            0x02, 0x01, 0x00, 0x00, 0x4c, 0x00, 0x04, 0x31, 0x01, 0x00, 0x00, 0x4c, 0x00, 0x31,
            0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x01, 0x2e, 0x2b, 0x03, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x6d, 0x07, 0x00, 0x00,
            0x00, 0x00, 0x09, 0x00, 0x00, 0x24, 0x3d, 0x2f, 0x00, 0x00, 0x00, 0x65, 0x01, 0x07,
            0x01, 0x01, 0x03, 0x02, 0x00, 0x02, 0x2f, 0x30, 0x78, 0x01, 0x88, 0x1c, 0x02, 0x10,
            0x00, 0x09, 0x07, 0x7f, 0x02, 0x03, 0x02, 0x01, 0x01, 0x01, 0xe0, 0xd4, 0x01, 0xe0,
            0x01, 0x4e, 0x00, 0x00,
        ],
        &Error::Malformed {
            kind: "rollup",
            field: "replicas",
            reason: "a replica no tally has",
        },
    );
}

/// Hand-made version-2 bytes around the hour's visitor codes: site "", no
/// replicas, default sketch parameters, the string "", hour 0 with the code
/// `code` and one total cell whose sketch is `sketch`.
fn v2_with_codes(code: u8, sketch: &[u8]) -> Vec<u8> {
    let mut bytes = vec![2, 0, 0, 0, 0x4e, 1, 0, 0, 1, 0, 1, code, 1, 0, 1, 0, 0];
    bytes.extend_from_slice(sketch);
    bytes
}

#[test]
fn rollup_v2_visitor_codes_are_checked() {
    // Code 5: slot 0, rank 5, referenced by the total's sketch.
    let ok = SiteRollup::decode(&v2_with_codes(5, &[0x04, 0x00]));
    assert_eq!(ok.map(|r| r.totals(HourRange::all()).visitors), Ok(1));
    check_decode_v2(
        &v2_with_codes(5, &[0x00]),
        &Error::Malformed {
            kind: "rollup",
            field: "visitor codes",
            reason: "a code no sketch of the hour has",
        },
    );
    // Code 67: slot 1 with a rank, which only slots with zero low bits carry.
    check_decode_v2(
        &v2_with_codes(67, &[0x04, 0x00]),
        &Error::Malformed {
            kind: "UniqueSketch",
            field: "sparse code",
            reason: "not a canonical sparse code in slot order",
        },
    );
    check_decode_v2(
        &v2_with_codes(5, &[0x04, 0x01]),
        &Error::OutOfRange {
            kind: "rollup",
            field: "visitor index",
            value: 1,
            limit: 0,
        },
    );
}
