//! Visits (sessions): the 30-minute inactivity rule per (site, visitor), in a
//! form whose result does not depend on the order events arrive in.
//!
//! # State is a function of the *set* of events
//! For each visitor the `Sessionizer` keeps the distinct `Hit`s of the
//! lateness horizon, sorted by `(timestamp, event_id)`. The visits are the
//! maximal runs of hits whose consecutive gaps are at most [`VISIT_GAP_MS`]
//! (`gap > 30 min` starts a new visit), so they are a pure function of the
//! set of hits (`Hits::visits`): a late event may extend a visit, change its
//! entry page, or bridge two visits into one, and the outcome is the same as
//! if it had arrived in order. Ties on the timestamp are broken by `event_id`,
//! so the entry and exit pages are deterministic too.
//!
//! # Publishing with retractions
//! What a visit contributes to the rollup (visits, bounce, duration, entry and
//! exit page) can change after it was counted: a bounce stops being one when
//! the second page view arrives. The sessionizer remembers, per visitor, the
//! visits it last *published*; `Sessionizer::publish` diffs them against the
//! current visits and reports every visit that disappeared as a retraction
//! (`Sign::Retract`) and every new one as an addition. The rollup counts
//! them on the two sides of PN counters. Publishing only at flush time (not per
//! event) means a visit with ten events is usually published once.
//!
//! # Bounded memory and events later than the horizon
//! `Sessionizer::evict` with the floor `watermark - max_lateness` (the
//! [`crate::dedup::Deduplicator`]'s) drops every visit whose last hit is more
//! than 30 minutes below the floor: no admissible event can extend or bridge
//! it any more, so its published contribution is final. Events older than the
//! floor are rejected upstream (`TooLate`) and never reach the sessionizer:
//! they are archived, not counted.
//!
//! # Salt rotation
//! Visitor ids are keyed hashes whose salt rotates (daily). An event carries
//! the same visitor's previous-epoch id in `previous_visitor_id`; the
//! sessionizer links both ids to one timeline, whichever arrives first, so a
//! visit across midnight stays one visit. (Unique-visitor counts stay per salt
//! epoch: the two ids are two visitors there.)
//!
//! # Bounces and non-interactive events
//! A bounce is a visit with exactly one *interactive page view*: custom events
//! and non-interactive events do not count. Every admitted event belongs to a
//! visit (a visit of custom events only is a visit that is not a bounce); the
//! duration spans the interactive events only.

use std::collections::VecDeque;

use hashbrown::HashMap;
use smallvec::SmallVec;

use crate::lattice::Lattice;

mod wire;
pub(crate) use wire::SessionsWire;

/// The inactivity gap that ends a visit: 30 minutes, as Plausible and
/// Google Analytics count. A gap of exactly 30 minutes continues the visit.
pub const VISIT_GAP_MS: u64 = 30 * 60 * 1000;

/// One admitted event as the sessionizer sees it. Ordered by
/// `(timestamp_ms, event_id)` first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Hit {
    /// Event time, milliseconds since the Unix epoch.
    pub(crate) timestamp_ms: u64,
    /// The event's idempotency key: a hit is stored once.
    pub(crate) event_id: u64,
    /// The visitor id the event carried (the one its uniques count).
    pub(crate) visitor_id: u64,
    /// Interned page (pathname) id.
    pub(crate) page: u32,
    /// Interned profile ids `(visitor profile, visit profile)`: the
    /// visit-level dimension values (country, browser... and source, UTM...)
    /// of this event.
    pub(crate) profile: (u32, u32),
    /// Whether the event is a page view.
    pub(crate) pageview: bool,
    /// Whether the event counts for bounce and duration.
    pub(crate) interactive: bool,
}

impl Hit {
    fn key(&self) -> (u64, u64) {
        (self.timestamp_ms, self.event_id)
    }
}

