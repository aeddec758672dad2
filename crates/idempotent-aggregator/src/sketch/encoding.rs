//! The version-1 byte layout of [`UniqueSketch`] (docs/wire-format.md).
//!
//! ```text
//! byte 0      version tag = 1
//! byte 1      bits 0-4 precision p (4..=18), bit 5 dense flag,
//!             bits 6-7 hash scheme tag (1 = SplitMix64)
//! sparse:     varint n (<= 2^p / 16), then a bit stream, most significant
//!             bit first, zero-padded to a byte: per entry the gap to the
//!             previous 25-bit slot (the first slot itself; later gaps minus
//!             one) Rice-coded with k = max(0, 25 - bit_length(n)) clamped to
//!             24, and when the slot's low 25 - p bits are zero, 6 bits of
//!             rank - 1 (0..=39)
//! dense:      byte lo, byte hi: the smallest and largest register value
//!             (hi <= 65 - p); varint count of each value lo..=hi (the counts
//!             of lo and hi non-zero, the sum 2^p); then the registers in
//!             index order rANS-coded with those counts as frequencies
//!             (scale 2^p, byte renormalisation, L = 2^23) with two
//!             interleaved 32-bit states, even registers on the first, odd
//!             on the second: the two final states as 4 big-endian bytes
//!             each, then the renormalisation bytes in decoding order;
//!             decoding must consume every byte, end with both states at L,
//!             and reproduce the counts
//! ```
//!
//! Every encoding is canonical: decoding then encoding gives the same bytes,
//! and the decoder rejects anything the encoder would not write.

use super::{
    Codes, HashScheme, MAX_PRECISION, MIN_PRECISION, Repr, SPARSE_PRECISION, UniqueSketch, View,
    code_slot, sparse_limit,
};
use crate::bits::{BitReader, BitWriter, Reader, put_varint};
use crate::{Error, Result};

/// The one version this build writes and reads.
const VERSION: u8 = 1;
const KIND: &str = "UniqueSketch";
const DENSE_FLAG: u8 = 0x20;
const PRECISION_MASK: u8 = 0x1f;
/// rANS lower bound of the normalised state interval `[L, 256 L)`.
const RANS_L: u32 = 1 << 23;

