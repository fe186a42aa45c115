"""What Envoy does with a wasm network filter whose configuration changes, measured with the probe module
(integration/bench/policy-update-probe) in the venv's Envoy, and printed as facts.

    integration/bench/policy_update_facts.py [--keep-logs]

Paths: extension config discovery (ECDS) from a file replaced by atomic rename, and a listener update (LDS from
a file). Every scenario runs its own Envoy (plaintext listener, probe filter, tcp_proxy to an echo server in
this process); clients are raw sockets that send one line and read its echo, so each line is one filter
callback on a known connection. The probe logs `PROBE <event> ...` lines (see its src/lib.rs); Envoy's log
prefix adds the thread id. Findings are written up in integration/bench/POLICY-UPDATES.md.

Takes about a minute; starts no broker. The last scenario measures what one shared-data read costs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import harness  # noqa: E402

PROBE_DIR = HERE / "policy-update-probe"
PROBE_WASM = PROBE_DIR / "target" / "wasm32-wasip1" / "release" / "kmf_policy_update_probe.wasm"
WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"


def build_probe() -> Path:
    sources = [PROBE_DIR / "Cargo.toml", PROBE_DIR / "Cargo.lock", *(PROBE_DIR / "src").glob("*.rs")]
    if PROBE_WASM.exists() and all(s.stat().st_mtime <= PROBE_WASM.stat().st_mtime for s in sources):
        return PROBE_WASM
    command = ["cargo", "build", "--release", "--target", "wasm32-wasip1", "--target-dir", "target"]
    done = subprocess.run([*command, "--offline"], cwd=PROBE_DIR, capture_output=True, text=True)
    if done.returncode != 0:
        done = subprocess.run(command, cwd=PROBE_DIR, capture_output=True, text=True)
    if done.returncode != 0:
        raise harness.HarnessError(f"building the probe failed:\n{done.stderr[-3000:]}")
    return PROBE_WASM


# --- the echo upstream -------------------------------------------------------------------------------------------


class EchoServer:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def stop(self):
        self.stopped = True
        self.sock.close()


class Client:
    """One connection through Envoy; `send(tag)` sends `<tag>\\n` and waits for its echo."""

    def __init__(self, port: int, name: str):
        self.name = name
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.count = 0

    def send(self, tag: str | None = None) -> str:
        self.count += 1
        tag = tag or f"{self.name}-{self.count}"
        line = f"{tag}\n".encode()
        self.sock.sendall(line)
        got = b""
        while len(got) < len(line):
            chunk = self.sock.recv(len(line) - len(got))
            if not chunk:
                raise harness.HarnessError(f"{self.name}: connection closed")
            got += chunk
        return tag

    def close(self):
        self.sock.close()


# --- Envoy with the probe ----------------------------------------------------------------------------------------


def wasm_config(config_text: str, vm_id: str, wasm: Path, name: str = "kmf-probe", env: dict | None = None) -> dict:
    """`env`: vm_config.environment_variables.key_values (Istio puts the WasmPlugin's resourceVersion there)."""
    vm_config = {"vm_id": vm_id, "runtime": "envoy.wasm.runtime.v8", "code": {"local": {"filename": str(wasm)}}}
    if env:
        vm_config["environment_variables"] = {"key_values": env}
    return {
        "config": {
            "name": name,
            "root_id": "kmf-probe",
            "fail_open": False,
            "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": config_text},
            "vm_config": vm_config,
        }
    }


LINE = re.compile(r"^\[(?P<ts>[^\]]+)\]\[(?P<thread>\d+)\].*?PROBE (?P<event>\w+) (?P<rest>.*)$")


