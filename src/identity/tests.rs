//! Identity tests: Kafka's own SslPrincipalMapper cases, certificates, SPIFFE IDs and templates.

use super::rfc2253::der_encoding;
use super::*;
use x509_parser::asn1_rs::Any;

fn rules(text: &str) -> PrincipalMappingRules {
    match PrincipalMappingRules::parse(text) {
        Ok(rules) => rules,
        Err(e) => panic!("rules `{text}` refused: {e}"),
    }
}

fn mapper(json: &str) -> Result<IdentityMapper, FieldError> {
    let cfg: IdentityConfig = serde_json::from_str(json).expect("test configuration is valid JSON");
    IdentityMapper::compile(&cfg)
}

// --- Kafka SslPrincipalMapperTest ---

#[test]
fn kafka_valid_rules() {
    for text in [
        "DEFAULT",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT",
        "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/",
        "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L",
        "RULE:^cn=(.?),ou=(.?),dc=(.?),dc=(.?)$/$1@$2/U",
        "RULE:^CN=([^,ADEFLTU,]+)(,.*|$)/$1/",
        "RULE:^CN=([^,DEFAULT,]+)(,.*|$)/$1/",
    ] {
        rules(text);
    }
}

#[test]
fn kafka_invalid_rules() {
    for text in [
        "default",
        "DEFAUL",
        "DEFAULT/L",
        "DEFAULT/U",
        "RULE:CN=(.*?),OU=ServiceUsers.*/$1",
        "rule:^CN=(.*?),OU=ServiceUsers.*$/$1/",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/U",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/LU",
    ] {
        assert!(PrincipalMappingRules::parse(text).is_err(), "`{text}` should be refused");
    }
}

#[test]
fn kafka_ssl_principal_mapper() {
    let mapper = rules(
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L, \
             RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U, RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U, DEFAULT",
    );
    assert_eq!(mapper.map("CN=Duke,OU=ServiceUsers,O=Org,C=US").as_deref(), Some("duke"));
    assert_eq!(mapper.map("CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US").as_deref(), Some("duke@sme"));
    assert_eq!(mapper.map("cn=duke,ou=sme,dc=mycp,dc=com").as_deref(), Some("DUKE@SME"));
    assert_eq!(mapper.map("cN=duke,OU=JavaSoft,O=Sun Microsystems").as_deref(), Some("DUKE"));
    assert_eq!(
        mapper.map("OU=JavaSoft,O=Sun Microsystems,C=US").as_deref(),
        Some("OU=JavaSoft,O=Sun Microsystems,C=US")
    );
}

#[test]
fn kafka_rules_splitting() {
    let cases = [
        ("[DEFAULT]", "DEFAULT"),
        ("[RULE:/]", "RULE://"),
        ("[RULE:/.*]", "RULE:/.*/"),
        ("[RULE:/.*/L]", "RULE:/.*/L"),
        ("[RULE:/, DEFAULT]", "RULE://,DEFAULT"),
        ("[RULE:/, DEFAULT]", "  RULE:// ,  DEFAULT  "),
        ("[RULE:   /     , DEFAULT]", "  RULE:   /     / ,  DEFAULT  "),
        ("[RULE:  /     /U, DEFAULT]", "  RULE:  /     /U   ,DEFAULT  "),
        ("[RULE:([A-Z]*)/$1/U, RULE:([a-z]+)/$1, DEFAULT]", "  RULE:([A-Z]*)/$1/U   ,RULE:([a-z]+)/$1/,   DEFAULT  "),
        ("[]", ",   , , ,      , , ,   "),
        ("[RULE:/, DEFAULT]", ",,RULE://,,,DEFAULT,,"),
        ("[RULE: /   , DEFAULT]", ",  , RULE: /   /    ,,,   DEFAULT, ,   "),
        ("[RULE:   /  /U, DEFAULT]", "     ,  , RULE:   /  /U    ,,  ,DEFAULT, ,"),
        (r"[RULE:\/\\\(\)\n\t/\/\/]", r"RULE:\/\\\(\)\n\t/\/\//"),
        (r"[RULE:\**\/+/*/L, RULE:\/*\**/**]", r"RULE:\**\/+/*/L,RULE:\/*\**/**/"),
        (
            r"[RULE:,RULE:,/,RULE:,\//U, RULE:,/RULE:,, RULE:,RULE:,/L,RULE:,/L, RULE:, DEFAULT, /DEFAULT, DEFAULT]",
            r"RULE:,RULE:,/,RULE:,\//U,RULE:,/RULE:,/,RULE:,RULE:,/L,RULE:,/L,RULE:, DEFAULT, /DEFAULT/,DEFAULT",
        ),
    ];
    for (expected, text) in cases {
        assert_eq!(rules(text).to_string(), expected, "splitting `{text}`");
    }
    assert_eq!(rules("").to_string(), "[]");
}