impl UniqueSketch {
    /// The compact, version-tagged encoding (layout in docs/wire-format.md).
    ///
    /// About 2 bytes per visitor while sparse (up to `2^p / 16` visitors),
    /// then about `2.9 * 2^p / 8` bytes: 6 KB at the default precision.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends [`encode`](Self::encode)'s bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let view = self.view();
        let dense = matches!(view, View::Dense(_));
        out.push(VERSION);
        out.push(self.precision | if dense { DENSE_FLAG } else { 0 } | (self.hash.tag() << 6));
        match view {
            View::Sparse(codes) => encode_sparse(&codes, self.precision, out),
            View::Dense(registers) => encode_dense(&registers, self.precision, out),
        }
    }

    /// Decodes [`encode`](Self::encode)'s bytes.
    ///
    /// Never panics; allocates at most `2 * 2^p` bytes (p <= 18) beyond the
    /// result.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedVersion`], [`Error::InvalidPrecision`],
    /// [`Error::Truncated`], [`Error::OutOfRange`], [`Error::Malformed`] or
    /// [`Error::TrailingBytes`] for bytes an encoder does not write.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut reader = Reader::new(bytes, KIND);
        reader.version(VERSION, "1")?;
        let header = reader.u8("header")?;
        // The layouts' decoders read to the end of `bytes`.
        Self::decode_rest(&mut reader, header)
    }

    /// The header byte without the dense flag: precision and hash scheme
    /// (what a container of many sketches may store once).
    pub(crate) fn params(&self) -> u8 {
        self.precision | (self.hash.tag() << 6)
    }

    /// Appends the encoding without its version and header bytes; returns
    /// whether it is the dense layout.
    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) -> bool {
        match self.view() {
            View::Sparse(codes) => {
                encode_sparse(&codes, self.precision, out);
                false
            }
            View::Dense(registers) => {
                encode_dense(&registers, self.precision, out);
                true
            }
        }
    }

    /// Decodes [`Self::encode_body`]'s bytes (all of `body`) for the header
    /// `params` ([`Self::params`]) and layout.
    pub(crate) fn decode_body(body: &[u8], params: u8, dense: bool) -> Result<Self> {
        let mut reader = Reader::new(body, KIND);
        let header = params | if dense { DENSE_FLAG } else { 0 };
        Self::decode_rest(&mut reader, header)
    }

    /// The sparse codes in canonical order, `None` when dense.
    pub(crate) fn sparse_codes(&self) -> Option<std::borrow::Cow<'_, [u32]>> {
        match self.view() {
            View::Sparse(codes) => Some(codes),
            View::Dense(_) => None,
        }
    }

    /// A sparse sketch of the header `params` ([`Self::params`]) from codes
    /// of untrusted origin, checked as the sparse decoder checks them:
    /// slots strictly increasing, a rank exactly where the layout stores one,
    /// at most the sparse limit of entries.
    pub(crate) fn from_sparse_codes(params: u8, codes: &[u32]) -> Result<Self> {
        let mut sketch = Self::decode_body(&[0], params, false)?;
        let precision = sketch.precision;
        if codes.len() > sparse_limit(precision) {
            return Err(Error::OutOfRange {
                kind: KIND,
                field: "sparse entry count",
                value: codes.len() as u64,
                limit: sparse_limit(precision) as u64,
            });
        }
        let mut previous: Option<u32> = None;
        for &code in codes {
            let slot = code_slot(code);
            let rank = code & 0x3f;
            let valid = slot < 1 << SPARSE_PRECISION
                && if stores_rank(slot, precision) {
                    (1..=64 - SPARSE_PRECISION).contains(&rank)
                } else {
                    rank == 0
                };
            if !valid || previous.is_some_and(|p| p >= slot) {
                return Err(Error::Malformed {
                    kind: KIND,
                    field: "sparse code",
                    reason: "not a canonical sparse code in slot order",
                });
            }
            previous = Some(slot);
        }
        sketch.repr = match codes {
            [] => sketch.repr,
            &[code] => Repr::One(code),
            _ => Repr::Sparse {
                sorted: Codes::from_slice(codes),
                pending: Vec::new(),
            },
        };
        Ok(sketch)
    }

    fn decode_rest(reader: &mut Reader<'_>, header: u8) -> Result<Self> {
        let precision = header & PRECISION_MASK;
        if !(MIN_PRECISION..=MAX_PRECISION).contains(&precision) {
            return Err(Error::InvalidPrecision {
                precision,
                min: MIN_PRECISION,
                max: MAX_PRECISION,
            });
        }
        let hash = HashScheme::from_tag(header >> 6)
            .ok_or_else(|| reader.malformed("hash scheme", "unknown hash scheme tag"))?;
        let mut sketch = Self::empty(precision, hash);
        sketch.repr = if header & DENSE_FLAG == 0 {
            decode_sparse(reader, precision)?
        } else {
            decode_dense(reader, precision)?
        };
        *sketch.cached.get_mut() = super::STALE;
        Ok(sketch)
    }
}

/// The Rice parameter for `n` sparse entries: about log2 of the mean gap.
fn rice_parameter(n: usize) -> u32 {
    let bit_length = usize::BITS - n.leading_zeros();
    SPARSE_PRECISION
        .saturating_sub(bit_length)
        .min(SPARSE_PRECISION - 1)
}

/// Whether a slot's rank is stored (its bits after the first `p` are zero).
fn stores_rank(slot: u32, precision: u8) -> bool {
    slot & ((1u32 << (SPARSE_PRECISION - u32::from(precision))) - 1) == 0
}

