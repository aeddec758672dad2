//! The synchronous core: every operation of the three stores as one redb transaction over byte
//! keys. The trait implementations in `kv`, `state` and `object` only validate arguments, read
//! the clock and translate types; everything that must be atomic happens here, inside a single
//! read or write transaction.
//!
//! Tables (all `&[u8] -> &[u8]`, every value a checksummed record from [`crate::record`]):
//!
//! | table                 | key                               | value            |
//! |-----------------------|-----------------------------------|------------------|
//! | `meta`                | `layout`, `next-generation`       | layout, counter  |
//! | `kv/<ns>`             | the KV key                        | KV entry         |
//! | `kv-expiry/<ns>`      | `expires_at_ms BE ++ key`         | empty marker     |
//! | `state/<ns>`          | the state key                     | state entry      |
//! | `alarm`               | the state namespace               | alarm            |
//! | `obj/<bucket>`        | the object key                    | object metadata  |
//! | `obj-chunk/<bucket>`  | `generation BE ++ index BE`       | body chunk       |

use std::ops::Bound;

use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition,
    WriteTransaction,
};

use crate::record::{self, KvEntry, ObjectMeta, RecordError};

/// How many expired KV entries a write purges on its way, so that expiry costs each write a
/// bounded amount and a namespace that is written to never accumulates expired entries.
pub(crate) const PURGE_PER_WRITE: usize = 16;

/// Most bytes a ranged read reserves before it has read them: sizes come from the file, and a
/// damaged size must not become a huge allocation. Larger reads grow as chunks arrive.
const PREALLOCATE: u64 = 16 * 1024 * 1024;

/// Version of the table layout above, stored in `meta` under `layout`.
pub(crate) const LAYOUT_VERSION: u32 = 1;

const META: &str = "meta";
const ALARM: &str = "alarm";
const LAYOUT_KEY: &[u8] = b"layout";
const GENERATION_KEY: &[u8] = b"next-generation";

/// Key-value pairs read from a table, in order.
pub(crate) type Entries = Vec<(Vec<u8>, Vec<u8>)>;

type Def<'a> = TableDefinition<'a, &'static [u8], &'static [u8]>;

/// A failure inside the engine.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Fault {
    /// redb failed (I/O, corruption it detected, closed database).
    #[error("redb: {0}")]
    Redb(#[from] redb::Error),
    /// A record failed to decode: the file is damaged.
    #[error("table {table}: {error}")]
    Record {
        /// The table holding the record.
        table: String,
        /// What is wrong.
        error: RecordError,
    },
    /// A conditional object put found the key already present.
    #[error("object already exists")]
    AlreadyExists,
    /// A conditional object put found another etag (or no object).
    #[error("object etag does not match")]
    EtagMismatch,
    /// The file was written with a layout this version cannot read.
    #[error("layout version {found} (this build reads {supported})")]
    Layout {
        /// The version found.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The caller's request was refused once the stored state was known (an unsatisfiable
    /// range); passed through unchanged.
    #[error("{0}")]
    Rejected(glinto_storage::Error),
    /// A counter ran out (2^64 object writes).
    #[error("{0} exhausted")]
    Exhausted(&'static str),
}

macro_rules! redb_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Fault {
            fn from(e: $t) -> Self {
                Fault::Redb(e.into())
            }
        }
    )*};
}
redb_from!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

fn corrupt(table: &str) -> impl FnOnce(RecordError) -> Fault + '_ {
    move |error| Fault::Record {
        table: table.to_owned(),
        error,
    }
}

/// The tables of one KV namespace.
#[derive(Debug, Clone)]
pub(crate) struct KvTables {
    entries: String,
    expiry: String,
}

impl KvTables {
    pub(crate) fn new(namespace: &str) -> Self {
        Self {
            entries: format!("kv/{namespace}"),
            expiry: format!("kv-expiry/{namespace}"),
        }
    }

    pub(crate) fn names(&self) -> [&str; 2] {
        [&self.entries, &self.expiry]
    }

    pub(crate) fn entries(&self) -> &str {
        &self.entries
    }
}

/// The tables of one object bucket.
#[derive(Debug, Clone)]
pub(crate) struct ObjectTables {
    meta: String,
    chunks: String,
}

