//! The persistent embedded storage backend of Glinto: [`KvStore`](glinto_storage::KvStore),
//! [`StateStore`](glinto_storage::StateStore) and [`ObjectStore`](glinto_storage::ObjectStore)
//! in one local data directory, for `glinto serve` and for Rust services that want analytics
//! without a cloud.
//!
//! ```
//! use bytes::Bytes;
//! use glinto_storage::{ObjectStore, PutMode, StateStore, WriteBatch};
//! use glinto_storage_local::LocalStore;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let store = LocalStore::open(dir.path())?;
//! let state = store.state("aggregator")?;
//! let archive = store.objects("archive")?;
//! futures::executor::block_on(async {
//!     state.write(WriteBatch::new().put("salt", "s1").put("day", "2026-11-28")).await?;
//!     archive.put("events/2026-11-28", Bytes::from_static(b"..."), PutMode::Create).await?;
//!     Ok::<_, glinto_storage::Error>(())
//! })?;
//! # Ok(()) }
//! ```
//!
//! # Platforms
//!
//! Native only: it needs a file system, file locks and fsync. On `wasm32` the crate compiles to
//! nothing (so `cargo check --workspace --target wasm32-unknown-unknown` stays green); a Worker
//! uses the Workers KV / Durable Object / R2 backend instead.
//!
//! # Guarantees
//!
//! - **Durability.** Every acknowledged write is one redb write transaction committed with
//!   [`redb::Durability::Immediate`]: the call returns after the data and the new root are
//!   fsynced, so it survives `kill -9` and power loss. A write that had not returned is absent
//!   whole after a crash (redb's commit is a checksummed root swap). `tests/crash.rs` kills a
//!   writer mid-stream and checks both halves.
//! - **One process.** [`LocalStore::open`] takes an exclusive lock on `<dir>/LOCK` (and redb
//!   locks its file too); a second open of the same directory, from another process or from
//!   this one, fails with [`OpenError::AlreadyOpen`]. The operating system releases the lock
//!   when the holder dies, so a crash never leaves a stale lock. A child process spawned by
//!   another thread briefly shares the lock until its `exec`; a reopen waits that out (up to
//!   2 s) instead of reporting it (see `docs/storage-local.md`, "Locking").
//! - **Corruption is reported.** Opening verifies every page checksum of the file by default
//!   ([`LocalOptions::verify_on_open`]); every stored record also carries a CRC-32 checked on
//!   each read, so a damaged value surfaces as [`glinto_storage::Error::Permanent`] with a
//!   [`BackendError::Corrupted`] source, never as data.
//! - **Space.** redb is copy-on-write: freed pages stay in the file for reuse until
//!   [`LocalStore::compact`] gives them back (measured in `docs/benchmarks.md`).
//! - **Time** comes from the injected [`glinto_storage::Clock`] ([`LocalOptions::clock`]):
//!   expired KV entries are invisible at once and purged lazily by later writes (and by
//!   [`LocalKv::purge_expired`]).
//!
//! # Blocking
//!
//! The trait methods are `async` but run their redb transaction inline, on the calling task:
//! a read takes microseconds, a write about one fsync. This keeps the backend runtime-agnostic
//! (no tokio dependency, works under `futures::executor::block_on`) and strictly ordered; a
//! tokio service that cannot afford a blocked worker thread for an fsync wraps calls in
//! `spawn_blocking`.
//!
//! # Why redb, and why everything in it
//!
//! redb is a pure-Rust, copy-on-write B-tree with checksummed, atomic, fsynced commits; it
//! gives multi-key atomic batches (the Durable Object contract) and atomic compare-and-swap
//! (R2's conditional puts) for free, where plain files would need a write-ahead log of our own.
//! Object bodies live in redb too, in chunks of just under 64 KiB, rather than as files with
//! atomic renames: a put of metadata and body is then one transaction (no orphaned files, no
//! rename/fsync-directory dance, no second locking scheme), and ranged reads load only the
//! chunks they cover. The cost is that bodies are capped at [`MAX_OBJECT_BYTES`] (1 GiB) and
//! are written once more than a file would be (redb's copy-on-write). Why not SQLite: a C
//! dependency and a second query language, for what is a sorted map. The on-disk layout is in
//! `docs/storage-local.md`.

#![cfg(not(target_arch = "wasm32"))]

mod cursor;
mod engine;
mod error;
mod kv;
mod lock;
mod object;
mod record;
mod state;
mod store;

pub use error::{BackendError, OpenError};
pub use kv::LocalKv;
pub use object::{LocalObjects, MAX_OBJECT_BYTES};
pub use state::LocalState;
pub use store::{DATABASE_FILE, LocalOptions, LocalStore, MAX_NAME_BYTES, Space};

/// The name of the lock file inside a data directory.
pub const LOCK_FILE: &str = lock::LOCK_FILE;
