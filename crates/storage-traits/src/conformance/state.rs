//! Conformance tests of the [`StateStore`] contract.

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;
use futures::future::join_all;

use super::{
    Context, Expected, Harness, Outcome, Report, Step, Stop, ensure, expect_err, finish,
    key_of_len, run_tests, strictly_ascending,
};
use crate::{Limit, StateListOptions, StateStore, StateStoreExt, Timestamp, WriteBatch, WriteOp};

pub(super) async fn run(store: &dyn StateStore, h: &Harness, report: &mut Report) {
    run_tests!(
        report,
        store,
        h,
        [
            state_get_put_delete,
            state_batch_is_atomic,
            state_concurrent_batches_do_not_interleave,
            state_list_ranges,
            state_list_paging,
            state_size_limits,
            state_odd_keys,
            state_alarm,
        ]
    );
}

/// Writes `entries` in batches of at most `max_batch_keys`.
async fn write_all(store: &dyn StateStore, entries: &[(String, Bytes)]) -> Step {
    let chunk = store.capability().max_batch_keys.clamp(1, 1024);
    for part in entries.chunks(chunk) {
        let batch: WriteBatch = part
            .iter()
            .map(|(k, v)| WriteOp::Put(k.clone(), v.clone()))
            .collect();
        store.write(batch).await.ctx("write")?;
    }
    Ok(())
}

/// Deletes every key under `prefix`, so the suite can rerun on a store that
/// kept a previous run's keys.
async fn clear(store: &dyn StateStore, prefix: &str) -> Step {
    let leftovers = store
        .list(StateListOptions::prefix(prefix))
        .await
        .ctx("list leftovers of an earlier run")?;
    let chunk = store.capability().max_batch_keys.clamp(1, 1024);
    for part in leftovers.chunks(chunk) {
        let batch: WriteBatch = part
            .iter()
            .map(|(key, _)| WriteOp::Delete(key.clone()))
            .collect();
        store
            .write(batch)
            .await
            .ctx("delete leftovers of an earlier run")?;
    }
    Ok(())
}

fn keys_of(entries: &[(String, Bytes)]) -> Vec<&str> {
    entries.iter().map(|(k, _)| k.as_str()).collect()
}

/// Reads see the latest acknowledged write immediately; `get_many` answers
/// in request order with `None` for absent keys (duplicates allowed);
/// deletes are idempotent.
pub async fn state_get_put_delete(store: &dyn StateStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, &h.prefix("state_get_put_delete")).await?;
            get_put_delete(store, h).await
        }
        .await,
    )
}

async fn get_put_delete(store: &dyn StateStore, h: &Harness) -> Step {
    let p = h.prefix("state_get_put_delete");
    let (a, b, c) = (format!("{p}a"), format!("{p}b"), format!("{p}c"));
    ensure!(
        store.get(&a).await.ctx("get absent")?.is_none(),
        "get of a never-written key must be None"
    );
    store.put(&a, Bytes::from_static(b"1")).await.ctx("put a")?;
    ensure!(
        store.get(&a).await.ctx("get a")? == Some(Bytes::from_static(b"1")),
        "a read right after an acknowledged write must see it"
    );
    store
        .put(&a, Bytes::from_static(b"2"))
        .await
        .ctx("put a again")?;
    store.put(&b, Bytes::new()).await.ctx("put b (empty)")?;
    let many = store.get_many(&[&b, &c, &a, &b]).await.ctx("get_many")?;
    ensure!(
        many == vec![
            Some(Bytes::new()),
            None,
            Some(Bytes::from_static(b"2")),
            Some(Bytes::new())
        ],
        "get_many must answer in request order, None where absent: got {many:?}"
    );
    ensure!(
        store
            .get_many(&[])
            .await
            .ctx("get_many of nothing")?
            .is_empty(),
        "get_many of no keys must be empty"
    );
    store.delete(&a).await.ctx("delete a")?;
    store.delete(&a).await.ctx("delete a again")?;
    store.delete(&c).await.ctx("delete never-written c")?;
    ensure!(
        store.get(&a).await.ctx("get deleted")?.is_none(),
        "a deleted key must read as None"
    );
    store
        .write(WriteBatch::new())
        .await
        .ctx("write an empty batch")?;
    Ok(())
}

