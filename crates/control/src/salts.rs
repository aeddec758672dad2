//! Visitor-hash salts per epoch: created when an epoch starts, the previous
//! one kept for one epoch, destroyed after.
//!
//! The salts live in one [`StateStore`] record (default key `salts`), in the
//! event model's version-tagged secret layout
//! ([`Salts::encode_secret`], `docs/wire-format.md`, "Salts record"): the
//! current epoch's salt and, when the epochs are adjacent, the previous
//! one's. Every change is one put of that record, so a crash or a failed
//! write leaves either the old record or the new one, never a mix; a salt
//! that falls out of the record is gone from the store and zeroed in memory.
//!
//! # Idempotence
//!
//! [`SaltManager::ensure`] reads the record before it creates anything and
//! never keeps in memory a salt whose write failed: a retry after a failed or
//! ambiguous write (or a restart in the middle of a rotation) reads what
//! landed and uses it, so one epoch never gets two salts. Calls on one
//! manager are serialized by an async lock; as for every state store, one
//! manager owns one store (a Durable Object, or the `glinto serve` process
//! holding the local store's lock).
//!
//! # Time
//!
//! Epochs come from the `now` passed in ([`SaltPeriod::epoch_at`]), never
//! from a clock. If `now` goes back to an epoch before the stored one, the
//! stored salts are returned unchanged: a destroyed salt is never recreated.

use std::fmt;

use bytes::Bytes;
use futures::lock::Mutex;
use glinto_event_model::visitor::{Salt, SaltEpoch, SaltPeriod, Salts};
use glinto_storage::{StateStore, StateStoreExt, Timestamp};
use zeroize::Zeroize;

use crate::error::{Error, Result};

/// Owner of one set of salts in a [`StateStore`].
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
/// use glinto_control::SaltManager;
/// use glinto_event_model::visitor::SaltPeriod;
/// use glinto_storage::{ManualClock, Timestamp};
/// use glinto_storage_memory::MemoryState;
///
/// let store = MemoryState::new(Arc::new(ManualClock::default()));
/// let salts = SaltManager::new(store, SaltPeriod::Daily);
/// let now = Timestamp::from_unix_millis(1_764_979_200_000); // 2025-12-06 00:00 UTC
/// let in_force = salts.ensure(now, [7; 16]).await.unwrap(); // from the caller's CSPRNG
/// assert_eq!(in_force.epoch(), SaltPeriod::Daily.epoch_at(now.as_unix_millis()));
/// assert_eq!(salts.next_rotation(now), Timestamp::from_unix_millis(1_765_065_600_000));
/// # });
/// ```
pub struct SaltManager<S> {
    store: S,
    period: SaltPeriod,
    key: String,
    /// The record as last read or written (never a salt whose write failed).
    cache: Mutex<Option<Salts>>,
}

/// Names the backend only: a store's own `Debug` may print its values.
impl<S: StateStore> fmt::Debug for SaltManager<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaltManager")
            .field("store", &self.store.capability().backend)
            .field("period", &self.period)
            .field("key", &self.key)
            .field("salts", &"<redacted>")
            .finish()
    }
}

impl<S: StateStore> SaltManager<S> {
    /// The state store key used by [`new`](Self::new).
    pub const DEFAULT_KEY: &'static str = "salts";

    /// Salts of `period` under [`DEFAULT_KEY`](Self::DEFAULT_KEY).
    pub fn new(store: S, period: SaltPeriod) -> Self {
        Self::with_key(store, period, Self::DEFAULT_KEY)
    }

