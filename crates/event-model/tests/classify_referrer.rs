//! Referrer -> source, tagged sources, and the channel grouping, as tables.

use glinto_event_model::Channel;
use glinto_event_model::referrer::{
    self, ChannelInput, ClickId, ReferrerSource, SourceCategory, canonical_source, channel,
    classify_referrer,
};

const SITE: &str = "example.com";

fn check(referrer: &str, expected: ReferrerSource) {
    assert_eq!(
        classify_referrer(referrer, SITE),
        expected,
        "referrer {referrer:?}"
    );
}

fn ext(source: &str, category: SourceCategory) -> ReferrerSource {
    ReferrerSource::External {
        source: source.to_owned(),
        category,
    }
}

use SourceCategory::{AiAssistant, Email, Search, Shopping, Social, Unknown, Video};

#[test]
fn known_sources_are_named() {
    check("https://www.google.com/", ext("Google", Search));
    check("https://google.com", ext("Google", Search));
    check("https://www.google.de/search?q=x", ext("Google", Search));
    check("https://www.google.co.uk/", ext("Google", Search));
    check("http://www.bing.com/search?q=glinto", ext("Bing", Search));
    check("https://duckduckgo.com/", ext("DuckDuckGo", Search));
    check("https://www.ecosia.org/", ext("Ecosia", Search));
    check("https://search.brave.com/search?q=x", ext("Brave", Search));
    check("https://yandex.ru/", ext("Yandex", Search));
    check("https://www.baidu.com/link?url=x", ext("Baidu", Search));
    check("https://search.yahoo.com/", ext("Yahoo!", Search));
    check("https://t.co/abc123", ext("Twitter", Social));
    check("https://x.com/someone/status/1", ext("Twitter", Social));
    check("https://l.facebook.com/l.php?u=x", ext("Facebook", Social));
    check("https://m.facebook.com/", ext("Facebook", Social));
    check("https://www.facebook.com/", ext("Facebook", Social));
    check("https://www.reddit.com/r/rust/", ext("Reddit", Social));
    check("https://old.reddit.com/", ext("Reddit", Social));
    check("https://www.linkedin.com/feed/", ext("LinkedIn", Social));
    check("https://lnkd.in/abc", ext("LinkedIn", Social));
    check("https://www.youtube.com/watch?v=x", ext("Youtube", Video));
    check("https://youtu.be/x", ext("Youtube", Video));
    check("https://l.instagram.com/?u=x", ext("Instagram", Social));
    check("https://github.com/glinto/glinto", ext("GitHub", Social));
    check(
        "https://news.ycombinator.com/item?id=1",
        ext("Hacker News", Social),
    );
    check("https://mail.google.com/mail/u/0/", ext("Gmail", Email));
    check("https://www.amazon.de/dp/1", ext("Amazon", Shopping));
    check("https://chatgpt.com/", ext("ChatGPT", AiAssistant));
    check(
        "https://en.wikipedia.org/wiki/Web_analytics",
        ext("Wikipedia", Unknown),
    );
    check(
        "https://en.m.wikipedia.org/wiki/Web_analytics",
        ext("Wikipedia", Unknown),
    );
}

#[test]
fn country_domain_families_are_one_source() {
    check("https://www.google.com.au/", ext("Google", Search));
    check("https://google.fr/", ext("Google", Search));
    check("https://maps.google.de/", ext("Google", Search));
    check("https://www.amazon.co.jp/gp/1", ext("Amazon", Shopping));
    check("https://www.ebay.de/itm/1", ext("eBay", Shopping));
    check("https://yandex.kz/", ext("Yandex", Search));
    check("https://news.google.com/", ext("Google News", Unknown));
    // A longer label that merely starts with a brand is someone else.
    check(
        "https://googleusercontent.com/x",
        ext("googleusercontent.com", Unknown),
    );
    check("https://amazonaws.com/", ext("amazonaws.com", Unknown));
}

