//! SASL identity propagation: SCRAM against RFC 7677's vector and an independent server computation, PLAIN,
//! OAUTHBEARER tokens verified by an independent JWT library, the Kafka frame exchange, configuration and
//! secret handling.

use std::collections::HashMap;
use std::rc::Rc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use kafka_mtls_filter::propagation::{
    self, CompiledSasl, SaslClient, SaslConfig, SaslStep, ScramClient, ScramHash, AUTHENTICATE_VERSION,
    HANDSHAKE_VERSION,
};
use kafka_mtls_filter::protocol::wire::{self, HeaderParse};
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use sha2::{Digest, Sha512};

// Test-only key (generated with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`).
const TEST_KEY_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgr+8rmKp5uBAgB+Rt
Ux6YHIsNmzn2f2/30oVV/ABhokGhRANCAAQIMWarGzc4oXLg1zwM6cxetjCziRCa
ju/u6ByeH264oAXH3Ho7EQyV2S9Hy5kIvU18Nawl6YDz1XfccH0kiOvv
-----END PRIVATE KEY-----
";
// The same key as SEC1 (`openssl ec -in key.pem`).
const TEST_KEY_SEC1: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIK/vK5iqebgQIAfkbVMemByLDZs59n9v99KFVfwAYaJBoAoGCCqGSM49
AwEHoUQDQgAECDFmqxs3OKFy4Nc8DOnMXrYws4kQmo7v7ugcnh9uuKAFx9x6OxEM
ldkvR8uZCL1NfDWsJemA89V33HB9JIjr7w==
-----END EC PRIVATE KEY-----
";
const TEST_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAECDFmqxs3OKFy4Nc8DOnMXrYws4kQ
mo7v7ugcnh9uuKAFx9x6OxEMldkvR8uZCL1NfDWsJemA89V33HB9JIjr7w==
-----END PUBLIC KEY-----
";
const DERIVATION_SECRET: &str = "0123456789abcdef-derivation-secret";
const NONCE: [u8; 24] = [7; 24];

fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| map.get(name).cloned()
}

fn config(json: &str) -> SaslConfig {
    serde_json::from_str(json).unwrap()
}

fn compile(json: &str, vars: &[(&str, &str)]) -> Rc<CompiledSasl> {
    propagation::compile(&config(json), &env_of(vars)).unwrap()
}

fn compile_err(json: &str, vars: &[(&str, &str)]) -> (String, String) {
    let e = propagation::compile(&config(json), &env_of(vars)).unwrap_err();
    (e.field, e.problem)
}

// ------------------------------------------------------------------------------------------------------
// SCRAM core
// ------------------------------------------------------------------------------------------------------

