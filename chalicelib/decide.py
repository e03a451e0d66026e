"""What happens to a user without MFA: the decision table of design.md, as pure functions.

Nothing here talks to AWS or reads a clock. The shell gathers facts (report rows, exemptions,
who is quarantined now, the time), these functions return a Plan, and the shell carries it out.

The table, for one user at time `now`:

| user state                              | exempt? | in grace? | action                  | finding            |
| console password, no MFA                | yes     | -         | none                    | exempt (+expiring) |
| console password, no MFA                | no      | yes       | none                    | pending + deadline |
| console password, no MFA                | no      | no        | quarantine + tags       | quarantined        |
| MFA active (or now exempt), quarantined | -       | -         | release                 | released           |
| no console password, access key, no MFA | -       | -         | none                    | api-user-without-mfa |
| root without MFA / with access keys     | -       | -         | none (never a target)   | root-*, critical   |

A user who is already quarantined and still lacks MFA stays quarantined (`still-quarantined`,
no alert) even if a password change restarted their grace clock: only MFA or an exemption
releases a user.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.credential_report import CredentialReport, RowError
from chalicelib.exemptions import EXPIRING_WINDOW, Exemptions
from chalicelib.model import (
    Action,
    Finding,
    FindingType,
    Mode,
    Plan,
    ReportRow,
    Trigger,
    Write,
    iso,
    user_path,
)

SCAN_INTERVAL = timedelta(hours=1)


@dataclass(frozen=True)
class Policy:
    """The knobs of the decision that come from deployment settings."""

    mode: Mode
    grace: timedelta
    interval: timedelta = SCAN_INTERVAL


@dataclass(frozen=True)
class UserFacts:
    """What the decision needs to know about one IAM user, from the report or from live calls."""

    user: str
    arn: str
    console: bool
    mfa: bool
    access_key: bool
    grace_start: datetime | None
    quarantined: bool
    groups: frozenset[str] = frozenset()

    @classmethod
    def from_row(cls, row: ReportRow, *, quarantined: bool, groups: Iterable[str] = ()) -> UserFacts:
        """Grace runs from the later of user creation and the last password change."""
        starts = [t for t in (row.created, row.password_last_changed) if t is not None]
        return cls(
            user=row.user,
            arn=row.arn,
            console=row.password_enabled,
            mfa=row.mfa_active,
            access_key=row.access_key_active,
            grace_start=max(starts) if starts else None,
            quarantined=quarantined,
            groups=frozenset(groups),
        )

    @property
    def path(self) -> str:
        """IAM path from the ARN, for `path` exemptions."""
        return user_path(self.arn)


def daily_due(now: datetime, interval: timedelta = SCAN_INTERVAL) -> bool:
    """True for the one scheduled run per UTC day that repeats standing problems (root, bad rows)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return now - midnight < interval


def evaluate(
    facts: UserFacts,
    exemptions: Exemptions | None,
    now: datetime,
    policy: Policy,
    trigger: Trigger,
) -> tuple[tuple[Finding, ...], Write | None]:
    """Apply the decision table to one user.

    `exemptions=None` means the document could not be read or was invalid: fail safe, so nobody
    is quarantined (the caller reports the config error) while MFA-based releases still happen.
    """
    make = _Maker(facts, now, trigger)
    exempt = exemptions.match(facts.user, facts.path, facts.groups, now) if exemptions is not None else None

    if facts.quarantined:
        if facts.mfa:
            return _release(make, policy, "MFA device enrolled")
        if exempt is not None:
            return _release(make, policy, f"exempted by {exempt.describe()}: {exempt.reason}")
        return (make(FindingType.STILL_QUARANTINED, Action.NONE, "still without MFA", transition=False),), None

    if facts.mfa:
        return (), None
    if not facts.console:
        if facts.access_key:
            reason = "access keys but no MFA; API calls are not protected by MFA"
            return (make(FindingType.API_USER_WITHOUT_MFA, Action.NONE, reason, transition=False),), None
        return (), None

    if exempt is not None:
        why = f"exempted by {exempt.describe()}: {exempt.reason}"
        found = [make(FindingType.EXEMPT, Action.NONE, why, transition=False, expires=exempt.expires)]
        if exempt.expiring(now) and exempt.expires is not None:
            warning_starts = exempt.expires - EXPIRING_WINDOW
            entered = trigger is Trigger.SCHEDULED_SCAN and now - policy.interval < warning_starts <= now
            reason = f"exemption ({exempt.describe()}) ends {iso(exempt.expires)}"
            found.append(
                make(FindingType.EXEMPTION_EXPIRING, Action.NONE, reason, transition=entered, expires=exempt.expires)
            )
        return tuple(found), None

    if exemptions is None:
        return (), None

    deadline = facts.grace_start + policy.grace if facts.grace_start is not None else now
    if now < deadline:
        started = facts.grace_start if facts.grace_start is not None else now
        new = trigger is not Trigger.SCHEDULED_SCAN or started > now - policy.interval
        reason = f"console access without MFA; grace ends {iso(deadline)}"
        return (make(FindingType.PENDING, Action.NONE, reason, transition=new, deadline=deadline),), None

    action = Action.QUARANTINE if policy.mode is Mode.ENFORCE else Action.WOULD_QUARANTINE
    reason = f"console password without MFA; grace ended {iso(deadline)}"
    finding = make(FindingType.QUARANTINED, action, reason, transition=True, deadline=deadline)
    return (finding,), Write(action=action, user=facts.user, reason=reason, finding=finding)


