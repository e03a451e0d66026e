"""The quarantine policy itself: the document the bot ships, what IAM holds now, and the restore writes.

Thin like every adapter: each method is one or two IAM calls and decides nothing (core.integrity
compares, the shells choose what to restore). The shipped document is read from the package
(`chalicelib/policies/quarantine.json`, a copy of `policies/quarantine.json` that a test keeps
equal), because Chalice packages only app.py and chalicelib/.

The writes are confined by the execution role to this one policy and this one group: new
versions of it (and deleting its oldest non-default version at IAM's limit of five), re-creating
it under its own name, and attaching it to `mfa-enforcer-quarantine` (an `iam:PolicyARN`
condition). None of them can touch another policy, group or user.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from chalicelib.core.integrity import PolicyState
from chalicelib.core.model import QUARANTINE_GROUP

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
else:
    IAMClient = Any

SHIPPED_RESOURCE = "policies/quarantine.json"
DESCRIPTION = "mfa-enforcer quarantine: only MFA enrolment and the own password until the user signs in with MFA"


@functools.cache
def shipped_document() -> dict[str, Any]:
    """The quarantine policy as the bot ships it (package data), parsed; a broken package fails loudly."""
    text = resources.files("chalicelib").joinpath(SHIPPED_RESOURCE).read_text(encoding="utf-8")
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError(f"chalicelib/{SHIPPED_RESOURCE} is not a JSON object")
    return document


class QuarantinePolicyGateway:
    """Reads and restores the one managed policy the bot attaches. PERMISSIONS: for the least-privilege test."""

    PERMISSIONS = (
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
        "iam:ListPolicyVersions",
        "iam:CreatePolicyVersion",
        "iam:DeletePolicyVersion",
        "iam:CreatePolicy",
        "iam:AttachGroupPolicy",
    )

    def __init__(self, client: IAMClient, policy_arn: str) -> None:
        self._iam = client
        self.arn = policy_arn

    def state(self, *, group_attached: bool | None = None) -> PolicyState:
        """GetPolicy and GetPolicyVersion of its default version; the group's attachment is read only if not given.

        The scan passes `group_attached` from the ListEntitiesForPolicy it makes anyway, so the
        integrity check costs it two calls.
        """
        try:
            policy = self._iam.get_policy(PolicyArn=self.arn)["Policy"]
        except ClientError as exc:
            if _code(exc) == "NoSuchEntity":
                return PolicyState(self.arn, exists=False, group_attached=False)
            raise
        version_id = policy["DefaultVersionId"]
        version = self._iam.get_policy_version(PolicyArn=self.arn, VersionId=version_id)["PolicyVersion"]
        return PolicyState(
            arn=self.arn,
            exists=True,
            default_version=version_id,
            document=_document(version.get("Document")),
            version_created=_utc(version.get("CreateDate")),
            updated=_utc(policy.get("UpdateDate")),
            group_attached=self.group_attached() if group_attached is None else group_attached,
        )

    def group_attached(self) -> bool:
        """Whether the group `mfa-enforcer-quarantine` holds the policy (ListEntitiesForPolicy, groups only)."""
        pages = self._iam.get_paginator("list_entities_for_policy").paginate(PolicyArn=self.arn, EntityFilter="Group")
        wanted = QUARANTINE_GROUP.casefold()
        return any(g["GroupName"].casefold() == wanted for page in pages for g in page.get("PolicyGroups", []))

    def create(self, document: dict[str, Any]) -> None:
        """CreatePolicy under the configured name and path (the policy was deleted)."""
        path, name = _path_and_name(self.arn)
        self._iam.create_policy(
            PolicyName=name, Path=path, PolicyDocument=json.dumps(document), Description=DESCRIPTION
        )

    def replace_default(self, document: dict[str, Any]) -> tuple[str, str | None]:
        """A new default version with `document`; at IAM's limit, the oldest non-default version goes first.

        Returns the new version id and the one deleted (None when there was room).
        """
        text = json.dumps(document)
        try:
            created = self._iam.create_policy_version(PolicyArn=self.arn, PolicyDocument=text, SetAsDefault=True)
            return created["PolicyVersion"]["VersionId"], None
        except ClientError as exc:
            if _code(exc) != "LimitExceeded":
                raise
        deleted = self._delete_oldest_version()
        created = self._iam.create_policy_version(PolicyArn=self.arn, PolicyDocument=text, SetAsDefault=True)
        return created["PolicyVersion"]["VersionId"], deleted

    def attach_group(self) -> None:
        """AttachGroupPolicy of the quarantine policy to `mfa-enforcer-quarantine` (idempotent in IAM)."""
        self._iam.attach_group_policy(GroupName=QUARANTINE_GROUP, PolicyArn=self.arn)

    def _delete_oldest_version(self) -> str:
        """ListPolicyVersions, then DeletePolicyVersion of the oldest version that is not the default."""
        pages = self._iam.get_paginator("list_policy_versions").paginate(PolicyArn=self.arn)
        versions = [v for page in pages for v in page["Versions"] if not v["IsDefaultVersion"]]
        if not versions:
            raise RuntimeError(f"{self.arn} is at its version limit but has no non-default version to delete")
        oldest = min(versions, key=_age)
        self._iam.delete_policy_version(PolicyArn=self.arn, VersionId=oldest["VersionId"])
        return str(oldest["VersionId"])


def _document(value: Any) -> Any:
    """boto3 decodes and parses the document; a raw URL-encoded string (another client, a stub) is decoded here."""
    if isinstance(value, str):
        try:
            return json.loads(unquote(value))
        except ValueError:
            return value
    return value


def _path_and_name(arn: str) -> tuple[str, str]:
    """`arn:aws:iam::1:policy/a/b/name` -> ("/a/b/", "name")."""
    resource = arn.split(":", 5)[-1].removeprefix("policy")
    path, _, name = resource.rpartition("/")
    return f"{path}/", name


def _age(version: Any) -> tuple[datetime, int]:
    """Sort key, oldest first: the creation date, then the version number (v2 before v10)."""
    digits = str(version.get("VersionId", "")).removeprefix("v").split(".")[0]
    created = _utc(version.get("CreateDate")) or datetime.min.replace(tzinfo=UTC)
    return created, int(digits) if digits.isdigit() else 0


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
