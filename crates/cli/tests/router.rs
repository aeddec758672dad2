//! The real router on a loopback port, with the recording backend where the
//! pipeline will be: what each route answers and what it hands the engine.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::sync::atomic::Ordering;

use common::{CHROME_UA, Recording, Server, request};
use glinto::client_ip::{ProxyHeader, TrustedProxies};
use glinto::http::Config;

fn server() -> Server {
    Server::start(
        Recording::new(&["site.test", "public.test"]),
        Config::default(),
    )
}

fn post_event(server: &Server, body: &str, extra: &[(&str, &str)]) -> common::Response {
    let mut headers = vec![("User-Agent", CHROME_UA), ("Content-Type", "text/plain")];
    headers.extend_from_slice(extra);
    request(server.addr, "POST", "/api/event", &headers, body.as_bytes())
}

/// (body, user agent, status, dropped header, error field, error reason)
type EventCase<'a> = (
    &'a str,
    &'a str,
    u16,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

#[test]
fn events_api_answers() {
    let server = server();
    let cases: &[EventCase<'_>] = &[
        (
            r#"{"n":"pageview","u":"https://site.test/a","d":"site.test"}"#,
            CHROME_UA,
            202,
            None,
            None,
            None,
        ),
        (
            r#"{"n":"pageview","u":"https://other.test/","d":"other.test"}"#,
            CHROME_UA,
            202,
            Some("unknown_site"),
            None,
            None,
        ),
        (
            r#"{"n":"pageview","u":"https://site.test/","d":"site.test"}"#,
            "Googlebot/2.1 (+http://www.google.com/bot.html)",
            202,
            Some("bot_crawler"),
            None,
            None,
        ),
        (
            r#"{"n":"pageview","u":"https://site.test/","d":" "}"#,
            CHROME_UA,
            400,
            None,
            Some("domain"),
            Some("missing_field"),
        ),
        (
            // A bad `h` is dropped and the event kept, as Plausible does.
            r#"{"n":"pageview","u":"https://site.test/","d":"site.test","h":"x"}"#,
            CHROME_UA,
            202,
            None,
            None,
            None,
        ),
        (
            "not json",
            CHROME_UA,
            400,
            None,
            Some("body"),
            Some("malformed"),
        ),
        (
            r#"{"n":"pageview","u":"javascript:alert(1)","d":"site.test"}"#,
            CHROME_UA,
            400,
            None,
            Some("url"),
            Some("invalid_value"),
        ),
    ];
    for (body, ua, status, dropped, field, reason) in cases {
        let response = request(
            server.addr,
            "POST",
            "/api/event",
            &[("User-Agent", ua)],
            body.as_bytes(),
        );
        assert_eq!(response.status, *status, "{body}: {}", response.text());
        assert_eq!(response.header("x-glinto-dropped"), *dropped, "{body}");
        if status == &400 {
            let json = response.json();
            assert_eq!(json["field"].as_str(), *field, "{body}: {json}");
            assert_eq!(json["reason"].as_str(), *reason, "{body}: {json}");
            assert!(
                json["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{json}"
            );
        }
    }
    // The first case's event, and the one whose bad `h` was dropped.
    let events = server.backend.events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1].pathname, "/", "{events:?}");
    assert_eq!(
        (events[0].site.as_str(), events[0].pathname.as_str()),
        ("site.test", "/a")
    );
    assert_eq!(events[0].name, "pageview");
    let metrics = request(server.addr, "GET", "/metrics", &[], b"").text();
    for line in [
        r#"glinto_http_requests_total{route="/api/event",status="202"} 4"#,
        r#"glinto_http_requests_total{route="/api/event",status="400"} 3"#,
        "glinto_events_accepted_total 2",
        r#"glinto_events_dropped_total{reason="bot_crawler"} 1"#,
        r#"glinto_events_dropped_total{reason="unknown_site"} 1"#,
        "glinto_storage_commit_seconds_count 3",
        "glinto_queue_depth 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in\n{metrics}"
        );
    }
}

#[test]
fn custom_events_carry_their_props() {
    let server = server();
    let body = r#"{"n":"Signup","u":"https://site.test/pricing","d":"site.test","p":{"plan":"pro","seats":"3"}}"#;
    assert_eq!(post_event(&server, body, &[]).status, 202);
    let events = server.backend.events();
    assert_eq!(events[0].name, "Signup");
    assert_eq!(
        events[0].props,
        vec![
            ("plan".to_owned(), "pro".to_owned()),
            ("seats".to_owned(), "3".to_owned())
        ]
    );
}

