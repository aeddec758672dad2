//! Version-tagged postcard records: one tag byte, then the postcard encoding
//! of a private mirror struct for that version (`docs/wire-format.md`,
//! "Control plane records").

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// Records above this size are refused before decoding: a site or key record
/// is a few hundred bytes; a key's scope lists at most
/// [`MAX_SCOPE_SITES`](crate::MAX_SCOPE_SITES) domains.
pub(crate) const MAX_RECORD_BYTES: usize = 64 * 1024;

pub(crate) fn encode<T: Serialize>(version: u8, value: &T) -> Vec<u8> {
    let mut out = vec![version];
    // Serializing plain structs of strings and integers into a Vec cannot
    // fail; an empty tail would be caught by every decoder's round-trip test.
    if let Ok(body) = postcard::to_allocvec(value) {
        out.extend_from_slice(&body);
    }
    out
}

pub(crate) fn decode<T: DeserializeOwned>(
    key: &str,
    version: u8,
    bytes: &[u8],
) -> Result<T, Error> {
    let corrupt = |reason: String| Error::Corrupt {
        key: key.to_owned(),
        reason,
    };
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(corrupt(format!(
            "{} bytes, more than {MAX_RECORD_BYTES}",
            bytes.len()
        )));
    }
    match bytes.split_first() {
        None => Err(corrupt("empty record".into())),
        Some((&found, _)) if found != version => Err(corrupt(format!(
            "unknown version {found} (expected {version})"
        ))),
        Some((_, body)) => match postcard::take_from_bytes::<T>(body) {
            Ok((value, [])) => Ok(value),
            Ok((_, rest)) => Err(corrupt(format!("{} trailing bytes", rest.len()))),
            Err(e) => Err(corrupt(format!("malformed: {e}"))),
        },
    }
}
