"""Identity propagation through the real Envoy to an unmodified Apache Kafka broker.

With `propagation.mode: sasl` the filter authenticates to the broker's SASL_PLAINTEXT listener as the principal it
derived from the client certificate (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN or OAUTHBEARER), and the broker's own
authorizer (StandardAuthorizer, ACLs created through Kafka's Admin API) decides: the filter's authorization is
`off`. For each mechanism, on one broker:

  mesh-default   User:CN=kafka-default      ACLs: Write+Describe on topic A, Describe on B -> A written, B denied
                                             by the broker (TOPIC_AUTHORIZATION_FAILED on the Produce itself)
  mesh-checkout  User:CN=payments-checkout  valid credential, no ACL -> A denied by the broker
  mesh-admin     User:CN=kafka-admin        (SCRAM, PLAIN) the broker holds another password -> authentication
                                             fails and the filter closes the connection

OAUTHBEARER's wrong secret is a broker whose JWKS lacks the filter's key. The broker's authorizer log names each
principal it decided for. A refused SCRAM/PLAIN authentication, which Kafka answers and closes at once, leaves
the filter's VM serving other connections. The banzaicloud preamble is checked byte for byte against a stand-in broker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import struct
import threading
import time

import harness
from harness import kafka_broker
import pytest
from conftest import IDENTITY

pytestmark = pytest.mark.filter

needs_apache_kafka = pytest.mark.skipif(
    harness.BROKER != "kafka" or bool(os.environ.get("KAFKA_BOOTSTRAP")),
    reason="needs the harness's own Apache Kafka broker (SASL listener, StandardAuthorizer, Admin API)",
)

PASSWORD = "kmf-it-sasl-password-1"  # User:CN=kafka-default's explicit password (KMF_SASL_PASSWORD)
SECRET = "kmf-it-sasl-derivation-secret"  # every other principal's password is derived from it (KMF_SASL_SECRET)
ALLOWED, DENIED = "it-propagated-allowed", "it-propagated-denied"
JWT_ISSUER, JWT_AUDIENCE, JWT_KEY_ID = "kmf-it-issuer", "kmf-it-broker", "kmf-it-key"

DEFAULT, CHECKOUT, ADMIN = "User:CN=kafka-default", "User:CN=payments-checkout", "User:CN=kafka-admin"
MECHANISMS = ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN", "OAUTHBEARER"]


def derived_password(principal: str) -> str:
    """What the filter derives with `passwordSecretEnv` (README: base64url(HMAC-SHA256(secret, principal)))."""
    digest = hmac.new(SECRET.encode(), principal.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def user(principal: str) -> str:
    return principal.removeprefix("User:")


# What the broker holds per SASL user: kafka-admin's credential is not the one the filter derives.
BROKER_PASSWORDS = {
    user(DEFAULT): PASSWORD,
    user(CHECKOUT): derived_password(CHECKOUT),
    user(ADMIN): "not-what-the-filter-derives",
}


def sasl_policy(mechanism: str) -> dict:
    """The real SPIFFE principal (`CN={namespace}-{serviceAccount}`), the filter's own authorization off."""
    sasl: dict = {"mechanism": mechanism}
    if mechanism == "OAUTHBEARER":
        sasl["oauth"] = {
            "signingKeyEnv": "KMF_JWT_KEY", "keyId": JWT_KEY_ID, "issuer": JWT_ISSUER, "audience": JWT_AUDIENCE,
        }  # fmt: skip
    else:
        sasl["passwords"] = {DEFAULT: {"env": "KMF_SASL_PASSWORD"}}
        sasl["passwordSecretEnv"] = "KMF_SASL_SECRET"
    return {"identity": IDENTITY, "authorization": {"mode": "off"}, "propagation": {"mode": "sasl", "sasl": sasl}}


# --- OAUTHBEARER: a signing key and the JWKS the broker trusts, written by the test itself ---------------------------


