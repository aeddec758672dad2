//! Behaviour particular to the local backend, beyond the shared conformance suite: expiry
//! purging, cursors under concurrent writes, chunked bodies and ranged reads.

use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::executor::block_on;
use glinto_storage::{
    GetRange, KvListOptions, KvPutOptions, KvStore, KvStoreExt, ManualClock, ObjectListOptions,
    ObjectStore, PutMode, StateListOptions, StateStore, Timestamp, WriteBatch,
};
use glinto_storage_local::{LocalOptions, LocalStore};

fn open() -> (tempfile::TempDir, LocalStore, ManualClock) {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(Timestamp::from_unix_millis(1_700_000_000_000));
    let store = LocalStore::open_with(
        dir.path(),
        LocalOptions::new().clock(Arc::new(clock.clone())),
    )
    .expect("open");
    (dir, store, clock)
}

fn body(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

#[test]
fn expired_entries_are_invisible_then_purged() {
    let (_dir, store, clock) = open();
    let kv = store.kv("ttl").expect("kv");
    block_on(async {
        for i in 0..50 {
            let ttl = Duration::from_secs(60 + i);
            kv.put(
                &format!("k{i:02}"),
                Bytes::from_static(b"v"),
                KvPutOptions::new().expire_after(ttl),
            )
            .await
            .expect("put");
        }
        kv.put("forever", Bytes::from_static(b"v"), KvPutOptions::new())
            .await
            .expect("put");
        clock.advance(Duration::from_secs(85));
        // k00..=k25 have expired (deadline ≤ now): invisible at once, before any purge.
        assert_eq!(kv.get("k25").await.expect("get"), None);
        assert!(kv.get("k26").await.expect("get").is_some());
        assert_eq!(kv.list_all("", 7).await.expect("list").len(), 25);
        // Writes purge a bounded number each; purge_expired removes the rest.
        let purged = kv.purge_expired().expect("purge");
        assert!(purged <= 26, "{purged}");
        assert_eq!(kv.purge_expired().expect("purge again"), 0);
        clock.advance(Duration::from_secs(3600));
        assert_eq!(kv.purge_expired().expect("purge all"), 24);
        assert_eq!(kv.list_all("", 100).await.expect("list").len(), 1);
    });
}

#[test]
fn rewriting_without_expiry_makes_a_key_permanent() {
    let (_dir, store, clock) = open();
    let kv = store.kv("ttl").expect("kv");
    block_on(async {
        kv.put(
            "k",
            Bytes::from_static(b"1"),
            KvPutOptions::new().expire_after(Duration::from_secs(60)),
        )
        .await
        .expect("put");
        kv.put("k", Bytes::from_static(b"2"), KvPutOptions::new())
            .await
            .expect("put");
        clock.advance(Duration::from_secs(120));
        assert_eq!(kv.purge_expired().expect("purge"), 0);
        assert_eq!(
            kv.get("k").await.expect("get").map(|e| e.value),
            Some(Bytes::from_static(b"2"))
        );
    });
}

#[test]
fn a_cursor_stays_valid_while_keys_are_written_around_it() {
    let (_dir, store, _clock) = open();
    let kv = store.kv("paging").expect("kv");
    block_on(async {
        for i in (0..100).step_by(2) {
            kv.put(
                &format!("k{i:03}"),
                Bytes::from_static(b"v"),
                KvPutOptions::new(),
            )
            .await
            .expect("put");
        }
        let page = kv
            .list(KvListOptions::prefix("k").limit(10))
            .await
            .expect("page 1");
        let last = page.keys.last().map(|k| k.name.clone()).expect("ten keys");
        assert_eq!(last, "k018");
        // Behind the cursor: never seen. Ahead of it: seen. Deleted ahead: not seen.
        kv.put("k001", Bytes::from_static(b"v"), KvPutOptions::new())
            .await
            .expect("put behind");
        kv.put("k019", Bytes::from_static(b"v"), KvPutOptions::new())
            .await
            .expect("put ahead");
        kv.delete("k020").await.expect("delete ahead");
        let mut rest = Vec::new();
        let mut cursor = page.cursor;
        while let Some(c) = cursor {
            let page = kv
                .list(KvListOptions::prefix("k").cursor(Some(c)).limit(10))
                .await
                .expect("page");
            rest.extend(page.keys.into_iter().map(|k| k.name));
            cursor = page.cursor;
        }
        assert_eq!(rest.first().map(String::as_str), Some("k019"));
        assert!(
            !rest
                .iter()
                .any(|k| k == "k001" || k == "k020" || k.as_str() <= "k018")
        );
        assert_eq!(rest.len(), 50 - 10 - 1 + 1);
    });
}

#[test]
fn ranged_reads_across_chunk_boundaries() {
    let (_dir, store, _clock) = open();
    let objects = store.objects("ranges").expect("objects");
    let data = body(300_000);
    let check = |range: GetRange, expected: std::ops::Range<usize>| {
        let object = block_on(objects.get("big", Some(range.clone())))
            .expect("get")
            .expect("object");
        assert_eq!(
            object.range,
            expected.start as u64..expected.end as u64,
            "{range}"
        );
        assert_eq!(object.body.as_ref(), &data[expected], "{range}");
    };
    block_on(objects.put("big", data.clone(), PutMode::Overwrite)).expect("put");
    check(GetRange::Bounded(0..10), 0..10);
    check(GetRange::Bounded(65_270..65_290), 65_270..65_290);
    check(GetRange::Bounded(1000..200_000), 1000..200_000);
    check(GetRange::Offset(299_999), 299_999..300_000);
    check(GetRange::Suffix(70_000), 230_000..300_000);
    check(GetRange::Bounded(250_000..400_000), 250_000..300_000);
    // Overwriting with a smaller body leaves nothing of the old one readable.
    let small = body(5);
    let meta = block_on(objects.put("big", small.clone(), PutMode::Overwrite)).expect("overwrite");
    assert_eq!(meta.size, 5);
    let object = block_on(objects.get("big", None))
        .expect("get")
        .expect("object");
    assert_eq!(object.body, small);
}

#[test]
fn etags_are_the_md5_of_the_body() {
    let (_dir, store, _clock) = open();
    let objects = store.objects("etags").expect("objects");
    let check = |body: &'static [u8], expected: &str| {
        let meta =
            block_on(objects.put("k", Bytes::from_static(body), PutMode::Overwrite)).expect("put");
        assert_eq!(meta.etag.as_str(), expected);
    };
    check(b"", "d41d8cd98f00b204e9800998ecf8427e");
    check(
        b"The quick brown fox jumps over the lazy dog",
        "9e107d9d372bb6826bd81d3542a419d6",
    );
}

