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

/// Substrings of automation and headless-browser User-Agents.
const HEADLESS: &[&str] = &[
    "headlesschrome",
    "headless",
    "phantomjs",
    "puppeteer",
    "playwright",
    "selenium",
    "webdriver",
    "slimerjs",
    "htmlunit",
    "cypress",
    "prerender",
    "splash",
    "zombie.js",
    "jsdom",
];

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
    "dalvik",
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

/// Substrings of HTTP client libraries that also appear after a `Mozilla/` prefix.
const HTTP_LIBRARY_ANYWHERE: &[&str] = &[
    "python-requests",
    "python-urllib",
    "go-http-client",
    "okhttp",
    "axios/",
    "node-fetch",
    "windowspowershell",
    "libwww",
    "curl/",
    "wget/",
    "httpclient",
    "guzzle",
];

/// Whole words (runs of `[a-z0-9]`) that name crawlers, link-preview fetchers,
/// monitors, SEO tools and scanners that do not end in `bot`.
const CRAWLER_WORDS: &[&str] = &[
    "facebookexternalhit",
    "facebookcatalog",
    "mediapartners",
    "feedfetcher",
    "googleother",
    "inspectiontool",
    "lighthouse",
    "gtmetrix",
    "pingdom",
    "statuscake",
    "site24x7",
    "newrelicpinger",
    "zabbix",
    "nagios",
    "bingpreview",
    "skypeuripreview",
    "whatsapp",
    "vkshare",
    "iframely",
    "embedly",
    "nuzzel",
    "outbrain",
    "chatgpt",
    "perplexity",
    "anthropic",
    "claude",
    "cohere",
    "daumoa",
    "qwantify",
    "barkrowler",
    "sitebulb",
    "validator",
    "linkcheck",
    "linkchecker",
    "zgrab",
    "masscan",
    "nmap",
    "nikto",
    "sqlmap",
    "nuclei",
    "censysinspect",
    "expanse",
    "researchscan",
    "archiver",
    "wayback",
    "feedly",
    "feedburner",
    "rss",
    "preview",
    "monitor",
    "monitoring",
    "uptime",
    "adsbot",
    "apis",
];

/// Words that end in `bot` but name phones, not robots.
const NOT_BOT_WORDS: &[&str] = &["cubot"];

/// Runs the bot rules on a trimmed, lower-cased User-Agent of at most `MAX_LEN` bytes.
pub(super) fn detect(lower: &str) -> Option<BotReason> {
    if HEADLESS.iter().any(|t| lower.contains(t)) {
        return Some(BotReason::Headless);
    }
    if HTTP_LIBRARY_PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return Some(BotReason::HttpLibrary);
    }
    // A contact URL: crawlers sign their requests, browsers never do.
    if lower.contains("http://") || lower.contains("https://") || lower.contains("+http") {
        return Some(BotReason::Crawler);
    }
    // After the crawler words: `LinkedInBot/1.0 (...; Apache-HttpClient ...)` is a crawler.
    if lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(crawler_word)
    {
        return Some(BotReason::Crawler);
    }
    if HTTP_LIBRARY_ANYWHERE.iter().any(|t| lower.contains(t)) {
        return Some(BotReason::HttpLibrary);
    }
    None
}

fn crawler_word(word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    if (word.ends_with("bot") || word.ends_with("bots")) && !NOT_BOT_WORDS.contains(&word) {
        return true;
    }
    if word.contains("crawl")
        || word.contains("spider")
        || word.contains("slurp")
        || word.contains("scrape")
        || word.contains("robot")
    {
        return true;
    }
    CRAWLER_WORDS.contains(&word)
}
