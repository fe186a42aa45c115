"""The Istio manifests in istio/ against Istio's own CRD schemas, and their plugin configurations against the
filter's own parser (the `kafka-mtls-filter validate` CLI, built from this repository).

The CRDs are Istio's own, from a pinned Istio API release: the Go module `istio.io/api` (ISTIO_API_VERSION below)
carries `kubernetes/customresourcedefinitions.gen.yaml`; `go mod download` fetches it through the Go module proxy
into the Go module cache (GOMODCACHE), where later runs find it. KMF_ISTIO_CRDS names another CRD file instead.
Kubernetes' OpenAPI v3 schemas become JSON Schema (Draft 7): the `x-kubernetes-*` extensions are dropped (their CEL
rules are checked by hand below where it matters), `nullable` becomes a `null` type, and objects with declared
properties get `additionalProperties: false`, which is what `kubectl apply` with strict field validation (the
default since Kubernetes 1.27) does with an unknown field: refuse it.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ISTIO_DIR = REPO / "istio"
# The Istio API release whose CRDs the manifests must satisfy (a Go module version of istio.io/api).
ISTIO_API_VERSION = "v1.32.0"
WASM_FILTER_TYPE = "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"
STRING_VALUE_TYPE = "type.googleapis.com/google.protobuf.StringValue"

# What Kubernetes accepts at the top of every object, whatever the CRD says about spec/status.
OBJECT_ROOT = {
    "apiVersion": {"type": "string"},
    "kind": {"type": "string"},
    "metadata": {
        "type": "object",
        "properties": {"name": {"type": "string", "minLength": 1}, "namespace": {"type": "string"}},
        "required": ["name"],
    },
}


def json_schema_of(openapi: dict, root: bool = True) -> dict:
    """Kubernetes structural OpenAPI v3 schema -> JSON Schema Draft 7 (see the module doc)."""

    def convert(node):
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {k: convert(v) for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
        if node.get("nullable") and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        preserve = node.get("x-kubernetes-preserve-unknown-fields", False)
        if "properties" in out and "additionalProperties" not in out and not preserve:
            out["additionalProperties"] = False
        return out

    schema = convert(copy.deepcopy(openapi))
    if root:
        schema.setdefault("properties", {}).update(copy.deepcopy(OBJECT_ROOT))
        schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata", "spec"})
    return schema


def istio_crd_file() -> Path:
    """Istio's CRDs: KMF_ISTIO_CRDS, or the file in istio.io/api@ISTIO_API_VERSION (downloaded once, then cached)."""
    if os.environ.get("KMF_ISTIO_CRDS"):
        return Path(os.environ["KMF_ISTIO_CRDS"])
    try:
        result = subprocess.run(
            ["go", "mod", "download", "-json", f"istio.io/api@{ISTIO_API_VERSION}"],
            cwd=tempfile.gettempdir(),  # outside any Go module: only the module cache is touched
            env={**os.environ, "GO111MODULE": "on"},
            capture_output=True,
            text=True,
            timeout=600,
        )
    except FileNotFoundError:
        raise AssertionError("`go` not found: Istio's CRDs come from the Go module istio.io/api (install Go)") from None
    assert result.returncode == 0, f"go mod download istio.io/api@{ISTIO_API_VERSION}:\n{result.stdout}{result.stderr}"
    return Path(json.loads(result.stdout)["Dir"]) / "kubernetes" / "customresourcedefinitions.gen.yaml"


@functools.cache
def crd_schemas() -> dict:
    """(apiVersion, kind) -> JSON Schema, for every version of every CRD in Istio's CRD file."""
    crd_file = istio_crd_file()
    assert crd_file.is_file(), f"Istio CRDs not found at {crd_file}"
    schemas = {}
    for crd in yaml.safe_load_all(crd_file.read_text()):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        group = crd["spec"]["group"]
        kind = crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schemas[(f"{group}/{version['name']}", kind)] = json_schema_of(version["schema"]["openAPIV3Schema"])
    return schemas


