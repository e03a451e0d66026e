"""Pure parser for the real-time triggers: EventBridge envelope + CloudTrail record -> frozen dataclasses.

Real events differ from the documentation: the letter case of values (`MFAUsed: "no"`), optional
fields that are absent (`additionalEventData`, `recipientAccountId`, `userName` on older event
versions), extra fields nobody documented, and wrappers (a bare CloudTrail record from Event
history, or a one-record `{"Records": [...]}` log file). So this module reads liberally and never
raises: every input yields either a typed event or an `Invalid` carrying one clear reason. What
to *do* with an event is decided elsewhere (`decide.triage_*`), strictly.

Powertools' `EventBridgeEvent` data class was not used: its properties index the envelope with
`[]` (a missing `detail` raises KeyError) and it does not model the CloudTrail record inside, so
it would save nothing over the small reader below.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

CONSOLE_LOGIN = "ConsoleLogin"
USER_AUTHENTICATION = "UserAuthentication"  # an IAM Identity Center sign-in completed (or, rarely, failed)
SIGNIN_SOURCE = "aws.signin"
IAM_SOURCE = "aws.iam"
IDENTITY_CENTER_ROLE_PREFIX = "AWSReservedSSO_"
MAX_SHOWN = 64  # longest value from an event that is echoed into a log line or a reason

PASSWORD_CREDENTIAL = "PASSWORD"
_EVENT_SOURCES = {"signin.amazonaws.com": SIGNIN_SOURCE, "iam.amazonaws.com": IAM_SOURCE}
_IAM_USER_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")  # IAM's userNameType, ASCII, matched whole
_ACCOUNT_ID = re.compile(r"^\d{12}$")


class IamEvent(enum.StrEnum):
    """The IAM API calls `on_iam_change` is subscribed to (its EventBridge rule lists exactly these)."""

    ENABLE_MFA_DEVICE = "EnableMFADevice"
    DEACTIVATE_MFA_DEVICE = "DeactivateMFADevice"
    DELETE_VIRTUAL_MFA_DEVICE = "DeleteVirtualMFADevice"
    CREATE_LOGIN_PROFILE = "CreateLoginProfile"
    DETACH_USER_POLICY = "DetachUserPolicy"
    REMOVE_USER_FROM_GROUP = "RemoveUserFromGroup"
    ADD_USER_TO_GROUP = "AddUserToGroup"
    # The quarantine policy itself (core.integrity): its versions, its group, its existence.
    CREATE_POLICY_VERSION = "CreatePolicyVersion"
    SET_DEFAULT_POLICY_VERSION = "SetDefaultPolicyVersion"
    DETACH_GROUP_POLICY = "DetachGroupPolicy"
    DELETE_POLICY = "DeletePolicy"


POLICY_EVENTS = frozenset(
    {
        IamEvent.CREATE_POLICY_VERSION,
        IamEvent.SET_DEFAULT_POLICY_VERSION,
        IamEvent.DETACH_GROUP_POLICY,
        IamEvent.DELETE_POLICY,
    }
)


# The EventBridge rules. They match on `source` and `detail.eventName`, never on `detail-type`,
# whose spelling differs between the AWS documentation and real sign-in events.
CONSOLE_LOGIN_PATTERN: dict[str, object] = {
    "source": [SIGNIN_SOURCE],
    "detail": {"eventName": [CONSOLE_LOGIN, USER_AUTHENTICATION]},
}
IAM_CHANGE_PATTERN: dict[str, object] = {"source": [IAM_SOURCE], "detail": {"eventName": [e.value for e in IamEvent]}}


class PrincipalType(enum.StrEnum):
    """`userIdentity.type` values CloudTrail documents; anything else parses as UNKNOWN."""

    IAM_USER = "IAMUser"
    ROOT = "Root"
    ASSUMED_ROLE = "AssumedRole"
    FEDERATED_USER = "FederatedUser"
    SAML_USER = "SAMLUser"
    WEB_IDENTITY_USER = "WebIdentityUser"
    IDENTITY_CENTER_USER = "IdentityCenterUser"
    AWS_ACCOUNT = "AWSAccount"
    AWS_SERVICE = "AWSService"
    UNKNOWN = "Unknown"


_PRINCIPAL_TYPES = {t.value.casefold(): t for t in PrincipalType}
_IAM_EVENTS = {e.value.casefold(): e for e in IamEvent}


@dataclass(frozen=True)
class Invalid:
    """An event the parser could not read as one the handler serves; `problem` says why, in one line."""

    problem: str


@dataclass(frozen=True)
class Envelope:
    """The EventBridge envelope (or what a bare CloudTrail record says in its place)."""

    event_id: str | None
    source: str | None
    account: str | None
    region: str | None
    time: str | None
    detail_type: str | None


@dataclass(frozen=True)
class Principal:
    """Who made the call or signed in (`userIdentity`)."""

    type: PrincipalType
    type_text: str | None
    arn: str | None
    account_id: str | None
    user_name: str | None
    principal_id: str | None
    issuer_arn: str | None
    issuer_name: str | None

    @property
    def label(self) -> str:
        """How the principal is named in a finding (`actor`): its ARN when CloudTrail gave one."""
        return self.arn or self.principal_id or self.type_text or "unknown principal"

    @property
    def role_name(self) -> str | None:
        """The role behind an assumed-role session: the session issuer, else the STS ARN's role part."""
        if self.issuer_name:
            return self.issuer_name
        return role_of(self.arn)

    @property
    def identity_center(self) -> bool:
        """Identity Center (SSO) sign-ins arrive as sessions of `AWSReservedSSO_*` roles."""
        role = self.role_name or ""
        issuer = self.issuer_arn or ""
        return (
            self.type is PrincipalType.IDENTITY_CENTER_USER
            or role.casefold().startswith(IDENTITY_CENTER_ROLE_PREFIX.casefold())
            or "/aws-reserved/sso.amazonaws.com/" in issuer
        )


