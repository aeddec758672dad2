//! What a tracker sends, parsed and checked against Plausible's limits:
//! the Events API body (`POST /api/event`) and the no-JavaScript pixel's
//! query string (`GET /p.gif?...`).
//!
//! Both give a [`Payload`]: the fields as sent, borrowed from the request
//! where possible, with props and revenue already validated. Turning a payload
//! into [`Event`](crate::Event)s (URL parsing, sources, visitor ids) is the
//! [`Ingestor`](crate::Ingestor)'s job.
//!
//! # Fields
//!
//! | long name      | short | type                                           |
//! |----------------|-------|------------------------------------------------|
//! | `name`         | `n`   | string (or integer, as for `404`), required, ≤ 120 characters |
//! | `url`          | `u`   | string, required, ≤ 2000 bytes                 |
//! | `domain`       | `d`   | string; comma-separated = several sites; missing = the URL's host |
//! | `referrer`     | `r`   | string or null; cut at 2000 bytes              |
//! | `props`        | `p`, `meta`, `m` | object, or a JSON string of one     |
//! | `revenue`      | `$`   | `{"currency": "EUR", "amount": 12.5}` (amount may be a string), or a JSON string of one |
//! | `interactive`  | `i`   | boolean, default `true`                        |
//! | `hashMode`     | `h`   | boolean or `0`/`1`                             |
//! | `screen_width` | `w`   | non-negative integer (CSS pixels)              |
//! | `event_id`     |       | u64 as a number or decimal string: the client's idempotency key |
//! | `sd`           |       | engagement: scroll depth in percent, integer or integer string |
//! | `e`            |       | engagement: engaged time in ms, integer or integer string |
//!
//! Unknown fields are ignored (nested at most as deep as `serde_json`'s
//! recursion limit allows). A field given under several names takes the value
//! Plausible takes: the short name before the long one (`n` before `name`),
//! and for props `m`, `meta`, `p`, `props` in that order; the same key twice:
//! the last one. In the pixel query the values are strings: booleans are
//! `true`/`false`/`1`/`0`, props and revenue are JSON strings.
//!
//! # Keep the event, drop the bad part
//! As Plausible does, an optional field with a bad value does not reject the
//! event: revenue with an unknown currency or an amount that is not a number,
//! props that are not an object (or a JSON string of one), a non-boolean
//! `interactive`, a `screen_width` that is not a non-negative integer, a
//! referrer that is not a string are dropped, and [`Payload::dropped`] says
//! which, so that the collector can count them. Required fields (`name`,
//! `url`) and the limits Plausible enforces (name length, URL length, prop
//! key/value sizes) still reject the request.
//!
//! # Engagement events
//! `{"n":"engagement","sd":42,"e":12345,...}` is Plausible's engagement
//! event. `sd` is clamped to 100 and ignored when not a non-negative integer;
//! `e` is ignored when negative or not below 30 days (old trackers sent
//! huge values); when neither is valid the request is rejected
//! ([`Error::Invalid`] `engagement`), as Plausible does.
//!
//! # Props
//! As Plausible: values that are lists, objects, `null` or blank are dropped,
//! numbers and booleans become strings, blank keys are dropped; of the rest
//! the first [`MAX_PROPS`] in key order are kept (a repeated key keeps its
//! last value); a kept key longer than [`MAX_PROP_KEY_BYTES`] or value longer
//! than [`MAX_PROP_VALUE_BYTES`] rejects the request. Only the first 120
//! entries of a props object are looked at, which bounds the work a hostile
//! body can cause.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::Revenue;
use crate::error::{Error, Result};
use crate::ndjson::OptU64;