#[test]
fn kafka_comma_with_whitespace() {
    let mapper = rules(r"RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT");
    assert_eq!(mapper.map(r"CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz").as_deref(), Some(r"Tkac\, Adam"));
}

/// The examples of `ssl.principal.mapping.rules` in Kafka's security documentation.
#[test]
fn kafka_documentation_examples() {
    let mapper = rules(
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,\
             RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT",
    );
    assert_eq!(
        mapper.map("CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown").as_deref(),
        Some("serviceuser")
    );
    assert_eq!(
        mapper.map("CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown").as_deref(),
        Some("adminuser@admin")
    );
    assert_eq!(mapper.map("O=acme,cn=Some.Body").as_deref(), Some("some.body"));
    assert_eq!(mapper.map("O=acme,C=US").as_deref(), Some("O=acme,C=US"));
    let upper = rules("RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/U");
    assert_eq!(
        upper.map("CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown").as_deref(),
        Some("ADMINUSER@ADMIN")
    );
}

#[test]
fn rules_may_span_lines() {
    let mapper = rules("\n  RULE:^CN=([^,]+),O=acme$/$1/L,\n  RULE:^CN=([^,]+),O=other$/other-$1/,\n  DEFAULT\n");
    assert_eq!(mapper.len(), 3);
    assert_eq!(mapper.map("CN=Alice,O=acme").as_deref(), Some("alice"));
    assert_eq!(mapper.map("CN=Bob,O=other").as_deref(), Some("other-Bob"));
    assert_eq!(mapper.map("CN=Carol,O=elsewhere").as_deref(), Some("CN=Carol,O=elsewhere"));
}

#[test]
fn rule_must_match_the_whole_dn() {
    let mapper = rules("RULE:CN=([^,]+)/$1/");
    assert_eq!(mapper.map("CN=alice"), Some("alice".into()));
    assert_eq!(mapper.map("CN=alice,O=acme"), None, "Java matches() needs the whole DN");
}

#[test]
fn no_matching_rule_is_none() {
    let mapper = rules("RULE:^CN=([^,]+),O=acme$/$1/");
    assert_eq!(mapper.map("CN=alice,O=evil"), None);
}

#[test]
fn replacement_is_java_replace_all() {
    // "abc".replaceAll(".*", "x") is "xx" in Java: the empty match at the end is replaced too.
    assert_eq!(rules("RULE:.*/x/").map("abc").as_deref(), Some("xx"));
    // `$0` is the whole match; `\$` a literal dollar.
    assert_eq!(rules(r"RULE:^CN=(\w+)$/[$0]\$/").map("CN=a").as_deref(), Some("[CN=a]$"));
    // An unmatched optional group gives nothing.
    assert_eq!(rules("RULE:^CN=(a)?(b)$/$1-$2/").map("CN=b").as_deref(), Some("-b"));
    // Named groups.
    assert_eq!(rules("RULE:^CN=(?<user>[^,]+)$/${user}/U").map("CN=bob").as_deref(), Some("BOB"));
}

