"""The imperative shell of the real-time paths: one event -> parse -> triage -> live reads -> decide -> write.

`on_console_login` and `on_iam_change` reuse the scan's pieces: the same decision table
(`decide.evaluate`), the same quarantine/release adapter calls (`service.apply_write`), the same
exemptions rules (fail safe on an unusable document), and a `RunResult` logged, counted and
notified the way the scan's is. What differs is where the facts come from: the credential
report is never read here, so each fact about the one user is read live, and only when the
decision depends on it. The order is chosen to keep the common paths cheap:

    ListMFADevices        a sign-in by a user with a device stops here (1 call)
    GetUser               ARN/path, creation time, and the user's tags: the bot's `quarantined-at`
                          (already quarantined -> still-quarantined: no alert, no re-tag), and
                          the owner's contact and notice record that tell_owners needs
    exemptions            SSM via the Powertools cache (<= 5 min old, so usually no call;
                          a missing parameter is remembered as long);
                          ListGroupsForUser only when the document has an active group entry
    GetLoginProfile       only for a user who could be pending or quarantined: when the
                          console password was first set (the grace clock)
    TagUser, AttachUserPolicy   the quarantine (service.apply_write); TagUser is also the claim
                          that keeps a racing scan from alerting twice (iam_gateway)
    owner notice          after the write (tell_owners): ListAccountAliases, the e-mail and/or
                          Slack DM, TagUser of the notice record; only when a notice is due

A call on the quarantine policy itself (CreatePolicyVersion, SetDefaultPolicyVersion, DeletePolicy,
or DetachGroupPolicy from its group) costs GetPolicy, GetPolicyVersion and ListEntitiesForPolicy
(the group), then the restore's writes in enforce mode (guard); the bot's own restore coming back
as an event is recognised by its role and costs nothing.

Nothing here raises for an event: a malformed one is logged and counted, an AWS failure while
reading becomes a finding that says no decision was made, and the hourly scan is the backstop.
"""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import guard, observability, service, tell_owners
from chalicelib.adapters.aws_errors import AWS_ERRORS, error_text
from chalicelib.adapters.iam_gateway import QuarantineSnapshot, UserNotFoundError
from chalicelib.adapters.parameters import CACHE_SECONDS, ParameterStore, ParameterUnavailableError
from chalicelib.core import decide, events, exemptions, integrity
from chalicelib.core.model import (
    QUARANTINE_GROUP,
    ROOT_USER,
    Action,
    Finding,
    FindingType,
    NoticeTally,
    RunResult,
    Trigger,
    Write,
)

logger = observability.logger


class CallerIdentity:
    """Who the bot is: its account (events from other accounts are ignored) and its role (its own
    releases arrive as DetachUserPolicy events and are not tamper).

    The account comes for free from the Lambda context ARN, or from the configured quarantine
    policy (a customer-managed policy can only be attached in its own account); STS
    GetCallerIdentity answers otherwise, and for the role, once per container.
    """

    PERMISSIONS: tuple[str, ...] = ()  # sts:GetCallerIdentity needs no IAM permission

    def __init__(self, sts: Callable[[], Any], context: Any = None, configured_account: str | None = None) -> None:
        self._sts = sts
        arn = getattr(context, "invoked_function_arn", None)
        self._context_account = events.account_of(arn) if isinstance(arn, str) else None
        self._configured_account = configured_account

    def account(self) -> str:
        """The bot's account id; may call STS (raises botocore errors, which the caller handles)."""
        account = self._context_account or self._configured_account or events.account_of(self.arn())
        if account is None:
            raise ValueError("GetCallerIdentity returned an ARN without an account id")
        return account

    def arn(self) -> str:
        """The bot's own principal ARN (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` in Lambda)."""
        return _caller_arn(self._sts())


@functools.lru_cache(maxsize=4)
def _caller_arn(client: Any) -> str:
    """One GetCallerIdentity per STS client, that is per container (tests get a new client per moto account)."""
    return str(client.get_caller_identity()["Arn"])


@dataclass(frozen=True)
class EventOutcome:
    """What one real-time invocation concluded and did; `summary()` is the Lambda's JSON answer."""

    result: RunResult
    event: str | None = None
    event_id: str | None = None
    user: str | None = None
    ignored: str | None = None

    def summary(self) -> dict[str, object]:
        """The scan's summary shape, plus which event this was and, when nothing was done, why."""
        out = self.result.summary()
        out["event"] = {"name": self.event, "id": self.event_id, "user": self.user}
        out["ignored"] = self.ignored
        return out


