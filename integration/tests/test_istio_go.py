"""Istio's own code on what we ship: the Go tests of integration/istio-go (a Go module pinning istio.io/istio),
run here so that they are part of the test command.

- Istio's Wasm image fetcher and istio-agent's module cache (pkg/wasm) pull the filter's OCI image from a loopback
  registry (Debian's docker-registry, as in test_oci.py), in every form integration/oci/build.py publishes: the
  compat image with OCI media types (default), the same with Docker's media types (--docker), and the Wasm OCI
  artifact (--variant artifact). The bytes must be the module built; a wrong digest must be refused.
- Istio's xDS generation (its fake discovery server, in-process) turns istio/wasmplugin.yaml and, separately,
  istio/envoyfilter-wasm.yaml, with the PeerAuthentication and buffer limits, into the broker sidecar's listener and
  extension config; the tests assert where the filter lands and what it carries, what FAIL_CLOSE gives when the
  image cannot be fetched, and write the generated configuration into a directory for the tests below.

The Go module cache (GOMODCACHE) and build cache (GOCACHE) are Go's defaults, so later runs reuse them;
integration/istio-go/setup.sh installs Go if it is missing and downloads the modules (idempotent).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
GO_MODULE = REPO / "integration" / "istio-go"
BUILD_SCRIPT = REPO / "integration" / "oci" / "build.py"
REGISTRY_BIN = Path("/usr/bin/docker-registry")
TAG = "0.1.0"

# Every Go test and subtest that must pass (none may be skipped).
EXPECTED_GO_TESTS = [
    "TestImageFetcherExtractsTheModule/compat-oci",
    "TestImageFetcherExtractsTheModule/compat-docker",
    "TestImageFetcherExtractsTheModule/artifact",
    "TestAgentCacheChecksTheDigest/compat-oci",
    "TestAgentCacheChecksTheDigest/compat-docker",
    "TestAgentCacheChecksTheDigest/artifact",
    "TestWasmPluginGeneratedConfig",
    "TestEnvoyFilterGeneratedConfig",
    "TestFailCloseWhenTheImageCannotBeFetched",
    "TestAgentRewritesTheImageToTheLocalModule",
]


@pytest.fixture(scope="module")
def wasm_module() -> Path:
    path = harness.WASM_PATH
    if not path.is_file():
        subprocess.run(["bash", str(REPO / "integration" / "build-wasm.sh")], cwd=REPO, check=True)
    assert path.is_file(), f"cargo built no module at {path}"
    return path


@pytest.fixture(scope="module")
def go() -> str:
    """Go, installed by integration/istio-go/setup.sh if missing; the module's dependencies downloaded."""
    result = subprocess.run(["sh", str(GO_MODULE / "setup.sh")], capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, f"integration/istio-go/setup.sh failed:\n{result.stdout}{result.stderr}"
    found = result.stdout.strip().splitlines()[-1].removeprefix("GO=")
    assert Path(found).is_file(), f"no go after integration/istio-go/setup.sh:\n{result.stdout}"
    return found


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A docker-registry on 127.0.0.1:<free port> for this module's tests; yields host:port."""
    missing = [tool for tool in ("skopeo",) if shutil.which(tool) is None]
    if not REGISTRY_BIN.is_file():
        missing.append(str(REGISTRY_BIN))
    assert not missing, f"missing {missing}: run integration/oci/setup.sh"
    directory = tmp_path_factory.mktemp("registry")
    port = harness.free_port()
    config = directory / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {directory / 'storage'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    with (directory / "registry.log").open("wb") as log:
        process = subprocess.Popen([str(REGISTRY_BIN), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
        try:
            harness.wait_for_port("127.0.0.1", port, timeout=20)
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def registry_digest(reference: str) -> str:
    """The digest of the manifest the registry serves for `reference` (what Istio compares a sha256 with)."""
    raw = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", "--raw", f"docker://{reference}"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.fixture(scope="module")
def images(registry, wasm_module, tmp_path_factory) -> dict:
    """The three forms of the image, pushed with integration/oci/build.py as a user runs it."""
    pushed = {}
    forms = {
        "compat-oci": [],
        "compat-docker": ["--docker"],
        "artifact": ["--variant", "artifact"],
    }
    for variant, options in forms.items():
        reference = f"{registry}/kafka/kafka-mtls-filter-{variant}:{TAG}"
        layout = tmp_path_factory.mktemp(f"oci-{variant}")
        result = subprocess.run(
            [sys.executable, str(BUILD_SCRIPT), "--wasm", str(wasm_module), "--out", str(layout), "--tag", TAG,
             "--push", reference, *options],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"build.py {options}: {result.stdout}{result.stderr}"
        digest = registry_digest(reference)
        if variant != "compat-docker":
            # Pushed as built: the digest build.py prints is the registry's.
            assert f"manifest digest:  {digest}" in result.stdout, (digest, result.stdout)
        pushed[variant] = {"reference": reference, "digest": digest}
    return pushed


def run_go_tests(go: str, env: dict, timeout: int = 3600) -> tuple[dict, str, float]:
    """`go test -json ./...` in integration/istio-go; returns ({test: final action}, the whole output, seconds)."""
    started = time.monotonic()
    result = subprocess.run(
        [go, "test", "-json", "-count=1", "-timeout", "30m", "./..."],
        cwd=GO_MODULE,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    elapsed = time.monotonic() - started
    outcomes, output = {}, []
    for line in result.stdout.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            output.append(line)
            continue
        if event.get("Output"):
            output.append(event["Output"].rstrip("\n"))
        if event.get("Test") and event.get("Action") in ("pass", "fail", "skip"):
            outcomes[event["Test"]] = event["Action"]
    text = "\n".join(output) + "\n" + result.stderr
    return outcomes, text, elapsed


@pytest.fixture(scope="module")
def go_run(go, images, wasm_module, tmp_path_factory):
    out = tmp_path_factory.mktemp("istio-generated")
    env = {
        **os.environ,
        "KMF_WASM": str(wasm_module),
        "KMF_OCI_IMAGES": json.dumps(images),
        "KMF_ISTIO_OUT": str(out),
        # go.sum is committed: the module graph must not change during a test run.
        "GOFLAGS": "-mod=readonly",
        "GOTOOLCHAIN": "local",
    }
    outcomes, output, elapsed = run_go_tests(go, env)
    print(f"go test ./... in integration/istio-go: {elapsed:.0f} s")
    return {"outcomes": outcomes, "output": output, "out": out, "images": images}


@pytest.mark.slow
def test_istio_go_tests_pass(go_run):
    outcomes, output = go_run["outcomes"], go_run["output"]
    failed = sorted(test for test, action in outcomes.items() if action == "fail")
    assert not failed, f"Go tests failed: {failed}\n{output[-20000:]}"
    not_passed = [test for test in EXPECTED_GO_TESTS if outcomes.get(test) != "pass"]
    assert not not_passed, f"Go tests not passed (skipped or missing): {not_passed}\n{output[-20000:]}"


@pytest.mark.slow
def test_generated_configuration_is_written_out(go_run):
    out = go_run["out"]
    for name in (
        "wasmplugin-listener.json",
        "wasmplugin-chain.json",
        "wasmplugin-ecds.json",
        "wasmplugin-ecds-local.json",
        "wasmplugin-ecds-local-updated.json",
        "wasmplugin-ecds-fail-close.json",
        "envoyfilter-chain.json",
    ):
        assert (out / name).is_file(), f"the Go tests wrote no {name}"
    ecds = json.loads((out / "wasmplugin-ecds-local.json").read_text())
    local = ecds["typed_config"]["config"]["vm_config"]["code"]["local"]["filename"]
    assert re.search(r"\.wasm$", local), local


# --- The generated configuration run by a real Envoy in front of Apache Kafka ------------------------------------

WASM_NETWORK_TYPE = "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"
TCP_PROXY_TYPE = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
EXTENSION_CONFIG_TYPE = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"


def write_ecds(path: Path, extension_config: dict, version: str) -> None:
    """An ECDS response file for Envoy's filesystem subscription, replaced atomically (a rename) as Envoy wants."""
    response = {"version_info": version, "resources": [{"@type": EXTENSION_CONFIG_TYPE, **extension_config}]}
    staging = path.with_suffix(".tmp")
    staging.write_text(json.dumps(response, indent=2))
    os.replace(staging, path)


def sidecar_bootstrap(out: Path, form: str, ecds_path: Path, listen_port: int, admin_port: int,
                      broker: tuple[str, int], cert_dir: Path, wasm_module: Path) -> tuple[dict, list[str]]:
    """An Envoy bootstrap whose only listener is the port 9092 inbound chain Istio generated for the broker's
    sidecar (`form`: wasmplugin-chain.json or envoyfilter-chain.json), with what istio-agent and the pod provide
    swapped for the harness's:

    - SDS secrets `default` (the workload certificate) and `ROOTCA` (the mesh CA) become static secrets of the same
      names holding the harness's server certificate and CA;
    - the ECDS source (istiod over ADS) becomes a file holding the extension config istio-agent produced
      (module already fetched from the registry into a local file, wasmplugin-ecds-local.json);
    - the EnvoyFilter's module file (mounted from a ConfigMap in the pod) is the module built;
    - the inbound cluster of port 9092 points at the Apache Kafka broker's plaintext listener;
    - the filter chain match (destination port 9092 on the virtualInbound listener, behind iptables) goes: the
      listener itself is on a loopback port.

    Istio's own network filters (istio.*: metadata exchange, stats) exist only in Istio's Envoy build (istio-proxy),
    not in upstream Envoy: they are left out, and returned."""
    chain = json.loads((out / f"{form}-chain.json").read_text())
    listener = json.loads((out / f"{form}-listener.json").read_text())
    chain.pop("filter_chain_match", None)
    dropped = [f["name"] for f in chain["filters"] if f["name"].startswith("istio.")]
    chain["filters"] = [f for f in chain["filters"] if not f["name"].startswith("istio.")]
    cluster_name = None
    for network_filter in chain["filters"]:
        if "config_discovery" in network_filter:
            assert WASM_NETWORK_TYPE in network_filter["config_discovery"]["type_urls"]
            network_filter["config_discovery"]["config_source"] = {
                "path_config_source": {"path": str(ecds_path), "watched_directory": {"path": str(ecds_path.parent)}},
                "resource_api_version": "V3",
            }
        typed = network_filter.get("typed_config", {})
        if typed.get("@type") == TCP_PROXY_TYPE:
            cluster_name = typed["cluster"]
        if typed.get("@type") == WASM_NETWORK_TYPE:
            code = typed["config"]["vm_config"]["code"]
            assert code["local"]["filename"] == "/var/local/lib/wasm-filters/kafka_mtls_filter.wasm", code
            code["local"]["filename"] = str(wasm_module)
    assert cluster_name, chain["filters"]
    tls_context = chain["transport_socket"]["typed_config"]
    common = tls_context["common_tls_context"]
    assert [s["name"] for s in common["tls_certificate_sds_secret_configs"]] == ["default"]
    common["tls_certificate_sds_secret_configs"] = [{"name": "default"}]
    combined = common["combined_validation_context"]
    assert combined["validation_context_sds_secret_config"]["name"] == "ROOTCA"
    combined["validation_context_sds_secret_config"] = {"name": "ROOTCA"}
    bootstrap = {
        # The node istio-agent introduces to istiod (testdata/mesh.yaml's kafka-0); a file subscription needs one too.
        "node": {"id": "sidecar~10.40.0.5~kafka-0.kafka~kafka.svc.cluster.local", "cluster": "kafka.kafka"},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {
            "listeners": [
                {
                    "name": "virtualInbound-9092",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen_port}},
                    "per_connection_buffer_limit_bytes": listener["per_connection_buffer_limit_bytes"],
                    "filter_chains": [chain],
                }
            ],
            "clusters": [
                {
                    "name": cluster_name,
                    "type": "STATIC",
                    "connect_timeout": "5s",
                    "load_assignment": {
                        "cluster_name": cluster_name,
                        "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                            "address": broker[0], "port_value": broker[1]}}}}]}],
                    },
                }
            ],
            "secrets": [
                {
                    "name": "default",
                    "tls_certificate": {
                        "certificate_chain": {"filename": str(cert_dir / "server.crt")},
                        "private_key": {"filename": str(cert_dir / "server.key")},
                    },
                },
                {"name": "ROOTCA", "validation_context": {"trusted_ca": {"filename": str(cert_dir / "ca.crt")}}},
            ],
        },
    }
    return bootstrap, dropped


class GeneratedSidecar:
    """The Envoy of sidecar_bootstrap() in front of an Apache Kafka broker that advertises it; clients as in the
    harness (harness.produce/consume take this in place of a harness.Stack)."""

    listener = "mtls"
    client_config = harness.Stack.client_config

    def __init__(self, out: Path, run_dir: Path, form: str, wasm_module: Path):
        self.run_dir = run_dir
        self.cert_dir = harness.certs_dir()
        self.envoy_port = harness.free_port()
        self.bootstrap = f"127.0.0.1:{self.envoy_port}"
        self.admin_port = harness.free_port()
        self.ecds_path = run_dir / "ecds" / "extension-config.json"
        self.ecds_path.parent.mkdir(parents=True)
        self.kafka = harness.start_kafka(run_dir, self.envoy_port)
        self.envoy = None
        try:
            node = self.kafka.nodes[0]
            self.setup = ("127.0.0.1", node.internal_port)
            broker = ("127.0.0.1", node.listeners[0].port)
            config, self.dropped = sidecar_bootstrap(
                out, form, self.ecds_path, self.envoy_port, self.admin_port, broker, self.cert_dir, wasm_module
            )
            if form == "wasmplugin":
                ecds = json.loads((out / "wasmplugin-ecds-local.json").read_text())
                write_ecds(self.ecds_path, ecds, "1")
            config_path = run_dir / "envoy-generated.json"
            config_path.write_text(json.dumps(config, indent=2))
            argv = [
                harness.envoy_binary(), "-c", str(config_path), "--concurrency", "1", "--disable-hot-restart",
                "-l", "info", "--component-log-level", "wasm:debug",
            ]  # fmt: skip
            # The WasmPlugin's vmConfig.env HOST variable, as the sidecar container would carry it.
            env = {**os.environ, "KAFKA_MTLS_FILTER_PASSWORD_SECRET": "unused-by-banzai-preamble"}
            self.envoy = harness.Process("envoy", argv, run_dir / "envoy.log", cwd=run_dir, env=env)
            harness.wait_for_port("127.0.0.1", self.envoy_port, timeout=60, process=self.envoy)
            if form == "wasmplugin":
                self.wait_for_stat("extension_config_discovery.", "config_reload", 1)
        except BaseException:
            self.stop()
            raise

    def stats(self) -> dict[str, int]:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/stats", timeout=5) as response:
            lines = response.read().decode().splitlines()
        stats = {}
        for line in lines:
            name, _, value = line.partition(": ")
            if value.strip().lstrip("-").isdigit():
                stats[name] = int(value)
        return stats

    def wait_for_stat(self, prefix: str, suffix: str, at_least: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            matching = {k: v for k, v in self.stats().items() if k.startswith(prefix) and k.endswith(suffix)}
            if any(v >= at_least for v in matching.values()):
                return
            if time.monotonic() > deadline or not self.envoy.alive():
                raise AssertionError(f"{prefix}*{suffix} < {at_least}: {matching}\n{self.envoy.log_tail(40)}")
            time.sleep(0.2)

    def log_text(self) -> str:
        return self.envoy.log_text()

    def stop(self) -> None:
        if self.envoy is not None:
            self.envoy.stop()
        self.kafka.stop()


def start_sidecar(go_run, form: str, wasm_module: Path) -> GeneratedSidecar:
    run_dir = harness.RUN_DIR / f"istio-generated-{form}-{os.getpid()}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    return GeneratedSidecar(go_run["out"], run_dir, form, wasm_module)


TOPIC_AUTHORIZATION_FAILED = 29


def metadata_v1_topic_error(sock, topic: str, correlation_id: int) -> int:
    """Sends Metadata v1 for one topic on a raw connection; returns that topic's error code in the answer."""
    body = struct.pack(">i", 1) + harness.kafka_string(topic)
    frame = struct.pack(">hhi", 3, 1, correlation_id) + harness.kafka_string("it-istio") + body
    sock.sendall(struct.pack(">i", len(frame)) + frame)
    response = harness.read_frame(sock)
    got, brokers = struct.unpack_from(">ii", response, 0)
    assert got == correlation_id
    offset = 8
    for _ in range(brokers):  # node_id, host, port, rack (nullable)
        (host_len,) = struct.unpack_from(">h", response, offset + 4)
        offset += 4 + 2 + host_len + 4
        (rack_len,) = struct.unpack_from(">h", response, offset)
        offset += 2 + max(rack_len, 0)
    offset += 4  # controller_id
    topics, error_code, name_len = struct.unpack_from(">ihh", response, offset)
    name = response[offset + 8 : offset + 8 + name_len].decode()
    assert (topics, name) == (1, topic)
    return error_code


@pytest.fixture(scope="module")
def generated_sidecar(go_run, wasm_module):
    assert go_run["outcomes"].get("TestAgentRewritesTheImageToTheLocalModule") == "pass", go_run["output"][-5000:]
    sidecar = start_sidecar(go_run, "wasmplugin", wasm_module)
    try:
        yield sidecar
    finally:
        sidecar.stop()


@pytest.mark.slow
@pytest.mark.filter
def test_generated_sidecar_identifies_spiffe_clients_and_enforces_the_acls(generated_sidecar):
    """Through Istio's generated chain: mesh-checkout (spiffe://cluster.local/ns/payments/sa/checkout) is
    User:CN=payments-checkout and may write orders*; mesh-default (.../ns/kafka/sa/default, User:CN=kafka-default)
    has no ACL in istio/wasmplugin.yaml and is refused; payments-checkout may not read."""
    sidecar = generated_sidecar
    # Only Istio's own filters were left out (istio-proxy's metadata exchange, and stats where telemetry is on).
    assert "istio.metadata_exchange" in sidecar.dropped
    assert set(sidecar.dropped) <= {"istio.metadata_exchange", "istio.stats"}, sidecar.dropped
    harness.create_topic(*sidecar.setup, "orders-eu")
    delivered, failures, errors = harness.produce(sidecar, "mesh-checkout", "orders-eu", [b"o-1", b"o-2"], timeout=30)
    assert (delivered, failures) == (2, []), (failures, errors.text(), sidecar.envoy.log_tail(30))
    assert re.search(r"principal User:CN=payments-checkout \(spiffe\)", sidecar.log_text()), sidecar.envoy.log_tail(40)

    delivered, failures, _ = harness.produce(sidecar, "mesh-default", "orders-eu", [b"x"], timeout=15)
    assert delivered == 0 and failures, failures
    assert any("TOPIC_AUTHORIZATION_FAILED" in str(f) or "authoriz" in str(f).lower() for f in failures), failures
    assert re.search(r"principal User:CN=kafka-default \(spiffe\)", sidecar.log_text())

    refused: list = []
    assert harness.consume(sidecar, "mesh-checkout", "orders-eu", 2, timeout=10, errors_out=refused) == []
    assert refused, "payments-checkout has no Read on orders-eu: the consume must be refused"


@pytest.mark.slow
@pytest.mark.filter
def test_generated_sidecar_takes_a_plugin_config_update_and_fail_close(generated_sidecar, go_run):
    """The pluginConfig update path: the changed WasmPlugin's new extension config (Istio's, converted by
    istio-agent's code) reaches the running Envoy, and kafka-default may now read orders*, also on a connection
    opened before the update (issue 22). Then the FAIL_CLOSE substitute (deny-all network RBAC, what istio-agent
    sends when the image cannot be fetched) in its place: no client gets through."""
    sidecar = generated_sidecar
    harness.create_topic(*sidecar.setup, "orders-us")
    delivered, failures, _ = harness.produce(sidecar, "mesh-checkout", "orders-us", [b"u-1"], timeout=30)
    assert (delivered, failures) == (1, [])
    assert harness.consume(sidecar, "mesh-default", "orders-us", 1, timeout=8) == []

    # A connection open across the update: kafka-default may not Describe orders-us before it.
    held = harness.tls_socket(sidecar, "mesh-default")
    assert metadata_v1_topic_error(held, "orders-us", 1) == TOPIC_AUTHORIZATION_FAILED

    updated = json.loads((go_run["out"] / "wasmplugin-ecds-local-updated.json").read_text())
    reloads = sum(v for k, v in sidecar.stats().items() if k.endswith("config_reload") and "extension_config" in k)
    write_ecds(sidecar.ecds_path, updated, "2")
    sidecar.wait_for_stat("extension_config_discovery.", "config_reload", reloads + 1)
    assert harness.consume(sidecar, "mesh-default", "orders-us", 1, timeout=30) == [b"u-1"]
    # The open connection's next request is decided under the new policy (Read implies Describe).
    try:
        assert metadata_v1_topic_error(held, "orders-us", 2) == 0
    finally:
        held.close()

    fail_close = json.loads((go_run["out"] / "wasmplugin-ecds-fail-close.json").read_text())
    write_ecds(sidecar.ecds_path, fail_close, "3")
    sidecar.wait_for_stat("extension_config_discovery.", "config_reload", reloads + 2)
    delivered, failures, errors = harness.produce(sidecar, "mesh-checkout", "orders-us", [b"u-2"], timeout=10)
    assert delivered == 0, "the deny-all substitute let a produce through"
    stats = sidecar.stats()
    denied = sum(v for k, v in stats.items() if "wasm-default-deny" in k and k.endswith(".denied"))
    assert denied >= 1, {k: v for k, v in stats.items() if "rbac" in k}


@pytest.mark.slow
@pytest.mark.filter
def test_generated_envoyfilter_sidecar_identifies_and_enforces(go_run, wasm_module):
    """The EnvoyFilter form, as Istio generated it (the filter inline, the module from the mounted file): the same
    identity and the same ACLs."""
    assert go_run["outcomes"].get("TestEnvoyFilterGeneratedConfig") == "pass", go_run["output"][-5000:]
    sidecar = start_sidecar(go_run, "envoyfilter", wasm_module)
    try:
        harness.create_topic(*sidecar.setup, "orders-eu")
        delivered, failures, errors = harness.produce(sidecar, "mesh-checkout", "orders-eu", [b"e-1"], timeout=30)
        assert (delivered, failures) == (1, []), (failures, errors.text(), sidecar.envoy.log_tail(30))
        assert re.search(r"principal User:CN=payments-checkout \(spiffe\)", sidecar.log_text())
        delivered, failures, _ = harness.produce(sidecar, "mesh-default", "orders-eu", [b"x"], timeout=15)
        assert delivered == 0 and failures, failures
    finally:
        sidecar.stop()
