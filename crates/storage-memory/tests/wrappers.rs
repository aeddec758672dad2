//! The wrappers' own behaviour: which calls fail, what a remote reader sees,
//! what eviction drops, what the meter counts.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::executor::block_on;
use glinto_storage::{
    Clock, Error, KvPutOptions, KvStore, ManualClock, ObjectListOptions, ObjectStore, PutMode,
    StateListOptions, StateStore, StateStoreExt, Timestamp, WriteBatch,
};
use glinto_storage_memory::{
    DurableObjectUnits, Fault, FaultPlan, Faulty, InjectedFault, MemoryKv, MemoryObjects,
    MemoryState, Metered, Op, PropagatingKv, R2Units, WorkersKvUnits, WriteBehind,
};

const T0: Timestamp = Timestamp::from_unix_millis(1_764_000_000_000);

fn clock() -> (ManualClock, Arc<dyn Clock>) {
    let clock = ManualClock::new(T0);
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    (clock, shared)
}

/// One character per call: `.` success, `T` transient, `P` permanent, with
/// `+` when the injected fault was applied first.
fn outcome<T>(result: glinto_storage::Result<T>) -> String {
    match result {
        Ok(_) => ".".into(),
        Err(e) => {
            let applied = match &e {
                Error::Transient { source } | Error::Permanent { source } => source
                    .downcast_ref::<InjectedFault>()
                    .is_some_and(|f| f.applied),
                _ => false,
            };
            let letter = if e.is_retryable() { "T" } else { "P" };
            format!("{letter}{}", if applied { "+" } else { "" })
        }
    }
}

