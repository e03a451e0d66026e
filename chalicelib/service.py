"""The imperative shell of the scheduled scan: gather, decide (pure), then apply.

Every failure here is turned into a finding rather than an exception, so one bad user, a broken
exemptions document or a dead notification channel never stops the rest of the run. The only
thing that stops a scan early is missing data it cannot decide safely without (the report or the
list of quarantined users), and then it decides nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import guard, observability, tell_owners
from chalicelib.adapters.aws_errors import AWS_ERRORS, error_text
from chalicelib.adapters.iam_gateway import (
    GroupNotFoundError,
    IamGateway,
    QuarantineSnapshot,
    ReportUnavailableError,
    UserNotFoundError,
)
from chalicelib.adapters.parameters import ParameterStore, ParameterUnavailableError
from chalicelib.adapters.quarantine_policy import QuarantinePolicyGateway
from chalicelib.core import credential_report, decide, events, exemptions, integrity
from chalicelib.core import root as root_account
from chalicelib.core.config import Settings
from chalicelib.core.model import QUARANTINE_GROUP, Action, Finding, FindingType, Plan, RunResult, Trigger, Write

logger = observability.logger

MAX_SAFETY_MARGIN_S = 30.0
WRITE_WORKERS = 6


class Notifier(Protocol):
    """Where findings go after enforcement (SNS, Slack); must never raise."""

    def publish(self, result: RunResult) -> None:
        """Send what changed in this run."""


class NullNotifier:
    """No channel configured: findings are only logged."""

    def publish(self, result: RunResult) -> None:
        """Nothing to send."""


@dataclass
class Ports:
    """Everything the shell talks to, built by bootstrap (or by a test)."""

    settings: Settings
    iam: IamGateway
    parameters: ParameterStore
    notifier: Notifier = field(default_factory=NullNotifier)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    owners: tell_owners.Owners | None = None  # None: owner notices are not configured
    policy: QuarantinePolicyGateway | None = None  # None: no quarantine policy configured, nothing to check


class TimeBudget:
    """Stops a scan from starting new users when the Lambda is about to time out.

    The margin is 30 s or a quarter of the time left at the start, whichever is smaller, so a
    short test context still gets work done and a real 15-minute Lambda keeps a safe reserve.
    """

    def __init__(self, remaining_ms: Callable[[], float] | None) -> None:
        self._remaining_ms = remaining_ms
        start = remaining_ms() / 1000 if remaining_ms is not None else float("inf")
        self.margin_s = min(MAX_SAFETY_MARGIN_S, start / 4)

    def exhausted(self) -> bool:
        """True when there is no longer time to start another user safely."""
        return self._remaining_ms is not None and self._remaining_ms() / 1000 < self.margin_s


def policy_for(settings: Settings) -> decide.Policy:
    """The decision knobs that come from deployment settings."""
    return decide.Policy(mode=settings.mode, grace=timedelta(hours=settings.grace_hours))


def run_scan(ports: Ports, remaining_ms: Callable[[], float] | None = None) -> RunResult:
    """The scheduled reconciliation: report -> integrity of the quarantine -> plan -> writes -> findings -> notify.

    The quarantine policy is checked (and in enforce mode restored) before anyone is quarantined,
    so a new quarantine lands on the shipped document; while it stays hollow nobody is reported
    as contained (core.integrity).
    """
    started = time.monotonic()
    budget = TimeBudget(remaining_ms)
    now = ports.clock()
    settings = ports.settings

    try:
        body = ports.iam.credential_report()
        report = credential_report.parse(body.content)
        snapshot = ports.iam.quarantined()
    except (ReportUnavailableError, credential_report.ReportFormatError, *AWS_ERRORS) as exc:
        why = error_text(exc) if isinstance(exc, AWS_ERRORS) else str(exc)
        finding = _account_finding(FindingType.SCAN_ERROR, f"scan stopped, no decisions made: {why}", now)
        result = RunResult(Trigger.SCHEDULED_SCAN, settings.mode, (finding,), account_id=settings.account_id)
        return _finish(ports, result, started)
    if body.generated is not None:
        logger.info("credential report", extra={"generated": body.generated.isoformat(), "rows": len(report.rows)})

    checked, problem_finding = _integrity(ports, snapshot, now)
    snapshot = _regroup(ports, snapshot, checked)
    document, members, problem = load_exemptions(ports, fresh=True)
    plan = decide.scan(
        report, document, members, snapshot.users, now, policy_for(settings), root_summary=read_root(ports)
    )
    findings = list(plan.findings)
    if problem is not None:
        findings.insert(0, decide.config_error(problem, now, Trigger.SCHEDULED_SCAN))

    outcome = execute(ports, plan, snapshot, now, budget, hollow=checked.hollow)
    exposure = integrity.Exposure(snapshot.direct, snapshot.via_group)
    final = integrity.uncontained(outcome.apply(findings), checked.hollow, exposure)
    if checked.tampering is not None:
        exposed = sum(1 for f in final if integrity.is_uncontained(f))
        tampered = integrity.finding(
            checked.tampering, checked.restored, mode=settings.mode, now=now, trigger=Trigger.SCHEDULED_SCAN,
            interval=decide.SCAN_INTERVAL, exposed=exposed,
        )  # fmt: skip
        final.insert(0, tampered)
    elif problem_finding is not None:
        final.insert(0, problem_finding)
    told = tell_owners.tell(
        ports.owners, ports.iam, settings, final, now, Trigger.SCHEDULED_SCAN, time_left=lambda: not budget.exhausted()
    )
    result = RunResult(
        trigger=Trigger.SCHEDULED_SCAN,
        mode=settings.mode,
        findings=(*final, *told.findings),
        users_scanned=len(report.users),
        writes=outcome.writes,
        left_for_next_run=outcome.left,
        account_id=settings.account_id or _account_of(report),
        owner_notices=told.tally,
    )
    return _finish(ports, result, started, completed=True)


def _integrity(ports: Ports, snapshot: QuarantineSnapshot, now: datetime) -> tuple[guard.Checked, Finding | None]:
    """The quarantine policy's integrity check; a policy the bot cannot read is reported, and the scan goes on."""
    if ports.policy is None:
        return guard.Checked(), None
    try:
        checked = guard.check(
            ports.policy, ports.settings.mode, now, decide.SCAN_INTERVAL, group_attached=snapshot.group_attached
        )
    except AWS_ERRORS as exc:
        reason = f"the quarantine policy {ports.policy.arn} could not be read: quarantines may be hollow"
        unread = Finding(
            type=FindingType.QUARANTINE_POLICY_TAMPERED,
            user=None,
            arn=ports.policy.arn,
            action=Action.NONE,
            reason=reason,
            detected_by=Trigger.SCHEDULED_SCAN,
            timestamp=now,
            transition=decide.daily_due(now, decide.SCAN_INTERVAL),
            error=error_text(exc),
        )
        return guard.Checked(), unread
    return checked, None


