//! The conformance suite: every clause of every store contract, as public
//! async functions a backend runs against itself.
//!
//! Each `kv_*`, `state_*` and `object_*` function exercises one group of
//! clauses of [`KvStore`], [`StateStore`] or [`ObjectStore`] and returns an
//! [`Outcome`]: passed, skipped (with the reason: the backend's
//! [`Capability`] says a clause does not apply, or the
//! [`Harness`] cannot let time pass), or a [`Failure`] naming the clause.
//! The `run_all_*` functions run a whole group and collect a [`Report`]; the
//! `run_*_all_ways` functions run it three times, on the store itself, behind
//! `Box<dyn …>` and behind `Arc<dyn …>`.
//!
//! A backend's test:
//!
//! ```
//! # #[cfg(not(target_arch = "wasm32"))]
//! # fn main() {
//! # use std::sync::Arc;
//! # use glinto_storage::{ManualClock, Timestamp, conformance::{Harness, run_kv_all_ways}};
//! # #[derive(Debug, Default)] struct MyKv;
//! # #[glinto_storage::async_trait]
//! # impl glinto_storage::KvStore for MyKv {
//! #     fn capability(&self) -> glinto_storage::Capability { glinto_storage::Capability::workers_kv() }
//! #     async fn get(&self, _: &str) -> glinto_storage::Result<Option<glinto_storage::KvEntry>> { Ok(None) }
//! #     async fn put(&self, _: &str, _: bytes::Bytes, _: glinto_storage::KvPutOptions) -> glinto_storage::Result<()> { Ok(()) }
//! #     async fn delete(&self, _: &str) -> glinto_storage::Result<()> { Ok(()) }
//! #     async fn list(&self, _: glinto_storage::KvListOptions) -> glinto_storage::Result<glinto_storage::KvListPage> { Ok(Default::default()) }
//! # }
//! let clock = ManualClock::new(Timestamp::from_unix_millis(1_700_000_000_000));
//! let harness = Harness::manual(clock.clone());
//! let report = futures::executor::block_on(run_kv_all_ways(|| MyKv::default(), &harness));
//! // A real backend ends with `report.assert_passed()`; this stub stores nothing.
//! assert!(!report.failed.is_empty());
//! # }
//! # #[cfg(target_arch = "wasm32")] fn main() {}
//! ```
//!
//! # Shared stores and namespaces
//!
//! Every key the suite writes starts with [`Harness::namespace`] followed by
//! the test's name, so the suite can run against a store that holds other
//! data (a real Workers KV namespace) and tests do not see each other's keys.
//! Each test first deletes whatever its own prefix still holds from an
//! earlier run, so the suite reruns on persistent stores. The one exception
//! is the Durable Object alarm, which is per store: the alarm test clears the
//! store's alarm before and after.
//!
//! # Time
//!
//! TTL expiry, KV propagation and write pacing need time to pass. The
//! harness owns a [`TimeControl`]: a [`ManualClock`] shared with the store
//! (time passes instantly), a real sleep function (for a backend whose clock
//! is not controllable, e.g. workerd), or nothing (time-dependent clauses are
//! skipped, and the report says so).

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::{
    Capability, Clock, Error, KvStore, Limit, ManualClock, ObjectStore, StateStore, Timestamp,
};

mod kv;
mod object;
mod state;

pub use kv::*;
pub use object::*;
pub use state::*;

/// What a conformance test found when it did not fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every clause checked held.
    Passed,
    /// The clauses did not apply or could not be checked; the reason says why.
    Skipped(String),
}

/// A clause of a contract that the store broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The clause and what was observed.
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for Failure {}

/// The result of one conformance test.
pub type Outcome = Result<Verdict, Failure>;

/// Why a test stopped early (internal): skip or fail.
#[derive(Debug)]
enum Stop {
    Skip(String),
    Fail(Failure),
}

type Step<T = ()> = Result<T, Stop>;

