//! [`ObjectStore`]: the shape of R2.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::capability::Capability;
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::{MaybeSend, MaybeSync};

/// An entity tag: identifies the content of one write of an object.
///
/// Opaque: compare for equality, never parse. Two writes of different bytes
/// never share an etag; two writes of identical bytes may (R2's etag is the
/// MD5 of the body) or may not (the in-memory store counts writes).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ETag(String);

impl ETag {
    /// An etag with this text.
    pub fn new(tag: impl Into<String>) -> Self {
        ETag(tag.into())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How [`ObjectStore::put`] treats an existing object: the basis of
/// idempotent archive writes and compare-and-swap of rollups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PutMode {
    /// Write unconditionally, replacing any object (last writer wins).
    #[default]
    Overwrite,
    /// Write only if no object exists under the key; else
    /// [`Error::AlreadyExists`]. Of many concurrent `Create`s of one key,
    /// exactly one succeeds.
    Create,
    /// Write only if the object exists with this etag; else
    /// [`Error::PreconditionFailed`]. Of many concurrent `IfMatch` writes
    /// with the same etag, at most one succeeds.
    IfMatch(ETag),
}

/// Which bytes of an object to read (R2 `range`: offset/length/suffix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GetRange {
    /// `start..end`. `start > end` is invalid; `start ≥ size` is not
    /// satisfiable; an `end` past the object's end is clamped to it.
    Bounded(Range<u64>),
    /// From this offset to the end; an offset `≥ size` is not satisfiable.
    Offset(u64),
    /// The last `n` bytes (the whole object if it is shorter).
    Suffix(u64),
}

impl GetRange {
    /// The byte range this selects in an object of `size` bytes.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `start > end`,
    /// [`Error::InvalidRange`] when the range starts at or past the end.
    pub fn resolve(&self, key: &str, size: u64) -> Result<Range<u64>> {
        let unsatisfiable = || Error::InvalidRange {
            key: key.to_owned(),
            range: self.to_string(),
            size,
        };
        match self {
            GetRange::Bounded(r) if r.start > r.end => Err(Error::InvalidArgument {
                field: "range",
                reason: format!("start {} is after end {}", r.start, r.end),
            }),
            GetRange::Bounded(r) if r.start >= size => Err(unsatisfiable()),
            GetRange::Bounded(r) => Ok(r.start..r.end.min(size)),
            GetRange::Offset(o) if *o >= size => Err(unsatisfiable()),
            GetRange::Offset(o) => Ok(*o..size),
            GetRange::Suffix(n) => Ok(size.saturating_sub(*n)..size),
        }
    }
}

impl fmt::Display for GetRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetRange::Bounded(r) => write!(f, "{}..{}", r.start, r.end),
            GetRange::Offset(o) => write!(f, "{o}.."),
            GetRange::Suffix(n) => write!(f, "last {n} bytes"),
        }
    }
}

/// What [`ObjectStore::head`] and `list` know about an object.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectMeta {
    /// The key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The etag of the current content.
    pub etag: ETag,
    /// When the current content was written (by the store's clock).
    pub uploaded: Timestamp,
}

impl ObjectMeta {
    /// Metadata of an object.
    pub fn new(key: impl Into<String>, size: u64, etag: ETag, uploaded: Timestamp) -> Self {
        ObjectMeta {
            key: key.into(),
            size,
            etag,
            uploaded,
        }
    }
}

/// An object read by [`ObjectStore::get`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Object {
    /// The whole object's metadata (its `size` is the full size).
    pub meta: ObjectMeta,
    /// Which bytes `body` holds.
    pub range: Range<u64>,
    /// The bytes of `range`.
    pub body: Bytes,
}

impl Object {
    /// An object read.
    pub fn new(meta: ObjectMeta, range: Range<u64>, body: Bytes) -> Self {
        Object { meta, range, body }
    }
}