#[test]
fn over_the_body_limit_is_413_with_a_body() {
    let server = Server::start(
        Recording::new(&["site.test"]),
        Config {
            max_body_bytes: 1024,
            ..Config::default()
        },
    );
    let big = format!(
        r#"{{"n":"pageview","u":"https://site.test/","d":"site.test","p":{{"k":"{}"}}}}"#,
        "x".repeat(4096)
    );
    let response = post_event(&server, &big, &[]);
    assert_eq!(response.status, 413, "{}", response.text());
    let json = response.json();
    assert_eq!(
        (json["field"].as_str(), json["reason"].as_str()),
        (Some("body"), Some("too_large"))
    );
}

#[test]
fn a_store_that_cannot_write_is_503_with_retry_after() {
    let server = server();
    server.backend.failing.store(true, Ordering::SeqCst);
    let body = r#"{"n":"pageview","u":"https://site.test/","d":"site.test"}"#;
    let response = post_event(&server, body, &[]);
    assert_eq!(response.status, 503, "{}", response.text());
    assert_eq!(response.header("retry-after"), Some("5"));
    assert_eq!(response.json()["reason"], "unavailable");
    server.backend.failing.store(false, Ordering::SeqCst);
    assert_eq!(post_event(&server, body, &[]).status, 202);
    assert_eq!(server.backend.events().len(), 1);
}

#[test]
fn the_pixel_is_the_same_endpoint_without_javascript() {
    let server = server();
    for path in [
        "/api/event?n=pageview&u=https%3A%2F%2Fsite.test%2Fnojs&d=site.test",
        "/p.gif?n=pageview&u=https%3A%2F%2Fsite.test%2Fnojs&d=site.test",
    ] {
        let response = request(server.addr, "GET", path, &[("User-Agent", CHROME_UA)], b"");
        assert_eq!(response.status, 202, "{path}: {}", response.text());
        assert_eq!(response.header("content-type"), Some("image/gif"));
        assert!(response.body.starts_with(b"GIF89a"));
    }
    let response = request(
        server.addr,
        "GET",
        "/api/event?n=pageview",
        &[("User-Agent", CHROME_UA)],
        b"",
    );
    assert_eq!(response.status, 400);
    assert_eq!(server.backend.events().len(), 2);
}

#[test]
fn cors_lets_a_tracker_on_another_origin_send() {
    let server = server();
    let preflight = common::preflight(server.addr, "/api/event");
    assert!(
        preflight.status == 200 || preflight.status == 204,
        "{preflight:?}"
    );
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert!(
        preflight
            .header("access-control-allow-methods")
            .is_some_and(|m| m.contains("POST"))
    );
    assert!(
        preflight
            .header("access-control-allow-headers")
            .is_some_and(|h| h.contains("content-type"))
    );
    let body = r#"{"n":"pageview","u":"https://site.test/","d":"site.test"}"#;
    let response = post_event(&server, body, &[("Origin", "https://blog.example")]);
    assert_eq!(response.status, 202);
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    assert!(
        response
            .header("access-control-expose-headers")
            .is_some_and(|h| h.contains("x-glinto-dropped"))
    );
}

#[test]
fn spoofed_forwarding_headers_do_not_mint_visitors() {
    let body = r#"{"n":"pageview","u":"https://site.test/","d":"site.test"}"#;
    // (trusted proxies, the X-Forwarded-For values sent, distinct visitors expected)
    let cases: &[(&[&str], &[&str], usize)] = &[
        (&[], &["1.1.1.1", "2.2.2.2", "3.3.3.3"], 1),
        (&["127.0.0.1"], &["1.1.1.1", "2.2.2.2", "3.3.3.3"], 3),
        // Behind the trusted proxy, a client prepending fake hops stays one visitor.
        (
            &["127.0.0.1"],
            &["1.1.1.1, 9.9.9.9", "2.2.2.2, 9.9.9.9", "9.9.9.9"],
            1,
        ),
    ];
    for (trusted, forwarded, expected) in cases {
        let proxies = TrustedProxies::new(
            trusted.iter().map(|c| c.parse().unwrap()).collect(),
            ProxyHeader::XForwardedFor,
        );
        let server = Server::start(
            Recording::new(&["site.test"]),
            Config {
                proxies,
                ..Config::default()
            },
        );
        for xff in *forwarded {
            assert_eq!(
                post_event(&server, body, &[("X-Forwarded-For", xff)]).status,
                202
            );
        }
        let mut visitors: Vec<u64> = server
            .backend
            .events()
            .iter()
            .map(|e| e.visitor_id)
            .collect();
        visitors.sort_unstable();
        visitors.dedup();
        assert_eq!(visitors.len(), *expected, "{trusted:?} {forwarded:?}");
    }
}

