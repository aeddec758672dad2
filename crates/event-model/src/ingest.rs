//! The one entry point a collector calls: request in, [`Event`]s or a typed
//! rejection out.
//!
//! ```
//! use glinto_event_model::{IngestConfig, Ingestor, RequestContext};
//! use glinto_event_model::visitor::{Salt, SaltPeriod, Salts};
//!
//! let now_ms = 1_704_067_200_000;
//! let salts = Salts::new(SaltPeriod::Daily.epoch_at(now_ms), Salt::from_bytes([7; 16]), None);
//! let mut ingestor = Ingestor::new(IngestConfig::default(), salts);
//! let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
//! let headers = [("User-Agent", ua), ("CF-Connecting-IP", "203.0.113.7"), ("CF-IPCountry", "DE")];
//! let ctx = RequestContext::from_headers(headers, None, now_ms);
//! let body = br#"{"n":"pageview","u":"https://example.com/pricing?utm_source=newsletter","d":"example.com"}"#;
//! let events = ingestor.ingest_body(body, &ctx).expect("a valid pageview");
//! assert_eq!(events[0].pathname, "/pricing");
//! assert_eq!(events[0].utm_source, "newsletter");
//! assert_eq!(events[0].country_code, "DE");
//! ```
//!
//! # Normalization
//! - `site`: each comma-separated `domain`, trimmed, lower-cased, without a
//!   trailing dot; duplicates dropped; at most [`MAX_DOMAINS`].
//! - `hostname`: the URL's host, lower-cased, without `www.`.
//! - `pathname`: the URL's path, percent-decoded when that gives UTF-8, `/`
//!   when empty; no query; `#fragment` appended only in hash mode.
//! - `utm_*`: the five `utm_` query parameters of the URL.
//! - `source`: `utm_source`, else the `source` parameter, else `ref` (each
//!   through [`referrer::canonical_source`], so `utm_source=google` is `Google`), else the
//!   referrer's source (a named source such as `Google`, or its host). A
//!   referrer on the site's own domain is internal: neither source nor referrer.
//! - `channel`: [`referrer::channel`] over source, UTM and the URL's click id.
//! - `screen`: from the screen width: `<576`, `576-992`, `992-1440`, `>=1440`;
//!   the device class falls back to it when the User-Agent does not tell.
//! - `country_code`, `browser*`, `os*`, `device`, `visitor_id`: from the
//!   request context through [`ua`](crate::ua) and [`visitor`](crate::visitor).
//! - `event_id`: see [`event_id`](crate::event_id).

use core::net::IpAddr;
use std::borrow::Cow;

use url::Url;

use crate::context::RequestContext;
use crate::error::{Error, Result};
use crate::event::{Device, Event};
use crate::event_id::{self, IdInput};
use crate::payload::{self, Payload};
use crate::referrer::{self, ChannelInput, ClickId, ReferrerSource};
use crate::ua::{BotReason, UaCache, UserAgent};
use crate::visitor::Salts;

/// The hostname of a page URL without a host (`file:///...`, `about:blank`),
/// as Plausible records it.
pub const NO_HOST: &str = "(none)";

/// A host name as the visitor's browser shows it: punycode labels
/// (`xn--caf-dma.com`) back to Unicode (`café.com`), so that the hostname of
/// an internationalized site matches its site name (which users type in
/// Unicode, and Plausible keeps as sent).
fn domain_to_unicode(domain: &str) -> String {
    if !domain.contains("xn--") {
        return domain.to_owned();
    }
    let (unicode, result) = idna::domain_to_unicode(domain);
    if result.is_ok() {
        unicode
    } else {
        domain.to_owned()
    }
}

/// Most sites one request may name in `domain`.
pub const MAX_DOMAINS: usize = 10;
/// Longest site domain, in bytes (a DNS name).
pub const MAX_DOMAIN_BYTES: usize = 253;

