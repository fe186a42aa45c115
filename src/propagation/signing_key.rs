//! The OAUTHBEARER signing key read from its PEM: PKCS#8 (`BEGIN PRIVATE KEY`) or SEC1 (`BEGIN EC PRIVATE KEY`),
//! EC P-256 only. The two DER structures are read here rather than with p256's `pkcs8` and `pem` features, which
//! link RustCrypto's der/pkcs8/spki/pem-rfc7468/base64ct stack (~30 KB of the wasm module) for these few fields.

use std::borrow::Cow;

use p256::ecdsa::SigningKey;
use x509_parser::asn1_rs::Oid;

use crate::identity::first_pem_block;

// DER tags (X.690): universal ones, then ECPrivateKey's `[0]` and `[1]` EXPLICIT (context-specific, constructed).
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const OBJECT_IDENTIFIER: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
const EC_PARAMETERS: u8 = 0xa0;
const EC_PUBLIC_KEY: u8 = 0xa1;
const CONTEXT_SPECIFIC: u8 = 0x80;
const CLASS_MASK: u8 = 0xc0;

/// OID contents (X.690 encoding): id-ecPublicKey (1.2.840.10045.2.1) and prime256v1, alias P-256
/// (1.2.840.10045.3.1.7).
const ID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const PRIME256V1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The signing key in `pem`. Errors never quote the key material.
pub(super) fn parse_signing_key(pem: &str) -> Result<SigningKey, String> {
    // `openssl ecparam -genkey` writes an EC PARAMETERS block before the key: read from the key's block.
    let from = pem.find("-----BEGIN EC PRIVATE KEY-----").unwrap_or(0);
    let text = pem.get(from..).unwrap_or(pem).trim();
    let (label, der) = first_pem_block(text).map_err(|e| format!("not a valid PEM private key: {e}"))?;
    match label {
        "PRIVATE KEY" => pkcs8(&der).map_err(|e| format!("not a valid PKCS#8 PEM EC P-256 private key: {e}")),
        "EC PRIVATE KEY" => ec_private_key(&der).map_err(|e| format!("not a valid SEC1 PEM EC P-256 private key: {e}")),
        other => Err(format!(
            "not a valid PEM private key: the PEM holds `{other}`, not `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC1)"
        )),
    }
}

/// PKCS#8 (RFC 5208, RFC 5958): `PrivateKeyInfo ::= SEQUENCE { version INTEGER (0, or 1 with a public key),
/// AlgorithmIdentifier SEQUENCE { id-ecPublicKey, namedCurve OID }, privateKey OCTET STRING (an ECPrivateKey),
/// [0] attributes OPTIONAL, [1] publicKey OPTIONAL }`. Attributes and public key are not needed (the scalar is
/// the key; the ECPrivateKey's own public key, when present, is checked).
fn pkcs8(der: &[u8]) -> Result<SigningKey, String> {
    let mut info = Der::only(der, SEQUENCE, "PrivateKeyInfo")?;
    let version = info.expect(INTEGER, "version")?;
    if version != [0] && version != [1] {
        return Err("PrivateKeyInfo version is neither 0 nor 1".into());
    }
    let mut algorithm = Der::new(info.expect(SEQUENCE, "AlgorithmIdentifier")?);
    let oid = algorithm.expect(OBJECT_IDENTIFIER, "algorithm")?;
    if oid != ID_EC_PUBLIC_KEY {
        return Err(format!("algorithm {} is not an EC key (id-ecPublicKey, 1.2.840.10045.2.1)", oid_text(oid)));
    }
    check_curve(algorithm.expect(OBJECT_IDENTIFIER, "namedCurve")?)?;
    algorithm.finish("AlgorithmIdentifier")?;
    let key = ec_private_key(info.expect(OCTET_STRING, "privateKey")?)?;
    while !info.is_empty() {
        if info.next()?.0 & CLASS_MASK != CONTEXT_SPECIFIC {
            return Err("unexpected element after privateKey".into());
        }
    }
    Ok(key)
}

