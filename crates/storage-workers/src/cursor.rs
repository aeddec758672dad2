//! List cursors: the runtime's opaque cursor behind a version tag.
//!
//! Workers KV and R2 hand out opaque cursors and answer a forged or garbled
//! one with an untyped runtime error (or, worse, a listing from the start).
//! The adapter passes them back to the caller tagged, so a cursor that did
//! not come from a page of this adapter is refused up front with
//! [`Error::InvalidArgument`] on the field `cursor`, as the store contracts
//! require.

use glinto_storage::{Error, Result};

/// The version tag in front of every cursor this adapter returns.
const TAG: &str = "gw1.";

/// Longest runtime cursor accepted back (Workers KV and R2 cursors are a few
/// hundred bytes of base64; this bounds what a caller can make us forward).
const MAX_CURSOR_BYTES: usize = 4096;

/// The cursor handed to the caller for the runtime's `cursor`.
pub(crate) fn encode(runtime_cursor: &str) -> String {
    format!("{TAG}{runtime_cursor}")
}

/// The runtime cursor inside a cursor from an earlier page.
///
/// # Errors
/// [`Error::InvalidArgument`] (`cursor`) for anything [`encode`] did not
/// produce: a missing tag, an empty or oversized body, or bytes outside the
/// printable ASCII that runtime cursors are made of.
pub(crate) fn decode(cursor: &str) -> Result<&str> {
    let bad = |reason: &str| Error::InvalidArgument {
        field: "cursor",
        reason: format!("{reason}; pass back a cursor exactly as a list page returned it"),
    };
    let Some(inner) = cursor.strip_prefix(TAG) else {
        return Err(bad("not a cursor of this store"));
    };
    if inner.is_empty() {
        return Err(bad("empty cursor"));
    }
    if inner.len() > MAX_CURSOR_BYTES {
        return Err(bad("cursor too long"));
    }
    if !inner.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("cursor holds bytes no runtime cursor has"));
    }
    Ok(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cursor: &str, expected: &str) {
        let got = match decode(cursor) {
            Ok(inner) => format!("ok {inner}"),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected, "{cursor:?}");
    }

    #[test]
    fn cursors_round_trip_and_forgeries_are_refused() {
        let hint = "; pass back a cursor exactly as a list page returned it";
        let long = "a".repeat(MAX_CURSOR_BYTES + 1);
        let cases: &[(&str, String)] = &[
            (&encode("AAAQ+/=="), "ok AAAQ+/==".to_owned()),
            ("gw1.x", "ok x".to_owned()),
            (
                "\u{0}not a cursor\u{0}",
                format!("invalid cursor: not a cursor of this store{hint}"),
            ),
            (
                "AAAQ",
                format!("invalid cursor: not a cursor of this store{hint}"),
            ),
            ("gw1.", format!("invalid cursor: empty cursor{hint}")),
            (
                "gw1.a b",
                format!("invalid cursor: cursor holds bytes no runtime cursor has{hint}"),
            ),
            (
                "gw1.é",
                format!("invalid cursor: cursor holds bytes no runtime cursor has{hint}"),
            ),
            (
                &encode(&long),
                format!("invalid cursor: cursor too long{hint}"),
            ),
        ];
        for (cursor, expected) in cases {
            check(cursor, expected);
        }
    }
}
