//! API keys: the secret a client holds, the hash the registry keeps, scopes.
//!
//! A key is 32 bytes from the caller's CSPRNG. Its text form is
//!
//! ```text
//! glk_<id: 16 hex digits>_<secret: 64 hex digits>        (85 characters)
//! ```
//!
//! where `id` is the first 8 bytes of `SHA-256("glinto-api-key-id-v1\0" ‖ secret)`:
//! public (it names the key in lists and logs), it doubles as a checksum (a
//! mistyped key fails [`ApiKey::parse`] without a storage read), and it is
//! how the registry finds the stored record. The registry stores only
//! `SHA-256("glinto-api-key-v1\0" ‖ secret)` and compares it in constant time.
//!
//! Why a plain SHA-256 and not a password hash (argon2, bcrypt)? Password
//! hashes are slow on purpose because passwords are guessable: they make each
//! guess of a low-entropy secret expensive. These secrets are 256 uniformly
//! random bits; nobody can enumerate them, however fast the hash, and a slow
//! hash would only cost every API request (and a Worker's CPU budget) tens of
//! milliseconds for no gain.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use glinto_storage::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::codec;
use crate::error::{Error, Result};

/// Most sites one key's scope may list.
pub const MAX_SCOPE_SITES: usize = 1_000;

const ID_DOMAIN: &[u8] = b"glinto-api-key-id-v1\0";
const HASH_DOMAIN: &[u8] = b"glinto-api-key-v1\0";

/// The public name of an API key: 64 bits, shown as 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(u64);

impl KeyId {
    /// The id as a number.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// An id from its number.
    pub const fn from_u64(id: u64) -> Self {
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = KeyParseError;

    /// Exactly 16 lowercase hex digits.
    fn from_str(text: &str) -> Result<Self, KeyParseError> {
        let mut bytes = [0u8; 8];
        decode_hex(text, &mut bytes, "id")?;
        Ok(KeyId(u64::from_be_bytes(bytes)))
    }
}

/// An API key with its secret: what [`Registry::create_key`](crate::Registry::create_key)
/// returns once and a client sends back. `Debug` shows only the id; the
/// secret is zeroed when dropped and leaves only through
/// [`expose_secret`](Self::expose_secret).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    id: KeyId,
    secret: [u8; 32],
}

impl ApiKey {
    /// What every key's text starts with (recognisable by secret scanners).
    pub const PREFIX: &'static str = "glk_";
    /// Length of a key's text.
    pub const TEXT_LEN: usize = 4 + 16 + 1 + 64;