/// SEC1 (RFC 5915): `ECPrivateKey ::= SEQUENCE { version INTEGER (1), privateKey OCTET STRING, [0] namedCurve OID
/// OPTIONAL, [1] publicKey BIT STRING OPTIONAL }`.
fn ec_private_key(der: &[u8]) -> Result<SigningKey, String> {
    let mut key = Der::only(der, SEQUENCE, "ECPrivateKey")?;
    if key.expect(INTEGER, "version")? != [1] {
        return Err("ECPrivateKey version is not 1".into());
    }
    let scalar = key.expect(OCTET_STRING, "privateKey")?;
    if key.peek_tag() == Some(EC_PARAMETERS) {
        let mut parameters = Der::new(key.expect(EC_PARAMETERS, "parameters")?);
        // RFC 5915 allows only a named curve (RustCrypto's sec1 too); `openssl ec -param_enc explicit` writes these.
        if parameters.peek_tag() == Some(SEQUENCE) {
            return Err("explicit curve parameters are not supported, only the named curve P-256 \
                        (`openssl ec -param_enc named_curve`)"
                .into());
        }
        check_curve(parameters.expect(OBJECT_IDENTIFIER, "namedCurve")?)?;
        parameters.finish("parameters")?;
    }
    let signing_key = SigningKey::from_slice(scalar)
        .map_err(|_| "privateKey is not a P-256 private key (a non-zero 32-byte scalar below the group order)")?;
    if key.peek_tag() == Some(EC_PUBLIC_KEY) {
        let public_key = Der::only(key.expect(EC_PUBLIC_KEY, "publicKey")?, BIT_STRING, "publicKey")?.rest;
        // A SEC1 point in a BIT STRING without unused bits; compared in its own form (compressed or not).
        let point = public_key.strip_prefix(&[0]).ok_or("publicKey is not a whole number of bytes")?;
        let compressed = matches!(point.first(), Some(2 | 3));
        if signing_key.verifying_key().to_encoded_point(compressed).as_bytes() != point {
            return Err("publicKey does not match privateKey".into());
        }
    }
    key.finish("ECPrivateKey")?;
    Ok(signing_key)
}

fn check_curve(oid: &[u8]) -> Result<(), String> {
    if oid == PRIME256V1 {
        Ok(())
    } else {
        Err(format!("curve {} is not P-256 (1.2.840.10045.3.1.7); ES256 needs a P-256 key", oid_text(oid)))
    }
}

fn oid_text(contents: &[u8]) -> String {
    Oid::new(Cow::Borrowed(contents)).to_id_string()
}

/// DER elements read one after another from `rest`: definite lengths in at most two bytes (a P-256 key is about
/// 140 bytes).
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Der { rest: bytes }
    }

    /// The contents of `bytes`, which must be exactly one `tag` element.
    fn only(bytes: &'a [u8], tag: u8, what: &str) -> Result<Self, String> {
        let mut outer = Der::new(bytes);
        let contents = outer.expect(tag, what)?;
        outer.finish(what)?;
        Ok(Der::new(contents))
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element's tag and contents.
    fn next(&mut self) -> Result<(u8, &'a [u8]), String> {
        let truncated = || "truncated DER".to_string();
        let (&tag, rest) = self.rest.split_first().ok_or_else(truncated)?;
        let (&first, rest) = rest.split_first().ok_or_else(truncated)?;
        let (length, rest) = match first {
            0..=0x7f => (usize::from(first), rest),
            0x81 => match rest.split_first() {
                Some((&length, rest)) if length >= 0x80 => (usize::from(length), rest),
                _ => return Err("invalid DER length".into()),
            },
            0x82 => match rest.split_first_chunk::<2>() {
                Some((&length, rest)) if u16::from_be_bytes(length) >= 0x100 => {
                    (usize::from(u16::from_be_bytes(length)), rest)
                }
                _ => return Err("invalid DER length".into()),
            },
            _ => return Err("invalid DER length".into()),
        };
        let (contents, rest) = rest.split_at_checked(length).ok_or_else(truncated)?;
        self.rest = rest;
        Ok((tag, contents))
    }

    fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], String> {
        match self.next()? {
            (found, contents) if found == tag => Ok(contents),
            _ => Err(format!("{what} is missing or has the wrong type")),
        }
    }

    fn finish(&self, what: &str) -> Result<(), String> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(format!("unexpected bytes at the end of {what}"))
        }
    }
}
