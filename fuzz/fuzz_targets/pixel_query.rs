#![no_main]
//! Pixel query strings: parsing never panics, and accepted requests give
//! events that round-trip through NDJSON and the archive.
use glinto_event_model::visitor::{Salt, SaltPeriod, Salts};
use glinto_event_model::{IngestConfig, Ingestor, RequestContext, archive, ndjson, payload};
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_704_067_200_000;
const UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let _ = payload::parse_pixel(query, payload::MAX_BODY_BYTES);
    let salts = Salts::new(SaltPeriod::Daily.epoch_at(NOW), Salt::from_bytes([2; 16]), None);
    let mut ingestor = Ingestor::new(IngestConfig::default(), salts);
    let ctx = RequestContext::from_headers([("User-Agent", UA), ("X-Forwarded-For", "2001:db8::1")], None, NOW);
    if let Ok(events) = ingestor.ingest_pixel(query, &ctx) {
        for event in events {
            let mut line = String::new();
            ndjson::write_line(&event, &mut line);
            assert_eq!(ndjson::parse_line(&line).as_ref(), Ok(&event), "ndjson: {line}");
            assert_eq!(archive::decode(&archive::encode(&event)).as_ref(), Ok(&event));
        }
    }
});