    /// The key of 32 bytes from a cryptographically secure random source
    /// (`crypto.getRandomValues` in a Worker, `getrandom` natively; this
    /// crate does no randomness itself).
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(ID_DOMAIN)
            .chain_update(secret)
            .finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        ApiKey {
            id: KeyId(u64::from_be_bytes(id)),
            secret,
        }
    }

    /// The key's public id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The key's text (`glk_…`), to show once to whoever created it. Never
    /// log it.
    pub fn expose_secret(&self) -> Zeroizing<String> {
        let mut text = String::with_capacity(Self::TEXT_LEN);
        text.push_str(Self::PREFIX);
        text.push_str(&self.id.to_string());
        text.push('_');
        for byte in self.secret {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        Zeroizing::new(text)
    }

    /// Parses a key's text, checking its shape and that its id matches its
    /// secret (a checksum: typos are caught here).
    ///
    /// # Errors
    /// A [`KeyParseError`] saying what is wrong, never echoing the text.
    pub fn parse(text: &str) -> Result<Self, KeyParseError> {
        let rest = text
            .strip_prefix(Self::PREFIX)
            .ok_or(KeyParseError::Prefix)?;
        if text.len() != Self::TEXT_LEN {
            return Err(KeyParseError::Length {
                expected: Self::TEXT_LEN,
                found: text.len(),
            });
        }
        let (id, secret) = rest.split_at_checked(16).ok_or(KeyParseError::Separator)?;
        let secret = secret.strip_prefix('_').ok_or(KeyParseError::Separator)?;
        let id: KeyId = id.parse()?;
        let mut bytes = Zeroizing::new([0u8; 32]);
        decode_hex(secret, bytes.as_mut_slice(), "secret")?;
        let key = ApiKey::from_secret(*bytes);
        if key.id != id {
            return Err(KeyParseError::Checksum);
        }
        Ok(key)
    }

    /// The hash the registry stores.
    pub(crate) fn hash(&self) -> [u8; 32] {
        Sha256::new()
            .chain_update(HASH_DOMAIN)
            .chain_update(self.secret)
            .finalize()
            .into()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Drop for ApiKey {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn decode_hex(text: &str, out: &mut [u8], part: &'static str) -> Result<(), KeyParseError> {
    if text.len() != out.len() * 2 {
        return Err(KeyParseError::Length {
            expected: out.len() * 2,
            found: text.len(),
        });
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(KeyParseError::NotHex { part }),
    };
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        if let [hi, lo] = *pair {
            *byte = (nibble(hi)? << 4) | nibble(lo)?;
        }
    }
    Ok(())
}

/// Why a string is not an API key. Messages never echo the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyParseError {
    /// It does not start with [`ApiKey::PREFIX`].
    #[error("an API key starts with \"glk_\"")]
    Prefix,
    /// It (or its id part) has the wrong length.
    #[error("an API key is {expected} characters, found {found}")]
    Length {
        /// The expected length.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// The `_` between id and secret is missing.
    #[error("an API key has an `_` between its id and its secret")]
    Separator,
    /// A character of the id or secret is not a lowercase hex digit.
    #[error("the {part} of an API key is lowercase hex")]
    NotHex {
        /// `id` or `secret`.
        part: &'static str,
    },
    /// The id does not match the secret: a mistyped or truncated key.
    #[error("the API key's id does not match its secret (mistyped?)")]
    Checksum,
}

/// Which sites a key may read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyScope {
    /// Every site, present and future (an operator's key).
    All,
    /// These sites (normalized domains; never empty).
    Sites(BTreeSet<String>),
}

impl KeyScope {
    /// A scope of the given domains (normalized when the key is created).
    pub fn sites<I: IntoIterator<Item = S>, S: Into<String>>(domains: I) -> Self {
        KeyScope::Sites(domains.into_iter().map(Into::into).collect())
    }

    /// Whether `site` (a normalized domain) is in the scope.
    pub fn allows(&self, site: &str) -> bool {
        match self {
            KeyScope::All => true,
            KeyScope::Sites(sites) => sites.contains(site),
        }
    }
}

/// What the registry tells about a key: never its secret or hash.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyInfo {
    /// The key's id.
    pub id: KeyId,
    /// The sites it may read.
    pub scope: KeyScope,
    /// When it was created.
    pub created_at: Timestamp,
}

/// Why [`Registry::authorize`](crate::Registry::authorize) refused a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Not the shape of a key (401).
    #[error("malformed API key: {0}")]
    Malformed(#[from] KeyParseError),
    /// No such key: never issued, revoked, or a wrong secret (401).
    #[error("unknown API key")]
    UnknownKey,
    /// A valid key whose scope does not include the site (403).
    #[error("API key {key} is not allowed for site {site:?}")]
    NotAllowed {
        /// The key's id.
        key: KeyId,
        /// The site asked for.
        site: String,
    },
    /// The registry could not be read (503 when retryable, else 500).
    #[error("cannot check the API key: {0}")]
    Unavailable(#[source] Error),
}

impl AuthError {
    /// The HTTP status a server answers with: 401 for an unknown or
    /// malformed key, 403 for a key not allowed here, 503/500 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Malformed(_) | AuthError::UnknownKey => 401,
            AuthError::NotAllowed { .. } => 403,
            AuthError::Unavailable(e) => e.status(),
        }
    }
}

/// A stored key: its info and the hash of its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyRecord {
    pub(crate) info: KeyInfo,
    pub(crate) hash: [u8; 32],
}

/// Tag of the key record, version 1.
pub(crate) const KEY_V1: u8 = 1;

#[derive(Serialize, Deserialize)]
struct KeyV1 {
    id: u64,
    hash: [u8; 32],
    scope: ScopeV1,
    created_at_ms: u64,
}

#[derive(Serialize, Deserialize)]
enum ScopeV1 {
    All,
    Sites(Vec<String>),
}

impl KeyRecord {
    pub(crate) fn matches(&self, key: &ApiKey) -> bool {
        key.id == self.info.id && bool::from(key.hash().ct_eq(&self.hash))
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let scope = match &self.info.scope {
            KeyScope::All => ScopeV1::All,
            KeyScope::Sites(sites) => ScopeV1::Sites(sites.iter().cloned().collect()),
        };
        codec::encode(
            KEY_V1,
            &KeyV1 {
                id: self.info.id.0,
                hash: self.hash,
                scope,
                created_at_ms: self.info.created_at.as_unix_millis(),
            },
        )
    }

