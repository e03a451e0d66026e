"""The execution role against what the code really calls: every call declared, allowed, and nothing unused.

The scenarios below drive the real handlers (Chalice's test client) against moto and record every
API call the bot's own clients make, with its parameters: the scheduled scan in enforce mode with
a group exemption, a user at the managed-policy quota (quarantined through the group), releases
both ways, SNS and Slack configured, owner notices by SES and Slack DM (one user tagged with a
contact), then the real-time paths (a sign-in without MFA, MFA enrolment, a tamper). The
recording is then held against

- the adapters' `PERMISSIONS` (found by importing chalicelib, so new adapters count): every call
  is declared, and every declared permission is called by some scenario (no unused grant);
- the role policies, evaluated with the IAM policy simulator for the exact resource and request
  context of each call: .chalice/policy-<stage>.json and the packaged template's role policy.

The scenarios run in each test (function-scoped moto), so no test depends on another's order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.utils import parseaddr
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from app import app
from chalicelib import bootstrap
from tests.conftest import load_fixture
from tests.policy_sim import documents as docs
from tests.policy_sim import harness
from tests.support import moto_state as ms
from tests.support.slack_api_catcher import SlackApiCatcher, catching

REGION = "us-east-1"
ACCOUNT = ms.ACCOUNT_ID
TOPIC = "mfa-enforcer-findings"
SLACK_PARAMETER = "/mfa-enforcer/slack-webhook"
BOT_TOKEN_PARAMETER = "/mfa-enforcer/slack-bot-token"
SENDER = "mfa-enforcer@example.com"
EXEMPTIONS_PARAMETER = "/mfa-enforcer/exemptions"
SCHEDULED = load_fixture("eventbridge_scheduled.json")
SIGN_IN = "eventbridge_console_login_iam_user_no_mfa.json"
TAMPER = "eventbridge_iam_detach_user_policy_tamper.json"
ENABLE_MFA = "eventbridge_iam_enable_mfa_device.json"
DELETE_POLICY = "eventbridge_iam_delete_policy_tamper.json"
GIVE_PASSWORD = "eventbridge_iam_create_login_profile.json"
# boto3 operations whose IAM action has another name (SNS authorizes PublishBatch as sns:Publish).
ACTION_OF = {"sns:PublishBatch": "sns:Publish"}
# IAM actions whose resource is the policy named by PolicyArn.
POLICY_RESOURCE_ACTIONS = frozenset(
    {"ListEntitiesForPolicy", "GetPolicy", "GetPolicyVersion", "ListPolicyVersions", "CreatePolicyVersion",
     "DeletePolicyVersion"}
)  # fmt: skip
# Operations IAM never authorizes: AWS documents that GetCallerIdentity needs no permission and
# cannot be denied, so no role grants it and no PERMISSIONS tuple declares it.
NO_PERMISSION_NEEDED = frozenset({"sts:GetCallerIdentity"})


@dataclass(frozen=True)
class Call:
    """One API call the bot made: the IAM action it needs, on which resource, with which request context."""

    action: str
    resource: str
    context: tuple[tuple[str, Any], ...] = ()
    scenario: str = ""


@dataclass
class Recorder:
    """Records every call of every client built from bootstrap's session (all services, present and future)."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    scenario: str = "setup"

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((self.scenario, f"{model.service_model.service_name}:{model.name}", dict(params)))


@pytest.fixture
def recorder(aws: None) -> Recorder:
    """Hooked into bootstrap's fresh session before any bot client exists, so every client inherits it."""
    recording = Recorder()
    bootstrap.session().events.register("before-parameter-build", recording)
    return recording


def user_arn(iam: Any, name: str) -> str:
    """The user's real ARN (with its path), as IAM evaluates it."""
    return str(iam.get_user(UserName=name)["User"]["Arn"])


