//! The lattice-law helper itself: it must catch each broken law.

use std::panic::{AssertUnwindSafe, catch_unwind};

use glinto_aggregator::Result;
use glinto_aggregator::lattice::Lattice;
use glinto_aggregator::lattice::testing::check_lattice_laws;
use proptest::prelude::*;

/// A toy state whose merge is chosen per test.
#[derive(Clone, Debug)]
struct Toy {
    value: u32,
    merge: fn(u32, u32) -> u32,
}

impl PartialEq for Toy {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Lattice for Toy {
    fn merge(&mut self, other: &Self) {
        self.value = (self.merge)(self.value, other.value);
    }

    fn validate_merge(&self, _other: &Self) -> Result<()> {
        Ok(())
    }
}

/// Whether the helper accepts `merge` (`true`) or reports a violation.
fn accepts(merge: fn(u32, u32) -> u32) -> bool {
    let values = (0u32..100).prop_map(move |value| Toy { value, merge });
    catch_unwind(AssertUnwindSafe(|| check_lattice_laws(values))).is_ok()
}

#[test]
fn catches_each_broken_law() {
    // The expected failures panic inside the helper; keep the output quiet
    // (this file's only test, so no other test's panic is hidden).
    std::panic::set_hook(Box::new(|_| {}));
    fn check(name: &str, merge: fn(u32, u32) -> u32, expected: bool) {
        assert_eq!(accepts(merge), expected, "{name}");
    }
    check("max is a join", u32::max, true);
    check("bitwise or is a join", |a, b| a | b, true);
    check("a sum is not idempotent", u32::wrapping_add, false);
    check("keeping the left is not commutative", |a, _| a, false);
    check("keeping the right is not commutative", |_, b| b, false);
    check("an average is not associative", |a, b| (a + b) / 2, false);
}
