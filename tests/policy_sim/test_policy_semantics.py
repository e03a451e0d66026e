"""What the policies mean, judged by an IAM policy simulator rather than by reading them.

moto does not evaluate conditions, so these requests go through @cloud-copilot/iam-simulate
(harness.py). Each row is one request and the decision IAM must reach:

- the quarantine policy on a user who also holds AdministratorAccess: without MFA (console
  session, and long-term access keys, where `aws:MultiFactorAuthPresent` is absent) only the
  self-service steps to enrol MFA and change the own password are allowed; nothing on other
  users, no self-release, no new keys; with MFA the normal permissions return;
- the opt-in require-mfa-for-api policy: no MFA age, or older than 8 hours, is denied;
- the execution role (both stage files and the packaged template's version): its writes work
  only on the quarantine policy, the bot's tag keys and the quarantine group; it may version,
  re-create and read that one policy and attach it to that one group, and nothing else.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import load_fixture
from tests.policy_sim import documents as docs
from tests.policy_sim.harness import (
    ALLOWED,
    EXPLICITLY_DENIED,
    IMPLICITLY_DENIED,
    Decision,
    Request,
    evaluate,
)

ACCOUNT = docs.ACCOUNT
USER = "alice"
OTHER = "bob"
QUARANTINE_ARN = f"arn:aws:iam::{ACCOUNT}:policy/mfa-enforcer-quarantine"
QUARANTINE_GROUP_ARN = f"arn:aws:iam::{ACCOUNT}:group/mfa-enforcer-quarantine"
OTHER_POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/developers"
FIX_SID = "DenyCredentialActionsOnOtherUsersWithoutMFA"

ADMIN = load_fixture("iam_policy_administrator_access.json")
QUARANTINE = docs.load_json(docs.QUARANTINE_POLICY)
# AWS's published self-service pattern, i.e. ours without the statement that closes the
# "act on another user's MFA device" hole: shows that statement is what denies it.
AWS_PATTERN = {**QUARANTINE, "Statement": [s for s in QUARANTINE["Statement"] if s.get("Sid") != FIX_SID]}
REQUIRE_MFA = docs.load_json(docs.REQUIRE_MFA_POLICY)

POLICY_SETS: dict[str, dict[str, Any]] = {
    "admin+quarantine": {"AdministratorAccess": ADMIN, "quarantine": QUARANTINE},
    "quarantine-only": {"quarantine": QUARANTINE},
    "admin+aws-pattern": {"AdministratorAccess": ADMIN, "aws-pattern": AWS_PATTERN},
    "admin+require-mfa": {"AdministratorAccess": ADMIN, "require-mfa": REQUIRE_MFA},
}

# How the user signed the request.
CONSOLE_WITHOUT_MFA = {"aws:username": USER, "aws:MultiFactorAuthPresent": "false"}
ACCESS_KEY = {"aws:username": USER}  # long-term keys: the MFA keys are absent, BoolIfExists must catch it
CONSOLE_WITH_MFA = {"aws:username": USER, "aws:MultiFactorAuthPresent": "true", "aws:MultiFactorAuthAge": "300"}
SESSIONS = {"console-no-mfa": CONSOLE_WITHOUT_MFA, "access-key": ACCESS_KEY}


def user(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


# (label, action, resource, extra request context)
ESCAPES = [
    ("s3 list buckets", "s3:ListAllMyBuckets", "*", {}),
    ("s3 read object", "s3:GetObject", "arn:aws:s3:::finance-reports/2026/q3.csv", {}),
    ("ec2 describe", "ec2:DescribeInstances", "*", {}),
    ("assume a role", "sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole", {}),
    ("new access key", "iam:CreateAccessKey", user(USER), {}),
    ("detach quarantine", "iam:DetachUserPolicy", user(USER), {"iam:PolicyARN": QUARANTINE_ARN}),
    ("delete inline policy", "iam:DeleteUserPolicy", user(USER), {}),
    ("leave quarantine group", "iam:RemoveUserFromGroup", QUARANTINE_GROUP_ARN, {}),
    ("remove bot tag", "iam:UntagUser", user(USER), {"aws:TagKeys": ["mfa-enforcer:quarantined-at"]}),
    ("overwrite bot tag", "iam:TagUser", user(USER), {"aws:TagKeys": ["mfa-enforcer:reason"]}),
    (
        "attach admin to self",
        "iam:AttachUserPolicy",
        user(USER),
        {"iam:PolicyARN": "arn:aws:iam::aws:policy/PowerUserAccess"},
    ),
    ("deactivate own mfa", "iam:DeactivateMFADevice", user(USER), {}),
    ("create another user", "iam:CreateUser", user("alice-2"), {}),
]
# Credential actions on somebody else: all must be denied by the statement that closes AWS's hole.
ON_OTHERS = [
    ("reset other's password", "iam:UpdateLoginProfile", user(OTHER), {}),
    ("enable mfa on other", "iam:EnableMFADevice", user(OTHER), {}),
    ("resync other's mfa", "iam:ResyncMFADevice", user(OTHER), {}),
    ("list other's mfa", "iam:ListMFADevices", user(OTHER), {}),
    ("read other user", "iam:GetUser", user(OTHER), {}),
    ("other's mfa device", "iam:GetMFADevice", user(OTHER), {}),
    ("create other's login", "iam:CreateLoginProfile", user(OTHER), {}),
]
SELF_SERVICE = [
    ("create virtual mfa", "iam:CreateVirtualMFADevice", f"arn:aws:iam::{ACCOUNT}:mfa/alice-phone", {}),
    ("enable own mfa", "iam:EnableMFADevice", user(USER), {}),
    ("resync own mfa", "iam:ResyncMFADevice", user(USER), {}),
    ("list own mfa", "iam:ListMFADevices", user(USER), {}),
    ("read own user", "iam:GetUser", user(USER), {}),
    ("change own password", "iam:ChangePassword", user(USER), {}),
    ("read password policy", "iam:GetAccountPasswordPolicy", "*", {}),
    ("list virtual mfa devices", "iam:ListVirtualMFADevices", "*", {}),
    ("session token", "sts:GetSessionToken", "*", {}),
]

# id -> (policy set, action, resource, request context, expected decision, statement that must be among the deniers)
CASES: dict[str, tuple[str, str, str, dict[str, Any], str, str | None]] = {}


def add(
    case_id: str,
    policies: str,
    row: tuple[str, str, str, dict[str, Any]],
    context: dict[str, Any],
    decision: str,
    decided_by: str | None = None,
) -> None:
    _, action, resource, extra = row
    CASES[case_id] = (policies, action, resource, {**context, **extra}, decision, decided_by)


for session, context in SESSIONS.items():
    for row in ESCAPES:
        add(f"admin without mfa ({session}): {row[0]}", "admin+quarantine", row, context, EXPLICITLY_DENIED)
    for row in ON_OTHERS:
        add(
            f"admin without mfa ({session}): {row[0]}",
            "admin+quarantine",
            row,
            context,
            EXPLICITLY_DENIED,
            f"quarantine:{FIX_SID}",
        )
    for row in SELF_SERVICE:
        add(f"admin without mfa ({session}): {row[0]}", "admin+quarantine", row, context, ALLOWED)
    # sts:GetSessionToken needs no Allow in IAM (the simulator does not model that), so only the rest.
    for row in SELF_SERVICE[:-1]:
        add(f"no other policy ({session}): {row[0]}", "quarantine-only", row, context, ALLOWED)

# With MFA the quarantine policy is inert: the user's own permissions decide again.
for row in ESCAPES[:6] + ON_OTHERS[:2]:
    add(f"admin with mfa: {row[0]}", "admin+quarantine", row, CONSOLE_WITH_MFA, ALLOWED)
for row in ESCAPES[:3]:
    add(f"no other policy, with mfa: {row[0]}", "quarantine-only", row, CONSOLE_WITH_MFA, IMPLICITLY_DENIED)
# The hole in AWS's published pattern, shown open, so the fix above is known to be what closes it.
add("aws pattern leaves it open: enable mfa on other", "admin+aws-pattern", ON_OTHERS[1], CONSOLE_WITHOUT_MFA, ALLOWED)

S3 = ("s3 list buckets", "s3:ListAllMyBuckets", "*", {})
for label, context, decision in [
    ("access key, no mfa age", {}, EXPLICITLY_DENIED),
    ("console without mfa", {"aws:MultiFactorAuthPresent": "false"}, EXPLICITLY_DENIED),
    ("mfa 9 hours ago", {"aws:MultiFactorAuthPresent": "true", "aws:MultiFactorAuthAge": "32400"}, EXPLICITLY_DENIED),
    ("mfa 8 hours ago", {"aws:MultiFactorAuthPresent": "true", "aws:MultiFactorAuthAge": "28800"}, ALLOWED),
    ("mfa 1 hour ago", {"aws:MultiFactorAuthPresent": "true", "aws:MultiFactorAuthAge": "3600"}, ALLOWED),
]:
    add(f"require-mfa-for-api, {label}: s3 list buckets", "admin+require-mfa", S3, context, decision)
add("require-mfa-for-api, access key: get a session token", "admin+require-mfa", SELF_SERVICE[-1], {}, ALLOWED)

# ----------------------------------------------------------------------------- the execution role

ROLE_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/mfa-enforcer-prod-scheduled_scan/mfa-enforcer-prod-scheduled_scan"
SLACK_PARAMETER = "/mfa-enforcer/slack-webhook"
SLACK_PARAMETER_ARN = f"arn:aws:ssm:{docs.REGION}:{ACCOUNT}:parameter{SLACK_PARAMETER}"
BOT_TOKEN_PARAMETER_ARN = f"arn:aws:ssm:{docs.REGION}:{ACCOUNT}:parameter/mfa-enforcer/slack-bot-token"
SENDER = "mfa-enforcer@example.com"
IDENTITY = f"arn:aws:ses:{docs.REGION}:{ACCOUNT}:identity"
ROLE_POLICIES = {
    **{f"policy-{stage}.json": docs.load_json(docs.role_policy_file(stage)) for stage in docs.STAGES},
    "packaged": docs.packaged_role_policy(
        docs.Deployment(
            parameters={
                "SlackWebhookParameter": SLACK_PARAMETER,
                "SesSender": SENDER,
                "SlackBotTokenParameter": "/mfa-enforcer/slack-bot-token",
                "SecurityHub": "on",
            }
        )
    ),
}
NOTIFIED = "mfa-enforcer:notified"
BOT_TAGS = ["mfa-enforcer:quarantined-at", "mfa-enforcer:reason"]
SIGN_IN_TAGS = [*BOT_TAGS, "mfa-enforcer:sign-in-ip"]
GRACE = "mfa-enforcer:grace-deadline"
EXEMPTIONS_ARN = f"arn:aws:ssm:{docs.REGION}:{ACCOUNT}:parameter/mfa-enforcer/exemptions"
LOG_STREAM = (
    f"arn:aws:logs:{docs.REGION}:{ACCOUNT}:log-group:/aws/lambda/mfa-enforcer-scheduled_scan:log-stream:2026/11/23/x"
)
KEY = f"arn:aws:kms:{docs.REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

# (label, action, resource, context, decision)
ROLE_CASES = [
    ("attach the quarantine policy", "iam:AttachUserPolicy", user(OTHER), {"iam:PolicyARN": QUARANTINE_ARN}, ALLOWED),
    (
        "attach it to a user with a path",
        "iam:AttachUserPolicy",
        f"arn:aws:iam::{ACCOUNT}:user/team/carol",
        {"iam:PolicyARN": QUARANTINE_ARN},
        ALLOWED,
    ),
    (
        "attach AdministratorAccess",
        "iam:AttachUserPolicy",
        user(OTHER),
        {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"},
        IMPLICITLY_DENIED,
    ),
    (
        "detach another policy",
        "iam:DetachUserPolicy",
        user(OTHER),
        {"iam:PolicyARN": f"arn:aws:iam::{ACCOUNT}:policy/security-audit"},
        IMPLICITLY_DENIED,
    ),
    ("detach the quarantine policy", "iam:DetachUserPolicy", user(OTHER), {"iam:PolicyARN": QUARANTINE_ARN}, ALLOWED),
    ("tag with the bot's keys", "iam:TagUser", user(OTHER), {"aws:TagKeys": BOT_TAGS}, ALLOWED),
    (
        "tag a user who carries some other tag",
        "iam:TagUser",
        user(OTHER),
        {"aws:TagKeys": BOT_TAGS, "aws:ResourceTag/team": "data"},
        ALLOWED,
    ),
    # The claim (iam_gateway): a second quarantined-at is refused, whoever wrote the first.
    (
        "tag a user who already carries quarantined-at",
        "iam:TagUser",
        user(OTHER),
        {"aws:TagKeys": BOT_TAGS, "aws:ResourceTag/mfa-enforcer:quarantined-at": "2026-11-23T12:00:00Z"},
        IMPLICITLY_DENIED,
    ),
    (
        "overwrite only the reason of a tagged user",
        "iam:TagUser",
        user(OTHER),
        {"aws:TagKeys": ["mfa-enforcer:reason"], "aws:ResourceTag/mfa-enforcer:quarantined-at": "2026-11-23T12:00:00Z"},
        IMPLICITLY_DENIED,
    ),
    ("untag the bot's keys", "iam:UntagUser", user(OTHER), {"aws:TagKeys": BOT_TAGS}, ALLOWED),
    (
        "untag a user who carries quarantined-at",
        "iam:UntagUser",
        user(OTHER),
        {"aws:TagKeys": BOT_TAGS, "aws:ResourceTag/mfa-enforcer:quarantined-at": "2026-11-23T12:00:00Z"},
        ALLOWED,
    ),
    (
        "tag with another key too",
        "iam:TagUser",
        user(OTHER),
        {"aws:TagKeys": ["mfa-enforcer:reason", "cost-center"]},
        IMPLICITLY_DENIED,
    ),
    ("untag another key", "iam:UntagUser", user(OTHER), {"aws:TagKeys": ["owner"]}, IMPLICITLY_DENIED),
    # The integrity of the quarantine: read and restore that one policy, attach it to that one group.
    ("read the quarantine policy", "iam:GetPolicy", QUARANTINE_ARN, {}, ALLOWED),
    ("read its default version", "iam:GetPolicyVersion", QUARANTINE_ARN, {}, ALLOWED),
    ("list its versions", "iam:ListPolicyVersions", QUARANTINE_ARN, {}, ALLOWED),
    ("read another policy's version", "iam:GetPolicyVersion", OTHER_POLICY_ARN, {}, IMPLICITLY_DENIED),
    ("restore: a new version of it", "iam:CreatePolicyVersion", QUARANTINE_ARN, {}, ALLOWED),
    ("restore: delete an old version of it", "iam:DeletePolicyVersion", QUARANTINE_ARN, {}, ALLOWED),
    ("restore: re-create it", "iam:CreatePolicy", QUARANTINE_ARN, {}, ALLOWED),
    ("a new version of another policy", "iam:CreatePolicyVersion", OTHER_POLICY_ARN, {}, IMPLICITLY_DENIED),
    (
        "a new version of an AWS policy",
        "iam:CreatePolicyVersion",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        {},
        IMPLICITLY_DENIED,
    ),
    ("delete another policy's version", "iam:DeletePolicyVersion", OTHER_POLICY_ARN, {}, IMPLICITLY_DENIED),
    ("create another policy", "iam:CreatePolicy", OTHER_POLICY_ARN, {}, IMPLICITLY_DENIED),
    ("switch its default version", "iam:SetDefaultPolicyVersion", QUARANTINE_ARN, {}, IMPLICITLY_DENIED),
    ("delete it", "iam:DeletePolicy", QUARANTINE_ARN, {}, IMPLICITLY_DENIED),
    (
        "attach it to its group",
        "iam:AttachGroupPolicy",
        QUARANTINE_GROUP_ARN,
        {"iam:PolicyARN": QUARANTINE_ARN},
        ALLOWED,
    ),
    (
        "attach it to another group",
        "iam:AttachGroupPolicy",
        f"arn:aws:iam::{ACCOUNT}:group/Admins",
        {"iam:PolicyARN": QUARANTINE_ARN},
        IMPLICITLY_DENIED,
    ),
    (
        "attach another policy to its group",
        "iam:AttachGroupPolicy",
        QUARANTINE_GROUP_ARN,
        {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"},
        IMPLICITLY_DENIED,
    ),
    (
        "detach it from its group",
        "iam:DetachGroupPolicy",
        QUARANTINE_GROUP_ARN,
        {"iam:PolicyARN": QUARANTINE_ARN},
        IMPLICITLY_DENIED,
    ),
    ("an inline policy on its group", "iam:PutGroupPolicy", QUARANTINE_GROUP_ARN, {}, IMPLICITLY_DENIED),
    (
        "attach it to a role",
        "iam:AttachRolePolicy",
        f"arn:aws:iam::{ACCOUNT}:role/Admin",
        {"iam:PolicyARN": QUARANTINE_ARN},
        IMPLICITLY_DENIED,
    ),
    # A quarantine after a sign-in also records the sign-in's source IP, in the same claim.
    ("claim with the sign-in ip", "iam:TagUser", user(OTHER), {"aws:TagKeys": SIGN_IN_TAGS}, ALLOWED),
    ("untag the sign-in ip with the rest", "iam:UntagUser", user(OTHER), {"aws:TagKeys": SIGN_IN_TAGS}, ALLOWED),
    (
        "overwrite the sign-in ip of a quarantined user",
        "iam:TagUser",
        user(OTHER),
        {
            "aws:TagKeys": ["mfa-enforcer:sign-in-ip"],
            "aws:ResourceTag/mfa-enforcer:quarantined-at": "2026-11-23T12:00:00Z",
        },
        IMPLICITLY_DENIED,
    ),
    # The grace deadline: written once, never moved, never removed by the bot.
    ("record a grace deadline", "iam:TagUser", user(OTHER), {"aws:TagKeys": [GRACE]}, ALLOWED),
    (
        "move a recorded grace deadline",
        "iam:TagUser",
        user(OTHER),
        {"aws:TagKeys": [GRACE], f"aws:ResourceTag/{GRACE}": "2026-11-24T12:00:00Z"},
        IMPLICITLY_DENIED,
    ),
    (
        "record a grace deadline with the claim",
        "iam:TagUser",
        user(OTHER),
        {"aws:TagKeys": [GRACE, *BOT_TAGS]},
        IMPLICITLY_DENIED,
    ),
    ("remove a grace deadline", "iam:UntagUser", user(OTHER), {"aws:TagKeys": [GRACE]}, IMPLICITLY_DENIED),
    ("read attached policies", "iam:ListAttachedUserPolicies", user(OTHER), {}, ALLOWED),
    ("list group names", "iam:ListGroups", "*", {}, ALLOWED),
    ("read the exemptions history", "ssm:GetParameterHistory", EXEMPTIONS_ARN, {}, ALLOWED),
    ("read the webhook history", "ssm:GetParameterHistory", SLACK_PARAMETER_ARN, {}, IMPLICITLY_DENIED),
    ("join the quarantine group", "iam:AddUserToGroup", QUARANTINE_GROUP_ARN, {}, ALLOWED),
    ("leave the quarantine group", "iam:RemoveUserFromGroup", QUARANTINE_GROUP_ARN, {}, ALLOWED),
    ("join another group", "iam:AddUserToGroup", f"arn:aws:iam::{ACCOUNT}:group/Admins", {}, IMPLICITLY_DENIED),
    ("leave another group", "iam:RemoveUserFromGroup", f"arn:aws:iam::{ACCOUNT}:group/Admins", {}, IMPLICITLY_DENIED),
    ("read mfa devices", "iam:ListMFADevices", user(OTHER), {}, ALLOWED),
    ("read the credential report", "iam:GetCredentialReport", "*", {}, ALLOWED),
    ("read what root holds", "iam:GetAccountSummary", "*", {}, ALLOWED),
    ("create an access key", "iam:CreateAccessKey", user(OTHER), {}, IMPLICITLY_DENIED),
    ("write an inline policy", "iam:PutUserPolicy", user(OTHER), {}, IMPLICITLY_DENIED),
    ("reset a password", "iam:UpdateLoginProfile", user(OTHER), {}, IMPLICITLY_DENIED),
    ("delete a password", "iam:DeleteLoginProfile", user(OTHER), {}, IMPLICITLY_DENIED),
    (
        "read the exemptions",
        "ssm:GetParameter",
        f"arn:aws:ssm:{docs.REGION}:{ACCOUNT}:parameter/mfa-enforcer/exemptions",
        {},
        ALLOWED,
    ),
    ("read the webhook", "ssm:GetParameter", SLACK_PARAMETER_ARN, {}, ALLOWED),
    (
        "read another parameter",
        "ssm:GetParameter",
        f"arn:aws:ssm:{docs.REGION}:{ACCOUNT}:parameter/prod/db-password",
        {},
        IMPLICITLY_DENIED,
    ),
    # Only the kms:ViaService half of the KMS statement can be judged here: the simulator (0.1.173)
    # ignores kms:EncryptionContext:* request keys, so the PARAMETER_ARN half is checked by
    # tests/unit/test_policies.py instead, as text.
    (
        "decrypt directly, not through ssm",
        "kms:Decrypt",
        KEY,
        {"kms:EncryptionContext:PARAMETER_ARN": SLACK_PARAMETER_ARN},
        IMPLICITLY_DENIED,
    ),
    (
        "publish findings",
        "sns:Publish",
        f"arn:aws:sns:{docs.REGION}:{ACCOUNT}:mfa-enforcer-findings",
        {},
        ALLOWED,
    ),
    ("publish elsewhere", "sns:Publish", f"arn:aws:sns:{docs.REGION}:{ACCOUNT}:payments", {}, IMPLICITLY_DENIED),
    (
        "import findings into the account's own product",
        "securityhub:BatchImportFindings",
        f"arn:aws:securityhub:{docs.REGION}:{ACCOUNT}:product/{ACCOUNT}/default",
        {},
        ALLOWED,
    ),
    (
        "import findings as a partner product",
        "securityhub:BatchImportFindings",
        f"arn:aws:securityhub:{docs.REGION}:{ACCOUNT}:product/crowdstrike/crowdstrike-falcon",
        {},
        IMPLICITLY_DENIED,
    ),
    (
        "change findings' workflow",
        "securityhub:BatchUpdateFindings",
        f"arn:aws:securityhub:{docs.REGION}:{ACCOUNT}:hub/default",
        {},
        IMPLICITLY_DENIED,
    ),
    # Owner notices: e-mail only From the bot's address, whichever identity (address or domain) authorizes it.
    ("e-mail an owner", "ses:SendRawEmail", f"{IDENTITY}/{SENDER}", {"ses:FromAddress": SENDER}, ALLOWED),
    (
        "e-mail an owner through the domain identity",
        "ses:SendRawEmail",
        f"{IDENTITY}/example.com",
        {"ses:FromAddress": SENDER},
        ALLOWED,
    ),
    (
        "e-mail as somebody else",
        "ses:SendRawEmail",
        f"{IDENTITY}/example.com",
        {"ses:FromAddress": "ceo@example.com"},
        IMPLICITLY_DENIED,
    ),
    (
        "send with the SES v2 simple API",
        "ses:SendEmail",
        f"{IDENTITY}/{SENDER}",
        {"ses:FromAddress": SENDER},
        IMPLICITLY_DENIED,
    ),
    ("record owner notices", "iam:TagUser", user(OTHER), {"aws:TagKeys": [NOTIFIED]}, ALLOWED),
    (
        "record owner notices on a quarantined user",
        "iam:TagUser",
        user(OTHER),
        {"aws:TagKeys": [NOTIFIED], "aws:ResourceTag/mfa-enforcer:quarantined-at": "2026-11-23T12:00:00Z"},
        ALLOWED,
    ),
    (
        "record owner notices and claim in one call",
        "iam:TagUser",
        user(OTHER),
        {"aws:TagKeys": [NOTIFIED, "mfa-enforcer:quarantined-at"]},
        IMPLICITLY_DENIED,
    ),
    ("rewrite the owner's contact tag", "iam:TagUser", user(OTHER), {"aws:TagKeys": ["email"]}, IMPLICITLY_DENIED),
    ("erase the notice record", "iam:UntagUser", user(OTHER), {"aws:TagKeys": [NOTIFIED]}, IMPLICITLY_DENIED),
    ("read the account alias", "iam:ListAccountAliases", "*", {}, ALLOWED),
    ("read the slack bot token", "ssm:GetParameter", BOT_TOKEN_PARAMETER_ARN, {}, ALLOWED),
    (
        "decrypt the bot token directly, not through ssm",
        "kms:Decrypt",
        KEY,
        {"kms:EncryptionContext:PARAMETER_ARN": BOT_TOKEN_PARAMETER_ARN},
        IMPLICITLY_DENIED,
    ),
    ("write own logs", "logs:PutLogEvents", LOG_STREAM, {}, ALLOWED),
    (
        "write other logs",
        "logs:PutLogEvents",
        f"arn:aws:logs:{docs.REGION}:{ACCOUNT}:log-group:/aws/lambda/payroll:log-stream:x",
        {},
        IMPLICITLY_DENIED,
    ),
]


def requests() -> list[Request]:
    out = [
        Request(id=case_id, action=action, resource=resource, policies=POLICY_SETS[policies], context=context)
        for case_id, (policies, action, resource, context, _, _) in CASES.items()
    ]
    for name, document in ROLE_POLICIES.items():
        for label, action, resource, context, _ in ROLE_CASES:
            out.append(
                Request(
                    id=f"role {name}: {label}",
                    action=action,
                    resource=resource,
                    policies={name: document},
                    context=context,
                    principal=ROLE_SESSION,
                )
            )
    return out


@pytest.fixture(scope="module")
def decisions(iam_simulator: None) -> dict[str, Decision]:
    """Every request of this module, evaluated in one node run."""
    return evaluate(requests())


@pytest.mark.parametrize("case_id", list(CASES))
def test_user_policies(decisions: dict[str, Decision], case_id: str) -> None:
    _, _, _, _, expected, decided_by = CASES[case_id]
    answer = decisions[case_id]
    assert answer.decision == expected, answer.explain()
    if decided_by is not None:
        assert decided_by in answer.denied_by, answer.explain()


def test_the_fix_alone_denies_enabling_mfa_on_another_user(decisions: dict[str, Decision]) -> None:
    """No other statement covers it: remove the fix and AdministratorAccess allows it (case above)."""
    answer = decisions["admin without mfa (console-no-mfa): enable mfa on other"]
    assert answer.denied_by == (f"quarantine:{FIX_SID}",), answer.explain()


@pytest.mark.parametrize("policy", list(ROLE_POLICIES))
@pytest.mark.parametrize("label, expected", [(c[0], c[4]) for c in ROLE_CASES])
def test_execution_role(decisions: dict[str, Decision], policy: str, label: str, expected: str) -> None:
    answer = decisions[f"role {policy}: {label}"]
    assert answer.decision == expected, answer.explain()
