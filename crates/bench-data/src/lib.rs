//! The benchmark stream: a deterministic, realistic stream of enriched
//! analytics events (`events.ndjson`) and the exact answers to six dashboard
//! questions about it (`truth.json`).
//!
//! Same [`Config`], same bytes, on every platform: the only source of
//! randomness is a SplitMix64 generator seeded from [`Config::seed`] (see
//! [`rng`]), and the few floating-point functions the distributions need come
//! from `libm` (pure Rust, the same results everywhere) rather than the
//! platform's math library.
//!
//! # The line format (the enriched-event exchange format)
//! One JSON object per line, fields always in this order:
//! ```json
//! {"event_id":13012289629555608883,"timestamp":1704067211675,"domain":"shop.example.com","name":"pageview",
//!  "pathname":"/changelog/item-497","referrer_source":"t.co","utm_source":"","utm_medium":"","utm_campaign":"",
//!  "country_code":"RS","browser":"Safari","os":"iOS","device":"Mobile","screen_width":"<576",
//!  "visitor_id":17142524813059115016,"session_id":5746558340338689122}
//! ```
//! - `event_id`, `visitor_id`, `session_id`: unsigned 64-bit integers (above
//!   2^53: parse them as u64, not f64).
//! - `timestamp`: milliseconds since the Unix epoch, UTC, from 2024-01-01
//!   ([`START_MS`]) over [`Config::days`] days. Lines are in timestamp order,
//!   except re-deliveries.
//! - The empty string means absent (direct traffic has `referrer_source`
//!   ""). `name` is `pageview` or a custom event name.
//! - [`Config::dup_rate`] of the lines are exact copies of earlier lines,
//!   re-delivered 1 s to 10 min after the original's timestamp: they count
//!   once.
//! - `session_id` follows the 30-minute inactivity rule per (site, visitor):
//!   a gap of more than 30 minutes starts a new visit, a gap of exactly 30
//!   minutes continues it.
//!
//! # The model
//! Five sites of skewed traffic ([`SITES`]); visitor-days, each with one or
//! more sessions of a few events; every site has its own visitor pool drawn
//! by a power law, so regulars come back on many days. Country, browser, OS,
//! device and screen are fixed per visitor, referrer and UTM tags per
//! generated session; pages (5,000 per site), referrers (2,000 and direct)
//! and countries (112) are Zipf-distributed. A session starts with a page
//! view; later events are custom events 8 % of the time.
//!
//! # The six questions ([`truth`]; UTC days; one event per `event_id`)
//! - Q1 per site per day: page views, unique visitors (over all events).
//! - Q2 per site, whole range: top 10 pages by page views (ties: key
//!   ascending), with the unique visitors of those page views.
//! - Q3 the same for `referrer_source` (direct "" included) and for
//!   `country_code`.
//! - Q4 per site: page views, visits, bounces (visits with exactly one page
//!   view), unique visitors.
//! - Q5 per site: Q2 counting only page views with `country_code` DE and
//!   `device` Mobile.
//! - Q6 per site: Q4 of the visits whose first event has `referrer_source`
//!   google.com (all page views of such a visit count).
//!
//! `truth.json` has the shape of the shared Python generator's, so either
//! generator's output can be fed to the same tests:
//! `{"meta": {...}, "q1": [[site, day, pageviews, visitors], ...],
//! "q2" | "q3_ref" | "q3_country" | "q5": {site: [[key, pageviews, visitors], ...]},
//! "q4" | "q6": {site: {"pageviews", "visits", "bounces", "visitors", ...}}}`.

pub mod rng;
pub mod truth;

mod model;

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::Path;

pub use model::Stream;

/// 2024-01-01T00:00:00Z, a Monday: the first day of the stream.
pub const START_MS: u64 = 1_704_067_200_000;
/// Milliseconds per UTC day.
pub const DAY_MS: u64 = 86_400_000;
/// The inactivity gap that ends a visit: a gap of more than 30 minutes.
pub const VISIT_GAP_MS: u64 = 30 * 60 * 1000;
/// The five sites, busiest first.
pub const SITES: [&str; 5] = [
    "shop.example.com",
    "blog.example.org",
    "docs.example.io",
    "news.example.net",
    "app.example.dev",
];
/// The columns of a line, in order.
pub const COLUMNS: [&str; 16] = [
    "event_id",
    "timestamp",
    "domain",
    "name",
    "pathname",
    "referrer_source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "country_code",
    "browser",
    "os",
    "device",
    "screen_width",
    "visitor_id",
    "session_id",
];

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// Lines written, re-deliveries included.
    pub events: u64,
    /// Days of traffic, from [`START_MS`].
    pub days: u32,
    /// The seed of the only random generator.
    pub seed: u64,
    /// The share of lines that are re-deliveries, in `[0, 0.5]`.
    pub dup_rate: f64,
}

impl Config {
    /// The stream `.ci/run` and the aggregator's cross-check use: 200,000
    /// lines over 30 days, seed 7, 1 % re-deliveries.
    pub const CI: Self = Self {
        events: 200_000,
        days: 30,
        seed: 7,
        dup_rate: 0.01,
    };

