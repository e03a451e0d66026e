"""The decision table of design.md, row by row, as pure data in and findings/writes out."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core import credential_report, decide, exemptions
from chalicelib.core.model import Action, FindingType, Mode, ReportRow, Severity, Trigger
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
        "created": OLD,
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
        facts(created=NOW - timedelta(hours=3)),
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
        facts(quarantined=True, created=NOW - timedelta(minutes=5)),
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


def test_a_password_change_does_not_move_the_deadline() -> None:
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
    assert write is not None
    assert found[0].type is FindingType.QUARANTINED
    assert found[0].deadline == NOW - timedelta(days=29)


def test_pending_is_news_only_in_the_scan_after_grace_started() -> None:
    fresh = decide.evaluate(
        facts(created=NOW - timedelta(minutes=20)), exemptions.Exemptions(), NOW, ENFORCE, Trigger.SCHEDULED_SCAN
    )
    older = decide.evaluate(
        facts(created=NOW - timedelta(hours=5)), exemptions.Exemptions(), NOW, ENFORCE, Trigger.SCHEDULED_SCAN
    )
    assert fresh[0][0].transition is True
    assert older[0][0].transition is False


def test_zero_grace_quarantines_at_once() -> None:
    policy = decide.Policy(mode=Mode.ENFORCE, grace=timedelta(0))
    _, write = decide.evaluate(facts(created=NOW), exemptions.Exemptions(), NOW, policy, Trigger.SCHEDULED_SCAN)
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
    # no longer exempt: erin's grace ended long ago (her password change 13.5 h ago does not restart it)
    assert [f.type for f in plan.findings if f.user == "erin" and f is not expired] == [FindingType.QUARANTINED]


def test_config_error_findings_say_what_is_enforced_instead() -> None:
    unusable = decide.unusable_exemptions("cannot read parameter /x: AccessDenied", NOW, Trigger.SCHEDULED_SCAN)
    assert (unusable.type, unusable.severity, unusable.transition) == (
        FindingType.CONFIG_ERROR,
        Severity.CRITICAL,
        True,
    )
    assert unusable.reason == "exemptions unusable, nobody quarantined this run: cannot read parameter /x: AccessDenied"
    newest = exemptions.Version(7, "{}")
    fallback = decide.invalid_exemptions(
        "/x", newest, "$.version: is required", exemptions.Version(5, "{}"), NOW, Trigger.ON_CONSOLE_LOGIN
    )
    assert fallback.reason == (
        "/x version 7 is invalid: $.version: is required; "
        "enforcing version 5, the newest valid version, until it is fixed"
    )
    assert (fallback.severity, fallback.detected_by) == (Severity.CRITICAL, Trigger.ON_CONSOLE_LOGIN)
    none = decide.invalid_exemptions("/x", newest, "$: not valid JSON", None, NOW, Trigger.SCHEDULED_SCAN)
    assert (
        none.reason
        == "/x version 7 is invalid: $: not valid JSON; no earlier version is valid, so nobody is quarantined this run"
    )


def test_missing_groups_name_each_entry_and_are_medium() -> None:
    document = doc(
        {"group": "Vendors", "reason": "a"}, {"user": "vendors", "reason": "b"}, {"group": "ops", "reason": "c"}
    )
    (finding,) = decide.missing_groups(document, ["vendors"], NOW, Trigger.SCHEDULED_SCAN, transition=False)
    assert finding.reason == (
        "exemptions[0] names the group Vendors, which does not exist: "
        "it exempts nobody (the rest of the document applies)"
    )
    assert (finding.severity, finding.transition, finding.user) == (Severity.MEDIUM, False, None)
    assert decide.missing_groups(document, [], NOW, Trigger.SCHEDULED_SCAN, transition=True) == []


def test_newest_valid_skips_invalid_versions_newest_first() -> None:
    versions = [
        exemptions.Version(1, '{"version": 1, "exemptions": [{"user": "a", "reason": "one"}]}'),
        exemptions.Version(3, "{}"),
        exemptions.Version(2, '{"version": 1, "exemptions": [{"user": "b", "reason": "two"}]}'),
        exemptions.Version(4, None),
    ]
    found = exemptions.newest_valid(versions)
    assert found is not None
    assert found[0].number == 4 and found[1].entries == ()  # None (an empty value) is no exemptions
    found = exemptions.newest_valid(versions[:3])
    assert found is not None
    assert (found[0].number, [e.value for e in found[1].entries]) == (2, ["b"])
    assert exemptions.newest_valid([exemptions.Version(1, "{}")]) is None


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


@pytest.mark.parametrize(
    ("stamp", "checked_at", "held_by_other"),
    [
        ("2026-11-23T12:44:00Z", NOW + timedelta(minutes=14), True),  # written during the scan, before the claim
        ("2026-11-23T12:45:00Z", NOW + timedelta(minutes=14), True),  # within CLOCK_SKEW of the claimer's clock
        ("2026-11-23T12:45:01Z", NOW + timedelta(minutes=14), False),  # later than any writer could have stamped
        ("2026-11-23T12:40:00Z", NOW, False),  # ten minutes ahead of a claim made at the decision: hand-set
        ("2026-11-23T12:31:00Z", NOW, True),
    ],
)
def test_a_stamp_later_than_the_claim_is_hand_set(stamp: str, checked_at: datetime, held_by_other: bool) -> None:
    assert decide.claim_held_by_other(stamp, NOW, checked_at) is held_by_other


def test_an_mfa_release_after_a_sign_in_quarantine_is_high_and_says_where_from() -> None:
    (released,), _ = decide.evaluate(facts(mfa=True, quarantined=True), doc(), NOW, ENFORCE, Trigger.ON_IAM_CHANGE)
    enrolment = decide.Enrolment("10.10.2.20", "console.amazonaws.com", "arn:aws:iam::123456789012:mfa/bob")
    loud = decide.confirm_release(released, "192.0.2.10", enrolment)
    assert (loud.severity, loud.sign_in_ip, loud.source_ip, loud.user_agent, loud.mfa_serial) == (
        Severity.HIGH,
        "192.0.2.10",
        "10.10.2.20",
        "console.amazonaws.com",
        "arn:aws:iam::123456789012:mfa/bob",
    )
    assert loud.reason == (
        "MFA device arn:aws:iam::123456789012:mfa/bob enrolled from 10.10.2.20 (console.amazonaws.com) after a "
        "quarantine for a sign-in without MFA from 192.0.2.10: confirm with the user that they enrolled it; if not, "
        "someone else knows their password"
    )
    unknown = decide.confirm_release(released, "192.0.2.10", decide.Enrolment(None, None, None))
    assert unknown.reason.startswith(
        "MFA device an unknown device enrolled from an unknown address (an unknown client)"
    )
    assert decide.confirm_release(released, None, enrolment) is released
    exempted = released.with_changes(reason="exempted by user bob: break glass")
    assert decide.confirm_release(exempted, "192.0.2.10", enrolment) is exempted
    pending = decide.evaluate(facts(created=NOW), doc(), NOW, ENFORCE, Trigger.ON_IAM_CHANGE)[0][0]
    assert decide.confirm_release(pending, "192.0.2.10", enrolment) is pending


def test_the_scan_announces_exempted_once_for_a_new_user_or_a_new_entry() -> None:
    entry = doc({"path": "/svc/", "reason": "machines"})
    svc = facts(user="web", arn="arn:aws:iam::123456789012:user/svc/web", created=NOW - timedelta(hours=1))
    (found,), _ = decide.evaluate(svc, entry, NOW, ENFORCE, Trigger.SCHEDULED_SCAN)
    assert (found.type, found.transition, found.severity) == (FindingType.EXEMPT, False, Severity.INFO)  # 1 h: old
    newer = replace(svc, created=NOW - timedelta(minutes=59, seconds=59))
    (found,), _ = decide.evaluate(newer, entry, NOW, ENFORCE, Trigger.SCHEDULED_SCAN)
    assert (found.type, found.transition, found.severity) == (FindingType.EXEMPTED, True, Severity.HIGH)
    (found,), _ = decide.evaluate(svc, entry, NOW, ENFORCE, Trigger.SCHEDULED_SCAN, earlier=doc())
    assert found.type is FindingType.EXEMPTED  # no entry covered the user an interval ago
    (found,), _ = decide.evaluate(svc, entry, NOW, ENFORCE, Trigger.SCHEDULED_SCAN, earlier=entry)
    assert found.type is FindingType.EXEMPT
    (found,), _ = decide.evaluate(newer, entry, NOW, ENFORCE, Trigger.ON_CONSOLE_LOGIN)
    assert found.type is FindingType.EXEMPT  # a sign-in is never the news that someone is exempt


def test_an_exempted_finding_names_every_entry_and_is_high_only_for_paths_alone() -> None:
    expiring = (NOW + timedelta(days=3)).date().isoformat()
    document = doc(
        {"path": "/svc/", "reason": "machines"},
        {"user": "WEB", "reason": "kiosk", "expires": expiring},
        {"group": "ops", "reason": "on call"},
    )
    web = facts(user="web", arn="arn:aws:iam::123456789012:user/svc/web", groups=frozenset({"Ops"}))
    finding = decide.exempted(web, document, NOW, Trigger.ON_IAM_CHANGE)
    assert finding.reason == (
        "console user without MFA is now exempt, by exemptions[0] (path /svc/: machines), "
        "exemptions[1] (user WEB: kiosk), exemptions[2] (group ops: on call)"
    )
    assert (finding.severity, finding.transition, finding.expires) == (
        Severity.MEDIUM,
        True,
        datetime(2026, 11, 27, tzinfo=UTC),
    )
    only_path = decide.exempted(replace(web, user="api", groups=frozenset()), document, NOW, Trigger.SCHEDULED_SCAN)
    assert only_path.severity is Severity.HIGH and only_path.reason.endswith(
        "; only a path entry covers this console user"
    )


def test_joining_is_what_exempts_only_when_nothing_else_does() -> None:
    document = doc({"group": "Vendors", "reason": "idp"}, {"user": "carol", "reason": "safe"})
    bob = facts(groups=frozenset({"vendors", "staff"}))
    assert decide.joined_exemption(bob, document, "VENDORS", NOW)
    assert not decide.joined_exemption(bob, document, "staff", NOW)
    assert not decide.joined_exemption(replace(bob, user="carol"), document, "vendors", NOW)
