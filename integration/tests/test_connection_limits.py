"""Open connections ended within a bound (the `"connections"` section, README): a policy update a connection
cannot follow in place, a client certificate that expires while the connection is open, `maxAgeMs`, and the
broker's SASL session lifetime (`connections.max.reauth.ms`, KIP-368) under proxy-run SASL.

Each ends the connection at a request boundary: every request sent before is answered, and the client reconnects
(a disconnect is retriable for every Kafka client). A connection that sends nothing is closed by the filter's
timer `maxCloseDelayMs` after the reason arose. The clients here are raw mTLS sockets sending ApiVersions v0, so
there is exactly one connection and each request's fate is visible. About 60 s: two brokers (one with a SASL
listener), two Envoys; short durations (a certificate valid for a few seconds, a 4 s age, a 6 s SASL session).
Also here, as it needs an Envoy with the filter twice: the report of two listeners whose different policies share
one plugin name (and so one publication key).
"""

from __future__ import annotations

import itertools
import re
import socket
import ssl
import struct
import time

from harness import certs
import harness
import pytest
from conftest import IDENTITY, WITH_FILTER

pytestmark = pytest.mark.filter

API_VERSIONS = 18
MAX_CLOSE_DELAY_MS = 1_500
TICK_MS = 1_000  # the filter's timer period (src/glue/ending.rs)


def policy(identity: dict = IDENTITY, **connections) -> dict:
    return {
        "identity": identity,
        "authorization": {"mode": "enforce", "users": []},
        "connections": {"maxCloseDelayMs": MAX_CLOSE_DELAY_MS, **connections},
    }


BASE = policy()
# mesh-default's principal becomes User:CN=default (was User:CN=kafka-default): open connections cannot follow.
RENAMED = {**IDENTITY, "spiffe": {**IDENTITY["spiffe"], "principal": "CN={serviceAccount}"}}


class Client:
    """One mTLS connection through Envoy sending ApiVersions v0 requests."""

    def __init__(self, stack: harness.Stack, cert: str = "mesh-default"):
        self.sock = harness.tls_socket(stack, cert)
        self.correlation_ids = itertools.count(1)

    def request(self) -> bool:
        """One ApiVersions v0 round trip: True when answered, False when the connection was closed instead."""
        correlation_id = next(self.correlation_ids)
        frame = struct.pack(">hhi", API_VERSIONS, 0, correlation_id) + harness.kafka_string("it-limits")
        try:
            self.sock.sendall(struct.pack(">i", len(frame)) + frame)
            response = harness.read_frame(self.sock)
        except (harness.HarnessError, OSError, ssl.SSLError):
            return False
        (got,) = struct.unpack_from(">i", response, 0)
        assert got == correlation_id
        return True

    def wait_closed(self, timeout: float) -> float:
        """Seconds until the filter closes the connection (the client sending nothing); fails after `timeout`."""
        start = time.monotonic()
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1)
        except (socket.timeout, TimeoutError):
            pytest.fail(f"the connection was not closed within {timeout} s")
        except (OSError, ssl.SSLError):
            data = b""
        assert data == b"", f"unexpected bytes from an idle connection: {data!r}"
        return time.monotonic() - start

    def requests_until_closed(self, timeout: float, every: float = 0.1) -> tuple[int, float]:
        """Sends a request every `every` s until the connection is closed: (requests answered, seconds)."""
        start = time.monotonic()
        answered = 0
        while time.monotonic() - start < timeout:
            if not self.request():
                return answered, time.monotonic() - start
            answered += 1
            time.sleep(every)
        pytest.fail(f"the connection was not closed within {timeout} s ({answered} requests answered)")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def ecds_stack(cert_dir):
    if not WITH_FILTER:
        pytest.skip("KMF_NO_FILTER=1")
    stack = harness.Stack(listener="mtls", plugin_config=BASE, name="test_connection_limits-ecds", ecds=True)
    yield stack
    stack.stop()


@pytest.fixture
def stack(ecds_stack):
    ecds_stack.envoy.update_filter_config(BASE)
    return ecds_stack