class ProbeEnvoy:
    """Envoy with listeners named in `listeners`: each {name, filter: ("ecds", resource) | ("inline", text,
    vm_id)}; `lds`: listeners from a watched file; ECDS resources from one watched file each."""

    def __init__(self, run_dir: Path, wasm: Path, upstream_port: int, listeners: list[dict], lds=False,
                 concurrency=1, ecds: dict | None = None):  # fmt: skip
        self.run_dir = run_dir
        self.wasm = wasm
        self.upstream_port = upstream_port
        shutil.rmtree(run_dir, ignore_errors=True)
        (run_dir / "xds").mkdir(parents=True)
        self.ports = {item["name"]: harness.free_port() for item in listeners}
        self.admin_port = harness.free_port()
        for resource, spec in (ecds or {}).items():
            self.write_ecds(resource, **spec)
        config = {
            "node": {"id": "kmf-probe", "cluster": "kmf-probe"},
            "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": self.admin_port}}},
            "static_resources": {"clusters": [self._cluster()]},
        }
        self.listeners = listeners
        if lds:
            self.lds_path = run_dir / "xds" / "listeners.yaml"
            self.write_lds(listeners)
            config["dynamic_resources"] = {"lds_config": self._file_source(self.lds_path)}
        else:
            config["static_resources"]["listeners"] = [self._listener(item) for item in listeners]
        config_path = run_dir / "envoy.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        argv = [
            harness.envoy_binary(), "-c", str(config_path), "--concurrency", str(concurrency),
            "--disable-hot-restart", "-l", "info", "--component-log-level", "wasm:debug",
        ]  # fmt: skip
        self.process = harness.Process("envoy", argv, run_dir / "envoy.log", cwd=run_dir)
        deadline = time.monotonic() + 30
        while True:
            if not self.process.alive():
                raise harness.HarnessError(f"envoy exited:\n{self.process.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/ready", timeout=1) as r:
                    if r.read().strip() == b"LIVE":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise harness.HarnessError(f"envoy not ready:\n{self.process.log_tail()}")
            time.sleep(0.1)
        for port in self.ports.values():
            harness.wait_for_port("127.0.0.1", port, 10, self.process)

    def _file_source(self, path: Path) -> dict:
        return {"resource_api_version": "V3",
                "path_config_source": {"path": str(path), "watched_directory": {"path": str(path.parent)}}}  # fmt: skip

    def _cluster(self) -> dict:
        return {
            "name": "echo", "type": "STATIC", "connect_timeout": "5s",
            "load_assignment": {"cluster_name": "echo", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                "socket_address": {"address": "127.0.0.1", "port_value": self.upstream_port}}}}]}]},
        }  # fmt: skip

    def _listener(self, item: dict) -> dict:
        kind = item["filter"][0]
        if kind == "ecds":
            wasm_filter = {
                "name": item["filter"][1],
                "config_discovery": {
                    "config_source": self._file_source(self.run_dir / "xds" / f"{item['filter'][1]}.yaml"),
                    "type_urls": [WASM_TYPE],
                },
            }
        else:
            _, text, vm_id = item["filter"]
            wasm_filter = {"name": "envoy.filters.network.wasm",
                           "typed_config": {"@type": WASM_TYPE, **wasm_config(text, vm_id, self.wasm)}}  # fmt: skip
        return {
            "name": item["name"],
            # Listener metadata: is it visible to the root context (`listener_metadata`)?
            "metadata": {"filter_metadata": {"kmf": {"listener": item["name"]}}},
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": self.ports[item["name"]]}},
            "filter_chains": [{"name": f"chain-{item['name']}", "filters": [wasm_filter, {
                "name": "envoy.filters.network.tcp_proxy",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
                                 "stat_prefix": "echo", "cluster": "echo"}}]}],
        }  # fmt: skip

    @staticmethod
    def _atomic_write(path: Path, document: dict) -> float:
        staging = path.with_name(f".{path.name}.new")
        staging.write_text(yaml.safe_dump(document, sort_keys=False))
        moved_at = time.time_ns()
        os.rename(staging, path)
        return moved_at

    def write_ecds(self, resource: str, text: str, vm_id: str = "kmf-probe", name: str = "kmf-probe",
                   env: dict | None = None) -> int:  # fmt: skip
        document = {"resources": [{
            "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig", "name": resource,
            "typed_config": {"@type": WASM_TYPE, **wasm_config(text, vm_id, self.wasm, name, env)}}]}  # fmt: skip
        return self._atomic_write(self.run_dir / "xds" / f"{resource}.yaml", document)

    def write_lds(self, listeners: list[dict]) -> int:
        resources = [{"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", **self._listener(item)}
                     for item in listeners]  # fmt: skip
        return self._atomic_write(self.lds_path, {"resources": resources})

    def stats(self, prefix: str) -> dict[str, int]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/stats?filter={prefix}", timeout=5) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            name, sep, value = line.partition(": ")
            if sep and value.strip().isdigit():
                out[name] = int(value)
        return out

    def stat_sum(self, pattern: str) -> int:
        return sum(v for k, v in self.stats("").items() if re.search(pattern, k))

    def events(self) -> list[dict]:
        out = []
        for line in self.process.log_text().splitlines():
            m = LINE.match(line)
            if not m:
                continue
            event = {"event": m["event"], "thread": m["thread"]}
            for kv in m["rest"].split():
                key, _, value = kv.partition("=")
                event[key] = value
            out.append(event)
        return out

    def wait_for(self, predicate, what: str, timeout=15.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.events() if predicate(e)]
            if found:
                return found
            if time.monotonic() > deadline:
                raise harness.HarnessError(f"no probe event: {what}; log tail:\n{self.process.log_tail(30)}")
            time.sleep(0.05)

    def stop(self):
        self.process.stop()


def data_of(envoy: ProbeEnvoy, tag: str) -> dict:
    return envoy.wait_for(lambda e: e["event"] == "data" and e.get("msg") == tag, f"data {tag}")[-1]


def since(events: list[dict], mark: int) -> list[dict]:
    return events[mark:]


def conn(d: dict) -> str:
    """A data event in short: the VM, the root, its own configuration and the latest one in shared data."""
    return (f"VM {d['vm'][:6]} root {d['root']} own={d['own_label']} latest={d['latest_label']} gen={d['latest_gen']}"
            f" design={d['effective']}")  # fmt: skip


