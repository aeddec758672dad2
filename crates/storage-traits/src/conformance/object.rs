//! Conformance tests of the [`ObjectStore`] contract.

use std::collections::BTreeSet;

use bytes::Bytes;
use futures::future::join_all;

use super::{
    Context, Expected, Harness, ListQuery, Listed, Listing, Outcome, Report, Step, Stop,
    check_list_arguments, check_list_paging, ensure, expect_err, finish, key_of_len, run_tests,
};
use crate::{
    Error, GetRange, Limit, ObjectListOptions, ObjectListPage, ObjectMeta, ObjectStore, PutMode,
};

pub(super) async fn run(store: &dyn ObjectStore, h: &Harness, report: &mut Report) {
    run_tests!(
        report,
        store,
        h,
        [
            object_put_get_head,
            object_put_modes,
            object_create_race,
            object_if_match_race,
            object_ranged_get,
            object_list_paging,
            object_list_delimiter,
            object_list_arguments,
            object_delete_is_idempotent,
            object_size_limits,
            object_odd_keys,
        ]
    );
}

/// Deletes every object under `prefix`, so the suite can rerun on a store
/// that kept a previous run's objects.
async fn clear(store: &dyn ObjectStore, h: &Harness, prefix: &str) -> Step {
    let leftovers = list_all(store, ObjectListOptions::prefix(prefix)).await?;
    if !leftovers.objects.is_empty() {
        // The earlier run may have written them less than a second ago.
        h.pace(&store.capability()).await?;
    }
    for object in &leftovers.objects {
        store
            .delete(&object.key)
            .await
            .ctx("delete leftovers of an earlier run")?;
    }
    Ok(())
}

/// The object store seen by the listing clauses it shares with KV stores;
/// with a delimiter, keys collapse into common prefixes.
struct Objects<'a> {
    store: &'a dyn ObjectStore,
    delimiter: Option<char>,
}

impl Listing for Objects<'_> {
    type Entry = ObjectMeta;

    fn max_list_limit(&self) -> usize {
        self.store.capability().max_list_limit
    }

    fn key(entry: &ObjectMeta) -> &str {
        &entry.key
    }

    async fn list_page(&self, query: ListQuery) -> crate::Result<Listed<ObjectMeta>> {
        let mut options = ObjectListOptions::prefix(query.prefix).cursor(query.cursor);
        options.limit = query.limit;
        options.delimiter = self.delimiter;
        let page = self.store.list(options).await?;
        Ok(Listed {
            entries: page.objects,
            prefixes: page.common_prefixes,
            cursor: page.cursor,
        })
    }
}

/// Every page under `options` (its prefix, delimiter and limit), following
/// cursors.
async fn list_all(store: &dyn ObjectStore, options: ObjectListOptions) -> Step<ObjectListPage> {
    let objects = Objects {
        store,
        delimiter: options.delimiter,
    };
    let all = super::list_all(&objects, &options.prefix, options.limit).await?;
    Ok(ObjectListPage {
        objects: all.entries,
        common_prefixes: all.prefixes,
        cursor: None,
    })
}

/// `put` returns the written object's metadata; `get` returns the bytes with
/// the same metadata as `head`; absent objects are `None`; an overwrite with
/// different bytes changes the etag.
pub async fn object_put_get_head(store: &dyn ObjectStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("object_put_get_head")).await?;
            put_get_head(store, h).await
        }
        .await,
    )
}

