//! A test Worker that runs the conformance suite of `glinto-storage` on the
//! Workers stores of `glinto-storage-workers`, against real bindings inside
//! workerd (driven by `crates/storage-workers/tests/workerd.rs` through
//! Miniflare).
//!
//! Routes, one per suite and way of holding the store (the store itself,
//! `Box<dyn …>`, `Arc<dyn …>`), each on its own key namespace so that the
//! nine runs can go concurrently:
//!
//! - `GET /kv/{plain,box,arc}`: [`run_all_kv`] on the `KV` namespace;
//! - `GET /object/{plain,box,arc}`: [`run_all_object`] on the `BUCKET` bucket;
//! - `GET /state/{plain,box,arc}`: [`run_all_state`] inside the Durable
//!   Object named after the way (class [`ConformanceState`], binding `STATE`),
//!   on its own storage, alarms included;
//! - `GET /ping`: `pong`, for readiness.
//!
//! A suite route answers 200 with one line per test:
//! `passed\t<test>`, `skipped\t<test>\t<reason>` or `failed\t<test>\t<clause>`
//! (tabs and newlines inside a reason are escaped), so the Rust test can list
//! every failing case by name.

#![cfg(target_arch = "wasm32")]

use std::sync::Arc;
use std::time::Duration;

use glinto_storage::conformance::{
    Harness, Report, TimeControl, run_all_kv, run_all_object, run_all_state,
};
use glinto_storage::{KvStore, ObjectStore, StateStore};
use glinto_storage_workers::{DurableObjectStore, R2Store, WorkersClock, WorkersKv};
use worker::{DurableObject, Env, Request, Response, Result, State, durable_object, event};
// `#[durable_object]` expands to paths under `wasm_bindgen`.
use worker::wasm_bindgen;

/// The ways a store is held while the suite runs on it.
const WAYS: &[&str] = &["plain", "box", "arc"];

/// Keys written by the paging tests: past one full page of the largest list
/// limit (1000), so a page boundary at the maximum is crossed, without the
/// suite's default 2 500 (each KV put through the local runtime costs
/// milliseconds, and nine runs share it).
const PAGING_KEYS: usize = 1_100;

/// The harness of one run: real time (workerd's clock cannot be moved), so
/// the suite sleeps where a clause needs time to pass.
///
/// - `max_wait` 70 s: long enough for Workers KV's TTL clause (a 60 s
///   minimum TTL plus the settle delay, then expiry), so no clause is
///   skipped for lack of time.
/// - `paging_keys` [`PAGING_KEYS`].
/// - `settle_delay` 2 s for KV: the local runtime applies a KV write at once
///   (it has no edge caches to propagate to), so the suite's waits for
///   propagation need not be the production 61 s; 2 s keeps an
///   `expire_at(now + 60 s + settle)` comfortably above KV's 60 s minimum
///   when the store checks it a moment after the harness read the clock.
fn harness(suite: &str, way: &str) -> Harness {
    let sleep: glinto_storage::conformance::SleepFn = Arc::new(|d: Duration| {
        Box::pin(worker::Delay::from(d))
            as std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>
    });
    Harness::with_time(TimeControl::Sleep {
        clock: Arc::new(WorkersClock),
        sleep,
        max_wait: Duration::from_secs(70),
    })
    .namespace(format!("conformance/{suite}/{way}/"))
    .settle_delay(Duration::from_secs(2))
    .paging_keys(PAGING_KEYS)
}

/// The report as lines of `verdict\ttest[\tdetail]`.
fn render(report: &Report) -> String {
    let clean = |s: &str| s.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n");
    let mut out = String::new();
    for name in &report.passed {
        out.push_str(&format!("passed\t{}\n", clean(name)));
    }
    for (name, reason) in &report.skipped {
        out.push_str(&format!("skipped\t{}\t{}\n", clean(name), clean(reason)));
    }
    for (name, failure) in &report.failed {
        out.push_str(&format!(
            "failed\t{}\t{}\n",
            clean(name),
            clean(&failure.detail)
        ));
    }
    out
}

async fn run_kv(store: WorkersKv, way: &str) -> Report {
    let h = harness("kv", way);
    match way {
        "box" => {
            let store: Box<dyn KvStore> = Box::new(store);
            run_all_kv(&store, &h).await
        }
        "arc" => {
            let store: Arc<dyn KvStore> = Arc::new(store);
            run_all_kv(&store, &h).await
        }
        _ => run_all_kv(&store, &h).await,
    }
}

async fn run_object(store: R2Store, way: &str) -> Report {
    let h = harness("object", way);
    match way {
        "box" => {
            let store: Box<dyn ObjectStore> = Box::new(store);
            run_all_object(&store, &h).await
        }
        "arc" => {
            let store: Arc<dyn ObjectStore> = Arc::new(store);
            run_all_object(&store, &h).await
        }
        _ => run_all_object(&store, &h).await,
    }
}

async fn run_state(store: DurableObjectStore, way: &str) -> Report {
    let h = harness("state", way);
    match way {
        "box" => {
            let store: Box<dyn StateStore> = Box::new(store);
            run_all_state(&store, &h).await
        }
        "arc" => {
            let store: Arc<dyn StateStore> = Arc::new(store);
            run_all_state(&store, &h).await
        }
        _ => run_all_state(&store, &h).await,
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: worker::Context) -> Result<Response> {
    let path = req.path();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["ping"] => Response::ok("pong"),
        ["kv", way] if WAYS.contains(way) => {
            let report = run_kv(WorkersKv::from_env(&env, "KV")?, way).await;
            Response::ok(render(&report))
        }
        ["object", way] if WAYS.contains(way) => {
            let report = run_object(R2Store::from_env(&env, "BUCKET")?, way).await;
            Response::ok(render(&report))
        }
        ["state", way] if WAYS.contains(way) => {
            let stub = env.durable_object("STATE")?.get_by_name(way)?;
            stub.fetch_with_str(&format!("https://state.invalid/{way}"))
                .await
        }
        _ => Response::error("no such route", 404),
    }
}

/// The Durable Object whose storage the state suite runs on (one object per
/// way, so that their alarms are separate).
#[durable_object]
pub struct ConformanceState {
    state: State,
}

impl std::fmt::Debug for ConformanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConformanceState").finish_non_exhaustive()
    }
}

impl DurableObject for ConformanceState {
    fn new(state: State, _env: Env) -> Self {
        ConformanceState { state }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let path = req.path();
        let way = path.trim_matches('/');
        if !WAYS.contains(&way) {
            return Response::error("no such way", 404);
        }
        let report = run_state(DurableObjectStore::new(self.state.storage()), way).await;
        Response::ok(render(&report))
    }

    /// The suite sets alarms far in the future and deletes them; a class
    /// needs an alarm handler for `setAlarm` to be accepted at all.
    async fn alarm(&self) -> Result<Response> {
        Response::ok("alarm")
    }
}
