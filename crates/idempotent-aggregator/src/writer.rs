//! The single writer of one site's rollups (what the site's Durable Object
//! holds): de-duplication, visits and the hot path that applies an event to
//! every dimension.
//!
//! [`SiteWriter::apply`] takes an [`Event`]; [`SiteWriter::take_delta`]
//! publishes the visits that changed and returns the cells touched since the
//! last delta as a [`Delta`] carrying this replica's cumulative totals;
//! [`SiteWriter::snapshot`] returns everything as a [`SiteRollup`].
//!
//! # The hot path
//! Applying one event touches about twenty cells. It avoids hashing strings
//! per cell and allocating per event:
//! - dimension values are interned once (`u32` ids); the visit-level values
//!   of an event are interned as two *profiles*, the visitor's (country,
//!   browser and version, OS and version, device, screen) and the session's
//!   (hostname, source, referrer, channel, UTM), each looked up by a single
//!   hash of its fields laid end to end;
//! - the cells of `(hour, profile)` are resolved once and cached, so most
//!   events do one cache lookup for seventeen cells;
//! - the visitor is inserted into the profile cells' sketches only on the
//!   first event of a `(visitor, hour, profile)`: inserting it again would
//!   not change the sketches;
//! - visits are published when they end (or when a delta or snapshot is
//!   taken), not per event: an in-order visit is counted once, never
//!   retracted.
//!
//! Measured (docs/benchmarks.md, section `aggregator-engine`): about 1.1 µs
//! per event on the 10M-event stream's first 200 000 lines (criterion),
//! 1.8–2.3 µs over the whole stream, against a target of 300 ns; about 4 300
//! instructions per event. What remains is spread out: sketch inserts (17 per
//! new visitor, hour and profile), visit publication (nineteen cells per
//! visit), interning the event's strings, cell lookups, sessions.

use std::hash::BuildHasher;

use glinto_event_model::Event;
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};

use crate::counter::ReplicaId;
use crate::dedup::{Admission, Deduplicator};
use crate::delta::Delta;
use crate::rollup::{Cell, Counts, Dimension, SiteRollup, Tally, Values, hour_of};
use crate::session::{Hit, Sessionizer, Sign, Visit};
use crate::sketch::{HashedVisitor, UniqueSketch};
use crate::{Error, Result};

/// The dimensions fixed per visitor (the visitor profile), in this order.
const VISITOR_DIMS: [Dimension; 7] = [
    Dimension::Country,
    Dimension::Browser,
    Dimension::BrowserVersion,
    Dimension::Os,
    Dimension::OsVersion,
    Dimension::Device,
    Dimension::Screen,
];

/// The dimensions fixed per visit (the session profile), in this order.
const SESSION_DIMS: [Dimension; 9] = [
    Dimension::Hostname,
    Dimension::Source,
    Dimension::Referrer,
    Dimension::Channel,
    Dimension::UtmSource,
    Dimension::UtmMedium,
    Dimension::UtmCampaign,
    Dimension::UtmContent,
    Dimension::UtmTerm,
];

/// Cells resolved per `(hour, profile)`: the total, the visitor's and the
/// session's.
const PROFILE_CELLS: usize = 1 + VISITOR_DIMS.len() + SESSION_DIMS.len();

/// A slot index that is no slot: an omitted empty value.
const NO_SLOT: u32 = u32::MAX;

/// How a [`SiteWriter`] treats late events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterConfig {
    /// Events more than this behind the newest event are `TooLate` (not
    /// counted); it also bounds how long visits and event ids are kept.
    pub max_lateness_ms: u64,
    /// [`SiteWriter::apply`] flushes whenever the event time crosses a
    /// multiple of this: it publishes the visits that ended (30 minutes
    /// without an event) and evicts the closed ones. Visits in progress are
    /// published by [`SiteWriter::flush`], [`SiteWriter::take_delta`] and
    /// [`SiteWriter::snapshot`], which publish everything.
    pub flush_interval_ms: u64,
}

