//! [`Faulty`]: fault injection around any store.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use glinto_storage::{
    Capability, Error, GetRange, KvEntry, KvListOptions, KvListPage, KvPutOptions, KvStore, Object,
    ObjectListOptions, ObjectListPage, ObjectMeta, ObjectStore, PutMode, Result, StateListOptions,
    StateStore, Timestamp, WriteBatch,
};

use crate::lock;

/// A store operation, as wrappers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Op {
    /// `get` (any store).
    Get,
    /// `StateStore::get_many`.
    GetMany,
    /// `ObjectStore::head`.
    Head,
    /// `KvStore::put` / `ObjectStore::put`.
    Put,
    /// `StateStore::write` (a batch).
    Write,
    /// `delete` (KV and object stores).
    Delete,
    /// `list` (any store).
    List,
    /// `StateStore::get_alarm`.
    GetAlarm,
    /// `StateStore::set_alarm`.
    SetAlarm,
    /// `StateStore::delete_alarm`.
    DeleteAlarm,
}

/// Which error an injected fault returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// [`Error::Transient`]: worth a retry.
    Transient,
    /// [`Error::Permanent`]: not worth a retry.
    Permanent,
}

/// The `source` of an injected error: says which operation was failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedFault {
    /// The failed operation.
    pub op: Op,
    /// The first key it touched (or the list prefix), if any.
    pub key: Option<String>,
    /// Whether the operation was applied before the error was returned.
    pub applied: bool,
}

impl fmt::Display for InjectedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "injected fault on {:?}", self.op)?;
        if let Some(key) = &self.key {
            write!(f, " of {key:?}")?;
        }
        if self.applied {
            f.write_str(" (after applying it)")?;
        }
        Ok(())
    }
}

impl std::error::Error for InjectedFault {}

type KeyPredicate = Arc<dyn Fn(&str) -> bool + Send + Sync>;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Trigger {
    Always,
    Nth(u64),
    FirstN(u64),
    Probability(f64),
}

/// One rule of a [`FaultPlan`]: which operations it matches and when it
/// fires. Built with [`Fault::transient`] or [`Fault::permanent`], then
/// narrowed.
///
/// ```
/// use glinto_storage_memory::{Fault, Op};
/// // The third put of a key under "salt/" fails transiently, after landing.
/// let fault = Fault::transient()
///     .on(&[Op::Put])
///     .on_keys(|k| k.starts_with("salt/"))
///     .nth(3)
///     .after_applying();
/// # let _ = fault;
/// ```
#[derive(Clone)]
pub struct Fault {
    kind: FaultKind,
    ops: Option<Vec<Op>>,
    keys: Option<KeyPredicate>,
    trigger: Trigger,
    after: bool,
}

impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fault")
            .field("kind", &self.kind)
            .field("ops", &self.ops)
            .field("keys", &self.keys.as_ref().map(|_| "<predicate>"))
            .field("trigger", &self.trigger)
            .field("after", &self.after)
            .finish()
    }
}

impl Fault {
    fn new(kind: FaultKind) -> Self {
        Fault {
            kind,
            ops: None,
            keys: None,
            trigger: Trigger::Always,
            after: false,
        }
    }

    /// A fault returning [`Error::Transient`]; matches every operation,
    /// always, until narrowed.
    pub fn transient() -> Self {
        Self::new(FaultKind::Transient)
    }

    /// A fault returning [`Error::Permanent`]; matches every operation,
    /// always, until narrowed.
    pub fn permanent() -> Self {
        Self::new(FaultKind::Permanent)
    }

    /// Only these operations.
    pub fn on(mut self, ops: &[Op]) -> Self {
        self.ops = Some(ops.to_vec());
        self
    }

    /// Only operations touching a key for which `predicate` holds (any key
    /// of a batch; the prefix of a list). Alarm operations have no key and
    /// never match.
    pub fn on_keys(mut self, predicate: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.keys = Some(Arc::new(predicate));
        self
    }

    /// Fire on the `n`-th matching call only (1-based).
    pub fn nth(mut self, n: u64) -> Self {
        self.trigger = Trigger::Nth(n);
        self
    }

    /// Fire on the first `n` matching calls.
    pub fn first(mut self, n: u64) -> Self {
        self.trigger = Trigger::FirstN(n);
        self
    }

    /// Fire on each matching call with probability `p` (0.0..=1.0), drawn
    /// from the plan's seeded generator: the same seed and call sequence
    /// fail the same calls.
    pub fn with_probability(mut self, p: f64) -> Self {
        self.trigger = Trigger::Probability(p.clamp(0.0, 1.0));
        self
    }

    /// Apply the operation, then return the error: the ambiguous failure
    /// (a timeout after the write landed) that idempotent callers must
    /// survive. Default: fail before applying anything.
    pub fn after_applying(mut self) -> Self {
        self.after = true;
        self
    }

    fn matches(&self, op: Op, keys: &[&str]) -> bool {
        self.ops.as_ref().is_none_or(|ops| ops.contains(&op))
            && self.keys.as_ref().is_none_or(|p| keys.iter().any(|k| p(k)))
    }
}

/// A decision to fail one call.
#[derive(Clone, Copy, Debug)]
struct Decision {
    kind: FaultKind,
    after: bool,
}

/// The faults to inject, with their call counters and a seeded generator.
///
/// Rules are checked in order; every matching rule counts the call, the
/// first that fires decides. Shareable between wrappers (`Arc`).
#[derive(Debug)]
pub struct FaultPlan {
    rules: Vec<(Fault, AtomicU64)>,
    rng: Mutex<u64>,
    injected: AtomicU64,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self::new(0)
    }
}