fn finish(result: Step) -> Outcome {
    match result {
        Ok(()) => Ok(Verdict::Passed),
        Err(Stop::Skip(reason)) => Ok(Verdict::Skipped(reason)),
        Err(Stop::Fail(failure)) => Err(failure),
    }
}

fn fail(detail: impl Into<String>) -> Stop {
    Stop::Fail(Failure {
        detail: detail.into(),
    })
}

/// Fails the test with a formatted clause unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::conformance::fail(format!($($msg)+)));
        }
    };
}
pub(crate) use ensure;

/// Runs the named tests in order, recording each outcome.
macro_rules! run_tests {
    ($report:expr, $store:expr, $h:expr, [$($test:ident),* $(,)?]) => {
        $( $report.record(stringify!($test).to_owned(), $test($store, $h).await); )*
    };
}
pub(crate) use run_tests;

/// Attaches "which step" to a storage error that should not have happened.
trait Context<T> {
    fn ctx(self, step: &str) -> Step<T>;
}

impl<T> Context<T> for Result<T, Error> {
    fn ctx(self, step: &str) -> Step<T> {
        self.map_err(|e| fail(format!("{step}: unexpected error: {e}")))
    }
}

/// The error a refused call must return.
#[derive(Clone, Copy, Debug)]
enum Expected {
    InvalidKey,
    InvalidArgument(&'static str),
    InvalidRange,
    TooLarge(Limit),
    /// `TooLarge` reporting a size exactly one over the limit.
    OneOver(Limit),
    NotSupported,
    AlreadyExists,
    PreconditionFailed,
    AnyOf(&'static [Expected]),
}

impl Expected {
    fn matches(self, error: &Error) -> bool {
        match (self, error) {
            (Expected::InvalidKey, Error::InvalidKey { .. })
            | (Expected::InvalidRange, Error::InvalidRange { .. })
            | (Expected::NotSupported, Error::NotSupported { .. })
            | (Expected::AlreadyExists, Error::AlreadyExists { .. })
            | (Expected::PreconditionFailed, Error::PreconditionFailed { .. }) => true,
            (Expected::InvalidArgument(want), Error::InvalidArgument { field, .. }) => {
                want == *field
            }
            (Expected::TooLarge(want), Error::TooLarge { what, .. }) => want == *what,
            (Expected::OneOver(want), Error::TooLarge { what, size, limit }) => {
                want == *what && limit.checked_add(1) == Some(*size)
            }
            (Expected::AnyOf(options), _) => options.iter().any(|o| o.matches(error)),
            _ => false,
        }
    }
}

/// Checks that `result` is the error `expected` describes.
fn expect_err<T: fmt::Debug>(result: Result<T, Error>, step: &str, expected: Expected) -> Step {
    match result {
        Err(e) if expected.matches(&e) => Ok(()),
        Err(e) => Err(fail(format!(
            "{step}: expected {expected:?}, got error {e}"
        ))),
        Ok(v) => Err(fail(format!(
            "{step}: expected {expected:?}, got Ok({v:?})"
        ))),
    }
}

/// A sleep function for [`TimeControl::Sleep`].
#[cfg(not(target_arch = "wasm32"))]
pub type SleepFn = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()>>> + Send + Sync>;
/// A sleep function for [`TimeControl::Sleep`].
#[cfg(target_arch = "wasm32")]
pub type SleepFn = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()>>>>;

/// How the harness lets time pass.
#[derive(Clone)]
pub enum TimeControl {
    /// The store reads this clock; the harness advances it (instant).
    Manual(ManualClock),
    /// The store reads a real clock (`clock`); the harness waits with
    /// `sleep`, but never longer than `max_wait` in one test (longer waits,
    /// e.g. Workers KV's 60 s minimum TTL, are skipped).
    Sleep {
        /// The clock the store reads (to compute expirations).
        clock: Arc<dyn Clock>,
        /// Waits for the given duration.
        sleep: SleepFn,
        /// The longest wait one test may make.
        max_wait: Duration,
    },
    /// Time cannot be made to pass; time-dependent clauses are skipped.
    Fixed(Arc<dyn Clock>),
}

impl fmt::Debug for TimeControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeControl::Manual(clock) => f.debug_tuple("Manual").field(clock).finish(),
            TimeControl::Sleep { max_wait, .. } => f
                .debug_struct("Sleep")
                .field("max_wait", max_wait)
                .finish_non_exhaustive(),
            TimeControl::Fixed(clock) => f.debug_tuple("Fixed").field(clock).finish(),
        }
    }
}

