//! List cursors: where the next page starts, as an opaque string.
//!
//! A cursor names a position in key order, not an offset, so it stays valid while other writes
//! happen: keys inserted behind it are not seen, keys inserted ahead of it are, and every key
//! that exists unchanged for the whole listing is returned exactly once. Layout:
//! `"1" ++ mode ++ hex(key bytes)` where mode `a` resumes strictly after the key (the last key
//! returned) and `f` resumes from the key (the successor of the last common prefix returned).

use std::ops::Bound;

use glinto_storage::Error;

/// The version prefix of every cursor this backend writes.
const VERSION: char = '1';

/// Longest key a cursor may carry, in bytes (well above every key limit).
const MAX_CURSOR_KEY: usize = 4096;

/// A decoded cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resume {
    /// Strictly after this key.
    After(Vec<u8>),
    /// From this key on.
    From(Vec<u8>),
}

impl Resume {
    pub(crate) fn bound(&self) -> Bound<&[u8]> {
        match self {
            Resume::After(k) => Bound::Excluded(k),
            Resume::From(k) => Bound::Included(k),
        }
    }

    pub(crate) fn encode(&self) -> String {
        let (mode, key) = match self {
            Resume::After(k) => ('a', k),
            Resume::From(k) => ('f', k),
        };
        let mut out = String::with_capacity(key.len().saturating_mul(2).saturating_add(2));
        out.push(VERSION);
        out.push(mode);
        for b in key {
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0f));
        }
        out
    }

    /// Decodes a cursor from an earlier page.
    pub(crate) fn decode(cursor: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::InvalidArgument {
            field: "cursor",
            reason: format!("{reason}; pass back a cursor exactly as a list page returned it"),
        };
        let mut chars = cursor.chars();
        if chars.next() != Some(VERSION) {
            return Err(bad("unknown cursor version"));
        }
        let mode = chars.next();
        let hex = chars.as_str().as_bytes();
        if !hex.len().is_multiple_of(2) {
            return Err(bad("odd number of hex digits"));
        }
        if hex.len() / 2 > MAX_CURSOR_KEY {
            return Err(bad("cursor longer than any key"));
        }
        let key = hex
            .chunks_exact(2)
            .map(|pair| match pair {
                [hi, lo] => Some((from_hex(*hi)? << 4) | from_hex(*lo)?),
                _ => None,
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| bad("not hexadecimal"))?;
        match mode {
            Some('a') => Ok(Resume::After(key)),
            Some('f') => Ok(Resume::From(key)),
            _ => Err(bad("unknown cursor mode")),
        }
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}

fn from_hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cursor: &str, expected: &str) {
        let got = match Resume::decode(cursor) {
            Ok(r) => format!("{r:?} {}", r.encode()),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn cursors() {
        check("1a6b", "After([107]) 1a6b");
        check("1f00ff", "From([0, 255]) 1f00ff");
        check("1a", "After([]) 1a");
        let hint = "; pass back a cursor exactly as a list page returned it";
        check(
            "2a6b",
            &format!("invalid cursor: unknown cursor version{hint}"),
        );
        check(
            "1x6b",
            &format!("invalid cursor: unknown cursor mode{hint}"),
        );
        check(
            "1a6",
            &format!("invalid cursor: odd number of hex digits{hint}"),
        );
        check("1a6G", &format!("invalid cursor: not hexadecimal{hint}"));
        check("1aAB", &format!("invalid cursor: not hexadecimal{hint}"));
        check("", &format!("invalid cursor: unknown cursor version{hint}"));
        check("1aé", &format!("invalid cursor: not hexadecimal{hint}"));
        check(
            &format!("1a{}", "00".repeat(4097)),
            &format!("invalid cursor: cursor longer than any key{hint}"),
        );
    }
}