/// Knobs of the [`Ingestor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestConfig {
    /// Ceiling for a body or pixel query, in bytes (default [`payload::MAX_BODY_BYTES`]).
    pub max_body_bytes: usize,
    /// How many distinct User-Agents the classification cache holds.
    pub ua_cache_capacity: usize,
    /// Window of the derived event id (default [`event_id::DEFAULT_WINDOW_MS`]).
    pub event_id_window_ms: u64,
    /// Count requests with no User-Agent and from HTTP libraries (`curl`,
    /// `okhttp`, `python-requests`...) as visitors, as Plausible does
    /// (browser and OS empty, device unknown). Default `false`: they are
    /// rejected as [`BotReason::Empty`]/[`BotReason::HttpLibrary`] and counted
    /// as filtered, because a tracker script never sends them; see
    /// `docs/ingestion.md`. Crawlers and headless browsers are dropped either way.
    pub keep_non_browsers: bool,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_body_bytes: payload::MAX_BODY_BYTES,
            ua_cache_capacity: 4096,
            event_id_window_ms: event_id::DEFAULT_WINDOW_MS,
            keep_non_browsers: false,
        }
    }
}

/// Turns tracker requests into validated, normalized [`Event`]s.
///
/// Owned by one request loop (`&mut self`: a Worker isolate is
/// single-threaded); it holds the salts and a bounded User-Agent cache.
/// Rotate salts with [`Ingestor::set_salts`] when the epoch changes.
#[derive(Debug)]
pub struct Ingestor {
    config: IngestConfig,
    salts: Salts,
    ua_cache: UaCache,
    dropped: DroppedCounts,
}

/// How many times each optional field was dropped for a bad value while its
/// event was kept ([`payload::Dropped`]), since the ingestor was made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DroppedCounts(Vec<(&'static str, u64)>);

impl DroppedCounts {
    fn count(&mut self, field: &'static str) {
        match self.0.iter_mut().find(|(f, _)| *f == field) {
            Some((_, n)) => *n += 1,
            None => self.0.push((field, 1)),
        }
    }

    /// `(field, count)` pairs, in the order the fields were first dropped.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.0.iter().copied()
    }

    /// How many times `field` was dropped.
    pub fn get(&self, field: &str) -> u64 {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map_or(0, |(_, n)| *n)
    }
}

impl Ingestor {
    /// An ingestor with `config` and the salts in force.
    pub fn new(config: IngestConfig, salts: Salts) -> Self {
        let ua_cache = UaCache::new(config.ua_cache_capacity);
        Ingestor {
            config,
            salts,
            ua_cache,
            dropped: DroppedCounts::default(),
        }
    }

    /// How often optional fields were dropped (events kept without them).
    pub fn dropped(&self) -> &DroppedCounts {
        &self.dropped
    }

    /// Replaces the salts (at an epoch change).
    pub fn set_salts(&mut self, salts: Salts) {
        self.salts = salts;
    }

    /// The salts, to rotate them in place ([`Salts::rotate`]).
    pub fn salts_mut(&mut self) -> &mut Salts {
        &mut self.salts
    }

    /// The salts in force.
    pub fn salts(&self) -> &Salts {
        &self.salts
    }

    /// The User-Agent cache, for its statistics ([`UaCache::hits_misses`]).
    pub fn ua_cache(&self) -> &UaCache {
        &self.ua_cache
    }

    /// The configuration.
    pub fn config(&self) -> &IngestConfig {
        &self.config
    }

    /// Ingests a Plausible Events API body: one event per site it names.
    ///
    /// # Errors
    /// Any [`Error`]: the body's ([`payload::parse_body`]), the URL's or a
    /// domain's ([`Error::Invalid`]), a missing client IP
    /// ([`Error::Missing`] `client_ip`), or [`Error::Bot`].
    pub fn ingest_body(&mut self, body: &[u8], ctx: &RequestContext<'_>) -> Result<Vec<Event>> {
        let payload = payload::parse_body(body, self.config.max_body_bytes)?;
        self.ingest_payload(&payload, ctx)
    }

    /// Ingests a pixel request's query string.
    ///
    /// # Errors
    /// As [`Ingestor::ingest_body`].
    pub fn ingest_pixel(&mut self, query: &str, ctx: &RequestContext<'_>) -> Result<Vec<Event>> {
        let payload = payload::parse_pixel(query, self.config.max_body_bytes)?;
        self.ingest_payload(&payload, ctx)
    }

