//! Accuracy: exact small counts, and every estimate within three standard
//! errors from 1e2 to 1e7 visitors. (The heavy sweep with many seeds per
//! size is the `sketch_table` example; these keep debug-build CI time sane.)

use glinto_aggregator::sketch::UniqueSketch;
use hyperloglogplus::{HyperLogLog, HyperLogLogPlus};

#[path = "common/same_hash.rs"]
mod same_hash;
use same_hash::SameHash;

/// Distinct ids for a seed: a bijection of `i` (ids are keyed hashes).
fn id(seed: u64, i: u64) -> u64 {
    (i ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xd6e8_feb8_6659_fd93)
}

fn sketch(precision: u8, seed: u64, n: u64) -> UniqueSketch {
    let mut sketch = UniqueSketch::with_precision(precision).expect("valid precision");
    for i in 0..n {
        sketch.insert(id(seed, i));
    }
    sketch
}

/// Builds `seeds` sketches of `n` visitors; each estimate must be within
/// `3 * 1.04 / sqrt(2^p)` of `n`.
fn check(precision: u8, n: u64, seeds: u64) {
    let bound = 3.0 * 1.04 / f64::from(1u32 << precision).sqrt();
    for seed in 0..seeds {
        let estimate = sketch(precision, seed, n).estimate();
        let error = (estimate - n as f64) / n as f64;
        assert!(
            error.abs() <= bound,
            "p={precision} n={n} seed={seed}: estimate {estimate:.1}, error {error:+.4} beyond {bound:.4}"
        );
    }
}

#[test]
fn within_three_standard_errors() {
    check(14, 100, 40);
    check(14, 1_000, 40);
    check(14, 10_000, 20);
    check(14, 100_000, 8);
    check(14, 1_000_000, 2);
    check(14, 10_000_000, 1);
    check(10, 100_000, 10);
    check(12, 50_000, 10);
    check(16, 300_000, 2);
    check(6, 10_000, 20);
}

#[test]
fn small_sets_are_exact() {
    fn check(precision: u8, sizes: &[u64], seeds: u64) {
        for &n in sizes {
            for seed in 0..seeds {
                let sketch = sketch(precision, seed, n);
                assert_eq!(sketch.count(), n, "p={precision} n={n} seed={seed}");
                assert!(sketch.is_sparse());
            }
        }
    }
    check(14, &[0, 1, 2, 3, 7, 10, 42, 99, 100, 250], 30);
    check(14, &[500, 1_000, 1_024], 10);
    check(12, &[1, 17, 100, 256], 10);
}

#[test]
fn repeated_inserts_count_once() {
    let mut sketch = UniqueSketch::new();
    for round in 0..5 {
        for i in 0..300 {
            sketch.insert(id(round % 2, i));
        }
    }
    assert_eq!(sketch.count(), 600);
    let mut dense = UniqueSketch::with_precision(8).expect("valid precision");
    for _ in 0..3 {
        for i in 0..5_000 {
            dense.insert(id(9, i));
        }
    }
    assert_eq!(dense, sketch_at(8, 9, 5_000));
}

fn sketch_at(precision: u8, seed: u64, n: u64) -> UniqueSketch {
    sketch(precision, seed, n)
}

#[test]
fn agrees_with_the_hyperloglogplus_crate() {
    // Same hashes, same precision: both estimates carry the same register
    // noise, so they differ by far less than the standard error.
    for (n, seed) in [(20_000u64, 1u64), (200_000, 2), (2_000_000, 3)] {
        let ours = sketch(14, seed, n).estimate();
        let mut reference: HyperLogLogPlus<u64, SameHash> =
            HyperLogLogPlus::new(14, SameHash).expect("valid precision");
        for i in 0..n {
            reference.insert(&id(seed, i));
        }
        let theirs = reference.count();
        let gap = (ours - theirs).abs() / n as f64;
        assert!(
            gap < 0.0081,
            "n={n}: ours {ours:.0}, hyperloglogplus {theirs:.0}"
        );
    }
}
