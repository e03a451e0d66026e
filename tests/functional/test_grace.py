"""Grace that only an operator can extend, through the three handlers against moto, across simulated hours.

The user tries what a user without MFA would try to stay unquarantined: changing the password,
re-creating the login profile, removing or hand-setting the bot's tags; events arrive late, out of
order, or not at all. The bot's clock is injected (tests.functional.conftest.Clock), never slept.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.core.model import iso
from tests.functional.conftest import CallCounter, Clock
from tests.support import moto_state as ms
from tests.support.invoke import iam_change, kinds, of, scan, sign_in

GRACE_TAG = "mfa-enforcer:grace-deadline"
ADMIN_GIVES_PASSWORD = "eventbridge_iam_create_login_profile.json"  # an admin role session creates bob's profile
USER_GIVES_PASSWORD = "eventbridge_iam_create_login_profile_self.json"  # bob creates his own
DETACH = "eventbridge_iam_detach_user_policy_tamper.json"
ADMIN = f"arn:aws:sts::{ms.ACCOUNT_ID}:assumed-role/Admin/mallory"


@pytest.fixture
def profiles(monkeypatch: pytest.MonkeyPatch) -> dict[str, datetime]:
    return ms.login_profiles_created(monkeypatch)


def give_password(iam: Any, user: str, profiles: dict[str, datetime], at: datetime) -> None:
    """An admin (or the user) creates a console password at `at` (moto dates it with the user's creation)."""
    iam.create_login_profile(UserName=user, Password="Correct-Horse-9!")
    profiles[user] = at


def deadline_of(finding: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(finding["deadline"])


# --- nothing the user does moves the deadline -------------------------------------------------------


def test_changing_the_password_does_not_restart_grace(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", age=timedelta(hours=30)), now=clock.at)
    ms.report_with(monkeypatch, {"bob": {"password_last_changed": iso(clock.at - timedelta(hours=1))}})

    result = scan(lambda_client)

    assert ms.quarantined_users(iam) == {"bob"}
    (finding,) = of(result, "bob")
    assert finding["type"] == "quarantined"
    assert deadline_of(finding) == clock.at - timedelta(hours=6)  # created 30 h ago + 24 h


def test_grace_of_a_new_user_ends_24_hours_after_creation_on_every_path(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", age=timedelta(hours=2)), now=clock.at)
    expected = clock.at + timedelta(hours=22)

    scanned = of(scan(lambda_client), "bob")
    signed_in = of(sign_in(lambda_client, "bob"), "bob")

    assert [(f["type"], deadline_of(f)) for f in scanned + signed_in] == [("pending", expected), ("pending", expected)]
    clock.advance(hours=21, minutes=59, seconds=59)
    assert kinds(scan(lambda_client)) == ["pending"]
    clock.advance(seconds=1)  # the deadline itself: grace has ended
    assert [f["type"] for f in of(scan(lambda_client), "bob")] == ["quarantined"]
    assert ms.quarantined_users(iam) == {"bob"}


@pytest.mark.parametrize("fixture", [USER_GIVES_PASSWORD, ADMIN_GIVES_PASSWORD], ids=["by the user", "by an admin"])
def test_re_creating_the_login_profile_of_a_user_past_grace_earns_nothing_once_a_deadline_is_recorded(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock, profiles: dict[str, datetime], fixture: str
) -> None:
    """An old user given a password by an admin gets a recorded deadline; re-creating the profile moves nothing."""
    ms.create_user(iam, ms.UserSpec("bob", console=False, age=timedelta(days=200)), now=clock.at)
    give_password(iam, "bob", profiles, clock.at)
    first = iam_change(lambda_client, ADMIN_GIVES_PASSWORD, "bob", at=clock.at)
    recorded = ms.user_tags(iam, "bob")[GRACE_TAG]
    assert recorded == iso(clock.at + timedelta(hours=24))
    assert deadline_of(of(first, "bob")[0]) == clock.at + timedelta(hours=24)

    clock.advance(hours=20)
    iam.delete_login_profile(UserName="bob")
    give_password(iam, "bob", profiles, clock.at)
    again = iam_change(lambda_client, fixture, "bob", at=clock.at)

    assert ms.user_tags(iam, "bob")[GRACE_TAG] == recorded
    (pending,) = of(again, "bob")
    assert (pending["type"], pending["deadline"]) == ("pending", recorded)
    clock.advance(hours=4)
    assert [f["type"] for f in of(sign_in(lambda_client, "bob"), "bob")] == ["quarantined"]


def test_a_user_who_re_creates_their_own_login_profile_gets_no_grace(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock, profiles: dict[str, datetime]
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", age=timedelta(days=30)), now=clock.at)
    iam.delete_login_profile(UserName="bob")
    give_password(iam, "bob", profiles, clock.at)

    result = iam_change(lambda_client, USER_GIVES_PASSWORD, "bob", at=clock.at)

    assert GRACE_TAG not in ms.user_tags(iam, "bob")
    assert [f["type"] for f in of(result, "bob")] == ["quarantined"]
    assert ms.quarantined_users(iam) == {"bob"}


def test_removing_the_recorded_deadline_falls_back_to_the_earlier_floor(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock, profiles: dict[str, datetime]
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", console=False, age=timedelta(days=200)), now=clock.at)
    give_password(iam, "bob", profiles, clock.at)
    iam_change(lambda_client, ADMIN_GIVES_PASSWORD, "bob", at=clock.at)
    clock.advance(hours=1)
    assert kinds(scan(lambda_client)) == ["pending"]

    iam.untag_user(UserName="bob", TagKeys=[GRACE_TAG])  # the user removes the bot's tag
    result = scan(lambda_client)

    assert [f["type"] for f in of(result, "bob")] == ["quarantined"]
    assert deadline_of(of(result, "bob")[0]) == clock.at - timedelta(days=200, hours=1) + timedelta(hours=24)


def test_a_hand_set_deadline_gains_nothing_beyond_the_passwords_age(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock, profiles: dict[str, datetime], calls: CallCounter
) -> None:
    """A password that came with the user earns no recorded deadline; a later one, no more than its own age."""
    ms.create_user(iam, ms.UserSpec("bob", age=timedelta(days=30)), now=clock.at)  # password as old as the user
    ms.create_user(iam, ms.UserSpec("eve", age=timedelta(days=30)), now=clock.at)
    profiles["eve"] = clock.at - timedelta(days=2)  # re-created two days ago
    for user in ("bob", "eve"):
        iam.tag_user(UserName=user, Tags=[{"Key": GRACE_TAG, "Value": "2099-01-01T00:00:00Z"}])

    scanned = scan(lambda_client)

    assert ms.quarantined_users(iam) == {"bob", "eve"}
    assert calls.calls["iam:GetUser"] == 1  # eve's record only: bob's password came with him
    (eve,) = of(scanned, "eve")
    assert (
        "its grace-deadline tag 2099-01-01T00:00:00Z asks for more than the console password's age allows"
        in (eve["reason"])
    )
    assert deadline_of(eve) == profiles["eve"] + timedelta(hours=24, minutes=5)  # capped by the password's age


def test_a_hand_set_deadline_on_a_user_whose_password_came_with_them_is_ignored_at_sign_in(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", age=timedelta(days=30)), now=clock.at)
    iam.tag_user(UserName="bob", Tags=[{"Key": GRACE_TAG, "Value": "2099-01-01T00:00:00Z"}])

    (finding,) = of(sign_in(lambda_client, "bob"), "bob")

    assert finding["type"] == "quarantined"
    assert "its grace-deadline tag was ignored: the console password came with the user" in finding["reason"]


@pytest.mark.parametrize("value", ["soon", "2026-12-01T10:00:00"], ids=["not a time", "no time zone"])
def test_an_unreadable_deadline_is_ignored(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock, value: str
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", age=timedelta(days=30)), now=clock.at)
    iam.tag_user(UserName="bob", Tags=[{"Key": GRACE_TAG, "Value": value}])

    (finding,) = of(sign_in(lambda_client, "bob"), "bob")

    assert finding["type"] == "quarantined"
    assert f"its grace-deadline tag '{value}' is not a timestamp and was ignored" in finding["reason"]


# --- an older user given a console password gets a fair grace ------------------------------------


def test_an_old_api_user_given_a_password_by_an_admin_has_one_recorded_deadline_everywhere(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock, profiles: dict[str, datetime], calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", console=False, access_key=True, age=timedelta(days=200)), now=clock.at)
    given = clock.at
    give_password(iam, "bob", profiles, given)
    expected = given + timedelta(hours=24)

    event = iam_change(lambda_client, ADMIN_GIVES_PASSWORD, "bob", at=given)

    (pending,) = of(event, "bob")
    assert (pending["type"], pending["transition"], deadline_of(pending)) == ("pending", True, expected)
    assert pending["reason"] == (
        f"console access without MFA; grace ends {iso(expected)}; "
        f"recorded when {ADMIN} gave the user a console password at {iso(given)}"
    )
    assert ms.user_tags(iam, "bob") == {GRACE_TAG: iso(expected)}
    assert calls.writes == {"iam:TagUser": 1}

    clock.advance(hours=3)
    calls.reset()
    scanned = of(scan(lambda_client), "bob")
    assert [(f["type"], deadline_of(f)) for f in scanned if f["type"] == "pending"] == [("pending", expected)]
    assert (calls.calls["iam:GetUser"], calls.calls["iam:GetLoginProfile"]) == (1, 1)  # only for the pending user
    assert [(f["type"], deadline_of(f)) for f in of(sign_in(lambda_client, "bob"), "bob")] == [("pending", expected)]

    clock.advance(hours=21)
    assert [f["type"] for f in of(scan(lambda_client), "bob") if f["type"] != "api-user-without-mfa"] == ["quarantined"]
    assert ms.quarantined_users(iam) == {"bob"}


def test_a_password_given_with_the_user_earns_no_record(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock
) -> None:
    """CreateUser then CreateLoginProfile a moment later: the floor is already fair, nothing is written."""
    ms.create_user(iam, ms.UserSpec("bob", age=timedelta(minutes=1)), now=clock.at)

    result = iam_change(lambda_client, ADMIN_GIVES_PASSWORD, "bob", at=clock.at)

    assert ms.user_tags(iam, "bob") == {}
    (pending,) = of(result, "bob")
    assert deadline_of(pending) == clock.at + timedelta(hours=23, minutes=59)


def test_a_missed_create_login_profile_event_gives_no_grace(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock, profiles: dict[str, datetime]
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", console=False, age=timedelta(days=200)), now=clock.at)
    give_password(iam, "bob", profiles, clock.at)  # EventBridge never delivers the CreateLoginProfile event

    result = scan(lambda_client)

    assert [f["type"] for f in of(result, "bob")] == ["quarantined"]


def test_a_sign_in_that_beats_the_create_login_profile_event_is_undone_when_it_arrives(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock, profiles: dict[str, datetime]
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", console=False, age=timedelta(days=200)), now=clock.at)
    given = clock.at
    give_password(iam, "bob", profiles, given)
    clock.advance(minutes=1)
    assert [f["type"] for f in of(sign_in(lambda_client, "bob"), "bob")] == ["quarantined"]
    clock.advance(minutes=3)  # the IAM event arrives late

    result = iam_change(lambda_client, ADMIN_GIVES_PASSWORD, "bob", at=given)

    assert ms.quarantined_users(iam) == set()
    assert ms.user_tags(iam, "bob") == {GRACE_TAG: iso(given + timedelta(hours=24))}
    (released,) = of(result, "bob")
    assert (released["type"], released["action"]) == ("released", "release")
    assert released["reason"].startswith("quarantined before the grace this console password earns was known")


def test_an_older_quarantine_is_not_undone_by_a_new_password(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock, profiles: dict[str, datetime]
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", age=timedelta(days=200)), now=clock.at)
    scan(lambda_client)
    clock.advance(hours=5)
    iam.delete_login_profile(UserName="bob")
    give_password(iam, "bob", profiles, clock.at)  # an admin resets the password the hard way

    result = iam_change(lambda_client, ADMIN_GIVES_PASSWORD, "bob", at=clock.at)

    assert ms.quarantined_users(iam) == {"bob"}
    assert kinds(result) == ["still-quarantined"]


def test_report_mode_records_no_deadline(
    iam: Any, report_mode: str, lambda_client: Any, clock: Clock, profiles: dict[str, datetime], calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", console=False, age=timedelta(days=200)), now=clock.at)
    give_password(iam, "bob", profiles, clock.at)

    result = iam_change(lambda_client, ADMIN_GIVES_PASSWORD, "bob", at=clock.at)

    assert calls.writes == {}
    (pending,) = of(result, "bob")
    assert pending["reason"].endswith(" (report mode: not recorded)")
    assert ms.user_tags(iam, "bob") == {}


# --- the first deploy into an existing account ----------------------------------------------------


def test_first_enforce_run_quarantines_every_console_user_past_the_floor(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No event was seen before the deploy: grace counts from creation for everyone."""
    ms.create_user(iam, ms.UserSpec("old", age=timedelta(days=400)), now=clock.at)
    ms.create_user(iam, ms.UserSpec("reset", age=timedelta(days=90)), now=clock.at)
    ms.create_user(iam, ms.UserSpec("young", age=timedelta(hours=5)), now=clock.at)
    ms.report_with(monkeypatch, {"reset": {"password_last_changed": iso(clock.at - timedelta(hours=2))}})

    result = scan(lambda_client)

    assert ms.quarantined_users(iam) == {"old", "reset"}
    assert [(f["user"], f["type"]) for f in result["findings"] if f["user"] == "young"] == [("young", "pending")]


# --- a removed quarantine is restored only when it was the bot's -----------------------------------


def test_detaching_a_hand_attached_policy_inside_grace_is_nothing(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", age=timedelta(hours=2)), now=clock.at)
    iam.attach_user_policy(UserName="bob", PolicyArn=enforce)
    iam.detach_user_policy(UserName="bob", PolicyArn=enforce)
    calls.reset()

    result = iam_change(lambda_client, DETACH, "bob")

    assert result["findings"] == []
    assert "nothing to restore" in result["ignored"]
    assert calls.writes == {}
    assert ms.quarantined_users(iam) == set()


def test_detaching_from_an_untagged_user_past_grace_is_tamper_and_restored_with_tags(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", age=timedelta(days=3)), now=clock.at)
    iam.attach_user_policy(UserName="bob", PolicyArn=enforce)
    iam.detach_user_policy(UserName="bob", PolicyArn=enforce)

    result = iam_change(lambda_client, DETACH, "bob")

    (tamper,) = of(result, "bob")
    assert (tamper["type"], tamper["severity"], tamper["action"]) == ("tamper", "critical", "reattach")
    assert ms.quarantined_users(iam) == {"bob"}
    assert set(ms.user_tags(iam, "bob")) >= {"mfa-enforcer:quarantined-at", "mfa-enforcer:reason"}


def test_detaching_from_an_exempt_untagged_user_is_nothing(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, clock: Clock
) -> None:
    ms.create_user(iam, ms.UserSpec("bob", age=timedelta(days=3)), now=clock.at)
    ssm.put_parameter(
        Name="/mfa-enforcer/exemptions",
        Value='{"version": 1, "exemptions": [{"user": "bob", "reason": "break glass"}]}',
        Type="String",
    )

    result = iam_change(lambda_client, DETACH, "bob")

    assert result["findings"] == []
    assert ms.quarantined_users(iam) == set()