    /// Normalizes an already parsed payload.
    ///
    /// # Errors
    /// As [`Ingestor::ingest_body`], less the body's own errors.
    pub fn ingest_payload(
        &mut self,
        payload: &Payload<'_>,
        ctx: &RequestContext<'_>,
    ) -> Result<Vec<Event>> {
        let mut page = Page::parse(&payload.url, payload.hash_mode)?;
        let sites = if payload.domain.trim().is_empty() {
            // No `domain`: the site is the page's host, as Plausible does.
            if page.hostname.is_empty() || page.hostname == NO_HOST {
                return Err(Error::Missing { field: "domain" });
            }
            sites(&page.hostname)?
        } else {
            sites(&payload.domain)?
        };
        for field in payload.dropped.fields() {
            self.dropped.count(field);
        }
        let ip = ctx.client_ip.ok_or(Error::Missing { field: "client_ip" })?;
        let mut ua = match self.ua_cache.classify(ctx.user_agent) {
            Ok(ua) => ua,
            Err(BotReason::Empty | BotReason::HttpLibrary) if self.config.keep_non_browsers => {
                UserAgent::default()
            }
            Err(reason) => return Err(reason.into()),
        };
        let count = sites.len();
        let mut events = Vec::with_capacity(count);
        for (i, site) in sites.into_iter().enumerate() {
            let site = Site {
                name: site,
                index: i,
                last: i + 1 == count,
            };
            events.push(self.event_for_site(payload, ctx, ip, &mut ua, &mut page, site));
        }
        Ok(events)
    }

    /// The event for one site. The strings of `ua` and `page` are moved into
    /// the last site's event and cloned for the others.
    fn event_for_site(
        &self,
        payload: &Payload<'_>,
        ctx: &RequestContext<'_>,
        ip: IpAddr,
        ua: &mut UserAgent,
        page: &mut Page,
        site: Site,
    ) -> Event {
        let Site {
            name: site_name,
            index,
            last,
        } = site;
        let site = site_name.as_str();
        let (referrer, referrer_source) =
            match referrer::classify_referrer(&payload.referrer, &page.hostname) {
                ReferrerSource::External { source, .. } => (
                    referrer::normalize_referrer(&payload.referrer).unwrap_or_default(),
                    source,
                ),
                _ => (String::new(), String::new()),
            };
        // A tagged source names the source as a marketer typed it: `google`,
        // `ig`, `news.ycombinator.com` show as the named source, as Plausible does.
        let source = if page.utm[0].is_empty() {
            referrer_source
        } else {
            referrer::canonical_source(&page.utm[0]).into_owned()
        };
        let channel = referrer::channel(&ChannelInput {
            source: &source,
            utm_medium: &page.utm[1],
            utm_source: &page.utm[0],
            utm_campaign: &page.utm[2],
            click_id: page.click_id,
        });
        let ids = self.salts.visitor_ids(ctx.user_agent, ip, site);
        let event_id = match payload.event_id {
            Some(id) if index == 0 => id,
            Some(id) => event_id::for_site(id, site),
            None => event_id::derive(
                &IdInput {
                    site,
                    visitor_id: ids.current,
                    name: &payload.name,
                    url: &payload.url,
                    referrer: &payload.referrer,
                    props: &payload.props,
                    revenue: payload.revenue.as_ref(),
                    interactive: payload.interactive,
                    screen_width: payload.screen_width,
                    engagement: payload.engagement,
                    received_at_ms: ctx.received_at_ms,
                },
                self.config.event_id_window_ms,
            ),
        };
        let screen = payload.screen_width.map_or("", screen_class);
        let device = match (ua.device, payload.screen_width) {
            (Device::Unknown, Some(width)) => device_from_width(width),
            (device, _) => device,
        };
        let take = |s: &mut String| if last { std::mem::take(s) } else { s.clone() };
        let [
            utm_source,
            mut utm_medium,
            utm_campaign,
            utm_content,
            utm_term,
        ] = page.utm.each_mut().map(take);
        // Plausible infers the medium of an ad click without UTM tags.
        if utm_medium.is_empty() {
            match (source.as_str(), page.click_id) {
                ("Google", Some(ClickId::Google)) => utm_medium.push_str("(gclid)"),
                ("Bing", Some(ClickId::Microsoft)) => utm_medium.push_str("(msclkid)"),
                _ => {}
            }
        }
        Event {
            event_id,
            timestamp_ms: ctx.received_at_ms,
            site: site_name,
            name: payload.name.to_string(),
            hostname: take(&mut page.hostname),
            pathname: take(&mut page.pathname),
            referrer,
            source,
            channel,
            utm_source,
            utm_medium,
            utm_campaign,
            utm_content,
            utm_term,
            country_code: ctx.country_code().to_owned(),
            browser: take(&mut ua.browser),
            browser_version: take(&mut ua.browser_version),
            os: take(&mut ua.os),
            os_version: take(&mut ua.os_version),
            device,
            screen: screen.to_owned(),
            props: payload.props.clone(),
            revenue: payload.revenue.clone(),
            interactive: payload.interactive,
            engagement: payload.engagement,
            visitor_id: ids.current,
            previous_visitor_id: ids.previous,
            session_id: None,
        }
    }
}