@dataclass(frozen=True)
class ConsoleLogin:
    """One `ConsoleLogin` record. `success`/`mfa_used` are None when the event does not say."""

    envelope: Envelope
    event_version: str | None
    principal: Principal
    success: bool | None
    mfa_used: bool | None
    error_message: str | None
    source_ip: str | None
    recipient_account: str | None
    user_agent: str | None = None
    mfa_serial: str | None = None  # additionalEventData.MFAIdentifier: the device used, when MFA was

    @property
    def event_name(self) -> str:
        """Always ConsoleLogin (the parser rejects anything else)."""
        return CONSOLE_LOGIN

    @property
    def accounts(self) -> tuple[str, ...]:
        """Every account id the event names for itself: envelope, recipient, and an IAM or root principal.

        (A role session's `accountId` is the role's account, which says nothing more.)
        """
        own = self.principal.type in (PrincipalType.IAM_USER, PrincipalType.ROOT)
        return _present(self.envelope.account, self.recipient_account, self.principal.account_id if own else None)


@dataclass(frozen=True)
class IdentityCenterSignIn:
    """One Identity Center `UserAuthentication` record (signin.amazonaws.com).

    Its shape differs from ConsoleLogin: `userIdentity.type` is `Unknown` with an empty `arn`, the
    outcome is `serviceEventDetails.UserAuthentication`, and `additionalEventData` carries every
    factor verified in the sign-in (`CredentialType`, comma-separated), `DeviceEnrollmentRequired`
    ("true": an MFA device was registered during this sign-in) and `LoginTo`, the access portal
    URL whose query holds one-time codes (only the portal is kept, never the query).
    """

    envelope: Envelope
    event_version: str | None
    user_name: str | None
    account_id: str | None
    success: bool | None
    credential_types: tuple[str, ...]
    device_enrolled: bool
    portal: str | None
    source_ip: str | None
    user_agent: str | None
    recipient_account: str | None

    @property
    def event_name(self) -> str:
        """Always UserAuthentication."""
        return USER_AUTHENTICATION

    @property
    def accounts(self) -> tuple[str, ...]:
        """Every account id the event names for itself: envelope, recipient and `userIdentity.accountId`."""
        return _present(self.envelope.account, self.recipient_account, self.account_id)

    @property
    def second_factor(self) -> bool:
        """Whether anything but a password was verified (TOTP, WEBAUTHN, EXTERNAL_IDP, ...): MFA, or the IdP's."""
        return any(kind != PASSWORD_CREDENTIAL for kind in self.credential_types)


