//! Times the hot path alone: the first `N` lines of a benchmark stream are
//! parsed into memory, then applied to fresh per-site writers (and flushed)
//! five times (or the third argument's count: 0 measures the parsing, for
//! `perf stat` differences); prints the fastest run in ns/event (the minimum is the least
//! disturbed by other processes on a shared machine).
//!
//! ```sh
//! cargo run --release -p glinto-aggregator --example apply_only -- /tmp/glinto-bench/events.ndjson 200000
//! ```
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark report on the terminal"
)]

use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::{Duration, Instant};

use glinto_aggregator::ReplicaId;
use glinto_aggregator::writer::{SiteWriter, WriterConfig};
use glinto_event_model::Event;
use glinto_event_model::ndjson::parse_line;

fn main() {
    if let Err(e) = run() {
        eprintln!("apply_only: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: apply_only <events.ndjson> [lines]")?;
    let lines: usize = args
        .next()
        .map_or(Ok(200_000), |n| n.parse())
        .map_err(|e| format!("lines: {e}"))?;
    let runs: usize = args
        .next()
        .map_or(Ok(5), |n| n.parse())
        .map_err(|e| format!("runs: {e}"))?;
    let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
    let mut events: Vec<Event> = Vec::with_capacity(lines);
    for line in std::io::BufReader::new(file).lines().take(lines) {
        let line = line.map_err(|e| format!("{path}: {e}"))?;
        events.push(parse_line(&line).map_err(|e| format!("{path}: {e}"))?);
    }
    let mut best = Duration::MAX;
    let mut cells = 0;
    for _ in 0..runs {
        let mut writers: BTreeMap<&str, SiteWriter> = BTreeMap::new();
        let start = Instant::now();
        for e in &events {
            let w = writers.entry(&e.site).or_insert_with(|| {
                SiteWriter::new(e.site.clone(), ReplicaId(1), WriterConfig::default())
            });
            w.apply(e).map_err(|e| e.to_string())?;
        }
        for w in writers.values_mut() {
            w.flush();
        }
        best = best.min(start.elapsed());
        cells = writers.values().map(|w| w.stats().cells).sum();
        // Dropping the writers is not part of the hot path.
        drop(writers);
    }
    let per_event = best.as_secs_f64() * 1e9 / events.len().max(1) as f64;
    println!(
        "{} events, {cells} cells: best of {runs} {:.1} ms, {per_event:.0} ns/event ({:.2} M events/s)",
        events.len(),
        best.as_secs_f64() * 1e3,
        1e3 / per_event
    );
    Ok(())
}
