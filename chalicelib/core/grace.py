"""Grace that only an operator can extend: when each user's grace period ends, fixed once.

The rule, the same on every path (the scan, a sign-in, an IAM change):

- A user's deadline is their IAM creation time plus the grace period (`floor`). IAM never changes
  a user's creation time, so nothing the user does moves it: not a password change, not deleting
  and re-creating their login profile, not removing the bot's tags.
- One exception gives a fair grace to an older user who is given a console password later (an
  API-only user, say): when someone other than the user creates the login profile more than
  GRANT_AFTER after the user was created, `on_iam_change` records the deadline "that moment plus
  the grace period" on the user, in the tag `mfa-enforcer:grace-deadline`, in enforce mode. The
  execution role may write that tag only while the user does not carry it, so a recorded
  deadline is never moved, and the bot never removes it.
- A recorded deadline is a claim, not proof: it counts only up to the age of the current console
  password (the login profile's creation plus the grace period, plus SKEW for clocks), only when
  that password came well after the user (more than SKEW), and never makes the deadline earlier
  than the floor. A tag set by hand to a far date therefore gains nothing over what the
  password's own age allows, and a removed tag falls back to the floor, which is never later than
  the tag it replaces.
- A missed CreateLoginProfile event (EventBridge is best effort) records nothing: that user gets
  the floor, which for an old user means a quarantine at the next check (the quarantine still lets
  them enrol MFA, and enrolling releases them). More time is granted only by an operator, through
  an exemption with an expiry.

Everything here is pure: the shell reads the tag (GetUser) and the login profile (GetLoginProfile)
only when the answer depends on them: the scan only for users whose password came well after them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

GRANT_AFTER = timedelta(hours=1)  # a password given this long after creation earns its own grace
SKEW = timedelta(minutes=5)  # an event's time against the login profile's CreateDate, and clocks


@dataclass(frozen=True)
class Deadline:
    """When grace ends, and a note when a recorded deadline was not taken at its word."""

    at: datetime
    note: str | None = None


def later(start: datetime, delta: timedelta) -> datetime:
    """start + delta, saturating at the last representable instant (a report row dated year 9999)."""
    try:
        return start + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=start.tzinfo)


def floor(created: datetime, grace: timedelta) -> datetime:
    """The deadline no user action can move: IAM creation time plus the grace period."""
    return later(created, grace)


def recorded(tag: str | None) -> datetime | None:
    """The instant a `grace-deadline` tag names; None when absent, unreadable or without a time zone."""
    if tag is None:
        return None
    try:
        at = datetime.fromisoformat(tag)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def deadline(created: datetime, grace: timedelta, tag: str | None, profile_created: datetime | None) -> Deadline:
    """The user's deadline: the floor, or a recorded later one within what the password's age allows."""
    base = floor(created, grace)
    if tag is None:
        return Deadline(base)
    at = recorded(tag)
    if at is None:
        return Deadline(base, f"its grace-deadline tag {tag[:40]!r} is not a timestamp and was ignored")
    if profile_created is None:
        return Deadline(base, "its grace-deadline tag was ignored: the user has no console password")
    if not given_later(created, profile_created):
        return Deadline(base, "its grace-deadline tag was ignored: the console password came with the user")
    cap = later(profile_created, grace + SKEW)
    if at > cap:
        return Deadline(
            max(base, cap), f"its grace-deadline tag {tag[:40]} asks for more than the console password's age allows"
        )
    return Deadline(max(base, at))


def earns_grant(created: datetime, password_given: datetime) -> bool:
    """Whether a console password given at `password_given` earns its own grace (it came well after creation)."""
    return password_given - created >= GRANT_AFTER


def given_later(created: datetime, password_set: datetime) -> bool:
    """Whether a console password was set well after the user was created (more than SKEW): only then
    can a recorded deadline count (a password that came with the user gets the floor)."""
    return password_set - created > SKEW


def may_extend(created: datetime, password_set: datetime | None) -> bool:
    """Whether a recorded deadline could change the answer for this user, so the scan must read it.

    Only when the password was set well after the user (the credential report's
    `password_last_changed`, which is never earlier than the login profile's creation, shows it
    without a call). Users whose password came with them, most users, cost the scan nothing.
    """
    return password_set is not None and given_later(created, password_set)
