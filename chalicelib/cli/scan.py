"""`scan`: the scheduled reconciliation, run by hand with the operator's credentials.

It calls service.run_scan with Ports built from the operator's session, so the CLI and the Lambda
cannot disagree about a user. Report mode by default. With --enforce the CLI first runs a report
of what would change and asks before writing (unless --yes). A scan from the CLI notifies nobody:
the operator reads the result, and the bot's own next run stays quiet about users already handled.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime
from typing import Any

from chalicelib import service
from chalicelib.adapters.iam_gateway import Contained, CredentialReportBody, IamGateway, QuarantineSnapshot
from chalicelib.adapters.parameters import ParameterStore
from chalicelib.adapters.quarantine_policy import QuarantinePolicyGateway
from chalicelib.cli import render, session, terminal
from chalicelib.cli.errors import CliError
from chalicelib.core import config, integrity
from chalicelib.core.config import Settings
from chalicelib.core.exemptions import Version
from chalicelib.core.model import Action, Mode, RunResult, Trigger

PHASES = 4
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "", "info": "dim"}


class _ObservedIam(IamGateway):
    """The bot's gateway, narrating each call to the progress display."""

    def __init__(self, client: Any, policy_arn: str | None, steps: terminal.Steps) -> None:
        super().__init__(client, policy_arn)
        self._steps = steps

    def credential_report(self) -> CredentialReportBody:
        self._steps.phase("Getting the IAM credential report (AWS may take a minute to generate it)")
        return super().credential_report()

    def quarantined(self) -> QuarantineSnapshot:
        self._steps.phase("Listing users who hold the quarantine policy")
        return super().quarantined()

    def group_members(self, group: str) -> frozenset[str]:
        self._steps.detail(f"Resolving exemption group {group}")
        return super().group_members(group)

    def has_mfa_device(self, user: str) -> bool:
        self._steps.detail(f"Confirming {user} still has no MFA device")
        return super().has_mfa_device(user)

    def quarantine(self, user: str, now: datetime, *, sign_in_ip: str | None = None) -> Contained:
        self._steps.detail(f"Quarantining {user}")
        return super().quarantine(user, now, sign_in_ip=sign_in_ip)

    def release(self, user: str, *, via_group: bool) -> bool:
        self._steps.detail(f"Releasing {user}")
        return super().release(user, via_group=via_group)


class _ObservedParameters(ParameterStore):
    """The bot's parameter store, marking the exemptions phase (and the decision that follows)."""

    def __init__(self, inner: ParameterStore, steps: terminal.Steps) -> None:
        self._inner = inner
        self._steps = steps

    def exemptions(self, name: str, **options: Any) -> Version | None:
        self._steps.phase(f"Reading exemptions from {name}")
        newest = self._inner.exemptions(name, **options)
        self._steps.phase("Deciding and applying")
        return newest

    def version(self, name: str, number: int) -> Version | None:
        return self._inner.version(name, number)

    def history(self, name: str) -> tuple[Version, ...]:
        self._steps.detail(f"The newest version of {name} is invalid: reading its history")
        return self._inner.history(name)

    def secret(self, name: str) -> str:
        return self._inner.secret(name)


def scan_once(aws: session.Aws, settings: Settings, *, show_progress: bool, verbose: bool) -> RunResult:
    """One run of the core, with a progress display on stderr when it is a terminal."""
    with terminal.Steps(PHASES, enabled=show_progress) as steps:
        arn = settings.quarantine_policy_arn
        ports = service.Ports(
            settings=settings,
            iam=_ObservedIam(aws.client("iam"), arn, steps),
            parameters=_ObservedParameters(session.parameter_store(aws), steps),
            policy=QuarantinePolicyGateway(aws.client("iam"), arn) if arn is not None else None,
        )
        with session.lambda_telemetry(verbose):
            result = service.run_scan(ports)
    # The core labels its run as the scheduled scan; say truthfully where this one came from.
    findings = tuple(f.with_changes(detected_by=Trigger.CLI) for f in result.findings)
    return dataclasses.replace(result, trigger=Trigger.CLI, findings=findings)


