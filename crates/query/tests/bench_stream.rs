//! The benchmark stream's questions asked as Stats API v2 requests: Q1, Q2,
//! Q3 (country) and Q4 must match `truth.json` (counts exactly, uniques within
//! three standard errors of the sketch). Q3 by referrer groups events by their
//! own `referrer_source`, which no Stats API dimension does: `visit:source`
//! counts a visit's page views under its first event's source, and the
//! rollups refuse that combination (see docs/stats-api.md).
//!
//! Data: `$GLINTO_BENCH_DIR` (what `.ci/run` sets); without it the test
//! prints a note and checks nothing.

#![allow(clippy::print_stdout, reason = "the note and the error figures")]

mod common;

use common::bench::{Sites, bench_dir, context, load, q1, q4, top10, truth};
use glinto_query::{QueryError, QueryRequest, Resolution, answer, plan};
use serde_json::Value;

/// Uniques within this many standard errors (p = 14: 0.81 %), plus 2.
const SIGMAS: f64 = 3.0;

fn ask(sites: &Sites, site: &str, request: &QueryRequest) -> Result<Value, QueryError> {
    let rollup = &sites.rollups[site];
    let plan = plan(request, &context(site, sites))?;
    let response = answer(&plan, rollup, &Resolution::hourly())?;
    Ok(serde_json::to_value(&response).unwrap_or_else(|e| panic!("{e}")))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[derive(Default)]
struct Check {
    problems: Vec<String>,
    errors: Vec<f64>,
}

impl Check {
    fn exact(&mut self, what: &str, truth: u64, got: u64) {
        if truth != got {
            self.problems.push(format!("{what}: {got}, truth {truth}"));
        }
    }

    fn uniques(&mut self, what: &str, truth: u64, got: u64) {
        let t = truth as f64;
        let err = (got as f64 - t).abs();
        self.errors.push(if t > 0.0 { err / t } else { err });
        if err > SIGMAS * 0.0081 * t + 2.0 {
            self.problems
                .push(format!("{what}: uniques {got}, truth {truth}"));
        }
    }
}

#[test]
fn the_four_questions_as_stats_api_requests() {
    let dir = match bench_dir() {
        Ok(Some(dir)) => dir,
        Ok(None) => {
            println!("GLINTO_BENCH_DIR is unset: the benchmark questions were not asked");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let sites = load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let truth = truth(&dir).unwrap_or_else(|e| panic!("{e}"));
    let mut c = Check::default();

    // Q1: per site and UTC day.
    let mut days: std::collections::BTreeMap<(String, String), Vec<u64>> = Default::default();
    for site in sites.rollups.keys() {
        let got = ask(&sites, site, &q1(site)).unwrap_or_else(|e| panic!("{e}"));
        for row in got["results"].as_array().into_iter().flatten() {
            let day = row["dimensions"][0].as_str().unwrap_or_default().to_owned();
            let m = &row["metrics"];
            days.insert((site.clone(), day), vec![u(&m[0]), u(&m[1])]);
        }
    }
    let mut asked = 0;
    for t in truth["q1"].as_array().into_iter().flatten() {
        let site = t[0].as_str().unwrap_or_default().to_owned();
        let day = jiff::civil::date(1970, 1, 1)
            .checked_add(jiff::Span::new().days(t[1].as_i64().unwrap_or_default()))
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string();
        let got = days
            .get(&(site.clone(), day.clone()))
            .cloned()
            .unwrap_or(vec![0, 0]);
        c.exact(&format!("q1 {site} {day} pageviews"), u(&t[2]), got[0]);
        c.uniques(&format!("q1 {site} {day}"), u(&t[3]), got[1]);
        asked += 1;
    }
    assert!(asked > 0, "truth.json has no q1 rows");

    // Q2 and Q3 (country): the top 10 by page views, ties by key.
    for (name, dimension) in [("q2", "event:page"), ("q3_country", "visit:country")] {
        for (site, rows) in truth[name].as_object().into_iter().flatten() {
            let got = ask(&sites, site, &top10(site, dimension)).unwrap_or_else(|e| panic!("{e}"));
            let got: Vec<(String, u64, u64)> = got["results"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    let key = r["dimensions"][0].as_str().unwrap_or_default().to_owned();
                    (key, u(&r["metrics"][0]), u(&r["metrics"][1]))
                })
                .collect();
            let want: Vec<(String, u64, u64)> = rows
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    (
                        r[0].as_str().unwrap_or_default().to_owned(),
                        u(&r[1]),
                        u(&r[2]),
                    )
                })
                .collect();
            let keys = |l: &[(String, u64, u64)]| -> Vec<(String, u64)> {
                l.iter().map(|(k, p, _)| (k.clone(), *p)).collect()
            };
            if keys(&got) != keys(&want) {
                c.problems.push(format!(
                    "{name} {site}: {:?}, truth {:?}",
                    keys(&got),
                    keys(&want)
                ));
                continue;
            }
            for (g, w) in got.iter().zip(&want) {
                c.uniques(&format!("{name} {site} {:?}", w.0), w.2, g.2);
            }
        }
    }

    // Q4: counts exact, the bounce rate as Plausible rounds it.
    for (site, t) in truth["q4"].as_object().into_iter().flatten() {
        let got = ask(&sites, site, &q4(site)).unwrap_or_else(|e| panic!("{e}"));
        let m = &got["results"][0]["metrics"];
        let (visits, bounces) = (u(&t["visits"]), u(&t["bounces"]));
        c.exact(
            &format!("q4 {site} pageviews"),
            u(&t["pageviews"]),
            u(&m[0]),
        );
        c.exact(&format!("q4 {site} visits"), visits, u(&m[1]));
        let rate = (bounces as f64 / visits as f64 * 100.0).round_ties_even() as u64;
        c.exact(&format!("q4 {site} bounce_rate"), rate, u(&m[2]));
        c.uniques(&format!("q4 {site}"), u(&t["visitors"]), u(&m[3]));
        assert_eq!(
            got["meta"]["estimates"]["metrics"],
            serde_json::json!(["visitors"])
        );
    }

    // Q3 by referrer is not a Stats API question (see the module docs).
    let site = sites.rollups.keys().next().cloned().unwrap_or_default();
    let err = ask(&sites, &site, &top10(&site, "visit:source")).err();
    assert!(
        matches!(
            &err,
            Some(QueryError::NotSupported {
                field: "metrics",
                ..
            })
        ),
        "{err:?}"
    );

    let n = c.errors.len().max(1) as f64;
    let mean = c.errors.iter().sum::<f64>() / n;
    let max = c.errors.iter().copied().fold(0.0, f64::max);
    println!(
        "{} uniques compared: error mean {:.3} %, max {:.3} %",
        c.errors.len(),
        mean * 100.0,
        max * 100.0
    );
    assert!(c.problems.is_empty(), "{}", c.problems.join("\n"));
}