def on_console_login(ports: service.Ports, raw: object, identity: CallerIdentity) -> EventOutcome:
    """A console sign-in: act on an IAM user of this account who signed in without MFA; alert on an
    Identity Center user who signed in with a password alone (there is nothing to quarantine)."""
    run = _Run(ports, identity, Trigger.ON_CONSOLE_LOGIN)
    login = events.sign_in(raw)
    if isinstance(login, events.Invalid):
        return run.invalid(login.problem)
    run.event, run.event_id = login.event_name, _cut(login.envelope.event_id)
    try:
        account = identity.account()
    except (*AWS_ERRORS, ValueError) as exc:
        return run.failed("cannot tell which account the bot runs in", exc)
    if isinstance(login, events.IdentityCenterSignIn):
        return _identity_center(run, login, account)
    verdict = decide.triage_login(login, account)
    if isinstance(verdict, decide.Ignore):
        return run.ignored(verdict)
    if isinstance(verdict, decide.RootSignIn):
        run.user = ROOT_USER
        return run.finish([decide.root_sign_in(verdict, run.now, run.trigger)], account=account)
    return _check(run, verdict, account)


def on_iam_change(ports: service.Ports, raw: object, identity: CallerIdentity) -> EventOutcome:
    """An IAM change to MFA devices, console passwords or the quarantine itself: re-check that user."""
    run = _Run(ports, identity, Trigger.ON_IAM_CHANGE)
    change = events.iam_change(raw)
    if isinstance(change, events.Invalid):
        return run.invalid(change.problem)
    run.event, run.event_id = change.event_name, _cut(change.envelope.event_id)
    try:
        account = identity.account()
    except (*AWS_ERRORS, ValueError) as exc:
        return run.failed("cannot tell which account the bot runs in", exc)
    verdict = decide.triage_change(change, account, ports.settings.quarantine_policy_arn)
    if isinstance(verdict, decide.Ignore):
        return run.ignored(verdict)
    if isinstance(verdict, decide.PolicyChange):
        return _policy(run, verdict, account)
    if isinstance(verdict, decide.Restore):
        return _restore(run, verdict, account)
    return _check(run, verdict, account)


@dataclass(frozen=True)
class _Gathered:
    """The live facts about one user, and the exemptions they were judged against."""

    facts: decide.UserFacts
    document: exemptions.Exemptions | None
    problem: str | None
    groups: frozenset[str] | None  # None: not read (no active group exemption needed it)
    tags: Mapping[str, str] = field(default_factory=dict)  # the user's tags, read by GetUser


def _check(run: _Run, verdict: decide.CheckUser, account: str) -> EventOutcome:
    """Apply the decision table to one user from live reads, then carry out its write."""
    run.user = verdict.user
    try:
        gathered = _gather(run, verdict.user, stop_if_mfa=verdict.stop_if_mfa, grace=True)
        if isinstance(gathered, decide.Ignore):
            return run.ignored(gathered)
        found, write = decide.evaluate(gathered.facts, gathered.document, run.now, run.policy, run.trigger)
        return _apply(run, gathered, found, write, account)
    except UserNotFoundError:
        return run.ignored(
            decide.Ignore(decide.Skip.USER_NOT_FOUND, f"user {events.show(verdict.user)} does not exist")
        )
    except AWS_ERRORS as exc:
        return run.failed(f"could not check user {verdict.user}", exc)