fn encode_sparse(codes: &[u32], precision: u8, out: &mut Vec<u8>) {
    put_varint(out, codes.len() as u64);
    let k = rice_parameter(codes.len());
    let mut bits = BitWriter::default();
    let mut previous: Option<u32> = None;
    for &code in codes {
        let slot = code_slot(code);
        let gap = match previous {
            None => slot,
            Some(previous) => slot - previous - 1,
        };
        bits.unary(u64::from(gap >> k));
        bits.bits(gap, k);
        if stores_rank(slot, precision) {
            bits.bits((code & 0x3f) - 1, 6);
        }
        previous = Some(slot);
    }
    out.extend_from_slice(&bits.finish());
}

fn decode_sparse(reader: &mut Reader<'_>, precision: u8) -> Result<Repr> {
    let n = reader.varint_max("sparse entry count", sparse_limit(precision) as u64)? as usize;
    let k = rice_parameter(n);
    let mut bits = BitReader::new(reader.rest(), KIND);
    let mut sorted = Codes::with_capacity(n);
    let mut next_slot = 0u32;
    let slots = 1u32 << SPARSE_PRECISION;
    for _ in 0..n {
        let quotient = bits.unary(u64::from(slots >> k), "sparse gap quotient")?;
        let remainder = bits.bits(k, "sparse gap")?;
        let gap = ((quotient as u32) << k) | remainder;
        let slot = next_slot
            .checked_add(gap)
            .filter(|&slot| slot < slots)
            .ok_or(Error::OutOfRange {
                kind: KIND,
                field: "sparse slot",
                value: u64::from(next_slot) + u64::from(gap),
                limit: u64::from(slots - 1),
            })?;
        let rank = if stores_rank(slot, precision) {
            let rank = bits.bits(6, "sparse rank")? + 1;
            if rank > 64 - SPARSE_PRECISION {
                return Err(Error::OutOfRange {
                    kind: KIND,
                    field: "sparse rank",
                    value: u64::from(rank),
                    limit: u64::from(64 - SPARSE_PRECISION),
                });
            }
            rank
        } else {
            0
        };
        sorted.push((slot << 6) | rank);
        next_slot = slot + 1;
    }
    bits.finish("sparse padding")?;
    Ok(match sorted.as_slice() {
        &[code] => Repr::One(code),
        _ => Repr::Sparse {
            sorted,
            pending: Vec::new(),
        },
    })
}

fn encode_dense(registers: &[u8], precision: u8, out: &mut Vec<u8>) {
    let mut counts = [0u32; 64];
    for &r in registers {
        counts[usize::from(r)] += 1;
    }
    let lo = counts.iter().position(|&c| c > 0).unwrap_or(0);
    let hi = counts.iter().rposition(|&c| c > 0).unwrap_or(0);
    out.push(lo as u8);
    out.push(hi as u8);
    let mut cumulative = [0u32; 64];
    let mut sum = 0;
    for symbol in lo..=hi {
        put_varint(out, u64::from(counts[symbol]));
        cumulative[symbol] = sum;
        sum += counts[symbol];
    }

    // Two interleaved states (even registers on the first, odd on the
    // second) so the decoder runs two independent dependency chains.
    let shift = u32::from(precision);
    let mut states = [RANS_L; 2];
    let mut emitted = Vec::with_capacity(registers.len() / 2);
    for (i, &r) in registers.iter().enumerate().rev() {
        let state = &mut states[i & 1];
        let symbol = usize::from(r) & 63;
        let frequency = counts[symbol];
        let limit = u64::from((RANS_L >> shift) << 8) * u64::from(frequency);
        while u64::from(*state) >= limit {
            emitted.push(*state as u8);
            *state >>= 8;
        }
        *state = ((*state / frequency) << shift) + (*state % frequency) + cumulative[symbol];
    }
    out.extend_from_slice(&states[0].to_be_bytes());
    out.extend_from_slice(&states[1].to_be_bytes());
    out.extend(emitted.iter().rev());
}

