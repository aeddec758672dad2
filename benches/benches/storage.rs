//! The storage backends' operations: ops/s and latency of the local (redb) backend next to
//! the in-memory one, per operation of each store.
//!
//! - KV: `get` of a present key, `put` of a new 256 B value, `list` of a 100-key page.
//! - State: batch `write` of 1, 16 and 128 keys of 256 B, `get`, `list` of 100 entries.
//! - Objects: `put` (overwrite), `get` and `head` of 1 KiB and 1 MiB bodies.
//!
//! The local backend writes to a temporary directory on the machine's disk; every local
//! write is one fsynced redb commit, so write latency is the disk's fsync latency.
//!
//! ```sh
//! cargo bench -p glinto-benches --bench storage -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use futures::executor::block_on;
use glinto_storage::{
    KvListOptions, KvPutOptions, KvStore, ObjectStore, PutMode, StateListOptions, StateStore,
    SystemClock, WriteBatch,
};
use glinto_storage_local::LocalStore;
use glinto_storage_memory::{MemoryKv, MemoryObjects, MemoryState};

/// A rollup-sized value.
const VALUE_BYTES: usize = 256;
/// Keys preloaded before reads and lists.
const PRELOAD: usize = 10_000;

fn value(seed: usize, len: usize) -> Bytes {
    (0..len)
        .map(|i| (seed.wrapping_mul(31).wrapping_add(i) % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// The local store in a temporary directory, kept alive with it.
struct Local {
    _dir: tempfile::TempDir,
    store: LocalStore,
}

fn local() -> Local {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path()).expect("open local store");
    Local { _dir: dir, store }
}

fn kv_backends(local: &Local) -> Vec<(&'static str, Box<dyn KvStore>)> {
    vec![
        ("memory", Box::new(MemoryKv::new(Arc::new(SystemClock)))),
        ("local", Box::new(local.store.kv("bench").expect("kv"))),
    ]
}

fn state_backends(local: &Local) -> Vec<(&'static str, Box<dyn StateStore>)> {
    vec![
        ("memory", Box::new(MemoryState::new(Arc::new(SystemClock)))),
        (
            "local",
            Box::new(local.store.state("bench").expect("state")),
        ),
    ]
}

fn object_backends(local: &Local) -> Vec<(&'static str, Box<dyn ObjectStore>)> {
    vec![
        (
            "memory",
            Box::new(MemoryObjects::new(Arc::new(SystemClock))),
        ),
        (
            "local",
            Box::new(local.store.objects("bench").expect("objects")),
        ),
    ]
}

/// A local write costs an fsync (milliseconds): flat sampling with 30 samples keeps each
/// benchmark near the requested measurement time instead of criterion's linear ramp.
fn slow_writes(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group.sampling_mode(SamplingMode::Flat).sample_size(30);
}

fn kv(c: &mut Criterion) {
    let local = local();
    let mut group = c.benchmark_group("storage/kv");
    slow_writes(&mut group);
    group.throughput(Throughput::Elements(1));
    for (name, store) in kv_backends(&local) {
        block_on(async {
            for i in 0..PRELOAD {
                store
                    .put(
                        &format!("k/{i:06}"),
                        value(i, VALUE_BYTES),
                        KvPutOptions::new(),
                    )
                    .await
                    .expect("preload");
            }
        });
        let mut i = 0usize;
        group.bench_function(BenchmarkId::new("get", name), |b| {
            b.iter(|| {
                i = (i + 7919) % PRELOAD;
                black_box(block_on(store.get(&format!("k/{i:06}"))).expect("get"))
            });
        });
        let mut n = 0usize;
        group.bench_function(BenchmarkId::new("put", name), |b| {
            b.iter(|| {
                n += 1;
                block_on(store.put(
                    &format!("new/{n:09}"),
                    value(n, VALUE_BYTES),
                    KvPutOptions::new(),
                ))
                .expect("put");
            });
        });
        group.bench_function(BenchmarkId::new("list_100", name), |b| {
            b.iter(|| {
                black_box(
                    block_on(store.list(KvListOptions::prefix("k/00").limit(100))).expect("list"),
                )
            });
        });
    }
    group.finish();
}

fn state(c: &mut Criterion) {
    let local = local();
    let mut group = c.benchmark_group("storage/state");
    slow_writes(&mut group);
    for (name, store) in state_backends(&local) {
        block_on(async {
            for start in (0..PRELOAD).step_by(100) {
                let batch = (start..start + 100).fold(WriteBatch::new(), |b, i| {
                    b.put(format!("k/{i:06}"), value(i, VALUE_BYTES))
                });
                store.write(batch).await.expect("preload");
            }
        });
        group.throughput(Throughput::Elements(1));
        let mut i = 0usize;
        group.bench_function(BenchmarkId::new("get", name), |b| {
            b.iter(|| {
                i = (i + 7919) % PRELOAD;
                black_box(block_on(store.get(&format!("k/{i:06}"))).expect("get"))
            });
        });
        group.bench_function(BenchmarkId::new("list_100", name), |b| {
            b.iter(|| {
                black_box(
                    block_on(store.list(StateListOptions::prefix("k/00").limit(100)))
                        .expect("list"),
                )
            });
        });
        for keys in [1usize, 16, 128] {
            group.throughput(Throughput::Elements(keys as u64));
            let mut n = 0usize;
            group.bench_function(BenchmarkId::new(format!("write_batch_{keys}"), name), |b| {
                b.iter(|| {
                    n += 1;
                    let batch = (0..keys).fold(WriteBatch::new(), |b, k| {
                        b.put(format!("b/{n:09}/{k:03}"), value(k, VALUE_BYTES))
                    });
                    block_on(store.write(batch)).expect("write");
                });
            });
        }
    }
    group.finish();
}

fn objects(c: &mut Criterion) {
    let local = local();
    let mut group = c.benchmark_group("storage/object");
    slow_writes(&mut group);
    for (name, store) in object_backends(&local) {
        for (label, len) in [("1KiB", 1024usize), ("1MiB", 1024 * 1024)] {
            let body = value(len, len);
            let key = format!("o/{label}");
            block_on(store.put(&key, body.clone(), PutMode::Overwrite)).expect("preload");
            group.throughput(Throughput::Bytes(len as u64));
            group.bench_function(BenchmarkId::new(format!("put_{label}"), name), |b| {
                b.iter(|| {
                    black_box(
                        block_on(store.put(&key, body.clone(), PutMode::Overwrite)).expect("put"),
                    )
                });
            });
            group.bench_function(BenchmarkId::new(format!("get_{label}"), name), |b| {
                b.iter(|| black_box(block_on(store.get(&key, None)).expect("get")));
            });
            group.throughput(Throughput::Elements(1));
            group.bench_function(BenchmarkId::new(format!("head_{label}"), name), |b| {
                b.iter(|| black_box(block_on(store.head(&key)).expect("head")));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, kv, state, objects);
criterion_main!(benches);