def _policy(run: _Run, verdict: decide.PolicyChange, account: str) -> EventOutcome:
    """Someone acted on the quarantine policy: unless it was the bot, check it now and restore what differs."""
    if _own(run, verdict.actor):
        return run.ignored(decide.Ignore(decide.Skip.OWN_CHANGE, f"the bot's own restore ({verdict.how})"))
    policy = run.ports.policy
    if policy is None:  # triage only passes changes of a configured policy, and bootstrap builds this for it
        return run.ignored(decide.Ignore(decide.Skip.NO_POLICY, "no quarantine policy configured"))
    try:
        checked = guard.check(policy, run.ports.settings.mode, run.now, run.policy.interval)
    except AWS_ERRORS as exc:
        return run.failed(f"could not read the quarantine policy {policy.arn}", exc)
    if checked.tampering is None:
        why = f"{verdict.actor.label} {verdict.how}, and the quarantine policy is as shipped (restored, or unchanged)"
        return run.ignored(decide.Ignore(decide.Skip.POLICY_INTACT, why))
    finding = integrity.finding(
        checked.tampering,
        checked.restored,
        mode=run.ports.settings.mode,
        now=run.now,
        trigger=run.trigger,
        interval=run.policy.interval,
        actor=verdict.actor.label,
    )
    writes = checked.restored.writes if checked.restored is not None else 0
    return run.finish([finding], writes=writes, account=account)


def _own(run: _Run, actor: events.Principal) -> bool:
    """Whether the event's caller is one of the bot's own roles (decide.is_own_change)."""
    try:
        bot = run.identity.arn()
    except AWS_ERRORS as exc:
        logger.warning("cannot tell the bot's own role; judging the change as someone else's", extra=_error(exc))
        return False
    return decide.is_own_change(actor, bot, run.ports.settings.bot_role_names)


def _restore(run: _Run, verdict: decide.Restore, account: str) -> EventOutcome:
    """Someone removed a quarantine: unless it was the bot, judge it as tamper (decide.tamper)."""
    run.user = verdict.user
    if _own(run, verdict.actor):
        return run.ignored(decide.Ignore(decide.Skip.OWN_CHANGE, f"the bot's own release ({verdict.how})"))
    try:
        gathered = _gather(run, verdict.user, stop_if_mfa=False, grace=False)
        if isinstance(gathered, decide.Ignore):
            return run.ignored(gathered)
        found, write = decide.tamper(
            gathered.facts,
            gathered.document,
            run.now,
            run.policy,
            run.trigger,
            actor=verdict.actor.label,
            how=verdict.how,
        )
        return _apply(run, gathered, found, write, account, restore=verdict)
    except UserNotFoundError:
        return run.ignored(
            decide.Ignore(decide.Skip.USER_NOT_FOUND, f"user {events.show(verdict.user)} does not exist")
        )
    except AWS_ERRORS as exc:
        return run.failed(f"could not check user {verdict.user}", exc)


def _gather(run: _Run, user: str, *, stop_if_mfa: bool, grace: bool) -> _Gathered | decide.Ignore:
    """Read what the decision needs, cheapest and most decisive first (see the module docstring)."""
    iam = run.ports.iam
    mfa = iam.has_mfa_device(user)
    if mfa and stop_if_mfa:
        return decide.Ignore(decide.Skip.HAS_MFA, f"user {user} has an MFA device (confirmed live): nothing to do")
    record = iam.user_record(user)
    facts = decide.UserFacts(
        user=record.user,
        arn=record.arn,
        console=True,  # confirmed by GetLoginProfile whenever the decision depends on it
        mfa=mfa,
        access_key=False,  # not read in real time: the api-user finding is the scan's
        grace_start=record.created,
        quarantined=record.quarantined,
    )
    if mfa:  # MFA decides alone: release if the bot's tag is there, else nothing
        return _Gathered(facts, None, None, None, record.tags)
    document, groups, problem = _exemptions(run, user)
    facts = replace(facts, groups=groups or frozenset())
    if grace and decide.needs_login_profile(facts, document, run.now):
        created = iam.login_profile_created(user)
        start = record.created if created is None else max(record.created, created)
        facts = replace(facts, console=created is not None, grace_start=start)
    return _Gathered(facts, document, problem, groups, record.tags)


def _identity_center(run: _Run, sign_in: events.IdentityCenterSignIn, account: str) -> EventOutcome:
    """A password-only Identity Center sign-in is an alert; no AWS call but the exemptions (usually cached)."""
    verdict = decide.triage_identity_center(sign_in, account)
    if isinstance(verdict, decide.Ignore):
        return run.ignored(verdict)
    run.user = verdict.user
    document, problem = _document(run)
    findings = [decide.identity_center(verdict, document, run.now, run.trigger)]
    if problem is not None:
        findings.insert(0, decide.config_error(problem, run.now, run.trigger))
    return run.finish(findings, account=account)