#[test]
fn scram_sha256_matches_rfc7677_vector() {
    let mut client = ScramClient::new(ScramHash::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO").unwrap();
    assert_eq!(client.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    assert_eq!(
        client.client_final(server_first).unwrap(),
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    );
    client.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap();
}

#[test]
fn scram_refuses_a_wrong_server_signature_and_reports_server_errors() {
    let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    let mut client = ScramClient::new(ScramHash::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO").unwrap();
    client.client_final(server_first).unwrap();
    // First byte of the genuine signature changed.
    let err = client.verify_server_final("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap_err();
    assert!(err.contains("signature mismatch"), "{err}");
    // Signature of another password (the broker does not know the credential).
    let mut other = ScramClient::new(ScramHash::Sha256, "user", "not-pencil", "rOprNGfwEbeRWgbNEkqO").unwrap();
    other.client_final(server_first).unwrap();
    assert!(other.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").is_err());

    let mut client = ScramClient::new(ScramHash::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO").unwrap();
    client.client_final(server_first).unwrap();
    let err = client.verify_server_final("e=invalid-proof").unwrap_err();
    assert!(err.contains("invalid-proof"), "{err}");
    // Out of order: server-final before server-first.
    let mut fresh = ScramClient::new(ScramHash::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO").unwrap();
    assert!(fresh.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").is_err());
}

#[test]
fn scram_user_names_are_escaped_and_non_ascii_refused() {
    let client = ScramClient::new(ScramHash::Sha512, "CN=a,O=b", "pw", "nonce").unwrap();
    assert_eq!(client.client_first(), "n,,n=CN=3Da=2CO=3Db,r=nonce");
    assert!(ScramClient::new(ScramHash::Sha512, "jérôme", "pw", "nonce").is_err());
    assert!(ScramClient::new(ScramHash::Sha512, "a", "pw", "bad,nonce").is_err());
}

// ------------------------------------------------------------------------------------------------------
// A broker, computed independently of the module (RFC 5802 server side).
// ------------------------------------------------------------------------------------------------------

fn hmac512(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

struct ScramSha512Broker {
    user: String,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
    salt: Vec<u8>,
    iterations: u32,
    client_first_bare: String,
    server_first: String,
    forge_signature: bool,
}

impl ScramSha512Broker {
    /// Stores only what Kafka stores: salt, iterations, StoredKey, ServerKey.
    fn new(user: &str, password: &str) -> Self {
        let salt = b"kafka-salt-1234".to_vec();
        let iterations = 4096;
        let mut salted = [0u8; 64];
        pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), &salt, iterations, &mut salted);
        let client_key = hmac512(&salted, b"Client Key");
        ScramSha512Broker {
            user: user.into(),
            stored_key: Sha512::digest(&client_key).to_vec(),
            server_key: hmac512(&salted, b"Server Key"),
            salt,
            iterations,
            client_first_bare: String::new(),
            server_first: String::new(),
            forge_signature: false,
        }
    }

    fn server_first(&mut self, client_first: &str) -> String {
        let bare = client_first.strip_prefix("n,,").expect("gs2 header n,,");
        let mut attrs = bare.split(',');
        let user = attrs.next().unwrap().strip_prefix("n=").unwrap().replace("=2C", ",").replace("=3D", "=");
        assert_eq!(user, self.user);
        let nonce = attrs.next().unwrap().strip_prefix("r=").unwrap();
        self.client_first_bare = bare.to_string();
        self.server_first = format!("r={nonce}srvNonce,s={},i={}", STANDARD.encode(&self.salt), self.iterations);
        self.server_first.clone()
    }

    /// Verifies the client proof; returns server-final (`v=`) or an error (`e=`).
    fn server_final(&self, client_final: &str) -> String {
        let (without_proof, proof) = client_final.rsplit_once(",p=").unwrap();
        let auth_message = format!("{},{},{}", self.client_first_bare, self.server_first, without_proof);
        let client_signature = hmac512(&self.stored_key, auth_message.as_bytes());
        let proof = STANDARD.decode(proof).unwrap();
        let client_key: Vec<u8> = proof.iter().zip(&client_signature).map(|(p, s)| p ^ s).collect();
        if Sha512::digest(&client_key).as_slice() != self.stored_key.as_slice() {
            return "e=invalid-proof".into();
        }
        let mut signature = hmac512(&self.server_key, auth_message.as_bytes());
        if self.forge_signature {
            signature[0] ^= 1;
        }
        format!("v={}", STANDARD.encode(signature))
    }
}

/// Parses a request frame the filter sent: header checks, then the body.
fn request_body(frame: &[u8], api_key: ApiKey, version: i16) -> (i32, Vec<u8>) {
    assert_eq!(wire::frame_size(frame).unwrap() as usize, frame.len() - 4);
    let body = &frame[4..];
    let HeaderParse::Complete(header) = wire::parse_request_header(body, body.len()) else {
        panic!("bad request header")
    };
    assert_eq!(header.api_key, api_key as i16);
    assert_eq!(header.api_version, version);
    assert!(header.correlation_id < 0, "SASL requests use negative correlation ids");
    assert_eq!(header.client_id, Some(propagation::SASL_CLIENT_ID));
    (header.correlation_id, body[header.header_len..].to_vec())
}

fn handshake_mechanism(frame: &[u8]) -> (i32, String) {
    let (cid, body) = request_body(frame, ApiKey::SaslHandshake, HANDSHAKE_VERSION);
    let req = SaslHandshakeRequest::decode(&mut body.as_slice(), HANDSHAKE_VERSION).unwrap();
    (cid, req.mechanism.to_string())
}

fn authenticate_bytes(frame: &[u8]) -> (i32, Vec<u8>) {
    let (cid, body) = request_body(frame, ApiKey::SaslAuthenticate, AUTHENTICATE_VERSION);
    let req = SaslAuthenticateRequest::decode(&mut body.as_slice(), AUTHENTICATE_VERSION).unwrap();
    (cid, req.auth_bytes.to_vec())
}

fn handshake_response(cid: i32, error_code: i16, mechanisms: &[&'static str]) -> Vec<u8> {
    let resp = SaslHandshakeResponse::default()
        .with_error_code(error_code)
        .with_mechanisms(mechanisms.iter().map(|m| StrBytes::from_static_str(m)).collect());
    let mut body = Vec::new();
    resp.encode(&mut body, HANDSHAKE_VERSION).unwrap();
    wire::response_frame(ApiKey::SaslHandshake as i16, HANDSHAKE_VERSION, cid, &body)
}

fn authenticate_response(cid: i32, error_code: i16, message: Option<&str>, auth_bytes: &[u8]) -> Vec<u8> {
    let resp = SaslAuthenticateResponse::default()
        .with_error_code(error_code)
        .with_error_message(message.map(|m| StrBytes::from_string(m.to_string())))
        .with_auth_bytes(auth_bytes.to_vec().into())
        .with_session_lifetime_ms(3_600_000);
    let mut body = Vec::new();
    resp.encode(&mut body, AUTHENTICATE_VERSION).unwrap();
    wire::response_frame(ApiKey::SaslAuthenticate as i16, AUTHENTICATE_VERSION, cid, &body)
}

fn send(step: SaslStep) -> Vec<u8> {
    match step {
        SaslStep::Send(frame) => frame,
        other => panic!("expected a request, got {other:?}"),
    }
}

const SCRAM512_DERIVED: &str = r#"{"mechanism": "SCRAM-SHA-512", "passwordSecretEnv": "KMF_SCRAM_SECRET"}"#;

/// Runs the whole Kafka exchange against the independent broker; returns the client's last result.
fn scram512_exchange(
    sasl: &Rc<CompiledSasl>,
    principal: &str,
    broker: &mut ScramSha512Broker,
) -> Result<SaslStep, String> {
    let mut client = SaslClient::new(sasl, principal, 1_700_000_000, &NONCE).unwrap();
    let (cid, mechanism) = handshake_mechanism(&client.first_requests());
    assert_eq!(mechanism, "SCRAM-SHA-512");
    assert!(client.first_requests().is_empty(), "the handshake is sent once");
    assert!(client.awaiting_response());

    let frame = send(client.on_response(&handshake_response(cid, 0, &["SCRAM-SHA-512", "PLAIN"]))?);
    let (cid1, client_first) = authenticate_bytes(&frame);
    assert_ne!(cid1, cid);
    let server_first = broker.server_first(std::str::from_utf8(&client_first).unwrap());

    let frame = send(client.on_response(&authenticate_response(cid1, 0, None, server_first.as_bytes()))?);
    let (cid2, client_final) = authenticate_bytes(&frame);
    assert!(cid2 != cid1 && cid2 != cid);
    let server_final = broker.server_final(std::str::from_utf8(&client_final).unwrap());
    if server_final.starts_with("e=") {
        // Kafka answers a bad proof with an error code rather than e=.
        return client.on_response(&authenticate_response(cid2, 58, Some("Authentication failed"), b""));
    }
    let step = client.on_response(&authenticate_response(cid2, 0, None, server_final.as_bytes()));
    if step == Ok(SaslStep::Done) {
        assert!(client.is_done() && !client.awaiting_response());
        assert_eq!(client.session_lifetime_ms(), Some(3_600_000));
        assert!(client.on_response(&authenticate_response(cid2, 0, None, b"")).is_err(), "nothing after Done");
    }
    step
}

#[test]
fn scram_sha512_frame_exchange_with_an_independent_broker() {
    let sasl = compile(SCRAM512_DERIVED, &[("KMF_SCRAM_SECRET", DERIVATION_SECRET)]);
    let principal = "User:CN=kafka-default";
    let password = propagation::derive_password(DERIVATION_SECRET.as_bytes(), principal).unwrap();
    let mut broker = ScramSha512Broker::new("CN=kafka-default", &password);
    assert_eq!(scram512_exchange(&sasl, principal, &mut broker), Ok(SaslStep::Done));
    assert_eq!(sasl.cached_salted_passwords(), 1);
    // A second connection reuses the salted password.
    assert_eq!(scram512_exchange(&sasl, principal, &mut broker), Ok(SaslStep::Done));
    assert_eq!(sasl.cached_salted_passwords(), 1);
}

#[test]
fn scram_sha512_exchange_refuses_a_broker_that_does_not_know_the_credential() {
    let sasl = compile(SCRAM512_DERIVED, &[("KMF_SCRAM_SECRET", DERIVATION_SECRET)]);
    let principal = "User:CN=kafka-default";
    let password = propagation::derive_password(DERIVATION_SECRET.as_bytes(), principal).unwrap();
    let mut forging = ScramSha512Broker::new("CN=kafka-default", &password);
    forging.forge_signature = true;
    let err = scram512_exchange(&sasl, principal, &mut forging).unwrap_err();
    assert!(err.contains("signature mismatch"), "{err}");

    // The broker holds another password: it refuses the proof with SASL_AUTHENTICATION_FAILED.
    let mut other = ScramSha512Broker::new("CN=kafka-default", "something-else");
    let err = scram512_exchange(&sasl, principal, &mut other).unwrap_err();
    assert!(err.contains("error code 58") && err.contains("Authentication failed"), "{err}");
}

#[test]
fn exchange_refuses_unsupported_mechanisms_bad_correlation_ids_and_bad_frames() {
    let sasl = compile(SCRAM512_DERIVED, &[("KMF_SCRAM_SECRET", DERIVATION_SECRET)]);
    let new_client = || SaslClient::new(&sasl, "User:CN=a", 0, &NONCE).unwrap();

    let mut client = new_client();
    let (cid, _) = handshake_mechanism(&client.first_requests());
    let err = client.on_response(&handshake_response(cid, 33, &["PLAIN", "OAUTHBEARER"])).unwrap_err();
    assert!(err.contains("SCRAM-SHA-512") && err.contains("PLAIN, OAUTHBEARER"), "{err}");
    assert!(!client.awaiting_response());
    assert!(client.on_response(&handshake_response(cid, 0, &[])).is_err(), "a failed exchange stays failed");

    let mut client = new_client();
    let (cid, _) = handshake_mechanism(&client.first_requests());
    let err = client.on_response(&handshake_response(cid + 1, 0, &["SCRAM-SHA-512"])).unwrap_err();
    assert!(err.contains("correlation id"), "{err}");

    // Responses before the handshake was sent, truncated frames, lying size prefixes, huge array counts.
    let mut client = new_client();
    assert!(client.on_response(&handshake_response(-1, 0, &[])).is_err());
    let mut client = new_client();
    let (cid, _) = handshake_mechanism(&client.first_requests());
    let good = handshake_response(cid, 0, &["SCRAM-SHA-512"]);
    for cut in 0..good.len() {
        let mut c = new_client();
        c.first_requests();
        assert!(c.on_response(&good[..cut]).is_err(), "cut at {cut}");
    }
    let mut lying = good.clone();
    lying[3] += 1;
    assert!(client.on_response(&lying).is_err());
    let mut c = new_client();
    c.first_requests();
    let mut huge = wire::response_frame(ApiKey::SaslHandshake as i16, 1, cid, &[0, 0, 0x7f, 0xff, 0xff, 0xff]);
    wire::set_frame_size(&mut huge);
    assert!(c.on_response(&huge).unwrap_err().contains("array longer than the body"));

    // A server-first with a low iteration count (downgrade) is refused.
    let mut client = new_client();
    let (cid, _) = handshake_mechanism(&client.first_requests());
    let frame = send(client.on_response(&handshake_response(cid, 0, &["SCRAM-SHA-512"])).unwrap());
    let (cid1, client_first) = authenticate_bytes(&frame);
    let nonce = std::str::from_utf8(&client_first).unwrap().rsplit_once("r=").unwrap().1.to_string();
    let server_first = format!("r={nonce}x,s=c2FsdA==,i=1");
    let err = client.on_response(&authenticate_response(cid1, 0, None, server_first.as_bytes())).unwrap_err();
    assert!(err.contains("iteration count 1"), "{err}");
}

#[test]
fn scram_client_nonce_comes_from_the_supplied_random_bytes() {
    let sasl = compile(SCRAM512_DERIVED, &[("KMF_SCRAM_SECRET", DERIVATION_SECRET)]);
    assert!(SaslClient::new(&sasl, "User:CN=a", 0, &[1; 8]).is_err(), "too few random bytes");
    let mut client = SaslClient::new(&sasl, "User:CN=a", 0, &NONCE).unwrap();
    let (cid, _) = handshake_mechanism(&client.first_requests());
    let frame = send(client.on_response(&handshake_response(cid, 0, &["SCRAM-SHA-512"])).unwrap());
    let (_, client_first) = authenticate_bytes(&frame);
    assert_eq!(std::str::from_utf8(&client_first).unwrap(), format!("n,,n=CN=3Da,r={}", URL_SAFE_NO_PAD.encode(NONCE)));
}

// ------------------------------------------------------------------------------------------------------
// PLAIN
// ------------------------------------------------------------------------------------------------------

#[test]
fn plain_sends_user_and_explicit_password() {
    let sasl = compile(
        r#"{"mechanism": "PLAIN", "username": "svc-{principalName}",
            "passwords": {"User:CN=a": {"env": "PW_A"}}}"#,
        &[("PW_A", "s3cret-a")],
    );
    let mut client = SaslClient::new(&sasl, "User:CN=a", 0, &NONCE).unwrap();
    let (cid, mechanism) = handshake_mechanism(&client.first_requests());
    assert_eq!(mechanism, "PLAIN");
    let frame = send(client.on_response(&handshake_response(cid, 0, &["PLAIN"])).unwrap());
    let (cid1, auth) = authenticate_bytes(&frame);
    assert_eq!(auth, b"\0svc-CN=a\0s3cret-a");
    assert_eq!(client.on_response(&authenticate_response(cid1, 0, None, b"")), Ok(SaslStep::Done));

    // No password for another principal (and no derivation secret): refused before any byte is sent.
    let err = SaslClient::new(&sasl, "User:CN=b", 0, &NONCE).unwrap_err();
    assert!(err.contains("User:CN=b"), "{err}");
}

// ------------------------------------------------------------------------------------------------------
// OAUTHBEARER
// ------------------------------------------------------------------------------------------------------

const OAUTH: &str = r#"{"mechanism": "OAUTHBEARER", "oauth": {"signingKeyEnv": "KMF_JWT_KEY", "keyId": "kmf-1",
    "issuer": "kafka-mtls-filter", "audience": "kafka", "lifetimeSeconds": 300}}"#;

fn oauth_token(sasl: &Rc<CompiledSasl>, principal: &str, now: u64) -> String {
    let mut client = SaslClient::new(sasl, principal, now, &NONCE).unwrap();
    let (cid, mechanism) = handshake_mechanism(&client.first_requests());
    assert_eq!(mechanism, "OAUTHBEARER");
    let frame = send(client.on_response(&handshake_response(cid, 0, &["OAUTHBEARER"])).unwrap());
    let (cid1, auth) = authenticate_bytes(&frame);
    let auth = String::from_utf8(auth).unwrap();
    let token = auth.strip_prefix("n,,\x01auth=Bearer ").unwrap().strip_suffix("\x01\x01").unwrap().to_string();
    assert_eq!(client.on_response(&authenticate_response(cid1, 0, None, b"")), Ok(SaslStep::Done));
    token
}

#[test]
fn oauthbearer_token_verifies_with_an_independent_jwt_library_and_the_jwks() {
    let sasl = compile(OAUTH, &[("KMF_JWT_KEY", TEST_KEY_PKCS8)]);
    let now = jsonwebtoken::get_current_timestamp();
    let token = oauth_token(&sasl, "User:CN=kafka-default", now);

    let jwks: serde_json::Value = serde_json::from_str(&propagation::jwks(&sasl).unwrap()).unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["kid"], "kmf-1");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "ES256");

    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&["kafka-mtls-filter"]);
    validation.set_audience(&["kafka"]);
    validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);

    let from_jwks =
        jsonwebtoken::DecodingKey::from_ec_components(key["x"].as_str().unwrap(), key["y"].as_str().unwrap()).unwrap();
    let from_pem = jsonwebtoken::DecodingKey::from_ec_pem(TEST_PUBLIC_KEY.as_bytes()).unwrap();
    for decoding_key in [from_jwks, from_pem] {
        let data = jsonwebtoken::decode::<serde_json::Value>(&token, &decoding_key, &validation).unwrap();
        assert_eq!(data.header.kid.as_deref(), Some("kmf-1"));
        assert_eq!(data.header.typ.as_deref(), Some("JWT"));
        assert_eq!(data.claims["sub"], "CN=kafka-default");
        assert_eq!(data.claims["iat"], now);
        assert_eq!(data.claims["exp"], now + 300);
    }

    // A token signed by another key does not verify against this JWKS.
    let mut tampered = token.clone();
    tampered.push_str("AA");
    let decoding_key = jsonwebtoken::DecodingKey::from_ec_pem(TEST_PUBLIC_KEY.as_bytes()).unwrap();
    assert!(jsonwebtoken::decode::<serde_json::Value>(&tampered, &decoding_key, &validation).is_err());
}

#[test]
fn oauthbearer_default_key_id_is_the_rfc7638_thumbprint_and_sec1_keys_load() {
    let sasl = compile(r#"{"mechanism": "OAUTHBEARER", "oauth": {"signingKeyEnv": "K"}}"#, &[("K", TEST_KEY_SEC1)]);
    let jwks: serde_json::Value = serde_json::from_str(&propagation::jwks(&sasl).unwrap()).unwrap();
    let key = &jwks["keys"][0];
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        key["x"].as_str().unwrap(),
        key["y"].as_str().unwrap()
    );
    assert_eq!(key["kid"], URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes())));
    let token = oauth_token(&sasl, "User:CN=a", 1_000);
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["kid"], key["kid"]);
    assert_eq!(header["alg"], "ES256");
}

