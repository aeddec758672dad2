//! The sessionizer's state as plain data, for [`crate::writer`]'s persisted
//! state (`docs/wire-format.md`, section `writer-state`). Memos are not
//! kept: they only spare work, and a writer restored without them counts
//! the same (see `writer::state`).

use serde::{Deserialize, Serialize};

use super::{Hit, Hits, Sessionizer, Timeline, Visit};
use crate::{Error, Result};

/// `(timestamp_ms, event_id, visitor_id, page, visitor profile, session
/// profile, flags)`; flags: bit 0 page view, bit 1 interactive.
pub(crate) type HitWire = (u64, u64, u64, u32, u32, u32, u8);

/// `(start_ms, duration_ms, pageviews, interactive_pageviews, entry_page,
/// exit_page, visitor profile, session profile, visitor_id)`.
pub(crate) type VisitWire = (u64, u64, u32, u32, u32, u32, u32, u32, u64);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TimelineWire {
    pub(crate) key: u64,
    pub(crate) hits: Vec<HitWire>,
    pub(crate) published: Vec<VisitWire>,
    pub(crate) aliases: Vec<u64>,
    pub(crate) dirty: bool,
}

/// A [`Sessionizer`]: its timelines (sorted by key), links (sorted), the
/// timelines waiting to publish and the eviction queue (both in order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SessionsWire {
    pub(crate) timelines: Vec<TimelineWire>,
    pub(crate) links: Vec<(u64, u64)>,
    pub(crate) dirty: Vec<(u64, u64)>,
    pub(crate) expiry: Vec<(u64, u64)>,
}

fn hit_to_wire(h: &Hit) -> HitWire {
    let flags = u8::from(h.pageview) | u8::from(h.interactive) << 1;
    let (v, s) = h.profile;
    (
        h.timestamp_ms,
        h.event_id,
        h.visitor_id,
        h.page,
        v,
        s,
        flags,
    )
}

fn hit_from_wire((timestamp_ms, event_id, visitor_id, page, v, s, flags): HitWire) -> Hit {
    Hit {
        timestamp_ms,
        event_id,
        visitor_id,
        page,
        profile: (v, s),
        pageview: flags & 1 != 0,
        interactive: flags & 2 != 0,
    }
}

fn visit_to_wire(v: &Visit) -> VisitWire {
    (
        v.start_ms,
        v.duration_ms,
        v.pageviews,
        v.interactive_pageviews,
        v.entry_page,
        v.exit_page,
        v.profile.0,
        v.profile.1,
        v.visitor_id,
    )
}

fn visit_from_wire(w: VisitWire) -> Visit {
    let (
        start_ms,
        duration_ms,
        pageviews,
        interactive_pageviews,
        entry_page,
        exit_page,
        pv,
        ps,
        visitor_id,
    ) = w;
    Visit {
        start_ms,
        duration_ms,
        pageviews,
        interactive_pageviews,
        entry_page,
        exit_page,
        profile: (pv, ps),
        visitor_id,
    }
}

impl Sessionizer {
    pub(crate) fn to_wire(&self) -> SessionsWire {
        let mut timelines: Vec<TimelineWire> = self
            .timelines
            .iter()
            .map(|(&key, t)| TimelineWire {
                key,
                hits: t.hits.as_slice().iter().map(hit_to_wire).collect(),
                published: t.published.iter().map(visit_to_wire).collect(),
                aliases: t.aliases.clone(),
                dirty: t.dirty,
            })
            .collect();
        timelines.sort_unstable_by_key(|t| t.key);
        let mut links: Vec<(u64, u64)> = self.links.iter().map(|(&a, &b)| (a, b)).collect();
        links.sort_unstable();
        SessionsWire {
            timelines,
            links,
            dirty: self.dirty.clone(),
            expiry: self.expiry.iter().copied().collect(),
        }
    }

    /// The sessionizer holding `wire`; `check_hit` vets every hit and visit
    /// (ids in range) before it is kept.
    pub(crate) fn from_wire(
        wire: SessionsWire,
        check: impl Fn(u32, (u32, u32)) -> bool,
    ) -> Result<Self> {
        let mut sessions = Self::new();
        for t in wire.timelines {
            let hits: Vec<Hit> = t.hits.into_iter().map(hit_from_wire).collect();
            // Sorted by (timestamp, id), no twice: what `Hits` keeps, and
            // what its arithmetic on neighbouring timestamps relies on.
            if hits.windows(2).any(|w| w[0].key() >= w[1].key()) {
                return Err(malformed("hits", "not strictly increasing"));
            }
            if hits.iter().any(|h| !check(h.page, h.profile)) {
                return Err(malformed("hits", "a page or profile id out of range"));
            }
            let published: Vec<Visit> = t.published.into_iter().map(visit_from_wire).collect();
            if published
                .iter()
                .any(|v| !check(v.entry_page, v.profile) || !check(v.exit_page, v.profile))
            {
                return Err(malformed("visits", "a page or profile id out of range"));
            }
            let timeline = Timeline {
                hits: Hits {
                    sorted: hits.into_iter().collect(),
                },
                published: published.into_iter().collect(),
                aliases: t.aliases,
                dirty: t.dirty,
                memo: Default::default(),
            };
            if sessions.timelines.insert(t.key, timeline).is_some() {
                return Err(malformed("timelines", "a key twice"));
            }
        }
        sessions.links = wire.links.into_iter().collect();
        sessions.dirty = wire.dirty;
        sessions.expiry = wire.expiry.into_iter().collect();
        Ok(sessions)
    }

    /// The earliest event time still held (the start of the oldest visit
    /// that can still change), if any.
    pub(crate) fn earliest_hit_ms(&self) -> Option<u64> {
        self.timelines
            .values()
            .filter_map(|t| t.hits.as_slice().first().map(|h| h.timestamp_ms))
            .min()
    }
}

fn malformed(field: &'static str, reason: &'static str) -> Error {
    Error::Malformed {
        kind: "writer state",
        field,
        reason,
    }
}
