//! Every in-memory backend and every wrapper (configured not to fail) passes
//! the whole conformance suite, plain and through `Box<dyn>` / `Arc<dyn>`.

use std::sync::Arc;
use std::time::Duration;

use futures::executor::block_on;
use glinto_storage::conformance::{
    Harness, Report, SleepFn, TimeControl, run_all_kv, run_all_object, run_all_state,
    run_kv_all_ways, run_object_all_ways, run_state_all_ways,
};
use glinto_storage::{Capability, Clock, ManualClock, Timestamp};
use glinto_storage_memory::{
    FaultPlan, Faulty, MemoryKv, MemoryObjects, MemoryState, Metered, PropagatingKv, WriteBehind,
};

const T0: Timestamp = Timestamp::from_unix_millis(1_764_000_000_000);

fn setup() -> (ManualClock, Arc<dyn Clock>, Harness) {
    let clock = ManualClock::new(T0);
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    // Fewer paging keys than the default keeps 3 × N runs quick; still
    // several pages at the 1000-key limit.
    let harness = Harness::manual(clock.clone()).paging_keys(2_100);
    (clock, shared, harness)
}

/// Every test passed; only the named tests may be skipped.
fn check(report: &Report, may_skip: &[&str]) {
    report.assert_passed_skipping_only(may_skip);
    assert!(!report.passed.is_empty(), "nothing ran");
}

fn small_objects(clock: &Arc<dyn Clock>) -> MemoryObjects {
    let mut cap = Capability::r2();
    cap.max_value_bytes = 1024 * 1024;
    cap.max_writes_per_key_per_second = None;
    MemoryObjects::with_capability(Arc::clone(clock), cap)
}

#[test]
fn memory_kv() {
    let (_, clock, h) = setup();
    check(
        &block_on(run_kv_all_ways(|| MemoryKv::new(Arc::clone(&clock)), &h)),
        &[],
    );
}

/// The production presets, per-key write rate and KV's missing
/// read-after-write included: the suite paces rewrites and waits out
/// propagation on the manual clock.
#[test]
fn memory_stores_with_the_production_presets() {
    let (_, clock, h) = setup();
    let kv = || MemoryKv::with_capability(Arc::clone(&clock), Capability::workers_kv());
    check(&block_on(run_kv_all_ways(kv, &h)), &[]);
    let mut r2 = Capability::r2();
    r2.max_value_bytes = 1024 * 1024;
    let objects = || MemoryObjects::with_capability(Arc::clone(&clock), r2);
    check(&block_on(run_object_all_ways(objects, &h)), &[]);
}

#[test]
fn memory_kv_without_ttl_or_metadata() {
    let (_, clock, h) = setup();
    let mut cap = Capability::workers_kv();
    cap.ttl = false;
    cap.max_metadata_bytes = 0;
    cap.read_after_write = true;
    cap.max_writes_per_key_per_second = None;
    let report = block_on(run_kv_all_ways(
        || MemoryKv::with_capability(Arc::clone(&clock), cap),
        &h,
    ));
    check(&report, &["kv_ttl_expiry", "kv_ttl_minimum"]);
}

#[test]
fn memory_state_kv_and_sqlite_limits() {
    let (_, clock, h) = setup();
    check(
        &block_on(run_state_all_ways(
            || MemoryState::new(Arc::clone(&clock)),
            &h,
        )),
        &[],
    );
    let report = block_on(run_state_all_ways(
        || MemoryState::with_capability(Arc::clone(&clock), Capability::durable_object_sqlite()),
        &h,
    ));
    check(&report, &[]);
}

#[test]
fn memory_state_without_alarms() {
    let (_, clock, h) = setup();
    let mut cap = Capability::durable_object_kv();
    cap.alarms = false;
    let report = block_on(run_state_all_ways(
        || MemoryState::with_capability(Arc::clone(&clock), cap),
        &h,
    ));
    check(&report, &["state_alarm"]);
}

#[test]
fn memory_objects() {
    let (_, clock, h) = setup();
    check(
        &block_on(run_object_all_ways(|| small_objects(&clock), &h)),
        &[],
    );
    // The default 64 MiB limit is above the harness's allocation cap.
    let report = block_on(run_object_all_ways(
        || MemoryObjects::new(Arc::clone(&clock)),
        &h,
    ));
    check(&report, &["object_size_limits"]);
}

#[test]
fn memory_objects_without_conditional_writes_or_delimiter() {
    let (_, clock, h) = setup();
    let mut cap = Capability::r2();
    cap.max_value_bytes = 1024;
    cap.conditional_writes = false;
    cap.list_delimiter = false;
    let report = block_on(run_object_all_ways(
        || MemoryObjects::with_capability(Arc::clone(&clock), cap),
        &h,
    ));
    check(
        &report,
        &[
            "object_put_modes",
            "object_create_race",
            "object_if_match_race",
            "object_list_delimiter",
        ],
    );
}

