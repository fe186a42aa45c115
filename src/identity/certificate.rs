//! The leaf certificate read from Envoy's PEM: validity dates, URI SANs and the subject.

use x509_parser::extensions::GeneralName;

use super::rfc2253::rfc2253_name;
use super::Refusal;

/// The certificate facts identity is derived from, whether from the PEM or Envoy's fallback strings.
#[derive(Debug, Clone, Default)]
pub(super) struct CertificateFacts {
    pub(super) uri_sans: Vec<String>,
    /// RFC 2253 subject, empty when the certificate has none.
    pub(super) subject: String,
    /// `notAfter` in seconds since the epoch (`None`: from Envoy's strings, no certificate read).
    pub(super) not_after: Option<i64>,
}

// ---------------------------------------------------------------------------------------------------------------

/// A certificate date as RFC 3339 UTC (the `time` crate's formatter, behind `ASN1Time`'s `Display`, is ~20 KB
/// of the wasm module).
pub(super) fn date(unix: i64) -> String {
    match u64::try_from(unix) {
        Ok(secs) => crate::time::rfc3339_millis(secs.saturating_mul(1000)),
        Err(_) => format!("{unix} (Unix time)"),
    }
}

/// The label and decoded bytes of the first PEM block, read as x509-parser's `Pem::read` does (lines before
/// `-----BEGIN ` skipped, base64 lines up to `-----END `). Own code rather than x509-parser's: its reader
/// brings a second base64 decoder (data-encoding) and `std::io` into the wasm module.
pub(crate) fn first_pem_block(text: &str) -> Result<(&str, Vec<u8>), &'static str> {
    use base64::Engine as _;
    let mut lines = text.split_inclusive('\n');
    let header = lines.by_ref().find(|l| l.starts_with("-----BEGIN ")).ok_or("missing PEM header")?;
    let mut parts = header.split("-----");
    let (Some(""), Some(label), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("invalid PEM header");
    };
    let label = label.strip_prefix("BEGIN ").ok_or("invalid PEM header")?;
    let label = label.split('-').next().unwrap_or_default();
    let mut body = String::new();
    loop {
        let line = lines.next().ok_or("incomplete PEM")?;
        if line.starts_with("-----END ") {
            break;
        }
        body.push_str(line.trim_end());
    }
    let der = base64::engine::general_purpose::STANDARD.decode(body.as_bytes()).map_err(|_| "base64 decode error")?;
    Ok((label, der))
}

/// Reads the leaf certificate: URI SANs, RFC 2253 subject; refuses it outside its validity dates.
pub(super) fn certificate_facts_from_pem(pem: &str, now_unix: i64) -> Result<CertificateFacts, Refusal> {
    // Envoy's XFCC-style values are URL-encoded PEM; accept both.
    let decoded;
    let pem_text = if !pem.contains("-----BEGIN") && pem.contains('%') {
        decoded = percent_decode(pem).ok_or_else(|| Refusal("peer certificate: invalid URL encoding".into()))?;
        decoded.as_str()
    } else {
        pem
    };
    let (label, der) =
        first_pem_block(pem_text).map_err(|e| Refusal(format!("peer certificate is not valid PEM: {e}")))?;
    if label != "CERTIFICATE" {
        return Err(Refusal(format!("peer certificate PEM holds `{label}`, not a CERTIFICATE")));
    }
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| Refusal(format!("peer certificate does not parse: {e}")))?;
    let validity = cert.validity();
    let (not_before, not_after) = (validity.not_before.timestamp(), validity.not_after.timestamp());
    if now_unix < not_before {
        return Err(Refusal(format!("peer certificate is not yet valid (notBefore {})", date(not_before))));
    }
    if now_unix > not_after {
        return Err(Refusal(format!("peer certificate has expired (notAfter {})", date(not_after))));
    }
    let san = cert
        .subject_alternative_name()
        .map_err(|e| Refusal(format!("peer certificate has an invalid subjectAltName: {e}")))?;
    let uri_sans = san
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::URI(uri) => Some((*uri).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(CertificateFacts { uri_sans, subject: rfc2253_name(cert.subject()), not_after: Some(not_after) })
}

pub(super) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
