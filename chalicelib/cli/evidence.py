"""The audit evidence as plain data, and the pure assembly of it from facts the CLI gathered.

An auditor asks: does every console user have MFA, and is every exception justified and bounded?
This module answers from the credential report, the quarantine state, the users' tags and the
exemptions document, without calling AWS, so the renderers and their tests need no moto.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from chalicelib.adapters.iam_gateway import QuarantineSnapshot
from chalicelib.core import root as root_account
from chalicelib.core.credential_report import CredentialReport
from chalicelib.core.exemptions import Exemption, Exemptions
from chalicelib.core.model import QUARANTINED_AT_TAG, ReportRow, iso


class Standing(enum.StrEnum):
    """Where a console user stands, the one label the summary chart and the table share."""

    MFA = "mfa"  # protected
    EXEMPT = "exempt"  # no MFA, covered by an active exemption
    QUARANTINED = "quarantined"  # no MFA, contained by the quarantine policy
    EXPOSED = "exposed"  # no MFA, neither exempt nor quarantined (in grace, or the bot has not run)


STANDING_LABEL = {
    Standing.MFA: "MFA",
    Standing.EXEMPT: "No MFA, exempt",
    Standing.QUARANTINED: "No MFA, quarantined",
    Standing.EXPOSED: "No MFA, not contained",
}


@dataclass(frozen=True)
class ExemptionEvidence:
    """The exemption entry that covers a user, with its state at report time."""

    index: int
    selector: str
    value: str
    reason: str
    approved_by: str | None
    expires: datetime | None  # first instant it no longer applies
    expires_text: str | None  # as the admin wrote it (`2027-06-30` means through that day)
    status: str  # active | expiring | expired

    @classmethod
    def of(cls, entry: Exemption, now: datetime) -> ExemptionEvidence:
        """Status follows the Lambda: expiring = active and ending within EXPIRING_WINDOW."""
        status = "expired" if not entry.active(now) else "expiring" if entry.expiring(now) else "active"
        return cls(
            index=entry.index,
            selector=entry.selector,
            value=entry.value,
            reason=entry.reason,
            approved_by=entry.approved_by,
            expires=entry.expires,
            expires_text=entry.expires_text,
            status=status,
        )

    @property
    def label(self) -> str:
        """`user bob`, `path /service/`, `group vendors`."""
        return f"{self.selector} {self.value}"


@dataclass(frozen=True)
class UserEvidence:
    """One console user's row of evidence."""

    user: str
    arn: str
    created: datetime | None
    mfa: bool
    quarantined: bool
    quarantined_via: str | None  # policy | group | tags
    quarantined_since: str | None  # the tag value, ISO 8601 UTC as the bot writes it
    exemption: ExemptionEvidence | None

    @property
    def standing(self) -> Standing:
        """MFA wins; then an active exemption; then quarantine; otherwise exposed."""
        if self.mfa:
            return Standing.MFA
        if self.exemption is not None and self.exemption.status != "expired":
            return Standing.EXEMPT
        if self.quarantined:
            return Standing.QUARANTINED
        return Standing.EXPOSED


@dataclass(frozen=True)
class RootEvidence:
    """What root holds, as the Lambda judges it (core/root.py); None fields when unknown.

    `present` is False when the report had no root row (moto, or no access). `source` says whether
    the live GetAccountSummary or the credential report decided, and `note` why it was the report.
    """

    present: bool
    mfa: bool | None = None
    access_keys: bool | None = None
    password: bool | None = None
    certificates: bool | None = None
    source: str | None = None
    note: str | None = None

    @property
    def credentials_absent(self) -> bool:
        """No password, no access keys, no signing certificates: a centrally managed root."""
        return self.present and self.password is False and self.access_keys is False and self.certificates is False

    @property
    def label(self) -> str:
        """One line an auditor can read."""
        if not self.present:
            return "unknown: the credential report has no <root_account> row"
        if self.credentials_absent:
            return "no credentials: no password, access keys or signing certificates (centrally managed root)"
        parts = []
        if self.password is not None:
            parts.append("console password" if self.password else "no console password")
        parts.append("MFA enabled" if self.mfa else "NO MFA")
        keys = "access keys" if self.source == root_account.Source.ACCOUNT_SUMMARY else "active access keys"
        parts.append(keys if self.access_keys else "no access keys")
        if self.certificates:
            parts.append("signing certificates")
        return ", ".join(parts) + (f" ({self.note})" if self.note else "")

    @property
    def ok(self) -> bool | None:
        """True when root has no credentials, or has MFA and no access keys; None when unknown."""
        if not self.present:
            return None
        if self.credentials_absent:
            return True
        return (bool(self.mfa) or self.password is False) and not self.access_keys and not self.certificates

    @classmethod
    def of(cls, row: ReportRow | None, summary: root_account.Summary | None) -> RootEvidence:
        """The evidence for the report's root row under the same rule the Lambda decides by."""
        if row is None:
            return cls(present=False)
        held = root_account.state(row, summary)
        return cls(
            present=True,
            mfa=held.mfa,
            access_keys=held.access_keys,
            password=held.password,
            certificates=held.certificates,
            source=held.source.value,
            note=held.note,
        )


