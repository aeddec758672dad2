//! The seam between the `glinto` command and the engine.
//!
//! Everything in this crate is the shell: argument parsing, the data
//! directory and its lock, HTTP (routes, CORS, limits, client addresses, rate
//! limits, metrics), the tracker script. What counts, stores and answers —
//! the pipeline (`glinto-pipeline`), the control plane (sites, API keys,
//! salts) and the Stats API — sits behind one trait, [`Backend`], held by the
//! server's [`AppState`](crate::http::AppState) as an `Arc<dyn Backend>`. Routes parse and authorize,
//! then call one method of it (STYLE.md habit 16).
//!
//! # Wiring the engine in
//!
//! [`open_backend`] is the one place that builds the backend from the opened
//! [`Store`]. Until the pipeline, control and query crates are on `main` it
//! returns [`NotWired`], whose every method fails with
//! [`BackendError::NotWired`]: commands exit with status 2 and the server
//! answers `501` on the routes that need the engine. Nothing in this crate
//! counts events on its own.
//!
//! To wire: implement [`Backend`] for the pipeline's engine over the store's
//! `StateStore`/`ObjectStore`/`KvStore`, return it from [`open_backend`], and
//! delete [`NotWired`]. The methods' contracts below are what the HTTP layer
//! and the commands rely on.

use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Stream;
use glinto_event_model::Event;
use glinto_event_model::visitor::Salts;
use glinto_storage::{StateStore, WriteBatch};
use glinto_storage_local::{LocalStore, OpenError};
use serde::Serialize;

/// What the engine must provide to the server and the commands.
///
/// # Contract
///
/// - [`Backend::ingest`] returns only after the accepted events are durable
///   (the server answers `202` on its return); concurrent calls may share one
///   storage write (group commit). Events of sites that do not exist are not
///   an error: they are reported as dropped, per event, in the same order.
/// - [`Backend::salts`] gives the salts in force at a time (created and
///   rotated by the control plane); the server hashes visitors with them and
///   never stores them.
/// - [`Backend::authorize`] checks a Stats API caller for one site: the key
///   (compared in constant time, stored hashed) or, without one, whether the
///   site is public.
/// - [`Backend::flush`] is called once at shutdown, after the last request
///   finished: whatever is buffered is made durable.
///
/// # Errors
///
/// Every method fails with a [`BackendError`]; the variant decides the HTTP
/// status and the command's exit code ([`BackendError::NotWired`] is `501`
/// and exit 2, [`BackendError::Unavailable`] is `503` with `Retry-After`).
#[async_trait]
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// The salts in force at `now_ms` (Unix milliseconds).
    async fn salts(&self, now_ms: u64) -> Result<Salts, BackendError>;

    /// Commits `events` durably; one [`Ingested`] per event, in order.
    async fn ingest(&self, events: Vec<Event>) -> Result<Vec<Ingested>, BackendError>;

    /// Whether `key` (from `Authorization: Bearer`) may read `site`.
    async fn authorize(&self, key: Option<&str>, site: &str) -> Result<Access, BackendError>;

    /// Answers one Stats API v2 request (the body of `POST /api/v2/query`,
    /// already authorized for its `site_id`) with the response JSON.
    async fn query(&self, request: serde_json::Value) -> Result<serde_json::Value, BackendError>;

    /// Live updates of one site (current visitors, today's totals, latest
    /// pages), one JSON message each, until the stream ends.
    async fn live(&self, site: &str) -> Result<LiveStream, BackendError>;

    /// Readiness: whether the store is open and writable and the engine runs.
    async fn health(&self) -> Health;

    /// Makes everything buffered durable (at shutdown).
    async fn flush(&self) -> Result<(), BackendError>;

    /// Events accepted but not yet applied, for `/metrics`; `None` if unknown.
    fn queue_depth(&self) -> Option<u64>;

    /// `glinto sites add`.
    async fn add_site(&self, site: SiteSpec) -> Result<SiteInfo, BackendError>;
    /// `glinto sites list`.
    async fn list_sites(&self) -> Result<Vec<SiteInfo>, BackendError>;
    /// `glinto sites remove`.
    async fn remove_site(&self, domain: &str) -> Result<(), BackendError>;
    /// `glinto keys create`: the secret is returned once and stored hashed.
    async fn create_key(&self, site: &str) -> Result<NewKey, BackendError>;
    /// `glinto keys list`.
    async fn list_keys(&self) -> Result<Vec<KeyInfo>, BackendError>;
    /// `glinto keys revoke`.
    async fn revoke_key(&self, id: &str) -> Result<(), BackendError>;
    /// `glinto import`: enriched NDJSON lines from `input` (already
    /// decompressed), idempotently; unknown sites are created in UTC, or all
    /// events go to `site` when given. `progress` is called with the lines read.
    async fn import(
        &self,
        input: Box<dyn std::io::BufRead + Send>,
        site: Option<&str>,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<ImportSummary, BackendError>;
    /// `glinto export`: a site's events in the enriched NDJSON format.
    async fn export(
        &self,
        request: ExportRequest,
        out: Box<dyn std::io::Write + Send>,
    ) -> Result<u64, BackendError>;
}

