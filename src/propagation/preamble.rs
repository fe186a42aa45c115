//! Propagation by preamble (`propagation.mode: banzaiPreamble`): the identity announced in front of the
//! first request, for banzaicloud's patched Kafka.

/// The preamble banzaicloud's patched Kafka (`PlaintextChannelWithOptionalUserIdentity`) reads before the
/// first request: a 2-byte big-endian length, then `BZC_UID:<identity>`; the broker uses `User:<identity>`.
pub fn banzai_preamble(principal: &str) -> Vec<u8> {
    let identity = principal.strip_prefix("User:").unwrap_or(principal);
    let text = format!("BZC_UID:{identity}");
    let bytes = text.as_bytes();
    let len = bytes.len().min(u16::MAX as usize);
    let mut out = Vec::with_capacity(2 + len);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(bytes.get(..len).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banzai_preamble_bytes() {
        let p = banzai_preamble("User:CN=kafka-default");
        assert_eq!(&p[..2], &[0, 24]);
        assert_eq!(&p[2..], b"BZC_UID:CN=kafka-default");
    }
}