def _document(run: _Run) -> tuple[exemptions.Exemptions | None, str | None]:
    """The admin's document, or None and why (the same fail-safe rule as the scan's service.load_exemptions)."""
    name = run.ports.settings.exemptions_parameter
    try:
        return exemptions.loads(_exemptions_text(run.ports.parameters, name)), None
    except exemptions.ExemptionsError as exc:
        return None, f"{name} is invalid: {exc}"
    except ParameterUnavailableError as exc:
        return None, str(exc)


def _exemptions(run: _Run, user: str) -> tuple[exemptions.Exemptions | None, frozenset[str] | None, str | None]:
    """The admin's document and, only when it has an active group entry, the user's groups.

    Same fail-safe rule as the scan (service.load_exemptions): any problem returns no document and
    says why, so nobody is quarantined on a document the bot cannot trust.
    """
    document, problem = _document(run)
    if document is None:
        return None, None, problem
    if not any(e.selector == "group" and e.active(run.now) for e in document.entries):
        return document, None, None
    try:
        return document, run.ports.iam.groups_of(user), None
    except AWS_ERRORS as exc:
        return None, None, f"cannot resolve exemption groups: {error_text(exc)}"


_ABSENT: weakref.WeakKeyDictionary[ParameterStore, dict[str, float]] = weakref.WeakKeyDictionary()


def _exemptions_text(store: ParameterStore, name: str) -> str | None:
    """The document through the Powertools cache, and its absence cached just as long.

    Powertools keeps a value for CACHE_SECONDS but not a ParameterNotFound, so an account that
    never created the parameter would pay a GetParameter on every event; the absence is
    remembered per store (per container) for the same five minutes a value would be.
    """
    absent = _ABSENT.setdefault(store, {})
    if absent.get(name, float("-inf")) > time.monotonic():
        return None
    text = store.exemptions_text(name)
    if text is None:
        absent[name] = time.monotonic() + CACHE_SECONDS
    return text


def _apply(
    run: _Run,
    gathered: _Gathered,
    found: Sequence[Finding],
    write: Write | None,
    account: str,
    restore: decide.Restore | None = None,
) -> EventOutcome:
    """Carry out the decision's one write (if any), tell the user's owner, and report what it became."""
    findings = list(found)
    if gathered.problem is not None:
        findings.insert(0, decide.config_error(gathered.problem, run.now, run.trigger))
    wrote = 0
    if write is not None:
        final, wrote = _write(run, gathered, write, restore)
        findings = [f for f in (final if f is write.finding else f for f in findings) if f is not None]
    ports = run.ports
    told = tell_owners.tell(
        ports.owners,
        ports.iam,
        ports.settings,
        findings,
        run.now,
        run.trigger,
        known_tags={gathered.facts.user: gathered.tags},
    )
    return run.finish([*findings, *told.findings], writes=wrote, account=account, owner_notices=told.tally)


def _write(run: _Run, gathered: _Gathered, write: Write, restore: decide.Restore | None) -> tuple[Finding | None, int]:
    iam = run.ports.iam
    if write.action is Action.REATTACH and restore is not None:
        tag_at = None if gathered.facts.quarantined else run.now
        try:
            contained = iam.reattach(write.user, via_group=restore.via_group, tag_at=tag_at)
        except AWS_ERRORS as exc:
            failed = write.finding.with_changes(type=FindingType.CANNOT_QUARANTINE, error=error_text(exc))
            return failed.with_changes(action=Action.NONE), 0
        suffix = (
            f"; restored through the group {QUARANTINE_GROUP}" if contained.how == "group" else "; quarantine restored"
        )
        writes = 2 if tag_at is not None and contained.claimed else 1
        return write.finding.with_changes(reason=write.finding.reason + suffix), writes
    snapshot = QuarantineSnapshot(frozenset(), frozenset())
    if write.action is Action.RELEASE:
        try:
            groups = gathered.groups if gathered.groups is not None else iam.groups_of(write.user)
        except AWS_ERRORS as exc:
            failed = write.finding.with_changes(type=FindingType.CANNOT_RELEASE, error=error_text(exc))
            return failed.with_changes(action=Action.NONE), 0
        if QUARANTINE_GROUP in groups:
            snapshot = QuarantineSnapshot(frozenset(), frozenset({write.user}))
    # MFA was confirmed absent or present (the release's live proof), and the bot's tag read, moments
    # ago by this invocation (ListMFADevices, GetUser): no second ListMFADevices, and a tag found when
    # claiming was written since, by another writer. A release after someone else's removal
    # (restore) only tidies up the tags; it is this event's news.
    live = replace(write, confirm_no_mfa=False, confirm_mfa=False)
    return service.apply_write(iam, live, snapshot, run.now, seen_untagged=True, cleanup=restore is not None)


