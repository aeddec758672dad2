//! The NDJSON exchange format: one enriched [`Event`] per line, the format of
//! imports, exports and the benchmark stream (`docs/wire-format.md`, section
//! "NDJSON exchange format").
//!
//! A line is a flat JSON object. The sixteen keys of the benchmark stream
//! (`../shared/bench/README.md`) are always written, in this order:
//!
//! ```json
//! {"event_id":13012289629555608883,"timestamp":1704067211675,"domain":"shop.example.com",
//!  "name":"pageview","pathname":"/changelog/item-497","referrer_source":"t.co","utm_source":"",
//!  "utm_medium":"","utm_campaign":"","country_code":"RS","browser":"Safari","os":"iOS",
//!  "device":"Mobile","screen_width":"<576","visitor_id":17142524813059115016,
//!  "session_id":5746558340338689122}
//! ```
//!
//! (`session_id` is `null` for events fresh from a tracker, which have none),
//! followed by the fields the benchmark format lacks, each written only when it
//! differs from the value a reader assumes when the key is missing: `channel`
//! (always written, e.g. `"Organic Search"`), `hostname`, `referrer`,
//! `utm_content`, `utm_term`, `browser_version`, `os_version`, `props` (an
//! object of strings, sorted by key), `revenue`
//! (`{"currency":"EUR","amount_micros":12500000}`), `interactive` (only
//! `false` is written), `previous_visitor_id`, and for engagement events
//! `scroll_depth` (percent, `null` when not measured) and `engagement_time`
//! (milliseconds), Plausible's column names; either key makes the line an
//! engagement event.
//!
//! Reading rules:
//! - `event_id`, `timestamp`, `domain`, `name` and `visitor_id` are required.
//! - The 64-bit ids are read as exact `u64` (never through `f64`), as JSON
//!   numbers or as decimal strings.
//! - Every other key may be missing or `null`; an empty string means absent.
//! - Unknown keys are skipped, so newer writers stay readable by older readers.
//! - A key that appears twice is an error, as is a value of the wrong type;
//!   the error names the field.
//! - When `channel` is missing (a benchmark-format line), it is derived by
//!   [`referrer::channel`](crate::referrer::channel) from `referrer_source`
//!   and the UTM fields (the click id is not in the line).

use std::cell::Cell;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::event::{Channel, Device, Event, Revenue};

/// Why one NDJSON line could not be read. Each variant names the field where
/// that is possible, so an import can report "line 17: field `timestamp`: ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NdjsonError {
    /// The line is not a single JSON object.
    #[error("not a JSON object: {reason}")]
    Syntax {
        /// What the JSON parser reported (with the column).
        reason: String,
    },
    /// A required field is missing (or `null`).
    #[error("missing required field `{field}`")]
    Missing {
        /// The field's key.
        field: &'static str,
    },
    /// A field appears twice in the same line.
    #[error("duplicate field `{field}`")]
    Duplicate {
        /// The field's key.
        field: &'static str,
    },
    /// A field has the wrong type or an invalid value.
    #[error("field `{field}`: {reason}")]
    Invalid {
        /// The field's key.
        field: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
}

/// Parses one NDJSON line (without or with its trailing newline) into an [`Event`].
///
/// # Errors
/// [`NdjsonError`] naming the field when the line is not a JSON object, a
/// required field is missing, a field repeats, or a value has the wrong type.
pub fn parse_line(line: &str) -> Result<Event, NdjsonError> {
    let failed = Cell::new(None);
    let mut de = serde_json::Deserializer::from_str(line);
    let result = LineSeed { failed: &failed }
        .deserialize(&mut de)
        .and_then(|event| de.end().map(|()| event));
    match result {
        Ok(event) => Ok(event),
        Err(err) => Err(match failed.take() {
            Some(Failure::Missing(field)) => NdjsonError::Missing { field },
            Some(Failure::Duplicate(field)) => NdjsonError::Duplicate { field },
            Some(Failure::Invalid(field)) => NdjsonError::Invalid {
                field,
                reason: strip_position(&err),
            },
            None => NdjsonError::Syntax {
                reason: err.to_string(),
            },
        }),
    }
}

