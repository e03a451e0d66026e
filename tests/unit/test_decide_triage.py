"""What each real-time event calls for, exactly: the verdict, and the one log line that says why.

tests/unit/test_events.py triages the stored real-format events by verdict code; this file builds
the parsed events field by field, so each branch of `decide.triage_*` is pinned with the whole
verdict it returns: which user is checked or restored, and the reason an operator reads in the log
(the event's own text in it quoted and cut short by `events.show`, since an attacker writes it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.core import decide, events
from chalicelib.core.decide import Ignore, Skip
from chalicelib.core.events import IamEvent, PrincipalType
from chalicelib.core.model import QUARANTINE_GROUP, Trigger
from tests.conftest import NOW

ACCOUNT = "123456789012"
OTHER = "999999999999"
POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/mfa-enforcer-quarantine"
ENVELOPE = events.Envelope("id-1", "aws.signin", ACCOUNT, "us-east-1", "2026-11-23T12:25:11Z", "AWS Console Sign In")
LOGIN = Trigger.ON_CONSOLE_LOGIN
LONG = "x" * 100  # longer than events.MAX_SHOWN: shown cut short


def principal(kind: PrincipalType = PrincipalType.IAM_USER, **overrides: Any) -> events.Principal:
    base: dict[str, Any] = {
        "type": kind,
        "type_text": kind.value,
        "arn": f"arn:aws:iam::{ACCOUNT}:user/bob",
        "account_id": ACCOUNT,
        "user_name": "bob",
        "principal_id": "AIDAEXAMPLE",
        "issuer_arn": None,
        "issuer_name": None,
    }
    return events.Principal(**(base | overrides))


def login(**overrides: Any) -> events.ConsoleLogin:
    base: dict[str, Any] = {
        "envelope": ENVELOPE,
        "event_version": "1.08",
        "principal": principal(),
        "success": True,
        "mfa_used": False,
        "error_message": None,
        "source_ip": "198.51.100.7",
        "recipient_account": ACCOUNT,
    }
    return events.ConsoleLogin(**(base | overrides))


# --- triage_login -----------------------------------------------------------------------------


def test_a_sign_in_without_mfa_by_an_iam_user_is_checked_stopping_at_a_device() -> None:
    assert decide.triage_login(login(), ACCOUNT) == decide.CheckUser("bob", stop_if_mfa=True)
    assert decide.triage_login(login(mfa_used=None), ACCOUNT) == decide.CheckUser("bob", stop_if_mfa=True)


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({"success": False, "error_message": "Failed authentication"}, "failed sign-in ('Failed authentication')"),
        ({"success": False}, "failed sign-in ('Failure')"),
        ({"success": None}, "responseElements.ConsoleLogin is neither Success nor Failure"),
        ({"mfa_used": True}, "IAM user 'bob' signed in with MFA"),
    ],
    ids=["failed-with-message", "failed-without-message", "outcome-unknown", "iam-user-with-mfa"],
)
def test_sign_ins_that_call_for_nothing_say_why(changes: dict[str, Any], verdict: str) -> None:
    ignored = decide.triage_login(login(**changes), ACCOUNT)
    assert isinstance(ignored, Ignore)
    assert ignored.reason == verdict


def test_the_failure_message_is_shown_cut_short() -> None:
    ignored = decide.triage_login(login(success=False, error_message=LONG), ACCOUNT)
    assert ignored == Ignore(Skip.FAILED_SIGN_IN, f"failed sign-in ('{'x' * 61}...')")


@pytest.mark.parametrize(
    "name",
    [None, "bob smith", "bob\n", LONG],
    ids=["missing", "space", "newline", "too-long"],
)
def test_an_iam_user_name_iam_could_not_hold_is_never_acted_on(name: str | None) -> None:
    ignored = decide.triage_login(login(principal=principal(user_name=name)), ACCOUNT)
    assert ignored == Ignore(Skip.BAD_USER_NAME, f"IAM user name {events.show(name)} is not valid")


def test_root_without_mfa_is_a_root_sign_in_and_otherwise_left_alone() -> None:
    root = principal(PrincipalType.ROOT, arn=f"arn:aws:iam::{ACCOUNT}:root", user_name=None)
    assert decide.triage_login(login(principal=root), ACCOUNT) == decide.RootSignIn(
        f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "198.51.100.7"
    )
    assert decide.triage_login(login(principal=root, mfa_used=True), ACCOUNT) == Ignore(
        Skip.MFA_USED, "root signed in with MFA"
    )
    assert decide.triage_login(login(principal=root, mfa_used=None), ACCOUNT) == Ignore(
        Skip.ROOT_MFA_UNKNOWN, "root sign-in whose event does not say whether MFA was used"
    )


def test_sessions_that_are_not_iam_users_are_named_in_the_reason() -> None:
    sso = principal(
        PrincipalType.ASSUMED_ROLE,
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Admin_1/alice",
        issuer_name="AWSReservedSSO_Admin_1",
    )
    role = principal(PrincipalType.ASSUMED_ROLE, arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/ci")
    saml = principal(PrincipalType.SAML_USER)
    service = principal(PrincipalType.UNKNOWN, type_text="AWSLambda" + LONG)
    assert [decide.triage_login(login(principal=p), ACCOUNT) for p in (sso, role, saml, service)] == [
        Ignore(Skip.IDENTITY_CENTER, f"Identity Center session {events.show(sso.arn)}: MFA is the IdP's"),
        Ignore(Skip.ASSUMED_ROLE, f"role session {events.show(role.arn)}: not an IAM user"),
        Ignore(Skip.FEDERATED, "federated sign-in (SAMLUser): MFA is the IdP's"),
        Ignore(Skip.NOT_A_USER, f"userIdentity.type {events.show(service.type_text)}: not an IAM user"),
    ]


def test_every_account_the_event_names_must_be_this_one() -> None:
    nameless = login(
        envelope=replace(ENVELOPE, account=None), recipient_account=None, principal=principal(account_id=None)
    )
    assert decide.triage_login(nameless, ACCOUNT) == Ignore(
        Skip.OTHER_ACCOUNT, "the event names no account, so it cannot be shown to be this one's"
    )
    assert decide.triage_login(login(recipient_account=OTHER), ACCOUNT) == Ignore(
        Skip.OTHER_ACCOUNT, f"event from account '{OTHER}'; the bot runs in {ACCOUNT}"
    )


# --- triage_change ----------------------------------------------------------------------------


def change(name: IamEvent, **overrides: Any) -> events.IamChange:
    base: dict[str, Any] = {
        "envelope": replace(ENVELOPE, source="aws.iam"),
        "event_version": "1.09",
        "name": name,
        "principal": principal(PrincipalType.ASSUMED_ROLE, arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/admin/eve"),
        "user_name": "bob",
        "serial_number": None,
        "policy_arn": None,
        "group_name": None,
        "error_code": None,
        "error_message": None,
        "recipient_account": ACCOUNT,
    }
    return events.IamChange(**(base | overrides))


def test_a_change_from_another_account_is_ignored_before_anything_else() -> None:
    foreign = change(IamEvent.DETACH_USER_POLICY, policy_arn=POLICY_ARN, recipient_account=OTHER)
    assert decide.triage_change(foreign, ACCOUNT, POLICY_ARN) == Ignore(
        Skip.OTHER_ACCOUNT, f"event from account '{OTHER}'; the bot runs in {ACCOUNT}"
    )


def test_a_failed_call_changed_nothing_and_says_its_error() -> None:
    failed = change(IamEvent.DETACH_USER_POLICY, policy_arn=POLICY_ARN, error_code="AccessDenied")
    assert decide.triage_change(failed, ACCOUNT, POLICY_ARN) == Ignore(
        Skip.FAILED_CALL, "DetachUserPolicy failed ('AccessDenied'): nothing changed"
    )


def test_a_call_that_names_no_valid_user_is_never_acted_on() -> None:
    nobody = change(IamEvent.ENABLE_MFA_DEVICE, user_name=None)
    assert decide.triage_change(nobody, ACCOUNT, POLICY_ARN) == Ignore(
        Skip.NO_TARGET, "EnableMFADevice names no IAM user to check"
    )
    bad = change(IamEvent.ENABLE_MFA_DEVICE, user_name="bob smith")
    assert decide.triage_change(bad, ACCOUNT, POLICY_ARN) == Ignore(
        Skip.BAD_USER_NAME, "'bob smith' is not a valid IAM user name"
    )


def test_detaching_the_quarantine_policy_or_leaving_its_group_is_a_restore_of_that_user() -> None:
    actor = change(IamEvent.ENABLE_MFA_DEVICE).principal
    detach = change(IamEvent.DETACH_USER_POLICY, policy_arn=POLICY_ARN.upper())
    leave = change(IamEvent.REMOVE_USER_FROM_GROUP, group_name=QUARANTINE_GROUP.lower())
    assert decide.triage_change(detach, ACCOUNT, POLICY_ARN) == decide.Restore("bob", actor, via_group=False)
    assert decide.triage_change(leave, ACCOUNT, POLICY_ARN) == decide.Restore("bob", actor, via_group=True)


def test_removals_of_anything_else_are_named_and_ignored() -> None:
    other = f"arn:aws:iam::{ACCOUNT}:policy/other"
    assert decide.triage_change(change(IamEvent.DETACH_USER_POLICY, policy_arn=other), ACCOUNT, POLICY_ARN) == (
        Ignore(Skip.OTHER_POLICY, f"detached {events.show(other)}, not the quarantine policy")
    )
    assert decide.triage_change(change(IamEvent.DETACH_USER_POLICY), ACCOUNT, POLICY_ARN) == (
        Ignore(Skip.OTHER_POLICY, "detached 'NoneType', not the quarantine policy")
    )
    assert decide.triage_change(change(IamEvent.DETACH_USER_POLICY, policy_arn=POLICY_ARN), ACCOUNT, None) == (
        Ignore(Skip.NO_POLICY, "no quarantine policy configured: a detach cannot be judged")
    )
    assert decide.triage_change(change(IamEvent.REMOVE_USER_FROM_GROUP, group_name="Ops"), ACCOUNT, POLICY_ARN) == (
        Ignore(Skip.OTHER_GROUP, f"left group 'Ops', not {QUARANTINE_GROUP}")
    )
    assert decide.triage_change(change(IamEvent.REMOVE_USER_FROM_GROUP), ACCOUNT, POLICY_ARN) == (
        Ignore(Skip.OTHER_GROUP, f"left group 'NoneType', not {QUARANTINE_GROUP}")
    )


def test_a_password_given_by_someone_else_carries_the_giver_and_one_the_user_made_does_not() -> None:
    given = change(IamEvent.CREATE_LOGIN_PROFILE)
    assert decide.triage_change(given, ACCOUNT, POLICY_ARN) == decide.CheckUser(
        "bob", stop_if_mfa=False, password_given_at=None, password_given_by=given.principal.label
    )
    itself = change(IamEvent.CREATE_LOGIN_PROFILE, principal=principal(user_name="BOB"))
    assert decide.triage_change(itself, ACCOUNT, POLICY_ARN) == decide.CheckUser("bob", stop_if_mfa=False)
    # whatever stands in for a giver whose name the event leaves out, it is never the user
    unnamed = change(IamEvent.CREATE_LOGIN_PROFILE, user_name="XXXX", principal=principal(user_name=None, arn=None))
    assert decide.triage_change(unnamed, ACCOUNT, POLICY_ARN) == decide.CheckUser(
        "XXXX", stop_if_mfa=False, password_given_by="AIDAEXAMPLE"
    )
    # another IAM user, one whose name the event does not give, and a role session named like bob, are someone else
    nameless = principal(user_name=None, arn=None)
    for giver in (principal(user_name="eve"), nameless, principal(PrincipalType.ASSUMED_ROLE, user_name="bob")):
        verdict = decide.triage_change(change(IamEvent.CREATE_LOGIN_PROFILE, principal=giver), ACCOUNT, POLICY_ARN)
        assert isinstance(verdict, decide.CheckUser)
        assert verdict.password_given_by == giver.label


def test_a_policy_change_is_judged_only_for_the_quarantine_policy_and_its_group() -> None:
    other = f"arn:aws:iam::{ACCOUNT}:policy/other"
    assert decide.triage_change(change(IamEvent.DELETE_POLICY, policy_arn=POLICY_ARN), ACCOUNT, None) == Ignore(
        Skip.NO_POLICY, "no quarantine policy configured: DeletePolicy cannot be judged"
    )
    assert decide.triage_change(change(IamEvent.DELETE_POLICY, policy_arn=other), ACCOUNT, POLICY_ARN) == Ignore(
        Skip.OTHER_POLICY, f"DeletePolicy of {events.show(other)}, not the quarantine policy"
    )
    detached = change(IamEvent.DETACH_GROUP_POLICY, policy_arn=POLICY_ARN, group_name="Ops")
    assert decide.triage_change(detached, ACCOUNT, POLICY_ARN) == Ignore(
        Skip.OTHER_GROUP, f"detached from group 'Ops', not {QUARANTINE_GROUP}"
    )
    no_group = change(IamEvent.DETACH_GROUP_POLICY, policy_arn=POLICY_ARN)
    assert decide.triage_change(no_group, ACCOUNT, POLICY_ARN) == Ignore(
        Skip.OTHER_GROUP, f"detached from group 'NoneType', not {QUARANTINE_GROUP}"
    )
    ours = change(IamEvent.DETACH_GROUP_POLICY, policy_arn=POLICY_ARN, group_name=QUARANTINE_GROUP.upper())
    assert decide.triage_change(ours, ACCOUNT, POLICY_ARN) == decide.PolicyChange(
        ours.principal, f"detached it from the group '{QUARANTINE_GROUP.upper()}'"
    )


# --- root_sign_in and triage_identity_center -----------------------------------------------------


def test_a_root_sign_in_says_where_from_only_when_the_address_is_short_enough_to_show() -> None:
    at = decide.root_sign_in(decide.RootSignIn(None, ACCOUNT, "198.51.100.7"), NOW, LOGIN)
    assert (at.user, at.arn, at.detected_by, at.timestamp, at.transition) == (
        "<root_account>",
        f"arn:aws:iam::{ACCOUNT}:root",
        LOGIN,
        NOW,
        True,
    )
    assert at.reason == "the root user signed in to the console without MFA from 198.51.100.7"
    exact = "1" * events.MAX_SHOWN
    assert decide.root_sign_in(decide.RootSignIn("arn:x", ACCOUNT, exact), NOW, LOGIN).reason.endswith(f" from {exact}")
    too_long = decide.root_sign_in(decide.RootSignIn("arn:x", ACCOUNT, exact + "1"), NOW, LOGIN)
    assert (too_long.arn, too_long.reason) == ("arn:x", "the root user signed in to the console without MFA")
    nowhere = decide.root_sign_in(decide.RootSignIn(None, ACCOUNT, None), NOW, LOGIN)
    assert nowhere.reason == "the root user signed in to the console without MFA"


def sign_in(**overrides: Any) -> events.IdentityCenterSignIn:
    base: dict[str, Any] = {
        "envelope": ENVELOPE,
        "event_version": "1.08",
        "user_name": "alice",
        "account_id": ACCOUNT,
        "success": True,
        "credential_types": ("PASSWORD",),
        "device_enrolled": False,
        "portal": "https://d-1234567890.awsapps.com/start/",
        "source_ip": "198.51.100.7",
        "user_agent": "Mozilla/5.0",
        "recipient_account": ACCOUNT,
    }
    return events.IdentityCenterSignIn(**(base | overrides))


def test_a_password_only_identity_center_sign_in_is_news() -> None:
    assert decide.triage_identity_center(sign_in(), ACCOUNT) == decide.PasswordOnly(
        "alice", "https://d-1234567890.awsapps.com/start/", "198.51.100.7", "Mozilla/5.0"
    )


@pytest.mark.parametrize(
    ("length", "kept"),
    [(decide.MAX_USER_AGENT, "a" * decide.MAX_USER_AGENT), (decide.MAX_USER_AGENT + 1, "a" * 255 + "…")],
    ids=["at-the-limit", "one-over"],
)
def test_a_long_user_agent_is_cut_to_the_limit(length: int, kept: str) -> None:
    verdict = decide.triage_identity_center(sign_in(user_agent="a" * length), ACCOUNT)
    assert isinstance(verdict, decide.PasswordOnly)
    assert verdict.user_agent == kept
    assert len(kept) == decide.MAX_USER_AGENT


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({"success": False}, Ignore(Skip.FAILED_SIGN_IN, "failed Identity Center sign-in")),
        (
            {"success": None},
            Ignore(Skip.UNKNOWN_OUTCOME, "serviceEventDetails.UserAuthentication is neither Success nor Failure"),
        ),
        ({"user_name": None}, Ignore(Skip.BAD_USER_NAME, "Identity Center user name 'NoneType' is not valid")),
        ({"user_name": " alice"}, Ignore(Skip.BAD_USER_NAME, "Identity Center user name ' alice' is not valid")),
        (
            {"credential_types": ()},
            Ignore(Skip.NO_CREDENTIAL_TYPE, "additionalEventData.CredentialType is missing: factors unknown"),
        ),
        (
            {"credential_types": ("PASSWORD", "TOTP")},
            Ignore(Skip.MFA_USED, "Identity Center user 'alice' signed in with 'PASSWORD,TOTP'"),
        ),
        (
            {"device_enrolled": True},
            Ignore(Skip.MFA_ENROLLED, "Identity Center user 'alice' registered an MFA device while signing in"),
        ),
    ],
    ids=["failed", "outcome-unknown", "no-name", "outer-blank", "no-factors", "second-factor", "enrolled"],
)
def test_identity_center_sign_ins_that_call_for_nothing_say_why(changes: dict[str, Any], verdict: Ignore) -> None:
    assert decide.triage_identity_center(sign_in(**changes), ACCOUNT) == verdict


def test_an_identity_center_sign_in_for_another_account_is_ignored() -> None:
    assert decide.triage_identity_center(sign_in(account_id=OTHER), ACCOUNT) == Ignore(
        Skip.OTHER_ACCOUNT, f"event from account '{OTHER}'; the bot runs in {ACCOUNT}"
    )