def test_an_idle_connection_that_cannot_follow_a_policy_update_is_closed_within_max_close_delay(stack):
    idle = Client(stack)
    try:
        assert idle.request()
        updated = time.monotonic()
        stack.envoy.update_filter_config(policy(RENAMED))
        bound = (MAX_CLOSE_DELAY_MS + 2 * TICK_MS) / 1000 + 2
        idle.wait_closed(timeout=bound)
        elapsed_ms = (time.monotonic() - updated) * 1000
        print(f"\nupdate accepted -> idle connection closed: {elapsed_ms:.0f} ms (maxCloseDelayMs {MAX_CLOSE_DELAY_MS})")
        assert elapsed_ms >= MAX_CLOSE_DELAY_MS - 100
    finally:
        idle.close()
    stack.envoy.wait_for_log(r"no request boundary since \(policy update: the principal is now User:CN=default")
    stack.envoy.wait_for_filter_counters()
    assert stack.envoy.stat_sum(r"kafka_filter\.connections_ended.*policy_update.*max_close_delay") >= 1
    # A new connection is identified under the new policy.
    fresh = Client(stack)
    try:
        assert fresh.request()
    finally:
        fresh.close()
    stack.envoy.wait_for_log(r"principal User:CN=default \(spiffe\)")


def test_a_busy_connection_that_cannot_follow_is_ended_at_its_next_request(stack):
    busy = Client(stack)
    try:
        assert busy.request()
        updated = time.monotonic()
        stack.envoy.update_filter_config(policy(RENAMED))
        assert not busy.request(), "the first request after the update ends the connection, unanswered"
        elapsed_ms = (time.monotonic() - updated) * 1000
        print(f"\nupdate accepted -> busy connection closed at its next request: {elapsed_ms:.0f} ms")
        assert elapsed_ms < MAX_CLOSE_DELAY_MS
    finally:
        busy.close()
    stack.envoy.wait_for_log(r"closing at a request boundary: policy update: the principal is now")


def test_keep_old_policy_leaves_the_connection_under_the_policy_it_has(stack):
    kept = Client(stack)
    try:
        assert kept.request()
        stack.envoy.update_filter_config(policy(RENAMED, onIncompatiblePolicyChange="keepOldPolicy"))
        for _ in range(3):
            assert kept.request()
        stack.envoy.wait_for_log(r"not followed \(keepOldPolicy\): policy update: the principal is now")
    finally:
        kept.close()


def test_an_unknown_value_is_refused_naming_the_field(stack):
    with pytest.raises(harness.HarnessError, match="refused the filter configuration"):
        stack.envoy.update_filter_config(policy(onIncompatiblePolicyChange="closeEventually"))
    stack.envoy.wait_for_log(r"configuration field `connections\.onIncompatiblePolicyChange`: unknown variant")


def test_max_age_ends_a_busy_connection_at_a_request_boundary(stack):
    stack.envoy.update_filter_config(policy(maxAgeMs=4_000))
    client = Client(stack)
    try:
        answered, seconds = client.requests_until_closed(timeout=4 + (2 * TICK_MS + MAX_CLOSE_DELAY_MS) / 1000 + 3)
        print(f"\nmaxAgeMs 4000: closed after {seconds * 1000:.0f} ms, {answered} requests answered before")
        assert seconds >= 3.9 and answered >= 20
        # The close came at a request boundary, not from the timer's bound.
        assert seconds < 4 + MAX_CLOSE_DELAY_MS / 1000
    finally:
        client.close()
    stack.envoy.wait_for_log(r"closing at a request boundary: the connection reached connections\.maxAgeMs")


def test_a_certificate_that_expires_ends_its_connection(stack):
    not_after = certs.issue_short_lived(stack.cert_dir, "short-lived", "spiffe://cluster.local/ns/kafka/sa/default", 4)
    client = Client(stack, "short-lived")
    try:
        answered, _ = client.requests_until_closed(timeout=4 + (2 * TICK_MS + MAX_CLOSE_DELAY_MS) / 1000 + 5)
        closed_at = time.time()
        late_ms = (closed_at - not_after.timestamp()) * 1000
        print(f"\ncertificate notAfter {not_after:%H:%M:%S}: connection closed {late_ms:.0f} ms after it, {answered} answered")
        # notAfter is the last valid second; the close comes at the first request after it.
        assert 900 <= late_ms < 1000 + TICK_MS
    finally:
        client.close()
    stack.envoy.wait_for_log(r"closing at a request boundary: the client certificate has expired")
    stack.envoy.wait_for_filter_counters()
    assert stack.envoy.stat_sum(r"kafka_filter\.connections_ended.*certificate_expired") >= 1
    # From now on the expired certificate gets no connection (Envoy's handshake or the filter refuses it).
    try:
        again = Client(stack, "short-lived")
        answered_again = again.request()
        again.close()
    except (ssl.SSLError, OSError):
        answered_again = False
    assert not answered_again


# --- proxy-run SASL against Apache Kafka with connections.max.reauth.ms ---------------------------------------------

SASL_USER = "CN=kafka-default"
SASL_PASSWORD = "limits-test-password"
REAUTH_MS = 6_000


