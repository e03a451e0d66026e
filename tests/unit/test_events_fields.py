"""Every field the real-time parser reads, exactly, from real-format events; and the rule for keys.

tests/unit/test_events.py says what each stored event calls for; this file says what the parser
takes from it, field by field, since each field ends up in a finding, a log line or a decision (the
sign-in's source IP next to a release, the caller's user agent in a tamper alert, the account ids
that make an event foreign). Keys match exactly first and only then in another letter case, so a
forged event that carries both `userName` and `USERNAME` is read as CloudTrail and the EventBridge
rule (which matches exact keys) read it.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.core import events
from tests.conftest import FIXTURES, load_fixture

ACCOUNT = "123456789012"
SIGN_IN_TYPE = "AWS Console Sign In via CloudTrail"
API_CALL_TYPE = "AWS API Call via CloudTrail"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:102.0) Gecko/20100101 Firefox/102.0"
AWS_CLI = "aws-cli/2.17.0 md/Botocore#1.34.131 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.9"
MALLORY = events.Principal(
    type=events.PrincipalType.ASSUMED_ROLE,
    type_text="AssumedRole",
    arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/mallory",
    account_id=ACCOUNT,
    user_name=None,
    principal_id="AROAEXAMPLEADMIN1234:mallory",
    issuer_arn=f"arn:aws:iam::{ACCOUNT}:role/Admin",
    issuer_name="Admin",
)
ALICE = events.Principal(
    type=events.PrincipalType.IAM_USER,
    type_text="IAMUser",
    arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
    account_id=ACCOUNT,
    user_name="alice",
    principal_id="AIDACKCEVSQ6C2EXAMPLE",
    issuer_arn=None,
    issuer_name=None,
)
POLICY = f"arn:aws:iam::{ACCOUNT}:policy/mfa-enforcer-quarantine"


def envelope(
    event_id: str, time: str, *, region: str = "us-east-1", source: str = "aws.signin", kind: str = SIGN_IN_TYPE
) -> events.Envelope:
    return events.Envelope(event_id, source, ACCOUNT, region, time, kind)


# --- ConsoleLogin ---------------------------------------------------------------------------------


def test_a_sign_in_with_mfa_is_read_field_by_field() -> None:
    parsed = events.console_login(load_fixture("eventbridge_console_login_iam_user_mfa.json"))
    assert parsed == events.ConsoleLogin(
        envelope=envelope("8b0c7e41-5c1e-4a4f-9d0a-6f3c1d2e0002", "2026-11-23T12:20:40Z", region="us-east-2"),
        event_version="1.08",
        principal=ALICE,
        success=True,
        mfa_used=True,
        error_message=None,
        source_ip="192.0.2.10",
        recipient_account=ACCOUNT,
        user_agent=FIREFOX,
        mfa_serial=f"arn:aws:iam::{ACCOUNT}:mfa/alice",
    )
    assert parsed.accounts == (ACCOUNT, ACCOUNT, ACCOUNT)


def test_an_old_record_without_user_name_or_recipient_names_the_user_by_its_arn() -> None:
    parsed = events.console_login(load_fixture("eventbridge_console_login_iam_user_old_version.json"))
    assert isinstance(parsed, events.ConsoleLogin)
    assert (parsed.event_version, parsed.recipient_account, parsed.mfa_serial) == ("1.02", None, None)
    assert parsed.principal.user_name == "alice"
    assert parsed.principal.arn == f"arn:aws:iam::{ACCOUNT}:user/team/alice"
    assert parsed.accounts == (ACCOUNT, ACCOUNT)


def test_a_role_session_sign_in_carries_its_issuer_and_names_no_user() -> None:
    parsed = events.console_login(load_fixture("eventbridge_console_login_identity_center.json"))
    assert isinstance(parsed, events.ConsoleLogin)
    role = "AWSReservedSSO_AdministratorAccess_0123456789abcdef"
    assert parsed.principal == events.Principal(
        type=events.PrincipalType.ASSUMED_ROLE,
        type_text="AssumedRole",
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/alice@example.com",
        account_id=ACCOUNT,
        user_name=None,
        principal_id="AROAEXAMPLESSOROLE123:alice@example.com",
        issuer_arn=f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/{role}",
        issuer_name=role,
    )
    assert parsed.principal.role_name == role and parsed.principal.identity_center
    assert parsed.accounts == (ACCOUNT, ACCOUNT)  # a role session's accountId is the role's, not counted


def test_a_failed_sign_in_carries_the_error_message() -> None:
    parsed = events.console_login(load_fixture("eventbridge_console_login_failure.json"))
    assert isinstance(parsed, events.ConsoleLogin)
    assert (parsed.success, parsed.error_message) == (False, "Failed authentication")


def test_an_error_code_alone_is_a_failure_too() -> None:
    event = load_fixture("eventbridge_console_login_iam_user_no_mfa.json")
    event["detail"]["errorCode"] = "AccessDenied"
    parsed = events.console_login(event)
    assert isinstance(parsed, events.ConsoleLogin)
    assert (parsed.success, parsed.error_message) == (False, "AccessDenied")


def test_the_error_message_is_preferred_to_the_error_code_in_a_sign_in() -> None:
    event = load_fixture("eventbridge_console_login_failure.json")
    event["detail"]["errorCode"] = "AccessDenied"
    parsed = events.console_login(event)
    assert isinstance(parsed, events.ConsoleLogin)
    assert parsed.error_message == "Failed authentication"


# --- Identity Center ------------------------------------------------------------------------------


def test_an_identity_center_sign_in_is_read_field_by_field() -> None:
    raw = load_fixture("eventbridge_signin_identity_center_password_only.json")
    parsed = events.sign_in(raw)
    assert parsed == events.IdentityCenterSignIn(
        envelope=envelope(
            "5c0e2a1b-7d3f-4e61-9a8b-1f2e3d4c0001", "2020-12-07T20:34:09Z", kind="AWS Service Event via CloudTrail"
        ),
        event_version="1.08",
        user_name="alice",
        account_id=ACCOUNT,
        success=True,
        credential_types=("PASSWORD",),
        device_enrolled=False,
        portal="https://d-1234567890.awsapps.com/start/",
        source_ip="203.0.113.0",
        user_agent=raw["detail"]["userAgent"],
        recipient_account=ACCOUNT,
    )
    assert parsed.accounts == (ACCOUNT, ACCOUNT, ACCOUNT)


def identity_center(**detail: Any) -> events.IdentityCenterSignIn:
    event = load_fixture("eventbridge_signin_identity_center_password_only.json")
    for key, value in detail.items():
        section, _, field = key.partition("__")
        if field:
            event["detail"][section][field] = value
        else:
            event["detail"][section] = value
    parsed = events.sign_in(event)
    assert isinstance(parsed, events.IdentityCenterSignIn), parsed
    return parsed


def test_an_mfa_device_enrolled_during_the_sign_in_is_read() -> None:
    parsed = events.sign_in(load_fixture("eventbridge_signin_identity_center_mfa_enrolled.json"))
    assert isinstance(parsed, events.IdentityCenterSignIn)
    assert (parsed.device_enrolled, parsed.credential_types, parsed.second_factor) == (True, ("PASSWORD",), False)


@pytest.mark.parametrize(
    ("value", "enrolled"), [("true", True), ("TRUE", True), (True, True), ("false", False), ("yes-ish", False)]
)
def test_device_enrolment_is_only_an_explicit_true(value: object, enrolled: bool) -> None:
    assert identity_center(additionalEventData__DeviceEnrollmentRequired=value).device_enrolled is enrolled


def test_every_factor_of_an_identity_center_sign_in_is_kept_in_order() -> None:
    parsed = identity_center(additionalEventData__CredentialType=" password , totp,,WEBAUTHN ")
    assert parsed.credential_types == ("PASSWORD", "TOTP", "WEBAUTHN")
    assert parsed.second_factor


def test_the_user_name_falls_back_to_additional_event_data() -> None:
    parsed = identity_center(userIdentity__userName=42, additionalEventData__UserName="carol")
    assert parsed.user_name == "carol"
    assert identity_center(userIdentity__userName="", additionalEventData__UserName="carol").user_name == "carol"


@pytest.mark.parametrize("key", ["errorCode", "errorMessage"])
def test_an_identity_center_error_is_a_failure_whatever_the_outcome_says(key: str) -> None:
    assert identity_center(**{key: "AuthenticationFailed"}).success is False


def test_an_identity_center_parser_refuses_a_console_login() -> None:
    parsed = events.identity_center_sign_in(load_fixture("eventbridge_console_login_iam_user_mfa.json"))
    assert parsed == events.Invalid("detail.eventName 'ConsoleLogin' is not UserAuthentication")


@pytest.mark.parametrize(("identity", "kind"), [(None, "missing"), (["alice"], "list"), ("alice", "string")])
def test_an_identity_center_sign_in_without_a_user_identity_is_invalid(identity: object, kind: str) -> None:
    event = load_fixture("eventbridge_signin_identity_center_password_only.json")
    if identity is None:
        del event["detail"]["userIdentity"]
    else:
        event["detail"]["userIdentity"] = identity
    assert events.identity_center_sign_in(event) == events.Invalid(f"detail.userIdentity is {kind}, not an object")


# --- IAM changes ----------------------------------------------------------------------------------


def test_a_policy_version_created_by_hand_is_read_field_by_field() -> None:
    parsed = events.iam_change(load_fixture("eventbridge_iam_create_policy_version_tamper.json"))
    assert parsed == events.IamChange(
        envelope=envelope(
            "6a1e2b3c-0000-4000-8000-0000000000c1", "2026-11-23T12:20:11Z", source="aws.iam", kind=API_CALL_TYPE
        ),
        event_version="1.09",
        name=events.IamEvent.CREATE_POLICY_VERSION,
        principal=MALLORY,
        user_name=None,
        serial_number=None,
        policy_arn=POLICY,
        group_name=None,
        error_code=None,
        error_message=None,
        recipient_account=ACCOUNT,
        version_id="v2",
        set_as_default=True,
        time=datetime(2026, 11, 23, 12, 20, 11, tzinfo=UTC),
        source_ip="203.0.113.42",
        user_agent=AWS_CLI,
    )
    assert parsed.accounts == (ACCOUNT, ACCOUNT)


def test_a_failed_call_carries_its_error_code_and_message() -> None:
    parsed = events.iam_change(load_fixture("eventbridge_iam_detach_user_policy_error.json"))
    assert isinstance(parsed, events.IamChange)
    assert (parsed.user_name, parsed.policy_arn, parsed.principal) == ("bob", POLICY, ALICE)
    assert parsed.error_code == "AccessDenied"
    assert parsed.error_message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: iam:DetachUserPolicy on resource: "
        "user bob with an explicit deny in an identity-based policy"
    )


def test_the_other_request_parameters_are_read() -> None:
    device = events.iam_change(load_fixture("eventbridge_iam_delete_virtual_mfa_device.json"))
    joined = events.iam_change(load_fixture("eventbridge_iam_add_user_to_group.json"))
    default = events.iam_change(load_fixture("eventbridge_iam_set_default_policy_version_tamper.json"))
    assert isinstance(device, events.IamChange) and isinstance(joined, events.IamChange)
    assert isinstance(default, events.IamChange)
    assert (device.serial_number, device.user_name, device.user_agent) == (
        f"arn:aws:iam::{ACCOUNT}:mfa/alice",
        None,
        "AWS Internal",
    )
    assert (joined.user_name, joined.group_name) == ("bob", "vendors")
    assert (default.version_id, default.set_as_default, default.policy_arn) == ("v2", None, POLICY)


def test_the_call_time_falls_back_to_the_envelope_and_prefers_the_record() -> None:
    event = load_fixture("eventbridge_iam_add_user_to_group.json")
    event["time"] = "2026-11-23T12:30:00Z"
    with_record_time = events.iam_change(event)
    del event["detail"]["eventTime"]
    envelope_only = events.iam_change(event)
    assert isinstance(with_record_time, events.IamChange) and isinstance(envelope_only, events.IamChange)
    assert with_record_time.time == datetime(2026, 11, 23, 12, 25, 11, tzinfo=UTC)
    assert envelope_only.time == datetime(2026, 11, 23, 12, 30, tzinfo=UTC)


# --- A CloudTrail record without its EventBridge envelope -----------------------------------------


def bare(fixture: str, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = load_fixture(fixture)["detail"]
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return record


def test_a_bare_record_makes_its_envelope_from_its_own_fields() -> None:
    parsed = events.iam_change(bare("eventbridge_iam_create_policy_version_tamper.json"))
    assert isinstance(parsed, events.IamChange)
    assert parsed.envelope == events.Envelope(
        "d00dfeed-1111-4222-8333-0000000000c1", "aws.iam", ACCOUNT, "us-east-1", "2026-11-23T12:20:11Z", None
    )


def test_a_bare_record_without_recipient_is_in_its_callers_account() -> None:
    record = bare("eventbridge_iam_create_policy_version_tamper.json", recipientAccountId=None)
    record["userIdentity"]["accountId"] = "111122223333"
    parsed = events.iam_change(record)
    assert isinstance(parsed, events.IamChange)
    assert (parsed.envelope.account, parsed.accounts) == ("111122223333", ("111122223333",))
    record["userIdentity"] = {"type": "AWSService"}
    nameless = events.iam_change(record)
    assert isinstance(nameless, events.IamChange) and nameless.envelope.account is None


@pytest.mark.parametrize(
    ("event_source", "source"),
    [("iam.amazonaws.com", "aws.iam"), ("IAM.AmazonAWS.com", "aws.iam"), ("ec2.amazonaws.com", None), (None, None)],
)
def test_a_bare_records_event_source_names_its_service(event_source: str | None, source: str | None) -> None:
    parsed = events.iam_change(bare("eventbridge_iam_create_policy_version_tamper.json", eventSource=event_source))
    assert isinstance(parsed, events.IamChange)
    assert parsed.envelope.source == source


def test_a_bare_sign_in_record_is_not_an_iam_change() -> None:
    parsed = events.iam_change(bare("eventbridge_console_login_iam_user_mfa.json", eventName="AddUserToGroup"))
    assert parsed == events.Invalid("source 'aws.signin' is not aws.iam")


# --- The principal --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identity", "kind", "label"),
    [
        ({"type": "Martian", "principalId": "P1"}, events.PrincipalType.UNKNOWN, "P1"),
        ({"type": "iamuser", "arn": "arn:aws:iam::1:user/x"}, events.PrincipalType.IAM_USER, "arn:aws:iam::1:user/x"),
        ({"type": "AWSService"}, events.PrincipalType.AWS_SERVICE, "AWSService"),
        ({"invokedBy": "x"}, events.PrincipalType.UNKNOWN, "unknown principal"),
    ],
    ids=["unknown-type", "lower-case-type", "service", "nothing"],
)
def test_a_principal_is_typed_and_labelled_by_what_it_carries(
    identity: dict[str, str], kind: events.PrincipalType, label: str
) -> None:
    event = load_fixture("eventbridge_iam_add_user_to_group.json")
    event["detail"]["userIdentity"] = identity
    parsed = events.iam_change(event)
    assert isinstance(parsed, events.IamChange)
    assert (parsed.principal.type, parsed.principal.type_text, parsed.principal.label) == (
        kind,
        identity.get("type"),
        label,
    )


# --- Small readers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "role"),
    [
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/mallory", "Admin"),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/session:with:colons", "Admin"),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin", "Admin"),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/", None),
        (f"arn:aws:iam::{ACCOUNT}:assumed-role/Admin/mallory", None),
        (f"arn:aws:sts::{ACCOUNT}:federated-user/bob", None),
        ("arn:aws:sts", None),
        ("", None),
        (None, None),
    ],
    ids=["session", "colons-in-the-resource", "no-session", "no-role", "not-sts", "not-assumed-role", "short", "empty",
         "none"],
)  # fmt: skip
def test_role_of_reads_only_an_assumed_role_arn(arn: str | None, role: str | None) -> None:
    assert events.role_of(arn) == role


@pytest.mark.parametrize(
    ("arn", "account"),
    [
        (f"arn:aws:iam::{ACCOUNT}:user/x", ACCOUNT),
        (f"arn:aws:iam::{ACCOUNT}", ACCOUNT),
        ("arn:aws:s3:::bucket", None),
        ("arn:aws:iam::12345:user/x", None),
        ("arn:aws:iam:x", None),
        ("arn:aws:iam", None),
        (None, None),
    ],
    ids=["user", "five-parts", "no-account", "short-account", "four-parts", "three-parts", "none"],
)
def test_account_of_reads_a_twelve_digit_account(arn: str | None, account: str | None) -> None:
    assert events.account_of(arn) == account


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("a" * events.MAX_SHOWN, repr("a" * events.MAX_SHOWN)),
        ("b" * (events.MAX_SHOWN + 1), repr("b" * (events.MAX_SHOWN - 3) + "...")),
        (42, "'int'"),
        (None, "'NoneType'"),
    ],
    ids=["at-the-limit", "past-the-limit", "number", "null"],
)
def test_show_quotes_and_cuts_at_the_limit(value: object, shown: str) -> None:
    assert events.show(value) == shown
    assert len(events.show("c" * 10_000)) == events.MAX_SHOWN + 2


@pytest.mark.parametrize(
    ("value", "mfa_used"),
    [("Yes", True), ("TRUE", True), (" no ", False), ("False", False), ("FALSE", False), (False, False),
     (True, True), ("maybe", None), (1, None), (None, None)],
)  # fmt: skip
def test_mfa_used_reads_yes_no_and_true_false_in_any_case(value: object, mfa_used: bool | None) -> None:
    event = load_fixture("eventbridge_console_login_iam_user_mfa.json")
    event["detail"]["additionalEventData"]["MFAUsed"] = value
    parsed = events.console_login(event)
    assert isinstance(parsed, events.ConsoleLogin)
    assert parsed.mfa_used is mfa_used


def test_a_detail_sent_as_json_text_with_leading_blanks_is_decoded() -> None:
    event = load_fixture("eventbridge_console_login_iam_user_mfa.json")
    event["detail"] = "\n  " + json.dumps(event["detail"])
    parsed = events.console_login(event)
    assert isinstance(parsed, events.ConsoleLogin) and parsed.principal.user_name == "alice"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T12:25:11", datetime(2026, 11, 23, 12, 25, 11, tzinfo=UTC)),
        ("2026-11-23T07:25:11-05:00", datetime(2026, 11, 23, 12, 25, 11, tzinfo=UTC)),
    ],
    ids=["naive", "offset"],
)
def test_event_times_are_utc_whatever_the_local_zone(local_zone_new_york: None, text: str, expected: datetime) -> None:
    parsed = events.timestamp(text)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


# --- Invalid events, each with its exact reason ---------------------------------------------------


def _sign_in(**detail: Any) -> dict[str, Any]:
    event: dict[str, Any] = load_fixture("eventbridge_console_login_iam_user_mfa.json")
    event["detail"].update(detail)
    return event


def _envelope_without_detail(**envelope: Any) -> dict[str, Any]:
    event = load_fixture("eventbridge_console_login_iam_user_mfa.json")
    del event["detail"]
    for key in ("source", "detail-type"):
        del event[key]
    return event | envelope


INVALID = [
    pytest.param(_envelope_without_detail(source="aws.signin"), "the EventBridge envelope has no detail",
                 id="source-without-detail"),
    pytest.param(_envelope_without_detail(**{"detail-type": SIGN_IN_TYPE}), "the EventBridge envelope has no detail",
                 id="detail-type-without-detail"),
    pytest.param({**_sign_in(), "detail": [1]}, "detail is not an object (got list)", id="detail-list"),
    pytest.param({**_sign_in(), "account": 123456789012}, "account is number, not a string", id="account-number"),
    pytest.param({**_sign_in(), "account": ""}, "account is string, not a string", id="account-empty"),
    pytest.param(_sign_in(recipientAccountId=1.5), "detail.recipientAccountId is number, not a string",
                 id="recipient-number"),
    pytest.param(_sign_in(recipientAccountId=True), "detail.recipientAccountId is boolean, not a string",
                 id="recipient-boolean"),
    pytest.param(_sign_in(eventName={"a": 1}), "detail.eventName is object, not a string", id="name-object"),
    pytest.param(_sign_in(eventName=["x"]), "detail.eventName is list, not a string", id="name-list"),
    pytest.param(_sign_in(eventName=None), "detail.eventName is missing, not a string", id="name-null"),
    pytest.param(_sign_in(eventName=(1, 2)), "detail.eventName is tuple, not a string", id="name-tuple"),
    pytest.param(_sign_in(userIdentity=None), "detail.userIdentity is missing, not an object", id="identity-null"),
    pytest.param(_sign_in(userIdentity=True), "detail.userIdentity is boolean, not an object", id="identity-boolean"),
    pytest.param({"Records": "x"}, "neither an EventBridge event (no detail) nor a CloudTrail record (no eventName)",
                 id="records-not-a-list"),
    pytest.param({"Records": [1]}, "Records[0] is not an object", id="record-number"),
    pytest.param({"Records": []}, "a CloudTrail log file with 0 records; send one record per event", id="no-records"),
    pytest.param(_sign_in(eventName="GetUser"), "detail.eventName 'GetUser' is not ConsoleLogin", id="other-name"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "problem"), INVALID)
def test_each_invalid_sign_in_says_exactly_why(raw: object, problem: str) -> None:
    assert events.console_login(raw) == events.Invalid(problem)
    assert events.console_login(with_decoys(raw)) == events.Invalid(problem)


# --- Exact keys first -----------------------------------------------------------------------------


def _decoy(value: object) -> object:
    """A value of another kind than `value`, so reading it instead of the real one shows."""
    if isinstance(value, dict):
        return []
    if isinstance(value, list):
        return {}
    if isinstance(value, str):
        return 0
    return "decoy"


def with_decoys(value: object) -> object:
    """Every key of every object preceded by the same key in swapped letter case, holding a decoy."""
    if isinstance(value, dict):
        decoys = {k.swapcase(): _decoy(v) for k, v in value.items() if isinstance(k, str) and k.swapcase() != k}
        return decoys | {k: with_decoys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [with_decoys(v) for v in value]
    return value


STORED = sorted(p.name for p in FIXTURES.glob("eventbridge_*.json") if p.name != "eventbridge_scheduled.json")


@pytest.mark.parametrize("fixture", STORED)
def test_a_key_in_another_letter_case_never_shadows_the_exact_key(fixture: str) -> None:
    """A forged event carrying `userName` and `USERNAME` is read by its exact keys, as the EventBridge rule was."""
    raw = load_fixture(fixture)
    decoyed = with_decoys(copy.deepcopy(raw))
    assert events.sign_in(decoyed) == events.sign_in(raw)
    assert events.iam_change(decoyed) == events.iam_change(raw)
    assert events.iam_change(with_decoys(raw["detail"])) == events.iam_change(raw["detail"])


def with_case_decoys(value: object) -> object:
    """Every key of every object preceded by its all-lower and all-upper spellings, holding decoys."""
    if isinstance(value, dict):
        decoys: dict[str, object] = {}
        for key, item in value.items():
            if isinstance(key, str):
                decoys |= {variant: _decoy(item) for variant in (key.lower(), key.upper()) if variant != key}
        return decoys | {k: with_case_decoys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [with_case_decoys(v) for v in value]
    return value


def _edited(fixture: str, edit: dict[str, object]) -> dict[str, Any]:
    """A stored event with `section.field` (or `field`) set in its detail; None removes the key."""
    event = load_fixture(fixture)
    for key, value in edit.items():
        section, _, field = key.partition(".")
        holder, name = (event["detail"][section], field) if field else (event["detail"], section)
        if value is None:
            holder.pop(name, None)
        else:
            holder[name] = value
    return event


EDITED = {
    "console-login-error-code-alone": (
        "eventbridge_console_login_iam_user_no_mfa.json",
        {"errorCode": "AccessDenied", "errorMessage": None},
    ),
    "identity-center-error-code-alone": (
        "eventbridge_signin_identity_center_password_only.json",
        {"errorCode": "AuthenticationFailed", "errorMessage": None},
    ),
    "identity-center-error-message-alone": (
        "eventbridge_signin_identity_center_password_only.json",
        {"errorCode": None, "errorMessage": "Failed authentication"},
    ),
    "identity-center-name-in-additional-data": (
        "eventbridge_signin_identity_center_password_only.json",
        {"userIdentity.userName": None, "additionalEventData.UserName": "carol"},
    ),
    "identity-center-identity-not-an-object": (
        "eventbridge_signin_identity_center_password_only.json",
        {"userIdentity": "alice"},
    ),
    "iam-change-with-its-own-time": ("eventbridge_iam_add_user_to_group.json", {"eventTime": "2026-11-23T12:31:00Z"}),
}


@pytest.mark.parametrize(("fixture", "edit"), EDITED.values(), ids=EDITED.keys())
def test_no_key_is_read_in_another_spelling_than_cloudtrails(fixture: str, edit: dict[str, object]) -> None:
    """The same key in lower and upper case, ahead of the real one, changes nothing: each key is read exactly."""
    raw = _edited(fixture, edit)
    raw["time"] = "2026-11-23T12:30:00Z"  # an envelope time unlike the record's: which one is read shows
    assert events.sign_in(with_case_decoys(copy.deepcopy(raw))) == events.sign_in(raw)
    assert events.iam_change(with_case_decoys(copy.deepcopy(raw))) == events.iam_change(raw)


def test_a_bare_record_prefers_its_recipient_to_its_callers_account() -> None:
    record = bare("eventbridge_iam_create_policy_version_tamper.json")
    record["userIdentity"]["accountId"] = "111122223333"
    parsed = events.iam_change(record)
    assert isinstance(parsed, events.IamChange)
    assert parsed.envelope.account == ACCOUNT


def test_a_bare_record_without_a_caller_or_a_recipient_names_no_account() -> None:
    record = bare("eventbridge_iam_create_policy_version_tamper.json", recipientAccountId=None, userIdentity=None)
    assert events.iam_change(record) == events.Invalid("detail.userIdentity is missing, not an object")
    sign_in = bare("eventbridge_signin_identity_center_password_only.json", recipientAccountId=None)
    sign_in["userIdentity"] = {"type": "Unknown", "userName": "alice"}
    parsed = events.sign_in(sign_in)
    assert isinstance(parsed, events.IdentityCenterSignIn)
    assert (parsed.envelope.account, parsed.accounts) == (None, ())


def test_a_call_whose_request_parameters_are_null_acts_on_its_caller() -> None:
    event = load_fixture("eventbridge_iam_enable_mfa_device.json")
    event["detail"]["requestParameters"] = None
    parsed = events.iam_change(event)
    assert isinstance(parsed, events.IamChange)
    assert (parsed.user_name, parsed.serial_number, parsed.policy_arn, parsed.group_name) == (None, None, None, None)
    assert parsed.target == parsed.principal.user_name


@pytest.mark.parametrize("url", ["https:///start/", "https://:443/start/", "https://"], ids=["empty", "port", "bare"])
def test_a_portal_url_without_a_host_is_dropped(url: str) -> None:
    assert events.portal_of(url) is None
