//! A profiling harness: what this machine charges for the least work any
//! exact, per-event aggregator must do, next to what [`SiteWriter`] costs on
//! the same events. Use it to see how far the writer is from the machine's
//! floor and which part of the floor dominates (figures and what they mean:
//! `docs/benchmarks.md`, section "The floor under per-event apply"; the
//! conclusion drawn from them: `docs/decisions.md`).
//!
//! The floor is built one step at a time, with the cheapest structures for
//! each step (random ids hashed by one multiply, packed integer cell keys,
//! nothing ever evicted or retracted):
//!
//! 1. `read`: touch the event's id, time, visitor and page;
//! 2. `+ dedup`: insert the event id into a set (exact de-duplication;
//!    never expired here, so cheaper than a real window);
//! 3. `+ visitor`: find or create the visitor's state (sessions need it);
//! 4. `+ page`: intern the page path (cells are keyed by value);
//! 5. `+ cells`: count the event in its hour's total and page cells and keep
//!    its visitor for the page's uniques (a 4-byte push, not a sketch);
//! 6. `+ visits`: a gap over 30 minutes starts a visit, counted in its
//!    hour's total and entry-page cell (no bounces, durations, exit pages
//!    or late events);
//! 7. `+ sketches`: the visitors go into [`UniqueSketch`]es instead.
//!
//! Step 7 is a small part of the writer's work (3 of 22 dimensions, a visit
//! counted once at its start), so its figure is a lower bound. Then
//! `SiteWriter` applies the same events with everything, flushed, and the
//! floor's work is done once more as a batch, by sorting instead of looking
//! up (`batch_floor`): the other way an aggregator can be built.
//!
//! Where the events sit in memory moves every figure, so there are three:
//! the site's events parsed into memory of their own ("site alone"), the
//! same events among the other sites' as the stream interleaves them (what
//! the criterion bench applies), and each event applied as soon as it is
//! parsed, as a Durable Object does (parse + apply, minus parse alone).
//! Each figure is the fastest of 7 runs, and the runs alternate, so all see
//! the same machine.
//!
//! ```sh
//! cargo run --release -p glinto-aggregator --example profile_floor -- /tmp/glinto-bench/events.ndjson 200000
//! ```
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark report on the terminal"
)]

use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::hint::black_box;
use std::io::BufRead;
use std::time::{Duration, Instant};

use glinto_aggregator::session::VISIT_GAP_MS;
use glinto_aggregator::writer::{SiteWriter, WriterConfig};
use glinto_aggregator::{ReplicaId, UniqueSketch};
use glinto_event_model::Event;
use glinto_event_model::ndjson::parse_line;
use hashbrown::hash_map::RawEntryMut;
use hashbrown::{DefaultHashBuilder, HashMap, HashSet};

const SITE: &str = "shop.example.com";
const STEPS: [&str; 7] = [
    "read",
    "+ dedup",
    "+ visitor",
    "+ page",
    "+ cells",
    "+ visits",
    "+ sketches",
];
const RUNS: usize = 7;

/// Event and visitor ids are already uniform: one multiply spreads them.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(26);
    }
}

type Ids = BuildHasherDefault<IdHasher>;

/// The floor's state for one site.
#[derive(Default)]
struct Floor {
    seen: HashSet<u64, Ids>,
    visitors: HashMap<u64, VisitorState, Ids>,
    pages: HashMap<Box<str>, u32>,
    strings: DefaultHashBuilder,
    /// `hour << 40 | dimension << 32 | value` -> cell.
    cells: HashMap<u64, u32, Ids>,
    /// Page views, events, visits.
    counts: Vec<[u64; 3]>,
    visitors_of: Vec<Vec<u32>>,
    sketches: Vec<UniqueSketch>,
    sink: u64,
}

impl Floor {
    fn intern(&mut self, s: &str) -> u32 {
        let hash = self.strings.hash_one(s);
        let next = u32::try_from(self.pages.len()).unwrap_or(u32::MAX);
        match self.pages.raw_entry_mut().from_key_hashed_nocheck(hash, s) {
            RawEntryMut::Occupied(o) => *o.get(),
            RawEntryMut::Vacant(v) => *v.insert_hashed_nocheck(hash, s.into(), next).1,
        }
    }

    /// The cell of `(hour, dim, value)`, created with a visitor list, or a
    /// sketch when `sketch` (a step pays only for what it uses).
    fn cell(&mut self, hour: u32, dim: u8, value: u32, sketch: bool) -> usize {
        let key = (u64::from(hour) << 40) | (u64::from(dim) << 32) | u64::from(value);
        let next = self.counts.len();
        let id = *self
            .cells
            .entry(key)
            .or_insert(u32::try_from(next).unwrap_or(u32::MAX));
        if id as usize == next {
            self.counts.push([0; 3]);
            if sketch {
                self.sketches.push(UniqueSketch::new());
            } else {
                self.visitors_of.push(Vec::new());
            }
        }
        id as usize
    }

