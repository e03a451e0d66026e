"""moto-backed AWS for functional tests: clients, the quarantine policy, settings, call counting.

Every test gets a fresh moto account and fresh per-container caches, so no test depends on
another's order.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import chalice.test
import pytest
from aws_lambda_powertools.utilities import parameters as powertools_parameters
from chalice.local import LambdaContext
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib import bootstrap
from tests.support import moto_state

REGION = "us-east-1"
WRITE_OPERATIONS = frozenset(
    {"TagUser", "UntagUser", "AttachUserPolicy", "DetachUserPolicy", "AddUserToGroup", "RemoveUserFromGroup"}
)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, one region, and no leftover MFA_ENFORCER_* settings from the shell."""
    for key in list(os.environ):
        if key.startswith(("MFA_ENFORCER_", "AWS_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def aws() -> Iterator[None]:
    """A fresh moto account with fresh bot caches."""
    with mock_aws():
        bootstrap.reset()
        powertools_parameters.clear_caches()
        yield
        bootstrap.reset()
        powertools_parameters.clear_caches()


@pytest.fixture
def iam(aws: None) -> Any:
    return boto3.client("iam", region_name=REGION)


@pytest.fixture
def ssm(aws: None) -> Any:
    return boto3.client("ssm", region_name=REGION)


@pytest.fixture
def sns(aws: None) -> Any:
    return boto3.client("sns", region_name=REGION)


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def securityhub(aws: None) -> Any:
    return boto3.client("securityhub", region_name=REGION)


@pytest.fixture
def ses(aws: None) -> Any:
    return boto3.client("ses", region_name=REGION)


@pytest.fixture
def quarantine_arn(iam: Any) -> str:
    """The quarantine managed policy and fallback group, as deployed."""
    return moto_state.create_quarantine_policy(iam)


@pytest.fixture
def enforce(monkeypatch: pytest.MonkeyPatch, quarantine_arn: str) -> str:
    """Settings for enforce mode, as the prod stage sets them."""
    monkeypatch.setenv("MFA_ENFORCER_MODE", "enforce")
    monkeypatch.setenv("MFA_ENFORCER_QUARANTINE_POLICY_ARN", quarantine_arn)
    return quarantine_arn


@pytest.fixture
def report_mode(monkeypatch: pytest.MonkeyPatch, quarantine_arn: str) -> str:
    """Settings for report mode with the policy deployed (so the scan can see who is quarantined)."""
    monkeypatch.setenv("MFA_ENFORCER_MODE", "report")
    monkeypatch.setenv("MFA_ENFORCER_QUARANTINE_POLICY_ARN", quarantine_arn)
    return quarantine_arn


@pytest.fixture
def lambda_client(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Chalice's test client: invokes handlers exactly as Lambda would, with the dev stage's env on top.

    Chalice's context always reports 3 s left; the scan's time budget (service.TimeBudget) reads it,
    so on a loaded machine a test scan could stop starting users. Lambda gives each function its
    `lambda_timeout` from .chalice/config.json, and so does the context built here.
    """
    with Client(app, stage_name="dev") as client:
        config = client._chalice_config

        def context(function_name: str, memory_size: int) -> LambdaContext:
            timeout_s = config.scope(config.chalice_stage, function_name).lambda_timeout
            return LambdaContext(function_name, memory_size=memory_size, max_runtime_ms=timeout_s * 1000)

        monkeypatch.setattr(chalice.test, "LambdaContext", context)
        yield client


class CallCounter:
    """Counts API calls by `service:Operation` on the bot's own (cached) clients."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def attach(self, *services: str) -> CallCounter:
        for name in services:
            bootstrap.client(name).meta.events.register("before-call", self._count)
        return self

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def writes(self) -> dict[str, int]:
        return {op: n for op, n in self.calls.items() if op.split(":")[1] in WRITE_OPERATIONS}

    def reset(self) -> None:
        self.calls.clear()


@pytest.fixture
def calls(aws: None) -> CallCounter:
    """Counter attached to the bot's IAM, SSM and SNS clients."""
    return CallCounter().attach("iam", "ssm", "sns")


class Clock:
    """The bot's clock (bootstrap.now), moved by hand: simulated hours pass without sleeping.

    moto stamps users, parameters and tags with the real clock; a test starts this clock at the real
    time, so what moto created "now" has the age the test gives it by moving the clock.
    """

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at

    def catch_up(self) -> datetime:
        """Move to the real time (next whole second): what moto stamped since is then in the past."""
        self.at = max(self.at, datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1))
        return self.at


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Replace the handlers' clock; starts at the real time, whole seconds."""
    fake = Clock(datetime.now(UTC).replace(microsecond=0))
    monkeypatch.setattr(bootstrap, "now", fake)
    return fake