impl Default for WriterConfig {
    /// One hour of lateness (a tracker's offline buffer and queue retries
    /// fit) and a flush every five minutes of event time.
    fn default() -> Self {
        Self {
            max_lateness_ms: 3_600_000,
            flush_interval_ms: 300_000,
        }
    }
}

impl WriterConfig {
    /// A configuration that admits events in any order (an import of a
    /// closed range): nothing is ever too late, so nothing is evicted and
    /// memory grows with the events.
    pub fn unbounded() -> Self {
        Self {
            max_lateness_ms: u64::MAX,
            ..Self::default()
        }
    }
}

/// What a writer did with the events it was given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Events counted.
    pub admitted: u64,
    /// Re-deliveries ignored.
    pub duplicates: u64,
    /// Events older than the lateness horizon, not counted.
    pub too_late: u64,
    /// Cells held.
    pub cells: usize,
    /// Deltas produced.
    pub deltas: u64,
}

fn visitor_fields(e: &Event) -> [&str; 7] {
    [
        &e.country_code,
        &e.browser,
        &e.browser_version,
        &e.os,
        &e.os_version,
        e.device.as_str(),
        &e.screen,
    ]
}

fn session_fields(e: &Event) -> [&str; 9] {
    [
        &e.hostname,
        &e.source,
        &e.referrer,
        e.channel.as_str(),
        &e.utm_source,
        &e.utm_medium,
        &e.utm_campaign,
        &e.utm_content,
        &e.utm_term,
    ]
}

/// Interned tuples of `N` field values: each tuple is looked up by one hash
/// and one comparison of its fields laid end to end (each followed by
/// `0xff`, a byte UTF-8 never contains), cheaper than `N` of each.
#[derive(Debug, Default)]
struct Tuples<const N: usize> {
    hasher: DefaultHashBuilder,
    table: HashTable<u32>,
    keys: Vec<Box<[u8]>>,
    /// The cell value ids of each tuple.
    values: Vec<[u32; N]>,
    scratch: Vec<u8>,
}

impl<const N: usize> Tuples<N> {
    /// The id of `fields`; `versions` lists `(version_at, name_at)` pairs whose
    /// cell value is `"name version"`.
    fn intern(
        &mut self,
        fields: &[&str; N],
        strings: &mut Values,
        versions: &[(usize, usize)],
    ) -> u32 {
        self.scratch.clear();
        for f in fields {
            self.scratch.extend_from_slice(f.as_bytes());
            self.scratch.push(0xff);
        }
        let key = self.scratch.as_slice();
        let hash = self.hasher.hash_one(key);
        let keys = &self.keys;
        let found = self.table.find(hash, |&id| {
            keys.get(id as usize).is_some_and(|k| &**k == key)
        });
        if let Some(&id) = found {
            return id;
        }
        let mut values: [u32; N] = std::array::from_fn(|i| strings.intern(fields[i]));
        for &(version_at, name_at) in versions {
            let (name, version) = (fields[name_at], fields[version_at]);
            // No version: no value (the dimension omits empty values).
            let combined = if version.is_empty() {
                String::new()
            } else {
                format!("{name} {version}")
            };
            values[version_at] = strings.intern(&combined);
        }
        let id = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        self.keys.push(key.into());
        self.values.push(values);
        let (hasher, keys) = (&self.hasher, &self.keys);
        self.table.insert_unique(hash, id, |&id| {
            hasher.hash_one(keys.get(id as usize).map_or(&[][..], |k| &k[..]))
        });
        id
    }
}

/// An event's profile: the pair (visitor profile, session profile), each
/// interned separately (a few thousand of each) and the pair on top.
#[derive(Debug, Default)]
struct Profiles {
    visitor: Tuples<7>,
    session: Tuples<9>,
    pairs: HashMap<(u32, u32), u32>,
    by_id: Vec<(u32, u32)>,
}

