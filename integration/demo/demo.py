"""Demo: Apache Kafka (KRaft) + Envoy with the kafka-mtls-filter, Kafka clients with mesh and non-mesh certificates.
Run through integration/demo/demo.sh (which installs and builds first)."""

from __future__ import annotations

import json
import logging
import sys
import time
import urllib.request
from pathlib import Path

from confluent_kafka.admin import AdminClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness  # noqa: E402
from harness import kafka_broker  # noqa: E402
from harness.certs import CLIENT_CERTS  # noqa: E402
from harness.policies import demo_policy  # noqa: E402

TOPIC = "orders-demo"
# A topic no demo principal but the super user may see.
HIDDEN_TOPIC = "payroll-demo"

PLUGIN_CONFIG = demo_policy()


def heading(text: str) -> None:
    print(f"\n== {text}")


def show_produce(stack, cert, values, timeout=10) -> None:
    delivered, failures, errors = harness.produce(stack, cert, TOPIC, values, timeout=timeout)
    if delivered == len(values):
        print(f"   {cert}: produced {delivered} message(s)")
        return
    print(f"   {cert}: produce FAILED ({delivered}/{len(values)} delivered)")
    for reason in sorted({str(f) for f in failures}):
        print(f"     delivery report: {reason[:200]}")
    for reason in sorted({str(e) for e in errors.errors})[:2]:
        print(f"     client error:    {reason[:200]}")


def main() -> int:
    # librdkafka's own log lines (connection retries) would drown the demo's output.
    logging.getLogger("librdkafka").addHandler(logging.NullHandler())
    logging.getLogger("librdkafka").propagate = False
    cert_dir = harness.certs_dir()
    heading(f"test certificates in {cert_dir}")
    for spec in CLIENT_CERTS:
        print(f"   {spec.name:14} {spec.description}")

    broker = f"Apache Kafka {kafka_broker.kafka_version()} (KRaft)" if harness.BROKER == "kafka" else "tansu"
    heading(f"starting {broker} and Envoy with the filter")
    print("   plugin configuration:")
    for line in json.dumps(PLUGIN_CONFIG, indent=2).splitlines():
        print(f"     {line}")
    with harness.Stack(listener="mtls", plugin_config=PLUGIN_CONFIG, name="demo") as stack:
        print(f"   Envoy (mTLS) on {stack.bootstrap}, admin on 127.0.0.1:{stack.envoy.admin_port}")
        print(f"   broker on {stack.broker_host}:{stack.broker_port}; logs in {stack.run_dir}")
        stack.create_topic(TOPIC)

        heading(f"in-mesh workload kafka/default produces to {TOPIC} (allowed: Write on orders-*)")
        show_produce(stack, "mesh-default", [b"order 1", b"order 2", b"order 3"])

        heading(f"outside-mesh client CN=external-kafkauser,O=acme reads {TOPIC} (allowed: Read on orders-*)")
        values = harness.consume(stack, "external", TOPIC, 3, timeout=15)
        print(f"   external: consumed {len(values)} message(s): {[v.decode(errors='replace') for v in values]}")

        heading("the same outside client tries to produce (not allowed: no Write ACL)")
        show_produce(stack, "external", [b"forged order"])

        heading(f"what each principal sees: topic listings (Metadata) are filtered to what it may Describe")
        stack.create_topic(HIDDEN_TOPIC)
        for cert, who in (("mesh-default", "kafka/default"), ("mesh-admin", "kafka/admin (super user)")):
            names = sorted(t for t in AdminClient(stack.client_config(cert)).list_topics(timeout=10).topics
                           if not t.startswith("__"))
            print(f"   {who:26} lists {names}")

        heading("a client whose certificate comes from another CA")
        show_produce(stack, "rogue", [b"rogue order"], timeout=5)
        print(
            "   Envoy refused the TLS handshakes (librdkafka does not even offer a certificate from a CA the server"
            f" does not name): ssl.fail_verify_no_cert={stack.envoy.stat_sum(r'.ssl.fail_verify_no_cert$')},"
            f" ssl.fail_verify_error={stack.envoy.stat_sum(r'.ssl.fail_verify_error$')}"
        )

        stack.envoy.wait_for_filter_counters()  # also lets the last log lines reach the file
        heading("identities the filter derived (Envoy's wasm log)")
        lines = stack.envoy.filter_log_lines()
        identities = [line for line in lines if line.startswith("connection ")]
        for line in identities or ["(none: is the filter built with its glue?)"]:
            print(f"   {line}")
        denials = [line for line in lines if line.startswith("kafka-audit ") and '"decision":"denied"' in line]
        if denials:
            heading("requests the filter denied (audit lines)")
            for line in denials:
                print(f"   {line[:400]}")
        heading("the filter's metrics at Envoy's /stats/prometheus (per API and decision, per principal and topic)")
        url = f"http://127.0.0.1:{stack.envoy.admin_port}/stats/prometheus"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        wanted = ("kafka_filter_requests{", "kafka_filter_denied_by_principal{", "kafka_filter_produced_bytes_by_topic{",
                  "kafka_filter_fetched_bytes_by_topic{")
        for line in text.splitlines():
            if line.startswith(wanted) and not line.endswith(" 0"):
                print(f"   {line}")
        print(f"\n   full Envoy log: {stack.envoy.process.log_path}")
    heading(f"stopped {broker} and Envoy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