def calls(events: list[dict], kind: str = "configure") -> list[tuple]:
    """(label, VM, root, thread) of each `kind` event."""
    return [(e.get("label"), e["vm"][:6], e["root"], e["thread"]) for e in events if e["event"] == kind]


def count(events: list[dict], kind: str) -> int:
    return len([e for e in events if e["event"] == kind])


def design_fact(key: str, checks: list[tuple[str, str, str]]) -> None:
    """The design's rules (run by the probe beside the raw facts): for each step, the configuration Envoy runs for
    new connections against the one the design makes an open connection decide under."""
    wrong = [f"{step}: {got} (Envoy runs {want})" for step, want, got in checks if got != want]
    fact(key, f"{len(checks) - len(wrong)} of {len(checks)} steps right" + (f"; wrong: {wrong}" if wrong else ""))


# --- scenarios ---------------------------------------------------------------------------------------------------

FACTS: list[tuple[str, str]] = []


def fact(key: str, text: str) -> None:
    FACTS.append((key, text))
    print(f"  [{key}] {text}", flush=True)


def describe(events: list[dict], kinds=("vm_start", "root_new", "configure", "configure_rejected", "publish",
                                        "root_done")) -> str:  # fmt: skip
    return "\n".join(
        "      " + " ".join(f"{k}={v}" for k, v in e.items() if k in (
            "event", "thread", "vm", "root", "label", "hash", "configures_in_vm", "roots_in_vm", "gen",
            "before_gen", "before_label", "before_vm", "plugin_name", "listener_metadata", "xds.listener_name"))
        for e in events if e["event"] in kinds
    )  # fmt: skip


