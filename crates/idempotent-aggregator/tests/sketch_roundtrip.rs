//! Encoding round trips and the decoder's refusal of arbitrary bytes.

use glinto_aggregator::sketch::UniqueSketch;
use proptest::prelude::*;

fn sketch(precision: u8, ids: impl IntoIterator<Item = u64>) -> UniqueSketch {
    let mut sketch = UniqueSketch::with_precision(precision).expect("valid precision");
    for id in ids {
        sketch.insert(id);
    }
    sketch
}

/// `n` pseudo-random ids from a seed (an LCG: ids are already hashes).
fn ids(seed: u64, n: u64) -> impl Iterator<Item = u64> {
    (0..n).map(move |i| {
        (seed ^ i)
            .wrapping_mul(0x2545_f491_4f6c_dd1d)
            .rotate_left(17)
    })
}

fn check_round_trip(sketch: &UniqueSketch) {
    let bytes = sketch.encode();
    let decoded = UniqueSketch::decode(&bytes).expect("own encoding decodes");
    assert_eq!(&decoded, sketch);
    assert_eq!(decoded.encode(), bytes, "the encoding is canonical");
    assert_eq!(decoded.estimate().to_bits(), sketch.estimate().to_bits());
}

#[test]
fn round_trips_across_modes_and_precisions() {
    for precision in [4, 5, 8, 11, 14, 16, 18] {
        for n in [0, 1, 2, 10, 100, 1_000, 5_000, 40_000] {
            check_round_trip(&sketch(precision, ids(u64::from(precision), n)));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn round_trips(precision in 4u8..=16, seed: u64, n in 0u64..6_000) {
        check_round_trip(&sketch(precision, ids(seed, n)));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(sketch) = UniqueSketch::decode(&bytes) {
            prop_assert_eq!(sketch.encode(), bytes);
        }
    }

    #[test]
    fn corrupted_encodings_never_panic(seed: u64, n in 0u64..3_000, flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4)) {
        let mut bytes = sketch(12, ids(seed, n)).encode();
        for (at, mask) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
        }
        if let Ok(sketch) = UniqueSketch::decode(&bytes) {
            prop_assert_eq!(sketch.encode(), bytes);
        }
    }
}
