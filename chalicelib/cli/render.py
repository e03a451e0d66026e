"""Pure presentation for the CLI: scan results, exemption listings, and the audit report as CSV/JSON.

No AWS, no rich, no clock: every function maps plain data to strings or JSON-ready dicts, so the
unit tests pin the exact output. (The HTML report lives in html_report.py; rich tables are drawn
from the rows these functions return.)
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime

from chalicelib.cli.errors import Exit
from chalicelib.cli.evidence import STANDING_LABEL, AuditReport, ExemptionEvidence, Standing, UserEvidence
from chalicelib.core.exemptions import Exemption, Exemptions
from chalicelib.core.model import Finding, FindingType, RunResult, Severity, iso

# Console users (and root) who still sign in without MFA after the run, whatever the bot did about them.
WITHOUT_MFA = frozenset(
    {FindingType.PENDING, FindingType.QUARANTINED, FindingType.STILL_QUARANTINED, FindingType.ROOT_WITHOUT_MFA}
)
# The run could not do or decide everything it should have: the answer is not trustworthy.
ERRORS = frozenset(
    {
        FindingType.SCAN_ERROR,
        FindingType.CONFIG_ERROR,
        FindingType.CANNOT_QUARANTINE,
        FindingType.CANNOT_RELEASE,
        FindingType.REPORT_ROW_ERROR,
        FindingType.SCAN_INCOMPLETE,
        FindingType.QUARANTINE_POLICY_TAMPERED,
    }
)
SEVERITY_ORDER = {s: i for i, s in enumerate((Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW))}
CSV_COLUMNS = (
    "account_id",
    "generated_at",
    "kind",
    "user",
    "arn",
    "mfa",
    "standing",
    "quarantined",
    "quarantined_via",
    "quarantined_since",
    "exemption",
    "exemption_index",
    "exemption_reason",
    "exemption_approved_by",
    "exemption_expires",
    "exemption_status",
    "notes",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- scan -------------------------------------------------------------------------------------


def scan_exit(result: RunResult) -> Exit:
    """2 when the run hit an error, 1 when users without MFA remain, else 0.

    Exempt users and API-only users do not count: an exemption is an accepted risk, and an
    access-key user is reported but has no console sign-in to protect.
    """
    kinds = {f.type for f in result.findings}
    if kinds & ERRORS:
        return Exit.ERROR
    if kinds & WITHOUT_MFA:
        return Exit.FINDINGS
    return Exit.OK


def users_without_mfa(result: RunResult) -> list[str]:
    """Sorted names of the users (and root) counted by scan_exit as still without MFA."""
    return sorted({f.user for f in result.findings if f.type in WITHOUT_MFA and f.user})


def ordered_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by user, so the table starts with what needs a person."""
    return sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.user or "", f.type.value))


def scan_rows(result: RunResult) -> list[tuple[str, str, str, str, str]]:
    """(user, finding, severity, action, detail) per finding; account-level findings show `(account)`."""
    return [
        (
            f.user or "(account)",
            f.type.value,
            f.severity.value,
            f.action.value,
            f.reason + (f" [{f.error}]" if f.error else ""),
        )
        for f in ordered_findings(result.findings)
    ]


def scan_document(result: RunResult) -> dict[str, object]:
    """`--format json`: the Lambda's summary, every finding, and the verdict the exit code encodes."""
    document = result.summary()
    document["findings"] = [f.as_dict() for f in ordered_findings(result.findings)]
    document["users_without_mfa"] = users_without_mfa(result)
    document["exit_code"] = int(scan_exit(result))
    return document


