//! [`LocalStore`]: one data directory, opened once, handing out the three stores.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use glinto_storage::{Clock, SystemClock, Timestamp};

use crate::engine::{Engine, Fault, KvTables, ObjectTables, StateTables};
use crate::error::OpenError;
use crate::lock::{self, DirLock};
use crate::{LocalKv, LocalObjects, LocalState, MAX_OBJECT_BYTES};

/// Name of the database file inside the data directory.
pub const DATABASE_FILE: &str = "glinto.redb";

/// Longest namespace, state or bucket name.
pub const MAX_NAME_BYTES: usize = 64;

/// How to open a [`LocalStore`].
#[derive(Clone)]
pub struct LocalOptions {
    clock: Arc<dyn Clock>,
    verify_on_open: bool,
    cache_bytes: usize,
    max_object_bytes: u64,
}

impl fmt::Debug for LocalOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalOptions")
            .field("clock", &self.clock)
            .field("verify_on_open", &self.verify_on_open)
            .field("cache_bytes", &self.cache_bytes)
            .field("max_object_bytes", &self.max_object_bytes)
            .finish()
    }
}

impl Default for LocalOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            verify_on_open: true,
            cache_bytes: 64 * 1024 * 1024,
            max_object_bytes: MAX_OBJECT_BYTES,
        }
    }
}

impl LocalOptions {
    /// The defaults: the system clock, a full integrity check on open, a 64 MiB page cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The clock for KV expiry and object upload times (tests pass a
    /// [`glinto_storage::ManualClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Whether opening verifies the checksum of every page of the file (default: yes).
    ///
    /// redb otherwise verifies pages only when recovering from a crash, and may panic on a file
    /// altered behind its back. The check reads the whole file once per open: turn it off only
    /// for large stores that are reopened often, and keep in mind that every record still
    /// carries its own CRC-32, checked on each read.
    pub fn verify_on_open(mut self, verify: bool) -> Self {
        self.verify_on_open = verify;
        self
    }

    /// The largest object body a `put` accepts, at most (and by default)
    /// [`MAX_OBJECT_BYTES`]; reported as the object store's `max_value_bytes`.
    pub fn max_object_bytes(mut self, bytes: u64) -> Self {
        self.max_object_bytes = bytes.min(MAX_OBJECT_BYTES);
        self
    }

    /// Bytes of redb's page cache (default 64 MiB).
    pub fn cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_bytes = bytes;
        self
    }
}

/// A data directory opened for exclusive use: the handle that creates the stores.
///
/// Cheap to clone; every clone and every store handed out shares one database. The directory
/// stays locked until the last of them is dropped.
#[derive(Clone)]
pub struct LocalStore {
    shared: Arc<Shared>,
}

/// What every handle shares. Field order matters: the database closes before the lock drops.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) max_object_bytes: u64,
    dir: PathBuf,
    _lock: DirLock,
}

impl Shared {
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalStore")
            .field("dir", &self.shared.dir)
            .finish()
    }
}

