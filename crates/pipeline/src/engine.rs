//! [`Engine`]: one site's durable writer (crate docs explain the design).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::channel::oneshot;
use futures::lock::Mutex;
use glinto_aggregator::rollup::{HourRange, SiteRollup};
use glinto_aggregator::writer::{SiteWriter, WriterConfig};
use glinto_aggregator::{Lattice, ReplicaId};
use glinto_event_model::{Event, archive};
use glinto_storage::{
    Capability, Clock, Error as StorageError, KvStore, ObjectListOptions, ObjectStore,
    ObjectStoreExt, PutMode, StateListOptions, StateStore, WriteBatch,
};

use crate::error::{Error, Result};
use crate::layout::{
    CKPT_PREFIX, EventsObject, POINTER_KEY, Pointer, WAL_PREFIX, ckpt_key, events_key, hour_key,
    hours_prefix, parse_ckpt_key, parse_hour_key, parse_wal_key, wal_key,
};

/// How one site's engine writes, flushes and keeps its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineConfig {
    /// The replica id the site's writer writes as. One live engine per
    /// `(site, replica)`: the storage's single-writer rule (a Durable Object
    /// per site) guarantees it.
    pub replica: ReplicaId,
    /// Lateness window and the writer's own flush interval.
    pub writer: WriterConfig,
    /// Checkpoint as soon as this many events were logged since the last
    /// checkpoint (size trigger).
    pub checkpoint_events: u64,
    /// Otherwise, checkpoint this long after the first event logged since
    /// the last checkpoint (time trigger, through the store's alarm).
    pub checkpoint_after: Duration,
}

impl Default for EngineConfig {
    /// Replica 1, the writer's defaults (one hour of lateness), a checkpoint
    /// every 50 000 events or one minute.
    fn default() -> Self {
        EngineConfig {
            replica: ReplicaId(1),
            writer: WriterConfig::default(),
            checkpoint_events: 50_000,
            checkpoint_after: Duration::from_secs(60),
        }
    }
}

impl EngineConfig {
    /// The defaults with `replica`.
    pub fn with_replica(mut self, replica: ReplicaId) -> Self {
        self.replica = replica;
        self
    }

    /// The defaults with `writer`.
    pub fn with_writer(mut self, writer: WriterConfig) -> Self {
        self.writer = writer;
        self
    }

    /// Checkpoint after `events` logged events or `after`, whichever first.
    pub fn with_checkpoint(mut self, events: u64, after: Duration) -> Self {
        self.checkpoint_events = events.max(1);
        self.checkpoint_after = after;
        self
    }
}

/// The three stores of one engine.
#[derive(Debug)]
pub struct Stores<S, O, K> {
    /// The site's own transactional store (a Durable Object's storage).
    pub state: S,
    /// The archive (R2), shared by sites under per-site prefixes.
    pub objects: O,
    /// Snapshots for readers (Workers KV); never read back by the engine.
    pub kv: K,
}

/// What a read over bucket ranges returns: one rollup with the cells of
/// every hour of the ranges, and for which ranges they are hour cells.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Coverage {
    /// The cells (closed hours from the archive merged with the writer's
    /// open hours; merging is a lattice join, so an hour present in both
    /// counts once).
    pub rollup: SiteRollup,
    /// Per requested range, whether hour resolution exists (always, until
    /// tiers fold old hours into days).
    pub hour_resolution: Vec<bool>,
}

/// Counters of what the engine did (for tests, logs and figures).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineStats {
    /// Log records written (group commits).
    pub commits: u64,
    /// Events logged.
    pub events_logged: u64,
    /// Checkpoints completed.
    pub checkpoints: u64,
    /// Recoveries from storage (open, and after a failed or cancelled write).
    pub recoveries: u64,
    /// Closed hours written to the archive.
    pub hours_archived: u64,
}