/// Default ceiling for a request body or pixel query string, in bytes:
/// room for Plausible's largest legal body (30 props of 300 + 2000 bytes,
/// about 70 KB, plus a 2000-byte URL and referrer); real bodies are a few
/// hundred bytes.
pub const MAX_BODY_BYTES: usize = 128 * 1024;
/// Longest event name, in characters (Plausible: 120).
pub const MAX_NAME_CHARS: usize = 120;
/// Longest page URL, in bytes (Plausible: 2000).
pub const MAX_URL_BYTES: usize = 2000;
/// The referrer is cut to this many bytes (on a character boundary).
pub const MAX_REFERRER_BYTES: usize = 2000;
/// At most this many props are kept (Plausible: 30).
pub const MAX_PROPS: usize = 30;
/// Longest prop key, in bytes (Plausible: 300).
pub const MAX_PROP_KEY_BYTES: usize = 300;
/// Longest prop value, in bytes (Plausible: 2000).
pub const MAX_PROP_VALUE_BYTES: usize = 2000;
/// Engaged times at or above this many milliseconds (30 days) are ignored,
/// as Plausible does: old trackers sent huge values.
pub const MAX_ENGAGED_MS: u64 = 30 * 24 * 3600 * 1000;

/// Largest revenue amount accepted, in currency units (amounts are stored in
/// millionths in an `i64`, which holds about 9.2e12 units).
pub const MAX_REVENUE_UNITS: i64 = 1_000_000_000_000;

/// One tracker request's fields, validated but not yet normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload<'a> {
    /// Event name (`pageview` or a goal), as sent.
    pub name: Cow<'a, str>,
    /// Page URL, as sent (at most [`MAX_URL_BYTES`]).
    pub url: Cow<'a, str>,
    /// The site domain(s), comma-separated, as sent.
    pub domain: Cow<'a, str>,
    /// Referrer URL, cut to [`MAX_REFERRER_BYTES`]; empty when not sent.
    pub referrer: Cow<'a, str>,
    /// Props: filtered, at most [`MAX_PROPS`], sorted by key, keys unique.
    pub props: Vec<(String, String)>,
    /// Validated revenue (known currency, fixed-point amount).
    pub revenue: Option<Revenue>,
    /// `false` for events that must not count as interaction.
    pub interactive: bool,
    /// Whether the site routes by URL fragment (`#/page`).
    pub hash_mode: bool,
    /// Screen width in CSS pixels, when sent.
    pub screen_width: Option<u32>,
    /// The client's idempotency key, when sent.
    pub event_id: Option<u64>,
    /// For an engagement event (`name` is `engagement`): what it measured.
    pub engagement: Option<crate::Engagement>,
    /// Optional fields whose bad value was dropped rather than rejecting the event.
    pub dropped: Dropped,
}

/// The optional fields of a request that had a bad value and were dropped
/// (the event was kept without them), for counting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Dropped(u16);

impl Dropped {
    /// The long names of the fields dropped (`revenue`, `props`...).
    pub fn fields(self) -> impl Iterator<Item = &'static str> {
        Field::ALL
            .into_iter()
            .filter(move |f| self.0 & f.bit() != 0)
            .map(Field::name)
    }

    /// Whether nothing was dropped.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn add(&mut self, field: Field) {
        self.0 |= field.bit();
    }
}

/// Parses a Plausible Events API body (`application/json` or `text/plain`).
///
/// # Errors
/// [`Error::TooLarge`] above `max_bytes`; [`Error::Malformed`] when the body is
/// not one JSON object; otherwise the field-level errors of the module docs.
pub fn parse_body(body: &[u8], max_bytes: usize) -> Result<Payload<'_>> {
    if body.len() > max_bytes {
        return Err(Error::TooLarge {
            field: "body",
            limit: max_bytes,
            len: body.len(),
        });
    }
    let failed = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let raw = BodySeed { failed: &failed }
        .deserialize(&mut de)
        .and_then(|raw| de.end().map(|()| raw));
    match raw {
        Ok(raw) => raw.validate(),
        Err(err) => Err(match failed.take() {
            Some(Failure::Value(field)) if err.is_data() => Error::WrongType {
                field: field.name(),
                expected: field.expected(),
            },
            _ => Error::Malformed {
                field: "body",
                reason: err.to_string(),
            },
        }),
    }
}

