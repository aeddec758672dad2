//! Byte and bit cursors shared by the hand-written decoders.
//!
//! Every read is checked: running out of input is an [`Error::Truncated`]
//! naming the field, never a panic, and nothing here allocates.

use crate::{Error, Result};

/// Appends `value` as an unsigned LEB128 varint (7 bits a byte, low first).
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A forward cursor over untrusted bytes.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    kind: &'static str,
}

impl<'a> Reader<'a> {
    /// A cursor over `bytes`; `kind` names the type in errors.
    pub(crate) fn new(bytes: &'a [u8], kind: &'static str) -> Self {
        Self { bytes, kind }
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    /// Reads one byte.
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8> {
        let (&first, rest) = self.bytes.split_first().ok_or(Error::Truncated {
            kind: self.kind,
            field,
        })?;
        self.bytes = rest;
        Ok(first)
    }

    /// Reads the version byte and checks it is `expected`, the one version
    /// this build reads for the type (`supported` says so in the error).
    pub(crate) fn version(&mut self, expected: u8, supported: &'static str) -> Result<()> {
        let found = self.u8("version")?;
        if found == expected {
            Ok(())
        } else {
            Err(Error::UnsupportedVersion {
                kind: self.kind,
                found,
                supported,
            })
        }
    }

    /// Reads a canonical LEB128 varint of at most 64 bits.
    pub(crate) fn varint(&mut self, field: &'static str) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8(field)?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(self.malformed(field, "varint overflows 64 bits"));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                if byte == 0 && shift > 0 {
                    return Err(self.malformed(field, "varint has a redundant zero byte"));
                }
                return Ok(value);
            }
        }
        Err(self.malformed(field, "varint longer than 10 bytes"))
    }

    /// Reads a varint and checks it against an inclusive `limit`.
    pub(crate) fn varint_max(&mut self, field: &'static str, limit: u64) -> Result<u64> {
        let value = self.varint(field)?;
        if value > limit {
            return Err(Error::OutOfRange {
                kind: self.kind,
                field,
                value,
                limit,
            });
        }
        Ok(value)
    }

    /// Fails with [`Error::TrailingBytes`] unless every byte was read.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(Error::TrailingBytes {
                kind: self.kind,
                count: self.bytes.len(),
            })
        }
    }

    /// A [`Error::Malformed`] for this cursor's type.
    pub(crate) fn malformed(&self, field: &'static str, reason: &'static str) -> Error {
        Error::Malformed {
            kind: self.kind,
            field,
            reason,
        }
    }
}

/// Writes bits most-significant first into bytes.
#[derive(Debug, Default)]
pub(crate) struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    used: u32,
}

impl BitWriter {
    /// Appends the low `n` bits of `value` (`n <= 32`), high bit first.
    pub(crate) fn bits(&mut self, value: u32, n: u32) {
        debug_assert!(n <= 32);
        if n == 0 {
            return;
        }
        let value = u64::from(value) & ((1u64 << n) - 1);
        self.acc = (self.acc << n) | value;
        self.used += n;
        while self.used >= 8 {
            self.used -= 8;
            self.out.push((self.acc >> self.used) as u8);
        }
    }

    /// Appends `count` one bits and a terminating zero (unary code).
    pub(crate) fn unary(&mut self, mut count: u64) {
        while count >= 32 {
            self.bits(u32::MAX, 32);
            count -= 32;
        }
        // `count < 32`: the ones then the zero fit in 32 bits.
        let ones = ((1u64 << count) - 1) as u32;
        self.bits(ones << 1, count as u32 + 1);
    }

    /// The bytes, the last one padded with zero bits.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        if self.used > 0 {
            self.out.push((self.acc << (8 - self.used)) as u8);
        }
        self.out
    }

    /// Bits written so far.
    #[cfg(test)]
    pub(crate) fn len_bits(&self) -> u64 {
        self.out.len() as u64 * 8 + u64::from(self.used)
    }
}

/// Reads bits most-significant first from untrusted bytes.
#[derive(Debug)]
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    acc: u64,
    avail: u32,
    kind: &'static str,
}