#[derive(Debug)]
struct Core {
    writer: SiteWriter,
    /// The seq the next log record gets.
    next_seq: u64,
    /// The committed checkpoint, if any.
    pointer: Option<Pointer>,
    /// Log records applied since the checkpoint: seq and parts (archived and
    /// deleted by the next checkpoint).
    unflushed: Vec<(u64, Vec<Bytes>)>,
    unflushed_events: u64,
    /// Keys to delete once convenient (stale log records, old generations).
    garbage: Vec<String>,
    alarm_set: bool,
    /// Memory may differ from storage (a write failed or was cancelled
    /// midway): the next call reloads from storage first.
    poisoned: bool,
    stats: EngineStats,
}

#[derive(Debug, Default)]
struct Pending {
    events: Vec<Event>,
    waiters: Vec<oneshot::Sender<Result<()>>>,
}

/// One site's durable engine (crate docs).
pub struct Engine<S, O, K> {
    site: String,
    config: EngineConfig,
    stores: Stores<S, O, K>,
    clock: Arc<dyn Clock>,
    core: Mutex<Core>,
    pending: std::sync::Mutex<Pending>,
}

impl<S, O, K> std::fmt::Debug for Engine<S, O, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("site", &self.site)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The largest value worth putting in one entry of `cap` under a key of
/// about `key_len` bytes, leaving room for the encoding's own framing.
fn max_value(cap: &Capability, key_len: usize) -> usize {
    let by_value = usize::try_from(cap.max_value_bytes).unwrap_or(usize::MAX);
    let by_entry = usize::try_from(cap.max_entry_bytes)
        .unwrap_or(usize::MAX)
        .saturating_sub(key_len);
    by_value.min(by_entry).min(1 << 30)
}

fn max_batch(cap: &Capability) -> usize {
    cap.max_batch_keys.max(1)
}

/// Splits `events` into archive batches of at most `limit` bytes each,
/// with the range of events each holds.
fn encode_parts(events: &[Event], limit: usize) -> Result<Vec<(usize, Bytes)>> {
    let whole = archive::encode_batch(events);
    if whole.len() <= limit {
        return Ok(vec![(events.len(), Bytes::from(whole))]);
    }
    if events.len() <= 1 {
        return Err(Error::TooLarge {
            what: "an event",
            bytes: whole.len(),
        });
    }
    let (a, b) = events.split_at(events.len() / 2);
    let mut parts = encode_parts(a, limit)?;
    parts.extend(encode_parts(b, limit)?);
    Ok(parts)
}

impl<S: StateStore, O: ObjectStore, K: KvStore> Engine<S, O, K> {
    /// Opens the engine of `site` on `stores`: restores the last checkpoint
    /// and re-applies the log records after it (recovery, crate docs).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the stores cannot be read,
    /// [`Error::Corrupt`] when what they hold cannot be decoded.
    pub async fn open(
        site: impl Into<String>,
        config: EngineConfig,
        stores: Stores<S, O, K>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let site = site.into();
        let writer = SiteWriter::new(site.clone(), config.replica, config.writer);
        let engine = Engine {
            site,
            config,
            stores,
            clock,
            core: Mutex::new(Core {
                writer,
                next_seq: 1,
                pointer: None,
                unflushed: Vec::new(),
                unflushed_events: 0,
                garbage: Vec::new(),
                alarm_set: false,
                poisoned: true,
                stats: EngineStats::default(),
            }),
            pending: std::sync::Mutex::new(Pending::default()),
        };
        {
            let mut core = engine.core.lock().await;
            engine.recover(&mut core).await?;
        }
        Ok(engine)
    }

    /// The site.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// The stores (for hosts that need them, e.g. to run the alarm).
    pub fn stores(&self) -> &Stores<S, O, K> {
        &self.stores
    }

    /// What the engine did so far.
    pub async fn stats(&self) -> EngineStats {
        self.core.lock().await.stats
    }

