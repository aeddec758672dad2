//! Versions 2 and 3 of the [`SiteRollup`] encoding (version 3 is version 2
//! plus compacted tallies: a watermark and base per tally, written only when
//! some tally is compacted). Version 2 has the same content as version 1
//! in about 45 % fewer bytes (layout in `docs/wire-format.md`, section
//! `rollup`).
//!
//! What version 1 spends its bytes on, per cell (there are about as many
//! cells as events in an hour): a dimension tag, a string-table index of up
//! to three bytes, a replica id and a mask per tally, and a sketch with its
//! own length, version and header bytes and ~4 bytes per visitor code. A
//! visitor seen in an hour is in many of that hour's sketches (its pages,
//! entry and exit page, source, country, browser...), so version 2 writes
//! each hour's distinct sparse codes once, as a sorted table, and the sparse
//! sketches as gaps between indexes into it (one byte each, mostly). It also
//! groups each hour's cells by dimension (the tag and a count once per
//! group), writes value indexes as gaps (the string table is sorted and
//! front-coded, so the cells of a group are in index order), tallies against
//! a replica table (one mask byte when the rollup has a single replica, the
//! usual case), and the precision and hash scheme once.

use super::{
    Cell, Counts, DIMENSIONS, Dimension, KIND, ReplicaId, SeqSet, SiteRollup, Tally, malformed,
};
use crate::bits::{Reader, put_varint};
use crate::counter::Replicas;
use crate::sketch::UniqueSketch;
use crate::{Error, Result};
use std::collections::BTreeSet;

/// The version tag of this layout.
pub(super) const ROLLUP_V2: u8 = 2;
/// The version tag of version 2 with compacted tallies: a byte after the
/// sketch parameters says whether tallies carry a watermark and base.
pub(crate) const ROLLUP_V3: u8 = 3;

/// Sketch layouts in a cell's sketch varint (its low two bits): indexes
/// into the hour's visitor codes,
const INDEXED: u64 = 0;
/// the sketch's dense body,
const DENSE: u64 = 1;
/// A whole [`UniqueSketch::encode`] (precision or scheme not the rollup's).
const FOREIGN: u64 = 2;