/// One of the sites a request names.
#[derive(Debug)]
struct Site {
    name: String,
    index: usize,
    last: bool,
}

/// What the page URL says, computed once for all sites of a request.
#[derive(Debug)]
struct Page {
    hostname: String,
    pathname: String,
    /// source, medium, campaign, content, term.
    utm: [String; 5],
    source_param: String,
    ref_param: String,
    click_id: Option<ClickId>,
}

impl Page {
    fn parse(url: &str, hash_mode: bool) -> Result<Page> {
        let parts = UrlParts::parse(url)?;
        let host = parts.host.trim_end_matches('.');
        let hostname = host
            .strip_prefix("www.")
            .unwrap_or(host)
            .to_ascii_lowercase();
        let mut pathname = match &*parts.path {
            "" => "/".to_owned(),
            path => percent_decode(path),
        };
        if hash_mode && let Some(fragment) = parts.fragment.as_deref().filter(|f| !f.is_empty()) {
            pathname.push('#');
            pathname.push_str(&percent_decode(fragment));
        }
        let mut page = Page {
            hostname,
            pathname,
            utm: Default::default(),
            source_param: String::new(),
            ref_param: String::new(),
            click_id: None,
        };
        if let Some(query) = &parts.query {
            for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
                let slot = match &*key {
                    "utm_source" => &mut page.utm[0],
                    "utm_medium" => &mut page.utm[1],
                    "utm_campaign" => &mut page.utm[2],
                    "utm_content" => &mut page.utm[3],
                    "utm_term" => &mut page.utm[4],
                    "source" => &mut page.source_param,
                    "ref" => &mut page.ref_param,
                    other => {
                        if page.click_id.is_none() {
                            page.click_id = ClickId::from_param(other);
                        }
                        continue;
                    }
                };
                // The first occurrence of a parameter wins.
                if slot.is_empty() {
                    *slot = value.trim().to_owned();
                }
            }
        }
        // Plausible's `utm_source` is `utm_source || source || ref`.
        if page.utm[0].is_empty() {
            page.utm[0] = if page.source_param.is_empty() {
                std::mem::take(&mut page.ref_param)
            } else {
                std::mem::take(&mut page.source_param)
            };
        }
        Ok(page)
    }
}

/// Bytes that the WHATWG URL parser leaves alone in every part of an
/// http(s) URL: ASCII letters, digits and `-._~:/?#[]@!$&()*+,;=%|^`.
const PLAIN_URL_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric();
        b += 1;
    }
    let extra = b"-._~:/?#[]@!$&()*+,;=%|^";
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
};

/// The parts of a page URL that normalization reads.
#[derive(Debug, PartialEq, Eq)]
struct UrlParts<'a> {
    host: Cow<'a, str>,
    path: Cow<'a, str>,
    query: Option<Cow<'a, str>>,
    fragment: Option<Cow<'a, str>>,
}

