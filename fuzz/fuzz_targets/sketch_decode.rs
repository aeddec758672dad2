#![no_main]
//! Decoding arbitrary bytes as a `UniqueSketch` (and as the counters, which
//! share the cursor code) never panics, and whatever decodes is canonical:
//! it re-encodes to exactly the input, merges commutatively and
//! idempotently, and estimates a finite count.
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
        let mut one = UniqueSketch::with_precision(sketch.precision()).expect("decoded precision");
        one.insert(1);
        let mut merged = one.clone();
        merged.merge(&sketch);
        let mut other_way = sketch.clone();
        other_way.merge(&one);
        assert_eq!(merged, other_way, "merge is commutative");
        let once = merged.clone();
        merged.merge(&sketch);
        assert_eq!(merged, once, "merge is idempotent");
        // Not asserted: that the merged estimate stays near the decoded one.
        // Crafted sparse codes can share a few dense registers, and HLL++
        // then estimates far less once dense (tests/sketch_encoding.rs).
        assert!(merged.estimate().is_finite());
    }
    if let Ok(counter) = GCounter::decode(data) {
        assert_eq!(counter.encode(), data);
    }
    if let Ok(counter) = PNCounter::decode(data) {
        assert_eq!(counter.encode(), data);
    }
});
