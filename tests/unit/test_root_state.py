"""core/root.py: which source decides what root holds, as a table (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.core import decide, root
from chalicelib.core.model import ROOT_USER, FindingType, ReportRow, Trigger
from tests.conftest import NOW

COMPLETE = {
    "AccountPasswordPresent": 0,
    "AccountMFAEnabled": 0,
    "AccountAccessKeysPresent": 0,
    "AccountSigningCertificatesPresent": 0,
}


def row(*, mfa: bool, keys: bool = False) -> ReportRow:
    created = datetime(2019, 3, 1, tzinfo=UTC)
    return ReportRow(ROOT_USER, "arn:aws:iam::123456789012:root", created, True, None, mfa, keys)


def kinds(report_row: ReportRow, summary: root.Summary | None) -> list[FindingType]:
    return [f.type for f in decide.root(report_row, NOW, Trigger.SCHEDULED_SCAN, transition=True, summary=summary)]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, [FindingType.ROOT_CREDENTIALS_ABSENT]),
        ({"AccountPasswordPresent": 1}, [FindingType.ROOT_WITHOUT_MFA]),
        ({"AccountPasswordPresent": 1, "AccountMFAEnabled": 1}, []),
        ({"AccountAccessKeysPresent": 1}, [FindingType.ROOT_ACCESS_KEYS]),
        (
            {"AccountPasswordPresent": 1, "AccountAccessKeysPresent": 1},
            [FindingType.ROOT_WITHOUT_MFA, FindingType.ROOT_ACCESS_KEYS],
        ),
        ({"AccountSigningCertificatesPresent": 1}, []),
        ({"AccountMFAEnabled": 1}, [FindingType.ROOT_CREDENTIALS_ABSENT]),  # a device left over protects nothing
    ],
)
def test_a_complete_summary_decides(changes: dict[str, int], expected: list[FindingType]) -> None:
    summary = root.from_summary_map({**COMPLETE, **changes})
    assert summary.usable
    assert kinds(row(mfa=False, keys=True), summary) == expected


def test_credentials_absent_is_never_a_transition() -> None:
    (finding,) = decide.root(
        row(mfa=False), NOW, Trigger.SCHEDULED_SCAN, transition=True, summary=root.from_summary_map(COMPLETE)
    )
    assert (finding.type, finding.transition, finding.severity.value) == (
        FindingType.ROOT_CREDENTIALS_ABSENT,
        False,
        "info",
    )


@pytest.mark.parametrize(
    ("summary_map", "missing"),
    [
        ({k: v for k, v in COMPLETE.items() if k != "AccountPasswordPresent"}, "AccountPasswordPresent"),
        ({**COMPLETE, "AccountMFAEnabled": True}, "AccountMFAEnabled"),  # a bool is not AWS's 0/1 integer
        ({**COMPLETE, "AccountAccessKeysPresent": 2}, "AccountAccessKeysPresent"),
        ({}, "AccountPasswordPresent, AccountMFAEnabled, AccountAccessKeysPresent, AccountSigningCertificatesPresent"),
    ],
)
def test_an_incomplete_summary_is_not_used_and_the_report_decides(summary_map: dict[str, object], missing: str) -> None:
    summary = root.from_summary_map(summary_map)
    assert not summary.usable
    assert summary.problem == f"GetAccountSummary has no usable {missing}"
    found = decide.root(row(mfa=False, keys=True), NOW, Trigger.SCHEDULED_SCAN, transition=True, summary=summary)
    assert [f.type for f in found] == [FindingType.ROOT_WITHOUT_MFA, FindingType.ROOT_ACCESS_KEYS]
    assert all(missing in f.reason and "credential report alone" in f.reason for f in found)


def test_without_any_summary_the_report_decides_as_it_always_did() -> None:
    assert kinds(row(mfa=True), None) == []
    assert kinds(row(mfa=False), root.unavailable("AccessDenied: no")) == [FindingType.ROOT_WITHOUT_MFA]
    held = root.state(row(mfa=False), root.unavailable("AccessDenied: no"))
    assert held.source is root.Source.CREDENTIAL_REPORT
    assert (
        held.note == "GetAccountSummary failed (AccessDenied: no), so root was judged from the credential report alone"
    )
