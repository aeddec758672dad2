//! Typed analytics events for Glinto.
//!
//! This crate turns what a tracker sends (Plausible's Events API body, or the
//! no-JavaScript pixel's query string) plus the request context into a
//! validated, normalized, privacy-safe [`Event`]. It does no I/O and no async,
//! and compiles to `wasm32-unknown-unknown`.

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
pub use event::{Channel, Device, Event, PAGEVIEW, Revenue};
pub use ingest::{IngestConfig, Ingestor, MAX_DOMAIN_BYTES, MAX_DOMAINS, screen_class};