    /// Logs `events` durably, then applies them. Completes only once they
    /// are committed to the StateStore (then a crash at any later instant
    /// loses none of them and counts none twice). Concurrent calls share one
    /// storage write: whoever takes the commit lock writes everything
    /// pending and answers every waiter (group commit).
    ///
    /// # Errors
    ///
    /// [`Error::WrongSite`] (nothing written), [`Error::Storage`] /
    /// [`Error::TooLarge`] (not acknowledged: retry the same events; a
    /// duplicate is counted once).
    pub async fn ingest(&self, events: Vec<Event>) -> Result<()> {
        if let Some(e) = events.iter().find(|e| e.site != self.site) {
            return Err(Error::WrongSite {
                expected: self.site.clone(),
                found: e.site.clone(),
            });
        }
        if events.is_empty() {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = lock(&self.pending);
            pending.events.extend(events);
            pending.waiters.push(tx);
        }
        {
            let mut core = self.core.lock().await;
            let (events, waiters) = {
                let mut pending = lock(&self.pending);
                (
                    std::mem::take(&mut pending.events),
                    std::mem::take(&mut pending.waiters),
                )
            };
            if !waiters.is_empty() {
                let result = self.commit(&mut core, &events).await;
                let ok = result.is_ok();
                for waiter in waiters {
                    let answer = match &result {
                        Ok(()) => Ok(()),
                        Err(e) => Err(e.share()),
                    };
                    // A waiter that went away needs no answer.
                    let _ = waiter.send(answer);
                }
                if ok {
                    self.after_commit(&mut core).await;
                }
            }
        }
        rx.await.unwrap_or_else(|_| {
            Err(Error::Storage {
                operation: "log write",
                message: "the commit was cancelled".into(),
                retryable: true,
            })
        })
    }

    /// The host calls this when the StateStore's alarm fires: checkpoints
    /// what was logged since the last checkpoint.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] / [`Error::Corrupt`]: nothing acknowledged is at
    /// risk; the alarm is set again so the checkpoint is retried.
    pub async fn alarm(&self) -> Result<()> {
        let mut core = self.core.lock().await;
        core.alarm_set = false;
        let result = self.checkpoint(&mut core).await;
        if result.is_err() || core.unflushed_events > 0 {
            self.ensure_alarm(&mut core).await;
        }
        result
    }

    /// Checkpoints now (what the alarm does), e.g. before a planned stop.
    ///
    /// # Errors
    ///
    /// As [`Self::alarm`].
    pub async fn checkpoint_now(&self) -> Result<()> {
        let mut core = self.core.lock().await;
        self.checkpoint(&mut core).await
    }

    /// One rollup holding every cell of the hours in `ranges` (closed hours
    /// from the archive, open hours from the writer), and for which ranges
    /// hour resolution exists.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] / [`Error::Corrupt`] reading the archive.
    pub async fn rollup(&self, ranges: &[HourRange]) -> Result<Coverage> {
        let mut core = self.core.lock().await;
        if core.poisoned {
            self.recover(&mut core).await?;
        }
        let wanted = |hour: u32| ranges.iter().any(|r| r.start <= hour && hour < r.end);
        let mut rollup = SiteRollup::new(self.site.clone());
        let open = core.writer.snapshot();
        for (hour, dim, value, cell) in open.cells() {
            if wanted(hour) {
                *rollup.cell_mut(hour, dim, value) = cell.clone();
            }
        }
        drop(core);
        let prefix = hours_prefix(&self.site);
        let listing = self
            .stores
            .objects
            .list_all(ObjectListOptions::prefix(prefix.clone()))
            .await
            .map_err(|e| Error::storage("archive list", &e))?;
        for meta in listing.objects {
            let Some(hour) = parse_hour_key(&prefix, &meta.key) else {
                continue;
            };
            if !wanted(hour) {
                continue;
            }
            let Some(object) = self
                .stores
                .objects
                .get(&meta.key, None)
                .await
                .map_err(|e| Error::storage("archive read", &e))?
            else {
                continue;
            };
            let cells = SiteRollup::decode(&object.body)
                .map_err(|e| Error::corrupt("hour rollup", &meta.key, e))?;
            rollup.merge(&cells);
        }
        Ok(Coverage {
            rollup,
            hour_resolution: vec![true; ranges.len()],
        })
    }