/// serde_json appends " at line 1 column N" to value errors; the field name is
/// the better locator, so keep only the message.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text.get(..at).unwrap_or(&text).to_owned(),
        None => text,
    }
}

/// Appends `event` as one NDJSON line, terminated by `'\n'`, to `out`.
pub fn write_line(event: &Event, out: &mut String) {
    out.push_str("{\"event_id\":");
    push_u64(out, event.event_id);
    out.push_str(",\"timestamp\":");
    push_u64(out, event.timestamp_ms);
    push_str_field(out, "domain", &event.site);
    push_str_field(out, "name", &event.name);
    push_str_field(out, "pathname", &event.pathname);
    push_str_field(out, "referrer_source", &event.source);
    push_str_field(out, "utm_source", &event.utm_source);
    push_str_field(out, "utm_medium", &event.utm_medium);
    push_str_field(out, "utm_campaign", &event.utm_campaign);
    push_str_field(out, "country_code", &event.country_code);
    push_str_field(out, "browser", &event.browser);
    push_str_field(out, "os", &event.os);
    push_str_field(out, "device", event.device.as_str());
    push_str_field(out, "screen_width", &event.screen);
    out.push_str(",\"visitor_id\":");
    push_u64(out, event.visitor_id);
    out.push_str(",\"session_id\":");
    match event.session_id {
        Some(id) => push_u64(out, id),
        None => out.push_str("null"),
    }
    // Fields beyond the benchmark format: written when they differ from what a
    // reader assumes for a missing key.
    push_str_field(out, "channel", event.channel.as_str());
    push_optional_str_field(out, "hostname", &event.hostname);
    push_optional_str_field(out, "referrer", &event.referrer);
    push_optional_str_field(out, "utm_content", &event.utm_content);
    push_optional_str_field(out, "utm_term", &event.utm_term);
    push_optional_str_field(out, "browser_version", &event.browser_version);
    push_optional_str_field(out, "os_version", &event.os_version);
    if !event.props.is_empty() {
        out.push_str(",\"props\":{");
        for (i, (key, value)) in event.props.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_str(out, key);
            out.push(':');
            push_json_str(out, value);
        }
        out.push('}');
    }
    if let Some(revenue) = &event.revenue {
        out.push_str(",\"revenue\":{\"currency\":");
        push_json_str(out, &revenue.currency);
        out.push_str(",\"amount_micros\":");
        if revenue.amount_micros < 0 {
            out.push('-');
        }
        push_u64(out, revenue.amount_micros.unsigned_abs());
        out.push('}');
    }
    if !event.interactive {
        out.push_str(",\"interactive\":false");
    }
    if let Some(id) = event.previous_visitor_id {
        out.push_str(",\"previous_visitor_id\":");
        push_u64(out, id);
    }
    if let Some(engagement) = event.engagement {
        out.push_str(",\"scroll_depth\":");
        match engagement.scroll_depth {
            Some(sd) => push_u64(out, u64::from(sd)),
            None => out.push_str("null"),
        }
        out.push_str(",\"engagement_time\":");
        push_u64(out, engagement.engaged_ms);
    }
    out.push_str("}\n");
}

fn push_str_field(out: &mut String, key: &str, value: &str) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
    push_json_str(out, value);
}

fn push_optional_str_field(out: &mut String, key: &str, value: &str) {
    if !value.is_empty() {
        push_str_field(out, key, value);
    }
}

fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        // `n % 10 < 10`, so the cast cannot truncate.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "a decimal digit fits in u8"
        )]
        let digit = (n % 10) as u8;
        if let Some(slot) = buf.get_mut(at) {
            *slot = b'0' + digit;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    for &b in buf.get(at..).unwrap_or(&[]) {
        out.push(char::from(b));
    }
}

/// Writes `s` as a JSON string literal: quotes, backslashes and control
/// characters escaped; everything else (UTF-8 included) as is.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or(""));
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or(""));
    out.push('"');
}

// ---------------------------------------------------------------------------
// Reading: a hand-written serde visitor over the line's keys, so that values
// go straight into the `Event` (no intermediate map) and errors know the field.

