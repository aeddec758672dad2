//! A writer's state survives encode/restore exactly, and taking the closed
//! hours out of memory changes no answer.

use glinto_aggregator::rollup::SiteRollup;
use glinto_aggregator::writer::{SiteWriter, WriterConfig};
use glinto_aggregator::{Error, Lattice, ReplicaId};
use glinto_event_model::Event;
use proptest::prelude::*;

const SITE: &str = "a.example";
const MIN: u64 = 60_000;
/// 2024-01-01T00:00:00Z.
const T0: u64 = 1_704_067_200_000;

fn event(id: u64, visitor: u64, minute: u64, previous: Option<u64>) -> Event {
    let page = ["/", "/pricing", "/blog"][(id % 3) as usize];
    let name = if id % 5 == 4 { "signup" } else { "pageview" };
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
        country_code: ["DE", "FR"][(id % 2) as usize].into(),
        browser: "Firefox".into(),
        browser_version: if id.is_multiple_of(4) {
            "128".into()
        } else {
            String::new()
        },
        os: "Linux".into(),
        os_version: "6".into(),
        device: Default::default(),
        screen: "<576".into(),
        props: if name == "signup" {
            vec![("plan".into(), "pro".into())]
        } else {
            Vec::new()
        },
        revenue: None,
        engagement: None,
        interactive: id % 7 != 3,
        visitor_id: visitor,
        previous_visitor_id: previous,
        session_id: None,
    }
}

/// Events over ten hours, mostly in time order with some late ones, a few
/// visitors (so visits span hours and checkpoints), duplicates, and
/// visitors linked to a previous id (a salt rotation).
fn events() -> impl Strategy<Value = Vec<Event>> {
    proptest::collection::vec((0u64..400, 0u64..6, 0u64..50), 1..120).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (id, visitor, jitter))| {
                let minute = (i as u64 * 5 + jitter).saturating_sub(25);
                let previous = (visitor == 5).then_some(4);
                // The id decides the event, as in reality.
                let mut e = event(id, 1 + visitor, minute, previous);
                e.timestamp_ms = T0 + ((id * 13) % 600) * MIN;
                if !id.is_multiple_of(3) {
                    e.timestamp_ms = T0 + minute * MIN;
                    e.event_id = id * 1000 + i as u64;
                }
                e
            })
            .collect()
    })
}

fn config() -> WriterConfig {
    WriterConfig {
        max_lateness_ms: 60 * MIN,
        flush_interval_ms: 5 * MIN,
        ..WriterConfig::default()
    }
}

fn writer() -> SiteWriter {
    SiteWriter::new(SITE, ReplicaId(7), config())
}

fn apply(w: &mut SiteWriter, events: &[Event]) {
    for e in events {
        w.apply(e).unwrap_or_else(|err| panic!("{err}"));
    }
}

proptest! {
    /// Restoring at any point (even several times) and going on gives the
    /// rollup of the writer that never stopped, and the same state bytes.
    #[test]
    fn restore_at_any_point_is_invisible(events in events(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..4)) {
        let mut plain = writer();
        apply(&mut plain, &events);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(events.len() + 1)).collect();
        cuts.sort_unstable();
        let mut w = writer();
        let mut at = 0;
        for cut in cuts {
            apply(&mut w, &events[at..cut]);
            at = cut;
            let bytes = w.encode_state();
            w = SiteWriter::restore_state(&bytes).unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(w.encode_state(), bytes);
        }
        apply(&mut w, &events[at..]);
        prop_assert_eq!(w.encode_state(), plain.encode_state());
        prop_assert_eq!(w.stats(), plain.stats());
        prop_assert_eq!(w.snapshot(), plain.snapshot());
    }

    /// Taking closed hours out (at any points) and merging them back with
    /// the final snapshot gives the rollup of a writer that kept everything.
    #[test]
    fn closed_hours_leave_memory_without_changing_answers(events in events(), every in 1usize..20) {
        let mut plain = writer();
        apply(&mut plain, &events);
        let mut w = writer();
        let mut taken = SiteRollup::new(SITE);
        for chunk in events.chunks(every) {
            apply(&mut w, chunk);
            if let Some(closed) = w.take_closed_hours() {
                // Closed hours are never touched again: disjoint from the rest.
                let open_from = w.open_from_hour();
                prop_assert!(closed.hours().all(|h| h < open_from));
                taken.merge(&closed);
            }
            let bytes = w.encode_state();
            w = SiteWriter::restore_state(&bytes).unwrap_or_else(|e| panic!("{e}"));
        }
        let mut all = w.snapshot();
        prop_assert!(taken.hours().all(|h| !all.hours().any(|o| o == h)));
        all.merge(&taken);
        let mut expected = plain.snapshot();
        // The seen sets are the same (snapshots mark 1..=seq; no deltas here).
        expected.merge(&SiteRollup::new(SITE));
        prop_assert_eq!(all, expected);
    }

    /// Arbitrary bytes never panic the decoder.
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = SiteWriter::restore_state(&bytes);
    }

    /// Any single flipped byte of a real state is refused or decodes to a
    /// writer that can go on without panicking.
    #[test]
    fn corrupted_state_never_panics(events in events(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut w = writer();
        apply(&mut w, &events);
        let mut bytes = w.encode_state();
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        if let Ok(mut w) = SiteWriter::restore_state(&bytes) {
            for e in &events {
                // A corrupted site name refuses the events: fine.
                let _ = w.apply(e);
            }
            let _ = w.snapshot();
        }
    }
}