#[test]
fn hosts_are_normalized_before_lookup() {
    check("HTTPS://WWW.GOOGLE.COM/", ext("Google", Search));
    check(
        "https://user:pw@www.google.com:443/x",
        ext("Google", Search),
    );
    check("https://www.google.com./", ext("Google", Search));
    check("  https://t.co/x  ", ext("Twitter", Social));
    check("https://de.search.yahoo.com/", ext("Yahoo!", Search));
}

#[test]
fn unknown_hosts_are_the_source_without_www() {
    check(
        "https://www.markosaric.com/some-post/",
        ext("markosaric.com", Unknown),
    );
    check(
        "https://blog.rust-lang.org/",
        ext("blog.rust-lang.org", Unknown),
    );
    check("http://[2001:db8::1]:8080/", ext("2001:db8::1", Unknown));
    check("android-app://com.google.android.gm", ext("Gmail", Email));
    check(
        "android-app://com.example.reader",
        ext("android-app://com.example.reader", Unknown),
    );
}

#[test]
fn own_host_is_internal() {
    check("https://example.com/pricing", ReferrerSource::Internal);
    check("https://www.example.com/", ReferrerSource::Internal);
    // Plausible (source.ex `has_referral?`): only the page's own host is
    // internal; another subdomain is a referral.
    check(
        "https://blog.example.com/post",
        ext("blog.example.com", Unknown),
    );
    check("https://EXAMPLE.com/", ReferrerSource::Internal);
    // Only whole labels: notexample.com is someone else.
    check("https://notexample.com/", ext("notexample.com", Unknown));
    assert_eq!(
        classify_referrer("https://example.com/", "www.example.com"),
        ReferrerSource::Internal
    );
    assert_eq!(
        classify_referrer("https://shop.example.com/", "shop.example.com"),
        ReferrerSource::Internal
    );
}

#[test]
fn no_referrer() {
    check("", ReferrerSource::None);
    check("   ", ReferrerSource::None);
    check("not a url", ReferrerSource::None);
    check("ftp://files.example.org/", ReferrerSource::None);
    check("data:text/html,hi", ReferrerSource::None);
    check("https:///path-only", ReferrerSource::None);
    check("http://localhost:3000/", ReferrerSource::None);
    check("https://exa mple.org/", ReferrerSource::None);
    check(
        &format!("https://{}.com/", "a".repeat(300)),
        ReferrerSource::None,
    );
}

fn check_tagged(tagged: &str, expected: &str) {
    assert_eq!(
        canonical_source(tagged),
        expected,
        "tagged source {tagged:?}"
    );
}

#[test]
fn tagged_sources_merge_with_known_names() {
    check_tagged("google", "Google");
    check_tagged("GOOGLE", "Google");
    check_tagged("Google", "Google");
    check_tagged("ig", "Instagram");
    check_tagged("fb", "Facebook");
    check_tagged("adwords", "Google");
    check_tagged("t.co", "Twitter");
    check_tagged("www.reddit.com", "Reddit");
    check_tagged("duckduckgo", "DuckDuckGo");
    check_tagged("hacker news", "Hacker News");
    check_tagged("newsletter", "newsletter");
    check_tagged(" spring-sale ", "spring-sale");
    check_tagged("", "");
}

#[test]
fn paid_source_shorthands() {
    for (utm_source, paid) in [
        ("adwords", true),
        ("google_ads", true),
        ("fb-ads", true),
        ("FB-ADS", true),
        ("google", false),
        ("ipad", false),
        ("", false),
    ] {
        assert_eq!(referrer::is_paid_source(utm_source), paid, "{utm_source:?}");
    }
}

#[test]
fn source_categories() {
    for (source, category) in [
        ("Google", Search),
        ("google", Search),
        ("Bing", Search),
        ("Twitter", Social),
        ("Youtube", Video),
        ("YouTube", Video),
        ("Amazon", Shopping),
        ("Gmail", Email),
        ("ChatGPT", AiAssistant),
        ("Hacker News", Social),
        ("example.com", Unknown),
        ("", Unknown),
    ] {
        assert_eq!(referrer::source_category(source), category, "{source:?}");
    }
}

