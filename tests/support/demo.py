"""`make demo`: the bot on a simulated AWS account, every path, start to finish, in a few seconds.

AWS is simulated in process by moto; the account is seeded with users covering every row of the
decision table. The three Lambda handlers are called exactly as Lambda calls them
(`app.<function>(event, context)`) with real-format events from tests/fixtures/, and after each
scene the demo prints the findings, the IAM state that matters, what SNS and Slack received, and
what the users' owners were told: the e-mails moto's SES recorded as sent and the Slack direct
messages a Web API catcher on 127.0.0.1 caught.

Three things real AWS does and moto does not are added to the simulation, and the demo says so: a
real-format `<root_account>` row in the credential report, the quota of 10 managed policies per
user, and the execution role's condition that lets only one writer stamp a quarantine.

The demo is a list of scenes (SCENES), each one function taking the shared `Demo`. To show a new
path, write one more scene function and add it to the list where it belongs in the story.
"""

from __future__ import annotations

import io
import json
import os
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import time_machine
from aws_lambda_powertools.utilities import parameters as powertools_parameters
from chalice.test import LambdaContext
from moto import mock_aws
from rich.console import Console
from rich.table import Table

from tests.support import moto_state as ms
from tests.support.slack_api_catcher import SlackApiCatcher, render_dm
from tests.support.webhook_catcher import WebhookCatcher, read_sqs_messages, render, render_sns

REGION = "us-east-1"
EXEMPTIONS_PARAMETER = "/mfa-enforcer/exemptions"
SLACK_PARAMETER = "/mfa-enforcer/slack-webhook"
FIXTURES = ms.ROOT / "tests" / "fixtures"
SIGN_IN_USER = "vic.visitor"
TAMPERED_USER = "bob.builder"
ENROLLING_USER = "carol.finance"
STYLE = {
    "quarantined": "bold red",
    "cannot-quarantine": "bold red",
    "tamper": "bold red",
    "released": "green",
    "pending": "yellow",
    "exemption-expiring": "yellow",
    "exemption-expired": "yellow",
    "root-without-mfa": "bold magenta",
    "root-access-keys": "bold magenta",
    "config-error": "bold magenta",
    "identity-center-user-without-mfa": "bold red",
}
NEW_USER = "wes.webdev"
SENDER = "mfa-enforcer@example.com"
BOT_TOKEN_PARAMETER = "/mfa-enforcer/slack-bot-token"
BOT_TOKEN = "xoxb-demo-token-not-a-secret"
# Owner contacts (the `email` tag): addresses Slack knows too, a Slack member id, addresses only;
# uma.analyst, leo.intern and wes.webdev have none, and are reported as owner-unreachable.
CONTACTS = {
    SIGN_IN_USER: "vic.visitor@example.com",
    TAMPERED_USER: "bob.builder@example.com",
    ENROLLING_USER: "U0CAROL001",
    "dan.design": "dan.design@example.com",
    "frank.fresh": "frank@example.com",
    "olga.enrolled": "olga@example.com",
    "quinn.quota": "quinn@example.com",
}
SLACK_MEMBERS = {"vic.visitor@example.com": "U0VIC00001", "bob.builder@example.com": "U0BOB00001"}


# --- the account -----------------------------------------------------------------------------------