#[derive(Clone, Copy)]
enum Failure {
    Missing(&'static str),
    Duplicate(&'static str),
    Invalid(&'static str),
}

struct LineSeed<'a> {
    failed: &'a Cell<Option<Failure>>,
}

impl<'de> DeserializeSeed<'de> for LineSeed<'_> {
    type Value = Event;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Event, D::Error> {
        deserializer.deserialize_map(self)
    }
}

/// The keys a line may carry; `Unknown` is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    EventId,
    Timestamp,
    Domain,
    Name,
    Pathname,
    ReferrerSource,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    CountryCode,
    Browser,
    Os,
    Device,
    ScreenWidth,
    VisitorId,
    SessionId,
    Channel,
    Hostname,
    Referrer,
    UtmContent,
    UtmTerm,
    BrowserVersion,
    OsVersion,
    Props,
    Revenue,
    Interactive,
    PreviousVisitorId,
    ScrollDepth,
    EngagementTime,
    Unknown,
}

const KEYS: [(&str, Key); 29] = [
    ("event_id", Key::EventId),
    ("timestamp", Key::Timestamp),
    ("domain", Key::Domain),
    ("name", Key::Name),
    ("pathname", Key::Pathname),
    ("referrer_source", Key::ReferrerSource),
    ("utm_source", Key::UtmSource),
    ("utm_medium", Key::UtmMedium),
    ("utm_campaign", Key::UtmCampaign),
    ("country_code", Key::CountryCode),
    ("browser", Key::Browser),
    ("os", Key::Os),
    ("device", Key::Device),
    ("screen_width", Key::ScreenWidth),
    ("visitor_id", Key::VisitorId),
    ("session_id", Key::SessionId),
    ("channel", Key::Channel),
    ("hostname", Key::Hostname),
    ("referrer", Key::Referrer),
    ("utm_content", Key::UtmContent),
    ("utm_term", Key::UtmTerm),
    ("browser_version", Key::BrowserVersion),
    ("os_version", Key::OsVersion),
    ("props", Key::Props),
    ("revenue", Key::Revenue),
    ("interactive", Key::Interactive),
    ("previous_visitor_id", Key::PreviousVisitorId),
    ("scroll_depth", Key::ScrollDepth),
    ("engagement_time", Key::EngagementTime),
];

impl Key {
    fn from_name(name: &str) -> Key {
        // A `match` compiles to a length switch and few comparisons; this
        // runs for every key of every line (10M-line imports).
        match name {
            "event_id" => Key::EventId,
            "timestamp" => Key::Timestamp,
            "domain" => Key::Domain,
            "name" => Key::Name,
            "pathname" => Key::Pathname,
            "referrer_source" => Key::ReferrerSource,
            "utm_source" => Key::UtmSource,
            "utm_medium" => Key::UtmMedium,
            "utm_campaign" => Key::UtmCampaign,
            "country_code" => Key::CountryCode,
            "browser" => Key::Browser,
            "os" => Key::Os,
            "device" => Key::Device,
            "screen_width" => Key::ScreenWidth,
            "visitor_id" => Key::VisitorId,
            "session_id" => Key::SessionId,
            "channel" => Key::Channel,
            "hostname" => Key::Hostname,
            "referrer" => Key::Referrer,
            "utm_content" => Key::UtmContent,
            "utm_term" => Key::UtmTerm,
            "browser_version" => Key::BrowserVersion,
            "os_version" => Key::OsVersion,
            "props" => Key::Props,
            "revenue" => Key::Revenue,
            "interactive" => Key::Interactive,
            "previous_visitor_id" => Key::PreviousVisitorId,
            "scroll_depth" => Key::ScrollDepth,
            "engagement_time" => Key::EngagementTime,
            _ => Key::Unknown,
        }
    }

    fn name(self) -> &'static str {
        // `KEYS` lists the keys in declaration order (a unit test checks it).
        KEYS.get(self as usize).map_or("?", |(k, _)| k)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key::from_name(v))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// A `u64` as a JSON number or a decimal string (some exporters quote ids