#[test]
fn closed_hours_bound_memory() {
    // Ten visitors, one event each minute, for two days: the writer holds
    // about the lateness window plus a visit, not two days.
    let mut w = writer();
    let mut max_cells = 0;
    for minute in 0..(48 * 60) {
        let visitor = 1 + minute % 10;
        apply(
            &mut w,
            &[event(minute, visitor * 100 + minute / 20, minute, None)],
        );
        if minute % 30 == 0 {
            let _ = w.take_closed_hours();
        }
        max_cells = max_cells.max(w.stats().cells);
    }
    let hours_held = w.snapshot().hours().count();
    assert!(hours_held <= 4, "{hours_held} hours held");
    assert!(max_cells < 200, "{max_cells} cells held at most");
}

#[test]
fn bad_states_are_typed_errors() {
    let cases: &[(&[u8], Error)] = &[
        (
            &[],
            Error::Truncated {
                kind: "writer state",
                field: "version",
            },
        ),
        (
            &[9],
            Error::UnsupportedVersion {
                kind: "writer state",
                found: 9,
                supported: "1",
            },
        ),
        (
            &[1],
            Error::Truncated {
                kind: "writer state",
                field: "body",
            },
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(
            SiteWriter::restore_state(bytes).err().as_ref(),
            Some(expected),
            "{bytes:?}"
        );
    }
}

/// The bytes of a small writer's state are pinned: changing them is a new
/// version (docs/wire-format.md, section `writer-state`).
#[test]
fn golden_state_bytes() {
    let mut w = SiteWriter::new(SITE, ReplicaId(7), config());
    apply(&mut w, &[event(1, 1, 0, None), event(2, 1, 3, None)]);
    let hex: String = w
        .encode_state()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let expected = concat!(
        "0109612e6578616d706c650780dddb01e0a71200000200000000e08fda92cc31808bec90cc3186f2",
        "1c0c00082f70726963696e670246520746697265666f78054c696e75780136043c353736074c696e",
        "7578203609612e6578616d706c6506446972656374052f626c6f6702444502070246520746697265",
        "666f7800054c696e7578013600043c353736070244450746697265666f7800054c696e7578013600",
        "043c353736010909612e6578616d706c6500000644697265637400000000000d88f21c0000020200",
        "000000000007014e01888516c00188f21c0101010100000000000007014e01888516c00188f21c01",
        "0a010100000000000007014e01888516c00188f21c0408020200000000000007014e01888516c001",
        "88f21c0500020200000000000007014e01888516c00188f21c0709020200000000000007014e0188",
        "8516c00188f21c0d02010100000000000007014e01888516c00188f21c0d0b010100000000000007",
        "014e01888516c00188f21c0e03020200000000000007014e01888516c00188f21c10040202000000",
        "00000007014e01888516c00188f21c1107020200000000000007014e01888516c00188f21c120002",
        "0200000000000007014e01888516c00188f21c1306020200000000000007014e01888516c00101a0",
        "e6d292cc3180c29c070201010102e8c5d592cc3101010280e8c792cc31010101000003a0e6d292cc",
        "3102010a010003000001000101c0d6b593cc3100",
    );
    assert_eq!(hex, expected);
}