impl<'a> BitReader<'a> {
    /// A reader over `bytes`; `kind` names the type in errors.
    pub(crate) fn new(bytes: &'a [u8], kind: &'static str) -> Self {
        Self {
            bytes,
            acc: 0,
            avail: 0,
            kind,
        }
    }

    fn refill(&mut self, field: &'static str) -> Result<()> {
        let (&byte, rest) = self.bytes.split_first().ok_or(Error::Truncated {
            kind: self.kind,
            field,
        })?;
        self.bytes = rest;
        self.acc = (self.acc << 8) | u64::from(byte);
        self.avail += 8;
        Ok(())
    }

    /// Reads `n <= 32` bits.
    pub(crate) fn bits(&mut self, n: u32, field: &'static str) -> Result<u32> {
        debug_assert!(n <= 32);
        while self.avail < n {
            self.refill(field)?;
        }
        self.avail -= n;
        let value = (self.acc >> self.avail) & ((1u64 << n) - 1);
        self.acc &= (1u64 << self.avail) - 1;
        Ok(value as u32)
    }

    /// Reads a unary code (ones ended by a zero), failing beyond `limit` ones.
    pub(crate) fn unary(&mut self, limit: u64, field: &'static str) -> Result<u64> {
        let mut count = 0u64;
        loop {
            if self.avail == 0 {
                self.refill(field)?;
            }
            // Ones at the top of the available bits.
            let window = self.acc << (64 - self.avail);
            let ones = (!window).leading_zeros().min(self.avail);
            count += u64::from(ones);
            if count > limit {
                return Err(Error::OutOfRange {
                    kind: self.kind,
                    field,
                    value: count,
                    limit,
                });
            }
            if ones < self.avail {
                self.avail -= ones + 1;
                self.acc &= (1u64 << self.avail) - 1;
                return Ok(count);
            }
            self.avail = 0;
            self.acc = 0;
        }
    }

    /// Checks that only zero padding (fewer than 8 bits) and no bytes remain.
    pub(crate) fn finish(&self, field: &'static str) -> Result<()> {
        if !self.bytes.is_empty() {
            return Err(Error::TrailingBytes {
                kind: self.kind,
                count: self.bytes.len(),
            });
        }
        if self.avail >= 8 || self.acc != 0 {
            return Err(Error::Malformed {
                kind: self.kind,
                field,
                reason: "non-zero padding bits",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        let mut w = BitWriter::default();
        w.bits(0b101, 3);
        w.unary(0);
        w.unary(40);
        w.bits(0xdead_beef, 32);
        w.unary(3);
        assert_eq!(w.len_bits(), 3 + 1 + 41 + 32 + 4);
        let bytes = w.finish();
        let mut r = BitReader::new(&bytes, "test");
        assert_eq!(r.bits(3, "a"), Ok(0b101));
        assert_eq!(r.unary(100, "b"), Ok(0));
        assert_eq!(r.unary(100, "c"), Ok(40));
        assert_eq!(r.bits(32, "d"), Ok(0xdead_beef));
        assert_eq!(r.unary(100, "e"), Ok(3));
        assert_eq!(r.finish("pad"), Ok(()));
    }

    #[test]
    fn varints_are_canonical() {
        fn check(bytes: &[u8], expected: Result<u64>) {
            let mut r = Reader::new(bytes, "test");
            assert_eq!(r.varint("v"), expected, "{bytes:?}");
        }
        check(&[0], Ok(0));
        check(&[0x7f], Ok(127));
        check(&[0x80, 0x01], Ok(128));
        check(
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            Ok(u64::MAX),
        );
        check(
            &[0x80, 0x00],
            Err(Error::Malformed {
                kind: "test",
                field: "v",
                reason: "varint has a redundant zero byte",
            }),
        );
        check(
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            Err(Error::Malformed {
                kind: "test",
                field: "v",
                reason: "varint overflows 64 bits",
            }),
        );
        check(
            &[0x80],
            Err(Error::Truncated {
                kind: "test",
                field: "v",
            }),
        );
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            check(&out, Ok(value));
        }
    }
}
