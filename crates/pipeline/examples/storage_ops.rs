//! Storage operations per 1,000 events through the engine, and bytes at
//! rest, counted with glinto-storage-memory's `Metered` wrapper: the numbers
//! the Cloudflare cost model is built from.
//!
//! ```text
//! cargo run --release -p glinto-pipeline --example storage_ops -- \
//!     /work/helpers/bench-200k/events.ndjson [events per ingest call] [checkpoint after, seconds]
//! ```
//!
//! One engine per site (a Durable Object each), on metered in-memory
//! stores; the clock follows event time and the alarm fires when due.

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::executor::block_on;
use glinto_event_model::{Event, ndjson};
use glinto_pipeline::{Engine, EngineConfig, Stores};
use glinto_storage::{
    Clock, ManualClock, ObjectListOptions, ObjectStoreExt, StateStore, Timestamp,
};
use glinto_storage_memory::{MemoryKv, MemoryObjects, MemoryState, Meter, Metered};

type SiteEngine =
    Engine<Arc<Metered<MemoryState>>, Arc<Metered<MemoryObjects>>, Arc<Metered<MemoryKv>>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "/work/helpers/bench-200k/events.ndjson".into());
    let batch: usize = args.next().map_or(Ok(10), |s| s.parse())?;
    let reader = std::io::BufReader::new(std::fs::File::open(&path)?);
    let mut events: Vec<Event> = Vec::new();
    for line in reader.lines() {
        events.push(ndjson::parse_line(&line?)?);
    }
    let after_secs: u64 = args.next().map_or(Ok(60), |s| s.parse())?;
    let config = EngineConfig::default().with_checkpoint(50_000, Duration::from_secs(after_secs));
    let shared_clock: Arc<dyn Clock> = Arc::new(ManualClock::new(Timestamp::EPOCH));
    let (state_meter, object_meter, kv_meter) = (
        Arc::new(Meter::new()),
        Arc::new(Meter::new()),
        Arc::new(Meter::new()),
    );
    let objects = Arc::new(Metered::with_meter(
        MemoryObjects::new(shared_clock.clone()),
        object_meter.clone(),
    ));
    let kv = Arc::new(Metered::with_meter(
        MemoryKv::new(shared_clock),
        kv_meter.clone(),
    ));
    let mut by_site: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    for e in events.iter() {
        by_site.entry(e.site.clone()).or_default().push(e.clone());
    }
    let mut engines: Vec<(Arc<Metered<MemoryState>>, SiteEngine)> = Vec::new();
    let started = Instant::now();
    // One Durable Object per site, each with its own clock following its
    // events; `batch` events per ingest call (one group commit).
    for (site, site_events) in &by_site {
        let first = site_events.first().map_or(0, |e| e.timestamp_ms);
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(first)));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let state = Arc::new(Metered::with_meter(
            MemoryState::new(dyn_clock),
            state_meter.clone(),
        ));
        let stores = Stores {
            state: state.clone(),
            objects: objects.clone(),
            kv: kv.clone(),
        };
        let engine = block_on(Engine::open(site.clone(), config, stores, clock.clone()))?;
        for part in site_events.chunks(batch.max(1)) {
            let newest = part.iter().map(|e| e.timestamp_ms).max().unwrap_or(0);
            if newest > clock.now().as_unix_millis() {
                clock.set(Timestamp::from_unix_millis(newest));
            }
            if state.inner().take_due_alarm().is_some() {
                block_on(engine.alarm())?;
            }
            block_on(engine.ingest(part.to_vec()))?;
        }
        clock.advance(Duration::from_secs(3600));
        if state.inner().take_due_alarm().is_some() {
            block_on(engine.alarm())?;
        }
        engines.push((state, engine));
    }
    let elapsed = started.elapsed();
    let n = events.len() as f64;
    let per_k = |x: u64| x as f64 * 1000.0 / n;
    let (s, o, k) = (state_meter.usage(), object_meter.usage(), kv_meter.usage());
    println!(
        "{} events, {} sites, {batch} events per ingest call, {:.2} s",
        events.len(),
        engines.len(),
        elapsed.as_secs_f64()
    );
    println!("per 1,000 events:");
    println!(
        "  StateStore: {:.2} write batches, {:.2} rows written, {:.2} write units (4 KB), {:.2} rows read, {:.3} gets, {:.3} lists, {:.3} alarm writes",
        per_k(s.batches),
        per_k(s.rows_written),
        per_k(s.write_units),
        per_k(s.rows_read),
        per_k(s.gets + s.get_manys),
        per_k(s.lists),
        per_k(s.alarm_writes)
    );
    println!(
        "  ObjectStore: {:.2} puts (class A), {:.3} gets+heads (class B), {:.3} lists",
        per_k(o.puts),
        per_k(o.gets + o.heads),
        per_k(o.lists)
    );
    println!("  KvStore: {:.2} puts", per_k(k.puts));
    let mut at_rest_state = 0u64;
    for (state, engine) in &engines {
        let stats = block_on(engine.stats());
        let rows = state.inner().snapshot();
        at_rest_state += rows
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum::<u64>();
        let _ = (stats, state.capability());
    }
    let (mut hours, mut raw) = (0u64, 0u64);
    for object in block_on(objects.list_all(ObjectListOptions::prefix("sites/")))?.objects {
        if object.key.contains("/hours/") {
            hours += object.size;
        } else {
            raw += object.size;
        }
    }
    let per_m = |b: u64| b as f64 / n * 1e6 / 1e6;
    println!("bytes at rest per million events:");
    println!("  hour rollups (ObjectStore): {:.2} MB", per_m(hours));
    println!("  raw event archive (ObjectStore): {:.2} MB", per_m(raw));
    println!(
        "  StateStore (open state + log): {:.2} MB",
        per_m(at_rest_state)
    );
    Ok(())
}