/// A batch applies all its operations, later ones winning on the same key;
/// a batch that fails validation (too many keys, a key or value too large,
/// an empty key) writes nothing at all.
pub async fn state_batch_is_atomic(store: &dyn StateStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, &h.prefix("state_batch_is_atomic")).await?;
            batch_is_atomic(store, h).await
        }
        .await,
    )
}

async fn batch_is_atomic(store: &dyn StateStore, h: &Harness) -> Step {
    let cap = store.capability();
    let p = h.prefix("state_batch_is_atomic");
    let (a, b, c) = (format!("{p}a"), format!("{p}b"), format!("{p}c"));
    store
        .put(&c, Bytes::from_static(b"old"))
        .await
        .ctx("put c")?;
    if cap.max_batch_keys >= 4 {
        store
            .write(
                WriteBatch::new()
                    .put(a.clone(), Bytes::from_static(b"1"))
                    .put(b.clone(), Bytes::from_static(b"1"))
                    .delete(c.clone())
                    .put(a.clone(), Bytes::from_static(b"2")),
            )
            .await
            .ctx("write a mixed batch")?;
        let got = store.get_many(&[&a, &b, &c]).await.ctx("get_many")?;
        ensure!(
            got == vec![
                Some(Bytes::from_static(b"2")),
                Some(Bytes::from_static(b"1")),
                None
            ],
            "a batch applies every operation in order: got {got:?}"
        );
        store
            .put(&c, Bytes::from_static(b"old"))
            .await
            .ctx("put c")?;
    }
    let settled = if cap.max_batch_keys >= 4 {
        vec![
            Some(Bytes::from_static(b"2")),
            Some(Bytes::from_static(b"1")),
            Some(Bytes::from_static(b"old")),
        ]
    } else {
        vec![None, None, Some(Bytes::from_static(b"old"))]
    };
    let keys = [a.as_str(), b.as_str(), c.as_str()];
    // One value too large, after valid operations.
    if cap.max_value_bytes <= h.max_alloc_bytes
        && let Ok(max) = usize::try_from(cap.max_value_bytes)
    {
        let too_large = Bytes::from(vec![0u8; max + 1]);
        let batch = if cap.max_batch_keys >= 3 {
            WriteBatch::new()
                .put(a.clone(), Bytes::from_static(b"new"))
                .delete(c.clone())
                .put(b.clone(), too_large)
        } else {
            WriteBatch::new().put(a.clone(), too_large)
        };
        let outcome = store.write(batch).await;
        expect_err(
            outcome,
            "a batch with one value over max_value_bytes",
            Expected::TooLarge(Limit::ValueBytes),
        )?;
        unchanged(
            store,
            &keys,
            &settled,
            "after a batch with a value too large",
        )
        .await?;
    }
    // An empty key among valid operations.
    let mut with_empty = WriteBatch::new().put(a.clone(), Bytes::from_static(b"new"));
    with_empty.push(WriteOp::Put(String::new(), Bytes::new()));
    if cap.max_batch_keys >= 2 {
        expect_err(
            store.write(with_empty).await,
            "a batch with an empty key",
            Expected::InvalidKey,
        )?;
        unchanged(store, &keys, &settled, "after a batch with an empty key").await?;
    }
    // Too many keys.
    if cap.max_batch_keys < 10_000 {
        let over: WriteBatch = (0..=cap.max_batch_keys)
            .map(|i| WriteOp::Put(format!("{p}many/{i}"), Bytes::from_static(b"x")))
            .collect();
        expect_err(
            store.write(over).await,
            "a batch of max_batch_keys + 1 operations",
            Expected::TooLarge(Limit::BatchKeys),
        )?;
        let listed = store
            .list(StateListOptions::prefix(format!("{p}many/")))
            .await
            .ctx("list after refused batch")?;
        ensure!(
            listed.is_empty(),
            "a batch over max_batch_keys must write nothing: found {} keys",
            listed.len()
        );
        let exact: WriteBatch = (0..cap.max_batch_keys)
            .map(|i| WriteOp::Put(format!("{p}many/{i}"), Bytes::from_static(b"x")))
            .collect();
        store
            .write(exact)
            .await
            .ctx("a batch of exactly max_batch_keys operations")?;
        let listed = store
            .list(StateListOptions::prefix(format!("{p}many/")))
            .await
            .ctx("list after full batch")?;
        ensure!(
            listed.len() == cap.max_batch_keys,
            "a batch of exactly max_batch_keys must write every key: found {}",
            listed.len()
        );
        unchanged(store, &keys, &settled, "after unrelated batches").await?;
    }
    Ok(())
}

