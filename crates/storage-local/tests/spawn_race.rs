//! A store dropped while another thread spawns child processes reopens at once.
//!
//! Its own test binary, because its children share this process's descriptors (the lock file's
//! among them) until they exec: a cross-process open test running beside it in one binary
//! would see this process's lock held by those children, as another process rightly would.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use glinto_storage_local::LocalStore;

/// A thread spawning child processes must not make a closed store look open: between fork and
/// exec a child holds copies of this process's descriptors, the lock file's among them.
#[test]
fn a_dropped_store_reopens_while_another_thread_spawns_children() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stop = Arc::new(AtomicBool::new(false));
    let spawned = Arc::new(AtomicU32::new(0));
    let spawner = {
        let (stop, spawned) = (Arc::clone(&stop), Arc::clone(&spawned));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let output = Command::new(std::env::current_exe().expect("test binary"))
                    .args(["--exact", "no_such_test", "--test-threads=1"])
                    .output()
                    .expect("run child");
                assert!(output.status.success());
                spawned.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // At least 300 rounds, and for as long as it takes 50 children to come and go.
    let mut round = 0;
    while round < 300 || spawned.load(Ordering::Relaxed) < 50 {
        let store = LocalStore::open(dir.path());
        assert!(store.is_ok(), "round {round}: {store:?}");
        drop(store);
        round += 1;
    }
    stop.store(true, Ordering::Relaxed);
    spawner.join().expect("spawner");
}