impl LocalStore {
    /// Opens (creating if needed) the data directory `dir` with the default options.
    ///
    /// # Errors
    /// See [`LocalStore::open_with`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, OpenError> {
        Self::open_with(dir, LocalOptions::default())
    }

    /// Opens (creating if needed) the data directory `dir`.
    ///
    /// Blocks while it takes the lock, opens the database and, when the previous process
    /// crashed, lets redb recover it (or, with [`LocalOptions::verify_on_open`], verifies it).
    ///
    /// # Errors
    /// [`OpenError::AlreadyOpen`] if another store (in any process) has `dir` open,
    /// [`OpenError::Corrupted`] if the file fails its checks, [`OpenError::UnsupportedLayout`]
    /// for a file of a newer layout, [`OpenError::Io`] and [`OpenError::Storage`] otherwise.
    pub fn open_with(dir: impl AsRef<Path>, options: LocalOptions) -> Result<Self, OpenError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let lock = DirLock::acquire(dir)?;
        let path = dir.join(DATABASE_FILE);
        let mut builder = redb::Builder::new();
        builder
            .set_cache_size(options.cache_bytes)
            .set_check_integrity_on_open(options.verify_on_open);
        // With the directory lock held, redb's own lock can only be held by a child of this
        // process between fork and exec (see the `lock` module): wait for it like the lock file.
        let db =
            lock::retry_inherited(|| builder.create(&path).map_err(|e| open_error(dir, &path, e)))?;
        let engine = Engine::new(db).map_err(|fault| match fault {
            Fault::Layout { found, supported } => OpenError::UnsupportedLayout {
                path: path.clone(),
                found,
                supported,
            },
            Fault::Record { table, error } => OpenError::Corrupted {
                path: path.clone(),
                detail: format!("table {table}: {error}"),
            },
            Fault::Redb(source) => OpenError::Storage {
                path: path.clone(),
                source,
            },
            other => OpenError::Corrupted {
                path: path.clone(),
                detail: other.to_string(),
            },
        })?;
        Ok(Self {
            shared: Arc::new(Shared {
                engine,
                clock: options.clock,
                max_object_bytes: options.max_object_bytes,
                dir: dir.to_path_buf(),
                _lock: lock,
            }),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The KV store `namespace` (a Workers KV namespace binding).
    ///
    /// # Errors
    /// [`OpenError::InvalidName`], or a failure creating its tables.
    pub fn kv(&self, namespace: &str) -> Result<LocalKv, OpenError> {
        check_name("kv namespace", namespace)?;
        let tables = KvTables::new(namespace);
        self.create(&tables.names())?;
        Ok(LocalKv::new(self.shared.clone(), tables))
    }

    /// The state store `name` (one Durable Object's storage, with its own alarm).
    ///
    /// # Errors
    /// [`OpenError::InvalidName`], or a failure creating its table.
    pub fn state(&self, name: &str) -> Result<LocalState, OpenError> {
        check_name("state namespace", name)?;
        let tables = StateTables::new(name);
        self.create(&tables.names())?;
        Ok(LocalState::new(self.shared.clone(), tables))
    }

    /// The object store `bucket` (an R2 bucket binding).
    ///
    /// # Errors
    /// [`OpenError::InvalidName`], or a failure creating its tables.
    pub fn objects(&self, bucket: &str) -> Result<LocalObjects, OpenError> {
        check_name("bucket", bucket)?;
        let tables = ObjectTables::new(bucket);
        self.create(&tables.names())?;
        Ok(LocalObjects::new(self.shared.clone(), tables))
    }

    /// Bytes redb holds for stored data, for its own metadata, and lost to fragmentation
    /// (what `examples/disk_usage.rs` reports next to the file size).
    ///
    /// # Errors
    /// A redb failure, as [`glinto_storage::Error`].
    pub fn space(&self) -> glinto_storage::Result<Space> {
        let stats = self.shared.engine.stats().map_err(crate::error::backend)?;
        Ok(Space {
            stored_bytes: stats.stored_bytes(),
            metadata_bytes: stats.metadata_bytes(),
            fragmented_bytes: stats.fragmented_bytes(),
        })
    }

    /// Compacts the database file, giving the space of freed pages back to the file system;
    /// returns whether the file shrank. It rewrites pages in place inside fsynced
    /// transactions, so a crash during compaction loses nothing. Runs only while this is the
    /// sole handle: no clone and no store from [`LocalStore::kv`], [`LocalStore::state`] or
    /// [`LocalStore::objects`] may be alive.
    ///
    /// # Errors
    /// [`glinto_storage::Error::InvalidArgument`] (field `handles`) while other handles are
    /// alive, or a redb failure.
    pub fn compact(&mut self) -> glinto_storage::Result<bool> {
        let shared = Arc::get_mut(&mut self.shared).ok_or_else(|| glinto_storage::Error::InvalidArgument {
            field: "handles",
            reason: "compaction needs the only handle: drop every store and clone of this LocalStore first"
                .to_owned(),
        })?;
        shared.engine.compact().map_err(crate::error::backend)
    }

    fn create(&self, names: &[&str]) -> Result<(), OpenError> {
        let path = self.shared.dir.join(DATABASE_FILE);
        self.shared
            .engine
            .create_tables(names)
            .map_err(|fault| match fault {
                Fault::Redb(source) => OpenError::Storage { path, source },
                other => OpenError::Corrupted {
                    path,
                    detail: other.to_string(),
                },
            })
    }
}

/// How the database file's bytes are used (see [`LocalStore::space`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Space {
    /// Bytes of keys and records, headers included.
    pub stored_bytes: u64,
    /// Bytes of B-tree structure and redb's own bookkeeping.
    pub metadata_bytes: u64,
    /// Bytes allocated but unused (page slack, freed pages).
    pub fragmented_bytes: u64,
}

fn check_name(what: &'static str, name: &str) -> Result<(), OpenError> {
    let invalid = |reason| {
        Err(OpenError::InvalidName {
            what,
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("must not be empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return invalid("longer than 64 bytes");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return invalid("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

fn open_error(dir: &Path, path: &Path, error: redb::DatabaseError) -> OpenError {
    let path = path.to_path_buf();
    match error {
        // Called with the directory lock held: redb's lock is then held by this process's own
        // file in a child before exec (or by a program that opened the file without taking
        // LOCK, which is then reported as this process after the wait).
        redb::DatabaseError::DatabaseAlreadyOpen => OpenError::AlreadyOpen {
            dir: dir.to_path_buf(),
            holder_pid: Some(std::process::id()),
        },
        redb::DatabaseError::LockProtocolMismatch => OpenError::AlreadyOpen {
            dir: dir.to_path_buf(),
            holder_pid: None,
        },
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(detail)) => {
            OpenError::Corrupted { path, detail }
        }
        redb::DatabaseError::RepairAborted => OpenError::Corrupted {
            path,
            detail: "the file needs a repair that could not complete".to_owned(),
        },
        redb::DatabaseError::UpgradeRequired(version) => OpenError::Corrupted {
            path,
            detail: format!("redb file format {version} is not supported by this build"),
        },
        // redb reports a file without its magic number as invalid data.
        redb::DatabaseError::Storage(redb::StorageError::Io(source))
            if source.kind() == std::io::ErrorKind::InvalidData =>
        {
            OpenError::Corrupted {
                path,
                detail: source.to_string(),
            }
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(source)) => {
            OpenError::Io { path, source }
        }
        other => OpenError::Storage {
            path,
            source: other.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, expected: &str) {
        let got = match check_name("bucket", name) {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn names() {
        check("events", "ok");
        check("a.b_c-D9", "ok");
        check(&"x".repeat(64), "ok");
        check(
            &"x".repeat(65),
            &format!(
                "invalid bucket name {:?}: longer than 64 bytes",
                "x".repeat(65)
            ),
        );
        check("", "invalid bucket name \"\": must not be empty");
        check(
            "a/b",
            "invalid bucket name \"a/b\": only ASCII letters, digits, '.', '_' and '-' are allowed",
        );
        check(
            "é",
            "invalid bucket name \"é\": only ASCII letters, digits, '.', '_' and '-' are allowed",
        );
    }
}
