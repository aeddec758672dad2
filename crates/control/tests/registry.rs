//! The site registry and API keys against the in-memory stores, with and
//! without injected faults.

use std::sync::Arc;
use std::time::Duration;

use futures::executor::block_on;
use glinto_control::{
    AuthError, Error, KeyParseError, KeyScope, NewSite, Registry, SiteConfig, SiteUpdate,
    read_snapshot, site_key,
};
use glinto_storage::{Clock, KvStore, ManualClock, StateStore, Timestamp};
use glinto_storage_memory::{Fault, FaultPlan, Faulty, MemoryKv, MemoryState, Op};

const T0: u64 = 1_764_979_200_000; // 2025-12-06 00:00 UTC

struct Fixture {
    clock: Arc<ManualClock>,
    registry: Registry<Faulty<MemoryState>, Faulty<MemoryKv>>,
}

impl Fixture {
    fn new() -> Self {
        Self::with_faults(FaultPlan::new(1), FaultPlan::new(2))
    }

    fn with_faults(state: FaultPlan, kv: FaultPlan) -> Self {
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(T0)));
        let registry = Registry::new(
            Faulty::new(MemoryState::new(clock.clone()), state),
            Faulty::new(MemoryKv::new(clock.clone()), kv),
        );
        Fixture { clock, registry }
    }

    /// The time now, after moving on a few seconds (KV allows one write per
    /// key per second).
    fn tick(&self) -> Timestamp {
        self.clock.advance(Duration::from_secs(2));
        self.clock.now()
    }

    fn add(&self, domain: &str, zone: &str) -> SiteConfig {
        block_on(
            self.registry
                .add_site(NewSite::new(domain, zone), self.tick()),
        )
        .unwrap()
    }

    fn published(&self, domain: &str) -> Option<SiteConfig> {
        block_on(read_snapshot(self.registry.kv(), domain)).unwrap()
    }

    fn state_keys(&self) -> Vec<String> {
        self.registry
            .state()
            .inner()
            .snapshot()
            .into_keys()
            .collect()
    }
}

