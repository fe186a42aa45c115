//! The Kafka side of the exchange: SaslHandshake and SaslAuthenticate frames sent and their answers read.

use std::fmt;
use std::rc::Rc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use kafka_protocol::messages::ApiKey;

use super::config::SaslMechanism;
use super::oauthbearer::sign_jwt;
use super::scram::{printable, ScramClient, ScramHash, ScramState};
use super::secret::Secret;
use super::secrets::CompiledSasl;
use super::{
    AUTHENTICATE_VERSION, HANDSHAKE_VERSION, MAX_AUTHENTICATE_ROUNDS, MAX_SASL_RESPONSE_BYTES, MIN_NONCE_BYTES,
    RESERVED_CORRELATION_IDS, SASL_CLIENT_ID,
};
use crate::protocol::error_code;
use crate::protocol::layout::{stop_reason, Reader, Stop};
use crate::protocol::wire;

/// What the session does after a SASL response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslStep {
    /// Send this request frame upstream and feed the next response to [`SaslClient::on_response`].
    Send(Vec<u8>),
    /// Authenticated: release the client's held requests; later responses belong to the client.
    Done,
    /// Nothing to send: the next request was already sent (pipelined); feed the next response.
    Wait,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Start,
    AwaitHandshake,
    AwaitAuthenticate,
    Done,
    Failed,
}

/// One connection's SASL exchange with the broker. The filter does not re-authenticate (KIP-368): if the
/// broker sets `connections.max.reauth.ms`, the filter ends the client's connection at a request boundary
/// before [`SaslClient::session_lifetime_ms`] runs out (`connection_limits`), and the client reconnects (a new
/// exchange), before the broker would close it.
pub struct SaslClient {
    pub(super) sasl: Rc<CompiledSasl>,
    pub(super) username: String,
    pub(super) phase: Phase,
    pub(super) expected_correlation_id: i32,
    /// The expected response's API key and version.
    pub(super) expected_api: (i16, i16),
    pub(super) authenticate_rounds: i32,
    /// First SaslAuthenticate payload (holds the password for PLAIN, the token for OAUTHBEARER).
    pub(super) initial_response: Secret,
    pub(super) scram: Option<ScramClient>,
    pub(super) session_lifetime_ms: Option<i64>,
    /// The first SaslAuthenticate went out with the handshake: (its correlation id).
    pub(super) pipelined_authenticate: Option<i32>,
}

impl fmt::Debug for SaslClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslClient")
            .field("mechanism", &self.sasl.mechanism)
            .field("username", &self.username)
            .field("phase", &self.phase)
            .field("expected_correlation_id", &self.expected_correlation_id)
            .field("scram", &self.scram)
            .field("session_lifetime_ms", &self.session_lifetime_ms)
            .finish_non_exhaustive()
    }
}