def scan(
    report: CredentialReport,
    exemptions: Exemptions | None,
    group_members: Mapping[str, frozenset[str]],
    quarantined: frozenset[str],
    now: datetime,
    policy: Policy,
) -> Plan:
    """Decide for a whole credential report: findings for every row, writes for those that change."""
    groups_of: dict[str, set[str]] = {}
    for group, members in group_members.items():
        for member in members:
            groups_of.setdefault(member, set()).add(group)

    findings: list[Finding] = []
    candidates: list[Write] = []
    daily = daily_due(now, policy.interval)
    for row in report.rows:
        if row.is_root:
            findings.extend(root(row, now, Trigger.SCHEDULED_SCAN, transition=daily))
            continue
        facts = UserFacts.from_row(row, quarantined=row.user in quarantined, groups=groups_of.get(row.user, ()))
        found, write = evaluate(facts, exemptions, now, policy, Trigger.SCHEDULED_SCAN)
        findings.extend(found)
        if write is not None:
            candidates.append(write)
    findings.extend(_row_errors(report.errors, now, transition=daily))
    if exemptions is not None:
        findings.extend(_expired(exemptions, now, policy))
    return Plan(findings=tuple(findings), candidates=tuple(candidates))


def root(row: ReportRow, now: datetime, trigger: Trigger, *, transition: bool) -> tuple[Finding, ...]:
    """Root is reported, never a write target: it cannot be quarantined by an IAM policy."""
    make = _Maker(UserFacts(row.user, row.arn, True, row.mfa_active, row.access_key_active, None, False), now, trigger)
    found = []
    if not row.mfa_active:
        found.append(
            make(FindingType.ROOT_WITHOUT_MFA, Action.NONE, "the root user has no MFA device", transition=transition)
        )
    if row.access_key_active:
        found.append(
            make(
                FindingType.ROOT_ACCESS_KEYS, Action.NONE, "the root user has active access keys", transition=transition
            )
        )
    return tuple(found)


def config_error(problem: str, now: datetime, trigger: Trigger) -> Finding:
    """The run could not trust its configuration, so it quarantined nobody."""
    return Finding(
        type=FindingType.CONFIG_ERROR,
        user=None,
        arn=None,
        action=Action.NONE,
        reason=f"exemptions unusable, nobody quarantined this run: {problem}",
        detected_by=trigger,
        timestamp=now,
        transition=True,
    )


def _release(make: _Maker, policy: Policy, why: str) -> tuple[tuple[Finding, ...], Write]:
    action = Action.RELEASE if policy.mode is Mode.ENFORCE else Action.WOULD_RELEASE
    finding = make(FindingType.RELEASED, action, why, transition=True)
    return (finding,), Write(action=action, user=finding.user or "", reason=why, finding=finding, confirm_no_mfa=False)


def _row_errors(errors: Iterable[RowError], now: datetime, *, transition: bool) -> list[Finding]:
    return [
        Finding(
            type=FindingType.REPORT_ROW_ERROR,
            user=e.user,
            arn=None,
            action=Action.NONE,
            reason=f"credential report line {e.line} skipped: {e.problem}",
            detected_by=Trigger.SCHEDULED_SCAN,
            timestamp=now,
            transition=transition,
        )
        for e in errors
    ]


def _expired(exemptions: Exemptions, now: datetime, policy: Policy) -> list[Finding]:
    return [
        Finding(
            type=FindingType.EXEMPTION_EXPIRED,
            user=e.value if e.selector == "user" else None,
            arn=None,
            action=Action.NONE,
            reason=f"exemptions[{e.index}] ({e.describe()}) expired {iso(e.expires)} and no longer applies"
            if e.expires
            else "expired",
            detected_by=Trigger.SCHEDULED_SCAN,
            timestamp=now,
            transition=e.expires is not None and e.expires > now - policy.interval,
            expires=e.expires,
        )
        for e in exemptions.expired(now)
    ]


class _Maker:
    """Builds findings for one user so each branch of the table reads as one line."""

    def __init__(self, facts: UserFacts, now: datetime, trigger: Trigger) -> None:
        self.facts, self.now, self.trigger = facts, now, trigger

    def __call__(
        self, kind: FindingType, action: Action, reason: str, *, transition: bool, **extra: datetime | None
    ) -> Finding:
        return Finding(
            type=kind,
            user=self.facts.user,
            arn=self.facts.arn,
            action=action,
            reason=reason,
            detected_by=self.trigger,
            timestamp=self.now,
            transition=transition,
            **extra,  # type: ignore[arg-type]
        )
