//! The ingestor end to end: request + context in, normalized events out.
//!
//! Browser, OS and source names belong to the classification modules (tested
//! in `classify*.rs`); here the expected values are taken from those modules,
//! so these tests pin what the inbound path itself does.

use core::net::IpAddr;

use glinto_event_model::event_id::{self, IdInput};
use glinto_event_model::referrer::{self, ReferrerSource};
use glinto_event_model::ua::{self, BotReason};
use glinto_event_model::visitor::{Salt, SaltPeriod, Salts};
use glinto_event_model::{
    Channel, Device, Error, Event, IngestConfig, Ingestor, RequestContext, Revenue,
};
use proptest::prelude::*;

const NOW: u64 = 1_704_067_200_000 + 12 * 3_600_000;
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const IP: &str = "203.0.113.7";

fn salts() -> Salts {
    let epoch = SaltPeriod::Daily.epoch_at(NOW);
    Salts::new(
        epoch,
        Salt::from_bytes([7; 16]),
        Some(Salt::from_bytes([6; 16])),
    )
}

fn ingestor() -> Ingestor {
    Ingestor::new(IngestConfig::default(), salts())
}

fn ctx() -> RequestContext<'static> {
    RequestContext::from_headers(
        [
            ("user-agent", CHROME),
            ("CF-Connecting-IP", IP),
            ("CF-IPCountry", "de"),
        ],
        None,
        NOW,
    )
}

/// The event a Chrome visitor from `IP` in Germany produces for
/// `https://example.com/` on site `example.com`; tests change what differs.
fn expected(site: &str, f: impl FnOnce(&mut Event)) -> Event {
    let ua = ua::classify(CHROME).unwrap_or_default();
    let ids = salts().visitor_ids(
        CHROME,
        IP.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
        site,
    );
    let mut e = Event {
        event_id: 0,
        timestamp_ms: NOW,
        site: site.to_owned(),
        name: "pageview".into(),
        hostname: "example.com".into(),
        pathname: "/".into(),
        referrer: String::new(),
        source: String::new(),
        channel: Channel::Direct,
        utm_source: String::new(),
        utm_medium: String::new(),
        utm_campaign: String::new(),
        utm_content: String::new(),
        utm_term: String::new(),
        country_code: "DE".into(),
        browser: ua.browser,
        browser_version: ua.browser_version,
        os: ua.os,
        os_version: ua.os_version,
        device: ua.device,
        screen: String::new(),
        props: Vec::new(),
        revenue: None,
        interactive: true,
        engagement: None,
        visitor_id: ids.current,
        previous_visitor_id: ids.previous,
        session_id: None,
    };
    f(&mut e);
    e
}

/// Ingests `body` and compares the events, ignoring `event_id` (tested on its own).
fn check(body: &str, expected: Result<Vec<Event>, Error>) {
    let actual = ingestor()
        .ingest_body(body.as_bytes(), &ctx())
        .map(|events| {
            events
                .into_iter()
                .map(|e| Event { event_id: 0, ..e })
                .collect::<Vec<_>>()
        });
    assert_eq!(actual, expected, "body: {body}");
}