/// Parses a pixel query string (`name=pageview&url=...&domain=...`), with or
/// without the leading `?`.
///
/// # Errors
/// As [`parse_body`], with `query` as the field of size errors.
pub fn parse_pixel(query: &str, max_bytes: usize) -> Result<Payload<'_>> {
    if query.len() > max_bytes {
        return Err(Error::TooLarge {
            field: "query",
            limit: max_bytes,
            len: query.len(),
        });
    }
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut raw = RawPayload::default();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let (field, rank) = Field::from_key(&key);
        if field == Field::Unknown || !raw.take(field, rank) {
            continue;
        }
        if value.is_empty() {
            continue;
        }
        match field {
            Field::Name => raw.name = Some(value),
            Field::Url => raw.url = Some(value),
            Field::Domain => raw.domain = Some(value),
            Field::Referrer => raw.referrer = Some(value),
            Field::Props => match parse_props_json(&value) {
                Ok(props) => raw.props = props,
                Err(_) => raw.drop_field(Field::Props),
            },
            Field::Revenue => match serde_json::from_str(&value) {
                Ok(revenue) => raw.revenue = Some(revenue),
                Err(_) => raw.drop_field(Field::Revenue),
            },
            Field::Interactive => match parse_flag(&value) {
                Some(flag) => raw.interactive = Some(flag),
                None => raw.drop_field(Field::Interactive),
            },
            Field::HashMode => match parse_flag(&value) {
                Some(flag) => raw.hash_mode = Some(flag),
                None => raw.drop_field(Field::HashMode),
            },
            Field::ScreenWidth => match value.parse() {
                Ok(width) => raw.screen_width = Some(width),
                Err(_) => raw.drop_field(Field::ScreenWidth),
            },
            Field::EventId => {
                raw.event_id = Some(value.parse().map_err(|_| Error::WrongType {
                    field: field.name(),
                    expected: field.expected(),
                })?);
            }
            Field::ScrollDepth => raw.scroll_depth = Loose::from_text(&value),
            Field::EngagedTime => raw.engaged_time = Loose::from_text(&value),
            Field::Unknown => {}
        }
    }
    raw.validate()
}

fn parse_flag(value: &str) -> Option<bool> {
    match value {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Props given as a JSON string (in a body's `props` or the pixel's).
fn parse_props_json(text: &str) -> serde_json::Result<Vec<(String, Option<String>)>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let props = RawProps::deserialize(&mut de)?;
    de.end()?;
    Ok(props.0)
}

/// The keys a request may carry, under their long names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Name,
    Url,
    Domain,
    Referrer,
    Props,
    Revenue,
    Interactive,
    HashMode,
    ScreenWidth,
    EventId,
    ScrollDepth,
    EngagedTime,
    Unknown,
}

impl Field {
    const ALL: [Field; 12] = [
        Field::Name,
        Field::Url,
        Field::Domain,
        Field::Referrer,
        Field::Props,
        Field::Revenue,
        Field::Interactive,
        Field::HashMode,
        Field::ScreenWidth,
        Field::EventId,
        Field::ScrollDepth,
        Field::EngagedTime,
    ];

