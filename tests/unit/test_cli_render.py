"""The CLI's pure parts: exit-code verdicts, evidence assembly, CSV/JSON/HTML rendering, the stored form.

No AWS here: every input is hand-built plain data, so each test pins one rule of the output.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest

from chalicelib.adapters.iam_gateway import QuarantineSnapshot
from chalicelib.cli import evidence, exemptions_store, html_report, render
from chalicelib.cli.errors import CliError, Exit
from chalicelib.core import exemptions
from chalicelib.core import root as root_account
from chalicelib.core.credential_report import CredentialReport
from chalicelib.core.model import Action, Finding, FindingType, Mode, ReportRow, RunResult, Trigger
from tests.conftest import NOW

ACCOUNT = "123456789012"


def finding(kind: FindingType, user: str | None = "bob", action: Action = Action.NONE) -> Finding:
    return Finding(
        type=kind,
        user=user,
        arn=f"arn:aws:iam::{ACCOUNT}:user/{user}" if user else None,
        action=action,
        reason=f"{kind.value} reason",
        detected_by=Trigger.CLI,
        timestamp=NOW,
        transition=True,
    )


def result(*findings: Finding) -> RunResult:
    return RunResult(trigger=Trigger.CLI, mode=Mode.REPORT, findings=findings, account_id=ACCOUNT)


def row(user: str, *, mfa: bool = False, console: bool = True, path: str = "/", root: bool = False) -> ReportRow:
    arn = f"arn:aws:iam::{ACCOUNT}:root" if root else f"arn:aws:iam::{ACCOUNT}:user{path}{user}"
    return ReportRow(
        user="<root_account>" if root else user,
        arn=arn,
        created=NOW - timedelta(days=90),
        password_enabled=console,
        password_last_changed=None,
        mfa_active=mfa,
        access_key_active=False,
    )


def document(*entries: dict[str, str]) -> exemptions.Exemptions:
    return exemptions.parse({"version": 1, "exemptions": list(entries)})


def audit(
    rows: list[ReportRow],
    *,
    doc: exemptions.Exemptions | None = None,
    snapshot: QuarantineSnapshot | None = None,
    tags: dict[str, dict[str, str]] | None = None,
    members: dict[str, frozenset[str]] | None = None,
    confirmed: frozenset[str] = frozenset(),
    root_summary: root_account.Summary | None = None,
) -> evidence.AuditReport:
    return evidence.assemble(
        account_id=ACCOUNT,
        now=NOW,
        report=CredentialReport(rows=tuple(rows), errors=()),
        report_generated_at=NOW - timedelta(hours=3),
        mfa_confirmed=confirmed,
        snapshot=snapshot,
        tags=tags or {},
        document=doc,
        group_members=members or {},
        exemptions_parameter="/mfa-enforcer/exemptions",
        exemptions_version=7,
        root_summary=root_summary,
    )


# --- scan verdicts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        ((), Exit.OK),
        ((FindingType.EXEMPT, FindingType.API_USER_WITHOUT_MFA, FindingType.RELEASED), Exit.OK),
        ((FindingType.PENDING,), Exit.FINDINGS),
        ((FindingType.QUARANTINED,), Exit.FINDINGS),
        ((FindingType.STILL_QUARANTINED,), Exit.FINDINGS),
        ((FindingType.ROOT_WITHOUT_MFA,), Exit.FINDINGS),
        ((FindingType.PENDING, FindingType.CONFIG_ERROR), Exit.ERROR),
        ((FindingType.CANNOT_QUARANTINE,), Exit.ERROR),
        ((FindingType.SCAN_ERROR,), Exit.ERROR),
    ],
)
def test_scan_exit_code_follows_the_worst_finding(kinds: tuple[FindingType, ...], expected: Exit) -> None:
    assert render.scan_exit(result(*(finding(k) for k in kinds))) is expected


def test_scan_document_carries_every_finding_and_the_verdict() -> None:
    run = result(
        finding(FindingType.EXEMPT, "ann"),
        finding(FindingType.QUARANTINED, "bob", Action.WOULD_QUARANTINE),
        finding(FindingType.PENDING, "cy"),
    )
    document = render.scan_document(run)
    assert document["exit_code"] == 1
    assert document["users_without_mfa"] == ["bob", "cy"]
    assert [f["user"] for f in document["findings"]] == ["bob", "cy", "ann"]  # high, low, info
    assert json.loads(json.dumps(document)) == document


def test_scan_rows_name_account_level_findings_and_errors() -> None:
    failed = finding(FindingType.CANNOT_QUARANTINE).with_changes(error="AccessDenied: no")
    rows = render.scan_rows(result(finding(FindingType.SCAN_ERROR, None), failed))
    assert rows[0] == ("(account)", "scan-error", "critical", "none", "scan-error reason")
    assert rows[1][4] == "cannot-quarantine reason [AccessDenied: no]"


def test_headline_says_who_remains() -> None:
    assert render.scan_headline(result(finding(FindingType.PENDING, "cy"))) == "1 user without MFA remains: cy."
    assert render.scan_headline(result()).startswith("Clean")


# --- exemptions listing -------------------------------------------------------------------------


def test_exemption_sections_split_active_expiring_expired() -> None:
    doc = document(
        {"user": "a", "reason": "r", "expires": (NOW + timedelta(days=30)).date().isoformat()},
        {"user": "b", "reason": "r", "expires": (NOW + timedelta(days=3)).date().isoformat()},
        {"user": "c", "reason": "r", "expires": (NOW - timedelta(days=1)).date().isoformat()},
        {"path": "/svc/", "reason": "r"},
    )
    sections = {key: [e.value for e in entries] for key, entries in render.exemption_sections(doc, NOW)}
    assert sections == {"active": ["a", "/svc/"], "expiring": ["b"], "expired": ["c"]}


def test_exemption_entry_shows_the_expiry_as_written_and_the_instant_it_ends() -> None:
    entry = document({"user": "a", "reason": "r", "expires": "2027-06-30"}).entries[0]
    assert render.exemption_entry(entry)["expires"] == "2027-06-30"
    assert render.exemption_entry(entry)["ends_at"] == "2027-07-01T00:00:00Z"


# --- evidence -------------------------------------------------------------------------------------


def test_standing_mfa_then_exemption_then_quarantine_then_exposed() -> None:
    report = audit(
        [
            row("has-mfa", mfa=True),
            row("late-mfa"),
            row("exempt"),
            row("by-path", path="/svc/"),
            row("by-group"),
            row("jailed"),
            row("expired-and-jailed"),
            row("naked"),
            row("api", console=False),
        ],
        doc=document(
            {"user": "exempt", "reason": "r", "approved_by": "secops"},
            {"path": "/svc/", "reason": "machines"},
            {"group": "vendors", "reason": "idp"},
            {"user": "expired-and-jailed", "reason": "old", "expires": "2020-01-01"},
        ),
        snapshot=QuarantineSnapshot(direct=frozenset({"jailed"}), via_group=frozenset({"expired-and-jailed"})),
        tags={"jailed": {"mfa-enforcer:quarantined-at": "2026-11-20T08:00:00Z"}},
        members={"vendors": frozenset({"by-group"})},
        confirmed=frozenset({"late-mfa"}),
    )
    standing = {u.user: u.standing.value for u in report.users}
    assert standing == {
        "by-group": "exempt",
        "by-path": "exempt",
        "exempt": "exempt",
        "expired-and-jailed": "quarantined",
        "has-mfa": "mfa",
        "jailed": "quarantined",
        "late-mfa": "mfa",
        "naked": "exposed",
    }
    jailed = next(u for u in report.users if u.user == "jailed")
    assert (jailed.quarantined_via, jailed.quarantined_since) == ("policy", "2026-11-20T08:00:00Z")
    old = next(u for u in report.users if u.user == "expired-and-jailed")
    assert old.exemption is not None and old.exemption.status == "expired"
    assert old.quarantined_via == "group"
    assert report.summary.coverage_text() == "25.0%"


def test_without_a_snapshot_the_tag_decides_quarantine() -> None:
    report = audit(
        [row("tagged"), row("plain")], tags={"tagged": {"mfa-enforcer:quarantined-at": "2026-11-20T08:00:00Z"}}
    )
    assert [(u.user, u.quarantined_via) for u in report.users] == [("plain", None), ("tagged", "tags")]
    assert report.quarantine_source == "tags"


def test_root_row_is_evidence_of_its_own() -> None:
    report = audit([row("x", root=True, mfa=False), row("alice", mfa=True)])
    assert (report.root.present, report.root.mfa, report.root.access_keys) == (True, False, False)
    assert report.root.source == "credential-report"
    assert report.root.ok is False
    assert report.root.label.startswith("NO MFA, no access keys (GetAccountSummary was not read")
    assert [u.user for u in report.users] == ["alice"]
    assert audit([]).root.label.startswith("unknown")


def test_a_centrally_managed_root_shows_as_without_credentials_on_every_output() -> None:
    absent = root_account.from_summary_map(
        {
            "AccountPasswordPresent": 0,
            "AccountMFAEnabled": 0,
            "AccountAccessKeysPresent": 0,
            "AccountSigningCertificatesPresent": 0,
        }
    )
    report = audit([row("x", root=True, mfa=False)], root_summary=absent)
    assert report.root.credentials_absent and report.root.ok is True
    assert report.root.label.startswith("no credentials: no password, access keys or signing certificates")
    assert json.loads(render.report_json(report))["root"]["credentials_absent"] is True
    page = html_report.render(report)
    assert "No credentials" in page and "centrally managed root" in page


@pytest.mark.parametrize(
    ("summary_map", "label", "ok"),
    [
        ({"AccountPasswordPresent": 1, "AccountMFAEnabled": 1, "AccountAccessKeysPresent": 0}, "NO MFA", False),
        (
            {
                "AccountPasswordPresent": 1,
                "AccountMFAEnabled": 1,
                "AccountAccessKeysPresent": 1,
                "AccountSigningCertificatesPresent": 0,
            },
            "console password, MFA enabled, access keys",
            False,
        ),
        (
            {
                "AccountPasswordPresent": 1,
                "AccountMFAEnabled": 1,
                "AccountAccessKeysPresent": 0,
                "AccountSigningCertificatesPresent": 0,
            },
            "console password, MFA enabled, no access keys",
            True,
        ),
    ],
)
def test_the_root_card_says_which_state_holds(summary_map: dict[str, int], label: str, ok: bool) -> None:
    report = audit([row("x", root=True, mfa=False)], root_summary=root_account.from_summary_map(summary_map))
    assert report.root.label.startswith(label)
    assert report.root.ok is ok


def test_coverage_never_rounds_up_to_complete() -> None:
    summary = evidence.Summary(console_users=1000, by_standing={evidence.Standing.MFA: 999})
    assert summary.coverage_text() == "99.9%"
    assert evidence.Summary(console_users=0, by_standing={}).coverage_text() == "n/a"


# --- csv / json -----------------------------------------------------------------------------------


def test_csv_has_root_then_users_and_neutralises_formulas() -> None:
    report = audit(
        [row("=1+1"), row("alice", mfa=True)],
        doc=document({"user": "=1+1", "reason": "@SUM(A1) approved", "approved_by": "-ops", "expires": "2027-01-31"}),
    )
    rows = list(csv.DictReader(io.StringIO(render.report_csv(report))))
    assert list(rows[0]) == list(render.CSV_COLUMNS)
    assert [(r["kind"], r["user"]) for r in rows] == [("root", "<root_account>"), ("user", "'=1+1"), ("user", "alice")]
    assert rows[1]["exemption_reason"] == "'@SUM(A1) approved"
    assert rows[1]["exemption_approved_by"] == "'-ops"
    assert rows[1]["exemption_expires"] == "2027-01-31"
    assert rows[1]["standing"] == "exempt"
    assert rows[0]["mfa"] == "unknown"
    assert {r["account_id"] for r in rows} == {ACCOUNT}


def test_json_report_has_header_summary_root_and_users() -> None:
    report = audit([row("alice", mfa=True), row("bob")])
    document = json.loads(render.report_json(report))
    assert document["account_id"] == ACCOUNT
    assert document["generated_at"] == "2026-11-23T12:30:00Z"
    assert document["credential_report_generated_at"] == "2026-11-23T09:30:00Z"
    assert document["summary"]["mfa_coverage"] == 0.5
    assert document["summary"]["by_standing"] == {"mfa": 1, "exempt": 0, "quarantined": 0, "exposed": 1}
    assert document["root"]["present"] is False
    assert [u["user"] for u in document["users"]] == ["alice", "bob"]


# --- html -------------------------------------------------------------------------------------------

EVIL = "<script>alert('x')</script>"


def evil_report() -> evidence.AuditReport:
    return audit(
        [row("alice", mfa=True), row("bob"), row("carol")],
        doc=document({"user": "bob", "reason": EVIL, "approved_by": 'sec"ops'}),
        snapshot=QuarantineSnapshot(direct=frozenset({"carol"}), via_group=frozenset()),
        tags={"carol": {"mfa-enforcer:quarantined-at": '"><img src=x onerror=alert(1)>'}},
    )


def test_html_escapes_everything_the_account_controls() -> None:
    page = html_report.render(evil_report())
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "sec&quot;ops" in page
    assert "<img" not in page
    assert 'title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"' in page


def test_html_is_self_contained() -> None:
    page = html_report.render(evil_report())
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.IGNORECASE)
    assert "<link" not in page
    assert page.count("<style>") == 1
    assert page.count("<svg") == 1


def test_html_summary_shows_coverage_and_one_arc_per_present_standing() -> None:
    page = html_report.render(evil_report())
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert ">33.3%<" in svg
    assert svg.count("stroke-dasharray") == 3  # mfa, exempt, quarantined; no exposed user
    assert 'aria-label="MFA coverage 33.3%: 1 of 3 console users have MFA"' in svg
    assert page.index("<svg") < page.index("<table")


def test_html_without_console_users_says_so() -> None:
    page = html_report.render(audit([]))
    assert ">n/a<" in page
    assert "No IAM user has console access." in page
    assert "stroke-dasharray" not in page


def test_html_lists_problems_before_protected_users() -> None:
    page = html_report.render(evil_report())
    assert page.index(">carol<") < page.index(">bob<") < page.index(">alice<")


@pytest.mark.parametrize(
    ("text", "shown"),
    [("2026-11-23T12:14:55Z", "2026-11-23 12:14 UTC"), ("2026-11-23T13:14:55+01:00", "2026-11-23 12:14 UTC")],
)
def test_when_is_short_utc(text: str, shown: str) -> None:
    assert html_report.when(text) == shown
    assert html_report.when("last tuesday") == "last tuesday"


def test_arn_breaks_only_after_slashes_and_stays_escaped() -> None:
    assert html_report.arn_html("arn:aws:iam::1:user/a&b/c") == "arn:aws:iam::1:user/<wbr>a&amp;b/<wbr>c"


# --- the stored form and the edit operations ---------------------------------------------------------


def test_stored_form_round_trips_through_the_lambda_validator() -> None:
    doc = document(
        {"user": "break-glass", "reason": "safe", "expires": "2027-06-30", "approved_by": "secops"},
        {"path": "/service/", "reason": "machines"},
    )
    text = exemptions_store.serialize(doc)
    assert exemptions.loads(text) == doc
    lines = text.splitlines()
    assert lines[3].startswith('    {"user": "break-glass"') and lines[4].startswith('    {"path": "/service/"')
    assert exemptions.loads(exemptions_store.serialize(exemptions.Exemptions())) == exemptions.Exemptions()


def test_size_limit_depends_on_the_tier() -> None:
    text = "x" * 5000
    standard = exemptions_store.size_problem(text, exemptions_store.Stored(tier="Standard"))
    assert standard is not None and "5000 bytes, over the 4096-byte limit of the Standard tier" in standard
    assert exemptions_store.size_problem(text, exemptions_store.Stored(tier="Advanced")) is None
    assert exemptions_store.size_problem("é" * 2100, exemptions_store.Stored()) is not None  # bytes, not characters


def test_add_is_idempotent_and_refuses_to_overwrite_silently() -> None:
    doc = document({"user": "bob", "reason": "old"})
    same = exemptions_store.add({"user": "bob", "reason": "old"}, replace=False)
    assert same(doc, True) is doc
    with pytest.raises(CliError, match=r"already exempt by exemptions\[0\].*--replace"):
        exemptions_store.add({"user": "bob", "reason": "new"}, replace=False)(doc, True)
    replaced = exemptions_store.add({"user": "bob", "reason": "new"}, replace=True)(doc, True)
    assert [e.reason for e in replaced.entries] == ["new"]


def test_remove_of_a_missing_entry_fails_only_outside_a_repair() -> None:
    doc = document({"user": "bob", "reason": "r"})
    gone = exemptions_store.remove("user", "alice")
    with pytest.raises(CliError, match="no exemption for user alice"):
        gone(doc, True)
    assert gone(doc, False) == doc