def ec_key_pem_and_jwk(key_id: str, key_format: str = "PKCS8") -> tuple[str, dict]:
    """A new P-256 key as PEM (`PKCS8`: BEGIN PRIVATE KEY, `TraditionalOpenSSL`: SEC1's BEGIN EC PRIVATE KEY)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private_format = getattr(serialization.PrivateFormat, key_format)
    pem = key.private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption())
    numbers = key.public_key().public_numbers()

    def b64(value: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()

    jwk = {"kty": "EC", "crv": "P-256", "x": b64(numbers.x), "y": b64(numbers.y), "kid": key_id, "use": "sig", "alg": "ES256"}
    return pem.decode(), jwk


def oauthbearer_broker(tmp_path, monkeypatch, trusted_jwk: dict) -> dict:
    """Broker properties for Kafka's own JWT validator (KIP-768) with a file JWKS. Kafka 4 reads a JWKS URL only if
    the broker JVM's system property org.apache.kafka.sasl.oauthbearer.allowed.urls lists it (ConfigurationUtils
    .throwIfURLIsNotAllowed); the harness's brokers take JVM options from KMF_KAFKA_JVM_OPTS."""
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [trusted_jwk]}))
    url = jwks.resolve().as_uri()
    jvm_opts = os.environ.get("KMF_KAFKA_JVM_OPTS", kafka_broker.DEFAULT_JVM_OPTS)
    monkeypatch.setenv("KMF_KAFKA_JVM_OPTS", f"{jvm_opts} -Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={url}")
    return {
        "listener.name.external.oauthbearer.sasl.jaas.config":
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
        "listener.name.external.oauthbearer.sasl.server.callback.handler.class":
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
        "sasl.oauthbearer.jwks.endpoint.url": url,
        "sasl.oauthbearer.expected.issuer": JWT_ISSUER,
        "sasl.oauthbearer.expected.audience": JWT_AUDIENCE,
    }  # fmt: skip


# --- the stack: Apache Kafka with StandardAuthorizer, its SASL listener behind Envoy --------------------------------


def propagation_stack(
    stack_factory, tmp_path, monkeypatch, mechanism: str, jwt_signed_by_trusted_key: bool = True,
    key_format: str = "PKCS8",
):  # fmt: skip
    properties = {"authorizer.class.name": kafka_broker.STANDARD_AUTHORIZER, "sasl.enabled.mechanisms": mechanism}
    kafka_options: dict = {"properties": properties, "authorizer_log": True}
    envoy_env = {"KMF_SASL_PASSWORD": PASSWORD, "KMF_SASL_SECRET": SECRET}
    if mechanism == "PLAIN":
        # PlainLoginModule's user_<name> entries: the harness quotes the option names, so `CN=...` works.
        kafka_options["plain_users"] = BROKER_PASSWORDS
    if mechanism == "OAUTHBEARER":
        signing_pem, signing_jwk = ec_key_pem_and_jwk(JWT_KEY_ID, key_format)
        trusted_jwk = signing_jwk if jwt_signed_by_trusted_key else ec_key_pem_and_jwk(JWT_KEY_ID)[1]
        properties.update(oauthbearer_broker(tmp_path, monkeypatch, trusted_jwk))
        envoy_env["KMF_JWT_KEY"] = signing_pem
    stack = stack_factory(
        "mtls", sasl_policy(mechanism), broker_sasl=True, kafka_options=kafka_options,
        setup_topics=(ALLOWED, DENIED), envoy_env=envoy_env,
    )  # fmt: skip
    bootstrap = stack.kafka.internal_bootstrap
    if mechanism.startswith("SCRAM-"):
        harness.create_scram_users(bootstrap, BROKER_PASSWORDS, mechanism=mechanism.replace("-", "_"))
        wait_for_scram_users(bootstrap, mechanism, set(BROKER_PASSWORDS))
    create_acls(bootstrap, [(DEFAULT, ALLOWED, "WRITE"), (DEFAULT, ALLOWED, "DESCRIBE"), (DEFAULT, DENIED, "DESCRIBE")])
    return stack


def wait_for_scram_users(bootstrap: str, mechanism: str, users: set, timeout: float = 20.0) -> None:
    """Until the broker (not only the controller) lists the credentials: DescribeUserScramCredentials is
    answered from the broker's metadata image, which its SCRAM authenticator reads too."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout
    while True:
        found = set()
        for name, future in admin.describe_user_scram_credentials(list(users)).items():
            try:
                infos = future.result(timeout=10).scram_credential_infos
            except KafkaException:  # RESOURCE_NOT_FOUND: no credential yet
                continue
            if any(info.mechanism.name == mechanism.replace("-", "_") for info in infos):
                found.add(name)
        if found == users:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"SCRAM credentials {users - found} not visible after {timeout}s")
        time.sleep(0.2)


def create_acls(bootstrap: str, grants: list, timeout: float = 20.0) -> None:
    """Allow ACLs (principal, literal topic, operation) through Kafka's Admin API on the INTERNAL listener; returns
    once the broker's own authorizer lists them (DescribeAcls is answered from it)."""
    from confluent_kafka.admin import (
        AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient, ResourcePatternType, ResourceType,
    )  # fmt: skip

    admin = AdminClient({"bootstrap.servers": bootstrap})
    bindings = [
        AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, principal, "*",
                   getattr(AclOperation, operation), AclPermissionType.ALLOW)
        for principal, topic, operation in grants
    ]  # fmt: skip
    for future in admin.create_acls(bindings).values():
        future.result(timeout=timeout)
    every = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY, AclPermissionType.ANY
    )
    deadline = time.monotonic() + timeout
    while len(admin.describe_acls(every).result(timeout=10)) < len(bindings):
        if time.monotonic() > deadline:
            raise AssertionError(f"the broker lists fewer ACLs than the {len(bindings)} created after {timeout}s")
        time.sleep(0.2)


