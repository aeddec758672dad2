//! The NDJSON exchange format: table-driven reads, exact writes, round-trips.

use glinto_event_model::ndjson::{NdjsonError, parse_line, write_line};
use glinto_event_model::{Channel, Device, Event, Revenue};
use proptest::prelude::*;

const BENCH_LINE: &str = r#"{"event_id":13012289629555608883,"timestamp":1704067211675,"domain":"shop.example.com","name":"pageview","pathname":"/changelog/item-497","referrer_source":"t.co","utm_source":"","utm_medium":"","utm_campaign":"","country_code":"RS","browser":"Safari","os":"iOS","device":"Mobile","screen_width":"<576","visitor_id":17142524813059115016,"session_id":5746558340338689122}"#;

fn bench_event() -> Event {
    Event {
        event_id: 13_012_289_629_555_608_883,
        timestamp_ms: 1_704_067_211_675,
        site: "shop.example.com".into(),
        name: "pageview".into(),
        hostname: String::new(),
        pathname: "/changelog/item-497".into(),
        referrer: String::new(),
        source: "t.co".into(),
        channel: derived_channel("t.co"),
        utm_source: String::new(),
        utm_medium: String::new(),
        utm_campaign: String::new(),
        utm_content: String::new(),
        utm_term: String::new(),
        country_code: "RS".into(),
        browser: "Safari".into(),
        browser_version: String::new(),
        os: "iOS".into(),
        os_version: String::new(),
        device: Device::Mobile,
        screen: "<576".into(),
        props: Vec::new(),
        revenue: None,
        interactive: true,
        engagement: None,
        visitor_id: 17_142_524_813_059_115_016,
        previous_visitor_id: None,
        session_id: Some(5_746_558_340_338_689_122),
    }
}

/// What a line without `channel` gets: the referrer module's grouping.
fn derived_channel(source: &str) -> Channel {
    glinto_event_model::referrer::channel(&glinto_event_model::referrer::ChannelInput {
        source,
        ..Default::default()
    })
}

fn minimal(extra: &str) -> String {
    format!(
        r#"{{"event_id":1,"timestamp":2,"domain":"a.com","name":"pageview","visitor_id":3{extra}}}"#
    )
}

fn check(line: &str, expected: Result<Event, NdjsonError>) {
    assert_eq!(parse_line(line), expected, "line: {line}");
}

fn with(f: impl FnOnce(&mut Event)) -> Event {
    let mut e = Event {
        event_id: 1,
        timestamp_ms: 2,
        site: "a.com".into(),
        name: "pageview".into(),
        visitor_id: 3,
        session_id: None,
        source: String::new(),
        channel: Channel::Direct,
        device: Device::Unknown,
        screen: String::new(),
        country_code: String::new(),
        browser: String::new(),
        os: String::new(),
        pathname: String::new(),
        ..bench_event()
    };
    f(&mut e);
    e
}

fn invalid(field: &'static str, reason: &str) -> Result<Event, NdjsonError> {
    Err(NdjsonError::Invalid {
        field,
        reason: reason.into(),
    })
}

#[test]
fn reads_the_bench_line_exactly() {
    check(BENCH_LINE, Ok(bench_event()));
    check(&format!("{BENCH_LINE}\n"), Ok(bench_event()));
}

