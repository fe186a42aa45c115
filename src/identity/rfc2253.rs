//! The subject DN as Java's `X500Principal.getName()` writes it (RFC 2253), what a Kafka broker sees.

use x509_parser::asn1_rs::{Any, Class};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// The subject as Java's `X500Principal.getName()` writes it (RFC 2253): most specific RDN first, AVAs of a
/// multi-valued RDN joined with `+` in certificate order.
pub fn rfc2253_name(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> =
        name.iter().map(|rdn| rdn.iter().map(rfc2253_attribute).collect::<Vec<_>>().join("+")).collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// Attribute types Java names in RFC 2253 output; others are written as dotted OIDs.
pub(super) fn rfc2253_keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

pub(super) fn rfc2253_attribute(attribute: &AttributeTypeAndValue<'_>) -> String {
    let oid = attribute.attr_type().to_id_string();
    let value = attribute.attr_value();
    match rfc2253_keyword(&oid) {
        Some(keyword) if is_java_der_string(value) => {
            // Java decodes every string type's bytes as UTF-8 here (even BMPString).
            format!("{keyword}={}", rfc2253_escape(&String::from_utf8_lossy(value.data)))
        }
        Some(keyword) => format!("{keyword}=#{}", hex(&der_encoding(value))),
        None => format!("{oid}=#{}", hex(&der_encoding(value))),
    }
}

/// Java `AVA.isDerString(value, false)`: the string types written as text.
pub(super) fn is_java_der_string(value: &Any<'_>) -> bool {
    value.header.class() == Class::Universal
        && !value.header.constructed()
        // PrintableString, T61String, IA5String, GeneralString, BMPString, UTF8String
        && matches!(value.header.tag().0, 19 | 20 | 22 | 27 | 30 | 12)
}

/// Escapes an attribute value as Java's `AVA.toRFC2253String` does: `,=+<>#;"\` anywhere, NUL as `\00`, and every
/// leading or trailing space or CR.
pub fn rfc2253_escape(value: &str) -> String {
    let mut escaped: Vec<char> = Vec::with_capacity(value.len() + 4);
    for c in value.chars() {
        if ",=+<>#;\"\\".contains(c) {
            escaped.push('\\');
            escaped.push(c);
        } else if c == '\0' {
            escaped.extend(['\\', '0', '0']);
        } else {
            escaped.push(c);
        }
    }
    let is_space = |c: &char| *c == ' ' || *c == '\r';
    let lead = escaped.iter().take_while(|c| is_space(c)).count();
    let trail_start = escaped.len() - escaped.iter().rev().take_while(|c| is_space(c)).count();
    let mut out = String::with_capacity(escaped.len() + 2);
    for (i, c) in escaped.into_iter().enumerate() {
        if i < lead || i >= trail_start {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// DER encoding (identifier, length, contents) of a value, as Java's `DerValue.toByteArray()`.
pub(super) fn der_encoding(value: &Any<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.data.len() + 8);
    let class_bits = (value.header.class() as u8) << 6;
    let constructed_bit = if value.header.constructed() { 0x20 } else { 0 };
    let tag = value.header.tag().0;
    if tag < 31 {
        out.push(class_bits | constructed_bit | tag as u8);
    } else {
        out.push(class_bits | constructed_bit | 0x1f);
        let mut groups = Vec::new();
        let mut rest = tag;
        loop {
            groups.push((rest & 0x7f) as u8);
            rest >>= 7;
            if rest == 0 {
                break;
            }
        }
        let last = groups.len() - 1;
        out.extend(groups.iter().rev().enumerate().map(|(i, g)| if i < last { g | 0x80 } else { *g }));
    }
    let len = value.data.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let significant: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | significant.len() as u8);
        out.extend(significant);
    }
    out.extend_from_slice(value.data);
    out
}

pub(super) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
        }
    }
    out
}
