//! UniqueSketch hot paths: insert, estimate, merge, encode/decode, and the raw
//! union of 720 hourly sketches behind a 30-day unique-visitor count.
//!
//! ```text
//! cargo bench -p glinto-benches --bench sketch -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use glinto_aggregator::lattice::Lattice;
use glinto_aggregator::sketch::UniqueSketch;

/// Distinct ids for a seed (visitor ids are keyed hashes already).
fn id(seed: u64, i: u64) -> u64 {
    (i ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xd6e8_feb8_6659_fd93)
}

fn sketch(seed: u64, n: u64) -> UniqueSketch {
    let mut sketch = UniqueSketch::new();
    for i in 0..n {
        sketch.insert(id(seed, i));
    }
    sketch
}

fn insert(c: &mut Criterion) {
    let mut group = c.benchmark_group("sketch/insert");
    for (name, n) in [("sparse_500", 500u64), ("dense_100k", 100_000)] {
        group.throughput(Throughput::Elements(n));
        group.bench_function(name, |b| b.iter(|| black_box(sketch(1, n))));
    }
    // Repeat visits: the same 200 visitors ten times each (a busy page-hour).
    group.throughput(Throughput::Elements(2_000));
    group.bench_function("sparse_200_visitors_x10", |b| {
        b.iter(|| {
            let mut sketch = UniqueSketch::new();
            for round in 0..10 {
                for i in 0..200 {
                    sketch.insert(id(round, i % 200));
                }
            }
            black_box(sketch)
        })
    });
    group.finish();
}

fn estimate(c: &mut Criterion) {
    let mut group = c.benchmark_group("sketch/estimate");
    for (name, n) in [("sparse_500", 500u64), ("dense_1m", 1_000_000)] {
        let sketch = sketch(2, n);
        sketch.estimate();
        group.bench_function(format!("{name}/cached"), |b| {
            b.iter(|| black_box(&sketch).estimate())
        });
        let bytes = sketch.encode();
        // Decoded sketches start with no cached estimate.
        group.bench_function(format!("{name}/uncached"), |b| {
            b.iter_batched_ref(
                || UniqueSketch::decode(&bytes).expect("own encoding"),
                |fresh| black_box(fresh.estimate()),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn merge(c: &mut Criterion) {
    let mut group = c.benchmark_group("sketch/merge");
    let (a, b) = (sketch(3, 1_000_000), sketch(4, 1_000_000));
    group.bench_function("dense_p14", |bench| {
        bench.iter_batched_ref(
            || a.clone(),
            |a| a.merge(black_box(&b)),
            BatchSize::SmallInput,
        )
    });
    let (a, b) = (sketch(3, 500), sketch(4, 500));
    group.bench_function("sparse_500", |bench| {
        bench.iter_batched_ref(
            || a.clone(),
            |a| a.merge(black_box(&b)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("sketch/codec");
    for (name, n) in [("sparse_500", 500u64), ("dense_1m", 1_000_000)] {
        let sketch = sketch(5, n);
        let bytes = sketch.encode();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format!("{name}/encode"), |b| {
            b.iter(|| black_box(&sketch).encode())
        });
        group.bench_function(format!("{name}/decode"), |b| {
            b.iter(|| UniqueSketch::decode(black_box(&bytes)))
        });
    }
    group.finish();
}

/// 720 hourly sketches (30 days); dense hours of 3 000 visitors, and a
/// small-site mix of sparse hours of 5 to 400 visitors.
fn union_720(c: &mut Criterion) {
    let mut group = c.benchmark_group("sketch/union_720_hours");
    group.throughput(Throughput::Elements(720));
    let dense: Vec<UniqueSketch> = (0..720).map(|h| sketch(h, 3_000)).collect();
    let sparse: Vec<UniqueSketch> = (0..720).map(|h| sketch(h, 5 + (h * 37) % 400)).collect();
    for (name, hours) in [("dense_3000", &dense), ("sparse_5_to_400", &sparse)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut union = UniqueSketch::new();
                for hour in hours {
                    union.merge(hour);
                }
                black_box(union.estimate())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, insert, estimate, merge, codec, union_720);
criterion_main!(benches);