#[test]
fn back_references_beyond_the_groups_are_literal_as_in_kafka() {
    // $4 with three groups stays literal; $12 with three groups is $1 followed by "2".
    let mapper = rules(r"RULE:^CN=(\w+),OU=(\w+),O=(\w+)$/$1@$4/, RULE:^CN=(\w+),O=(\w+),C=(\w+)$/$12/");
    assert_eq!(mapper.map("CN=a,OU=b,O=c").as_deref(), Some("a@$4"));
    assert_eq!(mapper.map("CN=a,O=b,C=c").as_deref(), Some("a2"));
    // Kafka's escaping inserts at stale positions after a first insertion: "$4@$5" becomes "\$4\@$5", whose
    // `$5` fails in Java when applied; refused at configuration time here.
    assert!(PrincipalMappingRules::parse(r"RULE:^CN=(\w+),OU=(\w+),O=(\w+)$/$4@$5/").is_err());
    // No group at all: `$1` fails in Java when applied.
    assert!(PrincipalMappingRules::parse("RULE:^CN=.*$/$1/").is_err());
    assert!(PrincipalMappingRules::parse(r"RULE:^CN=(.*)$/$1\/").is_err(), "replacement ends with `\\`");
}

#[test]
fn java_only_regex_syntax_is_a_configuration_error() {
    let err = PrincipalMappingRules::parse("RULE:^CN=(?=a)(.*)$/$1/").unwrap_err();
    assert!(err.contains("invalid pattern"), "{err}");
    assert!(PrincipalMappingRules::parse("RULE:^CN=(a)\\1$/$1/").is_err());
}

// --- SPIFFE IDs ---

#[test]
fn spiffe_ids_that_parse() {
    let id = SpiffeId::parse("spiffe://cluster.local/ns/payments/sa/checkout").unwrap();
    assert_eq!(id.trust_domain(), "cluster.local");
    assert_eq!(id.workload(), Some(("payments", "checkout")));
    let id = SpiffeId::parse("spiffe://example.org").unwrap();
    assert_eq!(id.path_segments(), &[] as &[String]);
    assert_eq!(id.workload(), None);
    let id = SpiffeId::parse("spiffe://my_td-1.example/a/B.c-d_e/F9").unwrap();
    assert_eq!(id.path_segments(), &["a", "B.c-d_e", "F9"]);
    assert_eq!(id.workload(), None);
    assert_eq!(SpiffeId::parse("spiffe://td/ns/a/sa/b/extra").unwrap().workload(), None);
}

#[test]
fn malformed_spiffe_ids() {
    let cases = [
        ("spiffe://", "trust domain is empty"),
        ("spiffe:///ns/a/sa/b", "trust domain is empty"),
        ("SPIFFE://td/ns/a/sa/b", "lowercase"),
        ("spiffe:/td/x", "must start with"),
        ("http://td/x", "must start with"),
        ("spiffe://TD/x", "trust domain must be lowercase"),
        ("spiffe://td:8443/x", "port"),
        ("spiffe://user@td/x", "userinfo"),
        ("spiffe://td/x?y=1", "query"),
        ("spiffe://td?y=1", "query"),
        ("spiffe://td/x#frag", "fragment"),
        ("spiffe://td/a%20b", "percent-encoding"),
        ("spiffe://td%2e/a", "percent-encoding"),
        ("spiffe://td/a//b", "empty path segment"),
        ("spiffe://td/a/", "empty path segment"),
        ("spiffe://td/", "empty path segment"),
        ("spiffe://td/./a", "`.`"),
        ("spiffe://td/a/..", "`..`"),
        ("spiffe://td/a b", "character ` `"),
        ("spiffe://td/é", "character `é`"),
    ];
    for (uri, expected) in cases {
        match SpiffeId::parse(uri) {
            Ok(_) => panic!("`{uri}` accepted"),
            Err(e) => assert!(e.contains(expected), "`{uri}`: `{e}` should mention `{expected}`"),
        }
    }
    let long = format!("spiffe://td/{}", "a".repeat(2100));
    assert!(SpiffeId::parse(&long).unwrap_err().contains("2048"));
    let long_domain = format!("spiffe://{}/a", "a".repeat(256));
    assert!(SpiffeId::parse(&long_domain).unwrap_err().contains("255"));
}

