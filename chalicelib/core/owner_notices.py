"""When the person behind an IAM user is told, and the record on the user that keeps it to once.

Four notices (design.md part 2, "Owner notices"), each defined by a finding and the time:

| notice     | due when                                                                      | paths          |
| grace      | a `pending` finding is a transition (grace just started, or first seen)       | scan, events   |
| reminder   | `deadline - h` for an h of MFA_ENFORCER_REMINDER_HOURS falls in this scan's window | scan     |
| quarantine | a `quarantined` finding whose quarantine this run made                        | scan, events   |
| release    | a `released` finding whose release this run made                              | scan, events   |

Everything is decided from the run's findings and `now`, without reading the user, so the
steady-state scan makes no extra call: only users with a notice due are read (their tags: the
contact and the record below). A reminder that falls at or before the grace notice is folded into
it, and reminders that fall in one window are sent as one.

In enforce mode what was sent is recorded on the user, in the tag `mfa-enforcer:notified`:

    v1 deadline=2026-11-24T12:00:00Z grace reminders=72/24 quarantine=2026-11-23T09:00:04Z release=...

The grace notice and the reminders are recorded against the deadline they were about, and only a
record for that same deadline (to the second) stops them; that is what keeps a rerun, a Lambda
retry, or the next sign-in of a user still in grace from sending them again. The quarantine and
release notices are not gated by the record at all: each quarantine and each release is one
transition already (the role's claim on `quarantined-at`, and the detach that only one writer
wins), so the record only documents them, and no value anyone writes into the tag can hold them
back. The value is parsed strictly: anything that is not exactly this format counts as no record
(the notices due are sent, and the value is rewritten in the bot's format, so it cannot make the
bot repeat itself either). What a value can still do is claim the grace notice and the reminders
for the user's real deadline: whoever may tag the user can silence those two warnings for them,
never the quarantine or release notices.

Report mode writes nothing, so its notices are defined by time alone and sent by the scheduled
scan only: the grace notice at the scan that first sees the user pending, reminders at their
instants, and the quarantine notice ("would be restricted") at the scan whose hour the deadline
passed in. Real-time events send nothing in report mode (every sign-in would repeat them), and
there is no release notice (nothing was released).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from chalicelib.core.model import Action, Finding, FindingType, Mode, Trigger, iso

MAX_TAG_VALUE = 256  # IAM's limit for a tag value
REMINDER_OVERLAP = timedelta(minutes=10)  # scans drift by seconds; a reminder between two windows is not lost

_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
_HOURS = r"\d{1,5}(?:\.\d{1,6})?"
_LEDGER = re.compile(
    rf"v1"
    rf"(?: deadline=(?P<deadline>{_TIME})(?P<grace> grace)?(?: reminders=(?P<reminders>{_HOURS}(?:/{_HOURS})*))?)?"
    rf"(?: quarantine=(?P<quarantine>{_TIME}))?"
    rf"(?: release=(?P<release>{_TIME}))?"
)


class Notice(enum.StrEnum):
    """The four things a user is told; the values appear in logs and in the `owner-unreachable` reason."""

    GRACE = "grace"
    REMINDER = "reminder"
    QUARANTINE = "quarantine"
    RELEASE = "release"


@dataclass(frozen=True)
class NoticePolicy:
    """The deployment's knobs for owner notices (config.OwnerNotices, the mode, the scan interval)."""

    mode: Mode
    reminder_hours: tuple[float, ...]
    interval: timedelta
    in_report_mode: bool = False

    def active(self, trigger: Trigger) -> bool:
        """Enforce: every path. Report: only when switched on, and only the scheduled scan (see the module doc)."""
        if self.mode is Mode.ENFORCE:
            return True
        return self.in_report_mode and trigger is Trigger.SCHEDULED_SCAN


@dataclass(frozen=True)
class Due:
    """One notice this run calls for, before anyone is read: what, about which finding.

    `hours` is the reminder's (the hours before the deadline it stands for); `covers` the reminder
    hours this notice accounts for when it is sent: every reminder whose instant is already past.
    """

    notice: Notice
    finding: Finding
    hours: float | None = None
    covers: frozenset[float] = frozenset()

    @property
    def user(self) -> str:
        """The IAM user to tell (findings without a user never produce a notice)."""
        return self.finding.user or ""

    @property
    def checks_mfa(self) -> bool:
        """Grace and reminders are skipped for a user who has MFA by then (the report may be hours old)."""
        return self.notice in (Notice.GRACE, Notice.REMINDER)


def due(findings: Iterable[Finding], now: datetime, policy: NoticePolicy, trigger: Trigger) -> tuple[Due, ...]:
    """The notices these findings call for at `now`, decided from the findings alone (no reads)."""
    if not policy.active(trigger):
        return ()
    found = (_due(f, now, policy, trigger) for f in findings if f.user and f.arn)
    return tuple(d for d in found if d is not None)