def to_call(iam: Any, scenario: str, operation: str, params: dict[str, Any]) -> Call:
    """The IAM request behind one recorded API call."""
    action = ACTION_OF.get(operation, operation)
    service, name = action.split(":")
    context: dict[str, Any] = {}
    if service == "iam":
        resource, context = iam_request(iam, name, params)
    elif service == "ssm" and name in ("GetParameter", "GetParameterHistory"):
        selected = params["Name"].rsplit(":", 1)[0] if params["Name"].rsplit(":", 1)[-1].isdigit() else params["Name"]
        resource = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{selected}"  # `name:version` is the same parameter
    elif service == "sns":
        resource = params["TopicArn"]
    elif service == "securityhub" and name == "BatchImportFindings":
        (resource,) = {f["ProductArn"] for f in params["Findings"]}
    elif service == "ses" and name == "SendRawEmail":
        sender = parseaddr(str(message_from_bytes(params["RawMessage"]["Data"])["From"]))[1]
        resource = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{sender}"  # the verified address identity
        context["ses:FromAddress"] = sender
    else:
        raise AssertionError(f"test_role_permissions does not know the resource of {operation}: teach to_call")
    return Call(action, resource, tuple(sorted(context.items())), scenario)


def iam_request(iam: Any, name: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The resource and request context IAM evaluates one IAM call on."""
    context: dict[str, Any] = {}
    if "PolicyArn" in params and name not in POLICY_RESOURCE_ACTIONS:
        context["iam:PolicyARN"] = params["PolicyArn"]
    if name in (
        "GenerateCredentialReport",
        "GetCredentialReport",
        "GetAccountSummary",
        "ListAccountAliases",
        "ListGroups",
    ):
        return "*", context
    if name in POLICY_RESOURCE_ACTIONS:
        return params["PolicyArn"], context
    if name == "CreatePolicy":
        return f"arn:aws:iam::{ACCOUNT}:policy{params.get('Path', '/')}{params['PolicyName']}", context
    if "GroupName" in params:
        return f"arn:aws:iam::{ACCOUNT}:group/{params['GroupName']}", context
    if "UserName" in params:
        if name == "TagUser":
            context["aws:TagKeys"] = tuple(sorted(t["Key"] for t in params["Tags"]))
        if name == "UntagUser":
            context["aws:TagKeys"] = tuple(sorted(params["TagKeys"]))
        return user_arn(iam, params["UserName"]), context
    raise AssertionError(f"test_role_permissions does not know the resource of iam:{name}: teach iam_request")


def rename(event: dict[str, Any], user: str) -> dict[str, Any]:
    """A stored event (they all name alice or bob) about `user` instead."""
    text = json.dumps(event).replace("user/alice", f"user/{user}").replace("mfa/alice", f"mfa/{user}")
    event = json.loads(text)
    detail = event["detail"]
    if detail["userIdentity"].get("type") == "IAMUser":
        detail["userIdentity"]["userName"] = user
    if "userName" in (detail.get("requestParameters") or {}):
        detail["requestParameters"]["userName"] = user
    return event


def enrol_mfa(iam: Any, user: str) -> None:
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName=user, SerialNumber=serial, AuthenticationCode1="111111", AuthenticationCode2="222222"
    )


@pytest.fixture
def slack_api() -> Iterator[SlackApiCatcher]:
    with catching("xoxb-role-permissions-test", {"ann@example.com": "U0ANN00001"}) as api:
        yield api


@pytest.fixture
def recorded(
    iam: Any,
    ssm: Any,
    sns: Any,
    ses: Any,
    enforce: str,
    lambda_client: Any,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    httpserver: HTTPServer,
    slack_api: SlackApiCatcher,
) -> list[Call]:
    """Run every scenario once, check each did what it is there for, and return the calls made."""
    ms.verify_sender(ses, SENDER)
    ssm.put_parameter(Name=BOT_TOKEN_PARAMETER, Value=slack_api.token, Type="SecureString")
    monkeypatch.setenv("MFA_ENFORCER_SES_SENDER", SENDER)
    monkeypatch.setenv("MFA_ENFORCER_SLACK_BOT_TOKEN_PARAMETER", BOT_TOKEN_PARAMETER)
    monkeypatch.setenv("MFA_ENFORCER_SLACK_API_URL", slack_api.base_url)
    iam.create_account_alias(AccountAlias="acme-prod")
    profiles = ms.login_profiles_created(monkeypatch)
    topic = sns.create_topic(Name=TOPIC)["TopicArn"]
    httpserver.expect_request("/services/T000/B000/XXXX", method="POST").respond_with_data("ok")
    ssm.put_parameter(Name=SLACK_PARAMETER, Value=httpserver.url_for("/services/T000/B000/XXXX"), Type="SecureString")
    ssm.put_parameter(
        Name=EXEMPTIONS_PARAMETER,
        Value=json.dumps({"version": 1, "exemptions": [{"group": "vendors", "reason": "vendor IdP"}]}),
        Type="String",
    )
    monkeypatch.setenv("MFA_ENFORCER_SNS_TOPIC_ARN", topic)
    monkeypatch.setenv("MFA_ENFORCER_SLACK_WEBHOOK_PARAMETER", SLACK_PARAMETER)
    monkeypatch.setenv("MFA_ENFORCER_SECURITY_HUB", "on")
    ms.enforce_policy_quota(monkeypatch)
    for spec in (
        ms.UserSpec("ann"),
        ms.UserSpec("full", path="/team/"),
        ms.UserSpec("vic", groups=("vendors",)),
        ms.UserSpec("mia", mfa=True),
    ):
        ms.create_user(iam, spec)
    ms.fill_policy_quota(iam, "full")
    iam.tag_user(UserName="ann", Tags=[{"Key": "email", "Value": "ann@example.com"}])

    recorder.scenario = "scan: quarantine directly and through the group (quota), and tell the owner"
    lambda_client.lambda_.invoke("scheduled_scan", SCHEDULED)
    assert ms.attached_policies(iam, "ann") >= {enforce}
    assert [m.to for m in ms.sent_emails()] == ["ann@example.com"] and len(slack_api.posted) == 1
    assert "mfa-enforcer:notified" in ms.user_tags(iam, "ann")
    assert {u["UserName"] for u in iam.get_group(GroupName=ms.QUARANTINE_GROUP)["Users"]} == {"full"}

    enrol_mfa(iam, "ann")
    enrol_mfa(iam, "full")
    recorder.scenario = "scan: release directly and from the group"
    lambda_client.lambda_.invoke("scheduled_scan", SCHEDULED)
    assert ms.quarantined_users(iam) == set()

    ms.create_user(iam, ms.UserSpec("leo"))
    recorder.scenario = "on_console_login: IAM user without MFA"
    lambda_client.lambda_.invoke("on_console_login", rename(load_fixture(SIGN_IN), "leo"))
    assert ms.quarantined_users(iam) == {"leo"}

    ms.create_user(iam, ms.UserSpec("kim"))
    recorder.scenario = "scan: quarantine, nothing else changes"
    lambda_client.lambda_.invoke("scheduled_scan", SCHEDULED)
    iam.detach_user_policy(UserName="kim", PolicyArn=enforce)
    recorder.scenario = "on_iam_change: quarantine policy detached by someone else"
    lambda_client.lambda_.invoke("on_iam_change", rename(load_fixture(TAMPER), "kim"))
    assert "kim" in ms.quarantined_users(iam)

    recorder.scenario = "on_console_login: already quarantined (the tag is checked against the policy)"
    lambda_client.lambda_.invoke("on_console_login", rename(load_fixture(SIGN_IN), "leo"))

    enrol_mfa(iam, "leo")
    recorder.scenario = "on_iam_change: MFA enrolled"
    lambda_client.lambda_.invoke("on_iam_change", rename(load_fixture(ENABLE_MFA), "leo"))
    assert "leo" not in ms.quarantined_users(iam)
    assert httpserver.log, "Slack was never posted to: the webhook SecureString was not read"

    for _ in range(3):
        ms.hollow_quarantine(iam, default=False)
    ms.hollow_quarantine(iam)  # five versions: the restore must delete one first
    iam.detach_group_policy(GroupName=ms.QUARANTINE_GROUP, PolicyArn=enforce)
    recorder.scenario = "scan: restore a hollow default version at the version limit, re-attach the group"
    lambda_client.lambda_.invoke("scheduled_scan", SCHEDULED)
    assert ms.quarantine_default(iam)[1] == ms.shipped_quarantine_document() and ms.group_holds_quarantine(iam)

    ms.delete_quarantine_policy(iam)
    recorder.scenario = "on_iam_change: the quarantine policy deleted"
    lambda_client.lambda_.invoke("on_iam_change", load_fixture(DELETE_POLICY))
    assert ms.quarantine_default(iam)[1] == ms.shipped_quarantine_document() and ms.group_holds_quarantine(iam)
    ms.create_user(iam, ms.UserSpec("old", console=False, age=timedelta(days=90)))
    iam.create_login_profile(UserName="old", Password="Correct-Horse-9!")
    profiles["old"] = datetime.now(UTC)
    given = rename(load_fixture(GIVE_PASSWORD), "old")
    given["detail"]["eventTime"] = profiles["old"].strftime("%Y-%m-%dT%H:%M:%SZ")
    recorder.scenario = "on_iam_change: an admin gives an older user a console password (grace recorded)"
    lambda_client.lambda_.invoke("on_iam_change", given)
    assert "mfa-enforcer:grace-deadline" in ms.user_tags(iam, "old")

    ssm.put_parameter(Name=EXEMPTIONS_PARAMETER, Value="{}", Type="String", Overwrite=True)
    recorder.scenario = "scan: the newest exemptions version is invalid (history), an exempt group written in capitals"
    lambda_client.lambda_.invoke("scheduled_scan", SCHEDULED)
    ssm.put_parameter(
        Name=EXEMPTIONS_PARAMETER,
        Value=json.dumps({"version": 1, "exemptions": [{"group": "VENDORS", "reason": "vendor IdP"}]}),
        Type="String",
        Overwrite=True,
    )
    lambda_client.lambda_.invoke("scheduled_scan", SCHEDULED)
    assert "vic" not in ms.quarantined_users(iam)

    return [
        to_call(iam, scenario, operation, params)
        for scenario, operation, params in recorder.calls
        if operation not in NO_PERMISSION_NEEDED
    ]


def test_every_call_is_declared_in_an_adapters_permissions(recorded: list[Call]) -> None:
    declared = docs.declared_permissions()
    undeclared = sorted({(c.action, c.scenario) for c in recorded if c.action not in declared})
    assert not undeclared, (
        "calls no adapter declares in PERMISSIONS (add them there and to the role):\n  "
        + "\n  ".join(f"{action}  (in: {scenario})" for action, scenario in undeclared)
    )


def test_every_declared_permission_is_exercised(recorded: list[Call]) -> None:
    """A declared permission no scenario calls is a grant nobody uses, or a scenario missing here."""
    declared = docs.declared_permissions()
    unused = sorted(set(declared) - {c.action for c in recorded})
    assert not unused, (
        "declared in PERMISSIONS but never called here; remove it (PERMISSIONS and the role policies) "
        "or add a scenario to `recorded` that uses it:\n  "
        + "\n  ".join(f"{action}  (declared by {sorted(declared[action])})" for action in unused)
    )


ROLE_POLICIES = {
    **{f"policy-{stage}.json": docs.load_json(docs.role_policy_file(stage)) for stage in docs.STAGES},
    "packaged": docs.packaged_role_policy(
        docs.Deployment(
            parameters={
                "SlackWebhookParameter": SLACK_PARAMETER,
                "SecurityHub": "on",
                "SesSender": SENDER,
                "SlackBotTokenParameter": BOT_TOKEN_PARAMETER,
            },
            account=ACCOUNT,
            region=REGION,
        )
    ),
}


def test_every_call_is_allowed_by_every_role_policy(recorded: list[Call]) -> None:
    """Each distinct (action, resource, context) the bot used, judged by the simulator under each role policy."""
    harness.install()
    distinct = sorted({(c.action, c.resource, c.context): c for c in recorded}.values(), key=lambda c: c.action)
    requests = [
        harness.Request(
            id=f"{policy}: {c.action} on {c.resource} {dict(c.context)}",
            action=c.action,
            resource=c.resource,
            context={k: list(v) if isinstance(v, tuple) else v for k, v in c.context},
            policies={policy: document},
            principal=f"arn:aws:sts::{ACCOUNT}:assumed-role/mfa-enforcer-dev-scheduled_scan/session",
        )
        for policy, document in ROLE_POLICIES.items()
        for c in distinct
    ]
    decisions = harness.evaluate(requests)
    refused = [d.explain() for d in decisions.values() if d.decision != harness.ALLOWED]
    assert not refused, "role policies refuse calls the bot makes:\n  " + "\n  ".join(refused)
    assert {c.action for c in distinct} >= {
        "iam:AttachUserPolicy",
        "iam:AddUserToGroup",
        "sns:Publish",
        "securityhub:BatchImportFindings",
        "ses:SendRawEmail",
        "iam:CreatePolicyVersion",
        "iam:AttachGroupPolicy",
    }


def test_app_has_the_three_functions_the_scenarios_drive() -> None:
    """The scenarios invoke each Lambda of design.md; a renamed handler must show up here first."""
    assert set(app.handler_map) >= set(docs.FUNCTIONS)
