//! The request context: client IP precedence, country codes, redacted Debug.

use core::net::IpAddr;

use glinto_event_model::RequestContext;
use glinto_event_model::context::{client_ip, country_code};

fn ip(text: &str) -> Option<IpAddr> {
    text.parse().ok()
}

fn check_ip(cf: Option<&str>, xff: Option<&str>, socket: Option<&str>, expected: Option<&str>) {
    let socket = socket.and_then(ip);
    assert_eq!(
        client_ip(cf, xff, socket),
        expected.and_then(ip),
        "{cf:?} {xff:?} {socket:?}"
    );
}

#[test]
fn client_ip_precedence() {
    check_ip(
        Some("198.51.100.1"),
        Some("203.0.113.9"),
        Some("192.0.2.1"),
        Some("198.51.100.1"),
    );
    check_ip(Some(" 2001:db8::1 "), None, None, Some("2001:db8::1"));
    check_ip(
        Some("garbage"),
        Some("203.0.113.9, 10.0.0.1"),
        Some("192.0.2.1"),
        Some("203.0.113.9"),
    );
    check_ip(
        None,
        Some("unknown, 203.0.113.9:4711, 10.0.0.1"),
        None,
        Some("203.0.113.9"),
    );
    check_ip(None, Some("[2001:db8::2]:443"), None, Some("2001:db8::2"));
    check_ip(None, Some("nonsense"), Some("192.0.2.1"), Some("192.0.2.1"));
    check_ip(None, Some(""), None, None);
    check_ip(None, None, None, None);
}

#[test]
fn country_codes() {
    let check = |input: &str, expected: Option<&str>| {
        assert_eq!(
            country_code(input),
            expected.map(|c| [c.as_bytes()[0], c.as_bytes()[1]]),
            "{input:?}"
        );
    };
    check("DE", Some("DE"));
    check(" fr ", Some("FR"));
    check("XX", None);
    check("ZZ", None);
    check("zz", None);
    check("T1", None);
    check("A1", None);
    check("", None);
    check("DEU", None);
    check("Ü1", None);
}

#[test]
fn from_headers() {
    let ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0";
    let headers = [
        ("USER-AGENT", ua),
        ("x-forwarded-for", "203.0.113.9"),
        ("cf-ipcountry", "XX"),
    ];
    let ctx = RequestContext::from_headers(headers, ip("192.0.2.1"), 42).with_country(Some("ch"));
    assert_eq!(
        ctx,
        RequestContext {
            user_agent: ua,
            client_ip: ip("203.0.113.9"),
            country: Some(*b"CH"),
            received_at_ms: 42
        }
    );
    assert_eq!(ctx.country_code(), "CH");
    // The header wins over request.cf.
    let ctx =
        RequestContext::from_headers([("CF-IPCountry", "AT")], None, 0).with_country(Some("CH"));
    assert_eq!(ctx.country_code(), "AT");
    // Debug never prints the IP.
    let debug = format!("{:?}", RequestContext::from_headers(headers, None, 0));
    assert!(
        !debug.contains("203.0.113.9") && debug.contains("<redacted>"),
        "{debug}"
    );
}

#[test]
fn proxy_headers_are_parsed() {
    use glinto_event_model::context::{forwarded_ip, proxy_client_ip};
    let check = |value: &str, expected: Option<&str>| {
        assert_eq!(forwarded_ip(value), expected.and_then(ip), "{value}");
    };
    check(
        "for=192.0.2.60;proto=http;by=203.0.113.43",
        Some("192.0.2.60"),
    );
    check(
        r#"for="[2001:db8:cafe::17]:4711""#,
        Some("2001:db8:cafe::17"),
    );
    check("For=unknown, for=198.51.100.17", Some("198.51.100.17"));
    check("for=_hidden;proto=https", None);
    check("proto=https", None);
    let headers = |pairs: &[(&'static str, &'static str)]| proxy_client_ip(pairs.iter().copied());
    assert_eq!(
        headers(&[
            ("Forwarded", "for=192.0.2.60"),
            ("B-Forwarded-For", "198.51.100.1")
        ]),
        ip("192.0.2.60")
    );
    assert_eq!(
        headers(&[("B-Forwarded-For", "198.51.100.1, 10.0.0.1")]),
        ip("198.51.100.1")
    );
    assert_eq!(
        headers(&[
            ("forwarded", "for=192.0.2.60"),
            ("X-Forwarded-For", "203.0.113.9")
        ]),
        ip("203.0.113.9")
    );
    assert_eq!(headers(&[("user-agent", "x")]), None);
}