    /// Checks the ranges the generator supports.
    ///
    /// # Errors
    /// A message naming the field and its limit.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=3650).contains(&self.days) {
            return Err(format!("days must be in 1..=3650, not {}", self.days));
        }
        if !(0.0..=0.5).contains(&self.dup_rate) {
            return Err(format!(
                "dup-rate must be in [0, 0.5], not {}",
                self.dup_rate
            ));
        }
        if self.events > u64::from(u32::MAX) {
            return Err(format!(
                "events must be at most {}, not {}",
                u32::MAX,
                self.events
            ));
        }
        Ok(())
    }

    /// The number of re-delivered lines.
    pub fn duplicates(&self) -> u64 {
        // At most one copy per distinct event (`dup_rate` ≤ 0.5 rounds up
        // past that only for a tiny odd count).
        ((self.events as f64 * self.dup_rate).round() as u64).min(self.events / 2)
    }

    /// A directory name that identifies the stream, e.g.
    /// `events200000-days30-seed7-dup0.01`.
    pub fn dir_name(&self) -> String {
        format!(
            "events{}-days{}-seed{}-dup{}",
            self.events, self.days, self.seed, self.dup_rate
        )
    }
}

/// Generates the stream of `config` and writes `events.ndjson` and
/// `truth.json` into `dir` (created if missing). Each file is written under a
/// temporary name and renamed, `truth.json` last: a directory with a
/// `truth.json` is complete.
///
/// # Errors
/// An invalid config (as [`io::ErrorKind::InvalidInput`]) or an I/O error.
pub fn write_dir(config: &Config, dir: &Path) -> io::Result<truth::Truth> {
    config
        .validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    fs::create_dir_all(dir)?;
    let stream = Stream::generate(config);
    let tmp = |name: &str| dir.join(format!(".{name}.{}.tmp", std::process::id()));

    let events = tmp("events.ndjson");
    let mut out = BufWriter::with_capacity(1 << 22, fs::File::create(&events)?);
    stream.write_ndjson(&mut out)?;
    out.into_inner().map_err(io::IntoInnerError::into_error)?;
    fs::rename(&events, dir.join("events.ndjson"))?;

    let truth = truth::Truth::compute(config, stream.lines());
    let path = tmp("truth.json");
    let mut out = BufWriter::new(fs::File::create(&path)?);
    serde_json::to_writer_pretty(&mut out, &truth)?;
    out.write_all(b"\n")?;
    out.into_inner().map_err(io::IntoInnerError::into_error)?;
    fs::rename(&path, dir.join("truth.json"))?;
    Ok(truth)
}

/// `dir` if it holds a complete stream (a `truth.json`), else generates the
/// stream of `config` into it first. For tests and benchmarks that share one
/// cached stream under `target/`.
///
/// # Errors
/// As [`write_dir`].
pub fn ensure_dir(config: &Config, dir: &Path) -> io::Result<()> {
    if dir.join("truth.json").is_file() && dir.join("events.ndjson").is_file() {
        return Ok(());
    }
    write_dir(config, dir).map(|_| ())
}

/// One line of the stream, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    pub event_id: u64,
    pub timestamp: u64,
    pub domain: &'a str,
    pub name: &'a str,
    pub pathname: &'a str,
    pub referrer_source: &'a str,
    pub utm_source: &'a str,
    pub utm_medium: &'a str,
    pub utm_campaign: &'a str,
    pub country_code: &'a str,
    pub browser: &'a str,
    pub os: &'a str,
    pub device: &'a str,
    pub screen_width: &'a str,
    pub visitor_id: u64,
    pub session_id: u64,
}

impl Line<'_> {
    /// Whether the event is a page view.
    pub fn is_pageview(&self) -> bool {
        self.name == "pageview"
    }

    /// Writes the line and its newline. No string of the vocabulary needs
    /// escaping (checked by a test), so the strings are written as they are.
    ///
    /// # Errors
    /// As `out`'s.
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(
            out,
            "{{\"event_id\":{},\"timestamp\":{},\"domain\":\"{}\",\"name\":\"{}\",\
             \"pathname\":\"{}\",\"referrer_source\":\"{}\",\"utm_source\":\"{}\",\
             \"utm_medium\":\"{}\",\"utm_campaign\":\"{}\",\"country_code\":\"{}\",\
             \"browser\":\"{}\",\"os\":\"{}\",\"device\":\"{}\",\"screen_width\":\"{}\",\
             \"visitor_id\":{},\"session_id\":{}}}",
            self.event_id,
            self.timestamp,
            self.domain,
            self.name,
            self.pathname,
            self.referrer_source,
            self.utm_source,
            self.utm_medium,
            self.utm_campaign,
            self.country_code,
            self.browser,
            self.os,
            self.device,
            self.screen_width,
            self.visitor_id,
            self.session_id,
        )
    }
}
