"""The shell step that tells the person behind each IAM user what is happening to it.

Called once per run, after enforcement, by the scan (service.run_scan) and the event paths
(realtime): the run's final findings go in, `owner-unreachable` findings and a tally come out.
Nothing here can block or undo enforcement: every failure becomes a finding for the operators.

    1. core.owner_notices.due      which notices the findings call for, from findings and `now` alone:
                                   no notice due, no call (the steady-state scan is unchanged)
    2. GetUser                     only for a user with a notice due: the contact tag and the record
                                   of notices already sent (the event paths read it already: no call);
       ListMFADevices              grace and reminders on the scan only: skipped for a user who has
                                   MFA by now (the report can be hours old)
    3. ListAccountAliases          once per run, and only when a notice is about to be sent
    4. SES SendRawEmail / Slack    each configured channel that can reach the contact, each on its own:
       users.lookupByEmail,        one failing channel does not silence the other, and a notice that
       chat.postMessage            reached the person on any channel counts as delivered
    5. TagUser                     enforce mode: what was delivered, on `mfa-enforcer:notified`
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib import observability
from chalicelib.adapters.aws_errors import AWS_ERRORS, error_text
from chalicelib.adapters.iam_gateway import IamGateway, UserNotFoundError
from chalicelib.adapters.notify import FAILURE_METRIC, ChannelError
from chalicelib.adapters.owner_channels import EmailChannel, SlackDirect
from chalicelib.core import contacts, decide, events, owner_notices, owner_text
from chalicelib.core.config import Settings
from chalicelib.core.model import NOTIFIED_TAG, Action, Finding, FindingType, Mode, NoticeTally, Trigger

logger = observability.logger

WORKERS = 4


@dataclass
class Owners:
    """The channels that reach owners, and the tag their contact is read from; built by bootstrap."""

    owner_tag: str
    email: EmailChannel | None = None
    slack: SlackDirect | None = None


@dataclass(frozen=True)
class Told:
    """What telling the owners produced: findings for the operators, and the tally for the digest."""

    findings: tuple[Finding, ...] = ()
    tally: NoticeTally | None = None


def policy_for(settings: Settings) -> owner_notices.NoticePolicy:
    """The owner-notice knobs of this deployment."""
    return owner_notices.NoticePolicy(
        mode=settings.mode,
        reminder_hours=settings.owners.reminder_hours,
        interval=decide.SCAN_INTERVAL,
        in_report_mode=settings.owners.in_report_mode,
    )


def tell(
    owners: Owners | None,
    iam: IamGateway,
    settings: Settings,
    findings: Sequence[Finding],
    now: datetime,
    trigger: Trigger,
    *,
    known_tags: Mapping[str, Mapping[str, str]] | None = None,
    time_left: Callable[[], bool] = lambda: True,
) -> Told:
    """Send the notices `findings` call for; `known_tags` are users whose tags this run read already.

    `time_left` is the scan's time budget: a user whose notices cannot start in time is reported
    as `owner-unreachable` rather than dropped.
    """
    if owners is None:
        return Told()
    due = owner_notices.due(findings, now, policy_for(settings), trigger)
    if not due:
        return Told(tally=NoticeTally())
    per_user: dict[str, list[owner_notices.Due]] = {}
    for notice in due:
        per_user.setdefault(notice.user, []).append(notice)
    job = _Job(owners, iam, settings, now, trigger, _Alias(iam))
    known = known_tags or {}
    outcomes: list[_Outcome] = []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(per_user)), thread_name_prefix="owner-notice") as pool:
        futures = []
        for user, notices in per_user.items():
            if not time_left():
                outcomes.append(job.not_started(notices))
                continue
            futures.append(pool.submit(job.run, user, notices, known.get(user)))
        outcomes += [future.result() for future in futures]
    return _combine(outcomes)


@dataclass
class _Outcome:
    """One user's notices: deliveries per channel, notices that reached nobody, and the findings saying so."""

    email: int = 0
    slack: int = 0
    without_contact: int = 0
    failed: int = 0
    findings: list[Finding] = field(default_factory=list)