impl<'a> UrlParts<'a> {
    /// Splits an http(s) URL. The common case (plain ASCII, lower-case
    /// scheme and host name, no dot segments, nothing to escape) is split in
    /// place; everything else goes through the `url` crate's WHATWG parser.
    /// Both give the same parts for the common case (a proptest checks it).
    fn parse(url: &'a str) -> Result<UrlParts<'a>> {
        if let Some(parts) = Self::split_simple(url) {
            return Ok(parts);
        }
        let invalid = |reason: String| Error::Invalid {
            field: "url",
            reason,
        };
        let parsed = Url::parse(url.trim()).map_err(|e| invalid(format!("not a URL: {e}")))?;
        // As Plausible: every scheme but `data:` is a page (app shells send
        // `file:///android_asset/...`, extensions `chrome-extension://...`);
        // `javascript:` is refused too (deliberate: it is never a page).
        if matches!(parsed.scheme(), "data" | "javascript") {
            return Err(invalid(format!(
                "scheme `{}` is not allowed",
                parsed.scheme()
            )));
        }
        let host = match parsed.host() {
            None => NO_HOST.to_owned(),
            Some(url::Host::Domain("")) => NO_HOST.to_owned(),
            Some(url::Host::Domain(domain)) => domain_to_unicode(domain),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            // Without brackets, as Plausible shows it.
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
        };
        let path = match parsed.path() {
            "" => "/",
            path => path,
        };
        Ok(UrlParts {
            host: Cow::Owned(host),
            path: Cow::Owned(path.to_owned()),
            query: parsed.query().map(|q| Cow::Owned(q.to_owned())),
            fragment: parsed.fragment().map(|f| Cow::Owned(f.to_owned())),
        })
    }

    /// The in-place split, or `None` when the URL needs the full parser.
    fn split_simple(url: &'a str) -> Option<UrlParts<'a>> {
        if !url.bytes().all(|b| PLAIN_URL_BYTES[usize::from(b)]) {
            return None;
        }
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))?;
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(authority_end);
        let host = match authority.split_once(':') {
            Some((host, port)) => {
                if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                port.parse::<u16>().ok()?;
                host
            }
            None => authority,
        };
        let last_label = host.trim_end_matches('.').rsplit('.').next()?;
        let simple_host = !host.is_empty()
            && host
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.'))
            && !host.starts_with('.')
            && !host.contains("..")
            && !host.contains("xn--")
            && last_label.starts_with(|c: char| c.is_ascii_lowercase());
        if !simple_host {
            return None;
        }
        let (rest, fragment) = match rest.split_once('#') {
            Some((rest, fragment)) => (rest, Some(Cow::Borrowed(fragment))),
            None => (rest, None),
        };
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(Cow::Borrowed(query))),
            None => (rest, None),
        };
        let encoded_dot = path
            .as_bytes()
            .windows(3)
            .any(|w| matches!(w, [b'%', b'2', b'e' | b'E']));
        if path.contains("/.") || encoded_dot {
            return None;
        }
        Some(UrlParts {
            host: Cow::Borrowed(host),
            path: Cow::Borrowed(if path.is_empty() { "/" } else { path }),
            query,
            fragment,
        })
    }
}

