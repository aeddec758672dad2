//! The crate's one error type.

/// Errors of the aggregator: decoding persisted bytes, merging incompatible
/// aggregates and writes that the single-writer rules forbid.
///
/// Variants are chosen by what the caller does next: an `Incompatible*` error
/// means "do not combine these two values" (a configuration mismatch, never
/// retried); the decoding variants mean "these bytes are not a value we wrote"
/// (quarantine the record); `RetiredReplica` is a bug in replica-id assignment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A sketch precision outside the supported range.
    #[error("sketch precision {precision} is outside {min}..={max}")]
    InvalidPrecision {
        /// The precision asked for.
        precision: u8,
        /// The smallest supported precision.
        min: u8,
        /// The largest supported precision.
        max: u8,
    },
    /// Two sketches that cannot be merged without a wrong count: they differ
    /// in `field` (`"precision"` or `"hash scheme"`).
    #[error("cannot merge sketches with different {field}: {ours} and {theirs}")]
    IncompatibleSketch {
        /// What differs.
        field: &'static str,
        /// Our value (the precision, or the hash-scheme tag).
        ours: u8,
        /// The other sketch's value.
        theirs: u8,
    },
    /// A write under a replica id that compaction has already folded into the
    /// base: the write would be lost at the next merge.
    #[error("replica {replica} is retired: compaction watermark is {watermark}")]
    RetiredReplica {
        /// The replica that tried to write.
        replica: u64,
        /// The counter's compaction watermark (every id below it is retired).
        watermark: u64,
    },
    /// Persisted bytes carry a version tag this build does not know.
    #[error("{kind}: unsupported encoding version {found} (this build reads {supported})")]
    UnsupportedVersion {
        /// The type being decoded.
        kind: &'static str,
        /// The tag found.
        found: u8,
        /// The tags this build reads.
        supported: &'static str,
    },
    /// The bytes ended inside `field`.
    #[error("{kind}: input ends inside {field}")]
    Truncated {
        /// The type being decoded.
        kind: &'static str,
        /// The field being read.
        field: &'static str,
    },
    /// A decoded number is out of its allowed range.
    #[error("{kind}: {field} is {value}, the limit is {limit}")]
    OutOfRange {
        /// The type being decoded.
        kind: &'static str,
        /// The field.
        field: &'static str,
        /// The value found.
        value: u64,
        /// The limit it broke (inclusive maximum).
        limit: u64,
    },
    /// The bytes are well-formed numbers but not a value an encoder writes
    /// (unsorted entries, inconsistent totals, non-canonical padding).
    #[error("{kind}: malformed {field}: {reason}")]
    Malformed {
        /// The type being decoded.
        kind: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A value of one site given to the aggregate of another: an event to
    /// another site's writer, a rollup or delta merged into another site's
    /// rollup. A routing bug, never retried.
    #[error("{kind} of site {found:?} given to site {expected:?}")]
    WrongSite {
        /// What was given (`"event"`, `"rollup"`).
        kind: &'static str,
        /// The site of the aggregate.
        expected: Box<str>,
        /// The site of what was given to it.
        found: Box<str>,
    },
    /// Bytes left over after a complete value.
    #[error("{kind}: {count} trailing bytes after the value")]
    TrailingBytes {
        /// The type being decoded.
        kind: &'static str,
        /// How many bytes were left.
        count: usize,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
