//! Counter semantics, the one-writer rule, and the watermark compaction rule.

use glinto_aggregator::Error;
use glinto_aggregator::counter::{GCounter, PNCounter, ReplicaId};
use glinto_aggregator::lattice::{Lattice, LatticeExt};
use proptest::prelude::*;

/// One step of a counter's life.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// `replica` adds `by` to its own copy.
    Inc(u64, u64),
    /// `replica` subtracts `by` (PN counters only).
    Dec(u64, u64),
    /// The owner folds every replica below the watermark.
    Compact(u64),
}

/// Applies `ops` to one PN counter and checks its value (and the first error).
fn check(ops: &[Op], expected: Result<i64, Error>) {
    let mut counter = PNCounter::new();
    for &op in ops {
        let step = match op {
            Op::Inc(r, by) => counter.increment(ReplicaId(r), by),
            Op::Dec(r, by) => counter.decrement(ReplicaId(r), by),
            Op::Compact(w) => {
                counter.compact(ReplicaId(w));
                Ok(())
            }
        };
        if let Err(err) = step {
            assert_eq!(Err(err), expected, "{ops:?}");
            return;
        }
    }
    assert_eq!(Ok(counter.value()), expected, "{ops:?}");
}

#[test]
fn counts() {
    use Op::*;
    check(&[], Ok(0));
    check(&[Inc(1, 3), Inc(2, 4), Inc(1, 1)], Ok(8));
    check(&[Inc(1, 3), Dec(1, 1), Dec(2, 5)], Ok(-3));
    check(
        &[Inc(1, 3), Inc(5, 2), Compact(3), Inc(5, 1), Dec(7, 1)],
        Ok(5),
    );
    check(&[Inc(1, 3), Compact(3), Compact(2), Inc(3, 1)], Ok(4));
    check(
        &[Inc(1, 3), Compact(3), Inc(2, 1)],
        Err(Error::RetiredReplica {
            replica: 2,
            watermark: 3,
        }),
    );
    check(
        &[Compact(10), Dec(9, 1)],
        Err(Error::RetiredReplica {
            replica: 9,
            watermark: 10,
        }),
    );
    check(&[Inc(1, u64::MAX), Inc(2, u64::MAX)], Ok(i64::MAX));
}

#[test]
fn two_writers_sharing_an_id_lose_counts() {
    // The reason for the one-writer rule: A counts 3 and B counts 5 under the
    // same id, and the merge keeps the larger total, 5, not 8.
    let (mut a, mut b) = (GCounter::new(), GCounter::new());
    a.increment(ReplicaId(7), 3).expect("live replica");
    b.increment(ReplicaId(7), 5).expect("live replica");
    a.merge(&b);
    assert_eq!(a.value(), 5);
}

#[test]
fn a_pre_compaction_copy_never_double_counts() {
    let mut owner = GCounter::new();
    owner.increment(ReplicaId(1), 10).expect("live replica");
    owner.increment(ReplicaId(4), 2).expect("live replica");
    let before = owner.clone();
    owner.compact(ReplicaId(3));
    assert_eq!((owner.base(), owner.entries().len()), (10, 1));
    assert_eq!(owner.clone().joined(&before).value(), 12);
    assert_eq!(before.joined(&owner), owner);
}

#[test]
fn a_late_larger_total_of_a_retired_replica_is_lost() {
    // Breaking the owner's precondition (compacting before the replica's
    // final total arrived) loses the difference; it never double counts.
    let mut owner = GCounter::new();
    owner.increment(ReplicaId(1), 10).expect("live replica");
    let mut late = owner.clone();
    late.increment(ReplicaId(1), 5).expect("live replica");
    owner.compact(ReplicaId(2));
    owner.merge(&late);
    assert_eq!(owner.value(), 10);
}

