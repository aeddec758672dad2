//! Test support (feature `testing`): [`EventBuilder`], so that tests,
//! benchmarks and examples build [`Event`]s without listing every field,
//! and [`arbitrary_event`], the proptest strategy of round-trip tests.
//! Outside the parsers, this module is the one place that names them all.

use proptest::prelude::*;

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
            site: site.to_owned(),
            name: PAGEVIEW.to_owned(),
            hostname: site.to_owned(),
            pathname: "/".to_owned(),
            ..Event::absent()
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

/// Events with every field drawn (for round-trip tests): `site` and `name`
/// from their strategies, every other text field from `text`, ids, flags,
/// channel, device, up to four properties and an optional revenue from
/// the whole of their types.
pub fn arbitrary_event(
    site: impl Strategy<Value = String>,
    name: impl Strategy<Value = String>,
    text: impl Strategy<Value = String>,
) -> impl Strategy<Value = Event> {
    let ids = (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<Option<u64>>(),
        any::<Option<u64>>(),
    );
    let texts = proptest::collection::vec(text, 15);
    let enums = (0..Channel::ALL.len(), 0..Device::ALL.len(), any::<bool>());
    let extras = (
        proptest::collection::btree_map(any::<String>(), any::<String>(), 0..4),
        proptest::option::of(("[A-Z]{3}", any::<i64>())),
    );
    (ids, (site, name), texts, enums, extras).prop_map(
        |(
            (event_id, timestamp_ms, visitor_id, previous_visitor_id, session_id),
            (site, name),
            texts,
            (channel, device, interactive),
            (props, revenue),
        )| {
            let mut t = texts.into_iter();
            let mut next = || t.next().unwrap_or_default();
            Event {
                event_id,
                timestamp_ms,
                site,
                name,
                hostname: next(),
                pathname: next(),
                referrer: next(),
                source: next(),
                channel: Channel::ALL[channel],
                utm_source: next(),
                utm_medium: next(),
                utm_campaign: next(),
                utm_content: next(),
                utm_term: next(),
                country_code: next(),
                browser: next(),
                browser_version: next(),
                os: next(),
                os_version: next(),
                device: Device::ALL[device],
                screen: next(),
                props: props.into_iter().collect(),
                revenue: revenue.map(|(currency, amount_micros)| Revenue {
                    currency,
                    amount_micros,
                }),
                interactive,
                engagement: None,
                visitor_id,
                previous_visitor_id,
                session_id,
            }
        },
    )
}
