//! Turns a file of sample tracker requests into validated events.
//!
//! ```sh
//! cargo run -p glinto-example-parse-requests                 # the bundled sample
//! cargo run -p glinto-example-parse-requests -- my-requests.ndjson
//! ```
//!
//! Each input line is one HTTP request as a collector would see it:
//! `{"method": "POST", "path": "/api/event", "headers": {...}, "body": "...",
//! "remote_addr": "192.0.2.1", "received_at_ms": 1704067200000}` (`body` is
//! the raw body text; `remote_addr` and `received_at_ms` are optional).
//! `POST /api/event` bodies go through [`Ingestor::ingest_body`], `GET
//! /p.gif?...` through [`Ingestor::ingest_pixel`].
//!
//! Validated events go to stdout in the NDJSON exchange format; rejections
//! (with the HTTP status, the field and the reason) and a summary go to stderr.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line example: printing is its output"
)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use glinto_event_model::visitor::{Salt, SaltPeriod, Salts};
use glinto_event_model::{Error, Event, IngestConfig, Ingestor, RequestContext, ndjson};
use serde_json::Value;

/// Receive time of requests that do not say (2024-01-01 12:00 UTC).
const DEFAULT_RECEIVED_AT_MS: u64 = 1_704_110_400_000;

fn main() -> ExitCode {
    let path = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-requests.ndjson"),
        PathBuf::from,
    );
    let input = match std::fs::read_to_string(&path) {
        Ok(input) => input,
        Err(err) => {
            eprintln!("cannot read {}: {err}", path.display());
            return ExitCode::FAILURE;
        }
    };

    // A fixed demonstration salt. A deployment draws 16 random bytes per
    // epoch and keeps them secret (see docs/privacy.md).
    let salts = Salts::new(
        SaltPeriod::Daily.epoch_at(DEFAULT_RECEIVED_AT_MS),
        Salt::from_bytes(*b"demo-salt-000001"),
        None,
    );
    let mut ingestor = Ingestor::new(IngestConfig::default(), salts);

    let mut requests = 0usize;
    let mut events = 0usize;
    let mut rejected: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut out = String::new();
    for (number, line) in input.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        requests += 1;
        match handle(&mut ingestor, line) {
            Ok(batch) => {
                events += batch.len();
                for event in &batch {
                    ndjson::write_line(event, &mut out);
                }
                print!("{out}");
                out.clear();
            }
            Err(Rejection::Request(err)) => {
                *rejected.entry(err.reason()).or_default() += 1;
                eprintln!(
                    "line {number}: {} {} (field `{}`): {err}",
                    err.http_status(),
                    err.reason(),
                    err.field()
                );
            }
            Err(Rejection::Input(reason)) => {
                *rejected.entry("bad_sample_line").or_default() += 1;
                eprintln!("line {number}: not a sample request: {reason}");
            }
        }
    }

    let total_rejected: usize = rejected.values().sum();
    eprintln!(
        "\n{requests} requests from {}: {events} events, {total_rejected} rejected",
        path.display()
    );
    for (reason, count) in &rejected {
        eprintln!("  {reason}: {count}");
    }
    ExitCode::SUCCESS
}

/// Why a sample line gave no events.
enum Rejection {
    /// The request itself was rejected by the event model.
    Request(Error),
    /// The sample line is not a request description.
    Input(String),
}

fn handle(ingestor: &mut Ingestor, line: &str) -> Result<Vec<Event>, Rejection> {
    let request: Value = serde_json::from_str(line).map_err(|e| Rejection::Input(e.to_string()))?;
    let text = |key: &str| request.get(key).and_then(Value::as_str);
    let method = text("method").unwrap_or("GET");
    let path = text("path").ok_or_else(|| Rejection::Input("no `path`".into()))?;
    let headers: Vec<(&str, &str)> = request
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    let socket = text("remote_addr").and_then(|a| a.parse::<IpAddr>().ok());
    let received_at_ms = request
        .get("received_at_ms")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_RECEIVED_AT_MS);
    let ctx = RequestContext::from_headers(headers, socket, received_at_ms);

    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    match (method, route) {
        ("POST", "/api/event") => {
            let body = text("body").unwrap_or("");
            ingestor
                .ingest_body(body.as_bytes(), &ctx)
                .map_err(Rejection::Request)
        }
        ("GET", "/p.gif") => ingestor
            .ingest_pixel(query, &ctx)
            .map_err(Rejection::Request),
        _ => Err(Rejection::Input(format!(
            "no tracker endpoint at {method} {route} (POST /api/event, GET /p.gif)"
        ))),
    }
}
