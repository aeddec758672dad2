//! Opening a data directory: exclusive use (within and across processes), corruption
//! detection, layout versions, and durability across a clean reopen.

#![allow(
    clippy::print_stdout,
    reason = "the child process reports its open result on stdout"
)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use futures::executor::block_on;
use glinto_storage::{
    Error, KvPutOptions, KvStore, ManualClock, ObjectStore, PutMode, StateStore, Timestamp,
    WriteBatch,
};
use glinto_storage_local::{BackendError, DATABASE_FILE, LocalOptions, LocalStore, OpenError};

const LOCK_CHILD_ENV: &str = "GLINTO_LOCK_CHILD";

/// A short, path-free description of an open result, so expectations read as data.
fn describe(result: &Result<LocalStore, OpenError>) -> String {
    match result {
        Ok(_) => "opened".to_owned(),
        Err(OpenError::AlreadyOpen {
            holder_pid: Some(pid),
            ..
        }) => format!("already open by {pid}"),
        Err(OpenError::AlreadyOpen {
            holder_pid: None, ..
        }) => "already open".to_owned(),
        Err(OpenError::Corrupted { .. }) => "corrupted".to_owned(),
        Err(OpenError::UnsupportedLayout {
            found, supported, ..
        }) => format!("layout {found}, reads {supported}"),
        Err(other) => format!("other: {other}"),
    }
}

fn check(result: &Result<LocalStore, OpenError>, expected: &str) {
    assert_eq!(describe(result), expected, "{result:?}");
}

/// The test that spawns itself: run normally it holds a directory and asks
/// a child process (this test binary, running only this test) to open it;
/// in the child (`LOCK_CHILD_ENV` set) it opens the directory and prints the
/// outcome. No test passes without checking anything.
const CROSS_PROCESS_TEST: &str =
    "an_open_from_another_process_is_refused_while_this_one_holds_the_directory";

fn open_in_child(dir: &Path) -> String {
    let output = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            CROSS_PROCESS_TEST,
            "--nocapture",
            "--test-threads=1",
        ])
        .env(LOCK_CHILD_ENV, dir)
        .output()
        .expect("run child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("result: "))
        .unwrap_or("no result")
        .to_owned()
}

#[test]
fn an_open_from_another_process_is_refused_while_this_one_holds_the_directory() {
    if let Some(dir) = std::env::var_os(LOCK_CHILD_ENV) {
        // The child. libtest has printed "test ... " without a newline:
        // start a fresh line.
        println!("\nresult: {}", describe(&LocalStore::open(dir)));
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path()).expect("open");
    assert_eq!(
        open_in_child(dir.path()),
        format!("already open by {}", std::process::id())
    );
    drop(store);
    assert_eq!(open_in_child(dir.path()), "opened");
    // The child exited without unlocking explicitly: the OS released its lock.
    check(&LocalStore::open(dir.path()), "opened");
}

#[test]
fn a_second_open_in_this_process_is_refused_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = LocalStore::open(dir.path()).expect("first open");
    let state = first.state("s").expect("state");
    drop(first);
    // A store handed out keeps the directory locked.
    check(
        &LocalStore::open(dir.path()),
        &format!("already open by {}", std::process::id()),
    );
    let message = LocalStore::open(dir.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("only one process may use it at a time"),
        "{message}"
    );
    drop(state);
    check(&LocalStore::open(dir.path()), "opened");
}

/// Flips one bit in every copy of `needle` in the database file; returns how many it found.
fn damage(dir: &Path, needle: &[u8]) -> usize {
    let path = dir.join(DATABASE_FILE);
    let mut bytes = std::fs::read(&path).expect("read db");
    let mut found = 0;
    let mut at = 0;
    while let Some(pos) = bytes[at..].windows(needle.len()).position(|w| w == needle) {
        let hit = at + pos + needle.len() / 2;
        bytes[hit] ^= 0x01;
        found += 1;
        at = at + pos + needle.len();
    }
    std::fs::write(&path, bytes).expect("write db");
    found
}

fn corrupted_source(error: &Error) -> bool {
    match error {
        Error::Permanent { source } => {
            matches!(
                source.downcast_ref::<BackendError>(),
                Some(BackendError::Corrupted { .. })
            )
        }
        _ => false,
    }
}

