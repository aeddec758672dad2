//! `hyperloglogplus` fed the same 64-bit hashes as `UniqueSketch`: the
//! independent reference of the accuracy tests and the `sketch_table` example
//! (which includes this file by path).

use std::hash::{BuildHasher, Hasher};

use glinto_aggregator::sketch::HashScheme;

/// A `BuildHasher` whose hash of a `u64` visitor id is our sketch's hash.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct SameHash;

/// The hasher [`SameHash`] builds.
pub(crate) struct SameHasher(u64);

impl Hasher for SameHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _bytes: &[u8]) {}
    fn write_u64(&mut self, id: u64) {
        self.0 = HashScheme::SplitMix64.hash(id);
    }
}

impl BuildHasher for SameHash {
    type Hasher = SameHasher;
    fn build_hasher(&self) -> SameHasher {
        SameHasher(0)
    }
}
