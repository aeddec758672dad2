//! The durable per-site engine: what turns a stream of events into stored,
//! queryable statistics, in `glinto serve` (on the local store) and in a
//! Durable Object (on Cloudflare), unchanged.
//!
//! [`Engine`] is generic over the three storage traits of `glinto-storage`
//! and uses no runtime: plain futures (`futures::lock::Mutex`,
//! `futures::channel::oneshot`), so it runs inside a Durable Object and
//! compiles to wasm32.
//!
//! # Data flow
//!
//! ```text
//!  ingest(events) ──► pending buffer ──► group commit ──► StateStore  wal/{seq}/{part}   (durable: ack)
//!                                           │
//!                                           └──► SiteWriter::apply (in log order, in memory)
//!
//!  alarm() / size trigger ──► checkpoint:
//!      1. ObjectStore  sites/{site}/events/{first_seq}   raw events of the log records   (Create)
//!      2. ObjectStore  sites/{site}/hours/{hour}         closed hours' cells, dropped    (Create)
//!      3. StateStore   ckpt/{gen}/{part}                 the writer's exact state
//!      4. StateStore   ckpt  (+ deletes)                 pointer flip: gen, last seq contained
//!
//!  rollup(ranges) ──► writer's open hours  ⊔  archived closed hours   (a lattice join)
//!  query(request, site) ──► glinto_query::plan ──► rollup(plan.ranges()) ──► glinto_query::answer
//! ```
//!
//! # Where each piece of state lives, and who writes it
//!
//! | state | where | written by |
//! |---|---|---|
//! | events not yet checkpointed | StateStore `wal/…` | [`Engine::ingest`] (group commit) |
//! | de-duplication window, open visits, open hours' cells, interned values, delta seq | StateStore `ckpt/{gen}/…` + `ckpt` | the checkpoint ([`Engine::alarm`]) |
//! | raw events, forever | ObjectStore `sites/{site}/events/…` | the checkpoint, `PutMode::Create` |
//! | closed hours' cells | ObjectStore `sites/{site}/hours/…` | the checkpoint, `PutMode::Create` |
//! | the engine's in-memory writer | memory | rebuilt from the above by [`Engine::open`] |
//!
//! The KvStore is carried for the readers' snapshots (today's totals,
//! current visitors) that do not wake the writer; nothing is published to it
//! yet, and the engine never reads it: it is never the source of truth.
//!
//! # Acknowledged means durable, with group commit
//!
//! [`Engine::ingest`] appends its events to a shared pending buffer with a
//! one-shot channel for the answer, then takes the commit lock. Whoever
//! holds the lock takes *everything* pending, writes it as one log record
//! (one atomic `StateStore::write`, split into parts that fit the store's
//! value limit), applies it to the writer, and answers every waiter. Callers
//! that arrive while a write is in flight queue behind the lock; the next
//! holder writes all of them at once. There is never one storage write per
//! event. A call returns `Ok` only after the write holding its events
//! returned `Ok`: from then on the events survive any crash.
//!
//! A failed or cancelled write leaves the engine *poisoned*: the write may
//! have landed or not (`Error::Transient` is ambiguous), so memory and
//! storage may differ. The next call first reloads from storage (recovery,
//! below). The caller of the failed ingest was told `Err` and re-sends;
//! if the first write had landed, the de-duplicator counts the re-sent
//! events once (they carry the same event ids and times, well inside the
//! lateness window).
//!
//! # Checkpoint and recovery: exactly once
//!
//! Recovery ([`Engine::open`], or after a poisoned call) reads the pointer
//! `ckpt`, restores the writer from that generation's parts
//! (`SiteWriter::restore_state`), then re-applies every log record whose seq
//! is greater than the pointer's `applied_seq`, in seq order. The writer's
//! state is a deterministic function of the events applied, in order, so the
//! recovered writer is the one that crashed, minus only what was never
//! acknowledged.
//!
//! Why the writer's *state*, not just its rollup: a fresh writer fed only
//! the log would count twice every visit that spans the checkpoint and
//! restart the per-replica cumulative counters; see glinto-aggregator's
//! `writer::state`.
//!
//! A checkpoint makes each step safe to interrupt:
//! 1. Raw events go to the archive under `events/{first_seq}` with
//!    `PutMode::Create`. Records never change once logged, so an object
//!    already there holds a prefix of the same records: only the rest is
//!    written (under its own first seq). Nothing is lost or duplicated.
//! 2. Closed hours (no event can reach them: before the de-duplication
//!    floor; no held visit started in them) leave the writer and go to
//!    `hours/{hour}` with `PutMode::Create`. If the checkpoint dies later,
//!    recovery restores the older state, which still holds those hours, and
//!    they are written again; an object already there is joined with the
//!    new cells (same replica: per-field maximum of cumulative counts, union
//!    of sketches — exact, because both are histories of the same events
//!    with the same net counts). Reads join archive and writer the same way,
//!    so an hour present in both counts once.
//! 3. The writer state goes under a *new* generation `ckpt/{gen}/…`, in as
//!    many atomic batches as the store's limits need (a Durable Object takes
//!    128 keys of 128 KiB per batch). Until the pointer moves, nothing reads
//!    them; a crash leaves orphans that recovery deletes.
//! 4. One atomic batch writes the pointer (generation, parts, `applied_seq`).
//!    This is the commit point. Before it, recovery uses the old state and
//!    the whole log; after it, the new state and the records after
//!    `applied_seq`. Log records at or below `applied_seq` and the previous
//!    generation are deleted afterwards, in later batches; recovery ignores
//!    and deletes what is left.
//!
//! Any storage error during a checkpoint leaves the engine poisoned, so the
//! next call recovers from whatever storage holds: one of the two consistent
//! states above.
//!
//! Flushing is driven by the StateStore's alarm: after a commit, if no alarm
//! is known to be set, the engine sets one `checkpoint_after` ahead; the
//! host calls [`Engine::alarm`] when it fires. A commit that brings the
//! events logged since the last checkpoint to `checkpoint_events`
//! checkpoints at once (after answering its waiters).
//!
//! # Bounded memory
//!
//! The writer holds the lateness window, the open visits and the open hours'
//! cells; closed hours leave at each checkpoint, and the log records since
//! the last checkpoint (at most `checkpoint_events` events) are kept to be
//! archived. Interned values (pages, sources…) are kept for the writer's
//! life: they grow with the site's vocabulary, not its traffic.
//!
//! # Not yet here
//!
//! Site-local day and month tiers (every closed hour bucket is kept as an
//! hour object, so [`Engine::query`] reads hour cells only and a long range
//! reads one object per hour), retention, the KvStore snapshots, live
//! subscriptions, import and export through the engine, replay from the
//! archive: see the issue's closing note.

mod engine;
mod error;
mod layout;

pub use engine::{Coverage, Engine, EngineConfig, EngineStats, Stores};
pub use error::{Error, Result};