#[test]
fn a_damaged_value_is_reported_on_open_and_on_read_never_returned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let needle = b"GLINTO-CORRUPTION-PROBE-".repeat(200);
    {
        let store = LocalStore::open(dir.path()).expect("open");
        let state = store.state("s").expect("state");
        block_on(
            state.write(
                WriteBatch::new()
                    .put("probe", needle.clone())
                    .put("other", "fine"),
            ),
        )
        .expect("write");
    }
    assert!(
        damage(dir.path(), &needle) >= 1,
        "the probe value is in the file"
    );

    // The default open verifies every page checksum and refuses the file.
    check(&LocalStore::open(dir.path()), "corrupted");

    // Without the open-time check, the record's own CRC-32 catches it on read.
    let store = LocalStore::open_with(dir.path(), LocalOptions::new().verify_on_open(false))
        .expect("open unverified");
    let state = store.state("s").expect("state");
    let read = block_on(state.get("probe"));
    assert!(read.as_ref().is_err_and(corrupted_source), "{read:?}");
    let listed = block_on(state.list(glinto_storage::StateListOptions::default()));
    assert!(listed.as_ref().is_err_and(corrupted_source), "{listed:?}");
}

#[test]
fn a_file_that_is_not_a_database_is_refused_not_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join(DATABASE_FILE), garbage).expect("write garbage");
    let result = LocalStore::open(dir.path());
    assert!(
        matches!(
            result,
            Err(OpenError::Corrupted { .. } | OpenError::Storage { .. })
        ),
        "{result:?}"
    );
}

#[test]
fn a_file_of_a_newer_layout_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(LocalStore::open(dir.path()).expect("create"));
    {
        // Rewrite the layout record as version 2, as a newer build would.
        let db = redb::Database::open(dir.path().join(DATABASE_FILE)).expect("redb open");
        let txn = db.begin_write().expect("begin");
        {
            let mut meta = txn
                .open_table(redb::TableDefinition::<&[u8], &[u8]>::new("meta"))
                .expect("meta");
            let payload = 2u32.to_le_bytes();
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(&[0x01]);
            hasher.update(&payload);
            let mut record = vec![0x01];
            record.extend_from_slice(&hasher.finalize().to_le_bytes());
            record.extend_from_slice(&payload);
            meta.insert(b"layout".as_slice(), record.as_slice())
                .expect("insert");
        }
        txn.commit().expect("commit");
    }
    check(&LocalStore::open(dir.path()), "layout 2, reads 1");
}

#[test]
fn everything_written_is_there_after_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(Timestamp::from_unix_millis(1_700_000_000_000));
    let options = LocalOptions::new().clock(std::sync::Arc::new(clock.clone()));
    {
        let store = LocalStore::open_with(dir.path(), options.clone()).expect("open");
        let (kv, state, objects) = (
            store.kv("k").expect("kv"),
            store.state("s").expect("s"),
            store.objects("o").expect("o"),
        );
        block_on(async {
            kv.put(
                "ttl",
                Bytes::from_static(b"v"),
                KvPutOptions::new()
                    .expire_after(Duration::from_secs(60))
                    .metadata("m"),
            )
            .await
            .expect("kv put");
            state
                .write(WriteBatch::new().put("a", "1").put("b", "2"))
                .await
                .expect("state write");
            state
                .set_alarm(Timestamp::from_unix_millis(42))
                .await
                .expect("alarm");
            objects
                .put("x", Bytes::from(vec![7u8; 200_000]), PutMode::Create)
                .await
                .expect("object put");
        });
    }
    let store = LocalStore::open_with(dir.path(), options).expect("reopen");
    let (kv, state, objects) = (
        store.kv("k").expect("kv"),
        store.state("s").expect("s"),
        store.objects("o").expect("o"),
    );
    block_on(async {
        let entry = kv.get("ttl").await.expect("kv get").expect("kv entry");
        assert_eq!(
            (entry.value.as_ref(), entry.metadata.as_deref()),
            (&b"v"[..], Some("m"))
        );
        assert_eq!(
            state.get("b").await.expect("get").as_deref(),
            Some(&b"2"[..])
        );
        assert_eq!(
            state.get_alarm().await.expect("alarm"),
            Some(Timestamp::from_unix_millis(42))
        );
        let object = objects.get("x", None).await.expect("get").expect("object");
        assert_eq!(object.body.len(), 200_000);
        // The TTL was persisted with its deadline.
        clock.advance(Duration::from_secs(60));
        assert_eq!(kv.get("ttl").await.expect("kv get"), None);
    });
}