    /// Does the first `steps` steps (module docs) for `e`.
    fn apply(&mut self, e: &Event, steps: usize) {
        if steps == 1 {
            let page = e.pathname.len() as u64;
            self.sink = self
                .sink
                .wrapping_add(e.event_id ^ e.timestamp_ms ^ e.visitor_id ^ page);
            return;
        }
        if !self.seen.insert(e.event_id) || steps == 2 {
            return;
        }
        let hour = u32::try_from(e.timestamp_ms / 3_600_000).unwrap_or(u32::MAX);
        let state = self.visitors.entry(e.visitor_id).or_default();
        let new_in_hour = state.hour != Some(hour);
        let new_visit = state
            .last_ms
            .is_none_or(|t| e.timestamp_ms > t + VISIT_GAP_MS);
        state.last_ms = Some(e.timestamp_ms);
        state.hour = Some(hour);
        if steps == 3 {
            return;
        }
        let page = self.intern(&e.pathname);
        if steps == 4 {
            return;
        }
        let pageview = u64::from(e.is_pageview());
        let counted = [(0, 0, new_in_hour), (1, page, true)];
        for (dim, value, new_visitor) in counted {
            self.count(
                hour,
                dim,
                value,
                [pageview, 1, 0],
                new_visitor,
                e.visitor_id,
                steps,
            );
        }
        if steps == 5 || !new_visit {
            return;
        }
        for (dim, value, new_visitor) in [(0, 0, false), (2, page, true)] {
            self.count(
                hour,
                dim,
                value,
                [0, 0, 1],
                new_visitor,
                e.visitor_id,
                steps,
            );
        }
    }

