//! Kafka wire primitives the core needs without a full decode: request/response headers and small
//! bounds-checked readers. Every reader returns `None` on truncated input instead of panicking.

use kafka_protocol::messages::ApiKey;

/// `str::from_utf8`, with a fast path for ASCII, which topic names, group names and client ids nearly always
/// are: on a short string std's validation spends about a hundred instructions getting started, and the
/// filter reads several such strings per request (one `from_utf8` was a tenth of a produce+fetch round trip).
pub fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes).ok()
    }
}

/// Size of the length prefix of every Kafka frame.
pub const SIZE_PREFIX: usize = 4;

/// A bounds-checked cursor over untrusted bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    #[inline]
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    pub fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    pub fn i8(&mut self) -> Option<i8> {
        self.take(1).and_then(|b| b.first().map(|&x| x as i8))
    }

    #[inline]
    pub fn i16(&mut self) -> Option<i16> {
        let b = self.take(2)?;
        Some(i16::from_be_bytes(b.try_into().ok()?))
    }

    #[inline]
    pub fn i32(&mut self) -> Option<i32> {
        let b = self.take(4)?;
        Some(i32::from_be_bytes(b.try_into().ok()?))
    }

    /// Unsigned LEB128 varint of at most 5 bytes (Kafka's UNSIGNED_VARINT).
    pub fn uvarint(&mut self) -> Option<u32> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let byte = *self.take(1)?.first()?;
            if i == 4 && byte > 0x0f {
                return None; // more than 32 bits
            }
            value |= u32::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// NULLABLE_STRING (i16 length, -1 = null); `Some(None)` is a null string.
    #[inline]
    pub fn nullable_string(&mut self) -> Option<Option<&'a str>> {
        let len = self.i16()?;
        if len < 0 {
            return Some(None);
        }
        let bytes = self.take(len as usize)?;
        utf8(bytes).map(Some)
    }

    /// Skips a tagged-field section (count, then tag/size/bytes per field).
    pub fn skip_tagged_fields(&mut self) -> Option<()> {
        let count = self.uvarint()?;
        for _ in 0..count {
            self.uvarint()?;
            let size = self.uvarint()?;
            self.skip(size as usize)?;
        }
        Some(())
    }
}

/// The request header fields the filter uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader<'a> {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<&'a str>,
    /// Header length in bytes (the body starts here, relative to the frame body).
    pub header_len: usize,
}

/// Outcome of parsing a request header from a possibly incomplete frame body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderParse<'a> {
    Complete(RequestHeader<'a>),
    /// The header is not complete in the bytes seen so far.
    Incomplete,
    /// The header cannot be valid whatever follows.
    Malformed(&'static str),
}

/// Request header version for an API key and version (v0, v1 or v2). Unknown keys are read as v1
/// (api key, version, correlation id, client id), which every key Kafka defined before flexible headers uses.
pub fn request_header_version(api_key: i16, api_version: i16) -> i16 {
    match ApiKey::try_from(api_key) {
        Ok(key) => key.request_header_version(api_version),
        Err(()) => 1,
    }
}

/// Response header version for an API key and version (v0 or v1).
pub fn response_header_version(api_key: i16, api_version: i16) -> i16 {
    match ApiKey::try_from(api_key) {
        Ok(key) => key.response_header_version(api_version),
        Err(()) => 0,
    }
}

/// Parses the request header at the start of `body` (the frame without its size prefix).
/// `body_len` is the full body length, so an incomplete header can be told from a malformed one.
pub fn parse_request_header(body: &[u8], body_len: usize) -> HeaderParse<'_> {
    let complete = body.len() >= body_len;
    let mut r = Reader::new(body);
    let fixed = (|| Some((r.i16()?, r.i16()?, r.i32()?)))();
    let Some((api_key, api_version, correlation_id)) = fixed else {
        return if complete {
            HeaderParse::Malformed("request shorter than its header")
        } else {
            HeaderParse::Incomplete
        };
    };
    let header_version = request_header_version(api_key, api_version);
    let rest = (|| {
        let client_id = if header_version >= 1 { r.nullable_string()? } else { None };
        if header_version >= 2 {
            r.skip_tagged_fields()?;
        }
        Some(client_id)
    })();
    match rest {
        Some(client_id) if r.position() <= body_len => HeaderParse::Complete(RequestHeader {
            api_key,
            api_version,
            correlation_id,
            client_id,
            header_len: r.position(),
        }),
        Some(_) => HeaderParse::Malformed("request header longer than the frame"),
        None if complete => HeaderParse::Malformed("truncated or invalid request header"),
        None => HeaderParse::Incomplete,
    }
}

/// Reads the 4-byte size prefix: `None` if fewer than 4 bytes; the raw (possibly negative) size otherwise.
pub fn frame_size(frame: &[u8]) -> Option<i32> {
    Reader::new(frame).i32()
}

/// Correlation id of a response frame (size prefix included): bytes 4..8.
pub fn response_correlation_id(frame: &[u8]) -> Option<i32> {
    let mut r = Reader::new(frame);
    r.skip(SIZE_PREFIX)?;
    r.i32()
}

