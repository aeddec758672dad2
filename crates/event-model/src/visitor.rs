//! Privacy-preserving visitor ids: a keyed hash of (User-Agent, IP, site)
//! under a secret salt that rotates every epoch. See `docs/privacy.md`.
//!
//! - [`Salt`]: 16 secret bytes from the caller's CSPRNG (this crate does no
//!   I/O). Never printed, never serialized by accident: the only ways out are
//!   [`Salt::expose_secret`] and [`Salts::encode_secret`], named so that a
//!   reviewer sees them. Zeroed when dropped.
//! - [`SaltPeriod`] / [`SaltEpoch`]: daily (default), weekly or monthly
//!   epochs, computed from a UTC millisecond timestamp.
//! - [`Salts`]: the current epoch's salt and the previous one's, so that a
//!   visit that started before a rotation (midnight) continues after it.
//! - [`visitor_id`]: SipHash-2-4 keyed with the salt over a length-prefixed
//!   encoding, identical on every platform (pinned by golden vectors).

use core::fmt;
use core::hash::Hasher as _;
use core::net::IpAddr;

use siphasher::sip::SipHasher24;
use zeroize::Zeroize as _;

/// A secret 16-byte salt. `Debug` shows `Salt(<redacted>)`; there is no
/// `Display` and no `Serialize`. The bytes are zeroed when it is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Salt([u8; Salt::LEN]);

impl Salt {
    /// Length of a salt in bytes.
    pub const LEN: usize = 16;

    /// A salt from 16 bytes of a cryptographically secure random source
    /// (`crypto.getRandomValues` in a Worker, `getrandom` natively).
    pub const fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    /// The secret bytes, for code that must persist or transmit the salt
    /// itself (prefer [`Salts::encode_secret`]). Never log them.
    pub fn expose_secret(&self) -> &[u8; Self::LEN] {
        &self.0
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Salt(<redacted>)")
    }
}

impl Drop for Salt {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// How long one salt lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SaltPeriod {
    /// A new salt every UTC day (Plausible's behaviour; the default).
    #[default]
    Daily,
    /// A new salt every ISO week, starting Monday 00:00 UTC.
    Weekly,
    /// A new salt every calendar month, starting on the 1st, 00:00 UTC.
    Monthly,
}

const MS_PER_DAY: u64 = 86_400_000;

impl SaltPeriod {
    /// The epoch that contains `timestamp_ms` (milliseconds since the Unix epoch, UTC).
    pub fn epoch_at(self, timestamp_ms: u64) -> SaltEpoch {
        let day = timestamp_ms / MS_PER_DAY;
        let index = match self {
            Self::Daily => day,
            // 1970-01-01 was a Thursday: shift so that weeks start on Monday.
            Self::Weekly => (day + 3) / 7,
            Self::Monthly => {
                let (year, month) = civil_from_days(day);
                (year - 1970) * 12 + (month - 1)
            }
        };
        SaltEpoch {
            period: self,
            index: u32::try_from(index).unwrap_or(u32::MAX),
        }
    }

    fn tag(self) -> u8 {
        match self {
            Self::Daily => 0,
            Self::Weekly => 1,
            Self::Monthly => 2,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            0 => Some(Self::Daily),
            1 => Some(Self::Weekly),
            2 => Some(Self::Monthly),
            _ => None,
        }
    }
}

/// One salt epoch: the `index`-th period of its kind since 1970-01-01 UTC
/// (for weeks: since the week of Monday 1969-12-29).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SaltEpoch {
    /// The period length.
    pub period: SaltPeriod,
    /// Number of whole periods since the Unix epoch.
    pub index: u32,
}

impl SaltEpoch {
    /// When this epoch starts, in UTC milliseconds (clamped to the Unix epoch).
    pub fn start_ms(self) -> u64 {
        let index = u64::from(self.index);
        let day = match self.period {
            SaltPeriod::Daily => index,
            SaltPeriod::Weekly => (index * 7).saturating_sub(3),
            SaltPeriod::Monthly => days_from_civil(1970 + index / 12, index % 12 + 1),
        };
        day * MS_PER_DAY
    }