async fn put_get_head(store: &dyn ObjectStore, h: &Harness) -> Step {
    let cap = store.capability();
    let key = format!("{}o", h.prefix("object_put_get_head"));
    ensure!(
        store.get(&key, None).await.ctx("get absent")?.is_none(),
        "get of an absent object must be None"
    );
    ensure!(
        store.head(&key).await.ctx("head absent")?.is_none(),
        "head of an absent object must be None"
    );
    let before = h.now();
    let meta = store
        .put(&key, Bytes::from_static(b"hello"), PutMode::Overwrite)
        .await
        .ctx("put")?;
    ensure!(
        meta.key == key && meta.size == 5,
        "put must return the written object's key and size: {meta:?}"
    );
    ensure!(
        meta.uploaded >= before,
        "uploaded ({}) must not precede the put ({before})",
        meta.uploaded
    );
    let head = store.head(&key).await.ctx("head")?;
    ensure!(
        head.as_ref() == Some(&meta),
        "head must equal put's metadata: {head:?} vs {meta:?}"
    );
    let object = store.get(&key, None).await.ctx("get")?;
    ensure!(
        object
            .as_ref()
            .is_some_and(|o| o.body == "hello" && o.meta == meta && o.range == (0..5)),
        "get must return the whole body with put's metadata: {object:?}"
    );
    h.pace(&cap).await?;
    let second = store
        .put(&key, Bytes::from_static(b"world!"), PutMode::Overwrite)
        .await
        .ctx("overwrite")?;
    ensure!(
        second.etag != meta.etag && second.size == 6,
        "an overwrite with different bytes must change the etag and size"
    );
    ensure!(
        second.uploaded >= meta.uploaded,
        "upload times must not go backwards"
    );
    let empty = format!("{}empty", h.prefix("object_put_get_head"));
    store
        .put(&empty, Bytes::new(), PutMode::Overwrite)
        .await
        .ctx("put empty")?;
    let object = store.get(&empty, None).await.ctx("get empty")?;
    ensure!(
        object.is_some_and(|o| o.body.is_empty() && o.meta.size == 0),
        "an empty object is an object"
    );
    Ok(())
}

/// `Create` writes only over nothing (`AlreadyExists` otherwise); `IfMatch`
/// only over the matching etag (`PreconditionFailed` for a stale etag or an
/// absent object); refused writes leave the object unchanged.
pub async fn object_put_modes(store: &dyn ObjectStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("object_put_modes")).await?;
            put_modes(store, h).await
        }
        .await,
    )
}

async fn put_modes(store: &dyn ObjectStore, h: &Harness) -> Step {
    let cap = store.capability();
    let p = h.prefix("object_put_modes");
    let key = format!("{p}o");
    if !cap.conditional_writes {
        expect_err(
            store.put(&key, Bytes::new(), PutMode::Create).await,
            "Create on a store without conditional writes",
            Expected::NotSupported,
        )?;
        return Err(Stop::Skip(
            "the store has no conditional writes (refusal checked)".into(),
        ));
    }
    let v1 = store
        .put(&key, Bytes::from_static(b"v1"), PutMode::Create)
        .await
        .ctx("Create over nothing")?;
    h.pace(&cap).await?;
    expect_err(
        store
            .put(&key, Bytes::from_static(b"v1-again"), PutMode::Create)
            .await,
        "Create over an existing object",
        Expected::AlreadyExists,
    )?;
    h.pace(&cap).await?;
    let v2 = store
        .put(
            &key,
            Bytes::from_static(b"v2"),
            PutMode::IfMatch(v1.etag.clone()),
        )
        .await
        .ctx("IfMatch with the current etag")?;
    h.pace(&cap).await?;
    expect_err(
        store
            .put(
                &key,
                Bytes::from_static(b"v3"),
                PutMode::IfMatch(v1.etag.clone()),
            )
            .await,
        "IfMatch with a stale etag",
        Expected::PreconditionFailed,
    )?;
    let body = required_body(store, &key).await?;
    ensure!(
        body == "v2",
        "refused conditional writes must leave the object unchanged: {body:?}"
    );
    expect_err(
        store
            .put(
                &format!("{p}absent"),
                Bytes::new(),
                PutMode::IfMatch(v2.etag),
            )
            .await,
        "IfMatch on an absent object",
        Expected::PreconditionFailed,
    )?;
    ensure!(
        store
            .head(&format!("{p}absent"))
            .await
            .ctx("head")?
            .is_none(),
        "a refused IfMatch must not create the object"
    );
    h.pace(&cap).await?;
    store.delete(&key).await.ctx("delete")?;
    h.pace(&cap).await?;
    store
        .put(&key, Bytes::from_static(b"v4"), PutMode::Create)
        .await
        .ctx("Create after delete")?;
    Ok(())
}

