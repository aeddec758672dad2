//! The interner of a rollup's dimension values.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

/// Dimension values of one rollup, interned: cells are keyed by `u32` ids,
/// so scanning a range sums into a dense array instead of hashing strings.
#[derive(Clone, Debug, Default)]
pub(crate) struct Values {
    hasher: DefaultHashBuilder,
    table: HashTable<u32>,
    /// Every string laid end to end, in order of first use: the comparisons
    /// of interning read one dense buffer rather than a heap block each.
    bytes: String,
    /// `(start, end)` of each id's string in `bytes`.
    spans: Vec<(u32, u32)>,
}

impl Values {
    /// The id of `s`, interned when new.
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        let hash = self.hasher.hash_one(s);
        if let Some(&id) = self.table.find(hash, |&id| self.get(id) == s) {
            return id;
        }
        let (bytes, spans, hasher) = (&mut self.bytes, &mut self.spans, &self.hasher);
        let id = u32::try_from(spans.len()).unwrap_or(u32::MAX);
        let start = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        bytes.push_str(s);
        let end = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        spans.push((start, end));
        self.table.insert_unique(hash, id, |&id| {
            let &(start, end) = spans.get(id as usize).unwrap_or(&(0, 0));
            hasher.hash_one(bytes.get(start as usize..end as usize).unwrap_or(""))
        });
        id
    }

    /// The id of `s`, if interned.
    pub(crate) fn find(&self, s: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(s);
        self.table.find(hash, |&id| self.get(id) == s).copied()
    }

    /// The string of `id` (empty for an unknown id).
    pub(crate) fn get(&self, id: u32) -> &str {
        self.spans
            .get(id as usize)
            .and_then(|&(start, end)| self.bytes.get(start as usize..end as usize))
            .unwrap_or("")
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
}
