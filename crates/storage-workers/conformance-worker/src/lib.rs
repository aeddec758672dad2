//! A test Worker that runs the conformance suite of `glinto-storage` on the
//! Workers stores of `glinto-storage-workers`, against real bindings inside
//! workerd (driven by `crates/storage-workers/tests/workerd.rs` through
//! Miniflare).
//!
//! Routes, one per suite and way of holding the store (the store itself,
//! `Box<dyn …>`, `Arc<dyn …>`), each on its own key namespace so that the
//! nine runs can go concurrently:
//!
//! - `GET /kv/{plain,box,arc}`: `run_all_kv` on the `KV` namespace;
//! - `GET /object/{plain,box,arc}`: `run_all_object` on the `BUCKET` bucket;
//! - `GET /state/{plain,box,arc}`: `run_all_state` inside the Durable
//!   Object named after the way (class `ConformanceState`, binding `STATE`),
//!   on its own storage, alarms included;
//! - `GET /op/<kind>?i=N`: one storage operation (`noop`, `kv-get`,
//!   `kv-put`, `r2-get`, `r2-put`, `do-noop`, `do-get`, `do-write`), for the
//!   latency example (`cargo run --release -p glinto-storage-workers
//!   --example workerd_latency`);
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
        Box::pin(worker::Delay::from(d)) as std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>
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
    let clean = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('\t', "\\t")
            .replace('\n', "\\n")
    };
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

/// Runs one suite on `store` held the way `way` names: itself, as
/// `Box<dyn Trait>` or as `Arc<dyn Trait>` (the forwarding impls of the
/// traits are part of what runs on the real bindings).
macro_rules! run_way {
    ($run:ident, $store_trait:ident, $suite:literal, $store:expr, $way:expr) => {{
        let h = harness($suite, $way);
        match $way {
            "box" => {
                let store: Box<dyn $store_trait> = Box::new($store);
                $run(&store, &h).await
            }
            "arc" => {
                let store: Arc<dyn $store_trait> = Arc::new($store);
                $run(&store, &h).await
            }
            _ => $run(&$store, &h).await,
        }
    }};
}

/// The `i` query parameter (which key a benchmark request touches).
/// Read from the raw URL: parsing it with the `url` crate would add its
/// IDNA tables (about 200 KB) to the wasm.
fn index(req: &Request) -> u64 {
    let url = req.inner().url();
    url.split_once('?')
        .and_then(|(_, query)| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("i="))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// `GET /op/<kind>?i=N`: exactly one storage operation (or none, for
/// `noop`), so that the latency example can time operations through
/// Miniflare request by request. Keys are `bench/<i mod 64>` (puts use
/// `bench/put/<i>`: one write per key, below KV's rate limit).
async fn one_operation(op: &str, req: &Request, env: &Env) -> Result<Response> {
    let i = index(req);
    let key = format!("bench/{}", i % 64);
    let fresh = format!("bench/put/{i}");
    let value = bytes::Bytes::from(vec![7u8; 100]);
    let failed = |e: glinto_storage::Error| Response::error(e.to_string(), 500);
    match op {
        "noop" => Response::ok("ok"),
        "kv-get" => match WorkersKv::from_env(env, "KV")?.get(&key).await {
            Ok(_) => Response::ok("ok"),
            Err(e) => failed(e),
        },
        "kv-put" => {
            let kv = WorkersKv::from_env(env, "KV")?;
            match kv
                .put(&fresh, value, glinto_storage::KvPutOptions::new())
                .await
            {
                Ok(()) => Response::ok("ok"),
                Err(e) => failed(e),
            }
        }
        "r2-get" => match R2Store::from_env(env, "BUCKET")?.get(&key, None).await {
            Ok(_) => Response::ok("ok"),
            Err(e) => failed(e),
        },
        "r2-put" => {
            let r2 = R2Store::from_env(env, "BUCKET")?;
            match r2
                .put(&fresh, value, glinto_storage::PutMode::Overwrite)
                .await
            {
                Ok(_) => Response::ok("ok"),
                Err(e) => failed(e),
            }
        }
        "do-get" | "do-write" | "do-noop" => {
            let stub = env.durable_object("STATE")?.get_by_name("bench")?;
            stub.fetch_with_str(&format!("https://state.invalid/op/{op}?i={i}"))
                .await
        }
        _ => Response::error("no such operation", 404),
    }
}

/// The Durable Object side of [`one_operation`].
async fn one_state_operation(op: &str, i: u64, store: &DurableObjectStore) -> Result<Response> {
    let key = format!("bench/{}", i % 64);
    let outcome = match op {
        "do-get" => store.get(&key).await.map(drop),
        "do-write" => {
            store
                .write(glinto_storage::WriteBatch::new().put(key, vec![7u8; 100]))
                .await
        }
        _ => Ok(()),
    };
    match outcome {
        Ok(()) => Response::ok("ok"),
        Err(e) => Response::error(e.to_string(), 500),
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: worker::Context) -> Result<Response> {
    let path = req.path();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["ping"] => Response::ok("pong"),
        ["kv", way] if WAYS.contains(way) => {
            let store = WorkersKv::from_env(&env, "KV")?;
            let report = run_way!(run_all_kv, KvStore, "kv", store, *way);
            Response::ok(render(&report))
        }
        ["object", way] if WAYS.contains(way) => {
            let store = R2Store::from_env(&env, "BUCKET")?;
            let report = run_way!(run_all_object, ObjectStore, "object", store, *way);
            Response::ok(render(&report))
        }
        ["op", op] => one_operation(op, &req, &env).await,
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
        if let Some(op) = way.strip_prefix("op/") {
            let store = DurableObjectStore::new(self.state.storage());
            return one_state_operation(op, index(&req), &store).await;
        }
        if !WAYS.contains(&way) {
            return Response::error("no such way", 404);
        }
        let store = DurableObjectStore::new(self.state.storage());
        let report = run_way!(run_all_state, StateStore, "state", store, way);
        Response::ok(render(&report))
    }

    /// The suite sets alarms far in the future and deletes them; a class
    /// needs an alarm handler for `setAlarm` to be accepted at all.
    async fn alarm(&self) -> Result<Response> {
        Response::ok("alarm")
    }
}
