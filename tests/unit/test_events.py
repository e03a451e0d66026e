"""The real-time parser (chalicelib.events) and what each event calls for (decide.triage_*), over stored events.

Every fixture is a real-format EventBridge delivery (tests/fixtures/eventbridge_*.json). The tables
say, per fixture, what the parser reads and what the triage decides; malformed and hostile inputs
must come back as `Invalid` with one clear reason, never as an exception.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core import decide, events, exemptions
from chalicelib.core.model import Action, FindingType, Mode, Trigger
from tests.conftest import FIXTURES, NOW, load_fixture

ACCOUNT = "123456789012"
POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/mfa-enforcer-quarantine"
BOT_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/mfa-enforcer-dev/mfa-enforcer-dev-on_iam_change"
OTHER_ACCOUNT_BOT = "arn:aws:sts::999999999999:assumed-role/mfa-enforcer-dev/mfa-enforcer-dev-on_iam_change"
PROD_IAM_CHANGE = f"arn:aws:sts::{ACCOUNT}:assumed-role/mfa-enforcer-prod-on_iam_change/mfa-enforcer-prod-on_iam_change"
ENFORCE = decide.Policy(mode=Mode.ENFORCE, grace=timedelta(hours=24))
REPORT = decide.Policy(mode=Mode.REPORT, grace=timedelta(hours=24))


def test_every_eventbridge_fixture_is_covered_by_a_table() -> None:
    stored = {p.name for p in FIXTURES.glob("eventbridge_*.json")} - {"eventbridge_scheduled.json"}
    assert stored == {row.fixture for row in LOGINS} | {row.fixture for row in CHANGES} | set(IDENTITY_CENTER)


def test_the_rules_match_on_source_and_event_name_not_detail_type() -> None:
    assert events.CONSOLE_LOGIN_PATTERN == {
        "source": ["aws.signin"],
        "detail": {"eventName": ["ConsoleLogin", "UserAuthentication"]},
    }
    assert events.IAM_CHANGE_PATTERN == {
        "source": ["aws.iam"],
        "detail": {
            "eventName": [
                "EnableMFADevice",
                "DeactivateMFADevice",
                "DeleteVirtualMFADevice",
                "CreateLoginProfile",
                "DetachUserPolicy",
                "RemoveUserFromGroup",
                "AddUserToGroup",
                "CreatePolicyVersion",
                "SetDefaultPolicyVersion",
                "DetachGroupPolicy",
                "DeletePolicy",
            ]
        },
    }


# --- ConsoleLogin ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    fixture: str
    principal: events.PrincipalType
    user: str | None
    success: bool | None
    mfa_used: bool | None
    verdict: type[decide.Ignore | decide.CheckUser | decide.RootSignIn]
    skip: decide.Skip | None = None


LOGINS = [
    Login(
        "eventbridge_console_login_iam_user_no_mfa.json", events.PrincipalType.IAM_USER, "alice", True, False,
        decide.CheckUser,
    ),
    Login(
        "eventbridge_console_login_iam_user_mfa.json", events.PrincipalType.IAM_USER, "alice", True, True,
        decide.Ignore, decide.Skip.MFA_USED,
    ),
    Login(
        "eventbridge_console_login_iam_user_lowercase.json", events.PrincipalType.IAM_USER, "alice", True, False,
        decide.CheckUser,
    ),
    Login(  # the event does not say: the live ListMFADevices decides
        "eventbridge_console_login_iam_user_no_additional_data.json", events.PrincipalType.IAM_USER, "alice", True,
        None, decide.CheckUser,
    ),
    Login(  # eventVersion 1.02 without userName: the ARN (with its path) names the user
        "eventbridge_console_login_iam_user_old_version.json", events.PrincipalType.IAM_USER, "alice", True, False,
        decide.CheckUser,
    ),
    Login(
        "eventbridge_console_login_root_no_mfa.json", events.PrincipalType.ROOT, None, True, False, decide.RootSignIn
    ),
    Login(
        "eventbridge_console_login_assumed_role.json", events.PrincipalType.ASSUMED_ROLE, None, True, False,
        decide.Ignore, decide.Skip.ASSUMED_ROLE,
    ),
    Login(
        "eventbridge_console_login_saml_user.json", events.PrincipalType.SAML_USER, "jdoe@example.com", True, False,
        decide.Ignore, decide.Skip.FEDERATED,
    ),
    Login(
        "eventbridge_console_login_web_identity_user.json", events.PrincipalType.WEB_IDENTITY_USER,
        "example-subject-1234", True, False, decide.Ignore, decide.Skip.FEDERATED,
    ),
    Login(
        "eventbridge_console_login_identity_center.json", events.PrincipalType.ASSUMED_ROLE, None, True, False,
        decide.Ignore, decide.Skip.IDENTITY_CENTER,
    ),
    Login(
        "eventbridge_console_login_failure.json", events.PrincipalType.IAM_USER, "alice", False, False,
        decide.Ignore, decide.Skip.FAILED_SIGN_IN,
    ),
    Login(
        "eventbridge_console_login_other_account.json", events.PrincipalType.IAM_USER, "alice", True, False,
        decide.Ignore, decide.Skip.OTHER_ACCOUNT,
    ),
]  # fmt: skip


@pytest.mark.parametrize("row", LOGINS, ids=lambda r: r.fixture.removeprefix("eventbridge_console_login_"))
def test_console_login_fixture_parses_and_triages(row: Login) -> None:
    login = events.console_login(load_fixture(row.fixture))

    assert isinstance(login, events.ConsoleLogin), login
    assert login.principal.type is row.principal
    assert login.principal.user_name == row.user
    assert (login.success, login.mfa_used) == (row.success, row.mfa_used)
    verdict = decide.triage_login(login, ACCOUNT)
    assert type(verdict) is row.verdict
    if isinstance(verdict, decide.Ignore):
        assert verdict.code is row.skip
        assert verdict.reason
    if isinstance(verdict, decide.CheckUser):
        assert (verdict.user, verdict.stop_if_mfa) == ("alice", True)


def test_the_same_sign_in_is_foreign_to_another_account() -> None:
    login = events.console_login(load_fixture("eventbridge_console_login_iam_user_no_mfa.json"))
    assert isinstance(login, events.ConsoleLogin)

    verdict = decide.triage_login(login, "999999999999")

    assert verdict == decide.Ignore(
        decide.Skip.OTHER_ACCOUNT, "event from account '123456789012'; the bot runs in 999999999999"
    )


def test_root_sign_in_without_mfa_is_a_critical_finding_and_no_write() -> None:
    login = events.console_login(load_fixture("eventbridge_console_login_root_no_mfa.json"))
    assert isinstance(login, events.ConsoleLogin)
    verdict = decide.triage_login(login, ACCOUNT)
    assert isinstance(verdict, decide.RootSignIn)

    finding = decide.root_sign_in(verdict, NOW, Trigger.ON_CONSOLE_LOGIN)

    assert (finding.type, finding.severity.value, finding.action) == (
        FindingType.ROOT_WITHOUT_MFA,
        "critical",
        Action.NONE,
    )
    assert finding.user == "<root_account>"
    assert finding.arn == f"arn:aws:iam::{ACCOUNT}:root"
    assert finding.transition
    assert "198.51.100.7" in finding.reason


@pytest.mark.parametrize(
    ("mfa_used", "expected"),
    [("Yes", decide.Skip.MFA_USED), (None, decide.Skip.ROOT_MFA_UNKNOWN)],
)
def test_root_sign_in_with_mfa_or_unknown_is_left_alone(mfa_used: str | None, expected: decide.Skip) -> None:
    event = load_fixture("eventbridge_console_login_root_no_mfa.json")
    if mfa_used is None:
        del event["detail"]["additionalEventData"]["MFAUsed"]
    else:
        event["detail"]["additionalEventData"]["MFAUsed"] = mfa_used
    login = events.console_login(event)
    assert isinstance(login, events.ConsoleLogin)

    verdict = decide.triage_login(login, ACCOUNT)

    assert isinstance(verdict, decide.Ignore)
    assert verdict.code is expected


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda e: e["detail"], id="bare CloudTrail record"),
        pytest.param(lambda e: {"Records": [e["detail"]]}, id="one-record log file"),
        pytest.param(lambda e: {**e, "detail": json.dumps(e["detail"])}, id="detail serialised as a string"),
        pytest.param(lambda e: {**e, "unexpected": {"extra": [1, 2]}}, id="extra envelope keys"),
    ],
)
def test_wrappers_are_read_liberally(wrap: Any) -> None:
    login = events.console_login(wrap(load_fixture("eventbridge_console_login_iam_user_no_mfa.json")))

    assert isinstance(login, events.ConsoleLogin)
    assert login.principal.user_name == "alice"
    assert login.envelope.account == ACCOUNT
    assert isinstance(decide.triage_login(login, ACCOUNT), decide.CheckUser)


def test_letter_case_of_keys_and_values_does_not_matter() -> None:
    event = load_fixture("eventbridge_console_login_iam_user_no_mfa.json")
    detail = event["detail"]
    detail["additionalEventData"] = {"mfaused": "NO"}
    detail["responseElements"] = {"consoleLogin": "SUCCESS"}
    detail["userIdentity"]["type"] = "iamuser"

    login = events.console_login(event)

    assert isinstance(login, events.ConsoleLogin)
    assert (login.principal.type, login.success, login.mfa_used) == (events.PrincipalType.IAM_USER, True, False)


def test_an_error_message_means_failure_whatever_the_response_says() -> None:
    event = load_fixture("eventbridge_console_login_failure.json")
    event["detail"]["responseElements"] = None

    login = events.console_login(event)

    assert isinstance(login, events.ConsoleLogin)
    assert login.success is False
    assert login.error_message == "Failed authentication"


def test_an_unreadable_outcome_is_not_a_success() -> None:
    event = load_fixture("eventbridge_console_login_iam_user_no_mfa.json")
    event["detail"]["responseElements"] = {"ConsoleLogin": 1}
    login = events.console_login(event)
    assert isinstance(login, events.ConsoleLogin)

    verdict = decide.triage_login(login, ACCOUNT)

    assert isinstance(verdict, decide.Ignore)
    assert verdict.code is decide.Skip.UNKNOWN_OUTCOME


# --- Malformed and hostile input ------------------------------------------------------------------


def _login(**detail_changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = load_fixture("eventbridge_console_login_iam_user_no_mfa.json")
    event["detail"].update(detail_changes)
    return event


def _without(key: str) -> dict[str, Any]:
    event: dict[str, Any] = load_fixture("eventbridge_console_login_iam_user_no_mfa.json")
    del event[key]
    return event


def _without_detail_key(key: str) -> dict[str, Any]:
    event: dict[str, Any] = load_fixture("eventbridge_console_login_iam_user_no_mfa.json")
    del event["detail"][key]
    return event


MALFORMED = [
    pytest.param([], "not a JSON object (got list)", id="list"),
    pytest.param("ConsoleLogin", "not a JSON object (got str)", id="string"),
    pytest.param(None, "not a JSON object (got NoneType)", id="null"),
    pytest.param({}, "neither an EventBridge event", id="empty object"),
    pytest.param(_without("detail"), "the EventBridge envelope has no detail", id="missing detail"),
    pytest.param({**_without("detail"), "detail": [1]}, "detail is not an object (got list)", id="detail list"),
    pytest.param({**_without("detail"), "detail": "x"}, "detail is not an object (got string)", id="detail string"),
    pytest.param(_without_detail_key("userIdentity"), "detail.userIdentity is missing", id="missing userIdentity"),
    pytest.param(_login(userIdentity=["IAMUser"]), "detail.userIdentity is list", id="userIdentity list"),
    pytest.param(_login(eventName=42), "detail.eventName is number", id="eventName number"),
    pytest.param(_without_detail_key("eventName"), "detail.eventName is missing", id="missing eventName"),
    pytest.param(_login(eventName="GetUser"), "detail.eventName 'GetUser' is not ConsoleLogin", id="other eventName"),
    pytest.param({**_login(), "source": "aws.iam"}, "source 'aws.iam' is not aws.signin", id="wrong source"),
    pytest.param({"Records": [{}, {}]}, "2 records; send one record per event", id="two records"),
    pytest.param({"Records": ["x"]}, "Records[0] is not an object", id="record not an object"),
]


@pytest.mark.parametrize(("raw", "problem"), MALFORMED)
def test_malformed_sign_in_events_are_invalid_with_one_reason(raw: object, problem: str) -> None:
    parsed = events.console_login(raw)

    assert isinstance(parsed, events.Invalid)
    assert problem in parsed.problem
    assert "\n" not in parsed.problem


def test_unknown_iam_event_name_is_invalid() -> None:
    event = load_fixture("eventbridge_iam_enable_mfa_device.json")
    event["detail"]["eventName"] = "CreateAccessKey"

    parsed = events.iam_change(event)

    assert parsed == events.Invalid(
        "detail.eventName 'CreateAccessKey' is not one of the IAM calls on_iam_change handles"
    )


def test_a_256_kb_event_is_read_and_nothing_long_is_echoed() -> None:
    huge = "A" * (256 * 1024)
    oversized_name = events.console_login(_login(eventName=huge))
    assert isinstance(oversized_name, events.Invalid)
    assert len(oversized_name.problem) < 200

    padded = events.console_login(_login(userAgent=huge))
    assert isinstance(padded, events.ConsoleLogin)
    assert isinstance(decide.triage_login(padded, ACCOUNT), decide.CheckUser)

    event = _login()
    event["detail"]["userIdentity"]["userName"] = huge
    long_user = events.console_login(event)
    assert isinstance(long_user, events.ConsoleLogin)
    verdict = decide.triage_login(long_user, ACCOUNT)
    assert isinstance(verdict, decide.Ignore)
    assert verdict.code is decide.Skip.BAD_USER_NAME
    assert len(verdict.reason) < 200


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
KEYS = st.sampled_from(["detail", "userIdentity", "eventName", "responseElements", "additionalEventData", "Records"])


BASES = {
    name: load_fixture(name)
    for name in ("eventbridge_console_login_iam_user_no_mfa.json", "eventbridge_iam_detach_user_policy_tamper.json")
}


@settings(max_examples=300, deadline=None)
@given(
    value=JSON,
    key=KEYS,
    where=st.sampled_from([(), ("detail",), ("detail", "userIdentity")]),
    base=st.sampled_from(sorted(BASES)),
)
def test_parsers_and_triage_never_raise(value: Any, key: str, where: tuple[str, ...], base: str) -> None:
    """Any JSON where a field is expected, or as the whole event: a typed result, never an exception."""
    event = copy.deepcopy(BASES[base])
    target = event
    for step in where:
        target = target[step]
    target[key] = value

    for raw in (event, value):
        login, change = events.console_login(raw), events.iam_change(raw)
        assert isinstance(login, events.ConsoleLogin | events.Invalid)
        assert isinstance(change, events.IamChange | events.Invalid)
        if isinstance(login, events.ConsoleLogin):
            assert isinstance(decide.triage_login(login, ACCOUNT), decide.Ignore | decide.CheckUser | decide.RootSignIn)
        if isinstance(change, events.IamChange):
            assert isinstance(
                decide.triage_change(change, ACCOUNT, POLICY_ARN),
                decide.Ignore | decide.CheckUser | decide.Restore | decide.PolicyChange,
            )


# --- IAM changes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    fixture: str
    name: events.IamEvent
    target: str | None
    verdict: type[decide.Ignore | decide.CheckUser | decide.Restore | decide.PolicyChange]
    skip: decide.Skip | None = None
    via_group: bool | None = None
    how: str | None = None  # what a change of the quarantine policy did, as the finding says it


CHANGES = [
    Change("eventbridge_iam_enable_mfa_device.json", events.IamEvent.ENABLE_MFA_DEVICE, "alice", decide.CheckUser),
    Change(
        "eventbridge_iam_deactivate_mfa_device.json", events.IamEvent.DEACTIVATE_MFA_DEVICE, "alice", decide.CheckUser
    ),
    Change(  # only the device ARN: the user is the device's name
        "eventbridge_iam_delete_virtual_mfa_device.json",
        events.IamEvent.DELETE_VIRTUAL_MFA_DEVICE,
        "alice",
        decide.CheckUser,
    ),
    Change("eventbridge_iam_create_login_profile.json", events.IamEvent.CREATE_LOGIN_PROFILE, "bob", decide.CheckUser),
    Change(  # bob re-creates his own password: a check, with no grace to record
        "eventbridge_iam_create_login_profile_self.json", events.IamEvent.CREATE_LOGIN_PROFILE, "bob", decide.CheckUser
    ),
    Change(
        "eventbridge_iam_detach_user_policy_tamper.json",
        events.IamEvent.DETACH_USER_POLICY,
        "bob",
        decide.Restore,
        via_group=False,
    ),
    Change(  # the bot's own release: a Restore here; the shell tells it from tamper by its role
        "eventbridge_iam_detach_user_policy_by_bot.json",
        events.IamEvent.DETACH_USER_POLICY,
        "bob",
        decide.Restore,
        via_group=False,
    ),
    Change(
        "eventbridge_iam_detach_user_policy_error.json",
        events.IamEvent.DETACH_USER_POLICY,
        "bob",
        decide.Ignore,
        decide.Skip.FAILED_CALL,
    ),
    Change(
        "eventbridge_iam_detach_user_policy_other_policy.json",
        events.IamEvent.DETACH_USER_POLICY,
        "bob",
        decide.Ignore,
        decide.Skip.OTHER_POLICY,
    ),
    Change(
        "eventbridge_iam_remove_user_from_group_tamper.json",
        events.IamEvent.REMOVE_USER_FROM_GROUP,
        "bob",
        decide.Restore,
        via_group=True,
    ),
    Change(  # the scan's per-function role releasing bob: a Restore; the shell knows the role as the bot's
        "eventbridge_iam_detach_user_policy_by_scan_role.json",
        events.IamEvent.DETACH_USER_POLICY,
        "bob",
        decide.Restore,
        via_group=False,
    ),
    # The quarantine policy itself: no user is the target, the policy is checked.
    Change("eventbridge_iam_create_policy_version_tamper.json", events.IamEvent.CREATE_POLICY_VERSION, None,
           decide.PolicyChange, how="created 'v2' of it as its default version"),
    Change("eventbridge_iam_create_policy_version_not_default.json", events.IamEvent.CREATE_POLICY_VERSION, None,
           decide.PolicyChange, how="created 'v2' of it"),
    Change("eventbridge_iam_set_default_policy_version_tamper.json", events.IamEvent.SET_DEFAULT_POLICY_VERSION,
           None, decide.PolicyChange, how="made 'v2' its default version"),
    Change("eventbridge_iam_detach_group_policy_tamper.json", events.IamEvent.DETACH_GROUP_POLICY, None,
           decide.PolicyChange, how="detached it from the group 'mfa-enforcer-quarantine'"),
    Change("eventbridge_iam_delete_policy_tamper.json", events.IamEvent.DELETE_POLICY, None, decide.PolicyChange,
           how="deleted it"),
    Change("eventbridge_iam_create_policy_version_by_bot.json", events.IamEvent.CREATE_POLICY_VERSION, None,
           decide.PolicyChange, how="created 'v3' of it as its default version"),
    Change(  # the bot's role name, from another account: triage passes it on; the shell checks the account
        "eventbridge_iam_create_policy_version_spoofed_bot_role.json", events.IamEvent.CREATE_POLICY_VERSION, None,
        decide.PolicyChange, how="created 'v2' of it as its default version"),
    Change("eventbridge_iam_detach_group_policy_other_group.json", events.IamEvent.DETACH_GROUP_POLICY, None,
           decide.Ignore, decide.Skip.OTHER_GROUP),
    Change("eventbridge_iam_add_user_to_group.json", events.IamEvent.ADD_USER_TO_GROUP, "bob", decide.CheckUser),
]  # fmt: skip


@pytest.mark.parametrize("row", CHANGES, ids=lambda r: r.fixture.removeprefix("eventbridge_iam_"))
def test_iam_change_fixture_parses_and_triages(row: Change) -> None:
    change = events.iam_change(load_fixture(row.fixture))

    assert isinstance(change, events.IamChange), change
    assert change.name is row.name
    assert change.target == row.target
    verdict = decide.triage_change(change, ACCOUNT, POLICY_ARN)
    assert type(verdict) is row.verdict
    if isinstance(verdict, decide.Ignore):
        assert verdict.code is row.skip
    if isinstance(verdict, decide.Restore):
        assert verdict.via_group is row.via_group
        assert verdict.actor.label == change.principal.label
    if isinstance(verdict, decide.CheckUser):  # a user with MFA who joins a group has nothing to announce
        assert verdict.stop_if_mfa is (row.name is events.IamEvent.ADD_USER_TO_GROUP)
    if isinstance(verdict, decide.PolicyChange):
        assert verdict.how == row.how
        assert verdict.actor.label == change.principal.label


@pytest.mark.parametrize(
    ("fixture", "policy", "skip"),
    [
        ("eventbridge_iam_create_policy_version_tamper.json", None, decide.Skip.NO_POLICY),
        ("eventbridge_iam_set_default_policy_version_tamper.json", f"arn:aws:iam::{ACCOUNT}:policy/other",
         decide.Skip.OTHER_POLICY),
    ],
)  # fmt: skip
def test_policy_changes_are_judged_only_for_the_quarantine_policy(
    fixture: str, policy: str | None, skip: decide.Skip
) -> None:
    change = events.iam_change(load_fixture(fixture))
    assert isinstance(change, events.IamChange)
    verdict = decide.triage_change(change, ACCOUNT, policy)
    assert isinstance(verdict, decide.Ignore) and verdict.code is skip


def test_a_failed_policy_change_changed_nothing() -> None:
    event = load_fixture("eventbridge_iam_create_policy_version_tamper.json")
    event["detail"]["errorCode"] = "LimitExceededException"
    change = events.iam_change(event)
    assert isinstance(change, events.IamChange)
    verdict = decide.triage_change(change, ACCOUNT, POLICY_ARN)
    assert isinstance(verdict, decide.Ignore) and verdict.code is decide.Skip.FAILED_CALL


def test_the_policy_events_carry_version_and_default_flag() -> None:
    created = events.iam_change(load_fixture("eventbridge_iam_create_policy_version_tamper.json"))
    assert isinstance(created, events.IamChange)
    assert (created.policy_arn, created.version_id, created.set_as_default) == (POLICY_ARN, "v2", True)
    staged = events.iam_change(load_fixture("eventbridge_iam_create_policy_version_not_default.json"))
    assert isinstance(staged, events.IamChange) and staged.set_as_default is None


def test_the_target_is_the_request_not_the_caller() -> None:
    change = events.iam_change(load_fixture("eventbridge_iam_deactivate_mfa_device.json"))

    assert isinstance(change, events.IamChange)
    assert change.principal.label == f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/mallory"
    assert change.target == "alice"


def test_without_user_name_an_iam_user_acts_on_itself_and_a_role_on_nobody() -> None:
    self_service = load_fixture("eventbridge_iam_deactivate_mfa_device.json")
    del self_service["detail"]["requestParameters"]["userName"]
    self_service["detail"]["userIdentity"] = {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/carol"}
    by_role = load_fixture("eventbridge_iam_deactivate_mfa_device.json")
    del by_role["detail"]["requestParameters"]["userName"]

    mine = events.iam_change(self_service)
    nobody = events.iam_change(by_role)

    assert isinstance(mine, events.IamChange)
    assert mine.target == "carol"
    assert isinstance(nobody, events.IamChange)
    verdict = decide.triage_change(nobody, ACCOUNT, POLICY_ARN)
    assert isinstance(verdict, decide.Ignore)
    assert verdict.code is decide.Skip.NO_TARGET


@pytest.mark.parametrize(
    ("serial", "user"),
    [
        (f"arn:aws:iam::{ACCOUNT}:mfa/alice", "alice"),
        (f"arn:aws:iam::{ACCOUNT}:mfa/team/alice", "alice"),
        (f"arn:aws-us-gov:iam::{ACCOUNT}:mfa/alice", "alice"),
        ("GAHT12345678", None),
        (f"arn:aws:iam::{ACCOUNT}:user/alice", None),
        (None, None),
    ],
)
def test_device_names(serial: str | None, user: str | None) -> None:
    assert events.device_name(serial) == user


def test_detach_cannot_be_judged_without_a_configured_policy() -> None:
    change = events.iam_change(load_fixture("eventbridge_iam_detach_user_policy_tamper.json"))
    assert isinstance(change, events.IamChange)

    verdict = decide.triage_change(change, ACCOUNT, None)

    assert isinstance(verdict, decide.Ignore)
    assert verdict.code is decide.Skip.NO_POLICY


@pytest.mark.parametrize(
    ("fixture", "bot_arn", "own"),
    [
        ("eventbridge_iam_detach_user_policy_by_bot.json", BOT_ARN, True),  # another session of the same role
        ("eventbridge_iam_detach_user_policy_tamper.json", BOT_ARN, False),
        ("eventbridge_iam_detach_user_policy_by_bot.json", None, False),
        ("eventbridge_iam_detach_user_policy_by_bot.json", OTHER_ACCOUNT_BOT, False),
        ("eventbridge_iam_deactivate_mfa_device.json", f"arn:aws:iam::{ACCOUNT}:user/moto", False),
        # per-function roles (chalice deploy): the scan's detach and restore, seen by on_iam_change
        ("eventbridge_iam_detach_user_policy_by_scan_role.json", PROD_IAM_CHANGE, True),
        ("eventbridge_iam_create_policy_version_by_bot.json", PROD_IAM_CHANGE, True),
        ("eventbridge_iam_detach_user_policy_by_scan_role.json", BOT_ARN, False),  # the dev stage is another bot
        # the scan role's name, but in another account: role names are per account
        ("eventbridge_iam_create_policy_version_spoofed_bot_role.json", PROD_IAM_CHANGE, False),
    ],
)  # fmt: skip
def test_the_bots_own_role_is_recognised(fixture: str, bot_arn: str | None, own: bool) -> None:
    change = events.iam_change(load_fixture(fixture))
    assert isinstance(change, events.IamChange)

    assert decide.is_own_change(change.principal, bot_arn) is own


def test_explicit_role_names_replace_the_derivation() -> None:
    change = events.iam_change(load_fixture("eventbridge_iam_detach_user_policy_by_scan_role.json"))
    assert isinstance(change, events.IamChange)
    named = ("scan", "login", "change")
    own_is = f"arn:aws:sts::{ACCOUNT}:assumed-role/change/change-session"
    assert not decide.is_own_change(change.principal, own_is, named)
    assert decide.is_own_change(change.principal, own_is, (*named, "mfa-enforcer-prod-scheduled_scan"))


# --- Pure decisions for the live facts ------------------------------------------------------------


def facts(**overrides: Any) -> decide.UserFacts:
    base: dict[str, Any] = {
        "user": "bob",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/bob",
        "console": True,
        "mfa": False,
        "access_key": False,
        "created": NOW - timedelta(days=90),
        "quarantined": True,
    }
    base.update(overrides)
    return decide.UserFacts(**base)


EMPTY = exemptions.Exemptions()
EXEMPT_BOB = exemptions.parse({"version": 1, "exemptions": [{"user": "bob", "reason": "break glass"}]})


@pytest.mark.parametrize(
    ("user", "document", "needed"),
    [
        (facts(quarantined=False), EMPTY, True),
        (facts(quarantined=True), EMPTY, False),
        (facts(quarantined=False, mfa=True), EMPTY, False),
        (facts(quarantined=False), EXEMPT_BOB, False),
        (facts(quarantined=False), None, False),
    ],
)
def test_the_login_profile_is_read_only_when_grace_can_matter(
    user: decide.UserFacts, document: exemptions.Exemptions | None, needed: bool
) -> None:
    assert decide.needs_login_profile(user, document, NOW) is needed


@dataclass(frozen=True)
class TamperRow:
    name: str
    facts: decide.UserFacts
    document: exemptions.Exemptions | None
    policy: decide.Policy
    found: tuple[FindingType, ...]
    action: Action | None


TAMPER = [
    TamperRow("no MFA, enforce: restore", facts(), EMPTY, ENFORCE, (FindingType.TAMPER,), Action.REATTACH),
    TamperRow("no MFA, report: would restore", facts(), EMPTY, REPORT, (FindingType.TAMPER,), Action.WOULD_REATTACH),
    TamperRow("not tagged by the bot, still tamper", facts(quarantined=False), EMPTY, ENFORCE,
              (FindingType.TAMPER,), Action.REATTACH),
    TamperRow("config error: report, never restore", facts(), None, ENFORCE, (FindingType.TAMPER,), None),
    TamperRow("has MFA: clean up the bot's tags", facts(mfa=True), EMPTY, ENFORCE, (FindingType.RELEASED,),
              Action.RELEASE),
    TamperRow("exempt: clean up the bot's tags", facts(), EXEMPT_BOB, ENFORCE, (FindingType.RELEASED,),
              Action.RELEASE),
    TamperRow("has MFA, no tags: nothing", facts(mfa=True, quarantined=False), EMPTY, ENFORCE, (), None),
]  # fmt: skip


@pytest.mark.parametrize("row", TAMPER, ids=lambda r: r.name)
def test_tamper_table(row: TamperRow) -> None:
    actor = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/mallory"
    found, write = decide.tamper(
        row.facts,
        row.document,
        NOW,
        row.policy,
        Trigger.ON_IAM_CHANGE,
        actor=actor,
        how="detached the quarantine policy",
    )

    assert tuple(f.type for f in found) == row.found
    assert (write.action if write is not None else None) is row.action
    for finding in found:
        assert finding.actor == actor
        assert finding.transition
    if row.found == (FindingType.TAMPER,):
        (finding,) = found
        assert finding.severity.value == "critical"
        assert finding.reason.startswith(f"{actor} detached the quarantine policy while the user still has no MFA")
        assert (finding.action is Action.NONE) is (row.document is None)
    if write is not None:
        assert not write.confirm_no_mfa


# --- Identity Center sign-ins (UserAuthentication) -------------------------------------------------

# fixture -> (Skip code, or None for an alert); built from the AWS Identity Center User Guide's samples
IDENTITY_CENTER: dict[str, decide.Skip | None] = {
    "eventbridge_signin_identity_center_password_only.json": None,
    "eventbridge_signin_identity_center_totp.json": decide.Skip.MFA_USED,
    "eventbridge_signin_identity_center_external_idp.json": decide.Skip.MFA_USED,
    "eventbridge_signin_identity_center_mfa_enrolled.json": decide.Skip.MFA_ENROLLED,
    "eventbridge_signin_identity_center_failure.json": decide.Skip.FAILED_SIGN_IN,
    "eventbridge_signin_identity_center_credential_verification_failure.json": None,  # not a sign-in result
}


@pytest.mark.parametrize("fixture", list(IDENTITY_CENTER))
def test_identity_center_sign_ins_parse_and_triage(fixture: str) -> None:
    parsed = events.sign_in(load_fixture(fixture))
    if fixture.endswith("credential_verification_failure.json"):
        assert parsed == events.Invalid("detail.eventName 'CredentialVerification' is not ConsoleLogin")
        return
    assert isinstance(parsed, events.IdentityCenterSignIn)
    assert (parsed.user_name, parsed.accounts) == ("alice", (ACCOUNT, ACCOUNT, ACCOUNT))
    verdict = decide.triage_identity_center(parsed, ACCOUNT)
    expected = IDENTITY_CENTER[fixture]
    if expected is None:
        assert verdict == decide.PasswordOnly(
            "alice",
            "https://d-1234567890.awsapps.com/start/",
            "203.0.113.0",
            parsed.user_agent,
        )
    else:
        assert isinstance(verdict, decide.Ignore) and verdict.code is expected


def test_the_access_portal_is_kept_without_its_one_time_codes() -> None:
    parsed = events.sign_in(load_fixture("eventbridge_signin_identity_center_password_only.json"))
    assert isinstance(parsed, events.IdentityCenterSignIn)
    assert parsed.portal == "https://d-1234567890.awsapps.com/start/"
    assert events.portal_of("http://d-1.awsapps.com/start/") is None
    assert events.portal_of("javascript:alert(1)") is None
    assert events.portal_of("https://evil<b>.example/") is None
    assert events.portal_of("https://[::1") is None


def ic_event(**changes: object) -> dict[str, object]:
    event: dict[str, object] = load_fixture("eventbridge_signin_identity_center_password_only.json")
    detail = event["detail"]
    assert isinstance(detail, dict)
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            detail[section][field] = value
        else:
            detail[section] = value
    return event


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"additionalEventData__CredentialType": "PASSWORD,WEBAUTHN"}, decide.Skip.MFA_USED),
        ({"additionalEventData__CredentialType": "password , totp"}, decide.Skip.MFA_USED),
        ({"additionalEventData__CredentialType": "PASSWORD,RESYNC_TOTP"}, decide.Skip.MFA_USED),
        ({"additionalEventData__CredentialType": ""}, decide.Skip.NO_CREDENTIAL_TYPE),
        ({"additionalEventData": None}, decide.Skip.NO_CREDENTIAL_TYPE),
        ({"serviceEventDetails": None}, decide.Skip.UNKNOWN_OUTCOME),
        ({"serviceEventDetails": {"UserAuthentication": "Maybe"}}, decide.Skip.UNKNOWN_OUTCOME),
        ({"errorCode": "AuthenticationFailed"}, decide.Skip.FAILED_SIGN_IN),
        ({"userIdentity__userName": None}, decide.Skip.BAD_USER_NAME),
        ({"userIdentity__userName": 'alice\n{"forged": true}'}, decide.Skip.BAD_USER_NAME),
        ({"userIdentity__userName": "alice\u202e"}, decide.Skip.BAD_USER_NAME),  # right-to-left override
        ({"userIdentity__userName": " alice"}, decide.Skip.BAD_USER_NAME),
        ({"userIdentity__userName": "a" * 129}, decide.Skip.BAD_USER_NAME),
        ({"recipientAccountId": "999999999999"}, decide.Skip.OTHER_ACCOUNT),
        ({"userIdentity__accountId": "999999999999"}, decide.Skip.OTHER_ACCOUNT),
    ],
)
def test_identity_center_sign_ins_that_call_for_nothing(changes: dict[str, object], code: decide.Skip) -> None:
    parsed = events.sign_in(ic_event(**changes))
    assert isinstance(parsed, events.IdentityCenterSignIn)
    verdict = decide.triage_identity_center(parsed, ACCOUNT)
    assert isinstance(verdict, decide.Ignore) and verdict.code is code, verdict


def test_a_forged_sign_in_from_another_account_is_ignored_even_if_the_envelope_is_ours() -> None:
    """An envelope can be put on our bus by anyone with events:PutEvents; every account it names must be ours."""
    parsed = events.sign_in(ic_event(recipientAccountId="999999999999", userIdentity__accountId="999999999999"))
    assert isinstance(parsed, events.IdentityCenterSignIn)
    verdict = decide.triage_identity_center(parsed, ACCOUNT)
    assert isinstance(verdict, decide.Ignore) and verdict.code is decide.Skip.OTHER_ACCOUNT


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("alice", True),
        ("a" * 64, True),
        ("Az09+=,.@_-", True),
        ("a" * 65, False),
        ("", False),
        ("alice\n", False),
        ("b\u00f3b", False),
        ("bob smith", False),
        (None, False),
    ],
)
def test_valid_user_name_is_iams_pattern_matched_whole(name: str | None, valid: bool) -> None:
    assert events.valid_user_name(name) is valid


def test_a_password_given_by_someone_else_carries_when_and_by_whom() -> None:
    admin = events.iam_change(load_fixture("eventbridge_iam_create_login_profile.json"))
    own = events.iam_change(load_fixture("eventbridge_iam_create_login_profile_self.json"))
    assert isinstance(admin, events.IamChange) and isinstance(own, events.IamChange)
    assert admin.time == datetime(2026, 11, 23, 12, 25, 11, tzinfo=UTC)
    assert (admin.source_ip, own.source_ip, own.user_agent) == (
        "203.0.113.42",
        "198.51.100.23",
        "console.amazonaws.com",
    )
    given = decide.triage_change(admin, "123456789012", None)
    assert given == decide.CheckUser(
        "bob",
        stop_if_mfa=False,
        password_given_at=datetime(2026, 11, 23, 12, 25, 11, tzinfo=UTC),
        password_given_by="arn:aws:sts::123456789012:assumed-role/Admin/mallory",
    )
    assert decide.triage_change(own, "123456789012", None) == decide.CheckUser("bob", stop_if_mfa=False)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("2026-11-23T12:25:11Z", datetime(2026, 11, 23, 12, 25, 11, tzinfo=UTC)),
        ("2026-11-23T14:25:11+02:00", datetime(2026, 11, 23, 12, 25, 11, tzinfo=UTC)),
        ("2026-11-23T12:25:11", datetime(2026, 11, 23, 12, 25, 11, tzinfo=UTC)),
        ("yesterday", None),
        (None, None),
    ],
)
def test_event_times_are_read_in_utc(text: str | None, parsed: datetime | None) -> None:
    assert events.timestamp(text) == parsed


def test_joining_a_group_is_checked_and_joining_the_quarantine_group_is_not() -> None:
    event = load_fixture("eventbridge_iam_add_user_to_group.json")
    change = events.iam_change(event)
    assert isinstance(change, events.IamChange)
    assert decide.triage_change(change, "123456789012", None) == decide.CheckUser(
        "bob", stop_if_mfa=True, joined_group="vendors"
    )
    event["detail"]["requestParameters"]["groupName"] = "MFA-Enforcer-Quarantine"
    quarantine = events.iam_change(event)
    assert isinstance(quarantine, events.IamChange)
    ignored = decide.triage_change(quarantine, "123456789012", None)
    assert ignored == decide.Ignore(
        decide.Skip.OTHER_GROUP, "joined mfa-enforcer-quarantine: a quarantine, not an exemption"
    )
    del event["detail"]["requestParameters"]["groupName"]
    nameless = events.iam_change(event)
    assert isinstance(nameless, events.IamChange)
    assert decide.triage_change(nameless, "123456789012", None) == decide.Ignore(
        decide.Skip.NO_TARGET, "AddUserToGroup names no group"
    )