@dataclass(frozen=True)
class IamChange:
    """One IAM API call from the subscribed list. `principal` is the caller, not the target."""

    envelope: Envelope
    event_version: str | None
    name: IamEvent
    principal: Principal
    user_name: str | None
    serial_number: str | None
    policy_arn: str | None
    group_name: str | None
    error_code: str | None
    error_message: str | None
    recipient_account: str | None
    version_id: str | None = None  # SetDefaultPolicyVersion's version, or the one CreatePolicyVersion made
    set_as_default: bool | None = None  # CreatePolicyVersion's setAsDefault
    time: datetime | None = None
    source_ip: str | None = None
    user_agent: str | None = None

    @property
    def event_name(self) -> str:
        """The canonical API name."""
        return self.name.value

    @property
    def policy_change(self) -> str:
        """What a call on the quarantine policy did, as it reads in a finding (`<actor> <this>`)."""
        version = show(self.version_id) if self.version_id else "a version"
        if self.name is IamEvent.CREATE_POLICY_VERSION:
            return f"created {version} of it" + (" as its default version" if self.set_as_default else "")
        if self.name is IamEvent.SET_DEFAULT_POLICY_VERSION:
            return f"made {version} its default version"
        if self.name is IamEvent.DETACH_GROUP_POLICY:
            return f"detached it from the group {show(self.group_name)}"
        return "deleted it"

    @property
    def accounts(self) -> tuple[str, ...]:
        """Every account id the event names for itself (envelope, recipient); the caller may be elsewhere."""
        return _present(self.envelope.account, self.recipient_account)

    @property
    def target(self) -> str | None:
        """The IAM user the call acted on.

        `requestParameters.userName` when given. Several of these APIs default to the caller when
        it is omitted, so an IAM user acting on itself is its own target. DeleteVirtualMFADevice
        names only the device (`arn:aws:iam::ACCOUNT:mfa[/path]/NAME`); the bot's quarantine
        policy lets a user manage only the device named after them, so NAME is the best guess
        (the shell confirms the user exists, and re-checking any user is harmless).
        """
        if self.user_name:
            return self.user_name
        if self.name is IamEvent.DELETE_VIRTUAL_MFA_DEVICE:
            return device_name(self.serial_number)
        if self.principal.type is PrincipalType.IAM_USER:
            return self.principal.user_name
        return None


def console_login(raw: object) -> ConsoleLogin | Invalid:
    """Parse an event delivered to `on_console_login`."""
    record = _record(raw, SIGNIN_SOURCE)
    if isinstance(record, Invalid):
        return record
    envelope, detail, name = record
    if name.casefold() != CONSOLE_LOGIN.casefold():
        return Invalid(f"detail.eventName {show(name)} is not {CONSOLE_LOGIN}")
    principal = _principal(detail)
    if isinstance(principal, Invalid):
        return principal
    response = detail.obj("responseElements")
    outcome = response.text("ConsoleLogin") if response is not None else None
    error = detail.text("errorMessage") or detail.text("errorCode")
    extra = detail.obj("additionalEventData")
    return ConsoleLogin(
        envelope=envelope,
        event_version=detail.text("eventVersion"),
        principal=principal,
        success=False if error is not None else _outcome(outcome),
        mfa_used=extra.flag("MFAUsed") if extra is not None else None,
        error_message=error,
        source_ip=detail.text("sourceIPAddress"),
        recipient_account=detail.text("recipientAccountId"),
        user_agent=detail.text("userAgent"),
        mfa_serial=extra.text("MFAIdentifier") if extra is not None else None,
    )


