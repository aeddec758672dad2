//! A site's configuration: what it is, how it is validated, how it is stored.

use glinto_storage::Timestamp;
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::{Error, Result};

/// Days of hour cells kept by default (`time:hour` works this far back).
pub const DEFAULT_HOUR_CELLS_DAYS: u32 = 7;
/// Writer shards of a new site by default.
pub const DEFAULT_SHARDS: u16 = 1;
/// Longest retention accepted (100 years of 365 days), beyond which
/// "unlimited" (`None`) says it better.
pub const MAX_RETENTION_DAYS: u32 = 36_500;
/// Most days of hour cells a site may keep.
pub const MAX_HOUR_CELLS_DAYS: u32 = 366;
/// Most writer shards of one site.
pub const MAX_SHARDS: u16 = 256;
/// Longest time zone name accepted (the longest IANA name is 32 bytes).
pub const MAX_TIME_ZONE_BYTES: usize = 64;

/// One registered site.
///
/// Read it from [`Registry::site`](crate::Registry::site) (the source of
/// truth) or from the published snapshot with
/// [`read_snapshot`](crate::read_snapshot) (what the edge does). Every value
/// the registry returns has passed [`NewSite`]'s validation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SiteConfig {
    /// The site's domain, normalized as events name it
    /// ([`glinto_event_model::normalize_site`]): the registry's key.
    pub domain: String,
    /// The site's IANA time zone name, as spelled by the tz database
    /// (`Europe/Berlin`, `Asia/Kolkata`, `UTC`); days, weeks and months of
    /// its statistics are this zone's.
    pub time_zone: String,
    /// Whether its dashboard and Stats API are readable without a key.
    pub public: bool,
    /// Days of data kept; `None`: unlimited (the default).
    pub retention_days: Option<u32>,
    /// Days of hour cells kept before they fold into day cells.
    pub hour_cells_days: u32,
    /// Writer shards (replicas split by visitor, merged by the CRDTs).
    pub shards: u16,
    /// When it was added.
    pub created_at: Timestamp,
    /// 1 when added, +1 for every update: a reader of snapshots keeps the
    /// highest revision it saw.
    pub revision: u64,
}

impl SiteConfig {
    /// The site's time zone, from jiff's bundled tz database.
    ///
    /// # Errors
    /// [`Error::Invalid`] on `time_zone` if the name is not in the database
    /// (impossible for a config the registry returned).
    pub fn tz(&self) -> Result<jiff::tz::TimeZone> {
        jiff::tz::db()
            .get(&self.time_zone)
            .map_err(|_| Error::invalid("time_zone", unknown_zone(&self.time_zone)))
    }

    /// Whether `days` old data is within retention.
    pub fn retains(&self, days: u32) -> bool {
        self.retention_days.is_none_or(|limit| days < limit)
    }

    fn validate(&self) -> Result<()> {
        let domain = normalize_domain(&self.domain)?;
        if domain != self.domain {
            return Err(Error::invalid(
                "domain",
                format!("{:?} is not normalized (expected {domain:?})", self.domain),
            ));
        }
        let zone = canonical_time_zone(&self.time_zone)?;
        if zone != self.time_zone {
            return Err(Error::invalid(
                "time_zone",
                format!("{:?} is not canonical (expected {zone:?})", self.time_zone),
            ));
        }
        check_retention(self.retention_days)?;
        check_hour_cells(self.hour_cells_days)?;
        check_shards(self.shards)
    }