/// Fails unless `keys` hold `expected`: nothing of a refused batch landed.
async fn unchanged(
    store: &dyn StateStore,
    keys: &[&str],
    expected: &[Option<Bytes>],
    step: &str,
) -> Step {
    let got = store.get_many(keys).await.ctx(step)?;
    ensure!(
        got == expected,
        "{step}: a refused batch must write nothing: got {got:?}"
    );
    Ok(())
}

/// Batches issued concurrently are each applied whole: every batch writes
/// the same two keys, and afterwards both hold the same batch's value.
pub async fn state_concurrent_batches_do_not_interleave(
    store: &dyn StateStore,
    h: &Harness,
) -> Outcome {
    finish(
        async {
            clear(
                store,
                &h.prefix("state_concurrent_batches_do_not_interleave"),
            )
            .await?;
            concurrent_batches(store, h).await
        }
        .await,
    )
}

async fn concurrent_batches(store: &dyn StateStore, h: &Harness) -> Step {
    let cap = store.capability();
    if cap.max_batch_keys < 3 {
        return Err(Stop::Skip("the store has no multi-key batches".into()));
    }
    let p = h.prefix("state_concurrent_batches_do_not_interleave");
    let (x, y) = (format!("{p}x"), format!("{p}y"));
    let writes = (0..h.race_width).map(|i| {
        let value = Bytes::from(i.to_string());
        store.write(
            WriteBatch::new()
                .put(x.clone(), value.clone())
                .put(format!("{p}own/{i}"), value.clone())
                .put(y.clone(), value),
        )
    });
    for (i, result) in join_all(writes).await.into_iter().enumerate() {
        result.ctx(&format!("concurrent batch {i}"))?;
    }
    let got = store.get_many(&[&x, &y]).await.ctx("get_many")?;
    ensure!(
        got.first() == got.get(1) && got.first().is_some_and(|v| v.is_some()),
        "concurrent batches interleaved: x and y differ: {got:?}"
    );
    let own = store
        .list(StateListOptions::prefix(format!("{p}own/")))
        .await
        .ctx("list own keys")?;
    ensure!(
        own.len() == h.race_width,
        "every concurrent batch must land: {} of {}",
        own.len(),
        h.race_width
    );
    Ok(())
}

/// `list` honours prefix, inclusive and exclusive bounds, reverse order and
/// limit (which keeps the first entries in the chosen order), and returns
/// values with keys.
pub async fn state_list_ranges(store: &dyn StateStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, &h.prefix("state_list_ranges")).await?;
            list_ranges(store, h).await
        }
        .await,
    )
}