/// Options of [`ObjectStore::list`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectListOptions {
    /// Only keys starting with this prefix.
    pub prefix: String,
    /// Group keys that contain this character after the prefix into
    /// [`ObjectListPage::common_prefixes`] (R2 `delimiter`, typically `/`).
    pub delimiter: Option<char>,
    /// Continue after the page that returned this cursor.
    pub cursor: Option<String>,
    /// At most this many objects plus common prefixes per page.
    pub limit: Option<usize>,
}

impl ObjectListOptions {
    /// Objects whose keys start with `prefix`.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        ObjectListOptions {
            prefix: prefix.into(),
            ..Self::default()
        }
    }

    /// Group by `delimiter`.
    pub fn delimiter(mut self, delimiter: char) -> Self {
        self.delimiter = Some(delimiter);
        self
    }

    /// Continue from `cursor`.
    pub fn cursor(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }

    /// At most `limit` entries per page.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// One page of [`ObjectStore::list`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectListPage {
    /// Objects, in ascending byte order of their keys.
    pub objects: Vec<ObjectMeta>,
    /// With a delimiter: the distinct `prefix + … + delimiter` groups, in
    /// ascending order, each once across all pages.
    pub common_prefixes: Vec<String>,
    /// `Some`: more may follow; `None`: the listing is complete.
    pub cursor: Option<String>,
}

impl ObjectListPage {
    /// A page.
    pub fn new(
        objects: Vec<ObjectMeta>,
        common_prefixes: Vec<String>,
        cursor: Option<String>,
    ) -> Self {
        ObjectListPage {
            objects,
            common_prefixes,
            cursor,
        }
    }
}

/// An R2-shaped object store.
///
/// # Contract
///
/// - **Consistency.** Strongly consistent: once a `put` or `delete` is
///   acknowledged, every `get`, `head` and `list` anywhere sees it.
/// - **Atomicity.** A `put` replaces the whole object atomically: readers see
///   the old object or the new one, never a prefix. [`PutMode::Create`] and
///   [`PutMode::IfMatch`] are atomic compare-and-swap operations
///   ([`Capability::conditional_writes`]): of racing conditional writes
///   exactly one `Create` (and at most one `IfMatch` per etag) wins. The
///   returned [`ObjectMeta`] is that of the object written.
/// - **Reads.** `get` returns the bytes of the requested [`GetRange`] (whole
///   object by default) of one version of the object, with that version's
///   metadata; `head` the metadata alone. Absent objects are `Ok(None)`.
/// - **Listing.** Objects in ascending byte order of their keys; following
///   the cursor to `None` visits every object that existed, unchanged, for
///   the whole listing exactly once. With a delimiter, keys containing it
///   after the prefix are reported once as a common prefix instead. A page
///   may hold fewer than `limit` entries while the cursor is `Some`.
/// - **Limits.** Keys 1..=[`Capability::max_key_bytes`] bytes (R2: 1024);
///   one put ≤ [`Capability::max_value_bytes`] (R2: 5 GiB − 5 MiB; larger
///   objects need multipart upload, which this trait does not offer); list
///   limit ≤ [`Capability::max_list_limit`] (R2: 1000).
/// - **Deletes** are idempotent.
/// - **Failure.** A failed `put` leaves the previous object (or none) in
///   place; after [`Error::Transient`] the write may have landed — retrying a
///   `Create` then reports [`Error::AlreadyExists`], so callers that need
///   idempotence compare the existing object with what they meant to write.
///
/// # Errors
///
/// [`Error::AlreadyExists`] (`Create` over an existing object),
/// [`Error::PreconditionFailed`] (`IfMatch` on an absent object or a
/// different etag), [`Error::InvalidKey`], [`Error::TooLarge`],
/// [`Error::InvalidRange`] / [`Error::InvalidArgument`] (ranges, cursors,
/// limits), [`Error::NotSupported`], [`Error::Transient`],
/// [`Error::Permanent`].
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait ObjectStore: MaybeSend + MaybeSync + std::fmt::Debug {
    /// What this store supports and enforces.
    fn capability(&self) -> Capability;

    /// Writes `body` under `key` according to `mode`.
    async fn put(&self, key: &str, body: Bytes, mode: PutMode) -> Result<ObjectMeta>;

    /// The object (or the `range` of it), or `None` if absent.
    async fn get(&self, key: &str, range: Option<GetRange>) -> Result<Option<Object>>;

    /// The object's metadata, or `None` if absent.
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>>;

    /// One page of the objects under `options.prefix`.
    async fn list(&self, options: ObjectListOptions) -> Result<ObjectListPage>;

    /// Removes `key`; succeeds if it is absent.
    async fn delete(&self, key: &str) -> Result<()>;
}

