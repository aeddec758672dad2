//! The bytes-versus-error table of `UniqueSketch` (docs/benchmarks.md).
//!
//! ```text
//! cargo run --release -p glinto-aggregator --example sketch_table
//! ```
//!
//! For each cardinality it builds sketches of `n` distinct pseudo-random
//! visitor ids under several seeds and reports the mean encoded bytes, the
//! mean and largest relative error, and the same for the `hyperloglogplus`
//! crate serialized with postcard (the "plain serde" anchor).
#![allow(clippy::print_stdout, reason = "the example prints its table")]

use glinto_aggregator::lattice::Lattice;
use glinto_aggregator::sketch::UniqueSketch;
use hyperloglogplus::{HyperLogLog, HyperLogLogPlus};

#[path = "../tests/common/same_hash.rs"]
mod same_hash;
use same_hash::SameHash;

/// Distinct ids for a seed: a bijection of `0..n` (ids are keyed hashes).
fn id(seed: u64, i: u64) -> u64 {
    (i ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xd6e8_feb8_6659_fd93)
}

#[derive(Default)]
struct Stats {
    bytes: f64,
    error_sum: f64,
    squared_sum: f64,
    max_error: f64,
    runs: f64,
}

impl Stats {
    fn add(&mut self, bytes: usize, estimate: f64, n: u64) {
        let error = (estimate - n as f64) / n as f64;
        self.bytes += bytes as f64;
        self.error_sum += error.abs();
        self.squared_sum += error * error;
        self.max_error = self.max_error.max(error.abs());
        self.runs += 1.0;
    }
    fn row(&self) -> String {
        format!(
            "{:>9.0} | {:>6.3}% | {:>6.3}% | {:>6.3}%",
            self.bytes / self.runs,
            100.0 * self.error_sum / self.runs,
            100.0 * (self.squared_sum / self.runs).sqrt(),
            100.0 * self.max_error
        )
    }
}

fn seeds_for(n: u64) -> u64 {
    match n {
        0..=100_000 => 50,
        100_001..=1_000_000 => 20,
        _ => 5,
    }
}

fn main() {
    let precision = 14;
    println!(
        "UniqueSketch p = {precision} (standard error 0.81 %) vs hyperloglogplus p = 14 + postcard"
    );
    println!();
    println!(
        "| visitors | seeds | bytes | mean error | rms error | max error | hyperloglogplus bytes | its mean error |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in [
        10u64, 100, 1_000, 3_000, 10_000, 100_000, 1_000_000, 10_000_000,
    ] {
        let seeds = seeds_for(n);
        let mut ours = Stats::default();
        let mut reference = Stats::default();
        for seed in 0..seeds {
            let mut sketch = UniqueSketch::with_precision(precision).expect("valid precision");
            for i in 0..n {
                sketch.insert(id(seed, i));
            }
            ours.add(sketch.encode().len(), sketch.estimate(), n);
            if seed < 5 {
                let mut hll: HyperLogLogPlus<u64, SameHash> =
                    HyperLogLogPlus::new(precision, SameHash).expect("valid precision");
                for i in 0..n {
                    hll.insert(&id(seed, i));
                }
                let estimate = hll.count();
                let bytes = postcard::to_allocvec(&hll).map_or(0, |b| b.len());
                reference.add(bytes, estimate, n);
            }
        }
        let reference_row = reference.row();
        let mut reference_cells = reference_row.split('|').map(str::trim);
        println!(
            "| {n} | {seeds} | {} | {} | {} |",
            ours.row()
                .split('|')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" | "),
            reference_cells.next().unwrap_or(""),
            reference_cells.next().unwrap_or(""),
        );
    }

    println!();
    println!("Other precisions at 1 000 000 visitors (5 seeds):");
    println!();
    println!(
        "| precision | standard error | bytes | bits per register | mean error | rms error | max error |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for precision in [10u8, 12, 14, 16, 18] {
        let n = 1_000_000;
        let mut stats = Stats::default();
        for seed in 0..5 {
            let mut sketch = UniqueSketch::with_precision(precision).expect("valid precision");
            for i in 0..n {
                sketch.insert(id(seed + 100, i));
            }
            stats.add(sketch.encode().len(), sketch.estimate(), n);
        }
        let bits = 8.0 * stats.bytes / stats.runs / f64::from(1u32 << precision);
        let cells: Vec<_> = stats
            .row()
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect();
        println!(
            "| {precision} | {:.2}% | {} | {bits:.2} | {} | {} | {} |",
            104.0 / f64::from(1u32 << precision).sqrt(),
            cells[0],
            cells[1],
            cells[2],
            cells[3]
        );
    }

    println!();
    println!(
        "Union of 720 hourly sketches (30 days), 2 000 visitors an hour from a pool of 20 000:"
    );
    let mut hours = Vec::new();
    for hour in 0..720u64 {
        let mut sketch = UniqueSketch::new();
        for i in 0..2_000 {
            sketch.insert(id(7, (hour * 7_919 + i * 13) % 20_000));
        }
        hours.push(sketch);
    }
    let hourly_bytes: usize = hours.iter().map(|s| s.encode().len()).sum();
    let mut union = UniqueSketch::new();
    for sketch in &hours {
        union.merge(sketch);
    }
    println!(
        "mean hourly sketch {} bytes, union estimate {:.0} of 20000 ({:+.3}%)",
        hourly_bytes / hours.len(),
        union.estimate(),
        100.0 * (union.estimate() - 20_000.0) / 20_000.0
    );
}
