//! Cross-check on the benchmark stream: aggregating `events.ndjson` must
//! reproduce `truth.json` (page views, visits, bounces exactly; uniques within
//! the sketch's error) whether the events are fed in order, shuffled, split
//! over 8 replicas whose deltas are shipped in any order and twice, or with
//! every event delivered twice.
//!
//! Data: `$GLINTO_BENCH_DIR` (what `.ci/run` sets; any directory written by
//! `glinto-bench-data` or by the shared Python generator), else the 200k-event
//! stream `glinto-bench-data` generates into `target/bench-data/` (cached). If
//! neither works the test fails and says why: it never skips.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::bench::{Answers, answer, compare, read_events, read_truth};
use glinto_aggregator::delta::Delta;
use glinto_aggregator::rollup::SiteRollup;
use glinto_aggregator::writer::{SiteWriter, WriterConfig};
use glinto_aggregator::{Lattice, ReplicaId};
use glinto_event_model::Event;

/// Uniques must be within this many standard errors (p = 14: 0.81 %).
const SIGMAS: f64 = 3.0;

struct Data {
    events: Vec<Event>,
    truth: Answers,
}

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = bench_dir().unwrap_or_else(|why| panic!("benchmark data unavailable: {why}"));
        let truth = read_truth(&dir.join("truth.json")).unwrap_or_else(|e| panic!("{e}"));
        let events = read_events(&dir.join("events.ndjson")).unwrap_or_else(|e| panic!("{e}"));
        Data { events, truth }
    })
}

/// `$GLINTO_BENCH_DIR`, or the 200k-event stream of `.ci/run`, generated
/// into `target/bench-data/` by `glinto-bench-data` if it is not there yet.
fn bench_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("GLINTO_BENCH_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.join("truth.json").is_file() && dir.join("events.ndjson").is_file() {
            Ok(dir)
        } else {
            Err(format!(
                "GLINTO_BENCH_DIR={} lacks events.ndjson or truth.json",
                dir.display()
            ))
        };
    }
    let config = glinto_bench_data::Config::CI;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/bench-data")
        .join(config.dir_name());
    glinto_bench_data::ensure_dir(&config, &dir)
        .map_err(|e| format!("generating {}: {e}", dir.display()))?;
    Ok(dir)
}

/// A small deterministic generator (SplitMix64) for shuffles.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// Feeds `events` into one writer per site and snapshots them.
fn aggregate<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    config: WriterConfig,
) -> BTreeMap<String, SiteRollup> {
    let mut writers: BTreeMap<String, SiteWriter> = BTreeMap::new();
    for event in events {
        let writer = writers
            .entry(event.site.clone())
            .or_insert_with(|| SiteWriter::new(event.site.clone(), ReplicaId(1), config));
        writer.apply(event).unwrap_or_else(|e| panic!("{e}"));
    }
    writers
        .into_iter()
        .map(|(site, mut w)| (site, w.snapshot()))
        .collect()
}

/// Asserts that the rollups answer the truth.
fn check(scenario: &str, rollups: &BTreeMap<String, SiteRollup>) {
    let data = data();
    let got = answer(rollups, &data.truth);
    let comparison = compare(&data.truth, &got, SIGMAS);
    assert!(comparison.is_ok(), "{scenario}:\n{}", comparison.summary());
}

#[test]
fn in_order() {
    check(
        "in order",
        &aggregate(&data().events, WriterConfig::default()),
    );
}

#[test]
fn shuffled_within_the_lateness_horizon() {
    // Out of order by up to 20 minutes, under the default 1 h horizon: the
    // bounded-memory configuration a Durable Object runs.
    let events = &data().events;
    let mut rng = Rng(1);
    let mut keyed: Vec<(u64, &Event)> = events
        .iter()
        .map(|e| (e.timestamp_ms + rng.next() % 1_200_000, e))
        .collect();
    keyed.sort_by_key(|k| k.0);
    check(
        "shuffled by 20 min",
        &aggregate(keyed.into_iter().map(|k| k.1), WriterConfig::default()),
    );
}

#[test]
fn shuffled_completely() {
    // Any order at all needs a horizon covering the whole stream (an import
    // of a finished range): memory then grows with the stream.
    let mut events: Vec<&Event> = data().events.iter().collect();
    Rng(2).shuffle(&mut events);
    check("shuffled", &aggregate(events, WriterConfig::unbounded()));
}

#[test]
fn every_event_delivered_twice() {
    // The copy of event i arrives after event i + 50 (minutes later).
    let events = &data().events;
    let mut twice: Vec<&Event> = Vec::with_capacity(2 * events.len());
    for (i, e) in events.iter().enumerate() {
        twice.push(e);
        if let Some(earlier) = i.checked_sub(50).and_then(|j| events.get(j)) {
            twice.push(earlier);
        }
    }
    twice.extend(events.iter().skip(events.len().saturating_sub(50)));
    check(
        "delivered twice",
        &aggregate(twice, WriterConfig::default()),
    );
}

#[test]
fn split_over_eight_replicas_with_deltas_in_any_order() {
    // Partitioned by (site, visitor): a visitor's events (and their
    // re-deliveries) all reach one replica, so each replica sessionizes and
    // de-duplicates on its own, and the replicas' visits are disjoint.
    const REPLICAS: u64 = 8;
    let events = &data().events;
    let mut writers: BTreeMap<(u64, String), SiteWriter> = BTreeMap::new();
    let mut deltas: Vec<Vec<u8>> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let site_hash = e.site.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let replica = Rng(e.visitor_id ^ site_hash).next() % REPLICAS;
        let w = writers.entry((replica, e.site.clone())).or_insert_with(|| {
            SiteWriter::new(
                e.site.clone(),
                ReplicaId(replica + 1),
                WriterConfig::default(),
            )
        });
        w.apply(e).unwrap_or_else(|err| panic!("{err}"));
        if i % 5_000 == 0 {
            deltas.extend(
                writers
                    .values_mut()
                    .filter_map(|w| w.take_delta())
                    .map(|d| d.encode()),
            );
        }
    }
    deltas.extend(
        writers
            .values_mut()
            .filter_map(|w| w.take_delta())
            .map(|d| d.encode()),
    );

    // Ship: every delta once, a third of them twice, in random order.
    let mut rng = Rng(3);
    let mut shipped: Vec<&[u8]> = deltas.iter().map(Vec::as_slice).collect();
    shipped.extend(deltas.iter().step_by(3).map(Vec::as_slice));
    rng.shuffle(&mut shipped);
    let mut stores: BTreeMap<String, SiteRollup> = BTreeMap::new();
    for bytes in shipped {
        let delta = Delta::decode(bytes).unwrap_or_else(|e| panic!("{e}"));
        let store = stores
            .entry(delta.site().to_owned())
            .or_insert_with(|| SiteRollup::new(delta.site()));
        store.apply(&delta).unwrap_or_else(|e| panic!("{e}"));
    }
    for store in stores.values() {
        for seqs in store.seen().values() {
            assert_eq!(seqs.missing(10), Vec::<u64>::new());
        }
    }
    check("8 replicas", &stores);

    // Merging the stores of two halves in either order gives the same store.
    let (mut a, mut b) = (stores.clone(), stores.clone());
    for (site, store) in &stores {
        if let (Some(x), Some(y)) = (a.get_mut(site), b.get_mut(site)) {
            x.merge(store);
            y.merge(&x.clone());
        }
    }
    assert_eq!(a, stores);
    assert_eq!(b, stores);
}
