//! The benchmark stream's questions Q1-Q4 (`glinto-bench-data`'s crate docs):
//! reading `truth.json`, answering from rollups, comparing the two.
//! Shared by `tests/bench_stream.rs` and `examples/bench_stream.rs`.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each includer uses a different subset"
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;

use glinto_aggregator::rollup::{Dimension, HourRange, OrderBy, SiteRollup};
use glinto_event_model::Event;
use glinto_event_model::ndjson::parse_line;
use serde_json::Value;

/// One `[key, pageviews, uniques]` row of a top-10 list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopRow {
    pub key: String,
    pub pageviews: u64,
    pub visitors: u64,
}

/// Q4 of one site.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub pageviews: u64,
    pub visits: u64,
    pub bounces: u64,
    pub visitors: u64,
}

/// The answers to the four questions (the shape of truth.json).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answers {
    /// `(site, UTC day) -> (pageviews, uniques)`.
    pub q1: BTreeMap<(String, u32), (u64, u64)>,
    pub q2: BTreeMap<String, Vec<TopRow>>,
    pub q3_ref: BTreeMap<String, Vec<TopRow>>,
    pub q3_country: BTreeMap<String, Vec<TopRow>>,
    pub q4: BTreeMap<String, Totals>,
}

fn u(v: &Value) -> Result<u64, String> {
    v.as_u64()
        .ok_or_else(|| format!("not an unsigned integer: {v}"))
}

fn top_rows(v: &Value) -> Result<BTreeMap<String, Vec<TopRow>>, String> {
    let mut out = BTreeMap::new();
    for (site, rows) in v.as_object().ok_or("top list is not an object")? {
        let mut list = Vec::new();
        for row in rows.as_array().ok_or("top rows are not an array")? {
            let r = row.as_array().ok_or("top row is not an array")?;
            let [key, pv, uv] = r.as_slice() else {
                return Err(format!("top row of {} values", r.len()));
            };
            list.push(TopRow {
                key: key.as_str().ok_or("key is not a string")?.to_owned(),
                pageviews: u(pv)?,
                visitors: u(uv)?,
            });
        }
        out.insert(site.clone(), list);
    }
    Ok(out)
}

/// Reads `truth.json`.
pub fn read_truth(path: &Path) -> Result<Answers, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut truth = Answers::default();
    for row in v["q1"].as_array().ok_or("q1 is not an array")? {
        let r = row.as_array().ok_or("q1 row is not an array")?;
        let [site, day, pv, uv] = r.as_slice() else {
            return Err("q1 row of the wrong length".into());
        };
        let site = site.as_str().ok_or("site is not a string")?.to_owned();
        let day = u32::try_from(u(day)?).map_err(|e| e.to_string())?;
        truth.q1.insert((site, day), (u(pv)?, u(uv)?));
    }
    truth.q2 = top_rows(&v["q2"])?;
    truth.q3_ref = top_rows(&v["q3_ref"])?;
    truth.q3_country = top_rows(&v["q3_country"])?;
    for (site, t) in v["q4"].as_object().ok_or("q4 is not an object")? {
        truth.q4.insert(
            site.clone(),
            Totals {
                pageviews: u(&t["pageviews"])?,
                visits: u(&t["visits"])?,
                bounces: u(&t["bounces"])?,
                visitors: u(&t["visitors"])?,
            },
        );
    }
    Ok(truth)
}

/// Reads every event of an NDJSON file.
pub fn read_events(path: &Path) -> Result<Vec<Event>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut events = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        let event = parse_line(&line).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        events.push(event);
    }
    Ok(events)
}

/// Q1 of one site and UTC day: `(pageviews, uniques)`.
pub fn q1(rollup: &SiteRollup, day: u32) -> (u64, u64) {
    let s = rollup.totals(HourRange::utc_day(day));
    (s.pageviews, s.visitors)
}

/// Q2 / Q3: the top 10 of `dim` by page views over the whole range.
pub fn top10(rollup: &SiteRollup, dim: Dimension) -> Vec<TopRow> {
    rollup
        .top(HourRange::all(), dim, OrderBy::Pageviews, 10)
        .into_iter()
        .map(|row| TopRow {
            key: row.value,
            pageviews: row.stats.pageviews,
            visitors: row.stats.visitors,
        })
        .collect()
}

/// Q4 of one site.
pub fn q4(rollup: &SiteRollup) -> Totals {
    let s = rollup.totals(HourRange::all());
    Totals {
        pageviews: s.pageviews,
        visits: s.visits,
        bounces: s.bounces,
        visitors: s.visitors,
    }
}