impl ObjectTables {
    pub(crate) fn new(bucket: &str) -> Self {
        Self {
            meta: format!("obj/{bucket}"),
            chunks: format!("obj-chunk/{bucket}"),
        }
    }

    pub(crate) fn names(&self) -> [&str; 2] {
        [&self.meta, &self.chunks]
    }

    pub(crate) fn meta(&self) -> &str {
        &self.meta
    }
}

/// The table of one state namespace, and the namespace itself (the alarm key).
#[derive(Debug, Clone)]
pub(crate) struct StateTables {
    entries: String,
    namespace: String,
}

impl StateTables {
    pub(crate) fn new(namespace: &str) -> Self {
        Self {
            entries: format!("state/{namespace}"),
            namespace: namespace.to_owned(),
        }
    }

    pub(crate) fn names(&self) -> [&str; 1] {
        [&self.entries]
    }

    pub(crate) fn entries(&self) -> &str {
        &self.entries
    }
}

/// A KV value as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KvValue {
    pub(crate) value: Vec<u8>,
    pub(crate) metadata: Option<Vec<u8>>,
    pub(crate) expires_at_ms: Option<u64>,
}

/// A KV listing entry (no value, as in Workers KV).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KvListed {
    pub(crate) key: Vec<u8>,
    pub(crate) metadata: Option<Vec<u8>>,
    pub(crate) expires_at_ms: Option<u64>,
}

/// An object's metadata as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectInfo {
    pub(crate) key: Vec<u8>,
    pub(crate) size: u64,
    pub(crate) uploaded_ms: u64,
    pub(crate) etag: Vec<u8>,
    pub(crate) metadata: Option<Vec<u8>>,
}

/// One entry of an object listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Listed {
    Object(ObjectInfo),
    Prefix(Vec<u8>),
}

/// What [`Engine::object_put`] writes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewObject<'a> {
    pub(crate) key: &'a [u8],
    pub(crate) body: &'a [u8],
    pub(crate) etag: &'a [u8],
    pub(crate) metadata: Option<&'a [u8]>,
    pub(crate) condition: PutCondition<'a>,
    pub(crate) chunk_size: u32,
    pub(crate) now_ms: u64,
}

/// The condition of an object put.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PutCondition<'a> {
    Overwrite,
    Create,
    IfMatch(&'a [u8]),
}

/// One write of a state batch.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StateOp<'a> {
    Put(&'a [u8], &'a [u8]),
    Delete(&'a [u8]),
}

/// The bounds of a range listing; `prefix` applies on top of `start..end`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Range<'a> {
    pub(crate) prefix: &'a [u8],
    pub(crate) start: Bound<&'a [u8]>,
    pub(crate) end: Bound<&'a [u8]>,
    pub(crate) reverse: bool,
    pub(crate) limit: usize,
}

/// The redb database and the operations on it.
#[derive(Debug)]
pub(crate) struct Engine {
    db: Database,
}

impl Engine {
    /// Wraps an open database: checks or writes the layout record.
    pub(crate) fn new(db: Database) -> Result<Self, Fault> {
        let engine = Self { db };
        engine.write(|txn| {
            let mut meta = txn.open_table(def(META))?;
            let found = meta
                .get(LAYOUT_KEY)?
                .map(|g| record::decode_layout(g.value()));
            match found {
                None => {
                    meta.insert(LAYOUT_KEY, record::encode_layout(LAYOUT_VERSION).as_slice())?;
                }
                Some(Ok(LAYOUT_VERSION)) => {}
                Some(Ok(found)) => {
                    return Err(Fault::Layout {
                        found,
                        supported: LAYOUT_VERSION,
                    });
                }
                Some(Err(error)) => return Err(corrupt(META)(error)),
            }
            txn.open_table(def(ALARM))?;
            Ok(())
        })?;
        Ok(engine)
    }

    /// Rewrites the file to release the space of freed pages; returns whether it shrank.
    pub(crate) fn compact(&mut self) -> Result<bool, Fault> {
        let mut shrank = false;
        while self.db.compact().map_err(|e| Fault::Redb(e.into()))? {
            shrank = true;
        }
        Ok(shrank)
    }

