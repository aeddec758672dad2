//! Every acknowledged event is counted exactly once, whatever fails and
//! whenever the engine restarts: a model-based test against a plain count.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{MIN, SITE, T0, Truth, event, truth};
use futures::executor::block_on;
use glinto_aggregator::rollup::HourRange;
use glinto_aggregator::writer::WriterConfig;
use glinto_event_model::Event;
use glinto_pipeline::{Engine, EngineConfig, Stores};
use glinto_storage::{Clock, ManualClock, Timestamp};
use glinto_storage_memory::{
    Fault, FaultPlan, Faulty, MemoryKv, MemoryObjects, MemoryState, WriteBehind,
};
use proptest::prelude::*;

type FaultyEngine =
    Engine<Arc<Faulty<MemoryState>>, Arc<Faulty<MemoryObjects>>, Arc<Faulty<MemoryKv>>>;

#[derive(Clone, Debug)]
enum Step {
    /// Ingest the next `n` events (as `parallel` concurrent calls), plus a
    /// re-send of a recent event when `resend`.
    Ingest {
        n: usize,
        parallel: usize,
        resend: bool,
    },
    /// The alarm fires.
    Alarm,
    /// The process dies; a new engine opens on the same stores.
    Crash,
    /// Compare with the plain count now.
    Check,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        6 => (1usize..8, 1usize..4, any::<bool>()).prop_map(|(n, parallel, resend)| Step::Ingest { n, parallel, resend }),
        2 => Just(Step::Alarm),
        1 => Just(Step::Crash),
        1 => Just(Step::Check),
    ];
    proptest::collection::vec(step, 1..60)
}

/// Events roughly in time order (jitter well inside the lateness window),
/// two to three minutes apart: a run crosses several hours, so hours close
/// and are archived while visits span checkpoints.
fn stream(seed: u64, n: usize) -> Vec<Event> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n as u64)
        .map(|i| {
            let r = next();
            let ts = T0 + i * 150_000 + (r % 600_000);
            event(i + 1, 1 + r % 7, ts, r % 5 != 0, r % 11 != 0)
        })
        .collect()
}

fn config() -> EngineConfig {
    EngineConfig::default()
        .with_writer(WriterConfig {
            max_lateness_ms: 60 * MIN,
            flush_interval_ms: 5 * MIN,
            ..WriterConfig::default()
        })
        .with_checkpoint(25, Duration::from_secs(60))
}

fn counted<S, O, K>(engine: &Engine<S, O, K>) -> Option<Truth>
where
    S: glinto_storage::StateStore,
    O: glinto_storage::ObjectStore,
    K: glinto_storage::KvStore,
{
    let coverage = block_on(engine.rollup(&[HourRange::all()])).ok()?;
    let t = coverage.rollup.totals(HourRange::all());
    Some(Truth {
        pageviews: t.pageviews,
        events: t.events,
        visits: t.visits,
        bounces: t.bounces,
        visitors: t.visitors,
    })
}

struct World {
    clock: Arc<ManualClock>,
    plan: Arc<FaultPlan>,
    state: Arc<Faulty<MemoryState>>,
    objects: Arc<Faulty<MemoryObjects>>,
    kv: Arc<Faulty<MemoryKv>>,
}

impl World {
    fn new(seed: u64, p: f64) -> Self {
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(T0)));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let plan = Arc::new(
            FaultPlan::new(seed)
                .with(Fault::transient().with_probability(p / 2.0))
                .with(
                    Fault::transient()
                        .after_applying()
                        .with_probability(p / 2.0),
                ),
        );
        World {
            clock,
            state: Arc::new(Faulty::shared(
                MemoryState::new(dyn_clock.clone()),
                plan.clone(),
            )),
            objects: Arc::new(Faulty::shared(
                MemoryObjects::new(dyn_clock.clone()),
                plan.clone(),
            )),
            kv: Arc::new(Faulty::shared(MemoryKv::new(dyn_clock), plan.clone())),
            plan,
        }
    }

    /// Opens an engine, retrying what the faults break (a host restarts a
    /// failed object).
    fn open(&self) -> FaultyEngine {
        for _ in 0..1000 {
            let stores = Stores {
                state: self.state.clone(),
                objects: self.objects.clone(),
                kv: self.kv.clone(),
            };
            if let Ok(engine) = block_on(Engine::open(SITE, config(), stores, self.clock.clone())) {
                return engine;
            }
        }
        panic!("could not open the engine in 1000 attempts");
    }
}

