//! Storage contracts for Glinto, shaped after the three Cloudflare primitives the
//! pipeline runs on, so that the same pipeline code runs in a Worker, in a Rust
//! service and on a laptop:
//!
//! | Trait | Stands for | Consistency | Used for |
//! |---|---|---|---|
//! | [`KvStore`] | Workers KV | eventual (≤ 60 s across locations) | published read-mostly snapshots, ephemeral counters — never the source of truth |
//! | [`StateStore`] | a Durable Object's storage | strong, one writer, atomic batches | sessions, de-duplication windows, salts, not-yet-archived aggregates |
//! | [`ObjectStore`] | R2 | strong, conditional writes | the long-term archive of events and compacted rollups |
//!
//! Every trait documents its `# Contract` (consistency, atomicity, ordering,
//! size limits, what a failure leaves behind) and its `# Errors`. All
//! operations report failures through one [`Error`] enum whose variants say
//! what the caller can do about them ([`Error::is_retryable`]). What a
//! particular backend supports — TTLs, read-after-write, conditional writes,
//! size and batch limits — is a [`Capability`] value the backend returns, not
//! something it degrades silently.
//!
//! The traits are deliberately small; conveniences (single-key state writes,
//! "get or fail") live in the extension traits [`KvStoreExt`],
//! [`StateStoreExt`] and [`ObjectStoreExt`], which are implemented for every
//! store and cannot be overridden to mean something else.
//!
//! # Futures on wasm32 and on native runtimes
//!
//! Futures returned by the Workers runtime hold JavaScript values and are not
//! `Send`; a native multi-threaded runtime (tokio) needs `Send` futures to move
//! tasks between threads. The traits are declared with [`macro@async_trait`]: on
//! every target except `wasm32` the methods return
//! `Pin<Box<dyn Future + Send>>` and the traits require `Send + Sync`; on
//! `wasm32` the attribute is `async_trait(?Send)` and the futures carry no
//! `Send` bound. The marker traits [`MaybeSend`] and [`MaybeSync`] express
//! that split in bounds (they are `Send`/`Sync` natively and empty on wasm32).
//! A backend implements a trait with the same pair of attributes:
//!
//! ```
//! # use glinto_storage::{async_trait, Capability, KvEntry, KvListOptions, KvListPage, KvPutOptions, KvStore, Result};
//! # use bytes::Bytes;
//! #[derive(Debug)]
//! struct Nothing;
//!
//! #[cfg_attr(not(target_arch = "wasm32"), async_trait)]
//! #[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
//! impl KvStore for Nothing {
//!     fn capability(&self) -> Capability { Capability::workers_kv() }
//!     async fn get(&self, _key: &str) -> Result<Option<KvEntry>> { Ok(None) }
//!     async fn put(&self, _key: &str, _value: Bytes, _options: KvPutOptions) -> Result<()> { Ok(()) }
//!     async fn delete(&self, _key: &str) -> Result<()> { Ok(()) }
//!     async fn list(&self, _options: KvListOptions) -> Result<KvListPage> { Ok(KvListPage::default()) }
//! }
//! ```
//!
//! Why boxed futures and not native `async fn` in traits? Native async trait
//! methods are not dyn-compatible, and the pipeline holds its stores as
//! `Arc<dyn StateStore>` chosen at start-up (memory, local, Workers). One box
//! per storage call is noise next to the I/O it performs. The same choice is
//! made by opendal (`MaybeSend`) and by workers-rs; any `unsafe impl Send`
//! needed to cross the boundary belongs in the Workers adapter, not here.
//!
//! # Why not an existing abstraction?
//!
//! - *`object_store` (arrow-rs)*: the model for [`ObjectStore`], `PutMode` and
//!   the error enum, but it covers objects only, its futures are `Send`
//!   (unusable inside a Worker) and it pulls an HTTP stack into the wasm
//!   build. A Rust service can still reach R2 through it, behind this trait.
//! - *opendal*: one trait for every service makes KV, Durable Object state
//!   and objects look alike, while the pipeline depends on their
//!   differences (eventual vs strong consistency, atomic batches, alarms,
//!   compare-and-swap). Its `Capability` and `MaybeSend` ideas are kept.
//! - *A filesystem or SQL interface*: neither Workers KV nor R2 offers
//!   renames, appends or transactions across keys; an interface promising
//!   them could not be implemented on the edge.
//!
//! # Time
//!
//! TTL expiry and alarms depend on "now". Backends take a [`Clock`]:
//! [`SystemClock`] in production, [`ManualClock`] in tests, so that an hour of
//! TTL passes in one call to [`ManualClock::advance`].
//!
//! # The conformance suite
//!
//! With the `conformance` feature, the `conformance` module provides public async
//! functions that exercise every clause of each contract, and one-call
//! `run_all_*` entry points that a backend's tests call (also through
//! `Box<dyn …>` and `Arc<dyn …>`).

mod capability;
mod clock;
mod error;
mod kv;
mod object;
mod state;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use async_trait::async_trait;
pub use capability::Capability;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use clock::SystemClock;
pub use clock::{Clock, ManualClock, Timestamp};
pub use error::{BoxError, Error, Limit, Result};
pub use kv::{
    Expiration, KvEntry, KvKey, KvListOptions, KvListPage, KvPutOptions, KvStore, KvStoreExt,
};
pub use object::{
    ETag, GetRange, Object, ObjectListOptions, ObjectListPage, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMode,
};
pub use state::{StateListOptions, StateStore, StateStoreExt, WriteBatch, WriteOp};

/// `Send` on native targets, no bound on `wasm32` (where Workers futures and
/// JavaScript handles are not `Send`). Blanket-implemented; never implement it.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}

/// `Send` on native targets, no bound on `wasm32` (where Workers futures and
/// JavaScript handles are not `Send`). Blanket-implemented; never implement it.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` on native targets, no bound on `wasm32`. Blanket-implemented.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}

/// `Sync` on native targets, no bound on `wasm32`. Blanket-implemented.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}
