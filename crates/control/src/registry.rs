//! [`Registry`]: sites and API keys in a state store, site snapshots in KV.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use futures::lock::Mutex;
use glinto_storage::{
    KvPutOptions, KvStore, KvStoreExt, StateListOptions, StateStore, Timestamp, WriteBatch,
};

use crate::error::{Error, Result};
use crate::key::{ApiKey, AuthError, KeyId, KeyInfo, KeyRecord, KeyScope, MAX_SCOPE_SITES};
use crate::site::{NewSite, SiteChange, SiteConfig, SiteUpdate, normalize_domain};

/// State store key prefix of site records (`site/<domain>`); also the KV
/// key prefix of their snapshots.
pub const SITE_PREFIX: &str = "site/";
/// State store key prefix of API key records (`key/<16 hex id>`).
pub const KEY_PREFIX: &str = "key/";

/// The KV (and state store) key of `domain`'s record: `site/<domain>`.
pub fn site_key(domain: &str) -> String {
    format!("{SITE_PREFIX}{domain}")
}

fn key_key(id: KeyId) -> String {
    format!("{KEY_PREFIX}{id}")
}

/// The published configuration of `domain`, read from KV as the edge does:
/// no call to the registry's writer. `None` if the site is unknown *to KV*
/// (not published yet, expired, or removed); the edge then asks the
/// registry, which is the source of truth.
///
/// # Errors
/// [`Error::Invalid`] for a domain that cannot be a site,
/// [`Error::Storage`] from KV, [`Error::Corrupt`] for an unreadable snapshot.
pub async fn read_snapshot<K: KvStore + ?Sized>(
    kv: &K,
    domain: &str,
) -> Result<Option<SiteConfig>> {
    let key = site_key(&normalize_domain(domain)?);
    match kv.get(&key).await? {
        Some(entry) => SiteConfig::decode(&key, &entry.value).map(Some),
        None => Ok(None),
    }
}

/// Knobs of a [`Registry`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistryOptions {
    /// Expiration of each published snapshot (`None`: never). With a TTL, a
    /// snapshot whose removal from KV failed disappears by itself; call
    /// [`Registry::sync_snapshots`] at least twice per TTL so live sites
    /// never expire. Default: 24 hours. Ignored by a KV without TTLs.
    pub snapshot_ttl: Option<Duration>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            snapshot_ttl: Some(Duration::from_secs(24 * 3600)),
        }
    }
}

/// What [`Registry::sync_snapshots`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncReport {
    /// Snapshots written.
    pub published: usize,
    /// Snapshots of sites that no longer exist, deleted.
    pub deleted: usize,
    /// Domains whose KV write failed (still stale; retried next time).
    pub failed: Vec<String>,
}

/// The site registry and API keys of a deployment.
///
/// The [`StateStore`] (in Cloudflare: one "registry" Durable Object) is the
/// source of truth; every change is one atomic batch. After each change the
/// site's snapshot is written to the [`KvStore`] for readers that must not
/// wake the writer ([`read_snapshot`]). A failed KV write never fails the
/// change (it is committed): the domain is remembered as stale and
/// [`sync_snapshots`](Self::sync_snapshots) (the registry's alarm) writes it
/// again. Changes are serialized by an async lock, so a read-check-write
/// (add only if absent) is exact within the one process that owns the store.
pub struct Registry<S, K> {
    state: S,
    kv: K,
    options: RegistryOptions,
    /// Held by every change; guards the domains whose snapshot is stale.
    writer: Mutex<BTreeSet<String>>,
}