def _due(finding: Finding, now: datetime, policy: NoticePolicy, trigger: Trigger) -> Due | None:
    enforce = policy.mode is Mode.ENFORCE
    if finding.type is FindingType.PENDING and finding.deadline is not None:
        return _grace_or_reminder(finding, finding.deadline, now, policy, trigger)
    if finding.type is FindingType.QUARANTINED and finding.transition:
        if enforce and finding.action is Action.QUARANTINE:
            return Due(Notice.QUARANTINE, finding)
        deadline = finding.deadline
        if not enforce and finding.action is Action.WOULD_QUARANTINE and deadline is not None:
            return Due(Notice.QUARANTINE, finding) if now - policy.interval < deadline <= now else None
        return None
    if finding.type is FindingType.RELEASED and finding.transition and finding.action is Action.RELEASE:
        return Due(Notice.RELEASE, finding)
    return None


def _grace_or_reminder(
    finding: Finding, deadline: datetime, now: datetime, policy: NoticePolicy, trigger: Trigger
) -> Due | None:
    """Grace when the pending finding is news; else, on the scan, the reminders whose instant is in its window."""
    instants = {hours: _before(deadline, hours) for hours in policy.reminder_hours}
    passed = frozenset(h for h, at in instants.items() if at <= now)
    if finding.transition:
        return Due(Notice.GRACE, finding, covers=passed)
    if trigger is not Trigger.SCHEDULED_SCAN:
        return None
    overlap = REMINDER_OVERLAP if policy.mode is Mode.ENFORCE else timedelta(0)  # report has no record to dedupe
    start = now - policy.interval - overlap
    in_window = [h for h, at in instants.items() if start < at <= now]
    if not in_window:
        return None
    return Due(Notice.REMINDER, finding, hours=min(in_window), covers=passed)


def _before(deadline: datetime, hours: float) -> datetime:
    try:
        return deadline - timedelta(hours=hours)
    except OverflowError:
        return datetime.min.replace(tzinfo=deadline.tzinfo)


# --------------------------------------------------------------------------------------- the record


@dataclass(frozen=True)
class Ledger:
    """What the tag `mfa-enforcer:notified` says was sent; `readable` is False for a value not in the bot's format."""

    deadline: datetime | None = None
    grace: bool = False
    reminders: frozenset[float] = frozenset()
    quarantine: datetime | None = None
    release: datetime | None = None
    readable: bool = True

    def allows(self, notice: Due) -> bool:
        """Whether the record leaves `notice` to be sent (see the module docstring for why only two kinds are gated)."""
        if notice.notice is Notice.GRACE:
            return not (self._same_deadline(notice) and self.grace)
        if notice.notice is Notice.REMINDER:
            return not (self._same_deadline(notice) and notice.hours in self.reminders)
        return True

    def after(self, notice: Due, now: datetime) -> Ledger:
        """The record once `notice` has been delivered at `now`."""
        if notice.notice is Notice.QUARANTINE:
            return replace(self, quarantine=_second(now), readable=True)
        if notice.notice is Notice.RELEASE:
            return replace(self, release=_second(now), readable=True)
        base = self if self._same_deadline(notice) else replace(self, grace=False, reminders=frozenset())
        reminders = base.reminders | notice.covers | ({notice.hours} if notice.hours is not None else set())
        return replace(
            base,
            deadline=_second(notice.finding.deadline) if notice.finding.deadline else None,
            grace=base.grace or notice.notice is Notice.GRACE,
            reminders=frozenset(reminders),
            readable=True,
        )

    def render(self) -> str:
        """The tag value, in the one format `parse_ledger` accepts (IAM tag-value characters only)."""
        parts = ["v1"]
        if self.deadline is not None:
            parts.append(f"deadline={iso(self.deadline)}")
            if self.grace:
                parts.append("grace")
            if self.reminders:
                parts.append("reminders=" + "/".join(hours_text(h) for h in sorted(self.reminders, reverse=True)))
        if self.quarantine is not None:
            parts.append(f"quarantine={iso(self.quarantine)}")
        if self.release is not None:
            parts.append(f"release={iso(self.release)}")
        return " ".join(parts)

    def _same_deadline(self, notice: Due) -> bool:
        deadline = notice.finding.deadline
        return self.deadline is not None and deadline is not None and self.deadline == _second(deadline)


def parse_ledger(value: str | None) -> Ledger:
    """The record a tag value holds; no tag is an empty record, and so is anything not exactly in the format."""
    if value is None:
        return Ledger()
    match = _LEDGER.fullmatch(value) if len(value) <= MAX_TAG_VALUE else None
    if match is None:
        return Ledger(readable=False)
    try:
        times = {key: _time(match[key]) for key in ("deadline", "quarantine", "release")}
        reminders = frozenset(float(h) for h in match["reminders"].split("/")) if match["reminders"] else frozenset()
    except ValueError:
        return Ledger(readable=False)
    return Ledger(
        deadline=times["deadline"],
        grace=match["grace"] is not None,
        reminders=reminders,
        quarantine=times["quarantine"],
        release=times["release"],
    )


def hours_text(hours: float) -> str:
    """Hours as the record writes them: plain decimals, never an exponent (config rounds them to 6 places)."""
    return f"{hours:.6f}".rstrip("0").rstrip(".")


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _second(value: datetime) -> datetime:
    """Instants as the tag holds them: UTC, whole seconds (so a parsed record equals the one written)."""
    return value.astimezone(UTC).replace(microsecond=0)
