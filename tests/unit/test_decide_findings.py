"""Every field of every finding and write the decision returns, at both sides of each boundary.

tests/unit/test_decide.py walks the decision table by finding type; this file pins the rest of what
goes out: the reason an operator reads, the deadline and expiry a message prints, who detected it
and when, whether it is news (`transition`, which decides whether anyone is alerted), and the write
the shell carries out with what it must confirm first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.core import decide, exemptions, grace
from chalicelib.core.model import Action, Finding, FindingType, Mode, Trigger, Write
from tests.conftest import NOW

ACCOUNT = "123456789012"
BOB_ARN = f"arn:aws:iam::{ACCOUNT}:user/bob"
ENFORCE = decide.Policy(mode=Mode.ENFORCE, grace=timedelta(hours=24))
REPORT = decide.Policy(mode=Mode.REPORT, grace=timedelta(hours=24))
HOUR = timedelta(hours=1)
TICK = timedelta(microseconds=1)
OLD = NOW - timedelta(days=90)
SCAN = Trigger.SCHEDULED_SCAN
LOGIN = Trigger.ON_CONSOLE_LOGIN


def facts(**overrides: Any) -> decide.UserFacts:
    base: dict[str, Any] = {
        "user": "bob",
        "arn": BOB_ARN,
        "console": True,
        "mfa": False,
        "access_key": False,
        "created": OLD,
        "quarantined": False,
    }
    return decide.UserFacts(**(base | overrides))


def doc(*entries: dict[str, str]) -> exemptions.Exemptions:
    return exemptions.parse({"version": 1, "exemptions": list(entries)})


def bob(kind: FindingType, action: Action, reason: str, *, transition: bool, **extra: Any) -> Finding:
    """The finding about bob that the decision should return at NOW."""
    return Finding(kind, "bob", BOB_ARN, action, reason, extra.pop("detected_by", SCAN), NOW, transition, **extra)


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- evaluate: one user, each row of the table, every field ---------------------------------------


def test_a_quarantined_user_who_enrolled_mfa_is_released_after_a_live_device_check() -> None:
    found, write = decide.evaluate(facts(quarantined=True, mfa=True), doc(), NOW, ENFORCE, LOGIN)
    released = bob(FindingType.RELEASED, Action.RELEASE, "MFA device enrolled", transition=True, detected_by=LOGIN)
    assert found == (released,)
    assert write == Write(
        Action.RELEASE, "bob", "MFA device enrolled", released, confirm_no_mfa=False, confirm_mfa=True
    )


def test_a_quarantined_user_who_became_exempt_is_released_without_a_device_check() -> None:
    document = doc({"user": "bob", "reason": "break glass"})
    found, write = decide.evaluate(facts(quarantined=True), document, NOW, REPORT, SCAN)
    why = "exempted by user bob: break glass"
    released = bob(FindingType.RELEASED, Action.WOULD_RELEASE, why, transition=True)
    assert found == (released,)
    assert write == Write(Action.WOULD_RELEASE, "bob", why, released, confirm_no_mfa=False, confirm_mfa=False)


def test_a_quarantined_user_still_without_mfa_stays_quietly() -> None:
    found, write = decide.evaluate(facts(quarantined=True), doc(), NOW, ENFORCE, SCAN)
    assert found == (bob(FindingType.STILL_QUARANTINED, Action.NONE, "still without MFA", transition=False),)
    assert write is None


def test_an_api_user_without_mfa_is_reported_never_alerted() -> None:
    found, write = decide.evaluate(facts(console=False, access_key=True), doc(), NOW, ENFORCE, SCAN)
    reason = "access keys but no MFA; API calls are not protected by MFA"
    assert found == (bob(FindingType.API_USER_WITHOUT_MFA, Action.NONE, reason, transition=False),)
    assert write is None


def test_an_exempt_user_carries_the_entry_and_its_expiry() -> None:
    ends = NOW + timedelta(days=30)
    document = doc({"group": "Ops", "reason": "on call", "expires": ends.isoformat()})
    found, write = decide.evaluate(facts(groups=frozenset({"ops"})), document, NOW, ENFORCE, LOGIN)
    why = "exempted by group Ops: on call"
    assert found == (bob(FindingType.EXEMPT, Action.NONE, why, transition=False, detected_by=LOGIN, expires=ends),)
    assert write is None


def expiring_findings(ends: datetime, trigger: Trigger = SCAN) -> tuple[Finding, ...]:
    document = doc({"user": "bob", "reason": "leave", "expires": ends.isoformat()})
    found, write = decide.evaluate(facts(), document, NOW, ENFORCE, trigger, earlier=document)
    assert write is None
    return found


def test_an_exemption_ending_within_the_window_warns_with_its_end() -> None:
    ends = NOW + timedelta(days=3)
    exempt, expiring = expiring_findings(ends, LOGIN)
    assert exempt == bob(
        FindingType.EXEMPT,
        Action.NONE,
        "exempted by user bob: leave",
        transition=False,
        detected_by=LOGIN,
        expires=ends,
    )
    assert expiring == bob(
        FindingType.EXEMPTION_EXPIRING,
        Action.NONE,
        f"exemption (user bob) ends {iso(ends)}",
        transition=False,  # only the scan announces the warning
        detected_by=LOGIN,
        expires=ends,
    )


@pytest.mark.parametrize(
    ("ends", "news"),
    [
        (NOW + exemptions.EXPIRING_WINDOW, True),  # the warning starts now
        (NOW + exemptions.EXPIRING_WINDOW - HOUR + TICK, True),  # it started within the last interval
        (NOW + exemptions.EXPIRING_WINDOW - HOUR, False),  # it started one interval ago: the last scan said it
        (NOW + timedelta(days=2), False),
    ],
    ids=["starts-now", "started-within-the-interval", "started-an-interval-ago", "started-days-ago"],
)
def test_the_scan_announces_the_expiry_warning_once(ends: datetime, news: bool) -> None:
    _, expiring = expiring_findings(ends)
    assert expiring.type is FindingType.EXEMPTION_EXPIRING
    assert expiring.transition is news


def test_an_exemption_ending_after_the_window_gives_no_warning() -> None:
    (exempt,) = expiring_findings(NOW + exemptions.EXPIRING_WINDOW + TICK)
    assert exempt.type is FindingType.EXEMPT


def test_under_an_unusable_document_nobody_new_is_quarantined_or_pending() -> None:
    assert decide.evaluate(facts(), None, NOW, ENFORCE, SCAN) == ((), None)
    assert decide.evaluate(facts(created=NOW - HOUR), None, NOW, ENFORCE, SCAN) == ((), None)


def test_a_user_inside_grace_is_pending_with_the_deadline() -> None:
    created = NOW - timedelta(hours=3)
    deadline = created + ENFORCE.grace
    found, write = decide.evaluate(facts(created=created), doc(), NOW, ENFORCE, LOGIN)
    reason = f"console access without MFA; grace ends {iso(deadline)}"
    assert found == (
        bob(FindingType.PENDING, Action.NONE, reason, transition=True, detected_by=LOGIN, deadline=deadline),
    )
    assert write is None


@pytest.mark.parametrize(
    ("created", "news"),
    [(NOW - HOUR + TICK, True), (NOW - HOUR, False), (NOW, True)],
    ids=["grace-began-within-the-interval", "grace-began-an-interval-ago", "created-now"],
)
def test_the_scan_announces_pending_once(created: datetime, news: bool) -> None:
    ((pending,), _) = decide.evaluate(facts(created=created), doc(), NOW, ENFORCE, SCAN)
    assert (pending.type, pending.transition) == (FindingType.PENDING, news)


def test_at_the_deadline_the_user_is_quarantined_with_every_field() -> None:
    created = NOW - ENFORCE.grace
    found, write = decide.evaluate(facts(created=created), doc(), NOW, ENFORCE, SCAN)
    reason = f"console password without MFA; grace ended {iso(NOW)}"
    quarantined = bob(FindingType.QUARANTINED, Action.QUARANTINE, reason, transition=True, deadline=NOW)
    assert found == (quarantined,)
    assert write == Write(Action.QUARANTINE, "bob", reason, quarantined)
    assert write.confirm_no_mfa and not write.confirm_mfa
    ((pending,), _) = decide.evaluate(facts(created=created + TICK), doc(), NOW, ENFORCE, SCAN)
    assert pending.type is FindingType.PENDING


def test_a_user_of_unknown_age_has_no_grace_left() -> None:
    found, write = decide.evaluate(facts(created=None), doc(), NOW, REPORT, SCAN)
    reason = f"console password without MFA; grace ended {iso(NOW)}"
    expected = bob(FindingType.QUARANTINED, Action.WOULD_QUARANTINE, reason, transition=True, deadline=NOW)
    assert found == (expected,)
    assert write == Write(Action.WOULD_QUARANTINE, "bob", reason, expected)


def test_a_recorded_deadline_it_could_not_believe_is_said_in_the_reason() -> None:
    user = facts(grace_tag="soon", profile_created=NOW - timedelta(hours=2))
    ((finding,), _) = decide.evaluate(user, doc(), NOW, ENFORCE, SCAN)
    assert finding.reason == (
        f"console password without MFA; grace ended {iso(OLD + ENFORCE.grace)} "
        "(its grace-deadline tag 'soon' is not a timestamp and was ignored)"
    )


def test_a_recorded_deadline_within_the_passwords_age_extends_grace() -> None:
    profile = NOW - timedelta(hours=2)
    user = facts(grace_tag=(profile + ENFORCE.grace).isoformat(), profile_created=profile)
    ((finding,), _) = decide.evaluate(user, doc(), NOW, ENFORCE, SCAN)
    assert (finding.type, finding.deadline) == (FindingType.PENDING, profile + ENFORCE.grace)
    assert finding.reason == f"console access without MFA; grace ends {iso(profile + ENFORCE.grace)}"
    assert decide.deadline_of(user, ENFORCE) == grace.Deadline(profile + ENFORCE.grace)
    assert decide.deadline_of(facts(created=None), ENFORCE) is None


def test_a_user_with_mfa_who_is_not_quarantined_needs_nothing() -> None:
    assert decide.evaluate(facts(mfa=True), doc({"path": "/", "reason": "all"}), NOW, ENFORCE, SCAN) == ((), None)
    assert decide.evaluate(facts(console=False), doc(), NOW, ENFORCE, SCAN) == ((), None)