impl Profiles {
    fn intern(&mut self, e: &Event, strings: &mut Values) -> u32 {
        let v = self
            .visitor
            .intern(&visitor_fields(e), strings, &[(2, 1), (4, 3)]);
        let s = self.session.intern(&session_fields(e), strings, &[]);
        let by_id = &mut self.by_id;
        *self.pairs.entry((v, s)).or_insert_with(|| {
            by_id.push((v, s));
            u32::try_from(by_id.len() - 1).unwrap_or(u32::MAX)
        })
    }
}

/// A cell key inside the writer: interned value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct CellId {
    hour: u32,
    dim: Dimension,
    value: u32,
}

#[derive(Debug)]
struct Slot {
    id: CellId,
    counts: Counts,
    visitors: UniqueSketch,
    dirty: bool,
}

/// The index and caches of one hour's cells. Per hour, so the maps of the
/// hours being written stay small and in cache however long the history.
#[derive(Debug)]
struct HourIndex {
    hour: u32,
    cells: HashMap<(Dimension, u32), u32>,
    by_profile: HashMap<u32, [u32; PROFILE_CELLS]>,
    by_visitor: HashMap<u32, [u32; VISITOR_DIMS.len()]>,
    by_session: HashMap<u32, [u32; SESSION_DIMS.len()]>,
}

/// The writer's cells: per-hour indexes of interned keys into slots.
#[derive(Debug, Default)]
struct Cells {
    hours: Vec<HourIndex>,
    hour_pos: HashMap<u32, usize>,
    /// The last `(hour, position)` looked up: consecutive events share it.
    last: Option<(u32, usize)>,
    slots: Vec<Slot>,
    dirty: Vec<u32>,
}

impl Cells {
    fn hour(&mut self, hour: u32) -> usize {
        if let Some((h, pos)) = self.last
            && h == hour
        {
            return pos;
        }
        let hours = &mut self.hours;
        let pos = *self.hour_pos.entry(hour).or_insert_with(|| {
            hours.push(HourIndex {
                hour,
                cells: HashMap::new(),
                by_profile: HashMap::new(),
                by_visitor: HashMap::new(),
                by_session: HashMap::new(),
            });
            hours.len() - 1
        });
        self.last = Some((hour, pos));
        pos
    }

    fn slot(&mut self, id: CellId) -> u32 {
        let pos = self.hour(id.hour);
        let slots = &mut self.slots;
        let Some(index) = self.hours.get_mut(pos) else {
            return NO_SLOT;
        };
        *index.cells.entry((id.dim, id.value)).or_insert_with(|| {
            slots.push(Slot {
                id,
                counts: Counts::default(),
                visitors: UniqueSketch::new(),
                dirty: false,
            });
            u32::try_from(slots.len() - 1).unwrap_or(u32::MAX)
        })
    }

    /// Drops the profile caches of the hours before `hour` (pure caches:
    /// rebuilt from the cell index if ever needed again).
    fn forget_caches_before(&mut self, hour: u32) {
        for index in &mut self.hours {
            if index.hour < hour && !index.by_profile.is_empty() {
                index.by_profile = HashMap::new();
                index.by_visitor = HashMap::new();
                index.by_session = HashMap::new();
            }
        }
    }

