//! Bot detection: which User-Agents are not a human's browser, and why.
//!
//! The rules run on the ASCII-lower-cased User-Agent, most specific first, so
//! that the reason is the most useful one (`HeadlessChrome` is reported as
//! [`BotReason::Headless`] although it would also fail later rules).
//!
//! The word lists follow the public bot lists (`isbot`, `crawler-user-agents`)
//! in spirit but match words instead of running ~1,500 regular expressions:
//! a regex engine alone would add more than a megabyte to the Worker (see
//! `docs/benchmarks.md`, section `event-model-classify`).

use super::BotReason;

/// Prefixes of HTTP client libraries and command-line tools.
const HTTP_LIBRARY_PREFIXES: &[&str] = &[
    "curl",
    "wget",
    "python",
    "aiohttp",
    "httpx",
    "go-http-client",
    "go ",
    "java/",
    "java ",
    "okhttp",
    "apache-httpclient",
    "jakarta",
    "axios",
    "node-fetch",
    "node",
    "undici",
    "got ",
    "got/",
    "postmanruntime",
    "insomnia",
    "httpie",
    "restsharp",
    "dart",
    "reqwest",
    "rust",
    "hyper",
    "guzzlehttp",
    "php",
    "ruby",
    "faraday",
    "libwww-perl",
    "lwp::",
    "perl",
    "winhttp",
    "cfnetwork",
    "http.rb",
    "httpclient",
    "http_request",
    "pycurl",
    "urllib",
    "libcurl",
    "powershell",
    "microsoft-cryptoapi",
    "microsoft office",
    "mechanize",
    "scrapy",
    "colly",
    "deno",
    "bun/",
    "k6/",
    "artillery",
    "apachebench",
    "jmeter",
    "locust",
];

/// Whole words (runs of `[a-z0-9]` in the lower-cased User-Agent) that mark a
/// bot wherever they appear. Words ending in `bot`/`bots` and words containing
/// `crawl`, `spider`, `slurp`, `scrap`, `robot`, `check`, `scan`, `monitor`,
/// `inspect`, `survey`, `synthetic` or `pingdom` are crawlers without being
/// listed here.
fn listed_word(word: &str) -> Option<BotReason> {
    Some(match word {
        "cypress" | "headless" | "headlesschrome" | "htmlunit" | "jsdom" | "phantomjs"
        | "playwright" | "prerender" | "puppeteer" | "selenium" | "slimerjs" | "splash"
        | "webdriver" | "zombie" => BotReason::Headless,
        "axios" | "curl" | "guzzlehttp" | "httpclient" | "libwww" | "okhttp" | "python"
        | "urllib" | "wget" | "windowspowershell" => BotReason::HttpLibrary,
        "adsbot"
        | "anthropic"
        | "appinsights"
        | "dareboost"
        | "datanyze"
        | "favicon"
        | "hardenize"
        | "hotjar"
        | "httrack"
        | "openvas"
        | "ptst"
        | "securityheaders"
        | "silktide"
        | "watchtowr"
        | "apis"
        | "archiver"
        | "barkrowler"
        | "bingpreview"
        | "censysinspect"
        | "chatgpt"
        | "claude"
        | "cohere"
        | "daumoa"
        | "embedly"
        | "expanse"
        | "facebookcatalog"
        | "facebookexternalhit"
        | "feedburner"
        | "feedfetcher"
        | "feedly"
        | "googleother"
        | "gtmetrix"
        | "iframely"
        | "inspectiontool"
        | "lighthouse"
        | "linkcheck"
        | "linkchecker"
        | "masscan"
        | "mediapartners"
        | "monitor"
        | "monitoring"
        | "nagios"
        | "newrelicpinger"
        | "nikto"
        | "nmap"
        | "nuclei"
        | "nuzzel"
        | "outbrain"
        | "perplexity"
        | "pingdom"
        | "preview"
        | "qwantify"
        | "researchscan"
        | "rss"
        | "site24x7"
        | "sitebulb"
        | "skypeuripreview"
        | "sqlmap"
        | "statuscake"
        | "uptime"
        | "validator"
        | "vkshare"
        | "wayback"
        | "whatsapp"
        | "zabbix"
        | "zgrab"
        | "catchpoint"
        | "sparkler"
        | "nutch"
        | "transcoder"
        | "whatcms"
        | "functionize"
        | "cybaaagent"
        | "karnoprospectingstudio"
        | "yunjiankong"
        | "iplabel"
        | "duplexweb"
        | "observatory"
        | "measurement"
        | "googleadsenseinfeed"
        | "amzn" => BotReason::Crawler,
        _ => return None,
    })
}

