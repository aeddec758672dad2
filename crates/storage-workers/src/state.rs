//! [`StateStore`] on a SQLite-backed Durable Object's storage.

use std::collections::BTreeMap;
use std::ops::Bound;

use async_trait::async_trait;
use bytes::Bytes;
use glinto_storage::{
    Capability, Error, Result, StateListOptions, StateStore, Timestamp, WriteBatch, WriteOp,
};
use worker::js_sys::{ArrayBuffer, Object, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;

use crate::error::js;

/// A Durable Object's storage (its key-value API, on the SQLite backend) as
/// a [`StateStore`].
///
/// Values are stored as `Uint8Array`s (structured clone keeps them bytes).
/// A [`WriteBatch`] is reduced to the last operation per key and issued as
/// one `put(entries)` and one `delete(keys)` with no `await` between them:
/// the runtime coalesces writes issued without an intervening `await` into
/// one atomic commit, and each call is itself atomic
/// (<https://developers.cloudflare.com/durable-objects/api/storage-api/>).
/// Output gates hold the object's outgoing messages until the commit is
/// durable, so an acknowledgement sent after `write` returns never outruns it.
///
/// Build it from `state.storage()` inside the Durable Object; it is the one
/// writer of that storage.
#[derive(Debug)]
pub struct DurableObjectStore {
    storage: worker::Storage,
}

impl DurableObjectStore {
    /// The store on a Durable Object's storage.
    pub fn new(storage: worker::Storage) -> Self {
        DurableObjectStore { storage }
    }

    /// What a SQLite-backed Durable Object supports and enforces
    /// (<https://developers.cloudflare.com/durable-objects/platform/limits/>,
    /// <https://developers.cloudflare.com/durable-objects/api/storage-api/>):
    /// the [`Capability::durable_object_sqlite`] preset — strongly
    /// consistent, key and value together ≤ 2 MB, at most 128 keys per
    /// `get`/`put`/`delete` call (so per [`WriteBatch`] and `get_many`), one
    /// alarm.
    pub fn capability_of() -> Capability {
        Capability::durable_object_sqlite()
    }

    fn raw(&self) -> &worker::worker_sys::DurableObjectStorage {
        self.storage.as_raw()
    }
}

/// A stored value back to bytes.
fn bytes_of(key: &str, value: &JsValue) -> Result<Bytes> {
    if let Some(array) = value.dyn_ref::<Uint8Array>() {
        return Ok(Bytes::from(array.to_vec()));
    }
    if let Some(buffer) = value.dyn_ref::<ArrayBuffer>() {
        return Ok(Bytes::from(Uint8Array::new(buffer).to_vec()));
    }
    Err(Error::permanent(format!(
        "Durable Object value of key {key:?} is not bytes (written by other code?)"
    )))
}

fn uint8_array(value: &[u8]) -> Uint8Array {
    let array = Uint8Array::new_with_length(value.len() as u32);
    array.copy_from(value);
    array
}

/// An object without a prototype, so that every key (even `__proto__`)
/// becomes an own property.
fn bare_object() -> Object {
    Object::create(JsValue::NULL.unchecked_ref())
}

fn set(object: &Object, key: &str, value: &JsValue) -> Result<()> {
    Reflect::set(object, &JsValue::from_str(key), value)
        .map(|_| ())
        .map_err(|e| js("Durable Object options", e))
}

async fn settle(operation: &str, promise: worker::js_sys::Promise) -> Result<JsValue> {
    JsFuture::from(promise).await.map_err(|e| js(operation, e))
}

#[async_trait(?Send)]
impl StateStore for DurableObjectStore {
    fn capability(&self) -> Capability {
        Self::capability_of()
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        Self::capability_of().check_key(key)?;
        let promise = self
            .raw()
            .get(key)
            .map_err(|e| js("Durable Object get", e))?;
        let value = settle("Durable Object get", promise).await?;
        if value.is_undefined() {
            return Ok(None);
        }
        bytes_of(key, &value).map(Some)
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let cap = Self::capability_of();
        cap.check_batch(keys.len())?;
        for key in keys {
            cap.check_key(key)?;
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let promise = self
            .raw()
            .get_multiple(keys.iter().map(|k| JsValue::from_str(k)).collect())
            .map_err(|e| js("Durable Object get", e))?;
        let found: worker::js_sys::Map = settle("Durable Object get", promise)
            .await?
            .dyn_into()
            .map_err(|_| Error::permanent("Durable Object get(keys) did not return a Map"))?;
        keys.iter()
            .map(|key| {
                let value = found.get(&JsValue::from_str(key));
                if value.is_undefined() {
                    Ok(None)
                } else {
                    bytes_of(key, &value).map(Some)
                }
            })
            .collect()
    }

    async fn write(&self, batch: WriteBatch) -> Result<()> {
        batch.validate(&Self::capability_of())?;
        if batch.is_empty() {
            return Ok(());
        }
        // The last operation on each key is the one that counts.
        let mut last: BTreeMap<String, Option<Bytes>> = BTreeMap::new();
        for op in batch.into_ops() {
            match op {
                WriteOp::Put(key, value) => last.insert(key, Some(value)),
                WriteOp::Delete(key) => last.insert(key, None),
            };
        }
        let puts = bare_object();
        let mut any_put = false;
        let mut deletes = Vec::new();
        for (key, value) in &last {
            match value {
                Some(value) => {
                    set(&puts, key, &uint8_array(value))?;
                    any_put = true;
                }
                None => deletes.push(JsValue::from_str(key)),
            }
        }
        // Both calls are issued before either is awaited: one coalesced,
        // atomic commit.
        let put = if any_put {
            Some(
                self.raw()
                    .put_multiple(puts.into())
                    .map_err(|e| js("Durable Object put", e))?,
            )
        } else {
            None
        };
        let delete = if deletes.is_empty() {
            None
        } else {
            Some(
                self.raw()
                    .delete_multiple(deletes)
                    .map_err(|e| js("Durable Object delete", e))?,
            )
        };
        if let Some(put) = put {
            settle("Durable Object put", put).await?;
        }
        if let Some(delete) = delete {
            settle("Durable Object delete", delete).await?;
        }
        Ok(())
    }

    async fn list(&self, options: StateListOptions) -> Result<Vec<(String, Bytes)>> {
        if let Some(limit) = options.limit {
            Self::capability_of().check_list_limit(limit)?;
        }
        // The runtime takes an inclusive `start` and an exclusive `end`; the
        // next string after `k` in byte order is `k` followed by NUL, which
        // turns the other bound kinds into these exactly.
        let start = match options.start {
            Bound::Included(s) => Some(s),
            Bound::Excluded(s) => Some(format!("{s}\u{0}")),
            Bound::Unbounded => None,
        };
        let end = match options.end {
            Bound::Included(e) => Some(format!("{e}\u{0}")),
            Bound::Excluded(e) => Some(e),
            Bound::Unbounded => None,
        };
        if let (Some(s), Some(e)) = (&start, &end)
            && s >= e
        {
            return Ok(Vec::new());
        }
        let js_options = Object::new();
        if !options.prefix.is_empty() {
            set(&js_options, "prefix", &JsValue::from_str(&options.prefix))?;
        }
        if let Some(s) = &start {
            set(&js_options, "start", &JsValue::from_str(s))?;
        }
        if let Some(e) = &end {
            set(&js_options, "end", &JsValue::from_str(e))?;
        }
        if options.reverse {
            set(&js_options, "reverse", &JsValue::TRUE)?;
        }
        if let Some(limit) = options.limit {
            set(&js_options, "limit", &JsValue::from_f64(limit as f64))?;
        }
        let promise = self
            .raw()
            .list_with_options(js_options)
            .map_err(|e| js("Durable Object list", e))?;
        let map: worker::js_sys::Map = settle("Durable Object list", promise)
            .await?
            .dyn_into()
            .map_err(|_| Error::permanent("Durable Object list did not return a Map"))?;
        let mut entries = Vec::with_capacity(map.size() as usize);
        let mut failure = None;
        map.for_each(&mut |value, key| {
            if failure.is_some() {
                return;
            }
            let Some(key) = key.as_string() else {
                failure = Some(Error::permanent(
                    "Durable Object list returned a non-string key",
                ));
                return;
            };
            match bytes_of(&key, &value) {
                Ok(bytes) => entries.push((key, bytes)),
                Err(e) => failure = Some(e),
            }
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(entries),
        }
    }

    async fn get_alarm(&self) -> Result<Option<Timestamp>> {
        let promise = self
            .raw()
            .get_alarm(Object::new())
            .map_err(|e| js("Durable Object getAlarm", e))?;
        let value = settle("Durable Object getAlarm", promise).await?;
        Ok(value
            .as_f64()
            .map(|ms| Timestamp::from_unix_millis(ms.max(0.0) as u64)))
    }

    async fn set_alarm(&self, at: Timestamp) -> Result<()> {
        let date = worker::js_sys::Date::new(&JsValue::from_f64(at.as_unix_millis() as f64));
        let promise = self
            .raw()
            .set_alarm(date, Object::new())
            .map_err(|e| js("Durable Object setAlarm", e))?;
        settle("Durable Object setAlarm", promise).await.map(drop)
    }

    async fn delete_alarm(&self) -> Result<()> {
        let promise = self
            .raw()
            .delete_alarm(Object::new())
            .map_err(|e| js("Durable Object deleteAlarm", e))?;
        settle("Durable Object deleteAlarm", promise)
            .await
            .map(drop)
    }
}