def _planned(result: RunResult) -> tuple[list[str], list[str], list[str]]:
    quarantine = sorted(f.user or "" for f in result.findings if f.action is Action.WOULD_QUARANTINE)
    release = sorted(f.user or "" for f in result.findings if f.action is Action.WOULD_RELEASE)
    restore = [f.reason for f in result.findings if f.action is Action.WOULD_RESTORE]
    return quarantine, release, restore


def _confirm_enforce(aws: session.Aws, settings: Settings, *, show_progress: bool, verbose: bool) -> None:
    """Preview in report mode, then ask; nothing to change means nothing to ask."""
    preview = scan_once(
        aws, dataclasses.replace(settings, mode=Mode.REPORT), show_progress=show_progress, verbose=verbose
    )
    # A hollow quarantine policy is what --enforce restores: not a failure of the preview.
    failed = [
        f
        for f in preview.findings
        if f.type in render.ERRORS and f.action is not Action.WOULD_RESTORE and not integrity.is_uncontained(f)
    ]
    if failed:
        raise CliError(f"the preview scan failed, nothing was changed: {'; '.join(f.reason for f in failed)}")
    quarantine, release, restore = _planned(preview)
    if not quarantine and not release and not restore:
        terminal.note("Nothing to quarantine, release or restore.")
        return
    account = preview.account_id or "this account"
    for reason in restore:
        terminal.note(f"Would restore the quarantine policy: {reason}")
    if quarantine:
        terminal.note(f"Would quarantine {len(quarantine)}: {', '.join(quarantine)}")
    if release:
        terminal.note(f"Would release {len(release)}: {', '.join(release)}")
    terminal.confirm(f"Apply these changes to IAM in {account}?", assume_yes=False)


def run(
    aws: session.Aws,
    *,
    enforce: bool,
    yes: bool,
    fmt: str,
    quarantine_policy_arn: str | None,
    parameter: str | None,
    verbose: bool,
) -> int:
    """Scan, print a table (or JSON), and exit 0 clean / 1 users without MFA remain / 2 error."""
    settings = session.settings(os.environ, quarantine_policy_arn=quarantine_policy_arn, exemptions_parameter=parameter)
    if enforce:
        if settings.quarantine_policy_arn is None:
            raise CliError(
                f"--enforce needs the quarantine policy ARN: pass --quarantine-policy-arn or set "
                f"{config.QUARANTINE_POLICY_ARN}. Nothing was changed."
            )
        settings = dataclasses.replace(settings, mode=Mode.ENFORCE)
    show_progress = fmt != "json"
    if enforce and not yes:
        _confirm_enforce(aws, settings, show_progress=show_progress, verbose=verbose)
    result = scan_once(aws, settings, show_progress=show_progress, verbose=verbose)
    if fmt == "json":
        terminal.say(json.dumps(render.scan_document(result), indent=2))
    else:
        _print_table(result, settings)
    return render.scan_exit(result)


def _print_table(result: RunResult, settings: Settings) -> None:
    console = terminal.out()
    terminal.show(
        console,
        f"Account {result.account_id or 'unknown'} · mode {result.mode.value} · {result.users_scanned} users scanned"
        f" · {result.writes} IAM writes · exemptions from {settings.exemptions_parameter}",
    )
    if settings.quarantine_policy_arn is None:
        terminal.note("note: no quarantine policy ARN given, so users already quarantined show as 'would-quarantine'.")
    rows = render.scan_rows(result)
    if rows:
        styles = [SEVERITY_STYLE.get(row[2], "") for row in rows]
        console.print(
            terminal.table(None, ("User", "Finding", "Severity", "Action", "Detail"), rows, row_styles=styles)
        )
    counts = ", ".join(f"{kind} {n}" for kind, n in result.counts().items()) or "no findings"
    terminal.show(console, f"Findings: {counts}")
    terminal.show(console, render.scan_headline(result))