@dataclass(frozen=True)
class Summary:
    """Counts over console users; coverage is None when there are none (nothing to divide)."""

    console_users: int
    by_standing: Mapping[Standing, int]

    @property
    def with_mfa(self) -> int:
        """Console users with MFA."""
        return self.by_standing.get(Standing.MFA, 0)

    @property
    def without_mfa(self) -> int:
        """Console users without MFA, whatever their standing."""
        return self.console_users - self.with_mfa

    @property
    def coverage(self) -> float | None:
        """Share of console users with MFA, 0..1."""
        return None if self.console_users == 0 else self.with_mfa / self.console_users

    def coverage_text(self) -> str:
        """`87.5%`, or `n/a` without console users; floors, so 99.9% never shows as 100%."""
        if self.coverage is None:
            return "n/a"
        tenths = int(self.coverage * 1000)
        return f"{tenths / 10:.1f}%"


@dataclass(frozen=True)
class AuditReport:
    """Everything the csv/json/html renderers print."""

    account_id: str
    generated_at: datetime
    report_generated_at: datetime | None
    exemptions_parameter: str
    exemptions_version: int | None
    quarantine_source: str  # policy (ARN given) | tags (no ARN: status from tags only)
    root: RootEvidence
    users: tuple[UserEvidence, ...]
    warnings: tuple[str, ...] = ()

    @property
    def summary(self) -> Summary:
        """Counts by standing."""
        counts: dict[Standing, int] = dict.fromkeys(Standing, 0)
        for user in self.users:
            counts[user.standing] += 1
        return Summary(console_users=len(self.users), by_standing=counts)

    def header(self) -> dict[str, object]:
        """The report's metadata, shared by the JSON document and the HTML heading."""
        return {
            "account_id": self.account_id,
            "generated_at": iso(self.generated_at),
            "credential_report_generated_at": iso(self.report_generated_at) if self.report_generated_at else None,
            "exemptions_parameter": self.exemptions_parameter,
            "exemptions_version": self.exemptions_version,
            "quarantine_source": self.quarantine_source,
        }


def exemption_for(
    row: ReportRow, document: Exemptions | None, groups: Iterable[str], now: datetime
) -> ExemptionEvidence | None:
    """The active entry covering the user (as the Lambda matches), else the first expired one that would."""
    if document is None:
        return None
    active = document.match(row.user, row.path, groups, now)
    if active is not None:
        return ExemptionEvidence.of(active, now)
    group_list = tuple(groups)
    for entry in document.expired(now):
        if entry.covers(row.user, row.path, group_list):
            return ExemptionEvidence.of(entry, now)
    return None


def assemble(
    *,
    account_id: str,
    now: datetime,
    report: CredentialReport,
    report_generated_at: datetime | None,
    mfa_confirmed: frozenset[str],
    snapshot: QuarantineSnapshot | None,
    tags: Mapping[str, Mapping[str, str]],
    document: Exemptions | None,
    group_members: Mapping[str, frozenset[str]],
    exemptions_parameter: str,
    exemptions_version: int | None,
    warnings: Iterable[str] = (),
    root_summary: root_account.Summary | None = None,
) -> AuditReport:
    """Build the evidence for every console user in the report.

    `mfa_confirmed` holds users the report showed without MFA but ListMFADevices showed with a
    device (the report can be four hours old). Without a `snapshot` (no policy ARN given), the
    quarantine status comes from the bot's tag alone.
    """
    groups_of: dict[str, set[str]] = {}
    for group, members in group_members.items():
        for member in members:
            groups_of.setdefault(member, set()).add(group)
    users = []
    for row in sorted(report.users, key=lambda r: r.user.lower()):
        if not row.password_enabled:
            continue
        user_tags = tags.get(row.user, {})
        since = user_tags.get(QUARANTINED_AT_TAG)
        if snapshot is not None:
            via = "policy" if row.user in snapshot.direct else "group" if row.user in snapshot.via_group else None
        else:
            via = "tags" if since is not None else None
        users.append(
            UserEvidence(
                user=row.user,
                arn=row.arn,
                created=row.created,
                mfa=row.mfa_active or row.user in mfa_confirmed,
                quarantined=via is not None,
                quarantined_via=via,
                quarantined_since=since if via is not None else None,
                exemption=exemption_for(row, document, groups_of.get(row.user, ()), now),
            )
        )
    root = RootEvidence.of(report.root, root_summary)
    return AuditReport(
        account_id=account_id,
        generated_at=now,
        report_generated_at=report_generated_at,
        exemptions_parameter=exemptions_parameter,
        exemptions_version=exemptions_version,
        quarantine_source="policy" if snapshot is not None else "tags",
        root=root,
        users=tuple(users),
        warnings=tuple(warnings),
    )