/// Reads until a read succeeds (reads may fail under faults too).
fn read(engine: &FaultyEngine) -> Truth {
    (0..1000)
        .find_map(|_| counted(engine))
        .unwrap_or_else(|| panic!("no read succeeded in 1000 attempts"))
}

fn run(seed: u64, p: f64, steps: &[Step]) -> Result<(), TestCaseError> {
    let world = World::new(seed, p);
    let events = stream(seed, 400);
    let mut sent = 0usize;
    let mut engine = world.open();
    for step in steps {
        world.clock.advance(Duration::from_secs(20));
        match *step {
            Step::Ingest {
                n,
                parallel,
                resend,
            } => {
                let mut batch: Vec<Event> = events.iter().skip(sent).take(n).cloned().collect();
                if resend && sent > 0 {
                    batch.push(events[sent - 1 - (sent - 1) % 4].clone());
                }
                sent = (sent + n).min(events.len());
                // The client retries until acknowledged (a 5xx is retried).
                let chunks: Vec<Vec<Event>> = batch
                    .chunks(batch.len().div_ceil(parallel).max(1))
                    .map(<[Event]>::to_vec)
                    .collect();
                let mut todo = chunks;
                for _ in 0..1000 {
                    if todo.is_empty() {
                        break;
                    }
                    let results = block_on(futures::future::join_all(
                        todo.iter().map(|c| engine.ingest(c.clone())),
                    ));
                    todo = todo
                        .into_iter()
                        .zip(results)
                        .filter_map(|(c, r)| r.is_err().then_some(c))
                        .collect();
                }
                prop_assert!(todo.is_empty(), "ingest never acknowledged");
            }
            Step::Alarm => {
                let _ = block_on(engine.alarm());
            }
            Step::Crash => {
                drop(engine);
                engine = world.open();
            }
            Step::Check => {
                prop_assert_eq!(read(&engine), truth(&events[..sent]));
            }
        }
    }
    drop(engine);
    let engine = world.open();
    let _ = block_on(engine.alarm());
    prop_assert_eq!(read(&engine), truth(&events[..sent]));
    Ok(())
}

/// One long run with faults: every path (checkpoints, archived hours,
/// recoveries, injected faults) is taken, so the properties above are not
/// vacuous.
#[test]
fn a_long_faulty_run_takes_every_path() {
    let world = World::new(7, 0.1);
    let events = stream(7, 400);
    let mut engine = world.open();
    let mut recoveries = 0;
    let (mut checkpoints, mut hours) = (0, 0);
    for (i, chunk) in events.chunks(5).enumerate() {
        world.clock.advance(Duration::from_secs(20));
        while block_on(engine.ingest(chunk.to_vec())).is_err() {}
        if i % 7 == 0 {
            let _ = block_on(engine.alarm());
        }
        if i % 13 == 0 {
            let stats = block_on(engine.stats());
            recoveries += stats.recoveries;
            checkpoints += stats.checkpoints;
            hours += stats.hours_archived;
            drop(engine);
            engine = world.open();
        }
    }
    assert_eq!(read(&engine), truth(&events));
    assert!(
        world.plan.injected() > 20,
        "{} faults",
        world.plan.injected()
    );
    let objects = world.objects.inner().len();
    assert!(
        checkpoints > 5 && hours > 0 && recoveries > 8,
        "{checkpoints} {hours} {recoveries}"
    );
    // Hours and raw events archived: about 16 hours of events.
    assert!(objects > 20, "{objects} objects");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Without faults: restarts and checkpoints at any point change nothing.
    #[test]
    fn restarts_count_every_acknowledged_event_once(seed in any::<u64>(), steps in steps()) {
        run(seed, 0.0, &steps)?;
    }

    /// With faults in every kind of storage call (before or after the call
    /// took effect) during ingest, checkpoint, archive and recovery.
    #[test]
    fn faults_lose_nothing_acknowledged_and_count_nothing_twice(seed in any::<u64>(), steps in steps()) {
        run(seed, 0.1, &steps)?;
    }
}

