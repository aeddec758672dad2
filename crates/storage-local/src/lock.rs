//! The data directory's lock file.
//!
//! redb locks its own file, but the lock file makes the refusal explicit, names the directory
//! and the holder's process id, and also covers the same process opening the directory twice.
//! The lock is an advisory `flock(2)`-style lock taken through `std::fs::File::try_lock`; the
//! operating system drops it when the holding process exits, including after `kill -9`, so a
//! crashed process never leaves a stale lock behind.
//!
//! # Child processes
//!
//! Such a lock belongs to the open file, and a child process shares this process's open files
//! from `fork` until its `exec` closes them (they are all opened close-on-exec). So while any
//! thread of this process is spawning a child, a store dropped a moment earlier can still look
//! locked, to this process as to others. Two things keep that from refusing a legitimate
//! reopen:
//!
//! - Whether *this* process holds a directory is decided by an in-process registry, not by the
//!   file lock: a second open while a store is live fails at once.
//! - When the registry says the directory is free but the file lock is held and the lock file
//!   names this process, the holder can only be a child between fork and exec, so the open
//!   waits for it, up to [`INHERITED_WAIT`]. The same wait covers redb's lock on the database
//!   file ([`retry_inherited`]).

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::OpenError;

/// Name of the lock file inside the data directory.
pub(crate) const LOCK_FILE: &str = "LOCK";

/// How long an open waits for children to release copies of this process's lock. A spawn
/// holds them for microseconds to milliseconds; the bound only matters for a child that forks
/// and never execs, which then keeps the directory locked for as long as it lives.
pub(crate) const INHERITED_WAIT: Duration = Duration::from_secs(2);

/// The directories (canonical paths) some live store of this process holds.
static HELD: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

fn held() -> std::sync::MutexGuard<'static, BTreeSet<PathBuf>> {
    // The set is only inserted into and removed from; a panic elsewhere cannot leave it torn.
    HELD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An exclusive lock on a data directory, held until dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    // Closing the file releases the lock; `Drop` closes it before freeing the registry entry.
    file: Option<File>,
    key: PathBuf,
}

impl DirLock {
    /// Takes the lock of `dir`, or reports who holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<Self, OpenError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| OpenError::Io {
            path: path.clone(),
            source,
        };
        let own_pid = std::process::id();
        let key = std::fs::canonicalize(dir).map_err(|source| OpenError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if !held().insert(key.clone()) {
            return Err(OpenError::AlreadyOpen {
                dir: dir.to_path_buf(),
                holder_pid: Some(own_pid),
            });
        }
        // From here on the registry entry is ours; `lock` gives it back if the open fails.
        let mut lock = Self { file: None, key };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        retry_inherited(|| match file.try_lock() {
            Ok(()) => Ok(()),
            Err(TryLockError::WouldBlock) => Err(OpenError::AlreadyOpen {
                dir: dir.to_path_buf(),
                holder_pid: read_pid(&mut file),
            }),
            Err(TryLockError::Error(source)) => Err(io(source)),
        })?;
        // Informational only: the lock, not this content, is what excludes other processes.
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{own_pid}").map_err(io)?;
        lock.file = Some(file);
        Ok(lock)
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        drop(self.file.take());
        held().remove(&self.key);
    }
}

/// Runs `attempt` until it succeeds, fails for a reason other than this process's own lock,
/// or [`INHERITED_WAIT`] has passed.
///
/// An [`OpenError::AlreadyOpen`] naming this process, after the registry has said no store
/// of this process holds the directory, can only come from a child that has not reached
/// `exec` yet: that is worth waiting for. Anything else is returned at once.
pub(crate) fn retry_inherited<T>(
    mut attempt: impl FnMut() -> Result<T, OpenError>,
) -> Result<T, OpenError> {
    let own_pid = std::process::id();
    let deadline = Instant::now() + INHERITED_WAIT;
    let mut pause = Duration::from_micros(100);
    loop {
        match attempt() {
            Err(OpenError::AlreadyOpen {
                holder_pid: Some(pid),
                ..
            }) if pid == own_pid && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