def _regroup(ports: Ports, snapshot: QuarantineSnapshot, checked: guard.Checked) -> QuarantineSnapshot:
    """Read the fallback group's members when ListEntitiesForPolicy did not show the group holding the policy.

    Only after tampering (a detached group, a deleted policy): the members are held again if the
    group was re-attached, or they are the users the hollow group leaves uncontained.
    """
    if snapshot.group_attached or checked.tampering is None:
        return snapshot
    try:
        members = ports.iam.group_members(QUARANTINE_GROUP)
    except GroupNotFoundError:
        members = frozenset()
    except AWS_ERRORS as exc:
        logger.warning("cannot read the quarantine group's members", extra={"error": error_text(exc)})
        members = frozenset()
    return replace(snapshot, via_group=members, group_attached=checked.group_restored)


def read_root(ports: Ports) -> root_account.Summary:
    """What root holds now (GetAccountSummary, one call per scan); a failure leaves root to the report alone."""
    try:
        return root_account.from_summary_map(ports.iam.account_summary())
    except AWS_ERRORS as exc:
        logger.warning(
            "GetAccountSummary failed; root judged from the credential report", extra={"error": error_text(exc)}
        )
        return root_account.unavailable(error_text(exc))


def load_exemptions(
    ports: Ports, *, fresh: bool = False
) -> tuple[exemptions.Exemptions | None, dict[str, frozenset[str]], str | None]:
    """Read, validate and resolve the exemptions; on any problem return None and say why (fail safe)."""
    try:
        text = ports.parameters.exemptions_text(ports.settings.exemptions_parameter, fresh=fresh)
        document = exemptions.loads(text)
        members = {group: ports.iam.group_members(group) for group in document.groups}
    except exemptions.ExemptionsError as exc:
        return None, {}, f"{ports.settings.exemptions_parameter} is invalid: {exc}"
    except (ParameterUnavailableError, GroupNotFoundError) as exc:
        return None, {}, str(exc)
    except AWS_ERRORS as exc:
        return None, {}, f"cannot resolve exemption groups: {error_text(exc)}"
    return document, members, None


