//! Deltas: one replica's batch of contributions, shipped from the writer to
//! the stores that merge them, re-applicable and replayable in any order.
//!
//! A [`Delta`] is a [`SiteRollup`] fragment: the cells one writer touched
//! since its previous delta, each carrying that writer's **cumulative**
//! totals and sketch, tagged with `(replica, seq)`. Applying it is a join
//! ([`SiteRollup::apply`]): per-replica maxima and sketch unions. Hence:
//! - re-applying a delta, or replaying a whole archive of them, changes
//!   nothing (idempotent);
//! - applying deltas out of order gives the same state (commutative), and a
//!   newer delta already contains everything an older one had for the cells
//!   they share;
//! - the `seq` numbers a store has seen ([`SiteRollup::seen`]) tell a shipper
//!   which deltas are missing ([`crate::rollup::SeqSet::missing`]): a cell
//!   touched only in a lost delta is missing until any later delta touches
//!   it again, so lost deltas must be re-sent.
//!
//! Encoding (`docs/wire-format.md`, section `rollup`): the version tag `3`,
//! varint `replica`, varint `seq`, then the version-3 rollup body (the
//! rollup's encoding without its version byte). [`Delta::decode`] also reads
//! version 2 (the same with the version-2 body) and version 1 (postcard of
//! `(replica, seq, version-1 rollup body)`), which nothing writes any more
//! but tests (`testing` feature: `encode_v1`).

use crate::bits::{Reader, put_varint};
use crate::counter::ReplicaId;
use crate::lattice::Lattice;
use crate::rollup::{ROLLUP_V3, RollupWire, SiteRollup, decode_body, postcard_error};
use crate::{Error, Result};

/// The version tag of the retired postcard encoding.
const DELTA_V1: u8 = 1;
/// The version-2 rollup body without compacted tallies.
const DELTA_V2: u8 = 2;
/// The version tag of the encoding [`Delta::encode`] writes: its body is
/// the rollup's version-3 body.
const DELTA_V3: u8 = ROLLUP_V3;

const KIND: &str = "delta";

/// One replica's batch of cumulative cell totals, numbered (module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Delta {
    replica: ReplicaId,
    seq: u64,
    rollup: SiteRollup,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct DeltaWire {
    replica: u64,
    seq: u64,
    body: RollupWire,
}

impl Delta {
    /// A delta of `replica` numbered `seq` (from 1) holding `rollup`'s cells.
    /// The rollup is marked as containing `(replica, seq)`.
    pub fn new(replica: ReplicaId, seq: u64, mut rollup: SiteRollup) -> Self {
        rollup.mark_seen(replica, seq);
        Self {
            replica,
            seq,
            rollup,
        }
    }

    /// The writer that produced it.
    pub fn replica(&self) -> ReplicaId {
        self.replica
    }

    /// Its sequence number in the writer's stream.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The site.
    pub fn site(&self) -> &str {
        self.rollup.site()
    }

    /// The cells it carries.
    pub fn rollup(&self) -> &SiteRollup {
        &self.rollup
    }

    /// The version-tagged encoding: version 3, the rollup's version-3 body
    /// after the delta's `(replica, seq)`. Deterministic.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![DELTA_V3];
        put_varint(&mut out, self.replica.0);
        put_varint(&mut out, self.seq);
        self.rollup.encode_body(&mut out);
        out
    }

    /// The retired version-1 encoding (postcard, with the version-1 rollup
    /// body), kept for golden tests and benchmarks: nothing writes it.
    #[cfg(any(test, feature = "testing"))]
    pub fn encode_v1(&self) -> Vec<u8> {
        let wire = DeltaWire {
            replica: self.replica.0,
            seq: self.seq,
            body: self.rollup.to_wire(),
        };
        postcard::to_extend(&wire, vec![DELTA_V1]).unwrap_or_else(|_| vec![DELTA_V1])
    }

    /// Decodes a delta of any version this build reads: 3 ([`Self::encode`])
    /// or the retired 1 and 2.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedVersion`] for an unknown tag (`supported: "1, 2, 3"`);
    /// as [`SiteRollup::decode`] for the body; [`Error::Malformed`] when the
    /// body does not contain its own `(replica, seq)`.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (&version, body) = bytes.split_first().ok_or(Error::Truncated {
            kind: KIND,
            field: "version",
        })?;
        let (replica, seq, rollup) = match version {
            DELTA_V2 | DELTA_V3 => {
                let mut r = Reader::new(body, KIND);
                let replica = r.varint("replica")?;
                let seq = r.varint("seq")?;
                (replica, seq, decode_body(r.rest(), version)?)
            }
            DELTA_V1 => {
                let (wire, rest) =
                    postcard::take_from_bytes::<DeltaWire>(body).map_err(postcard_error)?;
                if !rest.is_empty() {
                    return Err(Error::TrailingBytes {
                        kind: KIND,
                        count: rest.len(),
                    });
                }
                (wire.replica, wire.seq, SiteRollup::from_wire(wire.body)?)
            }
            found => {
                return Err(Error::UnsupportedVersion {
                    kind: KIND,
                    found,
                    supported: "1, 2, 3",
                });
            }
        };
        let replica = ReplicaId(replica);
        if seq == 0 || !rollup.contains(replica, seq) {
            return Err(Error::Malformed {
                kind: KIND,
                field: "seq",
                reason: "the body does not record the delta's own (replica, seq)",
            });
        }
        Ok(Self {
            replica,
            seq,
            rollup,
        })
    }
}

impl SiteRollup {
    /// Joins a delta into this rollup: idempotent, in any order (module docs
    /// of [`crate::delta`]).
    ///
    /// # Errors
    ///
    /// [`Error::WrongSite`] for a delta of another site,
    /// [`Error::IncompatibleSketch`] for sketches of another precision; the
    /// rollup is then unchanged.
    pub fn apply(&mut self, delta: &Delta) -> Result<()> {
        self.validate_merge(&delta.rollup)?;
        self.merge(&delta.rollup);
        Ok(())
    }

    /// Whether the delta `(replica, seq)` is already contained.
    pub fn contains(&self, replica: ReplicaId, seq: u64) -> bool {
        self.seen().get(&replica).is_some_and(|s| s.contains(seq))
    }
}
