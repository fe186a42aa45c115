"""Share groups' records and offsets through Envoy and the filter (KIP-932): a KafkaShareConsumer receives records
with ShareFetch (Read on the group, Read on the topic, by id) and acknowledges them; a topic it may Describe but not
Read ends in TopicAuthorizationException, as KafkaApis answers each partition TOPIC_AUTHORIZATION_FAILED. Admin
alters (AlterShareGroupOffsets: Read on the group and the topic), lists (DescribeShareGroupOffsets: Describe on the
group and the topics; all topics narrowed to the describable ones) and deletes (DeleteShareGroupOffsets: Delete on
the group, Read on the topic) a share group's offsets; a refused group or topic ends in Kafka's exception."""

from __future__ import annotations

import itertools

import harness
import pytest
from conftest import IDENTITY, WITH_FILTER
from test_java_clients import client_properties, java_classes, java_client  # noqa: F401 (fixture)

pytestmark = pytest.mark.filter

POLICY = {
    "identity": IDENTITY,
    "authorization": {
        "mode": "enforce",
        "superUsers": ["User:CN=kafka-admin"],
        "users": [
            {
                "principal": "User:CN=kafka-default",
                "acls": [
                    {"resource": {"type": "topic", "name": "sf-", "patternType": "prefix"},
                     "operations": ["Read", "Write", "Describe"]},
                    # Describable (the heartbeat subscribes), not readable (ShareFetch refused).
                    {"resource": {"type": "topic", "name": "sfd-", "patternType": "prefix"}, "operations": ["Describe"]},
                    {"resource": {"type": "group", "name": "sfg-", "patternType": "prefix"},
                     "operations": ["Read", "Describe", "Delete"]},
                    {"resource": {"type": "group", "name": "sfr-", "patternType": "prefix"},
                     "operations": ["Read", "Describe"]},
                    # Found (FindCoordinator needs Describe), not readable: AlterShareGroupOffsets refused by the filter.
                    {"resource": {"type": "group", "name": "sfv-", "patternType": "prefix"}, "operations": ["Describe"]},
                ],
            },
        ],
    },
}  # fmt: skip

_topics = itertools.count(1)


@pytest.fixture(scope="module")
def stack(cert_dir):
    started = harness.Stack("mtls", POLICY, with_filter=WITH_FILTER, name="test_share_fetch-stack")
    yield started
    started.stop()


def test_share_consumer_receives_records_and_admin_alters_and_deletes_offsets(stack, java_classes):  # noqa: F811
    default = client_properties(stack, "mesh-default")
    topic = f"sf-{next(_topics)}"
    stack.create_topic(topic)
    produced = java_client(java_classes, "produce", default, topic, 5)
    assert produced.get("error") is None, produced
    # The group starts at offset 0 (a share group starts at the end by default).
    altered = java_client(java_classes, "share-offsets", default, "sfg-1", topic, "alter")
    assert altered == {"alter": "ok"} or altered.get("alter") == "ok", altered
    consumed = java_client(java_classes, "share-consume", default, topic, "sfg-1", 10)
    assert consumed.get("error") is None and consumed["records"] == 5, consumed

    hidden = f"sfd-{next(_topics)}"
    stack.create_topic(hidden)
    admin = client_properties(stack, "mesh-admin")
    assert java_client(java_classes, "produce", admin, hidden, 3).get("error") is None
    assert java_client(java_classes, "share-offsets", admin, "sfg-2", hidden, "alter").get("alter") == "ok"
    refused = java_client(java_classes, "share-consume", default, hidden, "sfg-2", 10)
    assert refused.get("error") == "org.apache.kafka.common.errors.TopicAuthorizationException", refused
    assert refused["records"] == 0, refused

    topic_refused = java_client(java_classes, "share-offsets", default, "sfg-1", hidden, "alter")
    assert topic_refused.get("error") == "org.apache.kafka.common.errors.TopicAuthorizationException", topic_refused
    group_refused = java_client(java_classes, "share-offsets", default, "other-1", topic, "alter")
    assert group_refused.get("error") == "org.apache.kafka.common.errors.GroupAuthorizationException", group_refused
    group_refused = java_client(java_classes, "share-offsets", default, "sfv-1", topic, "alter")
    assert group_refused.get("error") == "org.apache.kafka.common.errors.GroupAuthorizationException", group_refused

    # Listed (DescribeShareGroupOffsets): all the group's topics narrowed to those the principal may Describe. The
    # group's offsets on both topics are the super user's.
    assert java_client(java_classes, "share-offsets", admin, "sfg-3", topic, "alter").get("alter") == "ok"
    secret = f"sfx-{next(_topics)}"
    stack.create_topic(secret)
    assert java_client(java_classes, "share-offsets", admin, "sfg-3", secret, "alter").get("alter") == "ok"
    listed = java_client(java_classes, "share-offsets", admin, "sfg-3", topic, "list")
    assert listed.get("offsets") == {f"{topic}-0": 0, f"{secret}-0": 0}, listed
    listed = java_client(java_classes, "share-offsets", default, "sfg-3", topic, "list")
    assert listed.get("offsets") == {f"{topic}-0": 0}, listed
    listed = java_client(java_classes, "share-offsets", default, "sfg-3", topic, "list-topic")
    assert listed.get("offsets") == {f"{topic}-0": 0}, listed
    # A named topic it may not Describe: the partition answered TOPIC_AUTHORIZATION_FAILED (as Kafka answers it:
    # oracle case d.c102), which Kafka's Admin leaves out of the listing.
    refused = java_client(java_classes, "share-offsets", default, "sfg-3", secret, "list-topic")
    assert refused == {"scenario": "share-offsets", "offsets": {}}, refused
    refused = java_client(java_classes, "share-offsets", default, "other-3", topic, "list")
    assert refused.get("error") == "org.apache.kafka.common.errors.GroupAuthorizationException", refused

    deleted = java_client(java_classes, "share-offsets", default, "sfg-1", topic, "delete")
    assert deleted.get("delete") == "ok", deleted
    topic_refused = java_client(java_classes, "share-offsets", default, "sfg-2", hidden, "delete")
    assert topic_refused.get("error") == "org.apache.kafka.common.errors.TopicAuthorizationException", topic_refused
    group_refused = java_client(java_classes, "share-offsets", default, "sfr-1", topic, "delete")
    assert group_refused.get("error") == "org.apache.kafka.common.errors.GroupAuthorizationException", group_refused
