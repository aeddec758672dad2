//! Typed analytics events for Glinto.
//!
//! This crate turns what a tracker sends (Plausible's Events API body, or the
//! no-JavaScript pixel's query string) plus the request context into a
//! validated, normalized, privacy-safe [`Event`]. It does no I/O and no async,
//! and compiles to `wasm32-unknown-unknown`.
//!
//! # Tour
//! - Inbound: a collector builds a [`RequestContext`] from the headers and
//!   calls [`Ingestor::ingest_body`] or [`Ingestor::ingest_pixel`]; it gets one
//!   [`Event`] per site, or an [`Error`] that names the field and the limit
//!   (`400`), or [`Error::Bot`] with a countable reason (`202`).
//!   [`payload`] holds the parsing and Plausible's limits, [`context`] the
//!   client IP and country rules, [`event_id`] the idempotency-key rule.
//! - Classification: [`ua`] (browser, OS, device, bots), [`referrer`]
//!   (sources and channels), [`visitor`] (salted visitor ids).
//! - Outbound: [`ndjson`] is the import/export format (one event per line),
//!   [`archive`] the compact, version-tagged binary record.
//!
//! # Decisions
//! - **Hand-written serde visitors, not `#[derive(Deserialize)]`** for the
//!   body and NDJSON lines: a derive cannot say which field had the wrong type
//!   (the HTTP answer must), cannot accept `h: 1` and `h: true` alike, and
//!   allocates every string; the visitors borrow from the body and write
//!   NDJSON values straight into the `Event`.
//! - **Why not `Url::parse` for every page URL**: it was a sixth of the
//!   ingest cost. Plain ASCII http(s) URLs are split in place and the `url`
//!   crate handles everything else; a proptest pins that both agree.
//! - **Why a mirror struct for the archive** instead of serializing `Event`:
//!   persisted bytes must not change when `Event` gains a field.
//! - **The raw IP and User-Agent** are read from the context to classify and
//!   hash, and never copied into an `Event`; `RequestContext`'s `Debug`
//!   redacts the IP.

pub mod archive;
pub mod context;
mod error;
mod event;
pub mod event_id;
mod ingest;
pub mod ndjson;
pub mod payload;
pub mod referrer;
pub mod ua;
pub mod visitor;

pub use context::RequestContext;
pub use error::{Error, Result};
pub use event::{Channel, Device, ENGAGEMENT, Engagement, Event, PAGEVIEW, Revenue};
pub use ingest::{
    DroppedCounts, IngestConfig, Ingestor, MAX_DOMAIN_BYTES, MAX_DOMAINS, NO_HOST, normalize_site,
    screen_class,
};
