"""Plugin configurations shared by the integration tests, the demo and the benchmarks: the identity every stack
uses (SPIFFE for in-mesh workloads, Kafka's DN mapping rules for the rest) and the policies most tests start
from. The principals are those of the test PKI (`certs.py`): mesh-default is User:CN=kafka-default, mesh-admin
User:CN=kafka-admin, external (CN=external-kafkauser,O=acme) User:external-kafkauser."""

from __future__ import annotations

# The identity configuration most tests use: SPIFFE for in-mesh workloads, DN mapping for the rest.
IDENTITY = {
    "spiffe": {"principal": "CN={namespace}-{serviceAccount}", "trustDomains": ["cluster.local"]},
    "subject": {"mappingRules": "RULE:^CN=([^,]+),O=acme$/$1/L,DEFAULT"},
    "prefer": "spiffe",
    "unauthenticated": "deny",
}


def mesh_default_policy(*acls: dict) -> dict:
    """Enforce mode: `mesh-admin` (User:CN=kafka-admin) is a super user, `mesh-default` (User:CN=kafka-default)
    has exactly `acls`."""
    return {
        "identity": IDENTITY,
        "authorization": {
            "mode": "enforce",
            "superUsers": ["User:CN=kafka-admin"],
            "users": [{"principal": "User:CN=kafka-default", "acls": list(acls)}],
        },
    }


# mesh-default (User:CN=kafka-default) may use the `it-` topics and the harness's consumer group.
WRITER_POLICY = {
    "identity": IDENTITY,
    "authorization": {
        "mode": "enforce",
        "users": [
            {
                "principal": "User:CN=kafka-default",
                "acls": [
                    {"resource": {"type": "topic", "name": "it-", "patternType": "prefix"},
                     "operations": ["Write", "Read", "Describe"], "type": "allow"},
                    {"resource": {"type": "group", "name": "kmf-", "patternType": "prefix"},
                     "operations": ["Read", "Describe"], "type": "allow"},
                ],
            }
        ],
    },
}  # fmt: skip


def demo_policy() -> dict:
    """The demo's: kafka-admin a super user; kafka-default may use the `orders-` topics; the outside client
    (external-kafkauser) may read them, in the harness's `kmf-` consumer groups."""
    orders = {"type": "topic", "name": "orders-", "patternType": "prefix"}
    return {
        "identity": IDENTITY,
        "authorization": {
            "mode": "enforce",
            "superUsers": ["User:CN=kafka-admin"],
            "users": [
                {
                    "principal": "User:CN=kafka-default",
                    "acls": [{"resource": orders, "operations": ["Read", "Describe", "Write"], "host": "*", "type": "allow"}],
                },
                {
                    "principal": "User:external-kafkauser",
                    "acls": [
                        {"resource": orders, "operations": ["Read", "Describe"], "host": "*", "type": "allow"},
                        # The harness's consumers name a group (librdkafka looks up its coordinator).
                        {"resource": {"type": "group", "name": "kmf-", "patternType": "prefix"}, "operations": ["Read"]},
                    ],
                },
            ],
        },
    }
