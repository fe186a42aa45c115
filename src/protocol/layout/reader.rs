//! A bounds-checked cursor over a prefix of a body whose full length is known.

/// Why a walk stopped: the bytes needed have not arrived yet, or the body is not a valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    NeedMore,
    Bad(&'static str),
}

/// Why a walk of a complete body failed (bytes that have not arrived there are missing).
pub(crate) fn stop_reason(e: Stop) -> String {
    match e {
        Stop::Bad(reason) => reason.to_string(),
        Stop::NeedMore => "truncated".to_string(),
    }
}

pub(crate) fn bad(reason: &'static str) -> Stop {
    Stop::Bad(reason)
}

/// Bounds-checked cursor. `buf` holds the bytes that have arrived, `end` is the body length: reading
/// past `buf` but within `end` is NeedMore, past `end` is malformed.
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
    pub(crate) end: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], end: usize) -> Self {
        Reader { buf, pos: 0, end }
    }

    pub(crate) fn left(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    pub(crate) fn advance(&mut self, n: usize) -> Result<usize, Stop> {
        let next = self.pos.checked_add(n).filter(|next| *next <= self.end).ok_or_else(|| bad("truncated"))?;
        Ok(std::mem::replace(&mut self.pos, next))
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Stop> {
        let start = self.pos;
        let end = start.checked_add(n).ok_or_else(|| bad("length overflow"))?;
        if end > self.end {
            return Err(bad("truncated"));
        }
        let bytes = self.buf.get(start..end).ok_or(Stop::NeedMore)?;
        self.pos = end;
        Ok(bytes)
    }

    /// Skips `n` bytes that must have arrived (a field being walked).
    #[inline]
    pub(crate) fn skip_read(&mut self, n: usize) -> Result<(), Stop> {
        self.take(n).map(|_| ())
    }

    /// Skips `n` bytes that need not have arrived yet (record batches).
    pub(crate) fn skip(&mut self, n: usize) -> Result<(), Stop> {
        self.advance(n).map(|_| ())
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Stop> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| bad("internal length mismatch"))
    }

    /// One byte (varints, markers): the hot path of every flexible-version walk.
    #[inline]
    pub(crate) fn byte(&mut self) -> Result<u8, Stop> {
        if self.pos >= self.end {
            return Err(bad("truncated"));
        }
        let b = *self.buf.get(self.pos).ok_or(Stop::NeedMore)?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    pub(crate) fn i16(&mut self) -> Result<i16, Stop> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    #[inline]
    pub(crate) fn i32(&mut self) -> Result<i32, Stop> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    #[inline]
    pub(crate) fn uvarint(&mut self) -> Result<u32, Stop> {
        // Nearly every varint in a request (lengths, counts, tagged-field counts) is one byte.
        if let Some(&b) = self.buf.get(self.pos).filter(|&&b| b < 0x80 && self.pos < self.end) {
            self.pos += 1;
            return Ok(u32::from(b));
        }
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = self.byte()?;
            if i == 4 && b > 0x0f {
                return Err(bad("varint overflows 32 bits"));
            }
            value |= u32::from(b & 0x7f) << (i * 7);
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(bad("varint too long"))
    }

    /// Element count of an array; `None` for a null array. Never more than the bytes left, since every
    /// element takes at least one byte.
    #[inline]
    pub(crate) fn count(&mut self, flexible: bool) -> Result<Option<usize>, Stop> {
        let n = if flexible {
            match self.uvarint()? {
                0 => return Ok(None),
                n => (n - 1) as usize,
            }
        } else {
            match self.i32()? {
                -1 => return Ok(None),
                n if n < 0 => return Err(bad("negative array length")),
                n => n as usize,
            }
        };
        if n > self.left() {
            return Err(bad("array longer than the body"));
        }
        Ok(Some(n))
    }

    /// Length of a string (`i16`/compact) or bytes (`i32`/compact) field; `None` when null.
    #[inline]
    pub(crate) fn length(&mut self, flexible: bool, wide: bool) -> Result<Option<usize>, Stop> {
        let n: i64 = match (flexible, wide) {
            (true, _) => i64::from(self.uvarint()?) - 1,
            (false, false) => i64::from(self.i16()?),
            (false, true) => i64::from(self.i32()?),
        };
        match n {
            -1 => Ok(None),
            n if n < 0 => Err(bad("negative length")),
            n => usize::try_from(n).map(Some).map_err(|_| bad("length overflow")),
        }
    }

    #[inline]
    pub(crate) fn string(&mut self, flexible: bool) -> Result<Option<&'a str>, Stop> {
        match self.length(flexible, false)? {
            None => Ok(None),
            Some(n) => crate::protocol::wire::utf8(self.take(n)?).map(Some).ok_or_else(|| bad("string is not UTF-8")),
        }
    }

    pub(crate) fn tagged_fields(&mut self) -> Result<(), Stop> {
        let n = self.uvarint()? as usize;
        if n > self.left() {
            return Err(bad("more tagged fields than bytes"));
        }
        for _ in 0..n {
            // Tags are non-negative i32s; kafka-protocol reads a larger one as a negative tag it then fails
            // to write back, so such a message is malformed here.
            if self.uvarint()? > i32::MAX as u32 {
                return Err(bad("tagged field tag out of range"));
            }
            let size = self.uvarint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uvarint_limits_to_32_bits_in_five_bytes() {
        let bytes = [0xff; 6];
        let mut r = Reader::new(&bytes, bytes.len());
        assert_eq!(r.uvarint(), Err(bad("varint overflows 32 bits")));
        let max = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(Reader::new(&max, max.len()).uvarint(), Ok(u32::MAX));
    }
}
