//! Conformance tests of the [`KvStore`] contract.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;

use super::{
    Context, Expected, Harness, ListQuery, Listed, Listing, Outcome, Report, Step, Stop,
    check_list_arguments, check_list_paging, ensure, expect_err, finish, key_of_len, run_tests,
};
use crate::{KvEntry, KvKey, KvListOptions, KvPutOptions, KvStore, Limit};

pub(super) async fn run(store: &dyn KvStore, h: &Harness, report: &mut Report) {
    run_tests!(
        report,
        store,
        h,
        [
            kv_put_get_overwrite,
            kv_delete_is_idempotent,
            kv_ttl_expiry,
            kv_ttl_minimum,
            kv_list_paging,
            kv_list_arguments,
            kv_size_limits,
            kv_odd_keys,
        ]
    );
}

async fn get(store: &dyn KvStore, key: &str, step: &str) -> Step<Option<KvEntry>> {
    store.get(key).await.ctx(step)
}

/// Deletes every key under `prefix`, so the suite can rerun on a store that
/// kept a previous run's keys.
async fn clear(store: &dyn KvStore, h: &Harness, prefix: &str) -> Step {
    let limit = store.capability().max_list_limit.min(1000);
    let leftovers = list_all(store, prefix, limit).await?;
    if !leftovers.is_empty() {
        // The earlier run may have written them less than a second ago.
        h.pace(&store.capability()).await?;
    }
    for key in &leftovers {
        store
            .delete(&key.name)
            .await
            .ctx("delete leftovers of an earlier run")?;
    }
    if !leftovers.is_empty() {
        h.settle(&store.capability()).await?;
    }
    Ok(())
}

/// The KV store seen by the listing clauses it shares with object stores.
struct Kv<'a>(&'a dyn KvStore);

impl Listing for Kv<'_> {
    type Entry = KvKey;

    fn max_list_limit(&self) -> usize {
        self.0.capability().max_list_limit
    }

    fn key(entry: &KvKey) -> &str {
        &entry.name
    }

    async fn list_page(&self, query: ListQuery) -> crate::Result<Listed<KvKey>> {
        let mut options = KvListOptions::prefix(query.prefix).cursor(query.cursor);
        options.limit = query.limit;
        let page = self.0.list(options).await?;
        Ok(Listed {
            entries: page.keys,
            prefixes: Vec::new(),
            cursor: page.cursor,
        })
    }
}

/// Every key under `prefix`, following cursors with pages of `limit`.
async fn list_all(store: &dyn KvStore, prefix: &str, limit: usize) -> Step<Vec<KvKey>> {
    Ok(super::list_all(&Kv(store), prefix, Some(limit))
        .await?
        .entries)
}

/// Get returns what put wrote, with its metadata; absent keys are `None`; a
/// rewrite replaces value and metadata; empty values are values.
pub async fn kv_put_get_overwrite(store: &dyn KvStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("kv_put_get_overwrite")).await?;
            put_get_overwrite(store, h).await
        }
        .await,
    )
}

async fn put_get_overwrite(store: &dyn KvStore, h: &Harness) -> Step {
    let cap = store.capability();
    let p = h.prefix("kv_put_get_overwrite");
    let key = format!("{p}k");
    ensure!(
        get(store, &key, "get absent").await?.is_none(),
        "get of a never-written key must be None"
    );
    let with_meta = cap.max_metadata_bytes > 0;
    let options = if with_meta {
        KvPutOptions::new().metadata(r#"{"v":1}"#)
    } else {
        KvPutOptions::new()
    };
    store
        .put(&key, Bytes::from_static(b"first"), options)
        .await
        .ctx("put")?;
    h.settle(&cap).await?;
    let entry = get(store, &key, "get").await?;
    let expected_meta = with_meta.then(|| r#"{"v":1}"#.to_owned());
    ensure!(
        entry
            == Some(KvEntry {
                value: Bytes::from_static(b"first"),
                metadata: expected_meta.clone()
            }),
        "get after put: got {entry:?}"
    );
    let listed = list_all(store, &p, cap.max_list_limit.min(1000)).await?;
    ensure!(
        listed.len() == 1
            && listed.first().is_some_and(|k| k.name == key
                && k.metadata == expected_meta
                && k.expiration.is_none()),
        "list must show the key with its metadata and no expiration: got {listed:?}"
    );
    h.pace(&cap).await?;
    store
        .put(&key, Bytes::from_static(b"second"), KvPutOptions::new())
        .await
        .ctx("overwrite")?;
    h.settle(&cap).await?;
    let entry = get(store, &key, "get after overwrite").await?;
    ensure!(
        entry
            == Some(KvEntry {
                value: Bytes::from_static(b"second"),
                metadata: None
            }),
        "an overwrite replaces value and metadata: got {entry:?}"
    );
    let empty = format!("{p}empty");
    store
        .put(&empty, Bytes::new(), KvPutOptions::new())
        .await
        .ctx("put empty value")?;
    h.settle(&cap).await?;
    let entry = get(store, &empty, "get empty value").await?;
    ensure!(
        entry.as_ref().is_some_and(|e| e.value.is_empty()),
        "an empty value is a value, not an absence: got {entry:?}"
    );
    if !with_meta {
        expect_err(
            store
                .put(&key, Bytes::new(), KvPutOptions::new().metadata("m"))
                .await,
            "put with metadata on a store without metadata",
            Expected::AnyOf(&[
                Expected::TooLarge(Limit::MetadataBytes),
                Expected::NotSupported,
            ]),
        )?;
    }
    Ok(())
}

/// Deleting removes the key; deleting an absent key succeeds.
pub async fn kv_delete_is_idempotent(store: &dyn KvStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("kv_delete_is_idempotent")).await?;
            delete_is_idempotent(store, h).await
        }
        .await,
    )
}

