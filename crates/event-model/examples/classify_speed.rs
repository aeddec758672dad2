//! How long classification takes per event, over a realistic mix of
//! User-Agents and referrers: uncached and cached User-Agent parsing, referrer
//! lookup plus channel grouping, and the two visitor-id hashes.
//!
//! ```text
//! cargo run --release -p glinto-event-model --example classify_speed
//! ```
#![allow(
    clippy::print_stdout,
    reason = "a measuring example prints its figures"
)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use glinto_event_model::referrer::{self, ChannelInput, ReferrerSource};
use glinto_event_model::ua::{self, UaCache};
use glinto_event_model::visitor::{Salt, SaltPeriod, Salts};

/// (User-Agent, weight): roughly the browser/OS shares of a general-audience
/// site, plus the crawlers and tools that reach a tracking endpoint.
const USER_AGENTS: &[(&str, u32)] = &[
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        20,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
        16,
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
        14,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
        8,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        7,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
        6,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
        4,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-S908B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        3,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        3,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
        2,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        2,
    ),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        1,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
        1,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/21B91 [FBAN/FBIOS;FBAV/442.0.0.43.113;FBBV/545603187;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.1.1;FBSS/3;FBCR/;FBID/phone;FBLC/en_US;FBOP/80]",
        1,
    ),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.129 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        2,
    ),
    (
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        1,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.28 Safari/537.36",
        1,
    ),
    ("python-requests/2.31.0", 1),
    ("curl/8.4.0", 1),
];

const REFERRERS: &[&str] = &[
    "",
    "",
    "",
    "https://www.google.com/",
    "https://www.google.de/",
    "https://t.co/abc",
    "https://l.facebook.com/l.php?u=x",
    "https://www.reddit.com/r/rust/",
    "https://news.ycombinator.com/item?id=1",
    "https://example.com/pricing",
    "https://www.markosaric.com/some-post/",
    "https://duckduckgo.com/",
];

fn main() {
    // Interleaved (round-robin over the weights), so that consecutive events
    // usually differ, as they do on a busy endpoint.
    let max_weight = USER_AGENTS.iter().map(|&(_, w)| w).max().unwrap_or(0);
    let mix: Vec<&str> = (0..max_weight)
        .flat_map(|round| {
            USER_AGENTS
                .iter()
                .filter(move |&&(_, w)| w > round)
                .map(|&(ua, _)| ua)
        })
        .collect();
    let rounds = 20_000;
    let ops = mix.len() * rounds;

    let time = |label: &str, f: &mut dyn FnMut()| {
        f(); // warm up
        let start = Instant::now();
        for _ in 0..rounds {
            f();
        }
        let ns = start.elapsed().as_nanos() as f64 / ops as f64;
        println!("{label:<44} {ns:>8.1} ns/event");
    };

    time("ua::classify (uncached)", &mut || {
        for ua in &mix {
            black_box(ua::classify(black_box(ua)).ok());
        }
    });

    let mut cache = UaCache::new(4096);
    time("UaCache::classify (cached, 19 distinct UAs)", &mut || {
        for ua in &mix {
            black_box(cache.classify(black_box(ua)).ok());
        }
    });

    // A cache too small for the mix: every lookup misses and evicts.
    let mut thrash = UaCache::new(2);
    time("UaCache::classify (always missing)", &mut || {
        for ua in &mix {
            black_box(thrash.classify(black_box(ua)).ok());
        }
    });

    let salts = Salts::new(
        SaltPeriod::Daily.epoch_at(1_700_000_000_000),
        Salt::from_bytes([7; 16]),
        Some(Salt::from_bytes([8; 16])),
    );
    let ip = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
    time("Salts::visitor_ids (current + previous)", &mut || {
        for ua in &mix {
            black_box(salts.visitor_ids(black_box(ua), ip, "example.com"));
        }
    });

    let referrers: Vec<&str> = REFERRERS.iter().copied().cycle().take(mix.len()).collect();
    time("classify_referrer + channel", &mut || {
        for r in &referrers {
            let source = match referrer::classify_referrer(black_box(r), "example.com") {
                ReferrerSource::External { source, .. } => source,
                _ => String::new(),
            };
            black_box(referrer::channel(&ChannelInput {
                source: &source,
                ..Default::default()
            }));
        }
    });
    let (hits, misses) = cache.hits_misses();
    println!(
        "cache: {hits} hits, {misses} misses; mix of {} events per round",
        mix.len()
    );
}