/// Names the backends only: a store's own `Debug` may print its values (key
/// hashes, salts kept in the same store).
impl<S: StateStore, K: KvStore> fmt::Debug for Registry<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("state", &self.state.capability().backend)
            .field("kv", &self.kv.capability().backend)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<S: StateStore, K: KvStore> Registry<S, K> {
    /// A registry on `state`, publishing to `kv`, with default options.
    pub fn new(state: S, kv: K) -> Self {
        Self::with_options(state, kv, RegistryOptions::default())
    }

    /// A registry with `options`.
    pub fn with_options(state: S, kv: K, options: RegistryOptions) -> Self {
        Registry {
            state,
            kv,
            options,
            writer: Mutex::new(BTreeSet::new()),
        }
    }

    /// The state store.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The KV store snapshots are published to.
    pub fn kv(&self) -> &K {
        &self.kv
    }

    // ---- sites -------------------------------------------------------

    /// Registers a site, added at `now`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field, [`Error::AlreadyExists`],
    /// [`Error::Storage`] (nothing was added), [`Error::Corrupt`].
    pub async fn add_site(&self, site: NewSite, now: Timestamp) -> Result<SiteConfig> {
        let config = site.into_config(now)?;
        let key = site_key(&config.domain);
        let mut stale = self.writer.lock().await;
        if self.state.get(&key).await?.is_some() {
            return Err(Error::AlreadyExists {
                domain: config.domain,
            });
        }
        self.state
            .write(WriteBatch::new().put(key, config.encode()))
            .await?;
        self.publish(&mut stale, &config.domain, Some(&config))
            .await;
        Ok(config)
    }

    /// The configuration of `domain` (normalized first).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Invalid`] for a domain that cannot be
    /// a site, [`Error::Storage`], [`Error::Corrupt`].
    pub async fn site(&self, domain: &str) -> Result<SiteConfig> {
        let domain = normalize_domain(domain)?;
        self.read_site(&domain).await
    }

    /// Every site, by domain.
    ///
    /// # Errors
    /// [`Error::Storage`], [`Error::Corrupt`].
    pub async fn sites(&self) -> Result<Vec<SiteConfig>> {
        self.list(SITE_PREFIX)
            .await?
            .iter()
            .map(|(key, value)| SiteConfig::decode(key, value))
            .collect()
    }

    /// Changes a site's settings.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Invalid`] naming the field (nothing
    /// changed), [`Error::Storage`], [`Error::Corrupt`].
    pub async fn update_site(&self, domain: &str, update: SiteUpdate) -> Result<SiteChange> {
        let domain = normalize_domain(domain)?;
        let mut stale = self.writer.lock().await;
        let before = self.read_site(&domain).await?;
        let after = update.apply(&before)?;
        self.state
            .write(WriteBatch::new().put(site_key(&domain), after.encode()))
            .await?;
        self.publish(&mut stale, &domain, Some(&after)).await;
        Ok(SiteChange { before, after })
    }

    /// Removes a site and, in the same atomic batch, takes it out of every
    /// key's scope (a key scoped only to it is revoked). Its snapshot is
    /// deleted from KV. Its data (cells, archive, salts) belongs to the
    /// pipeline, which deletes it when told.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Invalid`] if more keys are scoped to it
    /// than one batch can change (revoke some first), [`Error::Storage`]
    /// (nothing was removed), [`Error::Corrupt`].
    pub async fn remove_site(&self, domain: &str) -> Result<SiteConfig> {
        let domain = normalize_domain(domain)?;
        let mut stale = self.writer.lock().await;
        let config = self.read_site(&domain).await?;
        let mut batch = WriteBatch::new().delete(site_key(&domain));
        for mut record in self.key_records().await? {
            let KeyScope::Sites(sites) = &mut record.info.scope else {
                continue;
            };
            if !sites.remove(&domain) {
                continue;
            }
            let key = key_key(record.info.id);
            batch = if sites.is_empty() {
                batch.delete(key)
            } else {
                batch.put(key, record.encode())
            };
        }
        let limit = self.state.capability().max_batch_keys;
        if batch.len() > limit {
            return Err(Error::invalid(
                "domain",
                format!(
                    "{} API keys are scoped to {domain:?}, more than one atomic change can update ({}); revoke some first",
                    batch.len() - 1,
                    limit.saturating_sub(1)
                ),
            ));
        }
        self.state.write(batch).await?;
        self.publish(&mut stale, &domain, None).await;
        Ok(config)
    }

    /// Writes every site's snapshot to KV again and deletes snapshots of
    /// sites that no longer exist: the registry's alarm calls it (at least
    /// twice per [`RegistryOptions::snapshot_ttl`]), and a process calls it
    /// on start.
    ///
    /// # Errors
    /// [`Error::Storage`] reading the state store or listing KV;
    /// [`Error::Corrupt`]. Failed KV writes are reported in the
    /// [`SyncReport`], not as errors.
    pub async fn sync_snapshots(&self) -> Result<SyncReport> {
        let mut stale = self.writer.lock().await;
        let sites = self.sites().await?;
        let mut report = SyncReport::default();
        let live: BTreeSet<&str> = sites.iter().map(|s| s.domain.as_str()).collect();
        for site in &sites {
            if self.publish(&mut stale, &site.domain, Some(site)).await {
                report.published += 1;
            }
        }
        let page = self.kv.capability().max_list_limit;
        let mut orphans: BTreeSet<String> = stale
            .iter()
            .filter(|domain| !live.contains(domain.as_str()))
            .cloned()
            .collect();
        for listed in self.kv.list_all(SITE_PREFIX, page).await? {
            if let Some(domain) = listed.name.strip_prefix(SITE_PREFIX)
                && !live.contains(domain)
            {
                orphans.insert(domain.to_owned());
            }
        }
        for domain in orphans {
            if self.publish(&mut stale, &domain, None).await {
                report.deleted += 1;
            }
        }
        report.failed = stale.iter().cloned().collect();
        Ok(report)
    }

    /// Domains whose last snapshot write failed (written by the next
    /// [`sync_snapshots`](Self::sync_snapshots)).
    pub async fn stale_snapshots(&self) -> Vec<String> {
        self.writer.lock().await.iter().cloned().collect()
    }

    // ---- API keys ----------------------------------------------------

    /// Creates an API key for `scope` from 32 bytes of a CSPRNG, created at
    /// `now`. Returns its info and the key itself, whose text
    /// ([`ApiKey::expose_secret`]) is shown once: only its hash is stored.
    ///
    /// # Errors
    /// [`Error::Invalid`] on `scope` (empty, too many sites, a domain that
    /// cannot be a site) or on `secret` (a 1-in-2⁶⁴ id collision, or the
    /// same bytes twice: draw again),
    /// [`Error::NotFound`] for a site not registered, [`Error::Storage`],
    /// [`Error::Corrupt`].
    pub async fn create_key(
        &self,
        scope: KeyScope,
        now: Timestamp,
        secret: [u8; 32],
    ) -> Result<(KeyInfo, ApiKey)> {
        let key = ApiKey::from_secret(secret);
        let scope = match scope {
            KeyScope::All => KeyScope::All,
            KeyScope::Sites(sites) => {
                if sites.is_empty() || sites.len() > MAX_SCOPE_SITES {
                    return Err(Error::invalid(
                        "scope",
                        format!(
                            "{} sites; a key is scoped to 1..={MAX_SCOPE_SITES} sites",
                            sites.len()
                        ),
                    ));
                }
                let sites = sites
                    .iter()
                    .map(|s| normalize_domain(s))
                    .collect::<Result<BTreeSet<String>>>()
                    .map_err(|e| match e {
                        Error::Invalid { reason, .. } => Error::invalid("scope", reason),
                        other => other,
                    })?;
                KeyScope::Sites(sites)
            }
        };
        let _guard = self.writer.lock().await;
        if let KeyScope::Sites(sites) = &scope {
            let sites: Vec<&String> = sites.iter().collect();
            let chunk = self.state.capability().max_batch_keys.max(1);
            for sites in sites.chunks(chunk) {
                let keys: Vec<String> = sites.iter().map(|s| site_key(s)).collect();
                let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                let found = self.state.get_many(&refs).await?;
                if let Some((missing, _)) = sites.iter().zip(&found).find(|(_, v)| v.is_none()) {
                    return Err(Error::NotFound {
                        what: "site",
                        name: (*missing).clone(),
                    });
                }
            }
        }
        let storage_key = key_key(key.id());
        if self.state.get(&storage_key).await?.is_some() {
            return Err(Error::invalid(
                "secret",
                format!(
                    "key id {} is taken; create the key from new random bytes",
                    key.id()
                ),
            ));
        }
        let record = KeyRecord {
            info: KeyInfo {
                id: key.id(),
                scope,
                created_at: now,
            },
            hash: key.hash(),
        };
        self.state
            .write(WriteBatch::new().put(storage_key, record.encode()))
            .await?;
        Ok((record.info, key))
    }

    /// Every key's info (never a secret or hash), by id.
    ///
    /// # Errors
    /// [`Error::Storage`], [`Error::Corrupt`].
    pub async fn keys(&self) -> Result<Vec<KeyInfo>> {
        Ok(self
            .key_records()
            .await?
            .into_iter()
            .map(|r| r.info)
            .collect())
    }

    /// Revokes (deletes) a key; it authorizes nothing afterwards.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Storage`], [`Error::Corrupt`].
    pub async fn revoke_key(&self, id: KeyId) -> Result<KeyInfo> {
        let _guard = self.writer.lock().await;
        let key = key_key(id);
        let record = self.read_key(&key).await?.ok_or_else(|| Error::NotFound {
            what: "api key",
            name: id.to_string(),
        })?;
        self.state.write(WriteBatch::new().delete(key)).await?;
        Ok(record.info)
    }

    /// Checks the key text a client sent (e.g. `Authorization: Bearer glk_…`)
    /// for `site`: the key's id if it exists, its secret matches (compared in
    /// constant time) and its scope includes the site. A key scoped to all
    /// sites is allowed for a domain that is not registered: the caller then
    /// finds no site (404).
    ///
    /// # Errors
    /// [`AuthError::Malformed`] / [`AuthError::UnknownKey`] (401),
    /// [`AuthError::NotAllowed`] (403), [`AuthError::Unavailable`] (storage).
    pub async fn authorize(&self, key: &str, site: &str) -> Result<KeyId, AuthError> {
        let key = ApiKey::parse(key)?;
        let record = self
            .read_key(&key_key(key.id()))
            .await
            .map_err(AuthError::Unavailable)?
            .filter(|record| record.matches(&key))
            .ok_or(AuthError::UnknownKey)?;
        let allowed = normalize_domain(site).is_ok_and(|site| record.info.scope.allows(&site));
        if allowed {
            Ok(key.id())
        } else {
            Err(AuthError::NotAllowed {
                key: key.id(),
                site: site.to_owned(),
            })
        }
    }

    // ---- internals ---------------------------------------------------

    async fn read_site(&self, domain: &str) -> Result<SiteConfig> {
        let key = site_key(domain);
        match self.state.get(&key).await? {
            Some(bytes) => SiteConfig::decode(&key, &bytes),
            None => Err(Error::NotFound {
                what: "site",
                name: domain.to_owned(),
            }),
        }
    }

    async fn read_key(&self, key: &str) -> Result<Option<KeyRecord>> {
        match self.state.get(key).await? {
            Some(bytes) => KeyRecord::decode(key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    async fn key_records(&self) -> Result<Vec<KeyRecord>> {
        self.list(KEY_PREFIX)
            .await?
            .iter()
            .map(|(key, value)| KeyRecord::decode(key, value))
            .collect()
    }

    /// Every entry under `prefix`, paging by the store's list limit.
    async fn list(&self, prefix: &str) -> Result<Vec<(String, Bytes)>> {
        let page = self.state.capability().max_list_limit.max(1);
        let mut all = Vec::new();
        let mut options = StateListOptions::prefix(prefix).limit(page);
        loop {
            let entries = self.state.list(options.clone()).await?;
            let full = entries.len() == page;
            let last = entries.last().map(|(key, _)| key.clone());
            all.extend(entries);
            match last {
                Some(last) if full => options = options.start_after(last),
                _ => return Ok(all),
            }
        }
    }

    /// Writes (`Some`) or deletes (`None`) `domain`'s snapshot; records the
    /// outcome in `stale`. Returns whether the KV call succeeded.
    async fn publish(
        &self,
        stale: &mut BTreeSet<String>,
        domain: &str,
        config: Option<&SiteConfig>,
    ) -> bool {
        let key = site_key(domain);
        let written = match config {
            Some(config) => {
                let mut options = KvPutOptions::new();
                if let Some(ttl) = self.options.snapshot_ttl {
                    let capability = self.kv.capability();
                    if capability.ttl {
                        options = options.expire_after(ttl.max(capability.min_ttl));
                    }
                }
                self.kv
                    .put(&key, Bytes::from(config.encode()), options)
                    .await
            }
            None => self.kv.delete(&key).await,
        };
        if written.is_ok() {
            stale.remove(domain);
        } else {
            stale.insert(domain.to_owned());
        }
        written.is_ok()
    }
}
