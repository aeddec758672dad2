//! The event model's hot paths, per event:
//! - `ingest/*`: parse + validate + normalize + classify the User-Agent +
//!   hash the visitor, over a realistic mix of bodies and User-Agents
//!   (target: ≤ 2 µs per event, ≥ 500k events/s on one core);
//! - `ndjson/*` and `archive/*`: the exchange and archive encodings.
//!
//! `cargo bench -p glinto-benches --bench event_model -- --warm-up-time 1 --measurement-time 3`
//!
//! Two clocks: the `*` groups measure wall time, the `cpu/*` groups the
//! benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`). On the shared
//! 2-core machine, with other builds running, wall time mostly measures the
//! wait for a core; CPU time is what one event costs one core.
#![allow(
    unsafe_code,
    reason = "one libc::clock_gettime call, see ThreadCpuTime"
)]

use std::hint::black_box;
use std::net::IpAddr;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use glinto_event_model::visitor::{Salt, SaltPeriod, Salts};
use glinto_event_model::{Event, IngestConfig, Ingestor, RequestContext, archive, ndjson};

const NOW: u64 = 1_704_067_200_000;

/// A traffic-like spread of User-Agents: mostly mainstream browsers, a few
/// crawlers and tools (rejected as bots, which costs work too).
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/105.0.0.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.4.0",
];

/// Request bodies as trackers send them: short-name pageviews (Plausible's
/// script), referrers, UTM links, hash routing, custom events with props,
/// revenue, several sites.
const BODIES: &[&str] = &[
    r#"{"n":"pageview","u":"https://shop.example.com/","d":"shop.example.com","r":null,"w":1440}"#,
    r#"{"n":"pageview","u":"https://shop.example.com/products/blue-shoe-42","d":"shop.example.com","r":"https://www.google.com/","w":390}"#,
    r#"{"n":"pageview","u":"https://blog.example.org/posts/rust-on-the-edge?utm_source=newsletter&utm_medium=email&utm_campaign=nov","d":"blog.example.org","r":null,"w":1280}"#,
    r#"{"n":"pageview","u":"https://docs.example.io/guide/install","d":"docs.example.io","r":"https://news.ycombinator.com/item?id=1","w":1920}"#,
    r#"{"n":"pageview","u":"https://app.example.net/#/dashboard","d":"app.example.net","r":"https://app.example.net/login","h":1,"w":1024}"#,
    r#"{"n":"Signup","u":"https://shop.example.com/register","d":"shop.example.com","r":"https://t.co/abc","p":{"plan":"pro","trial":true},"w":414}"#,
    r#"{"n":"Purchase","u":"https://shop.example.com/checkout/done","d":"shop.example.com,rollup.example.com","r":"https://shop.example.com/cart","revenue":{"currency":"EUR","amount":"49.90"},"p":{"items":3},"w":1366}"#,
    r#"{"name":"pageview","url":"https://blog.example.org/about?ref=producthunt","domain":"blog.example.org","referrer":"https://www.producthunt.com/","screen_width":768}"#,
];

fn salts() -> Salts {
    Salts::new(
        SaltPeriod::Daily.epoch_at(NOW),
        Salt::from_bytes([42; 16]),
        Some(Salt::from_bytes([41; 16])),
    )
}

/// One request of the mix: (body, User-Agent, client IP).
fn requests(n: usize) -> Vec<(&'static str, &'static str, IpAddr)> {
    (0..n)
        .map(|i| {
            // A multiplicative hash of the index, so that bodies and agents
            // combine independently (plain strides would correlate them).
            let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
            let body = BODIES[(h % BODIES.len() as u64) as usize];
            let ua = USER_AGENTS[((h >> 8) % USER_AGENTS.len() as u64) as usize];
            let ip = IpAddr::from([198, 51, (i / 256 % 256) as u8, (i % 256) as u8]);
            (body, ua, ip)
        })
        .collect()
}

fn sample_events() -> Vec<Event> {
    let mut ingestor = Ingestor::new(IngestConfig::default(), salts());
    requests(1000)
        .into_iter()
        .enumerate()
        .filter_map(|(i, (body, ua, ip))| {
            let ctx = RequestContext {
                user_agent: ua,
                client_ip: Some(ip),
                country: Some(*b"DE"),
                received_at_ms: NOW + i as u64,
            };
            ingestor.ingest_body(body.as_bytes(), &ctx).ok()
        })
        .flatten()
        .map(|e| Event {
            session_id: Some(e.visitor_id ^ 1),
            ..e
        })
        .collect()
}

