//! What a backend can do, said up front instead of degraded silently.

use std::time::Duration;

use crate::error::{Error, Limit, Result};

/// What a store supports and which limits it enforces.
///
/// Every store returns one from `capability()`. Callers branch on it (skip
/// TTLs where there are none, split batches at `max_batch_keys`) and the
/// conformance suite reads it to know which clauses apply. A backend that
/// does not support something reports it here *and* returns
/// [`Error::NotSupported`] when asked to do it; it never silently ignores an
/// option.
///
/// The presets ([`workers_kv`](Capability::workers_kv),
/// [`durable_object_kv`](Capability::durable_object_kv),
/// [`durable_object_sqlite`](Capability::durable_object_sqlite),
/// [`r2`](Capability::r2)) carry the production limits of the Cloudflare
/// primitives; a backend starts from one and adjusts fields (the struct is
/// `#[non_exhaustive]`: build it from a preset, then assign fields). The
/// check helpers (`check_key`, `check_value`, …) let every backend enforce
/// the same limits with the same errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capability {
    /// The backend's name in messages (`Error::NotSupported::backend`).
    pub backend: &'static str,
    /// A read issued after a write was acknowledged sees that write (or a
    /// later one). False for Workers KV across locations.
    pub read_after_write: bool,
    /// Conditional writes (`PutMode::Create`, `PutMode::IfMatch`) are atomic
    /// compare-and-swap operations. Object stores only.
    pub conditional_writes: bool,
    /// Entries can expire (`KvPutOptions::expiration`). KV stores only.
    pub ttl: bool,
    /// The shortest accepted expiration, measured from now (Workers KV: 60 s).
    pub min_ttl: Duration,
    /// Longest accepted key, in bytes of UTF-8.
    pub max_key_bytes: usize,
    /// Largest accepted value or single-put object body, in bytes.
    pub max_value_bytes: u64,
    /// Largest accepted key plus value, in bytes (SQLite-backed Durable
    /// Objects limit the pair to 2 MB). `u64::MAX`: no combined limit.
    pub max_entry_bytes: u64,
    /// Largest accepted metadata, in bytes (KV metadata). Zero: no metadata.
    pub max_metadata_bytes: usize,
    /// Most keys in one atomic batch (`StateStore::write`, `get_many`).
    /// One means "no multi-key operations".
    pub max_batch_keys: usize,
    /// Largest `limit` one list call accepts (`usize::MAX`: unbounded).
    pub max_list_limit: usize,
    /// Listing with a delimiter (common prefixes) is supported.
    pub list_delimiter: bool,
    /// Ranged reads (`GetRange`) are served without reading the whole value.
    pub ranged_reads: bool,
    /// The store has an alarm (`StateStore` only).
    pub alarms: bool,
    /// Production rate limit on writes to one key, if any (Workers KV: 1/s;
    /// R2: 1/s). Exceeding it yields [`Error::Transient`] (HTTP 429).
    pub max_writes_per_key_per_second: Option<u32>,
}

/// Not a real backend: every limit open, every feature off. Presets below
/// override what their primitive has.
const BASE: Capability = Capability {
    backend: "unnamed",
    read_after_write: true,
    conditional_writes: false,
    ttl: false,
    min_ttl: Duration::ZERO,
    max_key_bytes: usize::MAX,
    max_value_bytes: u64::MAX,
    max_entry_bytes: u64::MAX,
    max_metadata_bytes: 0,
    max_batch_keys: 1,
    max_list_limit: usize::MAX,
    list_delimiter: false,
    ranged_reads: false,
    alarms: false,
    max_writes_per_key_per_second: None,
};

impl Capability {
    /// Workers KV in production: eventually consistent, TTL ≥ 60 s, keys
    /// ≤ 512 bytes, values ≤ 25 MiB, metadata ≤ 1024 bytes, list pages
    /// ≤ 1000 keys, one write per key per second.
    pub const fn workers_kv() -> Self {
        Capability {
            backend: "workers-kv",
            read_after_write: false,
            ttl: true,
            min_ttl: Duration::from_secs(60),
            max_key_bytes: 512,
            max_value_bytes: 25 * 1024 * 1024,
            max_metadata_bytes: 1024,
            max_list_limit: 1000,
            max_writes_per_key_per_second: Some(1),
            ..BASE
        }
    }

    /// A Durable Object with the key-value storage backend: keys ≤ 2 KiB,
    /// values ≤ 128 KiB, ≤ 128 keys per batch, an alarm, strongly consistent.
    pub const fn durable_object_kv() -> Self {
        Capability {
            backend: "durable-object-kv",
            max_key_bytes: 2 * 1024,
            max_value_bytes: 128 * 1024,
            max_batch_keys: 128,
            alarms: true,
            ..BASE
        }
    }

    /// A Durable Object with the SQLite storage backend, through its KV API:
    /// key and value together ≤ 2 MB (taken as 2 000 000 bytes, the smaller
    /// reading of Cloudflare's "2 MB"), ≤ 128 keys per batch call, an alarm,
    /// strongly consistent.
    pub const fn durable_object_sqlite() -> Self {
        Capability {
            backend: "durable-object-sqlite",
            max_key_bytes: 2_000_000,
            max_value_bytes: 2_000_000,
            max_entry_bytes: 2_000_000,
            ..Self::durable_object_kv()
        }
    }