/// The whole body of an object that must exist.
async fn required_body(store: &dyn ObjectStore, key: &str) -> Step<Bytes> {
    match store.get(key, None).await.ctx("get")? {
        Some(object) => Ok(object.body),
        None => Err(super::fail(format!("{key:?} must exist"))),
    }
}

/// Of many concurrent `Create`s of one key exactly one wins, the others get
/// `AlreadyExists` (or, on a store with a per-key write rate limit,
/// `Transient`), and the stored body is the winner's.
pub async fn object_create_race(store: &dyn ObjectStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("object_create_race")).await?;
            create_race(store, h).await
        }
        .await,
    )
}

async fn create_race(store: &dyn ObjectStore, h: &Harness) -> Step {
    let cap = store.capability();
    if !cap.conditional_writes {
        return Err(Stop::Skip("the store has no conditional writes".into()));
    }
    // A store with a per-key write rate may answer losers with a 429.
    let rate_limited = cap.max_writes_per_key_per_second.is_some();
    let key = format!("{}o", h.prefix("object_create_race"));
    let attempts = (0..h.race_width)
        .map(|i| store.put(&key, Bytes::from(format!("writer {i}")), PutMode::Create));
    let results = join_all(attempts).await;
    let mut winners = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(_) => winners.push(i),
            Err(Error::AlreadyExists { .. }) => {}
            Err(Error::Transient { .. }) if rate_limited => {}
            Err(e) => {
                return Err(super::fail(format!(
                    "racing Create {i}: unexpected error {e}"
                )));
            }
        }
    }
    ensure!(
        winners.len() == 1,
        "exactly one racing Create must win: winners {winners:?}"
    );
    let body = required_body(store, &key).await?;
    let expected = winners.first().map(|i| format!("writer {i}"));
    ensure!(
        Some(body.as_ref()) == expected.as_deref().map(str::as_bytes),
        "the stored body must be the winner's: {body:?}"
    );
    Ok(())
}

/// Of many concurrent `IfMatch` writes with the same etag exactly one wins;
/// the others get `PreconditionFailed` (or, on a store with a per-key write
/// rate limit, `Transient`).
pub async fn object_if_match_race(store: &dyn ObjectStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("object_if_match_race")).await?;
            if_match_race(store, h).await
        }
        .await,
    )
}

async fn if_match_race(store: &dyn ObjectStore, h: &Harness) -> Step {
    let cap = store.capability();
    if !cap.conditional_writes {
        return Err(Stop::Skip("the store has no conditional writes".into()));
    }
    // A store with a per-key write rate may answer losers with a 429.
    let rate_limited = cap.max_writes_per_key_per_second.is_some();
    let key = format!("{}o", h.prefix("object_if_match_race"));
    let base = store
        .put(&key, Bytes::from_static(b"base"), PutMode::Overwrite)
        .await
        .ctx("put base")?;
    h.pace(&cap).await?;
    let attempts = (0..h.race_width).map(|i| {
        store.put(
            &key,
            Bytes::from(format!("writer {i}")),
            PutMode::IfMatch(base.etag.clone()),
        )
    });
    let results = join_all(attempts).await;
    let mut winners = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(_) => winners.push(i),
            Err(Error::PreconditionFailed { .. }) => {}
            Err(Error::Transient { .. }) if rate_limited => {}
            Err(e) => {
                return Err(super::fail(format!(
                    "racing IfMatch {i}: unexpected error {e}"
                )));
            }
        }
    }
    ensure!(
        winners.len() == 1,
        "exactly one racing IfMatch must win: winners {winners:?}"
    );
    Ok(())
}

