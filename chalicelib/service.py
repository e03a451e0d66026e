"""The imperative shell of the scheduled scan: gather, decide (pure), then apply.

Every failure here is turned into a finding rather than an exception, so one bad user, a broken
exemptions document or a dead notification channel never stops the rest of the run. The only
thing that stops a scan early is missing data it cannot decide safely without (the report or the
list of quarantined users), and then it decides nothing.
"""

from __future__ import annotations

import time
import weakref
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
MAX_VERSIONS_BACK = 100  # SSM keeps the last 100 versions of a parameter


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
    loaded = load_exemptions(ports, now, fresh=True)
    policy = policy_for(settings)
    wanted = decide.records_needed(report, loaded.document, loaded.members, snapshot.users, now, policy)
    records, unreadable = read_grace_records(ports.iam, wanted, now)
    earlier = earlier_exemptions(ports.parameters, settings.exemptions_parameter, loaded.version, now, policy.interval)
    plan = decide.scan(
        report,
        loaded.document,
        loaded.members,
        snapshot.users,
        now,
        policy,
        records,
        frozenset(unreadable),
        earlier,
        root_summary=read_root(ports),
    )
    findings = [*loaded.findings, *(f for f in unreadable.values() if f is not None), *plan.findings]

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


@dataclass(frozen=True)
class LoadedExemptions:
    """The exemptions a run enforces, where they came from, and what is wrong with the stored ones.

    `document` None means no version can be trusted (unreadable, or none is valid): the run then
    quarantines nobody. `members` holds the members of each exempt group (the scan resolves them;
    the real-time paths ask for the one user's groups instead).
    """

    document: exemptions.Exemptions | None
    members: dict[str, frozenset[str]] = field(default_factory=dict)
    version: exemptions.Version | None = None
    findings: tuple[Finding, ...] = ()


_FALLBACKS: weakref.WeakKeyDictionary[ParameterStore, dict[tuple[str, int], exemptions.Version | None]] = (
    weakref.WeakKeyDictionary()
)


def read_exemptions(
    store: ParameterStore, name: str, now: datetime, trigger: Trigger, *, fresh: bool
) -> LoadedExemptions:
    """The document in force: the newest version if it is valid, else the newest valid one from its history.

    The history (GetParameterHistory) is read only when the newest version is invalid, and once per
    container for each invalid newest version (stored versions never change), so a broken edit costs
    the real-time paths no extra call per event. Any SSM failure fails safe: no document, nobody
    quarantined, and a critical finding saying why.
    """
    try:
        newest = store.exemptions(name, fresh=fresh)
        if newest is None:
            return LoadedExemptions(exemptions.Exemptions())
        try:
            return LoadedExemptions(exemptions.loads(newest.text), version=newest)
        except exemptions.ExemptionsError as exc:
            problems = str(exc)
        cache = _FALLBACKS.setdefault(store, {})
        key = (name, newest.number)
        if key not in cache:
            found = exemptions.newest_valid(v for v in store.history(name) if v.number < newest.number)
            cache[key] = found[0] if found is not None else None
    except ParameterUnavailableError as exc:
        return LoadedExemptions(None, findings=(decide.unusable_exemptions(str(exc), now, trigger),))
    in_force = cache[key]
    error = decide.invalid_exemptions(name, newest, problems, in_force, now, trigger)
    document = exemptions.loads(in_force.text) if in_force is not None else None
    return LoadedExemptions(document, version=in_force, findings=(error,))


def earlier_exemptions(
    store: ParameterStore, name: str, in_force: exemptions.Version | None, now: datetime, interval: timedelta
) -> exemptions.Exemptions | None:
    """The document that was in force one scan interval ago, when it was another one; None when it was the same.

    Only when the version in force was written within the interval is anything read: the versions
    before it, newest first, one GetParameter each, until the newest valid one written before the
    interval began (usually the one just before). No such version means the parameter is new, and
    every entry is. Whom the document newly exempts is announced (decide.became_exempt).
    """
    cutoff = now - interval
    if in_force is None or in_force.modified is None or in_force.modified <= cutoff:
        return None
    try:
        for number in range(in_force.number - 1, max(0, in_force.number - MAX_VERSIONS_BACK), -1):
            version = store.version(name, number)
            if version is None:
                break
            if version.modified is not None and version.modified > cutoff:
                continue
            try:
                return exemptions.loads(version.text)
            except exemptions.ExemptionsError:
                continue
    except ParameterUnavailableError as exc:
        logger.warning(
            "cannot read the earlier exemptions; nobody is announced as newly exempt", extra={"problem": str(exc)}
        )
        return None
    return exemptions.Exemptions()