    /// R2: strongly consistent, conditional writes, keys ≤ 1024 bytes,
    /// single puts ≤ 5 GiB − 5 MiB, list pages ≤ 1000 with a delimiter,
    /// ranged reads, one write per key per second.
    pub const fn r2() -> Self {
        Capability {
            backend: "r2",
            conditional_writes: true,
            max_key_bytes: 1024,
            max_value_bytes: 5 * 1024 * 1024 * 1024 - 5 * 1024 * 1024,
            max_list_limit: 1000,
            list_delimiter: true,
            ranged_reads: true,
            max_writes_per_key_per_second: Some(1),
            ..BASE
        }
    }

    /// Checks a key: not empty, at most `max_key_bytes` bytes.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for an empty key, [`Error::TooLarge`] with
    /// [`Limit::KeyBytes`] for a long one.
    pub fn check_key(&self, key: &str) -> Result<()> {
        if key.is_empty() {
            return Err(Error::InvalidKey {
                key: String::new(),
                reason: "keys must not be empty",
            });
        }
        check_limit(Limit::KeyBytes, key.len() as u64, self.max_key_bytes as u64)
    }

    /// Checks a value or body length against `max_value_bytes`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] with [`Limit::ValueBytes`].
    pub fn check_value(&self, len: usize) -> Result<()> {
        check_limit(Limit::ValueBytes, len as u64, self.max_value_bytes)
    }

    /// Checks a key and value length together against `max_entry_bytes`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] with [`Limit::EntryBytes`].
    pub fn check_entry(&self, key_len: usize, value_len: usize) -> Result<()> {
        let size = (key_len as u64).saturating_add(value_len as u64);
        check_limit(Limit::EntryBytes, size, self.max_entry_bytes)
    }

    /// Checks a metadata length against `max_metadata_bytes`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] with [`Limit::MetadataBytes`].
    pub fn check_metadata(&self, len: usize) -> Result<()> {
        check_limit(
            Limit::MetadataBytes,
            len as u64,
            self.max_metadata_bytes as u64,
        )
    }

    /// Checks the number of keys in one batch against `max_batch_keys`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] with [`Limit::BatchKeys`].
    pub fn check_batch(&self, keys: usize) -> Result<()> {
        check_limit(Limit::BatchKeys, keys as u64, self.max_batch_keys as u64)
    }

    /// Checks a list `limit`: at least one, at most `max_list_limit`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for zero, [`Error::TooLarge`] with
    /// [`Limit::ListLimit`] above the maximum.
    pub fn check_list_limit(&self, limit: usize) -> Result<()> {
        if limit == 0 {
            return Err(Error::InvalidArgument {
                field: "limit",
                reason: "a list limit must be at least 1".into(),
            });
        }
        check_limit(Limit::ListLimit, limit as u64, self.max_list_limit as u64)
    }

    /// The [`Error::NotSupported`] for `operation` on this backend.
    pub fn not_supported(&self, operation: &'static str) -> Error {
        Error::NotSupported {
            operation,
            backend: self.backend,
        }
    }
}

fn check_limit(what: Limit, size: u64, limit: u64) -> Result<()> {
    if size > limit {
        Err(Error::TooLarge { what, size, limit })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(result: Result<()>, expected: &str) {
        let got = match result {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn limits_accept_the_limit_and_reject_one_more() {
        let kv = Capability::workers_kv();
        check(kv.check_key(&"k".repeat(512)), "ok");
        check(
            kv.check_key(&"k".repeat(513)),
            "key bytes too large: 513 > limit 512",
        );
        check(kv.check_key(""), "invalid key \"\": keys must not be empty");
        check(kv.check_value(25 * 1024 * 1024), "ok");
        check(
            kv.check_value(25 * 1024 * 1024 + 1),
            "value bytes too large: 26214401 > limit 26214400",
        );
        check(kv.check_metadata(1024), "ok");
        check(
            kv.check_metadata(1025),
            "metadata bytes too large: 1025 > limit 1024",
        );
        check(kv.check_list_limit(1000), "ok");
        check(
            kv.check_list_limit(1001),
            "list limit too large: 1001 > limit 1000",
        );
        check(
            kv.check_list_limit(0),
            "invalid limit: a list limit must be at least 1",
        );
        let dobj = Capability::durable_object_kv();
        check(dobj.check_batch(128), "ok");
        check(
            dobj.check_batch(129),
            "keys per batch too large: 129 > limit 128",
        );
        // Multi-byte characters count as their UTF-8 bytes.
        check(
            Capability::r2().check_key(&"é".repeat(513)),
            "key bytes too large: 1026 > limit 1024",
        );
    }

    #[test]
    fn presets_state_the_production_limits() {
        let sqlite = Capability::durable_object_sqlite();
        assert_eq!(sqlite.max_value_bytes, 2_000_000);
        check(sqlite.check_entry(1_000, 1_999_000), "ok");
        check(
            sqlite.check_entry(1_000, 1_999_001),
            "key and value bytes too large: 2000001 > limit 2000000",
        );
        check(
            Capability::durable_object_kv().check_entry(2048, 131_072),
            "ok",
        );
        assert_eq!(sqlite.max_batch_keys, 128);
        assert!(sqlite.alarms && sqlite.read_after_write);
        let r2 = Capability::r2();
        assert_eq!(r2.max_value_bytes, 5_363_466_240);
        assert!(r2.conditional_writes && r2.list_delimiter && r2.ranged_reads);
        assert!(!Capability::workers_kv().read_after_write);
    }
}