    /// The field a key names and its rank: when a request gives a field under
    /// several names, the lowest rank wins (Plausible reads `n || name`,
    /// `m || meta || p || props`).
    fn from_key(key: &str) -> (Field, u8) {
        match key {
            "n" => (Field::Name, 0),
            "name" => (Field::Name, 1),
            "u" => (Field::Url, 0),
            "url" => (Field::Url, 1),
            "d" => (Field::Domain, 0),
            "domain" => (Field::Domain, 1),
            "r" => (Field::Referrer, 0),
            "referrer" => (Field::Referrer, 1),
            "m" => (Field::Props, 0),
            "meta" => (Field::Props, 1),
            "p" => (Field::Props, 2),
            "props" => (Field::Props, 3),
            "$" => (Field::Revenue, 0),
            "revenue" => (Field::Revenue, 1),
            "i" => (Field::Interactive, 0),
            "interactive" => (Field::Interactive, 1),
            "h" => (Field::HashMode, 0),
            "hashMode" => (Field::HashMode, 1),
            "w" => (Field::ScreenWidth, 0),
            "screen_width" => (Field::ScreenWidth, 1),
            "event_id" => (Field::EventId, 0),
            "sd" => (Field::ScrollDepth, 0),
            "e" => (Field::EngagedTime, 0),
            _ => (Field::Unknown, 0),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Url => "url",
            Field::Domain => "domain",
            Field::Referrer => "referrer",
            Field::Props => "props",
            Field::Revenue => "revenue",
            Field::Interactive => "interactive",
            Field::HashMode => "hashMode",
            Field::ScreenWidth => "screen_width",
            Field::EventId => "event_id",
            Field::ScrollDepth => "sd",
            Field::EngagedTime => "e",
            Field::Unknown => "unknown",
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Field::Name => "a string or an integer",
            Field::Url | Field::Domain => "a string",
            Field::Referrer => "a string or null",
            Field::Props => "an object of scalar values, or a JSON string of one",
            Field::Revenue => "an object {\"currency\": string, \"amount\": number or string}",
            Field::Interactive => "a boolean",
            Field::HashMode => "a boolean or 0/1",
            Field::ScreenWidth => "a non-negative integer below 2^32",
            Field::EventId => "an unsigned 64-bit integer (number or decimal string)",
            Field::ScrollDepth | Field::EngagedTime => "an integer or an integer string",
            Field::Unknown => "anything",
        }
    }

    fn bit(self) -> u16 {
        // `Field::Unknown` is never stored.
        1 << (self as u16)
    }
}

/// The fields as deserialized, before validation.
#[derive(Default)]
struct RawPayload<'a> {
    /// Per field, one more than the rank of the key its value came from (0: none yet).
    ranks: [u8; Field::ALL.len()],
    dropped: Dropped,
    scroll_depth: Loose,
    engaged_time: Loose,
    name: Option<Cow<'a, str>>,
    url: Option<Cow<'a, str>>,
    domain: Option<Cow<'a, str>>,
    referrer: Option<Cow<'a, str>>,
    props: Vec<(String, Option<String>)>,
    revenue: Option<RawRevenue>,
    interactive: Option<bool>,
    hash_mode: Option<bool>,
    screen_width: Option<u32>,
    event_id: Option<u64>,
}

impl<'a> RawPayload<'a> {
    /// Whether a value under a key of `rank` replaces what `field` holds:
    /// yes unless it came from a key that takes precedence.
    fn take(&mut self, field: Field, rank: u8) -> bool {
        let Some(slot) = self.ranks.get_mut(field as usize) else {
            return false;
        };
        if *slot != 0 && *slot <= rank {
            return *slot == rank + 1;
        }
        *slot = rank + 1;
        // A value from a better key replaces a dropped one.
        self.dropped.0 &= !field.bit();
        true
    }

    fn drop_field(&mut self, field: Field) {
        self.dropped.add(field);
    }

