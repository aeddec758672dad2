//! Mergeable analytics aggregates: CRDT counters, HyperLogLog uniques, sessions
//! and hourly rollups that merge in any order, any number of times.
//!
//! Pure: no I/O, no clocks, no async; compiles to `wasm32-unknown-unknown`.
//! Every aggregate is a join-semilattice ([`Lattice`]): retried Worker
//! invocations, late and duplicated events and partial aggregates from many
//! edge locations combine into one answer whatever the order.
//!
//! Building blocks:
//! - [`lattice`]: the contract, and (feature `testing`) the one property test
//!   of the laws that every mergeable type runs;
//! - [`counter`]: grow-only and up-down counters keyed by replica id, with the
//!   one-writer rule and watermark compaction;
//! - [`sketch`]: [`UniqueSketch`], HyperLogLog++ unique visitors in ~6 KB
//!   (exact below a thousand), with a compact versioned encoding.
//!
//! Built on them: [`writer::SiteWriter`] (one site's single writer: events in,
//! [`dedup::Admission`] out, deltas and snapshots), [`delta::Delta`] and
//! [`rollup::SiteRollup`] (hourly cells that merge deltas and answer
//! queries). Words such as *visit-level*, *profile* and *compaction* are
//! defined in `docs/ARCHITECTURE.md`, section "Glossary".

mod bits;
pub mod counter;
pub mod dedup;
pub mod delta;
mod error;
mod intern;
pub mod lattice;
pub mod rollup;
pub mod session;
pub mod sketch;
pub mod writer;

pub use counter::{GCounter, PNCounter, ReplicaId};
pub use error::{Error, Result};
pub use lattice::{Lattice, LatticeExt};
pub use sketch::UniqueSketch;
