"""What the root user holds now, from two sources that can disagree, and which one is believed.

The credential report's `<root_account>` row can be four hours old and cannot say whether root
has a password at all (AWS writes `not_supported`). An account whose root credentials were
removed centrally (AWS Organizations, "centralized root access") still has that row, with
`mfa_active=false`, so the report alone would call it an emergency every day.
`iam:GetAccountSummary` answers live with `AccountPasswordPresent`, `AccountMFAEnabled`,
`AccountAccessKeysPresent` and `AccountSigningCertificatesPresent`.

The rule: a complete, live summary wins over the report (it is newer and it knows about the
password). A summary that lacks one of the four keys (an older API answer, moto), or a call that
failed, is not used at all: root is judged from the report as before, and the finding says why.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.core.model import ReportRow

PASSWORD = "AccountPasswordPresent"
MFA = "AccountMFAEnabled"
ACCESS_KEYS = "AccountAccessKeysPresent"
CERTIFICATES = "AccountSigningCertificatesPresent"
SUMMARY_KEYS = (PASSWORD, MFA, ACCESS_KEYS, CERTIFICATES)


class Source(enum.StrEnum):
    """Where the judged root state came from."""

    ACCOUNT_SUMMARY = "account-summary"
    CREDENTIAL_REPORT = "credential-report"


@dataclass(frozen=True)
class Summary:
    """The root part of GetAccountSummary. `problem` says why it cannot be used (then every field is None)."""

    password: bool | None = None
    mfa: bool | None = None
    access_keys: bool | None = None
    certificates: bool | None = None
    problem: str | None = None

    @property
    def usable(self) -> bool:
        """Only a complete answer is believed over the report."""
        return self.problem is None


def from_summary_map(summary_map: Mapping[str, object]) -> Summary:
    """Read the four root keys (0/1 integers); any key missing or not 0/1 makes the whole answer unusable."""
    values: dict[str, bool] = {}
    missing = []
    for key in SUMMARY_KEYS:
        raw = summary_map.get(key)
        if type(raw) is int and raw in (0, 1):
            values[key] = raw == 1
        else:
            missing.append(key)
    if missing:
        return Summary(problem=f"GetAccountSummary has no usable {', '.join(missing)}")
    return Summary(
        password=values[PASSWORD], mfa=values[MFA], access_keys=values[ACCESS_KEYS], certificates=values[CERTIFICATES]
    )


def unavailable(why: str) -> Summary:
    """The call failed: the report alone decides."""
    return Summary(problem=f"GetAccountSummary failed ({why})")


@dataclass(frozen=True)
class RootState:
    """What root holds, as believed; `password` None means unknown (the report cannot tell, so assumed)."""

    source: Source
    password: bool | None
    mfa: bool
    access_keys: bool
    certificates: bool | None
    note: str | None = None  # why the summary was not used, when it was not

    @property
    def credentials_absent(self) -> bool:
        """No password, no access keys, no signing certificates: a centrally managed root (nothing to protect)."""
        return self.password is False and not self.access_keys and self.certificates is False

    @property
    def needs_mfa(self) -> bool:
        """A root that can sign in to the console (a password, or one that cannot be shown absent) without MFA."""
        return self.password is not False and not self.mfa


def state(row: ReportRow, summary: Summary | None) -> RootState:
    """The root state to decide on: the summary when it is complete, else the report row (and why)."""
    if summary is not None and summary.usable:
        return RootState(
            source=Source.ACCOUNT_SUMMARY,
            password=summary.password,
            mfa=bool(summary.mfa),
            access_keys=bool(summary.access_keys),
            certificates=summary.certificates,
        )
    note = summary.problem if summary is not None else "GetAccountSummary was not read"
    return RootState(
        source=Source.CREDENTIAL_REPORT,
        password=None,
        mfa=row.mfa_active,
        access_keys=row.access_key_active,
        certificates=None,
        note=f"{note}, so root was judged from the credential report alone",
    )
