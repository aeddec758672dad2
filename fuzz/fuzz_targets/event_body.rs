#![no_main]
//! Plausible Events API bodies: parsing never panics, and every body the
//! ingestor accepts yields events that survive the NDJSON and archive
//! round-trips unchanged.
use glinto_event_model::visitor::{Salt, SaltPeriod, Salts};
use glinto_event_model::{IngestConfig, Ingestor, RequestContext, archive, ndjson, payload};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

const NOW: u64 = 1_704_067_200_000;
const UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";

thread_local! {
    // One ingestor for the whole run, as in a Worker isolate: its User-Agent
    // cache is exercised across inputs.
    static INGESTOR: RefCell<Ingestor> = RefCell::new(Ingestor::new(
        IngestConfig::default(),
        Salts::new(SaltPeriod::Daily.epoch_at(NOW), Salt::from_bytes([1; 16]), None),
    ));
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