    fn profile_slots(
        &mut self,
        hour: u32,
        profile: u32,
        profiles: &Profiles,
        total: u32,
    ) -> [u32; PROFILE_CELLS] {
        let pos = self.hour(hour);
        if let Some(slots) = self.hours.get(pos).and_then(|h| h.by_profile.get(&profile)) {
            return *slots;
        }
        let mut slots = [NO_SLOT; PROFILE_CELLS];
        slots[0] = self.slot(CellId {
            hour,
            dim: Dimension::Total,
            value: total,
        });
        if let Some(&(v, s)) = profiles.by_id.get(profile as usize) {
            let visitor = match self.hours.get(pos).and_then(|h| h.by_visitor.get(&v)) {
                Some(found) => *found,
                None => {
                    let values = profiles
                        .visitor
                        .values
                        .get(v as usize)
                        .copied()
                        .unwrap_or_default();
                    let built = self.dim_slots(hour, &VISITOR_DIMS, &values, total);
                    if let Some(h) = self.hours.get_mut(pos) {
                        h.by_visitor.insert(v, built);
                    }
                    built
                }
            };
            let session = match self.hours.get(pos).and_then(|h| h.by_session.get(&s)) {
                Some(found) => *found,
                None => {
                    let values = profiles
                        .session
                        .values
                        .get(s as usize)
                        .copied()
                        .unwrap_or_default();
                    let built = self.dim_slots(hour, &SESSION_DIMS, &values, total);
                    if let Some(h) = self.hours.get_mut(pos) {
                        h.by_session.insert(s, built);
                    }
                    built
                }
            };
            slots[1..=VISITOR_DIMS.len()].copy_from_slice(&visitor);
            slots[1 + VISITOR_DIMS.len()..].copy_from_slice(&session);
        }
        if let Some(h) = self.hours.get_mut(pos) {
            h.by_profile.insert(profile, slots);
        }
        slots
    }

    /// The slots of `dims[i] = values[i]` in `hour` (`NO_SLOT` for an
    /// omitted empty value; `empty` is the id of `""`).
    fn dim_slots<const N: usize>(
        &mut self,
        hour: u32,
        dims: &[Dimension; N],
        values: &[u32; N],
        empty: u32,
    ) -> [u32; N] {
        std::array::from_fn(|i| {
            let (dim, value) = (dims[i], values[i]);
            if value == empty && dim.omits_empty() {
                NO_SLOT
            } else {
                self.slot(CellId { hour, dim, value })
            }
        })
    }

    #[inline]
    fn touch(&mut self, slot: u32) -> Option<&mut Slot> {
        let s = self.slots.get_mut(slot as usize)?;
        if !s.dirty {
            s.dirty = true;
            self.dirty.push(slot);
        }
        Some(s)
    }
}

/// The single writer of one site's rollups (module docs).
#[derive(Debug)]
pub struct SiteWriter {
    site: String,
    replica: ReplicaId,
    dedup: Deduplicator,
    sessions: Sessionizer,
    strings: Values,
    profiles: Profiles,
    cells: Cells,
    /// Interned id of the empty string (the total's value).
    empty: u32,
    seq: u64,
    stats: WriterStats,
    scratch: String,
    flush_interval_ms: u64,
    /// `watermark / flush_interval` at the last flush.
    flushed_epoch: u64,
    evicted_floor_ms: u64,
    evict_step_ms: u64,
}

impl SiteWriter {
    /// A writer for `site` writing as `replica` (one writer per replica id,
    /// for its whole life: see [`crate::counter`]).
    pub fn new(site: impl Into<String>, replica: ReplicaId, config: WriterConfig) -> Self {
        let mut strings = Values::default();
        let empty = strings.intern("");
        Self {
            site: site.into(),
            replica,
            dedup: Deduplicator::new(config.max_lateness_ms),
            sessions: Sessionizer::new(),
            strings,
            profiles: Profiles::default(),
            cells: Cells::default(),
            empty,
            seq: 0,
            stats: WriterStats::default(),
            scratch: String::new(),
            flush_interval_ms: config.flush_interval_ms.max(1),
            flushed_epoch: 0,
            evicted_floor_ms: 0,
            evict_step_ms: (config.max_lateness_ms / 4).max(config.flush_interval_ms),
        }
    }

    /// The site written.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// The replica id written as.
    pub fn replica(&self) -> ReplicaId {
        self.replica
    }

