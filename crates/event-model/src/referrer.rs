//! Referrer classification: referrer URL -> named source, and the acquisition
//! [`Channel`] from source, UTM parameters and click ids.

use crate::Channel;

/// What kind of site a known source is; drives the channel grouping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SourceCategory {
    /// Not in the table of known sources.
    #[default]
    Unknown,
    /// A search engine (Google, Bing, DuckDuckGo...).
    Search,
    /// A social network (Facebook, Twitter, Reddit...).
    Social,
    /// A video platform (YouTube, Vimeo, Twitch...).
    Video,
    /// A shopping site (Amazon, eBay...).
    Shopping,
    /// A web mail client (Gmail, Outlook.com...).
    Email,
}

/// A source known by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KnownSource {
    /// Display name, as Plausible shows it (`Google`, `Twitter`).
    pub name: &'static str,
    /// The kind of site.
    pub category: SourceCategory,
}

/// What a referrer says about where a visitor came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferrerSource {
    /// No referrer, or one that is not an http(s) URL with a host.
    None,
    /// The site's own domain (or a subdomain of it): not a source.
    Internal,
    /// Another site: a named source, or its host without `www.`.
    External {
        /// `Google`, or `example.com` for a host that is not in the table.
        source: String,
        /// The kind of site; [`SourceCategory::Unknown`] for unnamed hosts.
        category: SourceCategory,
    },
}

/// Looks a host name up in the table of known sources (`www.google.de` -> Google).
pub fn known_source(host: &str) -> Option<KnownSource> {
    let _ = host;
    None
}

/// Looks a source name (`Google`, or a `utm_source` value such as `google`)
/// up and returns its category.
pub fn source_category(source: &str) -> SourceCategory {
    let _ = source;
    SourceCategory::Unknown
}

/// Classifies a referrer URL for the site `site_domain` (Plausible's `domain`).
pub fn classify_referrer(referrer: &str, site_domain: &str) -> ReferrerSource {
    let _ = (referrer, site_domain);
    ReferrerSource::None
}

/// Everything the channel grouping looks at. Empty strings mean absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelInput<'a> {
    /// The event's source: a named source, a host, or the `utm_source`/`ref` fallback.
    pub source: &'a str,
    /// `utm_medium`.
    pub utm_medium: &'a str,
    /// `utm_source`.
    pub utm_source: &'a str,
    /// `utm_campaign`.
    pub utm_campaign: &'a str,
    /// A paid click id present in the page URL (`gclid`, `msclkid`, `fbclid`...).
    pub click_id: Option<ClickId>,
}

/// Advertising click ids that mark a visit as paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClickId {
    /// Google Ads `gclid` (also `gbraid`, `wbraid`, `dclid`).
    Google,
    /// Microsoft Advertising `msclkid`.
    Microsoft,
    /// Meta `fbclid`.
    Facebook,
    /// TikTok `ttclid`.
    TikTok,
    /// LinkedIn `li_fat_id`.
    LinkedIn,
    /// X/Twitter `twclid`.
    Twitter,
}

impl ClickId {
    /// The click id for a query parameter name (`gclid` -> Google), if it is one.
    pub fn from_param(name: &str) -> Option<Self> {
        match name {
            "gclid" | "gbraid" | "wbraid" | "dclid" => Some(Self::Google),
            "msclkid" => Some(Self::Microsoft),
            "fbclid" => Some(Self::Facebook),
            "ttclid" => Some(Self::TikTok),
            "li_fat_id" => Some(Self::LinkedIn),
            "twclid" => Some(Self::Twitter),
            _ => None,
        }
    }
}

/// The default channel grouping (Plausible's, after GA4's).
pub fn channel(input: &ChannelInput<'_>) -> Channel {
    if input.source.is_empty() && input.utm_medium.is_empty() && input.utm_source.is_empty() {
        Channel::Direct
    } else {
        Channel::Referral
    }
}
