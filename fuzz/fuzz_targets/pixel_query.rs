#![no_main]
//! Pixel query strings: parsing never panics, and accepted requests give
//! events that round-trip through NDJSON and the archive.
use glinto_event_model::{Ingestor, RequestContext, payload};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

mod common;
use common::NOW;

const UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";

thread_local! {
    static INGESTOR: RefCell<Ingestor> = RefCell::new(common::ingestor(2));
}

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let _ = payload::parse_pixel(query, payload::MAX_BODY_BYTES);
    let ctx = RequestContext::from_headers(
        [("User-Agent", UA), ("X-Forwarded-For", "2001:db8::1")],
        None,
        NOW,
    );
    let result = INGESTOR.with(|ingestor| ingestor.borrow_mut().ingest_pixel(query, &ctx));
    if let Ok(events) = result {
        common::assert_round_trips(&events);
    }
});
