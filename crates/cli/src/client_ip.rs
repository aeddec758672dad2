//! The client's address: the socket's, unless the socket is a proxy the
//! operator trusts.
//!
//! A visitor's id is a salted hash of the address and User-Agent, so whoever
//! chooses the address chooses the visitor. The rule:
//!
//! 1. The peer of the TCP connection is the client, unless it lies in one of
//!    the `--trusted-proxy` ranges.
//! 2. Only then is the forwarding header read (`X-Forwarded-For` by default,
//!    or RFC 7239 `Forwarded` with `--proxy-header forwarded`; one of them,
//!    never "whichever is present", since a client can send either). Its hops
//!    are walked from the right, the one the trusted proxy appended, skipping
//!    hops that are themselves trusted proxies; the first untrusted hop is the
//!    client. Everything to its left was written by the client and is ignored.
//! 3. A hop that is not an address (`unknown`, an obfuscated `_id`, garbage)
//!    ends the walk: the client is then the trusted proxy that reported it,
//!    never a value the client could have written.
//! 4. When every hop is trusted, the leftmost is the client.
//!
//! Why here and not in `glinto_event_model::RequestContext::from_headers`:
//! which hops to trust is deployment configuration of the server; the event
//! model receives the resolved address in `RequestContext::client_ip`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address range: `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl fmt::Debug for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Why a `--trusted-proxy` value is not a range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{value:?} is not an address range (expected e.g. 10.0.0.0/8, 2001:db8::/32 or 127.0.0.1): {reason}"
)]
pub struct CidrError {
    value: String,
    reason: &'static str,
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let err = |reason| CidrError {
            value: value.to_owned(),
            reason,
        };
        let (addr, prefix) = match value.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (value, None),
        };
        let network = IpAddr::from_str(addr.trim())
            .map_err(|_| err("not an IP address"))?
            .to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .map_err(|_| err("prefix is not a number"))?,
        };
        if prefix > max {
            return Err(err("prefix longer than the address"));
        }
        if mask(network, prefix) != network {
            return Err(err("bits set after the prefix"));
        }
        Ok(Cidr { network, prefix })
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & m).into())
        }
    }
}

impl Cidr {
    /// Whether `ip` lies in the range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }
}

/// Which header a trusted proxy writes the chain of addresses into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, Caddy, Traefik, HAProxy).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for="[2001:db8::1]:4711"`.
    Forwarded,
}

impl ProxyHeader {
    /// The header's name, lower case.
    pub fn name(self) -> &'static str {
        match self {
            ProxyHeader::XForwardedFor => "x-forwarded-for",
            ProxyHeader::Forwarded => "forwarded",
        }
    }
}

/// The operator's proxy configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<Cidr>,
    header: ProxyHeader,
}