impl SaslClient {
    /// Prepares the exchange for `principal` (e.g. `User:CN=a`). `now_unix` dates the OAUTHBEARER token;
    /// `nonce` (at least 12 random bytes, 24 recommended) becomes the SCRAM client nonce. Fails when no
    /// credential exists for the principal or its user name cannot be expressed in the mechanism.
    pub fn new(sasl: &Rc<CompiledSasl>, principal: &str, now_unix: u64, nonce: &[u8]) -> Result<Self, String> {
        let username = sasl.username(principal);
        if username.is_empty() {
            return Err(format!("empty SASL user name for principal {principal:?}"));
        }
        let mut scram = None;
        let initial_response = match sasl.mechanism {
            SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
                if nonce.len() < MIN_NONCE_BYTES {
                    return Err(format!("SCRAM nonce needs at least {MIN_NONCE_BYTES} random bytes"));
                }
                let hash = sasl.mechanism.scram_hash().unwrap_or(ScramHash::Sha512);
                let password = sasl.password(principal)?;
                let client = ScramClient::new(hash, &username, &password.0, &URL_SAFE_NO_PAD.encode(nonce))?;
                let first = client.client_first();
                scram = Some(client);
                first
            }
            SaslMechanism::Plain => {
                if username.contains('\0') {
                    return Err("PLAIN user name contains a NUL byte".into());
                }
                let password = sasl.password(principal)?;
                format!("\0{username}\0{}", password.0)
            }
            SaslMechanism::OauthBearer => {
                let oauth = sasl.oauth.as_ref().ok_or("OAUTHBEARER without signing key")?;
                format!("n,,\x01auth=Bearer {}\x01\x01", sign_jwt(oauth, &username, now_unix))
            }
        };
        Ok(SaslClient {
            sasl: Rc::clone(sasl),
            username,
            phase: Phase::Start,
            expected_correlation_id: 0,
            expected_api: (0, 0),
            authenticate_rounds: 0,
            initial_response: Secret(initial_response),
            scram,
            session_lifetime_ms: None,
            pipelined_authenticate: None,
        })
    }

    /// The handshake and the first SaslAuthenticate together: the broker answers them in order, so a
    /// single-round mechanism (PLAIN, OAUTHBEARER) completes without waiting for the handshake's answer, and
    /// SCRAM saves a round trip. Empty if the exchange already started.
    pub fn pipelined_start(&mut self) -> Vec<u8> {
        let mut out = self.first_requests();
        if out.is_empty() {
            return out;
        }
        let handshake = (self.expected_correlation_id, self.expected_api);
        match self.authenticate_request(self.initial_response.0.clone().into_bytes()) {
            Ok(SaslStep::Send(frame)) => out.extend_from_slice(&frame),
            _ => {
                self.phase = Phase::Failed;
                return Vec::new();
            }
        }
        self.pipelined_authenticate = Some(self.expected_correlation_id);
        self.phase = Phase::AwaitHandshake;
        (self.expected_correlation_id, self.expected_api) = handshake;
        out
    }

    /// Whether the exchange will still send a request that must precede the client's requests (SCRAM's
    /// client-final before the server-first arrived).
    pub fn will_send_more(&self) -> bool {
        match self.phase {
            Phase::Start => true,
            Phase::AwaitHandshake => self.pipelined_authenticate.is_none() || self.scram.is_some(),
            Phase::AwaitAuthenticate => {
                self.scram.as_ref().is_some_and(|s| matches!(s.state, ScramState::AwaitServerFirst))
            }
            Phase::Done | Phase::Failed => false,
        }
    }

    /// The request frame(s) to send upstream before any client byte: the SaslHandshake. Empty if already
    /// called.
    pub fn first_requests(&mut self) -> Vec<u8> {
        if self.phase != Phase::Start {
            return Vec::new();
        }
        let body = handshake_request(self.sasl.mechanism.name());
        let correlation_id = *RESERVED_CORRELATION_IDS.end();
        self.phase = Phase::AwaitHandshake;
        self.expected_correlation_id = correlation_id;
        self.expected_api = (ApiKey::SaslHandshake as i16, HANDSHAKE_VERSION);
        wire::request_frame(
            ApiKey::SaslHandshake as i16,
            HANDSHAKE_VERSION,
            correlation_id,
            Some(SASL_CLIENT_ID),
            &body,
        )
    }

    /// Whether the next upstream response belongs to this exchange (the session routes it here, not to the
    /// client).
    pub fn awaiting_response(&self) -> bool {
        matches!(self.phase, Phase::AwaitHandshake | Phase::AwaitAuthenticate)
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Kafka user name being authenticated.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Session lifetime the broker granted (SaslAuthenticate v1; 0 means no expiry), once done.
    pub fn session_lifetime_ms(&self) -> Option<i64> {
        self.session_lifetime_ms
    }

    /// Consumes one complete response frame (size prefix included). Any error is final: close the connection.
    pub fn on_response(&mut self, frame: &[u8]) -> Result<SaslStep, String> {
        let result = self.step(frame);
        if result.is_err() {
            self.phase = Phase::Failed;
        }
        result
    }

    pub(super) fn step(&mut self, frame: &[u8]) -> Result<SaslStep, String> {
        if !self.awaiting_response() {
            return Err(format!("unexpected SASL response in phase {:?}", self.phase));
        }
        if frame.len() > MAX_SASL_RESPONSE_BYTES {
            return Err(format!("SASL response of {} bytes exceeds {MAX_SASL_RESPONSE_BYTES}", frame.len()));
        }
        let size = wire::frame_size(frame).ok_or("truncated SASL response")?;
        if usize::try_from(size).ok() != Some(frame.len().saturating_sub(wire::SIZE_PREFIX)) {
            return Err("SASL response size prefix does not match the frame".into());
        }
        let correlation_id = wire::response_correlation_id(frame).ok_or("truncated SASL response")?;
        if correlation_id != self.expected_correlation_id {
            return Err(format!(
                "SASL response correlation id {correlation_id}, expected {}",
                self.expected_correlation_id
            ));
        }
        let (api_key, version) = self.expected_api;
        let body = frame.get(wire::response_body_offset(api_key, version)..).ok_or("truncated SASL response")?;
        match self.phase {
            Phase::AwaitHandshake => self.on_handshake(body),
            _ => self.on_authenticate(body),
        }
    }

    pub(super) fn on_handshake(&mut self, body: &[u8]) -> Result<SaslStep, String> {
        let response =
            HandshakeResponse::read(body).map_err(|e| format!("invalid SaslHandshake response: {}", stop_reason(e)))?;
        match response.error_code {
            error_code::NONE => match self.pipelined_authenticate.take() {
                Some(correlation_id) => {
                    self.phase = Phase::AwaitAuthenticate;
                    self.expected_correlation_id = correlation_id;
                    self.expected_api = (ApiKey::SaslAuthenticate as i16, AUTHENTICATE_VERSION);
                    Ok(SaslStep::Wait)
                }
                None => self.authenticate_request(self.initial_response.0.clone().into_bytes()),
            },
            error_code::UNSUPPORTED_SASL_MECHANISM => {
                let enabled: Vec<String> = response.mechanisms.iter().map(|m| printable(m)).collect();
                Err(format!(
                    "broker listener does not enable SASL mechanism {} (enabled: {})",
                    self.sasl.mechanism.name(),
                    enabled.join(", ")
                ))
            }
            code => Err(format!("broker refused SaslHandshake with error code {code}")),
        }
    }

    pub(super) fn on_authenticate(&mut self, body: &[u8]) -> Result<SaslStep, String> {
        let response = AuthenticateResponse::read(body)
            .map_err(|e| format!("invalid SaslAuthenticate response: {}", stop_reason(e)))?;
        if response.error_code != error_code::NONE {
            let message = response.error_message.map(printable).unwrap_or_default();
            return Err(format!(
                "broker refused SASL {} authentication of {:?} (error code {}): {message}",
                self.sasl.mechanism.name(),
                self.username,
                response.error_code
            ));
        }
        let challenge = std::str::from_utf8(response.auth_bytes);
        let sasl = Rc::clone(&self.sasl);
        match &mut self.scram {
            Some(scram) => match scram.state {
                ScramState::AwaitServerFirst => {
                    let server_first = challenge.map_err(|_| "SCRAM server-first-message is not UTF-8")?;
                    let salt = |hash: ScramHash, password: &[u8], salt: &[u8], iterations: u32| {
                        sasl.salted_password(hash, password, salt, iterations)
                    };
                    let client_final = scram.client_final_with(server_first, &salt)?;
                    self.authenticate_request(client_final.into_bytes())
                }
                _ => {
                    let server_final = challenge.map_err(|_| "SCRAM server-final-message is not UTF-8")?;
                    scram.verify_server_final(server_final)?;
                    self.finish(response.session_lifetime_ms)
                }
            },
            None if response.auth_bytes.is_empty() => self.finish(response.session_lifetime_ms),
            // OAUTHBEARER answers a rejected token with an error challenge (RFC 7628 section 3.2.2).
            None => Err(format!(
                "broker challenged the {} exchange: {}",
                self.sasl.mechanism.name(),
                printable(&String::from_utf8_lossy(response.auth_bytes))
            )),
        }
    }

    pub(super) fn finish(&mut self, session_lifetime_ms: i64) -> Result<SaslStep, String> {
        self.phase = Phase::Done;
        self.session_lifetime_ms = Some(session_lifetime_ms);
        Ok(SaslStep::Done)
    }

    pub(super) fn authenticate_request(&mut self, auth_bytes: Vec<u8>) -> Result<SaslStep, String> {
        self.authenticate_rounds += 1;
        if self.authenticate_rounds > MAX_AUTHENTICATE_ROUNDS {
            return Err("too many SASL rounds".into());
        }
        let body = authenticate_request(&auth_bytes)?;
        let correlation_id = RESERVED_CORRELATION_IDS.end() - self.authenticate_rounds;
        self.phase = Phase::AwaitAuthenticate;
        self.expected_correlation_id = correlation_id;
        self.expected_api = (ApiKey::SaslAuthenticate as i16, AUTHENTICATE_VERSION);
        Ok(SaslStep::Send(wire::request_frame(
            ApiKey::SaslAuthenticate as i16,
            AUTHENTICATE_VERSION,
            correlation_id,
            Some(SASL_CLIENT_ID),
            &body,
        )))
    }
}