fn field_of(err: Error) -> &'static str {
    match err {
        Error::Invalid { field, .. } => field,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// The normalized (domain, time zone), or the field an error names.
type Expected = Result<(&'static str, &'static str), &'static str>;

#[test]
fn new_sites_are_validated_field_by_field() {
    // (site, Ok(normalized domain, zone) or Err(field))
    let long = format!("{}.com", "a".repeat(260));
    let cases: Vec<(NewSite, Expected)> = vec![
        (
            NewSite::new("example.com", "UTC"),
            Ok(("example.com", "UTC")),
        ),
        (
            NewSite::new(" Example.COM. ", "europe/berlin"),
            Ok(("example.com", "Europe/Berlin")),
        ),
        (
            NewSite::new("shop.example.com", "Asia/Kathmandu"),
            Ok(("shop.example.com", "Asia/Kathmandu")),
        ),
        (
            NewSite::new("b.io", "Asia/Kolkata"),
            Ok(("b.io", "Asia/Kolkata")),
        ),
        (NewSite::new("", "UTC"), Err("domain")),
        (NewSite::new("exa mple.com", "UTC"), Err("domain")),
        (NewSite::new("a.com,b.com", "UTC"), Err("domain")),
        (NewSite::new(long.as_str(), "UTC"), Err("domain")),
        (NewSite::new("a.com", ""), Err("time_zone")),
        (NewSite::new("a.com", "Mars/Olympus"), Err("time_zone")),
        (NewSite::new("a.com", "+05:30"), Err("time_zone")),
        (
            NewSite::new("a.com", "EST5EDT,M3.2.0,M11.1.0"),
            Err("time_zone"),
        ),
        (
            NewSite::new("a.com", "UTC").retention_days(Some(0)),
            Err("retention_days"),
        ),
        (
            NewSite::new("a.com", "UTC").retention_days(Some(36_501)),
            Err("retention_days"),
        ),
        (
            NewSite::new("a.com", "UTC").hour_cells_days(0),
            Err("hour_cells_days"),
        ),
        (
            NewSite::new("a.com", "UTC").hour_cells_days(367),
            Err("hour_cells_days"),
        ),
        (NewSite::new("a.com", "UTC").shards(0), Err("shards")),
        (NewSite::new("a.com", "UTC").shards(257), Err("shards")),
    ];
    for (site, expected) in cases {
        let got = site.clone().into_config(Timestamp::from_unix_millis(T0));
        match (got, expected) {
            (Ok(config), Ok((domain, zone))) => {
                assert_eq!(
                    (config.domain.as_str(), config.time_zone.as_str()),
                    (domain, zone)
                );
                assert_eq!(
                    (config.hour_cells_days, config.shards, config.revision),
                    (7, 1, 1)
                );
                assert_eq!((config.public, config.retention_days), (false, None));
            }
            (Err(err), Err(field)) => assert_eq!(field_of(err), field, "{site:?}"),
            (got, expected) => panic!("{site:?}: got {got:?}, expected {expected:?}"),
        }
    }
}

#[test]
fn add_get_list_update_remove() {
    let f = Fixture::new();
    let a = f.add("a.example", "Asia/Kolkata");
    let b = f.add("B.example", "America/New_York");
    assert_eq!(b.domain, "b.example");
    assert_eq!(block_on(f.registry.site("A.Example.")).unwrap(), a);
    assert_eq!(
        block_on(f.registry.sites()).unwrap(),
        vec![a.clone(), b.clone()]
    );

    let dup = block_on(
        f.registry
            .add_site(NewSite::new("a.example", "UTC"), f.tick()),
    );
    assert!(
        matches!(dup, Err(Error::AlreadyExists { ref domain }) if domain == "a.example"),
        "{dup:?}"
    );

    let change = block_on(
        f.registry.update_site(
            "a.example",
            SiteUpdate::new()
                .time_zone("asia/kathmandu")
                .public(true)
                .retention_days(Some(400))
                .hour_cells_days(3)
                .shards(4),
        ),
    )
    .unwrap();
    assert!(change.time_zone_changed());
    assert_eq!(change.before, a);
    let after = &change.after;
    assert_eq!(after.time_zone, "Asia/Kathmandu");
    assert_eq!(
        (
            after.public,
            after.retention_days,
            after.hour_cells_days,
            after.shards
        ),
        (true, Some(400), 3, 4)
    );
    assert_eq!((after.revision, after.created_at), (2, a.created_at));
    assert_eq!(block_on(f.registry.site("a.example")).unwrap(), *after);

    // Table of refused updates: the stored config does not move.
    let refused: Vec<(SiteUpdate, &str)> = vec![
        (SiteUpdate::new().time_zone("Nowhere/Special"), "time_zone"),
        (SiteUpdate::new().retention_days(Some(0)), "retention_days"),
        (SiteUpdate::new().hour_cells_days(0), "hour_cells_days"),
        (SiteUpdate::new().shards(2), "shards"),
    ];
    for (update, field) in refused {
        let err = block_on(f.registry.update_site("a.example", update)).unwrap_err();
        assert_eq!(field_of(err), field);
    }
    assert_eq!(block_on(f.registry.site("a.example")).unwrap(), *after);
    let unlimited = block_on(
        f.registry
            .update_site("a.example", SiteUpdate::new().retention_days(None)),
    )
    .unwrap();
    assert!(!unlimited.time_zone_changed());
    assert_eq!(unlimited.after.retention_days, None);

    assert_eq!(block_on(f.registry.remove_site("b.example")).unwrap(), b);
    let missing: Vec<Result<(), Error>> = vec![
        block_on(f.registry.site("b.example")).map(drop),
        block_on(f.registry.remove_site("b.example")).map(drop),
        block_on(
            f.registry
                .update_site("b.example", SiteUpdate::new().public(true)),
        )
        .map(drop),
    ];
    for result in missing {
        assert!(
            matches!(result, Err(Error::NotFound { what: "site", ref name }) if name == "b.example"),
            "{result:?}"
        );
    }
    assert_eq!(block_on(f.registry.sites()).unwrap().len(), 1);
}

#[test]
fn snapshots_follow_every_change_and_never_are_the_source_of_truth() {
    let f = Fixture::new();
    let a = f.add("a.example", "UTC");
    assert_eq!(f.published("a.example"), Some(a));
    f.tick();
    let change = block_on(
        f.registry
            .update_site("a.example", SiteUpdate::new().public(true)),
    )
    .unwrap();
    assert_eq!(f.published("a.example"), Some(change.after.clone()));
    f.tick();
    block_on(f.registry.remove_site("a.example")).unwrap();
    assert_eq!(f.published("a.example"), None);

    // A snapshot in KV for a site the registry does not have is removed by
    // sync; a site whose snapshot vanished from KV is written again.
    let b = f.add("b.example", "UTC");
    let entry = block_on(f.registry.kv().get(&site_key("b.example")))
        .unwrap()
        .unwrap();
    block_on(
        f.registry
            .kv()
            .put(&site_key("ghost.example"), entry.value, Default::default()),
    )
    .unwrap();
    block_on(f.registry.kv().delete(&site_key("b.example"))).unwrap();
    f.tick();
    let report = block_on(f.registry.sync_snapshots()).unwrap();
    assert_eq!(
        (report.published, report.deleted, report.failed.len()),
        (1, 1, 0)
    );
    assert_eq!(f.published("b.example"), Some(b));
    assert_eq!(f.published("ghost.example"), None);
}

#[test]
fn snapshots_expire_unless_synced() {
    let f = Fixture::new();
    f.add("a.example", "UTC");
    f.clock.advance(Duration::from_secs(13 * 3600));
    block_on(f.registry.sync_snapshots()).unwrap();
    f.clock.advance(Duration::from_secs(13 * 3600));
    assert!(
        f.published("a.example").is_some(),
        "refreshed within its TTL"
    );
    f.clock.advance(Duration::from_secs(12 * 3600));
    assert!(
        f.published("a.example").is_none(),
        "expired after 24 h without a sync"
    );
    assert!(
        block_on(f.registry.site("a.example")).is_ok(),
        "the registry still has it"
    );
}

#[test]
fn a_failed_kv_write_commits_the_change_and_marks_the_snapshot_stale() {
    let kv_faults = FaultPlan::new(3).with(Fault::transient().on(&[Op::Put, Op::Delete]).first(2));
    let f = Fixture::with_faults(FaultPlan::new(4), kv_faults);
    let a = f.add("a.example", "UTC");
    assert_eq!(block_on(f.registry.site("a.example")).unwrap(), a);
    assert_eq!(f.published("a.example"), None);
    assert_eq!(
        block_on(f.registry.stale_snapshots()),
        vec!["a.example".to_owned()]
    );
    f.tick();
    // The second fault fails the first sync; the next one lands.
    assert_eq!(
        block_on(f.registry.sync_snapshots()).unwrap().failed,
        vec!["a.example".to_owned()]
    );
    f.tick();
    let report = block_on(f.registry.sync_snapshots()).unwrap();
    assert_eq!((report.published, report.failed.len()), (1, 0));
    assert_eq!(f.published("a.example"), Some(a));
    assert!(block_on(f.registry.stale_snapshots()).is_empty());
}

#[test]
fn a_failed_state_write_leaves_nothing_half_done() {
    // Every state write fails, before applying anything.
    let state_faults =
        FaultPlan::new(5).with(Fault::permanent().on(&[Op::Write]).with_probability(1.0));
    let f = Fixture::with_faults(state_faults, FaultPlan::new(6));
    let before = f.state_keys();
    let add = block_on(
        f.registry
            .add_site(NewSite::new("a.example", "UTC"), f.tick()),
    );
    assert!(matches!(add, Err(Error::Storage(_))), "{add:?}");
    assert_eq!(f.state_keys(), before);
    assert_eq!(
        f.published("a.example"),
        None,
        "nothing published for a change that failed"
    );
    let key = block_on(f.registry.create_key(KeyScope::All, f.tick(), [1; 32]));
    assert!(matches!(key, Err(Error::Storage(_))), "{key:?}");
    assert_eq!(f.state_keys(), before);
}

#[test]
fn removing_a_site_is_one_atomic_batch_with_its_keys() {
    // The 5th state write (the removal) fails; then it is retried.
    let state_faults = FaultPlan::new(7).with(Fault::transient().on(&[Op::Write]).nth(5));
    let f = Fixture::with_faults(state_faults, FaultPlan::new(8));
    f.add("a.example", "UTC");
    f.add("b.example", "UTC");
    let (only_a, _) = block_on(f.registry.create_key(
        KeyScope::sites(["a.example"]),
        f.tick(),
        [1; 32],
    ))
    .unwrap();
    let (both, both_key) = block_on(f.registry.create_key(
        KeyScope::sites(["a.example", "b.example"]),
        f.tick(),
        [2; 32],
    ))
    .unwrap();
    let snapshot = f.registry.state().inner().snapshot();
    let failed = block_on(f.registry.remove_site("a.example"));
    assert!(
        matches!(failed, Err(Error::Storage(ref e)) if e.is_retryable()),
        "{failed:?}"
    );
    assert_eq!(
        f.registry.state().inner().snapshot(),
        snapshot,
        "a failed removal changes nothing"
    );

    block_on(f.registry.remove_site("a.example")).unwrap();
    let keys = block_on(f.registry.keys()).unwrap();
    assert_eq!(
        keys.len(),
        1,
        "the key scoped only to a.example is revoked with it"
    );
    assert_eq!(keys[0].id, both.id);
    assert_eq!(keys[0].scope, KeyScope::sites(["b.example"]));
    assert!(keys.iter().all(|k| k.id != only_a.id));
    let text = both_key.expose_secret();
    assert!(block_on(f.registry.authorize(&text, "b.example")).is_ok());
    // Re-adding the domain does not bring the old grant back.
    f.add("a.example", "UTC");
    let err = block_on(f.registry.authorize(&text, "a.example")).unwrap_err();
    assert_eq!(err.status(), 403);
}

#[test]
fn keys_authorize_by_scope_with_401_and_403_apart() {
    let f = Fixture::new();
    f.add("a.example", "UTC");
    f.add("b.example", "UTC");
    let now = f.tick();
    let (a_info, a_key) = block_on(f.registry.create_key(
        KeyScope::sites(["A.example"]),
        now,
        [1; 32],
    ))
    .unwrap();
    let (all_info, all_key) = block_on(f.registry.create_key(KeyScope::All, now, [2; 32])).unwrap();
    assert_eq!(a_info.scope, KeyScope::sites(["a.example"]));
    assert_eq!(a_info.created_at, now);
    let a_text = a_key.expose_secret();
    let all_text = all_key.expose_secret();
    let forged = glinto_control::ApiKey::from_secret([3; 32]).expose_secret();

    // (key text, site, expected: Ok(id) or Err(status))
    let cases: Vec<(&str, &str, Result<glinto_control::KeyId, u16>)> = vec![
        (&a_text, "a.example", Ok(a_info.id)),
        (&a_text, "A.EXAMPLE.", Ok(a_info.id)),
        (&a_text, "b.example", Err(403)),
        (&a_text, "not a domain", Err(403)),
        (&all_text, "b.example", Ok(all_info.id)),
        (&all_text, "a.example", Ok(all_info.id)),
        (&forged, "a.example", Err(401)),
        ("glk_nope", "a.example", Err(401)),
        ("", "a.example", Err(401)),
    ];
    for (text, site, expected) in cases {
        let got = block_on(f.registry.authorize(text, site)).map_err(|e| e.status());
        assert_eq!(got, expected, "{site}");
    }
    assert!(matches!(
        block_on(f.registry.authorize("glk_nope", "a.example")),
        Err(AuthError::Malformed(KeyParseError::Length { .. }))
    ));
    assert!(matches!(
        block_on(f.registry.authorize(&forged, "a.example")),
        Err(AuthError::UnknownKey)
    ));
    match block_on(f.registry.authorize(&a_text, "b.example")) {
        Err(AuthError::NotAllowed { key, site }) => {
            assert_eq!((key, site.as_str()), (a_info.id, "b.example"))
        }
        other => panic!("{other:?}"),
    }

    let listed = block_on(f.registry.keys()).unwrap();
    let mut expected = vec![a_info.clone(), all_info.clone()];
    expected.sort_by_key(|k| k.id);
    assert_eq!(listed, expected);

    assert_eq!(block_on(f.registry.revoke_key(a_info.id)).unwrap(), a_info);
    assert!(matches!(
        block_on(f.registry.authorize(&a_text, "a.example")),
        Err(AuthError::UnknownKey)
    ));
    assert!(matches!(
        block_on(f.registry.revoke_key(a_info.id)),
        Err(Error::NotFound {
            what: "api key",
            ..
        })
    ));
}

#[test]
fn key_creation_is_validated() {
    let f = Fixture::new();
    f.add("a.example", "UTC");
    let now = f.tick();
    let cases: Vec<(KeyScope, &str)> = vec![
        (KeyScope::sites(Vec::<String>::new()), "invalid scope"),
        (KeyScope::sites(["bad domain"]), "invalid scope"),
        (
            KeyScope::sites(["a.example", "missing.example"]),
            "site \"missing.example\" not found",
        ),
    ];
    for (scope, message) in cases {
        let err = block_on(f.registry.create_key(scope, now, [9; 32])).unwrap_err();
        assert!(err.to_string().starts_with(message), "{err}");
    }
    block_on(f.registry.create_key(KeyScope::All, now, [9; 32])).unwrap();
    let again = block_on(f.registry.create_key(KeyScope::All, now, [9; 32])).unwrap_err();
    assert!(
        matches!(
            again,
            Error::Invalid {
                field: "secret",
                ..
            }
        ),
        "{again}"
    );
    assert_eq!(block_on(f.registry.keys()).unwrap().len(), 1);
}

#[test]
fn corrupt_records_are_typed_errors() {
    let f = Fixture::new();
    f.add("a.example", "UTC");
    let cases: &[&[u8]] = &[b"", b"\x02", b"\x01", b"\x01\x01", &[0xff; 8]];
    for bytes in cases {
        block_on(
            f.registry.state().write(
                glinto_storage::WriteBatch::new().put(site_key("a.example"), bytes.to_vec()),
            ),
        )
        .unwrap();
        let err = block_on(f.registry.site("a.example")).unwrap_err();
        assert!(
            matches!(err, Error::Corrupt { ref key, .. } if key == "site/a.example"),
            "{err:?}"
        );
        assert_eq!(err.status(), 500);
    }
}

#[test]
fn works_through_trait_objects() {
    // How a server holds its stores: chosen at start-up, behind `Arc<dyn …>`.
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(T0)));
    let state: Arc<dyn StateStore> = Arc::new(MemoryState::new(clock.clone()));
    let kv: Arc<dyn KvStore> = Arc::new(MemoryKv::new(clock.clone()));
    let registry = Registry::new(state.clone(), kv.clone());
    let salts =
        glinto_control::SaltManager::new(state, glinto_event_model::visitor::SaltPeriod::Daily);
    let site = block_on(registry.add_site(NewSite::new("a.example", "UTC"), clock.now())).unwrap();
    assert_eq!(
        block_on(read_snapshot(&*kv, "a.example")).unwrap(),
        Some(site)
    );
    assert!(block_on(salts.ensure(clock.now(), [1; 16])).is_ok());
    assert!(format!("{registry:?} {salts:?}").contains("memory-state"));
}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn futures_are_send_for_multi_threaded_servers() {
    let f = Fixture::new();
    let now = f.clock.now();
    assert_send(&f.registry.add_site(NewSite::new("a.example", "UTC"), now));
    assert_send(&f.registry.authorize("glk_", "a.example"));
    assert_send(&f.registry.sync_snapshots());
    let salts = glinto_control::SaltManager::new(
        f.registry.state(),
        glinto_event_model::visitor::SaltPeriod::Daily,
    );
    assert_send(&salts.ensure(now, [0; 16]));
}