/// A simulated deployment: writers with their own replica ids ship copies to
/// the owner at random; the owner retires the lowest writers (after merging
/// their final totals) and compacts. Every copy ever shipped, from before or
/// after any compaction, merged in any order, gives the exact total.
#[derive(Clone, Debug)]
enum Step {
    Write { writer: usize, up: bool, by: u64 },
    Ship { writer: usize },
    Retire,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0usize..6, any::<bool>(), 1u64..20).prop_map(|(writer, up, by)| Step::Write { writer, up, by }),
        3 => (0usize..6).prop_map(|writer| Step::Ship { writer }),
        1 => Just(Step::Retire),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn compaction_keeps_the_exact_total_under_any_merge_order(
        steps in proptest::collection::vec(step(), 0..60),
        order in proptest::collection::vec(any::<prop::sample::Index>(), 0..200),
    ) {
        // Writer `w` owns replica id `w` (ids increase with time, so the
        // owner retires the lowest ones first).
        let mut writers: Vec<PNCounter> = vec![PNCounter::new(); 6];
        let mut owner = PNCounter::new();
        let mut shipped: Vec<PNCounter> = Vec::new();
        let mut retired = 0usize;
        let mut expected = 0i64;
        for step in steps {
            match step {
                Step::Write { writer, up, by } => {
                    if writer < retired {
                        continue; // retired writers never write again
                    }
                    let id = ReplicaId(writer as u64);
                    if up {
                        writers[writer].increment(id, by).expect("live replica");
                        expected += by as i64;
                    } else {
                        writers[writer].decrement(id, by).expect("live replica");
                        expected -= by as i64;
                    }
                }
                Step::Ship { writer } => {
                    shipped.push(writers[writer].clone());
                    owner.merge(&writers[writer]);
                }
                Step::Retire if retired < writers.len() => {
                    // The precondition: the owner has the final total first.
                    owner.merge(&writers[retired]);
                    shipped.push(owner.clone());
                    retired += 1;
                    owner.compact(ReplicaId(retired as u64));
                    shipped.push(owner.clone());
                }
                Step::Retire => {}
            }
        }
        shipped.extend(writers.iter().cloned());
        // Merge everything, with repeats, in a random order.
        let mut merged = owner.clone();
        for pick in &order {
            if !shipped.is_empty() {
                merged.merge(&shipped[pick.index(shipped.len())]);
            }
        }
        for copy in &shipped {
            merged.merge(copy);
        }
        prop_assert_eq!(merged.value(), expected);
        prop_assert_eq!(merged.watermark(), ReplicaId(retired as u64));
        // The live entries never include retired replicas.
        prop_assert!(merged.increments().entries().all(|(r, _)| r.0 >= retired as u64));
    }

    #[test]
    fn encodings_round_trip(writes in proptest::collection::vec((0u64..1_000, any::<bool>(), 0u64..1 << 40), 0..30), watermark in 0u64..1_000) {
        let mut counter = PNCounter::new();
        for (replica, up, by) in writes {
            let _ = if up { counter.increment(ReplicaId(replica), by) } else { counter.decrement(ReplicaId(replica), by) };
        }
        counter.compact(ReplicaId(watermark));
        let bytes = counter.encode();
        prop_assert_eq!(PNCounter::decode(&bytes), Ok(counter.clone()));
        let half = counter.increments().encode();
        prop_assert_eq!(GCounter::decode(&half), Ok(counter.increments().clone()));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(counter) = GCounter::decode(&bytes) {
            prop_assert_eq!(counter.encode(), bytes.clone());
        }
        if let Ok(counter) = PNCounter::decode(&bytes) {
            prop_assert_eq!(counter.encode(), bytes);
        }
    }
}

#[test]
fn golden_bytes() {
    let mut counter = PNCounter::new();
    counter.increment(ReplicaId(3), 5).expect("live replica");
    counter.increment(ReplicaId(300), 1).expect("live replica");
    counter.decrement(ReplicaId(3), 2).expect("live replica");
    counter.increment(ReplicaId(1), 7).expect("live replica");
    counter.compact(ReplicaId(2));
    assert_eq!(
        counter.encode(),
        [
            1, // version
            2, 7, 2, 1, 5, 0xa9, 0x02, 1, // increments: watermark 2, base 7, {3: 5, 300: 1}
            2, 0, 1, 1, 2, // decrements: watermark 2, base 0, {3: 2}
        ]
    );
    assert_eq!(
        counter.increments().encode(),
        [1, 2, 7, 2, 1, 5, 0xa9, 0x02, 1]
    );
}

#[test]
fn decoding_rejects_what_no_encoder_writes() {
    fn check(bytes: &[u8], expected: Error) {
        assert_eq!(GCounter::decode(bytes), Err(expected), "{bytes:?}");
    }
    let kind = "GCounter";
    check(
        &[],
        Error::Truncated {
            kind,
            field: "version",
        },
    );
    check(
        &[2],
        Error::UnsupportedVersion {
            kind,
            found: 2,
            supported: "1",
        },
    );
    check(
        &[1, 0, 0, 2, 1, 1],
        Error::OutOfRange {
            kind,
            field: "entry count",
            value: 2,
            limit: 1,
        },
    );
    check(
        &[1, 0, 0, 2, 1, 1, 0, 1],
        Error::Malformed {
            kind,
            field: "replica gap",
            reason: "replicas repeat or are unsorted",
        },
    );
    check(
        &[1, 0, 0, 1, 1, 0],
        Error::Malformed {
            kind,
            field: "total",
            reason: "zero totals are not stored",
        },
    );
    check(&[1, 0, 0, 0, 9], Error::TrailingBytes { kind, count: 1 });
    assert_eq!(
        PNCounter::decode(&[1, 1, 0, 0, 2, 0, 0]),
        Err(Error::Malformed {
            kind: "PNCounter",
            field: "watermark",
            reason: "the two halves differ"
        })
    );
}
