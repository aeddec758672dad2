//! Generation: visitor-days → sessions → events, then visits by the
//! 30-minute rule, ids, and the arrival order with re-deliveries.

use std::io::{self, Write};

use crate::rng::{Rng, Weighted, mix64};
use crate::{Config, DAY_MS, Line, SITES, START_MS, VISIT_GAP_MS};

const SITE_WEIGHTS: [f64; 5] = [0.45, 0.25, 0.15, 0.10, 0.05];
const PATHS: usize = 5000;
const REFERRERS: usize = 2000;
const SECTIONS: [&str; 8] = [
    "blog",
    "docs",
    "product",
    "category",
    "news",
    "help",
    "guides",
    "changelog",
];
const NAMED_REFERRERS: [&str; 20] = [
    "google.com",
    "bing.com",
    "duckduckgo.com",
    "t.co",
    "facebook.com",
    "reddit.com",
    "news.ycombinator.com",
    "linkedin.com",
    "github.com",
    "youtube.com",
    "instagram.com",
    "baidu.com",
    "yandex.ru",
    "ecosia.org",
    "search.brave.com",
    "android-app",
    "slack.com",
    "medium.com",
    "stackoverflow.com",
    "producthunt.com",
];
const COUNTRIES: &str = "US DE GB IN FR CA BR NL JP ES IT AU PL SE RU CN KR MX CH TR ID AT BE DK NO \
    FI IE PT CZ UA RO HU GR IL AR CO CL PE ZA NG EG KE MA SA AE PK BD VN TH MY SG PH NZ TW HK SK SI \
    HR RS BG LT LV EE BY KZ GE AM AZ IR IQ JO LB QA KW OM BH LK NP MM KH LA MN UZ KG TJ TM AF DZ TN \
    LY GH CI SN CM ET TZ UG ZW ZM AO MZ VE EC BO";
const DIRECT_SHARE: f64 = 0.45;
/// (browser, OS, device, weight): a small realistic User-Agent table.
const USER_AGENTS: [(&str, &str, &str, f64); 16] = [
    ("Chrome", "Windows", "Desktop", 25.0),
    ("Chrome", "Android", "Mobile", 20.0),
    ("Safari", "iOS", "Mobile", 17.0),
    ("Chrome", "Mac", "Desktop", 8.0),
    ("Safari", "Mac", "Desktop", 7.0),
    ("Edge", "Windows", "Desktop", 5.0),
    ("Firefox", "Windows", "Desktop", 4.0),
    ("Samsung Internet", "Android", "Mobile", 3.0),
    ("Safari", "iPadOS", "Tablet", 3.0),
    ("Chrome", "Linux", "Desktop", 2.0),
    ("Firefox", "Linux", "Desktop", 1.0),
    ("Firefox", "Mac", "Desktop", 1.0),
    ("Chrome", "Android", "Tablet", 1.0),
    ("Opera", "Windows", "Desktop", 1.0),
    ("Chrome", "Chrome OS", "Desktop", 1.0),
    ("Chrome", "iOS", "Mobile", 1.0),
];
const SCREENS: [&str; 4] = ["<576", "576-992", "992-1440", ">=1440"];
const NAMES: [&str; 5] = [
    "pageview",
    "signup",
    "Outbound Link: Click",
    "File Download",
    "purchase",
];
const CUSTOM_WEIGHTS: [f64; 4] = [0.4, 0.35, 0.15, 0.10];
const CUSTOM_SHARE: f64 = 0.08;
const UTM_SOURCES: [&str; 7] = [
    "",
    "newsletter",
    "twitter",
    "google",
    "facebook",
    "producthunt",
    "linkedin",
];
const UTM_MEDIUMS: [&str; 5] = ["", "email", "social", "cpc", "referral"];
const UTM_CAMPAIGNS: [&str; 7] = [
    "",
    "spring_sale",
    "launch",
    "weekly_digest",
    "black_friday",
    "retargeting",
    "webinar",
];
const UTM_SHARE: f64 = 0.08;
/// Sessions per visitor-day: 1 + Poisson(this).
const EXTRA_SESSIONS_MEAN: f64 = 0.4;
/// Events per generated session: geometric with this success probability,
/// capped.
const SESSION_END: f64 = 0.45;
const SESSION_CAP: u32 = 40;
/// Gaps between a session's events: 1 s + exponential(mean 60 s), at most
/// 25 minutes (so a generated session is one visit).
const GAP_MEAN_MS: f64 = 60_000.0;
const GAP_MAX_MS: u64 = 1_500_000;
/// Visitor pools: the pool of a site has half as many visitors as the site
/// has visitor-days; a visitor-day picks `pool * U^this`, so low indexes are
/// regulars.
const POOL_SKEW: f64 = 1.6;
/// Re-deliveries arrive this long after the original's timestamp.
const REDELIVERY_MS: (u64, u64) = (1_000, 600_000);

