//! [`KvStore`] on a Workers KV namespace.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use glinto_storage::{
    Capability, Clock, Error, Expiration, KvEntry, KvKey, KvListOptions, KvListPage, KvPutOptions,
    KvStore, Limit, Result, Timestamp,
};
use serde_json::Value;

use crate::clock::WorkersClock;
use crate::cursor;
use crate::error::runtime;

/// Workers KV's limit on metadata, in bytes of its JSON serialization
/// (<https://developers.cloudflare.com/kv/platform/limits/>).
const KV_METADATA_JSON_BYTES: usize = 1024;

/// A Workers KV namespace as a [`KvStore`].
///
/// Values are stored as bytes (`put` of an `ArrayBuffer`, `getWithMetadata`
/// as `arrayBuffer`). Metadata, a string here, is stored as a JSON string,
/// so it reads back byte for byte. Expirations become `expirationTtl` /
/// `expiration` in whole seconds (rounded up); both must lie at least 60 s
/// ahead, as in production. List cursors are the runtime's, tagged (a cursor
/// from anywhere else is `InvalidArgument`).
///
/// Eventually consistent in production (a write may take 60 s to show in
/// other locations, and reads in the writing location may be served from a
/// cache), and one write per key per second: see [`WorkersKv::capability_of`].
#[derive(Clone, Debug)]
pub struct WorkersKv {
    kv: worker::kv::KvStore,
    clock: WorkersClock,
}

impl WorkersKv {
    /// The store on a KV binding.
    pub fn new(kv: worker::kv::KvStore) -> Self {
        WorkersKv {
            kv,
            clock: WorkersClock,
        }
    }

    /// The store on the KV binding named `binding` in `env`.
    ///
    /// # Errors
    /// The runtime's error when there is no such KV binding.
    pub fn from_env(env: &worker::Env, binding: &str) -> worker::Result<Self> {
        Ok(Self::new(env.kv(binding)?))
    }

    /// What Workers KV supports and enforces
    /// (<https://developers.cloudflare.com/kv/platform/limits/>,
    /// <https://developers.cloudflare.com/kv/api/write-key-value-pairs/>):
    /// the [`Capability::workers_kv`] preset — not read-after-write, TTLs of
    /// at least 60 s, keys ≤ 512 bytes, values ≤ 25 MiB, list pages ≤ 1000
    /// keys, one write per key per second — with metadata limited to 1022
    /// bytes: KV's 1024-byte limit applies to the metadata's JSON, and a
    /// string costs its two quotes (characters that JSON escapes cost more;
    /// such metadata is refused with the JSON size against 1024).
    pub fn capability_of() -> Capability {
        let mut capability = Capability::workers_kv();
        capability.max_metadata_bytes = KV_METADATA_JSON_BYTES - 2;
        capability
    }

    fn check_key(key: &str) -> Result<()> {
        Self::capability_of().check_key(key)?;
        if key == "." || key == ".." {
            return Err(Error::InvalidKey {
                key: key.to_owned(),
                reason: "Workers KV rejects the keys \".\" and \"..\"",
            });
        }
        Ok(())
    }

    /// The whole seconds KV takes for `expiration`, checked against the
    /// minimum TTL.
    fn expiration_seconds(&self, expiration: Expiration) -> Result<(bool, u64)> {
        let min = Self::capability_of().min_ttl;
        let too_soon = |what: &str| Error::InvalidArgument {
            field: "expiration",
            reason: format!("{what}; Workers KV needs at least {min:?} from now"),
        };
        match expiration {
            Expiration::After(ttl) => {
                if ttl < min {
                    return Err(too_soon(&format!("a TTL of {ttl:?}")));
                }
                Ok((false, ceil_seconds(ttl)))
            }
            Expiration::At(at) => {
                let now = self.clock.now();
                if at < now.saturating_add(min) {
                    return Err(too_soon(&format!("an expiration at {at} (now {now})")));
                }
                Ok((
                    true,
                    ceil_seconds(Duration::from_millis(at.as_unix_millis())),
                ))
            }
        }
    }
}

fn ceil_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Metadata as stored (a JSON string) back to the string written; metadata
/// written by other code as another JSON value reads as its JSON text.
fn metadata_of(value: Option<Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

#[async_trait(?Send)]
impl KvStore for WorkersKv {
    fn capability(&self) -> Capability {
        Self::capability_of()
    }

    async fn get(&self, key: &str) -> Result<Option<KvEntry>> {
        Self::check_key(key)?;
        let (value, metadata) = self
            .kv
            .get(key)
            .bytes_with_metadata::<Value>()
            .await
            .map_err(|e| runtime("KV get", e))?;
        Ok(value.map(|value| KvEntry {
            value: Bytes::from(value),
            metadata: metadata_of(metadata),
        }))
    }

    async fn put(&self, key: &str, value: Bytes, options: KvPutOptions) -> Result<()> {
        let cap = Self::capability_of();
        Self::check_key(key)?;
        cap.check_value(value.len())?;
        if let Some(metadata) = &options.metadata {
            cap.check_metadata(metadata.len())?;
            let json = serde_json::to_string(metadata).map_err(|e| runtime("KV metadata", e))?;
            if json.len() > KV_METADATA_JSON_BYTES {
                return Err(Error::TooLarge {
                    what: Limit::MetadataBytes,
                    size: json.len() as u64,
                    limit: KV_METADATA_JSON_BYTES as u64,
                });
            }
        }
        let expiration = options
            .expiration
            .map(|e| self.expiration_seconds(e))
            .transpose()?;
        let mut put = self
            .kv
            .put_bytes(key, &value)
            .map_err(|e| runtime("KV put", e))?;
        match expiration {
            Some((true, at)) => put = put.expiration(at),
            Some((false, ttl)) => put = put.expiration_ttl(ttl),
            None => {}
        }
        if let Some(metadata) = options.metadata {
            put = put.metadata(metadata).map_err(|e| runtime("KV put", e))?;
        }
        put.execute().await.map_err(|e| runtime("KV put", e))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        Self::check_key(key)?;
        self.kv
            .delete(key)
            .await
            .map_err(|e| runtime("KV delete", e))
    }

    async fn list(&self, options: KvListOptions) -> Result<KvListPage> {
        let cap = Self::capability_of();
        let limit = options.limit.unwrap_or(cap.max_list_limit);
        cap.check_list_limit(limit)?;
        let mut list = self.kv.list().limit(limit as u64);
        if !options.prefix.is_empty() {
            list = list.prefix(options.prefix);
        }
        if let Some(c) = &options.cursor {
            list = list.cursor(cursor::decode(c)?.to_owned());
        }
        let page = list.execute().await.map_err(|e| runtime("KV list", e))?;
        let keys = page
            .keys
            .into_iter()
            .map(|key| KvKey {
                name: key.name,
                expiration: key
                    .expiration
                    .map(|s| Timestamp::from_unix_millis(s.saturating_mul(1000))),
                metadata: metadata_of(key.metadata),
            })
            .collect();
        let next = match page.cursor {
            Some(c) if !page.list_complete && !c.is_empty() => Some(cursor::encode(&c)),
            _ => None,
        };
        Ok(KvListPage::new(keys, next))
    }
}
