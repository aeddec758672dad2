//! [`LocalObjects`]: an [`ObjectStore`] in the data directory's redb file.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use glinto_storage::{
    Capability, ETag, Error, GetRange, Object, ObjectListOptions, ObjectListPage, ObjectMeta,
    ObjectStore, PutMode, Result, Timestamp, async_trait,
};
use md5::{Digest, Md5};

use crate::cursor::Resume;
use crate::engine::{Fault, Listed, NewObject, ObjectInfo, ObjectTables, PutCondition, successor};
use crate::error::{backend, list_limit, utf8};
use crate::store::Shared;

/// Bytes of body per stored chunk. redb allocates pages in power-of-two runs, so a chunk plus
/// its record header and B-tree leaf overhead is kept just under 64 KiB: 16 whole 4 KiB pages.
pub(crate) const CHUNK_BYTES: u32 = 64 * 1024 - 256;

/// Largest object one `put` accepts: 1 GiB (lower it with
/// [`LocalOptions::max_object_bytes`](crate::LocalOptions::max_object_bytes)). The body arrives whole in memory and is written in
/// one transaction; larger archives belong in R2.
pub const MAX_OBJECT_BYTES: u64 = 1024 * 1024 * 1024;

/// One R2-shaped bucket of a [`crate::LocalStore`].
///
/// A body is stored in chunks of just under 64 KiB next to a metadata record, all written in
/// one redb write transaction (fsynced before `put` returns), so readers see the old object or
/// the new one, never a mix, and a crash leaves one of the two. `Create` and `IfMatch` compare
/// and write inside that transaction: the check and the write are one atomic step. Ranged reads
/// load only the chunks they cover. The etag is the hex MD5 of the body, as R2's is for a
/// single-part upload, so an object copied between the two keeps its etag.
///
/// Like [`crate::LocalKv`], the redb calls run inline in the calling task.
#[derive(Debug, Clone)]
pub struct LocalObjects {
    shared: Arc<Shared>,
    tables: ObjectTables,
}

impl LocalObjects {
    pub(crate) fn new(shared: Arc<Shared>, tables: ObjectTables) -> Self {
        Self { shared, tables }
    }

    fn meta(&self, info: ObjectInfo) -> Result<ObjectMeta> {
        let table = self.tables.meta();
        let key = utf8(table, "key", info.key)?;
        let etag = utf8(table, "etag", info.etag)?;
        Ok(ObjectMeta::new(
            key,
            info.size,
            ETag::new(etag),
            Timestamp::from_unix_millis(info.uploaded_ms),
        ))
    }
}

/// The local object capability: R2's semantics and key limits, a body limit of at most 1 GiB,
/// no per-key write rate limit.
pub(crate) fn capability(max_object_bytes: u64) -> Capability {
    let mut c = Capability::r2();
    c.backend = "local";
    c.max_value_bytes = max_object_bytes;
    c.max_writes_per_key_per_second = None;
    c
}

/// The etag of `body`: lowercase hex MD5.
pub(crate) fn etag_of(body: &[u8]) -> String {
    Md5::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl ObjectStore for LocalObjects {
    fn capability(&self) -> Capability {
        capability(self.shared.max_object_bytes)
    }

    async fn put(&self, key: &str, body: Bytes, mode: PutMode) -> Result<ObjectMeta> {
        let cap = self.capability();
        cap.check_key(key)?;
        cap.check_value(body.len())?;
        let etag = etag_of(&body);
        let condition = match &mode {
            PutMode::Overwrite => PutCondition::Overwrite,
            PutMode::Create => PutCondition::Create,
            PutMode::IfMatch(expected) => PutCondition::IfMatch(expected.as_str().as_bytes()),
        };
        let now = self.shared.now().as_unix_millis();
        let written = self
            .shared
            .engine
            .object_put(
                &self.tables,
                &NewObject {
                    key: key.as_bytes(),
                    body: &body,
                    etag: etag.as_bytes(),
                    metadata: None,
                    condition,
                    chunk_size: CHUNK_BYTES,
                    now_ms: now,
                },
            )
            .map_err(|fault| match (fault, &mode) {
                (Fault::AlreadyExists, _) => Error::AlreadyExists {
                    key: key.to_owned(),
                },
                (Fault::EtagMismatch, PutMode::IfMatch(expected)) => Error::PreconditionFailed {
                    key: key.to_owned(),
                    expected: expected.to_string(),
                },
                (fault, _) => backend(fault),
            })?;
        self.meta(written)
    }

    async fn get(&self, key: &str, range: Option<GetRange>) -> Result<Option<Object>> {
        self.capability().check_key(key)?;
        let found = self
            .shared
            .engine
            .object_get(&self.tables, key.as_bytes(), |size| match &range {
                None => Ok((0, size)),
                Some(range) => range
                    .resolve(key, size)
                    .map(|r| (r.start, r.end))
                    .map_err(Fault::Rejected),
            })
            .map_err(backend)?;
        let Some((info, body)) = found else {
            return Ok(None);
        };
        let meta = self.meta(info)?;
        let start = match &range {
            None => 0,
            Some(range) => range.resolve(key, meta.size)?.start,
        };
        let end = start.saturating_add(u64::try_from(body.len()).unwrap_or(u64::MAX));
        Ok(Some(Object::new(meta, start..end, Bytes::from(body))))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        self.capability().check_key(key)?;
        let info = self
            .shared
            .engine
            .object_head(&self.tables, key.as_bytes())
            .map_err(backend)?;
        info.map(|i| self.meta(i)).transpose()
    }

    async fn list(&self, options: ObjectListOptions) -> Result<ObjectListPage> {
        let limit = list_limit(&self.capability(), options.limit)?;
        let resume = options.cursor.as_deref().map(Resume::decode).transpose()?;
        let start = resume.as_ref().map_or(Bound::Unbounded, Resume::bound);
        let mut delimiter = [0u8; 4];
        let delimiter = options
            .delimiter
            .map(|d| d.encode_utf8(&mut delimiter).as_bytes());
        let (listed, more) = self
            .shared
            .engine
            .object_list(
                &self.tables,
                options.prefix.as_bytes(),
                start,
                delimiter,
                limit,
            )
            .map_err(backend)?;
        let cursor = match (more, listed.last()) {
            (true, Some(Listed::Object(info))) => Some(Resume::After(info.key.clone()).encode()),
            (true, Some(Listed::Prefix(prefix))) => Some(Resume::From(successor(prefix)).encode()),
            _ => None,
        };
        let mut objects = Vec::new();
        let mut common_prefixes = Vec::new();
        for entry in listed {
            match entry {
                Listed::Object(info) => objects.push(self.meta(info)?),
                Listed::Prefix(prefix) => {
                    common_prefixes.push(utf8(self.tables.meta(), "key", prefix)?);
                }
            }
        }
        Ok(ObjectListPage::new(objects, common_prefixes, cursor))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.capability().check_key(key)?;
        self.shared
            .engine
            .object_delete(&self.tables, key.as_bytes())
            .map_err(backend)?;
        Ok(())
    }
}
