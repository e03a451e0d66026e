"""The policy simulator tier: node + @cloud-copilot/iam-simulate, installed once per session."""

from __future__ import annotations

import pytest

from tests.policy_sim import harness


@pytest.fixture(scope="session")
def iam_simulator() -> None:
    """`npm ci` the pinned simulator unless node_modules already holds it."""
    harness.install()
