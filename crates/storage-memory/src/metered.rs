//! [`Metered`]: operation counters around any store, mapped to Cloudflare's
//! billing units.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use glinto_storage::{
    Capability, GetRange, KvEntry, KvListOptions, KvListPage, KvPutOptions, KvStore, Object,
    ObjectListOptions, ObjectListPage, ObjectMeta, ObjectStore, PutMode, Result, StateListOptions,
    StateStore, Timestamp, WriteBatch, WriteOp,
};

/// The size of a Durable Object request unit (KV storage backend): 4 KB.
const REQUEST_UNIT_BYTES: u64 = 4 * 1024;

/// Request units for one key of `bytes`: one per started 4 KB, at least one.
fn units(bytes: u64) -> u64 {
    bytes.div_ceil(REQUEST_UNIT_BYTES).max(1)
}

/// Counters of one store (or several, if shared): what [`Metered`] saw.
#[derive(Debug, Default)]
pub struct Meter {
    counters: [AtomicU64; 16],
}

/// Indexes into `Meter::counters`.
mod c {
    pub(super) const GETS: usize = 0;
    pub(super) const GET_MANYS: usize = 1;
    pub(super) const HEADS: usize = 2;
    pub(super) const PUTS: usize = 3;
    pub(super) const BATCHES: usize = 4;
    pub(super) const DELETES: usize = 5;
    pub(super) const LISTS: usize = 6;
    pub(super) const ALARM_READS: usize = 7;
    pub(super) const ALARM_WRITES: usize = 8;
    pub(super) const ROWS_READ: usize = 9;
    pub(super) const ROWS_WRITTEN: usize = 10;
    pub(super) const READ_UNITS: usize = 11;
    pub(super) const WRITE_UNITS: usize = 12;
    pub(super) const BYTES_READ: usize = 13;
    pub(super) const BYTES_WRITTEN: usize = 14;
    pub(super) const ERRORS: usize = 15;
}

impl Meter {
    /// A meter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    fn add(&self, counter: usize, n: u64) {
        if let Some(c) = self.counters.get(counter) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn get(&self, counter: usize) -> u64 {
        self.counters
            .get(counter)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// A snapshot of the counters.
    pub fn usage(&self) -> Usage {
        Usage {
            gets: self.get(c::GETS),
            get_manys: self.get(c::GET_MANYS),
            heads: self.get(c::HEADS),
            puts: self.get(c::PUTS),
            batches: self.get(c::BATCHES),
            deletes: self.get(c::DELETES),
            lists: self.get(c::LISTS),
            alarm_reads: self.get(c::ALARM_READS),
            alarm_writes: self.get(c::ALARM_WRITES),
            rows_read: self.get(c::ROWS_READ),
            rows_written: self.get(c::ROWS_WRITTEN),
            read_units: self.get(c::READ_UNITS),
            write_units: self.get(c::WRITE_UNITS),
            bytes_read: self.get(c::BYTES_READ),
            bytes_written: self.get(c::BYTES_WRITTEN),
            errors: self.get(c::ERRORS),
        }
    }

    /// Sets every counter back to zero.
    pub fn reset(&self) {
        for counter in &self.counters {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// A snapshot of a [`Meter`]: calls by kind, rows, 4 KB units and bytes.
///
/// Calls are counted when made, failed or not (Cloudflare bills attempted
/// operations); rows, units and bytes only for successful calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// `get` calls.
    pub gets: u64,
    /// `StateStore::get_many` calls.
    pub get_manys: u64,
    /// `ObjectStore::head` calls.
    pub heads: u64,
    /// `put` calls (KV and object stores).
    pub puts: u64,
    /// `StateStore::write` calls.
    pub batches: u64,
    /// `delete` calls (KV and object stores).
    pub deletes: u64,
    /// `list` calls.
    pub lists: u64,
    /// `get_alarm` calls.
    pub alarm_reads: u64,
    /// `set_alarm` and `delete_alarm` calls.
    pub alarm_writes: u64,
    /// Keys read: one per key requested by a get, one per listed entry.
    pub rows_read: u64,
    /// Keys written: one per put or delete, in batches too, and per alarm
    /// change.
    pub rows_written: u64,
    /// 4 KB read units: per key read, one per started 4 KB (at least one).
    pub read_units: u64,
    /// 4 KB write units: per key written or deleted, one per started 4 KB
    /// (at least one).
    pub write_units: u64,
    /// Value and body bytes returned.
    pub bytes_read: u64,
    /// Value and body bytes written.
    pub bytes_written: u64,
    /// Calls that returned an error.
    pub errors: u64,
}

/// Workers KV's billed operations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkersKvUnits {
    /// Reads (`get`).
    pub reads: u64,
    /// Writes (`put`).
    pub writes: u64,
    /// Deletes.
    pub deletes: u64,
    /// Lists.
    pub lists: u64,
}

/// A Durable Object's billed storage units, in both billing models.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DurableObjectUnits {
    /// SQLite storage backend: rows read.
    pub rows_read: u64,
    /// SQLite storage backend: rows written.
    pub rows_written: u64,
    /// KV storage backend: read request units (4 KB each).
    pub read_request_units: u64,
    /// KV storage backend: write request units (4 KB each; deletes and
    /// alarm changes count one).
    pub write_request_units: u64,
}

/// R2's billed operation classes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct R2Units {
    /// Class A (mutating, listing): puts and lists.
    pub class_a: u64,
    /// Class B (reading): gets and heads.
    pub class_b: u64,
    /// Free operations: deletes.
    pub free: u64,
}

