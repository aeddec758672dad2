//! Typed analytics events for Glinto.
//!
//! This crate turns what a tracker sends (Plausible's Events API body, or the
//! no-JavaScript pixel's query string) plus the request context into a
//! validated, normalized, privacy-safe [`Event`]. It does no I/O and no async,
//! and compiles to `wasm32-unknown-unknown`.

mod event;
pub mod ndjson;
pub mod referrer;
pub mod ua;
pub mod visitor;

pub use event::{Channel, Device, Event, PAGEVIEW, Revenue};
