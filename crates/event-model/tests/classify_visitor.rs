//! Visitor ids, salt epochs and salt persistence: golden vectors and tables.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use glinto_event_model::visitor::{
    Salt, SaltEpoch, SaltError, SaltPeriod, Salts, VisitorIds, visitor_id,
};

const UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

fn salt(fill: u8) -> Salt {
    Salt::from_bytes(core::array::from_fn(|i| fill.wrapping_add(i as u8)))
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn check_id(salt: &Salt, ua: &str, ip: IpAddr, site: &str, expected: u64) {
    assert_eq!(
        visitor_id(salt, ua, ip, site),
        expected,
        "{ua:?} {ip} {site:?}"
    );
}

/// Golden vectors: these exact numbers must come out on x86_64 and wasm32
/// alike, release after release. Changing them breaks every stored visitor
/// id of the running epoch (and the previous one).
#[test]
fn visitor_id_golden_vectors() {
    check_id(
        &salt(0),
        UA,
        v4(203, 0, 113, 7),
        "example.com",
        13_875_468_174_459_218_439,
    );
    check_id(
        &salt(0),
        UA,
        v4(203, 0, 113, 8),
        "example.com",
        2_140_135_448_634_295_227,
    );
    check_id(
        &salt(0),
        UA,
        v4(203, 0, 113, 7),
        "example.org",
        4_681_097_257_539_885_270,
    );
    check_id(
        &salt(1),
        UA,
        v4(203, 0, 113, 7),
        "example.com",
        1_151_018_062_486_596_373,
    );
    check_id(&salt(0), "", v4(0, 0, 0, 0), "", 2_549_248_992_679_016_854);
    check_id(
        &salt(0),
        UA,
        "2001:db8::1".parse().unwrap(),
        "example.com",
        11_122_277_190_203_555_895,
    );
}

#[test]
fn visitor_id_is_siphash24_over_the_documented_encoding() {
    let salt = salt(42);
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    let mut input = b"glinto-visitor-v1".to_vec();
    input.extend_from_slice(&(ua.len() as u64).to_le_bytes());
    input.extend_from_slice(ua.as_bytes());
    input.extend_from_slice(&[4, 198, 51, 100, 23]);
    input.extend_from_slice(&11u64.to_le_bytes());
    input.extend_from_slice(b"example.com");
    let expected = siphasher::sip::SipHasher24::new_with_key(salt.expose_secret()).hash(&input);
    check_id(&salt, ua, v4(198, 51, 100, 23), "example.com", expected);
}

#[test]
fn fields_cannot_bleed_into_each_other() {
    let s = salt(7);
    let ip = v4(192, 0, 2, 1);
    // Without length prefixes, ("ab", "c") and ("a", "bc") would collide.
    assert_ne!(
        visitor_id(&s, "Mozilla/5.0 ab", ip, "c.com"),
        visitor_id(&s, "Mozilla/5.0 a", ip, "bc.com")
    );
}

#[test]
fn ipv4_mapped_ipv6_is_the_ipv4_visitor() {
    let s = salt(3);
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
    assert_eq!(
        visitor_id(&s, UA, mapped, "a.com"),
        visitor_id(&s, UA, v4(192, 0, 2, 1), "a.com")
    );
    let real_v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    assert_ne!(
        visitor_id(&s, UA, real_v6, "a.com"),
        visitor_id(&s, UA, v4(192, 0, 2, 1), "a.com")
    );
}

#[test]
fn salts_give_current_and_previous_ids() {
    let ip = v4(203, 0, 113, 7);
    let epoch = SaltPeriod::Daily.epoch_at(1_700_000_000_000);
    let both = Salts::new(epoch, salt(1), Some(salt(0)));
    assert_eq!(
        both.visitor_ids(UA, ip, "example.com"),
        VisitorIds {
            current: visitor_id(&salt(1), UA, ip, "example.com"),
            previous: Some(visitor_id(&salt(0), UA, ip, "example.com")),
        }
    );
    let fresh = Salts::new(epoch, salt(1), None);
    assert_eq!(fresh.visitor_ids(UA, ip, "example.com").previous, None);
}

#[test]
fn salts_never_show_in_debug() {
    let salts = Salts::new(SaltPeriod::Daily.epoch_at(0), salt(0xAB), Some(salt(0xCD)));
    let debug = format!("{salts:?} {:?}", salt(0xEF));
    assert!(debug.contains("Salt(<redacted>)"), "{debug}");
    for secret in ["171", "0xab", "ab, ", "205", "239"] {
        assert!(
            !debug.to_lowercase().contains(secret),
            "{debug} contains {secret}"
        );
    }
}

fn check_epoch(period: SaltPeriod, timestamp_ms: u64, index: u32, start_ms: u64) {
    let epoch = period.epoch_at(timestamp_ms);
    assert_eq!(
        (epoch.period, epoch.index),
        (period, index),
        "{period:?} at {timestamp_ms}"
    );
    assert_eq!(epoch.start_ms(), start_ms, "{period:?} at {timestamp_ms}");
    assert_eq!(
        period.epoch_at(start_ms),
        epoch,
        "an epoch contains its start"
    );
    if start_ms > 0 {
        assert_eq!(
            period.epoch_at(start_ms - 1),
            epoch.previous().unwrap(),
            "the ms before"
        );
    }
    assert_eq!(period.epoch_at(epoch.next().start_ms()), epoch.next());
}

#[test]
fn epochs_from_timestamps() {
    use SaltPeriod::{Daily, Monthly, Weekly};
    const DAY: u64 = 86_400_000;
    // 2023-11-14T22:13:20Z is day 19_675, a Tuesday.
    check_epoch(Daily, 1_700_000_000_000, 19_675, 19_675 * DAY);
    check_epoch(Daily, 0, 0, 0);
    check_epoch(Daily, DAY - 1, 0, 0);
    // Weeks start on Monday; 2023-11-13 (day 19_674) was a Monday.
    check_epoch(Weekly, 1_700_000_000_000, 2_811, 19_674 * DAY);
    check_epoch(Weekly, 4 * DAY, 1, 4 * DAY); // 1970-01-05, the first Monday
    check_epoch(Weekly, 3 * DAY, 0, 0); // the first days belong to week 0
    // Months: 2023-11 is month (2023 - 1970) * 12 + 10 = 646, starting on day 19_662.
    check_epoch(Monthly, 1_700_000_000_000, 646, 19_662 * DAY);
    check_epoch(Monthly, 0, 0, 0);
    // 2024-02-29 (leap day) is in February (month 649, starting 2024-02-01 = day 19_754).
    check_epoch(Monthly, 19_782 * DAY, 649, 19_754 * DAY);
    check_epoch(Monthly, 19_783 * DAY, 650, 19_783 * DAY); // 2024-03-01
    // 2000-03-01 (after a 400-year leap day) is day 11_017.
    check_epoch(Monthly, 11_017 * DAY, 362, 11_017 * DAY);
}

#[test]
fn epochs_saturate_instead_of_overflowing() {
    assert_eq!(SaltPeriod::Daily.epoch_at(u64::MAX).index, u32::MAX);
    let last = SaltEpoch {
        period: SaltPeriod::Daily,
        index: u32::MAX,
    };
    assert_eq!(last.next(), last);
    assert_eq!(
        SaltEpoch {
            period: SaltPeriod::Weekly,
            index: 0
        }
        .previous(),
        None
    );
    let _ = SaltEpoch {
        period: SaltPeriod::Monthly,
        index: u32::MAX,
    }
    .start_ms();
}

#[test]
fn rotation_keeps_the_previous_salt_only_across_adjacent_epochs() {
    let day = SaltPeriod::Daily.epoch_at(1_700_000_000_000);
    let mut salts = Salts::new(day, salt(1), None);
    assert!(!salts.needs_rotation(day.start_ms()));
    assert!(salts.needs_rotation(day.next().start_ms()));

    salts.rotate(day.next(), salt(2)).unwrap();
    assert_eq!(salts, Salts::new(day.next(), salt(2), Some(salt(1))));

    // Two quiet days later: the previous epoch's salt was never made.
    let later = day.next().next().next();
    salts.rotate(later, salt(3)).unwrap();
    assert_eq!(salts, Salts::new(later, salt(3), None));

    assert_eq!(
        salts.rotate(day, salt(4)),
        Err(SaltError::NotLater {
            from: later,
            to: day
        })
    );
    let weekly = SaltPeriod::Weekly.epoch_at(u64::MAX / 2);
    assert_eq!(
        salts.rotate(weekly, salt(4)),
        Err(SaltError::NotLater {
            from: later,
            to: weekly
        })
    );
}

fn check_decode(bytes: &[u8], expected: Result<Salts, SaltError>) {
    assert_eq!(Salts::decode_secret(bytes), expected, "{bytes:02x?}");
}

#[test]
fn persisted_salts_golden_bytes() {
    let epoch = SaltEpoch {
        period: SaltPeriod::Weekly,
        index: 0x0102_0304,
    };
    let salts = Salts::new(epoch, salt(0x10), Some(salt(0x20)));
    let bytes = salts.encode_secret();
    let mut expected = vec![1, 1, 0x04, 0x03, 0x02, 0x01, 1];
    expected.extend(0x10..0x20u8);
    expected.extend(0x20..0x30u8);
    assert_eq!(bytes, expected);
    check_decode(&bytes, Ok(salts));

    let alone = Salts::new(
        SaltEpoch {
            period: SaltPeriod::Daily,
            index: 5,
        },
        salt(0),
        None,
    );
    let mut expected = vec![1, 0, 5, 0, 0, 0, 0];
    expected.extend(0..16u8);
    assert_eq!(alone.encode_secret(), expected);
    check_decode(&expected, Ok(alone));
}

#[test]
fn bad_persisted_salts_are_typed_errors() {
    let good = Salts::new(SaltPeriod::Monthly.epoch_at(0), salt(9), Some(salt(8))).encode_secret();
    check_decode(&[], Err(SaltError::UnknownVersion { found: 0 }));
    check_decode(
        &[2, 0, 0, 0, 0, 0, 0],
        Err(SaltError::UnknownVersion { found: 2 }),
    );
    check_decode(
        &[1, 0, 0],
        Err(SaltError::Length {
            expected: 23,
            found: 3,
        }),
    );
    check_decode(
        &good[..good.len() - 1],
        Err(SaltError::Length {
            expected: 39,
            found: 38,
        }),
    );
    let mut long = good.clone();
    long.push(0);
    check_decode(
        &long,
        Err(SaltError::Length {
            expected: 39,
            found: 40,
        }),
    );
    let mut bad_period = good.clone();
    bad_period[1] = 3;
    check_decode(
        &bad_period,
        Err(SaltError::InvalidHeader {
            field: "period",
            found: 3,
        }),
    );
    let mut bad_flags = good;
    bad_flags[6] = 2;
    check_decode(
        &bad_flags,
        Err(SaltError::InvalidHeader {
            field: "flags",
            found: 2,
        }),
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
        if let Ok(salts) = Salts::decode_secret(&bytes) {
            proptest::prop_assert_eq!(salts.encode_secret(), bytes);
        }
    }

    #[test]
    fn every_timestamp_is_inside_its_epoch(ts in 0u64..=8_000_000_000_000_000, period in 0u8..3) {
        let period = [SaltPeriod::Daily, SaltPeriod::Weekly, SaltPeriod::Monthly][usize::from(period)];
        let epoch = period.epoch_at(ts);
        proptest::prop_assert!(epoch.start_ms() <= ts);
        proptest::prop_assert!(ts < epoch.next().start_ms());
    }
}
