"""core/asff.py: which findings become Security Hub records, under which Id, in which state (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.core import asff
from chalicelib.core.model import ROOT_USER, Action, Finding, FindingType, Mode, RunResult, Trigger
from tests.conftest import NOW

ACCOUNT = "123456789012"
TARGET = asff.Target(ACCOUNT, "us-east-1")
DAILY = datetime(2026, 11, 23, 0, 10, tzinfo=UTC)  # the first hourly scan of a UTC day


def finding(kind: FindingType, user: str | None = "alice", *, transition: bool = True, at: datetime = NOW) -> Finding:
    arn = f"arn:aws:iam::{ACCOUNT}:root" if user == ROOT_USER else f"arn:aws:iam::{ACCOUNT}:user/{user}"
    return Finding(
        kind, user, arn if user else None, Action.NONE, f"{kind.value} reason", Trigger.SCHEDULED_SCAN, at, transition
    )


def records(*findings: Finding, trigger: Trigger = Trigger.SCHEDULED_SCAN) -> list[dict[str, object]]:
    return asff.records(RunResult(trigger, Mode.ENFORCE, findings, account_id=ACCOUNT), TARGET)


def test_the_steps_of_one_problem_share_one_id() -> None:
    ids = {
        records(finding(kind))[0]["Id"]
        for kind in (
            FindingType.PENDING,
            FindingType.QUARANTINED,
            FindingType.TAMPER,
            FindingType.CANNOT_QUARANTINE,
            FindingType.EXEMPTED,
            FindingType.RELEASED,
        )
    }
    assert ids == {f"mfa-enforcer/{ACCOUNT}/iam-user/alice/console-user-without-mfa"}


def test_only_transitions_about_a_user_or_root_are_sent() -> None:
    assert records(finding(FindingType.STILL_QUARANTINED, transition=False)) == []
    assert records(finding(FindingType.EXEMPT, transition=False)) == []
    assert records(finding(FindingType.SCAN_ERROR, None)) == []
    assert records(finding(FindingType.CONFIG_ERROR, None)) == []
    assert records(finding(FindingType.EXEMPTION_EXPIRED)) == []  # about the document, not the user's state
    assert records(finding(FindingType.ROOT_CREDENTIALS_ABSENT, ROOT_USER, transition=False)) == []


def test_a_release_resolves_and_archives_with_informational_severity() -> None:
    (record,) = records(finding(FindingType.RELEASED))
    assert (record["Compliance"], record["RecordState"], record["Severity"]) == (
        {"Status": "PASSED"},
        "ARCHIVED",
        {"Label": "INFORMATIONAL"},
    )
    (open_record,) = records(finding(FindingType.QUARANTINED))
    assert (open_record["Compliance"], open_record["RecordState"]) == ({"Status": "FAILED"}, "ACTIVE")
    (exempted,) = records(finding(FindingType.EXEMPTED))
    assert exempted["Compliance"] == {"Status": "WARNING"}


def test_root_problems_are_separate_records_about_the_account() -> None:
    found = records(finding(FindingType.ROOT_WITHOUT_MFA, ROOT_USER), finding(FindingType.ROOT_ACCESS_KEYS, ROOT_USER))
    assert [r["Id"] for r in found] == [
        f"mfa-enforcer/{ACCOUNT}/root/root/root-without-mfa",
        f"mfa-enforcer/{ACCOUNT}/root/root/root-access-keys",
    ]
    assert all(
        r["Resources"]
        == [{"Type": "AwsAccount", "Id": f"AWS::::Account:{ACCOUNT}", "Partition": "aws", "Region": "us-east-1"}]
        for r in found
    )
    assert {r["Severity"]["Label"] for r in found} == {"CRITICAL"}


def test_a_root_without_credentials_closes_both_root_records_once_a_day() -> None:
    absent = finding(FindingType.ROOT_CREDENTIALS_ABSENT, ROOT_USER, transition=False, at=DAILY)
    closed = records(absent)
    assert [(r["Id"].rsplit("/", 1)[-1], r["Compliance"]["Status"], r["RecordState"]) for r in closed] == [
        ("root-without-mfa", "PASSED", "ARCHIVED"),
        ("root-access-keys", "PASSED", "ARCHIVED"),
    ]
    later = finding(FindingType.ROOT_CREDENTIALS_ABSENT, ROOT_USER, transition=False, at=NOW)
    assert records(later) == []  # other scans of the day send nothing
    assert records(absent, trigger=Trigger.CLI) == []


def test_the_last_transition_of_a_problem_in_one_run_wins() -> None:
    (record,) = records(finding(FindingType.QUARANTINED), finding(FindingType.RELEASED))
    assert record["ProductFields"]["mfa-enforcer/Type"] == "released"


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("Alice", "alice"),
        ("x/../bob/console-user-without-mfa", "x%2F..%2Fbob%2Fconsole-user-without-mfa"),
        ("a b", "a%20b"),
    ],
)
def test_an_identity_center_name_cannot_forge_another_subjects_id(name: str, encoded: str) -> None:
    ic = Finding(
        FindingType.IDENTITY_CENTER_USER_WITHOUT_MFA, name, None, Action.NONE, "r", Trigger.ON_CONSOLE_LOGIN, NOW, True
    )
    (record,) = records(ic, trigger=Trigger.ON_CONSOLE_LOGIN)
    assert record["Id"] == f"mfa-enforcer/{ACCOUNT}/identity-center-user/{encoded}/identity-center-user-without-mfa"


def test_control_characters_never_reach_the_title_or_description() -> None:
    sneaky = Finding(
        FindingType.QUARANTINED, "alice", None, Action.NONE, "line\nbreak\u202e", Trigger.SCHEDULED_SCAN, NOW, True
    )
    (record,) = records(sneaky)
    assert record["Description"] == "line break "
    assert "\n" not in str(record["Title"])


def test_timestamps_keep_milliseconds_and_batches_hold_a_hundred() -> None:
    at = NOW.replace(microsecond=123456)
    (record,) = records(finding(FindingType.QUARANTINED, at=at))
    assert record["UpdatedAt"] == record["CreatedAt"] == "2026-11-23T12:30:00.123Z"
    assert [len(b) for b in asff.batches([{"Id": str(i)} for i in range(250)])] == [100, 100, 50]


@pytest.mark.parametrize(
    ("region", "partition"), [("us-east-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")]
)
def test_the_product_arn_is_the_accounts_own_default_product(region: str, partition: str) -> None:
    assert asff.Target(ACCOUNT, region).product_arn == (
        f"arn:{partition}:securityhub:{region}:{ACCOUNT}:product/{ACCOUNT}/default"
    )