    fn validate(mut self) -> Result<Payload<'a>> {
        let required = |value: Option<Cow<'a, str>>, field: &'static str| match value {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(Error::Missing { field }),
        };
        let name = required(self.name, "name")?;
        let name_chars = name.chars().count();
        if name_chars > MAX_NAME_CHARS {
            return Err(Error::TooLong {
                field: "name",
                limit: MAX_NAME_CHARS,
                len: name_chars,
                unit: "characters",
            });
        }
        let url = required(self.url, "url")?;
        if url.len() > MAX_URL_BYTES {
            return Err(Error::TooLong {
                field: "url",
                limit: MAX_URL_BYTES,
                len: url.len(),
                unit: "bytes",
            });
        }
        // Missing: the ingestor takes the site from the URL, as Plausible
        // does; present but blank is an error, as in Plausible.
        let domain = match self.domain {
            Some(d) if d.trim().is_empty() => return Err(Error::Missing { field: "domain" }),
            Some(d) => d,
            None => Cow::Borrowed(""),
        };
        let referrer = match self.referrer {
            Some(Cow::Borrowed(r)) => Cow::Borrowed(truncate(r, MAX_REFERRER_BYTES)),
            Some(Cow::Owned(mut r)) => {
                let keep = truncate(&r, MAX_REFERRER_BYTES).len();
                r.truncate(keep);
                Cow::Owned(r)
            }
            None => Cow::Borrowed(""),
        };
        let engagement = if *name == *crate::ENGAGEMENT {
            let scroll_depth = self.scroll_depth.integer().and_then(|sd| {
                // Plausible clamps to 100 and ignores negative values.
                u8::try_from(sd.clamp(-1, 100)).ok()
            });
            let engaged_ms = self
                .engaged_time
                .integer()
                .and_then(|e| u64::try_from(e).ok())
                .filter(|&e| e < MAX_ENGAGED_MS);
            if scroll_depth.is_none() && engaged_ms.is_none() {
                return Err(Error::Invalid {
                    field: "engagement",
                    reason: "an engagement event needs a valid integer `sd` or `e`".to_owned(),
                });
            }
            Some(crate::Engagement {
                scroll_depth,
                engaged_ms: engaged_ms.unwrap_or(0),
            })
        } else {
            None
        };
        let revenue = match self.revenue.map(RawRevenue::validate) {
            Some(Ok(revenue)) => Some(revenue),
            Some(Err(_)) => {
                self.dropped.add(Field::Revenue);
                None
            }
            None => None,
        };
        Ok(Payload {
            name,
            url,
            domain,
            referrer,
            props: validate_props(self.props)?,
            revenue,
            interactive: self.interactive.unwrap_or(true),
            hash_mode: self.hash_mode.unwrap_or(false),
            screen_width: self.screen_width,
            event_id: self.event_id,
            engagement,
            dropped: self.dropped,
        })
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

fn validate_props(raw: Vec<(String, Option<String>)>) -> Result<Vec<(String, String)>> {
    let mut props: Vec<(String, String)> = raw
        .into_iter()
        .filter_map(|(k, v)| {
            let v = v?;
            (!k.trim_start().is_empty() && !v.trim_start().is_empty()).then_some((k, v))
        })
        .collect();
    // Stable sort, then keep the last of equal keys (JSON's "last one wins").
    props.sort_by(|a, b| a.0.cmp(&b.0));
    let mut unique: Vec<(String, String)> = Vec::with_capacity(props.len().min(MAX_PROPS));
    for (k, v) in props {
        if let Some(last) = unique.last_mut().filter(|last| last.0 == k) {
            last.1 = v;
        } else if unique.len() == MAX_PROPS {
            break;
        } else {
            unique.push((k, v));
        }
    }
    for (k, v) in &unique {
        if k.len() > MAX_PROP_KEY_BYTES {
            return Err(Error::TooLong {
                field: "props",
                limit: MAX_PROP_KEY_BYTES,
                len: k.len(),
                unit: "bytes (key)",
            });
        }
        if v.len() > MAX_PROP_VALUE_BYTES {
            return Err(Error::TooLong {
                field: "props",
                limit: MAX_PROP_VALUE_BYTES,
                len: v.len(),
                unit: "bytes (value)",
            });
        }
    }
    Ok(unique)
}

// ---------------------------------------------------------------------------
// Revenue.

#[derive(Deserialize)]
struct RawRevenue {
    currency: String,
    amount: Amount,
}

/// A revenue amount as text, exactly as written (JSON numbers keep their
/// shortest decimal form, so `12.3` stays `12.3`).
struct Amount(String);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Amount, D::Error> {
        struct AmountVisitor;
        impl Visitor<'_> for AmountVisitor {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a decimal string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
                Ok(Amount(v.to_owned()))
            }
        }
        deserializer.deserialize_any(AmountVisitor)
    }
}