#[test]
fn faulty_with_an_empty_plan() {
    let (_, clock, h) = setup();
    let kv = || Faulty::new(MemoryKv::new(Arc::clone(&clock)), FaultPlan::new(1));
    check(&block_on(run_kv_all_ways(kv, &h)), &[]);
    let state = || Faulty::new(MemoryState::new(Arc::clone(&clock)), FaultPlan::new(1));
    check(&block_on(run_state_all_ways(state, &h)), &[]);
    let objects = || Faulty::new(small_objects(&clock), FaultPlan::new(1));
    check(&block_on(run_object_all_ways(objects, &h)), &[]);
}

#[test]
fn metered() {
    let (_, clock, h) = setup();
    check(
        &block_on(run_kv_all_ways(
            || Metered::new(MemoryKv::new(Arc::clone(&clock))),
            &h,
        )),
        &[],
    );
    check(
        &block_on(run_state_all_ways(
            || Metered::new(MemoryState::new(Arc::clone(&clock))),
            &h,
        )),
        &[],
    );
    check(
        &block_on(run_object_all_ways(
            || Metered::new(small_objects(&clock)),
            &h,
        )),
        &[],
    );
}

#[test]
fn write_behind_unflushed() {
    let (_, clock, h) = setup();
    let report = block_on(run_state_all_ways(
        || WriteBehind::new(MemoryState::new(Arc::clone(&clock))),
        &h,
    ));
    check(&report, &[]);
}

#[test]
fn propagating_kv_local_and_remote() {
    let (_, clock, h) = setup();
    let delay = Duration::from_secs(60);
    let local = || PropagatingKv::new(MemoryKv::new(Arc::clone(&clock)), Arc::clone(&clock), delay);
    check(&block_on(run_kv_all_ways(local, &h)), &[]);
    // The remote location has no read-after-write: the suite waits out the
    // delay (settle_delay ≥ delay) before reading back.
    let remote = || local().remote();
    let h = h.settle_delay(delay);
    check(&block_on(run_kv_all_ways(remote, &h)), &[]);
}

#[test]
fn every_wrapper_stacked() {
    let (_, clock, h) = setup();
    let stacked = || {
        Metered::new(Faulty::new(
            WriteBehind::new(MemoryState::new(Arc::clone(&clock))),
            FaultPlan::new(7),
        ))
    };
    check(&block_on(run_state_all_ways(stacked, &h)), &[]);
}

#[test]
fn the_suite_reruns_on_a_store_with_leftovers() {
    let (_, clock, h) = setup();
    let kv = MemoryKv::new(Arc::clone(&clock));
    let state = MemoryState::new(Arc::clone(&clock));
    let objects = small_objects(&clock);
    for run in 0..2 {
        assert!(block_on(run_all_kv(&kv, &h)).is_ok(), "kv run {run}");
        assert!(
            block_on(run_all_state(&state, &h)).is_ok(),
            "state run {run}"
        );
        assert!(
            block_on(run_all_object(&objects, &h)).is_ok(),
            "object run {run}"
        );
    }
    assert!(
        !kv.is_empty(),
        "the first run's keys were still there for the second"
    );
}

/// A sleep that moves a manual clock plays a runtime whose clock the
/// harness cannot set (workerd): waits up to `max_wait` happen, longer ones
/// skip their test, and a fixed clock skips every time-dependent clause.
#[test]
fn time_controls_without_a_settable_clock() {
    let (clock, shared, _) = setup();
    let sleeper = clock.clone();
    let sleep: SleepFn = Arc::new(move |d| {
        sleeper.advance(d);
        Box::pin(async {})
    });
    let run = |time: TimeControl| {
        let h = Harness::with_time(time).paging_keys(1_100);
        block_on(run_all_kv(&MemoryKv::new(Arc::clone(&shared)), &h))
    };
    let patient = run(TimeControl::Sleep {
        clock: Arc::clone(&shared),
        sleep: Arc::clone(&sleep),
        max_wait: Duration::from_secs(3600),
    });
    check(&patient, &[]);
    let hurried = run(TimeControl::Sleep {
        clock: Arc::clone(&shared),
        sleep,
        max_wait: Duration::from_secs(10),
    });
    check(&hurried, &["kv_ttl_expiry"]);
    assert!(
        hurried
            .skipped
            .iter()
            .any(|(_, why)| why.contains("max_wait")),
        "{hurried}"
    );
    let fixed = run(TimeControl::Fixed(Arc::clone(&shared)));
    check(&fixed, &["kv_ttl_expiry"]);
    // Without read-after-write, a fixed clock cannot settle writes either.
    let remote = PropagatingKv::new(
        MemoryKv::new(Arc::clone(&shared)),
        Arc::clone(&shared),
        Duration::from_secs(60),
    )
    .remote();
    let h = Harness::with_time(TimeControl::Fixed(shared)).paging_keys(1_100);
    let report = block_on(run_all_kv(&remote, &h));
    assert!(report.is_ok(), "{report}");
    assert!(report.skipped.len() >= 5, "{report}");
}