    /// Adds `add` to a cell, and the visitor to its uniques when new to it.
    #[allow(clippy::too_many_arguments, reason = "a measurement, not an API")]
    fn count(
        &mut self,
        hour: u32,
        dim: u8,
        value: u32,
        add: [u64; 3],
        new_visitor: bool,
        visitor: u64,
        steps: usize,
    ) {
        let sketch = steps == STEPS.len();
        let c = self.cell(hour, dim, value, sketch);
        if let Some(counts) = self.counts.get_mut(c) {
            for (n, a) in counts.iter_mut().zip(add) {
                *n += a;
            }
        }
        if !new_visitor {
            return;
        }
        if !sketch {
            let code = (visitor.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32;
            if let Some(list) = self.visitors_of.get_mut(c) {
                list.push(code);
            }
        } else if let Some(sketch) = self.sketches.get_mut(c) {
            sketch.insert(visitor);
        }
    }
}

#[derive(Default)]
struct VisitorState {
    last_ms: Option<u64>,
    hour: Option<u32>,
}

/// The last floor step's work done in one batch by sorting instead of
/// looking up: event ids sorted to drop duplicates, `(visitor, time)` sorted
/// to find visits, then one row per cell contribution sorted by
/// `(cell, visitor)` and summed run by run, each distinct visitor of a cell
/// inserted into its sketch once. Returns the cells, sorted by key.
fn batch_floor(events: &[&Event]) -> Vec<(u64, [u64; 3], UniqueSketch)> {
    let index = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
    let mut ids: Vec<(u64, u32)> = (events.iter().enumerate())
        .map(|(i, e)| (e.event_id, index(i)))
        .collect();
    ids.sort_unstable();
    // Sorted by (id, index): the first of each id is its first delivery.
    let mut first = vec![false; events.len()];
    let mut last_id = None;
    for &(id, i) in &ids {
        if last_id != Some(id)
            && let Some(f) = first.get_mut(i as usize)
        {
            *f = true;
        }
        last_id = Some(id);
    }
    let mut floor = Floor::default();
    // (visitor, time, page, page view), in input order: interning is the
    // one lookup left.
    let mut by_visitor: Vec<(u64, u64, u32, bool)> = Vec::with_capacity(events.len());
    for (e, _) in events.iter().zip(&first).filter(|(_, f)| **f) {
        let page = floor.intern(&e.pathname);
        by_visitor.push((e.visitor_id, e.timestamp_ms, page, e.is_pageview()));
    }
    by_visitor.sort_unstable();
    // (cell key, visitor, what it adds: 1 page view, 2 event, 4 visit).
    let mut rows: Vec<(u64, u64, u8)> = Vec::with_capacity(by_visitor.len() * 3);
    let key = |hour: u64, dim: u64, value: u32| (hour << 40) | (dim << 32) | u64::from(value);
    let mut last: Option<(u64, u64)> = None;
    for &(visitor, at, page, pageview) in &by_visitor {
        let hour = at / 3_600_000;
        let adds = 2 | u8::from(pageview);
        rows.push((key(hour, 0, 0), visitor, adds));
        rows.push((key(hour, 1, page), visitor, adds));
        let new_visit = last.is_none_or(|(v, t)| v != visitor || at > t + VISIT_GAP_MS);
        if new_visit {
            rows.push((key(hour, 0, 0), visitor, 4));
            rows.push((key(hour, 2, page), visitor, 4));
        }
        last = Some((visitor, at));
    }
    rows.sort_unstable();
    let mut cells: Vec<(u64, [u64; 3], UniqueSketch)> = Vec::new();
    let mut last_row: Option<(u64, u64)> = None;
    for (cell, visitor, adds) in rows {
        if cells.last().is_none_or(|c| c.0 != cell) {
            cells.push((cell, [0; 3], UniqueSketch::new()));
        }
        if let Some((_, counts, sketch)) = cells.last_mut() {
            counts[0] += u64::from(adds & 1);
            counts[1] += u64::from(adds >> 1 & 1);
            counts[2] += u64::from(adds >> 2 & 1);
            if last_row != Some((cell, visitor)) {
                sketch.insert(visitor);
            }
        }
        last_row = Some((cell, visitor));
    }
    cells
}

fn main() {
    if let Err(e) = run() {
        eprintln!("apply_floor: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: apply_floor <events.ndjson> [lines]")?;
    let lines: usize = args
        .next()
        .map_or(Ok(200_000), |n| n.parse())
        .map_err(|e| format!("lines: {e}"))?;
    let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
    let (mut all, mut raw) = (Vec::new(), Vec::new());
    for line in std::io::BufReader::new(file).lines().take(lines) {
        let line = line.map_err(|e| format!("{path}: {e}"))?;
        let event = parse_line(&line).map_err(|e| format!("{path}: {e}"))?;
        if event.site == SITE {
            raw.push(line);
        }
        all.push(event);
    }
    let interleaved: Vec<&Event> = all.iter().filter(|e| e.site == SITE).collect();
    if interleaved.is_empty() {
        return Err(format!(
            "{path}: no event of {SITE} in the first {lines} lines"
        ));
    }
    // The same events again, parsed into memory of their own.
    let own: Vec<Event> = interleaved.iter().map(|&e| e.clone()).collect();
    let contiguous: Vec<&Event> = own.iter().collect();

    println!(
        "{} events of {SITE} (first {lines} lines), fastest of {RUNS} runs, ns/event:",
        own.len()
    );
    println!("  {:<30} {:>12} {:>12}", "", "site alone", "interleaved");
    let a = measure(&contiguous)?;
    let b = measure(&interleaved)?;
    let names = (STEPS.iter().copied())
        .chain(["SiteWriter, every dimension", "the floor's work by sorting"]);
    for ((name, a), b) in names.zip(a).zip(b) {
        println!("  {name:<30} {a:>12.0} {b:>12.0}");
    }
    let (parse, both) = parsed_then_applied(&raw)?;
    println!(
        "  freshly parsed: parse {parse:.0}, parse + apply {both:.0}, so apply {:.0}",
        both - parse
    );
    Ok(())
}

/// The fastest of [`RUNS`] runs of each floor step and of the writer, in
/// ns per event; the runs alternate.
fn measure(events: &[&Event]) -> Result<[f64; STEPS.len() + 2], String> {
    let mut best = [Duration::MAX; STEPS.len() + 2];
    for _ in 0..RUNS {
        let start = Instant::now();
        let cells = batch_floor(events);
        if let Some(b) = best.get_mut(STEPS.len() + 1) {
            *b = (*b).min(start.elapsed());
        }
        black_box(cells);
        for (steps, best) in best.iter_mut().enumerate().take(STEPS.len()) {
            let mut floor = Floor::default();
            let start = Instant::now();
            for e in events {
                floor.apply(e, steps + 1);
            }
            *best = (*best).min(start.elapsed());
            black_box((floor.counts.len(), floor.sink));
        }
        let start = Instant::now();
        let mut writer = SiteWriter::new(SITE, ReplicaId(1), WriterConfig::default());
        for e in events {
            writer.apply(e).map_err(|e| e.to_string())?;
        }
        writer.flush();
        if let Some(b) = best.get_mut(STEPS.len()) {
            *b = (*b).min(start.elapsed());
        }
        black_box(writer.stats());
    }
    Ok(best.map(|d| per_event(d, events.len())))
}

/// ns per event of parsing `lines`, and of parsing and applying each event
/// at once (as a Durable Object does: the event is in cache).
fn parsed_then_applied(lines: &[String]) -> Result<(f64, f64), String> {
    let (mut parse, mut both) = (Duration::MAX, Duration::MAX);
    for _ in 0..RUNS {
        let start = Instant::now();
        for line in lines {
            black_box(parse_line(line).map_err(|e| e.to_string())?);
        }
        parse = parse.min(start.elapsed());
        let start = Instant::now();
        let mut writer = SiteWriter::new(SITE, ReplicaId(1), WriterConfig::default());
        for line in lines {
            let event = parse_line(line).map_err(|e| e.to_string())?;
            writer.apply(&event).map_err(|e| e.to_string())?;
        }
        writer.flush();
        both = both.min(start.elapsed());
        black_box(writer.stats());
    }
    Ok((per_event(parse, lines.len()), per_event(both, lines.len())))
}

fn per_event(d: Duration, events: usize) -> f64 {
    d.as_secs_f64() * 1e9 / events.max(1) as f64
}