impl RawRevenue {
    fn validate(self) -> Result<Revenue> {
        let currency = self.currency.trim().to_ascii_uppercase();
        if !is_currency(&currency) {
            return Err(Error::Invalid {
                field: "revenue",
                reason: format!("currency {:?} is not an ISO 4217 code", self.currency),
            });
        }
        let amount_micros = parse_micros(self.amount.0.trim()).ok_or_else(|| Error::Invalid {
            field: "revenue",
            reason: format!(
                "amount {:?} is not a decimal number of at most {MAX_REVENUE_UNITS} units",
                self.amount.0
            ),
        })?;
        Ok(Revenue {
            currency,
            amount_micros,
        })
    }
}

/// Parses a plain decimal (`-12.5`, `3`, `0.30000000000000004`) into
/// millionths, rounding half away from zero at the seventh decimal. No
/// exponents, no thousands separators; `None` beyond [`MAX_REVENUE_UNITS`].
pub(crate) fn parse_micros(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int = int.trim_start_matches('0');
    if int.len() > 13 {
        return None;
    }
    let mut micros: i64 = 0;
    for b in int.bytes() {
        micros = micros.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    if micros > MAX_REVENUE_UNITS {
        return None;
    }
    let mut frac_digits = frac.bytes();
    for _ in 0..6 {
        let digit = frac_digits.next().map_or(0, |b| i64::from(b - b'0'));
        micros = micros.checked_mul(10)?.checked_add(digit)?;
    }
    if frac_digits.next().is_some_and(|b| b >= b'5') {
        micros = micros.checked_add(1)?;
    }
    Some(if negative { -micros } else { micros })
}

/// Active ISO 4217 currency codes (and the precious-metal/SDR codes a shop
/// would not use are left out), sorted for binary search.
const CURRENCIES: [&str; 157] = [
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VED", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW",
    "ZWG",
];

/// Whether `code` is an active ISO 4217 currency code (upper case).
pub fn is_currency(code: &str) -> bool {
    CURRENCIES.binary_search(&code).is_ok()
}

// ---------------------------------------------------------------------------
// The JSON body: a hand-written visitor, so that strings stay borrowed from
// the body and a type error knows its field.

#[derive(Clone, Copy)]
enum Failure {
    Value(Field),
}

struct BodySeed<'a> {
    failed: &'a Cell<Option<Failure>>,
}

impl<'de> DeserializeSeed<'de> for BodySeed<'_> {
    type Value = RawPayload<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

/// A body key: the field it names and its rank ([`Field::from_key`]).
struct KeyOf(Field, u8);

impl<'de> Deserialize<'de> for KeyOf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<KeyOf, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = KeyOf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyOf, E> {
                let (field, rank) = Field::from_key(v);
                Ok(KeyOf(field, rank))
            }
        }
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

/// Any JSON value, skipped through `deserialize_any` so that `serde_json`'s
/// recursion limit applies ([`IgnoredAny`] skips nesting of any depth, so a
/// body nested 60,000 levels deep would be walked to the end).
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Skip, D::Error> {
        struct SkipVisitor;
        impl<'de> Visitor<'de> for SkipVisitor {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(Skip)
            }
        }
        deserializer.deserialize_any(SkipVisitor)
    }
}

/// A value of type `T`, or `None` when the JSON value has another type: for
/// the rare optional fields (revenue, flags, width) whose bad value is
/// dropped. The value is buffered as a `serde_json::Value` first (bounded by
/// the body size and `serde_json`'s recursion limit).
struct Lenient<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Lenient<T>, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(Lenient(T::deserialize(value).ok()))
    }
}

/// Props as a body field: an object, a JSON string of one, or `null`;
/// `None` for any other value (dropped, as Plausible does).
struct PropsField(Option<Vec<(String, Option<String>)>>);