#[test]
fn templates() {
    assert_eq!(PrincipalTemplate::parse("CN={namespace}-{serviceAccount}").unwrap(), PrincipalTemplate::default());
    let id = SpiffeId::parse("spiffe://cluster.local/ns/payments/sa/checkout").unwrap();
    let render = |t: &str| PrincipalTemplate::parse(t).unwrap().render(&id);
    assert_eq!(
        render("{serviceAccount}.{namespace}@{trustDomain}").as_deref(),
        Some("checkout.payments@cluster.local")
    );
    assert_eq!(render("{spiffeId}").as_deref(), Some("spiffe://cluster.local/ns/payments/sa/checkout"));
    let other = SpiffeId::parse("spiffe://example.org/workload/batch").unwrap();
    assert_eq!(
        PrincipalTemplate::parse("{spiffeId}").unwrap().render(&other).as_deref(),
        Some("spiffe://example.org/workload/batch")
    );
    assert_eq!(PrincipalTemplate::default().render(&other), None);
    for (bad, expected) in [
        ("CN={ns}", "unknown placeholder `{ns}`"),
        ("CN={namespace", "unclosed"),
        ("CN=}x", "without"),
        ("  ", "empty"),
    ] {
        let err = PrincipalTemplate::parse(bad).unwrap_err();
        assert!(err.contains(expected), "`{bad}`: {err}");
    }
}

// --- RFC 2253 escaping (Java AVA.toRFC2253String) ---