def sign_in(raw: object) -> ConsoleLogin | IdentityCenterSignIn | Invalid:
    """Parse an event delivered to `on_console_login`: an IAM/root ConsoleLogin or an Identity Center sign-in."""
    record = _record(raw, SIGNIN_SOURCE)
    if isinstance(record, Invalid):
        return record
    _, _, name = record
    if name.casefold() == USER_AUTHENTICATION.casefold():
        return identity_center_sign_in(raw)
    return console_login(raw)


def identity_center_sign_in(raw: object) -> IdentityCenterSignIn | Invalid:
    """Parse an Identity Center `UserAuthentication` record (liberally: see IdentityCenterSignIn)."""
    record = _record(raw, SIGNIN_SOURCE)
    if isinstance(record, Invalid):
        return record
    envelope, detail, name = record
    if name.casefold() != USER_AUTHENTICATION.casefold():
        return Invalid(f"detail.eventName {show(name)} is not {USER_AUTHENTICATION}")
    identity = detail.obj("userIdentity")
    if identity is None:
        return Invalid(f"detail.userIdentity is {detail.kind('userIdentity')}, not an object")
    extra = detail.obj("additionalEventData") or _Fields({})
    outcome = detail.obj("serviceEventDetails")
    error = detail.text("errorCode") or detail.text("errorMessage")
    kinds = extra.text("CredentialType") or ""
    return IdentityCenterSignIn(
        envelope=envelope,
        event_version=detail.text("eventVersion"),
        user_name=_raw_text(identity, "userName") or _raw_text(extra, "UserName"),
        account_id=identity.text("accountId"),
        success=False if error is not None else _outcome(outcome.text(USER_AUTHENTICATION) if outcome else None),
        credential_types=tuple(k.strip().upper() for k in kinds.split(",") if k.strip()),
        device_enrolled=extra.flag("DeviceEnrollmentRequired") is True,
        portal=portal_of(extra.text("LoginTo")),
        source_ip=detail.text("sourceIPAddress"),
        user_agent=detail.text("userAgent"),
        recipient_account=detail.text("recipientAccountId"),
    )


def portal_of(url: str | None) -> str | None:
    """The access portal a LoginTo URL points at (`https://d-1234567890.awsapps.com/start/`), without its query.

    The query carries `auth_code`, `state` and a CSRF token: one-time secrets that must not reach
    a log line, SNS or Slack. Anything but an https URL with a host is dropped.
    """
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # "https://[" and other URLs urllib cannot take apart
        return None
    if parts.scheme != "https" or not host or not all(ch.isalnum() or ch in ".-" for ch in host):
        return None
    path = "".join(ch for ch in parts.path if ch.isalnum() or ch in "/-_.")[:MAX_SHOWN]
    return f"https://{host}{path}"


def iam_change(raw: object) -> IamChange | Invalid:
    """Parse an event delivered to `on_iam_change`."""
    record = _record(raw, IAM_SOURCE)
    if isinstance(record, Invalid):
        return record
    envelope, detail, name = record
    kind = _IAM_EVENTS.get(name.casefold())
    if kind is None:
        return Invalid(f"detail.eventName {show(name)} is not one of the IAM calls on_iam_change handles")
    principal = _principal(detail)
    if isinstance(principal, Invalid):
        return principal
    params = detail.obj("requestParameters") or _Fields({})
    response = detail.obj("responseElements")
    created = response.obj("policyVersion") if response is not None else None
    return IamChange(
        envelope=envelope,
        event_version=detail.text("eventVersion"),
        name=kind,
        principal=principal,
        user_name=params.text("userName"),
        serial_number=params.text("serialNumber"),
        policy_arn=params.text("policyArn"),
        group_name=params.text("groupName"),
        error_code=detail.text("errorCode"),
        error_message=detail.text("errorMessage"),
        recipient_account=detail.text("recipientAccountId"),
        version_id=params.text("versionId") or (created.text("versionId") if created is not None else None),
        set_as_default=params.flag("setAsDefault"),
        time=timestamp(detail.text("eventTime") or envelope.time),
        source_ip=detail.text("sourceIPAddress"),
        user_agent=detail.text("userAgent"),
    )