/// What one visit contributes to the rollups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Visit {
    /// Timestamp of the first event: the visit counts in this hour.
    pub(crate) start_ms: u64,
    /// Last interactive event minus first interactive event (0 with fewer than two).
    pub(crate) duration_ms: u64,
    /// All page views of the visit.
    pub(crate) pageviews: u32,
    /// Interactive page views: exactly one makes the visit a bounce.
    pub(crate) interactive_pageviews: u32,
    /// Page of the first page view (of the first event when there is none).
    pub(crate) entry_page: u32,
    /// Page of the last page view (of the last event when there is none).
    pub(crate) exit_page: u32,
    /// Profiles of the first event: the visit's country, browser... and
    /// source, UTM...
    pub(crate) profile: (u32, u32),
    /// Visitor id of the first event.
    pub(crate) visitor_id: u64,
}

impl Visit {
    /// A visit with exactly one interactive page view.
    pub(crate) fn is_bounce(&self) -> bool {
        self.interactive_pageviews == 1
    }

    fn of(cluster: &[Hit]) -> Option<Self> {
        let first = cluster.first()?;
        let last = cluster.last()?;
        let mut pageviews = 0u32;
        let mut interactive_pageviews = 0u32;
        let mut entry = None;
        let mut exit = None;
        let mut first_interactive = None;
        let mut last_interactive = None;
        for hit in cluster {
            if hit.pageview {
                pageviews = pageviews.saturating_add(1);
                entry.get_or_insert(hit.page);
                exit = Some(hit.page);
            }
            if hit.interactive {
                if hit.pageview {
                    interactive_pageviews = interactive_pageviews.saturating_add(1);
                }
                first_interactive.get_or_insert(hit.timestamp_ms);
                last_interactive = Some(hit.timestamp_ms);
            }
        }
        let duration_ms = match (first_interactive, last_interactive) {
            (Some(a), Some(b)) => b - a,
            _ => 0,
        };
        Some(Self {
            start_ms: first.timestamp_ms,
            duration_ms,
            pageviews,
            interactive_pageviews,
            entry_page: entry.unwrap_or(first.page),
            exit_page: exit.unwrap_or(last.page),
            profile: first.profile,
            visitor_id: first.visitor_id,
        })
    }
}

/// Whether a published visit is added to or retracted from the rollup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Sign {
    /// Count the visit.
    Add,
    /// Un-count a visit published before (it changed or merged into another).
    Retract,
}

/// The distinct hits of one visitor, sorted: a grow-only set, so a lattice
/// under union. The visits are a function of it ([`Hits::visits`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Hits {
    sorted: SmallVec<[Hit; 2]>,
}

impl Hits {
    /// Adds a hit; `false` (and no change) when a hit with the same
    /// `(timestamp, event_id)` is already present.
    pub(crate) fn insert(&mut self, hit: Hit) -> bool {
        // Events mostly arrive in order: check the end first.
        match self.sorted.last() {
            None => {
                self.sorted.push(hit);
                true
            }
            Some(last) if last.key() < hit.key() => {
                self.sorted.push(hit);
                true
            }
            Some(_) => match self.sorted.binary_search_by_key(&hit.key(), Hit::key) {
                Ok(_) => false,
                Err(at) => {
                    self.sorted.insert(at, hit);
                    true
                }
            },
        }
    }

    /// The hits, sorted by `(timestamp, event_id)`.
    pub(crate) fn as_slice(&self) -> &[Hit] {
        &self.sorted
    }

    /// Number of hits.
    pub(crate) fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The visits: maximal runs of hits with gaps of at most [`VISIT_GAP_MS`].
    pub(crate) fn visits(&self) -> impl Iterator<Item = Visit> + '_ {
        self.sorted
            .chunk_by(|a, b| b.timestamp_ms - a.timestamp_ms <= VISIT_GAP_MS)
            .filter_map(Visit::of)
    }

    /// When the first visit ends unless extended: its last hit plus
    /// [`VISIT_GAP_MS`] (0 without hits).
    fn first_visit_end(&self) -> u64 {
        let mut end = match self.sorted.first() {
            Some(first) => first.timestamp_ms,
            None => return 0,
        };
        for hit in self.sorted.iter().skip(1) {
            if hit.timestamp_ms - end > VISIT_GAP_MS {
                break;
            }
            end = hit.timestamp_ms;
        }
        end.saturating_add(VISIT_GAP_MS)
    }

    /// Index of the first hit of the first visit that may still change, given
    /// that no hit below `floor_ms` will ever be added.
    fn closed_prefix(&self, floor_ms: u64) -> usize {
        let mut end = 0;
        for (i, pair) in self.sorted.windows(2).enumerate() {
            let (a, b) = (pair[0].timestamp_ms, pair[1].timestamp_ms);
            if a.saturating_add(VISIT_GAP_MS) >= floor_ms {
                return end;
            }
            if b - a > VISIT_GAP_MS {
                end = i + 1;
            }
        }
        match self.sorted.last() {
            Some(last) if last.timestamp_ms.saturating_add(VISIT_GAP_MS) < floor_ms => {
                self.sorted.len()
            }
            _ => end,
        }
    }
}

