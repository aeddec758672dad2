//! Mergeable analytics aggregates: CRDT counters, HyperLogLog uniques, sessions and hourly rollups