async fn list_ranges(store: &dyn StateStore, h: &Harness) -> Step {
    let p = h.prefix("state_list_ranges");
    let k = |s: &str| format!("{p}r/{s}");
    let entries: Vec<(String, Bytes)> = ["a", "b", "ba", "c", "d"]
        .iter()
        .map(|s| (k(s), Bytes::from(s.to_string())))
        .collect();
    write_all(store, &entries).await?;
    write_all(
        store,
        &[
            (format!("{p}q"), Bytes::new()),
            (format!("{p}s"), Bytes::new()),
        ],
    )
    .await?;
    let cases: Vec<(&str, StateListOptions, Vec<&str>)> = vec![
        (
            "prefix",
            StateListOptions::prefix(k("")),
            vec!["a", "b", "ba", "c", "d"],
        ),
        (
            "prefix b",
            StateListOptions::prefix(k("b")),
            vec!["b", "ba"],
        ),
        (
            "included..excluded",
            StateListOptions {
                prefix: k(""),
                ..StateListOptions::range(Bound::Included(k("b")), Bound::Excluded(k("d")))
            },
            vec!["b", "ba", "c"],
        ),
        (
            "excluded..included",
            StateListOptions {
                prefix: k(""),
                ..StateListOptions::range(Bound::Excluded(k("b")), Bound::Included(k("d")))
            },
            vec!["ba", "c", "d"],
        ),
        (
            "start_after + limit",
            StateListOptions::prefix(k("")).start_after(k("a")).limit(2),
            vec!["b", "ba"],
        ),
        (
            "reverse",
            StateListOptions::prefix(k("")).reverse(),
            vec!["d", "c", "ba", "b", "a"],
        ),
        (
            "reverse + limit keeps the last keys",
            StateListOptions::prefix(k("")).reverse().limit(2),
            vec!["d", "c"],
        ),
        (
            "reverse + end_before",
            StateListOptions::prefix(k(""))
                .end_before(k("c"))
                .reverse()
                .limit(2),
            vec!["ba", "b"],
        ),
        (
            "range outside prefix",
            StateListOptions {
                prefix: k(""),
                ..StateListOptions::range(Bound::Included(format!("{p}q")), Bound::Unbounded)
            },
            vec!["a", "b", "ba", "c", "d"],
        ),
        (
            "empty range",
            StateListOptions {
                prefix: k(""),
                ..StateListOptions::range(Bound::Included(k("c")), Bound::Excluded(k("b")))
            },
            vec![],
        ),
    ];
    for (name, options, expected) in cases {
        let got = store.list(options).await.ctx(name)?;
        let expected: Vec<(String, Bytes)> = expected
            .iter()
            .map(|s| (k(s), Bytes::from(s.to_string())))
            .collect();
        ensure!(
            got == expected,
            "list {name}: expected {:?}, got {:?}",
            keys_of(&expected),
            keys_of(&got)
        );
    }
    expect_err(
        store.list(StateListOptions::prefix(k("")).limit(0)).await,
        "list with limit 0",
        Expected::InvalidArgument("limit"),
    )?;
    Ok(())
}

/// Paging forward with `start_after` and backward with `end_before` over
/// thousands of keys visits each exactly once, in order.
pub async fn state_list_paging(store: &dyn StateStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, &h.prefix("state_list_paging")).await?;
            list_paging(store, h).await
        }
        .await,
    )
}

async fn list_paging(store: &dyn StateStore, h: &Harness) -> Step {
    let p = h.prefix("state_list_paging");
    let inside = format!("{p}in/");
    let expected: BTreeMap<String, Bytes> = (0..h.paging_keys)
        .map(|i| (format!("{inside}{i}"), Bytes::from(i.to_string())))
        .collect();
    let mut entries: Vec<(String, Bytes)> = expected.clone().into_iter().collect();
    entries.push((format!("{p}in"), Bytes::new()));
    entries.push((format!("{p}in0"), Bytes::new()));
    write_all(store, &entries).await?;
    let expected: Vec<(String, Bytes)> = expected.into_iter().collect();
    for reverse in [false, true] {
        let mut got: Vec<(String, Bytes)> = Vec::new();
        for _ in 0..=h.paging_keys {
            let mut options = StateListOptions::prefix(&inside).limit(97);
            if let Some((last, _)) = got.last() {
                options = if reverse {
                    options.end_before(last.clone())
                } else {
                    options.start_after(last.clone())
                };
            }
            if reverse {
                options = options.reverse();
            }
            let page = store.list(options).await.ctx("list page")?;
            ensure!(page.len() <= 97, "a page exceeded its limit of 97");
            if page.is_empty() {
                break;
            }
            got.extend(page);
        }
        if reverse {
            got.reverse();
        }
        ensure!(
            strictly_ascending(got.iter().map(|(k, _)| k.as_str())),
            "paging (reverse: {reverse}) must visit each key once, in order"
        );
        ensure!(
            got == expected,
            "paging (reverse: {reverse}) must return exactly the {} entries under the prefix, got {}",
            expected.len(),
            got.len()
        );
    }
    Ok(())
}