async fn delete_is_idempotent(store: &dyn KvStore, h: &Harness) -> Step {
    let cap = store.capability();
    let key = format!("{}k", h.prefix("kv_delete_is_idempotent"));
    store.delete(&key).await.ctx("delete of an absent key")?;
    h.pace(&cap).await?;
    store
        .put(&key, Bytes::from_static(b"v"), KvPutOptions::new())
        .await
        .ctx("put")?;
    h.settle(&cap).await?;
    h.pace(&cap).await?;
    store.delete(&key).await.ctx("delete")?;
    h.settle(&cap).await?;
    ensure!(
        get(store, &key, "get after delete").await?.is_none(),
        "a deleted key must read as None"
    );
    h.pace(&cap).await?;
    store.delete(&key).await.ctx("second delete")?;
    Ok(())
}

/// Entries with an expiration are readable and listed before it and absent
/// (from get and list) after it; a rewrite without expiration is permanent.
/// Stores without TTL refuse an expiration with `NotSupported`.
pub async fn kv_ttl_expiry(store: &dyn KvStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("kv_ttl_expiry")).await?;
            ttl_expiry(store, h).await
        }
        .await,
    )
}

async fn ttl_expiry(store: &dyn KvStore, h: &Harness) -> Step {
    let cap = store.capability();
    let p = h.prefix("kv_ttl_expiry");
    let after = format!("{p}after");
    let at = format!("{p}at");
    let renewed = format!("{p}renewed");
    if !cap.ttl {
        expect_err(
            store
                .put(
                    &after,
                    Bytes::new(),
                    KvPutOptions::new().expire_after(Duration::from_secs(3600)),
                )
                .await,
            "put with a TTL on a store without TTL",
            Expected::NotSupported,
        )?;
        return Err(Stop::Skip("the store has no TTL (refusal checked)".into()));
    }
    // Long enough to survive the settle delay, at least the minimum.
    let settle = if cap.read_after_write {
        Duration::ZERO
    } else {
        h.settle_delay
    };
    let ttl = cap.min_ttl.max(Duration::from_secs(1)) + settle;
    let now = h.now();
    store
        .put(
            &after,
            Bytes::from_static(b"a"),
            KvPutOptions::new().expire_after(ttl),
        )
        .await
        .ctx("put with expire_after")?;
    store
        .put(
            &at,
            Bytes::from_static(b"b"),
            KvPutOptions::new().expire_at(now.saturating_add(ttl)),
        )
        .await
        .ctx("put with expire_at")?;
    store
        .put(
            &renewed,
            Bytes::from_static(b"c"),
            KvPutOptions::new().expire_after(ttl),
        )
        .await
        .ctx("put renewed with TTL")?;
    h.settle(&cap).await?;
    for key in [&after, &at, &renewed] {
        ensure!(
            get(store, key, "get before expiry").await?.is_some(),
            "{key:?} must be readable before its expiration"
        );
    }
    let listed = list_all(store, &p, 1000.min(cap.max_list_limit)).await?;
    let deadline = now.saturating_add(ttl);
    for key in &listed {
        // Workers KV keeps whole seconds: allow rounding either way.
        let close = |e: crate::Timestamp| {
            e.saturating_duration_since(deadline)
                .max(deadline.saturating_duration_since(e))
                <= settle + Duration::from_secs(1)
        };
        ensure!(
            key.expiration.is_some_and(close),
            "list must report the expiration of {:?} (about {deadline}), got {:?}",
            key.name,
            key.expiration
        );
    }
    ensure!(
        listed.len() == 3,
        "list before expiry: expected 3 keys, got {listed:?}"
    );
    h.pace(&cap).await?;
    store
        .put(&renewed, Bytes::from_static(b"c2"), KvPutOptions::new())
        .await
        .ctx("rewrite without TTL")?;
    h.pass(ttl + Duration::from_secs(1), "TTL expiry").await?;
    h.settle(&cap).await?;
    for key in [&after, &at] {
        ensure!(
            get(store, key, "get after expiry").await?.is_none(),
            "{key:?} must be absent after its expiration"
        );
    }
    let entry = get(store, &renewed, "get rewritten key").await?;
    ensure!(
        entry.is_some_and(|e| e.value == "c2"),
        "a rewrite without expiration must make the key permanent"
    );
    let listed = list_all(store, &p, 1000.min(cap.max_list_limit)).await?;
    ensure!(
        listed.len() == 1
            && listed
                .first()
                .is_some_and(|k| k.name == renewed && k.expiration.is_none()),
        "list after expiry must hold only the permanent key: got {listed:?}"
    );
    Ok(())
}

