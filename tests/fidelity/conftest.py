"""Fixtures of the fidelity suite: a provider sandbox of its own on a real port (the cases write
and inject faults, so they never share one with other tests), reset before every case."""
from __future__ import annotations

import pytest
import requests

from tests.conftest import LiveServer


@pytest.fixture(scope="session")
def fidelity_sandbox():
    from sandbox import create_app as create_sandbox

    server = LiveServer(create_sandbox({"SEED": 42, "SCALE": 25}))
    yield server
    server.stop()


@pytest.fixture
def sandbox_url(fidelity_sandbox):
    requests.post(f"{fidelity_sandbox.url}/_sandbox/reset", timeout=5).raise_for_status()
    return fidelity_sandbox.url
