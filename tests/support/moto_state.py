"""Seeding and bending moto's IAM state where its API cannot express what real AWS does.

moto stamps users with the real clock, has no `<root_account>` row and always serves a fresh
credential report. These helpers reach into moto's in-process backend (shared by
ThreadedMotoServer) to age users and to serve a fixed, real-format report, and say so.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import IAMBackend, iam_backends
from moto.ses.models import ses_backends

ROOT = Path(__file__).resolve().parents[2]
QUARANTINE_POLICY_FILE = ROOT / "policies" / "quarantine.json"
QUARANTINE_POLICY_NAME = "mfa-enforcer-quarantine"
QUARANTINE_GROUP = "mfa-enforcer-quarantine"
CLAIM_TAG = "mfa-enforcer:quarantined-at"
GRACE_TAG = "mfa-enforcer:grace-deadline"
ONCE_TAGS = (CLAIM_TAG, GRACE_TAG)  # the role writes these only while the user does not carry them
ACCOUNT_ID = DEFAULT_ACCOUNT_ID
QUARANTINE_POLICY_ARN = f"arn:aws:iam::{ACCOUNT_ID}:policy/{QUARANTINE_POLICY_NAME}"


def backend() -> IAMBackend:
    """moto's IAM state for the default account."""
    return iam_backends[ACCOUNT_ID]["global"]


@dataclass(frozen=True)
class UserSpec:
    """A seeded user: console password? MFA device? access key? how old? which groups?"""

    name: str
    console: bool = True
    mfa: bool = False
    access_key: bool = False
    age: timedelta = timedelta(days=30)
    path: str = "/"
    groups: tuple[str, ...] = ()


def create_quarantine_policy(iam: Any) -> str:
    """The managed policy and the fallback group holding it, as the deploy template creates them."""
    document = (
        QUARANTINE_POLICY_FILE.read_text()
        if QUARANTINE_POLICY_FILE.exists()
        else json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "NotAction": "iam:*MFA*", "Resource": "*"}]}
        )
    )
    arn = iam.create_policy(PolicyName=QUARANTINE_POLICY_NAME, PolicyDocument=document)["Policy"]["Arn"]
    iam.create_group(GroupName=QUARANTINE_GROUP)
    iam.attach_group_policy(GroupName=QUARANTINE_GROUP, PolicyArn=arn)
    return str(arn)


def create_user(iam: Any, spec: UserSpec, now: datetime | None = None) -> None:
    """Create one user through the API, then backdate it in moto's backend."""
    iam.create_user(UserName=spec.name, Path=spec.path)
    if spec.console:
        iam.create_login_profile(UserName=spec.name, Password="Correct-Horse-9!")
    if spec.mfa:
        serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=spec.name)["VirtualMFADevice"]["SerialNumber"]
        iam.enable_mfa_device(
            UserName=spec.name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
    if spec.access_key:
        iam.create_access_key(UserName=spec.name)
    for group in spec.groups:
        with suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_group(GroupName=group)
        iam.add_user_to_group(GroupName=group, UserName=spec.name)
    age_user(spec.name, spec.age, now)


def age_user(name: str, age: timedelta, now: datetime | None = None) -> None:
    """Set creation (and, in moto, password-change) time to `now - age`."""
    backend().users[name].create_date = (now or datetime.now(UTC)) - age


def an_hour_passes(hours: float = 1, region: str = "us-east-1") -> None:
    """Move every user's creation time and every SSM parameter version back: the next scan runs `hours` later."""
    from moto.ssm.models import ssm_backends

    for user in backend().users.values():
        user.create_date -= timedelta(hours=hours)
    for name in list(ssm_backends[ACCOUNT_ID][region]._parameters):
        age_parameter(name, timedelta(hours=hours), region=region)


def attached_policies(iam: Any, user: str) -> set[str]:
    """ARNs of the managed policies attached to a user."""
    return {p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]}


def user_tags(iam: Any, user: str) -> dict[str, str]:
    """A user's tags as a dict."""
    return {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user)["Tags"]}


def quarantined_users(iam: Any, policy_arn: str = QUARANTINE_POLICY_ARN) -> set[str]:
    """Who holds the quarantine policy directly or via the fallback group."""
    users = {u["UserName"] for u in iam.list_entities_for_policy(PolicyArn=policy_arn)["PolicyUsers"]}
    members = {u["UserName"] for u in iam.get_group(GroupName=QUARANTINE_GROUP)["Users"]}
    return users | members


@contextmanager
def serve_report(monkeypatch: Any, content: str | None = None, *, with_root: str | None = None) -> Iterator[None]:
    """Make moto serve a fixed report (stale data), or its own report with a real-format root row added."""
    original = IAMBackend.get_credential_report

    def fixed(self: IAMBackend) -> str:
        if content is not None:
            return content
        body = original(self)
        header, _, rows = body.partition("\n")
        return f"{header}\n{with_root}\n{rows}" if with_root else body

    monkeypatch.setattr(IAMBackend, "get_credential_report", fixed)
    yield


