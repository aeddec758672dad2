//! Test support (feature `testing`): [`EventBuilder`], so that tests,
//! benchmarks and examples build [`Event`]s without listing every field.
//! This module is the one place outside the parsers that names them all.

use crate::{Channel, Device, Event, PAGEVIEW, Revenue};

/// Builds an [`Event`]: a page view of a site with every optional field
/// absent (empty strings, `None`, [`Channel::Direct`], [`Device::Unknown`]),
/// interactive, at time 0 by visitor 0; the setters change what a test
/// cares about, [`EventBuilder::with`] anything else.
///
/// ```
/// use glinto_event_model::testing::EventBuilder;
///
/// let e = EventBuilder::pageview("a.example").id(7).at(1_704_067_200_000).path("/x").build();
/// assert!(e.is_pageview());
/// assert_eq!((e.event_id, e.pathname.as_str(), e.hostname.as_str()), (7, "/x", "a.example"));
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct EventBuilder(Event);

impl EventBuilder {
    /// A page view of `site` (also its hostname) at path `/`.
    pub fn pageview(site: &str) -> Self {
        Self(Event {
            event_id: 0,
            timestamp_ms: 0,
            site: site.to_owned(),
            name: PAGEVIEW.to_owned(),
            hostname: site.to_owned(),
            pathname: "/".to_owned(),
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
            visitor_id: 0,
            previous_visitor_id: None,
            session_id: None,
        })
    }

    /// The event's idempotency key.
    pub fn id(mut self, event_id: u64) -> Self {
        self.0.event_id = event_id;
        self
    }

    /// The event time, milliseconds since the Unix epoch.
    pub fn at(mut self, timestamp_ms: u64) -> Self {
        self.0.timestamp_ms = timestamp_ms;
        self
    }

    /// The event name (`pageview` or a custom event).
    pub fn name(mut self, name: &str) -> Self {
        self.0.name = name.to_owned();
        self
    }

    /// The page path.
    pub fn path(mut self, pathname: &str) -> Self {
        self.0.pathname = pathname.to_owned();
        self
    }

    /// The referrer source (and its channel unchanged: set it with [`Self::with`]).
    pub fn source(mut self, source: &str) -> Self {
        self.0.source = source.to_owned();
        self
    }

    /// The visitor's country code.
    pub fn country(mut self, country_code: &str) -> Self {
        self.0.country_code = country_code.to_owned();
        self
    }

    /// The browser and its version.
    pub fn browser(mut self, browser: &str, version: &str) -> Self {
        self.0.browser = browser.to_owned();
        self.0.browser_version = version.to_owned();
        self
    }

    /// The operating system and its version.
    pub fn os(mut self, os: &str, version: &str) -> Self {
        self.0.os = os.to_owned();
        self.0.os_version = version.to_owned();
        self
    }

    /// The device class.
    pub fn device(mut self, device: Device) -> Self {
        self.0.device = device;
        self
    }

    /// The screen class.
    pub fn screen(mut self, screen: &str) -> Self {
        self.0.screen = screen.to_owned();
        self
    }

    /// The custom properties.
    pub fn props(mut self, props: &[(&str, &str)]) -> Self {
        self.0.props = props
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        self
    }

    /// The revenue: ISO currency and amount in millionths.
    pub fn revenue(mut self, currency: &str, amount_micros: i64) -> Self {
        self.0.revenue = Some(Revenue {
            currency: currency.to_owned(),
            amount_micros,
        });
        self
    }

    /// The visitor id (and no previous one).
    pub fn visitor(mut self, visitor_id: u64) -> Self {
        self.0.visitor_id = visitor_id;
        self
    }

    /// The client-side session id.
    pub fn session(mut self, session_id: Option<u64>) -> Self {
        self.0.session_id = session_id;
        self
    }

    /// Whether the event counts for bounce and duration.
    pub fn interactive(mut self, interactive: bool) -> Self {
        self.0.interactive = interactive;
        self
    }

    /// Any other change.
    pub fn with(mut self, change: impl FnOnce(&mut Event)) -> Self {
        change(&mut self.0);
        self
    }

    /// The event.
    pub fn build(self) -> Event {
        self.0
    }
}

impl From<EventBuilder> for Event {
    fn from(builder: EventBuilder) -> Self {
        builder.0
    }
}
