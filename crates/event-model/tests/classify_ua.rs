//! User-Agent classification: real User-Agent strings, one line per case.

use glinto_event_model::Device;
use glinto_event_model::ua::{self, BotReason, SharedUaCache, UaCache};

/// Expected human classification: (browser, browser major, os, os version, device).
type Human = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Device,
);

fn check(user_agent: &str, expected: Result<Human, BotReason>) {
    let got = ua::classify(user_agent)
        .map(|u| (u.browser, u.browser_version, u.os, u.os_version, u.device));
    let expected = expected
        .map(|(b, bv, o, ov, d)| (b.to_owned(), bv.to_owned(), o.to_owned(), ov.to_owned(), d));
    assert_eq!(got, expected, "user agent: {user_agent:?}");
    // The cache gives the same answer, the first time and the second.
    let mut cache = UaCache::new(4);
    let first = cache.classify(user_agent).map(|u| u.browser);
    let second = cache.classify(user_agent).map(|u| u.browser);
    assert_eq!(first, second);
    assert_eq!(first, expected.map(|e| e.0));
}

use Device::{Desktop, Mobile, Tablet};

#[test]
fn desktop_browsers() {
    check(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        Ok(("Chrome", "120", "Windows", "10", Desktop)),
    );
    check(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
        Ok(("Microsoft Edge", "120", "Windows", "10", Desktop)),
    );
    check(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
        Ok(("Firefox", "121", "Windows", "10", Desktop)),
    );
    check(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
        Ok(("Opera", "105", "Windows", "10", Desktop)),
    );
    check(
        "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
        Ok(("Internet Explorer", "11", "Windows", "7", Desktop)),
    );
    check(
        "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0)",
        Ok(("Internet Explorer", "8", "Windows", "XP", Desktop)),
    );
    check(
        "Mozilla/5.0 (Windows NT 6.3; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36",
        Ok(("Chrome", "109", "Windows", "8.1", Desktop)),
    );
    check(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
        Ok(("Safari", "17", "Mac", "10.15", Desktop)),
    );
    check(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        Ok(("Chrome", "120", "Mac", "10.15", Desktop)),
    );
    check(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0",
        Ok(("Firefox", "121", "Mac", "14.2", Desktop)),
    );
    check(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Vivaldi/6.5.3206.48",
        Ok(("Vivaldi", "6", "Mac", "10.15", Desktop)),
    );
    check(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        Ok(("Chrome", "120", "GNU/Linux", "", Desktop)),
    );
    check(
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        Ok(("Firefox", "120", "GNU/Linux", "", Desktop)),
    );
    check(
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        Ok(("Chrome", "120", "Chrome OS", "14541.0", Desktop)),
    );
    check(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 YaBrowser/23.11.0.0 Safari/537.36",
        Ok(("Yandex Browser", "23", "Windows", "10", Desktop)),
    );
    check(
        "Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.18",
        Ok(("Opera", "12", "Windows", "7", Desktop)),
    );
}

