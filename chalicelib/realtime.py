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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import guard, observability, service, tell_owners
from chalicelib.adapters.aws_errors import AWS_ERRORS, error_text
from chalicelib.adapters.iam_gateway import QuarantineSnapshot, UserNotFoundError, UserRecord
from chalicelib.adapters.parameters import CACHE_SECONDS, ParameterStore
from chalicelib.core import decide, events, exemptions, grace, integrity, text
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
    iso,
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
    run.said = decide.Enrolment(login.source_ip, login.user_agent, login.mfa_serial)
    run.sign_in_ip = text.tag_value(login.source_ip)
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
    run.said = decide.Enrolment(change.source_ip, change.user_agent, change.serial_number)
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
    problems: tuple[Finding, ...]
    groups: frozenset[str] | None  # None: not read (no active group exemption needed it)
    record: UserRecord
    hollow: bool = False  # the bot's tag was there with no policy or group behind it


def _check(run: _Run, verdict: decide.CheckUser, account: str) -> EventOutcome:
    """Apply the decision table to one user from live reads, then carry out its write."""
    run.user = verdict.user
    if verdict.joined_group is not None and not _names_group(run, verdict.joined_group):
        return run.ignored(
            decide.Ignore(decide.Skip.OTHER_GROUP, f"joined group {verdict.joined_group}, which no exemption names")
        )
    try:
        gathered = _gather(run, verdict.user, stop_if_mfa=verdict.stop_if_mfa, read_profile=True)
        if isinstance(gathered, decide.Ignore):
            return run.ignored(gathered)
        if verdict.password_given_by is not None:
            return _password_given(run, gathered, verdict, account)
        found, write = decide.evaluate(gathered.facts, gathered.document, run.now, run.policy, run.trigger)
        return _apply(run, gathered, _announce_exemption(run, gathered, found, verdict), write, account)
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


def _names_group(run: _Run, group: str) -> bool:
    """Whether the document in force has an active entry for `group` (the cached document: no IAM call)."""
    document = _read_exemptions(run).document
    return document is not None and any(
        e.selector == "group" and e.active(run.now) and e.value.casefold() == group.casefold() for e in document.entries
    )


def _announce_exemption(
    run: _Run, gathered: _Gathered, found: Sequence[Finding], verdict: decide.CheckUser
) -> Sequence[Finding]:
    """Exempt is not invisible: the event that makes a console user without MFA exempt is announced once.

    A new console password (CreateLoginProfile) for an exempt user, or joining the group that
    exempts them (AddUserToGroup), turns the `exempt` finding into one `exempted` transition. The
    login profile is read to be sure the user has a console password (one call, on these events only).
    """
    document, facts = gathered.document, gathered.facts
    if document is None or not any(f.type is FindingType.EXEMPT for f in found):
        return found
    joined = verdict.joined_group
    if joined is not None and not decide.joined_exemption(facts, document, joined, run.now):
        return found
    if joined is None and run.event != events.IamEvent.CREATE_LOGIN_PROFILE.value:
        return found
    if facts.profile_created is None and run.ports.iam.login_profile_created(facts.user) is None:
        return [f for f in found if f.type is not FindingType.EXEMPT]  # no console password: nothing to protect
    announced = decide.exempted(facts, document, run.now, run.trigger)
    return [announced if f.type is FindingType.EXEMPT else f for f in found]