    /// Answers a Stats API v2 request (glinto-query) for this site: plans
    /// the bucket ranges, loads one rollup over them ([`Self::rollup`]) and
    /// answers from it. Every cell kept is an hour cell (no tiers yet).
    ///
    /// # Errors
    ///
    /// [`Error::Query`] for an invalid or unsupported request;
    /// [`Error::Storage`] / [`Error::Corrupt`] reading the archive.
    pub async fn query(
        &self,
        request: &glinto_query::QueryRequest,
        site: &glinto_query::SiteContext,
    ) -> Result<glinto_query::QueryResponse> {
        let plan = glinto_query::plan(request, site)?;
        let coverage = self.rollup(&plan.ranges()).await?;
        Ok(glinto_query::answer(
            &plan,
            &coverage.rollup,
            &glinto_query::Resolution::hourly(),
        )?)
    }

    // ------------------------------------------------------------ commit

    /// Writes `events` as log records, then applies them in log order.
    async fn commit(&self, core: &mut Core, events: &[Event]) -> Result<()> {
        if core.poisoned {
            self.recover(core).await?;
        }
        let cap = self.stores.state.capability();
        let parts = encode_parts(events, max_value(&cap, 32))?;
        let mut at = 0;
        for group in parts.chunks(max_batch(&cap)) {
            let seq = core.next_seq;
            let mut batch = WriteBatch::new();
            let mut count = 0;
            for (i, (n, bytes)) in group.iter().enumerate() {
                batch = batch.put(wal_key(seq, i), bytes.clone());
                count += n;
            }
            // Until the records are applied, memory lags storage: a failure
            // or a cancellation in between makes the next call reload.
            core.poisoned = true;
            self.stores
                .state
                .write(batch)
                .await
                .map_err(|e| Error::storage("log write", &e))?;
            core.next_seq += 1;
            let applied = events.get(at..at + count).unwrap_or(&[]);
            for event in applied {
                // The site was checked before anything was written.
                let _ = core.writer.apply(event);
            }
            at += count;
            core.unflushed
                .push((seq, group.iter().map(|(_, b)| b.clone()).collect()));
            core.unflushed_events += count as u64;
            core.stats.commits += 1;
            core.stats.events_logged += count as u64;
            core.poisoned = false;
        }
        Ok(())
    }

    /// After an acknowledged commit: make sure the alarm will checkpoint,
    /// and checkpoint at once when the size trigger is reached. Failures
    /// here risk nothing acknowledged (the log holds it).
    async fn after_commit(&self, core: &mut Core) {
        if core.unflushed_events >= self.config.checkpoint_events {
            let _ = self.checkpoint(core).await;
        }
        if core.unflushed_events > 0 {
            self.ensure_alarm(core).await;
        }
    }

    async fn ensure_alarm(&self, core: &mut Core) {
        if core.alarm_set {
            return;
        }
        let at = self
            .clock
            .now()
            .saturating_add(self.config.checkpoint_after);
        core.alarm_set = self.stores.state.set_alarm(at).await.is_ok();
    }

    // -------------------------------------------------------- checkpoint

