#![no_main]
//! Plausible Events API bodies: parsing never panics, and every body the
//! ingestor accepts yields events that survive the NDJSON and archive
//! round-trips unchanged.
use glinto_event_model::visitor::{Salt, SaltPeriod, Salts};
use glinto_event_model::{IngestConfig, Ingestor, RequestContext, archive, ndjson, payload};
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_704_067_200_000;
const UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";

fuzz_target!(|data: &[u8]| {
    let _ = payload::parse_body(data, payload::MAX_BODY_BYTES);
    let salts = Salts::new(SaltPeriod::Daily.epoch_at(NOW), Salt::from_bytes([1; 16]), None);
    let mut ingestor = Ingestor::new(IngestConfig::default(), salts);
    let ctx = RequestContext::from_headers([("User-Agent", UA), ("CF-Connecting-IP", "192.0.2.1")], None, NOW);
    if let Ok(events) = ingestor.ingest_body(data, &ctx) {
        for event in events {
            let mut line = String::new();
            ndjson::write_line(&event, &mut line);
            assert_eq!(ndjson::parse_line(&line).as_ref(), Ok(&event), "ndjson: {line}");
            assert_eq!(archive::decode(&archive::encode(&event)).as_ref(), Ok(&event));
        }
    }
});
