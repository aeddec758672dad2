//! The delta sequence numbers a rollup contains.

use std::collections::BTreeSet;

use crate::Result;
use crate::lattice::Lattice;

/// The sequence numbers of one replica's deltas that a rollup contains:
/// `1..=contiguous` plus the out-of-order `extra` ones. A grow-only set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeqSet {
    pub(super) contiguous: u64,
    pub(super) extra: BTreeSet<u64>,
}

impl SeqSet {
    /// Adds one sequence number (0 is not a sequence number and is ignored).
    pub fn insert(&mut self, seq: u64) {
        if seq > self.contiguous {
            self.extra.insert(seq);
            self.normalize();
        }
    }

    /// Whether `seq` is in the set.
    pub fn contains(&self, seq: u64) -> bool {
        (seq != 0 && seq <= self.contiguous) || self.extra.contains(&seq)
    }

    /// The highest sequence number `h` such that all of `1..=h` are in.
    pub fn contiguous(&self) -> u64 {
        self.contiguous
    }

    /// The sequence numbers below the highest one that are missing (gaps a
    /// shipper should re-send), at most `limit` of them.
    pub fn missing(&self, limit: usize) -> Vec<u64> {
        let Some(&max) = self.extra.last() else {
            return Vec::new();
        };
        (self.contiguous.saturating_add(1)..max)
            .filter(|s| !self.extra.contains(s))
            .take(limit)
            .collect()
    }

    fn normalize(&mut self) {
        let c = self.contiguous;
        self.extra.retain(|&s| s > c);
        while let Some(next) = self.contiguous.checked_add(1)
            && self.extra.first() == Some(&next)
        {
            self.extra.pop_first();
            self.contiguous = next;
        }
    }
}

impl Lattice for SeqSet {
    fn merge(&mut self, other: &Self) {
        self.contiguous = self.contiguous.max(other.contiguous);
        self.extra.extend(other.extra.iter().copied());
        self.normalize();
    }

    fn validate_merge(&self, _other: &Self) -> Result<()> {
        Ok(())
    }
}
