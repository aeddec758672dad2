//! What each wrapper adds to a store call: a `StateStore` `get` of a present
//! 256 B value and a one-key `write`, on the bare in-memory store and through
//! `Metered`, `Faulty` (an empty plan and a plan whose rule never fires) and
//! `WriteBehind` (reads served from the overlay), plus the remote handle of
//! `PropagatingKv` on a KV `get`.
//!
//! ```sh
//! cargo bench -p glinto-storage-memory --bench wrappers -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;
use glinto_storage::{
    Clock, KvPutOptions, KvStore, ManualClock, StateStore, Timestamp, WriteBatch,
};
use glinto_storage_memory::{
    Fault, FaultPlan, Faulty, MemoryKv, MemoryState, Metered, Op, PropagatingKv, WriteBehind,
};

const KEYS: usize = 1_000;

fn clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(Timestamp::from_unix_millis(
        1_764_000_000_000,
    )))
}

fn key(i: usize) -> String {
    format!("rollup/site-{}/2026-11-28", i % KEYS)
}

fn stores() -> Vec<(&'static str, Box<dyn StateStore>)> {
    let never = FaultPlan::new(1).with(Fault::transient().on(&[Op::GetAlarm]).nth(u64::MAX));
    vec![
        ("bare", Box::new(MemoryState::new(clock()))),
        ("metered", Box::new(Metered::new(MemoryState::new(clock())))),
        (
            "faulty-empty",
            Box::new(Faulty::new(MemoryState::new(clock()), FaultPlan::new(1))),
        ),
        (
            "faulty-1-rule",
            Box::new(Faulty::new(MemoryState::new(clock()), never)),
        ),
        (
            "write-behind",
            Box::new(WriteBehind::new(MemoryState::new(clock()))),
        ),
    ]
}

fn state(c: &mut Criterion) {
    let mut group = c.benchmark_group("wrappers/state");
    group.throughput(Throughput::Elements(1));
    let value = Bytes::from(vec![7u8; 256]);
    for (name, store) in stores() {
        for i in 0..KEYS {
            let batch = WriteBatch::new().put(key(i), value.clone());
            block_on(store.write(batch)).expect("preload");
        }
        let mut i = 0;
        group.bench_function(BenchmarkId::new("get", name), |b| {
            b.iter(|| {
                i += 1;
                black_box(block_on(store.get(&key(i))).expect("get"))
            });
        });
        group.bench_function(BenchmarkId::new("write_1", name), |b| {
            b.iter(|| {
                i += 1;
                let batch = WriteBatch::new().put(key(i), value.clone());
                block_on(store.write(batch)).expect("write");
            });
        });
    }
    group.finish();
}

fn kv(c: &mut Criterion) {
    let mut group = c.benchmark_group("wrappers/kv");
    group.throughput(Throughput::Elements(1));
    let clock = clock();
    let bare = MemoryKv::new(Arc::clone(&clock));
    let propagating = PropagatingKv::new(
        MemoryKv::new(Arc::clone(&clock)),
        clock,
        Duration::from_secs(60),
    );
    let remote = propagating.remote();
    let value = Bytes::from(vec![7u8; 256]);
    for i in 0..KEYS {
        block_on(bare.put(&key(i), value.clone(), KvPutOptions::new())).expect("preload");
        block_on(propagating.put(&key(i), value.clone(), KvPutOptions::new())).expect("preload");
    }
    let stores: [(&str, &dyn KvStore); 2] = [("bare", &bare), ("propagating-remote", &remote)];
    for (name, store) in stores {
        let mut i = 0;
        group.bench_function(BenchmarkId::new("get", name), |b| {
            b.iter(|| {
                i += 1;
                black_box(block_on(store.get(&key(i))).expect("get"))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, state, kv);
criterion_main!(benches);