// Other forms of keys, all written by OpenSSL 3.0: `openssl ec` with `-conv_form compressed`, `-no_public`,
// `-param_enc explicit`; `openssl ecparam -name prime256v1 -genkey` (another key); `openssl genpkey` on P-384, and
// `openssl ec` of it; `openssl pkcs8 -topk8 -passout`.
const TEST_KEY_SEC1_COMPRESSED: &str = "-----BEGIN EC PRIVATE KEY-----
MFcCAQEEIK/vK5iqebgQIAfkbVMemByLDZs59n9v99KFVfwAYaJBoAoGCCqGSM49
AwEHoSQDIgADCDFmqxs3OKFy4Nc8DOnMXrYws4kQmo7v7ugcnh9uuKA=
-----END EC PRIVATE KEY-----
";
const TEST_KEY_SEC1_NO_PUBLIC_KEY: &str = "-----BEGIN EC PRIVATE KEY-----
MDECAQEEIK/vK5iqebgQIAfkbVMemByLDZs59n9v99KFVfwAYaJBoAoGCCqGSM49
AwEH
-----END EC PRIVATE KEY-----
";
const TEST_KEY_SEC1_EXPLICIT_CURVE: &str = "-----BEGIN EC PRIVATE KEY-----
MIIBaAIBAQQgr+8rmKp5uBAgB+RtUx6YHIsNmzn2f2/30oVV/ABhokGggfowgfcC
AQEwLAYHKoZIzj0BAQIhAP////8AAAABAAAAAAAAAAAAAAAA////////////////
MFsEIP////8AAAABAAAAAAAAAAAAAAAA///////////////8BCBaxjXYqjqT57Pr
vVV2mIa8ZR0GsMxTsPY7zjw+J9JgSwMVAMSdNgiG5wSTamZ44ROdJreBn36QBEEE
axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpZP40Li/hp/m47n60p8D54W
K84zV2sxXs7LtkBoN79R9QIhAP////8AAAAA//////////+85vqtpxeehPO5ysL8
YyVRAgEBoUQDQgAECDFmqxs3OKFy4Nc8DOnMXrYws4kQmo7v7ugcnh9uuKAFx9x6
OxEMldkvR8uZCL1NfDWsJemA89V33HB9JIjr7w==
-----END EC PRIVATE KEY-----
";
const ECPARAM_GENKEY: &str = "-----BEGIN EC PARAMETERS-----
BggqhkjOPQMBBw==
-----END EC PARAMETERS-----
-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIFySGLUklVdh4nLOGJcyRyPG1gcTFr9pbNLoy/qYsPf2oAoGCCqGSM49
AwEHoUQDQgAE+LmHOYsuKEEOJxZ7rPx9VyJd7DipBJf/l43u+j9T7833vDKaEA16
fKnovSl2hV5zXBUs6V/XlvES9hKN9rvTYw==
-----END EC PRIVATE KEY-----
";
const P384_KEY_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDB4G5kIPEoxRcVwM2uI
WEntYnDMZp9+jU28QyZCWmiGPqfrrP6nML36DJ/TF4xvimehZANiAARGcXsJKQOH
MHGPuyk2XERUqPBaKXUjJQCrTOJ+6y+V5nSSMLCzDj5nNnnc50z6RSha86dbZo3t
5kwraQw4+jT/tflUYBpOX+pVUmu3e0GNfCB5EiAHT0m9e62akPu2q2s=
-----END PRIVATE KEY-----
";
const P384_KEY_SEC1: &str = "-----BEGIN EC PRIVATE KEY-----
MIGkAgEBBDB4G5kIPEoxRcVwM2uIWEntYnDMZp9+jU28QyZCWmiGPqfrrP6nML36
DJ/TF4xvimegBwYFK4EEACKhZANiAARGcXsJKQOHMHGPuyk2XERUqPBaKXUjJQCr
TOJ+6y+V5nSSMLCzDj5nNnnc50z6RSha86dbZo3t5kwraQw4+jT/tflUYBpOX+pV
Umu3e0GNfCB5EiAHT0m9e62akPu2q2s=
-----END EC PRIVATE KEY-----
";
const TEST_KEY_ENCRYPTED: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAi+VcaUcNZ6oAICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEPb2nyTzQzLDF4A09hI6WhwEgZBh
zutuV3Lmb+csOgxjegniZ4aNn+v3Q65SkRqr7RepJcbHqgUYE7+qpd9BNhc/u7gM
pV2IpIzZMUzKSJ5Xu3S57FyGNiFpzJzQS3/lC0AB8RsuIU4NaluU7VHTjQ3OPSS8
6GNncyywNKp+PzNWlD482cu9YkQ271ATGk2gOeWLzxLd3W8jFsvGcupeiIZpOJw=
-----END ENCRYPTED PRIVATE KEY-----
";