/// Percent-decodes a URL path or fragment when the result is UTF-8 (so that
/// `/caf%C3%A9` and `/café` count as one page); otherwise keeps it as is.
/// `%3F` and `%23` stay encoded: a decoded `?` or `#` would read as a query
/// or fragment that the URL did not have.
fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |at: usize| bytes.get(at).and_then(|c| char::from(*c).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) if !matches!((hi, lo), (3, 15) | (2, 3)) => {
                // Two hex digits make one byte: hi * 16 + lo < 256.
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

/// Splits and normalizes `domain` into the sites to count the event for.
fn sites(domain: &str) -> Result<Vec<String>> {
    let mut sites: Vec<String> = Vec::new();
    for part in domain.split(',') {
        let part = part.trim().trim_end_matches('.');
        if part.is_empty() {
            continue;
        }
        if part.len() > MAX_DOMAIN_BYTES {
            return Err(Error::TooLong {
                field: "domain",
                limit: MAX_DOMAIN_BYTES,
                len: part.len(),
                unit: "bytes",
            });
        }
        if let Some(bad) = part
            .chars()
            .find(|c| !(c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/')))
        {
            return Err(Error::Invalid {
                field: "domain",
                reason: format!("{part:?} contains {bad:?}"),
            });
        }
        let site: Cow<'_, str> = if part.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(part.to_lowercase())
        } else {
            Cow::Borrowed(part)
        };
        let site = if site.contains("xn--") {
            Cow::Owned(domain_to_unicode(&site))
        } else {
            site
        };
        if !sites.iter().any(|s| *s == *site) {
            if sites.len() == MAX_DOMAINS {
                return Err(Error::TooMany {
                    field: "domain",
                    limit: MAX_DOMAINS,
                    count: domain.split(',').filter(|p| !p.trim().is_empty()).count(),
                });
            }
            sites.push(site.into_owned());
        }
    }
    if sites.is_empty() {
        return Err(Error::Missing { field: "domain" });
    }
    Ok(sites)
}

/// The screen class of a width in CSS pixels.
pub fn screen_class(width: u32) -> &'static str {
    match width {
        0..576 => "<576",
        576..992 => "576-992",
        992..1440 => "992-1440",
        _ => ">=1440",
    }
}

fn device_from_width(width: u32) -> Device {
    match width {
        0..576 => Device::Mobile,
        576..992 => Device::Tablet,
        _ => Device::Desktop,
    }
}

/// Normalizes one site domain exactly as the tracker's `domain` field is
/// normalized into `Event::site` (the same code): trimmed, without a trailing
/// dot, lower-cased, at most [`MAX_DOMAIN_BYTES`] bytes of letters, digits and
/// `. - _ : /`. The site registry uses it, so a registered site and the events
/// counted for it always agree on the name.
///
/// ```
/// use glinto_event_model::normalize_site;
/// assert_eq!(normalize_site(" Example.COM. ").unwrap(), "example.com");
/// assert!(normalize_site("exa mple.com").is_err());
/// assert!(normalize_site("a.com,b.com").is_err());
/// ```
///
/// # Errors
/// On the field `domain`: [`Error::Missing`] when empty, [`Error::TooLong`]
/// past [`MAX_DOMAIN_BYTES`], [`Error::Invalid`] for a list of domains or a
/// character not allowed.
pub fn normalize_site(domain: &str) -> Result<String> {
    if domain.contains(',') {
        return Err(Error::Invalid {
            field: "domain",
            reason: "one domain is expected, not a comma-separated list".into(),
        });
    }
    sites(domain)?
        .pop()
        .ok_or(Error::Missing { field: "domain" })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What the `url` crate says, in the shape of `UrlParts`.
    fn full_parse(url: &str) -> Option<UrlParts<'static>> {
        let parsed = Url::parse(url.trim()).ok()?;
        Some(UrlParts {
            host: Cow::Owned(parsed.host_str()?.to_owned()),
            path: Cow::Owned(parsed.path().to_owned()),
            query: parsed.query().map(|q| Cow::Owned(q.to_owned())),
            fragment: parsed.fragment().map(|f| Cow::Owned(f.to_owned())),
        })
    }

    #[test]
    fn simple_split_agrees_on_examples() {
        let check = |url: &str, simple: bool| {
            let split = UrlParts::split_simple(url);
            assert_eq!(split.is_some(), simple, "{url}");
            if let Some(split) = split {
                assert_eq!(Some(split), full_parse(url), "{url}");
            }
        };
        check("https://example.com", true);
        check("https://example.com/a/b?x=1&y=%20#frag", true);
        check("http://a.example.com:8080/?", true);
        check("https://example.com.:443/x#", true);
        check("https://EXAMPLE.com/", false);
        check("https://example.com/a/../b", false);
        check("https://example.com/%2E%2E/b", false);
        check("https://127.0.0.1/", false);
        check("https://0x7f.1/", false);
        check("https://user@example.com/", false);
        check("https://xn--caf-dma.com/", false);
        check("https://example.com/caf\u{e9}", false);
        check("https://example.com/a b", false);
        check("https://example.com:99999/", false);
        check("https://example.com:/", false);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn simple_split_agrees_with_the_url_crate(
            scheme in prop_oneof![Just("http://"), Just("https://"), Just("HTTP://"), Just("ftp://")],
            host in "[a-z0-9.-]{0,12}|[A-Za-z0-9.:@\\[\\]-]{0,12}",
            path in "[a-zA-Z0-9/.%~!$&()*+,;=:@|^ -]{0,16}",
            query in proptest::option::of("[a-zA-Z0-9=&%/?.+ '-]{0,12}"),
            fragment in proptest::option::of("[a-zA-Z0-9/?#.%' -]{0,8}"),
        ) {
            let mut url = format!("{scheme}{host}{path}");
            if let Some(q) = query {
                url.push('?');
                url.push_str(&q);
            }
            if let Some(f) = fragment {
                url.push('#');
                url.push_str(&f);
            }
            if let Some(split) = UrlParts::split_simple(&url) {
                prop_assert_eq!(Some(split), full_parse(&url), "{}", url);
            }
        }
    }

    #[test]
    fn percent_decoding() {
        let check = |input: &str, expected: &str| assert_eq!(percent_decode(input), expected);
        check("/a", "/a");
        check("/caf%C3%A9", "/café");
        check("/a%2Fb", "/a/b");
        check("/%E9", "/%E9");
        check("/%zz%4", "/%zz%4");
        check("/100%", "/100%");
        check("/a%3Fb%3fc%23d", "/a%3Fb%3fc%23d");
        check("/%41%3F", "/A%3F");
    }
}