/// Ranged reads return exactly the requested bytes (end clamped), with the
/// whole object's metadata; ranges starting at or past the end are
/// `InvalidRange`, inverted ranges `InvalidArgument`; absent objects `None`.
pub async fn object_ranged_get(store: &dyn ObjectStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("object_ranged_get")).await?;
            ranged_get(store, h).await
        }
        .await,
    )
}

async fn ranged_get(store: &dyn ObjectStore, h: &Harness) -> Step {
    let p = h.prefix("object_ranged_get");
    let key = format!("{p}o");
    let body = Bytes::from_static(b"0123456789");
    store
        .put(&key, body.clone(), PutMode::Overwrite)
        .await
        .ctx("put")?;
    let cases: &[(GetRange, &str)] = &[
        (GetRange::Bounded(0..10), "0123456789"),
        (GetRange::Bounded(2..5), "234"),
        (GetRange::Bounded(8..100), "89"),
        (GetRange::Bounded(4..4), ""),
        (GetRange::Offset(7), "789"),
        (GetRange::Offset(0), "0123456789"),
        (GetRange::Suffix(3), "789"),
        (GetRange::Suffix(30), "0123456789"),
    ];
    for (range, expected) in cases {
        let got = store
            .get(&key, Some(range.clone()))
            .await
            .ctx(&format!("get range {range}"))?;
        ensure!(
            got.as_ref().is_some_and(|o| o.body == expected.as_bytes()
                && o.meta.size == 10
                && o.range.end - o.range.start == expected.len() as u64),
            "range {range}: expected {expected:?} of a 10-byte object, got {got:?}"
        );
    }
    for range in [
        GetRange::Bounded(10..12),
        GetRange::Offset(10),
        GetRange::Offset(99),
    ] {
        expect_err(
            store.get(&key, Some(range.clone())).await,
            &format!("get range {range} of a 10-byte object"),
            Expected::InvalidRange,
        )?;
    }
    expect_err(
        store
            .get(
                &key,
                Some(GetRange::Bounded(std::ops::Range { start: 6, end: 3 })),
            )
            .await,
        "get an inverted range",
        Expected::InvalidArgument("range"),
    )?;
    ensure!(
        store
            .get(&format!("{p}absent"), Some(GetRange::Bounded(0..1)))
            .await
            .ctx("ranged get of an absent object")?
            .is_none(),
        "a ranged get of an absent object must be None"
    );
    Ok(())
}

/// Paging by cursor over thousands of objects visits each exactly once in
/// ascending byte order, and nothing outside the prefix.
pub async fn object_list_paging(store: &dyn ObjectStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("object_list_paging")).await?;
            list_paging(store, h).await
        }
        .await,
    )
}

async fn list_paging(store: &dyn ObjectStore, h: &Harness) -> Step {
    let p = h.prefix("object_list_paging");
    let inside = format!("{p}in/");
    let expected: BTreeSet<String> = (0..h.paging_keys).map(|i| format!("{inside}{i}")).collect();
    let outside = [format!("{p}in"), format!("{p}in0")];
    for key in expected.iter().chain(outside.iter()) {
        store
            .put(key, Bytes::from_static(b"x"), PutMode::Overwrite)
            .await
            .ctx("put")?;
    }
    let objects = Objects {
        store,
        delimiter: None,
    };
    for (limit, listed) in check_list_paging(&objects, &inside, &expected).await? {
        ensure!(
            listed.iter().all(|o| o.size == 1),
            "listed objects must carry their size (limit {limit})"
        );
    }
    Ok(())
}

/// With a delimiter, keys containing it after the prefix collapse into
/// common prefixes, each reported once across pages, in order.
pub async fn object_list_delimiter(store: &dyn ObjectStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("object_list_delimiter")).await?;
            list_delimiter(store, h).await
        }
        .await,
    )
}