def stale_report(*, mfa_active: dict[str, bool]) -> str:
    """moto's current report with some users' `mfa_active` overridden, as a report hours old would show."""
    backend().generate_report()
    rows = list(csv.reader(io.StringIO(backend().get_credential_report())))
    column = rows[0].index("mfa_active")
    for row in rows[1:]:
        if row and row[0] in mfa_active:
            row[column] = str(mfa_active[row[0]]).lower()
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


MANAGED_POLICY_QUOTA = 10


def enforce_policy_quota(monkeypatch: Any, quota: int = MANAGED_POLICY_QUOTA) -> None:
    """Make moto refuse an 11th managed policy on a user with LimitExceeded, as AWS does (moto has no quota)."""
    from moto.iam.exceptions import LimitExceededException as _Limit

    original = IAMBackend.attach_user_policy

    def attach(self: IAMBackend, policy_arn: str, user_name: str) -> None:
        user = self.get_user(user_name)
        if policy_arn not in user.managed_policies and len(user.managed_policies) >= quota:
            raise _Limit(f"Cannot exceed quota for PoliciesPerUser: {quota}")
        original(self, policy_arn, user_name)

    monkeypatch.setattr(IAMBackend, "attach_user_policy", attach)


def enforce_claim_condition(monkeypatch: Any) -> None:
    """Make moto refuse TagUser of `quarantined-at` (or `grace-deadline`) on a user who already carries it, as the
    bot's role does.

    The execution role allows that TagUser only under `Null: aws:ResourceTag/mfa-enforcer:quarantined-at`
    (the claim of iam_gateway); moto evaluates no policy conditions, so this stands in for IAM's
    check. The check and the write happen under one lock, as IAM's evaluation of a request and
    the request itself do; the role's condition itself is judged by tests/policy_sim.
    """
    from moto.core.exceptions import AccessDeniedError

    original = IAMBackend.tag_user
    lock = threading.Lock()

    def tag_user(self: IAMBackend, name: str, tags: list[dict[str, str]]) -> None:
        with lock:
            user = self.get_user(name)
            keys = {tag["Key"] for tag in tags}
            held = {tag["Key"] for tag in self.tagger.list_tags_for_resource(user.arn)["Tags"]}
            if any(key in keys and key in held for key in ONCE_TAGS):
                raise AccessDeniedError(f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/mfa-enforcer/scan", "iam:TagUser")
            original(self, name, tags)

    monkeypatch.setattr(IAMBackend, "tag_user", tag_user)


def login_profiles_created(monkeypatch: Any) -> dict[str, datetime]:
    """When each user's console password was created, settable per user.

    moto answers GetLoginProfile with the user's own creation time, so a password added later to an
    old user (CreateLoginProfile), or a re-created one, is dated here; users not named keep moto's.
    The credential report's `password_last_changed` follows, as it does in AWS.
    """
    from types import SimpleNamespace

    overrides: dict[str, datetime] = {}
    original = IAMBackend.get_login_profile

    def get_login_profile(self: IAMBackend, user_name: str) -> Any:
        user = original(self, user_name)
        if user_name not in overrides:
            return user
        return SimpleNamespace(
            name=user.name, create_date=overrides[user_name], password_reset_required=user.password_reset_required
        )

    monkeypatch.setattr(IAMBackend, "get_login_profile", get_login_profile)
    original_report = IAMBackend.get_credential_report

    def get_credential_report(self: IAMBackend) -> str:
        """AWS sets `password_last_changed` when a login profile is created; moto writes the user's creation."""
        rows = list(csv.reader(io.StringIO(original_report(self))))
        column = rows[0].index("password_last_changed")
        for row in rows[1:]:
            if row and row[0] in overrides and row[rows[0].index("password_enabled")] == "true":
                row[column] = overrides[row[0]].strftime("%Y-%m-%dT%H:%M:%S+00:00")
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue()

    monkeypatch.setattr(IAMBackend, "get_credential_report", get_credential_report)
    return overrides


def report_with(monkeypatch: Any, changes: dict[str, dict[str, str]]) -> None:
    """Serve moto's current credential report with some cells changed (a `password_last_changed`, say)."""
    backend().generate_report()
    rows = list(csv.reader(io.StringIO(backend().get_credential_report())))
    header = rows[0]
    for row in rows[1:]:
        for column, value in changes.get(row[0] if row else "", {}).items():
            row[header.index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    monkeypatch.setattr(IAMBackend, "get_credential_report", lambda self: out.getvalue())


def fill_policy_quota(iam: Any, user: str, quota: int = MANAGED_POLICY_QUOTA) -> None:
    """Attach `quota` harmless managed policies, so the quarantine policy no longer fits."""
    document = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}]}
    )
    for i in range(quota):
        name = f"{user}-policy-{i}"
        arn = iam.create_policy(PolicyName=name, PolicyDocument=document)["Policy"]["Arn"]
        iam.attach_user_policy(UserName=user, PolicyArn=arn)


