//! De-duplication by `event_id` inside a lateness window, with bounded memory.
//!
//! Trackers retry, Workers are retried, and imports overlap: the same event
//! (same `event_id`) can arrive several times. A [`Deduplicator`] remembers
//! the ids of the events it admitted, grouped in buckets by the *event's own
//! timestamp* (a re-delivery carries the same timestamp, so it always lands in
//! the bucket of its first delivery).
//!
//! # The window
//! The deduplicator tracks a watermark: the largest event timestamp admitted.
//! An event whose timestamp is older than `watermark - max_lateness` is
//! [`Admission::TooLate`]: it is not counted, and the caller should record it
//! (e.g. in the archive) instead. Every admitted event therefore has a
//! timestamp at or above the floor `watermark - max_lateness`, and the buckets
//! entirely below the floor are dropped: de-duplication is **exact** for all
//! admitted events, and the memory is the ids of the events of one lateness
//! window (plus one bucket).
//!
//! The same floor closes visits in [`crate::session`], so an event that is
//! admitted can never touch a visit that was already evicted.
//!
//! # Beyond the window
//! A re-delivery older than the window is `TooLate`, never double counted.
//! Replays of whole batches (a Worker retried after its delta was shipped, an
//! archive replay) are made idempotent one level up: a [`crate::delta::Delta`]
//! carries `(replica, seq)` and the replica's *cumulative* counts, so applying
//! it twice is a no-op.
//!
//! Why not a Bloom filter: a false positive silently drops a real event, and
//! the exact set of one window is small (8 bytes per event of the window).

use std::collections::VecDeque;

use hashbrown::HashSet;

mod wire;
pub(crate) use wire::DedupWire;

/// How many buckets one lateness window is split into: memory is released in
/// steps of `max_lateness / BUCKETS_PER_WINDOW`.
const BUCKETS_PER_WINDOW: u64 = 32;

/// What [`Deduplicator::admit`] decided about one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Admission {
    /// First delivery inside the window: count it.
    New,
    /// An event with this id and timestamp was already admitted: ignore it.
    Duplicate,
    /// Older than `watermark - max_lateness`: not counted (see the module docs).
    TooLate,
}

/// Exact de-duplication of event ids within a lateness window (module docs).
#[derive(Clone, Debug)]
pub struct Deduplicator {
    max_lateness_ms: u64,
    bucket_ms: u64,
    /// Largest admitted timestamp; `None` before the first event.
    watermark_ms: Option<u64>,
    /// Bucket index of `buckets[0]`.
    first_bucket: u64,
    buckets: VecDeque<HashSet<u64>>,
    ids: usize,
    /// `[start, end)` in milliseconds of the bucket last admitted into, and
    /// its index: most events fall into it, which saves a division.
    hot: (u64, u64, u64),
    /// The watermark at which the floor enters the next bucket (a bucket
    /// then expires); saves a division per event.
    next_expiry_ms: u64,
}

impl Deduplicator {
    /// A deduplicator that admits events up to `max_lateness_ms` behind the
    /// newest admitted event. `u64::MAX` means "never too late" (memory then
    /// grows with the number of events: for bounded imports and tests only).
    pub fn new(max_lateness_ms: u64) -> Self {
        let bucket_ms = (max_lateness_ms / BUCKETS_PER_WINDOW).max(1_000);
        Self {
            max_lateness_ms,
            bucket_ms,
            watermark_ms: None,
            first_bucket: 0,
            buckets: VecDeque::new(),
            ids: 0,
            hot: (0, 0, 0),
            next_expiry_ms: 0,
        }
    }

    /// The oldest timestamp still admitted: `watermark - max_lateness`
    /// (0 before the first event).
    pub fn floor_ms(&self) -> u64 {
        self.watermark_ms
            .map_or(0, |w| w.saturating_sub(self.max_lateness_ms))
    }

    /// The largest admitted timestamp, if any.
    pub fn watermark_ms(&self) -> Option<u64> {
        self.watermark_ms
    }

    /// How many event ids are remembered (the memory bound, in ids).
    pub fn len(&self) -> usize {
        self.ids
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.ids == 0
    }

