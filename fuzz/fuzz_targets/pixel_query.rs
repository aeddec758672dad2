#![no_main]
//! Pixel query strings: parsing never panics, and accepted requests give
//! events that round-trip through NDJSON and the archive.
use glinto_event_model::visitor::{Salt, SaltPeriod, Salts};
use glinto_event_model::{IngestConfig, Ingestor, RequestContext, archive, ndjson, payload};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

const NOW: u64 = 1_704_067_200_000;
const UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";

thread_local! {
    // One ingestor for the whole run, as in a Worker isolate: its User-Agent
    // cache is exercised across inputs.
    static INGESTOR: RefCell<Ingestor> = RefCell::new(Ingestor::new(
        IngestConfig::default(),
        Salts::new(SaltPeriod::Daily.epoch_at(NOW), Salt::from_bytes([2; 16]), None),
    ));
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
        for event in events {
            let mut line = String::new();
            ndjson::write_line(&event, &mut line);
            assert_eq!(
                ndjson::parse_line(&line).as_ref(),
                Ok(&event),
                "ndjson: {line}"
            );
            assert_eq!(
                archive::decode(&archive::encode(&event)).as_ref(),
                Ok(&event)
            );
        }
    }
});
