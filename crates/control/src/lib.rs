//! The control plane of Glinto: the site registry, API keys, and the
//! rotation of the visitor-hash salts, generic over the storage traits.
//!
//! | Piece | Lives in | Published to |
//! |---|---|---|
//! | [`Registry`]: sites ([`SiteConfig`]) | a [`StateStore`](glinto_storage::StateStore) (Cloudflare: one "registry" Durable Object), `site/<domain>` | a [`KvStore`](glinto_storage::KvStore) (Workers KV), `site/<domain>`, for the edge ([`read_snapshot`]) |
//! | [`Registry`]: API keys (SHA-256 hashes only) | the same state store, `key/<id>` | nowhere |
//! | [`SaltManager`]: the visitor salts | the state store of whoever hashes visitors (the registry or a site's Durable Object), `salts` | nowhere: never in KV, the object store, logs or `Debug` |
//!
//! The state store is the source of truth; KV holds read-mostly snapshots
//! that readers use without waking the writer, refreshed on every change and
//! by [`Registry::sync_snapshots`], with a TTL so that a snapshot whose
//! deletion failed goes away by itself. Persisted bytes are version-tagged
//! (`docs/wire-format.md`, "Control plane records"); `docs/privacy.md` says
//! how keys and salts are kept.
//!
//! ```
//! # futures::executor::block_on(async {
//! use std::sync::Arc;
//! use glinto_control::{KeyScope, NewSite, Registry, SiteUpdate};
//! use glinto_storage::{Clock, ManualClock, Timestamp};
//! use glinto_storage_memory::{MemoryKv, MemoryState};
//!
//! let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(1_764_979_200_000)));
//! let registry = Registry::new(MemoryState::new(clock.clone()), MemoryKv::new(clock.clone()));
//! let site = registry.add_site(NewSite::new("Example.com", "asia/kolkata"), clock.now()).await.unwrap();
//! assert_eq!((site.domain.as_str(), site.time_zone.as_str()), ("example.com", "Asia/Kolkata"));
//!
//! // The edge reads the snapshot from KV, not from the registry.
//! let published = glinto_control::read_snapshot(registry.kv(), "example.com").await.unwrap();
//! assert_eq!(published, Some(site));
//!
//! // An API key: 32 bytes from the caller's CSPRNG; the text is shown once.
//! let (info, key) = registry
//!     .create_key(KeyScope::sites(["example.com"]), clock.now(), [42; 32])
//!     .await
//!     .unwrap();
//! let text = key.expose_secret();
//! assert_eq!(registry.authorize(&text, "example.com").await.unwrap(), info.id);
//! assert_eq!(registry.authorize(&text, "other.org").await.unwrap_err().status(), 403);
//! # let _ = SiteUpdate::new();
//! # });
//! ```
//!
//! # No runtime, no clock, no randomness
//!
//! Everything is plain `async` over the storage traits (no tokio; it runs in
//! a Durable Object and compiles to `wasm32-unknown-unknown`). Times are
//! passed in (`now: Timestamp`); random bytes for keys and salts are passed
//! in from the caller's CSPRNG (`crypto.getRandomValues`, `getrandom`).
//! Changes through one [`Registry`] or [`SaltManager`] are serialized by an
//! async lock; like every state store, each is owned by one process.
//!
//! # Time zones
//!
//! A site's zone is an IANA name checked against jiff's *bundled* tz
//! database (no `/usr/share/zoneinfo` in a Worker), so the server and the
//! Worker accept the same names and compute the same days. Changing a
//! site's zone is recorded here ([`SiteChange::time_zone_changed`]); the
//! pipeline rebuilds the site's day and month cells from its archive.

mod codec;
mod error;
mod key;
mod registry;
mod salts;
mod site;

pub use error::{Error, Result};
pub use key::{ApiKey, AuthError, KeyId, KeyInfo, KeyParseError, KeyScope, MAX_SCOPE_SITES};
pub use registry::{
    KEY_PREFIX, Registry, RegistryOptions, SITE_PREFIX, SyncReport, read_snapshot, site_key,
};
pub use salts::SaltManager;
pub use site::{
    DEFAULT_HOUR_CELLS_DAYS, DEFAULT_SHARDS, MAX_HOUR_CELLS_DAYS, MAX_RETENTION_DAYS, MAX_SHARDS,
    MAX_TIME_ZONE_BYTES, NewSite, SiteChange, SiteConfig, SiteUpdate, canonical_time_zone,
    normalize_domain,
};