#[test]
fn phones() {
    check(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
        Ok(("Safari", "17", "iOS", "17.1", Mobile)),
    );
    check(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
        Ok(("Chrome", "120", "iOS", "17.2", Mobile)),
    );
    check(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/120.0 Mobile/15E148 Safari/605.1.15",
        Ok(("Firefox", "120", "iOS", "16.6", Mobile)),
    );
    check(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 EdgiOS/120.0.2210.84 Mobile/15E148 Safari/605.1.15",
        Ok(("Microsoft Edge", "120", "iOS", "17.1", Mobile)),
    );
    check(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
        Ok(("Mobile App", "", "iOS", "17.1", Mobile)),
    );
    check(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/21B91 [FBAN/FBIOS;FBAV/442.0.0.43.113;FBBV/545603187;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.1.1;FBSS/3;FBCR/;FBID/phone;FBLC/en_US;FBOP/80]",
        Ok(("Facebook", "442", "iOS", "17.1", Mobile)),
    );
    check(
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
        Ok(("Chrome", "120", "Android", "10", Mobile)),
    );
    check(
        "Mozilla/5.0 (Linux; Android 13; SM-S908B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        Ok(("Samsung Browser", "23", "Android", "13", Mobile)),
    );
    check(
        "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
        Ok(("Firefox", "121", "Android", "14", Mobile)),
    );
    check(
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 EdgA/120.0.0.0",
        Ok(("Microsoft Edge", "120", "Android", "10", Mobile)),
    );
    check(
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 OPR/79.0.0.0",
        Ok(("Opera", "79", "Android", "10", Mobile)),
    );
    check(
        "Mozilla/5.0 (Linux; Android 8.1.0; CPH1803) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.45 Mobile Safari/537.36",
        Ok(("Chrome", "96", "Android", "8.1", Mobile)),
    );
    check(
        "Mozilla/5.0 (Linux; Android 12; Pixel 6 Build/SD1A.210817.023; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/94.0.4606.71 Mobile Safari/537.36",
        Ok(("Mobile App", "94", "Android", "12", Mobile)),
    );
    check(
        "Mozilla/5.0 (Linux; U; Android 12; en-US; V2111 Build/SP1A.210812.003) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.58 UCBrowser/13.4.0.1306 Mobile Safari/537.36",
        Ok(("UC Browser", "13", "Android", "12", Mobile)),
    );
    check(
        "Mozilla/5.0 (Linux; Android 11; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/110.0.0.0 Mobile Safari/537.36",
        Ok(("Chrome", "110", "Android", "11", Mobile)),
    );
    check(
        "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.15063",
        Ok(("Microsoft Edge", "15", "Windows Phone", "10.0", Mobile)),
    );
    check(
        "Mozilla/5.0 (Mobile; LYF/F300B/LYF-F300B-001-01-15-130718-i;Android; rv:48.0) Gecko/48.0 Firefox/48.0 KAIOS/2.5",
        Ok(("Firefox", "48", "KaiOS", "", Mobile)),
    );
}

#[test]
fn tablets() {
    check(
        "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        Ok(("Safari", "17", "iPadOS", "17.1", Tablet)),
    );
    check(
        "Mozilla/5.0 (iPad; CPU OS 16_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/119.0.6045.169 Mobile/15E148 Safari/604.1",
        Ok(("Chrome", "119", "iPadOS", "16.7", Tablet)),
    );
    check(
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        Ok(("Chrome", "120", "Android", "13", Tablet)),
    );
    check(
        "Mozilla/5.0 (Linux; Android 12; SM-T970) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/22.0 Chrome/111.0.5563.116 Safari/537.36",
        Ok(("Samsung Browser", "22", "Android", "12", Tablet)),
    );
    check(
        "Mozilla/5.0 (Android 13; Tablet; rv:120.0) Gecko/120.0 Firefox/120.0",
        Ok(("Firefox", "120", "Android", "13", Tablet)),
    );
    check(
        "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/118.4.1 like Chrome/118.0.5993.111 Safari/537.36",
        Ok(("Mobile Silk", "118", "Fire OS", "9", Tablet)),
    );
}

#[test]
fn crawlers() {
    for ua in [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/120.0.6099.129 Safari/537.36",
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.129 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
        "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1)",
        "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Chrome-Lighthouse",
        "Mozilla/5.0 (compatible; UptimeRobot/2.0)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "WhatsApp/2.23.20.0 A",
        "ia_archiver (+http://www.alexa.com/site/help/webmasterhelp; mailto:webmaster@alexa.com)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.7204.168 Safari/537.36 DatadogSynthetics",
        "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.11 (KHTML, like Gecko) Chrome/23.0.1271.64 Safari/537.11 GotSiteMonitor.com",
        "Mozilla/5.0 (Windows NT 5.1) brokenlinkcheck.com/1.2",
        "Mozilla/5.0 (compatible) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/47.0.2526.73 Safari/537.36 collection@infegy.com",
        "Mozilla/5.0 (X11; Linux i586; rv:31.0) Gecko/20100101 Firefox/31.0 PrintFriendly.com",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 CookieHubScan/3.0",
        "Mozilla/4.5 (compatible; HTTrack 3.0x; Windows 98)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.45 Safari/537.36 PTST/211202.211915",
        "Mozilla/5.0 (compatible; 360Spider)",
    ] {
        check(ua, Err(BotReason::Crawler));
    }
}