def _password_given(run: _Run, gathered: _Gathered, verdict: decide.CheckUser, account: str) -> EventOutcome:
    """Someone other than the user gave them a console password: record the grace it earns, once (grace.py).

    In enforce mode the deadline goes on the user (`grace-deadline`, which the role writes only
    while absent); a deadline already there stands. In report mode nothing is written and the
    finding says so. A quarantine the bot made after the password was given, before this event
    arrived, is undone (decide.premature).
    """
    iam, facts = run.ports.iam, gathered.facts
    given_at = verdict.password_given_at or run.now
    deadline = decide.grant(facts, given_at, run.now, run.policy)
    if deadline is None:
        found, write = decide.evaluate(facts, gathered.document, run.now, run.policy, run.trigger)
        return _apply(run, gathered, _announce_exemption(run, gathered, found, verdict), write, account)
    writes, note = 0, f"recorded when {verdict.password_given_by} gave the user a console password at {iso(given_at)}"
    if run.ports.settings.enforce:
        if iam.record_grace(facts.user, deadline):
            writes = 1
        else:
            deadline = grace.recorded(iam.user_record(facts.user).grace_tag) or deadline
            note = "a grace deadline was already recorded and stands"
    else:
        note += " (report mode: not recorded)"
    profile = facts.profile_created or iam.login_profile_created(facts.user)
    facts = replace(facts, grace_tag=iso(deadline), profile_created=profile, console=profile is not None)
    gathered = replace(gathered, facts=facts)
    if (
        facts.quarantined
        and not facts.mfa
        and decide.premature(gathered.record.quarantine_tag, given_at, deadline, run.now)
    ):
        why = f"quarantined before the grace this console password earns was known; grace ends {iso(deadline)}; {note}"
        found, write = decide.lift(facts, run.now, run.policy, run.trigger, why)
    else:
        found, write = decide.evaluate(facts, gathered.document, run.now, run.policy, run.trigger)
        found = tuple(
            f.with_changes(reason=f"{f.reason}; {note}") if f.type is FindingType.PENDING else f for f in found
        )
    announced = _announce_exemption(run, gathered, found, verdict)
    return _apply(run, gathered, announced, write, account, extra_writes=writes)


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
        gathered = _gather(run, verdict.user, stop_if_mfa=False, read_profile=True, verify_tag=False)
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
        if not found and write is None:
            return run.ignored(
                decide.Ignore(
                    decide.Skip.NOT_THE_BOTS,
                    f"{verdict.actor.label} {verdict.how} of a user the bot had not quarantined and would not "
                    "(inside grace, exempt, with MFA or without a console password): nothing to restore",
                )
            )
        return _apply(run, gathered, found, write, account, restore=verdict)
    except UserNotFoundError:
        return run.ignored(
            decide.Ignore(decide.Skip.USER_NOT_FOUND, f"user {events.show(verdict.user)} does not exist")
        )
    except AWS_ERRORS as exc:
        return run.failed(f"could not check user {verdict.user}", exc)


def _gather(
    run: _Run, user: str, *, stop_if_mfa: bool, read_profile: bool, verify_tag: bool = True
) -> _Gathered | decide.Ignore:
    """Read what the decision needs, cheapest and most decisive first (see the module docstring).

    The bot's `quarantined-at` tag is a claim, not proof: when it is there and MFA is not, one more
    read (`verify_tag`) checks that a policy or the group stands behind it; a hollow tag is decided
    as no quarantine, so the table completes it (and announces it).
    """
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
        created=record.created,
        quarantined=record.quarantined,
        grace_tag=record.grace_tag,
    )
    if mfa:  # MFA decides alone: release if the bot's tag is there, else nothing
        return _Gathered(facts, None, (), None, record)
    document, groups, problems = _exemptions(run, user)
    facts = replace(facts, groups=groups or frozenset())
    hollow = verify_tag and facts.quarantined and not iam.quarantine_in_place(user)
    if hollow:
        facts = replace(facts, quarantined=False)
    if read_profile and decide.needs_login_profile(facts, document, run.now):
        created = iam.login_profile_created(user)
        facts = replace(facts, console=created is not None, profile_created=created)
    return _Gathered(facts, document, problems, groups, record, hollow)


def _identity_center(run: _Run, sign_in: events.IdentityCenterSignIn, account: str) -> EventOutcome:
    """A password-only Identity Center sign-in is an alert; no AWS call but the exemptions (usually cached)."""
    verdict = decide.triage_identity_center(sign_in, account)
    if isinstance(verdict, decide.Ignore):
        return run.ignored(verdict)
    run.user = verdict.user
    loaded = _read_exemptions(run)
    findings = [*loaded.findings, decide.identity_center(verdict, loaded.document, run.now, run.trigger)]
    return run.finish(findings, account=account)