def timestamp(text: str | None) -> datetime | None:
    """An event's ISO 8601 time (`2026-11-23T12:25:11Z`) in UTC; None when absent or unreadable."""
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def valid_user_name(name: str | None) -> bool:
    """True for a string IAM accepts as a user name (so it is safe to act on and to log)."""
    return name is not None and _IAM_USER_NAME.fullmatch(name) is not None


def device_name(serial: str | None) -> str | None:
    """The NAME of a virtual MFA device ARN `arn:<partition>:iam::<account>:mfa[/path]/NAME`."""
    return _resource_name(serial, "mfa/")


def role_of(arn: str | None) -> str | None:
    """The role name in `arn:<partition>:sts::<account>:assumed-role/ROLE/SESSION`, else None."""
    if not arn:
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "sts" or not parts[5].startswith("assumed-role/"):
        return None
    role = parts[5].split("/")[1:2]
    return role[0] if role and role[0] else None


def account_of(arn: str | None) -> str | None:
    """The 12-digit account id of any ARN (`arn:aws:lambda:us-east-1:123456789012:function:x`)."""
    if not arn:
        return None
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and _ACCOUNT_ID.match(parts[4]) else None


def show(value: object) -> str:
    """A value from an event, quoted and cut short, for a log line (events can carry 256 KB)."""
    text = value if isinstance(value, str) else type(value).__name__
    return repr(text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "...")


