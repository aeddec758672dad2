//! Errors: opening a data directory ([`OpenError`]) and the backend failures carried inside
//! [`glinto_storage::Error`] ([`BackendError`]).

use std::path::PathBuf;

use glinto_storage::Error;

use crate::engine::Fault;

/// Why a data directory could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Another [`crate::LocalStore`] — in this process or another — has the directory open.
    /// Only one may: the store assumes it is the only writer.
    #[error(
        "data directory {dir:?} is already open{}; only one process may use it at a time",
        holder_pid.map(|pid| format!(" (by process {pid})")).unwrap_or_default()
    )]
    AlreadyOpen {
        /// The directory.
        dir: PathBuf,
        /// The process id written in the lock file by the holder, if readable.
        holder_pid: Option<u32>,
    },
    /// The database file is damaged: a page or record checksum does not match, or the file is
    /// not a database at all. Nothing was read from it; restore it from a backup.
    #[error("database file {path:?} is corrupted: {detail}")]
    Corrupted {
        /// The file.
        path: PathBuf,
        /// What the check found.
        detail: String,
    },
    /// The file was written with a layout version this build does not read (a newer Glinto).
    #[error(
        "database file {path:?} has layout version {found}; this build reads version {supported}"
    )]
    UnsupportedLayout {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A namespace, state or bucket name outside `[A-Za-z0-9._-]{1,64}`.
    #[error("invalid {what} name {name:?}: {reason}")]
    InvalidName {
        /// `"kv namespace"`, `"state namespace"` or `"bucket"`.
        what: &'static str,
        /// The rejected name.
        name: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// The operating system refused a file operation (permissions, disk full, missing parent).
    #[error("I/O error on {path:?}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// redb failed in another way while opening.
    #[error("opening database file {path:?} failed")]
    Storage {
        /// The file.
        path: PathBuf,
        /// redb's error.
        #[source]
        source: redb::Error,
    },
}

impl From<OpenError> for Error {
    /// Every open failure is permanent for the caller: retrying the same open cannot help
    /// until something outside changes (the other process exits, the file is restored).
    fn from(error: OpenError) -> Self {
        Error::Permanent {
            source: Box::new(error),
        }
    }
}

/// The source of an [`Error::Transient`] or [`Error::Permanent`] from this backend; downcast
/// the source to tell corruption from I/O.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// A stored record failed its checksum or layout check: the file is damaged. The record was
    /// not returned.
    #[error("corrupted record in table {table}: {detail}")]
    Corrupted {
        /// The table holding the record.
        table: String,
        /// What is wrong with it.
        detail: String,
    },
    /// redb reported a failure (I/O, a corruption it detected, a closed database).
    #[error("redb: {source}")]
    Redb {
        /// redb's error.
        #[source]
        source: redb::Error,
    },
    /// A counter of the store ran out (more than 2^64 object writes).
    #[error("{0} exhausted")]
    Exhausted(&'static str),
}

/// Translates an engine failure that is not a conditional-write outcome.
pub(crate) fn backend(fault: Fault) -> Error {
    match fault {
        Fault::Redb(source) => {
            // A local disk I/O error (full disk, a flaky device) may clear; everything else
            // redb reports (corruption, poisoned state after a failed fsync) needs a human.
            let transient = matches!(source, redb::Error::Io(_));
            let source = Box::new(BackendError::Redb { source });
            if transient {
                Error::Transient { source }
            } else {
                Error::Permanent { source }
            }
        }
        Fault::Record { table, error } => Error::Permanent {
            source: Box::new(BackendError::Corrupted {
                table,
                detail: error.to_string(),
            }),
        },
        Fault::Layout { found, supported } => Error::Permanent {
            source: Box::new(BackendError::Corrupted {
                table: "meta".to_owned(),
                detail: format!("layout version {found}, this build reads {supported}"),
            }),
        },
        Fault::Rejected(error) => error,
        Fault::Exhausted(what) => Error::Permanent {
            source: Box::new(BackendError::Exhausted(what)),
        },
        // Conditional outcomes are translated by the object store, which knows the key; reaching
        // here would be a bug, reported rather than hidden.
        Fault::AlreadyExists | Fault::EtagMismatch => Error::permanent(fault.to_string()),
    }
}

/// The [`Error::Permanent`] for a damaged record found in `table`.
pub(crate) fn corrupted(table: &str, detail: &str) -> Error {
    Error::Permanent {
        source: Box::new(BackendError::Corrupted {
            table: table.to_owned(),
            detail: detail.to_owned(),
        }),
    }
}

/// Stored bytes that must be UTF-8 (keys, metadata, etags) as a `String`.
pub(crate) fn utf8(table: &str, what: &str, bytes: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|_| corrupted(table, &format!("{what} is not UTF-8")))
}

/// The effective list limit: the caller's, checked, or the capability's maximum.
pub(crate) fn list_limit(
    capability: &glinto_storage::Capability,
    limit: Option<usize>,
) -> Result<usize, Error> {
    match limit {
        Some(limit) => capability.check_list_limit(limit).map(|()| limit),
        None => Ok(capability.max_list_limit),
    }
}