    /// Creates the tables of a namespace so that reads never meet a missing table.
    pub(crate) fn create_tables(&self, names: &[&str]) -> Result<(), Fault> {
        self.write(|txn| {
            for name in names {
                txn.open_table(def(name))?;
            }
            Ok(())
        })
    }

    fn write<T>(&self, f: impl FnOnce(&WriteTransaction) -> Result<T, Fault>) -> Result<T, Fault> {
        let mut txn = self.db.begin_write()?;
        // The default already, stated so that no refactoring can weaken it: commit() returns
        // only after the data and the new root are fsynced.
        txn.set_durability(Durability::Immediate)?;
        // Dropping the transaction on an error aborts it: nothing of `f` is visible.
        let out = f(&txn)?;
        txn.commit()?;
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&ReadTransaction) -> Result<T, Fault>) -> Result<T, Fault> {
        let txn = self.db.begin_read()?;
        f(&txn)
    }

    // ---------------------------------------------------------------- KV

    pub(crate) fn kv_get(
        &self,
        t: &KvTables,
        key: &[u8],
        now_ms: u64,
    ) -> Result<Option<KvValue>, Fault> {
        self.read(|txn| {
            let table = txn.open_table(def(&t.entries))?;
            let Some(guard) = table.get(key)? else {
                return Ok(None);
            };
            let entry = record::decode_kv(guard.value()).map_err(corrupt(&t.entries))?;
            if is_expired(entry.expires_at_ms, now_ms) {
                return Ok(None);
            }
            Ok(Some(KvValue {
                value: entry.value.to_vec(),
                metadata: entry.metadata.map(<[u8]>::to_vec),
                expires_at_ms: entry.expires_at_ms,
            }))
        })
    }

    pub(crate) fn kv_put(
        &self,
        t: &KvTables,
        key: &[u8],
        entry: &KvEntry<'_>,
        now_ms: u64,
    ) -> Result<(), Fault> {
        self.write(|txn| {
            let mut entries = txn.open_table(def(&t.entries))?;
            let mut expiry = txn.open_table(def(&t.expiry))?;
            let old = entries.insert(key, record::encode_kv(entry).as_slice())?;
            // A damaged old record cannot name its index entry; purge tolerates the leftover.
            if let Some(Ok(KvEntry {
                expires_at_ms: Some(at),
                ..
            })) = old.as_ref().map(|g| record::decode_kv(g.value()))
            {
                expiry.remove(record::kv_expiry_key(at, key).as_slice())?;
            }
            drop(old);
            if let Some(at) = entry.expires_at_ms {
                expiry.insert(
                    record::kv_expiry_key(at, key).as_slice(),
                    record::encode_kv_expiry().as_slice(),
                )?;
            }
            purge(&mut entries, &mut expiry, now_ms, PURGE_PER_WRITE)?;
            Ok(())
        })
    }

    pub(crate) fn kv_delete(&self, t: &KvTables, key: &[u8], now_ms: u64) -> Result<(), Fault> {
        self.write(|txn| {
            let mut entries = txn.open_table(def(&t.entries))?;
            let mut expiry = txn.open_table(def(&t.expiry))?;
            let old = entries.remove(key)?;
            if let Some(Ok(KvEntry {
                expires_at_ms: Some(at),
                ..
            })) = old.as_ref().map(|g| record::decode_kv(g.value()))
            {
                expiry.remove(record::kv_expiry_key(at, key).as_slice())?;
            }
            drop(old);
            purge(&mut entries, &mut expiry, now_ms, PURGE_PER_WRITE)?;
            Ok(())
        })
    }

    /// Lists live keys starting with `prefix` from `start` on, in key order. Returns at most
    /// `limit` entries and whether more follow.
    pub(crate) fn kv_list(
        &self,
        t: &KvTables,
        prefix: &[u8],
        start: Bound<&[u8]>,
        limit: usize,
        now_ms: u64,
    ) -> Result<(Vec<KvListed>, bool), Fault> {
        self.read(|txn| {
            let table = txn.open_table(def(&t.entries))?;
            let mut out = Vec::new();
            for item in table.range::<&[u8]>((clamp_start(prefix, start), Bound::Unbounded))? {
                let (k, v) = item?;
                let k = k.value();
                if !k.starts_with(prefix) {
                    break;
                }
                let entry = record::decode_kv(v.value()).map_err(corrupt(&t.entries))?;
                if is_expired(entry.expires_at_ms, now_ms) {
                    continue;
                }
                if out.len() >= limit {
                    return Ok((out, true));
                }
                out.push(KvListed {
                    key: k.to_vec(),
                    metadata: entry.metadata.map(<[u8]>::to_vec),
                    expires_at_ms: entry.expires_at_ms,
                });
            }
            Ok((out, false))
        })
    }

    /// Deletes up to `max` expired entries; returns how many index entries it consumed.
    pub(crate) fn kv_purge(&self, t: &KvTables, now_ms: u64, max: usize) -> Result<usize, Fault> {
        self.write(|txn| {
            let mut entries = txn.open_table(def(&t.entries))?;
            let mut expiry = txn.open_table(def(&t.expiry))?;
            purge(&mut entries, &mut expiry, now_ms, max)
        })
    }

    // ---------------------------------------------------------------- state

    pub(crate) fn state_get(
        &self,
        t: &StateTables,
        keys: &[&[u8]],
    ) -> Result<Vec<Option<Vec<u8>>>, Fault> {
        self.read(|txn| {
            let table = txn.open_table(def(&t.entries))?;
            keys.iter()
                .map(|key| {
                    let Some(guard) = table.get(*key)? else {
                        return Ok(None);
                    };
                    let value = record::decode_state(guard.value()).map_err(corrupt(&t.entries))?;
                    Ok(Some(value.to_vec()))
                })
                .collect()
        })
    }

    /// Applies every op in one write transaction: all of them are durable, or none is visible.
    pub(crate) fn state_apply(&self, t: &StateTables, ops: &[StateOp<'_>]) -> Result<(), Fault> {
        self.write(|txn| {
            let mut table = txn.open_table(def(&t.entries))?;
            for op in ops {
                match op {
                    StateOp::Put(key, value) => {
                        table.insert(*key, record::encode_state(value).as_slice())?;
                    }
                    StateOp::Delete(key) => {
                        table.remove(*key)?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Deletes every key and the alarm of the namespace.
    pub(crate) fn state_clear(&self, t: &StateTables) -> Result<(), Fault> {
        self.write(|txn| {
            txn.delete_table(def(&t.entries))?;
            txn.open_table(def(&t.entries))?;
            txn.open_table(def(ALARM))?.remove(t.namespace.as_bytes())?;
            Ok(())
        })
    }

    pub(crate) fn state_list(&self, t: &StateTables, range: &Range<'_>) -> Result<Entries, Fault> {
        self.read(|txn| {
            let table = txn.open_table(def(&t.entries))?;
            let (start, end) = narrow(range);
            // Keys with the prefix sort below the prefix's successor: bound the scan there too,
            // so a reverse listing starts inside the prefix.
            let ceiling = (!range.prefix.is_empty()).then(|| successor(range.prefix));
            let end = match (&ceiling, end) {
                (Some(c), Bound::Included(e) | Bound::Excluded(e)) if e < c.as_slice() => end,
                (Some(c), _) => Bound::Excluded(c.as_slice()),
                (None, end) => end,
            };
            let iter = table.range::<&[u8]>((start, end))?;
            let iter: Box<dyn Iterator<Item = _>> = if range.reverse {
                Box::new(iter.rev())
            } else {
                Box::new(iter)
            };
            let mut out = Vec::new();
            for item in iter {
                if out.len() >= range.limit {
                    break;
                }
                let (k, v) = item?;
                let k = k.value();
                if !k.starts_with(range.prefix) {
                    // The bounds keep the scan inside the prefix; stop at anything outside.
                    break;
                }
                let value = record::decode_state(v.value()).map_err(corrupt(&t.entries))?;
                out.push((k.to_vec(), value.to_vec()));
            }
            Ok(out)
        })
    }

    pub(crate) fn alarm_get(&self, t: &StateTables) -> Result<Option<u64>, Fault> {
        self.read(|txn| {
            let table = txn.open_table(def(ALARM))?;
            let Some(guard) = table.get(t.namespace.as_bytes())? else {
                return Ok(None);
            };
            record::decode_alarm(guard.value())
                .map(Some)
                .map_err(corrupt(ALARM))
        })
    }

    pub(crate) fn alarm_set(&self, t: &StateTables, at_ms: Option<u64>) -> Result<(), Fault> {
        self.write(|txn| {
            let mut table = txn.open_table(def(ALARM))?;
            match at_ms {
                Some(at) => {
                    table.insert(t.namespace.as_bytes(), record::encode_alarm(at).as_slice())?
                }
                None => table.remove(t.namespace.as_bytes())?,
            };
            Ok(())
        })
    }

    // ---------------------------------------------------------------- objects

    /// Writes an object if `condition` holds, atomically with the check.
    pub(crate) fn object_put(
        &self,
        t: &ObjectTables,
        new: &NewObject<'_>,
    ) -> Result<ObjectInfo, Fault> {
        let NewObject {
            key,
            body,
            etag,
            metadata,
            condition,
            chunk_size,
            now_ms,
        } = *new;
        self.write(|txn| {
            let mut metas = txn.open_table(def(&t.meta))?;
            let mut chunks = txn.open_table(def(&t.chunks))?;
            let old = match metas.get(key)? {
                Some(guard) => {
                    let meta =
                        record::decode_object_meta(guard.value()).map_err(corrupt(&t.meta))?;
                    Some((meta.generation, meta.etag.to_vec()))
                }
                None => None,
            };
            match (condition, &old) {
                (PutCondition::Overwrite, _) | (PutCondition::Create, None) => {}
                (PutCondition::Create, Some(_)) => return Err(Fault::AlreadyExists),
                (PutCondition::IfMatch(expected), Some((_, actual)))
                    if expected == actual.as_slice() => {}
                (PutCondition::IfMatch(_), _) => return Err(Fault::EtagMismatch),
            }
            if let Some((generation, _)) = old {
                remove_chunks(&mut chunks, generation)?;
            }
            let generation = next_generation(txn)?;
            let step = usize::try_from(chunk_size).unwrap_or(usize::MAX).max(1);
            for (index, piece) in body.chunks(step).enumerate() {
                let index = u32::try_from(index).map_err(|_| Fault::Exhausted("chunk index"))?;
                chunks.insert(
                    record::chunk_key(generation, index).as_slice(),
                    record::encode_chunk(piece).as_slice(),
                )?;
            }
            let meta = ObjectMeta {
                size: u64::try_from(body.len()).unwrap_or(u64::MAX),
                uploaded_ms: now_ms,
                chunk_size,
                generation,
                etag,
                metadata,
            };
            metas.insert(key, record::encode_object_meta(&meta).as_slice())?;
            Ok(info(key, &meta))
        })
    }

    pub(crate) fn object_head(
        &self,
        t: &ObjectTables,
        key: &[u8],
    ) -> Result<Option<ObjectInfo>, Fault> {
        self.read(|txn| {
            let metas = txn.open_table(def(&t.meta))?;
            let Some(guard) = metas.get(key)? else {
                return Ok(None);
            };
            let meta = record::decode_object_meta(guard.value()).map_err(corrupt(&t.meta))?;
            Ok(Some(info(key, &meta)))
        })
    }

    /// Reads the body bytes `start..end` (clamped by the caller to the object's size) of the
    /// object, from the same snapshot as its metadata.
    pub(crate) fn object_get(
        &self,
        t: &ObjectTables,
        key: &[u8],
        range: impl FnOnce(u64) -> Result<(u64, u64), Fault>,
    ) -> Result<Option<(ObjectInfo, Vec<u8>)>, Fault> {
        self.read(|txn| {
            let metas = txn.open_table(def(&t.meta))?;
            let chunks = txn.open_table(def(&t.chunks))?;
            let Some(guard) = metas.get(key)? else {
                return Ok(None);
            };
            let meta = record::decode_object_meta(guard.value()).map_err(corrupt(&t.meta))?;
            let (start, end) = range(meta.size)?;
            let chunk = u64::from(meta.chunk_size);
            let mut body = Vec::with_capacity(
                usize::try_from(end.saturating_sub(start).min(PREALLOCATE)).unwrap_or(0),
            );
            let mut offset = start - start % chunk;
            while offset < end {
                let index =
                    u32::try_from(offset / chunk).map_err(|_| Fault::Exhausted("chunk index"))?;
                let want = chunk.min(meta.size - offset);
                let stored = chunks.get(record::chunk_key(meta.generation, index).as_slice())?;
                let bad = |reason| Fault::Record {
                    table: t.chunks.clone(),
                    error: RecordError::Invalid {
                        field: "object chunk",
                        reason,
                    },
                };
                let stored = stored.ok_or_else(|| bad("missing"))?;
                let piece = record::decode_chunk(stored.value()).map_err(corrupt(&t.chunks))?;
                if u64::try_from(piece.len()).ok() != Some(want) {
                    return Err(bad("length differs from the object's size"));
                }
                let from = usize::try_from(start.saturating_sub(offset)).unwrap_or(0);
                let to = usize::try_from(end.min(offset + want) - offset).unwrap_or(0);
                body.extend_from_slice(piece.get(from..to).unwrap_or_default());
                offset += want;
            }
            Ok(Some((info(key, &meta), body)))
        })
    }

    /// Deletes an object; returns whether it existed.
    pub(crate) fn object_delete(&self, t: &ObjectTables, key: &[u8]) -> Result<bool, Fault> {
        self.write(|txn| {
            let mut metas = txn.open_table(def(&t.meta))?;
            let mut chunks = txn.open_table(def(&t.chunks))?;
            let Some(guard) = metas.remove(key)? else {
                return Ok(false);
            };
            let meta = record::decode_object_meta(guard.value()).map_err(corrupt(&t.meta))?;
            remove_chunks(&mut chunks, meta.generation)?;
            Ok(true)
        })
    }

    /// Lists objects whose key starts with `prefix` from `start` on, in key order. With a
    /// `delimiter`, keys holding it after the prefix are folded into one common prefix each
    /// (`prefix ++ … ++ delimiter`). Returns at most `limit` entries and whether more follow.
    pub(crate) fn object_list(
        &self,
        t: &ObjectTables,
        prefix: &[u8],
        start: Bound<&[u8]>,
        delimiter: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Vec<Listed>, bool), Fault> {
        self.read(|txn| {
            let metas = txn.open_table(def(&t.meta))?;
            let mut out = Vec::new();
            let mut from: Bound<Vec<u8>> = match clamp_start(prefix, start) {
                Bound::Included(k) => Bound::Included(k.to_vec()),
                Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
                Bound::Unbounded => Bound::Unbounded,
            };
            'scan: loop {
                let bounds = (from.as_ref().map(Vec::as_slice), Bound::Unbounded);
                for item in metas.range::<&[u8]>(bounds)? {
                    let (k, v) = item?;
                    let k = k.value();
                    if !k.starts_with(prefix) {
                        break 'scan;
                    }
                    if out.len() >= limit {
                        return Ok((out, true));
                    }
                    let rest = k.get(prefix.len()..).unwrap_or_default();
                    if let Some(group) = delimiter.and_then(|d| group_end(rest, d)) {
                        let common = k
                            .get(..prefix.len().saturating_add(group))
                            .unwrap_or(k)
                            .to_vec();
                        // Every key of the group sorts below the successor of its prefix, so
                        // the scan resumes there and reports the group once.
                        from = Bound::Included(successor(&common));
                        out.push(Listed::Prefix(common));
                        continue 'scan;
                    }
                    let meta = record::decode_object_meta(v.value()).map_err(corrupt(&t.meta))?;
                    out.push(Listed::Object(info(k, &meta)));
                }
                break;
            }
            Ok((out, false))
        })
    }

    /// Sizes of the store's file as redb accounts them: (stored bytes, metadata, fragmented).
    pub(crate) fn stats(&self) -> Result<redb::DatabaseStats, Fault> {
        let txn = self.db.begin_write()?;
        let stats = txn.stats()?;
        txn.abort()?;
        Ok(stats)
    }
}

fn def(name: &str) -> Def<'_> {
    TableDefinition::new(name)
}

fn is_expired(expires_at_ms: Option<u64>, now_ms: u64) -> bool {
    expires_at_ms.is_some_and(|at| at <= now_ms)
}

/// The later of `start` and the first key that can carry `prefix`.
fn clamp_start<'a>(prefix: &'a [u8], start: Bound<&'a [u8]>) -> Bound<&'a [u8]> {
    match start {
        Bound::Included(s) | Bound::Excluded(s) if s >= prefix => start,
        _ => Bound::Included(prefix),
    }
}

/// Where the first `delimiter` in `rest` ends, if there is one.
fn group_end(rest: &[u8], delimiter: &[u8]) -> Option<usize> {
    if delimiter.is_empty() {
        return None;
    }
    rest.windows(delimiter.len())
        .position(|w| w == delimiter)
        .map(|at| at.saturating_add(delimiter.len()))
}

/// The smallest byte string greater than every string that starts with `prefix`, for a
/// `prefix` that ends in a UTF-8 character (its last byte is below 0xFF, so it can be bumped).
pub(crate) fn successor(prefix: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if let Some(bumped) = last.checked_add(1) {
            out.push(bumped);
            return out;
        }
    }
    // Only an all-0xFF prefix gets here: nothing sorts above its extensions but longer
    // 0xFF runs, which UTF-8 keys never contain.
    prefix.iter().copied().chain([0xFF]).collect()
}

/// Intersects a range's bounds with its prefix, so the scan starts at the first candidate.
fn narrow<'a>(range: &Range<'a>) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    (clamp_start(range.prefix, range.start), range.end)
}

fn info(key: &[u8], meta: &ObjectMeta<'_>) -> ObjectInfo {
    ObjectInfo {
        key: key.to_vec(),
        size: meta.size,
        uploaded_ms: meta.uploaded_ms,
        etag: meta.etag.to_vec(),
        metadata: meta.metadata.map(<[u8]>::to_vec),
    }
}

fn next_generation(txn: &WriteTransaction) -> Result<u64, Fault> {
    let mut meta = txn.open_table(def(META))?;
    let current = match meta.get(GENERATION_KEY)? {
        Some(guard) => record::decode_counter(guard.value()).map_err(corrupt(META))?,
        None => 0,
    };
    let next = current
        .checked_add(1)
        .ok_or(Fault::Exhausted("object generation"))?;
    meta.insert(GENERATION_KEY, record::encode_counter(next).as_slice())?;
    Ok(current)
}

fn remove_chunks(
    chunks: &mut redb::Table<'_, &'static [u8], &'static [u8]>,
    generation: u64,
) -> Result<(), Fault> {
    // By key range rather than by the metadata's size: whatever chunks of this generation
    // exist are removed, and a damaged size cannot make this loop long.
    let start = record::chunk_key(generation, 0);
    let keys = match generation.checked_add(1) {
        Some(next) => collect_keys(
            chunks.range::<&[u8]>(start.as_slice()..record::chunk_key(next, 0).as_slice())?,
        )?,
        None => collect_keys(chunks.range::<&[u8]>(start.as_slice()..)?)?,
    };
    for key in keys {
        chunks.remove(key.as_slice())?;
    }
    Ok(())
}

fn collect_keys(
    range: redb::Range<'_, &'static [u8], &'static [u8]>,
) -> Result<Vec<Vec<u8>>, Fault> {
    range.map(|item| Ok(item?.0.value().to_vec())).collect()
}

/// Deletes up to `max` expired entries through the expiry index. An index entry whose KV entry
/// no longer carries that expiry (overwritten, or damaged) is dropped without touching the KV
/// entry.
fn purge(
    entries: &mut redb::Table<'_, &'static [u8], &'static [u8]>,
    expiry: &mut redb::Table<'_, &'static [u8], &'static [u8]>,
    now_ms: u64,
    max: usize,
) -> Result<usize, Fault> {
    let mut due = Vec::new();
    for item in expiry.range::<&[u8]>(..)? {
        let (k, _) = item?;
        let k = k.value();
        if due.len() >= max {
            break;
        }
        // Malformed index keys (shorter than a deadline) sort first and are dropped.
        if record::split_kv_expiry_key(k).is_ok_and(|(at, _)| at > now_ms) {
            break;
        }
        due.push(k.to_vec());
    }
    for index_key in &due {
        expiry.remove(index_key.as_slice())?;
        let Ok((at, key)) = record::split_kv_expiry_key(index_key) else {
            continue;
        };
        let current = entries.get(key)?.map(|g| {
            record::decode_kv(g.value())
                .ok()
                .and_then(|e| e.expires_at_ms)
        });
        if current == Some(Some(at)) {
            entries.remove(key)?;
        }
    }
    Ok(due.len())
}
