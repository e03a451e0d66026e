"""Every field of every finding and write the decision returns, at both sides of each boundary.

tests/unit/test_decide.py walks the decision table by finding type; this file pins the rest of what
goes out: the reason an operator reads, the deadline and expiry a message prints, who detected it
and when, whether it is news (`transition`, which decides whether anyone is alerted), and the write
the shell carries out with what it must confirm first.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.core import credential_report, decide, events, exemptions, grace
from chalicelib.core import root as root_account
from chalicelib.core.model import Action, Finding, FindingType, Mode, ReportRow, Severity, Trigger, Write, iso
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


# --- records_needed: whose grace record the scan reads before deciding -----------------------------


def row(user: str, **overrides: Any) -> ReportRow:
    base: dict[str, Any] = {
        "user": user,
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
        "created": OLD,
        "password_enabled": True,
        "password_last_changed": OLD + timedelta(days=1),  # given well after the user: a record could count
        "mfa_active": False,
        "access_key_active": False,
    }
    return ReportRow(**(base | overrides))


def report(*rows: ReportRow) -> credential_report.CredentialReport:
    return credential_report.CredentialReport(rows=rows, errors=())


def test_only_users_a_recorded_deadline_could_concern_have_their_record_read() -> None:
    rows = report(
        row("<root_account>", arn=f"arn:aws:iam::{ACCOUNT}:root"),
        row("late"),  # the one candidate
        row("no-password", password_enabled=False),
        row("has-mfa", mfa_active=True),
        row("caged"),
        row("ageless", created=None),
        row("member"),
        row("named"),
        row("operator", arn=f"arn:aws:iam::{ACCOUNT}:user/ops/operator"),
        row("with-the-user", password_last_changed=OLD + timedelta(minutes=5)),
        row("never-set", password_last_changed=None),
        row("later"),
    )
    document = doc(
        {"group": "Ops", "reason": "on call"},
        {"user": "NAMED", "reason": "break glass"},
        {"path": "/ops/", "reason": "operators"},
    )
    needed = decide.records_needed(rows, document, {"ops": frozenset({"member"})}, frozenset({"caged"}), NOW, ENFORCE)
    assert needed == ("late", "later")


def test_an_expired_entry_no_longer_spares_the_read_and_an_unusable_document_reads_nothing() -> None:
    rows = report(row("late"))
    ended = doc({"user": "late", "reason": "leave", "expires": (NOW - TICK).isoformat()})
    assert decide.records_needed(rows, ended, {}, frozenset(), NOW, ENFORCE) == ("late",)
    assert decide.records_needed(rows, None, {}, frozenset(), NOW, ENFORCE) == ()


# --- lift and adopted: a premature quarantine undone, a leftover tag completed -------------------


@pytest.mark.parametrize(("policy", "action"), [(ENFORCE, Action.RELEASE), (REPORT, Action.WOULD_RELEASE)])
def test_lift_releases_for_the_reason_given_without_a_device_check(policy: decide.Policy, action: Action) -> None:
    why = "quarantined before the grace it earned was recorded"
    found, write = decide.lift(facts(quarantined=True), NOW, policy, LOGIN, why)
    released = bob(FindingType.RELEASED, action, why, transition=True, detected_by=LOGIN)
    assert found == (released,)
    assert write == Write(action, "bob", why, released, confirm_no_mfa=False, confirm_mfa=False)


def test_an_adopted_tag_is_named_cut_short_and_completed() -> None:
    finding = bob(FindingType.QUARANTINED, Action.QUARANTINE, "console password without MFA", transition=True)
    stamp = "2026-11-20T10:00:00Z" + "x" * 40
    assert decide.adopted(finding, stamp) == replace(
        finding,
        reason="console password without MFA; the user carried quarantined-at "
        f"{stamp[:40]} with no policy or group behind it: completed now",
    )


# --- identity_center: a password-only Identity Center sign-in ------------------------------------

PORTAL = "https://d-1234567890.awsapps.com/start/"


def password_only(portal: str | None = PORTAL) -> decide.PasswordOnly:
    return decide.PasswordOnly("Alice", portal, "198.51.100.7", "Mozilla/5.0")


def test_a_password_only_identity_center_sign_in_is_news_with_where_from() -> None:
    assert decide.identity_center(password_only(), doc(), NOW, LOGIN) == Finding(
        FindingType.IDENTITY_CENTER_USER_WITHOUT_MFA,
        "Alice",
        None,
        Action.NONE,
        f"signed in to IAM Identity Center ({PORTAL}) with a password alone (no second factor)",
        LOGIN,
        NOW,
        True,
        source_ip="198.51.100.7",
        user_agent="Mozilla/5.0",
        instance=PORTAL,
    )
    without_portal = decide.identity_center(password_only(None), None, NOW, LOGIN)
    assert without_portal.reason == "signed in to IAM Identity Center with a password alone (no second factor)"
    assert without_portal.transition and without_portal.instance is None


def test_an_identity_center_entry_turns_the_alert_into_a_quiet_exempt() -> None:
    ends = NOW + timedelta(days=10)
    document = doc(
        {"user": "alice", "reason": "an IAM user of the same name"},
        {"identity_center_user": "ALICE", "reason": "hardware on its way", "expires": ends.isoformat()},
    )
    assert decide.identity_center(password_only(), document, NOW, LOGIN) == Finding(
        FindingType.EXEMPT,
        "Alice",
        None,
        Action.NONE,
        "Identity Center sign-in with a password alone; exempted by identity_center_user ALICE: hardware on its way",
        LOGIN,
        NOW,
        False,
        expires=ends,
        source_ip="198.51.100.7",
        user_agent="Mozilla/5.0",
        instance=PORTAL,
    )
    ended = doc({"identity_center_user": "alice", "reason": "gone", "expires": (NOW - TICK).isoformat()})
    assert (
        decide.identity_center(password_only(), ended, NOW, LOGIN).type is FindingType.IDENTITY_CENTER_USER_WITHOUT_MFA
    )


# --- UserFacts.from_row and daily_due ------------------------------------------------------------


def test_facts_from_a_row_carry_the_password_date_and_the_grace_record() -> None:
    source = row("bob", password_last_changed=OLD + HOUR, access_key_active=True)
    record = decide.GraceRecord(tag="2026-11-24T00:00:00Z", profile_created=OLD + HOUR)
    assert decide.UserFacts.from_row(source, quarantined=True, groups=["ops", "ops"], record=record) == facts(
        access_key=True,
        quarantined=True,
        groups=frozenset({"ops"}),
        password_set=OLD + HOUR,
        grace_tag="2026-11-24T00:00:00Z",
        profile_created=OLD + HOUR,
    )
    assert decide.UserFacts.from_row(source, quarantined=False) == facts(access_key=True, password_set=OLD + HOUR)


MIDNIGHT = datetime(2026, 11, 23, tzinfo=NOW.tzinfo)


@pytest.mark.parametrize(
    "interval",
    [HOUR, timedelta(hours=1, minutes=45), timedelta(minutes=10, seconds=30), timedelta(milliseconds=500)],
    ids=["an-hour", "with-minutes", "with-seconds", "with-microseconds"],
)
def test_the_daily_run_is_the_first_interval_of_the_utc_day(interval: timedelta) -> None:
    assert decide.daily_due(MIDNIGHT)
    assert decide.daily_due(MIDNIGHT + interval - TICK, interval)
    assert not decide.daily_due(MIDNIGHT + interval, interval)
    assert not decide.daily_due(MIDNIGHT + interval + timedelta(minutes=1), interval)


# --- root: every field, from either source -------------------------------------------------------

ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
ROOT_ROW = row("<root_account>", arn=ROOT_ARN, created=None, access_key_active=True)


def root_finding(kind: FindingType, reason: str, *, transition: bool) -> Finding:
    return Finding(kind, "<root_account>", ROOT_ARN, Action.NONE, reason, SCAN, NOW, transition)


def test_root_from_the_report_alone_says_so() -> None:
    why = " (GetAccountSummary was not read, so root was judged from the credential report alone)"
    assert decide.root(ROOT_ROW, NOW, SCAN, transition=True) == (
        root_finding(FindingType.ROOT_WITHOUT_MFA, "the root user has no MFA device" + why, transition=True),
        root_finding(FindingType.ROOT_ACCESS_KEYS, "the root user has active access keys" + why, transition=True),
    )


def test_root_from_a_complete_summary_needs_no_note() -> None:
    summary = root_account.Summary(password=True, mfa=False, access_keys=True, certificates=False)
    assert decide.root(ROOT_ROW, NOW, SCAN, transition=False, summary=summary) == (
        root_finding(
            FindingType.ROOT_WITHOUT_MFA, "the root user has a console password and no MFA device", transition=False
        ),
        root_finding(FindingType.ROOT_ACCESS_KEYS, "the root user has access keys", transition=False),
    )


def test_a_centrally_managed_root_is_information_never_news() -> None:
    summary = root_account.Summary(password=False, mfa=False, access_keys=False, certificates=False)
    assert decide.root(ROOT_ROW, NOW, LOGIN, transition=True, summary=summary) == (
        Finding(
            FindingType.ROOT_CREDENTIALS_ABSENT,
            "<root_account>",
            ROOT_ARN,
            Action.NONE,
            "the root user has no password, no access keys and no signing certificates "
            "(centrally managed root): there is nothing MFA could protect",
            LOGIN,
            NOW,
            False,
        ),
    )


# --- scan: what it hands to evaluate, and the findings it adds -------------------------------------


def test_the_scan_decides_each_user_with_their_groups_record_and_the_earlier_document() -> None:
    profile = NOW - timedelta(hours=2)
    rows = report(
        row("gone"),  # unreadable: left for the next run, and the rest is still decided
        row("late", password_last_changed=profile),
        row("member"),
        row("newly", arn=f"arn:aws:iam::{ACCOUNT}:user/ops/newly"),
    )
    document = doc({"group": "Ops", "reason": "on call"}, {"path": "/ops/", "reason": "operators"})
    earlier = doc({"group": "Ops", "reason": "on call"})
    plan = decide.scan(
        rows,
        document,
        {"ops": frozenset({"member"})},
        frozenset(),
        NOW,
        ENFORCE,
        records={"late": decide.GraceRecord((profile + ENFORCE.grace).isoformat(), profile)},
        unreadable=frozenset({"gone"}),
        earlier=earlier,
    )
    assert [(f.user, f.type, f.detected_by) for f in plan.findings] == [
        ("late", FindingType.PENDING, SCAN),
        ("member", FindingType.EXEMPT, SCAN),
        ("newly", FindingType.EXEMPTED, SCAN),
    ]
    assert plan.candidates == ()


def test_the_scan_repeats_root_and_bad_rows_in_the_first_interval_of_the_day() -> None:
    slow = replace(ENFORCE, interval=timedelta(hours=2))
    at = MIDNIGHT + timedelta(hours=1, minutes=30)  # inside a two-hour first interval, past a one-hour one
    summary = root_account.Summary(password=True, mfa=True, access_keys=True, certificates=False)
    errors = (credential_report.RowError("carol", 4, "mfa_active is not true/false: 'maybe'"),)
    rows = credential_report.CredentialReport(rows=(ROOT_ROW,), errors=errors)
    plan = decide.scan(rows, doc(), {}, frozenset(), at, slow, root_summary=summary)
    assert plan.findings == (
        Finding(
            FindingType.ROOT_ACCESS_KEYS,
            "<root_account>",
            ROOT_ARN,
            Action.NONE,
            "the root user has access keys",
            SCAN,
            at,
            True,
        ),
        Finding(
            FindingType.REPORT_ROW_ERROR,
            "carol",
            None,
            Action.NONE,
            "credential report line 4 skipped: mfa_active is not true/false: 'maybe'",
            SCAN,
            at,
            True,
        ),
    )
    quiet = decide.scan(rows, doc(), {}, frozenset(), at, ENFORCE, root_summary=summary)
    assert [f.transition for f in quiet.findings] == [False, False]


def test_an_expired_entry_is_reported_once_with_its_user_and_end() -> None:
    ended = NOW - HOUR + TICK  # ended within the last interval: news
    older = NOW - HOUR  # ended one interval ago: the last scan said it
    document = doc(
        {"user": "Bob", "reason": "leave", "expires": ended.isoformat()},
        {"group": "Ops", "reason": "on call", "expires": older.isoformat()},
    )
    plan = decide.scan(report(), document, {}, frozenset(), NOW, ENFORCE)
    assert plan.findings == (
        Finding(
            FindingType.EXEMPTION_EXPIRED,
            "Bob",
            None,
            Action.NONE,
            f"exemptions[0] (user Bob) expired {iso(ended)} and no longer applies",
            SCAN,
            NOW,
            True,
            expires=ended,
        ),
        Finding(
            FindingType.EXEMPTION_EXPIRED,
            None,
            None,
            Action.NONE,
            f"exemptions[1] (group Ops) expired {iso(older)} and no longer applies",
            SCAN,
            NOW,
            False,
            expires=older,
        ),
    )
    assert decide.scan(report(), None, {}, frozenset(), NOW, ENFORCE).findings == ()


def test_a_user_who_was_covered_one_interval_ago_is_not_newly_exempt() -> None:
    earlier = doc({"user": "bob", "reason": "leave", "expires": NOW.isoformat()})  # covered bob until now
    document = doc({"user": "bob", "reason": "extended"})
    ((finding,), _) = decide.evaluate(facts(), document, NOW, ENFORCE, SCAN, earlier=earlier)
    assert finding.type is FindingType.EXEMPT


def test_the_exempted_finding_has_every_field() -> None:
    ends = NOW + timedelta(days=30)
    document = doc({"path": "/", "reason": "machines", "expires": ends.isoformat()})
    found, write = decide.evaluate(facts(), document, NOW, ENFORCE, SCAN, earlier=doc())
    assert write is None
    assert found == (
        bob(
            FindingType.EXEMPTED,
            Action.NONE,
            "console user without MFA is now exempt, by exemptions[0] (path /: machines); "
            "only a path entry covers this console user",
            transition=True,
            expires=ends,
            severity_override=Severity.HIGH,
        ),
    )


# --- config errors: every field ------------------------------------------------------------------


def config(reason: str, *, severity: Severity | None = None, transition: bool = True) -> Finding:
    return Finding(
        FindingType.CONFIG_ERROR, None, None, Action.NONE, reason, LOGIN, NOW, transition, severity_override=severity
    )


def test_config_errors_carry_the_time_and_trigger_of_the_run() -> None:
    newest, valid = exemptions.Version(7, "{"), exemptions.Version(6, "{}")
    assert decide.unusable_exemptions("AccessDenied", NOW, LOGIN) == config(
        "exemptions unusable, nobody quarantined this run: AccessDenied"
    )
    assert decide.invalid_exemptions("/mfa/exemptions", newest, "$: bad", None, NOW, LOGIN) == config(
        "/mfa/exemptions version 7 is invalid: $: bad; no earlier version is valid, so nobody is quarantined this run"
    )
    assert decide.invalid_exemptions("/mfa/exemptions", newest, "$: bad", valid, NOW, LOGIN) == config(
        "/mfa/exemptions version 7 is invalid: $: bad; enforcing version 6, the newest valid version, until it is fixed"
    )
    document = doc({"user": "bob", "reason": "x"}, {"group": "Gone", "reason": "y"})
    assert decide.missing_groups(document, ["GONE"], NOW, LOGIN, transition=False) == [
        config(
            "exemptions[1] names the group Gone, which does not exist: it exempts nobody "
            "(the rest of the document applies)",
            severity=Severity.MEDIUM,
            transition=False,
        )
    ]


# --- tamper, releases and claims: every field ----------------------------------------------------


def test_a_removal_the_table_agrees_with_cleans_up_and_names_who_did_it() -> None:
    found, write = decide.tamper(
        facts(quarantined=True, mfa=True), doc(), NOW, ENFORCE, LOGIN, actor="arn:eve", how="detached it"
    )
    released = bob(
        FindingType.RELEASED,
        Action.RELEASE,
        "MFA device enrolled; quarantine removed by arn:eve",
        transition=True,
        detected_by=LOGIN,
        actor="arn:eve",
    )
    assert found == (released,)
    assert write == Write(
        Action.RELEASE, "bob", "MFA device enrolled", released, confirm_no_mfa=False, confirm_mfa=True
    )


@pytest.mark.parametrize(("policy", "action"), [(ENFORCE, Action.REATTACH), (REPORT, Action.WOULD_REATTACH)])
def test_a_removal_of_the_bots_quarantine_is_restored_with_every_field(policy: decide.Policy, action: Action) -> None:
    found, write = decide.tamper(facts(quarantined=True), doc(), NOW, policy, LOGIN, actor="arn:eve", how="detached it")
    reason = "arn:eve detached it while the user still has no MFA"
    tamper = bob(FindingType.TAMPER, action, reason, transition=True, detected_by=LOGIN, actor="arn:eve")
    assert found == (tamper,)
    assert write == Write(action, "bob", reason, tamper, confirm_no_mfa=False, confirm_mfa=False)
    unusable, nothing = decide.tamper(facts(quarantined=True), None, NOW, policy, LOGIN, actor="arn:eve", how="x")
    assert nothing is None
    assert unusable == (
        bob(
            FindingType.TAMPER,
            Action.NONE,
            "arn:eve x while the user still has no MFA; not restored: the exemptions are unusable",
            transition=True,
            detected_by=LOGIN,
            actor="arn:eve",
        ),
    )


def test_past_grace_and_the_login_profile_read_honour_path_entries_and_expiries() -> None:
    under = facts(arn=f"arn:aws:iam::{ACCOUNT}:user/ops/bob")
    by_path = doc({"path": "/ops/", "reason": "operators"})
    ended = doc({"user": "bob", "reason": "leave", "expires": NOW.isoformat()})
    assert not decide.past_grace(under, by_path, NOW, ENFORCE)
    assert not decide.needs_login_profile(under, by_path, NOW)
    assert decide.past_grace(facts(), ended, NOW, ENFORCE)
    assert decide.needs_login_profile(facts(), ended, NOW)


def test_a_join_is_what_exempts_only_under_live_entries_for_this_path() -> None:
    under = facts(arn=f"arn:aws:iam::{ACCOUNT}:user/ops/bob", groups=frozenset({"Ops"}))
    assert not decide.joined_exemption(under, doc({"path": "/ops/", "reason": "ops"}), "Ops", NOW)
    with_path = doc({"path": "/ops/", "reason": "ops", "expires": NOW.isoformat()}, {"group": "ops", "reason": "x"})
    assert decide.joined_exemption(under, with_path, "Ops", NOW)
    ended = doc({"group": "ops", "reason": "x", "expires": NOW.isoformat()})
    assert not decide.joined_exemption(under, ended, "Ops", NOW)


def test_a_claim_stamped_at_the_start_of_the_window_is_another_writers() -> None:
    start = NOW - decide.CLAIM_WINDOW
    assert decide.claim_held_by_other(iso(start), NOW)
    assert not decide.claim_held_by_other(iso(start - timedelta(seconds=1)), NOW)


def test_a_release_whose_enrolment_was_not_seen_says_so() -> None:
    (released,), _ = decide.evaluate(facts(mfa=True, quarantined=True), doc(), NOW, ENFORCE, LOGIN)
    assert decide.confirm_release(released, "192.0.2.10", None) == released.with_changes(
        reason="MFA device enrolled (the enrolment event was not seen, so where from is unknown) after a quarantine "
        "for a sign-in without MFA from 192.0.2.10: confirm with the user that they enrolled it; if not, someone "
        "else knows their password",
        severity_override=Severity.HIGH,
        sign_in_ip="192.0.2.10",
    )
    assert decide.no_live_device(released) == released.with_changes(
        type=FindingType.STILL_QUARANTINED,
        action=Action.NONE,
        transition=False,
        reason="still without MFA: the credential report shows MFA, but ListMFADevices shows no device",
    )


def test_a_session_of_the_bots_role_without_an_account_id_is_placed_by_its_arn() -> None:
    bot = f"arn:aws:sts::{ACCOUNT}:assumed-role/mfa-enforcer-dev/mfa-enforcer-dev-on_iam_change"
    actor = events.Principal(
        events.PrincipalType.ASSUMED_ROLE, "AssumedRole", bot, None, None, "AROA:x", None, "mfa-enforcer-dev"
    )
    assert decide.is_own_change(actor, bot)
    elsewhere = replace(actor, arn=bot.replace(ACCOUNT, "999999999999"))
    assert not decide.is_own_change(elsewhere, bot)