/// The precision and hash scheme written when the rollup has no sketch.
fn default_params() -> u8 {
    UniqueSketch::new().params()
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_counts(out: &mut Vec<u8>, counts: &Counts) {
    out.push(counts.mask());
    for v in counts.fields().into_iter().filter(|&v| v != 0) {
        put_varint(out, v);
    }
}

impl SiteRollup {
    /// The encoding every writer uses: version 3 (see `docs/wire-format.md`,
    /// section `rollup`), deterministic, about 45 % smaller than the retired
    /// version 1 (`encode_v1`, `testing` feature only). [`Self::decode`] reads both.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![ROLLUP_V3];
        self.encode_body(&mut out);
        out
    }

    /// Appends the version-3 body (everything after the version byte): the
    /// body of [`Self::encode`] and of a version-3 [`crate::delta::Delta`].
    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) {
        let out = &mut *out;
        put_bytes(out, self.site.as_bytes());
        put_varint(out, self.seen.len() as u64);
        for (replica, seqs) in &self.seen {
            put_varint(out, replica.0);
            put_varint(out, seqs.contiguous);
            put_varint(out, seqs.extra.len() as u64);
            for &seq in &seqs.extra {
                put_varint(out, seq);
            }
        }

        // Replicas of the tallies, sketch parameters, values in use.
        const NONE: u32 = u32::MAX;
        let mut replicas = BTreeSet::new();
        let mut native = false;
        let mut lowest: Option<u8> = None;
        let mut used = vec![false; self.values.len()];
        for cells in self.hours.values() {
            for map in &cells.dims {
                for (&id, cell) in map {
                    replicas.extend(cell.tally.entries().iter().map(|(r, _)| r.0));
                    let p = cell.visitors.params();
                    native |= p == default_params();
                    lowest = Some(lowest.map_or(p, |l| l.min(p)));
                    if let Some(u) = used.get_mut(id as usize) {
                        *u = true;
                    }
                }
            }
        }
        let replicas: Vec<u64> = replicas.into_iter().collect();
        // The default parameters unless no cell has them.
        let params = match lowest {
            Some(lowest) if !native => lowest,
            _ => default_params(),
        };
        let mut strings: Vec<(&str, u32)> = used
            .iter()
            .enumerate()
            .filter(|&(_, &u)| u)
            .map(|(id, _)| {
                let id = u32::try_from(id).unwrap_or(NONE);
                (self.values.get(id), id)
            })
            .collect();
        strings.sort_unstable();
        let mut remap = vec![NONE; self.values.len()];
        for (index, &(_, id)) in strings.iter().enumerate() {
            if let Some(slot) = remap.get_mut(id as usize) {
                *slot = u32::try_from(index).unwrap_or(NONE);
            }
        }

        put_varint(out, replicas.len() as u64);
        let mut previous = None;
        for &r in &replicas {
            put_varint(out, previous.map_or(r, |p: u64| r - p - 1));
            previous = Some(r);
        }
        out.push(params);
        let compacted = self
            .hours
            .values()
            .flat_map(|cells| cells.dims.iter().flat_map(|map| map.values()))
            .any(|cell| cell.tally.watermark().0 > 0);
        out.push(u8::from(compacted));
        put_varint(out, strings.len() as u64);
        let mut previous: &[u8] = &[];
        for &(s, _) in &strings {
            let s = s.as_bytes();
            let shared = s.iter().zip(previous).take_while(|(a, b)| a == b).count();
            put_varint(out, shared as u64);
            put_bytes(out, &s[shared..]);
            previous = s;
        }

        put_varint(out, self.hours.len() as u64);
        let mut previous_hour = None;
        let mut cells: Vec<(u32, &Cell)> = Vec::new();
        let mut body = Vec::new();
        let mut table: Vec<u32> = Vec::new();
        for (&hour, hour_cells) in &self.hours {
            put_varint(
                out,
                u64::from(previous_hour.map_or(hour, |p: u32| hour - p - 1)),
            );
            previous_hour = Some(hour);
            let groups = hour_cells.dims.iter().filter(|m| !m.is_empty()).count();
            // The hour's sparse codes, each once: the cells' sparse sketches
            // refer to them by index.
            table.clear();
            for map in &hour_cells.dims {
                for cell in map.values() {
                    if cell.visitors.params() == params
                        && let Some(codes) = cell.visitors.sparse_codes()
                    {
                        table.extend_from_slice(&codes);
                    }
                }
            }
            table.sort_unstable();
            table.dedup();
            put_varint(out, table.len() as u64);
            let mut previous = None;
            for &code in &table {
                put_varint(out, u64::from(previous.map_or(code, |p: u32| code - p - 1)));
                previous = Some(code);
            }
            put_varint(out, groups as u64);
            for (tag, map) in hour_cells.dims.iter().enumerate() {
                if map.is_empty() {
                    continue;
                }
                out.push(tag as u8);
                put_varint(out, map.len() as u64);
                cells.clear();
                cells
                    .extend(map.iter().map(|(&id, cell)| {
                        (remap.get(id as usize).copied().unwrap_or(NONE), cell)
                    }));
                cells.sort_unstable_by_key(|&(index, _)| index);
                let mut previous = None;
                for &(index, cell) in &cells {
                    put_varint(
                        out,
                        u64::from(previous.map_or(index, |p: u32| index - p - 1)),
                    );
                    previous = Some(index);
                    let entries = cell.tally.entries();
                    if compacted {
                        let watermark = cell.tally.watermark().0;
                        put_varint(out, watermark);
                        if watermark > 0 {
                            let base = cell.tally.base();
                            out.push(base.mask());
                            for v in base.fields().into_iter().filter(|&v| v != 0) {
                                put_varint(out, v);
                            }
                        }
                    }
                    if replicas.len() == 1 {
                        match entries.first() {
                            Some((_, counts)) => put_counts(out, counts),
                            None => out.push(0),
                        }
                    } else {
                        put_varint(out, entries.len() as u64);
                        for (replica, counts) in entries {
                            let at = replicas.binary_search(&replica.0).unwrap_or(0);
                            put_varint(out, at as u64);
                            put_counts(out, counts);
                        }
                    }
                    let native = cell.visitors.params() == params;
                    if let Some(codes) = cell.visitors.sparse_codes().filter(|_| native) {
                        put_varint(out, (codes.len() as u64) << 2 | INDEXED);
                        let mut previous = None;
                        for code in codes.iter() {
                            let at = table.binary_search(code).unwrap_or(0) as u64;
                            put_varint(out, previous.map_or(at, |p| at - p - 1));
                            previous = Some(at);
                        }
                        continue;
                    }
                    body.clear();
                    let layout = if native {
                        cell.visitors.encode_body(&mut body);
                        DENSE
                    } else {
                        cell.visitors.encode_into(&mut body);
                        FOREIGN
                    };
                    put_varint(out, (body.len() as u64) << 2 | layout);
                    out.extend_from_slice(&body);
                }
            }
        }
    }

    /// Decodes a rollup of any version this build reads: 1 (retired:
    /// `encode_v1` behind the `testing` feature), 2 (retired) or 3
    /// ([`Self::encode`]).
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedVersion`] for an unknown tag (`supported: "1, 2, 3"`),
    /// [`Error::Truncated`], [`Error::TrailingBytes`], [`Error::Malformed`] or
    /// [`Error::OutOfRange`] for bytes no encoder writes, the sketch decoder's
    /// errors for a bad sketch. Never panics; allocates at most in proportion
    /// to the input.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        match bytes.first() {
            Some(&super::codec_v1::ROLLUP_V1) => Self::decode_v1(bytes),
            Some(&version @ (ROLLUP_V2 | ROLLUP_V3)) => {
                decode_body(bytes.get(1..).unwrap_or_default(), version)
            }
            Some(&found) => Err(Error::UnsupportedVersion {
                kind: KIND,
                found,
                supported: "1, 2, 3",
            }),
            None => Err(Error::Truncated {
                kind: KIND,
                field: "version",
            }),
        }
    }
}

fn usize_of(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn take<'a>(r: &mut Reader<'a>, len: u64, field: &'static str) -> Result<&'a [u8]> {
    let rest = r.rest();
    let len = usize_of(len);
    if len > rest.len() {
        return Err(Error::Truncated { kind: KIND, field });
    }
    let (bytes, after) = rest.split_at(len);
    *r = Reader::new(after, KIND);
    Ok(bytes)
}

fn read_counts(r: &mut Reader<'_>) -> Result<Counts> {
    let mask = r.u8("tally mask")?;
    if mask == 0 {
        return Err(malformed("tally mask", "an entry without a field"));
    }
    super::read_counts(u64::from(mask), || r.varint("tally value"))
}

/// The next strictly increasing number after `previous` from a gap varint.
fn next_after(previous: Option<u64>, gap: u64, field: &'static str) -> Result<u64> {
    match previous {
        None => Ok(gap),
        Some(p) => p
            .checked_add(gap)
            .and_then(|v| v.checked_add(1))
            .ok_or(Error::OutOfRange {
                kind: KIND,
                field,
                value: gap,
                limit: (u64::MAX - 1).saturating_sub(p),
            }),
    }
}

/// Decodes a version-2 or version-3 body (after the version byte).
pub(crate) fn decode_body(body: &[u8], version: u8) -> Result<SiteRollup> {
    let mut r = Reader::new(body, KIND);
    let len = r.varint("site")?;
    let site = std::str::from_utf8(take(&mut r, len, "site")?)
        .map_err(|_| malformed("site", "not UTF-8"))?;
    let mut rollup = SiteRollup::new(site);

    let seen = r.varint("seen")?;
    let mut last_replica = None;
    for _ in 0..seen {
        let replica = r.varint("seen replica")?;
        if last_replica.is_some_and(|l| l >= replica) {
            return Err(malformed("seen", "replicas not strictly increasing"));
        }
        last_replica = Some(replica);
        let mut set = SeqSet {
            contiguous: r.varint("seen contiguous")?,
            extra: BTreeSet::new(),
        };
        let extra = r.varint("seen extra")?;
        for _ in 0..extra {
            let seq = r.varint("seen extra")?;
            if seq <= set.contiguous.saturating_add(1)
                || set.extra.last().is_some_and(|&l| l >= seq)
            {
                return Err(malformed("seen", "sequence numbers not canonical"));
            }
            set.extra.insert(seq);
        }
        rollup.seen.insert(ReplicaId(replica), set);
    }

    let count = r.varint("replicas")?;
    let mut replicas: Vec<u64> = Vec::new();
    for _ in 0..count {
        let gap = r.varint("replica")?;
        replicas.push(next_after(replicas.last().copied(), gap, "replica")?);
    }
    let mut replica_used = vec![false; replicas.len()];
    let params = r.u8("sketch parameters")?;
    let compacted = version >= ROLLUP_V3 && r.varint_max("compacted", 1)? == 1;
    let mut any_compacted = false;
    // Checked by decoding an empty sparse body with them.
    UniqueSketch::decode_body(&[0], params, false)?;

    let count = r.varint("strings")?;
    let mut previous: Vec<u8> = Vec::new();
    for i in 0..count {
        let shared = usize_of(r.varint("string prefix")?);
        if shared > previous.len() {
            return Err(Error::OutOfRange {
                kind: KIND,
                field: "string prefix",
                value: shared as u64,
                limit: previous.len() as u64,
            });
        }
        let len = r.varint("string")?;
        let suffix = take(&mut r, len, "string")?;
        if suffix
            .first()
            .is_some_and(|b| previous.get(shared) == Some(b))
        {
            return Err(malformed("string prefix", "shorter than the shared prefix"));
        }
        previous.truncate(shared);
        previous.extend_from_slice(suffix);
        let s = std::str::from_utf8(&previous).map_err(|_| malformed("strings", "not UTF-8"))?;
        let id = rollup.values.intern(s);
        if u64::from(id) != i || (id > 0 && rollup.values.get(id - 1) >= s) {
            return Err(malformed("strings", "strings not strictly increasing"));
        }
    }
    let strings = rollup.values.len() as u64;
    let (mut native, mut lowest_foreign) = (false, None::<u8>);
    let (mut table, mut used, mut codes): (Vec<u32>, Vec<bool>, Vec<u32>) =
        (Vec::new(), Vec::new(), Vec::new());

    let hours = r.varint("hours")?;
    let mut previous_hour = None;
    for _ in 0..hours {
        let gap = r.varint("hour")?;
        let hour = next_after(previous_hour, gap, "hour")?;
        previous_hour = Some(hour);
        let hour = u32::try_from(hour).map_err(|_| Error::OutOfRange {
            kind: KIND,
            field: "hour",
            value: hour,
            limit: u64::from(u32::MAX),
        })?;
        let count = r.varint("visitor codes")?;
        table.clear();
        for _ in 0..count {
            let gap = r.varint("visitor code")?;
            let code = next_after(table.last().map(|&c| u64::from(c)), gap, "visitor code")?;
            let code = u32::try_from(code).map_err(|_| Error::OutOfRange {
                kind: KIND,
                field: "visitor code",
                value: code,
                limit: u64::from(u32::MAX),
            })?;
            table.push(code);
        }
        used.clear();
        used.resize(table.len(), false);
        let groups = r.varint("dimension groups")?;
        if groups == 0 {
            return Err(malformed("hour", "an hour without cells"));
        }
        let mut last_tag = None;
        for _ in 0..groups {
            let tag = r.u8("dimension")?;
            let dim = Dimension::from_tag(tag).ok_or(Error::OutOfRange {
                kind: KIND,
                field: "dimension",
                value: u64::from(tag),
                limit: (DIMENSIONS - 1) as u64,
            })?;
            if last_tag.is_some_and(|l| l >= tag) {
                return Err(malformed("dimension", "dimensions not strictly increasing"));
            }
            last_tag = Some(tag);
            let n = r.varint("cells")?;
            if n == 0 {
                return Err(malformed("cells", "an empty dimension group"));
            }
            let mut previous = None;
            for _ in 0..n {
                let gap = r.varint("value")?;
                let index = next_after(previous, gap, "value")?;
                previous = Some(index);
                if index >= strings {
                    return Err(Error::OutOfRange {
                        kind: KIND,
                        field: "value",
                        value: index,
                        limit: strings.saturating_sub(1),
                    });
                }
                let (watermark, base) = if compacted {
                    let watermark = r.varint("tally watermark")?;
                    let base = if watermark > 0 {
                        any_compacted = true;
                        match r.u8("tally base")? {
                            0 => Counts::default(),
                            mask => super::read_counts(u64::from(mask), || {
                                r.varint("tally base value")
                            })?,
                        }
                    } else {
                        Counts::default()
                    };
                    (watermark, base)
                } else {
                    (0, Counts::default())
                };
                let tally = if replicas.len() == 1 {
                    if r.rest().first() == Some(&0) {
                        r.u8("tally mask")?;
                        Tally::default()
                    } else {
                        replica_used[0] = true;
                        Tally::single(ReplicaId(replicas[0]), read_counts(&mut r)?)
                    }
                } else {
                    let entries = r.varint("tally entries")?;
                    let mut last = None;
                    let mut list = Vec::new();
                    for _ in 0..entries {
                        let at =
                            r.varint_max("tally replica", replicas.len().saturating_sub(1) as u64)?;
                        if replicas.is_empty() {
                            return Err(malformed("tally replica", "no replica table"));
                        }
                        if last.is_some_and(|l| l >= at) {
                            return Err(malformed("tally", "replicas not strictly increasing"));
                        }
                        last = Some(at);
                        if let Some(used) = replica_used.get_mut(usize_of(at)) {
                            *used = true;
                        }
                        let replica = replicas.get(usize_of(at)).copied().unwrap_or_default();
                        list.push((ReplicaId(replica), read_counts(&mut r)?));
                    }
                    Tally::from_entries(list)
                };
                let tally = if watermark > 0 {
                    if tally
                        .entries()
                        .first()
                        .is_some_and(|(r, _)| r.0 < watermark)
                    {
                        return Err(malformed("tally", "a replica below the watermark"));
                    }
                    Tally::from_replicas(Replicas {
                        watermark,
                        base,
                        entries: tally.entries().to_vec(),
                    })
                } else {
                    tally
                };
                let head = r.varint("sketch")?;
                let visitors = match head & 3 {
                    INDEXED => {
                        native = true;
                        codes.clear();
                        let mut previous = None;
                        for _ in 0..head >> 2 {
                            let gap = r.varint("visitor index")?;
                            let at = next_after(previous, gap, "visitor index")?;
                            previous = Some(at);
                            let code = table.get(usize_of(at)).ok_or(Error::OutOfRange {
                                kind: KIND,
                                field: "visitor index",
                                value: at,
                                limit: (table.len() as u64).saturating_sub(1),
                            })?;
                            codes.push(*code);
                            if let Some(u) = used.get_mut(usize_of(at)) {
                                *u = true;
                            }
                        }
                        UniqueSketch::from_sparse_codes(params, &codes)?
                    }
                    DENSE => {
                        native = true;
                        let bytes = take(&mut r, head >> 2, "sketch")?;
                        UniqueSketch::decode_body(bytes, params, true)?
                    }
                    FOREIGN => {
                        let bytes = take(&mut r, head >> 2, "sketch")?;
                        let sketch = UniqueSketch::decode(bytes)?;
                        let p = sketch.params();
                        if p == params {
                            return Err(malformed(
                                "sketch",
                                "foreign with the rollup's parameters",
                            ));
                        }
                        lowest_foreign = Some(lowest_foreign.map_or(p, |l| l.min(p)));
                        sketch
                    }
                    layout => {
                        return Err(Error::OutOfRange {
                            kind: KIND,
                            field: "sketch layout",
                            value: layout,
                            limit: FOREIGN,
                        });
                    }
                };
                let id = u32::try_from(index).unwrap_or(u32::MAX);
                let cells = rollup.hours.entry(hour).or_default();
                cells.dim_mut(dim).insert(id, Cell { tally, visitors });
            }
        }
        if used.contains(&false) {
            return Err(malformed(
                "visitor codes",
                "a code no sketch of the hour has",
            ));
        }
    }
    r.finish()?;
    if compacted && !any_compacted {
        return Err(malformed("compacted", "set without a compacted tally"));
    }
    if replica_used.contains(&false) {
        return Err(malformed("replicas", "a replica no tally has"));
    }
    // The parameters are the default ones unless no cell has those, then
    // the lowest of the cells'.
    let default = default_params();
    let canonical = if params == default {
        native || lowest_foreign.is_none()
    } else {
        native && lowest_foreign.is_none_or(|f| f > params && f != default)
    };
    if !canonical {
        return Err(malformed("sketch parameters", "not the canonical choice"));
    }
    Ok(rollup)
}
