//! [`WriteBehind`]: a Durable Object's uncommitted state, and its loss on
//! eviction.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use glinto_storage::{
    Capability, Result, StateListOptions, StateStore, Timestamp, WriteBatch, WriteOp,
};

use crate::lock;
use crate::state::select;

/// Writes not yet committed to the wrapped store.
#[derive(Debug, Default)]
struct Overlay {
    /// `Some(value)`: put; `None`: delete.
    entries: BTreeMap<String, Option<Bytes>>,
    /// `Some(Some(t))`: alarm set; `Some(None)`: alarm deleted.
    alarm: Option<Option<Timestamp>>,
}

/// What [`WriteBehind::evict`] dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Keys whose uncommitted put or delete was lost.
    pub keys: usize,
    /// Whether an uncommitted alarm change was lost.
    pub alarm: bool,
}

/// A write-behind cache in front of any [`StateStore`], modelling a Durable
/// Object whose in-memory state is ahead of its durable storage.
///
/// **Committed vs uncommitted.** A `write` (or alarm change) through the
/// cache is acknowledged at once and visible to every read through the cache,
/// but it is *uncommitted*: held only in memory. It becomes *committed* when
/// a [`flush`](WriteBehind::flush) that started after it returns `Ok` — then
/// it is in the wrapped store. [`evict`](WriteBehind::evict) drops exactly
/// the uncommitted writes, as the runtime does when it evicts or restarts an
/// object before its writes were confirmed; reads then see the wrapped store
/// again. A flush that fails leaves the writes it could not commit
/// uncommitted (still visible, still evictable), unless a newer write to the
/// same key was made meanwhile.
///
/// A flush commits the overlay as one atomic batch when it has at most
/// `max_batch_keys` keys, otherwise in several batches (atomic each), then
/// the alarm. Batch validation happens at `write` time, so refused batches
/// are refused immediately. It passes the conformance suite with or without
/// flushing.
#[derive(Debug)]
pub struct WriteBehind<S> {
    inner: S,
    overlay: Mutex<Overlay>,
}

impl<S: StateStore> WriteBehind<S> {
    /// A cache in front of `inner`, with nothing uncommitted.
    pub fn new(inner: S) -> Self {
        WriteBehind {
            inner,
            overlay: Mutex::new(Overlay::default()),
        }
    }

    /// The wrapped (durable) store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The number of keys with uncommitted writes.
    pub fn uncommitted_keys(&self) -> usize {
        lock(&self.overlay).entries.len()
    }

    /// Drops every uncommitted write and alarm change.
    pub fn evict(&self) -> Evicted {
        let overlay = std::mem::take(&mut *lock(&self.overlay));
        Evicted {
            keys: overlay.entries.len(),
            alarm: overlay.alarm.is_some(),
        }
    }

    /// Commits every uncommitted write to the wrapped store.
    ///
    /// # Errors
    /// The wrapped store's error; the writes not committed stay uncommitted.
    pub async fn flush(&self) -> Result<()> {
        let taken = std::mem::take(&mut *lock(&self.overlay));
        let chunk = self.inner.capability().max_batch_keys.max(1);
        let entries: Vec<(String, Option<Bytes>)> = taken.entries.into_iter().collect();
        let mut written = 0;
        for part in entries.chunks(chunk) {
            let batch: WriteBatch = part
                .iter()
                .map(|(key, value)| match value {
                    Some(v) => WriteOp::Put(key.clone(), v.clone()),
                    None => WriteOp::Delete(key.clone()),
                })
                .collect();
            if let Err(e) = self.inner.write(batch).await {
                self.restore(entries.get(written..).unwrap_or(&[]), taken.alarm);
                return Err(e);
            }
            written += part.len();
        }
        let alarm_result = match taken.alarm {
            Some(Some(at)) => self.inner.set_alarm(at).await,
            Some(None) => self.inner.delete_alarm().await,
            None => Ok(()),
        };
        if alarm_result.is_err() {
            self.restore(&[], taken.alarm);
        }
        alarm_result
    }

