//! `glinto-bench-data`: writes the benchmark stream and its answers.
//!
//! ```sh
//! cargo run --release -p glinto-bench-data -- --events 200000 --days 30 --seed 7 \
//!     --dup-rate 0.01 --out target/bench-data/events200000-days30-seed7-dup0.01
//! ```

#![allow(clippy::print_stderr, reason = "a command-line tool reports on stderr")]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use glinto_bench_data::{Config, write_dir};

const USAGE: &str = "usage: glinto-bench-data [--events N] [--days N] [--seed N] [--dup-rate R] --out DIR
  writes DIR/events.ndjson and DIR/truth.json (defaults: 200000 events, 30 days, seed 7, dup-rate 0.01)";

fn parse(args: impl Iterator<Item = String>) -> Result<(Config, PathBuf), String> {
    let mut config = Config::CI;
    let mut out = None;
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| {
            v.replace('_', "")
                .parse::<u64>()
                .map_err(|e| format!("{flag}: {e}"))
        };
        match flag.as_str() {
            "--events" => config.events = number(value()?)?,
            "--days" => {
                config.days =
                    u32::try_from(number(value()?)?).map_err(|e| format!("--days: {e}"))?;
            }
            "--seed" => config.seed = number(value()?)?,
            "--dup-rate" => {
                config.dup_rate = value()?.parse().map_err(|e| format!("--dup-rate: {e}"))?;
            }
            "--out" => out = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    config.validate()?;
    Ok((config, out.ok_or("--out is required")?))
}

fn main() -> ExitCode {
    let (config, out) = match parse(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("glinto-bench-data: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    match write_dir(&config, &out) {
        Ok(truth) => {
            let m = &truth.meta;
            eprintln!(
                "glinto-bench-data: {} lines ({} distinct events, {} re-deliveries, {} visits, {} visitors) into {} in {:.1} s",
                m.events_written,
                m.unique_events,
                m.duplicates_written,
                m.sessions,
                m.distinct_visitors,
                out.display(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("glinto-bench-data: {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}
