"""Fixtures for the integration tests: stacks (Apache Kafka + Envoy) that are always stopped, also when a test fails.

KMF_NO_FILTER=1 runs Envoy without the wasm filter (plain tcp_proxy) and skips the tests marked `filter`: a
baseline, and a way to check the harness itself.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness  # noqa: E402
from harness.policies import IDENTITY, WRITER_POLICY, mesh_default_policy  # noqa: E402,F401 - tests import them from here

WITH_FILTER = os.environ.get("KMF_NO_FILTER", "") not in ("1", "true", "yes")


def pytest_collection_modifyitems(config, items):
    if WITH_FILTER:
        return
    skip = pytest.mark.skip(reason="KMF_NO_FILTER=1: Envoy runs without the filter")
    for item in items:
        if "filter" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def cert_dir() -> Path:
    return harness.certs_dir()


@pytest.fixture
def stack_factory(cert_dir, request):
    """start(listener="mtls", plugin_config=None, ...) -> harness.Stack; all stopped at teardown."""
    started: list[harness.Stack] = []

    def start(listener: str = "mtls", plugin_config=None, **kwargs) -> harness.Stack:
        name = f"{request.node.name}-{len(started) + 1}".replace("/", "_").replace("[", "_").replace("]", "")
        stack = harness.Stack(
            listener=listener,
            plugin_config={"identity": IDENTITY} if plugin_config is None else plugin_config,
            with_filter=WITH_FILTER,
            name=name,
            **kwargs,
        )
        started.append(stack)
        return stack

    yield start
    for stack in reversed(started):
        stack.stop()


@pytest.fixture(scope="module")
def mesh_stack(cert_dir, request):
    """One mTLS stack with the default identity configuration, shared by a module's data-path tests."""
    name = f"{request.module.__name__.rpartition('.')[2]}-mesh"
    stack = harness.Stack(listener="mtls", plugin_config={"identity": IDENTITY}, with_filter=WITH_FILTER, name=name)
    yield stack
    stack.stop()


_topic_numbers = itertools.count(1)


@pytest.fixture
def topic_name(request):
    """A fresh topic name per call: new_topic(stack, partitions=1) creates it at the broker and returns it."""

    def new_topic(stack: harness.Stack, partitions: int = 1) -> str:
        # Kafka's legal topic characters: ASCII alphanumerics, '.', '_' and '-'.
        base = re.sub(r"[^A-Za-z0-9.-]+", "-", request.node.name).strip("-")
        topic = f"it-{base}-{next(_topic_numbers)}"[:200]
        stack.create_topic(topic, partitions)
        return topic

    return new_topic
