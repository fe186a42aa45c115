"""Time from a policy update to the first request an open connection gets decided under it (issue 22).

One broker and one Envoy taking the filter's configuration by extension config discovery (ECDS) from a file
replaced by atomic rename, as in integration/tests/test_policy_updates.py. One raw mTLS connection sends Produce
v3 requests back to back (one in flight) while the Write grant is revoked and granted back, `--rounds` times.
For each update it prints, from the moment the harness starts writing the new file:

* `first`: when the first request that got the new decision was sent;
* `answered`: when its answer arrived;
* `last old`: when the last request still decided under the old policy was sent (requests sent before Envoy
  took the update);

and the filter's own figure, the time from publication to the connection's first decision under it (its log line
`policy generation N applied (M ms after it was published)`). About a minute.

    ~/.cache/kafka-mtls-filter/venv/bin/python integration/bench/policy_update_latency.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

import harness  # noqa: E402
from test_policy_updates import GRANTED, REVOKED, TOPIC_AUTHORIZATION_FAILED, Producer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    stack = harness.Stack(listener="mtls", plugin_config=GRANTED, name="bench-policy-update-latency", ecds=True)
    try:
        topic = "it-policy-bench"
        stack.create_topic(topic)
        producer = Producer(stack)
        sent: list[tuple[float, float, int]] = []  # (sent, answered, error code)
        stop = threading.Event()

        def send() -> None:
            while not stop.is_set():
                start = time.monotonic()
                error_code, _ = producer.produce(topic, b"x")
                sent.append((start, time.monotonic(), error_code))

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        time.sleep(1)
        results = []
        for round_ in range(args.rounds):
            for policy, new_code in ((REVOKED, TOPIC_AUTHORIZATION_FAILED), (GRANTED, 0)):
                count_before = len(sent)
                t0 = time.monotonic()
                stack.envoy.update_filter_config(policy)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and not any(c == new_code for _, _, c in sent[count_before:]):
                    time.sleep(0.01)
                after = sent[count_before:]
                first = next((s, a) for s, a, c in after if c == new_code)
                last_old = max((s for s, _, c in after if c != new_code), default=t0)
                results.append((1000 * (first[0] - t0), 1000 * (first[1] - t0), 1000 * (last_old - t0)))
                print(f"round {round_ + 1} {'revoke' if new_code else 'grant'}: first {results[-1][0]:.1f} ms, "
                      f"answered {results[-1][1]:.1f} ms, last old {results[-1][2]:.1f} ms", flush=True)
                time.sleep(0.5)
        stop.set()
        sender.join(5)
        producer.close()
        applied = [int(m.group(1)) for line in stack.envoy.filter_log_lines()
                   if (m := re.search(r"policy generation \d+ applied \((\d+) ms after it was published\)", line))]
        requests = len(sent)
        print(f"{requests} requests; over {len(results)} updates (ms from the harness writing the file):")
        for index, name in enumerate(("first", "answered", "last old")):
            values = [r[index] for r in results]
            print(f"  {name}: min {min(values):.1f} / median {statistics.median(values):.1f} / max {max(values):.1f}")
        if applied:
            print(f"  the filter's publication -> first decision under it: min {min(applied)} / median "
                  f"{statistics.median(applied)} / max {max(applied)} ms ({len(applied)} log lines)")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
