"""Hostile clients with a valid mesh certificate, through the real Envoy and the real module.

Spoofing: a client-made `BZC_UID:` preamble, as the first bytes or after a first request, and any frame whose API
key reads as a preamble's (17247, the `C_` of `BZC_`), closes the connection from its first six bytes, in every
propagation and authorization mode, while the megabyte or so its first four bytes claim is still unsent; under
`unknownRequests: deny` an unknown API key closes from its fixed header. A stand-in broker records every byte the
filter forwards: nothing client-made that a preamble-reading broker would take for a preamble ever reaches it.

Held memory: many connections each trickle a request the filter must see whole (a Metadata request claiming
900 KB) against small bounds (`maxHeldBytesPerConnection`, `maxHeldBytesPerVm`); the filter's `held_bytes`
gauge stays under the VM's bound (plus the small-holder allowance, README), the connections growing past it are
closed and counted, and a well-behaved client on the same Envoy keeps producing and consuming. Envoy's memory
(admin /memory) is reported before and after.
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
import time
import urllib.request

import harness
import pytest
from conftest import IDENTITY, WRITER_POLICY

pytestmark = pytest.mark.filter

ADMIN = "User:CN=kafka-admin"


class RecordingBroker:
    """A TCP server standing in for the broker: records every byte of every connection, answers nothing."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytearray] = []
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            data = bytearray()
            with self.lock:
                self.received.append(data)
            threading.Thread(target=self._read, args=(conn, data), daemon=True).start()

    def _read(self, conn, data: bytearray):
        conn.settimeout(30)
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                with self.lock:
                    data.extend(chunk)
        except OSError:
            pass
        finally:
            conn.close()

    def everything(self) -> list[bytes]:
        with self.lock:
            return [bytes(d) for d in self.received]

    def stop(self):
        self.stopped = True
        self.sock.close()


@pytest.fixture
def recording_broker(monkeypatch):
    broker = RecordingBroker()
    monkeypatch.setenv("KAFKA_BOOTSTRAP", f"127.0.0.1:{broker.port}")
    yield broker
    broker.stop()


def client_preamble(identity: str, padded: bool) -> bytes:
    """2-byte length + `BZC_UID:<identity>`, padded to the frame size its first four bytes claim if `padded`."""
    text = f"BZC_UID:{identity}".encode()
    out = struct.pack(">H", len(text)) + text
    if padded:
        out += b" " * (struct.unpack(">i", out[:4])[0] + 4 - len(out))
    return out


def api_versions_v0(correlation_id: int) -> bytes:
    request = struct.pack(">hhi", 18, 0, correlation_id) + harness.kafka_string("kmf-it")
    return struct.pack(">i", len(request)) + request


def header_only(api_key: int, claimed: int = 1_000_000) -> bytes:
    """A request header claiming `claimed` bytes of body: size, API key, version 0, correlation id 9."""
    return struct.pack(">ihhi", claimed, api_key, 0, 9)


