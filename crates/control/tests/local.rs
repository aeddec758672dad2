//! On the persistent local store: a restart (closing and reopening the data
//! directory) keeps sites, keys and salts.

#![cfg(not(target_arch = "wasm32"))]

use futures::executor::block_on;
use glinto_control::{KeyScope, NewSite, Registry, SaltManager, SiteUpdate, read_snapshot};
use glinto_event_model::visitor::SaltPeriod;
use glinto_storage::Timestamp;
use glinto_storage_local::LocalStore;

#[test]
fn a_restart_keeps_sites_keys_and_salts() {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::from_unix_millis(1_764_979_200_000);
    let (site, key_text, key_id, in_force) = {
        let store = LocalStore::open(dir.path()).unwrap();
        let registry = Registry::new(
            store.state("registry").unwrap(),
            store.kv("config").unwrap(),
        );
        let salts = SaltManager::new(store.state("registry").unwrap(), SaltPeriod::Daily);
        block_on(registry.add_site(NewSite::new("a.example", "Asia/Kathmandu"), now)).unwrap();
        let site =
            block_on(registry.update_site("a.example", SiteUpdate::new().retention_days(Some(90))))
                .unwrap()
                .after;
        let (info, key) =
            block_on(registry.create_key(KeyScope::sites(["a.example"]), now, [5; 32])).unwrap();
        let in_force = block_on(salts.ensure(now, [6; 16])).unwrap();
        (site, key.expose_secret().to_string(), info.id, in_force)
    };

    let store = LocalStore::open(dir.path()).unwrap();
    let registry = Registry::new(
        store.state("registry").unwrap(),
        store.kv("config").unwrap(),
    );
    let salts = SaltManager::new(store.state("registry").unwrap(), SaltPeriod::Daily);
    assert_eq!(block_on(registry.sites()).unwrap(), vec![site.clone()]);
    assert_eq!(
        block_on(read_snapshot(registry.kv(), "a.example")).unwrap(),
        Some(site)
    );
    assert_eq!(
        block_on(registry.authorize(&key_text, "a.example")).unwrap(),
        key_id
    );
    assert_eq!(block_on(registry.keys()).unwrap().len(), 1);
    // The same salts, and offering new random bytes does not replace them.
    assert_eq!(block_on(salts.load(now)).unwrap(), Some(in_force.clone()));
    assert_eq!(block_on(salts.ensure(now, [7; 16])).unwrap(), in_force);
}
