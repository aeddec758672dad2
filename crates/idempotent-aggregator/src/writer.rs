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
//! Applying one event touches about twenty cells. The writer keeps the work
//! per event to a few lookups, and defers the rest to a flush:
//! - dimension values are interned once (`u32` ids, strings in one dense
//!   buffer); the visit-level values of an event are interned as two
//!   *profiles*, the visitor's (country, browser and version, OS and version,
//!   device, screen) and the visit's (hostname, source, referrer, channel,
//!   UTM), each hashed field by field and compared with word loads;
//! - the visitor's timeline carries a `Memo` of where its last event was
//!   counted (hour, profiles, groups): an event with the same profiles as the
//!   visitor's last one compares bytes instead of hashing sixteen fields, and
//!   an event of the same hour skips the group lookups and every sketch insert;
//! - the sixteen visit-level cells are not touched per event: an event adds
//!   to one *group* per profile and hour (`Group`: pending counts, and the
//!   visitor when it is new to the group), and [`SiteWriter::flush`] (so every
//!   delta and snapshot) adds each group to its cells at once;
//! - the cell or group a value was last resolved to is remembered per
//!   dimension (`Recent`): events arrive mostly in time order, so a lookup is
//!   usually one array read; cells and groups live in chunked arenas that never
//!   move what they hold;
//! - visits are published when they end (or when a delta or snapshot is
//!   taken), not per event: an in-order visit is counted once, never
//!   retracted. Closed visits are evicted from a queue ordered by closing time.
//!
//! Measured (docs/benchmarks.md, section `aggregator-engine`): 0.6–0.9 µs
//! per event on the 10M-event stream's first 200 000 lines (criterion, one
//! site; the input's memory layout moves it), 1.3–1.8 µs over the whole
//! stream; `examples/profile_floor.rs` measures the machine's floor under it
//! (3 of the 22 dimensions cost 175–405 ns/event there with the cheapest
//! structures; `docs/decisions.md`); about 3 600
//! instructions per event, spread over visit publication, the groups' sketch
//! inserts at flush, interning, sessions and de-duplication.

use std::hash::{BuildHasher, Hasher};

use glinto_event_model::Event;
use hashbrown::{DefaultHashBuilder, HashMap};

use crate::counter::ReplicaId;
use crate::dedup::{Admission, Deduplicator};
use crate::delta::Delta;
use crate::intern::{Interner, Values};
use crate::rollup::{Cell, Counts, DIMENSIONS, Dimension, SiteRollup, Tally, bucket_of};
use crate::session::{Hit, Memo, Sessionizer, Sign, Visit};
use crate::sketch::{HashScheme, UniqueSketch};
use crate::{Error, Result};

mod state;

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

/// The dimensions fixed per visit (the visit profile), in this order.
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
    /// The phase of the site's hour buckets, minutes
    /// ([`crate::rollup::bucket_of`]): 0 for every zone whose offset is a
    /// whole number of hours, 30 for Asia/Kolkata (UTC+5:30), 45 for
    /// Asia/Kathmandu (UTC+5:45). Fixed for a site's life: its rollups are
    /// keyed by these buckets (a site moving to a zone of another phase is
    /// rebuilt from its archived events).
    pub bucket_offset_minutes: u16,
}