// The four messages of the exchange at the versions sent (SaslHandshake v1, SaslAuthenticate v1: neither is
// flexible), as in Kafka's message JSON.

/// SaslHandshake request body: `mechanism` (string).
pub(super) fn handshake_request(mechanism: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(2 + mechanism.len());
    // A mechanism name is one of the filter's constants, a few bytes long.
    body.extend_from_slice(&(mechanism.len() as i16).to_be_bytes());
    body.extend_from_slice(mechanism.as_bytes());
    body
}

/// SaslAuthenticate request body: `auth_bytes` (bytes).
pub(super) fn authenticate_request(auth_bytes: &[u8]) -> Result<Vec<u8>, String> {
    let length = i32::try_from(auth_bytes.len()).map_err(|_| "SaslAuthenticate auth_bytes too long")?;
    let mut body = Vec::with_capacity(4 + auth_bytes.len());
    body.extend_from_slice(&length.to_be_bytes());
    body.extend_from_slice(auth_bytes);
    Ok(body)
}

/// SaslHandshake response: `error_code`, `mechanisms` (the listener's, array of strings). Every count and
/// length is checked against the body.
pub(super) struct HandshakeResponse<'a> {
    pub(super) error_code: i16,
    pub(super) mechanisms: Vec<&'a str>,
}