impl<'de> Deserialize<'de> for PropsField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PropsField, D::Error> {
        struct PropsFieldVisitor;
        impl<'de> Visitor<'de> for PropsFieldVisitor {
            type Value = PropsField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("props")
            }
            fn visit_unit<E: de::Error>(self) -> Result<PropsField, E> {
                Ok(PropsField(Some(Vec::new())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PropsField, E> {
                Ok(PropsField(parse_props_json(v).ok()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<PropsField, E> {
                Ok(PropsField(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<PropsField, E> {
                Ok(PropsField(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<PropsField, E> {
                Ok(PropsField(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<PropsField, E> {
                Ok(PropsField(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PropsField, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(PropsField(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PropsField, A::Error> {
                let props = RawProps::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(PropsField(Some(props.0)))
            }
        }
        deserializer.deserialize_any(PropsFieldVisitor)
    }
}

/// A string, borrowed when it has no escapes; `Some(None)` for `null` and
/// `None` for any other value (dropped).
struct MaybeText<'de>(Option<Option<Cow<'de, str>>>);

impl<'de> Deserialize<'de> for MaybeText<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MaybeText<'de>, D::Error> {
        struct MaybeTextVisitor;
        impl<'de> Visitor<'de> for MaybeTextVisitor {
            type Value = MaybeText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(Some(Some(Cow::Borrowed(v)))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(Some(Some(Cow::Owned(v.to_owned())))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(Some(None)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeText<'de>, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(MaybeText(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeText<'de>, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(MaybeText(None))
            }
        }
        deserializer.deserialize_any(MaybeTextVisitor)
    }
}

/// An event name: a string, or an integer (Plausible accepts `404`).
struct Name<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Name<'de>, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Name<'de>, E> {
                Ok(Name(Some(Cow::Owned(v))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Name<'de>, E> {
                Ok(Name(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Name<'de>, E> {
                Ok(Name(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Name<'de>, E> {
                Ok(Name(None))
            }
        }
        deserializer.deserialize_any(NameVisitor)
    }
}

/// An integer sent as a number or as an integer string (`sd`, `e`); `None`
/// for anything else.
#[derive(Default, Clone, Copy)]
struct Loose(Option<i64>);

impl Loose {
    fn from_text(text: &str) -> Loose {
        Loose(text.trim().parse().ok())
    }

    fn integer(self) -> Option<i64> {
        self.0
    }
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Loose, D::Error> {
        struct LooseVisitor;
        impl<'de> Visitor<'de> for LooseVisitor {
            type Value = Loose;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or an integer string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Loose, E> {
                Ok(Loose(Some(i64::try_from(v).unwrap_or(i64::MAX))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Loose, E> {
                Ok(Loose(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose, E> {
                Ok(Loose::from_text(v))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Loose, E> {
                Ok(Loose(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Loose, E> {
                Ok(Loose(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Loose, E> {
                Ok(Loose(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Loose(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(Loose(None))
            }
        }
        deserializer.deserialize_any(LooseVisitor)
    }
}

/// Revenue as an object or a JSON string of one (Plausible accepts both).
struct RevenueValue(Option<RawRevenue>);

impl<'de> Deserialize<'de> for RevenueValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RevenueValue, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Object(Option<RawRevenue>),
            Text(String),
        }
        Ok(match Either::deserialize(deserializer)? {
            Either::Object(revenue) => RevenueValue(revenue),
            Either::Text(text) => RevenueValue(Some(
                serde_json::from_str(&text).map_err(de::Error::custom)?,
            )),
        })
    }
}

/// A string borrowed from the input when it has no escapes; `null` is `None`.
struct Text<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text<'de>, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// `true`/`false`, `0`/`1` (Plausible's script sends `h: 1`), or `null`.
struct Flag(Option<bool>);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Flag, D::Error> {
        struct FlagVisitor;
        impl Visitor<'_> for FlagVisitor {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean or 0/1")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(Some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Flag, E> {
                match v {
                    0 => Ok(Flag(Some(false))),
                    1 => Ok(Flag(Some(true))),
                    _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(None))
            }
        }
        deserializer.deserialize_any(FlagVisitor)
    }
}

/// Props as sent: key and value, the value `None` when it is to be dropped
/// (null, list, object). As an object, a JSON string of one, or `null`.
struct RawProps(Vec<(String, Option<String>)>);

/// One prop value: scalars become strings, everything else `None`.
struct PropValue(Option<String>);

impl<'de> Deserialize<'de> for PropValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PropValue, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = PropValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a prop value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PropValue, E> {
                Ok(PropValue(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<PropValue, E> {
                Ok(PropValue(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<PropValue, E> {
                Ok(PropValue(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PropValue, E> {
                Ok(PropValue(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PropValue, E> {
                Ok(PropValue(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PropValue, E> {
                Ok(PropValue(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<PropValue, E> {
                Ok(PropValue(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PropValue, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(PropValue(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PropValue, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(PropValue(None))
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// At most this many raw entries are read from a props object before the
/// rest is skipped: bounds the work on a hostile body (the body ceiling
/// bounds it too), while leaving room for dropped entries.
const MAX_RAW_PROPS: usize = 4 * MAX_PROPS;

impl<'de> Deserialize<'de> for RawProps {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawProps, D::Error> {
        struct PropsVisitor;
        impl<'de> Visitor<'de> for PropsVisitor {
            type Value = RawProps;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of scalar values, or a JSON string of one")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawProps, E> {
                Ok(RawProps(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawProps, A::Error> {
                let mut props = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value::<PropValue>()?;
                    if props.len() < MAX_RAW_PROPS {
                        props.push((key, value.0));
                    }
                }
                Ok(RawProps(props))
            }
        }
        deserializer.deserialize_any(PropsVisitor)
    }
}

impl<'de> Visitor<'de> for BodySeed<'_> {
    type Value = RawPayload<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawPayload<'de>, A::Error> {
        let mut raw = RawPayload::default();
        while let Some(KeyOf(field, rank)) = map.next_key::<KeyOf>()? {
            if field == Field::Unknown || !raw.take(field, rank) {
                map.next_value::<Skip>()?;
                continue;
            }
            self.failed.set(Some(Failure::Value(field)));
            match field {
                Field::Name => raw.name = map.next_value::<Name<'de>>()?.0,
                Field::Url => raw.url = map.next_value::<Text<'de>>()?.0,
                Field::Domain => raw.domain = map.next_value::<Text<'de>>()?.0,
                Field::Referrer => match map.next_value::<MaybeText<'de>>()?.0 {
                    Some(text) => raw.referrer = text,
                    None => raw.drop_field(field),
                },
                Field::Props => match map.next_value::<PropsField>()?.0 {
                    Some(props) => raw.props = props,
                    None => {
                        raw.props.clear();
                        raw.drop_field(field);
                    }
                },
                Field::Revenue => match map.next_value::<Lenient<RevenueValue>>()?.0 {
                    Some(revenue) => raw.revenue = revenue.0,
                    None => raw.drop_field(field),
                },
                Field::Interactive => match map.next_value::<Lenient<Option<bool>>>()?.0 {
                    Some(flag) => raw.interactive = flag,
                    None => raw.drop_field(field),
                },
                Field::HashMode => match map.next_value::<Lenient<Flag>>()?.0 {
                    Some(flag) => raw.hash_mode = flag.0,
                    None => raw.drop_field(field),
                },
                Field::ScreenWidth => match map.next_value::<Lenient<Option<u32>>>()?.0 {
                    Some(width) => raw.screen_width = width,
                    None => raw.drop_field(field),
                },
                Field::EventId => raw.event_id = map.next_value::<OptU64>()?.0,
                Field::ScrollDepth => raw.scroll_depth = map.next_value::<Loose>()?,
                Field::EngagedTime => raw.engaged_time = map.next_value::<Loose>()?,
                Field::Unknown => {}
            }
            self.failed.set(None);
        }
        Ok(raw)
    }
}
