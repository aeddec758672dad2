//! What the ingest fuzz targets share: a long-lived ingestor, as in a Worker
//! isolate (its User-Agent cache is exercised across inputs), and the
//! round-trip every accepted event must survive.
use glinto_event_model::visitor::{Salt, SaltPeriod, Salts};
use glinto_event_model::{Event, IngestConfig, Ingestor, archive, ndjson};

/// The receive time of every fuzzed request.
pub const NOW: u64 = 1_704_067_200_000;

/// An ingestor with a fixed salt made of `salt_byte`.
pub fn ingestor(salt_byte: u8) -> Ingestor {
    Ingestor::new(
        IngestConfig::default(),
        Salts::new(
            SaltPeriod::Daily.epoch_at(NOW),
            Salt::from_bytes([salt_byte; 16]),
            None,
        ),
    )
}

/// Every event survives the NDJSON and archive round-trips unchanged.
pub fn assert_round_trips(events: &[Event]) {
    for event in events {
        let mut line = String::new();
        ndjson::write_line(event, &mut line);
        assert_eq!(
            ndjson::parse_line(&line).as_ref(),
            Ok(event),
            "ndjson: {line}"
        );
        assert_eq!(archive::decode(&archive::encode(event)).as_ref(), Ok(event));
    }
}