    /// The epoch after this one (saturating).
    pub fn next(self) -> Self {
        Self {
            index: self.index.saturating_add(1),
            ..self
        }
    }

    /// The epoch before this one, if there is one.
    pub fn previous(self) -> Option<Self> {
        self.index
            .checked_sub(1)
            .map(|index| Self { index, ..self })
    }
}

/// Days since 1970-01-01 -> (year, month 1..=12), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`, for non-negative day counts).
fn civil_from_days(day: u64) -> (u64, u64) {
    let z = day + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month)
}

/// (year >= 1970, month 1..=12) -> days since 1970-01-01 of its first day.
fn days_from_civil(year: u64, month: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let yoe = year - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

/// The salts in force: the current epoch's and, for visits that began before
/// the last rotation, the previous epoch's. `Debug` redacts both.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// Why salts could not be decoded or rotated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaltError {
    /// The encoded salts do not start with a version this code knows.
    #[error("salts: unknown version {found} (expected {SALTS_VERSION})")]
    UnknownVersion {
        /// The version byte found, or 0 for empty input.
        found: u8,
    },
    /// The encoded salts have the wrong length for their header.
    #[error("salts: {found} bytes, expected {expected}")]
    Length {
        /// The length the header calls for.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// A byte of the header is not a value this code knows.
    #[error("salts: invalid {field} byte {found}")]
    InvalidHeader {
        /// `period` or `flags`.
        field: &'static str,
        /// The byte found.
        found: u8,
    },
    /// A rotation must move to a later epoch of the same period.
    #[error("salts: cannot rotate from {from:?} to {to:?}")]
    NotLater {
        /// The current epoch.
        from: SaltEpoch,
        /// The epoch asked for.
        to: SaltEpoch,
    },
}

/// Version tag of [`Salts::encode_secret`]'s layout.
pub const SALTS_VERSION: u8 = 1;

const HEADER_LEN: usize = 1 + 1 + 4 + 1;
const FLAG_PREVIOUS: u8 = 1;

impl Salts {
    /// The salts for `epoch`: its own and, if kept, the previous epoch's.
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

    /// Whether an event at `timestamp_ms` belongs to a later epoch than the
    /// current salt's, i.e. whether the owner must [`rotate`](Self::rotate) first.
    pub fn needs_rotation(&self, timestamp_ms: u64) -> bool {
        self.epoch.period.epoch_at(timestamp_ms) > self.epoch
    }

    /// Moves to `epoch` with a fresh salt. The current salt becomes the
    /// previous one when `epoch` directly follows it; otherwise (epochs with
    /// no traffic were skipped) no previous salt is kept. The salt that falls
    /// out is zeroed; the caller must also delete every persisted copy of it.
    ///
    /// # Errors
    /// [`SaltError::NotLater`] unless `epoch` is later and of the same period.
    pub fn rotate(&mut self, epoch: SaltEpoch, salt: Salt) -> Result<(), SaltError> {
        if epoch.period != self.epoch.period || epoch <= self.epoch {
            return Err(SaltError::NotLater {
                from: self.epoch,
                to: epoch,
            });
        }
        let old = core::mem::replace(&mut self.current, salt);
        self.previous = (epoch.previous() == Some(self.epoch)).then_some(old);
        self.epoch = epoch;
        Ok(())
    }

    /// Whether the previous epoch's salt is kept.
    pub fn has_previous(&self) -> bool {
        self.previous.is_some()
    }

    /// Drops (and zeroes) the previous epoch's salt once it is no longer
    /// allowed (its epoch is two behind); returns whether there was one. The
    /// caller must also overwrite every persisted copy.
    pub fn forget_previous(&mut self) -> bool {
        self.previous.take().is_some()
    }

    /// Both ids of one visitor: `user_agent` as received (not trimmed), the
    /// client IP, and the site as stored in `Event::site`.
    pub fn visitor_ids(&self, user_agent: &str, ip: IpAddr, site: &str) -> VisitorIds {
        VisitorIds {
            current: visitor_id(&self.current, user_agent, ip, site),
            previous: self
                .previous
                .as_ref()
                .map(|salt| visitor_id(salt, user_agent, ip, site)),
        }
    }

    /// The secret bytes to persist (e.g. in a Durable Object), version-tagged:
    ///
    /// ```text
    /// version u8 = 1 | period u8 (0 daily, 1 weekly, 2 monthly) | epoch index u32 LE
    /// | flags u8 (bit 0: previous salt present) | current [16] | previous [16]?
    /// ```
    ///
    /// Treat the result as a key: store it only where keys are stored, never
    /// log it, and overwrite it on rotation.
    pub fn encode_secret(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 2 * Salt::LEN);
        out.push(SALTS_VERSION);
        out.push(self.epoch.period.tag());
        out.extend_from_slice(&self.epoch.index.to_le_bytes());
        out.push(if self.previous.is_some() {
            FLAG_PREVIOUS
        } else {
            0
        });
        out.extend_from_slice(&self.current.0);
        if let Some(previous) = &self.previous {
            out.extend_from_slice(&previous.0);
        }
        out
    }

    /// Decodes [`encode_secret`](Self::encode_secret)'s bytes.
    ///
    /// # Errors
    /// A [`SaltError`] naming the version, length or header byte that is wrong.
    pub fn decode_secret(bytes: &[u8]) -> Result<Self, SaltError> {
        let version = bytes.first().copied().unwrap_or(0);
        if version != SALTS_VERSION {
            return Err(SaltError::UnknownVersion { found: version });
        }
        let header: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(SaltError::Length {
                expected: HEADER_LEN + Salt::LEN,
                found: bytes.len(),
            })?;
        let [_, period, i0, i1, i2, i3, flags] = *header;
        let period = SaltPeriod::from_tag(period).ok_or(SaltError::InvalidHeader {
            field: "period",
            found: period,
        })?;
        let salt_count = match flags {
            0 => 1,
            FLAG_PREVIOUS => 2,
            found => {
                return Err(SaltError::InvalidHeader {
                    field: "flags",
                    found,
                });
            }
        };
        let expected = HEADER_LEN + salt_count * Salt::LEN;
        if bytes.len() != expected {
            return Err(SaltError::Length {
                expected,
                found: bytes.len(),
            });
        }
        let salt_at = |at: usize| {
            bytes
                .get(at..at + Salt::LEN)
                .and_then(|s| <[u8; Salt::LEN]>::try_from(s).ok())
                .map(Salt)
                .ok_or(SaltError::Length {
                    expected,
                    found: bytes.len(),
                })
        };
        let current = salt_at(HEADER_LEN)?;
        let previous = if salt_count == 2 {
            Some(salt_at(HEADER_LEN + Salt::LEN)?)
        } else {
            None
        };
        let epoch = SaltEpoch {
            period,
            index: u32::from_le_bytes([i0, i1, i2, i3]),
        };
        Ok(Self {
            epoch,
            current,
            previous,
        })
    }
}

