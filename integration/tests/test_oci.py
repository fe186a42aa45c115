"""The filter's OCI image (integration/oci/build.py, built without Docker) through a real registry: Debian's
docker-registry on loopback, pushed and pulled back with skopeo, and read the way Istio's image fetcher reads it
(pkg/wasm/imagefetcher.go, compat variant: the last layer is an OCI tar+gzip layer holding `plugin.wasm`).

Needs skopeo and docker-registry (integration/oci/setup.sh installs them). The release module is built if missing.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "integration" / "oci" / "build.py"
REGISTRY_BIN = Path("/usr/bin/docker-registry")
TAG = "0.1.0"


def load_build_module():
    spec = importlib.util.spec_from_file_location("oci_build", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


oci_build = load_build_module()


@pytest.fixture(scope="module")
def wasm_module() -> Path:
    path = harness.WASM_PATH
    if not path.is_file():
        subprocess.run(["bash", str(REPO / "integration" / "build-wasm.sh")], cwd=REPO, check=True)
    assert path.is_file(), f"cargo built no module at {path}"
    return path


@pytest.fixture(scope="module")
def tools():
    missing = [tool for tool in ("skopeo",) if shutil.which(tool) is None]
    if not REGISTRY_BIN.is_file():
        missing.append(str(REGISTRY_BIN))
    assert not missing, f"missing {missing}: run integration/oci/setup.sh"


@pytest.fixture
def registry(tmp_path, tools):
    """A docker-registry on 127.0.0.1:<free port>, storage in a temporary directory; yields host:port."""
    port = harness.free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'storage'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = (tmp_path / "registry.log").open("wb")
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
        log.close()


def read_json(path: Path) -> dict:
    return json.loads(path.read_bytes())


def blob(layout: Path, digest: str) -> bytes:
    algorithm, hex_digest = digest.split(":", 1)
    data = (layout / "blobs" / algorithm / hex_digest).read_bytes()
    assert hashlib.sha256(data).hexdigest() == hex_digest, f"blob {digest} does not match its digest"
    return data


def image_manifest(layout: Path, tag: str) -> dict:
    assert read_json(layout / "oci-layout") == {"imageLayoutVersion": "1.0.0"}
    index = read_json(layout / "index.json")
    (entry,) = [m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    assert entry["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    manifest = json.loads(blob(layout, entry["digest"]))
    assert len(blob(layout, entry["digest"])) == entry["size"]
    return manifest


def istio_extract(layout: Path, tag: str) -> bytes:
    """The module as Istio's extractOCIStandardImage gets it: last layer, OCI tar+gzip, file named plugin.wasm."""
    manifest = image_manifest(layout, tag)
    layer = manifest["layers"][-1]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    compressed = blob(layout, layer["digest"])
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(compressed))) as tar:
        for member in tar.getmembers():
            if Path(member.name).name == "plugin.wasm":
                return tar.extractfile(member).read()
    raise AssertionError("plugin.wasm not in the layer")


def test_layout_is_an_istio_compat_wasm_image(tmp_path, wasm_module):
    module = wasm_module.read_bytes()
    digests = oci_build.build_layout(module, tmp_path / "oci", TAG)
    assert istio_extract(tmp_path / "oci", TAG) == module
    manifest = image_manifest(tmp_path / "oci", TAG)
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    config = json.loads(blob(tmp_path / "oci", manifest["config"]["digest"]))
    # The config's diff_id is the digest of the uncompressed layer, as OCI requires.
    uncompressed = gzip.decompress(blob(tmp_path / "oci", manifest["layers"][0]["digest"]))
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(uncompressed).hexdigest()}"]
    assert digests["module_sha256"] == hashlib.sha256(module).hexdigest()


def test_build_is_reproducible(tmp_path, wasm_module):
    module = wasm_module.read_bytes()
    first = oci_build.build_layout(module, tmp_path / "a", TAG)
    second = oci_build.build_layout(module, tmp_path / "b", TAG)
    assert first == second


def test_push_and_pull_through_a_registry(tmp_path, wasm_module, registry):
    module = wasm_module.read_bytes()
    layout = tmp_path / "oci"
    reference = f"{registry}/kafka-mtls-filter:{TAG}"
    # The script itself, as a user runs it.
    result = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--wasm", str(wasm_module), "--out", str(layout), "--tag", TAG, "--push", reference],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"module sha256:    {hashlib.sha256(module).hexdigest()}" in result.stdout
    built = image_manifest(layout, TAG)

    # What the registry serves is the manifest we built, byte for byte (Istio's `sha256` pins this digest).
    raw = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", "--raw", f"docker://{reference}"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert json.loads(raw) == built
    manifest_digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    assert manifest_digest in result.stdout

    pulled = tmp_path / "pulled"
    subprocess.run(
        ["skopeo", "copy", "--src-tls-verify=false", f"docker://{reference}", f"oci:{pulled}:{TAG}"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    pulled_manifest = image_manifest(pulled, TAG)
    assert [layer["digest"] for layer in pulled_manifest["layers"]] == [layer["digest"] for layer in built["layers"]]
    assert istio_extract(pulled, TAG) == module
