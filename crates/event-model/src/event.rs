//! The normalized [`Event`]: what every later stage (aggregator, archive,
//! import/export) sees. It never carries the raw IP address or User-Agent.

use serde::{Deserialize, Serialize};

/// The name of the built-in page view event.
pub const PAGEVIEW: &str = "pageview";

/// One validated, normalized, privacy-safe analytics event.
///
/// Empty strings mean "absent" for the open-vocabulary dimensions, as in the
/// NDJSON exchange format (`docs/wire-format.md`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Idempotency key: the client's, or derived deterministically from the request.
    pub event_id: u64,
    /// Milliseconds since the Unix epoch, UTC (server receive time unless imported).
    pub timestamp_ms: u64,
    /// The site the event is counted for (Plausible's `domain`), lower-cased.
    pub site: String,
    /// `pageview` or a custom event (goal) name.
    pub name: String,
    /// Host name of the page URL, lower-cased.
    pub hostname: String,
    /// Path of the page URL: no query; the fragment only in hash mode.
    pub pathname: String,
    /// The referrer URL as sent (truncated), empty for direct traffic and internal referrers.
    pub referrer: String,
    /// Named source (`Google`, `Twitter`) or the referrer's host; `ref`/`source`/`utm_source` fall back here.
    pub source: String,
    /// Acquisition channel derived from source, UTM and click ids.
    pub channel: Channel,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub utm_content: String,
    pub utm_term: String,
    /// ISO 3166-1 alpha-2, upper case; empty when unknown.
    pub country_code: String,
    pub browser: String,
    pub browser_version: String,
    pub os: String,
    pub os_version: String,
    pub device: Device,
    /// Screen class (`<576`, `576-992`, `992-1440`, `>=1440`); empty when not sent.
    pub screen: String,
    /// Custom properties, bounded in count and size, sorted by key, keys unique.
    pub props: Vec<(String, String)>,
    pub revenue: Option<Revenue>,
    /// `false` for events that must not affect bounce rate and visit duration.
    pub interactive: bool,
    /// Keyed hash of (salt epoch, User-Agent, IP, site): see `docs/privacy.md`.
    pub visitor_id: u64,
    /// The same visitor's id under the previous salt epoch, so that a visit can
    /// continue across a salt rotation (midnight); `None` when imported.
    pub previous_visitor_id: Option<u64>,
    /// Set by the sessionizer or an import; `None` for events fresh from a tracker.
    pub session_id: Option<u64>,
}

impl Event {
    /// Whether this is a page view (as opposed to a custom event).
    pub fn is_pageview(&self) -> bool {
        self.name == PAGEVIEW
    }
}

/// Device class, from the User-Agent (and the screen width where the UA is ambiguous).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[non_exhaustive]
pub enum Device {
    #[default]
    Unknown,
    Desktop,
    Mobile,
    Tablet,
}

impl Device {
    /// Every device class, in declaration order.
    pub const ALL: [Device; 4] = [
        Device::Unknown,
        Device::Desktop,
        Device::Mobile,
        Device::Tablet,
    ];

    /// The display name used in the NDJSON exchange format and reports;
    /// empty for [`Device::Unknown`] ("empty string = absent").
    pub fn as_str(self) -> &'static str {
        match self {
            Device::Unknown => "",
            Device::Desktop => "Desktop",
            Device::Mobile => "Mobile",
            Device::Tablet => "Tablet",
        }
    }

    /// The inverse of [`Device::as_str`], ASCII case-insensitive; `None` for unknown names.
    pub fn from_name(name: &str) -> Option<Device> {
        Device::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(name))
    }
}

/// Acquisition channel, following Plausible's/GA4's default channel grouping.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[non_exhaustive]
pub enum Channel {
    #[default]
    Direct,
    OrganicSearch,
    OrganicSocial,
    OrganicVideo,
    OrganicShopping,
    PaidSearch,
    PaidSocial,
    PaidVideo,
    PaidShopping,
    PaidOther,
    Display,
    Email,
    Affiliates,
    Sms,
    Referral,
    CrossNetwork,
    Audio,
    MobilePushNotifications,
}

impl Channel {
    /// Every channel, in declaration order.
    pub const ALL: [Channel; 18] = [
        Channel::Direct,
        Channel::OrganicSearch,
        Channel::OrganicSocial,
        Channel::OrganicVideo,
        Channel::OrganicShopping,
        Channel::PaidSearch,
        Channel::PaidSocial,
        Channel::PaidVideo,
        Channel::PaidShopping,
        Channel::PaidOther,
        Channel::Display,
        Channel::Email,
        Channel::Affiliates,
        Channel::Sms,
        Channel::Referral,
        Channel::CrossNetwork,
        Channel::Audio,
        Channel::MobilePushNotifications,
    ];

    /// The display name (GA4's wording, as Plausible shows it), used in the
    /// NDJSON exchange format and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Direct => "Direct",
            Channel::OrganicSearch => "Organic Search",
            Channel::OrganicSocial => "Organic Social",
            Channel::OrganicVideo => "Organic Video",
            Channel::OrganicShopping => "Organic Shopping",
            Channel::PaidSearch => "Paid Search",
            Channel::PaidSocial => "Paid Social",
            Channel::PaidVideo => "Paid Video",
            Channel::PaidShopping => "Paid Shopping",
            Channel::PaidOther => "Paid Other",
            Channel::Display => "Display",
            Channel::Email => "Email",
            Channel::Affiliates => "Affiliates",
            Channel::Sms => "SMS",
            Channel::Referral => "Referral",
            Channel::CrossNetwork => "Cross-network",
            Channel::Audio => "Audio",
            Channel::MobilePushNotifications => "Mobile Push Notifications",
        }
    }

    /// The inverse of [`Channel::as_str`], ASCII case-insensitive; `None` for unknown names.
    pub fn from_name(name: &str) -> Option<Channel> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(name))
    }
}

/// Revenue attached to a goal, in a fixed-point amount so that sums are exact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revenue {
    /// ISO 4217 code, upper case (`EUR`).
    pub currency: String,
    /// Amount in millionths of the currency unit (`12.5` EUR = `12_500_000`).
    pub amount_micros: i64,
}