impl Lattice for Hits {
    fn validate_merge(&self, _other: &Self) -> crate::Result<()> {
        Ok(())
    }

    fn merge(&mut self, other: &Self) {
        if other.sorted.is_empty() {
            return;
        }
        let mut merged = SmallVec::with_capacity(self.sorted.len() + other.sorted.len());
        let (mut a, mut b) = (
            self.sorted.iter().peekable(),
            other.sorted.iter().peekable(),
        );
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => match x.key().cmp(&y.key()) {
                    std::cmp::Ordering::Less => a.next(),
                    std::cmp::Ordering::Greater => b.next(),
                    std::cmp::Ordering::Equal => {
                        b.next();
                        a.next()
                    }
                },
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            merged.extend(next.copied());
        }
        self.sorted = merged;
    }
}

/// One visitor's hits inside the horizon and the visits last published.
#[derive(Clone, Debug, Default)]
struct Timeline {
    hits: Hits,
    /// Sorted: the visits as the rollup currently counts them.
    published: SmallVec<[Visit; 1]>,
    /// The other visitor ids linked to this timeline (salt rotation).
    aliases: Vec<u64>,
    dirty: bool,
    /// The caller's cache for this visitor (the writer remembers where the
    /// visitor's last event was counted).
    memo: Memo,
}

impl Timeline {
    /// When the last visit ends unless extended: the last hit plus
    /// [`VISIT_GAP_MS`].
    fn ends_at(&self) -> u64 {
        let last = self.hits.as_slice().last().map_or(0, |h| h.timestamp_ms);
        last.saturating_add(VISIT_GAP_MS)
    }
}

/// Statistics of a `Sessionizer`: the memory it holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Timelines held (visitors with a visit inside the horizon).
    pub visitors: usize,
    /// Hits held.
    pub hits: usize,
}

/// The visits of one site, single writer (the site's Durable Object).
#[derive(Clone, Debug, Default)]
pub(crate) struct Sessionizer {
    timelines: HashMap<u64, Timeline>,
    /// Linked visitor id -> the key of its timeline.
    links: HashMap<u64, u64>,
    /// Timelines changed since they were last published, each with a lower
    /// bound of when its last visit ends (its last hit then, plus
    /// [`VISIT_GAP_MS`]): hits only extend it, so a flush before the bound
    /// skips the timeline without looking it up.
    dirty: Vec<(u64, u64)>,
    /// `(when the first visit ends unless extended, key)` of the published
    /// timelines, in publication order: what [`Sessionizer::evict`] looks at.
    expiry: VecDeque<(u64, u64)>,
}

/// A few words a caller keeps per visitor timeline, opaque to the
/// sessionizer: the writer records which hour and groups the visitor's last
/// event was counted in, so the next event of the same hour skips the
/// lookups and the sketch inserts. All zero for a new timeline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Memo {
    /// The visitor id the memo is about (a timeline may have two ids).
    pub(crate) visitor_id: u64,
    /// Caller-defined words.
    pub(crate) words: [u32; 6],
}

/// A visitor's timeline, opened by [`Sessionizer::open`].
#[derive(Debug)]
pub(crate) struct Open<'a> {
    key: u64,
    timeline: &'a mut Timeline,
    dirty: &'a mut Vec<(u64, u64)>,
}