/// Builds a request frame: size prefix + header (v1 or v2) + body.
pub fn request_frame(
    api_key: i16,
    api_version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    body: &[u8],
) -> Vec<u8> {
    let header_version = request_header_version(api_key, api_version);
    let client_len = client_id.map_or(0, |c| c.len().min(i16::MAX as usize));
    let mut out = Vec::with_capacity(SIZE_PREFIX + 8 + 2 + client_len + 1 + body.len());
    out.extend_from_slice(&[0; SIZE_PREFIX]);
    out.extend_from_slice(&api_key.to_be_bytes());
    out.extend_from_slice(&api_version.to_be_bytes());
    out.extend_from_slice(&correlation_id.to_be_bytes());
    if header_version >= 1 {
        match client_id {
            Some(c) => {
                let bytes = c.as_bytes().get(..client_len).unwrap_or_default();
                out.extend_from_slice(&(client_len as i16).to_be_bytes());
                out.extend_from_slice(bytes);
            }
            None => out.extend_from_slice(&(-1i16).to_be_bytes()),
        }
    }
    if header_version >= 2 {
        out.push(0); // no tagged fields
    }
    out.extend_from_slice(body);
    set_frame_size(&mut out);
    out
}

/// Builds a response frame: size prefix + response header (v0 or v1) + body.
pub fn response_frame(api_key: i16, api_version: i16, correlation_id: i32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SIZE_PREFIX + 5 + body.len());
    out.extend_from_slice(&[0; SIZE_PREFIX]);
    out.extend_from_slice(&correlation_id.to_be_bytes());
    if response_header_version(api_key, api_version) >= 1 {
        out.push(0);
    }
    out.extend_from_slice(body);
    set_frame_size(&mut out);
    out
}

/// Writes the size prefix of a frame whose first 4 bytes are reserved for it.
pub fn set_frame_size(frame: &mut [u8]) {
    let size = frame.len().saturating_sub(SIZE_PREFIX) as u32;
    if let Some(prefix) = frame.get_mut(..SIZE_PREFIX) {
        prefix.copy_from_slice(&size.to_be_bytes());
    }
}

/// Offset of the response body within a response frame (size prefix + header).
pub fn response_body_offset(api_key: i16, api_version: i16) -> usize {
    SIZE_PREFIX + 4 + if response_header_version(api_key, api_version) >= 1 { 1 } else { 0 }
}

/// An array count: `i32`, or in flexible versions count + 1 as an unsigned varint.
pub fn write_array_count(out: &mut Vec<u8>, count: u32, flexible: bool) {
    if !flexible {
        out.extend_from_slice(&count.to_be_bytes());
        return;
    }
    write_uvarint(out, u64::from(count) + 1);
}

/// An unsigned varint (compact lengths and counts of flexible versions).
pub fn write_uvarint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_takes_ascii_and_utf8_and_refuses_the_rest() {
        assert_eq!(utf8(b"orders-eu.v2_x"), Some("orders-eu.v2_x"));
        assert_eq!(utf8(b""), Some(""));
        assert_eq!(utf8("commandes-été".as_bytes()), Some("commandes-été"));
        assert_eq!(utf8(b"bad-\xff-name"), None);
        assert_eq!(utf8(b"\xc3"), None); // a truncated two-byte sequence
    }

    #[test]
    fn header_v1_and_v2_parse() {
        // Produce v8 uses header v1; Produce v9 uses header v2 (tagged fields).
        let f = request_frame(0, 8, 7, Some("cli"), b"");
        let body = &f[4..];
        match parse_request_header(body, body.len()) {
            HeaderParse::Complete(h) => {
                assert_eq!((h.api_key, h.api_version, h.correlation_id, h.client_id), (0, 8, 7, Some("cli")));
                assert_eq!(h.header_len, 8 + 2 + 3);
            }
            other => panic!("{other:?}"),
        }
        let f = request_frame(0, 9, 8, None, b"xyz");
        let body = &f[4..];
        match parse_request_header(body, body.len()) {
            HeaderParse::Complete(h) => {
                assert_eq!(h.client_id, None);
                assert_eq!(h.header_len, 8 + 2 + 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_header_is_incomplete_or_malformed() {
        let f = request_frame(0, 9, 8, Some("client"), b"");
        let body = &f[4..];
        for cut in 0..body.len() {
            assert_eq!(parse_request_header(&body[..cut], body.len()), HeaderParse::Incomplete, "cut {cut}");
            assert!(matches!(parse_request_header(&body[..cut], cut), HeaderParse::Malformed(_)), "cut {cut}");
        }
    }

    #[test]
    fn uvarint_rejects_overlong() {
        assert_eq!(Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).uvarint(), None);
        assert_eq!(Reader::new(&[0xac, 0x02]).uvarint(), Some(300));
    }

    #[test]
    fn response_frame_headers() {
        // ApiVersions responses always use header v0, even at v3.
        assert_eq!(response_frame(18, 3, 5, b"").len(), 8);
        // Metadata v9 is flexible: header v1.
        assert_eq!(response_frame(3, 9, 5, b"").len(), 9);
        assert_eq!(response_correlation_id(&response_frame(3, 9, 5, b"")), Some(5));
    }
}
