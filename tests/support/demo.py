"""`make demo`: the bot's scheduled scan on an embedded default account, start to finish.

AWS is moto, in process; the account is seeded with 22 users covering every row of the decision
table; `scheduled_scan` is invoked exactly as Lambda would (Chalice's test client, a real
scheduled event) three times: report mode, enforce mode, enforce again. Where moto cannot express
real AWS, the demo bends moto's backend and says so on screen: a `<root_account>` row (moto has
none) and the 10-managed-policy quota (moto does not enforce it).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters as powertools_parameters
from chalice.test import Client
from moto import mock_aws
from rich.console import Console
from rich.table import Table

from tests.support import moto_state as ms
from tests.support.webhook_catcher import WebhookCatcher, read_sqs_messages, render, render_sns

REGION = "us-east-1"
EXEMPTIONS_PARAMETER = "/mfa-enforcer/exemptions"
SLACK_PARAMETER = "/mfa-enforcer/slack-webhook"
STYLE = {
    "quarantined": "bold red",
    "cannot-quarantine": "bold red",
    "released": "green",
    "pending": "yellow",
    "exemption-expiring": "yellow",
    "exemption-expired": "yellow",
    "root-without-mfa": "bold magenta",
    "root-access-keys": "bold magenta",
    "config-error": "bold magenta",
    "identity-center-user-without-mfa": "bold red",
}


def seed(iam: Any, ssm: Any) -> list[ms.UserSpec]:
    """22 users, one or more per row of the decision table, plus two already quarantined."""
    now = datetime.now(UTC)
    specs = [
        ms.UserSpec("alice.admin", mfa=True),
        ms.UserSpec("sam.sre", mfa=True, access_key=True),
        ms.UserSpec("mia.ops", mfa=True),
        ms.UserSpec("ned.ops", mfa=True),
        ms.UserSpec("bob.builder"),
        ms.UserSpec("carol.finance", age=timedelta(days=400)),
        ms.UserSpec("dan.design", age=timedelta(days=2)),
        ms.UserSpec("erin.new", age=timedelta(hours=3)),
        ms.UserSpec("frank.fresh", age=timedelta(minutes=20)),
        ms.UserSpec("break-glass"),
        ms.UserSpec("jane.vendor", groups=("vendors-sso",)),
        ms.UserSpec("legacy-kiosk", path="/shared-console/"),
        ms.UserSpec("kim.contractor"),
        ms.UserSpec("leo.intern"),
        ms.UserSpec("etl-loader", console=False, access_key=True),
        ms.UserSpec("backup-agent", console=False, access_key=True, path="/service/"),
        ms.UserSpec("olga.enrolled", mfa=True),
        ms.UserSpec("pat.stuck"),
        ms.UserSpec("quinn.quota"),
        ms.UserSpec("ray.reader", console=False),
        ms.UserSpec("tess.tester", mfa=True),
        ms.UserSpec("uma.analyst", age=timedelta(days=45)),
    ]
    for spec in specs:
        ms.create_user(iam, spec, now)
    ms.fill_policy_quota(iam, "quinn.quota")
    document = {
        "version": 1,
        "exemptions": [
            {
                "user": "break-glass",
                "reason": "hardware key in the safe",
                "expires": "2027-06-30",
                "approved_by": "secops",
            },
            {"group": "vendors-sso", "reason": "vendor signs in through their IdP", "approved_by": "secops"},
            {"path": "/shared-console/", "reason": "kiosk, console locked to one role"},
            {
                "user": "kim.contractor",
                "reason": "contract ends",
                "expires": (now + timedelta(days=3)).date().isoformat(),
            },
            {"user": "leo.intern", "reason": "internship", "expires": (now - timedelta(days=2)).date().isoformat()},
        ],
    }
    ssm.put_parameter(Name=EXEMPTIONS_PARAMETER, Value=json.dumps(document), Type="String")
    return specs


def pre_quarantine(iam: Any, policy_arn: str, users: list[str]) -> None:
    """Two users the bot quarantined in an earlier run; olga has since enrolled MFA."""
    for user in users:
        iam.tag_user(
            UserName=user,
            Tags=[
                {"Key": "mfa-enforcer:quarantined-at", "Value": "2026-11-20T09:00:00Z"},
                {"Key": "mfa-enforcer:reason", "Value": "console-password-without-mfa"},
            ],
        )
        iam.attach_user_policy(UserName=user, PolicyArn=policy_arn)


def findings_table(title: str, result: dict[str, Any], findings: list[dict[str, Any]]) -> Table:
    """The findings of a run (alerts marked), then the counts."""
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in ("alert", "finding", "severity", "user", "action", "reason"):
        table.add_column(column, overflow="fold")
    for finding in sorted(findings, key=lambda f: (not f["transition"], f["type"], f["user"] or "")):
        style = STYLE.get(finding["type"], "") if finding["transition"] else "dim"
        table.add_row(
            "new" if finding["transition"] else "",
            finding["type"],
            finding["severity"],
            finding["user"] or "(account)",
            finding["action"],
            finding.get("error") or finding["reason"],
            style=style,
        )
    if not findings:
        table.add_row("", "(no transitions)", "", "", "", "nothing changed, nothing to alert")
    counts = ", ".join(f"{kind}={n}" for kind, n in result["counts"].items())
    table.caption = (
        f"mode={result['mode']}  users scanned={result['users_scanned']}  IAM writes={result['writes']}  "
        f"duration={result['duration_ms']} ms\nall findings: {counts}"
    )
    return table


def state_table(iam: Any, specs: list[ms.UserSpec]) -> Table:
    """The IAM state after the runs, read back from moto."""
    table = Table(title="IAM state after the runs", title_justify="left")
    for column in ("user", "console", "MFA", "quarantined", "quarantined-at tag"):
        table.add_column(column)
    direct = {u["UserName"] for u in iam.list_entities_for_policy(PolicyArn=ms.QUARANTINE_POLICY_ARN)["PolicyUsers"]}
    grouped = {u["UserName"] for u in iam.get_group(GroupName=ms.QUARANTINE_GROUP)["Users"]}
    for spec in specs:
        tags = ms.user_tags(iam, spec.name)
        how = "policy" if spec.name in direct else "group (quota)" if spec.name in grouped else ""
        has_mfa = bool(iam.list_mfa_devices(UserName=spec.name)["MFADevices"])
        table.add_row(
            spec.name,
            "yes" if spec.console else "no",
            "yes" if has_mfa else "no",
            how,
            tags.get("mfa-enforcer:quarantined-at", ""),
            style="red" if how else "",
        )
    return table


@contextmanager
def embedded_aws() -> Iterator[pytest.MonkeyPatch]:
    """moto in process with fake credentials, plus the two backend bends described above."""
    patch = pytest.MonkeyPatch()
    for key in [k for k in os.environ if k.startswith(("MFA_ENFORCER_", "AWS_"))]:
        patch.delenv(key)
    patch.setenv("AWS_ACCESS_KEY_ID", "demo")
    patch.setenv("AWS_SECRET_ACCESS_KEY", "demo")
    patch.setenv("AWS_DEFAULT_REGION", REGION)
    patch.setenv("POWERTOOLS_LOG_LEVEL", "ERROR")
    patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    try:
        with mock_aws(), ms.serve_report(patch, with_root=ms.root_row(mfa=False, access_key=True)):
            ms.enforce_policy_quota(patch)
            powertools_parameters.clear_caches()
            yield patch
    finally:
        patch.undo()


def notification_channels(patch: pytest.MonkeyPatch, catcher: WebhookCatcher) -> tuple[Any, str]:
    """An SNS topic with an SQS subscription to read back, and the Slack URL (loopback) in a SecureString."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    ssm = boto3.client("ssm", region_name=REGION)
    topic = sns.create_topic(Name="mfa-enforcer-findings")["TopicArn"]
    queue = sqs.create_queue(QueueName="findings-subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    ssm.put_parameter(Name=SLACK_PARAMETER, Value=catcher.start(), Type="SecureString")
    patch.setenv("MFA_ENFORCER_SNS_TOPIC_ARN", topic)
    patch.setenv("MFA_ENFORCER_SLACK_WEBHOOK_PARAMETER", SLACK_PARAMETER)
    return sqs, queue


def print_messages(console: Console, catcher: WebhookCatcher, sqs: Any, queue: str) -> None:
    """What the two channels received during the last run."""
    slack, catcher.messages[:] = list(catcher.messages), []
    sns = read_sqs_messages(sqs, queue)
    console.print(f"[bold]SNS[/bold]: {len(sns)} message(s) read back from an SQS subscription")
    for item in sns:
        console.print("  " + render_sns(item), markup=False, highlight=False)
    console.print(f"[bold]Slack[/bold]: {len(slack)} message(s) caught on 127.0.0.1")
    for payload in slack:
        console.print("\n".join("  │ " + line for line in render(payload).splitlines()), markup=False, highlight=False)
    console.print()


def hub_table(title: str, securityhub: Any) -> Table:
    """The bot's records in (moto's) Security Hub, read back with GetFindings."""
    table = Table(title=title, title_justify="left")
    for column in ("Id", "type", "severity", "compliance", "record state"):
        table.add_column(column, overflow="fold")
    pages = securityhub.get_paginator("get_findings").paginate()
    for record in (r for page in pages for r in page["Findings"] if r["Id"].startswith("mfa-enforcer/")):
        table.add_row(
            record["Id"],
            record["ProductFields"]["mfa-enforcer/Type"],
            record["Severity"]["Label"],
            record["Compliance"]["Status"],
            record["RecordState"],
            style="green" if record["RecordState"] == "ARCHIVED" else "red",
        )
    return table


def modern_organisation(
    console: Console,
    client: Any,
    iam: Any,
    patch: pytest.MonkeyPatch,
    event: dict[str, Any],
    catcher: WebhookCatcher,
    sqs: Any,
    queue: str,
) -> None:
    """Centrally managed root, an Identity Center sign-in, and Security Hub before and after a release."""
    from chalicelib import bootstrap

    def invoke(name: str, payload: dict[str, Any]) -> dict[str, Any]:
        with redirect_stdout(io.StringIO()):
            return dict(client.lambda_.invoke(name, payload).payload)

    # moto's GetAccountSummary has no AccountPasswordPresent: set the live answer at the botocore layer.
    ms.account_summary(
        bootstrap.client("iam"),
        AccountPasswordPresent=0,
        AccountMFAEnabled=0,
        AccountAccessKeysPresent=0,
        AccountSigningCertificatesPresent=0,
    )
    patch.setenv("MFA_ENFORCER_SECURITY_HUB", "on")
    ms.create_user(iam, ms.UserSpec("vic.visitor"))
    result = invoke("scheduled_scan", event)
    console.print(
        findings_table(
            "4. the organisation removed root's credentials (GetAccountSummary: no password, keys or certificates), "
            "a new user, Security Hub on",
            result,
            [f for f in result["findings"] if f["transition"] or f["type"].startswith("root")],
        )
    )
    print_messages(console, catcher, sqs, queue)
    securityhub = boto3.client("securityhub", region_name=REGION)
    console.print(hub_table("Security Hub (moto), read back with GetFindings: vic.visitor open", securityhub))
    console.print()

    sign_in = json.loads(
        (ms.ROOT / "tests" / "fixtures" / "eventbridge_signin_identity_center_password_only.json").read_text()
    )
    result = invoke("on_console_login", sign_in)
    console.print(
        findings_table(
            "5. an IAM Identity Center sign-in with a password alone (alert only)", result, result["findings"]
        )
    )
    print_messages(console, catcher, sqs, queue)

    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="vic.visitor")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="vic.visitor", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    ms.an_hour_passes()
    result = invoke("scheduled_scan", event)
    console.print(
        findings_table("6. vic.visitor enrolled MFA: released at the next scan", result, result["transitions"])
    )
    print_messages(console, catcher, sqs, queue)
    console.print(
        hub_table("Security Hub after the release: the same Id, PASSED and ARCHIVED (no duplicate)", securityhub)
    )
    console.print()


