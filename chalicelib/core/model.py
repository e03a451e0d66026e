"""The vocabulary every other module speaks: report rows, findings, actions, plans.

Everything here is plain, frozen data so the decision core can be tested without AWS and
so a finding can be logged, published to SNS and rendered for Slack from one shape.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

BOT_TAG_PREFIX = "mfa-enforcer:"
QUARANTINED_AT_TAG = "mfa-enforcer:quarantined-at"
REASON_TAG = "mfa-enforcer:reason"
NOTIFIED_TAG = "mfa-enforcer:notified"  # which owner notices were sent (core.owner_notices.Ledger)
SIGN_IN_IP_TAG = "mfa-enforcer:sign-in-ip"  # the source IP of the sign-in without MFA that caused a quarantine
QUARANTINE_TAG_KEYS = (QUARANTINED_AT_TAG, REASON_TAG, SIGN_IN_IP_TAG)
GRACE_DEADLINE_TAG = "mfa-enforcer:grace-deadline"  # written once; never removed by the bot
QUARANTINE_GROUP = "mfa-enforcer-quarantine"
ROOT_USER = "<root_account>"
# Optional text a finding carries when it has it: what failed, who did it, and what the triggering event said.
EVENT_FIELDS = ("error", "actor", "source_ip", "user_agent", "mfa_serial", "instance", "sign_in_ip")
MAX_FINDINGS_IN_SUMMARY = 500  # keeps the Lambda response small at 5,000 users; transitions are always complete


class Mode(enum.StrEnum):
    """Whether the bot writes to IAM (`enforce`) or only says what it would do (`report`)."""

    ENFORCE = "enforce"
    REPORT = "report"


class Severity(enum.StrEnum):
    """How urgently a person should look; SNS subscribers filter on it."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class FindingType(enum.StrEnum):
    """Every outcome the bot can report; the values are the public names (SNS `type`)."""

    EXEMPT = "exempt"
    EXEMPTION_EXPIRING = "exemption-expiring"
    EXEMPTION_EXPIRED = "exemption-expired"
    PENDING = "pending"
    QUARANTINED = "quarantined"
    STILL_QUARANTINED = "still-quarantined"
    RELEASED = "released"
    API_USER_WITHOUT_MFA = "api-user-without-mfa"
    ROOT_WITHOUT_MFA = "root-without-mfa"
    ROOT_ACCESS_KEYS = "root-access-keys"
    TAMPER = "tamper"
    CONFIG_ERROR = "config-error"
    CANNOT_QUARANTINE = "cannot-quarantine"
    CANNOT_RELEASE = "cannot-release"
    REPORT_ROW_ERROR = "report-row-error"
    SCAN_ERROR = "scan-error"
    SCAN_INCOMPLETE = "scan-incomplete"
    QUARANTINE_POLICY_TAMPERED = "quarantine-policy-tampered"
    EXEMPTED = "exempted"
    ROOT_CREDENTIALS_ABSENT = "root-credentials-absent"
    IDENTITY_CENTER_USER_WITHOUT_MFA = "identity-center-user-without-mfa"
    OWNER_UNREACHABLE = "owner-unreachable"


SEVERITY: dict[FindingType, Severity] = {
    FindingType.EXEMPT: Severity.INFO,
    FindingType.EXEMPTION_EXPIRING: Severity.MEDIUM,
    FindingType.EXEMPTION_EXPIRED: Severity.LOW,
    FindingType.PENDING: Severity.LOW,
    FindingType.QUARANTINED: Severity.HIGH,
    FindingType.STILL_QUARANTINED: Severity.INFO,
    FindingType.RELEASED: Severity.INFO,
    FindingType.API_USER_WITHOUT_MFA: Severity.MEDIUM,
    FindingType.ROOT_WITHOUT_MFA: Severity.CRITICAL,
    FindingType.ROOT_ACCESS_KEYS: Severity.CRITICAL,
    FindingType.TAMPER: Severity.CRITICAL,
    FindingType.CONFIG_ERROR: Severity.CRITICAL,
    FindingType.CANNOT_QUARANTINE: Severity.CRITICAL,
    FindingType.CANNOT_RELEASE: Severity.HIGH,
    FindingType.REPORT_ROW_ERROR: Severity.MEDIUM,
    FindingType.SCAN_ERROR: Severity.CRITICAL,
    FindingType.SCAN_INCOMPLETE: Severity.MEDIUM,
    FindingType.QUARANTINE_POLICY_TAMPERED: Severity.CRITICAL,
    FindingType.EXEMPTED: Severity.MEDIUM,  # high when only a `path` entry matches (Finding.severity_override)
    FindingType.ROOT_CREDENTIALS_ABSENT: Severity.INFO,
    FindingType.IDENTITY_CENTER_USER_WITHOUT_MFA: Severity.HIGH,
    FindingType.OWNER_UNREACHABLE: Severity.LOW,
}


class Action(enum.StrEnum):
    """What the bot did, or in report mode would have done, about a finding."""

    NONE = "none"
    QUARANTINE = "quarantine"
    RELEASE = "release"
    REATTACH = "reattach"
    WOULD_QUARANTINE = "would-quarantine"
    WOULD_RELEASE = "would-release"
    WOULD_REATTACH = "would-reattach"
    RESTORE = "restore"
    WOULD_RESTORE = "would-restore"

    @property
    def is_write(self) -> bool:
        """True for the actions that change IAM; the `would-*` twins never do."""
        return self in (Action.QUARANTINE, Action.RELEASE, Action.REATTACH, Action.RESTORE)


class Trigger(enum.StrEnum):
    """Which entry point produced a finding (SNS `detected_by`)."""

    SCHEDULED_SCAN = "scheduled_scan"
    ON_CONSOLE_LOGIN = "on_console_login"
    ON_IAM_CHANGE = "on_iam_change"
    CLI = "cli"


