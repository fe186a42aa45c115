#!/usr/bin/env python3
"""Builds the filter's OCI image without Docker, as an OCI image layout directory, and optionally pushes it.

The image is the "compat" variant of the Wasm image specification that Istio's image fetcher
(pkg/wasm/imagefetcher.go, `extractOCIStandardImage`) accepts: an OCI image manifest whose last (here: only) layer is
`application/vnd.oci.image.layer.v1.tar+gzip`, a tar holding the module as `plugin.wasm`. It is the same image as
`FROM scratch` + `COPY kafka_mtls_filter.wasm ./plugin.wasm` would give, and any registry stores it. (The other
variant Istio reads, the custom-media-type artifact, must have exactly two layers, and some registries refuse
unknown media types.) Two other forms Istio reads are available too: `--docker` pushes the same image with Docker's
media types (what `docker build` + `docker push` of that Dockerfile gives), and `--variant artifact` builds the Wasm
OCI artifact instead: the module itself as a `application/vnd.module.wasm.content.layer.v1+wasm` layer beside a
`application/vnd.module.wasm.config.v1+json` runtime-config layer.

The build is reproducible: fixed timestamps, owners and modes, so the same module gives the same digests.

    python3 integration/oci/build.py [--wasm MODULE] [--out DIR] [--tag TAG] [--variant compat|artifact]
        [--push REGISTRY/REPO:TAG [--docker]]

Without --wasm the release module is used, built first if missing
(`integration/build-wasm.sh`: cargo build --release --target wasm32-wasip1 --lib, then wasm-opt -Oz). --push copies the layout with
`skopeo copy oci:DIR:TAG docker://REGISTRY/REPO:TAG` (TLS verification off for loopback registries, or with
--insecure). Prints the module's sha256 and the image manifest digest; Istio's WasmPlugin `sha256` for an oci:// URL
is compared with the manifest digest (or reference the image as REPO@sha256:<manifest digest>).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_WASM = REPO / "target" / "wasm32-wasip1" / "release" / "kafka_mtls_filter.wasm"

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
# The Wasm OCI artifact variant (--variant artifact): the module as a raw layer, and a runtime-config layer.
WASM_CONFIG_MEDIA_TYPE = "application/vnd.module.wasm.config.v1+json"
WASM_LAYER_MEDIA_TYPE = "application/vnd.module.wasm.content.layer.v1+wasm"
ROOT_ID = "kafka-mtls-filter"
# The file name Istio looks for in the layer.
PLUGIN_FILE = "plugin.wasm"
# Fixed creation time (reproducible builds): 1970-01-01T00:00:00Z.
EPOCH = "1970-01-01T00:00:00Z"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_wasm() -> None:
    # cargo build, then wasm-opt -Oz in place (the module's size target).
    subprocess.run(["bash", str(REPO / "integration" / "build-wasm.sh")], cwd=REPO, check=True)


def layer_tar(module: bytes) -> bytes:
    """An uncompressed tar with `plugin.wasm`, owned by root, mode 0444, mtime 0."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(PLUGIN_FILE)
        info.size = len(module)
        info.mode = 0o444
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(module))
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def write_blob(out: Path, data: bytes) -> dict:
    digest = sha256_hex(data)
    path = out / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def artifact_manifest(module: bytes, out: Path) -> dict:
    """The Wasm OCI artifact variant's manifest (its blobs written into `out`): config and first layer the runtime
    configuration (Envoy, the filter's root_id), second layer the module itself, uncompressed."""
    runtime_config = canonical_json({"type": "envoy_proxy", "config": {"root_ids": [ROOT_ID]}})
    config_descriptor = dict(mediaType=WASM_CONFIG_MEDIA_TYPE, **write_blob(out, runtime_config))
    return {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": config_descriptor,
        "layers": [
            dict(config_descriptor, annotations={"org.opencontainers.image.title": "runtime-config.json"}),
            dict(
                mediaType=WASM_LAYER_MEDIA_TYPE,
                **write_blob(out, module),
                annotations={"org.opencontainers.image.title": PLUGIN_FILE},
            ),
        ],
        "annotations": {
            "org.opencontainers.image.title": "kafka-mtls-filter",
            "org.opencontainers.image.description": "Proxy-Wasm network filter: Kafka identity and ACLs from mTLS",
            "org.opencontainers.image.created": EPOCH,
        },
    }


