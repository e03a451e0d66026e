"""A run's findings as AWS Security Finding Format (ASFF) records for Security Hub, pure.

Two faults of other tools shape the rules here. Sweeping tools archive findings they did not
write, and tools that report every passing check flood Security Hub. So:

- Only transitions about a user or root become records, and only the types in PROBLEMS.
- Each record's `Id` is stable per account, subject and *problem*: `quarantined`, `tamper`,
  `cannot-quarantine`, `released` and the grace and exemption notices are one problem (a console
  user without MFA), so a later transition updates the same record rather than adding one; the
  `released` update sets `Compliance.Status` PASSED and `RecordState` ARCHIVED, and Security
  Hub resolves the workflow itself. Root's two problems are separate records.
- Records are only ever written under the account's own default product ARN with the bot's
  `Id` prefix: BatchImportFindings cannot touch another product's findings, and the bot never
  calls BatchUpdateFindings or sweeps.

Root problems have no transition that says they ended (root findings repeat once a day while
they stand). On that daily run, a root found without any credentials (`root-credentials-absent`)
closes both root records, as PASSED and ARCHIVED; a record that never existed is then created
already archived, which Security Hub hides from its default views.

Timestamps: `UpdatedAt` and `LastObservedAt` are the instant the run decided (milliseconds, so
two transitions a second apart keep their order: Security Hub ignores an update whose `UpdatedAt`
is older than the stored one). The bot keeps no state outside IAM, so `CreatedAt` and
`FirstObservedAt` are the instant of the transition each record reports.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from chalicelib.core import decide
from chalicelib.core.messages import WORDS
from chalicelib.core.model import ROOT_USER, Finding, FindingType, RunResult, Severity, Trigger

SCHEMA_VERSION = "2018-10-08"
BATCH_SIZE = 100  # BatchImportFindings accepts at most 100 findings per call
TYPE = "Software and Configuration Checks/AWS Security Best Practices"
ID_PREFIX = "mfa-enforcer"
TITLE_CHARS = 256
DESCRIPTION_CHARS = 1024
RECOMMENDATION_CHARS = 512


class Compliance(enum.StrEnum):
    """ASFF Compliance.Status: FAILED while the problem stands, WARNING for an accepted risk, PASSED once it ended."""

    FAILED = "FAILED"
    WARNING = "WARNING"
    PASSED = "PASSED"


class Problem(enum.StrEnum):
    """What one Security Hub record is about; part of its Id."""

    CONSOLE_WITHOUT_MFA = "console-user-without-mfa"
    API_WITHOUT_MFA = "api-user-without-mfa"
    ROOT_WITHOUT_MFA = "root-without-mfa"
    ROOT_ACCESS_KEYS = "root-access-keys"
    IDENTITY_CENTER_WITHOUT_MFA = "identity-center-user-without-mfa"


# Finding type -> (problem, compliance). Types not listed (run errors, config, exemption bookkeeping) are not sent.
PROBLEMS: dict[FindingType, tuple[Problem, Compliance]] = {
    FindingType.PENDING: (Problem.CONSOLE_WITHOUT_MFA, Compliance.FAILED),
    FindingType.QUARANTINED: (Problem.CONSOLE_WITHOUT_MFA, Compliance.FAILED),
    FindingType.STILL_QUARANTINED: (Problem.CONSOLE_WITHOUT_MFA, Compliance.FAILED),
    FindingType.TAMPER: (Problem.CONSOLE_WITHOUT_MFA, Compliance.FAILED),
    FindingType.CANNOT_QUARANTINE: (Problem.CONSOLE_WITHOUT_MFA, Compliance.FAILED),
    FindingType.CANNOT_RELEASE: (Problem.CONSOLE_WITHOUT_MFA, Compliance.FAILED),
    FindingType.EXEMPTED: (Problem.CONSOLE_WITHOUT_MFA, Compliance.WARNING),
    FindingType.EXEMPTION_EXPIRING: (Problem.CONSOLE_WITHOUT_MFA, Compliance.WARNING),
    FindingType.RELEASED: (Problem.CONSOLE_WITHOUT_MFA, Compliance.PASSED),
    FindingType.API_USER_WITHOUT_MFA: (Problem.API_WITHOUT_MFA, Compliance.FAILED),
    FindingType.ROOT_WITHOUT_MFA: (Problem.ROOT_WITHOUT_MFA, Compliance.FAILED),
    FindingType.ROOT_ACCESS_KEYS: (Problem.ROOT_ACCESS_KEYS, Compliance.FAILED),
    FindingType.IDENTITY_CENTER_USER_WITHOUT_MFA: (Problem.IDENTITY_CENTER_WITHOUT_MFA, Compliance.FAILED),
}
LABEL = {
    Severity.INFO: "INFORMATIONAL",
    Severity.LOW: "LOW",
    Severity.MEDIUM: "MEDIUM",
    Severity.HIGH: "HIGH",
    Severity.CRITICAL: "CRITICAL",
}
_IAM_STEPS = (
    "Sign in to the AWS console with the password, open IAM > Security credentials and assign an MFA device "
    "(a passkey, security key or authenticator app). mfa-enforcer lifts the quarantine as soon as the device is "
    "active; then sign in again with MFA."
)
_ROOT_STEPS = (
    "Sign in as the root user and assign an MFA device under Security credentials, and delete any root access "
    "keys; or remove the member account's root credentials centrally (AWS Organizations, centralized root access)."
)
_IDENTITY_CENTER_STEPS = (
    "In IAM Identity Center, Settings > Authentication, require MFA every time users sign in (or prompt them to "
    "register a device), and have this user register an authenticator app or security key."
)
REMEDIATION: dict[Problem, tuple[str, str]] = {
    Problem.CONSOLE_WITHOUT_MFA: (
        _IAM_STEPS,
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable.html",
    ),
    Problem.API_WITHOUT_MFA: (
        "Prefer roles over long-term access keys; assign an MFA device and require it for API calls.",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html",
    ),
    Problem.ROOT_WITHOUT_MFA: (
        _ROOT_STEPS,
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/enable-mfa-for-root.html",
    ),
    Problem.ROOT_ACCESS_KEYS: (
        _ROOT_STEPS,
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user_manage_add-key.html",
    ),
    Problem.IDENTITY_CENTER_WITHOUT_MFA: (
        _IDENTITY_CENTER_STEPS,
        "https://docs.aws.amazon.com/singlesignon/latest/userguide/enable-mfa.html",
    ),
}


@dataclass(frozen=True)
class Target:
    """Where the records go: the account and region of the Security Hub the bot imports into."""

    account: str
    region: str

    @property
    def partition(self) -> str:
        """aws, aws-cn or aws-us-gov, from the region name."""
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    @property
    def product_arn(self) -> str:
        """The account's own default product: the only place a custom integration may import to."""
        return f"arn:{self.partition}:securityhub:{self.region}:{self.account}:product/{self.account}/default"


