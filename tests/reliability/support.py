"""Shared helpers of the reliability suite: fresh moto accounts, Lambda contexts, IAM state, fakes.

Kept out of conftest.py so test modules import them by name (conftest modules are pytest's).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters as powertools_parameters
from hypothesis import settings
from moto import mock_aws

from chalicelib import bootstrap
from chalicelib.adapters.iam_gateway import Contained, CredentialReportBody, QuarantineSnapshot, UserRecord
from chalicelib.core.exemptions import Version
from tests.conftest import load_fixture
from tests.support import moto_state as ms

REGION = "us-east-1"
SCHEDULED = load_fixture("eventbridge_scheduled.json")
EXEMPTIONS_PARAMETER = "/mfa-enforcer/exemptions"
LAMBDA_TIMEOUT_MS = 900_000  # scheduled_scan's lambda_timeout in .chalice/config.json


def reliability(kind: str, expected: str) -> pytest.MarkDecorator:
    """Label a test with the fault or bad-input class it tries, for the table in docs/reliability.md."""
    return pytest.mark.reliability(kind=kind, expected=expected)


def examples(share: float) -> int:
    """A share of the active Hypothesis profile's max_examples, for tests whose examples are costly."""
    return max(5, int(settings.default.max_examples * share))


class StaticContext:
    """A Lambda context with a fixed, ample time left.

    Chalice's test client builds its context with a 3 s run time whatever `lambda_timeout` says,
    so on a loaded machine the scan's time budget could stop a test scan early; tests that are not
    about the budget call the handler directly (`app.scheduled_scan(event, context)`, exactly as
    Lambda does) with this context instead.
    """

    aws_request_id = "reliability-request"
    function_name = "mfa-enforcer-dev-scheduled_scan"
    invoked_function_arn = f"arn:aws:lambda:us-east-1:{ms.ACCOUNT_ID}:function:mfa-enforcer-dev-scheduled_scan"

    def __init__(self, remaining_ms: float = LAMBDA_TIMEOUT_MS) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> float:
        return self.remaining_ms


class ShrinkingContext(StaticContext):
    """A Lambda context whose remaining time drops by `step_ms` at every look (thread-safe)."""

    def __init__(self, start_ms: float, step_ms: float) -> None:
        super().__init__(start_ms)
        self.step_ms = step_ms
        self.looks = 0
        self._lock = threading.Lock()

    def get_remaining_time_in_millis(self) -> float:
        with self._lock:
            value = self.remaining_ms - self.looks * self.step_ms
            self.looks += 1
            return value


def run_scheduled_scan(context: Any | None = None) -> dict[str, Any]:
    """Invoke the scheduled_scan Lambda handler as Lambda does: app.<function name>(event, context)."""
    import app as lambda_module  # Lambda's handler string is app.scheduled_scan

    return lambda_module.scheduled_scan(SCHEDULED, context or StaticContext())  # type: ignore[no-any-return]


@contextmanager
def fresh_account() -> Iterator[None]:
    """A brand-new moto account and fresh per-container caches, for tests that need more than one."""
    with mock_aws():
        bootstrap.reset()
        powertools_parameters.clear_caches()
        try:
            yield
        finally:
            bootstrap.reset()
            powertools_parameters.clear_caches()


def client(service: str) -> Any:
    """A test-side client (seeding and reading state), separate from the bot's cached clients."""
    return boto3.client(service, region_name=REGION)


def enforce_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings of the prod stage (enforce) with the quarantine policy moto will create."""
    monkeypatch.setenv("MFA_ENFORCER_MODE", "enforce")
    monkeypatch.setenv("MFA_ENFORCER_QUARANTINE_POLICY_ARN", ms.QUARANTINE_POLICY_ARN)


def enable_mfa(iam: Any, user: str) -> None:
    """Enrol a virtual MFA device for an existing user."""
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName=user, SerialNumber=serial, AuthenticationCode1="111111", AuthenticationCode2="222222"
    )


def iam_state(iam: Any) -> dict[str, dict[str, Any]]:
    """Every user's quarantine-relevant state, comparable across accounts (timestamps left out).

    The `sign-in-ip` tag is left out too: it records the sign-in that caused a quarantine, so it is
    there exactly when the sign-in path, not the scan, won the claim, which depends on the order.
    """
    state: dict[str, dict[str, Any]] = {}
    for user in iam.list_users()["Users"]:
        name = user["UserName"]
        tags = ms.user_tags(iam, name)
        state[name] = {
            "policies": sorted(p.rsplit("/", 1)[-1] for p in ms.attached_policies(iam, name)),
            "groups": sorted(g["GroupName"] for g in iam.list_groups_for_user(UserName=name)["Groups"]),
            "tags": sorted(key for key in tags if key != "mfa-enforcer:sign-in-ip"),
            "reason_tag": tags.get("mfa-enforcer:reason"),
        }
    return state


def transitions(result: dict[str, Any]) -> dict[str | None, str]:
    """user -> finding type, for the transitions (alerts) of one run."""
    return {f["user"]: f["type"] for f in result["transitions"]}


@dataclass
class FakeIam:
    """An in-memory IAM port for pure-speed fuzzing of the scan shell (no moto, no HTTP).

    Same methods as IamGateway; records the writes asked of it.
    """

    content: bytes | str
    quarantined_users: frozenset[str] = frozenset()
    members: dict[str, frozenset[str]] = field(default_factory=dict)
    with_mfa: frozenset[str] = frozenset()
    writes: list[tuple[str, str]] = field(default_factory=list)

    def credential_report(self) -> CredentialReportBody:
        content = self.content.encode("utf-8", "surrogatepass") if isinstance(self.content, str) else self.content
        return CredentialReportBody(content=content, generated=None)

    def account_summary(self) -> dict[str, int]:
        """What AWS answers before AccountPasswordPresent existed: root is then judged from the report."""
        return {"AccountMFAEnabled": 0, "AccountAccessKeysPresent": 0, "AccountSigningCertificatesPresent": 0}

    def quarantined(self) -> QuarantineSnapshot:
        return QuarantineSnapshot(direct=self.quarantined_users, via_group=frozenset())

    def group_members(self, group: str) -> frozenset[str]:
        return self.members.get(group, frozenset())

    def has_mfa_device(self, user: str) -> bool:
        return user in self.with_mfa

    def user_record(self, user: str) -> UserRecord:
        return UserRecord(user, f"arn:aws:iam::123456789012:user/{user}", datetime(2020, 1, 1, tzinfo=UTC), None)

    def login_profile_created(self, user: str) -> datetime | None:
        return None

    def quarantine(self, user: str, now: datetime, *, sign_in_ip: str | None = None) -> Contained:
        self.writes.append(("quarantine", user))
        return Contained("policy")

    def release(self, user: str, *, via_group: bool) -> bool:
        self.writes.append(("release", user))
        return True


@dataclass
class FakeParameters:
    """An in-memory parameter store: the exemptions text, or an exception to raise."""

    text: str | None = None
    error: Callable[[], Exception] | None = None

    def exemptions(self, name: str, **_: Any) -> Version | None:
        if self.error is not None:
            raise self.error()
        return None if self.text is None else Version(1, self.text)

    def version(self, name: str, number: int) -> Version | None:
        return None

    def history(self, name: str) -> tuple[Version, ...]:
        if self.error is not None:
            raise self.error()
        return () if self.text is None else (Version(1, self.text),)

    def secret(self, name: str) -> str:
        raise LookupError(name)
