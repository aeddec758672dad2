//! Times the benchmark stream's questions asked as Stats API v2 requests,
//! warm: for each site, the JSON body parsed, planned, answered from the
//! site's rollup and the response serialized, repeated; prints per question
//! the median over sites of each site's median, the worst site's median, and
//! the same in the thread's CPU time (the machine is shared: wall time
//! includes waiting for a core).
//!
//! Twice: on hour cells only, and on day cells (every hour folded into its
//! UTC day by merging, as the pipeline's tiering does), which is how a
//! site's closed history is kept.
//!
//! ```sh
//! GLINTO_BENCH_DIR=/path/to/bench cargo run --release -p glinto-query --example stats_api_bench
//! cargo run --release -p glinto-query --example stats_api_bench -- /path/to/bench [runs]
//! ```
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark report on the terminal"
)]
#![allow(unsafe_code, reason = "one libc::clock_gettime call, see thread_cpu")]

#[path = "../tests/common/bench.rs"]
mod bench;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bench::{Sites, context, load, q1, q4, top10};
use glinto_aggregator::Lattice;
use glinto_aggregator::rollup::{HOUR_MS, SiteRollup};
use glinto_query::{QueryRequest, Resolution, answer, plan};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("GLINTO_BENCH_DIR").map(PathBuf::from));
    let Some(dir) = dir else {
        eprintln!("usage: stats_api_bench <bench dir> [runs]  (or set GLINTO_BENCH_DIR)");
        std::process::exit(2);
    };
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(50);
    let started = Instant::now();
    let sites = match load(&dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    println!(
        "loaded {} sites from {} in {:.1} s; {runs} warm runs per site and question",
        sites.rollups.len(),
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    let days = Sites {
        rollups: sites
            .rollups
            .iter()
            .map(|(site, r)| (site.clone(), fold_into_days(r)))
            .collect(),
        first_ms: sites.first_ms,
        last_ms: sites.last_ms,
    };
    let cells = |s: &Sites| {
        s.rollups
            .values()
            .map(SiteRollup::cell_count)
            .sum::<usize>()
    };
    println!(
        "cells: {} hour cells, {} day cells",
        cells(&sites),
        cells(&days)
    );
    // Hour cells only from the last day on: everything before is days.
    let last_day = u32::try_from(sites.last_ms / HOUR_MS as i64 / 24 * 24).unwrap_or(0);
    report("hour cells", &sites, &Resolution::hourly(), runs);
    report("day cells", &days, &Resolution::new(last_day, 0), runs);
}

/// The rollup with every hour's cells merged into its UTC day's first bucket.
fn fold_into_days(rollup: &SiteRollup) -> SiteRollup {
    let mut out = SiteRollup::new(rollup.site());
    for (hour, dim, value, cell) in rollup.cells() {
        out.cell_mut(hour / 24 * 24, dim, value).merge(cell);
    }
    out
}

type Question = (&'static str, fn(&str) -> QueryRequest);

fn report(title: &str, sites: &Sites, resolution: &Resolution, runs: usize) {
    let questions: [Question; 4] = [
        ("Q1 pageviews+visitors per day", q1),
        ("Q2 top 10 pages", |s| top10(s, "event:page")),
        ("Q3 top 10 countries", |s| top10(s, "visit:country")),
        ("Q4 totals", q4),
    ];
    println!(
        "\n{title}: {:<21} {:>12} {:>12} {:>12} {:>12}",
        "question", "wall median", "wall worst", "cpu median", "cpu worst"
    );
    for (name, make) in questions {
        let mut wall: Vec<Duration> = Vec::new();
        let mut cpu: Vec<Duration> = Vec::new();
        for (site, rollup) in &sites.rollups {
            let body = serde_json::to_string(&make(site)).unwrap_or_default();
            let ctx = context(site, sites);
            let mut w = Vec::with_capacity(runs);
            let mut c = Vec::with_capacity(runs);
            for i in 0..runs + 3 {
                let (t, t_cpu) = (Instant::now(), thread_cpu());
                let request = QueryRequest::from_json(&body).unwrap_or_else(|e| panic!("{e}"));
                let plan = plan(&request, &ctx).unwrap_or_else(|e| panic!("{e}"));
                let response = answer(&plan, rollup, resolution).unwrap_or_else(|e| panic!("{e}"));
                let out = serde_json::to_string(&response).unwrap_or_default();
                let (elapsed, elapsed_cpu) = (t.elapsed(), thread_cpu().saturating_sub(t_cpu));
                std::hint::black_box(out);
                if i >= 3 {
                    w.push(elapsed);
                    c.push(elapsed_cpu);
                }
            }
            wall.push(median(&mut w));
            cpu.push(median(&mut c));
        }
        let (wm, ww) = (
            median(&mut wall),
            wall.iter().max().copied().unwrap_or_default(),
        );
        let (cm, cw) = (
            median(&mut cpu),
            cpu.iter().max().copied().unwrap_or_default(),
        );
        println!(
            "{title}: {name:<21} {:>9.3} ms {:>9.3} ms {:>9.3} ms {:>9.3} ms",
            ms(wm),
            ms(ww),
            ms(cm),
            ms(cw)
        );
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The calling thread's CPU time.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID
    // needs nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