    /// Counters of what was applied.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            cells: self.cells.slots.len(),
            ..self.stats
        }
    }

    /// Applies one event to every dimension (module docs), once per
    /// `event_id` within the lateness window.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] when the event is for another site.
    pub fn apply(&mut self, event: &Event) -> Result<Admission> {
        if event.site != self.site {
            return Err(Error::Malformed {
                kind: "event",
                field: "site",
                reason: "the event belongs to another site's writer",
            });
        }
        match self.dedup.admit(event.event_id, event.timestamp_ms) {
            Admission::New => {}
            Admission::Duplicate => {
                self.stats.duplicates += 1;
                return Ok(Admission::Duplicate);
            }
            Admission::TooLate => {
                self.stats.too_late += 1;
                return Ok(Admission::TooLate);
            }
        }
        let epoch = event.timestamp_ms / self.flush_interval_ms;
        if epoch > self.flushed_epoch {
            self.flushed_epoch = epoch;
            self.flush_until(event.timestamp_ms);
        }
        let hour = hour_of(event.timestamp_ms);
        let pageview = event.is_pageview();
        let page = self.strings.intern(&event.pathname);
        let profile = self.profiles.intern(event, &mut self.strings);
        let visitor = event.visitor_id;
        let hit = Hit {
            timestamp_ms: event.timestamp_ms,
            event_id: event.event_id,
            visitor_id: visitor,
            page,
            profile,
            pageview,
            interactive: event.interactive,
        };
        let Some(mut added) = self.sessions.add(event.previous_visitor_id, hit) else {
            self.stats.duplicates += 1;
            return Ok(Admission::Duplicate);
        };
        let fresh = !added.seen_before((visitor, hour, profile));
        self.stats.admitted += 1;

        let pv = u64::from(pageview);
        let slots = self
            .cells
            .profile_slots(hour, profile, &self.profiles, self.empty);
        // Hashed once for the seventeen sketches.
        let hashed = HashedVisitor::new(visitor);
        for slot in slots {
            if let Some(s) = self.cells.touch(slot) {
                s.counts.pageviews += pv;
                s.counts.events += 1;
                if fresh {
                    s.visitors.insert_hashed(hashed);
                }
            }
        }
        let (dim, value) = if pageview {
            (Dimension::Page, page)
        } else {
            (Dimension::Goal, self.strings.intern(&event.name))
        };
        self.count_event(CellId { hour, dim, value }, pv, visitor);
        for (key, val) in &event.props {
            self.scratch.clear();
            self.scratch.push_str(key);
            self.scratch.push('=');
            self.scratch.push_str(val);
            let value = self.strings.intern(&self.scratch);
            let dim = Dimension::Prop;
            self.count_event(CellId { hour, dim, value }, pv, visitor);
        }
        Ok(Admission::New)
    }

    fn count_event(&mut self, id: CellId, pv: u64, visitor: u64) {
        let slot = self.cells.slot(id);
        if let Some(s) = self.cells.touch(slot) {
            s.counts.pageviews += pv;
            s.counts.events += 1;
            s.visitors.insert(visitor);
        }
    }

    /// Publishes the visits that changed since the last flush (additions and
    /// retractions) and evicts the visits that can no longer change.
    pub fn flush(&mut self) {
        self.flush_until(u64::MAX);
    }

    /// Publishes the changed visits that ended (no event in the 30 minutes
    /// before `now_ms`; all of them for `u64::MAX`), then evicts.
    fn flush_until(&mut self, now_ms: u64) {
        let Self {
            sessions,
            cells,
            profiles,
            empty,
            ..
        } = self;
        sessions.publish_ended(now_ms, |visit, sign| {
            count_visit(cells, profiles, *empty, visit, sign)
        });
        // Eviction scans every timeline: do it when the floor moved by a
        // quarter of the window (memory stays within 1.25 windows).
        let floor = self.dedup.floor_ms();
        if floor >= self.evicted_floor_ms.saturating_add(self.evict_step_ms) {
            self.sessions.evict(floor);
            self.evicted_floor_ms = floor;
            // Visits still open may start up to a lateness window earlier.
            let cutoff = floor.saturating_sub(self.evict_step_ms.saturating_mul(4));
            self.cells.forget_caches_before(hour_of(cutoff));
        }
    }

    /// Flushes, then returns the cells touched since the last delta (with
    /// this replica's cumulative totals) as the next delta; `None` when
    /// nothing changed.
    pub fn take_delta(&mut self) -> Option<Delta> {
        self.flush();
        if self.cells.dirty.is_empty() {
            return None;
        }
        self.seq += 1;
        self.stats.deltas += 1;
        let mut rollup = SiteRollup::new(self.site.clone());
        rollup.mark_seen(self.replica, self.seq);
        for slot in std::mem::take(&mut self.cells.dirty) {
            let Some(s) = self.cells.slots.get_mut(slot as usize) else {
                continue;
            };
            s.dirty = false;
            let cell = rollup.cell_mut(s.id.hour, s.id.dim, self.strings.get(s.id.value));
            *cell = Cell {
                tally: Tally::single(self.replica, s.counts),
                visitors: s.visitors.clone(),
            };
        }
        Some(Delta::new(self.replica, self.seq, rollup))
    }

    /// Flushes, then returns every cell as a rollup (containing the deltas
    /// produced so far).
    pub fn snapshot(&mut self) -> SiteRollup {
        self.flush();
        let mut rollup = SiteRollup::with_values(self.site.clone(), self.strings.clone());
        for seq in 1..=self.seq {
            rollup.mark_seen(self.replica, seq);
        }
        for s in &self.cells.slots {
            let cell = rollup.cell_mut_by_id(s.id.hour, s.id.dim, s.id.value);
            *cell = Cell {
                tally: Tally::single(self.replica, s.counts),
                visitors: s.visitors.clone(),
            };
        }
        rollup
    }

    /// Flushes, then turns the writer into a rollup of every cell without
    /// copying the sketches (for a final export).
    pub fn into_rollup(mut self) -> SiteRollup {
        self.flush();
        let mut rollup = SiteRollup::with_values(self.site.clone(), self.strings);
        for seq in 1..=self.seq {
            rollup.mark_seen(self.replica, seq);
        }
        for s in self.cells.slots {
            let cell = rollup.cell_mut_by_id(s.id.hour, s.id.dim, s.id.value);
            *cell = Cell {
                tally: Tally::single(self.replica, s.counts),
                visitors: s.visitors,
            };
        }
        rollup
    }

    /// What the session state holds (memory bound diagnostics).
    pub fn session_stats(&self) -> crate::session::SessionStats {
        self.sessions.stats()
    }

    /// How many event ids the de-duplicator holds.
    pub fn dedup_len(&self) -> usize {
        self.dedup.len()
    }
}

