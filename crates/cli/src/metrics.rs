//! `GET /metrics`: a small registry in Prometheus' text format.
//!
//! Why our own and not the `prometheus-client` crate: four metric families
//! with fixed label sets; a map of counters and one histogram is shorter than
//! the registration code, and the text format is a stable, documented standard
//! (`text/plain; version=0.0.4`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the storage latency histogram, in seconds.
const LATENCY_BOUNDS_S: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    accepted: u64,
    dropped: BTreeMap<&'static str, u64>,
    latency_buckets: [u64; LATENCY_BOUNDS_S.len()],
    latency_count: u64,
    latency_sum_s: f64,
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// One request answered on `route` (the route's pattern, not the path).
    pub fn request(&self, route: &str, status: u16) {
        self.with(|m| *m.requests.entry((route.to_owned(), status)).or_default() += 1);
    }

    /// Events committed.
    pub fn accepted(&self, events: u64) {
        self.with(|m| m.accepted += events);
    }

    /// Events dropped, by reason (`bot_crawler`, `unknown_site`...).
    pub fn dropped(&self, reason: &'static str, events: u64) {
        self.with(|m| *m.dropped.entry(reason).or_default() += events);
    }

    /// One storage call (an ingest commit) took `elapsed`.
    pub fn storage_latency(&self, elapsed: Duration) {
        let s = elapsed.as_secs_f64();
        self.with(|m| {
            for (bucket, bound) in m.latency_buckets.iter_mut().zip(LATENCY_BOUNDS_S) {
                if s <= bound {
                    *bucket += 1;
                }
            }
            m.latency_count += 1;
            m.latency_sum_s += s;
        });
    }

    /// The text exposition; `queue_depth` comes from the engine.
    pub fn render(&self, queue_depth: Option<u64>) -> String {
        self.with(|m| {
            let mut out = String::new();
            let w = &mut out;
            let _ = writeln!(
                w,
                "# HELP glinto_http_requests_total HTTP requests answered, by route and status."
            );
            let _ = writeln!(w, "# TYPE glinto_http_requests_total counter");
            for ((route, status), n) in &m.requests {
                let _ = writeln!(
                    w,
                    "glinto_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
            let _ = writeln!(
                w,
                "# HELP glinto_events_accepted_total Events committed to storage."
            );
            let _ = writeln!(w, "# TYPE glinto_events_accepted_total counter");
            let _ = writeln!(w, "glinto_events_accepted_total {}", m.accepted);
            let _ = writeln!(
                w,
                "# HELP glinto_events_dropped_total Events answered 202 but not counted, by reason."
            );
            let _ = writeln!(w, "# TYPE glinto_events_dropped_total counter");
            for (reason, n) in &m.dropped {
                let _ = writeln!(w, "glinto_events_dropped_total{{reason=\"{reason}\"}} {n}");
            }
            let _ = writeln!(
                w,
                "# HELP glinto_storage_commit_seconds Time to commit one ingest call durably."
            );
            let _ = writeln!(w, "# TYPE glinto_storage_commit_seconds histogram");
            for (bound, n) in LATENCY_BOUNDS_S.iter().zip(m.latency_buckets) {
                let _ = writeln!(
                    w,
                    "glinto_storage_commit_seconds_bucket{{le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                w,
                "glinto_storage_commit_seconds_bucket{{le=\"+Inf\"}} {}",
                m.latency_count
            );
            let _ = writeln!(w, "glinto_storage_commit_seconds_sum {}", m.latency_sum_s);
            let _ = writeln!(w, "glinto_storage_commit_seconds_count {}", m.latency_count);
            if let Some(depth) = queue_depth {
                let _ = writeln!(
                    w,
                    "# HELP glinto_queue_depth Events accepted but not yet applied."
                );
                let _ = writeln!(w, "# TYPE glinto_queue_depth gauge");
                let _ = writeln!(w, "glinto_queue_depth {depth}");
            }
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let metrics = Metrics::default();
        metrics.request("/api/event", 202);
        metrics.request("/api/event", 202);
        metrics.request("/api/event", 400);
        metrics.accepted(5);
        metrics.dropped("bot_crawler", 2);
        metrics.storage_latency(Duration::from_micros(1500));
        let text = metrics.render(Some(7));
        for line in [
            r#"glinto_http_requests_total{route="/api/event",status="202"} 2"#,
            r#"glinto_http_requests_total{route="/api/event",status="400"} 1"#,
            "glinto_events_accepted_total 5",
            r#"glinto_events_dropped_total{reason="bot_crawler"} 2"#,
            r#"glinto_storage_commit_seconds_bucket{le="0.001"} 0"#,
            r#"glinto_storage_commit_seconds_bucket{le="0.002"} 1"#,
            r#"glinto_storage_commit_seconds_bucket{le="+Inf"} 1"#,
            "glinto_storage_commit_seconds_count 1",
            "glinto_queue_depth 7",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(!metrics.render(None).contains("glinto_queue_depth"));
    }
}
