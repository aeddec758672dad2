//! The crate's one error type.

/// Why an engine call failed. Variants say what the caller can do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An event for another site was given to this site's engine; nothing of
    /// the call was written.
    #[error("event for site {found:?} given to the engine of site {expected:?}")]
    WrongSite {
        /// The engine's site.
        expected: String,
        /// The event's site.
        found: String,
    },
    /// A storage call failed. Nothing of the call was acknowledged; when
    /// `retryable`, sending the same events again is safe (duplicates are
    /// counted once) and is what the client should do.
    #[error("storage failed ({operation}): {message}")]
    Storage {
        /// What the engine was doing.
        operation: &'static str,
        /// The storage error, rendered (shared by every waiter of a group commit).
        message: String,
        /// Whether a retry may succeed.
        retryable: bool,
    },
    /// Persisted bytes could not be read back: the store holds something this
    /// build did not write (or a bug); the engine refuses to guess.
    #[error("corrupt {what} at {key:?}: {reason}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A Stats API request the rollups cannot answer, or an invalid one
    /// (the field is named, as Plausible's errors do).
    #[error(transparent)]
    Query(#[from] glinto_query::QueryError),
    /// A single item is larger than the store accepts in one atomic batch.
    #[error("{what} of {bytes} bytes does not fit in one atomic write of this store")]
    TooLarge {
        /// What.
        what: &'static str,
        /// Its size.
        bytes: usize,
    },
}

impl Error {
    pub(crate) fn storage(operation: &'static str, err: &glinto_storage::Error) -> Self {
        Error::Storage {
            operation,
            message: err.to_string(),
            retryable: err.is_retryable(),
        }
    }

    pub(crate) fn corrupt(what: &'static str, key: &str, reason: impl ToString) -> Self {
        Error::Corrupt {
            what,
            key: key.to_owned(),
            reason: reason.to_string(),
        }
    }

    /// A copy for another waiter of the same group commit.
    pub(crate) fn share(&self) -> Self {
        match self {
            Error::WrongSite { expected, found } => Error::WrongSite {
                expected: expected.clone(),
                found: found.clone(),
            },
            Error::Storage {
                operation,
                message,
                retryable,
            } => Error::Storage {
                operation,
                message: message.clone(),
                retryable: *retryable,
            },
            Error::Corrupt { what, key, reason } => Error::Corrupt {
                what,
                key: key.clone(),
                reason: reason.clone(),
            },
            Error::TooLarge { what, bytes } => Error::TooLarge {
                what,
                bytes: *bytes,
            },
            Error::Query(e) => Error::Query(e.clone()),
        }
    }

    /// Whether sending the same events again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Storage {
                retryable: true,
                ..
            }
        )
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
