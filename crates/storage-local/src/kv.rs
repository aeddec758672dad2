//! [`LocalKv`]: a [`KvStore`] in the data directory's redb file.

use std::sync::Arc;

use bytes::Bytes;
use glinto_storage::{
    Capability, Error, Expiration, KvEntry, KvKey, KvListOptions, KvListPage, KvPutOptions,
    KvStore, Result, Timestamp, async_trait,
};

use crate::cursor::Resume;
use crate::engine::{KvTables, KvValue};
use crate::error::{backend, list_limit, utf8};
use crate::record;
use crate::store::Shared;

/// How many expired entries one transaction of [`LocalKv::purge_expired`] deletes.
const PURGE_BATCH: usize = 1024;

/// One KV namespace of a [`crate::LocalStore`].
///
/// Strongly consistent (a read sees every acknowledged write: `read_after_write` is true,
/// unlike Workers KV) and durable: `put` and `delete` return after an fsynced redb commit.
/// Expired entries are invisible at once (judged by the store's clock) and deleted lazily:
/// every write purges up to 16 of them through an expiry index, and
/// [`LocalKv::purge_expired`] deletes the rest on demand.
///
/// The redb calls run inline in the calling task: each operation is one short transaction,
/// and a write blocks its thread for the fsync (about a millisecond on an SSD). Services that
/// must never block an async worker thread call these from `spawn_blocking`.
#[derive(Debug, Clone)]
pub struct LocalKv {
    shared: Arc<Shared>,
    tables: KvTables,
}

impl LocalKv {
    pub(crate) fn new(shared: Arc<Shared>, tables: KvTables) -> Self {
        Self { shared, tables }
    }

    /// Deletes every entry expired by now; returns how many expiry-index entries were removed
    /// (each an expired entry, or a stale index entry of an overwritten one).
    ///
    /// # Errors
    /// [`Error::Transient`] or [`Error::Permanent`] from the database.
    pub fn purge_expired(&self) -> Result<usize> {
        let now = self.shared.now().as_unix_millis();
        let mut total = 0usize;
        loop {
            let n = self
                .shared
                .engine
                .kv_purge(&self.tables, now, PURGE_BATCH)
                .map_err(backend)?;
            total = total.saturating_add(n);
            if n < PURGE_BATCH {
                return Ok(total);
            }
        }
    }

    fn deadline(&self, expiration: Option<Expiration>, now: Timestamp) -> Result<Option<u64>> {
        let Some(expiration) = expiration else {
            return Ok(None);
        };
        let min = self.capability().min_ttl;
        let deadline = expiration.deadline(now);
        if deadline.saturating_duration_since(now) < min {
            return Err(Error::InvalidArgument {
                field: "expiration",
                reason: format!(
                    "{expiration:?} is less than the minimum TTL of {min:?} after now ({now}); \
                     use a later time or a longer TTL"
                ),
            });
        }
        Ok(Some(deadline.as_unix_millis()))
    }
}

/// The local KV capability: Workers KV's limits, the 60 s minimum TTL included (so that what
/// works here works in production), with this backend's stronger guarantee of
/// read-after-write and no per-key write rate limit.
pub(crate) fn capability() -> Capability {
    let mut c = Capability::workers_kv();
    c.backend = "local";
    c.read_after_write = true;
    c.max_writes_per_key_per_second = None;
    c
}

fn metadata_string(table: &str, bytes: Option<Vec<u8>>) -> Result<Option<String>> {
    bytes.map(|b| utf8(table, "metadata", b)).transpose()
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl KvStore for LocalKv {
    fn capability(&self) -> Capability {
        capability()
    }

    async fn get(&self, key: &str) -> Result<Option<KvEntry>> {
        self.capability().check_key(key)?;
        let now = self.shared.now().as_unix_millis();
        let Some(KvValue {
            value, metadata, ..
        }) = self
            .shared
            .engine
            .kv_get(&self.tables, key.as_bytes(), now)
            .map_err(backend)?
        else {
            return Ok(None);
        };
        Ok(Some(KvEntry {
            value: Bytes::from(value),
            metadata: metadata_string(self.tables.entries(), metadata)?,
        }))
    }

    async fn put(&self, key: &str, value: Bytes, options: KvPutOptions) -> Result<()> {
        let cap = self.capability();
        cap.check_key(key)?;
        cap.check_value(value.len())?;
        if let Some(m) = &options.metadata {
            cap.check_metadata(m.len())?;
        }
        let now = self.shared.now();
        let expires_at_ms = self.deadline(options.expiration, now)?;
        let entry = record::KvEntry {
            expires_at_ms,
            metadata: options.metadata.as_deref().map(str::as_bytes),
            value: &value,
        };
        self.shared
            .engine
            .kv_put(&self.tables, key.as_bytes(), &entry, now.as_unix_millis())
            .map_err(backend)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.capability().check_key(key)?;
        let now = self.shared.now().as_unix_millis();
        self.shared
            .engine
            .kv_delete(&self.tables, key.as_bytes(), now)
            .map_err(backend)
    }

    async fn list(&self, options: KvListOptions) -> Result<KvListPage> {
        let limit = list_limit(&self.capability(), options.limit)?;
        let resume = options.cursor.as_deref().map(Resume::decode).transpose()?;
        let start = resume
            .as_ref()
            .map_or(std::ops::Bound::Unbounded, Resume::bound);
        let now = self.shared.now().as_unix_millis();
        let (listed, more) = self
            .shared
            .engine
            .kv_list(&self.tables, options.prefix.as_bytes(), start, limit, now)
            .map_err(backend)?;
        let cursor = match (more, listed.last()) {
            (true, Some(last)) => Some(Resume::After(last.key.clone()).encode()),
            _ => None,
        };
        let table = self.tables.entries();
        let keys = listed
            .into_iter()
            .map(|l| {
                Ok(KvKey {
                    name: utf8(table, "key", l.key)?,
                    expiration: l.expires_at_ms.map(Timestamp::from_unix_millis),
                    metadata: metadata_string(table, l.metadata)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(KvListPage::new(keys, cursor))
    }
}
