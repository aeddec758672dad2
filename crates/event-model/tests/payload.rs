//! Plausible body and pixel parsing: every field, alias, limit and error.

use std::borrow::Cow;

use glinto_event_model::payload::{
    MAX_BODY_BYTES, MAX_PROPS, Payload, is_currency, parse_body, parse_pixel,
};
use glinto_event_model::{Error, Revenue};
use proptest::prelude::*;

fn base() -> Payload<'static> {
    Payload {
        name: Cow::Borrowed("pageview"),
        url: Cow::Borrowed("https://example.com/"),
        domain: Cow::Borrowed("example.com"),
        referrer: Cow::Borrowed(""),
        props: Vec::new(),
        revenue: None,
        interactive: true,
        hash_mode: false,
        screen_width: None,
        event_id: None,
        engagement: None,
        dropped: Default::default(),
    }
}

fn with(f: impl FnOnce(&mut Payload<'static>)) -> Result<Payload<'static>, Error> {
    let mut p = base();
    f(&mut p);
    Ok(p)
}

/// A body with the three required fields and `extra` appended.
fn body(extra: &str) -> String {
    format!(r#"{{"n":"pageview","u":"https://example.com/","d":"example.com"{extra}}}"#)
}

fn check(body: &str, expected: Result<Payload<'static>, Error>) {
    assert_eq!(
        parse_body(body.as_bytes(), MAX_BODY_BYTES),
        expected,
        "body: {body}"
    );
}

/// The event is kept without the fields named in `dropped` (Plausible's rule).
fn check_dropped(body: &str, expected: Payload<'static>, dropped: &[&str]) {
    check_dropped_in(
        parse_body(body.as_bytes(), MAX_BODY_BYTES),
        expected,
        dropped,
        body,
    );
}

fn check_dropped_in(
    actual: Result<Payload<'_>, Error>,
    mut expected: Payload<'static>,
    dropped: &[&str],
    input: &str,
) {
    let actual = actual.unwrap_or_else(|e| panic!("{input}: {e}"));
    assert_eq!(
        actual.dropped.fields().collect::<Vec<_>>(),
        dropped,
        "input: {input}"
    );
    expected.dropped = actual.dropped;
    assert_eq!(actual, expected, "input: {input}");
}

fn check_pixel(query: &str, expected: Result<Payload<'static>, Error>) {
    assert_eq!(
        parse_pixel(query, MAX_BODY_BYTES),
        expected,
        "query: {query}"
    );
}

fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn wrong(field: &'static str, expected: &'static str) -> Result<Payload<'static>, Error> {
    Err(Error::WrongType { field, expected })
}

#[test]
fn long_and_short_names() {
    check(&body(""), with(|_| {}));
    check(
        r#"{"name":"Signup","url":"https://example.com/a","domain":"a.com,b.com","referrer":"https://t.co/x","props":{"plan":"pro"},"revenue":{"currency":"eur","amount":"12.5"},"interactive":false,"hashMode":true,"screen_width":390,"event_id":"18446744073709551615"}"#,
        with(|p| {
            p.name = "Signup".into();
            p.url = "https://example.com/a".into();
            p.domain = "a.com,b.com".into();
            p.referrer = "https://t.co/x".into();
            p.props = props(&[("plan", "pro")]);
            p.revenue = Some(Revenue {
                currency: "EUR".into(),
                amount_micros: 12_500_000,
            });
            p.interactive = false;
            p.hash_mode = true;
            p.screen_width = Some(390);
            p.event_id = Some(u64::MAX);
        }),
    );
    check(
        &body(
            r#","r":null,"m":{"a":"1"},"i":true,"h":1,"w":1920,"$":{"currency":"USD","amount":3}"#,
        ),
        with(|p| {
            p.props = props(&[("a", "1")]);
            p.hash_mode = true;
            p.screen_width = Some(1920);
            p.revenue = Some(Revenue {
                currency: "USD".into(),
                amount_micros: 3_000_000,
            });
        }),
    );
    check(
        &body(r#","meta":"{\"a\":\"1\"}""#),
        with(|p| p.props = props(&[("a", "1")])),
    );
    check(
        &body(r#","p":null,"h":0,"event_id":7"#),
        with(|p| p.event_id = Some(7)),
    );
    check(&body(r#","unknown":[1,{"x":2}],"v":3"#), with(|_| {}));
    check(
        r#"{"n":"caf\u00e9","u":"https://example.com/","d":"example.com"}"#,
        with(|p| p.name = "café".into()),
    );
}

#[test]
fn props_follow_plausible() {
    check(
        &body(
            r#","p":{"b":2,"a":true,"c":1.5,"list":[1],"obj":{"x":1},"null":null,"empty":"","blank":"  ","":"v","z":"last","z":"final"}"#,
        ),
        with(|p| p.props = props(&[("a", "true"), ("b", "2"), ("c", "1.5"), ("z", "final")])),
    );
    let many: String = (0..40).map(|i| format!(r#","k{i:02}":"v""#)).collect();
    let kept: Vec<(String, String)> = (0..MAX_PROPS)
        .map(|i| (format!("k{i:02}"), "v".to_owned()))
        .collect();
    check(
        &body(&format!(r#","p":{{"x":"y"{many}}}"#)),
        with(|p| p.props = kept),
    );
    // Plausible's largest legal props fit under the default body ceiling.
    let largest: Vec<(String, String)> = (0..MAX_PROPS)
        .map(|i| (format!("{i:02}{}", "k".repeat(298)), "v".repeat(2000)))
        .collect();
    let json: String = largest
        .iter()
        .map(|(k, v)| format!(r#","{k}":"{v}""#))
        .collect();
    check(
        &body(&format!(r#","p":{{"x":"y"{json}}}"#)).replacen(r#""x":"y","#, "", 1),
        with(|p| p.props = largest.clone()),
    );
    let long_key = "k".repeat(301);
    check(
        &body(&format!(r#","p":{{"{long_key}":"v"}}"#)),
        Err(Error::TooLong {
            field: "props",
            limit: 300,
            len: 301,
            unit: "bytes (key)",
        }),
    );
    let long_value = "v".repeat(2001);
    check(
        &body(&format!(r#","p":{{"k":"{long_value}"}}"#)),
        Err(Error::TooLong {
            field: "props",
            limit: 2000,
            len: 2001,
            unit: "bytes (value)",
        }),
    );
    // Props that are not an object are dropped, the event kept.
    for bad in [r#""not json""#, "[1]", "7", "true", r#""[1]""#] {
        check_dropped(&body(&format!(r#","p":{bad}"#)), base(), &["props"]);
    }
    check(
        &body(r#","p":"{\"a\":1}""#),
        with(|p| p.props = props(&[("a", "1")])),
    );
    // Flat key -> scalar: nested values are dropped, and nesting deeper than
    // serde_json's recursion limit (128) rejects the body instead of being walked.
    let deep = format!("{}{}", "[".repeat(60_000), "]".repeat(60_000));
    let deep_body = body(&format!(r#","p":{{"a":{deep}}}"#));
    assert!(matches!(
        parse_body(deep_body.as_bytes(), usize::MAX),
        Err(Error::Malformed { .. })
    ));
    let deep_body = body(&format!(r#","x":{deep}"#));
    assert!(matches!(
        parse_body(deep_body.as_bytes(), usize::MAX),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn limits_and_types() {
    let name = "é".repeat(120);
    check(
        &format!(r#"{{"n":"{name}","u":"https://example.com/","d":"example.com"}}"#),
        with(|p| p.name = name.clone().into()),
    );
    let name = "é".repeat(121);
    check(
        &format!(r#"{{"n":"{name}","u":"https://example.com/","d":"example.com"}}"#),
        Err(Error::TooLong {
            field: "name",
            limit: 120,
            len: 121,
            unit: "characters",
        }),
    );
    let url = format!("https://example.com/{}", "a".repeat(2000 - 20));
    check(
        &format!(r#"{{"n":"x","u":"{url}","d":"example.com"}}"#),
        with(|p| {
            p.name = "x".into();
            p.url = url.clone().into();
        }),
    );
    let url = format!("https://example.com/{}", "a".repeat(2001 - 20));
    check(
        &format!(r#"{{"n":"x","u":"{url}","d":"example.com"}}"#),
        Err(Error::TooLong {
            field: "url",
            limit: 2000,
            len: 2001,
            unit: "bytes",
        }),
    );
    let referrer = format!("https://r.co/{}", "é".repeat(1000));
    check(
        &body(&format!(r#","r":"{referrer}""#)),
        with(|p| p.referrer = referrer[..1999].to_owned().into()),
    );
    check(
        r#"{"u":"https://example.com/","d":"example.com"}"#,
        Err(Error::Missing { field: "name" }),
    );
    check(
        r#"{"n":"pageview","d":"example.com"}"#,
        Err(Error::Missing { field: "url" }),
    );
    // No domain: the ingestor takes the site from the URL; a blank one is an error.
    check(
        r#"{"n":"pageview","u":"https://example.com/","d":" "}"#,
        Err(Error::Missing { field: "domain" }),
    );
    check(
        r#"{"n":"pageview","u":"https://example.com/"}"#,
        with(|p| p.domain = "".into()),
    );
    check(
        r#"{"n":null,"u":"https://example.com/","d":"example.com"}"#,
        Err(Error::Missing { field: "name" }),
    );
    // A field under two names: Plausible reads `n || name`, `m || meta || p || props`.
    check(&body(r#","name":"x""#), with(|_| {}));
    check(&format!(r#"{{"name":"x",{}"#, &body("")[1..]), with(|_| {}));
    check(
        &body(r#","p":{"from":"p"},"m":{"from":"m"},"meta":{"from":"meta"}"#),
        with(|p| p.props = props(&[("from", "m")])),
    );
    check(
        r#"{"n":404,"u":"https://example.com/","d":"example.com"}"#,
        with(|p| p.name = "404".into()),
    );
    check(
        r#"{"n":1.5,"u":"https://example.com/","d":"example.com"}"#,
        wrong("name", "a string or an integer"),
    );
    check_dropped(&body(r#","i":"yes""#), base(), &["interactive"]);
    check_dropped(&body(r#","h":2"#), base(), &["hashMode"]);
    check_dropped(&body(r#","w":-1"#), base(), &["screen_width"]);
    check_dropped(&body(r#","w":1440.5"#), base(), &["screen_width"]);
    check_dropped(&body(r#","r":42"#), base(), &["referrer"]);
    check(
        &body(r#","event_id":1.5"#),
        wrong(
            "event_id",
            "an unsigned 64-bit integer (number or decimal string)",
        ),
    );
    check(
        &body(r#","event_id":"x""#),
        wrong(
            "event_id",
            "an unsigned 64-bit integer (number or decimal string)",
        ),
    );
    check_dropped(&body(r#","revenue":"12""#), base(), &["revenue"]);
}

#[test]
fn revenue() {
    let rev = |currency: &str, amount_micros: i64| {
        with(|p| {
            p.revenue = Some(Revenue {
                currency: currency.into(),
                amount_micros,
            })
        })
    };
    check(
        &body(r#","revenue":{"currency":"EUR","amount":12.5}"#),
        rev("EUR", 12_500_000),
    );
    check(
        &body(r#","revenue":{"currency":"JPY","amount":-3}"#),
        rev("JPY", -3_000_000),
    );
    check(
        &body(r#","revenue":{"currency":"USD","amount":0.30000000000000004}"#),
        rev("USD", 300_000),
    );
    check(
        &body(r#","revenue":{"currency":"USD","amount":"0.0000005"}"#),
        rev("USD", 1),
    );
    check(
        &body(r#","revenue":{"currency":"USD","amount":"0.0000004"}"#),
        rev("USD", 0),
    );
    check(
        &body(r#","revenue":{"currency":"usd","amount":" 1000000000000 "}"#),
        rev("USD", 1_000_000_000_000_000_000),
    );
    check(&body(r#","revenue":null"#), with(|_| {}));
    // Revenue as a JSON string of an object (Plausible: request_test.exs
    // "parses revenue source field from a json string").
    check(
        &body(r#","revenue":"{\"amount\":20.2,\"currency\":\"EUR\"}""#),
        rev("EUR", 20_200_000),
    );
    // Bad revenue is dropped and the event kept (Plausible: "ignores revenue
    // data when currency is invalid").
    for bad in [
        r#"{"currency":"EURO","amount":1}"#,
        r#"{"currency":"EEEE","amount":1233.2}"#,
        r#"{"currency":"XYZ","amount":1}"#,
        r#"{"currency":"EUR","amount":"1e3"}"#,
        r#"{"currency":"EUR","amount":"1000000000001"}"#,
        r#"{"currency":"EUR","amount":"."}"#,
        r#"{"currency":"EUR","amount":1e300}"#,
        r#"{"currency":"EUR"}"#,
        r#""not json""#,
        "[1]",
    ] {
        check_dropped(&body(&format!(r#","revenue":{bad}"#)), base(), &["revenue"]);
    }
    assert!(is_currency("EUR") && is_currency("CHF") && !is_currency("eur") && !is_currency("BTC"));
}

#[test]
fn malformed_bodies() {
    let malformed = |reason: &str| {
        Err(Error::Malformed {
            field: "body",
            reason: reason.into(),
        })
    };
    check(
        "",
        malformed("EOF while parsing a value at line 1 column 0"),
    );
    check(
        "[]",
        malformed("invalid type: sequence, expected a JSON object at line 1 column 0"),
    );
    check(
        "\"x\"",
        malformed("invalid type: string \"x\", expected a JSON object at line 1 column 3"),
    );
    check(
        r#"{"n":"pageview""#,
        malformed("EOF while parsing an object at line 1 column 15"),
    );
    check(
        &format!("{} {{}}", body("")),
        malformed("trailing characters at line 1 column 63"),
    );
    assert_eq!(
        parse_body(b"{\"n\":\"\xff\"}", MAX_BODY_BYTES),
        malformed("invalid unicode code point at line 1 column 7")
    );
    assert_eq!(
        parse_body(body("").as_bytes(), 10),
        Err(Error::TooLarge {
            field: "body",
            limit: 10,
            len: 61
        })
    );
}

#[test]
fn pixel_query() {
    check_pixel(
        "?n=pageview&u=https%3A%2F%2Fexample.com%2F&d=example.com",
        with(|_| {}),
    );
    check_pixel(
        "name=Signup&url=https://example.com/&domain=example.com&r=https://t.co/&p=%7B%22a%22%3A1%7D&$=%7B%22currency%22%3A%22EUR%22%2C%22amount%22%3A%221.5%22%7D&i=false&h=1&w=800&event_id=42&x=ignored",
        with(|p| {
            p.name = "Signup".into();
            p.referrer = "https://t.co/".into();
            p.props = props(&[("a", "1")]);
            p.revenue = Some(Revenue {
                currency: "EUR".into(),
                amount_micros: 1_500_000,
            });
            p.interactive = false;
            p.hash_mode = true;
            p.screen_width = Some(800);
            p.event_id = Some(42);
        }),
    );
    check_pixel(
        "n=My+Goal&u=https://example.com/&d=example.com&r=",
        with(|p| p.name = "My Goal".into()),
    );
    check_pixel(
        "u=https://example.com/&d=example.com",
        Err(Error::Missing { field: "name" }),
    );
    check_pixel(
        "n=a&name=b&u=https://example.com/&d=example.com",
        with(|p| p.name = "a".into()),
    );
    let named_a = || {
        let mut p = base();
        p.name = "a".into();
        p
    };
    for (query, field) in [
        (
            "n=a&u=https://example.com/&d=example.com&i=maybe",
            "interactive",
        ),
        (
            "n=a&u=https://example.com/&d=example.com&w=wide",
            "screen_width",
        ),
        ("n=a&u=https://example.com/&d=example.com&p=%5B%5D", "props"),
        (
            "n=a&u=https://example.com/&d=example.com&revenue=12",
            "revenue",
        ),
    ] {
        check_dropped_in(
            parse_pixel(query, MAX_BODY_BYTES),
            named_a(),
            &[field],
            query,
        );
    }
    check_pixel(
        &"x".repeat(MAX_BODY_BYTES + 1),
        Err(Error::TooLarge {
            field: "query",
            limit: MAX_BODY_BYTES,
            len: MAX_BODY_BYTES + 1,
        }),
    );
}

#[test]
fn errors_say_field_and_limit() {
    let check_text = |error: Error, text: &str, status: u16, reason: &str| {
        assert_eq!(error.to_string(), text);
        assert_eq!(error.http_status(), status);
        assert_eq!(error.reason(), reason);
    };
    check_text(
        Error::TooLong {
            field: "name",
            limit: 120,
            len: 121,
            unit: "characters",
        },
        "field `name` is 121 characters, more than the limit of 120",
        400,
        "too_long",
    );
    check_text(
        Error::TooLarge {
            field: "body",
            limit: 10,
            len: 11,
        },
        "body is 11 bytes, more than the limit of 10 bytes",
        413,
        "too_large",
    );
    check_text(
        Error::Bot(glinto_event_model::ua::BotReason::Crawler),
        "rejected as a bot: user_agent is a known crawler",
        202,
        "bot_crawler",
    );
    assert_eq!(Error::Missing { field: "url" }.field(), "url");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn body_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_body(&bytes, MAX_BODY_BYTES);
    }

    #[test]
    fn body_fields_never_panic(name in any::<String>(), url in any::<String>(), props in any::<String>(), amount in any::<String>()) {
        let body = serde_json::json!({"n": name, "u": url, "d": "a.com", "p": props, "revenue": {"currency": "EUR", "amount": amount}});
        let _ = parse_body(body.to_string().as_bytes(), MAX_BODY_BYTES);
    }

    #[test]
    fn pixel_never_panics(query in any::<String>()) {
        let _ = parse_pixel(&query, MAX_BODY_BYTES);
    }

    #[test]
    fn json_and_pixel_agree(name in "[a-zA-Z0-9 ]{1,30}", path in "[a-z/]{0,20}", width in any::<u32>()) {
        let url = format!("https://example.com/{path}");
        let json = serde_json::json!({"name": name, "url": url, "domain": "example.com", "w": width}).to_string();
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("n", &name).append_pair("u", &url).append_pair("d", "example.com")
            .append_pair("w", &width.to_string()).finish();
        prop_assert_eq!(parse_body(json.as_bytes(), MAX_BODY_BYTES), parse_pixel(&query, MAX_BODY_BYTES));
    }
}
