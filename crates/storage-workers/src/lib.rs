//! Glinto's storage contracts on Cloudflare's primitives, inside a Worker:
//!
//! | Store | Trait | Binding | Capability |
//! |---|---|---|---|
//! | `WorkersKv` | [`KvStore`](glinto_storage::KvStore) | a Workers KV namespace | [`Capability::workers_kv`](glinto_storage::Capability::workers_kv), metadata ≤ 1022 bytes |
//! | `DurableObjectStore` | [`StateStore`](glinto_storage::StateStore) | a SQLite-backed Durable Object's storage | [`Capability::durable_object_sqlite`](glinto_storage::Capability::durable_object_sqlite) |
//! | `R2Store` | [`ObjectStore`](glinto_storage::ObjectStore) | an R2 bucket | [`Capability::r2`](glinto_storage::Capability::r2) |
//!
//! This is the only crate of the workspace that depends on `worker`. The
//! stores exist only on `wasm32` (inside workerd); on other targets the crate
//! holds just its target-independent helpers, so host builds never compile
//! the Workers bindings (so the stores' own documentation is in the wasm32
//! build: `cargo doc --target wasm32-unknown-unknown`). `WorkersClock` reads
//! `Date.now()`.
//!
//! Every store checks its inputs against its [`Capability`](glinto_storage::Capability)
//! before calling the runtime, so a refused call has the same typed error as
//! on every other backend and writes nothing. Runtime failures become
//! [`Error::Transient`](glinto_storage::Error::Transient) when the message
//! says retrying can help (rate limits, overload, resets, network) and
//! [`Error::Permanent`](glinto_storage::Error::Permanent) otherwise.
//!
//! The whole conformance suite of `glinto-storage` runs against these stores
//! inside workerd (through Miniflare, with real KV, Durable Object and R2
//! bindings): see `conformance-worker/` and `tests/workerd.rs`, and
//! `docs/storage-workers.md` for the mapping of every method to its binding
//! call and the sources of every limit.

#[cfg(any(target_arch = "wasm32", test))]
mod cursor;

#[cfg(target_arch = "wasm32")]
mod clock;
#[cfg(target_arch = "wasm32")]
mod error;
#[cfg(target_arch = "wasm32")]
mod kv;
#[cfg(target_arch = "wasm32")]
mod object;
#[cfg(target_arch = "wasm32")]
mod state;

#[cfg(target_arch = "wasm32")]
pub use clock::WorkersClock;
#[cfg(target_arch = "wasm32")]
pub use kv::WorkersKv;
#[cfg(target_arch = "wasm32")]
pub use object::R2Store;
#[cfg(target_arch = "wasm32")]
pub use state::DurableObjectStore;