@dataclass(frozen=True)
class ReportRow:
    """One user row of the IAM credential report, with AWS's string quirks already resolved.

    `password_last_changed` is None where AWS writes `N/A`/`no_information`/`not_supported`.
    """

    user: str
    arn: str
    created: datetime | None
    password_enabled: bool
    password_last_changed: datetime | None
    mfa_active: bool
    access_key_active: bool

    @property
    def is_root(self) -> bool:
        """The root row cannot be quarantined and is judged by its own rules."""
        return self.user == ROOT_USER

    @property
    def path(self) -> str:
        """The IAM path, taken from the ARN (`arn:aws:iam::1:user/team/bob` -> `/team/`)."""
        return user_path(self.arn)


@dataclass(frozen=True)
class Finding:
    """One thing the bot concluded about one user (or the account), in one run.

    `transition` marks what changed since the account's previous state; only transitions are
    alerted on, so steady-state runs stay quiet.
    """

    type: FindingType
    user: str | None
    arn: str | None
    action: Action
    reason: str
    detected_by: Trigger
    timestamp: datetime
    transition: bool
    deadline: datetime | None = None
    expires: datetime | None = None
    error: str | None = None
    actor: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    mfa_serial: str | None = None
    severity_override: Severity | None = None
    instance: str | None = None  # the Identity Center access portal a sign-in went to (its LoginTo, without query)
    sign_in_ip: str | None = None  # a release after a sign-in quarantine: the IP of that sign-in

    @property
    def severity(self) -> Severity:
        """The catalogue's severity for the type (SEVERITY), unless the decision raised it for this one finding."""
        return self.severity_override or SEVERITY[self.type]

    def with_changes(self, **changes: object) -> Finding:
        """A copy with some fields replaced (frozen dataclasses cannot be edited in place)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view used by logs, SNS and the CLI."""
        out: dict[str, object] = {
            "type": self.type.value,
            "severity": self.severity.value,
            "user": self.user,
            "arn": self.arn,
            "action": self.action.value,
            "detected_by": self.detected_by.value,
            "reason": self.reason,
            "timestamp": iso(self.timestamp),
            "transition": self.transition,
        }
        for key in ("deadline", "expires"):
            value = getattr(self, key)
            if value is not None:
                out[key] = iso(value)
        for key in EVENT_FIELDS:
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class Write:
    """An IAM change the shell must make for one user; produced only in enforce mode.

    The report can be hours old in both directions, so a write it prompted is confirmed live
    first: `confirm_no_mfa` before a quarantine, `confirm_mfa` before a release for MFA (a
    release for an exemption needs no device).
    """

    action: Action
    user: str
    reason: str
    finding: Finding
    confirm_no_mfa: bool = True
    confirm_mfa: bool = False


@dataclass(frozen=True)
class Plan:
    """The decision for one run: what to report and what to change, before anything is done."""

    findings: tuple[Finding, ...] = ()
    candidates: tuple[Write, ...] = field(default=())

    @property
    def writes(self) -> tuple[Write, ...]:
        """The candidates that would change IAM (none in report mode)."""
        return tuple(c for c in self.candidates if c.action.is_write)


@dataclass(frozen=True)
class NoticeTally:
    """How the owners of this run's users were told: deliveries per channel, and the notices that reached nobody."""

    email: int = 0
    slack: int = 0
    without_contact: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        """JSON-ready counts."""
        return {
            "email": self.email,
            "slack": self.slack,
            "without_contact": self.without_contact,
            "failed": self.failed,
        }


@dataclass(frozen=True)
class RunResult:
    """What one invocation concluded and did; returned by the Lambda as a JSON summary."""

    trigger: Trigger
    mode: Mode
    findings: tuple[Finding, ...]
    users_scanned: int = 0
    writes: int = 0
    left_for_next_run: int = 0
    duration_ms: int = 0
    account_id: str | None = None
    owner_notices: NoticeTally | None = None  # None: owner notices are not configured

    @property
    def transitions(self) -> tuple[Finding, ...]:
        """The findings that are news: only these are alerted on."""
        return tuple(f for f in self.findings if f.transition)

    def counts(self) -> dict[str, int]:
        """Findings per type."""
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.type.value] = counts.get(finding.type.value, 0) + 1
        return dict(sorted(counts.items()))

    def summary(self) -> dict[str, object]:
        """JSON-able summary: counts for everything, every transition, and the first findings in detail."""
        out: dict[str, object] = {
            "trigger": self.trigger.value,
            "mode": self.mode.value,
            "account_id": self.account_id,
            "users_scanned": self.users_scanned,
            "writes": self.writes,
            "left_for_next_run": self.left_for_next_run,
            "duration_ms": self.duration_ms,
            "counts": self.counts(),
            "transitions": [f.as_dict() for f in self.transitions],
            "findings": [f.as_dict() for f in self.findings[:MAX_FINDINGS_IN_SUMMARY]],
            "findings_omitted": max(0, len(self.findings) - MAX_FINDINGS_IN_SUMMARY),
        }
        if self.owner_notices is not None:
            out["owner_notices"] = self.owner_notices.as_dict()
        return out


def iso(value: datetime) -> str:
    """UTC ISO 8601 with a `Z`, the one timestamp format the bot writes anywhere."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user_path(arn: str) -> str:
    """The IAM path of a user ARN; `/` when the ARN carries none or is not a user ARN."""
    resource = arn.split(":", 5)[-1]
    if not resource.startswith("user/"):
        return "/"
    parent = resource[len("user/") :].rpartition("/")[0]
    return f"/{parent}/" if parent else "/"
