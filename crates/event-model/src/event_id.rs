//! The idempotency key of an event: `Event::event_id`.
//!
//! # The rule
//!
//! 1. **The client's, when it sends one** (`event_id` in the body or pixel
//!    query, a u64). A tracker that wants exact de-duplication of retries
//!    generates one random id per view and resends it unchanged. When the
//!    request names several sites (`domain: "a.com,b.com"`), the first site
//!    keeps the client's id and each further site gets
//!    [`for_site`]`(client_id, site)`, so that the per-site copies stay
//!    distinct and a retry maps to the same ids.
//! 2. **Otherwise derived** by [`derive()`]: SipHash-1-3 under a fixed, public
//!    key over a length-prefixed encoding of
//!    `(DERIVATION_VERSION, site, visitor_id, name, url, referrer, props,
//!    revenue, interactive, screen_width, window)`, where `url` and `referrer`
//!    are the strings as sent, `visitor_id` is the salted visitor hash (the
//!    raw IP and User-Agent are not hashed again here), and
//!    `window = received_at_ms / window_ms` (default 10 s, aligned to the
//!    Unix epoch).
//!
//! Consequences of rule 2, deliberately accepted: a retry of the same request
//! that arrives in the same window gets the same id and counts once; one that
//! arrives in a later window (or after a salt rotation) counts again; two
//! genuine identical views by the same visitor within one window (a quick
//! reload) count once. A tracker that cares sends rule 1's id.
//!
//! The key is public on purpose: the id is not a secret, it only needs to be
//! stable across machines and architectures (golden vectors in the tests pin
//! it on wasm32 and x86_64 alike).

use core::hash::Hasher;

use siphasher::sip::SipHasher13;

use crate::Revenue;

/// Version of the derivation: part of the hashed input, so that a change of
/// rule never collides with ids derived under the old one.
pub const DERIVATION_VERSION: u8 = 1;

/// Default width of the de-duplication window for derived ids.
pub const DEFAULT_WINDOW_MS: u64 = 10_000;

const KEY: [u8; 16] = *b"glinto-event-id1";
const SITE_KEY: [u8; 16] = *b"glinto-site-id-1";

/// The inputs of a derived event id.
#[derive(Debug, Clone, Copy)]
pub struct IdInput<'a> {
    /// The site the event is for.
    pub site: &'a str,
    /// The salted visitor id.
    pub visitor_id: u64,
    /// Event name as sent.
    pub name: &'a str,
    /// Page URL as sent.
    pub url: &'a str,
    /// Referrer as sent (truncated), empty when none.
    pub referrer: &'a str,
    /// Validated props, sorted by key.
    pub props: &'a [(String, String)],
    /// Validated revenue.
    pub revenue: Option<&'a Revenue>,
    /// The interactive flag.
    pub interactive: bool,
    /// Screen width as sent.
    pub screen_width: Option<u32>,
    /// An engagement event's measures: a tracker sends several per page
    /// view, which must not collapse into one id. Hashed only when present,
    /// so the ids of all other events are unchanged (version 1 still holds).
    pub engagement: Option<crate::Engagement>,
    /// Server receive time.
    pub received_at_ms: u64,
}

/// Derives the event id of a request that did not carry one (rule 2 of the
/// module docs). `window_ms` of 0 is treated as 1.
pub fn derive(input: &IdInput<'_>, window_ms: u64) -> u64 {
    let mut h = SipHasher13::new_with_key(&KEY);
    h.write_u8(DERIVATION_VERSION);
    write_str(&mut h, input.site);
    h.write(&input.visitor_id.to_le_bytes());
    write_str(&mut h, input.name);
    write_str(&mut h, input.url);
    write_str(&mut h, input.referrer);
    write_len(&mut h, input.props.len());
    for (k, v) in input.props {
        write_str(&mut h, k);
        write_str(&mut h, v);
    }
    match input.revenue {
        Some(r) => {
            h.write_u8(1);
            write_str(&mut h, &r.currency);
            h.write(&r.amount_micros.to_le_bytes());
        }
        None => h.write_u8(0),
    }
    h.write_u8(u8::from(input.interactive));
    match input.screen_width {
        Some(w) => {
            h.write_u8(1);
            h.write(&w.to_le_bytes());
        }
        None => h.write_u8(0),
    }
    if let Some(e) = input.engagement {
        h.write_u8(2);
        h.write_u8(e.scroll_depth.unwrap_or(u8::MAX));
        h.write(&e.engaged_ms.to_le_bytes());
    }
    let window = input.received_at_ms / window_ms.max(1);
    h.write(&window.to_le_bytes());
    h.finish()
}

/// The id of the copy of a client-identified event for an additional site
/// (rule 1 of the module docs).
pub fn for_site(client_id: u64, site: &str) -> u64 {
    let mut h = SipHasher13::new_with_key(&SITE_KEY);
    h.write(&client_id.to_le_bytes());
    write_str(&mut h, site);
    h.finish()
}

/// `Hasher::write_usize` is platform-width; lengths are hashed as u64 LE so
/// that wasm32 and x86_64 agree.
fn write_len(h: &mut SipHasher13, len: usize) {
    h.write(&(len as u64).to_le_bytes());
}

fn write_str(h: &mut SipHasher13, s: &str) {
    write_len(h, s.len());
    h.write(s.as_bytes());
}