/// (source, utm_medium, utm_source, utm_campaign, click id) -> channel.
fn check_channel(
    (source, utm_medium, utm_source, utm_campaign, click_id): (
        &str,
        &str,
        &str,
        &str,
        Option<ClickId>,
    ),
    expected: Channel,
) {
    let input = ChannelInput {
        source,
        utm_medium,
        utm_source,
        utm_campaign,
        click_id,
    };
    assert_eq!(channel(&input), expected, "{input:?}");
}

#[test]
fn channel_grouping() {
    use Channel::*;
    let g = Some(ClickId::Google);
    let ms = Some(ClickId::Microsoft);
    let fb = Some(ClickId::Facebook);
    check_channel(("", "", "", "", None), Direct);
    check_channel(("Google", "", "", "", None), OrganicSearch);
    check_channel(("DuckDuckGo", "", "", "", None), OrganicSearch);
    check_channel(("Google", "cpc", "google", "", None), PaidSearch);
    check_channel(("Google", "", "", "", g), PaidSearch);
    check_channel(("Bing", "", "", "", ms), PaidSearch);
    check_channel(("Google", "", "adwords", "", None), PaidSearch);
    check_channel(("Twitter", "", "", "", None), OrganicSocial);
    check_channel(("Facebook", "", "", "", fb), OrganicSocial);
    check_channel(
        ("Facebook", "paid_social", "facebook", "", None),
        PaidSocial,
    );
    check_channel(("Facebook", "", "fb-ads", "", None), PaidSocial);
    check_channel(("Youtube", "", "", "", None), OrganicVideo);
    check_channel(("Youtube", "cpv", "youtube", "", None), PaidVideo);
    check_channel(("", "video", "", "", None), OrganicVideo);
    check_channel(("Amazon", "", "", "", None), OrganicShopping);
    check_channel(("Amazon", "ppc", "", "", None), PaidShopping);
    check_channel(
        ("newsletter-tool", "", "", "summer-shop", None),
        OrganicShopping,
    );
    check_channel(("x", "", "", "eshop-promo", None), OrganicShopping);
    check_channel(("x", "", "", "workshop", None), Referral);
    check_channel(("newsletter", "email", "newsletter", "", None), Email);
    check_channel(("Gmail", "", "", "", None), Email);
    check_channel(("partner", "affiliate", "partner", "", None), Affiliates);
    check_channel(("podcast", "audio", "podcast", "", None), Audio);
    check_channel(("sms", "", "sms", "", None), Sms);
    check_channel(("app", "push", "app", "", None), MobilePushNotifications);
    check_channel(("firebase", "", "", "", None), MobilePushNotifications);
    check_channel(("x", "display", "x", "", None), Display);
    check_channel(("x", "banner", "x", "", None), Display);
    check_channel(("x", "paid", "x", "", None), PaidOther);
    check_channel(
        ("Google", "cpc", "google", "cross-network-q3", None),
        CrossNetwork,
    );
    check_channel(("markosaric.com", "", "", "", None), Referral);
    check_channel(("", "referral", "", "", None), Referral);
    check_channel(("ChatGPT", "", "", "", None), AiAssistants);
    check_channel(("GOOGLE", "CPC", "Google", "", None), PaidSearch);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Any referrer, site and tags: no panic.
    #[test]
    fn arbitrary_input_never_panics(
        referrer in "\\PC{0,120}",
        site in "[a-z.]{0,20}",
        tag in "\\PC{0,40}",
    ) {
        let _ = classify_referrer(&referrer, &site);
        let _ = classify_referrer(&format!("https://{referrer}"), &site);
        let _ = canonical_source(&tag);
        let _ = channel(&ChannelInput {
            source: &tag,
            utm_medium: &tag,
            utm_source: &tag,
            utm_campaign: &tag,
            click_id: None,
        });
    }
}