impl Open<'_> {
    /// The caller's cache for this visitor ([`Memo`]).
    pub(crate) fn memo(&mut self) -> &mut Memo {
        &mut self.timeline.memo
    }

    /// Adds a hit of this visitor; `false` (and no change) when it was
    /// already there.
    pub(crate) fn insert(&mut self, hit: Hit) -> bool {
        if !self.timeline.hits.insert(hit) {
            return false;
        }
        if !self.timeline.dirty {
            self.timeline.dirty = true;
            self.dirty.push((self.key, self.timeline.ends_at()));
        }
        true
    }
}

impl Sessionizer {
    /// An empty sessionizer.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn resolve(&self, visitor: u64) -> u64 {
        self.links.get(&visitor).copied().unwrap_or(visitor)
    }

    /// Opens the timeline of `visitor_id` (linked to `previous_visitor_id`),
    /// so the caller can read its [`Memo`] before building the hit to add
    /// with [`Open::insert`].
    pub(crate) fn open(&mut self, visitor_id: u64, previous_visitor_id: Option<u64>) -> Open<'_> {
        let mut key = self.resolve(visitor_id);
        if let Some(previous) = previous_visitor_id {
            key = self.link(key, self.resolve(previous));
        }
        Open {
            key,
            timeline: self.timelines.entry(key).or_default(),
            dirty: &mut self.dirty,
        }
    }

    /// Links the timelines keyed `a` and `b` (both already resolved); returns
    /// the key of the joint timeline.
    fn link(&mut self, a: u64, b: u64) -> u64 {
        if a == b {
            return a;
        }
        let (keep, gone) = match (
            self.timelines.contains_key(&a),
            self.timelines.contains_key(&b),
        ) {
            (_, false) => (a, b),
            (false, true) => (b, a),
            (true, true) => (a, b),
        };
        self.links.insert(gone, keep);
        let Some(old) = self.timelines.remove(&gone) else {
            if let Some(t) = self.timelines.get_mut(&keep) {
                t.aliases.push(gone);
            } else {
                let t = self.timelines.entry(keep).or_default();
                t.aliases.push(gone);
            }
            return keep;
        };
        for alias in &old.aliases {
            self.links.insert(*alias, keep);
        }
        let t = self.timelines.entry(keep).or_default();
        t.hits.merge(&old.hits);
        t.published.extend(old.published);
        t.published.sort_unstable();
        t.aliases.push(gone);
        t.aliases.extend(old.aliases);
        if !t.dirty {
            t.dirty = true;
            self.dirty.push((keep, t.ends_at()));
        }
        keep
    }

    /// Reports the change of every visit since the last call: retractions of
    /// the visits that changed, additions of their new form.
    #[cfg(test)]
    fn publish(&mut self, sink: impl FnMut(&Visit, Sign)) {
        self.publish_ended(u64::MAX, sink);
    }

    /// Like [`Self::publish`], but only for visitors whose last event is more
    /// than [`VISIT_GAP_MS`] before `now_ms`: their visits have ended unless
    /// a late event arrives. Publishing a visit once it ended (instead of at
    /// every flush while it grows) avoids retracting it over and over, and
    /// the cells of its intermediate exit pages.
    pub(crate) fn publish_ended(&mut self, now_ms: u64, mut sink: impl FnMut(&Visit, Sign)) {
        let mut current = Vec::new();
        let mut pending = Vec::new();
        for (key, bound) in std::mem::take(&mut self.dirty) {
            if now_ms != u64::MAX && bound >= now_ms {
                pending.push((key, bound));
                continue;
            }
            let Some(t) = self.timelines.get_mut(&key) else {
                continue;
            };
            if !t.dirty {
                continue;
            }
            let ends = t.ends_at();
            if now_ms != u64::MAX && ends >= now_ms {
                pending.push((key, ends));
                continue;
            }
            t.dirty = false;
            if t.published.is_empty() {
                // Nothing counted yet (the common case): every visit is an
                // addition, and time order is `Visit` order.
                for visit in t.hits.visits() {
                    sink(&visit, Sign::Add);
                    t.published.push(visit);
                }
            } else {
                current.clear();
                current.extend(t.hits.visits());
                current.sort_unstable();
                diff_sorted(&t.published, &current, &mut sink);
                t.published.clear();
                t.published.extend_from_slice(&current);
            }
            self.expiry.push_back((t.hits.first_visit_end(), key));
        }
        self.dirty = pending;
    }

    /// Drops the visits that no event at or above `floor_ms` can change any
    /// more (call after [`Self::publish`]; dirty timelines are kept whole).
    pub(crate) fn evict(&mut self, floor_ms: u64) {
        // Only the timelines whose first visit may have closed are looked at.
        // The queue is in publication order, which is close to the order of
        // the times it holds (a visit is published once it ended): an entry
        // stuck behind a later one waits at most a lateness window longer.
        while let Some(&(at, key)) = self.expiry.front() {
            if at >= floor_ms {
                break;
            }
            self.expiry.pop_front();
            let Some(t) = self.timelines.get_mut(&key) else {
                continue;
            };
            if t.dirty {
                // Queued again when it is published.
                continue;
            }
            let closed = t.hits.closed_prefix(floor_ms);
            if closed >= t.hits.len() {
                let aliases = std::mem::take(&mut t.aliases);
                self.timelines.remove(&key);
                for alias in aliases {
                    self.links.remove(&alias);
                }
                continue;
            }
            if closed > 0 {
                let first_open = t.hits.sorted[closed].timestamp_ms;
                t.hits.sorted.drain(..closed);
                t.published.retain(|v| v.start_ms >= first_open);
            }
            self.expiry
                .push_back((t.hits.first_visit_end().max(floor_ms), key));
        }
    }

    /// What the sessionizer holds.
    pub(crate) fn stats(&self) -> SessionStats {
        SessionStats {
            visitors: self.timelines.len(),
            hits: self.timelines.values().map(|t| t.hits.len()).sum(),
        }
    }
}

