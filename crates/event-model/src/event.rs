//! The normalized [`Event`]: what every later stage (aggregator, archive,
//! import/export) sees. It never carries the raw IP address or User-Agent.

use serde::{Deserialize, Serialize};

/// The name of the built-in page view event.
pub const PAGEVIEW: &str = "pageview";
/// The name of Plausible's engagement event (scroll depth and engaged time
/// of the page view before it); see [`Engagement`].
pub const ENGAGEMENT: &str = "engagement";

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
    /// The referrer as Plausible stores it: host without `www.` and path
    /// without the trailing `/`, no scheme, query or fragment
    /// (`google.com/search`); empty for direct traffic and internal referrers.
    pub referrer: String,
    /// Named source (`Google`, `Twitter`) or the referrer's host; `ref`/`source`/`utm_source` fall back here.
    pub source: String,
    /// Acquisition channel derived from source, UTM and click ids.
    pub channel: Channel,
    /// `utm_source` query parameter of the page URL.
    pub utm_source: String,
    /// `utm_medium` query parameter of the page URL.
    pub utm_medium: String,
    /// `utm_campaign` query parameter of the page URL.
    pub utm_campaign: String,
    /// `utm_content` query parameter of the page URL.
    pub utm_content: String,
    /// `utm_term` query parameter of the page URL.
    pub utm_term: String,
    /// ISO 3166-1 alpha-2, upper case; empty when unknown.
    pub country_code: String,
    /// Browser family (`Chrome`, `Safari`...), empty when unknown.
    pub browser: String,
    /// Browser major version, empty when unknown.
    pub browser_version: String,
    /// Operating system (`Windows`, `iOS`...), empty when unknown.
    pub os: String,
    /// Operating system version, empty when unknown.
    pub os_version: String,
    /// Device class.
    pub device: Device,
    /// Screen class (`<576`, `576-992`, `992-1440`, `>=1440`); empty when not sent.
    pub screen: String,
    /// Custom properties, bounded in count and size, sorted by key, keys unique.
    pub props: Vec<(String, String)>,
    /// Revenue attached to a goal.
    pub revenue: Option<Revenue>,
    /// `false` for events that must not affect bounce rate and visit duration.
    pub interactive: bool,
    /// `Some` for an engagement event ([`ENGAGEMENT`]): neither a page view
    /// nor a custom event, it carries what Plausible's `scroll_depth` and
    /// `time_on_page` metrics are computed from.
    pub engagement: Option<Engagement>,
    /// Keyed hash of (salt epoch, User-Agent, IP, site): see `docs/privacy.md`.
    pub visitor_id: u64,
    /// The same visitor's id under the previous salt epoch, so that a visit can
    /// continue across a salt rotation (midnight); `None` when imported.
    pub previous_visitor_id: Option<u64>,
    /// Set by the sessionizer or an import; `None` for events fresh from a tracker.
    pub session_id: Option<u64>,
}

impl Event {
    /// Whether this is a page view (as opposed to a custom or engagement event).
    pub fn is_pageview(&self) -> bool {
        self.name == PAGEVIEW && self.engagement.is_none()
    }

    /// Whether this is an engagement event: counted neither as a page view
    /// nor as a custom event (goal).
    pub fn is_engagement(&self) -> bool {
        self.engagement.is_some()
    }
}

/// What an engagement event measured on the page it follows (Plausible's
/// tracker sends one when the visitor leaves or hides a page).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Engagement {
    /// Deepest scroll position reached, in percent of the page (0-100);
    /// `None` when the tracker did not send a valid one.
    pub scroll_depth: Option<u8>,
    /// Time the page was visible and focused, in milliseconds (0 when not sent).
    pub engaged_ms: u64,
}

/// Device class, from the User-Agent (and the screen width where the UA is ambiguous).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[non_exhaustive]
pub enum Device {
    /// Neither the User-Agent nor the screen width tells.
    #[default]
    Unknown,
    /// A desktop or laptop computer.
    Desktop,
    /// A phone.
    Mobile,
    /// A tablet.
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
    /// No referrer and no campaign: typed in, bookmarks, apps.
    #[default]
    Direct,
    /// Unpaid traffic from a search engine.
    OrganicSearch,
    /// Unpaid traffic from a social network.
    OrganicSocial,
    /// Unpaid traffic from a video platform.
    OrganicVideo,
    /// Unpaid traffic from a shopping site.
    OrganicShopping,
    /// Search ads (a paid medium or click id with a search source).
    PaidSearch,
    /// Social ads.
    PaidSocial,
    /// Video ads.
    PaidVideo,
    /// Shopping ads.
    PaidShopping,
    /// Other paid traffic (`cpc`, `ppc`... with an unclassified source).
    PaidOther,
    /// Display and banner ads.
    Display,
    /// Email campaigns and web mail.
    Email,
    /// Affiliate links.
    Affiliates,
    /// SMS campaigns.
    Sms,
    /// A link from another site.
    Referral,
    /// Campaigns across several networks (`cross-network`).
    CrossNetwork,
    /// Audio ads and podcasts.
    Audio,
    /// Mobile push notifications.
    MobilePushNotifications,
    /// A link in an AI assistant's answer (ChatGPT, Claude, Perplexity...).
    AiAssistants,
}

impl Channel {
    /// Every channel, in declaration order.
    pub const ALL: [Channel; 19] = [
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
        Channel::AiAssistants,
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
            Channel::AiAssistants => "AI Assistants",
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
