//! In-memory storage backends for Glinto, and wrappers that any backend can
//! be put in.
//!
//! Backends — deterministic, strongly consistent, with the production limits
//! of the primitive they stand for (so code that would be refused in
//! production is refused in tests), each passing glinto-storage's whole
//! conformance suite:
//!
//! - [`MemoryKv`] — a [`KvStore`](glinto_storage::KvStore) (Workers KV),
//!   with TTLs on an injected [`Clock`](glinto_storage::Clock);
//! - [`MemoryState`] — a [`StateStore`](glinto_storage::StateStore) (a
//!   Durable Object's storage), with an alarm you can fire from tests;
//! - [`MemoryObjects`] — an [`ObjectStore`](glinto_storage::ObjectStore)
//!   (R2), with conditional writes and delimiter listing.
//!
//! Wrappers, generic over any backend of the matching trait:
//!
//! - [`Faulty`] — fails chosen operations (by kind, key, n-th call) or a
//!   seeded-random fraction of them, with transient or permanent errors,
//!   before or *after* applying them ([`FaultPlan`]);
//! - [`PropagatingKv`] — Workers KV's propagation delay: reads from a
//!   "remote location" see the previous value until the delay has passed;
//! - [`WriteBehind`] — a Durable Object's write-behind cache: writes are
//!   visible at once, durable after [`WriteBehind::flush`], and lost by
//!   [`WriteBehind::evict`] if uncommitted;
//! - [`Metered`] — operation, row and byte counters per store, mapped to
//!   Cloudflare's billing units ([`Usage`]).
//!
//! Everything here compiles to `wasm32-unknown-unknown`; nothing spawns
//! threads or needs a runtime.

mod fault;
mod kv;
mod metered;
mod object;
mod propagation;
mod state;
mod write_behind;

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use glinto_storage::{Capability, Error, Result, Timestamp};

pub use fault::{Fault, FaultKind, FaultPlan, Faulty, InjectedFault, Op};
pub use kv::MemoryKv;
pub use metered::{DurableObjectUnits, Meter, Metered, R2Units, Usage, WorkersKvUnits};
pub use object::MemoryObjects;
pub use propagation::PropagatingKv;
pub use state::MemoryState;
pub use write_behind::{Evicted, WriteBehind};

/// Locks a mutex; a panic while it was held cannot leave our maps half
/// updated (every update is a single insert/remove), so poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Cursor format of the memory stores: a version tag, then the resume point.
const CURSOR_TAG: &str = "m1:";

fn encode_cursor(resume_after: &str) -> String {
    format!("{CURSOR_TAG}{resume_after}")
}

fn decode_cursor(cursor: &str) -> Result<&str> {
    cursor.strip_prefix(CURSOR_TAG).ok_or_else(bad_cursor)
}

fn bad_cursor() -> Error {
    Error::InvalidArgument {
        field: "cursor",
        reason: "not a cursor returned by this store".into(),
    }
}

/// Production's per-key write rate limit
/// ([`Capability::max_writes_per_key_per_second`]), enforced by the clock:
/// a write beyond it is refused with [`Error::Transient`], as Cloudflare
/// answers HTTP 429.
#[derive(Debug, Default)]
struct WriteRate {
    recent: Mutex<HashMap<String, VecDeque<Timestamp>>>,
}

/// Rate-limited key map entries kept before stale ones are swept.
const WRITE_RATE_SWEEP: usize = 4096;

impl WriteRate {
    fn admit(&self, capability: &Capability, key: &str, now: Timestamp) -> Result<()> {
        let Some(per_second) = capability.max_writes_per_key_per_second else {
            return Ok(());
        };
        let window_start =
            |t: &Timestamp| now.saturating_duration_since(*t) < Duration::from_secs(1);
        let mut recent = lock(&self.recent);
        if recent.len() > WRITE_RATE_SWEEP {
            recent.retain(|_, times| times.back().is_some_and(window_start));
        }
        let times = recent.entry(key.to_owned()).or_default();
        times.retain(window_start);
        if times.len() >= per_second as usize {
            return Err(Error::Transient {
                source: format!(
                    "rate limited: more than {per_second} write(s) per second to key {key:?} (HTTP 429)"
                )
                .into(),
            });
        }
        times.push_back(now);
        Ok(())
    }
}
