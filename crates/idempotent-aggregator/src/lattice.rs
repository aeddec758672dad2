//! The join-semilattice contract every aggregate in this crate keeps.
//!
//! A Worker invocation may be retried, an event may arrive twice or late, and
//! partial aggregates from many edge locations meet in a Durable Object in no
//! particular order. The aggregates survive all of that because their merge is
//! a *join*: associative (grouping does not matter), commutative (order does
//! not matter) and idempotent (merging the same contribution twice changes
//! nothing). Any delivery schedule with duplicates then converges to the join
//! of everything delivered.
//!
//! Following rust-crdt's `CvRDT`, merging itself is infallible and
//! compatibility is checked separately by [`Lattice::validate_merge`]: the hot
//! path merges values that were already validated (same sketch precision,
//! same hash scheme), and the place that receives untrusted or foreign values
//! validates once. [`LatticeExt::try_merge`] does both.
//!
//! With the `testing` feature, `lattice::testing::check_lattice_laws` is the one
//! property-test helper that proves the laws for any implementation.

use crate::Result;

/// A join-semilattice: a state with a merge that is associative, commutative
/// and idempotent.
///
/// # Contract
///
/// For all compatible `a`, `b`, `c` (every pair passes `validate_merge`):
/// - `a ⊔ (b ⊔ c) == (a ⊔ b) ⊔ c` (associative),
/// - `a ⊔ b == b ⊔ a` (commutative),
/// - `a ⊔ a == a` (idempotent),
///
/// where `x ⊔ y` is `x.clone()` after `merge(&y)` and `==` compares the
/// *meaning* of the states (implementations keep a canonical form so that
/// `PartialEq` is that comparison).
///
/// # Errors
///
/// `merge` is infallible. Merging incompatible values is a caller bug that
/// `validate_merge` detects; implementations then leave `self` unchanged
/// (they never half-merge or double count) and say so in their docs.
pub trait Lattice {
    /// Joins `other` into `self`.
    fn merge(&mut self, other: &Self);

    /// Checks that `other` can be merged into `self` without a wrong result.
    ///
    /// # Errors
    ///
    /// A crate [`Error`](crate::Error) naming what differs, e.g.
    /// [`Error::IncompatibleSketch`](crate::Error::IncompatibleSketch).
    fn validate_merge(&self, other: &Self) -> Result<()>;
}

/// Conveniences over [`Lattice`], implemented for every lattice.
pub trait LatticeExt: Lattice {
    /// Validates, then merges: the call to use on values from outside.
    ///
    /// # Errors
    ///
    /// Whatever [`Lattice::validate_merge`] returns; `self` is then unchanged.
    fn try_merge(&mut self, other: &Self) -> Result<()> {
        self.validate_merge(other)?;
        self.merge(other);
        Ok(())
    }

    /// `self ⊔ other` by value.
    #[must_use]
    fn joined(mut self, other: &Self) -> Self
    where
        Self: Sized,
    {
        self.merge(other);
        self
    }
}

impl<T: Lattice + ?Sized> LatticeExt for T {}

/// The generic property test of the lattice laws (feature `testing`).
///
/// Enable it from another crate's tests with
/// `glinto-aggregator = { workspace = true, features = ["testing"] }` in
/// `[dev-dependencies]`.
#[cfg(feature = "testing")]
pub mod testing {
    use std::fmt::Debug;

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    use super::{Lattice, LatticeExt};

    /// How many values one case combines at most.
    const MAX_VALUES: usize = 6;
    /// How many replicas a delivery schedule spreads values over at most.
    const MAX_REPLICAS: usize = 4;

    /// Asserts the lattice laws on values drawn from `values`, with 64 cases.
    ///
    /// See [`check_lattice_laws_with`].
    ///
    /// # Panics
    ///
    /// When a law fails, with proptest's minimal failing input.
    pub fn check_lattice_laws<T, S>(values: S)
    where
        T: Lattice + Clone + PartialEq + Debug,
        S: Strategy<Value = T>,
    {
        check_lattice_laws_with(Config::with_cases(64), values);
    }