class _Run:
    """One invocation's context, and the four ways it ends: finished, ignored, invalid, failed."""

    def __init__(self, ports: service.Ports, identity: CallerIdentity, trigger: Trigger) -> None:
        self.ports = ports
        self.identity = identity
        self.trigger = trigger
        self.started = time.monotonic()
        self.now: datetime = ports.clock()
        self.policy = service.policy_for(ports.settings)
        self.event: str | None = None
        self.event_id: str | None = None
        self.user: str | None = None

    def finish(
        self,
        findings: Sequence[Finding],
        *,
        writes: int = 0,
        account: str | None = None,
        owner_notices: NoticeTally | None = None,
    ) -> EventOutcome:
        """Log each finding, count them, notify on transitions (like the scan's `_finish`)."""
        duration = int((time.monotonic() - self.started) * 1000)
        result = RunResult(
            trigger=self.trigger,
            mode=self.ports.settings.mode,
            findings=tuple(findings),
            users_scanned=1 if self.user is not None else 0,
            writes=writes,
            duration_ms=duration,
            account_id=account or self.ports.settings.account_id,
            owner_notices=owner_notices,
        )
        if not result.findings:
            logger.info("event handled: nothing to report", extra=self._meta())
        observability.log_findings(result.findings)
        observability.count_findings(result.findings)
        observability.add("IamWrites", writes)
        observability.add("EventDuration", duration, MetricUnit.Milliseconds)
        if result.transitions:
            self.ports.notifier.publish(result)
        return self._outcome(result)

    def ignored(self, verdict: decide.Ignore) -> EventOutcome:
        """No action, by design: one info line saying why, and a metric by reason."""
        logger.info("event ignored", extra={"why": verdict.reason, "code": verdict.code.value, **self._meta()})
        observability.dimensioned("EventsIgnored", 1, Handler=self.trigger.value, Reason=verdict.code.value)
        return self._outcome(self._empty(), ignored=verdict.reason)

    def invalid(self, problem: str) -> EventOutcome:
        """Not an event this handler can read: one warning naming the problem, a metric, nothing else."""
        logger.warning("invalid event ignored", extra={"problem": problem})
        observability.dimensioned("InvalidEvents", 1, Handler=self.trigger.value)
        return self._outcome(self._empty(), ignored=f"invalid event: {problem}")

    def failed(self, what: str, exc: BaseException) -> EventOutcome:
        """AWS would not answer a read: no decision, a finding that says so (the scan will retry)."""
        observability.dimensioned("EventErrors", 1, Handler=self.trigger.value)
        finding = Finding(
            type=FindingType.SCAN_ERROR,
            user=self.user,
            arn=None,
            action=Action.NONE,
            reason=f"{self.trigger.value}: {what}; no decision made, the scheduled scan will retry",
            detected_by=self.trigger,
            timestamp=self.now,
            transition=True,
            error=error_text(exc),
        )
        return self.finish([finding])

    def _empty(self) -> RunResult:
        duration = int((time.monotonic() - self.started) * 1000)
        return RunResult(
            self.trigger, self.ports.settings.mode, (), duration_ms=duration, account_id=self.ports.settings.account_id
        )

    def _outcome(self, result: RunResult, ignored: str | None = None) -> EventOutcome:
        return EventOutcome(result, self.event, self.event_id, self.user, ignored)

    def _meta(self) -> dict[str, object]:
        return {"event_name": self.event, "event_id": self.event_id, "user": self.user}


def _error(exc: BaseException) -> dict[str, object]:
    return {"error": error_text(exc)}


def _cut(value: str | None, limit: int = 128) -> str | None:
    """Event ids are logged and returned; an oversized one (a hand-made 256 KB event) is cut."""
    return value if value is None or len(value) <= limit else value[:limit] + "..."