fn body(url: &str, extra: &str) -> String {
    format!(r#"{{"n":"pageview","u":"{url}","d":"example.com"{extra}}}"#)
}

fn channel(source: &str, medium: &str, utm_source: &str, campaign: &str, click: &str) -> Channel {
    referrer::channel(&referrer::ChannelInput {
        source,
        utm_medium: medium,
        utm_source,
        utm_campaign: campaign,
        click_id: referrer::ClickId::from_param(click),
    })
}

#[test]
fn normalizes_the_page_url() {
    check(
        &body("https://example.com/", ""),
        Ok(vec![expected("example.com", |_| {})]),
    );
    check(
        &body("https://WWW.Example.com", ""),
        Ok(vec![expected("example.com", |_| {})]),
    );
    check(
        &body("https://example.com/caf%C3%A9/?q=1#top", ""),
        Ok(vec![expected("example.com", |e| {
            e.pathname = "/café/".into()
        })]),
    );
    check(
        &body("https://example.com/app#/settings?tab=2", r#","h":1"#),
        Ok(vec![expected("example.com", |e| {
            e.pathname = "/app#/settings?tab=2".into()
        })]),
    );
    check(
        &body("http://blog.example.com:8080/a", ""),
        Ok(vec![expected("example.com", |e| {
            e.hostname = "blog.example.com".into();
            e.pathname = "/a".into();
        })]),
    );
    let invalid = |reason: &str| {
        Err(Error::Invalid {
            field: "url",
            reason: reason.into(),
        })
    };
    check(
        &body("data:text/html,hi", ""),
        invalid("scheme `data` is not allowed"),
    );
    check(
        &body("javascript:alert(1)", ""),
        invalid("scheme `javascript` is not allowed"),
    );
    check(
        &body("/relative", ""),
        invalid("not a URL: relative URL without a base"),
    );
    check(&body("https://", ""), invalid("not a URL: empty host"));
}

#[test]
fn utm_ref_and_referrer_sources() {
    let url = "https://example.com/?utm_source=newsletter&utm_medium=email&utm_campaign=spring&utm_content=hero&utm_term=shoes";
    check(
        &body(url, ""),
        Ok(vec![expected("example.com", |e| {
            e.source = "newsletter".into();
            e.utm_source = "newsletter".into();
            e.utm_medium = "email".into();
            e.utm_campaign = "spring".into();
            e.utm_content = "hero".into();
            e.utm_term = "shoes".into();
            e.channel = channel("newsletter", "email", "newsletter", "spring", "");
        })]),
    );
    check(
        &body("https://example.com/?ref=producthunt&source=ignored", ""),
        Ok(vec![expected("example.com", |e| {
            // Plausible: utm_source = utm_source || source || ref.
            e.source = "ignored".into();
            e.utm_source = "ignored".into();
            e.channel = channel("ignored", "", "ignored", "", "");
        })]),
    );
    check(
        &body("https://example.com/?ref=producthunt", ""),
        Ok(vec![expected("example.com", |e| {
            e.source = "producthunt".into();
            e.utm_source = "producthunt".into();
            e.channel = channel("producthunt", "", "producthunt", "", "");
        })]),
    );
    check(
        &body(
            "https://example.com/?gclid=abc",
            r#","r":"https://www.google.com/""#,
        ),
        Ok(vec![expected("example.com", |e| {
            if let ReferrerSource::External { source, .. } =
                referrer::classify_referrer("https://www.google.com/", "example.com")
            {
                e.source = source;
                // Stored as Plausible stores it: host and path, no scheme.
                e.referrer = "google.com".into();
            }
            // Plausible infers the medium of a Google ad click.
            e.utm_medium = "(gclid)".into();
            e.channel = channel(&e.source, "", "", "", "gclid");
        })]),
    );
    // A tagged source is named as a referrer would be; the UTM field keeps the raw tag.
    check(
        &body("https://example.com/?utm_source=google", ""),
        Ok(vec![expected("example.com", |e| {
            e.source = "Google".into();
            e.utm_source = "google".into();
            e.channel = channel("Google", "", "google", "", "");
        })]),
    );
    // The site's own pages are not a source.
    check(
        &body("https://example.com/b", r#","r":"https://example.com/a""#),
        Ok(vec![expected("example.com", |e| e.pathname = "/b".into())]),
    );
}

#[test]
fn one_event_per_site() {
    let events = ingestor()
        .ingest_body(br#"{"n":"pageview","u":"https://example.com/","d":" Example.com, rollup.io ,example.com,,","event_id":99}"#, &ctx())
        .unwrap_or_default();
    assert_eq!(
        events,
        vec![
            expected("example.com", |e| e.event_id = 99),
            expected("rollup.io", |e| e.event_id =
                event_id::for_site(99, "rollup.io")),
        ]
    );
    let eleven: Vec<String> = (0..11).map(|i| format!("s{i}.com")).collect();
    check(
        &format!(
            r#"{{"n":"pageview","u":"https://example.com/","d":"{}"}}"#,
            eleven.join(",")
        ),
        Err(Error::TooMany {
            field: "domain",
            limit: 10,
            count: 11,
        }),
    );
    check(
        r#"{"n":"pageview","u":"https://example.com/","d":"a.com, b c.com"}"#,
        Err(Error::Invalid {
            field: "domain",
            reason: "\"b c.com\" contains ' '".into(),
        }),
    );
    check(
        r#"{"n":"pageview","u":"https://example.com/","d":",,"}"#,
        Err(Error::Missing { field: "domain" }),
    );
}

#[test]
fn custom_events_props_revenue_screen() {
    check(
        r#"{"n":"Purchase","u":"https://example.com/checkout","d":"example.com","p":{"plan":"pro","seats":3},"revenue":{"currency":"EUR","amount":"49.90"},"i":false,"w":400}"#,
        Ok(vec![expected("example.com", |e| {
            e.name = "Purchase".into();
            e.pathname = "/checkout".into();
            e.props = vec![("plan".into(), "pro".into()), ("seats".into(), "3".into())];
            e.revenue = Some(Revenue {
                currency: "EUR".into(),
                amount_micros: 49_900_000,
            });
            e.interactive = false;
            e.screen = "<576".into();
            if e.device == Device::Unknown {
                e.device = Device::Mobile;
            }
        })]),
    );
    for (width, class) in [
        (0, "<576"),
        (575, "<576"),
        (576, "576-992"),
        (991, "576-992"),
        (992, "992-1440"),
        (1440, ">=1440"),
    ] {
        assert_eq!(glinto_event_model::screen_class(width), class);
    }
}

#[test]
fn context_rejections() {
    let mut ingestor = ingestor();
    let body = body("https://example.com/", "");
    let curl = RequestContext::from_headers(
        [("User-Agent", "curl/8.4.0"), ("CF-Connecting-IP", IP)],
        None,
        NOW,
    );
    assert!(matches!(
        ingestor.ingest_body(body.as_bytes(), &curl),
        Err(Error::Bot(_))
    ));
    let empty = RequestContext::from_headers([("CF-Connecting-IP", IP)], None, NOW);
    assert_eq!(
        ingestor.ingest_body(body.as_bytes(), &empty),
        Err(Error::Bot(BotReason::Empty))
    );
    let no_ip = RequestContext::from_headers([("User-Agent", CHROME)], None, NOW);
    assert_eq!(
        ingestor.ingest_body(body.as_bytes(), &no_ip),
        Err(Error::Missing { field: "client_ip" })
    );
    // The cache saw curl and the empty User-Agent, not the request without an IP.
    assert_eq!(ingestor.ua_cache().len(), 2);
}

#[test]
fn visits_continue_across_a_salt_rotation() {
    let mut ingestor = ingestor();
    let body = body("https://example.com/", "");
    let before = ingestor
        .ingest_body(body.as_bytes(), &ctx())
        .unwrap_or_default();
    let tomorrow = NOW + 86_400_000;
    assert!(ingestor.salts().needs_rotation(tomorrow));
    let next = ingestor.salts().epoch().next();
    assert_eq!(
        ingestor.salts_mut().rotate(next, Salt::from_bytes([8; 16])),
        Ok(())
    );
    let ctx = RequestContext {
        received_at_ms: tomorrow,
        ..ctx()
    };
    let after = ingestor
        .ingest_body(body.as_bytes(), &ctx)
        .unwrap_or_default();
    let old_id = before.first().map(|e| e.visitor_id);
    let new = after.first().map(|e| (e.visitor_id, e.previous_visitor_id));
    assert!(old_id.is_some(), "{before:?}");
    // A new id under the new salt, and yesterday's id alongside it.
    assert_ne!(new.map(|(id, _)| id), old_id);
    assert_eq!(new.and_then(|(_, previous)| previous), old_id);
}

#[test]
fn pixel_matches_body() {
    let mut ingestor = ingestor();
    let from_body = ingestor.ingest_body(
        body(
            "https://example.com/x?utm_source=a",
            r#","r":"https://news.ycombinator.com/""#,
        )
        .as_bytes(),
        &ctx(),
    );
    let from_pixel = ingestor.ingest_pixel("?n=pageview&u=https%3A%2F%2Fexample.com%2Fx%3Futm_source%3Da&d=example.com&r=https%3A%2F%2Fnews.ycombinator.com%2F", &ctx());
    assert!(from_body.is_ok());
    assert_eq!(from_body, from_pixel);
}

#[test]
fn derived_event_ids() {
    let mut ingestor = ingestor();
    let id_at = |ingestor: &mut Ingestor, body: &str, at: u64| {
        let ctx = RequestContext {
            received_at_ms: at,
            ..ctx()
        };
        ingestor
            .ingest_body(body.as_bytes(), &ctx)
            .map(|e| e.first().map(|e| e.event_id))
    };
    let page = body("https://example.com/", "");
    let other = body("https://example.com/other", "");
    let window_start = NOW - NOW % event_id::DEFAULT_WINDOW_MS;
    let first = id_at(&mut ingestor, &page, window_start);
    // A retry within the window: the same id.
    assert_eq!(id_at(&mut ingestor, &page, window_start + 9_999), first);
    // The next window, another page, a client id: different ids.
    assert_ne!(id_at(&mut ingestor, &page, window_start + 10_000), first);
    assert_ne!(id_at(&mut ingestor, &other, window_start), first);
    assert_eq!(
        id_at(
            &mut ingestor,
            &body("https://example.com/", r#","event_id":"5""#),
            NOW
        ),
        Ok(Some(5))
    );
    // The rule is what the docs say.
    let visitor_id = salts()
        .visitor_ids(
            CHROME,
            IP.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            "example.com",
        )
        .current;
    let input = IdInput {
        site: "example.com",
        visitor_id,
        name: "pageview",
        url: "https://example.com/",
        referrer: "",
        props: &[],
        revenue: None,
        interactive: true,
        engagement: None,
        screen_width: None,
        received_at_ms: window_start,
    };
    assert_eq!(
        first,
        Ok(Some(event_id::derive(&input, event_id::DEFAULT_WINDOW_MS)))
    );
}

#[test]
fn derived_ids_are_pinned() {
    // Golden vectors: identical on every platform (wasm32 included), and a
    // change of rule must bump DERIVATION_VERSION.
    let input = IdInput {
        site: "example.com",
        visitor_id: 0x0123_4567_89ab_cdef,
        name: "pageview",
        url: "https://example.com/",
        referrer: "https://t.co/x",
        props: &[("plan".to_owned(), "pro".to_owned())],
        revenue: Some(&Revenue {
            currency: "EUR".into(),
            amount_micros: 1,
        }),
        interactive: true,
        engagement: None,
        screen_width: Some(1280),
        received_at_ms: NOW,
    };
    assert_eq!(event_id::derive(&input, 10_000), 7_795_412_321_296_455_279);
    assert_eq!(
        event_id::for_site(99, "rollup.io"),
        18_116_863_014_898_771_510
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn never_panics(body in any::<String>(), query in any::<String>(), ua in any::<String>(), ip in any::<String>(), country in any::<String>()) {
        let mut ingestor = ingestor();
        let ctx = RequestContext::from_headers(
            [("User-Agent", ua.as_str()), ("X-Forwarded-For", ip.as_str()), ("CF-IPCountry", country.as_str())],
            Some(IpAddr::from([192, 0, 2, 1])),
            NOW,
        );
        let _ = ingestor.ingest_body(body.as_bytes(), &ctx);
        let _ = ingestor.ingest_pixel(&query, &ctx);
    }

    #[test]
    fn valid_requests_give_valid_events(path in "[a-zA-Z0-9/%._~-]{0,40}", name in "[A-Za-z]\\PC{0,29}", sites in proptest::collection::vec("[a-z]{1,8}\\.(com|io)", 1..4)) {
        let body = serde_json::json!({"n": name, "u": format!("https://example.com/{path}"), "d": sites.join(",")}).to_string();
        let events = ingestor().ingest_body(body.as_bytes(), &ctx()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let unique: std::collections::BTreeSet<&String> = sites.iter().collect();
        prop_assert_eq!(events.len(), unique.len());
        let ids: std::collections::BTreeSet<u64> = events.iter().map(|e| e.event_id).collect();
        prop_assert_eq!(ids.len(), events.len(), "one distinct event id per site");
        for event in &events {
            prop_assert!(event.pathname.starts_with('/'));
            prop_assert!(!event.pathname.contains('?'));
            prop_assert_eq!(&event.hostname, "example.com");
            prop_assert_eq!(&event.country_code, "DE");
            // Nothing of the raw context is in the event.
            let line = { let mut s = String::new(); glinto_event_model::ndjson::write_line(event, &mut s); s };
            prop_assert!(!line.contains(IP) && !line.contains("Mozilla"));
        }
    }
}
