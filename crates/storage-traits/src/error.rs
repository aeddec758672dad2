//! The one error type of every store, by what the caller can do about it.

use std::fmt;

/// A boxed error from a backend, kept as the `source` of [`Error::Transient`]
/// and [`Error::Permanent`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which limit a value exceeded (see [`Error::TooLarge`] and [`crate::Capability`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// Bytes of a key's UTF-8 encoding ([`crate::Capability::max_key_bytes`]).
    KeyBytes,
    /// Bytes of a value or object body ([`crate::Capability::max_value_bytes`]).
    ValueBytes,
    /// Bytes of a key and its value together
    /// ([`crate::Capability::max_entry_bytes`]).
    EntryBytes,
    /// Bytes of a KV entry's metadata ([`crate::Capability::max_metadata_bytes`]).
    MetadataBytes,
    /// Keys in one batch ([`crate::Capability::max_batch_keys`]).
    BatchKeys,
    /// Entries requested from one list call ([`crate::Capability::max_list_limit`]).
    ListLimit,
}

impl Limit {
    /// The name used in messages, e.g. `"key bytes"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::KeyBytes => "key bytes",
            Limit::ValueBytes => "value bytes",
            Limit::EntryBytes => "key and value bytes",
            Limit::MetadataBytes => "metadata bytes",
            Limit::BatchKeys => "keys per batch",
            Limit::ListLimit => "list limit",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every failure of every store, by what the caller can do about it.
///
/// | Variant | The caller should |
/// |---|---|
/// | [`NotFound`](Error::NotFound) | treat the key as absent (only conveniences that require presence return it; plain `get`s return `Ok(None)`) |
/// | [`AlreadyExists`](Error::AlreadyExists) | stop: a create-only write lost to an earlier write (often: its own earlier attempt) |
/// | [`PreconditionFailed`](Error::PreconditionFailed) | re-read, recompute, retry the compare-and-swap |
/// | [`TooLarge`](Error::TooLarge) | split or shrink the input; retrying cannot help |
/// | [`InvalidKey`](Error::InvalidKey) / [`InvalidArgument`](Error::InvalidArgument) / [`InvalidRange`](Error::InvalidRange) | fix the call; retrying cannot help |
/// | [`NotSupported`](Error::NotSupported) | use another backend or skip the feature (see [`crate::Capability`]) |
/// | [`Transient`](Error::Transient) | retry with backoff ([`Error::is_retryable`]) |
/// | [`Permanent`](Error::Permanent) | give up and report |
///
/// Messages name keys but never values, metadata or credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key does not exist.
    #[error("key {key:?} not found")]
    NotFound {
        /// The key that was looked up.
        key: String,
    },
    /// A [`crate::PutMode::Create`] write found the key already present.
    #[error("key {key:?} already exists")]
    AlreadyExists {
        /// The key that was written.
        key: String,
    },
    /// A conditional write's precondition ([`crate::PutMode::IfMatch`]) did
    /// not hold: the key is absent or its current etag differs.
    #[error("precondition failed for key {key:?}: expected etag {expected}")]
    PreconditionFailed {
        /// The key that was written.
        key: String,
        /// The etag the caller expected.
        expected: String,
    },
    /// A key, value, metadata, batch or list request exceeded a limit.
    #[error("{what} too large: {size} > limit {limit}")]
    TooLarge {
        /// Which limit.
        what: Limit,
        /// The offending size.
        size: u64,
        /// The limit it exceeded.
        limit: u64,
    },
    /// The key is not acceptable to the store (empty, or a reserved name).
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The rejected key.
        key: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// An option is out of its accepted domain (a TTL below the minimum, a
    /// list limit of zero, a malformed cursor, an inverted range).
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The option, e.g. `"expiration"`, `"cursor"`, `"limit"`.
        field: &'static str,
        /// What is wrong and what would be accepted.
        reason: String,
    },
    /// A ranged read starts at or beyond the end of the object (HTTP 416).
    #[error("range {range} not satisfiable for key {key:?} of {size} bytes")]
    InvalidRange {
        /// The object key.
        key: String,
        /// The requested range, as written by [`crate::GetRange`]'s `Display`.
        range: String,
        /// The object's size.
        size: u64,
    },
    /// The backend does not offer this operation or option (see
    /// [`crate::Capability`]).
    #[error("{operation} is not supported by {backend}")]
    NotSupported {
        /// The operation or option, e.g. `"ttl"`, `"list delimiter"`.
        operation: &'static str,
        /// The backend's name.
        backend: &'static str,
    },
    /// A failure that may go away: a timeout, rate limit (HTTP 429), an
    /// unavailable backend. The operation may or may not have taken effect;
    /// every operation here is safe to retry (conditional writes then report
    /// `AlreadyExists`/`PreconditionFailed` if the first attempt landed).
    #[error("transient storage failure (worth a retry)")]
    Transient {
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// A failure retrying will not fix: corruption, a refused lock, a
    /// misconfiguration, lost permissions.
    #[error("permanent storage failure")]
    Permanent {
        /// The backend's error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// Whether retrying the same call can succeed: true only for
    /// [`Error::Transient`].
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Transient { .. })
    }

    /// A [`Error::Transient`] with a message as its source.
    pub fn transient(message: impl Into<String>) -> Self {
        Error::Transient {
            source: message.into().into(),
        }
    }

    /// A [`Error::Permanent`] with a message as its source.
    pub fn permanent(message: impl Into<String>) -> Self {
        Error::Permanent {
            source: message.into().into(),
        }
    }
}