impl<'a> HandshakeResponse<'a> {
    pub(super) fn read(body: &'a [u8]) -> Result<Self, Stop> {
        let mut r = Reader::new(body, body.len());
        let error_code = r.i16()?;
        let count = r.count(false)?.ok_or(Stop::Bad("null mechanisms"))?;
        let mut mechanisms = Vec::with_capacity(count);
        for _ in 0..count {
            mechanisms.push(r.string(false)?.ok_or(Stop::Bad("null mechanism"))?);
        }
        Ok(HandshakeResponse { error_code, mechanisms })
    }
}

/// SaslAuthenticate response (v1): `error_code`, `error_message` (nullable string), `auth_bytes` (bytes),
/// `session_lifetime_ms` (int64).
pub(super) struct AuthenticateResponse<'a> {
    pub(super) error_code: i16,
    pub(super) error_message: Option<&'a str>,
    pub(super) auth_bytes: &'a [u8],
    pub(super) session_lifetime_ms: i64,
}

impl<'a> AuthenticateResponse<'a> {
    pub(super) fn read(body: &'a [u8]) -> Result<Self, Stop> {
        let mut r = Reader::new(body, body.len());
        let error_code = r.i16()?;
        let error_message = r.string(false)?;
        let length = r.length(false, true)?.ok_or(Stop::Bad("null auth_bytes"))?;
        let auth_bytes = r.take(length)?;
        let session_lifetime_ms = i64::from_be_bytes(r.array()?);
        Ok(AuthenticateResponse { error_code, error_message, auth_bytes, session_lifetime_ms })
    }
}