impl Usage {
    /// This usage in Workers KV's billing units.
    pub fn workers_kv(&self) -> WorkersKvUnits {
        WorkersKvUnits {
            reads: self.gets,
            writes: self.puts,
            deletes: self.deletes,
            lists: self.lists,
        }
    }

    /// This usage in a Durable Object's billing units.
    pub fn durable_object(&self) -> DurableObjectUnits {
        DurableObjectUnits {
            rows_read: self.rows_read,
            rows_written: self.rows_written,
            read_request_units: self.read_units,
            write_request_units: self.write_units,
        }
    }

    /// This usage in R2's billing classes.
    pub fn r2(&self) -> R2Units {
        R2Units {
            class_a: self.puts + self.lists,
            class_b: self.gets + self.heads,
            free: self.deletes,
        }
    }
}

/// Any store, with its operations counted on a [`Meter`].
///
/// Capability and behaviour are the wrapped store's (it passes the
/// conformance suite unchanged).
#[derive(Debug)]
pub struct Metered<S> {
    inner: S,
    meter: Arc<Meter>,
}

impl<S> Metered<S> {
    /// Counts `inner`'s operations on a fresh meter.
    pub fn new(inner: S) -> Self {
        Self::with_meter(inner, Arc::new(Meter::new()))
    }

    /// Counts `inner`'s operations on `meter` (shared, e.g. per tenant).
    pub fn with_meter(inner: S, meter: Arc<Meter>) -> Self {
        Metered { inner, meter }
    }

    /// The meter.
    pub fn meter(&self) -> &Arc<Meter> {
        &self.meter
    }

