"""Fixtures for the provider sandbox tests (helpers live in sandbox_testkit.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for path in (HERE.parents[1], HERE):    # the repo root (for `sandbox`) and this folder
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from sandbox import create_app, get_state  # noqa: E402


# Prefixed names, so these never shadow the main app's `app` / `client` fixtures.
@pytest.fixture
def sandbox_app():
    return create_app({"SEED": 42, "SCALE": 25})


@pytest.fixture
def sandbox(sandbox_app):
    return sandbox_app.test_client()


@pytest.fixture
def sandbox_state(sandbox_app):
    return get_state(sandbox_app)
