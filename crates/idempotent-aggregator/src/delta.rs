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
//! Encoding: the version tag `1`, then postcard of `(replica, seq)`, then the
//! rollup body without its own tag (`docs/wire-format.md`, section `rollup`).

use serde::{Deserialize, Serialize};

use crate::counter::ReplicaId;
use crate::lattice::Lattice;
use crate::rollup::{RollupWire, SiteRollup, postcard_error};
use crate::{Error, Result};

/// The version tag of the [`Delta`] encoding.
const DELTA_V1: u8 = 1;

const KIND: &str = "delta";

/// One replica's batch of cumulative cell totals, numbered (module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Delta {
    replica: ReplicaId,
    seq: u64,
    rollup: SiteRollup,
}

#[derive(Serialize, Deserialize)]
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

    /// The version-tagged encoding.
    pub fn encode(&self) -> Vec<u8> {
        let wire = DeltaWire {
            replica: self.replica.0,
            seq: self.seq,
            body: self.rollup.to_wire(),
        };
        postcard::to_extend(&wire, vec![DELTA_V1]).unwrap_or_else(|_| vec![DELTA_V1])
    }

    /// Decodes [`Self::encode`]'s bytes.
    ///
    /// # Errors
    ///
    /// As [`SiteRollup::decode`]; also [`Error::Malformed`] when the body
    /// does not contain its own `(replica, seq)`.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (&version, body) = bytes.split_first().ok_or(Error::Truncated {
            kind: KIND,
            field: "version",
        })?;
        if version != DELTA_V1 {
            return Err(Error::UnsupportedVersion {
                kind: KIND,
                found: version,
                supported: "1",
            });
        }
        let (wire, rest) = postcard::take_from_bytes::<DeltaWire>(body).map_err(postcard_error)?;
        if !rest.is_empty() {
            return Err(Error::TrailingBytes {
                kind: KIND,
                count: rest.len(),
            });
        }
        let rollup = SiteRollup::from_wire(wire.body)?;
        let replica = ReplicaId(wire.replica);
        if wire.seq == 0
            || !rollup
                .seen()
                .get(&replica)
                .is_some_and(|s| s.contains(wire.seq))
        {
            return Err(Error::Malformed {
                kind: KIND,
                field: "seq",
                reason: "the body does not record the delta's own (replica, seq)",
            });
        }
        Ok(Self {
            replica,
            seq: wire.seq,
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
    /// [`Error::Malformed`] for a delta of another site,
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