def root_row(*, mfa: bool, access_key: bool = False) -> str:
    """A `<root_account>` row in AWS's real format (moto has none)."""
    created = "2019-03-01T09:12:44+00:00"
    return (
        f"<root_account>,arn:aws:iam::{ACCOUNT_ID}:root,{created},not_supported,2026-11-01T10:00:00+00:00,"
        f"not_supported,not_supported,{str(mfa).lower()},{str(access_key).lower()},"
        f"{'2020-01-01T00:00:00+00:00' if access_key else 'N/A'},N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
    )


def account_summary(client: Any, **values: int | None) -> None:
    """Answer GetAccountSummary with these SummaryMap values over moto's own, at the botocore layer.

    moto's answer has no `AccountPasswordPresent` (AWS added it in 2024) and always says root has
    no MFA, keys or certificates. The hook edits the parsed response after moto answered, so the
    bot's adapter reads it exactly as it would read AWS's; a value of None removes the key.
    """

    def amend(parsed: dict[str, Any], **_: Any) -> None:
        summary = parsed.setdefault("SummaryMap", {})
        for key, value in values.items():
            if value is None:
                summary.pop(key, None)
            else:
                summary[key] = value

    client.meta.events.register("after-call.iam.GetAccountSummary", amend)


# ------------------------------------------------------------------------------------------ SES


@dataclass(frozen=True)
class SentEmail:
    """One message moto's SES accepted, parsed back from the raw MIME the bot sent."""

    source: str
    destinations: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def to(self) -> str:
        return str(self.message["To"])

    def part(self, subtype: str) -> str:
        """The decoded body of the text/`subtype` alternative, with the wire's CRLF read as newlines."""
        found = self.message.get_body(preferencelist=(subtype,))
        assert found is not None and found.get_content_subtype() == subtype, f"no text/{subtype} part"
        return str(found.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")


def verify_sender(ses: Any, address: str) -> None:
    """SES refuses to send from an unverified identity; moto too. Verify it, as a deployer does once."""
    ses.verify_email_identity(EmailAddress=address)


def sent_emails(region: str = "us-east-1", account: str = ACCOUNT_ID) -> list[SentEmail]:
    """Every raw message moto's SES recorded as sent (moto does not deliver; it keeps them in `sent_messages`)."""
    out = []
    for sent in ses_backends[account][region].sent_messages:
        raw = sent.raw_data.encode() if isinstance(sent.raw_data, str) else sent.raw_data
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        out.append(SentEmail(sent.source, tuple(sent.destinations), parsed))
    return out


ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def shipped_quarantine_document() -> dict[str, Any]:
    """policies/quarantine.json, parsed."""
    return dict(json.loads(QUARANTINE_POLICY_FILE.read_text()))


def hollow_quarantine(
    iam: Any, document: dict[str, Any] | None = None, *, default: bool = True, arn: str = QUARANTINE_POLICY_ARN
) -> str:
    """What an insider does with one call: a new version of the quarantine policy (Allow-all by default); its id."""
    body = json.dumps(document if document is not None else ALLOW_ALL)
    return str(
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=body, SetAsDefault=default)["PolicyVersion"][
            "VersionId"
        ]
    )


def quarantine_default(iam: Any, arn: str = QUARANTINE_POLICY_ARN) -> tuple[str, Any]:
    """The quarantine policy's default version id and its document (parsed)."""
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return str(version), iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]


def quarantine_versions(iam: Any, arn: str = QUARANTINE_POLICY_ARN) -> list[str]:
    """Every version id of the quarantine policy, in IAM's order."""
    return [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]]


def group_holds_quarantine(iam: Any, arn: str = QUARANTINE_POLICY_ARN) -> bool:
    """Whether the fallback group has the quarantine policy attached."""
    attached = iam.list_attached_group_policies(GroupName=QUARANTINE_GROUP)["AttachedPolicies"]
    return arn in {p["PolicyArn"] for p in attached}


def delete_quarantine_policy(iam: Any, arn: str = QUARANTINE_POLICY_ARN) -> None:
    """Delete the quarantine policy the way IAM requires: detach it everywhere, drop old versions, then delete.

    moto would delete an attached policy; AWS refuses (DeleteConflict), so do what an attacker must.
    """
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    for user in entities["PolicyUsers"]:
        iam.detach_user_policy(UserName=user["UserName"], PolicyArn=arn)
    for group in entities["PolicyGroups"]:
        iam.detach_group_policy(GroupName=group["GroupName"], PolicyArn=arn)
    for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
        if not version["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    iam.delete_policy(PolicyArn=arn)


def age_parameter(
    name: str, age: timedelta, *, versions: tuple[int, ...] | None = None, region: str = "us-east-1"
) -> None:
    """Move an SSM parameter's versions (all, or the ones named) back in time, as if written `age` earlier.

    moto stamps LastModifiedDate with the real clock; a test whose bot clock runs ahead needs the
    document to have been written at a chosen moment (was it in force at the previous scan?).
    """
    from moto.ssm.models import ssm_backends

    for version in ssm_backends[ACCOUNT_ID][region]._parameters[name]:
        if versions is None or version.version in versions:
            version.last_modified_date -= age