    /// The counters so far.
    pub fn usage(&self) -> Usage {
        self.meter.usage()
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Counts one call of `call_counter`, then, if it succeeds, what
    /// `on_success` derives from its result.
    async fn count<T>(
        &self,
        call_counter: usize,
        call: impl Future<Output = Result<T>>,
        on_success: impl FnOnce(&Meter, &T),
    ) -> Result<T> {
        self.meter.add(call_counter, 1);
        let result = call.await;
        match &result {
            Ok(value) => on_success(&self.meter, value),
            Err(_) => self.meter.add(c::ERRORS, 1),
        }
        result
    }
}

fn read_key(meter: &Meter, bytes: u64) {
    meter.add(c::ROWS_READ, 1);
    meter.add(c::READ_UNITS, units(bytes));
    meter.add(c::BYTES_READ, bytes);
}

fn wrote_key(meter: &Meter, bytes: u64) {
    meter.add(c::ROWS_WRITTEN, 1);
    meter.add(c::WRITE_UNITS, units(bytes));
    meter.add(c::BYTES_WRITTEN, bytes);
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl<S: KvStore> KvStore for Metered<S> {
    fn capability(&self) -> Capability {
        self.inner.capability()
    }
    async fn get(&self, key: &str) -> Result<Option<KvEntry>> {
        self.count(c::GETS, self.inner.get(key), |m, entry| {
            read_key(m, entry.as_ref().map_or(0, |e| e.value.len() as u64));
        })
        .await
    }
    async fn put(&self, key: &str, value: Bytes, options: KvPutOptions) -> Result<()> {
        let len = value.len() as u64;
        self.count(c::PUTS, self.inner.put(key, value, options), |m, _| {
            wrote_key(m, len);
        })
        .await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.count(c::DELETES, self.inner.delete(key), |m, _| wrote_key(m, 0))
            .await
    }
    async fn list(&self, options: KvListOptions) -> Result<KvListPage> {
        self.count(c::LISTS, self.inner.list(options), |m, page| {
            m.add(c::ROWS_READ, page.keys.len() as u64);
            m.add(c::READ_UNITS, 1);
        })
        .await
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl<S: StateStore> StateStore for Metered<S> {
    fn capability(&self) -> Capability {
        self.inner.capability()
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.count(c::GETS, self.inner.get(key), |m, value| {
            read_key(m, value.as_ref().map_or(0, |v| v.len() as u64));
        })
        .await
    }
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        self.count(c::GET_MANYS, self.inner.get_many(keys), |m, values| {
            for value in values {
                read_key(m, value.as_ref().map_or(0, |v| v.len() as u64));
            }
        })
        .await
    }
    async fn write(&self, batch: WriteBatch) -> Result<()> {
        let sizes: Vec<u64> = batch
            .ops()
            .iter()
            .map(|op| match op {
                WriteOp::Put(_, value) => value.len() as u64,
                WriteOp::Delete(_) => 0,
            })
            .collect();
        self.count(c::BATCHES, self.inner.write(batch), |m, _| {
            for size in &sizes {
                wrote_key(m, *size);
            }
        })
        .await
    }
    async fn list(&self, options: StateListOptions) -> Result<Vec<(String, Bytes)>> {
        self.count(c::LISTS, self.inner.list(options), |m, entries| {
            for (_, value) in entries {
                read_key(m, value.len() as u64);
            }
        })
        .await
    }
    async fn get_alarm(&self) -> Result<Option<Timestamp>> {
        self.count(c::ALARM_READS, self.inner.get_alarm(), |_, _| {})
            .await
    }
    async fn set_alarm(&self, at: Timestamp) -> Result<()> {
        self.count(c::ALARM_WRITES, self.inner.set_alarm(at), |m, _| {
            wrote_key(m, 0);
        })
        .await
    }
    async fn delete_alarm(&self) -> Result<()> {
        self.count(c::ALARM_WRITES, self.inner.delete_alarm(), |m, _| {
            wrote_key(m, 0);
        })
        .await
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl<S: ObjectStore> ObjectStore for Metered<S> {
    fn capability(&self) -> Capability {
        self.inner.capability()
    }
    async fn put(&self, key: &str, body: Bytes, mode: PutMode) -> Result<ObjectMeta> {
        let len = body.len() as u64;
        self.count(c::PUTS, self.inner.put(key, body, mode), |m, _| {
            wrote_key(m, len);
        })
        .await
    }
    async fn get(&self, key: &str, range: Option<GetRange>) -> Result<Option<Object>> {
        self.count(c::GETS, self.inner.get(key, range), |m, object| {
            read_key(m, object.as_ref().map_or(0, |o| o.body.len() as u64));
        })
        .await
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        self.count(c::HEADS, self.inner.head(key), |m, _| read_key(m, 0))
            .await
    }
    async fn list(&self, options: ObjectListOptions) -> Result<ObjectListPage> {
        self.count(c::LISTS, self.inner.list(options), |m, page| {
            m.add(c::ROWS_READ, page.objects.len() as u64);
            m.add(c::READ_UNITS, 1);
        })
        .await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.count(c::DELETES, self.inner.delete(key), |m, _| wrote_key(m, 0))
            .await
    }
}