/// Words that end in `bot` but name phones, not robots.
const NOT_BOT_WORDS: &[&str] = &["cubot"];

/// Runs the bot rules on a trimmed, lower-cased User-Agent of at most
/// `MAX_LEN` bytes: one pass over its words, a few prefix checks.
pub(super) fn detect(lower: &str) -> Option<BotReason> {
    let browser_like = lower.starts_with("mozilla/");
    if !browser_like && HTTP_LIBRARY_PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return Some(BotReason::HttpLibrary);
    }
    // Headless beats crawler beats library: `LinkedInBot/1.0 (...;
    // Apache-HttpClient ...)` is a crawler, not a library.
    let mut found = None;
    // An Android platform comment names the phone model (`Robot X1`,
    // `Spider 5`): its words are not bot names. Bots that dress as Android
    // are still caught by their other words and by the checks below.
    let scanned = match (lower.find("(linux; android"), lower.find(')')) {
        (Some(start), Some(end)) if start < end => {
            let (head, rest) = lower.split_at(start);
            let tail = rest.get(end - start..).unwrap_or("");
            std::borrow::Cow::Owned(format!("{head} {tail}"))
        }
        _ => std::borrow::Cow::Borrowed(lower),
    };
    for word in scanned.split(|c: char| !c.is_ascii_alphanumeric()) {
        match word_reason(word) {
            Some(BotReason::Headless) => return Some(BotReason::Headless),
            Some(reason) if rank(Some(reason)) > rank(found) => found = Some(reason),
            _ => {}
        }
    }
    // A contact URL, e-mail address or `.com` name: crawlers sign their
    // requests, browsers never do.
    let signed = lower.match_indices("http").any(|(i, _)| {
        let after = lower.get(i + 4..).unwrap_or_default();
        after.starts_with("://")
            || after.starts_with("s://")
            || lower.get(..i).is_some_and(|before| before.ends_with('+'))
    }) || contact_address(lower);
    // Google's agents name themselves inside the comment or after it
    // (`Google-Ads-Qualify`, `Google-Sites-Thumbnails`, `DuplexWeb-Google`),
    // and crawlers dressed as Chrome add their name after `like Gecko;`
    // (`(KHTML, like Gecko; Google Search Console)`): no browser does either.
    let agent = lower.contains("google-")
        || lower.contains("-google")
        || lower.contains("google page speed")
        || lower
            .split_once("like gecko;")
            .is_some_and(|(_, rest)| rest.split(')').next().is_some_and(|c| !c.trim().is_empty()));
    if (signed || agent) && rank(found) < rank(Some(BotReason::Crawler)) {
        found = Some(BotReason::Crawler);
    }
    found
}

/// `@` followed by a letter (`spider-feedback@bytedance.com`), or `.com` that
/// is not followed by a letter or digit (`PrintFriendly.com`, `(scope3.com)`).
fn contact_address(lower: &str) -> bool {
    let bytes = lower.as_bytes();
    lower
        .match_indices('@')
        .any(|(i, _)| bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase))
        || lower
            .match_indices(".com")
            .any(|(i, _)| !bytes.get(i + 4).is_some_and(u8::is_ascii_alphanumeric))
}

fn rank(reason: Option<BotReason>) -> u8 {
    match reason {
        Some(BotReason::Headless) => 3,
        Some(BotReason::Crawler) => 2,
        Some(_) => 1,
        None => 0,
    }
}

fn word_reason(word: &str) -> Option<BotReason> {
    // Version numbers and two-letter words are never bot names.
    if word.len() < 3 || word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(reason) = listed_word(word) {
        return Some(reason);
    }
    let bytes = word.as_bytes();
    let generic = bytes.windows(5).any(|w| {
        matches!(
            w,
            b"crawl" | b"spide" | b"slurp" | b"scrap" | b"robot" | b"check"
        )
    }) || bytes.windows(4).any(|w| w == b"scan")
        || ["monitor", "inspect", "survey", "synthetic", "pingdom"]
            .iter()
            .any(|t| word.contains(t));
    let bot = (word.ends_with("bot") || word.ends_with("bots")) && !NOT_BOT_WORDS.contains(&word);
    (generic || bot).then_some(BotReason::Crawler)
}
