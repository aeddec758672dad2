//! The crate's one error type.

/// Errors of the aggregator: decoding persisted bytes and merging incompatible aggregates.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