    pub(crate) fn decode(key: &str, bytes: &[u8]) -> Result<Self> {
        let v1: KeyV1 = codec::decode(key, KEY_V1, bytes)?;
        let scope = match v1.scope {
            ScopeV1::All => KeyScope::All,
            ScopeV1::Sites(sites) => {
                let count = sites.len();
                let set: BTreeSet<String> = sites.into_iter().collect();
                if set.is_empty() || set.len() != count {
                    return Err(Error::Corrupt {
                        key: key.to_owned(),
                        reason: "scope lists no site or a site twice".into(),
                    });
                }
                KeyScope::Sites(set)
            }
        };
        Ok(KeyRecord {
            info: KeyInfo {
                id: KeyId(v1.id),
                scope,
                created_at: Timestamp::from_unix_millis(v1.created_at_ms),
            },
            hash: v1.hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_debug_hides_the_secret() {
        let key = ApiKey::from_secret([0xab; 32]);
        let text = key.expose_secret();
        assert_eq!(text.len(), ApiKey::TEXT_LEN);
        assert!(text.starts_with("glk_"));
        assert_eq!(ApiKey::parse(&text).unwrap(), key);
        let debug = format!("{key:?}");
        assert!(!debug.contains("abab"), "{debug}");
        assert!(debug.contains(&key.id().to_string()), "{debug}");
    }

    #[test]
    fn parse_errors_are_typed() {
        let good = ApiKey::from_secret([7; 32]).expose_secret().to_string();
        let mut typo = good.clone().into_bytes();
        typo[30] = if typo[30] == b'0' { b'1' } else { b'0' };
        let typo = String::from_utf8(typo).unwrap();
        let cases: &[(&str, KeyParseError)] = &[
            ("", KeyParseError::Prefix),
            ("sk_live_abc", KeyParseError::Prefix),
            (
                "glk_abc",
                KeyParseError::Length {
                    expected: 85,
                    found: 7,
                },
            ),
            (
                &good[..84],
                KeyParseError::Length {
                    expected: 85,
                    found: 84,
                },
            ),
            (
                &good.replacen('_', "-", 2).replacen('-', "_", 1),
                KeyParseError::Separator,
            ),
            (
                &good.to_uppercase().replacen("GLK", "glk", 1),
                KeyParseError::NotHex { part: "id" },
            ),
            (
                &format!("{}g", &good[..84]),
                KeyParseError::NotHex { part: "secret" },
            ),
            (&typo, KeyParseError::Checksum),
        ];
        for (text, expected) in cases {
            assert_eq!(ApiKey::parse(text).unwrap_err(), *expected, "{text:?}");
        }
    }

    #[test]
    fn id_and_hash_are_pinned() {
        // Golden values: changing the derivation invalidates every issued key.
        let key = ApiKey::from_secret([0; 32]);
        assert_eq!(key.id().to_string(), GOLDEN_ID_OF_ZEROS);
        assert_eq!(hex(&key.hash()), GOLDEN_HASH_OF_ZEROS);
    }

    // Independently: python3 hashlib.sha256(b"glinto-api-key-id-v1\0" + bytes(32)).
    const GOLDEN_ID_OF_ZEROS: &str = "ae895a47793eef5e";
    const GOLDEN_HASH_OF_ZEROS: &str =
        "adeccd8715148d873ef20bd92a6f239ef03a9f8fb691e195746fe851aa8fadc1";

    #[test]
    fn key_records_round_trip_and_reject_garbage() {
        let record = KeyRecord {
            info: KeyInfo {
                id: KeyId(7),
                scope: KeyScope::sites(["a.io", "b.io"]),
                created_at: Timestamp::from_unix_millis(5),
            },
            hash: [3; 32],
        };
        assert_eq!(
            KeyRecord::decode("key/x", &record.encode()).unwrap(),
            record
        );
        let mut empty_scope = record.clone();
        empty_scope.info.scope = KeyScope::Sites(BTreeSet::new());
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![2],
            record.encode()[..20].to_vec(),
            empty_scope.encode(),
        ];
        for bytes in cases {
            assert!(
                matches!(
                    KeyRecord::decode("key/x", &bytes),
                    Err(Error::Corrupt { .. })
                ),
                "{bytes:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn key_record_decoding_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128)) {
            let _ = KeyRecord::decode("key/x", &bytes);
        }

        #[test]
        fn key_parsing_never_panics(text in "\\PC{0,100}") {
            let _ = ApiKey::parse(&text);
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
