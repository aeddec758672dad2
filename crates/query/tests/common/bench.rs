//! The benchmark stream's questions (`../shared/bench/README.md`) as Stats
//! API requests: loading `events.ndjson` into one rollup per site, reading
//! `truth.json`, and the requests themselves. Shared by
//! `tests/bench_stream.rs` and `examples/stats_api_bench.rs`.

#![allow(dead_code, unreachable_pub, reason = "each includer uses a subset")]

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use glinto_aggregator::ReplicaId;
use glinto_aggregator::rollup::SiteRollup;
use glinto_aggregator::writer::{SiteWriter, WriterConfig};
use glinto_event_model::ndjson::parse_line;
use glinto_query::{QueryRequest, SiteContext};
use serde_json::{Value, json};

/// `$GLINTO_BENCH_DIR` when it holds the stream, `None` when unset.
pub fn bench_dir() -> Result<Option<PathBuf>, String> {
    let Some(dir) = std::env::var_os("GLINTO_BENCH_DIR") else {
        return Ok(None);
    };
    let dir = PathBuf::from(dir);
    if dir.join("truth.json").is_file() && dir.join("events.ndjson").is_file() {
        Ok(Some(dir))
    } else {
        Err(format!(
            "GLINTO_BENCH_DIR={} lacks events.ndjson or truth.json",
            dir.display()
        ))
    }
}

/// The rollups of every site of the stream, and the first and last event
/// time.
pub struct Sites {
    pub rollups: BTreeMap<String, SiteRollup>,
    pub first_ms: i64,
    pub last_ms: i64,
}

/// Reads `events.ndjson` through one writer per site (UTC buckets: the
/// questions are asked in UTC days).
pub fn load(dir: &Path) -> Result<Sites, String> {
    let path = dir.join("events.ndjson");
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut writers: BTreeMap<String, SiteWriter> = BTreeMap::new();
    let (mut first_ms, mut last_ms) = (i64::MAX, i64::MIN);
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        let event = parse_line(&line).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        let ms = i64::try_from(event.timestamp_ms).unwrap_or(i64::MAX);
        first_ms = first_ms.min(ms);
        last_ms = last_ms.max(ms);
        let writer = writers.entry(event.site.clone()).or_insert_with(|| {
            SiteWriter::new(event.site.clone(), ReplicaId(1), WriterConfig::default())
        });
        writer.apply(&event).map_err(|e| e.to_string())?;
    }
    let rollups = writers
        .into_iter()
        .map(|(site, mut w)| (site, w.snapshot()))
        .collect();
    Ok(Sites {
        rollups,
        first_ms,
        last_ms,
    })
}

/// The site's context: UTC, asked right after the last event, `all`
/// starting at the first.
pub fn context(site: &str, sites: &Sites) -> SiteContext {
    SiteContext::new(site, "Etc/UTC", 0, sites.last_ms + 1)
        .unwrap_or_else(|e| panic!("{e}"))
        .with_stats_start(sites.first_ms)
}

fn request(value: Value) -> QueryRequest {
    QueryRequest::from_json(&value.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

/// Q1: page views and unique visitors per UTC day.
pub fn q1(site: &str) -> QueryRequest {
    request(
        json!({"site_id": site, "metrics": ["pageviews", "visitors"], "date_range": "all",
                   "dimensions": ["time:day"]}),
    )
}

/// Q2 (`event:page`) and Q3 (`visit:country`): the top 10 by page views,
/// with unique visitors.
pub fn top10(site: &str, dimension: &str) -> QueryRequest {
    request(
        json!({"site_id": site, "metrics": ["pageviews", "visitors"], "date_range": "all",
                   "dimensions": [dimension], "order_by": [["pageviews", "desc"]],
                   "pagination": {"limit": 10}}),
    )
}

/// Q4: page views, visits, bounce rate and unique visitors.
pub fn q4(site: &str) -> QueryRequest {
    request(
        json!({"site_id": site, "metrics": ["pageviews", "visits", "bounce_rate", "visitors"],
                   "date_range": "all"}),
    )
}

/// `truth.json`.
pub fn truth(dir: &Path) -> Result<Value, String> {
    let path = dir.join("truth.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
