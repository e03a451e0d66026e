"""Exempt is not invisible: the first time a console user without MFA is exempt, one `exempted` transition.

A new user under an exempt path or name, a new or widened entry, a group join: each is announced
once (medium; high when only a `path` entry covers a console user), by the scan for what it can
see (user creation, the document's versions) and by on_iam_change for what only an event shows
(a console password given, a group joined). Simulated hours pass through the injected clock.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.functional.conftest import CallCounter, Clock
from tests.support import moto_state as ms
from tests.support.invoke import iam_change, of, scan, sign_in

PARAMETER = "/mfa-enforcer/exemptions"
JOIN = "eventbridge_iam_add_user_to_group.json"  # an admin adds bob to vendors
GIVE_PASSWORD = "eventbridge_iam_create_login_profile.json"


def put(ssm: Any, *entries: dict[str, str]) -> None:
    ssm.put_parameter(
        Name=PARAMETER, Value=json.dumps({"version": 1, "exemptions": list(entries)}), Type="String", Overwrite=True
    )


def announced(result: dict[str, Any]) -> dict[str, str]:
    """user -> severity of each `exempted` transition."""
    return {t["user"]: t["severity"] for t in result["transitions"] if t["type"] == "exempted"}


def test_a_new_console_user_under_an_exempt_path_is_announced_once_as_high(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, clock: Clock
) -> None:
    put(ssm, {"path": "/service/", "reason": "machine users, no console"})
    ms.age_parameter(PARAMETER, timedelta(days=30))
    ms.create_user(iam, ms.UserSpec("svc-batch", console=False, path="/service/", age=timedelta(days=30)), now=clock.at)
    ms.create_user(iam, ms.UserSpec("svc-web", path="/service/", age=timedelta(minutes=20)), now=clock.at)

    first = scan(lambda_client)

    assert announced(first) == {"svc-web": "high"}
    (finding,) = of(first, "svc-web")
    assert finding["reason"] == (
        "console user without MFA is now exempt, by exemptions[0] (path /service/: machine users, no console); "
        "only a path entry covers this console user"
    )
    assert ms.quarantined_users(iam) == set()
    for _ in range(3):  # the next scheduled scans: nothing new
        clock.advance(hours=1)
        later = scan(lambda_client)
        assert later["transitions"] == []
        assert [f["type"] for f in of(later, "svc-web")] == ["exempt"]


def test_a_path_and_a_name_together_are_medium(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, clock: Clock
) -> None:
    put(ssm, {"path": "/service/", "reason": "machines"}, {"user": "svc-web", "reason": "kiosk, key in the safe"})
    ms.age_parameter(PARAMETER, timedelta(days=30))
    ms.create_user(iam, ms.UserSpec("svc-web", path="/service/", age=timedelta(minutes=5)), now=clock.at)

    assert announced(scan(lambda_client)) == {"svc-web": "medium"}


def test_a_new_entry_announces_whom_it_newly_exempts_and_no_one_else(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, clock: Clock, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("carol", age=timedelta(days=40)), now=clock.at)
    ms.create_user(iam, ms.UserSpec("bob", age=timedelta(hours=3)), now=clock.at)
    put(ssm, {"user": "carol", "reason": "hardware key in the safe"})  # version 1, written long ago
    ms.age_parameter(PARAMETER, timedelta(days=10))
    assert announced(scan(lambda_client)) == {}
    assert calls.calls["ssm:GetParameter"] == 1  # an old document: nothing more is read

    put(ssm, {"user": "carol", "reason": "hardware key in the safe"}, {"user": "bob", "reason": "on leave"})
    clock.advance(minutes=50)  # the next scan: version 2 was written since the previous one
    calls.reset()
    result = scan(lambda_client)

    assert announced(result) == {"bob": "medium"}
    assert calls.calls["ssm:GetParameter"] == 2  # the newest, then version 1: the one in force an hour ago
    assert calls.calls["ssm:GetParameterHistory"] == 0
    clock.advance(hours=1)
    assert announced(scan(lambda_client)) == {}


def test_widening_a_path_announces_the_users_it_now_covers(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, clock: Clock
) -> None:
    ms.create_user(iam, ms.UserSpec("etl", path="/service/batch/", age=timedelta(days=9)), now=clock.at)
    ms.create_user(iam, ms.UserSpec("ops", path="/staff/ops/", age=timedelta(hours=2)), now=clock.at)  # pending
    put(ssm, {"path": "/service/batch/", "reason": "batch jobs"})
    ms.age_parameter(PARAMETER, timedelta(days=9))
    scan(lambda_client)
    put(ssm, {"path": "/", "reason": "everyone (a typo?)"})

    clock.catch_up()
    result = scan(lambda_client)

    assert announced(result) == {"ops": "high"}  # etl was already exempt
    assert ms.quarantined_users(iam) == set()


def test_joining_the_exempt_group_is_announced_by_the_event(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, clock: Clock
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", age=timedelta(hours=2)), now=clock.at)
    iam.create_group(GroupName="vendors")
    put(ssm, {"group": "vendors", "reason": "vendor IdP"})
    iam.add_user_to_group(GroupName="vendors", UserName="bob")

    result = iam_change(lambda_client, JOIN, "bob")

    (finding,) = of(result, "bob")
    assert (finding["type"], finding["severity"], finding["transition"]) == ("exempted", "medium", True)
    assert finding["reason"] == "console user without MFA is now exempt, by exemptions[0] (group vendors: vendor IdP)"
    assert finding["source_ip"] == "203.0.113.42"


def test_joining_a_group_no_exemption_names_costs_no_iam_call(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("bob"))
    put(ssm, {"group": "vendors", "reason": "vendor IdP"})

    result = iam_change(lambda_client, JOIN, "bob", requestParameters={"groupName": "developers", "userName": "bob"})

    assert result["ignored"] == "joined group developers, which no exemption names"
    assert {op for op in calls.calls if op.startswith("iam:")} == set()


def test_joining_an_exempt_group_when_already_exempt_is_no_news(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", groups=("vendors",)))
    put(ssm, {"group": "vendors", "reason": "vendor IdP"}, {"user": "bob", "reason": "break glass"})

    result = iam_change(lambda_client, JOIN, "bob")

    assert [f["type"] for f in of(result, "bob")] == ["exempt"]
    assert result["transitions"] == []


@pytest.mark.parametrize("mfa", [True, False], ids=["with MFA", "without a console password"])
def test_joining_an_exempt_group_without_anything_to_protect_is_no_news(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, mfa: bool
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", mfa=mfa, console=mfa, groups=("vendors",)))
    put(ssm, {"group": "vendors", "reason": "vendor IdP"})

    result = iam_change(lambda_client, JOIN, "bob")

    assert result["transitions"] == []


def test_a_console_password_for_an_old_machine_user_under_an_exempt_path_is_high(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, clock: Clock
) -> None:
    """The documented example: `/service/` is for machine users; someone gives one a console password."""
    put(ssm, {"path": "/service/", "reason": "machine users, no console"})
    ms.create_user(iam, ms.UserSpec("bob", console=False, path="/service/", age=timedelta(days=300)), now=clock.at)
    iam.create_login_profile(UserName="bob", Password="Correct-Horse-9!")

    result = iam_change(lambda_client, GIVE_PASSWORD, "bob", at=clock.at)

    (finding,) = of(result, "bob")
    assert (finding["type"], finding["severity"]) == ("exempted", "high")
    assert ms.quarantined_users(iam) == set()
    assert [f["type"] for f in of(sign_in(lambda_client, "bob"), "bob")] == ["exempt"]  # a sign-in is no news
