//! [`MemoryObjects`]: an in-memory [`ObjectStore`].

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use glinto_storage::{
    Capability, Clock, ETag, Error, GetRange, Object, ObjectListOptions, ObjectListPage,
    ObjectMeta, ObjectStore, PutMode, Result,
};

use crate::{WriteRate, decode_cursor, encode_cursor, lock};

#[derive(Debug, Default)]
struct Inner {
    objects: BTreeMap<String, (ObjectMeta, Bytes)>,
    writes: u64,
}

/// An in-memory, deterministic [`ObjectStore`] with R2's semantics.
///
/// Etags count writes (`"0000000000000001"`, …), so every write, even of
/// identical bytes, gets a new etag — stricter than R2, whose etag is the
/// body's MD5. Its default value limit is 64 MiB rather than R2's 5 GiB (a
/// test store should not hold gigabytes); everything else is R2's.
#[derive(Debug)]
pub struct MemoryObjects {
    clock: Arc<dyn Clock>,
    capability: Capability,
    inner: Mutex<Inner>,
    rate: WriteRate,
}

impl MemoryObjects {
    /// A store with R2's limits, except single puts ≤ 64 MiB.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let mut capability = Capability::r2();
        capability.backend = "memory-objects";
        capability.max_value_bytes = 64 * 1024 * 1024;
        capability.max_writes_per_key_per_second = None;
        Self::with_capability(clock, capability)
    }

    /// A store enforcing `capability`'s limits; `conditional_writes: false`
    /// refuses `Create`/`IfMatch`, `list_delimiter: false` refuses
    /// delimiters, and `max_writes_per_key_per_second` is enforced by the
    /// clock (puts beyond it are `Transient`, like R2's HTTP 429).
    pub fn with_capability(clock: Arc<dyn Clock>, capability: Capability) -> Self {
        MemoryObjects {
            clock,
            capability,
            inner: Mutex::new(Inner::default()),
            rate: WriteRate::default(),
        }
    }

    /// The number of objects.
    pub fn len(&self) -> usize {
        lock(&self.inner).objects.len()
    }

    /// Whether the store holds no objects.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A cursor resumes after a key (`k`) or after every key of a common prefix
/// (`p`).
fn cursor_for(last: &str, is_prefix: bool) -> String {
    encode_cursor(&format!("{}{last}", if is_prefix { 'p' } else { 'k' }))
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl ObjectStore for MemoryObjects {
    fn capability(&self) -> Capability {
        self.capability
    }

    async fn put(&self, key: &str, body: Bytes, mode: PutMode) -> Result<ObjectMeta> {
        let cap = &self.capability;
        cap.check_key(key)?;
        cap.check_value(body.len())?;
        if !cap.conditional_writes && mode != PutMode::Overwrite {
            return Err(cap.not_supported("conditional put"));
        }
        self.rate.admit(cap, key, self.clock.now())?;
        let mut inner = lock(&self.inner);
        let current = inner.objects.get(key).map(|(meta, _)| &meta.etag);
        match (&mode, current) {
            (PutMode::Create, Some(_)) => {
                return Err(Error::AlreadyExists {
                    key: key.to_owned(),
                });
            }
            (PutMode::IfMatch(expected), current) if current != Some(expected) => {
                return Err(Error::PreconditionFailed {
                    key: key.to_owned(),
                    expected: expected.to_string(),
                });
            }
            _ => {}
        }
        inner.writes += 1;
        let meta = ObjectMeta::new(
            key,
            body.len() as u64,
            ETag::new(format!("{:016x}", inner.writes)),
            self.clock.now(),
        );
        inner.objects.insert(key.to_owned(), (meta.clone(), body));
        Ok(meta)
    }

    async fn get(&self, key: &str, range: Option<GetRange>) -> Result<Option<Object>> {
        self.capability.check_key(key)?;
        let Some((meta, body)) = lock(&self.inner).objects.get(key).cloned() else {
            return Ok(None);
        };
        let range = match range {
            Some(range) => range.resolve(key, meta.size)?,
            None => 0..meta.size,
        };
        let slice = usize::try_from(range.start).unwrap_or(usize::MAX)
            ..usize::try_from(range.end).unwrap_or(usize::MAX);
        // `resolve` keeps the range within the body; checked anyway so that
        // `slice` (zero-copy) cannot panic.
        if slice.start > slice.end || slice.end > body.len() {
            return Err(Error::permanent("resolved range outside the body"));
        }
        let part = body.slice(slice);
        Ok(Some(Object::new(meta, range, part)))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        self.capability.check_key(key)?;
        Ok(lock(&self.inner).objects.get(key).map(|(m, _)| m.clone()))
    }

    async fn list(&self, options: ObjectListOptions) -> Result<ObjectListPage> {
        let cap = &self.capability;
        let limit = options.limit.unwrap_or(cap.max_list_limit.min(1000));
        cap.check_list_limit(limit)?;
        if options.delimiter.is_some() && !cap.list_delimiter {
            return Err(cap.not_supported("list delimiter"));
        }
        let prefix = options.prefix.as_str();
        let (start, skip_prefix) = match &options.cursor {
            Some(cursor) => {
                let decoded = decode_cursor(cursor)?;
                match (decoded.get(..1), decoded.get(1..)) {
                    (Some("k"), Some(last)) => (Bound::Excluded(last.to_owned()), None),
                    (Some("p"), Some(group)) => {
                        (Bound::Excluded(group.to_owned()), Some(group.to_owned()))
                    }
                    _ => return Err(crate::bad_cursor()),
                }
            }
            None => (Bound::Included(prefix.to_owned()), None),
        };
        let inner = lock(&self.inner);
        let mut objects = Vec::new();
        let mut common_prefixes: Vec<String> = Vec::new();
        let mut last: Option<(String, bool)> = None;
        let mut more = false;
        for (key, (meta, _)) in inner
            .objects
            .range::<String, _>((start, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
        {
            if skip_prefix.as_deref().is_some_and(|g| key.starts_with(g)) {
                continue;
            }
            let group = options.delimiter.and_then(|d| {
                let rest = key.get(prefix.len()..)?;
                let at = rest.find(d)?;
                key.get(..prefix.len() + at + d.len_utf8())
            });
            if let (Some(group), Some((previous, true))) = (group, &last)
                && group == previous
            {
                continue;
            }
            if objects.len() + common_prefixes.len() == limit {
                more = true;
                break;
            }
            match group {
                Some(group) => {
                    common_prefixes.push(group.to_owned());
                    last = Some((group.to_owned(), true));
                }
                None => {
                    objects.push(meta.clone());
                    last = Some((key.clone(), false));
                }
            }
        }
        let cursor = match last {
            Some((last, is_prefix)) if more => Some(cursor_for(&last, is_prefix)),
            _ => None,
        };
        Ok(ObjectListPage::new(objects, common_prefixes, cursor))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.capability.check_key(key)?;
        lock(&self.inner).objects.remove(key);
        Ok(())
    }
}
