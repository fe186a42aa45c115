"""DescribeTopicPartitions for all topics, paged, through real Envoy + wasm + Apache Kafka: the listing goes on
past pages in which no topic is visible, and no cursor the client sees names a hidden topic.

Kafka pages through the topics the principal may Describe only; the broker behind the filter pages through
every topic, so with a small responsePartitionLimit some of its pages hold hidden topics alone. The filter
hands the client a token for such a page's cursor and turns it back into the broker's cursor on the next
request of the connection."""

from __future__ import annotations

import struct
import time

import harness
import pytest

from conftest import mesh_default_policy

pytestmark = pytest.mark.filter

# Sorted by name: a hidden topic before the first visible one, one between, one after the last.
VISIBLE = ["pg-b", "pg-d"]
HIDDEN = {"pg-a-hidden": 3, "pg-c-hidden": 5, "pg-e-hidden": 3}


class Reader:
    def __init__(self, data: bytes, at: int = 0):
        self.data, self.at = data, at

    def take(self, n: int) -> bytes:
        out = self.data[self.at : self.at + n]
        assert len(out) == n, "truncated response"
        self.at += n
        return out

    def int(self, fmt: str) -> int:
        return struct.unpack(">" + fmt, self.take(struct.calcsize(fmt)))[0]

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    def string(self) -> str | None:
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode()

    def tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())

    def int32s(self) -> None:
        n = self.uvarint() - 1
        if n > 0:
            self.take(4 * n)


def page(tls, correlation_id: int, cursor: tuple[str, int] | None) -> tuple[list[str], tuple[str, int] | None]:
    """One DescribeTopicPartitions v0 for all topics, 2 partitions a page: (topics shown, next cursor)."""
    client_id = b"it-dtp-paging"
    frame = struct.pack(">hhih", 75, 0, correlation_id, len(client_id)) + client_id + b"\x00"
    frame += b"\x01" + struct.pack(">i", 2)  # no topics (all), response_partition_limit 2
    if cursor is None:
        frame += b"\xff"
    else:
        name = cursor[0].encode()
        frame += b"\x01" + bytes([len(name) + 1]) + name + struct.pack(">i", cursor[1]) + b"\x00"
    frame += b"\x00"
    tls.sendall(struct.pack(">i", len(frame)) + frame)
    r = Reader(harness.read_frame(tls))
    assert r.int("i") == correlation_id
    r.tags()  # response header v1
    r.int("i")  # throttle_time_ms
    topics = []
    for _ in range(r.uvarint() - 1):
        assert r.int("h") == 0
        topics.append(r.string())
        r.take(16 + 1)  # topic_id, is_internal
        for _ in range(r.uvarint() - 1):
            r.take(2 + 4 + 4 + 4)
            for _ in range(5):  # replicas, isr, eligible leader replicas, last known elr, offline
                r.int32s()
            r.tags()
        r.int("i")  # topic_authorized_operations
        r.tags()
    next_cursor = None
    if r.take(1) == b"\x01":
        next_cursor = (r.string(), r.int("i"))
        r.tags()
    return topics, next_cursor


def test_paging_goes_on_past_pages_with_no_visible_topic(stack_factory):
    acls = [{"resource": {"type": "topic", "name": t}, "operations": ["Describe"]} for t in VISIBLE]
    stack = stack_factory("mtls", mesh_default_policy(*acls))
    for topic in VISIBLE:
        stack.create_topic(topic, 3)
    for topic, partitions in HIDDEN.items():
        stack.create_topic(topic, partitions)

    def listing(cert: str) -> tuple[list[str], list[str]]:
        """Every page of one all-topics listing on one connection: (topics shown, cursors seen)."""
        shown: list[str] = []
        cursors: list[str] = []
        cursor = None
        with harness.tls_socket(stack, cert, timeout=20) as tls:
            for correlation_id in range(1, 200):
                topics, cursor = page(tls, correlation_id, cursor)
                shown += [t for t in topics if not shown or shown[-1] != t]  # a topic split over pages
                if cursor is None:
                    return shown, cursors
                cursors.append(cursor[0])
        raise AssertionError(f"{cert}: the listing never ended")

    # The super user sees every topic once the broker's metadata has them all.
    everything = sorted(VISIBLE + list(HIDDEN))
    for _ in range(50):
        shown, _ = listing("mesh-admin")
        if [t for t in shown if t.startswith("pg-")] == everything:
            break
        time.sleep(0.2)
    assert [t for t in shown if t.startswith("pg-")] == everything

    shown, cursors = listing("mesh-default")
    assert shown == VISIBLE, "internal and hidden topics are not listed"
    assert not [c for c in cursors if "hidden" in c or c.startswith("__")], cursors
    assert any(c.startswith("\0") for c in cursors), "a page with nothing visible got a token"