/// The strings a stream's indexes refer to.
#[derive(Debug)]
struct Vocabulary {
    /// Per site, its pages.
    paths: Vec<Vec<String>>,
    referrers: Vec<String>,
    countries: Vec<&'static str>,
}

impl Vocabulary {
    fn new() -> Self {
        let paths = (0..SITES.len())
            .map(|site| {
                let mut p: Vec<String> = ["/", "/pricing", "/about", "/login", "/signup"]
                    .map(String::from)
                    .into();
                p.extend((p.len()..PATHS).map(|i| {
                    let section = SECTIONS[(i * 7 + site) % SECTIONS.len()];
                    format!("/{section}/item-{i}")
                }));
                p
            })
            .collect();
        let mut referrers = vec![String::new()];
        referrers.extend(NAMED_REFERRERS.map(String::from));
        referrers.extend((0..REFERRERS - NAMED_REFERRERS.len()).map(|i| format!("ref{i}.example")));
        Self {
            paths,
            referrers,
            countries: COUNTRIES.split_whitespace().collect(),
        }
    }
}

/// A visitor's fixed attributes.
#[derive(Clone, Copy, Debug)]
struct Visitor {
    id: u64,
    country: u8,
    user_agent: u8,
    screen: u8,
}

/// One distinct event; strings are indexes into the vocabulary.
#[derive(Clone, Copy, Debug)]
struct Record {
    timestamp: u64,
    event_id: u64,
    session_id: u64,
    /// Global visitor index (pools of different sites are disjoint).
    visitor: u32,
    path: u16,
    referrer: u16,
    site: u8,
    name: u8,
    utm: [u8; 3],
}

/// A generated stream: its distinct events in timestamp order and the order
/// in which lines are written (indexes into them, re-deliveries included).
#[derive(Debug)]
pub struct Stream {
    vocabulary: Vocabulary,
    visitors: Vec<Visitor>,
    records: Vec<Record>,
    arrival: Vec<u32>,
}

struct Session {
    visitor_day: u32,
    len: u32,
}

struct VisitorDay {
    site: u8,
    day: u32,
    visitor: u32,
}

