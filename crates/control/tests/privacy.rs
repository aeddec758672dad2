//! Nothing secret leaves the state store: after sites, keys and salts went
//! through every operation, no key secret, key hash or salt appears in KV
//! (values, metadata, key names) or in any `Debug` or `Display` output.

use std::sync::Arc;
use std::time::Duration;

use futures::executor::block_on;
use glinto_control::{KeyScope, NewSite, Registry, SaltManager, SiteUpdate};
use glinto_event_model::visitor::SaltPeriod;
use glinto_storage::{Clock, KvStore, KvStoreExt, ManualClock, Timestamp};
use glinto_storage_memory::{MemoryKv, MemoryState};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Random-looking, distinctive secrets (runs of one byte could appear by
/// chance in an encoding).
fn secret(seed: u8) -> [u8; 32] {
    std::array::from_fn(|i| {
        seed.wrapping_mul(31)
            .wrapping_add((i as u8).wrapping_mul(97))
            ^ 0x5a
    })
}

fn salt(seed: u8) -> [u8; 16] {
    std::array::from_fn(|i| {
        seed.wrapping_mul(53)
            .wrapping_add((i as u8).wrapping_mul(29))
            ^ 0xa5
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_secret_or_salt_reaches_kv_or_debug() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(
        1_764_979_200_000,
    )));
    let state = MemoryState::new(clock.clone());
    let kv = MemoryKv::new(clock.clone());
    let registry = Registry::new(&state, &kv);
    let salts = SaltManager::new(&state, SaltPeriod::Daily);
    let mut debug = Vec::new();

    for domain in ["a.example", "b.example"] {
        let site = block_on(registry.add_site(NewSite::new(domain, "Europe/Berlin"), clock.now()))
            .unwrap();
        debug.push(format!("{site:?}"));
    }
    let mut secrets = Vec::new();
    for (seed, scope) in [(1, KeyScope::All), (2, KeyScope::sites(["a.example"]))] {
        let (info, key) = block_on(registry.create_key(scope, clock.now(), secret(seed))).unwrap();
        debug.push(format!("{info:?} {key:?} {:?}", info.id));
        let text = key.expose_secret();
        let err = block_on(registry.authorize(&text, "b.example"));
        debug.push(format!("{err:?}"));
        if let Err(e) = err {
            debug.push(e.to_string());
        }
        secrets.push((secret(seed), text.to_string()));
    }
    let mut salt_bytes = Vec::new();
    for day in 0..3u8 {
        clock.advance(Duration::from_secs(86_400));
        let in_force = block_on(salts.ensure(clock.now(), salt(day))).unwrap();
        debug.push(format!("{in_force:?} {salts:?}"));
        salt_bytes.push(salt(day));
        block_on(registry.update_site("a.example", SiteUpdate::new().public(day % 2 == 0)))
            .unwrap();
    }
    block_on(registry.sync_snapshots()).unwrap();
    debug.push(format!("{registry:?}"));
    let wrong = glinto_control::ApiKey::parse(&secrets[0].1.replace('a', "b"));
    debug.push(format!("{wrong:?}"));

    // Everything KV holds.
    let mut published = Vec::new();
    for listed in block_on(kv.list_all("", 1000)).unwrap() {
        published.extend_from_slice(listed.name.as_bytes());
        published.extend_from_slice(listed.metadata.unwrap_or_default().as_bytes());
        let entry = block_on(kv.get(&listed.name)).unwrap().unwrap();
        published.extend_from_slice(&entry.value);
        published.extend_from_slice(entry.metadata.unwrap_or_default().as_bytes());
    }
    assert!(!published.is_empty());
    let debug = debug.join("\n");

    // The state store does hold the key hashes and the live salts (it must).
    let stored: Vec<u8> = state.snapshot().values().flat_map(|v| v.to_vec()).collect();
    assert!(
        contains(&stored, &salt(2)),
        "today's salt is in the state store"
    );

    for (raw, text) in &secrets {
        let hex_secret = hex(raw);
        assert!(!contains(&published, raw) && !contains(&published, hex_secret.as_bytes()));
        assert!(!contains(&published, text.as_bytes()));
        assert!(
            !debug.contains(&hex_secret) && !debug.contains(text.as_str()),
            "{debug}"
        );
        assert!(!debug.contains(&format!("{raw:?}")), "{debug}");
    }
    for raw in &salt_bytes {
        assert!(!contains(&published, raw) && !contains(&published, hex(raw).as_bytes()));
        assert!(
            !debug.contains(&hex(raw)) && !debug.contains(&format!("{raw:?}")),
            "{debug}"
        );
    }
    // Destroyed salts are gone from the state store too.
    assert!(
        !contains(&stored, &salt(0)),
        "day 0's salt was destroyed on day 2"
    );
}