/// Criterion measurement of the calling thread's CPU time, in nanoseconds.
struct ThreadCpuTime;

impl ThreadCpuTime {
    fn now_ns() -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID
        // is supported by every Linux kernel this bench runs on.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        if rc != 0 {
            return 0;
        }
        (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
    }
}

static WALL_TIME: WallTime = WallTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        Self::now_ns()
    }
    fn end(&self, start: u64) -> u64 {
        Self::now_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, like wall time: reuse its formatting.
        WALL_TIME.formatter()
    }
}

fn ingest_cpu(c: &mut Criterion<ThreadCpuTime>) {
    ingest_with(c, "cpu/ingest");
}

fn ingest(c: &mut Criterion) {
    ingest_with(c, "ingest");
}

fn ingest_with<M: Measurement>(c: &mut Criterion<M>, group_name: &str) {
    let requests = requests(4096);
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(requests.len() as u64));
    // The smallest cache (2 entries) misses on nearly every request of the mix:
    // what classification costs without the cache.
    for (name, cache) in [("mix_ua_cache", 4096), ("mix_ua_cache_misses", 2)] {
        let config = IngestConfig {
            ua_cache_capacity: cache,
            ..IngestConfig::default()
        };
        let mut ingestor = Ingestor::new(config, salts());
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut accepted = 0usize;
                for (i, (body, ua, ip)) in requests.iter().enumerate() {
                    let ctx = RequestContext {
                        user_agent: ua,
                        client_ip: Some(*ip),
                        country: Some(*b"DE"),
                        received_at_ms: NOW + i as u64,
                    };
                    if let Ok(events) = ingestor.ingest_body(black_box(body.as_bytes()), &ctx) {
                        accepted += events.len();
                    }
                }
                accepted
            });
        });
    }
    group.finish();
}

/// `event` in the benchmark stream's format (the crate docs of `glinto-bench-data`, `crates/bench-data`).
fn bench_line(event: &Event) -> String {
    format!(
        concat!(
            r#"{{"event_id":{},"timestamp":{},"domain":"{}","name":"{}","pathname":"{}","#,
            r#""referrer_source":"{}","utm_source":"{}","utm_medium":"{}","utm_campaign":"{}","#,
            r#""country_code":"{}","browser":"{}","os":"{}","device":"{}","screen_width":"{}","#,
            r#""visitor_id":{},"session_id":{}}}"#,
            "\n"
        ),
        event.event_id,
        event.timestamp_ms,
        event.site,
        event.name,
        event.pathname,
        event.source,
        event.utm_source,
        event.utm_medium,
        event.utm_campaign,
        event.country_code,
        event.browser,
        event.os,
        event.device.as_str(),
        event.screen,
        event.visitor_id,
        event.session_id.unwrap_or(0),
    )
}

fn encodings_cpu(c: &mut Criterion<ThreadCpuTime>) {
    encodings_with(c, "cpu/");
}

fn encodings(c: &mut Criterion) {
    encodings_with(c, "");
}

fn encodings_with<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let events = sample_events();
    let mut lines = String::new();
    for event in &events {
        ndjson::write_line(event, &mut lines);
    }
    let records: Vec<Vec<u8>> = events.iter().map(archive::encode).collect();

    let mut group = c.benchmark_group(format!("{prefix}ndjson"));
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("write_line", |b| {
        let mut out = String::with_capacity(lines.len());
        b.iter(|| {
            out.clear();
            for event in &events {
                ndjson::write_line(event, &mut out);
            }
            out.len()
        });
    });
    group.bench_function("parse_line", |b| {
        b.iter(|| {
            lines
                .lines()
                .filter(|l| ndjson::parse_line(l).is_ok())
                .count()
        });
    });
    // The benchmark stream's lines: its 16 keys only, so the channel is derived.
    let bench_lines: String = events.iter().map(bench_line).collect();
    group.bench_function("parse_bench_line", |b| {
        b.iter(|| {
            bench_lines
                .lines()
                .filter(|l| ndjson::parse_line(l).is_ok())
                .count()
        });
    });
    group.finish();

    let mut group = c.benchmark_group(format!("{prefix}archive"));
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("encode", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            for event in &events {
                out.clear();
                archive::encode_into(event, &mut out);
            }
            out.len()
        });
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            records
                .iter()
                .filter(|r| archive::decode(r).is_ok())
                .count()
        });
    });
    group.finish();
}

criterion_group!(benches, ingest, encodings);
criterion_group! {
    name = cpu_benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = ingest_cpu, encodings_cpu
}
criterion_main!(benches, cpu_benches);
