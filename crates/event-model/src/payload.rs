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
//! | `name`         | `n`   | string, required, ≤ 120 characters             |
//! | `url`          | `u`   | string, required, ≤ 2000 bytes                 |
//! | `domain`       | `d`   | string, required; comma-separated = several sites |
//! | `referrer`     | `r`   | string or null; cut at 2000 bytes              |
//! | `props`        | `p`, `meta`, `m` | object, or a JSON string of one     |
//! | `revenue`      | `$`   | `{"currency": "EUR", "amount": 12.5}` (amount may be a string) |
//! | `interactive`  | `i`   | boolean, default `true`                        |
//! | `hashMode`     | `h`   | boolean or `0`/`1`                             |
//! | `screen_width` | `w`   | non-negative integer (CSS pixels)              |
//! | `event_id`     |       | u64 as a number or decimal string: the client's idempotency key |
//!
//! Unknown fields are ignored. A field given twice (`name` and `n`) is an
//! error. In the pixel query the values are strings: booleans are
//! `true`/`false`/`1`/`0`, props and revenue are JSON strings.
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
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

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
            Some(Failure::Duplicate(field)) => Error::Duplicate {
                field: field.name(),
            },
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
        let field = Field::from_key(&key);
        if field == Field::Unknown {
            continue;
        }
        raw.mark(field)?;
        if value.is_empty() {
            continue;
        }
        let wrong = || Error::WrongType {
            field: field.name(),
            expected: field.expected(),
        };
        match field {
            Field::Name => raw.name = Some(value),
            Field::Url => raw.url = Some(value),
            Field::Domain => raw.domain = Some(value),
            Field::Referrer => raw.referrer = Some(value),
            Field::Props => raw.props = parse_props_json(&value).map_err(|_| wrong())?,
            Field::Revenue => {
                raw.revenue = Some(serde_json::from_str(&value).map_err(|_| wrong())?);
            }
            Field::Interactive => raw.interactive = Some(parse_flag(&value).ok_or_else(wrong)?),
            Field::HashMode => raw.hash_mode = Some(parse_flag(&value).ok_or_else(wrong)?),
            Field::ScreenWidth => raw.screen_width = Some(value.parse().map_err(|_| wrong())?),
            Field::EventId => raw.event_id = Some(value.parse().map_err(|_| wrong())?),
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
    Unknown,
}

impl Field {
    fn from_key(key: &str) -> Field {
        match key {
            "name" | "n" => Field::Name,
            "url" | "u" => Field::Url,
            "domain" | "d" => Field::Domain,
            "referrer" | "r" => Field::Referrer,
            "props" | "p" | "meta" | "m" => Field::Props,
            "revenue" | "$" => Field::Revenue,
            "interactive" | "i" => Field::Interactive,
            "hashMode" | "h" => Field::HashMode,
            "screen_width" | "w" => Field::ScreenWidth,
            "event_id" => Field::EventId,
            _ => Field::Unknown,
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
            Field::Unknown => "unknown",
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Field::Name | Field::Url | Field::Domain => "a string",
            Field::Referrer => "a string or null",
            Field::Props => "an object of scalar values, or a JSON string of one",
            Field::Revenue => "an object {\"currency\": string, \"amount\": number or string}",
            Field::Interactive => "a boolean",
            Field::HashMode => "a boolean or 0/1",
            Field::ScreenWidth => "a non-negative integer below 2^32",
            Field::EventId => "an unsigned 64-bit integer (number or decimal string)",
            Field::Unknown => "anything",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// The fields as deserialized, before validation.
#[derive(Default)]
struct RawPayload<'a> {
    seen: u16,
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
    fn mark(&mut self, field: Field) -> Result<()> {
        if self.seen & field.bit() != 0 {
            return Err(Error::Duplicate {
                field: field.name(),
            });
        }
        self.seen |= field.bit();
        Ok(())
    }

    fn validate(self) -> Result<Payload<'a>> {
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
        let domain = required(self.domain, "domain")?;
        let referrer = match self.referrer {
            Some(Cow::Borrowed(r)) => Cow::Borrowed(truncate(r, MAX_REFERRER_BYTES)),
            Some(Cow::Owned(mut r)) => {
                let keep = truncate(&r, MAX_REFERRER_BYTES).len();
                r.truncate(keep);
                Cow::Owned(r)
            }
            None => Cow::Borrowed(""),
        };
        Ok(Payload {
            name,
            url,
            domain,
            referrer,
            props: validate_props(self.props)?,
            revenue: self.revenue.map(RawRevenue::validate).transpose()?,
            interactive: self.interactive.unwrap_or(true),
            hash_mode: self.hash_mode.unwrap_or(false),
            screen_width: self.screen_width,
            event_id: self.event_id,
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
    Duplicate(Field),
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

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Field, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(Field::from_key(v))
            }
        }
        deserializer.deserialize_identifier(FieldVisitor)
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
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(PropValue(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PropValue, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
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
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawProps, E> {
                parse_props_json(v).map(RawProps).map_err(|_| {
                    E::invalid_value(
                        de::Unexpected::Str("a string that is not a JSON object"),
                        &self,
                    )
                })
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
        while let Some(field) = map.next_key::<Field>()? {
            if field == Field::Unknown {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if raw.mark(field).is_err() {
                self.failed.set(Some(Failure::Duplicate(field)));
                return Err(de::Error::custom("duplicate field"));
            }
            self.failed.set(Some(Failure::Value(field)));
            match field {
                Field::Name => raw.name = map.next_value::<Text<'de>>()?.0,
                Field::Url => raw.url = map.next_value::<Text<'de>>()?.0,
                Field::Domain => raw.domain = map.next_value::<Text<'de>>()?.0,
                Field::Referrer => raw.referrer = map.next_value::<Text<'de>>()?.0,
                Field::Props => raw.props = map.next_value::<RawProps>()?.0,
                Field::Revenue => raw.revenue = map.next_value::<Option<RawRevenue>>()?,
                Field::Interactive => raw.interactive = map.next_value::<Option<bool>>()?,
                Field::HashMode => raw.hash_mode = map.next_value::<Flag>()?.0,
                Field::ScreenWidth => raw.screen_width = map.next_value::<Option<u32>>()?,
                Field::EventId => raw.event_id = map.next_value::<OptU64>()?.0,
                Field::Unknown => {}
            }
            self.failed.set(None);
        }
        Ok(raw)
    }
}