#[test]
fn delimiter_listing_reports_each_group_once_across_pages() {
    let (_dir, store, _clock) = open();
    let objects = store.objects("tree").expect("objects");
    block_on(async {
        for key in ["a/1", "a/2", "a/3", "b", "c/x/1", "c/y", "d", "é/1", "é/2"] {
            objects
                .put(key, Bytes::from_static(b"."), PutMode::Overwrite)
                .await
                .expect("put");
        }
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = objects
                .list(
                    ObjectListOptions::prefix("")
                        .delimiter('/')
                        .cursor(cursor)
                        .limit(2),
                )
                .await
                .expect("list");
            seen.extend(page.objects.into_iter().map(|o| o.key));
            seen.extend(page.common_prefixes);
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        // Objects and common prefixes come in two lists per page; together, each once.
        seen.sort();
        assert_eq!(seen, ["a/", "b", "c/", "d", "é/"]);
        let page = objects
            .list(ObjectListOptions::prefix("c/").delimiter('/'))
            .await
            .expect("list c/");
        assert_eq!(page.common_prefixes, ["c/x/"]);
        assert_eq!(
            page.objects
                .iter()
                .map(|o| o.key.as_str())
                .collect::<Vec<_>>(),
            ["c/y"]
        );
    });
}

#[test]
fn state_lists_by_prefix_and_range_in_both_directions() {
    let (_dir, store, _clock) = open();
    let state = store.state("list").expect("state");
    let keys = ["a", "b/1", "b/2", "b/3", "c"];
    block_on(
        state.write(
            keys.iter()
                .map(|k| glinto_storage::WriteOp::Put((*k).to_owned(), Bytes::from_static(b"v")))
                .collect(),
        ),
    )
    .expect("write");
    let check = |options: StateListOptions, expected: &[&str]| {
        let got = block_on(state.list(options.clone())).expect("list");
        let got: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(got, expected, "{options:?}");
    };
    check(StateListOptions::prefix("b/"), &["b/1", "b/2", "b/3"]);
    check(
        StateListOptions::prefix("b/").reverse(),
        &["b/3", "b/2", "b/1"],
    );
    check(
        StateListOptions::prefix("b/").reverse().limit(2),
        &["b/3", "b/2"],
    );
    check(
        StateListOptions::prefix("b/").start_after("b/1"),
        &["b/2", "b/3"],
    );
    check(
        StateListOptions::range(Bound::Included("b".into()), Bound::Excluded("c".into())),
        &["b/1", "b/2", "b/3"],
    );
    check(
        StateListOptions::range(Bound::Excluded("b/2".into()), Bound::Unbounded).reverse(),
        &["c", "b/3"],
    );
    check(
        StateListOptions::range(Bound::Excluded("b".into()), Bound::Excluded("b".into())),
        &[],
    );
    check(StateListOptions::default().limit(1).reverse(), &["c"]);
    // An inverted range selects nothing, as in a Durable Object.
    check(
        StateListOptions::range(Bound::Included("c".into()), Bound::Included("a".into())),
        &[],
    );
    check(
        StateListOptions::range(Bound::Included("b/1".into()), Bound::Included("b/1".into())),
        &["b/1"],
    );
}

