//! The crate's one interner: keys numbered densely from 0 in order of first
//! use, so that aggregates are keyed by `u32` ids (a range scan sums into a
//! dense array; a cell key is a few words) instead of by strings.
//!
//! Every key is laid end to end in one buffer, so the comparisons of a lookup
//! read one dense block rather than a heap allocation per key. Two users:
//! - [`Values`]: the dimension values of a rollup (one string per id);
//! - the writer's profile tuples (`writer::Tuples`): `N` field values per id,
//!   each followed by `0xff` (a byte UTF-8 never contains), looked up by one
//!   hash over all the fields.

use std::fmt::Debug;
use std::hash::BuildHasher;
use std::ops::Range;

use hashbrown::{DefaultHashBuilder, HashTable};

/// The buffer the keys are laid out in: a `String` for string keys (so they
/// read back as `&str` without re-validating), bytes for anything else.
pub(crate) trait Buffer: Clone + Debug + Default {
    /// What one key reads back as.
    type Key: ?Sized;
    /// Bytes used so far.
    fn len(&self) -> usize;
    /// The key stored at `range`.
    fn key(&self, range: Range<usize>) -> Option<&Self::Key>;
}

impl Buffer for String {
    type Key = str;
    fn len(&self) -> usize {
        self.len()
    }
    #[inline]
    fn key(&self, range: Range<usize>) -> Option<&str> {
        self.get(range)
    }
}

impl Buffer for Vec<u8> {
    type Key = [u8];
    fn len(&self) -> usize {
        self.len()
    }
    #[inline]
    fn key(&self, range: Range<usize>) -> Option<&[u8]> {
        self.get(range)
    }
}

/// Keys numbered in order of first use (module docs). The caller hashes a
/// key with [`Self::hasher`] and says how keys compare and are written.
#[derive(Clone, Debug, Default)]
pub(crate) struct Interner<B> {
    hasher: DefaultHashBuilder,
    table: HashTable<u32>,
    /// Every key laid end to end, in order of first use.
    buffer: B,
    /// `(start, end)` of each id's key in `buffer`.
    spans: Vec<(u32, u32)>,
}

impl<B: Buffer> Interner<B> {
    /// The hasher every key is hashed with.
    #[inline]
    pub(crate) fn hasher(&self) -> &DefaultHashBuilder {
        &self.hasher
    }

    /// The key of `id`.
    #[inline]
    pub(crate) fn key(&self, id: u32) -> Option<&B::Key> {
        let &(start, end) = self.spans.get(id as usize)?;
        self.buffer.key(start as usize..end as usize)
    }

    /// The id of the key with hash `hash` for which `eq` holds.
    #[inline]
    pub(crate) fn find(&self, hash: u64, eq: impl Fn(&B::Key) -> bool) -> Option<u32> {
        self.table
            .find(hash, |&id| self.key(id).is_some_and(&eq))
            .copied()
    }

    /// Numbers a key that [`Self::find`] did not find: `write` appends it to
    /// the buffer; `rehash` hashes a stored key as `hash` was computed (the
    /// table calls it when it grows).
    pub(crate) fn insert_new(
        &mut self,
        hash: u64,
        write: impl FnOnce(&mut B),
        rehash: impl Fn(&DefaultHashBuilder, &B::Key) -> u64,
    ) -> u32 {
        let id = u32::try_from(self.spans.len()).unwrap_or(u32::MAX);
        let start = u32::try_from(self.buffer.len()).unwrap_or(u32::MAX);
        write(&mut self.buffer);
        let end = u32::try_from(self.buffer.len()).unwrap_or(u32::MAX);
        self.spans.push((start, end));
        let (hasher, buffer, spans) = (&self.hasher, &self.buffer, &self.spans);
        self.table.insert_unique(hash, id, |&id| {
            let &(start, end) = spans.get(id as usize).unwrap_or(&(0, 0));
            match buffer.key(start as usize..end as usize) {
                Some(key) => rehash(hasher, key),
                None => 0,
            }
        });
        id
    }

    /// Number of keys.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
}

/// Dimension values of one rollup (and of a writer), interned: cells are
/// keyed by `u32` ids.
#[derive(Clone, Debug, Default)]
pub(crate) struct Values {
    keys: Interner<String>,
}

impl Values {
    /// The id of `s`, interned when new.
    #[inline]
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        let hash = self.keys.hasher().hash_one(s);
        if let Some(id) = self.keys.find(hash, |key| key == s) {
            return id;
        }
        self.keys
            .insert_new(hash, |buffer| buffer.push_str(s), |h, key| h.hash_one(key))
    }

    /// The id of `s`, if interned.
    pub(crate) fn find(&self, s: &str) -> Option<u32> {
        let hash = self.keys.hasher().hash_one(s);
        self.keys.find(hash, |key| key == s)
    }

    /// The string of `id` (empty for an unknown id).
    #[inline]
    pub(crate) fn get(&self, id: u32) -> &str {
        self.keys.key(id).unwrap_or("")
    }

    /// Number of values.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}
