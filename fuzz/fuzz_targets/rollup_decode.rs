#![no_main]
//! Decoding arbitrary bytes as a `SiteRollup` (version 1, 2 or 3) or a `Delta`
//! never panics, and whatever decodes survives a round trip (version 3 bytes
//! are canonical: they re-encode to themselves), merges idempotently and
//! answers queries.
use glinto_aggregator::delta::Delta;
use glinto_aggregator::lattice::Lattice;
use glinto_aggregator::rollup::{Dimension, HourRange, OrderBy, SiteRollup};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(rollup) = SiteRollup::decode(data) {
        if data.first() == Some(&3) {
            assert_eq!(rollup.encode(), data, "version 3 is canonical");
        }
        let again = SiteRollup::decode(&rollup.encode()).expect("re-encoded rollups decode");
        assert_eq!(again, rollup, "round trip through version 3");
        // Version 1 has no compacted tallies.
        if rollup.cells().all(|(.., c)| c.tally.watermark().0 == 0) {
            let v1 = SiteRollup::decode(&rollup.encode_v1()).expect("version 1 decodes");
            assert_eq!(v1, rollup, "round trip through version 1");
        }
        let mut merged = rollup.clone();
        merged.merge(&rollup);
        assert_eq!(merged, rollup, "merge is idempotent");
        let _ = rollup.totals(HourRange::all());
        for dim in Dimension::ALL {
            let _ = rollup.top(HourRange::all(), dim, OrderBy::Visits, 3);
        }
    }
    if let Ok(delta) = Delta::decode(data) {
        let again = Delta::decode(&delta.encode()).expect("re-encoded deltas decode");
        assert_eq!(again, delta, "round trip");
        let mut store = SiteRollup::new(delta.site());
        store
            .apply(&delta)
            .expect("a delta applies to an empty store of its site");
        assert!(store.contains(delta.replica(), delta.seq()));
    }
});