/// Why the engine could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// This build has no engine wired in yet (see the module docs).
    #[error(
        "{what} is not yet available: the engine (glinto-pipeline) is not wired into this build"
    )]
    NotWired {
        /// What was asked (`ingest`, `glinto sites add`...).
        what: &'static str,
    },
    /// The store cannot take writes now; retry after `retry_after_s` seconds.
    #[error("the store cannot take writes now (retry in {retry_after_s} s)")]
    Unavailable {
        /// Seconds after which a retry may succeed.
        retry_after_s: u32,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The request names something that does not exist (site, key).
    #[error("{what} {name:?} does not exist")]
    NotFound {
        /// `site` or `key`.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// The request is invalid: `field` and why (Stats API errors, bad input).
    #[error("{field}: {reason}")]
    Invalid {
        /// The field at fault.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Anything else: a bug or a permanent storage failure.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What became of one event handed to [`Backend::ingest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ingested {
    /// Durable and will be counted.
    Accepted,
    /// Its site does not exist: dropped.
    UnknownSite,
}

/// A Stats API caller's rights on one site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// May read the site.
    Granted,
    /// No key was given and the site is not public (`401`).
    KeyRequired,
    /// The key is unknown, revoked or not scoped to the site (`403`).
    Denied,
}

/// Live messages, already JSON.
pub type LiveStream = Pin<Box<dyn Stream<Item = serde_json::Value> + Send>>;

/// Readiness as `GET /api/health` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Whether the store answered a write.
    pub store_writable: bool,
    /// Whether the engine runs (false while [`NotWired`]).
    pub engine_ready: bool,
    /// What is wrong, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Health {
    /// Ready to take traffic.
    pub fn is_ready(&self) -> bool {
        self.store_writable && self.engine_ready
    }
}

/// `glinto sites add`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSpec {
    /// The site's domain, as trackers send it.
    pub domain: String,
    /// IANA time zone.
    pub timezone: String,
    /// Readable without a key.
    pub public: bool,
    /// Days of data kept; `None` keeps everything.
    pub retention_days: Option<u32>,
}

/// A site as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteInfo {
    /// The domain.
    pub domain: String,
    /// IANA time zone.
    pub timezone: String,
    /// Readable without a key.
    pub public: bool,
    /// Days of data kept.
    pub retention_days: Option<u32>,
}

/// A key just created: the secret is shown once.
#[derive(Clone, PartialEq, Eq)]
pub struct NewKey {
    /// The key's public id (for `keys revoke`).
    pub id: String,
    /// The secret the caller sends as `Bearer`.
    pub secret: String,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A key as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// The key's public id.
    pub id: String,
    /// The sites it may read.
    pub sites: Vec<String>,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// What `glinto import` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ImportSummary {
    /// Lines read.
    pub lines: u64,
    /// Events newly counted.
    pub imported: u64,
    /// Events already present (an import repeated).
    pub duplicates: u64,
    /// Sites created on the way.
    pub sites_created: u64,
}

/// `glinto export`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    /// The site.
    pub site: String,
    /// First day included (`YYYY-MM-DD`), in the site's time zone.
    pub from: Option<String>,
    /// Last day included.
    pub to: Option<String>,
}

/// The opened data directory (or a throwaway memory store for `--memory`).
///
/// Opening it takes the directory's lock: a second `glinto` process on the
/// same directory fails with [`OpenError::AlreadyOpen`].
#[derive(Debug)]
pub enum Store {
    /// `--data DIR`: the persistent local store.
    Local(LocalStore),
    /// `serve --memory`: nothing survives the process.
    Memory,
}

