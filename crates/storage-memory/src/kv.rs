//! [`MemoryKv`]: an in-memory [`KvStore`].

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use glinto_storage::{
    Capability, Clock, Error, KvEntry, KvKey, KvListOptions, KvListPage, KvPutOptions, KvStore,
    Result, Timestamp,
};

use crate::{WriteRate, decode_cursor, encode_cursor, lock};

#[derive(Debug, Clone)]
struct Slot {
    value: Bytes,
    metadata: Option<String>,
    expires: Option<Timestamp>,
}

impl Slot {
    fn live(&self, now: Timestamp) -> bool {
        self.expires.is_none_or(|at| now < at)
    }
}

/// An in-memory, deterministic [`KvStore`] with Workers KV's limits.
///
/// Unlike Workers KV it is strongly consistent (reads see every acknowledged
/// write), so its capability says `read_after_write: true`; wrap it in
/// [`crate::PropagatingKv`] to test code against KV's propagation delay.
/// Expired entries disappear by the [`Clock`] it is given; they are purged
/// lazily when a write touches the store, through an index ordered by
/// deadline, so a put costs O(log n) plus the entries it purges.
#[derive(Debug)]
pub struct MemoryKv {
    clock: Arc<dyn Clock>,
    capability: Capability,
    map: Mutex<Entries>,
    rate: WriteRate,
}

/// The entries and their expiry index, under one lock.
#[derive(Debug, Default)]
struct Entries {
    slots: BTreeMap<String, Slot>,
    /// `(deadline, key)` of every slot that has one.
    deadlines: BTreeSet<(Timestamp, String)>,
}

impl Entries {
    /// Drops every entry whose deadline has passed.
    fn purge(&mut self, now: Timestamp) {
        while let Some(first) = self.deadlines.first() {
            if first.0 > now {
                break;
            }
            if let Some((deadline, key)) = self.deadlines.pop_first()
                && self.slots.get(&key).and_then(|s| s.expires) == Some(deadline)
            {
                self.slots.remove(&key);
            }
        }
    }

    fn insert(&mut self, key: &str, slot: Slot) {
        if let Some(deadline) = slot.expires {
            self.deadlines.insert((deadline, key.to_owned()));
        }
        if let Some(old) = self.slots.insert(key.to_owned(), slot) {
            self.forget_deadline(key, old.expires);
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some(old) = self.slots.remove(key) {
            self.forget_deadline(key, old.expires);
        }
    }

    fn forget_deadline(&mut self, key: &str, deadline: Option<Timestamp>) {
        if let Some(deadline) = deadline {
            self.deadlines.remove(&(deadline, key.to_owned()));
        }
    }
}

impl MemoryKv {
    /// A store with Workers KV's production limits (including the 60 s
    /// minimum TTL, so code that would fail in production fails in tests),
    /// minus the per-key write rate limit. With a capability that sets
    /// `max_writes_per_key_per_second` (e.g. [`Capability::workers_kv`]) the
    /// store enforces it by the clock: a put or delete beyond it is
    /// [`glinto_storage::Error::Transient`], like production's HTTP 429.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let mut capability = Capability::workers_kv();
        capability.backend = "memory-kv";
        capability.read_after_write = true;
        capability.max_writes_per_key_per_second = None;
        Self::with_capability(clock, capability)
    }

    /// A store enforcing `capability`'s limits (TTL on or off, minimum TTL,
    /// key, value and metadata sizes, list limit).
    pub fn with_capability(clock: Arc<dyn Clock>, capability: Capability) -> Self {
        MemoryKv {
            clock,
            capability,
            map: Mutex::new(Entries::default()),
            rate: WriteRate::default(),
        }
    }

    /// The number of live entries.
    pub fn len(&self) -> usize {
        let now = self.clock.now();
        lock(&self.map)
            .slots
            .values()
            .filter(|s| s.live(now))
            .count()
    }

    /// Whether there are no live entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn deadline(&self, options: &KvPutOptions, now: Timestamp) -> Result<Option<Timestamp>> {
        let Some(expiration) = options.expiration else {
            return Ok(None);
        };
        if !self.capability.ttl {
            return Err(self.capability.not_supported("ttl"));
        }
        let deadline = expiration.deadline(now);
        let ttl = deadline.saturating_duration_since(now);
        if deadline <= now || ttl < self.capability.min_ttl {
            return Err(Error::InvalidArgument {
                field: "expiration",
                reason: format!(
                    "expires {ttl:?} from now; the minimum is {:?} and it must be in the future",
                    self.capability.min_ttl
                ),
            });
        }
        Ok(Some(deadline))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl KvStore for MemoryKv {
    fn capability(&self) -> Capability {
        self.capability
    }

    async fn get(&self, key: &str) -> Result<Option<KvEntry>> {
        self.capability.check_key(key)?;
        let now = self.clock.now();
        Ok(lock(&self.map)
            .slots
            .get(key)
            .filter(|slot| slot.live(now))
            .map(|slot| KvEntry {
                value: slot.value.clone(),
                metadata: slot.metadata.clone(),
            }))
    }

    async fn put(&self, key: &str, value: Bytes, options: KvPutOptions) -> Result<()> {
        let cap = &self.capability;
        cap.check_key(key)?;
        cap.check_value(value.len())?;
        if let Some(metadata) = &options.metadata {
            cap.check_metadata(metadata.len())?;
        }
        let now = self.clock.now();
        let expires = self.deadline(&options, now)?;
        self.rate.admit(cap, key, now)?;
        let mut map = lock(&self.map);
        map.purge(now);
        map.insert(
            key,
            Slot {
                value,
                metadata: options.metadata,
                expires,
            },
        );
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.capability.check_key(key)?;
        self.rate.admit(&self.capability, key, self.clock.now())?;
        lock(&self.map).remove(key);
        Ok(())
    }

    async fn list(&self, options: KvListOptions) -> Result<KvListPage> {
        let limit = options
            .limit
            .unwrap_or(self.capability.max_list_limit.min(1000));
        self.capability.check_list_limit(limit)?;
        // Resume after the cursor's key, but never before the prefix.
        let start = match &options.cursor {
            Some(cursor) => match decode_cursor(cursor)? {
                after if after >= options.prefix.as_str() => Bound::Excluded(after.to_owned()),
                _ => Bound::Included(options.prefix.clone()),
            },
            None => Bound::Included(options.prefix.clone()),
        };
        let now = self.clock.now();
        let map = lock(&self.map);
        let mut matching = map
            .slots
            .range::<String, _>((start, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(options.prefix.as_str()))
            .filter(|(_, slot)| slot.live(now));
        let keys: Vec<KvKey> = matching
            .by_ref()
            .take(limit)
            .map(|(name, slot)| KvKey {
                name: name.clone(),
                expiration: slot.expires,
                metadata: slot.metadata.clone(),
            })
            .collect();
        let more = matching.next().is_some();
        let cursor = match keys.last() {
            Some(last) if more => Some(encode_cursor(&last.name)),
            _ => None,
        };
        Ok(KvListPage::new(keys, cursor))
    }
}