/// above 2^53 to protect them from JavaScript readers); `null` and `""` are
/// `None`. Also reads the `event_id` of tracker bodies.
pub(crate) struct OptU64(pub(crate) Option<u64>);

impl<'de> Deserialize<'de> for OptU64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<OptU64, D::Error> {
        struct U64Visitor;
        impl Visitor<'_> for U64Visitor {
            type Value = OptU64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an unsigned 64-bit integer")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<OptU64, E> {
                Ok(OptU64(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OptU64, E> {
                if v.is_empty() {
                    return Ok(OptU64(None));
                }
                v.parse()
                    .map(|n| OptU64(Some(n)))
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_unit<E: de::Error>(self) -> Result<OptU64, E> {
                Ok(OptU64(None))
            }
        }
        deserializer.deserialize_any(U64Visitor)
    }
}

/// A string where `null` reads as empty ("absent").
struct Str(String);

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Str, D::Error> {
        Option::<String>::deserialize(deserializer).map(|s| Str(s.unwrap_or_default()))
    }
}

/// The `props` object: string values only, sorted, unique keys.
struct Props(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Props {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Props, D::Error> {
        struct PropsVisitor;
        impl<'de> Visitor<'de> for PropsVisitor {
            type Value = Props;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string values")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Props, E> {
                Ok(Props(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Props, A::Error> {
                let mut props: Vec<(String, String)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, String>()? {
                    props.push((key, value));
                }
                props.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                if let Some(pair) = props.windows(2).find(|w| w[0].0 == w[1].0) {
                    return Err(de::Error::custom(format_args!(
                        "duplicate property key {:?}",
                        pair[0].0
                    )));
                }
                Ok(Props(props))
            }
        }
        deserializer.deserialize_any(PropsVisitor)
    }
}

#[derive(Deserialize)]
struct RevenueLine {
    currency: String,
    amount_micros: i64,
}

impl<'de> Visitor<'de> for LineSeed<'_> {
    type Value = Event;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
        let mut event = Event {
            event_id: 0,
            timestamp_ms: 0,
            site: String::new(),
            name: String::new(),
            hostname: String::new(),
            pathname: String::new(),
            referrer: String::new(),
            source: String::new(),
            channel: Channel::Direct,
            utm_source: String::new(),
            utm_medium: String::new(),
            utm_campaign: String::new(),
            utm_content: String::new(),
            utm_term: String::new(),
            country_code: String::new(),
            browser: String::new(),
            browser_version: String::new(),
            os: String::new(),
            os_version: String::new(),
            device: Device::Unknown,
            screen: String::new(),
            props: Vec::new(),
            revenue: None,
            interactive: true,
            engagement: None,
            visitor_id: 0,
            previous_visitor_id: None,
            session_id: None,
        };
        let mut seen: u32 = 0;
        let mut present: u32 = 0;
        while let Some(key) = map.next_key::<Key>()? {
            if key == Key::Unknown {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if seen & key.bit() != 0 {
                self.failed.set(Some(Failure::Duplicate(key.name())));
                return Err(de::Error::custom("duplicate field"));
            }
            seen |= key.bit();
            self.failed.set(Some(Failure::Invalid(key.name())));
            let is_present = read_value(&mut map, key, &mut event)?;
            self.failed.set(None);
            if is_present {
                present |= key.bit();
            }
        }
        for key in [
            Key::EventId,
            Key::Timestamp,
            Key::Domain,
            Key::Name,
            Key::VisitorId,
        ] {
            if present & key.bit() == 0 {
                self.failed.set(Some(Failure::Missing(key.name())));
                return Err(de::Error::custom("missing field"));
            }
        }
        if seen & Key::Channel.bit() == 0 {
            event.channel = crate::referrer::channel(&crate::referrer::ChannelInput {
                source: &event.source,
                utm_medium: &event.utm_medium,
                utm_source: &event.utm_source,
                utm_campaign: &event.utm_campaign,
                click_id: None,
            });
        }
        Ok(event)
    }
}

/// Reads the value of `key` into `event`; returns whether a non-null,
/// non-empty value was present (what "required" checks).
fn read_value<'de, A: MapAccess<'de>>(
    map: &mut A,
    key: Key,
    event: &mut Event,
) -> Result<bool, A::Error> {
    let text = |map: &mut A, slot: &mut String| -> Result<bool, A::Error> {
        *slot = map.next_value::<Str>()?.0;
        Ok(!slot.is_empty())
    };
    let number =
        |map: &mut A| -> Result<Option<u64>, A::Error> { Ok(map.next_value::<OptU64>()?.0) };
    match key {
        Key::EventId => number(map).map(|n| n.map(|n| event.event_id = n).is_some()),
        Key::Timestamp => number(map).map(|n| n.map(|n| event.timestamp_ms = n).is_some()),
        Key::VisitorId => number(map).map(|n| n.map(|n| event.visitor_id = n).is_some()),
        Key::SessionId => number(map).map(|n| {
            event.session_id = n;
            n.is_some()
        }),
        Key::PreviousVisitorId => number(map).map(|n| {
            event.previous_visitor_id = n;
            n.is_some()
        }),
        Key::Domain => text(map, &mut event.site),
        Key::Name => text(map, &mut event.name),
        Key::Pathname => text(map, &mut event.pathname),
        Key::ReferrerSource => text(map, &mut event.source),
        Key::UtmSource => text(map, &mut event.utm_source),
        Key::UtmMedium => text(map, &mut event.utm_medium),
        Key::UtmCampaign => text(map, &mut event.utm_campaign),
        Key::CountryCode => text(map, &mut event.country_code),
        Key::Browser => text(map, &mut event.browser),
        Key::Os => text(map, &mut event.os),
        Key::ScreenWidth => text(map, &mut event.screen),
        Key::Hostname => text(map, &mut event.hostname),
        Key::Referrer => text(map, &mut event.referrer),
        Key::UtmContent => text(map, &mut event.utm_content),
        Key::UtmTerm => text(map, &mut event.utm_term),
        Key::BrowserVersion => text(map, &mut event.browser_version),
        Key::OsVersion => text(map, &mut event.os_version),
        Key::Device => {
            let name = map.next_value::<Str>()?.0;
            event.device = Device::from_name(&name).ok_or_else(|| {
                de::Error::custom(format_args!(
                    "unknown device {name:?} (expected \"Desktop\", \"Mobile\", \"Tablet\" or \"\")"
                ))
            })?;
            Ok(!name.is_empty())
        }
        Key::Channel => {
            let name = map.next_value::<Str>()?.0;
            if name.is_empty() {
                return Ok(false);
            }
            event.channel = Channel::from_name(&name)
                .ok_or_else(|| de::Error::custom(format_args!("unknown channel {name:?}")))?;
            Ok(true)
        }
        Key::Props => {
            event.props = map.next_value::<Props>()?.0;
            Ok(!event.props.is_empty())
        }
        Key::Revenue => {
            event.revenue = map.next_value::<Option<RevenueLine>>()?.map(|r| Revenue {
                currency: r.currency,
                amount_micros: r.amount_micros,
            });
            Ok(event.revenue.is_some())
        }
        Key::Interactive => {
            event.interactive = map.next_value::<Option<bool>>()?.unwrap_or(true);
            Ok(true)
        }
        Key::ScrollDepth => {
            let sd = map.next_value::<Option<u8>>()?;
            if sd.is_some_and(|sd| sd > 100) {
                return Err(de::Error::custom("more than 100 percent"));
            }
            event
                .engagement
                .get_or_insert_with(Default::default)
                .scroll_depth = sd;
            Ok(true)
        }
        Key::EngagementTime => {
            let ms = map.next_value::<Option<u64>>()?.unwrap_or(0);
            event
                .engagement
                .get_or_insert_with(Default::default)
                .engaged_ms = ms;
            Ok(true)
        }
        Key::Unknown => map.next_value::<IgnoredAny>().map(|_| false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_table_matches_the_enum() {
        for (i, (name, key)) in KEYS.iter().enumerate() {
            assert_eq!(*key as usize, i, "{name}");
            assert_eq!(Key::from_name(name), *key);
            assert_eq!(key.name(), *name);
        }
        assert_eq!(Key::from_name("nope"), Key::Unknown);
    }
}