/// The harness: namespace, time control and scale of a conformance run.
#[derive(Clone, Debug)]
pub struct Harness {
    namespace: String,
    time: TimeControl,
    paging_keys: usize,
    race_width: usize,
    max_alloc_bytes: u64,
    settle_delay: Duration,
    odd_keys: Vec<String>,
}

impl Harness {
    /// A harness that advances `clock`, which the store under test reads.
    pub fn manual(clock: ManualClock) -> Self {
        Self::with_time(TimeControl::Manual(clock))
    }

    /// A harness with any [`TimeControl`].
    pub fn with_time(time: TimeControl) -> Self {
        Harness {
            namespace: "conformance/".to_owned(),
            time,
            paging_keys: 2_500,
            race_width: 16,
            max_alloc_bytes: 32 * 1024 * 1024,
            settle_delay: Duration::from_secs(61),
            odd_keys: ODD_KEYS.iter().map(|k| (*k).to_owned()).collect(),
        }
    }

    /// Prefix of every key the suite writes (default `conformance/`).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// How many keys the paging tests write (default 2 500).
    pub fn paging_keys(mut self, n: usize) -> Self {
        self.paging_keys = n.max(3);
        self
    }

    /// How many conditional writes race for one key (default 16).
    pub fn race_width(mut self, n: usize) -> Self {
        self.race_width = n.max(2);
        self
    }

    /// Size limits above this many bytes are not tested at the limit
    /// (default 32 MiB: Workers KV's 25 MiB is tested, R2's 5 GiB is not).
    pub fn max_alloc_bytes(mut self, n: u64) -> Self {
        self.max_alloc_bytes = n;
        self
    }

    /// For stores without read-after-write: how long after a write the suite
    /// waits before reading it back (default 61 s, KV's propagation bound).
    pub fn settle_delay(mut self, delay: Duration) -> Self {
        self.settle_delay = delay;
        self
    }

    /// The key suffixes of the odd-keys tests (default [`ODD_KEYS`]); a
    /// backend that documents a narrower key alphabet (e.g. no control
    /// characters) passes its own list and says so.
    pub fn odd_keys(mut self, keys: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.odd_keys = keys.into_iter().map(Into::into).collect();
        self
    }

    /// The configured namespace.
    pub fn namespace_prefix(&self) -> &str {
        &self.namespace
    }

    /// The key prefix of one test: `namespace + test + "/"`.
    fn prefix(&self, test: &str) -> String {
        format!("{}{test}/", self.namespace)
    }

    /// The time as the store sees it.
    fn now(&self) -> Timestamp {
        match &self.time {
            TimeControl::Manual(clock) => clock.now(),
            TimeControl::Sleep { clock, .. } | TimeControl::Fixed(clock) => clock.now(),
        }
    }

    /// Lets `d` pass, or skips the test with `why`.
    async fn pass(&self, d: Duration, why: &str) -> Step {
        match &self.time {
            TimeControl::Manual(clock) => {
                clock.advance(d);
                Ok(())
            }
            TimeControl::Sleep {
                sleep, max_wait, ..
            } if d <= *max_wait => {
                sleep(d).await;
                Ok(())
            }
            TimeControl::Sleep { max_wait, .. } => Err(Stop::Skip(format!(
                "{why} needs {d:?} to pass, more than the harness's max_wait {max_wait:?}"
            ))),
            TimeControl::Fixed(_) => Err(Stop::Skip(format!(
                "{why} needs time to pass and the harness's time is fixed"
            ))),
        }
    }