fn signing_key_problem(pem: &str) -> String {
    let (field, problem) = compile_err(OAUTH, &[("KMF_JWT_KEY", pem)]);
    assert_eq!(field, "sasl.oauth.signingKeyEnv");
    problem
}

fn jwk_coordinates(pem: &str) -> (String, String) {
    let sasl = compile(OAUTH, &[("KMF_JWT_KEY", pem)]);
    let jwks: serde_json::Value = serde_json::from_str(&propagation::jwks(&sasl).unwrap()).unwrap();
    let key = &jwks["keys"][0];
    (key["x"].as_str().unwrap().to_string(), key["y"].as_str().unwrap().to_string())
}

fn pem_of(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|l| std::str::from_utf8(l).unwrap()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

fn der_of(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

#[test]
fn oauthbearer_signing_key_loads_from_the_pkcs8_and_sec1_forms_openssl_writes() {
    let expected = jwk_coordinates(TEST_KEY_PKCS8);
    for pem in [TEST_KEY_SEC1, TEST_KEY_SEC1_COMPRESSED, TEST_KEY_SEC1_NO_PUBLIC_KEY] {
        assert_eq!(jwk_coordinates(pem), expected, "{pem}");
    }
    // CRLF line ends, surrounding blank lines.
    assert_eq!(jwk_coordinates(&format!("\n{}\n", TEST_KEY_SEC1.replace('\n', "\r\n"))), expected);
    // The EC PARAMETERS block `openssl ecparam -genkey` writes before the key is skipped.
    let (x, y) = jwk_coordinates(ECPARAM_GENKEY);
    assert_ne!((x.clone(), y.clone()), expected);
    assert_eq!((x.len(), y.len()), (43, 43));
}

#[test]
fn oauthbearer_signing_key_other_than_p256_or_malformed_is_refused() {
    for (pem, form) in [(P384_KEY_PKCS8, "PKCS#8"), (P384_KEY_SEC1, "SEC1")] {
        let problem = signing_key_problem(pem);
        assert!(problem.contains(&format!("not a valid {form} PEM EC P-256 private key")), "{problem}");
        assert!(problem.contains("curve 1.3.132.0.34 is not P-256"), "{problem}");
    }
    let problem = signing_key_problem(TEST_KEY_SEC1_EXPLICIT_CURVE);
    assert!(problem.contains("explicit curve parameters are not supported"), "{problem}");
    let problem = signing_key_problem(TEST_KEY_ENCRYPTED);
    assert!(problem.contains("holds `ENCRYPTED PRIVATE KEY`"), "{problem}");
    let problem = signing_key_problem("MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg");
    assert!(problem.contains("not a valid PEM private key: missing PEM header"), "{problem}");
    let problem = signing_key_problem(TEST_KEY_PKCS8.replace("-----END PRIVATE KEY-----", "").trim());
    assert!(problem.contains("incomplete PEM"), "{problem}");

    // The public key must be the private key's: another key's (same length) put in the SEC1 structure.
    let mut mixed = der_of(TEST_KEY_SEC1);
    let other = der_of(ECPARAM_GENKEY.split("-----END EC PARAMETERS-----").nth(1).unwrap());
    assert_eq!(mixed.len(), other.len());
    let public_key_at = mixed.len() - 65;
    mixed[public_key_at..].copy_from_slice(&other[public_key_at..]);
    let problem = signing_key_problem(&pem_of("EC PRIVATE KEY", &mixed));
    assert!(problem.contains("publicKey does not match privateKey"), "{problem}");

    // Every truncation and every one-byte corruption of either form is refused, never a panic (the PKCS#8 key
    // holds its public key too, so a changed scalar is caught).
    for (label, pem) in [("PRIVATE KEY", TEST_KEY_PKCS8), ("EC PRIVATE KEY", TEST_KEY_SEC1)] {
        let der = der_of(pem);
        for end in 0..der.len() {
            signing_key_problem(&pem_of(label, &der[..end]));
        }
        for at in 0..der.len() {
            let mut corrupt = der.clone();
            corrupt[at] ^= 0xff;
            signing_key_problem(&pem_of(label, &corrupt));
        }
        let mut longer = der.clone();
        longer.push(0);
        assert!(signing_key_problem(&pem_of(label, &longer)).contains("unexpected bytes"));
    }
}

#[test]
fn oauthbearer_error_challenge_fails_the_exchange() {
    let sasl = compile(OAUTH, &[("KMF_JWT_KEY", TEST_KEY_PKCS8)]);
    let mut client = SaslClient::new(&sasl, "User:CN=a", 0, &NONCE).unwrap();
    let (cid, _) = handshake_mechanism(&client.first_requests());
    let frame = send(client.on_response(&handshake_response(cid, 0, &["OAUTHBEARER"])).unwrap());
    let (cid1, _) = authenticate_bytes(&frame);
    let err = client.on_response(&authenticate_response(cid1, 0, None, br#"{"status":"invalid_token"}"#)).unwrap_err();
    assert!(err.contains("invalid_token"), "{err}");
}

// ------------------------------------------------------------------------------------------------------
// Passwords, configuration, secrets
// ------------------------------------------------------------------------------------------------------

#[test]
fn derived_password_is_base64url_hmac_sha256_of_the_principal() {
    // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
    let expected = [
        0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00,
        0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43,
    ];
    assert_eq!(
        propagation::derive_password(b"Jefe", "what do ya want for nothing?").unwrap(),
        URL_SAFE_NO_PAD.encode(expected)
    );
    let a = propagation::derive_password(DERIVATION_SECRET.as_bytes(), "User:CN=a").unwrap();
    assert_eq!(a.len(), 43);
    assert_ne!(a, propagation::derive_password(DERIVATION_SECRET.as_bytes(), "User:CN=b").unwrap());
}

#[test]
fn explicit_passwords_take_precedence_over_the_derived_ones() {
    let sasl = compile(
        r#"{"mechanism": "PLAIN", "passwordSecretEnv": "S", "passwords": {"User:CN=a": {"env": "PW_A"}}}"#,
        &[("S", DERIVATION_SECRET), ("PW_A", "explicit")],
    );
    let plain_auth = |principal: &str| {
        let mut client = SaslClient::new(&sasl, principal, 0, &NONCE).unwrap();
        let (cid, _) = handshake_mechanism(&client.first_requests());
        authenticate_bytes(&send(client.on_response(&handshake_response(cid, 0, &["PLAIN"])).unwrap())).1
    };
    assert_eq!(plain_auth("User:CN=a"), b"\0CN=a\0explicit");
    let derived = propagation::derive_password(DERIVATION_SECRET.as_bytes(), "User:CN=b").unwrap();
    assert_eq!(plain_auth("User:CN=b"), format!("\0CN=b\0{derived}").into_bytes());
}

#[test]
fn configuration_errors_name_the_field() {
    let (field, problem) =
        compile_err(r#"{"mechanism": "SCRAM-SHA-256", "passwords": {"User:CN=a": {"env": "MISSING"}}}"#, &[]);
    assert_eq!(field, r#"sasl.passwords["User:CN=a"].env"#);
    assert!(problem.contains("MISSING") && problem.contains("not set"), "{problem}");

    let (field, _) = compile_err(r#"{"mechanism": "SCRAM-SHA-256", "passwordSecretEnv": "S"}"#, &[("S", "")]);
    assert_eq!(field, "sasl.passwordSecretEnv");
    let (field, problem) =
        compile_err(r#"{"mechanism": "SCRAM-SHA-256", "passwordSecretEnv": "S"}"#, &[("S", "short")]);
    assert_eq!(field, "sasl.passwordSecretEnv");
    assert!(problem.contains("fewer than"), "{problem}");
    let (field, _) = compile_err(r#"{"mechanism": "SCRAM-SHA-256"}"#, &[]);
    assert_eq!(field, "sasl");
    let (field, _) = compile_err(r#"{"mechanism": "PLAIN", "username": "{user}", "passwordSecretEnv": "S"}"#, &[]);
    assert_eq!(field, "sasl.username");

    let (field, _) = compile_err(r#"{"mechanism": "OAUTHBEARER"}"#, &[]);
    assert_eq!(field, "sasl.oauth");
    let (field, problem) = compile_err(OAUTH, &[]);
    assert_eq!(field, "sasl.oauth.signingKeyEnv");
    assert!(problem.contains("KMF_JWT_KEY"), "{problem}");
    let (field, problem) =
        compile_err(OAUTH, &[("KMF_JWT_KEY", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")]);
    assert_eq!(field, "sasl.oauth.signingKeyEnv");
    assert!(problem.contains("not a valid"), "{problem}");
    let (field, _) = compile_err(
        r#"{"mechanism": "OAUTHBEARER", "oauth": {"signingKeyEnv": "K", "lifetimeSeconds": 0}}"#,
        &[("K", TEST_KEY_PKCS8)],
    );
    assert_eq!(field, "sasl.oauth.lifetimeSeconds");
    let (field, _) = compile_err(
        r#"{"mechanism": "SCRAM-SHA-512", "passwordSecretEnv": "S", "oauth": {"signingKeyEnv": "K"}}"#,
        &[("S", DERIVATION_SECRET), ("K", TEST_KEY_PKCS8)],
    );
    assert_eq!(field, "sasl.oauth");
    let (field, _) = compile_err(
        r#"{"mechanism": "OAUTHBEARER", "passwordSecretEnv": "S", "oauth": {"signingKeyEnv": "K"}}"#,
        &[("S", DERIVATION_SECRET), ("K", TEST_KEY_PKCS8)],
    );
    assert_eq!(field, "sasl.passwordSecretEnv");

    // Unknown fields and clear-text passwords are refused by the schema.
    assert!(serde_json::from_str::<SaslConfig>(r#"{"mechanism": "PLAIN", "password": "x"}"#).is_err());
    assert!(serde_json::from_str::<SaslConfig>(r#"{"mechanism": "PLAIN", "passwords": {"User:a": "x"}}"#).is_err());
    assert!(serde_json::from_str::<SaslConfig>(r#"{"mechanism": "GSSAPI"}"#).is_err());
}

#[test]
fn debug_output_never_contains_secrets() {
    let principal = "User:CN=a";
    let derived = propagation::derive_password(DERIVATION_SECRET.as_bytes(), principal).unwrap();
    let secrets = [DERIVATION_SECRET, "explicit-password", derived.as_str(), "MIGHAgEAMBMGByqGSM49", "r+8rmKp5uBAgB"];
    let no_secret = |text: String| {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
    };

    let scram = compile(
        r#"{"mechanism": "SCRAM-SHA-512", "passwordSecretEnv": "S", "passwords": {"User:CN=b": {"env": "PW"}}}"#,
        &[("S", DERIVATION_SECRET), ("PW", "explicit-password")],
    );
    no_secret(format!("{scram:?}"));
    let client = SaslClient::new(&scram, principal, 0, &NONCE).unwrap();
    no_secret(format!("{client:?}"));
    let client = SaslClient::new(&scram, "User:CN=b", 0, &NONCE).unwrap();
    no_secret(format!("{client:?}"));
    no_secret(format!("{:?}", ScramClient::new(ScramHash::Sha256, "u", "explicit-password", "n").unwrap()));

    let plain = compile(r#"{"mechanism": "PLAIN", "passwordSecretEnv": "S"}"#, &[("S", DERIVATION_SECRET)]);
    no_secret(format!("{:?}", SaslClient::new(&plain, principal, 0, &NONCE).unwrap()));

    let oauth = compile(OAUTH, &[("KMF_JWT_KEY", TEST_KEY_PKCS8)]);
    no_secret(format!("{oauth:?}"));
    let client = SaslClient::new(&oauth, principal, 0, &NONCE).unwrap();
    let text = format!("{client:?}");
    no_secret(text.clone());
    assert!(!text.contains("auth=Bearer") && !text.contains("eyJ"), "token leaked in {text}");
}

#[test]
fn provisioning_describes_the_broker_side() {
    let scram = compile(SCRAM512_DERIVED, &[("KMF_SCRAM_SECRET", DERIVATION_SECRET)]);
    let principal = "User:CN=kafka-default";
    let password = propagation::derive_password(DERIVATION_SECRET.as_bytes(), principal).unwrap();
    let text = propagation::provisioning(&scram, principal);
    assert!(
        text.contains(&format!(
            "--alter --entity-type users --entity-name 'CN=kafka-default' \
             --add-config 'SCRAM-SHA-512=[iterations=8192,password={password}]'"
        )),
        "{text}"
    );
    assert!(text.contains("KMF_SCRAM_SECRET"), "{text}");

    let explicit = compile(
        r#"{"mechanism": "SCRAM-SHA-256", "passwords": {"User:CN=a": {"env": "PW_A"}}}"#,
        &[("PW_A", "explicit-password")],
    );
    let text = propagation::provisioning(&explicit, "User:CN=a");
    assert!(!text.contains("explicit-password") && text.contains("PW_A"), "{text}");
    assert!(propagation::provisioning(&explicit, "User:CN=b").contains("no SASL password"));

    let plain = compile(r#"{"mechanism": "PLAIN", "passwordSecretEnv": "S"}"#, &[("S", DERIVATION_SECRET)]);
    let text = propagation::provisioning(&plain, "User:svc-a");
    let password = propagation::derive_password(DERIVATION_SECRET.as_bytes(), "User:svc-a").unwrap();
    assert!(text.contains(&format!("user_svc-a=\"{password}\"")) && !text.contains("not a valid JAAS"), "{text}");
    assert!(propagation::provisioning(&plain, principal).contains("not a valid JAAS option name"));

    let oauth = compile(OAUTH, &[("KMF_JWT_KEY", TEST_KEY_PKCS8)]);
    let text = propagation::provisioning(&oauth, principal);
    assert!(text.contains("sasl.oauthbearer.jwks.endpoint.url=file://"), "{text}");
    assert!(text.contains("sasl.oauthbearer.expected.audience=kafka"), "{text}");
    assert!(text.contains("User:CN=kafka-default"), "{text}");
    assert!(propagation::jwks(&scram).is_none());
}

// ------------------------------------------------------------------------------------------------------
// The exchange inside a Session: interleaved with the client's own traffic.
// ------------------------------------------------------------------------------------------------------

/// Splits a byte stream into frames.
fn frames(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while bytes.len() >= 4 {
        let len = wire::frame_size(bytes).unwrap() as usize + 4;
        out.push(bytes[..len].to_vec());
        bytes = &bytes[len..];
    }
    assert!(bytes.is_empty(), "trailing partial frame");
    out
}

fn session_with(json: &str, vars: &[(&str, &str)]) -> kafka_mtls_filter::session::Session {
    let env = env_of(vars);
    let cfg = kafka_mtls_filter::config::Config::parse_with_env(json.as_bytes(), &env).expect("config");
    let mut s = kafka_mtls_filter::session::Session::new(Rc::new(cfg), Some("127.0.0.1:4000"));
    s.identify_with_nonce(&kafka_mtls_filter::identity::PeerInfo::default(), 1_700_000_000, &NONCE).unwrap();
    s
}

fn through(out: kafka_mtls_filter::frame::ChunkOutcome, input: &[u8]) -> Vec<u8> {
    assert_eq!(out.close, None);
    kafka_mtls_filter::frame::apply_edits(input, &out.edits)
}

fn client_request(api_key: ApiKey, version: i16, cid: i32) -> Vec<u8> {
    // Empty bodies are valid for ApiVersions v0 and enough for the exchange's ordering.
    wire::request_frame(api_key as i16, version, cid, Some("app"), &[])
}

#[test]
fn session_authenticates_with_scram_before_the_clients_requests() {
    let json = r#"{"identity": {"unauthenticated": "anonymous"},
        "propagation": {"mode": "sasl", "sasl": {"mechanism": "SCRAM-SHA-512",
            "passwords": {"User:ANONYMOUS": {"env": "PW"}}}}}"#;
    let mut s = session_with(json, &[("PW", "s3cret")]);
    let mut broker = ScramSha512Broker::new("ANONYMOUS", "s3cret");

    // 1. The client's ApiVersions goes first, then handshake + client-first, pipelined.
    let api_versions = client_request(ApiKey::ApiVersions, 0, 1);
    let sent = frames(&through(s.on_downstream(&api_versions), &api_versions));
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0], api_versions);
    let (hs_cid, mechanism) = handshake_mechanism(&sent[1]);
    assert_eq!(mechanism, "SCRAM-SHA-512");
    let (first_cid, client_first) = authenticate_bytes(&sent[2]);

    // 2. The broker answers all three; the client's answer is held until the client-final can be sent.
    let av_response = wire::response_frame(ApiKey::ApiVersions as i16, 0, 1, &[0, 0, 0, 0, 0, 0]);
    let server_first = broker.server_first(std::str::from_utf8(&client_first).unwrap());
    let upstream = [
        av_response.clone(),
        handshake_response(hs_cid, 0, &["SCRAM-SHA-512"]),
        authenticate_response(first_cid, 0, None, server_first.as_bytes()),
    ]
    .concat();
    let to_client = through(s.on_upstream(&upstream), &upstream);
    assert_eq!(to_client, av_response, "only the client's own answer reaches it");

    // 3. The client's next request goes right behind the client-final.
    let metadata = client_request(ApiKey::Metadata, 1, 2);
    let sent = frames(&through(s.on_downstream(&metadata), &metadata));
    assert_eq!(sent.len(), 2);
    let (final_cid, client_final) = authenticate_bytes(&sent[0]);
    assert_eq!(sent[1], metadata);
    let server_final = broker.server_final(std::str::from_utf8(&client_final).unwrap());
    assert!(server_final.starts_with("v="));

    // 4. The server-final is consumed; the client's answer passes.
    let md_response = wire::response_frame(ApiKey::Metadata as i16, 1, 2, &[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    let upstream = [authenticate_response(final_cid, 0, None, server_final.as_bytes()), md_response.clone()].concat();
    assert_eq!(through(s.on_upstream(&upstream), &upstream), md_response);
    let events = s.take_events();
    assert!(events.iter().any(|e| matches!(e, kafka_mtls_filter::session::Event::Propagated(_))), "{events:?}");
}

#[test]
fn session_closes_when_the_broker_refuses_the_credential() {
    let json = r#"{"identity": {"unauthenticated": "anonymous"},
        "propagation": {"mode": "sasl", "sasl": {"mechanism": "PLAIN",
            "passwords": {"User:ANONYMOUS": {"env": "PW"}}}}}"#;
    let mut s = session_with(json, &[("PW", "wrong")]);
    let api_versions = client_request(ApiKey::ApiVersions, 0, 1);
    let sent = frames(&through(s.on_downstream(&api_versions), &api_versions));
    let (hs_cid, _) = handshake_mechanism(&sent[1]);
    let (auth_cid, plain) = authenticate_bytes(&sent[2]);
    assert_eq!(plain, b"\0ANONYMOUS\0wrong");
    // PLAIN is one round: the client's requests flow right away.
    let metadata = client_request(ApiKey::Metadata, 1, 2);
    assert_eq!(through(s.on_downstream(&metadata), &metadata), metadata);
    let av_response = wire::response_frame(ApiKey::ApiVersions as i16, 0, 1, &[0, 0, 0, 0, 0, 0]);
    let upstream = [
        av_response,
        handshake_response(hs_cid, 0, &["PLAIN"]),
        authenticate_response(auth_cid, 58, Some("Authentication failed"), b""),
    ]
    .concat();
    let out = s.on_upstream(&upstream);
    assert!(out.close.unwrap().contains("SASL authentication to the broker failed"));
}

#[test]
fn session_holds_a_first_request_that_is_not_api_versions_until_the_client_final() {
    let json = r#"{"identity": {"unauthenticated": "anonymous"},
        "propagation": {"mode": "sasl", "sasl": {"mechanism": "SCRAM-SHA-512",
            "passwords": {"User:ANONYMOUS": {"env": "PW"}}}}}"#;
    let mut s = session_with(json, &[("PW", "s3cret")]);
    let mut broker = ScramSha512Broker::new("ANONYMOUS", "s3cret");
    let metadata = client_request(ApiKey::Metadata, 1, 1);
    let sent = frames(&through(s.on_downstream(&metadata), &metadata));
    assert_eq!(sent.len(), 2, "handshake and client-first only; the request waits");
    let (hs_cid, _) = handshake_mechanism(&sent[0]);
    let (first_cid, client_first) = authenticate_bytes(&sent[1]);
    let server_first = broker.server_first(std::str::from_utf8(&client_first).unwrap());
    let upstream = [
        handshake_response(hs_cid, 0, &["SCRAM-SHA-512"]),
        authenticate_response(first_cid, 0, None, server_first.as_bytes()),
    ]
    .concat();
    assert!(through(s.on_upstream(&upstream), &upstream).is_empty());
    // At the client's next bytes: client-final, then the held request, then the new one.
    let second = client_request(ApiKey::Metadata, 1, 2);
    let sent = frames(&through(s.on_downstream(&second), &second));
    assert_eq!(sent.len(), 3);
    let (final_cid, client_final) = authenticate_bytes(&sent[0]);
    assert_eq!((&sent[1], &sent[2]), (&metadata, &second));
    let server_final = broker.server_final(std::str::from_utf8(&client_final).unwrap());
    let r1 = wire::response_frame(ApiKey::Metadata as i16, 1, 1, &[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    let r2 = wire::response_frame(ApiKey::Metadata as i16, 1, 2, &[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    let upstream =
        [authenticate_response(final_cid, 0, None, server_final.as_bytes()), r1.clone(), r2.clone()].concat();
    assert_eq!(through(s.on_upstream(&upstream), &upstream), [r1, r2].concat());
}