#[test]
fn headless_browsers() {
    for ua in [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.28 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/119.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Puppeteer",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Playwright/1.40",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Prerender (+https://github.com/prerender/prerender)",
    ] {
        check(ua, Err(BotReason::Headless));
    }
}

#[test]
fn http_libraries() {
    for ua in [
        "curl/8.4.0",
        "Wget/1.21.4",
        "python-requests/2.31.0",
        "Python-urllib/3.11",
        "python-httpx/0.25.2",
        "aiohttp/3.9.1 Python/3.11",
        "Go-http-client/2.0",
        "Java/17.0.9",
        "okhttp/4.12.0",
        "Apache-HttpClient/4.5.14 (Java/17.0.9)",
        "axios/1.6.2",
        "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
        "PostmanRuntime/7.36.0",
        "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.22621.2506",
        "GuzzleHttp/7.8.1 curl/8.4.0 PHP/8.2.13",
        "HTTPie/3.2.2",
        "libwww-perl/6.72",
    ] {
        check(ua, Err(BotReason::HttpLibrary));
    }
}

#[test]
fn implausible_user_agents() {
    check("", Err(BotReason::Empty));
    check("   \t ", Err(BotReason::Empty));
    check("Mozilla/5.0", Err(BotReason::TooShort));
    check("-", Err(BotReason::TooShort));
    check(
        &format!("Mozilla/5.0 (Windows NT 10.0) {}", "A".repeat(1100)),
        Err(BotReason::TooLong),
    );
    // The shape of a crawler: `(compatible; ...)` with nothing recognizable.
    check("Mozilla/5.0 (compatible)", Err(BotReason::Crawler));
    check("this is not a browser at all", Err(BotReason::Implausible));
}

/// Real visitors with odd User-Agents are kept (device-detector's fixtures
/// have them; Plausible records them): a browser or an OS is enough.
#[test]
fn odd_but_real_user_agents_are_kept() {
    for (user_agent, browser, os, device) in [
        (
            "Dalvik/2.1.0 (Linux; U; Android 13; SM-A536B Build/TP1A.220624.014)",
            "Android Browser",
            "Android",
            Device::Mobile,
        ),
        (
            "Mozilla/5.0 Linux; Android 9; SM-A600U AppleWebKit/537.36 KHTML, like Gecko Chrome/75.0.3770.101 Mobile Safari/537.36",
            "Chrome",
            "Android",
            Device::Mobile,
        ),
        (
            "Mozilla/5.0 Gecko/20100101 Firefox/121.0",
            "Firefox",
            "",
            Device::Unknown,
        ),
        (
            "SomeApp/1.0 (iPhone; iOS 17.1; Scale/3.00)",
            "",
            "iOS",
            Device::Mobile,
        ),
        (
            "Mozilla/5.0 (Linux; Android 11; MiPad 5 Build/RKQ1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "Chrome",
            "Android",
            Device::Tablet,
        ),
        (
            "Mozilla/5.0 (Linux; Android 12; Robot X1 Build/S1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
            "Chrome",
            "Android",
            Device::Mobile,
        ),
    ] {
        let got = ua::classify(user_agent);
        assert_eq!(
            got.as_ref()
                .map(|u| (u.browser.as_str(), u.os.as_str(), u.device)),
            Ok((browser, os, device)),
            "{user_agent}"
        );
    }
}

/// Bots device-detector lists that dress as browsers (issue 15).
#[test]
fn agents_inside_the_comment_are_bots() {
    for user_agent in [
        "Mozilla/5.0 (X11; Linux x86_64)AppleWebKit/537.36 (KHTML, like Gecko; Google-Ads-Qualify)Chrome/85.0.4183.140 Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko; Google Search Console) Chrome/41.0.2272.118 Safari/537.36",
        "Mozilla/5.0 (iPhone; U; CPU iPhone OS 4_0_1 like Mac OS X; en-us) AppleWebKit/537.4 (KHTML, like Gecko; Google Page Speed Insights) Version/4.0 Mobile Safari/532.9",
        "Mozilla/5.0 (Linux; Android 8.0; Pixel 2 Build/OPD3.170816.012; DuplexWeb-Google/1.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/74.0.3729.131 Mobile Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 (Cloudflare-Observatory)",
        "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ChatGPT-User/1.0; +https://openai.com/bot)",
    ] {
        assert!(ua::classify(user_agent).is_err(), "{user_agent}");
    }
}

#[test]
fn surrounding_whitespace_is_ignored() {
    check(
        "  Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n",
        Ok(("Firefox", "121", "Windows", "10", Desktop)),
    );
}

#[test]
fn bot_reasons_have_stable_labels() {
    let labels: Vec<_> = BotReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        labels,
        [
            "empty",
            "too_short",
            "too_long",
            "implausible",
            "crawler",
            "headless",
            "http_library"
        ]
    );
    assert_eq!(
        BotReason::TooLong.to_string(),
        format!("user_agent is longer than {} bytes", ua::MAX_LEN)
    );
}