/// A Durable Object evicted before its writes were committed: what was not
/// confirmed was not acknowledged (the output gate held the response), the
/// client re-sends it, and the restarted engine counts everything once.
#[test]
fn evicted_writer_resumes_with_nothing_acknowledged_lost() {
    for seed in 0..24u64 {
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(T0)));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let state = Arc::new(WriteBehind::new(MemoryState::new(dyn_clock.clone())));
        let objects = Arc::new(MemoryObjects::new(dyn_clock.clone()));
        let kv = Arc::new(MemoryKv::new(dyn_clock));
        let open = || {
            let stores = Stores {
                state: state.clone(),
                objects: objects.clone(),
                kv: kv.clone(),
            };
            block_on(Engine::open(SITE, config(), stores, clock.clone()))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let events = stream(seed, 300);
        let mut engine = open();
        let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut at = 0;
        while at < events.len() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let n = 1 + (rng % 6) as usize;
            let batch: Vec<Event> = events.iter().skip(at).take(n).cloned().collect();
            block_on(engine.ingest(batch.clone())).unwrap_or_else(|e| panic!("{e}"));
            if rng % 9 == 0 {
                let _ = block_on(engine.alarm());
            }
            if rng % 5 == 0 {
                // Evicted before the output gate opened: not acknowledged.
                state.evict();
                drop(engine);
                engine = open();
                continue; // the client re-sends the same batch
            }
            block_on(state.flush()).unwrap_or_else(|e| panic!("{e}"));
            at += batch.len();
            clock.advance(Duration::from_secs(30));
        }
        let got = read_plain(&engine);
        assert_eq!(got, truth(&events), "seed {seed}");
    }
}

fn read_plain<S, O, K>(engine: &Engine<S, O, K>) -> Truth
where
    S: glinto_storage::StateStore,
    O: glinto_storage::ObjectStore,
    K: glinto_storage::KvStore,
{
    counted(engine).unwrap_or_else(|| panic!("read failed"))
}

/// The Stats API through the engine, across a restart: archived closed
/// hours and the writer's open ones answer together.
#[test]
fn stats_api_queries_answer_from_the_engine() {
    let world = World::new(3, 0.0);
    let events = stream(3, 300);
    let engine = world.open();
    for chunk in events.chunks(10) {
        world.clock.advance(Duration::from_secs(90));
        block_on(engine.ingest(chunk.to_vec())).unwrap_or_else(|e| panic!("{e}"));
        let _ = block_on(engine.alarm());
    }
    drop(engine);
    let engine = world.open();
    let request: glinto_query::QueryRequest = serde_json::from_value(serde_json::json!({
        "site_id": SITE,
        "metrics": ["pageviews", "visits", "visitors", "events"],
        "date_range": "all",
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let now = i64::try_from(T0 + 30 * 3_600_000).unwrap_or(i64::MAX);
    let site = glinto_query::SiteContext::new(SITE, "Asia/Kolkata", 30, now)
        .map(|s| s.with_stats_start(i64::try_from(T0).unwrap_or(0)))
        .unwrap_or_else(|e| panic!("{e}"));
    let response = block_on(engine.query(&request, &site)).unwrap_or_else(|e| panic!("{e}"));
    let got = serde_json::to_value(&response).unwrap_or_else(|e| panic!("{e}"));
    let t = truth(&events);
    assert_eq!(
        got["results"][0]["metrics"],
        serde_json::json!([t.pageviews, t.visits, t.visitors, t.events]),
        "{got}"
    );
}
