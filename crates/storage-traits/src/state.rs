//! [`StateStore`]: the shape of a Durable Object's storage.

use std::ops::Bound;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::capability::Capability;
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::{MaybeSend, MaybeSync};

/// One operation of a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    /// Set `key` to the value.
    Put(String, Bytes),
    /// Remove `key` (no-op if absent).
    Delete(String),
}

impl WriteOp {
    /// The key this operation writes.
    pub fn key(&self) -> &str {
        match self {
            WriteOp::Put(key, _) | WriteOp::Delete(key) => key,
        }
    }
}

/// Puts and deletes applied by [`StateStore::write`] all together or not at
/// all, in order (a later operation on the same key wins).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a put of `value` under `key`.
    pub fn put(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.ops.push(WriteOp::Put(key.into(), value.into()));
        self
    }

    /// Adds a delete of `key`.
    pub fn delete(mut self, key: impl Into<String>) -> Self {
        self.ops.push(WriteOp::Delete(key.into()));
        self
    }

    /// Adds `op`.
    pub fn push(&mut self, op: WriteOp) {
        self.ops.push(op);
    }

    /// The operations, in order.
    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    /// Takes the operations out.
    pub fn into_ops(self) -> Vec<WriteOp> {
        self.ops
    }

    /// The number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Checks every key and value and the batch size against `capability`:
    /// what a backend calls before writing anything.
    ///
    /// # Errors
    /// The first [`Error::InvalidKey`] or [`Error::TooLarge`] found.
    pub fn validate(&self, capability: &Capability) -> Result<()> {
        capability.check_batch(self.ops.len())?;
        for op in &self.ops {
            capability.check_key(op.key())?;
            if let WriteOp::Put(key, value) = op {
                capability.check_value(value.len())?;
                capability.check_entry(key.len(), value.len())?;
            }
        }
        Ok(())
    }
}

impl FromIterator<WriteOp> for WriteBatch {
    fn from_iter<I: IntoIterator<Item = WriteOp>>(iter: I) -> Self {
        WriteBatch {
            ops: iter.into_iter().collect(),
        }
    }
}

/// Options of [`StateStore::list`]: a key range, a prefix, a direction and a
/// limit (the Durable Object `list()` options).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StateListOptions {
    /// Only keys starting with this prefix (empty: all keys).
    pub prefix: String,
    /// Lower bound of the key range (DO `start` = `Included`, `startAfter` =
    /// `Excluded`).
    pub start: Bound<String>,
    /// Upper bound of the key range (DO `end` = `Excluded`).
    pub end: Bound<String>,
    /// Descending order; `limit` then keeps the *last* keys of the range.
    pub reverse: bool,
    /// At most this many entries (`None`: all, up to `max_list_limit`).
    pub limit: Option<usize>,
}

impl Default for StateListOptions {
    fn default() -> Self {
        StateListOptions {
            prefix: String::new(),
            start: Bound::Unbounded,
            end: Bound::Unbounded,
            reverse: false,
            limit: None,
        }
    }
}

impl StateListOptions {
    /// Every key starting with `prefix`.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        StateListOptions {
            prefix: prefix.into(),
            ..Self::default()
        }
    }

    /// Keys in `start..end` (bounds as given).
    pub fn range(start: Bound<String>, end: Bound<String>) -> Self {
        StateListOptions {
            start,
            end,
            ..Self::default()
        }
    }

    /// Start after `key` (for paging forward).
    pub fn start_after(mut self, key: impl Into<String>) -> Self {
        self.start = Bound::Excluded(key.into());
        self
    }

    /// End before `key` (for paging backward).
    pub fn end_before(mut self, key: impl Into<String>) -> Self {
        self.end = Bound::Excluded(key.into());
        self
    }

    /// Descending order.
    pub fn reverse(mut self) -> Self {
        self.reverse = true;
        self
    }

    /// At most `limit` entries.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Whether `key` is selected by the prefix and both bounds.
    pub fn contains(&self, key: &str) -> bool {
        let above = match &self.start {
            Bound::Included(s) => key >= s.as_str(),
            Bound::Excluded(s) => key > s.as_str(),
            Bound::Unbounded => true,
        };
        let below = match &self.end {
            Bound::Included(e) => key <= e.as_str(),
            Bound::Excluded(e) => key < e.as_str(),
            Bound::Unbounded => true,
        };
        above && below && key.starts_with(self.prefix.as_str())
    }
}

