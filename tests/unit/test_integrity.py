"""The quarantine's integrity as pure decisions: the comparison, what differs, when it is news, who is not contained."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core import decide, integrity
from chalicelib.core.model import Action, Finding, FindingType, Mode, Trigger
from tests.policy_sim import documents as docs

SHIPPED = docs.load_json(docs.QUARANTINE_POLICY)
ARN = "arn:aws:iam::123456789012:policy/mfa-enforcer-quarantine"
HOUR = timedelta(hours=1)
ALLOW_ALL = {"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}


def edited(change: Any) -> dict[str, Any]:
    """A deep copy of the shipped document, changed in place by `change`."""
    document = copy.deepcopy(SHIPPED)
    change(document)
    return document


def by_sid(document: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in document["Statement"] if s.get("Sid") == sid)


# --------------------------------------------------------------------------------------- comparing

SAME = {
    "reformatted text": json.loads(json.dumps(SHIPPED, indent=None, separators=(",", ":"))),
    "keys in another order": json.loads(json.dumps(SHIPPED, sort_keys=True)),
    "statements in another order": edited(lambda d: d["Statement"].reverse()),
    "actions in another order": edited(lambda d: by_sid(d, "DenyAllExceptListedIfNoMFA")["NotAction"].reverse()),
}

DIFFERENT = {
    "an extra Allow statement": edited(lambda d: d["Statement"].append(ALLOW_ALL)),
    "Bool instead of BoolIfExists (access keys escape)": edited(
        lambda d: by_sid(d, "DenyAllExceptListedIfNoMFA").update(
            Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}}
        )
    ),
    "the condition value flipped": edited(
        lambda d: by_sid(d, "DenyAllExceptListedIfNoMFA")["Condition"]["BoolIfExists"].update(
            {"aws:MultiFactorAuthPresent": "true"}
        )
    ),
    "a boolean where the text has a string": edited(
        lambda d: by_sid(d, "DenyAllExceptListedIfNoMFA")["Condition"]["BoolIfExists"].update(
            {"aws:MultiFactorAuthPresent": False}
        )
    ),
    "one more exception in NotAction": edited(
        lambda d: by_sid(d, "DenyAllExceptListedIfNoMFA")["NotAction"].append("s3:GetObject")
    ),
    "a statement missing": edited(lambda d: d["Statement"].pop()),
    "a string where the text has a one-element list": edited(
        lambda d: by_sid(d, "AllowCreateVirtualMFADevice").update(Action=["iam:CreateVirtualMFADevice"])
    ),
    "letter case of an action": edited(
        lambda d: by_sid(d, "AllowCreateVirtualMFADevice").update(Action="iam:createvirtualmfadevice")
    ),
    "a repeated action": edited(
        lambda d: by_sid(d, "DenyAllExceptListedIfNoMFA")["NotAction"].append("iam:ChangePassword")
    ),
    "another Version": edited(lambda d: d.update(Version="2008-10-17")),
    "Statement as one object": {"Version": "2012-10-17", "Statement": ALLOW_ALL},
    "not an object": "Allow everything",
}


@pytest.mark.parametrize("name", list(SAME))
def test_what_iam_ignores_is_ignored(name: str) -> None:
    assert integrity.same_document(SHIPPED, SAME[name])


@pytest.mark.parametrize("name", list(DIFFERENT))
def test_anything_else_is_a_difference(name: str) -> None:
    assert not integrity.same_document(SHIPPED, DIFFERENT[name])
    assert integrity.difference(SHIPPED, DIFFERENT[name])


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("an extra Allow statement", "Allow statement 'Everything' added"),
        ("Bool instead of BoolIfExists (access keys escape)", "statement 'DenyAllExceptListedIfNoMFA' changed"),
        ("a statement missing", "shipped statement(s) 'DenyAllExceptListedIfNoMFA' missing"),
        ("another Version", "Version differs"),
        ("Statement as one object", "Allow statement 'Everything' added"),
        ("not an object", "the document is not a JSON object"),
    ],
)
def test_the_difference_names_what_changed(name: str, says: str) -> None:
    assert says in integrity.difference(SHIPPED, DIFFERENT[name])


def test_a_replaced_document_is_summed_up() -> None:
    replaced = {"Version": "2012-10-17", "Statement": [ALLOW_ALL]}
    assert integrity.difference(SHIPPED, replaced) == (
        "Allow statement 'Everything' added, shipped statement(s) 'AllowViewAccountInfo', "
        "'AllowCreateVirtualMFADevice', 'AllowManageOwnMFAAndPassword' missing, and 2 more"
    )


def test_an_attackers_sid_is_quoted_and_cut() -> None:
    loud = dict(ALLOW_ALL, Sid="<!channel> " + "x" * 200)
    text = integrity.difference(SHIPPED, edited(lambda d: d["Statement"].append(loud)))
    assert len(text) < 120 and text.startswith("Allow statement '<!channel> xxx")


# ----------------------------------------------------------------------------------------- checking

NOW = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)


def state(**changes: Any) -> integrity.PolicyState:
    base: dict[str, Any] = {
        "arn": ARN,
        "exists": True,
        "default_version": "v1",
        "document": SHIPPED,
        "version_created": NOW - timedelta(days=200),
        "updated": NOW - timedelta(days=200),
        "group_attached": True,
    }
    base.update(changes)
    return integrity.PolicyState(**base)


def test_an_intact_policy_is_nothing() -> None:
    assert integrity.check(SHIPPED, state(document=SAME["statements in another order"]), NOW, HOUR) is None


def test_a_new_default_version_names_the_version_and_is_fresh() -> None:
    found = integrity.check(
        SHIPPED, state(default_version="v2", document=DIFFERENT["an extra Allow statement"],
                       version_created=NOW - timedelta(minutes=10), updated=NOW - timedelta(minutes=10)), NOW, HOUR,
    )  # fmt: skip
    assert found is not None and found.fresh and found.document_hollow and not found.group_detached
    assert found.describe().startswith(f"the quarantine policy {ARN}: its default version v2 is not the shipped")


def test_a_rollback_to_an_old_version_carries_no_date() -> None:
    found = integrity.check(SHIPPED, state(default_version="v1", document=DIFFERENT["a statement missing"]), NOW, HOUR)
    assert found is not None and found.version == "v1" and not found.fresh


def test_a_detached_group_and_a_missing_policy() -> None:
    detached = integrity.check(SHIPPED, state(group_attached=False), NOW, HOUR)
    assert detached is not None and detached.group_detached and not detached.document_hollow
    assert "the group mfa-enforcer-quarantine no longer holds it" in detached.describe()
    missing = integrity.check(SHIPPED, integrity.PolicyState(ARN, exists=False, group_attached=False), NOW, HOUR)
    assert missing is not None and missing.missing and missing.document_hollow
    assert missing.describe() == f"the quarantine policy {ARN} does not exist"


# ---------------------------------------------------------------------- when it is news (stateless)


@dataclass(frozen=True)
class Clock:
    """Scans every hour, on the half hour, from the tampering on; the bot remembers nothing between them."""

    start: datetime

    def hours(self, count: int) -> list[datetime]:
        return [self.start + i * HOUR for i in range(count)]


def news_over_a_day(
    tampering_at: datetime, state_at: Any, mode: Mode, restored: integrity.Restored | None
) -> list[str]:
    alerted = []
    for now in Clock(datetime(2026, 11, 23, 10, 30, tzinfo=UTC)).hours(26):
        if now < tampering_at:
            continue
        found = integrity.check(SHIPPED, state_at(now), now, HOUR)
        assert found is not None
        finding = integrity.finding(found, restored, mode=mode, now=now, trigger=Trigger.SCHEDULED_SCAN)
        if finding.transition:
            alerted.append(f"{now:%d %H:%M}")
    return alerted


NEW_VERSION_AT = datetime(2026, 11, 23, 10, 50, tzinfo=UTC)


def new_default_version(now: datetime) -> integrity.PolicyState:
    return state(default_version="v2", document=DIFFERENT["an extra Allow statement"],
                 version_created=NEW_VERSION_AT, updated=NEW_VERSION_AT)  # fmt: skip


def rolled_back(now: datetime) -> integrity.PolicyState:
    return state(default_version="v1", document=DIFFERENT["a statement missing"])


FAILED = integrity.Restored(error="CreatePolicyVersion: AccessDenied: not authorized")


@pytest.mark.parametrize(
    ("mode", "restored"), [(Mode.REPORT, None), (Mode.ENFORCE, FAILED)], ids=["report mode", "restore failed"]
)
def test_a_standing_new_version_alerts_once_then_daily(mode: Mode, restored: integrity.Restored | None) -> None:
    assert news_over_a_day(NEW_VERSION_AT, new_default_version, mode, restored) == ["23 11:30", "24 00:30"]


def test_an_undated_rollback_waits_for_the_daily_repeat_the_alarm_covers_the_first_hours() -> None:
    assert news_over_a_day(NEW_VERSION_AT, rolled_back, Mode.REPORT, None) == ["24 00:30"]


def test_a_restore_is_always_news_and_an_event_always_is() -> None:
    found = integrity.check(SHIPPED, rolled_back(NOW), NOW, HOUR)
    assert found is not None
    restored = integrity.Restored(version="v3")
    scan = integrity.finding(found, restored, mode=Mode.ENFORCE, now=NOW, trigger=Trigger.SCHEDULED_SCAN)
    assert (scan.transition, scan.action, scan.error) == (True, Action.RESTORE, None)
    assert scan.reason.endswith("restored: made v3, the shipped document, its default version")
    event = integrity.finding(found, None, mode=Mode.REPORT, now=NOW, trigger=Trigger.ON_IAM_CHANGE, actor="mallory")
    assert (event.transition, event.action, event.actor) == (True, Action.WOULD_RESTORE, "mallory")
    assert event.reason.startswith("mallory changed the quarantine: the quarantine policy")
    assert event.severity.value == "critical" and event.type is FindingType.QUARANTINE_POLICY_TAMPERED


def test_a_partial_restore_says_what_it_did_and_what_failed() -> None:
    found = integrity.check(SHIPPED, rolled_back(NOW), NOW, HOUR)
    assert found is not None
    both = integrity.Tampering(ARN, version="v1", difference=found.difference, group_detached=True)
    partial = integrity.Restored(version="v3", deleted="v2", error="AttachGroupPolicy: NoSuchEntity: no group")
    finding = integrity.finding(both, partial, mode=Mode.ENFORCE, now=NOW, trigger=Trigger.SCHEDULED_SCAN, exposed=4)
    assert finding.action is Action.NONE and finding.error == partial.error
    assert "after deleting v2 (IAM keeps at most 5 versions)" in finding.reason
    assert finding.reason.endswith("4 quarantined user(s) are not contained until it is restored")
    left = integrity.remaining(both, partial)
    assert left is not None and not left.document and left.group


# ------------------------------------------------------------------------------- who is contained


def quiet(user: str, kind: FindingType = FindingType.STILL_QUARANTINED) -> Finding:
    return Finding(kind, user, f"arn:aws:iam::123456789012:user/{user}", Action.NONE, "still without MFA",
                   Trigger.SCHEDULED_SCAN, NOW, transition=False)  # fmt: skip


EXPOSURE = integrity.Exposure(direct=frozenset({"ann"}), via_group=frozenset({"gus"}))


@pytest.mark.parametrize(
    ("tampering", "uncontained"),
    [
        (integrity.Tampering(ARN, version="v2", difference="x"), {"ann", "gus"}),
        (integrity.Tampering(ARN, group_detached=True), {"gus"}),
        (integrity.Tampering(ARN, missing=True), {"ann", "gus"}),
    ],
    ids=["document", "group", "missing"],
)
def test_nobody_a_hollow_policy_holds_is_reported_as_contained(
    tampering: integrity.Tampering, uncontained: set[str]
) -> None:
    hollow = integrity.remaining(tampering, None)
    assert hollow is not None
    findings = integrity.uncontained([quiet("ann"), quiet("gus"), quiet("zoe", FindingType.PENDING)], hollow, EXPOSURE)
    marked = {f.user for f in findings if integrity.is_uncontained(f)}
    assert marked == uncontained
    for finding in findings:
        if finding.user in uncontained:
            assert finding.type is FindingType.CANNOT_QUARANTINE and not finding.transition
            assert finding.error == f"not contained: {tampering.describe()}"
    assert integrity.exposed_count(hollow, EXPOSURE) == len(uncontained)


def test_a_restored_policy_contains_everyone_again() -> None:
    tampering = integrity.Tampering(ARN, version="v2", difference="x", group_detached=True)
    assert integrity.remaining(tampering, integrity.Restored(version="v3", attached=True)) is None
    assert integrity.uncontained([quiet("ann")], None, EXPOSURE) == [quiet("ann")]


def test_the_daily_repeat_is_the_one_the_digest_uses() -> None:
    assert decide.daily_due(datetime(2026, 11, 24, 0, 30, tzinfo=UTC))