macro_rules! forward_object {
    ($($ty:ty),*) => {$(
        #[cfg_attr(not(target_arch = "wasm32"), async_trait)]
        #[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
        impl<S: ObjectStore + ?Sized> ObjectStore for $ty {
            fn capability(&self) -> Capability {
                (**self).capability()
            }
            async fn put(&self, key: &str, body: Bytes, mode: PutMode) -> Result<ObjectMeta> {
                (**self).put(key, body, mode).await
            }
            async fn get(&self, key: &str, range: Option<GetRange>) -> Result<Option<Object>> {
                (**self).get(key, range).await
            }
            async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
                (**self).head(key).await
            }
            async fn list(&self, options: ObjectListOptions) -> Result<ObjectListPage> {
                (**self).list(options).await
            }
            async fn delete(&self, key: &str) -> Result<()> {
                (**self).delete(key).await
            }
        }
    )*};
}

forward_object!(Box<S>, Arc<S>, &S);

/// Conveniences over any [`ObjectStore`]; implemented for every store.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait ObjectStoreExt: ObjectStore {
    /// The whole object's bytes, or [`Error::NotFound`].
    async fn get_required(&self, key: &str) -> Result<Bytes> {
        match self.get(key, None).await? {
            Some(object) => Ok(object.body),
            None => Err(Error::NotFound {
                key: key.to_owned(),
            }),
        }
    }

    /// Every object and common prefix under `prefix`, following cursors.
    async fn list_all(&self, options: ObjectListOptions) -> Result<ObjectListPage> {
        let mut all = ObjectListPage::default();
        let mut options = options;
        loop {
            let page = self.list(options.clone()).await?;
            all.objects.extend(page.objects);
            all.common_prefixes.extend(page.common_prefixes);
            match page.cursor {
                Some(next) => options.cursor = Some(next),
                None => return Ok(all),
            }
        }
    }
}

impl<S: ObjectStore + ?Sized> ObjectStoreExt for S {}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(range: GetRange, size: u64, expected: &str) {
        let got = match range.resolve("k", size) {
            Ok(r) => format!("{}..{}", r.start, r.end),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected, "{range} of {size}");
    }

    #[test]
    fn ranges_resolve_like_http() {
        check(GetRange::Bounded(0..4), 10, "0..4");
        check(GetRange::Bounded(8..20), 10, "8..10");
        check(GetRange::Bounded(3..3), 10, "3..3");
        check(
            GetRange::Bounded(10..12),
            10,
            "range 10..12 not satisfiable for key \"k\" of 10 bytes",
        );
        check(
            GetRange::Bounded(Range { start: 5, end: 2 }),
            10,
            "invalid range: start 5 is after end 2",
        );
        check(GetRange::Offset(9), 10, "9..10");
        check(
            GetRange::Offset(10),
            10,
            "range 10.. not satisfiable for key \"k\" of 10 bytes",
        );
        check(GetRange::Suffix(3), 10, "7..10");
        check(GetRange::Suffix(30), 10, "0..10");
        check(GetRange::Suffix(0), 10, "10..10");
        check(
            GetRange::Bounded(0..1),
            0,
            "range 0..1 not satisfiable for key \"k\" of 0 bytes",
        );
    }
}