/// Answers the four questions from per-site rollups, for the days of `truth`.
pub fn answer(rollups: &BTreeMap<String, SiteRollup>, truth: &Answers) -> Answers {
    let mut a = Answers::default();
    for (site, day) in truth.q1.keys() {
        let got = rollups.get(site).map_or((0, 0), |r| q1(r, *day));
        a.q1.insert((site.clone(), *day), got);
    }
    for (site, r) in rollups {
        a.q2.insert(site.clone(), top10(r, Dimension::Page));
        a.q3_ref.insert(site.clone(), top10(r, Dimension::Source));
        a.q3_country
            .insert(site.clone(), top10(r, Dimension::Country));
        a.q4.insert(site.clone(), q4(r));
    }
    a
}

/// How the answers compare with the truth.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Exact fields (page views, visits, bounces, top-10 keys and order) that differ.
    pub mismatches: Vec<String>,
    /// Relative error of every unique count compared.
    pub uniques_errors: Vec<f64>,
    /// Unique counts outside the tolerance.
    pub uniques_outliers: Vec<String>,
}

impl Comparison {
    /// Mean and max of the relative uniques errors.
    pub fn uniques_error(&self) -> (f64, f64) {
        let n = self.uniques_errors.len().max(1) as f64;
        let mean = self.uniques_errors.iter().sum::<f64>() / n;
        let max = self.uniques_errors.iter().copied().fold(0.0, f64::max);
        (mean, max)
    }

    /// Whether everything exact matched and every unique count is in tolerance.
    pub fn is_ok(&self) -> bool {
        self.mismatches.is_empty() && self.uniques_outliers.is_empty()
    }

    /// A readable summary of at most 20 problems.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for m in self
            .mismatches
            .iter()
            .chain(&self.uniques_outliers)
            .take(20)
        {
            let _ = writeln!(s, "  {m}");
        }
        let (mean, max) = self.uniques_error();
        let _ = write!(
            s,
            "{} exact mismatches, {} uniques outside tolerance; uniques error mean {:.3}% max {:.3}%",
            self.mismatches.len(),
            self.uniques_outliers.len(),
            mean * 100.0,
            max * 100.0
        );
        s
    }

    fn uniques(&mut self, what: &str, truth: u64, got: u64, sigmas: f64) {
        let t = truth as f64;
        let err = (got as f64 - t).abs();
        self.uniques_errors
            .push(if t > 0.0 { err / t } else { err });
        // p = 14: standard error 0.81 %; small sets are near-exact (sparse).
        if err > sigmas * 0.0081 * t + 2.0 {
            self.uniques_outliers
                .push(format!("{what}: uniques {got}, truth {truth}"));
        }
    }

    fn exact(&mut self, what: &str, truth: u64, got: u64) {
        if truth != got {
            self.mismatches
                .push(format!("{what}: {got}, truth {truth}"));
        }
    }
}

/// Compares answers with the truth: page views, visits, bounces and top-10
/// keys/order exactly; uniques within `sigmas` standard errors.
pub fn compare(truth: &Answers, got: &Answers, sigmas: f64) -> Comparison {
    let mut c = Comparison::default();
    for (key, &(pv, uv)) in &truth.q1 {
        let (gpv, guv) = got.q1.get(key).copied().unwrap_or_default();
        let what = format!("q1 {} day {}", key.0, key.1);
        c.exact(&format!("{what} pageviews"), pv, gpv);
        c.uniques(&what, uv, guv, sigmas);
    }
    for (name, t, g) in [
        ("q2", &truth.q2, &got.q2),
        ("q3_ref", &truth.q3_ref, &got.q3_ref),
        ("q3_country", &truth.q3_country, &got.q3_country),
    ] {
        for (site, rows) in t {
            let empty = Vec::new();
            let grows = g.get(site).unwrap_or(&empty);
            let tk: Vec<(&str, u64)> = rows.iter().map(|r| (r.key.as_str(), r.pageviews)).collect();
            let gk: Vec<(&str, u64)> = grows
                .iter()
                .map(|r| (r.key.as_str(), r.pageviews))
                .collect();
            if tk != gk {
                c.mismatches
                    .push(format!("{name} {site}: top 10 {gk:?}, truth {tk:?}"));
                continue;
            }
            for (tr, gr) in rows.iter().zip(grows) {
                c.uniques(
                    &format!("{name} {site} {:?}", tr.key),
                    tr.visitors,
                    gr.visitors,
                    sigmas,
                );
            }
        }
    }
    for (site, t) in &truth.q4 {
        let g = got.q4.get(site).copied().unwrap_or_default();
        c.exact(&format!("q4 {site} pageviews"), t.pageviews, g.pageviews);
        c.exact(&format!("q4 {site} visits"), t.visits, g.visits);
        c.exact(&format!("q4 {site} bounces"), t.bounces, g.bounces);
        c.uniques(&format!("q4 {site}"), t.visitors, g.visitors, sigmas);
    }
    c
}