/// Domain separation for the visitor-id input (version 1 of the encoding).
const VISITOR_ID_DOMAIN: &[u8] = b"glinto-visitor-v1";

/// The visitor id: SipHash-2-4 keyed with `salt` over
///
/// ```text
/// "glinto-visitor-v1" | len(user_agent) u64 LE | user_agent
/// | 4 | IPv4 [4]   or   6 | IPv6 [16]
/// | len(site) u64 LE | site
/// ```
///
/// IPv4-mapped IPv6 addresses are hashed as the IPv4 address they carry. The
/// lengths make the encoding unambiguous; fixed-width little-endian integers
/// make it identical on wasm32 and x86_64.
pub fn visitor_id(salt: &Salt, user_agent: &str, ip: IpAddr, site: &str) -> u64 {
    let mut h = SipHasher24::new_with_key(&salt.0);
    h.write(VISITOR_ID_DOMAIN);
    write_field(&mut h, user_agent.as_bytes());
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            h.write(&[4]);
            h.write(&v4.octets());
        }
        IpAddr::V6(v6) => {
            h.write(&[6]);
            h.write(&v6.octets());
        }
    }
    write_field(&mut h, site.as_bytes());
    h.finish()
}

fn write_field(h: &mut SipHasher24, bytes: &[u8]) {
    h.write(&(bytes.len() as u64).to_le_bytes());
    h.write(bytes);
}