def load_exemptions(ports: Ports, now: datetime, *, fresh: bool = False) -> LoadedExemptions:
    """The scan's exemptions: the document in force and the members of each of its groups.

    A group that does not exist has no members, so it exempts nobody: the rest of the document still
    applies, and a finding names the group (once a day, like the other standing problems).
    """
    loaded = read_exemptions(
        ports.parameters, ports.settings.exemptions_parameter, now, Trigger.SCHEDULED_SCAN, fresh=fresh
    )
    if loaded.document is None:
        return loaded
    try:
        members, missing = _group_members(ports.iam, loaded.document.groups)
    except AWS_ERRORS as exc:
        problem = f"cannot resolve exemption groups: {error_text(exc)}"
        return replace(
            loaded, document=None, findings=(decide.unusable_exemptions(problem, now, Trigger.SCHEDULED_SCAN),)
        )
    gone = decide.missing_groups(
        loaded.document, missing, now, Trigger.SCHEDULED_SCAN, transition=decide.daily_due(now)
    )
    return replace(loaded, members=members, findings=(*loaded.findings, *gone))


def _group_members(iam: IamGateway, groups: Iterable[str]) -> tuple[dict[str, frozenset[str]], list[str]]:
    """Members of each exempt group (one GetGroup each), and the groups IAM does not have.

    The document may spell a group in another case than IAM does (IAM names are unique regardless
    of case); a name GetGroup does not find is looked up once in the account's group names
    (ListGroups), and only a name missing there too is reported.
    """
    members: dict[str, frozenset[str]] = {}
    unresolved: list[str] = []
    for group in groups:
        try:
            members[group] = iam.group_members(group)
        except GroupNotFoundError:
            unresolved.append(group)
    if not unresolved:
        return members, []
    spelled = {name.casefold(): name for name in iam.group_names()}
    missing: list[str] = []
    for group in unresolved:
        actual = spelled.get(group.casefold())
        try:
            members[group] = iam.group_members(actual) if actual is not None else frozenset()
        except GroupNotFoundError:  # deleted between the two calls
            actual = None
        if actual is None:
            members[group] = frozenset()
            missing.append(group)
    return members, missing


def read_grace_records(
    iam: IamGateway, users: Sequence[str], now: datetime, workers: int = WRITE_WORKERS
) -> tuple[dict[str, decide.GraceRecord], dict[str, Finding | None]]:
    """The grace record of each user whose deadline depends on it (decide.records_needed).

    One GetUser each (the `grace-deadline` tag), and GetLoginProfile only for a user who carries
    one (the password's age bounds it). A user whose record cannot be read is decided by no one
    this run (`unreadable`, with a finding); a deleted user is simply skipped (None).
    """
    records: dict[str, decide.GraceRecord] = {}
    unreadable: dict[str, Finding | None] = {}
    if not users:
        return records, unreadable
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="iam-read") as pool:
        answers = dict(zip(users, pool.map(lambda user: _grace_record(iam, user), users), strict=True))
    for user, answer in answers.items():
        if isinstance(answer, decide.GraceRecord):
            records[user] = answer
        elif answer is None:
            unreadable[user] = None
        else:
            unreadable[user] = replace(
                _account_finding(
                    FindingType.SCAN_ERROR, "could not read the user's grace deadline: no decision this run", now
                ),
                user=user,
                error=answer,
            )
    return records, unreadable


def _grace_record(iam: IamGateway, user: str) -> decide.GraceRecord | str | None:
    """The record, None for a user deleted since the report, or the error text."""
    try:
        tag = iam.user_record(user).grace_tag
        return decide.GraceRecord(tag, iam.login_profile_created(user) if tag is not None else None)
    except UserNotFoundError:
        return None
    except AWS_ERRORS as exc:
        return error_text(exc)


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
    context = WriteContext(read_release_record=True, clock=ports.clock, hollow=hollow)
    ordered = sorted(plan.candidates, key=lambda c: c.action not in (Action.RELEASE, Action.WOULD_RELEASE))
    started = 0
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="iam-write") as pool:
        running: dict[Future[tuple[Finding | None, int]], Write] = {}
        for candidate in ordered:
            if budget.exhausted():
                break
            if len(running) >= workers:
                _collect(wait(running, return_when=FIRST_COMPLETED).done, running, outcome)
            running[pool.submit(apply_write, ports.iam, candidate, snapshot, now, context)] = candidate
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