#[test]
fn cache_is_bounded_and_agrees_with_classify() {
    let mut cache = UaCache::new(8);
    for i in 0..100 {
        let ua = format!(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{i}.0) Gecko/20100101 Firefox/{i}.0"
        );
        assert_eq!(cache.classify(&ua), ua::classify(&ua));
        assert!(cache.len() <= 8, "{} entries", cache.len());
    }
    // A User-Agent that keeps coming back stays cached while others churn.
    let hot = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    for i in 0..50 {
        cache.classify(hot).ok();
        cache.classify(&format!("curl/{i}.0.0 extra padding")).ok();
    }
    let (hits, misses) = cache.hits_misses();
    assert_eq!((hits, misses), (49, 151));
    // Over-long headers are answered but never stored: keys stay bounded.
    let huge = format!("Mozilla/5.0 (Windows NT 10.0) {}", "A".repeat(5_000));
    let len = cache.len();
    assert_eq!(cache.classify(&huge), Err(BotReason::TooLong));
    assert_eq!(cache.len(), len);
}

#[test]
fn shared_cache_works_through_a_shared_reference() {
    let cache = SharedUaCache::new(16);
    let shared = &cache;
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    assert_eq!(shared.classify(ua), ua::classify(ua));
    assert_eq!(shared.classify(ua), ua::classify(ua));
    assert_eq!(shared.classify("curl/8.4.0"), Err(BotReason::HttpLibrary));
    assert_eq!(shared.hits_misses(), (1, 2));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Any string: no panic, bounded versions, and the cache agrees.
    #[test]
    fn any_string_classifies_like_the_cache(text in "\\PC{0,300}") {
        let direct = ua::classify(&text);
        let mut cache = UaCache::new(2);
        proptest::prop_assert_eq!(cache.classify(&text), direct.clone());
        proptest::prop_assert_eq!(cache.classify(&text), direct.clone());
        if let Ok(agent) = direct {
            proptest::prop_assert!(agent.browser_version.len() <= 8);
            proptest::prop_assert!(agent.os_version.len() <= 17);
        }
    }

    /// Browser-shaped strings with arbitrary tokens inside never panic either.
    #[test]
    fn browser_shaped_strings_never_panic(platform in "[ -~]{0,60}", product in "[ -~]{0,60}") {
        let _ = ua::classify(&format!("Mozilla/5.0 ({platform}) {product}"));
    }
}
