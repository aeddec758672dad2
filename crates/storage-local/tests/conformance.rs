//! The whole conformance suite of glinto-storage against the local backend: each store
//! directly, as `Box<dyn …>` and as `Arc<dyn …>`, on a real data directory with a manual clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::executor::block_on;
use glinto_storage::conformance::{
    Harness, run_kv_all_ways, run_object_all_ways, run_state_all_ways,
};
use glinto_storage::{ManualClock, Timestamp};
use glinto_storage_local::{LocalOptions, LocalStore};

/// Object bodies are capped lower than the 1 GiB default so that the suite checks the limit
/// itself (it allocates a body of the limit plus one byte).
const TEST_OBJECT_LIMIT: u64 = 8 * 1024 * 1024;

fn open() -> (tempfile::TempDir, LocalStore, Harness) {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(Timestamp::from_unix_millis(1_700_000_000_000));
    let options = LocalOptions::new()
        .clock(Arc::new(clock.clone()))
        .max_object_bytes(TEST_OBJECT_LIMIT);
    let store = LocalStore::open_with(dir.path(), options).expect("open");
    (dir, store, Harness::manual(clock))
}

/// Each run of the suite gets a fresh namespace, so "a fresh store" holds for every way.
fn fresh() -> impl FnMut() -> String {
    let n = AtomicUsize::new(0);
    move || format!("conformance-{}", n.fetch_add(1, Ordering::Relaxed))
}

#[test]
fn kv_conformance() {
    let (_dir, store, harness) = open();
    let mut name = fresh();
    let report = block_on(run_kv_all_ways(|| store.kv(&name()).expect("kv"), &harness));
    report.assert_passed_skipping_only(&[]);
}

#[test]
fn state_conformance() {
    let (_dir, store, harness) = open();
    let mut name = fresh();
    let report = block_on(run_state_all_ways(
        || store.state(&name()).expect("state"),
        &harness,
    ));
    report.assert_passed_skipping_only(&[]);
}

#[test]
fn object_conformance() {
    let (_dir, store, harness) = open();
    let mut name = fresh();
    let report = block_on(run_object_all_ways(
        || store.objects(&name()).expect("objects"),
        &harness,
    ));
    report.assert_passed_skipping_only(&[]);
}