def seed(iam: Any, ssm: Any) -> list[ms.UserSpec]:
    """23 users, one or more per row of the decision table, plus two the bot quarantined earlier."""
    now = datetime.now(UTC)
    specs = [
        ms.UserSpec("alice.admin", mfa=True),
        ms.UserSpec("sam.sre", mfa=True, access_key=True),
        ms.UserSpec("mia.ops", mfa=True),
        ms.UserSpec("ned.ops", mfa=True),
        ms.UserSpec(TAMPERED_USER),
        ms.UserSpec(ENROLLING_USER, age=timedelta(days=400)),
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
        ms.UserSpec(SIGN_IN_USER, age=timedelta(days=60)),
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


class OwnerInbox:
    """Where owner notices land: moto's SES (what it recorded as sent) and a Slack Web API catcher."""

    def __init__(self, patch: pytest.MonkeyPatch, iam: Any) -> None:
        ses = boto3.client("ses", region_name=REGION)
        ssm = boto3.client("ssm", region_name=REGION)
        ms.verify_sender(ses, SENDER)
        self.slack = SlackApiCatcher(BOT_TOKEN, SLACK_MEMBERS)
        ssm.put_parameter(Name=BOT_TOKEN_PARAMETER, Value=BOT_TOKEN, Type="SecureString")
        patch.setenv("MFA_ENFORCER_SES_SENDER", SENDER)
        patch.setenv("MFA_ENFORCER_SLACK_BOT_TOKEN_PARAMETER", BOT_TOKEN_PARAMETER)
        patch.setenv("MFA_ENFORCER_SLACK_API_URL", self.slack.start())
        iam.create_account_alias(AccountAlias="acme-demo")
        for user, contact in CONTACTS.items():
            iam.tag_user(UserName=user, Tags=[{"Key": "email", "Value": contact}])
        self.seen = 0

    def show(self, console: Console) -> None:
        """What owners were told since the last call: subject and first lines of each e-mail, the top of each DM."""
        emails = ms.sent_emails()[self.seen :]
        self.seen += len(emails)
        posted, self.slack.posted[:] = list(self.slack.posted), []
        console.print(
            f"[bold]Owners[/bold]: {len(emails)} e-mail(s) sent through moto's SES, "
            f"{len(posted)} Slack DM(s) caught on 127.0.0.1"
        )
        plain: dict[str, Any] = {"markup": False, "highlight": False, "emoji": False}
        for mail in emails:
            lines = [line for line in mail.text.splitlines() if line.strip() and not set(line) <= {"="}]
            console.print(f"  ✉ to {mail.to}: {mail.subject}", style="bold", **plain)
            for line in lines[1:3]:
                console.print("    " + textwrap.shorten(line, 150, placeholder=" …"), **plain)
        for message in posted:
            console.print(f"  💬 DM to {message['channel']}:", **plain)
            shown = render_dm(message).splitlines()[:3]
            console.print(
                "\n".join("    │ " + textwrap.shorten(line, 150, placeholder=" …") for line in shown), **plain
            )
        console.print()

    def stop(self) -> None:
        self.slack.stop()


@contextmanager
def embedded_aws() -> Iterator[pytest.MonkeyPatch]:
    """Simulated AWS in process with fake credentials, plus the three additions described above."""
    patch = pytest.MonkeyPatch()
    for key in [k for k in os.environ if k.startswith(("MFA_ENFORCER_", "AWS_"))]:
        patch.delenv(key)
    patch.setenv("AWS_ACCESS_KEY_ID", "demo")
    patch.setenv("AWS_SECRET_ACCESS_KEY", "demo")
    patch.setenv("AWS_DEFAULT_REGION", REGION)
    patch.setenv("POWERTOOLS_SERVICE_NAME", "mfa-enforcer")
    patch.setenv("POWERTOOLS_LOG_LEVEL", "ERROR")
    patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    try:
        with mock_aws(), ms.serve_report(patch, with_root=ms.root_row(mfa=False, access_key=True)):
            ms.enforce_policy_quota(patch)
            ms.enforce_claim_condition(patch)
            powertools_parameters.clear_caches()
            yield patch
    finally:
        patch.undo()


# --- events, as CloudTrail delivers them -----------------------------------------------------------


def _stamp(event: dict[str, Any], at: datetime) -> dict[str, Any]:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    event["time"] = stamp
    event["detail"]["eventTime"] = stamp
    return event


def sign_in_event(user: str, at: datetime) -> dict[str, Any]:
    """The captured ConsoleLogin without MFA (it signs in as alice), for `user`, happening at `at`."""
    text = (FIXTURES / "eventbridge_console_login_iam_user_no_mfa.json").read_text()
    return _stamp(json.loads(text.replace('"alice"', f'"{user}"').replace('/alice"', f'/{user}"')), at)


def enable_mfa_event(user: str, at: datetime) -> dict[str, Any]:
    """The captured EnableMFADevice (alice enrolling her own device), for `user`."""
    text = (FIXTURES / "eventbridge_iam_enable_mfa_device.json").read_text()
    return _stamp(json.loads(text.replace('"alice"', f'"{user}"').replace('/alice"', f'/{user}"')), at)


def detach_event(user: str, at: datetime) -> dict[str, Any]:
    """The captured DetachUserPolicy of the quarantine policy by an admin (mallory), aimed at `user`."""
    event = json.loads((FIXTURES / "eventbridge_iam_detach_user_policy_tamper.json").read_text())
    event["detail"]["requestParameters"]["userName"] = user
    return _stamp(event, at)


def lambda_context(function: str) -> LambdaContext:
    """A context as Lambda builds it: the function's ARN names the account the bot runs in."""
    context = LambdaContext(function, memory_size=128, max_runtime_ms=60_000)
    context.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ms.ACCOUNT_ID}:function:mfa-enforcer-{function}"
    return context