def main() -> None:
    """Seed, then report -> enforce -> enforce again, printing what happened and what was sent."""
    console = Console(width=160)
    catcher = WebhookCatcher()
    with embedded_aws() as patch:
        from app import app
        from chalicelib import bootstrap

        bootstrap.reset()
        iam = boto3.client("iam", region_name=REGION)
        ssm = boto3.client("ssm", region_name=REGION)
        policy_arn = ms.create_quarantine_policy(iam)
        specs = seed(iam, ssm)
        pre_quarantine(iam, policy_arn, ["olga.enrolled", "pat.stuck"])
        sqs, queue = notification_channels(patch, catcher)
        console.print(
            f"[bold]mfa-enforcer demo[/bold]: moto account {ms.ACCOUNT_ID}, {len(specs)} IAM users, exemptions in "
            f"SSM {EXEMPTIONS_PARAMETER}, findings to SNS (read back through SQS) and to Slack (a webhook catcher "
            "on 127.0.0.1).\n[dim]moto bends: a real-format <root_account> row is added to moto's "
            "credential report (moto has none), and moto is made to enforce the 10-managed-policy quota.[/dim]\n"
        )
        event = json.loads((ms.ROOT / "tests" / "fixtures" / "eventbridge_scheduled.json").read_text())
        patch.setenv("MFA_ENFORCER_QUARANTINE_POLICY_ARN", policy_arn)
        with Client(app, stage_name="dev") as client:
            for step, (title, mode) in enumerate(
                (
                    ("1. report mode: decide and say what would happen, change nothing", "report"),
                    ("2. enforce mode: quarantine and release", "enforce"),
                    ("3. an hour later, enforce again: nothing changed, so no writes and no alerts", "enforce"),
                ),
                start=1,
            ):
                patch.setenv("MFA_ENFORCER_MODE", mode)
                if step == 3:
                    ms.an_hour_passes()
                with redirect_stdout(io.StringIO()):  # the Lambda's EMF metrics lines
                    result = client.lambda_.invoke("scheduled_scan", event).payload
                shown = result["transitions"] if step == 3 else result["findings"]
                console.print(findings_table(title, result, shown))
                console.print()
                print_messages(console, catcher, sqs, queue)
            modern_organisation(console, client, iam, patch, event, catcher, sqs, queue)
        console.print(state_table(iam, specs))
    catcher.stop()


if __name__ == "__main__":
    main()