def _combine(outcomes: Iterable[_Outcome]) -> Told:
    tally, found = NoticeTally(), []
    for o in outcomes:
        tally = NoticeTally(
            email=tally.email + o.email,
            slack=tally.slack + o.slack,
            without_contact=tally.without_contact + o.without_contact,
            failed=tally.failed + o.failed,
        )
        found += o.findings
    for channel, count in (("email", tally.email), ("slack", tally.slack)):
        if count:
            observability.dimensioned("OwnerNotices", count, Channel=channel)
    return Told(tuple(found), tally)


class _Alias:
    """The account alias, read at most once per run and only when a notice is about to go out."""

    def __init__(self, iam: IamGateway) -> None:
        self._iam = iam
        self._lock = threading.Lock()
        self._read = False
        self._alias: str | None = None

    def get(self) -> str | None:
        with self._lock:
            if not self._read:
                self._read = True
                try:
                    self._alias = self._iam.account_alias()
                except AWS_ERRORS as exc:
                    logger.warning("cannot read the account alias; notices name the account id only", extra=_e(exc))
            return self._alias


@dataclass
class _Job:
    """Telling one user, with everything the run shares."""

    owners: Owners
    iam: IamGateway
    settings: Settings
    now: datetime
    trigger: Trigger
    alias: _Alias

    def run(self, user: str, notices: list[owner_notices.Due], tags: Mapping[str, str] | None) -> _Outcome:
        """Read (unless known), filter by MFA and by the record, deliver, record; never raises.

        The broad `except` is the isolation boundary, as in notify.FanOutNotifier: notices run after
        enforcement, and a bug here must become a finding, not a failed scan (which Lambda would rerun).
        """
        try:
            return self._run(user, notices, tags)
        except Exception as exc:
            logger.exception("unexpected error while telling an owner", extra={"user": user})
            return self._unreachable(notices, f"unexpected {type(exc).__name__}", failed=True)

    def not_started(self, notices: list[owner_notices.Due]) -> _Outcome:
        """The scan's time ran out before this user's turn."""
        return self._unreachable(notices, "not sent: the Lambda's time was nearly up", failed=True)

    def _run(self, user: str, notices: list[owner_notices.Due], tags: Mapping[str, str] | None) -> _Outcome:
        try:
            if tags is None:
                tags = self.iam.user_record(user).tags
                if any(n.checks_mfa for n in notices) and self.iam.has_mfa_device(user):
                    notices = [n for n in notices if not n.checks_mfa]
        except UserNotFoundError:
            return _Outcome()
        except AWS_ERRORS as exc:
            return self._unreachable(notices, f"cannot read the user: {error_text(exc)}", failed=True)
        record = owner_notices.parse_ledger(contacts.tag_value(tags, NOTIFIED_TAG))
        notices = [n for n in notices if record.allows(n)]
        if not notices:
            return _Outcome()
        contact = contacts.of_user(user, tags, self.owners.owner_tag)
        if contact is None:
            return self._unreachable(notices, contacts.why_none(user, tags, self.owners.owner_tag), failed=False)
        outcome, written = _Outcome(), record
        for notice in notices:
            tries = self._deliver(notice, contact)
            if tries.delivered:
                outcome.email += "email" in tries.delivered
                outcome.slack += "slack" in tries.delivered
                written = written.after(notice, self.now)
                logger.info(
                    "owner notice sent", extra={"user": user, "notice": notice.notice.value, "via": tries.delivered}
                )
                continue
            missed = self._unreachable([notice], "; ".join(tries.failures + tries.gaps), failed=bool(tries.failures))
            outcome.without_contact += missed.without_contact
            outcome.failed += missed.failed
            outcome.findings += missed.findings
        if self.settings.mode is Mode.ENFORCE and written != record:
            self._record(user, written)
        return outcome

    def _deliver(self, notice: owner_notices.Due, contact: contacts.Contact) -> _Tries:
        """Each configured channel that can reach the contact, each on its own (one failing never stops the other)."""
        tries = _Tries()
        where = self._account(notice.finding)
        report = self.settings.mode is Mode.REPORT
        email, slack = self.owners.email, self.owners.slack
        if email is None:
            tries.gaps.append("e-mail is not configured")
        elif contact.email is None:
            tries.gaps.append("no e-mail address (the contact is a Slack member id)")
        else:
            message = owner_text.email(notice, where, self.now, report=report)
            tries.attempt("email", notice, lambda: email.send(contact.value, message, self.now))
        if slack is None:
            tries.gaps.append("Slack is not configured")
            return tries
        try:
            member = contact.value if contact.kind is contacts.Kind.SLACK else slack.member(contact.value)
        except ChannelError as exc:
            tries.failed("slack", notice, exc)
            return tries
        if member is None:
            tries.gaps.append("Slack has no member with that e-mail address")
            return tries
        direct = owner_text.slack(notice, where, self.now, report=report)
        tries.attempt("slack", notice, lambda: slack.post(member, direct))
        return tries

    def _account(self, finding: Finding) -> owner_text.Account:
        arn = finding.arn or ""
        partition = arn.split(":")[1] if arn.count(":") >= 5 else "aws"
        return owner_text.account(events.account_of(arn) or "unknown", self.alias.get(), partition)

    def _record(self, user: str, written: owner_notices.Ledger) -> None:
        """The record of what was delivered; a failure is logged (a later run may repeat a grace notice or reminder)."""
        try:
            self.iam.record_notices(user, written.render())
        except (UserNotFoundError, *AWS_ERRORS) as exc:
            logger.warning("owner notice sent but not recorded on the user", extra={"user": user, **_e(exc)})
            observability.dimensioned(FAILURE_METRIC, 1, Channel="owner-record")

    def _unreachable(self, notices: Sequence[owner_notices.Due], why: str, *, failed: bool) -> _Outcome:
        found = [
            Finding(
                type=FindingType.OWNER_UNREACHABLE,
                user=n.finding.user,
                arn=n.finding.arn,
                action=Action.NONE,
                reason=f"could not tell the user about the {_about(n)}: {why}",
                detected_by=self.trigger,
                timestamp=self.now,
                transition=True,
                deadline=n.finding.deadline,
            )
            for n in notices
        ]
        count = len(found)
        return _Outcome(without_contact=0 if failed else count, failed=count if failed else 0, findings=found)


@dataclass
class _Tries:
    """One notice's delivery: the channels that took it, the ones that failed, and the ones that could not apply."""

    delivered: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)

    def attempt(self, channel: str, notice: owner_notices.Due, send: Callable[[], None]) -> None:
        try:
            send()
        except ChannelError as exc:
            self.failed(channel, notice, exc)
        else:
            self.delivered.append(channel)

    def failed(self, channel: str, notice: owner_notices.Due, exc: ChannelError) -> None:
        self.failures.append(f"{'e-mail' if channel == 'email' else 'Slack'} failed: {exc}")
        logger.error(
            "owner notice failed",
            extra={"channel": channel, "user": notice.user, "notice": notice.notice.value, "problem": str(exc)},
        )
        observability.dimensioned(FAILURE_METRIC, 1, Channel=f"owner-{channel}")


def _about(notice: owner_notices.Due) -> str:
    return {
        owner_notices.Notice.GRACE: "grace period",
        owner_notices.Notice.REMINDER: "deadline (reminder)",
        owner_notices.Notice.QUARANTINE: "quarantine",
        owner_notices.Notice.RELEASE: "release",
    }[notice.notice]


def _e(exc: BaseException) -> dict[str, object]:
    return {"error": error_text(exc)}