    /// Waits for writes to become visible on stores without read-after-write.
    async fn settle(&self, capability: &Capability) -> Step {
        if capability.read_after_write {
            Ok(())
        } else {
            self.pass(
                self.settle_delay,
                "reading back a write on a store without read-after-write",
            )
            .await
        }
    }

    /// Waits out the per-key write rate limit before writing a key again.
    async fn pace(&self, capability: &Capability) -> Step {
        match capability.max_writes_per_key_per_second {
            Some(n) if n > 0 => {
                let gap = Duration::from_millis(1_000_u64.div_ceil(u64::from(n)));
                self.pass(gap, "rewriting a rate-limited key").await
            }
            _ => Ok(()),
        }
    }
}

/// The outcomes of a run of several tests.
#[derive(Debug, Default)]
pub struct Report {
    /// Tests whose clauses all held.
    pub passed: Vec<String>,
    /// Tests skipped, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Tests that failed, with the broken clause.
    pub failed: Vec<(String, Failure)>,
}

impl Report {
    fn record(&mut self, name: String, outcome: Outcome) {
        match outcome {
            Ok(Verdict::Passed) => self.passed.push(name),
            Ok(Verdict::Skipped(reason)) => self.skipped.push((name, reason)),
            Err(failure) => self.failed.push((name, failure)),
        }
    }

    fn absorb(&mut self, label: &str, other: Report) {
        let tag = |name: String| format!("{label}: {name}");
        self.passed.extend(other.passed.into_iter().map(tag));
        self.skipped
            .extend(other.skipped.into_iter().map(|(n, r)| (tag(n), r)));
        self.failed
            .extend(other.failed.into_iter().map(|(n, f)| (tag(n), f)));
    }

    /// Whether no test failed.
    pub fn is_ok(&self) -> bool {
        self.failed.is_empty()
    }

    /// Panics with every failure listed unless all tests passed or were
    /// skipped: the last line of a backend's conformance test.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.is_ok(), "conformance failures:\n{self}");
    }

    /// Panics unless every test passed and none was skipped except those
    /// whose name contains one of `allowed`.
    #[track_caller]
    pub fn assert_passed_skipping_only(&self, allowed: &[&str]) {
        self.assert_passed();
        let unexpected: Vec<_> = self
            .skipped
            .iter()
            .filter(|(name, _)| !allowed.iter().any(|a| name.contains(a)))
            .collect();
        assert!(
            unexpected.is_empty(),
            "unexpectedly skipped: {unexpected:?}"
        );
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} passed, {} skipped, {} failed",
            self.passed.len(),
            self.skipped.len(),
            self.failed.len()
        )?;
        for (name, reason) in &self.skipped {
            writeln!(f, "  skipped {name}: {reason}")?;
        }
        for (name, failure) in &self.failed {
            writeln!(f, "  FAILED {name}: {failure}")?;
        }
        Ok(())
    }
}

/// Keys with bytes that trip naive encodings: non-ASCII, slashes, spaces,
/// percent signs, URL and JSON metacharacters, control characters.
pub const ODD_KEYS: &[&str] = &[
    "ünïcødé-κλειδί-鍵-🦀",
    "a/b//c/",
    "/leading-slash",
    " spaces  inside and around ",
    "100%25%zz%",
    "?query=1&x=#fragment",
    "quote\"back\\slash'",
    "tab\tnew\nline",
    "nul\u{0}byte",
    "+plus+",
    "~tilde.dot..",
    "\u{7f}del",
    "z-last",
];

/// Runs every [`KvStore`] test against `store`.
pub async fn run_all_kv(store: &dyn KvStore, h: &Harness) -> Report {
    let mut report = Report::default();
    kv::run(store, h, &mut report).await;
    report
}

/// Runs every [`StateStore`] test against `store`.
pub async fn run_all_state(store: &dyn StateStore, h: &Harness) -> Report {
    let mut report = Report::default();
    state::run(store, h, &mut report).await;
    report
}

