"""Security Hub through the handlers against moto's securityhub, read back with get_findings.

moto implements BatchImportFindings (an import with a known Id replaces that record's fields) and
GetFindings (it ignores Filters, so everything is read back and filtered here); it does not check
UpdatedAt ordering, the ProductArn, or whether Security Hub is enabled, and it never answers with
FailedFindings: a partial answer is injected at the botocore layer (the record is held back from
moto and reported failed), and a Security Hub that is down is a wire-level 503 or a connection
error that botocore's standard retry mode retries.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from chalicelib import bootstrap
from chalicelib.adapters import notify
from chalicelib.adapters.security_hub import SecurityHubNotifier
from chalicelib.core.model import Action, Finding, FindingType, Mode, RunResult, Trigger
from tests.conftest import load_fixture
from tests.functional.conftest import CallCounter
from tests.support import faults
from tests.support import moto_state as ms
from tests.support.faults import Fault, FaultInjector
from tests.support.webhook_catcher import read_sqs_messages

REGION = "us-east-1"
PRODUCT = f"arn:aws:securityhub:{REGION}:{ms.ACCOUNT_ID}:product/{ms.ACCOUNT_ID}/default"
SCHEDULED = load_fixture("eventbridge_scheduled.json")
TAMPER = "eventbridge_iam_detach_user_policy_tamper.json"
ATTEMPTS = bootstrap.RETRY_CONFIG.retries["max_attempts"] + 1  # botocore's max_attempts counts the retries


@pytest.fixture
def hub_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MFA_ENFORCER_SECURITY_HUB", "on")


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's standard-mode retries happen attempt by attempt, but their jittered waits are recorded, not slept."""
    return faults.record_backoff(monkeypatch)


def scan(lambda_client: Any) -> dict[str, Any]:
    return dict(lambda_client.lambda_.invoke("scheduled_scan", SCHEDULED).payload)


def ours(securityhub: Any) -> list[dict[str, Any]]:
    """Every record in moto's Security Hub under the bot's product (moto ignores Filters: filtered here)."""
    found = [f for page in securityhub.get_paginator("get_findings").paginate() for f in page["Findings"]]
    return [f for f in found if f["ProductArn"] == PRODUCT and f["Id"].startswith("mfa-enforcer/")]


def enrol(iam: Any, user: str) -> None:
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName=user, SerialNumber=serial, AuthenticationCode1="111111", AuthenticationCode2="222222"
    )


def failures(out: str) -> list[str]:
    return sorted(
        json.loads(line)["Channel"]
        for line in out.splitlines()
        if line.startswith("{") and "NotificationFailures" in line and "_aws" in line
    )


def test_one_user_one_record_created_updated_and_resolved_with_the_same_id(
    iam: Any, securityhub: Any, enforce: str, hub_on: None, lambda_client: Any
) -> None:
    ms.create_user(iam, ms.UserSpec("carol", path="/team/"))
    ms.create_user(iam, ms.UserSpec("mia", mfa=True))  # passing: never sent

    scan(lambda_client)
    (created,) = ours(securityhub)
    record_id = f"mfa-enforcer/{ms.ACCOUNT_ID}/iam-user/carol/console-user-without-mfa"
    assert created["Id"] == record_id
    assert (created["Compliance"]["Status"], created["RecordState"]) == ("FAILED", "ACTIVE")
    assert created["Severity"]["Label"] == "HIGH" and created["FindingProviderFields"]["Severity"]["Label"] == "HIGH"
    assert created["Types"] == ["Software and Configuration Checks/AWS Security Best Practices"]
    assert created["Resources"] == [
        {
            "Type": "AwsIamUser",
            "Id": f"arn:aws:iam::{ms.ACCOUNT_ID}:user/team/carol",
            "Partition": "aws",
            "Region": REGION,
            "Details": {"AwsIamUser": {"UserName": "carol", "Path": "/team/"}},
        }
    ]
    assert created["ProductFields"]["mfa-enforcer/Type"] == "quarantined"
    assert created["ProductFields"]["mfa-enforcer/Mode"] == "enforce"
    assert "assign an MFA device" in created["Remediation"]["Recommendation"]["Text"]
    assert created["AwsAccountId"] == ms.ACCOUNT_ID and created["Title"].endswith(": carol")

    scan(lambda_client)  # still quarantined: no transition, nothing sent
    assert ours(securityhub) == [created]

    iam.detach_user_policy(UserName="carol", PolicyArn=enforce)
    tamper = load_fixture(TAMPER)
    tamper["detail"]["requestParameters"]["userName"] = "carol"
    lambda_client.lambda_.invoke("on_iam_change", tamper)
    (updated,) = ours(securityhub)
    assert updated["Id"] == record_id
    assert (updated["ProductFields"]["mfa-enforcer/Type"], updated["Severity"]["Label"]) == ("tamper", "CRITICAL")
    assert updated["Compliance"]["Status"] == "FAILED"

    enrol(iam, "carol")
    scan(lambda_client)
    (resolved,) = ours(securityhub)
    assert resolved["Id"] == record_id
    assert (resolved["Compliance"]["Status"], resolved["RecordState"]) == ("PASSED", "ARCHIVED")
    assert (resolved["Severity"]["Label"], resolved["ProductFields"]["mfa-enforcer/Type"]) == (
        "INFORMATIONAL",
        "released",
    )
    assert resolved["UpdatedAt"] >= updated["UpdatedAt"] >= created["UpdatedAt"]