#[test]
fn reads_optional_fields() {
    check(&minimal(""), Ok(with(|_| {})));
    check(&minimal(r#","session_id":null"#), Ok(with(|_| {})));
    check(
        &minimal(r#","session_id":"18446744073709551615""#),
        Ok(with(|e| e.session_id = Some(u64::MAX))),
    );
    check(
        &minimal(r#","unknown":{"nested":[1,2]},"x":null"#),
        Ok(with(|_| {})),
    );
    check(
        &minimal(r#","referrer_source":"Google""#),
        Ok(with(|e| {
            e.source = "Google".into();
            e.channel = derived_channel("Google");
        })),
    );
    check(
        &minimal(r#","referrer_source":"Google","channel":"Organic Search""#),
        Ok(with(|e| {
            e.source = "Google".into();
            e.channel = Channel::OrganicSearch;
        })),
    );
    check(
        &minimal(r#","device":"tablet","country_code":null"#),
        Ok(with(|e| e.device = Device::Tablet)),
    );
    check(
        &minimal(r#","props":{"b":"2","a":"1"},"interactive":false"#),
        Ok(with(|e| {
            e.props = vec![("a".into(), "1".into()), ("b".into(), "2".into())];
            e.interactive = false;
        })),
    );
    check(
        &minimal(r#","revenue":{"currency":"EUR","amount_micros":-12500000}"#),
        Ok(with(|e| {
            e.revenue = Some(Revenue {
                currency: "EUR".into(),
                amount_micros: -12_500_000,
            });
        })),
    );
    check(
        &minimal(r#","pathname":"/a\"b\\c\u00e9\n""#),
        Ok(with(|e| e.pathname = "/a\"b\\c\u{e9}\n".into())),
    );
}

#[test]
fn rejects_bad_lines_naming_the_field() {
    check(
        "",
        Err(NdjsonError::Syntax {
            reason: "EOF while parsing a value at line 1 column 0".into(),
        }),
    );
    check(
        "[1]",
        Err(NdjsonError::Syntax {
            reason: "invalid type: sequence, expected an event object at line 1 column 0".into(),
        }),
    );
    check(
        &format!("{} x", minimal("")),
        Err(NdjsonError::Syntax {
            reason: "trailing characters at line 1 column 80".into(),
        }),
    );
    check(
        r#"{"event_id":1}"#,
        Err(NdjsonError::Missing { field: "timestamp" }),
    );
    check(
        &minimal("").replace(r#""domain":"a.com""#, r#""domain":"""#),
        Err(NdjsonError::Missing { field: "domain" }),
    );
    check(
        &minimal(r#","event_id":5"#),
        Err(NdjsonError::Duplicate { field: "event_id" }),
    );
    check(
        &minimal("").replace(r#""timestamp":2"#, r#""timestamp":-2"#),
        invalid(
            "timestamp",
            "invalid type: integer `-2`, expected an unsigned 64-bit integer",
        ),
    );
    check(
        &minimal("").replace(r#""timestamp":2"#, r#""timestamp":2.5"#),
        invalid(
            "timestamp",
            "invalid type: floating point `2.5`, expected an unsigned 64-bit integer",
        ),
    );
    check(
        &minimal("").replace(r#""event_id":1"#, r#""event_id":18446744073709551616"#),
        invalid(
            "event_id",
            "invalid type: floating point `1.8446744073709552e+19`, expected an unsigned 64-bit integer",
        ),
    );
    check(
        &minimal(r#","device":"Phone""#),
        invalid(
            "device",
            r#"unknown device "Phone" (expected "Desktop", "Mobile", "Tablet" or "")"#,
        ),
    );
    check(
        &minimal(r#","channel":"Carrier pigeon""#),
        invalid("channel", r#"unknown channel "Carrier pigeon""#),
    );
    check(
        &minimal(r#","props":{"a":"1","a":"2"}"#),
        invalid("props", r#"duplicate property key "a""#),
    );
    check(
        &minimal(r#","props":{"a":1}"#),
        invalid("props", "invalid type: integer `1`, expected a string"),
    );
    check(
        &minimal(r#","browser":7"#),
        invalid("browser", "invalid type: integer `7`, expected a string"),
    );
}

#[test]
fn writes_the_bench_keys_first_and_exactly() {
    let mut out = String::new();
    write_line(
        &Event {
            channel: Channel::Referral,
            ..bench_event()
        },
        &mut out,
    );
    let expected = format!(
        "{},\"channel\":\"Referral\"}}\n",
        BENCH_LINE.trim_end_matches('}')
    );
    assert_eq!(out, expected);
    let mut out = String::new();
    write_line(&with(|e| e.pathname = "\u{1}\t\u{7f}".into()), &mut out);
    // JSON escapes only U+0000..U+001F; DEL goes out as is.
    assert!(out.contains("\"pathname\":\"\\u0001\\t\u{7f}\""), "{out}");
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z./<>=0-9-]{1,12}", any::<String>()]
}

fn event() -> impl Strategy<Value = Event> {
    let ids = (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<Option<u64>>(),
        any::<Option<u64>>(),
    );
    let strs1 = (
        text(),
        text(),
        text(),
        text(),
        text(),
        text(),
        text(),
        text(),
    );
    let strs2 = (
        text(),
        text(),
        text(),
        text(),
        text(),
        text(),
        text(),
        text(),
    );
    let required = (
        "[a-z]{1,8}\\.com",
        prop_oneof![Just("pageview".to_owned()), "\\PC{1,20}"],
    );
    let enums = (0..Channel::ALL.len(), 0..Device::ALL.len(), any::<bool>());
    let extras = (
        proptest::collection::btree_map(any::<String>(), any::<String>(), 0..4),
        proptest::option::of(("[A-Z]{3}", any::<i64>())),
    );
    (ids, strs1, strs2, required, enums, extras).prop_map(
        |(
            (event_id, timestamp_ms, visitor_id, previous_visitor_id, session_id),
            s1,
            s2,
            (site, name),
            (channel, device, interactive),
            (props, revenue),
        )| Event {
            event_id,
            timestamp_ms,
            site,
            name,
            hostname: s1.0,
            pathname: s1.1,
            referrer: s1.2,
            source: s1.3,
            channel: Channel::ALL[channel],
            utm_source: s1.4,
            utm_medium: s1.5,
            utm_campaign: s1.6,
            utm_content: s1.7,
            utm_term: s2.0,
            country_code: s2.1,
            browser: s2.2,
            browser_version: s2.3,
            os: s2.4,
            os_version: s2.5,
            device: Device::ALL[device],
            screen: s2.6,
            props: props.into_iter().collect(),
            revenue: revenue.map(|(currency, amount_micros)| Revenue {
                currency,
                amount_micros,
            }),
            interactive,
            engagement: None,
            visitor_id,
            previous_visitor_id,
            session_id,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trips(event in event()) {
        let mut line = String::new();
        write_line(&event, &mut line);
        prop_assert!(line.ends_with('\n'));
        prop_assert_eq!(line.matches('\n').count(), 1);
        prop_assert_eq!(parse_line(&line), Ok(event.clone()));
        // The bench-format reader's view: plain serde_json sees the same ids.
        let value: serde_json::Value = serde_json::from_str(&line).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(value["event_id"].as_u64(), Some(event.event_id));
        prop_assert_eq!(value["visitor_id"].as_u64(), Some(event.visitor_id));
    }

    #[test]
    fn never_panics_on_arbitrary_text(line in any::<String>()) {
        let _ = parse_line(&line);
    }

    #[test]
    fn never_panics_on_mutated_lines(at in 0..BENCH_LINE.len(), byte in any::<u8>()) {
        let mut bytes = BENCH_LINE.as_bytes().to_vec();
        bytes[at] = byte;
        if let Ok(line) = String::from_utf8(bytes) {
            let _ = parse_line(&line);
        }
    }
}
