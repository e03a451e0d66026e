"""Tags are claims, not proof; a release after a sign-in quarantine is an event for a person.

Through the handlers against moto with the stored sign-in and EnableMFADevice events: a hand-set
`quarantined-at` tag never passes for a quarantine, and a user who was quarantined for a sign-in
without MFA (perhaps with a stolen password) and then enrolled a device is released loudly, with
where the enrolment came from next to where the sign-in came from.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.core.model import iso
from tests.functional.conftest import CallCounter, Clock
from tests.support import moto_state as ms
from tests.support.invoke import iam_change, kinds, of, scan, sign_in

CLAIM = "mfa-enforcer:quarantined-at"
SIGN_IN_IP = "mfa-enforcer:sign-in-ip"
ENABLE_MFA = "eventbridge_iam_enable_mfa_device.json"  # from 10.10.2.20, console.amazonaws.com, mfa/<user>


def hand_set(iam: Any, user: str, stamp: str) -> None:
    iam.tag_user(UserName=user, Tags=[{"Key": CLAIM, "Value": stamp}])


def enrol(iam: Any, user: str) -> str:
    serial = str(iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]["SerialNumber"])
    iam.enable_mfa_device(
        UserName=user, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    return serial


# --- tags are claims, not proof -----------------------------------------------------------------------


def test_a_hand_set_tag_with_nothing_behind_it_is_completed_and_announced_at_sign_in(
    iam: Any, enforce: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    hand_set(iam, "alice", "2026-11-01T09:00:00Z")
    calls.reset()

    result = sign_in(lambda_client, "alice")

    assert ms.quarantined_users(iam) == {"alice"}
    (finding,) = of(result, "alice")
    assert (finding["type"], finding["action"], finding["transition"]) == ("quarantined", "quarantine", True)
    assert finding["reason"].endswith(
        "; the user carried quarantined-at 2026-11-01T09:00:00Z with no policy or group behind it: completed now"
    )
    assert result["transitions"] == [finding]
    assert ms.user_tags(iam, "alice")[CLAIM] == "2026-11-01T09:00:00Z"  # the role cannot overwrite it
    assert calls.calls["iam:ListAttachedUserPolicies"] == 1
    assert calls.calls["iam:ListGroupsForUser"] == 1

    again = sign_in(lambda_client, "alice")
    assert kinds(again) == ["still-quarantined"] and again["transitions"] == []


def test_a_hand_set_tag_in_report_mode_is_announced_as_would_quarantine(
    iam: Any, report_mode: str, lambda_client: Any, calls: CallCounter
) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    hand_set(iam, "alice", "2026-11-01T09:00:00Z")
    calls.reset()

    result = sign_in(lambda_client, "alice")

    assert calls.writes == {}
    assert [(t["type"], t["action"]) for t in result["transitions"]] == [("quarantined", "would-quarantine")]


def test_a_tag_backed_by_the_quarantine_group_is_a_quarantine(
    iam: Any, enforce: str, lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ms.enforce_policy_quota(monkeypatch)
    ms.create_user(iam, ms.UserSpec("alice"))
    ms.fill_policy_quota(iam, "alice")
    sign_in(lambda_client, "alice")  # quarantined through the group

    again = sign_in(lambda_client, "alice")

    assert kinds(again) == ["still-quarantined"]
    assert again["transitions"] == []


@pytest.mark.parametrize(
    ("ahead", "announced"),
    [(timedelta(minutes=10), True), (timedelta(minutes=1, seconds=1), True), (timedelta(minutes=1), False)],
    ids=["10 minutes ahead", "just past the clock skew", "within the clock skew"],
)
def test_the_scan_adopts_and_announces_a_stamp_from_the_future(
    iam: Any, enforce: str, lambda_client: Any, clock: Clock, ahead: timedelta, announced: bool
) -> None:
    """No writer stamps the future: such a stamp was set by hand, and cannot pass for a claim in progress."""
    ms.create_user(iam, ms.UserSpec("lia"), now=clock.at)
    hand_set(iam, "lia", iso(clock.at + ahead))

    result = scan(lambda_client)

    assert ms.quarantined_users(iam) == {"lia"}
    assert [f["type"] for f in of(result, "lia")] == (["quarantined"] if announced else ["still-quarantined"])
    assert bool(result["transitions"]) is announced


# --- a release after a sign-in quarantine ------------------------------------------------------------


def test_enrolling_after_a_sign_in_quarantine_is_released_loudly_with_both_addresses(
    iam: Any, enforce: str, lambda_client: Any
) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    quarantined = sign_in(lambda_client, "alice")
    (finding,) = of(quarantined, "alice")
    assert (finding["source_ip"], finding["user_agent"][:11]) == ("192.0.2.10", "Mozilla/5.0")
    assert ms.user_tags(iam, "alice")[SIGN_IN_IP] == "192.0.2.10"
    serial = enrol(iam, "alice")

    result = iam_change(lambda_client, ENABLE_MFA, "alice")

    (released,) = of(result, "alice")
    assert (released["type"], released["severity"], released["action"]) == ("released", "high", "release")
    assert (released["source_ip"], released["user_agent"], released["mfa_serial"]) == (
        "10.10.2.20",
        "console.amazonaws.com",
        serial,
    )
    assert released["sign_in_ip"] == "192.0.2.10"
    assert released["reason"] == (
        f"MFA device {serial} enrolled from 10.10.2.20 (console.amazonaws.com) after a quarantine for a sign-in "
        "without MFA from 192.0.2.10: confirm with the user that they enrolled it; if not, someone else knows "
        "their password"
    )
    assert ms.user_tags(iam, "alice") == {}
    assert ms.quarantined_users(iam) == set()


def test_a_release_after_a_scan_quarantine_stays_routine(iam: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    scan(lambda_client)
    assert SIGN_IN_IP not in ms.user_tags(iam, "alice")
    enrol(iam, "alice")

    (released,) = of(iam_change(lambda_client, ENABLE_MFA, "alice"), "alice")

    assert (released["type"], released["severity"], released["reason"]) == ("released", "info", "MFA device enrolled")
    assert released["source_ip"] == "10.10.2.20"  # findings from an event carry what the event says
    assert "sign_in_ip" not in released


def test_a_missed_enrolment_event_still_makes_the_scans_release_loud(
    iam: Any, enforce: str, lambda_client: Any
) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    sign_in(lambda_client, "alice")
    enrol(iam, "alice")  # EventBridge never delivers EnableMFADevice

    (released,) = of(scan(lambda_client), "alice")

    assert (released["type"], released["severity"], released["sign_in_ip"]) == ("released", "high", "192.0.2.10")
    assert released["reason"].startswith(
        "MFA device enrolled (the enrolment event was not seen, so where from is unknown) after a quarantine for a "
        "sign-in without MFA from 192.0.2.10"
    )
    assert ms.user_tags(iam, "alice") == {}


def test_attacker_controlled_event_text_is_bounded_and_cannot_forge_lines(
    iam: Any, enforce: str, lambda_client: Any
) -> None:
    ms.create_user(iam, ms.UserSpec("alice"))
    sign_in(lambda_client, "alice", sourceIPAddress="203.0.113.9\n<!channel> \x1b[2J" + "9" * 300)
    assert ms.user_tags(iam, "alice")[SIGN_IN_IP] == "203.0.113.9channel 2J" + "9" * 43  # IAM's set, 64 at most
    enrol(iam, "alice")

    result = iam_change(lambda_client, ENABLE_MFA, "alice", userAgent="evil\r\nINFO released ok\x07" + "x" * 500)

    (released,) = of(result, "alice")
    assert released["user_agent"].startswith("evil\\x0d\\x0aINFO released ok\\x07xxx")
    assert len(released["user_agent"]) == 256 and released["user_agent"].endswith("...")
    assert "\n" not in released["reason"] and "\x1b" not in released["reason"]