def test_findings_of_other_products_are_never_touched(
    iam: Any, securityhub: Any, enforce: str, hub_on: None, lambda_client: Any
) -> None:
    other = {
        "SchemaVersion": "2018-10-08",
        "Id": "config-rule/iam-user-mfa-enabled/carol",
        "ProductArn": f"arn:aws:securityhub:{REGION}::product/aws/config",
        "GeneratorId": "iam-user-mfa-enabled",
        "AwsAccountId": ms.ACCOUNT_ID,
        "Types": ["Software and Configuration Checks/AWS Security Best Practices"],
        "CreatedAt": "2026-11-01T00:00:00.000Z",
        "UpdatedAt": "2026-11-01T00:00:00.000Z",
        "Severity": {"Label": "MEDIUM"},
        "Title": "IAM.19 MFA should be enabled for all IAM users",
        "Description": "someone else's finding",
        "Resources": [{"Type": "AwsIamUser", "Id": f"arn:aws:iam::{ms.ACCOUNT_ID}:user/carol"}],
        "RecordState": "ACTIVE",
    }
    securityhub.batch_import_findings(Findings=[other])
    (before,) = securityhub.get_findings()["Findings"]
    ms.create_user(iam, ms.UserSpec("carol"))
    scan(lambda_client)
    enrol(iam, "carol")
    scan(lambda_client)

    theirs = [f for f in securityhub.get_findings()["Findings"] if f["Id"] == other["Id"]]
    assert theirs == [before]
    assert len(ours(securityhub)) == 1


def test_identity_center_sign_in_becomes_a_record_about_that_person(
    iam: Any, securityhub: Any, report_mode: str, hub_on: None, lambda_client: Any
) -> None:
    lambda_client.lambda_.invoke(
        "on_console_login", load_fixture("eventbridge_signin_identity_center_password_only.json")
    )

    (record,) = ours(securityhub)
    assert record["Id"] == f"mfa-enforcer/{ms.ACCOUNT_ID}/identity-center-user/alice/identity-center-user-without-mfa"
    (resource,) = record["Resources"]
    assert (resource["Type"], resource["Id"]) == ("Other", "identity-center-user/alice")
    assert resource["Details"]["Other"] == {
        "UserName": "alice",
        "AccessPortal": "https://d-1234567890.awsapps.com/start/",
    }
    assert record["ProductFields"]["mfa-enforcer/Mode"] == "report"
    assert "auth_code" not in json.dumps(record)


class PartialFailure:
    """The first BatchImportFindings is answered with one record in FailedFindings, as Security Hub does when
    it refuses some of a batch; that record is held back from moto so it really is missing until retried."""

    def __init__(self, client: Any) -> None:
        self.requests: list[list[str]] = []
        self.held: str | None = None
        self.always = False
        client.meta.events.register("before-parameter-build.securityhub.BatchImportFindings", self._hold)
        client.meta.events.register("after-call.securityhub.BatchImportFindings", self._report)

    def _hold(self, params: dict[str, Any], **_: Any) -> None:
        self.requests.append([f["Id"] for f in params["Findings"]])
        if len(self.requests) == 1 or self.always:
            *sent, held = params["Findings"]  # a new list: the caller's own must stay whole for its retry
            params["Findings"], self.held = sent or [held], held["Id"]

    def _report(self, parsed: dict[str, Any], **_: Any) -> None:
        if self.held is not None:
            parsed["FailedFindings"] = [{"Id": self.held, "ErrorCode": "InternalException", "ErrorMessage": "retry"}]
            parsed["FailedCount"] = 1
            self.held = None


