//! `identify` from real certificates (tests/fixtures/identity, made by generate.sh with the openssl CLI).

use kafka_mtls_filter::identity::{IdentityConfig, IdentityMapper, IdentitySource, PeerInfo};

/// Inside the validity of the fixtures (2026-11-23 .. 2126-10-30).
const NOW: i64 = 1_900_000_000;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/identity/{name}.pem", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn mapper(json: &str) -> IdentityMapper {
    let cfg: IdentityConfig = serde_json::from_str(json).expect("valid JSON");
    IdentityMapper::compile(&cfg).expect("valid configuration")
}

/// What Envoy >= 1.3x gives for a TLS connection with a client certificate.
fn peer(name: &str) -> PeerInfo {
    PeerInfo { mtls: true, peer_certificate_pem: Some(fixture(name)), uri_san: None, subject: None }
}

const ACME_RULES: &str = r#"{"subject": {"mappingRules": "RULE:^CN=([^,]+),O=acme$/$1/L"}}"#;

#[test]
fn istio_certificate_with_empty_subject() {
    let detailed = IdentityMapper::default().identify_detailed(&peer("istio"), NOW).unwrap();
    assert_eq!(detailed.identity.principal, "User:CN=payments-checkout");
    assert_eq!(detailed.identity.source, IdentitySource::Spiffe);
    assert_eq!(detailed.spiffe_id.as_deref(), Some("spiffe://cluster.local/ns/payments/sa/checkout"));
    assert_eq!(detailed.subject, None);
    // Preferring the subject changes nothing when there is none.
    let id = mapper(r#"{"prefer": "subject"}"#).identify(&peer("istio"), NOW).unwrap();
    assert_eq!((id.principal.as_str(), id.source), ("User:CN=payments-checkout", IdentitySource::Spiffe));
}

#[test]
fn subject_only_certificate() {
    let detailed = IdentityMapper::default().identify_detailed(&peer("subject-only"), NOW).unwrap();
    assert_eq!(detailed.identity.principal, "User:CN=external-kafkauser,O=acme");
    assert_eq!(detailed.identity.source, IdentitySource::Subject);
    assert_eq!(detailed.subject.as_deref(), Some("CN=external-kafkauser,O=acme"));
    assert_eq!(detailed.spiffe_id, None);
    let id = mapper(ACME_RULES).identify(&peer("subject-only"), NOW).unwrap();
    assert_eq!(id.principal, "User:external-kafkauser");
    let refused = mapper(r#"{"subject": {"mappingRules": "RULE:^CN=([^,]+),O=other$/$1/"}}"#)
        .identify(&peer("subject-only"), NOW)
        .unwrap_err();
    assert!(
        refused.0.contains("no principal mapping rule matches subject `CN=external-kafkauser,O=acme`"),
        "{refused}"
    );
}

#[test]
fn certificate_with_both_sources() {
    let detailed = IdentityMapper::default().identify_detailed(&peer("both"), NOW).unwrap();
    let id = &detailed.identity;
    assert_eq!((id.principal.as_str(), id.source), ("User:CN=payments-checkout", IdentitySource::Spiffe));
    assert_eq!(detailed.subject.as_deref(), Some("CN=checkout,O=payments"));
    let detailed = mapper(r#"{"prefer": "subject"}"#).identify_detailed(&peer("both"), NOW).unwrap();
    let id = &detailed.identity;
    assert_eq!((id.principal.as_str(), id.source), ("User:CN=checkout,O=payments", IdentitySource::Subject));
    assert_eq!(detailed.spiffe_id.as_deref(), Some("spiffe://cluster.local/ns/payments/sa/checkout"));
}

#[test]
fn spiffe_id_is_not_the_first_uri_san() {
    let id = IdentityMapper::default().identify(&peer("multi-uri"), NOW).unwrap();
    assert_eq!(id.principal, "User:CN=team-a-reporter");
    // Envoy's fallback string only has the first URI SAN, which is not a SPIFFE ID.
    let fallback =
        PeerInfo { mtls: true, uri_san: Some("https://reporter.example.com/id".into()), ..PeerInfo::default() };
    assert!(IdentityMapper::default().identify(&fallback, NOW).is_err());
}

#[test]
fn spiffe_id_of_another_shape() {
    // Default template needs /ns/<ns>/sa/<sa>: falls to the subject.
    let id = mapper(ACME_RULES).identify(&peer("spiffe-other-shape"), NOW).unwrap();
    assert_eq!((id.principal.as_str(), id.source), ("User:batch", IdentitySource::Subject));
    // A template of the whole ID works for any shape.
    let id = mapper(r#"{"spiffe": {"principal": "{spiffeId}"}}"#).identify(&peer("spiffe-other-shape"), NOW).unwrap();
    assert_eq!(
        (id.principal.as_str(), id.source),
        ("User:spiffe://example.org/workload/batch", IdentitySource::Spiffe)
    );
}

#[test]
fn trust_domains() {
    let restricted = mapper(
        r#"{"spiffe": {"trustDomains": ["cluster.local"], "principal": "{trustDomain}/{namespace}/{serviceAccount}"}}"#,
    );
    assert_eq!(restricted.identify(&peer("istio"), NOW).unwrap().principal, "User:cluster.local/payments/checkout");
    let refused = restricted.identify(&peer("foreign-trust-domain"), NOW).unwrap_err();
    assert!(refused.0.contains("trust domain `other.mesh` is not accepted"), "{refused}");
    // No list: any trust domain.
    assert_eq!(
        IdentityMapper::default().identify(&peer("foreign-trust-domain"), NOW).unwrap().principal,
        "User:CN=payments-checkout"
    );
}

#[test]
fn ambiguous_or_malformed_spiffe_ids_are_refused() {
    let refused = IdentityMapper::default().identify(&peer("two-spiffe-ids"), NOW).unwrap_err();
    assert!(refused.0.contains("several SPIFFE IDs"), "{refused}");
    let refused = IdentityMapper::default().identify(&peer("malformed-spiffe"), NOW).unwrap_err();
    assert!(refused.0.contains("percent-encoding"), "{refused}");
}

#[test]
fn validity_dates() {
    let refused = IdentityMapper::default().identify(&peer("expired"), NOW).unwrap_err();
    assert!(refused.0.contains("expired"), "{refused}");
    // 2020-06-01: inside its validity.
    let id = IdentityMapper::default().identify(&peer("expired"), 1_590_969_600).unwrap();
    assert_eq!(id.principal, "User:CN=old-client,O=acme");
    let refused = IdentityMapper::default().identify(&peer("istio"), 1_000_000_000).unwrap_err();
    assert!(refused.0.contains("not yet valid"), "{refused}");
}

#[test]
fn subject_formatted_as_java_x500_principal() {
    let id = IdentityMapper::default().identify(&peer("escapes"), NOW).unwrap();
    // Most specific RDN first; emailAddress has no RFC 2253 name: dotted OID and hex DER (IA5String);
    // `=` `#` `;` `<` `>` `,` escaped as Java does; the multi-valued RDN joined with `+`.
    assert_eq!(
        id.principal,
        r"User:1.2.840.113549.1.9.1=#1610746b6163406578616d706c652e636f6d,CN=Tkac\, Adam,OU=x+UID=jdoe,OU=team a\, b,O=\#hash\=eq\;semi\<q\>,C=US"
    );
    let id = IdentityMapper::default().identify(&peer("spaces"), NOW).unwrap();
    assert_eq!(id.principal, r"User:CN=\ padded\ ,O=acme");
    // Kafka's escaped-comma example works on the formatted DN.
    let id = mapper(r#"{"subject": {"mappingRules": "RULE:^.*CN=((\\\\, *|\\w)+)(,.*|$)/$1/,DEFAULT"}}"#)
        .identify(&peer("escapes"), NOW)
        .unwrap();
    assert_eq!(id.principal, r"User:Tkac\, Adam");
}

#[test]
fn unreadable_certificates_are_refused_without_fallback() {
    let garbage = PeerInfo {
        mtls: true,
        peer_certificate_pem: Some("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into()),
        uri_san: Some("spiffe://cluster.local/ns/a/sa/b".into()),
        subject: Some("CN=x".into()),
    };
    let refused = IdentityMapper::default().identify(&garbage, NOW).unwrap_err();
    assert!(refused.0.contains("peer certificate"), "{refused}");
    let not_pem = PeerInfo { peer_certificate_pem: Some("hello".into()), ..garbage.clone() };
    assert!(IdentityMapper::default().identify(&not_pem, NOW).is_err());
    // A truncated certificate.
    let pem = fixture("istio");
    let truncated: String =
        pem.lines().filter(|l| l.len() < 64 || l.starts_with("-----")).collect::<Vec<_>>().join("\n");
    let truncated = PeerInfo { peer_certificate_pem: Some(truncated), ..garbage };
    assert!(IdentityMapper::default().identify(&truncated, NOW).is_err());
}

#[test]
fn url_encoded_pem_is_accepted() {
    let encoded: String = fixture("istio")
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect();
    let peer = PeerInfo { mtls: true, peer_certificate_pem: Some(encoded), ..PeerInfo::default() };
    assert_eq!(IdentityMapper::default().identify(&peer, NOW).unwrap().principal, "User:CN=payments-checkout");
}

#[test]
fn principal_for_pem_matches_identify() {
    let mapper = mapper(ACME_RULES);
    for name in ["istio", "subject-only", "both", "multi-uri", "spiffe-other-shape", "expired", "two-spiffe-ids"] {
        assert_eq!(mapper.principal_for_pem(&fixture(name), NOW), mapper.identify(&peer(name), NOW), "{name}");
    }
}

#[test]
fn the_certificates_not_after_is_reported_for_expiry_on_open_connections() {
    // istio.pem: notAfter=Oct 30 14:21:53 2126 GMT.
    let detailed = IdentityMapper::default().identify_detailed(&peer("istio"), NOW).unwrap();
    assert_eq!(detailed.not_after, Some(4_949_043_713));
    // Envoy's strings alone carry no date.
    let strings = PeerInfo {
        mtls: true,
        peer_certificate_pem: None,
        uri_san: Some("spiffe://cluster.local/ns/a/sa/b".into()),
        subject: None,
    };
    assert_eq!(IdentityMapper::default().identify_detailed(&strings, NOW).unwrap().not_after, None);
}
