//! [`ObjectStore`] on an R2 bucket.

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use glinto_storage::{
    Capability, ETag, Error, GetRange, Object, ObjectListOptions, ObjectListPage, ObjectMeta,
    ObjectStore, PutMode, Result, Timestamp,
};
use worker::{Bucket, Conditional};

use crate::cursor;
use crate::error::runtime;

/// An R2 bucket as an [`ObjectStore`].
///
/// `put` is R2's `put` with `onlyIf` for the conditional modes:
/// [`PutMode::Create`] sends `etagDoesNotMatch: "*"` (no object may exist),
/// [`PutMode::IfMatch`] sends `etagMatches: <etag>`; R2 evaluates the
/// condition atomically with the write and answers `null` when it fails,
/// which becomes `AlreadyExists` / `PreconditionFailed`. Ranged `get`s send
/// R2's `range` (`offset`/`length`/`suffix`); the served range is checked
/// against the object's size, so an unsatisfiable range is `InvalidRange`
/// whatever the runtime does with it. The etag is R2's `etag` (the MD5 of
/// the body for single-part uploads), `uploaded` its upload time. List
/// cursors are R2's, tagged.
#[derive(Clone, Debug)]
pub struct R2Store {
    bucket: Bucket,
}

impl R2Store {
    /// The store on an R2 binding.
    pub fn new(bucket: Bucket) -> Self {
        R2Store { bucket }
    }

    /// The store on the R2 binding named `binding` in `env`.
    ///
    /// # Errors
    /// The runtime's error when there is no such R2 binding.
    pub fn from_env(env: &worker::Env, binding: &str) -> worker::Result<Self> {
        Ok(Self::new(env.bucket(binding)?))
    }

    /// What R2 supports and enforces
    /// (<https://developers.cloudflare.com/r2/platform/limits/>,
    /// <https://developers.cloudflare.com/r2/api/workers/workers-api-reference/>):
    /// the [`Capability::r2`] preset — strongly consistent, conditional
    /// writes, keys ≤ 1024 bytes, single puts ≤ 5 GiB − 5 MiB (larger
    /// objects need multipart uploads, which this store does not offer),
    /// list pages ≤ 1000 with delimiters, ranged reads, one write per key
    /// per second.
    pub fn capability_of() -> Capability {
        Capability::r2()
    }
}

fn meta_of(object: &worker::Object) -> ObjectMeta {
    ObjectMeta::new(
        object.key(),
        object.size(),
        ETag::new(object.etag()),
        Timestamp::from_unix_millis(object.uploaded().as_millis()),
    )
}

/// R2's `range` option for a non-empty `range` (empty ones are answered
/// from `head`).
fn r2_range(range: &GetRange) -> Option<worker::Range> {
    match range {
        GetRange::Bounded(r) if r.end > r.start => Some(worker::Range::OffsetWithLength {
            offset: r.start,
            length: r.end - r.start,
        }),
        GetRange::Offset(offset) => Some(worker::Range::OffsetToEnd { offset: *offset }),
        GetRange::Suffix(n) if *n > 0 => Some(worker::Range::Suffix { suffix: *n }),
        GetRange::Bounded(_) | GetRange::Suffix(_) => None,
    }
}

impl R2Store {
    /// Reads `range` (already resolved against the object's size) of `key`.
    async fn read(
        &self,
        key: &str,
        range: Option<worker::Range>,
    ) -> Result<Option<worker::Object>> {
        let mut get = self.bucket.get(key);
        if let Some(range) = range {
            get = get.range(range);
        }
        get.execute().await.map_err(|e| runtime("R2 get", e))
    }

    /// The object's bytes as read, checked against `expected` bytes.
    async fn body_of(object: &worker::Object, key: &str, expected: &Range<u64>) -> Result<Bytes> {
        let body = match object.body() {
            Some(body) => body.bytes().await.map_err(|e| runtime("R2 get body", e))?,
            None => Vec::new(),
        };
        if body.len() as u64 != expected.end - expected.start {
            return Err(Error::permanent(format!(
                "R2 returned {} bytes of {key:?} for bytes {}..{}",
                body.len(),
                expected.start,
                expected.end
            )));
        }
        Ok(Bytes::from(body))
    }
}

#[async_trait(?Send)]
impl ObjectStore for R2Store {
    fn capability(&self) -> Capability {
        Self::capability_of()
    }

