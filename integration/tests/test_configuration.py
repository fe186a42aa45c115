"""A broken plugin configuration, loaded by the real Envoy: the filter refuses it and says which field is wrong."""

from __future__ import annotations

import pytest

import harness
from conftest import IDENTITY


@pytest.mark.filter
@pytest.mark.parametrize(
    "config, field, reason",
    [
        ({"identity": IDENTITY, "authorization": {"mode": "enforced"}}, "authorization.mode", "unknown variant"),
        ({"identity": {**IDENTITY, "prefer": 3}}, "identity.prefer", "invalid type"),
        ({"identity": IDENTITY, "observability": {"auditDenied": True, "sampleRate": 2}}, "observability", "sampleRate"),
    ],
)
def test_envoy_refuses_a_broken_configuration_naming_the_field(tmp_path, cert_dir, config, field, reason):
    with pytest.raises(harness.HarnessError):
        envoy = harness.Envoy(
            run_dir=tmp_path,
            listener="mtls",
            listen_port=harness.free_port(),
            broker_host="127.0.0.1",
            broker_port=harness.free_port(),
            cert_dir=cert_dir,
            plugin_config=config,
        )
        envoy.process.stop()
    refusals = [line for line in (tmp_path / "envoy.log").read_text().splitlines() if "refusing to load" in line]
    assert refusals, "no refusal in Envoy's log"
    assert f"configuration field `{field}" in refusals[0] and reason in refusals[0], refusals[0]