/// Runs `calls` puts of keys `k0, k1, …` through a KV store with `plan` and
/// returns the outcome string.
fn check_plan(plan: FaultPlan, calls: usize, expected: &str) {
    let (_, clock) = clock();
    let store = Faulty::new(MemoryKv::new(clock), plan);
    let got: String = (0..calls)
        .map(|i| {
            outcome(block_on(store.put(
                &format!("k{i}"),
                Bytes::new(),
                KvPutOptions::new(),
            )))
        })
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn fault_plans_choose_the_calls_they_fail() {
    check_plan(FaultPlan::new(0), 5, ".....");
    check_plan(
        FaultPlan::new(0).with(Fault::transient().nth(3)),
        5,
        "..T..",
    );
    check_plan(
        FaultPlan::new(0).with(Fault::permanent().first(2)),
        4,
        "PP..",
    );
    check_plan(
        FaultPlan::new(0).with(Fault::transient().on_keys(|k| k.ends_with('1') || k == "k3")),
        5,
        ".T.T.",
    );
    check_plan(
        FaultPlan::new(0).with(Fault::transient().on(&[Op::Get])),
        3,
        "...",
    );
    check_plan(
        FaultPlan::new(0)
            .with(Fault::permanent().nth(2))
            .with(Fault::transient().first(3)),
        4,
        "TPT.",
    );
    check_plan(
        FaultPlan::new(0).with(Fault::transient().nth(1).after_applying()),
        2,
        "T+.",
    );
}

#[test]
fn random_faults_are_seeded_and_near_their_rate() {
    let run = |seed| {
        let (_, clock) = clock();
        let store = Faulty::new(
            MemoryKv::new(clock),
            FaultPlan::new(seed).with(Fault::transient().with_probability(0.25)),
        );
        (0..2000)
            .map(|i| outcome(block_on(store.get(&format!("k{i}")))))
            .collect::<String>()
    };
    let a = run(42);
    assert_eq!(a, run(42), "the same seed must fail the same calls");
    assert_ne!(a, run(43));
    let failures = a.matches('T').count();
    assert!(
        (400..600).contains(&failures),
        "{failures} of 2000 at p = 0.25"
    );
}

#[test]
fn a_fault_after_applying_leaves_the_write_in_place() {
    let (_, clock) = clock();
    let store = Faulty::new(
        MemoryObjects::new(clock),
        FaultPlan::new(0).with(Fault::transient().on(&[Op::Put]).nth(1).after_applying()),
    );
    let first = block_on(store.put("o", Bytes::from_static(b"x"), PutMode::Create));
    assert!(first.as_ref().is_err_and(Error::is_retryable), "{first:?}");
    // The retry finds its own earlier write: what idempotent callers handle.
    let retry = block_on(store.put("o", Bytes::from_static(b"x"), PutMode::Create));
    assert!(
        matches!(retry, Err(Error::AlreadyExists { .. })),
        "{retry:?}"
    );
    assert_eq!(store.plan().injected(), 1);
}

#[test]
fn faults_on_batches_match_any_key_and_write_nothing() {
    let (_, clock) = clock();
    let store = Faulty::new(
        MemoryState::new(clock),
        FaultPlan::new(0).with(Fault::permanent().on_keys(|k| k.starts_with("salt/"))),
    );
    let batch = WriteBatch::new()
        .put("a", Bytes::new())
        .put("salt/1", Bytes::new());
    assert_eq!(outcome(block_on(store.write(batch))), "P");
    assert!(store.inner().snapshot().is_empty());
    assert_eq!(outcome(block_on(store.put("a", Bytes::new()))), ".");
    // Alarm operations have no key: a key rule never matches them.
    assert_eq!(outcome(block_on(store.set_alarm(T0))), ".");
}

/// What the remote handle reads for `key`, as a string (`-` for absent).
fn remote_value(remote: &PropagatingKv<MemoryKv>, key: &str) -> String {
    match block_on(remote.get(key)) {
        Ok(Some(entry)) => String::from_utf8_lossy(&entry.value).into_owned(),
        Ok(None) => "-".into(),
        Err(e) => format!("error: {e}"),
    }
}

#[test]
fn remote_kv_reads_lag_by_the_propagation_delay() {
    let (manual, clock) = clock();
    let delay = Duration::from_secs(60);
    let local = PropagatingKv::new(MemoryKv::new(Arc::clone(&clock)), clock, delay);
    let remote = local.remote();
    let put = |v: &'static str| {
        block_on(local.put("k", Bytes::from_static(v.as_bytes()), KvPutOptions::new()))
    };
    let step = |secs| manual.advance(Duration::from_secs(secs));

    put("v1").map_err(|e| e.to_string()).unwrap_or_default();
    assert_eq!(remote_value(&remote, "k"), "-", "new key, not propagated");
    assert_eq!(
        block_on(local.get("k")).ok().flatten().map(|e| e.value),
        Some(Bytes::from_static(b"v1")),
        "the writer's location reads its write"
    );
    step(59);
    assert_eq!(remote_value(&remote, "k"), "-", "59 s: still old");
    step(1);
    assert_eq!(remote_value(&remote, "k"), "v1", "60 s: visible");
    put("v2").map_err(|e| e.to_string()).unwrap_or_default();
    step(30);
    put("v3").map_err(|e| e.to_string()).unwrap_or_default();
    assert_eq!(remote_value(&remote, "k"), "v1");
    step(30);
    assert_eq!(
        remote_value(&remote, "k"),
        "v2",
        "the older write lands first"
    );
    step(30);
    assert_eq!(remote_value(&remote, "k"), "v3");
    block_on(local.delete("k"))
        .map_err(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(remote_value(&remote, "k"), "v3", "a delete propagates too");
    step(60);
    assert_eq!(remote_value(&remote, "k"), "-");
    assert!(!remote.capability().read_after_write);
    assert!(local.capability().read_after_write);
}

/// Keys and values of a state store, as `k=v` pairs.
fn entries(store: &dyn StateStore) -> String {
    block_on(store.list(StateListOptions::default()))
        .map(|all| {
            all.iter()
                .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(v)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|e| format!("error: {e}"))
}

#[test]
fn eviction_drops_exactly_the_uncommitted_writes() {
    let (_, clock) = clock();
    let cache = WriteBehind::new(MemoryState::new(clock));
    let ok = |r: glinto_storage::Result<()>| assert_eq!(outcome(r), ".");
    ok(block_on(
        cache.write(
            WriteBatch::new()
                .put("a", Bytes::from_static(b"1"))
                .put("b", Bytes::from_static(b"1")),
        ),
    ));
    ok(block_on(cache.set_alarm(T0)));
    assert_eq!(
        entries(cache.inner()),
        "",
        "nothing committed before a flush"
    );
    ok(block_on(cache.flush()));
    assert_eq!(entries(cache.inner()), "a=1 b=1");
    assert_eq!(block_on(cache.inner().get_alarm()).ok().flatten(), Some(T0));

    ok(block_on(
        cache.write(
            WriteBatch::new()
                .put("c", Bytes::from_static(b"2"))
                .delete("a"),
        ),
    ));
    ok(block_on(cache.delete_alarm()));
    assert_eq!(entries(&cache), "b=1 c=2", "the owner sees its own writes");
    assert_eq!(cache.uncommitted_keys(), 2);
    let evicted = cache.evict();
    assert_eq!((evicted.keys, evicted.alarm), (2, true));
    assert_eq!(
        entries(&cache),
        "a=1 b=1",
        "after eviction: the committed state"
    );
    assert_eq!(block_on(cache.get_alarm()).ok().flatten(), Some(T0));
    assert_eq!(cache.evict().keys, 0, "nothing left to drop");
}

#[test]
fn a_failed_flush_leaves_its_writes_uncommitted() {
    let (_, clock) = clock();
    let durable = Faulty::new(
        MemoryState::new(clock),
        FaultPlan::new(0).with(Fault::transient().on(&[Op::Write]).first(1)),
    );
    let cache = WriteBehind::new(durable);
    assert_eq!(
        outcome(block_on(cache.put("a", Bytes::from_static(b"1")))),
        "."
    );
    assert_eq!(outcome(block_on(cache.flush())), "T");
    assert_eq!(cache.uncommitted_keys(), 1, "still uncommitted");
    assert_eq!(entries(&cache), "a=1", "and still visible");
    assert_eq!(outcome(block_on(cache.flush())), ".");
    assert_eq!(cache.uncommitted_keys(), 0);
    cache.evict();
    assert_eq!(entries(&cache), "a=1", "committed writes survive eviction");
}

#[test]
fn a_large_flush_is_split_into_batches() {
    let (_, clock) = clock();
    let cache = WriteBehind::new(Metered::new(MemoryState::new(clock)));
    for i in 0..300 {
        assert_eq!(
            outcome(block_on(cache.put(&format!("k{i:03}"), Bytes::new()))),
            "."
        );
    }
    assert_eq!(outcome(block_on(cache.flush())), ".");
    let usage = cache.inner().usage();
    assert_eq!(
        (usage.batches, usage.rows_written),
        (3, 300),
        "128 + 128 + 44"
    );
}

#[test]
fn metering_maps_to_billing_units() {
    let (_, clock) = clock();
    // Workers KV: one unit per call of each kind, failed calls included.
    let kv = Metered::new(MemoryKv::new(Arc::clone(&clock)));
    let _ = block_on(kv.put("a", Bytes::from(vec![0; 10]), KvPutOptions::new()));
    let _ = block_on(kv.put("", Bytes::new(), KvPutOptions::new()));
    let _ = block_on(kv.get("a"));
    let _ = block_on(kv.get("missing"));
    let _ = block_on(kv.delete("a"));
    let _ = block_on(kv.list(Default::default()));
    assert_eq!(
        kv.usage().workers_kv(),
        WorkersKvUnits {
            reads: 2,
            writes: 2,
            deletes: 1,
            lists: 1
        }
    );
    assert_eq!(
        (
            kv.usage().errors,
            kv.usage().bytes_written,
            kv.usage().bytes_read
        ),
        (1, 10, 10)
    );

    // Durable Object: rows per key; 4 KB request units per key.
    let state = Metered::new(MemoryState::new(Arc::clone(&clock)));
    let batch = WriteBatch::new()
        .put("small", Bytes::from(vec![0; 100]))
        .put("big", Bytes::from(vec![0; 4097]))
        .delete("gone");
    let _ = block_on(state.write(batch));
    let _ = block_on(state.get_many(&["small", "big", "missing"]));
    let _ = block_on(state.set_alarm(T0));
    assert_eq!(
        state.usage().durable_object(),
        DurableObjectUnits {
            rows_read: 3,
            rows_written: 4,
            read_request_units: 4,
            write_request_units: 5,
        }
    );

    // R2: puts and lists are class A, gets and heads class B, deletes free.
    let objects = Metered::new(MemoryObjects::new(clock));
    let _ = block_on(objects.put("o", Bytes::new(), PutMode::Overwrite));
    let _ = block_on(objects.put("o", Bytes::new(), PutMode::Create));
    let _ = block_on(objects.get("o", None));
    let _ = block_on(objects.head("o"));
    let _ = block_on(objects.head("p"));
    let _ = block_on(objects.list(ObjectListOptions::default()));
    let _ = block_on(objects.delete("o"));
    assert_eq!(
        objects.usage().r2(),
        R2Units {
            class_a: 3,
            class_b: 3,
            free: 1
        }
    );
    objects.meter().reset();
    assert_eq!(objects.usage().r2(), R2Units::default());
}

#[test]
fn the_memory_state_alarm_fires_by_the_clock() {
    let (manual, clock) = clock();
    let state = MemoryState::new(clock);
    let at = T0.saturating_add(Duration::from_secs(30));
    assert_eq!(outcome(block_on(state.set_alarm(at))), ".");
    assert_eq!(state.take_due_alarm(), None, "not yet due");
    manual.advance(Duration::from_secs(30));
    assert_eq!(state.take_due_alarm(), Some(at));
    assert_eq!(state.take_due_alarm(), None, "fired once");
    assert_eq!(block_on(state.get_alarm()).ok().flatten(), None);
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn create_races_across_threads_have_one_winner() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build();
    let Ok(runtime) = runtime else {
        panic!("no tokio runtime");
    };
    let (_, clock) = clock();
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryObjects::new(clock));
    let winners = runtime.block_on(async {
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    store
                        .put("race", Bytes::from(format!("{i}")), PutMode::Create)
                        .await
                        .is_ok()
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(matches!(task.await, Ok(true)));
        }
        winners
    });
    assert_eq!(winners, 1);
}