#[test]
fn rfc2253_escaping() {
    assert_eq!(rfc2253_escape("checkout"), "checkout");
    assert_eq!(rfc2253_escape("team a, b"), r"team a\, b");
    assert_eq!(rfc2253_escape(r#"a+b"c\d<e>f;g=h#i"#), r#"a\+b\"c\\d\<e\>f\;g\=h\#i"#);
    assert_eq!(rfc2253_escape("#lead"), r"\#lead");
    assert_eq!(rfc2253_escape("  two "), r"\ \ two\ ");
    assert_eq!(rfc2253_escape("   "), r"\ \ \ ");
    assert_eq!(rfc2253_escape("nul\0"), r"nul\00");
    assert_eq!(rfc2253_escape("café_x@y"), "café_x@y");
    assert_eq!(rfc2253_escape(""), "");
}

#[test]
fn der_encoding_of_long_values() {
    let data = vec![b'a'; 300];
    let any = Any::from_tag_and_data(x509_parser::asn1_rs::Tag::Ia5String, &data);
    let der = der_encoding(&any);
    assert_eq!(der.get(..4), Some(&[0x16, 0x82, 0x01, 0x2c][..]));
    assert_eq!(der.len(), 304);
}

// --- configuration ---

#[test]
fn configuration_defaults() {
    let m = mapper("{}").unwrap();
    assert_eq!(m.preferred_source(), PreferredSource::Spiffe);
    assert_eq!(m.unauthenticated_policy(), UnauthenticatedPolicy::Deny);
    assert_eq!(m.mapping_rules.to_string(), "[DEFAULT]");
    assert_eq!(m.spiffe_principal, PrincipalTemplate::default());
}

/// Kafka's SslPrincipalMapper splits `""`, blanks and bare commas into no rule at all: no subject maps, so a
/// client identified by its subject is refused. Never DEFAULT in their place.
#[test]
fn mapping_rules_that_split_into_no_rule_refuse_every_subject() {
    let peer = PeerInfo { mtls: true, subject: Some("CN=app,O=acme".into()), ..PeerInfo::default() };
    for text in ["", "  ", ",", ",  , ,"] {
        let json = format!(r#"{{"subject": {{"mappingRules": "{text}"}}, "prefer": "subject"}}"#);
        let m = mapper(&json).unwrap_or_else(|e| panic!("{text:?}: {}", e.problem));
        assert_eq!(m.mapping_rules.to_string(), "[]", "{text:?}");
        assert!(m.identify(&peer, 0).is_err(), "{text:?} must refuse the subject");
    }
    // Absent: Kafka's default, DEFAULT.
    assert_eq!(mapper(r#"{"prefer": "subject"}"#).unwrap().identify(&peer, 0).unwrap().principal, "User:CN=app,O=acme");
}

#[test]
fn configuration_errors_name_the_field() {
    let cases = [
        (r#"{"spiffe": {"principal": "CN={name}"}}"#, "spiffe.principal", "unknown placeholder"),
        (r#"{"spiffe": {"trustDomains": ["ok.local", "Bad.Domain"]}}"#, "spiffe.trustDomains[1]", "lowercase"),
        (r#"{"subject": {"mappingRules": "RULE:^CN=(.*$/$1/"}}"#, "subject.mappingRules", "invalid pattern"),
        (r#"{"subject": {"mappingRules": "DEFAULT/L"}}"#, "subject.mappingRules", "unmatched substring"),
        (r#"{"prefer": "dn"}"#, "prefer", "unknown value `dn`"),
        (r#"{"unauthenticated": "allow"}"#, "unauthenticated", "unknown value `allow`"),
    ];
    for (json, field, problem) in cases {
        let err = mapper(json).unwrap_err();
        assert_eq!(err.field, field, "{json}");
        assert!(err.problem.contains(problem), "{json}: {}", err.problem);
    }
    assert!(serde_json::from_str::<IdentityConfig>(r#"{"spiffe": {"template": "x"}}"#).is_err());
}

#[test]
fn default_mapper_is_the_compiled_default_configuration() {
    let compiled = mapper("{}").unwrap();
    let default = IdentityMapper::default();
    let peer = PeerInfo {
        mtls: true,
        uri_san: Some("spiffe://cluster.local/ns/a/sa/b".into()),
        subject: Some("CN=x".into()),
        ..PeerInfo::default()
    };
    assert_eq!(compiled.identify(&peer, 0), default.identify(&peer, 0));
    assert_eq!(default.identify(&peer, 0).unwrap().principal, "User:CN=a-b");
}

// --- identify from Envoy's fallback strings ---

fn envoy_peer(uri_san: Option<&str>, subject: Option<&str>) -> PeerInfo {
    PeerInfo {
        mtls: true,
        peer_certificate_pem: None,
        uri_san: uri_san.map(Into::into),
        subject: subject.map(Into::into),
    }
}

#[test]
fn no_client_certificate() {
    let deny = IdentityMapper::default();
    let anonymous = mapper(r#"{"unauthenticated": "anonymous"}"#).unwrap();
    let plain = PeerInfo::default();
    assert!(deny.identify(&plain, 0).unwrap_err().0.contains("not mTLS"));
    assert_eq!(anonymous.identify(&plain, 0).unwrap(), Identity::new("User:ANONYMOUS", IdentitySource::Anonymous));
    let no_data = envoy_peer(None, Some(""));
    assert!(deny.identify(&no_data, 0).is_err());
    assert_eq!(anonymous.identify(&no_data, 0).unwrap().source, IdentitySource::Anonymous);
    // Certificate strings without mTLS are not trusted.
    let not_mtls = PeerInfo { mtls: false, ..envoy_peer(Some("spiffe://td/ns/a/sa/b"), None) };
    assert!(deny.identify(&not_mtls, 0).is_err());
}

#[test]
fn fallback_strings() {
    let m = mapper(r#"{"subject": {"mappingRules": "RULE:^CN=([^,]+),O=acme$/$1/L"}}"#).unwrap();
    let detailed = m.identify_detailed(&envoy_peer(Some("spiffe://cluster.local/ns/payments/sa/checkout"), None), 0);
    let (id, details) = (detailed.clone().unwrap().identity, detailed.unwrap());
    assert_eq!(id.principal, "User:CN=payments-checkout");
    assert_eq!(id.source, IdentitySource::Spiffe);
    assert_eq!(details.spiffe_id.as_deref(), Some("spiffe://cluster.local/ns/payments/sa/checkout"));
    assert_eq!(details.subject, None);
    let id = m.identify(&envoy_peer(None, Some("CN=Reporter,O=acme")), 0).unwrap();
    assert_eq!((id.principal.as_str(), id.source), ("User:reporter", IdentitySource::Subject));
    let refused = m.identify(&envoy_peer(None, Some(r"CN=x,OU=team a\, b,O=evil")), 0).unwrap_err();
    assert!(refused.0.contains("no principal mapping rule matches"), "{refused}");
    // Not ns/sa shaped, template needs it: falls to the subject.
    let id = m.identify(&envoy_peer(Some("spiffe://example.org/job"), Some("CN=Batch,O=acme")), 0).unwrap();
    assert_eq!(id.principal, "User:batch");
    let refused = m.identify(&envoy_peer(Some("spiffe://example.org/job"), None), 0).unwrap_err();
    assert!(refused.0.contains("is not of the form"), "{refused}");
}