# --- the shared state of a run, and how scenes print -----------------------------------------------


@dataclass
class Demo:
    """Everything the scenes share: the simulated account, the channels, the console."""

    console: Console
    patch: pytest.MonkeyPatch
    iam: Any
    sqs: Any
    queue: str
    catcher: WebhookCatcher
    policy_arn: str
    specs: list[ms.UserSpec]
    scene_number: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    owners: OwnerInbox | None = None

    def mode(self, mode: str) -> None:
        """Set MFA_ENFORCER_MODE for the next invocations, as a redeploy of the stage would."""
        self.patch.setenv("MFA_ENFORCER_MODE", mode)

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        """Call `app.<function>(event, context)` as Lambda does; the EMF metric lines are kept off screen."""
        import app  # the module Lambda loads: its handler string is app.<function>

        handler: Callable[[dict[str, Any], LambdaContext], dict[str, Any]] = getattr(app, function)
        with redirect_stdout(io.StringIO()):
            return handler(event, lambda_context(function))

    def title(self, text: str, explanation: str) -> None:
        self.scene_number += 1
        self.console.rule(f"[bold]{self.scene_number}. {text}", align="left")
        self.console.print(explanation, highlight=False)
        self.console.print()

    def findings(self, result: dict[str, Any], *, only_news: bool = False) -> None:
        shown = result["transitions"] if only_news else result["findings"]
        self.console.print(findings_table(result, shown))
        self.console.print()

    def note(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def messages(self) -> None:
        """What the two channels received since the last call."""
        slack, self.catcher.messages[:] = list(self.catcher.messages), []
        sns = read_sqs_messages(self.sqs, self.queue)
        self.sent.extend(item["message"] for item in sns)
        self.console.print(f"[bold]SNS[/bold]: {len(sns)} message(s) read back from an SQS subscription")
        for item in sns:
            self.console.print("  " + render_sns(item), markup=False, highlight=False)
        self.console.print(f"[bold]Slack[/bold]: {len(slack)} message(s) caught on 127.0.0.1")
        for payload in slack:
            lines = render(payload).splitlines()
            self.console.print("\n".join("  │ " + line for line in lines), markup=False, highlight=False)
        self.console.print()
        if self.owners is not None:
            self.owners.show(self.console)

    def quarantine_of(self, user: str) -> str:
        """How `user` is held right now, read back from the simulated IAM."""
        if self.policy_arn in ms.attached_policies(self.iam, user):
            return "quarantine policy attached"
        members = {u["UserName"] for u in self.iam.get_group(GroupName=ms.QUARANTINE_GROUP)["Users"]}
        return "in the quarantine group" if user in members else "not quarantined"


def hub_table(title: str, securityhub: Any) -> Table:
    """The bot's records in the simulated Security Hub, read back with GetFindings."""
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


def findings_table(result: dict[str, Any], findings: list[dict[str, Any]]) -> Table:
    """The findings of a run (news marked), then the counts."""
    table = Table(show_lines=False)
    for column in ("news", "finding", "severity", "user", "action", "reason"):
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
        table.add_row("", "(nothing new)", "", "", "", "nothing changed, nothing to alert")
    counts = ", ".join(f"{kind}={n}" for kind, n in result["counts"].items())
    scanned = f"  users scanned={result['users_scanned']}" if "users_scanned" in result else ""
    table.caption = (
        f"mode={result['mode']}{scanned}  IAM writes={result['writes']}  duration={result['duration_ms']} ms\n"
        f"all findings: {counts}"
    )
    return table


def state_table(iam: Any, specs: list[ms.UserSpec]) -> Table:
    """The IAM state after the run, read back from the simulated account."""
    table = Table(title="IAM state at the end", title_justify="left")
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


# --- the scenes, in the order of the story ---------------------------------------------------------


def scan_event() -> dict[str, Any]:
    return dict(json.loads((FIXTURES / "eventbridge_scheduled.json").read_text()))


def scan_in_report_mode(demo: Demo) -> None:
    """The first deployment: report mode decides and says what it would do, and writes nothing."""
    demo.title(
        "The hourly scan in report mode: decide and say what would happen, change nothing",
        "Every shipped stage starts here. Actions read would-quarantine / would-release, and IAM is not touched.",
    )
    demo.mode("report")
    result = demo.invoke("scheduled_scan", scan_event())
    demo.findings(result)
    demo.note(f"IAM writes in report mode: {result['writes']}.")
    demo.messages()


def sign_in_without_mfa(demo: Demo) -> None:
    """Enforce is switched on; a user signs in without MFA and is quarantined by that one event."""
    demo.title(
        f"Enforce mode is switched on; {SIGN_IN_USER} signs in to the console without MFA",
        f"A real-format CloudTrail ConsoleLogin (MFAUsed: No) reaches on_console_login. {SIGN_IN_USER} is 60 days "
        "old and never enrolled, so the bot confirms with ListMFADevices and quarantines at once, without waiting "
        "for the next scan.",
    )
    demo.mode("enforce")
    signed_in = datetime.now(UTC)
    started = time.perf_counter()
    result = demo.invoke("on_console_login", sign_in_event(SIGN_IN_USER, signed_in))
    held = demo.quarantine_of(SIGN_IN_USER)
    elapsed_ms = (time.perf_counter() - started) * 1000
    demo.findings(result)
    tag = ms.user_tags(demo.iam, SIGN_IN_USER).get("mfa-enforcer:quarantined-at", "(none)")
    demo.note(
        f"Signed in at {signed_in:%H:%M:%S}Z; {held} {elapsed_ms:.0f} ms after the event arrived "
        f"(quarantined-at tag {tag})."
    )
    demo.messages()


def scan_in_enforce_mode(demo: Demo) -> None:
    """The scan quarantines and releases; the user the sign-in already caught raises no second alert."""
    demo.title(
        "The hourly scan in enforce mode: quarantine and release",
        f"{SIGN_IN_USER} was already caught by the sign-in: the scan agrees and stays quiet about them "
        "(still-quarantined, no alert). quinn.quota holds 10 managed policies, so the bot uses the quarantine group.",
    )
    result = demo.invoke("scheduled_scan", scan_event())
    demo.findings(result)
    demo.messages()


def hand_detach_is_tamper(demo: Demo) -> None:
    """An admin detaches the quarantine policy by hand; the bot calls it tamper and puts it back."""
    demo.title(
        f"An admin detaches the quarantine policy from {TAMPERED_USER} by hand",
        "mallory (an admin role) calls DetachUserPolicy in the simulated IAM; CloudTrail's DetachUserPolicy event "
        f"reaches on_iam_change. {TAMPERED_USER} still has no MFA, so this is tamper: the bot names the actor "
        "and re-attaches the policy.",
    )
    demo.iam.detach_user_policy(UserName=TAMPERED_USER, PolicyArn=demo.policy_arn)
    demo.note(f"After the detach: {TAMPERED_USER} is {demo.quarantine_of(TAMPERED_USER)}.")
    result = demo.invoke("on_iam_change", detach_event(TAMPERED_USER, datetime.now(UTC)))
    demo.findings(result)
    demo.note(f"After on_iam_change: {TAMPERED_USER} has the {demo.quarantine_of(TAMPERED_USER)}.")
    demo.messages()


def enrolment_releases(demo: Demo) -> None:
    """A quarantined user enrols an MFA device; the EnableMFADevice event releases them at once."""
    demo.title(
        f"{ENROLLING_USER} enrols an MFA device",
        "The quarantine lets a user do exactly this. The EnableMFADevice event reaches on_iam_change; the bot "
        "confirms the device with ListMFADevices and releases at once.",
    )
    serial = demo.iam.create_virtual_mfa_device(VirtualMFADeviceName=ENROLLING_USER)["VirtualMFADevice"]
    demo.iam.enable_mfa_device(
        UserName=ENROLLING_USER,
        SerialNumber=serial["SerialNumber"],
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    result = demo.invoke("on_iam_change", enable_mfa_event(ENROLLING_USER, datetime.now(UTC)))
    demo.findings(result)
    demo.note(f"After on_iam_change: {ENROLLING_USER} is {demo.quarantine_of(ENROLLING_USER)}.")
    demo.messages()


def quiet_hour(demo: Demo) -> None:
    """An hour later nothing has changed: no writes and no alerts."""
    demo.title(
        "An hour later, the scan again",
        "Nothing changed, so there are no IAM writes and no alerts (only the news is shown).",
    )
    ms.an_hour_passes()
    result = demo.invoke("scheduled_scan", scan_event())
    demo.findings(result, only_news=True)
    demo.messages()


def centrally_managed_root_and_security_hub(demo: Demo) -> None:
    """The organisation removed root's credentials; Security Hub is switched on; a new user appears."""
    from chalicelib import bootstrap

    demo.title(
        "The organisation removed root's credentials; Security Hub is switched on; a new user",
        "GetAccountSummary says root has no password, keys or certificates (AWS Organizations manages it "
        f"centrally): root-credentials-absent, not root-without-mfa. {NEW_USER} is 30 days old without MFA; "
        "every transition also goes to Security Hub as an ASFF finding.",
    )
    # The simulation's GetAccountSummary has no AccountPasswordPresent: set the live answer at the botocore layer.
    ms.account_summary(
        bootstrap.client("iam"),
        AccountPasswordPresent=0,
        AccountMFAEnabled=0,
        AccountAccessKeysPresent=0,
        AccountSigningCertificatesPresent=0,
    )
    demo.patch.setenv("MFA_ENFORCER_SECURITY_HUB", "on")
    demo.specs.append(ms.UserSpec(NEW_USER))
    ms.create_user(demo.iam, demo.specs[-1])
    result = demo.invoke("scheduled_scan", scan_event())
    shown = [f for f in result["findings"] if f["transition"] or f["type"].startswith("root")]
    demo.console.print(findings_table(result, shown))
    demo.console.print()
    demo.messages()
    securityhub = boto3.client("securityhub", region_name=REGION)
    demo.console.print(hub_table(f"Security Hub, read back with GetFindings: {NEW_USER} open", securityhub))
    demo.console.print()


def identity_center_sign_in(demo: Demo) -> None:
    """An IAM Identity Center sign-in with a password alone: an alert, no IAM write."""
    demo.title(
        "An IAM Identity Center sign-in with a password alone",
        "A UserAuthentication event with CredentialType PASSWORD reaches on_console_login: Identity Center has no "
        "IAM user to quarantine, so the bot alerts (identity-center-user-without-mfa) and writes nothing.",
    )
    event = json.loads((FIXTURES / "eventbridge_signin_identity_center_password_only.json").read_text())
    result = demo.invoke("on_console_login", event)
    demo.findings(result)
    demo.messages()


def release_updates_security_hub(demo: Demo) -> None:
    """The new user enrols MFA; the next scan releases them and the same Security Hub finding is archived."""
    demo.title(
        f"{NEW_USER} enrols MFA; the next scan releases them",
        "Security Hub keeps one finding per account, user and problem: the release updates it to PASSED and "
        "ARCHIVED instead of adding a new one.",
    )
    serial = demo.iam.create_virtual_mfa_device(VirtualMFADeviceName=NEW_USER)["VirtualMFADevice"]["SerialNumber"]
    demo.iam.enable_mfa_device(
        UserName=NEW_USER, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    ms.an_hour_passes()
    result = demo.invoke("scheduled_scan", scan_event())
    demo.findings(result, only_news=True)
    demo.messages()
    securityhub = boto3.client("securityhub", region_name=REGION)
    demo.console.print(hub_table("Security Hub after the release: the same Id, PASSED and ARCHIVED", securityhub))
    demo.console.print()


DEMO_HOUR = 12  # UTC: far from midnight, so no scan of the story is the first of a UTC day


def demo_instant(real: datetime) -> datetime:
    """Noon UTC on the real day: the daily summary (the first scan of each UTC day) is never due in the story.

    The scenes run within seconds but tell hours (an hour passes by ageing the simulated account); run at
    00:20 UTC on the real clock, every scan would be "the first of the day" and the quiet hour would send
    the daily summary. The whole simulation (moto's timestamps, the bot's clock) reads this clock, ticking.
    """
    return real.astimezone(UTC).replace(hour=DEMO_HOUR, minute=0, second=0, microsecond=0)


Scene = Callable[[Demo], None]
SCENES: tuple[Scene, ...] = (
    scan_in_report_mode,
    sign_in_without_mfa,
    scan_in_enforce_mode,
    hand_detach_is_tamper,
    enrolment_releases,
    quiet_hour,
    centrally_managed_root_and_security_hub,
    identity_center_sign_in,
    release_updates_security_hub,
)


def run(console: Console, scenes: tuple[Scene, ...] = SCENES) -> Demo:
    """Seed the simulated account, play every scene, print the final IAM state; returns the state for tests."""
    catcher = WebhookCatcher()
    owners: OwnerInbox | None = None
    try:
        with time_machine.travel(demo_instant(datetime.now(UTC)), tick=True), embedded_aws() as patch:
            from chalicelib import bootstrap

            bootstrap.reset()
            iam = boto3.client("iam", region_name=REGION)
            ssm = boto3.client("ssm", region_name=REGION)
            policy_arn = ms.create_quarantine_policy(iam)
            specs = seed(iam, ssm)
            pre_quarantine(iam, policy_arn, ["olga.enrolled", "pat.stuck"])
            sqs, queue = notification_channels(patch, catcher)
            owners = OwnerInbox(patch, iam)
            patch.setenv("MFA_ENFORCER_QUARANTINE_POLICY_ARN", policy_arn)
            console.print(
                f"[bold]mfa-enforcer demo[/bold]: a simulated AWS account ({ms.ACCOUNT_ID}) with {len(specs)} IAM "
                f"users, exemptions in SSM {EXEMPTIONS_PARAMETER}, findings to SNS (read back through SQS) and to "
                "Slack (a webhook catcher on 127.0.0.1); the users' owners are told by e-mail (the simulated SES "
                "records what it sends) and by Slack DM (a Web API catcher on 127.0.0.1), from each user's `email` "
                "tag; report mode tells no owner. Nothing leaves this machine.\n"
                "[dim]Added to the simulation because moto does not model them: a real-format <root_account> row "
                "in the credential report, the quota of 10 managed policies per user, and the role's condition that "
                "lets only one writer stamp a quarantine. The simulated clock starts at "
                f"{DEMO_HOUR}:00 UTC today, so the story is the same at any hour.[/dim]\n",
                highlight=False,
            )
            demo = Demo(console, patch, iam, sqs, queue, catcher, policy_arn, specs, owners=owners)
            for scene in scenes:
                scene(demo)
            console.print(state_table(iam, specs))
            bootstrap.reset()
            return demo
    finally:
        catcher.stop()
        if owners is not None:
            owners.stop()


def main() -> None:
    """`python -m tests.support.demo`."""
    run(Console(width=160))


if __name__ == "__main__":
    main()