impl Stream {
    /// Generates the stream of `config` (which must be valid:
    /// [`Config::validate`]).
    pub fn generate(config: &Config) -> Self {
        let mut rng = Rng::new(config.seed);
        let vocabulary = Vocabulary::new();
        let duplicates = config.duplicates();
        let distinct = config.events.saturating_sub(duplicates);

        // Visitor-days and their sessions, until the stream has `distinct`
        // events (the last session is cut to fit).
        let sites = Weighted::new(&SITE_WEIGHTS);
        let day_weights: Vec<f64> = (0..config.days)
            .map(|d| {
                // 2024-01-01 is a Monday: days 5 and 6 of a week are the weekend.
                let weekend = if d % 7 >= 5 { 0.75 } else { 1.0 };
                let growth = if config.days > 1 {
                    1.0 + 0.15 * f64::from(d) / f64::from(config.days - 1)
                } else {
                    1.0
                };
                weekend * growth
            })
            .collect();
        let days = Weighted::new(&day_weights);
        let mut visitor_days: Vec<VisitorDay> = Vec::new();
        let mut sessions: Vec<Session> = Vec::new();
        let mut planned = 0u64;
        while planned < distinct {
            let vd = u32::try_from(visitor_days.len()).unwrap_or(u32::MAX);
            visitor_days.push(VisitorDay {
                site: sites.sample(&mut rng) as u8,
                day: days.sample(&mut rng) as u32,
                visitor: 0,
            });
            for _ in 0..1 + rng.poisson(EXTRA_SESSIONS_MEAN) {
                let len = u64::from(rng.geometric(SESSION_END, SESSION_CAP));
                let len = len.min(distinct - planned);
                planned += len;
                sessions.push(Session {
                    visitor_day: vd,
                    len: len as u32,
                });
                if planned == distinct {
                    break;
                }
            }
        }

        // Per-site visitor pools, and a visitor for every visitor-day.
        let mut per_site = [0u64; SITES.len()];
        for vd in &visitor_days {
            per_site[usize::from(vd.site)] += 1;
        }
        let pools = per_site.map(|n| (n / 2).max(10));
        let mut offsets = [0u64; SITES.len()];
        for s in 1..SITES.len() {
            offsets[s] = offsets[s - 1] + pools[s - 1];
        }
        for vd in &mut visitor_days {
            let site = usize::from(vd.site);
            let pick = (pools[site] as f64 * libm::pow(rng.unit(), POOL_SKEW)) as u64;
            vd.visitor = (offsets[site] + pick.min(pools[site] - 1)) as u32;
        }
        let countries = Weighted::zipf(vocabulary.countries.len(), 1.1);
        let user_agents = Weighted::new(&USER_AGENTS.map(|ua| ua.3));
        let visitor_base = config.seed.wrapping_mul(1 << 40);
        let visitors: Vec<Visitor> = (0..pools.iter().sum::<u64>())
            .map(|v| {
                let user_agent = user_agents.sample(&mut rng);
                let screen = match USER_AGENTS[user_agent].2 {
                    "Mobile" => 0,
                    "Tablet" => 1,
                    _ => 2 + u8::from(rng.chance(0.35)),
                };
                Visitor {
                    id: mix64(visitor_base.wrapping_add(v).wrapping_add(1 << 62)),
                    country: countries.sample(&mut rng) as u8,
                    user_agent: user_agent as u8,
                    screen,
                }
            })
            .collect();

        // Events of every session.
        let referrers = Weighted::zipf(REFERRERS, 1.1);
        let paths = Weighted::zipf(PATHS, 1.0);
        let customs = Weighted::new(&CUSTOM_WEIGHTS);
        // Diurnal, peaking mid-day UTC.
        let hour_weights: Vec<f64> = (0..24)
            .map(|h| 0.35 + libm::pow(libm::sin(std::f64::consts::PI * f64::from(h) / 23.0), 2.0))
            .collect();
        let hours = Weighted::new(&hour_weights);
        let mut records: Vec<Record> = Vec::with_capacity(distinct as usize);
        let mut offsets_ms: Vec<u64> = Vec::new();
        for session in &sessions {
            let vd = &visitor_days[session.visitor_day as usize];
            let referrer = if rng.chance(DIRECT_SHARE) {
                0
            } else {
                1 + referrers.sample(&mut rng) as u16
            };
            let utm = if rng.chance(UTM_SHARE) {
                [
                    1 + rng.below(UTM_SOURCES.len() as u64 - 1) as u8,
                    1 + rng.below(UTM_MEDIUMS.len() as u64 - 1) as u8,
                    1 + rng.below(UTM_CAMPAIGNS.len() as u64 - 1) as u8,
                ]
            } else {
                [0; 3]
            };
            offsets_ms.clear();
            let mut offset = 0;
            for i in 0..session.len {
                if i > 0 {
                    let gap = rng.exponential(GAP_MEAN_MS) as u64 + 1000;
                    offset += gap.min(GAP_MAX_MS);
                }
                offsets_ms.push(offset);
            }
            let fraction = (hours.sample(&mut rng) as f64 + rng.unit()) / 24.0;
            let start = START_MS
                + u64::from(vd.day) * DAY_MS
                + (fraction * (DAY_MS - 1 - offset) as f64) as u64;
            for (i, &offset) in offsets_ms.iter().enumerate() {
                let name = if i > 0 && rng.chance(CUSTOM_SHARE) {
                    1 + customs.sample(&mut rng) as u8
                } else {
                    0
                };
                records.push(Record {
                    timestamp: start + offset,
                    event_id: 0,
                    session_id: 0,
                    visitor: vd.visitor,
                    path: paths.sample(&mut rng) as u16,
                    referrer,
                    site: vd.site,
                    name,
                    utm,
                });
            }
        }

        // Timestamp order (stable: ties keep generation order); event ids
        // by rank.
        records.sort_by_key(|r| r.timestamp);
        let id_base = config.seed.wrapping_mul(1 << 40);
        for (i, r) in records.iter_mut().enumerate() {
            r.event_id = mix64(id_base.wrapping_add(i as u64));
        }

        // Visits: the 30-minute rule per (site, visitor), numbered in
        // (visitor, time) order.
        let mut by_visitor: Vec<u32> = (0..records.len() as u32).collect();
        by_visitor.sort_by_key(|&i| (records[i as usize].visitor, i));
        let mut visit = 0u64;
        let mut previous: Option<(u32, u64)> = None;
        for &i in &by_visitor {
            let r = &mut records[i as usize];
            if let Some((visitor, at)) = previous
                && (visitor != r.visitor || r.timestamp - at > VISIT_GAP_MS)
            {
                visit += 1;
            }
            previous = Some((r.visitor, r.timestamp));
            r.session_id = mix64(id_base.wrapping_add(visit).wrapping_add(1 << 63));
        }

        // Arrival: originals in timestamp order, `duplicates` distinct
        // events re-delivered 1 s to 10 min after their timestamp; at equal
        // arrival times originals come first.
        let mut copies: Vec<(u64, u32)> = Vec::with_capacity(duplicates as usize);
        let (mut needed, total) = (duplicates, records.len() as u64);
        for i in 0..total {
            // Selection sampling (Knuth's algorithm S): exactly `duplicates`
            // distinct events, each equally likely.
            if needed > 0 && rng.below(total - i) < needed {
                needed -= 1;
                let delay = REDELIVERY_MS.0 + rng.below(REDELIVERY_MS.1 - REDELIVERY_MS.0);
                copies.push((records[i as usize].timestamp + delay, i as u32));
            }
        }
        copies.sort_unstable();
        let mut arrival = Vec::with_capacity(records.len() + copies.len());
        let mut next_copy = copies.iter().peekable();
        for (i, r) in records.iter().enumerate() {
            while let Some(&&(at, copy)) = next_copy.peek()
                && at < r.timestamp
            {
                arrival.push(copy);
                next_copy.next();
            }
            arrival.push(i as u32);
        }
        arrival.extend(next_copy.map(|&(_, copy)| copy));

        Self {
            vocabulary,
            visitors,
            records,
            arrival,
        }
    }