def produce_error(stack, cert: str, topic: str):
    """The delivery error of one record (None when it was written)."""
    delivered, failures, errors = harness.produce(stack, cert, topic, [b"x"], timeout=20)
    if delivered:
        return None
    assert failures, errors.text()
    return failures[0]


def broker_denial(stack, principal: str, operation: str, topic: str) -> str:
    """The broker's authorizer log line (StandardAuthorizer, kafka.authorizer.logger) denying `principal`."""
    pattern = re.compile(
        rf"Principal = {re.escape(principal)} is Denied operation = {operation} .*resource = Topic:LITERAL:{topic}\b"
    )
    deadline = time.monotonic() + 10
    while True:
        for line in stack.broker_log_text().splitlines():
            if pattern.search(line):
                return line
        if time.monotonic() > deadline:
            raise AssertionError(f"no broker authorizer line matches {pattern.pattern!r}")
        time.sleep(0.2)


def api_versions_v0(correlation_id: int) -> bytes:
    request = struct.pack(">hhi", 18, 0, correlation_id) + harness.kafka_string("kmf-it")
    return struct.pack(">i", len(request)) + request


def raw_exchange_until_closed(stack, cert: str) -> str:
    """A raw mTLS client sends ApiVersions, reads the answer, sends another (SCRAM's client-final goes upstream only
    with the client's next bytes) and reads again. Returns where the connection ended: "handshake" (Envoy closed
    it before the TLS handshake completed), "after N frames" (EOF or reset after N answers), or "open" (two answers
    and still open)."""
    try:
        sock = harness.tls_socket(stack, cert, timeout=20)
    except (ConnectionError, ssl.SSLError):
        return "handshake"
    frames = 0
    with sock:
        try:
            sock.sendall(api_versions_v0(7))
            harness.read_frame(sock)
            frames += 1
            sock.sendall(api_versions_v0(8))
            harness.read_frame(sock)
            frames += 1
        except (harness.HarnessError, ConnectionError, ssl.SSLError):
            return f"after {frames} frames"
    return "open"


def refusal_logged(stack, mechanism: str, principal: str) -> str:
    if mechanism == "OAUTHBEARER":
        reason = r"broker challenged the OAUTHBEARER exchange: .*invalid_token"
    else:
        # Error code 58: SASL_AUTHENTICATION_FAILED.
        reason = rf'broker refused SASL {mechanism} authentication of "{re.escape(user(principal))}" \(error code 58\)'
    return stack.envoy.wait_for_log(rf"closing: response stream: SASL authentication to the broker failed: {reason}")


@needs_apache_kafka
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_broker_acls_apply_to_the_propagated_principal(stack_factory, tmp_path, monkeypatch, mechanism):
    """Allowed and denied by the broker's ACLs on the principal the filter authenticated as; then (SCRAM, PLAIN) a
    principal whose broker credential is not the filter's fails authentication and its connection is closed."""
    from confluent_kafka import KafkaError

    stack = propagation_stack(stack_factory, tmp_path, monkeypatch, mechanism)

    # Allowed by the broker's ACL on User:CN=kafka-default.
    values = [f"m{i}".encode() for i in range(10)]
    delivered, failures, errors = harness.produce(stack, "mesh-default", ALLOWED, values, timeout=30)
    assert (delivered, failures) == (10, []), errors.text()
    stack.envoy.wait_for_log(r"authenticated to the broker as SASL user CN=kafka-default\b")

    # Describe but no Write on B: the Produce itself reaches the broker, whose authorizer refuses it.
    error = produce_error(stack, "mesh-default", DENIED)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error
    broker_denial(stack, DEFAULT, "WRITE", DENIED)

    # Another principal through the same Envoy, authenticated, without ACLs: the broker tells them apart.
    error = produce_error(stack, "mesh-checkout", ALLOWED)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error
    stack.envoy.wait_for_log(r"authenticated to the broker as SASL user CN=payments-checkout\b")
    broker_denial(stack, CHECKOUT, "DESCRIBE", ALLOWED)

    # The filter decided nothing: every denial above came from the broker.
    stack.envoy.wait_for_filter_counters()
    assert stack.envoy.stat_sum(r"decision=denied") == 0

    if mechanism != "OAUTHBEARER":
        # Wrong secret: the broker holds another password for User:CN=kafka-admin. Last in this test: see
        # test_a_failed_broker_authentication_leaves_other_connections_working.
        assert raw_exchange_until_closed(stack, "mesh-admin") in ("after 0 frames", "after 1 frames")
        refusal_logged(stack, mechanism, ADMIN)
        assert not any("as SASL user CN=kafka-admin" in line for line in stack.envoy.filter_log_lines())


