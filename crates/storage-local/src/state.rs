//! [`LocalState`]: a [`StateStore`] in the data directory's redb file.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use glinto_storage::{
    Capability, Result, StateListOptions, StateStore, Timestamp, WriteBatch, WriteOp, async_trait,
};

use crate::engine::{Range, StateOp, StateTables};
use crate::error::{backend, list_limit, utf8};
use crate::store::Shared;

/// One Durable-Object-shaped state store of a [`crate::LocalStore`], with its own alarm.
///
/// Every [`StateStore::write`] batch is one redb write transaction, committed with an fsync
/// before it returns: after `kill -9` or a power cut the batch is there whole or, if the call
/// had not returned, absent whole. Reads run in a redb read transaction, so `get_many` and
/// `list` see one consistent snapshot. The alarm time is persisted in the same file; running
/// the handler when it is due is the caller's job.
///
/// Like [`crate::LocalKv`], the redb calls run inline in the calling task.
#[derive(Debug, Clone)]
pub struct LocalState {
    shared: Arc<Shared>,
    tables: StateTables,
}

impl LocalState {
    pub(crate) fn new(shared: Arc<Shared>, tables: StateTables) -> Self {
        Self { shared, tables }
    }

    /// Deletes every key and the alarm (Durable Object `deleteAll`), atomically.
    ///
    /// # Errors
    /// [`glinto_storage::Error::Transient`] or [`glinto_storage::Error::Permanent`] from the database.
    pub fn delete_all(&self) -> Result<()> {
        self.shared
            .engine
            .state_clear(&self.tables)
            .map_err(backend)
    }
}

/// The local state capability: the SQLite-backed Durable Object's limits, so that batches
/// sized for production fit here and batches too large for production fail here too.
pub(crate) fn capability() -> Capability {
    let mut c = Capability::durable_object_sqlite();
    c.backend = "local";
    c
}

/// Whether `start..end` selects nothing by its bounds alone (an inverted range selects
/// nothing, as in a Durable Object; redb must not be asked for one).
fn empty_range(start: &Bound<String>, end: &Bound<String>) -> bool {
    match (start, end) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => {
            s >= e
        }
        _ => false,
    }
}

fn as_bytes(bound: &Bound<String>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(s) => Bound::Included(s.as_bytes()),
        Bound::Excluded(s) => Bound::Excluded(s.as_bytes()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl StateStore for LocalState {
    fn capability(&self) -> Capability {
        capability()
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.capability().check_key(key)?;
        let mut values = self
            .shared
            .engine
            .state_get(&self.tables, &[key.as_bytes()])
            .map_err(backend)?;
        Ok(values.pop().flatten().map(Bytes::from))
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let cap = self.capability();
        cap.check_batch(keys.len())?;
        for key in keys {
            cap.check_key(key)?;
        }
        let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
        let values = self
            .shared
            .engine
            .state_get(&self.tables, &keys)
            .map_err(backend)?;
        Ok(values.into_iter().map(|v| v.map(Bytes::from)).collect())
    }

    async fn write(&self, batch: WriteBatch) -> Result<()> {
        batch.validate(&self.capability())?;
        if batch.is_empty() {
            return Ok(());
        }
        let ops: Vec<StateOp<'_>> = batch
            .ops()
            .iter()
            .map(|op| match op {
                WriteOp::Put(key, value) => StateOp::Put(key.as_bytes(), value),
                WriteOp::Delete(key) => StateOp::Delete(key.as_bytes()),
            })
            .collect();
        self.shared
            .engine
            .state_apply(&self.tables, &ops)
            .map_err(backend)
    }

    async fn list(&self, options: StateListOptions) -> Result<Vec<(String, Bytes)>> {
        let limit = list_limit(&self.capability(), options.limit)?;
        if empty_range(&options.start, &options.end) {
            return Ok(Vec::new());
        }
        let range = Range {
            prefix: options.prefix.as_bytes(),
            start: as_bytes(&options.start),
            end: as_bytes(&options.end),
            reverse: options.reverse,
            limit,
        };
        let entries = self
            .shared
            .engine
            .state_list(&self.tables, &range)
            .map_err(backend)?;
        entries
            .into_iter()
            .map(|(k, v)| {
                let key = utf8(self.tables.entries(), "key", k)?;
                Ok((key, Bytes::from(v)))
            })
            .collect()
    }

    async fn get_alarm(&self) -> Result<Option<Timestamp>> {
        let at = self
            .shared
            .engine
            .alarm_get(&self.tables)
            .map_err(backend)?;
        Ok(at.map(Timestamp::from_unix_millis))
    }

    async fn set_alarm(&self, at: Timestamp) -> Result<()> {
        self.shared
            .engine
            .alarm_set(&self.tables, Some(at.as_unix_millis()))
            .map_err(backend)
    }

    async fn delete_alarm(&self) -> Result<()> {
        self.shared
            .engine
            .alarm_set(&self.tables, None)
            .map_err(backend)
    }
}