class _Fields:
    """Read-only view over one JSON object whose getters never raise.

    Keys are matched exactly, then case-insensitively; a value of the wrong type reads as absent;
    an object that arrives serialised as a JSON string is decoded.
    """

    def __init__(self, data: Mapping[str, object]) -> None:
        self._data = data

    def has(self, key: str) -> bool:
        return self._lookup(key) is not None

    def value(self, key: str) -> object:
        """The raw value (None when absent)."""
        return self._lookup(key)

    def text(self, key: str) -> str | None:
        """A non-empty string, stripped; any other type reads as absent."""
        value = self._lookup(key)
        if not isinstance(value, str) or not value.strip():
            return None
        return value.strip()

    def obj(self, key: str) -> _Fields | None:
        value = _as_object(self._lookup(key))
        return _Fields(value) if value is not None else None

    def items(self, key: str) -> list[object] | None:
        value = self._lookup(key)
        return value if isinstance(value, list) else None

    def flag(self, key: str) -> bool | None:
        """Yes/No flags in any letter case (`"No"`, `"no"`, `"false"`, `false`); anything else is unknown."""
        value = self._lookup(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return {"yes": True, "true": True, "no": False, "false": False}.get(value.strip().casefold())
        return None

    def kind(self, key: str) -> str:
        """The JSON type of a value, for error messages."""
        value = self._lookup(key)
        if value is None:
            return "missing"
        return {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}.get(
            type(value), type(value).__name__
        )

    def _lookup(self, key: str) -> object:
        if key in self._data:
            return self._data[key]
        folded = key.casefold()
        for name, value in self._data.items():
            if isinstance(name, str) and name.casefold() == folded:
                return value
        return None


def _raw_text(fields: _Fields, key: str) -> str | None:
    """A string value exactly as sent (not stripped): a name with outer blanks must be judged, not repaired."""
    value = fields.value(key)
    return value if isinstance(value, str) and value else None


def _as_object(value: object) -> Mapping[str, object] | None:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            return None
        return decoded if isinstance(decoded, Mapping) else None
    return None


def _record(raw: object, expected_source: str) -> tuple[Envelope, _Fields, str] | Invalid:
    """Find the CloudTrail record (in an envelope, a one-record log file, or bare) and its eventName."""
    top = _as_object(raw)
    if top is None:
        return Invalid(f"the event is not a JSON object (got {type(raw).__name__})")
    fields = _Fields(top)
    if fields.has("detail"):
        detail = fields.obj("detail")
        if detail is None:
            return Invalid(f"detail is not an object (got {fields.kind('detail')})")
        envelope = Envelope(
            event_id=fields.text("id"),
            source=fields.text("source"),
            account=fields.text("account"),
            region=fields.text("region"),
            time=fields.text("time"),
            detail_type=fields.text("detail-type"),
        )
    elif fields.has("source") or fields.has("detail-type"):
        return Invalid("the EventBridge envelope has no detail")
    else:
        bare = _bare_record(fields)
        if isinstance(bare, Invalid):
            return bare
        detail, envelope = bare
    for where, holder, key in (
        ("account", fields, "account"),
        ("detail.recipientAccountId", detail, "recipientAccountId"),
    ):
        if holder.has(key) and holder.text(key) is None:
            return Invalid(f"{where} is {holder.kind(key)}, not a string")
    if envelope.source is not None and envelope.source.casefold() != expected_source:
        return Invalid(f"source {show(envelope.source)} is not {expected_source}")
    name = detail.text("eventName")
    if name is None:
        return Invalid(f"detail.eventName is {detail.kind('eventName')}, not a string")
    return envelope, detail, name


def _bare_record(fields: _Fields) -> tuple[_Fields, Envelope] | Invalid:
    """A CloudTrail record without the EventBridge envelope (Event history, a log file with one record)."""
    records = fields.items("Records")
    if records is not None:
        if len(records) != 1:
            return Invalid(f"a CloudTrail log file with {len(records)} records; send one record per event")
        one = _as_object(records[0])
        if one is None:
            return Invalid("Records[0] is not an object")
        fields = _Fields(one)
    elif not fields.has("eventName"):
        return Invalid("neither an EventBridge event (no detail) nor a CloudTrail record (no eventName)")
    identity = fields.obj("userIdentity")
    event_source = (fields.text("eventSource") or "").casefold()
    envelope = Envelope(
        event_id=fields.text("eventID"),
        source=_EVENT_SOURCES.get(event_source),
        account=fields.text("recipientAccountId") or (identity.text("accountId") if identity is not None else None),
        region=fields.text("awsRegion"),
        time=fields.text("eventTime"),
        detail_type=None,
    )
    return fields, envelope


def _principal(detail: _Fields) -> Principal | Invalid:
    identity = detail.obj("userIdentity")
    if identity is None:
        return Invalid(f"detail.userIdentity is {detail.kind('userIdentity')}, not an object")
    type_text = identity.text("type")
    kind = _PRINCIPAL_TYPES.get(type_text.casefold(), PrincipalType.UNKNOWN) if type_text else PrincipalType.UNKNOWN
    arn = identity.text("arn")
    session = identity.obj("sessionContext")
    issuer = session.obj("sessionIssuer") if session is not None else None
    user_name = identity.text("userName")
    if user_name is None and kind is PrincipalType.IAM_USER:
        user_name = _user_of(arn)  # older records omit userName; the ARN still names the user
    return Principal(
        type=kind,
        type_text=type_text,
        arn=arn,
        account_id=identity.text("accountId"),
        user_name=user_name,
        principal_id=identity.text("principalId"),
        issuer_arn=issuer.text("arn") if issuer is not None else None,
        issuer_name=issuer.text("userName") if issuer is not None else None,
    )


def _user_of(arn: str | None) -> str | None:
    """The user name in `arn:<partition>:iam::<account>:user[/path]/NAME`."""
    return _resource_name(arn, "user/")


def _resource_name(arn: str | None, kind: str) -> str | None:
    """NAME, the last segment of an ARN whose resource is `<kind>[path/]NAME`; None for any other ARN."""
    if not arn or not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith(kind):
        return None
    return parts[5].rsplit("/", 1)[-1] or None


def _outcome(value: str | None) -> bool | None:
    if value is None:
        return None
    return {"success": True, "failure": False}.get(value.casefold())


def _present(*values: str | None) -> tuple[str, ...]:
    return tuple(v for v in values if v is not None)