    async fn put(&self, key: &str, body: Bytes, mode: PutMode) -> Result<ObjectMeta> {
        let cap = Self::capability_of();
        cap.check_key(key)?;
        cap.check_value(body.len())?;
        let mut put = self.bucket.put(key, body.to_vec());
        match &mode {
            PutMode::Overwrite => {}
            PutMode::Create => {
                put = put.only_if(Conditional {
                    etag_does_not_match: Some("*".to_owned()),
                    ..Conditional::default()
                });
            }
            PutMode::IfMatch(etag) => {
                put = put.only_if(Conditional {
                    etag_matches: Some(etag.as_str().to_owned()),
                    ..Conditional::default()
                });
            }
        }
        match put.execute().await.map_err(|e| runtime("R2 put", e))? {
            Some(object) => Ok(meta_of(&object)),
            None => match mode {
                PutMode::Create => Err(Error::AlreadyExists {
                    key: key.to_owned(),
                }),
                PutMode::IfMatch(etag) => Err(Error::PreconditionFailed {
                    key: key.to_owned(),
                    expected: etag.as_str().to_owned(),
                }),
                PutMode::Overwrite => Err(Error::permanent(format!(
                    "R2 put of {key:?} without a condition returned no object"
                ))),
            },
        }
    }

    async fn get(&self, key: &str, range: Option<GetRange>) -> Result<Option<Object>> {
        Self::capability_of().check_key(key)?;
        let Some(range) = range else {
            let Some(object) = self.read(key, None).await? else {
                return Ok(None);
            };
            let meta = meta_of(&object);
            let whole = 0..meta.size;
            let body = Self::body_of(&object, key, &whole).await?;
            return Ok(Some(Object::new(meta, whole, body)));
        };
        // An inverted range is the caller's mistake whatever the object.
        range.resolve(key, u64::MAX)?;
        let served = match r2_range(&range) {
            Some(r2) => self.read(key, Some(r2)).await,
            None => Err(Error::permanent("empty range")),
        };
        let object = match served {
            Ok(None) => return Ok(None),
            Ok(Some(object)) => object,
            // An empty range, or one the runtime refused (past the end):
            // the object's size decides what the contract answers.
            Err(error) => {
                let Some(head) = self.head(key).await? else {
                    return Ok(None);
                };
                let resolved = range.resolve(key, head.size)?;
                if resolved.is_empty() {
                    return Ok(Some(Object::new(head, resolved, Bytes::new())));
                }
                let exact = worker::Range::OffsetWithLength {
                    offset: resolved.start,
                    length: resolved.end - resolved.start,
                };
                match self.read(key, Some(exact)).await {
                    Ok(Some(object)) => object,
                    Ok(None) => return Ok(None),
                    Err(_) => return Err(error),
                }
            }
        };
        let meta = meta_of(&object);
        let resolved = range.resolve(key, meta.size)?;
        let body = Self::body_of(&object, key, &resolved).await?;
        Ok(Some(Object::new(meta, resolved, body)))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        Self::capability_of().check_key(key)?;
        let object = self
            .bucket
            .head(key)
            .await
            .map_err(|e| runtime("R2 head", e))?;
        Ok(object.as_ref().map(meta_of))
    }

    async fn list(&self, options: ObjectListOptions) -> Result<ObjectListPage> {
        let cap = Self::capability_of();
        let limit = options.limit.unwrap_or(cap.max_list_limit);
        cap.check_list_limit(limit)?;
        let mut list = self.bucket.list().limit(limit as u32);
        if !options.prefix.is_empty() {
            list = list.prefix(options.prefix);
        }
        if let Some(delimiter) = options.delimiter {
            list = list.delimiter(delimiter.to_string());
        }
        if let Some(c) = &options.cursor {
            list = list.cursor(cursor::decode(c)?);
        }
        let page = list.execute().await.map_err(|e| runtime("R2 list", e))?;
        let objects = page.objects().iter().map(meta_of).collect();
        let next = match page.cursor() {
            Some(c) if page.truncated() && !c.is_empty() => Some(cursor::encode(&c)),
            _ => None,
        };
        Ok(ObjectListPage::new(
            objects,
            page.delimited_prefixes(),
            next,
        ))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        Self::capability_of().check_key(key)?;
        self.bucket
            .delete(key)
            .await
            .map_err(|e| runtime("R2 delete", e))
    }
}