def wait_stat(envoy: ProbeEnvoy, prefix: str, suffix: str, above: int, timeout=15.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        value = sum(v for k, v in envoy.stats(prefix).items() if k.endswith(suffix))
        if value > above:
            return value
        if time.monotonic() > deadline:
            raise harness.HarnessError(f"stat {prefix}*{suffix} stayed at {value}")
        time.sleep(0.05)


def ecds_counts(envoy: ProbeEnvoy) -> tuple[int, int]:
    """(update_success, update_rejected): config_reload counts refused updates too."""
    stats = envoy.stats("extension_config_discovery")
    accepted = sum(v for k, v in stats.items() if k.endswith(".update_success"))
    rejected = sum(v for k, v in stats.items() if k.endswith(".update_rejected"))
    return accepted, rejected


def ecds_update(envoy: ProbeEnvoy, text: str, **resource) -> tuple[int, list[dict]]:
    """Writes a new ECDS resource (`resource`: write_ecds's vm_id, name, env); waits for Envoy to take it
    (update_success) or refuse it (update_rejected)."""
    mark = len(envoy.events())
    reloads, fails = ecds_counts(envoy)
    moved = envoy.write_ecds("kmf-probe", text, **resource)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now_reloads, now_fails = ecds_counts(envoy)
        if now_reloads > reloads or now_fails > fails:
            break
        time.sleep(0.02)
    else:
        raise harness.HarnessError("ECDS update neither reloaded nor failed")
    time.sleep(0.5)  # let the workers' callbacks be logged
    return moved, since(envoy.events(), mark)


def scenario_ecds(run_root: Path, wasm: Path, echo: EchoServer) -> None:
    print("\n== ECDS from a file (atomic rename), --concurrency 1", flush=True)
    config_a, config_b, config_c = "label=A scope=s", "label=B scope=s", "label=C scope=s"
    envoy = ProbeEnvoy(run_root / "ecds-1", wasm, echo.port, [{"name": "l1", "filter": ("ecds", "kmf-probe")}],
                       ecds={"kmf-probe": {"text": config_a}})  # fmt: skip
    try:
        start = envoy.events()
        print("    startup:\n" + describe(start))
        threads = {e["thread"] for e in start if e["event"] == "configure"}
        fact("startup", f"on_configure for the first configuration ran on {len(threads)} thread(s) "
             f"in {len({e['vm'] for e in start if e['event'] == 'configure'})} VM(s)")  # fmt: skip
        configures = envoy.stat_sum("kmf_probe.configures")
        fact("canary.counter", f"a counter incremented in every on_configure reads {configures} after "
             f"{count(start, 'configure')} on_configure calls (canary included)")  # fmt: skip
        c1 = Client(envoy.ports["l1"], "c1")
        d = data_of(envoy, c1.send())
        worker_vm, root_a = d["vm"], d["root"]
        fact("ecds.baseline", f"c1: {conn(d)}")

        moved, ev = ecds_update(envoy, config_b)
        print("    A -> B:\n" + describe(ev))
        configure_b = [e for e in ev if e["event"] == "configure" and e["label"] == "B"]
        worker_b = [e for e in configure_b if e["vm"] == worker_vm]
        other_b = [e for e in configure_b if e["vm"] != worker_vm]
        fact("ecds.update.worker_vm_reused", f"on_configure(B) in the worker's existing VM: {bool(worker_b)} "
             f"(root {worker_b[0]['root'] if worker_b else '-'}, "
             f"new root: {bool(worker_b) and worker_b[0]['root'] != root_a})")  # fmt: skip
        fact("ecds.update.other_vms", f"on_configure(B) in other VMs: {len(other_b)} "
             f"(threads {sorted({e['thread'] for e in other_b})}, VMs started for it: "
             f"{count(ev, 'vm_start')}, roots done: {count(ev, 'root_done')})")  # fmt: skip
        if worker_b:
            fact("ecds.delay.rename_to_worker_configure", f"{(int(worker_b[0]['t']) - moved) / 1e6:.1f} ms")
        d = data_of(envoy, c1.send())
        fact("ecds.old_stream", f"c1 after the update: {conn(d)}")
        design = [("A -> B, c1", "B", d["effective"])]
        c2 = Client(envoy.ports["l1"], "c2")
        d2 = data_of(envoy, c2.send())
        fact("ecds.new_stream", f"c2 (new connection): {conn(d2)}; same VM as c1: {d2['vm'] == worker_vm}")

        # Revert to the byte-identical A while c1 (root A) is open.
        _, ev = ecds_update(envoy, config_a)
        print("    B -> A (byte-identical to the first, c1 still open on it):\n" + describe(ev))
        fact("ecds.revert.configure_calls", f"on_configure calls for the revert (label, VM, root, thread): "
             f"{calls(ev)}")  # fmt: skip
        c3 = Client(envoy.ports["l1"], "c3")
        d3 = data_of(envoy, c3.send())
        fact("ecds.revert.new_stream_root", f"c3 (new connection after the revert): {conn(d3)}; "
             f"reuses c1's root {root_a}: {d3['root'] == root_a}")  # fmt: skip
        d = data_of(envoy, c1.send())
        fact("ecds.revert.old_stream", f"c1 after the revert: {conn(d)}")
        design += [("B -> A (revert), c1", "A", d["effective"]), ("B -> A (revert), new c3", "A", d3["effective"])]

        # Revert to B again while c2 holds root B; then C; then a config the module rejects.
        _, ev = ecds_update(envoy, config_c)
        fact("ecds.new_config_again", f"A -> C: on_configure calls {calls(ev)}")
        c1.close(); c3.close()  # noqa: E702 - root A has no connection left
        time.sleep(0.5)
        _, ev = ecds_update(envoy, config_a)
        fact("ecds.revert_after_close", f"C -> A after every A connection closed: on_configure calls "
             f"{calls(ev)}; roots done so far: "
             f"{[(e['root'], e['label']) for e in envoy.events() if e['event'] == 'root_done']}")  # fmt: skip
        c4 = Client(envoy.ports["l1"], "c4")
        d4 = data_of(envoy, c4.send())
        fact("ecds.revert_after_close.new_stream", f"c4: {conn(d4)}")

        reloads, fails = ecds_counts(envoy)
        _, ev = ecds_update(envoy, "label=BAD scope=s reject=1")
        reloads2, fails2 = ecds_counts(envoy)
        fact("ecds.rejected", f"a configuration on_configure refuses: update_success {reloads}->{reloads2}, "
             f"update_rejected {fails}->{fails2}; on_configure calls {calls(ev)}, refusals "
             f"{calls(ev, 'configure_rejected')}")  # fmt: skip
        c5 = Client(envoy.ports["l1"], "c5")
        try:
            d5 = data_of(envoy, c5.send())
            fact("ecds.rejected.new_stream", f"new connection after the refused update: {conn(d5)}")
        except (OSError, harness.HarnessError) as e:
            fact("ecds.rejected.new_stream", f"new connection after the refused update fails: {e!r}"[:200])
        d2 = data_of(envoy, c2.send())
        fact("ecds.rejected.old_stream", f"c2 after the refused update: {conn(d2)}")
        design += [("A -> refused, c2 (opened under B)", "A", d2["effective"])]
        design_fact("design.ecds", design)
        held = [c2, c4, c5]
        rss_before = envoy_rss_kib(envoy)
        for version in range(1, 6):
            ecds_update(envoy, f"label=R{version} scope=s")
            held.append(Client(envoy.ports["l1"], f"h{version}"))
            data_of(envoy, held[-1].send())
        rss_held = envoy_rss_kib(envoy)
        fact("ecds.memory", f"5 more changes, one connection kept open on each: Envoy's RSS grew by "
             f"{(rss_held - rss_before) / 1024:.1f} MiB (a root context per change in the same VMs, and a canary "
             f"VM each time)")  # fmt: skip
        for c in held:
            c.close()
    finally:
        envoy.stop()


def scenario_istio_like(run_root: Path, wasm: Path, echo: EchoServer) -> None:
    """The ECDS resource as Istio builds it for a WasmPlugin (pilot/pkg/model/extensions.go): name
    `<namespace>.<name>`, no vm_id, and the WasmPlugin's resourceVersion in vm_config's environment variables,
    so every change of the WasmPlugin also changes the VM configuration."""
    print("\n== ECDS as Istio builds it (no vm_id, resourceVersion in the VM's environment), --concurrency 1",
          flush=True)  # fmt: skip
    istio = {"vm_id": "", "name": "kafka.kafka-mtls-filter"}

    def env(version: int) -> dict:
        return {"ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION": str(version)}

    envoy = ProbeEnvoy(run_root / "istio-like", wasm, echo.port, [{"name": "l1", "filter": ("ecds", "kmf-probe")}],
                       ecds={"kmf-probe": {"text": "label=A scope=s", "env": env(1), **istio}})  # fmt: skip
    try:
        ev = envoy.events()
        c1 = Client(envoy.ports["l1"], "c1")
        d1 = data_of(envoy, c1.send())
        plugin_name = next(e for e in ev if e["event"] == "configure")["plugin_name"]
        fact("istio.baseline", f"c1: {conn(d1)}; plugin_name={plugin_name}")
        _, ev = ecds_update(envoy, "label=B scope=s", env=env(2), **istio)
        reused = any(e["vm"] == d1["vm"] for e in ev if e["event"] == "configure")
        fact("istio.update.configure", f"A -> B (resourceVersion 2): on_configure calls {calls(ev)}; VMs started "
             f"{count(ev, 'vm_start')}; the worker VM of c1 among them: {reused}")  # fmt: skip
        c2 = Client(envoy.ports["l1"], "c2")
        d2 = data_of(envoy, c2.send())
        fact("istio.update.new_stream", f"c2: {conn(d2)}; same VM as c1: {d2['vm'] == d1['vm']}")
        d1 = data_of(envoy, c1.send())
        fact("istio.update.old_stream", f"c1: {conn(d1)} (shared data across the old and the new VM)")
        design = [("A -> B, c1", "B", d1["effective"])]
        _, ev = ecds_update(envoy, "label=A scope=s", env=env(3), **istio)
        fact("istio.revert.configure", f"B -> A again (pluginConfig byte-identical to the first, resourceVersion 3): "
             f"on_configure calls {calls(ev)}")  # fmt: skip
        c3 = Client(envoy.ports["l1"], "c3")
        d3 = data_of(envoy, c3.send())
        fact("istio.revert.new_stream", f"c3: {conn(d3)}; c1's VM and root: {d1['vm'][:6]} {d1['root']}")
        d1 = data_of(envoy, c1.send())
        fact("istio.revert.old_stream", f"c1: {conn(d1)}")
        design += [("B -> A, c1", "A", d1["effective"]), ("B -> A, c2", "A", data_of(envoy, c2.send())["effective"]),
                   ("B -> A, new c3", "A", d3["effective"])]  # fmt: skip
        design_fact("design.istio", design)
        # Each WasmPlugin change makes new VMs; the old ones stay while their connections stay.
        held = [c1, c2, c3]
        rss_before = envoy_rss_kib(envoy)
        for version in range(4, 9):
            ecds_update(envoy, f"label=R{version} scope=s", env=env(version), **istio)
            held.append(Client(envoy.ports["l1"], f"h{version}"))
            data_of(envoy, held[-1].send())
        rss_held = envoy_rss_kib(envoy)
        fact("istio.vm_memory", f"5 more WasmPlugin changes, one connection kept open on each: Envoy's RSS grew by "
             f"{(rss_held - rss_before) / 1024:.1f} MiB ({(rss_held - rss_before) / 5 / 1024:.1f} MiB per change, "
             f"a worker VM and its root kept alive by its connection)")  # fmt: skip
        for c in held:
            c.close()
    finally:
        envoy.stop()


def scenario_ecds_delay(run_root: Path, wasm: Path, echo: EchoServer, concurrency: int = 2, updates: int = 5) -> None:
    print(f"\n== ECDS update delay and shared data across workers, --concurrency {concurrency}", flush=True)
    envoy = ProbeEnvoy(run_root / "ecds-2", wasm, echo.port, [{"name": "l1", "filter": ("ecds", "kmf-probe")}],
                       concurrency=concurrency, ecds={"kmf-probe": {"text": "label=A scope=s"}})  # fmt: skip
    try:
        clients = [Client(envoy.ports["l1"], f"w{i}") for i in range(8)]
        for c in clients:
            c.send()
        time.sleep(0.3)
        data = [e for e in envoy.events() if e["event"] == "data"]
        by_vm = {}
        for e in data:
            by_vm.setdefault(e["vm"], []).append(e)
        fact("workers.vms", f"8 connections landed in {len(by_vm)} VM(s) on threads "
             f"{sorted({e['thread'] for e in data})}")  # fmt: skip
        last = data[-1]
        fact("workers.counters", f"module-global data counter per VM: "
             f"{ {vm[:6]: max(int(e['data_in_vm']) for e in es) for vm, es in by_vm.items()} }; shared counter: "
             f"{max(int(e['shared_count']) for e in data)} (= all VMs' sum: shared data is process-wide)")  # fmt: skip
        startup_cfg = [e for e in envoy.events() if e["event"] == "configure"]
        print("    startup:\n" + describe(envoy.events()))
        fact("workers.startup_configure", f"on_configure(A) ran in {len({e['vm'] for e in startup_cfg})} VMs on "
             f"threads "
             f"{sorted({e['thread'] for e in startup_cfg})}; publishes saw before_gen "
             f"{[e['before_gen'] for e in envoy.events() if e['event'] == 'publish']}")  # fmt: skip

        # Keep every connection sending in the background; then update (several times), and find the first
        # chunk of an old connection that reads the new configuration from shared data.
        stop = threading.Event()
        errors = []

        def pump(client):
            try:
                while not stop.is_set():
                    client.send()
                    time.sleep(0.002)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        threads = [threading.Thread(target=pump, args=(c,), daemon=True) for c in clients]
        for t in threads:
            t.start()
        to_first_configure, to_workers, to_old_stream = [], [], []
        try:
            # The last round goes back to A, byte-identical to the configuration the connections started with.
            for round_number in range(1, updates + 2):
                label = f"B{round_number}" if round_number <= updates else "A"
                time.sleep(0.3)
                mark = len(envoy.events())
                moved, _ = ecds_update(envoy, f"label={label} scope=s")
                time.sleep(0.2)
                ev = since(envoy.events(), mark)
                configures = [e for e in ev if e["event"] == "configure" and e["label"] == label]
                first_cfg = min(int(e["t"]) for e in configures)
                worker_cfg = [int(e["t"]) for e in configures if e["vm"] in by_vm]
                first_new = [int(e["t"]) for e in ev if e["event"] == "data" and e["latest_label"] == label
                             and int(e["t"]) >= first_cfg]  # fmt: skip
                if label == "A":
                    fact("workers.revert", f"B{updates} -> A (byte-identical to the startup configuration; all 8 "
                         f"connections still on their root A): on_configure in {len(configures)} VM(s), threads "
                         f"{sorted({e['thread'] for e in configures})}, worker VMs among them: {len(worker_cfg)}; "
                         f"first chunk of an open connection reading A from shared data "
                         f"{(min(first_new) - first_cfg) / 1e6 if first_new else float('nan'):.1f} ms after that "
                         f"on_configure")  # fmt: skip
                    continue
                to_first_configure.append((first_cfg - moved) / 1e6)
                to_workers.append((max(worker_cfg) - moved) / 1e6 if worker_cfg else float("nan"))
                to_old_stream.append((min(first_new) - first_cfg) / 1e6 if first_new else float("nan"))
                if round_number == 1:
                    print("    A -> B1 under load:\n" + describe(ev))
                    old_after = [e for e in ev if e["event"] == "data" and worker_cfg and int(e["t"]) > max(worker_cfg)]
                    fact("delay.old_roots_after", f"chunks after every worker configured B1: own roots "
                         f"{sorted({e['own_label'] for e in old_after})}, "
                         f"latest {sorted({e['latest_label'] for e in old_after})}")  # fmt: skip
        finally:
            stop.set()
            for t in threads:
                t.join(5)

        def spread(values):
            values = sorted(values)
            return f"min {values[0]:.1f} / median {statistics.median(values):.1f} / max {values[-1]:.1f} ms"

        fact("delay.rename_to_first_configure", f"{spread(to_first_configure)} over {updates} updates (file rename to "
             f"the first on_configure of the new configuration in any VM: Envoy's file watch, the canary "
             f"VM)")  # fmt: skip
        fact("delay.rename_to_last_worker_configure", spread(to_workers))
        fact("delay.first_configure_to_old_stream", f"{spread(to_old_stream)} (first on_configure to the first chunk "
             f"of an OPEN connection that reads the new configuration from shared data; clients send every ~2 ms; "
             f"{len(errors)} client errors)")  # fmt: skip
        for c in clients:
            c.close()
    finally:
        envoy.stop()


def scenario_lds(run_root: Path, wasm: Path, echo: EchoServer) -> None:
    print("\n== LDS from a file (listener update), --concurrency 1", flush=True)
    listener = lambda text: [{"name": "l1", "filter": ("inline", text, "kmf-probe")}]  # noqa: E731
    # The design's settle time S at 500 ms here, so that the revert's first new connection comes after it.
    envoy = ProbeEnvoy(run_root / "lds", wasm, echo.port, listener("label=A scope=s settle_ms=500"), lds=True)
    design = []
    try:
        c1 = Client(envoy.ports["l1"], "c1")
        d = data_of(envoy, c1.send())
        worker_vm, root_a = d["vm"], d["root"]
        for label in ("B", "A"):
            mark = len(envoy.events())
            before = envoy.stats("listener_manager.lds.").get("listener_manager.lds.update_success", 0)
            moved = envoy.write_lds(listener(f"label={label} scope=s settle_ms=500"))
            wait_stat(envoy, "listener_manager.lds.", "update_success", before)
            time.sleep(0.8)
            ev = since(envoy.events(), mark)
            print(f"    -> {label}:\n" + describe(ev))
            cfg = [e for e in ev if e["event"] == "configure"]
            first = (int(cfg[0]["t"]) - moved) / 1e6 if cfg else float("nan")
            fact(f"lds.{label}.configure", f"on_configure calls: {calls(ev)} (worker VM {worker_vm[:6]}; first "
                 f"{first:.1f} ms after the rename)")  # fmt: skip
            d = data_of(envoy, c1.send())
            fact(f"lds.{label}.old_stream", f"c1: {conn(d)}")
            cn = Client(envoy.ports["l1"], f"n{label}")
            dn = data_of(envoy, cn.send())
            fact(f"lds.{label}.new_stream", f"new connection: {conn(dn)}; same VM as c1: {dn['vm'] == worker_vm}, "
                 f"c1's root: {root_a}")  # fmt: skip
            da = data_of(envoy, c1.send())
            fact(f"lds.{label}.old_stream_after_new", f"c1 after that new connection: {conn(da)}")
            design += [(f"-> {label}, c1", label, d["effective"]),
                       (f"-> {label}, new connection", label, dn["effective"]),
                       (f"-> {label}, c1 after the new connection", label, da["effective"])]  # fmt: skip
            cn.close()
        c1.close()
        design_fact("design.lds", design)
    finally:
        envoy.stop()


def scenario_two_listeners(run_root: Path, wasm: Path, echo: EchoServer) -> None:
    print("\n== two listeners, different configurations, same vm_id; a third with another vm_id (each listener "
          "has metadata kmf.listener=<name>)", flush=True)
    listeners = [
        {"name": "l1", "filter": ("inline", "label=L1 scope=s settle_ms=0", "kmf-probe")},
        {"name": "l2", "filter": ("inline", "label=L2 scope=s settle_ms=0", "kmf-probe")},
        {"name": "l3", "filter": ("inline", "label=L3 scope=s", "kmf-probe-other")},
    ]
    envoy = ProbeEnvoy(run_root / "two", wasm, echo.port, listeners)
    try:
        print("    startup:\n" + describe(envoy.events()))
        got = {}
        for name in ("l1", "l2", "l3"):
            c = Client(envoy.ports[name], name)
            got[name] = data_of(envoy, c.send())
            c.close()
        fact("listeners.share_vm", f"l1 and l2 (same vm_id, different configurations): same VM "
             f"{got['l1']['vm'] == got['l2']['vm']}, roots {got['l1']['root']} and {got['l2']['root']}; "
             f"l3 (other vm_id): same VM as l1 {got['l3']['vm'] == got['l1']['vm']}")  # fmt: skip
        fact("listeners.shared_key_mix", f"same scope key: l1 reads latest={got['l1']['latest_label']}, "
             f"l2 reads latest={got['l2']['latest_label']}, l3 (other vm_id) reads latest={got['l3']['latest_label']}; "
             f"in the stream context xds.filter_chain_name={got['l1'].get('filter_chain')} and xds.listener_metadata="
             f"{got['l1'].get('stream_listener_metadata')} (the listener's metadata kmf.listener=l1)")  # fmt: skip
        # The design's rules with one key for both listeners: each new connection re-claims the key for its
        # listener's configuration, and an open l1 connection follows whichever came last.
        keep = Client(envoy.ports["l1"], "keep")
        data_of(envoy, keep.send())
        design = []
        for name in ("l2", "l1", "l2"):
            other = Client(envoy.ports[name], f"new-{name}")
            data_of(envoy, other.send())
            other.close()
            design.append((f"new connection on {name}, then the open l1 connection", "L1",
                           data_of(envoy, keep.send())["effective"]))  # fmt: skip
        keep.close()
        design_fact("design.two_listeners_one_key", design)
        publishes = [e for e in envoy.events() if e["event"] == "publish"]
        fact("listeners.shared_per_vm_id", f"publish sequence (label seen before, its gen, new gen, VM): "
             f"{[(e['before_label'], e['before_gen'], e['gen'], e['vm'][:6]) for e in publishes]}")  # fmt: skip
        cfg = [e for e in envoy.events() if e["event"] == "configure"]
        fact("properties.root", "root-context properties in on_configure (listener metadata set): " + "; ".join(
            f"plugin_name={e['plugin_name']} vm_id={e['plugin_vm_id']} listener_direction={e['listener_direction']} "
            f"listener_metadata={e['listener_metadata']} xds.listener_name={e['xds.listener_name']}" for e in cfg[:1]))
    finally:
        envoy.stop()


def envoy_rss_kib(envoy: ProbeEnvoy) -> int:
    for line in Path(f"/proc/{envoy.process.popen.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def envoy_cpu_seconds(envoy: ProbeEnvoy) -> float:
    fields = Path(f"/proc/{envoy.process.popen.pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scenario_read_cost(run_root: Path, wasm: Path, echo: EchoServer, reads: int = 200, messages: int = 10000,
                       rounds: int = 5) -> None:  # fmt: skip
    print(f"\n== cost of one shared-data read: Envoy CPU with {reads} reads per client chunk vs none", flush=True)
    envoys = {
        n: ProbeEnvoy(run_root / f"cost-{n}", wasm, echo.port,
                      [{"name": "l1", "filter": ("inline", f"label=C scope=s reads={n}", "kmf-probe")}])
        for n in (0, reads)
    }  # fmt: skip
    try:
        per_read = []
        for round_number in range(rounds):
            cpu = {}
            order = list(envoys.items()) if round_number % 2 == 0 else list(reversed(envoys.items()))
            for n, envoy in order:
                client = Client(envoy.ports["l1"], "cost")
                before = envoy_cpu_seconds(envoy)
                for _ in range(messages):
                    client.send("x")
                cpu[n] = envoy_cpu_seconds(envoy) - before
                client.close()
            per_read.append((cpu[reads] - cpu[0]) / (messages * reads) * 1e6)
        # Many reads per chunk, so that the reads' CPU (seconds per round) stands well above the noise of a shared
        # machine; the two Envoys alternate within each round.
        fact("cost.shared_data_read", f"{statistics.median(per_read):.2f} us of Envoy CPU per get_shared_data of a "
             f"~90-byte record (median of {rounds} rounds: {', '.join(f'{x:.2f}' for x in per_read)}; "
             f"{messages} chunks x {reads} reads each)")  # fmt: skip
    finally:
        for envoy in envoys.values():
            envoy.stop()


def scenario_filter_memory(run_root: Path, echo: EchoServer, changes: int = 5) -> None:
    """The real filter module instead of the probe: Envoy's memory per configuration change while a connection
    holds each old configuration, for plain ECDS (a new root per change) and Istio's shape (new VMs)."""
    if not harness.WASM_PATH.exists():
        print(f"\n== (skipped: the filter module {harness.WASM_PATH} is not built)")
        return
    print("\n== the filter module: Envoy's memory per change, a connection held on each, --concurrency 1", flush=True)

    def text(n: int) -> str:
        return json.dumps({"identity": {"unauthenticated": "anonymous"}, "observability": {"maxLabelValues": 100 + n}})

    istio = {"vm_id": "", "name": "kafka.kafka-mtls-filter"}
    cases = (("plain ECDS", {}, True), ("Istio's shape", istio, True), ("Istio's shape, no connection", istio, False))
    for shape, extra, hold in cases:
        def resource(n: int) -> dict:
            env = {"ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION": str(n)} if extra else None
            return {"text": text(n), "env": env, **extra}

        listeners = [{"name": "l1", "filter": ("ecds", "kmf-probe")}]
        envoy = ProbeEnvoy(run_root / f"filter-memory-{len(extra)}-{hold}", harness.WASM_PATH, echo.port, listeners,
                           ecds={"kmf-probe": resource(0)})  # fmt: skip
        held = []
        try:
            held.append(Client(envoy.ports["l1"], "h0"))
            time.sleep(0.3)
            rss_before = envoy_rss_kib(envoy)
            for n in range(1, changes + 1):
                spec = resource(n)
                ecds_update(envoy, spec.pop("text"), **spec)
                if hold:
                    held.append(Client(envoy.ports["l1"], f"h{n}"))
                time.sleep(0.3)
            grown = (envoy_rss_kib(envoy) - rss_before) / 1024
            key = f"filter.memory.{'istio' if extra else 'ecds'}{'' if hold else '.none_held'}"
            fact(key, f"{shape}: Envoy's RSS grew by {grown:.1f} MiB over {changes} changes ({grown / changes:.1f} MiB "
                 f"per change){' with one connection held on each' if hold else ''}")  # fmt: skip
        finally:
            for c in held:
                c.close()
            envoy.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep-logs", action="store_true", help="keep the Envoy logs under integration/.run/")
    parser.add_argument("--json", type=Path, help="also write the facts to this file")
    args = parser.parse_args()
    wasm = build_probe()
    run_root = harness.RUN_DIR / "policy-update-facts"
    echo = EchoServer()
    started = time.monotonic()
    try:
        version = subprocess.run([harness.envoy_binary(), "--version"], capture_output=True, text=True).stdout
        print(f"Envoy: {version.strip()}")
        scenario_ecds(run_root, wasm, echo)
        scenario_istio_like(run_root, wasm, echo)
        scenario_ecds_delay(run_root, wasm, echo)
        scenario_lds(run_root, wasm, echo)
        scenario_two_listeners(run_root, wasm, echo)
        scenario_filter_memory(run_root, echo)
        scenario_read_cost(run_root, wasm, echo)
    finally:
        echo.stop()
        if not args.keep_logs:
            shutil.rmtree(run_root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(dict(FACTS), indent=1))
    print(f"\n{len(FACTS)} facts in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
