"""`report --format csv|json|html`: gather the audit evidence from AWS, then render it.

Gathering reuses the bot's adapters (credential report with its bounded wait, quarantine snapshot,
group members) and adds the per-user reads a CLI can afford and the Lambda avoids: tags for
"quarantined since", and a live ListMFADevices for every console user the report shows without
MFA, because the report can be four hours old.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import service
from chalicelib.adapters.iam_gateway import GroupNotFoundError, IamGateway, ReportUnavailableError, UserNotFoundError
from chalicelib.cli import evidence, html_report, render, session, terminal
from chalicelib.cli.errors import CliError
from chalicelib.cli.session import Aws
from chalicelib.core import credential_report, exemptions
from chalicelib.core import root as root_account
from chalicelib.core.config import Settings
from chalicelib.core.model import ReportRow, Trigger
from chalicelib.core.text import printable

RENDERERS = {"csv": render.report_csv, "json": render.report_json, "html": html_report.render}


def _tags(iam: Any, users: list[str]) -> dict[str, dict[str, str]]:
    """Each user's tags (ListUserTags, paginated); a user deleted meanwhile is skipped."""
    tags: dict[str, dict[str, str]] = {}
    for user in users:
        try:
            pages = iam.get_paginator("list_user_tags").paginate(UserName=user)
            tags[user] = {t["Key"]: t["Value"] for page in pages for t in page["Tags"]}
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
    return tags


def _mfa_confirmed(gateway: IamGateway, rows: list[ReportRow], warnings: list[str]) -> frozenset[str]:
    """Users the (possibly hours-old) report shows without MFA who have a device now."""
    confirmed = set()
    for row in rows:
        if row.mfa_active:
            continue
        try:
            if gateway.has_mfa_device(row.user):
                confirmed.add(row.user)
        except UserNotFoundError:
            warnings.append(f"{row.user} was deleted after the credential report was generated")
    return frozenset(confirmed)


def _exemptions(
    aws: Aws, gateway: IamGateway, parameter: str, warnings: list[str]
) -> tuple[exemptions.Exemptions | None, dict[str, frozenset[str]], int | None]:
    """The document as the Lambda would use it (the newest valid version; None when none is), its groups' members,
    and the version in force."""
    loaded = service.read_exemptions(
        session.parameter_store(aws), parameter, datetime.now(UTC), Trigger.CLI, fresh=True
    )
    warnings.extend(f.reason for f in loaded.findings)
    document = loaded.document
    version = loaded.version.number if loaded.version is not None else None
    if document is None:
        return None, {}, version
    members: dict[str, frozenset[str]] = {}
    for group in document.groups:
        try:
            members[group] = gateway.group_members(group)
        except GroupNotFoundError as exc:
            warnings.append(f"exemption group: {exc}")
    return document, members, version


def _root_summary(gateway: IamGateway, warnings: list[str]) -> root_account.Summary:
    """GetAccountSummary, as the scan reads it; a refusal leaves root to the credential report (and says so)."""
    try:
        return root_account.from_summary_map(gateway.account_summary())
    except ClientError as exc:
        summary = root_account.unavailable(str(exc.response.get("Error", {}).get("Code", "error")))
        warnings.append(f"root: {summary.problem}; judged from the credential report alone")
        return summary


def gather(aws: Aws, settings: Settings, *, now: datetime | None = None) -> evidence.AuditReport:
    """Read everything the report shows; problems that do not stop it become warnings in the report."""
    now = now or datetime.now(UTC)
    iam = aws.client("iam")
    gateway = IamGateway(iam, settings.quarantine_policy_arn)
    warnings: list[str] = []
    account_id = aws.account_id()
    try:
        body = gateway.credential_report()
        report = credential_report.parse(body.content)
    except (ReportUnavailableError, credential_report.ReportFormatError) as exc:
        raise CliError(f"cannot build the report: {exc}") from None
    warnings.extend(f"credential report line {e.line} ({e.user}) skipped: {e.problem}" for e in report.errors)

    console = [r for r in report.users if r.password_enabled]
    mfa_confirmed = _mfa_confirmed(gateway, console, warnings)
    snapshot = gateway.quarantined() if settings.quarantine_policy_arn else None
    if snapshot is None:
        warnings.append("no quarantine policy ARN given: quarantine status is read from the bot's tag only")
    tags = _tags(iam, [r.user for r in console] if snapshot is None else sorted(snapshot.users))
    document, members, version = _exemptions(aws, gateway, settings.exemptions_parameter, warnings)
    root_summary = _root_summary(gateway, warnings) if report.root is not None else None

    return evidence.assemble(
        account_id=account_id,
        now=now,
        report=report,
        report_generated_at=body.generated,
        mfa_confirmed=mfa_confirmed,
        snapshot=snapshot,
        tags=tags,
        document=document,
        group_members=members,
        exemptions_parameter=settings.exemptions_parameter,
        exemptions_version=version,
        warnings=warnings,
        root_summary=root_summary,
    )


def run(aws: Aws, settings: Settings, *, fmt: str, output: str | None) -> int:
    """Write the report to --output (only after everything was gathered), or to a redirected stdout.

    The report is a file for an auditor (HTML by default), never something to read in a terminal:
    without --output, a stdout that is a terminal is refused before any AWS call; `--output -`
    insists on stdout.
    """
    if output is None and sys.stdout.isatty():
        raise CliError(
            f"the report is a {fmt.upper()} file: pass --output FILE (for example --output evidence.{fmt}), "
            "or redirect stdout. Nothing was read."
        )
    text = printable(RENDERERS[fmt](gather(aws, settings)), keep_newlines=True)
    if output is None or output == "-":
        sys.stdout.write(text)
        return 0
    path = Path(output)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{output}: cannot write ({exc.strerror or exc})") from None
    terminal.note(f"wrote {fmt} report to {output} ({len(text.encode('utf-8'))} bytes)")
    return 0