/// Keys and values exactly at their limits (value and key + value) are
/// accepted, one byte more is `TooLarge` naming the limit; the empty key is
/// `InvalidKey`; `get_many` over the batch limit is `TooLarge`.
pub async fn state_size_limits(store: &dyn StateStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, &h.prefix("state_size_limits")).await?;
            size_limits(store, h).await
        }
        .await,
    )
}

async fn size_limits(store: &dyn StateStore, h: &Harness) -> Step {
    let cap = store.capability();
    let p = h.prefix("state_size_limits");
    expect_err(
        store.get("").await,
        "get with an empty key",
        Expected::InvalidKey,
    )?;
    expect_err(
        store.put("", Bytes::new()).await,
        "put with an empty key",
        Expected::InvalidKey,
    )?;
    if cap.max_key_bytes < 1 << 20
        && let (Some(at), Some(over)) = (
            key_of_len(&p, cap.max_key_bytes),
            key_of_len(&p, cap.max_key_bytes + 1),
        )
    {
        store
            .put(&at, Bytes::from_static(b"v"))
            .await
            .ctx("put a key of exactly max_key_bytes")?;
        ensure!(
            store.get(&at).await.ctx("get the longest key")?.is_some(),
            "a key of exactly max_key_bytes must read back"
        );
        expect_err(
            store.put(&over, Bytes::new()).await,
            "put a key one byte over max_key_bytes",
            Expected::OneOver(Limit::KeyBytes),
        )?;
        expect_err(
            store.get(&over).await,
            "get a key one byte over max_key_bytes",
            Expected::TooLarge(Limit::KeyBytes),
        )?;
    }
    let key = format!("{p}big");
    // The largest value this key can carry: the value limit, or what the
    // combined key + value limit leaves of it.
    let largest = cap
        .max_value_bytes
        .min(cap.max_entry_bytes.saturating_sub(key.len() as u64));
    if largest <= h.max_alloc_bytes
        && let Ok(max) = usize::try_from(largest)
    {
        store
            .put(&key, Bytes::from(vec![1u8; max]))
            .await
            .ctx("put the largest value the limits allow")?;
        ensure!(
            store
                .get(&key)
                .await
                .ctx("get the largest value")?
                .is_some_and(|v| v.len() == max),
            "a value at the limit must read back whole"
        );
        let over_value = largest >= cap.max_value_bytes;
        let over_entry = (key.len() as u64).saturating_add(largest) >= cap.max_entry_bytes;
        let expected = match (over_value, over_entry) {
            (true, false) => Expected::TooLarge(Limit::ValueBytes),
            (false, true) => Expected::TooLarge(Limit::EntryBytes),
            _ => Expected::AnyOf(&[
                Expected::TooLarge(Limit::ValueBytes),
                Expected::TooLarge(Limit::EntryBytes),
            ]),
        };
        expect_err(
            store.put(&key, Bytes::from(vec![2u8; max + 1])).await,
            "put a value one byte over the limit",
            expected,
        )?;
        ensure!(
            store
                .get(&key)
                .await
                .ctx("get after refused put")?
                .is_some_and(|v| v.len() == max && v.first() == Some(&1)),
            "a refused put must leave the previous value"
        );
    }
    if cap.max_batch_keys < 10_000 {
        let keys: Vec<String> = (0..=cap.max_batch_keys)
            .map(|i| format!("{p}{i}"))
            .collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        expect_err(
            store.get_many(&refs).await,
            "get_many of max_batch_keys + 1 keys",
            Expected::TooLarge(Limit::BatchKeys),
        )?;
        let exact = refs.get(..cap.max_batch_keys).unwrap_or(&[]);
        store
            .get_many(exact)
            .await
            .ctx("get_many of exactly max_batch_keys keys")?;
    }
    Ok(())
}