    /// Decides whether the event `(event_id, timestamp_ms)` counts, and
    /// remembers it if it does.
    pub fn admit(&mut self, event_id: u64, timestamp_ms: u64) -> Admission {
        if timestamp_ms < self.floor_ms() {
            return Admission::TooLate;
        }
        let (start, end, hot) = self.hot;
        let bucket = if (start..end).contains(&timestamp_ms) {
            hot
        } else {
            let bucket = timestamp_ms / self.bucket_ms;
            let start = bucket * self.bucket_ms;
            self.hot = (start, start.saturating_add(self.bucket_ms), bucket);
            bucket
        };
        let kept_end = self.first_bucket + self.buckets.len() as u64;
        if self.buckets.is_empty() || bucket > kept_end + 4 * BUCKETS_PER_WINDOW {
            // First event, or a jump far ahead: everything kept falls below
            // the new floor anyway; restart rather than push empty buckets.
            self.buckets.clear();
            self.ids = 0;
            self.first_bucket = bucket;
        }
        // Above the floor but before the first bucket kept: grow at the front
        // (at most one window of buckets, since the floor bounds it).
        while bucket < self.first_bucket {
            self.buckets.push_front(HashSet::new());
            self.first_bucket -= 1;
        }
        let index = usize::try_from(bucket - self.first_bucket).unwrap_or(usize::MAX);
        while self.buckets.len() <= index {
            // Sized like the last bucket: no rehashing while it fills.
            let hint = self.buckets.back().map_or(0, HashSet::len);
            self.buckets.push_back(HashSet::with_capacity(hint));
        }
        let Some(set) = self.buckets.get_mut(index) else {
            return Admission::TooLate;
        };
        if !set.insert(event_id) {
            return Admission::Duplicate;
        }
        self.ids += 1;
        if self.watermark_ms.is_none_or(|w| timestamp_ms > w) {
            self.watermark_ms = Some(timestamp_ms);
            if timestamp_ms >= self.next_expiry_ms {
                self.expire();
            }
        }
        Admission::New
    }

    /// Drops the buckets that lie entirely below the floor.
    fn expire(&mut self) {
        let floor_bucket = self.floor_ms() / self.bucket_ms;
        while self.first_bucket < floor_bucket {
            let Some(set) = self.buckets.pop_front() else {
                self.first_bucket = floor_bucket;
                break;
            };
            self.ids -= set.len();
            self.first_bucket += 1;
        }
        // The floor reaches the next bucket at this watermark.
        self.next_expiry_ms = (floor_bucket + 1)
            .saturating_mul(self.bucket_ms)
            .saturating_add(self.max_lateness_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    /// Feeds `(event_id, timestamp)` pairs and compares the decisions.
    fn check(max_lateness_ms: u64, events: &[(u64, u64)], expected: &[Admission]) {
        let mut dedup = Deduplicator::new(max_lateness_ms);
        let got: Vec<Admission> = events.iter().map(|&(id, ts)| dedup.admit(id, ts)).collect();
        assert_eq!(got, expected, "events {events:?}");
    }

    #[test]
    fn duplicates_count_once_inside_the_window() {
        use Admission::*;
        check(
            10 * MIN,
            &[(1, 0), (1, 0), (2, 5 * MIN), (1, 0)],
            &[New, Duplicate, New, Duplicate],
        );
        // Same id, other timestamp: another event as far as the window goes.
        check(10 * MIN, &[(1, 0), (1, MIN)], &[New, New]);
        // Out of order inside the window is fine.
        check(
            10 * MIN,
            &[(1, 9 * MIN), (2, 0), (2, 0)],
            &[New, New, Duplicate],
        );
    }

    #[test]
    fn events_older_than_the_window_are_too_late() {
        use Admission::*;
        check(
            10 * MIN,
            &[(1, 0), (2, 20 * MIN), (1, 0), (3, 10 * MIN + 1)],
            &[New, New, TooLate, New],
        );
        check(
            u64::MAX,
            &[(2, 1_000 * MIN), (1, 0), (1, 0)],
            &[New, New, Duplicate],
        );
    }

    #[test]
    fn memory_is_bounded_by_the_window() {
        let mut dedup = Deduplicator::new(10 * MIN);
        for i in 0..100_000u64 {
            assert_eq!(dedup.admit(i, i * 100), Admission::New);
        }
        // 10 minutes of events at one per 100 ms, plus at most one bucket.
        assert!(dedup.len() <= 6_000 + 200, "{} ids kept", dedup.len());
    }
}
