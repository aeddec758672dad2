//! Crash test: a child process writes acknowledged data as fast as it can and is killed with
//! SIGKILL mid-write; the reopened store must hold every acknowledged write and no part of an
//! unacknowledged one.
//!
//! The child is this test binary itself, re-executed with `GLINTO_CRASH_CHILD` set to run only
//! the crash test, which then runs the writer loop instead of the checks.

#![allow(
    clippy::print_stdout,
    reason = "the child reports each acknowledged write on stdout"
)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use futures::executor::block_on;
use glinto_storage::{KvPutOptions, KvStore, ObjectStore, PutMode, StateStore, WriteBatch};
use glinto_storage_local::LocalStore;

const CHILD_ENV: &str = "GLINTO_CRASH_CHILD";
const KEYS_PER_BATCH: usize = 8;

/// The value every key of batch `i` holds: large enough that a batch spans several pages.
fn value(i: u64, k: usize) -> Vec<u8> {
    let mut v = format!("batch {i} key {k};").into_bytes();
    v.resize(1024 + (i as usize % 7) * 512, b'0' + (k as u8));
    v
}

fn body(i: u64) -> Vec<u8> {
    let mut b = format!("object {i};").into_bytes();
    b.resize(70_000 + (i as usize % 5) * 1000, (i % 251) as u8);
    b
}

/// The test that re-executes itself as the child (`CHILD_ENV` set): no test passes without
/// checking anything.
const CRASH_TEST: &str = "killed_writer_loses_nothing_acknowledged_and_leaves_nothing_half_written";

/// The child: batch `i` is a state batch of 8 keys, a KV put and (every 4th) an object put;
/// `ack i` is printed after all three returned.
fn run_child(dir: &std::ffi::OsStr) {
    let round: u64 = std::env::var("GLINTO_CRASH_ROUND")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let store = LocalStore::open(dir).expect("child opens the store");
    let state = store.state("crash").expect("state");
    let kv = store.kv("crash").expect("kv");
    let objects = store.objects("crash").expect("objects");
    let mut out = std::io::stdout().lock();
    // libtest has printed "test ... " without a newline: start a fresh line.
    writeln!(out).expect("stdout");
    block_on(async {
        for i in 0.. {
            let mut batch = WriteBatch::new();
            for k in 0..KEYS_PER_BATCH {
                batch = batch.put(format!("r{round}/b{i:08}/k{k}"), value(i, k));
            }
            state.write(batch).await.expect("state write");
            kv.put(
                &format!("r{round}/b{i:08}"),
                Bytes::from(value(i, 0)),
                KvPutOptions::new(),
            )
            .await
            .expect("kv put");
            if i.is_multiple_of(4) {
                objects
                    .put(
                        &format!("r{round}/b{i:08}"),
                        Bytes::from(body(i)),
                        PutMode::Create,
                    )
                    .await
                    .expect("object put");
            }
            writeln!(out, "ack {i}").expect("stdout");
            out.flush().expect("flush");
        }
    });
}

/// What the parent finds of batch `i` after the crash. Each write is checked byte for byte;
/// a state batch found in part, or bytes that differ, are reported as `torn`.
#[derive(Debug, PartialEq, Eq)]
struct Found {
    /// State keys of the batch present (all or none, unless torn).
    state_keys: usize,
    /// The KV put is there.
    kv: bool,
    /// The object put is there (batches with no object put report `false`).
    object: bool,
    /// What was torn, if anything.
    torn: Option<String>,
}

impl Found {
    /// Every write of the batch is there.
    fn whole(&self, i: u64) -> bool {
        self.torn.is_none()
            && self.state_keys == KEYS_PER_BATCH
            && self.kv
            && (self.object || !i.is_multiple_of(4))
    }

    /// Nothing of the batch is there.
    fn absent(&self) -> bool {
        self.torn.is_none() && self.state_keys == 0 && !self.kv && !self.object
    }

    /// What a crash during the batch may leave: the batch's three writes are three
    /// transactions, issued in order, each all-or-nothing.
    fn a_prefix_of_whole_writes(&self) -> bool {
        self.torn.is_none()
            && (self.state_keys == 0 || self.state_keys == KEYS_PER_BATCH)
            && (!self.kv || self.state_keys == KEYS_PER_BATCH)
            && (!self.object || self.kv)
    }
}