    /// Asserts the lattice laws on values drawn from `values`.
    ///
    /// Each case draws up to six values (they must be pairwise compatible:
    /// the helper asserts `validate_merge` first) and checks:
    /// - idempotence `a ⊔ a == a`, commutativity `a ⊔ b == b ⊔ a` and
    ///   associativity `(a ⊔ b) ⊔ c == a ⊔ (b ⊔ c)`;
    /// - convergence under any interleaving with duplicates: a random
    ///   multiset of deliveries (every value at least once, some repeated)
    ///   in random order goes to up to four replicas (each starts as its
    ///   first delivery), the replicas merge in a random tree, and the result
    ///   equals the left fold of the values in drawing order.
    ///
    /// Op-based types test the same way: map a strategy of operation lists to
    /// the state those operations produce from the empty state
    /// (`vec(op(), 0..20).prop_map(|ops| apply_all(State::default(), ops))`).
    ///
    /// # Panics
    ///
    /// When a law fails, with proptest's minimal failing input.
    pub fn check_lattice_laws_with<T, S>(config: Config, values: S)
    where
        T: Lattice + Clone + PartialEq + Debug,
        S: Strategy<Value = T>,
    {
        let case = proptest::collection::vec(values, 1..=MAX_VALUES).prop_flat_map(|values| {
            let n = values.len();
            let extra = proptest::collection::vec(0..n, 0..=2 * n);
            let order = any::<proptest::sample::Index>();
            let replicas = proptest::collection::vec(0..MAX_REPLICAS, 3 * n);
            let tree =
                proptest::collection::vec(any::<proptest::sample::Index>(), 2 * MAX_REPLICAS);
            (
                Just(values),
                extra,
                proptest::collection::vec(order, 3 * n),
                replicas,
                tree,
            )
        });
        let mut runner = TestRunner::new(config);
        let result = runner.run(&case, |(values, extra, order, replicas, tree)| {
            check_case(&values, &extra, &order, &replicas, &tree)
        });
        if let Err(failure) = result {
            panic!("lattice law violated: {failure}");
        }
    }

    fn check_case<T>(
        values: &[T],
        extra: &[usize],
        order: &[proptest::sample::Index],
        replicas: &[usize],
        tree: &[proptest::sample::Index],
    ) -> Result<(), TestCaseError>
    where
        T: Lattice + Clone + PartialEq + Debug,
    {
        for a in values {
            for b in values {
                if let Err(err) = a.validate_merge(b) {
                    return Err(TestCaseError::fail(format!(
                        "the strategy produced incompatible values ({err}): {a:?} and {b:?}"
                    )));
                }
            }
        }
        let a = &values[0];
        let b = values.get(1).unwrap_or(a);
        let c = values.get(2).unwrap_or(b);
        prop_assert_eq!(&a.clone().joined(a), a, "idempotence: a ⊔ a != a");
        prop_assert_eq!(
            a.clone().joined(b),
            b.clone().joined(a),
            "commutativity: a ⊔ b != b ⊔ a"
        );
        prop_assert_eq!(
            a.clone().joined(b).joined(c),
            a.clone().joined(&b.clone().joined(c)),
            "associativity: (a ⊔ b) ⊔ c != a ⊔ (b ⊔ c)"
        );

        let expected = values[1..]
            .iter()
            .fold(values[0].clone(), |acc, v| acc.joined(v));

        // Every value once plus the repeats, shuffled by `order`.
        let mut deliveries: Vec<usize> = (0..values.len()).chain(extra.iter().copied()).collect();
        for (i, pick) in order.iter().enumerate().take(deliveries.len()) {
            let j = i + pick.index(deliveries.len() - i);
            deliveries.swap(i, j);
        }
        let mut states: Vec<Option<T>> = vec![None; MAX_REPLICAS];
        for (k, &value) in deliveries.iter().enumerate() {
            let replica = replicas.get(k).copied().unwrap_or(0);
            match &mut states[replica] {
                Some(state) => state.merge(&values[value]),
                slot @ None => *slot = Some(values[value].clone()),
            }
        }
        let mut states: Vec<T> = states.into_iter().flatten().collect();
        let mut picks = tree.iter().cycle();
        while states.len() > 1 {
            let (Some(x), Some(y)) = (picks.next(), picks.next()) else {
                break;
            };
            let i = x.index(states.len());
            let taken = states.swap_remove(i);
            let j = y.index(states.len());
            states[j].merge(&taken);
        }
        prop_assert_eq!(
            states.first(),
            Some(&expected),
            "convergence: replicas merged in a random tree differ from the fold of all values"
        );
        Ok(())
    }
}
