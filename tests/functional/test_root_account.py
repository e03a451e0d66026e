"""What root holds, through scheduled_scan against moto: the credential report row plus a live GetAccountSummary.

moto has no `<root_account>` row (tests/support/moto_state.serve_report adds a real-format one),
and its GetAccountSummary lacks `AccountPasswordPresent` and pins MFA, keys and certificates to
0; `moto_state.account_summary` sets the answer at the botocore layer, after moto answered.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import bootstrap
from tests.conftest import load_fixture
from tests.functional.conftest import CallCounter
from tests.support import moto_state as ms
from tests.support.faults import Fault, FaultInjector

SCHEDULED = load_fixture("eventbridge_scheduled.json")
ROOT_TYPES = {"root-without-mfa", "root-access-keys", "root-credentials-absent"}
# A member account whose root credentials were removed centrally: the row still says no MFA.
CENTRAL_ROOT = ms.root_row(mfa=False)


def root_findings(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["type"]: f for f in result["findings"] if f["type"] in ROOT_TYPES}


def scan(lambda_client: Any) -> dict[str, Any]:
    return dict(lambda_client.lambda_.invoke("scheduled_scan", SCHEDULED).payload)


def summary(*, password: int | None, mfa: int, keys: int, certificates: int) -> None:
    ms.account_summary(
        bootstrap.client("iam"),
        AccountPasswordPresent=password,
        AccountMFAEnabled=mfa,
        AccountAccessKeysPresent=keys,
        AccountSigningCertificatesPresent=certificates,
    )


def test_root_without_password_keys_or_certificates_is_information_and_never_alerted(
    iam: Any, report_mode: str, lambda_client: Any, monkeypatch: pytest.MonkeyPatch, calls: CallCounter
) -> None:
    summary(password=0, mfa=0, keys=0, certificates=0)
    with ms.serve_report(monkeypatch, with_root=CENTRAL_ROOT):
        result = scan(lambda_client)

    found = root_findings(result)
    assert set(found) == {"root-credentials-absent"}
    absent = found["root-credentials-absent"]
    assert (absent["severity"], absent["transition"], absent["user"]) == ("info", False, "<root_account>")
    assert "centrally managed root" in absent["reason"]
    assert [t for t in result["transitions"] if t["type"] in ROOT_TYPES] == []
    assert calls.calls["iam:GetAccountSummary"] == 1


def test_root_with_a_password_and_no_mfa_stays_critical(
    iam: Any, report_mode: str, lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary(password=1, mfa=0, keys=0, certificates=0)
    with ms.serve_report(monkeypatch, with_root=CENTRAL_ROOT):
        found = root_findings(scan(lambda_client))

    assert set(found) == {"root-without-mfa"}
    assert found["root-without-mfa"]["severity"] == "critical"
    assert found["root-without-mfa"]["reason"] == "the root user has a console password and no MFA device"


def test_root_with_access_keys_is_critical_even_with_mfa(
    iam: Any, report_mode: str, lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary(password=1, mfa=1, keys=1, certificates=0)
    with ms.serve_report(monkeypatch, with_root=ms.root_row(mfa=True, access_key=True)):
        found = root_findings(scan(lambda_client))

    assert set(found) == {"root-access-keys"}
    assert found["root-access-keys"]["reason"] == "the root user has access keys"


def test_the_live_summary_wins_over_a_stale_report_row(
    iam: Any, report_mode: str, lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report (hours old) still shows no MFA and an active key; since then MFA was enrolled and the key deleted."""
    summary(password=1, mfa=1, keys=0, certificates=0)
    with ms.serve_report(monkeypatch, with_root=ms.root_row(mfa=False, access_key=True)):
        assert root_findings(scan(lambda_client)) == {}


def test_signing_certificates_alone_keep_root_from_counting_as_without_credentials(
    iam: Any, report_mode: str, lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No password means MFA protects nothing, but a certificate is still a credential: not `credentials-absent`."""
    summary(password=0, mfa=0, keys=0, certificates=1)
    with ms.serve_report(monkeypatch, with_root=CENTRAL_ROOT):
        assert root_findings(scan(lambda_client)) == {}


def test_an_answer_without_account_password_present_is_judged_as_before_and_says_why(
    iam: Any, report_mode: str, lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto (and AWS before 2024-11) leave AccountPasswordPresent out: the report row decides, as it always did."""
    summary(password=None, mfa=0, keys=0, certificates=0)
    with ms.serve_report(monkeypatch, with_root=ms.root_row(mfa=False, access_key=True)):
        found = root_findings(scan(lambda_client))

    assert set(found) == {"root-without-mfa", "root-access-keys"}
    for finding in found.values():
        assert "GetAccountSummary has no usable AccountPasswordPresent" in finding["reason"]
        assert "judged from the credential report alone" in finding["reason"]
    assert found["root-access-keys"]["reason"].startswith("the root user has active access keys (")


def test_a_refused_account_summary_leaves_root_to_the_report_and_the_scan_goes_on(
    iam: Any, enforce: str, lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ms.create_user(iam, ms.UserSpec("ann"))
    FaultInjector().attach(bootstrap.client("iam")).add(Fault("GetAccountSummary", "AccessDenied", 403, "no"))
    with ms.serve_report(monkeypatch, with_root=CENTRAL_ROOT):
        result = scan(lambda_client)

    assert ms.quarantined_users(iam) == {"ann"}
    (finding,) = root_findings(result).values()
    assert finding["type"] == "root-without-mfa"
    assert "GetAccountSummary failed (AccessDenied: no)" in finding["reason"]
