"""Identity propagation through the real Envoy: the filter authenticates to tansu's SASL listener as the
client's principal (SCRAM-SHA-512), and the banzaicloud preamble reaches the broker byte for byte."""

from __future__ import annotations

import os
import socket
import ssl
import struct
import threading

import harness
import pytest

pytestmark = pytest.mark.filter

PASSWORD = "kmf-it-scram-password-1"
TOPIC = "it-propagated"


def sasl_policy(mechanism: str = "SCRAM-SHA-512") -> dict:
    return {
        # tansu looks SCRAM users up without undoing RFC 5802's `=3D` escape, so the principal name used here
        # has no `=` (with Apache Kafka, `CN={namespace}-{serviceAccount}` works as is).
        "identity": {"spiffe": {"principal": "{namespace}-{serviceAccount}"}, "unauthenticated": "deny"},
        "propagation": {
            "mode": "sasl",
            "sasl": {"mechanism": mechanism, "passwords": {"User:kafka-default": {"env": "KMF_SASL_PASSWORD"}}},
        },
    }


def scram_stack(stack_factory, password: str):
    return stack_factory(
        "mtls",
        sasl_policy(),
        scram_users={"kafka-default": PASSWORD},
        setup_topics=(TOPIC,),
        envoy_env={"KMF_SASL_PASSWORD": password},
    )


@pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP")), reason="needs the embedded tansu with SCRAM users")
def test_scram_exchange_lets_an_unchanged_client_through(stack_factory):
    stack = scram_stack(stack_factory, PASSWORD)
    values = [f"m{i}".encode() for i in range(20)]
    delivered, failures, errors = harness.produce(stack, "mesh-default", TOPIC, values, timeout=30)
    assert (delivered, failures) == (20, []), errors.text()
    assert harness.consume(stack, "mesh-default", TOPIC, 20, timeout=30) == values
    stack.envoy.wait_for_log(r"authenticated to the broker as SASL user kafka-default")


@pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP")), reason="needs the embedded tansu with SCRAM users")
def test_wrong_secret_fails_authentication_and_closes(stack_factory):
    stack = scram_stack(stack_factory, "not-the-password")
    delivered, failures, _ = harness.produce(stack, "mesh-default", TOPIC, [b"x"], timeout=8)
    assert delivered == 0 and failures
    stack.envoy.wait_for_log(r"SASL authentication to the broker failed")


@pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP")), reason="needs the embedded tansu with SCRAM users")
def test_client_sent_sasl_is_refused(stack_factory):
    stack = scram_stack(stack_factory, PASSWORD)
    config = stack.client_config(
        "mesh-default",
        **{
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": "kafka-admin",
            "sasl.password": "guess",
        },
    )
    from confluent_kafka import Producer

    producer = Producer({**config, "message.timeout.ms": 6000})
    failures = []
    producer.produce(TOPIC, b"x", partition=0, on_delivery=lambda err, msg: failures.append(err))
    producer.flush(10)
    assert failures and failures[0] is not None
    stack.envoy.wait_for_log(r"client-sent SASL refused")


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
