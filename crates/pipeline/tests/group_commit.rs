//! Concurrent ingests share storage writes: never one write per event.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use async_trait::async_trait;
use bytes::Bytes;
use common::{SITE, T0, event, truth};
use futures::executor::block_on;
use glinto_aggregator::rollup::HourRange;
use glinto_pipeline::{Engine, EngineConfig, Stores};
use glinto_storage::{
    Capability, Clock, ManualClock, Result, StateListOptions, StateStore, Timestamp, WriteBatch,
};
use glinto_storage_memory::{MemoryKv, MemoryObjects, MemoryState, Metered};

/// A store whose writes take a turn of the executor (as real I/O does), so
/// that other callers run while a write is in flight.
#[derive(Debug)]
struct Yielding<S>(S);

async fn yield_once() {
    let yielded = AtomicBool::new(false);
    futures::future::poll_fn(|cx| {
        if yielded.swap(true, Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

#[async_trait]
impl<S: StateStore> StateStore for Yielding<S> {
    fn capability(&self) -> Capability {
        self.0.capability()
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.0.get(key).await
    }
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        self.0.get_many(keys).await
    }
    async fn write(&self, batch: WriteBatch) -> Result<()> {
        yield_once().await;
        self.0.write(batch).await
    }
    async fn list(&self, options: StateListOptions) -> Result<Vec<(String, Bytes)>> {
        self.0.list(options).await
    }
    async fn get_alarm(&self) -> Result<Option<Timestamp>> {
        self.0.get_alarm().await
    }
    async fn set_alarm(&self, at: Timestamp) -> Result<()> {
        self.0.set_alarm(at).await
    }
    async fn delete_alarm(&self) -> Result<()> {
        self.0.delete_alarm().await
    }
}

#[test]
fn concurrent_ingests_share_one_write() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(T0)));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let state = Arc::new(Metered::new(Yielding(MemoryState::new(dyn_clock.clone()))));
    let stores = Stores {
        state: state.clone(),
        objects: MemoryObjects::new(dyn_clock.clone()),
        kv: MemoryKv::new(dyn_clock),
    };
    let engine = block_on(Engine::open(SITE, EngineConfig::default(), stores, clock))
        .unwrap_or_else(|e| panic!("{e}"));
    let events: Vec<_> = (0..100u64)
        .map(|i| event(i + 1, i % 9, T0 + i * 1000, true, true))
        .collect();
    let before = state.usage().batches;
    // 100 requests of one event each, all in flight at once.
    let results = block_on(futures::future::join_all(
        events.iter().map(|e| engine.ingest(vec![e.clone()])),
    ));
    assert!(results.iter().all(Result::is_ok));
    let writes = state.usage().batches - before;
    // The first caller writes its own event; the next writes the other 99.
    assert_eq!(writes, 2, "{writes} log writes for 100 concurrent requests");
    let stats = block_on(engine.stats());
    assert_eq!((stats.commits, stats.events_logged), (2, 100));
    let coverage = block_on(engine.rollup(&[HourRange::all()])).unwrap_or_else(|e| panic!("{e}"));
    let totals = coverage.rollup.totals(HourRange::all());
    let expected = truth(&events);
    assert_eq!(
        (totals.pageviews, totals.visits),
        (expected.pageviews, expected.visits)
    );
}
