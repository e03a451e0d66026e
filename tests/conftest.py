"""Helpers every test tier shares: loading stored fixtures, a fixed `now`, and moto behaving like the role."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support import moto_state as ms

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)


def load_fixture(name: str) -> Any:
    """A JSON fixture as data."""
    return json.loads((FIXTURES / name).read_text())


def fixture_text(name: str) -> str:
    """A fixture file as text (CSV reports, raw documents)."""
    return (FIXTURES / name).read_text()


@pytest.fixture
def now() -> datetime:
    """The fixed instant unit tests decide at."""
    return NOW


@pytest.fixture
def local_zone_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local zone is not UTC for the test: code that leans on it (a naive `astimezone`) shows."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(autouse=True)
def iam_claim_condition(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's moto refuses a second `quarantined-at` claim, as IAM does under the bot's role."""
    ms.enforce_claim_condition(monkeypatch)