/// Expirations below the minimum TTL, or in the past, are refused with
/// `InvalidArgument` and write nothing.
pub async fn kv_ttl_minimum(store: &dyn KvStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("kv_ttl_minimum")).await?;
            ttl_minimum(store, h).await
        }
        .await,
    )
}

async fn ttl_minimum(store: &dyn KvStore, h: &Harness) -> Step {
    let cap = store.capability();
    if !cap.ttl {
        return Err(Stop::Skip("the store has no TTL".into()));
    }
    let key = format!("{}k", h.prefix("kv_ttl_minimum"));
    let invalid = Expected::InvalidArgument("expiration");
    if let Some(short) = cap.min_ttl.checked_sub(Duration::from_millis(1))
        && !cap.min_ttl.is_zero()
    {
        expect_err(
            store
                .put(&key, Bytes::new(), KvPutOptions::new().expire_after(short))
                .await,
            "expire_after just below min_ttl",
            invalid,
        )?;
    }
    expect_err(
        store
            .put(
                &key,
                Bytes::new(),
                KvPutOptions::new().expire_after(Duration::ZERO),
            )
            .await,
        "expire_after zero",
        invalid,
    )?;
    let past = crate::Timestamp::from_unix_millis(h.now().as_unix_millis().saturating_sub(1_000));
    expect_err(
        store
            .put(&key, Bytes::new(), KvPutOptions::new().expire_at(past))
            .await,
        "expire_at in the past",
        invalid,
    )?;
    h.settle(&cap).await?;
    ensure!(
        get(store, &key, "get after refused puts").await?.is_none(),
        "a refused put must write nothing"
    );
    Ok(())
}

/// Paging by cursor over thousands of keys visits each key under the prefix
/// exactly once, in ascending byte order, and no key outside it.
pub async fn kv_list_paging(store: &dyn KvStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("kv_list_paging")).await?;
            list_paging(store, h).await
        }
        .await,
    )
}

async fn list_paging(store: &dyn KvStore, h: &Harness) -> Step {
    let cap = store.capability();
    let p = h.prefix("kv_list_paging");
    let inside = format!("{p}in/");
    // Keys that share a textual prefix but are not under `inside`.
    let outside = [format!("{p}in"), format!("{p}in0"), format!("{p}im/z")];
    let mut expected = BTreeSet::new();
    for i in 0..h.paging_keys {
        // Unpadded numbers so byte order differs from numeric order.
        expected.insert(format!("{inside}{i}"));
    }
    for key in expected.iter().chain(outside.iter()) {
        store
            .put(key, Bytes::from_static(b"v"), KvPutOptions::new())
            .await
            .ctx("put")?;
    }
    h.settle(&cap).await?;
    check_list_paging(&Kv(store), &inside, &expected).await?;
    Ok(())
}

/// A zero list limit, a limit above the maximum and a malformed cursor are
/// refused; an empty prefix lists nothing more than what exists.
pub async fn kv_list_arguments(store: &dyn KvStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("kv_list_arguments")).await?;
            list_arguments(store, h).await
        }
        .await,
    )
}

async fn list_arguments(store: &dyn KvStore, h: &Harness) -> Step {
    check_list_arguments(&Kv(store), &h.prefix("kv_list_arguments")).await
}

/// Keys, values and metadata exactly at their limits are accepted, one byte
/// more is `TooLarge` naming the limit, the empty key is `InvalidKey`, and a
/// refused put leaves the previous value in place.
pub async fn kv_size_limits(store: &dyn KvStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("kv_size_limits")).await?;
            size_limits(store, h).await
        }
        .await,
    )
}