/// Calls `sink` with `Retract` for visits only in `old`, `Add` for visits only
/// in `new` (both sorted; multisets).
fn diff_sorted(old: &[Visit], new: &[Visit], sink: &mut impl FnMut(&Visit, Sign)) {
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                sink(a, Sign::Retract);
                i += 1;
            }
            (Some(_), Some(b)) | (None, Some(b)) => {
                sink(b, Sign::Add);
                j += 1;
            }
            (Some(a), None) => {
                sink(a, Sign::Retract);
                i += 1;
            }
            (None, None) => break,
        }
    }
}

#[cfg(test)]
mod tests {

    // Moved from tests/engine.rs when `Hit` and `Visit` became crate-private:
    // the visits against a naive reference, in any order with repeats.
    mod reference {
        use super::super::*;
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};

        const T0: u64 = 1_704_067_200_000;
        const MIN: u64 = 60_000;

        /// The visits of `hits` by their definition, computed naively: the distinct
        /// hits (by `(timestamp, event_id)`, the first copy kept) in time order, cut
        /// where two consecutive hits are more than 30 minutes apart.
        fn reference_visits(hits: &[Hit]) -> Vec<Visit> {
            let mut distinct: Vec<Hit> = Vec::new();
            for h in hits {
                let key = (h.timestamp_ms, h.event_id);
                if !distinct.iter().any(|d| (d.timestamp_ms, d.event_id) == key) {
                    distinct.push(*h);
                }
            }
            distinct.sort_by_key(|h| (h.timestamp_ms, h.event_id));
            let mut runs: Vec<Vec<Hit>> = Vec::new();
            for h in distinct {
                match runs.last_mut() {
                    Some(run)
                        if run
                            .last()
                            .is_some_and(|l| h.timestamp_ms - l.timestamp_ms <= 30 * MIN) =>
                    {
                        run.push(h);
                    }
                    _ => runs.push(vec![h]),
                }
            }
            runs.iter()
                .map(|run| {
                    let pageviews: Vec<&Hit> = run.iter().filter(|h| h.pageview).collect();
                    let interactive: Vec<u64> = run
                        .iter()
                        .filter(|h| h.interactive)
                        .map(|h| h.timestamp_ms)
                        .collect();
                    let (first, last) = (&run[0], &run[run.len() - 1]);
                    Visit {
                        start_ms: first.timestamp_ms,
                        duration_ms: interactive.last().map_or(0, |l| l - interactive[0]),
                        pageviews: pageviews.len() as u32,
                        interactive_pageviews: pageviews.iter().filter(|h| h.interactive).count()
                            as u32,
                        entry_page: pageviews.first().map_or(first.page, |h| h.page),
                        exit_page: pageviews.last().map_or(last.page, |h| h.page),
                        profile: first.profile,
                        visitor_id: first.visitor_id,
                    }
                })
                .collect()
        }