/// Keys with unicode, slashes, spaces, percent signs and control characters
/// round-trip through write, get, list and delete unchanged.
pub async fn state_odd_keys(store: &dyn StateStore, h: &Harness) -> Outcome {
    finish(
        async {
            clear(store, &h.prefix("state_odd_keys")).await?;
            odd_keys(store, h).await
        }
        .await,
    )
}

async fn odd_keys(store: &dyn StateStore, h: &Harness) -> Step {
    let p = h.prefix("state_odd_keys");
    let entries: BTreeMap<String, Bytes> = h
        .odd_keys
        .iter()
        .map(|k| {
            let key = format!("{p}{k}");
            let value = Bytes::copy_from_slice(key.as_bytes());
            (key, value)
        })
        .collect();
    let entries: Vec<(String, Bytes)> = entries.into_iter().collect();
    write_all(store, &entries).await?;
    for (key, value) in &entries {
        ensure!(
            store.get(key).await.ctx("get an odd key")?.as_ref() == Some(value),
            "odd key {key:?} must read back its own value"
        );
    }
    let listed = store
        .list(StateListOptions::prefix(&p))
        .await
        .ctx("list odd keys")?;
    ensure!(
        listed == entries,
        "odd keys must list unchanged in byte order: got {:?}",
        keys_of(&listed)
    );
    for (key, _) in &entries {
        store.delete(key).await.ctx("delete an odd key")?;
    }
    let listed = store
        .list(StateListOptions::prefix(&p))
        .await
        .ctx("list after delete")?;
    ensure!(listed.is_empty(), "odd keys must delete");
    Ok(())
}

/// The alarm holds at most one time: set replaces it, delete clears it and
/// is idempotent, get reads it. Stores without alarms say `NotSupported`.
pub async fn state_alarm(store: &dyn StateStore, _h: &Harness) -> Outcome {
    finish(alarm(store).await)
}

async fn alarm(store: &dyn StateStore) -> Step {
    let cap = store.capability();
    let t1 = Timestamp::from_unix_millis(4_102_444_800_000); // 2100-01-01
    let t2 = Timestamp::from_unix_millis(4_102_444_800_123);
    if !cap.alarms {
        expect_err(
            store.set_alarm(t1).await,
            "set_alarm on a store without alarms",
            Expected::NotSupported,
        )?;
        return Err(Stop::Skip(
            "the store has no alarm (refusal checked)".into(),
        ));
    }
    store.delete_alarm().await.ctx("delete_alarm (reset)")?;
    ensure!(
        store.get_alarm().await.ctx("get_alarm")?.is_none(),
        "no alarm after delete_alarm"
    );
    store.set_alarm(t1).await.ctx("set_alarm")?;
    ensure!(
        store.get_alarm().await.ctx("get_alarm")? == Some(t1),
        "get_alarm must return the time set"
    );
    store.set_alarm(t2).await.ctx("set_alarm again")?;
    ensure!(
        store.get_alarm().await.ctx("get_alarm")? == Some(t2),
        "set_alarm must replace the pending alarm"
    );
    store.delete_alarm().await.ctx("delete_alarm")?;
    ensure!(
        store.get_alarm().await.ctx("get_alarm")?.is_none(),
        "delete_alarm must clear the alarm"
    );
    store.delete_alarm().await.ctx("delete_alarm again")?;
    Ok(())
}