@dataclass
class _Outcome:
    """What executing a plan changed: replacements for candidate findings, and counters."""

    replaced: dict[int, Finding | None] = field(default_factory=dict)
    writes: int = 0
    left: int = 0
    extra: list[Finding] = field(default_factory=list)

    def apply(self, findings: Sequence[Finding]) -> list[Finding]:
        out = []
        for finding in findings:
            new = self.replaced.get(id(finding), finding)
            if new is not None:
                out.append(new)
        return out + self.extra


def execute(
    ports: Ports,
    plan: Plan,
    snapshot: QuarantineSnapshot,
    now: datetime,
    budget: TimeBudget,
    workers: int = WRITE_WORKERS,
    *,
    hollow: integrity.Hollow | None = None,
) -> _Outcome:
    """Carry out the plan's candidates, a few users at a time; a failure becomes that user's finding.

    Users are independent, so their calls overlap in a small pool (IAM's token buckets and the
    standard retry mode absorb the bursts). Releases go first; no new user starts once the
    Lambda's time budget is spent, and the next scan picks up the rest.
    """
    outcome = _Outcome()
    ordered = sorted(plan.candidates, key=lambda c: c.action not in (Action.RELEASE, Action.WOULD_RELEASE))
    started = 0
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="iam-write") as pool:
        running: dict[Future[tuple[Finding | None, int]], Write] = {}
        for candidate in ordered:
            if budget.exhausted():
                break
            if len(running) >= workers:
                _collect(wait(running, return_when=FIRST_COMPLETED).done, running, outcome)
            running[pool.submit(apply_write, ports.iam, candidate, snapshot, now, hollow=hollow)] = candidate
            started += 1
        _collect(wait(running).done, running, outcome)
    if started < len(ordered):
        outcome.left = len(ordered) - started
        for skipped in ordered[started:]:
            outcome.replaced[id(skipped.finding)] = None
        reason = f"Lambda time nearly up: {outcome.left} user(s) left for the next run"
        outcome.extra.append(_account_finding(FindingType.SCAN_INCOMPLETE, reason, now))
    return outcome


def _collect(
    done: Iterable[Future[tuple[Finding | None, int]]],
    running: dict[Future[tuple[Finding | None, int]], Write],
    outcome: _Outcome,
) -> None:
    for future in done:
        candidate = running.pop(future)
        new, wrote = future.result()
        outcome.replaced[id(candidate.finding)] = new
        outcome.writes += wrote