    /// The lines in the order they are written, re-deliveries included.
    pub fn lines(&self) -> impl Iterator<Item = Line<'_>> + '_ {
        self.arrival.iter().map(|&i| self.line(i as usize))
    }

    /// The number of lines.
    pub fn len(&self) -> usize {
        self.arrival.len()
    }

    /// Whether the stream has no lines.
    pub fn is_empty(&self) -> bool {
        self.arrival.is_empty()
    }

    fn line(&self, i: usize) -> Line<'_> {
        let r = &self.records[i];
        let v = &self.visitors[r.visitor as usize];
        let (browser, os, device, _) = USER_AGENTS[usize::from(v.user_agent)];
        let v_ = &self.vocabulary;
        Line {
            event_id: r.event_id,
            timestamp: r.timestamp,
            domain: SITES[usize::from(r.site)],
            name: NAMES[usize::from(r.name)],
            pathname: &v_.paths[usize::from(r.site)][usize::from(r.path)],
            referrer_source: &v_.referrers[usize::from(r.referrer)],
            utm_source: UTM_SOURCES[usize::from(r.utm[0])],
            utm_medium: UTM_MEDIUMS[usize::from(r.utm[1])],
            utm_campaign: UTM_CAMPAIGNS[usize::from(r.utm[2])],
            country_code: v_.countries[usize::from(v.country)],
            browser,
            os,
            device,
            screen_width: SCREENS[usize::from(v.screen)],
            visitor_id: v.id,
            session_id: r.session_id,
        }
    }

    /// Writes every line as NDJSON.
    ///
    /// # Errors
    /// As `out`'s.
    pub fn write_ndjson(&self, out: &mut impl Write) -> io::Result<()> {
        for line in self.lines() {
            line.write(out)?;
        }
        Ok(())
    }
}