/// A Durable-Object-shaped transactional store with one writer and an alarm.
///
/// # Contract
///
/// - **One writer.** A store belongs to one single-threaded owner (the
///   Durable Object instance). Operations take effect in the order they are
///   issued and are linearizable: a read issued after a write completed sees
///   it (strong read-after-write). Backends accept concurrent calls but the
///   pipeline never relies on interleaving them.
/// - **Atomic batches.** [`write`](StateStore::write) applies all of its puts
///   and deletes or none of them. A batch that fails validation (too many
///   keys, one key or value too large, an empty key) writes nothing. Readers
///   never observe part of a batch. A later operation on the same key within
///   a batch wins.
/// - **Durability.** An acknowledged `write` survives the owner's eviction and
///   restart (what "acknowledged" means for a write-behind cache is defined
///   by that cache; see glinto-storage-memory's `WriteBehind`).
/// - **Listing.** `list` returns the selected entries with their values in
///   ascending (or, with `reverse`, descending) byte order of their UTF-8
///   keys; `limit` keeps the first entries in that order. There is no cursor:
///   page with `start_after` / `end_before` the last key seen.
/// - **Alarm.** At most one pending wake-up time. `set_alarm` replaces it,
///   `delete_alarm` clears it (idempotent), `get_alarm` reads it. The store
///   only keeps the time; running the handler is the runtime's job.
/// - **Limits.** Keys 1..=[`Capability::max_key_bytes`] bytes (DO: 2 KiB);
///   values ≤ [`Capability::max_value_bytes`] (DO KV backend 128 KiB); key
///   and value together ≤ [`Capability::max_entry_bytes`] (SQLite backend
///   2 MB); ≤ [`Capability::max_batch_keys`] operations per `write`
///   and keys per `get_many` (DO: 128).
/// - **Deletes** are idempotent.
/// - **Failure.** A failed `write` leaves the store as it was before the
///   batch (after [`Error::Transient`] possibly with the whole batch applied;
///   retry the same batch — puts and deletes are idempotent).
///
/// # Errors
///
/// [`Error::InvalidKey`], [`Error::TooLarge`] (key, value, key + value, batch),
/// [`Error::InvalidArgument`] (zero list limit), [`Error::NotSupported`]
/// (alarms on a store without them), [`Error::Transient`],
/// [`Error::Permanent`].
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait StateStore: MaybeSend + MaybeSync + std::fmt::Debug {
    /// What this store supports and enforces.
    fn capability(&self) -> Capability;

    /// The value of `key`, or `None`.
    async fn get(&self, key: &str) -> Result<Option<Bytes>>;

    /// The values of `keys`, in the same order (`None` where absent), read
    /// from one consistent snapshot.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>>;

    /// Applies `batch` atomically. An empty batch succeeds and does nothing.
    async fn write(&self, batch: WriteBatch) -> Result<()>;

    /// The selected entries with their values, ordered.
    async fn list(&self, options: StateListOptions) -> Result<Vec<(String, Bytes)>>;

    /// The pending alarm time, if any.
    async fn get_alarm(&self) -> Result<Option<Timestamp>>;

    /// Sets the one pending alarm to `at` (replacing any other).
    async fn set_alarm(&self, at: Timestamp) -> Result<()>;

    /// Clears the pending alarm; succeeds if there is none.
    async fn delete_alarm(&self) -> Result<()>;
}

macro_rules! forward_state {
    ($($ty:ty),*) => {$(
        #[cfg_attr(not(target_arch = "wasm32"), async_trait)]
        #[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
        impl<S: StateStore + ?Sized> StateStore for $ty {
            fn capability(&self) -> Capability {
                (**self).capability()
            }
            async fn get(&self, key: &str) -> Result<Option<Bytes>> {
                (**self).get(key).await
            }
            async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
                (**self).get_many(keys).await
            }
            async fn write(&self, batch: WriteBatch) -> Result<()> {
                (**self).write(batch).await
            }
            async fn list(&self, options: StateListOptions) -> Result<Vec<(String, Bytes)>> {
                (**self).list(options).await
            }
            async fn get_alarm(&self) -> Result<Option<Timestamp>> {
                (**self).get_alarm().await
            }
            async fn set_alarm(&self, at: Timestamp) -> Result<()> {
                (**self).set_alarm(at).await
            }
            async fn delete_alarm(&self) -> Result<()> {
                (**self).delete_alarm().await
            }
        }
    )*};
}

forward_state!(Box<S>, Arc<S>, &S);

/// Conveniences over any [`StateStore`]; implemented for every store.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait StateStoreExt: StateStore {
    /// Writes one key (a batch of one).
    async fn put(&self, key: &str, value: Bytes) -> Result<()> {
        self.write(WriteBatch::new().put(key, value)).await
    }

    /// Deletes one key (a batch of one).
    async fn delete(&self, key: &str) -> Result<()> {
        self.write(WriteBatch::new().delete(key)).await
    }

    /// The value of `key`, or [`Error::NotFound`].
    async fn get_required(&self, key: &str) -> Result<Bytes> {
        self.get(key).await?.ok_or_else(|| Error::NotFound {
            key: key.to_owned(),
        })
    }
}

impl<S: StateStore + ?Sized> StateStoreExt for S {}
