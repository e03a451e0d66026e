"""The decision table of design.md, row by row, as pure data in and findings/writes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core import credential_report, decide, exemptions
from chalicelib.core.model import Action, FindingType, Mode, ReportRow, Trigger
from tests.conftest import NOW, fixture_text

ENFORCE = decide.Policy(mode=Mode.ENFORCE, grace=timedelta(hours=24))
REPORT = decide.Policy(mode=Mode.REPORT, grace=timedelta(hours=24))
OLD = NOW - timedelta(days=90)


def facts(**overrides: Any) -> decide.UserFacts:
    base: dict[str, Any] = {
        "user": "bob",
        "arn": "arn:aws:iam::123456789012:user/bob",
        "console": True,
        "mfa": False,
        "access_key": False,
        "grace_start": OLD,
        "quarantined": False,
    }
    base.update(overrides)
    return decide.UserFacts(**base)


def doc(*entries: dict[str, str]) -> exemptions.Exemptions:
    return exemptions.parse({"version": 1, "exemptions": list(entries)})


@dataclass
class Row:
    name: str
    facts: decide.UserFacts
    exemptions: exemptions.Exemptions | None = field(default_factory=exemptions.Exemptions)
    expected: tuple[FindingType, ...] = ()
    write: Action | None = None
    transition: bool | None = None


TABLE = [
    Row(
        "console, no MFA, past grace -> quarantine",
        facts(),
        expected=(FindingType.QUARANTINED,),
        write=Action.QUARANTINE,
        transition=True,
    ),
    Row(
        "console, no MFA, inside grace -> pending",
        facts(grace_start=NOW - timedelta(hours=3)),
        expected=(FindingType.PENDING,),
    ),
    Row(
        "exempt by user -> exempt, no write",
        facts(),
        doc({"user": "bob", "reason": "safe"}),
        expected=(FindingType.EXEMPT,),
        transition=False,
    ),
    Row(
        "exempt by path prefix",
        facts(user="svc", arn="arn:aws:iam::123456789012:user/service/batch/svc"),
        doc({"path": "/service/", "reason": "machines"}),
        expected=(FindingType.EXEMPT,),
    ),
    Row(
        "exempt by group",
        facts(groups=frozenset({"vendors"})),
        doc({"group": "vendors", "reason": "idp"}),
        expected=(FindingType.EXEMPT,),
    ),
    Row(
        "exemption ending within 7 days -> exempt + exemption-expiring",
        facts(),
        doc({"user": "bob", "reason": "safe", "expires": (NOW + timedelta(days=3)).date().isoformat()}),
        expected=(FindingType.EXEMPT, FindingType.EXEMPTION_EXPIRING),
    ),
    Row(
        "expired exemption no longer protects",
        facts(),
        doc({"user": "bob", "reason": "safe", "expires": (NOW - timedelta(days=3)).date().isoformat()}),
        expected=(FindingType.QUARANTINED,),
        write=Action.QUARANTINE,
    ),
    Row(
        "MFA active, quarantined -> release",
        facts(mfa=True, quarantined=True),
        expected=(FindingType.RELEASED,),
        write=Action.RELEASE,
    ),
    Row(
        "quarantined user who became exempt -> release",
        facts(quarantined=True),
        doc({"user": "bob", "reason": "break glass"}),
        expected=(FindingType.RELEASED,),
        write=Action.RELEASE,
    ),
    Row(
        "quarantined, still no MFA -> still-quarantined, no alert",
        facts(quarantined=True),
        expected=(FindingType.STILL_QUARANTINED,),
        transition=False,
    ),
    Row(
        "quarantined, password just changed (grace restarted) -> still quarantined",
        facts(quarantined=True, grace_start=NOW - timedelta(minutes=5)),
        expected=(FindingType.STILL_QUARANTINED,),
    ),
    Row("MFA active, not quarantined -> nothing", facts(mfa=True)),
    Row(
        "access key only, no MFA -> api-user-without-mfa",
        facts(console=False, access_key=True),
        expected=(FindingType.API_USER_WITHOUT_MFA,),
    ),
    Row("no console, no key, no MFA -> nothing", facts(console=False)),
    Row("exemptions unusable -> nobody quarantined", facts(), None),
    Row(
        "exemptions unusable -> MFA release still happens",
        facts(mfa=True, quarantined=True),
        None,
        (FindingType.RELEASED,),
        Action.RELEASE,
    ),
    Row("exemptions unusable -> quarantined stays", facts(quarantined=True), None, (FindingType.STILL_QUARANTINED,)),
]


@pytest.mark.parametrize("row", TABLE, ids=[r.name for r in TABLE])
def test_decision_table(row: Row) -> None:
    found, write = decide.evaluate(row.facts, row.exemptions, NOW, ENFORCE, Trigger.SCHEDULED_SCAN)
    assert tuple(f.type for f in found) == row.expected
    assert (write.action if write else None) == row.write
    if row.transition is not None:
        assert found[0].transition is row.transition


@pytest.mark.parametrize("row", [r for r in TABLE if r.write], ids=[r.name for r in TABLE if r.write])
def test_report_mode_never_writes_but_says_what_it_would_do(row: Row) -> None:
    found, write = decide.evaluate(row.facts, row.exemptions, NOW, REPORT, Trigger.SCHEDULED_SCAN)
    assert write is not None
    assert not write.action.is_write
    assert write.action.value == "would-" + row.write.value
    assert found[0].action is write.action


def test_pending_deadline_is_later_of_creation_and_password_change() -> None:
    row = ReportRow(
        user="dave",
        arn="arn:aws:iam::123456789012:user/dave",
        created=NOW - timedelta(days=30),
        password_enabled=True,
        password_last_changed=NOW - timedelta(hours=2),
        mfa_active=False,
        access_key_active=False,
    )
    found, write = decide.evaluate(
        decide.UserFacts.from_row(row, quarantined=False), exemptions.Exemptions(), NOW, ENFORCE, Trigger.SCHEDULED_SCAN
    )
    assert write is None
    assert found[0].type is FindingType.PENDING
    assert found[0].deadline == NOW + timedelta(hours=22)


def test_pending_is_news_only_in_the_scan_after_grace_started() -> None:
    fresh = decide.evaluate(
        facts(grace_start=NOW - timedelta(minutes=20)), exemptions.Exemptions(), NOW, ENFORCE, Trigger.SCHEDULED_SCAN
    )
    older = decide.evaluate(
        facts(grace_start=NOW - timedelta(hours=5)), exemptions.Exemptions(), NOW, ENFORCE, Trigger.SCHEDULED_SCAN
    )
    assert fresh[0][0].transition is True
    assert older[0][0].transition is False


def test_zero_grace_quarantines_at_once() -> None:
    policy = decide.Policy(mode=Mode.ENFORCE, grace=timedelta(0))
    _, write = decide.evaluate(facts(grace_start=NOW), exemptions.Exemptions(), NOW, policy, Trigger.SCHEDULED_SCAN)
    assert write is not None and write.action is Action.QUARANTINE


def scan_fixture(
    policy: decide.Policy = ENFORCE, quarantined: frozenset[str] = frozenset(), now: datetime = NOW
) -> dict[str, list[str]]:
    report = credential_report.parse(fixture_text("iam_credential_report.csv"))
    document = doc({"user": "erin", "reason": "on leave", "expires": (now + timedelta(days=2)).date().isoformat()})
    plan = decide.scan(report, document, {}, quarantined, now, policy)
    out: dict[str, list[str]] = {}
    for finding in plan.findings:
        out.setdefault(finding.type.value, []).append(finding.user or "")
    out["writes"] = [f"{w.action.value}:{w.user}" for w in plan.writes]
    return out


def test_scan_over_real_format_report() -> None:
    assert scan_fixture() == {
        "root-without-mfa": ["<root_account>"],
        "root-access-keys": ["<root_account>"],
        "quarantined": ["bob", "frank"],
        "api-user-without-mfa": ["carol"],
        "pending": ["dave"],
        "exempt": ["erin"],
        "exemption-expiring": ["erin"],
        "report-row-error": ["mallory", "trudy", "oscar"],
        "writes": ["quarantine:bob", "quarantine:frank"],
    }


def test_root_is_never_a_write_target_and_alerts_once_a_day() -> None:
    midnight = datetime(2026, 11, 24, 0, 10, tzinfo=UTC)
    report = credential_report.parse(fixture_text("iam_credential_report.csv"))
    for when, daily in ((NOW, False), (midnight, True)):
        plan = decide.scan(report, exemptions.Exemptions(), {}, frozenset(), when, ENFORCE)
        roots = [f for f in plan.findings if f.type.value.startswith("root-")]
        assert {f.severity.value for f in roots} == {"critical"}
        assert all(f.transition is daily for f in roots)
        assert "<root_account>" not in {w.user for w in plan.candidates}


def test_second_scan_on_decided_state_has_no_writes() -> None:
    first = scan_fixture()
    quarantined = frozenset(w.split(":")[1] for w in first["writes"])
    second = scan_fixture(quarantined=quarantined)
    assert second["writes"] == []
    assert sorted(second["still-quarantined"]) == ["bob", "frank"]


def test_report_mode_scan_has_no_write_actions() -> None:
    report = credential_report.parse(fixture_text("iam_credential_report.csv"))
    plan = decide.scan(report, exemptions.Exemptions(), {}, frozenset(), NOW, REPORT)
    assert plan.writes == ()
    assert {c.action for c in plan.candidates} == {Action.WOULD_QUARANTINE}


def test_expired_exemption_is_reported_once() -> None:
    report = credential_report.parse(fixture_text("iam_credential_report.csv"))
    document = doc({"user": "erin", "reason": "r", "expires": "2026-11-22"})  # ended 2026-11-23T00:00Z
    plan = decide.scan(report, document, {}, frozenset(), NOW, ENFORCE)
    (expired,) = [f for f in plan.findings if f.type is FindingType.EXEMPTION_EXPIRED]
    assert "exemptions[0] (user erin) expired 2026-11-23T00:00:00Z" in expired.reason
    assert expired.transition is False  # expired 12.5 h before NOW: announced by an earlier scan
    # no longer exempt: erin changed her password 13.5 h ago, so she is back inside grace
    assert [f.type for f in plan.findings if f.user == "erin" and f is not expired] == [FindingType.PENDING]


def test_config_error_finding_is_critical() -> None:
    finding = decide.config_error("exemptions[0].reason: is required", NOW, Trigger.SCHEDULED_SCAN)
    assert finding.severity.value == "critical"
    assert "nobody quarantined" in finding.reason


@pytest.mark.parametrize(
    "stamp, decided_at, held_by_other",
    [
        # The scan's snapshot is from `decided_at`; a claim stamped around it or during its run is concurrent.
        ("2026-11-23T12:30:00Z", NOW, True),
        ("2026-11-23T12:26:00Z", NOW, True),  # a real-time run that decided a little before the scan
        ("2026-11-23T12:44:00Z", NOW, True),  # stamped late in a long scan
        # Leftovers: adopted, and announced, by the caller.
        ("2026-11-23T11:30:00Z", NOW, False),  # the previous hour's attempt that never attached
        ("2026-01-01T00:00:00Z", NOW, False),  # a policy detached by hand, tag left behind
        ("2099-01-01T00:00:00Z", NOW, False),  # pre-set by hand to look fresh: cannot silence the alert
        ("yesterday", NOW, False),
        ("2026-11-23T12:30:00", NOW, False),  # no zone: not a stamp the bot writes
        # The caller saw the user untagged itself moments ago: any tag is a concurrent claim.
        ("2026-01-01T00:00:00Z", None, True),
        ("yesterday", None, True),
    ],
)
def test_whose_claim_a_found_tag_is(stamp: str, decided_at: datetime | None, held_by_other: bool) -> None:
    assert decide.claim_held_by_other(stamp, decided_at) is held_by_other


def test_a_quarantine_claimed_elsewhere_is_reported_without_an_alert() -> None:
    finding = decide.evaluate(facts(), doc(), NOW, ENFORCE, Trigger.SCHEDULED_SCAN)[0][0]
    assert (finding.type, finding.transition) == (FindingType.QUARANTINED, True)
    lost = decide.claimed_elsewhere(finding, "2026-11-23T12:31:00Z")
    assert (lost.type, lost.transition, lost.user) == (FindingType.STILL_QUARANTINED, False, finding.user)
    assert "quarantined-at 2026-11-23T12:31:00Z" in lost.reason


@pytest.mark.parametrize(
    ("user", "document", "proof"),
    [
        (facts(mfa=True, quarantined=True), exemptions.Exemptions(), True),  # only MFA justifies it
        (facts(mfa=True, quarantined=True), None, True),
        (facts(mfa=True, quarantined=True), doc({"user": "bob", "reason": "break glass"}), False),  # exempt anyway
        (facts(quarantined=True), doc({"user": "bob", "reason": "break glass"}), False),
    ],
)
def test_a_release_for_mfa_needs_a_live_device(
    user: decide.UserFacts, document: exemptions.Exemptions | None, proof: bool
) -> None:
    for policy in (ENFORCE, REPORT):
        _, write = decide.evaluate(user, document, NOW, policy, Trigger.SCHEDULED_SCAN)
        assert write is not None and write.confirm_mfa is proof and not write.confirm_no_mfa


def test_a_release_a_live_read_does_not_back_stays_quiet() -> None:
    (finding,), _ = decide.evaluate(facts(mfa=True, quarantined=True), None, NOW, ENFORCE, Trigger.SCHEDULED_SCAN)
    stale = decide.no_live_device(finding)
    assert (stale.type, stale.action, stale.transition) == (FindingType.STILL_QUARANTINED, Action.NONE, False)
    assert "ListMFADevices shows no device" in stale.reason