def test_the_records_security_hub_refuses_are_sent_again_alone(
    iam: Any, securityhub: Any, enforce: str, hub_on: None, lambda_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("ann", "ben", "cat"):
        ms.create_user(iam, ms.UserSpec(name))
    partial = PartialFailure(bootstrap.client("securityhub"))

    scan(lambda_client)

    first, retry = partial.requests
    assert len(first) == 3 and retry == first[-1:]
    assert {r["Resources"][0]["Details"]["AwsIamUser"]["UserName"] for r in ours(securityhub)} == {"ann", "ben", "cat"}
    assert failures(capsys.readouterr().out) == []


def test_a_record_refused_twice_is_counted_and_named(
    iam: Any,
    securityhub: Any,
    enforce: str,
    hub_on: None,
    lambda_client: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ms.create_user(iam, ms.UserSpec("ann"))
    ms.create_user(iam, ms.UserSpec("ben"))
    partial = PartialFailure(bootstrap.client("securityhub"))
    partial.always = True

    scan(lambda_client)

    assert ms.quarantined_users(iam) == {"ann", "ben"}
    assert len(partial.requests) == 2
    assert failures(capsys.readouterr().out) == ["securityhub"]
    (problem,) = [r.__dict__["problem"] for r in caplog.records if r.getMessage() == "notification failed"]
    assert problem == "1 of 2 finding(s) not imported: InternalException: retry"


@pytest.fixture
def sns_queue(sns: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    topic = sns.create_topic(Name="mfa-enforcer-findings")["TopicArn"]
    queue = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("MFA_ENFORCER_SNS_TOPIC_ARN", topic)
    return str(queue)


def refuse_connections(client: Any) -> list[str]:
    """Every HTTP attempt of BatchImportFindings fails to connect (Security Hub unreachable); returns the attempts."""
    attempts: list[str] = []

    def refuse(request: Any, **_: Any) -> None:
        attempts.append(request.url)
        raise EndpointConnectionError(endpoint_url=request.url)

    client.meta.events.register_first("before-send.securityhub.BatchImportFindings", refuse)
    return attempts


@pytest.mark.parametrize("down", ["503", "connection"])
def test_security_hub_down_is_retried_counted_and_blocks_nothing(
    iam: Any,
    sqs: Any,
    securityhub: Any,
    enforce: str,
    hub_on: None,
    sns_queue: str,
    lambda_client: Any,
    no_backoff: list[float],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    down: str,
) -> None:
    ms.create_user(iam, ms.UserSpec("ann"))
    client = bootstrap.client("securityhub")
    if down == "503":
        fault = (
            FaultInjector()
            .attach(client)
            .add(Fault("BatchImportFindings", "ServiceUnavailableException", 503, "down", per_attempt=True))
        )
    else:
        attempts = refuse_connections(client)

    result = scan(lambda_client)

    assert ms.quarantined_users(iam) == {"ann"}  # enforcement unaffected
    assert [t["type"] for t in result["transitions"]] == ["quarantined"]
    tried = fault.fired if down == "503" else len(attempts)
    assert tried == ATTEMPTS and len(no_backoff) == ATTEMPTS - 1 > 0  # botocore retried to its limit
    assert ours(securityhub) == []
    assert [m["message"]["user"] for m in read_sqs_messages(sqs, sns_queue)] == ["ann"]  # SNS still sent
    assert failures(capsys.readouterr().out) == ["securityhub"]
    (problem,) = [r.__dict__["problem"] for r in caplog.records if r.getMessage() == "notification failed"]
    assert problem.startswith("1 of 1 finding(s) not imported: ")


NOW = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)


def test_a_hundred_and_fifty_transitions_are_two_calls(securityhub: Any, aws: None, calls: CallCounter) -> None:
    findings = tuple(
        Finding(
            FindingType.QUARANTINED,
            f"user{i:03}",
            f"arn:aws:iam::{ms.ACCOUNT_ID}:user/user{i:03}",
            Action.QUARANTINE,
            "console password without MFA",
            Trigger.SCHEDULED_SCAN,
            NOW,
            True,
        )
        for i in range(150)
    )
    counter = CallCounter().attach("securityhub")
    notifier = SecurityHubNotifier(bootstrap.client("securityhub"), REGION)

    notifier.send(RunResult(Trigger.SCHEDULED_SCAN, Mode.ENFORCE, findings, account_id=ms.ACCOUNT_ID))

    assert counter.calls["securityhub:BatchImportFindings"] == 2
    assert len(ours(securityhub)) == 150


def test_without_the_setting_there_is_no_security_hub_channel(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.adapters.parameters import ParameterStore
    from chalicelib.core.config import Settings

    store: Any = ParameterStore.__new__(ParameterStore)
    assert [c.name for c in notify.build(Settings(), bootstrap.client, store).channels] == []
    assert [c.name for c in notify.build(Settings(security_hub=True), bootstrap.client, store).channels] == [
        "securityhub"
    ]