@dataclass(frozen=True)
class WriteContext:
    """How the caller came to a write, which decides how a tag found on the user is judged (apply_write).

    `seen_untagged`: the caller read the user without the bot's tag just before (real-time paths), so
    a tag found now was written since, by another writer. `leftover_tag`: the caller read the tag and
    found no quarantine behind it, so it is a leftover (or hand-set) and is adopted and announced.
    `cleanup`: a release that only tidies up after someone else removed the quarantine. `sign_in_ip`:
    recorded with the claim of a quarantine caused by a sign-in. `read_release_record`: the scan reads
    the user before an MFA release, to learn whether a sign-in caused the quarantine. `clock` gives the
    moment of a claim, so a stamp later than it is known to be hand-set. `hollow` is what the integrity
    check left unrestored: a quarantine made under it is said not to contain.
    """

    seen_untagged: bool = False
    leftover_tag: bool = False
    cleanup: bool = False
    sign_in_ip: str | None = None
    read_release_record: bool = False
    clock: Callable[[], datetime] | None = None
    hollow: integrity.Hollow | None = None


def apply_write(
    iam: IamGateway,
    candidate: Write,
    snapshot: QuarantineSnapshot,
    now: datetime,
    context: WriteContext = WriteContext(),
) -> tuple[Finding | None, int]:
    """Confirm and perform one candidate; returns its final finding (None: nothing to report) and writes made.

    Another writer may act on the same user meanwhile (see iam_gateway): a quarantine whose claim
    it holds, or a release it already made, is completed or left alone here without a second
    alert. The scan decides from its snapshot taken at `now` and judges a tag it meets by its stamp
    (decide.claim_held_by_other); see WriteContext for the real-time paths.
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
            return _quarantine(iam, candidate, now, context)
        if candidate.action in (Action.RELEASE, Action.WOULD_RELEASE) and context.read_release_record:
            finding = decide.confirm_release(finding, iam.user_record(candidate.user).sign_in_ip, None)
        if candidate.action is Action.RELEASE:
            released = iam.release(candidate.user, via_group=candidate.user in snapshot.via_group)
            if not released and not context.cleanup:
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


def _quarantine(iam: IamGateway, candidate: Write, now: datetime, context: WriteContext) -> tuple[Finding | None, int]:
    """Tag and attach (or join the group); under a hollow policy the finding says the user is not contained."""
    finding, hollow = candidate.finding, context.hollow
    if hollow is not None and hollow.missing:  # nothing to attach: the tampered finding counts these users
        return integrity.not_contained(finding, hollow).with_changes(action=Action.NONE, transition=False), 0
    contained = iam.quarantine(candidate.user, now, sign_in_ip=context.sign_in_ip)
    suffix = " (via the quarantine group: user is at the managed-policy quota)" if contained.how == "group" else ""
    finding = finding.with_changes(reason=finding.reason + suffix)
    writes = 2
    if contained.held_since is not None:
        writes = 1
        finding = _claimed(finding, contained.held_since, candidate.user, now, context)
    if hollow is not None and not hollow.contains(via_group=contained.how == "group"):
        finding = integrity.not_contained(finding, hollow)
    return finding, writes


def _claimed(finding: Finding, held_since: str, user: str, now: datetime, context: WriteContext) -> Finding:
    """A quarantine whose claim was refused: adopted and announced (a leftover, a hand-set stamp), or another's."""
    if context.leftover_tag:
        return decide.adopted(finding, held_since)
    decided_at = None if context.seen_untagged else now
    checked_at = context.clock() if context.clock is not None else None
    if decide.claim_held_by_other(held_since, decided_at, checked_at):
        logger.info("quarantine claimed by another run", extra={"user": user})
        return decide.claimed_elsewhere(finding, held_since)
    return finding


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
