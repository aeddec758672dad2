//! [`MemoryState`]: an in-memory [`StateStore`].

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use glinto_storage::{
    Capability, Clock, Result, StateListOptions, StateStore, Timestamp, WriteBatch, WriteOp,
};

use crate::lock;

#[derive(Debug, Default)]
struct Inner {
    map: BTreeMap<String, Bytes>,
    alarm: Option<Timestamp>,
}

/// An in-memory, deterministic [`StateStore`] with the limits of a Durable
/// Object on the key-value storage backend.
///
/// Every call takes one lock, so batches are atomic and calls linearizable.
/// The alarm is only stored; [`MemoryState::take_due_alarm`] lets a test
/// play the runtime and fire it when the [`Clock`] reaches it.
#[derive(Debug)]
pub struct MemoryState {
    clock: Arc<dyn Clock>,
    capability: Capability,
    inner: Mutex<Inner>,
}

impl MemoryState {
    /// A store with the Durable Object (KV backend) limits: 2 KiB keys,
    /// 128 KiB values, 128 keys per batch, an alarm.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let mut capability = Capability::durable_object_kv();
        capability.backend = "memory-state";
        Self::with_capability(clock, capability)
    }

    /// A store enforcing `capability`'s limits (e.g.
    /// [`Capability::durable_object_sqlite`]); `alarms: false` refuses alarms.
    pub fn with_capability(clock: Arc<dyn Clock>, capability: Capability) -> Self {
        MemoryState {
            clock,
            capability,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// If the alarm is due by the clock, clears it and returns its time (what
    /// the runtime does before calling the object's `alarm()` handler).
    pub fn take_due_alarm(&self) -> Option<Timestamp> {
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        match inner.alarm {
            Some(at) if at <= now => inner.alarm.take(),
            _ => None,
        }
    }

    /// A copy of every entry, in key order (for assertions in tests).
    pub fn snapshot(&self) -> BTreeMap<String, Bytes> {
        lock(&self.inner).map.clone()
    }

    fn check_alarms(&self) -> Result<()> {
        if self.capability.alarms {
            Ok(())
        } else {
            Err(self.capability.not_supported("alarm"))
        }
    }
}

/// Applies `options` to an ordered map: the selected entries, ordered and
/// limited. Shared with the write-behind cache's overlay merge.
pub(crate) fn select<'a, I>(entries: I, options: &StateListOptions) -> Vec<(String, Bytes)>
where
    I: DoubleEndedIterator<Item = (&'a String, &'a Bytes)>,
{
    let limit = options.limit.unwrap_or(usize::MAX);
    let selected = |(k, _): &(&String, &Bytes)| options.contains(k);
    let clone = |(k, v): (&String, &Bytes)| (k.clone(), v.clone());
    if options.reverse {
        entries
            .rev()
            .filter(selected)
            .take(limit)
            .map(clone)
            .collect()
    } else {
        entries.filter(selected).take(limit).map(clone).collect()
    }
}

/// The lower bound of a list: the greater of the range start and the prefix.
fn lower_bound(options: &StateListOptions) -> Bound<String> {
    match &options.start {
        Bound::Included(s) | Bound::Excluded(s) if s.as_str() >= options.prefix.as_str() => {
            options.start.clone()
        }
        _ => Bound::Included(options.prefix.clone()),
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl StateStore for MemoryState {
    fn capability(&self) -> Capability {
        self.capability
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.capability.check_key(key)?;
        Ok(lock(&self.inner).map.get(key).cloned())
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        self.capability.check_batch(keys.len())?;
        for key in keys {
            self.capability.check_key(key)?;
        }
        let inner = lock(&self.inner);
        Ok(keys.iter().map(|k| inner.map.get(*k).cloned()).collect())
    }

    async fn write(&self, batch: WriteBatch) -> Result<()> {
        batch.validate(&self.capability)?;
        let mut inner = lock(&self.inner);
        for op in batch.into_ops() {
            match op {
                WriteOp::Put(key, value) => {
                    inner.map.insert(key, value);
                }
                WriteOp::Delete(key) => {
                    inner.map.remove(&key);
                }
            }
        }
        Ok(())
    }

    async fn list(&self, options: StateListOptions) -> Result<Vec<(String, Bytes)>> {
        if let Some(limit) = options.limit {
            self.capability.check_list_limit(limit)?;
        }
        let inner = lock(&self.inner);
        let range = inner
            .map
            .range::<String, _>((lower_bound(&options), Bound::Unbounded));
        // The range starts at the prefix or the start bound; `select` checks
        // every bound and the prefix (linear in the keys after the start,
        // which is fine for a test store).
        Ok(select(range, &options))
    }

    async fn get_alarm(&self) -> Result<Option<Timestamp>> {
        self.check_alarms()?;
        Ok(lock(&self.inner).alarm)
    }

    async fn set_alarm(&self, at: Timestamp) -> Result<()> {
        self.check_alarms()?;
        lock(&self.inner).alarm = Some(at);
        Ok(())
    }

    async fn delete_alarm(&self) -> Result<()> {
        self.check_alarms()?;
        lock(&self.inner).alarm = None;
        Ok(())
    }
}
