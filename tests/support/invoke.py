"""Stored real-format events, renamed and re-timed for a scenario, and the three handlers invoked with them.

The fixtures name alice (sign-ins, MFA) or bob (login profiles, tamper) and carry the instant they
were captured; a scenario moves them to its own user and, where the bot reads the event's time
(a console password given by an admin), to the scenario's clock.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalicelib.core.model import iso
from tests.conftest import load_fixture

SCHEDULED = "eventbridge_scheduled.json"
SIGN_IN = "eventbridge_console_login_iam_user_no_mfa.json"


def renamed(fixture: str, user: str, *, at: datetime | None = None) -> dict[str, Any]:
    """A stored event about `user` instead of the fixture's alice or bob (as caller and as target)."""
    event: dict[str, Any] = load_fixture(fixture)
    text = json.dumps(event)
    for name in ("alice", "bob"):
        text = text.replace(f"user/{name}", f"user/{user}").replace(f"mfa/{name}", f"mfa/{user}")
    event = json.loads(text)
    detail = event["detail"]
    identity = detail["userIdentity"]
    if identity.get("type") in ("IAMUser",) and "userName" in identity:
        identity["userName"] = user
    params = detail.get("requestParameters") or {}
    if "userName" in params:
        params["userName"] = user
    if at is not None:
        event["time"] = detail["eventTime"] = iso(at)
    return event


def scan(lambda_client: Any) -> dict[str, Any]:
    """One scheduled scan, as EventBridge Scheduler invokes it."""
    return dict(lambda_client.lambda_.invoke("scheduled_scan", load_fixture(SCHEDULED)).payload)


def sign_in(lambda_client: Any, user: str, fixture: str = SIGN_IN, **changes: Any) -> dict[str, Any]:
    """A console sign-in by `user`; `changes` replace keys of the CloudTrail record (sourceIPAddress...)."""
    event = renamed(fixture, user)
    event["detail"].update(changes)
    return dict(lambda_client.lambda_.invoke("on_console_login", event).payload)


def iam_change(
    lambda_client: Any, fixture: str, user: str, *, at: datetime | None = None, **changes: Any
) -> dict[str, Any]:
    """An IAM API call about `user`, at `at` when the bot reads the event's time."""
    event = renamed(fixture, user, at=at)
    event["detail"].update(changes)
    return dict(lambda_client.lambda_.invoke("on_iam_change", event).payload)


def of(result: dict[str, Any], user: str) -> list[dict[str, Any]]:
    """The findings about one user."""
    return [f for f in result["findings"] if f["user"] == user]


def kinds(result: dict[str, Any]) -> list[str]:
    return [f["type"] for f in result["findings"]]