def build_layout(module: bytes, out: Path, tag: str, variant: str = "compat") -> dict:
    """Writes the OCI image layout for `module` into `out` (replaced). Returns the digests."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    if variant == "artifact":
        manifest = artifact_manifest(module, out)
        return write_index(out, tag, module, manifest, manifest["layers"][1]["digest"])
    assert variant == "compat", variant
    tar = layer_tar(module)
    layer = dict(mediaType=LAYER_MEDIA_TYPE, **write_blob(out, gzip_bytes(tar)))
    config = {
        "created": EPOCH,
        "architecture": "wasm",
        "os": "wasip1",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{sha256_hex(tar)}"]},
        "history": [{"created": EPOCH, "created_by": "integration/oci/build.py: plugin.wasm"}],
    }
    config_descriptor = dict(mediaType=CONFIG_MEDIA_TYPE, **write_blob(out, canonical_json(config)))
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": config_descriptor,
        "layers": [layer],
        "annotations": {
            "org.opencontainers.image.title": "kafka-mtls-filter",
            "org.opencontainers.image.description": "Proxy-Wasm network filter: Kafka identity and ACLs from mTLS",
            "org.opencontainers.image.created": EPOCH,
        },
    }
    return write_index(out, tag, module, manifest, layer["digest"])


def write_index(out: Path, tag: str, module: bytes, manifest: dict, layer_digest: str) -> dict:
    manifest_descriptor = dict(mediaType=MANIFEST_MEDIA_TYPE, **write_blob(out, canonical_json(manifest)))
    index = {
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [dict(manifest_descriptor, annotations={"org.opencontainers.image.ref.name": tag})],
    }
    (out / "index.json").write_bytes(canonical_json(index))
    (out / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
    return {
        "module_sha256": sha256_hex(module),
        "manifest_digest": manifest_descriptor["digest"],
        "layer_digest": layer_digest,
    }


def is_loopback(reference: str) -> bool:
    host = reference.split("/", 1)[0].rsplit(":", 1)[0]
    return host in ("localhost", "127.0.0.1", "[::1]")


def push(out: Path, tag: str, reference: str, insecure: bool, docker: bool = False) -> None:
    command = ["skopeo", "copy"]
    if insecure or is_loopback(reference):
        command.append("--dest-tls-verify=false")
    if docker:
        # Docker's schema 2 manifest and media types (the same layer bytes): what `docker push` would publish.
        command += ["--format", "v2s2"]
    command += [f"oci:{out}:{tag}", f"docker://{reference}"]
    subprocess.run(command, check=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wasm", type=Path, help=f"the module (default: {DEFAULT_WASM.relative_to(REPO)}, built if missing)")
    parser.add_argument("--out", type=Path, default=REPO / "target" / "oci", help="the OCI layout directory to write")
    parser.add_argument("--tag", default="0.1.0", help="the tag inside the layout (default 0.1.0)")
    parser.add_argument(
        "--variant",
        choices=["compat", "artifact"],
        default="compat",
        help="compat: one tar+gzip layer holding plugin.wasm (default); artifact: the Wasm OCI artifact media types",
    )
    parser.add_argument("--push", metavar="REGISTRY/REPO:TAG", help="push the image there with skopeo")
    parser.add_argument("--docker", action="store_true", help="push with Docker's media types (compat variant only)")
    parser.add_argument("--insecure", action="store_true", help="push without TLS verification")
    args = parser.parse_args(argv)

    wasm = args.wasm
    if wasm is None:
        wasm = DEFAULT_WASM
        if not wasm.is_file():
            build_wasm()
    if not wasm.is_file():
        print(f"error: no module at {wasm}", file=sys.stderr)
        return 1
    module = wasm.read_bytes()
    if module[:4] != b"\0asm":
        print(f"error: {wasm} is not a WebAssembly module", file=sys.stderr)
        return 1
    if args.docker and args.variant != "compat":
        parser.error("--docker applies to the compat variant only")
    digests = build_layout(module, args.out, args.tag, args.variant)
    print(f"OCI image layout: {args.out} (tag {args.tag})")
    print(f"module sha256:    {digests['module_sha256']}")
    print(f"manifest digest:  {digests['manifest_digest']}")
    if args.push:
        push(args.out, args.tag, args.push, args.insecure, args.docker)
        print(f"pushed:           {args.push}")
        if args.docker:
            # The registry holds a converted manifest: its digest is not the layout's.
            print("pushed with Docker media types: the manifest digest is the registry's (skopeo inspect --raw)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