def count(n: int, singular: str, plural: str | None = None) -> str:
    """`1 entry`, `2 entries`, `0 users`: a number with its noun in the right form."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def scan_headline(result: RunResult) -> str:
    """One sentence under the table."""
    code = scan_exit(result)
    if code is Exit.ERROR:
        errors = sorted({f.type.value for f in result.findings if f.type in ERRORS})
        return f"Errors during the scan ({', '.join(errors)}): the result is incomplete."
    remaining = users_without_mfa(result)
    if remaining:
        verb = "remains" if len(remaining) == 1 else "remain"
        return f"{count(len(remaining), 'user')} without MFA {verb}: {', '.join(remaining)}."
    return "Clean: every console user has MFA or an active exemption."


# --- exemptions ---------------------------------------------------------------------------------


def exemption_sections(document: Exemptions, now: datetime) -> list[tuple[str, list[Exemption]]]:
    """Entries split the way an admin acts on them: fine, renew soon, clean up."""
    expiring = [e for e in document.entries if e.expiring(now)]
    expired = list(document.expired(now))
    active = [e for e in document.entries if e.active(now) and not e.expiring(now)]
    return [("active", active), ("expiring", expiring), ("expired", expired)]


SECTION_TITLES = {
    "active": "Active",
    "expiring": "Expiring within 7 days",
    "expired": "Expired (no longer applied)",
}


def exemption_entry(entry: Exemption) -> dict[str, object]:
    """One entry as JSON, with its index in the document (what `exemptions validate` names)."""
    return {
        "index": entry.index,
        "selector": entry.selector,
        "value": entry.value,
        "reason": entry.reason,
        "approved_by": entry.approved_by,
        "expires": entry.expires_text,
        "ends_at": iso(entry.expires) if entry.expires else None,
    }


def exemption_row(entry: Exemption) -> tuple[str, str, str, str, str]:
    """(index, selector, reason, approved by, expires) for a table."""
    expires = entry.expires_text or "never"
    return (str(entry.index), entry.describe(), entry.reason, entry.approved_by or "-", expires)


def exemptions_listing(
    document: Exemptions, *, parameter: str, version: int | None, now: datetime
) -> dict[str, object]:
    """`exemptions list --format json`."""
    listing: dict[str, object] = {"parameter": parameter, "version": version, "checked_at": iso(now)}
    for key, entries in exemption_sections(document, now):
        listing[key] = [exemption_entry(e) for e in entries]
    return listing


# --- audit report: json and csv -------------------------------------------------------------------


def _exemption_json(exemption: ExemptionEvidence | None) -> dict[str, object] | None:
    if exemption is None:
        return None
    return {
        "index": exemption.index,
        "selector": exemption.selector,
        "value": exemption.value,
        "reason": exemption.reason,
        "approved_by": exemption.approved_by,
        "expires": exemption.expires_text,
        "ends_at": iso(exemption.expires) if exemption.expires else None,
        "status": exemption.status,
    }


def _user_json(user: UserEvidence) -> dict[str, object]:
    return {
        "user": user.user,
        "arn": user.arn,
        "created": iso(user.created) if user.created else None,
        "mfa": user.mfa,
        "standing": user.standing.value,
        "quarantined": user.quarantined,
        "quarantined_via": user.quarantined_via,
        "quarantined_since": user.quarantined_since,
        "exemption": _exemption_json(user.exemption),
    }


def report_document(report: AuditReport) -> dict[str, object]:
    """The audit report as one JSON document."""
    summary = report.summary
    return {
        **report.header(),
        "summary": {
            "console_users": summary.console_users,
            "with_mfa": summary.with_mfa,
            "without_mfa": summary.without_mfa,
            "mfa_coverage": round(summary.coverage, 4) if summary.coverage is not None else None,
            "by_standing": {s.value: summary.by_standing.get(s, 0) for s in Standing},
        },
        "root": {
            "present": report.root.present,
            "mfa": report.root.mfa,
            "access_keys": report.root.access_keys,
            "password": report.root.password,
            "signing_certificates": report.root.certificates,
            "credentials_absent": report.root.credentials_absent,
            "source": report.root.source,
            "status": report.root.label,
        },
        "users": [_user_json(u) for u in report.users],
        "warnings": list(report.warnings),
    }


def report_json(report: AuditReport) -> str:
    """Pretty JSON with a trailing newline."""
    return json.dumps(report_document(report), indent=2, ensure_ascii=False) + "\n"


def csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas (OWASP CSV injection): user names and reasons are account-controlled."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _yes(value: bool | None) -> str:
    return "unknown" if value is None else "yes" if value else "no"


def report_csv(report: AuditReport) -> str:
    """One row for root, then one per console user; every cell formula-safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    common = [report.account_id, iso(report.generated_at)]
    root = report.root
    writer.writerow(
        [*common, "root", "<root_account>", f"arn:aws:iam::{report.account_id}:root", _yes(root.mfa), "root"]
        + [""] * 9
        + [root.label]
    )
    for user in report.users:
        ex = user.exemption
        cells = [
            "user",
            user.user,
            user.arn,
            _yes(user.mfa),
            user.standing.value,
            _yes(user.quarantined),
            user.quarantined_via or "",
            user.quarantined_since or "",
            ex.label if ex else "",
            str(ex.index) if ex else "",
            ex.reason if ex else "",
            (ex.approved_by or "") if ex else "",
            (ex.expires_text or "") if ex else "",
            ex.status if ex else "",
            STANDING_LABEL[user.standing],
        ]
        writer.writerow(common + [csv_safe(c) for c in cells])
    return out.getvalue()