#[test]
fn stats_api_keys_and_rate_limit() {
    let server = Server::start(
        Recording::new(&["site.test", "public.test"]),
        Config {
            query_rate_per_s: 0.001,
            query_burst: 3,
            ..Config::default()
        },
    );
    let query = |auth: Option<&str>, body: &str| {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(auth) = auth {
            headers.push(("Authorization", auth));
        }
        request(
            server.addr,
            "POST",
            "/api/v2/query",
            &headers,
            body.as_bytes(),
        )
    };
    let site = r#"{"site_id":"site.test","metrics":["visitors"],"date_range":"7d"}"#;
    let public = r#"{"site_id":"public.test","metrics":["visitors"],"date_range":"7d"}"#;
    // (authorization, body, status, reason)
    let cases: &[(Option<&str>, &str, u16, Option<&str>)] = &[
        (None, site, 401, Some("unauthorized")),
        (Some("Basic abc"), site, 401, Some("unauthorized")),
        (Some("Bearer "), site, 401, Some("unauthorized")),
        (Some("Bearer wrong"), site, 403, Some("forbidden")),
        (Some("Bearer good-key"), public, 403, Some("forbidden")),
        (Some("Bearer good-key"), site, 200, None),
        (None, public, 200, None),
        (
            Some("Bearer other"),
            r#"{"metrics":["visitors"]}"#,
            400,
            Some("invalid_value"),
        ),
        (Some("Bearer other"), "{", 400, Some("invalid_value")),
    ];
    for (auth, body, status, reason) in cases {
        let response = query(*auth, body);
        assert_eq!(
            response.status,
            *status,
            "{auth:?} {body}: {}",
            response.text()
        );
        if let Some(reason) = reason {
            assert_eq!(response.json()["reason"].as_str(), Some(*reason));
        }
        if *status == 401 {
            assert_eq!(response.header("www-authenticate"), Some("Bearer"));
        }
    }
    // The answer comes from the engine, untouched.
    assert_eq!(
        query(Some("Bearer good-key"), site).json()["query"]["site_id"],
        "site.test"
    );
    // good-key has used its burst of 3; "wrong" had one, so two more.
    let limited = query(Some("Bearer good-key"), site);
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!(
        limited
            .header("retry-after")
            .is_some_and(|s| s.parse::<u32>().unwrap() >= 1)
    );
    assert_eq!(query(Some("Bearer wrong"), site).status, 403);
    assert_eq!(server.backend.queries.lock().unwrap().len(), 3);
}

#[test]
fn health_metrics_and_unknown_routes() {
    let server = server();
    let health = request(server.addr, "GET", "/api/health", &[], b"");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["engine_ready"], true);
    let metrics = request(server.addr, "GET", "/metrics", &[], b"");
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4"))
    );
    let missing = request(server.addr, "GET", "/nope", &[], b"");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["reason"], "not_found");
    assert_eq!(
        request(server.addr, "GET", "/js/other.js", &[], b"").status,
        404
    );
    assert_eq!(
        request(
            server.addr,
            "GET",
            "/js/script.hash.outbound-links.js",
            &[],
            b""
        )
        .status,
        200
    );
}

/// A WebSocket client in a few lines: the handshake, then server frames
/// (unmasked, text, payloads under 64 KiB).
#[test]
fn live_updates_over_a_websocket() {
    use std::io::{Read, Write};
    let server = server();
    let handshake = |auth: &str| {
        let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET /api/live?site_id=site.test HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{auth}\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        (stream, String::from_utf8(head).unwrap())
    };
    let (_, head) = handshake("");
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let (_, head) = handshake("Authorization: Bearer wrong\r\n");
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let (mut stream, head) = handshake("Authorization: Bearer good-key\r\n");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // The subscription exists once the upgrade completed.
    assert!(common::wait_for(10, || server
        .backend
        .live
        .receiver_count()
        > 0));
    let message = serde_json::json!({"visitors": 3, "pages": ["/a"]});
    server.backend.live.send(message.clone()).unwrap();
    let mut frame = [0u8; 2];
    stream.read_exact(&mut frame).unwrap();
    assert_eq!(frame[0], 0x81, "a final text frame");
    let len = match frame[1] {
        126 => {
            let mut ext = [0u8; 2];
            stream.read_exact(&mut ext).unwrap();
            usize::from(u16::from_be_bytes(ext))
        }
        n => usize::from(n),
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&payload).unwrap(),
        message
    );
}

#[test]
fn the_country_header_is_believed_from_trusted_proxies_only() {
    let body = r#"{"n":"pageview","u":"https://site.test/","d":"site.test"}"#;
    for (trusted, expected) in [(&[][..], ""), (&["127.0.0.1"][..], "DE")] {
        let proxies = TrustedProxies::new(
            trusted.iter().map(|c: &&str| c.parse().unwrap()).collect(),
            ProxyHeader::XForwardedFor,
        );
        let server = Server::start(
            Recording::new(&["site.test"]),
            Config {
                proxies,
                ..Config::default()
            },
        );
        assert_eq!(
            post_event(&server, body, &[("CF-IPCountry", "de")]).status,
            202
        );
        assert_eq!(
            server.backend.events()[0].country_code,
            expected,
            "{trusted:?}"
        );
    }
}