def closed_by_filter(sock: ssl.SSLSocket, timeout: float = 10) -> bool:
    """Whether the connection ends (EOF or reset) within `timeout` without the client sending anything more."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except TimeoutError:
        return False
    except OSError:  # reset, TLS end
        return True


def preamble_free(forwarded: bytes, filter_preamble: bool) -> bool:
    """No client-made `BZC_` in the bytes forwarded on one connection (the filter's own preamble comes first)."""
    if filter_preamble and forwarded.startswith(b"\x00"):
        size = struct.unpack(">H", forwarded[:2])[0]
        forwarded = forwarded[2 + size :]
    return b"BZC_" not in forwarded


SASL = {"mechanism": "PLAIN", "passwords": {"User:CN=kafka-default": {"env": "KMF_SASL_PASSWORD"}}}
MODES = {
    "off+preamble": ({"mode": "off"}, {"mode": "banzai-preamble"}),
    "enforce+none": (WRITER_POLICY["authorization"], {"mode": "none"}),
    "audit+preamble": ({**WRITER_POLICY["authorization"], "mode": "audit"}, {"mode": "banzai-preamble"}),
    "off+sasl": ({"mode": "off"}, {"mode": "sasl", "sasl": SASL}),
}


@pytest.mark.parametrize("mode", list(MODES))
def test_spoofed_preambles_close_from_their_first_bytes_in_every_mode(stack_factory, recording_broker, mode):
    authorization, propagation = MODES[mode]
    policy = {"identity": IDENTITY, "authorization": authorization, "propagation": propagation}
    stack = stack_factory("mtls", policy, envoy_env={"KMF_SASL_PASSWORD": "pw"})
    spoof = client_preamble(ADMIN, padded=True)
    claimed = len(spoof)
    cases = {
        # The first bytes of the connection are a preamble: its first six bytes only.
        "preamble first": [spoof[:6]],
        # A first request, then a preamble: its first six bytes only.
        "preamble after a request": [api_versions_v0(1), spoof[:6]],
        # The same, one byte at a time.
        "preamble after a request, byte by byte": [api_versions_v0(1)] + [spoof[i : i + 1] for i in range(6)],
        # A header whose API key reads as a preamble's: the close comes with the megabyte claimed unsent.
        "api key 17247": [api_versions_v0(1), header_only(17247)],
    }
    for name, pieces in cases.items():
        with harness.tls_socket(stack) as sock:
            for piece in pieces:
                sock.sendall(piece)
            assert closed_by_filter(sock), f"{mode}: {name}: still open with {claimed} bytes claimed and unsent"
    # The whole padded preamble after a first request: refused, never forwarded (the bytes the client could send
    # before the close are dropped).
    with harness.tls_socket(stack) as sock:
        sock.sendall(api_versions_v0(1))
        try:
            sock.sendall(spoof)
        except OSError:  # reset, TLS end, or the send blocked once the filter stopped taking bytes
            pass
        assert closed_by_filter(sock), f"{mode}: whole padded preamble not refused"
    stack.envoy.wait_for_log(r"client sent an identity preamble")
    time.sleep(0.5)
    forwarded = recording_broker.everything()
    with_preamble = propagation["mode"] == "banzai-preamble"
    assert all(preamble_free(f, with_preamble) for f in forwarded), [f[:64] for f in forwarded]
    assert not any(b"kafka-admin" in f for f in forwarded)


def test_an_unknown_api_key_closes_from_its_header_under_deny(stack_factory, recording_broker):
    stack = stack_factory("mtls", WRITER_POLICY)
    with harness.tls_socket(stack) as sock:
        sock.sendall(api_versions_v0(1))
        sock.sendall(header_only(1000))
        assert closed_by_filter(sock), "an unknown API key waited for its claimed body"
    stack.envoy.wait_for_log(r"unknown API key 1000")
    forwarded = b"".join(recording_broker.everything())
    assert struct.pack(">hh", 1000, 0) not in forwarded


# --- Held memory ------------------------------------------------------------------------------------------------------

PER_CONNECTION = 2 << 20
PER_VM = 4 << 20
EXEMPT = 64 * 1024  # held_budget::VM_BOUND_EXEMPT_BYTES
ATTACKERS = 12
TRICKLE = 640 * 1024  # each attacker's held bytes (about 1 MiB of buffer capacity), under the per-connection bound
CHUNK = 64 * 1024


def envoy_memory(stack) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.envoy.admin_port}/memory", timeout=5) as response:
        memory = json.loads(response.read())
    rss = 0
    with open(f"/proc/{stack.envoy.process.popen.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    return {"allocated": int(memory["allocated"]), "heap_size": int(memory["heap_size"]), "rss": rss}


def held_metadata_request(correlation_id: int, claimed: int = 900_000) -> bytes:
    """A Metadata v4 request header claiming `claimed` bytes: the filter must hold it whole to decide."""
    header = struct.pack(">hhi", 3, 4, correlation_id) + harness.kafka_string("kmf-hostile")
    return struct.pack(">i", len(header) + claimed) + header


@pytest.mark.parametrize("bounded", [True, False], ids=["bounded", "default-bounds"])
def test_trickled_held_frames_stay_under_the_vm_bound_while_others_work(stack_factory, topic_name, capsys, bounded):
    """`default-bounds` is the comparison: with the default bounds (16 MiB, 256 MiB) every attacker holds what it
    sent, so the small bounds are what keeps the other run under 4 MiB."""
    policy = dict(WRITER_POLICY)
    if bounded:
        policy.update(maxHeldBytesPerConnection=PER_CONNECTION, maxHeldBytesPerVm=PER_VM)
    stack = stack_factory("mtls", policy)
    topic = topic_name(stack)
    delivered, failures, errors = harness.produce(stack, "mesh-default", topic, [b"before"], timeout=30)
    assert delivered == 1, (failures, errors.text())
    before = envoy_memory(stack)
    sockets = []
    closed = 0
    peak = 0
    try:
        for i in range(ATTACKERS):
            sockets.append(harness.tls_socket(stack))
            sockets[-1].sendall(held_metadata_request(i))
        sent = 0
        while sent < TRICKLE:
            for sock in sockets:
                try:
                    sock.sendall(b"\x00" * CHUNK)
                except (ConnectionError, ssl.SSLError, OSError):
                    pass
            sent += CHUNK
            stack.envoy.wait_for_filter_counters()
            peak = max(peak, stack.envoy.stat_sum(r"kafka_filter\.held_bytes$"))
        # A well-behaved client on the same Envoy, while the attackers hold what they could.
        values = [f"m{i}".encode() for i in range(20)]
        delivered, failures, errors = harness.produce(stack, "mesh-default", topic, values, timeout=30)
        assert delivered == len(values), (failures, errors.text())
        consumed = harness.consume(stack, "mesh-default", topic, 1 + len(values), timeout=30)
        assert consumed == [b"before"] + values
        stack.envoy.wait_for_filter_counters()
        held = stack.envoy.stat_sum(r"kafka_filter\.held_bytes$")
        peak = max(peak, held)
        during = envoy_memory(stack)
        for sock in sockets:
            sock.setblocking(False)
            try:
                if sock.recv(1) == b"":
                    closed += 1
            except (BlockingIOError, ssl.SSLWantReadError):
                pass
            except (ConnectionError, ssl.SSLError, OSError):
                closed += 1
    finally:
        for sock in sockets:
            sock.close()
    stack.envoy.wait_for_filter_counters()
    after = envoy_memory(stack)
    exceeded = stack.envoy.stat_sum(r"kafka_filter\.held_bytes_exceeded\.limit=vm|held_bytes_exceeded;limit=vm")
    released = stack.envoy.stat_sum(r"kafka_filter\.held_bytes$")
    with capsys.disabled():
        print(
            f"\nheld-bytes figures: {ATTACKERS} attackers "
            f"x {TRICKLE} B, {'4 MiB per VM' if bounded else 'default bounds'}: held peak {peak} B, "
            f"held with the attackers connected {held} B, after they left {released} B; attackers closed {closed}, "
            f"held_bytes_exceeded(vm) {exceeded}; envoy memory before {before}, during {during}, after {after}"
        )
    assert released == 0
    if not bounded:
        assert closed == 0 and exceeded == 0 and held >= ATTACKERS * TRICKLE, (closed, exceeded, held)
        return
    # The connection growing past the VM's bound counts until Envoy deletes it: at most one more buffer.
    assert peak <= PER_VM + ATTACKERS * EXEMPT + PER_CONNECTION, peak
    assert closed >= ATTACKERS - PER_VM // TRICKLE - 1, closed
    assert exceeded >= 1
    assert stack.envoy.filter_log_lines(), "no filter log"
    stack.envoy.wait_for_log(r"kafka-audit .*\"decision\":\"closed\".*maxHeldBytesPerVm")
    # Alone on the VM, a connection trickling past its own bound is closed by that one.
    with harness.tls_socket(stack) as sock:
        sock.sendall(held_metadata_request(99, claimed=3 << 20))
        try:
            for _ in range((PER_CONNECTION + CHUNK) // CHUNK + 1):
                sock.sendall(b"\x00" * CHUNK)
        except OSError:
            pass
        assert closed_by_filter(sock), "a connection over maxHeldBytesPerConnection stayed open"
    stack.envoy.wait_for_log(r"kafka-audit .*\"decision\":\"closed\".*maxHeldBytesPerConnection")
    stack.envoy.wait_for_filter_counters()
    assert stack.envoy.stat_sum(r"held_bytes_exceeded[.;]limit=connection") == 1
    url = f"http://127.0.0.1:{stack.envoy.admin_port}/stats/prometheus"
    with urllib.request.urlopen(url, timeout=5) as response:
        prometheus = response.read().decode()
    assert 'kafka_filter_held_bytes_exceeded{limit="vm"}' in prometheus
    assert "kafka_filter_held_bytes " in prometheus or "kafka_filter_held_bytes{" in prometheus
