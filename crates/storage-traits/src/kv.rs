//! [`KvStore`]: the shape of Workers KV.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::capability::Capability;
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::{MaybeSend, MaybeSync};

/// When a KV entry expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiration {
    /// At this time (Workers KV `expiration`, whole seconds there).
    At(Timestamp),
    /// This long after the write (Workers KV `expirationTtl`).
    After(Duration),
}

impl Expiration {
    /// The absolute expiry time of a write made at `now`.
    pub fn deadline(self, now: Timestamp) -> Timestamp {
        match self {
            Expiration::At(at) => at,
            Expiration::After(ttl) => now.saturating_add(ttl),
        }
    }
}

/// Options of [`KvStore::put`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KvPutOptions {
    /// When the entry expires; `None`: never.
    pub expiration: Option<Expiration>,
    /// Metadata stored with the entry, returned by `get` and `list`
    /// (Workers KV stores it as JSON; keep it small and non-secret).
    pub metadata: Option<String>,
}

impl KvPutOptions {
    /// No expiration, no metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Expire `ttl` after the write.
    pub fn expire_after(mut self, ttl: Duration) -> Self {
        self.expiration = Some(Expiration::After(ttl));
        self
    }

    /// Expire at `at`.
    pub fn expire_at(mut self, at: Timestamp) -> Self {
        self.expiration = Some(Expiration::At(at));
        self
    }

    /// Store `metadata` with the entry.
    pub fn metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }
}

/// A value read from a [`KvStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvEntry {
    /// The value.
    pub value: Bytes,
    /// The metadata written with it.
    pub metadata: Option<String>,
}

/// One key of a [`KvListPage`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvKey {
    /// The key.
    pub name: String,
    /// When it expires, if it does.
    pub expiration: Option<Timestamp>,
    /// The metadata written with it.
    pub metadata: Option<String>,
}

/// Options of [`KvStore::list`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KvListOptions {
    /// Only keys starting with this prefix (empty: all keys).
    pub prefix: String,
    /// Continue after the page that returned this cursor.
    pub cursor: Option<String>,
    /// At most this many keys (default and maximum: `max_list_limit`).
    pub limit: Option<usize>,
}

impl KvListOptions {
    /// List keys starting with `prefix`.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        KvListOptions {
            prefix: prefix.into(),
            ..Self::default()
        }
    }

    /// Continue from `cursor`.
    pub fn cursor(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }

    /// At most `limit` keys per page.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// One page of [`KvStore::list`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KvListPage {
    /// Keys in ascending byte order of their UTF-8 encoding.
    pub keys: Vec<KvKey>,
    /// `Some`: more keys may follow; pass it back as
    /// [`KvListOptions::cursor`]. `None`: the listing is complete.
    pub cursor: Option<String>,
}

impl KvListPage {
    /// A page of `keys` followed by `cursor`.
    pub fn new(keys: Vec<KvKey>, cursor: Option<String>) -> Self {
        KvListPage { keys, cursor }
    }
}

