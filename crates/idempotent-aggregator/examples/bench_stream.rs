//! Loads the benchmark stream (written by `glinto-bench-data`, or by the
//! shared Python generator as a cross-check) into per-site writers with
//! de-duplication and prints the figures of the comparison table in
//! `docs/benchmarks.md`: load events/s, encoded rollup bytes per
//! million events, Q1..Q4 latencies (median of 5) and the uniques error
//! against `truth.json`; then checks the exact answers.
//!
//! ```sh
//! cargo run --release -p glinto-aggregator --example bench_stream -- /tmp/glinto-bench
//! ```
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark report on the terminal"
)]

#[path = "../tests/common/bench.rs"]
mod bench;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bench::{answer, compare, q1, q4, read_truth, top10};
use glinto_aggregator::ReplicaId;
use glinto_aggregator::dedup::Admission;
use glinto_aggregator::rollup::{Dimension, SiteRollup};
use glinto_aggregator::writer::{SiteWriter, WriterConfig};
use glinto_event_model::ndjson::parse_line;

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_stream: {e}");
        std::process::exit(1);
    }
}

fn median(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[2]
}

/// CPU seconds this process used (user + system), from `/proc/self/stat`:
/// on a shared machine wall time also counts waiting for a core.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the line are the 12th and 13th after the `)`.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn run() -> Result<(), String> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: bench_stream <bench dir>")?,
    );
    let truth = read_truth(&dir.join("truth.json"))?;
    let path = dir.join("events.ndjson");
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);

    let mut writers: BTreeMap<String, SiteWriter> = BTreeMap::new();
    let (mut parse, mut apply) = (Duration::ZERO, Duration::ZERO);
    let (mut lines, mut duplicates, mut too_late) = (0u64, 0u64, 0u64);
    let mut line = String::new();
    let start = Instant::now();
    let cpu_start = cpu_seconds();
    loop {
        line.clear();
        let t = Instant::now();
        let n = reader.read_line(&mut line).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        let event = parse_line(&line).map_err(|e| format!("line {}: {e}", lines + 1))?;
        let t2 = Instant::now();
        parse += t2 - t;
        let writer = match writers.get_mut(&event.site) {
            Some(w) => w,
            None => writers.entry(event.site.clone()).or_insert_with(|| {
                SiteWriter::new(event.site.clone(), ReplicaId(1), WriterConfig::default())
            }),
        };
        match writer.apply(&event).map_err(|e| e.to_string())? {
            Admission::New => {}
            Admission::Duplicate => duplicates += 1,
            Admission::TooLate => too_late += 1,
        }
        apply += t2.elapsed();
        lines += 1;
    }
    let t = Instant::now();
    let rollups: BTreeMap<String, SiteRollup> = writers
        .into_iter()
        .map(|(s, w)| (s, w.into_rollup()))
        .collect();
    let flush = t.elapsed();
    let load = start.elapsed();
    let cells: usize = rollups.values().map(SiteRollup::cell_count).sum();
    let load_cpu = cpu_seconds() - cpu_start;

    let mut per_dim = [(0usize, 0usize); glinto_aggregator::rollup::DIMENSIONS];
    for r in rollups.values() {
        for (_, dim, _, cell) in r.cells() {
            let entry = &mut per_dim[usize::from(dim.tag())];
            entry.0 += 1;
            entry.1 += cell.visitors.encode().len();
        }
    }
    let per_dim: Vec<String> = Dimension::ALL
        .iter()
        .zip(per_dim)
        .filter(|(_, (n, _))| *n > 0)
        .map(|(d, (n, b))| format!("{} {n} ({:.1} MB of sketches)", d.as_str(), b as f64 / 1e6))
        .collect();

    // Version 1 for comparison, one rollup at a time (memory).
    let bytes_v1: usize = rollups.values().map(|r| r.encode_v1().len()).sum();
    let t = Instant::now();
    let encoded: Vec<Vec<u8>> = rollups.values().map(SiteRollup::encode).collect();
    let encode = t.elapsed();
    let bytes: usize = encoded.iter().map(Vec::len).sum();
    let t = Instant::now();
    for (b, r) in encoded.iter().zip(rollups.values()) {
        let back = SiteRollup::decode(b).map_err(|e| e.to_string())?;
        if &back != r {
            return Err("decoded rollup differs".into());
        }
    }
    let decode = t.elapsed();

    let days: Vec<(String, u32)> = truth.q1.keys().cloned().collect();
    let tq1 = median(|| {
        for (site, day) in &days {
            std::hint::black_box(rollups.get(site).map(|r| q1(r, *day)));
        }
    });
    let tq2 = median(|| {
        for r in rollups.values() {
            std::hint::black_box(top10(r, Dimension::Page));
        }
    });
    let tq3 = median(|| {
        for r in rollups.values() {
            std::hint::black_box(top10(r, Dimension::Source));
        }
    });
    let tq3c = median(|| {
        for r in rollups.values() {
            std::hint::black_box(top10(r, Dimension::Country));
        }
    });
    let tq4 = median(|| {
        for r in rollups.values() {
            std::hint::black_box(q4(r));
        }
    });

    let got = answer(&rollups, &truth);
    let cmp = compare(&truth, &got, 3.0);
    let (mean, max) = cmp.uniques_error();
    let per_m = bytes as f64 / (lines as f64 / 1e6);
    let secs = |d: Duration| d.as_secs_f64();
    println!("events: {lines} lines, {duplicates} duplicates, {too_late} too late; {cells} cells");
    println!("cells by dimension: {}", per_dim.join(", "));
    println!(
        "load: {:.2} M events/s end to end ({:.1} s: parse {:.1} s, apply {:.1} s, final flush {:.1} s); apply alone {:.0} ns/event ({:.2} M events/s)",
        lines as f64 / secs(load) / 1e6,
        secs(load),
        secs(parse),
        secs(apply),
        secs(flush),
        secs(apply) * 1e9 / lines as f64,
        lines as f64 / secs(apply) / 1e6,
    );
    println!(
        "load CPU time {:.1} s ({:.2} M events/s per CPU second): wall time includes waiting for a core",
        load_cpu,
        lines as f64 / load_cpu / 1e6
    );
    println!(
        "rollups: {:.1} MB encoded in version 2 ({:.2} MB per 1M events; encode {:.2} s, decode {:.2} s); version 1: {:.1} MB ({:.2} MB per 1M events)",
        bytes as f64 / 1e6,
        per_m / 1e6,
        secs(encode),
        secs(decode),
        bytes_v1 as f64 / 1e6,
        bytes_v1 as f64 / (lines as f64 / 1e6) / 1e6,
    );
    println!();
    println!(
        "| system | load, events/s | storage per 1M events | Q1 | Q2 | Q3 ref | Q4 | uniques error mean / max |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    println!(
        "| Glinto rollups (glinto-aggregator, HLL++ p14) | {:.2} M | {:.1} MB | {} | {} | {} | {} | {:.2}% / {:.2}% |",
        lines as f64 / secs(load) / 1e6,
        per_m / 1e6,
        ms(tq1),
        ms(tq2),
        ms(tq3),
        ms(tq4),
        mean * 100.0,
        max * 100.0
    );
    println!();
    println!("Q3 country: {}", ms(tq3c));
    println!("truth check: {}", cmp.summary());
    if !cmp.is_ok() {
        return Err("the answers differ from truth.json".into());
    }
    Ok(())
}