@needs_apache_kafka
def test_oauthbearer_token_from_an_untrusted_key_fails_and_closes(stack_factory, tmp_path, monkeypatch):
    # The signing key as SEC1 here (PKCS#8 above): the filter loads it and signs, the broker refuses the token.
    stack = propagation_stack(
        stack_factory, tmp_path, monkeypatch, "OAUTHBEARER", jwt_signed_by_trusted_key=False,
        key_format="TraditionalOpenSSL",
    )  # fmt: skip
    assert raw_exchange_until_closed(stack, "mesh-default") in ("after 0 frames", "after 1 frames")
    refusal_logged(stack, "OAUTHBEARER", DEFAULT)
    delivered, failures, _ = harness.produce(stack, "mesh-default", ALLOWED, [b"x"], timeout=8)
    assert delivered == 0 and failures
    assert not any("authenticated to the broker" in line for line in stack.envoy.filter_log_lines())


@needs_apache_kafka
def test_a_failed_broker_authentication_leaves_other_connections_working(stack_factory, tmp_path, monkeypatch):
    stack = propagation_stack(stack_factory, tmp_path, monkeypatch, "PLAIN")
    # A few refused authentications: the crash depends on whether the broker's close reaches Envoy after the
    # filter's, which happens nearly every time with Kafka on loopback.
    for _ in range(5):
        assert raw_exchange_until_closed(stack, "mesh-admin") != "open"
    refusal_logged(stack, "PLAIN", ADMIN)
    delivered, failures, errors = harness.produce(stack, "mesh-default", ALLOWED, [b"after"], timeout=8)
    crash = [line for line in stack.envoy.log_text().splitlines() if "panicked" in line or "RuntimeError" in line]
    assert (delivered, failures, crash) == (1, [], []), errors.text()


@needs_apache_kafka
def test_client_sent_sasl_is_refused(stack_factory, tmp_path, monkeypatch):
    """A client's own SaslHandshake closes the connection: the client cannot choose its broker identity, even with
    a broker credential that works."""
    stack = propagation_stack(stack_factory, tmp_path, monkeypatch, "SCRAM-SHA-512")
    config = stack.client_config(
        "mesh-default",
        **{
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": user(CHECKOUT),
            "sasl.password": BROKER_PASSWORDS[user(CHECKOUT)],
        },
    )
    from confluent_kafka import Producer

    producer = Producer({**config, "message.timeout.ms": 6000})
    failures = []
    producer.produce(ALLOWED, b"x", partition=0, on_delivery=lambda err, msg: failures.append(err))
    producer.flush(10)
    assert failures and failures[0] is not None
    stack.envoy.wait_for_log(r"client-sent SASL refused")
    assert "CN=payments-checkout" not in "\n".join(stack.envoy.filter_log_lines()) + stack.broker_log_text()


class CaptureBroker:
    """A TCP server standing in for a banzaicloud broker: records the bytes of the first connection that sends
    any (readiness probes connect and close without sending)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.expect = 1 << 30
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.done.is_set():
            conn, _ = self.sock.accept()
            conn.settimeout(5)
            data = b""
            try:
                while len(data) < self.expect:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            finally:
                conn.close()
            if data:
                self.received = data
                self.done.set()


def test_banzai_preamble_reaches_the_broker_byte_for_byte(stack_factory, cert_dir, monkeypatch):
    capture = CaptureBroker()
    monkeypatch.setenv("KAFKA_BOOTSTRAP", f"127.0.0.1:{capture.port}")
    policy = {
        "identity": {"spiffe": {"principal": "CN={namespace}-{serviceAccount}"}},
        "propagation": {"mode": "banzai-preamble"},
    }
    stack = stack_factory("mtls", policy)
    # An ApiVersions v0 request, sent over mTLS with the in-mesh certificate.
    request = struct.pack(">hhi", 18, 0, 7) + struct.pack(">h", 3) + b"cli"
    frame = struct.pack(">i", len(request)) + request
    preamble_text = b"BZC_UID:CN=kafka-default"
    expected = struct.pack(">H", len(preamble_text)) + preamble_text + frame
    capture.expect = len(expected)
    context = ssl.create_default_context(cafile=str(cert_dir / "ca.crt"))
    context.load_cert_chain(str(cert_dir / "mesh-default.crt"), str(cert_dir / "mesh-default.key"))
    host, _, port = stack.bootstrap.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(frame)
            assert capture.done.wait(10), f"broker side got {capture.received!r}"
    assert capture.received == expected
