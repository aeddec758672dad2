//! Plausible's Stats API v2 (`POST /api/v2/query`) as a library: the request
//! and response types, field for field, and the two pure functions that answer
//! one from a site's rollup.
//!
//! Pure: no I/O, no clock (`now` is passed in [`SiteContext`]), no runtime;
//! compiles to `wasm32-unknown-unknown` with the tz database bundled, so a
//! Worker needs no filesystem.
//!
//! # How the engine calls it
//! ```text
//! let request = QueryRequest::from_json(body)?;            // or serde
//! let site = SiteContext::new(domain, "Europe/Berlin", offset, now_ms)?
//!     .with_stats_start(first_event_ms);
//! let plan = plan(&request, &site)?;                       // validate, resolve dates
//! // load ONE SiteRollup with the cells of plan.ranges() (hour cells, or day /
//! // month tier cells at the key of their first bucket where hours are gone)
//! let response = answer(&plan, &rollup, &Resolution::new(hours_from, days_from))?;
//! serde_json::to_string(&response)
//! ```
//! - [`plan`] validates the request (Plausible's rules and error wording,
//!   each error naming its field: [`QueryError::field`]) and resolves the main
//!   and comparison date ranges into bucket ranges in the site's zone,
//!   relative to [`SiteContext::now_ms`]. [`QueryPlan::ranges`] says which
//!   cells to load, [`QueryPlan::finest_grain`] how fine they must be.
//! - [`answer`] computes the response with the aggregator's queries
//!   (`totals`, `stats`, `stats_any`, `breakdown`), after checking with
//!   [`Resolution`] that the cells are fine enough where the plan cuts (a
//!   `time:hour` query over hours already folded into days is an error, not a
//!   wrong answer).
//!
//! # Time zones
//! Buckets are hours shifted by the site's phase
//! ([`glinto_aggregator::rollup::bucket_of`], [`site_bucket_offset`]): 30
//! minutes for Asia/Kolkata, 45 for Asia/Kathmandu, 0 for whole-hour zones. A
//! local hour is then one bucket, and local days, weeks (from Monday) and
//! months are exact bucket ranges computed with jiff from the IANA rules —
//! 23 or 25 buckets on the days clocks change. The phase is part of the site's
//! stored configuration: its writer buckets with it and its rollups are keyed
//! by it, so a site that changes to a zone with another phase (or whose
//! zone's rules change) is rebuilt from its archived events. A zone whose
//! offset changes by a non-whole hour within the year (Australia/Lord_Howe,
//! +10:30 / +11:00) cannot align both offsets: boundaries that fall inside a
//! bucket are rounded down to it and `meta.time_zone_warning` says so. The
//! tier cells (days, months) must be the site's own days and months
//! ([`SiteClock::day_range`], [`SiteClock::month_range`]).
//!
//! # What is answered, and how exactly
//! `docs/stats-api.md` has the whole table. In short: counts (`pageviews`,
//! `events`, `visits`, bounces, durations) are exact; `visitors` is the union
//! of HyperLogLog++ sketches (exact below 1 024 visitors, 0.81 % standard
//! error above), and `meta.estimates` says so in every answer that has it.
//! What the rollups cannot answer exactly is refused with
//! [`QueryError::NotSupported`] naming what and why, never approximated:
//! filters other than `is` on the dimension broken down (or without one),
//! breakdowns by two dimensions, and event counts or visitors under
//! acquisition `visit:` dimensions (the rollups attribute events to their own
//! source, Plausible to their visit's).

mod answer;
mod error;
mod plan;
pub mod request;
pub mod response;
mod time;

pub use answer::{Resolution, answer};
pub use error::QueryError;
pub use plan::{QueryPlan, SiteContext, plan, site_bucket_offset, zone};
pub use request::QueryRequest;
pub use response::QueryResponse;
pub use time::{Boundary, Grain, SiteClock, bucket_offset_minutes};
