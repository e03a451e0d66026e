"""The IAM documents as text: linted, least privilege, and the copies in the templates kept in step.

What the policies *mean* under IAM's evaluation is tested in tests/policy_sim; which calls the
code really makes, in tests/functional/test_role_permissions.py. Here, without AWS or node:

- parliament (with its community auditors) reports nothing on any policy this repository ships,
  except the findings accepted below, each with the reason it is acceptable;
- the execution role grants exactly what the adapters' `PERMISSIONS` declare (plus Lambda logging
  and SSM's KMS decrypt), no `*` action, no write on `Resource: "*"`;
- .chalice/merge-template.yaml embeds policies/quarantine.json unchanged, gives the roles the
  stage policy with narrower resources only, and wires names the code agrees with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import parliament
import pytest

from chalicelib.adapters import quarantine_policy
from chalicelib.core import config, events, exemptions, model
from tests.policy_sim import documents as docs

ACCOUNT, REGION = docs.ACCOUNT, docs.REGION
SLACK_PARAMETER = "/mfa-enforcer/slack-webhook"
BOT_TOKEN_PARAMETER = "/mfa-enforcer/slack-bot-token"
SENDER = "mfa-enforcer@example.com"
CENTRAL_TOPIC = "arn:aws:sns:us-east-1:999999999999:mfa-enforcer-findings"
OWNER_NOTICES = {"SesSender": SENDER, "SlackBotTokenParameter": BOT_TOKEN_PARAMETER}
DEPLOYMENTS = {
    "defaults": docs.Deployment(),
    "with slack": docs.Deployment(parameters={"SlackWebhookParameter": SLACK_PARAMETER}),
    "central topic": docs.Deployment(parameters={"CentralTopicArn": CENTRAL_TOPIC, "Mode": "enforce"}),
    "with security hub": docs.Deployment(parameters={"SecurityHub": "on", "SlackWebhookParameter": SLACK_PARAMETER}),
    "owner e-mail": docs.Deployment(parameters={"SesSender": SENDER, "SesRegion": "eu-west-1"}),
    "owner slack": docs.Deployment(parameters={"SlackBotTokenParameter": BOT_TOKEN_PARAMETER}),
    "everything": docs.Deployment(
        parameters={
            "SlackWebhookParameter": SLACK_PARAMETER,
            **OWNER_NOTICES,
            "ReminderHours": "72,24,1",
            "OwnerNoticesInReportMode": "on",
            "OwnerTag": "owner-email",
            "SecurityHub": "on",
        }
    ),
}
QUARANTINE_POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/mfa-enforcer-quarantine"
WRITE_LEVELS = frozenset({"Write", "Permissions management", "Tagging"})


def policy_documents() -> dict[str, tuple[str, dict[str, Any]]]:
    """label -> (kind, document) for every policy we ship, files and template copies alike."""
    found: dict[str, tuple[str, dict[str, Any]]] = {
        "policies/quarantine.json": ("quarantine", docs.load_json(docs.QUARANTINE_POLICY)),
        "policies/require-mfa-for-api.json": ("require-mfa", docs.load_json(docs.REQUIRE_MFA_POLICY)),
    }
    for stage in docs.STAGES:
        found[f".chalice/policy-{stage}.json"] = ("role", docs.load_json(docs.role_policy_file(stage)))
    template = docs.load_template(docs.MERGE_TEMPLATE)
    found["merge-template QuarantinePolicy"] = (
        "quarantine",
        template["Resources"]["QuarantinePolicy"]["Properties"]["PolicyDocument"],
    )
    for name, deployment in DEPLOYMENTS.items():
        found[f"merge-template role policy ({name})"] = ("role", docs.packaged_role_policy(deployment))
    found["signin-forwarder role policy"] = ("forwarder", docs.forwarder_role_policy())
    shipped = {str(p.relative_to(docs.ROOT)) for p in docs.policy_files()}
    assert shipped <= set(found), f"policy files this test does not know: {sorted(shipped - set(found))}"
    return found


DOCUMENTS = policy_documents()

# Findings accepted on purpose: (kind of document, parliament issue, where) -> why. "where" is the
# Sid of the statement for located findings, and the flagged actions (or escalation type) for the
# community auditors, which report no location.
ACCEPTED = {
    ("quarantine", "RESOURCE_EFFECTIVELY_STAR", "AllowCreateVirtualMFADevice"): (
        "CreateVirtualMFADevice acts only on mfa/ resources, so mfa/* reads as *. Device names are the user's "
        "choice (AWS allows several devices per user), so they cannot be pinned; tying a device to a user "
        "is EnableMFADevice, which the policy confines to the caller's own user."
    ),
    (
        "quarantine",
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "iam:changepassword,iam:createvirtualmfadevice,iam:deactivatemfadevice,iam:enablemfadevice,iam:resyncmfadevice",
    ): (
        "The self-service steps the policy exists to allow, each on the caller's own user only "
        "(${aws:username}); tests/policy_sim shows they fail on any other user."
    ),
    ("role", "RESOURCE_EFFECTIVELY_STAR", "ReadGroups"): "Read-only; exemption groups may have any name.",
    ("role", "RESOURCE_EFFECTIVELY_STAR", "ReadUsers"): "Read-only; any IAM user may need checking.",
    ("role", "RESOURCE_EFFECTIVELY_STAR", "AttachOnlyTheQuarantinePolicy"): (
        "Any user may need quarantining; the iam:PolicyARN condition, which parliament does not evaluate, "
        "limits the write to the quarantine policy (proven in tests/policy_sim)."
    ),
    ("role", "RESOURCE_EFFECTIVELY_STAR", "ClaimAQuarantineOnce"): (
        "Any user may need tagging; the aws:TagKeys condition limits it to the bot's two keys, and the "
        "aws:ResourceTag condition to users not yet tagged (tests/policy_sim)."
    ),
    ("role", "RESOURCE_EFFECTIVELY_STAR", "RecordAGraceDeadlineOnce"): (
        "Any user may be given a console password; the aws:TagKeys condition limits it to the grace-deadline key, "
        "and the aws:ResourceTag condition to users without one, so a recorded deadline is never moved "
        "(tests/policy_sim)."
    ),
    ("role", "RESOURCE_EFFECTIVELY_STAR", "UntagOnlyTheBotsKeys"): (
        "Any user may need releasing; the aws:TagKeys condition limits it to the bot's two keys (tests/policy_sim)."
    ),
    (
        "role",
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "iam:addusertogroup,iam:attachgrouppolicy,iam:attachuserpolicy,iam:createpolicy,iam:createpolicyversion,"
        "iam:deletepolicyversion,iam:detachuserpolicy,iam:removeuserfromgroup",
    ): (
        "Quarantining is the bot's job: attach/detach only the quarantine policy, add/remove only to the "
        "quarantine group; keeping the quarantine whole is too: versions of (and re-creating) that one policy, "
        "attaching it to that one group (tests/policy_sim)."
    ),
    ("role", "PRIVILEGE_ESCALATION", "AttachGroupPolicy"): (
        "Only to the group mfa-enforcer-quarantine and only with iam:PolicyARN = the quarantine policy."
    ),
    ("role", "PRIVILEGE_ESCALATION", "CreateNewPolicyVersion"): (
        "Only on the quarantine policy: restoring it is a new default version with the shipped document. The bot "
        "could write any document there, which is the trust already placed in code that attaches that policy; it "
        "cannot version any other policy (tests/policy_sim)."
    ),
    ("role", "RESOURCE_EFFECTIVELY_STAR", "DecryptTheSlackWebhookOnlyThroughSsm"): (
        "In .chalice/policy-<stage>.json the key is not known (aws/ssm or the operator's own key); the conditions "
        "limit kms:Decrypt to SSM decrypting the webhook parameter for the bot. The packaged role names this "
        "account's keys only."
    ),
    ("role", "RESOURCE_EFFECTIVELY_STAR", "DecryptTheSlackBotTokenOnlyThroughSsm"): (
        "As for the webhook: the conditions limit kms:Decrypt to SSM decrypting the bot-token parameter; the "
        "packaged role names this account's keys only."
    ),
    ("role", "RESOURCE_EFFECTIVELY_STAR", "RecordOwnerNotices"): (
        "Any user may need telling; the aws:TagKeys condition limits the write to the one key "
        "mfa-enforcer:notified (tests/policy_sim)."
    ),
    ("role", "RESOURCE_EFFECTIVELY_STAR", "SendOwnerNoticesFromTheBotsAddress"): (
        "The identity that authorizes a send is the address or its domain, whichever is verified; the "
        "ses:FromAddress condition limits sending to the bot's address (tests/policy_sim)."
    ),
    ("role", "PRIVILEGE_ESCALATION", "AttachUserPolicy"): (
        "Limited by iam:PolicyARN to the quarantine policy, which only takes permissions away."
    ),
    ("role", "PRIVILEGE_ESCALATION", "AddUserToGroup"): (
        "Limited to the quarantine group, which holds only the quarantine policy."
    ),
}


def sid_at(text: str, line: int) -> str:
    """The Sid of the statement parliament located at `line` (the statement's first line)."""
    for candidate in text.splitlines()[line - 1 :]:
        if '"Sid"' in candidate:
            return str(json.loads("{" + candidate.strip().rstrip(",") + "}")["Sid"])
    return "(no Sid)"


def findings(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(parliament finding id, where) for every parliament finding, community auditors included."""
    text = json.dumps(document, indent=2)
    policy = parliament.analyze_policy_string(text, include_community_auditors=True)
    out = set()
    for finding in policy.findings:
        location = finding.location or {}
        if "line" in location:
            where = sid_at(text, location["line"])
        elif "type" in location:
            where = location["type"]
        else:
            where = ",".join(sorted(location.get("actions", []))) or str(finding.detail)
        out.add((finding.issue, where))
    return out


@pytest.mark.parametrize("label", list(DOCUMENTS))
def test_parliament_reports_nothing_but_accepted_findings(label: str) -> None:
    kind, document = DOCUMENTS[label]
    found = findings(document)
    unexpected = {f for f in found if (kind, *f) not in ACCEPTED}
    assert not unexpected, f"parliament on {label}: {sorted(unexpected)}"
    if label.startswith((".chalice/", "policies/")):
        stale = {(code, where) for (k, code, where) in ACCEPTED if k == kind} - found
        assert not stale, f"accepted findings that no longer occur in {label}: drop them from ACCEPTED: {sorted(stale)}"


def action_levels() -> dict[str, str]:
    """'service:Action' (lower case) -> its IAM access level, from parliament's copy of AWS's reference."""
    definition = json.loads((Path(parliament.__file__).parent / "iam_definition.json").read_text())
    return {
        f"{service['prefix']}:{privilege['privilege']}".lower(): privilege["access_level"]
        for service in definition
        for privilege in service["privileges"]
    }


LEVELS = action_levels()


@pytest.mark.parametrize("label", list(DOCUMENTS))
def test_no_wildcard_action_and_no_write_on_every_resource(label: str) -> None:
    _, document = DOCUMENTS[label]
    for statement in docs.statements(document):
        if statement["Effect"] != "Allow":
            continue
        sid = statement.get("Sid")
        assert "NotAction" not in statement and "NotResource" not in statement, f"{label} {sid}: Allow with Not*"
        actions = docs.as_list(statement["Action"])
        assert not [a for a in actions if "*" in a], f"{label} {sid}: wildcard action"
        unknown = [a for a in actions if a.lower() not in LEVELS]
        assert not unknown, f"{label} {sid}: actions AWS does not define: {unknown}"
        if "*" in docs.as_list(statement["Resource"]):
            writes = [a for a in actions if LEVELS[a.lower()] in WRITE_LEVELS]
            assert not writes, f"{label} {sid}: writes on Resource '*': {writes}"


@pytest.mark.parametrize("stage", docs.STAGES)
def test_role_grants_exactly_what_the_code_declares(stage: str) -> None:
    """Every action an adapter declares in PERMISSIONS is granted, and nothing else is."""
    declared = docs.declared_permissions()
    granted = docs.allowed_actions(docs.load_json(docs.role_policy_file(stage)))
    needed = docs.role_needs()
    missing = sorted(needed - granted)
    extra = sorted(granted - needed)
    problems = [f"missing {a} (declared by {sorted(declared.get(a, {'Lambda/SSM'}))})" for a in missing]
    problems += [f"granted but declared by no adapter's PERMISSIONS: {a}" for a in extra]
    assert not problems, f".chalice/policy-{stage}.json:\n  " + "\n  ".join(problems)


def test_stages_grant_the_same() -> None:
    """The account is not in the files (see docs/security.md, 'The execution role'), so dev and prod are one policy."""
    dev, prod = (docs.load_json(docs.role_policy_file(stage)) for stage in docs.STAGES)
    assert dev == prod


def test_the_lambda_ships_the_quarantine_policy_unchanged() -> None:
    """The copy inside chalicelib/ is what the integrity check compares IAM's default version with, and restores."""
    packaged = docs.ROOT / "chalicelib" / "policies" / "quarantine.json"
    assert docs.load_json(packaged) == docs.load_json(docs.QUARANTINE_POLICY), (
        "copy policies/quarantine.json to chalicelib/policies/quarantine.json"
    )
    assert quarantine_policy.shipped_document() == docs.load_json(docs.QUARANTINE_POLICY)


def test_template_embeds_the_quarantine_policy_unchanged() -> None:
    template = docs.load_template(docs.MERGE_TEMPLATE)
    embedded = template["Resources"]["QuarantinePolicy"]["Properties"]["PolicyDocument"]
    assert embedded == docs.load_json(docs.QUARANTINE_POLICY), (
        "copy policies/quarantine.json into QuarantinePolicy.PolicyDocument of .chalice/merge-template.yaml"
    )


def by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in docs.statements(document)}


@pytest.mark.parametrize("stage", docs.STAGES)
@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
def test_packaged_role_is_the_stage_policy_on_narrower_resources(stage: str, deployment: str) -> None:
    """Same statements, actions, effects and condition keys; every resource and condition value within the file's."""
    packaged = by_sid(docs.packaged_role_policy(DEPLOYMENTS[deployment]))
    written = by_sid(docs.load_json(docs.role_policy_file(stage)))
    assert set(packaged) <= set(written), f"statements not in policy-{stage}.json: {set(packaged) - set(written)}"
    for sid, statement in packaged.items():
        source = written[sid]
        assert statement["Effect"] == source["Effect"], sid
        assert set(docs.as_list(statement["Action"])) == set(docs.as_list(source["Action"])), sid
        outside = docs.uncovered(docs.as_list(statement["Resource"]), docs.as_list(source["Resource"]))
        if sid == "PublishFindings" and deployment == "central topic":
            assert outside == [] or outside == [CENTRAL_TOPIC], sid
        else:
            assert outside == [], f"{sid}: resources outside policy-{stage}.json: {outside}"
        conditions, source_conditions = statement.get("Condition", {}), source.get("Condition", {})
        assert {op: set(keys) for op, keys in conditions.items()} == {
            op: set(keys) for op, keys in source_conditions.items()
        }, sid
        for operator, keys in conditions.items():
            for key, values in keys.items():
                outside = docs.uncovered(docs.as_list(values), docs.as_list(source_conditions[operator][key]))
                assert outside == [], f"{sid}: {operator} {key} values outside policy-{stage}.json: {outside}"


OWNER_STATEMENTS = {"ReadTheAccountAlias", "RecordOwnerNotices"}


@pytest.mark.parametrize(
    ("deployment", "optional"),
    [
        ("defaults", set()),
        ("with slack", {"DecryptTheSlackWebhookOnlyThroughSsm"}),
        ("with security hub", {"DecryptTheSlackWebhookOnlyThroughSsm", "ImportOwnFindings"}),
        ("owner e-mail", OWNER_STATEMENTS | {"SendOwnerNoticesFromTheBotsAddress"}),
        ("owner slack", OWNER_STATEMENTS | {"DecryptTheSlackBotTokenOnlyThroughSsm"}),
    ],
)
def test_optional_statements_exist_only_with_their_setting(deployment: str, optional: set[str]) -> None:
    """A deployment without Slack, Security Hub, e-mail or owner notices gets none of their grants."""
    without = set(by_sid(docs.packaged_role_policy(DEPLOYMENTS["defaults"])))
    packaged = set(by_sid(docs.packaged_role_policy(DEPLOYMENTS[deployment])))
    assert packaged - without == optional
    assert set(by_sid(docs.packaged_role_policy(DEPLOYMENTS["everything"]))) == set(
        by_sid(docs.load_json(docs.role_policy_file("prod")))
    )


def test_owner_notice_grants_name_the_configured_sender_region_and_token() -> None:
    mail = by_sid(docs.packaged_role_policy(DEPLOYMENTS["owner e-mail"]))["SendOwnerNoticesFromTheBotsAddress"]
    assert mail["Action"] == "ses:SendRawEmail"
    assert mail["Resource"] == f"arn:aws:ses:eu-west-1:{ACCOUNT}:identity/*"
    assert mail["Condition"] == {"StringLike": {"ses:FromAddress": SENDER}}
    everything = by_sid(docs.packaged_role_policy(DEPLOYMENTS["everything"]))
    assert everything["SendOwnerNoticesFromTheBotsAddress"]["Resource"] == f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/*"
    token = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{BOT_TOKEN_PARAMETER}"
    assert token in everything["ReadTheBotsParameters"]["Resource"]
    assert everything["DecryptTheSlackBotTokenOnlyThroughSsm"]["Condition"] == {
        "StringLike": {"kms:ViaService": f"ssm.{REGION}.amazonaws.com", "kms:EncryptionContext:PARAMETER_ARN": token}
    }
    record = everything["RecordOwnerNotices"]["Condition"]
    assert record == {
        "ForAllValues:StringEquals": {"aws:TagKeys": [model.NOTIFIED_TAG]},
        "Null": {"aws:TagKeys": "false"},
    }


def test_security_hub_imports_only_into_the_accounts_own_default_product() -> None:
    written = by_sid(docs.load_json(docs.role_policy_file("prod")))["ImportOwnFindings"]
    assert (written["Action"], written["Resource"]) == (
        "securityhub:BatchImportFindings",
        "arn:*:securityhub:*:*:product/*/default",
    )
    packaged = by_sid(docs.packaged_role_policy(DEPLOYMENTS["with security hub"]))["ImportOwnFindings"]
    assert packaged["Resource"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"


def test_packaged_role_names_the_resources_the_stack_creates() -> None:
    default = by_sid(docs.packaged_role_policy(DEPLOYMENTS["defaults"]))
    assert default["ListQuarantinedUsers"]["Resource"] == QUARANTINE_POLICY_ARN
    assert default["AttachOnlyTheQuarantinePolicy"]["Condition"]["ArnLike"]["iam:PolicyARN"] == QUARANTINE_POLICY_ARN
    assert (
        default["ManageOnlyTheQuarantineGroup"]["Resource"] == f"arn:aws:iam::{ACCOUNT}:group/{model.QUARANTINE_GROUP}"
    )
    assert default["ReadTheBotsParameters"]["Resource"] == [
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{config.DEFAULT_EXEMPTIONS_PARAMETER}"
    ]
    assert default["PublishFindings"]["Resource"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:mfa-enforcer-findings"
    central = by_sid(docs.packaged_role_policy(DEPLOYMENTS["central topic"]))
    assert central["PublishFindings"]["Resource"] == CENTRAL_TOPIC


def test_every_role_gets_the_same_policy() -> None:
    roles = [f"{name.title().replace('_', '')}Role" for name in docs.FUNCTIONS]
    policies = [docs.packaged_role_policy(DEPLOYMENTS["with slack"], role) for role in roles]
    assert all(p == policies[0] for p in policies), roles


def test_kms_decrypt_only_for_the_webhook_and_only_through_ssm() -> None:
    """Checked as text: the simulator ignores kms:EncryptionContext keys (see tests/policy_sim)."""
    written = by_sid(docs.load_json(docs.role_policy_file("prod")))["DecryptTheSlackWebhookOnlyThroughSsm"]
    assert written["Condition"] == {
        "StringLike": {
            "kms:ViaService": "ssm.*.amazonaws.com",
            "kms:EncryptionContext:PARAMETER_ARN": f"arn:*:ssm:*:*:parameter{SLACK_PARAMETER}",
        }
    }
    packaged = by_sid(docs.packaged_role_policy(DEPLOYMENTS["with slack"]))["DecryptTheSlackWebhookOnlyThroughSsm"]
    assert packaged["Resource"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"
    assert packaged["Condition"] == {
        "StringLike": {
            "kms:ViaService": f"ssm.{REGION}.amazonaws.com",
            "kms:EncryptionContext:PARAMETER_ARN": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{SLACK_PARAMETER}",
        }
    }


def test_policy_files_use_the_names_the_code_uses() -> None:
    role = by_sid(docs.load_json(docs.role_policy_file("prod")))
    for sid in ("ClaimAQuarantineOnce", "UntagOnlyTheBotsKeys"):
        tags = role[sid]["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]
        assert sorted(tags) == sorted(model.QUARANTINE_TAG_KEYS)
    claim = role["ClaimAQuarantineOnce"]["Condition"]["Null"]
    assert claim[f"aws:ResourceTag/{model.QUARANTINED_AT_TAG}"] == "true"
    grace = role["RecordAGraceDeadlineOnce"]["Condition"]
    assert grace["ForAllValues:StringEquals"]["aws:TagKeys"] == [model.GRACE_DEADLINE_TAG]
    assert grace["Null"] == {"aws:TagKeys": "false", f"aws:ResourceTag/{model.GRACE_DEADLINE_TAG}": "true"}
    history = role["ReadTheExemptionsHistory"]
    assert history["Resource"] == f"arn:*:ssm:*:*:parameter{config.DEFAULT_EXEMPTIONS_PARAMETER}"
    assert role["ManageOnlyTheQuarantineGroup"]["Resource"] == f"arn:*:iam::*:group/{model.QUARANTINE_GROUP}"
    assert f"arn:*:ssm:*:*:parameter{config.DEFAULT_EXEMPTIONS_PARAMETER}" in role["ReadTheBotsParameters"]["Resource"]
    assert role["RecordOwnerNotices"]["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"] == [model.NOTIFIED_TAG]
    resources = docs.load_template(docs.MERGE_TEMPLATE)["Resources"]
    assert resources["QuarantineGroup"]["Properties"]["GroupName"] == model.QUARANTINE_GROUP
    policy_name = resources["QuarantinePolicy"]["Properties"]["ManagedPolicyName"]
    assert role["ListQuarantinedUsers"]["Resource"] == f"arn:*:iam::*:policy/{policy_name}"
    assert resources["ExemptionsParameter"]["Properties"]["Name"] == config.DEFAULT_EXEMPTIONS_PARAMETER


def test_exemptions_parameter_starts_as_a_valid_empty_document() -> None:
    value = docs.load_template(docs.MERGE_TEMPLATE)["Resources"]["ExemptionsParameter"]["Properties"]["Value"]
    assert json.loads(value) == {"version": 1, "exemptions": []}
    assert exemptions.loads(value).entries == ()


def environment_variable_names() -> set[str]:
    """Every MFA_ENFORCER_* name config.py reads."""
    return {v for k, v in vars(config).items() if k.isupper() and isinstance(v, str) and v.startswith("MFA_ENFORCER_")}


@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
def test_functions_get_every_setting_and_the_settings_are_valid(deployment: str) -> None:
    template = docs.load_template(docs.MERGE_TEMPLATE)
    resolver = docs.Resolver(template, DEPLOYMENTS[deployment])
    functions = {f"{name.title().replace('_', '')}": name for name in docs.FUNCTIONS}
    environments = []
    for logical_id, name in functions.items():
        properties = resolver.resolve(template["Resources"][logical_id]["Properties"])
        assert properties["FunctionName"] == f"mfa-enforcer-{name}"
        environments.append(properties["Environment"]["Variables"])
    assert all(env == environments[0] for env in environments)
    assert set(environments[0]) == environment_variable_names()
    settings = config.from_env(environments[0])
    assert settings.bot_role_names == tuple(
        docs.generated_role_name("mfa-enforcer", role) for role in docs.CHALICE_ROLES
    )
    assert settings.quarantine_policy_arn == QUARANTINE_POLICY_ARN
    assert settings.exemptions_parameter == config.DEFAULT_EXEMPTIONS_PARAMETER
    assert settings.mode.value == DEPLOYMENTS[deployment].parameters.get("Mode", "report")
    created_topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:mfa-enforcer-findings"
    assert settings.sns_topic_arn == (CENTRAL_TOPIC if deployment == "central topic" else created_topic)
    with_webhook = ("with slack", "with security hub", "everything")
    assert settings.slack_webhook_parameter == (SLACK_PARAMETER if deployment in with_webhook else None)
    assert settings.security_hub is (deployment in ("with security hub", "everything"))
    owners = settings.owners
    if deployment == "everything":
        assert (owners.ses_sender, owners.slack_bot_token_parameter) == (SENDER, BOT_TOKEN_PARAMETER)
        assert (owners.reminder_hours, owners.in_report_mode, owners.owner_tag) == ((72, 24, 1), True, "owner-email")
    elif deployment == "defaults":
        assert owners == config.OwnerNotices(), "an empty stack parameter must mean the code's default"
    assert owners.ses_region == ("eu-west-1" if deployment == "owner e-mail" else None)


def test_log_permissions_cover_the_function_names() -> None:
    written = by_sid(docs.load_json(docs.role_policy_file("prod")))["WriteOwnLogs"]["Resource"]
    for name in docs.FUNCTIONS:
        for function in (f"mfa-enforcer-{name}", f"mfa-enforcer-dev-{name}", f"mfa-enforcer-prod-{name}"):
            group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{function}"
            assert docs.uncovered([group, f"{group}:log-stream:2026/11/23/[$LATEST]0a1b"], written) == [], function


def test_forwarder_sends_only_console_logins_to_the_bots_bus() -> None:
    template = docs.load_template(docs.FORWARDER_TEMPLATE)
    away = docs.Resolver(template, docs.Deployment(region="eu-west-1"))
    rule = away.resolve(template["Resources"]["ConsoleLoginForwardRule"]["Properties"])
    bus = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"
    assert rule["EventPattern"] == events.CONSOLE_LOGIN_PATTERN  # the bot's own rule: ConsoleLogin, UserAuthentication
    assert [t["Arn"] for t in rule["Targets"]] == [bus]
    (statement,) = docs.statements(docs.forwarder_role_policy())
    assert (statement["Action"], statement["Resource"]) == ("events:PutEvents", bus)
    assert away.resource_exists("ConsoleLoginForwardRule")
    assert not away.resource_exists("NothingToForwardHere")
    home = docs.Resolver(template, docs.Deployment(region="us-east-1"))
    created = [r for r in template["Resources"] if home.resource_exists(r)]
    assert created == ["NothingToForwardHere"], "in the bot's own region the forwarder must not forward"