#[test]
fn delete_all_clears_keys_and_alarm_of_one_store_only() {
    let (_dir, store, _clock) = open();
    let (one, two) = (
        store.state("one").expect("one"),
        store.state("two").expect("two"),
    );
    block_on(async {
        for s in [&one, &two] {
            s.write(WriteBatch::new().put("k", "v"))
                .await
                .expect("write");
            s.set_alarm(Timestamp::from_unix_millis(5))
                .await
                .expect("alarm");
        }
        one.delete_all().expect("delete_all");
        assert_eq!(one.get("k").await.expect("get"), None);
        assert_eq!(one.get_alarm().await.expect("alarm"), None);
        assert_eq!(
            two.get("k").await.expect("get"),
            Some(Bytes::from_static(b"v"))
        );
        assert_eq!(
            two.get_alarm().await.expect("alarm"),
            Some(Timestamp::from_unix_millis(5))
        );
    });
}

#[test]
fn invalid_names_and_arguments_are_typed_errors() {
    let (_dir, store, _clock) = open();
    assert!(matches!(
        store.kv("a/b"),
        Err(glinto_storage_local::OpenError::InvalidName {
            what: "kv namespace",
            ..
        })
    ));
    let kv = store.kv("k").expect("kv");
    let bad_cursor = block_on(kv.list(KvListOptions::prefix("").cursor(Some("zz".into()))));
    assert!(
        matches!(
            bad_cursor,
            Err(glinto_storage::Error::InvalidArgument {
                field: "cursor",
                ..
            })
        ),
        "{bad_cursor:?}"
    );
    let past = block_on(kv.put(
        "k",
        Bytes::new(),
        KvPutOptions::new().expire_at(Timestamp::from_unix_millis(1)),
    ));
    assert!(
        matches!(
            past,
            Err(glinto_storage::Error::InvalidArgument {
                field: "expiration",
                ..
            })
        ),
        "{past:?}"
    );
}

#[test]
fn compaction_needs_the_only_handle_and_keeps_the_data() {
    let (_dir, mut store, _clock) = open();
    let objects = store.objects("big").expect("objects");
    block_on(async {
        for i in 0..8 {
            objects
                .put(&format!("o{i}"), body(200_000), PutMode::Overwrite)
                .await
                .expect("put");
        }
        for i in 0..6 {
            objects.delete(&format!("o{i}")).await.expect("delete");
        }
    });
    let refused = store.compact();
    assert!(
        matches!(
            refused,
            Err(glinto_storage::Error::InvalidArgument {
                field: "handles",
                ..
            })
        ),
        "{refused:?}"
    );
    drop(objects);
    let before = std::fs::metadata(store.dir().join(glinto_storage_local::DATABASE_FILE))
        .expect("size")
        .len();
    assert_eq!(store.compact().ok(), Some(true));
    let after = std::fs::metadata(store.dir().join(glinto_storage_local::DATABASE_FILE))
        .expect("size")
        .len();
    assert!(after < before, "{after} < {before}");
    let objects = store.objects("big").expect("objects");
    let kept = block_on(objects.get("o7", None))
        .expect("get")
        .expect("object");
    assert_eq!(kept.body, body(200_000));
}

#[test]
fn threads_sharing_a_store_see_whole_batches_and_one_winner_per_create() {
    let (_dir, store, _clock) = open();
    let state = store.state("threads").expect("state");
    let objects = store.objects("threads").expect("objects");
    let winners: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let (state, objects) = (state.clone(), objects.clone());
                scope.spawn(move || {
                    let mut won = 0;
                    for i in 0..25 {
                        let batch = (0..8).fold(WriteBatch::new(), |b, k| {
                            b.put(format!("t{t}/b{i:02}/{k}"), format!("{t}.{i}"))
                        });
                        block_on(state.write(batch)).expect("write");
                        // Every thread races to create the same 25 objects.
                        match block_on(objects.put(
                            &format!("o{i:02}"),
                            Bytes::from(format!("{t}")),
                            PutMode::Create,
                        )) {
                            Ok(_) => won += 1,
                            Err(glinto_storage::Error::AlreadyExists { .. }) => {}
                            Err(e) => panic!("create: {e}"),
                        }
                    }
                    won
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(winners.iter().sum::<usize>(), 25, "{winners:?}");
    let all = block_on(state.list(StateListOptions::default())).expect("list");
    assert_eq!(all.len(), 4 * 25 * 8);
}
