//! The archive encoding: golden bytes, round-trips, hostile input.

use glinto_event_model::archive::{
    ArchiveError, BATCH_MAGIC, MAX_RECORD_BYTES, RECORD_V1, decode, decode_batch, encode,
    encode_batch,
};
use glinto_event_model::testing::{EventBuilder, arbitrary_event};
use glinto_event_model::{Channel, Device, Engagement, Event};
use proptest::prelude::*;

fn sample() -> Event {
    EventBuilder::pageview("a.io")
        .id(0x0102_0304_0506_0708)
        .at(1_704_067_211_675)
        .path("/x")
        .source("Google")
        .with(|e| e.channel = Channel::OrganicSearch)
        .country("DE")
        .browser("Firefox", "121")
        .os("Linux", "")
        .device(Device::Desktop)
        .screen(">=1440")
        .props(&[("k", "v")])
        .revenue("EUR", -1)
        .interactive(false)
        .visitor(u64::MAX)
        .session(Some(1))
        .build()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Golden bytes: the layout of version 1 must never change.
const SAMPLE_V1: &str = concat!(
    "01",                 // tag
    "0807060504030201",   // event_id, fixed LE
    "9bc3c892cc31",       // timestamp_ms, varint
    "04612e696f",         // site "a.io"
    "087061676576696577", // name "pageview"
    "04612e696f",         // hostname
    "022f78",             // pathname "/x"
    "00",                 // referrer ""
    "06476f6f676c65",     // source "Google"
    "01",                 // channel: OrganicSearch
    "0000000000",         // utm_source..utm_term
    "024445",             // country_code "DE"
    "0746697265666f78",   // browser "Firefox"
    "03313231",           // browser_version "121"
    "054c696e7578",       // os "Linux"
    "00",                 // os_version
    "01",                 // device: Desktop
    "063e3d31343430",     // screen ">=1440"
    "01016b0176",         // props: 1 pair ("k", "v")
    "010345555201",       // revenue: Some("EUR", zigzag(-1) = 1)
    "00",                 // interactive: false
    "ffffffffffffffff",   // visitor_id, fixed LE
    "00",                 // previous_visitor_id: None
    "010100000000000000", // session_id: Some(1), fixed LE
);

fn check(bytes: &[u8], expected: Result<Event, ArchiveError>) {
    assert_eq!(decode(bytes), expected, "bytes: {}", hex(bytes));
}

#[test]
fn golden_record() {
    assert_eq!(hex(&encode(&sample())), SAMPLE_V1);
    check(&encode(&sample()), Ok(sample()));
}

/// Golden bytes of version 2: version 1's fields, then the engagement.
#[test]
fn golden_record_v2() {
    let engaged = Event {
        name: "engagement".into(),
        engagement: Some(Engagement {
            scroll_depth: Some(42),
            engaged_ms: 12_345,
        }),
        ..sample()
    };
    let v1_body = SAMPLE_V1.strip_prefix("01").unwrap_or_default().replacen(
        "087061676576696577",
        "0a656e676167656d656e74",
        1,
    );
    let expected = format!(
        "02{v1_body}{}",
        concat!(
            "01",   // engagement: Some
            "012a", // scroll_depth: Some(42)
            "b960", // engaged_ms 12345, varint
        )
    );
    assert_eq!(hex(&encode(&engaged)), expected);
    check(&encode(&engaged), Ok(engaged.clone()));
    let unmeasured = Event {
        engagement: Some(Engagement {
            scroll_depth: None,
            engaged_ms: 0,
        }),
        ..engaged.clone()
    };
    check(&encode(&unmeasured), Ok(unmeasured.clone()));
    // Version 1 records still decode, without engagement.
    let mut v1 = encode(&sample());
    assert_eq!(v1.first(), Some(&1));
    check(&v1, Ok(sample()));
    // A scroll depth above 100 is refused.
    let mut bad = encode(&engaged);
    let at = bad.len() - 3;
    bad[at] = 101;
    check(
        &bad,
        Err(ArchiveError::Invalid {
            field: "scroll_depth",
            reason: "more than 100 percent".into(),
        }),
    );
    v1.push(0);
    check(&v1, Err(ArchiveError::TrailingBytes { count: 1 }));
}

#[test]
fn golden_batch() {
    let events = [
        sample(),
        Event {
            session_id: None,
            ..sample()
        },
    ];
    let batch = encode_batch(&events);
    let record_len = SAMPLE_V1.len() / 2;
    let second = encode(&events[1]);
    assert_eq!(
        hex(&batch),
        format!(
            "474c454201{:02x}{:02x}{SAMPLE_V1}{:02x}{}",
            2,
            record_len,
            second.len(),
            hex(&second)
        )
    );
    assert_eq!(decode_batch(&batch), Ok(events.to_vec()));
    assert_eq!(decode_batch(&encode_batch(&[])), Ok(vec![]));
}

#[test]
fn rejects_bad_records() {
    let good = encode(&sample());
    check(&[], Err(ArchiveError::Truncated));
    check(&[RECORD_V1], Err(ArchiveError::Truncated));
    check(&good[..good.len() - 1], Err(ArchiveError::Truncated));
    check(&[3, 0, 0], Err(ArchiveError::UnknownVersion { found: 3 }));
    check(&[2, 0, 0], Err(ArchiveError::Truncated));
    check(
        &[&good[..], &[0]].concat(),
        Err(ArchiveError::TrailingBytes { count: 1 }),
    );
    check(
        &vec![RECORD_V1; MAX_RECORD_BYTES + 1],
        Err(ArchiveError::TooLarge {
            limit: MAX_RECORD_BYTES,
            len: MAX_RECORD_BYTES + 1,
        }),
    );
    let mut bad_channel = good.clone();
    bad_channel[45] = 200; // the channel byte (see SAMPLE_V1)
    assert_eq!(hex(&good[45..46]), "01");
    check(
        &bad_channel,
        Err(ArchiveError::Invalid {
            field: "channel",
            reason: "unknown code 200".into(),
        }),
    );
    let unsorted = Event {
        props: vec![("b".into(), "1".into()), ("a".into(), "2".into())],
        ..sample()
    };
    check(
        &encode(&unsorted),
        Err(ArchiveError::Invalid {
            field: "props",
            reason: "keys are not sorted and unique".into(),
        }),
    );
    let mut bad_utf8 = good.clone();
    bad_utf8[17] = 0xff; // inside "a.io"
    check(
        &bad_utf8,
        Err(ArchiveError::Malformed {
            reason: "Tried to parse invalid utf-8".into(),
        }),
    );
    // A claimed length far beyond the input must not allocate it.
    let props_at = hex(&good).find("01016b0176").map_or(0, |at| at / 2);
    let mut huge_props = good[..props_at].to_vec();
    huge_props.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    check(&huge_props, Err(ArchiveError::Truncated));
}

#[test]
fn rejects_bad_batches() {
    let batch = encode_batch(&[sample()]);
    let check_batch = |bytes: &[u8], expected: Result<Vec<Event>, ArchiveError>| {
        assert_eq!(decode_batch(bytes), expected, "bytes: {}", hex(bytes));
    };
    check_batch(b"", Err(ArchiveError::Truncated));
    check_batch(b"GLE", Err(ArchiveError::Truncated));
    check_batch(
        b"GLEB\x02\x00",
        Err(ArchiveError::UnknownVersion { found: 2 }),
    );
    check_batch(b"XXXX", Err(ArchiveError::UnknownVersion { found: b'X' }));
    check_batch(&batch[..batch.len() - 1], Err(ArchiveError::Truncated));
    check_batch(
        &[&batch[..], &[1]].concat(),
        Err(ArchiveError::TrailingBytes { count: 1 }),
    );
    // A count of 2^63 over an empty rest: no allocation, just Truncated.
    check_batch(
        &[
            &BATCH_MAGIC[..],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
        ]
        .concat(),
        Err(ArchiveError::Truncated),
    );
    check_batch(
        &[&BATCH_MAGIC[..], &[1, 0xff, 0xff, 0xff, 0x7f]].concat(),
        Err(ArchiveError::TooLarge {
            limit: MAX_RECORD_BYTES,
            len: 0x0fff_ffff,
        }),
    );
}

#[test]
fn fuzz_crashers() {
    // Over-long varint timestamp (`80 00` = 0): postcard accepts it; the
    // canonical re-encoding is shorter and decodes to the same event.
    let crash = [
        1, 76, 206, 0, 69, 116, 71, 215, 0, 0, 0, 0, 0, 0, 0, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let event = decode(&crash);
    assert_eq!(event.as_ref().map(|e| e.timestamp_ms), Ok(0));
    let canonical = event.as_ref().map(encode).unwrap_or_default();
    assert_eq!(canonical.len(), crash.len() - 1);
    assert_eq!(decode(&canonical), event);
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z./]{1,10}", any::<String>()]
}

fn event() -> impl Strategy<Value = Event> {
    arbitrary_event(text(), text(), text())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trips(event in event()) {
        prop_assert_eq!(decode(&encode(&event)), Ok(event));
    }

    #[test]
    fn batches_round_trip(events in proptest::collection::vec(event(), 0..8)) {
        prop_assert_eq!(decode_batch(&encode_batch(&events)), Ok(events));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
        let _ = decode_batch(&bytes);
        let _ = decode_batch(&[&BATCH_MAGIC[..], &bytes].concat());
    }

    #[test]
    fn mutated_records_never_panic(at in 0..SAMPLE_V1.len() / 2, byte in any::<u8>()) {
        let mut bytes = encode(&sample());
        bytes[at] = byte;
        if let Ok(event) = decode(&bytes) {
            // Whatever decodes re-encodes to bytes that decode to it again.
            prop_assert_eq!(decode(&encode(&event)), Ok(event));
        }
    }
}
