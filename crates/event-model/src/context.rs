//! The request context: what the HTTP layer knows about a tracker request
//! besides its body (User-Agent, client IP, country, receive time).
//!
//! The collector builds it with [`RequestContext::from_headers`] (or field by
//! field) and hands it to the [`Ingestor`](crate::Ingestor). The raw IP and
//! User-Agent are only used to classify the browser and hash the visitor id:
//! they never leave this crate inside an [`Event`](crate::Event), and the
//! context's `Debug` does not print the IP.

use core::fmt;
use core::net::IpAddr;

/// What the HTTP layer knows about one tracker request.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestContext<'a> {
    /// The `User-Agent` header, empty when missing.
    pub user_agent: &'a str,
    /// The client's address; `None` when neither a header nor the socket gives one.
    pub client_ip: Option<IpAddr>,
    /// ISO 3166-1 alpha-2 country, upper case; `None` when unknown.
    pub country: Option<[u8; 2]>,
    /// Server receive time, milliseconds since the Unix epoch (UTC).
    pub received_at_ms: u64,
}

impl fmt::Debug for RequestContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestContext")
            .field("user_agent", &self.user_agent)
            .field("client_ip", &self.client_ip.map(|_| "<redacted>"))
            .field("country", &self.country_code())
            .field("received_at_ms", &self.received_at_ms)
            .finish()
    }
}

impl<'a> RequestContext<'a> {
    /// A context from the request's headers (names case-insensitive), the
    /// socket's peer address, and the receive time.
    ///
    /// - client IP: `CF-Connecting-IP`, else the first valid address in
    ///   `X-Forwarded-For`, else `socket`;
    /// - country: `CF-IPCountry` (see [`country_code`]); on Workers, pass
    ///   `request.cf.country` through [`RequestContext::with_country`] when the
    ///   header is absent.
    pub fn from_headers<'h>(
        headers: impl IntoIterator<Item = (&'h str, &'a str)>,
        socket: Option<IpAddr>,
        received_at_ms: u64,
    ) -> Self {
        let mut user_agent = "";
        let mut cf_connecting_ip = None;
        let mut forwarded_for = None;
        let mut cf_country = None;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("user-agent") {
                user_agent = value;
            } else if name.eq_ignore_ascii_case("cf-connecting-ip") {
                cf_connecting_ip = Some(value);
            } else if name.eq_ignore_ascii_case("x-forwarded-for") {
                forwarded_for = Some(value);
            } else if name.eq_ignore_ascii_case("cf-ipcountry") {
                cf_country = Some(value);
            }
        }
        RequestContext {
            user_agent,
            client_ip: client_ip(cf_connecting_ip, forwarded_for, socket),
            country: cf_country.and_then(country_code),
            received_at_ms,
        }
    }

    /// Fills in the country from another source (Workers' `request.cf.country`)
    /// when the headers did not give one.
    #[must_use]
    pub fn with_country(mut self, country: Option<&str>) -> Self {
        if self.country.is_none() {
            self.country = country.and_then(country_code);
        }
        self
    }

    /// The country as a string (`"DE"`), empty when unknown.
    pub fn country_code(&self) -> &str {
        self.country
            .as_ref()
            .and_then(|c| core::str::from_utf8(c).ok())
            .unwrap_or("")
    }
}

/// The client's IP: `CF-Connecting-IP` when it parses, else the first
/// address in `X-Forwarded-For` that parses (the client end of the proxy
/// chain), else the socket's peer address.
pub fn client_ip(
    cf_connecting_ip: Option<&str>,
    x_forwarded_for: Option<&str>,
    socket: Option<IpAddr>,
) -> Option<IpAddr> {
    cf_connecting_ip
        .and_then(parse_ip)
        .or_else(|| x_forwarded_for.and_then(|xff| xff.split(',').find_map(parse_ip)))
        .or(socket)
}

/// The client end of an RFC 7239 `Forwarded` header: the first `for=` that
/// is an address (`for=192.0.2.60`, `for="[2001:db8::1]:4711"`); obfuscated
/// identifiers (`for=_hidden`, `for=unknown`) are skipped.
pub fn forwarded_ip(value: &str) -> Option<IpAddr> {
    value
        .split([',', ';'])
        .filter_map(|pair| {
            let (key, v) = pair.split_once('=')?;
            key.trim().eq_ignore_ascii_case("for").then_some(v)
        })
        .find_map(|v| parse_ip(v.trim().trim_matches('"')))
}

/// Which proxy headers carry the client's address, in the order they are
/// read by [`proxy_client_ip`].
pub const PROXY_IP_HEADERS: [&str; 4] = [
    "cf-connecting-ip",
    "x-forwarded-for",
    "forwarded",
    "b-forwarded-for",
];

/// The client IP as the proxy in front of the collector reports it:
/// `CF-Connecting-IP`, else `X-Forwarded-For`, else `Forwarded` (RFC 7239),
/// else `B-Forwarded-For` (bunny.net), each the client end of the chain.
///
/// # Trust
/// These headers are whatever the client or a proxy wrote: only a collector
/// that knows it sits behind a trusted proxy (which overwrites them) may use
/// this. Choosing whether to trust them is the server's decision (its
/// configuration), not this crate's; [`RequestContext::from_headers`] keeps
/// its documented behaviour and does not read `Forwarded` or
/// `B-Forwarded-For` (`docs/ingestion.md`).
pub fn proxy_client_ip<'h>(
    headers: impl IntoIterator<Item = (&'h str, &'h str)>,
) -> Option<IpAddr> {
    let mut found: [Option<IpAddr>; 4] = [None; 4];
    for (name, value) in headers {
        let Some(i) = PROXY_IP_HEADERS
            .iter()
            .position(|h| name.eq_ignore_ascii_case(h))
        else {
            continue;
        };
        let ip = match i {
            0 => parse_ip(value),
            2 => forwarded_ip(value),
            _ => value.split(',').find_map(parse_ip),
        };
        if let Some(slot) = found.get_mut(i) {
            *slot = slot.or(ip);
        }
    }
    found.into_iter().flatten().next()
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    // `[2001:db8::1]` and `[2001:db8::1]:443` appear behind some proxies.
    let text = match text.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(ip, _)| ip),
        None => text,
    };
    text.parse().ok().or_else(|| {
        // `203.0.113.7:51234`
        let (ip, port) = text.rsplit_once(':')?;
        port.parse::<u16>().ok()?;
        ip.parse::<core::net::Ipv4Addr>().ok().map(IpAddr::V4)
    })
}

/// A country code from `CF-IPCountry` or `request.cf.country`: two ASCII
/// letters, upper-cased. Cloudflare's pseudo-codes are unknown, not countries:
/// `XX` (no data) and `T1` (Tor); so is `ZZ` (ISO's "unknown", which some
/// geolocation proxies send), the reserved `A1`/`A2`/`O1`-style codes with a
/// digit, and anything that is not two letters.
pub fn country_code(value: &str) -> Option<[u8; 2]> {
    let &[a, b] = value.trim().as_bytes() else {
        return None;
    };
    if !a.is_ascii_alphabetic() || !b.is_ascii_alphabetic() {
        return None;
    }
    let code = [a.to_ascii_uppercase(), b.to_ascii_uppercase()];
    (&code != b"XX" && &code != b"ZZ").then_some(code)
}