        /// A hit at `minute` whose other fields are a function of `id`.
        fn hit_at(minute: u64, id: u64) -> Hit {
            Hit {
                timestamp_ms: T0 + minute * MIN,
                event_id: id,
                visitor_id: 10 + id % 2,
                page: (id % 3) as u32,
                profile: ((id % 2) as u32, (id % 3) as u32),
                pageview: !id.is_multiple_of(4),
                interactive: id != 5,
            }
        }

        #[test]
        fn visits_are_the_30_minute_runs_of_the_distinct_hits() {
            // Hand-checked: a gap of exactly 30 minutes continues a visit, 31 ends
            // it; a re-delivered hit counts once; event 4 is not a page view.
            let mut hits = Hits::default();
            for (minute, id) in [(30, 2), (0, 1), (30, 2), (61, 4), (91, 3)] {
                hits.insert(hit_at(minute, id));
            }
            let got: Vec<(u64, u32, u32)> = hits
                .visits()
                .map(|v| ((v.start_ms - T0) / MIN, v.pageviews, v.entry_page))
                .collect();
            assert_eq!(got, [(0, 2, 1), (61, 1, 0)]);

            // Any hits, inserted in any order with repeats.
            let case = proptest::collection::vec((0u64..240, 0u64..6), 0..16);
            let mut runner = TestRunner::new(Config::with_cases(512));
            let result = runner.run(&case, |keys| {
                let list: Vec<Hit> = keys.iter().map(|&(m, id)| hit_at(m, id)).collect();
                let mut hits = Hits::default();
                for h in &list {
                    hits.insert(*h);
                }
                prop_assert_eq!(hits.visits().collect::<Vec<_>>(), reference_visits(&list));
                Ok(())
            });
            if let Err(e) = result {
                panic!("{e}");
            }
        }
    }

    use super::*;

    /// Hits whose content is a function of `(timestamp, event_id)`, as for
    /// real events (a set of events, not of arbitrary records).
    fn hits() -> impl proptest::strategy::Strategy<Value = Hits> {
        use proptest::strategy::Strategy;
        proptest::collection::vec((0u64..240, 0u64..6), 0..12).prop_map(|keys| {
            let mut hits = Hits::default();
            for (minute, id) in keys {
                hits.insert(Hit {
                    timestamp_ms: minute * MIN,
                    event_id: id,
                    visitor_id: 1,
                    page: (id % 3) as u32,
                    profile: (0, 0),
                    pageview: id % 4 != 0,
                    interactive: id != 5,
                });
            }
            hits
        })
    }

    #[test]
    fn hits_are_a_lattice() {
        crate::lattice::testing::check_lattice_laws(hits());
    }

    /// Adds a hit to its visitor's timeline, as the writer does.
    fn add(s: &mut Sessionizer, previous_visitor_id: Option<u64>, hit: Hit) {
        s.open(hit.visitor_id, previous_visitor_id).insert(hit);
    }

    const MIN: u64 = 60_000;

    fn hit(visitor: u64, minute: u64, id: u64, page: u32, pageview: bool) -> Hit {
        Hit {
            timestamp_ms: minute * MIN,
            event_id: id,
            visitor_id: visitor,
            page,
            profile: (0, 0),
            pageview,
            interactive: true,
        }
    }

    /// Net visits after feeding `events` (visitor, previous, hit) in order and
    /// publishing after each: `(visits, bounces, total duration minutes)`.
    fn check(events: &[(Option<u64>, Hit)], expected: (i64, i64, i64)) {
        for order in [false, true] {
            let mut s = Sessionizer::new();
            let mut net = (0i64, 0i64, 0i64);
            let mut feed: Vec<_> = events.to_vec();
            if order {
                feed.reverse();
            }
            for (previous, h) in feed {
                add(&mut s, previous, h);
                s.publish(|v, sign| {
                    let k = if sign == Sign::Add { 1 } else { -1 };
                    net.0 += k;
                    net.1 += k * i64::from(v.is_bounce());
                    net.2 += k * (v.duration_ms / MIN) as i64;
                });
            }
            assert_eq!(net, expected, "events {events:?} reversed={order}");
        }
    }

    #[test]
    fn thirty_minutes_of_inactivity_end_a_visit() {
        check(&[(None, hit(1, 0, 1, 1, true))], (1, 1, 0));
        check(
            &[
                (None, hit(1, 0, 1, 1, true)),
                (None, hit(1, 30, 2, 2, true)),
            ],
            (1, 0, 30),
        );
        check(
            &[
                (None, hit(1, 0, 1, 1, true)),
                (None, hit(1, 31, 2, 2, true)),
            ],
            (2, 2, 0),
        );
        // Another visitor is another visit.
        check(
            &[(None, hit(1, 0, 1, 1, true)), (None, hit(2, 1, 2, 2, true))],
            (2, 2, 0),
        );
    }

    #[test]
    fn a_late_event_bridges_two_visits() {
        let events = [
            (None, hit(1, 0, 1, 1, true)),
            (None, hit(1, 50, 2, 2, true)),
            (None, hit(1, 25, 3, 3, true)),
        ];
        check(&events, (1, 0, 50));
    }

    #[test]
    fn custom_events_do_not_end_a_bounce() {
        check(
            &[
                (None, hit(1, 0, 1, 1, true)),
                (None, hit(1, 5, 2, 1, false)),
            ],
            (1, 1, 5),
        );
        let mut quiet = hit(1, 5, 2, 1, true);
        quiet.interactive = false;
        check(&[(None, hit(1, 0, 1, 1, true)), (None, quiet)], (1, 1, 0));
    }

    #[test]
    fn a_visit_continues_across_a_salt_rotation() {
        let events = [
            (None, hit(1, 0, 1, 1, true)),
            (Some(1), hit(2, 10, 2, 2, true)),
        ];
        check(&events, (1, 0, 10));
    }

    #[test]
    fn duplicates_are_stored_once() {
        check(
            &[(None, hit(1, 0, 1, 1, true)), (None, hit(1, 0, 1, 1, true))],
            (1, 1, 0),
        );
    }

    #[test]
    fn entry_and_exit_pages_follow_time_not_arrival() {
        let mut s = Sessionizer::new();
        add(&mut s, None, hit(1, 10, 1, 10, true));
        add(&mut s, None, hit(1, 5, 2, 5, true));
        add(&mut s, None, hit(1, 20, 3, 20, true));
        let mut visits = Vec::new();
        s.publish(|v, _| visits.push((v.entry_page, v.exit_page, v.pageviews)));
        assert_eq!(visits, [(5, 20, 3)]);
    }

    #[test]
    fn a_long_lived_visitor_keeps_only_its_open_visits() {
        // A visit every 40 minutes for 20 hours, published and evicted as a
        // writer does (horizon one hour behind the newest event).
        let mut s = Sessionizer::new();
        for i in 0..30u64 {
            add(&mut s, None, hit(1, i * 40, i + 1, 1, true));
            s.publish(|_, _| {});
            s.evict((i * 40).saturating_sub(60) * MIN);
            assert!(s.stats().hits <= 3, "{:?} after {i}", s.stats());
        }
        assert_eq!(s.stats().visitors, 1);
        s.evict(30 * 40 * MIN);
        assert_eq!(s.stats(), SessionStats::default());
    }

    #[test]
    fn closed_visits_are_evicted() {
        let mut s = Sessionizer::new();
        add(&mut s, None, hit(1, 0, 1, 1, true));
        add(&mut s, None, hit(1, 100, 2, 1, true));
        add(&mut s, None, hit(2, 100, 3, 1, true));
        s.publish(|_, _| {});
        s.evict(100 * MIN);
        assert_eq!(
            s.stats(),
            SessionStats {
                visitors: 2,
                hits: 2
            }
        );
        s.evict(131 * MIN);
        assert_eq!(s.stats(), SessionStats::default());
    }
}