/// Runs every [`ObjectStore`] test against `store`.
pub async fn run_all_object(store: &dyn ObjectStore, h: &Harness) -> Report {
    let mut report = Report::default();
    object::run(store, h, &mut report).await;
    report
}

/// Runs [`run_all_kv`] three times on fresh stores from `make`: the store
/// itself, as `Box<dyn KvStore>` and as `Arc<dyn KvStore>`.
pub async fn run_kv_all_ways<S: KvStore + 'static>(
    mut make: impl FnMut() -> S,
    h: &Harness,
) -> Report {
    let mut report = Report::default();
    report.absorb("plain", run_all_kv(&make(), h).await);
    let boxed: Box<dyn KvStore> = Box::new(make());
    report.absorb("Box<dyn>", run_all_kv(&boxed, h).await);
    let arced: Arc<dyn KvStore> = Arc::new(make());
    report.absorb("Arc<dyn>", run_all_kv(&arced, h).await);
    report
}

/// Runs [`run_all_state`] three times on fresh stores from `make`: the
/// store itself, as `Box<dyn StateStore>` and as `Arc<dyn StateStore>`.
pub async fn run_state_all_ways<S: StateStore + 'static>(
    mut make: impl FnMut() -> S,
    h: &Harness,
) -> Report {
    let mut report = Report::default();
    report.absorb("plain", run_all_state(&make(), h).await);
    let boxed: Box<dyn StateStore> = Box::new(make());
    report.absorb("Box<dyn>", run_all_state(&boxed, h).await);
    let arced: Arc<dyn StateStore> = Arc::new(make());
    report.absorb("Arc<dyn>", run_all_state(&arced, h).await);
    report
}

/// Runs [`run_all_object`] three times on fresh stores from `make`: the
/// store itself, as `Box<dyn ObjectStore>` and as `Arc<dyn ObjectStore>`.
pub async fn run_object_all_ways<S: ObjectStore + 'static>(
    mut make: impl FnMut() -> S,
    h: &Harness,
) -> Report {
    let mut report = Report::default();
    report.absorb("plain", run_all_object(&make(), h).await);
    let boxed: Box<dyn ObjectStore> = Box::new(make());
    report.absorb("Box<dyn>", run_all_object(&boxed, h).await);
    let arced: Arc<dyn ObjectStore> = Arc::new(make());
    report.absorb("Arc<dyn>", run_all_object(&arced, h).await);
    report
}

/// A key of exactly `len` bytes starting with `prefix` (`None` if the
/// prefix is already longer).
fn key_of_len(prefix: &str, len: usize) -> Option<String> {
    let pad = len.checked_sub(prefix.len())?;
    Some(format!("{prefix}{}", "k".repeat(pad)))
}

/// Whether `keys` is strictly ascending (sorted, no duplicates).
fn strictly_ascending<'a>(keys: impl IntoIterator<Item = &'a str>) -> bool {
    let mut previous: Option<&str> = None;
    for key in keys {
        if previous.is_some_and(|p| p >= key) {
            return false;
        }
        previous = Some(key);
    }
    true
}

/// What one listing query asks: entries under `prefix`, at most `limit` of
/// them (the store's default without one), resuming at `cursor`.
#[derive(Clone, Debug, Default)]
struct ListQuery {
    prefix: String,
    limit: Option<usize>,
    cursor: Option<String>,
}

impl ListQuery {
    fn prefix(prefix: &str) -> Self {
        ListQuery {
            prefix: prefix.to_owned(),
            ..ListQuery::default()
        }
    }

    fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    fn cursor(mut self, cursor: &str) -> Self {
        self.cursor = Some(cursor.to_owned());
        self
    }
}

/// One page of a listing (or all pages of one, concatenated): the entries,
/// the collapsed common prefixes (object listings with a delimiter; empty
/// otherwise) and the cursor of the next page.
#[derive(Debug)]
struct Listed<E> {
    entries: Vec<E>,
    prefixes: Vec<String>,
    cursor: Option<String>,
}

