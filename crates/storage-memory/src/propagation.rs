//! [`PropagatingKv`]: Workers KV's propagation delay around any [`KvStore`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use glinto_storage::{
    Capability, Clock, KvEntry, KvListOptions, KvListPage, KvPutOptions, KvStore, Result, Timestamp,
};

use crate::lock;

/// What remote readers of one key still see.
#[derive(Debug)]
struct Lag {
    /// The state remote readers see now.
    seen: Option<KvEntry>,
    /// Writes not yet visible remotely: when they become visible, and the
    /// state they leave.
    pending: VecDeque<(Timestamp, Option<KvEntry>)>,
}

#[derive(Debug)]
struct Shared<S> {
    inner: S,
    clock: Arc<dyn Clock>,
    delay: Duration,
    lags: Mutex<HashMap<String, Lag>>,
}

/// A [`KvStore`] seen from two locations: the writer's ("local", reads are
/// the wrapped store's) and a "remote" one, where each write becomes
/// visible only `delay` after it was acknowledged, by the [`Clock`].
///
/// This is the model of Workers KV's eventual consistency that matters to
/// the pipeline: a snapshot published at the edge is read stale elsewhere
/// for up to a minute. Precisely, a remote `get` of a key returns the state
/// left by the newest write whose `acknowledged + delay ≤ now` (or the state
/// before the oldest pending write). Writes through either handle are
/// delayed for remote reads. Only `get` is delayed: `list` shows the wrapped
/// store's current keys from both handles. The remote handle's capability
/// says `read_after_write: false`.
///
/// ```
/// # futures::executor::block_on(async {
/// use std::{sync::Arc, time::Duration};
/// use bytes::Bytes;
/// use glinto_storage::{KvPutOptions, KvStore, ManualClock, Timestamp};
/// use glinto_storage_memory::{MemoryKv, PropagatingKv};
///
/// let clock = ManualClock::new(Timestamp::from_unix_millis(0));
/// let local = PropagatingKv::new(MemoryKv::new(Arc::new(clock.clone())), Arc::new(clock.clone()), Duration::from_secs(60));
/// let remote = local.remote();
/// local.put("snapshot", Bytes::from_static(b"v2"), KvPutOptions::new()).await?;
/// assert!(remote.get("snapshot").await?.is_none()); // not there yet
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(remote.get("snapshot").await?.map(|e| e.value), Some(Bytes::from_static(b"v2")));
/// # Ok::<(), glinto_storage::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct PropagatingKv<S> {
    shared: Arc<Shared<S>>,
    remote: bool,
}

impl<S: KvStore> PropagatingKv<S> {
    /// The local handle over `inner`; get the remote one with
    /// [`remote`](PropagatingKv::remote).
    pub fn new(inner: S, clock: Arc<dyn Clock>, delay: Duration) -> Self {
        PropagatingKv {
            shared: Arc::new(Shared {
                inner,
                clock,
                delay,
                lags: Mutex::new(HashMap::new()),
            }),
            remote: false,
        }
    }

    /// A handle reading from another location (sharing the same store).
    pub fn remote(&self) -> Self {
        PropagatingKv {
            shared: Arc::clone(&self.shared),
            remote: true,
        }
    }

    /// A handle reading at the writer's location.
    pub fn local(&self) -> Self {
        PropagatingKv {
            shared: Arc::clone(&self.shared),
            remote: false,
        }
    }

    /// Records a write acknowledged by the wrapped store; `before` is the
    /// state read just before it, `after` the state it leaves.
    fn record(&self, key: &str, before: Option<KvEntry>, after: Option<KvEntry>) {
        let visible_at = self.shared.clock.now().saturating_add(self.shared.delay);
        let mut lags = lock(&self.shared.lags);
        let lag = lags.entry(key.to_owned()).or_insert(Lag {
            seen: before,
            pending: VecDeque::new(),
        });
        lag.pending.push_back((visible_at, after));
    }

    /// What a remote reader sees of `key`, if it differs from the store.
    fn remote_view(&self, key: &str) -> Option<Option<KvEntry>> {
        let now = self.shared.clock.now();
        let mut lags = lock(&self.shared.lags);
        let lag = lags.get_mut(key)?;
        while let Some((visible_at, _)) = lag.pending.front()
            && *visible_at <= now
        {
            if let Some((_, state)) = lag.pending.pop_front() {
                lag.seen = state;
            }
        }
        if lag.pending.is_empty() {
            lags.remove(key);
            None
        } else {
            Some(lag.seen.clone())
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl<S: KvStore> KvStore for PropagatingKv<S> {
    fn capability(&self) -> Capability {
        let mut capability = self.shared.inner.capability();
        if self.remote {
            capability.read_after_write = false;
        }
        capability
    }

    async fn get(&self, key: &str) -> Result<Option<KvEntry>> {
        if self.remote
            && let Some(stale) = self.remote_view(key)
        {
            return Ok(stale);
        }
        self.shared.inner.get(key).await
    }

    async fn put(&self, key: &str, value: Bytes, options: KvPutOptions) -> Result<()> {
        let before = self.shared.inner.get(key).await?;
        let after = KvEntry {
            value: value.clone(),
            metadata: options.metadata.clone(),
        };
        self.shared.inner.put(key, value, options).await?;
        self.record(key, before, Some(after));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let before = self.shared.inner.get(key).await?;
        self.shared.inner.delete(key).await?;
        self.record(key, before, None);
        Ok(())
    }

    async fn list(&self, options: KvListOptions) -> Result<KvListPage> {
        self.shared.inner.list(options).await
    }
}