async fn list_delimiter(store: &dyn ObjectStore, h: &Harness) -> Step {
    let cap = store.capability();
    let p = h.prefix("object_list_delimiter");
    if !cap.list_delimiter {
        expect_err(
            store
                .list(ObjectListOptions::prefix(&p).delimiter('/'))
                .await,
            "list with a delimiter on a store without delimiters",
            Expected::NotSupported,
        )?;
        return Err(Stop::Skip(
            "the store has no delimiter listing (refusal checked)".into(),
        ));
    }
    for key in ["a/1", "a/2", "a/x/3", "b", "c/1", "d", "e/f/g"] {
        store
            .put(&format!("{p}{key}"), Bytes::new(), PutMode::Overwrite)
            .await
            .ctx("put")?;
    }
    for limit in [None, Some(1), Some(2)] {
        let mut options = ObjectListOptions::prefix(&p).delimiter('/');
        options.limit = limit;
        let all = list_all(store, options).await?;
        let objects: Vec<String> = all.objects.iter().map(|o| o.key.clone()).collect();
        let expected_objects = vec![format!("{p}b"), format!("{p}d")];
        let expected_prefixes = vec![format!("{p}a/"), format!("{p}c/"), format!("{p}e/")];
        ensure!(
            objects == expected_objects && all.common_prefixes == expected_prefixes,
            "delimiter listing (limit {limit:?}): got objects {objects:?} prefixes {:?}",
            all.common_prefixes
        );
    }
    let all = list_all(
        store,
        ObjectListOptions::prefix(format!("{p}a/")).delimiter('/'),
    )
    .await?;
    let objects: Vec<String> = all.objects.iter().map(|o| o.key.clone()).collect();
    ensure!(
        objects == vec![format!("{p}a/1"), format!("{p}a/2")]
            && all.common_prefixes == vec![format!("{p}a/x/")],
        "delimiter listing one level down: got {objects:?} {:?}",
        all.common_prefixes
    );
    Ok(())
}

/// A zero limit, a limit over the maximum and a malformed cursor are refused.
pub async fn object_list_arguments(store: &dyn ObjectStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("object_list_arguments")).await?;
            list_arguments(store, h).await
        }
        .await,
    )
}

async fn list_arguments(store: &dyn ObjectStore, h: &Harness) -> Step {
    let objects = Objects {
        store,
        delimiter: None,
    };
    check_list_arguments(&objects, &h.prefix("object_list_arguments")).await
}

/// Deleting removes the object from get, head and list; deleting an absent
/// object succeeds.
pub async fn object_delete_is_idempotent(store: &dyn ObjectStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("object_delete_is_idempotent")).await?;
            delete_is_idempotent(store, h).await
        }
        .await,
    )
}

async fn delete_is_idempotent(store: &dyn ObjectStore, h: &Harness) -> Step {
    let cap = store.capability();
    let p = h.prefix("object_delete_is_idempotent");
    let key = format!("{p}o");
    store.delete(&key).await.ctx("delete absent")?;
    h.pace(&cap).await?;
    store
        .put(&key, Bytes::from_static(b"x"), PutMode::Overwrite)
        .await
        .ctx("put")?;
    h.pace(&cap).await?;
    store.delete(&key).await.ctx("delete")?;
    ensure!(
        store.get(&key, None).await.ctx("get")?.is_none()
            && store.head(&key).await.ctx("head")?.is_none(),
        "a deleted object must be absent"
    );
    let page = store
        .list(ObjectListOptions::prefix(&p))
        .await
        .ctx("list")?;
    ensure!(
        page.objects.is_empty(),
        "a deleted object must not be listed"
    );
    store.delete(&key).await.ctx("delete again")?;
    Ok(())
}

/// Keys and bodies exactly at their limits are accepted, one byte more is
/// `TooLarge`, the empty key is `InvalidKey`, and refused puts leave the
/// previous object.
pub async fn object_size_limits(store: &dyn ObjectStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("object_size_limits")).await?;
            size_limits(store, h).await
        }
        .await,
    )
}

