//! The persisted records of the control plane: golden bytes (computed
//! independently, see `docs/wire-format.md`, "Control plane records"), and
//! decoders that never panic on untrusted bytes.

use std::sync::Arc;

use futures::executor::block_on;
use glinto_control::{KeyScope, NewSite, Registry, SiteConfig};
use glinto_storage::{ManualClock, Timestamp};
use glinto_storage_memory::{MemoryKv, MemoryState};
use proptest::prelude::*;

const T0: u64 = 1_764_979_200_000;

/// Site record v1 of `a.io`: Asia/Kolkata, public, 400 days, 7 days of hour
/// cells, 2 shards, created at T0, revision 3.
const SITE_V1: &[u8] = &[
    0x01, // version
    0x04, b'a', b'.', b'i', b'o', // domain
    0x0c, b'A', b's', b'i', b'a', b'/', b'K', b'o', b'l', b'k', b'a', b't', b'a', // time_zone
    0x01, // public
    0x01, 0x90, 0x03, // retention_days: Some(400)
    0x07, // hour_cells_days
    0x02, // shards
    0x80, 0xa0, 0xd5, 0x87, 0xaf, 0x33, // created_at_ms (varint)
    0x03, // revision
];

/// Key record v1 of the key made from 32 zero bytes, scoped to `a.io`,
/// created at T0.
const KEY_V1: &[u8] = &[
    0x01, // version
    0xde, 0xde, 0xfb, 0xc9, 0xf7, 0xc8, 0xd6, 0xc4, 0xae,
    0x01, // id 0xae895a47793eef5e (varint)
    // SHA-256("glinto-api-key-v1\0" ‖ 32 zero bytes)
    0xad, 0xec, 0xcd, 0x87, 0x15, 0x14, 0x8d, 0x87, 0x3e, 0xf2, 0x0b, 0xd9, 0x2a, 0x6f, 0x23, 0x9e,
    0xf0, 0x3a, 0x9f, 0x8f, 0xb6, 0x91, 0xe1, 0x95, 0x74, 0x6f, 0xe8, 0x51, 0xaa, 0x8f, 0xad, 0xc1,
    0x01, // scope: Sites
    0x01, 0x04, b'a', b'.', b'i', b'o', // one site
    0x80, 0xa0, 0xd5, 0x87, 0xaf, 0x33, // created_at_ms
];

fn sample_site() -> SiteConfig {
    let mut config = NewSite::new("a.io", "Asia/Kolkata")
        .public(true)
        .retention_days(Some(400))
        .shards(2)
        .into_config(Timestamp::from_unix_millis(T0))
        .unwrap();
    config.revision = 3;
    config
}

#[test]
fn site_record_v1_is_pinned() {
    let site = sample_site();
    assert_eq!(site.encode(), SITE_V1);
    assert_eq!(SiteConfig::decode("site/a.io", SITE_V1).unwrap(), site);
}

#[test]
fn key_record_v1_is_pinned() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(T0)));
    let state = MemoryState::new(clock.clone());
    let registry = Registry::new(&state, MemoryKv::new(clock));
    block_on(registry.add_site(NewSite::new("a.io", "UTC"), Timestamp::from_unix_millis(T0)))
        .unwrap();
    let (info, _) = block_on(registry.create_key(
        KeyScope::sites(["a.io"]),
        Timestamp::from_unix_millis(T0),
        [0; 32],
    ))
    .unwrap();
    assert_eq!(info.id.to_string(), "ae895a47793eef5e");
    let stored = state.snapshot();
    assert_eq!(
        stored.get("key/ae895a47793eef5e").map(|b| b.as_ref()),
        Some(KEY_V1)
    );
}

#[test]
fn site_decoding_rejects_what_it_cannot_trust() {
    let mut trailing = SITE_V1.to_vec();
    trailing.push(0);
    let mut bad_bool = SITE_V1.to_vec();
    bad_bool[19] = 2; // `public` must be 0 or 1
    let not_normalized = {
        let mut site = sample_site();
        site.domain = "A.io".into();
        site.encode()
    };
    let unknown_zone = {
        let mut site = sample_site();
        site.time_zone = "Asia/Atlantis".into();
        site.encode()
    };
    let zero_shards = {
        let mut site = sample_site();
        site.shards = 0;
        site.encode()
    };
    // (bytes, what the reason says)
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "empty record"),
        (vec![2], "unknown version 2"),
        (SITE_V1[..10].to_vec(), "malformed"),
        (trailing, "1 trailing bytes"),
        (bad_bool, "malformed"),
        (not_normalized, "not normalized"),
        (unknown_zone, "not an IANA time zone"),
        (zero_shards, "shards"),
        (vec![1; 70_000], "more than 65536"),
    ];
    for (bytes, reason) in cases {
        match SiteConfig::decode("site/a.io", &bytes) {
            Err(glinto_control::Error::Corrupt { key, reason: got }) => {
                assert_eq!(key, "site/a.io");
                assert!(got.contains(reason), "{got:?} should mention {reason:?}");
            }
            other => panic!("{bytes:?}: {other:?}"),
        }
    }
}

proptest! {
    #[test]
    fn site_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        let _ = SiteConfig::decode("site/x", &bytes);
    }

    #[test]
    fn site_decoding_survives_mutations(index in 0usize..SITE_V1.len(), byte in any::<u8>()) {
        let mut bytes = SITE_V1.to_vec();
        bytes[index] = byte;
        if let Ok(site) = SiteConfig::decode("site/x", &bytes) {
            prop_assert_eq!(SiteConfig::decode("site/x", &site.encode()).unwrap(), site);
        }
    }
}
