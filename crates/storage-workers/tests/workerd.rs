//! The whole conformance suite of `glinto-storage` on the Workers stores,
//! inside workerd with real KV, SQLite-backed Durable Object and R2 bindings
//! (Miniflare 4), not against mocks.
//!
//! The conformance Worker (`conformance-worker/`, built by `.ci/run` with
//! worker-build) exposes one route per suite and way of holding the store;
//! this test starts Miniflare, calls the nine routes concurrently and fails
//! listing every failing case. It fails — never passes silently — when the
//! Worker is missing or older than its sources, saying what to run.
#![cfg(not(target_arch = "wasm32"))]
#![expect(clippy::print_stderr, reason = "the run's summary and figures")]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::{Workerd, check_prerequisites, get};

const SUITES: &[&str] = &["kv", "state", "object"];
const WAYS: &[&str] = &["plain", "box", "arc"];

/// Skips that are expected on these backends, by test name, with why.
/// Everything else must pass.
const EXPECTED_SKIPS: &[(&str, &str)] = &[(
    "object_size_limits",
    "R2's 5 GiB - 5 MiB put limit is above the harness's 32 MiB allocation cap; \
     the key limits of the test still run",
)];

#[derive(Debug, Default)]
struct Tally {
    passed: Vec<String>,
    skipped: Vec<(String, String)>,
    failed: Vec<(String, String)>,
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn conformance_suite_passes_in_workerd() {
    if let Err(why) = check_prerequisites() {
        panic!("{why}");
    }
    let started = Instant::now();
    let workerd = Workerd::start().unwrap_or_else(|e| panic!("{e}"));
    let startup = started.elapsed();
    let addr = workerd.addr;
    let runs: Vec<_> = SUITES
        .iter()
        .flat_map(|suite| WAYS.iter().map(move |way| format!("/{suite}/{way}")))
        .map(|route| {
            std::thread::spawn(move || {
                let t = Instant::now();
                let answer = get(addr, &route, Duration::from_secs(900));
                (route, answer, t.elapsed())
            })
        })
        .collect();
    let mut tally = Tally::default();
    let mut per_route = BTreeMap::new();
    let mut tests_per_suite: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for run in runs {
        let (route, answer, took) = run.join().expect("a request thread panicked");
        per_route.insert(route.clone(), took);
        let body = match answer {
            Ok((200, body)) => body,
            Ok((status, body)) => {
                tally
                    .failed
                    .push((route.clone(), format!("HTTP {status}: {body}")));
                continue;
            }
            Err(e) => {
                tally
                    .failed
                    .push((route.clone(), format!("request failed: {e}")));
                continue;
            }
        };
        let mut count = 0;
        for line in body.lines() {
            let mut fields = line.splitn(3, '\t');
            let verdict = fields.next().unwrap_or("");
            let name = format!("{route}: {}", unescape(fields.next().unwrap_or("")));
            let detail = unescape(fields.next().unwrap_or(""));
            count += 1;
            match verdict {
                "passed" => tally.passed.push(name),
                "skipped" => tally.skipped.push((name, detail)),
                "failed" => tally.failed.push((name, detail)),
                _ => tally
                    .failed
                    .push((route.clone(), format!("unreadable report line {line:?}"))),
            }
        }
        let suite = route.split('/').nth(1).unwrap_or("").to_owned();
        tests_per_suite.entry(suite).or_default().push(count);
    }
    let total = started.elapsed();
    eprintln!(
        "workerd conformance: {} passed, {} skipped, {} failed in {total:.1?} (Miniflare start {startup:.1?})",
        tally.passed.len(),
        tally.skipped.len(),
        tally.failed.len()
    );
    for (route, took) in &per_route {
        eprintln!("  {route}: {took:.1?}");
    }
    for (name, reason) in &tally.skipped {
        eprintln!("  skipped {name}: {reason}");
    }
    // Every way of every suite ran the same, non-empty list of tests.
    for (suite, counts) in &tests_per_suite {
        assert!(
            counts.len() == WAYS.len() && counts.iter().all(|&c| c > 0 && c == counts[0]),
            "suite {suite}: the ways ran different numbers of tests: {counts:?}"
        );
    }
    let unexpected_skips: Vec<_> = tally
        .skipped
        .iter()
        .filter(|(name, _)| !EXPECTED_SKIPS.iter().any(|(test, _)| name.ends_with(test)))
        .collect();
    let failures: Vec<String> = tally
        .failed
        .iter()
        .map(|(name, detail)| format!("FAILED {name}: {detail}"))
        .collect();
    assert!(
        failures.is_empty() && unexpected_skips.is_empty(),
        "conformance in workerd:\n{}\nunexpected skips: {unexpected_skips:#?}\n--- Miniflare log ---\n{}",
        failures.join("\n"),
        workerd.log_text()
    );
}