def manifest_documents() -> list[tuple[str, int, dict]]:
    documents = []
    for path in sorted(ISTIO_DIR.rglob("*.y*ml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc is not None:
                documents.append((str(path.relative_to(REPO)), index, doc))
    return documents


DOCUMENTS = manifest_documents()
DOC_IDS = [f"{path}#{index}" for path, index, _ in DOCUMENTS]


def validator_for(doc: dict) -> jsonschema.Draft7Validator:
    key = (doc.get("apiVersion"), doc.get("kind"))
    schemas = crd_schemas()
    assert key in schemas, f"no schema for {key}: known {sorted(schemas)}"
    return jsonschema.Draft7Validator(schemas[key])


def schema_errors(doc: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator_for(doc).iter_errors(doc)]


def wasm_filter_configs(envoy_filter: dict) -> list[dict]:
    """The `config` of every envoy.filters.network.wasm filter an EnvoyFilter inserts."""
    configs = []
    for patch in envoy_filter["spec"].get("configPatches", []):
        typed = patch.get("patch", {}).get("value", {}).get("typed_config", {})
        if typed.get("@type") == WASM_FILTER_TYPE:
            configs.append(typed["config"])
    return configs


def plugin_configurations(doc: dict) -> list[str]:
    """The plugin configuration JSON texts a manifest hands to the filter."""
    if doc["kind"] == "WasmPlugin":
        return [json.dumps(doc["spec"].get("pluginConfig", {}))]
    if doc["kind"] == "EnvoyFilter":
        texts = []
        for config in wasm_filter_configs(doc):
            configuration = config["configuration"]
            assert configuration["@type"] == STRING_VALUE_TYPE
            texts.append(configuration["value"])
        return texts
    return []


@pytest.fixture(scope="session")
def cli() -> str:
    """Builds the host CLI (debug) and returns its path, as cargo reports it."""
    result = subprocess.run(
        ["cargo", "build", "--quiet", "--bin", "kafka-mtls-filter", "--message-format=json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, f"cargo build --bin kafka-mtls-filter failed:\n{result.stderr[-4000:]}"
    for line in result.stdout.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message.get("executable"):
            if message["target"]["name"] == "kafka-mtls-filter":
                return message["executable"]
    raise AssertionError("cargo did not report the kafka-mtls-filter executable")


def validate_with_cli(cli: str, config_json: str) -> subprocess.CompletedProcess:
    return subprocess.run([cli, "validate", "-"], input=config_json, capture_output=True, text=True, timeout=60)


def test_crd_schemas_are_loaded():
    schemas = crd_schemas()
    assert ("extensions.istio.io/v1alpha1", "WasmPlugin") in schemas
    assert ("networking.istio.io/v1alpha3", "EnvoyFilter") in schemas
    assert ("security.istio.io/v1", "PeerAuthentication") in schemas


def test_every_expected_manifest_exists():
    names = {path for path, _, _ in DOCUMENTS}
    for expected in [
        "istio/wasmplugin.yaml",
        "istio/envoyfilter-wasm.yaml",
        "istio/envoyfilter-buffer-limits.yaml",
        "istio/peerauthentication.yaml",
        "istio/examples/calisti-topicgrants.yaml",
        "istio/examples/strimzi-acls.yaml",
        "istio/examples/cilium-kafka-rules.yaml",
    ]:
        assert expected in names


@pytest.mark.parametrize("path,index,doc", DOCUMENTS, ids=DOC_IDS)
def test_manifest_matches_the_istio_schema(path, index, doc):
    assert schema_errors(doc) == []


@pytest.mark.parametrize("path,index,doc", DOCUMENTS, ids=DOC_IDS)
def test_plugin_configuration_passes_the_filter_parser(cli, path, index, doc):
    for text in plugin_configurations(doc):
        result = validate_with_cli(cli, text)
        assert result.returncode == 0, f"{path}: {result.stderr}"
        assert result.stdout.startswith("configuration OK"), result.stdout


@pytest.mark.parametrize(
    "path,index,doc", [d for d in DOCUMENTS if d[2]["kind"] == "WasmPlugin"], ids=lambda v: v if isinstance(v, str) else ""
)
def test_wasm_plugin_is_a_fail_closed_network_filter_on_the_kafka_port(path, index, doc):
    spec = doc["spec"]
    assert spec["type"] == "NETWORK"
    assert spec["failStrategy"] == "FAIL_CLOSE"
    assert spec["url"].startswith("oci://")
    assert spec.get("pluginName", "kafka-mtls-filter") == "kafka-mtls-filter"
    assert [p["number"] for m in spec["match"] for p in m["ports"]] == [9092]
    assert spec["selector"]["matchLabels"]
    # The CRD's CEL rule: a HOST variable carries no value.
    for env in spec.get("vmConfig", {}).get("env", []):
        assert not (env.get("valueFrom") == "HOST" and "value" in env), env


def test_envoy_filter_inserts_the_wasm_filter_before_tcp_proxy():
    doc = yaml.safe_load((ISTIO_DIR / "envoyfilter-wasm.yaml").read_text())
    (patch,) = doc["spec"]["configPatches"]
    assert patch["applyTo"] == "NETWORK_FILTER"
    assert patch["match"]["context"] == "SIDECAR_INBOUND"
    assert patch["match"]["listener"]["portNumber"] == 9092
    assert patch["match"]["listener"]["filterChain"]["filter"]["name"] == "envoy.filters.network.tcp_proxy"
    assert patch["patch"]["operation"] == "INSERT_BEFORE"
    assert patch["patch"]["value"]["name"] == "envoy.filters.network.wasm"
    (config,) = wasm_filter_configs(doc)
    assert config["root_id"] == "kafka-mtls-filter"
    assert config["fail_open"] is False
    assert config["vm_config"]["vm_id"] == "kafka-mtls-filter"
    assert config["vm_config"]["runtime"] == "envoy.wasm.runtime.v8"
    assert set(config["vm_config"]["code"]) & {"local", "remote"}


def test_wasm_plugin_and_envoy_filter_carry_the_same_policy():
    plugin = yaml.safe_load((ISTIO_DIR / "wasmplugin.yaml").read_text())
    envoy_filter = yaml.safe_load((ISTIO_DIR / "envoyfilter-wasm.yaml").read_text())
    (text,) = plugin_configurations(envoy_filter)
    assert json.loads(text) == plugin["spec"]["pluginConfig"]
    host_env = {e["name"] for e in plugin["spec"]["vmConfig"]["env"] if e.get("valueFrom") == "HOST"}
    (config,) = wasm_filter_configs(envoy_filter)
    assert set(config["vm_config"]["environment_variables"]["host_env_keys"]) == host_env


def test_buffer_limits_hold_the_largest_frame_the_policies_accept():
    doc = yaml.safe_load((ISTIO_DIR / "envoyfilter-buffer-limits.yaml").read_text())
    patches = doc["spec"]["configPatches"]
    assert {p["applyTo"] for p in patches} == {"LISTENER", "CLUSTER"}
    limits = [p["patch"]["value"]["per_connection_buffer_limit_bytes"] for p in patches]
    largest_frame = max(
        json.loads(text).get("maxFrameBytes", 104857600)
        for _, _, manifest in DOCUMENTS
        for text in plugin_configurations(manifest)
    )
    assert all(limit > largest_frame for limit in limits), (limits, largest_frame)


def test_peer_authentication_is_strict_for_the_kafka_namespace():
    doc = yaml.safe_load((ISTIO_DIR / "peerauthentication.yaml").read_text())
    assert doc["metadata"]["namespace"] == "kafka"
    assert doc["spec"]["mtls"]["mode"] == "STRICT"


def test_schema_validation_catches_mistakes():
    """The converted schemas are strict enough to matter: misspelled enums and unknown fields are refused."""
    doc = yaml.safe_load((ISTIO_DIR / "wasmplugin.yaml").read_text())
    typo = copy.deepcopy(doc)
    typo["spec"]["failStrategy"] = "FAIL_CLOSED"
    assert any("failStrategy" in e for e in schema_errors(typo))
    unknown = copy.deepcopy(doc)
    unknown["spec"]["vmConfig"]["envs"] = []
    assert any("envs" in e for e in schema_errors(unknown))
    port = copy.deepcopy(doc)
    port["spec"]["match"][0]["ports"][0]["number"] = 70000
    assert schema_errors(port)
    envoy_filter = yaml.safe_load((ISTIO_DIR / "envoyfilter-wasm.yaml").read_text())
    envoy_filter["spec"]["configPatches"][0]["patch"]["operation"] = "INSERT_BEFOR"
    assert any("INSERT_BEFOR" in e for e in schema_errors(envoy_filter))


def test_broken_plugin_config_is_refused_with_the_field_named(cli):
    doc = yaml.safe_load((ISTIO_DIR / "wasmplugin.yaml").read_text())
    config = copy.deepcopy(doc["spec"]["pluginConfig"])
    config["authorization"]["users"][1]["acls"][0]["operations"] = ["Read", "Raed"]
    result = validate_with_cli(cli, json.dumps(config))
    assert result.returncode == 1
    assert "authorization.users[1].acls[0].operations[1]" in result.stderr, result.stderr
    assert "Raed" in result.stderr

    config = copy.deepcopy(doc["spec"]["pluginConfig"])
    config["propagation"]["mode"] = "banzai"
    result = validate_with_cli(cli, json.dumps(config))
    assert result.returncode == 1
    assert "propagation.mode" in result.stderr, result.stderr


def test_readme_names_only_files_that_exist():
    text = (ISTIO_DIR / "README.md").read_text()
    named = set(re.findall(r"`((?:istio|integration|envoy|src|tests)/[A-Za-z0-9_./-]+)`", text))
    assert named, "istio/README.md names no files"
    missing = sorted(p for p in named if not (REPO / p).exists())
    assert missing == []


def test_docker_compose_file_parses_and_names_existing_files():
    compose_file = REPO / "integration" / "compose" / "docker-compose.yml"
    compose = yaml.safe_load(compose_file.read_text())
    assert {"envoy", "kafka", "client"} <= set(compose["services"])
    for name, service in compose["services"].items():
        assert "image" in service, name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            # Bind mounts of repository files must exist (build outputs and generated certificates excepted).
            if source.startswith(("./", "../")) and "target/" not in source and ".run/" not in source:
                assert (compose_file.parent / source).exists(), f"{name}: {source}"


def test_docker_compose_envoy_config_is_the_rendered_harness_config(cli):
    """integration/compose/envoy.yaml is envoy/envoy-mtls.yaml rendered (render.py), and its policy parses."""
    compose_dir = REPO / "integration" / "compose"
    result = subprocess.run(
        ["python3", str(compose_dir / "render.py")], capture_output=True, text=True, timeout=60, check=True
    )
    assert (compose_dir / "envoy.yaml").read_text() == result.stdout, "re-render: render.py > envoy.yaml"
    envoy = yaml.safe_load(result.stdout)
    (listener,) = envoy["static_resources"]["listeners"]
    (chain,) = listener["filter_chains"]
    names = [f["name"] for f in chain["filters"]]
    assert names == ["envoy.filters.network.wasm", "envoy.filters.network.tcp_proxy"]
    configuration = chain["filters"][0]["typed_config"]["config"]["configuration"]["value"]
    validated = validate_with_cli(cli, configuration)
    assert validated.returncode == 0, validated.stderr


# --- integration/compose/docker-compose.sasl.yml: SASL propagation to an unmodified Kafka (SCRAM and OAUTHBEARER) ---------

SASL_COMPOSE_FILE = REPO / "integration" / "compose" / "docker-compose.sasl.yml"
SASL_DIR = REPO / "integration" / "compose" / "sasl"
SASL_VARIANTS = {"scram": "SCRAM-SHA-512", "oauthbearer": "OAUTHBEARER"}


def sasl_compose() -> dict:
    return yaml.safe_load(SASL_COMPOSE_FILE.read_text())


def sasl_bind_mounts(service: dict) -> dict[str, Path]:
    """Container path -> repository file, for the service's bind mounts of repository files."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./") or source.startswith("../"):
            mounts[target] = (SASL_COMPOSE_FILE.parent / source).resolve()
    return mounts


def sasl_example_env() -> dict[str, str]:
    """The filter's secrets as the compose file hands them to the two Envoys (example values): envoy-scram's
    environment, and the signing key file envoy-oauthbearer reads into KMF_JWT_KEY."""
    services = sasl_compose()["services"]
    env = {k: str(v) for k, v in services["envoy-scram"]["environment"].items()}
    key_file = sasl_bind_mounts(services["envoy-oauthbearer"])["/etc/envoy/jwt-signing-key.pem"]
    env["KMF_JWT_KEY"] = key_file.read_text()
    return env


def run_cli_with_env(cli: str, args: list[str], env: dict[str, str], stdin: str | None = None):
    base = {k: v for k, v in os.environ.items() if not k.startswith("KMF_")}
    return subprocess.run(
        [cli, *args], input=stdin, capture_output=True, text=True, timeout=60, env={**base, **env}
    )


def broker_properties() -> dict[str, str]:
    props = {}
    for line in (SASL_DIR / "kafka" / "server.properties").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert key not in props, f"server.properties sets {key} twice"
            props[key.strip()] = value.strip()
    return props


def test_sasl_compose_file_parses_and_names_existing_files():
    compose = sasl_compose()
    services = compose["services"]
    assert {"certs", "kafka", "provision", "envoy-scram", "envoy-oauthbearer", "client"} <= set(services)
    for name, service in services.items():
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image ({image!r})"
        for target, source in sasl_bind_mounts(service).items():
            # The wasm module is a build output (cargo build --release --target wasm32-wasip1).
            if "/target/" not in str(source):
                assert source.exists(), f"{name}: {source} (mounted at {target})"
    assert services["kafka"]["image"].startswith("apache/kafka:3.9.")
    assert "ports" not in services["kafka"], "the broker's SASL listeners must not be published"
    for name in ("envoy-oauthbearer", "client"):
        assert services[name]["network_mode"] == "service:envoy-scram", name


@pytest.mark.parametrize("variant", sorted(SASL_VARIANTS))
def test_sasl_plugin_configuration_passes_the_filter_parser(cli, variant):
    text = (SASL_DIR / f"plugin-config-{variant}.json").read_text()
    propagation = json.loads(text)["propagation"]
    assert propagation["mode"] == "sasl"
    assert propagation["sasl"]["mechanism"] == SASL_VARIANTS[variant]
    result = run_cli_with_env(cli, ["validate", "-"], sasl_example_env(), stdin=text)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("configuration OK"), result.stdout
    # Without the secrets Envoy passes, the filter refuses the configuration (fail closed), naming the field.
    result = run_cli_with_env(cli, ["validate", "-"], {}, stdin=text)
    assert result.returncode == 1
    assert "propagation.sasl." in result.stderr, result.stderr


@pytest.mark.parametrize("variant", sorted(SASL_VARIANTS))
def test_sasl_envoy_config_is_the_rendered_harness_config(variant):
    result = subprocess.run(
        ["python3", str(SASL_DIR / "render.py"), variant], capture_output=True, text=True, timeout=60, check=True
    )
    rendered = SASL_DIR / f"envoy-{variant}.yaml"
    assert rendered.read_text() == result.stdout, f"re-render: render.py {variant} > {rendered.name}"
    envoy = yaml.safe_load(result.stdout)
    assert "stats_config" in envoy
    (listener,) = envoy["static_resources"]["listeners"]
    (chain,) = listener["filter_chains"]
    assert [f["name"] for f in chain["filters"]] == ["envoy.filters.network.wasm", "envoy.filters.network.tcp_proxy"]
    config = chain["filters"][0]["typed_config"]["config"]
    assert json.loads(config["configuration"]["value"]) == json.loads(
        (SASL_DIR / f"plugin-config-{variant}.json").read_text()
    )
    assert config["fail_open"] is False
    host_env = set(config["vm_config"]["environment_variables"]["host_env_keys"])
    assert set(sasl_example_env()) <= host_env
    # The compose file mounts this rendering into the Envoy of the same name.
    mounts = sasl_bind_mounts(sasl_compose()["services"][f"envoy-{variant}"])
    assert mounts["/etc/envoy/envoy.yaml"] == rendered


def test_sasl_jwks_is_what_the_cli_prints_for_the_example_key(cli):
    result = run_cli_with_env(
        cli, ["credentials", str(SASL_DIR / "plugin-config-oauthbearer.json")], sasl_example_env()
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    printed = lines[lines.index("JWKS for the broker's sasl.oauthbearer.jwks.endpoint.url (file://...):") + 1]
    shipped = (SASL_DIR / "kafka" / "jwks.json").read_text()
    assert json.loads(shipped) == json.loads(printed)
    assert shipped == printed + "\n"


def test_sasl_scram_provisioning_is_what_the_cli_prints(cli):
    """compose/sasl/kafka/provision.sh creates exactly the SCRAM credentials `credentials` asks for."""
    env = sasl_example_env()
    result = run_cli_with_env(cli, ["credentials", str(SASL_DIR / "plugin-config-scram.json")], env)
    assert result.returncode == 0, result.stderr
    # The CLI shows an explicit password as the variable that holds it; the compose file gives its example value.
    printed = re.sub(
        r"<value of environment variable (\w+)>", lambda m: env[m.group(1)], result.stdout
    )
    pattern = r"kafka-configs\.sh .*?--entity-type users --entity-name (\S+) --add-config (\S+)"
    expected = sorted(re.findall(pattern, printed))
    assert len(expected) == 2, result.stdout
    provisioned = sorted(re.findall(pattern, (SASL_DIR / "kafka" / "provision.sh").read_text()))
    assert provisioned == expected


def test_sasl_broker_configuration_matches_the_plugin_configurations():
    props = broker_properties()
    services = sasl_compose()["services"]
    oauth = json.loads((SASL_DIR / "plugin-config-oauthbearer.json").read_text())["propagation"]["sasl"]["oauth"]
    assert props["sasl.oauthbearer.expected.issuer"] == oauth["issuer"]
    assert props["sasl.oauthbearer.expected.audience"] == oauth["audience"]
    jwks_url = props["sasl.oauthbearer.jwks.endpoint.url"]
    assert jwks_url.startswith("file://")
    assert sasl_bind_mounts(services["kafka"])[jwks_url.removeprefix("file://")] == SASL_DIR / "kafka" / "jwks.json"
    allowed_urls = f"-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={jwks_url}"
    assert allowed_urls in services["kafka"]["environment"]["KAFKA_OPTS"]
    assert (
        props["listener.name.oauth.oauthbearer.sasl.server.callback.handler.class"]
        == "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
    )
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"

    # Each Envoy forwards to the broker listener of its mechanism, and that listener advertises the Envoy.
    listeners = dict(re.findall(r"(\w+)://[^:,]*:(\d+)", props["listeners"]))
    advertised = dict(re.findall(r"(\w+)://[^:,]*:(\d+)", props["advertised.listeners"]))
    protocols = dict(pair.split(":") for pair in props["listener.security.protocol.map"].split(","))
    for variant, listener in (("scram", "SCRAM"), ("oauthbearer", "OAUTH")):
        envoy = yaml.safe_load((SASL_DIR / f"envoy-{variant}.yaml").read_text())
        (envoy_listener,) = envoy["static_resources"]["listeners"]
        (cluster,) = envoy["static_resources"]["clusters"]
        upstream = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
        assert upstream["socket_address"]["port_value"] == int(listeners[listener]), variant
        assert envoy_listener["address"]["socket_address"]["port_value"] == int(advertised[listener]), variant
        assert protocols[listener] == "SASL_PLAINTEXT"
        mechanism = SASL_VARIANTS[variant]
        assert props[f"listener.name.{listener.lower()}.sasl.enabled.mechanisms"] == mechanism
        assert f"listener.name.{listener.lower()}.{mechanism.lower()}.sasl.jaas.config" in props

    # Broker ACLs: every principal the plugin configurations grant something gets a broker ACL too.
    provision = (SASL_DIR / "kafka" / "provision.sh").read_text()
    for variant in SASL_VARIANTS:
        for user in json.loads((SASL_DIR / f"plugin-config-{variant}.json").read_text())["authorization"]["users"]:
            assert f"--allow-principal '{user['principal']}'" in provision, user["principal"]


def test_sasl_readme_names_only_files_that_exist():
    text = (SASL_DIR / "README.md").read_text()
    named = set(re.findall(r"`((?:istio|integration|envoy|src|tests)/[A-Za-z0-9_./-]+)`", text))
    assert len(named) > 10, named
    missing = sorted(p for p in named if not (REPO / p).exists())
    assert missing == []