impl Store {
    /// Opens (creating it if missing) the data directory `dir`.
    ///
    /// # Errors
    /// [`OpenError`]: the directory is held by another process, damaged,
    /// from a newer version, or not accessible.
    pub fn open_local(dir: &Path) -> Result<Self, OpenError> {
        LocalStore::open(dir).map(Store::Local)
    }

    /// The directory, for messages.
    pub fn describe(&self) -> String {
        match self {
            Store::Local(store) => store.dir().display().to_string(),
            Store::Memory => "memory (nothing is kept)".to_owned(),
        }
    }
}

/// Builds the engine on `store`: the single place where the pipeline gets
/// wired in. Until then, [`NotWired`] over the store.
///
/// # Errors
/// The store's own errors once an engine is built here; none today.
pub fn open_backend(store: Store) -> Result<Arc<dyn Backend>, BackendError> {
    Ok(Arc::new(NotWired::new(store)?))
}

/// The backend of a build without the engine: health is real (the store is
/// probed with a write), everything else fails with
/// [`BackendError::NotWired`].
#[derive(Debug)]
pub struct NotWired {
    probe: Arc<dyn StateStore>,
    dir: Option<PathBuf>,
}

impl NotWired {
    const PROBE_NAMESPACE: &'static str = "glinto-health";

    fn new(store: Store) -> Result<Self, BackendError> {
        let (probe, dir): (Arc<dyn StateStore>, _) = match store {
            Store::Local(local) => {
                let dir = local.dir().to_path_buf();
                let state = local
                    .state(Self::PROBE_NAMESPACE)
                    .map_err(|e| BackendError::Internal(Box::new(e)))?;
                (Arc::new(state), Some(dir))
            }
            Store::Memory => (
                Arc::new(glinto_storage_memory::MemoryState::new(Arc::new(
                    glinto_storage::SystemClock,
                ))),
                None,
            ),
        };
        Ok(NotWired { probe, dir })
    }

    /// The data directory, if persistent.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }
}

fn not_wired<T>(what: &'static str) -> Result<T, BackendError> {
    Err(BackendError::NotWired { what })
}

#[async_trait]
impl Backend for NotWired {
    async fn salts(&self, _now_ms: u64) -> Result<Salts, BackendError> {
        not_wired("visitor salts")
    }
    async fn ingest(&self, _events: Vec<Event>) -> Result<Vec<Ingested>, BackendError> {
        not_wired("event ingestion")
    }
    async fn authorize(&self, _key: Option<&str>, _site: &str) -> Result<Access, BackendError> {
        not_wired("the Stats API")
    }
    async fn query(&self, _request: serde_json::Value) -> Result<serde_json::Value, BackendError> {
        not_wired("the Stats API")
    }
    async fn live(&self, _site: &str) -> Result<LiveStream, BackendError> {
        not_wired("live updates")
    }
    async fn health(&self) -> Health {
        let store = self.probe.write(WriteBatch::new().put("probe", "ok")).await;
        Health {
            store_writable: store.is_ok(),
            engine_ready: false,
            detail: Some(match store {
                Ok(()) => "the engine (glinto-pipeline) is not wired into this build".to_owned(),
                Err(e) => format!("store write failed: {e}"),
            }),
        }
    }
    async fn flush(&self) -> Result<(), BackendError> {
        Ok(())
    }
    fn queue_depth(&self) -> Option<u64> {
        None
    }
    async fn add_site(&self, _site: SiteSpec) -> Result<SiteInfo, BackendError> {
        not_wired("glinto sites add")
    }
    async fn list_sites(&self) -> Result<Vec<SiteInfo>, BackendError> {
        not_wired("glinto sites list")
    }
    async fn remove_site(&self, _domain: &str) -> Result<(), BackendError> {
        not_wired("glinto sites remove")
    }
    async fn create_key(&self, _site: &str) -> Result<NewKey, BackendError> {
        not_wired("glinto keys create")
    }
    async fn list_keys(&self) -> Result<Vec<KeyInfo>, BackendError> {
        not_wired("glinto keys list")
    }
    async fn revoke_key(&self, _id: &str) -> Result<(), BackendError> {
        not_wired("glinto keys revoke")
    }
    async fn import(
        &self,
        _input: Box<dyn std::io::BufRead + Send>,
        _site: Option<&str>,
        _progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<ImportSummary, BackendError> {
        not_wired("glinto import")
    }
    async fn export(
        &self,
        _request: ExportRequest,
        _out: Box<dyn std::io::Write + Send>,
    ) -> Result<u64, BackendError> {
        not_wired("glinto export")
    }
}