@pytest.fixture(scope="module")
def sasl_stack(cert_dir):
    if not WITH_FILTER:
        pytest.skip("KMF_NO_FILTER=1")
    config = {
        "identity": IDENTITY,
        "authorization": {"mode": "off"},
        "propagation": {"mode": "sasl", "sasl": {
            "mechanism": "PLAIN", "passwords": {f"User:{SASL_USER}": {"env": "KMF_SASL_PASSWORD"}},
        }},
        "connections": {"maxCloseDelayMs": MAX_CLOSE_DELAY_MS},
    }  # fmt: skip
    kafka_options = {
        "properties": {"sasl.enabled.mechanisms": "PLAIN", "connections.max.reauth.ms": str(REAUTH_MS)},
        "plain_users": {SASL_USER: SASL_PASSWORD},
    }
    stack = harness.Stack(
        listener="mtls", plugin_config=config, name="test_connection_limits-sasl", broker_sasl=True,
        kafka_options=kafka_options, envoy_env={"KMF_SASL_PASSWORD": SASL_PASSWORD},
    )  # fmt: skip
    yield stack
    stack.stop()


def test_proxy_run_sasl_ends_the_connection_before_the_brokers_session_lifetime(sasl_stack):
    stack = sasl_stack
    client = Client(stack)
    try:
        answered, seconds = client.requests_until_closed(timeout=REAUTH_MS / 1000 + 5)
        print(f"\nconnections.max.reauth.ms {REAUTH_MS}: the filter ended the connection after {seconds * 1000:.0f} ms, {answered} answered")
        # Inside Kafka's re-authentication window (85-95 % of the lifetime), before the broker would close it.
        assert 0.8 * REAUTH_MS / 1000 <= seconds < REAUTH_MS / 1000
    finally:
        client.close()
    line = stack.envoy.wait_for_log(r"the broker's SASL session lasts \d+ ms")
    assert re.search(rf"lasts {REAUTH_MS} ms", line)
    stack.envoy.wait_for_log(r"closing at a request boundary: the broker's SASL session lifetime is running out")
    # The client reconnects and the filter authenticates afresh.
    again = Client(stack)
    try:
        assert again.request() and again.request()
    finally:
        again.close()


# --- two filter instances under one plugin name -----------------------------------------------------------------


def test_two_listeners_with_different_policies_under_one_plugin_name_are_reported(stack, tmp_path):
    """Two listeners of one Envoy, each with the filter under the template's plugin name but another policy: they
    publish under one shared-data key, so their open connections follow each other's policy (README, Limits). The
    filter cannot tell a root context's listener, but it sees new connections alternate between two live
    configurations without an update: reported once per VM (log and counter)."""
    import json

    import yaml

    listener, _, values = stack.envoy._render_args
    ports = [harness.free_port(), harness.free_port()]
    admin_port = harness.free_port()
    listeners = []
    for index, (port, config) in enumerate(zip(ports, [BASE, policy(maxAgeMs=3_600_000)])):
        text = harness.render_envoy_config(
            listener, **{**values, "LISTEN_PORT": port}, ADMIN_PORT=admin_port,
            PLUGIN_CONFIG=json.dumps(json.dumps(config)),
        )  # fmt: skip
        rendered = yaml.safe_load(text)
        for item in rendered["static_resources"]["listeners"]:
            item["name"] = f"{item['name']}-{index}"
            listeners.append(item)
    rendered["static_resources"]["listeners"] = listeners
    config_path = tmp_path / "envoy-two-listeners.yaml"
    config_path.write_text(yaml.safe_dump(rendered, sort_keys=False))
    argv = [harness.envoy_binary(), "-c", str(config_path), "--concurrency", "1", "--disable-hot-restart",
            "-l", "info", "--component-log-level", "wasm:debug"]  # fmt: skip
    envoy = harness.Process("envoy-two-listeners", argv, tmp_path / "envoy.log", cwd=tmp_path)
    try:
        for port in ports:
            harness.wait_for_port("127.0.0.1", port, 30, envoy)

        class Target:
            cert_dir = stack.cert_dir

            def __init__(self, port):
                self.envoy_port = port

        for port in [ports[0], ports[1], ports[0], ports[1]]:
            client = Client(Target(port))
            try:
                assert client.request()
            finally:
                client.close()
        deadline = time.monotonic() + 10
        while "two configurations are in force under plugin" not in envoy.log_text():
            assert time.monotonic() < deadline, envoy.log_tail()
            time.sleep(0.1)
        with __import__("urllib.request").request.urlopen(f"http://127.0.0.1:{admin_port}/stats", timeout=5) as r:
            stats = r.read().decode()
        assert re.search(r"kafka_filter\.policy_scope_conflicts: [1-9]", stats), stats[-2000:]
    finally:
        envoy.stop()
