//! The conformance suite is only worth something if it fails broken stores:
//! each mutant below breaks one clause and must fail the tests of it.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::executor::block_on;
use glinto_storage::conformance::{Harness, Report, run_all_kv, run_all_object, run_all_state};
use glinto_storage::{
    Capability, Clock, GetRange, KvEntry, KvListOptions, KvListPage, KvPutOptions, KvStore,
    ManualClock, Object, ObjectListOptions, ObjectListPage, ObjectMeta, ObjectStore, PutMode,
    Result, StateListOptions, StateStore, Timestamp, WriteBatch,
};
use glinto_storage_memory::{MemoryKv, MemoryObjects, MemoryState};

#[derive(Debug, Clone, Copy)]
enum Mutation {
    /// KV: the expiration is dropped.
    IgnoreTtl,
    /// KV: list never returns a cursor (stops after one page).
    NoCursor,
    /// State: batch operations applied one at a time (not atomic).
    NonAtomicBatch,
    /// State: `reverse` ignored.
    IgnoreReverse,
    /// Objects: `Create` overwrites.
    CreateOverwrites,
    /// Objects: ranges ignored (whole body returned).
    IgnoreRange,
}

#[derive(Debug)]
struct Mutant<S> {
    inner: S,
    mutation: Mutation,
}

#[async_trait]
impl KvStore for Mutant<MemoryKv> {
    fn capability(&self) -> Capability {
        self.inner.capability()
    }
    async fn get(&self, key: &str) -> Result<Option<KvEntry>> {
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, value: Bytes, mut options: KvPutOptions) -> Result<()> {
        if let Mutation::IgnoreTtl = self.mutation {
            options.expiration = None;
        }
        self.inner.put(key, value, options).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, options: KvListOptions) -> Result<KvListPage> {
        let page = self.inner.list(options).await?;
        Ok(match self.mutation {
            Mutation::NoCursor => KvListPage::new(page.keys, None),
            _ => page,
        })
    }
}

#[async_trait]
impl StateStore for Mutant<MemoryState> {
    fn capability(&self) -> Capability {
        self.inner.capability()
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        self.inner.get_many(keys).await
    }
    async fn write(&self, batch: WriteBatch) -> Result<()> {
        if let Mutation::NonAtomicBatch = self.mutation {
            for op in batch.into_ops() {
                self.inner.write([op].into_iter().collect()).await?;
            }
            return Ok(());
        }
        self.inner.write(batch).await
    }
    async fn list(&self, mut options: StateListOptions) -> Result<Vec<(String, Bytes)>> {
        if let Mutation::IgnoreReverse = self.mutation {
            options.reverse = false;
        }
        self.inner.list(options).await
    }
    async fn get_alarm(&self) -> Result<Option<Timestamp>> {
        self.inner.get_alarm().await
    }
    async fn set_alarm(&self, at: Timestamp) -> Result<()> {
        self.inner.set_alarm(at).await
    }
    async fn delete_alarm(&self) -> Result<()> {
        self.inner.delete_alarm().await
    }
}

#[async_trait]
impl ObjectStore for Mutant<MemoryObjects> {
    fn capability(&self) -> Capability {
        self.inner.capability()
    }
    async fn put(&self, key: &str, body: Bytes, mode: PutMode) -> Result<ObjectMeta> {
        let mode = match (self.mutation, mode) {
            (Mutation::CreateOverwrites, PutMode::Create) => PutMode::Overwrite,
            (_, mode) => mode,
        };
        self.inner.put(key, body, mode).await
    }
    async fn get(&self, key: &str, range: Option<GetRange>) -> Result<Option<Object>> {
        let range = match self.mutation {
            Mutation::IgnoreRange => None,
            _ => range,
        };
        self.inner.get(key, range).await
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        self.inner.head(key).await
    }
    async fn list(&self, options: ObjectListOptions) -> Result<ObjectListPage> {
        self.inner.list(options).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
}

/// The names of the failed tests.
fn failed(report: &Report) -> Vec<&str> {
    report
        .failed
        .iter()
        .map(|(name, _)| name.as_str())
        .collect()
}

fn check(mutation: Mutation, expected_failures: &[&str]) {
    let clock = ManualClock::new(Timestamp::from_unix_millis(1_764_000_000_000));
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let h = Harness::manual(clock).paging_keys(1_200);
    let report = match mutation {
        Mutation::IgnoreTtl | Mutation::NoCursor => block_on(run_all_kv(
            &Mutant {
                inner: MemoryKv::new(shared),
                mutation,
            },
            &h,
        )),
        Mutation::NonAtomicBatch | Mutation::IgnoreReverse => block_on(run_all_state(
            &Mutant {
                inner: MemoryState::new(shared),
                mutation,
            },
            &h,
        )),
        Mutation::CreateOverwrites | Mutation::IgnoreRange => block_on(run_all_object(
            &Mutant {
                inner: MemoryObjects::new(shared),
                mutation,
            },
            &h,
        )),
    };
    assert_eq!(failed(&report), expected_failures, "{mutation:?}: {report}");
}

#[test]
fn each_mutant_fails_the_tests_of_its_clause() {
    check(Mutation::IgnoreTtl, &["kv_ttl_expiry", "kv_ttl_minimum"]);
    check(Mutation::NoCursor, &["kv_list_paging", "kv_odd_keys"]);
    check(Mutation::NonAtomicBatch, &["state_batch_is_atomic"]);
    check(
        Mutation::IgnoreReverse,
        &["state_list_ranges", "state_list_paging"],
    );
    check(
        Mutation::CreateOverwrites,
        &["object_put_modes", "object_create_race"],
    );
    check(Mutation::IgnoreRange, &["object_ranged_get"]);
}