def records(result: RunResult, target: Target) -> list[dict[str, Any]]:
    """Every ASFF record this run calls for, one per Id (the last transition of a subject and problem wins)."""
    by_id: dict[str, dict[str, Any]] = {}
    for finding in _sendable(result):
        problem, compliance = PROBLEMS[finding.type]
        record = _record(finding, problem, compliance, result.mode.value, target)
        by_id[record["Id"]] = record
    for record in _root_closed(result, target):
        by_id.setdefault(record["Id"], record)
    return list(by_id.values())


def batches(items: Sequence[dict[str, Any]], size: int = BATCH_SIZE) -> list[list[dict[str, Any]]]:
    """Consecutive slices of at most `size` records (one BatchImportFindings call each)."""
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def record_id(target: Target, finding: Finding, problem: Problem) -> str:
    """`mfa-enforcer/ACCOUNT/KIND/NAME/PROBLEM`; names are case-folded (IAM and Identity Center names are
    unique regardless of case) and percent-encoded, so no user name can forge another subject's Id."""
    kind, name = _subject(finding)
    return f"{ID_PREFIX}/{target.account}/{kind}/{quote(name.casefold(), safe='@.+=,_-')}/{problem.value}"


def _sendable(result: RunResult) -> Iterable[Finding]:
    for finding in result.transitions:
        if finding.type in PROBLEMS and finding.user:
            yield finding