def apply_write(
    iam: IamGateway,
    candidate: Write,
    snapshot: QuarantineSnapshot,
    now: datetime,
    *,
    seen_untagged: bool = False,
    cleanup: bool = False,
    hollow: integrity.Hollow | None = None,
) -> tuple[Finding | None, int]:
    """Confirm and perform one candidate; returns its final finding (None: nothing to report) and writes made.

    Another writer may act on the same user meanwhile (see iam_gateway): a quarantine whose claim
    it holds, or a release it already made, is completed or left alone here without a second
    alert. `seen_untagged` says the caller read the user without the bot's tag just before; the
    scan decides from its snapshot taken at `now` instead, and judges the tag by its stamp
    (decide.claim_held_by_other). `cleanup` marks a release that only tidies up after someone else
    removed the quarantine (the event that reported the removal announces it). `hollow` is what
    the integrity check left unrestored: a quarantine made under it is said not to contain.
    """
    finding = candidate.finding
    try:
        if candidate.confirm_no_mfa and iam.has_mfa_device(candidate.user):
            logger.info("MFA enrolled since the report; not quarantined", extra={"user": candidate.user})
            return None, 0
        if candidate.confirm_mfa and not iam.has_mfa_device(candidate.user):
            logger.info("the report says MFA, but no device is live; still quarantined", extra={"user": candidate.user})
            return decide.no_live_device(finding), 0
        if candidate.action is Action.QUARANTINE:
            return _quarantine(iam, candidate, now, seen_untagged=seen_untagged, hollow=hollow)
        if candidate.action is Action.RELEASE:
            released = iam.release(candidate.user, via_group=candidate.user in snapshot.via_group)
            if not released and not cleanup:
                logger.info("already released by another run", extra={"user": candidate.user})
                return None, 1
            return finding, 2
        return finding, 0
    except UserNotFoundError:
        logger.info("user deleted since the report", extra={"user": candidate.user})
        return None, 0
    except AWS_ERRORS as exc:
        failed = FindingType.CANNOT_RELEASE if candidate.action is Action.RELEASE else FindingType.CANNOT_QUARANTINE
        return finding.with_changes(type=failed, error=error_text(exc), action=Action.NONE), 0


def _quarantine(
    iam: IamGateway, candidate: Write, now: datetime, *, seen_untagged: bool, hollow: integrity.Hollow | None
) -> tuple[Finding | None, int]:
    """Tag and attach (or join the group); under a hollow policy the finding says the user is not contained."""
    finding = candidate.finding
    if hollow is not None and hollow.missing:  # nothing to attach: the tampered finding counts these users
        return integrity.not_contained(finding, hollow).with_changes(action=Action.NONE, transition=False), 0
    contained = iam.quarantine(candidate.user, now)
    suffix = " (via the quarantine group: user is at the managed-policy quota)" if contained.how == "group" else ""
    finding = finding.with_changes(reason=finding.reason + suffix)
    writes = 2
    if contained.held_since is not None:
        writes = 1
        if decide.claim_held_by_other(contained.held_since, None if seen_untagged else now):
            logger.info("quarantine claimed by another run", extra={"user": candidate.user})
            finding = decide.claimed_elsewhere(finding, contained.held_since)
    if hollow is not None and not hollow.contains(via_group=contained.how == "group"):
        finding = integrity.not_contained(finding, hollow)
    return finding, writes


def _account_of(report: credential_report.CredentialReport) -> str | None:
    """The account id, read from the first ARN in the report (arn:aws:iam::<account>:...)."""
    return next((account for row in report.rows if (account := events.account_of(row.arn))), None)


def _account_finding(kind: FindingType, reason: str, now: datetime) -> Finding:
    return Finding(
        type=kind,
        user=None,
        arn=None,
        action=Action.NONE,
        reason=reason,
        detected_by=Trigger.SCHEDULED_SCAN,
        timestamp=now,
        transition=True,
    )


def _finish(ports: Ports, result: RunResult, started: float, *, completed: bool = False) -> RunResult:
    """Log, count and notify; notification failures are the notifier's to absorb.

    A scan that made its decisions also emits `ScansCompleted` (dimension `service`), the
    heartbeat the deployment's dead-man's-switch alarm watches; a scan stopped for want of
    data does not.
    """
    result = replace(result, duration_ms=int((time.monotonic() - started) * 1000))
    observability.log_findings(result.findings)
    observability.count_findings(result.findings)
    observability.add("UsersScanned", result.users_scanned)
    observability.add("IamWrites", result.writes)
    observability.add("ScanDuration", result.duration_ms, MetricUnit.Milliseconds)
    if completed:
        observability.dimensioned(observability.SCANS_COMPLETED, 1)
    ports.notifier.publish(result)
    return result
