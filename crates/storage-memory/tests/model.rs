//! The stores against a naive model (a `BTreeMap` filtered and sorted by
//! hand) under random operations: list ranges, write-behind overlays,
//! evictions and delimiter paging agree with the model every step.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use futures::executor::block_on;
use glinto_storage::{
    Clock, ManualClock, ObjectListOptions, ObjectStore, ObjectStoreExt, PutMode, StateListOptions,
    StateStore, Timestamp, WriteBatch, WriteOp,
};
use glinto_storage_memory::{MemoryObjects, MemoryState, WriteBehind};
use proptest::prelude::*;

fn clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(Timestamp::from_unix_millis(
        1_764_000_000_000,
    )))
}

/// Short keys over an alphabet with a multi-byte character and a slash, so
/// prefixes, bounds and delimiters collide often.
fn key() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![Just('a'), Just('/'), Just('é')], 1..3)
        .prop_map(|chars| chars.into_iter().collect())
}

fn bound() -> impl Strategy<Value = Bound<String>> {
    prop_oneof![
        2 => Just(Bound::Unbounded),
        1 => key().prop_map(Bound::Included),
        1 => key().prop_map(Bound::Excluded),
    ]
}

fn list_options() -> impl Strategy<Value = StateListOptions> {
    (
        prop_oneof![3 => Just(None), 1 => key().prop_map(Some)],
        bound(),
        bound(),
        any::<bool>(),
        prop_oneof![1 => Just(None), 3 => (1usize..4).prop_map(Some)],
    )
        .prop_map(|(prefix, start, end, reverse, limit)| {
            let mut options = StateListOptions::range(start, end);
            options.prefix = prefix.unwrap_or_default();
            options.reverse = reverse;
            options.limit = limit;
            options
        })
}

#[derive(Clone, Debug)]
enum Step {
    Write(Vec<(String, Option<u8>)>),
    Flush,
    Evict,
    List(StateListOptions),
    GetMany(Vec<String>),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => proptest::collection::vec((key(), proptest::option::of(any::<u8>())), 0..6)
            .prop_map(Step::Write),
        2 => Just(Step::Flush),
        1 => Just(Step::Evict),
        3 => list_options().prop_map(Step::List),
        1 => proptest::collection::vec(key(), 0..4).prop_map(Step::GetMany),
    ]
}

/// The model's answer to a list: filter, order, limit.
fn model_list(map: &BTreeMap<String, Bytes>, options: &StateListOptions) -> Vec<(String, Bytes)> {
    let mut selected: Vec<(String, Bytes)> = map
        .iter()
        .filter(|(k, _)| options.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if options.reverse {
        selected.reverse();
    }
    selected.truncate(options.limit.unwrap_or(usize::MAX));
    selected
}

/// The committed state with the uncommitted overlay applied.
fn visible(
    committed: &BTreeMap<String, Bytes>,
    overlay: &BTreeMap<String, Option<Bytes>>,
) -> BTreeMap<String, Bytes> {
    let mut all = committed.clone();
    for (key, value) in overlay {
        match value {
            Some(v) => all.insert(key.clone(), v.clone()),
            None => all.remove(key),
        };
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn write_behind_over_memory_state_matches_the_model(steps in proptest::collection::vec(step(), 1..60)) {
        let cache = WriteBehind::new(MemoryState::new(clock()));
        let mut committed: BTreeMap<String, Bytes> = BTreeMap::new();
        let mut overlay: BTreeMap<String, Option<Bytes>> = BTreeMap::new();
        for step in steps {
            match step {
                Step::Write(ops) => {
                    let batch: WriteBatch = ops
                        .iter()
                        .map(|(k, v)| match v {
                            Some(b) => WriteOp::Put(k.clone(), Bytes::from(vec![*b])),
                            None => WriteOp::Delete(k.clone()),
                        })
                        .collect();
                    prop_assert!(block_on(cache.write(batch)).is_ok());
                    for (k, v) in ops {
                        overlay.insert(k, v.map(|b| Bytes::from(vec![b])));
                    }
                }
                Step::Flush => {
                    prop_assert!(block_on(cache.flush()).is_ok());
                    committed = visible(&committed, &overlay);
                    overlay.clear();
                }
                Step::Evict => {
                    prop_assert_eq!(cache.evict().keys, overlay.len());
                    overlay.clear();
                }
                Step::List(options) => {
                    let got = block_on(cache.list(options.clone()));
                    let expected = model_list(&visible(&committed, &overlay), &options);
                    prop_assert_eq!(got.ok(), Some(expected), "through the cache: {:?}", options);
                    let durable = block_on(cache.inner().list(options.clone()));
                    prop_assert_eq!(durable.ok(), Some(model_list(&committed, &options)), "durable: {:?}", options);
                }
                Step::GetMany(keys) => {
                    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                    let all = visible(&committed, &overlay);
                    let expected: Vec<Option<Bytes>> = keys.iter().map(|k| all.get(k).cloned()).collect();
                    prop_assert_eq!(block_on(cache.get_many(&refs)).ok(), Some(expected));
                }
            }
        }
    }

    #[test]
    fn delimiter_paging_matches_the_model(
        keys in proptest::collection::btree_set(
            proptest::collection::vec(prop_oneof![Just('a'), Just('b'), Just('/')], 1..6)
                .prop_map(|c| c.into_iter().collect::<String>()),
            0..30,
        ),
        prefix in proptest::collection::vec(prop_oneof![Just('a'), Just('/')], 0..3)
            .prop_map(|c| c.into_iter().collect::<String>()),
        limit in 1usize..5,
    ) {
        let store = MemoryObjects::new(clock());
        for key in &keys {
            prop_assert!(block_on(store.put(key, Bytes::new(), PutMode::Overwrite)).is_ok());
        }
        let mut objects = Vec::new();
        let mut prefixes = BTreeSet::new();
        for key in keys.iter().filter(|k| k.starts_with(prefix.as_str())) {
            match key.get(prefix.len()..).and_then(|rest| rest.find('/')) {
                Some(at) => {
                    prefixes.insert(key.get(..prefix.len() + at + 1).unwrap_or_default().to_owned());
                }
                None => objects.push(key.clone()),
            }
        }
        let page = block_on(store.list_all(
            ObjectListOptions::prefix(prefix.clone()).delimiter('/').limit(limit),
        ));
        let page = page.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got_objects: Vec<String> = page.objects.into_iter().map(|o| o.key).collect();
        prop_assert_eq!(got_objects, objects);
        prop_assert_eq!(page.common_prefixes, prefixes.into_iter().collect::<Vec<_>>());
    }
}
