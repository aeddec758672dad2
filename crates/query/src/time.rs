//! Site-local time on hour buckets: local days, weeks and months of an IANA
//! zone as bucket ranges, and the labels Plausible gives them.
//!
//! Buckets are `floor((t + phase) / 1 h)` ([`glinto_aggregator::rollup::bucket_of`]),
//! with the site's phase ([`bucket_offset_minutes`]): for every zone whose
//! offset is a whole number of hours plus that phase, a local hour is one
//! bucket, so a local day is exactly 24 buckets, 23 or 25 on the days its
//! clocks change. A zone whose offset changes by a non-whole hour within the
//! year (Australia/Lord_Howe: +10:30, +11:00 in summer) cannot have both
//! offsets aligned; its boundaries that fall mid-bucket are rounded down to the
//! bucket and the answer says so ([`Boundary::aligned`], `meta.time_zone_warning`).

use glinto_aggregator::rollup::{HOUR_MS, HourRange};
use jiff::civil::Date;
use jiff::tz::{Dst, TimeZone};
use jiff::{Timestamp, ToSpan};

use crate::QueryError;

/// The phase of a site's hour buckets in the zone `tz` (minutes, `0..60`):
/// the minutes part of the zone's standard (non-daylight-saving) offset at
/// `at` (the site's creation). 30 for Asia/Kolkata (+5:30), 45 for
/// Asia/Kathmandu (+5:45), 30 for Australia/Lord_Howe (+10:30 standard), 0
/// for whole-hour zones. Store it with the site: its rollups are keyed by
/// these buckets.
pub fn bucket_offset_minutes(tz: &TimeZone, at: Timestamp) -> u16 {
    // The standard offset: of `at` and half a year later, the one that is not
    // daylight saving time (the first when neither is).
    let later = at.checked_add((183 * 24).hours()).unwrap_or(at);
    let infos = [tz.to_offset_info(at), tz.to_offset_info(later)];
    let standard = infos
        .iter()
        .find(|i| i.dst() == Dst::No)
        .unwrap_or(&infos[0])
        .offset();
    let minutes = standard.seconds().div_euclid(60).rem_euclid(60);
    u16::try_from(minutes).unwrap_or(0)
}

/// A bucket boundary: the first bucket at or after an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Boundary {
    /// The bucket.
    pub bucket: u32,
    /// Whether the instant is exactly the bucket's start (false only for
    /// zones whose offset changes by a non-whole hour).
    pub aligned: bool,
}

/// How coarse a boundary is: what cells can answer a range ending there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grain {
    /// Any hour: needs hour cells.
    Hour,
    /// The start of a local day: hour or day cells.
    Day,
    /// The start of a local month: any cells.
    Month,
}

/// A site's clock: its zone and bucket phase.
#[derive(Clone, Debug)]
pub struct SiteClock {
    tz: TimeZone,
    phase_ms: i64,
}

impl SiteClock {
    /// The clock of a site in `tz` whose buckets have phase `offset_minutes`.
    pub fn new(tz: TimeZone, offset_minutes: u16) -> Self {
        Self {
            tz,
            phase_ms: i64::from(offset_minutes % 60) * 60_000,
        }
    }

    /// The zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The bucket holding the instant `ms` (milliseconds since the epoch).
    pub fn bucket_at(&self, ms: i64) -> u32 {
        let shifted = ms.saturating_add(self.phase_ms).max(0);
        u32::try_from(shifted.div_euclid(HOUR_MS as i64)).unwrap_or(u32::MAX)
    }

    /// The boundary at the instant `ms`: the bucket starting there, or the
    /// one holding it (rounded down) when `ms` is not a bucket start.
    pub fn boundary_at(&self, ms: i64) -> Boundary {
        let shifted = ms.saturating_add(self.phase_ms).max(0);
        Boundary {
            bucket: self.bucket_at(ms),
            aligned: shifted.rem_euclid(HOUR_MS as i64) == 0,
        }
    }

    /// The instant (ms) a bucket starts.
    pub fn bucket_start_ms(&self, bucket: u32) -> i64 {
        i64::from(bucket) * HOUR_MS as i64 - self.phase_ms
    }

    /// The local date at the instant `ms`.
    pub fn date_at(&self, ms: i64) -> Result<Date, QueryError> {
        let ts = timestamp(ms)?;
        Ok(ts.to_zoned(self.tz.clone()).date())
    }

    /// The boundary at the start of the local day `date` (its first instant:
    /// after a gap, the first instant that exists).
    pub fn day_start(&self, date: Date) -> Result<Boundary, QueryError> {
        let zoned = date
            .to_zoned(self.tz.clone())
            .map_err(|e| QueryError::invalid_date_range(date.to_string(), e.to_string()))?;
        Ok(self.boundary_at(zoned.timestamp().as_millisecond()))
    }

    /// The buckets of the local days `first..=last`.
    pub fn days(&self, first: Date, last: Date) -> Result<(Boundary, Boundary), QueryError> {
        let end = last
            .tomorrow()
            .map_err(|e| QueryError::invalid_date_range(last.to_string(), e.to_string()))?;
        Ok((self.day_start(first)?, self.day_start(end)?))
    }

    /// The buckets of one local day (for tiering a site's cells by its own
    /// days).
    pub fn day_range(&self, date: Date) -> Result<HourRange, QueryError> {
        let (a, b) = self.days(date, date)?;
        Ok(HourRange::new(a.bucket, b.bucket))
    }

    /// The buckets of the local month holding `date`.
    pub fn month_range(&self, date: Date) -> Result<HourRange, QueryError> {
        let (a, b) = self.days(date.first_of_month(), date.last_of_month())?;
        Ok(HourRange::new(a.bucket, b.bucket))
    }

    /// `"2024-01-01 13:00:00"`: the local start of a bucket, as Plausible
    /// labels `time:hour`.
    pub fn hour_label(&self, bucket: u32) -> String {
        match timestamp(self.bucket_start_ms(bucket)) {
            Ok(ts) => ts
                .to_zoned(self.tz.clone())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string(),
            Err(_) => String::new(),
        }
    }

    /// `"2024-01-01T00:00:00+01:00"`: an instant in the site's zone, as
    /// Plausible echoes a query's date range.
    pub fn iso(&self, ms: i64) -> String {
        match timestamp(ms) {
            Ok(ts) => ts
                .to_zoned(self.tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
            Err(_) => String::new(),
        }
    }
}

/// The instant `ms` milliseconds after the epoch.
pub(crate) fn timestamp(ms: i64) -> Result<Timestamp, QueryError> {
    Timestamp::from_millisecond(ms)
        .map_err(|e| QueryError::invalid_date_range(ms.to_string(), e.to_string()))
}

/// The Monday on or before `date` (Plausible's weeks start on Monday).
pub(crate) fn monday_of(date: Date) -> Date {
    let back = i64::from(date.weekday().to_monday_zero_offset());
    date.checked_sub(back.days()).unwrap_or(date)
}

/// `date + days` (saturating at jiff's range).
pub(crate) fn add_days(date: Date, days: i64) -> Date {
    date.checked_add(days.days()).unwrap_or(date)
}

/// `date + months` (day clamped to the month's length).
pub(crate) fn add_months(date: Date, months: i64) -> Date {
    date.checked_add(months.months()).unwrap_or(date)
}