    /// Archives the logged events, archives the closed hours, writes the
    /// writer state under a new generation, then flips the pointer and
    /// drops the log records it contains (crate docs: crash safety).
    async fn checkpoint(&self, core: &mut Core) -> Result<()> {
        if core.poisoned {
            self.recover(core).await?;
        }
        if core.unflushed.is_empty() {
            return Ok(());
        }
        let Some(&(applied_seq, _)) = core.unflushed.last() else {
            return Ok(());
        };
        // From here until the flip, memory is ahead of storage (closed hours
        // leave the writer before the pointer moves).
        core.poisoned = true;
        self.archive_events(&core.unflushed).await?;
        if let Some(closed) = core.writer.take_closed_hours() {
            core.stats.hours_archived += self.archive_hours(&closed).await?;
        }
        let cap = self.stores.state.capability();
        let state = core.writer.encode_state();
        let generation = core.pointer.map_or(1, |p| p.generation + 1);
        let limit = max_value(&cap, 40).max(1);
        let chunks: Vec<&[u8]> = state.chunks(limit).collect();
        let mut ops: Vec<(String, Bytes)> = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| (ckpt_key(generation, i), Bytes::copy_from_slice(c)))
            .collect();
        let batch_keys = max_batch(&cap);
        // Every part but the last few goes in batches of its own; the last
        // batch carries the remaining parts and the pointer, atomically.
        while ops.len() >= batch_keys {
            let rest = ops.split_off(batch_keys.saturating_sub(1).max(1));
            let batch = ops
                .into_iter()
                .fold(WriteBatch::new(), |b, (k, v)| b.put(k, v));
            self.stores
                .state
                .write(batch)
                .await
                .map_err(|e| Error::storage("checkpoint write", &e))?;
            ops = rest;
        }
        let pointer = Pointer {
            generation,
            parts: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
            bytes: state.len() as u64,
            applied_seq,
        };
        let mut batch = ops
            .into_iter()
            .fold(WriteBatch::new(), |b, (k, v)| b.put(k, v));
        batch = batch.put(POINTER_KEY, pointer.encode());
        self.stores
            .state
            .write(batch)
            .await
            .map_err(|e| Error::storage("checkpoint pointer", &e))?;
        // Committed: the log records up to `applied_seq` and the previous
        // generation are garbage.
        for (seq, parts) in core.unflushed.drain(..) {
            core.garbage
                .extend((0..parts.len()).map(|part| wal_key(seq, part)));
        }
        if let Some(old) = core.pointer {
            core.garbage
                .extend((0..old.parts as usize).map(|part| ckpt_key(old.generation, part)));
        }
        core.pointer = Some(pointer);
        core.unflushed_events = 0;
        core.stats.checkpoints += 1;
        core.poisoned = false;
        self.collect_garbage(core).await;
        Ok(())
    }

    /// Deletes garbage keys, a batch at a time; what fails stays for later
    /// (deleting is idempotent, and recovery ignores stale keys).
    async fn collect_garbage(&self, core: &mut Core) {
        let batch_keys = max_batch(&self.stores.state.capability());
        while !core.garbage.is_empty() {
            let take = core.garbage.len().min(batch_keys);
            let keys: Vec<String> = core.garbage.drain(..take).collect();
            let batch = keys
                .iter()
                .fold(WriteBatch::new(), |b, k| b.delete(k.clone()));
            if self.stores.state.write(batch).await.is_err() {
                core.garbage.extend(keys);
                return;
            }
        }
    }

    /// Archives the log records `unflushed` (in seq order) as one object per
    /// checkpoint, keyed by its first seq. A retry after a crash may find an
    /// object there already: it holds a prefix of the same records (records
    /// never change once logged), so only the records after it are written,
    /// under their own first seq.
    async fn archive_events(&self, unflushed: &[(u64, Vec<Bytes>)]) -> Result<()> {
        let mut rest = unflushed;
        while let Some(&(first_seq, _)) = rest.first() {
            let last_seq = rest.last().map_or(first_seq, |(s, _)| *s);
            let object = EventsObject {
                first_seq,
                last_seq,
                batches: rest
                    .iter()
                    .flat_map(|(_, parts)| parts.iter().map(|p| p.to_vec()))
                    .collect(),
            };
            let key = events_key(&self.site, first_seq);
            match self
                .stores
                .objects
                .put(&key, Bytes::from(object.encode()), PutMode::Create)
                .await
            {
                Ok(_) => return Ok(()),
                Err(StorageError::AlreadyExists { .. }) => {
                    let body = self
                        .stores
                        .objects
                        .get_required(&key)
                        .await
                        .map_err(|e| Error::storage("archive read", &e))?;
                    let existing = EventsObject::decode(&body)
                        .map_err(|reason| Error::corrupt("events object", &key, reason))?;
                    let done = rest.partition_point(|(s, _)| *s <= existing.last_seq);
                    rest = rest.get(done..).unwrap_or(&[]);
                }
                Err(e) => return Err(Error::storage("archive write", &e)),
            }
        }
        Ok(())
    }

    /// Writes each closed hour's cells under its own key. An object already
    /// there (a checkpoint that crashed after writing it) holds the same
    /// hour of the same replica: the two are joined (a lattice merge: the
    /// per-replica maximum of cumulative counts and the union of sketches,
    /// which is exact for two histories of one replica with the same net
    /// counts) and written back if that changed anything.
    async fn archive_hours(&self, closed: &SiteRollup) -> Result<u64> {
        let mut by_hour: BTreeMap<u32, SiteRollup> = BTreeMap::new();
        for (hour, dim, value, cell) in closed.cells() {
            let rollup = by_hour
                .entry(hour)
                .or_insert_with(|| SiteRollup::new(self.site.clone()));
            *rollup.cell_mut(hour, dim, value) = cell.clone();
        }
        let mut written = 0;
        for (hour, rollup) in by_hour {
            let key = hour_key(&self.site, hour);
            let body = Bytes::from(rollup.encode());
            loop {
                match self
                    .stores
                    .objects
                    .put(&key, body.clone(), PutMode::Create)
                    .await
                {
                    Ok(_) => break,
                    Err(StorageError::AlreadyExists { .. }) => {
                        let Some(existing) = self
                            .stores
                            .objects
                            .get(&key, None)
                            .await
                            .map_err(|e| Error::storage("archive read", &e))?
                        else {
                            continue;
                        };
                        if existing.body == body {
                            break;
                        }
                        let mut merged = SiteRollup::decode(&existing.body)
                            .map_err(|e| Error::corrupt("hour rollup", &key, e))?;
                        merged.merge(&rollup);
                        let merged = Bytes::from(merged.encode());
                        if merged == existing.body {
                            break;
                        }
                        match self
                            .stores
                            .objects
                            .put(&key, merged, PutMode::IfMatch(existing.meta.etag))
                            .await
                        {
                            Ok(_) => break,
                            Err(StorageError::PreconditionFailed { .. }) => continue,
                            Err(e) => return Err(Error::storage("archive write", &e)),
                        }
                    }
                    Err(e) => return Err(Error::storage("archive write", &e)),
                }
            }
            written += 1;
        }
        Ok(written)
    }

    // ---------------------------------------------------------- recovery

    /// Rebuilds memory from storage: the checkpoint's writer state, then
    /// every log record after it, in order.
    async fn recover(&self, core: &mut Core) -> Result<()> {
        let state = &self.stores.state;
        let pointer = match state
            .get(POINTER_KEY)
            .await
            .map_err(|e| Error::storage("checkpoint read", &e))?
        {
            Some(bytes) => Some(
                Pointer::decode(&bytes)
                    .map_err(|reason| Error::corrupt("checkpoint pointer", POINTER_KEY, reason))?,
            ),
            None => None,
        };
        let mut writer = match pointer {
            Some(p) => {
                let keys: Vec<String> = (0..p.parts as usize)
                    .map(|i| ckpt_key(p.generation, i))
                    .collect();
                let mut bytes =
                    Vec::with_capacity(usize::try_from(p.bytes).unwrap_or(0).min(1 << 28));
                for chunk in keys.chunks(max_batch(&state.capability())) {
                    let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    let values = state
                        .get_many(&refs)
                        .await
                        .map_err(|e| Error::storage("checkpoint read", &e))?;
                    for (key, value) in chunk.iter().zip(values) {
                        let value = value
                            .ok_or_else(|| Error::corrupt("checkpoint", key, "part missing"))?;
                        bytes.extend_from_slice(&value);
                    }
                }
                SiteWriter::restore_state(&bytes)
                    .map_err(|e| Error::corrupt("checkpoint", POINTER_KEY, e))?
            }
            None => SiteWriter::new(self.site.clone(), self.config.replica, self.config.writer),
        };
        if writer.site() != self.site {
            return Err(Error::corrupt(
                "checkpoint",
                POINTER_KEY,
                "the checkpoint is another site's",
            ));
        }
        let applied_seq = pointer.map_or(0, |p| p.applied_seq);
        let mut garbage = Vec::new();
        let mut records: BTreeMap<u64, Vec<(usize, Bytes)>> = BTreeMap::new();
        for (key, value) in self.list_all(WAL_PREFIX).await? {
            match parse_wal_key(&key) {
                Some((seq, _)) if seq <= applied_seq => garbage.push(key),
                Some((seq, part)) => records.entry(seq).or_default().push((part, value)),
                None => return Err(Error::corrupt("log record", &key, "not a log key")),
            }
        }
        let mut unflushed = Vec::new();
        let mut unflushed_events = 0u64;
        for (seq, mut parts) in records {
            parts.sort_by_key(|(part, _)| *part);
            if parts.iter().enumerate().any(|(i, (part, _))| i != *part) {
                return Err(Error::corrupt(
                    "log record",
                    &wal_key(seq, 0),
                    "a part is missing",
                ));
            }
            for (part, bytes) in &parts {
                let events = archive::decode_batch(bytes)
                    .map_err(|e| Error::corrupt("log record", &wal_key(seq, *part), e))?;
                for event in &events {
                    if event.site == self.site {
                        let _ = writer.apply(event);
                    }
                }
                unflushed_events += events.len() as u64;
            }
            unflushed.push((seq, parts.into_iter().map(|(_, b)| b).collect()));
        }
        let current = pointer.map(|p| p.generation);
        for (key, _) in self.list_all(CKPT_PREFIX).await? {
            if parse_ckpt_key(&key) != current {
                garbage.push(key);
            }
        }
        let last_logged = unflushed.last().map_or(applied_seq, |(s, _)| *s);
        core.writer = writer;
        core.next_seq = last_logged.max(applied_seq) + 1;
        core.pointer = pointer;
        core.unflushed = unflushed;
        core.unflushed_events = unflushed_events;
        core.garbage = garbage;
        core.alarm_set = matches!(state.get_alarm().await, Ok(Some(_)));
        core.poisoned = false;
        core.stats.recoveries += 1;
        self.collect_garbage(core).await;
        if core.unflushed_events > 0 {
            self.ensure_alarm(core).await;
        }
        Ok(())
    }

    /// Every entry under `prefix`, a page at a time.
    async fn list_all(&self, prefix: &str) -> Result<Vec<(String, Bytes)>> {
        let state = &self.stores.state;
        let page = state.capability().max_list_limit.clamp(1, 1000);
        let mut all: Vec<(String, Bytes)> = Vec::new();
        loop {
            let mut options = StateListOptions::prefix(prefix).limit(page);
            if let Some((last, _)) = all.last() {
                options.start = Bound::Excluded(last.clone());
            }
            let entries = state
                .list(options)
                .await
                .map_err(|e| Error::storage("list", &e))?;
            let done = entries.len() < page;
            all.extend(entries);
            if done {
                return Ok(all);
            }
        }
    }
}