fn inspect(store: &LocalStore, round: u64, i: u64) -> Found {
    let state = store.state("crash").expect("state");
    let kv = store.kv("crash").expect("kv");
    let objects = store.objects("crash").expect("objects");
    block_on(async {
        let keys: Vec<String> = (0..KEYS_PER_BATCH)
            .map(|k| format!("r{round}/b{i:08}/k{k}"))
            .collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let values = state.get_many(&refs).await.expect("get_many");
        let mut torn = None;
        for (k, v) in values.iter().enumerate() {
            if v.as_ref()
                .is_some_and(|v| v.as_ref() != value(i, k).as_slice())
            {
                torn = Some(format!("state key {k} holds other bytes"));
            }
        }
        let state_keys = values.iter().filter(|v| v.is_some()).count();
        if state_keys != 0 && state_keys != KEYS_PER_BATCH {
            torn = Some(format!("{state_keys} of {KEYS_PER_BATCH} state keys"));
        }
        let kv_value = kv.get(&format!("r{round}/b{i:08}")).await.expect("kv get");
        if kv_value
            .as_ref()
            .is_some_and(|e| e.value.as_ref() != value(i, 0).as_slice())
        {
            torn = Some("kv value holds other bytes".to_owned());
        }
        let object = objects
            .get(&format!("r{round}/b{i:08}"), None)
            .await
            .expect("object get");
        if object
            .as_ref()
            .is_some_and(|o| o.body.as_ref() != body(i).as_slice())
        {
            torn = Some("object holds other bytes".to_owned());
        }
        Found {
            state_keys,
            kv: kv_value.is_some(),
            object: object.is_some(),
            torn,
        }
    })
}

/// Runs the child until it acknowledged `kill_after` batches, kills it with SIGKILL, and
/// returns the highest acknowledged batch.
fn run_and_kill(dir: &Path, round: u64, kill_after: u64) -> Option<u64> {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", CRASH_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env("GLINTO_CRASH_ROUND", round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut last_ack = None;
    // Read acknowledgements until enough were seen, then kill mid-stream.
    for line in lines.by_ref() {
        let line = line.expect("read child");
        if let Some(n) = line
            .strip_prefix("ack ")
            .and_then(|n| n.parse::<u64>().ok())
        {
            last_ack = Some(n);
            if n + 1 >= kill_after {
                break;
            }
        }
    }
    // A few more writes are in flight while the signal is delivered.
    std::thread::sleep(Duration::from_millis(3 + round * 2));
    child.kill().expect("SIGKILL");
    // Acknowledgements printed before the kill are still in the pipe.
    for line in lines {
        let Ok(line) = line else { break };
        if let Some(n) = line
            .strip_prefix("ack ")
            .and_then(|n| n.parse::<u64>().ok())
        {
            last_ack = Some(n);
        }
    }
    child.wait().expect("reap child");
    last_ack
}

#[test]
fn killed_writer_loses_nothing_acknowledged_and_leaves_nothing_half_written() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        run_child(&dir);
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // Rounds share the directory, so each reopen also recovers from every earlier crash.
    for (round, kill_after) in [(0u64, 5u64), (1, 40), (2, 15), (3, 120), (4, 300)] {
        let last =
            run_and_kill(dir.path(), round, kill_after).expect("the child acknowledged writes");
        assert!(last + 1 >= kill_after, "round {round}: killed after {last}");
        let store = LocalStore::open(dir.path()).expect("reopen after SIGKILL");
        for i in 0..=last {
            let found = inspect(&store, round, i);
            assert!(
                found.whole(i),
                "round {round}: acknowledged batch {i}: {found:?}"
            );
        }
        // The batch in flight when the signal landed: any prefix of its writes, each whole.
        let in_flight = inspect(&store, round, last + 1);
        assert!(
            in_flight.a_prefix_of_whole_writes(),
            "round {round}: in-flight batch: {in_flight:?}"
        );
        // Nothing beyond it was ever written.
        let beyond = inspect(&store, round, last + 2);
        assert!(
            beyond.absent(),
            "round {round}: batch {}: {beyond:?}",
            last + 2
        );
    }
}
