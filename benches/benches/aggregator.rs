//! The aggregator engine's hot paths: applying events to every dimension,
//! merging two site-day rollups, encoding/decoding them, and the unique
//! count of a 30-day range (the union of 720 hourly sketches).
//!
//! Events come from the benchmark stream: the first 200 000 lines of
//! `$GLINTO_BENCH_DIR/events.ndjson`, else of
//! the 200k-event stream `glinto-bench-data` generates into `target/bench-data/`
//! (what `.ci/run` generates too).
//!
//! ```sh
//! cargo bench -p glinto-benches --bench aggregator -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::io::BufRead;
use std::path::PathBuf;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use glinto_aggregator::rollup::{Cell, Counts, Dimension, HourRange, SiteRollup, Tally};
use glinto_aggregator::writer::{SiteWriter, WriterConfig};
use glinto_aggregator::{Lattice, ReplicaId, UniqueSketch};
use glinto_event_model::Event;
use glinto_event_model::ndjson::parse_line;

const EVENTS: usize = 200_000;
const SITE: &str = "shop.example.com";

fn stream() -> Vec<Event> {
    let dir = std::env::var_os("GLINTO_BENCH_DIR").map_or_else(
        || {
            let config = glinto_bench_data::Config::CI;
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/bench-data")
                .join(config.dir_name());
            glinto_bench_data::ensure_dir(&config, &dir)
                .unwrap_or_else(|e| panic!("generating {}: {e}", dir.display()));
            dir
        },
        PathBuf::from,
    );
    let path = dir.join("events.ndjson");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (GLINTO_BENCH_DIR must hold a stream of glinto-bench-data)",
            path.display()
        )
    });
    std::io::BufReader::new(file)
        .lines()
        .take(EVENTS)
        .map(|line| {
            let line = line.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            parse_line(&line).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

/// Applies `events` of `SITE` to a fresh writer of `replica`.
fn writer_of<'a>(events: impl IntoIterator<Item = &'a Event>, replica: u64) -> SiteWriter {
    let mut w = SiteWriter::new(SITE, ReplicaId(replica), WriterConfig::default());
    for e in events {
        let _ = black_box(w.apply(e));
    }
    w
}

fn apply(c: &mut Criterion, events: &[Event]) {
    let shop: Vec<&Event> = events.iter().filter(|e| e.site == SITE).collect();
    let mut g = c.benchmark_group("aggregator/apply");
    g.throughput(Throughput::Elements(shop.len() as u64));
    g.sample_size(10);
    // Every event to all 22 dimensions, de-duplication and visits included;
    // the final flush publishes the visits still pending.
    g.bench_function("stream_all_dimensions", |b| {
        b.iter(|| {
            let mut w = writer_of(shop.iter().copied(), 1);
            w.flush();
            w
        });
    });
    // The same events copied into memory of their own, as a site's Durable
    // Object would hold them: the input's layout alone moves the figure by
    // a third (examples/apply_floor.rs measures why).
    let own: Vec<Event> = shop.iter().map(|&e| e.clone()).collect();
    g.bench_function("stream_all_dimensions_site_alone", |b| {
        b.iter(|| {
            let mut w = writer_of(&own, 1);
            w.flush();
            w
        });
    });
    // As a Durable Object runs: a delta (flush, fold, encode-ready cells)
    // every 1 000 events, so the groups are folded often.
    g.bench_function("stream_all_dimensions_delta_every_1000", |b| {
        b.iter(|| {
            let mut w = SiteWriter::new(SITE, ReplicaId(1), WriterConfig::default());
            for (i, e) in shop.iter().enumerate() {
                let _ = black_box(w.apply(e));
                if i % 1000 == 999 {
                    black_box(w.take_delta());
                }
            }
            black_box(w.take_delta());
            w
        });
    });
    g.finish();
}

/// The rollup of one site-day, from the day's events of one replica's half
/// of the visitors.
fn site_day(events: &[Event], replica: u64) -> SiteRollup {
    let day0 = events.first().map_or(0, |e| e.timestamp_ms / 86_400_000);
    let day: Vec<&Event> = events
        .iter()
        .filter(|e| {
            e.site == SITE
                && e.timestamp_ms / 86_400_000 == day0 + 1
                && e.visitor_id % 2 == replica % 2
        })
        .collect();
    writer_of(day, replica).into_rollup()
}

fn merge_and_codec(c: &mut Criterion, events: &[Event]) {
    let (a, b) = (site_day(events, 1), site_day(events, 2));
    let bytes = a.encode_v1();
    let mut g = c.benchmark_group("aggregator/site_day");
    g.throughput(Throughput::Elements(a.cell_count() as u64));
    g.bench_function("merge", |bench| {
        bench.iter_batched(
            || a.clone(),
            |mut x| {
                x.merge(&b);
                x
            },
            BatchSize::LargeInput,
        );
    });
    // Version 1 is retired (read, never written); its figures stay for comparison.
    g.bench_function("encode_v1", |bench| {
        bench.iter(|| black_box(&a).encode_v1())
    });
    g.bench_function("encode_v2", |bench| bench.iter(|| black_box(&a).encode()));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("decode_v1", |bench| {
        bench.iter(|| SiteRollup::decode(black_box(&bytes)))
    });
    let bytes_v2 = a.encode();
    g.throughput(Throughput::Bytes(bytes_v2.len() as u64));
    g.bench_function("decode_v2", |bench| {
        bench.iter(|| SiteRollup::decode(black_box(&bytes_v2)))
    });
    g.finish();
}

/// 720 hours whose total cells hold 2 000 visitors each out of 60 000: the
/// busiest site of the 10M-event stream.
fn thirty_days() -> SiteRollup {
    let mut r = SiteRollup::new(SITE);
    let mut state = 7u64;
    for hour in 0..720u32 {
        let mut visitors = UniqueSketch::new();
        for _ in 0..2_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            visitors.insert((state >> 33) % 60_000);
        }
        let counts = Counts {
            pageviews: 6_000,
            events: 6_200,
            ..Counts::default()
        };
        let cell = Cell {
            tally: Tally::single(ReplicaId(1), counts),
            visitors,
        };
        r.cell_mut(473_352 + hour, Dimension::Total, "")
            .merge(&cell);
    }
    r
}

fn range_count(c: &mut Criterion) {
    let r = thirty_days();
    let mut g = c.benchmark_group("aggregator/range");
    g.throughput(Throughput::Elements(720));
    g.bench_function("uniques_30_days_720_hour_sketches", |b| {
        b.iter(|| black_box(&r).totals(HourRange::all()).visitors);
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let events = stream();
    apply(c, &events);
    merge_and_codec(c, &events);
    range_count(c);
}

criterion_group!(aggregator, benches);
criterion_main!(aggregator);