    /// The version-tagged record stored in the state store and published to
    /// KV (`docs/wire-format.md`, "Site record").
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(
            SITE_V1,
            &SiteV1 {
                domain: self.domain.clone(),
                time_zone: self.time_zone.clone(),
                public: self.public,
                retention_days: self.retention_days,
                hour_cells_days: self.hour_cells_days,
                shards: self.shards,
                created_at_ms: self.created_at.as_unix_millis(),
                revision: self.revision,
            },
        )
    }

    /// Decodes [`encode`](Self::encode)'s bytes read under `key`, and checks
    /// every value as [`NewSite`] would.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming `key`: unknown version, malformed or
    /// trailing bytes, or a value out of range.
    pub fn decode(key: &str, bytes: &[u8]) -> Result<Self> {
        let v1: SiteV1 = codec::decode(key, SITE_V1, bytes)?;
        let config = SiteConfig {
            domain: v1.domain,
            time_zone: v1.time_zone,
            public: v1.public,
            retention_days: v1.retention_days,
            hour_cells_days: v1.hour_cells_days,
            shards: v1.shards,
            created_at: Timestamp::from_unix_millis(v1.created_at_ms),
            revision: v1.revision,
        };
        config.validate().map_err(|e| Error::Corrupt {
            key: key.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(config)
    }
}

/// Tag of the site record, version 1.
pub(crate) const SITE_V1: u8 = 1;

/// The stored mirror of [`SiteConfig`], version 1: adding a field to
/// `SiteConfig` never changes what was written.
#[derive(Serialize, Deserialize)]
struct SiteV1 {
    domain: String,
    time_zone: String,
    public: bool,
    retention_days: Option<u32>,
    hour_cells_days: u32,
    shards: u16,
    created_at_ms: u64,
    revision: u64,
}

/// A site to add: the domain and time zone, and settings that default as
/// documented on each field.
///
/// ```
/// use glinto_control::NewSite;
/// let site = NewSite::new("Example.com", "Asia/Kolkata").public(true).retention_days(Some(730));
/// assert_eq!(site.shards, 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewSite {
    /// The domain, normalized on add.
    pub domain: String,
    /// An IANA time zone name (matched case-insensitively, stored as the tz
    /// database spells it).
    pub time_zone: String,
    /// Default `false`.
    pub public: bool,
    /// Default `None` (unlimited); else 1..=[`MAX_RETENTION_DAYS`].
    pub retention_days: Option<u32>,
    /// Default [`DEFAULT_HOUR_CELLS_DAYS`]; 1..=[`MAX_HOUR_CELLS_DAYS`].
    pub hour_cells_days: u32,
    /// Default [`DEFAULT_SHARDS`]; 1..=[`MAX_SHARDS`].
    pub shards: u16,
}

impl NewSite {
    /// A site with every setting at its default.
    pub fn new(domain: impl Into<String>, time_zone: impl Into<String>) -> Self {
        NewSite {
            domain: domain.into(),
            time_zone: time_zone.into(),
            public: false,
            retention_days: None,
            hour_cells_days: DEFAULT_HOUR_CELLS_DAYS,
            shards: DEFAULT_SHARDS,
        }
    }

    /// Sets [`public`](Self::public).
    pub fn public(mut self, public: bool) -> Self {
        self.public = public;
        self
    }

    /// Sets [`retention_days`](Self::retention_days).
    pub fn retention_days(mut self, days: Option<u32>) -> Self {
        self.retention_days = days;
        self
    }

    /// Sets [`hour_cells_days`](Self::hour_cells_days).
    pub fn hour_cells_days(mut self, days: u32) -> Self {
        self.hour_cells_days = days;
        self
    }

    /// Sets [`shards`](Self::shards).
    pub fn shards(mut self, shards: u16) -> Self {
        self.shards = shards;
        self
    }

