//! Mergeable analytics aggregates: CRDT counters, HyperLogLog uniques, sessions
//! and hourly rollups that merge in any order, any number of times.

mod bits;
pub mod counter;
pub mod dedup;
pub mod delta;
mod error;
pub mod lattice;
pub mod rollup;
pub mod session;
pub mod sketch;
pub mod writer;

pub use counter::{GCounter, PNCounter, ReplicaId};
pub use error::{Error, Result};
pub use lattice::{Lattice, LatticeExt};
pub use sketch::UniqueSketch;