def _subject(finding: Finding) -> tuple[str, str]:
    if finding.user == ROOT_USER:
        return "root", "root"
    if finding.type is FindingType.IDENTITY_CENTER_USER_WITHOUT_MFA:
        return "identity-center-user", finding.user or ""
    return "iam-user", finding.user or ""


def _record(finding: Finding, problem: Problem, compliance: Compliance, mode: str, target: Target) -> dict[str, Any]:
    passed = compliance is Compliance.PASSED
    label = "INFORMATIONAL" if passed else LABEL[finding.severity]
    stamp = _timestamp(finding.timestamp)
    kind, name = _subject(finding)
    shown = _printable(name, 128)
    text, url = REMEDIATION[problem]
    return {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": record_id(target, finding, problem),
        "ProductArn": target.product_arn,
        "GeneratorId": f"{ID_PREFIX}/{problem.value}",
        "AwsAccountId": target.account,
        "Region": target.region,
        "Types": [TYPE],
        "CreatedAt": stamp,
        "FirstObservedAt": stamp,
        "UpdatedAt": stamp,
        "LastObservedAt": stamp,
        "Severity": {"Label": label},
        "FindingProviderFields": {"Severity": {"Label": label}, "Types": [TYPE]},
        "Title": _printable(f"{WORDS[finding.type].title}: {shown}", TITLE_CHARS),
        "Description": _printable(finding.reason, DESCRIPTION_CHARS),
        "Remediation": {"Recommendation": {"Text": text[:RECOMMENDATION_CHARS], "Url": url}},
        "ProductFields": {
            "mfa-enforcer/Type": finding.type.value,
            "mfa-enforcer/Mode": mode,
            "mfa-enforcer/Action": finding.action.value,
            "mfa-enforcer/DetectedBy": finding.detected_by.value,
            "mfa-enforcer/Problem": problem.value,
        },
        "Resources": [_resource(finding, kind, name, target)],
        "Compliance": {"Status": compliance.value},
        "RecordState": "ARCHIVED" if passed else "ACTIVE",
    }


def _resource(finding: Finding, kind: str, name: str, target: Target) -> dict[str, Any]:
    common = {"Partition": target.partition, "Region": target.region}
    if kind == "root":
        return {"Type": "AwsAccount", "Id": f"AWS::::Account:{target.account}", **common}
    if kind == "identity-center-user":
        details = {"UserName": _printable(name, 1024)}
        if finding.instance:
            details["AccessPortal"] = finding.instance
        return {
            "Type": "Other",
            "Id": f"identity-center-user/{quote(name.casefold(), safe='@.+=,_-')}",
            "Details": {"Other": details},
            **common,
        }
    arn = finding.arn or f"arn:{target.partition}:iam::{target.account}:user/{name}"
    path = arn.split(":user", 1)[-1].rpartition("/")[0] + "/" if ":user/" in arn else "/"
    return {"Type": "AwsIamUser", "Id": arn, "Details": {"AwsIamUser": {"UserName": name, "Path": path}}, **common}


def _root_closed(result: RunResult, target: Target) -> list[dict[str, Any]]:
    """On the daily scan, a root without credentials closes both root records (see the module docstring)."""
    absent = next((f for f in result.findings if f.type is FindingType.ROOT_CREDENTIALS_ABSENT), None)
    if absent is None or result.trigger is not Trigger.SCHEDULED_SCAN:
        return []
    if not decide.daily_due(absent.timestamp, decide.SCAN_INTERVAL):
        return []
    closed = []
    for kind, problem in (
        (FindingType.ROOT_WITHOUT_MFA, Problem.ROOT_WITHOUT_MFA),
        (FindingType.ROOT_ACCESS_KEYS, Problem.ROOT_ACCESS_KEYS),
    ):
        record = _record(absent, problem, Compliance.PASSED, result.mode.value, target)
        record["Title"] = _printable(f"{WORDS[kind].title}: no longer (centrally managed root)", TITLE_CHARS)
        closed.append(record)
    return closed


def _timestamp(value: datetime) -> str:
    """ISO 8601 UTC with milliseconds, as Security Hub orders updates by UpdatedAt."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _printable(text: str, limit: int) -> str:
    """Account text without control or format characters (a name cannot break a console or a ticket), clipped."""
    clean = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
