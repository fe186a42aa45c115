//! classify() on arbitrary API keys, versions and bodies, whole and cut short. Invariants: no panic, no
//! allocation beyond the body; a prefix never decides differently from the whole body (a Produce decided
//! early must name the same topics the complete body names).
//!
//! Input: bytes 0-1 pick the API key (byte 0 < 0xf0: a key in 0..=90, else the raw i16), byte 2 the version
//! (low 5 bits, or the raw byte as i8 when bit 7 is set), byte 3 where to cut; the rest is the body.
#![no_main]

use kafka_mtls_filter::classify::{classify, Classification};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [k0, k1, v, cut, body @ ..] = data else { return };
    let api_key = if *k0 < 0xf0 { (*k0 % 91) as i16 } else { i16::from_be_bytes([*k1, *k0]) };
    let version = if v & 0x80 == 0 { (v & 0x1f) as i16 } else { *v as i8 as i16 };
    let whole = classify(api_key, version, body, body.len());
    assert!(!matches!(whole, Classification::NeedMore), "NeedMore on a complete body");
    // A body said to be longer than the bytes given: must not read past them.
    let _ = classify(api_key, version, body, body.len() + *cut as usize + 1);
    if body.is_empty() {
        return;
    }
    let at = (*cut as usize * body.len()) / 256;
    let early = classify(api_key, version, &body[..at], body.len());
    if let (Classification::Checks { .. }, Classification::Checks { .. }) = (&early, &whole) {
        assert_eq!(early, whole, "decided on {at} of {} bytes differently from the whole body", body.len());
    }
});