impl FaultPlan {
    /// An empty plan (fails nothing) whose random draws start from `seed`.
    pub fn new(seed: u64) -> Self {
        FaultPlan {
            rules: Vec::new(),
            rng: Mutex::new(seed),
            injected: AtomicU64::new(0),
        }
    }

    /// Adds a rule.
    pub fn with(mut self, fault: Fault) -> Self {
        self.rules.push((fault, AtomicU64::new(0)));
        self
    }

    /// How many faults were injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    /// SplitMix64: a tiny, well-distributed, seedable generator.
    fn draw(&self) -> f64 {
        let mut state = lock(&self.rng);
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 random bits into [0, 1).
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn decide(&self, op: Op, keys: &[&str]) -> Option<Decision> {
        let mut decision = None;
        for (fault, count) in &self.rules {
            if !fault.matches(op, keys) {
                continue;
            }
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let fires = match fault.trigger {
                Trigger::Always => true,
                Trigger::Nth(k) => n == k,
                Trigger::FirstN(k) => n <= k,
                Trigger::Probability(p) => self.draw() < p,
            };
            if fires && decision.is_none() {
                decision = Some(Decision {
                    kind: fault.kind,
                    after: fault.after,
                });
            }
        }
        if decision.is_some() {
            self.injected.fetch_add(1, Ordering::SeqCst);
        }
        decision
    }
}

/// Any store, with faults injected according to a [`FaultPlan`].
///
/// With an empty plan it behaves exactly like the wrapped store (and passes
/// the conformance suite). Capability is the wrapped store's.
#[derive(Debug)]
pub struct Faulty<S> {
    inner: S,
    plan: Arc<FaultPlan>,
}

impl<S> Faulty<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, plan: FaultPlan) -> Self {
        Self::shared(inner, Arc::new(plan))
    }

    /// Wraps `inner` with a plan shared with other wrappers.
    pub fn shared(inner: S, plan: Arc<FaultPlan>) -> Self {
        Faulty { inner, plan }
    }

    /// The plan (for [`FaultPlan::injected`]).
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    async fn guard<T>(
        &self,
        op: Op,
        keys: &[&str],
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let Some(decision) = self.plan.decide(op, keys) else {
            return call.await;
        };
        if decision.after {
            // A call that fails by itself reports its own error.
            call.await?;
        }
        let source = Box::new(InjectedFault {
            op,
            key: keys.first().map(|k| (*k).to_owned()),
            applied: decision.after,
        });
        Err(match decision.kind {
            FaultKind::Transient => Error::Transient { source },
            FaultKind::Permanent => Error::Permanent { source },
        })
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl<S: KvStore> KvStore for Faulty<S> {
    fn capability(&self) -> Capability {
        self.inner.capability()
    }
    async fn get(&self, key: &str) -> Result<Option<KvEntry>> {
        self.guard(Op::Get, &[key], self.inner.get(key)).await
    }
    async fn put(&self, key: &str, value: Bytes, options: KvPutOptions) -> Result<()> {
        self.guard(Op::Put, &[key], self.inner.put(key, value, options))
            .await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.guard(Op::Delete, &[key], self.inner.delete(key)).await
    }
    async fn list(&self, options: KvListOptions) -> Result<KvListPage> {
        let prefix = options.prefix.clone();
        self.guard(Op::List, &[&prefix], self.inner.list(options))
            .await
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl<S: StateStore> StateStore for Faulty<S> {
    fn capability(&self) -> Capability {
        self.inner.capability()
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.guard(Op::Get, &[key], self.inner.get(key)).await
    }
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        self.guard(Op::GetMany, keys, self.inner.get_many(keys))
            .await
    }
    async fn write(&self, batch: WriteBatch) -> Result<()> {
        let keys: Vec<String> = batch.ops().iter().map(|op| op.key().to_owned()).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.guard(Op::Write, &refs, self.inner.write(batch)).await
    }
    async fn list(&self, options: StateListOptions) -> Result<Vec<(String, Bytes)>> {
        let prefix = options.prefix.clone();
        self.guard(Op::List, &[&prefix], self.inner.list(options))
            .await
    }
    async fn get_alarm(&self) -> Result<Option<Timestamp>> {
        self.guard(Op::GetAlarm, &[], self.inner.get_alarm()).await
    }
    async fn set_alarm(&self, at: Timestamp) -> Result<()> {
        self.guard(Op::SetAlarm, &[], self.inner.set_alarm(at))
            .await
    }
    async fn delete_alarm(&self) -> Result<()> {
        self.guard(Op::DeleteAlarm, &[], self.inner.delete_alarm())
            .await
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl<S: ObjectStore> ObjectStore for Faulty<S> {
    fn capability(&self) -> Capability {
        self.inner.capability()
    }
    async fn put(&self, key: &str, body: Bytes, mode: PutMode) -> Result<ObjectMeta> {
        self.guard(Op::Put, &[key], self.inner.put(key, body, mode))
            .await
    }
    async fn get(&self, key: &str, range: Option<GetRange>) -> Result<Option<Object>> {
        self.guard(Op::Get, &[key], self.inner.get(key, range))
            .await
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        self.guard(Op::Head, &[key], self.inner.head(key)).await
    }
    async fn list(&self, options: ObjectListOptions) -> Result<ObjectListPage> {
        let prefix = options.prefix.clone();
        self.guard(Op::List, &[&prefix], self.inner.list(options))
            .await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.guard(Op::Delete, &[key], self.inner.delete(key)).await
    }
}
