#![no_main]
//! Archive decoding of untrusted bytes: never panics, and whatever decodes
//! re-encodes to bytes that decode to the same events. (Not necessarily the
//! same bytes: postcard accepts over-long varints such as `80 00` for 0; the
//! encoder always writes the canonical form.) NDJSON lines are fuzzed here
//! too, with their round-trip.
use glinto_event_model::{archive, ndjson};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = archive::decode(data) {
        let canonical = archive::encode(&event);
        assert!(canonical.len() <= data.len());
        assert_eq!(archive::decode(&canonical).as_ref(), Ok(&event));
    }
    if let Ok(events) = archive::decode_batch(data) {
        assert_eq!(
            archive::decode_batch(&archive::encode_batch(&events)).as_ref(),
            Ok(&events)
        );
    }
    if let Ok(line) = std::str::from_utf8(data)
        && let Ok(event) = ndjson::parse_line(line)
    {
        let mut out = String::new();
        ndjson::write_line(&event, &mut out);
        assert_eq!(
            ndjson::parse_line(&out).as_ref(),
            Ok(&event),
            "ndjson: {out}"
        );
    }
});