async fn size_limits(store: &dyn KvStore, h: &Harness) -> Step {
    let cap = store.capability();
    let p = h.prefix("kv_size_limits");
    expect_err(
        store.put("", Bytes::new(), KvPutOptions::new()).await,
        "put with an empty key",
        Expected::InvalidKey,
    )?;
    expect_err(
        store.get("").await,
        "get with an empty key",
        Expected::InvalidKey,
    )?;
    if let (Some(at), Some(over)) = (
        key_of_len(&p, cap.max_key_bytes),
        cap.max_key_bytes
            .checked_add(1)
            .and_then(|n| key_of_len(&p, n)),
    ) && cap.max_key_bytes < 1 << 20
    {
        store
            .put(&at, Bytes::from_static(b"v"), KvPutOptions::new())
            .await
            .ctx("put with a key of exactly max_key_bytes")?;
        expect_err(
            store.put(&over, Bytes::new(), KvPutOptions::new()).await,
            "put with a key one byte over max_key_bytes",
            Expected::OneOver(Limit::KeyBytes),
        )?;
    }
    let key = format!("{p}value");
    store
        .put(&key, Bytes::from_static(b"previous"), KvPutOptions::new())
        .await
        .ctx("put previous value")?;
    if cap.max_value_bytes <= h.max_alloc_bytes
        && let Ok(max) = usize::try_from(cap.max_value_bytes)
    {
        h.pace(&cap).await?;
        let big = format!("{p}big");
        store
            .put(&big, Bytes::from(vec![7u8; max]), KvPutOptions::new())
            .await
            .ctx("put a value of exactly max_value_bytes")?;
        h.settle(&cap).await?;
        let entry = get(store, &big, "get the largest value").await?;
        ensure!(
            entry.is_some_and(|e| e.value.len() == max),
            "a value of exactly max_value_bytes must read back whole"
        );
        h.pace(&cap).await?;
        store.delete(&big).await.ctx("delete the largest value")?;
        expect_err(
            store
                .put(&key, Bytes::from(vec![7u8; max + 1]), KvPutOptions::new())
                .await,
            "put a value one byte over max_value_bytes",
            Expected::TooLarge(Limit::ValueBytes),
        )?;
    }
    if cap.max_metadata_bytes > 0 && cap.max_metadata_bytes < 1 << 20 {
        h.pace(&cap).await?;
        let meta = format!("{p}meta");
        store
            .put(
                &meta,
                Bytes::new(),
                KvPutOptions::new().metadata("m".repeat(cap.max_metadata_bytes)),
            )
            .await
            .ctx("put metadata of exactly max_metadata_bytes")?;
        expect_err(
            store
                .put(
                    &key,
                    Bytes::new(),
                    KvPutOptions::new().metadata("m".repeat(cap.max_metadata_bytes + 1)),
                )
                .await,
            "put metadata one byte over max_metadata_bytes",
            Expected::TooLarge(Limit::MetadataBytes),
        )?;
    }
    h.settle(&cap).await?;
    let entry = get(store, &key, "get after refused puts").await?;
    ensure!(
        entry.is_some_and(|e| e.value == "previous"),
        "a refused put must leave the previous value in place"
    );
    Ok(())
}

/// Keys with unicode, slashes, spaces, percent signs and control characters
/// round-trip through put, get, list and delete unchanged.
pub async fn kv_odd_keys(store: &dyn KvStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, h, &h.prefix("kv_odd_keys")).await?;
            odd_keys(store, h).await
        }
        .await,
    )
}

async fn odd_keys(store: &dyn KvStore, h: &Harness) -> Step {
    let cap = store.capability();
    let p = h.prefix("kv_odd_keys");
    let keys: BTreeSet<String> = h.odd_keys.iter().map(|k| format!("{p}{k}")).collect();
    for key in &keys {
        store
            .put(
                key,
                Bytes::copy_from_slice(key.as_bytes()),
                KvPutOptions::new(),
            )
            .await
            .ctx("put an odd key")?;
    }
    h.settle(&cap).await?;
    for key in &keys {
        let entry = get(store, key, "get an odd key").await?;
        ensure!(
            entry.is_some_and(|e| e.value == key.as_bytes()),
            "odd key {key:?} must read back its own value"
        );
    }
    let listed = list_all(store, &p, 5.min(cap.max_list_limit)).await?;
    let names: Vec<String> = listed.into_iter().map(|k| k.name).collect();
    let expected: Vec<String> = keys.iter().cloned().collect();
    ensure!(
        names == expected,
        "odd keys must list unchanged in byte order: got {names:?}"
    );
    h.pace(&cap).await?;
    for key in &keys {
        store.delete(key).await.ctx("delete an odd key")?;
    }
    h.settle(&cap).await?;
    let listed = list_all(store, &p, 5.min(cap.max_list_limit)).await?;
    ensure!(listed.is_empty(), "odd keys must delete: left {listed:?}");
    Ok(())
}