fn count_visit(cells: &mut Cells, profiles: &Profiles, empty: u32, visit: &Visit, sign: Sign) {
    let hour = hour_of(visit.start_ms);
    let bounce = u64::from(visit.is_bounce());
    let duration = visit.duration_ms;
    let mut slots = [0u32; PROFILE_CELLS + 2];
    slots[..PROFILE_CELLS].copy_from_slice(&cells.profile_slots(
        hour,
        visit.profile,
        profiles,
        empty,
    ));
    slots[PROFILE_CELLS] = cells.slot(CellId {
        hour,
        dim: Dimension::EntryPage,
        value: visit.entry_page,
    });
    slots[PROFILE_CELLS + 1] = cells.slot(CellId {
        hour,
        dim: Dimension::ExitPage,
        value: visit.exit_page,
    });
    for (i, slot) in slots.into_iter().enumerate() {
        let Some(s) = cells.touch(slot) else { continue };
        let c = &mut s.counts;
        match sign {
            Sign::Add => {
                c.visits_added += 1;
                c.bounces_added += bounce;
                c.duration_added_ms += duration;
                if i >= PROFILE_CELLS {
                    s.visitors.insert(visit.visitor_id);
                }
            }
            Sign::Retract => {
                c.visits_retracted += 1;
                c.bounces_retracted += bounce;
                c.duration_retracted_ms += duration;
            }
        }
    }
}