fn decode_dense(reader: &mut Reader<'_>, precision: u8) -> Result<Repr> {
    let m = 1usize << precision;
    let max_symbol = 65 - precision;
    let lo = reader.u8("lowest register")?;
    let hi = reader.u8("highest register")?;
    if hi > max_symbol {
        return Err(Error::OutOfRange {
            kind: KIND,
            field: "highest register",
            value: u64::from(hi),
            limit: u64::from(max_symbol),
        });
    }
    if lo > hi {
        return Err(reader.malformed("lowest register", "above the highest register"));
    }
    let mut counts = [0u32; 64];
    let mut cumulative = [0u32; 64];
    let mut sum = 0u64;
    for symbol in lo..=hi {
        let count = reader.varint_max("register count", m as u64)?;
        cumulative[usize::from(symbol)] = sum as u32;
        counts[usize::from(symbol)] = count as u32;
        sum += count;
    }
    if sum != m as u64 {
        return Err(reader.malformed("register counts", "do not add up to 2^p"));
    }
    if counts[usize::from(lo)] == 0 || counts[usize::from(hi)] == 0 {
        return Err(reader.malformed("register counts", "the lowest or highest count is zero"));
    }

    // Slot -> symbol table: `m` bytes, bounded by the precision.
    let mut symbols = vec![0u8; m];
    for symbol in lo..=hi {
        let start = cumulative[usize::from(symbol)] as usize;
        let end = start + counts[usize::from(symbol)] as usize;
        if let Some(range) = symbols.get_mut(start..end) {
            range.fill(symbol);
        }
    }

    let shift = u32::from(precision);
    let mask = (1u32 << shift) - 1;
    let (heads, stream) = reader
        .rest()
        .split_first_chunk::<8>()
        .ok_or(Error::Truncated {
            kind: KIND,
            field: "rANS states",
        })?;
    let mut states = [0u32; 2];
    for (state, bytes) in states.iter_mut().zip(heads.chunks_exact(4)) {
        let mut be = [0u8; 4];
        be.copy_from_slice(bytes);
        *state = u32::from_be_bytes(be);
        if !(RANS_L..RANS_L << 8).contains(state) {
            return Err(reader.malformed("rANS states", "outside [2^23, 2^31)"));
        }
    }
    // Per symbol: (frequency, cumulative), one load in the hot loop.
    let mut table = [(0u32, 0u32); 64];
    for ((entry, &count), &start) in table.iter_mut().zip(&counts).zip(&cumulative) {
        *entry = (count, start);
    }
    let mut registers = vec![0u8; m].into_boxed_slice();
    // One histogram per state, so equal neighbours do not serialise on one
    // counter.
    let mut seen = [[0u32; 64]; 2];
    let mut position = 0usize;
    for pair in registers.chunks_exact_mut(2) {
        for ((register, state), seen) in pair.iter_mut().zip(states.iter_mut()).zip(seen.iter_mut())
        {
            let slot = *state & mask;
            let symbol = symbols.get(slot as usize).copied().unwrap_or(0);
            let s = usize::from(symbol) & 63;
            let (frequency, start) = table[s];
            *state = frequency * (*state >> shift) + slot - start;
            while *state < RANS_L {
                let byte = stream.get(position).copied().ok_or(Error::Truncated {
                    kind: KIND,
                    field: "rANS stream",
                })?;
                position += 1;
                *state = (*state << 8) | u32::from(byte);
            }
            seen[s] += 1;
            *register = symbol;
        }
    }
    if position != stream.len() {
        return Err(Error::TrailingBytes {
            kind: KIND,
            count: stream.len() - position,
        });
    }
    let mut decoded = [0u32; 64];
    for (total, (a, b)) in decoded.iter_mut().zip(seen[0].iter().zip(&seen[1])) {
        *total = a + b;
    }
    if states != [RANS_L; 2] || decoded != counts {
        return Err(reader.malformed("rANS stream", "does not end in the initial states"));
    }
    Ok(Repr::Dense(registers))
}
