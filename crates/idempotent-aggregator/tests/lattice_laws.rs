//! The lattice laws, through the one generic helper, for every building block.

use glinto_aggregator::counter::{GCounter, PNCounter, ReplicaId};
use glinto_aggregator::lattice::testing::{check_lattice_laws, check_lattice_laws_with};
use glinto_aggregator::sketch::UniqueSketch;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Writes by a few replicas, then maybe a compaction below some watermark.
fn gcounter() -> impl Strategy<Value = GCounter> {
    (
        proptest::collection::vec((0u64..6, 0u64..50), 0..12),
        proptest::option::of(0u64..6),
    )
        .prop_map(|(writes, watermark)| {
            let mut counter = GCounter::new();
            for (replica, by) in writes {
                counter
                    .increment(ReplicaId(replica), by)
                    .expect("no watermark yet");
            }
            if let Some(watermark) = watermark {
                counter.compact(ReplicaId(watermark));
            }
            counter
        })
}

fn pncounter() -> impl Strategy<Value = PNCounter> {
    (
        proptest::collection::vec((0u64..6, any::<bool>(), 0u64..50), 0..12),
        proptest::option::of(0u64..6),
    )
        .prop_map(|(writes, watermark)| {
            let mut counter = PNCounter::new();
            for (replica, up, by) in writes {
                let written = if up {
                    counter.increment(ReplicaId(replica), by)
                } else {
                    counter.decrement(ReplicaId(replica), by)
                };
                written.expect("no watermark yet");
            }
            if let Some(watermark) = watermark {
                counter.compact(ReplicaId(watermark));
            }
            counter
        })
}

/// Sketches over a small universe of ids, so values overlap, at a precision
/// whose sparse limit (`2^p / 16`) the larger sets cross.
fn sketch(precision: u8, universe: u64, max_len: usize) -> impl Strategy<Value = UniqueSketch> {
    proptest::collection::vec(0..universe, 0..max_len).prop_map(move |ids| {
        let mut sketch = UniqueSketch::with_precision(precision).expect("valid precision");
        for id in ids {
            sketch.insert(id);
        }
        sketch
    })
}

#[test]
fn gcounter_is_a_lattice() {
    check_lattice_laws_with(Config::with_cases(256), gcounter());
}

#[test]
fn pncounter_is_a_lattice() {
    check_lattice_laws_with(Config::with_cases(256), pncounter());
}

#[test]
fn small_sketches_are_a_lattice_across_sparse_and_dense() {
    // p = 6: sparse up to 4 slots, so most cases mix both representations.
    check_lattice_laws_with(Config::with_cases(256), sketch(6, 40, 12));
}

#[test]
fn default_precision_sketches_are_a_lattice() {
    // p = 14: sparse up to 1 024 slots; unions of the larger sets cross it.
    check_lattice_laws(sketch(14, 3_000, 600));
}