    /// Salts of `period` under `key` (several sets in one store).
    pub fn with_key(store: S, period: SaltPeriod, key: impl Into<String>) -> Self {
        SaltManager {
            store,
            period,
            key: key.into(),
            cache: Mutex::new(None),
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The epoch length.
    pub fn period(&self) -> SaltPeriod {
        self.period
    }

    /// The epoch containing `now`.
    pub fn epoch_at(&self, now: Timestamp) -> SaltEpoch {
        self.period.epoch_at(now.as_unix_millis())
    }

    /// When the epoch after `now`'s starts: when to call
    /// [`ensure`](Self::ensure) next (set the state store's alarm to it).
    pub fn next_rotation(&self, now: Timestamp) -> Timestamp {
        Timestamp::from_unix_millis(self.epoch_at(now).next().start_ms())
    }

    /// The salts in force at `now`, without creating any: `None` when `now`'s
    /// epoch has no salt yet (call [`ensure`](Self::ensure)).
    ///
    /// # Errors
    /// [`Error::Storage`] from the read, [`Error::Corrupt`] if the record
    /// cannot be decoded.
    pub async fn load(&self, now: Timestamp) -> Result<Option<Salts>> {
        let epoch = self.epoch_at(now);
        let mut cache = self.cache.lock().await;
        if !cache.as_ref().is_some_and(|s| in_force(s, epoch)) {
            *cache = self.read().await?;
        }
        Ok(cache.as_ref().filter(|s| in_force(s, epoch)).cloned())
    }

    /// The salts in force at `now`, creating `now`'s epoch's salt from
    /// `fresh` if it has none yet (the previous epoch's salt, if stored, is
    /// kept as the previous one; anything older is destroyed in the same
    /// write). `fresh` must come from a CSPRNG; it is zeroed when not used.
    ///
    /// Call it when an epoch starts (the alarm at [`next_rotation`](Self::next_rotation))
    /// and on start-up; retrying after a failure is always safe.
    ///
    /// # Errors
    /// [`Error::Storage`] from the read or the write (nothing is kept in
    /// memory then; retry), [`Error::Corrupt`] if the stored record cannot
    /// be decoded (it is left as it is, for an operator to look at).
    pub async fn ensure(&self, now: Timestamp, mut fresh: [u8; Salt::LEN]) -> Result<Salts> {
        let epoch = self.epoch_at(now);
        let mut cache = self.cache.lock().await;
        if !cache.as_ref().is_some_and(|s| in_force(s, epoch)) {
            // Re-read: the cache may predate a write that failed ambiguously.
            *cache = self.read().await?;
        }
        if let Some(salts) = cache.as_ref().filter(|s| in_force(s, epoch)) {
            fresh.zeroize();
            return Ok(salts.clone());
        }
        let salt = Salt::from_bytes(fresh);
        fresh.zeroize();
        let next = match cache.take() {
            Some(mut salts) if salts.epoch().period == epoch.period => {
                // Later and of the same period, so rotate cannot refuse; the
                // salt that falls out is zeroed as `salts` is replaced.
                match salts.rotate(epoch, salt.clone()) {
                    Ok(()) => salts,
                    Err(_) => Salts::new(epoch, salt, None),
                }
            }
            // No salts yet, or a change of period: start afresh.
            _ => Salts::new(epoch, salt, None),
        };
        self.store
            .put(&self.key, Bytes::from(next.encode_secret()))
            .await?;
        *cache = Some(next.clone());
        Ok(next)
    }

    /// Destroys the salts no longer allowed at `now` without creating any:
    /// the previous salt once its epoch is two behind, the whole record once
    /// its current epoch is two behind. Returns whether anything was
    /// destroyed. For an owner that skips [`ensure`](Self::ensure) on idle
    /// epochs (`ensure` destroys the same salts in its rotation).
    ///
    /// # Errors
    /// [`Error::Storage`], [`Error::Corrupt`] as for [`ensure`](Self::ensure).
    pub async fn destroy_expired(&self, now: Timestamp) -> Result<bool> {
        let epoch = self.epoch_at(now);
        let mut cache = self.cache.lock().await;
        *cache = self.read().await?;
        let Some(salts) = cache.as_ref() else {
            return Ok(false);
        };
        let keep_from = epoch.previous().unwrap_or(epoch);
        if salts.epoch().period != epoch.period || salts.epoch().index < keep_from.index {
            *cache = None;
            self.store.delete(&self.key).await?;
            return Ok(true);
        }
        if salts.epoch() != keep_from || keep_from == epoch || !salts.has_previous() {
            return Ok(false);
        }
        let mut trimmed = salts.clone();
        trimmed.forget_previous();
        *cache = None;
        self.store
            .put(&self.key, Bytes::from(trimmed.encode_secret()))
            .await?;
        *cache = Some(trimmed);
        Ok(true)
    }

    /// Destroys every salt of this manager (when its site is removed).
    ///
    /// # Errors
    /// [`Error::Storage`] from the delete.
    pub async fn destroy_all(&self) -> Result<()> {
        let mut cache = self.cache.lock().await;
        *cache = None;
        self.store.delete(&self.key).await?;
        Ok(())
    }

    async fn read(&self) -> Result<Option<Salts>> {
        let Some(bytes) = self.store.get(&self.key).await? else {
            return Ok(None);
        };
        let decoded = Salts::decode_secret(&bytes).map_err(|e| Error::Corrupt {
            key: self.key.clone(),
            reason: e.to_string(),
        });
        // Zero our copy of the secret bytes when nobody else holds them.
        if let Ok(mut owned) = bytes.try_into_mut() {
            owned.zeroize();
        }
        decoded.map(Some)
    }
}

/// Whether `salts` serve events of `epoch`: same period, and their own epoch
/// or a later one (a clock that went back never recreates a destroyed salt).
/// Compared field by field: `SaltEpoch`'s derived order puts every weekly
/// epoch after every daily one.
fn in_force(salts: &Salts, epoch: SaltEpoch) -> bool {
    salts.epoch().period == epoch.period && salts.epoch().index >= epoch.index
}