def _exemptions(
    run: _Run, user: str
) -> tuple[exemptions.Exemptions | None, frozenset[str] | None, tuple[Finding, ...]]:
    """The document in force and, only when it has an active group entry, the user's groups.

    Same rules as the scan (service.read_exemptions): an invalid newest version falls back to the
    newest valid one, with a finding; a document the bot cannot trust at all quarantines nobody. A
    group entry naming a group that does not exist simply never appears among the user's groups.
    """
    loaded = _read_exemptions(run)
    document = loaded.document
    if document is None or not any(e.selector == "group" and e.active(run.now) for e in document.entries):
        return document, None, loaded.findings
    try:
        return document, run.ports.iam.groups_of(user), loaded.findings
    except AWS_ERRORS as exc:
        problem = decide.unusable_exemptions(
            f"cannot resolve exemption groups: {error_text(exc)}", run.now, run.trigger
        )
        return None, None, (*loaded.findings, problem)


_ABSENT: weakref.WeakKeyDictionary[ParameterStore, dict[str, float]] = weakref.WeakKeyDictionary()


def _read_exemptions(run: _Run) -> service.LoadedExemptions:
    """The exemptions through the Powertools cache, and the parameter's absence cached just as long.

    Powertools keeps a value for CACHE_SECONDS but not a ParameterNotFound, so an account that
    never created the parameter would pay a GetParameter on every event; the absence is
    remembered per store (per container) for the same five minutes a value would be.
    """
    store, name = run.ports.parameters, run.ports.settings.exemptions_parameter
    absent = _ABSENT.setdefault(store, {})
    if absent.get(name, float("-inf")) > time.monotonic():
        return service.LoadedExemptions(exemptions.Exemptions())
    loaded = service.read_exemptions(store, name, run.now, run.trigger, fresh=False)
    if loaded.version is None and not loaded.findings:
        absent[name] = time.monotonic() + CACHE_SECONDS
    return loaded


def _apply(
    run: _Run,
    gathered: _Gathered,
    found: Sequence[Finding],
    write: Write | None,
    account: str,
    restore: decide.Restore | None = None,
    extra_writes: int = 0,
) -> EventOutcome:
    """Carry out the decision's one write (if any), tell the user's owner, and report what it became."""
    if write is not None and write.action in (Action.RELEASE, Action.WOULD_RELEASE):
        enrolment = run.said if run.event == events.IamEvent.ENABLE_MFA_DEVICE.value else None
        confirmed = decide.confirm_release(write.finding, gathered.record.sign_in_ip, enrolment)
        found = [confirmed if f is write.finding else f for f in found]
        write = replace(write, finding=confirmed)
    findings = [*gathered.problems, *found]
    wrote = extra_writes
    if write is not None:
        final, wrote_now = _write(run, gathered, write, restore)
        wrote += wrote_now
        findings = [f for f in (final if f is write.finding else f for f in findings) if f is not None]
    ports = run.ports
    told = tell_owners.tell(
        ports.owners,
        ports.iam,
        ports.settings,
        findings,
        run.now,
        run.trigger,
        known_tags={gathered.facts.user: gathered.record.tags},
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
    # claiming was written since, by another writer, unless it was there already with nothing behind
    # it (hollow: adopted and announced). A release after someone else's removal (restore) only tidies
    # up the tags; it is this event's news. A quarantine caused by a sign-in records the sign-in's
    # source IP with its claim.
    context = service.WriteContext(
        seen_untagged=not gathered.hollow,
        leftover_tag=gathered.hollow,
        cleanup=restore is not None,
        sign_in_ip=run.sign_in_ip,
    )
    live = replace(write, confirm_no_mfa=False, confirm_mfa=False)
    return service.apply_write(iam, live, snapshot, run.now, context)


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
        self.said = decide.Enrolment(None, None, None)  # the event's source IP, user agent, device serial
        self.sign_in_ip: str | None = None  # set by on_console_login: recorded with a quarantine's claim

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
            findings=tuple(self._with_event_text(f) for f in findings),
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

    def _with_event_text(self, finding: Finding) -> Finding:
        """A finding about the event's user carries what the event says: source IP, user agent, device serial."""
        if finding.user is None or finding.user != self.user:
            return finding
        said = {
            "source_ip": text.bounded(self.said.source_ip, decide.MAX_EVENT_TEXT),
            "user_agent": text.bounded(self.said.user_agent, decide.MAX_EVENT_TEXT),
            "mfa_serial": text.bounded(self.said.serial, decide.MAX_EVENT_TEXT),
        }
        missing = {key: value for key, value in said.items() if value is not None and getattr(finding, key) is None}
        return finding.with_changes(**missing) if missing else finding

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