async fn size_limits(store: &dyn ObjectStore, h: &Harness) -> Step {
    let cap = store.capability();
    let p = h.prefix("object_size_limits");
    expect_err(
        store.put("", Bytes::new(), PutMode::Overwrite).await,
        "put with an empty key",
        Expected::InvalidKey,
    )?;
    expect_err(
        store.head("").await,
        "head with an empty key",
        Expected::InvalidKey,
    )?;
    if cap.max_key_bytes < 1 << 20
        && let (Some(at), Some(over)) = (
            key_of_len(&p, cap.max_key_bytes),
            key_of_len(&p, cap.max_key_bytes + 1),
        )
    {
        store
            .put(&at, Bytes::from_static(b"v"), PutMode::Overwrite)
            .await
            .ctx("put a key of exactly max_key_bytes")?;
        expect_err(
            store.put(&over, Bytes::new(), PutMode::Overwrite).await,
            "put a key one byte over max_key_bytes",
            Expected::OneOver(Limit::KeyBytes),
        )?;
    }
    if cap.max_value_bytes <= h.max_alloc_bytes
        && let Ok(max) = usize::try_from(cap.max_value_bytes)
    {
        let key = format!("{p}big");
        store
            .put(&key, Bytes::from(vec![3u8; max]), PutMode::Overwrite)
            .await
            .ctx("put a body of exactly max_value_bytes")?;
        expect_err(
            store
                .put(&key, Bytes::from(vec![4u8; max + 1]), PutMode::Overwrite)
                .await,
            "put a body one byte over max_value_bytes",
            Expected::TooLarge(Limit::ValueBytes),
        )?;
        let body = required_body(store, &key).await?;
        ensure!(
            body.len() == max && body.first() == Some(&3),
            "a refused put must leave the previous object"
        );
    } else {
        return Err(Stop::Skip(format!(
            "max_value_bytes {} is above the harness's max_alloc_bytes {} (key limits checked)",
            cap.max_value_bytes, h.max_alloc_bytes
        )));
    }
    Ok(())
}

/// Keys with unicode, slashes, spaces, percent signs and control characters
/// round-trip through put, get, list and delete unchanged.
pub async fn object_odd_keys(store: &dyn ObjectStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("object_odd_keys")).await?;
            odd_keys(store, h).await
        }
        .await,
    )
}

async fn odd_keys(store: &dyn ObjectStore, h: &Harness) -> Step {
    let p = h.prefix("object_odd_keys");
    let keys: BTreeSet<String> = h.odd_keys.iter().map(|k| format!("{p}{k}")).collect();
    for key in &keys {
        let meta = store
            .put(
                key,
                Bytes::copy_from_slice(key.as_bytes()),
                PutMode::Overwrite,
            )
            .await
            .ctx("put an odd key")?;
        ensure!(
            &meta.key == key,
            "put must report the key unchanged: {:?}",
            meta.key
        );
    }
    for key in &keys {
        let body = required_body(store, key).await?;
        ensure!(
            body == key.as_bytes(),
            "odd key {key:?} must read back its own body"
        );
    }
    let all = list_all(store, ObjectListOptions::prefix(&p).limit(5)).await?;
    let names: Vec<String> = all.objects.into_iter().map(|o| o.key).collect();
    let expected: Vec<String> = keys.iter().cloned().collect();
    ensure!(
        names == expected,
        "odd keys must list unchanged in byte order: got {names:?}"
    );
    h.pace(&store.capability()).await?;
    for key in &keys {
        store.delete(key).await.ctx("delete an odd key")?;
    }
    let page = store
        .list(ObjectListOptions::prefix(&p))
        .await
        .ctx("list")?;
    ensure!(page.objects.is_empty(), "odd keys must delete");
    Ok(())
}
