#![no_main]
//! Decoding arbitrary bytes as a `UniqueSketch` (and as the counters, which
//! share the cursor code) never panics, and whatever decodes is canonical:
//! it re-encodes to exactly the input, merges, and estimates a finite count.
use glinto_aggregator::counter::{GCounter, PNCounter};
use glinto_aggregator::lattice::Lattice;
use glinto_aggregator::sketch::UniqueSketch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sketch) = UniqueSketch::decode(data) {
        assert_eq!(
            sketch.encode(),
            data,
            "decoded sketches re-encode to their input"
        );
        let estimate = sketch.estimate();
        assert!(
            estimate.is_finite() && estimate >= 0.0,
            "estimate {estimate}"
        );
        let mut merged =
            UniqueSketch::with_precision(sketch.precision()).expect("decoded precision");
        merged.insert(1);
        merged.merge(&sketch);
        merged.merge(&sketch);
        let twice = merged.clone();
        merged.merge(&sketch);
        assert_eq!(merged, twice, "merge is idempotent");
        assert!(merged.estimate() + 1.0 >= estimate * 0.5);
    }
    if let Ok(counter) = GCounter::decode(data) {
        assert_eq!(counter.encode(), data);
    }
    if let Ok(counter) = PNCounter::decode(data) {
        assert_eq!(counter.encode(), data);
    }
});
