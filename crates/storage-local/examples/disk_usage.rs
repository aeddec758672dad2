//! Bytes on disk per stored byte: writes 10 000 rollup-sized values into a fresh data directory
//! through the `StateStore` (in batches of 16, as the aggregator flushes), and a few objects
//! through the `ObjectStore`, then prints the database file's size against the bytes of keys
//! and values written.
//!
//! `cargo run --release -p glinto-storage-local --example disk_usage`

#![allow(
    clippy::print_stdout,
    reason = "an example that reports its measurements"
)]

use std::error::Error;

use bytes::Bytes;
use futures::executor::block_on;
use glinto_storage::{ObjectStore, PutMode, StateStore, WriteBatch};
use glinto_storage_local::{DATABASE_FILE, LocalStore};

const VALUES: usize = 10_000;

/// A deterministic, incompressible-looking value of `len` bytes.
fn value(seed: usize, len: usize) -> Vec<u8> {
    let mut x = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn file_size(store: &LocalStore) -> Result<u64, Box<dyn Error>> {
    Ok(std::fs::metadata(store.dir().join(DATABASE_FILE))?.len())
}

fn state_run(value_len: usize) -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let store = LocalStore::open(dir.path())?;
    let state = store.state("rollups")?;
    let mut logical = 0u64;
    block_on(async {
        for start in (0..VALUES).step_by(16) {
            let mut batch = WriteBatch::new();
            for i in start..(start + 16).min(VALUES) {
                let key = format!("rollup/site-{:04}/2026-11-28T{:02}/{i:05}", i % 97, i % 24);
                let v = value(i, value_len);
                logical += (key.len() + v.len()) as u64;
                batch = batch.put(key, v);
            }
            state.write(batch).await?;
        }
        Ok::<_, glinto_storage::Error>(())
    })?;
    drop(state);
    let size = file_size(&store)?;
    let space = store.space()?;
    let mut store = store;
    store.compact()?;
    let compacted = file_size(&store)?;
    println!(
        "state  {VALUES:>6} x {value_len:>5} B: logical {:>10} B, file {:>10} B, {:.2} bytes on disk per stored byte \
         (redb: stored {} B, metadata {} B, fragmented {} B); compacted: {:.2}",
        logical,
        size,
        size as f64 / logical as f64,
        space.stored_bytes,
        space.metadata_bytes,
        space.fragmented_bytes,
        compacted as f64 / logical as f64,
    );
    Ok(())
}

fn object_run(count: usize, body_len: usize) -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let store = LocalStore::open(dir.path())?;
    let objects = store.objects("archive")?;
    let mut logical = 0u64;
    block_on(async {
        for i in 0..count {
            let key = format!("events/2026/11/28/{i:05}.bin");
            logical += (key.len() + body_len) as u64;
            objects
                .put(&key, Bytes::from(value(i, body_len)), PutMode::Create)
                .await?;
        }
        Ok::<_, glinto_storage::Error>(())
    })?;
    drop(objects);
    let size = file_size(&store)?;
    let mut store = store;
    store.compact()?;
    let compacted = file_size(&store)?;
    println!(
        "object {count:>6} x {body_len:>7} B: logical {logical:>10} B, file {size:>10} B, {:.2} bytes on disk per stored byte; compacted: {:.2}",
        size as f64 / logical as f64,
        compacted as f64 / logical as f64,
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    for len in [64, 256, 1024, 4096] {
        state_run(len)?;
    }
    object_run(1000, 1024)?;
    object_run(64, 1024 * 1024)?;
    Ok(())
}
