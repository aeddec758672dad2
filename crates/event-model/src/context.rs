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
/// `XX` (no data) and `T1` (Tor); so are the reserved `A1`/`A2`/`O1`-style
/// codes with a digit, and anything that is not two letters.
pub fn country_code(value: &str) -> Option<[u8; 2]> {
    let &[a, b] = value.trim().as_bytes() else {
        return None;
    };
    if !a.is_ascii_alphabetic() || !b.is_ascii_alphabetic() {
        return None;
    }
    let code = [a.to_ascii_uppercase(), b.to_ascii_uppercase()];
    (&code != b"XX").then_some(code)
}