    /// Puts back writes a failed flush did not commit, unless newer writes
    /// to the same keys were made meanwhile.
    fn restore(&self, entries: &[(String, Option<Bytes>)], alarm: Option<Option<Timestamp>>) {
        let mut overlay = lock(&self.overlay);
        for (key, value) in entries {
            overlay
                .entries
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }
        if overlay.alarm.is_none() {
            overlay.alarm = alarm;
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl<S: StateStore> StateStore for WriteBehind<S> {
    fn capability(&self) -> Capability {
        self.inner.capability()
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.inner.capability().check_key(key)?;
        if let Some(value) = lock(&self.overlay).entries.get(key) {
            return Ok(value.clone());
        }
        self.inner.get(key).await
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let capability = self.inner.capability();
        capability.check_batch(keys.len())?;
        for key in keys {
            capability.check_key(key)?;
        }
        let cached: Vec<Option<Option<Bytes>>> = {
            let overlay = lock(&self.overlay);
            keys.iter()
                .map(|k| overlay.entries.get(*k).cloned())
                .collect()
        };
        let missing: Vec<&str> = keys
            .iter()
            .zip(&cached)
            .filter(|(_, c)| c.is_none())
            .map(|(k, _)| *k)
            .collect();
        let mut fetched = self.inner.get_many(&missing).await?.into_iter();
        Ok(cached
            .into_iter()
            .map(|c| match c {
                Some(value) => value,
                None => fetched.next().flatten(),
            })
            .collect())
    }

    async fn write(&self, batch: WriteBatch) -> Result<()> {
        batch.validate(&self.inner.capability())?;
        let mut overlay = lock(&self.overlay);
        for op in batch.into_ops() {
            match op {
                WriteOp::Put(key, value) => overlay.entries.insert(key, Some(value)),
                WriteOp::Delete(key) => overlay.entries.insert(key, None),
            };
        }
        Ok(())
    }

    async fn list(&self, options: StateListOptions) -> Result<Vec<(String, Bytes)>> {
        let capability = self.inner.capability();
        if let Some(limit) = options.limit {
            capability.check_list_limit(limit)?;
        }
        let (puts, deletes): (BTreeMap<String, Bytes>, usize) = {
            let overlay = lock(&self.overlay);
            let mut puts = BTreeMap::new();
            let mut deletes = 0;
            for (key, value) in overlay.entries.iter().filter(|(k, _)| options.contains(k)) {
                match value {
                    Some(v) => {
                        puts.insert(key.clone(), v.clone());
                    }
                    None => deletes += 1,
                }
            }
            (puts, deletes)
        };
        // Overlay deletes can hide at most `deletes` of the wrapped store's
        // entries, so `limit + deletes` of them are enough to fill `limit`.
        let mut inner_options = options.clone();
        inner_options.limit = options
            .limit
            .map(|l| l.saturating_add(deletes).min(capability.max_list_limit));
        let from_inner = self.inner.list(inner_options).await?;
        let mut merged: BTreeMap<String, Bytes> = {
            let overlay = lock(&self.overlay);
            from_inner
                .into_iter()
                .filter(|(k, _)| !overlay.entries.contains_key(k))
                .collect()
        };
        merged.extend(puts);
        let mut all_options = options;
        all_options.prefix.clear();
        all_options.start = std::ops::Bound::Unbounded;
        all_options.end = std::ops::Bound::Unbounded;
        Ok(select(merged.iter(), &all_options))
    }

    async fn get_alarm(&self) -> Result<Option<Timestamp>> {
        if !self.inner.capability().alarms {
            return Err(self.inner.capability().not_supported("alarm"));
        }
        if let Some(alarm) = lock(&self.overlay).alarm {
            return Ok(alarm);
        }
        self.inner.get_alarm().await
    }

    async fn set_alarm(&self, at: Timestamp) -> Result<()> {
        if !self.inner.capability().alarms {
            return Err(self.inner.capability().not_supported("alarm"));
        }
        lock(&self.overlay).alarm = Some(Some(at));
        Ok(())
    }

    async fn delete_alarm(&self) -> Result<()> {
        if !self.inner.capability().alarms {
            return Err(self.inner.capability().not_supported("alarm"));
        }
        lock(&self.overlay).alarm = Some(None);
        Ok(())
    }
}