    /// The validated, normalized configuration this site gets when added at
    /// `now`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the first field out of its domain.
    pub fn into_config(self, now: Timestamp) -> Result<SiteConfig> {
        let config = SiteConfig {
            domain: normalize_domain(&self.domain)?,
            time_zone: canonical_time_zone(&self.time_zone)?,
            public: self.public,
            retention_days: self.retention_days,
            hour_cells_days: self.hour_cells_days,
            shards: self.shards,
            created_at: now,
            revision: 1,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Changes to a site's settings; `None` fields stay as they are.
///
/// A time zone change takes effect for data aggregated afterwards; the
/// pipeline rebuilds the site's day and month cells from its archive (see
/// [`SiteChange::time_zone_changed`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SiteUpdate {
    /// A new IANA time zone.
    pub time_zone: Option<String>,
    /// Public or not.
    pub public: Option<bool>,
    /// A new retention (`Some(None)`: unlimited).
    pub retention_days: Option<Option<u32>>,
    /// A new number of days of hour cells.
    pub hour_cells_days: Option<u32>,
    /// More writer shards (shards only grow: a shard's data stays where it
    /// was written).
    pub shards: Option<u16>,
}

impl SiteUpdate {
    /// No change.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the time zone.
    pub fn time_zone(mut self, time_zone: impl Into<String>) -> Self {
        self.time_zone = Some(time_zone.into());
        self
    }

    /// Sets public or not.
    pub fn public(mut self, public: bool) -> Self {
        self.public = Some(public);
        self
    }

    /// Sets the retention (`None`: unlimited).
    pub fn retention_days(mut self, days: Option<u32>) -> Self {
        self.retention_days = Some(days);
        self
    }

    /// Sets the days of hour cells.
    pub fn hour_cells_days(mut self, days: u32) -> Self {
        self.hour_cells_days = Some(days);
        self
    }

    /// Sets the number of shards (only more).
    pub fn shards(mut self, shards: u16) -> Self {
        self.shards = Some(shards);
        self
    }

    /// `config` with this update applied, validated, its revision bumped.
    pub(crate) fn apply(&self, config: &SiteConfig) -> Result<SiteConfig> {
        let mut next = config.clone();
        if let Some(zone) = &self.time_zone {
            next.time_zone = canonical_time_zone(zone)?;
        }
        if let Some(public) = self.public {
            next.public = public;
        }
        if let Some(days) = self.retention_days {
            next.retention_days = days;
        }
        if let Some(days) = self.hour_cells_days {
            next.hour_cells_days = days;
        }
        if let Some(shards) = self.shards {
            if shards < config.shards {
                return Err(Error::invalid(
                    "shards",
                    format!(
                        "{shards} is fewer than the site's {}: shards only grow",
                        config.shards
                    ),
                ));
            }
            next.shards = shards;
        }
        next.validate()?;
        next.revision = config.revision.saturating_add(1);
        Ok(next)
    }
}

/// What [`Registry::update_site`](crate::Registry::update_site) did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteChange {
    /// The configuration before.
    pub before: SiteConfig,
    /// The configuration after (the one stored and published).
    pub after: SiteConfig,
}

impl SiteChange {
    /// Whether the site's days moved: the pipeline must rebuild its day,
    /// week and month cells from the archive.
    pub fn time_zone_changed(&self) -> bool {
        self.before.time_zone != self.after.time_zone
    }
}

/// `domain` normalized as `Event::site` is ([`glinto_event_model::normalize_site`]).
///
/// # Errors
/// [`Error::Invalid`] on `domain`, with the event model's reason.
pub fn normalize_domain(domain: &str) -> Result<String> {
    glinto_event_model::normalize_site(domain).map_err(|e| Error::invalid("domain", e.to_string()))
}

/// The tz database's spelling of the IANA zone `name` (matched
/// case-insensitively): `europe/berlin` gives `Europe/Berlin`.
///
/// # Errors
/// [`Error::Invalid`] on `time_zone` for an empty, overlong or unknown name
/// (POSIX TZ strings and fixed offsets are not zone names).
pub fn canonical_time_zone(name: &str) -> Result<String> {
    if name.is_empty() {
        return Err(Error::invalid(
            "time_zone",
            "empty; expected an IANA name such as \"Europe/Berlin\"",
        ));
    }
    if name.len() > MAX_TIME_ZONE_BYTES {
        return Err(Error::invalid(
            "time_zone",
            format!(
                "{} bytes, more than the limit of {MAX_TIME_ZONE_BYTES}",
                name.len()
            ),
        ));
    }
    let zone = jiff::tz::db()
        .get(name)
        .map_err(|_| Error::invalid("time_zone", unknown_zone(name)))?;
    Ok(zone.iana_name().unwrap_or(name).to_owned())
}

fn unknown_zone(name: &str) -> String {
    format!("{name:?} is not an IANA time zone name (such as \"Europe/Berlin\")")
}

fn check_retention(days: Option<u32>) -> Result<()> {
    match days {
        Some(d) if d == 0 || d > MAX_RETENTION_DAYS => Err(Error::invalid(
            "retention_days",
            format!("{d} is outside 1..={MAX_RETENTION_DAYS} (omit it for unlimited)"),
        )),
        _ => Ok(()),
    }
}

fn check_hour_cells(days: u32) -> Result<()> {
    if (1..=MAX_HOUR_CELLS_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(Error::invalid(
            "hour_cells_days",
            format!("{days} is outside 1..={MAX_HOUR_CELLS_DAYS}"),
        ))
    }
}

fn check_shards(shards: u16) -> Result<()> {
    if (1..=MAX_SHARDS).contains(&shards) {
        Ok(())
    } else {
        Err(Error::invalid(
            "shards",
            format!("{shards} is outside 1..={MAX_SHARDS}"),
        ))
    }
}
