//! What an operator needs to give the broker the filter's SASL users: derived passwords, the JWKS, and the
//! provisioning commands (the CLI's `credentials`).

use super::config::SaslMechanism;
use super::secrets::{derive_password, CompiledSasl};
use super::PROVISIONING_SCRAM_ITERATIONS;

/// The JWKS document (one EC P-256 key) for the broker's `sasl.oauthbearer.jwks.endpoint.url`; `None` unless
/// the mechanism is OAUTHBEARER.
pub fn jwks(sasl: &CompiledSasl) -> Option<String> {
    sasl.oauth.as_ref().map(|o| o.jwks.clone())
}

/// Operator instructions: what to create on the broker so `principal` can authenticate. Contains the derived
/// password when `passwordSecretEnv` is used (it is meant for the operator's terminal, never for logs).
pub fn provisioning(sasl: &CompiledSasl, principal: &str) -> String {
    let user = sasl.username(principal);
    let mechanism = sasl.mechanism.name();
    let password = match (sasl.passwords.get(principal), &sasl.derivation) {
        (Some(explicit), _) => Ok(format!("<value of environment variable {}>", explicit.env)),
        (None, Some(derivation)) => derive_password(derivation.secret.0.as_bytes(), principal),
        (None, None) => Err(format!("no SASL password configured for principal {principal:?}")),
    };
    match sasl.mechanism {
        SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => match password {
            Ok(password) => format!(
                "# {principal} authenticates to the broker as SCRAM user {user:?} ({mechanism}){}.\n\
                 kafka-configs.sh --bootstrap-server <broker:port> --alter --entity-type users --entity-name {} \
                 --add-config {}\n",
                derivation_note(sasl, principal),
                shell_quote(&user),
                shell_quote(&format!("{mechanism}=[iterations={PROVISIONING_SCRAM_ITERATIONS},password={password}]")),
            ),
            Err(e) => format!("# {e}\n"),
        },
        SaslMechanism::Plain => match password {
            Ok(password) => {
                let mut out = format!(
                    "# {principal} authenticates to the broker as PLAIN user {user:?}{}. Add to the listener's JAAS \
                     configuration (listener.name.<listener>.plain.sasl.jaas.config):\n\
                     user_{user}=\"{password}\"\n",
                    derivation_note(sasl, principal),
                );
                // JAAS option names are bare tokens: `CN=a` cannot be one.
                if !user.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
                    out.push_str(
                        "# This user name is not a valid JAAS option name; pick a `username` template that yields \
                         letters, digits, `.`, `_` and `-` only, or a broker-side PLAIN callback handler.\n",
                    );
                }
                out
            }
            Err(e) => format!("# {e}\n"),
        },
        SaslMechanism::OauthBearer => {
            let mut out = format!(
                "# {principal} authenticates with an ES256 JWT whose `sub` is {user:?}; the broker's principal is \
                 User:{user}. Nothing per user to create; on the broker's SASL_PLAINTEXT listener set:\n\
                 listener.name.<listener>.oauthbearer.sasl.server.callback.handler.class=\
                 org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler\n\
                 listener.name.<listener>.oauthbearer.sasl.jaas.config=\
                 org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ;\n\
                 sasl.oauthbearer.jwks.endpoint.url=file:///<path to the JWKS printed by the filter>\n"
            );
            if let Some(oauth) = &sasl.oauth {
                if let Some(iss) = &oauth.issuer {
                    out.push_str(&format!("sasl.oauthbearer.expected.issuer={iss}\n"));
                }
                if let Some(aud) = &oauth.audience {
                    out.push_str(&format!("sasl.oauthbearer.expected.audience={aud}\n"));
                }
            }
            out.push_str(
                "# Kafka 4.x also needs the JVM property -Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=<that URL>.\n",
            );
            out
        }
    }
}

/// Where the password shown comes from, when it is derived.
pub(super) fn derivation_note(sasl: &CompiledSasl, principal: &str) -> String {
    match &sasl.derivation {
        Some(d) if !sasl.passwords.contains_key(principal) => {
            format!("; password derived from environment variable {}", d.env)
        }
        _ => String::new(),
    }
}

pub(super) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