#[test]
fn write_behind_lists_fill_the_limit_past_uncommitted_deletes() {
    let (_, clock) = clock();
    let cache = WriteBehind::new(MemoryState::new(clock));
    let batch = WriteBatch::new()
        .put("a", Bytes::from_static(b"1"))
        .put("b", Bytes::from_static(b"1"))
        .put("c", Bytes::from_static(b"1"));
    assert_eq!(outcome(block_on(cache.write(batch))), ".");
    assert_eq!(outcome(block_on(cache.flush())), ".");
    assert_eq!(outcome(block_on(cache.delete("a"))), ".");
    assert_eq!(
        outcome(block_on(cache.put("d", Bytes::from_static(b"2")))),
        "."
    );
    let list = |options: StateListOptions| {
        block_on(cache.list(options))
            .map(|all| {
                all.into_iter()
                    .map(|(k, _)| k)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|e| e.to_string())
    };
    assert_eq!(list(StateListOptions::default().limit(2)), "b c");
    assert_eq!(list(StateListOptions::default().reverse().limit(2)), "d c");
    assert_eq!(list(StateListOptions::default().start_after("b")), "c d");
}

#[test]
fn production_presets_enforce_the_per_key_write_rate() {
    let (manual, clock) = clock();
    let kv =
        MemoryKv::with_capability(Arc::clone(&clock), glinto_storage::Capability::workers_kv());
    let put = |key: &str| outcome(block_on(kv.put(key, Bytes::new(), KvPutOptions::new())));
    let delete = |key: &str| outcome(block_on(kv.delete(key)));
    assert_eq!([put("a"), put("a"), put("b"), delete("a")].concat(), ".T.T");
    manual.advance(Duration::from_millis(999));
    assert_eq!(put("a"), "T", "999 ms later: still inside the second");
    manual.advance(Duration::from_millis(1));
    assert_eq!([put("a"), put("b"), put("a")].concat(), "..T");
    // The default memory store does not limit.
    let relaxed = MemoryKv::new(clock);
    let put = |key: &str| {
        outcome(block_on(relaxed.put(
            key,
            Bytes::new(),
            KvPutOptions::new(),
        )))
    };
    assert_eq!([put("a"), put("a")].concat(), "..");
}