/// A Workers-KV-shaped key-value store.
///
/// # Contract
///
/// - **Consistency.** Eventually consistent. A write is visible everywhere
///   within about 60 seconds in production; whether a read right after a write
///   sees it is [`Capability::read_after_write`]. Concurrent writes of one key
///   resolve last-writer-wins; there are no conditional writes. Never the
///   source of truth: use it for published snapshots and ephemeral counters.
/// - **Atomicity.** Each `put` / `delete` of one key is atomic: a reader sees
///   the old or the new value with its metadata, never a mix or a prefix.
///   Nothing spans keys.
/// - **Expiry.** An entry written with an [`Expiration`] is absent from `get`
///   and `list` once the store's [`crate::Clock`] reaches its deadline
///   (`Expiration::At` in the past or `After` below
///   [`Capability::min_ttl`] is rejected). A later `put` without expiration
///   makes the key permanent again.
/// - **Listing.** Keys come in ascending byte order of their UTF-8 encoding,
///   each once; following the cursor until it is `None` visits every key that
///   existed, unchanged, for the whole listing exactly once. A page may hold
///   fewer than `limit` keys (even none) while the cursor is `Some`; keep
///   going. Values are not returned by `list`.
/// - **Limits.** Keys: 1..=[`Capability::max_key_bytes`] bytes (Workers: 512;
///   the names `.` and `..` are rejected by Workers KV — avoid them). Values:
///   ≤ [`Capability::max_value_bytes`] (Workers: 25 MiB); metadata ≤
///   [`Capability::max_metadata_bytes`]; list `limit` in
///   1..=[`Capability::max_list_limit`] (Workers: 1000). Writes to one key:
///   ≤ [`Capability::max_writes_per_key_per_second`] in production.
/// - **Deletes** are idempotent: deleting an absent key succeeds.
/// - **Failure.** A failed `put` or `delete` leaves the key either unchanged
///   or fully written; which one is unknown after [`Error::Transient`], so
///   retry the same write.
///
/// # Errors
///
/// [`Error::InvalidKey`] (empty key), [`Error::TooLarge`] (key, value,
/// metadata, list limit), [`Error::InvalidArgument`] (expiration below the
/// minimum, malformed cursor, zero limit), [`Error::NotSupported`]
/// (expiration or metadata on a store without them), [`Error::Transient`]
/// (including rate limiting), [`Error::Permanent`]. Invalid input is rejected
/// before anything is written.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait KvStore: MaybeSend + MaybeSync + std::fmt::Debug {
    /// What this store supports and enforces.
    fn capability(&self) -> Capability;

    /// The value and metadata of `key`, or `None` if absent or expired.
    async fn get(&self, key: &str) -> Result<Option<KvEntry>>;

    /// Writes `value` (and `options`' metadata and expiration) under `key`,
    /// replacing any previous value, metadata and expiration.
    async fn put(&self, key: &str, value: Bytes, options: KvPutOptions) -> Result<()>;

    /// Removes `key`; succeeds if it is absent.
    async fn delete(&self, key: &str) -> Result<()>;

    /// One page of the keys starting with `options.prefix`.
    async fn list(&self, options: KvListOptions) -> Result<KvListPage>;
}

macro_rules! forward_kv {
    ($($ty:ty),*) => {$(
        #[cfg_attr(not(target_arch = "wasm32"), async_trait)]
        #[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
        impl<S: KvStore + ?Sized> KvStore for $ty {
            fn capability(&self) -> Capability {
                (**self).capability()
            }
            async fn get(&self, key: &str) -> Result<Option<KvEntry>> {
                (**self).get(key).await
            }
            async fn put(&self, key: &str, value: Bytes, options: KvPutOptions) -> Result<()> {
                (**self).put(key, value, options).await
            }
            async fn delete(&self, key: &str) -> Result<()> {
                (**self).delete(key).await
            }
            async fn list(&self, options: KvListOptions) -> Result<KvListPage> {
                (**self).list(options).await
            }
        }
    )*};
}

forward_kv!(Box<S>, Arc<S>, &S);

/// Conveniences over any [`KvStore`]; implemented for every store.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait KvStoreExt: KvStore {
    /// The value of `key`, or [`Error::NotFound`].
    async fn get_required(&self, key: &str) -> Result<KvEntry> {
        self.get(key).await?.ok_or_else(|| Error::NotFound {
            key: key.to_owned(),
        })
    }

    /// Every key starting with `prefix`, following cursors to the end
    /// (`page_size` keys per call).
    async fn list_all(&self, prefix: &str, page_size: usize) -> Result<Vec<KvKey>> {
        let mut keys = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .list(
                    KvListOptions::prefix(prefix)
                        .cursor(cursor)
                        .limit(page_size),
                )
                .await?;
            keys.extend(page.keys);
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(keys),
            }
        }
    }
}

impl<S: KvStore + ?Sized> KvStoreExt for S {}
