//! The crate's one error type, by what the caller can do about it.

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure of the control plane except authorization (see
/// [`AuthError`](crate::AuthError)).
///
/// | Variant | HTTP | The caller should |
/// |---|---|---|
/// | [`AlreadyExists`](Error::AlreadyExists) | 409 | stop: the site is registered already (possibly by its own earlier attempt) |
/// | [`NotFound`](Error::NotFound) | 404 | treat the site or key as absent |
/// | [`Invalid`](Error::Invalid) | 400 | fix the named field; retrying cannot help |
/// | [`Corrupt`](Error::Corrupt) | 500 | report: a stored record cannot be read by this version |
/// | [`Storage`](Error::Storage) | 503 / 500 | retry if [`Error::is_retryable`], else report |
///
/// Messages name domains, key ids and fields, never secrets or salts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A site with this domain is registered already.
    #[error("site {domain:?} already exists")]
    AlreadyExists {
        /// The normalized domain.
        domain: String,
    },
    /// No site or API key by this name.
    #[error("{what} {name:?} not found")]
    NotFound {
        /// `"site"` or `"api key"`.
        what: &'static str,
        /// The normalized domain or the key id.
        name: String,
    },
    /// An input is outside its accepted domain.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field: `domain`, `time_zone`, `retention_days`,
        /// `hour_cells_days`, `shards`, `scope`, `secret`.
        field: &'static str,
        /// What is wrong and what would be accepted.
        reason: String,
    },
    /// A stored record could not be decoded (unknown version, malformed
    /// bytes, or values this version rejects).
    #[error("stored record {key:?} is unreadable: {reason}")]
    Corrupt {
        /// The storage key of the record.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The storage backend failed.
    #[error("storage: {0}")]
    Storage(#[from] glinto_storage::Error),
}

impl Error {
    /// Whether retrying the same call can succeed (a transient storage
    /// failure).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Storage(e) if e.is_retryable())
    }

    /// The HTTP status a server answers with.
    pub fn status(&self) -> u16 {
        match self {
            Error::AlreadyExists { .. } => 409,
            Error::NotFound { .. } => 404,
            Error::Invalid { .. } => 400,
            Error::Corrupt { .. } => 500,
            Error::Storage(e) if e.is_retryable() => 503,
            Error::Storage(_) => 500,
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
