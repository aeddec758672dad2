#![no_main]
//! Plausible Events API bodies: parsing never panics, and every body the
//! ingestor accepts yields events that survive the NDJSON and archive
//! round-trips unchanged.
use glinto_event_model::{Ingestor, RequestContext, payload};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

mod common;
use common::NOW;

const UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";

thread_local! {
    static INGESTOR: RefCell<Ingestor> = RefCell::new(common::ingestor(1));
}

fuzz_target!(|data: &[u8]| {
    let _ = payload::parse_body(data, payload::MAX_BODY_BYTES);
    let ctx = RequestContext::from_headers(
        [("User-Agent", UA), ("CF-Connecting-IP", "192.0.2.1")],
        None,
        NOW,
    );
    let result = INGESTOR.with(|ingestor| ingestor.borrow_mut().ingest_body(data, &ctx));
    if let Ok(events) = result {
        common::assert_round_trips(&events);
    }
});
