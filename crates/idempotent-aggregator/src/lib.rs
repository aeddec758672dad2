//! Mergeable analytics aggregates: CRDT counters, HyperLogLog uniques, sessions
//! and hourly rollups that merge in any order, any number of times.

pub mod counter;
pub mod delta;
pub mod dedup;
mod error;
pub mod lattice;
pub mod rollup;
pub mod session;
pub mod sketch;

pub use error::{Error, Result};
