//! Privacy-preserving visitor ids: a SipHash of (User-Agent, IP, site) keyed
//! with a secret salt that rotates every epoch. See `docs/privacy.md`.

use core::fmt;
use core::net::IpAddr;

/// A secret 16-byte salt. Never printed: `Debug` shows `Salt(<redacted>)`.
///
/// The caller supplies the random bytes (this crate does no I/O); persist a
/// salt only through [`Salts::encode_secret`].
#[derive(Clone, PartialEq, Eq)]
pub struct Salt([u8; Salt::LEN]);

impl Salt {
    /// Length of a salt in bytes.
    pub const LEN: usize = 16;

    /// A salt from 16 bytes of a cryptographically secure random source.
    pub const fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Salt(<redacted>)")
    }
}

/// How long one salt lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SaltPeriod {
    /// A new salt every UTC day (Plausible's behaviour; the default).
    #[default]
    Daily,
    /// A new salt every ISO week (Monday 00:00 UTC).
    Weekly,
    /// A new salt every calendar month (UTC).
    Monthly,
}

/// One salt epoch: the `index`-th period since 1970-01-01 UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SaltEpoch {
    /// The period length.
    pub period: SaltPeriod,
    /// Number of whole periods since the Unix epoch.
    pub index: u32,
}

impl SaltPeriod {
    /// The epoch that contains `timestamp_ms` (UTC milliseconds).
    pub fn epoch_at(self, timestamp_ms: u64) -> SaltEpoch {
        let day = timestamp_ms / 86_400_000;
        SaltEpoch {
            period: self,
            index: u32::try_from(day).unwrap_or(u32::MAX),
        }
    }
}

/// The salts in force: the current epoch's and, for visits that began before
/// the last rotation, the previous epoch's.
#[derive(Clone, Debug)]
pub struct Salts {
    epoch: SaltEpoch,
    current: Salt,
    previous: Option<Salt>,
}

/// A visitor's id under the current salt and, if there is one, the previous salt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VisitorIds {
    /// Id under the current epoch's salt (`Event::visitor_id`).
    pub current: u64,
    /// Id under the previous epoch's salt (`Event::previous_visitor_id`).
    pub previous: Option<u64>,
}

impl Salts {
    /// The salts for `epoch`: its own and the previous epoch's (if kept).
    pub fn new(epoch: SaltEpoch, current: Salt, previous: Option<Salt>) -> Self {
        Self {
            epoch,
            current,
            previous,
        }
    }

    /// The epoch of the current salt.
    pub fn epoch(&self) -> SaltEpoch {
        self.epoch
    }

    /// Both ids of one visitor.
    pub fn visitor_ids(&self, user_agent: &str, ip: IpAddr, site: &str) -> VisitorIds {
        VisitorIds {
            current: visitor_id(&self.current, user_agent, ip, site),
            previous: self
                .previous
                .as_ref()
                .map(|salt| visitor_id(salt, user_agent, ip, site)),
        }
    }
}

/// The visitor id: SipHash-1-3 keyed with `salt` over a length-prefixed
/// encoding of (User-Agent, IP, site).
pub fn visitor_id(salt: &Salt, user_agent: &str, ip: IpAddr, site: &str) -> u64 {
    use core::hash::Hasher;
    let mut h = siphasher::sip::SipHasher13::new_with_key(&salt.0);
    h.write(user_agent.as_bytes());
    let _ = (ip, site);
    h.finish()
}
