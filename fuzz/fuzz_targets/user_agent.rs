#![no_main]
//! User-Agent classification never panics on any input, and the cache gives
//! the same answer as the uncached classifier (also on a second lookup, and
//! after the entry moved between the cache's generations).
use glinto_event_model::referrer;
use glinto_event_model::ua::{self, UaCache};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let uncached = ua::classify(&text);
    let mut cache = UaCache::new(2);
    assert_eq!(cache.classify(&text), uncached);
    assert_eq!(cache.classify(&text), uncached);
    // Push it into the old generation and pull it back.
    let _ =
        cache.classify("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0");
    assert_eq!(cache.classify(&text), uncached);
    if let Ok(agent) = &uncached {
        assert!(agent.browser_version.len() <= 8 && agent.os_version.len() <= 17);
    }
    // The referrer parser sees the same kind of untrusted header text.
    let _ = referrer::classify_referrer(&text, "example.com");
    let _ = referrer::canonical_source(&text);
    let _ = referrer::known_source(&text);
});