/// The listing clauses the KV and object contracts share (limits, cursors,
/// prefixes), over either store. Each store's module implements it; what is
/// its own (KV metadata, object sizes, delimiters) stays in the entries and
/// in that module.
trait Listing {
    /// A listed entry: a KV key with its metadata, or an object's metadata.
    type Entry: fmt::Debug;

    fn max_list_limit(&self) -> usize;

    /// The entry's key.
    fn key(entry: &Self::Entry) -> &str;

    /// Lists one page.
    async fn list_page(&self, query: ListQuery) -> Result<Listed<Self::Entry>, Error>;
}

/// Every entry under `prefix`, following cursors with pages of `limit`;
/// each page must keep to the limit.
async fn list_all<L: Listing>(
    store: &L,
    prefix: &str,
    limit: Option<usize>,
) -> Step<Listed<L::Entry>> {
    let mut all = Listed {
        entries: Vec::new(),
        prefixes: Vec::new(),
        cursor: None,
    };
    let mut query = ListQuery::prefix(prefix);
    query.limit = limit;
    // A page may be empty with a cursor; bound the loop anyway so a broken
    // cursor cannot hang the suite.
    for _ in 0..100_000 {
        let page = store.list_page(query.clone()).await.ctx("list")?;
        let entries = page.entries.len() + page.prefixes.len();
        if let Some(limit) = limit {
            ensure!(
                entries <= limit,
                "list: page of {entries} entries exceeds limit {limit}"
            );
        }
        all.entries.extend(page.entries);
        all.prefixes.extend(page.prefixes);
        match page.cursor {
            Some(next) => query.cursor = Some(next),
            None => return Ok(all),
        }
    }
    Err(fail("list: cursor never reached the end"))
}

/// Paging by cursor under `inside` with pages of 1000 (or the store's
/// maximum) and of 7 visits each key exactly once, in strictly ascending
/// byte order, and returns exactly `expected`. Gives each limit's entries
/// back for the store's own checks.
async fn check_list_paging<L: Listing>(
    store: &L,
    inside: &str,
    expected: &BTreeSet<String>,
) -> Step<Vec<(usize, Vec<L::Entry>)>> {
    let mut listings = Vec::new();
    for limit in [1000.min(store.max_list_limit()), 7] {
        let listed = list_all(store, inside, Some(limit)).await?;
        ensure!(
            strictly_ascending(listed.entries.iter().map(L::key)),
            "list (limit {limit}) must be strictly ascending, without duplicates"
        );
        let got: BTreeSet<String> = listed
            .entries
            .iter()
            .map(|e| L::key(e).to_owned())
            .collect();
        ensure!(
            got == *expected,
            "list (limit {limit}) must return exactly the {} keys under the prefix: {} missing, {} extra",
            expected.len(),
            expected.difference(&got).count(),
            got.difference(expected).count()
        );
        listings.push((limit, listed.entries));
    }
    Ok(listings)
}

/// A zero limit, a limit above the maximum and a malformed cursor are
/// refused; listing the empty prefix `p` is empty and complete.
async fn check_list_arguments<L: Listing>(store: &L, p: &str) -> Step {
    expect_err(
        store.list_page(ListQuery::prefix(p).limit(0)).await,
        "list with limit 0",
        Expected::InvalidArgument("limit"),
    )?;
    if let Some(over) = store.max_list_limit().checked_add(1) {
        expect_err(
            store.list_page(ListQuery::prefix(p).limit(over)).await,
            "list with limit above max_list_limit",
            Expected::TooLarge(Limit::ListLimit),
        )?;
    }
    expect_err(
        store
            .list_page(ListQuery::prefix(p).cursor("\u{0}not a cursor\u{0}"))
            .await,
        "list with a malformed cursor",
        Expected::InvalidArgument("cursor"),
    )?;
    let page = store
        .list_page(ListQuery::prefix(p))
        .await
        .ctx("list of an empty prefix")?;
    ensure!(
        page.entries.is_empty() && page.prefixes.is_empty() && page.cursor.is_none(),
        "listing a prefix with no entries must be empty and complete: got {page:?}"
    );
    Ok(())
}