impl Default for WriterConfig {
    /// One hour of lateness (a tracker's offline buffer and queue retries
    /// fit) and a flush every five minutes of event time.
    fn default() -> Self {
        Self {
            max_lateness_ms: 3_600_000,
            flush_interval_ms: 300_000,
            bucket_offset_minutes: 0,
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
    /// Engagement events seen (scroll depth, engaged time): not counted as
    /// page views or custom events; the engagement metrics are not rolled up yet.
    pub engagements: u64,
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

fn visit_fields(e: &Event) -> [&str; 9] {
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

/// Interned tuples of `N` field values (the crate's one [`Interner`]): each
/// tuple is looked up by one hash over its fields and compared with its key,
/// the fields laid end to end (each followed by `0xff`, a byte UTF-8 never
/// contains): cheaper than `N` lookups of single values.
#[derive(Debug, Default)]
struct Tuples<const N: usize> {
    keys: Interner<Vec<u8>>,
    /// The cell value ids of each tuple.
    values: Vec<[u32; N]>,
}

impl<const N: usize> Tuples<N> {
    /// Whether tuple `id` is `fields`.
    #[inline]
    fn matches(&self, id: u32, fields: &[&str; N]) -> bool {
        self.keys
            .key(id)
            .is_some_and(|key| key_matches(key, fields))
    }

    /// The hash of `fields` (the same as [`key_hash`] of their key).
    #[inline]
    fn hash(&self, fields: &[&str; N]) -> u64 {
        let mut h = self.keys.hasher().build_hasher();
        for f in fields {
            h.write(f.as_bytes());
            h.write_u8(0xff);
        }
        h.finish()
    }

    /// The id of `fields`; `versions` lists `(version_at, name_at)` pairs whose
    /// cell value is `"name version"`.
    fn intern(
        &mut self,
        fields: &[&str; N],
        strings: &mut Values,
        versions: &[(usize, usize)],
    ) -> u32 {
        let hash = self.hash(fields);
        if let Some(id) = self.keys.find(hash, |key| key_matches(key, fields)) {
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
        self.values.push(values);
        self.keys.insert_new(
            hash,
            |bytes| {
                for f in fields {
                    bytes.extend_from_slice(f.as_bytes());
                    bytes.push(0xff);
                }
            },
            key_hash,
        )
    }
}

/// The hash of a stored key: its fields (each ended by `0xff`) hashed as
/// [`Tuples::hash`] hashes them.
fn key_hash(hasher: &DefaultHashBuilder, key: &[u8]) -> u64 {
    let mut h = hasher.build_hasher();
    let Some(key) = key.strip_suffix(&[0xff]) else {
        return h.finish();
    };
    for field in key.split(|&b| b == 0xff) {
        h.write(field);
        h.write_u8(0xff);
    }
    h.finish()
}

/// Whether `key` is `fields`, each followed by `0xff`. The fields are short
/// (a country code, a browser name): compared inline rather than through a
/// `memcmp` call each.
#[inline]
fn key_matches(mut key: &[u8], fields: &[&str]) -> bool {
    for f in fields {
        let f = f.as_bytes();
        match (key.get(..f.len()), key.get(f.len())) {
            (Some(head), Some(&0xff)) if eq_short(head, f) => key = &key[f.len() + 1..],
            _ => return false,
        }
    }
    key.is_empty()
}

/// `a == b` for slices of equal length, without a library call when short.
#[inline]
fn eq_short(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let load8 = |s: &[u8], at: usize| -> u64 {
        s.get(at..at + 8)
            .and_then(|w| w.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    let load4 = |s: &[u8], at: usize| -> u32 {
        s.get(at..at + 4)
            .and_then(|w| w.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    };
    match n {
        0 => true,
        1..=3 => a.first() == b.first() && a.get(n / 2) == b.get(n / 2) && a.last() == b.last(),
        4..=7 => load4(a, 0) == load4(b, 0) && load4(a, n - 4) == load4(b, n - 4),
        8..=16 => load8(a, 0) == load8(b, 0) && load8(a, n - 8) == load8(b, n - 8),
        _ => a == b,
    }
}

/// An event's profiles: the visitor profile and the visit profile, each
/// interned separately (a few thousand of each).
#[derive(Debug, Default)]
struct Profiles {
    visitor: Tuples<7>,
    visit: Tuples<9>,
}

impl Profiles {
    /// Whether the event's fields are those of `profile` (no hashing: a
    /// byte comparison).
    #[inline]
    fn matches(&self, profile: (u32, u32), e: &Event) -> bool {
        self.visitor.matches(profile.0, &visitor_fields(e))
            && self.visit.matches(profile.1, &visit_fields(e))
    }

    /// `(visitor profile, visit profile)` of the event.
    fn intern(&mut self, e: &Event, strings: &mut Values) -> (u32, u32) {
        let v = self
            .visitor
            .intern(&visitor_fields(e), strings, &[(2, 1), (4, 3)]);
        let s = self.visit.intern(&visit_fields(e), strings, &[]);
        (v, s)
    }
}

/// The last `(hour, index)` resolved per id (a value or profile id): events
/// arrive mostly in time order, so the cell or group of a value is usually
/// the one resolved for it last, found by one array read instead of a hash
/// lookup.
#[derive(Debug, Default)]
struct Recent {
    by_id: Vec<(u32, u32)>,
}

impl Recent {
    #[inline]
    fn get(&self, id: u32, hour: u32) -> Option<u32> {
        match self.by_id.get(id as usize) {
            Some(&(h, index)) if h == hour && index != NO_SLOT => Some(index),
            _ => None,
        }
    }

    #[inline]
    fn set(&mut self, id: u32, hour: u32, index: u32) {
        let at = id as usize;
        if at >= self.by_id.len() {
            self.by_id.resize(at + 1, (0, NO_SLOT));
        }
        if let Some(entry) = self.by_id.get_mut(at) {
            *entry = (hour, index);
        }
    }
}

/// Append-only storage in chunks of [`CHUNK`]: growing never moves what is
/// stored (a `Vec` of a million cells copies hundreds of megabytes while it
/// doubles), and ids stay `u32` indexes.
#[derive(Debug)]
struct Arena<T> {
    chunks: Vec<Vec<T>>,
}

/// Items per [`Arena`] chunk.
const CHUNK: usize = 4096;

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Self { chunks: Vec::new() }
    }
}

impl<T> Arena<T> {
    fn len(&self) -> usize {
        self.chunks.len().saturating_sub(1) * CHUNK + self.chunks.last().map_or(0, Vec::len)
    }

    /// Stores `item`; returns its id.
    fn push(&mut self, item: T) -> u32 {
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let id = self.len();
        if let Some(chunk) = self.chunks.last_mut() {
            chunk.push(item);
        }
        u32::try_from(id).unwrap_or(NO_SLOT)
    }

    #[inline]
    fn get(&self, id: u32) -> Option<&T> {
        let id = id as usize;
        self.chunks.get(id / CHUNK)?.get(id % CHUNK)
    }

    #[inline]
    fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        let id = id as usize;
        self.chunks.get_mut(id / CHUNK)?.get_mut(id % CHUNK)
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    fn into_iter(self) -> impl Iterator<Item = T> {
        self.chunks.into_iter().flatten()
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

/// The index of one hour: its cells, its total and its groups. Per hour, so
/// the maps of the hours being written stay small and in cache however long
/// the history.
#[derive(Debug)]
struct HourIndex {
    hour: u32,
    /// The slot of the hour's total.
    total: u32,
    cells: HashMap<(Dimension, u32), u32>,
    /// Visitor profile -> its group in this hour.
    visitor_groups: HashMap<u32, u32>,
    /// Visit profile -> its group in this hour.
    visit_groups: HashMap<u32, u32>,
}

/// The writer's cells: per-hour indexes of interned keys into slots.
#[derive(Debug, Default)]
struct Cells {
    hours: Vec<HourIndex>,
    hour_pos: HashMap<u32, usize>,
    /// The last `(hour, position)` looked up: consecutive events share it.
    last: Option<(u32, usize)>,
    /// Per dimension, the cell each value was last resolved to.
    recent: Vec<Recent>,
    slots: Arena<Slot>,
    dirty: Vec<u32>,
}

impl Cells {
    fn new_slot(slots: &mut Arena<Slot>, id: CellId) -> u32 {
        slots.push(Slot {
            id,
            counts: Counts::default(),
            visitors: UniqueSketch::new(),
            dirty: false,
        })
    }

    /// The position of `hour`'s index, created with its total cell (whose
    /// value is `empty`) when new.
    #[inline]
    fn hour(&mut self, hour: u32, empty: u32) -> usize {
        if let Some((h, pos)) = self.last
            && h == hour
        {
            return pos;
        }
        let (hours, slots) = (&mut self.hours, &mut self.slots);
        let pos = *self.hour_pos.entry(hour).or_insert_with(|| {
            let id = CellId {
                hour,
                dim: Dimension::Total,
                value: empty,
            };
            let total = Self::new_slot(slots, id);
            // Sized like the previous hour's: growing a map rehashes it.
            let hint = |f: fn(&HourIndex) -> usize| hours.last().map_or(0, f);
            let mut cells = HashMap::with_capacity(hint(|h| h.cells.len()));
            cells.insert((Dimension::Total, empty), total);
            let visitor_groups = HashMap::with_capacity(hint(|h| h.visitor_groups.len()));
            let visit_groups = HashMap::with_capacity(hint(|h| h.visit_groups.len()));
            hours.push(HourIndex {
                hour,
                total,
                cells,
                visitor_groups,
                visit_groups,
            });
            hours.len() - 1
        });
        self.last = Some((hour, pos));
        pos
    }

    #[inline]
    fn slot(&mut self, id: CellId, empty: u32) -> u32 {
        if let Some(slot) = self
            .recent
            .get(usize::from(id.dim.tag()))
            .and_then(|r| r.get(id.value, id.hour))
        {
            return slot;
        }
        self.slot_slow(id, empty)
    }

    fn slot_slow(&mut self, id: CellId, empty: u32) -> u32 {
        let pos = self.hour(id.hour, empty);
        let slots = &mut self.slots;
        let Some(index) = self.hours.get_mut(pos) else {
            return NO_SLOT;
        };
        let slot = *index
            .cells
            .entry((id.dim, id.value))
            .or_insert_with(|| Self::new_slot(slots, id));
        if self.recent.is_empty() {
            self.recent = (0..DIMENSIONS).map(|_| Recent::default()).collect();
        }
        if let Some(recent) = self.recent.get_mut(usize::from(id.dim.tag())) {
            recent.set(id.value, id.hour, slot);
        }
        slot
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
                self.slot(CellId { hour, dim, value }, empty)
            }
        })
    }

    #[inline]
    fn touch(&mut self, slot: u32) -> Option<&mut Slot> {
        let s = self.slots.get_mut(slot)?;
        if !s.dirty {
            s.dirty = true;
            self.dirty.push(slot);
        }
        Some(s)
    }
}

/// The counts of one `(hour, profile)` not yet added to its cells: the
/// events and visits of that hour whose visitor (or visit) profile it is,
/// and the visitors first seen in it. [`Groups::expand`] adds them to the
/// profile's `N` cells at once, so an event costs one group update instead
/// of `N` cell updates and `N` sketch inserts.
#[derive(Debug)]
struct Group<const N: usize> {
    hour: u32,
    profile: u32,
    pending: Counts,
    /// The group's cells, resolved at its first expansion.
    slots: Option<[u32; N]>,
    dirty: bool,
}

/// The groups of one kind of profile (visitor or visit), for every hour.
#[derive(Debug, Default)]
struct Groups<const N: usize> {
    all: Arena<Group<N>>,
    dirty: Vec<u32>,
    /// `(group, visitor hash)`: visitors to insert into the sketches of the
    /// group's cells (one list for all groups: no allocation per group).
    visitors: Vec<(u32, u64)>,
    /// Ids of groups whose hour was forgotten, for reuse.
    free: Vec<u32>,
    /// The group each profile was last resolved to.
    recent: Recent,
}

impl<const N: usize> Groups<N> {
    /// The group of `profile` in the hour whose group map is `map`.
    #[inline]
    fn find_or_create(&mut self, map: &mut HashMap<u32, u32>, hour: u32, profile: u32) -> u32 {
        if let Some(id) = self.recent.get(profile, hour)
            && self.is(id, hour, profile)
        {
            return id;
        }
        let id = self.create(map, hour, profile);
        self.recent.set(profile, hour, id);
        id
    }

    fn create(&mut self, map: &mut HashMap<u32, u32>, hour: u32, profile: u32) -> u32 {
        let (all, free) = (&mut self.all, &mut self.free);
        *map.entry(profile).or_insert_with(|| {
            let group = Group {
                hour,
                profile,
                pending: Counts::default(),
                slots: None,
                dirty: false,
            };
            match free.pop() {
                Some(id) => {
                    if let Some(g) = all.get_mut(id) {
                        *g = group;
                    }
                    id
                }
                None => all.push(group),
            }
        })
    }

    /// Counts an event of `profile` in `hour` (`key`) with `pageviews` page
    /// views; `memo` is the group the visitor's previous event of this hour
    /// went to, if any: when it is this group, the visitor is in it already.
    /// Returns the group.
    #[inline]
    fn count_event(
        &mut self,
        map: &mut HashMap<u32, u32>,
        memo: Option<u32>,
        (hour, profile): (u32, u32),
        pageviews: u64,
        hash: u64,
    ) -> u32 {
        let known = memo.filter(|&id| self.is(id, hour, profile));
        let id = known.unwrap_or_else(|| self.find_or_create(map, hour, profile));
        if let Some(g) = self.pending(id) {
            g.pending.pageviews += pageviews;
            g.pending.events += 1;
        }
        if known.is_none() {
            self.visitors.push((id, hash));
        }
        id
    }

    /// Whether `id` is the group of `(hour, profile)` (a memo may name a
    /// group whose id was reused since).
    #[inline]
    fn is(&self, id: u32, hour: u32, profile: u32) -> bool {
        self.all
            .get(id)
            .is_some_and(|g| g.hour == hour && g.profile == profile)
    }

    /// The group `id`, marked to be expanded.
    #[inline]
    fn pending(&mut self, id: u32) -> Option<&mut Group<N>> {
        let g = self.all.get_mut(id)?;
        if !g.dirty {
            g.dirty = true;
            self.dirty.push(id);
        }
        Some(g)
    }

    /// Adds every pending count and visitor to the groups' cells.
    fn expand(
        &mut self,
        cells: &mut Cells,
        dims: &[Dimension; N],
        values: &[[u32; N]],
        empty: u32,
    ) {
        for id in std::mem::take(&mut self.dirty) {
            let Some(g) = self.all.get_mut(id) else {
                continue;
            };
            g.dirty = false;
            let slots = match g.slots {
                Some(slots) => slots,
                None => {
                    let profile = values
                        .get(g.profile as usize)
                        .copied()
                        .unwrap_or([empty; N]);
                    let slots = cells.dim_slots(g.hour, dims, &profile, empty);
                    g.slots = Some(slots);
                    slots
                }
            };
            for slot in slots {
                if let Some(s) = cells.touch(slot) {
                    s.counts.add(&g.pending);
                }
            }
            g.pending = Counts::default();
        }
        // Every group with visitors was dirty: its cells are resolved.
        for (id, hash) in self.visitors.drain(..) {
            let Some(slots) = self.all.get(id).and_then(|g| g.slots) else {
                continue;
            };
            for slot in slots {
                if let Some(s) = cells.slots.get_mut(slot) {
                    s.visitors.insert_hash(hash);
                }
            }
        }
    }

    /// Makes the groups of `map` (an hour being forgotten, already expanded)
    /// reusable.
    fn release(&mut self, map: HashMap<u32, u32>) {
        for (_, id) in map {
            if let Some(g) = self.all.get_mut(id) {
                g.hour = u32::MAX;
                self.free.push(id);
            }
        }
    }
}

/// Memo words (see [`crate::session::Memo`]): the hour, visitor group,
/// visit group, visitor profile and visit profile of the visitor's last
/// event, and whether they are set.
const MEMO_HOUR: usize = 0;
const MEMO_VISITOR_GROUP: usize = 1;
const MEMO_VISIT_GROUP: usize = 2;
const MEMO_VISITOR_PROFILE: usize = 3;
const MEMO_VISIT_PROFILE: usize = 4;
const MEMO_SET: usize = 5;

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
    visitor_groups: Groups<{ VISITOR_DIMS.len() }>,
    visit_groups: Groups<{ SESSION_DIMS.len() }>,
    /// Interned id of the empty string (the total's value).
    empty: u32,
    seq: u64,
    stats: WriterStats,
    scratch: String,
    flush_interval_ms: u64,
    /// The next multiple of the flush interval: an event at or after it
    /// flushes.
    next_flush_ms: u64,
    evicted_floor_ms: u64,
    evict_step_ms: u64,
    /// Hours below this had their group maps released.
    forgotten_below: u32,
    /// [`WriterConfig::bucket_offset_minutes`].
    bucket_offset_minutes: u16,
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
            visitor_groups: Groups::default(),
            visit_groups: Groups::default(),
            empty,
            seq: 0,
            stats: WriterStats::default(),
            scratch: String::new(),
            flush_interval_ms: config.flush_interval_ms.max(1),
            next_flush_ms: 0,
            evicted_floor_ms: 0,
            evict_step_ms: (config.max_lateness_ms / 4).max(config.flush_interval_ms),
            forgotten_below: 0,
            bucket_offset_minutes: config.bucket_offset_minutes,
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

    /// Counters of what was applied (`cells` counts the cells created so
    /// far; a group's cells are created when it is first expanded).
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
    /// [`Error::WrongSite`] when the event is for another site.
    pub fn apply(&mut self, event: &Event) -> Result<Admission> {
        if event.site != self.site {
            return Err(Error::WrongSite {
                kind: "event",
                expected: self.site.as_str().into(),
                found: event.site.as_str().into(),
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
        if event.timestamp_ms >= self.next_flush_ms {
            let interval = self.flush_interval_ms;
            self.next_flush_ms = (event.timestamp_ms / interval)
                .saturating_add(1)
                .saturating_mul(interval);
            self.flush_until(event.timestamp_ms);
        }
        if event.is_engagement() {
            // Neither a page view nor a goal: counting it would inflate both.
            self.stats.engagements += 1;
            return Ok(Admission::New);
        }
        let hour = bucket_of(event.timestamp_ms, self.bucket_offset_minutes);
        let pageview = event.is_pageview();
        let page = self.strings.intern(&event.pathname);
        let visitor = event.visitor_id;
        let mut open = self.sessions.open(visitor, event.previous_visitor_id);
        let memo = *open.memo();
        let memo_valid = memo.words[MEMO_SET] == 1 && memo.visitor_id == visitor;
        // A visitor's events mostly share their profiles: compare with the
        // last one's before hashing the fields.
        let last = (
            memo.words[MEMO_VISITOR_PROFILE],
            memo.words[MEMO_VISIT_PROFILE],
        );
        let profile = if memo_valid && self.profiles.matches(last, event) {
            last
        } else {
            self.profiles.intern(event, &mut self.strings)
        };
        let (vprofile, sprofile) = profile;
        let hit = Hit {
            timestamp_ms: event.timestamp_ms,
            event_id: event.event_id,
            visitor_id: visitor,
            page,
            profile,
            pageview,
            interactive: event.interactive,
        };
        if !open.insert(hit) {
            self.stats.duplicates += 1;
            return Ok(Admission::Duplicate);
        }
        self.stats.admitted += 1;
        // Seen in this hour already: the visitor is in the total's sketch.
        let same_hour = memo_valid && memo.words[MEMO_HOUR] == hour;
        let hash = HashScheme::default().hash(visitor);
        let pv = u64::from(pageview);
        let pos = self.cells.hour(hour, self.empty);
        let Some(index) = self.cells.hours.get_mut(pos) else {
            return Ok(Admission::New);
        };

        // The groups of the visitor's last event, if it was in this hour.
        let memo_v = same_hour.then_some(memo.words[MEMO_VISITOR_GROUP]);
        let memo_s = same_hour.then_some(memo.words[MEMO_VISIT_GROUP]);
        let vgroup = self.visitor_groups.count_event(
            &mut index.visitor_groups,
            memo_v,
            (hour, vprofile),
            pv,
            hash,
        );
        let sgroup = self.visit_groups.count_event(
            &mut index.visit_groups,
            memo_s,
            (hour, sprofile),
            pv,
            hash,
        );
        *open.memo() = Memo {
            visitor_id: visitor,
            words: [hour, vgroup, sgroup, vprofile, sprofile, 1],
        };
        let total = index.total;
        if let Some(s) = self.cells.touch(total) {
            s.counts.pageviews += pv;
            s.counts.events += 1;
            if !same_hour {
                s.visitors.insert_hash(hash);
            }
        }

        let (dim, value) = if pageview {
            (Dimension::Page, page)
        } else {
            (Dimension::Goal, self.strings.intern(&event.name))
        };
        self.count_event(CellId { hour, dim, value }, pv, hash);
        for (key, val) in &event.props {
            self.scratch.clear();
            self.scratch.push_str(key);
            self.scratch.push('=');
            self.scratch.push_str(val);
            let value = self.strings.intern(&self.scratch);
            let dim = Dimension::Prop;
            self.count_event(CellId { hour, dim, value }, pv, hash);
        }
        Ok(Admission::New)
    }

    fn count_event(&mut self, id: CellId, pv: u64, hash: u64) {
        let slot = self.cells.slot(id, self.empty);
        if let Some(s) = self.cells.touch(slot) {
            s.counts.pageviews += pv;
            s.counts.events += 1;
            s.visitors.insert_hash(hash);
        }
    }

    /// Publishes the visits that changed since the last flush (additions and
    /// retractions), adds every pending group count to its cells, and evicts
    /// the visits that can no longer change.
    pub fn flush(&mut self) {
        self.flush_until(u64::MAX);
        self.expand();
    }

    /// Adds the pending counts of every group to its cells.
    fn expand(&mut self) {
        self.visitor_groups.expand(
            &mut self.cells,
            &VISITOR_DIMS,
            &self.profiles.visitor.values,
            self.empty,
        );
        self.visit_groups.expand(
            &mut self.cells,
            &SESSION_DIMS,
            &self.profiles.visit.values,
            self.empty,
        );
    }

    /// Publishes the changed visits that ended (no event in the 30 minutes
    /// before `now_ms`; all of them for `u64::MAX`), then evicts.
    fn flush_until(&mut self, now_ms: u64) {
        let mut publish = Publish {
            cells: &mut self.cells,
            visitor_groups: &mut self.visitor_groups,
            visit_groups: &mut self.visit_groups,
            empty: self.empty,
            bucket_offset_minutes: self.bucket_offset_minutes,
        };
        self.sessions
            .publish_ended(now_ms, |visit, sign| publish.visit(visit, sign));
        // Eviction scans every timeline: do it when the floor moved by a
        // quarter of the window (memory stays within 1.25 windows).
        let floor = self.dedup.floor_ms();
        if floor >= self.evicted_floor_ms.saturating_add(self.evict_step_ms) {
            self.sessions.evict(floor);
            self.evicted_floor_ms = floor;
            // Visits still open may start up to a lateness window earlier.
            let cutoff = bucket_of(
                floor.saturating_sub(self.evict_step_ms.saturating_mul(4)),
                self.bucket_offset_minutes,
            );
            if cutoff > self.forgotten_below {
                self.forget_groups_before(cutoff);
            }
        }
    }

    /// Expands every group, then releases the group maps of the hours before
    /// `hour` (a late visit of such an hour gets a new group: still exact).
    fn forget_groups_before(&mut self, hour: u32) {
        self.expand();
        for index in &mut self.cells.hours {
            if index.hour < hour && index.hour >= self.forgotten_below {
                self.visitor_groups
                    .release(std::mem::take(&mut index.visitor_groups));
                self.visit_groups
                    .release(std::mem::take(&mut index.visit_groups));
            }
        }
        self.forgotten_below = hour;
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
            let Some(s) = self.cells.slots.get_mut(slot) else {
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
        for s in self.cells.slots.iter() {
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
        for s in self.cells.slots.into_iter() {
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

/// Where published visits are counted: the total, the visitor and visit
/// groups of the visit's first event's hour and profile, and its entry and
/// exit pages.
struct Publish<'a> {
    cells: &'a mut Cells,
    visitor_groups: &'a mut Groups<{ VISITOR_DIMS.len() }>,
    visit_groups: &'a mut Groups<{ SESSION_DIMS.len() }>,
    empty: u32,
    bucket_offset_minutes: u16,
}

impl Publish<'_> {
    fn visit(&mut self, visit: &Visit, sign: Sign) {
        let hour = bucket_of(visit.start_ms, self.bucket_offset_minutes);
        let bounce = u64::from(visit.is_bounce());
        let counts = match sign {
            Sign::Add => Counts {
                visits_added: 1,
                bounces_added: bounce,
                duration_added_ms: visit.duration_ms,
                ..Counts::default()
            },
            Sign::Retract => Counts {
                visits_retracted: 1,
                bounces_retracted: bounce,
                duration_retracted_ms: visit.duration_ms,
                ..Counts::default()
            },
        };
        let pos = self.cells.hour(hour, self.empty);
        let Some(index) = self.cells.hours.get_mut(pos) else {
            return;
        };
        let total = index.total;
        let (v, s) = visit.profile;
        {
            let id = self
                .visitor_groups
                .find_or_create(&mut index.visitor_groups, hour, v);
            if let Some(g) = self.visitor_groups.pending(id) {
                g.pending.add(&counts);
            }
            let id = self
                .visit_groups
                .find_or_create(&mut index.visit_groups, hour, s);
            if let Some(g) = self.visit_groups.pending(id) {
                g.pending.add(&counts);
            }
        }
        let entry = self.cells.slot(
            CellId {
                hour,
                dim: Dimension::EntryPage,
                value: visit.entry_page,
            },
            self.empty,
        );
        let exit = self.cells.slot(
            CellId {
                hour,
                dim: Dimension::ExitPage,
                value: visit.exit_page,
            },
            self.empty,
        );
        let hash = HashScheme::default().hash(visit.visitor_id);
        for (slot, page) in [(total, false), (entry, true), (exit, true)] {
            if let Some(s) = self.cells.touch(slot) {
                s.counts.add(&counts);
                if page && sign == Sign::Add {
                    s.visitors.insert_hash(hash);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The inline comparison agrees with `==` at every length, including
        /// slices that differ in a single byte.
        #[test]
        fn eq_short_is_equality(a in proptest::collection::vec(any::<u8>(), 0..40), flip in any::<prop::sample::Index>()) {
            prop_assert!(eq_short(&a, &a.clone()));
            if !a.is_empty() {
                let mut b = a.clone();
                let at = flip.index(b.len());
                b[at] ^= 1;
                prop_assert!(!eq_short(&a, &b));
            }
            prop_assert_eq!(eq_short(&a, &a[..a.len() / 2]), a.is_empty());
        }

        /// A stored key rehashes to the hash its fields were looked up by,
        /// and matches exactly its own fields.
        #[test]
        fn tuple_keys_hash_and_match_like_their_fields(
            fields in proptest::array::uniform3("[a-z<>=0-9 ]{0,12}"),
            other in proptest::array::uniform3("[a-z<>=0-9 ]{0,12}"),
        ) {
            let mut tuples = Tuples::<3>::default();
            let mut strings = Values::default();
            fn as_refs(f: &[String; 3]) -> [&str; 3] {
                [&f[0], &f[1], &f[2]]
            }
            let id = tuples.intern(&as_refs(&fields), &mut strings, &[]);
            let key = tuples.keys.key(id).map(<[u8]>::to_vec).unwrap_or_default();
            prop_assert_eq!(key_hash(tuples.keys.hasher(), &key), tuples.hash(&as_refs(&fields)));
            prop_assert!(tuples.matches(id, &as_refs(&fields)));
            prop_assert_eq!(tuples.matches(id, &as_refs(&other)), fields == other);
            prop_assert_eq!(tuples.intern(&as_refs(&fields), &mut strings, &[]), id);
            let second = tuples.intern(&as_refs(&other), &mut strings, &[]);
            prop_assert_eq!(second == id, fields == other);
        }
    }

    #[test]
    fn arena_ids_are_stable_across_chunks() {
        let mut arena = Arena::default();
        for i in 0..(3 * CHUNK as u32 + 5) {
            assert_eq!(arena.push(i), i);
        }
        assert_eq!(arena.len(), 3 * CHUNK + 5);
        assert_eq!(arena.get(CHUNK as u32), Some(&(CHUNK as u32)));
        assert_eq!(arena.get(3 * CHUNK as u32 + 5), None);
        assert!(arena.iter().copied().eq(0..(3 * CHUNK as u32 + 5)));
    }
}