impl TrustedProxies {
    /// Trust `ranges`, reading `header` from them.
    pub fn new(ranges: Vec<Cidr>, header: ProxyHeader) -> Self {
        TrustedProxies { ranges, header }
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|range| range.contains(ip))
    }

    /// The header this configuration reads.
    pub fn header(&self) -> ProxyHeader {
        self.header
    }

    /// The client's address for a request from `peer` whose forwarding header
    /// lines (of [`TrustedProxies::header`], in order) are `header_values`.
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        header_values: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = header_values
            .into_iter()
            .flat_map(|line| line.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let parsed = match self.header {
                ProxyHeader::XForwardedFor => parse_hop(hop),
                ProxyHeader::Forwarded => forwarded_for(hop).and_then(parse_hop),
            };
            let Some(ip) = parsed else {
                return client;
            };
            client = ip.to_canonical();
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

/// The `for=` value of one `Forwarded` element (`for=1.2.3.4;proto=https`).
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// One hop's address: `203.0.113.7`, `203.0.113.7:51234`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Some(rest) = hop.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return ip.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    let (ip, port) = hop.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(text: &str) -> bool {
    text.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(ranges: &[&str], header: ProxyHeader) -> TrustedProxies {
        TrustedProxies::new(ranges.iter().map(|r| r.parse().unwrap()).collect(), header)
    }

    #[test]
    fn cidr_parsing() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("10.0.0.0/8", Ok("10.0.0.0/8")),
            ("127.0.0.1", Ok("127.0.0.1/32")),
            ("::1", Ok("::1/128")),
            ("2001:db8::/32", Ok("2001:db8::/32")),
            ("::ffff:10.0.0.0/8", Ok("10.0.0.0/8")),
            ("0.0.0.0/0", Ok("0.0.0.0/0")),
            ("10.0.0.1/8", Err("bits set after the prefix")),
            ("10.0.0.0/33", Err("prefix longer than the address")),
            ("10.0.0.0/x", Err("prefix is not a number")),
            ("example.com", Err("not an IP address")),
            ("", Err("not an IP address")),
        ];
        for (input, expected) in cases {
            let got = input
                .parse::<Cidr>()
                .map(|c| c.to_string())
                .map_err(|e| e.reason);
            assert_eq!(got.as_deref().map_err(|e| *e), *expected, "{input}");
        }
    }

    #[test]
    fn cidr_contains() {
        let cases = [
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.0.0.0/8", "::ffff:10.1.2.3", true),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("0.0.0.0/0", "2001:db8::1", false),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("127.0.0.1", "127.0.0.2", false),
        ];
        for (range, addr, expected) in cases {
            let range: Cidr = range.parse().unwrap();
            assert_eq!(range.contains(ip(addr)), expected, "{range} ∋ {addr}");
        }
    }

    /// (trusted ranges, header kind, peer, header lines, expected client)
    type Case<'a> = (&'a [&'a str], ProxyHeader, &'a str, &'a [&'a str], &'a str);

    #[test]
    fn client_address_table() {
        use ProxyHeader::{Forwarded as F, XForwardedFor as X};
        let lb = &["10.0.0.0/8"][..];
        let two = &["10.0.0.0/8", "192.0.2.0/24"][..];
        let none: &[&str] = &[];
        let cases: &[Case<'_>] = &[
            // No trusted proxy: the socket, whatever the headers claim.
            (none, X, "203.0.113.5", &["1.1.1.1"], "203.0.113.5"),
            (none, F, "203.0.113.5", &["for=1.1.1.1"], "203.0.113.5"),
            // Spoofing: an untrusted peer sends a header; ignored.
            (lb, X, "203.0.113.5", &["10.0.0.7"], "203.0.113.5"),
            (lb, X, "203.0.113.5", &["8.8.8.8, 10.0.0.1"], "203.0.113.5"),
            // The trusted proxy appended the client.
            (lb, X, "10.0.0.2", &["198.51.100.4"], "198.51.100.4"),
            // The client prepended a fake hop: the rightmost untrusted wins.
            (
                lb,
                X,
                "10.0.0.2",
                &["6.6.6.6, 198.51.100.4"],
                "198.51.100.4",
            ),
            // The client tries to look like a trusted proxy's client: its own
            // fake trusted hop sits left of the real client, never reached.
            (
                lb,
                X,
                "10.0.0.2",
                &["10.9.9.9, 198.51.100.4"],
                "198.51.100.4",
            ),
            // Two trusted hops are skipped.
            (
                two,
                X,
                "10.0.0.2",
                &["198.51.100.4, 192.0.2.10"],
                "198.51.100.4",
            ),
            // Several header lines are one list, in order.
            (
                two,
                X,
                "10.0.0.2",
                &["6.6.6.6", "198.51.100.4, 192.0.2.10"],
                "198.51.100.4",
            ),
            // Ports and brackets.
            (lb, X, "10.0.0.2", &["198.51.100.4:5555"], "198.51.100.4"),
            (lb, X, "10.0.0.2", &["[2001:db8::9]:443"], "2001:db8::9"),
            (lb, X, "10.0.0.2", &["2001:db8::9"], "2001:db8::9"),
            // Garbage ends the walk at the proxy that reported it.
            (lb, X, "10.0.0.2", &["198.51.100.4, unknown"], "10.0.0.2"),
            (lb, X, "10.0.0.2", &["1.2.3.4.5"], "10.0.0.2"),
            (two, X, "10.0.0.2", &["junk, 192.0.2.10"], "192.0.2.10"),
            // A trusted peer without a header is the client.
            (lb, X, "10.0.0.2", &[], "10.0.0.2"),
            (lb, X, "10.0.0.2", &[""], "10.0.0.2"),
            // Every hop trusted: the leftmost.
            (two, X, "10.0.0.2", &["192.0.2.1, 10.0.0.3"], "192.0.2.1"),
            // IPv4-mapped peers are IPv4.
            (lb, X, "::ffff:10.0.0.2", &["198.51.100.4"], "198.51.100.4"),
            (none, X, "::ffff:203.0.113.5", &[], "203.0.113.5"),
            // RFC 7239.
            (
                lb,
                F,
                "10.0.0.2",
                &["for=198.51.100.4;proto=https"],
                "198.51.100.4",
            ),
            (
                lb,
                F,
                "10.0.0.2",
                &[r#"for="[2001:db8:cafe::17]:4711""#],
                "2001:db8:cafe::17",
            ),
            (
                lb,
                F,
                "10.0.0.2",
                &["for=6.6.6.6, For=198.51.100.4"],
                "198.51.100.4",
            ),
            (lb, F, "10.0.0.2", &["for=_hidden"], "10.0.0.2"),
            (lb, F, "10.0.0.2", &["proto=https;by=10.0.0.2"], "10.0.0.2"),
            (
                two,
                F,
                "10.0.0.2",
                &["for=198.51.100.4, for=192.0.2.9"],
                "198.51.100.4",
            ),
        ];
        for (ranges, header, peer, lines, expected) in cases {
            let got = proxies(ranges, *header).client_ip(ip(peer), lines.iter().copied());
            assert_eq!(
                got,
                ip(expected),
                "{ranges:?} {header:?} peer {peer} {lines:?}"
            );
        }
    }
}
